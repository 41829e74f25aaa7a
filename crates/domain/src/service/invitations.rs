//! Inviting by email: bulk invite with per-entry results, resend, list, revoke.

use super::validate::{self, optional_person_name, optional_phone};
use super::{Caller, OrgContext, RETRIES, Service, require_allowed_domain};
use crate::audit::{AuditAction, Origin, Target, TargetKind};
use crate::email::{Email, normalize_email};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{InvitationId, OrgId, PoolId};
use crate::model::{EmailStatus, Invitation, InvitationStatus, Organization, Pool, Timestamp};
use crate::page::{Page, PageRequest};
use crate::permissions::{GrantError, can_invite, can_manage_invitation, check_grants};
use crate::ports::{
    Conflict, InvitationEmail, InvitationFilter, InviteLimits, RateLimit, StoreError,
};
use crate::role::{Assignment, merge_assignments};
use crate::secret::SecretKind;
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Most entries in one bulk invite.
pub const MAX_BULK_ENTRIES: usize = 100;

/// One entry of a bulk invite.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkInviteEntry {
    /// Address to invite.
    pub email: String,
    /// Invitee's name.
    pub name: Option<String>,
    /// Invitee's phone.
    pub phone: Option<String>,
    /// Overrides the shared assignments for this entry.
    pub assignments: Option<Vec<Assignment>>,
}

/// `POST /orgs/{org}/invitations` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkInviteRequest {
    /// 1..=100 entries.
    pub invitations: Vec<BulkInviteEntry>,
    /// Shared assignments (`member` when absent).
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// 1..=30; the org's `invitation_expiry_days` when absent.
    pub expires_in_days: Option<u32>,
    /// Whether to email the invitees (default true). When false, the response carries accept URLs.
    pub send_email: Option<bool>,
    /// Mail an address even though its pending invitation's last email bounced for good or drew
    /// a complaint (organization managers only; otherwise such an entry is `email_undeliverable`).
    pub send_despite_bounce: Option<bool>,
}

/// `POST /orgs/{org}/invitations/{inv}/resend` body (all optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// New validity from now, 1..=30 days.
    pub expires_in_days: Option<u32>,
    /// Whether to email (default true); when false the response carries the accept URL.
    pub send_email: Option<bool>,
    /// Mail the address even though the last email bounced for good or drew a complaint
    /// (organization managers only; otherwise 409 `email_undeliverable`).
    pub send_despite_bounce: Option<bool>,
}

/// What happened to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    /// A new invitation.
    Invited,
    /// A pending invitation was updated and sent again.
    Resent,
    /// Not invited; see the error.
    Error,
}

/// The result of one bulk-invite entry.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteResult {
    /// The address as given.
    pub email: String,
    /// Outcome.
    pub outcome: InviteOutcome,
    /// The invitation, when invited or resent.
    pub invitation: Option<Invitation>,
    /// The error, when not.
    pub error: Option<Error>,
    /// The accept link with its token, only when no email was sent.
    pub accept_url: Option<String>,
}

impl InviteResult {
    fn error(email: &str, error: Error) -> Self {
        InviteResult {
            email: email.to_owned(),
            outcome: InviteOutcome::Error,
            invitation: None,
            error: Some(error),
            accept_url: None,
        }
    }
}

fn entry_error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::invalid(code, message)
}

pub(crate) fn invitation_not_found() -> Error {
    Error::not_found(ErrorCode::InvitationNotFound, "No such invitation")
}

impl Service {
    /// Invites up to 100 addresses; each entry gets its own result, never a failed batch.
    pub async fn bulk_invite(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &BulkInviteRequest,
    ) -> Result<Vec<InviteResult>> {
        let ctx = self.org_context(caller, org_id).await?;
        if !can_invite(&ctx.me, &ctx.org.settings) {
            return Err(Error::forbidden(
                "You are not allowed to invite people to this organization",
            ));
        }
        if req.invitations.is_empty() || req.invitations.len() > MAX_BULK_ENTRIES {
            return Err(validate::field_error(
                "invitations",
                &format!("must have 1 to {MAX_BULK_ENTRIES} entries"),
            ));
        }
        let shared = validate::assignments("assignments", &req.assignments)?;
        let days = match req.expires_in_days {
            Some(d) => validate::in_range("expires_in_days", d, 1, 30)?,
            None => ctx.org.settings.invitation_expiry_days,
        };
        let send_email = req.send_email.unwrap_or(true);
        let despite_bounce = despite_bounce(&ctx, req.send_despite_bounce)?;
        let pools = self.pool_map(org_id).await?;
        let mut seen = HashSet::new();
        let mut results = Vec::with_capacity(req.invitations.len());
        // Once the mail service failed for this request (timed out, unreachable, throttled or
        // 5xx after the mailer's own retries), the other mails are not tried: they are recorded
        // `failed` at once, to resend. A stalled mail service then costs one call's timeout per
        // request, not one per entry, and the request stays within the function timeout. A mail
        // refused for its own sake (an address SES rejects) does not stop the others.
        let mut mail_down = false;
        for entry in &req.invitations {
            let result = match self.check_entry(caller, &ctx, entry, &shared, &pools, &mut seen) {
                Ok(checked) => {
                    let input = InviteInput {
                        days,
                        send_email,
                        despite_bounce,
                        ..checked
                    };
                    match self
                        .invite_one(caller, &ctx, &input, &pools, &mut mail_down)
                        .await
                    {
                        Ok(r) => r,
                        Err(e) if e.kind == ErrorKind::Unavailable => return Err(e),
                        Err(e) => InviteResult::error(&entry.email, e),
                    }
                }
                Err(e) => InviteResult::error(&entry.email, e),
            };
            results.push(result);
        }
        Ok(results)
    }

    /// The per-entry checks that need no store round trip.
    fn check_entry(
        &self,
        caller: &Caller,
        ctx: &OrgContext,
        entry: &BulkInviteEntry,
        shared: &[Assignment],
        pools: &HashMap<PoolId, Pool>,
        seen: &mut HashSet<String>,
    ) -> Result<InviteInput> {
        let email = Email::parse(&entry.email).ok_or_else(|| {
            entry_error(ErrorCode::InvalidEmail, "This is not a valid email address")
        })?;
        if !seen.insert(email.normalized().to_owned()) {
            return Err(entry_error(
                ErrorCode::DuplicateEmail,
                "This address appears more than once in the request",
            ));
        }
        if email.normalized() == caller.user.email.normalized() {
            return Err(
                Error::forbidden("You cannot invite yourself").with_code(ErrorCode::SelfInvite)
            );
        }
        require_allowed_domain(&ctx.org, &email)?;
        let name = optional_person_name(entry.name.as_deref())?;
        let phone = optional_phone(entry.phone.as_deref())?;
        let assignments = match &entry.assignments {
            Some(list) => validate::assignments("assignments", list)?,
            None => shared.to_vec(),
        };
        match check_grants(&ctx.me, &ctx.org.settings, &assignments, pools) {
            Ok(()) => {}
            Err(GrantError::PoolNotFound(p)) => {
                return Err(Error::not_found(
                    ErrorCode::PoolNotFound,
                    format!("Pool {p} does not exist in this organization"),
                ));
            }
            Err(GrantError::Forbidden) => {
                return Err(Error::forbidden("You cannot grant these assignments")
                    .with_code(ErrorCode::ForbiddenAssignment));
            }
        }
        Ok(InviteInput {
            email,
            name,
            phone,
            assignments,
            days: 0,
            send_email: false,
            despite_bounce: false,
        })
    }

    /// Invites one checked address: new invitation, merge into the pending one, or replace an expired one.
    async fn invite_one(
        &self,
        caller: &Caller,
        ctx: &OrgContext,
        input: &InviteInput,
        pools: &HashMap<PoolId, Pool>,
        mail_down: &mut bool,
    ) -> Result<InviteResult> {
        let org = &ctx.org;
        let email = &input.email;
        if let Some(member) = self
            .store
            .find_membership_by_email(&org.id, email.normalized())
            .await?
        {
            let message = match member.status {
                crate::model::MemberStatus::Active => {
                    "This person is already a member; change their roles with the assignments endpoint"
                }
                crate::model::MemberStatus::Suspended => {
                    "This person is a suspended member of the organization"
                }
            };
            return Err(Error::conflict(ErrorCode::AlreadyMember, message));
        }
        for _ in 0..RETRIES {
            let now = self.clock.now();
            let secret = self.new_secret(SecretKind::Invitation)?;
            let expires_at = now + chrono::Duration::days(i64::from(input.days));
            let limits = InviteLimits {
                now,
                max_pending: Some(org.settings.max_pending_invitations),
                per_hour: Some(org.settings.invitations_per_hour),
                per_recipient_per_day: input
                    .send_email
                    .then_some(org.settings.emails_per_recipient_per_day),
            };
            let pending = self
                .store
                .find_pending_invitation(&org.id, email.normalized())
                .await?;
            // The address's last invitation email bounced for good or drew a complaint (also
            // when that invitation has expired meanwhile): not mailed again unless asked. (An
            // open one the caller may not manage is `invitation_pending` below, saying no more.)
            if let Some(p) = &pending
                && input.send_email
                && !input.despite_bounce
                && p.email_status.is_undeliverable()
                && (!p.is_open(now) || can_manage_invitation(&ctx.me, &org.settings, p, pools))
            {
                return Err(undeliverable(p.email_status));
            }
            let (outcome, written) = match pending {
                // A merge changes the invitation's inviter, token and link: the caller must be
                // allowed to manage it, as for resend and revoke.
                Some(p)
                    if p.is_open(now)
                        && !can_manage_invitation(&ctx.me, &org.settings, &p, pools) =>
                {
                    return Err(pending_not_manageable());
                }
                Some(p) if p.is_open(now) => {
                    let after = Invitation {
                        assignments: merge_assignments(&p.assignments, &input.assignments),
                        name: input.name.clone().or(p.name.clone()),
                        phone: input.phone.clone().or(p.phone.clone()),
                        inviter_id: caller.user.id.clone(),
                        token_hash: secret.hash.clone(),
                        expires_at,
                        updated_at: now,
                        version: p.version + 1,
                        ..unsent(&p, input.send_email)
                    };
                    let limits = InviteLimits {
                        max_pending: None,
                        per_hour: None,
                        ..limits
                    };
                    let res = self
                        .audited(
                            &caller.origin(),
                            org,
                            AuditAction::InvitationResent,
                            Target::new(TargetKind::Invitation, &p.id),
                            json!({
                                "email": p.email.to_string(),
                                "assignments": { "before": p.assignments, "after": after.assignments },
                                "send_email": input.send_email,
                                "despite": (input.send_email && p.email_status.is_undeliverable())
                                    .then_some(p.email_status),
                            }),
                        )
                        .update_invitation(&p, &after, Some(&limits))
                        .await;
                    (InviteOutcome::Resent, res.map(|()| after))
                }
                replaces => {
                    // Replacing an expired invitation without mail keeps the address guarded.
                    let email_status = match &replaces {
                        Some(r) if !input.send_email && r.email_status.is_undeliverable() => {
                            r.email_status
                        }
                        _ => EmailStatus::NotSent,
                    };
                    let inv = Invitation {
                        id: InvitationId::from_uuid(Uuid::now_v7()),
                        org_id: org.id.clone(),
                        email: email.clone(),
                        name: input.name.clone(),
                        phone: input.phone.clone(),
                        assignments: input.assignments.clone(),
                        inviter_id: caller.user.id.clone(),
                        status: InvitationStatus::Pending,
                        email_status,
                        email_message_id: None,
                        token_hash: secret.hash.clone(),
                        expires_at,
                        created_at: now,
                        updated_at: now,
                        accepted_at: None,
                        accepted_by: None,
                        version: 1,
                    };
                    let res = self
                        .audited(
                            &caller.origin(),
                            org,
                            AuditAction::InvitationCreated,
                            Target::new(TargetKind::Invitation, &inv.id),
                            json!({
                                "email": inv.email.to_string(),
                                "assignments": inv.assignments,
                                "expires_at": inv.expires_at,
                                "send_email": input.send_email,
                                "replaced": replaces.as_ref().map(|r| &r.id),
                            }),
                        )
                        .create_invitation(&inv, replaces.as_ref(), &limits)
                        .await;
                    (InviteOutcome::Invited, res.map(|()| inv))
                }
            };
            let written = match written {
                Ok(inv) => inv,
                Err(StoreError::Conflict(
                    Conflict::Stale | Conflict::PendingInvitationExists(_),
                )) => continue,
                Err(StoreError::Conflict(Conflict::RateLimited(l))) => {
                    return Err(rate_limited_entry(l));
                }
                Err(e) => return Err(e.into()),
            };
            let invitation = self
                .deliver(
                    caller,
                    org,
                    written,
                    &secret.plain,
                    input.send_email,
                    pools,
                    mail_down,
                )
                .await?;
            let accept_url = (!input.send_email).then(|| self.accept_url(&secret.plain));
            return Ok(InviteResult {
                email: email.as_str().to_owned(),
                outcome,
                invitation: Some(invitation),
                error: None,
                accept_url,
            });
        }
        Err(Error::conflict(
            ErrorCode::ConcurrentModification,
            "The invitation changed while it was being written; try again",
        ))
    }

    /// Sends the email (when asked) and records how it went. A mail failure leaves the invitation
    /// pending with `email_status: failed`, so it can be resent. With `mail_down` set (the mail
    /// service failed earlier in the same request) the mail is not tried and recorded as failed;
    /// a failure of the mail service itself sets it.
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        caller: &Caller,
        org: &Organization,
        invitation: Invitation,
        token: &str,
        send_email: bool,
        pools: &HashMap<PoolId, Pool>,
        mail_down: &mut bool,
    ) -> Result<Invitation> {
        if !send_email {
            return Ok(invitation);
        }
        let mail = InvitationEmail {
            invitation_id: invitation.id.clone(),
            org_id: invitation.org_id.clone(),
            to: invitation.email.clone(),
            invitee_name: invitation.name.clone(),
            inviter: caller
                .user
                .name
                .clone()
                .unwrap_or_else(|| caller.user.email.to_string()),
            org_name: org.name.clone(),
            roles: invitation
                .assignments
                .iter()
                .map(|a| {
                    (
                        a.role,
                        a.pool_id
                            .as_ref()
                            .and_then(|p| pools.get(p))
                            .map(|p| p.name.clone()),
                    )
                })
                .collect(),
            token: token.to_owned(),
            expires_at: invitation.expires_at,
        };
        let (status, message_id) = if *mail_down {
            tracing::warn!(invitation = %invitation.id, "invitation email not tried: the mail service failed earlier in this request");
            (EmailStatus::Failed, None)
        } else {
            match self.mailer.send_invitation(&mail).await {
                Ok(sent) => (EmailStatus::Sent, Some(sent.message_id)),
                Err(e) => {
                    tracing::warn!(invitation = %invitation.id, error = %e, "invitation email failed");
                    *mail_down |= e.is_unavailable();
                    (EmailStatus::Failed, None)
                }
            }
        };
        let after = Invitation {
            email_status: status,
            email_message_id: message_id,
            updated_at: self.clock.now(),
            version: invitation.version + 1,
            ..invitation.clone()
        };
        match self
            .store
            .update_invitation(&invitation, &after, None)
            .await
        {
            Ok(()) => Ok(after),
            // The invitation stays valid; only its recorded email status is behind.
            Err(e) => {
                tracing::warn!(invitation = %invitation.id, error = %e, "could not record email status");
                Ok(Invitation {
                    email_status: status,
                    ..invitation
                })
            }
        }
    }

    /// A new token, a new email and optionally a new expiry for a pending invitation.
    pub async fn resend_invitation(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &InvitationId,
        req: &ResendRequest,
    ) -> Result<(Invitation, Option<String>)> {
        let ctx = self.org_context(caller, org_id).await?;
        let pools = self.pool_map(org_id).await?;
        let before = self.manageable_invitation(&ctx, id, &pools).await?;
        let now = self.clock.now();
        if !before.is_open(now) {
            return Err(self
                .refuse_closed(&caller.origin(), &ctx.org, &before)
                .await);
        }
        // Made before the organization limited its domains: kept pending, not sent again.
        require_allowed_domain(&ctx.org, &before.email)?;
        let days = match req.expires_in_days {
            Some(d) => validate::in_range("expires_in_days", d, 1, 30)?,
            None => ctx.org.settings.invitation_expiry_days,
        };
        let send_email = req.send_email.unwrap_or(true);
        let despite_bounce = despite_bounce(&ctx, req.send_despite_bounce)?;
        if send_email && !despite_bounce && before.email_status.is_undeliverable() {
            return Err(undeliverable(before.email_status));
        }
        let secret = self.new_secret(SecretKind::Invitation)?;
        let after = Invitation {
            token_hash: secret.hash.clone(),
            expires_at: now + chrono::Duration::days(i64::from(days)),
            updated_at: now,
            version: before.version + 1,
            ..unsent(&before, send_email)
        };
        let limits = InviteLimits {
            now,
            max_pending: None,
            per_hour: None,
            per_recipient_per_day: send_email
                .then_some(ctx.org.settings.emails_per_recipient_per_day),
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::InvitationResent,
            Target::new(TargetKind::Invitation, &before.id),
            json!({
                "email": before.email.to_string(),
                "expires_at": { "before": before.expires_at, "after": after.expires_at },
                "send_email": send_email,
                // A manager's explicit choice to mail an address that bounced or complained.
                "despite": (send_email && before.email_status.is_undeliverable())
                    .then_some(before.email_status),
            }),
        )
        .update_invitation(&before, &after, Some(&limits))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::Stale) => Error::conflict(
                ErrorCode::ConcurrentModification,
                "The invitation changed while it was being resent; try again",
            ),
            other => other.into(),
        })?;
        let invitation = self
            .deliver(
                caller,
                &ctx.org,
                after,
                &secret.plain,
                send_email,
                &pools,
                &mut false,
            )
            .await?;
        Ok((
            invitation,
            (!send_email).then(|| self.accept_url(&secret.plain)),
        ))
    }

    /// Invitations of the organization the caller may manage, newest first.
    pub async fn list_invitations(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        status: Option<InvitationStatus>,
        email: Option<&str>,
        email_status: Option<EmailStatus>,
        page: &PageRequest,
    ) -> Result<Page<Invitation>> {
        let ctx = self.org_context(caller, org_id).await?;
        if !can_invite(&ctx.me, &ctx.org.settings) {
            return Err(Error::forbidden(
                "You are not allowed to see the organization's invitations",
            ));
        }
        let filter = InvitationFilter {
            status,
            email: email.map(normalize_email),
            email_status,
        };
        let page = self
            .store
            .list_invitations(org_id, &filter, self.clock.now(), page)
            .await?;
        let items = if crate::permissions::is_org_manager(&ctx.me) {
            page.items
        } else {
            let pools = self.pool_map(org_id).await?;
            page.items
                .into_iter()
                .filter(|i| can_manage_invitation(&ctx.me, &ctx.org.settings, i, &pools))
                .collect()
        };
        Ok(Page {
            items: self
                .record_expiries(&caller.origin(), &ctx.org, items)
                .await,
            next_cursor: page.next_cursor,
        })
    }

    /// Revokes a pending (or expired, still stored as pending) invitation.
    pub async fn revoke_invitation(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &InvitationId,
    ) -> Result<()> {
        let ctx = self.org_context(caller, org_id).await?;
        let pools = self.pool_map(org_id).await?;
        let before = self.manageable_invitation(&ctx, id, &pools).await?;
        if before.status != InvitationStatus::Pending {
            return Err(not_pending(&before, self.clock.now()));
        }
        self.close_as(
            &caller.origin(),
            &ctx.org,
            &before,
            InvitationStatus::Revoked,
        )
        .await
        .map(drop)
    }

    /// An invitation of the org that the caller may manage; 404 otherwise (403 if they may not invite).
    async fn manageable_invitation(
        &self,
        ctx: &OrgContext,
        id: &InvitationId,
        pools: &HashMap<PoolId, Pool>,
    ) -> Result<Invitation> {
        if !can_invite(&ctx.me, &ctx.org.settings) {
            return Err(Error::forbidden(
                "You are not allowed to manage the organization's invitations",
            ));
        }
        match self.store.get_invitation(id).await? {
            Some(inv)
                if inv.org_id == ctx.org.id
                    && can_manage_invitation(&ctx.me, &ctx.org.settings, &inv, pools) =>
            {
                Ok(inv)
            }
            _ => Err(invitation_not_found()),
        }
    }
}

/// The checked fields of one entry, with the request-wide expiry and mail choice.
struct InviteInput {
    email: Email,
    name: Option<String>,
    phone: Option<String>,
    assignments: Vec<Assignment>,
    days: u32,
    send_email: bool,
    despite_bounce: bool,
}

/// `send_despite_bounce` of a request: only organization managers may set it (403 otherwise).
fn despite_bounce(ctx: &OrgContext, asked: Option<bool>) -> Result<bool> {
    let asked = asked.unwrap_or(false);
    if asked && !crate::permissions::is_org_manager(&ctx.me) {
        return Err(Error::forbidden(
            "Only organization managers may mail an address that bounced or complained",
        ));
    }
    Ok(asked)
}

/// 409 `email_undeliverable`: the last email to the address bounced for good or drew a complaint.
fn undeliverable(status: EmailStatus) -> Error {
    let why = match status {
        EmailStatus::Complained => "its recipient marked the last invitation email as spam",
        _ => "the last invitation email bounced: the address does not accept mail",
    };
    Error::conflict(
        ErrorCode::EmailUndeliverable,
        format!(
            "This address is not mailed again because {why}; an organization manager can send anyway with send_despite_bounce"
        ),
    )
    .with_details(serde_json::json!({ "email_status": status.as_str() }))
}

/// The invitation before a new token is written: not (yet) sent, with no message. Without a
/// mail, a bounce or complaint is kept, so the address stays guarded until someone mails it
/// again on purpose.
fn unsent(before: &Invitation, send_email: bool) -> Invitation {
    if !send_email && before.email_status.is_undeliverable() {
        return before.clone();
    }
    Invitation {
        email_status: EmailStatus::NotSent,
        email_message_id: None,
        ..before.clone()
    }
}

/// The entry error for an address whose pending invitation the caller may not manage (and so
/// may not merge into).
fn pending_not_manageable() -> Error {
    Error::conflict(
        ErrorCode::InvitationPending,
        "This address has a pending invitation that you may not change; an organization manager can resend or revoke it",
    )
}

fn rate_limited_entry(limit: RateLimit) -> Error {
    Error::rate_limited(limit)
}

/// Most expiries one request records, one after another (each is one transaction that also
/// updates the organization's pending count, so they are not run at once); the rest are left
/// for the next request.
const EXPIRIES_PER_REQUEST: usize = 10;

/// No expiry is started after this much of a request's time has gone to recording them.
const EXPIRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `inv` is past its expiry and still stored as pending, so that the request meeting it
/// records the expiry. Not one whose last mail bounced or drew a complaint: kept pending, it
/// keeps its address guarded (a new invitation is not mailed there unless a manager asks), and
/// its expiry is recorded when a new invitation replaces it.
fn expiry_due(inv: &Invitation, now: Timestamp) -> bool {
    inv.status == InvitationStatus::Pending
        && !inv.is_open(now)
        && !inv.email_status.is_undeliverable()
}

impl Service {
    /// Records, once, that an invitation still stored as pending is past its expiry
    /// ([`expiry_due`]): it is closed as `expired` (its address's slot released, no longer
    /// counted as pending) with an `invitation.expired` entry, the system acting within the
    /// request that met it. Returns the invitation as it now stands. A write that fails or
    /// loses a race (another request recorded it, a resend renewed it) is left for the next
    /// request: what is shown is the same either way, so the request never fails for it.
    pub(crate) async fn record_expiry(
        &self,
        origin: &Origin,
        org: &Organization,
        inv: Invitation,
    ) -> Invitation {
        let now = self.clock.now();
        if !expiry_due(&inv, now) {
            return inv;
        }
        let after = inv.closed(InvitationStatus::Expired, now);
        let recorded = self.audited(
            &origin.as_system(),
            org,
            AuditAction::InvitationExpired,
            Target::new(TargetKind::Invitation, &inv.id),
            json!({ "email": inv.email.to_string(), "expires_at": inv.expires_at }),
        );
        match recorded.close_invitation(&inv, &after).await {
            Ok(()) => after,
            Err(StoreError::Conflict(c)) => {
                tracing::debug!(invitation = %inv.id, conflict = ?c, "expiry recorded or renewed meanwhile");
                inv
            }
            Err(e) => {
                tracing::warn!(invitation = %inv.id, error = %e, "expiry not recorded; the next request tries again");
                inv
            }
        }
    }

    /// [`Service::record_expiry`] for the invitations of a page that need it, one after another,
    /// within [`EXPIRIES_PER_REQUEST`] and [`EXPIRY_BUDGET`].
    async fn record_expiries(
        &self,
        origin: &Origin,
        org: &Organization,
        invitations: Vec<Invitation>,
    ) -> Vec<Invitation> {
        let started = std::time::Instant::now();
        let mut recorded = 0;
        let mut out = Vec::with_capacity(invitations.len());
        for inv in invitations {
            if recorded < EXPIRIES_PER_REQUEST
                && started.elapsed() < EXPIRY_BUDGET
                && expiry_due(&inv, self.clock.now())
            {
                recorded += 1;
                out.push(self.record_expiry(origin, org, inv).await);
            } else {
                out.push(inv);
            }
        }
        out
    }

    /// The error for acting on an invitation that is no longer open ([`not_pending`]), once its
    /// expiry is recorded if that is why ([`Service::record_expiry`]).
    pub(crate) async fn refuse_closed(
        &self,
        origin: &Origin,
        org: &Organization,
        inv: &Invitation,
    ) -> Error {
        let inv = self.record_expiry(origin, org, inv.clone()).await;
        not_pending(&inv, self.clock.now())
    }

    /// Closes a pending invitation as `status` (declined, revoked). One that changed meanwhile
    /// but is still pending (a resend, a delivery report) is closed as it now is — for a revoke
    /// also when it has expired; one that closed meanwhile answers the error of what it became
    /// ([`not_pending`]: accepted, declined or revoked, expired).
    pub(crate) async fn close_as(
        &self,
        origin: &Origin,
        org: &Organization,
        before: &Invitation,
        status: InvitationStatus,
    ) -> Result<Invitation> {
        let action = match status {
            InvitationStatus::Declined => AuditAction::InvitationDeclined,
            _ => AuditAction::InvitationRevoked,
        };
        let mut before = before.clone();
        for _ in 0..RETRIES {
            let after = before.closed(status, self.clock.now());
            let recorded = self.audited(
                origin,
                org,
                action,
                Target::new(TargetKind::Invitation, &before.id),
                json!({ "email": before.email.to_string(), "assignments": before.assignments }),
            );
            match recorded.close_invitation(&before, &after).await {
                Ok(()) => return Ok(after),
                Err(StoreError::Conflict(Conflict::InvitationNotPending | Conflict::Stale)) => {
                    let now = self.clock.now();
                    match self.store.get_invitation(&before.id).await? {
                        Some(current)
                            if current.is_open(now)
                                || (status == InvitationStatus::Revoked
                                    && current.status == InvitationStatus::Pending) =>
                        {
                            before = current;
                        }
                        Some(current) => {
                            return Err(self.refuse_closed(origin, org, &current).await);
                        }
                        None => return Err(invitation_not_found()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            ErrorCode::InvitationNotPending,
            "The invitation kept changing while it was being closed; try again",
        ))
    }
}

/// The error for acting on an invitation that is no longer pending.
pub(crate) fn not_pending(inv: &Invitation, now: Timestamp) -> Error {
    match inv.effective_status(now) {
        InvitationStatus::Expired => Error::new(
            ErrorKind::Gone,
            ErrorCode::InvitationExpired,
            "The invitation has expired",
        ),
        InvitationStatus::Accepted => Error::conflict(
            ErrorCode::InvitationAlreadyUsed,
            "The invitation has already been accepted",
        ),
        _ => Error::conflict(
            ErrorCode::InvitationNotPending,
            "The invitation is no longer pending",
        ),
    }
}
