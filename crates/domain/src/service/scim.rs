//! SCIM members: the use cases behind an identity provider's `/Users` (the `scim` crate maps
//! User resources to the commands here and the results back; crates/api serves them).
//! Provisioning, update (suspension and reactivation are updates of `active`), removal with
//! hand-over, and the reads SCIM lists are made of.
//!
//! Store calls per request (besides the token lookup every request makes):
//! - one member by SCIM id ([`Service::scim_member`]): 3 key lookups, in parallel (membership,
//!   SCIM record, SCIM id alias); 2 more for a member whose placeholder linked to a person's
//!   account (found by the alias).
//! - a page in position order ([`Service::scim_list`]): the member counter, one page of members,
//!   one batch read of their SCIM records. The position is mapped to a store cursor by the
//!   caller's [`ListCursors`] (filled by the previous page), so importing N users with pages of
//!   100 costs about `4 × N / 100` store calls; a page whose start is not known walks from the
//!   nearest known position (pages of 200) and records what it passes.
//! - a key lookup ([`Service::scim_find`]: `userName`, `externalId`, email): one or two key
//!   lookups; a scan ([`Service::scim_scan`]) reads every member (2 calls per 200) and is refused
//!   when the organization has more than [`MAX_FILTER_SCAN`] members.
//! - a write (update, removal; and for groups create, update, delete): one more key lookup, the
//!   organization (whose `audit_retention_days` the write's audit entry is kept for), in
//!   parallel with the first read of the member or group, so it adds no round trip.

use std::collections::HashMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{RETRIES, Service, require_allowed_domain};
use crate::audit::{self, Actor, AuditAction, Origin, RequestMeta, Target, TargetKind};
use crate::email::{Email, normalize_email};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{OrgId, ScimTokenId, UserId};
use crate::model::{
    MemberSource, MemberStatus, Membership, Organization, PLACEHOLDER_SUB_PREFIX, ScimUser, User,
    user_name_key,
};
use crate::page::{MAX_LIMIT, PageRequest};
use crate::ports::{Conflict, ListCursors, MemberFilter, MembershipWrite, StoreError};
use crate::role::merge_assignments;

use super::members::RemovedMember;

/// Longest `userName` or `externalId`, in bytes: both are keys of uniqueness claims (DynamoDB
/// sort keys hold at most 1024 bytes).
pub const MAX_KEY_BYTES: usize = 512;
/// Most members a scan ([`Service::scim_scan`]) reads.
pub const MAX_FILTER_SCAN: u64 = 10_000;

/// The organization a SCIM request acts on, from its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimOrg {
    /// The organization.
    pub org_id: OrgId,
    /// The token presented.
    pub token_id: ScimTokenId,
    /// Where the request came from (for the audit log).
    pub request: RequestMeta,
}

impl ScimOrg {
    /// The identity provider as the author of changes: its token is the audit log's actor.
    pub fn origin(&self) -> Origin {
        Origin {
            actor: Actor::ScimToken {
                id: self.token_id.clone(),
            },
            request: self.request.clone(),
        }
    }
}

/// A member as SCIM sees it: the membership and its SCIM record (members who joined by invitation
/// or invite link have none).
#[derive(Debug, Clone, PartialEq)]
pub struct ScimMember {
    /// The membership.
    pub membership: Membership,
    /// The SCIM record, when the identity provider wrote one.
    pub record: Option<ScimUser>,
}

/// What a SCIM write asks of a member (the `scim` crate maps a User resource to it).
#[derive(Debug, Clone, PartialEq)]
pub struct ScimMemberCommand {
    /// `userName` (required; unique in the organization, case-insensitively).
    pub user_name: Option<String>,
    /// The member's email (required to provision; an update without one keeps the member's).
    pub email: Option<Email>,
    /// Display name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// `externalId` (unique in the organization).
    pub external_id: Option<String>,
    /// `active`, when the resource says.
    pub active: Option<bool>,
    /// The resource as the SCIM record keeps it.
    pub resource: Value,
}

/// How an update treats what the command leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omitted {
    /// A replace (`PUT`): `externalId` keeps its value when omitted (RFC 7644 §3.5.1 leaves it
    /// to the server; Okta's PUT carries no `externalId`).
    Keep,
    /// A patched, complete resource (`PATCH`): a missing `externalId` was removed.
    Clear,
}

/// A key a SCIM filter can be answered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimKey {
    /// `userName` (case-insensitive; a member without a SCIM record has their email as userName).
    UserName(String),
    /// `externalId` (case-exact).
    ExternalId(String),
    /// An email address.
    Email(String),
}

/// One page of members in position order, with the organization's member count.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimPage {
    /// How many members the organization has.
    pub total: usize,
    /// The page.
    pub members: Vec<ScimMember>,
}

fn member_not_found(id: &str) -> Error {
    let id: String = id.chars().take(64).collect();
    Error::not_found(ErrorCode::MemberNotFound, format!("User {id} not found"))
}

fn user_name_taken() -> Error {
    Error::conflict(
        ErrorCode::UserNameTaken,
        "userName is already used by another User of this organization",
    )
}

fn external_id_taken() -> Error {
    Error::conflict(
        ErrorCode::ExternalIdTaken,
        "externalId is already used by another User of this organization",
    )
}

fn already_member() -> Error {
    Error::conflict(
        ErrorCode::AlreadyMember,
        "A member with this email address already exists in this organization; look it up with \
         filter=emails.value eq \"…\" and update it instead",
    )
}

fn concurrent() -> Error {
    Error::conflict(
        ErrorCode::ConcurrentModification,
        "The User changed while the request ran; try again",
    )
}

fn org_gone() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        ErrorCode::Unauthenticated,
        "The SCIM token's organization no longer exists",
    )
}

/// Whether a write's conflict is worth a fresh read and another try.
fn retryable(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Conflict(
            Conflict::Stale | Conflict::InvitationNotPending | Conflict::PoolMissing(_)
        )
    )
}

/// Translates the conflicts of a member write.
fn write_error(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(Conflict::UserNameTaken) => user_name_taken(),
        StoreError::Conflict(Conflict::ExternalIdTaken) => external_id_taken(),
        StoreError::Conflict(Conflict::MembershipExists | Conflict::MemberEmailTaken) => {
            already_member()
        }
        other => other.into(),
    }
}

/// 400 `validation_error` unless `userName` is given and it and `externalId` fit
/// [`MAX_KEY_BYTES`] (they are unique per organization, so the stores key claims on them).
fn require_keys(user_name: Option<&str>, external_id: Option<&str>) -> Result<String> {
    let user_name = user_name
        .ok_or_else(|| Error::invalid(ErrorCode::ValidationError, "'userName' is required"))?;
    for (name, value) in [("userName", Some(user_name)), ("externalId", external_id)] {
        if value.is_some_and(|v| v.len() > MAX_KEY_BYTES) {
            return Err(Error::invalid(
                ErrorCode::ValidationError,
                format!("'{name}' is longer than {MAX_KEY_BYTES} bytes (UTF-8)"),
            ));
        }
    }
    Ok(user_name.to_owned())
}

impl Service {
    /// The organization of a SCIM request's bearer token (see
    /// [`Service::authenticate_scim_token`]).
    pub async fn scim_org(&self, presented: &str) -> Result<ScimOrg> {
        let token = self.authenticate_scim_token(presented).await?;
        Ok(ScimOrg {
            org_id: token.org_id,
            token_id: token.id,
            request: RequestMeta::default(),
        })
    }

    /// The member the identity provider knows by `id`; 404 `member_not_found` when `id` is not a
    /// member of the organization.
    pub async fn scim_member(&self, org: &ScimOrg, id: &str) -> Result<ScimMember> {
        let user = UserId::parse(id.trim()).map_err(|_| member_not_found(id))?;
        let (m, s, alias) = futures_util::future::join3(
            self.store.get_membership(&org.org_id, &user),
            self.store.get_scim_user(&org.org_id, &user),
            self.store.find_scim_alias(&org.org_id, &user),
        )
        .await;
        let (m, s) = (m?, s?);
        match (m, alias?) {
            // A member the identity provider knows by another id (a linked placeholder's) is
            // found by that id only.
            (Some(membership), _) if s.as_ref().is_none_or(|r| r.resource_id() == &user) => {
                Ok(ScimMember {
                    membership,
                    record: s,
                })
            }
            (_, Some(linked)) => {
                let (m, s) = futures_util::future::join(
                    self.store.get_membership(&org.org_id, &linked),
                    self.store.get_scim_user(&org.org_id, &linked),
                )
                .await;
                Ok(ScimMember {
                    membership: m?.ok_or_else(|| member_not_found(id))?,
                    record: s?,
                })
            }
            _ => Err(member_not_found(id)),
        }
    }

    /// Provisions a member. The user is always a new placeholder of this organization, which
    /// becomes the person's account at their first sign-in with the address verified (or at once,
    /// when the organization verified the address's domain); the organization's
    /// `scim_default_assignments` are given; a pending invitation for the email is accepted by the
    /// same write. 409 for a taken `userName` or `externalId`, or when the person is already a
    /// member.
    pub async fn scim_provision(
        &self,
        org: &ScimOrg,
        command: &ScimMemberCommand,
    ) -> Result<ScimMember> {
        let email = command.email.clone().ok_or_else(|| {
            Error::invalid(
                ErrorCode::ValidationError,
                "A member needs an email address: send emails with a value, or a userName that \
                 is an email address",
            )
        })?;
        let user_name = require_keys(command.user_name.as_deref(), command.external_id.as_deref())?;
        let org_id = &org.org_id;
        let normalized = email.normalized();
        for _ in 0..RETRIES {
            let now = self.clock.now();
            let (organization, by_email, pending) = futures_util::future::join3(
                self.store.get_org(org_id),
                self.store.find_membership_by_email(org_id, normalized),
                self.store.find_pending_invitation(org_id, normalized),
            )
            .await;
            let organization = organization?.ok_or_else(org_gone)?;
            require_allowed_domain(&organization, &email)?;
            if by_email?.is_some() {
                return Err(already_member());
            }
            // Always a new placeholder of this organization alone, never an existing account
            // (found by email, it would tell this organization that the account exists and put
            // the organization in the person's `/me` without their consent), and never another
            // organization's placeholder (whose email this organization could then move). The
            // placeholder becomes the person's account at their first sign-in with the address
            // verified.
            let user = User {
                id: UserId::from_uuid(Uuid::now_v7()),
                sub: format!("{PLACEHOLDER_SUB_PREFIX}{}", Uuid::now_v7().simple()),
                email: email.clone(),
                // The organization's identity provider asserts the address, not the person.
                email_verified: false,
                name: command.name.clone(),
                created_at: now,
                provisioned_by: Some(org_id.clone()),
                link_declined_at: None,
            };
            let accepts = pending?.filter(|inv| inv.is_open(now)).map(|inv| {
                let after = inv.accepted(&user.id, now);
                (inv, after)
            });
            let mut assignments = organization.settings.scim_default_assignments.clone();
            if let Some((inv, _)) = &accepts {
                assignments = merge_assignments(&assignments, &inv.assignments);
            }
            if assignments.iter().any(|a| a.pool_id.is_some()) {
                let pools = self.store.list_pools(org_id).await?;
                assignments = super::pools::on_existing_pools(&assignments, &pools).0;
            }
            let membership = Membership {
                direct_assignments: None,
                groups: Vec::new(),
                org_id: org_id.clone(),
                user_id: user.id.clone(),
                email: email.clone(),
                name: command.name.clone(),
                phone: command.phone.clone(),
                status: if command.active == Some(false) {
                    MemberStatus::Suspended
                } else {
                    MemberStatus::Active
                },
                source: MemberSource::Scim,
                external_id: command.external_id.clone(),
                assignments,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            let record = ScimUser {
                org_id: org_id.clone(),
                user_id: user.id.clone(),
                user_name: user_name.clone(),
                resource: command.resource.clone(),
                created_at: now,
                updated_at: now,
                version: 1,
                scim_id: None,
            };
            let write = MembershipWrite::Create(membership.clone());
            let recorded = self.audited(
                &org.origin(),
                &organization,
                AuditAction::MemberProvisioned,
                Target::new(TargetKind::Member, &user.id),
                json!({
                    "email": membership.email.to_string(),
                    "user_name": record.user_name,
                    "external_id": membership.external_id,
                    "status": membership.status,
                    "assignments": membership.assignments,
                    "accepted_invitation_id": accepts.as_ref().map(|(inv, _)| &inv.id),
                }),
            );
            match recorded
                .provision_scim_member(
                    Some(&user),
                    &write,
                    &record,
                    accepts.as_ref().map(|(b, a)| (b, a)),
                    now,
                )
                .await
            {
                Ok(()) => {
                    tracing::info!(
                        org = %org_id,
                        user = %user.id,
                        new_user = true,
                        invitation_accepted = accepts.is_some(),
                        "member provisioned over SCIM"
                    );
                    if self
                        .link_in_verified_domain(&org.origin(), &organization, &user, &membership)
                        .await
                    {
                        // The same resource and id either way: the answer tells nothing.
                        return self.scim_member(org, user.id.as_str()).await;
                    }
                    return Ok(ScimMember {
                        membership,
                        record: Some(record),
                    });
                }
                Err(e) if retryable(&e) => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(concurrent())
    }

    /// Updates the member the identity provider knows by `id` to what `next` makes of it (a
    /// replaced or patched resource): name, email, phone, `externalId`, status (`active: false`
    /// suspends, only an explicit `active: true` reactivates) and the SCIM record; role
    /// assignments are never touched. Reads again and retries after a concurrent change.
    pub async fn scim_update<E: From<Error>>(
        &self,
        org: &ScimOrg,
        id: &str,
        omitted: Omitted,
        next: impl Fn(&ScimMember) -> std::result::Result<ScimMemberCommand, E>,
    ) -> std::result::Result<ScimMember, E> {
        // The organization (its audit retention) is read with the member: no extra round trip.
        let (organization, first) =
            futures_util::try_join!(self.scim_organization(org), self.scim_member(org, id))?;
        let mut first = Some(first);
        for _ in 0..RETRIES {
            let current = match first.take() {
                Some(member) => member,
                None => self.scim_member(org, id).await?,
            };
            let command = next(&current)?;
            if let Some(done) = self
                .scim_write(org, &organization, current, &command, omitted)
                .await?
            {
                return Ok(done);
            }
        }
        Err(concurrent().into())
    }

    /// Writes a member's update. `None`: a concurrent change; read again and retry.
    async fn scim_write(
        &self,
        org: &ScimOrg,
        organization: &Organization,
        current: ScimMember,
        command: &ScimMemberCommand,
        omitted: Omitted,
    ) -> Result<Option<ScimMember>> {
        let ScimMember {
            membership: before,
            record,
        } = current;
        let now = self.clock.now();
        let user_name = require_keys(command.user_name.as_deref(), command.external_id.as_deref())?;
        let status = match command.active {
            Some(true) => MemberStatus::Active,
            Some(false) => MemberStatus::Suspended,
            // PUT without `active`, or a PATCH that removed it (RFC 7644 §3.5.2.2: unassigned):
            // the member keeps their status. Only an explicit `active: true` gives access back.
            None => before.status,
        };
        let external_id = match omitted {
            Omitted::Keep => command.external_id.clone().or(before.external_id.clone()),
            Omitted::Clear => command.external_id.clone(),
        };
        let after = Membership {
            // An email is needed: without a usable one in the resource, the member keeps theirs.
            email: command
                .email
                .clone()
                .unwrap_or_else(|| before.email.clone()),
            name: command.name.clone(),
            phone: command.phone.clone(),
            status,
            external_id,
            updated_at: now,
            version: before.version + 1,
            ..before.clone()
        };
        // A new email: the organization's domain rule, and a placeholder user (not signed in
        // yet) follows it, so that the person's first sign-in with the new address finds them;
        // only a placeholder this organization made (another organization's, or a person's
        // account, is never moved by this organization's writes).
        let mut placeholder = None;
        if after.email != before.email {
            let (user, holder) = futures_util::future::join(
                self.store.get_user(&before.user_id),
                self.store
                    .find_membership_by_email(&before.org_id, after.email.normalized()),
            )
            .await;
            // The email claim decides; this also refuses an address held by a member stored
            // before the claims existed, which holds no claim yet.
            if holder?.is_some_and(|m| m.user_id != before.user_id) {
                return Err(already_member());
            }
            require_allowed_domain(organization, &after.email)?;
            placeholder = user?
                .filter(|u| u.is_placeholder_of(&before.org_id) && u.email != after.email)
                .map(|u| {
                    let moved = User {
                        email: after.email.clone(),
                        ..u.clone()
                    };
                    (u, moved)
                });
        }
        let unchanged_member = after.email == before.email
            && after.name == before.name
            && after.phone == before.phone
            && after.status == before.status
            && after.external_id == before.external_id;
        let unchanged_record = record
            .as_ref()
            .is_some_and(|r| r.user_name == user_name && r.resource == command.resource);
        if unchanged_member && unchanged_record {
            return Ok(Some(ScimMember {
                membership: before,
                record,
            }));
        }
        let new_record = ScimUser {
            org_id: before.org_id.clone(),
            user_id: before.user_id.clone(),
            user_name,
            resource: command.resource.clone(),
            created_at: record.as_ref().map_or(before.created_at, |r| r.created_at),
            updated_at: now,
            version: record.as_ref().map_or(1, |r| r.version + 1),
            scim_id: record.as_ref().and_then(|r| r.scim_id.clone()),
        };
        let write = MembershipWrite::Update {
            before: before.clone(),
            after: after.clone(),
        };
        let action = match (before.status, after.status) {
            (MemberStatus::Active, MemberStatus::Suspended) => AuditAction::MemberSuspended,
            (MemberStatus::Suspended, MemberStatus::Active) => AuditAction::MemberReactivated,
            _ => AuditAction::MemberUpdated,
        };
        let mut details = audit::changes(&before, &after, &["version", "updated_at"]);
        if let (Some(map), Some(old)) = (details.as_object_mut(), record.as_ref())
            && old.user_name != new_record.user_name
        {
            map.insert(
                "user_name".to_owned(),
                json!({ "before": old.user_name, "after": new_record.user_name }),
            );
        }
        let recorded = self.audited(
            &org.origin(),
            organization,
            action,
            Target::new(TargetKind::Member, &before.user_id),
            details,
        );
        match recorded
            .update_scim_member(
                &write,
                record.as_ref(),
                &new_record,
                placeholder.as_ref().map(|(b, a)| (b, a)),
            )
            .await
        {
            Ok(()) => {
                if before.status != after.status {
                    tracing::info!(
                        org = %after.org_id,
                        user = %after.user_id,
                        active = after.status == MemberStatus::Active,
                        "member status changed over SCIM"
                    );
                }
                Ok(Some(ScimMember {
                    membership: after,
                    record: Some(new_record),
                }))
            }
            Err(e) if retryable(&e) => Ok(None),
            Err(e) => Err(write_error(e)),
        }
    }

    /// Removes the member the identity provider knows by `id` and hands their pools, invite links
    /// and pending invitations to another active organization manager (as
    /// [`Service::remove_member`] does); 409 `last_organization_manager` when there is none.
    pub async fn scim_remove(&self, org: &ScimOrg, id: &str) -> Result<RemovedMember> {
        let (organization, first) =
            futures_util::try_join!(self.scim_organization(org), self.scim_member(org, id))?;
        let mut first = Some(first);
        for _ in 0..RETRIES {
            let member = match first.take() {
                Some(member) => member,
                None => self.scim_member(org, id).await?,
            }
            .membership;
            let user = member.user_id.clone();
            let successor = self
                .other_org_manager(&org.org_id, &user)
                .await?
                .ok_or_else(Error::last_manager)?;
            match self
                .remove_with_handover(&org.origin(), &organization, &member, &successor)
                .await
            {
                Ok(removed) => {
                    tracing::info!(
                        org = %org.org_id,
                        member = %user,
                        successor = %successor,
                        pools = removed.handover.pools,
                        invite_links = removed.handover.invite_links,
                        invitations = removed.handover.invitations,
                        "member removed over SCIM; assets handed over"
                    );
                    return Ok(removed);
                }
                Err(e) if e.code == ErrorCode::ConcurrentModification => continue,
                Err(e) => return Err(e),
            }
        }
        Err(concurrent())
    }

    /// The organization of a SCIM request (one key lookup), for the writes that record it.
    pub(crate) async fn scim_organization(&self, org: &ScimOrg) -> Result<Organization> {
        self.store.get_org(&org.org_id).await?.ok_or_else(org_gone)
    }

    /// The member a key names, if any (a filter's candidate; the caller evaluates the whole
    /// filter on it).
    pub async fn scim_find(&self, org: &ScimOrg, key: &ScimKey) -> Result<Option<ScimMember>> {
        let org_id = &org.org_id;
        let by_email = |raw: &str| {
            let email = normalize_email(raw);
            async move {
                if Email::parse(&email).is_none() {
                    return Ok(None);
                }
                self.store.find_membership_by_email(org_id, &email).await
            }
        };
        let member = match key {
            ScimKey::UserName(v) => {
                let record = self
                    .store
                    .find_scim_user_by_user_name(org_id, &user_name_key(v))
                    .await?;
                if let Some(r) = record {
                    let m = self.store.get_membership(org_id, &r.user_id).await?;
                    return Ok(m.map(|membership| ScimMember {
                        membership,
                        record: Some(r),
                    }));
                }
                // A member without a SCIM record has their email as userName.
                by_email(v).await?
            }
            ScimKey::ExternalId(v) => self.store.find_membership_by_external_id(org_id, v).await?,
            ScimKey::Email(v) => by_email(v).await?,
        };
        let Some(membership) = member else {
            return Ok(None);
        };
        let record = self
            .store
            .get_scim_user(org_id, &membership.user_id)
            .await?;
        Ok(Some(ScimMember { membership, record }))
    }

    /// Every member (of `status`, when given), for a filter no key answers; `None` when the
    /// organization has more than [`MAX_FILTER_SCAN`] members.
    pub async fn scim_scan(
        &self,
        org: &ScimOrg,
        status: Option<MemberStatus>,
    ) -> Result<Option<Vec<ScimMember>>> {
        let org_id = &org.org_id;
        if self.store.count_memberships(org_id).await? > MAX_FILTER_SCAN {
            return Ok(None);
        }
        let filter = MemberFilter {
            status,
            ..Default::default()
        };
        let mut page = PageRequest::first(MAX_LIMIT);
        let max_pages = MAX_FILTER_SCAN as usize / MAX_LIMIT + 10;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let found = self.store.list_memberships(org_id, &filter, &page).await?;
            out.extend(self.with_records(org_id, found.items).await?);
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(Some(out)),
            }
        }
        Ok(None)
    }

    /// `count` members from 0-based `position` in user-id order, and the organization's member
    /// count; `cursors` maps positions to store cursors (used and filled).
    pub async fn scim_list(
        &self,
        org: &ScimOrg,
        position: usize,
        count: usize,
        cursors: &dyn ListCursors,
    ) -> Result<ScimPage> {
        let org_id = &org.org_id;
        let total = self.store.count_memberships(org_id).await?;
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        if count == 0 || position >= total {
            return Ok(ScimPage {
                total,
                members: Vec::new(),
            });
        }
        let members = match self.walk(org_id, position, count, cursors, true).await {
            Err(StoreError::InvalidCursor) => {
                cursors.forget(org_id);
                self.walk(org_id, position, count, cursors, false).await
            }
            other => other,
        }?;
        Ok(ScimPage {
            total,
            members: self.with_records(org_id, members).await?,
        })
    }

    /// Members with their SCIM records (one batch read).
    async fn with_records(&self, org: &OrgId, members: Vec<Membership>) -> Result<Vec<ScimMember>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
        let records = self.store.get_scim_users(org, &ids).await?;
        let mut by_user: HashMap<UserId, ScimUser> = records
            .into_iter()
            .map(|r| (r.user_id.clone(), r))
            .collect();
        Ok(members
            .into_iter()
            .map(|membership| ScimMember {
                record: by_user.remove(&membership.user_id),
                membership,
            })
            .collect())
    }

    /// `count` members from `position`, starting from the nearest known cursor when `use_known`,
    /// and recording the cursors passed in `cursors`.
    async fn walk(
        &self,
        org: &OrgId,
        position: usize,
        count: usize,
        cursors: &dyn ListCursors,
        use_known: bool,
    ) -> std::result::Result<Vec<Membership>, StoreError> {
        let all = MemberFilter::default();
        let (mut at, mut cursor) = match use_known {
            true if position > 0 => cursors
                .nearest(org, position)
                .map_or((0, None), |(at, c)| (at, Some(c))),
            _ => (0, None),
        };
        let remember = |at: usize, c: &str| cursors.put(org, at, c);
        // Full pages need `(position - at) / 200 + count / 200` reads; short pages a few more.
        let mut budget = 2 * ((position - at) / MAX_LIMIT + count / MAX_LIMIT) + 64;
        let mut read = async |cursor: Option<String>, limit: usize| {
            if budget == 0 {
                return Err(StoreError::Unavailable(
                    "the member list did not advance".into(),
                ));
            }
            budget -= 1;
            let page = PageRequest { limit, cursor };
            self.store.list_memberships(org, &all, &page).await
        };
        while at < position {
            let page = read(cursor.clone(), MAX_LIMIT.min(position - at)).await?;
            at += page.items.len();
            match page.next_cursor {
                Some(c) => {
                    remember(at, &c);
                    cursor = Some(c);
                }
                None => return Ok(Vec::new()),
            }
        }
        let mut out: Vec<Membership> = Vec::with_capacity(count);
        while out.len() < count {
            let page = read(cursor.clone(), MAX_LIMIT.min(count - out.len())).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => {
                    remember(position + out.len(), &c);
                    cursor = Some(c);
                }
                None => break,
            }
        }
        Ok(out)
    }
}
