//! The audit log on the embedded store: `org_id/aud_id` → `AuditEvent` in
//! [`keys::AUDIT_EVENTS`], appended in the write transaction of the change it records and never
//! rewritten.

use crate::db::{self, Reader, decode};
use crate::keys::{self, ListKind};
use redb::{ReadableTable, WriteTransaction};
use rollcall_domain::audit::{AuditEvent, AuditEventId, AuditFilter};
use rollcall_domain::ids::OrgId;
use rollcall_domain::model::Timestamp;
use rollcall_domain::page::{MAX_LIMIT, Page, PageRequest};
use rollcall_domain::ports::{Conflict, StoreError, StoreResult};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Bound;

/// Most entries one filtered page reads before it returns what it has and a cursor (as a
/// DynamoDB page reads a bounded number of items).
pub(crate) const MAX_SCANNED: usize = 1000;

/// Appends `event`, on condition that its id is new ([`Conflict::Stale`]).
pub(crate) fn append(tx: &WriteTransaction, event: &AuditEvent) -> StoreResult<()> {
    let key = keys::join(event.org_id.as_str(), event.id.as_str());
    let value = db::encode(event)?;
    // One open of the table for the check and the insert: this runs with every write.
    let mut table = tx.open_table(keys::AUDIT_EVENTS).map_err(db::db_err)?;
    if table.get(key.as_str()).map_err(db::db_err)?.is_some() {
        return Err(StoreError::Conflict(Conflict::Stale));
    }
    table
        .insert(key.as_str(), value.as_slice())
        .map_err(db::db_err)?;
    Ok(())
}

/// A page of `org`'s entries matching `filter` and unexpired at `now`, newest first.
pub(crate) fn list(
    r: &impl Reader,
    org: &OrgId,
    filter: &AuditFilter,
    now: Timestamp,
    page: &PageRequest,
) -> StoreResult<Page<AuditEvent>> {
    let scope = org.as_str();
    let prefix = keys::prefix(scope);
    let key = |id: &AuditEventId| format!("{prefix}{id}");
    // Newest first: the upper end is the cursor (exclusive) or the end of `until`'s range.
    let after = page
        .cursor
        .as_deref()
        .map(|c| keys::decode_cursor(c, ListKind::AuditEvents, scope))
        .transpose()?;
    // A cursor outside this time range is another list's (as DynamoDB refuses it).
    if let Some(last) = &after {
        let outside = filter
            .since
            .is_some_and(|s| last.as_str() < AuditEventId::lower_bound(s).as_str())
            || filter
                .until
                .is_some_and(|u| last.as_str() > AuditEventId::lower_bound(u).as_str());
        if outside {
            return Err(StoreError::InvalidCursor);
        }
    }
    let hi = match (&after, filter.until) {
        (Some(last), _) => Bound::Excluded(format!("{prefix}{last}")),
        (None, Some(until)) => Bound::Excluded(key(&AuditEventId::lower_bound(until))),
        (None, None) => Bound::Excluded(keys::prefix_end(&prefix)),
    };
    let lo = match filter.since {
        Some(since) => key(&AuditEventId::lower_bound(since)),
        None => prefix.clone(),
    };
    let limit = page.limit.clamp(1, MAX_LIMIT);
    let (mut items, mut scanned, mut last, mut more) = (Vec::new(), 0usize, None, false);
    r.visit(
        keys::AUDIT_EVENTS,
        Bound::Included(lo.as_str()),
        hi.as_ref().map(String::as_str),
        true,
        &mut |k, v| {
            if items.len() == limit || scanned == MAX_SCANNED {
                more = true;
                return Ok(false);
            }
            scanned += 1;
            last = k.strip_prefix(prefix.as_str()).map(str::to_owned);
            let event: AuditEvent = decode(v)?;
            if event.expires_at > now && event.matches(filter) {
                items.push(event);
            }
            Ok(true)
        },
    )?;
    let next_cursor = match (more, last) {
        (true, Some(last)) => Some(keys::encode_cursor(ListKind::AuditEvents, scope, &last)),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// The newest `limit` entries of every organization, oldest first (for the local server's event
/// list, never on a request path of the API). Each organization's entries are walked newest
/// first and left as soon as they are older than the `limit` newest seen so far; only those are
/// decoded, so the cost follows `limit` and the number of organizations, not the log's length.
pub(crate) fn recent(r: &impl Reader, limit: usize) -> StoreResult<Vec<AuditEvent>> {
    // The newest entries seen so far, as a min-heap on the id (ids sort by time).
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut newest: BinaryHeap<Reverse<Newest>> = BinaryHeap::with_capacity(limit + 1);
    // The walk goes backwards over the whole table; `hi` moves below an organization once the
    // rest of its entries are too old.
    let mut hi: Option<String> = None;
    loop {
        let mut skip_below = None;
        r.visit(
            keys::AUDIT_EVENTS,
            Bound::Unbounded,
            hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
            true,
            &mut |k, v| {
                let (org, id) = k.split_once('/').unwrap_or((k, ""));
                let full = newest.len() == limit;
                if full
                    && newest
                        .peek()
                        .is_some_and(|Reverse(min)| id <= min.0.id.as_str())
                {
                    skip_below = Some(keys::prefix(org));
                    return Ok(false);
                }
                newest.push(Reverse(Newest(decode(v)?)));
                if newest.len() > limit {
                    newest.pop();
                }
                Ok(true)
            },
        )?;
        match skip_below {
            Some(prefix) => hi = Some(prefix),
            None => break,
        }
    }
    let mut events: Vec<AuditEvent> = newest.into_iter().map(|Reverse(n)| n.0).collect();
    events.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(events)
}

/// An entry ordered by its (time-ordered) id.
struct Newest(AuditEvent);

impl PartialEq for Newest {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for Newest {}
impl PartialOrd for Newest {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Newest {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.as_str().cmp(other.0.id.as_str())
    }
}
