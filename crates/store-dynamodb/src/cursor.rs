//! Opaque cursors: base64url (no padding) of `{"t": list, "k": LastEvaluatedKey}` JSON. A cursor
//! is accepted only by the list that made it: same list tag, exactly the key attributes of the
//! queried index, the same partition, and a sort key in the queried range.

use crate::item::{Item, s};
use crate::keys::{self, Index};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rollcall_domain::page::MAX_CURSOR_LEN;
use rollcall_domain::ports::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The query a cursor belongs to.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// Which list (e.g. `members`).
    pub tag: &'static str,
    /// The index queried (`None`: the table).
    pub index: Option<Index>,
    /// The partition key value queried.
    pub partition: &'a str,
    /// The sort key prefix queried.
    pub sk_prefix: &'a str,
}

impl Scope<'_> {
    fn key_names(&self) -> Vec<&'static str> {
        let mut v = vec![keys::PK, keys::SK];
        if let Some(i) = self.index {
            v.push(i.pk);
            v.push(i.sk);
        }
        v.sort_unstable();
        v
    }

    fn partition_attr(&self) -> &'static str {
        self.index.map(|i| i.pk).unwrap_or(keys::PK)
    }

    fn sort_attr(&self) -> &'static str {
        self.index.map(|i| i.sk).unwrap_or(keys::SK)
    }

    /// The key (table and index attributes) of an item of this query, to resume after it.
    pub fn key_of(&self, item: &Item) -> Item {
        self.key_names()
            .into_iter()
            .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    t: String,
    k: BTreeMap<String, String>,
}

/// Encodes a LastEvaluatedKey as a cursor of `scope`.
pub fn encode(scope: &Scope<'_>, key: &Item) -> StoreResult<String> {
    let mut k = BTreeMap::new();
    for (name, v) in key {
        let v = v
            .as_s()
            .map_err(|_| StoreError::Corrupt(format!("non-string key attribute {name}")))?;
        k.insert(name.clone(), v.clone());
    }
    let json = serde_json::to_vec(&Wire {
        t: scope.tag.to_owned(),
        k,
    })
    .map_err(|e| StoreError::Corrupt(format!("cursor: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor made by [`encode`] for the same scope; anything else is
/// [`StoreError::InvalidCursor`].
pub fn decode(scope: &Scope<'_>, cursor: &str) -> StoreResult<Item> {
    if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    if wire.t != scope.tag {
        return Err(StoreError::InvalidCursor);
    }
    let names: Vec<&str> = wire.k.keys().map(String::as_str).collect();
    if names != scope.key_names() {
        return Err(StoreError::InvalidCursor);
    }
    if wire.k.get(scope.partition_attr()).map(String::as_str) != Some(scope.partition) {
        return Err(StoreError::InvalidCursor);
    }
    if !wire
        .k
        .get(scope.sort_attr())
        .is_some_and(|v| v.starts_with(scope.sk_prefix))
    {
        return Err(StoreError::InvalidCursor);
    }
    Ok(wire.k.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(partition: &str) -> Scope<'_> {
        Scope {
            tag: "members",
            index: None,
            partition,
            sk_prefix: "MEMBER#",
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let key: Item = [
            (keys::PK.to_owned(), s("ORG#a")),
            (keys::SK.to_owned(), s("MEMBER#u")),
        ]
        .into();
        let c = encode(&scope("ORG#a"), &key).unwrap();
        assert_eq!(decode(&scope("ORG#a"), &c).unwrap(), key);
        assert_eq!(decode(&scope("ORG#b"), &c), Err(StoreError::InvalidCursor));
        for bad in ["", "!!!", "bm9wZQ", &"a".repeat(2000)] {
            assert_eq!(decode(&scope("ORG#a"), bad), Err(StoreError::InvalidCursor));
        }
        let other = Scope {
            tag: "links",
            ..scope("ORG#a")
        };
        assert_eq!(decode(&other, &c), Err(StoreError::InvalidCursor));
        let gsi = Scope {
            index: Some(keys::GSI1),
            ..scope("ORG#a")
        };
        assert_eq!(decode(&gsi, &c), Err(StoreError::InvalidCursor));
    }
}
