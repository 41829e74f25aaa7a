//! SCIM bearer tokens: organization managers create, list and revoke them; the identity provider
//! presents one on every SCIM request ([`Service::authenticate_scim_token`]).

use super::validate;
use super::{Caller, Service};
use crate::audit::{AuditAction, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{OrgId, ScimTokenId};
use crate::model::{ScimToken, Timestamp};
use crate::permissions::is_org_manager;
use crate::ports::Store;
use crate::secret::{SecretKind, hash_secret, looks_like, verify_secret};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Most SCIM tokens an organization may hold at once (enough to rotate, small enough to audit).
pub const MAX_SCIM_TOKENS: u32 = 20;
/// Longest token description.
pub const MAX_SCIM_TOKEN_DESCRIPTION_LEN: usize = 200;
/// How often a token's `last_used_at` is written: at most once an hour, so that a busy identity
/// provider costs one write an hour, not one per request.
pub const SCIM_TOKEN_USE_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// `POST /orgs/{org}/scim-tokens` body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    /// A label for people (e.g. "Okta production").
    pub description: Option<String>,
}

/// A created SCIM token with its secret, shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedScimToken {
    /// The stored token (its hash only).
    pub token: ScimToken,
    /// The secret (`rcs_…`) to paste into the identity provider.
    pub secret: String,
}

fn scim_token_not_found() -> Error {
    Error::not_found(ErrorCode::ScimTokenNotFound, "No such SCIM token")
}

fn managers_only(what: &str) -> Error {
    Error::forbidden(format!("Only organization managers can {what} SCIM tokens"))
}

impl Service {
    /// Creates a SCIM token for the organization (organization managers only).
    pub async fn create_scim_token(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &CreateScimTokenRequest,
    ) -> Result<CreatedScimToken> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(managers_only("create"));
        }
        let description = match req.description.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(validate::display_name(
                "description",
                d,
                MAX_SCIM_TOKEN_DESCRIPTION_LEN,
            )?),
        };
        let secret = self.new_secret(SecretKind::Scim)?;
        let token = ScimToken {
            id: ScimTokenId::from_uuid(Uuid::now_v7()),
            org_id: org_id.clone(),
            description,
            token_hash: secret.hash,
            created_by: caller.user.id.clone(),
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::ScimTokenCreated,
            Target::new(TargetKind::ScimToken, &token.id),
            json!({ "description": token.description }),
        )
        .create_scim_token(&token, MAX_SCIM_TOKENS)
        .await?;
        tracing::info!(org = %org_id, scim_token = %token.id, "SCIM token created");
        Ok(CreatedScimToken {
            token,
            secret: secret.plain,
        })
    }

    /// The organization's SCIM tokens, newest first, without secrets (organization managers only).
    pub async fn list_scim_tokens(
        &self,
        caller: &Caller,
        org_id: &OrgId,
    ) -> Result<Vec<ScimToken>> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(managers_only("see"));
        }
        Ok(self.store.list_scim_tokens(org_id).await?)
    }

    /// Revokes (deletes) a SCIM token: the identity provider's next request with it gets 401.
    pub async fn revoke_scim_token(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &ScimTokenId,
    ) -> Result<()> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(managers_only("revoke"));
        }
        let revoked = self
            .audited(
                &caller.origin(),
                &ctx.org,
                AuditAction::ScimTokenRevoked,
                Target::new(TargetKind::ScimToken, id),
                json!({}),
            )
            .delete_scim_token(org_id, id)
            .await?;
        if revoked {
            tracing::info!(org = %org_id, scim_token = %id, "SCIM token revoked");
            Ok(())
        } else {
            Err(scim_token_not_found())
        }
    }

    /// The token a SCIM request presents (see [`authenticate_scim_token`]).
    pub async fn authenticate_scim_token(&self, presented: &str) -> Result<ScimToken> {
        authenticate_scim_token(self.store.as_ref(), presented, self.clock.now()).await
    }
}

/// The stored token matching a presented `rcs_…` secret: shape checked first (no lookup for
/// obvious garbage), then one key lookup by hash and a constant-time comparison. Anything else is
/// 401 `unauthenticated`, with the same message whatever was wrong. `last_used_at` is brought up
/// to `now` when it is older than [`SCIM_TOKEN_USE_RESOLUTION`] (a failure to record it is logged;
/// the request goes on).
async fn authenticate_scim_token(
    store: &dyn Store,
    presented: &str,
    now: Timestamp,
) -> Result<ScimToken> {
    let refused = || {
        Error::new(
            ErrorKind::Unauthenticated,
            ErrorCode::Unauthenticated,
            "A valid SCIM bearer token of the organization is required",
        )
    };
    let presented = presented.trim();
    if !looks_like(SecretKind::Scim, presented) {
        return Err(refused());
    }
    let token = match store.find_scim_token(&hash_secret(presented)).await? {
        Some(token) if verify_secret(presented, &token.token_hash) => token,
        _ => return Err(refused()),
    };
    if token
        .last_used_at
        .is_some_and(|used| now - used < SCIM_TOKEN_USE_RESOLUTION)
    {
        return Ok(token);
    }
    if let Err(e) = store.record_scim_token_use(&token, now).await {
        tracing::warn!(scim_token = %token.id, error = %e, "could not record the SCIM token's use");
        return Ok(token);
    }
    Ok(ScimToken {
        last_used_at: Some(now),
        ..token
    })
}
