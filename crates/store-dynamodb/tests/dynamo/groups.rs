//! SCIM groups on DynamoDB: call counts, one transaction per group change, conflicts, pool
//! deletion through group mappings and grants, and paging a 10,000-member group.

use super::*;
use rollcall_domain::ids::GroupId;
use rollcall_domain::model::{GROUP_MEMBER_BATCH, GROUP_MEMBER_PAGE, Group};
use rollcall_domain::ports::{GroupEdge, GroupMemberChange};
use rollcall_store_dynamodb::keys;

/// A new group; `assignments` as given (in normal form, or empty for no role).
fn group(org: &OrgId, name: &str, assignments: Vec<Assignment>) -> Group {
    let t = now();
    Group {
        org_id: org.clone(),
        id: GroupId::from_uuid(id()),
        display_name: name.into(),
        external_id: None,
        assignments,
        member_count: 0,
        conflicts: vec![],
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

/// `g` changed by `f`, one version on.
fn changed(g: &Group, f: impl FnOnce(&mut Group)) -> Group {
    let mut after = g.clone();
    f(&mut after);
    after.version = g.version + 1;
    after
}

/// `g` after `changes`, one version on, `member_count` following their edges.
fn counted(g: &Group, changes: &[GroupMemberChange]) -> Group {
    let n = |edge| changes.iter().filter(|c| c.edge == edge).count() as u64;
    changed(g, |a| {
        a.member_count = (g.member_count + n(GroupEdge::Add)).saturating_sub(n(GroupEdge::Remove))
    })
}

/// Puts (or deletes) a member entry behind the store's back, to reach the transaction's own
/// conditions on entries.
async fn set_entry(s: &DynamoStore, g: &Group, member_ref: &UserId, present: bool) {
    let (pk, sk) = keys::group_member(&g.org_id, &g.id, member_ref);
    if present {
        s.client()
            .put_item()
            .table_name(s.table())
            .item(keys::PK, AttributeValue::S(pk))
            .item(keys::SK, AttributeValue::S(sk))
            .send()
            .await
            .unwrap();
    } else {
        s.client()
            .delete_item()
            .table_name(s.table())
            .key(keys::PK, AttributeValue::S(pk))
            .key(keys::SK, AttributeValue::S(sk))
            .send()
            .await
            .unwrap();
    }
}

/// `m` after a change of its place in `g` (`edge`) with `g`'s mapping `grant`.
fn change(m: &Membership, g: &Group, edge: GroupEdge, grant: &[Assignment]) -> GroupMemberChange {
    let moved = match edge {
        GroupEdge::Add | GroupEdge::Keep => m.clone().with_group(&g.id, grant),
        GroupEdge::Remove => m.clone().without_group(&g.id),
    };
    GroupMemberChange {
        member_ref: m.user_id.clone(),
        edge,
        membership: MembershipWrite::Update {
            before: m.clone(),
            after: Membership {
                version: m.version + 1,
                ..moved
            },
        },
    }
}

fn after_of(c: &GroupMemberChange) -> Membership {
    c.membership.after().clone()
}

async fn members(s: &DynamoStore, org: &OrgId, n: usize) -> Vec<Membership> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = membership(org, vec![]);
        s.write_membership(&MembershipWrite::Create(m.clone()))
            .await
            .unwrap();
        out.push(m);
    }
    out
}

async fn stored(s: &DynamoStore, m: &Membership) -> Membership {
    s.get_membership(&m.org_id, &m.user_id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn group_call_counts() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let pool = pool_under(&fx.root, "Eng", &fx.owner.user_id);
    s.create_pool(&pool, 100).await.unwrap();
    let grant = vec![Assignment::on_pool(Role::Engineer, pool.id.clone())];
    let g = group(org, "Engineers", grant.clone());
    pin!(
        s,
        "create_group",
        calls(0, 0, 0, 1, 0, 0),
        s.create_group(&g, 1000)
    )
    .unwrap();
    assert_eq!(
        pin!(
            s,
            "get_group",
            calls(1, 0, 0, 0, 0, 0),
            s.get_group(org, &g.id)
        )
        .unwrap(),
        Some(g.clone())
    );
    assert_eq!(
        pin!(
            s,
            "find_group_by_name",
            calls(1, 0, 0, 0, 0, 0),
            s.find_group_by_name(org, "  ENGINEERS ")
        )
        .unwrap(),
        Some(g.clone())
    );
    assert_eq!(
        pin!(
            s,
            "count_groups",
            calls(1, 0, 0, 0, 0, 0),
            s.count_groups(org)
        )
        .unwrap(),
        1
    );
    let page = pin!(
        s,
        "list_groups",
        calls(0, 1, 0, 0, 0, 0),
        s.list_groups(org, &PageRequest::default())
    )
    .unwrap();
    assert_eq!(page.items, vec![g.clone()]);

    // A rename and 40 members joining a group mapped to a pool: one transaction (the group, its
    // name claim moved, 40 entries, 40 memberships, references).
    let people = members(&s, org, GROUP_MEMBER_BATCH).await;
    let renamed = changed(&g, |a| {
        a.display_name = "Platform".into();
        a.member_count = GROUP_MEMBER_BATCH as u64;
    });
    let joins: Vec<GroupMemberChange> = people
        .iter()
        .map(|m| change(m, &g, GroupEdge::Add, &grant))
        .collect();
    pin!(
        s,
        "update_group (rename + 40 joins)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_group(&g, &renamed, &joins)
    )
    .unwrap();
    assert_eq!(s.find_group_by_name(org, "engineers").await.unwrap(), None);
    assert_eq!(
        s.find_group_by_name(org, "platform").await.unwrap(),
        Some(renamed.clone())
    );
    let users: Vec<UserId> = people.iter().rev().map(|m| m.user_id.clone()).collect();
    let got = pin!(
        s,
        "get_memberships (40)",
        calls(0, 0, 1, 0, 0, 0),
        s.get_memberships(org, &users)
    )
    .unwrap();
    let want: Vec<Membership> = joins.iter().rev().map(after_of).collect();
    assert_eq!(got, want, "in the order asked, as written");
    assert!(got.iter().all(|m| m.assignments.contains(&grant[0])));
    let other = group(org, "Other", vec![]);
    s.create_group(&other, 1000).await.unwrap();
    let both = pin!(
        s,
        "get_groups (2 + 1 missing)",
        calls(0, 0, 1, 0, 0, 0),
        s.get_groups(
            org,
            &[other.id.clone(), GroupId::from_uuid(id()), g.id.clone()]
        )
    )
    .unwrap();
    assert_eq!(both, vec![other.clone(), renamed.clone()]);
    let refs = pin!(
        s,
        "list_group_members (40)",
        calls(0, 1, 0, 0, 0, 0),
        s.list_group_members(org, &g.id, &PageRequest::first(GROUP_MEMBER_PAGE))
    )
    .unwrap();
    let mut sorted: Vec<UserId> = people.iter().map(|m| m.user_id.clone()).collect();
    sorted.sort();
    assert_eq!(refs.items, sorted);
    assert_eq!(refs.next_cursor, None);

    // A member the identity provider knows by another SCIM id (a linked placeholder's): its
    // alias is read first, in one BatchGetItem.
    let linked = members(&s, org, 1).await.remove(0);
    let scim_id = UserId::from_uuid(id());
    let (pk, sk) = keys::scim_alias(org, &scim_id);
    s.client()
        .put_item()
        .table_name(s.table())
        .item(keys::PK, AttributeValue::S(pk))
        .item(keys::SK, AttributeValue::S(sk))
        .item(keys::TARGET, AttributeValue::S(linked.user_id.to_string()))
        .send()
        .await
        .unwrap();
    let by_alias = |member_ref: &UserId| GroupMemberChange {
        member_ref: member_ref.clone(),
        ..change(&linked, &renamed, GroupEdge::Add, &grant)
    };
    let nobody = [by_alias(&UserId::from_uuid(id()))];
    assert_eq!(
        pin!(
            s,
            "update_group (unknown SCIM id)",
            calls(0, 0, 1, 0, 0, 0),
            s.update_group(&renamed, &counted(&renamed, &nobody), &nobody)
        ),
        Err(StoreError::Conflict(Conflict::Stale))
    );
    let aliased = [by_alias(&scim_id)];
    let with_alias = counted(&renamed, &aliased);
    pin!(
        s,
        "update_group (1 join by SCIM alias)",
        calls(0, 0, 1, 1, 0, 0),
        s.update_group(&renamed, &with_alias, &aliased)
    )
    .unwrap();
    let refs = s
        .list_group_members(org, &g.id, &PageRequest::first(GROUP_MEMBER_PAGE))
        .await
        .unwrap();
    assert!(refs.items.contains(&scim_id));
    let aliased = [GroupMemberChange {
        member_ref: scim_id.clone(),
        ..change(&after_of(&aliased[0]), &with_alias, GroupEdge::Remove, &[])
    }];
    let renamed = counted(&with_alias, &aliased);
    s.update_group(&with_alias, &renamed, &aliased)
        .await
        .unwrap();

    // Everyone leaves again in one transaction; the empty group is deleted in one.
    let emptied = changed(&renamed, |a| a.member_count = 0);
    let leaves: Vec<GroupMemberChange> = joins
        .iter()
        .map(|c| change(&after_of(c), &renamed, GroupEdge::Remove, &[]))
        .collect();
    pin!(
        s,
        "update_group (40 leave)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_group(&renamed, &emptied, &leaves)
    )
    .unwrap();
    let back = stored(&s, &people[0]).await;
    assert!(back.groups.is_empty());
    assert_eq!(back.assignments, vec![Assignment::org_wide(Role::Member)]);
    pin!(
        s,
        "delete_group",
        calls(0, 0, 0, 1, 0, 0),
        s.delete_group(&Group {
            version: emptied.version,
            ..emptied.clone()
        })
    )
    .unwrap();
    assert_eq!(s.count_groups(org).await.unwrap(), 1);
    assert_eq!(s.find_group_by_name(org, "platform").await.unwrap(), None);
}

/// The largest change of existing members: a rename, a mapping that gains a pool and the
/// organization manager role, and 40 members joining: 1 + 2 + 40 + 40 + 1 + 2 references = 86
/// items, one transaction. Creating memberships costs more (their email claims): 40 do not fit
/// and are refused with nothing written; 10 do.
#[tokio::test]
async fn the_largest_group_change_is_one_transaction() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let pool = pool_under(&fx.root, "Ops", &fx.owner.user_id);
    s.create_pool(&pool, 100).await.unwrap();
    let g = group(org, "Admins", vec![]);
    s.create_group(&g, 1000).await.unwrap();
    let grant = normal_form(vec![
        Assignment::org_wide(Role::OrganizationManager),
        Assignment::on_pool(Role::Manager, pool.id.clone()),
    ]);
    let after = changed(&g, |a| {
        a.display_name = "Administrators".into();
        a.assignments = grant.clone();
        a.member_count = GROUP_MEMBER_BATCH as u64;
    });
    let people = members(&s, org, GROUP_MEMBER_BATCH).await;
    let joins: Vec<GroupMemberChange> = people
        .iter()
        .map(|m| change(m, &g, GroupEdge::Add, &grant))
        .collect();
    pin!(
        s,
        "update_group (largest: 40 joins, rename, new pool and role)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_group(&g, &after, &joins)
    )
    .unwrap();
    assert!(stored(&s, &people[0]).await.is_active_org_manager());
    // 41 active organization managers: 40 may lose the role at once.
    let unmapped = changed(&after, |a| a.assignments = vec![]);
    let keeps: Vec<GroupMemberChange> = joins
        .iter()
        .map(|c| change(&after_of(c), &after, GroupEdge::Keep, &[]))
        .collect();
    s.update_group(&after, &unmapped, &keeps).await.unwrap();
    assert_eq!(
        stored(&s, &people[0]).await.assignments,
        vec![Assignment::org_wide(Role::Member)]
    );
    // The owner is the last one and stays.
    let last = Membership {
        version: fx.owner.version + 1,
        ..fx.owner.clone().with_direct_assignments(vec![])
    };
    assert_eq!(
        s.write_membership(&MembershipWrite::Update {
            before: fx.owner.clone(),
            after: last
        })
        .await,
        Err(StoreError::Conflict(Conflict::LastOrganizationManager))
    );

    let creations = |n: usize| -> Vec<GroupMemberChange> {
        (0..n)
            .map(|_| {
                let m = membership(org, vec![]).with_group(&g.id, &[]);
                GroupMemberChange {
                    member_ref: m.user_id.clone(),
                    edge: GroupEdge::Add,
                    membership: MembershipWrite::Create(m),
                }
            })
            .collect()
    };
    let count = s.count_memberships(org).await.unwrap();
    let grown = |n: usize| changed(&unmapped, |a| a.member_count += n as u64);
    let forty = creations(GROUP_MEMBER_BATCH);
    assert!(matches!(
        s.update_group(&unmapped, &grown(GROUP_MEMBER_BATCH), &forty)
            .await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(s.count_memberships(org).await.unwrap(), count);
    assert_eq!(
        s.get_membership(org, &forty[0].member_ref).await.unwrap(),
        None
    );
    pin!(
        s,
        "update_group (10 creations)",
        calls(0, 0, 0, 1, 0, 0),
        s.update_group(&unmapped, &grown(10), &creations(10))
    )
    .unwrap();
    assert_eq!(s.count_memberships(org).await.unwrap(), count + 10);
    assert!(matches!(
        s.update_group(
            &grown(10),
            &changed(&grown(10), |_| {}),
            &creations(GROUP_MEMBER_BATCH + 1)
        )
        .await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn group_conflicts_name_the_reason_and_write_nothing() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let g = group(org, "Sales", vec![]);
    s.create_group(&g, 2).await.unwrap();
    let conflict = |c| Err(StoreError::Conflict(c));
    assert_eq!(
        s.create_group(&group(org, " SALES", vec![]), 10).await,
        conflict(Conflict::GroupNameTaken)
    );
    assert_eq!(
        s.create_group(
            &Group {
                display_name: "Other".into(),
                ..g.clone()
            },
            10
        )
        .await,
        conflict(Conflict::Stale),
        "the id exists"
    );
    s.create_group(&group(org, "Support", vec![]), 2)
        .await
        .unwrap();
    assert_eq!(
        s.create_group(&group(org, "Legal", vec![]), 2).await,
        conflict(Conflict::GroupLimit)
    );
    assert_eq!(
        s.create_group(&group(&OrgId::from_uuid(id()), "Sales", vec![]), 10)
            .await,
        conflict(Conflict::OrgMissing)
    );
    assert_eq!(s.count_groups(org).await.unwrap(), 2);

    let people = members(&s, org, 2).await;
    let (a, b) = (&people[0], &people[1]);
    assert_eq!(
        s.update_group(&g, &changed(&g, |x| x.display_name = "support".into()), &[])
            .await,
        conflict(Conflict::GroupNameTaken)
    );
    let joined = changed(&g, |x| x.member_count = 1);
    let join_a = change(a, &g, GroupEdge::Add, &[]);
    s.update_group(&g, &joined, std::slice::from_ref(&join_a))
        .await
        .unwrap();
    assert_eq!(
        s.update_group(&g, &changed(&g, |_| {}), &[]).await,
        conflict(Conflict::Stale),
        "the group moved on"
    );
    let a1 = after_of(&join_a);
    // Refused on the arguments: joining twice, leaving without being in, an edge the write does
    // not make, one member twice, a member count that does not follow the edges.
    let join_b = change(b, &joined, GroupEdge::Add, &[]);
    let unreflected = GroupMemberChange {
        edge: GroupEdge::Add,
        ..change(b, &joined, GroupEdge::Remove, &[])
    };
    for bad in [
        vec![change(&a1, &joined, GroupEdge::Add, &[])],
        vec![change(b, &joined, GroupEdge::Remove, &[])],
        vec![unreflected],
        vec![join_b.clone(), join_b.clone()],
    ] {
        assert_eq!(
            s.update_group(&joined, &counted(&joined, &bad), &bad).await,
            conflict(Conflict::Stale)
        );
    }
    assert_eq!(
        s.update_group(&joined, &joined.clone(), std::slice::from_ref(&join_b))
            .await,
        conflict(Conflict::Stale),
        "member_count unchanged"
    );
    // Refused by the transaction: a stale membership; an entry that is not as the membership
    // says (made so behind the store's back): nothing moves.
    let stale_a = vec![change(a, &joined, GroupEdge::Keep, &[])];
    assert_eq!(
        s.update_group(&joined, &counted(&joined, &stale_a), &stale_a)
            .await,
        conflict(Conflict::Stale)
    );
    set_entry(&s, &joined, &b.user_id, true).await;
    let both = vec![change(&a1, &joined, GroupEdge::Keep, &[]), join_b.clone()];
    assert_eq!(
        s.update_group(&joined, &counted(&joined, &both), &both)
            .await,
        conflict(Conflict::Stale)
    );
    set_entry(&s, &joined, &b.user_id, false).await;
    set_entry(&s, &joined, &a.user_id, false).await;
    assert_eq!(
        s.update_group(&joined, &counted(&joined, &both), &both)
            .await,
        conflict(Conflict::Stale)
    );
    set_entry(&s, &joined, &a.user_id, true).await;
    assert_eq!(stored(&s, &a1).await, a1);
    assert_eq!(stored(&s, b).await, *b);
    // Another organization's member: nothing written.
    let other = new_org(&s).await;
    let stranger = members(&s, &other.org.id, 1).await.remove(0);
    let two = changed(&joined, |x| x.member_count = 3);
    assert_eq!(
        s.update_group(
            &joined,
            &two,
            &[
                join_b.clone(),
                change(&stranger, &joined, GroupEdge::Add, &[])
            ]
        )
        .await,
        conflict(Conflict::Stale)
    );
    assert_eq!(stored(&s, &stranger).await, stranger);
    assert_eq!(stored(&s, b).await, *b);
    assert_eq!(s.get_group(org, &g.id).await.unwrap(), Some(joined.clone()));
    let refs = s
        .list_group_members(org, &g.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(refs.items, vec![a.user_id.clone()]);

    // A member of a group cannot be removed; one who left can.
    assert_eq!(
        s.remove_member(&a1, &fx.owner.user_id).await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    // A group with members cannot be deleted.
    assert_eq!(s.delete_group(&joined).await, conflict(Conflict::Stale));
    let left = changed(&joined, |x| x.member_count = 0);
    s.update_group(
        &joined,
        &left,
        &[change(&a1, &joined, GroupEdge::Remove, &[])],
    )
    .await
    .unwrap();
    assert_eq!(s.delete_group(&joined).await, conflict(Conflict::Stale));
    s.delete_group(&left).await.unwrap();
    s.remove_member(&stored(&s, a).await, &fx.owner.user_id)
        .await
        .unwrap();
    // The name is free again.
    s.create_group(&group(org, "sales", vec![]), 2)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_last_manager_rule_holds_for_a_whole_group_change() {
    let Some(s) = store().await else { return };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let admin = vec![Assignment::org_wide(Role::OrganizationManager)];
    let g = group(org, "Admins", admin.clone());
    s.create_group(&g, 1000).await.unwrap();
    let a = members(&s, org, 1).await.remove(0);
    let g1 = changed(&g, |x| x.member_count = 1);
    let join_a = change(&a, &g, GroupEdge::Add, &admin);
    s.update_group(&g, &g1, std::slice::from_ref(&join_a))
        .await
        .unwrap();
    let a1 = after_of(&join_a);
    assert!(a1.is_active_org_manager());
    // The mapping loses the role while the owner (the other manager) joins without a direct
    // one: both managers go at once.
    let g2 = changed(&g1, |x| {
        x.assignments = vec![];
        x.member_count = 2;
    });
    let owner_out = fx.owner.clone().with_direct_assignments(vec![]);
    let both = [
        change(&a1, &g1, GroupEdge::Keep, &[]),
        GroupMemberChange {
            member_ref: fx.owner.user_id.clone(),
            edge: GroupEdge::Add,
            membership: MembershipWrite::Update {
                before: fx.owner.clone(),
                after: Membership {
                    version: fx.owner.version + 1,
                    ..owner_out.with_group(&g.id, &[])
                },
            },
        },
    ];
    assert_eq!(
        s.update_group(&g1, &g2, &both).await,
        Err(StoreError::Conflict(Conflict::LastOrganizationManager))
    );
    assert_eq!(stored(&s, &a1).await, a1, "nothing written");
    // One of them may go.
    let g2 = changed(&g1, |x| x.assignments = vec![]);
    s.update_group(&g1, &g2, &both[..1]).await.unwrap();
    assert!(!stored(&s, &a1).await.is_active_org_manager());
}

#[tokio::test]
async fn deleting_a_pool_drops_it_from_group_mappings_and_grants() {
    let Some(s) = own_store("grouppool").await else {
        return;
    };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let pool = pool_under(&fx.root, "Doomed", &fx.owner.user_id);
    s.create_pool(&pool, 100).await.unwrap();
    let keep = pool_under(&fx.root, "Kept", &fx.owner.user_id);
    s.create_pool(&keep, 100).await.unwrap();
    let on_pool = Assignment::on_pool(Role::Engineer, pool.id.clone());
    let on_keep = Assignment::on_pool(Role::Engineer, keep.id.clone());
    let grant = normal_form(vec![on_pool.clone(), on_keep.clone()]);
    let g = group(org, "Builders", vec![]);
    s.create_group(&g, 1000).await.unwrap();
    // One member had the pool directly, then lost it (its reference stays), and gains it again
    // through the group: two references lead to it.
    let twice = members(&s, org, 1).await.remove(0);
    let with = Membership {
        version: twice.version + 1,
        ..twice.clone().with_direct_assignments(vec![on_pool.clone()])
    };
    s.write_membership(&MembershipWrite::Update {
        before: twice.clone(),
        after: with.clone(),
    })
    .await
    .unwrap();
    let without = Membership {
        version: with.version + 1,
        ..with.clone().with_direct_assignments(vec![])
    };
    s.write_membership(&MembershipWrite::Update {
        before: with,
        after: without.clone(),
    })
    .await
    .unwrap();
    // 100 members through the group (three changes), the first with the mapping.
    let mut people = vec![without];
    people.extend(members(&s, org, 99).await);
    let mut current = g.clone();
    for (i, chunk) in people.chunks(GROUP_MEMBER_BATCH).enumerate() {
        let next = changed(&current, |x| {
            x.assignments = grant.clone();
            x.member_count += chunk.len() as u64;
        });
        let joins: Vec<GroupMemberChange> = chunk
            .iter()
            .map(|m| change(m, &current, GroupEdge::Add, &grant))
            .collect();
        s.reset_calls();
        s.update_group(&current, &next, &joins).await.unwrap();
        assert_eq!(s.calls().transact, 1, "change {i}");
        current = next;
    }
    s.reset_calls();
    s.delete_pool(&pool).await.unwrap();
    println!("delete_pool through a 100-member group: {:?}", s.calls());
    let now_group = s.get_group(org, &g.id).await.unwrap().unwrap();
    assert_eq!(now_group.assignments, vec![on_keep.clone()]);
    assert_eq!(now_group.version, current.version + 1);
    assert_eq!(
        s.find_group_by_name(org, "builders").await.unwrap(),
        Some(now_group.clone()),
        "the name claim's copy follows"
    );
    for m in &people {
        let m = stored(&s, m).await;
        assert_eq!(m.assignments, vec![on_keep.clone()], "{}", m.user_id);
        assert_eq!(m.groups[0].assignments, vec![on_keep.clone()]);
    }
    // A change read before the deletion is stale; one read after works.
    assert_eq!(
        s.update_group(&current, &changed(&current, |_| {}), &[])
            .await,
        Err(StoreError::Conflict(Conflict::Stale))
    );
    s.update_group(&now_group, &changed(&now_group, |_| {}), &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_ten_thousand_member_group_lists_in_two_queries() {
    let Some(s) = own_store("bigroup").await else {
        return;
    };
    let fx = new_org(&s).await;
    let org = &fx.org.id;
    let g = group(org, "Everyone", vec![]);
    s.create_group(&g, 1000).await.unwrap();
    // The entries only (keys, as update_group writes them), 25 per BatchWriteItem.
    let mut refs: Vec<UserId> = (0..10_000).map(|_| UserId::from_uuid(id())).collect();
    refs.sort();
    for chunk in refs.chunks(25) {
        let writes = chunk
            .iter()
            .map(|r| {
                let (pk, sk) = keys::group_member(org, &g.id, r);
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(
                        aws_sdk_dynamodb::types::PutRequest::builder()
                            .item(keys::PK, AttributeValue::S(pk))
                            .item(keys::SK, AttributeValue::S(sk))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let out = s
            .client()
            .batch_write_item()
            .request_items(s.table(), writes)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
    s.reset_calls();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .list_group_members(
                org,
                &g.id,
                &PageRequest {
                    limit: GROUP_MEMBER_PAGE,
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let c = s.calls();
    println!("list_group_members of 10,000: {pages} pages, {c:?}");
    // Small pages work too, and a cursor belongs to its group.
    let first = s
        .list_group_members(org, &g.id, &PageRequest::first(200))
        .await
        .unwrap();
    let other = group(org, "Nobody", vec![]);
    s.create_group(&other, 1000).await.unwrap();
    let foreign = s
        .list_group_members(
            org,
            &other.id,
            &PageRequest {
                limit: 10,
                cursor: first.next_cursor.clone(),
            },
        )
        .await;
    let second = s
        .list_group_members(
            org,
            &g.id,
            &PageRequest {
                limit: 200,
                cursor: first.next_cursor.clone(),
            },
        )
        .await
        .unwrap();
    // The emulator copies a table before each transaction on it and holds every other request
    // meanwhile: drop this table of 10,000 items before asserting, so nothing writes to it again.
    s.client()
        .delete_table()
        .table_name(s.table())
        .send()
        .await
        .unwrap();
    assert_eq!(seen, refs);
    assert_eq!(c, calls(0, 2, 0, 0, 0, 0), "two Query pages of 5,000");
    assert_eq!(first.items, refs[..200]);
    assert_eq!(foreign, Err(StoreError::InvalidCursor));
    assert_eq!(second.items, refs[200..400]);
}
