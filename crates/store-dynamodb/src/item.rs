//! Items: domain structs as native DynamoDB attributes, plus the key, index and condition
//! attributes each item type carries.
//!
//! A struct's fields become top-level attributes through its serde form (strings `S`, numbers `N`,
//! booleans `BOOL`, lists `L`, nested structs `M`); `None` fields are left out, so
//! `attribute_not_exists(field)` means "unset". Decoding ignores the extra attributes.

use crate::keys::{self, RefTarget};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use rollcall_domain::ids::{GroupId, OrgId, PoolId, UserId};
use rollcall_domain::model::{
    Group, Invitation, InvitationStatus, InviteLink, Membership, Organization, Pool, ScimToken,
    ScimUser, User,
};
use rollcall_domain::ports::{StoreError, StoreResult};
use rollcall_domain::role::Assignment;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use std::collections::{BTreeSet, HashMap};

/// One item's attributes.
pub type Item = HashMap<String, AttributeValue>;

/// How long terminal invitations are kept before TTL deletes them.
pub const INVITATION_RETENTION_DAYS: i64 = 90;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Epoch nanoseconds of a timestamp, exact for any date chrono can hold.
pub fn epoch_nanos(t: DateTime<Utc>) -> i128 {
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

/// The key of an item.
pub fn key((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

fn to_attr(v: Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(x) => AttributeValue::N(x.to_string()),
        Value::String(x) => AttributeValue::S(x),
        Value::Array(xs) => AttributeValue::L(xs.into_iter().map(to_attr).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.into_iter().map(|(k, v)| (k, to_attr(v))).collect())
        }
    }
}

fn from_attr(a: &AttributeValue) -> Result<Value, String> {
    Ok(match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(x) => Value::Number(parse_number(x)?),
        AttributeValue::S(x) => Value::String(x.clone()),
        AttributeValue::L(xs) => Value::Array(xs.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), from_attr(v)?);
            }
            Value::Object(out)
        }
        AttributeValue::Ss(xs) => Value::Array(xs.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(xs) => Value::Array(
            xs.iter()
                .map(|x| parse_number(x).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err("unsupported attribute type".to_owned()),
    })
}

fn parse_number(x: &str) -> Result<Number, String> {
    serde_json::from_str::<Number>(x).map_err(|_| format!("bad number `{x}`"))
}

/// The top-level attributes of a serializable struct (`None` fields left out).
pub fn to_item<T: Serialize>(value: &T) -> StoreResult<Item> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => Ok(m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, to_attr(v)))
            .collect()),
        Ok(_) => Err(StoreError::Corrupt("entity is not a struct".to_owned())),
        Err(e) => Err(StoreError::Corrupt(format!("encode: {e}"))),
    }
}

/// One attribute value from a serializable value.
pub fn attr<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_json::to_value(value)
        .map(to_attr)
        .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))
}

/// The serde wire string of a unit enum (`active`, `pending`, …).
pub fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(x)) => x,
        _ => String::new(),
    }
}

/// Decodes a struct from an item (extra attributes ignored).
pub fn from_item<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let mut m = Map::new();
    for (k, v) in item {
        let v = from_attr(v).map_err(|e| corrupt(item, &e))?;
        m.insert(k.clone(), v);
    }
    serde_json::from_value(Value::Object(m)).map_err(|e| corrupt(item, &e.to_string()))
}

fn corrupt(item: &Item, why: &str) -> StoreError {
    let pk = item
        .get(keys::PK)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("?");
    let sk = item
        .get(keys::SK)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("?");
    StoreError::Corrupt(format!("{pk}/{sk}: {why}"))
}

/// A string attribute of an item.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A number attribute of an item, as i64.
pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|x| x.parse().ok())
}

/// The table key (`PK`, `SK`) of an item.
pub fn key_of(item: &Item) -> Item {
    [keys::PK, keys::SK]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

fn with_key(mut item: Item, k: (String, String)) -> Item {
    item.extend(key(k));
    item
}

fn set_index(item: &mut Item, index: keys::Index, (pk, sk): (String, String)) {
    item.insert(index.pk.to_owned(), s(pk));
    item.insert(index.sk.to_owned(), s(sk));
}

/// The user item, with its email index when the user owns the address ([`User::owns_email`]).
pub fn user_item(u: &User) -> StoreResult<Item> {
    let mut item = with_key(to_item(u)?, keys::user(&u.id));
    if u.owns_email() {
        set_index(
            &mut item,
            keys::GSI2,
            keys::user_email_gsi2(u.email.normalized(), u.created_at, &u.id),
        );
    }
    Ok(item)
}

/// The subject claim, a copy of the user.
pub fn sub_item(u: &User) -> StoreResult<Item> {
    Ok(with_key(to_item(u)?, keys::sub(&u.sub)))
}

/// The organization item.
pub fn org_item(o: &Organization) -> StoreResult<Item> {
    Ok(with_key(to_item(o)?, keys::org(&o.id)))
}

/// A pool's own attributes (without its counters `children`/`seq`), with its owner index.
pub fn pool_attrs(p: &Pool) -> StoreResult<Item> {
    let mut item = with_key(to_item(p)?, keys::pool(&p.org_id, &p.id));
    set_index(
        &mut item,
        keys::GSI3,
        (
            keys::owner_gsi3(&p.org_id, &p.owner_id),
            keys::owned_pool_gsi3(&p.id),
        ),
    );
    Ok(item)
}

/// A new pool item: its attributes and zeroed counters.
pub fn new_pool_item(p: &Pool) -> StoreResult<Item> {
    let mut item = pool_attrs(p)?;
    item.insert(keys::CHILDREN.to_owned(), n(0));
    item.insert(keys::SEQ.to_owned(), n(0));
    Ok(item)
}

/// The grant keys a membership is filtered on: each role, each `role#pool`, each pool.
pub fn grants(assignments: &[Assignment]) -> Vec<String> {
    let mut set = BTreeSet::new();
    for a in assignments {
        set.insert(a.role.as_str().to_owned());
        if let Some(p) = &a.pool_id {
            set.insert(a.grant_key());
            set.insert(p.to_string());
        }
    }
    set.into_iter().collect()
}

/// The text the `q` filter searches: normalized email and lowercased name.
pub fn search_text(m: &Membership) -> String {
    format!(
        "{}\n{}",
        m.email.normalized(),
        m.name.as_deref().unwrap_or("").to_lowercase()
    )
}

/// The membership item, with its user index, grants and search text.
pub fn membership_item(m: &Membership) -> StoreResult<Item> {
    let mut item = with_key(to_item(m)?, keys::membership(&m.org_id, &m.user_id));
    set_index(
        &mut item,
        keys::GSI1,
        keys::membership_gsi1(&m.org_id, &m.user_id),
    );
    set_index(
        &mut item,
        keys::GSI2,
        keys::membership_gsi2(&m.org_id, m.email.normalized(), &m.user_id),
    );
    let g = grants(&m.assignments);
    if !g.is_empty() {
        item.insert(keys::GRANTS.to_owned(), AttributeValue::Ss(g));
    }
    item.insert(keys::SEARCH.to_owned(), s(search_text(m)));
    Ok(item)
}

/// An invitation's attributes without keys: fields, expiry, normalized email, and the TTL once
/// terminal (90 days after its last change).
fn invitation_attrs(inv: &Invitation) -> StoreResult<Item> {
    let mut item = to_item(inv)?;
    item.insert(keys::EXP.to_owned(), n(epoch_nanos(inv.expires_at)));
    item.insert(keys::EMAIL_NORM.to_owned(), s(inv.email.normalized()));
    if inv.status != InvitationStatus::Pending {
        let ttl = inv.updated_at + Duration::days(INVITATION_RETENTION_DAYS);
        item.insert(keys::TTL.to_owned(), n(ttl.timestamp()));
    }
    Ok(item)
}

/// The invitation item with its org and email indexes, and the owner index while pending.
pub fn invitation_item(inv: &Invitation) -> StoreResult<Item> {
    let mut item = with_key(invitation_attrs(inv)?, keys::invitation(&inv.id));
    set_index(
        &mut item,
        keys::GSI1,
        keys::invitation_gsi1(&inv.org_id, &inv.id),
    );
    set_index(
        &mut item,
        keys::GSI2,
        keys::invitation_gsi2(inv.email.normalized(), &inv.id),
    );
    if inv.status == InvitationStatus::Pending {
        set_index(
            &mut item,
            keys::GSI3,
            (
                keys::owner_gsi3(&inv.org_id, &inv.inviter_id),
                keys::owned_invitation_gsi3(&inv.id),
            ),
        );
    }
    Ok(item)
}

/// The token claim of an invitation: a full copy of it (no index attributes), kept after it
/// closes (with the same TTL) and deleted when a resend supersedes the token.
pub fn invitation_token_item(inv: &Invitation) -> StoreResult<Item> {
    Ok(with_key(
        invitation_attrs(inv)?,
        keys::invitation_token(&inv.token_hash),
    ))
}

/// The pending slot of an invitation: `target` = its id.
pub fn pending_slot_item(inv: &Invitation) -> Item {
    let mut item = key(keys::pending_slot(&inv.org_id, inv.email.normalized()));
    item.insert(keys::TARGET.to_owned(), s(inv.id.as_str()));
    item
}

/// The invite link item with its owner index and expiry.
pub fn link_item(l: &InviteLink) -> StoreResult<Item> {
    let mut item = with_key(to_item(l)?, keys::link(&l.org_id, &l.id));
    set_index(
        &mut item,
        keys::GSI3,
        (
            keys::owner_gsi3(&l.org_id, &l.created_by),
            keys::owned_link_gsi3(&l.id),
        ),
    );
    if let Some(e) = l.expires_at {
        item.insert(keys::EXP.to_owned(), n(epoch_nanos(e)));
    }
    Ok(item)
}

/// The invite link's token claim, pointing to it.
pub fn link_token_item(l: &InviteLink) -> Item {
    let mut item = key(keys::link_token(&l.token_hash));
    item.insert(keys::TARGET_ORG.to_owned(), s(l.org_id.as_str()));
    item.insert(keys::TARGET.to_owned(), s(l.id.as_str()));
    item
}

/// The SCIM token item.
pub fn scim_item(t: &ScimToken) -> StoreResult<Item> {
    Ok(with_key(to_item(t)?, keys::scim_token(&t.org_id, &t.id)))
}

/// The SCIM token's hash claim, a full copy of it.
pub fn scim_hash_item(t: &ScimToken) -> StoreResult<Item> {
    Ok(with_key(to_item(t)?, keys::scim_token_hash(&t.token_hash)))
}

/// The SCIM record of a member.
pub fn scim_user_item(u: &ScimUser) -> StoreResult<Item> {
    Ok(with_key(
        to_item(u)?,
        keys::scim_user(&u.org_id, &u.user_id),
    ))
}

/// A claim held by a user (`target` = the user id).
pub fn user_claim_item(k: (String, String), user: &UserId) -> Item {
    let mut item = key(k);
    item.insert(keys::TARGET.to_owned(), s(user.as_str()));
    item
}

/// A reference item (pool → item with an assignment on it).
pub fn ref_item(org: &OrgId, pool: &PoolId, t: &RefTarget) -> Item {
    key(keys::pool_ref(org, pool, t))
}

/// The reference item of the memberships (by user id) one group change gave `pool`.
pub fn group_members_ref_item<'a>(
    org: &OrgId,
    pool: &PoolId,
    group: &GroupId,
    version: u64,
    users: impl IntoIterator<Item = &'a UserId>,
) -> Item {
    let mut item = ref_item(org, pool, &RefTarget::GroupMembers(group.clone(), version));
    let users: BTreeSet<String> = users.into_iter().map(|u| u.to_string()).collect();
    item.insert(
        keys::USERS.to_owned(),
        AttributeValue::Ss(users.into_iter().collect()),
    );
    item
}

/// The user ids a `GMEMBERS` reference item lists.
pub fn ref_users(item: &Item) -> Vec<UserId> {
    item.get(keys::USERS)
        .and_then(|v| v.as_ss().ok())
        .map(|ids| ids.iter().filter_map(|u| UserId::parse(u).ok()).collect())
        .unwrap_or_default()
}

/// The group item.
pub fn group_item(g: &Group) -> StoreResult<Item> {
    Ok(with_key(to_item(g)?, keys::group(&g.org_id, &g.id)))
}

/// The displayName claim of a group: a full copy of it.
pub fn group_name_item(g: &Group) -> StoreResult<Item> {
    Ok(with_key(
        to_item(g)?,
        keys::group_name(&g.org_id, &g.name_key()),
    ))
}

/// A group's member entry: keys only.
pub fn group_member_item(org: &OrgId, group: &GroupId, member_ref: &UserId) -> Item {
    key(keys::group_member(org, group, member_ref))
}

/// The pools named in a list of assignments, without duplicates.
pub fn pools_of(assignments: &[Assignment]) -> BTreeSet<PoolId> {
    assignments
        .iter()
        .filter_map(|a| a.pool_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_domain::email::Email;
    use rollcall_domain::ids::{InvitationId, OrgId, PoolId, UserId};
    use rollcall_domain::model::EmailStatus;
    use rollcall_domain::role::Role;
    use uuid::Uuid;

    #[test]
    fn invitation_round_trips_and_carries_index_attributes() {
        let now = Utc::now();
        let inv = Invitation {
            id: InvitationId::from_uuid(Uuid::now_v7()),
            org_id: OrgId::from_uuid(Uuid::now_v7()),
            email: Email::parse("Ada@Example.com").unwrap(),
            name: None,
            phone: Some("+1 555".into()),
            assignments: vec![Assignment::on_pool(
                Role::Engineer,
                PoolId::from_uuid(Uuid::now_v7()),
            )],
            inviter_id: UserId::from_uuid(Uuid::now_v7()),
            status: InvitationStatus::Pending,
            email_status: EmailStatus::Sent,
            email_message_id: None,
            token_hash: "ab".repeat(32),
            expires_at: now,
            created_at: now,
            updated_at: now,
            accepted_at: None,
            accepted_by: None,
            version: u64::MAX,
        };
        let item = invitation_item(&inv).unwrap();
        assert!(!item.contains_key("name"));
        assert!(item.contains_key(keys::GSI3.pk));
        assert!(!item.contains_key(keys::TTL));
        assert_eq!(from_item::<Invitation>(&item).unwrap(), inv);
        let closed = Invitation {
            status: InvitationStatus::Revoked,
            ..inv.clone()
        };
        let item = invitation_item(&closed).unwrap();
        assert!(!item.contains_key(keys::GSI3.pk));
        assert!(item.contains_key(keys::TTL));
        let copy = invitation_token_item(&inv).unwrap();
        assert!(!copy.contains_key(keys::GSI1.pk));
        assert_eq!(from_item::<Invitation>(&copy).unwrap(), inv);
    }

    #[test]
    fn grants_hold_roles_pools_and_pairs() {
        let p = PoolId::from_uuid(Uuid::now_v7());
        let g = grants(&[Assignment::on_pool(Role::Manager, p.clone())]);
        assert!(g.contains(&"manager".to_owned()));
        assert!(g.contains(&format!("manager#{p}")));
        assert!(g.contains(&p.to_string()));
    }

    #[test]
    fn garbage_is_corrupt() {
        let item: Item = HashMap::from([("id".to_owned(), s("nope"))]);
        assert!(matches!(
            from_item::<User>(&item),
            Err(StoreError::Corrupt(_))
        ));
    }
}
