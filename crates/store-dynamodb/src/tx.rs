//! Conditional writes: an [`Action`] is one Put/Update/Delete/ConditionCheck with its condition
//! and the [`Conflict`] its failure means. [`DynamoStore::run`] writes a list of actions atomically:
//! one TransactWriteItems, or a single PutItem/UpdateItem/DeleteItem when there is one action.
//! A cancelled transaction is mapped to the conflict of the first failed action, in request order.

use crate::expr::Expr;
use crate::item::Item;
use crate::{DynamoStore, errors};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use rollcall_domain::audit::AuditEvent;
use rollcall_domain::ports::{Conflict, StoreError, StoreResult};
use std::time::Duration;

/// Most actions DynamoDB accepts in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts of a transaction cancelled only by conflicting concurrent transactions.
const MAX_ATTEMPTS: u32 = 6;

/// What a failed condition means.
#[derive(Clone)]
pub enum OnFail {
    /// Always this conflict.
    Fixed(Conflict),
    /// Decided from the item as it was when the condition failed (`None`: it did not exist).
    Inspect(fn(Option<&Item>) -> Conflict),
}

/// The write itself.
#[derive(Debug, Clone)]
pub enum Op {
    /// Replace or create the whole item.
    Put(Item),
    /// Update expression on a key.
    Update(Item, String),
    /// Delete a key.
    Delete(Item),
    /// Only check a condition on a key.
    Check(Item),
}

/// One conditional write of an atomic group.
#[derive(Clone)]
pub struct Action {
    /// The write.
    pub op: Op,
    /// Its condition, if any.
    pub cond: Option<String>,
    /// Placeholders of the update and condition expressions.
    pub expr: Expr,
    /// The conflict a failed condition means (default [`Conflict::Stale`]).
    pub on_fail: OnFail,
}

impl Action {
    fn new(op: Op) -> Self {
        Action {
            op,
            cond: None,
            expr: Expr::new(),
            on_fail: OnFail::Fixed(Conflict::Stale),
        }
    }

    /// Puts a whole item.
    pub fn put(item: Item) -> Self {
        Self::new(Op::Put(item))
    }

    /// Updates the item at `key` with the expression `f` builds.
    pub fn update(key: Item, f: impl FnOnce(&mut Expr) -> String) -> Self {
        let mut expr = Expr::new();
        let u = f(&mut expr);
        Action {
            expr,
            ..Self::new(Op::Update(key, u))
        }
    }

    /// Deletes the item at `key`.
    pub fn delete(key: Item) -> Self {
        Self::new(Op::Delete(key))
    }

    /// Checks a condition on the item at `key`.
    pub fn check(key: Item) -> Self {
        Self::new(Op::Check(key))
    }

    /// Adds the condition `f` builds.
    pub fn when(mut self, f: impl FnOnce(&mut Expr) -> String) -> Self {
        self.cond = Some(f(&mut self.expr));
        self
    }

    /// Only if the item does not exist.
    pub fn if_absent(self) -> Self {
        self.when(|e| format!("attribute_not_exists({})", e.name(crate::keys::PK)))
    }

    /// Only if the item exists.
    pub fn if_present(self) -> Self {
        self.when(|e| format!("attribute_exists({})", e.name(crate::keys::PK)))
    }

    /// The conflict a failed condition means.
    pub fn or(mut self, c: Conflict) -> Self {
        self.on_fail = OnFail::Fixed(c);
        self
    }

    /// Decides the conflict from the item as it was.
    pub fn or_inspect(mut self, f: fn(Option<&Item>) -> Conflict) -> Self {
        self.on_fail = OnFail::Inspect(f);
        self
    }

    fn conflict(&self, old: Option<&Item>) -> Conflict {
        match &self.on_fail {
            OnFail::Fixed(c) => c.clone(),
            OnFail::Inspect(f) => f(old),
        }
    }

    fn wants_old(&self) -> bool {
        matches!(self.on_fail, OnFail::Inspect(_))
    }

    fn to_transact(&self, table: &str) -> StoreResult<TransactWriteItem> {
        let rv = self
            .wants_old()
            .then_some(ReturnValuesOnConditionCheckFailure::AllOld);
        let names = self.expr.names_opt();
        let values = self.expr.values_opt();
        let b = TransactWriteItem::builder();
        let built = match &self.op {
            Op::Put(item) => b.put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item.clone()))
                    .set_condition_expression(self.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .build()
                    .map_err(errors::build)?,
            ),
            Op::Update(key, u) => b.update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key.clone()))
                    .update_expression(u)
                    .set_condition_expression(self.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .build()
                    .map_err(errors::build)?,
            ),
            Op::Delete(key) => b.delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key.clone()))
                    .set_condition_expression(self.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .build()
                    .map_err(errors::build)?,
            ),
            Op::Check(key) => b.condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key.clone()))
                    .condition_expression(
                        self.cond
                            .clone()
                            .unwrap_or_else(|| "attribute_exists(PK)".to_owned()),
                    )
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .build()
                    .map_err(errors::build)?,
            ),
        };
        Ok(built.build())
    }
}

/// What a transaction attempt came to.
enum Outcome {
    Failed(StoreError),
    /// Cancelled only because of concurrent transactions on the same items: try again.
    Retry,
}

impl DynamoStore {
    /// Applies `actions`, the write that completes a change, atomically with this handle's audit
    /// entry (when it has one); nothing is written if any condition fails.
    pub(crate) async fn run(&self, actions: Vec<Action>) -> StoreResult<()> {
        self.run_recording(actions, self.audit.as_deref()).await
    }

    /// Applies `actions` atomically together with `entry`, the audit entry of the change they
    /// complete (appended on condition that its key is new).
    pub(crate) async fn run_recording(
        &self,
        mut actions: Vec<Action>,
        entry: Option<&AuditEvent>,
    ) -> StoreResult<()> {
        if let Some(entry) = entry {
            actions.push(Action::put(crate::audit::audit_item(entry)?).if_absent());
        }
        self.run_step(actions).await
    }

    /// Most actions a change's completing write may hold besides its audit entry.
    pub(crate) fn room(&self) -> usize {
        MAX_TRANSACTION_ITEMS - usize::from(self.audit.is_some())
    }

    /// Applies `actions` atomically without an audit entry: a step of a change that takes
    /// several transactions (hand-over batches), or a write that changes no organization.
    pub(crate) async fn run_step(&self, actions: Vec<Action>) -> StoreResult<()> {
        match actions.len() {
            0 => Ok(()),
            1 if !matches!(actions[0].op, Op::Check(_)) => self.run_single(&actions[0]).await,
            n if n > MAX_TRANSACTION_ITEMS => Err(StoreError::Unavailable(format!(
                "a write of {n} items exceeds one transaction"
            ))),
            _ => self.run_transaction(&actions).await,
        }
    }

    async fn run_transaction(&self, actions: &[Action]) -> StoreResult<()> {
        let items = actions
            .iter()
            .map(|a| a.to_transact(&self.table))
            .collect::<StoreResult<Vec<_>>>()?;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            self.counts
                .transact
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(uuid::Uuid::now_v7().to_string())
                .send()
                .await;
            match res {
                Ok(_) => return Ok(()),
                Err(e) => match transaction_outcome(actions, &e) {
                    Outcome::Failed(err) => return Err(err),
                    Outcome::Retry => continue,
                },
            }
        }
        Err(StoreError::Unavailable(
            "TransactWriteItems: too many conflicting transactions".to_owned(),
        ))
    }

    async fn run_single(&self, a: &Action) -> StoreResult<()> {
        let rv = a
            .wants_old()
            .then_some(ReturnValuesOnConditionCheckFailure::AllOld);
        let names = a.expr.names_opt();
        let values = a.expr.values_opt();
        use std::sync::atomic::Ordering::Relaxed;
        let failed: Option<Option<Item>> = match &a.op {
            Op::Put(item) => {
                self.counts.put.fetch_add(1, Relaxed);
                let r = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .set_condition_expression(a.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .send()
                    .await;
                match r {
                    Ok(_) => None,
                    Err(SdkError::ServiceError(se)) => match se.err() {
                        PutItemError::ConditionalCheckFailedException(c) => Some(c.item().cloned()),
                        _ => return Err(errors::service("PutItem", &SdkError::ServiceError(se))),
                    },
                    Err(e) => return Err(errors::service("PutItem", &e)),
                }
            }
            Op::Update(key, u) => {
                self.counts.update.fetch_add(1, Relaxed);
                let r = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key.clone()))
                    .update_expression(u)
                    .set_condition_expression(a.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .send()
                    .await;
                match r {
                    Ok(_) => None,
                    Err(SdkError::ServiceError(se)) => match se.err() {
                        UpdateItemError::ConditionalCheckFailedException(c) => {
                            Some(c.item().cloned())
                        }
                        _ => {
                            return Err(errors::service("UpdateItem", &SdkError::ServiceError(se)));
                        }
                    },
                    Err(e) => return Err(errors::service("UpdateItem", &e)),
                }
            }
            Op::Delete(key) => {
                self.counts.delete.fetch_add(1, Relaxed);
                let r = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key.clone()))
                    .set_condition_expression(a.cond.clone())
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(rv)
                    .send()
                    .await;
                match r {
                    Ok(_) => None,
                    Err(SdkError::ServiceError(se)) => match se.err() {
                        DeleteItemError::ConditionalCheckFailedException(c) => {
                            Some(c.item().cloned())
                        }
                        _ => {
                            return Err(errors::service("DeleteItem", &SdkError::ServiceError(se)));
                        }
                    },
                    Err(e) => return Err(errors::service("DeleteItem", &e)),
                }
            }
            Op::Check(_) => return self.run_transaction(std::slice::from_ref(a)).await,
        };
        match failed {
            None => Ok(()),
            Some(old) => Err(StoreError::Conflict(a.conflict(old.as_ref()))),
        }
    }

    /// Applies groups of actions in as few transactions as fit, each group whole in one
    /// transaction (for hand-over batches; not atomic across transactions).
    pub(crate) async fn run_batched(
        &self,
        groups: Vec<Vec<Action>>,
        per_transaction: usize,
    ) -> StoreResult<()> {
        let mut batch: Vec<Action> = Vec::new();
        for g in groups {
            if !batch.is_empty() && batch.len() + g.len() > per_transaction {
                self.run_step(std::mem::take(&mut batch)).await?;
            }
            batch.extend(g);
        }
        self.run_step(batch).await
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = 15u64 << attempt.min(6);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0),
    ) % base.max(1);
    Duration::from_millis(base + jitter)
}

fn transaction_outcome<R>(actions: &[Action], e: &SdkError<TransactWriteItemsError, R>) -> Outcome
where
    R: std::fmt::Debug,
{
    let Some(TransactWriteItemsError::TransactionCanceledException(t)) = e.as_service_error()
    else {
        if let Some(TransactWriteItemsError::TransactionInProgressException(_)) =
            e.as_service_error()
        {
            return Outcome::Retry;
        }
        return Outcome::Failed(errors::service("TransactWriteItems", e));
    };
    let reasons = t.cancellation_reasons();
    for (i, r) in reasons.iter().enumerate() {
        if r.code() == Some("ConditionalCheckFailed") {
            let conflict = match actions.get(i) {
                Some(a) => a.conflict(r.item()),
                None => Conflict::Stale,
            };
            return Outcome::Failed(StoreError::Conflict(conflict));
        }
    }
    let retryable = |c: &str| {
        matches!(
            c,
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
        )
    };
    if reasons.iter().any(|r| r.code().is_some_and(retryable)) {
        return Outcome::Retry;
    }
    let codes: Vec<&str> = reasons
        .iter()
        .filter_map(|r| r.code())
        .filter(|c| *c != "None")
        .collect();
    tracing::warn!(reasons = ?codes, "transaction cancelled");
    if reasons.is_empty() {
        // No reasons at all: nothing to map; treat as a transient failure.
        return Outcome::Failed(StoreError::Unavailable(
            "TransactWriteItems: cancelled".to_owned(),
        ));
    }
    Outcome::Failed(StoreError::Unavailable(format!(
        "TransactWriteItems: cancelled ({})",
        codes.join(", ")
    )))
}
