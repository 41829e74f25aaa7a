//! SCIM groups on the embedded store: group records ([`keys::GROUPS`]), their displayName claims
//! ([`keys::GROUP_NAMES`]), member entries keyed by member_ref ([`keys::GROUP_MEMBERS`]) and the
//! org's group counter ([`Counters::groups`](crate::ops::Counters)), changed together with the
//! memberships in one write transaction.

use crate::db::{Reader, del, exists, get, get_str, put, put_str, scan_prefix};
use crate::keys::{self, ListKind};
use crate::ops::{
    WriteScope, apply_membership_in, conflict, counters, get_membership, page_of, put_counters,
    require_org,
};
use redb::{ReadTransaction, WriteTransaction};
use rollcall_domain::ids::{GroupId, OrgId, UserId};
use rollcall_domain::model::{Group, GroupGrant, Membership, group_name_key};
use rollcall_domain::page::{Page, PageRequest};
use rollcall_domain::ports::{
    Conflict, GroupEdge, GroupMemberChange, MembershipWrite, StoreResult,
};

pub(crate) fn create_group(
    tx: &WriteTransaction,
    group: &Group,
    max_groups: u32,
) -> StoreResult<()> {
    let org = &group.org_id;
    require_org(tx, org)?;
    let claim = keys::group_name(org, &group.name_key());
    if exists(tx, keys::GROUP_NAMES, &claim)? {
        return conflict(Conflict::GroupNameTaken);
    }
    let mut c = counters(tx, org)?;
    if c.groups >= max_groups {
        return conflict(Conflict::GroupLimit);
    }
    let key = keys::group(org, &group.id);
    // A new group has no entries yet, so it has no members.
    if exists(tx, keys::GROUPS, &key)? || group.member_count != 0 {
        return conflict(Conflict::Stale);
    }
    c.groups += 1;
    put_counters(tx, org, &c)?;
    put(tx, keys::GROUPS, &key, group)?;
    put_str(tx, keys::GROUP_NAMES, &claim, group.id.as_str())
}

pub(crate) fn get_group(r: &impl Reader, org: &OrgId, id: &GroupId) -> StoreResult<Option<Group>> {
    get(r, keys::GROUPS, &keys::group(org, id))
}

pub(crate) fn get_groups(
    r: &ReadTransaction,
    org: &OrgId,
    ids: &[GroupId],
) -> StoreResult<Vec<Group>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(g) = get_group(r, org, id)? {
            out.push(g);
        }
    }
    Ok(out)
}

pub(crate) fn find_group_by_name(
    r: &ReadTransaction,
    org: &OrgId,
    key: &str,
) -> StoreResult<Option<Group>> {
    let key = group_name_key(key);
    let Some(id) = get_str(r, keys::GROUP_NAMES, &keys::group_name(org, &key))? else {
        return Ok(None);
    };
    let id = GroupId::parse(&id).map_err(crate::ops::corrupt)?;
    Ok(get_group(r, org, &id)?.filter(|g| g.name_key() == key))
}

pub(crate) fn list_groups(
    r: &ReadTransaction,
    org: &OrgId,
    page: &PageRequest,
) -> StoreResult<Page<Group>> {
    page_of(
        r,
        keys::GROUPS,
        ListKind::Groups,
        org.as_str(),
        page,
        false,
        |_, v| crate::db::decode(v).map(Some),
    )
}

pub(crate) fn count_groups(r: &ReadTransaction, org: &OrgId) -> StoreResult<u64> {
    Ok(u64::from(counters(r, org)?.groups))
}

pub(crate) fn list_group_members(
    r: &ReadTransaction,
    org: &OrgId,
    group: &GroupId,
    page: &PageRequest,
) -> StoreResult<Page<UserId>> {
    page_of(
        r,
        keys::GROUP_MEMBERS,
        ListKind::GroupMembers,
        &keys::group_members(org, group),
        page,
        false,
        |member_ref, _| Ok(UserId::parse(member_ref).ok()),
    )
}

/// The grants of `groups` other than `group`'s.
fn other_grants<'a>(groups: &'a [GroupGrant], group: &GroupId) -> Vec<&'a GroupGrant> {
    groups.iter().filter(|g| &g.group_id != group).collect()
}

/// Checks one member change of a group change and writes its entry and its membership; any
/// failed condition is [`Conflict::Stale`] (the transaction is then aborted whole).
fn apply_member_change(
    tx: &WriteTransaction,
    org: &OrgId,
    group: &GroupId,
    change: &GroupMemberChange,
) -> StoreResult<()> {
    let write = &change.membership;
    let after = write.after();
    // Tenant isolation: a group writes memberships of its own organization only.
    let before = match write {
        MembershipWrite::Create(_) => None,
        MembershipWrite::Update { before, .. } => Some(before),
    };
    if &after.org_id != org
        || before.is_some_and(|b| &b.org_id != org || b.user_id != after.user_id)
    {
        return conflict(Conflict::Stale);
    }
    // The ref names this member: their user id, or a SCIM id aliased to them.
    if change.member_ref != after.user_id {
        let alias = get_str(
            tx,
            keys::SCIM_ALIASES,
            &keys::scim_alias(org, &change.member_ref),
        )?;
        if alias.as_deref() != Some(after.user_id.as_str()) {
            return conflict(Conflict::Stale);
        }
    }
    // The write makes the edge, and touches no other group's grant.
    let stored: Option<Membership> = get_membership(tx, org, &after.user_id)?;
    let stored_groups: &[GroupGrant] = match (before, &stored) {
        (None, None) => &[],
        (Some(b), Some(s)) if s.version == b.version => &s.groups,
        // A create of an existing member, or a stale or missing membership: the write itself
        // answers (MembershipExists, Stale).
        _ => {
            apply_membership_in(tx, write, WriteScope::GroupChange)?;
            return conflict(Conflict::Stale);
        }
    };
    let was_in = stored_groups.iter().any(|g| &g.group_id == group);
    let is_in = after.in_group(group);
    let edge_made = match change.edge {
        GroupEdge::Add => !was_in && is_in,
        GroupEdge::Remove => was_in && !is_in,
        GroupEdge::Keep => was_in && is_in,
    };
    if !edge_made || other_grants(stored_groups, group) != other_grants(&after.groups, group) {
        return conflict(Conflict::Stale);
    }
    // The entry.
    let entry = keys::group_member(org, group, &change.member_ref);
    let present = exists(tx, keys::GROUP_MEMBERS, &entry)?;
    match (change.edge, present) {
        (GroupEdge::Add, false) => put_str(tx, keys::GROUP_MEMBERS, &entry, "")?,
        (GroupEdge::Remove, true) => {
            del(tx, keys::GROUP_MEMBERS, &entry)?;
        }
        (GroupEdge::Keep, true) => {}
        _ => return conflict(Conflict::Stale),
    }
    apply_membership_in(tx, write, WriteScope::GroupChange)
}

pub(crate) fn update_group(
    tx: &WriteTransaction,
    before: &Group,
    after: &Group,
    members: &[GroupMemberChange],
) -> StoreResult<()> {
    let org = &before.org_id;
    if after.id != before.id || &after.org_id != org {
        return conflict(Conflict::Stale);
    }
    let key = keys::group(org, &before.id);
    let Some(stored) = get::<Group>(tx, keys::GROUPS, &key)? else {
        return conflict(Conflict::Stale);
    };
    if stored.version != before.version {
        return conflict(Conflict::Stale);
    }
    // member_count follows the entries.
    let count = |edge| members.iter().filter(|c| c.edge == edge).count() as u64;
    let expected =
        (stored.member_count + count(GroupEdge::Add)).checked_sub(count(GroupEdge::Remove));
    if expected != Some(after.member_count) {
        return conflict(Conflict::Stale);
    }
    // The displayName claim moves with the name key.
    let (old, new) = (stored.name_key(), after.name_key());
    if old != new {
        let new_claim = keys::group_name(org, &new);
        if exists(tx, keys::GROUP_NAMES, &new_claim)? {
            return conflict(Conflict::GroupNameTaken);
        }
        release_name(tx, &stored)?;
        put_str(tx, keys::GROUP_NAMES, &new_claim, stored.id.as_str())?;
    }
    // Every membership write, through the one membership write path; the last-manager rule is
    // checked once, on what they leave together.
    let managers_before = counters(tx, org)?.active_org_managers;
    for change in members {
        apply_member_change(tx, org, &stored.id, change)?;
    }
    let managers_after = counters(tx, org)?.active_org_managers;
    if managers_after == 0 && managers_after < managers_before {
        return conflict(Conflict::LastOrganizationManager);
    }
    let after = Group {
        version: stored.version + 1,
        ..after.clone()
    };
    put(tx, keys::GROUPS, &key, &after)
}

/// Releases `group`'s displayName claim if it holds it.
fn release_name(tx: &WriteTransaction, group: &Group) -> StoreResult<()> {
    let claim = keys::group_name(&group.org_id, &group.name_key());
    if get_str(tx, keys::GROUP_NAMES, &claim)?.as_deref() == Some(group.id.as_str()) {
        del(tx, keys::GROUP_NAMES, &claim)?;
    }
    Ok(())
}

pub(crate) fn delete_group(tx: &WriteTransaction, group: &Group) -> StoreResult<()> {
    let org = &group.org_id;
    let key = keys::group(org, &group.id);
    let Some(stored) = get::<Group>(tx, keys::GROUPS, &key)? else {
        return conflict(Conflict::Stale);
    };
    let prefix = keys::prefix(&keys::group_members(org, &group.id));
    if stored.version != group.version
        || stored.member_count != 0
        || !scan_prefix(tx, keys::GROUP_MEMBERS, &prefix)?.is_empty()
    {
        return conflict(Conflict::Stale);
    }
    del(tx, keys::GROUPS, &key)?;
    release_name(tx, &stored)?;
    let mut c = counters(tx, org)?;
    c.groups = c.groups.saturating_sub(1);
    put_counters(tx, org, &c)
}
