//! Idempotent requests: claim a key before the work, keep the response after it, release the
//! claim when the answer says "try again" (see [`crate::idempotency`]). Costs: the claim is one
//! conditional write (which also returns an existing record); keeping the response one more
//! write; releasing one delete.

use super::Service;
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::idempotency::{
    Claim, IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use crate::ports::{Conflict, StoreError};

/// What to do with a keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentStart {
    /// The key is this request's now: do the work, then [`Service::finish_idempotent`] or
    /// [`Service::release_idempotent`] with this claim.
    Proceed(IdempotencyRecord),
    /// The same request was answered before: answer this again without doing the work.
    Replay(StoredResponse),
}

impl Service {
    /// Claims `scope` for a request with `fingerprint`: [`IdempotentStart::Proceed`] when the key
    /// is free (or its record expired), [`IdempotentStart::Replay`] when the same request was
    /// answered within the window. 422 `idempotency_key_reused` when the key's request had another
    /// fingerprint, 409 `idempotency_key_in_use` while it is still running.
    pub async fn start_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: String,
    ) -> Result<IdempotentStart> {
        let claim = IdempotencyRecord::claim(key.scope().clone(), fingerprint, self.clock.now());
        match self.store.claim_idempotency_key(&claim).await? {
            Claim::Claimed => Ok(IdempotentStart::Proceed(claim)),
            Claim::Existing(found) if found.fingerprint != claim.fingerprint => Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was used for another request (method, path or body); \
                 use a new key for a new request",
            )),
            Claim::Existing(found) => match found.state {
                IdempotencyState::Completed { mut response } => {
                    response.body =
                        key.open(found.created_at, &response.body).ok_or_else(|| {
                            tracing::error!(scope = %found.scope, "a kept answer does not open");
                            Error::unavailable("The kept answer to this request could not be read")
                        })?;
                    Ok(IdempotentStart::Replay(response))
                }
                IdempotencyState::InProgress => Err(Error::conflict(
                    ErrorCode::IdempotencyKeyInUse,
                    "A request with this Idempotency-Key is still being processed; retry shortly",
                )),
            },
        }
    }

    /// Keeps the response of the request that made `claim` with `key`, its body sealed to the
    /// key ([`IdempotencyKey::seal`]), for replays within the window. A claim that was lost
    /// meanwhile (released, or its lease ran out and another request took it) keeps nothing.
    pub async fn finish_idempotent(
        &self,
        key: &IdempotencyKey,
        claim: &IdempotencyRecord,
        mut response: StoredResponse,
    ) -> Result<()> {
        let Some(sealed) = key.seal(claim.created_at, &response.body) else {
            return self.release_idempotent(claim).await;
        };
        response.body = sealed;
        match self
            .store
            .complete_idempotency_key(&claim.completed(response))
            .await
        {
            Ok(()) | Err(StoreError::Conflict(Conflict::Stale)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives up `claim` so that a retry of the request does the work (after an answer that says
    /// to try again). A claim already gone is fine.
    pub async fn release_idempotent(&self, claim: &IdempotencyRecord) -> Result<()> {
        match self.store.release_idempotency_key(claim).await {
            Ok(()) | Err(StoreError::Conflict(Conflict::Stale)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
