//! An invitation past its expiry is recorded by the first request that meets it, on both stores:
//! an accept, decline or resend of it, or the organization's invitation list. It is closed as
//! `expired` with one `invitation.expired` audit entry (the system acting, with that request's id),
//! once, even when two lists meet it at once; its address is free again and it no longer counts
//! toward `max_pending_invitations`; a revoke before any request met it still revokes it. One whose
//! mail bounced stays pending, so its address stays guarded. The server is restarted with its
//! clock two days ahead to meet the expiry.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint};
use serde_json::{Value, json};
use std::time::Duration;

const DAY: i64 = 86_400;

struct Org {
    id: String,
    owner: String,
}

async fn org(s: &TestServer) -> Org {
    let owner = s.token("owner@expiry.test", Some("Owner"), true);
    let org = s.create_org(&owner, "Expiry").await;
    Org {
        id: org["id"].as_str().unwrap().to_owned(),
        owner,
    }
}

/// Sets the organization's `max_pending_invitations`.
async fn limit_pending(s: &TestServer, org: &Org, max: usize) {
    let (st, res) = s
        .call(
            Method::PATCH,
            &format!("/orgs/{}", org.id),
            Some(&org.owner),
            Some(json!({"settings": {"max_pending_invitations": max}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
}

/// Invites `emails` for one day without mail; returns (invitation id, token) per address.
async fn invite(s: &TestServer, org: &Org, emails: &[&str]) -> Vec<(String, String)> {
    let entries: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations", org.id),
            Some(&org.owner),
            Some(json!({"invitations": entries, "expires_in_days": 1, "send_email": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    res["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["result"], "invited", "{r}");
            let url = r["accept_url"].as_str().unwrap();
            (
                r["invitation"]["id"].as_str().unwrap().to_owned(),
                url.rsplit("token=").next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The organization's `invitation.expired` entries, newest first.
async fn expiries(s: &TestServer, org: &Org) -> Vec<Value> {
    let (st, page) = s
        .call(
            Method::GET,
            &format!("/orgs/{}/audit-events?action=invitation.expired", org.id),
            Some(&org.owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn targets(entries: &[Value]) -> Vec<&str> {
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e["target"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids
}

async fn expiry_is_recorded_once_by_the_request_that_meets_it(mut s: TestServer) {
    let org = org(&s).await;
    let embedded = matches!(s.backend(), Backend::Embedded);
    // Every invitation of the organization is pending: six here, and on the embedded store one
    // more to an address whose mail bounces (the outbox simulates it).
    limit_pending(&s, &org, if embedded { 7 } else { 6 }).await;
    let invited = invite(
        &s,
        &org,
        &[
            "ann@expiry.test",
            "ben@expiry.test",
            "cat@expiry.test",
            "dan@expiry.test",
            "eve@expiry.test",
            "fay@expiry.test",
        ],
    )
    .await;
    let [ann, ben, cat, dan, eve, fay] = [0, 1, 2, 3, 4, 5].map(|i| invited[i].clone());
    if embedded {
        bounced_invitation(&s, &org, "gus@expiry.test").await;
    }
    s.restart_later(2 * DAY);
    // Nothing is recorded until a request meets an expired invitation.
    assert!(expiries(&s, &org).await.is_empty());

    // An accept meets it: 410, and the expiry is recorded with the accept's request id.
    let cat_bearer = s.token("cat@expiry.test", Some("Cat"), true);
    let accept = |token: &str| json!({ "token": token });
    let (st, err) = s
        .call_with_headers(
            Method::POST,
            "/invitations/accept",
            Some(&cat_bearer),
            Some(accept(&cat.1)),
            &[("x-request-id", "req-accept-expired")],
        )
        .await;
    assert_eq!(st, StatusCode::GONE, "{err}");
    assert_eq!(err["error"]["code"], "invitation_expired");
    let recorded = expiries(&s, &org).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let entry = &recorded[0];
    assert_eq!(entry["target"]["id"], cat.0.as_str());
    assert_eq!(entry["actor"]["type"], "system", "{entry}");
    assert_eq!(
        entry["request"]["request_id"], "req-accept-expired",
        "{entry}"
    );
    assert_eq!(entry["details"]["email"], "cat@expiry.test", "{entry}");
    assert!(entry["details"]["expires_at"].is_string(), "{entry}");
    // Once: the same refusal again writes nothing more.
    let (st, _) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&cat_bearer),
            Some(accept(&cat.1)),
        )
        .await;
    assert_eq!(st, StatusCode::GONE);
    assert_eq!(expiries(&s, &org).await.len(), 1);

    // A decline meets another one the same way, and so does a resend.
    let eve_bearer = s.token("eve@expiry.test", Some("Eve"), true);
    let (st, err) = s
        .call(
            Method::POST,
            "/invitations/decline",
            Some(&eve_bearer),
            Some(accept(&eve.1)),
        )
        .await;
    assert_eq!(st, StatusCode::GONE, "{err}");
    let (st, err) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations/{}/resend", org.id, fay.0),
            Some(&org.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(st, StatusCode::GONE, "{err}");
    assert_eq!(err["error"]["code"], "invitation_expired");
    let mut want = vec![cat.0.as_str(), eve.0.as_str(), fay.0.as_str()];
    want.sort();
    assert_eq!(targets(&expiries(&s, &org).await), want);

    // A revoke before any request met it still revokes it (and records no expiry).
    let (st, res) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{}/invitations/{}", org.id, dan.0),
            Some(&org.owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{res}");

    // The list meets the rest: shown expired, recorded, once.
    let list = async || {
        let (st, page) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/invitations", org.id),
                Some(&org.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        let mut statuses: Vec<(String, String)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["email"].as_str().unwrap().to_owned(),
                    i["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        statuses.sort();
        statuses
    };
    let mut expected: Vec<(String, String)> = [
        ("ann", "expired"),
        ("ben", "expired"),
        ("cat", "expired"),
        ("dan", "revoked"),
        ("eve", "expired"),
        ("fay", "expired"),
    ]
    .iter()
    .map(|(who, status)| (format!("{who}@expiry.test"), (*status).to_owned()))
    .collect();
    if embedded {
        expected.push(("gus@expiry.test".into(), "expired".into()));
        expected.sort();
    }
    // Two lists at once: each shows them expired, and each expiry is recorded once.
    let started = std::time::Instant::now();
    let (first, second) = tokio::join!(list(), list());
    let recording = started.elapsed();
    assert_eq!(first, expected);
    assert_eq!(second, expected);
    let mut want = vec![
        ann.0.as_str(),
        ben.0.as_str(),
        cat.0.as_str(),
        eve.0.as_str(),
        fay.0.as_str(),
    ];
    want.sort();
    assert_eq!(
        targets(&expiries(&s, &org).await),
        want,
        "once each; the bounced one is left pending"
    );
    let started = std::time::Instant::now();
    assert_eq!(list().await, expected);
    let plain = started.elapsed();
    let store = if embedded {
        "embedded"
    } else {
        "dynamodb (moto)"
    };
    println!(
        "{store}: two lists at once that record 2 expiries {recording:?}; a list with none to record {plain:?}"
    );
    assert_eq!(
        expiries(&s, &org).await.len(),
        5,
        "a later list records nothing"
    );

    // They no longer count as pending: three new invitations fit under the limit again.
    invite(
        &s,
        &org,
        &["hal@expiry.test", "ivy@expiry.test", "jon@expiry.test"],
    )
    .await;

    // Recorded expired: a revoke or resend is refused as expired, and nothing more is written.
    let (st, err) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{}/invitations/{}", org.id, ann.0),
            Some(&org.owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::GONE, "{err}");
    let (st, err) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations/{}/resend", org.id, ben.0),
            Some(&org.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(st, StatusCode::GONE, "{err}");
    assert_eq!(err["error"]["code"], "invitation_expired");
    assert_eq!(expiries(&s, &org).await.len(), 5);

    // The address is free: a new invitation, which replaces nothing (the old one is closed).
    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations", org.id),
            Some(&org.owner),
            Some(json!({"invitations": [{"email": "ann@expiry.test"}], "send_email": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    assert_eq!(res["results"][0]["result"], "invited", "{res}");
    let (st, page) = s
        .call(
            Method::GET,
            &format!(
                "/orgs/{}/audit-events?action=invitation.created&limit=1",
                org.id
            ),
            Some(&org.owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["details"]["replaced"], Value::Null);

    // The bounced address stays guarded: a new invitation is not mailed there unless asked.
    if embedded {
        let (st, res) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/invitations", org.id),
                Some(&org.owner),
                Some(json!({"invitations": [{"email": "gus@expiry.test"}]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        assert_eq!(
            res["results"][0]["error"]["code"], "email_undeliverable",
            "{res}"
        );
    }

    // Locally, each recorded expiry is an `invitation.expired` event.
    if embedded {
        let (st, events) = s.call(Method::GET, "/_local/events", None, None).await;
        assert_eq!(st, StatusCode::OK, "{events}");
        let mut expired: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "invitation.expired")
            .map(|e| e["data"]["invitation_id"].as_str().unwrap())
            .collect();
        expired.sort();
        assert_eq!(expired, want);
    }
}

#[tokio::test]
async fn expiry_is_recorded_once_on_the_embedded_store() {
    expiry_is_recorded_once_by_the_request_that_meets_it(
        TestServer::start(Backend::Embedded).await,
    )
    .await;
}

#[tokio::test]
async fn expiry_is_recorded_once_on_dynamodb() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    expiry_is_recorded_once_by_the_request_that_meets_it(
        TestServer::start(Backend::Emulated { endpoint }).await,
    )
    .await;
}

/// Invites `email` with mail that the local outbox bounces, and waits for the bounce report.
async fn bounced_invitation(s: &TestServer, org: &Org, email: &str) {
    let (st, body) = s
        .call(
            Method::POST,
            "/_local/outbox/bounces",
            None,
            Some(json!({"email": email, "kind": "bounce"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/invitations", org.id),
            Some(&org.owner),
            Some(json!({"invitations": [{"email": email}], "expires_in_days": 1})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    for _ in 0..100 {
        let (st, page) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/invitations?email={email}", org.id),
                Some(&org.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        if page["items"][0]["email_status"] == "bounced" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the bounce of {email} was not reported");
}
