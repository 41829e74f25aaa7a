//! POST/PUT normalization and attribute projection.

use rollcall_scim::resource::{MAX_MULTI_VALUES, MAX_STRING_LEN, list_response, refresh_schemas};
use rollcall_scim::{Projection, normalize_user};
use serde_json::{Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn invalid_value(body: Value) {
    let e = normalize_user(&body).expect_err(&body.to_string());
    assert_eq!(e.status, 400, "{body}");
    assert_eq!(e.scim_type, Some("invalidValue"), "{body}");
}

#[test]
fn okta_create_body() {
    let body = json!({
        "schemas": [CORE],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    assert_eq!(
        normalize_user(&body).unwrap(),
        json!({
            "schemas": [CORE],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        })
    );
}

#[test]
fn entra_create_body_with_meta_nulls_and_extension() {
    let body = json!({
        "schemas": [CORE, ENT],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": "True",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "id": "client-chosen",
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName", "middleName": null},
        "roles": [],
        "title": null,
        "displayName": null,
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}, null],
        ENT: {"employeeNumber": "1234", "department": null, "costCenter": "x",
              "manager": [{"$ref": null, "value": "m-1"}]}
    });
    assert_eq!(
        normalize_user(&body).unwrap(),
        json!({
            "schemas": [CORE, ENT],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@testuser.com",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
            ENT: {"employeeNumber": "1234", "manager": {"value": "m-1"}}
        })
    );
}

#[test]
fn canonical_names_and_lenient_shapes() {
    let out = normalize_user(&json!({
        "USERNAME": "u",
        "Name": {"GIVENNAME": "g", "unknownSub": "x"},
        "Emails": {"Value": "a@x.test", "Primary": "true"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "D",
        "urn:example:custom:1.0:User": {"foo": 1},
        "displayName": ""
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [CORE, ENT],
            "userName": "u",
            "name": {"givenName": "g"},
            "emails": [{"value": "a@x.test", "primary": true}],
            ENT: {"department": "D"}
        })
    );
    let out = normalize_user(&json!({
        "userName": "u",
        "emails": [
            {"value": "a@x.test", "primary": true},
            {"value": "b@x.test", "primary": true}
        ],
        ENT: {"manager": "m-2"}
    }))
    .unwrap();
    assert_eq!(out["emails"][1]["primary"], false, "one primary at most");
    assert_eq!(out[ENT]["manager"], json!({"value": "m-2"}));
}

#[test]
fn required_and_type_errors() {
    invalid_value(json!({}));
    invalid_value(json!({"userName": "   "}));
    invalid_value(json!({"userName": null}));
    invalid_value(json!({"userName": 5}));
    invalid_value(json!({"userName": "u", "active": 1}));
    invalid_value(json!({"userName": "u", "active": "yes"}));
    invalid_value(json!({"userName": "u", "emails": [5]}));
    invalid_value(json!({"userName": "u", "emails": [{"value": true}]}));
    invalid_value(json!({"userName": "u", "name": "Bob"}));
    invalid_value(json!({"userName": "u", "schemas": "x"}));
    invalid_value(json!({"userName": "u", ENT: "x"}));
    invalid_value(json!({"userName": "u", ENT: {"manager": [{"value": "a"}, {"value": "b"}]}}));
    invalid_value(json!({"userName": "x".repeat(MAX_STRING_LEN + 1)}));
    let many: Vec<Value> = (0..=MAX_MULTI_VALUES)
        .map(|i| json!({"value": format!("{i}@x.test")}))
        .collect();
    invalid_value(json!({"userName": "u", "emails": many}));
    let e = normalize_user(&json!([1])).unwrap_err();
    assert_eq!(e.scim_type, Some("invalidSyntax"));
}

fn stored() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "u-1",
        "externalId": "e-1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "emails": [{"value": "b@x.test", "type": "work", "primary": true}],
        "active": true,
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                 "lastModified": "2024-01-02T00:00:00Z", "location": "https://x/Users/u-1"},
        ENT: {"department": "D", "employeeNumber": "7", "manager": {"value": "m"}}
    })
}

fn project(a: Option<&str>, e: Option<&str>) -> Value {
    Projection::parse(a, e).unwrap().apply(&stored())
}

#[test]
fn attributes_projection_keeps_always_returned() {
    assert_eq!(
        project(Some("userName"), None),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen"})
    );
    assert_eq!(
        project(Some("displayName"), None),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen", "displayName": "Babs"})
    );
    assert_eq!(
        project(Some("name.givenName, EMAILS.value,active"), None),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen",
               "name": {"givenName": "Barbara"}, "emails": [{"value": "b@x.test"}], "active": true})
    );
    assert_eq!(
        project(Some(&format!("{ENT}:department,meta.lastModified")), None),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen",
               "meta": {"lastModified": "2024-01-02T00:00:00Z"}, ENT: {"department": "D"}})
    );
    assert_eq!(project(Some(ENT), None)[ENT], stored()[ENT]);
    assert_eq!(
        project(
            Some("urn:ietf:params:scim:schemas:core:2.0:User:name"),
            None
        )["name"],
        stored()["name"]
    );
    // Unknown names select nothing.
    assert_eq!(
        project(Some("nickName"), None),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen"})
    );
}

#[test]
fn excluded_attributes_projection() {
    let out = project(
        None,
        Some(&format!("emails,name.familyName,{ENT}:manager,id,userName")),
    );
    let mut expected = stored();
    let o = expected.as_object_mut().unwrap();
    o.remove("emails");
    o["name"] = json!({"givenName": "Barbara"});
    o[ENT] = json!({"department": "D", "employeeNumber": "7"});
    assert_eq!(out, expected, "id and userName cannot be excluded");
    let out = project(None, Some(ENT));
    assert!(out.get(ENT).is_none());
    // attributes wins over excludedAttributes.
    assert_eq!(
        project(Some("userName"), Some("userName")),
        json!({"schemas": [CORE, ENT], "id": "u-1", "userName": "bjensen"})
    );
    assert_eq!(project(None, None), stored());
    assert_eq!(project(Some(""), Some(" ")), stored());
    assert!(Projection::parse(Some("na me"), None).is_err());
    assert!(Projection::parse(Some("emails[type eq \"work\"]"), None).is_err());
}

#[test]
fn list_response_and_schemas_refresh() {
    let v = list_response(vec![json!({"id": "1"})], 7, 3);
    assert_eq!(v["totalResults"], 7);
    assert_eq!(v["startIndex"], 3);
    assert_eq!(v["itemsPerPage"], 1);
    assert!(v["totalResults"].is_u64());
    let mut r = json!({"userName": "u", "urn:IETF:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"}});
    refresh_schemas(&mut r);
    assert_eq!(r["schemas"], json!([CORE, ENT]));
    assert_eq!(r[ENT]["department"], "D");
    let mut r = json!({"userName": "u", ENT: {}});
    refresh_schemas(&mut r);
    assert_eq!(r, json!({"userName": "u", "schemas": [CORE]}));
}
