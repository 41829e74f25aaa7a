//! Organizations, their settings, and the caller's own profile.

use super::validate::{self, MAX_NAME_LEN};
use super::{Caller, Service};
use crate::audit::{self, AuditAction, Target, TargetKind};
use crate::error::{Error, Result};
use crate::ids::{OrgId, PoolId};
use crate::model::{MemberSource, MemberStatus, Membership, Organization, Pool, Settings, User};
use crate::page::{Page, PageRequest};
use crate::permissions::is_org_manager;
use crate::role::{Assignment, Role};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// An organization as one caller sees it: settings only for organization managers.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgView {
    /// The organization.
    pub org: Organization,
    /// Whether the caller may see its settings.
    pub show_settings: bool,
    /// The caller's assignments in it.
    pub my_assignments: Vec<Assignment>,
}

/// Partial settings update; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// 1..=30.
    pub invitation_expiry_days: Option<u32>,
    /// Whether managers may invite.
    pub managers_can_invite: Option<bool>,
    /// 1..=10000.
    pub max_pending_invitations: Option<u32>,
    /// 1..=10000.
    pub invitations_per_hour: Option<u32>,
    /// 1..=100.
    pub emails_per_recipient_per_day: Option<u32>,
    /// Assignments for SCIM-provisioned members.
    pub scim_default_assignments: Option<Vec<Assignment>>,
    /// Allowed invitee domains; empty for any.
    pub allowed_email_domains: Option<Vec<String>>,
    /// Days audit entries are kept (30..=2555); entries already written keep theirs.
    pub audit_retention_days: Option<u32>,
}

/// `PATCH /orgs/{org}` body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    /// New name.
    pub name: Option<String>,
    /// Settings to change.
    pub settings: Option<SettingsPatch>,
}

/// One of the caller's memberships with its organization.
#[derive(Debug, Clone, PartialEq)]
pub struct MyMembership {
    /// The organization.
    pub org: Organization,
    /// The membership.
    pub membership: Membership,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq)]
pub struct MeView {
    /// The user.
    pub user: User,
    /// Whether the email claim is verified.
    pub email_verified: bool,
    /// Memberships (first page).
    pub memberships: Page<MyMembership>,
}

impl Service {
    /// Creates an organization with its root pool; the caller becomes its organization manager.
    pub async fn create_org(&self, caller: &Caller, name: &str) -> Result<Organization> {
        let name = validate::display_name("name", name, MAX_NAME_LEN)?;
        let now = self.clock.now();
        let org = Organization {
            id: OrgId::from_uuid(Uuid::now_v7()),
            name: name.clone(),
            root_pool_id: PoolId::from_uuid(Uuid::now_v7()),
            settings: Settings::default(),
            created_at: now,
        };
        let root = Pool {
            id: org.root_pool_id.clone(),
            org_id: org.id.clone(),
            name,
            parent_id: None,
            ancestors: Vec::new(),
            owner_id: caller.user.id.clone(),
            created_at: now,
        };
        let owner = Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: org.id.clone(),
            user_id: caller.user.id.clone(),
            email: caller.user.email.clone(),
            name: caller.user.name.clone(),
            phone: None,
            status: MemberStatus::Active,
            source: MemberSource::Owner,
            external_id: None,
            assignments: vec![Assignment::org_wide(Role::OrganizationManager)],
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.audited(
            &caller.origin(),
            &org,
            AuditAction::OrganizationCreated,
            Target::new(TargetKind::Organization, &org.id),
            json!({ "name": org.name, "root_pool_id": org.root_pool_id }),
        )
        .create_org(&org, &root, &owner)
        .await?;
        Ok(org)
    }

    /// The caller's organizations, a page at a time.
    pub async fn list_my_orgs(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<MyMembership>> {
        let memberships = self
            .store
            .list_user_memberships(&caller.user.id, page)
            .await?;
        let ids: Vec<OrgId> = memberships.items.iter().map(|m| m.org_id.clone()).collect();
        let orgs = self.store.get_orgs(&ids).await?;
        let items = memberships
            .items
            .into_iter()
            .filter_map(|m| {
                orgs.iter()
                    .find(|o| o.id == m.org_id)
                    .map(|o| MyMembership {
                        org: o.clone(),
                        membership: m,
                    })
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: memberships.next_cursor,
        })
    }

    /// One organization the caller belongs to.
    pub async fn get_org(&self, caller: &Caller, org_id: &OrgId) -> Result<OrgView> {
        let ctx = self.org_context(caller, org_id).await?;
        Ok(OrgView {
            show_settings: is_org_manager(&ctx.me),
            my_assignments: ctx.me.assignments,
            org: ctx.org,
        })
    }

    /// Renames and/or changes settings (organization managers only).
    pub async fn update_org(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        req: &UpdateOrgRequest,
    ) -> Result<OrgView> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can change the organization",
            ));
        }
        let before = ctx.org;
        let mut org = before.clone();
        if let Some(name) = &req.name {
            org.name = validate::display_name("name", name, MAX_NAME_LEN)?;
        }
        if let Some(patch) = &req.settings {
            org.settings =
                apply_settings(&org.settings, patch, &self.store.list_pools(org_id).await?)?;
        }
        // The entry keeps the retention in force when the change was made.
        self.audited(
            &caller.origin(),
            &before,
            AuditAction::OrganizationUpdated,
            Target::new(TargetKind::Organization, &org.id),
            audit::changes(&before, &org, &[]),
        )
        .update_org(&org)
        .await?;
        Ok(OrgView {
            show_settings: true,
            my_assignments: ctx.me.assignments,
            org,
        })
    }

    /// The caller's profile and first page of memberships.
    pub async fn me(&self, caller: &Caller, page: &PageRequest) -> Result<MeView> {
        Ok(MeView {
            user: caller.user.clone(),
            email_verified: caller.email_verified,
            memberships: self.list_my_orgs(caller, page).await?,
        })
    }
}

/// Applies a settings patch, validating every field.
fn apply_settings(current: &Settings, patch: &SettingsPatch, pools: &[Pool]) -> Result<Settings> {
    let mut s = current.clone();
    if let Some(v) = patch.invitation_expiry_days {
        s.invitation_expiry_days = validate::in_range("settings.invitation_expiry_days", v, 1, 30)?;
    }
    if let Some(v) = patch.managers_can_invite {
        s.managers_can_invite = v;
    }
    if let Some(v) = patch.max_pending_invitations {
        s.max_pending_invitations =
            validate::in_range("settings.max_pending_invitations", v, 1, 10_000)?;
    }
    if let Some(v) = patch.invitations_per_hour {
        s.invitations_per_hour = validate::in_range("settings.invitations_per_hour", v, 1, 10_000)?;
    }
    if let Some(v) = patch.emails_per_recipient_per_day {
        s.emails_per_recipient_per_day =
            validate::in_range("settings.emails_per_recipient_per_day", v, 1, 100)?;
    }
    if let Some(list) = &patch.scim_default_assignments {
        let list = validate::assignments("settings.scim_default_assignments", list)?;
        super::pools::require_pools_exist(&list, pools)?;
        s.scim_default_assignments = list;
    }
    if let Some(list) = &patch.allowed_email_domains {
        s.allowed_email_domains = validate::domains("settings.allowed_email_domains", list)?;
    }
    if let Some(v) = patch.audit_retention_days {
        s.audit_retention_days = validate::in_range(
            "settings.audit_retention_days",
            v,
            audit::MIN_RETENTION_DAYS,
            audit::MAX_RETENTION_DAYS,
        )?;
    }
    Ok(s)
}
