//! PATCH (RFC 7644 §3.5.2) on User resources, including what Okta and Entra ID send.
//!
//! Accepted shapes:
//! - `op` case-insensitive (`add`, `Add`, `REPLACE`, ...); member names `op`/`path`/`value`
//!   and `Operations` case-insensitive; `schemas`, when present, must list the PatchOp URN;
//! - paths: `attr`, `attr.sub`, URN-qualified (`urn:...:enterprise:2.0:User:manager`), a bare
//!   schema URN (the whole extension), value paths `emails[type eq "work"]` with an optional
//!   `.sub` after the brackets;
//! - no-path `add`/`replace` whose `value` object has plain, nested, dotted (`name.givenName`),
//!   URN-qualified or value-path keys;
//! - string booleans (`"False"`) for boolean attributes;
//! - `add`/`replace` on a value path that matches nothing creates the element from the
//!   filter's `eq` terms (Entra); `remove` of a value path that matches nothing is a no-op;
//! - `remove` with a `value` on a multi-valued attribute removes just those values;
//! - manager as a string, `{"value": ...}` or `[{"value": ...}]`; an empty value removes it;
//! - add = replace for single-valued attributes; replace of a complex single-valued attribute
//!   merges its sub-attributes (name) except for `manager`, which is replaced whole;
//! - setting `primary: true` on a value clears it on the other values.
//!
//! Refused: `id`/`meta` (and other readOnly attributes) with 400 `mutability` (a no-path value
//! repeating the current `id` is tolerated), unknown attributes with `invalidPath`, wrong value
//! types with `invalidValue`, an unusable value filter with `invalidFilter`, a `remove` without
//! path with `noTarget`. RFC 7643 attributes that are not stored (`title`, `addresses`,
//! `password`, ...) are accepted and ignored, as in POST/PUT. `schemas` is recomputed from the
//! content and ops on it are ignored.

use serde_json::{Map, Value};

use crate::error::{ScimError, scim_type};
use crate::filter::{self, CompValue, Filter, PatchPath};
use crate::resource::{MAX_MULTI_VALUES, coerce, coerce_single, fix_primary, refresh_schemas};
use crate::schema::{
    self, AttrDef, ENTERPRISE_USER_SCHEMA, Mutability, PATCH_OP_SCHEMA, SchemaId, get_ci,
};

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// A refused PATCH: always HTTP 400 with this `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct PatchError {
    /// `scimType` (`invalidPath`, `invalidValue`, `mutability`, `noTarget`, `invalidFilter`,
    /// `invalidSyntax`).
    pub scim_type: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl PatchError {
    fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        PatchError {
            scim_type,
            detail: detail.into(),
        }
    }
    fn path(detail: impl Into<String>) -> Self {
        Self::new(scim_type::INVALID_PATH, detail)
    }
    fn value(detail: impl Into<String>) -> Self {
        Self::new(scim_type::INVALID_VALUE, detail)
    }
    fn mutability(detail: impl Into<String>) -> Self {
        Self::new(scim_type::MUTABILITY, detail)
    }
    fn syntax(detail: impl Into<String>) -> Self {
        Self::new(scim_type::INVALID_SYNTAX, detail)
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        ScimError::bad_request(e.scim_type, e.detail)
    }
}

impl From<ScimError> for PatchError {
    fn from(e: ScimError) -> Self {
        PatchError::new(e.scim_type.unwrap_or(scim_type::INVALID_VALUE), e.detail)
    }
}

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation.
    pub op: OpKind,
    /// The target path, if any.
    pub path: Option<String>,
    /// The value, if any.
    pub value: Option<Value>,
}

/// A parsed PATCH request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, in order.
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parses `{"schemas":[PatchOp], "Operations":[...]}`.
    pub fn parse(body: &Value) -> Result<Self, PatchError> {
        let obj = body
            .as_object()
            .ok_or_else(|| PatchError::syntax("the request body must be a JSON object"))?;
        if let Some(s) = get_ci(obj, "schemas") {
            let ok = s.as_array().is_some_and(|a| {
                a.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                })
            });
            if !ok {
                return Err(PatchError::syntax(format!(
                    "'schemas' must contain '{PATCH_OP_SCHEMA}'"
                )));
            }
        }
        let ops = match get_ci(obj, "Operations") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(PatchError::syntax("'Operations' must be an array")),
            None => return Err(PatchError::syntax("'Operations' is required")),
        };
        if ops.len() > MAX_OPERATIONS {
            return Err(PatchError::syntax(format!(
                "at most {MAX_OPERATIONS} operations are accepted"
            )));
        }
        let mut operations = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let o = op
                .as_object()
                .ok_or_else(|| PatchError::syntax(format!("operation {i} must be an object")))?;
            let kind = match get_ci(o, "op").and_then(Value::as_str) {
                Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
                Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
                Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
                Some(s) => {
                    return Err(PatchError::syntax(format!(
                        "operation {i}: unknown op '{s}' (add, replace or remove)"
                    )));
                }
                None => {
                    return Err(PatchError::syntax(format!(
                        "operation {i}: 'op' is required"
                    )));
                }
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(_) => {
                    return Err(PatchError::path(format!(
                        "operation {i}: 'path' must be a string"
                    )));
                }
            };
            let value = get_ci(o, "value").cloned();
            operations.push(PatchOperation {
                op: kind,
                path,
                value,
            });
        }
        Ok(PatchRequest { operations })
    }

    /// Applies the operations, in order, to a User resource; all or nothing. Names and phones the
    /// operations change must follow the API's rules ([`crate::mapping::check_member_fields`]).
    pub fn apply(&self, resource: &Value) -> Result<Value, PatchError> {
        let mut doc = match resource {
            Value::Object(o) => o.clone(),
            _ => Map::new(),
        };
        let original = doc.clone();
        for op in &self.operations {
            apply_op(&mut doc, &original, op)?;
        }
        match doc.get("userName") {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => return Err(PatchError::value("'userName' is required")),
        }
        let mut out = Value::Object(doc);
        refresh_schemas(&mut out);
        crate::mapping::check_member_fields(&out, Some(resource))?;
        Ok(out)
    }
}

/// Parses and applies a PATCH request body to a User resource, returning the new resource.
pub fn apply_patch(resource: &Value, request: &Value) -> Result<Value, PatchError> {
    PatchRequest::parse(request)?.apply(resource)
}

// ---------------------------------------------------------------------------------------------

/// A resolved target.
struct Target {
    schema: SchemaId,
    attr: &'static AttrDef,
    filter: Option<Filter>,
    sub: Option<&'static AttrDef>,
}

impl Target {
    fn name(&self) -> String {
        let mut s = String::new();
        if self.schema == SchemaId::Enterprise {
            s.push_str(ENTERPRISE_USER_SCHEMA);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if let Some(f) = &self.filter {
            s.push_str(&format!("[{f}]"));
        }
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }
}

/// What a path designates.
enum Resolved {
    /// An attribute that is stored.
    Target(Target),
    /// A whole schema (`urn:...:enterprise:2.0:User`).
    Schema(SchemaId),
    /// Accepted and ignored (`schemas`, `title`, `password`, ...).
    Ignored,
}

fn resolve_path(path: &str) -> Result<Resolved, PatchError> {
    if let Some(schema) = SchemaId::from_urn(path) {
        return Ok(Resolved::Schema(schema));
    }
    let PatchPath { attr, filter, sub } = filter::parse_patch_path(path)
        .map_err(|e| PatchError::path(format!("invalid path '{path}': {e}")))?;
    let schema_of_urn =
        match &attr.urn {
            Some(u) => Some(SchemaId::from_urn(u).ok_or_else(|| {
                PatchError::path(format!("unknown schema '{u}' in path '{path}'"))
            })?),
            None => None,
        };
    let Some((schema, def)) = schema::find_attribute(attr.urn.as_deref(), &attr.name) else {
        let ignored = match schema_of_urn {
            Some(s) => schema::is_ignored_attribute(s, &attr.name),
            None => {
                schema::is_ignored_attribute(SchemaId::Core, &attr.name)
                    || schema::is_ignored_attribute(SchemaId::Enterprise, &attr.name)
            }
        };
        if ignored {
            return Ok(Resolved::Ignored);
        }
        return Err(PatchError::path(format!(
            "unknown attribute in path '{path}'"
        )));
    };
    if def.name == "schemas" {
        return Ok(Resolved::Ignored);
    }
    let sub_name = attr.sub.as_deref().or(sub.as_deref());
    let sub = match sub_name {
        Some(s) => Some(def.sub(s).ok_or_else(|| {
            PatchError::path(format!("unknown sub-attribute '{s}' in path '{path}'"))
        })?),
        None => None,
    };
    if def.mutability == Mutability::ReadOnly {
        return Err(PatchError::mutability(format!(
            "attribute '{}' is readOnly",
            def.name
        )));
    }
    if let Some(s) = sub
        && s.mutability == Mutability::ReadOnly
    {
        return Err(PatchError::mutability(format!(
            "attribute '{}.{}' is readOnly",
            def.name, s.name
        )));
    }
    let filter = match filter {
        Some(f) => {
            if !(def.is_complex() && def.multi_valued) {
                return Err(PatchError::path(format!(
                    "'{}' is not a multi-valued complex attribute; '[...]' needs one",
                    def.name
                )));
            }
            Some(
                filter::check_value_filter(def, f)
                    .map_err(|e| PatchError::new(scim_type::INVALID_FILTER, e.to_string()))?,
            )
        }
        None => None,
    };
    Ok(Resolved::Target(Target {
        schema,
        attr: def,
        filter,
        sub,
    }))
}

fn apply_op(
    doc: &mut Map<String, Value>,
    original: &Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), PatchError> {
    let value = op.value.as_ref();
    match &op.path {
        None => match op.op {
            OpKind::Remove => Err(PatchError::new(
                scim_type::NO_TARGET,
                "'remove' requires a path",
            )),
            OpKind::Add | OpKind::Replace => match value {
                Some(Value::Object(obj)) => apply_object(doc, original, op.op, SchemaId::Core, obj),
                Some(_) => Err(PatchError::value(
                    "without a path, 'value' must be an object of attributes",
                )),
                None => Err(PatchError::value("'value' is required")),
            },
        },
        Some(path) => match resolve_path(path)? {
            Resolved::Ignored => Ok(()),
            Resolved::Schema(schema) => match op.op {
                OpKind::Remove => {
                    if schema == SchemaId::Core {
                        return Err(PatchError::path("the core schema cannot be removed"));
                    }
                    remove_key(doc, ENTERPRISE_USER_SCHEMA);
                    Ok(())
                }
                OpKind::Add | OpKind::Replace => match value {
                    Some(Value::Object(obj)) => apply_object(doc, original, op.op, schema, obj),
                    Some(Value::Null) | None if op.op == OpKind::Replace => {
                        if schema == SchemaId::Enterprise {
                            remove_key(doc, ENTERPRISE_USER_SCHEMA);
                        }
                        Ok(())
                    }
                    _ => Err(PatchError::value(format!(
                        "the value for '{path}' must be an object"
                    ))),
                },
            },
            Resolved::Target(t) => apply_target(doc, op.op, &t, value),
        },
    }
}

/// A no-path value object (or the value of a schema-URN path): each key is a path.
fn apply_object(
    doc: &mut Map<String, Value>,
    original: &Map<String, Value>,
    op: OpKind,
    schema: SchemaId,
    obj: &Map<String, Value>,
) -> Result<(), PatchError> {
    for (key, v) in obj {
        if let Some(s) = SchemaId::from_urn(key) {
            match v {
                Value::Object(inner) => apply_object(doc, original, op, s, inner)?,
                Value::Null => {
                    if op == OpKind::Replace && s == SchemaId::Enterprise {
                        remove_key(doc, ENTERPRISE_USER_SCHEMA);
                    }
                }
                _ => {
                    return Err(PatchError::value(format!(
                        "the value of '{key}' must be an object"
                    )));
                }
            }
            continue;
        }
        // `schemas` is recomputed from the content, also inside an extension's value object
        // (clients that serialize the extension as a resource, e.g. scim2-models, send it there).
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if schema == SchemaId::Core
            && (key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case("meta"))
        {
            // Tolerate a client echoing the current value; refuse a change.
            if get_ci(original, key) == Some(v) {
                continue;
            }
            return Err(PatchError::mutability(format!(
                "attribute '{key}' is readOnly"
            )));
        }
        let path = match schema {
            SchemaId::Enterprise if !key.to_ascii_lowercase().starts_with("urn:") => {
                format!("{ENTERPRISE_USER_SCHEMA}:{key}")
            }
            _ => key.clone(),
        };
        match resolve_path(&path)? {
            Resolved::Ignored => {}
            Resolved::Schema(_) => {
                return Err(PatchError::path(format!("unexpected schema key '{key}'")));
            }
            Resolved::Target(t) => apply_target(doc, op, &t, Some(v))?,
        }
    }
    Ok(())
}

/// Removes `key` (case-insensitively) and returns its value.
fn remove_key(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let k = schema::find_key_ci(map, key)?;
    map.remove(&k)
}

fn require_value<'a>(value: Option<&'a Value>, t: &Target) -> Result<&'a Value, PatchError> {
    value.ok_or_else(|| PatchError::value(format!("a value is required for '{}'", t.name())))
}

fn coerce_err(e: ScimError) -> PatchError {
    PatchError::value(e.detail)
}

fn apply_target(
    doc: &mut Map<String, Value>,
    op: OpKind,
    t: &Target,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    match t.schema {
        SchemaId::Core => apply_in(doc, op, t, value),
        SchemaId::Enterprise => {
            let mut ext = match remove_key(doc, ENTERPRISE_USER_SCHEMA) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            let result = apply_in(&mut ext, op, t, value);
            doc.insert(ENTERPRISE_USER_SCHEMA.to_owned(), Value::Object(ext));
            result
        }
    }
}

/// Applies an operation to the attribute `t` inside its container object.
fn apply_in(
    container: &mut Map<String, Value>,
    op: OpKind,
    t: &Target,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let current = remove_key(container, t.attr.name);
    let new = if t.filter.is_some() {
        apply_filtered(op, t, current, value)?
    } else if let Some(sub) = t.sub {
        apply_sub(op, t, sub, current, value)?
    } else {
        apply_whole(op, t, current, value)?
    };
    if let Some(v) = new {
        container.insert(t.attr.name.to_owned(), v);
    }
    Ok(())
}

fn array_of(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn finish_multi(items: Vec<Value>, t: &Target) -> Result<Option<Value>, PatchError> {
    let items: Vec<Value> = items
        .into_iter()
        .filter(|v| !matches!(v, Value::Object(o) if o.is_empty()) && !v.is_null())
        .collect();
    if items.len() > MAX_MULTI_VALUES {
        return Err(PatchError::value(format!(
            "'{}' would have more than {MAX_MULTI_VALUES} values",
            t.attr.name
        )));
    }
    Ok((!items.is_empty()).then_some(Value::Array(items)))
}

/// `primary: true` on any of `winners` clears it everywhere else; then at most one remains.
fn settle_primary(items: &mut [Value], winners: &[usize]) {
    let won = winners.iter().any(|i| {
        items
            .get(*i)
            .and_then(|v| v.get("primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    });
    if won {
        for (i, item) in items.iter_mut().enumerate() {
            if !winners.contains(&i)
                && let Some(o) = item.as_object_mut()
                && o.get("primary") == Some(&Value::Bool(true))
            {
                o.insert("primary".to_owned(), Value::Bool(false));
            }
        }
    }
    // Winners first so that, among several, one of them keeps it.
    let mut seen = false;
    let others = (0..items.len()).filter(|i| !winners.contains(i));
    for i in winners.iter().copied().chain(others) {
        if let Some(o) = items.get_mut(i).and_then(Value::as_object_mut)
            && o.get("primary") == Some(&Value::Bool(true))
        {
            if seen {
                o.insert("primary".to_owned(), Value::Bool(false));
            }
            seen = true;
        }
    }
}

/// Whole attribute (no filter, no sub-attribute).
fn apply_whole(
    op: OpKind,
    t: &Target,
    current: Option<Value>,
    value: Option<&Value>,
) -> Result<Option<Value>, PatchError> {
    let def = t.attr;
    let name = t.name();
    match op {
        OpKind::Remove => {
            if def.multi_valued
                && let Some(v) = value
                && !v.is_null()
            {
                let targets = array_of(coerce(def, v, &name).map_err(coerce_err)?);
                let mut items = array_of(current);
                items.retain(|e| !targets.iter().any(|x| value_matches(def, x, e)));
                return finish_multi(items, t);
            }
            Ok(None)
        }
        OpKind::Add | OpKind::Replace => {
            let v = require_value(value, t)?;
            if def.is_complex() && !def.multi_valued && def.sub("value").is_none() {
                // name: merge sub-attributes; empty sub-values unset; null unsets it all.
                let raw = match v {
                    Value::Null => return Ok(None),
                    Value::Object(o) => o,
                    _ => return Err(PatchError::value(format!("'{name}' must be an object"))),
                };
                let mut merged = match current {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                merge_complex(def, &mut merged, raw, &name)?;
                return Ok((!merged.is_empty()).then_some(Value::Object(merged)));
            }
            let new = coerce(def, v, &name).map_err(coerce_err)?;
            if def.multi_valued {
                if op == OpKind::Replace {
                    return Ok(new);
                }
                let mut items = array_of(current);
                let mut winners = Vec::new();
                for item in array_of(new) {
                    if !items.contains(&item) {
                        winners.push(items.len());
                        items.push(item);
                    }
                }
                settle_primary(&mut items, &winners);
                return finish_multi(items, t);
            }
            // Simple single-valued, or manager: replaced; an empty value removes it.
            Ok(new)
        }
    }
}

/// Merges a client object into a complex value: each known writable sub-attribute is set, or
/// unset when its value is empty (null, `""`); unknown and readOnly ones are ignored.
fn merge_complex(
    def: &'static AttrDef,
    target: &mut Map<String, Value>,
    raw: &Map<String, Value>,
    path: &str,
) -> Result<(), PatchError> {
    for (k, v) in raw {
        let Some(sub) = def.sub(k) else { continue };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let coerced = coerce_single(sub, v, &format!("{path}.{}", sub.name)).map_err(coerce_err)?;
        remove_key(target, sub.name);
        if let Some(x) = coerced {
            target.insert(sub.name.to_owned(), x);
        }
    }
    Ok(())
}

/// The element a value path designates when nothing matches: its `eq` terms, or `noTarget`.
fn element_from_terms(
    def: &'static AttrDef,
    f: &Filter,
    path: &str,
) -> Result<Map<String, Value>, PatchError> {
    let terms = filter::equality_terms(f).ok_or_else(|| {
        PatchError::new(
            scim_type::NO_TARGET,
            format!("no value of '{}' matches the filter", def.name),
        )
    })?;
    let mut element = Map::new();
    for (name, cv) in terms {
        let Some(sub) = def.sub(&name) else { continue };
        let raw = match cv {
            CompValue::String(s) => Value::String(s),
            CompValue::Bool(b) => Value::Bool(b),
            CompValue::Number(n) => Value::Number(n),
            CompValue::Null => continue,
        };
        if let Some(x) = coerce_single(sub, &raw, path).map_err(coerce_err)? {
            element.insert(sub.name.to_owned(), x);
        }
    }
    Ok(element)
}

/// `attr.sub` without a filter.
fn apply_sub(
    op: OpKind,
    t: &Target,
    sub: &'static AttrDef,
    current: Option<Value>,
    value: Option<&Value>,
) -> Result<Option<Value>, PatchError> {
    let def = t.attr;
    let new_sub = match op {
        OpKind::Remove => None,
        OpKind::Add | OpKind::Replace => {
            let v = require_value(value, t)?;
            coerce_single(sub, v, &t.name()).map_err(coerce_err)?
        }
    };
    let set = |o: &mut Map<String, Value>| {
        remove_key(o, sub.name);
        if let Some(v) = &new_sub {
            o.insert(sub.name.to_owned(), v.clone());
        }
    };
    if def.multi_valued {
        let mut items = array_of(current);
        if items.is_empty() && new_sub.is_some() {
            items.push(Value::Object(Map::new()));
        }
        for item in items.iter_mut() {
            if let Some(o) = item.as_object_mut() {
                set(o);
            }
        }
        fix_primary(&mut items);
        return finish_multi(items, t);
    }
    let mut obj = match current {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    set(&mut obj);
    // Re-canonicalize (a manager without `value` is no manager).
    coerce_single(def, &Value::Object(obj), &t.name()).map_err(coerce_err)
}

/// `attr[filter]` or `attr[filter].sub`.
fn apply_filtered(
    op: OpKind,
    t: &Target,
    current: Option<Value>,
    value: Option<&Value>,
) -> Result<Option<Value>, PatchError> {
    let def = t.attr;
    let Some(f) = &t.filter else {
        return apply_whole(op, t, current, value);
    };
    let mut items = array_of(current);
    let mut matched = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if filter::matches_element(def, f, item)
            .map_err(|e| PatchError::new(scim_type::INVALID_FILTER, e.to_string()))?
        {
            matched.push(i);
        }
    }
    match op {
        OpKind::Remove => {
            match t.sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(sub) => {
                    for i in &matched {
                        if let Some(o) = items.get_mut(*i).and_then(Value::as_object_mut) {
                            remove_key(o, sub.name);
                        }
                    }
                }
            }
            finish_multi(items, t)
        }
        OpKind::Add | OpKind::Replace => {
            let v = require_value(value, t)?;
            let name = t.name();
            match t.sub {
                Some(sub) => {
                    let x = coerce_single(sub, v, &name).map_err(coerce_err)?;
                    if matched.is_empty() {
                        let Some(x) = x else {
                            return finish_multi(items, t);
                        };
                        let mut element = element_from_terms(def, f, &name)?;
                        element.insert(sub.name.to_owned(), x);
                        items.push(Value::Object(element));
                        matched.push(items.len() - 1);
                    } else {
                        for i in &matched {
                            if let Some(o) = items.get_mut(*i).and_then(Value::as_object_mut) {
                                remove_key(o, sub.name);
                                if let Some(x) = &x {
                                    o.insert(sub.name.to_owned(), x.clone());
                                }
                            }
                        }
                    }
                }
                None => {
                    let raw = match v {
                        Value::Null => {
                            if op == OpKind::Replace {
                                let mut i = 0;
                                items.retain(|_| {
                                    let keep = !matched.contains(&i);
                                    i += 1;
                                    keep
                                });
                            }
                            return finish_multi(items, t);
                        }
                        Value::Object(o) => o,
                        _ => {
                            return Err(PatchError::value(format!(
                                "the value for '{name}' must be an object"
                            )));
                        }
                    };
                    if matched.is_empty() {
                        let mut patch = Map::new();
                        merge_complex(def, &mut patch, raw, &name)?;
                        if patch.is_empty() {
                            return finish_multi(items, t);
                        }
                        let mut element = element_from_terms(def, f, &name)?;
                        element.extend(patch);
                        items.push(Value::Object(element));
                        matched.push(items.len() - 1);
                    } else {
                        for i in &matched {
                            if let Some(o) = items.get_mut(*i).and_then(Value::as_object_mut) {
                                merge_complex(def, o, raw, &name)?;
                            }
                        }
                    }
                }
            }
            settle_primary(&mut items, &matched);
            finish_multi(items, t)
        }
    }
}

/// Whether `element` is one of the values a `remove` names: every sub-attribute given in
/// `target` equals the element's (case per `caseExact`).
fn value_matches(def: &AttrDef, target: &Value, element: &Value) -> bool {
    match (target, element) {
        (Value::Object(t), Value::Object(e)) => {
            !t.is_empty()
                && t.iter().all(|(k, tv)| {
                    let case_exact = def.sub(k).is_some_and(|s| s.case_exact);
                    get_ci(e, k).is_some_and(|ev| scalar_eq(tv, ev, case_exact))
                })
        }
        (t, e) => scalar_eq(t, e, def.case_exact),
    }
}

fn scalar_eq(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}
