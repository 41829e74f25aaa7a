//! The pool tree: create, rename, change owner, delete a leaf, list.

use super::validate::{self, MAX_NAME_LEN};
use super::{Caller, Service};
use crate::audit::{self, AuditAction, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{OrgId, PoolId, UserId};
use crate::model::{MemberStatus, Pool};
use crate::permissions::{can_change_pool, can_create_pool_under};
use crate::ports::{Conflict, StoreError};
use crate::role::{Assignment, normal_form};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// Deepest a pool may be (the root is depth 0).
pub const MAX_POOL_DEPTH: usize = 8;
/// Most pools an organization may have.
pub const MAX_POOLS_PER_ORG: u32 = 1000;

/// `POST /orgs/{org}/pools` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePoolRequest {
    /// Name, unique among siblings.
    pub name: String,
    /// Parent; the root pool when absent.
    pub parent_id: Option<PoolId>,
    /// Owner; the caller when absent.
    pub owner_id: Option<UserId>,
}

/// `PATCH /orgs/{org}/pools/{pool}` body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePoolRequest {
    /// New name.
    pub name: Option<String>,
    /// New owner.
    pub owner_id: Option<UserId>,
}

/// The 404 for an assignment on a pool that is not in the organization.
pub(crate) fn require_pools_exist(assignments: &[Assignment], pools: &[Pool]) -> Result<()> {
    match assignments
        .iter()
        .filter_map(|a| a.pool_id.as_ref())
        .find(|p| !pools.iter().any(|q| &q.id == *p))
    {
        Some(p) => Err(Error::not_found(
            ErrorCode::PoolNotFound,
            format!("Pool {p} does not exist in this organization"),
        )),
        None => Ok(()),
    }
}

/// The assignments whose pool still exists (in normal form) and the pools they need, for
/// granting stored assignments (invitations, links) after pools may have been deleted.
pub(crate) fn on_existing_pools(
    assignments: &[Assignment],
    pools: &[Pool],
) -> (Vec<Assignment>, Vec<PoolId>) {
    let kept = normal_form(
        assignments
            .iter()
            .filter(|a| {
                a.pool_id
                    .as_ref()
                    .is_none_or(|p| pools.iter().any(|q| &q.id == p))
            })
            .cloned(),
    );
    let required = kept.iter().filter_map(|a| a.pool_id.clone()).collect();
    (kept, required)
}

fn pool_not_found() -> Error {
    Error::not_found(ErrorCode::PoolNotFound, "No such pool in this organization")
}

impl Service {
    /// Every pool of the organization, parents before children.
    pub async fn list_pools(&self, caller: &Caller, org_id: &OrgId) -> Result<Vec<Pool>> {
        self.org_context(caller, org_id).await?;
        Ok(self.store.list_pools(org_id).await?)
    }

    /// Creates a sub-pool (under the root when no parent is given).
    pub async fn create_pool(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &CreatePoolRequest,
    ) -> Result<Pool> {
        let ctx = self.org_context(caller, org_id).await?;
        let name = validate::display_name("name", &req.name, MAX_NAME_LEN)?;
        let parent_id = req
            .parent_id
            .clone()
            .unwrap_or_else(|| ctx.org.root_pool_id.clone());
        let parent = self
            .store
            .get_pool(org_id, &parent_id)
            .await?
            .ok_or_else(pool_not_found)?;
        if !can_create_pool_under(&ctx.me, &parent) {
            return Err(Error::forbidden(
                "You can create pools only under pools you manage",
            ));
        }
        if parent.depth() + 1 > MAX_POOL_DEPTH {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::PoolTooDeep,
                format!("Pools can be nested at most {MAX_POOL_DEPTH} levels below the root"),
            ));
        }
        let owner_id = match &req.owner_id {
            Some(owner) => self.active_member_id(org_id, owner).await?,
            None => caller.user.id.clone(),
        };
        let mut ancestors = parent.ancestors.clone();
        ancestors.push(parent.id.clone());
        let pool = Pool {
            id: PoolId::from_uuid(Uuid::now_v7()),
            org_id: org_id.clone(),
            name,
            parent_id: Some(parent.id),
            ancestors,
            owner_id,
            created_at: self.clock.now(),
        };
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::PoolCreated,
            Target::new(TargetKind::Pool, &pool.id),
            json!({ "name": pool.name, "parent_id": pool.parent_id, "owner_id": pool.owner_id }),
        )
        .create_pool(&pool, MAX_POOLS_PER_ORG)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::PoolMissing(_)) => pool_not_found(),
            other => other.into(),
        })?;
        Ok(pool)
    }

    /// Renames a pool and/or changes its owner.
    pub async fn update_pool(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        pool_id: &PoolId,
        req: &UpdatePoolRequest,
    ) -> Result<Pool> {
        let ctx = self.org_context(caller, org_id).await?;
        let (before, parent) = self.pool_with_parent(org_id, pool_id).await?;
        if !can_change_pool(&ctx.me, &before, parent.as_ref()) {
            return Err(Error::forbidden(
                "You can change only pools inside a pool you manage",
            ));
        }
        let mut after = before.clone();
        if let Some(name) = &req.name {
            after.name = validate::display_name("name", name, MAX_NAME_LEN)?;
        }
        if let Some(owner) = &req.owner_id {
            after.owner_id = self.active_member_id(org_id, owner).await?;
        }
        if after != before {
            self.audited(
                &caller.origin(),
                &ctx.org,
                AuditAction::PoolUpdated,
                Target::new(TargetKind::Pool, &before.id),
                audit::changes(&before, &after, &[]),
            )
            .update_pool(&before, &after)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Stale) => pool_not_found(),
                other => other.into(),
            })?;
        }
        Ok(after)
    }

    /// Deletes a leaf pool (never the root); assignments on it are dropped.
    pub async fn delete_pool(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        pool_id: &PoolId,
    ) -> Result<()> {
        let ctx = self.org_context(caller, org_id).await?;
        let (pool, parent) = self.pool_with_parent(org_id, pool_id).await?;
        if !can_change_pool(&ctx.me, &pool, parent.as_ref()) {
            return Err(Error::forbidden(
                "You can delete only pools inside a pool you manage",
            ));
        }
        if pool.parent_id.is_none() {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::RootPool,
                "The root pool cannot be deleted",
            ));
        }
        self.audited(
            &caller.origin(),
            &ctx.org,
            AuditAction::PoolDeleted,
            Target::new(TargetKind::Pool, &pool.id),
            json!({ "name": pool.name, "parent_id": pool.parent_id }),
        )
        .delete_pool(&pool)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::Stale) => pool_not_found(),
            other => other.into(),
        })
    }

    /// The organization's pools by id.
    pub(crate) async fn pool_map(&self, org_id: &OrgId) -> Result<HashMap<PoolId, Pool>> {
        Ok(self
            .store
            .list_pools(org_id)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect())
    }

    async fn pool_with_parent(
        &self,
        org_id: &OrgId,
        pool_id: &PoolId,
    ) -> Result<(Pool, Option<Pool>)> {
        let pool = self
            .store
            .get_pool(org_id, pool_id)
            .await?
            .ok_or_else(pool_not_found)?;
        let parent = match &pool.parent_id {
            Some(p) => self.store.get_pool(org_id, p).await?,
            None => None,
        };
        Ok((pool, parent))
    }

    /// `user` if it is an active member of the org, else 422 `invalid_owner`/`invalid_successor`.
    async fn active_member_id(&self, org_id: &OrgId, user: &UserId) -> Result<UserId> {
        match self.store.get_membership(org_id, user).await? {
            Some(m) if m.status == MemberStatus::Active => Ok(m.user_id),
            _ => Err(Error::new(
                ErrorKind::Unprocessable,
                ErrorCode::InvalidOwner,
                "The owner must be an active member of the organization",
            )),
        }
    }
}

impl Service {
    /// The id and name of each pool `assignments` name (once each, in assignment order), for the
    /// public previews that show roles by pool name; a pool deleted since is left out. One key
    /// lookup per named pool, in parallel (at most one per assignment).
    pub(crate) async fn named_pools(
        &self,
        org: &OrgId,
        assignments: &[Assignment],
    ) -> Result<Vec<(PoolId, String)>> {
        let mut ids: Vec<&PoolId> = Vec::new();
        for id in assignments.iter().filter_map(|a| a.pool_id.as_ref()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let found =
            futures_util::future::join_all(ids.iter().map(|id| self.store.get_pool(org, id))).await;
        let mut named = Vec::with_capacity(found.len());
        for pool in found {
            if let Some(p) = pool? {
                named.push((p.id, p.name));
            }
        }
        Ok(named)
    }
}
