//! SCIM 2.0 over HTTP, on the embedded store and on DynamoDB (moto): the request sequences Okta
//! and Microsoft Entra ID send (per the providers' documentation, see shared/research/scim.md),
//! and what SCIM does to memberships: source `scim` with the org's `scim_default_assignments`,
//! `active` ⇔ suspended (the member's own calls are refused), DELETE hands pools over, a pending
//! invitation is accepted by the provisioning, and invited members are visible over SCIM.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, ScimOrgSetup, TestServer, emulator_endpoint, url_encode};
use serde_json::{Value, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::start(Backend::Embedded).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start(Backend::Emulated { endpoint }).await);
    }
    v
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// `GET /Users?filter=…&startIndex=1&count=100` as Okta sends it.
async fn lookup(s: &TestServer, token: &str, filter: &str) -> Value {
    let r = s
        .scim(
            Method::GET,
            &format!(
                "/Users?filter={}&startIndex=1&count=100",
                url_encode(filter)
            ),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
    assert_eq!(r.body["schemas"], json!([LIST]), "{}", r.body);
    for k in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(r.body[k].is_u64(), "{k} is a JSON integer: {}", r.body);
    }
    assert!(
        r.body["Resources"].is_array(),
        "Resources present: {}",
        r.body
    );
    r.body
}

/// The member as `GET /orgs/{org}/users/{usr}` shows it to the org's manager.
async fn member(s: &TestServer, t: &ScimOrgSetup, user: &str) -> (StatusCode, Value) {
    s.call(
        Method::GET,
        &format!("/orgs/{}/users/{user}", t.org),
        Some(&t.manager),
        None,
    )
    .await
}

async fn scim_ok(
    s: &TestServer,
    t: &ScimOrgSetup,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let r = s
        .scim(method.clone(), path, Some(&t.scim_token), body)
        .await;
    assert!(
        r.status.is_success(),
        "{method} {path} → {}: {}",
        r.status,
        r.body
    );
    r.body
}

#[tokio::test]
async fn okta_create_deactivate_update_reactivate() {
    for s in servers().await {
        let t = s.scim_org("owner@okta.test", "Okta Org").await;
        let tok = t.scim_token.as_str();
        // 1. Does the user exist? An empty ListResponse.
        let none = lookup(&s, tok, r#"userName eq "dana.okta@okta.test""#).await;
        assert_eq!(none["totalResults"], 0, "{none}");
        assert_eq!(none["Resources"], json!([]), "{none}");
        // 2. Create, with what Okta sends (password, groups, locale) and application/json.
        let body = json!({
            "schemas": [CORE],
            "userName": "dana.okta@okta.test",
            "name": {"givenName": "Dana", "familyName": "Okta"},
            "emails": [{"primary": true, "value": "dana.okta@okta.test", "type": "work"}],
            "displayName": "Dana Okta",
            "locale": "en-US",
            "externalId": "00u1dana",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        let r = s
            .scim_raw(
                Method::POST,
                "/Users",
                Some(tok),
                Some((body.to_string().into_bytes(), "application/json")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let created = r.body.clone();
        let uid = id(&created);
        assert!(uid.starts_with("usr_"), "{created}");
        assert_eq!(r.header("location"), created["meta"]["location"]);
        assert_eq!(created["meta"]["resourceType"], "User");
        assert!(
            created["meta"]["created"].is_string() && created["meta"]["lastModified"].is_string()
        );
        assert_eq!(created["userName"], "dana.okta@okta.test");
        assert_eq!(created["externalId"], "00u1dana");
        assert_eq!(created["active"], true);
        assert!(
            created.get("password").is_none(),
            "never returned: {created}"
        );
        // Okta's test plan: the lookup with an upper-cased userName finds it; a second POST is 409.
        let found = lookup(&s, tok, r#"userName eq "DANA.OKTA@OKTA.TEST""#).await;
        assert_eq!(found["totalResults"], 1, "{found}");
        assert_eq!(found["Resources"][0]["id"], json!(uid));
        let dup = s.scim(Method::POST, "/Users", Some(tok), Some(body)).await;
        assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
        assert_eq!(dup.body["scimType"], "uniqueness");
        // 3. Deactivate: PATCH without path.
        let path = format!("/Users/{uid}");
        let off = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "value": {"active": false}}]})),
        )
        .await;
        assert_eq!(off["active"], false, "{off}");
        assert_eq!(off["displayName"], "Dana Okta", "nothing else changed");
        let (_, m) = member(&s, &t, &uid).await;
        assert_eq!(m["status"], "suspended", "{m}");
        // A disabled user still comes back from GET and from filters.
        let got = scim_ok(&s, &t, Method::GET, &path, None).await;
        assert_eq!(got["active"], false);
        let found = lookup(&s, tok, r#"userName eq "dana.okta@okta.test""#).await;
        assert_eq!(found["Resources"][0]["active"], false, "{found}");
        // 4. Profile update: GET, then a full PUT (Okta's PUT carries no externalId).
        let mut put = got.clone();
        put.as_object_mut().unwrap().remove("externalId");
        put["name"] = json!({"givenName": "Dana", "familyName": "Renamed"});
        put["displayName"] = json!("Dana Renamed");
        put["phoneNumbers"] = json!([{"value": "+1 555 0100", "type": "mobile", "primary": true}]);
        let replaced = scim_ok(&s, &t, Method::PUT, &path, Some(put)).await;
        assert_eq!(replaced["displayName"], "Dana Renamed");
        assert_eq!(replaced["externalId"], "00u1dana", "kept when omitted");
        assert_eq!(replaced["active"], false);
        let (_, m) = member(&s, &t, &uid).await;
        assert_eq!(m["name"], "Dana Renamed", "{m}");
        assert_eq!(m["phone"], "+1 555 0100", "{m}");
        assert_eq!(m["external_id"], "00u1dana", "{m}");
        // 5. Reactivate.
        let on = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "value": {"active": true}}]})),
        )
        .await;
        assert_eq!(on["active"], true);
        let (_, m) = member(&s, &t, &uid).await;
        assert_eq!(m["status"], "active", "{m}");
        // Import: the user is on the first page of 100.
        let all = lookup(&s, tok, r#"userName pr"#).await;
        assert_eq!(all["totalResults"], 2, "owner and Dana: {all}");
    }
}

#[tokio::test]
async fn entra_provisioning_cycle() {
    for s in servers().await {
        let t = s.scim_org("owner@entra.test", "Entra Org").await;
        let tok = t.scim_token.as_str();
        // Test Connection: a random GUID matches nothing; /Schemas is served.
        let guid = uuid::Uuid::now_v7().hyphenated().to_string();
        for f in [
            format!("userName eq \"{guid}\""),
            format!("externalId eq \"{guid}\""),
        ] {
            let r = lookup(&s, tok, &f).await;
            assert_eq!(r["totalResults"], 0, "{r}");
        }
        let schemas = scim_ok(&s, &t, Method::GET, "/Schemas", None).await;
        assert!(schemas.to_string().contains(ENT), "{schemas}");
        // The manager, then the user, as Entra creates them (meta, explicit nulls, extension).
        let boss = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "boss@contoso.test", "externalId": "boss-oid",
                "active": true, "emails": [{"primary": true, "type": "work", "value": "boss@contoso.test"}]})),
        )
        .await;
        let body = json!({
            "schemas": [CORE, ENT],
            "externalId": "3f5a-entra-oid",
            "userName": "Erin.Entra@contoso.test",
            "active": true,
            "displayName": "Erin Entra",
            "title": null,
            "preferredLanguage": null,
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Erin Entra", "familyName": "Entra", "givenName": "Erin"},
            "emails": [{"primary": true, "type": "work", "value": "erin.entra@contoso.test"}],
            "phoneNumbers": null,
            ENT: {"department": "Finance", "employeeNumber": null}
        });
        let created = scim_ok(&s, &t, Method::POST, "/Users", Some(body)).await;
        let uid = id(&created);
        assert_eq!(created[ENT]["department"], "Finance", "{created}");
        assert!(created.get("title").is_none_or(Value::is_null), "{created}");
        // Entra looks users up by externalId too.
        let found = lookup(&s, tok, r#"externalId eq "3f5a-entra-oid""#).await;
        assert_eq!(found["Resources"][0]["id"], json!(uid), "{found}");
        let path = format!("/Users/{uid}");
        // Default PATCH shape: capitalized ops, one per attribute, value paths, string booleans.
        let out = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(patch(json!([
                {"op": "Replace", "path": "displayName", "value": "Erin Renamed"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "erin.renamed@contoso.test"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0123"},
                {"op": "Add", "path": format!("{ENT}:manager"), "value": id(&boss)},
                {"op": "Replace", "path": "active", "value": "False"}
            ]))),
        )
        .await;
        assert_eq!(out["displayName"], "Erin Renamed", "{out}");
        assert_eq!(
            out["emails"],
            json!([{"primary": true, "type": "work", "value": "erin.renamed@contoso.test"}])
        );
        assert_eq!(
            out["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555 0123"}]),
            "Add on a value path without match creates the element"
        );
        assert_eq!(
            out[ENT]["manager"]["value"],
            json!(id(&boss)),
            "manager as a string"
        );
        assert_eq!(out[ENT]["department"], "Finance", "untouched");
        assert_eq!(out["active"], false, "\"False\" is false");
        let (_, m) = member(&s, &t, &uid).await;
        assert_eq!(m["status"], "suspended", "{m}");
        assert_eq!(m["email"], "erin.renamed@contoso.test", "{m}");
        assert_eq!(m["name"], "Erin Renamed", "{m}");
        assert_eq!(m["phone"], "+1 555 0123", "{m}");
        // A disabled user still matches Entra's lookups.
        let found = lookup(&s, tok, r#"userName eq "erin.entra@contoso.test""#).await;
        assert_eq!(found["totalResults"], 1, "{found}");
        // Newer behaviour: no-path Replace with dotted and URN keys.
        let out = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "Replace", "value": {
                "name.givenName": "Eri",
                format!("{ENT}:employeeNumber"): "E-42",
                format!("{CORE}:displayName"): "Eri Entra",
                "active": true
            }}]))),
        )
        .await;
        assert_eq!(out["name"]["givenName"], "Eri", "{out}");
        assert_eq!(out["name"]["familyName"], "Entra", "merged: {out}");
        assert_eq!(out[ENT]["employeeNumber"], "E-42");
        assert_eq!(out["displayName"], "Eri Entra");
        assert_eq!(out["active"], true);
        // Removing values: the mobile phone, then the manager (by an empty value).
        let out = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(patch(json!([
                {"op": "Remove", "path": "phoneNumbers[type eq \"mobile\"]"},
                {"op": "Add", "path": format!("{ENT}:manager"), "value": [{"$ref": null, "value": ""}]}
            ]))),
        )
        .await;
        assert!(out.get("phoneNumbers").is_none(), "{out}");
        assert!(out[ENT].get("manager").is_none(), "{out}");
        assert_eq!(out[ENT]["employeeNumber"], "E-42", "{out}");
        let (_, m) = member(&s, &t, &uid).await;
        assert!(m["phone"].is_null(), "{m}");
        assert_eq!(m["status"], "active", "{m}");
        // What was written is what GET returns.
        let got = scim_ok(&s, &t, Method::GET, &path, None).await;
        assert_eq!(got, out);
        // Deprovisioning: DELETE, then 404.
        let r = s.scim(Method::DELETE, &path, Some(tok), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r = s.scim(Method::GET, &path, Some(tok), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let (st, _) = member(&s, &t, &uid).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn scim_users_are_members_with_the_default_assignments() {
    for s in servers().await {
        let t = s.scim_org("owner@mapping.test", "Mapping").await;
        let (st, me) = s.call(Method::GET, "/me", Some(&t.manager), None).await;
        assert_eq!(st, StatusCode::OK, "{me}");
        let owner_id = me["user"]["id"].as_str().unwrap().to_owned();
        let (st, pool) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/pools", t.org),
                Some(&t.manager),
                Some(json!({"name": "Platform"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{pool}");
        let pool_id = id(&pool);
        let defaults = json!([{"role": "engineer", "pool_id": pool_id}]);
        let (st, org) = s
            .call(
                Method::PATCH,
                &format!("/orgs/{}", t.org),
                Some(&t.manager),
                Some(json!({"settings": {"scim_default_assignments": defaults}})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{org}");

        // Provisioned: a member with source scim and the default assignments.
        let email = "frank@mapping.test";
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [CORE], "userName": "frank", "displayName": "Frank",
                "externalId": "ext-frank",
                "emails": [{"value": "other@mapping.test", "type": "home"},
                           {"value": email, "type": "work", "primary": true}]}),
            ),
        )
        .await;
        let uid = id(&created);
        let (_, list) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        let m = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == json!(uid))
            .unwrap_or_else(|| panic!("not listed: {list}"))
            .clone();
        assert_eq!(m["source"], "scim", "{m}");
        assert_eq!(m["status"], "active", "{m}");
        assert_eq!(m["email"], email, "the primary email: {m}");
        assert_eq!(m["name"], "Frank", "{m}");
        assert_eq!(m["external_id"], "ext-frank", "{m}");
        assert_eq!(m["assignments"], defaults, "{m}");

        // Their own sign-in reaches the org; active:false suspends them, active:true restores.
        let frank = s.token(email, Some("Frank"), true);
        let org_path = format!("/orgs/{}", t.org);
        let (st, body) = s.call(Method::GET, &org_path, Some(&frank), None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        // Frank's account is a fresh user: the organization now sees the member under the
        // account's id, its identity provider still under the SCIM id it was given.
        let (_, me) = s.call(Method::GET, "/me", Some(&frank), None).await;
        let frank_id = me["user"]["id"].as_str().unwrap().to_owned();
        assert_ne!(frank_id, uid, "no SCIM id becomes an account id");
        let user_path = format!("/Users/{uid}");
        let set_active = |active: bool| {
            let (s, t, user_path) = (&s, &t, &user_path);
            async move {
                scim_ok(
                    s,
                    t,
                    Method::PATCH,
                    user_path,
                    Some(patch(
                        json!([{"op": "replace", "path": "active", "value": active}]),
                    )),
                )
                .await
            }
        };
        assert_eq!(set_active(false).await["active"], false);
        let (_, m) = member(&s, &t, &frank_id).await;
        assert_eq!(m["status"], "suspended", "{m}");
        for path in [org_path.clone(), format!("{org_path}/pools")] {
            let (st, body) = s.call(Method::GET, &path, Some(&frank), None).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {body}");
            assert_eq!(body["error"]["code"], "member_suspended", "{body}");
        }
        assert_eq!(set_active(true).await["active"], true);
        let (st, body) = s.call(Method::GET, &org_path, Some(&frank), None).await;
        assert_eq!(st, StatusCode::OK, "{body}");

        // Frank becomes an organization manager and owns a pool; DELETE hands it to the owner.
        let (st, body) = s
            .call(
                Method::PUT,
                &format!("/orgs/{}/users/{frank_id}/assignments", t.org),
                Some(&t.manager),
                Some(json!({"assignments": [{"role": "organization_manager"}]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (st, his) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/pools", t.org),
                Some(&frank),
                Some(json!({"name": "Frank's"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{his}");
        assert_eq!(his["owner_id"], json!(frank_id));
        let r = s
            .scim(Method::DELETE, &user_path, Some(&t.scim_token), None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let (st, _) = member(&s, &t, &frank_id).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, pools) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/pools", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        let handed = pools["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == his["id"])
            .unwrap_or_else(|| panic!("pool gone: {pools}"));
        assert_eq!(handed["owner_id"], json!(owner_id), "{pools}");
        let (st, body) = s.call(Method::GET, &org_path, Some(&frank), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        // The last organization manager cannot be deprovisioned (nobody to hand over to).
        let r = s
            .scim(
                Method::DELETE,
                &format!("/Users/{owner_id}"),
                Some(&t.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let (st, _) = member(&s, &t, &owner_id).await;
        assert_eq!(st, StatusCode::OK);
    }
}

#[tokio::test]
async fn invitations_and_scim_meet() {
    for s in servers().await {
        let t = s.scim_org("owner@meet.test", "Meet").await;
        let (_, pool) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/pools", t.org),
                Some(&t.manager),
                Some(json!({"name": "Ops"})),
            )
            .await;
        let pool_id = id(&pool);
        let (st, res) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/invitations", t.org),
                Some(&t.manager),
                Some(json!({
                    "invitations": [{"email": "Grace@Meet.test"}, {"email": "heidi@meet.test"}],
                    "assignments": [{"role": "manager", "pool_id": pool_id}],
                    "send_email": false
                })),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        let grace_inv = id(&res["results"][0]["invitation"]);
        let heidi_url = res["results"][1]["accept_url"].as_str().unwrap();
        let heidi_token = heidi_url.rsplit("token=").next().unwrap();

        // SCIM provisions Grace (email in another case): her pending invitation is accepted.
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "grace@meet.test",
                "emails": [{"value": "grace@meet.test", "primary": true}]})),
        )
        .await;
        let grace = id(&created);
        let (_, invs) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/invitations?status=accepted", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        let inv = invs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(grace_inv))
            .unwrap_or_else(|| panic!("not accepted: {invs}"));
        assert_eq!(inv["accepted_by"], json!(grace), "{inv}");
        let (_, m) = member(&s, &t, &grace).await;
        assert_eq!(m["source"], "scim", "{m}");
        let assignments = m["assignments"].as_array().unwrap();
        assert!(
            assignments.contains(&json!({"role": "manager", "pool_id": pool_id})),
            "the invitation's assignments are given: {m}"
        );
        // Her own sign-in (a fresh account) takes the membership; her provider keeps its id.
        let grace_jwt = s.token("grace@meet.test", Some("Grace"), true);
        let (_, me) = s.call(Method::GET, "/me", Some(&grace_jwt), None).await;
        assert_ne!(me["user"]["id"], json!(grace), "{me}");
        assert_eq!(me["memberships"][0]["org"]["id"], json!(t.org), "{me}");
        let r = s
            .scim(
                Method::GET,
                &format!("/Users/{grace}"),
                Some(&t.scim_token),
                None,
            )
            .await;
        assert_eq!(r.body["id"], json!(grace), "{}", r.body);

        // Heidi joins by invitation: visible over SCIM with a derived resource.
        let heidi_jwt = s.token("heidi@meet.test", Some("Heidi"), true);
        let (st, joined) = s
            .call(
                Method::POST,
                "/invitations/accept",
                Some(&heidi_jwt),
                Some(json!({"token": heidi_token})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{joined}");
        let heidi = joined["user_id"].as_str().unwrap().to_owned();
        let found = lookup(&s, &t.scim_token, r#"userName eq "HEIDI@meet.test""#).await;
        assert_eq!(found["totalResults"], 1, "{found}");
        let r = &found["Resources"][0];
        assert_eq!(r["id"], json!(heidi), "{r}");
        assert_eq!(r["active"], true, "{r}");
        assert_eq!(r["emails"][0]["value"], "heidi@meet.test", "{r}");
        let found = lookup(&s, &t.scim_token, r#"emails.value eq "heidi@meet.test""#).await;
        assert_eq!(found["totalResults"], 1, "{found}");
        let got = scim_ok(&s, &t, Method::GET, &format!("/Users/{heidi}"), None).await;
        assert_eq!(got["userName"], "heidi@meet.test");
        // The identity provider cannot create her a second time, but can take her over by PATCH.
        let dup = s
            .scim(
                Method::POST,
                "/Users",
                Some(&t.scim_token),
                Some(json!({"schemas": [CORE], "userName": "heidi.idp",
                    "emails": [{"value": "Heidi@meet.test", "primary": true}]})),
            )
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
        assert_eq!(dup.body["scimType"], "uniqueness");
        let out = scim_ok(
            &s,
            &t,
            Method::PATCH,
            &format!("/Users/{heidi}"),
            Some(patch(
                json!([{"op": "add", "path": "externalId", "value": "heidi-oid"}]),
            )),
        )
        .await;
        assert_eq!(out["externalId"], "heidi-oid");
        let found = lookup(&s, &t.scim_token, r#"externalId eq "heidi-oid""#).await;
        assert_eq!(found["Resources"][0]["id"], json!(heidi), "{found}");
        let (_, m) = member(&s, &t, &heidi).await;
        assert_eq!(m["external_id"], "heidi-oid", "{m}");
        assert_eq!(m["status"], "active", "{m}");
    }
}

#[tokio::test]
async fn allowed_email_domains_bind_scim_as_they_bind_invitations() {
    for s in servers().await {
        let t = s.scim_org("owner@domains.test", "Domains").await;
        let (st, org) = s
            .call(
                Method::PATCH,
                &format!("/orgs/{}", t.org),
                Some(&t.manager),
                Some(json!({"settings": {"allowed_email_domains": ["domains.test"]}})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{org}");
        let user = |email: &str| {
            json!({"schemas": [CORE], "userName": email,
            "emails": [{"value": email, "type": "work", "primary": true}]})
        };

        // Another domain: refused, nothing created.
        let r = s
            .scim(
                Method::POST,
                "/Users",
                Some(&t.scim_token),
                Some(user("mallory@elsewhere.test")),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
        let found = lookup(&s, &t.scim_token, "userName eq \"mallory@elsewhere.test\"").await;
        assert_eq!(found["totalResults"], 0, "{found}");

        // The org's domain (any case): provisioned; moving the email away is refused, unchanged.
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(user("grace@Domains.test")),
        )
        .await;
        let path = format!("/Users/{}", id(&created));
        let r = s
            .scim(
                Method::PATCH,
                &path,
                Some(&t.scim_token),
                Some(patch(
                    json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
                    "value": "grace@elsewhere.test"}]),
                )),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
        let (st, m) = member(&s, &t, &id(&created)).await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(m["email"], "grace@Domains.test", "{m}");
    }
}

#[tokio::test]
async fn a_scim_tokens_last_use_is_shown_to_the_hour() {
    for s in servers().await {
        let t = s.scim_org("owner@lastuse.test", "Last use").await;
        let tokens = || async {
            let (st, list) = s
                .call(
                    Method::GET,
                    &format!("/orgs/{}/scim-tokens", t.org),
                    Some(&t.manager),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{list}");
            assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
            list["items"][0].clone()
        };
        assert_eq!(tokens().await["last_used_at"], Value::Null);
        lookup(&s, &t.scim_token, "userName eq \"nobody\"").await;
        let first = tokens().await["last_used_at"].clone();
        assert!(first.is_string(), "recorded: {first}");
        // Within the hour it is not written again.
        lookup(&s, &t.scim_token, "userName eq \"nobody\"").await;
        assert_eq!(tokens().await["last_used_at"], first);
        assert!(tokens().await.get("token").is_none(), "never the secret");
    }
}

#[tokio::test]
async fn an_unverified_email_claim_does_not_catch_a_provisioned_membership() {
    for s in servers().await {
        let t = s.scim_org("owner@acme-idp.test", "Acme").await;
        let me = |token: String| {
            let s = &s;
            async move {
                let (st, me) = s.call(Method::GET, "/me", Some(&token), None).await;
                assert_eq!(st, StatusCode::OK, "{me}");
                me
            }
        };
        // Someone signs in first with the CEO's address, unverified.
        let squatter = s.token_with_subject("evil|1", "ceo@acme-idp.test", false);
        let squatter_id = me(squatter.clone()).await["user"]["id"].clone();

        // The identity provider provisions the CEO: a placeholder gets the membership.
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "ceo@acme-idp.test"})),
        )
        .await;
        let uid = id(&created);
        assert_ne!(json!(uid), squatter_id, "not the unverified claimant");
        let (st, orgs) = s.call(Method::GET, "/orgs", Some(&squatter), None).await;
        assert_eq!(st, StatusCode::OK, "{orgs}");
        assert_eq!(
            orgs["items"],
            json!([]),
            "the squatter is in no organization"
        );

        // The real CEO signs in with the address verified: theirs.
        let ceo = s.token_with_subject("idp|ceo", "ceo@acme-idp.test", true);
        let ceo_id = me(ceo.clone()).await["user"]["id"].clone();
        assert_ne!(ceo_id, squatter_id);
        assert_ne!(ceo_id, json!(uid), "a fresh account, not the SCIM id");
        let (st, orgs) = s.call(Method::GET, "/orgs", Some(&ceo), None).await;
        assert_eq!(st, StatusCode::OK, "{orgs}");
        assert_eq!(orgs["items"][0]["id"], json!(t.org), "{orgs}");
    }
}

#[tokio::test]
async fn overlong_user_names_and_external_ids_are_refused_the_same_on_both_stores() {
    for s in servers().await {
        let t = s.scim_org("owner@long.test", "Long").await;
        let long = format!("{}@long.test", "é".repeat(300));
        for body in [
            json!({"schemas": [CORE], "userName": long}),
            json!({"schemas": [CORE], "userName": "ok@long.test", "externalId": "x".repeat(513)}),
        ] {
            let r = s
                .scim(Method::POST, "/Users", Some(&t.scim_token), Some(body))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
            assert_eq!(r.body["scimType"], "invalidValue", "{}", r.body);
        }
        // 512 bytes is fine.
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "ok@long.test", "externalId": "x".repeat(512)})),
        )
        .await;
        assert_eq!(created["externalId"], json!("x".repeat(512)));
    }
}

#[tokio::test]
async fn a_new_email_before_the_first_sign_in_is_where_the_person_finds_the_membership() {
    for s in servers().await {
        let t = s.scim_org("owner@rename.test", "Rename").await;
        let created = scim_ok(
            &s,
            &t,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "a.smith@rename.test",
                "emails": [{"value": "a.smith@rename.test", "type": "work", "primary": true}]})),
        )
        .await;
        let uid = id(&created);
        // Entra renames the person before they ever sign in.
        scim_ok(
            &s,
            &t,
            Method::PATCH,
            &format!("/Users/{uid}"),
            Some(patch(json!([
                {"op": "Replace", "path": "userName", "value": "a.jones@rename.test"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value",
                 "value": "a.jones@rename.test"}
            ]))),
        )
        .await;
        let person = s.token_with_subject("idp|a", "a.jones@rename.test", true);
        let (st, me) = s.call(Method::GET, "/me", Some(&person), None).await;
        assert_eq!(st, StatusCode::OK, "{me}");
        assert_ne!(me["user"]["id"], json!(uid), "{me}");
        let (st, orgs) = s.call(Method::GET, "/orgs", Some(&person), None).await;
        assert_eq!(st, StatusCode::OK, "{orgs}");
        assert_eq!(orgs["items"][0]["id"], json!(t.org), "{orgs}");
        // The old address finds nothing any more.
        let old = s.token_with_subject("idp|old", "a.smith@rename.test", true);
        let (_, orgs) = s.call(Method::GET, "/orgs", Some(&old), None).await;
        assert_eq!(orgs["items"], json!([]), "{orgs}");
    }
}

#[tokio::test]
async fn an_organization_holds_at_most_twenty_scim_tokens() {
    for s in servers().await {
        let t = s.scim_org("owner@tokens.test", "Tokens").await;
        let path = format!("/orgs/{}/scim-tokens", t.org);
        let create = || async {
            s.call(
                Method::POST,
                &path,
                Some(&t.manager),
                Some(json!({"description": "rotation"})),
            )
            .await
        };
        for _ in 1..20 {
            let (st, body) = create().await;
            assert_eq!(st, StatusCode::CREATED, "{body}");
        }
        let (st, body) = create().await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "scim_token_limit_reached", "{body}");
        let (_, list) = s.call(Method::GET, &path, Some(&t.manager), None).await;
        let oldest = list["items"][19]["id"].as_str().unwrap().to_owned();
        let (st, _) = s
            .call(
                Method::DELETE,
                &format!("{path}/{oldest}"),
                Some(&t.manager),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, body) = create().await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
}
