//! Keeps `docs/openapi.json` true to the code: every route of `rollcall_api::route_table()` is
//! documented with its method, path, function group and authentication (a JWT, none, or for the
//! SCIM routes the organization's SCIM token), the document has no
//! operation the server does not serve (except those marked `x-local-only`), every `$ref`
//! resolves, and every error code it lists is explained in `docs/api.md`.

use rollcall_api::{FunctionGroup, RouteAuth, RouteInfo, route_table};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn document() -> Value {
    let path = docs_dir().join("openapi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// One documented operation.
struct Operation {
    op: Value,
    local_only: bool,
}

/// Every operation of the document, by (lowercase method, path).
fn operations(doc: &Value) -> BTreeMap<(String, String), Operation> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut out = BTreeMap::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (key, op) in item {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            let local_only = op["x-local-only"].as_bool().unwrap_or(false);
            out.insert(
                (key.clone(), path.clone()),
                Operation {
                    op: op.clone(),
                    local_only,
                },
            );
        }
    }
    out
}

fn key(route: &RouteInfo) -> (String, String) {
    (route.method.as_str().to_lowercase(), route.path.to_owned())
}

/// The security requirements of an operation: its own `security`, else the document's default.
fn security<'a>(doc: &'a Value, op: &'a Value) -> &'a Value {
    op.get("security").unwrap_or(&doc["security"])
}

/// The security schemes an operation's requirements name.
fn schemes(doc: &Value, op: &Value) -> BTreeSet<String> {
    security(doc, op)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|r| r.keys().cloned())
        .collect()
}

/// Whether an operation is served without a JWT (`RouteAuth::Public`, no JWT authorizer): its
/// requirements do not name `bearerAuth`. That is `security: []` (no identity at all), or the
/// SCIM token (`scimToken`), which the handler checks instead of the authorizer.
fn is_public(doc: &Value, op: &Value) -> bool {
    !schemes(doc, op).contains("bearerAuth")
}

#[test]
fn document_is_openapi_3_1_with_bearer_jwt() {
    let doc = document();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi version {version}");
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert_eq!(
        doc["security"],
        serde_json::json!([{ "bearerAuth": [] }]),
        "bearer JWT is the default for every operation"
    );
    let scim = &doc["components"]["securitySchemes"]["scimToken"];
    assert_eq!(
        scim["type"], "http",
        "the SCIM token is an HTTP bearer token"
    );
    assert_eq!(scim["scheme"], "bearer");
}

#[test]
fn every_route_is_documented_with_its_method_path_and_group() {
    let doc = document();
    let ops = operations(&doc);
    let mut missing = Vec::new();
    for route in route_table() {
        match ops.get(&key(&route)) {
            None => missing.push(format!("{} {}", route.method, route.path)),
            Some(found) => {
                assert!(
                    !found.local_only,
                    "{} {} is served everywhere but marked x-local-only",
                    route.method, route.path
                );
                assert_eq!(
                    found.op["x-function-group"].as_str(),
                    Some(route.group.as_str()),
                    "x-function-group of {} {}",
                    route.method,
                    route.path
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from docs/openapi.json: {missing:?}"
    );
}

#[test]
fn every_documented_operation_is_a_route() {
    let doc = document();
    let table: BTreeSet<(String, String)> = route_table().iter().map(key).collect();
    let extra: Vec<String> = operations(&doc)
        .into_iter()
        .filter(|(k, o)| !o.local_only && !table.contains(k))
        .map(|((m, p), _)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        extra.is_empty(),
        "operations documented but not in route_table(): {extra:?}"
    );
}

#[test]
fn public_routes_are_exactly_the_operations_without_jwt_security() {
    let doc = document();
    let public_routes: BTreeSet<(String, String)> = route_table()
        .iter()
        .filter(|r| r.auth == RouteAuth::Public)
        .map(key)
        .collect();
    let public_ops: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .filter(|(_, o)| !o.local_only && is_public(&doc, &o.op))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(public_routes, public_ops);
    for (k, o) in operations(&doc) {
        if let Some(security) = o.op.get("security") {
            let ok = security.as_array().is_some_and(|s| {
                s.is_empty()
                    || s.iter().all(|r| r.get("bearerAuth").is_some())
                    || s.iter().all(|r| r.get("scimToken").is_some())
            });
            assert!(ok, "{k:?}: security must be [], bearerAuth or scimToken");
        }
    }
}

#[test]
fn scim_routes_and_only_they_take_the_scim_token() {
    let doc = document();
    let ops = operations(&doc);
    for route in route_table() {
        let Some(o) = ops.get(&key(&route)) else {
            continue; // reported by every_route_is_documented_with_its_method_path_and_group
        };
        let want: BTreeSet<String> = match (route.group, route.auth) {
            (FunctionGroup::Scim, _) => ["scimToken".to_owned()].into(),
            (_, RouteAuth::Jwt) => ["bearerAuth".to_owned()].into(),
            (_, RouteAuth::Public) => BTreeSet::new(),
        };
        assert_eq!(
            schemes(&doc, &o.op),
            want,
            "security of {} {}",
            route.method,
            route.path
        );
    }
}

/// Resolves a local JSON pointer reference (`#/components/...`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let pointer = pointer.replace("~1", "/").replace("~0", "~");
    doc.pointer(&pointer)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref"
                    && let Some(r) = v.as_str()
                {
                    out.push(r.to_owned());
                }
                collect_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty(), "the document uses $ref");
    let broken: BTreeSet<&String> = refs.iter().filter(|r| resolve(&doc, r).is_none()).collect();
    assert!(broken.is_empty(), "unresolved $ref: {broken:?}");
}

#[test]
fn path_parameters_match_the_path_templates() {
    let doc = document();
    for ((method, path), o) in operations(&doc) {
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let declared: BTreeSet<String> = o.op["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| match p.get("$ref").and_then(Value::as_str) {
                Some(r) => resolve(&doc, r),
                None => Some(p),
            })
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(in_path, declared, "path parameters of {method} {path}");
    }
}

#[test]
fn every_error_code_is_explained_in_api_md() {
    let doc = document();
    let api_md = std::fs::read_to_string(docs_dir().join("api.md")).expect("docs/api.md exists");
    let mut codes = BTreeSet::new();
    for (_, o) in operations(&doc) {
        let responses = o.op["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if let Some(list) = response["x-error-codes"].as_array() {
                assert!(
                    status.starts_with('4') || status.starts_with('5'),
                    "error codes on a {status} response"
                );
                codes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
    }
    assert!(!codes.is_empty());
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !api_md.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes without a row in docs/api.md's error table: {missing:?}"
    );
}
