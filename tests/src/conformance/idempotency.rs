//! Conformance cases for idempotency records: claim, replay, expiry, completion, release, and
//! one winner among concurrent claims.

use super::{Store, now};
use chrono::Duration;
use rollcall_domain::idempotency::{
    Claim, IdempotencyCaller, IdempotencyRecord, IdempotencyScope, IdempotencyState, StoredHeader,
    StoredResponse,
};
use rollcall_domain::ports::{Conflict, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// A fresh scope (a new caller each time, so cases never share one).
fn scope() -> IdempotencyScope {
    let sub = format!("sub-{}", Uuid::now_v7());
    IdempotencyScope::new(IdempotencyCaller::User(&sub), Some("org_x"), "key-1")
}

/// A response worth keeping, with a body that is not UTF-8.
fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            StoredHeader {
                name: "content-type".into(),
                value: "application/json".into(),
            },
            StoredHeader {
                name: "location".into(),
                value: "/orgs/org_x".into(),
            },
        ],
        body: [b"{\"id\":\"org_x\"}".as_slice(), &[0xff, 0x00]].concat(),
    }
}

fn claimed(store_answer: Result<Claim, StoreError>) {
    assert_eq!(store_answer, Ok(Claim::Claimed));
}

pub async fn idempotency_claim_fresh_then_existing(store: Arc<dyn Store>) {
    let t = now();
    let first = IdempotencyRecord::claim(scope(), "fp-1".into(), t);
    claimed(store.claim_idempotency_key(&first).await);
    // The same scope again, even for another fingerprint: the record comes back, unchanged.
    let again =
        IdempotencyRecord::claim(first.scope.clone(), "fp-2".into(), t + Duration::seconds(1));
    assert_eq!(
        store.claim_idempotency_key(&again).await,
        Ok(Claim::Existing(first.clone()))
    );
    // Another scope is independent.
    claimed(
        store
            .claim_idempotency_key(&IdempotencyRecord::claim(scope(), "fp-1".into(), t))
            .await,
    );
}

pub async fn idempotency_expired_record_counts_as_absent(store: Arc<dyn Store>) {
    let t = now();
    let first = IdempotencyRecord::claim(scope(), "fp-1".into(), t);
    claimed(store.claim_idempotency_key(&first).await);
    // At the instant the lease ends, the claim no longer holds the key.
    let later = IdempotencyRecord::claim(first.scope.clone(), "fp-2".into(), first.expires_at);
    claimed(store.claim_idempotency_key(&later).await);
    // The new claim is what is stored now; the first one can neither complete nor release.
    let third = IdempotencyRecord::claim(first.scope.clone(), "fp-3".into(), first.expires_at);
    assert_eq!(
        store.claim_idempotency_key(&third).await,
        Ok(Claim::Existing(later.clone()))
    );
    assert_eq!(
        store
            .complete_idempotency_key(&first.completed(response()))
            .await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    assert_eq!(
        store.release_idempotency_key(&first).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    // A completed record expires too, 24 hours after its claim.
    let done = later.completed(response());
    store.complete_idempotency_key(&done).await.unwrap();
    let before_end = IdempotencyRecord::claim(
        first.scope.clone(),
        "fp-4".into(),
        done.expires_at - Duration::seconds(1),
    );
    assert_eq!(
        store.claim_idempotency_key(&before_end).await,
        Ok(Claim::Existing(done.clone()))
    );
    let after_end = IdempotencyRecord::claim(first.scope.clone(), "fp-4".into(), done.expires_at);
    claimed(store.claim_idempotency_key(&after_end).await);
}

pub async fn idempotency_complete_then_claim_returns_the_response(store: Arc<dyn Store>) {
    let t = now();
    let first = IdempotencyRecord::claim(scope(), "fp-1".into(), t);
    claimed(store.claim_idempotency_key(&first).await);
    let done = first.completed(response());
    store.complete_idempotency_key(&done).await.unwrap();
    // Completing twice: the claim is no longer in progress.
    assert_eq!(
        store.complete_idempotency_key(&done).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    let retry =
        IdempotencyRecord::claim(first.scope.clone(), "fp-1".into(), t + Duration::hours(1));
    match store.claim_idempotency_key(&retry).await {
        Ok(Claim::Existing(found)) => {
            assert_eq!(found, done);
            assert_eq!(
                found.state,
                IdempotencyState::Completed {
                    response: response()
                }
            );
            assert_eq!(found.expires_at, t + Duration::hours(24));
        }
        other => panic!("expected the completed record, got {other:?}"),
    }
    // Nothing to release any more: the completed record stays.
    assert_eq!(
        store.release_idempotency_key(&first).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    assert!(matches!(
        store.claim_idempotency_key(&retry).await,
        Ok(Claim::Existing(_))
    ));
}

pub async fn idempotency_release_then_claim_succeeds(store: Arc<dyn Store>) {
    let t = now();
    let first = IdempotencyRecord::claim(scope(), "fp-1".into(), t);
    claimed(store.claim_idempotency_key(&first).await);
    // Only the claim that was made can release it.
    let mut other = first.clone();
    other.created_at = t + Duration::seconds(1);
    assert_eq!(
        store.release_idempotency_key(&other).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    store.release_idempotency_key(&first).await.unwrap();
    assert_eq!(
        store.release_idempotency_key(&first).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    let retry =
        IdempotencyRecord::claim(first.scope.clone(), "fp-1".into(), t + Duration::seconds(2));
    claimed(store.claim_idempotency_key(&retry).await);
    // ... and a release of the old claim leaves the new one alone.
    assert_eq!(
        store.release_idempotency_key(&first).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    assert_eq!(
        store.claim_idempotency_key(&first).await,
        Ok(Claim::Existing(retry))
    );
}

pub async fn idempotency_concurrent_claims_have_one_winner(store: Arc<dyn Store>) {
    let t = now();
    let s = scope();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let claim = IdempotencyRecord::claim(s.clone(), format!("fp-{i}"), t);
            tokio::spawn(async move { (claim.clone(), store.claim_idempotency_key(&claim).await) })
        })
        .collect();
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    for task in tasks {
        let (claim, answer) = task.await.expect("task");
        match answer.expect("claim") {
            Claim::Claimed => winners.push(claim),
            Claim::Existing(found) => seen.push(found),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    // Every loser saw the winner's record.
    assert!(seen.iter().all(|r| r == &winners[0]), "{seen:?}");
}
