//! The group routes in-process over the embedded store: only organization managers use them,
//! another organization's ids are 404, mappings are validated like a member's assignments, and
//! member views show direct assignments, groups and the effective set. Groups are created through
//! the SCIM use case (what `POST /scim/v2/Groups` calls).

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Harness, Resp, call, claims, send};
use rollcall_domain::service::{Claims, GroupAttributes, ScimOrg};
use serde_json::{Value, json};

const NO_GROUP: &str = "grp_0123456789abcdef0123456789abcdef";

fn expect(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{r:?}");
}

/// An organization: its owner (the one organization manager), root pool, a pool, and the SCIM
/// identity its identity provider writes with.
struct Org {
    id: String,
    owner: Claims,
    owner_id: String,
    pool: String,
    scim_token: String,
    scim: ScimOrg,
}

async fn org(h: &Harness, app: &Router, who: &str) -> Org {
    let owner = claims(&format!("owner@{who}.test"), Some("Owner"), true);
    let r = call(
        app,
        Method::POST,
        "/orgs",
        Some(&owner),
        Some(json!({"name": who})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(app, Method::GET, "/me", Some(&owner), None).await;
    let owner_id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let r = call(
        app,
        Method::POST,
        &format!("/orgs/{id}/pools"),
        Some(&owner),
        Some(json!({"name": "Engineering"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let pool = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        app,
        Method::POST,
        &format!("/orgs/{id}/scim-tokens"),
        Some(&owner),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let scim_token = r.body["token"].as_str().unwrap().to_owned();
    let scim = h.state.service.scim_org(&scim_token).await.unwrap();
    Org {
        id,
        owner,
        owner_id,
        pool,
        scim_token,
        scim,
    }
}

/// A member who accepted an invitation with `assignments`; their claims and user id.
async fn member(
    h: &Harness,
    app: &Router,
    o: &Org,
    email: &str,
    assignments: Value,
) -> (Claims, String) {
    let r = call(
        app,
        Method::POST,
        &format!("/orgs/{}/invitations", o.id),
        Some(&o.owner),
        Some(json!({"invitations": [{"email": email}], "assignments": assignments})),
    )
    .await;
    assert_eq!(r.body["results"][0]["result"], "invited", "{r:?}");
    let who = claims(email, None, true);
    let token = h.last_token_to(email).unwrap();
    let r = call(
        app,
        Method::POST,
        "/invitations/accept",
        Some(&who),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let id = r.body["user_id"].as_str().unwrap().to_owned();
    (who, id)
}

/// A member provisioned over SCIM; its SCIM id.
async fn scim_user(app: &Router, o: &Org, email: &str) -> String {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/scim/v2/Users")
        .header(header::AUTHORIZATION, format!("Bearer {}", o.scim_token))
        .header(header::CONTENT_TYPE, "application/scim+json")
        .body(Body::from(
            serde_json::to_vec(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "emails": [{"value": email, "primary": true}]
            }))
            .unwrap(),
        ))
        .unwrap();
    let r = send(app, req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

/// A group the identity provider creates with these members; its id.
async fn group(h: &Harness, o: &Org, name: &str, members: &[&str]) -> String {
    let g = h
        .state
        .service
        .scim_create_group(
            &o.scim,
            GroupAttributes {
                display_name: Some(name.to_owned()),
                external_id: Some(Some(format!("ext-{name}"))),
            },
            members.iter().map(|m| (*m).to_owned()).collect(),
        )
        .await
        .unwrap();
    g.id.to_string()
}

fn group_routes(org: &str, grp: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/orgs/{org}/groups"), None),
        (Method::GET, format!("/orgs/{org}/groups/{grp}"), None),
        (
            Method::GET,
            format!("/orgs/{org}/groups/{grp}/members"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{org}/groups/{grp}/assignments"),
            Some(json!({"assignments": [{"role": "organization_manager"}]})),
        ),
    ]
}

#[tokio::test]
async fn only_organization_managers_use_the_group_routes() {
    let h = Harness::new();
    let app = h.all();
    let o = org(&h, &app, "acme").await;
    let (engineer, _) = member(
        &h,
        &app,
        &o,
        "eng@acme.test",
        json!([{"role": "engineer", "pool_id": o.pool}]),
    )
    .await;
    let (manager, _) = member(
        &h,
        &app,
        &o,
        "mgr@acme.test",
        json!([{"role": "manager", "pool_id": o.pool}]),
    )
    .await;
    let (plain, _) = member(&h, &app, &o, "plain@acme.test", json!([])).await;
    for (method, path, body) in group_routes(&o.id, NO_GROUP) {
        for who in [&engineer, &manager, &plain] {
            let r = call(&app, method.clone(), &path, Some(who), body.clone()).await;
            expect(&r, StatusCode::FORBIDDEN, "forbidden");
        }
        let r = call(&app, method.clone(), &path, None, body.clone()).await;
        expect(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn another_organizations_ids_are_not_found() {
    let h = Harness::new();
    let app = h.all();
    let a = org(&h, &app, "alpha").await;
    let b = org(&h, &app, "beta").await;
    // B's organization, as A's manager.
    for (method, path, body) in group_routes(&b.id, NO_GROUP) {
        let r = call(&app, method, &path, Some(&a.owner), body).await;
        expect(&r, StatusCode::NOT_FOUND, "organization_not_found");
    }
    // A malformed group id is answered like an unknown one.
    for (method, path, body) in group_routes(&a.id, "grp_nope").into_iter().skip(1) {
        let r = call(&app, method, &path, Some(&a.owner), body).await;
        expect(&r, StatusCode::NOT_FOUND, "group_not_found");
    }
}

#[tokio::test]
async fn another_organizations_group_is_not_found() {
    let h = Harness::new();
    let app = h.all();
    let a = org(&h, &app, "alpha").await;
    let b = org(&h, &app, "beta").await;
    let theirs = group(&h, &b, "Beta admins", &[]).await;
    for grp in [theirs.as_str(), NO_GROUP] {
        for (method, path, body) in group_routes(&a.id, grp).into_iter().skip(1) {
            let r = call(&app, method, &path, Some(&a.owner), body).await;
            expect(&r, StatusCode::NOT_FOUND, "group_not_found");
        }
    }
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups", a.id),
        Some(&a.owner),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"items": [], "next_cursor": null}), "{r:?}");
    // B's group is untouched: no mapping.
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups/{theirs}", b.id),
        Some(&b.owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["assignments"], json!([]), "{r:?}");
}

#[tokio::test]
async fn mappings_are_validated_like_member_assignments() {
    let h = Harness::new();
    let app = h.all();
    let a = org(&h, &app, "alpha").await;
    let b = org(&h, &app, "beta").await;
    let path = format!("/orgs/{}/groups/{NO_GROUP}/assignments", a.id);
    let put = |body: Value| call(&app, Method::PUT, &path, Some(&a.owner), Some(body));
    // Pools must be this organization's.
    for pool in [b.pool.as_str(), "pool_0123456789abcdef0123456789abcdef"] {
        let r = put(json!({"assignments": [{"role": "engineer", "pool_id": pool}]})).await;
        expect(&r, StatusCode::NOT_FOUND, "pool_not_found");
    }
    // Shapes the roles do not allow.
    for bad in [
        json!({"assignments": [{"role": "manager"}]}),
        json!({"assignments": [{"role": "organization_manager", "pool_id": a.pool}]}),
        json!({"assignments": (0..51).map(|_| json!({"role": "engineer", "pool_id": a.pool})).collect::<Vec<_>>()}),
    ] {
        let r = put(bad).await;
        expect(&r, StatusCode::BAD_REQUEST, "invalid_assignment");
    }
    // Bodies that are not the expected JSON.
    for bad in [
        json!({"assignments": [{"role": "emperor"}]}),
        json!({"assignments": [{"role": "engineer", "pool_id": "pool_nope"}]}),
        json!({"assignments": "engineer"}),
        json!({}),
        json!({"assignments": [], "members": []}),
    ] {
        let r = put(bad).await;
        expect(&r, StatusCode::BAD_REQUEST, "invalid_json");
    }
    // Query strings are strict.
    for q in ["limit=0", "limit=201", "colour=red"] {
        for path in [
            format!("/orgs/{}/groups?{q}", a.id),
            format!("/orgs/{}/groups/{NO_GROUP}/members?{q}", a.id),
        ] {
            let r = call(&app, Method::GET, &path, Some(&a.owner), None).await;
            expect(&r, StatusCode::BAD_REQUEST, "invalid_query");
        }
    }
}

#[tokio::test]
async fn a_member_without_groups_shows_direct_assignments_equal_to_effective_ones() {
    let h = Harness::new();
    let app = h.all();
    let o = org(&h, &app, "acme").await;
    let engineer = json!([{"role": "engineer", "pool_id": o.pool}]);
    let (_, id) = member(&h, &app, &o, "eng@acme.test", engineer.clone()).await;
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/users/{id}", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r.body["assignments"], engineer, "{r:?}");
    assert_eq!(r.body["direct_assignments"], engineer, "{r:?}");
    assert_eq!(r.body["groups"], json!([]), "{r:?}");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/users", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    for m in r.body["items"].as_array().unwrap() {
        assert_eq!(m["direct_assignments"], m["assignments"], "{m}");
        assert_eq!(m["groups"], json!([]), "{m}");
    }
}

#[tokio::test]
async fn a_mapped_group_gives_its_members_roles_and_member_views_say_where_from() {
    let h = Harness::new();
    let app = h.all();
    let o = org(&h, &app, "acme").await;
    let ann = scim_user(&app, &o, "ann@acme.test").await;
    let bo = scim_user(&app, &o, "bo@acme.test").await;
    let grp = group(&h, &o, "Engineers", &[&ann, &bo]).await;
    let other = group(&h, &o, "Everyone", &[&ann]).await;

    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups/{grp}", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "assignments",
            "conflicts",
            "created_at",
            "display_name",
            "external_id",
            "id",
            "member_count",
            "org_id",
            "updated_at"
        ]
    );
    assert_eq!(r.body["display_name"], "Engineers");
    assert_eq!(r.body["external_id"], "ext-Engineers");
    assert_eq!(r.body["member_count"], 2);
    assert_eq!(r.body["assignments"], json!([]));
    assert_eq!(r.body["conflicts"], json!([]));

    // Map it: the group and every member follow.
    let engineer = json!([{"role": "engineer", "pool_id": o.pool}]);
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/groups/{grp}/assignments", o.id),
        Some(&o.owner),
        Some(json!({"assignments": engineer})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["assignments"], engineer, "{r:?}");
    // `member` is implicit: a mapping of just `member` gives nothing.
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/groups/{other}/assignments", o.id),
        Some(&o.owner),
        Some(json!({"assignments": [{"role": "member"}]})),
    )
    .await;
    assert_eq!(r.body["assignments"], json!([]), "{r:?}");

    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/users/{ann}", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r.body["assignments"], engineer, "{r:?}");
    assert_eq!(
        r.body["direct_assignments"],
        json!([{"role": "member"}]),
        "{r:?}"
    );
    let mut groups = r.body["groups"].as_array().unwrap().clone();
    groups.sort_by_key(|g| g["display_name"].as_str().unwrap().to_owned());
    assert_eq!(
        groups,
        [
            json!({"group_id": grp, "display_name": "Engineers", "assignments": engineer}),
            json!({"group_id": other, "display_name": "Everyone", "assignments": []}),
        ]
    );

    // The list of members names groups too.
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/users?role=engineer", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{r:?}");
    for m in items {
        assert!(
            m["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["display_name"] == "Engineers"),
            "{m}"
        );
    }

    // A member's PUT sets direct assignments; the group's stay.
    let manager = json!([{"role": "manager", "pool_id": o.pool}]);
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/users/{bo}/assignments", o.id),
        Some(&o.owner),
        Some(json!({"assignments": manager})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["direct_assignments"], manager, "{r:?}");
    let mut effective = r.body["assignments"].as_array().unwrap().clone();
    effective.sort_by_key(|a| a["role"].as_str().unwrap().to_owned());
    assert_eq!(
        effective,
        [engineer[0].clone(), manager[0].clone()],
        "{r:?}"
    );
    assert_eq!(r.body["groups"][0]["display_name"], "Engineers", "{r:?}");

    // The group's members, a page at a time.
    let path = format!("/orgs/{}/groups/{grp}/members", o.id);
    let r = call(
        &app,
        Method::GET,
        &format!("{path}?limit=1"),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let first = r.body["items"].as_array().unwrap().clone();
    assert_eq!(first.len(), 1, "{r:?}");
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::GET,
        &format!("{path}?limit=1&cursor={cursor}"),
        Some(&o.owner),
        None,
    )
    .await;
    let second = r.body["items"].as_array().unwrap().clone();
    assert_eq!(second.len(), 1, "{r:?}");
    let mut refs: Vec<&str> = first
        .iter()
        .chain(&second)
        .map(|m| m["member_ref"].as_str().unwrap())
        .collect();
    refs.sort();
    let mut want = vec![ann.as_str(), bo.as_str()];
    want.sort();
    assert_eq!(refs, want);
    for m in first.iter().chain(&second) {
        assert_eq!(m["member"]["user_id"], m["member_ref"], "{m}");
        assert!(
            m["member"]["email"]
                .as_str()
                .unwrap()
                .ends_with("@acme.test"),
            "{m}"
        );
        assert!(
            m["member"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["display_name"] == "Engineers"),
            "{m}"
        );
    }
    if let Some(c) = r.body["next_cursor"].as_str() {
        let r = call(
            &app,
            Method::GET,
            &format!("{path}?cursor={c}"),
            Some(&o.owner),
            None,
        )
        .await;
        assert_eq!(r.body["items"], json!([]), "{r:?}");
    }
    // A cursor of another list is refused.
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups?cursor={cursor}", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    expect(&r, StatusCode::BAD_REQUEST, "invalid_cursor");

    // The organization's groups, a page at a time.
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups?limit=1", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");
    let c = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r2 = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/groups?limit=1&cursor={c}", o.id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(r2.body["items"].as_array().unwrap().len(), 1, "{r2:?}");
    assert_ne!(r.body["items"][0]["id"], r2.body["items"][0]["id"]);
}

#[tokio::test]
async fn unmapping_the_last_managers_role_keeps_it_direct_and_records_a_conflict() {
    let h = Harness::new();
    let app = h.all();
    let o = org(&h, &app, "acme").await;
    // The owner belongs to a group that makes them organization manager, and holds the role
    // only through it.
    let admins = group(&h, &o, "Admins", &[&o.owner_id]).await;
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/groups/{admins}/assignments", o.id),
        Some(&o.owner),
        Some(json!({"assignments": [{"role": "organization_manager"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/users/{}/assignments", o.id, o.owner_id),
        Some(&o.owner),
        Some(json!({"assignments": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body["direct_assignments"],
        json!([{"role": "member"}]),
        "{r:?}"
    );
    assert_eq!(
        r.body["assignments"],
        json!([{"role": "organization_manager"}]),
        "{r:?}"
    );

    // Unmapping it would leave no organization manager: it succeeds, the owner keeps the role
    // directly, and the group says so.
    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{}/groups/{admins}/assignments", o.id),
        Some(&o.owner),
        Some(json!({"assignments": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["assignments"], json!([]), "{r:?}");
    let conflicts = r.body["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{r:?}");
    assert_eq!(conflicts[0]["user_id"], o.owner_id.as_str());
    assert_eq!(
        conflicts[0]["kept"],
        json!([{"role": "organization_manager"}])
    );
    assert!(conflicts[0]["at"].is_string());
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{}/users/{}", o.id, o.owner_id),
        Some(&o.owner),
        None,
    )
    .await;
    assert_eq!(
        r.body["direct_assignments"],
        json!([{"role": "organization_manager"}]),
        "{r:?}"
    );
    assert_eq!(r.body["groups"][0]["assignments"], json!([]), "{r:?}");
}
