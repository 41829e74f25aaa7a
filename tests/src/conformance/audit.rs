//! Conformance cases of the audit log: an entry is written with the change through
//! [`Store::audited`], never without it, once, and listed newest first with filters.

use super::*;
use rollcall_domain::audit::{
    Actor, AuditAction, AuditEvent, AuditFilter, Origin, RequestMeta, Target, TargetKind,
};
use serde_json::json;

/// An entry of `org` made at `at` by a user, about `target`.
pub fn audit_entry(
    org: &OrgId,
    at: Timestamp,
    action: AuditAction,
    actor: &UserId,
    target: Target,
) -> AuditEvent {
    let origin = Origin {
        actor: Actor::User {
            id: actor.clone(),
            email: "actor@example.test".into(),
        },
        request: RequestMeta::new(Some("req-1"), Some("192.0.2.7"), Some("conformance")),
    };
    AuditEvent::new(org, &origin, at, 365, action, target, json!({ "n": 1 }))
}

async fn entries(store: &Arc<dyn Store>, org: &OrgId, filter: &AuditFilter) -> Vec<AuditEvent> {
    all_pages(50, |page| {
        let store = store.clone();
        let org = org.clone();
        let filter = filter.clone();
        async move { store.list_audit_events(&org, &filter, now(), &page).await }
    })
    .await
}

/// The entry goes in with the change, and only with a change that happened.
pub async fn audit_entry_is_written_with_the_change(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = fx.owner.user_id.clone();
    let pool = pool_under(&fx.root, "Audited", &owner);
    let entry = audit_entry(
        fx.id(),
        now(),
        AuditAction::PoolCreated,
        &owner,
        Target::new(TargetKind::Pool, &pool.id),
    );
    store
        .audited(entry.clone())
        .create_pool(&pool, 1000)
        .await
        .unwrap();
    assert!(store.get_pool(fx.id(), &pool.id).await.unwrap().is_some());
    assert_eq!(
        entries(&store, fx.id(), &AuditFilter::default()).await,
        vec![entry.clone()]
    );

    // A write whose condition fails writes no entry.
    let taken = pool_under(&fx.root, "audited", &owner);
    let refused = audit_entry(
        fx.id(),
        now(),
        AuditAction::PoolCreated,
        &owner,
        Target::new(TargetKind::Pool, &taken.id),
    );
    assert_eq!(
        conflict_of(store.audited(refused).create_pool(&taken, 1000).await),
        Conflict::PoolNameTaken
    );
    // A handle writes its entry once: a second write through it is refused, with nothing
    // written.
    let handle = store.audited(audit_entry(
        fx.id(),
        now(),
        AuditAction::PoolCreated,
        &owner,
        Target::new(TargetKind::Pool, "x"),
    ));
    let first = pool_under(&fx.root, "First", &owner);
    let second = pool_under(&fx.root, "Second", &owner);
    handle.create_pool(&first, 1000).await.unwrap();
    assert_eq!(
        conflict_of(handle.create_pool(&second, 1000).await),
        Conflict::Stale
    );
    assert!(store.get_pool(fx.id(), &second.id).await.unwrap().is_none());
    assert_eq!(
        entries(&store, fx.id(), &AuditFilter::default())
            .await
            .len(),
        2
    );
    // A delete of nothing writes nothing, its entry neither.
    let none = store
        .audited(audit_entry(
            fx.id(),
            now(),
            AuditAction::ScimTokenRevoked,
            &owner,
            Target::new(TargetKind::ScimToken, "sct_x"),
        ))
        .delete_scim_token(fx.id(), &ScimTokenId::from_uuid(uuid()))
        .await;
    assert_eq!(none, Ok(false));
    assert_eq!(
        entries(&store, fx.id(), &AuditFilter::default())
            .await
            .len(),
        2
    );
    // Plain writes write no entry.
    add_pool(&store, &fx.root, "Plain", &owner).await;
    assert_eq!(
        entries(&store, fx.id(), &AuditFilter::default())
            .await
            .len(),
        2
    );
}

/// Newest first; filters by action, actor, target and time; pages; expired entries and other
/// organizations' entries are never listed.
pub async fn audit_list_filters_pages_and_isolates(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let other = new_org(&store).await;
    let alice = user_id();
    let bob = user_id();
    let t0 = now() - Duration::hours(10);
    let mut written = Vec::new();
    for i in 0..7i64 {
        let actor = if i % 2 == 0 { &alice } else { &bob };
        let action = if i < 4 {
            AuditAction::OrganizationUpdated
        } else {
            AuditAction::PoolUpdated
        };
        let e = audit_entry(
            fx.id(),
            t0 + Duration::hours(i),
            action,
            actor,
            Target::new(TargetKind::Organization, format!("target-{}", i % 3)),
        );
        store.audited(e.clone()).update_org(&fx.org).await.unwrap();
        written.push(e);
    }
    // An entry past its retention is not listed.
    let mut expired = audit_entry(
        fx.id(),
        t0 - Duration::days(400),
        AuditAction::OrganizationUpdated,
        &alice,
        Target::new(TargetKind::Organization, "old"),
    );
    expired.expires_at = now() - Duration::days(1);
    store.audited(expired).update_org(&fx.org).await.unwrap();
    // Another organization's entry.
    let theirs = audit_entry(
        other.id(),
        t0,
        AuditAction::OrganizationUpdated,
        &alice,
        Target::new(TargetKind::Organization, "target-0"),
    );
    store.audited(theirs).update_org(&other.org).await.unwrap();

    let newest_first: Vec<AuditEvent> = written.iter().rev().cloned().collect();
    assert_eq!(
        entries(&store, fx.id(), &AuditFilter::default()).await,
        newest_first
    );
    // Pages of 2, newest first, nothing lost or repeated.
    let paged = all_pages(2, |page| {
        let store = store.clone();
        let org = fx.id().clone();
        async move {
            store
                .list_audit_events(&org, &AuditFilter::default(), now(), &page)
                .await
        }
    })
    .await;
    assert_eq!(paged, newest_first);
    let only = |f: fn(&AuditEvent) -> bool| -> Vec<AuditEvent> {
        newest_first.iter().filter(|e| f(e)).cloned().collect()
    };
    let by_action = AuditFilter {
        action: Some(AuditAction::PoolUpdated),
        ..Default::default()
    };
    assert_eq!(
        entries(&store, fx.id(), &by_action).await,
        only(|e| e.action == AuditAction::PoolUpdated)
    );
    let by_actor = AuditFilter {
        actor: Some(bob.to_string()),
        ..Default::default()
    };
    assert_eq!(entries(&store, fx.id(), &by_actor).await.len(), 3);
    assert!(
        entries(&store, fx.id(), &by_actor)
            .await
            .iter()
            .all(|e| e.actor.filter_key() == bob.as_str())
    );
    let by_target = AuditFilter {
        target: Some("target-1".into()),
        ..Default::default()
    };
    assert_eq!(
        entries(&store, fx.id(), &by_target).await,
        only(|e| e.target.id == "target-1")
    );
    // [t0 + 2h, t0 + 5h): entries 2, 3 and 4.
    let window = AuditFilter {
        since: Some(t0 + Duration::hours(2)),
        until: Some(t0 + Duration::hours(5)),
        ..Default::default()
    };
    assert_eq!(
        entries(&store, fx.id(), &window).await,
        vec![written[4].clone(), written[3].clone(), written[2].clone()]
    );
    let combined = AuditFilter {
        action: Some(AuditAction::OrganizationUpdated),
        actor: Some(alice.to_string()),
        since: Some(t0 + Duration::hours(1)),
        ..Default::default()
    };
    assert_eq!(
        entries(&store, fx.id(), &combined).await,
        vec![written[2].clone()]
    );
    // The other organization sees only its own.
    assert_eq!(
        entries(&store, other.id(), &AuditFilter::default())
            .await
            .len(),
        1
    );
    // A cursor of one organization's log is refused for another's.
    let first = store
        .list_audit_events(
            fx.id(),
            &AuditFilter::default(),
            now(),
            &PageRequest::first(1),
        )
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("more entries");
    let page = PageRequest {
        limit: 1,
        cursor: Some(cursor),
    };
    assert_eq!(
        store
            .list_audit_events(other.id(), &AuditFilter::default(), now(), &page)
            .await,
        Err(StoreError::InvalidCursor)
    );
    // And a cursor of the newest entries for a range that ends before them.
    let earlier = AuditFilter {
        until: Some(t0 + Duration::hours(1)),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_audit_events(fx.id(), &earlier, now(), &page)
            .await,
        Err(StoreError::InvalidCursor)
    );
}

/// A removal's entry records what was handed over, which the store learns while writing.
pub async fn audit_entry_of_a_removal_records_the_handover(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let owner = fx.owner.user_id.clone();
    let leaver = add_member(&store, fx.id(), vec![]).await;
    add_pool(&store, &fx.root, "Theirs", &leaver.user_id).await;
    let entry = audit_entry(
        fx.id(),
        now(),
        AuditAction::MemberRemoved,
        &owner,
        Target::new(TargetKind::Member, &leaver.user_id),
    );
    let handover = store
        .audited(entry)
        .remove_member(&leaver, &owner)
        .await
        .unwrap();
    assert_eq!(handover.pools, 1);
    let listed = entries(&store, fx.id(), &AuditFilter::default()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].details["handed_over"],
        json!({ "pools": 1, "invite_links": 0, "invitations": 0 })
    );
    assert_eq!(listed[0].details["n"], json!(1));
}
