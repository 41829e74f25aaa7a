//! Invitation rules that must hold for invitations made before a rule applied to them, over HTTP
//! on both backends (issue 8, findings 3 and 6):
//!
//! - a pool manager's bulk invite never merges into a pending invitation they may not manage
//!   (its assignments, inviter, token and link stay as they were);
//! - the organization's `allowed_email_domains` holds at accept, resend and join, also for
//!   invitations and links made before it was set.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint};
use serde_json::{Value, json};

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::start(Backend::Embedded).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start(Backend::Emulated { endpoint }).await);
    }
    v
}

/// An organization seen from its first organization manager.
struct Org {
    id: String,
    root: String,
    owner: String,
}

async fn create_org(s: &TestServer, owner_email: &str, name: &str) -> Org {
    let owner = s.token(owner_email, Some("Owner"), true);
    let org = s.create_org(&owner, name).await;
    Org {
        id: org["id"].as_str().unwrap().to_owned(),
        root: org["root_pool_id"].as_str().unwrap().to_owned(),
        owner,
    }
}

async fn create_pool(s: &TestServer, org: &Org, name: &str) -> String {
    let (st, pool) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/pools", org.id),
            Some(&org.owner),
            Some(json!({"name": name, "parent_id": org.root})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{pool}");
    pool["id"].as_str().unwrap().to_owned()
}

async fn patch_settings(s: &TestServer, org: &Org, settings: Value) {
    let (st, body) = s
        .call(
            Method::PATCH,
            &format!("/orgs/{}", org.id),
            Some(&org.owner),
            Some(json!({ "settings": settings })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

/// Bulk-invites `emails` as `inviter` with `assignments`, without email; the results.
async fn invite(
    s: &TestServer,
    org: &Org,
    inviter: &str,
    emails: &[&str],
    assignments: Value,
) -> Vec<Value> {
    let entries: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
    let (st, body) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations", org.id),
            Some(inviter),
            Some(json!({"invitations": entries, "assignments": assignments, "send_email": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().clone()
}

/// The id and token of a successful bulk-invite result.
fn invited(result: &Value) -> (String, String) {
    assert!(
        result["result"] == "invited" || result["result"] == "resent",
        "{result}"
    );
    let id = result["invitation"]["id"].as_str().unwrap().to_owned();
    let token = token_of(result);
    (id, token)
}

fn token_of(with_url: &Value) -> String {
    with_url["accept_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no accept_url: {with_url}"))
        .rsplit("token=")
        .next()
        .unwrap()
        .to_owned()
}

/// The invitation `id` as the organization manager lists it.
async fn invitation(s: &TestServer, org: &Org, id: &str) -> Value {
    let (st, list) = s
        .call(
            Method::GET,
            &format!("/orgs/{}/invitations", org.id),
            Some(&org.owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("invitation {id} not listed: {list}"))
}

async fn accept(s: &TestServer, who: &str, token: &str) -> (StatusCode, Value) {
    s.call(
        Method::POST,
        "/invitations/accept",
        Some(who),
        Some(json!({"token": token})),
    )
    .await
}

async fn preview(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.call(Method::GET, &format!("/invitations/{token}"), None, None)
        .await
}

fn assert_error(st: StatusCode, body: &Value, status: StatusCode, code: &str) {
    assert_eq!(st, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Finding 3: with `managers_can_invite`, a manager of pool A re-invites addresses that have a
/// pending invitation they may not manage (one offering `organization_manager`, one offering a
/// role on the sibling pool B). Each entry is an error; the invitations keep their assignments,
/// inviter, token and link (the old token still previews and accepts); no accept URL is handed
/// out. A pending invitation inside the manager's subtree still merges.
#[tokio::test]
async fn manager_cannot_merge_into_an_invitation_they_may_not_manage() {
    for s in servers().await {
        let org = create_org(&s, "owner@merge.test", "Merge").await;
        let pool_a = create_pool(&s, &org, "A").await;
        let pool_b = create_pool(&s, &org, "B").await;
        patch_settings(&s, &org, json!({"managers_can_invite": true})).await;
        let r = invite(
            &s,
            &org,
            &org.owner,
            &["mgr@merge.test"],
            json!([{"role": "manager", "pool_id": pool_a}]),
        )
        .await;
        let (_, t) = invited(&r[0]);
        let mgr = s.token("mgr@merge.test", Some("Mgr"), true);
        let (st, body) = accept(&s, &mgr, &t).await;
        assert_eq!(st, StatusCode::OK, "{body}");

        let r = invite(
            &s,
            &org,
            &org.owner,
            &["boss@merge.test"],
            json!([{"role": "organization_manager"}]),
        )
        .await;
        let (boss_inv, boss_token) = invited(&r[0]);
        let r = invite(
            &s,
            &org,
            &org.owner,
            &["sibling@merge.test"],
            json!([{"role": "engineer", "pool_id": pool_b}]),
        )
        .await;
        let (sib_inv, sib_token) = invited(&r[0]);
        let r = invite(
            &s,
            &org,
            &org.owner,
            &["inside@merge.test"],
            json!([{"role": "engineer", "pool_id": pool_a}]),
        )
        .await;
        let (inside_inv, inside_token) = invited(&r[0]);
        let before_boss = invitation(&s, &org, &boss_inv).await;
        let before_sib = invitation(&s, &org, &sib_inv).await;

        let results = invite(
            &s,
            &org,
            &mgr,
            &["boss@merge.test", "SIBLING@merge.test", "inside@merge.test"],
            json!([{"role": "engineer", "pool_id": pool_a}]),
        )
        .await;
        for r in &results[..2] {
            assert_eq!(r["result"], "error", "{r}");
            assert_eq!(r["error"]["code"], "invitation_pending", "{r}");
            assert!(
                r["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("organization manager")),
                "{r}"
            );
            assert!(r.get("accept_url").is_none(), "{r}");
            assert!(r.get("invitation").is_none(), "{r}");
        }
        // Within the manager's subtree, the merge still happens (a new token).
        assert_eq!(results[2]["result"], "resent", "{}", results[2]);
        assert_eq!(results[2]["invitation"]["id"], inside_inv);
        let (st, _) = preview(&s, &inside_token).await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "the merged invitation's old token dies"
        );

        // Untouched: same assignments, inviter, expiry, email status.
        assert_eq!(invitation(&s, &org, &boss_inv).await, before_boss);
        assert_eq!(invitation(&s, &org, &sib_inv).await, before_sib);
        // The old links still work.
        let (st, p) = preview(&s, &boss_token).await;
        assert_eq!(st, StatusCode::OK, "{p}");
        assert_eq!(p["assignments"], json!([{"role": "organization_manager"}]));
        let (st, p) = preview(&s, &sib_token).await;
        assert_eq!(st, StatusCode::OK, "{p}");
        let boss = s.token("boss@merge.test", None, true);
        let (st, m) = accept(&s, &boss, &boss_token).await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(m["assignments"], json!([{"role": "organization_manager"}]));
        let sibling = s.token("sibling@merge.test", None, true);
        let (st, m) = accept(&s, &sibling, &sib_token).await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(
            m["assignments"],
            json!([{"role": "engineer", "pool_id": pool_b}])
        );
    }
}
/// Finding 6: invitations and a link made before `allowed_email_domains` was set. Accepting (by
/// token and by id) and resending an invitation to another domain are refused with 403
/// `email_domain_not_allowed` and leave it pending with its token; joining through the link is
/// refused too. Addresses of the allowed domain still accept; the invitee may still decline and
/// the organization may still revoke.
#[tokio::test]
async fn allowed_email_domains_hold_for_earlier_invitations_and_links() {
    for s in servers().await {
        let org = create_org(&s, "owner@acme.test", "Domains").await;
        let r = invite(
            &s,
            &org,
            &org.owner,
            &[
                "old@other.test",
                "resend@other.test",
                "byid@other.test",
                "fine@acme.test",
            ],
            json!([]),
        )
        .await;
        let (old_inv, old_token) = invited(&r[0]);
        let (resend_inv, resend_token) = invited(&r[1]);
        let (byid_inv, _) = invited(&r[2]);
        let (_, fine_token) = invited(&r[3]);
        let (st, link) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/invite-links", org.id),
                Some(&org.owner),
                Some(json!({})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{link}");
        let link_token = link["token"].as_str().unwrap().to_owned();

        patch_settings(&s, &org, json!({"allowed_email_domains": ["acme.test"]})).await;
        let before_old = invitation(&s, &org, &old_inv).await;
        let before_resend = invitation(&s, &org, &resend_inv).await;

        // Accept by token.
        let old = s.token("old@other.test", None, true);
        let (st, body) = accept(&s, &old, &old_token).await;
        assert_error(st, &body, StatusCode::FORBIDDEN, "email_domain_not_allowed");
        // Accept by id.
        let byid = s.token("byid@other.test", None, true);
        let (st, body) = s
            .call(
                Method::POST,
                &format!("/me/invitations/{byid_inv}/accept"),
                Some(&byid),
                None,
            )
            .await;
        assert_error(st, &body, StatusCode::FORBIDDEN, "email_domain_not_allowed");
        // Resend, with and without email.
        for body in [json!({"send_email": false}), json!({})] {
            let (st, body) = s
                .call(
                    Method::POST,
                    &format!("/orgs/{}/invitations/{resend_inv}/resend", org.id),
                    Some(&org.owner),
                    Some(body),
                )
                .await;
            assert_error(st, &body, StatusCode::FORBIDDEN, "email_domain_not_allowed");
            assert!(body.get("accept_url").is_none(), "{body}");
        }
        // Left intact: pending, same token.
        assert_eq!(invitation(&s, &org, &old_inv).await, before_old);
        assert_eq!(invitation(&s, &org, &resend_inv).await, before_resend);
        assert_eq!(invitation(&s, &org, &byid_inv).await["status"], "pending");
        for t in [&old_token, &resend_token] {
            let (st, p) = preview(&s, t).await;
            assert_eq!(st, StatusCode::OK, "{p}");
        }
        let (st, users) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users", org.id),
                Some(&org.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{users}");
        assert_eq!(users["items"].as_array().unwrap().len(), 1, "{users}");

        // Joining through the older link.
        let joiner = s.token("joiner@other.test", None, true);
        let (st, body) = s
            .call(
                Method::POST,
                "/join",
                Some(&joiner),
                Some(json!({"token": link_token})),
            )
            .await;
        assert_error(st, &body, StatusCode::FORBIDDEN, "email_domain_not_allowed");

        // The allowed domain still accepts and joins; the others can still be declined, revoked.
        let fine = s.token("fine@acme.test", None, true);
        let (st, body) = accept(&s, &fine, &fine_token).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let welcome = s.token("welcome@ACME.test", None, true);
        let (st, body) = s
            .call(
                Method::POST,
                "/join",
                Some(&welcome),
                Some(json!({"token": link_token})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (st, body) = s
            .call(
                Method::POST,
                "/invitations/decline",
                Some(&old),
                Some(json!({"token": old_token})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "declined", "{body}");
        let (st, body) = s
            .call(
                Method::DELETE,
                &format!("/orgs/{}/invitations/{resend_inv}", org.id),
                Some(&org.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let (st, users) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users", org.id),
                Some(&org.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{users}");
        assert_eq!(users["items"].as_array().unwrap().len(), 3, "{users}");
    }
}
