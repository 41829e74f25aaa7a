//! Response bodies: what each route shows of the domain's entities (never token hashes or
//! versions).

use rollcall_domain::ids::{
    GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId,
};
use rollcall_domain::model::{
    EmailStatus, Group, GroupConflict, Invitation, InvitationStatus, InviteLink, MemberSource,
    MemberStatus, Membership, Organization, Pool, ScimToken, Settings, Timestamp,
};
use rollcall_domain::page::Page;
use rollcall_domain::role::Assignment;
use rollcall_domain::service::{
    InvitationPreview, InviteOutcome, InviteResult, MeView, MyInvitation, MyMembership, OrgView,
    ProvisionedMembership,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A page of a list: `{"items": [...], "next_cursor": string|null}`.
#[derive(Debug, Clone, Serialize)]
pub struct ListView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts, or null when the list is complete.
    pub next_cursor: Option<String>,
}

impl<T> ListView<T> {
    /// A page mapped item by item.
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        ListView {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }

    /// A complete list.
    pub fn complete(items: Vec<T>) -> Self {
        ListView {
            items,
            next_cursor: None,
        }
    }
}

/// Organization: `{id, name, root_pool_id, created_at, settings?, assignments?}`.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationView {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
    /// The root pool.
    pub root_pool_id: PoolId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Settings, for organization managers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    /// The caller's own assignments in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Vec<Assignment>>,
}

impl OrganizationView {
    /// The bare organization, with or without settings.
    pub fn new(org: Organization, show_settings: bool) -> Self {
        OrganizationView {
            id: org.id,
            name: org.name,
            root_pool_id: org.root_pool_id,
            created_at: org.created_at,
            settings: show_settings.then_some(org.settings),
            assignments: None,
        }
    }

    /// An organization as one caller sees it.
    pub fn from_view(v: OrgView) -> Self {
        OrganizationView {
            assignments: Some(v.my_assignments),
            ..Self::new(v.org, v.show_settings)
        }
    }

    /// An item of `GET /orgs`: the organization with the caller's assignments, no settings.
    pub fn from_membership(m: MyMembership) -> Self {
        OrganizationView {
            assignments: Some(m.membership.assignments),
            ..Self::new(m.org, false)
        }
    }
}

/// Pool: `{id, name, parent_id, owner_id, created_at}`.
#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    /// Id.
    pub id: PoolId,
    /// Name.
    pub name: String,
    /// Parent; null for the root.
    pub parent_id: Option<PoolId>,
    /// Owner.
    pub owner_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
}

impl From<Pool> for PoolView {
    fn from(p: Pool) -> Self {
        PoolView {
            id: p.id,
            name: p.name,
            parent_id: p.parent_id,
            owner_id: p.owner_id,
            created_at: p.created_at,
        }
    }
}

/// Member: `{org_id, user_id, email, name, phone, status, source, external_id, assignments,
/// direct_assignments, groups, created_at}`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// The organization.
    pub org_id: OrgId,
    /// The user.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// `active` | `suspended`.
    pub status: MemberStatus,
    /// `owner` | `invitation` | `invite_link` | `scim`.
    pub source: MemberSource,
    /// SCIM external id.
    pub external_id: Option<String>,
    /// Effective role assignments: the direct ones and those of the member's groups.
    pub assignments: Vec<Assignment>,
    /// The assignments given to the member directly (what `PUT …/assignments` sets).
    pub direct_assignments: Vec<Assignment>,
    /// The member's groups, each with what it gives.
    pub groups: Vec<MemberGroupView>,
    /// Joined.
    pub created_at: Timestamp,
}

/// One of a member's groups: `{group_id, display_name, assignments}`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberGroupView {
    /// The group.
    pub group_id: GroupId,
    /// Its displayName; null when the group was deleted while the request ran.
    pub display_name: Option<String>,
    /// What the group gives the member (empty: no role beyond `member`).
    pub assignments: Vec<Assignment>,
}

impl MemberView {
    /// The member, with its groups named from `group_names` ([`Service::group_names`]).
    ///
    /// [`Service::group_names`]: rollcall_domain::service::Service::group_names
    pub fn new(m: Membership, group_names: &BTreeMap<GroupId, String>) -> Self {
        let direct_assignments = m.direct_assignments().to_vec();
        MemberView {
            org_id: m.org_id,
            user_id: m.user_id,
            email: m.email.as_str().to_owned(),
            name: m.name,
            phone: m.phone,
            status: m.status,
            source: m.source,
            external_id: m.external_id,
            assignments: m.assignments,
            direct_assignments,
            groups: m
                .groups
                .into_iter()
                .map(|g| MemberGroupView {
                    display_name: group_names.get(&g.group_id).cloned(),
                    group_id: g.group_id,
                    assignments: g.assignments,
                })
                .collect(),
            created_at: m.created_at,
        }
    }
}

/// Group: `{id, org_id, display_name, external_id, assignments, member_count, conflicts,
/// created_at, updated_at}`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// Id (the SCIM `id`).
    pub id: GroupId,
    /// Organization.
    pub org_id: OrgId,
    /// The identity provider's `displayName`.
    pub display_name: String,
    /// The identity provider's `externalId`, or null.
    pub external_id: Option<String>,
    /// What the group gives its members (empty: no role beyond `member`).
    pub assignments: Vec<Assignment>,
    /// How many members it has.
    pub member_count: u64,
    /// Changes that would have left the organization without an active organization manager,
    /// most recent last.
    pub conflicts: Vec<GroupConflictView>,
    /// Creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A last-manager conflict: `{at, user_id, kept}`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupConflictView {
    /// When.
    pub at: Timestamp,
    /// The member who kept the assignments as direct ones.
    pub user_id: UserId,
    /// The assignments kept.
    pub kept: Vec<Assignment>,
}

impl From<GroupConflict> for GroupConflictView {
    fn from(c: GroupConflict) -> Self {
        GroupConflictView {
            at: c.at,
            user_id: c.user_id,
            kept: c.kept,
        }
    }
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        GroupView {
            id: g.id,
            org_id: g.org_id,
            display_name: g.display_name,
            external_id: g.external_id,
            assignments: g.assignments,
            member_count: g.member_count,
            conflicts: g.conflicts.into_iter().map(Into::into).collect(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// An item of `GET /orgs/{org}/groups/{grp}/members`: `{member_ref, member}`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupMemberView {
    /// The id the identity provider knows the member by (its SCIM `id`).
    pub member_ref: UserId,
    /// The member.
    pub member: MemberView,
}

/// Invitation: the fields of spec §1 plus `org_id`; `status` is the effective one.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    /// Id.
    pub id: InvitationId,
    /// Organization.
    pub org_id: OrgId,
    /// The invitee's address as given.
    pub email: String,
    /// Invitee's name.
    pub name: Option<String>,
    /// Invitee's phone.
    pub phone: Option<String>,
    /// Roles offered.
    pub assignments: Vec<Assignment>,
    /// Who invited.
    pub inviter_id: UserId,
    /// `pending` | `accepted` | `declined` | `revoked` | `expired`.
    pub status: InvitationStatus,
    /// `sent` | `delivered` | `bounced` | `complained` | `failed` | `not_sent`.
    pub email_status: EmailStatus,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Creation.
    pub created_at: Timestamp,
    /// When accepted.
    pub accepted_at: Option<Timestamp>,
    /// Who accepted.
    pub accepted_by: Option<UserId>,
}

impl InvitationView {
    /// The invitation as shown at `now`.
    pub fn new(i: Invitation, now: Timestamp) -> Self {
        InvitationView {
            status: i.effective_status(now),
            id: i.id,
            org_id: i.org_id,
            email: i.email.as_str().to_owned(),
            name: i.name,
            phone: i.phone,
            assignments: i.assignments,
            inviter_id: i.inviter_id,
            email_status: i.email_status,
            expires_at: i.expires_at,
            created_at: i.created_at,
            accepted_at: i.accepted_at,
            accepted_by: i.accepted_by,
        }
    }
}

/// A resent invitation, with its accept URL when no email was sent.
#[derive(Debug, Clone, Serialize)]
pub struct ResentInvitationView {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// The accept link carrying the new token (only with `send_email: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

/// An item of `GET /me/invitations`: the invitation and its organization's name.
#[derive(Debug, Clone, Serialize)]
pub struct MyInvitationView {
    /// `invitation`.
    pub kind: &'static str,
    /// The invitation.
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// Organization name.
    pub org_name: String,
}

impl MyInvitationView {
    /// The item at `now`.
    pub fn new(m: MyInvitation, now: Timestamp) -> Self {
        MyInvitationView {
            kind: "invitation",
            invitation: InvitationView::new(m.invitation, now),
            org_name: m.org_name,
        }
    }
}

/// A membership an organization provisioned (over SCIM) for the caller's address, waiting for
/// their consent: an item of `GET /me/invitations`, and the answer of its decline.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionedMembershipView {
    /// `provisioned_membership`.
    pub kind: &'static str,
    /// What accept and decline name (`usr_…`, the organization's own id for the provisioned
    /// person, never the caller's account id).
    pub id: UserId,
    /// Organization.
    pub org_id: OrgId,
    /// Organization name.
    pub org_name: String,
    /// The address the organization provisioned.
    pub email: String,
    /// The name the organization gave.
    pub name: Option<String>,
    /// Roles the membership holds.
    pub assignments: Vec<Assignment>,
    /// `pending`, or `declined` once the caller declined it (they may still accept).
    pub status: &'static str,
    /// When it was provisioned.
    pub created_at: Timestamp,
}

impl From<ProvisionedMembership> for ProvisionedMembershipView {
    fn from(p: ProvisionedMembership) -> Self {
        ProvisionedMembershipView {
            kind: "provisioned_membership",
            id: p.id,
            org_id: p.membership.org_id,
            org_name: p.org_name,
            email: p.membership.email.as_str().to_owned(),
            name: p.membership.name,
            assignments: p.membership.assignments,
            status: if p.declined_at.is_some() {
                "declined"
            } else {
                "pending"
            },
            created_at: p.membership.created_at,
        }
    }
}

/// An item of `GET /me/invitations`: an invitation, or a provisioned membership.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MyInvitationItem {
    /// An email invitation.
    Invitation(MyInvitationView),
    /// A membership provisioned for the caller's address.
    Provisioned(ProvisionedMembershipView),
}

/// An error inside a successful response (a bulk-invite entry).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// Stable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// One bulk-invite result.
#[derive(Debug, Clone, Serialize)]
pub struct InviteResultView {
    /// The address as given.
    pub email: String,
    /// `invited` | `resent` | `error`.
    pub result: &'static str,
    /// The invitation, unless the entry failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationView>,
    /// The entry's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// The accept link with its token, only when no email was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

impl InviteResultView {
    /// The result at `now`.
    pub fn new(r: InviteResult, now: Timestamp) -> Self {
        InviteResultView {
            email: r.email,
            result: match r.outcome {
                InviteOutcome::Invited => "invited",
                InviteOutcome::Resent => "resent",
                InviteOutcome::Error => "error",
            },
            invitation: r.invitation.map(|i| InvitationView::new(i, now)),
            error: r.error.map(|e| ErrorBody {
                code: e.code.as_str(),
                message: e.message,
                details: e.details,
            }),
            accept_url: r.accept_url,
        }
    }
}

/// `POST /orgs/{org}/invitations` response.
#[derive(Debug, Clone, Serialize)]
pub struct BulkInviteView {
    /// One result per entry, in order.
    pub results: Vec<InviteResultView>,
}

/// Invite link, without its token.
#[derive(Debug, Clone, Serialize)]
pub struct InviteLinkView {
    /// Id.
    pub id: InviteLinkId,
    /// Organization.
    pub org_id: OrgId,
    /// Assignments given to those who join.
    pub assignments: Vec<Assignment>,
    /// Allowed email domains; empty for any.
    pub allowed_domains: Vec<String>,
    /// Most joins; null for unlimited.
    pub max_uses: Option<u32>,
    /// Joins so far.
    pub uses: u32,
    /// Expiry; null for none.
    pub expires_at: Option<Timestamp>,
    /// Creator.
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// When revoked.
    pub revoked_at: Option<Timestamp>,
    /// `active` | `revoked` | `expired` | `used_up`.
    pub status: &'static str,
}

impl InviteLinkView {
    /// The link as shown at `now`.
    pub fn new(l: InviteLink, now: Timestamp) -> Self {
        let status = if l.revoked_at.is_some() {
            "revoked"
        } else if l.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else if l.max_uses.is_some_and(|m| l.uses >= m) {
            "used_up"
        } else {
            "active"
        };
        InviteLinkView {
            id: l.id,
            org_id: l.org_id,
            assignments: l.assignments,
            allowed_domains: l.allowed_domains,
            max_uses: l.max_uses,
            uses: l.uses,
            expires_at: l.expires_at,
            created_by: l.created_by,
            created_at: l.created_at,
            revoked_at: l.revoked_at,
            status,
        }
    }
}

/// A created invite link with its token, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedLinkView {
    /// The link.
    #[serde(flatten)]
    pub link: InviteLinkView,
    /// The secret to hand to those who may join (`POST /join`).
    pub token: String,
}

/// The public preview of an invitation token.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewView {
    /// Organization id (where the invitee lands after accepting).
    pub org_id: OrgId,
    /// Organization name.
    pub org_name: String,
    /// Who invited.
    pub inviter_name: Option<String>,
    /// The invitee's address.
    pub email: String,
    /// The invitee's name, if given.
    pub name: Option<String>,
    /// Roles offered.
    pub assignments: Vec<Assignment>,
    /// The pools the assignments name, with their names.
    pub pools: Vec<PoolNameView>,
    /// Expiry.
    pub expires_at: Timestamp,
}

/// `GET /invite-links/{token}`: what an invite link gives, before sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct LinkPreviewView {
    /// Organization id.
    pub org_id: OrgId,
    /// Organization name.
    pub org_name: String,
    /// Roles the link gives.
    pub assignments: Vec<Assignment>,
    /// The pools the assignments name, with their names.
    pub pools: Vec<PoolNameView>,
    /// The email domains the link admits (empty: any).
    pub allowed_domains: Vec<String>,
    /// When the link stops working, if ever.
    pub expires_at: Option<Timestamp>,
}

impl From<rollcall_domain::service::InviteLinkPreview> for LinkPreviewView {
    fn from(p: rollcall_domain::service::InviteLinkPreview) -> Self {
        LinkPreviewView {
            org_id: p.link.org_id,
            org_name: p.org_name,
            assignments: p.link.assignments,
            pools: p
                .pools
                .into_iter()
                .map(|(id, name)| PoolNameView { id, name })
                .collect(),
            allowed_domains: p.link.allowed_domains,
            expires_at: p.link.expires_at,
        }
    }
}

/// A pool's id and name.
#[derive(Debug, Clone, Serialize)]
pub struct PoolNameView {
    /// Id.
    pub id: PoolId,
    /// Name.
    pub name: String,
}

impl From<InvitationPreview> for PreviewView {
    fn from(p: InvitationPreview) -> Self {
        PreviewView {
            org_id: p.invitation.org_id.clone(),
            org_name: p.org_name,
            inviter_name: p.inviter_name,
            email: p.invitation.email.as_str().to_owned(),
            name: p.invitation.name,
            assignments: p.invitation.assignments,
            pools: p
                .pools
                .into_iter()
                .map(|(id, name)| PoolNameView { id, name })
                .collect(),
            expires_at: p.invitation.expires_at,
        }
    }
}

/// The signed-in user in `GET /me`.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// Id.
    pub id: UserId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: Option<String>,
    /// Whether the identity provider verified the email.
    pub email_verified: bool,
}

/// An organization reference.
#[derive(Debug, Clone, Serialize)]
pub struct OrgRef {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
}

/// One of the caller's memberships in `GET /me`.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipSummary {
    /// The organization.
    pub org: OrgRef,
    /// Role assignments.
    pub assignments: Vec<Assignment>,
    /// `active` | `suspended`.
    pub status: MemberStatus,
    /// How the membership came to be.
    pub source: MemberSource,
    /// Joined.
    pub created_at: Timestamp,
}

/// `GET /me`: `{user, memberships, memberships_next_cursor}`.
#[derive(Debug, Clone, Serialize)]
pub struct MeResponse {
    /// The user.
    pub user: UserView,
    /// Memberships (one page).
    pub memberships: Vec<MembershipSummary>,
    /// Cursor for more memberships (`?cursor=`), or null.
    pub memberships_next_cursor: Option<String>,
}

impl From<MeView> for MeResponse {
    fn from(v: MeView) -> Self {
        MeResponse {
            user: UserView {
                id: v.user.id,
                email: v.user.email.as_str().to_owned(),
                name: v.user.name,
                email_verified: v.email_verified,
            },
            memberships: v
                .memberships
                .items
                .into_iter()
                .map(|m| MembershipSummary {
                    org: OrgRef {
                        id: m.org.id,
                        name: m.org.name,
                    },
                    assignments: m.membership.assignments,
                    status: m.membership.status,
                    source: m.membership.source,
                    created_at: m.membership.created_at,
                })
                .collect(),
            memberships_next_cursor: v.memberships.next_cursor,
        }
    }
}

/// A SCIM token, never its secret: `{id, org_id, description, created_by, created_at, last_used_at}`.
#[derive(Debug, Clone, Serialize)]
pub struct ScimTokenView {
    /// Id.
    pub id: ScimTokenId,
    /// Organization.
    pub org_id: OrgId,
    /// A label for people.
    pub description: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// Last use, when recorded.
    pub last_used_at: Option<Timestamp>,
}

impl From<ScimToken> for ScimTokenView {
    fn from(t: ScimToken) -> Self {
        ScimTokenView {
            id: t.id,
            org_id: t.org_id,
            description: t.description,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A created SCIM token with its secret (`rcs_…`), shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedScimTokenView {
    /// The token.
    #[serde(flatten)]
    pub scim_token: ScimTokenView,
    /// The bearer secret for the identity provider's SCIM connection.
    pub token: String,
}
