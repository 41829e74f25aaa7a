//! The SCIM use cases over the Store port: authenticate a SCIM token, and create, read, list,
//! replace, patch and delete the organization's Users (its members, see [`crate::mapping`]).
//!
//! Store calls per request (besides the token lookup every request makes):
//! - `GET /Users/{id}`: 3 key lookups, in parallel (membership, SCIM record, SCIM id alias); 2 more
//!   for a member whose placeholder linked to a person's account (found by the alias).
//! - `GET /Users` without filter: the member counter, one page of members, one batch read of
//!   their SCIM records. `startIndex` is mapped to a store cursor by a small cache filled by the
//!   previous page ([`ScimService`] keeps it per process), so importing N users with pages of 100
//!   costs about `4 × N / 100` store calls; a page whose start is not cached walks from the
//!   nearest cached position (pages of 200) and caches what it passes.
//! - `userName eq`, `externalId eq`, `emails.value eq` filters: one or two key lookups; any other
//!   filter is evaluated over the members (2 calls per 200), refused with 400 `tooMany` when the
//!   organization has more than [`MAX_FILTER_SCAN`] members.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rollcall_domain::ErrorKind;
use rollcall_domain::email::{Email, normalize_email};
use rollcall_domain::ids::{OrgId, ScimTokenId, UserId};
use rollcall_domain::model::{
    Invitation, InvitationStatus, MemberSource, MemberStatus, Membership, PLACEHOLDER_SUB_PREFIX,
    ScimUser, Settings, Timestamp, User, user_name_key,
};
use rollcall_domain::page::{MAX_LIMIT, PageRequest};
use rollcall_domain::permissions::is_org_manager;
use rollcall_domain::ports::{Clock, Conflict, MemberFilter, MembershipWrite, Store, StoreError};
use rollcall_domain::role::{Role, merge_assignments};
use rollcall_domain::service::{MAX_PLACEHOLDERS_PER_EMAIL, authenticate_scim_token};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ScimError, scim_type};
use crate::filter::{CompValue, CompareOp, Filter, LookupKey, key_lookup};
use crate::list::ListQuery;
use crate::mapping::{
    mark_active_unassigned, member_fields, stored_resource, to_resource, user_name,
};
use crate::patch::apply_patch;
use crate::resource::normalize_user;

/// Longest `userName` or `externalId`, in bytes: both are keys of uniqueness claims (DynamoDB
/// sort keys hold at most 1024 bytes).
pub const MAX_KEY_BYTES: usize = 512;
/// Most members a filter without a key lookup is evaluated over.
pub const MAX_FILTER_SCAN: u64 = 10_000;
/// How long a cached list cursor is used.
pub const CURSOR_TTL: Duration = Duration::from_secs(15 * 60);
/// Most cached list cursors (across organizations).
pub const MAX_CURSORS: usize = 4096;
/// Most times a write is retried after a concurrent change.
const RETRIES: usize = 3;

/// The organization a SCIM request acts on, from its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimOrg {
    /// The organization.
    pub org_id: OrgId,
    /// The token presented.
    pub token_id: ScimTokenId,
}

/// The SCIM use cases. Cheap to share (`Arc`); keeps the list-cursor cache.
pub struct ScimService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cursors: CursorCache,
}

/// A store failure as a SCIM error (conflicts are translated where they are expected).
pub fn store_error(e: StoreError) -> ScimError {
    match e {
        StoreError::Unavailable(m) => {
            tracing::error!(error = %m, "store unavailable");
            ScimError::new(
                503,
                None,
                "The data store is unavailable; try again shortly",
            )
        }
        StoreError::Corrupt(m) => {
            tracing::error!(error = %m, "corrupt record");
            ScimError::internal()
        }
        StoreError::InvalidCursor => {
            tracing::error!("a store cursor was refused");
            ScimError::internal()
        }
        StoreError::Conflict(c) => {
            tracing::warn!(conflict = ?c, "unexpected store conflict");
            ScimError::new(
                409,
                None,
                "The resource changed while the request ran; try again",
            )
        }
    }
}

fn not_found(id: &str) -> ScimError {
    let id: String = id.chars().take(64).collect();
    ScimError::not_found(format!("User {id} not found"))
}

fn user_name_taken() -> ScimError {
    ScimError::uniqueness("userName is already used by another User of this organization")
}

fn external_id_taken() -> ScimError {
    ScimError::uniqueness("externalId is already used by another User of this organization")
}

fn already_member() -> ScimError {
    ScimError::uniqueness(
        "A member with this email address already exists in this organization; look it up with \
         filter=emails.value eq \"…\" and update it instead",
    )
}

fn last_manager() -> ScimError {
    ScimError::new(
        409,
        None,
        "The organization must keep at least one active organization manager",
    )
}

fn concurrent() -> ScimError {
    ScimError::new(
        409,
        None,
        "The User changed while the request ran; try again",
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
fn write_error(e: StoreError) -> ScimError {
    match e {
        StoreError::Conflict(Conflict::UserNameTaken) => user_name_taken(),
        StoreError::Conflict(Conflict::ExternalIdTaken) => external_id_taken(),
        StoreError::Conflict(Conflict::MembershipExists | Conflict::MemberEmailTaken) => {
            already_member()
        }
        StoreError::Conflict(Conflict::LastOrganizationManager) => last_manager(),
        other => store_error(other),
    }
}

/// A membership's new version.
fn bump(before: &Membership, now: Timestamp) -> Membership {
    Membership {
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    }
}

/// How omitted attributes are treated by a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Omitted {
    /// PUT: `active` and `externalId` keep their values when the body omits them (RFC 7644
    /// §3.5.1 leaves it to the server; Okta's PUT carries no `externalId`).
    Keep,
    /// PATCH: the patched resource is complete; a missing `externalId` was removed, and a missing
    /// `active` is unassigned (not returned; the member keeps their status).
    Clear,
}

impl ScimService {
    /// The use cases over `store`, with `clock` for timestamps.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        ScimService {
            store,
            clock,
            cursors: CursorCache::default(),
        }
    }

    /// The organization of a request's `Authorization` header value (`Bearer rcs_…`): one key
    /// lookup by the token's hash and a constant-time comparison. 401 otherwise.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<ScimOrg, ScimError> {
        let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(ScimError::unauthorized(
                "Authentication required: send Authorization: Bearer <SCIM token>",
            ));
        };
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => {
                return Err(ScimError::unauthorized(
                    "The Authorization header must be: Bearer <SCIM token>",
                ));
            }
        };
        match authenticate_scim_token(self.store.as_ref(), token, self.clock.now()).await {
            Ok(t) => Ok(ScimOrg {
                org_id: t.org_id,
                token_id: t.id,
            }),
            Err(e) if e.kind == ErrorKind::Unavailable => Err(ScimError::new(
                503,
                None,
                "The data store is unavailable; try again shortly",
            )),
            Err(_) => Err(ScimError::unauthorized(
                "The SCIM token is invalid or has been revoked",
            )),
        }
    }

    /// A member and its SCIM record; 404 when `id` is not a member of the organization.
    async fn load(
        &self,
        org: &ScimOrg,
        id: &str,
    ) -> Result<(Membership, Option<ScimUser>), ScimError> {
        let user = UserId::parse(id.trim()).map_err(|_| not_found(id))?;
        let (m, s, alias) = futures_util::future::join3(
            self.store.get_membership(&org.org_id, &user),
            self.store.get_scim_user(&org.org_id, &user),
            self.store.find_scim_alias(&org.org_id, &user),
        )
        .await;
        let (m, s) = (m.map_err(store_error)?, s.map_err(store_error)?);
        match (m, alias.map_err(store_error)?) {
            // A member the identity provider knows by another id (a linked placeholder's) is
            // found by that id only.
            (Some(m), _) if s.as_ref().is_none_or(|r| r.resource_id() == &user) => Ok((m, s)),
            (_, Some(linked)) => {
                let (m, s) = futures_util::future::join(
                    self.store.get_membership(&org.org_id, &linked),
                    self.store.get_scim_user(&org.org_id, &linked),
                )
                .await;
                let m = m.map_err(store_error)?.ok_or_else(|| not_found(id))?;
                Ok((m, s.map_err(store_error)?))
            }
            _ => Err(not_found(id)),
        }
    }

    /// `GET /Users/{id}`.
    pub async fn get_user(&self, org: &ScimOrg, id: &str, base: &str) -> Result<Value, ScimError> {
        let (m, s) = self.load(org, id).await?;
        Ok(to_resource(&m, s.as_ref(), base))
    }

    /// `POST /Users`: provisions a member (see the module docs of [`crate::mapping`]). The user is
    /// always a new placeholder of this organization, which becomes the person's account at their
    /// first sign-in with the address verified; the org's `scim_default_assignments` are given; a pending invitation for the
    /// email is accepted by the same write. 409 `uniqueness` for a taken `userName` or
    /// `externalId`, or when the person is already a member.
    pub async fn create_user(
        &self,
        org: &ScimOrg,
        body: &Value,
        base: &str,
    ) -> Result<Value, ScimError> {
        let resource = normalize_user(body)?;
        let fields = member_fields(&resource);
        let email = fields.email.clone().ok_or_else(|| {
            ScimError::invalid_value(
                "A member needs an email address: send emails with a value, or a userName that \
                 is an email address",
            )
        })?;
        let user_name = user_name(&resource)
            .ok_or_else(|| ScimError::invalid_value("'userName' is required"))?;
        require_key_sizes(&user_name, fields.external_id.as_deref())?;
        let stored = stored_resource(&resource);
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
            let organization = organization.map_err(store_error)?.ok_or_else(|| {
                ScimError::unauthorized("The SCIM token's organization no longer exists")
            })?;
            require_allowed_domain(&organization.settings, &email)?;
            if by_email.map_err(store_error)?.is_some() {
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
                name: fields.name.clone(),
                created_at: now,
                provisioned_by: Some(org_id.clone()),
                link_declined_at: None,
            };
            let new_user = Some(user.clone());
            let accepts = pending
                .map_err(store_error)?
                .filter(|inv| inv.is_open(now))
                .map(|inv| {
                    let after = Invitation {
                        status: InvitationStatus::Accepted,
                        accepted_at: Some(now),
                        accepted_by: Some(user.id.clone()),
                        updated_at: now,
                        version: inv.version + 1,
                        ..inv.clone()
                    };
                    (inv, after)
                });
            let mut assignments = organization.settings.scim_default_assignments.clone();
            if let Some((inv, _)) = &accepts {
                assignments = merge_assignments(&assignments, &inv.assignments);
            }
            if assignments.iter().any(|a| a.pool_id.is_some()) {
                let pools = self.store.list_pools(org_id).await.map_err(store_error)?;
                assignments.retain(|a| {
                    a.pool_id
                        .as_ref()
                        .is_none_or(|p| pools.iter().any(|x| &x.id == p))
                });
            }
            let membership = Membership {
                org_id: org_id.clone(),
                user_id: user.id.clone(),
                email: email.clone(),
                name: fields.name.clone(),
                phone: fields.phone.clone(),
                status: if fields.active == Some(false) {
                    MemberStatus::Suspended
                } else {
                    MemberStatus::Active
                },
                source: MemberSource::Scim,
                external_id: fields.external_id.clone(),
                assignments,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            let record = ScimUser {
                org_id: org_id.clone(),
                user_id: user.id.clone(),
                user_name: user_name.clone(),
                resource: stored.clone(),
                created_at: now,
                updated_at: now,
                version: 1,
                scim_id: None,
            };
            let write = MembershipWrite::Create(membership.clone());
            match self
                .store
                .provision_scim_member(
                    new_user.as_ref(),
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
                        new_user = new_user.is_some(),
                        invitation_accepted = accepts.is_some(),
                        "member provisioned over SCIM"
                    );
                    if self
                        .link_in_verified_domain(org_id, &user, &membership)
                        .await
                    {
                        // The same resource and id either way: the answer tells nothing.
                        let (m, s) = self.load(org, user.id.as_str()).await?;
                        return Ok(to_resource(&m, s.as_ref(), base));
                    }
                    return Ok(to_resource(&membership, Some(&record), base));
                }
                Err(e) if retryable(&e) => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(concurrent())
    }

    /// A verified domain of the organization vouches for its addresses: a member just provisioned
    /// with an address of such a domain that belongs to a person's account is that account's at
    /// once, without asking (as WorkOS and Clerk do for verified domains). Whether it happened;
    /// a failure only logs, and the membership then waits for the person's consent as usual.
    async fn link_in_verified_domain(
        &self,
        org: &OrgId,
        placeholder: &User,
        membership: &Membership,
    ) -> bool {
        let email = &placeholder.email;
        match self.store.get_domain_claim(email.domain()).await {
            Ok(Some(claim)) if &claim.org_id == org => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "domain claim not read; the membership waits for consent");
                return false;
            }
        }
        let owners = match self
            .store
            .list_users_by_email(email.normalized(), MAX_PLACEHOLDERS_PER_EMAIL)
            .await
        {
            Ok(owners) => owners,
            Err(e) => {
                tracing::warn!(error = %e, "owners not read; the membership waits for consent");
                return false;
            }
        };
        let Some(account) = owners.into_iter().find(|u| {
            !u.is_placeholder() && u.email_verified && u.email.normalized() == email.normalized()
        }) else {
            return false;
        };
        match self
            .store
            .link_member(placeholder, membership, &account)
            .await
        {
            Ok(_) => {
                tracing::info!(org = %org, user = %account.id, "provisioned member linked: verified domain");
                true
            }
            Err(e) => {
                tracing::warn!(org = %org, error = %e, "not linked; the membership waits for consent");
                false
            }
        }
    }

    /// `PUT /Users/{id}`: replaces the resource. `active` and `externalId` keep their values when
    /// omitted; role assignments are never touched by SCIM.
    pub async fn replace_user(
        &self,
        org: &ScimOrg,
        id: &str,
        body: &Value,
        base: &str,
    ) -> Result<Value, ScimError> {
        let resource = normalize_user(body)?;
        self.rewrite(org, id, Omitted::Keep, base, |_, _| Ok(resource.clone()))
            .await
    }

    /// `PATCH /Users/{id}`: applies the operations to the current resource (see [`crate::patch`]).
    pub async fn patch_user(
        &self,
        org: &ScimOrg,
        id: &str,
        body: &Value,
        base: &str,
    ) -> Result<Value, ScimError> {
        self.rewrite(org, id, Omitted::Clear, base, |m, s| {
            apply_patch(&to_resource(m, s, base), body).map_err(ScimError::from)
        })
        .await
    }

    /// Reads the member, computes its new resource with `next` and writes it; reads again and
    /// retries after a concurrent change.
    async fn rewrite(
        &self,
        org: &ScimOrg,
        id: &str,
        omitted: Omitted,
        base: &str,
        next: impl Fn(&Membership, Option<&ScimUser>) -> Result<Value, ScimError>,
    ) -> Result<Value, ScimError> {
        for _ in 0..RETRIES {
            let (m, s) = self.load(org, id).await?;
            let resource = next(&m, s.as_ref())?;
            match self.write(m, s, &resource, omitted, base).await {
                Err(Some(e)) => return Err(e),
                Err(None) => continue,
                Ok(v) => return Ok(v),
            }
        }
        Err(concurrent())
    }

    /// Writes a member's new resource. `Err(None)`: a concurrent change; read again and retry.
    async fn write(
        &self,
        before: Membership,
        record: Option<ScimUser>,
        resource: &Value,
        omitted: Omitted,
        base: &str,
    ) -> Result<Value, Option<ScimError>> {
        let now = self.clock.now();
        let fields = member_fields(resource);
        let user_name = user_name(resource)
            .ok_or_else(|| Some(ScimError::invalid_value("'userName' is required")))?;
        require_key_sizes(&user_name, fields.external_id.as_deref()).map_err(Some)?;
        let status = match (fields.active, omitted) {
            (Some(true), _) => MemberStatus::Active,
            (Some(false), _) => MemberStatus::Suspended,
            // PUT without `active`, or a PATCH that removed it (RFC 7644 §3.5.2.2: unassigned):
            // the member keeps their status. Only an explicit `active: true` gives access back.
            (None, _) => before.status,
        };
        let external_id = match omitted {
            Omitted::Keep => fields.external_id.clone().or(before.external_id.clone()),
            Omitted::Clear => fields.external_id.clone(),
        };
        let mut stored = stored_resource(resource);
        if fields.active.is_none() && omitted == Omitted::Clear {
            mark_active_unassigned(&mut stored);
        }
        let after = Membership {
            // An email is needed: without a usable one in the resource, the member keeps theirs.
            email: fields.email.clone().unwrap_or_else(|| before.email.clone()),
            name: fields.name.clone(),
            phone: fields.phone.clone(),
            status,
            external_id,
            ..bump(&before, now)
        };
        // A new email: the organization's domain rule, and a placeholder user (not signed in
        // yet) follows it, so that the person's first sign-in with the new address finds them;
        // only a placeholder this organization made (another organization's, or a person's
        // account, is never moved by this organization's writes).
        let mut placeholder = None;
        if after.email != before.email {
            let (organization, user, holder) = futures_util::future::join3(
                self.store.get_org(&before.org_id),
                self.store.get_user(&before.user_id),
                self.store
                    .find_membership_by_email(&before.org_id, after.email.normalized()),
            )
            .await;
            // The email claim decides; this also refuses an address held by a member stored
            // before the claims existed, which holds no claim yet.
            if holder
                .map_err(|e| Some(store_error(e)))?
                .is_some_and(|m| m.user_id != before.user_id)
            {
                return Err(Some(already_member()));
            }
            let organization =
                organization
                    .map_err(|e| Some(store_error(e)))?
                    .ok_or_else(|| {
                        Some(ScimError::unauthorized(
                            "The SCIM token's organization no longer exists",
                        ))
                    })?;
            require_allowed_domain(&organization.settings, &after.email).map_err(Some)?;
            placeholder = user
                .map_err(|e| Some(store_error(e)))?
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
            .is_some_and(|r| r.user_name == user_name && r.resource == stored);
        if unchanged_member && unchanged_record {
            return Ok(to_resource(&before, record.as_ref(), base));
        }
        let new_record = ScimUser {
            org_id: before.org_id.clone(),
            user_id: before.user_id.clone(),
            user_name,
            resource: stored,
            created_at: record.as_ref().map_or(before.created_at, |r| r.created_at),
            updated_at: now,
            version: record.as_ref().map_or(1, |r| r.version + 1),
            scim_id: record.as_ref().and_then(|r| r.scim_id.clone()),
        };
        let write = MembershipWrite::Update {
            before: before.clone(),
            after: after.clone(),
        };
        match self
            .store
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
                Ok(to_resource(&after, Some(&new_record), base))
            }
            Err(e) if retryable(&e) => Err(None),
            Err(e) => Err(Some(write_error(e))),
        }
    }

    /// `DELETE /Users/{id}`: removes the member and hands their pools, invite links and pending
    /// invitations to another active organization manager (as `DELETE /orgs/{org}/users/{usr}`
    /// does); 409 when there is none.
    pub async fn delete_user(&self, org: &ScimOrg, id: &str) -> Result<(), ScimError> {
        for _ in 0..RETRIES {
            let (member, _) = self.load(org, id).await?;
            let user = member.user_id.clone();
            let Some(successor) = self.other_org_manager(&org.org_id, &user).await? else {
                return Err(ScimError::new(
                    409,
                    None,
                    "No other active organization manager can receive this member's pools, \
                     invite links and invitations; appoint one first",
                ));
            };
            match self.store.remove_member(&member, &successor).await {
                Ok(handover) => {
                    tracing::info!(
                        org = %org.org_id,
                        member = %user,
                        successor = %successor,
                        pools = handover.pools,
                        invite_links = handover.invite_links,
                        invitations = handover.invitations,
                        "member removed over SCIM; assets handed over"
                    );
                    return Ok(());
                }
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(concurrent())
    }

    /// An active organization manager other than `not`.
    async fn other_org_manager(
        &self,
        org: &OrgId,
        not: &UserId,
    ) -> Result<Option<UserId>, ScimError> {
        let filter = MemberFilter {
            role: Some(Role::OrganizationManager),
            status: Some(MemberStatus::Active),
            ..Default::default()
        };
        let mut page = PageRequest::first(2);
        // A filtered page may come back short; follow the cursor a bounded number of times.
        for _ in 0..10 {
            let found = self
                .store
                .list_memberships(org, &filter, &page)
                .await
                .map_err(store_error)?;
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

    /// `GET /Users` and `POST /Users/.search`: a ListResponse (projection applied).
    pub async fn list_users(
        &self,
        org: &ScimOrg,
        query: &ListQuery,
        base: &str,
    ) -> Result<Value, ScimError> {
        let Some(filter) = &query.filter else {
            return self.list_all(org, query, base).await;
        };
        let matches = match key_lookup(filter) {
            Some(lookup) => self.lookup(org, &lookup.key, base).await?,
            None => self.scan(org, filter, base).await?,
        };
        let mut found = Vec::with_capacity(matches.len());
        for r in matches {
            if filter.matches(&r)? {
                found.push(r);
            }
        }
        Ok(query.response(query.page(&found), found.len()))
    }

    /// Resources of members with their SCIM records (one batch read).
    async fn resources(
        &self,
        org: &OrgId,
        members: Vec<Membership>,
        base: &str,
    ) -> Result<Vec<Value>, ScimError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
        let records = self
            .store
            .get_scim_users(org, &ids)
            .await
            .map_err(store_error)?;
        let by_user: HashMap<&UserId, &ScimUser> =
            records.iter().map(|r| (&r.user_id, r)).collect();
        Ok(members
            .iter()
            .map(|m| to_resource(m, by_user.get(&m.user_id).copied(), base))
            .collect())
    }

    /// Candidates for a key-lookup filter (the whole filter is evaluated on them afterwards).
    async fn lookup(
        &self,
        org: &ScimOrg,
        key: &LookupKey,
        base: &str,
    ) -> Result<Vec<Value>, ScimError> {
        let org_id = &org.org_id;
        let by_email = |raw: &str| {
            let email = normalize_email(raw);
            async move {
                if rollcall_domain::email::Email::parse(&email).is_none() {
                    return Ok(None);
                }
                self.store.find_membership_by_email(org_id, &email).await
            }
        };
        let member = match key {
            LookupKey::UserName(v) => {
                let record = self
                    .store
                    .find_scim_user_by_user_name(org_id, &user_name_key(v))
                    .await
                    .map_err(store_error)?;
                if let Some(r) = record {
                    let m = self
                        .store
                        .get_membership(org_id, &r.user_id)
                        .await
                        .map_err(store_error)?;
                    return Ok(m
                        .map(|m| to_resource(&m, Some(&r), base))
                        .into_iter()
                        .collect());
                }
                // A member without a SCIM record has their email as userName.
                by_email(v).await.map_err(store_error)?
            }
            LookupKey::ExternalId(v) => self
                .store
                .find_membership_by_external_id(org_id, v)
                .await
                .map_err(store_error)?,
            LookupKey::Email(v) => by_email(v).await.map_err(store_error)?,
        };
        let Some(m) = member else {
            return Ok(Vec::new());
        };
        let record = self
            .store
            .get_scim_user(org_id, &m.user_id)
            .await
            .map_err(store_error)?;
        Ok(vec![to_resource(&m, record.as_ref(), base)])
    }

    /// Every member's resource, for a filter without a key lookup; bounded by [`MAX_FILTER_SCAN`].
    async fn scan(
        &self,
        org: &ScimOrg,
        filter: &Filter,
        base: &str,
    ) -> Result<Vec<Value>, ScimError> {
        let org_id = &org.org_id;
        let total = self
            .store
            .count_memberships(org_id)
            .await
            .map_err(store_error)?;
        if total > MAX_FILTER_SCAN {
            return Err(ScimError::bad_request(
                scim_type::TOO_MANY,
                format!(
                    "This filter is evaluated over the organization's members, and it has more \
                     than {MAX_FILTER_SCAN}; filter with userName eq, externalId eq or \
                     emails.value eq instead"
                ),
            ));
        }
        let member_filter = MemberFilter {
            status: status_hint(filter),
            ..Default::default()
        };
        let mut page = PageRequest::first(MAX_LIMIT);
        let max_pages = MAX_FILTER_SCAN as usize / MAX_LIMIT + 10;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let found = self
                .store
                .list_memberships(org_id, &member_filter, &page)
                .await
                .map_err(store_error)?;
            out.extend(self.resources(org_id, found.items, base).await?);
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(out),
            }
        }
        Err(ScimError::bad_request(
            scim_type::TOO_MANY,
            format!("This filter would scan more than {MAX_FILTER_SCAN} members"),
        ))
    }

    /// An unfiltered page: `totalResults` from the member counter, the page from the cursor cache.
    async fn list_all(
        &self,
        org: &ScimOrg,
        query: &ListQuery,
        base: &str,
    ) -> Result<Value, ScimError> {
        let org_id = &org.org_id;
        let total = self
            .store
            .count_memberships(org_id)
            .await
            .map_err(store_error)?;
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let position = query.start_index.saturating_sub(1);
        if query.count == 0 || position >= total {
            return Ok(query.response(&[], total));
        }
        let members = self.members_at(org_id, position, query.count).await?;
        let resources = self.resources(org_id, members, base).await?;
        Ok(query.response(&resources, total))
    }

    /// `count` members from 0-based `position` in user-id order, using and filling the cursor cache.
    async fn members_at(
        &self,
        org: &OrgId,
        position: usize,
        count: usize,
    ) -> Result<Vec<Membership>, ScimError> {
        match self.walk(org, position, count, true).await {
            Err(StoreError::InvalidCursor) => {
                self.cursors.forget(org);
                self.walk(org, position, count, false).await
            }
            other => other,
        }
        .map_err(store_error)
    }

    async fn walk(
        &self,
        org: &OrgId,
        position: usize,
        count: usize,
        use_cache: bool,
    ) -> Result<Vec<Membership>, StoreError> {
        let all = MemberFilter::default();
        let (mut at, mut cursor) = match use_cache {
            true if position > 0 => self
                .cursors
                .nearest(org, position)
                .map_or((0, None), |(at, c)| (at, Some(c))),
            _ => (0, None),
        };
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
                    self.cursors.put(org, at, &c);
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
                    self.cursors.put(org, position + out.len(), &c);
                    cursor = Some(c);
                }
                None => break,
            }
        }
        Ok(out)
    }
}

/// 400 `invalidValue` for a `userName` or `externalId` longer than [`MAX_KEY_BYTES`] (they are
/// unique per organization, so the stores key claims on them).
fn require_key_sizes(user_name: &str, external_id: Option<&str>) -> Result<(), ScimError> {
    for (name, value) in [("userName", Some(user_name)), ("externalId", external_id)] {
        if value.is_some_and(|v| v.len() > MAX_KEY_BYTES) {
            return Err(ScimError::invalid_value(format!(
                "'{name}' is longer than {MAX_KEY_BYTES} bytes (UTF-8)"
            )));
        }
    }
    Ok(())
}

/// 400 `invalidValue` when the organization's `allowed_email_domains` does not allow `email` (the
/// same rule invitations follow).
fn require_allowed_domain(settings: &Settings, email: &Email) -> Result<(), ScimError> {
    if settings.allows_domain(email) {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "The email domain {} is not allowed by this organization's allowed_email_domains",
        email.domain()
    )))
}

/// `active eq true|false` as a top-level conjunct: a status the store can filter on.
fn status_hint(filter: &Filter) -> Option<MemberStatus> {
    match filter {
        Filter::And(l, r) => status_hint(l).or_else(|| status_hint(r)),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Bool(b),
        } if path.urn.is_none() && path.sub.is_none() && path.name == "active" => Some(if *b {
            MemberStatus::Active
        } else {
            MemberStatus::Suspended
        }),
        _ => None,
    }
}

/// Store cursors by (organization, 0-based position), so that the page starting where the last
/// one ended is one read. Entries expire after [`CURSOR_TTL`]; at most [`MAX_CURSORS`] are kept.
#[derive(Default)]
struct CursorCache {
    entries: Mutex<HashMap<(OrgId, usize), (String, Instant)>>,
}

impl CursorCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(OrgId, usize), (String, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached cursor at the largest position `<= position` of `org`.
    fn nearest(&self, org: &OrgId, position: usize) -> Option<(usize, String)> {
        let map = self.lock();
        map.iter()
            .filter(|((o, at), (_, t))| o == org && *at <= position && t.elapsed() < CURSOR_TTL)
            .max_by_key(|((_, at), _)| *at)
            .map(|((_, at), (c, _))| (*at, c.clone()))
    }

    fn put(&self, org: &OrgId, position: usize, cursor: &str) {
        let mut map = self.lock();
        if map.len() >= MAX_CURSORS {
            map.retain(|_, (_, t)| t.elapsed() < CURSOR_TTL);
        }
        if map.len() >= MAX_CURSORS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert((org.clone(), position), (cursor.to_owned(), Instant::now()));
    }

    fn forget(&self, org: &OrgId) {
        self.lock().retain(|(o, _), _| o != org);
    }
}
