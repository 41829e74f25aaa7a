//! The [`Store`] port on redb, an embedded file database: for local runs and tests.
//!
//! Every Store method is one redb transaction: a read transaction on tokio's blocking pool, or a
//! write transaction (whose conditions are plain reads inside it, since redb runs one writer at a
//! time) on the store's writer thread, which makes writes that arrive together durable with one
//! sync ([`writer`]). Values are JSON of the domain entities; the tables and keys are in [`keys`].

mod audit;
mod db;
mod domains;
mod groups;
mod idempotency;
mod integrity;
mod keys;
mod ops;
mod writer;

pub use writer::GroupCommitStats;

use async_trait::async_trait;
use db::db_err;
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use rollcall_domain::audit::{AuditEvent, AuditFilter};
use rollcall_domain::idempotency::{Claim, IdempotencyRecord};
use rollcall_domain::ids::GroupId;
use rollcall_domain::ids::{InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use rollcall_domain::model::Group;
use rollcall_domain::model::{
    Invitation, InviteLink, Membership, Organization, Pool, ScimToken, ScimUser, Timestamp, User,
};
use rollcall_domain::org_domain::{DomainClaim, OrgDomain};
use rollcall_domain::page::{Page, PageRequest};
use rollcall_domain::ports::GroupMemberChange;
use rollcall_domain::ports::{
    Conflict, Handover, InvitationFilter, InviteLimits, MemberFilter, MembershipWrite, Store,
    StoreError, StoreResult,
};
use std::path::Path;
use std::sync::Arc;

/// The embedded store: one redb database file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// The one writer, which commits writes that arrive together with one sync ([`writer`]).
    writer: writer::Writer,
    /// A temporary directory removed when the last clone is dropped ([`EmbeddedStore::temporary`]).
    _dir: Option<Arc<tempfile::TempDir>>,
    /// The audit entry the next successful write of this handle appends ([`Store::audited`]).
    audit: Option<Arc<AuditEvent>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens the database file at `path`, creating it and its parent directory when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let db = Database::create(path).map_err(db_err)?;
        Self::init(db, None)
    }

    /// A store in a fresh temporary directory, deleted when the store (and its clones) are dropped.
    pub fn temporary() -> Result<Self, StoreError> {
        let dir = tempfile::tempdir()
            .map_err(|e| StoreError::Unavailable(format!("no temporary directory: {e}")))?;
        let db = Database::create(dir.path().join("rollcall.redb")).map_err(db_err)?;
        Self::init(db, Some(Arc::new(dir)))
    }

    /// A store held in memory only.
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        Self::init(db, None)
    }

    /// Creates every table and checks the format version.
    fn init(db: Database, dir: Option<Arc<tempfile::TempDir>>) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(db_err)?;
        for table in keys::ALL_TABLES {
            tx.open_table(table).map_err(db_err)?;
        }
        match db::get::<u32>(&tx, keys::META, keys::FORMAT_KEY)? {
            None => db::put(&tx, keys::META, keys::FORMAT_KEY, &keys::FORMAT_VERSION)?,
            Some(v) if v == keys::FORMAT_VERSION => {}
            Some(from @ (1..=4)) => {
                if from == 1 {
                    ops::upgrade_from_v1(&tx)?;
                }
                if from <= 2 {
                    ops::upgrade_from_v2(&tx)?;
                }
                // 3 → 4 (groups) and 4 → 5 (audit log) need nothing more: their tables were
                // just created empty, and a counter without its group count reads it as 0.
                db::put(&tx, keys::META, keys::FORMAT_KEY, &keys::FORMAT_VERSION)?;
                tracing::info!(
                    from,
                    format = keys::FORMAT_VERSION,
                    "embedded store upgraded"
                );
            }
            Some(v) => return Err(StoreError::Corrupt(format!("unsupported store format {v}"))),
        }
        tx.commit().map_err(db_err)?;
        let db = Arc::new(db);
        Ok(EmbeddedStore {
            writer: writer::Writer::start(db.clone())?,
            db,
            _dir: dir,
            audit: None,
        })
    }

    /// Checks every invariant of the stored data (index entries, claims, counters) by reading
    /// every table: the problems found, one sentence each, none when the store is consistent.
    /// A full scan: for tests and operators (`rollcall check-store`), never on a request path.
    pub async fn check_integrity(&self) -> StoreResult<Vec<String>> {
        self.read(integrity::check).await
    }

    /// The newest `limit` audit entries of every organization, oldest first: a scan of the whole
    /// log, for the local server's `GET /_local/events` (never on an API request path).
    pub async fn recent_audit_events(&self, limit: usize) -> StoreResult<Vec<AuditEvent>> {
        self.read(move |r| audit::recent(r, limit)).await
    }

    /// Writes committed and syncs made since the store was opened (group commit).
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.writer.stats()
    }

    /// Runs `f` in one read transaction on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let tx = db.begin_read().map_err(db_err)?;
            f(&tx)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs `f` in one write transaction of the writer thread, appending this handle's audit
    /// entry to the same transaction when `f` succeeds; answers once the write is durable (group
    /// commit: see [`writer`]). `f`'s error aborts the transaction.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        self.write_recording(f, |_, _| {}).await
    }

    /// [`EmbeddedStore::write`], letting `record` add to the audit entry what only the write
    /// learns (from its result) before the entry is appended.
    async fn write_recording<T, F>(
        &self,
        f: F,
        record: impl FnOnce(&mut AuditEvent, &T) + Send + 'static,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        let entry = self.audit.clone();
        self.writer
            .write(move |tx| {
                let out = f(tx)?;
                if let Some(entry) = entry {
                    let mut entry = (*entry).clone();
                    record(&mut entry, &out);
                    audit::append(tx, &entry)?;
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn audited(&self, event: AuditEvent) -> Arc<dyn Store> {
        Arc::new(EmbeddedStore {
            audit: Some(Arc::new(event)),
            ..self.clone()
        })
    }

    async fn list_audit_events(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let (org, filter, page) = (org.clone(), filter.clone(), page.clone());
        self.read(move |r| audit::list(r, &org, &filter, now, &page))
            .await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let id = id.clone();
        self.read(move |r| ops::get_user(r, &id)).await
    }

    async fn get_user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        let sub = sub.to_owned();
        self.read(move |r| ops::get_user_by_sub(r, &sub)).await
    }

    async fn upsert_user(&self, user: &User) -> StoreResult<User> {
        let user = user.clone();
        self.write(move |tx| ops::upsert_user(tx, &user)).await
    }

    async fn create_org(
        &self,
        org: &Organization,
        root: &Pool,
        owner: &Membership,
    ) -> StoreResult<()> {
        let (org, root, owner) = (org.clone(), root.clone(), owner.clone());
        self.write(move |tx| ops::create_org(tx, &org, &root, &owner))
            .await
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        let id = id.clone();
        self.read(move |r| ops::get_org(r, &id)).await
    }

    async fn get_orgs(&self, ids: &[OrgId]) -> StoreResult<Vec<Organization>> {
        let ids = ids.to_vec();
        self.read(move |r| ops::get_orgs(r, &ids)).await
    }

    async fn update_org(&self, org: &Organization) -> StoreResult<()> {
        let org = org.clone();
        self.write(move |tx| ops::update_org(tx, &org)).await
    }

    async fn get_pool(&self, org: &OrgId, id: &PoolId) -> StoreResult<Option<Pool>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |r| ops::get_pool(r, &org, &id)).await
    }

    async fn list_pools(&self, org: &OrgId) -> StoreResult<Vec<Pool>> {
        let org = org.clone();
        self.read(move |r| ops::list_pools(r, &org)).await
    }

    async fn create_pool(&self, pool: &Pool, max_pools: u32) -> StoreResult<()> {
        let pool = pool.clone();
        self.write(move |tx| ops::create_pool(tx, &pool, max_pools))
            .await
    }

    async fn update_pool(&self, before: &Pool, after: &Pool) -> StoreResult<()> {
        let (before, after) = (before.clone(), after.clone());
        self.write(move |tx| ops::update_pool(tx, &before, &after))
            .await
    }

    async fn delete_pool(&self, pool: &Pool) -> StoreResult<()> {
        let pool = pool.clone();
        self.write(move |tx| ops::delete_pool(tx, &pool)).await
    }

    async fn get_membership(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<Membership>> {
        let (org, user) = (org.clone(), user.clone());
        self.read(move |r| ops::get_membership(r, &org, &user))
            .await
    }

    async fn find_membership_by_email(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Membership>> {
        let (org, email) = (org.clone(), ops::email_key(email));
        self.read(move |r| ops::find_membership_by_email(r, &org, &email))
            .await
    }

    async fn list_memberships(
        &self,
        org: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let (org, filter, page) = (org.clone(), filter.clone(), page.clone());
        self.read(move |r| ops::list_memberships(r, &org, &filter, &page))
            .await
    }

    async fn list_user_memberships(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let (user, page) = (user.clone(), page.clone());
        self.read(move |r| ops::list_user_memberships(r, &user, &page))
            .await
    }

    async fn write_membership(&self, write: &MembershipWrite) -> StoreResult<()> {
        let write = write.clone();
        self.write(move |tx| ops::write_membership(tx, &write))
            .await
    }

    async fn remove_member(
        &self,
        member: &Membership,
        successor: &UserId,
    ) -> StoreResult<Handover> {
        let (member, successor) = (member.clone(), successor.clone());
        self.write_recording(
            move |tx| ops::remove_member(tx, &member, &successor),
            |entry, handover| entry.record_handover(handover),
        )
        .await
    }

    async fn get_invitation(&self, id: &InvitationId) -> StoreResult<Option<Invitation>> {
        let id = id.clone();
        self.read(move |r| ops::get_invitation(r, &id)).await
    }

    async fn find_invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let hash = token_hash.to_owned();
        self.read(move |r| ops::find_invitation_by_token(r, &hash))
            .await
    }

    async fn find_pending_invitation(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Invitation>> {
        let (org, email) = (org.clone(), ops::email_key(email));
        self.read(move |r| ops::find_pending_invitation(r, &org, &email))
            .await
    }

    async fn list_invitations(
        &self,
        org: &OrgId,
        filter: &InvitationFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>> {
        let (org, page) = (org.clone(), page.clone());
        let mut filter = filter.clone();
        filter.email = filter.email.as_deref().map(ops::email_key);
        self.read(move |r| ops::list_invitations(r, &org, &filter, now, &page))
            .await
    }

    async fn list_invitations_for_email(
        &self,
        email: &str,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>> {
        let (email, page) = (ops::email_key(email), page.clone());
        self.read(move |r| ops::list_invitations_for_email(r, &email, now, &page))
            .await
    }

    async fn create_invitation(
        &self,
        invitation: &Invitation,
        replaces: Option<&Invitation>,
        limits: &InviteLimits,
    ) -> StoreResult<()> {
        let (inv, replaces, limits) = (invitation.clone(), replaces.cloned(), limits.clone());
        self.write(move |tx| ops::create_invitation(tx, &inv, replaces.as_ref(), &limits))
            .await
    }

    async fn update_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        limits: Option<&InviteLimits>,
    ) -> StoreResult<()> {
        let (before, after, limits) = (before.clone(), after.clone(), limits.cloned());
        self.write(move |tx| ops::update_invitation(tx, &before, &after, limits.as_ref()))
            .await
    }

    async fn close_invitation(&self, before: &Invitation, after: &Invitation) -> StoreResult<()> {
        let (before, after) = (before.clone(), after.clone());
        self.write(move |tx| ops::close_invitation(tx, &before, &after))
            .await
    }

    async fn accept_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()> {
        let (before, after, membership, pools) = (
            before.clone(),
            after.clone(),
            membership.clone(),
            required_pools.to_vec(),
        );
        self.write(move |tx| ops::accept_invitation(tx, &before, &after, &membership, &pools, now))
            .await
    }

    async fn create_invite_link(&self, link: &InviteLink) -> StoreResult<()> {
        let link = link.clone();
        self.write(move |tx| ops::create_invite_link(tx, &link))
            .await
    }

    async fn get_invite_link(
        &self,
        org: &OrgId,
        id: &InviteLinkId,
    ) -> StoreResult<Option<InviteLink>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |r| ops::get_invite_link(r, &org, &id)).await
    }

    async fn find_invite_link_by_token(&self, token_hash: &str) -> StoreResult<Option<InviteLink>> {
        let hash = token_hash.to_owned();
        self.read(move |r| ops::find_invite_link_by_token(r, &hash))
            .await
    }

    async fn list_invite_links(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> StoreResult<Page<InviteLink>> {
        let (org, page) = (org.clone(), page.clone());
        self.read(move |r| ops::list_invite_links(r, &org, &page))
            .await
    }

    async fn revoke_invite_link(&self, before: &InviteLink, after: &InviteLink) -> StoreResult<()> {
        let (before, after) = (before.clone(), after.clone());
        self.write(move |tx| ops::revoke_invite_link(tx, &before, &after))
            .await
    }

    async fn join_with_link(
        &self,
        link: &InviteLink,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()> {
        let (link, membership, pools) = (link.clone(), membership.clone(), required_pools.to_vec());
        self.write(move |tx| ops::join_with_link(tx, &link, &membership, &pools, now))
            .await
    }

    async fn create_scim_token(&self, token: &ScimToken, max_tokens: u32) -> StoreResult<()> {
        let token = token.clone();
        self.write(move |tx| ops::create_scim_token(tx, &token, max_tokens))
            .await
    }

    async fn list_scim_tokens(&self, org: &OrgId) -> StoreResult<Vec<ScimToken>> {
        let org = org.clone();
        self.read(move |r| ops::list_scim_tokens(r, &org)).await
    }

    async fn find_scim_token(&self, token_hash: &str) -> StoreResult<Option<ScimToken>> {
        let hash = token_hash.to_owned();
        self.read(move |r| ops::find_scim_token(r, &hash)).await
    }

    async fn delete_scim_token(&self, org: &OrgId, id: &ScimTokenId) -> StoreResult<bool> {
        let (org, id) = (org.clone(), id.clone());
        // No token, nothing written (and no audit entry): the transaction is aborted.
        let deleted = self
            .write(move |tx| match ops::delete_scim_token(tx, &org, &id)? {
                true => Ok(()),
                false => Err(StoreError::Conflict(Conflict::Stale)),
            })
            .await;
        match deleted {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Stale)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn record_scim_token_use(&self, token: &ScimToken, at: Timestamp) -> StoreResult<()> {
        let token = token.clone();
        self.write(move |tx| ops::record_scim_token_use(tx, &token, at))
            .await
    }

    async fn link_user_subject(&self, user: &User, new_sub: &str) -> StoreResult<User> {
        let (user, new_sub) = (user.clone(), new_sub.to_owned());
        self.write(move |tx| ops::link_user_subject(tx, &user, &new_sub))
            .await
    }

    async fn list_users_by_email(&self, email: &str, limit: usize) -> StoreResult<Vec<User>> {
        let email = ops::email_key(email);
        self.read(move |r| ops::list_users_by_email(r, &email, limit))
            .await
    }

    async fn link_member(
        &self,
        placeholder: &User,
        member: &Membership,
        to: &User,
    ) -> StoreResult<Membership> {
        let (placeholder, member, to) = (placeholder.clone(), member.clone(), to.clone());
        self.write(move |tx| ops::link_member(tx, &placeholder, &member, &to))
            .await
    }

    async fn decline_link(&self, placeholder: &User, at: Timestamp) -> StoreResult<User> {
        let placeholder = placeholder.clone();
        self.write(move |tx| ops::decline_link(tx, &placeholder, at))
            .await
    }

    async fn find_scim_alias(&self, org: &OrgId, id: &UserId) -> StoreResult<Option<UserId>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |r| ops::find_scim_alias(r, &org, &id)).await
    }

    async fn provision_scim_member(
        &self,
        new_user: Option<&User>,
        membership: &MembershipWrite,
        scim: &ScimUser,
        accepts: Option<(&Invitation, &Invitation)>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (new_user, membership, scim) = (new_user.cloned(), membership.clone(), scim.clone());
        let accepts = accepts.map(|(b, a)| (b.clone(), a.clone()));
        self.write(move |tx| {
            ops::provision_scim_member(
                tx,
                new_user.as_ref(),
                &membership,
                &scim,
                accepts.as_ref().map(|(b, a)| (b, a)),
                now,
            )
        })
        .await
    }

    async fn update_scim_member(
        &self,
        membership: &MembershipWrite,
        before: Option<&ScimUser>,
        after: &ScimUser,
        placeholder: Option<(&User, &User)>,
    ) -> StoreResult<()> {
        let (membership, before, after) = (membership.clone(), before.cloned(), after.clone());
        let placeholder = placeholder.map(|(b, a)| (b.clone(), a.clone()));
        self.write(move |tx| {
            ops::update_scim_member(
                tx,
                &membership,
                before.as_ref(),
                &after,
                placeholder.as_ref().map(|(b, a)| (b, a)),
            )
        })
        .await
    }

    async fn get_scim_user(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<ScimUser>> {
        let (org, user) = (org.clone(), user.clone());
        self.read(move |r| ops::get_scim_user(r, &org, &user)).await
    }

    async fn get_scim_users(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<ScimUser>> {
        let (org, users) = (org.clone(), users.to_vec());
        self.read(move |r| ops::get_scim_users(r, &org, &users))
            .await
    }

    async fn find_scim_user_by_user_name(
        &self,
        org: &OrgId,
        key: &str,
    ) -> StoreResult<Option<ScimUser>> {
        let (org, key) = (org.clone(), key.to_owned());
        self.read(move |r| ops::find_scim_user_by_user_name(r, &org, &key))
            .await
    }

    async fn count_memberships(&self, org: &OrgId) -> StoreResult<u64> {
        let org = org.clone();
        self.read(move |r| ops::count_memberships(r, &org)).await
    }

    async fn find_membership_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> StoreResult<Option<Membership>> {
        let (org, external_id) = (org.clone(), external_id.to_owned());
        self.read(move |r| ops::find_membership_by_external_id(r, &org, &external_id))
            .await
    }

    // ---- verified domains ----
    async fn create_org_domain(&self, domain: &OrgDomain) -> StoreResult<()> {
        let d = domain.clone();
        self.write(move |tx| domains::create_org_domain(tx, &d))
            .await
    }

    async fn get_org_domain(&self, org: &OrgId, domain: &str) -> StoreResult<Option<OrgDomain>> {
        let (org, domain) = (org.clone(), domain.to_owned());
        self.read(move |r| domains::get_org_domain(r, &org, &domain))
            .await
    }

    async fn list_org_domains(&self, org: &OrgId) -> StoreResult<Vec<OrgDomain>> {
        let org = org.clone();
        self.read(move |r| domains::list_org_domains(r, &org)).await
    }

    async fn update_org_domain(&self, before: &OrgDomain, after: &OrgDomain) -> StoreResult<()> {
        let (before, after) = (before.clone(), after.clone());
        self.write(move |tx| domains::update_org_domain(tx, &before, &after))
            .await
    }

    async fn delete_org_domain(&self, domain: &OrgDomain) -> StoreResult<()> {
        let d = domain.clone();
        self.write(move |tx| domains::delete_org_domain(tx, &d))
            .await
    }

    async fn get_domain_claim(&self, domain: &str) -> StoreResult<Option<DomainClaim>> {
        let domain = domain.to_owned();
        self.read(move |r| domains::get_domain_claim(r, &domain))
            .await
    }

    // ---- SCIM groups ----
    async fn create_group(&self, group: &Group, max_groups: u32) -> StoreResult<()> {
        let group = group.clone();
        self.write(move |tx| groups::create_group(tx, &group, max_groups))
            .await
    }

    async fn get_group(&self, org: &OrgId, id: &GroupId) -> StoreResult<Option<Group>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |r| groups::get_group(r, &org, &id)).await
    }

    async fn get_groups(&self, org: &OrgId, ids: &[GroupId]) -> StoreResult<Vec<Group>> {
        let (org, ids) = (org.clone(), ids.to_vec());
        self.read(move |r| groups::get_groups(r, &org, &ids)).await
    }

    async fn find_group_by_name(&self, org: &OrgId, key: &str) -> StoreResult<Option<Group>> {
        let (org, key) = (org.clone(), key.to_owned());
        self.read(move |r| groups::find_group_by_name(r, &org, &key))
            .await
    }

    async fn list_groups(&self, org: &OrgId, page: &PageRequest) -> StoreResult<Page<Group>> {
        let (org, page) = (org.clone(), page.clone());
        self.read(move |r| groups::list_groups(r, &org, &page))
            .await
    }

    async fn count_groups(&self, org: &OrgId) -> StoreResult<u64> {
        let org = org.clone();
        self.read(move |r| groups::count_groups(r, &org)).await
    }

    async fn list_group_members(
        &self,
        org: &OrgId,
        group: &GroupId,
        page: &PageRequest,
    ) -> StoreResult<Page<UserId>> {
        let (org, group, page) = (org.clone(), group.clone(), page.clone());
        self.read(move |r| groups::list_group_members(r, &org, &group, &page))
            .await
    }

    async fn update_group(
        &self,
        before: &Group,
        after: &Group,
        members: &[GroupMemberChange],
    ) -> StoreResult<()> {
        let (before, after, members) = (before.clone(), after.clone(), members.to_vec());
        self.write(move |tx| groups::update_group(tx, &before, &after, &members))
            .await
    }

    async fn delete_group(&self, group: &Group) -> StoreResult<()> {
        let group = group.clone();
        self.write(move |tx| groups::delete_group(tx, &group)).await
    }

    async fn get_memberships(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<Membership>> {
        let (org, users) = (org.clone(), users.to_vec());
        self.read(move |r| ops::get_memberships(r, &org, &users))
            .await
    }

    // ---- idempotency ----
    async fn claim_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<Claim> {
        let claim = claim.clone();
        self.write(move |tx| idempotency::claim(tx, &claim)).await
    }

    async fn complete_idempotency_key(&self, completed: &IdempotencyRecord) -> StoreResult<()> {
        let completed = completed.clone();
        self.write(move |tx| idempotency::complete(tx, &completed))
            .await
    }

    async fn release_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<()> {
        let claim = claim.clone();
        self.write(move |tx| idempotency::release(tx, &claim)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_domain::email::Email;
    use uuid::Uuid;

    fn user(sub: &str) -> User {
        User {
            id: UserId::from_uuid(Uuid::now_v7()),
            sub: sub.into(),
            email: Email::parse("ada@example.com").unwrap(),
            email_verified: true,
            name: None,
            created_at: chrono::Utc::now(),
            provisioned_by: None,
            link_declined_at: None,
        }
    }

    #[tokio::test]
    async fn open_creates_the_parent_directory_and_data_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("store.redb");
        let u = user("sub-1");
        {
            let store = EmbeddedStore::open(&path).unwrap();
            store.upsert_user(&u).await.unwrap();
        }
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.get_user_by_sub("sub-1").await.unwrap(), Some(u));
    }

    /// A format-2 store, where two members of one org could share an address, opens as format 3:
    /// the oldest member holds the address's claim, the other keeps its membership and can still
    /// be removed, and no third member can take the address.
    #[tokio::test]
    async fn format_2_upgrades_to_email_claims() {
        use rollcall_domain::model::{MemberSource, MemberStatus};
        use rollcall_domain::ports::{Conflict, MembershipWrite};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let org = OrgId::from_uuid(Uuid::now_v7());
        let t = chrono::Utc::now();
        let member = |user: UserId, at| Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: org.clone(),
            user_id: user,
            email: Email::parse("Shared@Example.com").unwrap(),
            name: None,
            phone: None,
            status: MemberStatus::Active,
            source: MemberSource::Invitation,
            external_id: None,
            assignments: vec![],
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let older = member(
            UserId::from_uuid(Uuid::now_v7()),
            t - chrono::Duration::days(1),
        );
        let younger = member(UserId::from_uuid(Uuid::now_v7()), t);
        {
            let store = EmbeddedStore::open(&path).unwrap();
            let (o, y, org2) = (older.clone(), younger.clone(), org.clone());
            store
                .write(move |tx| {
                    // As format 2 wrote them: memberships, no claims (the organization
                    // record only needs to exist here).
                    db::put_raw(tx, keys::ORGS, org2.as_str(), b"{}")?;
                    for m in [&y, &o] {
                        db::put(
                            tx,
                            keys::MEMBERSHIPS,
                            &keys::membership(&org2, &m.user_id),
                            m,
                        )?;
                    }
                    db::put(tx, keys::META, keys::FORMAT_KEY, &2u32)
                })
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(&path).unwrap();
        let claim = keys::member_email_claim(&org, "shared@example.com");
        let holder = store
            .read(move |r| db::get_str(r, keys::MEMBER_EMAIL_CLAIMS, &claim))
            .await
            .unwrap();
        assert_eq!(holder.as_deref(), Some(older.user_id.as_str()));
        let third = member(UserId::from_uuid(Uuid::now_v7()), t);
        assert_eq!(
            store
                .write_membership(&MembershipWrite::Create(third))
                .await,
            Err(StoreError::Conflict(Conflict::MemberEmailTaken))
        );
        let format = store
            .read(|r| db::get::<u32>(r, keys::META, keys::FORMAT_KEY))
            .await
            .unwrap();
        assert_eq!(format, Some(keys::FORMAT_VERSION));
    }

    /// The integrity check finds a record without what it needs and an index entry without its
    /// record (the conformance suite runs it after every case, where it must find nothing).
    #[tokio::test]
    async fn the_integrity_check_finds_missing_and_dangling_entries() {
        use rollcall_domain::ids::PoolId;
        use rollcall_domain::model::{MemberSource, MemberStatus, Settings};
        use rollcall_domain::role::{Assignment, Role};
        let store = EmbeddedStore::temporary().unwrap();
        let (org_id, owner_id, t) = (
            OrgId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
            chrono::Utc::now(),
        );
        let root = Pool {
            id: PoolId::from_uuid(Uuid::now_v7()),
            org_id: org_id.clone(),
            name: "Root".into(),
            parent_id: None,
            ancestors: vec![],
            owner_id: owner_id.clone(),
            created_at: t,
        };
        let org = Organization {
            id: org_id.clone(),
            name: "Acme".into(),
            root_pool_id: root.id.clone(),
            settings: Settings::default(),
            created_at: t,
        };
        let owner = Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: org_id.clone(),
            user_id: owner_id.clone(),
            email: Email::parse("ada@example.com").unwrap(),
            name: None,
            phone: None,
            status: MemberStatus::Active,
            source: MemberSource::Owner,
            external_id: None,
            assignments: vec![Assignment::org_wide(Role::OrganizationManager)],
            created_at: t,
            updated_at: t,
            version: 1,
        };
        store.create_org(&org, &root, &owner).await.unwrap();
        assert_eq!(store.check_integrity().await.unwrap(), Vec::<String>::new());

        let (claim, org2) = (
            keys::member_email_claim(&org_id, "ada@example.com"),
            org_id.clone(),
        );
        store
            .write(move |tx| {
                db::del(tx, keys::MEMBER_EMAIL_CLAIMS, &claim)?;
                db::put_str(
                    tx,
                    keys::EXTERNAL_IDS,
                    &keys::join(org2.as_str(), "ext-1"),
                    "usr_gone",
                )
            })
            .await
            .unwrap();
        let problems = store.check_integrity().await.unwrap();
        let key = keys::membership(&org_id, &owner_id);
        assert!(
            problems.contains(&format!("membership {key}: no email claim")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("externalId claim") && p.ends_with("no membership")),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    /// An organization (owner: an active organization manager) and a plain member, stored.
    async fn org_and_member(store: &EmbeddedStore) -> (OrgId, Membership) {
        use rollcall_domain::ids::PoolId;
        use rollcall_domain::model::{MemberSource, MemberStatus, Settings};
        use rollcall_domain::ports::MembershipWrite;
        use rollcall_domain::role::{Assignment, Role};
        let (org_id, t) = (OrgId::from_uuid(Uuid::now_v7()), chrono::Utc::now());
        let member = |assignments, tag: &str| Membership {
            direct_assignments: None,
            groups: Vec::new(),
            org_id: org_id.clone(),
            user_id: UserId::from_uuid(Uuid::now_v7()),
            email: Email::parse(&format!("{tag}@example.com")).unwrap(),
            name: None,
            phone: None,
            status: MemberStatus::Active,
            source: MemberSource::Owner,
            external_id: None,
            assignments,
            created_at: t,
            updated_at: t,
            version: 1,
        };
        let owner = member(
            vec![Assignment::org_wide(Role::OrganizationManager)],
            "owner",
        );
        let root = Pool {
            id: PoolId::from_uuid(Uuid::now_v7()),
            org_id: org_id.clone(),
            name: "Root".into(),
            parent_id: None,
            ancestors: vec![],
            owner_id: owner.user_id.clone(),
            created_at: t,
        };
        let org = Organization {
            id: org_id.clone(),
            name: "Acme".into(),
            root_pool_id: root.id.clone(),
            settings: Settings::default(),
            created_at: t,
        };
        store.create_org(&org, &root, &owner).await.unwrap();
        let m = member(vec![Assignment::org_wide(Role::Member)], "member");
        store
            .write_membership(&MembershipWrite::Create(m.clone()))
            .await
            .unwrap();
        (org_id, m)
    }

    /// An empty group of `org`, not stored.
    fn group(org: &OrgId, name: &str) -> Group {
        let t = chrono::Utc::now();
        Group {
            org_id: org.clone(),
            id: GroupId::from_uuid(Uuid::now_v7()),
            display_name: name.into(),
            external_id: None,
            assignments: vec![],
            member_count: 0,
            conflicts: vec![],
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    /// The integrity check finds a member entry gone, a name claim without its group, an entry
    /// of no group naming no member, and a group counter that counts wrong.
    #[tokio::test]
    async fn the_integrity_check_finds_group_inconsistencies() {
        use rollcall_domain::ports::{GroupEdge, MembershipWrite};
        let store = EmbeddedStore::temporary().unwrap();
        let (org, m) = org_and_member(&store).await;
        let g = group(&org, "Team");
        store.create_group(&g, 10).await.unwrap();
        let joined = Membership {
            version: m.version + 1,
            ..m.clone().with_group(&g.id, &[])
        };
        let after = Group {
            member_count: 1,
            version: g.version + 1,
            ..g.clone()
        };
        let change = GroupMemberChange {
            member_ref: m.user_id.clone(),
            edge: GroupEdge::Add,
            membership: MembershipWrite::Update {
                before: m.clone(),
                after: joined,
            },
        };
        store.update_group(&g, &after, &[change]).await.unwrap();
        assert_eq!(store.check_integrity().await.unwrap(), Vec::<String>::new());

        let (org2, g2, user) = (org.clone(), g.id.clone(), m.user_id.clone());
        store
            .write(move |tx| {
                db::del(
                    tx,
                    keys::GROUP_MEMBERS,
                    &keys::group_member(&org2, &g2, &user),
                )?;
                db::put_str(
                    tx,
                    keys::GROUP_NAMES,
                    &keys::group_name(&org2, "ghosts"),
                    GroupId::from_uuid(Uuid::now_v7()).as_str(),
                )?;
                db::put_str(
                    tx,
                    keys::GROUP_MEMBERS,
                    &keys::group_member(
                        &org2,
                        &GroupId::from_uuid(Uuid::now_v7()),
                        &UserId::from_uuid(Uuid::now_v7()),
                    ),
                    "",
                )?;
                let mut c = ops::counters(tx, &org2)?;
                c.groups = 5;
                ops::put_counters(tx, &org2, &c)
            })
            .await
            .unwrap();
        let problems = store.check_integrity().await.unwrap();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("which has no entry for it"), "{problems:?}");
        assert!(has("member_count 1, 0 entries"), "{problems:?}");
        assert!(has("no group with that name"), "{problems:?}");
        assert!(has("no such group"), "{problems:?}");
        assert!(has("names no member"), "{problems:?}");
        assert!(has("counters"), "{problems:?}");
        assert_eq!(problems.len(), 6, "{problems:?}");
    }

    /// A format-3 store (no groups; counters without a group count) opens as format 4, and
    /// groups work in it.
    #[tokio::test]
    async fn format_3_opens_as_format_4_with_no_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let org = {
            let store = EmbeddedStore::open(&path).unwrap();
            let (org, _) = org_and_member(&store).await;
            let o = org.clone();
            store
                .write(move |tx| {
                    // As format 3 wrote the counters: without `groups`.
                    let mut c: serde_json::Value =
                        db::get(tx, keys::ORG_COUNTERS, o.as_str())?.expect("counters");
                    c.as_object_mut().unwrap().remove("groups");
                    db::put(tx, keys::ORG_COUNTERS, o.as_str(), &c)?;
                    db::put(tx, keys::META, keys::FORMAT_KEY, &3u32)
                })
                .await
                .unwrap();
            org
        };
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.count_groups(&org).await.unwrap(), 0);
        store.create_group(&group(&org, "Team"), 1).await.unwrap();
        assert_eq!(store.count_groups(&org).await.unwrap(), 1);
        let format = store
            .read(|r| db::get::<u32>(r, keys::META, keys::FORMAT_KEY))
            .await
            .unwrap();
        assert_eq!(format, Some(keys::FORMAT_VERSION));
        assert_eq!(store.check_integrity().await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_file_open_elsewhere_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let _first = EmbeddedStore::open(&path).unwrap();
        assert!(matches!(
            EmbeddedStore::open(&path),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn in_memory_and_temporary_stores_work() {
        for store in [
            EmbeddedStore::in_memory().unwrap(),
            EmbeddedStore::temporary().unwrap(),
        ] {
            let u = user("sub-2");
            assert_eq!(store.upsert_user(&u).await.unwrap(), u);
            assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
        }
    }

    #[tokio::test]
    async fn a_record_that_does_not_decode_is_corrupt() {
        let store = EmbeddedStore::in_memory().unwrap();
        let id = UserId::from_uuid(Uuid::now_v7());
        let key = id.as_str().to_owned();
        store
            .write(move |tx| db::put_raw(tx, keys::USERS, &key, b"{not json"))
            .await
            .unwrap();
        assert!(matches!(
            store.get_user(&id).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
