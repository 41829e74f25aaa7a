//! Filter parser, evaluator and key-lookup tests.

use rollcall_scim::ScimError;
use rollcall_scim::filter::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, KeyLookup, LookupKey, MAX_DEPTH,
    MAX_FILTER_LEN, key_lookup, parse_patch_path, parse_syntax,
};
use serde_json::{Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn p(s: &str) -> Filter {
    Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn cmp(name: &str, sub: Option<&str>, op: CompareOp, v: &str) -> Filter {
    Filter::Compare {
        path: AttrPath::new(name, sub),
        op,
        value: CompValue::String(v.into()),
    }
}

fn pr(name: &str, sub: Option<&str>) -> Filter {
    Filter::Present(AttrPath::new(name, sub))
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "ExtID-123",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "active": true,
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"
        },
        ENT: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

fn m(filter: &str) -> bool {
    p(filter)
        .matches(&user())
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
}

// ----- parsing ---------------------------------------------------------------------------

#[test]
fn parses_simple_comparison() {
    assert_eq!(
        p(r#"userName eq "bjensen""#),
        cmp("userName", None, CompareOp::Eq, "bjensen")
    );
}

#[test]
fn attribute_names_and_operators_are_case_insensitive() {
    assert_eq!(
        p(r#"USERNAME EQ "x" AnD Name.GivenName Sw "B""#),
        Filter::and(
            cmp("userName", None, CompareOp::Eq, "x"),
            cmp("name", Some("givenName"), CompareOp::Sw, "B")
        )
    );
    for op in ["eq", "NE", "Co", "sW", "EW", "gt", "GE", "lt", "Le"] {
        assert!(
            Filter::parse(&format!("displayName {op} \"a\"")).is_ok(),
            "{op}"
        );
    }
    assert_eq!(p("displayName PR"), pr("displayName", None));
}

#[test]
fn precedence_not_over_and_over_or() {
    // a or b and c == a or (b and c)
    assert_eq!(
        p("userName pr or displayName pr and active pr"),
        Filter::or(
            pr("userName", None),
            Filter::and(pr("displayName", None), pr("active", None))
        )
    );
    // a and b or c == (a and b) or c
    assert_eq!(
        p("userName pr and displayName pr or active pr"),
        Filter::or(
            Filter::and(pr("userName", None), pr("displayName", None)),
            pr("active", None)
        )
    );
    // not binds tighter than and
    assert_eq!(
        p("not (userName pr) and active pr"),
        Filter::and(Filter::not(pr("userName", None)), pr("active", None))
    );
    // left associativity
    assert_eq!(
        p("userName pr or displayName pr or active pr"),
        Filter::or(
            Filter::or(pr("userName", None), pr("displayName", None)),
            pr("active", None)
        )
    );
}

#[test]
fn parentheses_group() {
    assert_eq!(
        p("(userName pr or displayName pr) and active pr"),
        Filter::and(
            Filter::or(pr("userName", None), pr("displayName", None)),
            pr("active", None)
        )
    );
    assert_eq!(p("((userName pr))"), pr("userName", None));
    assert_eq!(
        p("NOT(userName pr or active pr)"),
        Filter::not(Filter::or(pr("userName", None), pr("active", None)))
    );
}

#[test]
fn value_paths() {
    let f = p(r#"emails[type eq "work" and value co "@example.com"]"#);
    assert_eq!(
        f,
        Filter::ValuePath {
            path: AttrPath::new("emails", None),
            filter: Box::new(Filter::and(
                cmp("type", None, CompareOp::Eq, "work"),
                cmp("value", None, CompareOp::Co, "@example.com")
            ))
        }
    );
    // Canonical casing inside brackets too.
    assert_eq!(
        p(r#"EMAILS[TYPE eq "work"]"#),
        p(r#"emails[type eq "work"]"#)
    );
    assert!(Filter::parse(r#"emails[not (type eq "work")] or phoneNumbers[value pr]"#).is_ok());
}

#[test]
fn urn_qualified_paths() {
    assert_eq!(
        p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#),
        cmp("userName", None, CompareOp::Eq, "x")
    );
    assert_eq!(
        p(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "x""#),
        cmp("name", Some("givenName"), CompareOp::Eq, "x")
    );
    let f = p(&format!(r#"{ENT}:employeeNumber eq "701984""#));
    let Filter::Compare { path, .. } = &f else {
        panic!()
    };
    assert_eq!(path.urn.as_deref(), Some(ENT));
    assert_eq!(path.name, "employeeNumber");
    assert_eq!(
        f.to_string(),
        format!(r#"{ENT}:employeeNumber eq "701984""#)
    );
    let f = p(&format!(r#"{}:Manager.Value eq "m""#, ENT.to_uppercase()));
    assert_eq!(
        f.to_string(),
        format!(r#"{ENT}:manager.value eq "m""#),
        "canonical URN and names"
    );
    // Extension attributes also resolve without their URN.
    assert_eq!(
        p(r#"department eq "x""#).to_string(),
        format!(r#"{ENT}:department eq "x""#)
    );
}

#[test]
fn comparison_values() {
    let f = parse_syntax(r#"a eq "q\"b\\s\/\n\u00e9\ud83d\ude00""#).unwrap();
    assert_eq!(
        f,
        Filter::Compare {
            path: AttrPath::new("a", None),
            op: CompareOp::Eq,
            value: CompValue::String("q\"b\\s/\né😀".into())
        }
    );
    for (src, v) in [
        ("a eq true", CompValue::Bool(true)),
        ("a eq FALSE", CompValue::Bool(false)),
        ("a eq null", CompValue::Null),
        ("a eq 12", CompValue::Number(12.into())),
    ] {
        assert_eq!(
            parse_syntax(src).unwrap(),
            Filter::Compare {
                path: AttrPath::new("a", None),
                op: CompareOp::Eq,
                value: v
            }
        );
    }
    assert!(parse_syntax("a gt -1.5e3").is_ok());
    assert!(parse_syntax(r#"a eq "ünïcödé""#).is_ok());
}

#[test]
fn rfc_examples_parse() {
    // RFC 7644 §3.4.2.2 examples (syntax); those on attributes not stored here are refused by
    // the schema check with an explicit error.
    let supported = [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"displayName eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"displayName ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"displayName eq "Employee" and (emails.type eq "work")"#,
        r#"displayName eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    ];
    for s in supported {
        assert!(Filter::parse(s).is_ok(), "{s}");
    }
    let unsupported = [
        "title pr",
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ];
    for s in unsupported {
        assert!(parse_syntax(s).is_ok(), "{s}");
        assert!(
            matches!(Filter::parse(s), Err(FilterError::UnknownAttribute(_))),
            "{s}"
        );
    }
}

#[test]
fn invalid_filters_are_errors() {
    let bad: Vec<String> = vec![
        "".into(),
        "   ".into(),
        "userName".into(),
        "userName eq".into(),
        r#"userName eq "x"#.into(),
        r#"userName xx "x""#.into(),
        r#"userName eq "x" and"#.into(),
        r#"and userName eq "x""#.into(),
        "(userName pr".into(),
        "userName pr)".into(),
        "()".into(),
        "[]".into(),
        r#"emails[type eq "work""#.into(),
        r#"emails[type eq "work"].value"#.into(),
        r#"emails[type eq "work"] eq "x""#.into(),
        "emails[phoneNumbers[type pr]]".into(),
        r#"emails.value[type eq "work"]"#.into(),
        "name.givenName.x pr".into(),
        "userName eq bareword".into(),
        "userName eq 'x'".into(),
        "not userName pr".into(),
        "not (userName pr".into(),
        r#"userName eq "\x""#.into(),
        r#"userName eq "\ud800""#.into(),
        r#"userName eq "\u12""#.into(),
        "userName eq \"a\u{1}b\"".into(),
        "1abc pr".into(),
        "urn: pr".into(),
        "urn:a::b pr".into(),
        "userName pr pr".into(),
        "or".into(),
        r#"userName eq "x" or or"#.into(),
        "userName eq 01".into(),
        "userName eq +1".into(),
        "ünknown pr".into(),
        "userName eq \"x\" ; drop".into(),
        // schema-level
        r#"userName gt true"#.into(),
        "active gt true".into(),
        r#"active co "t""#.into(),
        r#"active eq "yes""#.into(),
        "userName eq 5".into(),
        r#"meta.created gt "yesterday""#.into(),
        r#"name eq "x""#.into(),
        r#"userName[value eq "x"]"#.into(),
        r#"emails[foo eq "x"]"#.into(),
        "nickName pr".into(),
        r#"urn:ietf:params:scim:schemas:core:2.0:User:department eq "x""#.into(),
        r#"urn:example:custom:User:foo eq "x""#.into(),
        "name.nope pr".into(),
        "userName lt null".into(),
        "emails.primary co true".into(),
    ];
    for s in &bad {
        let e = Filter::parse(s).expect_err(s);
        let scim: ScimError = e.into();
        assert_eq!(scim.status, 400, "{s}");
        assert_eq!(scim.scim_type, Some("invalidFilter"), "{s}");
        assert!(!scim.detail.is_empty());
    }
}

#[test]
fn limits() {
    let ok = format!(
        "{}userName pr{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(Filter::parse(&ok).is_ok());
    let deep = format!(
        "{}userName pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        Filter::parse(&deep),
        Err(FilterError::TooDeep { max: MAX_DEPTH })
    );
    let nots = format!(
        "{}userName pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        Filter::parse(&nots),
        Err(FilterError::TooDeep { .. })
    ));
    // Deep nesting far beyond the limit is refused without exhausting the stack.
    let very_deep = "(".repeat(4000);
    assert!(Filter::parse(&very_deep).is_err());
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
    assert_eq!(
        Filter::parse(&long),
        Err(FilterError::TooLong {
            max: MAX_FILTER_LEN
        })
    );
    let many = vec!["active pr"; 200].join(" or ");
    assert!(matches!(
        Filter::parse(&many),
        Err(FilterError::TooComplex { .. })
    ));
    let fine = vec!["active pr"; 50].join(" or ");
    assert!(Filter::parse(&fine).is_ok());
}

#[test]
fn display_round_trips() {
    for s in [
        r#"userName eq "a\"b""#,
        "userName pr or displayName pr and active eq true",
        "(userName pr or displayName pr) and not (active eq false)",
        r#"emails[type eq "work" and value co "@x"] and userName sw "b""#,
        r#"userName pr and (displayName pr and active pr)"#,
        r#"userName pr or (displayName pr or active pr)"#,
    ] {
        let f = p(s);
        assert_eq!(p(&f.to_string()), f, "{s} -> {f}");
    }
}

// ----- PATCH paths -----------------------------------------------------------------------

#[test]
fn patch_paths() {
    let pp = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(pp.attr, AttrPath::new("emails", None));
    assert_eq!(pp.sub.as_deref(), Some("value"));
    assert!(pp.filter.is_some());
    let pp = parse_patch_path(&format!("{ENT}:manager")).unwrap();
    assert_eq!(pp.attr.urn.as_deref(), Some(ENT));
    assert_eq!(pp.attr.name, "manager");
    let pp = parse_patch_path("name.givenName").unwrap();
    assert_eq!(pp.attr, AttrPath::new("name", Some("givenName")));
    for bad in [
        "",
        "emails[",
        r#"emails[type eq "work"]value"#,
        r#"emails[type eq "work"].value.x"#,
        r#"emails[type eq "work"] and"#,
        r#"name.givenName[value pr]"#,
        "a b",
    ] {
        assert!(parse_patch_path(bad).is_err(), "{bad}");
    }
}

// ----- evaluation ------------------------------------------------------------------------

#[test]
fn case_exact_is_honoured() {
    // userName: caseExact false
    assert!(m(r#"userName eq "bjensen@example.com""#));
    assert!(m(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
    // externalId and id: caseExact true
    assert!(m(r#"externalId eq "ExtID-123""#));
    assert!(!m(r#"externalId eq "extid-123""#));
    assert!(m(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    // emails.value: caseExact false
    assert!(m(r#"emails.value eq "BJENSEN@example.COM""#));
    // schemas: caseExact
    assert!(m(&format!(r#"schemas eq "{ENT}""#)));
    assert!(!m(&format!(r#"schemas eq "{}""#, ENT.to_uppercase())));
}

#[test]
fn string_operators() {
    assert!(m(r#"userName sw "bJ""#));
    assert!(m(r#"userName ew ".COM""#));
    assert!(m(r#"userName co "@example""#));
    assert!(!m(r#"userName co "nope""#));
    assert!(m(r#"name.familyName co "jens""#));
    assert!(m(r#"displayName gt "A""#));
    assert!(m(r#"displayName gt "a""#), "ordering folds case");
    assert!(m(r#"displayName lt "c""#));
    assert!(m(r#"displayName ge "babs jensen""#));
    assert!(m(r#"displayName le "babs jensen""#));
    assert!(!m(r#"displayName gt "babs jensen""#));
}

#[test]
fn multi_valued_any_semantics_and_value_paths() {
    assert!(m(r#"emails.type eq "home""#));
    assert!(
        m(r#"emails co "jensen.org""#),
        "complex attr compares 'value'"
    );
    assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
    // Same element required inside brackets, not across elements.
    assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
    assert!(m(
        r#"emails.type eq "home" and emails.value co "@example.com""#
    ));
    assert!(m(r#"emails[primary eq true]"#));
    assert!(m(r#"emails[not (primary eq true)]"#));
    assert!(!m(r#"phoneNumbers[type eq "mobile"]"#));
    assert!(m(r#"phoneNumbers[type eq "work" and value sw "555"]"#));
}

#[test]
fn ne_is_negated_eq_and_null() {
    assert!(!m(r#"emails.value ne "bjensen@example.com""#));
    assert!(m(r#"emails.value ne "nobody@example.com""#));
    assert!(m(r#"userName ne "other""#));
    let bare = json!({"userName": "u"});
    assert!(p(r#"emails.value ne "x""#).matches(&bare).unwrap());
    assert!(p("name.middleName eq null").matches(&user()).unwrap());
    assert!(p("displayName ne null").matches(&user()).unwrap());
    assert!(!p("displayName eq null").matches(&user()).unwrap());
}

#[test]
fn present() {
    assert!(m("emails pr"));
    assert!(m("name pr"));
    assert!(m("name.givenName pr"));
    assert!(!m("name.middleName pr"));
    assert!(m(&format!("{ENT}:manager pr")));
    assert!(m("meta.created pr"));
    let u = json!({"userName": "u", "displayName": "", "emails": [], "name": {"givenName": null}});
    for f in ["displayName pr", "emails pr", "name pr", "phoneNumbers pr"] {
        assert!(!p(f).matches(&u).unwrap(), "{f}");
    }
}

#[test]
fn booleans() {
    assert!(m("active eq true"));
    assert!(!m("active eq false"));
    assert!(m("active ne false"));
    assert!(m(r#"active eq "True""#), "string booleans are accepted");
    let disabled = json!({"userName": "x", "active": false});
    assert!(p("active eq false").matches(&disabled).unwrap());
    assert!(p(r#"userName eq "X""#).matches(&disabled).unwrap());
}

#[test]
fn date_times() {
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(!m(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
    assert!(m(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
    assert!(
        m(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#),
        "instants"
    );
    assert!(m(r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#));
    assert!(m(r#"meta.created le "2010-01-23T04:56:22Z""#));
    assert!(!m(r#"meta.created lt "2010-01-23T04:56:22Z""#));
    assert!(m(r#"meta.created sw "2010-""#));
}

#[test]
fn enterprise_attributes() {
    assert!(m(&format!(r#"{ENT}:employeeNumber eq "701984""#)));
    assert!(m(r#"employeeNumber eq "701984""#));
    assert!(m(r#"department co "tour""#));
    assert!(m(&format!(
        r#"{ENT}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    )));
    assert!(m(r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#));
    assert!(m(r#"manager.displayName eq "john smith""#));
}

#[test]
fn precedence_changes_results() {
    // true or (false and false) = true; (true or false) and false would be false.
    assert!(m(
        r#"userName eq "bjensen@example.com" or displayName eq "x" and active eq false"#
    ));
    assert!(!m(
        r#"(userName eq "bjensen@example.com" or displayName eq "x") and active eq false"#
    ));
    assert!(m(r#"not (userName eq "x") and active eq true"#));
    assert!(!m(r#"not (userName eq "x" or active eq true)"#));
}

#[test]
fn unevaluable_hand_built_filters_are_errors() {
    let unknown = Filter::Present(AttrPath::new("nickName", None));
    assert!(unknown.matches(&user()).is_err());
    let mismatch = Filter::Compare {
        path: AttrPath::new("userName", None),
        op: CompareOp::Gt,
        value: CompValue::Bool(true),
    };
    assert!(mismatch.matches(&user()).is_err());
    let nested = Filter::ValuePath {
        path: AttrPath::new("emails", None),
        filter: Box::new(Filter::ValuePath {
            path: AttrPath::new("emails", None),
            filter: Box::new(pr("value", None)),
        }),
    };
    assert!(nested.matches(&user()).is_err());
}

#[test]
fn odd_resource_shapes_do_not_match_or_panic() {
    let weird = json!({"userName": 5, "emails": "x", "name": [1, 2], "active": "maybe",
        "meta": {"created": "not a date"}});
    for f in [
        r#"userName eq "5""#,
        r#"emails.value eq "x""#,
        "name.givenName pr",
        "active eq true",
        r#"meta.created gt "2010-01-01T00:00:00Z""#,
        r#"emails[value eq "x"]"#,
    ] {
        assert!(!p(f).matches(&weird).unwrap(), "{f}");
    }
    assert!(!p("userName pr").matches(&json!(null)).unwrap());
}

// ----- key lookups -----------------------------------------------------------------------

fn kl(s: &str) -> Option<KeyLookup> {
    key_lookup(&p(s))
}

#[test]
fn key_lookup_shapes() {
    assert_eq!(
        kl(r#"userName eq "x""#),
        Some(KeyLookup {
            key: LookupKey::UserName("x".into()),
            residual: None
        })
    );
    assert_eq!(
        kl(r#"USERNAME EQ "Bob@X""#).map(|k| k.key),
        Some(LookupKey::UserName("Bob@X".into()))
    );
    assert_eq!(
        kl(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#).map(|k| k.key),
        Some(LookupKey::UserName("x".into()))
    );
    // Entra Test Connection: a random GUID, expected to find nothing (by key).
    assert_eq!(
        kl(r#"userName eq "c0e1d2f3-0000-4a4a-9c9c-123456789abc""#).map(|k| k.key),
        Some(LookupKey::UserName(
            "c0e1d2f3-0000-4a4a-9c9c-123456789abc".into()
        ))
    );
    let k = kl(r#"externalId eq "E1""#).unwrap();
    assert_eq!(k.key, LookupKey::ExternalId("E1".into()));
    assert!(k.key.case_exact());
    assert!(!LookupKey::Email("a".into()).case_exact());
    for s in [
        r#"emails.value eq "a@x""#,
        r#"emails[value eq "a@x"]"#,
        r#"emails eq "a@x""#,
    ] {
        assert_eq!(
            kl(s),
            Some(KeyLookup {
                key: LookupKey::Email("a@x".into()),
                residual: None
            }),
            "{s}"
        );
    }
}

#[test]
fn key_lookup_with_residual() {
    let k = kl(r#"userName eq "x" and active eq true"#).unwrap();
    assert_eq!(k.key, LookupKey::UserName("x".into()));
    assert_eq!(k.residual, Some(p("active eq true")));

    let k = kl(r#"active eq true and externalId eq "e""#).unwrap();
    assert_eq!(k.key, LookupKey::ExternalId("e".into()));
    assert_eq!(k.residual, Some(p("active eq true")));

    // userName preferred over externalId; the other stays as residual.
    let k = kl(r#"externalId eq "e" and userName eq "u""#).unwrap();
    assert_eq!(k.key, LookupKey::UserName("u".into()));
    assert_eq!(k.residual, Some(p(r#"externalId eq "e""#)));

    // A value path with more terms is kept whole as residual (same-element semantics).
    let k = kl(r#"emails[value eq "a@x" and type eq "work"]"#).unwrap();
    assert_eq!(k.key, LookupKey::Email("a@x".into()));
    assert_eq!(
        k.residual,
        Some(p(r#"emails[value eq "a@x" and type eq "work"]"#))
    );

    let k = kl(r#"(userName eq "x" and active eq true) and displayName pr"#).unwrap();
    assert_eq!(k.key, LookupKey::UserName("x".into()));
    assert_eq!(k.residual, Some(p("active eq true and displayName pr")));

    // Lookup + residual evaluated on the candidate equals the full filter.
    let full = p(r#"userName eq "bjensen@example.com" and displayName sw "Babs""#);
    let k = key_lookup(&full).unwrap();
    assert!(k.residual.unwrap().matches(&user()).unwrap());
}

#[test]
fn scans_are_not_key_lookups() {
    for s in [
        r#"userName eq "x" or userName eq "y""#,
        r#"userName co "x""#,
        r#"userName ne "x""#,
        r#"not (userName eq "x")"#,
        r#"displayName eq "x""#,
        r#"emails.type eq "work""#,
        r#"emails[type eq "work"]"#,
        r#"emails[value co "x"]"#,
        r#"employeeNumber eq "1""#,
        "userName pr",
        r#"(userName eq "x" or active eq true) and displayName pr"#,
    ] {
        assert_eq!(kl(s), None, "{s}");
    }
}

/// Entra's non-RFC `emails[type eq "work"].value eq "x"` (sent when email is the matching
/// attribute) means `emails[type eq "work" and value eq "x"]`, and is answered by an email key.
#[test]
fn entra_email_value_path_with_trailing_sub_attribute() {
    let f = Filter::parse(r#"emails[type eq "work"].value eq "Ada@Example.com""#).unwrap();
    let same = Filter::parse(r#"emails[type eq "work" and value eq "Ada@Example.com"]"#).unwrap();
    assert_eq!(f, same);
    let lookup = rollcall_scim::key_lookup(&f).expect("answered by key");
    assert_eq!(
        lookup.key,
        rollcall_scim::LookupKey::Email("Ada@Example.com".into())
    );
    let work = serde_json::json!({"emails": [{"type": "work", "value": "ada@example.com"}]});
    let home = serde_json::json!({"emails": [{"type": "home", "value": "ada@example.com"}]});
    assert!(f.matches(&work).unwrap());
    assert!(!f.matches(&home).unwrap());
    assert!(Filter::parse(r#"emails[type eq "work"].nope eq "x""#).is_err());
}
