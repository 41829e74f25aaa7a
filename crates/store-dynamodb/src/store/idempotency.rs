//! Idempotency records on the table (keys in [`crate::keys::idempotency`], described in
//! `docs/data-model.md`, "Idempotency records"): `IDEM#<scope>` / `#` holds the record's fields
//! (the response's body base64, at most 256 KiB, so the item stays under DynamoDB's 400 KB),
//! `exp` (expiry, epoch nanoseconds) for the conditions and `ttl` (epoch seconds) so that
//! DynamoDB deletes it once expired.
//!
//! Calls: a claim is one PutItem, conditional on the key being free or expired, that returns
//! the existing record on a failed condition (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), so
//! it needs no read; completing is one UpdateItem and releasing one DeleteItem, each conditional
//! on the stored record being that claim.

use crate::DynamoStore;
use crate::expr::Expr;
use crate::item::{self, Item, epoch_nanos, from_item, key, n, s};
use crate::keys;
use crate::tx::Action;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use rollcall_domain::idempotency::{Claim, IdempotencyRecord};
use rollcall_domain::ports::{StoreError, StoreResult};
use std::sync::atomic::Ordering::Relaxed;

/// The item of a record: its fields, its key, `exp` and `ttl`.
fn record_item(record: &IdempotencyRecord) -> StoreResult<Item> {
    let mut it = item::to_item(record)?;
    it.extend(key(keys::idempotency(record.scope.as_str())));
    it.insert(keys::EXP.to_owned(), n(epoch_nanos(record.expires_at)));
    it.insert(keys::TTL.to_owned(), n(record.expires_at.timestamp()));
    Ok(it)
}

/// `created_at = :c AND fingerprint = :f AND state = in_progress`: the stored record is the
/// in-progress claim `claim` made.
fn is_claim(e: &mut Expr, claim: &IdempotencyRecord) -> StoreResult<String> {
    let created = item::attr(&claim.created_at)?;
    Ok(format!(
        "{} = {} AND {} = {} AND {} = {}",
        e.name("created_at"),
        e.val(created),
        e.name("fingerprint"),
        e.val(s(claim.fingerprint.as_str())),
        e.name("state"),
        e.val(s("in_progress")),
    ))
}

impl DynamoStore {
    pub(super) async fn idempotency_claim(&self, claim: &IdempotencyRecord) -> StoreResult<Claim> {
        let mut e = Expr::new();
        let cond = format!(
            "attribute_not_exists({}) OR {} <= {}",
            e.name(keys::PK),
            e.name(keys::EXP),
            e.val(n(epoch_nanos(claim.created_at)))
        );
        self.counts.put.fetch_add(1, Relaxed);
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(claim)?))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names_opt())
            .set_expression_attribute_values(e.values_opt())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match r {
            Ok(_) => Ok(Claim::Claimed),
            Err(SdkError::ServiceError(se)) => match se.err() {
                PutItemError::ConditionalCheckFailedException(c) => match c.item() {
                    Some(old) => Ok(Claim::Existing(from_item(old)?)),
                    // The condition failed on a record DynamoDB did not return: nothing to go by.
                    None => Err(StoreError::Unavailable(
                        "PutItem: condition failed without the item".to_owned(),
                    )),
                },
                _ => Err(crate::errors::service(
                    "PutItem",
                    &SdkError::ServiceError(se),
                )),
            },
            Err(e) => Err(crate::errors::service("PutItem", &e)),
        }
    }

    pub(super) async fn idempotency_complete(
        &self,
        completed: &IdempotencyRecord,
    ) -> StoreResult<()> {
        let it = record_item(completed)?;
        let mut claim = completed.clone();
        claim.state = rollcall_domain::idempotency::IdempotencyState::InProgress;
        let mut action = Action::update(key(keys::idempotency(completed.scope.as_str())), |e| {
            e.set_all(&it, &[])
        });
        action.cond = Some(is_claim(&mut action.expr, &claim)?);
        self.run_step(vec![action]).await
    }

    pub(super) async fn idempotency_release(&self, claim: &IdempotencyRecord) -> StoreResult<()> {
        let mut action = Action::delete(key(keys::idempotency(claim.scope.as_str())));
        action.cond = Some(is_claim(&mut action.expr, claim)?);
        self.run_step(vec![action]).await
    }
}
