//! The stored entities: users, organizations, pools, memberships, invitations, invite links.

use crate::email::Email;
use crate::ids::{GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use crate::role::{Assignment, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Timestamps everywhere are UTC.
pub type Timestamp = DateTime<Utc>;

/// A person, global across organizations, known by the identity provider's subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Rollcall's id.
    pub id: UserId,
    /// The identity provider's subject (`sub` claim).
    pub sub: String,
    /// The email last seen for this subject.
    pub email: Email,
    /// Whether the identity provider said it verified `email` (the `email_verified` claim last
    /// seen). Only a verified address, or a placeholder's, makes the user findable by email.
    #[serde(default)]
    pub email_verified: bool,
    /// The display name last seen.
    pub name: Option<String>,
    /// First sight.
    pub created_at: Timestamp,
    /// For a placeholder: the one organization whose SCIM provisioning made it. A placeholder
    /// belongs to that organization alone (no other organization's write reaches it) until the
    /// person signs in. `None` for a person's account, and for placeholders stored before
    /// placeholders were scoped to an organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_by: Option<OrgId>,
    /// For a placeholder: when the owner of its address (an account that already existed)
    /// declined to take its membership; it is then not linked at a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_declined_at: Option<Timestamp>,
}

/// Organization settings (spec §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Days an invitation stays valid, 1..=30.
    pub invitation_expiry_days: u32,
    /// Whether pool managers may invite into their subtree.
    pub managers_can_invite: bool,
    /// Most invitations pending at once.
    pub max_pending_invitations: u32,
    /// Most invitations created per hour.
    pub invitations_per_hour: u32,
    /// Most invitation emails to one recipient per day.
    pub emails_per_recipient_per_day: u32,
    /// Assignments given to members provisioned over SCIM.
    pub scim_default_assignments: Vec<Assignment>,
    /// Email domains invitations and links are limited to; empty means any.
    pub allowed_email_domains: Vec<String>,
    /// Days the audit log keeps an entry, [`crate::audit::MIN_RETENTION_DAYS`]..=
    /// [`crate::audit::MAX_RETENTION_DAYS`] (an entry keeps the retention it was written with).
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
}

fn default_audit_retention_days() -> u32 {
    crate::audit::DEFAULT_RETENTION_DAYS
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            invitation_expiry_days: 7,
            managers_can_invite: false,
            max_pending_invitations: 1000,
            invitations_per_hour: 500,
            emails_per_recipient_per_day: 5,
            scim_default_assignments: vec![Assignment::org_wide(Role::Member)],
            allowed_email_domains: Vec::new(),
            audit_retention_days: crate::audit::DEFAULT_RETENTION_DAYS,
        }
    }
}

impl Settings {
    /// Whether an address's domain is allowed by `allowed_email_domains` (compared by the email
    /// rule: [`Email::domain_in`]).
    pub fn allows_domain(&self, email: &Email) -> bool {
        domain_allowed(&self.allowed_email_domains, email)
    }
}

/// Whether `email`'s domain is in a list of allowed domains; an empty list allows any. The one
/// domain rule of the organization's `allowed_email_domains` and a link's `allowed_domains`.
pub fn domain_allowed(allowed: &[String], email: &Email) -> bool {
    allowed.is_empty() || email.domain_in(allowed)
}

/// An organization (tenant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// The pool created with the organization.
    pub root_pool_id: PoolId,
    /// Settings.
    pub settings: Settings,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A pool of the organization's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// Id.
    pub id: PoolId,
    /// Owning organization.
    pub org_id: OrgId,
    /// Name, unique among siblings case-insensitively.
    pub name: String,
    /// Parent; `None` for the root pool.
    pub parent_id: Option<PoolId>,
    /// Ancestors from the root down to the parent (empty for the root).
    pub ancestors: Vec<PoolId>,
    /// The member who owns the pool.
    pub owner_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
}

impl Pool {
    /// Depth in the tree: 0 for the root.
    pub fn depth(&self) -> usize {
        self.ancestors.len()
    }

    /// Whether `other` is this pool or one of its ancestors.
    pub fn is_within(&self, other: &PoolId) -> bool {
        &self.id == other || self.ancestors.contains(other)
    }

    /// The case-insensitive key sibling names are unique on.
    pub fn name_key(&self) -> String {
        pool_name_key(&self.name)
    }
}

/// The case-insensitive form pool names are compared in.
pub fn pool_name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A membership's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Can use the API.
    Active,
    /// Deactivated (e.g. by the identity provider); cannot use the API.
    Suspended,
}

/// How a membership came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberSource {
    /// Created the organization.
    Owner,
    /// Accepted an email invitation.
    Invitation,
    /// Joined through an invite link.
    InviteLink,
    /// Provisioned by the identity provider.
    Scim,
}

/// A user in an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// Organization.
    pub org_id: OrgId,
    /// User.
    pub user_id: UserId,
    /// The member's email.
    pub email: Email,
    /// Display name.
    pub name: Option<String>,
    /// Phone number, as given.
    pub phone: Option<String>,
    /// Status.
    pub status: MemberStatus,
    /// Origin.
    pub source: MemberSource,
    /// The identity provider's id for SCIM members.
    pub external_id: Option<String>,
    /// Effective role assignments, in normal form: the direct ones and those of the member's
    /// groups together. Permissions, counters and the stores' role indexes read this list; change
    /// it only through [`Membership::with_direct_assignments`] and the group methods, which keep
    /// it equal to [`Membership::effective_of`] the parts.
    pub assignments: Vec<Assignment>,
    /// The assignments given to the member directly (API, invitation, link, SCIM defaults), in
    /// normal form, when they differ from `assignments` (the member has groups); `None` means
    /// the same as `assignments`. Read it with [`Membership::direct_assignments`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_assignments: Option<Vec<Assignment>>,
    /// The SCIM groups the member belongs to, each with the assignments its mapping gave when it
    /// last reached this member, ordered by group id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupGrant>,
    /// Joined.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter, bumped by every write.
    pub version: u64,
}

/// A member's place in one group and what the group's mapping gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupGrant {
    /// The group.
    pub group_id: GroupId,
    /// The group's mapped assignments (normal form; empty when the group gives no role).
    #[serde(default)]
    pub assignments: Vec<Assignment>,
}

impl Membership {
    /// Whether the member is an active organization manager.
    pub fn is_active_org_manager(&self) -> bool {
        self.status == MemberStatus::Active && crate::role::has_org_manager(&self.assignments)
    }

    /// The assignments given directly, in normal form.
    pub fn direct_assignments(&self) -> &[Assignment] {
        self.direct_assignments
            .as_deref()
            .unwrap_or(&self.assignments)
    }

    /// Whether the member belongs to `group`.
    pub fn in_group(&self, group: &GroupId) -> bool {
        self.group_grant(group).is_some()
    }

    /// The member's grant from `group`, if they belong to it.
    pub fn group_grant(&self, group: &GroupId) -> Option<&GroupGrant> {
        self.groups.iter().find(|g| &g.group_id == group)
    }

    /// The effective assignments of direct assignments and group grants: their union in normal form.
    pub fn effective_of(direct: &[Assignment], groups: &[GroupGrant]) -> Vec<Assignment> {
        crate::role::normal_form(
            direct
                .iter()
                .chain(groups.iter().flat_map(|g| g.assignments.iter()))
                .cloned(),
        )
    }

    /// The same membership with `direct` (normal form) as its direct assignments; effective
    /// assignments follow. The version is not changed.
    pub fn with_direct_assignments(self, direct: Vec<Assignment>) -> Membership {
        let groups = self.groups.clone();
        self.rebuilt(direct, groups)
    }

    /// The same membership in `group` with `assignments` from it (joining, or a new mapping);
    /// effective assignments follow. The version is not changed.
    pub fn with_group(self, group: &GroupId, assignments: &[Assignment]) -> Membership {
        let direct = self.direct_assignments().to_vec();
        let mut groups: Vec<GroupGrant> = self
            .groups
            .iter()
            .filter(|g| &g.group_id != group)
            .cloned()
            .collect();
        groups.push(GroupGrant {
            group_id: group.clone(),
            assignments: assignments.to_vec(),
        });
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        self.rebuilt(direct, groups)
    }

    /// The same membership out of `group`; effective assignments follow. The version is not changed.
    pub fn without_group(self, group: &GroupId) -> Membership {
        let direct = self.direct_assignments().to_vec();
        let groups = self
            .groups
            .iter()
            .filter(|g| &g.group_id != group)
            .cloned()
            .collect();
        self.rebuilt(direct, groups)
    }

    /// The membership without any assignment on `pool` (direct or from a group), or `None` when it
    /// has none there. The version is not changed.
    pub fn without_pool(&self, pool: &PoolId) -> Option<Membership> {
        if !self
            .assignments
            .iter()
            .any(|a| a.pool_id.as_ref() == Some(pool))
        {
            return None;
        }
        let off_pool = |list: &[Assignment]| -> Vec<Assignment> {
            list.iter()
                .filter(|a| a.pool_id.as_ref() != Some(pool))
                .cloned()
                .collect()
        };
        let direct = crate::role::normal_form(off_pool(self.direct_assignments()));
        let groups = self
            .groups
            .iter()
            .map(|g| GroupGrant {
                group_id: g.group_id.clone(),
                assignments: off_pool(&g.assignments),
            })
            .collect();
        Some(self.clone().rebuilt(direct, groups))
    }

    /// `self` with these parts and the effective assignments they make.
    fn rebuilt(self, direct: Vec<Assignment>, groups: Vec<GroupGrant>) -> Membership {
        let assignments = Membership::effective_of(&direct, &groups);
        let direct_assignments = (assignments != direct).then_some(direct);
        Membership {
            assignments,
            direct_assignments,
            groups,
            ..self
        }
    }
}

/// Most groups one member may belong to.
pub const MAX_GROUPS_PER_MEMBER: usize = 100;
/// Most members one group may have.
pub const MAX_GROUP_MEMBERS: u64 = 20_000;
/// Most groups one organization may have.
pub const MAX_GROUPS_PER_ORG: u32 = 1_000;
/// Most members changed in one transaction of [`crate::ports::Store::update_group`].
pub const GROUP_MEMBER_BATCH: usize = 40;
/// Largest page of [`crate::ports::Store::list_group_members`]: member refs are small, so this
/// list allows pages far above [`crate::page::MAX_LIMIT`] (a store may return fewer, with a
/// cursor); a group of [`MAX_GROUP_MEMBERS`] lists in a handful of reads.
pub const GROUP_MEMBER_PAGE: usize = 5_000;
/// Most recent last-manager conflicts a group keeps.
pub const MAX_GROUP_CONFLICTS: usize = 20;

/// A group the identity provider pushes over SCIM (`/scim/v2/Groups`), and the assignments it
/// gives its members in this organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Organization.
    pub org_id: OrgId,
    /// Id (the SCIM `id`).
    pub id: GroupId,
    /// `displayName` as sent; unique per org case-insensitively ([`Group::name_key`]).
    pub display_name: String,
    /// The identity provider's id for the group.
    pub external_id: Option<String>,
    /// What membership gives (normal form; empty: no role beyond `member`). Set by organization
    /// managers, never by the identity provider.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// How many members it has (kept by the stores with every member change).
    pub member_count: u64,
    /// Times a group change would have left the organization without an active organization
    /// manager, most recent last (at most [`MAX_GROUP_CONFLICTS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<GroupConflict>,
    /// Creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter, bumped by every write.
    pub version: u64,
}

impl Group {
    /// The case-insensitive key `displayName` uniqueness and lookups use.
    pub fn name_key(&self) -> String {
        group_name_key(&self.display_name)
    }
}

/// Lowercased, trimmed displayName.
pub fn group_name_key(display_name: &str) -> String {
    display_name.trim().to_lowercase()
}

/// A group change that was not applied in full because it would have left the organization
/// without an active organization manager: the member kept the named assignments as direct ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupConflict {
    /// When.
    pub at: Timestamp,
    /// The member who kept the role.
    pub user_id: UserId,
    /// The assignments kept as direct assignments.
    pub kept: Vec<Assignment>,
}

/// An invitation's stored status (`expired` is derived at read time from `expires_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Waiting for the invitee.
    Pending,
    /// Accepted.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Revoked by the organization.
    Revoked,
    /// Past its expiry (derived, or recorded when the invitation is replaced).
    Expired,
}

impl InvitationStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Expired => "expired",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "declined" => Some(Self::Declined),
            "revoked" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// Whether the invitation email went out, and what the mail provider reported about it since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Handed to the mailer.
    Sent,
    /// The mailer failed; resend later.
    Failed,
    /// `send_email: false`.
    NotSent,
    /// The recipient's mail server accepted it (SES `Delivery`).
    Delivered,
    /// The address does not exist or refuses mail for good (SES `Bounce` of type `Permanent`;
    /// transient bounces leave the status as it was).
    Bounced,
    /// The recipient marked it as spam (SES `Complaint`).
    Complained,
}

impl EmailStatus {
    /// Every status.
    pub const ALL: [EmailStatus; 6] = [
        Self::Sent,
        Self::Failed,
        Self::NotSent,
        Self::Delivered,
        Self::Bounced,
        Self::Complained,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::NotSent => "not_sent",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether mail to this address should not be sent again without an organization manager's
    /// explicit override: it bounced for good or the recipient complained.
    pub fn is_undeliverable(self) -> bool {
        matches!(self, Self::Bounced | Self::Complained)
    }
}

/// An email invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// Id.
    pub id: InvitationId,
    /// Organization.
    pub org_id: OrgId,
    /// Invitee's address.
    pub email: Email,
    /// Invitee's name, if given.
    pub name: Option<String>,
    /// Invitee's phone, if given.
    pub phone: Option<String>,
    /// Roles offered, in normal form.
    pub assignments: Vec<Assignment>,
    /// Who sent it (or inherited it on a hand-over).
    pub inviter_id: UserId,
    /// Stored status; use [`Invitation::effective_status`] for what to show.
    pub status: InvitationStatus,
    /// Mail delivery state.
    pub email_status: EmailStatus,
    /// The mail provider's id of the latest invitation email (SES `MessageId`); delivery events
    /// of older emails (sent before a resend) carry another id and are ignored. None until sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_message_id: Option<String>,
    /// SHA-256 of the current token (hex). Never shown.
    pub token_hash: String,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it was accepted.
    pub accepted_at: Option<Timestamp>,
    /// Who accepted it.
    pub accepted_by: Option<UserId>,
    /// Optimistic-concurrency counter.
    pub version: u64,
}

impl Invitation {
    /// The status to show: `expired` for a pending invitation past its expiry.
    pub fn effective_status(&self, now: Timestamp) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }

    /// Whether it can still be accepted, declined, resent or revoked.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.effective_status(now) == InvitationStatus::Pending
    }

    /// The invitation closed as `status` (declined, revoked, expired) at `now` (the next version).
    pub fn closed(&self, status: InvitationStatus, now: Timestamp) -> Invitation {
        Invitation {
            status,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The invitation as accepted by `user` at `now` (the next version).
    pub fn accepted(&self, user: &UserId, now: Timestamp) -> Invitation {
        Invitation {
            status: InvitationStatus::Accepted,
            accepted_at: Some(now),
            accepted_by: Some(user.clone()),
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

/// A multi-use join link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteLink {
    /// Id.
    pub id: InviteLinkId,
    /// Organization.
    pub org_id: OrgId,
    /// Assignments given to those who join (`engineer`/`member` only).
    pub assignments: Vec<Assignment>,
    /// Email domains allowed to join; empty means any.
    pub allowed_domains: Vec<String>,
    /// Most joins; `None` is unlimited.
    pub max_uses: Option<u32>,
    /// Joins so far.
    pub uses: u32,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Who created it (or inherited it on a hand-over).
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// SHA-256 of the token (hex). Never shown.
    pub token_hash: String,
}

impl InviteLink {
    /// Whether the link's own `allowed_domains` let `email` join (the organization's setting
    /// applies as well: see `Settings::allows_domain`).
    pub fn allows_domain(&self, email: &Email) -> bool {
        domain_allowed(&self.allowed_domains, email)
    }

    /// Whether someone may still join with it at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|e| e > now)
            && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

/// A SCIM bearer token bound to one organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimToken {
    /// Id.
    pub id: ScimTokenId,
    /// Organization.
    pub org_id: OrgId,
    /// A label for people.
    pub description: Option<String>,
    /// SHA-256 of the secret (hex).
    pub token_hash: String,
    /// Who created it.
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// Last use, if recorded.
    pub last_used_at: Option<Timestamp>,
}

/// The identity provider's view of a SCIM-provisioned member: kept beside the [`Membership`]
/// (same org and user), written in the same transactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimUser {
    /// Organization.
    pub org_id: OrgId,
    /// The member.
    pub user_id: UserId,
    /// `userName` as sent (unique per org case-insensitively; see [`ScimUser::user_name_key`]).
    pub user_name: String,
    /// The canonical SCIM User resource as last written, without `id`, `meta`, `active` and
    /// `externalId` (those come from the membership).
    pub resource: serde_json::Value,
    /// Creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter.
    pub version: u64,
    /// The `id` the identity provider knows this member by, when it is not `user_id`: the id of
    /// the placeholder the organization provisioned, kept when the membership moved to the
    /// person's account at linking (see `Store::link_member`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_id: Option<UserId>,
}

impl ScimUser {
    /// The case-insensitive key userName uniqueness is enforced on.
    pub fn user_name_key(&self) -> String {
        user_name_key(&self.user_name)
    }

    /// The SCIM `id` of the member: [`ScimUser::scim_id`], else the user id.
    pub fn resource_id(&self) -> &UserId {
        self.scim_id.as_ref().unwrap_or(&self.user_id)
    }
}

/// Lowercased, trimmed userName: the form compared for uniqueness and lookups.
pub fn user_name_key(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

/// Prefix of the placeholder subject given to users created by SCIM before they ever sign in;
/// their first sign-in with a verified matching email replaces it with the real subject.
pub const PLACEHOLDER_SUB_PREFIX: &str = "scim-placeholder|";

impl User {
    /// Whether this user was provisioned and has not signed in yet.
    pub fn is_placeholder(&self) -> bool {
        self.sub.starts_with(PLACEHOLDER_SUB_PREFIX)
    }

    /// Whether this user is a placeholder that `org`'s SCIM provisioning made, and so one that
    /// `org`'s SCIM writes may change (its email follows the member's).
    pub fn is_placeholder_of(&self, org: &OrgId) -> bool {
        self.is_placeholder() && self.provisioned_by.as_ref() == Some(org)
    }

    /// Whether the user may be found by their email (the stores' email index, used to give a
    /// SCIM-provisioned membership to the person who owns the address): a placeholder, or an
    /// address the identity provider verified. An unverified email claim owns nothing.
    pub fn owns_email(&self) -> bool {
        self.email_verified || self.is_placeholder()
    }
}
