//! PATCH engine tests, with the payloads Okta and Microsoft Entra ID send.

use rollcall_scim::patch::{OpKind, PatchError, PatchRequest, apply_patch};
use rollcall_scim::{ScimError, normalize_user};
use serde_json::{Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "u-1",
        "externalId": "ext-1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                 "lastModified": "2024-01-01T00:00:00Z"},
        ENT: {"employeeNumber": "701984", "department": "Tours",
              "manager": {"value": "m-0", "$ref": "https://x/Users/m-0", "displayName": "Old Boss"}}
    })
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn ok(resource: &Value, body: Value) -> Value {
    apply_patch(resource, &body).unwrap_or_else(|e| panic!("{body}: {e:?}"))
}

fn err(resource: &Value, body: Value) -> PatchError {
    apply_patch(resource, &body).expect_err(&body.to_string())
}

// ----- Okta ------------------------------------------------------------------------------

#[test]
fn okta_deactivate_without_path() {
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "value": {"active": false}}])),
    );
    assert_eq!(out["active"], false);
    let mut expected = user();
    expected["active"] = json!(false);
    assert_eq!(out, expected, "nothing else changes");
    // Okta's documented minimal body has no schemas member.
    let out = ok(
        &user(),
        json!({"Operations": [{"op": "replace", "value": {"active": true}}]}),
    );
    assert_eq!(out["active"], true);
}

// ----- Entra ID --------------------------------------------------------------------------

#[test]
fn entra_capitalized_ops_and_string_booleans() {
    let out = ok(
        &user(),
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    );
    assert_eq!(out["active"], false);
    let out = ok(
        &out,
        ops(json!([{"op": "REPLACE", "path": "active", "value": "True"}])),
    );
    assert_eq!(out["active"], true);
    let e = err(
        &user(),
        ops(json!([{"op": "Replace", "path": "active", "value": "maybe"}])),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn entra_one_op_per_attribute() {
    // Shape of Microsoft's documented update request.
    let out = ok(
        &user(),
        ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "externalId", "value": "ext-2"},
            {"op": "Replace", "path": "displayName", "value": "Barbara J"}
        ])),
    );
    assert_eq!(
        out["emails"],
        json!([
            {"value": "updatedEmail@microsoft.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ]),
        "only the work email changes"
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Barbara", "familyName": "updatedFamilyName"})
    );
    assert_eq!(out["externalId"], "ext-2");
    assert_eq!(out["displayName"], "Barbara J");
}

#[test]
fn entra_add_on_value_path_without_match_creates_the_element() {
    let out = ok(
        &user(),
        ops(json!([
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0199"},
            {"op": "Add", "path": "emails[type eq \"other\"].value", "value": "o@x.test"}
        ])),
    );
    assert_eq!(
        out["phoneNumbers"],
        json!([
            {"type": "mobile", "value": "+1 555 0100"},
            {"type": "work", "value": "+1 555 0199"}
        ])
    );
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
    assert_eq!(
        out["emails"][2],
        json!({"type": "other", "value": "o@x.test"})
    );
    // A value path whose filter is not made of eq terms cannot create: noTarget.
    let e = err(
        &user(),
        ops(json!([{"op": "Replace", "path": "phoneNumbers[value co \"5\"].value", "value": "1"}])),
    );
    assert_eq!(e.scim_type, "noTarget");
}

#[test]
fn entra_no_path_replace_with_dotted_and_urn_keys() {
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "value": {
            "name.givenName": "Bobbie",
            "name.familyName": "Jensen-Smith",
            "emails[type eq \"work\"].value": "bobbie@example.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Bobbie J",
            "active": false
        }}])),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "Bobbie", "familyName": "Jensen-Smith"})
    );
    assert_eq!(out["emails"][0]["value"], "bobbie@example.com");
    assert_eq!(out["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(out[ENT]["employeeNumber"], "42");
    assert_eq!(out[ENT]["department"], "Sales");
    assert_eq!(out["displayName"], "Bobbie J");
    assert_eq!(out["active"], false);
}

#[test]
fn no_path_with_nested_objects() {
    let out = ok(
        &user(),
        ops(json!([{"op": "add", "value": {
            "name": {"givenName": "X"},
            ENT: {"department": "D", "employeeNumber": null}
        }}])),
    );
    assert_eq!(
        out["name"],
        json!({"givenName": "X", "familyName": "Jensen"}),
        "complex attributes merge"
    );
    assert_eq!(out[ENT]["department"], "D");
    assert!(out[ENT].get("employeeNumber").is_none(), "null unsets");
}

#[test]
fn entra_manager_shapes() {
    let path = format!("{ENT}:manager");
    // Array with $ref null, as Entra sends.
    let out = ok(
        &user(),
        ops(json!([{"op": "Add", "path": path, "value": [{"$ref": null, "value": "m-1"}]}])),
    );
    assert_eq!(
        out[ENT]["manager"],
        json!({"value": "m-1"}),
        "replaced whole: old $ref/displayName gone"
    );
    let out = ok(
        &user(),
        ops(json!([{"op": "Replace", "path": path, "value": "m-2"}])),
    );
    assert_eq!(out[ENT]["manager"], json!({"value": "m-2"}));
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": path, "value": {"value": "m-3", "displayName": "ignored"}}]),
        ),
    );
    assert_eq!(out[ENT]["manager"], json!({"value": "m-3"}));
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "path": format!("{path}.value"), "value": "m-4"}])),
    );
    assert_eq!(out[ENT]["manager"]["value"], "m-4");
    // Empty values remove it.
    for empty in [
        json!(""),
        json!({"value": ""}),
        json!([]),
        json!([{"value": ""}]),
        json!(null),
    ] {
        let out = ok(
            &user(),
            ops(json!([{"op": "Add", "path": path, "value": empty}])),
        );
        assert!(out[ENT].get("manager").is_none(), "{empty}");
        assert_eq!(out[ENT]["department"], "Tours");
    }
    let out = ok(
        &user(),
        ops(json!([{"op": "Remove", "path": path, "value": [{"value": "m-0"}]}])),
    );
    assert!(out[ENT].get("manager").is_none());
    // No-path form with a URN key.
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "value": {path.clone(): "m-5"}}])),
    );
    assert_eq!(out[ENT]["manager"], json!({"value": "m-5"}));
    // manager.displayName is readOnly.
    let e = err(
        &user(),
        ops(json!([{"op": "replace", "path": format!("{path}.displayName"), "value": "x"}])),
    );
    assert_eq!(e.scim_type, "mutability");
}

#[test]
fn remove_operations() {
    let out = ok(
        &user(),
        ops(json!([{"op": "Remove", "path": "name.givenName"}])),
    );
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    let out = ok(
        &out,
        ops(json!([{"op": "remove", "path": "name.familyName"}])),
    );
    assert!(
        out.get("name").is_none(),
        "empty complex attribute is unassigned"
    );

    let out = ok(
        &user(),
        ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );

    let out = ok(
        &user(),
        ops(json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}])),
    );
    assert_eq!(out["emails"].as_array().unwrap().len(), 1);
    assert_eq!(out["emails"][0]["type"], "work");

    let out = ok(
        &user(),
        ops(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}])),
    );
    assert_eq!(
        out["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );

    let out = ok(&user(), ops(json!([{"op": "remove", "path": "emails"}])));
    assert!(out.get("emails").is_none());

    let out = ok(
        &user(),
        ops(json!([{"op": "remove", "path": "displayName"}])),
    );
    assert!(out.get("displayName").is_none());

    // Removing something that is not there is a no-op.
    let out = ok(
        &user(),
        ops(
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"},
                   {"op": "remove", "path": "emails[type eq \"fax\"].value"}]),
        ),
    );
    assert_eq!(out, user());

    let e = err(&user(), ops(json!([{"op": "remove"}])));
    assert_eq!(e.scim_type, "noTarget");
}

#[test]
fn add_equals_replace_for_single_valued() {
    for op in ["add", "replace"] {
        let out = ok(
            &user(),
            ops(json!([{"op": op, "path": "displayName", "value": "New"}])),
        );
        assert_eq!(out["displayName"], "New");
        let out = ok(
            &user(),
            ops(json!([{"op": op, "path": "userName", "value": "NEW@example.com"}])),
        );
        assert_eq!(out["userName"], "NEW@example.com");
    }
}

#[test]
fn add_appends_to_multi_valued_and_replace_replaces() {
    let out = ok(
        &user(),
        ops(
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.test", "type": "other"}]}]),
        ),
    );
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
    // Adding an identical value does not duplicate it.
    let again = ok(
        &out,
        ops(
            json!([{"op": "add", "path": "emails", "value": {"value": "new@x.test", "type": "other"}}]),
        ),
    );
    assert_eq!(again["emails"].as_array().unwrap().len(), 3);
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.test", "primary": "True"}]}]),
        ),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "only@x.test", "primary": true}])
    );
}

#[test]
fn primary_moves() {
    let out = ok(
        &user(),
        ops(
            json!([{"op": "Replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        ),
    );
    assert_eq!(out["emails"][0]["primary"], false);
    assert_eq!(out["emails"][1]["primary"], true);
    let out = ok(
        &user(),
        ops(
            json!([{"op": "add", "path": "emails", "value": [{"value": "p@x.test", "primary": true}]}]),
        ),
    );
    let primaries: Vec<&Value> = out["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "p@x.test");
}

#[test]
fn read_only_attributes_are_refused() {
    for path in ["id", "meta", "meta.created", "ID"] {
        let e = err(
            &user(),
            ops(json!([{"op": "replace", "path": path, "value": "x"}])),
        );
        assert_eq!(e.scim_type, "mutability", "{path}");
        let e = err(&user(), ops(json!([{"op": "remove", "path": path}])));
        assert_eq!(e.scim_type, "mutability", "{path}");
    }
    let e = err(
        &user(),
        ops(json!([{"op": "replace", "value": {"id": "other", "active": false}}])),
    );
    assert_eq!(e.scim_type, "mutability");
    // Echoing the current id is harmless.
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "value": {"id": "u-1", "active": false}}])),
    );
    assert_eq!(out["id"], "u-1");
    let e: ScimError = e.into();
    assert_eq!(e.status, 400);
    assert_eq!(e.to_json()["scimType"], "mutability");
}

#[test]
fn unknown_attributes_are_invalid_path_and_rfc_ones_are_ignored() {
    for path in [
        "foo",
        "name.foo",
        "urn:example:custom:User:foo",
        "urn:ietf:params:scim:schemas:core:2.0:User:department",
        "emails[type eq \"work\"].foo",
    ] {
        let e = err(
            &user(),
            ops(json!([{"op": "replace", "path": path, "value": "x"}])),
        );
        assert_eq!(e.scim_type, "invalidPath", "{path}");
    }
    let e = err(
        &user(),
        ops(json!([{"op": "replace", "value": {"foo": "x"}}])),
    );
    assert_eq!(e.scim_type, "invalidPath");
    // RFC 7643 attributes not stored here (Entra maps title and addresses by default).
    let out = ok(
        &user(),
        ops(json!([
            {"op": "Replace", "path": "title", "value": "Boss"},
            {"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St"},
            {"op": "Replace", "path": "preferredLanguage", "value": "en"},
            {"op": "replace", "value": {"password": "secret", "locale": "en-US", "nickName": "B"}},
            {"op": "Add", "path": format!("{ENT}:costCenter"), "value": "4130"}
        ])),
    );
    assert_eq!(out, user());
}

#[test]
fn invalid_values_and_filters() {
    let cases = [
        (
            json!({"op": "replace", "path": "emails", "value": [{"value": 5}]}),
            "invalidValue",
        ),
        (
            json!({"op": "replace", "path": "userName", "value": 5}),
            "invalidValue",
        ),
        (
            json!({"op": "replace", "path": "userName", "value": ""}),
            "invalidValue",
        ),
        (json!({"op": "remove", "path": "userName"}), "invalidValue"),
        (
            json!({"op": "replace", "path": "name", "value": "x"}),
            "invalidValue",
        ),
        (
            json!({"op": "replace", "path": "displayName"}),
            "invalidValue",
        ),
        (json!({"op": "replace", "value": "x"}), "invalidValue"),
        (
            json!({"op": "replace", "path": "emails[foo eq \"x\"].value", "value": "x"}),
            "invalidFilter",
        ),
        (
            json!({"op": "replace", "path": "emails[type gt true].value", "value": "x"}),
            "invalidFilter",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "displayName[value eq \"x\"]", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": 5, "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "copy", "path": "displayName", "value": "x"}),
            "invalidSyntax",
        ),
        (
            json!({"path": "displayName", "value": "x"}),
            "invalidSyntax",
        ),
        (json!("replace"), "invalidSyntax"),
    ];
    for (op, expected) in cases {
        let e = err(&user(), ops(json!([op.clone()])));
        assert_eq!(e.scim_type, expected, "{op}");
    }
}

#[test]
fn request_envelope() {
    let e = err(&user(), json!([]));
    assert_eq!(e.scim_type, "invalidSyntax");
    let e = err(&user(), json!({"schemas": [CORE], "Operations": []}));
    assert_eq!(e.scim_type, "invalidSyntax");
    let e = err(&user(), json!({"schemas": [PATCH_OP]}));
    assert_eq!(e.scim_type, "invalidSyntax");
    let e = err(&user(), json!({"schemas": [PATCH_OP], "Operations": {}}));
    assert_eq!(e.scim_type, "invalidSyntax");
    // Member names are case-insensitive.
    let out = ok(
        &user(),
        json!({"Schemas": [PATCH_OP.to_uppercase()], "operations": [{"OP": "Replace", "Path": "displayName", "Value": "Z"}]}),
    );
    assert_eq!(out["displayName"], "Z");
    let req = PatchRequest::parse(&ops(
        json!([{"op": "Add", "path": " displayName ", "value": 1}]),
    ))
    .unwrap();
    assert_eq!(req.operations[0].op, OpKind::Add);
    assert_eq!(req.operations[0].path.as_deref(), Some("displayName"));
    // All or nothing: a failing later op fails the request.
    let e = err(
        &user(),
        ops(
            json!([{"op": "replace", "path": "displayName", "value": "Z"},
                   {"op": "replace", "path": "id", "value": "x"}]),
        ),
    );
    assert_eq!(e.scim_type, "mutability");
}

#[test]
fn schemas_are_recomputed() {
    let mut plain = user();
    plain.as_object_mut().unwrap().remove(ENT);
    plain["schemas"] = json!([CORE]);
    let out = ok(
        &plain,
        ops(json!([{"op": "add", "path": format!("{ENT}:department"), "value": "D"}])),
    );
    assert_eq!(out["schemas"], json!([CORE, ENT]));
    assert_eq!(out[ENT], json!({"department": "D"}));
    let out = ok(
        &out,
        ops(json!([{"op": "remove", "path": format!("{ENT}:department")}])),
    );
    assert_eq!(out["schemas"], json!([CORE]));
    assert!(out.get(ENT).is_none());
    // Ops on schemas are ignored.
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": "schemas", "value": ["urn:x"]},
                   {"op": "replace", "value": {"schemas": ["urn:x"]}}]),
        ),
    );
    assert_eq!(out["schemas"], json!([CORE, ENT]));
}

#[test]
fn schema_urn_paths() {
    let out = ok(
        &user(),
        ops(json!([{"op": "add", "path": ENT, "value": {"department": "X", "manager": "m-9"}}])),
    );
    assert_eq!(out[ENT]["department"], "X");
    assert_eq!(out[ENT]["manager"], json!({"value": "m-9"}));
    assert_eq!(out[ENT]["employeeNumber"], "701984");
    let out = ok(&user(), ops(json!([{"op": "remove", "path": ENT}])));
    assert!(out.get(ENT).is_none());
    assert_eq!(out["schemas"], json!([CORE]));
}

#[test]
fn paths_are_case_insensitive_and_urn_qualified() {
    let out = ok(
        &user(),
        ops(json!([
            {"op": "replace", "path": "Name.GivenName", "value": "Z"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "D"},
            {"op": "replace", "path": "EMAILS[TYPE EQ \"WORK\"].VALUE", "value": "w@x.test"},
            {"op": "replace", "path": format!("{}:EmployeeNumber", ENT.to_lowercase()), "value": "7"}
        ])),
    );
    assert_eq!(out["name"]["givenName"], "Z");
    assert_eq!(out["displayName"], "D");
    assert_eq!(out["emails"][0]["value"], "w@x.test");
    assert_eq!(out[ENT]["employeeNumber"], "7");
}

#[test]
fn value_path_without_sub_merges_into_matches() {
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.test"}}]),
        ),
    );
    assert_eq!(
        out["emails"][1],
        json!({"value": "h@x.test", "type": "home"})
    );
    let out = ok(
        &user(),
        ops(
            json!([{"op": "add", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.test"}}]),
        ),
    );
    assert_eq!(
        out["emails"][2],
        json!({"type": "other", "value": "o@x.test"})
    );
}

#[test]
fn patch_result_of_normalized_post_is_stable() {
    // A POSTed Okta user, then the Okta deactivation.
    let created = normalize_user(&json!({
        "schemas": [CORE], "userName": "okta.user@example.com",
        "name": {"givenName": "Okta", "familyName": "User"},
        "emails": [{"primary": true, "value": "okta.user@example.com", "type": "work"}],
        "displayName": "Okta User", "locale": "en-US", "externalId": "00u1",
        "groups": [], "password": "pw", "active": true
    }))
    .unwrap();
    let out = ok(
        &created,
        ops(json!([{"op": "replace", "value": {"active": false}}])),
    );
    assert_eq!(out["active"], false);
    assert_eq!(out["userName"], "okta.user@example.com");
    assert_eq!(out["schemas"], json!([CORE]));
}

#[test]
fn empty_sub_values_unset_when_merging() {
    let out = ok(
        &user(),
        ops(json!([{"op": "add", "value": {"name": {"givenName": null, "middleName": "M"}}}])),
    );
    assert_eq!(
        out["name"],
        json!({"familyName": "Jensen", "middleName": "M"})
    );
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"primary": null}}]),
        ),
    );
    assert_eq!(
        out["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "path": "name", "value": null}])),
    );
    assert!(out.get("name").is_none());
    let out = ok(
        &user(),
        ops(
            json!([{"op": "replace", "path": "name", "value": {"givenName": "", "familyName": ""}}]),
        ),
    );
    assert!(out.get("name").is_none());
    // A value path add with nothing to write creates nothing.
    let out = ok(
        &user(),
        ops(json!([{"op": "add", "path": "phoneNumbers[type eq \"fax\"]", "value": {}}])),
    );
    assert!(out.get("phoneNumbers").is_none());
}

#[test]
fn extension_value_object_may_carry_its_schemas_member() {
    // scim2-models (scim2-tester) serializes the extension value as a resource, with `schemas`.
    for op in ["add", "replace"] {
        let out = ok(
            &user(),
            ops(json!([{"op": op, "path": ENT, "value": {
                "schemas": [ENT],
                "employeeNumber": "42",
                "department": "R&D"
            }}])),
        );
        assert_eq!(out[ENT]["employeeNumber"], "42", "{op}");
        assert_eq!(out[ENT]["department"], "R&D", "{op}");
        assert!(out[ENT].get("schemas").is_none(), "{op}: {out}");
    }
    // The same object as a no-path value keyed by the extension URN.
    let out = ok(
        &user(),
        ops(json!([{"op": "replace", "value": {ENT: {"schemas": [ENT], "department": "Ops"}}}])),
    );
    assert_eq!(out[ENT]["department"], "Ops");
}
