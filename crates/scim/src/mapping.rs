//! SCIM User resource ⇔ Rollcall membership.
//!
//! A SCIM User is a member of the organization: `id` is the user id (`usr_…`), `active` is the
//! membership status (`false` = suspended), `externalId` is the membership's external id. The rest
//! of the resource is kept as the identity provider last wrote it (a [`ScimUser`] record beside the
//! membership), and the membership's own fields follow it: email = the primary email, name =
//! `displayName`, else `name.formatted`, else given and family names, phone = the primary (else
//! first) phone number. Members who joined by invitation or invite link have no record; their
//! resource is derived: `userName` = email, one primary email, `displayName` = name.
//!
//! A PATCH `remove` of `active` leaves it unassigned (RFC 7644 §3.5.2.2): the resource omits
//! `active` until a write sets it again (the record keeps `"active": null` as the marker,
//! [`mark_active_unassigned`]), and the member keeps their status: a suspended member gets access
//! back only by an explicit `active: true`.
//!
//! The domain's SCIM use cases (`rollcall_domain::service::Service::scim_provision`,
//! `scim_update`, ...) take the [`member_command`] of a resource and answer [`ScimMember`]s, whose
//! resource is [`member_resource`].

use chrono::SecondsFormat;
use rollcall_domain::email::Email;
use rollcall_domain::ids::UserId;
use rollcall_domain::model::{MemberStatus, Membership, ScimUser, Timestamp};
use rollcall_domain::service::validate::{self, MAX_PERSON_NAME_LEN};
use rollcall_domain::service::{Omitted, ScimMember, ScimMemberCommand};
use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::schema::{USER_SCHEMA, get_ci};

/// Longest member name: the API's rule for person names ([`MAX_PERSON_NAME_LEN`]).
pub const MAX_MEMBER_NAME_CHARS: usize = MAX_PERSON_NAME_LEN;
/// Longest phone number kept on the membership.
pub const MAX_MEMBER_PHONE_CHARS: usize = 64;

/// The membership fields a User resource determines.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberFields {
    /// The primary email (or the first, or `userName` when it is an address).
    pub email: Option<Email>,
    /// Display name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `active`, when the resource says.
    pub active: Option<bool>,
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Trims, drops control characters and cuts to `max` characters; `None` when nothing is left.
fn clean(s: &str, max: usize) -> Option<String> {
    let out: String = s
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

/// The name attributes a member's name is taken from, by path, and the phone attribute.
const NAME_ATTRIBUTES: [(&str, Option<&str>); 5] = [
    ("displayName", None),
    ("name", Some("formatted")),
    ("name", Some("givenName")),
    ("name", Some("middleName")),
    ("name", Some("familyName")),
];

/// A resource's text at `attr` or `attr.sub` (trimmed, non-empty).
fn text_at<'a>(resource: &'a Value, attr: &str, sub: Option<&str>) -> Option<&'a str> {
    let value = get_ci(resource.as_object()?, attr)?;
    match sub {
        None => text(Some(value)),
        Some(sub) => text(get_ci(value.as_object()?, sub)),
    }
}

/// The phone number that becomes the member's: the primary `phoneNumbers` value, else the first.
fn member_phone(resource: &Value) -> Option<String> {
    resource
        .as_object()
        .map(|o| primary_first(o, "phoneNumbers"))
        .and_then(|p| p.into_iter().next())
}

/// 400 `invalidValue` unless the names and the phone of a (canonical) User resource follow the
/// API's rules (`rollcall_domain::service::validate`): `displayName`, `name.formatted`,
/// `name.givenName`, `name.middleName`, `name.familyName` and the given, middle and family names
/// joined are at most 200 characters without control or bidirectional formatting characters, and
/// the member's phone (the primary, else the first, `phoneNumbers` value) is a phone number.
///
/// With `before` (PATCH: the resource the operations applied to), only values that changed are
/// checked, so that a value stored before these rules does not block unrelated changes.
pub fn check_member_fields(resource: &Value, before: Option<&Value>) -> Result<(), ScimError> {
    let changed = |now: Option<&str>, then: Option<&str>| before.is_none() || now != then;
    for (attr, sub) in NAME_ATTRIBUTES {
        let now = text_at(resource, attr, sub);
        let then = before.and_then(|b| text_at(b, attr, sub));
        if let Some(value) = now
            && changed(now, then)
            && let Err(problem) = validate::check_name(value, MAX_MEMBER_NAME_CHARS)
        {
            let path = sub.map_or_else(|| attr.to_owned(), |s| format!("{attr}.{s}"));
            return Err(ScimError::invalid_value(format!(
                "'{path}' {problem} (the rule for member names)"
            )));
        }
    }
    let joined = |r: &Value| {
        let parts: Vec<&str> = NAME_ATTRIBUTES[2..]
            .iter()
            .filter_map(|(a, s)| text_at(r, a, *s))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let now = joined(resource);
    if let Some(value) = &now
        && changed(now.as_deref(), before.and_then(joined).as_deref())
        && value.chars().count() > MAX_MEMBER_NAME_CHARS
    {
        return Err(ScimError::invalid_value(format!(
            "'name.givenName', 'name.middleName' and 'name.familyName' together must be at most \
             {MAX_MEMBER_NAME_CHARS} characters (the rule for member names)"
        )));
    }
    let phone = member_phone(resource);
    if let Some(value) = &phone
        && changed(phone.as_deref(), before.and_then(member_phone).as_deref())
        && !validate::is_phone(value)
    {
        let shown: String = value.chars().take(40).collect();
        return Err(ScimError::invalid_value(format!(
            "'phoneNumbers' value '{shown}' is not a phone number: digits, spaces and +-(). only, \
             at least 3 digits, at most {} characters",
            validate::MAX_PHONE_LEN
        )));
    }
    Ok(())
}

/// Values of a multi-valued attribute, primary first, then in order.
fn primary_first(obj: &Map<String, Value>, attr: &str) -> Vec<String> {
    let Some(items) = get_ci(obj, attr).and_then(Value::as_array) else {
        return Vec::new();
    };
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    };
    let value = |v: &Value| text(v.as_object().and_then(|o| get_ci(o, "value"))).map(str::to_owned);
    let mut out: Vec<String> = items
        .iter()
        .filter(|v| is_primary(v))
        .filter_map(value)
        .collect();
    out.extend(items.iter().filter(|v| !is_primary(v)).filter_map(value));
    out
}

/// The primary email of a User resource: the primary `emails` value, else the first that is an
/// address, else `userName` when it is one.
pub fn primary_email(resource: &Value) -> Option<Email> {
    let obj = resource.as_object()?;
    primary_first(obj, "emails")
        .iter()
        .find_map(|e| Email::parse(e))
        .or_else(|| text(get_ci(obj, "userName")).and_then(Email::parse))
}

/// The display name of a User resource: `displayName`, else `name.formatted`, else the given,
/// middle and family names joined.
pub fn display_name(resource: &Value) -> Option<String> {
    let obj = resource.as_object()?;
    if let Some(n) = text(get_ci(obj, "displayName")).and_then(validate::clean_person_name) {
        return Some(n);
    }
    let name = get_ci(obj, "name").and_then(Value::as_object)?;
    if let Some(n) = text(get_ci(name, "formatted")).and_then(validate::clean_person_name) {
        return Some(n);
    }
    let parts: Vec<&str> = ["givenName", "middleName", "familyName"]
        .iter()
        .filter_map(|k| text(get_ci(name, k)))
        .collect();
    validate::clean_person_name(&parts.join(" "))
}

/// The membership fields of a (canonical) User resource.
pub fn member_fields(resource: &Value) -> MemberFields {
    let obj = resource.as_object();
    let get = |k: &str| obj.and_then(|o| get_ci(o, k));
    MemberFields {
        email: primary_email(resource),
        name: display_name(resource),
        phone: member_phone(resource).and_then(|p| clean(&p, MAX_MEMBER_PHONE_CHARS)),
        external_id: text(get("externalId")).map(str::to_owned),
        active: match get("active") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
    }
}

/// What a [`ScimUser`] record keeps of a resource: everything but `id`, `meta`, `active` and
/// `externalId`, which the membership holds or the server computes.
pub fn stored_resource(resource: &Value) -> Value {
    let mut obj = resource.as_object().cloned().unwrap_or_default();
    for k in ["id", "meta", "active", "externalId"] {
        let keys: Vec<String> = obj
            .keys()
            .filter(|x| x.eq_ignore_ascii_case(k))
            .cloned()
            .collect();
        for key in keys {
            obj.remove(&key);
        }
    }
    Value::Object(obj)
}

/// The domain command a (canonical) User resource makes: to provision, or to replace
/// ([`Omitted::Keep`]), or a patched resource ([`Omitted::Clear`]: a missing `active` is then
/// unassigned, [`mark_active_unassigned`]).
pub fn member_command(resource: &Value, omitted: Omitted) -> ScimMemberCommand {
    let fields = member_fields(resource);
    let mut stored = stored_resource(resource);
    if fields.active.is_none() && omitted == Omitted::Clear {
        mark_active_unassigned(&mut stored);
    }
    ScimMemberCommand {
        user_name: user_name(resource),
        email: fields.email,
        name: fields.name,
        phone: fields.phone,
        external_id: fields.external_id,
        active: fields.active,
        resource: stored,
    }
}

/// The User resource of a member under `base` (see [`to_resource`]).
pub fn member_resource(member: &ScimMember, base: &str) -> Value {
    to_resource(&member.membership, member.record.as_ref(), base)
}

/// Marks a stored resource (see [`stored_resource`]) as having `active` unassigned.
pub fn mark_active_unassigned(stored: &mut Value) {
    if let Some(obj) = stored.as_object_mut() {
        obj.insert("active".into(), Value::Null);
    }
}

/// The `userName` of a canonical resource.
pub fn user_name(resource: &Value) -> Option<String> {
    resource
        .as_object()
        .and_then(|o| text(get_ci(o, "userName")))
        .map(str::to_owned)
}

/// A SCIM timestamp: RFC 3339, UTC, milliseconds.
pub fn timestamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The resource of a member without a SCIM record (joined by invitation or link).
fn derived_resource(m: &Membership) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("schemas".into(), json!([USER_SCHEMA]));
    obj.insert("userName".into(), json!(m.email.as_str()));
    obj.insert(
        "emails".into(),
        json!([{"value": m.email.as_str(), "primary": true}]),
    );
    if let Some(n) = &m.name {
        obj.insert("displayName".into(), json!(n));
    }
    if let Some(p) = &m.phone {
        obj.insert("phoneNumbers".into(), json!([{"value": p}]));
    }
    obj
}

/// The location of a member's resource under `base` (`…/scim/v2`).
pub fn location(base: &str, m: &Membership, scim: Option<&ScimUser>) -> String {
    format!(
        "{}/Users/{}",
        base.trim_end_matches('/'),
        resource_id(m, scim)
    )
}

/// The SCIM `id` of a member: the id its SCIM record keeps (a linked placeholder's), else the
/// user id.
pub fn resource_id<'a>(m: &'a Membership, scim: Option<&'a ScimUser>) -> &'a UserId {
    scim.map_or(&m.user_id, ScimUser::resource_id)
}

/// The full User resource of a member: its SCIM record (or the derived resource) with `id`,
/// `externalId`, `active` and `meta` from the membership.
pub fn to_resource(m: &Membership, scim: Option<&ScimUser>, base: &str) -> Value {
    let mut obj = match scim.and_then(|s| s.resource.as_object()) {
        Some(o) => o.clone(),
        None => derived_resource(m),
    };
    if let Some(s) = scim {
        obj.insert("userName".into(), json!(s.user_name));
    }
    obj.insert("id".into(), json!(resource_id(m, scim).as_str()));
    match &m.external_id {
        Some(x) => {
            obj.insert("externalId".into(), json!(x));
        }
        None => {
            obj.remove("externalId");
        }
    }
    // `"active": null` in the record: unassigned by a PATCH remove, so not returned.
    if obj.get("active") == Some(&Value::Null) {
        obj.remove("active");
    } else {
        obj.insert("active".into(), json!(m.status == MemberStatus::Active));
    }
    if m.groups.is_empty() {
        obj.remove("groups");
    } else {
        let base = base.trim_end_matches('/');
        let groups: Vec<Value> = m
            .groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.group_id.as_str(),
                    "$ref": format!("{base}/Groups/{}", g.group_id),
                    "type": "direct",
                })
            })
            .collect();
        obj.insert("groups".into(), Value::Array(groups));
    }
    let last_modified = scim.map_or(m.updated_at, |s| s.updated_at.max(m.updated_at));
    obj.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(&m.created_at),
            "lastModified": timestamp(&last_modified),
            "location": location(base, m, scim),
        }),
    );
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_domain::ids::{OrgId, UserId};
    use rollcall_domain::model::MemberSource;

    fn member() -> Membership {
        let now = chrono::Utc::now();
        Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: OrgId::from_uuid(uuid::Uuid::now_v7()),
            user_id: UserId::from_uuid(uuid::Uuid::now_v7()),
            email: Email::parse("Ada@Example.com").unwrap(),
            name: Some("Ada".into()),
            phone: None,
            status: MemberStatus::Suspended,
            source: MemberSource::Invitation,
            external_id: None,
            assignments: vec![],
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn fields_follow_the_resource() {
        let r = json!({
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "home@x.test"}, {"value": "Work@X.test", "primary": true}],
            "phoneNumbers": [{"value": "+1 555"}, {"value": "+2 666", "primary": true}],
            "externalId": "e-1",
            "active": false
        });
        let f = member_fields(&r);
        assert_eq!(f.email.unwrap().as_str(), "Work@X.test");
        assert_eq!(f.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(f.phone.as_deref(), Some("+2 666"));
        assert_eq!(f.external_id.as_deref(), Some("e-1"));
        assert_eq!(f.active, Some(false));
        let f = member_fields(&json!({"userName": "b@x.test", "displayName": " B ",
            "name": {"formatted": "Bee"}}));
        assert_eq!(f.email.unwrap().as_str(), "b@x.test");
        assert_eq!(f.name.as_deref(), Some("B"));
        assert!(
            member_fields(&json!({"userName": "nobody"}))
                .email
                .is_none()
        );
    }

    #[test]
    fn derived_resource_of_an_invited_member() {
        let m = member();
        let r = to_resource(&m, None, "https://h.test/scim/v2/");
        assert_eq!(r["userName"], "Ada@Example.com");
        assert_eq!(
            r["emails"],
            json!([{"value": "Ada@Example.com", "primary": true}])
        );
        assert_eq!(r["displayName"], "Ada");
        assert_eq!(r["active"], false);
        assert_eq!(r["id"], m.user_id.as_str());
        assert_eq!(
            r["meta"]["location"],
            format!("https://h.test/scim/v2/Users/{}", m.user_id)
        );
        assert_eq!(r["meta"]["resourceType"], "User");
        assert!(r.get("externalId").is_none());
    }

    #[test]
    fn unassigned_active_is_not_returned() {
        let m = member();
        let mut stored = stored_resource(&json!({"userName": "u", "active": false}));
        mark_active_unassigned(&mut stored);
        let record = ScimUser {
            org_id: m.org_id.clone(),
            user_id: m.user_id.clone(),
            user_name: "u".into(),
            resource: stored,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: 1,
            scim_id: None,
        };
        let r = to_resource(&m, Some(&record), "/scim/v2");
        assert!(r.get("active").is_none(), "{r}");
        assert_eq!(r["userName"], "u");
        let plain = ScimUser {
            resource: json!({"userName": "u"}),
            ..record
        };
        assert_eq!(to_resource(&m, Some(&plain), "/scim/v2")["active"], false);
    }

    #[test]
    fn stored_resource_drops_server_and_membership_attributes() {
        let r = json!({"id": "x", "meta": {}, "active": true, "externalId": "e",
            "userName": "u", "schemas": [USER_SCHEMA]});
        assert_eq!(
            stored_resource(&r),
            json!({"userName": "u", "schemas": [USER_SCHEMA]})
        );
    }

    #[test]
    fn names_and_phones_follow_the_api_rules() {
        let user = |extra: Value| {
            let mut u = json!({"userName": "u@x.test"});
            for (k, v) in extra.as_object().unwrap() {
                u[k] = v.clone();
            }
            u
        };
        for (bad, attr) in [
            (json!({"displayName": "a\u{202E}b"}), "'displayName'"),
            (json!({"displayName": "a\u{0}b"}), "'displayName'"),
            (json!({"displayName": "x".repeat(201)}), "'displayName'"),
            (json!({"name": {"formatted": "a\r\nb"}}), "'name.formatted'"),
            (
                json!({"name": {"middleName": "a\u{2068}b"}}),
                "'name.middleName'",
            ),
            (
                json!({"name": {"givenName": "g".repeat(100), "familyName": "f".repeat(100)}}),
                "together",
            ),
            (
                json!({"phoneNumbers": [{"value": "not-a-phone"}]}),
                "'phoneNumbers'",
            ),
        ] {
            let e = check_member_fields(&user(bad.clone()), None).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(crate::error::scim_type::INVALID_VALUE),
                "{bad}"
            );
            assert!(e.detail.contains(attr), "{bad}: {}", e.detail);
        }
        let good = user(json!({
            "displayName": "Zoë İpek", "name": {"givenName": "Zoë", "familyName": "İpek"},
            "phoneNumbers": [{"value": "call me"}, {"value": "+44 20 7946 0000", "primary": true}]
        }));
        assert!(check_member_fields(&good, None).is_ok());
        // Only changes are checked against a PATCH's starting point.
        let legacy = user(json!({"displayName": "x".repeat(300), "title": "a"}));
        let mut changed = legacy.clone();
        changed["title"] = json!("b");
        assert!(check_member_fields(&changed, Some(&legacy)).is_ok());
        changed["displayName"] = json!("y".repeat(300));
        assert!(check_member_fields(&changed, Some(&legacy)).is_err());
    }
}
