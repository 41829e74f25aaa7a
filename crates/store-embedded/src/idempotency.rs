//! Idempotency records on the embedded store: the record per key scope ([`keys::IDEMPOTENCY`])
//! and an expiry index ([`keys::IDEMPOTENCY_EXPIRY`]) so that expired records are deleted a few
//! at a time by later claims, as DynamoDB's TTL does on the table. Each method is one write
//! transaction; an expired record counts as absent.

use crate::db::{Reader, del, get, put, put_raw};
use crate::keys;
use redb::WriteTransaction;
use rollcall_domain::idempotency::{Claim, IdempotencyRecord, IdempotencyState};
use rollcall_domain::model::Timestamp;
use rollcall_domain::ports::{Conflict, StoreError, StoreResult};
use std::ops::Bound;

/// Most expired records one claim deletes (the clean-up keeps pace with the claims that make them).
const PURGE_PER_CLAIM: usize = 8;

fn stored(r: &impl Reader, scope: &str) -> StoreResult<Option<IdempotencyRecord>> {
    get(r, keys::IDEMPOTENCY, scope)
}

fn write_record(tx: &WriteTransaction, record: &IdempotencyRecord) -> StoreResult<()> {
    put(tx, keys::IDEMPOTENCY, record.scope.as_str(), record)?;
    put_raw(
        tx,
        keys::IDEMPOTENCY_EXPIRY,
        &keys::idempotency_expiry(record.expires_at, record.scope.as_str()),
        b"",
    )
}

fn delete_record(tx: &WriteTransaction, record: &IdempotencyRecord) -> StoreResult<()> {
    del(tx, keys::IDEMPOTENCY, record.scope.as_str())?;
    del(
        tx,
        keys::IDEMPOTENCY_EXPIRY,
        &keys::idempotency_expiry(record.expires_at, record.scope.as_str()),
    )?;
    Ok(())
}

/// Deletes up to [`PURGE_PER_CLAIM`] records that expired before `now`.
fn purge_expired(tx: &WriteTransaction, now: Timestamp) -> StoreResult<()> {
    let end = keys::idempotency_expiry(now, "");
    let mut doomed = Vec::new();
    tx.visit(
        keys::IDEMPOTENCY_EXPIRY,
        Bound::Unbounded,
        Bound::Excluded(&end),
        false,
        &mut |k, _| {
            doomed.push(k.to_owned());
            Ok(doomed.len() < PURGE_PER_CLAIM)
        },
    )?;
    for entry in doomed {
        del(tx, keys::IDEMPOTENCY_EXPIRY, &entry)?;
        let Some((_, scope)) = entry.split_once('/') else {
            continue;
        };
        // The record may have been claimed again (a later expiry): only an expired one goes.
        if stored(tx, scope)?.is_some_and(|r| r.is_expired(now)) {
            del(tx, keys::IDEMPOTENCY, scope)?;
        }
    }
    Ok(())
}

/// The stored record if it is the in-progress claim `claim` made.
fn held_claim(tx: &WriteTransaction, claim: &IdempotencyRecord) -> StoreResult<IdempotencyRecord> {
    match stored(tx, claim.scope.as_str())? {
        Some(r)
            if r.created_at == claim.created_at
                && r.fingerprint == claim.fingerprint
                && r.state == IdempotencyState::InProgress =>
        {
            Ok(r)
        }
        _ => Err(StoreError::Conflict(Conflict::Stale)),
    }
}

pub(crate) fn claim(tx: &WriteTransaction, claim: &IdempotencyRecord) -> StoreResult<Claim> {
    let now = claim.created_at;
    purge_expired(tx, now)?;
    if let Some(existing) = stored(tx, claim.scope.as_str())? {
        if !existing.is_expired(now) {
            return Ok(Claim::Existing(existing));
        }
        delete_record(tx, &existing)?;
    }
    write_record(tx, claim)?;
    Ok(Claim::Claimed)
}

pub(crate) fn complete(tx: &WriteTransaction, completed: &IdempotencyRecord) -> StoreResult<()> {
    let mut as_claimed = completed.clone();
    as_claimed.state = IdempotencyState::InProgress;
    let held = held_claim(tx, &as_claimed)?;
    delete_record(tx, &held)?;
    write_record(tx, completed)
}

pub(crate) fn release(tx: &WriteTransaction, claim: &IdempotencyRecord) -> StoreResult<()> {
    let held = held_claim(tx, claim)?;
    delete_record(tx, &held)
}

/// Problems of the idempotency tables: a record without its expiry entry, or an entry without
/// its record (a record deleted by a purge takes its entry with it).
pub(crate) fn check(r: &impl Reader, problems: &mut Vec<String>) -> StoreResult<()> {
    let mut records = Vec::new();
    r.visit(
        keys::IDEMPOTENCY,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, v| {
            records.push(crate::db::decode::<IdempotencyRecord>(v)?);
            Ok(true)
        },
    )?;
    let mut entries = std::collections::BTreeSet::new();
    r.visit(
        keys::IDEMPOTENCY_EXPIRY,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |k, _| {
            entries.insert(k.to_owned());
            Ok(true)
        },
    )?;
    for record in &records {
        let entry = keys::idempotency_expiry(record.expires_at, record.scope.as_str());
        if !entries.remove(&entry) {
            problems.push(format!(
                "idempotency record {}: no expiry entry",
                record.scope
            ));
        }
    }
    for entry in entries {
        problems.push(format!("idempotency expiry {entry}: no record"));
    }
    Ok(())
}
