//! Use cases: each public method is one request's worth of work, checking permissions first.

mod accept;
mod audit_log;
mod domains;
mod groups;
mod idempotency;
mod invitations;
mod linking;
mod links;
mod mail_events;
mod members;
mod orgs;
mod pools;
mod scim;
mod scim_tokens;
pub mod validate;

pub use accept::{InvitationPreview, MyInvitation};
pub use domains::{
    AddDomainRequest, DOMAIN_PENDING_DAYS, MAX_DOMAIN_CHECKS, MAX_ORG_DOMAINS, UpdateDomainRequest,
};
pub use groups::{
    GroupAttributes, GroupMember, MAX_GROUP_NAME_LEN, MAX_MEMBERS_PER_REQUEST, MemberOp,
};
pub use idempotency::IdempotentStart;
pub use invitations::{
    BulkInviteEntry, BulkInviteRequest, InviteOutcome, InviteResult, ResendRequest,
};
pub use linking::{MAX_PLACEHOLDERS_PER_EMAIL, ProvisionedMembership};
pub use links::{CreateLinkRequest, CreatedLink, InviteLinkPreview};
pub use mail_events::MailEventOutcome;
pub use members::RemovedMember;
pub use orgs::{MeView, MyMembership, OrgView, SettingsPatch, UpdateOrgRequest};
pub use pools::{CreatePoolRequest, UpdatePoolRequest};
pub use scim::{
    MAX_FILTER_SCAN, MAX_KEY_BYTES, Omitted, ScimKey, ScimMember, ScimMemberCommand, ScimOrg,
    ScimPage,
};
pub use scim_tokens::{
    CreateScimTokenRequest, CreatedScimToken, MAX_SCIM_TOKEN_DESCRIPTION_LEN, MAX_SCIM_TOKENS,
    SCIM_TOKEN_USE_RESOLUTION,
};

use crate::audit::{Actor, AuditAction, AuditEvent, Origin, RequestMeta, Target};
use crate::email::Email;
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{OrgId, UserId};
use crate::model::{MemberStatus, Membership, Organization, PLACEHOLDER_SUB_PREFIX, User};
use crate::ports::{Clock, Conflict, DnsTxt, Mailer, NoDns, Randomness, Store, StoreError};
use crate::secret::{IssuedSecret, SecretKind, issue_secret};
use std::sync::Arc;
use uuid::Uuid;

/// 403 `email_domain_not_allowed` unless the organization's `allowed_email_domains` admit `email`.
/// Checked whenever an address is let in or offered a way in (invite, resend, accept, join), so
/// invitations and links made before the setting changed obey it too.
pub(crate) fn require_allowed_domain(org: &Organization, email: &Email) -> Result<()> {
    if org.settings.allows_domain(email) {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "The organization admits only addresses of its allowed email domains, and {} is not one of them",
        email.domain()
    ))
    .with_code(ErrorCode::EmailDomainNotAllowed))
}

/// The identity claims of a request, as the JWT authorizer (or the local server) hands them over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// The identity provider's subject.
    pub sub: String,
    /// The email claim.
    pub email: Option<String>,
    /// Whether the provider verified the email.
    #[serde(default)]
    pub email_verified: bool,
    /// The name claim.
    pub name: Option<String>,
}

/// The signed-in person of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The stored user.
    pub user: User,
    /// Whether this request's email claim is verified.
    pub email_verified: bool,
    /// Where the request came from (for the audit log).
    pub request: RequestMeta,
}

impl Caller {
    /// The caller as the author of changes: the audit log's actor and request.
    pub fn origin(&self) -> Origin {
        Origin {
            actor: Actor::User {
                id: self.user.id.clone(),
                email: self.user.email.to_string(),
            },
            request: self.request.clone(),
        }
    }

    /// The caller's email if the provider verified it.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email_verified.then_some(&self.user.email)
    }
}

/// Static configuration of the use cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The page invitees land on; the token is appended as `?token=`.
    pub accept_url: String,
}

/// The use cases, over the ports.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    config: ServiceConfig,
    dns: Arc<dyn DnsTxt>,
}

/// An organization with the caller's membership in it, loaded for every org-scoped request.
pub(crate) struct OrgContext {
    pub org: Organization,
    pub me: Membership,
}

/// Most times a use case re-reads and retries after a concurrent change.
pub(crate) const RETRIES: usize = 3;

impl Service {
    /// Builds the use cases over the given adapters.
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
        config: ServiceConfig,
    ) -> Self {
        Service {
            store,
            mailer,
            clock,
            random,
            config,
            dns: Arc::new(NoDns),
        }
    }

    /// The DNS resolver domain verification uses (without one, verify calls are 503).
    pub fn with_dns(mut self, dns: Arc<dyn DnsTxt>) -> Self {
        self.dns = dns;
        self
    }

    /// The current time, from the service's clock (views derive `expired` from it).
    pub fn now(&self) -> crate::model::Timestamp {
        self.clock.now()
    }

    /// Resolves the request's claims to a user, creating the user on first sight of the subject.
    /// One key lookup when the user is known and unchanged.
    pub async fn identify(&self, claims: &Claims, request: &RequestMeta) -> Result<Caller> {
        let sub = claims.sub.trim();
        if sub.is_empty() || sub.len() > 255 || sub.starts_with(PLACEHOLDER_SUB_PREFIX) {
            return Err(unauthenticated("The token has no usable subject"));
        }
        let email = claims
            .email
            .as_deref()
            .and_then(Email::parse)
            .ok_or_else(|| unauthenticated("The token carries no valid email claim"))?;
        let name = claims.name.as_deref().and_then(validate::clean_person_name);
        let mut existing = self.store.get_user_by_sub(sub).await?;
        // A new account with a verified address: what organizations provisioned for it is its,
        // unless the address already belongs to an account (the same person signing in another
        // way): then it is offered for consent like to any existing account.
        let mut to_link = Vec::new();
        if existing.is_none() && claims.email_verified {
            let owners = self
                .store
                .list_users_by_email(email.normalized(), MAX_PLACEHOLDERS_PER_EMAIL)
                .await?;
            let has_account = owners.iter().any(|u| !u.is_placeholder());
            let (legacy, scoped): (Vec<User>, Vec<User>) = owners
                .into_iter()
                .filter(|u| {
                    u.is_placeholder()
                        && u.link_declined_at.is_none()
                        && u.email.normalized() == email.normalized()
                })
                .partition(|u| u.provisioned_by.is_none());
            if !has_account {
                // A placeholder stored before placeholders were one organization's may hold
                // several memberships: it becomes the account, as it did then.
                if let Some(oldest) = legacy.into_iter().next() {
                    existing = self.adopt_placeholder(sub, oldest).await?;
                }
                to_link = scoped;
            }
        }
        let user = match existing {
            Some(u)
                if u.email == email
                    && u.email_verified == claims.email_verified
                    && u.name == name =>
            {
                u
            }
            existing => {
                let candidate = User {
                    id: existing
                        .map(|u| u.id)
                        .unwrap_or_else(|| UserId::from_uuid(Uuid::now_v7())),
                    sub: sub.to_owned(),
                    email,
                    email_verified: claims.email_verified,
                    name,
                    created_at: self.clock.now(),
                    provisioned_by: None,
                    link_declined_at: None,
                };
                self.store.upsert_user(&candidate).await?
            }
        };
        if !to_link.is_empty() {
            self.link_new_account(&user, to_link, request).await;
        }
        Ok(Caller {
            user,
            email_verified: claims.email_verified,
            request: request.clone(),
        })
    }

    /// First sight of `sub` with a verified address that a placeholder from before placeholders
    /// were scoped to one organization holds: it becomes this subject's account, keeping its id
    /// and memberships. `None` when it was linked to another subject meanwhile.
    async fn adopt_placeholder(&self, sub: &str, placeholder: User) -> Result<Option<User>> {
        match self.store.link_user_subject(&placeholder, sub).await {
            Ok(linked) => {
                tracing::info!(user = %linked.id, "provisioned user signed in for the first time");
                Ok(Some(linked))
            }
            // Linked meanwhile (by a concurrent first request of this subject, or to another one):
            // whatever the subject resolves to now is the answer.
            Err(StoreError::Conflict(Conflict::Stale)) => {
                Ok(self.store.get_user_by_sub(sub).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Loads an organization and the caller's active membership; another organization's or an
    /// unknown id is 404 alike, a suspended membership 403.
    pub(crate) async fn org_context(&self, caller: &Caller, org_id: &OrgId) -> Result<OrgContext> {
        let not_found =
            || Error::not_found(ErrorCode::OrganizationNotFound, "No such organization");
        let (org, me) = futures_util::future::join(
            self.store.get_org(org_id),
            self.store.get_membership(org_id, &caller.user.id),
        )
        .await;
        let org = org?.ok_or_else(not_found)?;
        let me = me?.ok_or_else(not_found)?;
        if me.status != MemberStatus::Active {
            return Err(
                Error::forbidden("Your membership of this organization is suspended")
                    .with_code(ErrorCode::MemberSuspended),
            );
        }
        Ok(OrgContext { org, me })
    }

    /// The store, recording the change of its next write as `action` on `target` by `origin` in
    /// `org`'s audit log (in the same transaction), kept the organization's retention.
    pub(crate) fn audited(
        &self,
        origin: &Origin,
        org: &Organization,
        action: AuditAction,
        target: Target,
        details: serde_json::Value,
    ) -> Arc<dyn Store> {
        self.store.audited(AuditEvent::new(
            &org.id,
            origin,
            self.clock.now(),
            org.settings.audit_retention_days,
            action,
            target,
            details,
        ))
    }

    /// A new secret of `kind` from the random source.
    pub(crate) fn new_secret(&self, kind: SecretKind) -> Result<IssuedSecret> {
        let bytes = self.random.secret_bytes().map_err(|e| {
            tracing::error!(error = %e, "random source failed");
            Error::unavailable("The random source is unavailable")
        })?;
        Ok(issue_secret(kind, bytes))
    }

    /// The accept link carrying `token`.
    pub(crate) fn accept_url(&self, token: &str) -> String {
        crate::secret::link_with_token(&self.config.accept_url, token)
    }
}

/// 409 `already_member`: the caller is already a member of the organization they would join.
pub(crate) fn caller_already_member() -> Error {
    Error::conflict(
        ErrorCode::AlreadyMember,
        "You are already a member of this organization",
    )
}

/// 401 `unauthenticated`.
pub(crate) fn unauthenticated(message: &str) -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        ErrorCode::Unauthenticated,
        message,
    )
}

impl Error {
    /// Replaces the code, keeping kind and message.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
}
