//! A property of tenant isolation (issue 8): whatever sequence of SCIM requests one organization
//! sends (creates, replaces and patches of emails and status, deletes, reads of ids it was never
//! given), another organization's members (as its manager and its identity provider see them)
//! and the people who already have an account (`/me`, `/orgs`) see exactly what they saw before.
//! The addresses the attacker uses overlap with the victim organization's members and
//! placeholders on purpose.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Harness, call, claims, send};
use proptest::prelude::*;
use rollcall_domain::service::Claims;
use serde_json::{Value, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Addresses the attacker provisions and moves members to: the victim org's placeholder, its
/// members with accounts, its owner, and the attacker's own.
const EMAILS: [&str; 6] = [
    "pat@shared.test",
    "victor@shared.test",
    "owner@victim.test",
    "PAT@Shared.Test",
    "mallory@evil.test",
    "x@attacker.test",
];

/// One SCIM request of the attacking organization. `target` picks among the ids it got from its
/// own creates and the victim's ids (which it should never reach).
#[derive(Debug, Clone)]
enum Op {
    Create { email: usize, user_name: usize },
    Replace { target: usize, email: usize },
    PatchEmail { target: usize, email: usize },
    PatchActive { target: usize, active: bool },
    Delete { target: usize },
    Get { target: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..EMAILS.len(), 0..4usize).prop_map(|(email, user_name)| Op::Create { email, user_name }),
        (0..16usize, 0..EMAILS.len()).prop_map(|(target, email)| Op::Replace { target, email }),
        (0..16usize, 0..EMAILS.len()).prop_map(|(target, email)| Op::PatchEmail { target, email }),
        (0..16usize, any::<bool>()).prop_map(|(target, active)| Op::PatchActive { target, active }),
        (0..16usize).prop_map(|target| Op::Delete { target }),
        (0..16usize).prop_map(|target| Op::Get { target }),
    ]
}

async fn scim(
    router: &Router,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("/scim/v2{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/scim+json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    let r = send(router, b.body(body).unwrap()).await;
    (r.status, r.body)
}

struct Org {
    id: String,
    manager: Claims,
    token: String,
}

async fn org(router: &Router, owner: &str) -> Org {
    let manager = claims(owner, Some("Owner"), true);
    let r = call(
        router,
        Method::POST,
        "/orgs",
        Some(&manager),
        Some(json!({"name": owner})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        router,
        Method::POST,
        &format!("/orgs/{id}/scim-tokens"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let token = r.body["token"].as_str().unwrap().to_owned();
    Org { id, manager, token }
}

fn user(email: &str, user_name: &str) -> Value {
    json!({"schemas": [CORE], "userName": user_name,
        "emails": [{"value": email, "primary": true}]})
}

/// What the victim organization and the people with accounts see.
async fn views(router: &Router, victim: &Org, people: &[Claims]) -> Vec<Value> {
    let mut out = Vec::new();
    let r = call(
        router,
        Method::GET,
        &format!("/orgs/{}/users?limit=200", victim.id),
        Some(&victim.manager),
        None,
    )
    .await;
    out.push(r.body);
    out.push(
        scim(router, &victim.token, Method::GET, "/Users?count=200", None)
            .await
            .1,
    );
    for p in people {
        out.push(call(router, Method::GET, "/me", Some(p), None).await.body);
        out.push(call(router, Method::GET, "/orgs", Some(p), None).await.body);
    }
    out
}

/// The items of `GET /me/invitations` that are not offers from `from`: an organization's SCIM
/// may offer a person a membership (they accept or decline it), and nothing else.
async fn invitations_except_offers(router: &Router, person: &Claims, from: &Org) -> Vec<Value> {
    let r = call(router, Method::GET, "/me/invitations", Some(person), None).await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !(i["kind"] == "provisioned_membership" && i["org_id"] == json!(from.id)))
        .cloned()
        .collect()
}

async fn run(ops: Vec<Op>) {
    let h = Harness::new();
    let router = h.all();
    let victim = org(&router, "owner@victim.test").await;
    // The victim provisions pat (never signed in) and makes them organization manager, and has
    // victor, who has an account, as a provisioned member he accepted.
    let (st, pat) = scim(
        &router,
        &victim.token,
        Method::POST,
        "/Users",
        Some(user("pat@shared.test", "pat")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{pat}");
    let pat = pat["id"].as_str().unwrap().to_owned();
    let r = call(
        &router,
        Method::PUT,
        &format!("/orgs/{}/users/{pat}/assignments", victim.id),
        Some(&victim.manager),
        Some(json!({"assignments": [{"role": "organization_manager"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let victor = claims("victor@shared.test", Some("Victor"), true);
    call(&router, Method::GET, "/me", Some(&victor), None).await;
    let (st, v) = scim(
        &router,
        &victim.token,
        Method::POST,
        "/Users",
        Some(user("victor@shared.test", "victor")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let victor_scim = v["id"].as_str().unwrap().to_owned();
    let r = call(
        &router,
        Method::POST,
        &format!("/me/invitations/{victor_scim}/accept"),
        Some(&victor),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    let attacker = org(&router, "mallory@evil.test").await;
    let people = [victim.manager.clone(), victor.clone()];
    let before = views(&router, &victim, &people).await;
    let mut invitations_before = Vec::new();
    for p in &people {
        invitations_before.push(invitations_except_offers(&router, p, &attacker).await);
    }

    let mut targets: Vec<String> = vec![pat.clone(), victor_scim.clone()];
    for op in ops {
        let pick = |t: usize| targets[t % targets.len()].clone();
        match op {
            Op::Create { email, user_name } => {
                let (st, body) = scim(
                    &router,
                    &attacker.token,
                    Method::POST,
                    "/Users",
                    Some(user(EMAILS[email], &format!("u{user_name}"))),
                )
                .await;
                if st == StatusCode::CREATED {
                    targets.push(body["id"].as_str().unwrap().to_owned());
                }
            }
            Op::Replace { target, email } => {
                scim(
                    &router,
                    &attacker.token,
                    Method::PUT,
                    &format!("/Users/{}", pick(target)),
                    Some(user(EMAILS[email], EMAILS[email])),
                )
                .await;
            }
            Op::PatchEmail { target, email } => {
                scim(&router, &attacker.token, Method::PATCH, &format!("/Users/{}", pick(target)),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "emails", "value": [{"value": EMAILS[email], "primary": true}]}]}))).await;
            }
            Op::PatchActive { target, active } => {
                scim(
                    &router,
                    &attacker.token,
                    Method::PATCH,
                    &format!("/Users/{}", pick(target)),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "active", "value": active}]})),
                )
                .await;
            }
            Op::Delete { target } => {
                scim(
                    &router,
                    &attacker.token,
                    Method::DELETE,
                    &format!("/Users/{}", pick(target)),
                    None,
                )
                .await;
            }
            Op::Get { target } => {
                let id = pick(target);
                let (st, body) = scim(
                    &router,
                    &attacker.token,
                    Method::GET,
                    &format!("/Users/{id}"),
                    None,
                )
                .await;
                if id == pat || id == victor_scim {
                    assert_eq!(st, StatusCode::NOT_FOUND, "the victim's member: {body}");
                }
            }
        }
    }
    let after = views(&router, &victim, &people).await;
    assert!(
        after == before,
        "the victim sees something changed:\nbefore {before:?}\nafter {after:?}"
    );
    for (p, was) in people.iter().zip(&invitations_before) {
        let now = invitations_except_offers(&router, p, &attacker).await;
        assert!(&now == was, "{} sees more than an offer: {now:?}", p.sub);
    }
    // pat's first sign-in still finds the victim's membership, as organization manager.
    let pat_person = claims("pat@shared.test", Some("Pat"), true);
    let r = call(
        &router,
        Method::GET,
        &format!("/orgs/{}", victim.id),
        Some(&pat_person),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        r.body["settings"].is_object(),
        "an organization manager sees settings: {r:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn another_organizations_scim_changes_nothing_the_victim_sees(ops in proptest::collection::vec(op(), 1..14)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
