//! Idempotency records on DynamoDB: what each method costs (a claim is one conditional PutItem,
//! whether the key is free or held), the TTL attribute, and the largest response kept.

use super::*;
use rollcall_domain::idempotency::{
    Claim, IdempotencyCaller, IdempotencyRecord, IdempotencyScope, MAX_STORED_RESPONSE_BYTES,
    StoredHeader, StoredResponse,
};
use rollcall_store_dynamodb::keys;

fn scope() -> IdempotencyScope {
    let sub = format!("sub-{}", id().simple());
    IdempotencyScope::new(IdempotencyCaller::User(&sub), Some("org_x"), "key")
}

fn response(body: Vec<u8>) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![StoredHeader {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body,
    }
}

#[tokio::test]
async fn idempotency_call_counts() {
    let Some(s) = store().await else { return };
    let claim = IdempotencyRecord::claim(scope(), "fp".into(), now());
    let put = calls(0, 0, 0, 0, 1, 0);
    assert_eq!(
        pin!(
            s,
            "claim_idempotency_key (free)",
            put,
            s.claim_idempotency_key(&claim)
        )
        .unwrap(),
        Claim::Claimed
    );
    // Held: the same one PutItem, whose failed condition returns the record (no GetItem).
    let retry = IdempotencyRecord::claim(claim.scope.clone(), "fp".into(), now());
    assert_eq!(
        pin!(
            s,
            "claim_idempotency_key (held)",
            put,
            s.claim_idempotency_key(&retry)
        )
        .unwrap(),
        Claim::Existing(claim.clone())
    );
    let done = claim.completed(response(b"{\"id\":1}".to_vec()));
    pin!(
        s,
        "complete_idempotency_key",
        calls(0, 0, 0, 0, 0, 1),
        s.complete_idempotency_key(&done)
    )
    .unwrap();
    assert_eq!(
        pin!(
            s,
            "claim_idempotency_key (done)",
            put,
            s.claim_idempotency_key(&retry)
        )
        .unwrap(),
        Claim::Existing(done.clone())
    );
    let other = IdempotencyRecord::claim(scope(), "fp".into(), now());
    s.claim_idempotency_key(&other).await.unwrap();
    pin!(
        s,
        "release_idempotency_key",
        CallCounts {
            delete: 1,
            ..calls(0, 0, 0, 0, 0, 0)
        },
        s.release_idempotency_key(&other)
    )
    .unwrap();

    // DynamoDB's TTL deletes the record once it expires.
    let item = s
        .client()
        .get_item()
        .table_name(s.table())
        .key(keys::PK, AttributeValue::S(format!("IDEM#{}", done.scope)))
        .key(keys::SK, AttributeValue::S("#".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item.get(keys::TTL),
        Some(&AttributeValue::N(done.expires_at.timestamp().to_string()))
    );
}

#[tokio::test]
async fn the_largest_kept_response_fits_one_item() {
    let Some(s) = store().await else { return };
    let claim = IdempotencyRecord::claim(scope(), "fp".into(), now());
    s.claim_idempotency_key(&claim).await.unwrap();
    let body: Vec<u8> = (0..MAX_STORED_RESPONSE_BYTES)
        .map(|i| (i % 251) as u8)
        .collect();
    let done = claim.completed(response(body));
    s.complete_idempotency_key(&done).await.unwrap();
    let retry = IdempotencyRecord::claim(claim.scope.clone(), "fp".into(), now());
    assert_eq!(
        s.claim_idempotency_key(&retry).await.unwrap(),
        Claim::Existing(done)
    );
}
