//! Delivery events of invitation emails (SES `Delivery`, `Bounce`, `Complaint` in AWS; the local
//! outbox's simulation locally) recorded as the invitation's `email_status`.
//!
//! Cost per event: one `get_invitation` (GetItem) and, when the status changes, one
//! `update_invitation` (a transaction of two Puts: the invitation and its token copy). An event
//! that changes nothing (a duplicate, an older message, a soft bounce) writes nothing.
//!
//! Rules:
//! - The event must name the invitation's organization and its latest message
//!   (`email_message_id`): an event about an email sent before a resend is `Stale` and ignored,
//!   so it never overwrites the newer email's status.
//! - For the same message, the status only moves up `sent` < `delivered` < `bounced` <
//!   `complained`: a delivery arriving after the bounce or complaint of the same message (events
//!   are not ordered) changes nothing; a complaint after a delivery is recorded.
//! - `bounced` means a permanent (hard) bounce; a transient one changes nothing (SES retried it
//!   already, and the next mail may well arrive).
//! - Only a stored-pending invitation (expired ones included) is updated: once accepted,
//!   declined or revoked, an invitation never changes, and a late bounce is ignored.
//! - An unknown invitation (deleted by TTL, or another deployment's) is ignored with a log line,
//!   not an error, so the event is not retried forever.

use super::{RETRIES, Service};
use crate::error::Result;
use crate::model::{EmailStatus, Invitation, InvitationStatus};
use crate::ports::{Conflict, MailEvent, MailEventKind, StoreError};

/// What [`Service::record_mail_event`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEventOutcome {
    /// The invitation's `email_status` is now this.
    Recorded(EmailStatus),
    /// The event is about the latest email but changes nothing (a duplicate, a delivery after a
    /// bounce or complaint, a soft bounce).
    Unchanged,
    /// The event is about an older email of the invitation (a resend happened since).
    Stale,
    /// The invitation is no longer pending (accepted, declined, revoked): it never changes.
    Closed,
    /// No such invitation in the event's organization.
    UnknownInvitation,
    /// The invitation has no email recorded yet: its send is still being recorded (the event
    /// came early), or the event is about an email before a resend that is under way. Worth one
    /// retry later.
    NotYetRecorded,
}

impl MailEventOutcome {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded(_) => "recorded",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Closed => "closed",
            Self::UnknownInvitation => "unknown_invitation",
            Self::NotYetRecorded => "not_yet_recorded",
        }
    }
}

/// The order in which a message's status may move; a status never moves down.
fn rank(status: EmailStatus) -> u8 {
    match status {
        EmailStatus::NotSent | EmailStatus::Failed => 0,
        EmailStatus::Sent => 1,
        EmailStatus::Delivered => 2,
        EmailStatus::Bounced => 3,
        EmailStatus::Complained => 4,
    }
}

/// The status an event asks for, if any.
fn target(kind: MailEventKind) -> Option<EmailStatus> {
    match kind {
        MailEventKind::Delivered => Some(EmailStatus::Delivered),
        MailEventKind::Bounced { permanent: true } => Some(EmailStatus::Bounced),
        MailEventKind::Bounced { permanent: false } => None,
        MailEventKind::Complained => Some(EmailStatus::Complained),
    }
}

/// What to do with `event` given the stored invitation: the new status, or why nothing.
fn decide(
    inv: &Invitation,
    event: &MailEvent,
) -> std::result::Result<EmailStatus, MailEventOutcome> {
    if inv.org_id != event.org_id {
        return Err(MailEventOutcome::UnknownInvitation);
    }
    if inv.status != InvitationStatus::Pending {
        return Err(MailEventOutcome::Closed);
    }
    match inv.email_message_id.as_deref() {
        Some(id) if id == event.message_id => {}
        Some(_) => return Err(MailEventOutcome::Stale),
        None if inv.email_status == EmailStatus::NotSent => {
            return Err(MailEventOutcome::NotYetRecorded);
        }
        None => return Err(MailEventOutcome::Stale),
    }
    match target(event.kind) {
        Some(to) if rank(to) > rank(inv.email_status) => Ok(to),
        _ => Err(MailEventOutcome::Unchanged),
    }
}

impl Service {
    /// Records a delivery event of an invitation email as its `email_status` (see the module
    /// doc for the rules). Only a store failure is an error; everything else is an outcome.
    pub async fn record_mail_event(&self, event: &MailEvent) -> Result<MailEventOutcome> {
        for _ in 0..RETRIES {
            let Some(inv) = self.store.get_invitation(&event.invitation_id).await? else {
                return Ok(self.log_outcome(event, MailEventOutcome::UnknownInvitation));
            };
            let status = match decide(&inv, event) {
                Ok(s) => s,
                Err(outcome) => return Ok(self.log_outcome(event, outcome)),
            };
            let after = Invitation {
                email_status: status,
                updated_at: self.clock.now(),
                version: inv.version + 1,
                ..inv.clone()
            };
            match self.store.update_invitation(&inv, &after, None).await {
                Ok(()) => {
                    return Ok(self.log_outcome(event, MailEventOutcome::Recorded(status)));
                }
                // Changed meanwhile (a resend, another event, a close): decide again.
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::Error::conflict(
            crate::error::ErrorCode::ConcurrentModification,
            "The invitation kept changing while its email status was recorded",
        ))
    }

    fn log_outcome(&self, event: &MailEvent, outcome: MailEventOutcome) -> MailEventOutcome {
        tracing::info!(
            invitation = %event.invitation_id,
            org = %event.org_id,
            message_id = %event.message_id,
            event = ?event.kind,
            outcome = outcome.as_str(),
            status = ?match outcome { MailEventOutcome::Recorded(s) => Some(s.as_str()), _ => None },
            "mail event"
        );
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InvitationId, OrgId, UserId};

    fn inv(status: EmailStatus, message: Option<&str>) -> Invitation {
        let now = chrono::Utc::now();
        Invitation {
            id: InvitationId::from_uuid(uuid::Uuid::now_v7()),
            org_id: OrgId::from_uuid(uuid::Uuid::nil()),
            email: crate::email::Email::parse("a@example.test").unwrap(),
            name: None,
            phone: None,
            assignments: Vec::new(),
            inviter_id: UserId::from_uuid(uuid::Uuid::nil()),
            status: InvitationStatus::Pending,
            email_status: status,
            email_message_id: message.map(str::to_owned),
            token_hash: String::new(),
            expires_at: now,
            created_at: now,
            updated_at: now,
            accepted_at: None,
            accepted_by: None,
            version: 1,
        }
    }

    fn event(inv: &Invitation, message: &str, kind: MailEventKind) -> MailEvent {
        MailEvent {
            invitation_id: inv.id.clone(),
            org_id: inv.org_id.clone(),
            message_id: message.to_owned(),
            kind,
            at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_status_only_moves_up_for_the_latest_message() {
        use EmailStatus::*;
        use MailEventKind as K;
        let cases = [
            (Sent, K::Delivered, Ok(Delivered)),
            (Sent, K::Bounced { permanent: true }, Ok(Bounced)),
            (
                Sent,
                K::Bounced { permanent: false },
                Err(MailEventOutcome::Unchanged),
            ),
            (Delivered, K::Complained, Ok(Complained)),
            (Delivered, K::Bounced { permanent: true }, Ok(Bounced)),
            (Bounced, K::Delivered, Err(MailEventOutcome::Unchanged)),
            (Complained, K::Delivered, Err(MailEventOutcome::Unchanged)),
            (
                Complained,
                K::Bounced { permanent: true },
                Err(MailEventOutcome::Unchanged),
            ),
            (Bounced, K::Complained, Ok(Complained)),
            (Delivered, K::Delivered, Err(MailEventOutcome::Unchanged)),
        ];
        for (from, kind, want) in cases {
            let i = inv(from, Some("m1"));
            assert_eq!(
                decide(&i, &event(&i, "m1", kind)),
                want,
                "{from:?} + {kind:?}"
            );
        }
    }

    #[test]
    fn other_messages_orgs_and_closed_invitations_are_ignored() {
        let i = inv(EmailStatus::Sent, Some("m2"));
        let e = event(&i, "m1", MailEventKind::Complained);
        assert_eq!(decide(&i, &e), Err(MailEventOutcome::Stale));
        let mut other_org = event(&i, "m2", MailEventKind::Complained);
        other_org.org_id = OrgId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(
            decide(&i, &other_org),
            Err(MailEventOutcome::UnknownInvitation)
        );
        let mut accepted = inv(EmailStatus::Sent, Some("m1"));
        accepted.status = InvitationStatus::Accepted;
        let e = event(&accepted, "m1", MailEventKind::Bounced { permanent: true });
        assert_eq!(decide(&accepted, &e), Err(MailEventOutcome::Closed));
        // Sent but not yet recorded (or a resend under way): retry later.
        let sending = inv(EmailStatus::NotSent, None);
        let e = event(&sending, "m1", MailEventKind::Delivered);
        assert_eq!(decide(&sending, &e), Err(MailEventOutcome::NotYetRecorded));
        // A failed send has no message: any event is about an older one.
        let failed = inv(EmailStatus::Failed, None);
        let e = event(&failed, "m1", MailEventKind::Delivered);
        assert_eq!(decide(&failed, &e), Err(MailEventOutcome::Stale));
    }
}
