//! SCIM Groups (RFC 7643 §4.2): the Group resource, its POST/PUT bodies, its PATCH requests as
//! Okta and Microsoft Entra ID send them, its filters, and `attributes`/`excludedAttributes`.
//!
//! The use cases are the domain's (`Service::scim_create_group`, `scim_update_group`, …); this
//! module only maps the protocol to them: a body becomes [`GroupAttributes`] and ordered
//! [`MemberOp`]s, a filter becomes a [`GroupFilter`] the HTTP layer answers by key.

use crate::error::{ScimError, scim_type};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, parse_syntax};
use crate::mapping::timestamp;
use crate::schema::{LIST_RESPONSE_SCHEMA, PATCH_OP_SCHEMA, get_ci};
use rollcall_domain::ids::UserId;
use rollcall_domain::model::Group;
use rollcall_domain::service::{GroupAttributes, MemberOp};
use serde_json::{Map, Value, json};

/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The SCIM location of a group under `base` (`…/scim/v2`).
pub fn group_location(base: &str, group: &Group) -> String {
    format!("{}/Groups/{}", base.trim_end_matches('/'), group.id)
}

/// The Group resource: `members` listed when given (`None`: not read, left out).
pub fn group_resource(group: &Group, members: Option<&[UserId]>, base: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("schemas".into(), json!([GROUP_SCHEMA]));
    obj.insert("id".into(), json!(group.id.as_str()));
    obj.insert("displayName".into(), json!(group.display_name));
    if let Some(x) = &group.external_id {
        obj.insert("externalId".into(), json!(x));
    }
    if let Some(members) = members {
        let base = base.trim_end_matches('/');
        let list: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m.as_str(), "$ref": format!("{base}/Users/{m}"), "type": "User"}))
            .collect();
        obj.insert("members".into(), Value::Array(list));
    }
    obj.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": timestamp(&group.created_at),
            "lastModified": timestamp(&group.updated_at),
            "location": group_location(base, group),
            "version": format!("W/\"{}\"", group.version),
        }),
    );
    Value::Object(obj)
}

/// The member ids of a `members` value: an array of `{"value": id, ...}` (or one such object).
fn member_values(v: &Value) -> Result<Vec<String>, ScimError> {
    let one = |m: &Value| -> Result<String, ScimError> {
        match m {
            Value::Object(o) => match get_ci(o, "value") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(ScimError::invalid_value(
                    "each member must be an object with a string 'value' (the User's id)",
                )),
            },
            _ => Err(ScimError::invalid_value(
                "each member must be an object with a string 'value' (the User's id)",
            )),
        }
    };
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a.iter().map(one).collect(),
        Value::Object(_) => Ok(vec![one(v)?]),
        _ => Err(ScimError::invalid_value(
            "'members' must be an array of {\"value\": id} objects",
        )),
    }
}

fn text_attr(name: &str, v: &Value) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string"
        ))),
    }
}

/// A POST or PUT body: the attributes and the full member list. `id`, `meta`, `schemas` and
/// unknown attributes are ignored; `displayName` is required.
pub fn group_write(body: &Value) -> Result<(GroupAttributes, Vec<String>), ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let display_name = get_ci(obj, "displayName")
        .map(|v| text_attr("displayName", v))
        .transpose()?
        .flatten()
        .ok_or_else(|| ScimError::invalid_value("'displayName' is required"))?;
    let external_id = get_ci(obj, "externalId")
        .map(|v| text_attr("externalId", v))
        .transpose()?
        .flatten();
    let members = get_ci(obj, "members")
        .map(member_values)
        .transpose()?
        .unwrap_or_default();
    Ok((
        GroupAttributes {
            display_name: Some(display_name),
            external_id: Some(external_id),
        },
        members,
    ))
}

/// A PATCH request (`PatchOp`): attribute changes and the ordered member operations.
///
/// Accepted forms (operation names case-insensitive, as Entra capitalizes them):
/// - no path, `add`/`replace` with an object: `displayName`, `externalId`, `members` (`add`
///   appends, `replace` replaces); `id` is ignored (Okta sends `{id, displayName}` with every
///   membership update);
/// - path `displayName` / `externalId`: `add`/`replace` sets, `remove` of `externalId` clears;
/// - path `members`: `add` appends the values; `remove` with values removes only those (Entra's
///   default form), without a value removes every member; `replace` sets the list (`[]` empties);
/// - path `members[value eq "id"]`: `remove` removes that member (Okta, RFC form).
pub fn group_patch(body: &Value) -> Result<(GroupAttributes, Vec<MemberOp>), ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    if let Some(Value::Array(schemas)) = get_ci(obj, "schemas")
        && !schemas.iter().any(|s| s.as_str() == Some(PATCH_OP_SCHEMA))
    {
        return Err(ScimError::invalid_value(format!(
            "a PATCH request's schemas must include {PATCH_OP_SCHEMA}"
        )));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(ScimError::invalid_value(
                "'Operations' must be a non-empty array",
            ));
        }
    };
    let mut attrs = GroupAttributes::default();
    let mut members = Vec::new();
    for op in ops {
        let o = op
            .as_object()
            .ok_or_else(|| ScimError::invalid_value("each operation must be an object"))?;
        let name = match get_ci(o, "op") {
            Some(Value::String(s)) => s.to_ascii_lowercase(),
            _ => return Err(ScimError::invalid_value("each operation needs an 'op'")),
        };
        if !matches!(name.as_str(), "add" | "remove" | "replace") {
            return Err(ScimError::invalid_value(format!(
                "unknown operation '{name}': use add, remove or replace"
            )));
        }
        let value = get_ci(o, "value");
        let path = match get_ci(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => return Err(ScimError::invalid_value("'path' must be a string")),
        };
        match path {
            None => {
                if name == "remove" {
                    return Err(ScimError::bad_request(
                        scim_type::NO_TARGET,
                        "a remove operation needs a path",
                    ));
                }
                let Some(Value::Object(v)) = value else {
                    return Err(ScimError::invalid_value(
                        "an operation without a path needs an object value",
                    ));
                };
                for (k, val) in v {
                    set_attribute(&mut attrs, &mut members, &name, k, Some(val))?;
                }
            }
            Some(p) => apply_path(&mut attrs, &mut members, &name, &p, value)?,
        }
    }
    Ok((attrs, members))
}

/// The attribute name of a path, without the Group schema URN prefix.
fn strip_urn(path: &str) -> &str {
    let lower = path.to_ascii_lowercase();
    let prefix = format!("{}:", GROUP_SCHEMA.to_ascii_lowercase());
    if lower.starts_with(&prefix) {
        &path[prefix.len()..]
    } else {
        path
    }
}

fn apply_path(
    attrs: &mut GroupAttributes,
    members: &mut Vec<MemberOp>,
    op: &str,
    path: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let path = strip_urn(path);
    if let Some(open) = path.find('[') {
        let (attr, rest) = path.split_at(open);
        if !attr.eq_ignore_ascii_case("members") {
            return Err(ScimError::bad_request(
                scim_type::INVALID_PATH,
                format!("unknown attribute in path '{path}'"),
            ));
        }
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .ok_or_else(|| {
                ScimError::bad_request(
                    scim_type::INVALID_PATH,
                    format!("'{path}' is not a valid path: expected members[value eq \"id\"]"),
                )
            })?;
        let id =
            member_value_eq(&parse_syntax(inner).map_err(ScimError::from)?).ok_or_else(|| {
                ScimError::bad_request(
                    scim_type::INVALID_PATH,
                    "a members filter path must be members[value eq \"id\"]",
                )
            })?;
        if op != "remove" {
            return Err(ScimError::bad_request(
                scim_type::INVALID_PATH,
                "members[value eq \"id\"] can only be removed; add members with path 'members'",
            ));
        }
        members.push(MemberOp::Remove(vec![id]));
        return Ok(());
    }
    set_attribute(attrs, members, op, path, value)
}

/// `value eq "x"` (relative to a member).
fn member_value_eq(f: &Filter) -> Option<String> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

fn set_attribute(
    attrs: &mut GroupAttributes,
    members: &mut Vec<MemberOp>,
    op: &str,
    name: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let name = strip_urn(name);
    match name.to_ascii_lowercase().as_str() {
        "displayname" => {
            if op == "remove" {
                return Err(ScimError::invalid_value(
                    "'displayName' is required and cannot be removed",
                ));
            }
            let v = value
                .map(|v| text_attr("displayName", v))
                .transpose()?
                .flatten()
                .ok_or_else(|| ScimError::invalid_value("'displayName' needs a string value"))?;
            attrs.display_name = Some(v);
        }
        "externalid" => {
            attrs.external_id = Some(if op == "remove" {
                None
            } else {
                value
                    .map(|v| text_attr("externalId", v))
                    .transpose()?
                    .flatten()
            });
        }
        "members" => {
            // An explicit `null` is no value; an empty array names nobody.
            let list = value
                .filter(|v| !v.is_null())
                .map(member_values)
                .transpose()?;
            members.push(match (op, list) {
                ("add", Some(l)) => MemberOp::Add(l),
                ("add", None) => {
                    return Err(ScimError::invalid_value("adding members needs a value"));
                }
                ("remove", Some(l)) => MemberOp::Remove(l),
                ("remove", None) => MemberOp::RemoveAll,
                (_, l) => MemberOp::Replace(l.unwrap_or_default()),
            });
        }
        // Okta repeats the id in its replace; read-only and common attributes are ignored.
        "id" | "schemas" | "meta" => {}
        other => {
            return Err(ScimError::bad_request(
                scim_type::INVALID_PATH,
                format!("unknown Group attribute '{other}'"),
            ));
        }
    }
    Ok(())
}

// ---- filters ---------------------------------------------------------------------------------

/// One condition of a Group filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCondition {
    /// `id eq "x"`.
    Id(String),
    /// `displayName eq "x"` (case-insensitive).
    DisplayName(String),
    /// `externalId eq "x"` (exact).
    ExternalId(String),
    /// `members[value eq "x"]` or `members.value eq "x"`.
    Member(String),
}

/// A Group filter: conditions that must all hold (`and`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFilter(pub Vec<GroupCondition>);

const FILTER_HELP: &str = "Groups can be filtered by id eq, displayName eq, externalId eq and \
     members[value eq \"id\"], joined by and";

impl GroupFilter {
    /// Parses a filter; anything but the supported conditions joined by `and` is 400
    /// `invalidFilter`.
    pub fn parse(input: &str) -> Result<GroupFilter, ScimError> {
        let f = parse_syntax(input).map_err(ScimError::from)?;
        let mut out = Vec::new();
        collect(&f, &mut out)?;
        Ok(GroupFilter(out))
    }

    /// The condition best answered by a key: id, then displayName, then member, then externalId.
    pub fn key(&self) -> Option<&GroupCondition> {
        let rank = |c: &GroupCondition| match c {
            GroupCondition::Id(_) => 0,
            GroupCondition::DisplayName(_) => 1,
            GroupCondition::Member(_) => 2,
            GroupCondition::ExternalId(_) => 3,
        };
        self.0.iter().min_by_key(|c| rank(c))
    }

    /// Whether `group` meets every condition but the member ones (`is_member` answers those).
    pub fn matches(&self, group: &Group, is_member: impl Fn(&str) -> bool) -> bool {
        self.0.iter().all(|c| match c {
            GroupCondition::Id(v) => group.id.as_str() == v,
            GroupCondition::DisplayName(v) => {
                group.name_key() == rollcall_domain::model::group_name_key(v)
            }
            GroupCondition::ExternalId(v) => group.external_id.as_deref() == Some(v.as_str()),
            GroupCondition::Member(v) => is_member(v),
        })
    }
}

fn is_attr(path: &AttrPath, name: &str, sub: Option<&str>) -> bool {
    let urn_ok = path
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA));
    urn_ok
        && path.name.eq_ignore_ascii_case(name)
        && match (path.sub.as_deref(), sub) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
}

fn collect(f: &Filter, out: &mut Vec<GroupCondition>) -> Result<(), ScimError> {
    let unsupported = || ScimError::invalid_filter(FILTER_HELP);
    match f {
        Filter::And(l, r) => {
            collect(l, out)?;
            collect(r, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } => {
            let c = if is_attr(path, "id", None) {
                GroupCondition::Id(s.clone())
            } else if is_attr(path, "displayName", None) {
                GroupCondition::DisplayName(s.clone())
            } else if is_attr(path, "externalId", None) {
                GroupCondition::ExternalId(s.clone())
            } else if is_attr(path, "members", Some("value")) {
                GroupCondition::Member(s.clone())
            } else {
                return Err(unsupported());
            };
            out.push(c);
            Ok(())
        }
        Filter::ValuePath { path, filter } if is_attr(path, "members", None) => {
            let id = member_value_eq(filter).ok_or_else(unsupported)?;
            out.push(GroupCondition::Member(id));
            Ok(())
        }
        _ => Err(unsupported()),
    }
}

// ---- list queries and projection -------------------------------------------------------------

/// `attributes` / `excludedAttributes` of Group responses: top-level attribute names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupProjection {
    include: Option<Vec<String>>,
    exclude: Vec<String>,
}

fn names(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .map(|s| strip_urn(s.trim()).to_ascii_lowercase())
        .map(|s| s.split('.').next().unwrap_or_default().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl GroupProjection {
    /// From the query parameters (`attributes` wins over `excludedAttributes`, as for Users).
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> GroupProjection {
        let include = names(attributes);
        if !include.is_empty() {
            return GroupProjection {
                include: Some(include),
                exclude: Vec::new(),
            };
        }
        GroupProjection {
            include: None,
            exclude: names(excluded),
        }
    }

    /// Whether `members` is returned.
    pub fn wants_members(&self) -> bool {
        self.returns("members")
    }

    /// Whether members were asked for by name (list responses return them only then).
    pub fn asks_members(&self) -> bool {
        self.include
            .as_ref()
            .is_some_and(|i| i.iter().any(|n| n == "members"))
    }

    /// Whether an attribute is part of the projection or explicitly selected (`id` and `schemas` always).
    fn returns(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        if name == "id" || name == "schemas" {
            return true;
        }
        match &self.include {
            Some(i) => i.contains(&name),
            None => !self.exclude.contains(&name),
        }
    }

    /// Whether the client asked for a projection at all.
    pub fn is_set(&self) -> bool {
        self.include.is_some() || !self.exclude.is_empty()
    }

    /// Applies the projection to a Group resource.
    pub fn apply(&self, resource: Value) -> Value {
        match resource {
            Value::Object(o) => {
                Value::Object(o.into_iter().filter(|(k, _)| self.returns(k)).collect())
            }
            other => other,
        }
    }
}

/// A list request for Groups (`GET /Groups`, `POST /Groups/.search`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupListQuery {
    /// The filter, if any.
    pub filter: Option<GroupFilter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Page size, capped at [`crate::schema::MAX_RESULTS`].
    pub count: usize,
    /// Projection.
    pub projection: GroupProjection,
}

impl GroupListQuery {
    /// From the query parameters of `GET /Groups`.
    pub fn from_query<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ScimError> {
        let params: Vec<(&str, &str)> = params.into_iter().collect();
        let get = |n: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| *v)
        };
        let base = crate::list::ListQuery::paging(get("startIndex"), get("count"))?;
        Ok(GroupListQuery {
            filter: get("filter").map(GroupFilter::parse).transpose()?,
            start_index: base.0,
            count: base.1,
            projection: GroupProjection::parse(get("attributes"), get("excludedAttributes")),
        })
    }

    /// From a `/.search` body.
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
        let text = |n: &str| -> Option<String> {
            match get_ci(obj, n) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
        };
        let base = crate::list::ListQuery::paging(
            text("startIndex").as_deref(),
            text("count").as_deref(),
        )?;
        Ok(GroupListQuery {
            filter: text("filter")
                .as_deref()
                .map(GroupFilter::parse)
                .transpose()?,
            start_index: base.0,
            count: base.1,
            projection: GroupProjection::parse(
                text("attributes").as_deref(),
                text("excludedAttributes").as_deref(),
            ),
        })
    }

    /// The ListResponse of a page of resources (projection applied) out of `total`.
    pub fn response(&self, page: Vec<Value>, total: usize) -> Value {
        let resources: Vec<Value> = page.into_iter().map(|r| self.projection.apply(r)).collect();
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": total,
            "startIndex": self.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(ops: Value) -> (GroupAttributes, Vec<MemberOp>) {
        group_patch(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})).unwrap()
    }

    #[test]
    fn okta_shapes() {
        let (a, m) =
            patch(json!([{"op": "replace", "value": {"id": "grp_x", "displayName": "Eng"}}]));
        assert_eq!(a.display_name.as_deref(), Some("Eng"));
        assert!(m.is_empty());
        let (_, m) = patch(
            json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "a"}, {"value": "u2"}]}]),
        );
        assert_eq!(m, vec![MemberOp::Add(vec!["u1".into(), "u2".into()])]);
        let (_, m) = patch(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]));
        assert_eq!(m, vec![MemberOp::Remove(vec!["u1".into()])]);
        let (_, m) = patch(json!([{"op": "replace", "path": "members", "value": []}]));
        assert_eq!(m, vec![MemberOp::Replace(vec![])]);
    }

    #[test]
    fn entra_shapes() {
        let (_, m) = patch(json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}]}]));
        assert_eq!(m, vec![MemberOp::Add(vec!["u1".into()])]);
        // Entra's default remove names the members: only they leave, never everyone.
        let (_, m) =
            patch(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
        assert_eq!(m, vec![MemberOp::Remove(vec!["u1".into()])]);
        let (a, _) = patch(json!([{"op": "Replace", "path": "displayName", "value": "New"}]));
        assert_eq!(a.display_name.as_deref(), Some("New"));
        let (a, _) = patch(json!([{"op": "Remove", "path": "externalId"}]));
        assert_eq!(a.external_id, Some(None));
    }

    #[test]
    fn remove_members_without_value_removes_all_and_an_empty_list_nobody() {
        let (_, m) = patch(json!([{"op": "remove", "path": "members"}]));
        assert_eq!(m, vec![MemberOp::RemoveAll]);
        let (_, m) = patch(json!([{"op": "remove", "path": "members", "value": null}]));
        assert_eq!(m, vec![MemberOp::RemoveAll]);
        let (_, m) = patch(json!([{"op": "Remove", "path": "members", "value": []}]));
        assert_eq!(m, vec![MemberOp::Remove(vec![])]);
    }

    #[test]
    fn bad_patches_are_refused() {
        for ops in [
            json!([{"op": "remove"}]),
            json!([{"op": "move", "path": "members"}]),
            json!([{"op": "add", "path": "owners", "value": 1}]),
            json!([{"op": "add", "path": "members[value eq \"u\"]", "value": []}]),
            json!([{"op": "add", "path": "members", "value": [{"display": "no value"}]}]),
            json!([{"op": "remove", "path": "displayName"}]),
            json!([]),
        ] {
            let got = group_patch(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}));
            assert!(got.is_err(), "{ops}");
            assert_eq!(got.unwrap_err().status, 400);
        }
    }

    #[test]
    fn filters() {
        let f = GroupFilter::parse("displayName eq \"Eng\"").unwrap();
        assert_eq!(f.0, vec![GroupCondition::DisplayName("Eng".into())]);
        let f = GroupFilter::parse("members[value eq \"u1\"] and externalId eq \"x\"").unwrap();
        assert_eq!(f.key(), Some(&GroupCondition::Member("u1".into())));
        assert!(GroupFilter::parse("displayName co \"E\"").is_err());
        assert!(GroupFilter::parse("displayName eq \"a\" or id eq \"b\"").is_err());
    }

    #[test]
    fn projection() {
        let p = GroupProjection::parse(None, Some("members"));
        assert!(!p.wants_members());
        let r = p.apply(json!({"id": "g", "schemas": [], "members": [], "displayName": "x"}));
        assert!(r.get("members").is_none() && r.get("displayName").is_some());
        let p = GroupProjection::parse(Some("displayName"), None);
        let r = p.apply(json!({"id": "g", "schemas": [], "members": [], "displayName": "x"}));
        assert_eq!(r, json!({"id": "g", "schemas": [], "displayName": "x"}));
    }

    #[test]
    fn write_bodies() {
        let (a, m) = group_write(
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": "u1"}]}),
        )
        .unwrap();
        assert_eq!(a.display_name.as_deref(), Some("Eng"));
        assert_eq!(m, vec!["u1".to_owned()]);
        assert!(group_write(&json!({"members": []})).is_err());
    }
}
