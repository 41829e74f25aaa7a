//! Permission rules of spec §1, in one place. Every route asks these functions.

use crate::ids::PoolId;
use crate::model::{Invitation, MemberStatus, Membership, Pool, Settings};
use crate::role::{Assignment, Role};
use std::collections::HashMap;

/// Whether the member holds `organization_manager`.
pub fn is_org_manager(member: &Membership) -> bool {
    member.status == MemberStatus::Active && crate::role::has_org_manager(&member.assignments)
}

/// Whether the member holds `role` on `pool` or on one of its ancestors (pool roles inherit).
fn holds_on(member: &Membership, role: Role, pool: &Pool) -> bool {
    member
        .assignments
        .iter()
        .any(|a| a.role == role && a.pool_id.as_ref().is_some_and(|p| pool.is_within(p)))
}

/// Whether the member manages `pool`: organization manager, or manager on it or an ancestor.
pub fn manages_pool(member: &Membership, pool: &Pool) -> bool {
    is_org_manager(member)
        || (member.status == MemberStatus::Active && holds_on(member, Role::Manager, pool))
}

/// Whether the member may create a sub-pool under `parent`.
pub fn can_create_pool_under(member: &Membership, parent: &Pool) -> bool {
    manages_pool(member, parent)
}

/// Whether the member may rename, re-own or delete `pool`, whose parent is `parent` (`None` for
/// the root): organization managers anywhere; managers only strictly inside a subtree they manage.
pub fn can_change_pool(member: &Membership, pool: &Pool, parent: Option<&Pool>) -> bool {
    if is_org_manager(member) {
        return true;
    }
    match parent {
        Some(parent) => pool.parent_id.as_ref() == Some(&parent.id) && manages_pool(member, parent),
        None => false,
    }
}

/// Whether the member may invite at all (org managers; managers when the org allows it).
pub fn can_invite(member: &Membership, settings: &Settings) -> bool {
    is_org_manager(member)
        || (settings.managers_can_invite
            && member.status == MemberStatus::Active
            && member.assignments.iter().any(|a| a.role == Role::Manager))
}

/// Why an assignment cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// The pool does not exist in this organization.
    PoolNotFound(PoolId),
    /// The granter could not exercise the role there.
    Forbidden,
}

/// Whether `granter` may grant every assignment of `list` by invitation. `pools` is the
/// organization's pool tree by id. Organization managers grant anything; managers allowed to
/// invite grant only `manager`/`engineer` on pools they manage. Nobody grants what they could not
/// exercise themselves.
pub fn check_grants(
    granter: &Membership,
    settings: &Settings,
    list: &[Assignment],
    pools: &HashMap<PoolId, Pool>,
) -> Result<(), GrantError> {
    for a in list {
        if let Some(pid) = &a.pool_id
            && !pools.contains_key(pid)
        {
            return Err(GrantError::PoolNotFound(pid.clone()));
        }
    }
    if is_org_manager(granter) {
        return Ok(());
    }
    if !can_invite(granter, settings) {
        return Err(GrantError::Forbidden);
    }
    for a in list {
        let allowed = a.role.is_pool_scoped()
            && a.pool_id
                .as_ref()
                .and_then(|p| pools.get(p))
                .is_some_and(|pool| manages_pool(granter, pool));
        if !allowed {
            return Err(GrantError::Forbidden);
        }
    }
    Ok(())
}

/// Whether the member may see and act on an invitation (list, resend, revoke): organization
/// managers; managers who may invite, when every pool role it offers lies in their subtree.
pub fn can_manage_invitation(
    member: &Membership,
    settings: &Settings,
    invitation: &Invitation,
    pools: &HashMap<PoolId, Pool>,
) -> bool {
    if is_org_manager(member) {
        return true;
    }
    can_invite(member, settings)
        && invitation.assignments.iter().all(|a| {
            a.role.is_pool_scoped()
                && a.pool_id
                    .as_ref()
                    .and_then(|p| pools.get(p))
                    .is_some_and(|pool| manages_pool(member, pool))
        })
}

/// Roles an invite link may carry.
pub fn link_role_allowed(a: &Assignment) -> bool {
    matches!(a.role, Role::Engineer | Role::Member)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Email;
    use crate::ids::{OrgId, UserId};
    use crate::model::MemberSource;
    use uuid::Uuid;

    fn pool(id: &PoolId, ancestors: Vec<PoolId>, org: &OrgId, owner: &UserId) -> Pool {
        Pool {
            id: id.clone(),
            org_id: org.clone(),
            name: "p".into(),
            parent_id: ancestors.last().cloned(),
            ancestors,
            owner_id: owner.clone(),
            created_at: chrono::Utc::now(),
        }
    }

    fn member(assignments: Vec<Assignment>) -> Membership {
        Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: OrgId::from_uuid(Uuid::now_v7()),
            user_id: UserId::from_uuid(Uuid::now_v7()),
            email: Email::parse("a@b.co").unwrap(),
            name: None,
            phone: None,
            status: MemberStatus::Active,
            source: MemberSource::Invitation,
            external_id: None,
            assignments,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
        }
    }

    #[test]
    fn manager_role_is_inherited_and_bounded() {
        let org = OrgId::from_uuid(Uuid::now_v7());
        let u = UserId::from_uuid(Uuid::now_v7());
        let (root, a, b, a1) = (
            PoolId::from_uuid(Uuid::now_v7()),
            PoolId::from_uuid(Uuid::now_v7()),
            PoolId::from_uuid(Uuid::now_v7()),
            PoolId::from_uuid(Uuid::now_v7()),
        );
        let root_p = pool(&root, vec![], &org, &u);
        let a_p = pool(&a, vec![root.clone()], &org, &u);
        let b_p = pool(&b, vec![root.clone()], &org, &u);
        let a1_p = pool(&a1, vec![root.clone(), a.clone()], &org, &u);
        let m = member(vec![Assignment::on_pool(Role::Manager, a.clone())]);
        assert!(manages_pool(&m, &a_p) && manages_pool(&m, &a1_p));
        assert!(!manages_pool(&m, &b_p) && !manages_pool(&m, &root_p));
        assert!(can_change_pool(&m, &a1_p, Some(&a_p)));
        assert!(
            !can_change_pool(&m, &a_p, Some(&root_p)),
            "a manager cannot change the pool they were given"
        );

        let pools: HashMap<_, _> = [root_p, a_p, b_p, a1_p]
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut settings = Settings::default();
        let grant = [Assignment::on_pool(Role::Engineer, a1.clone())];
        assert_eq!(
            check_grants(&m, &settings, &grant, &pools),
            Err(GrantError::Forbidden)
        );
        settings.managers_can_invite = true;
        assert_eq!(check_grants(&m, &settings, &grant, &pools), Ok(()));
        assert_eq!(
            check_grants(
                &m,
                &settings,
                &[Assignment::on_pool(Role::Engineer, b.clone())],
                &pools
            ),
            Err(GrantError::Forbidden)
        );
        assert_eq!(
            check_grants(
                &m,
                &settings,
                &[Assignment::org_wide(Role::OrganizationManager)],
                &pools
            ),
            Err(GrantError::Forbidden),
            "no escalation"
        );
    }
}
