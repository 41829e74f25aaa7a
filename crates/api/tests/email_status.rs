//! Email delivery status over the API, in-process: delivery events (fed to the use case the
//! `mail-events` function calls) show as `email_status`, the invitations list filters by it, and a
//! bounced or complained address is not mailed again by resend or bulk invite unless an
//! organization manager sets `send_despite_bounce`.

mod common;

use axum::http::{Method, StatusCode};
use common::{Harness, Resp, call, claims};
use rollcall_domain::ids::{InvitationId, OrgId};
use rollcall_domain::ports::{MailEvent, MailEventKind};
use rollcall_domain::service::MailEventOutcome;
use serde_json::{Value, json};

/// The message id of the last mail recorded to `to` (the harness mailer numbers them).
fn message_to(h: &Harness, to: &str) -> (String, InvitationId) {
    let mails = h.mails.0.lock().unwrap();
    let (i, m) = mails
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.to.as_str() == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    (format!("test-{}", i + 1), m.invitation_id.clone())
}

async fn event(h: &Harness, org: &str, to: &str, kind: MailEventKind) -> MailEventOutcome {
    let (message_id, invitation_id) = message_to(h, to);
    h.state
        .service
        .record_mail_event(&MailEvent {
            invitation_id,
            org_id: OrgId::parse(org).unwrap(),
            message_id,
            kind,
            at: chrono::Utc::now(),
        })
        .await
        .unwrap()
}

fn emails(r: &Resp) -> Vec<&str> {
    r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect()
}

fn status_of<'a>(r: &'a Resp, email: &str) -> &'a Value {
    let items = r.body["items"].as_array().unwrap();
    &items
        .iter()
        .find(|i| i["email"] == email)
        .unwrap_or_else(|| panic!("{email} not listed: {r:?}"))["email_status"]
}

#[tokio::test]
async fn bounces_and_complaints_show_filter_and_guard_resends() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("olivia@acme.test", Some("Olivia"), true);
    let mia = claims("mia@acme.test", Some("Mia"), true);
    let r = call(
        &app,
        Method::POST,
        "/orgs",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let org = r.body["id"].as_str().unwrap().to_owned();
    let invs = format!("/orgs/{org}/invitations");
    let r = call(
        &app,
        Method::PATCH,
        &format!("/orgs/{org}"),
        Some(&owner),
        Some(json!({"settings": {"managers_can_invite": true}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org}/pools"),
        Some(&owner),
        Some(json!({"name": "Eng"})),
    )
    .await;
    let eng = r.body["id"].as_str().unwrap().to_owned();

    // Mia becomes a manager of Eng (who may invite there, but is no organization manager).
    let r = call(
        &app,
        Method::POST,
        &invs,
        Some(&owner),
        Some(
            json!({"invitations": [{"email": "mia@acme.test"}], "send_email": false,
            "assignments": [{"role": "manager", "pool_id": eng}]}),
        ),
    )
    .await;
    let url = r.body["results"][0]["accept_url"].as_str().unwrap();
    let token = url.rsplit("token=").next().unwrap();
    let r = call(
        &app,
        Method::POST,
        "/invitations/accept",
        Some(&mia),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // Three engineers invited by Mia, mailed.
    let r = call(
        &app,
        Method::POST,
        &invs,
        Some(&mia),
        Some(json!({
            "invitations": [{"email": "gone@example.test"}, {"email": "ok@example.test"},
                {"email": "spam@example.test"}],
            "assignments": [{"role": "engineer", "pool_id": eng}]
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let ids: Vec<String> = (0..3)
        .map(|i| {
            assert_eq!(
                r.body["results"][i]["invitation"]["email_status"], "sent",
                "{r:?}"
            );
            r.body["results"][i]["invitation"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let bounced = MailEventKind::Bounced { permanent: true };
    use MailEventOutcome::*;
    use rollcall_domain::model::EmailStatus::*;
    assert_eq!(
        event(&h, &org, "gone@example.test", bounced).await,
        Recorded(Bounced)
    );
    // A soft bounce and a late delivery change nothing.
    let soft = MailEventKind::Bounced { permanent: false };
    assert_eq!(event(&h, &org, "gone@example.test", soft).await, Unchanged);
    let delivered = MailEventKind::Delivered;
    assert_eq!(
        event(&h, &org, "gone@example.test", delivered).await,
        Unchanged
    );
    assert_eq!(
        event(&h, &org, "ok@example.test", delivered).await,
        Recorded(Delivered)
    );
    assert_eq!(
        event(&h, &org, "spam@example.test", delivered).await,
        Recorded(Delivered)
    );
    let complaint = MailEventKind::Complained;
    assert_eq!(
        event(&h, &org, "spam@example.test", complaint).await,
        Recorded(Complained)
    );

    // The list shows and filters by email status.
    let list = async |q: &str| {
        let path = format!("{invs}?{q}");
        call(&app, Method::GET, &path, Some(&owner), None).await
    };
    let r = list("").await;
    assert_eq!(status_of(&r, "gone@example.test"), "bounced");
    assert_eq!(status_of(&r, "ok@example.test"), "delivered");
    assert_eq!(status_of(&r, "spam@example.test"), "complained");
    assert_eq!(status_of(&r, "mia@acme.test"), "not_sent");
    assert!(
        r.body["items"][0].get("email_message_id").is_none(),
        "{r:?}"
    );
    assert_eq!(
        emails(&list("email_status=bounced").await),
        ["gone@example.test"]
    );
    assert_eq!(
        emails(&list("email_status=complained").await),
        ["spam@example.test"]
    );
    assert_eq!(
        emails(&list("email_status=delivered&status=pending").await),
        ["ok@example.test"]
    );
    assert!(emails(&list("email_status=failed").await).is_empty());
    let r = list("email_status=lost").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");

    // Resend of a bounced or complained address: 409 for anyone, unless an organization manager
    // insists; the override is forbidden to others.
    let resend = async |inv: &str, who: &rollcall_domain::service::Claims, body: Value| {
        let path = format!("{invs}/{inv}/resend");
        call(&app, Method::POST, &path, Some(who), Some(body)).await
    };
    for (inv, status, word) in [
        (&ids[0], "bounced", "bounced"),
        (&ids[2], "complained", "spam"),
    ] {
        for who in [&mia, &owner] {
            let r = resend(inv, who, json!({})).await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
            assert_eq!(r.code(), "email_undeliverable", "{r:?}");
            assert_eq!(r.body["error"]["details"]["email_status"], status, "{r:?}");
            assert!(
                r.body["error"]["message"].as_str().unwrap().contains(word),
                "{r:?}"
            );
        }
        let r = resend(inv, &mia, json!({"send_despite_bounce": true})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    }
    let mails_before = h.mails.0.lock().unwrap().len();
    // Without a mail, nothing to guard: a new link, and the bounce is kept.
    let r = resend(&ids[0], &mia, json!({"send_email": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["email_status"], "bounced", "{r:?}");
    // The bulk invite does not re-mail it either, per entry; Mia may not override there.
    let again = async |who: &rollcall_domain::service::Claims, extra: Value| {
        let mut body = json!({"invitations": [{"email": "gone@example.test"}, {"email": "new@example.test"}],
            "assignments": [{"role": "engineer", "pool_id": eng}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call(&app, Method::POST, &invs, Some(who), Some(body)).await
    };
    let r = again(&mia, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["results"][0]["result"], "error", "{r:?}");
    assert_eq!(
        r.body["results"][0]["error"]["code"], "email_undeliverable",
        "{r:?}"
    );
    assert_eq!(r.body["results"][1]["result"], "invited", "{r:?}");
    let r = again(&mia, json!({"send_despite_bounce": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert_eq!(
        h.mails.0.lock().unwrap().len(),
        mails_before + 1,
        "only new@ was mailed"
    );

    // The organization manager sends anyway: a new mail, status `sent` again; the old mail's
    // events are stale from now on.
    let old = message_to(&h, "gone@example.test");
    let r = resend(&ids[0], &owner, json!({"send_despite_bounce": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["email_status"], "sent", "{r:?}");
    assert_ne!(message_to(&h, "gone@example.test"), old);
    let stale = h
        .state
        .service
        .record_mail_event(&MailEvent {
            invitation_id: old.1.clone(),
            org_id: OrgId::parse(&org).unwrap(),
            message_id: old.0.clone(),
            kind: complaint,
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(stale, Stale);
    assert_eq!(
        event(&h, &org, "gone@example.test", delivered).await,
        Recorded(Delivered)
    );
    // Another organization's id in the event: as unknown.
    let (message_id, invitation_id) = message_to(&h, "ok@example.test");
    let other = MailEvent {
        invitation_id,
        org_id: OrgId::from_uuid(uuid::Uuid::now_v7()),
        message_id,
        kind: complaint,
        at: chrono::Utc::now(),
    };
    let outcome = h.state.service.record_mail_event(&other).await.unwrap();
    assert_eq!(outcome, UnknownInvitation);
}
