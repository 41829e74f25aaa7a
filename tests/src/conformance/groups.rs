//! Conformance cases of SCIM groups: group records, their displayName claims and counter, member
//! entries keyed by member_ref, and the memberships [`Store::update_group`] writes with them
//! (grants, effective assignments, the last-manager rule), plus what other operations
//! (`delete_pool`, `remove_member`, `link_member`) do to groups.

use super::{
    Arc, MemberFilter, Membership, MembershipWrite, PageRequest, Store, StoreError, StoreResult,
    add_member, add_pool, after_of, all_members, all_pages, conflict_of, ids_of_members, new_org,
    now, provision, provisioned, sorted, stored_person, updated, user_id, uuid,
};
use rollcall_domain::ids::{GroupId, OrgId, UserId};
use rollcall_domain::model::{Group, MemberStatus, group_name_key};
use rollcall_domain::ports::{Conflict, GroupEdge, GroupMemberChange};
use rollcall_domain::role::{Assignment, Role, normal_form};

// ====================================================================== helpers

/// A group value of `org` (not stored): empty, version 1, with an externalId.
pub fn group_value(org: &OrgId, name: &str, assignments: Vec<Assignment>) -> Group {
    let t = now();
    Group {
        org_id: org.clone(),
        id: GroupId::from_uuid(uuid()),
        display_name: name.to_owned(),
        external_id: Some(format!("ext-{}", uuid().simple())),
        assignments,
        member_count: 0,
        conflicts: Vec::new(),
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

/// Stores an empty group of `org` named `name` whose members get `assignments`.
pub async fn add_group(
    store: &Arc<dyn Store>,
    org: &OrgId,
    name: &str,
    assignments: Vec<Assignment>,
) -> Group {
    let g = group_value(org, name, assignments);
    store.create_group(&g, 1000).await.expect("create_group");
    g
}

/// A member change keyed by `member_ref`: `m` (as read) becomes `after` (with the next version).
pub fn member_change(
    member_ref: &UserId,
    edge: GroupEdge,
    m: &Membership,
    after: Membership,
) -> GroupMemberChange {
    GroupMemberChange {
        member_ref: member_ref.clone(),
        edge,
        membership: MembershipWrite::Update {
            before: m.clone(),
            after: Membership {
                version: m.version + 1,
                ..after
            },
        },
    }
}

/// `m` joins `g` (whose mapping it gets), keyed by its user id.
pub fn joins(m: &Membership, g: &Group) -> GroupMemberChange {
    let after = m.clone().with_group(&g.id, &g.assignments);
    member_change(&m.user_id, GroupEdge::Add, m, after)
}

/// `m` leaves `g`, keyed by its user id.
pub fn leaves(m: &Membership, g: &Group) -> GroupMemberChange {
    let after = m.clone().without_group(&g.id);
    member_change(&m.user_id, GroupEdge::Remove, m, after)
}

/// `m` stays in `g` and gets its (new) mapping, keyed by its user id.
pub fn keeps(m: &Membership, g: &Group) -> GroupMemberChange {
    let after = m.clone().with_group(&g.id, &g.assignments);
    member_change(&m.user_id, GroupEdge::Keep, m, after)
}

/// `before` changed by `change`, with the next version and the member count the changes make.
pub fn next_group(
    before: &Group,
    members: &[GroupMemberChange],
    change: impl FnOnce(&mut Group),
) -> Group {
    let count = |edge| members.iter().filter(|c| c.edge == edge).count() as u64;
    let mut after = before.clone();
    after.member_count =
        (before.member_count + count(GroupEdge::Add)).saturating_sub(count(GroupEdge::Remove));
    change(&mut after);
    after.version = before.version + 1;
    after.updated_at = now();
    after
}

/// Applies `members` and `change` to `before`; the group as stored.
pub async fn change_group(
    store: &Arc<dyn Store>,
    before: &Group,
    members: Vec<GroupMemberChange>,
    change: impl FnOnce(&mut Group),
) -> StoreResult<Group> {
    let after = next_group(before, &members, change);
    store.update_group(before, &after, &members).await?;
    Ok(after)
}

/// The stored membership of `user` in `org`.
async fn current(store: &Arc<dyn Store>, org: &OrgId, user: &UserId) -> Membership {
    store
        .get_membership(org, user)
        .await
        .unwrap()
        .expect("membership")
}

/// Every member ref of `g`, read `limit` at a time.
async fn refs_of(store: &Arc<dyn Store>, g: &Group, limit: usize) -> Vec<UserId> {
    all_pages(limit, |p| {
        let (s, org, id) = (store.clone(), g.org_id.clone(), g.id.clone());
        async move { s.list_group_members(&org, &id, &p).await }
    })
    .await
}

/// Every group of `org`, read `limit` at a time.
async fn groups_of(store: &Arc<dyn Store>, org: &OrgId, limit: usize) -> Vec<Group> {
    all_pages(limit, |p| {
        let (s, org) = (store.clone(), org.clone());
        async move { s.list_groups(&org, &p).await }
    })
    .await
}

/// Asserts that `g` is stored as given with exactly `refs` as entries, and each of `members` is
/// stored as given: what a refused group change must leave.
async fn unchanged(store: &Arc<dyn Store>, g: &Group, refs: &[UserId], members: &[&Membership]) {
    assert_eq!(
        store.get_group(&g.org_id, &g.id).await.unwrap().as_ref(),
        Some(g),
        "the group is unchanged"
    );
    assert_eq!(
        refs_of(store, g, 50).await,
        sorted(refs),
        "entries unchanged"
    );
    for m in members {
        assert_eq!(
            store.get_membership(&m.org_id, &m.user_id).await.unwrap(),
            Some((*m).clone()),
            "membership unchanged"
        );
    }
}

fn engineer_on(pool: &rollcall_domain::ids::PoolId) -> Assignment {
    Assignment::on_pool(Role::Engineer, pool.clone())
}

fn manager_on(pool: &rollcall_domain::ids::PoolId) -> Assignment {
    Assignment::on_pool(Role::Manager, pool.clone())
}

// ====================================================================== cases

/// Groups are created empty, read by id (singly and in batches), found by name key, listed by
/// id page by page and counted; another organization sees none of them; a missing organization
/// or a reused id is refused.
pub async fn group_create_get_find_list_count(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let other = new_org(&store).await;
    let org = fx.id();
    assert_eq!(store.count_groups(org).await.unwrap(), 0);
    assert!(groups_of(&store, org, 10).await.is_empty());

    let eng = add_group(&store, org, "Engineers", vec![]).await;
    let sales = add_group(&store, org, "Sales", vec![]).await;
    let ops = add_group(&store, org, "Ops", vec![]).await;
    let theirs = add_group(&store, other.id(), "Engineers", vec![]).await;

    assert_eq!(
        store.get_group(org, &eng.id).await.unwrap(),
        Some(eng.clone())
    );
    assert_eq!(store.get_group(other.id(), &eng.id).await.unwrap(), None);
    assert_eq!(
        store
            .get_group(org, &GroupId::from_uuid(uuid()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_groups(
                org,
                &[
                    ops.id.clone(),
                    GroupId::from_uuid(uuid()),
                    theirs.id.clone(),
                    eng.id.clone()
                ]
            )
            .await
            .unwrap(),
        vec![ops.clone(), eng.clone()],
        "in the order asked, missing and foreign ones left out"
    );
    assert!(store.get_groups(org, &[]).await.unwrap().is_empty());

    // By name key: case-insensitive and trimmed, per organization.
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("  ENGINEERS "))
            .await
            .unwrap(),
        Some(eng.clone())
    );
    assert_eq!(
        store
            .find_group_by_name(other.id(), &group_name_key("Engineers"))
            .await
            .unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("Nobody"))
            .await
            .unwrap(),
        None
    );

    // Listed by id, every page size.
    let mut want = vec![eng.clone(), sales.clone(), ops.clone()];
    want.sort_by(|a, b| a.id.cmp(&b.id));
    for limit in [1, 2, 50] {
        assert_eq!(groups_of(&store, org, limit).await, want, "limit {limit}");
    }
    assert_eq!(groups_of(&store, other.id(), 10).await, vec![theirs]);
    assert_eq!(store.count_groups(org).await.unwrap(), 3);
    assert_eq!(store.count_groups(other.id()).await.unwrap(), 1);
    assert_eq!(
        store.count_groups(&OrgId::from_uuid(uuid())).await.unwrap(),
        0
    );

    // A cursor of another list is refused.
    let first = store
        .list_groups(org, &PageRequest::first(1))
        .await
        .unwrap();
    let group_cursor = first.next_cursor.expect("a cursor after one of three");
    for cursor in ["garbage!".to_owned(), group_cursor] {
        let page = PageRequest {
            limit: 10,
            cursor: Some(cursor),
        };
        assert_eq!(
            store
                .list_group_members(org, &eng.id, &page)
                .await
                .map(|_| ()),
            Err(StoreError::InvalidCursor)
        );
    }

    // A missing organization; an id already used (under another name).
    let ghost = group_value(&OrgId::from_uuid(uuid()), "Ghosts", vec![]);
    assert_eq!(
        conflict_of(store.create_group(&ghost, 1000).await),
        Conflict::OrgMissing
    );
    assert_eq!(
        store.get_group(&ghost.org_id, &ghost.id).await.unwrap(),
        None
    );
    let reused = Group {
        display_name: "Another".into(),
        ..sales.clone()
    };
    assert_eq!(
        conflict_of(store.create_group(&reused, 1000).await),
        Conflict::Stale
    );
    assert_eq!(
        store.get_group(org, &sales.id).await.unwrap(),
        Some(sales.clone())
    );
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("Another"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_groups(org).await.unwrap(), 3);
}

/// displayName keys are unique per organization: on create and on rename; a case-only rename of
/// the group itself is fine; a renamed or deleted group's old name is free again.
pub async fn group_names_are_unique_per_org(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let other = new_org(&store).await;
    let org = fx.id();
    let eng = add_group(&store, org, "Engineers", vec![]).await;
    let sales = add_group(&store, org, "Sales", vec![]).await;

    let dup = group_value(org, " engineers ", vec![]);
    assert_eq!(
        conflict_of(store.create_group(&dup, 1000).await),
        Conflict::GroupNameTaken
    );
    assert_eq!(store.get_group(org, &dup.id).await.unwrap(), None);
    assert_eq!(store.count_groups(org).await.unwrap(), 2);
    // Another organization may use it.
    add_group(&store, other.id(), "Engineers", vec![]).await;

    // Renaming onto a taken name: nothing changes.
    let clash = next_group(&sales, &[], |g| g.display_name = "ENGINEERS".into());
    assert_eq!(
        conflict_of(store.update_group(&sales, &clash, &[]).await),
        Conflict::GroupNameTaken
    );
    unchanged(&store, &sales, &[], &[]).await;
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("engineers"))
            .await
            .unwrap(),
        Some(eng.clone())
    );

    // A case-only rename keeps the claim.
    let upper = change_group(&store, &eng, vec![], |g| {
        g.display_name = "ENGINEERS".into()
    })
    .await
    .unwrap();
    assert_eq!(
        store.get_group(org, &eng.id).await.unwrap(),
        Some(upper.clone())
    );
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("Engineers"))
            .await
            .unwrap(),
        Some(upper.clone())
    );

    // A real rename moves it: the old name is free, the new one is held.
    let platform = change_group(&store, &upper, vec![], |g| {
        g.display_name = "Platform".into()
    })
    .await
    .unwrap();
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("engineers"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("platform"))
            .await
            .unwrap(),
        Some(platform.clone())
    );
    assert_eq!(
        conflict_of(
            store
                .create_group(&group_value(org, "PLATFORM", vec![]), 1000)
                .await
        ),
        Conflict::GroupNameTaken
    );
    let again = add_group(&store, org, "Engineers", vec![]).await;
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("Engineers"))
            .await
            .unwrap(),
        Some(again)
    );

    // A deleted group's name is free again.
    store.delete_group(&sales).await.unwrap();
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("sales"))
            .await
            .unwrap(),
        None
    );
    add_group(&store, org, "sales", vec![]).await;
    assert_eq!(store.count_groups(org).await.unwrap(), 3);
}

/// `max_groups` counts every group of the organization; deleting frees a place.
pub async fn group_limit_counts_every_group(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let a = group_value(org, "A", vec![]);
    assert_eq!(
        conflict_of(store.create_group(&a, 0).await),
        Conflict::GroupLimit
    );
    store.create_group(&a, 1).await.unwrap();
    let b = group_value(org, "B", vec![]);
    assert_eq!(
        conflict_of(store.create_group(&b, 1).await),
        Conflict::GroupLimit
    );
    assert_eq!(store.get_group(org, &b.id).await.unwrap(), None);
    store.create_group(&b, 2).await.unwrap();
    // Another organization's groups do not count.
    let other = new_org(&store).await;
    store
        .create_group(&group_value(other.id(), "A", vec![]), 1)
        .await
        .unwrap();
    let c = group_value(org, "C", vec![]);
    assert_eq!(
        conflict_of(store.create_group(&c, 2).await),
        Conflict::GroupLimit
    );
    store.delete_group(&a).await.unwrap();
    store.create_group(&c, 2).await.unwrap();
    assert_eq!(store.count_groups(org).await.unwrap(), 2);
    assert_eq!(store.count_groups(other.id()).await.unwrap(), 1);
}

/// Adding, keeping (a new mapping) and removing members: the entries are listed in order, the
/// memberships are stored as written (groups, effective and direct assignments), member_count as
/// given; a role from a group is found by the member filters.
pub async fn group_update_adds_keeps_and_removes_members(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let p = add_pool(&store, &fx.root, "P", &fx.owner.user_id).await;
    let g = add_group(&store, org, "Engineers", vec![engineer_on(&p.id)]).await;
    let a = add_member(&store, org, vec![]).await;
    let b = add_member(&store, org, vec![manager_on(&p.id)]).await;
    let c = add_member(&store, org, vec![]).await;

    let changes = vec![joins(&c, &g), joins(&a, &g), joins(&b, &g)];
    let writes: Vec<Membership> = changes.iter().map(|ch| after_of(&ch.membership)).collect();
    let g1 = change_group(&store, &g, changes, |_| {}).await.unwrap();
    assert_eq!(g1.member_count, 3);
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), Some(g1.clone()));
    let refs = sorted(&[a.user_id.clone(), b.user_id.clone(), c.user_id.clone()]);
    for limit in [1, 2, 50] {
        assert_eq!(refs_of(&store, &g1, limit).await, refs, "limit {limit}");
    }
    for w in &writes {
        assert_eq!(&current(&store, org, &w.user_id).await, w, "as written");
    }
    let a1 = current(&store, org, &a.user_id).await;
    assert_eq!(a1.version, a.version + 1);
    assert_eq!(a1.assignments, vec![engineer_on(&p.id)]);
    assert_eq!(
        a1.direct_assignments(),
        &[Assignment::org_wide(Role::Member)]
    );
    assert!(a1.in_group(&g.id));
    let b1 = current(&store, org, &b.user_id).await;
    assert_eq!(
        b1.assignments,
        normal_form([engineer_on(&p.id), manager_on(&p.id)])
    );
    assert_eq!(b1.direct_assignments(), &[manager_on(&p.id)]);
    let c1 = current(&store, org, &c.user_id).await;
    assert_eq!(
        store
            .get_memberships(org, &[c.user_id.clone(), a.user_id.clone()])
            .await
            .unwrap(),
        vec![c1.clone(), a1.clone()]
    );

    // The role filters see roles that come from a group.
    let engineers = all_members(
        &store,
        org,
        &MemberFilter {
            role: Some(Role::Engineer),
            pool_id: Some(p.id.clone()),
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(ids_of_members(&engineers), refs);

    // A new mapping reaches every member (Keep): the entries stay, the grants change.
    let changes = vec![keeps(
        &a1,
        &Group {
            assignments: vec![manager_on(&p.id)],
            ..g1.clone()
        },
    )];
    let g2 = change_group(&store, &g1, changes, |g| {
        g.assignments = vec![manager_on(&p.id)]
    })
    .await
    .unwrap();
    assert_eq!(g2.member_count, 3);
    assert_eq!(g2.assignments, vec![manager_on(&p.id)]);
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), Some(g2.clone()));
    assert_eq!(refs_of(&store, &g2, 50).await, refs);
    let a2 = current(&store, org, &a.user_id).await;
    assert_eq!(a2.assignments, vec![manager_on(&p.id)]);
    assert_eq!(
        a2.group_grant(&g.id).map(|gr| gr.assignments.clone()),
        Some(vec![manager_on(&p.id)])
    );
    // b and c were not in this batch: their grants are the old mapping until a later batch.
    assert_eq!(current(&store, org, &b.user_id).await, b1);
    let changes = vec![keeps(&b1, &g2), keeps(&c1, &g2)];
    let g3 = change_group(&store, &g2, changes, |_| {}).await.unwrap();
    let b2 = current(&store, org, &b.user_id).await;
    assert_eq!(b2.assignments, vec![manager_on(&p.id)]);
    assert_eq!(b2.direct_assignments(), &[manager_on(&p.id)]);

    // Removing one: the entry goes, the membership is back to its direct assignments.
    let g4 = change_group(&store, &g3, vec![leaves(&b2, &g3)], |_| {})
        .await
        .unwrap();
    assert_eq!(g4.member_count, 2);
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), Some(g4.clone()));
    assert_eq!(
        refs_of(&store, &g4, 1).await,
        sorted(&[a.user_id.clone(), c.user_id.clone()])
    );
    let b3 = current(&store, org, &b.user_id).await;
    assert!(b3.groups.is_empty());
    assert_eq!(b3.assignments, vec![manager_on(&p.id)]);
    assert_eq!(b3.direct_assignments, None);

    // A change of the group alone (no member) bumps its version.
    let g5 = change_group(&store, &g4, vec![], |g| {
        g.external_id = Some("new-external-id".into())
    })
    .await
    .unwrap();
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), Some(g5.clone()));
    assert_eq!(g5.version, g.version + 5);
}

/// Every failed condition of a group change writes nothing at all: a stale group, a membership
/// of another organization, an entry to add that exists, one to remove or keep that does not, a
/// stale membership, even when the other changes of the batch are fine.
pub async fn group_update_conditions_write_nothing(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let g = add_group(&store, org, "Team", vec![]).await;
    let a = add_member(&store, org, vec![]).await;
    let b = add_member(&store, org, vec![]).await;
    let g1 = change_group(&store, &g, vec![joins(&a, &g)], |_| {})
        .await
        .unwrap();
    let a1 = current(&store, org, &a.user_id).await;
    let refs = vec![a.user_id.clone()];

    // The group read before the last change.
    assert_eq!(
        conflict_of(change_group(&store, &g, vec![joins(&b, &g)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;
    // A version from the future.
    let future = Group {
        version: g1.version + 3,
        ..g1.clone()
    };
    assert_eq!(
        conflict_of(change_group(&store, &future, vec![joins(&b, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;

    // A membership of another organization: a group never writes it (tenant isolation).
    let elsewhere = new_org(&store).await;
    let foreign = add_member(&store, elsewhere.id(), vec![]).await;
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![joins(&foreign, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b, &foreign]).await;
    // Even with the other organization's id written into the membership's org.
    let disguised = Membership {
        org_id: org.clone(),
        ..foreign.clone()
    };
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![joins(&disguised, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b, &foreign]).await;
    // Another organization's group cannot take this organization's members either.
    let theirs = add_group(&store, elsewhere.id(), "Theirs", vec![]).await;
    assert_eq!(
        conflict_of(change_group(&store, &theirs, vec![joins(&b, &theirs)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &theirs, &[], &[&b]).await;

    // Adding an entry that exists (a member already in), with a fine change beside it.
    let twice = member_change(&a.user_id, GroupEdge::Add, &a1, a1.clone());
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![joins(&b, &g1), twice], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;
    // Removing or keeping one that is not in the group.
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![leaves(&b, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![keeps(&b, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;

    // A membership read before its last change, after a fine change in the batch.
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![joins(&b, &g1), leaves(&a, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;
    // The same membership twice in one batch: the second write is stale.
    assert_eq!(
        conflict_of(
            change_group(
                &store,
                &g1,
                vec![leaves(&a1, &g1), leaves(&a1, &g1)],
                |_| {}
            )
            .await
        ),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;
    // A membership that does not exist.
    let ghost = super::membership(org, &user_id(), super::email("ghost"), vec![]);
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![joins(&ghost, &g1)], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, &refs, &[&a1, &b]).await;

    // The same batch from current reads goes through.
    let g2 = change_group(&store, &g1, vec![joins(&b, &g1), leaves(&a1, &g1)], |_| {})
        .await
        .unwrap();
    assert_eq!(refs_of(&store, &g2, 50).await, vec![b.user_id.clone()]);
    assert_eq!(g2.member_count, 1);
}

/// The store refuses (as `Stale`) a group change whose parts do not describe one consistent
/// change: a member_ref that does not name the written member, an edge the membership write does
/// not make, a member_count that does not follow the edges, another group's id; and a
/// membership write outside `update_group` that changes the member's groups.
pub async fn group_update_refuses_inconsistent_changes(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let g = add_group(&store, org, "Team", vec![]).await;
    let a = add_member(&store, org, vec![]).await;
    let b = add_member(&store, org, vec![]).await;

    // member_ref naming another member, or nobody.
    let joined = a.clone().with_group(&g.id, &g.assignments);
    for wrong in [b.user_id.clone(), user_id()] {
        let change = member_change(&wrong, GroupEdge::Add, &a, joined.clone());
        assert_eq!(
            conflict_of(change_group(&store, &g, vec![change], |_| {}).await),
            Conflict::Stale
        );
        unchanged(&store, &g, &[], &[&a, &b]).await;
    }
    // An Add whose membership write does not put the member in the group; a Remove that keeps
    // them in.
    let renamed = Membership {
        name: Some("Renamed".into()),
        ..a.clone()
    };
    let change = member_change(&a.user_id, GroupEdge::Add, &a, renamed);
    assert_eq!(
        conflict_of(change_group(&store, &g, vec![change], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g, &[], &[&a, &b]).await;
    // A member_count that does not follow the edges.
    let changes = vec![joins(&a, &g)];
    let wrong_count = next_group(&g, &changes, |g| g.member_count = 5);
    assert_eq!(
        conflict_of(store.update_group(&g, &wrong_count, &changes).await),
        Conflict::Stale
    );
    unchanged(&store, &g, &[], &[&a, &b]).await;
    // `after` of another group.
    let other = add_group(&store, org, "Other", vec![]).await;
    let swapped = next_group(&g, &changes, |after| after.id = other.id.clone());
    assert_eq!(
        conflict_of(store.update_group(&g, &swapped, &changes).await),
        Conflict::Stale
    );
    unchanged(&store, &g, &[], &[&a, &b]).await;
    unchanged(&store, &other, &[], &[]).await;

    let g1 = change_group(&store, &g, changes, |_| {}).await.unwrap();
    let a1 = current(&store, org, &a.user_id).await;
    let keep_out = member_change(&a.user_id, GroupEdge::Remove, &a1, a1.clone());
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![keep_out], |_| {}).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, std::slice::from_ref(&a.user_id), &[&a1]).await;

    // Groups change only with their entries: not through write_membership.
    let sneaked = updated(&b, |m| *m = m.clone().with_group(&g.id, &[]));
    assert_eq!(
        conflict_of(store.write_membership(&sneaked).await),
        Conflict::Stale
    );
    let dropped = updated(&a1, |m| *m = m.clone().without_group(&g.id));
    assert_eq!(
        conflict_of(store.write_membership(&dropped).await),
        Conflict::Stale
    );
    let born_in =
        super::membership(org, &user_id(), super::email("born"), vec![]).with_group(&g.id, &[]);
    assert_eq!(
        conflict_of(
            store
                .write_membership(&MembershipWrite::Create(born_in.clone()))
                .await
        ),
        Conflict::Stale
    );
    assert_eq!(
        store.get_membership(org, &born_in.user_id).await.unwrap(),
        None
    );
    unchanged(&store, &g1, std::slice::from_ref(&a.user_id), &[&a1, &b]).await;
    // Other changes of a member in a group are fine and keep the group.
    let renamed = updated(&a1, |m| m.name = Some("Still in".into()));
    store.write_membership(&renamed).await.unwrap();
    assert!(current(&store, org, &a.user_id).await.in_group(&g.id));
}

/// The last-manager rule holds over a whole group change and follows effective assignments: a
/// manager through a group counts; a change that removes the last one (leaving, or a new
/// mapping) writes nothing; writes that together keep one go through in any order.
pub async fn group_update_keeps_an_org_manager(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let admins = add_group(
        &store,
        org,
        "Admins",
        vec![Assignment::org_wide(Role::OrganizationManager)],
    )
    .await;
    let m = add_member(&store, org, vec![]).await;
    let admins1 = change_group(&store, &admins, vec![joins(&m, &admins)], |_| {})
        .await
        .unwrap();
    let m1 = current(&store, org, &m.user_id).await;
    assert!(m1.is_active_org_manager(), "a manager through the group");
    assert_eq!(
        m1.direct_assignments(),
        &[Assignment::org_wide(Role::Member)]
    );
    let managers = all_members(
        &store,
        org,
        &MemberFilter {
            role: Some(Role::OrganizationManager),
            ..Default::default()
        },
        50,
    )
    .await;
    assert_eq!(
        ids_of_members(&managers),
        sorted(&[fx.owner.user_id.clone(), m.user_id.clone()])
    );

    // The group's manager counts: the owner may step down.
    let demote = updated(&fx.owner, |o| {
        *o = o
            .clone()
            .with_direct_assignments(vec![Assignment::org_wide(Role::Member)])
    });
    store.write_membership(&demote).await.unwrap();
    let owner1 = after_of(&demote);
    assert!(!owner1.is_active_org_manager());

    // Leaving the group now would leave no manager.
    assert_eq!(
        conflict_of(change_group(&store, &admins1, vec![leaves(&m1, &admins1)], |_| {}).await),
        Conflict::LastOrganizationManager
    );
    unchanged(
        &store,
        &admins1,
        std::slice::from_ref(&m.user_id),
        &[&m1, &owner1],
    )
    .await;
    // So would a mapping without the role.
    let plain = Group {
        assignments: vec![],
        ..admins1.clone()
    };
    assert_eq!(
        conflict_of(
            change_group(&store, &admins1, vec![keeps(&m1, &plain)], |g| g
                .assignments =
                vec![])
            .await
        ),
        Conflict::LastOrganizationManager
    );
    unchanged(
        &store,
        &admins1,
        std::slice::from_ref(&m.user_id),
        &[&m1, &owner1],
    )
    .await;
    // And suspending the member who is a manager only through the group.
    let suspend = updated(&m1, |x| x.status = MemberStatus::Suspended);
    assert_eq!(
        conflict_of(store.write_membership(&suspend).await),
        Conflict::LastOrganizationManager
    );

    // Together: the only manager leaves and another joins, the leaving written first.
    let admins2 = change_group(
        &store,
        &admins1,
        vec![leaves(&m1, &admins1), joins(&owner1, &admins1)],
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        refs_of(&store, &admins2, 50).await,
        vec![fx.owner.user_id.clone()]
    );
    let m2 = current(&store, org, &m.user_id).await;
    assert!(!m2.is_active_org_manager());
    assert!(m2.groups.is_empty());
    let owner2 = current(&store, org, &fx.owner.user_id).await;
    assert!(owner2.is_active_org_manager());
    // The counter followed: the owner is now the last manager.
    let suspend = updated(&owner2, |x| x.status = MemberStatus::Suspended);
    assert_eq!(
        conflict_of(store.write_membership(&suspend).await),
        Conflict::LastOrganizationManager
    );
    // A second manager through the group: now one may go.
    let admins3 = change_group(&store, &admins2, vec![joins(&m2, &admins2)], |_| {})
        .await
        .unwrap();
    let m3 = current(&store, org, &m.user_id).await;
    change_group(&store, &admins3, vec![leaves(&m3, &admins3)], |_| {})
        .await
        .unwrap();
}

/// A group is deleted only when empty and at its version; its name and its place in the count
/// are free again; a deleted group cannot be changed.
pub async fn group_delete_rules(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let g = add_group(&store, org, "Doomed", vec![]).await;
    let kept = add_group(&store, org, "Kept", vec![]).await;
    let a = add_member(&store, org, vec![]).await;
    let g1 = change_group(&store, &g, vec![joins(&a, &g)], |_| {})
        .await
        .unwrap();
    let a1 = current(&store, org, &a.user_id).await;

    assert_eq!(conflict_of(store.delete_group(&g1).await), Conflict::Stale);
    assert_eq!(conflict_of(store.delete_group(&g).await), Conflict::Stale);
    // An empty value at the member's version is still not empty.
    let claimed_empty = Group {
        member_count: 0,
        ..g1.clone()
    };
    assert_eq!(
        conflict_of(store.delete_group(&claimed_empty).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, std::slice::from_ref(&a.user_id), &[&a1]).await;
    assert_eq!(store.count_groups(org).await.unwrap(), 2);

    let g2 = change_group(&store, &g1, vec![leaves(&a1, &g1)], |_| {})
        .await
        .unwrap();
    assert_eq!(g2.member_count, 0);
    assert_eq!(conflict_of(store.delete_group(&g1).await), Conflict::Stale);
    store.delete_group(&g2).await.unwrap();
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_group_by_name(org, &group_name_key("doomed"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_groups(org).await.unwrap(), 1);
    assert_eq!(groups_of(&store, org, 10).await, vec![kept.clone()]);
    assert!(refs_of(&store, &g2, 10).await.is_empty());
    assert_eq!(conflict_of(store.delete_group(&g2).await), Conflict::Stale);
    // A deleted group cannot be changed or filled again.
    let a2 = current(&store, org, &a.user_id).await;
    assert_eq!(
        conflict_of(change_group(&store, &g2, vec![joins(&a2, &g2)], |_| {}).await),
        Conflict::Stale
    );
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), None);
    assert_eq!(current(&store, org, &a.user_id).await, a2);
    // Its name is free.
    add_group(&store, org, "DOOMED", vec![]).await;
    assert_eq!(store.count_groups(org).await.unwrap(), 2);
}

/// Deleting a pool drops assignments on it from group mappings and from members' grants and
/// direct assignments; versions move, so reads from before are stale.
pub async fn group_delete_pool_drops_group_assignments(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let owner = &fx.owner.user_id;
    let p = add_pool(&store, &fx.root, "Doomed", owner).await;
    let q = add_pool(&store, &fx.root, "Kept", owner).await;
    let g = add_group(
        &store,
        org,
        "Both",
        vec![engineer_on(&p.id), manager_on(&q.id)],
    )
    .await;
    let h = add_group(&store, org, "OnlyP", vec![engineer_on(&p.id)]).await;
    let a = add_member(&store, org, vec![manager_on(&p.id)]).await;
    let b = add_member(&store, org, vec![]).await;
    let g1 = change_group(&store, &g, vec![joins(&a, &g)], |_| {})
        .await
        .unwrap();
    let h1 = change_group(&store, &h, vec![joins(&b, &h)], |_| {})
        .await
        .unwrap();
    let a1 = current(&store, org, &a.user_id).await;
    let b1 = current(&store, org, &b.user_id).await;

    store.delete_pool(&p).await.unwrap();

    let g2 = store.get_group(org, &g.id).await.unwrap().unwrap();
    assert_eq!(g2.assignments, vec![manager_on(&q.id)]);
    assert!(
        g2.version > g1.version,
        "the group changed, so its version did"
    );
    assert_eq!(
        Group {
            assignments: g1.assignments.clone(),
            version: g1.version,
            updated_at: g1.updated_at,
            ..g2.clone()
        },
        g1,
        "nothing else changed"
    );
    let h2 = store.get_group(org, &h.id).await.unwrap().unwrap();
    assert!(h2.assignments.is_empty(), "{:?}", h2.assignments);
    assert!(h2.version > h1.version);

    let a2 = current(&store, org, &a.user_id).await;
    assert!(a2.version > a1.version);
    assert_eq!(
        a2,
        Membership {
            version: a2.version,
            ..a1.without_pool(&p.id).unwrap()
        }
    );
    assert_eq!(a2.assignments, vec![manager_on(&q.id)]);
    assert_eq!(
        a2.direct_assignments(),
        &[Assignment::org_wide(Role::Member)]
    );
    assert_eq!(
        a2.group_grant(&g.id).map(|gr| gr.assignments.clone()),
        Some(vec![manager_on(&q.id)])
    );
    let b2 = current(&store, org, &b.user_id).await;
    assert_eq!(b2.assignments, vec![Assignment::org_wide(Role::Member)]);
    assert_eq!(
        b2.group_grant(&h.id).map(|gr| gr.assignments.clone()),
        Some(vec![])
    );
    assert!(b2.in_group(&h.id), "still in the group");
    assert_eq!(refs_of(&store, &h2, 10).await, vec![b.user_id.clone()]);
    let on_p = MemberFilter {
        pool_id: Some(p.id.clone()),
        ..Default::default()
    };
    assert!(all_members(&store, org, &on_p, 50).await.is_empty());

    // Reads from before the deletion are stale.
    assert_eq!(
        conflict_of(change_group(&store, &g1, vec![], |_| {}).await),
        Conflict::Stale
    );
    assert_eq!(
        conflict_of(change_group(&store, &h2, vec![leaves(&b1, &h2)], |_| {}).await),
        Conflict::Stale
    );
    // From current ones, leaving works.
    change_group(&store, &h2, vec![leaves(&b2, &h2)], |_| {})
        .await
        .unwrap();
}

/// A member in a group cannot be removed (`Stale`, nothing changes); once they left, they can.
pub async fn remove_member_needs_a_member_out_of_every_group(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let g = add_group(&store, org, "Team", vec![]).await;
    let a = add_member(&store, org, vec![]).await;
    let g1 = change_group(&store, &g, vec![joins(&a, &g)], |_| {})
        .await
        .unwrap();
    let a1 = current(&store, org, &a.user_id).await;
    let members = store.count_memberships(org).await.unwrap();
    assert_eq!(
        conflict_of(store.remove_member(&a1, &fx.owner.user_id).await),
        Conflict::Stale
    );
    unchanged(&store, &g1, std::slice::from_ref(&a.user_id), &[&a1]).await;
    assert_eq!(store.count_memberships(org).await.unwrap(), members);

    let g2 = change_group(&store, &g1, vec![leaves(&a1, &g1)], |_| {})
        .await
        .unwrap();
    let a2 = current(&store, org, &a.user_id).await;
    store.remove_member(&a2, &fx.owner.user_id).await.unwrap();
    assert_eq!(store.get_membership(org, &a.user_id).await.unwrap(), None);
    assert_eq!(store.count_memberships(org).await.unwrap(), members - 1);
    assert!(refs_of(&store, &g2, 10).await.is_empty());
}

/// Linking a placeholder keeps its groups in the moved membership and the group's entry keyed
/// by the SCIM id the identity provider knows (the placeholder's); that ref still names the
/// member, so the member can leave by it and then be removed.
pub async fn link_member_keeps_groups_and_entries(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let p = add_pool(&store, &fx.root, "P", &fx.owner.user_id).await;
    let g = add_group(&store, org, "Team", vec![engineer_on(&p.id)]).await;
    let placeholder = provisioned(org);
    provision(&store, &placeholder).await.unwrap();
    let scim_id = placeholder.record.resource_id().clone();
    assert_eq!(scim_id, placeholder.user.id);
    let g1 = change_group(&store, &g, vec![joins(&placeholder.membership, &g)], |_| {})
        .await
        .unwrap();
    let before = current(&store, org, &placeholder.user.id).await;
    let person = stored_person(&store, placeholder.user.email.clone()).await;

    let moved = store
        .link_member(&placeholder.user, &before, &person)
        .await
        .unwrap();
    assert_eq!(moved.groups, before.groups);
    assert_eq!(moved.assignments, before.assignments);
    assert_eq!(moved.direct_assignments, before.direct_assignments);
    assert_eq!(store.get_group(org, &g.id).await.unwrap(), Some(g1.clone()));
    assert_eq!(refs_of(&store, &g1, 10).await, vec![scim_id.clone()]);
    assert_eq!(
        store
            .get_memberships(org, &[placeholder.user.id.clone(), person.id.clone()])
            .await
            .unwrap(),
        vec![moved.clone()]
    );
    let engineers = all_members(
        &store,
        org,
        &MemberFilter {
            role: Some(Role::Engineer),
            ..Default::default()
        },
        50,
    )
    .await;
    assert_eq!(ids_of_members(&engineers), vec![person.id.clone()]);

    // In the group already: adding the person again under their own id is stale.
    assert_eq!(
        conflict_of(
            change_group(
                &store,
                &g1,
                vec![member_change(
                    &person.id,
                    GroupEdge::Add,
                    &moved,
                    moved.clone().with_group(&g.id, &g.assignments)
                )],
                |_| {}
            )
            .await
        ),
        Conflict::Stale
    );
    assert_eq!(
        conflict_of(store.remove_member(&moved, &fx.owner.user_id).await),
        Conflict::Stale
    );

    // Leaving by the SCIM id, then removal.
    let leave = member_change(
        &scim_id,
        GroupEdge::Remove,
        &moved,
        moved.clone().without_group(&g.id),
    );
    let g2 = change_group(&store, &g1, vec![leave], |_| {})
        .await
        .unwrap();
    assert!(refs_of(&store, &g2, 10).await.is_empty());
    let left = current(&store, org, &person.id).await;
    assert!(left.groups.is_empty());
    store.remove_member(&left, &fx.owner.user_id).await.unwrap();
    assert_eq!(store.find_scim_alias(org, &scim_id).await.unwrap(), None);
}

/// Memberships in batches: in the order asked, missing ones and other organizations' left out.
pub async fn get_memberships_in_the_order_asked(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let a = add_member(&store, org, vec![]).await;
    let b = add_member(&store, org, vec![]).await;
    let elsewhere = new_org(&store).await;
    let foreign = add_member(&store, elsewhere.id(), vec![]).await;
    let got = store
        .get_memberships(
            org,
            &[
                b.user_id.clone(),
                user_id(),
                foreign.user_id.clone(),
                fx.owner.user_id.clone(),
                a.user_id.clone(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(got, vec![b, fx.owner.clone(), a]);
    assert!(store.get_memberships(org, &[]).await.unwrap().is_empty());
}

/// Of concurrent creates of one name (in any case), exactly one wins; the others write nothing.
pub async fn group_concurrent_creates_of_one_name_have_one_winner(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let names = ["Team", "TEAM", "team", " Team ", "tEaM", "Team"];
    let candidates: Vec<Group> = names.iter().map(|n| group_value(org, n, vec![])).collect();
    let results = futures_util::future::join_all(candidates.iter().map(|g| {
        let store = store.clone();
        let g = g.clone();
        async move { store.create_group(&g, 1000).await }
    }))
    .await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(conflict_of(r.clone()), Conflict::GroupNameTaken);
    }
    assert_eq!(store.count_groups(org).await.unwrap(), 1);
    assert_eq!(
        groups_of(&store, org, 10).await,
        vec![candidates[winners[0]].clone()]
    );
}

/// Two group changes that each remove one of the last two organization managers, at once: one
/// goes through, the other is refused, and a manager is left.
pub async fn group_changes_racing_for_the_last_manager_leave_one(store: Arc<dyn Store>) {
    let fx = new_org(&store).await;
    let org = fx.id();
    let manager = vec![Assignment::org_wide(Role::OrganizationManager)];
    let mut sides = Vec::new();
    for name in ["Left", "Right"] {
        let g = add_group(&store, org, name, manager.clone()).await;
        let m = add_member(&store, org, vec![]).await;
        let g1 = change_group(&store, &g, vec![joins(&m, &g)], |_| {})
            .await
            .unwrap();
        sides.push((g1, m.user_id.clone()));
    }
    // The owner steps down: the two group members are the managers.
    let demote = updated(&fx.owner, |o| {
        *o = o
            .clone()
            .with_direct_assignments(vec![Assignment::org_wide(Role::Member)])
    });
    store.write_membership(&demote).await.unwrap();
    let mut changes = Vec::new();
    for (g, user) in &sides {
        let m = current(&store, org, user).await;
        changes.push((g.clone(), leaves(&m, g)));
    }
    let results = futures_util::future::join_all(changes.into_iter().map(|(g, c)| {
        let store = store.clone();
        async move { change_group(&store, &g, vec![c], |_| {}).await }
    }))
    .await;
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(conflict_of(r.clone()), Conflict::LastOrganizationManager);
    }
    let managers = all_members(
        &store,
        org,
        &MemberFilter {
            role: Some(Role::OrganizationManager),
            status: Some(MemberStatus::Active),
            ..Default::default()
        },
        50,
    )
    .await;
    assert_eq!(managers.len(), 1, "one manager is left");
}
