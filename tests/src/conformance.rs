//! The store conformance suite: the behaviours every [`Store`] must show, observed through the
//! trait alone. Both stores run it through [`store_conformance_tests!`](crate::store_conformance_tests).
//!
//! Every case makes its own organizations, users and emails with fresh ids and never assumes an
//! empty store, so all cases may share one database (e.g. one DynamoDB table).

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use rollcall_domain::email::Email;
use rollcall_domain::ids::{InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use rollcall_domain::model::{
    EmailStatus, Invitation, InvitationStatus, InviteLink, MemberSource, MemberStatus, Membership,
    Organization, PLACEHOLDER_SUB_PREFIX, Pool, ScimToken, ScimUser, Settings, Timestamp, User,
    user_name_key,
};
use rollcall_domain::page::{Page, PageRequest};
pub use rollcall_domain::ports::Store;
use rollcall_domain::ports::{
    Conflict, Handover, InvitationFilter, InviteLimits, MemberFilter, MembershipWrite, RateLimit,
    StoreError, StoreResult,
};
use rollcall_domain::role::{Assignment, Role, normal_form};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

mod audit;
mod domains;
mod groups;
pub use audit::*;
mod idempotency;
pub use domains::*;
pub use groups::*;
pub use idempotency::*;

/// Expands to one `#[tokio::test]` per conformance case. `$make` is a future (e.g. an `async`
/// block or a call of an `async fn`) whose output converts to `Arc<dyn Store>`; it is awaited
/// once per test, so each test gets the store it builds. With `skip_if = <bool expr>`, every test
/// returns early (printing "skipped") when the expression is true, e.g. when no emulator is set.
///
/// ```ignore
/// rollcall_tests::store_conformance_tests!(async { Arc::new(EmbeddedStore::temporary().unwrap()) });
/// rollcall_tests::store_conformance_tests!(dynamo_store(), skip_if = std::env::var("X").is_err());
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!($make, skip_if = false);
    };
    ($make:expr, skip_if = $skip:expr) => {
        $crate::store_conformance_tests!($make, skip_if = $skip, then = |_store| async {});
    };
    // `then` runs after each case with the store `make` made (e.g. a full integrity check).
    ($make:expr, skip_if = $skip:expr, then = $then:expr) => {
        $crate::store_conformance_tests!(@cases $make, $skip, $then;
            user_upsert_is_keyed_by_subject,
            org_create_get_update,
            user_memberships_across_orgs_in_org_order,
            pool_create_sibling_names_and_parent,
            pool_limit_counts_every_pool,
            pool_update_rename_and_owner,
            pool_delete_rules,
            pool_delete_drops_assignments,
            membership_create_update_and_versions,
            membership_find_by_email,
            membership_email_is_claimed_per_org,
            membership_filters,
            membership_pagination,
            invalid_cursor_is_refused,
            last_org_manager_is_kept,
            remove_member_hands_over,
            remove_member_refuses_last_manager_and_stale,
            invitation_create_and_lookup,
            invitation_replaces_expired,
            invitation_limit_pending,
            invitation_limit_per_hour,
            invitation_limit_per_recipient_per_day,
            invitation_resend_retires_old_token,
            invitation_close_rules,
            invitation_list_order_and_filters,
            invitations_for_email_across_orgs,
            accept_invitation_happy_path,
            accept_invitation_conditions,
            accept_invitation_into_existing_membership,
            accept_invitation_counts_new_org_manager,
            concurrent_accepts_have_one_winner,
            invite_link_lifecycle,
            join_with_link_rules,
            concurrent_joins_respect_max_uses,
            scim_token_lifecycle,
            scim_token_limit_holds_under_concurrency,
            scim_provision_creates_user_membership_and_record,
            scim_provision_needs_its_pools,
            scim_update_moves_a_placeholders_email,
            count_memberships_follows_every_path,
            scim_user_name_is_unique_case_insensitively,
            scim_concurrent_provisions_of_one_user_name_have_one_winner,
            scim_external_id_is_unique_and_found,
            scim_provision_accepts_pending_invitation,
            scim_update_moves_the_claims,
            scim_suspending_the_last_org_manager_is_refused,
            users_by_email_oldest_first,
            link_user_subject_replaces_the_placeholder,
            remove_member_deletes_scim_record_and_claims,
            link_member_moves_a_placeholders_membership_to_an_account,
            link_member_conditions,
            users_by_email_and_declined_links,
            domain_record_lifecycle,
            domain_claim_has_one_winner,
            domain_delete_releases_the_claim,
            group_create_get_find_list_count,
            group_names_are_unique_per_org,
            group_limit_counts_every_group,
            group_update_adds_keeps_and_removes_members,
            group_update_conditions_write_nothing,
            group_update_refuses_inconsistent_changes,
            group_update_keeps_an_org_manager,
            group_delete_rules,
            group_delete_pool_drops_group_assignments,
            remove_member_needs_a_member_out_of_every_group,
            link_member_keeps_groups_and_entries,
            get_memberships_in_the_order_asked,
            group_concurrent_creates_of_one_name_have_one_winner,
            group_changes_racing_for_the_last_manager_leave_one,
            audit_entry_is_written_with_the_change,
            audit_list_filters_pages_and_isolates,
            audit_entry_of_a_removal_records_the_handover,
            idempotency_claim_fresh_then_existing,
            idempotency_expired_record_counts_as_absent,
            idempotency_complete_then_claim_returns_the_response,
            idempotency_release_then_claim_succeeds,
            idempotency_concurrent_claims_have_one_winner,
        );
    };
    (@cases $make:expr, $skip:expr, $then:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if $skip {
                    eprintln!("skipped: {}", stringify!($case));
                    return;
                }
                let made = ($make).await;
                let store: ::std::sync::Arc<dyn $crate::conformance::Store> = made.clone();
                $crate::conformance::$case(store).await;
                ($then)(made).await;
            }
        )*
    };
}

// ====================================================================== helpers

/// Now, to the second (so any store's timestamp encoding round-trips it exactly).
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(0)
}

/// A fixed instant in the middle of an hour, for rate-limit windows.
pub fn fixed_time() -> Timestamp {
    Utc.with_ymd_and_hms(2031, 3, 4, 10, 20, 0)
        .single()
        .unwrap_or_else(now)
}

fn uuid() -> Uuid {
    Uuid::now_v7()
}

/// A fresh user id.
pub fn user_id() -> UserId {
    UserId::from_uuid(uuid())
}

/// A fresh, unique email address whose local part starts with `tag`.
pub fn email(tag: &str) -> Email {
    Email::parse(&format!("{tag}-{}@example.com", uuid().simple())).expect("valid email")
}

/// A fresh token hash (64 hex digits, like a SHA-256).
pub fn token_hash() -> String {
    format!("{}{}", uuid().simple(), uuid().simple())
}

/// An organization made by [`new_org`].
#[derive(Debug, Clone)]
pub struct OrgFixture {
    /// The organization.
    pub org: Organization,
    /// Its root pool.
    pub root: Pool,
    /// The creator's membership (organization manager).
    pub owner: Membership,
}

impl OrgFixture {
    /// The org id.
    pub fn id(&self) -> &OrgId {
        &self.org.id
    }
}

/// A membership value (not stored).
pub fn membership(
    org: &OrgId,
    user: &UserId,
    email: Email,
    assignments: Vec<Assignment>,
) -> Membership {
    let t = now();
    Membership {
        direct_assignments: None,
        groups: Vec::new(),
        org_id: org.clone(),
        user_id: user.clone(),
        email,
        name: None,
        phone: None,
        status: MemberStatus::Active,
        source: MemberSource::Invitation,
        external_id: None,
        assignments: normal_form(assignments),
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

/// Creates an organization with its root pool and an owner who is organization manager.
pub async fn new_org(store: &Arc<dyn Store>) -> OrgFixture {
    let t = now();
    let org_id = OrgId::from_uuid(uuid());
    let owner_id = user_id();
    let root = Pool {
        id: PoolId::from_uuid(uuid()),
        org_id: org_id.clone(),
        name: "Root".into(),
        parent_id: None,
        ancestors: vec![],
        owner_id: owner_id.clone(),
        created_at: t,
    };
    let org = Organization {
        id: org_id.clone(),
        name: format!("Org {}", uuid().simple()),
        root_pool_id: root.id.clone(),
        settings: Settings::default(),
        created_at: t,
    };
    let mut owner = membership(
        &org_id,
        &owner_id,
        email("owner"),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    );
    owner.source = MemberSource::Owner;
    owner.name = Some("Owner Person".into());
    store
        .create_org(&org, &root, &owner)
        .await
        .expect("create_org");
    OrgFixture { org, root, owner }
}

/// Stores a new member with `assignments`.
pub async fn add_member(
    store: &Arc<dyn Store>,
    org: &OrgId,
    assignments: Vec<Assignment>,
) -> Membership {
    let m = membership(org, &user_id(), email("member"), assignments);
    store
        .write_membership(&MembershipWrite::Create(m.clone()))
        .await
        .expect("create membership");
    m
}

/// A pool value under `parent` (not stored).
pub fn pool_under(parent: &Pool, name: &str, owner: &UserId) -> Pool {
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(parent.id.clone());
    Pool {
        id: PoolId::from_uuid(uuid()),
        org_id: parent.org_id.clone(),
        name: name.into(),
        parent_id: Some(parent.id.clone()),
        ancestors,
        owner_id: owner.clone(),
        created_at: now(),
    }
}

/// Stores a pool under `parent`.
pub async fn add_pool(store: &Arc<dyn Store>, parent: &Pool, name: &str, owner: &UserId) -> Pool {
    let p = pool_under(parent, name, owner);
    store.create_pool(&p, 1000).await.expect("create_pool");
    p
}

/// A pending invitation value (not stored), valid for 7 days.
pub fn invitation(
    org: &OrgId,
    email: Email,
    inviter: &UserId,
    assignments: Vec<Assignment>,
) -> Invitation {
    let t = now();
    Invitation {
        id: InvitationId::from_uuid(uuid()),
        org_id: org.clone(),
        email,
        name: None,
        phone: None,
        assignments: normal_form(assignments),
        inviter_id: inviter.clone(),
        status: InvitationStatus::Pending,
        email_status: EmailStatus::Sent,
        email_message_id: None,
        token_hash: token_hash(),
        expires_at: t + Duration::days(7),
        created_at: t,
        updated_at: t,
        accepted_at: None,
        accepted_by: None,
        version: 1,
    }
}

/// Limits that count nothing, at `now`.
pub fn no_limits(now: Timestamp) -> InviteLimits {
    InviteLimits {
        now,
        max_pending: None,
        per_hour: None,
        per_recipient_per_day: None,
    }
}

/// Stores a pending invitation for a fresh email.
pub async fn invite(
    store: &Arc<dyn Store>,
    fx: &OrgFixture,
    assignments: Vec<Assignment>,
) -> Invitation {
    let inv = invitation(fx.id(), email("invitee"), &fx.owner.user_id, assignments);
    store
        .create_invitation(&inv, None, &no_limits(now()))
        .await
        .expect("create_invitation");
    inv
}

/// `inv` closed with `status` (the value to pass as `after`).
pub fn closed(inv: &Invitation, status: InvitationStatus) -> Invitation {
    let mut after = inv.clone();
    after.status = status;
    after.updated_at = now();
    after.version += 1;
    after
}

/// `inv` accepted by `user` at `at`.
pub fn accepted(inv: &Invitation, user: &UserId, at: Timestamp) -> Invitation {
    let mut after = closed(inv, InvitationStatus::Accepted);
    after.accepted_at = Some(at);
    after.accepted_by = Some(user.clone());
    after
}

/// An invite link value (not stored).
pub fn link(org: &OrgId, creator: &UserId, max_uses: Option<u32>) -> InviteLink {
    InviteLink {
        id: InviteLinkId::from_uuid(uuid()),
        org_id: org.clone(),
        assignments: vec![Assignment::org_wide(Role::Member)],
        allowed_domains: vec![],
        max_uses,
        uses: 0,
        expires_at: Some(now() + Duration::days(7)),
        created_by: creator.clone(),
        created_at: now(),
        revoked_at: None,
        token_hash: token_hash(),
    }
}

/// The conflict of a failed call; panics on success or another error.
pub fn conflict_of<T: std::fmt::Debug>(result: StoreResult<T>) -> Conflict {
    match result {
        Err(StoreError::Conflict(c)) => c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Reads every page of a list, checking that pages respect `limit`, that cursors never repeat,
/// and that no item comes twice.
pub async fn all_pages<T, F, Fut>(limit: usize, mut fetch: F) -> Vec<T>
where
    T: std::fmt::Debug + PartialEq,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut out: Vec<T> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let page = fetch(PageRequest {
            limit,
            cursor: cursor.clone(),
        })
        .await
        .expect("list page");
        assert!(
            page.items.len() <= limit,
            "page of {} items for limit {limit}",
            page.items.len()
        );
        for item in page.items {
            assert!(!out.contains(&item), "item listed twice: {item:?}");
            out.push(item);
        }
        match page.next_cursor {
            None => return out,
            Some(c) => {
                assert!(seen.insert(c.clone()), "cursor repeated");
                cursor = Some(c);
            }
        }
    }
    panic!("pagination did not end");
}

/// Every member of `org` matching `filter`, read `limit` at a time.
pub async fn all_members(
    store: &Arc<dyn Store>,
    org: &OrgId,
    filter: &MemberFilter,
    limit: usize,
) -> Vec<Membership> {
    all_pages(limit, |p| {
        let (s, org, filter) = (store.clone(), org.clone(), filter.clone());
        async move { s.list_memberships(&org, &filter, &p).await }
    })
    .await
}

/// Every invitation of `org` matching `filter` at `at`, read `limit` at a time.
pub async fn all_invitations(
    store: &Arc<dyn Store>,
    org: &OrgId,
    filter: &InvitationFilter,
    at: Timestamp,
    limit: usize,
) -> Vec<Invitation> {
    all_pages(limit, |p| {
        let (s, org, filter) = (store.clone(), org.clone(), filter.clone());
        async move { s.list_invitations(&org, &filter, at, &p).await }
    })
    .await
}

fn ids_of_members(list: &[Membership]) -> Vec<UserId> {
    list.iter().map(|m| m.user_id.clone()).collect()
}

fn ids_of_invitations(list: &[Invitation]) -> Vec<InvitationId> {
    list.iter().map(|i| i.id.clone()).collect()
}

fn sorted<T: Ord + Clone>(list: &[T]) -> Vec<T> {
    let mut v = list.to_vec();
    v.sort();
    v
}

fn sorted_desc<T: Ord + Clone>(list: &[T]) -> Vec<T> {
    let mut v = sorted(list);
    v.reverse();
    v
}

fn updated(m: &Membership, change: impl FnOnce(&mut Membership)) -> MembershipWrite {
    let mut after = m.clone();
    change(&mut after);
    after.version = m.version + 1;
    MembershipWrite::Update {
        before: m.clone(),
        after,
    }
}

fn after_of(write: &MembershipWrite) -> Membership {
    match write {
        MembershipWrite::Create(m) => m.clone(),
        MembershipWrite::Update { after, .. } => after.clone(),
    }
}

// ====================================================================== users and organizations

/// Upserting the same subject twice keeps one user (the first id) and updates email and name.
pub async fn user_upsert_is_keyed_by_subject(store: Arc<dyn Store>) {
    let sub = format!("sub|{}", uuid());
    let first = User {
        id: user_id(),
        sub: sub.clone(),
        email: email("ada"),
        email_verified: true,
        name: Some("Ada".into()),
        created_at: now(),
        provisioned_by: None,
        link_declined_at: None,
    };
    assert_eq!(store.upsert_user(&first).await.unwrap(), first);
    assert_eq!(
        store.upsert_user(&first).await.unwrap(),
        first,
        "an unchanged upsert"
    );

    let second = User {
        id: user_id(),
        sub: sub.clone(),
        email: email("ada-new"),
        email_verified: true,
        name: Some("Ada L".into()),
        created_at: now(),
        provisioned_by: None,
        link_declined_at: None,
    };
    let stored = store.upsert_user(&second).await.unwrap();
    assert_eq!(stored.id, first.id, "the existing id is kept");
    assert_eq!(stored.email, second.email);
    assert_eq!(stored.name, second.name);
    assert_eq!(stored.created_at, first.created_at);
    assert_eq!(
        store.get_user(&first.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.get_user(&second.id).await.unwrap(),
        None,
        "no second user"
    );
    assert_eq!(store.get_user_by_sub(&sub).await.unwrap(), Some(stored));
    assert_eq!(
        store
            .get_user_by_sub(&format!("sub|{}", uuid()))
            .await
            .unwrap(),
        None
    );
}

/// Creating an org stores org, root pool and owner; orgs are read singly and in batches; updates
/// need an existing org.
pub async fn org_create_get_update(store: Arc<dyn Store>) {
    let a = new_org(&store).await;
    let b = new_org(&store).await;
    assert_eq!(store.get_org(a.id()).await.unwrap(), Some(a.org.clone()));
    assert_eq!(
        store.get_pool(a.id(), &a.root.id).await.unwrap(),
        Some(a.root.clone())
    );
    assert_eq!(
        store.list_pools(a.id()).await.unwrap(),
        vec![a.root.clone()]
    );
    assert_eq!(
        store
            .get_membership(a.id(), &a.owner.user_id)
            .await
            .unwrap(),
        Some(a.owner.clone())
    );
    assert!(a.owner.is_active_org_manager());
    let mine = store
        .list_user_memberships(&a.owner.user_id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(mine.items, vec![a.owner.clone()]);
    assert_eq!(mine.next_cursor, None);

    let missing = OrgId::from_uuid(uuid());
    let got = store
        .get_orgs(&[b.id().clone(), missing.clone(), a.id().clone()])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![b.org.clone(), a.org.clone()],
        "in the order asked, missing left out"
    );
    assert_eq!(store.get_org(&missing).await.unwrap(), None);

    let mut renamed = a.org.clone();
    renamed.name = "Renamed".into();
    renamed.settings.invitations_per_hour = 7;
    renamed.settings.managers_can_invite = true;
    store.update_org(&renamed).await.unwrap();
    assert_eq!(store.get_org(a.id()).await.unwrap(), Some(renamed));
    assert_eq!(
        store.get_org(b.id()).await.unwrap(),
        Some(b.org.clone()),
        "other orgs untouched"
    );

    let mut ghost = a.org.clone();
    ghost.id = missing.clone();
    assert_eq!(
        conflict_of(store.update_org(&ghost).await),
        Conflict::OrgMissing
    );
    assert_eq!(store.get_org(&missing).await.unwrap(), None);
}

/// A user's memberships come ordered by org id, page by page.
pub async fn user_memberships_across_orgs_in_org_order(store: Arc<dyn Store>) {
    let user = user_id();
    let mut expected = Vec::new();
    for _ in 0..4 {
        let fx = new_org(&store).await;
        let m = membership(fx.id(), &user, email("multi"), vec![]);
        store
            .write_membership(&MembershipWrite::Create(m.clone()))
            .await
            .unwrap();
        expected.push(m);
    }
    expected.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    for limit in [1, 3, 50] {
        let got = all_pages(limit, |p| {
            let (s, u) = (store.clone(), user.clone());
            async move { s.list_user_memberships(&u, &p).await }
        })
        .await;
        assert_eq!(got, expected, "limit {limit}");
    }
    let nobody = store
        .list_user_memberships(&user_id(), &PageRequest::default())
        .await
        .unwrap();
    assert!(nobody.items.is_empty());
}

// ====================================================================== pools

/// Sibling names are unique case-insensitively (trimmed); the same name is fine under another
/// parent; the parent must exist; pools list by id with parents first.
pub async fn pool_create_sibling_names_and_parent(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let team = add_pool(&store, &fx.root, "Team A", owner).await;
    let other = add_pool(&store, &fx.root, "Team B", owner).await;
    assert_eq!(
        store.get_pool(fx.id(), &team.id).await.unwrap(),
        Some(team.clone())
    );

    let dup = pool_under(&fx.root, "  team a ", owner);
    assert_eq!(
        conflict_of(store.create_pool(&dup, 1000).await),
        Conflict::PoolNameTaken
    );
    assert_eq!(store.get_pool(fx.id(), &dup.id).await.unwrap(), None);

    let nested = add_pool(&store, &other, "Team A", owner).await;
    let deeper = add_pool(&store, &nested, "Leaf", owner).await;
    assert_eq!(
        deeper.ancestors,
        vec![fx.root.id.clone(), other.id.clone(), nested.id.clone()]
    );

    let mut orphan = pool_under(&fx.root, "Orphan", owner);
    let ghost_parent = PoolId::from_uuid(uuid());
    orphan.parent_id = Some(ghost_parent.clone());
    assert_eq!(
        conflict_of(store.create_pool(&orphan, 1000).await),
        Conflict::PoolMissing(ghost_parent)
    );

    // A parent of another org does not count.
    let elsewhere = new_org(&store).await;
    let mut cross = pool_under(&fx.root, "Cross", owner);
    cross.org_id = elsewhere.id().clone();
    assert_eq!(
        conflict_of(store.create_pool(&cross, 1000).await),
        Conflict::PoolMissing(fx.root.id.clone())
    );

    let pools = store.list_pools(fx.id()).await.unwrap();
    assert_eq!(pools, vec![fx.root.clone(), team, other, nested, deeper]);
    let ids: Vec<PoolId> = pools.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, sorted(&ids), "ordered by id");
    assert_eq!(
        store.list_pools(elsewhere.id()).await.unwrap(),
        vec![elsewhere.root.clone()]
    );
}

/// `max_pools` counts every pool of the org, the root included; deleting frees a place.
pub async fn pool_limit_counts_every_pool(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let p = pool_under(&fx.root, "One", owner);
    assert_eq!(
        conflict_of(store.create_pool(&p, 1).await),
        Conflict::PoolLimit
    );
    store.create_pool(&p, 2).await.unwrap();
    let q = pool_under(&fx.root, "Two", owner);
    assert_eq!(
        conflict_of(store.create_pool(&q, 2).await),
        Conflict::PoolLimit
    );
    store.create_pool(&q, 3).await.unwrap();
    store.delete_pool(&p).await.unwrap();
    let r = pool_under(&fx.root, "Three", owner);
    store.create_pool(&r, 3).await.unwrap();
    assert_eq!(store.list_pools(fx.id()).await.unwrap().len(), 3);
}

/// Renames keep sibling names unique; a case-only rename of the pool itself is fine; the owner
/// changes; a deleted pool cannot be updated.
pub async fn pool_update_rename_and_owner(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let a = add_pool(&store, &fx.root, "Alpha", owner).await;
    let b = add_pool(&store, &fx.root, "Beta", owner).await;

    let mut clash = a.clone();
    clash.name = "BETA".into();
    assert_eq!(
        conflict_of(store.update_pool(&a, &clash).await),
        Conflict::PoolNameTaken
    );
    assert_eq!(
        store.get_pool(fx.id(), &a.id).await.unwrap(),
        Some(a.clone())
    );

    let mut lower = a.clone();
    lower.name = "alpha".into();
    store.update_pool(&a, &lower).await.unwrap();
    assert_eq!(
        store.get_pool(fx.id(), &a.id).await.unwrap(),
        Some(lower.clone())
    );

    let mut gamma = lower.clone();
    gamma.name = "Gamma".into();
    store.update_pool(&lower, &gamma).await.unwrap();
    assert_eq!(
        conflict_of(
            store
                .create_pool(&pool_under(&fx.root, "gamma", owner), 1000)
                .await
        ),
        Conflict::PoolNameTaken
    );
    add_pool(&store, &fx.root, "Alpha", owner).await; // the old name is free again

    let new_owner = add_member(&store, fx.id(), vec![]).await;
    let mut handed = b.clone();
    handed.owner_id = new_owner.user_id.clone();
    store.update_pool(&b, &handed).await.unwrap();
    assert_eq!(
        store.get_pool(fx.id(), &b.id).await.unwrap(),
        Some(handed.clone())
    );

    store.delete_pool(&handed).await.unwrap();
    let mut late = handed.clone();
    late.name = "Late".into();
    assert_eq!(
        conflict_of(store.update_pool(&handed, &late).await),
        Conflict::Stale
    );
    assert_eq!(store.get_pool(fx.id(), &b.id).await.unwrap(), None);
}

/// Only leaves are deleted; a deleted pool is gone; the root cannot be deleted.
pub async fn pool_delete_rules(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let parent = add_pool(&store, &fx.root, "Parent", owner).await;
    let child = add_pool(&store, &parent, "Child", owner).await;
    assert_eq!(
        conflict_of(store.delete_pool(&parent).await),
        Conflict::PoolHasChildren
    );
    store.delete_pool(&child).await.unwrap();
    assert_eq!(store.get_pool(fx.id(), &child.id).await.unwrap(), None);
    assert_eq!(
        conflict_of(store.delete_pool(&child).await),
        Conflict::Stale
    );
    store.delete_pool(&parent).await.unwrap();
    assert!(
        store.delete_pool(&fx.root).await.is_err(),
        "the root pool is never deleted"
    );
    assert_eq!(
        store.list_pools(fx.id()).await.unwrap(),
        vec![fx.root.clone()]
    );
    // The name of a deleted pool is free again.
    add_pool(&store, &fx.root, "Parent", owner).await;
}

/// Deleting a pool drops assignments on it from memberships, pending invitations and links,
/// keeping the lists in normal form, and bumps membership versions.
pub async fn pool_delete_drops_assignments(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let p = add_pool(&store, &fx.root, "Doomed", owner).await;
    let q = add_pool(&store, &fx.root, "Kept", owner).await;
    let both = add_member(
        &store,
        fx.id(),
        vec![
            Assignment::on_pool(Role::Engineer, p.id.clone()),
            Assignment::on_pool(Role::Manager, q.id.clone()),
        ],
    )
    .await;
    let only_p = add_member(
        &store,
        fx.id(),
        vec![Assignment::on_pool(Role::Engineer, p.id.clone())],
    )
    .await;
    let inv = invite(
        &store,
        &fx,
        vec![
            Assignment::on_pool(Role::Engineer, p.id.clone()),
            Assignment::on_pool(Role::Manager, q.id.clone()),
        ],
    )
    .await;
    let inv_only_p = invite(
        &store,
        &fx,
        vec![Assignment::on_pool(Role::Manager, p.id.clone())],
    )
    .await;
    let mut l = link(fx.id(), owner, None);
    l.assignments = vec![Assignment::on_pool(Role::Engineer, p.id.clone())];
    store.create_invite_link(&l).await.unwrap();

    store.delete_pool(&p).await.unwrap();

    let got = store
        .get_membership(fx.id(), &both.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.assignments,
        vec![Assignment::on_pool(Role::Manager, q.id.clone())]
    );
    assert!(
        got.version > both.version,
        "the membership changed, so its version did"
    );
    let got = store
        .get_membership(fx.id(), &only_p.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.assignments, vec![Assignment::org_wide(Role::Member)]);
    let got = store.get_invitation(&inv.id).await.unwrap().unwrap();
    assert_eq!(
        got.assignments,
        vec![Assignment::on_pool(Role::Manager, q.id.clone())]
    );
    let got = store.get_invitation(&inv_only_p.id).await.unwrap().unwrap();
    assert_eq!(got.assignments, vec![Assignment::org_wide(Role::Member)]);
    let got = store
        .get_invite_link(fx.id(), &l.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.assignments, vec![Assignment::org_wide(Role::Member)]);

    // A write from a read taken before the deletion is stale.
    let stale = updated(&both, |m| m.name = Some("Late".into()));
    assert_eq!(
        conflict_of(store.write_membership(&stale).await),
        Conflict::Stale
    );
    let filter = MemberFilter {
        pool_id: Some(p.id.clone()),
        ..Default::default()
    };
    assert!(all_members(&store, fx.id(), &filter, 50).await.is_empty());
}

// ====================================================================== memberships

/// Create refuses duplicates; updates need the current version and bump it.
pub async fn membership_create_update_and_versions(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let m = add_member(&store, fx.id(), vec![]).await;
    assert_eq!(
        store.get_membership(fx.id(), &m.user_id).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(m.clone()))
                .await
        ),
        Conflict::MembershipExists
    );

    let write = updated(&m, |a| {
        a.name = Some("Renamed".into());
        a.phone = Some("+33 1 23 45 67 89".into());
    });
    store.write_membership(&write).await.unwrap();
    let stored = store
        .get_membership(fx.id(), &m.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, after_of(&write));
    assert_eq!(stored.version, m.version + 1);

    assert_eq!(
        conflict_of(store.write_membership(&write).await),
        Conflict::Stale,
        "replaying an old version"
    );
    let ghost = membership(fx.id(), &user_id(), email("ghost"), vec![]);
    assert_eq!(
        conflict_of(store.write_membership(&updated(&ghost, |_| {})).await),
        Conflict::Stale
    );
    assert_eq!(
        store.get_membership(fx.id(), &ghost.user_id).await.unwrap(),
        None
    );

    let other = new_org(&store).await;
    assert_eq!(
        store.get_membership(other.id(), &m.user_id).await.unwrap(),
        None
    );
    let missing_org = membership(
        &OrgId::from_uuid(uuid()),
        &user_id(),
        email("nowhere"),
        vec![],
    );
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(missing_org))
                .await
        ),
        Conflict::OrgMissing
    );
}

/// One member per normalized email per organization: a claim taken by every write that creates
/// a membership or changes its email (write, SCIM provisioning, update), released by removal;
/// another organization is not concerned.
pub async fn membership_email_is_claimed_per_org(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let taken = email("taken");
    let first = membership(fx.id(), &user_id(), taken.clone(), vec![]);
    store
        .write_membership(&MembershipWrite::Create(first.clone()))
        .await
        .unwrap();
    // The same address in another case is the same address.
    let upper = Email::parse(&taken.as_str().to_uppercase()).unwrap();
    let second = membership(fx.id(), &user_id(), upper.clone(), vec![]);
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(second.clone()))
                .await
        ),
        Conflict::MemberEmailTaken
    );
    assert_eq!(
        store
            .get_membership(fx.id(), &second.user_id)
            .await
            .unwrap(),
        None
    );
    // Over SCIM too, and nothing of the provisioning is stored.
    let mut p = provisioned(fx.id());
    p.membership.email = upper.clone();
    assert_eq!(
        conflict_of(provision(&store, &p).await),
        Conflict::MemberEmailTaken
    );
    assert_not_provisioned(&store, &p).await;
    // Changing another member's email to it.
    let other = membership(fx.id(), &user_id(), email("other"), vec![]);
    store
        .write_membership(&MembershipWrite::Create(other.clone()))
        .await
        .unwrap();
    let onto = updated(&other, |m| m.email = upper.clone());
    assert_eq!(
        conflict_of(store.write_membership(&onto).await),
        Conflict::MemberEmailTaken
    );
    assert_eq!(
        store.get_membership(fx.id(), &other.user_id).await.unwrap(),
        Some(other.clone())
    );
    // Another organization may have a member with the address.
    let elsewhere = new_org(&store).await;
    store
        .write_membership(&MembershipWrite::Create(membership(
            elsewhere.id(),
            &user_id(),
            taken.clone(),
            vec![],
        )))
        .await
        .unwrap();
    // The holder moves to another address: the old one is free, the new one is held.
    let moved = updated(&first, |m| m.email = email("moved"));
    store.write_membership(&moved).await.unwrap();
    store.write_membership(&onto).await.unwrap();
    let third = membership(fx.id(), &user_id(), after_of(&moved).email, vec![]);
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(third))
                .await
        ),
        Conflict::MemberEmailTaken
    );
    // A removal frees the address.
    let holder = after_of(&onto);
    store
        .remove_member(&holder, &fx.owner.user_id)
        .await
        .unwrap();
    store
        .write_membership(&MembershipWrite::Create(second))
        .await
        .unwrap();
}

/// Members are found by normalized email within their org, following email changes and removal.
pub async fn membership_find_by_email(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let addr = format!("Mixed.Case-{}@Example.COM", uuid().simple());
    let m = membership(fx.id(), &user_id(), Email::parse(&addr).unwrap(), vec![]);
    store
        .write_membership(&MembershipWrite::Create(m.clone()))
        .await
        .unwrap();
    let normalized = m.email.normalized().to_owned();
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), &normalized)
            .await
            .unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), email("nobody").normalized())
            .await
            .unwrap(),
        None
    );
    let other = new_org(&store).await;
    assert_eq!(
        store
            .find_membership_by_email(other.id(), &normalized)
            .await
            .unwrap(),
        None
    );

    let new_email = email("moved");
    let write = updated(&m, |a| a.email = new_email.clone());
    store.write_membership(&write).await.unwrap();
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), &normalized)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), new_email.normalized())
            .await
            .unwrap(),
        Some(after_of(&write))
    );

    store
        .remove_member(&after_of(&write), &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), new_email.normalized())
            .await
            .unwrap(),
        None
    );
}

/// Each member filter, alone and combined, over every page.
pub async fn membership_filters(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = &fx.owner.user_id;
    let p = add_pool(&store, &fx.root, "P", owner).await;
    let q = add_pool(&store, &fx.root, "Q", owner).await;

    let mut alice = membership(
        fx.id(),
        &user_id(),
        email("alice"),
        vec![Assignment::on_pool(Role::Engineer, p.id.clone())],
    );
    alice.name = Some("Alice SMITH".into());
    let bob = membership(
        fx.id(),
        &user_id(),
        email("bob"),
        vec![
            Assignment::on_pool(Role::Manager, p.id.clone()),
            Assignment::on_pool(Role::Engineer, q.id.clone()),
        ],
    );
    let mut carol = membership(
        fx.id(),
        &user_id(),
        email("carol"),
        vec![Assignment::on_pool(Role::Engineer, q.id.clone())],
    );
    carol.status = MemberStatus::Suspended;
    carol.name = Some("Carol".into());
    let mut dave = membership(fx.id(), &user_id(), email("dave"), vec![]);
    dave.name = Some("Dave".into());
    for m in [&alice, &bob, &carol, &dave] {
        store
            .write_membership(&MembershipWrite::Create(m.clone()))
            .await
            .unwrap();
    }
    let everyone = [
        fx.owner.clone(),
        alice.clone(),
        bob.clone(),
        carol.clone(),
        dave.clone(),
    ];
    let expect = |list: &[&Membership]| -> Vec<Membership> {
        let mut v: Vec<Membership> = list.iter().map(|m| (*m).clone()).collect();
        v.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        v
    };
    let cases: Vec<(MemberFilter, Vec<Membership>)> = vec![
        (
            MemberFilter::default(),
            expect(&everyone.iter().collect::<Vec<_>>()),
        ),
        (
            MemberFilter {
                role: Some(Role::Member),
                ..Default::default()
            },
            expect(&everyone.iter().collect::<Vec<_>>()),
        ),
        (
            MemberFilter {
                role: Some(Role::Engineer),
                ..Default::default()
            },
            expect(&[&alice, &bob, &carol]),
        ),
        (
            MemberFilter {
                role: Some(Role::Manager),
                ..Default::default()
            },
            expect(&[&bob]),
        ),
        (
            MemberFilter {
                role: Some(Role::OrganizationManager),
                ..Default::default()
            },
            expect(&[&fx.owner]),
        ),
        (
            MemberFilter {
                pool_id: Some(p.id.clone()),
                ..Default::default()
            },
            expect(&[&alice, &bob]),
        ),
        (
            MemberFilter {
                pool_id: Some(q.id.clone()),
                ..Default::default()
            },
            expect(&[&bob, &carol]),
        ),
        (
            MemberFilter {
                role: Some(Role::Engineer),
                pool_id: Some(p.id.clone()),
                ..Default::default()
            },
            expect(&[&alice]),
        ),
        (
            MemberFilter {
                role: Some(Role::Manager),
                pool_id: Some(q.id.clone()),
                ..Default::default()
            },
            expect(&[]),
        ),
        (
            MemberFilter {
                status: Some(MemberStatus::Suspended),
                ..Default::default()
            },
            expect(&[&carol]),
        ),
        (
            MemberFilter {
                status: Some(MemberStatus::Active),
                role: Some(Role::Engineer),
                ..Default::default()
            },
            expect(&[&alice, &bob]),
        ),
        (
            MemberFilter {
                q: Some("smith".into()),
                ..Default::default()
            },
            expect(&[&alice]),
        ),
        (
            MemberFilter {
                q: Some("bob-".into()),
                ..Default::default()
            },
            expect(&[&bob]),
        ),
        (
            MemberFilter {
                q: Some("example.com".into()),
                ..Default::default()
            },
            expect(&everyone.iter().collect::<Vec<_>>()),
        ),
        (
            MemberFilter {
                q: Some("a".into()),
                status: Some(MemberStatus::Suspended),
                ..Default::default()
            },
            expect(&[&carol]),
        ),
        (
            MemberFilter {
                q: Some("no such person".into()),
                ..Default::default()
            },
            expect(&[]),
        ),
    ];
    for (filter, expected) in cases {
        for limit in [1, 2, 50] {
            let got = all_members(&store, fx.id(), &filter, limit).await;
            assert_eq!(
                ids_of_members(&got),
                ids_of_members(&expected),
                "{filter:?} limit {limit}"
            );
        }
    }
}

/// Pages concatenate to the full list in order, without duplicates, at every page size.
pub async fn membership_pagination(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = add_pool(&store, &fx.root, "P", &fx.owner.user_id).await;
    let mut all = vec![fx.owner.clone()];
    for i in 0..9 {
        let assignments = if i % 2 == 0 {
            vec![Assignment::on_pool(Role::Engineer, p.id.clone())]
        } else {
            vec![]
        };
        all.push(add_member(&store, fx.id(), assignments).await);
    }
    all.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    for limit in [1, 2, 3, 4, 10, 50] {
        assert_eq!(
            all_members(&store, fx.id(), &MemberFilter::default(), limit).await,
            all,
            "limit {limit}"
        );
    }
    let first = store
        .list_memberships(fx.id(), &MemberFilter::default(), &PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(first.items, all[..3].to_vec());
    assert!(first.next_cursor.is_some());

    let engineers: Vec<Membership> = all
        .iter()
        .filter(|m| m.assignments.iter().any(|a| a.role == Role::Engineer))
        .cloned()
        .collect();
    let filter = MemberFilter {
        role: Some(Role::Engineer),
        ..Default::default()
    };
    for limit in [1, 2, 50] {
        assert_eq!(
            all_members(&store, fx.id(), &filter, limit).await,
            engineers,
            "engineers, limit {limit}"
        );
    }
}

/// Cursors that are garbage or belong to another list are refused.
pub async fn invalid_cursor_is_refused(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    for _ in 0..3 {
        store
            .create_invite_link(&link(fx.id(), &fx.owner.user_id, None))
            .await
            .unwrap();
        add_member(&store, fx.id(), vec![]).await;
    }
    let links = store
        .list_invite_links(fx.id(), &PageRequest::first(1))
        .await
        .unwrap();
    let link_cursor = links
        .next_cursor
        .expect("a cursor after one of three links");
    let members = store
        .list_memberships(fx.id(), &MemberFilter::default(), &PageRequest::first(1))
        .await
        .unwrap();
    let member_cursor = members
        .next_cursor
        .expect("a cursor after one of four members");

    let at = now();
    let mut bad = vec![
        "garbage!".to_owned(),
        "".to_owned(),
        "AAAA".to_owned(),
        "%%%".to_owned(),
    ];
    bad.push(link_cursor.clone());
    for cursor in &bad {
        let page = PageRequest {
            limit: 10,
            cursor: Some(cursor.clone()),
        };
        assert_eq!(
            store
                .list_memberships(fx.id(), &MemberFilter::default(), &page)
                .await
                .map(|_| ()),
            Err(StoreError::InvalidCursor),
            "members with cursor {cursor:?}"
        );
    }
    let mut bad = vec!["garbage!".to_owned()];
    bad.push(member_cursor.clone());
    for cursor in &bad {
        let page = PageRequest {
            limit: 10,
            cursor: Some(cursor.clone()),
        };
        assert_eq!(
            store
                .list_invitations(fx.id(), &InvitationFilter::default(), at, &page)
                .await
                .map(|_| ()),
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            store.list_invite_links(fx.id(), &page).await.map(|_| ()),
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            store
                .list_user_memberships(&fx.owner.user_id, &page)
                .await
                .map(|_| ()),
            Err(StoreError::InvalidCursor)
        );
        assert_eq!(
            store
                .list_invitations_for_email(email("x").normalized(), at, &page)
                .await
                .map(|_| ()),
            Err(StoreError::InvalidCursor)
        );
    }
    let page = PageRequest {
        limit: 10,
        cursor: Some(link_cursor),
    };
    assert_eq!(
        store
            .list_invite_links(fx.id(), &page)
            .await
            .unwrap()
            .items
            .len(),
        2,
        "the real cursor works"
    );
}

/// The last active organization manager cannot be demoted or suspended; suspended managers do
/// not count; with two, one may go.
pub async fn last_org_manager_is_kept(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = fx.owner.clone();
    let demote = updated(&owner, |m| {
        m.assignments = vec![Assignment::org_wide(Role::Member)]
    });
    assert_eq!(
        conflict_of(store.write_membership(&demote).await),
        Conflict::LastOrganizationManager
    );
    let suspend = updated(&owner, |m| m.status = MemberStatus::Suspended);
    assert_eq!(
        conflict_of(store.write_membership(&suspend).await),
        Conflict::LastOrganizationManager
    );
    // Other changes to the last manager are fine.
    let rename = updated(&owner, |m| m.name = Some("Still here".into()));
    store.write_membership(&rename).await.unwrap();
    let owner = after_of(&rename);

    let mut sleeper = membership(
        fx.id(),
        &user_id(),
        email("sleeper"),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    );
    sleeper.status = MemberStatus::Suspended;
    store
        .write_membership(&MembershipWrite::Create(sleeper.clone()))
        .await
        .unwrap();
    let demote = updated(&owner, |m| {
        m.assignments = vec![Assignment::org_wide(Role::Member)]
    });
    assert_eq!(
        conflict_of(store.write_membership(&demote).await),
        Conflict::LastOrganizationManager,
        "a suspended manager does not count"
    );

    let second = add_member(
        &store,
        fx.id(),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    store.write_membership(&demote).await.unwrap();
    let owner = after_of(&demote);
    let suspend_second = updated(&second, |m| m.status = MemberStatus::Suspended);
    assert_eq!(
        conflict_of(store.write_membership(&suspend_second).await),
        Conflict::LastOrganizationManager
    );

    // Reactivating the sleeper makes two again.
    let wake = updated(&sleeper, |m| m.status = MemberStatus::Active);
    store.write_membership(&wake).await.unwrap();
    store.write_membership(&suspend_second).await.unwrap();
    let sleeper = after_of(&wake);
    let demote_sleeper = updated(&sleeper, |m| m.assignments = vec![]);
    assert_eq!(
        conflict_of(store.write_membership(&demote_sleeper).await),
        Conflict::LastOrganizationManager
    );
    let promote = updated(&owner, |m| {
        m.assignments = vec![Assignment::org_wide(Role::OrganizationManager)]
    });
    store.write_membership(&promote).await.unwrap();
    store.write_membership(&demote_sleeper).await.unwrap();
    let managers = all_members(
        &store,
        fx.id(),
        &MemberFilter {
            role: Some(Role::OrganizationManager),
            ..Default::default()
        },
        50,
    )
    .await;
    assert_eq!(
        ids_of_members(&managers),
        sorted(&[owner.user_id.clone(), second.user_id.clone()])
    );
}

/// Removing a member hands pools, links and pending invitations to the successor, and removes the
/// membership with its indexes.
pub async fn remove_member_hands_over(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = fx.owner.user_id.clone();
    let leaver = add_member(
        &store,
        fx.id(),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    let p1 = add_pool(&store, &fx.root, "P1", &leaver.user_id).await;
    let p2 = add_pool(&store, &p1, "P2", &leaver.user_id).await;
    let kept = add_pool(&store, &fx.root, "Kept", &owner).await;
    let l1 = link(fx.id(), &leaver.user_id, None);
    let l2 = link(fx.id(), &owner, None);
    store.create_invite_link(&l1).await.unwrap();
    store.create_invite_link(&l2).await.unwrap();
    let mut sent = Vec::new();
    for _ in 0..3 {
        let inv = invitation(fx.id(), email("handed"), &leaver.user_id, vec![]);
        store
            .create_invitation(&inv, None, &no_limits(now()))
            .await
            .unwrap();
        sent.push(inv);
    }
    let revoked = sent.pop().unwrap();
    store
        .close_invitation(&revoked, &closed(&revoked, InvitationStatus::Revoked))
        .await
        .unwrap();
    let owners_inv = invite(&store, &fx, vec![]).await;
    // The leaver's things in another org stay theirs.
    let other = new_org(&store).await;
    let mut there = membership(other.id(), &leaver.user_id, leaver.email.clone(), vec![]);
    there.version = 1;
    store
        .write_membership(&MembershipWrite::Create(there.clone()))
        .await
        .unwrap();
    let other_pool = add_pool(&store, &other.root, "Theirs", &leaver.user_id).await;

    let handover = store.remove_member(&leaver, &owner).await.unwrap();
    assert_eq!(
        handover,
        Handover {
            pools: 2,
            invite_links: 1,
            invitations: 2
        }
    );

    assert_eq!(
        store
            .get_membership(fx.id(), &leaver.user_id)
            .await
            .unwrap(),
        None
    );
    let left = store
        .list_user_memberships(&leaver.user_id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(left.items, vec![there]);
    assert!(
        !all_members(&store, fx.id(), &MemberFilter::default(), 50)
            .await
            .iter()
            .any(|m| m.user_id == leaver.user_id)
    );
    for p in [&p1, &p2] {
        assert_eq!(
            store
                .get_pool(fx.id(), &p.id)
                .await
                .unwrap()
                .unwrap()
                .owner_id,
            owner
        );
    }
    assert_eq!(store.get_pool(fx.id(), &kept.id).await.unwrap(), Some(kept));
    assert_eq!(
        store.get_pool(other.id(), &other_pool.id).await.unwrap(),
        Some(other_pool)
    );
    assert_eq!(
        store
            .get_invite_link(fx.id(), &l1.id)
            .await
            .unwrap()
            .unwrap()
            .created_by,
        owner
    );
    assert_eq!(
        store
            .get_invite_link(fx.id(), &l2.id)
            .await
            .unwrap()
            .unwrap()
            .created_by,
        owner
    );
    for inv in &sent {
        let got = store.get_invitation(&inv.id).await.unwrap().unwrap();
        assert_eq!(got.inviter_id, owner);
        assert_eq!(got.status, InvitationStatus::Pending);
        assert_eq!(
            store
                .find_pending_invitation(fx.id(), inv.email.normalized())
                .await
                .unwrap()
                .map(|i| i.id),
            Some(inv.id.clone())
        );
    }
    assert_eq!(
        store
            .get_invitation(&revoked.id)
            .await
            .unwrap()
            .unwrap()
            .inviter_id,
        leaver.user_id,
        "closed ones keep their history"
    );
    assert_eq!(
        store
            .get_invitation(&owners_inv.id)
            .await
            .unwrap()
            .unwrap()
            .inviter_id,
        owner
    );

    // Removed twice: the membership is gone.
    assert_eq!(
        conflict_of(store.remove_member(&leaver, &owner).await),
        Conflict::Stale
    );
    // The person can come back.
    store
        .write_membership(&MembershipWrite::Create(leaver.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_membership(fx.id(), &leaver.user_id)
            .await
            .unwrap(),
        Some(leaver)
    );
}

/// The last active organization manager cannot be removed; a stale version is refused.
pub async fn remove_member_refuses_last_manager_and_stale(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let plain = add_member(&store, fx.id(), vec![]).await;
    assert_eq!(
        conflict_of(store.remove_member(&fx.owner, &plain.user_id).await),
        Conflict::LastOrganizationManager
    );
    assert_eq!(
        store
            .get_membership(fx.id(), &fx.owner.user_id)
            .await
            .unwrap(),
        Some(fx.owner.clone())
    );

    let write = updated(&plain, |m| m.name = Some("Changed".into()));
    store.write_membership(&write).await.unwrap();
    assert_eq!(
        conflict_of(store.remove_member(&plain, &fx.owner.user_id).await),
        Conflict::Stale
    );
    assert!(
        store
            .get_membership(fx.id(), &plain.user_id)
            .await
            .unwrap()
            .is_some()
    );
    // The successor must be another member of the org.
    let current = after_of(&write);
    for successor in [user_id(), current.user_id.clone()] {
        assert_eq!(
            conflict_of(store.remove_member(&current, &successor).await),
            Conflict::Stale
        );
    }
    assert!(
        store
            .get_membership(fx.id(), &plain.user_id)
            .await
            .unwrap()
            .is_some()
    );
    let handover = store
        .remove_member(&current, &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(handover, Handover::default());

    // With a second manager, the first may go, and then the second is the last.
    let second = add_member(
        &store,
        fx.id(),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    store
        .remove_member(&fx.owner, &second.user_id)
        .await
        .unwrap();
    let another = add_member(&store, fx.id(), vec![]).await;
    assert_eq!(
        conflict_of(store.remove_member(&second, &another.user_id).await),
        Conflict::LastOrganizationManager
    );
}

// ====================================================================== invitations

/// One pending invitation per (org, normalized email); lookups by id, token and email.
pub async fn invitation_create_and_lookup(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let addr = format!("Ada.Invitee-{}@Example.org", uuid().simple());
    let inv = invitation(
        fx.id(),
        Email::parse(&addr).unwrap(),
        &fx.owner.user_id,
        vec![],
    );
    store
        .create_invitation(&inv, None, &no_limits(now()))
        .await
        .unwrap();
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(inv.clone())
    );
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        Some(inv.clone())
    );
    assert_eq!(
        store.find_invitation_by_token(&token_hash()).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        Some(inv.clone())
    );
    assert_eq!(
        store
            .get_invitation(&InvitationId::from_uuid(uuid()))
            .await
            .unwrap(),
        None
    );

    let again = invitation(
        fx.id(),
        Email::parse(&addr.to_uppercase()).unwrap(),
        &fx.owner.user_id,
        vec![],
    );
    assert_eq!(
        conflict_of(
            store
                .create_invitation(&again, None, &no_limits(now()))
                .await
        ),
        Conflict::PendingInvitationExists(inv.id.clone())
    );
    assert_eq!(store.get_invitation(&again.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_invitation_by_token(&again.token_hash)
            .await
            .unwrap(),
        None
    );

    let other = new_org(&store).await;
    assert_eq!(
        store
            .find_pending_invitation(other.id(), inv.email.normalized())
            .await
            .unwrap(),
        None
    );
    let there = invitation(other.id(), inv.email.clone(), &other.owner.user_id, vec![]);
    store
        .create_invitation(&there, None, &no_limits(now()))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_pending_invitation(other.id(), inv.email.normalized())
            .await
            .unwrap(),
        Some(there)
    );

    let nowhere = invitation(
        &OrgId::from_uuid(uuid()),
        email("nowhere"),
        &fx.owner.user_id,
        vec![],
    );
    assert_eq!(
        conflict_of(
            store
                .create_invitation(&nowhere, None, &no_limits(now()))
                .await
        ),
        Conflict::OrgMissing
    );
}

/// A stored-pending invitation past its expiry still holds the slot until replaced, and counts
/// as pending until then.
pub async fn invitation_replaces_expired(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let at = now();
    let mut old = invitation(fx.id(), email("late"), &fx.owner.user_id, vec![]);
    old.expires_at = at - Duration::hours(1);
    store
        .create_invitation(&old, None, &no_limits(at - Duration::days(2)))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), old.email.normalized())
            .await
            .unwrap(),
        Some(old.clone())
    );

    let one = InviteLimits {
        max_pending: Some(1),
        ..no_limits(at)
    };
    let unrelated = invitation(fx.id(), email("other"), &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(store.create_invitation(&unrelated, None, &one).await),
        Conflict::RateLimited(RateLimit::PendingInvitations),
        "the expired one still counts"
    );

    let new = invitation(fx.id(), old.email.clone(), &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(store.create_invitation(&new, None, &one).await),
        Conflict::PendingInvitationExists(old.id.clone())
    );
    let mut changed = old.clone();
    changed.version += 7;
    assert_eq!(
        conflict_of(store.create_invitation(&new, Some(&changed), &one).await),
        Conflict::Stale
    );

    store
        .create_invitation(&new, Some(&old), &one)
        .await
        .unwrap();
    let replaced = store.get_invitation(&old.id).await.unwrap().unwrap();
    assert_eq!(replaced.status, InvitationStatus::Expired);
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), new.email.normalized())
            .await
            .unwrap(),
        Some(new.clone())
    );
    assert_eq!(
        store
            .find_invitation_by_token(&new.token_hash)
            .await
            .unwrap(),
        Some(new.clone())
    );

    // The replaced one is no longer the pending one: either condition may be the one reported.
    let newer = invitation(fx.id(), old.email.clone(), &fx.owner.user_id, vec![]);
    match conflict_of(
        store
            .create_invitation(&newer, Some(&old), &no_limits(at))
            .await,
    ) {
        Conflict::Stale => {}
        Conflict::PendingInvitationExists(id) => assert_eq!(id, new.id),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(store.get_invitation(&newer.id).await.unwrap(), None);
    let recorded = InvitationFilter {
        status: Some(InvitationStatus::Expired),
        ..Default::default()
    };
    assert_eq!(
        ids_of_invitations(&all_invitations(&store, fx.id(), &recorded, at, 50).await),
        vec![old.id.clone()]
    );
}

/// `max_pending` counts the org's stored-pending invitations; closing frees a place.
pub async fn invitation_limit_pending(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let at = now();
    let limits = InviteLimits {
        max_pending: Some(2),
        ..no_limits(at)
    };
    let a = invitation(fx.id(), email("a"), &fx.owner.user_id, vec![]);
    let b = invitation(fx.id(), email("b"), &fx.owner.user_id, vec![]);
    let c = invitation(fx.id(), email("c"), &fx.owner.user_id, vec![]);
    store.create_invitation(&a, None, &limits).await.unwrap();
    store.create_invitation(&b, None, &limits).await.unwrap();
    assert_eq!(
        conflict_of(store.create_invitation(&c, None, &limits).await),
        Conflict::RateLimited(RateLimit::PendingInvitations)
    );
    assert_eq!(store.get_invitation(&c.id).await.unwrap(), None);
    store
        .create_invitation(&c, None, &no_limits(at))
        .await
        .expect("a None limit is not counted");

    store
        .close_invitation(&a, &closed(&a, InvitationStatus::Revoked))
        .await
        .unwrap();
    store
        .close_invitation(&b, &closed(&b, InvitationStatus::Declined))
        .await
        .unwrap();
    let d = invitation(fx.id(), email("d"), &fx.owner.user_id, vec![]);
    store.create_invitation(&d, None, &limits).await.unwrap();
    let e = invitation(fx.id(), email("e"), &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(store.create_invitation(&e, None, &limits).await),
        Conflict::RateLimited(RateLimit::PendingInvitations)
    );
    // Another org has its own count.
    let other = new_org(&store).await;
    let f = invitation(other.id(), email("f"), &other.owner.user_id, vec![]);
    store.create_invitation(&f, None, &limits).await.unwrap();
}

/// `per_hour` counts invitations created in the org in the UTC hour of `limits.now`.
pub async fn invitation_limit_per_hour(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let t0 = fixed_time();
    let at = |t: DateTime<Utc>| InviteLimits {
        per_hour: Some(2),
        ..no_limits(t)
    };
    for t in [t0, t0 + Duration::minutes(30)] {
        let inv = invitation(fx.id(), email("hourly"), &fx.owner.user_id, vec![]);
        store.create_invitation(&inv, None, &at(t)).await.unwrap();
    }
    let third = invitation(fx.id(), email("hourly"), &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(
            store
                .create_invitation(&third, None, &at(t0 + Duration::minutes(39)))
                .await
        ),
        Conflict::RateLimited(RateLimit::InvitationsPerHour)
    );
    assert_eq!(store.get_invitation(&third.id).await.unwrap(), None);
    // The next UTC hour (11:00, 40 minutes after 10:20) starts a new window.
    store
        .create_invitation(&third, None, &at(t0 + Duration::minutes(40)))
        .await
        .unwrap();
    let fourth = invitation(fx.id(), email("hourly"), &fx.owner.user_id, vec![]);
    store
        .create_invitation(&fourth, None, &at(t0 + Duration::hours(1)))
        .await
        .unwrap();
    let fifth = invitation(fx.id(), email("hourly"), &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(
            store
                .create_invitation(&fifth, None, &at(t0 + Duration::hours(1)))
                .await
        ),
        Conflict::RateLimited(RateLimit::InvitationsPerHour)
    );
    // Other orgs have their own windows.
    let other = new_org(&store).await;
    let theirs = invitation(other.id(), email("hourly"), &other.owner.user_id, vec![]);
    store
        .create_invitation(&theirs, None, &at(t0))
        .await
        .unwrap();
}

/// `per_recipient_per_day` counts emails to one normalized address from the org in the UTC day,
/// by creation and by resend.
pub async fn invitation_limit_per_recipient_per_day(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let t0 = fixed_time();
    let at = |t: DateTime<Utc>| InviteLimits {
        per_recipient_per_day: Some(2),
        ..no_limits(t)
    };
    let to = email("daily");
    let inv = invitation(fx.id(), to.clone(), &fx.owner.user_id, vec![]);
    store.create_invitation(&inv, None, &at(t0)).await.unwrap();
    let mut resent = inv.clone();
    resent.token_hash = token_hash();
    resent.version += 1;
    store
        .update_invitation(&inv, &resent, Some(&at(t0 + Duration::hours(1))))
        .await
        .unwrap();
    let mut again = resent.clone();
    again.token_hash = token_hash();
    again.version += 1;
    assert_eq!(
        conflict_of(
            store
                .update_invitation(&resent, &again, Some(&at(t0 + Duration::hours(2))))
                .await
        ),
        Conflict::RateLimited(RateLimit::EmailsPerRecipientPerDay)
    );
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(resent.clone()),
        "a refused resend changes nothing"
    );
    store
        .update_invitation(&resent, &again, None)
        .await
        .expect("without limits nothing is counted");

    store
        .close_invitation(&again, &closed(&again, InvitationStatus::Revoked))
        .await
        .unwrap();
    let upper = Email::parse(&to.as_str().to_uppercase()).unwrap();
    let fresh = invitation(fx.id(), upper, &fx.owner.user_id, vec![]);
    assert_eq!(
        conflict_of(
            store
                .create_invitation(&fresh, None, &at(t0 + Duration::hours(3)))
                .await
        ),
        Conflict::RateLimited(RateLimit::EmailsPerRecipientPerDay)
    );
    let someone_else = invitation(fx.id(), email("daily-other"), &fx.owner.user_id, vec![]);
    store
        .create_invitation(&someone_else, None, &at(t0))
        .await
        .unwrap();
    // The next UTC day starts a new window.
    store
        .create_invitation(&fresh, None, &at(t0 + Duration::days(1)))
        .await
        .unwrap();
}

/// A resend with a new token hash retires the old token; updates need the current version of a
/// pending invitation.
pub async fn invitation_resend_retires_old_token(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let inv = invite(&store, &fx, vec![]).await;
    let mut resent = inv.clone();
    resent.token_hash = token_hash();
    resent.expires_at = inv.expires_at + Duration::days(3);
    resent.email_status = EmailStatus::Failed;
    resent.updated_at = now();
    resent.version += 1;
    store.update_invitation(&inv, &resent, None).await.unwrap();
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        None,
        "the old token is dead"
    );
    assert_eq!(
        store
            .find_invitation_by_token(&resent.token_hash)
            .await
            .unwrap(),
        Some(resent.clone())
    );
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(resent.clone())
    );
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        Some(resent.clone())
    );

    let mut late = inv.clone();
    late.email_status = EmailStatus::Sent;
    late.version += 1;
    assert_eq!(
        conflict_of(store.update_invitation(&inv, &late, None).await),
        Conflict::Stale
    );

    // Same token, new email status only.
    let mut status_only = resent.clone();
    status_only.email_status = EmailStatus::Sent;
    status_only.version += 1;
    store
        .update_invitation(&resent, &status_only, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_invitation_by_token(&resent.token_hash)
            .await
            .unwrap(),
        Some(status_only.clone())
    );

    store
        .close_invitation(
            &status_only,
            &closed(&status_only, InvitationStatus::Revoked),
        )
        .await
        .unwrap();
    let revoked = store.get_invitation(&inv.id).await.unwrap().unwrap();
    let mut after = revoked.clone();
    after.status = InvitationStatus::Pending;
    after.version += 1;
    assert_eq!(
        conflict_of(store.update_invitation(&revoked, &after, None).await),
        Conflict::Stale,
        "a closed invitation is not updated"
    );
}

/// Closing needs the current version of a pending invitation; it frees the (org, email) slot;
/// the token keeps finding the closed invitation.
pub async fn invitation_close_rules(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let inv = invite(&store, &fx, vec![]).await;
    let mut stale = inv.clone();
    stale.version += 3;
    assert_eq!(
        conflict_of(
            store
                .close_invitation(&stale, &closed(&stale, InvitationStatus::Revoked))
                .await
        ),
        Conflict::InvitationNotPending
    );
    let revoked = closed(&inv, InvitationStatus::Revoked);
    store.close_invitation(&inv, &revoked).await.unwrap();
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(
        conflict_of(
            store
                .close_invitation(&inv, &closed(&inv, InvitationStatus::Declined))
                .await
        ),
        Conflict::InvitationNotPending
    );
    assert_eq!(
        conflict_of(
            store
                .close_invitation(&revoked, &closed(&revoked, InvitationStatus::Declined))
                .await
        ),
        Conflict::InvitationNotPending,
        "terminal states never change"
    );

    let next = invitation(fx.id(), inv.email.clone(), &fx.owner.user_id, vec![]);
    store
        .create_invitation(&next, None, &no_limits(now()))
        .await
        .unwrap();
    let declined = closed(&next, InvitationStatus::Declined);
    store.close_invitation(&next, &declined).await.unwrap();
    assert_eq!(
        store.get_invitation(&next.id).await.unwrap(),
        Some(declined)
    );

    // An expired invitation may be closed as expired.
    let mut old = invitation(fx.id(), email("old"), &fx.owner.user_id, vec![]);
    old.expires_at = now() - Duration::minutes(5);
    store
        .create_invitation(&old, None, &no_limits(now() - Duration::days(1)))
        .await
        .unwrap();
    store
        .close_invitation(&old, &closed(&old, InvitationStatus::Expired))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), old.email.normalized())
            .await
            .unwrap(),
        None
    );
}

/// Invitations list newest first, filtered by effective status (expiry derived at `now`), email
/// and email status.
pub async fn invitation_list_order_and_filters(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let at = now();
    let pending = invite(&store, &fx, vec![]).await;
    let mut expired = invitation(fx.id(), email("expired"), &fx.owner.user_id, vec![]);
    expired.expires_at = at - Duration::minutes(1);
    store
        .create_invitation(&expired, None, &no_limits(at - Duration::days(1)))
        .await
        .unwrap();
    let revoked = invite(&store, &fx, vec![]).await;
    store
        .close_invitation(&revoked, &closed(&revoked, InvitationStatus::Revoked))
        .await
        .unwrap();
    let to_accept = invite(&store, &fx, vec![]).await;
    let user = user_id();
    let m = membership(fx.id(), &user, to_accept.email.clone(), vec![]);
    store
        .accept_invitation(
            &to_accept,
            &accepted(&to_accept, &user, at),
            &MembershipWrite::Create(m),
            &[],
            at,
        )
        .await
        .unwrap();
    let target = email("target");
    let old_target = invitation(fx.id(), target.clone(), &fx.owner.user_id, vec![]);
    store
        .create_invitation(&old_target, None, &no_limits(at))
        .await
        .unwrap();
    store
        .close_invitation(
            &old_target,
            &closed(&old_target, InvitationStatus::Declined),
        )
        .await
        .unwrap();
    let new_target = invitation(fx.id(), target.clone(), &fx.owner.user_id, vec![]);
    store
        .create_invitation(&new_target, None, &no_limits(at))
        .await
        .unwrap();
    // Delivery events recorded: the new target's mail bounced, the pending one's drew a
    // complaint (with the message ids they were about, read back as written).
    let with_status = |before: &Invitation, status: EmailStatus, message: &str| {
        let after = Invitation {
            email_status: status,
            email_message_id: Some(message.to_owned()),
            version: before.version + 1,
            ..before.clone()
        };
        let (store, before) = (store.clone(), before.clone());
        async move {
            store
                .update_invitation(&before, &after, None)
                .await
                .unwrap();
            assert_eq!(
                store.get_invitation(&after.id).await.unwrap(),
                Some(after.clone())
            );
            after
        }
    };
    let new_target = with_status(&new_target, EmailStatus::Bounced, "msg-bounced").await;
    let pending = with_status(&pending, EmailStatus::Complained, "msg-complained").await;
    // Noise in another org.
    let other = new_org(&store).await;
    invite(&store, &other, vec![]).await;

    let every = [
        &pending,
        &expired,
        &revoked,
        &to_accept,
        &old_target,
        &new_target,
    ];
    let all_ids = sorted_desc(&every.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
    for limit in [1, 2, 50] {
        let got = all_invitations(&store, fx.id(), &InvitationFilter::default(), at, limit).await;
        assert_eq!(
            ids_of_invitations(&got),
            all_ids,
            "newest first, limit {limit}"
        );
    }
    let by_status = |s: InvitationStatus| InvitationFilter {
        status: Some(s),
        ..Default::default()
    };
    let by_email_status = |s: EmailStatus| InvitationFilter {
        email_status: Some(s),
        ..Default::default()
    };
    let cases = vec![
        (
            by_status(InvitationStatus::Pending),
            vec![&pending, &new_target],
        ),
        (by_status(InvitationStatus::Expired), vec![&expired]),
        (by_status(InvitationStatus::Revoked), vec![&revoked]),
        (by_status(InvitationStatus::Accepted), vec![&to_accept]),
        (by_status(InvitationStatus::Declined), vec![&old_target]),
        (
            InvitationFilter {
                email: Some(target.normalized().to_owned()),
                ..Default::default()
            },
            vec![&old_target, &new_target],
        ),
        (
            InvitationFilter {
                email: Some(target.normalized().to_owned()),
                status: Some(InvitationStatus::Pending),
                email_status: None,
            },
            vec![&new_target],
        ),
        (by_email_status(EmailStatus::Bounced), vec![&new_target]),
        (by_email_status(EmailStatus::Complained), vec![&pending]),
        (by_email_status(EmailStatus::Delivered), vec![]),
        (
            by_email_status(EmailStatus::Sent),
            vec![&expired, &revoked, &to_accept, &old_target],
        ),
        (
            InvitationFilter {
                status: Some(InvitationStatus::Pending),
                ..by_email_status(EmailStatus::Bounced)
            },
            vec![&new_target],
        ),
        (
            InvitationFilter {
                status: Some(InvitationStatus::Revoked),
                ..by_email_status(EmailStatus::Bounced)
            },
            vec![],
        ),
        (
            InvitationFilter {
                email: Some(target.normalized().to_owned()),
                ..by_email_status(EmailStatus::Bounced)
            },
            vec![&new_target],
        ),
        (
            InvitationFilter {
                email: Some(email("nobody").normalized().to_owned()),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let want = sorted_desc(&expected.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
        for limit in [1, 50] {
            let got = all_invitations(&store, fx.id(), &filter, at, limit).await;
            assert_eq!(ids_of_invitations(&got), want, "{filter:?} limit {limit}");
        }
    }
    // Expiry is derived at the `now` asked: a week later, the pending ones are expired.
    let later = at + Duration::days(8);
    let got = all_invitations(
        &store,
        fx.id(),
        &by_status(InvitationStatus::Pending),
        later,
        50,
    )
    .await;
    assert!(got.is_empty());
    let got = all_invitations(
        &store,
        fx.id(),
        &by_status(InvitationStatus::Expired),
        later,
        50,
    )
    .await;
    assert_eq!(
        ids_of_invitations(&got),
        sorted_desc(&[
            pending.id.clone(),
            expired.id.clone(),
            new_target.id.clone()
        ])
    );
}

/// Pending, unexpired invitations addressed to one email across orgs, newest first.
pub async fn invitations_for_email_across_orgs(store: Arc<dyn Store>) {
    let at = now();
    let to = email("everywhere");
    let a = new_org(&store).await;
    let b = new_org(&store).await;
    let c = new_org(&store).await;
    let d = new_org(&store).await;
    let in_a = invitation(a.id(), to.clone(), &a.owner.user_id, vec![]);
    store
        .create_invitation(&in_a, None, &no_limits(at))
        .await
        .unwrap();
    let in_b = invitation(
        b.id(),
        Email::parse(&to.as_str().to_uppercase()).unwrap(),
        &b.owner.user_id,
        vec![],
    );
    store
        .create_invitation(&in_b, None, &no_limits(at))
        .await
        .unwrap();
    let mut in_c = invitation(c.id(), to.clone(), &c.owner.user_id, vec![]);
    in_c.expires_at = at - Duration::seconds(1);
    store
        .create_invitation(&in_c, None, &no_limits(at - Duration::days(1)))
        .await
        .unwrap();
    let in_d = invitation(d.id(), to.clone(), &d.owner.user_id, vec![]);
    store
        .create_invitation(&in_d, None, &no_limits(at))
        .await
        .unwrap();
    store
        .close_invitation(&in_d, &closed(&in_d, InvitationStatus::Revoked))
        .await
        .unwrap();
    invite(&store, &a, vec![]).await; // someone else

    let want = sorted_desc(&[in_a.id.clone(), in_b.id.clone()]);
    for limit in [1, 50] {
        let got = all_pages(limit, |p| {
            let (s, e) = (store.clone(), to.normalized().to_owned());
            async move { s.list_invitations_for_email(&e, at, &p).await }
        })
        .await;
        assert_eq!(ids_of_invitations(&got), want, "limit {limit}");
    }
    let page = store
        .list_invitations_for_email(email("nobody").normalized(), at, &PageRequest::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

/// Accepting closes the invitation as accepted, writes the membership, frees the slot, and keeps
/// the token pointing at the used invitation.
pub async fn accept_invitation_happy_path(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = add_pool(&store, &fx.root, "P", &fx.owner.user_id).await;
    let inv = invite(
        &store,
        &fx,
        vec![Assignment::on_pool(Role::Engineer, p.id.clone())],
    )
    .await;
    let at = now();
    let user = user_id();
    let mut m = membership(fx.id(), &user, inv.email.clone(), inv.assignments.clone());
    m.source = MemberSource::Invitation;
    let after = accepted(&inv, &user, at);
    store
        .accept_invitation(
            &inv,
            &after,
            &MembershipWrite::Create(m.clone()),
            std::slice::from_ref(&p.id),
            at,
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store.get_membership(fx.id(), &user).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        store
            .find_membership_by_email(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        Some(m)
    );
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        Some(after.clone()),
        "a used token says so"
    );
    let mine = store
        .list_user_memberships(&user, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 1);

    let m2 = membership(fx.id(), &user_id(), inv.email.clone(), vec![]);
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &inv,
                    &accepted(&inv, &m2.user_id, at),
                    &MembershipWrite::Create(m2),
                    &[],
                    at
                )
                .await
        ),
        Conflict::InvitationNotPending,
        "single use"
    );
    // No longer counted as pending.
    let limits = InviteLimits {
        max_pending: Some(1),
        ..no_limits(at)
    };
    store
        .create_invitation(
            &invitation(fx.id(), email("next"), &fx.owner.user_id, vec![]),
            None,
            &limits,
        )
        .await
        .unwrap();
}

/// Accept refuses expired, revoked and changed invitations and missing pools, writing nothing.
pub async fn accept_invitation_conditions(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let at = now();
    let check_nothing_written = |inv: Invitation, user: UserId| {
        let store = store.clone();
        let org = fx.id().clone();
        async move {
            let stored = store.get_invitation(&inv.id).await.unwrap().unwrap();
            assert_eq!(stored.status, inv.status);
            assert_eq!(stored.version, inv.version);
            assert_eq!(store.get_membership(&org, &user).await.unwrap(), None);
        }
    };

    // Expired (expiry is exclusive: at `expires_at` it is over).
    let mut old = invitation(fx.id(), email("old"), &fx.owner.user_id, vec![]);
    old.expires_at = at;
    store
        .create_invitation(&old, None, &no_limits(at - Duration::days(1)))
        .await
        .unwrap();
    let user = user_id();
    let m = membership(fx.id(), &user, old.email.clone(), vec![]);
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &old,
                    &accepted(&old, &user, at),
                    &MembershipWrite::Create(m.clone()),
                    &[],
                    at
                )
                .await
        ),
        Conflict::InvitationNotPending
    );
    check_nothing_written(old.clone(), user.clone()).await;
    // Just before expiry it works.
    let before_expiry = at - Duration::seconds(1);
    store
        .accept_invitation(
            &old,
            &accepted(&old, &user, before_expiry),
            &MembershipWrite::Create(m),
            &[],
            before_expiry,
        )
        .await
        .unwrap();

    // Wrong version.
    let inv = invite(&store, &fx, vec![]).await;
    let mut changed = inv.clone();
    changed.version += 1;
    let user = user_id();
    let m = membership(fx.id(), &user, inv.email.clone(), vec![]);
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &changed,
                    &accepted(&changed, &user, at),
                    &MembershipWrite::Create(m.clone()),
                    &[],
                    at
                )
                .await
        ),
        Conflict::InvitationNotPending
    );
    check_nothing_written(inv.clone(), user.clone()).await;

    // A required pool is missing.
    let gone = PoolId::from_uuid(uuid());
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &inv,
                    &accepted(&inv, &user, at),
                    &MembershipWrite::Create(m.clone()),
                    &[fx.root.id.clone(), gone.clone()],
                    at
                )
                .await
        ),
        Conflict::PoolMissing(gone)
    );
    check_nothing_written(inv.clone(), user.clone()).await;
    assert!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap()
            .is_some()
    );

    // Revoked.
    store
        .close_invitation(&inv, &closed(&inv, InvitationStatus::Revoked))
        .await
        .unwrap();
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &inv,
                    &accepted(&inv, &user, at),
                    &MembershipWrite::Create(m),
                    &[],
                    at
                )
                .await
        ),
        Conflict::InvitationNotPending
    );
    assert_eq!(store.get_membership(fx.id(), &user).await.unwrap(), None);
}

/// Accepting as an existing member: `Create` is refused with `MembershipExists`, an `Update`
/// merges.
pub async fn accept_invitation_into_existing_membership(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = add_pool(&store, &fx.root, "P", &fx.owner.user_id).await;
    let existing = add_member(&store, fx.id(), vec![]).await;
    let inv = invitation(
        fx.id(),
        existing.email.clone(),
        &fx.owner.user_id,
        vec![Assignment::on_pool(Role::Manager, p.id.clone())],
    );
    store
        .create_invitation(&inv, None, &no_limits(now()))
        .await
        .unwrap();
    let at = now();
    let after = accepted(&inv, &existing.user_id, at);
    let mut fresh = existing.clone();
    fresh.assignments = inv.assignments.clone();
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(
                    &inv,
                    &after,
                    &MembershipWrite::Create(fresh),
                    std::slice::from_ref(&p.id),
                    at
                )
                .await
        ),
        Conflict::MembershipExists
    );
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(inv.clone()),
        "still pending"
    );

    let stale = updated(&existing, |m| m.name = Some("x".into()));
    store.write_membership(&stale).await.unwrap();
    assert_eq!(
        conflict_of(
            store
                .accept_invitation(&inv, &after, &stale, std::slice::from_ref(&p.id), at)
                .await
        ),
        Conflict::Stale,
        "the membership write's own version check"
    );
    let current = after_of(&stale);
    let merge = updated(&current, |m| {
        m.assignments = normal_form(m.assignments.iter().chain(inv.assignments.iter()).cloned())
    });
    store
        .accept_invitation(&inv, &after, &merge, std::slice::from_ref(&p.id), at)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_membership(fx.id(), &existing.user_id)
            .await
            .unwrap(),
        Some(after_of(&merge))
    );
    assert_eq!(store.get_invitation(&inv.id).await.unwrap(), Some(after));
}

/// A membership created by accepting counts as an organization manager.
pub async fn accept_invitation_counts_new_org_manager(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let inv = invite(
        &store,
        &fx,
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    let at = now();
    let user = user_id();
    let m = membership(fx.id(), &user, inv.email.clone(), inv.assignments.clone());
    store
        .accept_invitation(
            &inv,
            &accepted(&inv, &user, at),
            &MembershipWrite::Create(m.clone()),
            &[],
            at,
        )
        .await
        .unwrap();
    let demote = updated(&fx.owner, |o| o.assignments = vec![]);
    store.write_membership(&demote).await.unwrap();
    let demote_new = updated(&m, |o| o.assignments = vec![]);
    assert_eq!(
        conflict_of(store.write_membership(&demote_new).await),
        Conflict::LastOrganizationManager
    );
}

/// Of 20 concurrent accepts of one invitation, exactly one succeeds.
pub async fn concurrent_accepts_have_one_winner(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let inv = invite(&store, &fx, vec![]).await;
    let at = now();
    let user = user_id();
    let m = membership(fx.id(), &user, inv.email.clone(), vec![]);
    let after = accepted(&inv, &user, at);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, inv, after, m) = (store.clone(), inv.clone(), after.clone(), m.clone());
        tasks.push(tokio::spawn(async move {
            store
                .accept_invitation(&inv, &after, &MembershipWrite::Create(m), &[], at)
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(Conflict::InvitationNotPending | Conflict::Stale)) => {}
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.get_invitation(&inv.id).await.unwrap(), Some(after));
    assert_eq!(store.get_membership(fx.id(), &user).await.unwrap(), Some(m));
}

// ====================================================================== invite links

/// Links are created, found by id and token, listed newest first, and revoked once.
pub async fn invite_link_lifecycle(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let mut links = Vec::new();
    for i in 0..3 {
        let mut l = link(fx.id(), &fx.owner.user_id, Some(10 + i));
        l.allowed_domains = vec!["example.com".into()];
        store.create_invite_link(&l).await.unwrap();
        links.push(l);
    }
    let other = new_org(&store).await;
    let theirs = link(other.id(), &other.owner.user_id, None);
    store.create_invite_link(&theirs).await.unwrap();

    assert_eq!(
        store.get_invite_link(fx.id(), &links[0].id).await.unwrap(),
        Some(links[0].clone())
    );
    assert_eq!(
        store
            .get_invite_link(other.id(), &links[0].id)
            .await
            .unwrap(),
        None,
        "scoped to its org"
    );
    assert_eq!(
        store
            .find_invite_link_by_token(&links[1].token_hash)
            .await
            .unwrap(),
        Some(links[1].clone())
    );
    assert_eq!(
        store
            .find_invite_link_by_token(&token_hash())
            .await
            .unwrap(),
        None
    );

    let mut newest_first = links.clone();
    newest_first.sort_by(|a, b| b.id.cmp(&a.id));
    for limit in [1, 2, 50] {
        let got = all_pages(limit, |p| {
            let (s, org) = (store.clone(), fx.id().clone());
            async move { s.list_invite_links(&org, &p).await }
        })
        .await;
        assert_eq!(got, newest_first, "limit {limit}");
    }

    let mut revoked = links[1].clone();
    revoked.revoked_at = Some(now());
    store.revoke_invite_link(&links[1], &revoked).await.unwrap();
    assert_eq!(
        store.get_invite_link(fx.id(), &links[1].id).await.unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(
        conflict_of(store.revoke_invite_link(&revoked, &revoked).await),
        Conflict::Stale
    );
    let user = user_id();
    let m = membership(fx.id(), &user, email("joiner"), vec![]);
    assert_eq!(
        conflict_of(
            store
                .join_with_link(&revoked, &MembershipWrite::Create(m), &[], now())
                .await
        ),
        Conflict::LinkUnusable
    );
    assert_eq!(store.get_membership(fx.id(), &user).await.unwrap(), None);
}

/// Joins count uses up to `max_uses`; expired links and failed membership writes count nothing.
pub async fn join_with_link_rules(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let at = now();
    let l = link(fx.id(), &fx.owner.user_id, Some(2));
    store.create_invite_link(&l).await.unwrap();
    let joiner = |tag: &str| {
        let mut m = membership(fx.id(), &user_id(), email(tag), vec![]);
        m.source = MemberSource::InviteLink;
        m
    };

    let existing = add_member(&store, fx.id(), vec![]).await;
    assert_eq!(
        conflict_of(
            store
                .join_with_link(&l, &MembershipWrite::Create(existing.clone()), &[], at)
                .await
        ),
        Conflict::MembershipExists
    );
    let gone = PoolId::from_uuid(uuid());
    let first = joiner("first");
    assert_eq!(
        conflict_of(
            store
                .join_with_link(
                    &l,
                    &MembershipWrite::Create(first.clone()),
                    std::slice::from_ref(&gone),
                    at
                )
                .await
        ),
        Conflict::PoolMissing(gone)
    );
    assert_eq!(
        store
            .get_invite_link(fx.id(), &l.id)
            .await
            .unwrap()
            .unwrap()
            .uses,
        0,
        "failed joins count nothing"
    );

    store
        .join_with_link(
            &l,
            &MembershipWrite::Create(first.clone()),
            std::slice::from_ref(&fx.root.id),
            at,
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_membership(fx.id(), &first.user_id).await.unwrap(),
        Some(first)
    );
    let second = joiner("second");
    // The link passed in may be an old read: the stored use count decides.
    store
        .join_with_link(&l, &MembershipWrite::Create(second.clone()), &[], at)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_invite_link(fx.id(), &l.id)
            .await
            .unwrap()
            .unwrap()
            .uses,
        2
    );
    let third = joiner("third");
    assert_eq!(
        conflict_of(
            store
                .join_with_link(&l, &MembershipWrite::Create(third.clone()), &[], at)
                .await
        ),
        Conflict::LinkUnusable
    );
    assert_eq!(
        store.get_membership(fx.id(), &third.user_id).await.unwrap(),
        None
    );

    let mut short = link(fx.id(), &fx.owner.user_id, None);
    short.expires_at = Some(at);
    store.create_invite_link(&short).await.unwrap();
    assert_eq!(
        conflict_of(
            store
                .join_with_link(&short, &MembershipWrite::Create(third.clone()), &[], at)
                .await
        ),
        Conflict::LinkUnusable
    );
    store
        .join_with_link(
            &short,
            &MembershipWrite::Create(third.clone()),
            &[],
            at - Duration::seconds(1),
        )
        .await
        .unwrap();
    let unlimited = store
        .get_invite_link(fx.id(), &short.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unlimited.uses, 1);
}

/// Concurrent joins never exceed `max_uses`, and every success is counted.
pub async fn concurrent_joins_respect_max_uses(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let l = link(fx.id(), &fx.owner.user_id, Some(5));
    store.create_invite_link(&l).await.unwrap();
    let at = now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, l) = (store.clone(), l.clone());
        let m = membership(fx.id(), &user_id(), email("rush"), vec![]);
        tasks.push(tokio::spawn(async move {
            let r = store
                .join_with_link(&l, &MembershipWrite::Create(m.clone()), &[], at)
                .await;
            (r, m.user_id)
        }));
    }
    let mut joined = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (Ok(()), user) => joined.push(user),
            (Err(StoreError::Conflict(Conflict::LinkUnusable | Conflict::Stale)), _) => {}
            (Err(other), _) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert!(
        !joined.is_empty() && joined.len() <= 5,
        "{} joins",
        joined.len()
    );
    assert_eq!(
        store
            .get_invite_link(fx.id(), &l.id)
            .await
            .unwrap()
            .unwrap()
            .uses as usize,
        joined.len()
    );
    let members = all_members(&store, fx.id(), &MemberFilter::default(), 50).await;
    assert_eq!(members.len(), joined.len() + 1);
    for user in &joined {
        assert!(members.iter().any(|m| &m.user_id == user));
    }
}

// ====================================================================== SCIM tokens

/// SCIM tokens are created, listed newest first per org, found by hash and deleted.
pub async fn scim_token_lifecycle(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let other = new_org(&store).await;
    let make = |org: &OrgId, description: &str| ScimToken {
        id: ScimTokenId::from_uuid(uuid()),
        org_id: org.clone(),
        description: Some(description.into()),
        token_hash: token_hash(),
        created_by: fx.owner.user_id.clone(),
        created_at: now(),
        last_used_at: None,
    };
    let t1 = make(fx.id(), "okta");
    let t2 = make(fx.id(), "entra");
    let t3 = make(other.id(), "theirs");
    for t in [&t1, &t2, &t3] {
        store.create_scim_token(t, 2).await.unwrap();
    }
    // The limit counts per org, in the write.
    let extra = make(fx.id(), "one too many");
    assert_eq!(
        conflict_of(store.create_scim_token(&extra, 2).await),
        Conflict::ScimTokenLimit
    );
    assert_eq!(
        store.find_scim_token(&extra.token_hash).await.unwrap(),
        None
    );
    let mut mine = vec![t1.clone(), t2.clone()];
    mine.sort_by(|a, b| b.id.cmp(&a.id));
    assert_eq!(store.list_scim_tokens(fx.id()).await.unwrap(), mine);
    assert_eq!(
        store.list_scim_tokens(other.id()).await.unwrap(),
        vec![t3.clone()]
    );
    assert_eq!(
        store.find_scim_token(&t2.token_hash).await.unwrap(),
        Some(t2.clone())
    );
    assert_eq!(store.find_scim_token(&token_hash()).await.unwrap(), None);

    assert!(
        !store.delete_scim_token(other.id(), &t1.id).await.unwrap(),
        "another org's token"
    );
    assert!(store.delete_scim_token(fx.id(), &t1.id).await.unwrap());
    assert!(!store.delete_scim_token(fx.id(), &t1.id).await.unwrap());
    assert_eq!(store.find_scim_token(&t1.token_hash).await.unwrap(), None);
    assert_eq!(
        store.list_scim_tokens(fx.id()).await.unwrap(),
        vec![t2.clone()]
    );
    assert_eq!(
        store.find_scim_token(&t3.token_hash).await.unwrap(),
        Some(t3.clone())
    );

    // A use is recorded on the token both ways it is read; a deleted token stays deleted.
    let used_at = now();
    store.record_scim_token_use(&t2, used_at).await.unwrap();
    let used = ScimToken {
        last_used_at: Some(used_at),
        ..t2.clone()
    };
    assert_eq!(
        store.find_scim_token(&t2.token_hash).await.unwrap(),
        Some(used.clone())
    );
    assert_eq!(store.list_scim_tokens(fx.id()).await.unwrap(), vec![used]);
    assert_eq!(
        store.find_scim_token(&t3.token_hash).await.unwrap(),
        Some(t3),
        "other tokens untouched"
    );
    store.record_scim_token_use(&t1, used_at).await.unwrap();
    assert_eq!(store.find_scim_token(&t1.token_hash).await.unwrap(), None);
    assert!(!store.delete_scim_token(fx.id(), &t1.id).await.unwrap());

    // A revoked token frees its place (once: revoking it again changed nothing).
    store.create_scim_token(&extra, 2).await.unwrap();
    assert_eq!(
        conflict_of(store.create_scim_token(&make(fx.id(), "third"), 2).await),
        Conflict::ScimTokenLimit
    );
}

/// Concurrent creates cannot pass the limit.
pub async fn scim_token_limit_holds_under_concurrency(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let results = futures_util::future::join_all((0..8).map(|i| {
        let store = store.clone();
        let token = ScimToken {
            id: ScimTokenId::from_uuid(uuid()),
            org_id: fx.id().clone(),
            description: Some(format!("t{i}")),
            token_hash: token_hash(),
            created_by: fx.owner.user_id.clone(),
            created_at: now(),
            last_used_at: None,
        };
        async move { store.create_scim_token(&token, 3).await }
    }))
    .await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 3, "{results:?}");
    assert!(results.iter().all(|r| matches!(
        r,
        Ok(())
            | Err(StoreError::Conflict(
                Conflict::ScimTokenLimit | Conflict::Stale
            ))
    )));
    assert_eq!(store.list_scim_tokens(fx.id()).await.unwrap().len(), 3);
}

// ====================================================================== SCIM provisioning

/// A placeholder user (not stored) with `email`, as SCIM provisioning creates them.
pub fn placeholder_user(email: Email) -> User {
    User {
        id: user_id(),
        sub: format!("{PLACEHOLDER_SUB_PREFIX}{}", uuid().simple()),
        email,
        email_verified: true,
        name: Some("Provisioned Person".into()),
        created_at: now(),
        provisioned_by: None,
        link_declined_at: None,
    }
}

/// A SCIM record (not stored) of `user` in `org`, version 1.
pub fn scim_record(org: &OrgId, user: &UserId, user_name: &str) -> ScimUser {
    let t = now();
    ScimUser {
        org_id: org.clone(),
        user_id: user.clone(),
        user_name: user_name.to_owned(),
        resource: serde_json::json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "userName": user_name,
            "name": {"givenName": "Ada", "familyName": "Lovelace", "middleName": null},
            "displayName": "Ada Lovelace",
            "title": "",
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "phoneNumbers": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "R&D",
                "employeeNumber": "1842",
                "manager": {"value": "usr_x", "displayName": "Babbage"},
                "weight": 1.5,
                "level": 7
            }
        }),
        created_at: t,
        updated_at: t,
        version: 1,
        scim_id: None,
    }
}

/// A fresh userName (an email-like string with mixed case).
pub fn user_name(tag: &str) -> String {
    format!("{tag}.{}@Example.COM", uuid().simple())
}

/// A provisioned member to be: a placeholder user, its membership (`source: scim`, with an
/// externalId) and its SCIM record.
pub struct Provisioned {
    /// The placeholder user.
    pub user: User,
    /// The membership.
    pub membership: Membership,
    /// The SCIM record.
    pub record: ScimUser,
}

/// A provisioned member of `org` (not stored), with a fresh userName and externalId.
pub fn provisioned(org: &OrgId) -> Provisioned {
    let user = User {
        provisioned_by: Some(org.clone()),
        ..placeholder_user(email("scim"))
    };
    let mut membership = membership(org, &user.id, user.email.clone(), vec![]);
    membership.source = MemberSource::Scim;
    membership.external_id = Some(format!("00u{}", uuid().simple()));
    let record = scim_record(org, &user.id, &user_name("ada"));
    Provisioned {
        user,
        membership,
        record,
    }
}

/// Provisioning with an assignment on a pool that is gone writes nothing.
pub async fn scim_provision_needs_its_pools(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let mut p = provisioned(fx.id());
    let gone = PoolId::from_uuid(uuid());
    p.membership.assignments = vec![
        Assignment::org_wide(Role::Member),
        Assignment::on_pool(Role::Engineer, gone.clone()),
    ];
    assert_eq!(
        conflict_of(provision(&store, &p).await),
        Conflict::PoolMissing(gone)
    );
    assert_eq!(store.get_user(&p.user.id).await.unwrap(), None);
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.get_scim_user(fx.id(), &p.user.id).await.unwrap(),
        None
    );
    // On an existing pool it goes through.
    p.membership.assignments = vec![
        Assignment::org_wide(Role::Member),
        Assignment::on_pool(Role::Engineer, fx.root.id.clone()),
    ];
    provision(&store, &p).await.unwrap();
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        Some(p.membership)
    );
}

/// A member's new email carries their placeholder user along (its email index too); once the
/// placeholder is linked, that is `Stale`.
pub async fn scim_update_moves_a_placeholders_email(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = provisioned(fx.id());
    provision(&store, &p).await.unwrap();
    let new_email = email("renamed");
    let write = updated(&p.membership, |m| m.email = new_email.clone());
    let moved = User {
        email: new_email.clone(),
        ..p.user.clone()
    };
    let record = record_updated(&p.record, |_| {});
    store
        .update_scim_member(&write, Some(&p.record), &record, Some((&p.user, &moved)))
        .await
        .unwrap();
    assert_eq!(
        store.get_user(&p.user.id).await.unwrap(),
        Some(moved.clone())
    );
    assert_eq!(
        oldest_owner(&store, new_email.normalized()).await,
        Some(moved.clone())
    );
    assert_eq!(oldest_owner(&store, p.user.email.normalized()).await, None);

    // Linked meanwhile: the placeholder is gone, nothing is written.
    let linked = store
        .link_user_subject(&moved, &format!("idp|{}", uuid().simple()))
        .await
        .unwrap();
    let member = after_of(&write);
    let again = updated(&member, |m| m.email = email("again"));
    let back = User {
        email: after_of(&again).email,
        ..moved.clone()
    };
    let stored_record = store
        .get_scim_user(fx.id(), &p.user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(
                    &again,
                    Some(&stored_record),
                    &record_updated(&stored_record, |_| {}),
                    Some((&moved, &back))
                )
                .await
        ),
        Conflict::Stale
    );
    assert_eq!(store.get_user(&p.user.id).await.unwrap(), Some(linked));
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        Some(member)
    );
}

/// Stores `p` with `provision_scim_member` (no invitation accepted).
pub async fn provision(store: &Arc<dyn Store>, p: &Provisioned) -> StoreResult<()> {
    store
        .provision_scim_member(
            Some(&p.user),
            &MembershipWrite::Create(p.membership.clone()),
            &p.record,
            None,
            now(),
        )
        .await
}

/// Checks that nothing of `p` was stored.
async fn assert_not_provisioned(store: &Arc<dyn Store>, p: &Provisioned) {
    let org = &p.membership.org_id;
    assert_eq!(store.get_user(&p.user.id).await.unwrap(), None, "no user");
    assert_eq!(store.get_user_by_sub(&p.user.sub).await.unwrap(), None);
    assert_eq!(
        store.get_membership(org, &p.user.id).await.unwrap(),
        None,
        "no membership"
    );
    assert_eq!(
        store.get_scim_user(org, &p.user.id).await.unwrap(),
        None,
        "no SCIM record"
    );
}

/// `record` changed by `change`, with the next version.
fn record_updated(record: &ScimUser, change: impl FnOnce(&mut ScimUser)) -> ScimUser {
    let mut after = record.clone();
    change(&mut after);
    after.version = record.version + 1;
    after.updated_at = now();
    after
}

/// Provisioning creates the user (a placeholder), the membership and the SCIM record together;
/// they are found by id, subject, userName key, externalId and in batches; a second provisioning
/// of the same membership or into a missing org writes nothing.
pub async fn scim_provision_creates_user_membership_and_record(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = provisioned(fx.id());
    assert!(p.user.is_placeholder());
    provision(&store, &p).await.unwrap();

    assert_eq!(
        store.get_user(&p.user.id).await.unwrap(),
        Some(p.user.clone())
    );
    assert_eq!(
        store.get_user_by_sub(&p.user.sub).await.unwrap(),
        Some(p.user.clone())
    );
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        Some(p.membership.clone())
    );
    assert_eq!(
        store.get_scim_user(fx.id(), &p.user.id).await.unwrap(),
        Some(p.record.clone()),
        "the record round-trips exactly, resource included"
    );
    let shouted = format!("  {}  ", p.record.user_name.to_uppercase());
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &user_name_key(&shouted))
            .await
            .unwrap(),
        Some(p.record.clone())
    );
    let ext = p.membership.external_id.clone().unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext)
            .await
            .unwrap(),
        Some(p.membership.clone())
    );
    assert_eq!(
        oldest_owner(&store, p.user.email.normalized()).await,
        Some(p.user.clone())
    );
    let mine = store
        .list_user_memberships(&p.user.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(mine.items, vec![p.membership.clone()]);

    // Batches: in the order asked, missing ones (and members without a record) left out.
    let q = provisioned(fx.id());
    provision(&store, &q).await.unwrap();
    let got = store
        .get_scim_users(
            fx.id(),
            &[
                q.user.id.clone(),
                user_id(),
                fx.owner.user_id.clone(),
                p.user.id.clone(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(got, vec![q.record.clone(), p.record.clone()]);
    assert!(store.get_scim_users(fx.id(), &[]).await.unwrap().is_empty());
    let other = new_org(&store).await;
    assert!(
        store
            .get_scim_users(other.id(), std::slice::from_ref(&p.user.id))
            .await
            .unwrap()
            .is_empty(),
        "records are per org"
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(other.id(), &p.record.user_name_key())
            .await
            .unwrap(),
        None
    );

    // The same membership again: it exists; nothing else is written.
    let mut again = provisioned(fx.id());
    again.membership = Membership {
        user_id: p.user.id.clone(),
        ..again.membership
    };
    again.record.user_id = p.user.id.clone();
    assert_eq!(
        conflict_of(
            store
                .provision_scim_member(
                    None,
                    &MembershipWrite::Create(again.membership.clone()),
                    &again.record,
                    None,
                    now(),
                )
                .await
        ),
        Conflict::MembershipExists
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &again.record.user_name_key())
            .await
            .unwrap(),
        None
    );

    // Into a missing org: nothing, not even the user.
    let ghost = provisioned(&OrgId::from_uuid(uuid()));
    assert_eq!(
        conflict_of(provision(&store, &ghost).await),
        Conflict::OrgMissing
    );
    assert_not_provisioned(&store, &ghost).await;

    // A record about another member than the membership is refused.
    let mut mismatched = provisioned(fx.id());
    mismatched.record.user_id = user_id();
    assert_eq!(
        conflict_of(provision(&store, &mismatched).await),
        Conflict::Stale
    );
    assert_not_provisioned(&store, &mismatched).await;
}

/// `count_memberships` follows every path that creates or removes a membership, and failed
/// writes change nothing.
pub async fn count_memberships_follows_every_path(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let count = || {
        let (store, org) = (store.clone(), org.clone());
        async move { store.count_memberships(&org).await.unwrap() }
    };
    assert_eq!(count().await, 1, "create_org counts the owner");
    assert_eq!(
        store
            .count_memberships(&OrgId::from_uuid(uuid()))
            .await
            .unwrap(),
        0
    );

    let plain = add_member(&store, org, vec![]).await;
    assert_eq!(count().await, 2, "write_membership create");
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(plain.clone()))
                .await
        ),
        Conflict::MembershipExists
    );
    store
        .write_membership(&updated(&plain, |m| m.name = Some("Renamed".into())))
        .await
        .unwrap();
    assert_eq!(count().await, 2, "failed creates and updates count nothing");

    let at = now();
    let inv = invite(&store, &fx, vec![]).await;
    let invitee = user_id();
    store
        .accept_invitation(
            &inv,
            &accepted(&inv, &invitee, at),
            &MembershipWrite::Create(membership(org, &invitee, inv.email.clone(), vec![])),
            &[],
            at,
        )
        .await
        .unwrap();
    assert_eq!(count().await, 3, "accept_invitation create");
    let plain_now = store
        .get_membership(org, &plain.user_id)
        .await
        .unwrap()
        .unwrap();
    let inv2 = invite(&store, &fx, vec![]).await;
    store
        .accept_invitation(
            &inv2,
            &accepted(&inv2, &plain.user_id, at),
            &updated(&plain_now, |m| m.name = Some("Again".into())),
            &[],
            at,
        )
        .await
        .unwrap();
    assert_eq!(count().await, 3, "accepting into an existing membership");

    let l = link(org, &fx.owner.user_id, None);
    store.create_invite_link(&l).await.unwrap();
    let joiner = membership(org, &user_id(), email("joiner"), vec![]);
    store
        .join_with_link(&l, &MembershipWrite::Create(joiner.clone()), &[], at)
        .await
        .unwrap();
    assert_eq!(count().await, 4, "join_with_link");

    let p = provisioned(org);
    provision(&store, &p).await.unwrap();
    assert_eq!(count().await, 5, "provision_scim_member");
    let dup = Provisioned {
        user: placeholder_user(email("dup")),
        membership: p.membership.clone(),
        record: scim_record(org, &p.user.id, &user_name("dup")),
    };
    assert!(provision(&store, &dup).await.is_err());
    assert_eq!(count().await, 5);

    store
        .remove_member(&joiner, &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(count().await, 4, "remove_member");
    store
        .remove_member(&p.membership, &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(count().await, 3);
    assert!(
        store
            .remove_member(&joiner, &fx.owner.user_id)
            .await
            .is_err()
    );
    assert_eq!(count().await, 3, "a failed removal counts nothing");
    assert_eq!(
        all_members(&store, org, &MemberFilter::default(), 50)
            .await
            .len(),
        3
    );
}

/// userName is unique per org after trimming and lowercasing; the loser writes nothing; another
/// org may use the same userName.
pub async fn scim_user_name_is_unique_case_insensitively(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let first = provisioned(fx.id());
    provision(&store, &first).await.unwrap();
    let count = store.count_memberships(fx.id()).await.unwrap();

    let mut second = provisioned(fx.id());
    second.record.user_name = format!(" {} ", first.record.user_name.to_lowercase());
    assert_eq!(
        conflict_of(provision(&store, &second).await),
        Conflict::UserNameTaken
    );
    assert_not_provisioned(&store, &second).await;
    assert_eq!(store.count_memberships(fx.id()).await.unwrap(), count);
    assert_eq!(
        store
            .find_membership_by_external_id(
                fx.id(),
                second.membership.external_id.as_deref().unwrap()
            )
            .await
            .unwrap(),
        None,
        "the loser's externalId is not claimed"
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &second.record.user_name_key())
            .await
            .unwrap(),
        Some(first.record.clone())
    );

    let other = new_org(&store).await;
    let mut elsewhere = provisioned(other.id());
    elsewhere.record.user_name = first.record.user_name.clone();
    provision(&store, &elsewhere).await.unwrap();
    assert_eq!(
        store
            .find_scim_user_by_user_name(other.id(), &first.record.user_name_key())
            .await
            .unwrap(),
        Some(elsewhere.record)
    );
}

/// Of 10 concurrent provisionings with the same userName, exactly one succeeds and the others
/// get `UserNameTaken`.
pub async fn scim_concurrent_provisions_of_one_user_name_have_one_winner(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let name = user_name("rush");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut p = provisioned(fx.id());
        // Same userName, spelled differently each time.
        p.record.user_name = if i % 2 == 0 {
            name.clone()
        } else {
            name.to_uppercase()
        };
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = provision(&store, &p).await;
            (r, p)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (Ok(()), p) => winners.push(p),
            (Err(StoreError::Conflict(Conflict::UserNameTaken)), p) => {
                assert_not_provisioned(&store, &p).await;
            }
            (Err(other), _) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    let winner = &winners[0];
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &user_name_key(&name))
            .await
            .unwrap(),
        Some(winner.record.clone())
    );
    assert_eq!(store.count_memberships(fx.id()).await.unwrap(), 2);
}

/// externalId is unique per org (exact, case-sensitive) and finds its membership.
pub async fn scim_external_id_is_unique_and_found(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let a = provisioned(fx.id());
    provision(&store, &a).await.unwrap();
    let ext = a.membership.external_id.clone().unwrap();

    let mut b = provisioned(fx.id());
    b.membership.external_id = Some(ext.clone());
    assert_eq!(
        conflict_of(provision(&store, &b).await),
        Conflict::ExternalIdTaken
    );
    assert_not_provisioned(&store, &b).await;
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &b.record.user_name_key())
            .await
            .unwrap(),
        None,
        "the loser's userName is not claimed"
    );

    // Exact match: another case is another externalId.
    let mut c = provisioned(fx.id());
    c.membership.external_id = Some(ext.to_uppercase());
    provision(&store, &c).await.unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext)
            .await
            .unwrap(),
        Some(a.membership.clone())
    );
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext.to_uppercase())
            .await
            .unwrap(),
        Some(c.membership.clone())
    );
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), "no-such-id")
            .await
            .unwrap(),
        None
    );

    // A member without an externalId; and the same externalId in another org.
    let mut d = provisioned(fx.id());
    d.membership.external_id = None;
    provision(&store, &d).await.unwrap();
    let other = new_org(&store).await;
    assert_eq!(
        store
            .find_membership_by_external_id(other.id(), &ext)
            .await
            .unwrap(),
        None
    );
    let mut e = provisioned(other.id());
    e.membership.external_id = Some(ext.clone());
    provision(&store, &e).await.unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(other.id(), &ext)
            .await
            .unwrap(),
        Some(e.membership)
    );
}

/// Provisioning that accepts a pending invitation closes it as accepted (slot free, no longer
/// counted as pending), under accept's conditions.
pub async fn scim_provision_accepts_pending_invitation(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let inv = invite(&store, &fx, vec![]).await;
    let at = now();
    let mut p = provisioned(fx.id());
    p.user.email = inv.email.clone();
    p.membership.email = inv.email.clone();
    let after = accepted(&inv, &p.user.id, at);
    store
        .provision_scim_member(
            Some(&p.user),
            &MembershipWrite::Create(p.membership.clone()),
            &p.record,
            Some((&inv, &after)),
            at,
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_invitation(&inv.id).await.unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store
            .find_pending_invitation(fx.id(), inv.email.normalized())
            .await
            .unwrap(),
        None,
        "the slot is free"
    );
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        Some(p.membership.clone())
    );
    // A new invitation for the same address may be created, and the pending count went down.
    let limits = InviteLimits {
        max_pending: Some(1),
        ..no_limits(at)
    };
    let next = invitation(fx.id(), inv.email.clone(), &fx.owner.user_id, vec![]);
    store.create_invitation(&next, None, &limits).await.unwrap();

    // The used invitation cannot be accepted again, and nothing is written then.
    let again = provisioned(fx.id());
    assert_eq!(
        conflict_of(
            store
                .provision_scim_member(
                    Some(&again.user),
                    &MembershipWrite::Create(again.membership.clone()),
                    &again.record,
                    Some((&inv, &accepted(&inv, &again.user.id, at))),
                    at,
                )
                .await
        ),
        Conflict::InvitationNotPending
    );
    assert_not_provisioned(&store, &again).await;

    // Expired at `now`: refused, the invitation stays pending.
    let late = provisioned(fx.id());
    assert_eq!(
        conflict_of(
            store
                .provision_scim_member(
                    Some(&late.user),
                    &MembershipWrite::Create(late.membership.clone()),
                    &late.record,
                    Some((&next, &accepted(&next, &late.user.id, at))),
                    next.expires_at,
                )
                .await
        ),
        Conflict::InvitationNotPending
    );
    assert_not_provisioned(&store, &late).await;
    assert_eq!(
        store.get_invitation(&next.id).await.unwrap(),
        Some(next.clone())
    );
}

/// update_scim_member moves the claims with the values: the old userName and externalId are free
/// again, the new ones taken; versions are checked; a member without a record gets one.
pub async fn scim_update_moves_the_claims(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let a = provisioned(fx.id());
    provision(&store, &a).await.unwrap();
    let old_name = a.record.user_name.clone();
    let old_ext = a.membership.external_id.clone().unwrap();

    let new_name = user_name("renamed");
    let new_ext = format!("00u{}", uuid().simple());
    let write = updated(&a.membership, |m| {
        m.external_id = Some(new_ext.clone());
        m.name = Some("Ada King".into());
    });
    let after = record_updated(&a.record, |r| {
        r.user_name = new_name.clone();
        r.resource["displayName"] = serde_json::json!("Ada King");
    });
    store
        .update_scim_member(&write, Some(&a.record), &after, None)
        .await
        .unwrap();
    assert_eq!(
        store.get_scim_user(fx.id(), &a.user.id).await.unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store.get_membership(fx.id(), &a.user.id).await.unwrap(),
        Some(after_of(&write))
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &user_name_key(&old_name))
            .await
            .unwrap(),
        None,
        "the old userName finds nothing"
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &user_name_key(&new_name))
            .await
            .unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &old_ext)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &new_ext)
            .await
            .unwrap(),
        Some(after_of(&write))
    );

    // The new name is taken, the old ones are free.
    let mut b = provisioned(fx.id());
    b.record.user_name = new_name.to_lowercase();
    assert_eq!(
        conflict_of(provision(&store, &b).await),
        Conflict::UserNameTaken
    );
    let mut b = provisioned(fx.id());
    b.membership.external_id = Some(new_ext.clone());
    assert_eq!(
        conflict_of(provision(&store, &b).await),
        Conflict::ExternalIdTaken
    );
    let mut c = provisioned(fx.id());
    c.record.user_name = old_name.clone();
    c.membership.external_id = Some(old_ext.clone());
    provision(&store, &c).await.unwrap();

    // A rename onto a taken userName, or a stale version, changes nothing.
    let a_now = after_of(&write);
    let clash = record_updated(&after, |r| r.user_name = old_name.to_uppercase());
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(
                    &updated(&a_now, |m| m.name = Some("X".into())),
                    Some(&after),
                    &clash,
                    None
                )
                .await
        ),
        Conflict::UserNameTaken
    );
    let ext_clash = record_updated(&after, |_| {});
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(
                    &updated(&a_now, |m| m.external_id = Some(old_ext.clone())),
                    Some(&after),
                    &ext_clash,
                    None
                )
                .await
        ),
        Conflict::ExternalIdTaken
    );
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(
                    &updated(&a_now, |m| m.name = Some("Y".into())),
                    Some(&a.record),
                    &record_updated(&a.record, |_| {}),
                    None
                )
                .await
        ),
        Conflict::Stale,
        "an old record version"
    );
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(&write, Some(&after), &record_updated(&after, |_| {}), None)
                .await
        ),
        Conflict::Stale,
        "an old membership version"
    );
    assert_eq!(
        store.get_scim_user(fx.id(), &a.user.id).await.unwrap(),
        Some(after.clone())
    );
    assert_eq!(
        store.get_membership(fx.id(), &a.user.id).await.unwrap(),
        Some(a_now.clone())
    );

    // A member who joined by invitation gets a record (and claims) on their first SCIM write.
    let invited = add_member(&store, fx.id(), vec![]).await;
    let record = scim_record(fx.id(), &invited.user_id, &user_name("invited"));
    let write = updated(&invited, |m| {
        m.source = MemberSource::Scim;
        m.external_id = Some(format!("ext-{}", uuid().simple()));
    });
    store
        .update_scim_member(&write, None, &record, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &record.user_name_key())
            .await
            .unwrap(),
        Some(record.clone())
    );
    let ext = after_of(&write).external_id.unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext)
            .await
            .unwrap(),
        Some(after_of(&write))
    );
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(
                    &updated(&after_of(&write), |_| {}),
                    None,
                    &scim_record(fx.id(), &invited.user_id, &user_name("twice")),
                    None
                )
                .await
        ),
        Conflict::Stale,
        "a record exists now"
    );
}

/// Suspending the last active organization manager through SCIM is refused, and writes nothing.
pub async fn scim_suspending_the_last_org_manager_is_refused(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let record = scim_record(fx.id(), &fx.owner.user_id, &user_name("owner"));
    let linked = updated(&fx.owner, |m| m.source = MemberSource::Scim);
    store
        .update_scim_member(&linked, None, &record, None)
        .await
        .unwrap();
    let owner = after_of(&linked);

    let suspend = updated(&owner, |m| m.status = MemberStatus::Suspended);
    let suspended_record = record_updated(&record, |r| r.resource["active"] = false.into());
    assert_eq!(
        conflict_of(
            store
                .update_scim_member(&suspend, Some(&record), &suspended_record, None)
                .await
        ),
        Conflict::LastOrganizationManager
    );
    assert_eq!(
        store.get_membership(fx.id(), &owner.user_id).await.unwrap(),
        Some(owner.clone())
    );
    assert_eq!(
        store.get_scim_user(fx.id(), &owner.user_id).await.unwrap(),
        Some(record.clone())
    );

    // With a second active manager, the suspension goes through.
    add_member(
        &store,
        fx.id(),
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    store
        .update_scim_member(&suspend, Some(&record), &suspended_record, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_membership(fx.id(), &owner.user_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        MemberStatus::Suspended
    );
}

/// Users are found by normalized email; with several, the oldest; the index follows email
/// changes.
pub async fn users_by_email_oldest_first(store: Arc<dyn Store>) {
    let shared = email("shared");
    let t = now();
    let younger = User {
        id: user_id(),
        sub: format!("sub|{}", uuid()),
        email: shared.clone(),
        email_verified: true,
        name: None,
        created_at: t,
        provisioned_by: None,
        link_declined_at: None,
    };
    store.upsert_user(&younger).await.unwrap();
    assert_eq!(
        oldest_owner(&store, &format!(" {} ", shared.as_str().to_uppercase())).await,
        Some(younger.clone()),
        "normalized"
    );
    // Stored later, but created earlier: the oldest wins.
    let older = User {
        id: user_id(),
        sub: format!("sub|{}", uuid()),
        email: Email::parse(&shared.as_str().to_uppercase()).unwrap(),
        email_verified: true,
        name: Some("Older".into()),
        created_at: t - Duration::days(3),
        provisioned_by: None,
        link_declined_at: None,
    };
    store.upsert_user(&older).await.unwrap();
    assert_eq!(
        oldest_owner(&store, shared.normalized()).await,
        Some(older.clone())
    );
    assert_eq!(
        oldest_owner(&store, email("nobody").normalized()).await,
        None
    );

    // The older one changes address: the younger one is found, the older under its new address.
    let moved = User {
        email: email("moved"),
        ..older.clone()
    };
    let stored = store.upsert_user(&moved).await.unwrap();
    assert_eq!(stored, moved);
    assert_eq!(
        oldest_owner(&store, shared.normalized()).await,
        Some(younger)
    );
    assert_eq!(
        oldest_owner(&store, moved.email.normalized()).await,
        Some(moved)
    );

    // An unverified claim owns no address, however old the user; verifying it makes it owned.
    let claimed = email("claimed");
    let unverified = User {
        id: user_id(),
        sub: format!("sub|{}", uuid()),
        email: claimed.clone(),
        email_verified: false,
        name: None,
        created_at: t - Duration::days(30),
        provisioned_by: None,
        link_declined_at: None,
    };
    store.upsert_user(&unverified).await.unwrap();
    assert_eq!(oldest_owner(&store, claimed.normalized()).await, None);
    let verified = User {
        email_verified: true,
        ..unverified.clone()
    };
    assert_eq!(store.upsert_user(&verified).await.unwrap(), verified);
    assert_eq!(
        oldest_owner(&store, claimed.normalized()).await,
        Some(verified.clone())
    );
    // And losing the verification (a new unverified claim of the address) gives it up again.
    assert_eq!(store.upsert_user(&unverified).await.unwrap(), unverified);
    assert_eq!(oldest_owner(&store, claimed.normalized()).await, None);
}

/// Linking a placeholder to the real subject: the old subject finds nothing, the new one finds
/// the same user; a stale placeholder or a taken subject is `Stale`.
pub async fn link_user_subject_replaces_the_placeholder(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = provisioned(fx.id());
    provision(&store, &p).await.unwrap();
    let real = format!("oidc|{}", uuid().simple());

    let linked = store.link_user_subject(&p.user, &real).await.unwrap();
    assert_eq!(
        linked,
        User {
            sub: real.clone(),
            provisioned_by: None,
            ..p.user.clone()
        },
        "a person's account now, no longer the organization's placeholder"
    );
    assert!(!linked.is_placeholder());
    assert_eq!(store.get_user_by_sub(&p.user.sub).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_sub(&real).await.unwrap(),
        Some(linked.clone())
    );
    assert_eq!(
        store.get_user(&p.user.id).await.unwrap(),
        Some(linked.clone())
    );
    assert_eq!(
        oldest_owner(&store, p.user.email.normalized()).await,
        Some(linked.clone())
    );
    assert_eq!(
        store.get_membership(fx.id(), &p.user.id).await.unwrap(),
        Some(p.membership.clone()),
        "memberships stay with the user"
    );

    // Linking again from the placeholder as read before: stale.
    assert_eq!(
        conflict_of(
            store
                .link_user_subject(&p.user, &format!("oidc|{}", uuid().simple()))
                .await
        ),
        Conflict::Stale
    );
    // Another placeholder onto a subject that is taken: stale, and it stays as it was.
    let q = provisioned(fx.id());
    provision(&store, &q).await.unwrap();
    assert_eq!(
        conflict_of(store.link_user_subject(&q.user, &real).await),
        Conflict::Stale
    );
    assert_eq!(
        store.get_user_by_sub(&q.user.sub).await.unwrap(),
        Some(q.user.clone())
    );
    assert_eq!(
        store.get_user_by_sub(&real).await.unwrap(),
        Some(linked.clone())
    );
    // A user that does not exist: stale.
    assert_eq!(
        conflict_of(
            store
                .link_user_subject(
                    &placeholder_user(email("ghost")),
                    &format!("oidc|{}", uuid().simple())
                )
                .await
        ),
        Conflict::Stale
    );
    // Signing in afterwards with the real subject is an ordinary upsert of the same user.
    let renamed = User {
        name: Some("Ada".into()),
        ..linked.clone()
    };
    let stored = store.upsert_user(&renamed).await.unwrap();
    assert_eq!(stored.id, p.user.id);
}

/// Removing a member deletes their SCIM record and frees their userName and externalId.
pub async fn remove_member_deletes_scim_record_and_claims(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let p = provisioned(fx.id());
    provision(&store, &p).await.unwrap();
    let ext = p.membership.external_id.clone().unwrap();
    let handover = store
        .remove_member(&p.membership, &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(handover, Handover::default());
    assert_eq!(
        store.get_scim_user(fx.id(), &p.user.id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(fx.id(), &p.record.user_name_key())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .get_scim_users(fx.id(), std::slice::from_ref(&p.user.id))
            .await
            .unwrap()
            .is_empty()
    );
    // The organization's placeholder goes with its membership: it no longer owns the address
    // (nothing is left to be linked at a sign-in); both values can be provisioned again.
    assert_eq!(store.get_user(&p.user.id).await.unwrap(), None);
    assert_eq!(store.get_user_by_sub(&p.user.sub).await.unwrap(), None);
    assert!(
        store
            .list_users_by_email(p.user.email.normalized(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut again = provisioned(fx.id());
    again.record.user_name = p.record.user_name.clone();
    again.membership.external_id = Some(ext.clone());
    provision(&store, &again).await.unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(fx.id(), &ext)
            .await
            .unwrap(),
        Some(again.membership.clone())
    );
    // The same person can come back through SCIM too.
    let back = Provisioned {
        user: p.user.clone(),
        membership: p.membership.clone(),
        record: scim_record(fx.id(), &p.user.id, &user_name("back")),
    };
    store
        .provision_scim_member(
            None,
            &MembershipWrite::Create(Membership {
                external_id: None,
                ..back.membership.clone()
            }),
            &back.record,
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_scim_user(fx.id(), &p.user.id).await.unwrap(),
        Some(back.record)
    );
}

// ====================================================================== linking

/// A person's account (stored), not a placeholder.
async fn stored_person(store: &Arc<dyn Store>, email: Email) -> User {
    let u = User {
        id: user_id(),
        sub: format!("oidc|{}", uuid().simple()),
        email,
        email_verified: true,
        name: Some("Person".into()),
        created_at: now(),
        provisioned_by: None,
        link_declined_at: None,
    };
    store.upsert_user(&u).await.unwrap()
}

/// Linking moves the membership, the SCIM record (keeping the identity provider's id, found by
/// an alias), every claim and what the placeholder owned to the account, and deletes the
/// placeholder; removing the member later removes the alias too.
pub async fn link_member_moves_a_placeholders_membership_to_an_account(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let p = provisioned(org);
    provision(&store, &p).await.unwrap();
    let owned = pool_under(&fx.root, "Owned", &p.user.id);
    store.create_pool(&owned, 100).await.unwrap();
    let members_before = store.count_memberships(org).await.unwrap();
    let person = stored_person(&store, p.user.email.clone()).await;

    let moved = store
        .link_member(&p.user, &p.membership, &person)
        .await
        .unwrap();
    assert_eq!(moved.user_id, person.id);
    assert_eq!(moved.version, p.membership.version + 1);
    assert_eq!(
        Membership {
            user_id: p.user.id.clone(),
            version: p.membership.version,
            ..moved.clone()
        },
        p.membership,
        "the same membership"
    );
    assert_eq!(store.get_membership(org, &p.user.id).await.unwrap(), None);
    assert_eq!(
        store.get_membership(org, &person.id).await.unwrap(),
        Some(moved.clone())
    );
    let record = store
        .get_scim_user(org, &person.id)
        .await
        .unwrap()
        .expect("record moved");
    assert_eq!(record.scim_id, Some(p.user.id.clone()));
    assert_eq!(record.resource_id(), &p.user.id);
    assert_eq!(record.resource, p.record.resource);
    assert_eq!(store.get_scim_user(org, &p.user.id).await.unwrap(), None);
    assert_eq!(
        store.find_scim_alias(org, &p.user.id).await.unwrap(),
        Some(person.id.clone())
    );
    assert_eq!(
        store
            .find_scim_user_by_user_name(org, &p.record.user_name_key())
            .await
            .unwrap()
            .map(|r| r.user_id),
        Some(person.id.clone())
    );
    let ext = p.membership.external_id.clone().unwrap();
    assert_eq!(
        store
            .find_membership_by_external_id(org, &ext)
            .await
            .unwrap()
            .map(|m| m.user_id),
        Some(person.id.clone())
    );
    assert_eq!(
        store
            .find_membership_by_email(org, p.user.email.normalized())
            .await
            .unwrap()
            .map(|m| m.user_id),
        Some(person.id.clone())
    );
    assert_eq!(
        store
            .get_pool(org, &owned.id)
            .await
            .unwrap()
            .map(|p| p.owner_id),
        Some(person.id.clone())
    );
    assert_eq!(store.get_user(&p.user.id).await.unwrap(), None);
    assert_eq!(store.get_user_by_sub(&p.user.sub).await.unwrap(), None);
    assert_eq!(store.count_memberships(org).await.unwrap(), members_before);
    let mine = store
        .list_user_memberships(&person.id, &PageRequest::first(50))
        .await
        .unwrap();
    assert_eq!(mine.items, vec![moved.clone()]);
    // The claims are the account's now: the account's own writes keep them.
    let renamed = updated(&moved, |m| m.name = Some("Renamed".into()));
    store.write_membership(&renamed).await.unwrap();
    // The same link again: the placeholder is gone.
    assert_eq!(
        conflict_of(store.link_member(&p.user, &p.membership, &person).await),
        Conflict::Stale
    );
    // Removal takes the alias with the record.
    store
        .remove_member(&after_of(&renamed), &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(store.find_scim_alias(org, &p.user.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_membership_by_email(org, p.user.email.normalized())
            .await
            .unwrap(),
        None
    );
}

/// Linking writes nothing when a condition fails: a stale membership, a target that is a
/// placeholder, missing or already a member, a placeholder of another organization.
pub async fn link_member_conditions(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let p = provisioned(org);
    provision(&store, &p).await.unwrap();
    let person = stored_person(&store, p.user.email.clone()).await;
    let unchanged = || async {
        assert_eq!(
            store.get_membership(org, &p.user.id).await.unwrap(),
            Some(p.membership.clone())
        );
        assert_eq!(
            store.get_user(&p.user.id).await.unwrap(),
            Some(p.user.clone())
        );
        assert_eq!(store.find_scim_alias(org, &p.user.id).await.unwrap(), None);
    };
    // A membership read before a change.
    let stale = Membership {
        version: p.membership.version + 1,
        ..p.membership.clone()
    };
    assert_eq!(
        conflict_of(store.link_member(&p.user, &stale, &person).await),
        Conflict::Stale
    );
    unchanged().await;
    // To another placeholder, or to an account that is not stored.
    let other = provisioned(org);
    provision(&store, &other).await.unwrap();
    assert_eq!(
        conflict_of(store.link_member(&p.user, &p.membership, &other.user).await),
        Conflict::Stale
    );
    let ghost = User {
        id: user_id(),
        ..person.clone()
    };
    assert_eq!(
        conflict_of(store.link_member(&p.user, &p.membership, &ghost).await),
        Conflict::Stale
    );
    unchanged().await;
    // To an account already a member of the organization.
    let member = stored_person(&store, email("member")).await;
    store
        .write_membership(&MembershipWrite::Create(membership(
            org,
            &member.id,
            member.email.clone(),
            vec![],
        )))
        .await
        .unwrap();
    assert_eq!(
        conflict_of(store.link_member(&p.user, &p.membership, &member).await),
        Conflict::MembershipExists
    );
    unchanged().await;
    // A placeholder the organization did not provision (claimed for another org).
    let elsewhere = new_org(&store).await;
    let foreign = User {
        provisioned_by: Some(elsewhere.id().clone()),
        ..p.user.clone()
    };
    assert_eq!(
        conflict_of(store.link_member(&foreign, &p.membership, &person).await),
        Conflict::Stale
    );
    unchanged().await;
}

/// The owners of an address, oldest first and bounded; a declined placeholder is marked and
/// stays listed; declining a placeholder that changed is stale.
pub async fn users_by_email_and_declined_links(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let shared = email("shared");
    let mut placeholders = Vec::new();
    for _ in 0..3 {
        let mut p = provisioned(fx.id());
        p.user.email = shared.clone();
        p.membership.email = shared.clone();
        // One member per email per org: each in its own organization.
        let org = new_org(&store).await;
        p.user.provisioned_by = Some(org.id().clone());
        p.membership.org_id = org.id().clone();
        p.record.org_id = org.id().clone();
        provision(&store, &p).await.unwrap();
        placeholders.push(p.user);
    }
    let person = stored_person(&store, shared.clone()).await;
    let upper = shared.as_str().to_uppercase();
    let all = store
        .list_users_by_email(Email::parse(&upper).unwrap().normalized(), 10)
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|u| u.id.clone()).collect();
    let mut want: Vec<_> = placeholders.iter().map(|u| u.id.clone()).collect();
    want.push(person.id.clone());
    assert_eq!(ids, want, "oldest first");
    assert_eq!(
        store
            .list_users_by_email(shared.normalized(), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .list_users_by_email(email("nobody").normalized(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let at = now();
    let declined = store.decline_link(&placeholders[0], at).await.unwrap();
    assert_eq!(declined.link_declined_at, Some(at));
    assert_eq!(
        store.get_user(&placeholders[0].id).await.unwrap(),
        Some(declined.clone())
    );
    assert_eq!(
        store
            .list_users_by_email(shared.normalized(), 10)
            .await
            .unwrap()[0],
        declined
    );
    // A person's account is not a placeholder to decline.
    assert_eq!(
        conflict_of(store.decline_link(&person, at).await),
        Conflict::Stale
    );
}

/// The oldest owner of an address (the first of [`Store::list_users_by_email`]).
async fn oldest_owner(store: &Arc<dyn Store>, email: &str) -> Option<User> {
    store
        .list_users_by_email(email, 1)
        .await
        .unwrap()
        .into_iter()
        .next()
}
