//! The store conformance suite on the embedded store, plus its own durability check.

use rollcall_domain::ports::Store;
use rollcall_store_embedded::EmbeddedStore;
use rollcall_tests::conformance;
use std::sync::Arc;

rollcall_tests::store_conformance_tests!(
    async { Arc::new(EmbeddedStore::temporary().expect("temporary embedded store")) },
    skip_if = false,
    // Every case leaves the store consistent: index entries, claims and counters.
    then = |store: Arc<EmbeddedStore>| async move {
        let problems = store.check_integrity().await.expect("integrity check runs");
        assert!(
            problems.is_empty(),
            "the store is inconsistent:\n{}",
            problems.join("\n")
        );
    }
);

/// What was written is there after the file is closed and opened again.
#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("rollcall.redb");
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let fx = conformance::new_org(&store).await;
    let inv = conformance::invite(&store, &fx, vec![]).await;
    drop(store);

    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).unwrap());
    assert_eq!(store.get_org(fx.id()).await.unwrap(), Some(fx.org.clone()));
    assert_eq!(
        store
            .get_membership(fx.id(), &fx.owner.user_id)
            .await
            .unwrap(),
        Some(fx.owner.clone())
    );
    assert_eq!(
        store
            .find_invitation_by_token(&inv.token_hash)
            .await
            .unwrap(),
        Some(inv.clone())
    );
    // Counters survive too: the only organization manager is still protected.
    let mut demoted = fx.owner.clone();
    demoted.assignments = vec![];
    demoted.version += 1;
    let write = rollcall_domain::ports::MembershipWrite::Update {
        before: fx.owner.clone(),
        after: demoted,
    };
    assert_eq!(
        conformance::conflict_of(store.write_membership(&write).await),
        rollcall_domain::ports::Conflict::LastOrganizationManager
    );
}
