//! Groups and roles through the use cases on the embedded store: effective assignments follow
//! joining, leaving, mapping changes, pool and group deletion; the last-manager rule keeps the
//! organization managed while the identity provider's request succeeds; one organization's SCIM
//! never reaches another's members or groups.

use rollcall_domain::ids::{OrgId, PoolId, ScimTokenId};
use rollcall_domain::model::{Group, Membership};
use rollcall_domain::ports::{OsRandomness, SystemClock};
use rollcall_domain::service::{
    Caller, Claims, CreatePoolRequest, GroupAttributes, MemberOp, ScimMemberCommand, ScimOrg,
    Service, ServiceConfig,
};
use rollcall_domain::{Assignment, Email, ErrorCode, ErrorKind, Role};
use rollcall_store_embedded::EmbeddedStore;
use rollcall_tests::mail::NoMail;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

struct World {
    service: Service,
    owner: Caller,
    org: OrgId,
    scim: ScimOrg,
}

async fn world(store: Arc<EmbeddedStore>, owner_email: &str) -> World {
    let service = Service::new(
        store,
        Arc::new(NoMail),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceConfig {
            accept_url: "https://app.test/accept".into(),
        },
    );
    let owner = service
        .identify(
            &Claims {
                sub: format!("sub|{owner_email}"),
                email: Some(owner_email.into()),
                email_verified: true,
                name: None,
            },
            &rollcall_domain::audit::RequestMeta::default(),
        )
        .await
        .unwrap();
    let org = service.create_org(&owner, "Org").await.unwrap().id;
    let scim = ScimOrg {
        org_id: org.clone(),
        token_id: ScimTokenId::from_uuid(Uuid::now_v7()),
        request: Default::default(),
    };
    World {
        service,
        owner,
        org,
        scim,
    }
}

impl World {
    async fn provision(&self, email: &str) -> String {
        let m = self
            .service
            .scim_provision(
                &self.scim,
                &ScimMemberCommand {
                    user_name: Some(email.into()),
                    email: Email::parse(email),
                    name: None,
                    phone: None,
                    external_id: None,
                    active: Some(true),
                    resource: json!({"userName": email}),
                },
            )
            .await
            .unwrap();
        m.membership.user_id.to_string()
    }

    async fn member(&self, id: &str) -> Membership {
        let user = rollcall_domain::ids::UserId::parse(id).unwrap();
        self.service
            .get_member(&self.owner, &self.org, &user)
            .await
            .unwrap()
    }

    async fn group(&self, name: &str, members: &[&String]) -> Group {
        self.service
            .scim_create_group(
                &self.scim,
                GroupAttributes {
                    display_name: Some(name.into()),
                    external_id: None,
                },
                members.iter().map(|m| m.to_string()).collect(),
            )
            .await
            .unwrap()
    }

    async fn change(&self, group: &Group, ops: Vec<MemberOp>) -> Group {
        self.service
            .scim_update_group(
                &self.scim,
                group.id.as_str(),
                GroupAttributes::default(),
                &ops,
            )
            .await
            .unwrap()
    }

    async fn map(&self, group: &Group, assignments: Vec<Assignment>) -> Group {
        self.service
            .set_group_assignments(&self.owner, &self.org, group.id.as_str(), &assignments)
            .await
            .unwrap()
    }

    async fn pool(&self, name: &str) -> PoolId {
        self.service
            .create_pool(
                &self.owner,
                &self.org,
                &CreatePoolRequest {
                    name: name.into(),
                    parent_id: None,
                    owner_id: None,
                },
            )
            .await
            .unwrap()
            .id
    }
}

#[tokio::test]
async fn effective_roles_follow_group_changes() {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    let w = world(store.clone(), "owner@roles.test").await;
    let research = w.pool("Research").await;
    let ops = w.pool("Ops").await;
    let ann = w.provision("ann@roles.test").await;
    let bob = w.provision("bob@roles.test").await;
    let eng = Assignment::on_pool(Role::Engineer, research.clone());
    let mgr = Assignment::on_pool(Role::Manager, research.clone());
    let direct = Assignment::on_pool(Role::Engineer, ops.clone());
    // Bob has a direct role that groups never touch.
    w.service
        .replace_assignments(
            &w.owner,
            &w.org,
            &w.member(&bob).await.user_id,
            std::slice::from_ref(&direct),
        )
        .await
        .unwrap();

    let g = w.group("Engineering", &[&ann]).await;
    assert_eq!(g.member_count, 1);
    assert_eq!(
        w.member(&ann).await.assignments,
        vec![Assignment::org_wide(Role::Member)]
    );

    let g = w.map(&g, vec![eng.clone()]).await;
    let a = w.member(&ann).await;
    assert_eq!(a.assignments, vec![eng.clone()]);
    assert_eq!(a.direct_assignments(), [Assignment::org_wide(Role::Member)]);
    assert_eq!(a.groups[0].group_id, g.id);

    let g = w.change(&g, vec![MemberOp::Add(vec![bob.clone()])]).await;
    assert_eq!(g.member_count, 2);
    let b = w.member(&bob).await;
    assert_eq!(
        b.assignments,
        rollcall_domain::role::normal_form([direct.clone(), eng.clone()])
    );
    assert_eq!(b.direct_assignments(), std::slice::from_ref(&direct));

    // A new mapping reaches every member.
    let g = w.map(&g, vec![mgr.clone()]).await;
    assert_eq!(w.member(&ann).await.assignments, vec![mgr.clone()]);
    assert_eq!(
        w.member(&bob).await.assignments,
        rollcall_domain::role::normal_form([direct.clone(), mgr.clone()])
    );

    // Leaving takes the group's roles away and keeps the direct ones.
    let g = w
        .change(&g, vec![MemberOp::Remove(vec![bob.clone()])])
        .await;
    let b = w.member(&bob).await;
    assert_eq!(b.assignments, vec![direct.clone()]);
    assert!(b.groups.is_empty());

    // Deleting the pool drops it from the mapping and from the members' grants.
    w.service
        .delete_pool(&w.owner, &w.org, &research)
        .await
        .unwrap();
    let g = w.service.group(&w.org, g.id.as_str()).await.unwrap();
    assert!(g.assignments.is_empty(), "{g:?}");
    let a = w.member(&ann).await;
    assert_eq!(a.assignments, vec![Assignment::org_wide(Role::Member)]);
    assert_eq!(a.groups.len(), 1);

    // Deleting the group: its members leave it.
    w.service
        .scim_delete_group(&w.scim, g.id.as_str())
        .await
        .unwrap();
    assert!(w.member(&ann).await.groups.is_empty());
    let problems = store.check_integrity().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_group_change_never_removes_the_last_organization_manager() {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    let w = world(store.clone(), "owner@last.test").await;
    let xena = w.provision("xena@last.test").await;
    let admins = w.group("Admins", &[&xena]).await;
    let admins = w
        .map(
            &admins,
            vec![Assignment::org_wide(Role::OrganizationManager)],
        )
        .await;
    assert!(w.member(&xena).await.is_active_org_manager());
    // The owner steps down: Xena, through the group, is now the only organization manager.
    let owner_id = w.owner.user.id.clone();
    w.service
        .replace_assignments(&w.owner, &w.org, &owner_id, &[])
        .await
        .unwrap();

    // The identity provider takes Xena out of the group: the request succeeds, Xena keeps the
    // role as a direct one, and the group records the conflict for the managers.
    let after = w
        .change(&admins, vec![MemberOp::Remove(vec![xena.clone()])])
        .await;
    assert_eq!(after.member_count, 0);
    let x = w.member(&xena).await;
    assert!(x.groups.is_empty());
    assert!(x.is_active_org_manager(), "{x:?}");
    assert_eq!(
        x.direct_assignments(),
        [Assignment::org_wide(Role::OrganizationManager)]
    );
    assert_eq!(after.conflicts.len(), 1);
    assert_eq!(after.conflicts[0].user_id, x.user_id);

    let problems = store.check_integrity().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_mapping_change_never_removes_the_last_organization_manager() {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    let w = world(store.clone(), "owner@mapping.test").await;
    let xena = w.provision("xena@mapping.test").await;
    let admins = w.group("Admins", &[&xena]).await;
    let admins = w
        .map(
            &admins,
            vec![Assignment::org_wide(Role::OrganizationManager)],
        )
        .await;
    let owner_id = w.owner.user.id.clone();
    w.service
        .replace_assignments(&w.owner, &w.org, &owner_id, &[])
        .await
        .unwrap();
    // Xena, the only organization manager (through the group), empties the group's mapping.
    let x = w.member(&xena).await;
    let xena_caller = Caller {
        user: rollcall_domain::model::User {
            id: x.user_id.clone(),
            ..w.owner.user.clone()
        },
        email_verified: true,
        request: Default::default(),
    };
    let after = w
        .service
        .set_group_assignments(&xena_caller, &w.org, admins.id.as_str(), &[])
        .await
        .unwrap();
    assert!(after.assignments.is_empty());
    assert_eq!(after.conflicts.len(), 1, "{after:?}");
    let x = w.member(&xena).await;
    assert!(x.is_active_org_manager(), "{x:?}");
    assert_eq!(x.groups.len(), 1);
    assert!(x.groups[0].assignments.is_empty());
    let problems = store.check_integrity().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn one_organizations_scim_never_reaches_another_organizations_members_or_groups() {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    let a = world(store.clone(), "owner@alpha.test").await;
    // Organization B in the same store.
    let b = {
        let mut b = world(store.clone(), "owner@beta.test").await;
        b.service = a.service.clone();
        b
    };
    let b_member = b.provision("member@beta.test").await;
    let b_group = b.group("Beta", &[&b_member]).await;
    let a_group = a.group("Alpha", &[]).await;

    // A cannot put B's member in its group: 400, nothing written.
    let err = a
        .service
        .scim_update_group(
            &a.scim,
            a_group.id.as_str(),
            GroupAttributes::default(),
            &[MemberOp::Add(vec![b_member.clone()])],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err:?}");
    assert_eq!(b.member(&b_member).await.groups.len(), 1);
    // A cannot read, change or delete B's group.
    for e in [
        a.service
            .group(&a.org, b_group.id.as_str())
            .await
            .unwrap_err(),
        a.service
            .scim_update_group(
                &a.scim,
                b_group.id.as_str(),
                GroupAttributes::default(),
                &[MemberOp::RemoveAll],
            )
            .await
            .unwrap_err(),
        a.service
            .scim_delete_group(&a.scim, b_group.id.as_str())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::GroupNotFound, "{e:?}");
    }
    assert!(
        a.service
            .scim_groups_of_member(&a.scim, &b_member)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        a.service
            .group_by_name(&a.org, "Beta")
            .await
            .unwrap()
            .is_none()
    );
    // A's manager cannot map B's group.
    let e = a
        .service
        .set_group_assignments(&a.owner, &b.org, b_group.id.as_str(), &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let g = b.service.group(&b.org, b_group.id.as_str()).await.unwrap();
    assert_eq!(g.member_count, 1);
}

#[tokio::test]
async fn a_removed_member_leaves_their_groups() {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    let w = world(store.clone(), "owner@leave.test").await;
    let cy = w.provision("cy@leave.test").await;
    let g = w.group("Team", &[&cy]).await;
    w.service.scim_remove(&w.scim, &cy).await.unwrap();
    let g = w.service.group(&w.org, g.id.as_str()).await.unwrap();
    assert_eq!(g.member_count, 0);
    assert!(w.service.group_member_refs(&g).await.unwrap().is_empty());
    let problems = store.check_integrity().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

mod patch_model {
    //! Property test: random sequences of the PATCH shapes Okta and Entra send, applied through
    //! the protocol mapping and the use cases, leave exactly the members a plain set model says,
    //! and every member's `groups` agrees.
    use super::*;
    use proptest::prelude::*;
    use rollcall_scim::group::group_patch;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Op {
        OktaAdd(Vec<usize>),
        OktaRemove(usize),
        EntraRemove(Vec<usize>),
        Replace(Vec<usize>),
        RemoveAll,
        Rename(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let ids = proptest::collection::vec(0usize..5, 0..4);
        prop_oneof![
            ids.clone().prop_map(Op::OktaAdd),
            (0usize..5).prop_map(Op::OktaRemove),
            ids.clone().prop_map(Op::EntraRemove),
            ids.prop_map(Op::Replace),
            Just(Op::RemoveAll),
            any::<u8>().prop_map(Op::Rename),
        ]
    }

    fn body(op: &Op, users: &[String], group: &str) -> serde_json::Value {
        let values = |ix: &[usize]| -> Vec<serde_json::Value> {
            ix.iter().map(|i| json!({"value": users[*i]})).collect()
        };
        let ops = match op {
            Op::OktaAdd(ix) => json!([
                {"op": "replace", "value": {"id": group, "displayName": "Team"}},
                {"op": "add", "path": "members", "value": values(ix)}
            ]),
            Op::OktaRemove(i) => json!([
                {"op": "remove", "path": format!("members[value eq \"{}\"]", users[*i])}
            ]),
            Op::EntraRemove(ix) => {
                json!([{"op": "Remove", "path": "members", "value": values(ix)}])
            }
            Op::Replace(ix) => json!([{"op": "replace", "path": "members", "value": values(ix)}]),
            Op::RemoveAll => json!([{"op": "remove", "path": "members"}]),
            Op::Rename(n) => {
                json!([{"op": "Replace", "path": "displayName", "value": format!("Team {n}")}])
            }
        };
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
    }

    fn model(set: &mut BTreeSet<usize>, op: &Op) {
        match op {
            Op::OktaAdd(ix) => set.extend(ix.iter().copied()),
            Op::OktaRemove(i) => {
                set.remove(i);
            }
            // Only the listed members leave (an empty list: nobody).
            Op::EntraRemove(ix) => {
                for i in ix {
                    set.remove(i);
                }
            }
            Op::Replace(ix) => *set = ix.iter().copied().collect(),
            Op::RemoveAll => set.clear(),
            Op::Rename(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn group_patches_match_a_set_model(ops in proptest::collection::vec(op(), 1..8)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let store = Arc::new(EmbeddedStore::in_memory().unwrap());
                let w = world(store.clone(), "owner@model.test").await;
                let mut users = Vec::new();
                for i in 0..5 {
                    users.push(w.provision(&format!("u{i}@model.test")).await);
                }
                let group = w.group("Team", &[]).await;
                let mut set = BTreeSet::new();
                for op in &ops {
                    let (attrs, member_ops) = group_patch(&body(op, &users, group.id.as_str())).unwrap();
                    w.service
                        .scim_update_group(&w.scim, group.id.as_str(), attrs, &member_ops)
                        .await
                        .unwrap();
                    model(&mut set, op);
                    let g = w.service.group(&w.org, group.id.as_str()).await.unwrap();
                    let got: BTreeSet<String> =
                        w.service.group_member_refs(&g).await.unwrap().iter().map(|u| u.to_string()).collect();
                    let want: BTreeSet<String> = set.iter().map(|i| users[*i].clone()).collect();
                    assert_eq!(got, want, "after {op:?}");
                    assert_eq!(g.member_count as usize, want.len());
                    for (i, u) in users.iter().enumerate() {
                        assert_eq!(w.member(u).await.in_group(&g.id), set.contains(&i), "user {i} after {op:?}");
                    }
                }
                let problems = store.check_integrity().await.unwrap();
                assert!(problems.is_empty(), "{problems:?}");
            });
        }
    }
}
