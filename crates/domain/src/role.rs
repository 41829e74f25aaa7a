//! Roles and role assignments, and the normal form assignments are kept in.

use crate::ids::PoolId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The four roles of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Org-wide: everything, including inviting, roles, settings, SCIM, deleting members.
    OrganizationManager,
    /// On a pool and its subtree: manage sub-pools; may invite when the org allows it.
    Manager,
    /// On a pool and its subtree: manage owned resources; read-only elsewhere.
    Engineer,
    /// Org-wide, read-only. Every membership implicitly has it.
    Member,
}

impl Role {
    /// The wire name (`organization_manager`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OrganizationManager => "organization_manager",
            Role::Manager => "manager",
            Role::Engineer => "engineer",
            Role::Member => "member",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "organization_manager" => Some(Role::OrganizationManager),
            "manager" => Some(Role::Manager),
            "engineer" => Some(Role::Engineer),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Whether the role is held on a pool (and needs a `pool_id`).
    pub fn is_pool_scoped(self) -> bool {
        matches!(self, Role::Manager | Role::Engineer)
    }

    /// A human label used in emails.
    pub fn label(self) -> &'static str {
        match self {
            Role::OrganizationManager => "Organization manager",
            Role::Manager => "Manager",
            Role::Engineer => "Engineer",
            Role::Member => "Member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role, on a pool for the pool-scoped roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The role.
    pub role: Role,
    /// The pool, for `manager` and `engineer`; absent for the org-wide roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<PoolId>,
}

/// Why a list of assignments is not acceptable as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    /// `manager`/`engineer` without a pool.
    #[error("the role `{0}` needs a pool_id")]
    PoolRequired(Role),
    /// `organization_manager`/`member` with a pool.
    #[error("the role `{0}` is org-wide and takes no pool_id")]
    PoolNotAllowed(Role),
    /// More than [`MAX_ASSIGNMENTS`].
    #[error("at most {MAX_ASSIGNMENTS} assignments are allowed")]
    TooMany,
}

/// Most assignments one membership, invitation or link may carry.
pub const MAX_ASSIGNMENTS: usize = 50;

impl Assignment {
    /// An org-wide assignment.
    pub fn org_wide(role: Role) -> Self {
        Assignment {
            role,
            pool_id: None,
        }
    }

    /// A pool-scoped assignment.
    pub fn on_pool(role: Role, pool_id: PoolId) -> Self {
        Assignment {
            role,
            pool_id: Some(pool_id),
        }
    }

    /// The grant key used by stores to index members by role and pool (`manager#pool_…`, `member`).
    pub fn grant_key(&self) -> String {
        match &self.pool_id {
            Some(p) => format!("{}#{}", self.role, p),
            None => self.role.to_string(),
        }
    }
}

/// Checks the shape of each assignment and returns the normal form: sorted, without duplicates,
/// and without the implicit `member` unless it is the only role.
pub fn normalize_assignments(list: &[Assignment]) -> Result<Vec<Assignment>, AssignmentError> {
    if list.len() > MAX_ASSIGNMENTS {
        return Err(AssignmentError::TooMany);
    }
    for a in list {
        match (a.role.is_pool_scoped(), &a.pool_id) {
            (true, None) => return Err(AssignmentError::PoolRequired(a.role)),
            (false, Some(_)) => return Err(AssignmentError::PoolNotAllowed(a.role)),
            _ => {}
        }
    }
    Ok(normal_form(list.iter().cloned()))
}

/// Sorts, dedupes and drops the implicit `member` unless nothing else remains.
pub fn normal_form(list: impl IntoIterator<Item = Assignment>) -> Vec<Assignment> {
    let mut v: Vec<Assignment> = list
        .into_iter()
        .filter(|a| a.role != Role::Member)
        .collect();
    v.sort();
    v.dedup();
    if v.is_empty() {
        v.push(Assignment::org_wide(Role::Member));
    }
    v
}

/// Merges two lists into the normal form (used when a pending invitation is re-invited).
pub fn merge_assignments(a: &[Assignment], b: &[Assignment]) -> Vec<Assignment> {
    normal_form(a.iter().chain(b.iter()).cloned())
}

/// Whether the list holds `organization_manager`.
pub fn has_org_manager(list: &[Assignment]) -> bool {
    list.iter().any(|a| a.role == Role::OrganizationManager)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn normal_form_drops_implicit_member() {
        let p = PoolId::from_uuid(Uuid::now_v7());
        let got = normalize_assignments(&[
            Assignment::org_wide(Role::Member),
            Assignment::on_pool(Role::Engineer, p.clone()),
            Assignment::on_pool(Role::Engineer, p.clone()),
        ])
        .unwrap();
        assert_eq!(got, vec![Assignment::on_pool(Role::Engineer, p)]);
        assert_eq!(
            normalize_assignments(&[]).unwrap(),
            vec![Assignment::org_wide(Role::Member)]
        );
    }

    #[test]
    fn shape_is_checked() {
        let p = PoolId::from_uuid(Uuid::now_v7());
        assert_eq!(
            normalize_assignments(&[Assignment::org_wide(Role::Manager)]),
            Err(AssignmentError::PoolRequired(Role::Manager))
        );
        assert_eq!(
            normalize_assignments(&[Assignment::on_pool(Role::OrganizationManager, p)]),
            Err(AssignmentError::PoolNotAllowed(Role::OrganizationManager))
        );
    }
}
