//! The audit log on DynamoDB: one item per entry, `AUDIT#org` / `aud_…` (ids sort by time),
//! put with `attribute_not_exists` in the transaction of the change it records and never
//! updated; TTL deletes it at its `expires_at`. Lists are Queries of the org's partition, newest
//! first, a time range being a sort-key range.

use crate::cursor::{self, Scope};
use crate::expr::Expr;
use crate::item::{Item, n, s, to_item};
use crate::{DynamoStore, errors, keys};
use rollcall_domain::audit::{AuditEvent, AuditEventId, AuditFilter};
use rollcall_domain::ids::OrgId;
use rollcall_domain::model::Timestamp;
use rollcall_domain::page::{MAX_LIMIT, Page, PageRequest};
use rollcall_domain::ports::StoreResult;
use std::sync::atomic::Ordering::Relaxed;

/// Items one Query of a filtered page reads (before the filter).
const FILTER_BATCH: i32 = 250;
/// Most Queries a filtered page makes before it returns what it has and a cursor.
const MAX_QUERIES: usize = 4;
/// The attribute the `actor` filter matches ([`rollcall_domain::audit::Actor::filter_key`]).
pub const ACTOR_KEY: &str = "actor_key";

/// The item of an entry: its fields as attributes, plus the key, the actor's filter key and
/// the TTL (epoch seconds of `expires_at`).
pub fn audit_item(e: &AuditEvent) -> StoreResult<Item> {
    let mut item = to_item(e)?;
    item.extend(crate::item::key(keys::audit(&e.org_id, &e.id)));
    item.insert(ACTOR_KEY.to_owned(), s(e.actor.filter_key()));
    item.insert(keys::TTL.to_owned(), n(e.expires_at.timestamp()));
    Ok(item)
}

impl DynamoStore {
    /// A page of `org`'s entries matching `filter` and unexpired at `now`, newest first: one
    /// Query without a filter, at most [`MAX_QUERIES`] with one.
    pub(crate) async fn audit_list(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        now: Timestamp,
        req: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let partition = keys::audit_pk(org);
        let scope = Scope {
            tag: "audit",
            index: None,
            partition: &partition,
            sk_prefix: AuditEventId::PREFIX,
        };
        let limit = req.limit.clamp(1, MAX_LIMIT);
        let mut start = req
            .cursor
            .as_deref()
            .map(|c| cursor::decode(&scope, c))
            .transpose()?;
        let mut e = Expr::new();
        let lo = filter
            .since
            .map(AuditEventId::lower_bound)
            .map_or_else(|| AuditEventId::PREFIX.to_owned(), |b| b.to_string());
        let hi = filter
            .until
            .map(|u| AuditEventId::lower_bound(u).to_string())
            .unwrap_or_else(|| format!("{}g", AuditEventId::PREFIX));
        let kc = format!(
            "{} = {} AND {} BETWEEN {} AND {}",
            e.name(keys::PK),
            e.val(s(partition.as_str())),
            e.name(keys::SK),
            e.val(s(lo)),
            e.val(s(hi.clone()))
        );
        let mut conds = vec![format!(
            "{} > {}",
            e.name(keys::TTL),
            e.val(n(now.timestamp()))
        )];
        if let Some(a) = filter.action {
            conds.push(format!("{} = {}", e.name("action"), e.val(s(a.as_str()))));
        }
        if let Some(a) = &filter.actor {
            conds.push(format!("{} = {}", e.name(ACTOR_KEY), e.val(s(a.as_str()))));
        }
        if let Some(t) = &filter.target {
            conds.push(format!(
                "{}.{} = {}",
                e.name("target"),
                e.name("id"),
                e.val(s(t.as_str()))
            ));
        }
        let fe = conds.join(" AND ");
        let mut items: Vec<Item> = Vec::new();
        for _ in 0..MAX_QUERIES {
            self.counts.query.fetch_add(1, Relaxed);
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&kc)
                .filter_expression(&fe)
                .set_expression_attribute_names(e.names_opt())
                .set_expression_attribute_values(e.values_opt())
                .consistent_read(true)
                .scan_index_forward(false)
                .limit(FILTER_BATCH.max(limit as i32 + 1))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| errors::service("Query", &e))?;
            for item in r.items.unwrap_or_default() {
                items.push(item);
                if items.len() > limit {
                    items.truncate(limit);
                    let next = match items.last() {
                        Some(last) => Some(cursor::encode(&scope, &scope.key_of(last))?),
                        None => None,
                    };
                    return decode_page(&items, next);
                }
            }
            match r.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return decode_page(&items, None),
            }
        }
        let next = match start {
            Some(k) => Some(cursor::encode(&scope, &k)?),
            None => None,
        };
        decode_page(&items, next)
    }
}

fn decode_page(items: &[Item], next_cursor: Option<String>) -> StoreResult<Page<AuditEvent>> {
    Ok(Page {
        items: items
            .iter()
            .map(crate::item::from_item)
            .collect::<StoreResult<_>>()?,
        next_cursor,
    })
}
