//! Thin typed access to redb tables: JSON values, prefix scans, error mapping.

use crate::keys::{self, Table};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use rollcall_domain::ports::{StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ops::Bound;

/// Maps a redb error: corruption to [`StoreError::Corrupt`], everything else to
/// [`StoreError::Unavailable`].
pub(crate) fn db_err(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Corrupted(m) => StoreError::Corrupt(m),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Decodes a stored JSON value.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Encodes a value as JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A visitor of scanned entries; returns whether to go on.
pub(crate) type Visit<'a> = dyn FnMut(&str, &[u8]) -> StoreResult<bool> + 'a;

/// Reads available in both read and write transactions.
pub(crate) trait Reader {
    /// The raw value at `key`.
    fn get_raw(&self, table: Table, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Visits the entries in `(lo, hi)`, in key order or reversed, until `visit` returns `false`.
    fn visit(
        &self,
        table: Table,
        lo: Bound<&str>,
        hi: Bound<&str>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> StoreResult<()>;
}

fn visit_table<T: ReadableTable<&'static str, &'static [u8]>>(
    table: &T,
    lo: Bound<&str>,
    hi: Bound<&str>,
    rev: bool,
    visit: &mut Visit<'_>,
) -> StoreResult<()> {
    let range = table.range::<&str>((lo, hi)).map_err(db_err)?;
    let mut step = |item: Result<
        (
            redb::AccessGuard<'_, &'static str>,
            redb::AccessGuard<'_, &'static [u8]>,
        ),
        redb::StorageError,
    >|
     -> StoreResult<bool> {
        let (k, v) = item.map_err(db_err)?;
        visit(k.value(), v.value())
    };
    if rev {
        for item in range.rev() {
            if !step(item)? {
                break;
            }
        }
    } else {
        for item in range {
            if !step(item)? {
                break;
            }
        }
    }
    Ok(())
}

impl Reader for ReadTransaction {
    fn get_raw(&self, table: Table, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let t = self.open_table(table).map_err(db_err)?;
        let v = t.get(key).map_err(db_err)?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    fn visit(
        &self,
        table: Table,
        lo: Bound<&str>,
        hi: Bound<&str>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> StoreResult<()> {
        let t = self.open_table(table).map_err(db_err)?;
        visit_table(&t, lo, hi, rev, visit)
    }
}

impl Reader for WriteTransaction {
    fn get_raw(&self, table: Table, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let t = self.open_table(table).map_err(db_err)?;
        let v = t.get(key).map_err(db_err)?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    fn visit(
        &self,
        table: Table,
        lo: Bound<&str>,
        hi: Bound<&str>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> StoreResult<()> {
        let t = self.open_table(table).map_err(db_err)?;
        visit_table(&t, lo, hi, rev, visit)
    }
}

/// The decoded value at `key`.
pub(crate) fn get<T: DeserializeOwned>(
    r: &impl Reader,
    table: Table,
    key: &str,
) -> StoreResult<Option<T>> {
    r.get_raw(table, key)?.map(|b| decode(&b)).transpose()
}

/// A value stored as a plain string (index entries).
pub(crate) fn get_str(r: &impl Reader, table: Table, key: &str) -> StoreResult<Option<String>> {
    r.get_raw(table, key)?
        .map(|b| String::from_utf8(b).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Whether `key` exists.
pub(crate) fn exists(r: &impl Reader, table: Table, key: &str) -> StoreResult<bool> {
    Ok(r.get_raw(table, key)?.is_some())
}

/// Every entry whose key starts with `prefix` (which ends in `/`), in key order.
pub(crate) fn scan_prefix(
    r: &impl Reader,
    table: Table,
    prefix: &str,
) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let end = keys::prefix_end(prefix);
    let mut out = Vec::new();
    r.visit(
        table,
        Bound::Included(prefix),
        Bound::Excluded(&end),
        false,
        &mut |k, v| {
            if k.starts_with(prefix) {
                out.push((k.to_owned(), v.to_vec()));
            }
            Ok(true)
        },
    )?;
    Ok(out)
}

/// Every decoded value whose key starts with `prefix`, in key order.
pub(crate) fn scan_values<T: DeserializeOwned>(
    r: &impl Reader,
    table: Table,
    prefix: &str,
) -> StoreResult<Vec<T>> {
    scan_prefix(r, table, prefix)?
        .iter()
        .map(|(_, v)| decode(v))
        .collect()
}

/// Stores raw bytes at `key`.
pub(crate) fn put_raw(
    tx: &WriteTransaction,
    table: Table,
    key: &str,
    value: &[u8],
) -> StoreResult<()> {
    let mut t = tx.open_table(table).map_err(db_err)?;
    t.insert(key, value).map_err(db_err)?;
    Ok(())
}

/// Stores `value` as JSON at `key`.
pub(crate) fn put<T: Serialize>(
    tx: &WriteTransaction,
    table: Table,
    key: &str,
    value: &T,
) -> StoreResult<()> {
    put_raw(tx, table, key, &encode(value)?)
}

/// Stores a plain string at `key` (index entries).
pub(crate) fn put_str(
    tx: &WriteTransaction,
    table: Table,
    key: &str,
    value: &str,
) -> StoreResult<()> {
    put_raw(tx, table, key, value.as_bytes())
}

/// Removes `key`; whether it existed.
pub(crate) fn del(tx: &WriteTransaction, table: Table, key: &str) -> StoreResult<bool> {
    let mut t = tx.open_table(table).map_err(db_err)?;
    let old = t.remove(key).map_err(db_err)?;
    Ok(old.is_some())
}

/// Removes every key in `[lo, hi)`.
pub(crate) fn del_range(
    tx: &WriteTransaction,
    table: Table,
    lo: &str,
    hi: &str,
) -> StoreResult<()> {
    let mut doomed = Vec::new();
    tx.visit(
        table,
        Bound::Included(lo),
        Bound::Excluded(hi),
        false,
        &mut |k, _| {
            doomed.push(k.to_owned());
            Ok(true)
        },
    )?;
    for k in doomed {
        del(tx, table, &k)?;
    }
    Ok(())
}
