//! Property tests: no input makes the filter parser, the evaluator, the PATCH engine, body
//! normalization or projection panic; parsed filters round-trip through `Display`; key
//! lookups agree with full evaluation; PATCH output is canonical.
//!
//! More cases: `PROPTEST_CASES=20000 cargo test -p rollcall-scim --release --test proptests`.

use proptest::prelude::*;
use rollcall_scim::filter::{LookupKey, key_lookup, parse_patch_path, parse_syntax};
use rollcall_scim::{Filter, Projection, apply_patch, normalize_user};
use serde_json::{Map, Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn user() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "u-1",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "emails": [
            {"value": "b@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555", "type": "mobile"}],
        "active": true,
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z"},
        ENT: {"employeeNumber": "7", "department": "Tours", "manager": {"value": "m-1"}}
    })
}

const TOKENS: &[&str] = &[
    "userName",
    "USERNAME",
    "externalId",
    "id",
    "displayName",
    "active",
    "emails",
    "emails.value",
    "emails.type",
    "name.givenName",
    "name",
    "meta.lastModified",
    "schemas",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:",
    "type",
    "value",
    "primary",
    "nickName",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "and",
    "or",
    "not",
    "AND",
    "Or",
    "(",
    ")",
    "[",
    "]",
    ".value",
    "\"x\"",
    "\"work\"",
    "\"b@example.com\"",
    "\"\\u00e9\\\"\"",
    "\"2011-05-13T04:42:34Z\"",
    "\"",
    "\\",
    "true",
    "False",
    "null",
    "12",
    "-1.5e3",
    "1e999",
    "01",
    ";",
    "é",
];

fn token_soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(TOKENS), 0..14),
        prop::collection::vec(prop::sample::select(&[" ", "", "  ", "\t"][..]), 14),
    )
        .prop_map(|(toks, seps)| {
            let mut s = String::new();
            for (t, sep) in toks.iter().zip(seps.iter()) {
                s.push_str(t);
                s.push_str(sep);
            }
            s
        })
}

const LEAVES: &[&str] = &[
    r#"userName eq "bjensen@example.com""#,
    r#"userName eq "nobody""#,
    r#"externalId eq "Ext-1""#,
    r#"externalId eq "ext-1""#,
    r#"emails.value eq "B@EXAMPLE.COM""#,
    r#"emails[value eq "babs@jensen.org"]"#,
    r#"emails[value eq "b@example.com" and type eq "home"]"#,
    r#"emails[type eq "work" or primary eq false]"#,
    r#"emails co "jensen""#,
    r#"name.givenName sw "bar""#,
    r#"displayName gt "a""#,
    r#"displayName lt "a""#,
    "active eq true",
    "active eq false",
    "phoneNumbers pr",
    "name.middleName pr",
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.created gt "2011-01-01T00:00:00+01:00""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
    r#"manager eq "m-1""#,
    "name.middleName eq null",
    r#"userName ne "x""#,
];

fn valid_filter() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(5, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

const KEYS: &[&str] = &[
    "userName",
    "externalId",
    "displayName",
    "active",
    "name",
    "name.givenName",
    "emails",
    "phoneNumbers",
    "value",
    "type",
    "primary",
    "givenName",
    "familyName",
    "$ref",
    "id",
    "meta",
    "schemas",
    "password",
    "title",
    "manager",
    "department",
    "employeeNumber",
    ENT,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "emails[type eq \"work\"].value",
    "foo",
];

const STRINGS: &[&str] = &[
    "",
    "True",
    "false",
    "work",
    "home",
    "x@y.test",
    "m-2",
    "u-1",
    "Bjensen@Example.com",
    "2011-05-13T04:42:34Z",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        let key = prop_oneof![
            prop::sample::select(KEYS).prop_map(str::to_owned),
            "[a-zA-Z$.:]{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

const OPS: &[&str] = &[
    "add", "Add", "replace", "Replace", "remove", "REMOVE", "copy",
];

const PATHS: &[&str] = &[
    "",
    "userName",
    "displayName",
    "active",
    "externalId",
    "id",
    "meta.created",
    "schemas",
    "title",
    "name",
    "name.givenName",
    "Name.FamilyName",
    "emails",
    "emails.value",
    "emails.primary",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"home\"].primary",
    "emails[value co \"@\"].type",
    "emails[type eq \"other\" and primary eq true].value",
    "phoneNumbers[type eq \"mobile\"].value",
    "phoneNumbers",
    "addresses[type eq \"work\"].formatted",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
    "emails[",
    "foo",
];

/// Values of the shapes identity providers send (mostly valid for some attribute).
fn plausible_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let element = (
        prop::option::of(prop::sample::select(
            &["a@x.test", "B@X.TEST", "m-3", ""][..],
        )),
        prop::option::of(prop::sample::select(&["work", "home", "other"][..])),
        prop::option::of(prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            Just(json!("True"))
        ]),
    )
        .prop_map(|(v, t, p)| {
            let mut o = Map::new();
            if let Some(v) = v {
                o.insert("value".into(), json!(v));
            }
            if let Some(t) = t {
                o.insert("type".into(), json!(t));
            }
            if let Some(p) = p {
                o.insert("primary".into(), p);
            }
            Value::Object(o)
        });
    prop_oneof![
        3 => scalar,
        2 => element.clone(),
        2 => prop::collection::vec(element, 0..3).prop_map(Value::Array),
        1 => Just(json!({"givenName": "G", "familyName": null})),
        1 => Just(json!({"active": "False", "name.givenName": "N",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "D"})),
        1 => Just(json!({"department": "D2", "manager": [{"$ref": null, "value": "m-9"}]})),
    ]
}

fn arb_op() -> impl Strategy<Value = Value> {
    let op = prop_oneof![20 => prop::sample::select(&OPS[..6]), 1 => Just(OPS[6])];
    let value = prop_oneof![3 => plausible_value(), 1 => arb_json()];
    (
        op,
        prop::option::weighted(0.85, prop::sample::select(PATHS)),
        prop::option::weighted(0.9, value),
    )
        .prop_map(|(op, path, value)| {
            let mut o = Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

fn strip_server_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
        o.remove("meta");
    }
    v
}

/// What the key part of a lookup means, evaluated directly.
fn key_matches(key: &LookupKey, u: &Value) -> bool {
    let ci = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    match key {
        LookupKey::UserName(s) => u["userName"].as_str().is_some_and(|v| ci(v, s)),
        LookupKey::ExternalId(s) => u["externalId"].as_str() == Some(s.as_str()),
        LookupKey::Email(s) => u["emails"].as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["value"].as_str().is_some_and(|v| ci(v, s)))
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn filter_parser_never_panics_on_any_string(s in "\\PC{0,64}") {
        let _ = Filter::parse(&s);
        let _ = parse_patch_path(&s);
    }

    #[test]
    fn filter_parser_never_panics_on_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = Filter::parse(&s);
        let _ = Projection::parse(Some(&s), Some(&s));
    }

    #[test]
    fn token_soup_never_panics_and_parsed_filters_behave(s in token_soup()) {
        let _ = parse_syntax(&s);
        let _ = parse_patch_path(&s);
        if let Ok(f) = Filter::parse(&s) {
            let again = Filter::parse(&f.to_string());
            prop_assert_eq!(again.as_ref(), Ok(&f), "{} -> {}", s, f);
            prop_assert!(f.matches(&user()).is_ok());
            let _ = key_lookup(&f);
        }
    }

    #[test]
    fn valid_filters_round_trip_and_key_lookups_agree(s in valid_filter()) {
        let f = Filter::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(Filter::parse(&f.to_string()), Ok(f.clone()));
        let u = user();
        let full = f.matches(&u).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let negated = Filter::not(f.clone()).matches(&u).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(full, !negated);
        if let Some(k) = key_lookup(&f) {
            let residual = match &k.residual {
                Some(r) => r.matches(&u).map_err(|e| TestCaseError::fail(e.to_string()))?,
                None => true,
            };
            prop_assert_eq!(full, key_matches(&k.key, &u) && residual, "{}", s);
        }
    }

    #[test]
    fn evaluation_never_panics_on_any_resource(s in valid_filter(), resource in arb_json()) {
        let f = Filter::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert!(f.matches(&resource).is_ok());
    }

    #[test]
    fn patch_never_panics_and_output_is_canonical(ops in prop::collection::vec(arb_op(), 0..5)) {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let before = user();
        if let Ok(after) = apply_patch(&before, &body) {
            prop_assert!(after["userName"].as_str().is_some_and(|s| !s.trim().is_empty()));
            prop_assert_eq!(&after["id"], &before["id"]);
            prop_assert_eq!(&after["meta"], &before["meta"]);
            let stripped = strip_server_fields(&after);
            let renormalized = normalize_user(&stripped)
                .map_err(|e| TestCaseError::fail(format!("{body} -> {after}: {e:?}")))?;
            prop_assert_eq!(renormalized, stripped, "{}", body);
        }
    }

    #[test]
    fn patch_never_panics_on_any_body(body in arb_json(), resource in arb_json()) {
        let _ = apply_patch(&user(), &body);
        let _ = apply_patch(&resource, &json!({"Operations": [body]}));
    }

    #[test]
    fn normalize_never_panics_and_is_idempotent(body in arb_json(), name in prop::sample::select(STRINGS)) {
        let _ = normalize_user(&body);
        let mut with_name = body.clone();
        if let Some(o) = with_name.as_object_mut() {
            o.insert("userName".into(), json!(name));
        }
        if let Ok(once) = normalize_user(&with_name) {
            let twice = normalize_user(&once);
            prop_assert_eq!(twice.as_ref(), Ok(&once));
        }
    }

    #[test]
    fn projection_never_panics(resource in arb_json(), a in prop::sample::select(KEYS), e in prop::sample::select(KEYS)) {
        if let Ok(p) = Projection::parse(Some(a), None) {
            let _ = p.apply(&resource);
        }
        if let Ok(p) = Projection::parse(None, Some(e)) {
            let _ = p.apply(&resource);
        }
    }

    #[test]
    fn group_bodies_never_panic(body in arb_json(), op in arb_op(), filter in "\\PC{0,64}") {
        let _ = rollcall_scim::group::group_write(&body);
        let _ = rollcall_scim::group::group_patch(&body);
        let _ = rollcall_scim::group::group_patch(&json!({"Operations": [op]}));
        let _ = rollcall_scim::group::GroupFilter::parse(&filter);
    }
}
