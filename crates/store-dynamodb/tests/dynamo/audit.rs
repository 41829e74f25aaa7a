//! The audit log on DynamoDB: an audited write costs the same calls as the plain write, its
//! entry being one more item of the same transaction (a single-item write becomes a transaction
//! of two); the entry's key, partition and TTL; a list page is one Query.

use super::*;
use rollcall_domain::audit::{
    Actor, AuditAction, AuditEvent, AuditFilter, Origin, RequestMeta, Target, TargetKind,
};
use rollcall_store_dynamodb::keys;

fn entry(org: &OrgId, action: AuditAction) -> AuditEvent {
    let origin = Origin {
        actor: Actor::System,
        request: RequestMeta::default(),
    };
    AuditEvent::new(
        org,
        &origin,
        now(),
        365,
        action,
        Target::new(TargetKind::Organization, org),
        serde_json::json!({}),
    )
}

#[tokio::test]
async fn audited_writes_cost_one_transaction_and_lists_one_query() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let org = fx.org.id.clone();

    // A plain update is one UpdateItem; audited, one TransactWriteItems of two items.
    pin!(
        s,
        "update_org",
        calls(0, 0, 0, 0, 0, 1),
        s.update_org(&fx.org)
    )
    .unwrap();
    let e = entry(&org, AuditAction::OrganizationUpdated);
    let audited = s.audited(e.clone());
    pin!(
        s,
        "update_org (audited)",
        calls(0, 0, 0, 1, 0, 0),
        audited.update_org(&fx.org)
    )
    .unwrap();
    // A transaction stays one transaction.
    let pool = pool_under(&fx.root, "P", &fx.owner.user_id);
    let audited = s.audited(entry(&org, AuditAction::PoolCreated));
    pin!(
        s,
        "create_pool (audited)",
        calls(0, 0, 0, 1, 0, 0),
        audited.create_pool(&pool, 1000)
    )
    .unwrap();

    // The entry: its own partition, its id as sort key, the TTL at its expiry.
    let (pk, sk) = keys::audit(&org, &e.id);
    assert!(pk.starts_with("AUDIT#"));
    let item = s
        .client()
        .get_item()
        .table_name(s.table())
        .key(keys::PK, AttributeValue::S(pk))
        .key(keys::SK, AttributeValue::S(sk))
        .send()
        .await
        .unwrap()
        .item
        .expect("the entry item");
    assert_eq!(
        item.get(keys::TTL),
        Some(&AttributeValue::N(e.expires_at.timestamp().to_string()))
    );

    let page = pin!(
        s,
        "list_audit_events",
        calls(0, 1, 0, 0, 0, 0),
        s.list_audit_events(
            &org,
            &AuditFilter::default(),
            now(),
            &PageRequest::first(50)
        )
    )
    .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[1], e);
    let filter = AuditFilter {
        action: Some(AuditAction::PoolCreated),
        since: Some(now() - Duration::hours(1)),
        ..Default::default()
    };
    let page = pin!(
        s,
        "list_audit_events (filtered)",
        calls(0, 1, 0, 0, 0, 0),
        s.list_audit_events(&org, &filter, now(), &PageRequest::first(50))
    )
    .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_large_hand_over_writes_its_entry_once_with_the_removal() {
    let Some(s) = own_store("audit-handover").await else {
        return;
    };
    let fx = new_org(&s).await;
    let leaver = membership(&fx.org.id, vec![]);
    s.write_membership(&MembershipWrite::Create(leaver.clone()))
        .await
        .unwrap();
    // More pools than one transaction holds with the removal: hand-over in batches.
    for i in 0..120 {
        s.create_pool(
            &pool_under(&fx.root, &format!("P{i}"), &leaver.user_id),
            1000,
        )
        .await
        .unwrap();
    }
    let e = entry(&fx.org.id, AuditAction::MemberRemoved);
    s.reset_calls();
    let handover = s
        .audited(e.clone())
        .remove_member(&leaver, &fx.owner.user_id)
        .await
        .unwrap();
    assert_eq!(handover.pools, 120);
    assert!(s.calls().transact >= 2, "{:?}", s.calls());
    let listed = s
        .list_audit_events(
            &fx.org.id,
            &AuditFilter::default(),
            now(),
            &PageRequest::first(50),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, e.id);
    assert_eq!(listed.items[0].details["handed_over"]["pools"], 120);
    s.client()
        .delete_table()
        .table_name(s.table())
        .send()
        .await
        .unwrap();
}
