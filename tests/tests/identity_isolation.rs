//! Identity across tenants, attacked as an organization that owns a SCIM token would (issue 8),
//! on the embedded store and on DynamoDB (moto): no SCIM write of one organization changes what
//! another organization or another person sees; a SCIM resource id says nothing about a person's
//! account; one member per email per organization.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, ScimOrgSetup, TestServer, emulator_endpoint};
use serde_json::{Value, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::start(Backend::Embedded).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start(Backend::Emulated { endpoint }).await);
    }
    v
}

fn user(email: &str) -> Value {
    json!({"schemas": [CORE], "userName": email,
        "emails": [{"value": email, "type": "work", "primary": true}]})
}

async fn provision(s: &TestServer, t: &ScimOrgSetup, body: Value) -> String {
    let r = s
        .scim(Method::POST, "/Users", Some(&t.scim_token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().expect("id").to_owned()
}

/// The organization ids `token`'s person sees in `GET /orgs`.
async fn orgs_of(s: &TestServer, token: &str) -> Vec<String> {
    let (st, orgs) = s.call(Method::GET, "/orgs", Some(token), None).await;
    assert_eq!(st, StatusCode::OK, "{orgs}");
    orgs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("org id").to_owned())
        .collect()
}

async fn my_id(s: &TestServer, token: &str) -> String {
    let (st, me) = s.call(Method::GET, "/me", Some(token), None).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    me["user"]["id"].as_str().expect("user id").to_owned()
}

/// The members of `t`'s organization as its manager sees them.
async fn members(s: &TestServer, t: &ScimOrgSetup) -> Value {
    let (st, list) = s
        .call(
            Method::GET,
            &format!("/orgs/{}/users?limit=200", t.org),
            Some(&t.manager),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list["items"].clone()
}

/// Finding 1: org B's SCIM cannot reach org A's provisioned (not yet signed-in) person.
#[tokio::test]
async fn another_orgs_scim_cannot_take_over_a_provisioned_membership() {
    for s in servers().await {
        let a = s.scim_org("owner@a-org.test", "A").await;
        let b = s.scim_org("mallory@b-org.test", "B").await;
        let alice_in_a = provision(&s, &a, user("alice@a.test")).await;
        let (st, body) = s
            .call(
                Method::PUT,
                &format!("/orgs/{}/users/{alice_in_a}/assignments", a.org),
                Some(&a.manager),
                Some(json!({"assignments": [{"role": "organization_manager"}]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let a_members_before = members(&s, &a).await;

        // B provisions the same person and moves "her" email to an address it controls.
        let alice_in_b = provision(&s, &b, user("alice@a.test")).await;
        assert_ne!(alice_in_b, alice_in_a, "B's resource is its own");
        let r = s
            .scim(
                Method::PUT,
                &format!("/Users/{alice_in_b}"),
                Some(&b.scim_token),
                Some(user("mallory@evil.test")),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = s
            .scim(
                Method::PATCH,
                &format!("/Users/{alice_in_b}"),
                Some(&b.scim_token),
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "emails", "value": [{"value": "mallory2@evil.test", "primary": true}]}
                ]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            members(&s, &a).await,
            a_members_before,
            "A sees nothing changed"
        );

        // Mallory signs in with the addresses she moved there: never in A.
        for address in ["mallory@evil.test", "mallory2@evil.test"] {
            let mallory = s.token_with_subject(&format!("evil|{address}"), address, true);
            assert!(
                !orgs_of(&s, &mallory).await.contains(&a.org),
                "{address} is not in A"
            );
        }
        // The real alice signs in: she is A's organization manager.
        let alice = s.token_with_subject("idp|alice", "alice@a.test", true);
        assert!(orgs_of(&s, &alice).await.contains(&a.org));
        let (st, org) = s
            .call(Method::GET, &format!("/orgs/{}", a.org), Some(&alice), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{org}");
    }
}

/// Finding 2: provisioning an address that belongs to an existing account neither reveals the
/// account nor puts the organization in the person's `/me` without their consent.
#[tokio::test]
async fn provisioning_an_existing_accounts_address_reveals_and_joins_nothing() {
    for s in servers().await {
        let victor = s.token_with_subject("idp|victor", "victor@v.test", true);
        let own = s.create_org(&victor, "Victor's").await;
        let victor_id = my_id(&s, &victor).await;

        let b = s.scim_org("mallory@b-org.test", "B").await;
        let provisioned = provision(&s, &b, user("victor@v.test")).await;
        assert_ne!(provisioned, victor_id, "not the person's account id");
        let (st, body) = s
            .call(
                Method::PUT,
                &format!("/orgs/{}/users/{provisioned}/assignments", b.org),
                Some(&b.manager),
                Some(json!({"assignments": [{"role": "organization_manager"}]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");

        assert_eq!(
            orgs_of(&s, &victor).await,
            vec![own["id"].as_str().unwrap().to_owned()]
        );
        let (_, me) = s.call(Method::GET, "/me", Some(&victor), None).await;
        assert!(!me.to_string().contains(&b.org), "B is not in /me: {me}");
        // Re-provisioning after a removal is no different.
        let r = s
            .scim(
                Method::DELETE,
                &format!("/Users/{provisioned}"),
                Some(&b.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let again = provision(&s, &b, user("victor@v.test")).await;
        assert_ne!(again, victor_id);
        assert!(!orgs_of(&s, &victor).await.contains(&b.org));
    }
}

/// Finding 5: one member per email per organization, also under concurrent SCIM POSTs and on
/// email changes.
#[tokio::test]
async fn one_member_per_email_per_organization() {
    for s in servers().await {
        let t = s.scim_org("owner@one.test", "One").await;
        let posts = (0..20).map(|i| {
            let (s, t) = (&s, &t);
            async move {
                s.scim(
                    Method::POST,
                    "/Users",
                    Some(&t.scim_token),
                    Some(
                        json!({"schemas": [CORE], "userName": format!("u{i}@one.test"),
                        "emails": [{"value": "same@one.test", "primary": true}]}),
                    ),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(posts).await;
        let created = results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "exactly one member gets the address");
        for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
            assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
            assert_eq!(r.body["scimType"], "uniqueness", "{}", r.body);
        }
        let same: Vec<_> = members(&s, &t)
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["email"] == "same@one.test")
            .cloned()
            .collect();
        assert_eq!(same.len(), 1, "{same:?}");

        // Moving another member's email onto a taken address (even the owner's) is 409.
        let other = provision(&s, &t, user("other@one.test")).await;
        for taken in ["same@one.test", "OWNER@one.test"] {
            let r = s
                .scim(
                    Method::PUT,
                    &format!("/Users/{other}"),
                    Some(&t.scim_token),
                    Some(json!({"schemas": [CORE], "userName": "other@one.test",
                        "emails": [{"value": taken, "primary": true}]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{taken}: {}", r.body);
            assert_eq!(r.body["scimType"], "uniqueness", "{}", r.body);
            let r = s
                .scim(
                    Method::PATCH,
                    &format!("/Users/{other}"),
                    Some(&t.scim_token),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "emails", "value": [{"value": taken, "primary": true}]}
                    ]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{taken}: {}", r.body);
        }
        let r = s
            .scim(
                Method::GET,
                &format!("/Users/{other}"),
                Some(&t.scim_token),
                None,
            )
            .await;
        assert_eq!(r.body["emails"][0]["value"], "other@one.test", "{}", r.body);
    }
}

/// The SCIM resource as `t`'s identity provider reads it.
async fn scim_get(s: &TestServer, t: &ScimOrgSetup, id: &str) -> (StatusCode, Value) {
    let r = s
        .scim(
            Method::GET,
            &format!("/Users/{id}"),
            Some(&t.scim_token),
            None,
        )
        .await;
    (r.status, r.body)
}

/// A new account's first sign-in with the address verified takes every organization's
/// provisioned membership; each identity provider keeps the id it knows.
#[tokio::test]
async fn a_new_account_takes_every_organizations_provisioned_membership() {
    for s in servers().await {
        let a = s.scim_org("owner@a-org.test", "A").await;
        let b = s.scim_org("owner@b-org.test", "B").await;
        let in_a = provision(&s, &a, user("carol@c.test")).await;
        let in_b = provision(&s, &b, user("carol@c.test")).await;
        assert_ne!(in_a, in_b);

        // An unverified claim of the address takes nothing.
        let squatter = s.token_with_subject("evil|carol", "carol@c.test", false);
        assert!(orgs_of(&s, &squatter).await.is_empty());

        let carol = s.token_with_subject("idp|carol", "carol@c.test", true);
        let mut orgs = orgs_of(&s, &carol).await;
        orgs.sort();
        let mut both = vec![a.org.clone(), b.org.clone()];
        both.sort();
        assert_eq!(orgs, both, "both organizations' memberships are hers");
        let carol_id = my_id(&s, &carol).await;

        // Each identity provider still finds the member by its own id, and by userName.
        for (t, id) in [(&a, &in_a), (&b, &in_b)] {
            let (st, r) = scim_get(&s, t, id).await;
            assert_eq!(st, StatusCode::OK, "{r}");
            assert_eq!(r["id"], json!(id), "{r}");
            assert_eq!(
                r["meta"]["location"]
                    .as_str()
                    .map(|l| l.ends_with(id.as_str())),
                Some(true)
            );
            let found = s
                .scim(
                    Method::GET,
                    "/Users?filter=userName%20eq%20%22carol%40c.test%22",
                    Some(&t.scim_token),
                    None,
                )
                .await;
            assert_eq!(
                found.body["Resources"][0]["id"],
                json!(id),
                "{}",
                found.body
            );
        }
        // B's identity provider deactivates her in B: she is suspended in B only.
        let r = s
            .scim(
                Method::PATCH,
                &format!("/Users/{in_b}"),
                Some(&b.scim_token),
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "active", "value": false}
                ]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let (st, _) = s
            .call(Method::GET, &format!("/orgs/{}", b.org), Some(&carol), None)
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(Method::GET, &format!("/orgs/{}", a.org), Some(&carol), None)
            .await;
        assert_eq!(st, StatusCode::OK);
        // B removes her: she stays in A, and her account is untouched.
        let r = s
            .scim(
                Method::DELETE,
                &format!("/Users/{in_b}"),
                Some(&b.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(scim_get(&s, &b, &in_b).await.0, StatusCode::NOT_FOUND);
        assert_eq!(orgs_of(&s, &carol).await, vec![a.org.clone()]);
        assert_eq!(my_id(&s, &carol).await, carol_id);
    }
}

/// An account that already exists is asked: the provisioned membership waits in
/// `/me/invitations` until the person accepts it (or declines it); nobody else can take it.
#[tokio::test]
async fn an_existing_account_consents_to_a_provisioned_membership() {
    for s in servers().await {
        let victor = s.token_with_subject("idp|victor", "victor@v.test", true);
        let victor_id = my_id(&s, &victor).await;
        let b = s.scim_org("owner@b-org.test", "B").await;
        let provisioned = provision(&s, &b, user("victor@v.test")).await;

        let (st, mine) = s
            .call(Method::GET, "/me/invitations", Some(&victor), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{mine}");
        let offer = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "provisioned_membership")
            .cloned()
            .unwrap_or_else(|| panic!("offered: {mine}"));
        assert_eq!(offer["id"], json!(provisioned), "{offer}");
        assert_eq!(offer["org_id"], json!(b.org));
        assert_eq!(offer["org_name"], "B");
        assert_eq!(offer["status"], "pending");
        assert!(orgs_of(&s, &victor).await.is_empty(), "not before consent");

        let accept = format!("/me/invitations/{provisioned}/accept");
        let decline = format!("/me/invitations/{provisioned}/decline");
        // Nobody else: another verified person, or victor unverified.
        let eve = s.token_with_subject("idp|eve", "eve@e.test", true);
        let (st, body) = s.call(Method::POST, &accept, Some(&eve), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        let (st, body) = s.call(Method::POST, &decline, Some(&eve), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        let unverified = s.token_with_subject("idp|victor", "victor@v.test", false);
        let (st, body) = s.call(Method::POST, &accept, Some(&unverified), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "email_not_verified", "{body}");

        // Declined: shown as such, still not a member; accepting later is possible.
        let (st, body) = s.call(Method::POST, &decline, Some(&victor), None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "declined", "{body}");
        assert!(orgs_of(&s, &victor).await.is_empty());
        let (st, member) = s.call(Method::POST, &accept, Some(&victor), None).await;
        assert_eq!(st, StatusCode::OK, "{member}");
        assert_eq!(member["user_id"], json!(victor_id), "{member}");
        assert_eq!(orgs_of(&s, &victor).await, vec![b.org.clone()]);
        let (st, body) = s.call(Method::POST, &accept, Some(&victor), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "used: {body}");
        let (_, mine) = s
            .call(Method::GET, "/me/invitations", Some(&victor), None)
            .await;
        assert!(
            !mine.to_string().contains("provisioned_membership"),
            "no longer offered: {mine}"
        );

        // B's identity provider keeps its id; its writes change B's membership only, never the
        // person's account.
        let (st, r) = scim_get(&s, &b, &provisioned).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["id"], json!(provisioned));
        let r = s
            .scim(
                Method::PUT,
                &format!("/Users/{provisioned}"),
                Some(&b.scim_token),
                Some(user("mallory@evil.test")),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let (_, me) = s.call(Method::GET, "/me", Some(&victor), None).await;
        assert_eq!(me["user"]["email"], "victor@v.test", "{me}");
        let mallory = s.token_with_subject("evil|mallory", "mallory@evil.test", true);
        assert!(orgs_of(&s, &mallory).await.is_empty());
    }
}

/// Review findings: the first sign-in makes a fresh account (no organization's SCIM id becomes
/// it), and another organization cannot crowd out or pre-empt a provisioned membership by
/// moving members to the address and deleting them.
#[tokio::test]
async fn a_first_sign_in_is_a_fresh_account_that_no_organization_can_crowd_out() {
    for s in servers().await {
        let a = s.scim_org("owner@a-org.test", "A").await;
        let b = s.scim_org("mallory@b-org.test", "B").await;
        let in_a = provision(&s, &a, user("alice@a.test")).await;
        let mut b_ids = Vec::new();
        for i in 0..25 {
            let id = provision(&s, &b, user(&format!("x{i}@evil.test"))).await;
            let r = s
                .scim(
                    Method::PATCH,
                    &format!("/Users/{id}"),
                    Some(&b.scim_token),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "emails", "value": [{"value": "alice@a.test", "primary": true}]}
                    ]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let r = s
                .scim(
                    Method::DELETE,
                    &format!("/Users/{id}"),
                    Some(&b.scim_token),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
            b_ids.push(id);
        }
        let alice = s.token_with_subject("idp|alice", "alice@a.test", true);
        assert_eq!(orgs_of(&s, &alice).await, vec![a.org.clone()]);
        let alice_id = my_id(&s, &alice).await;
        assert_ne!(alice_id, in_a, "not A's SCIM id");
        assert!(!b_ids.contains(&alice_id), "not B's");
        let ids: Vec<Value> = members(&s, &a)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].clone())
            .collect();
        assert!(ids.contains(&json!(alice_id)), "{ids:?}");
        assert!(!ids.contains(&json!(in_a)), "{ids:?}");
        let (st, r) = scim_get(&s, &a, &in_a).await;
        assert_eq!((st, r["id"].clone()), (StatusCode::OK, json!(in_a)), "{r}");
    }
}

/// Review finding: a person who already has an account and signs in another way (a new subject,
/// the same verified address) is still asked before another organization's membership is theirs.
#[tokio::test]
async fn a_new_login_of_an_existing_person_is_still_asked() {
    for s in servers().await {
        let victor = s.token_with_subject("idp|victor", "victor@v.test", true);
        my_id(&s, &victor).await;
        let b = s.scim_org("mallory@b-org.test", "B").await;
        let offered = provision(&s, &b, user("victor@v.test")).await;
        let other_login = s.token_with_subject("google|victor", "victor@v.test", true);
        assert!(
            orgs_of(&s, &other_login).await.is_empty(),
            "not without consent"
        );
        let (_, mine) = s
            .call(Method::GET, "/me/invitations", Some(&other_login), None)
            .await;
        assert!(mine.to_string().contains(&offered), "offered: {mine}");
    }
}
