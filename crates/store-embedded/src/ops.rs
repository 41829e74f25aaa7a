//! The body of every Store method, run inside one redb transaction.
//!
//! Write functions take the write transaction and return an error to abort it: nothing of a
//! failed call is committed, so checks and writes may be interleaved freely.

use crate::db::{
    Reader, del, del_range, exists, get, get_str, put, put_str, scan_prefix, scan_values,
};
use crate::keys::{self, ListKind};
use chrono::Duration;
use redb::{ReadTransaction, WriteTransaction};
use rollcall_domain::email::normalize_email;
use rollcall_domain::ids::{InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use rollcall_domain::model::{
    Group, Invitation, InvitationStatus, InviteLink, Membership, Organization, Pool, ScimToken,
    ScimUser, Timestamp, User, user_name_key,
};
use rollcall_domain::page::{MAX_LIMIT, Page, PageRequest};
use rollcall_domain::ports::{
    Conflict, Handover, InvitationFilter, InviteLimits, MemberFilter, MembershipWrite, RateLimit,
    StoreError, StoreResult, scim_update_is_consistent,
};
use rollcall_domain::role::{Assignment, Role, normal_form};
use serde::{Deserialize, Serialize};
use std::ops::Bound;

/// Per-organization counters kept with every write that changes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    /// Active organization managers.
    pub active_org_managers: u32,
    /// Pools, the root included.
    pub pools: u32,
    /// Stored-pending invitations (expired ones included until closed or replaced).
    pub pending_invitations: u32,
    /// Memberships.
    #[serde(default)]
    pub members: u64,
    /// SCIM tokens.
    #[serde(default)]
    pub scim_tokens: u32,
    /// SCIM groups.
    #[serde(default)]
    pub groups: u32,
}

pub(crate) fn conflict<T>(c: Conflict) -> StoreResult<T> {
    Err(StoreError::Conflict(c))
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn counters(r: &impl Reader, org: &OrgId) -> StoreResult<Counters> {
    Ok(get(r, keys::ORG_COUNTERS, org.as_str())?.unwrap_or_default())
}

pub(crate) fn put_counters(tx: &WriteTransaction, org: &OrgId, c: &Counters) -> StoreResult<()> {
    put(tx, keys::ORG_COUNTERS, org.as_str(), c)
}

pub(crate) fn require_org(tx: &WriteTransaction, org: &OrgId) -> StoreResult<()> {
    if exists(tx, keys::ORGS, org.as_str())? {
        Ok(())
    } else {
        conflict(Conflict::OrgMissing)
    }
}

/// Takes the claim at `key` for `user` unless another user holds it (`taken`).
fn take_claim(
    tx: &WriteTransaction,
    table: keys::Table,
    key: &str,
    user: &UserId,
    taken: Conflict,
) -> StoreResult<()> {
    match get_str(tx, table, key)? {
        Some(holder) if holder != user.as_str() => conflict(taken),
        Some(_) => Ok(()),
        None => put_str(tx, table, key, user.as_str()),
    }
}

/// Releases `user`'s claim at `key` (nothing to do when there is none); [`Conflict::Stale`] if
/// another user holds it.
fn release_claim(
    tx: &WriteTransaction,
    table: keys::Table,
    key: &str,
    user: &UserId,
) -> StoreResult<()> {
    match get_str(tx, table, key)? {
        Some(holder) if holder != user.as_str() => conflict(Conflict::Stale),
        Some(_) => del(tx, table, key).map(|_| ()),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- users

pub(crate) fn get_user(r: &ReadTransaction, id: &UserId) -> StoreResult<Option<User>> {
    get(r, keys::USERS, id.as_str())
}

pub(crate) fn get_user_by_sub(r: &ReadTransaction, sub: &str) -> StoreResult<Option<User>> {
    match get_str(r, keys::USER_SUBS, sub)? {
        Some(id) => get(r, keys::USERS, &id),
        None => Ok(None),
    }
}

/// The key of a user in [`keys::USER_EMAILS`], when the user owns the address
/// ([`User::owns_email`]).
fn user_email_key(u: &User) -> Option<String> {
    u.owns_email()
        .then(|| keys::user_email(u.email.normalized(), u.created_at, &u.id))
}

/// Adds `user`'s email index entry, if any.
fn index_user_email(tx: &WriteTransaction, user: &User) -> StoreResult<()> {
    match user_email_key(user) {
        Some(k) => put_str(tx, keys::USER_EMAILS, &k, ""),
        None => Ok(()),
    }
}

/// Replaces `stored` with `user` (same id), moving its email index entry when needed.
fn rewrite_user(tx: &WriteTransaction, stored: &User, user: &User) -> StoreResult<()> {
    let (old, new) = (user_email_key(stored), user_email_key(user));
    if old != new {
        if let Some(old) = &old {
            del(tx, keys::USER_EMAILS, old)?;
        }
        index_user_email(tx, user)?;
    }
    put(tx, keys::USERS, user.id.as_str(), user)
}

/// Creates a user: the user, its subject claim and its email index entry. [`Conflict::Stale`] if
/// the subject or the id is taken.
fn create_user(tx: &WriteTransaction, user: &User) -> StoreResult<()> {
    if exists(tx, keys::USER_SUBS, &user.sub)? || exists(tx, keys::USERS, user.id.as_str())? {
        return conflict(Conflict::Stale);
    }
    put(tx, keys::USERS, user.id.as_str(), user)?;
    put_str(tx, keys::USER_SUBS, &user.sub, user.id.as_str())?;
    index_user_email(tx, user)
}

pub(crate) fn upsert_user(tx: &WriteTransaction, user: &User) -> StoreResult<User> {
    if let Some(id) = get_str(tx, keys::USER_SUBS, &user.sub)? {
        let stored: User = get(tx, keys::USERS, &id)?
            .ok_or_else(|| corrupt(format!("user {id} indexed but missing")))?;
        if stored.email != user.email
            || stored.email_verified != user.email_verified
            || stored.name != user.name
        {
            let updated = User {
                email: user.email.clone(),
                email_verified: user.email_verified,
                name: user.name.clone(),
                ..stored.clone()
            };
            rewrite_user(tx, &stored, &updated)?;
            return Ok(updated);
        }
        return Ok(stored);
    }
    create_user(tx, user)?;
    Ok(user.clone())
}

pub(crate) fn list_users_by_email(
    r: &ReadTransaction,
    email: &str,
    limit: usize,
) -> StoreResult<Vec<User>> {
    let mut out = Vec::new();
    for (k, _) in scan_prefix(r, keys::USER_EMAILS, &keys::user_emails(email))? {
        if out.len() >= limit {
            break;
        }
        let Some(id) = k.rsplit('/').next() else {
            continue;
        };
        if let Some(u) = get::<User>(r, keys::USERS, id)?
            && u.email.normalized() == email
            && u.owns_email()
        {
            out.push(u);
        }
    }
    Ok(out)
}

pub(crate) fn link_member(
    tx: &WriteTransaction,
    placeholder: &User,
    member: &Membership,
    to: &User,
) -> StoreResult<Membership> {
    let org = &member.org_id;
    let from = &placeholder.id;
    let stored = get::<User>(tx, keys::USERS, from.as_str())?;
    if stored.as_ref() != Some(placeholder)
        || !placeholder.is_placeholder_of(org)
        || &member.user_id != from
    {
        return conflict(Conflict::Stale);
    }
    // A placeholder is one organization's: it has no other membership to carry.
    if scan_prefix(tx, keys::USER_ORGS, &keys::prefix(from.as_str()))?.len() != 1 {
        return conflict(Conflict::Stale);
    }
    let key = keys::membership(org, from);
    let Some(m) = get::<Membership>(tx, keys::MEMBERSHIPS, &key)? else {
        return conflict(Conflict::Stale);
    };
    if m.version != member.version {
        return conflict(Conflict::Stale);
    }
    match get::<User>(tx, keys::USERS, to.id.as_str())? {
        Some(person) if !person.is_placeholder() => {}
        _ => return conflict(Conflict::Stale),
    }
    let to_key = keys::membership(org, &to.id);
    if exists(tx, keys::MEMBERSHIPS, &to_key)? {
        return conflict(Conflict::MembershipExists);
    }
    // The membership and its claims.
    del(tx, keys::MEMBERSHIPS, &key)?;
    unindex_membership(tx, &m)?;
    let moved = Membership {
        user_id: to.id.clone(),
        version: m.version + 1,
        ..m.clone()
    };
    put(tx, keys::MEMBERSHIPS, &to_key, &moved)?;
    index_membership(tx, &moved)?;
    if let Some(x) = &m.external_id {
        let claim = keys::external_id(org, x);
        release_claim(tx, keys::EXTERNAL_IDS, &claim, from)?;
        take_claim(
            tx,
            keys::EXTERNAL_IDS,
            &claim,
            &to.id,
            Conflict::ExternalIdTaken,
        )?;
    }
    // The SCIM record, keeping the id the identity provider knows.
    let record_key = keys::scim_user(org, from);
    if let Some(r) = get::<ScimUser>(tx, keys::SCIM_USERS, &record_key)? {
        del(tx, keys::SCIM_USERS, &record_key)?;
        let claim = keys::user_name(org, &r.user_name_key());
        release_claim(tx, keys::SCIM_USER_NAMES, &claim, from)?;
        take_claim(
            tx,
            keys::SCIM_USER_NAMES,
            &claim,
            &to.id,
            Conflict::UserNameTaken,
        )?;
        let scim_id = r.resource_id().clone();
        put_str(
            tx,
            keys::SCIM_ALIASES,
            &keys::scim_alias(org, &scim_id),
            to.id.as_str(),
        )?;
        let record = ScimUser {
            user_id: to.id.clone(),
            scim_id: Some(scim_id),
            version: r.version + 1,
            ..r
        };
        put(tx, keys::SCIM_USERS, &keys::scim_user(org, &to.id), &record)?;
    }
    hand_over(tx, org, from, &to.id)?;
    // The placeholder is gone.
    delete_user(tx, placeholder)?;
    Ok(moved)
}

pub(crate) fn decline_link(
    tx: &WriteTransaction,
    placeholder: &User,
    at: Timestamp,
) -> StoreResult<User> {
    let stored = get::<User>(tx, keys::USERS, placeholder.id.as_str())?;
    if stored.as_ref() != Some(placeholder) || !placeholder.is_placeholder() {
        return conflict(Conflict::Stale);
    }
    let declined = User {
        link_declined_at: Some(at),
        ..placeholder.clone()
    };
    rewrite_user(tx, placeholder, &declined)?;
    Ok(declined)
}

pub(crate) fn find_scim_alias(
    r: &ReadTransaction,
    org: &OrgId,
    id: &UserId,
) -> StoreResult<Option<UserId>> {
    get_str(r, keys::SCIM_ALIASES, &keys::scim_alias(org, id))?
        .map(|u| UserId::parse(&u).map_err(corrupt))
        .transpose()
}

pub(crate) fn link_user_subject(
    tx: &WriteTransaction,
    user: &User,
    new_sub: &str,
) -> StoreResult<User> {
    let Some(stored) = get::<User>(tx, keys::USERS, user.id.as_str())? else {
        return conflict(Conflict::Stale);
    };
    // Exactly as read: a placeholder renamed or declined meanwhile is not linked.
    if &stored != user
        || get_str(tx, keys::USER_SUBS, &user.sub)?.as_deref() != Some(user.id.as_str())
        || exists(tx, keys::USER_SUBS, new_sub)?
    {
        return conflict(Conflict::Stale);
    }
    // Linking happens at a sign-in with the placeholder's email verified.
    let linked = User {
        sub: new_sub.to_owned(),
        email_verified: true,
        provisioned_by: None,
        ..user.clone()
    };
    del(tx, keys::USER_SUBS, &user.sub)?;
    put_str(tx, keys::USER_SUBS, new_sub, user.id.as_str())?;
    rewrite_user(tx, &stored, &linked)?;
    Ok(linked)
}

// ---------------------------------------------------------------- organizations

pub(crate) fn create_org(
    tx: &WriteTransaction,
    org: &Organization,
    root: &Pool,
    owner: &Membership,
) -> StoreResult<()> {
    if exists(tx, keys::ORGS, org.id.as_str())? {
        return conflict(Conflict::Stale);
    }
    put(tx, keys::ORGS, org.id.as_str(), org)?;
    put(tx, keys::POOLS, &keys::pool(&org.id, &root.id), root)?;
    put_str(
        tx,
        keys::POOL_NAMES,
        &keys::pool_name(&org.id, None, &root.name_key()),
        root.id.as_str(),
    )?;
    index_membership(tx, owner)?;
    put(
        tx,
        keys::MEMBERSHIPS,
        &keys::membership(&org.id, &owner.user_id),
        owner,
    )?;
    if let Some(x) = &owner.external_id {
        take_claim(
            tx,
            keys::EXTERNAL_IDS,
            &keys::external_id(&org.id, x),
            &owner.user_id,
            Conflict::ExternalIdTaken,
        )?;
    }
    let c = Counters {
        active_org_managers: u32::from(owner.is_active_org_manager()),
        pools: 1,
        pending_invitations: 0,
        members: 1,
        scim_tokens: 0,
        groups: 0,
    };
    put_counters(tx, &org.id, &c)
}

pub(crate) fn get_org(r: &ReadTransaction, id: &OrgId) -> StoreResult<Option<Organization>> {
    get(r, keys::ORGS, id.as_str())
}

pub(crate) fn get_orgs(r: &ReadTransaction, ids: &[OrgId]) -> StoreResult<Vec<Organization>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(o) = get_org(r, id)? {
            out.push(o);
        }
    }
    Ok(out)
}

pub(crate) fn update_org(tx: &WriteTransaction, org: &Organization) -> StoreResult<()> {
    let Some(mut stored) = get::<Organization>(tx, keys::ORGS, org.id.as_str())? else {
        return conflict(Conflict::OrgMissing);
    };
    stored.name = org.name.clone();
    stored.settings = org.settings.clone();
    put(tx, keys::ORGS, org.id.as_str(), &stored)
}

// ---------------------------------------------------------------- pools

pub(crate) fn get_pool(r: &ReadTransaction, org: &OrgId, id: &PoolId) -> StoreResult<Option<Pool>> {
    get(r, keys::POOLS, &keys::pool(org, id))
}

pub(crate) fn list_pools(r: &ReadTransaction, org: &OrgId) -> StoreResult<Vec<Pool>> {
    scan_values(r, keys::POOLS, &keys::prefix(org.as_str()))
}

pub(crate) fn create_pool(tx: &WriteTransaction, pool: &Pool, max_pools: u32) -> StoreResult<()> {
    let org = &pool.org_id;
    require_org(tx, org)?;
    let Some(parent) = &pool.parent_id else {
        // Only `create_org` makes a root pool.
        return conflict(Conflict::Stale);
    };
    if !exists(tx, keys::POOLS, &keys::pool(org, parent))? {
        return conflict(Conflict::PoolMissing(parent.clone()));
    }
    if exists(tx, keys::POOLS, &keys::pool(org, &pool.id))? {
        return conflict(Conflict::Stale);
    }
    let name_key = keys::pool_name(org, Some(parent), &pool.name_key());
    if exists(tx, keys::POOL_NAMES, &name_key)? {
        return conflict(Conflict::PoolNameTaken);
    }
    let mut c = counters(tx, org)?;
    if c.pools >= max_pools {
        return conflict(Conflict::PoolLimit);
    }
    c.pools += 1;
    put(tx, keys::POOLS, &keys::pool(org, &pool.id), pool)?;
    put_str(tx, keys::POOL_NAMES, &name_key, pool.id.as_str())?;
    put_counters(tx, org, &c)
}

pub(crate) fn update_pool(tx: &WriteTransaction, before: &Pool, after: &Pool) -> StoreResult<()> {
    let org = &before.org_id;
    let key = keys::pool(org, &before.id);
    let Some(mut stored) = get::<Pool>(tx, keys::POOLS, &key)? else {
        return conflict(Conflict::Stale);
    };
    if after.id != before.id || after.org_id != before.org_id {
        return conflict(Conflict::Stale);
    }
    let old_key = keys::pool_name(org, stored.parent_id.as_ref(), &stored.name_key());
    let new_key = keys::pool_name(org, stored.parent_id.as_ref(), &after.name_key());
    if new_key != old_key {
        if exists(tx, keys::POOL_NAMES, &new_key)? {
            return conflict(Conflict::PoolNameTaken);
        }
        del(tx, keys::POOL_NAMES, &old_key)?;
        put_str(tx, keys::POOL_NAMES, &new_key, stored.id.as_str())?;
    }
    stored.name = after.name.clone();
    stored.owner_id = after.owner_id.clone();
    put(tx, keys::POOLS, &key, &stored)
}

/// `list` without assignments on `pool`, in normal form; `None` when nothing changes.
fn without_pool(list: &[Assignment], pool: &PoolId) -> Option<Vec<Assignment>> {
    if !list.iter().any(|a| a.pool_id.as_ref() == Some(pool)) {
        return None;
    }
    Some(normal_form(
        list.iter()
            .filter(|a| a.pool_id.as_ref() != Some(pool))
            .cloned(),
    ))
}

pub(crate) fn delete_pool(tx: &WriteTransaction, pool: &Pool) -> StoreResult<()> {
    let org = &pool.org_id;
    let key = keys::pool(org, &pool.id);
    let Some(stored) = get::<Pool>(tx, keys::POOLS, &key)? else {
        return conflict(Conflict::Stale);
    };
    if stored.parent_id.is_none() {
        // The root pool is never deleted; it is the parent of the whole tree.
        return conflict(Conflict::PoolHasChildren);
    }
    if !scan_prefix(
        tx,
        keys::POOL_NAMES,
        &keys::pool_children(org, Some(&stored.id)),
    )?
    .is_empty()
    {
        return conflict(Conflict::PoolHasChildren);
    }
    del(tx, keys::POOLS, &key)?;
    del(
        tx,
        keys::POOL_NAMES,
        &keys::pool_name(org, stored.parent_id.as_ref(), &stored.name_key()),
    )?;
    let mut c = counters(tx, org)?;
    c.pools = c.pools.saturating_sub(1);
    put_counters(tx, org, &c)?;

    let prefix = keys::prefix(org.as_str());
    // Members lose the pool from their direct assignments and group grants alike, and group
    // mappings lose it the same way as the grants (filtered, so that they stay equal).
    for (k, v) in scan_prefix(tx, keys::GROUPS, &prefix)? {
        let g: Group = crate::db::decode(&v)?;
        if g.assignments
            .iter()
            .any(|a| a.pool_id.as_ref() == Some(&stored.id))
        {
            let assignments = g
                .assignments
                .iter()
                .filter(|a| a.pool_id.as_ref() != Some(&stored.id))
                .cloned()
                .collect();
            let g = Group {
                assignments,
                version: g.version + 1,
                ..g
            };
            put(tx, keys::GROUPS, &k, &g)?;
        }
    }
    for (k, v) in scan_prefix(tx, keys::MEMBERSHIPS, &prefix)? {
        let mut m: Membership = crate::db::decode(&v)?;
        if let Some(without) = m.without_pool(&stored.id) {
            m = Membership {
                version: m.version + 1,
                ..without
            };
            put(tx, keys::MEMBERSHIPS, &k, &m)?;
        }
    }
    for (_, id) in scan_prefix(tx, keys::PENDING_SLOTS, &prefix)? {
        let id = String::from_utf8(id).map_err(corrupt)?;
        let Some(mut inv) = get::<Invitation>(tx, keys::INVITATIONS, &id)? else {
            continue;
        };
        if let Some(list) = without_pool(&inv.assignments, &stored.id) {
            inv.assignments = list;
            inv.version += 1;
            put(tx, keys::INVITATIONS, &id, &inv)?;
        }
    }
    for (k, v) in scan_prefix(tx, keys::LINKS, &prefix)? {
        let mut link: InviteLink = crate::db::decode(&v)?;
        if let Some(list) = without_pool(&link.assignments, &stored.id) {
            link.assignments = list;
            put(tx, keys::LINKS, &k, &link)?;
        }
    }
    Ok(())
}

fn require_pools(tx: &WriteTransaction, org: &OrgId, pools: &[PoolId]) -> StoreResult<()> {
    for p in pools {
        if !exists(tx, keys::POOLS, &keys::pool(org, p))? {
            return conflict(Conflict::PoolMissing(p.clone()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- memberships

pub(crate) fn get_membership(
    r: &impl Reader,
    org: &OrgId,
    user: &UserId,
) -> StoreResult<Option<Membership>> {
    get(r, keys::MEMBERSHIPS, &keys::membership(org, user))
}

pub(crate) fn get_memberships(
    r: &ReadTransaction,
    org: &OrgId,
    users: &[UserId],
) -> StoreResult<Vec<Membership>> {
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        if let Some(m) = get_membership(r, org, u)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// Writes a membership's index entries (its user's org list, its email) and takes its email
/// claim in the org ([`Conflict::MemberEmailTaken`]).
fn index_membership(tx: &WriteTransaction, m: &Membership) -> StoreResult<()> {
    take_claim(
        tx,
        keys::MEMBER_EMAIL_CLAIMS,
        &keys::member_email_claim(&m.org_id, m.email.normalized()),
        &m.user_id,
        Conflict::MemberEmailTaken,
    )?;
    put_str(
        tx,
        keys::USER_ORGS,
        &keys::user_org(&m.user_id, &m.org_id),
        "",
    )?;
    put_str(
        tx,
        keys::MEMBER_EMAILS,
        &keys::member_email(&m.org_id, m.email.normalized(), &m.user_id),
        "",
    )
}

/// Removes a membership's index entries and releases its email claim.
fn unindex_membership(tx: &WriteTransaction, m: &Membership) -> StoreResult<()> {
    let claim = keys::member_email_claim(&m.org_id, m.email.normalized());
    if get_str(tx, keys::MEMBER_EMAIL_CLAIMS, &claim)?.as_deref() == Some(m.user_id.as_str()) {
        del(tx, keys::MEMBER_EMAIL_CLAIMS, &claim)?;
    }
    del(tx, keys::USER_ORGS, &keys::user_org(&m.user_id, &m.org_id))?;
    del(
        tx,
        keys::MEMBER_EMAILS,
        &keys::member_email(&m.org_id, m.email.normalized(), &m.user_id),
    )?;
    Ok(())
}

pub(crate) fn find_membership_by_email(
    r: &ReadTransaction,
    org: &OrgId,
    email: &str,
) -> StoreResult<Option<Membership>> {
    for (k, _) in scan_prefix(r, keys::MEMBER_EMAILS, &keys::member_emails(org, email))? {
        let Some(user) = k.rsplit('/').next() else {
            continue;
        };
        if let Some(m) = get::<Membership>(r, keys::MEMBERSHIPS, &keys::join(org.as_str(), user))?
            && m.email.normalized() == email
        {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

fn member_matches(m: &Membership, f: &MemberFilter) -> bool {
    if f.status.is_some_and(|s| s != m.status) {
        return false;
    }
    if let Some(q) = &f.q {
        let q = q.to_lowercase();
        let in_name = m
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(&q));
        if !m.email.normalized().contains(&q) && !in_name {
            return false;
        }
    }
    match (f.role, &f.pool_id) {
        (None, None) | (Some(Role::Member), None) => true,
        (Some(role), None) => m.assignments.iter().any(|a| a.role == role),
        (None, Some(p)) => m.assignments.iter().any(|a| a.pool_id.as_ref() == Some(p)),
        (Some(role), Some(p)) => m
            .assignments
            .iter()
            .any(|a| a.role == role && a.pool_id.as_ref() == Some(p)),
    }
}

/// Reads one page of the entries under `prefix` (whose remainder is an id), after the cursor's id,
/// keeping those `load` turns into items.
pub(crate) fn page_of<T>(
    r: &ReadTransaction,
    table: keys::Table,
    kind: ListKind,
    scope: &str,
    page: &PageRequest,
    rev: bool,
    mut load: impl FnMut(&str, &[u8]) -> StoreResult<Option<T>>,
) -> StoreResult<Page<T>> {
    let after = page
        .cursor
        .as_deref()
        .map(|c| keys::decode_cursor(c, kind, scope))
        .transpose()?;
    let limit = page.limit.clamp(1, MAX_LIMIT);
    let prefix = keys::prefix(scope);
    let end = keys::prefix_end(&prefix);
    let after_key = after.map(|a| format!("{prefix}{a}"));
    let (lo, hi) = match (&after_key, rev) {
        (None, _) => (
            Bound::Included(prefix.as_str()),
            Bound::Excluded(end.as_str()),
        ),
        (Some(a), false) => (Bound::Excluded(a.as_str()), Bound::Excluded(end.as_str())),
        (Some(a), true) => (
            Bound::Included(prefix.as_str()),
            Bound::Excluded(a.as_str()),
        ),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    r.visit(table, lo, hi, rev, &mut |k, v| {
        let Some(id) = k.strip_prefix(prefix.as_str()) else {
            return Ok(true);
        };
        let Some(item) = load(id, v)? else {
            return Ok(true);
        };
        if items.len() == limit {
            more = true;
            return Ok(false);
        }
        items.push(item);
        last = Some(id.to_owned());
        Ok(true)
    })?;
    let next_cursor = match (more, last) {
        (true, Some(last)) => Some(keys::encode_cursor(kind, scope, &last)),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn list_memberships(
    r: &ReadTransaction,
    org: &OrgId,
    filter: &MemberFilter,
    page: &PageRequest,
) -> StoreResult<Page<Membership>> {
    page_of(
        r,
        keys::MEMBERSHIPS,
        ListKind::Members,
        org.as_str(),
        page,
        false,
        |_, v| {
            let m: Membership = crate::db::decode(v)?;
            Ok(member_matches(&m, filter).then_some(m))
        },
    )
}

pub(crate) fn list_user_memberships(
    r: &ReadTransaction,
    user: &UserId,
    page: &PageRequest,
) -> StoreResult<Page<Membership>> {
    page_of(
        r,
        keys::USER_ORGS,
        ListKind::UserMemberships,
        user.as_str(),
        page,
        false,
        |org, _| get(r, keys::MEMBERSHIPS, &keys::join(org, user.as_str())),
    )
}

/// Where a membership write is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteScope {
    /// Alone or beside other records (every Store method but `update_group`): the member's
    /// `groups` must not change ([`Conflict::Stale`]), and the write itself may not remove the
    /// org's last active organization manager ([`Conflict::LastOrganizationManager`]).
    Alone,
    /// One of a group change's writes: `groups` may change, and the manager count may pass
    /// through 0; the group change checks the count once all its writes are applied.
    GroupChange,
}

/// Applies a membership write, and moves its externalId claim with the value.
fn apply_membership(tx: &WriteTransaction, write: &MembershipWrite) -> StoreResult<()> {
    apply_membership_in(tx, write, WriteScope::Alone)
}

/// [`apply_membership`] in `scope`.
pub(crate) fn apply_membership_in(
    tx: &WriteTransaction,
    write: &MembershipWrite,
    scope: WriteScope,
) -> StoreResult<()> {
    apply_membership_scoped(tx, write, scope)?;
    apply_external_id(tx, write)
}

/// Moves the externalId claim of a membership write: releases the old value's, takes the new
/// one's ([`Conflict::ExternalIdTaken`]). Nothing when the value does not change.
fn apply_external_id(tx: &WriteTransaction, write: &MembershipWrite) -> StoreResult<()> {
    let (org, user) = (&write.after().org_id, &write.after().user_id);
    let (old, new) = match write {
        MembershipWrite::Create(m) => (None, m.external_id.as_deref()),
        MembershipWrite::Update { before, after } => {
            (before.external_id.as_deref(), after.external_id.as_deref())
        }
    };
    if old == new {
        return Ok(());
    }
    if let Some(old) = old {
        release_claim(tx, keys::EXTERNAL_IDS, &keys::external_id(org, old), user)?;
    }
    if let Some(new) = new {
        take_claim(
            tx,
            keys::EXTERNAL_IDS,
            &keys::external_id(org, new),
            user,
            Conflict::ExternalIdTaken,
        )?;
    }
    Ok(())
}

/// Applies a membership write (without its externalId claim) and keeps the org's manager and
/// member counts.
fn apply_membership_core(tx: &WriteTransaction, write: &MembershipWrite) -> StoreResult<()> {
    apply_membership_scoped(tx, write, WriteScope::Alone)
}

/// [`apply_membership_core`] in `scope`.
fn apply_membership_scoped(
    tx: &WriteTransaction,
    write: &MembershipWrite,
    scope: WriteScope,
) -> StoreResult<()> {
    let alone = scope == WriteScope::Alone;
    match write {
        MembershipWrite::Create(m) => {
            // Groups are joined with their entries only.
            if alone && !m.groups.is_empty() {
                return conflict(Conflict::Stale);
            }
            require_org(tx, &m.org_id)?;
            let key = keys::membership(&m.org_id, &m.user_id);
            if exists(tx, keys::MEMBERSHIPS, &key)? {
                return conflict(Conflict::MembershipExists);
            }
            put(tx, keys::MEMBERSHIPS, &key, m)?;
            index_membership(tx, m)?;
            let mut c = counters(tx, &m.org_id)?;
            c.members += 1;
            if m.is_active_org_manager() {
                c.active_org_managers += 1;
            }
            put_counters(tx, &m.org_id, &c)
        }
        MembershipWrite::Update { before, after } => {
            if after.org_id != before.org_id || after.user_id != before.user_id {
                return conflict(Conflict::Stale);
            }
            let key = keys::membership(&before.org_id, &before.user_id);
            let Some(stored) = get::<Membership>(tx, keys::MEMBERSHIPS, &key)? else {
                return conflict(Conflict::Stale);
            };
            if stored.version != before.version || (alone && after.groups != stored.groups) {
                return conflict(Conflict::Stale);
            }
            let (was, now) = (
                stored.is_active_org_manager(),
                after.is_active_org_manager(),
            );
            if was != now {
                let mut c = counters(tx, &before.org_id)?;
                if was {
                    if alone && c.active_org_managers <= 1 {
                        return conflict(Conflict::LastOrganizationManager);
                    }
                    c.active_org_managers = c.active_org_managers.saturating_sub(1);
                } else {
                    c.active_org_managers += 1;
                }
                put_counters(tx, &before.org_id, &c)?;
            }
            if after.email.normalized() != stored.email.normalized() {
                unindex_membership(tx, &stored)?;
                index_membership(tx, after)?;
            }
            let mut after = after.clone();
            after.version = stored.version + 1;
            put(tx, keys::MEMBERSHIPS, &key, &after)
        }
    }
}

pub(crate) fn write_membership(tx: &WriteTransaction, write: &MembershipWrite) -> StoreResult<()> {
    apply_membership(tx, write)
}

/// Gives `to` what `from` owns in `org`: pools, invite links, pending invitations it sent.
fn hand_over(
    tx: &WriteTransaction,
    org: &OrgId,
    from: &UserId,
    to: &UserId,
) -> StoreResult<Handover> {
    let mut handover = Handover::default();
    let prefix = keys::prefix(org.as_str());
    for (k, v) in scan_prefix(tx, keys::POOLS, &prefix)? {
        let mut pool: Pool = crate::db::decode(&v)?;
        if pool.owner_id == *from {
            pool.owner_id = to.clone();
            put(tx, keys::POOLS, &k, &pool)?;
            handover.pools += 1;
        }
    }
    for (k, v) in scan_prefix(tx, keys::LINKS, &prefix)? {
        let mut link: InviteLink = crate::db::decode(&v)?;
        if link.created_by == *from {
            link.created_by = to.clone();
            put(tx, keys::LINKS, &k, &link)?;
            handover.invite_links += 1;
        }
    }
    for (_, id) in scan_prefix(tx, keys::PENDING_SLOTS, &prefix)? {
        let id = String::from_utf8(id).map_err(corrupt)?;
        let Some(mut inv) = get::<Invitation>(tx, keys::INVITATIONS, &id)? else {
            continue;
        };
        if inv.inviter_id == *from {
            inv.inviter_id = to.clone();
            inv.version += 1;
            put(tx, keys::INVITATIONS, &id, &inv)?;
            handover.invitations += 1;
        }
    }
    Ok(handover)
}

pub(crate) fn remove_member(
    tx: &WriteTransaction,
    member: &Membership,
    successor: &UserId,
) -> StoreResult<Handover> {
    let org = &member.org_id;
    let key = keys::membership(org, &member.user_id);
    let Some(stored) = get::<Membership>(tx, keys::MEMBERSHIPS, &key)? else {
        return conflict(Conflict::Stale);
    };
    // A member still in a group would leave its entries behind: they leave every group first.
    if stored.version != member.version || !stored.groups.is_empty() || !member.groups.is_empty() {
        return conflict(Conflict::Stale);
    }
    if successor == &member.user_id
        || !exists(tx, keys::MEMBERSHIPS, &keys::membership(org, successor))?
    {
        return conflict(Conflict::Stale);
    }
    let mut c = counters(tx, org)?;
    if stored.is_active_org_manager() {
        if c.active_org_managers <= 1 {
            return conflict(Conflict::LastOrganizationManager);
        }
        c.active_org_managers -= 1;
    }
    c.members = c.members.saturating_sub(1);
    put_counters(tx, org, &c)?;
    // The SCIM record and the claims go with the membership.
    let record_key = keys::scim_user(org, &stored.user_id);
    if let Some(record) = get::<ScimUser>(tx, keys::SCIM_USERS, &record_key)? {
        release_claim(
            tx,
            keys::SCIM_USER_NAMES,
            &keys::user_name(org, &record.user_name_key()),
            &stored.user_id,
        )?;
        if let Some(alias) = &record.scim_id {
            del(tx, keys::SCIM_ALIASES, &keys::scim_alias(org, alias))?;
        }
        del(tx, keys::SCIM_USERS, &record_key)?;
    }
    if let Some(x) = &stored.external_id {
        release_claim(
            tx,
            keys::EXTERNAL_IDS,
            &keys::external_id(org, x),
            &stored.user_id,
        )?;
    }
    let handover = hand_over(tx, org, &member.user_id, successor)?;
    del(tx, keys::MEMBERSHIPS, &key)?;
    unindex_membership(tx, &stored)?;
    // A placeholder of this organization is nothing without its membership: it goes too, so that
    // it neither owns the address nor waits to be linked.
    if let Some(u) = get::<User>(tx, keys::USERS, stored.user_id.as_str())?
        && u.is_placeholder_of(org)
    {
        delete_user(tx, &u)?;
    }
    Ok(handover)
}

/// Deletes a user with its subject claim and email index entry.
fn delete_user(tx: &WriteTransaction, user: &User) -> StoreResult<()> {
    del(tx, keys::USERS, user.id.as_str())?;
    del(tx, keys::USER_SUBS, &user.sub)?;
    if let Some(k) = user_email_key(user) {
        del(tx, keys::USER_EMAILS, &k)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- invitations

pub(crate) fn get_invitation(
    r: &ReadTransaction,
    id: &InvitationId,
) -> StoreResult<Option<Invitation>> {
    get(r, keys::INVITATIONS, id.as_str())
}

pub(crate) fn find_invitation_by_token(
    r: &ReadTransaction,
    token_hash: &str,
) -> StoreResult<Option<Invitation>> {
    match get_str(r, keys::INVITATION_TOKENS, token_hash)? {
        Some(id) => get(r, keys::INVITATIONS, &id),
        None => Ok(None),
    }
}

pub(crate) fn find_pending_invitation(
    r: &ReadTransaction,
    org: &OrgId,
    email: &str,
) -> StoreResult<Option<Invitation>> {
    // A slot written under an older email rule may hold another address (docs/data-model.md,
    // "The email rule"): only an equal normalized form is a match.
    match get_str(r, keys::PENDING_SLOTS, &keys::pending_slot(org, email))? {
        Some(id) => {
            Ok(get::<Invitation>(r, keys::INVITATIONS, &id)?
                .filter(|i| i.email.normalized() == email))
        }
        None => Ok(None),
    }
}

pub(crate) fn list_invitations(
    r: &ReadTransaction,
    org: &OrgId,
    filter: &InvitationFilter,
    now: Timestamp,
    page: &PageRequest,
) -> StoreResult<Page<Invitation>> {
    page_of(
        r,
        keys::ORG_INVITATIONS,
        ListKind::Invitations,
        org.as_str(),
        page,
        true,
        |id, _| {
            let Some(inv) = get::<Invitation>(r, keys::INVITATIONS, id)? else {
                return Ok(None);
            };
            let status_ok = filter.status.is_none_or(|s| inv.effective_status(now) == s);
            let email_ok = filter
                .email
                .as_deref()
                .is_none_or(|e| inv.email.normalized() == e);
            let email_status_ok = filter.email_status.is_none_or(|s| inv.email_status == s);
            Ok((status_ok && email_ok && email_status_ok).then_some(inv))
        },
    )
}

pub(crate) fn list_invitations_for_email(
    r: &ReadTransaction,
    email: &str,
    now: Timestamp,
    page: &PageRequest,
) -> StoreResult<Page<Invitation>> {
    page_of(
        r,
        keys::EMAIL_INVITATIONS,
        ListKind::EmailInvitations,
        email,
        page,
        true,
        |id, _| {
            if InvitationId::parse(id).is_err() {
                return Ok(None);
            }
            let Some(inv) = get::<Invitation>(r, keys::INVITATIONS, id)? else {
                return Ok(None);
            };
            Ok((inv.email.normalized() == email && inv.is_open(now)).then_some(inv))
        },
    )
}

/// Checks and counts `limits`; `pending_after` is the org's pending count if the write goes
/// through, or `None` when the write adds no pending invitation.
fn count_limits(
    tx: &WriteTransaction,
    org: &OrgId,
    email: &str,
    limits: &InviteLimits,
    pending_after: Option<u32>,
) -> StoreResult<()> {
    if let (Some(max), Some(n)) = (limits.max_pending, pending_after)
        && n > max
    {
        return conflict(Conflict::RateLimited(RateLimit::PendingInvitations));
    }
    let now = limits.now;
    let old = now - Duration::days(2);
    if let Some(max) = limits.per_hour {
        del_range(
            tx,
            keys::RATE_WINDOWS,
            &keys::hour_windows(org),
            &keys::hour_window(org, old),
        )?;
        let key = keys::hour_window(org, now);
        let n: u32 = get(tx, keys::RATE_WINDOWS, &key)?.unwrap_or(0);
        if n >= max {
            return conflict(Conflict::RateLimited(RateLimit::InvitationsPerHour));
        }
        put(tx, keys::RATE_WINDOWS, &key, &(n + 1))?;
    }
    if let Some(max) = limits.per_recipient_per_day {
        del_range(
            tx,
            keys::RATE_WINDOWS,
            &keys::day_windows(org),
            &keys::day_prefix(org, old),
        )?;
        let key = keys::day_window(org, now, email);
        let n: u32 = get(tx, keys::RATE_WINDOWS, &key)?.unwrap_or(0);
        if n >= max {
            return conflict(Conflict::RateLimited(RateLimit::EmailsPerRecipientPerDay));
        }
        put(tx, keys::RATE_WINDOWS, &key, &(n + 1))?;
    }
    Ok(())
}

/// Releases a stored-pending invitation's (org, email) slot and stops counting it. Its token keeps
/// pointing at it, so a used token can be told apart from an unknown one.
fn release_pending(tx: &WriteTransaction, inv: &Invitation) -> StoreResult<()> {
    let slot = keys::pending_slot(&inv.org_id, inv.email.normalized());
    if get_str(tx, keys::PENDING_SLOTS, &slot)?.as_deref() == Some(inv.id.as_str()) {
        del(tx, keys::PENDING_SLOTS, &slot)?;
    }
    let mut c = counters(tx, &inv.org_id)?;
    c.pending_invitations = c.pending_invitations.saturating_sub(1);
    put_counters(tx, &inv.org_id, &c)
}

fn parse_invitation_id(id: &str) -> StoreResult<InvitationId> {
    InvitationId::parse(id).map_err(corrupt)
}

pub(crate) fn create_invitation(
    tx: &WriteTransaction,
    inv: &Invitation,
    replaces: Option<&Invitation>,
    limits: &InviteLimits,
) -> StoreResult<()> {
    let org = &inv.org_id;
    require_org(tx, org)?;
    if inv.status != InvitationStatus::Pending || exists(tx, keys::INVITATIONS, inv.id.as_str())? {
        return conflict(Conflict::Stale);
    }
    let email = inv.email.normalized();
    let slot = keys::pending_slot(org, email);
    match (get_str(tx, keys::PENDING_SLOTS, &slot)?, replaces) {
        (Some(existing), Some(old)) if existing == old.id.as_str() => {
            let Some(mut stored) = get::<Invitation>(tx, keys::INVITATIONS, &existing)? else {
                return conflict(Conflict::Stale);
            };
            if stored.version != old.version || stored.status != InvitationStatus::Pending {
                return conflict(Conflict::Stale);
            }
            if stored.expires_at > limits.now {
                return conflict(Conflict::PendingInvitationExists(stored.id));
            }
            release_pending(tx, &stored)?;
            stored.status = InvitationStatus::Expired;
            stored.updated_at = limits.now;
            stored.version += 1;
            put(tx, keys::INVITATIONS, &existing, &stored)?;
        }
        (Some(existing), _) => {
            return conflict(Conflict::PendingInvitationExists(parse_invitation_id(
                &existing,
            )?));
        }
        (None, Some(_)) => return conflict(Conflict::Stale),
        (None, None) => {}
    }
    let mut c = counters(tx, org)?;
    c.pending_invitations += 1;
    count_limits(tx, org, email, limits, Some(c.pending_invitations))?;
    if exists(tx, keys::INVITATION_TOKENS, &inv.token_hash)? {
        return conflict(Conflict::Stale);
    }
    put(tx, keys::INVITATIONS, inv.id.as_str(), inv)?;
    put_str(
        tx,
        keys::ORG_INVITATIONS,
        &keys::org_invitation(org, &inv.id),
        "",
    )?;
    put_str(
        tx,
        keys::EMAIL_INVITATIONS,
        &keys::email_invitation(email, &inv.id),
        "",
    )?;
    put_str(tx, keys::PENDING_SLOTS, &slot, inv.id.as_str())?;
    put_str(
        tx,
        keys::INVITATION_TOKENS,
        &inv.token_hash,
        inv.id.as_str(),
    )?;
    put_counters(tx, org, &c)
}

/// The stored invitation if it is `before`'s version and stored pending.
fn stored_pending(tx: &WriteTransaction, before: &Invitation) -> StoreResult<Option<Invitation>> {
    Ok(
        get::<Invitation>(tx, keys::INVITATIONS, before.id.as_str())?
            .filter(|s| s.version == before.version && s.status == InvitationStatus::Pending),
    )
}

fn same_invitation(stored: &Invitation, after: &Invitation) -> bool {
    after.id == stored.id
        && after.org_id == stored.org_id
        && after.email.normalized() == stored.email.normalized()
}

pub(crate) fn update_invitation(
    tx: &WriteTransaction,
    before: &Invitation,
    after: &Invitation,
    limits: Option<&InviteLimits>,
) -> StoreResult<()> {
    let Some(stored) = stored_pending(tx, before)? else {
        return conflict(Conflict::Stale);
    };
    if !same_invitation(&stored, after) || after.status != InvitationStatus::Pending {
        return conflict(Conflict::Stale);
    }
    if let Some(limits) = limits {
        count_limits(tx, &stored.org_id, stored.email.normalized(), limits, None)?;
    }
    if after.token_hash != stored.token_hash {
        if exists(tx, keys::INVITATION_TOKENS, &after.token_hash)? {
            return conflict(Conflict::Stale);
        }
        del(tx, keys::INVITATION_TOKENS, &stored.token_hash)?;
        put_str(
            tx,
            keys::INVITATION_TOKENS,
            &after.token_hash,
            stored.id.as_str(),
        )?;
    }
    let mut after = after.clone();
    after.version = stored.version + 1;
    put(tx, keys::INVITATIONS, stored.id.as_str(), &after)
}

pub(crate) fn close_invitation(
    tx: &WriteTransaction,
    before: &Invitation,
    after: &Invitation,
) -> StoreResult<()> {
    let Some(stored) = stored_pending(tx, before)? else {
        return conflict(Conflict::InvitationNotPending);
    };
    if !same_invitation(&stored, after) || after.status == InvitationStatus::Pending {
        return conflict(Conflict::Stale);
    }
    release_pending(tx, &stored)?;
    let mut after = after.clone();
    after.version = stored.version + 1;
    put(tx, keys::INVITATIONS, stored.id.as_str(), &after)
}

/// Closes a pending, unexpired invitation as `after` ([`Conflict::InvitationNotPending`]),
/// releasing its slot.
fn close_accepted(
    tx: &WriteTransaction,
    before: &Invitation,
    after: &Invitation,
    now: Timestamp,
) -> StoreResult<()> {
    let Some(stored) = stored_pending(tx, before)?.filter(|s| s.expires_at > now) else {
        return conflict(Conflict::InvitationNotPending);
    };
    if !same_invitation(&stored, after) || after.status == InvitationStatus::Pending {
        return conflict(Conflict::Stale);
    }
    release_pending(tx, &stored)?;
    let mut after = after.clone();
    after.version = stored.version + 1;
    put(tx, keys::INVITATIONS, stored.id.as_str(), &after)
}

pub(crate) fn accept_invitation(
    tx: &WriteTransaction,
    before: &Invitation,
    after: &Invitation,
    membership: &MembershipWrite,
    required_pools: &[PoolId],
    now: Timestamp,
) -> StoreResult<()> {
    close_accepted(tx, before, after, now)?;
    require_pools(tx, &before.org_id, required_pools)?;
    apply_membership(tx, membership)
}

// ---------------------------------------------------------------- invite links

pub(crate) fn create_invite_link(tx: &WriteTransaction, link: &InviteLink) -> StoreResult<()> {
    require_org(tx, &link.org_id)?;
    let key = keys::link(&link.org_id, &link.id);
    if exists(tx, keys::LINKS, &key)? || exists(tx, keys::LINK_TOKENS, &link.token_hash)? {
        return conflict(Conflict::Stale);
    }
    put(tx, keys::LINKS, &key, link)?;
    put_str(tx, keys::LINK_TOKENS, &link.token_hash, &key)
}

pub(crate) fn get_invite_link(
    r: &ReadTransaction,
    org: &OrgId,
    id: &InviteLinkId,
) -> StoreResult<Option<InviteLink>> {
    get(r, keys::LINKS, &keys::link(org, id))
}

pub(crate) fn find_invite_link_by_token(
    r: &ReadTransaction,
    token_hash: &str,
) -> StoreResult<Option<InviteLink>> {
    match get_str(r, keys::LINK_TOKENS, token_hash)? {
        Some(key) => get(r, keys::LINKS, &key),
        None => Ok(None),
    }
}

pub(crate) fn list_invite_links(
    r: &ReadTransaction,
    org: &OrgId,
    page: &PageRequest,
) -> StoreResult<Page<InviteLink>> {
    page_of(
        r,
        keys::LINKS,
        ListKind::Links,
        org.as_str(),
        page,
        true,
        |_, v| crate::db::decode(v).map(Some),
    )
}

pub(crate) fn revoke_invite_link(
    tx: &WriteTransaction,
    before: &InviteLink,
    after: &InviteLink,
) -> StoreResult<()> {
    let key = keys::link(&before.org_id, &before.id);
    let Some(mut stored) = get::<InviteLink>(tx, keys::LINKS, &key)? else {
        return conflict(Conflict::Stale);
    };
    if stored.revoked_at.is_some() || after.revoked_at.is_none() || after.id != before.id {
        return conflict(Conflict::Stale);
    }
    stored.revoked_at = after.revoked_at;
    put(tx, keys::LINKS, &key, &stored)
}

pub(crate) fn join_with_link(
    tx: &WriteTransaction,
    link: &InviteLink,
    membership: &MembershipWrite,
    required_pools: &[PoolId],
    now: Timestamp,
) -> StoreResult<()> {
    let key = keys::link(&link.org_id, &link.id);
    let Some(mut stored) = get::<InviteLink>(tx, keys::LINKS, &key)?.filter(|l| l.is_usable(now))
    else {
        return conflict(Conflict::LinkUnusable);
    };
    require_pools(tx, &stored.org_id, required_pools)?;
    apply_membership(tx, membership)?;
    stored.uses += 1;
    put(tx, keys::LINKS, &key, &stored)
}

// ---------------------------------------------------------------- SCIM tokens

pub(crate) fn create_scim_token(
    tx: &WriteTransaction,
    token: &ScimToken,
    max_tokens: u32,
) -> StoreResult<()> {
    require_org(tx, &token.org_id)?;
    let key = keys::scim_token(&token.org_id, &token.id);
    if exists(tx, keys::SCIM_TOKENS, &key)?
        || exists(tx, keys::SCIM_TOKEN_HASHES, &token.token_hash)?
    {
        return conflict(Conflict::Stale);
    }
    let mut c = counters(tx, &token.org_id)?;
    if c.scim_tokens >= max_tokens {
        return conflict(Conflict::ScimTokenLimit);
    }
    c.scim_tokens += 1;
    put_counters(tx, &token.org_id, &c)?;
    put(tx, keys::SCIM_TOKENS, &key, token)?;
    put_str(tx, keys::SCIM_TOKEN_HASHES, &token.token_hash, &key)
}

pub(crate) fn list_scim_tokens(r: &ReadTransaction, org: &OrgId) -> StoreResult<Vec<ScimToken>> {
    let mut tokens: Vec<ScimToken> =
        scan_values(r, keys::SCIM_TOKENS, &keys::prefix(org.as_str()))?;
    tokens.reverse();
    Ok(tokens)
}

pub(crate) fn find_scim_token(
    r: &ReadTransaction,
    token_hash: &str,
) -> StoreResult<Option<ScimToken>> {
    match get_str(r, keys::SCIM_TOKEN_HASHES, token_hash)? {
        Some(key) => get(r, keys::SCIM_TOKENS, &key),
        None => Ok(None),
    }
}

pub(crate) fn delete_scim_token(
    tx: &WriteTransaction,
    org: &OrgId,
    id: &ScimTokenId,
) -> StoreResult<bool> {
    let key = keys::scim_token(org, id);
    let Some(stored) = get::<ScimToken>(tx, keys::SCIM_TOKENS, &key)? else {
        return Ok(false);
    };
    del(tx, keys::SCIM_TOKENS, &key)?;
    let mut c = counters(tx, org)?;
    c.scim_tokens = c.scim_tokens.saturating_sub(1);
    put_counters(tx, org, &c)?;
    if get_str(tx, keys::SCIM_TOKEN_HASHES, &stored.token_hash)?.as_deref() == Some(key.as_str()) {
        del(tx, keys::SCIM_TOKEN_HASHES, &stored.token_hash)?;
    }
    Ok(true)
}

pub(crate) fn record_scim_token_use(
    tx: &WriteTransaction,
    token: &ScimToken,
    at: Timestamp,
) -> StoreResult<()> {
    let key = keys::scim_token(&token.org_id, &token.id);
    let Some(stored) = get::<ScimToken>(tx, keys::SCIM_TOKENS, &key)? else {
        return Ok(());
    };
    let used = ScimToken {
        last_used_at: Some(at),
        ..stored
    };
    put(tx, keys::SCIM_TOKENS, &key, &used)
}

// ---------------------------------------------------------------- SCIM provisioning

/// [`Conflict::Stale`] unless `record` is about the member `membership` writes.
fn same_member(write: &MembershipWrite, record: &ScimUser) -> StoreResult<()> {
    if write.is_about(&record.org_id, &record.user_id) {
        Ok(())
    } else {
        conflict(Conflict::Stale)
    }
}

pub(crate) fn provision_scim_member(
    tx: &WriteTransaction,
    new_user: Option<&User>,
    membership: &MembershipWrite,
    scim: &ScimUser,
    accepts: Option<(&Invitation, &Invitation)>,
    now: Timestamp,
) -> StoreResult<()> {
    same_member(membership, scim)?;
    let (org, user) = (&scim.org_id, &scim.user_id);
    if let Some(u) = new_user {
        create_user(tx, u)?;
    }
    if let Some((before, after)) = accepts {
        close_accepted(tx, before, after, now)?;
    }
    // Like accept: every pool the membership is given must exist.
    let granted: Vec<PoolId> = membership
        .after()
        .assignments
        .iter()
        .filter_map(|a| a.pool_id.clone())
        .collect();
    require_pools(tx, org, &granted)?;
    apply_membership_core(tx, membership)?;
    let record_key = keys::scim_user(org, user);
    if exists(tx, keys::SCIM_USERS, &record_key)? {
        return conflict(Conflict::Stale);
    }
    take_claim(
        tx,
        keys::SCIM_USER_NAMES,
        &keys::user_name(org, &scim.user_name_key()),
        user,
        Conflict::UserNameTaken,
    )?;
    apply_external_id(tx, membership)?;
    put(tx, keys::SCIM_USERS, &record_key, scim)
}

pub(crate) fn update_scim_member(
    tx: &WriteTransaction,
    membership: &MembershipWrite,
    before: Option<&ScimUser>,
    after: &ScimUser,
    placeholder: Option<(&User, &User)>,
) -> StoreResult<()> {
    if !scim_update_is_consistent(membership, before, after, placeholder) {
        return conflict(Conflict::Stale);
    }
    let (org, user) = (&after.org_id, &after.user_id);
    if let Some((was, becomes)) = placeholder {
        if get::<User>(tx, keys::USERS, was.id.as_str())?.as_ref() != Some(was) {
            return conflict(Conflict::Stale);
        }
        rewrite_user(tx, was, becomes)?;
    }
    apply_membership_core(tx, membership)?;
    let record_key = keys::scim_user(org, user);
    let stored: Option<ScimUser> = get(tx, keys::SCIM_USERS, &record_key)?;
    let record = match (before, stored) {
        (Some(b), Some(s)) if s.version == b.version => ScimUser {
            version: s.version + 1,
            ..after.clone()
        },
        (None, None) => after.clone(),
        _ => return conflict(Conflict::Stale),
    };
    let old = before.map(ScimUser::user_name_key);
    let new = after.user_name_key();
    if old.as_deref() != Some(new.as_str()) {
        if let Some(old) = old {
            release_claim(tx, keys::SCIM_USER_NAMES, &keys::user_name(org, &old), user)?;
        }
        take_claim(
            tx,
            keys::SCIM_USER_NAMES,
            &keys::user_name(org, &new),
            user,
            Conflict::UserNameTaken,
        )?;
    }
    apply_external_id(tx, membership)?;
    put(tx, keys::SCIM_USERS, &record_key, &record)
}

pub(crate) fn get_scim_user(
    r: &ReadTransaction,
    org: &OrgId,
    user: &UserId,
) -> StoreResult<Option<ScimUser>> {
    get(r, keys::SCIM_USERS, &keys::scim_user(org, user))
}

pub(crate) fn get_scim_users(
    r: &ReadTransaction,
    org: &OrgId,
    users: &[UserId],
) -> StoreResult<Vec<ScimUser>> {
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        if let Some(record) = get_scim_user(r, org, u)? {
            out.push(record);
        }
    }
    Ok(out)
}

pub(crate) fn find_scim_user_by_user_name(
    r: &ReadTransaction,
    org: &OrgId,
    key: &str,
) -> StoreResult<Option<ScimUser>> {
    let key = user_name_key(key);
    let Some(user) = get_str(r, keys::SCIM_USER_NAMES, &keys::user_name(org, &key))? else {
        return Ok(None);
    };
    let user = UserId::parse(&user).map_err(corrupt)?;
    Ok(get_scim_user(r, org, &user)?.filter(|s| s.user_name_key() == key))
}

pub(crate) fn count_memberships(r: &ReadTransaction, org: &OrgId) -> StoreResult<u64> {
    Ok(counters(r, org)?.members)
}

pub(crate) fn find_membership_by_external_id(
    r: &ReadTransaction,
    org: &OrgId,
    external_id: &str,
) -> StoreResult<Option<Membership>> {
    let Some(user) = get_str(r, keys::EXTERNAL_IDS, &keys::external_id(org, external_id))? else {
        return Ok(None);
    };
    let m: Option<Membership> = get(r, keys::MEMBERSHIPS, &keys::join(org.as_str(), &user))?;
    Ok(m.filter(|m| m.external_id.as_deref() == Some(external_id)))
}

// ---------------------------------------------------------------- format upgrades

/// Every decoded value of a table.
fn all_values<T: serde::de::DeserializeOwned>(
    tx: &WriteTransaction,
    table: keys::Table,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    tx.visit(
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, v| {
            out.push(crate::db::decode(v)?);
            Ok(true)
        },
    )?;
    Ok(out)
}

/// Upgrades a format-1 database to format 2: indexes users by email, counts each org's
/// memberships, and claims the externalIds memberships already have.
pub(crate) fn upgrade_from_v1(tx: &WriteTransaction) -> StoreResult<()> {
    for u in all_values::<User>(tx, keys::USERS)? {
        index_user_email(tx, &u)?;
    }
    let mut members: std::collections::BTreeMap<OrgId, u64> = Default::default();
    for m in all_values::<Membership>(tx, keys::MEMBERSHIPS)? {
        *members.entry(m.org_id.clone()).or_default() += 1;
        if let Some(x) = &m.external_id {
            put_str(
                tx,
                keys::EXTERNAL_IDS,
                &keys::external_id(&m.org_id, x),
                m.user_id.as_str(),
            )?;
        }
    }
    for (org, n) in members {
        let mut c = counters(tx, &org)?;
        c.members = n;
        put_counters(tx, &org, &c)?;
    }
    Ok(())
}

/// Upgrades a format-2 database to format 3: each membership claims its email in its org (the
/// oldest member keeps an address that several members of one org had before the claim existed;
/// the others keep their memberships and may not take it back until it is free).
pub(crate) fn upgrade_from_v2(tx: &WriteTransaction) -> StoreResult<()> {
    let mut members = all_values::<Membership>(tx, keys::MEMBERSHIPS)?;
    members.sort_by_key(|m| m.created_at);
    for m in members {
        let claim = keys::member_email_claim(&m.org_id, m.email.normalized());
        if get_str(tx, keys::MEMBER_EMAIL_CLAIMS, &claim)?.is_none() {
            put_str(tx, keys::MEMBER_EMAIL_CLAIMS, &claim, m.user_id.as_str())?;
        }
    }
    Ok(())
}

/// Normalizes a caller's email the way keys are written (emails reach the store normalized; this
/// only guards lookups against stray case or spaces).
pub(crate) fn email_key(email: &str) -> String {
    normalize_email(email)
}
