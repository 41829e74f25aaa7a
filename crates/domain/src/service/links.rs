//! Multi-use invite links and joining with one.

use super::validate;
use super::{Caller, RETRIES, Service, caller_already_member, require_allowed_domain};
use crate::audit::{AuditAction, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{InviteLinkId, OrgId};
use crate::model::{InviteLink, MemberSource, MemberStatus, Membership};
use crate::page::{Page, PageRequest};
use crate::permissions::{is_org_manager, link_role_allowed};
use crate::ports::{Conflict, MembershipWrite, StoreError};
use crate::role::Assignment;
use crate::secret::{SecretKind, hash_secret, looks_like, verify_secret};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// `POST /orgs/{org}/invite-links` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// `engineer`/`member` assignments given to those who join.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// 1..=365; no expiry when absent.
    pub expires_in_days: Option<u32>,
    /// 1..=100000; unlimited when absent.
    pub max_uses: Option<u32>,
    /// Domains allowed to join; any when empty.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
}

/// A created link with its token, shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedLink {
    /// The link.
    pub link: InviteLink,
    /// The secret token.
    pub token: String,
}

fn link_not_found() -> Error {
    Error::not_found(ErrorCode::InviteLinkNotFound, "No such invite link")
}

impl Service {
    /// Creates an invite link (organization managers only).
    pub async fn create_invite_link(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &CreateLinkRequest,
    ) -> Result<CreatedLink> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can create invite links",
            ));
        }
        let assignments = validate::assignments("assignments", &req.assignments)?;
        if !assignments.iter().all(link_role_allowed) {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::ForbiddenAssignment,
                "Invite links can grant only the engineer and member roles",
            ));
        }
        let pools = self.store.list_pools(org_id).await?;
        super::pools::require_pools_exist(&assignments, &pools)?;
        let now = self.clock.now();
        let expires_at = match req.expires_in_days {
            Some(d) => Some(
                now + chrono::Duration::days(i64::from(validate::in_range(
                    "expires_in_days",
                    d,
                    1,
                    365,
                )?)),
            ),
            None => None,
        };
        let max_uses = req
            .max_uses
            .map(|m| validate::in_range("max_uses", m, 1, 100_000))
            .transpose()?;
        let secret = self.new_secret(SecretKind::InviteLink)?;
        let link = InviteLink {
            id: InviteLinkId::from_uuid(Uuid::now_v7()),
            org_id: org_id.clone(),
            assignments,
            allowed_domains: validate::domains("allowed_domains", &req.allowed_domains)?,
            max_uses,
            uses: 0,
            expires_at,
            created_by: caller.user.id.clone(),
            created_at: now,
            revoked_at: None,
            token_hash: secret.hash,
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::InviteLinkCreated,
            Target::new(TargetKind::InviteLink, &link.id),
            json!({
                "assignments": link.assignments,
                "allowed_domains": link.allowed_domains,
                "max_uses": link.max_uses,
                "expires_at": link.expires_at,
            }),
        )
        .create_invite_link(&link)
        .await?;
        Ok(CreatedLink {
            link,
            token: secret.plain,
        })
    }

    /// The organization's links, newest first (organization managers only).
    pub async fn list_invite_links(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<InviteLink>> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can see invite links",
            ));
        }
        Ok(self.store.list_invite_links(org_id, page).await?)
    }

    /// Revokes a link (organization managers only).
    pub async fn revoke_invite_link(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &InviteLinkId,
    ) -> Result<()> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can revoke invite links",
            ));
        }
        let before = self
            .store
            .get_invite_link(org_id, id)
            .await?
            .ok_or_else(link_not_found)?;
        if before.revoked_at.is_some() {
            return Err(Error::conflict(
                ErrorCode::InviteLinkRevoked,
                "The invite link is already revoked",
            ));
        }
        let after = InviteLink {
            revoked_at: Some(self.clock.now()),
            ..before.clone()
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::InviteLinkRevoked,
            Target::new(TargetKind::InviteLink, &before.id),
            json!({ "uses": before.uses }),
        )
        .revoke_invite_link(&before, &after)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::Stale) => Error::conflict(
                ErrorCode::InviteLinkRevoked,
                "The invite link is already revoked",
            ),
            other => other.into(),
        })
    }

    /// Joins the link's organization with its assignments.
    /// Public preview of an invite link by token, before sign-in: the organization, the roles it
    /// gives (with pool names) and the domains it admits. Unknown tokens are 404
    /// `invite_link_not_found`; a revoked, expired or used-up link is 410 `invite_link_unusable`.
    /// Costs: the token lookup, then the organization and each named pool in parallel.
    pub async fn preview_invite_link(&self, token: &str) -> Result<InviteLinkPreview> {
        let link = self.link_by_token(token).await?;
        if !link.is_usable(self.clock.now()) {
            return Err(link_unusable());
        }
        let (org, pools) = futures_util::future::join(
            self.store.get_org(&link.org_id),
            self.named_pools(&link.org_id, &link.assignments),
        )
        .await;
        let org = org?.ok_or_else(link_not_found)?;
        Ok(InviteLinkPreview {
            org_name: org.name,
            pools: pools?,
            link,
        })
    }

    pub async fn join(&self, caller: &Caller, token: &str) -> Result<Membership> {
        let link = self.link_by_token(token).await?;
        let email = caller.verified_email().ok_or_else(|| {
            Error::new(
                ErrorKind::Forbidden,
                ErrorCode::EmailNotVerified,
                "Your identity provider has not verified your email address",
            )
        })?;
        let org = self
            .store
            .get_org(&link.org_id)
            .await?
            .ok_or_else(link_not_found)?;
        if !link.allows_domain(email) {
            return Err(
                Error::forbidden("This invite link is not for your email domain")
                    .with_code(ErrorCode::EmailDomainNotAllowed),
            );
        }
        require_allowed_domain(&org, email)?;
        for _ in 0..RETRIES {
            let now = self.clock.now();
            if !link.is_usable(now) {
                return Err(link_unusable());
            }
            if self
                .store
                .get_membership(&org.id, &caller.user.id)
                .await?
                .is_some()
            {
                return Err(caller_already_member());
            }
            let pools = self.store.list_pools(&org.id).await?;
            let (kept, required) = super::pools::on_existing_pools(&link.assignments, &pools);
            let membership = Membership {
                direct_assignments: None,
                groups: Vec::new(),
                org_id: org.id.clone(),
                user_id: caller.user.id.clone(),
                email: caller.user.email.clone(),
                name: caller.user.name.clone(),
                phone: None,
                status: MemberStatus::Active,
                source: MemberSource::InviteLink,
                external_id: None,
                assignments: kept,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            let write = MembershipWrite::Create(membership.clone());
            let recorded = self.audited(
                &caller.origin(),
                &org,
                AuditAction::MemberJoined,
                Target::new(TargetKind::Member, &membership.user_id),
                json!({
                    "invite_link_id": link.id,
                    "email": membership.email.to_string(),
                    "assignments": membership.assignments,
                }),
            );
            match recorded.join_with_link(&link, &write, &required, now).await {
                Ok(()) => return Ok(membership),
                Err(StoreError::Conflict(Conflict::PoolMissing(_))) => continue,
                Err(StoreError::Conflict(Conflict::LinkUnusable)) => return Err(link_unusable()),
                Err(StoreError::Conflict(Conflict::MembershipExists)) => {
                    return Err(caller_already_member());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            ErrorCode::ConcurrentModification,
            "The organization changed while you joined; try again",
        ))
    }

    async fn link_by_token(&self, token: &str) -> Result<InviteLink> {
        if !looks_like(SecretKind::InviteLink, token) {
            return Err(link_not_found());
        }
        match self
            .store
            .find_invite_link_by_token(&hash_secret(token))
            .await?
        {
            Some(link) if verify_secret(token, &link.token_hash) => Ok(link),
            _ => Err(link_not_found()),
        }
    }
}

/// What an invite link token shows before sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteLinkPreview {
    /// The link.
    pub link: InviteLink,
    /// Organization name.
    pub org_name: String,
    /// The pools its assignments name (id and name).
    pub pools: Vec<(crate::ids::PoolId, String)>,
}

fn link_unusable() -> Error {
    Error::new(
        ErrorKind::Gone,
        ErrorCode::InviteLinkUnusable,
        "The invite link is revoked, expired or used up",
    )
}
