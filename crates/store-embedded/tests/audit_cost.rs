//! What the audit log costs on the embedded store: the same write with and without its entry,
//! one at a time and 16 at once (group commit), reading pages of a large log and the local event
//! list's walk of it. A benchmark that prints figures, not a check of them:
//!
//! ```sh
//! cargo test --release -p rollcall-store-embedded --test audit_cost -- --ignored --nocapture
//! ```

use chrono::Utc;
use rollcall_domain::Email;
use rollcall_domain::audit::{
    Actor, AuditAction, AuditEvent, AuditFilter, Origin, RequestMeta, Target, TargetKind,
};
use rollcall_domain::ids::{OrgId, PoolId, UserId};
use rollcall_domain::model::{
    MemberSource, MemberStatus, Membership, Organization, Pool, Settings,
};
use rollcall_domain::page::PageRequest;
use rollcall_domain::ports::Store;
use rollcall_domain::role::{Assignment, Role};
use rollcall_store_embedded::EmbeddedStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const WRITES: usize = 2000;

async fn org(store: &Arc<dyn Store>) -> Organization {
    let now = Utc::now();
    let owner = UserId::from_uuid(Uuid::now_v7());
    let org = Organization {
        id: OrgId::from_uuid(Uuid::now_v7()),
        name: "Bench".into(),
        root_pool_id: PoolId::from_uuid(Uuid::now_v7()),
        settings: Settings::default(),
        created_at: now,
    };
    let root = Pool {
        id: org.root_pool_id.clone(),
        org_id: org.id.clone(),
        name: "Bench".into(),
        parent_id: None,
        ancestors: vec![],
        owner_id: owner.clone(),
        created_at: now,
    };
    let member = Membership {
        direct_assignments: None,
        groups: vec![],
        org_id: org.id.clone(),
        user_id: owner,
        email: Email::parse("owner@bench.test").unwrap(),
        name: None,
        phone: None,
        status: MemberStatus::Active,
        source: MemberSource::Owner,
        external_id: None,
        assignments: vec![Assignment::org_wide(Role::OrganizationManager)],
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store.create_org(&org, &root, &member).await.unwrap();
    org
}

fn entry(org: &OrgId, i: usize) -> AuditEvent {
    let origin = Origin {
        actor: Actor::User {
            id: UserId::from_uuid(Uuid::now_v7()),
            email: "owner@bench.test".into(),
        },
        request: RequestMeta::new(
            Some("bench-request"),
            Some("203.0.113.7"),
            Some("bench/1.0"),
        ),
    };
    AuditEvent::new(
        org,
        &origin,
        Utc::now(),
        365,
        if i.is_multiple_of(2) {
            AuditAction::OrganizationUpdated
        } else {
            AuditAction::PoolUpdated
        },
        Target::new(TargetKind::Organization, org),
        serde_json::json!({ "name": { "before": "Bench", "after": "Bench" }, "i": i }),
    )
}

/// `WRITES` updates of the organization, `concurrency` at a time; audited or not.
async fn writes(
    store: &Arc<dyn Store>,
    org: &Organization,
    concurrency: usize,
    audited: bool,
) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (store, org) = (store.clone(), org.clone());
        tasks.push(tokio::spawn(async move {
            for i in (t..WRITES).step_by(concurrency) {
                let s = if audited {
                    store.audited(entry(&org.id, i))
                } else {
                    store.clone()
                };
                s.update_org(&org).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

/// The local event list's walk: the newest entries of every organization together, oldest
/// first, whatever the interleaving of the organizations' writes.
#[tokio::test]
async fn recent_entries_are_the_newest_of_every_organization() {
    let embedded = Arc::new(EmbeddedStore::in_memory().unwrap());
    let store: Arc<dyn Store> = embedded.clone();
    let orgs = [org(&store).await, org(&store).await, org(&store).await];
    // Runs of different lengths per organization, so that the newest entries of one
    // organization sit between older ones of another in key order.
    let mut written = Vec::new();
    for (round, run) in [(0, 30), (1, 5), (0, 10), (2, 20), (1, 3), (0, 2)] {
        let org = &orgs[round];
        for i in 0..run {
            let e = entry(&org.id, i);
            written.push(e.id.clone());
            store.audited(e).update_org(org).await.unwrap();
        }
    }
    let ids = |events: Vec<AuditEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    for limit in [1, 4, 25, 69, 70, 1000] {
        let recent = ids(embedded.recent_audit_events(limit).await.unwrap());
        let skip = written.len().saturating_sub(limit);
        assert_eq!(recent, written[skip..], "limit {limit}");
    }
    assert!(embedded.recent_audit_events(0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: run with --release --ignored --nocapture"]
async fn audit_cost_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Arc::new(EmbeddedStore::open(&dir.path().join("bench.redb")).unwrap());
    let store: Arc<dyn Store> = embedded.clone();
    let org = org(&store).await;
    println!("{WRITES} updates of an organization on a file store:");
    for concurrency in [1, 16] {
        let plain = writes(&store, &org, concurrency, false).await;
        let audited = writes(&store, &org, concurrency, true).await;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / WRITES as f64;
        println!(
            "  concurrency {concurrency:>2}: plain {:>7.1} µs/write, audited {:>7.1} µs/write ({:+.1}%)",
            per(plain),
            per(audited),
            (per(audited) / per(plain) - 1.0) * 100.0
        );
    }
    // Reading a log of 4,000 entries.
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let page = store
            .list_audit_events(
                &org.id,
                &AuditFilter::default(),
                Utc::now(),
                &PageRequest::first(50),
            )
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(page.items.len(), 50);
    }
    times.sort();
    println!(
        "  newest page of 50 of 4000 entries: p50 {:?}, p99 {:?}",
        times[100], times[197]
    );
    let filter = AuditFilter {
        action: Some(AuditAction::PoolUpdated),
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let page = store
            .list_audit_events(&org.id, &filter, Utc::now(), &PageRequest::first(50))
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(page.items.len(), 50);
    }
    times.sort();
    println!(
        "  filtered page of 50 (every other entry): p50 {:?}, p99 {:?}",
        times[100], times[197]
    );
    // The local event list: the newest 1,000 entries of the log.
    let mut times = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let recent = embedded.recent_audit_events(1000).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(recent.len(), 1000);
    }
    times.sort();
    println!(
        "  newest 1000 of 4000 entries (local event list): p50 {:?}, p99 {:?}",
        times[25], times[48]
    );
}
