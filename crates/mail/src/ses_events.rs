//! SES delivery events as EventBridge delivers them (`source` `aws.ses`, `detail-type`
//! `Email Delivered` / `Email Bounced` / `Email Complaint Received`, `detail` = the SES event
//! record), parsed into the domain's provider-neutral [`MailEvent`].
//!
//! Only what Rollcall needs is read: `detail.eventType`, `detail.mail.messageId`, the message tags
//! `invitation_id` and `org_id` (set by [`SesMailer`](crate::SesMailer)), `bounce.bounceType`
//! and the event's timestamp. Recipient addresses are never read (nor logged).

use crate::ses::{TAG_INVITATION_ID, TAG_ORG_ID};
use chrono::{DateTime, Utc};
use rollcall_domain::ids::{InvitationId, OrgId};
use rollcall_domain::ports::{MailEvent, MailEventKind};
use serde::Deserialize;
use std::collections::HashMap;

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SES event: {0}")]
pub struct MalformedSesEvent(pub String);

/// What an EventBridge event is to Rollcall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesEvent {
    /// A delivery, bounce or complaint of an invitation email.
    Mail(MailEvent),
    /// Something else (another SES event type such as `Send` or `Open`, or a mail without
    /// Rollcall's tags): nothing to do. The reason, for the log.
    Ignored(&'static str),
}

#[derive(Deserialize)]
struct Envelope {
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    time: Option<DateTime<Utc>>,
    detail: Detail,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    event_type: Option<String>,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Stamped>,
    delivery: Option<Stamped>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Stamped {
    timestamp: Option<DateTime<Utc>>,
}

/// The SES event type of an EventBridge `detail-type`.
fn event_type_of(detail_type: &str) -> Option<&'static str> {
    match detail_type {
        "Email Delivered" => Some("Delivery"),
        "Email Bounced" => Some("Bounce"),
        "Email Complaint Received" => Some("Complaint"),
        _ => None,
    }
}

fn tag<'a>(tags: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    tags.get(name).and_then(|v| v.first()).map(String::as_str)
}

/// Reads one EventBridge event carrying an SES event.
pub fn parse_ses_event(event: &serde_json::Value) -> Result<SesEvent, MalformedSesEvent> {
    let env = Envelope::deserialize(event).map_err(|e| MalformedSesEvent(e.to_string()))?;
    if env.source.as_deref().is_some_and(|s| s != "aws.ses") {
        return Ok(SesEvent::Ignored("not an SES event"));
    }
    let d = env.detail;
    let event_type = match (d.event_type.as_deref(), env.detail_type.as_deref()) {
        (Some(t), _) => t.to_owned(),
        (None, Some(dt)) => match event_type_of(dt) {
            Some(t) => t.to_owned(),
            None => return Ok(SesEvent::Ignored("not a delivery, bounce or complaint")),
        },
        (None, None) => return Err(MalformedSesEvent("no eventType".into())),
    };
    let (kind, at) = match event_type.as_str() {
        "Delivery" => (
            MailEventKind::Delivered,
            d.delivery.and_then(|x| x.timestamp),
        ),
        "Bounce" => {
            let b = d
                .bounce
                .ok_or_else(|| MalformedSesEvent("a Bounce event without `bounce`".into()))?;
            (
                MailEventKind::Bounced {
                    permanent: b.bounce_type == "Permanent",
                },
                b.timestamp,
            )
        }
        "Complaint" => (
            MailEventKind::Complained,
            d.complaint.and_then(|x| x.timestamp),
        ),
        _ => return Ok(SesEvent::Ignored("not a delivery, bounce or complaint")),
    };
    let (Some(inv), Some(org)) = (
        tag(&d.mail.tags, TAG_INVITATION_ID),
        tag(&d.mail.tags, TAG_ORG_ID),
    ) else {
        return Ok(SesEvent::Ignored(
            "not an invitation email (no Rollcall tags)",
        ));
    };
    let invitation_id = InvitationId::parse(inv).map_err(|e| MalformedSesEvent(e.to_string()))?;
    let org_id = OrgId::parse(org).map_err(|e| MalformedSesEvent(e.to_string()))?;
    if d.mail.message_id.is_empty() {
        return Err(MalformedSesEvent("an empty messageId".into()));
    }
    let at = at
        .or(env.time)
        .or(d.mail.timestamp)
        .ok_or_else(|| MalformedSesEvent("no timestamp".into()))?;
    Ok(SesEvent::Mail(MailEvent {
        invitation_id,
        org_id,
        message_id: d.mail.message_id,
        kind,
        at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const INV: &str = "inv_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b";
    const ORG: &str = "org_0193a1b2c3d47e8f9a0b1c2d3e4f5a6c";

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../../tests/fixtures/ses/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let text = text
            .replace("{{EMAIL}}", "nobody@example.test")
            .replace("{{MESSAGE_ID}}", "0100018c-msg")
            .replace("{{INVITATION_ID}}", INV)
            .replace("{{ORG_ID}}", ORG);
        serde_json::from_str(&text).unwrap()
    }

    fn mail(v: &Value) -> MailEvent {
        match parse_ses_event(v).unwrap() {
            SesEvent::Mail(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_three_fixtures_parse() {
        let b = mail(&fixture("bounce"));
        assert_eq!(b.kind, MailEventKind::Bounced { permanent: true });
        assert_eq!(b.invitation_id.as_str(), INV);
        assert_eq!(b.org_id.as_str(), ORG);
        assert_eq!(b.message_id, "0100018c-msg");
        assert_eq!(b.at.to_rfc3339(), "2026-12-02T01:40:06.913+00:00");
        assert_eq!(mail(&fixture("complaint")).kind, MailEventKind::Complained);
        assert_eq!(mail(&fixture("delivery")).kind, MailEventKind::Delivered);
    }

    #[test]
    fn soft_bounces_other_events_and_untagged_mail() {
        let mut v = fixture("bounce");
        v["detail"]["bounce"]["bounceType"] = json!("Transient");
        assert_eq!(mail(&v).kind, MailEventKind::Bounced { permanent: false });
        let mut v = fixture("delivery");
        v["detail"]["eventType"] = json!("Open");
        v["detail-type"] = json!("Email Opened");
        assert!(matches!(parse_ses_event(&v), Ok(SesEvent::Ignored(_))));
        let mut v = fixture("delivery");
        v["detail"]["mail"]["tags"]
            .as_object_mut()
            .unwrap()
            .remove("invitation_id");
        assert!(matches!(parse_ses_event(&v), Ok(SesEvent::Ignored(_))));
        // Without eventType, the detail-type tells.
        let mut v = fixture("complaint");
        v["detail"].as_object_mut().unwrap().remove("eventType");
        assert_eq!(mail(&v).kind, MailEventKind::Complained);
    }

    #[test]
    fn malformed_events_are_errors() {
        for v in [
            json!({}),
            json!({"source": "aws.ses", "detail": {"eventType": "Bounce"}}),
            json!("not an object"),
        ] {
            assert!(parse_ses_event(&v).is_err(), "{v}");
        }
        let mut v = fixture("bounce");
        v["detail"]["mail"]["tags"]["invitation_id"] = json!(["not-an-id"]);
        assert!(parse_ses_event(&v).is_err());
        let mut v = fixture("bounce");
        v["detail"].as_object_mut().unwrap().remove("bounce");
        assert!(parse_ses_event(&v).is_err());
    }
}
