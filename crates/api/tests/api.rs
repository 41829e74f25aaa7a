//! The routers in-process over the embedded store: error shapes, identity, routes per group, and
//! a small happy path.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Harness, Resp, call, claims, request, send};
use lambda_http::request::RequestContext;
use rollcall_api::{FunctionGroup, RouteAuth, route_table, router};
use serde_json::{Value, json};
use std::collections::HashSet;

const NO_ORG: &str = "org_0123456789abcdef0123456789abcdef";

fn assert_json_error(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.code(), code, "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{r:?}"
    );
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json",
        "{r:?}"
    );
    assert!(r.headers.contains_key("x-request-id"), "{r:?}");
}

/// An org created by `owner`, with its id and root pool.
async fn org(
    app: &axum::Router,
    owner: &rollcall_domain::service::Claims,
    name: &str,
) -> (String, String) {
    let r = call(
        app,
        Method::POST,
        "/orgs",
        Some(owner),
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["root_pool_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn body_errors_have_the_json_shape() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("owner@acme.test", Some("Owner"), true);
    let (org_id, _) = org(&app, &owner, "Acme").await;
    let pools = format!("/orgs/{org_id}/pools");
    let post = |ct: Option<&str>, body: &[u8]| {
        request(Method::POST, &pools, Some(&owner), ct, body.to_vec())
    };

    let r = send(&app, post(Some("application/json"), b"{\"name\": ")).await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(&app, post(Some("application/json"), br#"{"name": 42}"#)).await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(
        &app,
        post(
            Some("application/json"),
            br#"{"name": "A", "colour": "red"}"#,
        ),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{r:?}"
    );
    let r = send(
        &app,
        post(
            Some("application/json"),
            br#"{"name": "A", "parent_id": "pool_nope"}"#,
        ),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(&app, post(Some("application/json"), b"")).await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_json");

    let r = send(&app, post(Some("text/plain"), br#"{"name": "A"}"#)).await;
    assert_json_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = send(&app, post(None, br#"{"name": "A"}"#)).await;
    assert_json_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = send(
        &app,
        post(
            Some("application/json; charset=utf-8"),
            br#"{"name": "Charset"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(300_000));
    let r = send(&app, post(Some("application/json"), big.as_bytes())).await;
    assert_json_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let small = rollcall_api::all_routes_with_limit(h.state.clone(), 2048);
    let r = send(
        &small,
        request(
            Method::POST,
            &pools,
            Some(&owner),
            Some("application/json"),
            big.into_bytes(),
        ),
    )
    .await;
    assert_json_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Validation from the use case: 400 with its own code and details.
    let r = call(
        &app,
        Method::POST,
        &pools,
        Some(&owner),
        Some(json!({"name": "  "})),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "validation_error");
    assert_eq!(r.body["error"]["details"]["field"], "name", "{r:?}");

    // Nothing was written by the refused requests: root + "Charset".
    let r = call(&app, Method::GET, &pools, Some(&owner), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{r:?}");
    assert!(r.body["next_cursor"].is_null());
}

#[tokio::test]
async fn routing_query_and_path_errors_have_the_json_shape() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("owner@acme.test", None, true);
    let (org_id, _) = org(&app, &owner, "Acme").await;

    let r = call(&app, Method::GET, "/no/such/route", Some(&owner), None).await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "route_not_found");
    let r = call(&app, Method::DELETE, "/orgs", Some(&owner), None).await;
    assert_json_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allow = r
        .headers
        .get(header::ALLOW)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");

    let users = format!("/orgs/{org_id}/users");
    for q in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=-1",
        "colour=red",
        "status=sleeping",
        "role=emperor",
        "pool_id=nope",
    ] {
        let r = call(
            &app,
            Method::GET,
            &format!("{users}?{q}"),
            Some(&owner),
            None,
        )
        .await;
        assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_query");
    }
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/invitations?status=sleeping"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_query");
    let r = call(
        &app,
        Method::GET,
        &format!("{users}?cursor={}", "a".repeat(1025)),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_cursor");
    let r = call(
        &app,
        Method::GET,
        &format!("{users}?cursor=garbage!!"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST, "invalid_cursor");
    let r = call(
        &app,
        Method::GET,
        &format!("{users}?limit=1&status=active&role=member&q="),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");

    let r = call(&app, Method::GET, "/orgs/nope", Some(&owner), None).await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "organization_not_found");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{NO_ORG}"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "organization_not_found");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/users/usr_nope"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "member_not_found");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/pools/nope"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "pool_not_found");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/invitations/x"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "invitation_not_found");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/invite-links/x"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "invite_link_not_found");
    let r = call(&app, Method::GET, "/invitations/not-a-token", None, None).await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "invitation_not_found");
}

#[tokio::test]
async fn identity_comes_from_extensions_or_the_lambda_context() {
    let h = Harness::new();
    let app = h.all();
    let r = call(&app, Method::GET, "/orgs", None, None).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    let r = call(
        &app,
        Method::POST,
        "/orgs",
        None,
        Some(json!({"name": "A"})),
    )
    .await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");

    // API Gateway HTTP API with a JWT authorizer.
    let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext = serde_json::from_value(json!({
        "requestId": "apigw-req-1",
        "http": {"method": "GET", "path": "/me", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        "authorizer": {"jwt": {"claims": {
            "sub": "idp|42", "email": "Lambda.User@Example.test", "email_verified": "true", "name": "Lambda User"
        }, "scopes": null}}
    }))
    .unwrap();
    let mut req = Request::builder()
        .method(Method::GET)
        .uri("/me")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(RequestContext::ApiGatewayV2(ctx.clone()));
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["user"]["email"], "Lambda.User@Example.test");
    assert_eq!(r.body["user"]["name"], "Lambda User");
    assert_eq!(r.body["user"]["email_verified"], true);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "apigw-req-1");

    let claims = rollcall_api::lambda_claims(&RequestContext::ApiGatewayV2(ctx)).unwrap();
    assert_eq!(claims.sub, "idp|42");
    assert!(claims.email_verified);

    // No authorizer claims: 401.
    let bare: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
        serde_json::from_value(json!({"http": {"method": "GET", "path": "/me"}})).unwrap();
    let mut req = Request::builder()
        .method(Method::GET)
        .uri("/me")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(RequestContext::ApiGatewayV2(bare));
    let r = send(&app, req).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");

    // A claim set without an email is refused by the use case.
    let mut req = Request::builder()
        .method(Method::GET)
        .uri("/me")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(rollcall_domain::service::Claims {
            sub: "s".into(),
            email: None,
            email_verified: false,
            name: None,
        });
    let r = send(&app, req).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let h = Harness::new();
    let app = h.all();
    let mut req = Request::builder()
        .uri("/nowhere")
        .header("x-request-id", "client-id-123")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(claims("a@b.test", None, true));
    let r = send(&app, req).await;
    assert_eq!(r.headers.get("x-request-id").unwrap(), "client-id-123");
    let req = Request::builder()
        .uri("/nowhere")
        .header("x-request-id", "bad id with spaces")
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req).await;
    let id = r.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(id != "bad id with spaces" && id.len() == 36, "{id}");
}

/// A path with well-formed ids in place of the parameters.
fn filled(path: &str) -> String {
    path.replace("{org}", NO_ORG)
        .replace("{pool}", "pool_0123456789abcdef0123456789abcdef")
        .replace("{usr}", "usr_0123456789abcdef0123456789abcdef")
        .replace("{inv}", "inv_0123456789abcdef0123456789abcdef")
        .replace("{lnk}", "lnk_0123456789abcdef0123456789abcdef")
        .replace("{token}", "rci_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .replace("{sct}", "sct_0123456789abcdef0123456789abcdef")
        .replace("{id}", "usr_0123456789abcdef0123456789abcdef")
        .replace("{domain}", "acme.test")
        .replace("{grp}", "grp_0123456789abcdef0123456789abcdef")
}

#[tokio::test]
async fn route_table_matches_the_routers() {
    let h = Harness::new();
    let table = route_table();
    let unique: HashSet<(String, &str)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    assert_eq!(unique.len(), table.len(), "duplicate routes");
    assert_eq!(table.len(), 61);
    // Public: the invitation and invite link previews, and SCIM (authenticated by its own token,
    // not a JWT).
    assert!(table.iter().all(|r| (r.auth == RouteAuth::Public)
        == (r.path == "/invitations/{token}"
            || r.path == "/invite-links/{token}"
            || r.path.starts_with("/scim/v2/"))));
    assert!(
        table
            .iter()
            .all(|r| (r.group == FunctionGroup::Scim) == r.path.starts_with("/scim/v2/"))
    );
    for g in FunctionGroup::ALL {
        assert_eq!(FunctionGroup::parse(g.as_str()), Some(g));
        assert!(table.iter().any(|r| r.group == g), "{g} has no route");
    }
    let who = claims("routes@acme.test", None, true);
    let routers: Vec<(FunctionGroup, axum::Router)> = FunctionGroup::ALL
        .into_iter()
        .map(|g| (g, router(g, h.state.clone())))
        .collect();
    for route in &table {
        let path = filled(route.path);
        let body =
            matches!(route.method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        for (group, app) in &routers {
            let r = call(app, route.method.clone(), &path, Some(&who), body.clone()).await;
            let what = format!("{} {} on the {group} router", route.method, route.path);
            if *group == route.group {
                assert!(
                    r.code() != "route_not_found" && r.status != StatusCode::METHOD_NOT_ALLOWED,
                    "{what}: {r:?}"
                );
            } else {
                assert_eq!(
                    (r.status, r.code()),
                    (StatusCode::NOT_FOUND, "route_not_found"),
                    "{what}: {r:?}"
                );
                assert_json_error(&r, StatusCode::NOT_FOUND, "route_not_found");
            }
            assert!(r.headers.contains_key("x-request-id"), "{what}");
        }
    }
}

#[tokio::test]
async fn happy_path_from_org_to_member() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("owner@acme.test", Some("Olivia Owner"), true);
    let bob = claims("bob@example.test", Some("Bob"), true);

    let r = call(
        &app,
        Method::POST,
        "/orgs",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let org_id = r.body["id"].as_str().unwrap().to_owned();
    let root = r.body["root_pool_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["settings"]["invitation_expiry_days"], 7, "{r:?}");

    let r = call(&app, Method::GET, "/orgs", Some(&owner), None).await;
    assert_eq!(r.body["items"][0]["id"], json!(org_id), "{r:?}");
    assert_eq!(
        r.body["items"][0]["assignments"],
        json!([{"role": "organization_manager"}])
    );
    assert!(r.body["next_cursor"].is_null());

    let r = call(
        &app,
        Method::PATCH,
        &format!("/orgs/{org_id}"),
        Some(&owner),
        Some(json!({"settings": {"managers_can_invite": true}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["settings"]["managers_can_invite"], true);

    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/pools"),
        Some(&owner),
        Some(json!({"name": "Engineering"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["parent_id"], json!(root));
    let eng = r.body["id"].as_str().unwrap().to_owned();
    let keys: HashSet<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["id", "name", "parent_id", "owner_id", "created_at"])
    );

    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/invitations"),
        Some(&owner),
        Some(json!({
            "invitations": [{"email": "Bob@Example.test", "name": "Bob"}, {"email": "nope"}],
            "assignments": [{"role": "engineer", "pool_id": eng}]
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let inv = &r.body["results"][0]["invitation"];
    assert_eq!(r.body["results"][0]["result"], "invited", "{r:?}");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["email_status"], "sent");
    assert_eq!(inv["email"], "Bob@Example.test");
    assert_eq!(inv["org_id"], json!(org_id));
    assert!(
        inv.get("token_hash").is_none()
            && inv.get("version").is_none()
            && inv.get("token").is_none()
    );
    assert!(r.body["results"][0].get("accept_url").is_none());
    assert_eq!(r.body["results"][1]["result"], "error");
    assert_eq!(r.body["results"][1]["error"]["code"], "invalid_email");
    let inv_id = inv["id"].as_str().unwrap().to_owned();

    // Resend with an empty body and no content type, then with send_email false.
    let resend = format!("/orgs/{org_id}/invitations/{inv_id}/resend");
    let r = send(
        &app,
        request(Method::POST, &resend, Some(&owner), None, Vec::new()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["id"], json!(inv_id));
    assert!(r.body.get("accept_url").is_none());
    let r = call(
        &app,
        Method::POST,
        &resend,
        Some(&owner),
        Some(json!({"send_email": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let url = r.body["accept_url"].as_str().unwrap();
    assert!(url.starts_with(common::ACCEPT_URL), "{url}");
    let token = url.rsplit("token=").next().unwrap().to_owned();
    assert!(
        h.last_token_to("bob@example.test").is_some(),
        "mail recorded"
    );

    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/invitations?status=pending&email=BOB@example.test"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");

    // Public preview, no identity.
    let r = call(
        &app,
        Method::GET,
        &format!("/invitations/{token}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["org_name"], "Acme");
    assert_eq!(r.body["inviter_name"], "Olivia Owner");
    assert_eq!(r.body["email"], "Bob@Example.test");

    let r = call(&app, Method::GET, "/me/invitations", Some(&bob), None).await;
    assert_eq!(r.body["items"][0]["id"], json!(inv_id), "{r:?}");
    assert_eq!(r.body["items"][0]["org_name"], "Acme");

    let r = call(
        &app,
        Method::POST,
        "/invitations/accept",
        Some(&bob),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["source"], "invitation");
    assert_eq!(
        r.body["assignments"],
        json!([{"role": "engineer", "pool_id": eng}])
    );
    let bob_id = r.body["user_id"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::POST,
        "/invitations/accept",
        Some(&bob),
        Some(json!({"token": token})),
    )
    .await;
    assert_json_error(&r, StatusCode::CONFLICT, "invitation_already_used");

    let r = call(&app, Method::GET, "/me", Some(&bob), None).await;
    assert_eq!(r.body["memberships"][0]["org"]["name"], "Acme", "{r:?}");
    assert_eq!(r.body["user"]["id"], json!(bob_id));

    let r = call(
        &app,
        Method::PUT,
        &format!("/orgs/{org_id}/users/{bob_id}/assignments"),
        Some(&owner),
        Some(json!({"assignments": [{"role": "manager", "pool_id": eng}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/users?role=manager&pool_id={eng}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.body["items"][0]["user_id"], json!(bob_id), "{r:?}");
    let keys: HashSet<&str> = r.body["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "org_id",
            "user_id",
            "email",
            "name",
            "phone",
            "status",
            "source",
            "external_id",
            "assignments",
            "direct_assignments",
            "groups",
            "created_at",
            "org_id"
        ])
    );

    // Bob, manager of Engineering, owns a sub-pool he creates; settings stay hidden from him.
    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/pools"),
        Some(&bob),
        Some(json!({"name": "Backend", "parent_id": eng})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}"),
        Some(&bob),
        None,
    )
    .await;
    assert!(r.body.get("settings").is_none(), "{r:?}");

    // Invite link, join, revoke.
    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/invite-links"),
        Some(&owner),
        Some(json!({"assignments": [{"role": "member"}], "max_uses": 5})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["status"], "active");
    let link_id = r.body["id"].as_str().unwrap().to_owned();
    let link_token = r.body["token"].as_str().unwrap().to_owned();
    // The public preview of the link, for the join page.
    let r = call(
        &app,
        Method::GET,
        &format!("/invite-links/{link_token}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["org_id"], json!(org_id));
    assert_eq!(r.body["org_name"], "Acme");
    assert_eq!(r.body["assignments"], json!([{"role": "member"}]));
    assert_eq!(r.body["allowed_domains"], json!([]));
    let r = call(
        &app,
        Method::GET,
        "/invite-links/rcl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    assert_eq!(r.body["error"]["code"], "invite_link_not_found");
    let carol = claims("carol@example.test", None, true);
    let r = call(
        &app,
        Method::POST,
        "/join",
        Some(&carol),
        Some(json!({"token": link_token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["source"], "invite_link");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/invite-links"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.body["items"][0]["uses"], 1, "{r:?}");
    assert!(
        r.body["items"][0].get("token").is_none() && r.body["items"][0].get("token_hash").is_none()
    );
    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/invite-links/{link_id}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert!(r.raw.is_empty() && !r.headers.contains_key(header::CONTENT_TYPE));
    let r = call(
        &app,
        Method::GET,
        &format!("/invite-links/{link_token}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::GONE, "a revoked link: {r:?}");
    assert_eq!(r.body["error"]["code"], "invite_link_unusable");

    // Remove Bob: his pool passes to the owner.
    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/users/{bob_id}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/pools"),
        Some(&owner),
        None,
    )
    .await;
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme", "Engineering", "Backend"]);
    let backend: &Value = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Backend")
        .unwrap();
    let me = call(&app, Method::GET, "/me", Some(&owner), None).await;
    assert_eq!(backend["owner_id"], me.body["user"]["id"]);

    let r = call(
        &app,
        Method::DELETE,
        &format!("/orgs/{org_id}/pools/{root}"),
        Some(&owner),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "root_pool");
}

#[tokio::test]
async fn decline_revoke_and_rate_limits() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("owner@acme.test", None, true);
    let (org_id, _) = org(&app, &owner, "Acme").await;
    let invite = |email: &str| json!({"invitations": [{"email": email}], "send_email": false});
    let invs = format!("/orgs/{org_id}/invitations");

    let r = call(
        &app,
        Method::POST,
        &invs,
        Some(&owner),
        Some(invite("dan@example.test")),
    )
    .await;
    let token = r.body["results"][0]["accept_url"]
        .as_str()
        .unwrap()
        .rsplit("token=")
        .next()
        .unwrap()
        .to_owned();
    let dan = claims("dan@example.test", None, true);
    let r = call(
        &app,
        Method::POST,
        "/invitations/decline",
        Some(&dan),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["status"], "declined");

    let r = call(
        &app,
        Method::POST,
        &invs,
        Some(&owner),
        Some(invite("eve@example.test")),
    )
    .await;
    let eve_inv = r.body["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eve = claims("eve@example.test", None, true);
    let r = call(
        &app,
        Method::POST,
        &format!("/me/invitations/{eve_inv}/decline"),
        Some(&dan),
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND, "invitation_not_found");
    let r = call(
        &app,
        Method::DELETE,
        &format!("{invs}/{eve_inv}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let r = call(
        &app,
        Method::POST,
        &format!("/me/invitations/{eve_inv}/accept"),
        Some(&eve),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");

    // One email per recipient per day: the resend is refused with 429 and Retry-After.
    let r = call(
        &app,
        Method::PATCH,
        &format!("/orgs/{org_id}"),
        Some(&owner),
        Some(json!({"settings": {"emails_per_recipient_per_day": 1}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = call(
        &app,
        Method::POST,
        &invs,
        Some(&owner),
        Some(json!({"invitations": [{"email": "fay@example.test"}]})),
    )
    .await;
    assert_eq!(
        r.body["results"][0]["invitation"]["email_status"], "sent",
        "{r:?}"
    );
    let fay_inv = r.body["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("{invs}/{fay_inv}/resend"),
        Some(&owner),
        Some(json!({})),
    )
    .await;
    assert_json_error(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "3600");
}

/// Issue 8, finding 4: the Kelvin sign (U+212A) is not `k`. A verified `\u{212A}ate@a.test`
/// cannot accept `kate@a.test`'s invitation, by token or by id, and does not see it; kate's
/// invitation stays pending and kate can still accept it.
#[tokio::test]
async fn a_look_alike_address_does_not_take_an_invitation() {
    let h = Harness::new();
    let app = h.all();
    let owner = claims("owner@acme.test", Some("Olivia Owner"), true);
    let kelvin = claims("\u{212A}ate@a.test", Some("Not Kate"), true);
    let kate = claims("kate@a.test", Some("Kate"), true);
    let (org_id, root) = org(&app, &owner, "Acme").await;
    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/invitations"),
        Some(&owner),
        Some(json!({
            "invitations": [{"email": "kate@a.test"}],
            "assignments": [{"role": "manager", "pool_id": root}],
            "send_email": false
        })),
    )
    .await;
    assert_eq!(r.body["results"][0]["result"], "invited", "{r:?}");
    let inv_id = r.body["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = r.body["results"][0]["accept_url"].as_str().unwrap();
    let token = url.rsplit("token=").next().unwrap().to_owned();

    let r = call(&app, Method::GET, "/me/invitations", Some(&kelvin), None).await;
    assert_eq!(r.body["items"], json!([]), "{r:?}");
    let r = call(
        &app,
        Method::POST,
        "/invitations/accept",
        Some(&kelvin),
        Some(json!({"token": token})),
    )
    .await;
    assert_json_error(&r, StatusCode::FORBIDDEN, "email_mismatch");
    let r = call(
        &app,
        Method::POST,
        &format!("/me/invitations/{inv_id}/accept"),
        Some(&kelvin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = call(&app, Method::GET, "/me", Some(&kelvin), None).await;
    assert_eq!(r.body["memberships"], json!([]), "{r:?}");

    let r = call(
        &app,
        Method::GET,
        &format!("/orgs/{org_id}/invitations?status=pending"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(r.body["items"][0]["id"], json!(inv_id), "{r:?}");
    assert_eq!(r.body["items"][0]["status"], "pending", "{r:?}");
    let r = call(
        &app,
        Method::POST,
        "/invitations/accept",
        Some(&kate),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

/// Issue 8, finding 7: the token's `name` claim cannot be refused, so it is cleaned: control,
/// bidi override and isolate characters removed, whitespace collapsed, 200 characters at most.
#[tokio::test]
async fn token_names_are_cleaned() {
    let h = Harness::new();
    let app = h.all();
    let cases = [
        (
            " Ada\u{0}\u{1b}\r\nLove\u{202E}lace\u{2066}\u{2069}\t Jr ".to_owned(),
            json!("Ada Lovelace Jr"),
        ),
        ("\u{0}\u{202A}\r\n".to_owned(), Value::Null),
        ("x".repeat(300), json!("x".repeat(200))),
    ];
    for (i, (name, want)) in cases.into_iter().enumerate() {
        let who = claims(&format!("n{i}@a.test"), Some(&name), true);
        let r = call(&app, Method::GET, "/me", Some(&who), None).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["user"]["name"], want, "{name:?}: {r:?}");
    }
}
