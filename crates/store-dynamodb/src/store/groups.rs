//! SCIM groups on the table (keys in [`crate::keys`], described in `docs/data-model.md`,
//! "SCIM groups"):
//!
//! - `ORG#org` / `GROUP#grp`: the group (`Group`'s fields);
//! - `ORG#org` / `GNAME#<name key>`: its displayName claim, a full copy of the group written in
//!   the same transaction as every change of it, so a lookup by name is one GetItem;
//! - `GMEM#org#grp` / `usr_…`: one member entry per member ref, keys only (about 120 bytes), in a
//!   partition of its own, so 5,000 refs are one Query page;
//! - `ORG#org` / `COUNT#groups`: the group counter (limit on create, `count_groups`);
//! - `ORG#org` / `REF#pool#GROUP#grp` (the mapping names the pool) and
//!   `REF#pool#GMEMBERS#grp#version` (the memberships one change gave the pool, listed in the
//!   item): what `delete_pool` follows to groups and their members.
//!
//! Calls: create, update and delete are one TransactWriteItems each (an update whose member refs
//! include SCIM aliases reads them first: one BatchGetItem); get, find by name and count one
//! GetItem; get_groups and get_memberships one BatchGetItem per 100 ids; list_groups one Query per
//! page; list_group_members one Query per page of up to 5,000 refs.

use super::{
    bounded_increment, conflict, counter_actions, counter_add, decode, decode_all,
    membership_parts, org_exists, page_of, ref_actions, version_is,
};
use crate::DynamoStore;
use crate::cursor::Scope;
use crate::expr::Expr;
use crate::item::{self, get_n, get_s, key, s};
use crate::keys::{self, Counter, RefTarget};
use crate::tx::Action;
use rollcall_domain::ids::{GroupId, OrgId, PoolId, UserId};
use rollcall_domain::model::{
    GROUP_MEMBER_BATCH, GROUP_MEMBER_PAGE, Group, GroupGrant, Membership,
};
use rollcall_domain::page::{Page, PageRequest};
use rollcall_domain::ports::{
    Conflict, GroupEdge, GroupMemberChange, MembershipWrite, StoreError, StoreResult,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The condition on a displayName claim that it is free or `group`'s own copy.
fn claim_free_or(e: &mut Expr, group: &GroupId) -> String {
    format!(
        "attribute_not_exists({}) OR {} = {}",
        e.name(keys::PK),
        e.name("id"),
        e.val(s(group.as_str()))
    )
}

/// The group's displayName claim after a change from `before` to `after` (stored): on a new name
/// key, the new claim (absent → else [`Conflict::GroupNameTaken`]) and the old one's deletion;
/// otherwise the claim's copy rewritten.
pub(super) fn name_claim_actions(before: &Group, after: &Group) -> StoreResult<Vec<Action>> {
    let id = &after.id;
    if before.name_key() == after.name_key() {
        return Ok(vec![
            Action::put(item::group_name_item(after)?).when(|e| claim_free_or(e, id)),
        ]);
    }
    Ok(vec![
        Action::put(item::group_name_item(after)?)
            .if_absent()
            .or(Conflict::GroupNameTaken),
        Action::delete(key(keys::group_name(&before.org_id, &before.name_key())))
            .when(|e| claim_free_or(e, id)),
    ])
}

/// Whether a group change's arguments describe one change of `before`'s group in its org (see
/// [`rollcall_domain::ports::Store::update_group`]), all but the aliases: returns the changes
/// whose member ref is not their membership's user id, which must be SCIM aliases of it.
fn one_change<'a>(
    before: &Group,
    after: &Group,
    members: &'a [GroupMemberChange],
) -> Option<Vec<&'a GroupMemberChange>> {
    let (org, gid) = (&before.org_id, &before.id);
    if &after.org_id != org || &after.id != gid {
        return None;
    }
    let count = |edge| members.iter().filter(|c| c.edge == edge).count() as i128;
    let expected =
        i128::from(before.member_count) + count(GroupEdge::Add) - count(GroupEdge::Remove);
    if i128::from(after.member_count) != expected {
        return None;
    }
    let others = |groups: &[GroupGrant]| -> Vec<GroupGrant> {
        groups
            .iter()
            .filter(|g| &g.group_id != gid)
            .cloned()
            .collect()
    };
    let mut refs = HashSet::new();
    let mut users = HashSet::new();
    let mut aliased = Vec::new();
    for c in members {
        let m = c.membership.after();
        let (was_in, others_before) = match &c.membership {
            MembershipWrite::Create(_) => (false, Vec::new()),
            MembershipWrite::Update {
                before: b,
                after: a,
            } => {
                if &b.org_id != org || b.user_id != a.user_id {
                    return None;
                }
                (b.in_group(gid), others(&b.groups))
            }
        };
        let is_in = m.in_group(gid);
        let makes_edge = match c.edge {
            GroupEdge::Add => !was_in && is_in,
            GroupEdge::Remove => was_in && !is_in,
            GroupEdge::Keep => was_in && is_in,
        };
        if &m.org_id != org
            || !makes_edge
            || others(&m.groups) != others_before
            || !refs.insert(&c.member_ref)
            || !users.insert(&m.user_id)
        {
            return None;
        }
        if c.member_ref != m.user_id {
            aliased.push(c);
        }
    }
    Some(aliased)
}

impl DynamoStore {
    pub(super) async fn groups_create(&self, group: &Group, max_groups: u32) -> StoreResult<()> {
        if group.member_count != 0 {
            return conflict(Conflict::Stale);
        }
        let org = &group.org_id;
        let mut actions = vec![
            org_exists(org),
            Action::put(item::group_name_item(group)?)
                .if_absent()
                .or(Conflict::GroupNameTaken),
            bounded_increment(keys::counter(org, Counter::Groups), Some(max_groups), None)
                .or(Conflict::GroupLimit),
            Action::put(item::group_item(group)?).if_absent(),
        ];
        actions.extend(ref_actions(
            org,
            item::pools_of(&group.assignments),
            &RefTarget::Group(group.id.clone()),
        ));
        self.run(actions).await
    }

    pub(super) async fn groups_get(&self, org: &OrgId, id: &GroupId) -> StoreResult<Option<Group>> {
        decode(self.get(keys::group(org, id)).await?)
    }

    pub(super) async fn groups_get_many(
        &self,
        org: &OrgId,
        ids: &[GroupId],
    ) -> StoreResult<Vec<Group>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .batch_get(ids.iter().map(|g| key(keys::group(org, g))).collect())
            .await?;
        let groups: Vec<Group> = decode_all(&items)?;
        let by_id: HashMap<&GroupId, &Group> = groups.iter().map(|g| (&g.id, g)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id).map(|g| (*g).clone()))
            .collect())
    }

    pub(super) async fn groups_find_by_name(
        &self,
        org: &OrgId,
        name_key: &str,
    ) -> StoreResult<Option<Group>> {
        let name_key = rollcall_domain::model::group_name_key(name_key);
        let copy: Option<Group> = decode(self.get(keys::group_name(org, &name_key)).await?)?;
        Ok(copy.filter(|g| &g.org_id == org && g.name_key() == name_key))
    }

    pub(super) async fn groups_list(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> StoreResult<Page<Group>> {
        let partition = keys::org_pk(org);
        let scope = Scope {
            tag: "groups",
            index: None,
            partition: &partition,
            sk_prefix: keys::GROUP_PREFIX,
        };
        let (items, next) = self.page(&scope, Box::new(|_| None), true, page).await?;
        page_of(items, next)
    }

    pub(super) async fn groups_count(&self, org: &OrgId) -> StoreResult<u64> {
        let counter = self.get(keys::counter(org, Counter::Groups)).await?;
        let n = counter
            .as_ref()
            .and_then(|i| get_n(i, keys::N))
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(super) async fn groups_list_members(
        &self,
        org: &OrgId,
        group: &GroupId,
        page: &PageRequest,
    ) -> StoreResult<Page<UserId>> {
        let partition = keys::group_members_pk(org, group);
        let scope = Scope {
            tag: "group_members",
            index: None,
            partition: &partition,
            sk_prefix: "",
        };
        let (items, next) = self
            .page_up_to(&scope, Box::new(|_| None), true, page, GROUP_MEMBER_PAGE)
            .await?;
        let refs = items
            .iter()
            .map(|i| {
                get_s(i, keys::SK)
                    .and_then(|sk| UserId::parse(sk).ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("{partition}: member entry without a user id"))
                    })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            items: refs,
            next_cursor: next,
        })
    }

    /// First, on the arguments alone ([`Conflict::Stale`], nothing read or written): `after` is
    /// the same group, `member_count` follows the edges, each write is about the org and makes
    /// its edge without touching other groups, no member or ref comes twice. Member refs that
    /// are not the user id are checked against their `SCIMID#` aliases (one BatchGetItem, only
    /// then). Then one TransactWriteItems, its actions in this order (the first failed one names
    /// the conflict):
    ///
    /// | Actions | Items (40 member updates) | Conflict |
    /// |---|---|---|
    /// | Put the group, `version = :before` | 1 | `Stale` |
    /// | displayName claim: Put the copy (`attribute_not_exists(PK) OR id = :group`), or on a new name key Put the new claim (`attribute_not_exists`) + Delete the old | 1–2 | `GroupNameTaken`, `Stale` |
    /// | ConditionCheck the organization, once, only when a change creates a membership | 0 | `OrgMissing` |
    /// | per change, its member entry: Put (`attribute_not_exists`), Delete (`attribute_exists`) or ConditionCheck (`attribute_exists`) | 40 | `Stale` |
    /// | per change, the membership Put (`version = :before`; a creation `attribute_not_exists`) | 40 | `Stale`, `MembershipExists` |
    /// | ONE managers counter update for the whole batch (its net change; a decrease by k only while `n > k`), and the members counter when memberships are created | 0–1 | `LastOrganizationManager` |
    /// | email and externalId claims of memberships created or whose values change (a group change changes neither) | 0 | `MemberEmailTaken`, `ExternalIdTaken`, `Stale` |
    /// | references: `REF#P#GROUP#grp` per pool P the mapping gains, one `REF#P#GMEMBERS#grp#version` per pool P the batch's memberships gain (listing their user ids) | k + p | |
    ///
    /// **Maximum** with [`GROUP_MEMBER_BATCH`] = 40 member updates: 1 + 2 + 40 + 40 + 1 = **84**
    /// items, plus k + p references (a mapping of one pool adds at most 2), so up to 16 pools
    /// gained in one change still fit the 100 items of a transaction; past that, the references
    /// (harmless when stale) go first in a transaction of their own, as
    /// [`DynamoStore::run_with_refs`] does for every membership write. A creation costs 2 more
    /// items than an update (its email claim, once the organization check and members counter),
    /// 3 with an externalId: 40 creations (126 items and more) do not fit and are refused
    /// ([`StoreError::Unavailable`], nothing written); up to 31 do (23 with externalIds).
    pub(super) async fn groups_update(
        &self,
        before: &Group,
        after: &Group,
        members: &[GroupMemberChange],
    ) -> StoreResult<()> {
        if members.len() > GROUP_MEMBER_BATCH {
            return Err(StoreError::Unavailable(format!(
                "a group change of {} members exceeds one transaction (at most {GROUP_MEMBER_BATCH})",
                members.len()
            )));
        }
        let Some(aliased) = one_change(before, after, members) else {
            return conflict(Conflict::Stale);
        };
        let org = &before.org_id;
        if !aliased.is_empty() {
            // A member ref that is not the user id must be the member's SCIM id, aliased to it
            // (a linked placeholder's). An alias never moves to another member (it goes with
            // the membership), so reading it before the transaction is enough: the membership's
            // version condition covers its removal.
            let found = self
                .batch_get(
                    aliased
                        .iter()
                        .map(|c| key(keys::scim_alias(org, &c.member_ref)))
                        .collect(),
                )
                .await?;
            let targets: HashMap<&str, &str> = found
                .iter()
                .filter_map(|i| {
                    let id = get_s(i, keys::SK)?.strip_prefix("SCIMID#")?;
                    Some((id, get_s(i, keys::TARGET)?))
                })
                .collect();
            let all_aliases = aliased.iter().all(|c| {
                targets.get(c.member_ref.as_str()).copied()
                    == Some(c.membership.after().user_id.as_str())
            });
            if !all_aliases {
                return conflict(Conflict::Stale);
            }
        }
        let gid = &before.id;
        let stored = Group {
            version: before.version + 1,
            ..after.clone()
        };
        let v = before.version;
        let mut core = vec![
            Action::put(item::group_item(&stored)?)
                .when(|e| version_is(e, v))
                .or(Conflict::Stale),
        ];
        core.extend(name_claim_actions(before, &stored)?);
        let mut parts = Vec::with_capacity(members.len());
        for c in members {
            parts.push(membership_parts(&c.membership)?);
        }
        if let Some(check) = parts.iter_mut().find_map(|p| p.org_check.take()) {
            core.push(check);
        }
        for c in members {
            let entry = item::group_member_item(org, gid, &c.member_ref);
            core.push(match c.edge {
                GroupEdge::Add => Action::put(entry).if_absent(),
                GroupEdge::Remove => Action::delete(entry).if_present(),
                GroupEdge::Keep => Action::check(entry).if_present(),
            });
        }
        let (mut managers, mut created) = (0, 0);
        let mut claims = Vec::new();
        let mut gained: BTreeMap<PoolId, Vec<&UserId>> = BTreeMap::new();
        for (c, p) in members.iter().zip(parts) {
            core.push(p.put);
            managers += p.managers;
            created += p.members;
            claims.extend(p.claims);
            for pool in p.gained {
                gained
                    .entry(pool)
                    .or_default()
                    .push(&c.membership.after().user_id);
            }
        }
        core.extend(counter_actions(org, managers, created));
        core.extend(claims);
        let had = item::pools_of(&before.assignments);
        let mut refs = ref_actions(
            org,
            item::pools_of(&stored.assignments)
                .into_iter()
                .filter(|p| !had.contains(p)),
            &RefTarget::Group(gid.clone()),
        );
        refs.extend(gained.into_iter().map(|(pool, users)| {
            Action::put(item::group_members_ref_item(
                org,
                &pool,
                gid,
                stored.version,
                users,
            ))
        }));
        if core.len() > self.room() {
            // Only creations and email or externalId changes come this far (see above).
            return Err(StoreError::Unavailable(format!(
                "a group change of {} items exceeds one transaction",
                core.len()
            )));
        }
        self.run_with_refs(core, refs).await
    }

    pub(super) async fn groups_delete(&self, group: &Group) -> StoreResult<()> {
        let org = &group.org_id;
        let v = group.version;
        self.run(vec![
            Action::delete(key(keys::group(org, &group.id))).when(|e| {
                format!(
                    "{} AND {} = {}",
                    version_is(e, v),
                    e.name("member_count"),
                    e.val(item::n(0))
                )
            }),
            Action::delete(key(keys::group_name(org, &group.name_key())))
                .when(|e| claim_free_or(e, &group.id)),
            counter_add(org, Counter::Groups, -1),
        ])
        .await
    }

    pub(super) async fn memberships_get_many(
        &self,
        org: &OrgId,
        users: &[UserId],
    ) -> StoreResult<Vec<Membership>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .batch_get(
                users
                    .iter()
                    .map(|u| key(keys::membership(org, u)))
                    .collect(),
            )
            .await?;
        let found: Vec<Membership> = decode_all(&items)?;
        let by_user: HashMap<&UserId, &Membership> =
            found.iter().map(|m| (&m.user_id, m)).collect();
        Ok(users
            .iter()
            .filter_map(|u| by_user.get(u).map(|m| (*m).clone()))
            .collect())
    }
}
