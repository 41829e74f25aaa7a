//! SCIM 2.0 over HTTP against the real local server, on the embedded store and on DynamoDB
//! (moto): what scim2-tester does not check. Filters (precedence, case rules, value paths, URN
//! paths, invalid filters), pagination, 401, 404 and tenant isolation, 409 uniqueness (also under
//! 10 concurrent POSTs) and Content-Type handling. The identity providers' request sequences and
//! the membership mapping are in `scim_http_flows.rs`.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{
    Backend, ScimOrgSetup, ScimResponse, TestServer, emulator_endpoint, url_encode,
};
use serde_json::{Value, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// A well-formed user id that no user has.
const UNKNOWN_ID: &str = "usr_0123456789abcdef0123456789abcdef";

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::start(Backend::Embedded).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start(Backend::Emulated { endpoint }).await);
    }
    v
}

/// A minimal User with one primary work email.
fn user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [CORE],
        "userName": user_name,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

async fn create(s: &TestServer, token: &str, body: Value) -> Value {
    let r = s
        .scim(Method::POST, "/Users", Some(token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// Asserts a SCIM Error response: status, `status` as a string, `scimType` when given, SCIM
/// media type.
fn assert_scim_error(r: &ScimResponse, status: StatusCode, scim_type: Option<&str>, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(r.body["schemas"], json!([ERROR]), "{what}: {}", r.body);
    assert_eq!(
        r.body["status"],
        json!(status.as_u16().to_string()),
        "{what}: {}",
        r.body
    );
    assert!(r.body["detail"].is_string(), "{what}: {}", r.body);
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{what}: {}", r.body);
    }
    assert!(
        r.header("content-type")
            .starts_with("application/scim+json"),
        "{what}: {:?}",
        r.headers
    );
}

/// `userName`s of a ListResponse, sorted.
fn user_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["userName"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `GET /Users?filter=…` (200 expected): the sorted `userName`s, checked against `totalResults`.
async fn filter(s: &TestServer, token: &str, f: &str) -> Vec<String> {
    let r = s
        .scim(
            Method::GET,
            &format!("/Users?filter={}&count=200", url_encode(f)),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "filter {f}: {}", r.body);
    let names = user_names(&r.body);
    assert_eq!(
        r.body["totalResults"],
        json!(names.len()),
        "{f}: {}",
        r.body
    );
    names
}

#[tokio::test]
async fn filters_follow_rfc7644_grammar_and_case_rules() {
    for s in servers().await {
        let t = s.scim_org("owner@filters.test", "Filters").await;
        let tok = t.scim_token.as_str();
        create(
            &s,
            tok,
            json!({
                "schemas": [CORE, ENT], "userName": "Alice@X.test", "externalId": "EXT-A",
                "emails": [{"value": "alice@x.test", "type": "work", "primary": true}],
                "active": true, ENT: {"department": "Sales"}
            }),
        )
        .await;
        create(
            &s,
            tok,
            json!({
                "schemas": [CORE, ENT], "userName": "bob@corp.test", "externalId": "ext-b",
                "emails": [{"value": "bob@x.home", "type": "home"},
                           {"value": "bob@corp.test", "type": "work", "primary": true}],
                "active": false, ENT: {"department": "Eng"}
            }),
        )
        .await;
        create(
            &s,
            tok,
            json!({
                "schemas": [CORE, ENT], "userName": "carol@x.test", "externalId": "ext-c",
                "emails": [{"value": "carol@x.test", "type": "work", "primary": true}],
                "active": true, ENT: {"department": "ENG"}
            }),
        )
        .await;
        let (alice, bob, carol, owner) = (
            "Alice@X.test",
            "bob@corp.test",
            "carol@x.test",
            "owner@filters.test",
        );
        let cases: Vec<(&str, Vec<&str>)> = vec![
            // userName is caseExact false: values and attribute names fold case, operators too.
            (r#"userName eq "alice@x.test""#, vec![alice]),
            (r#"USERNAME Eq "ALICE@X.TEST""#, vec![alice]),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "CAROL""#,
                vec![carol],
            ),
            // externalId is caseExact true.
            (r#"externalId eq "ext-a""#, vec![]),
            (r#"externalId eq "EXT-A""#, vec![alice]),
            (r#"EXTERNALID eq "ext-b""#, vec![bob]),
            // Key lookups (emails.value) fold case and still apply the rest of the filter.
            (r#"emails.value eq "BOB@corp.test""#, vec![bob]),
            (r#"userName eq "bob@corp.test" and active eq true"#, vec![]),
            // and binds tighter than or: alice or (bob and inactive).
            (
                r#"userName eq "alice@x.test" or userName eq "bob@corp.test" and active eq false"#,
                vec![alice, bob],
            ),
            (
                r#"(userName eq "alice@x.test" or userName eq "bob@corp.test") and active eq false"#,
                vec![bob],
            ),
            // not binds tighter than and / or.
            (
                r#"not (userName sw "alice") and active eq true"#,
                vec![carol, owner],
            ),
            (
                r#"not (active eq true) or userName ew "x.test""#,
                vec![alice, bob, carol],
            ),
            // A value path matches within one element: bob's "@x" address is his home one.
            (
                r#"emails[type eq "work" and value co "@x"]"#,
                vec![alice, carol],
            ),
            (r#"emails.value co "@x.home""#, vec![bob]),
            (r#"emails[type eq "home"]"#, vec![bob]),
            // Extension attributes by URN path (department is caseExact false).
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "eng""#,
                vec![bob, carol],
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr and active eq true"#,
                vec![alice, carol],
            ),
            // Presence, and the member without SCIM record (the owner, derived resource).
            (r#"externalId pr"#, vec![alice, bob, carol]),
            (r#"not (externalId pr)"#, vec![owner]),
            (r#"active eq false"#, vec![bob]),
            (
                r#"meta.created gt "2000-01-01T00:00:00Z""#,
                vec![alice, bob, carol, owner],
            ),
        ];
        for (f, want) in cases {
            let mut want: Vec<String> = want.into_iter().map(str::to_owned).collect();
            want.sort();
            assert_eq!(filter(&s, tok, f).await, want, "{:?}: {f}", s.backend);
        }
        // The same filter through POST /Users/.search.
        let r = s
            .scim(
                Method::POST,
                "/Users/.search",
                Some(tok),
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": r#"emails[type eq "work" and value co "@x"]"#,
                    "attributes": ["userName"]
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(user_names(&r.body), vec![alice, carol]);
        assert!(
            r.body["Resources"][0].get("emails").is_none(),
            "attributes honoured: {}",
            r.body
        );
        // What cannot be evaluated is 400 invalidFilter, never an empty 200.
        for bad in [
            "",
            "userName eq",
            r#"userName xx "a""#,
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            r#"nosuchAttribute eq "x""#,
            r#"emails[type eq "work""#,
            r#"urn:example:bogus:2.0:User:department eq "x""#,
            r#"userName eq "unterminated"#,
            r#"active eq "yes""#,
        ] {
            let r = s
                .scim(
                    Method::GET,
                    &format!("/Users?filter={}", url_encode(bad)),
                    Some(tok),
                    None,
                )
                .await;
            assert_scim_error(
                &r,
                StatusCode::BAD_REQUEST,
                Some("invalidFilter"),
                &format!("filter {bad:?}"),
            );
        }
    }
}

#[tokio::test]
async fn pagination_is_stable_one_based_and_bounded() {
    for s in servers().await {
        let t = s.scim_org("owner@pages.test", "Pages").await;
        let tok = t.scim_token.as_str();
        for i in 0..7 {
            create(
                &s,
                tok,
                user(
                    &format!("page{i}@pages.test"),
                    &format!("page{i}@pages.test"),
                ),
            )
            .await;
        }
        let ids = |v: &Value| -> Vec<String> {
            v["Resources"]
                .as_array()
                .map(|a| a.iter().map(id).collect())
                .unwrap_or_default()
        };
        let get = |q: String| {
            let s = &s;
            async move {
                let r = s
                    .scim(Method::GET, &format!("/Users?{q}"), Some(tok), None)
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
                r.body
            }
        };
        let all = get("count=100".into()).await;
        assert_eq!(all["totalResults"], 8, "{all}");
        let full = ids(&all);
        assert_eq!(full.len(), 8);
        assert_eq!(ids(&get(String::new()).await), full, "same order again");
        // Pages of 3: 1, 4, 7 (the last one short); together the full list, in order.
        let mut paged = Vec::new();
        for (start, len) in [(1, 3), (4, 3), (7, 2)] {
            let page = get(format!("startIndex={start}&count=3")).await;
            assert_eq!(page["totalResults"], 8, "{page}");
            assert_eq!(page["startIndex"], start, "{page}");
            assert_eq!(page["itemsPerPage"], len, "{page}");
            assert_eq!(ids(&page).len(), len, "{page}");
            paged.extend(ids(&page));
        }
        assert_eq!(paged, full, "pages are stable and cover everything once");
        // count=0: only the total.
        let zero = get("count=0".into()).await;
        assert_eq!(zero["totalResults"], 8, "{zero}");
        assert_eq!(zero["itemsPerPage"], 0, "{zero}");
        assert!(ids(&zero).is_empty(), "{zero}");
        // Past the end: an empty page with the total.
        for start in [9, 1000] {
            let past = get(format!("startIndex={start}&count=5")).await;
            assert_eq!(past["totalResults"], 8, "{past}");
            assert!(ids(&past).is_empty(), "{past}");
        }
        // startIndex below 1 is 1 (RFC 7644 §3.4.2.4).
        assert_eq!(ids(&get("startIndex=0&count=2".into()).await), full[..2]);
        // Filtered pages.
        let f = url_encode(r#"userName sw "page""#);
        let filtered = get(format!("filter={f}")).await;
        assert_eq!(filtered["totalResults"], 7, "{filtered}");
        let page = get(format!("filter={f}&startIndex=6&count=5")).await;
        assert_eq!(page["totalResults"], 7, "{page}");
        assert_eq!(ids(&page), ids(&filtered)[5..], "{page}");
        // Not a number: 400.
        let r = s
            .scim(Method::GET, "/Users?count=many", Some(tok), None)
            .await;
        assert_scim_error(
            &r,
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
            "count=many",
        );
    }
}

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_are_401() {
    for s in servers().await {
        let t = s.scim_org("owner@auth.test", "Auth").await;
        // A second token, revoked below.
        let (st, second) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/scim-tokens", t.org),
                Some(&t.manager),
                Some(json!({"description": "old"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{second}");
        let second_token = second["token"].as_str().unwrap().to_owned();
        let r = s
            .scim(Method::GET, "/Users", Some(&second_token), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let (st, _) = s
            .call(
                Method::DELETE,
                &format!("/orgs/{}/scim-tokens/{}", t.org, id(&second)),
                Some(&t.manager),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);

        let wrong = format!("rcs_{}", "A".repeat(43));
        let routes = [
            (Method::GET, "/Users".to_owned(), None),
            (Method::GET, "/ServiceProviderConfig".to_owned(), None),
            (Method::GET, "/Schemas".to_owned(), None),
            (Method::GET, format!("/Users/{UNKNOWN_ID}"), None),
            (
                Method::POST,
                "/Users".to_owned(),
                Some(user("x@auth.test", "x@auth.test")),
            ),
        ];
        for (method, path, body) in routes {
            for (label, token) in [
                ("no token", None),
                ("wrong token", Some(wrong.as_str())),
                ("revoked token", Some(second_token.as_str())),
                ("manager JWT", Some(t.manager.as_str())),
            ] {
                let r = s.scim(method.clone(), &path, token, body.clone()).await;
                let what = format!("{method} {path} with {label}");
                assert_scim_error(&r, StatusCode::UNAUTHORIZED, None, &what);
                assert!(
                    r.header("www-authenticate")
                        .to_ascii_lowercase()
                        .starts_with("bearer"),
                    "{what}: {:?}",
                    r.headers
                );
            }
        }
        // Another scheme than Bearer.
        let resp = s
            .http
            .get(format!("{}/scim/v2/Users", s.base))
            .header("authorization", format!("Basic {}", t.scim_token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        // Nothing was created by the refused POSTs; the valid token still works.
        assert!(
            filter(&s, &t.scim_token, r#"userName eq "x@auth.test""#)
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn unknown_and_other_organizations_users_are_404() {
    for s in servers().await {
        let a = s.scim_org("owner@tenant-a.test", "Tenant A").await;
        let b = s.scim_org("owner@tenant-b.test", "Tenant B").await;
        let ua = create(
            &s,
            &a.scim_token,
            user("only-a@tenant-a.test", "only-a@tenant-a.test"),
        )
        .await;
        let ua_id = id(&ua);
        let patch = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": false}]});
        let put = user("stolen@tenant-b.test", "stolen@tenant-b.test");
        let probes = |who: &'static str, token: String, target: String| {
            let s = &s;
            let (patch, put) = (patch.clone(), put.clone());
            async move {
                let path = format!("/Users/{target}");
                for (method, body) in [
                    (Method::GET, None),
                    (Method::PUT, Some(put)),
                    (Method::PATCH, Some(patch)),
                    (Method::DELETE, None),
                ] {
                    let r = s.scim(method.clone(), &path, Some(&token), body).await;
                    assert_scim_error(
                        &r,
                        StatusCode::NOT_FOUND,
                        None,
                        &format!("{who}: {method} {path}"),
                    );
                }
            }
        };
        // Org B's token cannot see, change or delete org A's user.
        probes("org B's token", b.scim_token.clone(), ua_id.clone()).await;
        assert!(
            filter(&s, &b.scim_token, r#"userName eq "only-a@tenant-a.test""#)
                .await
                .is_empty()
        );
        let listed = s
            .scim(Method::GET, "/Users", Some(&b.scim_token), None)
            .await;
        assert!(!listed.body.to_string().contains(&ua_id), "{}", listed.body);
        assert_eq!(listed.body["totalResults"], 1, "B sees only its owner");
        // Unknown ids, well-formed or not.
        for target in [
            UNKNOWN_ID,
            "nope",
            "usr_",
            "org_0123456789abcdef0123456789abcdef",
        ] {
            probes("org A's token", a.scim_token.clone(), target.to_owned()).await;
        }
        // Org A's user is intact and active.
        let r = s
            .scim(
                Method::GET,
                &format!("/Users/{ua_id}"),
                Some(&a.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["userName"], "only-a@tenant-a.test");
        // After DELETE, GET is 404.
        let r = s
            .scim(
                Method::DELETE,
                &format!("/Users/{ua_id}"),
                Some(&a.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r = s
            .scim(
                Method::GET,
                &format!("/Users/{ua_id}"),
                Some(&a.scim_token),
                None,
            )
            .await;
        assert_scim_error(&r, StatusCode::NOT_FOUND, None, "deleted user");
    }
}

#[tokio::test]
async fn user_name_and_external_id_are_unique_per_organization() {
    for s in servers().await {
        let t = s.scim_org("owner@unique.test", "Unique").await;
        let tok = t.scim_token.as_str();
        let mut first = user("Dup@Unique.test", "dup@unique.test");
        first["externalId"] = json!("ext-dup");
        let first = create(&s, tok, first).await;
        let other = create(&s, tok, user("other@unique.test", "other@unique.test")).await;
        let conflict = |r: ScimResponse, what: &str| {
            assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"), what);
        };
        // POST: userName differing only in case, and a taken externalId.
        let r = s
            .scim(
                Method::POST,
                "/Users",
                Some(tok),
                Some(user("dup@UNIQUE.TEST", "dup2@unique.test")),
            )
            .await;
        conflict(r, "POST with the userName in another case");
        let mut same_ext = user("third@unique.test", "third@unique.test");
        same_ext["externalId"] = json!("ext-dup");
        let r = s
            .scim(Method::POST, "/Users", Some(tok), Some(same_ext))
            .await;
        conflict(r, "POST with a taken externalId");
        // PUT and PATCH onto a taken userName.
        let other_path = format!("/Users/{}", id(&other));
        let r = s
            .scim(
                Method::PUT,
                &other_path,
                Some(tok),
                Some(user("DUP@unique.test", "other@unique.test")),
            )
            .await;
        conflict(r, "PUT onto a taken userName");
        let r = s
            .scim(
                Method::PATCH,
                &other_path,
                Some(tok),
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "userName", "value": "dup@unique.TEST"}]})),
            )
            .await;
        conflict(r, "PATCH onto a taken userName");
        // A user may change the case of their own userName; the sent case is kept.
        let r = s
            .scim(
                Method::PATCH,
                &format!("/Users/{}", id(&first)),
                Some(tok),
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "userName", "value": "DUP@UNIQUE.TEST"}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["userName"], "DUP@UNIQUE.TEST");
        assert_eq!(
            filter(&s, tok, r#"userName eq "dup@unique.test""#).await,
            vec!["DUP@UNIQUE.TEST"]
        );
        // The same userName in another organization is fine.
        let other_org = s.scim_org("owner@unique2.test", "Unique 2").await;
        create(
            &s,
            &other_org.scim_token,
            user("dup@unique.test", "dup@unique.test"),
        )
        .await;

        // 10 concurrent POSTs of one userName (different emails): one 201, nine 409.
        let posts = (0..10).map(|i| {
            s.scim(
                Method::POST,
                "/Users",
                Some(tok),
                Some(user(
                    if i % 2 == 0 {
                        "Racer@Unique.test"
                    } else {
                        "racer@unique.test"
                    },
                    &format!("racer{i}@unique.test"),
                )),
            )
        });
        let results = futures_util::future::join_all(posts).await;
        let created: Vec<&ScimResponse> = results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .collect();
        assert_eq!(
            created.len(),
            1,
            "{:?}: {:?}",
            s.backend,
            results
                .iter()
                .map(|r| (r.status, &r.body))
                .collect::<Vec<_>>()
        );
        for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
            assert_scim_error(r, StatusCode::CONFLICT, Some("uniqueness"), "racing POST");
        }
        assert_eq!(
            filter(&s, tok, r#"userName eq "RACER@unique.test""#)
                .await
                .len(),
            1
        );
        assert_eq!(filter(&s, tok, r#"emails.value sw "racer""#).await.len(), 1);
        let (_, members) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        assert_eq!(
            members["items"].as_array().map(Vec::len),
            Some(4),
            "owner, dup, other, one racer: {members}"
        );
    }
}

#[tokio::test]
async fn content_types_in_and_out() {
    for s in servers().await {
        let t: ScimOrgSetup = s.scim_org("owner@media.test", "Media").await;
        let tok = Some(t.scim_token.as_str());
        let body = |n: &str| user(&format!("{n}@media.test"), &format!("{n}@media.test"));
        let bytes = |n: &str| body(n).to_string().into_bytes();
        for (n, ct) in [
            ("scim", "application/scim+json"),
            ("json", "application/json"),
            ("charset", "application/scim+json; charset=utf-8"),
        ] {
            let r = s
                .scim_raw(Method::POST, "/Users", tok, Some((bytes(n), ct)))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{ct}: {}", r.body);
            assert!(
                r.header("content-type")
                    .starts_with("application/scim+json"),
                "{ct}: {:?}",
                r.headers
            );
            assert_eq!(
                r.header("location"),
                r.body["meta"]["location"].as_str().unwrap(),
                "{ct}"
            );
            assert!(
                r.header("location").starts_with(&s.base),
                "absolute Location: {:?}",
                r.headers
            );
        }
        for ct in [
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
        ] {
            let r = s
                .scim_raw(Method::POST, "/Users", tok, Some((bytes("refused"), ct)))
                .await;
            assert_scim_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, None, ct);
        }
        let r = s
            .scim_raw(
                Method::POST,
                "/Users",
                tok,
                Some((b"{\"userName\": ".to_vec(), "application/scim+json")),
            )
            .await;
        assert_scim_error(
            &r,
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "truncated JSON",
        );
        assert!(
            filter(&s, &t.scim_token, r#"userName eq "refused@media.test""#)
                .await
                .is_empty(),
            "refused requests created nothing"
        );
        // PATCH with plain application/json; every response is application/scim+json.
        let uid = id(&filter_one(&s, &t.scim_token, "json@media.test").await);
        let patch = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Jay"}]});
        let r = s
            .scim_raw(
                Method::PATCH,
                &format!("/Users/{uid}"),
                tok,
                Some((patch.to_string().into_bytes(), "application/json")),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["displayName"], "Jay");
        for path in [
            "/Users".to_owned(),
            format!("/Users/{uid}"),
            "/ServiceProviderConfig".to_owned(),
            "/Schemas".to_owned(),
            "/ResourceTypes".to_owned(),
            "/NoSuchEndpoint".to_owned(),
        ] {
            let r = s.scim(Method::GET, &path, tok, None).await;
            assert!(
                r.header("content-type")
                    .starts_with("application/scim+json"),
                "GET {path} → {}: {:?}",
                r.status,
                r.headers
            );
        }
    }
}

/// The one User with this `userName`.
async fn filter_one(s: &TestServer, token: &str, user_name: &str) -> Value {
    let r = s
        .scim(
            Method::GET,
            &format!(
                "/Users?filter={}",
                url_encode(&format!("userName eq \"{user_name}\""))
            ),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    r.body["Resources"][0].clone()
}

#[tokio::test]
async fn removing_active_leaves_it_unassigned() {
    for s in servers().await {
        let t = s.scim_org("owner@unassigned.test", "Unassigned").await;
        let tok = Some(t.scim_token.as_str());
        let mut body = user("ivy@unassigned.test", "ivy@unassigned.test");
        body["active"] = json!(false);
        let path = format!("/Users/{}", id(&create(&s, &t.scim_token, body).await));
        let remove =
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]});
        // RFC 7644 §3.5.2.2: a removed single-valued attribute is unassigned: `active` is not
        // returned until a write sets it again. The member stays suspended: only an explicit
        // `active: true` gives access back.
        let r = s.scim(Method::PATCH, &path, tok, Some(remove)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("active").is_none(), "{}", r.body);
        let r = s.scim(Method::GET, &path, tok, None).await;
        assert!(r.body.get("active").is_none(), "{}", r.body);
        let uid = path.trim_start_matches("/Users/");
        let (_, m) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users/{uid}", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        assert_eq!(m["status"], "suspended", "{m}");
        // Other PATCHes keep it unassigned; setting it brings it back.
        let rename = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Ivy"}]});
        let r = s.scim(Method::PATCH, &path, tok, Some(rename)).await;
        assert!(r.body.get("active").is_none(), "{}", r.body);
        assert_eq!(r.body["displayName"], "Ivy");
        let set = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "active", "value": true}]});
        let r = s.scim(Method::PATCH, &path, tok, Some(set)).await;
        assert_eq!(r.body["active"], true, "{}", r.body);
        let (_, m) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/users/{uid}", t.org),
                Some(&t.manager),
                None,
            )
            .await;
        assert_eq!(m["status"], "active", "{m}");
    }
}

/// Issue 8, finding 7: SCIM names and phones follow the API's rules. A name (`displayName`,
/// `name.formatted`, `givenName`, `middleName`, `familyName`) over 200 characters or with a
/// control or bidi formatting character, or a phone that is not one, is 400 `invalidValue`
/// naming the attribute, on POST, PUT and PATCH; nothing is written.
#[tokio::test]
async fn names_and_phones_follow_the_api_rules() {
    for s in servers().await {
        let o = s.scim_org("owner@names.test", "Names").await;
        let t = o.scim_token.as_str();
        let with = |extra: Value| {
            let mut u = user("bad@names.test", "bad@names.test");
            for (k, v) in extra.as_object().unwrap() {
                u[k] = v.clone();
            }
            u
        };
        let bad = [
            (
                json!({"displayName": "Mallory\u{202E}gpj.exe"}),
                "displayName",
            ),
            (json!({"displayName": "x".repeat(1024)}), "displayName"),
            (json!({"displayName": "y".repeat(201)}), "displayName"),
            (
                json!({"displayName": "Ada\u{0}\u{1b}[2J\r\nLovelace"}),
                "displayName",
            ),
            (
                json!({"name": {"formatted": "Eve\u{2066}Admin\u{2069}"}}),
                "name.formatted",
            ),
            (
                json!({"name": {"givenName": "z".repeat(201)}}),
                "name.givenName",
            ),
            (
                json!({"name": {"givenName": "Eve", "familyName": "Ev\nil"}}),
                "name.familyName",
            ),
            (
                json!({"phoneNumbers": [{"value": "not-a-phone", "primary": true}]}),
                "phoneNumbers",
            ),
        ];
        for (extra, attr) in bad {
            let what = format!("{:?} POST {extra}", s.backend);
            let r = s
                .scim(Method::POST, "/Users", Some(t), Some(with(extra.clone())))
                .await;
            assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"), &what);
            let detail = r.body["detail"].as_str().unwrap_or("");
            assert!(detail.contains(attr), "{what}: {detail}");
        }
        assert!(
            filter(&s, t, r#"userName eq "bad@names.test""#)
                .await
                .is_empty()
        );

        // A good user: Unicode letters are names; CR, LF and bidi controls are not.
        let good = create(
            &s,
            t,
            with(json!({
                "userName": "zoe@names.test",
                "displayName": "Zoë İpek-Ørsted",
                "phoneNumbers": [{"value": "+1 (555) 010-2000", "primary": true}]
            })),
        )
        .await;
        let path = format!("/Users/{}", id(&good));
        let mut put = good.clone();
        put["displayName"] = json!("Zoë\u{202E}");
        let r = s.scim(Method::PUT, &path, Some(t), Some(put)).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"), "PUT");
        for (path_attr, value) in [
            ("displayName", json!("a\u{2067}b")),
            ("name.familyName", json!("w".repeat(201))),
            (
                "phoneNumbers",
                json!([{"value": "call me", "primary": true}]),
            ),
        ] {
            let op = json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": path_attr, "value": value}]});
            let r = s.scim(Method::PATCH, &path, Some(t), Some(op)).await;
            assert_scim_error(
                &r,
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                &format!("PATCH {path_attr}"),
            );
        }
        let r = s.scim(Method::GET, &path, Some(t), None).await;
        assert_eq!(r.body["displayName"], "Zoë İpek-Ørsted", "{}", r.body);
        assert_eq!(r.body["phoneNumbers"][0]["value"], "+1 (555) 010-2000");
        // A PATCH that does not touch them still works.
        let op = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]});
        let r = s.scim(Method::PATCH, &path, Some(t), Some(op)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}
