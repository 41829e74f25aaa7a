//! Reads: GetItem, Query (whole partitions and pages), BatchGetItem. Base-table reads are
//! strongly consistent; index queries are eventually consistent (DynamoDB offers nothing else).

use crate::cursor::{self, Scope};
use crate::expr::Expr;
use crate::item::{Item, s};
use crate::{DynamoStore, errors, keys};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use rollcall_domain::page::{MAX_LIMIT, PageRequest};
use rollcall_domain::ports::{StoreError, StoreResult};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

/// Items a filtered page reads per Query (before the filter).
const FILTER_BATCH: i32 = 250;
/// Most Queries one filtered page makes; past that it returns what it has and a cursor.
const MAX_FILTERED_QUERIES: usize = 4;
/// Most BatchGetItem rounds for unprocessed keys.
const MAX_BATCH_ROUNDS: usize = 6;
/// Safety bound on the pages of a whole-partition read (1 MB each).
const MAX_PARTITION_PAGES: usize = 200;

/// A filter expression built into a query's placeholders.
pub type FilterFn<'a> = Box<dyn FnOnce(&mut Expr) -> Option<String> + Send + 'a>;

impl DynamoStore {
    /// One item by key, strongly consistent.
    pub(crate) async fn get(&self, key: (String, String)) -> StoreResult<Option<Item>> {
        self.counts.get.fetch_add(1, Relaxed);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(crate::item::key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| errors::service("GetItem", &e))?;
        Ok(out.item)
    }

    /// Every item of a partition (table or index) whose sort key starts with `sk_prefix`, in sort
    /// order, following pages.
    pub(crate) async fn query_all(
        &self,
        index: Option<keys::Index>,
        partition: &str,
        sk_prefix: &str,
        forward: bool,
    ) -> StoreResult<Vec<Item>> {
        let mut e = Expr::new();
        let kc = key_condition(&mut e, index, partition, sk_prefix);
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        for _ in 0..MAX_PARTITION_PAGES {
            self.counts.query.fetch_add(1, Relaxed);
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(|i| i.name.to_owned()))
                .key_condition_expression(&kc)
                .set_expression_attribute_names(e.names_opt())
                .set_expression_attribute_values(e.values_opt())
                .set_consistent_read(index.is_none().then_some(true))
                .scan_index_forward(forward)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| errors::service("Query", &e))?;
            out.extend(r.items.unwrap_or_default());
            match r.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
        Err(StoreError::Unavailable(
            "Query: partition too large".to_owned(),
        ))
    }

    /// The first item of an index partition (eventually consistent).
    pub(crate) async fn query_first(
        &self,
        index: keys::Index,
        partition: &str,
    ) -> StoreResult<Option<Item>> {
        Ok(self
            .query_first_n(index, partition, 1)
            .await?
            .into_iter()
            .next())
    }

    /// The first `n` items of an index partition, in sort order, in one Query (eventually
    /// consistent).
    pub(crate) async fn query_first_n(
        &self,
        index: keys::Index,
        partition: &str,
        n: usize,
    ) -> StoreResult<Vec<Item>> {
        let mut e = Expr::new();
        let kc = key_condition(&mut e, Some(index), partition, "");
        self.counts.query.fetch_add(1, Relaxed);
        let r = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression(kc)
            .set_expression_attribute_names(e.names_opt())
            .set_expression_attribute_values(e.values_opt())
            .limit(i32::try_from(n.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| errors::service("Query", &e))?;
        Ok(r.items.unwrap_or_default())
    }

    /// One page of a list: a single Query when unfiltered; with a filter, up to
    /// [`MAX_FILTERED_QUERIES`] Queries until the page is full. Returns the items and the cursor.
    pub(crate) async fn page(
        &self,
        scope: &Scope<'_>,
        filter: FilterFn<'_>,
        forward: bool,
        req: &PageRequest,
    ) -> StoreResult<(Vec<Item>, Option<String>)> {
        self.page_up_to(scope, filter, forward, req, MAX_LIMIT)
            .await
    }

    /// [`DynamoStore::page`] with pages of up to `max_limit` items instead of [`MAX_LIMIT`], for
    /// lists of small items (an unfiltered page is still one Query: DynamoDB ends it at 1 MB
    /// read, and the cursor continues from there).
    pub(crate) async fn page_up_to(
        &self,
        scope: &Scope<'_>,
        filter: FilterFn<'_>,
        forward: bool,
        req: &PageRequest,
        max_limit: usize,
    ) -> StoreResult<(Vec<Item>, Option<String>)> {
        let limit = req.limit.clamp(1, max_limit.max(1));
        let mut start = match &req.cursor {
            Some(c) => Some(cursor::decode(scope, c)?),
            None => None,
        };
        let mut e = Expr::new();
        let kc = key_condition(&mut e, scope.index, scope.partition, scope.sk_prefix);
        let fe = filter(&mut e);
        let filtered = fe.is_some();
        let batch = if filtered {
            FILTER_BATCH.max(limit as i32 + 1)
        } else {
            limit as i32 + 1
        };
        let mut out: Vec<Item> = Vec::new();
        for _ in 0..MAX_FILTERED_QUERIES {
            self.counts.query.fetch_add(1, Relaxed);
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(scope.index.map(|i| i.name.to_owned()))
                .key_condition_expression(&kc)
                .set_filter_expression(fe.clone())
                .set_expression_attribute_names(e.names_opt())
                .set_expression_attribute_values(e.values_opt())
                .set_consistent_read(scope.index.is_none().then_some(true))
                .scan_index_forward(forward)
                .limit(batch)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| errors::service("Query", &e))?;
            for item in r.items.unwrap_or_default() {
                out.push(item);
                if out.len() > limit {
                    out.truncate(limit);
                    let next = match out.last() {
                        Some(last) => Some(cursor::encode(scope, &scope.key_of(last))?),
                        None => None,
                    };
                    return Ok((out, next));
                }
            }
            match r.last_evaluated_key {
                Some(k) if !k.is_empty() => {
                    if !filtered {
                        return Ok((out, Some(cursor::encode(scope, &k)?)));
                    }
                    start = Some(k);
                }
                _ => return Ok((out, None)),
            }
        }
        let next = match start {
            Some(k) => Some(cursor::encode(scope, &k)?),
            None => None,
        };
        Ok((out, next))
    }

    /// Items by key (missing ones left out), in no particular order, strongly consistent.
    pub(crate) async fn batch_get(&self, keys_in: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<Item> = keys_in
            .into_iter()
            .filter(|k| {
                let id = (
                    crate::item::get_s(k, keys::PK).unwrap_or("").to_owned(),
                    crate::item::get_s(k, keys::SK).unwrap_or("").to_owned(),
                );
                seen.insert(id)
            })
            .collect();
        for chunk in unique.chunks(100) {
            let mut pending: Option<HashMap<String, KeysAndAttributes>> = Some(HashMap::from([(
                self.table.clone(),
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(errors::build)?,
            )]));
            let mut rounds = 0;
            while let Some(req) = pending.take() {
                if rounds == MAX_BATCH_ROUNDS {
                    return Err(StoreError::Unavailable(
                        "BatchGetItem: keys left unprocessed".to_owned(),
                    ));
                }
                if rounds > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << rounds)).await;
                }
                rounds += 1;
                self.counts.batch_get.fetch_add(1, Relaxed);
                let r = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(req))
                    .send()
                    .await
                    .map_err(|e| errors::service("BatchGetItem", &e))?;
                if let Some(mut responses) = r.responses {
                    out.extend(responses.remove(&self.table).unwrap_or_default());
                }
                pending = r
                    .unprocessed_keys
                    .filter(|u| u.values().any(|k| !k.keys().is_empty()));
            }
        }
        Ok(out)
    }
}

fn key_condition(
    e: &mut Expr,
    index: Option<keys::Index>,
    partition: &str,
    sk_prefix: &str,
) -> String {
    let (pk, sk) = match index {
        Some(i) => (i.pk, i.sk),
        None => (keys::PK, keys::SK),
    };
    let pkn = e.name(pk);
    let pkv = e.val(s(partition));
    if sk_prefix.is_empty() {
        return format!("{pkn} = {pkv}");
    }
    let skn = e.name(sk);
    let skv = e.val(s(sk_prefix));
    format!("{pkn} = {pkv} AND begins_with({skn}, {skv})")
}
