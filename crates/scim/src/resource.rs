//! User resources: normalization of POST/PUT bodies, `attributes`/`excludedAttributes`
//! projection, and ListResponse building.

use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::filter::parse_attr_path;
use crate::schema::{
    self, AttrDef, AttrType, ENTERPRISE_USER_SCHEMA, LIST_RESPONSE_SCHEMA, Mutability, Returned,
    SchemaId, USER_SCHEMA, get_ci,
};

/// Longest accepted string value, in characters.
pub const MAX_STRING_LEN: usize = 1024;
/// Most values accepted in one multi-valued attribute.
pub const MAX_MULTI_VALUES: usize = 32;

/// Normalizes a POST or PUT body into a canonical User resource (no `id`, no `meta`).
///
/// Canonical means: attribute names in canonical case, core attributes at the top level,
/// enterprise attributes under the extension URN, `schemas` listing exactly the schemas used,
/// explicit nulls and empty strings dropped, string booleans (`"True"`) coerced, client `id`
/// and `meta` ignored, `password`/`groups`/`locale` and unknown attributes or extensions
/// ignored, read-only sub-attributes (`manager.displayName`) ignored, and at most one
/// `primary: true` per multi-valued attribute (the first). `userName` is required. A value of
/// the wrong type is 400 `invalidValue`, and so are names and phones that break the API's rules
/// ([`crate::mapping::check_member_fields`]). `active` is left absent when the body omits it.
pub fn normalize_user(body: &Value) -> Result<Value, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    if let Some(s) = get_ci(obj, "schemas")
        && !s.is_null()
        && !s.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(ScimError::invalid_value(
            "'schemas' must be an array of strings",
        ));
    }
    let mut core = Map::new();
    let mut ext = Map::new();
    for (key, value) in obj {
        if let Some(schema) = SchemaId::from_urn(key) {
            if schema == SchemaId::Enterprise {
                match value {
                    Value::Null => {}
                    Value::Object(inner) => {
                        for (k, v) in inner {
                            if let Some(def) = find(SchemaId::Enterprise, k) {
                                set(&mut ext, def, v, def.name)?;
                            }
                        }
                    }
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "'{ENTERPRISE_USER_SCHEMA}' must be an object"
                        )));
                    }
                }
            }
            continue;
        }
        let (schema, name) = match split_urn_key(key) {
            Some((s, n)) => (s, n),
            None => (SchemaId::Core, key.as_str()),
        };
        let Some(def) = find(schema, name) else {
            continue; // unknown, ignored, or a sub-attribute path: not part of a body
        };
        let target = if schema == SchemaId::Enterprise {
            &mut ext
        } else {
            &mut core
        };
        set(target, def, value, def.name)?;
    }
    match core.get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => return Err(ScimError::invalid_value("'userName' is required")),
    }
    let mut schemas = vec![json!(USER_SCHEMA)];
    if !ext.is_empty() {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
        core.insert(ENTERPRISE_USER_SCHEMA.to_owned(), Value::Object(ext));
    }
    core.insert("schemas".to_owned(), Value::Array(schemas));
    let resource = Value::Object(core);
    crate::mapping::check_member_fields(&resource, None)?;
    Ok(resource)
}

/// A writable top-level attribute of a schema, by name (case-insensitive).
fn find(schema: SchemaId, name: &str) -> Option<&'static AttrDef> {
    schema
        .attributes()
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name) && a.mutability != Mutability::ReadOnly)
        .filter(|a| a.name != "schemas")
}

/// `urn:...:attr` keys at the top level of a body.
fn split_urn_key(key: &str) -> Option<(SchemaId, &str)> {
    let idx = key.rfind(':')?;
    let schema = SchemaId::from_urn(key.get(..idx)?)?;
    Some((schema, key.get(idx + 1..)?))
}

fn set(
    target: &mut Map<String, Value>,
    def: &'static AttrDef,
    value: &Value,
    path: &str,
) -> Result<(), ScimError> {
    match coerce(def, value, path)? {
        Some(v) => {
            target.insert(def.name.to_owned(), v);
        }
        None => {
            target.remove(def.name);
        }
    }
    Ok(())
}

/// Coerces a client value for an attribute into its canonical form. `Ok(None)`: the value is
/// empty (null, `""`, `[]`, `{}` or a complex value with an empty `value`) and means "unset".
pub(crate) fn coerce(
    def: &'static AttrDef,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        if items.len() > MAX_MULTI_VALUES {
            return Err(ScimError::invalid_value(format!(
                "'{path}' has more than {MAX_MULTI_VALUES} values"
            )));
        }
        let mut out = Vec::new();
        for item in items {
            if let Some(v) = coerce_single(def, item, path)? {
                out.push(v);
            }
        }
        fix_primary(&mut out);
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    // Single-valued: a complex attribute with a `value` sub-attribute (manager) may arrive as a
    // bare string or as a one-element array (Entra).
    if def.is_complex()
        && let Value::Array(a) = value
    {
        return match a.as_slice() {
            [] => Ok(None),
            [one] => coerce_single(def, one, path),
            _ => Err(ScimError::invalid_value(format!(
                "'{path}' is single-valued"
            ))),
        };
    }
    coerce_single(def, value, path)
}

/// Coerces one value (one element of a multi-valued attribute).
pub(crate) fn coerce_single(
    def: &'static AttrDef,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match def.ty {
        AttrType::Complex => {
            let obj = match value {
                Value::Object(o) => o.clone(),
                Value::String(_) if def.sub("value").is_some() => {
                    let mut o = Map::new();
                    o.insert("value".to_owned(), value.clone());
                    o
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "'{path}' must be an object"
                    )));
                }
            };
            let mut out = Map::new();
            for (k, v) in &obj {
                let Some(sub) = def.sub(k) else { continue };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = coerce_single(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            // A `value`-keyed complex value without its value is empty (Entra clears manager
            // with `{"value": ""}`).
            if def.sub("value").is_some() && !def.multi_valued && !out.contains_key("value") {
                return Ok(None);
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        AttrType::Boolean => match value {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(json!(true))),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(json!(false))),
            _ => Err(ScimError::invalid_value(format!(
                "'{path}' must be a boolean"
            ))),
        },
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            let Value::String(s) = value else {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' must be a string"
                )));
            };
            if s.is_empty() {
                return Ok(None);
            }
            if s.chars().count() > MAX_STRING_LEN {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' is longer than {MAX_STRING_LEN} characters"
                )));
            }
            if def.ty == AttrType::DateTime && chrono::DateTime::parse_from_rfc3339(s).is_err() {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' must be an RFC 3339 dateTime"
                )));
            }
            Ok(Some(value.clone()))
        }
        AttrType::Decimal | AttrType::Integer => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => Err(ScimError::invalid_value(format!(
                "'{path}' must be a number"
            ))),
        },
    }
}

/// Keeps `primary: true` on the first element that has it only.
pub(crate) fn fix_primary(items: &mut [Value]) {
    let mut seen = false;
    for item in items.iter_mut() {
        if let Some(obj) = item.as_object_mut()
            && obj.get("primary") == Some(&Value::Bool(true))
        {
            if seen {
                obj.insert("primary".to_owned(), Value::Bool(false));
            }
            seen = true;
        }
    }
}

/// Recomputes `schemas` from content: core always, the enterprise URN when its object is
/// non-empty (an empty extension object is removed).
pub fn refresh_schemas(resource: &mut Value) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let ext_key = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
        .cloned();
    let mut has_ext = false;
    if let Some(k) = ext_key {
        let non_empty = obj
            .get(&k)
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty());
        if non_empty {
            has_ext = true;
            if k != ENTERPRISE_USER_SCHEMA
                && let Some(v) = obj.remove(&k)
            {
                obj.insert(ENTERPRISE_USER_SCHEMA.to_owned(), v);
            }
        } else {
            obj.remove(&k);
        }
    }
    let mut schemas = vec![json!(USER_SCHEMA)];
    if has_ext {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    obj.insert("schemas".to_owned(), Value::Array(schemas));
}

/// A ListResponse (RFC 7644 §3.4.2); counts are JSON integers.
pub fn list_response(resources: Vec<Value>, total_results: usize, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

// ---------------------------------------------------------------------------------------------
// Projection

#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    schema: SchemaId,
    /// `None`: the whole schema (a bare schema URN).
    attr: Option<&'static str>,
    sub: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    All,
    Include(Vec<Selector>),
    Exclude(Vec<Selector>),
}

/// The `attributes` / `excludedAttributes` selection (RFC 7644 §3.4.2.5). `id`, `schemas`
/// and `userName` are returned whatever is asked ("returned: always"); unknown attribute names
/// select nothing. When both parameters are given, `attributes` wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    mode: Mode,
}

impl Default for Projection {
    fn default() -> Self {
        Projection { mode: Mode::All }
    }
}

impl Projection {
    /// Every default attribute.
    pub fn all() -> Self {
        Self::default()
    }

    /// Parses the comma-separated query parameters; a malformed path is 400 `invalidValue`.
    pub fn parse(
        attributes: Option<&str>,
        excluded_attributes: Option<&str>,
    ) -> Result<Self, ScimError> {
        let non_blank = |s: &Option<&str>| s.is_some_and(|s| !s.trim().is_empty());
        if non_blank(&attributes) {
            let list = attributes.unwrap_or_default();
            return Ok(Projection {
                mode: Mode::Include(parse_selectors(list, "attributes")?),
            });
        }
        if non_blank(&excluded_attributes) {
            let list = excluded_attributes.unwrap_or_default();
            return Ok(Projection {
                mode: Mode::Exclude(parse_selectors(list, "excludedAttributes")?),
            });
        }
        Ok(Projection::all())
    }

    /// Like [`Projection::parse`], from `/.search` body arrays (or comma-separated strings).
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let join = |key: &str| -> Result<Option<String>, ScimError> {
            let Some(obj) = body.as_object() else {
                return Ok(None);
            };
            match get_ci(obj, key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(a)) => {
                    let parts: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
                    parts.map(|p| Some(p.join(","))).ok_or_else(|| {
                        ScimError::invalid_value(format!("'{key}' must be an array of strings"))
                    })
                }
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{key}' must be an array of strings"
                ))),
            }
        };
        let a = join("attributes")?;
        let e = join("excludedAttributes")?;
        Projection::parse(a.as_deref(), e.as_deref())
    }

    /// Whether this projection returns every default attribute.
    pub fn is_all(&self) -> bool {
        self.mode == Mode::All
    }

    /// Applies the selection to a User resource.
    pub fn apply(&self, resource: &Value) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        match &self.mode {
            Mode::All => resource.clone(),
            Mode::Include(sels) => Value::Object(include(obj, sels)),
            Mode::Exclude(sels) => Value::Object(exclude(obj, sels)),
        }
    }
}

fn parse_selectors(list: &str, param: &str) -> Result<Vec<Selector>, ScimError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(schema) = SchemaId::from_urn(item) {
            out.push(Selector {
                schema,
                attr: None,
                sub: None,
            });
            continue;
        }
        let path = parse_attr_path(item, false).map_err(|m| {
            ScimError::invalid_value(format!("invalid attribute path in '{param}': {m}"))
        })?;
        if let Some(r) = schema::resolve(path.urn.as_deref(), &path.name, path.sub.as_deref()) {
            out.push(Selector {
                schema: r.schema,
                attr: Some(r.attr.name),
                sub: r.sub.map(|s| s.name),
            });
        }
    }
    Ok(out)
}

fn always_returned(name: &str) -> bool {
    schema::USER_ATTRIBUTES
        .iter()
        .any(|a| a.returned == Returned::Always && a.name.eq_ignore_ascii_case(name))
}

/// The selectors that touch `(schema, attr)`: `None` if none; `Some(None)` for the whole
/// attribute; `Some(Some(subs))` for only those sub-attributes.
fn selection(sels: &[Selector], schema: SchemaId, attr: &str) -> Option<Option<Vec<&'static str>>> {
    let mut subs = Vec::new();
    let mut touched = false;
    for s in sels.iter().filter(|s| s.schema == schema) {
        match (s.attr, s.sub) {
            (None, _) => return Some(None),
            (Some(a), None) if a.eq_ignore_ascii_case(attr) => return Some(None),
            (Some(a), Some(sub)) if a.eq_ignore_ascii_case(attr) => {
                touched = true;
                subs.push(sub);
            }
            _ => {}
        }
    }
    touched.then_some(Some(subs))
}

fn keep_subs(value: &Value, subs: &[&str], keep: bool) -> Option<Value> {
    let filter_obj = |o: &Map<String, Value>| -> Option<Value> {
        let m: Map<String, Value> = o
            .iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!m.is_empty()).then_some(Value::Object(m))
    };
    match value {
        Value::Object(o) => filter_obj(o),
        Value::Array(a) => {
            let items: Vec<Value> = a
                .iter()
                .filter_map(|e| match e {
                    Value::Object(o) => filter_obj(o),
                    other => Some(other.clone()),
                })
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        other => Some(other.clone()),
    }
}

fn include(obj: &Map<String, Value>, sels: &[Selector]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        if SchemaId::from_urn(k) == Some(SchemaId::Enterprise) {
            let Some(ext) = v.as_object() else { continue };
            let mut sub_out = Map::new();
            for (ek, ev) in ext {
                match selection(sels, SchemaId::Enterprise, ek) {
                    Some(None) => {
                        sub_out.insert(ek.clone(), ev.clone());
                    }
                    Some(Some(subs)) => {
                        if let Some(x) = keep_subs(ev, &subs, true) {
                            sub_out.insert(ek.clone(), x);
                        }
                    }
                    None => {}
                }
            }
            if !sub_out.is_empty() {
                out.insert(k.clone(), Value::Object(sub_out));
            }
            continue;
        }
        if always_returned(k) {
            out.insert(k.clone(), v.clone());
            continue;
        }
        match selection(sels, SchemaId::Core, k) {
            Some(None) => {
                out.insert(k.clone(), v.clone());
            }
            Some(Some(subs)) => {
                if let Some(x) = keep_subs(v, &subs, true) {
                    out.insert(k.clone(), x);
                }
            }
            None => {}
        }
    }
    out
}

fn exclude(obj: &Map<String, Value>, sels: &[Selector]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        if SchemaId::from_urn(k) == Some(SchemaId::Enterprise) {
            let Some(ext) = v.as_object() else { continue };
            let mut sub_out = Map::new();
            for (ek, ev) in ext {
                match selection(sels, SchemaId::Enterprise, ek) {
                    Some(None) => {}
                    Some(Some(subs)) => {
                        if let Some(x) = keep_subs(ev, &subs, false) {
                            sub_out.insert(ek.clone(), x);
                        }
                    }
                    None => {
                        sub_out.insert(ek.clone(), ev.clone());
                    }
                }
            }
            if !sub_out.is_empty() {
                out.insert(k.clone(), Value::Object(sub_out));
            }
            continue;
        }
        if always_returned(k) {
            out.insert(k.clone(), v.clone());
            continue;
        }
        match selection(sels, SchemaId::Core, k) {
            Some(None) => {}
            Some(Some(subs)) => {
                if let Some(x) = keep_subs(v, &subs, false) {
                    out.insert(k.clone(), x);
                }
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}
