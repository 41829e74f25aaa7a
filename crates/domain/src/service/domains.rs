//! Verified organization domains: organization managers add a domain, publish the TXT record it
//! names, and verify it; a verified domain belongs to one organization only, and may enroll the
//! people who sign in with its addresses (`automatic_invitation`).
//!
//! Costs: add is a list (the per-org bound) and one conditional write; verify is one read, one
//! DNS lookup and one write (two items when it verifies: the record and the global claim); the
//! sign-in side ([`Service::verified_domain_owner`], the automatic invitation of
//! `GET /me/invitations`) is one key lookup of the claim when the domain enrolls nobody.

use super::{Caller, OrgContext, RETRIES, Service};
use crate::audit::{AuditAction, Target, TargetKind};
use crate::email::{Email, normalize_domain};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{InvitationId, OrgId};
use crate::model::{EmailStatus, Invitation, InvitationStatus};
use crate::org_domain::{DomainState, Enrollment, OrgDomain, is_public_mail_domain};
use crate::page::PageRequest;
use crate::permissions::is_org_manager;
use crate::ports::{Conflict, InvitationFilter, InviteLimits, StoreError};
use crate::secret::SecretKind;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Days a domain may stay pending: a check that does not find the record after this moves it to
/// `failed`.
pub const DOMAIN_PENDING_DAYS: i64 = 7;
/// Checks that may miss the record before the domain is `failed`.
pub const MAX_DOMAIN_CHECKS: u32 = 100;
/// Most domains one organization may hold (in any state).
pub const MAX_ORG_DOMAINS: usize = 50;

/// `POST /orgs/{org}/domains` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    /// The domain (`acme.com`; Unicode names are taken in their IDNA ASCII form).
    pub domain: String,
}

/// `PATCH /orgs/{org}/domains/{domain}` body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    /// New enrollment mode.
    pub enrollment: Option<Enrollment>,
}

fn domain_not_found() -> Error {
    Error::not_found(
        ErrorCode::DomainNotFound,
        "No such domain in this organization",
    )
}

fn managers_only(what: &str) -> Error {
    Error::forbidden(format!(
        "Only organization managers can {what} the organization's domains"
    ))
}

fn concurrent() -> Error {
    Error::conflict(
        ErrorCode::ConcurrentModification,
        "The domain changed while the request ran; try again",
    )
}

fn claimed(domain: &str) -> Error {
    Error::conflict(
        ErrorCode::DomainClaimed,
        format!("Another organization has already verified {domain}"),
    )
    .with_details(serde_json::json!({ "domain": domain }))
}

/// A domain from a path segment: its IDNA ASCII form, or 404 (like a malformed id).
fn path_domain(raw: &str) -> Result<String> {
    normalize_domain(raw).ok_or_else(domain_not_found)
}

impl Service {
    /// The caller's organization context, for organization managers only.
    async fn domain_manager(&self, caller: &Caller, org: &OrgId, what: &str) -> Result<OrgContext> {
        let ctx = self.org_context(caller, org).await?;
        if !is_org_manager(&ctx.me) {
            return Err(managers_only(what));
        }
        Ok(ctx)
    }

    /// Adds a domain in state `pending`, with the TXT record to publish (organization managers).
    /// 400 `invalid_domain`, 422 `public_mail_domain`, 409 `domain_exists`, 422
    /// `domain_limit_reached`.
    pub async fn add_domain(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &AddDomainRequest,
    ) -> Result<OrgDomain> {
        let ctx = self.domain_manager(caller, org_id, "add").await?;
        let shown: String = req.domain.trim().chars().take(64).collect();
        let domain = normalize_domain(&req.domain).ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidDomain,
                format!("`{shown}` is not a domain name (e.g. acme.com)"),
            )
            .with_details(serde_json::json!({ "field": "domain" }))
        })?;
        if is_public_mail_domain(&domain) {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::PublicMailDomain,
                format!(
                    "{domain} is a public mail provider's domain; only a domain the organization owns can be verified"
                ),
            )
            .with_details(serde_json::json!({ "domain": domain })));
        }
        if self.store.list_org_domains(org_id).await?.len() >= MAX_ORG_DOMAINS {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::DomainLimitReached,
                format!("An organization can hold at most {MAX_ORG_DOMAINS} domains"),
            ));
        }
        let token = self.new_secret(SecretKind::DomainVerification)?;
        let now = self.clock.now();
        let record = OrgDomain {
            org_id: org_id.clone(),
            domain: domain.clone(),
            state: DomainState::Pending,
            verification_token: token.plain,
            enrollment: Enrollment::Manual,
            created_by: caller.user.id.clone(),
            created_at: now,
            updated_at: now,
            verified_at: None,
            verified_by: None,
            last_checked_at: None,
            last_check_reason: None,
            failed_checks: 0,
            version: 1,
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::DomainAdded,
            Target::new(TargetKind::Domain, &domain),
            json!({}),
        )
        .create_org_domain(&record)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::DomainExists) => Error::conflict(
                ErrorCode::DomainExists,
                format!("The organization already has {domain}"),
            ),
            e => e.into(),
        })?;
        tracing::info!(org = %org_id, domain = %domain, "domain added");
        Ok(record)
    }

    /// The organization's domains, by name (organization managers); a domain pending past
    /// [`DOMAIN_PENDING_DAYS`] shows as `failed` even before a verify call records it.
    pub async fn list_domains(&self, caller: &Caller, org_id: &OrgId) -> Result<Vec<OrgDomain>> {
        self.domain_manager(caller, org_id, "see").await?;
        let list = self.store.list_org_domains(org_id).await?;
        Ok(list.into_iter().map(|d| self.shown(d)).collect())
    }

    /// `d` with the state to show now ([`OrgDomain::effective_state`]).
    fn shown(&self, d: OrgDomain) -> OrgDomain {
        OrgDomain {
            state: d.effective_state(self.clock.now(), DOMAIN_PENDING_DAYS),
            ..d
        }
    }

    /// A domain of `org_id`, or 404 `domain_not_found`.
    async fn stored_domain(&self, org_id: &OrgId, domain: &str) -> Result<OrgDomain> {
        self.store
            .get_org_domain(org_id, domain)
            .await?
            .ok_or_else(domain_not_found)
    }

    /// Looks the domain's TXT record up and moves it to `verified`, or records why not (a missing
    /// record is not an error: the domain stays `pending`, or becomes `failed` past the bound).
    /// 409 `domain_claimed` when another organization holds it; 503 `dns_unavailable` when DNS
    /// does not answer (nothing is written).
    pub async fn verify_domain(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        raw_domain: &str,
    ) -> Result<OrgDomain> {
        let ctx = self.domain_manager(caller, org_id, "verify").await?;
        let domain = path_domain(raw_domain)?;
        for _ in 0..RETRIES {
            let before = self.stored_domain(org_id, &domain).await?;
            if before.state == DomainState::Verified {
                return Ok(before);
            }
            let name = before.record_name();
            let expected = before.record_value();
            let found = self.dns.txt_records(&name).await.map_err(|e| {
                tracing::warn!(domain = %domain, error = %e, "DNS lookup failed");
                Error::new(
                    ErrorKind::Unavailable,
                    ErrorCode::DnsUnavailable,
                    format!("The DNS lookup of {name} failed; try again shortly"),
                )
            })?;
            let now = self.clock.now();
            let matched = found.iter().any(|v| v.trim() == expected);
            let after = if matched {
                OrgDomain {
                    state: DomainState::Verified,
                    verified_at: Some(now),
                    verified_by: Some(caller.user.id.clone()),
                    last_checked_at: Some(now),
                    last_check_reason: None,
                    updated_at: now,
                    version: before.version + 1,
                    ..before.clone()
                }
            } else {
                let reason = if found.is_empty() {
                    format!("No TXT record found at {name}")
                } else {
                    format!("The TXT records at {name} do not contain the verification value")
                };
                let failed_checks = before.failed_checks.saturating_add(1);
                let expired = before.effective_state(now, DOMAIN_PENDING_DAYS)
                    == DomainState::Failed
                    || failed_checks >= MAX_DOMAIN_CHECKS;
                OrgDomain {
                    state: if expired {
                        DomainState::Failed
                    } else {
                        before.state
                    },
                    last_checked_at: Some(now),
                    last_check_reason: Some(reason),
                    failed_checks,
                    updated_at: now,
                    version: before.version + 1,
                    ..before.clone()
                }
            };
            let recorded = if matched {
                self.audited(
                    &caller.origin(),
                    &ctx.org,
                    AuditAction::DomainVerified,
                    Target::new(TargetKind::Domain, &domain),
                    json!({}),
                )
            } else {
                self.audited(
                    &caller.origin(),
                    &ctx.org,
                    AuditAction::DomainVerificationFailed,
                    Target::new(TargetKind::Domain, &domain),
                    json!({
                        "failed_checks": after.failed_checks,
                        "reason": after.last_check_reason,
                        "state": after.state,
                    }),
                )
            };
            match recorded.update_org_domain(&before, &after).await {
                Ok(()) => {
                    if matched {
                        tracing::info!(org = %org_id, domain = %domain, "domain verified");
                    }
                    return Ok(after);
                }
                Err(StoreError::Conflict(Conflict::DomainClaimed)) => {
                    return Err(claimed(&domain));
                }
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(concurrent())
    }

    /// Changes a domain's enrollment mode (organization managers). `automatic_invitation` needs a
    /// verified domain (422 `domain_not_verified`).
    pub async fn update_domain(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        raw_domain: &str,
        req: &UpdateDomainRequest,
    ) -> Result<OrgDomain> {
        let ctx = self.domain_manager(caller, org_id, "change").await?;
        let domain = path_domain(raw_domain)?;
        for _ in 0..RETRIES {
            let before = self.stored_domain(org_id, &domain).await?;
            let Some(enrollment) = req.enrollment.filter(|e| *e != before.enrollment) else {
                return Ok(self.shown(before));
            };
            if enrollment == Enrollment::AutomaticInvitation
                && before.state != DomainState::Verified
            {
                return Err(Error::new(
                    ErrorKind::Unprocessable,
                    ErrorCode::DomainNotVerified,
                    format!("Verify {domain} before enrolling its people automatically"),
                ));
            }
            let after = OrgDomain {
                enrollment,
                updated_at: self.clock.now(),
                version: before.version + 1,
                ..before.clone()
            };
            let recorded = self.audited(
                &caller.origin(),
                &ctx.org,
                AuditAction::DomainUpdated,
                Target::new(TargetKind::Domain, &domain),
                json!({ "enrollment": { "before": before.enrollment, "after": after.enrollment } }),
            );
            match recorded.update_org_domain(&before, &after).await {
                Ok(()) => return Ok(self.shown(after)),
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(concurrent())
    }

    /// Deletes a domain (organization managers); a verified domain's claim is released with it,
    /// so another organization may verify it.
    pub async fn delete_domain(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        raw_domain: &str,
    ) -> Result<()> {
        let ctx = self.domain_manager(caller, org_id, "delete").await?;
        let domain = path_domain(raw_domain)?;
        for _ in 0..RETRIES {
            let current = self.stored_domain(org_id, &domain).await?;
            let recorded = self.audited(
                &caller.origin(),
                &ctx.org,
                AuditAction::DomainRemoved,
                Target::new(TargetKind::Domain, &domain),
                json!({ "state": current.state }),
            );
            match recorded.delete_org_domain(&current).await {
                Ok(()) => {
                    tracing::info!(org = %org_id, domain = %domain, "domain deleted");
                    return Ok(());
                }
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(concurrent())
    }

    /// The organization that has verified `domain` (any spelling; IDNA ASCII form compared), if
    /// any: one key lookup.
    pub async fn verified_domain_owner(&self, domain: &str) -> Result<Option<OrgId>> {
        let Some(domain) = normalize_domain(domain) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_domain_claim(&domain)
            .await?
            .map(|c| c.org_id))
    }

    /// Whether `org` has verified the domain of `email`: one key lookup.
    pub async fn org_has_verified_domain(&self, org: &OrgId, email: &Email) -> Result<bool> {
        Ok(self
            .store
            .get_domain_claim(email.domain())
            .await?
            .is_some_and(|c| &c.org_id == org))
    }

    /// `automatic_invitation`: the pending invitation a verified address of an enrolling domain
    /// finds, made now if the person is not a member, has none pending, and has not declined one,
    /// had one revoked or accepted one before (a member who was removed, or left, is not invited
    /// back by itself). No email is sent. Returns the invitation it made.
    pub(crate) async fn offer_domain_invitation(
        &self,
        caller: &Caller,
        email: &Email,
    ) -> Result<Option<Invitation>> {
        let Some(claim) = self.store.get_domain_claim(email.domain()).await? else {
            return Ok(None);
        };
        if claim.enrollment != Enrollment::AutomaticInvitation {
            return Ok(None);
        }
        let (org, by_user, by_email) = futures_util::future::join3(
            self.store.get_org(&claim.org_id),
            self.store.get_membership(&claim.org_id, &caller.user.id),
            self.store
                .find_membership_by_email(&claim.org_id, email.normalized()),
        )
        .await;
        let Some(org) = org? else {
            return Ok(None);
        };
        if by_user?.is_some() || by_email?.is_some() || !org.settings.allows_domain(email) {
            return Ok(None);
        }
        let now = self.clock.now();
        let filter = InvitationFilter {
            status: None,
            email: Some(email.normalized().to_owned()),
            email_status: None,
        };
        let history = self
            .store
            .list_invitations(&org.id, &filter, now, &PageRequest::first(20))
            .await?;
        let refused = history.items.iter().any(|i| {
            i.is_open(now)
                || matches!(
                    i.status,
                    InvitationStatus::Declined
                        | InvitationStatus::Revoked
                        | InvitationStatus::Accepted
                )
        });
        if refused {
            return Ok(None);
        }
        let replaces = history
            .items
            .into_iter()
            .find(|i| i.status == InvitationStatus::Pending);
        let token = self.new_secret(SecretKind::Invitation)?;
        let inv = Invitation {
            id: InvitationId::from_uuid(Uuid::now_v7()),
            org_id: org.id.clone(),
            email: email.clone(),
            name: caller.user.name.clone(),
            phone: None,
            assignments: org.settings.scim_default_assignments.clone(),
            inviter_id: claim.verified_by.clone(),
            status: InvitationStatus::Pending,
            email_status: EmailStatus::NotSent,
            email_message_id: None,
            token_hash: token.hash,
            expires_at: now
                + chrono::Duration::days(i64::from(org.settings.invitation_expiry_days)),
            created_at: now,
            updated_at: now,
            accepted_at: None,
            accepted_by: None,
            version: 1,
        };
        let limits = InviteLimits {
            now,
            max_pending: Some(org.settings.max_pending_invitations),
            per_hour: None,
            per_recipient_per_day: None,
        };
        // Made by the domain's enrollment, not by the person reading their invitations.
        let recorded = self.audited(
            &caller.origin().as_system(),
            &org,
            AuditAction::InvitationCreated,
            Target::new(TargetKind::Invitation, &inv.id),
            json!({
                "email": inv.email.to_string(),
                "assignments": inv.assignments,
                "expires_at": inv.expires_at,
                "send_email": false,
                "replaced": replaces.as_ref().map(|r| &r.id),
                "automatic": { "domain": email.domain() },
            }),
        );
        match recorded
            .create_invitation(&inv, replaces.as_ref(), &limits)
            .await
        {
            Ok(()) => {
                tracing::info!(org = %org.id, invitation = %inv.id, "automatic invitation of a verified domain");
                Ok(Some(inv))
            }
            // Made by a concurrent request, or the organization is full: nothing to offer now.
            Err(StoreError::Conflict(
                Conflict::PendingInvitationExists(_) | Conflict::Stale | Conflict::RateLimited(_),
            )) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
