//! The local outbox's bounce simulation over HTTP (`rollcall serve`, embedded store + outbox):
//! `POST /_local/outbox/bounces` makes an address bounce or complain; mail to it is still in the
//! outbox, and its invitation's `email_status` becomes `bounced` / `complained` through the same
//! use case the `mail-events` Lambda function calls; other mail is reported `delivered`. Resend
//! then refuses the address unless an organization manager sets `send_despite_bounce`.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

/// The invitation's email status once it is no longer `sent` (delivery reports are
/// asynchronous, as SES's are), or `sent` after two seconds.
async fn settled_status(s: &TestServer, token: &str, org: &str, email: &str) -> Value {
    let path = format!("/orgs/{org}/invitations?email={email}");
    for _ in 0..100 {
        let (st, list) = s.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let status = list["items"][0]["email_status"].clone();
        if status != "sent" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    json!("sent")
}

#[tokio::test]
async fn the_outbox_simulates_bounces_and_complaints() {
    let s = TestServer::start(Backend::Embedded).await;
    let owner = s.token("olivia@acme.test", Some("Olivia"), true);
    let org = s.create_org(&owner, "Acme").await;
    let org = org["id"].as_str().unwrap().to_owned();

    // Register the outcomes; bad input is a 400.
    for (email, kind) in [
        ("Gone@Example.test", "bounce"),
        ("spam@example.test", "complaint"),
    ] {
        let (st, body) = s
            .call(
                Method::POST,
                "/_local/outbox/bounces",
                None,
                Some(json!({"email": email, "kind": kind})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    let (st, body) = s
        .call(Method::GET, "/_local/outbox/bounces", None, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"bounces": {"gone@example.test": "bounce", "spam@example.test": "complaint"}})
    );
    for bad in [
        json!({"email": "nope"}),
        json!({"email": "a@b.test", "kind": "lost"}),
        json!([]),
    ] {
        let (st, body) = s
            .call(Method::POST, "/_local/outbox/bounces", None, Some(bad))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "validation_error", "{body}");
    }

    let invs = format!("/orgs/{org}/invitations");
    let (st, res) = s
        .call(
            Method::POST,
            &invs,
            Some(&owner),
            Some(json!({"invitations": [{"email": "gone@example.test"},
                {"email": "spam@example.test"}, {"email": "ok@example.test"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    // Every mail is in the outbox, bounced or not.
    for to in ["gone@example.test", "spam@example.test", "ok@example.test"] {
        assert!(s.last_mail_to(to).await.is_some(), "no mail to {to}");
    }
    for (email, want) in [
        ("gone@example.test", "bounced"),
        ("spam@example.test", "complained"),
        ("ok@example.test", "delivered"),
    ] {
        assert_eq!(
            settled_status(&s, &owner, &org, email).await,
            want,
            "{email}"
        );
    }
    let (st, list) = s
        .call(
            Method::GET,
            &format!("{invs}?email_status=bounced"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["email"], "gone@example.test", "{list}");

    // Resend: refused, then sent anyway by the organization manager (and bounced again).
    let gone = res["results"][0]["invitation"]["id"].as_str().unwrap();
    let resend = format!("{invs}/{gone}/resend");
    let (st, err) = s
        .call(Method::POST, &resend, Some(&owner), Some(json!({})))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "email_undeliverable", "{err}");
    let mails = s.sent_mail().await.len();
    let (st, body) = s
        .call(
            Method::POST,
            &resend,
            Some(&owner),
            Some(json!({"send_despite_bounce": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(s.sent_mail().await.len(), mails + 1);
    assert_eq!(
        settled_status(&s, &owner, &org, "gone@example.test").await,
        "bounced"
    );
}
