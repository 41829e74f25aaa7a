//! The DynamoDB store against a local emulator (moto): call counts per method, concurrency,
//! TTL, batched hand-overs and deletions, cursors, error mapping.
//!
//! Reads `ROLLCALL_TEST_DYNAMODB_ENDPOINT` (start one with `scripts/moto start`). Unset: each test
//! prints a notice and passes, except under `CI`, where that is a failure.

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use chrono::{Duration, SubsecRound, Utc};
use rollcall_domain::email::Email;
use rollcall_domain::ids::{InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use rollcall_domain::model::{
    EmailStatus, Invitation, InvitationStatus, InviteLink, MemberSource, MemberStatus, Membership,
    Organization, PLACEHOLDER_SUB_PREFIX, Pool, ScimToken, ScimUser, Settings, Timestamp, User,
};
use rollcall_domain::page::PageRequest;
use rollcall_domain::ports::{
    Conflict, InvitationFilter, InviteLimits, MemberFilter, MembershipWrite, Store, StoreError,
};
use rollcall_domain::role::{Assignment, Role, normal_form};
use rollcall_store_dynamodb::{CallCounts, DynamoStore, create_table, emulator_client};
use std::sync::Arc;
use tokio::sync::OnceCell;
use uuid::Uuid;

static TABLE: OnceCell<String> = OnceCell::const_new();

fn endpoint() -> Option<String> {
    match std::env::var("ROLLCALL_TEST_DYNAMODB_ENDPOINT") {
        Ok(e) => Some(e),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ROLLCALL_TEST_DYNAMODB_ENDPOINT is not set; CI must run the DynamoDB tests against moto"
            );
            eprintln!(
                "skipping: ROLLCALL_TEST_DYNAMODB_ENDPOINT is not set (start moto with scripts/moto start)"
            );
            None
        }
    }
}

fn fresh_table_name(tag: &str) -> String {
    format!("rollcall-{tag}-{}", Uuid::now_v7().simple())
}

/// A store on this run's shared table.
async fn store() -> Option<DynamoStore> {
    let endpoint = endpoint()?;
    let client = emulator_client(&endpoint);
    let setup = client.clone();
    let table = TABLE
        .get_or_init(|| async move {
            let t = fresh_table_name("store-test");
            create_table(&setup, &t).await.unwrap();
            t
        })
        .await;
    Some(DynamoStore::new(client, table.clone()))
}

/// A store on a table of its own (for tests that write many items).
async fn own_store(tag: &str) -> Option<DynamoStore> {
    let endpoint = endpoint()?;
    let client = emulator_client(&endpoint);
    let t = fresh_table_name(tag);
    create_table(&client, &t).await.unwrap();
    Some(DynamoStore::new(client, t))
}

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(0)
}

fn id() -> Uuid {
    Uuid::now_v7()
}

fn email(tag: &str) -> Email {
    Email::parse(&format!("{tag}-{}@example.com", id().simple())).unwrap()
}

fn hash() -> String {
    format!("{}{}", id().simple(), id().simple())
}

fn membership(org: &OrgId, assignments: Vec<Assignment>) -> Membership {
    let t = now();
    Membership {
        direct_assignments: None,
        groups: Vec::new(),
        org_id: org.clone(),
        user_id: UserId::from_uuid(id()),
        email: email("member"),
        name: Some("Some Body".into()),
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

struct Fx {
    org: Organization,
    root: Pool,
    owner: Membership,
}

async fn new_org(s: &DynamoStore) -> Fx {
    let org_id = OrgId::from_uuid(id());
    let mut owner = membership(
        &org_id,
        vec![Assignment::org_wide(Role::OrganizationManager)],
    );
    owner.source = MemberSource::Owner;
    let root = Pool {
        id: PoolId::from_uuid(id()),
        org_id: org_id.clone(),
        name: "Root".into(),
        parent_id: None,
        ancestors: vec![],
        owner_id: owner.user_id.clone(),
        created_at: now(),
    };
    let org = Organization {
        id: org_id,
        name: "Org".into(),
        root_pool_id: root.id.clone(),
        settings: Settings::default(),
        created_at: now(),
    };
    s.create_org(&org, &root, &owner).await.unwrap();
    Fx { org, root, owner }
}

fn pool_under(parent: &Pool, name: &str, owner: &UserId) -> Pool {
    let mut ancestors = parent.ancestors.clone();
    ancestors.push(parent.id.clone());
    Pool {
        id: PoolId::from_uuid(id()),
        org_id: parent.org_id.clone(),
        name: name.into(),
        parent_id: Some(parent.id.clone()),
        ancestors,
        owner_id: owner.clone(),
        created_at: now(),
    }
}

fn invitation(fx: &Fx, assignments: Vec<Assignment>) -> Invitation {
    let t = now();
    Invitation {
        id: InvitationId::from_uuid(id()),
        org_id: fx.org.id.clone(),
        email: email("invitee"),
        name: None,
        phone: None,
        assignments: normal_form(assignments),
        inviter_id: fx.owner.user_id.clone(),
        status: InvitationStatus::Pending,
        email_status: EmailStatus::Sent,
        email_message_id: None,
        token_hash: hash(),
        expires_at: t + Duration::days(7),
        created_at: t,
        updated_at: t,
        accepted_at: None,
        accepted_by: None,
        version: 1,
    }
}

fn limits(at: Timestamp) -> InviteLimits {
    InviteLimits {
        now: at,
        max_pending: Some(1000),
        per_hour: Some(500),
        per_recipient_per_day: Some(5),
    }
}

fn link(fx: &Fx) -> InviteLink {
    InviteLink {
        id: InviteLinkId::from_uuid(id()),
        org_id: fx.org.id.clone(),
        assignments: vec![Assignment::org_wide(Role::Member)],
        allowed_domains: vec![],
        max_uses: Some(10),
        uses: 0,
        expires_at: Some(now() + Duration::days(7)),
        created_by: fx.owner.user_id.clone(),
        created_at: now(),
        revoked_at: None,
        token_hash: hash(),
    }
}

fn calls(get: u64, query: u64, batch_get: u64, transact: u64, put: u64, update: u64) -> CallCounts {
    CallCounts {
        get,
        query,
        batch_get,
        transact,
        put,
        update,
        delete: 0,
    }
}

/// Runs `$call` on `$s` with fresh counters, prints the counts, and checks them.
macro_rules! pin {
    ($s:expr, $name:literal, $want:expr, $call:expr) => {{
        $s.reset_calls();
        let out = $call.await;
        let got = $s.calls();
        println!("{:<34} {:?}", $name, got);
        assert_eq!(got, $want, "calls of {}", $name);
        out
    }};
}

#[tokio::test]
async fn call_counts_per_method() {
    let Some(s) = store().await else { return };
    let t = now();
    let user = User {
        id: UserId::from_uuid(id()),
        sub: format!("sub-{}", id().simple()),
        email: email("user"),
        email_verified: true,
        name: None,
        created_at: t,
        provisioned_by: None,
        link_declined_at: None,
    };
    pin!(
        s,
        "upsert_user (new)",
        calls(1, 0, 0, 1, 0, 0),
        s.upsert_user(&user)
    )
    .unwrap();
    pin!(
        s,
        "upsert_user (unchanged)",
        calls(1, 0, 0, 0, 0, 0),
        s.upsert_user(&user)
    )
    .unwrap();
    let renamed = User {
        name: Some("New".into()),
        ..user.clone()
    };
    pin!(
        s,
        "upsert_user (changed)",
        calls(1, 0, 0, 1, 0, 0),
        s.upsert_user(&renamed)
    )
    .unwrap();
    pin!(s, "get_user", calls(1, 0, 0, 0, 0, 0), s.get_user(&user.id))
        .unwrap()
        .unwrap();
    pin!(
        s,
        "get_user_by_sub",
        calls(1, 0, 0, 0, 0, 0),
        s.get_user_by_sub(&user.sub)
    )
    .unwrap()
    .unwrap();

    let org_id = OrgId::from_uuid(id());
    let owner = Membership {
        user_id: user.id.clone(),
        ..membership(
            &org_id,
            vec![Assignment::org_wide(Role::OrganizationManager)],
        )
    };
    let root = Pool {
        id: PoolId::from_uuid(id()),
        org_id: org_id.clone(),
        name: "Root".into(),
        parent_id: None,
        ancestors: vec![],
        owner_id: user.id.clone(),
        created_at: t,
    };
    let org = Organization {
        id: org_id.clone(),
        name: "Counted".into(),
        root_pool_id: root.id.clone(),
        settings: Settings::default(),
        created_at: t,
    };
    pin!(
        s,
        "create_org",
        calls(0, 0, 0, 1, 0, 0),
        s.create_org(&org, &root, &owner)
    )
    .unwrap();
    let fx = Fx {
        org: org.clone(),
        root: root.clone(),
        owner: owner.clone(),
    };
    pin!(s, "get_org", calls(1, 0, 0, 0, 0, 0), s.get_org(&org.id))
        .unwrap()
        .unwrap();
    let other = new_org(&s).await;
    pin!(
        s,
        "get_orgs (2)",
        calls(0, 0, 1, 0, 0, 0),
        s.get_orgs(&[org.id.clone(), other.org.id.clone()])
    )
    .unwrap();
    let org2 = Organization {
        name: "Renamed".into(),
        ..org.clone()
    };
    pin!(
        s,
        "update_org",
        calls(0, 0, 0, 0, 0, 1),
        s.update_org(&org2)
    )
    .unwrap();

    let pool = pool_under(&root, "Team", &user.id);
    pin!(
        s,
        "create_pool",
        calls(0, 0, 0, 1, 0, 0),
        s.create_pool(&pool, 100)
    )
    .unwrap();
    pin!(
        s,
        "get_pool",
        calls(1, 0, 0, 0, 0, 0),
        s.get_pool(&org.id, &pool.id)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "list_pools",
        calls(0, 1, 0, 0, 0, 0),
        s.list_pools(&org.id)
    )
    .unwrap();
    let renamed_pool = Pool {
        name: "Team B".into(),
        ..pool.clone()
    };
    pin!(
        s,
        "update_pool (rename)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_pool(&pool, &renamed_pool)
    )
    .unwrap();
    let reowned = Pool {
        owner_id: other.owner.user_id.clone(),
        ..renamed_pool.clone()
    };
    pin!(
        s,
        "update_pool (owner only)",
        calls(0, 0, 0, 0, 0, 1),
        s.update_pool(&renamed_pool, &reowned)
    )
    .unwrap();

    let m = membership(
        &org.id,
        vec![Assignment::on_pool(Role::Engineer, pool.id.clone())],
    );
    pin!(
        s,
        "write_membership (create)",
        calls(0, 0, 0, 1, 0, 0),
        s.write_membership(&MembershipWrite::Create(m.clone()))
    )
    .unwrap();
    let m2 = Membership {
        name: Some("Other Name".into()),
        version: 2,
        ..m.clone()
    };
    let upd = MembershipWrite::Update {
        before: m.clone(),
        after: m2.clone(),
    };
    pin!(
        s,
        "write_membership (update)",
        calls(0, 0, 0, 0, 1, 0),
        s.write_membership(&upd)
    )
    .unwrap();
    pin!(
        s,
        "get_membership",
        calls(1, 0, 0, 0, 0, 0),
        s.get_membership(&org.id, &m.user_id)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "find_membership_by_email",
        calls(0, 1, 0, 0, 0, 0),
        s.find_membership_by_email(&org.id, m.email.normalized())
    )
    .unwrap()
    .unwrap();
    let page = PageRequest::first(50);
    pin!(
        s,
        "list_memberships (page)",
        calls(0, 1, 0, 0, 0, 0),
        s.list_memberships(&org.id, &MemberFilter::default(), &page)
    )
    .unwrap();
    let filter = MemberFilter {
        role: Some(Role::Engineer),
        ..MemberFilter::default()
    };
    pin!(
        s,
        "list_memberships (role filter)",
        calls(0, 1, 0, 0, 0, 0),
        s.list_memberships(&org.id, &filter, &page)
    )
    .unwrap();
    pin!(
        s,
        "list_user_memberships",
        calls(0, 1, 0, 0, 0, 0),
        s.list_user_memberships(&user.id, &page)
    )
    .unwrap();

    let inv = invitation(
        &fx,
        vec![Assignment::on_pool(Role::Engineer, pool.id.clone())],
    );
    pin!(
        s,
        "create_invitation",
        calls(0, 0, 0, 1, 0, 0),
        s.create_invitation(&inv, None, &limits(t))
    )
    .unwrap();
    pin!(
        s,
        "get_invitation",
        calls(1, 0, 0, 0, 0, 0),
        s.get_invitation(&inv.id)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "find_invitation_by_token",
        calls(1, 0, 0, 0, 0, 0),
        s.find_invitation_by_token(&inv.token_hash)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "find_pending_invitation",
        calls(2, 0, 0, 0, 0, 0),
        s.find_pending_invitation(&org.id, inv.email.normalized())
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "list_invitations",
        calls(0, 1, 0, 0, 0, 0),
        s.list_invitations(&org.id, &InvitationFilter::default(), t, &page)
    )
    .unwrap();
    pin!(
        s,
        "list_invitations_for_email",
        calls(0, 1, 0, 0, 0, 0),
        s.list_invitations_for_email(inv.email.normalized(), t, &page)
    )
    .unwrap();
    let resent = Invitation {
        token_hash: hash(),
        version: 2,
        updated_at: now(),
        ..inv.clone()
    };
    pin!(
        s,
        "update_invitation (resend)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_invitation(&inv, &resent, Some(&limits(t)))
    )
    .unwrap();
    let accepted = Invitation {
        status: InvitationStatus::Accepted,
        accepted_at: Some(t),
        accepted_by: Some(user.id.clone()),
        version: 3,
        ..resent.clone()
    };
    let newcomer = Membership {
        email: inv.email.clone(),
        ..membership(&org.id, inv.assignments.clone())
    };
    pin!(
        s,
        "accept_invitation",
        calls(0, 0, 0, 1, 0, 0),
        s.accept_invitation(
            &resent,
            &accepted,
            &MembershipWrite::Create(newcomer),
            std::slice::from_ref(&pool.id),
            t
        )
    )
    .unwrap();
    let inv2 = invitation(&fx, vec![]);
    s.create_invitation(&inv2, None, &limits(t)).await.unwrap();
    let revoked = Invitation {
        status: InvitationStatus::Revoked,
        version: 2,
        ..inv2.clone()
    };
    pin!(
        s,
        "close_invitation",
        calls(0, 0, 0, 1, 0, 0),
        s.close_invitation(&inv2, &revoked)
    )
    .unwrap();

    let l = link(&fx);
    pin!(
        s,
        "create_invite_link",
        calls(0, 0, 0, 1, 0, 0),
        s.create_invite_link(&l)
    )
    .unwrap();
    pin!(
        s,
        "get_invite_link",
        calls(1, 0, 0, 0, 0, 0),
        s.get_invite_link(&org.id, &l.id)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "find_invite_link_by_token",
        calls(2, 0, 0, 0, 0, 0),
        s.find_invite_link_by_token(&l.token_hash)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "list_invite_links",
        calls(0, 1, 0, 0, 0, 0),
        s.list_invite_links(&org.id, &page)
    )
    .unwrap();
    let joiner = membership(&org.id, vec![]);
    pin!(
        s,
        "join_with_link",
        calls(0, 0, 0, 1, 0, 0),
        s.join_with_link(&l, &MembershipWrite::Create(joiner), &[], t)
    )
    .unwrap();
    let l_revoked = InviteLink {
        revoked_at: Some(t),
        ..l.clone()
    };
    pin!(
        s,
        "revoke_invite_link",
        calls(0, 0, 0, 0, 0, 1),
        s.revoke_invite_link(&l, &l_revoked)
    )
    .unwrap();

    let tok = ScimToken {
        id: ScimTokenId::from_uuid(id()),
        org_id: org.id.clone(),
        description: Some("okta".into()),
        token_hash: hash(),
        created_by: user.id.clone(),
        created_at: t,
        last_used_at: None,
    };
    pin!(
        s,
        "create_scim_token",
        calls(0, 0, 0, 1, 0, 0),
        s.create_scim_token(&tok, 20)
    )
    .unwrap();
    pin!(
        s,
        "list_scim_tokens",
        calls(0, 1, 0, 0, 0, 0),
        s.list_scim_tokens(&org.id)
    )
    .unwrap();
    pin!(
        s,
        "find_scim_token",
        calls(1, 0, 0, 0, 0, 0),
        s.find_scim_token(&tok.token_hash)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "record_scim_token_use",
        calls(0, 0, 0, 1, 0, 0),
        s.record_scim_token_use(&tok, t)
    )
    .unwrap();
    pin!(
        s,
        "delete_scim_token",
        calls(1, 0, 0, 1, 0, 0),
        s.delete_scim_token(&org.id, &tok.id)
    )
    .unwrap();

    // SCIM: a member provisioned with a placeholder user, its record and claims, in one
    // transaction; each lookup is one or two key reads; the first sign-in links the subject.
    let mut scim_member = membership(&org.id, vec![]);
    scim_member.source = MemberSource::Scim;
    scim_member.external_id = Some(format!("ext-{}", id().simple()));
    let placeholder = User {
        id: scim_member.user_id.clone(),
        sub: format!("{PLACEHOLDER_SUB_PREFIX}{}", id().simple()),
        email: scim_member.email.clone(),
        email_verified: true,
        name: None,
        created_at: t,
        provisioned_by: Some(org.id.clone()),
        link_declined_at: None,
    };
    let record = ScimUser {
        org_id: org.id.clone(),
        user_id: scim_member.user_id.clone(),
        user_name: format!("Scim.{}", scim_member.email.normalized()),
        resource: serde_json::json!({"userName": "x"}),
        created_at: t,
        updated_at: t,
        version: 1,
        scim_id: None,
    };
    pin!(
        s,
        "provision_scim_member",
        calls(0, 0, 0, 1, 0, 0),
        s.provision_scim_member(
            Some(&placeholder),
            &MembershipWrite::Create(scim_member.clone()),
            &record,
            None,
            t
        )
    )
    .unwrap();
    pin!(
        s,
        "get_scim_user",
        calls(1, 0, 0, 0, 0, 0),
        s.get_scim_user(&org.id, &scim_member.user_id)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "get_scim_users (2)",
        calls(0, 0, 1, 0, 0, 0),
        s.get_scim_users(&org.id, &[scim_member.user_id.clone(), user.id.clone()])
    )
    .unwrap();
    pin!(
        s,
        "find_scim_user_by_user_name",
        calls(2, 0, 0, 0, 0, 0),
        s.find_scim_user_by_user_name(&org.id, &record.user_name.to_uppercase())
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "find_membership_by_external_id",
        calls(2, 0, 0, 0, 0, 0),
        s.find_membership_by_external_id(&org.id, scim_member.external_id.as_deref().unwrap())
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "count_memberships",
        calls(1, 0, 0, 0, 0, 0),
        s.count_memberships(&org.id)
    )
    .unwrap();
    let renamed = ScimUser {
        user_name: format!("renamed.{}", scim_member.email.normalized()),
        updated_at: t,
        ..record.clone()
    };
    let suspended = Membership {
        status: MemberStatus::Suspended,
        version: 2,
        ..scim_member.clone()
    };
    pin!(
        s,
        "update_scim_member (rename + suspend)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_scim_member(
            &MembershipWrite::Update {
                before: scim_member.clone(),
                after: suspended
            },
            Some(&record),
            &renamed,
            None
        )
    )
    .unwrap();
    pin!(
        s,
        "list_users_by_email",
        calls(0, 1, 0, 0, 0, 0),
        s.list_users_by_email(placeholder.email.normalized(), 20)
    )
    .unwrap()
    .first()
    .unwrap();
    pin!(
        s,
        "link_user_subject",
        calls(0, 0, 0, 1, 0, 0),
        s.link_user_subject(&placeholder, &format!("idp|{}", id().simple()))
    )
    .unwrap();

    // Another placeholder of the org, declined by the owner of an existing account, then linked
    // to it: the record and the owner query in parallel, then one transaction.
    let mut second = membership(&org.id, vec![]);
    second.source = MemberSource::Scim;
    let second_user = User {
        id: second.user_id.clone(),
        sub: format!("{PLACEHOLDER_SUB_PREFIX}{}", id().simple()),
        email: second.email.clone(),
        ..placeholder.clone()
    };
    let second_record = ScimUser {
        user_id: second.user_id.clone(),
        user_name: format!("Second.{}", second.email.normalized()),
        ..record.clone()
    };
    s.provision_scim_member(
        Some(&second_user),
        &MembershipWrite::Create(second.clone()),
        &second_record,
        None,
        t,
    )
    .await
    .unwrap();
    let account = s
        .upsert_user(&User {
            id: UserId::from_uuid(id()),
            sub: format!("idp|{}", id().simple()),
            provisioned_by: None,
            ..second_user.clone()
        })
        .await
        .unwrap();
    let declined = pin!(
        s,
        "decline_link",
        calls(0, 0, 0, 1, 0, 0),
        s.decline_link(&second_user, t)
    )
    .unwrap();
    pin!(
        s,
        "link_member",
        calls(1, 1, 0, 1, 0, 0),
        s.link_member(&declined, &second, &account)
    )
    .unwrap();
    pin!(
        s,
        "find_scim_alias",
        calls(1, 0, 0, 0, 0, 0),
        s.find_scim_alias(&org.id, &second.user_id)
    )
    .unwrap()
    .unwrap();

    // The member owns a pool, a link and a pending invitation: one Query, one transaction.
    let leaver = membership(
        &org.id,
        vec![Assignment::org_wide(Role::OrganizationManager)],
    );
    s.write_membership(&MembershipWrite::Create(leaver.clone()))
        .await
        .unwrap();
    let owned = pool_under(&root, "Owned", &leaver.user_id);
    s.create_pool(&owned, 100).await.unwrap();
    let lfx = Fx {
        owner: leaver.clone(),
        org: org.clone(),
        root: root.clone(),
    };
    s.create_invite_link(&link(&lfx)).await.unwrap();
    s.create_invitation(&invitation(&lfx, vec![]), None, &limits(t))
        .await
        .unwrap();
    let h = pin!(
        s,
        "remove_member",
        // SCIM record and email claim (parallel), owned items (one query), one transaction.
        calls(2, 1, 0, 1, 0, 0),
        s.remove_member(&leaver, &user.id)
    )
    .unwrap();
    assert_eq!((h.pools, h.invite_links, h.invitations), (1, 1, 1));

    // A pool with references (the engineer's membership, the accepted invitation): Get, Query,
    // BatchGet of the referring items, one transaction.
    let owned_now = s.get_pool(&org.id, &owned.id).await.unwrap().unwrap();
    pin!(
        s,
        "delete_pool (no references)",
        calls(1, 1, 0, 1, 0, 0),
        s.delete_pool(&owned_now)
    )
    .unwrap();
    let team = s.get_pool(&org.id, &pool.id).await.unwrap().unwrap();
    pin!(
        s,
        "delete_pool (with references)",
        calls(1, 1, 1, 1, 0, 0),
        s.delete_pool(&team)
    )
    .unwrap();
}

#[tokio::test]
async fn a_page_is_one_query_whatever_the_org_size() {
    let Some(s) = own_store("page").await else {
        return;
    };
    let fx = new_org(&s).await;
    for _ in 0..130 {
        s.write_membership(&MembershipWrite::Create(membership(&fx.org.id, vec![])))
            .await
            .unwrap();
    }
    let mut cursor = None;
    let mut seen = 0;
    let mut pages = 0;
    loop {
        s.reset_calls();
        let page = s
            .list_memberships(
                &fx.org.id,
                &MemberFilter::default(),
                &PageRequest {
                    limit: 50,
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(s.calls(), calls(0, 1, 0, 0, 0, 0), "one Query per page");
        pages += 1;
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, 131);
    assert_eq!(pages, 3, "50 + 50 + 31, and no empty last page");
}

#[tokio::test]
async fn twenty_concurrent_accepts_have_one_winner() {
    let Some(s) = store().await else { return };
    let s = Arc::new(s);
    let fx = new_org(&s).await;
    let inv = invitation(&fx, vec![]);
    s.create_invitation(&inv, None, &limits(now()))
        .await
        .unwrap();
    let at = now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, inv) = (s.clone(), inv.clone());
        tasks.push(tokio::spawn(async move {
            let m = Membership {
                email: inv.email.clone(),
                ..membership(&inv.org_id, vec![])
            };
            let after = Invitation {
                status: InvitationStatus::Accepted,
                accepted_at: Some(at),
                accepted_by: Some(m.user_id.clone()),
                version: inv.version + 1,
                ..inv.clone()
            };
            s.accept_invitation(&inv, &after, &MembershipWrite::Create(m), &[], at)
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(Conflict::InvitationNotPending)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    let stored = s.get_invitation(&inv.id).await.unwrap().unwrap();
    assert_eq!(stored.status, InvitationStatus::Accepted);
    let members = s
        .list_memberships(
            &fx.org.id,
            &MemberFilter::default(),
            &PageRequest::first(50),
        )
        .await
        .unwrap();
    assert_eq!(members.items.len(), 2, "owner and the one winner");
}

#[tokio::test]
async fn terminal_invitations_get_a_ttl_and_the_table_has_ttl_enabled() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let inv = invitation(&fx, vec![]);
    s.create_invitation(&inv, None, &limits(now()))
        .await
        .unwrap();
    let raw = |k: String| {
        let s = s.clone();
        async move {
            s.client()
                .get_item()
                .table_name(s.table())
                .key("PK", AttributeValue::S(k))
                .key("SK", AttributeValue::S("#".into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let pending = raw(format!("INV#{}", inv.id)).await;
    assert!(
        !pending.contains_key("ttl"),
        "pending invitations do not expire from the table"
    );
    let closed_at = now();
    let declined = Invitation {
        status: InvitationStatus::Declined,
        version: 2,
        updated_at: closed_at,
        ..inv.clone()
    };
    s.close_invitation(&inv, &declined).await.unwrap();
    let item = raw(format!("INV#{}", inv.id)).await;
    let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, (closed_at + Duration::days(90)).timestamp());
    assert!(
        !item.contains_key("GSI3PK"),
        "no longer in the inviter's hand-over index"
    );
    let token = raw(format!("TOKEN#INV#{}", inv.token_hash)).await;
    assert_eq!(
        token["ttl"].as_n().unwrap().parse::<i64>().unwrap(),
        ttl,
        "the token claim goes with it"
    );
    // The token keeps finding the closed invitation.
    assert_eq!(
        s.find_invitation_by_token(&inv.token_hash).await.unwrap(),
        Some(declined)
    );

    let ttl_desc = s
        .client()
        .describe_time_to_live()
        .table_name(s.table())
        .send()
        .await
        .unwrap();
    let d = ttl_desc.time_to_live_description().unwrap();
    assert_eq!(d.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(d.attribute_name(), Some("ttl"));
}

#[tokio::test]
async fn create_table_is_idempotent() {
    let Some(endpoint) = endpoint() else { return };
    let client = emulator_client(&endpoint);
    let t = fresh_table_name("idem");
    create_table(&client, &t).await.unwrap();
    create_table(&client, &t).await.unwrap();
    let d = client.describe_table().table_name(&t).send().await.unwrap();
    let table = d.table().unwrap();
    let mut names: Vec<&str> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["GSI1", "GSI2", "GSI3"]);
}

#[tokio::test]
async fn large_pool_deletion_runs_in_batches_and_drops_every_assignment() {
    let Some(s) = own_store("bigpool").await else {
        return;
    };
    let fx = new_org(&s).await;
    let pool = pool_under(&fx.root, "Crowded", &fx.owner.user_id);
    s.create_pool(&pool, 100).await.unwrap();
    let mut members = Vec::new();
    for _ in 0..120 {
        let m = membership(
            &fx.org.id,
            vec![Assignment::on_pool(Role::Engineer, pool.id.clone())],
        );
        s.write_membership(&MembershipWrite::Create(m.clone()))
            .await
            .unwrap();
        members.push(m);
    }
    s.reset_calls();
    s.delete_pool(&pool).await.unwrap();
    let c = s.calls();
    println!("delete_pool with 120 referring members: {c:?}");
    assert!(c.transact >= 3, "batches, then the removal: {c:?}");
    assert_eq!(s.get_pool(&fx.org.id, &pool.id).await.unwrap(), None);
    for m in &members {
        let now = s
            .get_membership(&fx.org.id, &m.user_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.assignments, vec![Assignment::org_wide(Role::Member)]);
        assert_eq!(now.version, m.version + 1);
    }
    // The name is free again and the pool count went down.
    s.create_pool(&pool_under(&fx.root, "Crowded", &fx.owner.user_id), 2)
        .await
        .unwrap();
}

#[tokio::test]
async fn large_hand_over_runs_in_batches() {
    let Some(s) = own_store("bighand").await else {
        return;
    };
    let fx = new_org(&s).await;
    let leaver = membership(&fx.org.id, vec![]);
    s.write_membership(&MembershipWrite::Create(leaver.clone()))
        .await
        .unwrap();
    for i in 0..110 {
        s.create_pool(
            &pool_under(&fx.root, &format!("P{i}"), &leaver.user_id),
            1000,
        )
        .await
        .unwrap();
    }
    s.reset_calls();
    let h = s.remove_member(&leaver, &fx.owner.user_id).await.unwrap();
    println!("remove_member owning 110 pools: {:?}", s.calls());
    assert_eq!(h.pools, 110);
    assert_eq!(
        s.get_membership(&fx.org.id, &leaver.user_id).await.unwrap(),
        None
    );
    let pools = s.list_pools(&fx.org.id).await.unwrap();
    assert!(pools.iter().all(|p| p.owner_id == fx.owner.user_id));
    assert_eq!(pools.len(), 111);
}

#[tokio::test]
async fn cursors_are_checked() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let other = new_org(&s).await;
    for _ in 0..3 {
        s.write_membership(&MembershipWrite::Create(membership(&fx.org.id, vec![])))
            .await
            .unwrap();
    }
    let first = s
        .list_memberships(&fx.org.id, &MemberFilter::default(), &PageRequest::first(2))
        .await
        .unwrap();
    let cursor = first.next_cursor.unwrap();
    let bad = |c: &str| PageRequest {
        limit: 2,
        cursor: Some(c.to_owned()),
    };
    for garbage in ["garbage", "eyJ0IjoibWVtYmVycyJ9", "%%%"] {
        assert_eq!(
            s.list_memberships(&fx.org.id, &MemberFilter::default(), &bad(garbage))
                .await,
            Err(StoreError::InvalidCursor)
        );
    }
    assert_eq!(
        s.list_memberships(&other.org.id, &MemberFilter::default(), &bad(&cursor))
            .await,
        Err(StoreError::InvalidCursor),
        "another org's cursor"
    );
    assert_eq!(
        s.list_invite_links(&fx.org.id, &bad(&cursor)).await,
        Err(StoreError::InvalidCursor),
        "another list's cursor"
    );
    let second = s
        .list_memberships(&fx.org.id, &MemberFilter::default(), &bad(&cursor))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
}

#[tokio::test]
async fn sdk_failures_are_unavailable_and_bad_items_corrupt() {
    let Some(s) = store().await else { return };
    let missing = DynamoStore::new(s.client().clone(), fresh_table_name("missing"));
    match missing.get_user(&UserId::from_uuid(id())).await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("ResourceNotFound"), "{m}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    let nowhere = DynamoStore::new(emulator_client("http://127.0.0.1:9"), "t".into());
    assert!(matches!(
        nowhere.get_org(&OrgId::from_uuid(id())).await,
        Err(StoreError::Unavailable(_))
    ));

    let uid = UserId::from_uuid(id());
    s.client()
        .put_item()
        .table_name(s.table())
        .item("PK", AttributeValue::S(format!("USER#{uid}")))
        .item("SK", AttributeValue::S("#".into()))
        .item("id", AttributeValue::S("not-an-id".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        s.get_user(&uid).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn conflicts_name_the_precise_reason() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let inv = invitation(&fx, vec![]);
    s.create_invitation(&inv, None, &limits(now()))
        .await
        .unwrap();
    let twin = Invitation {
        id: InvitationId::from_uuid(id()),
        token_hash: hash(),
        ..inv.clone()
    };
    assert_eq!(
        s.create_invitation(&twin, None, &limits(now())).await,
        Err(StoreError::Conflict(Conflict::PendingInvitationExists(
            inv.id.clone()
        )))
    );
    let child = pool_under(&fx.root, "Child", &fx.owner.user_id);
    s.create_pool(&child, 100).await.unwrap();
    let grandchild = pool_under(&child, "Grand", &fx.owner.user_id);
    s.create_pool(&grandchild, 100).await.unwrap();
    assert_eq!(
        s.delete_pool(&child).await,
        Err(StoreError::Conflict(Conflict::PoolHasChildren))
    );
    let ghost = pool_under(&fx.root, "Ghost", &fx.owner.user_id);
    let orphan = pool_under(&ghost, "Orphan", &fx.owner.user_id);
    assert_eq!(
        s.create_pool(&orphan, 100).await,
        Err(StoreError::Conflict(Conflict::PoolMissing(
            ghost.id.clone()
        )))
    );
}

#[tokio::test]
async fn domain_call_counts() {
    use rollcall_domain::org_domain::{DomainState, Enrollment, OrgDomain};
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let t = now();
    let name = format!("d{}.example", id().simple());
    let d = OrgDomain {
        org_id: fx.org.id.clone(),
        domain: name.clone(),
        state: DomainState::Pending,
        verification_token: format!("rcd_{}", id().simple()),
        enrollment: Enrollment::Manual,
        created_by: fx.owner.user_id.clone(),
        created_at: t,
        updated_at: t,
        verified_at: None,
        verified_by: None,
        last_checked_at: None,
        last_check_reason: None,
        failed_checks: 0,
        version: 1,
    };
    pin!(
        s,
        "create_org_domain",
        calls(0, 0, 0, 1, 0, 0),
        s.create_org_domain(&d)
    )
    .unwrap();
    pin!(
        s,
        "get_org_domain",
        calls(1, 0, 0, 0, 0, 0),
        s.get_org_domain(&fx.org.id, &name)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "list_org_domains",
        calls(0, 1, 0, 0, 0, 0),
        s.list_org_domains(&fx.org.id)
    )
    .unwrap();
    let checked = OrgDomain {
        last_checked_at: Some(t),
        last_check_reason: Some("No TXT record found".into()),
        failed_checks: 1,
        version: 2,
        ..d.clone()
    };
    pin!(
        s,
        "update_org_domain (pending)",
        calls(0, 0, 0, 0, 1, 0),
        s.update_org_domain(&d, &checked)
    )
    .unwrap();
    let verified = OrgDomain {
        state: DomainState::Verified,
        verified_at: Some(t),
        verified_by: Some(fx.owner.user_id.clone()),
        version: 3,
        ..checked.clone()
    };
    pin!(
        s,
        "update_org_domain (verify + claim)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_org_domain(&checked, &verified)
    )
    .unwrap();
    pin!(
        s,
        "get_domain_claim",
        calls(1, 0, 0, 0, 0, 0),
        s.get_domain_claim(&name)
    )
    .unwrap()
    .unwrap();
    pin!(
        s,
        "delete_org_domain (verified)",
        calls(0, 0, 0, 1, 0, 0),
        s.delete_org_domain(&verified)
    )
    .unwrap();
    let again = OrgDomain {
        domain: format!("p{name}"),
        ..d.clone()
    };
    s.create_org_domain(&again).await.unwrap();
    pin!(
        s,
        "delete_org_domain (pending)",
        CallCounts {
            delete: 1,
            ..calls(0, 0, 0, 0, 0, 0)
        },
        s.delete_org_domain(&again)
    )
    .unwrap();
}

#[path = "dynamo/audit.rs"]
mod audit;
#[path = "dynamo/groups.rs"]
mod groups;
#[path = "dynamo/idempotency.rs"]
mod idempotency;
