//! The audit log on DynamoDB: one item per entry, `AUDIT#org` / `aud_…` (ids sort by time),
//! put with `attribute_not_exists` in the transaction of the change it records and never
//! updated; TTL deletes it at its `expires_at`. Lists are Queries of the org's partition, newest
//! first, a time range being a sort-key range.

use crate::cursor::{self, Scope};
use crate::expr::Expr;
use crate::item::{Item, n, s, to_item};
use crate::{DynamoStore, errors, keys};
use aws_sdk_dynamodb::types::AttributeValue;
use rollcall_domain::audit::{AuditEvent, AuditEventId, AuditFilter};
use rollcall_domain::ids::OrgId;
use rollcall_domain::model::Timestamp;
use rollcall_domain::page::{MAX_LIMIT, Page, PageRequest};
use rollcall_domain::ports::{StoreError, StoreResult};
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

/// The audit entry of a DynamoDB Streams record's `NewImage` (the attribute-value JSON the
/// stream delivers: `{"S": …}`, `{"N": …}`, `{"M": {…}}`, …), or why it is not one.
pub fn audit_event_from_stream_image(image: &serde_json::Value) -> Result<AuditEvent, String> {
    let map = image.as_object().ok_or("the image is not an object")?;
    let mut item = Item::new();
    for (name, v) in map {
        item.insert(name.clone(), stream_attr(v)?);
    }
    match crate::item::get_s(&item, keys::PK) {
        Some(pk) if pk.starts_with("AUDIT#") => {}
        _ => return Err("not an audit entry (its PK is not AUDIT#…)".to_owned()),
    }
    crate::item::from_item(&item).map_err(|e| e.to_string())
}

/// One attribute value of the stream's JSON form.
fn stream_attr(v: &serde_json::Value) -> Result<AttributeValue, String> {
    let (kind, value) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
        .ok_or("an attribute value is not a one-key object")?;
    let text = || {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind} value is not a string"))
    };
    let texts = || -> Result<Vec<String>, String> {
        value
            .as_array()
            .ok_or_else(|| format!("{kind} value is not a list"))?
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{kind} member is not a string"))
            })
            .collect()
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "BOOL" => AttributeValue::Bool(value.as_bool().ok_or("BOOL value is not a boolean")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "L" => AttributeValue::L(
            value
                .as_array()
                .ok_or("L value is not a list")?
                .iter()
                .map(stream_attr)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            value
                .as_object()
                .ok_or("M value is not an object")?
                .iter()
                .map(|(k, v)| Ok((k.clone(), stream_attr(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("unsupported attribute type {other}")),
    })
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
        let lo = filter
            .since
            .map(AuditEventId::lower_bound)
            .map_or_else(|| AuditEventId::PREFIX.to_owned(), |b| b.to_string());
        let hi = filter
            .until
            .map(|u| AuditEventId::lower_bound(u).to_string())
            .unwrap_or_else(|| format!("{}g", AuditEventId::PREFIX));
        // A cursor of another time range would start the Query outside its key range (which
        // DynamoDB refuses): it is not a cursor of this list.
        let mut start = match req.cursor.as_deref() {
            Some(c) => {
                let key = cursor::decode(&scope, c)?;
                match crate::item::get_s(&key, keys::SK) {
                    Some(sk) if sk >= lo.as_str() && sk <= hi.as_str() => Some(key),
                    _ => return Err(StoreError::InvalidCursor),
                }
            }
            None => None,
        };
        let mut e = Expr::new();
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
                    return decode_page(&items, filter, next);
                }
            }
            match r.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return decode_page(&items, filter, None),
            }
        }
        let next = match start {
            Some(k) => Some(cursor::encode(&scope, &k)?),
            None => None,
        };
        decode_page(&items, filter, next)
    }
}

/// The page's entries; the key range holds whole milliseconds, so entries of the bounds'
/// milliseconds outside `since`..`until` are left out here (as the embedded store does).
fn decode_page(
    items: &[Item],
    filter: &AuditFilter,
    next_cursor: Option<String>,
) -> StoreResult<Page<AuditEvent>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let e: AuditEvent = crate::item::from_item(item)?;
        if e.matches(filter) {
            out.push(e);
        }
    }
    Ok(Page {
        items: out,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_domain::audit::{AuditAction, Origin, Target, TargetKind};

    /// An item as the stream delivers it (attribute-value JSON).
    fn stream_json(item: &Item) -> serde_json::Value {
        fn one(v: &AttributeValue) -> serde_json::Value {
            match v {
                AttributeValue::S(x) => serde_json::json!({ "S": x }),
                AttributeValue::N(x) => serde_json::json!({ "N": x }),
                AttributeValue::Bool(x) => serde_json::json!({ "BOOL": x }),
                AttributeValue::Null(_) => serde_json::json!({ "NULL": true }),
                AttributeValue::L(xs) => {
                    serde_json::json!({ "L": xs.iter().map(one).collect::<Vec<_>>() })
                }
                AttributeValue::M(m) => serde_json::json!({
                    "M": m.iter().map(|(k, v)| (k.clone(), one(v))).collect::<serde_json::Map<_, _>>()
                }),
                other => panic!("unexpected {other:?}"),
            }
        }
        serde_json::Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
    }

    #[test]
    fn a_stream_image_decodes_to_the_entry_written() {
        let e = AuditEvent::new(
            &OrgId::from_uuid(uuid::Uuid::now_v7()),
            &Origin::system(),
            chrono::Utc::now(),
            365,
            AuditAction::GroupMembersChanged,
            Target::new(TargetKind::Group, "grp_x"),
            serde_json::json!({ "members": [{ "user_id": "usr_a", "n": 1.5, "ok": true, "none": null }] }),
        );
        let image = stream_json(&audit_item(&e).unwrap());
        assert_eq!(audit_event_from_stream_image(&image), Ok(e));
        assert!(
            audit_event_from_stream_image(&serde_json::json!({ "PK": { "S": "ORG#x" } })).is_err()
        );
        assert!(audit_event_from_stream_image(&serde_json::json!({ "PK": { "Q": "x" } })).is_err());
    }
}
