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

/// Defines [`ErrorCode`]: each variant with its stable snake_case code.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)*) => {
        /// Every stable error code Rollcall answers (`error.code` of a JSON error, or a bulk-invite
        /// entry's); the table of docs/api.md ("Error codes") lists the same set, and a test holds
        /// them equal.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    /// A field breaks a rule; `details.field` names it.
    ValidationError => "validation_error",
    /// An assignment list is malformed.
    InvalidAssignment => "invalid_assignment",
    /// The body is not JSON of the expected shape.
    InvalidJson => "invalid_json",
    /// The body could not be read.
    InvalidBody => "invalid_body",
    /// Unknown query parameter or bad value.
    InvalidQuery => "invalid_query",
    /// The cursor was not produced by this list.
    InvalidCursor => "invalid_cursor",
    /// Not a valid email address (bulk-invite entry).
    InvalidEmail => "invalid_email",
    /// The address appears more than once in the request (bulk-invite entry).
    DuplicateEmail => "duplicate_email",
    /// A malformed request answered outside the handlers.
    BadRequest => "bad_request",
    /// No, or no usable, bearer token.
    Unauthenticated => "unauthenticated",
    /// The caller's roles do not allow this.
    Forbidden => "forbidden",
    /// The caller's membership of the organization is suspended.
    MemberSuspended => "member_suspended",
    /// The token's email is not verified.
    EmailNotVerified => "email_not_verified",
    /// The invitation was sent to another address than the caller's.
    EmailMismatch => "email_mismatch",
    /// Inviting oneself (bulk-invite entry).
    SelfInvite => "self_invite",
    /// The email's domain is not allowed by the organization or the link.
    EmailDomainNotAllowed => "email_domain_not_allowed",
    /// An assignment the caller (or an invite link) may not grant.
    ForbiddenAssignment => "forbidden_assignment",
    /// No such organization, or the caller is not a member of it.
    OrganizationNotFound => "organization_not_found",
    /// No such pool in the organization.
    PoolNotFound => "pool_not_found",
    /// No such member in the organization.
    MemberNotFound => "member_not_found",
    /// No such invitation for this caller, or a token that no longer works.
    InvitationNotFound => "invitation_not_found",
    /// No such invite link, or an unknown link token.
    InviteLinkNotFound => "invite_link_not_found",
    /// No such SCIM token in the organization.
    ScimTokenNotFound => "scim_token_not_found",
    /// Not a domain name.
    InvalidDomain => "invalid_domain",
    /// The organization has no such domain.
    DomainNotFound => "domain_not_found",
    /// The organization already has this domain.
    DomainExists => "domain_exists",
    /// Another organization has verified this domain.
    DomainClaimed => "domain_claimed",
    /// A public mail provider's domain, which no organization can claim.
    PublicMailDomain => "public_mail_domain",
    /// The organization holds as many domains as allowed.
    DomainLimitReached => "domain_limit_reached",
    /// `automatic_invitation` needs a verified domain.
    DomainNotVerified => "domain_not_verified",
    /// The DNS lookup of the TXT record failed.
    DnsUnavailable => "dns_unavailable",
    /// No route has this path (or this function does not serve it).
    RouteNotFound => "route_not_found",
    /// The path exists, not with this method.
    MethodNotAllowed => "method_not_allowed",
    /// The request body did not arrive in time (local server).
    RequestTimeout => "request_timeout",
    /// The request names a host the local sign-in does not serve (local server).
    MisdirectedRequest => "misdirected_request",
    /// A sibling pool already has this name.
    PoolNameTaken => "pool_name_taken",
    /// Only a leaf pool can be deleted.
    PoolHasChildren => "pool_has_children",
    /// The person is already a member.
    AlreadyMember => "already_member",
    /// Another member of the organization has this email address.
    MemberEmailTaken => "member_email_taken",
    /// Another member of the organization has this SCIM userName.
    UserNameTaken => "user_name_taken",
    /// Another member of the organization has this SCIM externalId.
    ExternalIdTaken => "external_id_taken",
    /// The invitation has already been accepted.
    InvitationAlreadyUsed => "invitation_already_used",
    /// The invitation was declined or revoked (no longer pending).
    InvitationNotPending => "invitation_not_pending",
    /// The address bounced for good or complained: not mailed again unless an organization
    /// manager sets `send_despite_bounce`.
    EmailUndeliverable => "email_undeliverable",
    /// The link is already revoked.
    InviteLinkRevoked => "invite_link_revoked",
    /// The organization must keep an active organization manager.
    LastOrganizationManager => "last_organization_manager",
    /// The resource changed while the request ran.
    ConcurrentModification => "concurrent_modification",
    /// The address has a pending invitation the caller may not manage.
    InvitationPending => "invitation_pending",
    /// The invitation is past its expiry.
    InvitationExpired => "invitation_expired",
    /// The link is revoked, expired or used up.
    InviteLinkUnusable => "invite_link_unusable",
    /// The body is larger than accepted.
    PayloadTooLarge => "payload_too_large",
    /// A body was sent without a JSON `Content-Type`.
    UnsupportedMediaType => "unsupported_media_type",
    /// Pools nest too deep.
    PoolTooDeep => "pool_too_deep",
    /// The organization has as many pools as allowed.
    PoolLimitReached => "pool_limit_reached",
    /// No such group in the organization.
    GroupNotFound => "group_not_found",
    /// Another group of the organization has this displayName.
    GroupNameTaken => "group_name_taken",
    /// The organization has as many groups as allowed.
    GroupLimitReached => "group_limit_reached",
    /// The root pool cannot be deleted.
    RootPool => "root_pool",
    /// A pool's owner must be an active member.
    InvalidOwner => "invalid_owner",
    /// The successor must be another active organization manager.
    InvalidSuccessor => "invalid_successor",
    /// The organization holds as many SCIM tokens as allowed.
    ScimTokenLimitReached => "scim_token_limit_reached",
    /// A limit of the organization's settings is reached.
    RateLimited => "rate_limited",
    /// A server failure answered outside the handlers.
    InternalError => "internal_error",
    /// Another failure answered outside the handlers.
    RequestFailed => "request_failed",
    /// The data store (or the random source) is unavailable.
    ServiceUnavailable => "service_unavailable",
    /// The `Idempotency-Key` header is not 1 to 255 visible ASCII characters.
    InvalidIdempotencyKey => "invalid_idempotency_key",
    /// The `Idempotency-Key` was used for another request (method, path or body).
    IdempotencyKeyReused => "idempotency_key_reused",
    /// A request with this `Idempotency-Key` is still running.
    IdempotencyKeyInUse => "idempotency_key_in_use",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A use-case error: kind, stable snake_case code, human message and optional details.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// Class.
    pub kind: ErrorKind,
    /// Stable code.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// Machine-readable details.
    pub details: Option<Value>,
}

/// Use-case result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
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
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, ErrorCode::Forbidden, message)
    }

    /// 404 with a resource-specific code such as `pool_not_found`.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// 409 with a specific code.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// 409 `last_organization_manager`: a change would leave the organization without an active
    /// organization manager.
    pub fn last_manager() -> Self {
        Self::conflict(
            ErrorCode::LastOrganizationManager,
            "The organization must keep at least one active organization manager",
        )
    }

    /// 503 `service_unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            ErrorKind::Unavailable,
            ErrorCode::ServiceUnavailable,
            message,
        )
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
        Self::new(ErrorKind::RateLimited, ErrorCode::RateLimited, message)
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
            StoreError::InvalidCursor => Error::invalid(
                ErrorCode::InvalidCursor,
                "The cursor is not valid for this list",
            ),
            StoreError::Conflict(c) => conflict_error(c),
        }
    }
}

/// The default error for each store conflict.
fn conflict_error(c: Conflict) -> Error {
    match c {
        Conflict::Stale => Error::conflict(
            ErrorCode::ConcurrentModification,
            "The resource changed while the request ran; try again",
        ),
        Conflict::PoolNameTaken => Error::conflict(
            ErrorCode::PoolNameTaken,
            "A sibling pool already has that name",
        ),
        Conflict::PoolHasChildren => Error::conflict(
            ErrorCode::PoolHasChildren,
            "Only a pool without sub-pools can be deleted",
        ),
        Conflict::PoolLimit => Error::new(
            ErrorKind::Unprocessable,
            ErrorCode::PoolLimitReached,
            "The organization has as many pools as allowed",
        ),
        Conflict::ScimTokenLimit => Error::new(
            ErrorKind::Unprocessable,
            ErrorCode::ScimTokenLimitReached,
            format!(
                "An organization can hold at most {} SCIM tokens; revoke one first",
                crate::service::MAX_SCIM_TOKENS
            ),
        ),
        Conflict::PoolMissing(p) => {
            Error::not_found(ErrorCode::PoolNotFound, format!("Pool {p} does not exist"))
        }
        Conflict::PendingInvitationExists(_) => Error::conflict(
            ErrorCode::InvitationPending,
            "A pending invitation for this email exists",
        ),
        Conflict::InvitationNotPending => Error::conflict(
            ErrorCode::InvitationNotPending,
            "The invitation is no longer pending",
        ),
        Conflict::MembershipExists => Error::conflict(
            ErrorCode::AlreadyMember,
            "The user is already a member of the organization",
        ),
        Conflict::LastOrganizationManager => Error::last_manager(),
        Conflict::RateLimited(l) => Error::rate_limited(l),
        Conflict::LinkUnusable => Error::new(
            ErrorKind::Gone,
            ErrorCode::InviteLinkUnusable,
            "The invite link is revoked, expired or used up",
        ),
        Conflict::OrgMissing => Error::not_found(
            ErrorCode::OrganizationNotFound,
            "The organization does not exist",
        ),
        Conflict::UserNameTaken => Error::conflict(
            ErrorCode::UserNameTaken,
            "Another member of the organization has this userName",
        ),
        Conflict::ExternalIdTaken => Error::conflict(
            ErrorCode::ExternalIdTaken,
            "Another member of the organization has this externalId",
        ),
        Conflict::MemberEmailTaken => Error::conflict(
            ErrorCode::MemberEmailTaken,
            "Another member of the organization has this email address",
        ),
        Conflict::DomainExists => Error::conflict(
            ErrorCode::DomainExists,
            "The organization already has this domain",
        ),
        Conflict::DomainClaimed => Error::conflict(
            ErrorCode::DomainClaimed,
            "Another organization has verified this domain",
        ),
        Conflict::GroupNameTaken => Error::conflict(
            ErrorCode::GroupNameTaken,
            "Another group of the organization has this displayName",
        ),
        Conflict::GroupLimit => Error::new(
            ErrorKind::Unprocessable,
            ErrorCode::GroupLimitReached,
            format!(
                "An organization can hold at most {} groups",
                crate::model::MAX_GROUPS_PER_ORG
            ),
        ),
    }
}
