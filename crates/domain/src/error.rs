//! The errors a use case returns, each with a stable code; the API maps kinds to statuses.

use crate::ports::{Conflict, RateLimit, StoreError};
use serde_json::Value;

/// The broad class of an error; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: malformed or invalid input.
    Invalid,
    /// 401: no or invalid identity.
    Unauthenticated,
    /// 403: not allowed.
    Forbidden,
    /// 404: not found (also for other organizations' resources).
    NotFound,
    /// 409: conflicts with the current state.
    Conflict,
    /// 410: existed but is gone (expired).
    Gone,
    /// 422: breaks a semantic rule.
    Unprocessable,
    /// 429: rate limited.
    RateLimited,
    /// 503: a dependency failed.
    Unavailable,
}

/// A use-case error: kind, stable snake_case code, human message and optional details.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// Class.
    pub kind: ErrorKind,
    /// Stable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Machine-readable details.
    pub details: Option<Value>,
}

/// Use-case result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Error {
            kind,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 `validation_error` (or another code) about input.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }

    /// 404 with a resource-specific code such as `pool_not_found`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// 409 with a specific code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// 409 `last_organization_manager`: a change would leave the organization without an active
    /// organization manager.
    pub fn last_manager() -> Self {
        Self::conflict(
            "last_organization_manager",
            "The organization must keep at least one active organization manager",
        )
    }

    /// 503 `service_unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, "service_unavailable", message)
    }

    /// 429 `rate_limited` for a limit.
    pub fn rate_limited(limit: RateLimit) -> Self {
        let message = match limit {
            RateLimit::PendingInvitations => {
                "The organization has as many pending invitations as its settings allow"
            }
            RateLimit::InvitationsPerHour => {
                "The organization has sent as many invitations this hour as its settings allow"
            }
            RateLimit::EmailsPerRecipientPerDay => {
                "This address has received as many invitation emails today as the settings allow"
            }
        };
        Self::new(ErrorKind::RateLimited, "rate_limited", message)
    }
}

impl From<StoreError> for Error {
    /// The default translation of store failures; use cases translate the conflicts they expect
    /// before falling back on this.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                Error::unavailable("The data store is unavailable; try again shortly")
            }
            StoreError::Corrupt(m) => {
                tracing::error!(error = %m, "corrupt record");
                Error::unavailable("A stored record could not be read")
            }
            StoreError::InvalidCursor => {
                Error::invalid("invalid_cursor", "The cursor is not valid for this list")
            }
            StoreError::Conflict(c) => conflict_error(c),
        }
    }
}

/// The default error for each store conflict.
fn conflict_error(c: Conflict) -> Error {
    match c {
        Conflict::Stale => Error::conflict(
            "concurrent_modification",
            "The resource changed while the request ran; try again",
        ),
        Conflict::PoolNameTaken => {
            Error::conflict("pool_name_taken", "A sibling pool already has that name")
        }
        Conflict::PoolHasChildren => Error::conflict(
            "pool_has_children",
            "Only a pool without sub-pools can be deleted",
        ),
        Conflict::PoolLimit => Error::new(
            ErrorKind::Unprocessable,
            "pool_limit_reached",
            "The organization has as many pools as allowed",
        ),
        Conflict::ScimTokenLimit => Error::new(
            ErrorKind::Unprocessable,
            "scim_token_limit_reached",
            format!(
                "An organization can hold at most {} SCIM tokens; revoke one first",
                crate::service::MAX_SCIM_TOKENS
            ),
        ),
        Conflict::PoolMissing(p) => {
            Error::not_found("pool_not_found", format!("Pool {p} does not exist"))
        }
        Conflict::PendingInvitationExists(_) => Error::conflict(
            "invitation_pending",
            "A pending invitation for this email exists",
        ),
        Conflict::InvitationNotPending => Error::conflict(
            "invitation_already_used",
            "The invitation is no longer pending",
        ),
        Conflict::MembershipExists => Error::conflict(
            "already_member",
            "The user is already a member of the organization",
        ),
        Conflict::LastOrganizationManager => Error::last_manager(),
        Conflict::RateLimited(l) => Error::rate_limited(l),
        Conflict::LinkUnusable => Error::new(
            ErrorKind::Gone,
            "invite_link_unusable",
            "The invite link is revoked, expired or used up",
        ),
        Conflict::OrgMissing => {
            Error::not_found("organization_not_found", "The organization does not exist")
        }
        Conflict::UserNameTaken => Error::conflict(
            "user_name_taken",
            "Another member of the organization has this userName",
        ),
        Conflict::ExternalIdTaken => Error::conflict(
            "external_id_taken",
            "Another member of the organization has this externalId",
        ),
        Conflict::MemberEmailTaken => Error::conflict(
            "member_email_taken",
            "Another member of the organization has this email address",
        ),
        Conflict::DomainExists => {
            Error::conflict("domain_exists", "The organization already has this domain")
        }
        Conflict::DomainClaimed => Error::conflict(
            "domain_claimed",
            "Another organization has verified this domain",
        ),
    }
}
