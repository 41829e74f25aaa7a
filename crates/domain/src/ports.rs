//! Ports: what the domain needs from the outside world (storage, mail, time, randomness).
//!
//! Every Store method is one atomic step of a use case. Conditions named in a method's doc are
//! checked inside the same transaction as its writes, never by a separate read.

use crate::audit::{AuditEvent, AuditFilter};
use crate::email::Email;
use crate::idempotency::{Claim, IdempotencyRecord};
use crate::ids::{GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use crate::model::{
    EmailStatus, Group, Invitation, InvitationStatus, InviteLink, MemberStatus, Membership,
    Organization, Pool, ScimToken, ScimUser, Timestamp, User,
};
use crate::org_domain::{DomainClaim, OrgDomain};
use crate::page::{Page, PageRequest};
use crate::role::Role;
use async_trait::async_trait;
use std::sync::Arc;

/// Which rate limit stopped a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// `max_pending_invitations`.
    PendingInvitations,
    /// `invitations_per_hour`.
    InvitationsPerHour,
    /// `emails_per_recipient_per_day`.
    EmailsPerRecipientPerDay,
}

/// A condition of an atomic write that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The record changed since it was read (version mismatch) or is gone; re-read and retry.
    Stale,
    /// A sibling pool has the same name.
    PoolNameTaken,
    /// The pool has sub-pools.
    PoolHasChildren,
    /// The organization has as many pools as allowed.
    PoolLimit,
    /// The organization has as many SCIM tokens as allowed.
    ScimTokenLimit,
    /// A pool the write depends on (parent, or a pool in accepted assignments) does not exist.
    PoolMissing(PoolId),
    /// A pending invitation for this org and email exists.
    PendingInvitationExists(InvitationId),
    /// The invitation is no longer pending (used, declined, revoked) or has expired.
    InvitationNotPending,
    /// The membership already exists.
    MembershipExists,
    /// The change would leave the organization without an active organization manager.
    LastOrganizationManager,
    /// A rate limit is reached.
    RateLimited(RateLimit),
    /// The invite link is revoked, expired or used up.
    LinkUnusable,
    /// The organization does not exist.
    OrgMissing,
    /// Another member of the org has this userName (case-insensitively).
    UserNameTaken,
    /// Another member of the org has this externalId.
    ExternalIdTaken,
    /// Another member of the org has this (normalized) email: one member per email per org.
    MemberEmailTaken,
    /// The organization already has this domain.
    DomainExists,
    /// Another organization has verified this domain: one organization per verified domain.
    DomainClaimed,
    /// Another group of the org has this displayName (case-insensitively).
    GroupNameTaken,
    /// The organization has as many groups as allowed ([`crate::model::MAX_GROUPS_PER_ORG`]).
    GroupLimit,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold; nothing was written.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The cursor was not produced by this store for this query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The backing service failed or is unreachable; nothing was written, or the write is safe to retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Filter of [`Store::list_memberships`]; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Has an assignment with this role (`member` matches everyone, since every member has it).
    pub role: Option<Role>,
    /// Has an assignment on exactly this pool (with `role`, the same assignment must match both).
    pub pool_id: Option<PoolId>,
    /// Has this status.
    pub status: Option<MemberStatus>,
    /// Lowercase text found in the normalized email or the lowercased name.
    pub q: Option<String>,
}

/// Filter of [`Store::list_invitations`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationFilter {
    /// Effective status (`pending` = stored pending and unexpired at `now`; `expired` = stored
    /// pending past expiry, or recorded expired).
    pub status: Option<InvitationStatus>,
    /// Normalized email, exact.
    pub email: Option<String>,
    /// Email status, exact.
    pub email_status: Option<EmailStatus>,
}

/// Limits to count a new invitation or a resent email against, with the time they are counted at.
/// A `None` limit is not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteLimits {
    /// The time of the write: hourly and daily windows are UTC hours and days of this instant.
    pub now: Timestamp,
    /// `max_pending_invitations`: the org's stored-pending invitations (expired ones count until
    /// they are closed or replaced) must stay at most this.
    pub max_pending: Option<u32>,
    /// `invitations_per_hour`: invitations created in the org in this UTC hour.
    pub per_hour: Option<u32>,
    /// `emails_per_recipient_per_day`: emails to this normalized address from this org this UTC day.
    pub per_recipient_per_day: Option<u32>,
}

/// A membership to create, or to change from a known version.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived, passed by reference
pub enum MembershipWrite {
    /// Create; fails with [`Conflict::MembershipExists`] if it exists.
    Create(Membership),
    /// Replace `before` (matched on `version`) with `after` (whose version is `before.version + 1`).
    Update {
        /// As read.
        before: Membership,
        /// As to be stored.
        after: Membership,
    },
}

impl MembershipWrite {
    /// The membership as the write leaves it.
    pub fn after(&self) -> &Membership {
        match self {
            MembershipWrite::Create(m) => m,
            MembershipWrite::Update { after, .. } => after,
        }
    }

    /// Whether the write is about `user`'s membership of `org`.
    pub fn is_about(&self, org: &OrgId, user: &UserId) -> bool {
        let m = self.after();
        &m.org_id == org && &m.user_id == user
    }
}

/// Whether the arguments of [`Store::update_scim_member`] are about one member: both records and
/// the membership write, and the placeholder (its id, unchanged subject, still a placeholder made
/// by the member's organization: no other organization's write moves it).
/// The stores answer [`Conflict::Stale`] otherwise.
pub fn scim_update_is_consistent(
    membership: &MembershipWrite,
    before: Option<&ScimUser>,
    after: &ScimUser,
    placeholder: Option<(&User, &User)>,
) -> bool {
    let (org, user) = (&after.org_id, &after.user_id);
    membership.is_about(org, user)
        && before.is_none_or(|b| membership.is_about(&b.org_id, &b.user_id))
        && placeholder.is_none_or(|(was, becomes)| {
            &was.id == user
                && becomes.id == was.id
                && becomes.sub == was.sub
                && becomes.provisioned_by == was.provisioned_by
                && was.is_placeholder_of(org)
        })
}

/// What a group change does to a member's place in the group (see [`Store::update_group`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEdge {
    /// The member joins: the group's member entry for `member_ref` must not exist yet.
    Add,
    /// The member leaves: the entry must exist.
    Remove,
    /// The member stays (only the grant changes, e.g. a new mapping): the entry must exist.
    Keep,
}

/// One member's part of a group change: their place in the group and their membership's write.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMemberChange {
    /// The SCIM id the identity provider knows the member by ([`ScimUser::resource_id`], else
    /// the user id): the group's member entries are keyed by it, so they stay put when a
    /// placeholder's membership moves to the person's account.
    pub member_ref: UserId,
    /// Joins, leaves or stays.
    pub edge: GroupEdge,
    /// The member's membership, as read and as it becomes (its `groups` and `assignments`
    /// reflecting the change).
    pub membership: MembershipWrite,
}

/// What a member's removal handed to the successor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Handover {
    /// Pools whose owner changed.
    pub pools: u32,
    /// Invite links whose creator changed.
    pub invite_links: u32,
    /// Pending invitations whose inviter changed.
    pub invitations: u32,
}

/// Store cursors of an organization's member list by 0-based position, kept by a process between
/// requests so that a page starting where the last one ended is one read (SCIM's `startIndex`
/// paging, see [`Service::scim_list`](crate::service::Service::scim_list)).
pub trait ListCursors: Send + Sync {
    /// The known cursor at the largest position `<= position` of `org`.
    fn nearest(&self, org: &OrgId, position: usize) -> Option<(usize, String)>;
    /// Records the cursor that continues `org`'s list at `position`.
    fn put(&self, org: &OrgId, position: usize, cursor: &str);
    /// Forgets `org`'s cursors (the store refused one).
    fn forget(&self, org: &OrgId);
}

/// Persistence of every entity. Both stores pass the same conformance suite.
///
/// Counting rules every store keeps (in the same transaction as the write that changes them):
/// active organization managers per org ([`Membership::is_active_org_manager`]), pools per org,
/// stored-pending invitations per org.
#[async_trait]
pub trait Store: Send + Sync {
    // ---- audit ----
    // Every change a use case makes is recorded by an audit entry written in the same
    // transaction as the change: the use case writes through `store.audited(entry)`.
    /// This store, writing `event` together with the change of the next write method called on
    /// the handle that succeeds: in the same transaction, or, for a method that may take several
    /// transactions (a removal's hand-over batches, a pool deletion's), in the one that completes
    /// the change. A write that fails writes no entry. The entry is written once, on condition
    /// that its id is new (a second write through the same handle fails with
    /// [`Conflict::Stale`]); entries are never updated or deleted, only expired by the store at
    /// their `expires_at`. Reads through the handle are plain reads. Writes that change no
    /// organization's data (a user's profile at sign-in, a SCIM token's last use) write no entry.
    fn audited(&self, event: AuditEvent) -> Arc<dyn Store>;
    /// Audit entries of `org` matching `filter`, newest first (by id, descending), leaving out
    /// those expired at `now`. A page may hold fewer than `page.limit` entries with a cursor (a
    /// filtered page reads a bounded number of entries).
    async fn list_audit_events(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;

    // ---- users ----
    /// A user by id.
    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// A user by the identity provider's subject.
    async fn get_user_by_sub(&self, sub: &str) -> StoreResult<Option<User>>;
    /// Creates `user` unless one with the same `sub` exists (subject uniqueness is enforced by the
    /// write); if one exists, updates its email and name to `user`'s when they differ. Returns the
    /// stored user (with the existing id when it existed).
    async fn upsert_user(&self, user: &User) -> StoreResult<User>;

    // ---- organizations ----
    /// Creates the organization, its root pool and the owner's membership together.
    async fn create_org(
        &self,
        org: &Organization,
        root: &Pool,
        owner: &Membership,
    ) -> StoreResult<()>;
    /// An organization by id.
    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Organization>>;
    /// Several organizations by id (missing ones are left out), in the order asked.
    async fn get_orgs(&self, ids: &[OrgId]) -> StoreResult<Vec<Organization>>;
    /// Replaces name and settings. [`Conflict::OrgMissing`] if it does not exist.
    async fn update_org(&self, org: &Organization) -> StoreResult<()>;

    // ---- pools ----
    /// A pool of `org`.
    async fn get_pool(&self, org: &OrgId, id: &PoolId) -> StoreResult<Option<Pool>>;
    /// Every pool of `org`, ordered by id (creation order, so parents come before children).
    async fn list_pools(&self, org: &OrgId) -> StoreResult<Vec<Pool>>;
    /// Creates a non-root pool. Conditions: parent exists ([`Conflict::PoolMissing`]), no sibling
    /// with the same [`Pool::name_key`] ([`Conflict::PoolNameTaken`]), the org has fewer than
    /// `max_pools` pools ([`Conflict::PoolLimit`]).
    async fn create_pool(&self, pool: &Pool, max_pools: u32) -> StoreResult<()>;
    /// Renames and/or changes the owner. Conditions: the pool exists ([`Conflict::Stale`]), the new
    /// name is free among siblings ([`Conflict::PoolNameTaken`]).
    async fn update_pool(&self, before: &Pool, after: &Pool) -> StoreResult<()>;
    /// Deletes a non-root leaf pool, and drops every assignment on it from memberships (direct
    /// ones and group grants: [`Membership::without_pool`]), group mappings ([`Group::assignments`],
    /// filtered like the grants, so a mapping may become empty), pending invitations and invite
    /// links (assignment lists are kept in normal form); every changed membership and group gets
    /// a new version. Conditions: it exists ([`Conflict::Stale`]), it has no children
    /// ([`Conflict::PoolHasChildren`]).
    async fn delete_pool(&self, pool: &Pool) -> StoreResult<()>;

    // ---- memberships ----
    /// One membership.
    async fn get_membership(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<Membership>>;
    /// The membership of `org` whose email normalizes to `email` (a normalized address), if any.
    /// A key lookup (an index on org + normalized email), not a filter over the members.
    async fn find_membership_by_email(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Membership>>;
    /// Members of `org` matching `filter`, ordered by user id.
    async fn list_memberships(
        &self,
        org: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>>;
    /// A user's memberships across organizations, ordered by org id.
    async fn list_user_memberships(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>>;
    /// Applies a membership write alone. [`Conflict::Stale`] on a version mismatch, or when the
    /// write changes the member's `groups` (a create with groups, an update whose `after.groups`
    /// differs from the stored ones): groups change only with their entries, in
    /// [`Store::update_group`]; this holds for every membership write outside it (accept, join,
    /// SCIM provisioning and updates). [`Conflict::LastOrganizationManager`] if it would leave no
    /// active organization manager.
    async fn write_membership(&self, write: &MembershipWrite) -> StoreResult<()>;
    /// Removes `member` (matched on version) and hands what they own in the org to `successor`:
    /// pools they own, invite links they created, pending invitations they sent. One atomic change,
    /// or, when more than one transaction can hold, hand-over batches first and the removal last,
    /// so a failed call can simply be repeated. [`Conflict::LastOrganizationManager`] if the member
    /// is the last active organization manager; [`Conflict::Stale`] if `successor` is the member
    /// or not a member of the org. The member's SCIM record and its userName and externalId claims
    /// go with the membership. The member must have left every group first (`member.groups`
    /// empty, else [`Conflict::Stale`]), so no group keeps an entry for a removed member.
    async fn remove_member(&self, member: &Membership, successor: &UserId)
    -> StoreResult<Handover>;

    // ---- invitations ----
    /// An invitation by id (invitation ids are global).
    async fn get_invitation(&self, id: &InvitationId) -> StoreResult<Option<Invitation>>;
    /// The invitation whose current token hashes to `token_hash`, in whatever state it is now
    /// (closing an invitation keeps its token pointing at it, so a used token can say "already
    /// used"); a token superseded by a resend finds nothing.
    async fn find_invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>>;
    /// The stored-pending invitation of `org` for a normalized email (may be past its expiry).
    async fn find_pending_invitation(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Invitation>>;
    /// Invitations of `org` matching `filter` at `now`, newest first (by id, descending).
    async fn list_invitations(
        &self,
        org: &OrgId,
        filter: &InvitationFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>>;
    /// Pending, unexpired invitations addressed to a normalized email in every org, newest first.
    async fn list_invitations_for_email(
        &self,
        email: &str,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>>;
    /// Creates a pending invitation and counts it against `limits`. `replaces` is the org's
    /// stored-pending but expired invitation for the same email, closed as `expired` in the same
    /// step. Conditions: no other pending invitation for (org, email)
    /// ([`Conflict::PendingInvitationExists`]), limits ([`Conflict::RateLimited`]), `replaces`
    /// unchanged ([`Conflict::Stale`]).
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        replaces: Option<&Invitation>,
        limits: &InviteLimits,
    ) -> StoreResult<()>;
    /// Replaces a pending invitation (resend: new token hash, expiry, merged assignments; or a new
    /// `email_status`), counting against `limits` when given. Conditions: `before` is still the
    /// stored version and pending ([`Conflict::Stale`]), limits. A changed token hash retires the old one.
    async fn update_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        limits: Option<&InviteLimits>,
    ) -> StoreResult<()>;
    /// Moves a pending invitation to a terminal state (`declined`, `revoked`, `expired`) given in
    /// `after`; releases its (org, email) slot; stops counting it as pending.
    /// Condition: `before` is the stored version and pending ([`Conflict::InvitationNotPending`]).
    async fn close_invitation(&self, before: &Invitation, after: &Invitation) -> StoreResult<()>;
    /// Accepts: `after` is `before` marked accepted. In one transaction: the invitation is the stored
    /// version, pending and unexpired at `now` ([`Conflict::InvitationNotPending`]); every pool in
    /// `required_pools` exists ([`Conflict::PoolMissing`]); the membership write applies. Releases
    /// the slot like [`Store::close_invitation`].
    async fn accept_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()>;

    // ---- invite links ----
    /// Creates an invite link.
    async fn create_invite_link(&self, link: &InviteLink) -> StoreResult<()>;
    /// A link of `org`.
    async fn get_invite_link(
        &self,
        org: &OrgId,
        id: &InviteLinkId,
    ) -> StoreResult<Option<InviteLink>>;
    /// The link whose token hashes to `token_hash`.
    async fn find_invite_link_by_token(&self, token_hash: &str) -> StoreResult<Option<InviteLink>>;
    /// Links of `org`, newest first.
    async fn list_invite_links(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> StoreResult<Page<InviteLink>>;
    /// Marks a link revoked (`after.revoked_at` set). Condition: not already revoked ([`Conflict::Stale`]).
    async fn revoke_invite_link(&self, before: &InviteLink, after: &InviteLink) -> StoreResult<()>;
    /// Counts one use of `link` and applies the membership write, together. Conditions: the link is
    /// usable at `now` ([`Conflict::LinkUnusable`]), every pool in `required_pools` exists, the
    /// membership write's own conditions.
    async fn join_with_link(
        &self,
        link: &InviteLink,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()>;

    // ---- SCIM tokens ----
    /// Creates a SCIM token, if the org holds fewer than `max_tokens` ([`Conflict::ScimTokenLimit`],
    /// counted in the same write, so concurrent creates cannot pass the limit).
    async fn create_scim_token(&self, token: &ScimToken, max_tokens: u32) -> StoreResult<()>;
    /// Tokens of `org`, newest first.
    async fn list_scim_tokens(&self, org: &OrgId) -> StoreResult<Vec<ScimToken>>;
    /// The token whose secret hashes to `token_hash`.
    async fn find_scim_token(&self, token_hash: &str) -> StoreResult<Option<ScimToken>>;
    /// Deletes a token of `org`; `false` if there was none.
    async fn delete_scim_token(&self, org: &OrgId, id: &ScimTokenId) -> StoreResult<bool>;
    /// Sets `last_used_at` of `token` to `at` (on the token and on its hash lookup). A token
    /// deleted meanwhile stays deleted: nothing is written and it is not an error.
    async fn record_scim_token_use(&self, token: &ScimToken, at: Timestamp) -> StoreResult<()>;

    // ---- SCIM provisioning (spec §5) ----
    // Claims: one userName key per org (held by the member's SCIM record) and one externalId per
    // org (held by every membership whose `external_id` is set; every membership write moves it
    // when the value changes, so [`Store::write_membership`] changing `external_id` can also fail
    // with [`Conflict::ExternalIdTaken`]). A claim already held by the same member counts as free.
    // Every membership also claims its normalized email in its org (one member per email per
    // org): every write that creates a membership or changes its email (accept, join, SCIM
    // provisioning and updates, `write_membership`) fails with [`Conflict::MemberEmailTaken`]
    // when another member holds it; a removal releases it.
    /// Replaces a placeholder user's subject with the real one at first sign-in with the email
    /// verified: stores `user` (its other fields as given) with `new_sub` and `email_verified`
    /// set and `provisioned_by` cleared (it is a person's account from now on), and returns it; the old subject finds nothing
    /// any more. Conditions: the stored user still has `user.sub` ([`Conflict::Stale`]); no user
    /// has `new_sub` yet (else [`Conflict::Stale`] too: the caller re-reads by subject).
    async fn link_user_subject(&self, user: &User, new_sub: &str) -> StoreResult<User>;
    /// The users who own the address `email` normalizes to ([`User::owns_email`]), oldest first,
    /// at most `limit`, from a global index on the normalized email (an unverified claim is never
    /// indexed): the placeholders the organizations provisioned for it and the person's account.
    async fn list_users_by_email(&self, email: &str, limit: usize) -> StoreResult<Vec<User>>;
    /// Moves a placeholder's membership to a person's account, in one transaction: `member` (the
    /// membership of `placeholder` in the organization that provisioned it, matched on version)
    /// becomes `to`'s membership with the same contents (`user_id` = `to.id`, version + 1); its
    /// SCIM record moves with it, keeping the SCIM id the identity provider knows (`scim_id` =
    /// the placeholder's id, or the one it already kept), and an alias from that id to `to.id`
    /// is written ([`Store::find_scim_alias`]); its userName, externalId and email claims now
    /// name `to`; what the placeholder owns in the organization (pools, invite links, pending
    /// invitations it inherited) is `to`'s; the placeholder user, its subject and its email
    /// index entry are deleted. Returns the new membership. Conditions: the placeholder is
    /// stored as given, is a placeholder, and `member` is its membership of
    /// `placeholder.provisioned_by` at `member.version` ([`Conflict::Stale`]); `to` is stored and
    /// not a placeholder ([`Conflict::Stale`]); `to` has no membership in the organization
    /// ([`Conflict::MembershipExists`]).
    async fn link_member(
        &self,
        placeholder: &User,
        member: &Membership,
        to: &User,
    ) -> StoreResult<Membership>;
    /// The user whose SCIM record the identity provider knows by `id` in `org`, when that member
    /// was a placeholder since linked to a person's account ([`Store::link_member`]); the alias
    /// goes with the membership.
    async fn find_scim_alias(&self, org: &OrgId, id: &UserId) -> StoreResult<Option<UserId>>;
    /// Records that the owner of a placeholder's address declined its membership: stores
    /// `placeholder` with `link_declined_at` = `at` and returns it. Condition: the placeholder is
    /// stored as given ([`Conflict::Stale`]).
    async fn decline_link(&self, placeholder: &User, at: Timestamp) -> StoreResult<User>;
    /// Provisions a member in one transaction: creates `new_user` when given (a placeholder not
    /// yet stored; subject uniqueness as in [`Store::upsert_user`], a taken subject or id is
    /// [`Conflict::Stale`]), applies the membership write, writes the SCIM record (which must not
    /// exist yet and must be about the membership's org and user, else [`Conflict::Stale`]),
    /// claims its userName and externalId in the org ([`Conflict::UserNameTaken`],
    /// [`Conflict::ExternalIdTaken`]) and, when `accepts` is given, accepts that pending invitation
    /// as [`Store::accept_invitation`] would (its conditions apply). Every pool the membership's
    /// assignments name must exist and not be being deleted, as for [`Store::accept_invitation`]'s
    /// required pools ([`Conflict::PoolMissing`]). When several conditions fail, the first of: new
    /// user, invitation, membership, pools, record, userName, externalId is reported.
    async fn provision_scim_member(
        &self,
        new_user: Option<&User>,
        membership: &MembershipWrite,
        scim: &ScimUser,
        accepts: Option<(&Invitation, &Invitation)>,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Updates a member's SCIM record (`before` `None` when the member had none: created by
    /// invitation or link) and membership together; the userName and externalId claims move with
    /// the values. Conditions: versions ([`Conflict::Stale`]; with `before` `None` the record must
    /// not exist), uniqueness as on provisioning, membership rules
    /// ([`Conflict::LastOrganizationManager`] when suspending the last one). The record is stored
    /// as `after` with version `before.version + 1` (as given when `before` is `None`).
    /// `placeholder` (before, after): the member's user is a placeholder whose email follows the
    /// member's, in the same change (condition: the stored user is still `before`, not linked
    /// meanwhile, else [`Conflict::Stale`]), so that its owner's first sign-in still finds it.
    async fn update_scim_member(
        &self,
        membership: &MembershipWrite,
        before: Option<&ScimUser>,
        after: &ScimUser,
        placeholder: Option<(&User, &User)>,
    ) -> StoreResult<()>;
    /// The SCIM record of a member.
    async fn get_scim_user(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<ScimUser>>;
    /// SCIM records of several members of `org` (missing ones left out), for a page of members,
    /// in the order asked.
    async fn get_scim_users(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<ScimUser>>;
    /// The member whose SCIM userName key (see [`crate::model::user_name_key`]) is `key`.
    async fn find_scim_user_by_user_name(
        &self,
        org: &OrgId,
        key: &str,
    ) -> StoreResult<Option<ScimUser>>;
    /// How many memberships `org` has (a counter the store keeps with every membership create and
    /// removal, so reading it is one key lookup), for SCIM `totalResults`; 0 for an unknown org.
    async fn count_memberships(&self, org: &OrgId) -> StoreResult<u64>;
    /// The membership of `org` with this externalId (exact).
    async fn find_membership_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> StoreResult<Option<Membership>>;

    // ---- verified domains ----
    // A domain record per (org, domain) in any state; a verified one also holds the domain's
    // global claim ([`DomainClaim`], one key per domain), written and released in the same
    // transaction as the record.
    /// Creates a domain record. [`Conflict::DomainExists`] if the org has it already.
    async fn create_org_domain(&self, domain: &OrgDomain) -> StoreResult<()>;
    /// A domain of `org` (IDNA ASCII form).
    async fn get_org_domain(&self, org: &OrgId, domain: &str) -> StoreResult<Option<OrgDomain>>;
    /// Every domain of `org`, ordered by name.
    async fn list_org_domains(&self, org: &OrgId) -> StoreResult<Vec<OrgDomain>>;
    /// Replaces `before` (matched on `version`, else [`Conflict::Stale`]) with `after` (version
    /// `before.version + 1`). When `after` is verified, the domain's claim is written in the same
    /// transaction ([`OrgDomain::claim`]), on condition that no other organization holds it
    /// ([`Conflict::DomainClaimed`]); the claim follows `after`'s enrollment mode.
    async fn update_org_domain(&self, before: &OrgDomain, after: &OrgDomain) -> StoreResult<()>;
    /// Deletes a domain record (matched on `version`, else [`Conflict::Stale`]) and, when it is
    /// verified, releases its claim in the same transaction.
    async fn delete_org_domain(&self, domain: &OrgDomain) -> StoreResult<()>;
    /// The claim of a verified domain (IDNA ASCII form): one key lookup.
    async fn get_domain_claim(&self, domain: &str) -> StoreResult<Option<DomainClaim>>;

    // ---- SCIM groups ----
    // A group record per group, a displayName claim per (org, name key), one member entry per
    // (org, group, member_ref), and a group counter per org, all written together. A member's
    // `groups` list in its membership mirrors its entries; both change only in `update_group`
    // (and a grant's assignments in `delete_pool`): every other membership write that would change
    // `groups` is [`Conflict::Stale`]. Every entry's member_ref names a member of the org (its user
    // id, or a SCIM id aliased to it: [`Store::find_scim_alias`]) whose `groups` lists the group;
    // every group in a member's `groups` has the entry; a group's `member_count` is its number of
    // entries.
    /// Creates an empty group (`member_count` 0; members are added with [`Store::update_group`]).
    /// Conditions: the org exists ([`Conflict::OrgMissing`]), no group of the org has its name
    /// key ([`Conflict::GroupNameTaken`]), the org has fewer than `max_groups` groups
    /// ([`Conflict::GroupLimit`]), the id is new and `member_count` is 0 ([`Conflict::Stale`]).
    async fn create_group(&self, group: &Group, max_groups: u32) -> StoreResult<()>;
    /// A group of `org`.
    async fn get_group(&self, org: &OrgId, id: &GroupId) -> StoreResult<Option<Group>>;
    /// Several groups of `org` (missing ones left out), in the order asked.
    async fn get_groups(&self, org: &OrgId, ids: &[GroupId]) -> StoreResult<Vec<Group>>;
    /// The group of `org` whose name key ([`Group::name_key`]) is `key` (a displayName is
    /// normalized with [`crate::model::group_name_key`] first): one key lookup.
    async fn find_group_by_name(&self, org: &OrgId, key: &str) -> StoreResult<Option<Group>>;
    /// Groups of `org`, ordered by id.
    async fn list_groups(&self, org: &OrgId, page: &PageRequest) -> StoreResult<Page<Group>>;
    /// How many groups `org` has (one key lookup; 0 for an unknown org).
    async fn count_groups(&self, org: &OrgId) -> StoreResult<u64>;
    /// The member refs ([`GroupMemberChange::member_ref`]) of a group of `org`, ordered by ref.
    /// `page.limit` may go up to [`crate::model::GROUP_MEMBER_PAGE`] here (not only
    /// [`crate::page::MAX_LIMIT`]); a page may hold fewer, with a cursor.
    async fn list_group_members(
        &self,
        org: &OrgId,
        group: &GroupId,
        page: &PageRequest,
    ) -> StoreResult<Page<UserId>>;
    /// Changes a group and up to [`crate::model::GROUP_MEMBER_BATCH`] of its members in one
    /// transaction: stores `after` (version `before.version + 1`, `member_count` as the caller
    /// computed it) in place of `before`, moves the displayName claim when the name key changes
    /// ([`Conflict::GroupNameTaken`]), adds or deletes each change's member entry, and applies
    /// each membership write (with its claims, indexes and counters, as
    /// [`Store::write_membership`] would, except that `groups` may change here). Nothing is
    /// written unless every condition holds. Conditions: the group is stored at `before.version`
    /// and `after` is the same group (id and org) ([`Conflict::Stale`]); every membership write
    /// is about `before.org_id` and its own conditions hold ([`Conflict::Stale`]); a member
    /// entry to add is absent and one to remove or keep is present ([`Conflict::Stale`]); the
    /// org keeps an active organization manager after all the writes together, whatever their
    /// order ([`Conflict::LastOrganizationManager`]). So that the entries and the members'
    /// `groups` stay mirrors of each other, also ([`Conflict::Stale`] otherwise, all checked on
    /// the arguments and the records the write already reads, except the alias):
    /// - each change's `member_ref` names the member its membership write is about: their user
    ///   id, or a SCIM id aliased to them ([`Store::find_scim_alias`]);
    /// - each membership write makes its edge: for `Add` the member is not in the group before
    ///   and is after, for `Remove` they are before and not after, for `Keep` they are in it
    ///   before and after; no other group's grant changes;
    /// - `after.member_count` is `before.member_count` plus the adds minus the removes;
    /// - no member (nor member_ref) comes twice in one call (the second write would be stale;
    ///   a store that cannot write one item twice in a transaction refuses it up front).
    ///
    /// The batch size is sized for updates of existing memberships (each a member entry and a
    /// membership write). More than [`crate::model::GROUP_MEMBER_BATCH`] changes, or a batch a
    /// store cannot write in one transaction, is refused with nothing written
    /// ([`StoreError::Unavailable`]): creating memberships here costs more (their email and
    /// externalId claims; the DynamoDB store fits at most 31 creations in one call), so
    /// provision members first and add them to groups after.
    async fn update_group(
        &self,
        before: &Group,
        after: &Group,
        members: &[GroupMemberChange],
    ) -> StoreResult<()>;
    /// Deletes an empty group with its displayName claim. Conditions: it is stored at
    /// `group.version` with `member_count` 0 ([`Conflict::Stale`]).
    async fn delete_group(&self, group: &Group) -> StoreResult<()>;
    /// Several memberships of `org` (missing ones left out), in the order asked: one batched read.
    async fn get_memberships(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<Membership>>;

    // ---- idempotency ----
    // One record per key scope ([`crate::idempotency::IdempotencyScope`]: caller, organization,
    // client key), kept until its `expires_at`; an expired record is as good as absent (the
    // stores delete it at leisure: DynamoDB's TTL, or the next claim of its scope).
    /// Claims `claim.scope` for a request (`claim` is in progress, `created_at` is now): stores
    /// `claim` unless an unexpired record (`expires_at > claim.created_at`) holds the scope, and
    /// then writes nothing and returns that record. One conditional write, no read before it.
    async fn claim_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<Claim>;
    /// Replaces the in-progress claim with `completed` (same scope and `created_at`, completed
    /// state, the window's `expires_at`). Condition: the stored record is that in-progress claim
    /// ([`Conflict::Stale`]: it was released, or expired and claimed again).
    async fn complete_idempotency_key(&self, completed: &IdempotencyRecord) -> StoreResult<()>;
    /// Deletes the in-progress claim `claim` so that a retry does the work. Condition: the stored
    /// record is that claim ([`Conflict::Stale`], nothing deleted).
    async fn release_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<()>;
}

/// An invitation email, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationEmail {
    /// The invitation it is for (tagged on the mail, so delivery events find it).
    pub invitation_id: InvitationId,
    /// The invitation's organization (tagged on the mail too).
    pub org_id: OrgId,
    /// Recipient.
    pub to: Email,
    /// Invitee's name, if known.
    pub invitee_name: Option<String>,
    /// Who invites (name or email).
    pub inviter: String,
    /// Organization name.
    pub org_name: String,
    /// Roles offered, each with its pool's name for pool roles.
    pub roles: Vec<(Role, Option<String>)>,
    /// The invitation token (secret: never log it).
    pub token: String,
    /// Expiry.
    pub expires_at: Timestamp,
}

/// Why mail could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

impl MailError {
    const UNAVAILABLE: &'static str = "mail service unavailable: ";

    /// The mail service itself failed (it timed out, was unreachable, throttled or answered 5xx
    /// after the mailer's own retries), rather than refusing this one mail: other mails would
    /// fail the same way for a while.
    pub fn unavailable(what: impl std::fmt::Display) -> Self {
        MailError(format!("{}{what}", Self::UNAVAILABLE))
    }

    /// Whether this is [`MailError::unavailable`].
    pub fn is_unavailable(&self) -> bool {
        self.0.starts_with(Self::UNAVAILABLE)
    }
}

/// A mail the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// The provider's id of the message (SES `MessageId`), which its delivery events carry.
    pub message_id: String,
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Renders and sends one invitation email; the provider's message id when it took it.
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<SentMail, MailError>;
}

/// What the mail provider reported about one invitation email, provider-neutral (parsed from an
/// SES event in AWS, made up by the local outbox's bounce simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEvent {
    /// The invitation the mail was tagged with.
    pub invitation_id: InvitationId,
    /// The organization the mail was tagged with.
    pub org_id: OrgId,
    /// The provider's message id.
    pub message_id: String,
    /// What happened.
    pub kind: MailEventKind,
    /// When it happened (the provider's time).
    pub at: Timestamp,
}

/// The kinds of [`MailEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEventKind {
    /// The recipient's server accepted the mail.
    Delivered,
    /// The mail bounced; `permanent` for a hard bounce (SES `Permanent`), false for a soft one
    /// (`Transient`, `Undetermined`), which SES already retried and which changes nothing.
    Bounced {
        /// A hard bounce.
        permanent: bool,
    },
    /// The recipient marked the mail as spam.
    Complained,
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// Randomness for secrets.
pub trait Randomness: Send + Sync {
    /// 32 bytes for a secret, or why the source failed.
    fn secret_bytes(&self) -> Result<[u8; 32], String>;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn secret_bytes(&self) -> Result<[u8; 32], String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }
}

/// Why a DNS lookup gave no answer (a missing name or record is an answer: no records).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DNS lookup failed: {0}")]
pub struct DnsError(pub String);

/// Looks up DNS TXT records (verified domains).
#[async_trait]
pub trait DnsTxt: Send + Sync {
    /// The TXT strings at `name` (each record's strings joined); empty when the name or the
    /// record does not exist (NXDOMAIN, NODATA). [`DnsError`] when no server answered or one
    /// answered with a failure (SERVFAIL, REFUSED, timeout).
    async fn txt_records(&self, name: &str) -> Result<Vec<String>, DnsError>;
}

/// A resolver for processes that never verify domains: every lookup fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDns;

#[async_trait]
impl DnsTxt for NoDns {
    async fn txt_records(&self, _name: &str) -> Result<Vec<String>, DnsError> {
        Err(DnsError(
            "no DNS resolver is configured in this process".into(),
        ))
    }
}
