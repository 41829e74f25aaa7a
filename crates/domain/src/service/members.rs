//! Members: list, read, replace assignments, remove with hand-over to a successor.

use super::validate;
use super::{Caller, Service};
use crate::audit::{AuditAction, Origin, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{OrgId, UserId};
use crate::model::{MemberStatus, Membership, Organization};
use crate::page::{Page, PageRequest};
use crate::permissions::is_org_manager;
use crate::ports::{Conflict, Handover, MemberFilter, MembershipWrite, StoreError};
use crate::role::{Assignment, Role};
use serde_json::json;

/// The result of removing a member.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovedMember {
    /// Who received the assets.
    pub successor_id: UserId,
    /// What was handed over.
    pub handover: Handover,
}

fn member_not_found() -> Error {
    Error::not_found(
        ErrorCode::MemberNotFound,
        "No such member in this organization",
    )
}

/// Most filtered pages read looking for another organization manager.
const SUCCESSOR_PAGES: usize = 10;

impl Service {
    /// Members matching `filter`, a page at a time.
    pub async fn list_members(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<Membership>> {
        self.org_context(caller, org_id).await?;
        let mut filter = filter.clone();
        filter.q = match filter.q.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(q) if q.chars().count() > 100 => {
                return Err(validate::field_error("q", "must be at most 100 characters"));
            }
            Some(q) => Some(q.to_lowercase()),
        };
        Ok(self.store.list_memberships(org_id, &filter, page).await?)
    }

    /// One member.
    pub async fn get_member(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        user_id: &UserId,
    ) -> Result<Membership> {
        self.org_context(caller, org_id).await?;
        self.store
            .get_membership(org_id, user_id)
            .await?
            .ok_or_else(member_not_found)
    }

    /// Replaces a member's assignments (organization managers only).
    pub async fn replace_assignments(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        user_id: &UserId,
        assignments: &[Assignment],
    ) -> Result<Membership> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can change roles",
            ));
        }
        let assignments = validate::assignments("assignments", assignments)?;
        let pools = self.store.list_pools(org_id).await?;
        super::pools::require_pools_exist(&assignments, &pools)?;
        let before = self
            .store
            .get_membership(org_id, user_id)
            .await?
            .ok_or_else(member_not_found)?;
        if before.direct_assignments() == assignments {
            return Ok(before);
        }
        let after = Membership {
            updated_at: self.clock.now(),
            version: before.version + 1,
            ..before.clone().with_direct_assignments(assignments)
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::MemberRolesChanged,
            Target::new(TargetKind::Member, &before.user_id),
            roles_change(&before, &after),
        )
        .write_membership(&MembershipWrite::Update {
            before,
            after: after.clone(),
        })
        .await?;
        Ok(after)
    }

    /// Removes a member and hands their pools, invite links and pending invitations to the successor:
    /// `successor_id` if given (an active organization manager other than the member), else the
    /// caller, or, when members remove themselves, another organization manager.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        user_id: &UserId,
        successor_id: Option<&UserId>,
    ) -> Result<RemovedMember> {
        let ctx = self.org_context(caller, org_id).await?;
        let removing_self = user_id == &caller.user.id;
        if !removing_self && !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can remove members",
            ));
        }
        let member = if removing_self {
            ctx.me.clone()
        } else {
            self.store
                .get_membership(org_id, user_id)
                .await?
                .ok_or_else(member_not_found)?
        };
        let successor = match successor_id {
            Some(s) => {
                let m = self.store.get_membership(org_id, s).await?;
                match m {
                    Some(m) if &m.user_id != user_id && is_org_manager(&m) => m.user_id,
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Unprocessable,
                            ErrorCode::InvalidSuccessor,
                            "The successor must be another active organization manager",
                        ));
                    }
                }
            }
            None if !removing_self => caller.user.id.clone(),
            None => self
                .other_org_manager(org_id, user_id)
                .await?
                .ok_or_else(Error::last_manager)?,
        };
        self.remove_with_handover(&caller.origin(), &ctx.org, &member, &successor)
            .await
    }

    /// Removes `member` and hands their pools, invite links and pending invitations to
    /// `successor` in one store write (the removal of the API and of SCIM alike). 409
    /// `concurrent_modification` when the member changed meanwhile.
    pub(crate) async fn remove_with_handover(
        &self,
        origin: &Origin,
        org: &Organization,
        member: &Membership,
        successor: &UserId,
    ) -> Result<RemovedMember> {
        // Group entries must not outlive the membership: leave every group first.
        let member = &self.leave_all_groups(origin, org, member).await?;
        let handover = self
            .audited(
                origin,
                org,
                AuditAction::MemberRemoved,
                Target::new(TargetKind::Member, &member.user_id),
                json!({
                    "email": member.email.to_string(),
                    "assignments": member.assignments,
                    "successor_id": successor,
                }),
            )
            .remove_member(member, successor)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Stale) => Error::conflict(
                    ErrorCode::ConcurrentModification,
                    "The member changed while being removed; try again",
                ),
                other => other.into(),
            })?;
        Ok(RemovedMember {
            successor_id: successor.clone(),
            handover,
        })
    }

    /// An active organization manager other than `not`.
    pub(crate) async fn other_org_manager(
        &self,
        org_id: &OrgId,
        not: &UserId,
    ) -> Result<Option<UserId>> {
        let filter = MemberFilter {
            role: Some(Role::OrganizationManager),
            status: Some(MemberStatus::Active),
            ..Default::default()
        };
        let mut page = PageRequest::first(2);
        // A filtered page may come back short; follow the cursor a bounded number of times.
        for _ in 0..SUCCESSOR_PAGES {
            let found = self.store.list_memberships(org_id, &filter, &page).await?;
            // The store's filter is an index read; the rule itself decides.
            if let Some(m) = found
                .items
                .iter()
                .find(|m| &m.user_id != not && is_org_manager(m))
            {
                return Ok(Some(m.user_id.clone()));
            }
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// The details of a change of a member's roles: direct and effective assignments, before and
/// after.
pub(crate) fn roles_change(before: &Membership, after: &Membership) -> serde_json::Value {
    json!({
        "direct": { "before": before.direct_assignments(), "after": after.direct_assignments() },
        "effective": { "before": before.assignments, "after": after.assignments },
    })
}
