//! Conformance cases of verified domains: the org's domain records and the global claim of a
//! verified domain (one organization per verified domain; deleting releases it).

use super::{Arc, OrgFixture, Store, conflict_of, new_org, now, uuid};
use rollcall_domain::ids::OrgId;
use rollcall_domain::org_domain::{DomainClaim, DomainState, Enrollment, OrgDomain};
use rollcall_domain::ports::Conflict;

/// A fresh domain name no other case uses.
fn fresh_domain() -> String {
    format!("d{}.example", uuid().simple())
}

/// A pending domain record of `fx`'s organization.
fn pending(fx: &OrgFixture, domain: &str) -> OrgDomain {
    let t = now();
    OrgDomain {
        org_id: fx.id().clone(),
        domain: domain.to_owned(),
        state: DomainState::Pending,
        verification_token: format!("rcd_{}", uuid().simple()),
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
    }
}

/// `d` verified by its creator.
fn verified(d: &OrgDomain) -> OrgDomain {
    OrgDomain {
        state: DomainState::Verified,
        verified_at: Some(now()),
        verified_by: Some(d.created_by.clone()),
        last_checked_at: Some(now()),
        version: d.version + 1,
        ..d.clone()
    }
}

/// Create, get, list (by name), update with versions, delete; records are per organization.
pub async fn domain_record_lifecycle(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let other = new_org(&store).await;
    let (name_b, name_a) = (
        format!("b{}", fresh_domain()),
        format!("a{}", fresh_domain()),
    );
    let b = pending(&fx, &name_b);
    let a = pending(&fx, &name_a);
    store.create_org_domain(&b).await.unwrap();
    store.create_org_domain(&a).await.unwrap();
    assert_eq!(
        conflict_of(store.create_org_domain(&pending(&fx, &name_a)).await),
        Conflict::DomainExists
    );
    let mut ghost = pending(&fx, &fresh_domain());
    ghost.org_id = OrgId::from_uuid(uuid());
    assert_eq!(
        conflict_of(store.create_org_domain(&ghost).await),
        Conflict::OrgMissing
    );
    assert_eq!(
        store.get_org_domain(fx.id(), &name_a).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.get_org_domain(other.id(), &name_a).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_org_domains(fx.id()).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert!(store.list_org_domains(other.id()).await.unwrap().is_empty());

    // A failed check: pending with its reason; a stale version is refused.
    let checked = OrgDomain {
        last_checked_at: Some(now()),
        last_check_reason: Some("No TXT record found".into()),
        failed_checks: 1,
        version: 2,
        ..a.clone()
    };
    store.update_org_domain(&a, &checked).await.unwrap();
    assert_eq!(
        conflict_of(store.update_org_domain(&a, &checked).await),
        Conflict::Stale
    );
    assert_eq!(
        store.get_org_domain(fx.id(), &name_a).await.unwrap(),
        Some(checked.clone())
    );
    // A pending domain holds no claim.
    assert_eq!(store.get_domain_claim(&name_a).await.unwrap(), None);

    assert_eq!(
        conflict_of(store.delete_org_domain(&a).await),
        Conflict::Stale
    );
    store.delete_org_domain(&checked).await.unwrap();
    assert_eq!(store.get_org_domain(fx.id(), &name_a).await.unwrap(), None);
    assert_eq!(store.list_org_domains(fx.id()).await.unwrap(), vec![b]);
}

/// Several organizations may hold one domain pending; of concurrent verifications exactly one
/// wins the claim, the others get [`Conflict::DomainClaimed`] and stay pending.
pub async fn domain_claim_has_one_winner(store: Arc<dyn Store>) {
    let domain = fresh_domain();
    let mut orgs = Vec::new();
    for _ in 0..6 {
        let fx = new_org(&store).await;
        let d = pending(&fx, &domain);
        store.create_org_domain(&d).await.unwrap();
        orgs.push((fx, d));
    }
    let results = futures_util::future::join_all(orgs.iter().map(|(_, d)| {
        let store = store.clone();
        let (before, after) = (d.clone(), verified(d));
        async move { store.update_org_domain(&before, &after).await }
    }))
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(conflict_of(r.clone()), Conflict::DomainClaimed);
    }
    let (fx, d) = &orgs[winners[0]];
    let claim = store.get_domain_claim(&domain).await.unwrap();
    assert_eq!(
        claim,
        Some(DomainClaim {
            domain: domain.clone(),
            org_id: fx.id().clone(),
            enrollment: Enrollment::Manual,
            verified_by: fx.owner.user_id.clone(),
        })
    );
    for (i, (other, od)) in orgs.iter().enumerate() {
        let stored = store.get_org_domain(other.id(), &domain).await.unwrap();
        if i == winners[0] {
            assert_eq!(stored.map(|s| s.state), Some(DomainState::Verified));
        } else {
            assert_eq!(stored, Some(od.clone()));
        }
    }
    // The enrollment mode travels with the claim.
    let v = verified(d);
    let automatic = OrgDomain {
        enrollment: Enrollment::AutomaticInvitation,
        version: v.version + 1,
        ..v.clone()
    };
    store.update_org_domain(&v, &automatic).await.unwrap();
    assert_eq!(
        store
            .get_domain_claim(&domain)
            .await
            .unwrap()
            .map(|c| c.enrollment),
        Some(Enrollment::AutomaticInvitation)
    );
}

/// Deleting a verified domain releases its claim in the same change; another organization can
/// then verify it, and deleting a pending record never touches another organization's claim.
pub async fn domain_delete_releases_the_claim(store: Arc<dyn Store>) {
    let domain = fresh_domain();
    let a = new_org(&store).await;
    let b = new_org(&store).await;
    let da = pending(&a, &domain);
    let db = pending(&b, &domain);
    store.create_org_domain(&da).await.unwrap();
    store.create_org_domain(&db).await.unwrap();
    let va = verified(&da);
    store.update_org_domain(&da, &va).await.unwrap();
    assert_eq!(
        conflict_of(store.update_org_domain(&db, &verified(&db)).await),
        Conflict::DomainClaimed
    );
    store.delete_org_domain(&va).await.unwrap();
    assert_eq!(store.get_domain_claim(&domain).await.unwrap(), None);
    let vb = verified(&db);
    store.update_org_domain(&db, &vb).await.unwrap();
    assert_eq!(
        store
            .get_domain_claim(&domain)
            .await
            .unwrap()
            .map(|c| c.org_id),
        Some(b.id().clone())
    );
    // A again, pending: deleting it leaves B's claim alone.
    let again = pending(&a, &domain);
    store.create_org_domain(&again).await.unwrap();
    store.delete_org_domain(&again).await.unwrap();
    let claim = store.get_domain_claim(&domain).await.unwrap();
    assert_eq!(claim.map(|c| c.org_id), Some(b.id().clone()));
}
