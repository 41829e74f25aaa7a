//! Groups: the identity provider's groups (SCIM `/Groups`) and the roles organization managers
//! map to them.
//!
//! A member's effective assignments are their direct ones plus the mapped assignments of every
//! group they belong to ([`Membership::effective_of`]). Every change that moves a member in or
//! out of a group, or changes what a group gives, rewrites that member's membership in the same
//! transaction as the group's member entry ([`Store::update_group`]), [`GROUP_MEMBER_BATCH`]
//! members at a time: atomic per member, O(k) writes for k members.
//!
//! The last-manager rule: a group change never leaves the organization without an active
//! organization manager, and the identity provider's request still succeeds (providers retry a
//! failed request forever). The member whose loss of `organization_manager` would do it keeps
//! that assignment as a direct one, and the group records the conflict
//! ([`Group::conflicts`]) for organization managers to see and settle.

use super::validate;
use super::{Caller, OrgContext, RETRIES, Service};
use crate::audit::{self, AuditAction, Origin, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{GroupId, OrgId, UserId};
use crate::model::{
    GROUP_MEMBER_BATCH, Group, GroupConflict, MAX_GROUP_CONFLICTS, MAX_GROUP_MEMBERS,
    MAX_GROUPS_PER_MEMBER, MAX_GROUPS_PER_ORG, Membership, Organization, group_name_key,
};
use crate::page::{Page, PageRequest};
use crate::permissions::is_org_manager;
use crate::ports::{Conflict, GroupEdge, GroupMemberChange, MembershipWrite, Store, StoreError};
use crate::role::{Assignment, Role, has_org_manager, merge_assignments};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

use super::scim::{MAX_KEY_BYTES, ScimOrg};

/// Longest group `displayName`, in characters.
pub const MAX_GROUP_NAME_LEN: usize = 256;
/// Most member refs one request may name.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1_000;

/// A group's attributes as the identity provider writes them (POST, PUT, or PATCH of
/// `displayName`/`externalId`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupAttributes {
    /// New `displayName`, when given.
    pub display_name: Option<String>,
    /// New `externalId`: `Some(None)` removes it.
    pub external_id: Option<Option<String>>,
}

/// One step of a change to a group's members, applied in order (a PATCH's operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// These members join (those already in stay).
    Add(Vec<String>),
    /// These members leave (those not in are ignored).
    Remove(Vec<String>),
    /// Every member leaves.
    RemoveAll,
    /// The members become exactly these.
    Replace(Vec<String>),
}

/// A member of a group as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    /// The id the identity provider knows the member by.
    pub member_ref: UserId,
    /// The membership.
    pub membership: Membership,
}

fn group_not_found(id: &str) -> Error {
    Error::not_found(
        ErrorCode::GroupNotFound,
        format!(
            "Group {} not found",
            id.chars().take(64).collect::<String>()
        ),
    )
}

fn group_changed() -> Error {
    Error::conflict(
        ErrorCode::ConcurrentModification,
        "The group changed while the request ran; try again",
    )
}

fn not_a_member(value: &str) -> Error {
    Error::invalid(
        ErrorCode::ValidationError,
        format!(
            "members: '{}' is not a user of this organization",
            value.chars().take(64).collect::<String>()
        ),
    )
}

fn group_error(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(Conflict::Stale) => group_changed(),
        other => other.into(),
    }
}

/// 400 unless `name` is a usable displayName; returns it trimmed.
fn check_display_name(name: &str) -> Result<String> {
    let trimmed = validate::check_name(name, MAX_GROUP_NAME_LEN)
        .map_err(|p| Error::invalid(ErrorCode::ValidationError, format!("'displayName' {p}")))?;
    Ok(trimmed.to_owned())
}

fn check_external_id(id: Option<&str>) -> Result<()> {
    if id.is_some_and(|v| v.len() > MAX_KEY_BYTES || v.trim().is_empty()) {
        return Err(Error::invalid(
            ErrorCode::ValidationError,
            format!("'externalId' must be 1 to {MAX_KEY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The members a change resolves to: each named ref with the membership it names, and for each
/// whether it ends in the group.
struct Plan {
    /// ref -> in the group after the change.
    wanted: BTreeMap<UserId, bool>,
    /// Whether every current member not in `wanted` leaves.
    clear_others: bool,
}

impl Plan {
    fn of(ops: &[MemberOp]) -> Result<Plan> {
        let mut wanted = BTreeMap::new();
        let mut clear_others = false;
        let mut named = 0usize;
        let parse = |v: &String| UserId::parse(v.trim()).map_err(|_| not_a_member(v));
        for op in ops {
            match op {
                MemberOp::Add(list) => {
                    named += list.len();
                    for v in list {
                        wanted.insert(parse(v)?, true);
                    }
                }
                MemberOp::Remove(list) => {
                    named += list.len();
                    for v in list {
                        wanted.insert(parse(v)?, false);
                    }
                }
                MemberOp::RemoveAll => {
                    wanted.clear();
                    clear_others = true;
                }
                MemberOp::Replace(list) => {
                    named += list.len();
                    wanted.clear();
                    clear_others = true;
                    for v in list {
                        wanted.insert(parse(v)?, true);
                    }
                }
            }
        }
        if named > MAX_MEMBERS_PER_REQUEST {
            return Err(Error::invalid(
                ErrorCode::ValidationError,
                format!(
                    "members: at most {MAX_MEMBERS_PER_REQUEST} members per request; send the rest in another"
                ),
            ));
        }
        Ok(Plan {
            wanted,
            clear_others,
        })
    }
}

impl Service {
    // ------------------------------------------------------------------ reads

    /// A group of the organization; 404 `group_not_found` otherwise.
    pub async fn group(&self, org: &OrgId, id: &str) -> Result<Group> {
        let gid = GroupId::parse(id.trim()).map_err(|_| group_not_found(id))?;
        self.store
            .get_group(org, &gid)
            .await?
            .ok_or_else(|| group_not_found(id))
    }

    /// The group with this displayName (case-insensitively): one key lookup.
    pub async fn group_by_name(&self, org: &OrgId, display_name: &str) -> Result<Option<Group>> {
        Ok(self
            .store
            .find_group_by_name(org, &group_name_key(display_name))
            .await?)
    }

    /// Every group of the organization (at most [`MAX_GROUPS_PER_ORG`]), in id order.
    pub async fn all_groups(&self, org: &OrgId) -> Result<Vec<Group>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(MAX_GROUPS_PER_ORG as usize);
        loop {
            let got = self.store.list_groups(org, &page).await?;
            out.extend(got.items);
            match got.next_cursor {
                Some(c) if out.len() < MAX_GROUPS_PER_ORG as usize => page.cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// Groups by id (missing ones left out), in the order asked: one batched read.
    pub async fn groups_by_id(&self, org: &OrgId, ids: &[GroupId]) -> Result<Vec<Group>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.get_groups(org, ids).await?)
    }

    /// The display names of the groups `members` (of `org`) belong to, by id: one batched read
    /// of their union, none when no one has a group. A group deleted meanwhile is left out.
    pub async fn group_names<'a>(
        &self,
        org: &OrgId,
        members: impl IntoIterator<Item = &'a Membership>,
    ) -> Result<BTreeMap<GroupId, String>> {
        let ids: BTreeSet<GroupId> = members
            .into_iter()
            .flat_map(|m| m.groups.iter().map(|g| g.group_id.clone()))
            .collect();
        let ids: Vec<GroupId> = ids.into_iter().collect();
        Ok(self
            .groups_by_id(org, &ids)
            .await?
            .into_iter()
            .map(|g| (g.id, g.display_name))
            .collect())
    }

    /// Every member ref of a group (at most [`MAX_GROUP_MEMBERS`]), in order.
    pub async fn group_member_refs(&self, group: &Group) -> Result<Vec<UserId>> {
        let mut out = Vec::with_capacity(group.member_count as usize);
        let mut page = PageRequest::first(crate::model::GROUP_MEMBER_PAGE);
        loop {
            let got = self
                .store
                .list_group_members(&group.org_id, &group.id, &page)
                .await?;
            out.extend(got.items);
            match got.next_cursor {
                Some(c) if (out.len() as u64) <= MAX_GROUP_MEMBERS => page.cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// The memberships `refs` name in `org`, keyed by ref: a ref is a member's SCIM id (its
    /// record's id, else its user id) or a linked placeholder's id. Refs naming no member are
    /// left out.
    async fn resolve_member_refs(
        &self,
        org: &OrgId,
        refs: &[UserId],
    ) -> Result<BTreeMap<UserId, Membership>> {
        let mut out = BTreeMap::new();
        for chunk in refs.chunks(100) {
            let (members, records) = futures_util::future::join(
                self.store.get_memberships(org, chunk),
                self.store.get_scim_users(org, chunk),
            )
            .await;
            let records: BTreeMap<UserId, _> = records?
                .into_iter()
                .map(|r| (r.user_id.clone(), r))
                .collect();
            let mut found: BTreeSet<UserId> = BTreeSet::new();
            for m in members? {
                // A linked member is known to the identity provider by its placeholder's id only.
                let scim_id = records
                    .get(&m.user_id)
                    .map(|r| r.resource_id().clone())
                    .unwrap_or_else(|| m.user_id.clone());
                if scim_id == m.user_id {
                    found.insert(m.user_id.clone());
                    out.insert(m.user_id.clone(), m);
                }
            }
            for r in chunk.iter().filter(|r| !found.contains(*r)) {
                if let Some(user) = self.store.find_scim_alias(org, r).await?
                    && let Some(m) = self.store.get_membership(org, &user).await?
                {
                    out.insert(r.clone(), m);
                }
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ SCIM writes

    /// Creates a group (SCIM POST) with its initial members. 409 `group_name_taken` for a taken
    /// displayName; 400 for a member that is not a user of the organization (nothing created).
    pub async fn scim_create_group(
        &self,
        org: &ScimOrg,
        attrs: GroupAttributes,
        members: Vec<String>,
    ) -> Result<Group> {
        let display_name = check_display_name(attrs.display_name.as_deref().ok_or_else(|| {
            Error::invalid(ErrorCode::ValidationError, "'displayName' is required")
        })?)?;
        let external_id = attrs.external_id.flatten();
        check_external_id(external_id.as_deref())?;
        let plan = Plan::of(&[MemberOp::Add(members)])?;
        // Resolve members before creating, so a bad member creates nothing.
        let refs: Vec<UserId> = plan.wanted.keys().cloned().collect();
        // The organization (its audit retention) is read alongside: no extra round trip.
        let (resolved, organization) = futures_util::try_join!(
            self.resolve_member_refs(&org.org_id, &refs),
            self.scim_organization(org)
        )?;
        if let Some(bad) = refs.iter().find(|r| !resolved.contains_key(*r)) {
            return Err(not_a_member(bad.as_str()));
        }
        let origin = org.origin();
        let now = self.clock.now();
        let group = Group {
            org_id: org.org_id.clone(),
            id: GroupId::from_uuid(Uuid::now_v7()),
            display_name,
            external_id,
            assignments: Vec::new(),
            member_count: 0,
            conflicts: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.audited(
            &origin,
            &organization,
            AuditAction::GroupCreated,
            Target::new(TargetKind::Group, &group.id),
            json!({ "display_name": group.display_name, "external_id": group.external_id }),
        )
        .create_group(&group, MAX_GROUPS_PER_ORG)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::OrgMissing) => Error::new(
                ErrorKind::Unauthenticated,
                ErrorCode::Unauthenticated,
                "The SCIM token's organization no longer exists",
            ),
            other => other.into(),
        })?;
        if plan.wanted.is_empty() {
            return Ok(group);
        }
        self.apply_members(&origin, &organization, group, &plan)
            .await
    }

    /// Changes a group's attributes and members (SCIM PUT or PATCH). Attributes are written
    /// first, then members in batches; a failure part-way (503) leaves a consistent group that
    /// the identity provider's retry completes.
    pub async fn scim_update_group(
        &self,
        org: &ScimOrg,
        id: &str,
        attrs: GroupAttributes,
        ops: &[MemberOp],
    ) -> Result<Group> {
        let plan = Plan::of(ops)?;
        if let Some(n) = &attrs.display_name {
            check_display_name(n)?;
        }
        if let Some(e) = &attrs.external_id {
            check_external_id(e.as_deref())?;
        }
        let (mut group, organization) =
            futures_util::try_join!(self.group(&org.org_id, id), self.scim_organization(org))?;
        let origin = org.origin();
        // Members first resolved and checked: a bad member changes nothing.
        let refs: Vec<UserId> = plan
            .wanted
            .iter()
            .filter(|(_, join)| **join)
            .map(|(r, _)| r.clone())
            .collect();
        let resolved = self.resolve_member_refs(&org.org_id, &refs).await?;
        if let Some(bad) = refs.iter().find(|r| !resolved.contains_key(*r)) {
            return Err(not_a_member(bad.as_str()));
        }
        let renamed = attrs
            .display_name
            .as_deref()
            .map(check_display_name)
            .transpose()?
            .filter(|n| n != &group.display_name);
        let new_external = attrs
            .external_id
            .clone()
            .filter(|e| e != &group.external_id);
        if renamed.is_some() || new_external.is_some() {
            for attempt in 0..RETRIES {
                let after = Group {
                    display_name: renamed
                        .clone()
                        .unwrap_or_else(|| group.display_name.clone()),
                    external_id: new_external
                        .clone()
                        .unwrap_or_else(|| group.external_id.clone()),
                    updated_at: self.clock.now(),
                    version: group.version + 1,
                    ..group.clone()
                };
                let recorded = self.audited(
                    &origin,
                    &organization,
                    AuditAction::GroupUpdated,
                    Target::new(TargetKind::Group, &group.id),
                    audit::changes(&group, &after, &["version", "updated_at"]),
                );
                match recorded.update_group(&group, &after, &[]).await {
                    Ok(()) => {
                        group = after;
                        break;
                    }
                    Err(StoreError::Conflict(Conflict::Stale)) if attempt + 1 < RETRIES => {
                        group = self.group(&org.org_id, id).await?;
                    }
                    Err(e) => return Err(group_error(e)),
                }
            }
        }
        if plan.wanted.is_empty() && !plan.clear_others {
            return Ok(group);
        }
        self.apply_members(&origin, &organization, group, &plan)
            .await
    }

    /// Deletes a group (SCIM DELETE): its members leave it in batches (their roles from it go),
    /// then the group goes.
    pub async fn scim_delete_group(&self, org: &ScimOrg, id: &str) -> Result<()> {
        let (group, organization) =
            futures_util::try_join!(self.group(&org.org_id, id), self.scim_organization(org))?;
        let origin = org.origin();
        let plan = Plan {
            wanted: BTreeMap::new(),
            clear_others: true,
        };
        let mut group = self
            .apply_members(&origin, &organization, group, &plan)
            .await?;
        for attempt in 0..RETRIES {
            let recorded = self.audited(
                &origin,
                &organization,
                AuditAction::GroupDeleted,
                Target::new(TargetKind::Group, &group.id),
                json!({ "display_name": group.display_name, "assignments": group.assignments }),
            );
            match recorded.delete_group(&group).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(Conflict::Stale)) if attempt + 1 < RETRIES => {
                    // Someone joined meanwhile: empty it again.
                    let fresh = self.group(&org.org_id, id).await?;
                    group = self
                        .apply_members(&origin, &organization, fresh, &plan)
                        .await?;
                }
                Err(e) => return Err(group_error(e)),
            }
        }
        Err(group_changed())
    }

    // ------------------------------------------------------------------ API (organization managers)

    /// Groups of the organization, a page at a time (organization managers).
    pub async fn list_groups(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        page: &PageRequest,
    ) -> Result<Page<Group>> {
        self.require_org_manager(caller, org_id).await?;
        Ok(self.store.list_groups(org_id, page).await?)
    }

    /// One group (organization managers).
    pub async fn get_group(&self, caller: &Caller, org_id: &OrgId, id: &str) -> Result<Group> {
        self.require_org_manager(caller, org_id).await?;
        self.group(org_id, id).await
    }

    /// A group's members, a page at a time, with their memberships (organization managers).
    pub async fn list_group_members(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupMember>> {
        self.require_org_manager(caller, org_id).await?;
        let group = self.group(org_id, id).await?;
        let refs = self
            .store
            .list_group_members(org_id, &group.id, page)
            .await?;
        let resolved = self.resolve_member_refs(org_id, &refs.items).await?;
        Ok(Page {
            items: refs
                .items
                .into_iter()
                .filter_map(|r| {
                    resolved.get(&r).map(|m| GroupMember {
                        member_ref: r.clone(),
                        membership: m.clone(),
                    })
                })
                .collect(),
            next_cursor: refs.next_cursor,
        })
    }

    /// Sets what a group gives its members (organization managers): same shape and rules as a
    /// member's assignments (pools must exist). Every member's effective roles follow, a batch
    /// at a time; on a failure part-way (503) repeating the call finishes the work.
    pub async fn set_group_assignments(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        id: &str,
        assignments: &[Assignment],
    ) -> Result<Group> {
        let ctx = self.require_org_manager(caller, org_id).await?;
        let origin = caller.origin();
        let mut assignments = validate::assignments("assignments", assignments)?;
        // A group gives roles beyond the implicit `member`; "just member" is no assignment.
        assignments.retain(|a| a.role != Role::Member);
        let pools = self.store.list_pools(org_id).await?;
        super::pools::require_pools_exist(&assignments, &pools)?;
        let mut group = self.group(org_id, id).await?;
        if group.assignments != assignments {
            for attempt in 0..RETRIES {
                let after = Group {
                    assignments: assignments.clone(),
                    updated_at: self.clock.now(),
                    version: group.version + 1,
                    ..group.clone()
                };
                let recorded = self.audited(
                    &origin,
                    &ctx.org,
                    AuditAction::GroupAssignmentsChanged,
                    Target::new(TargetKind::Group, &group.id),
                    json!({
                        "assignments": { "before": group.assignments, "after": after.assignments },
                        "member_count": group.member_count,
                    }),
                );
                match recorded.update_group(&group, &after, &[]).await {
                    Ok(()) => {
                        group = after;
                        break;
                    }
                    Err(StoreError::Conflict(Conflict::Stale)) if attempt + 1 < RETRIES => {
                        group = self.group(org_id, id).await?;
                    }
                    Err(e) => return Err(group_error(e)),
                }
            }
        }
        self.refresh_group_grants(&origin, &ctx.org, group).await
    }

    async fn require_org_manager(&self, caller: &Caller, org_id: &OrgId) -> Result<OrgContext> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can manage groups",
            ));
        }
        Ok(ctx)
    }

    /// Makes every member's grant from `group` equal its mapping (after a mapping change).
    pub(crate) async fn refresh_group_grants(
        &self,
        origin: &Origin,
        org: &Organization,
        mut group: Group,
    ) -> Result<Group> {
        let mut page = PageRequest::first(GROUP_MEMBER_BATCH);
        loop {
            let refs = self
                .store
                .list_group_members(&group.org_id, &group.id, &page)
                .await?;
            let resolved = self.resolve_member_refs(&group.org_id, &refs.items).await?;
            let stale: Vec<(UserId, Membership)> = resolved
                .into_iter()
                .filter(|(_, m)| {
                    m.group_grant(&group.id)
                        .is_none_or(|g| g.assignments != group.assignments)
                })
                .collect();
            if !stale.is_empty() {
                group = self
                    .write_batch(
                        origin,
                        org,
                        group,
                        stale.into_iter().map(|(r, m)| (r, m, GroupEdge::Keep)),
                    )
                    .await?;
            }
            match refs.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(group),
            }
        }
    }

    // ------------------------------------------------------------------ member changes

    /// Applies a plan of member changes to `group`, in batches; returns the group as stored.
    async fn apply_members(
        &self,
        origin: &Origin,
        organization: &Organization,
        mut group: Group,
        plan: &Plan,
    ) -> Result<Group> {
        let org = group.org_id.clone();
        // Leaving: named refs that leave, plus every current member not named when clearing.
        let mut leaving: Vec<UserId> = plan
            .wanted
            .iter()
            .filter(|(_, join)| !**join)
            .map(|(r, _)| r.clone())
            .collect();
        if plan.clear_others {
            let current = self.group_member_refs(&group).await?;
            leaving.extend(
                current
                    .into_iter()
                    .filter(|r| !plan.wanted.get(r).copied().unwrap_or(false)),
            );
            leaving.sort();
            leaving.dedup();
        }
        let joining: Vec<UserId> = plan
            .wanted
            .iter()
            .filter(|(_, join)| **join)
            .map(|(r, _)| r.clone())
            .collect();
        for chunk in leaving.chunks(GROUP_MEMBER_BATCH) {
            let resolved = self.resolve_member_refs(&org, chunk).await?;
            let changes: Vec<_> = resolved
                .into_iter()
                .filter(|(_, m)| m.in_group(&group.id))
                .map(|(r, m)| (r, m, GroupEdge::Remove))
                .collect();
            if !changes.is_empty() {
                group = self
                    .write_batch(origin, organization, group, changes.into_iter())
                    .await?;
            }
        }
        for chunk in joining.chunks(GROUP_MEMBER_BATCH) {
            let resolved = self.resolve_member_refs(&org, chunk).await?;
            if let Some(bad) = chunk.iter().find(|r| !resolved.contains_key(*r)) {
                return Err(not_a_member(bad.as_str()));
            }
            let changes: Vec<_> = resolved
                .into_iter()
                .filter(|(_, m)| !m.in_group(&group.id))
                .map(|(r, m)| (r, m, GroupEdge::Add))
                .collect();
            if let Some((_, m, _)) = changes
                .iter()
                .find(|(_, m, _)| m.groups.len() >= MAX_GROUPS_PER_MEMBER)
            {
                return Err(Error::invalid(
                    ErrorCode::ValidationError,
                    format!(
                        "members: {} already belongs to {MAX_GROUPS_PER_MEMBER} groups, the most a member may",
                        m.user_id
                    ),
                ));
            }
            if group.member_count + changes.len() as u64 > MAX_GROUP_MEMBERS {
                return Err(Error::invalid(
                    ErrorCode::ValidationError,
                    format!("members: a group has at most {MAX_GROUP_MEMBERS} members"),
                ));
            }
            if !changes.is_empty() {
                group = self
                    .write_batch(origin, organization, group, changes.into_iter())
                    .await?;
            }
        }
        Ok(group)
    }

    /// Writes one batch (at most [`GROUP_MEMBER_BATCH`]) of member changes with the group,
    /// re-reading after a concurrent change, and applying the last-manager rule.
    async fn write_batch(
        &self,
        origin: &Origin,
        org: &Organization,
        group: Group,
        batch: impl Iterator<Item = (UserId, Membership, GroupEdge)>,
    ) -> Result<Group> {
        let mut batch: Vec<(UserId, Membership, GroupEdge)> = batch.collect();
        let mut group = group;
        for attempt in 0..RETRIES {
            let (after, changes) = self.batch_changes(&group, &batch, &[]);
            let recorded = self.members_changed(origin, org, &group, &changes);
            match recorded.update_group(&group, &after, &changes).await {
                Ok(()) => return Ok(after),
                Err(StoreError::Conflict(Conflict::LastOrganizationManager)) => {
                    return self
                        .write_keeping_last_manager(origin, org, group, batch)
                        .await;
                }
                Err(StoreError::Conflict(Conflict::Stale)) if attempt + 1 < RETRIES => {
                    (group, batch) = self.reread_batch(&group, batch).await?;
                    if batch.is_empty() {
                        return Ok(group);
                    }
                }
                Err(e) => return Err(group_error(e)),
            }
        }
        Err(group_changed())
    }

    /// The batch one member at a time: a member whose change would leave the organization
    /// without an active organization manager keeps `organization_manager` as a direct
    /// assignment, and the group records the conflict.
    async fn write_keeping_last_manager(
        &self,
        origin: &Origin,
        org: &Organization,
        mut group: Group,
        batch: Vec<(UserId, Membership, GroupEdge)>,
    ) -> Result<Group> {
        for one in batch {
            let mut single = vec![one];
            let mut keep = false;
            let mut done = false;
            for _ in 0..RETRIES * 2 {
                let kept: Vec<UserId> = if keep {
                    vec![single[0].0.clone()]
                } else {
                    Vec::new()
                };
                let (after, changes) = self.batch_changes(&group, &single, &kept);
                let recorded = self.members_changed(origin, org, &group, &changes);
                match recorded.update_group(&group, &after, &changes).await {
                    Ok(()) => {
                        if keep {
                            tracing::warn!(
                                org = %group.org_id,
                                group = %group.id,
                                member = %single[0].1.user_id,
                                "group change kept the last organization manager's role as a direct assignment"
                            );
                        }
                        group = after;
                        done = true;
                        break;
                    }
                    Err(StoreError::Conflict(Conflict::LastOrganizationManager)) if !keep => {
                        keep = true;
                    }
                    Err(StoreError::Conflict(Conflict::Stale)) => {
                        (group, single) = self.reread_batch(&group, single).await?;
                        if single.is_empty() {
                            done = true;
                            break;
                        }
                    }
                    Err(e) => return Err(group_error(e)),
                }
            }
            if !done {
                return Err(group_changed());
            }
        }
        Ok(group)
    }

    /// The store, recording a batch of member changes of `group` (`group.members_changed`):
    /// each member's edge and effective roles before and after, and whether the change kept the
    /// last organization manager's role as a direct assignment.
    fn members_changed(
        &self,
        origin: &Origin,
        org: &Organization,
        group: &Group,
        changes: &[GroupMemberChange],
    ) -> Arc<dyn Store> {
        let members: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                let (before, after) = match &c.membership {
                    MembershipWrite::Update { before, after } => (Some(before), after),
                    MembershipWrite::Create(after) => (None, after),
                };
                json!({
                    "member_ref": c.member_ref,
                    "user_id": after.user_id,
                    "change": match c.edge {
                        GroupEdge::Add => "added",
                        GroupEdge::Remove => "removed",
                        GroupEdge::Keep => "regranted",
                    },
                    "effective": {
                        "before": before.map(|b| &b.assignments),
                        "after": after.assignments,
                    },
                })
            })
            .collect();
        self.audited(
            origin,
            org,
            AuditAction::GroupMembersChanged,
            Target::new(TargetKind::Group, &group.id),
            json!({ "display_name": group.display_name, "members": members }),
        )
    }

    /// The group after a batch and each member's change. Members in `keep_manager` keep
    /// `organization_manager` as a direct assignment when the change would take it away.
    fn batch_changes(
        &self,
        group: &Group,
        batch: &[(UserId, Membership, GroupEdge)],
        keep_manager: &[UserId],
    ) -> (Group, Vec<GroupMemberChange>) {
        let now = self.clock.now();
        let mut after = Group {
            updated_at: now,
            version: group.version + 1,
            ..group.clone()
        };
        let mut changes = Vec::with_capacity(batch.len());
        for (r, before, edge) in batch {
            let mut next = match edge {
                GroupEdge::Add | GroupEdge::Keep => {
                    before.clone().with_group(&group.id, &group.assignments)
                }
                GroupEdge::Remove => before.clone().without_group(&group.id),
            };
            match edge {
                GroupEdge::Add => after.member_count += 1,
                GroupEdge::Remove => after.member_count = after.member_count.saturating_sub(1),
                GroupEdge::Keep => {}
            }
            if keep_manager.contains(r)
                && has_org_manager(&before.assignments)
                && !has_org_manager(&next.assignments)
            {
                let manager = Assignment::org_wide(Role::OrganizationManager);
                let direct =
                    merge_assignments(next.direct_assignments(), std::slice::from_ref(&manager));
                next = next.with_direct_assignments(direct);
                after.conflicts.push(GroupConflict {
                    at: now,
                    user_id: before.user_id.clone(),
                    kept: vec![manager],
                });
                let excess = after.conflicts.len().saturating_sub(MAX_GROUP_CONFLICTS);
                after.conflicts.drain(..excess);
            }
            let membership = MembershipWrite::Update {
                before: before.clone(),
                after: Membership {
                    updated_at: now,
                    version: before.version + 1,
                    ..next
                },
            };
            changes.push(GroupMemberChange {
                member_ref: r.clone(),
                edge: *edge,
                membership,
            });
        }
        (after, changes)
    }

    /// The group and the batch's memberships read again after a concurrent change; changes
    /// that no longer apply (already in, already out) are dropped.
    async fn reread_batch(
        &self,
        group: &Group,
        batch: Vec<(UserId, Membership, GroupEdge)>,
    ) -> Result<(Group, Vec<(UserId, Membership, GroupEdge)>)> {
        let fresh = self
            .store
            .get_group(&group.org_id, &group.id)
            .await?
            .ok_or_else(|| group_not_found(group.id.as_str()))?;
        let refs: Vec<UserId> = batch.iter().map(|(r, _, _)| r.clone()).collect();
        let resolved = self.resolve_member_refs(&group.org_id, &refs).await?;
        let batch = batch
            .into_iter()
            .filter_map(|(r, _, edge)| {
                let m = resolved.get(&r)?.clone();
                let applies = match edge {
                    GroupEdge::Add => !m.in_group(&fresh.id),
                    GroupEdge::Remove => m.in_group(&fresh.id),
                    GroupEdge::Keep => m
                        .group_grant(&fresh.id)
                        .is_some_and(|g| g.assignments != fresh.assignments),
                };
                applies.then_some((r, m, edge))
            })
            .collect();
        Ok((fresh, batch))
    }

    /// Takes `member` out of every group (before the member is removed from the organization).
    pub(crate) async fn leave_all_groups(
        &self,
        origin: &Origin,
        organization: &Organization,
        member: &Membership,
    ) -> Result<Membership> {
        if member.groups.is_empty() {
            return Ok(member.clone());
        }
        let org = &member.org_id;
        let record = self.store.get_scim_user(org, &member.user_id).await?;
        let member_ref = record
            .map(|r| r.resource_id().clone())
            .unwrap_or_else(|| member.user_id.clone());
        let ids: Vec<GroupId> = member.groups.iter().map(|g| g.group_id.clone()).collect();
        for group in self.store.get_groups(org, &ids).await? {
            let Some(current) = self.store.get_membership(org, &member.user_id).await? else {
                break;
            };
            if current.in_group(&group.id) {
                self.write_batch(
                    origin,
                    organization,
                    group,
                    std::iter::once((member_ref.clone(), current, GroupEdge::Remove)),
                )
                .await?;
            }
        }
        self.store
            .get_membership(org, &member.user_id)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    ErrorCode::MemberNotFound,
                    "No such member in this organization",
                )
            })
    }
}

impl Service {
    /// The groups the member known to the identity provider by `member` belongs to (none when
    /// `member` names no member of the organization).
    pub async fn scim_groups_of_member(&self, org: &ScimOrg, member: &str) -> Result<Vec<Group>> {
        let Ok(r) = UserId::parse(member.trim()) else {
            return Ok(Vec::new());
        };
        let resolved = self
            .resolve_member_refs(&org.org_id, std::slice::from_ref(&r))
            .await?;
        let Some(m) = resolved.get(&r) else {
            return Ok(Vec::new());
        };
        let ids: Vec<GroupId> = m.groups.iter().map(|g| g.group_id.clone()).collect();
        self.groups_by_id(&org.org_id, &ids).await
    }
}
