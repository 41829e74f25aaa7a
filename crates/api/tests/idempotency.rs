//! `Idempotency-Key` on POST routes, in-process over the embedded store: a replay answers the
//! first response without doing the work again, another request with the key is 422, a duplicate
//! while the first runs is 409, keys are per caller and per organization, a bad key is 400, an
//! answer that says "try again" (5xx) frees the key, and a request without the header is as
//! before. Also for SCIM `POST /Users`.

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use rollcall_api::{AppState, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
use rollcall_domain::idempotency::{
    Claim, IdempotencyCaller, IdempotencyRecord, IdempotencyScope, IdempotencyState,
};
use rollcall_domain::ports::{
    InvitationEmail, MailError, Mailer, OsRandomness, Randomness, SentMail, Store, SystemClock,
};
use rollcall_domain::service::{Claims, Service, ServiceConfig};
use rollcall_store_embedded::EmbeddedStore;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Records mails; while `hold` is set, each send waits for a permit of `gate` (and says it
/// started on `entered`).
struct GatedMailer {
    sent: Mutex<Vec<InvitationEmail>>,
    hold: AtomicBool,
    gate: Semaphore,
    entered: Semaphore,
}

impl Default for GatedMailer {
    fn default() -> Self {
        GatedMailer {
            sent: Mutex::default(),
            hold: AtomicBool::new(false),
            gate: Semaphore::new(0),
            entered: Semaphore::new(0),
        }
    }
}

#[async_trait]
impl Mailer for GatedMailer {
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<SentMail, MailError> {
        if self.hold.load(Ordering::SeqCst) {
            self.entered.add_permits(1);
            let permit = self.gate.acquire().await;
            drop(permit);
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(email.clone());
        Ok(SentMail {
            message_id: format!("gated-{}", sent.len()),
        })
    }
}

/// The OS random source, except that it fails while `fail` is set (503 for the secret makers).
#[derive(Default)]
struct FlakyRandomness {
    fail: AtomicBool,
}

impl Randomness for FlakyRandomness {
    fn secret_bytes(&self) -> Result<[u8; 32], String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("no entropy today".into());
        }
        OsRandomness.secret_bytes()
    }
}

struct App {
    router: Router,
    store: EmbeddedStore,
    mails: Arc<GatedMailer>,
    random: Arc<FlakyRandomness>,
}

fn app_over(store: EmbeddedStore) -> App {
    let mails = Arc::new(GatedMailer::default());
    let random = Arc::new(FlakyRandomness::default());
    let service = Service::new(
        Arc::new(store.clone()),
        mails.clone(),
        Arc::new(SystemClock),
        random.clone(),
        ServiceConfig {
            accept_url: "https://app.test/accept".into(),
        },
    );
    App {
        router: rollcall_api::all_routes(AppState::new(service)),
        store,
        mails,
        random,
    }
}

fn app() -> App {
    app_over(EmbeddedStore::in_memory().unwrap())
}

fn person(email: &str) -> Claims {
    Claims {
        sub: format!("sub|{email}"),
        email: Some(email.into()),
        email_verified: true,
        name: Some("Person".into()),
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} {}", self.status, self.headers, self.body)
    }
}

impl Resp {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn replayed(&self) -> bool {
        self.headers.get(IDEMPOTENT_REPLAYED_HEADER) == Some(&HeaderValue::from_static("true"))
    }
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

/// A POST of `body` as `who` (JSON), with `key` as its Idempotency-Key when given.
fn post(path: &str, who: Option<&Claims>, body: &Value, key: Option<&str>) -> Request<Body> {
    post_raw(path, who, serde_json::to_vec(body).unwrap(), key)
}

fn post_raw(path: &str, who: Option<&Claims>, body: Vec<u8>, key: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        b = b.header(IDEMPOTENCY_KEY_HEADER, k);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    if let Some(c) = who {
        req.extensions_mut().insert(c.clone());
    }
    req
}

async fn get(router: &Router, path: &str, who: &Claims) -> Resp {
    let mut req = Request::builder().uri(path).body(Body::empty()).unwrap();
    req.extensions_mut().insert(who.clone());
    send(router, req).await
}

/// An organization of `owner`: its id and root pool.
async fn org(router: &Router, owner: &Claims, name: &str) -> (String, String) {
    let r = send(
        router,
        post("/orgs", Some(owner), &json!({"name": name}), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["root_pool_id"].as_str().unwrap().to_owned(),
    )
}

async fn pool_count(router: &Router, org: &str, who: &Claims) -> usize {
    let r = get(router, &format!("/orgs/{org}/pools"), who).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"].as_array().unwrap().len()
}

fn invite_body(email: &str, root: &str) -> Value {
    json!({
        "invitations": [{"email": email}],
        "assignments": [{"role": "engineer", "pool_id": root}],
    })
}

#[tokio::test]
async fn a_replay_answers_the_first_response_without_doing_the_work() {
    let a = app();
    let owner = person("owner@replay.test");
    let (org, _) = org(&a.router, &owner, "Replay").await;
    let path = format!("/orgs/{org}/pools");
    let body = json!({"name": "Engineering"});

    let first = send(&a.router, post(&path, Some(&owner), &body, Some("key-1"))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert!(!first.replayed(), "{first:?}");
    let second = send(&a.router, post(&path, Some(&owner), &body, Some("key-1"))).await;
    assert_eq!(second.status, StatusCode::CREATED, "{second:?}");
    assert!(second.replayed(), "{second:?}");
    assert_eq!(second.raw, first.raw);
    assert_eq!(
        second.headers.get(header::CONTENT_TYPE),
        first.headers.get(header::CONTENT_TYPE)
    );
    assert!(second.headers.contains_key("x-request-id"), "{second:?}");
    // One pool was made: the root and Engineering.
    assert_eq!(pool_count(&a.router, &org, &owner).await, 2);

    // An answer in error is kept too: the same invalid request gets the same 400 again.
    let bad = json!({"name": ""});
    let first = send(&a.router, post(&path, Some(&owner), &bad, Some("key-2"))).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST, "{first:?}");
    let again = send(&a.router, post(&path, Some(&owner), &bad, Some("key-2"))).await;
    assert_eq!(
        (again.status, again.replayed()),
        (StatusCode::BAD_REQUEST, true)
    );
    assert_eq!(again.raw, first.raw);
}

#[tokio::test]
async fn an_invitation_posted_twice_with_a_key_is_mailed_once() {
    let a = app();
    let owner = person("owner@mail-once.test");
    let (org, root) = org(&a.router, &owner, "Mail once").await;
    let path = format!("/orgs/{org}/invitations");
    let body = invite_body("bob@mail-once.test", &root);
    let first = send(&a.router, post(&path, Some(&owner), &body, Some("inv-1"))).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["results"][0]["result"], "invited", "{first:?}");
    let second = send(&a.router, post(&path, Some(&owner), &body, Some("inv-1"))).await;
    assert!(second.replayed(), "{second:?}");
    assert_eq!(second.raw, first.raw);
    assert_eq!(a.mails.sent.lock().unwrap().len(), 1);
    // Without the key, the same request is a new one: the invitation is resent.
    let third = send(&a.router, post(&path, Some(&owner), &body, None)).await;
    assert_eq!(third.body["results"][0]["result"], "resent", "{third:?}");
    assert_eq!(a.mails.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_key_for_another_request_is_422() {
    let a = app();
    let owner = person("owner@reuse.test");
    let (org, _) = org(&a.router, &owner, "Reuse").await;
    let path = format!("/orgs/{org}/pools");
    let first = send(
        &a.router,
        post(&path, Some(&owner), &json!({"name": "One"}), Some("k")),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    for other in [
        post(&path, Some(&owner), &json!({"name": "Two"}), Some("k")),
        // The same JSON, other bytes: the fingerprint is of the body as sent.
        post_raw(
            &path,
            Some(&owner),
            b"{ \"name\": \"One\" }".to_vec(),
            Some("k"),
        ),
        post(
            &format!("{path}?x=1"),
            Some(&owner),
            &json!({"name": "One"}),
            Some("k"),
        ),
    ] {
        let r = send(&a.router, other).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            "{r:?}"
        );
    }
    assert_eq!(pool_count(&a.router, &org, &owner).await, 2);
}

#[tokio::test]
async fn a_duplicate_while_the_first_runs_is_409() {
    let a = app();
    let owner = person("owner@busy.test");
    let (org, root) = org(&a.router, &owner, "Busy").await;
    let path = format!("/orgs/{org}/invitations");
    let body = invite_body("carol@busy.test", &root);
    a.mails.hold.store(true, Ordering::SeqCst);
    let first = tokio::spawn({
        let (router, path, owner, body) =
            (a.router.clone(), path.clone(), owner.clone(), body.clone());
        async move { send(&router, post(&path, Some(&owner), &body, Some("busy"))).await }
    });
    // The first request is in the mailer now, its key claimed.
    a.mails.entered.acquire().await.unwrap().forget();
    let dup = tokio::time::timeout(
        Duration::from_secs(10),
        send(&a.router, post(&path, Some(&owner), &body, Some("busy"))),
    )
    .await
    .expect("the duplicate is answered at once, not run");
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "idempotency_key_in_use"),
        "{dup:?}"
    );
    assert_eq!(
        dup.headers.get(header::RETRY_AFTER),
        Some(&HeaderValue::from_static("1"))
    );
    // Another body with the key is still 422, running or not.
    let other = tokio::time::timeout(
        Duration::from_secs(10),
        send(
            &a.router,
            post(
                &path,
                Some(&owner),
                &invite_body("dan@busy.test", &root),
                Some("busy"),
            ),
        ),
    )
    .await
    .expect("answered at once");
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{other:?}");
    a.mails.hold.store(false, Ordering::SeqCst);
    a.mails.gate.add_permits(1);
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let retry = send(&a.router, post(&path, Some(&owner), &body, Some("busy"))).await;
    assert!(retry.replayed(), "{retry:?}");
    assert_eq!(retry.raw, first.raw);
    assert_eq!(a.mails.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn keys_are_per_caller_and_per_organization() {
    let a = app();
    let (ann, ben) = (person("ann@scope.test"), person("ben@scope.test"));
    // Two callers, one key, the same request: two organizations.
    let body = json!({"name": "Same"});
    let r1 = send(&a.router, post("/orgs", Some(&ann), &body, Some("shared"))).await;
    let r2 = send(&a.router, post("/orgs", Some(&ben), &body, Some("shared"))).await;
    assert_eq!(
        (r1.status, r2.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert!(!r2.replayed(), "{r2:?}");
    assert_ne!(r1.body["id"], r2.body["id"]);
    // One caller, one key, two organizations: independent (not 422 for another path).
    let (org1, _) = org(&a.router, &ann, "One").await;
    let (org2, _) = org(&a.router, &ann, "Two").await;
    for o in [&org1, &org2] {
        let r = send(
            &a.router,
            post(
                &format!("/orgs/{o}/pools"),
                Some(&ann),
                &json!({"name": "P"}),
                Some("shared"),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert!(!r.replayed(), "{r:?}");
        assert_eq!(pool_count(&a.router, o, &ann).await, 2);
    }
}

#[tokio::test]
async fn a_bad_key_is_400_and_nothing_is_done() {
    let a = app();
    let owner = person("owner@badkey.test");
    let (org, _) = org(&a.router, &owner, "Bad key").await;
    let path = format!("/orgs/{org}/pools");
    let long = "k".repeat(256);
    let mut requests = vec![
        post(&path, Some(&owner), &json!({"name": "A"}), Some("")),
        post(
            &path,
            Some(&owner),
            &json!({"name": "A"}),
            Some("has space"),
        ),
        post(&path, Some(&owner), &json!({"name": "A"}), Some(&long)),
    ];
    let mut non_ascii = post(&path, Some(&owner), &json!({"name": "A"}), None);
    non_ascii.headers_mut().insert(
        IDEMPOTENCY_KEY_HEADER,
        HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
    );
    requests.push(non_ascii);
    let mut twice = post(&path, Some(&owner), &json!({"name": "A"}), Some("one"));
    twice
        .headers_mut()
        .append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("two"));
    requests.push(twice);
    for req in requests {
        let r = send(&a.router, req).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
            "{r:?}"
        );
    }
    assert_eq!(pool_count(&a.router, &org, &owner).await, 1);
    // The longest key is fine.
    let r = send(
        &a.router,
        post(
            &path,
            Some(&owner),
            &json!({"name": "A"}),
            Some(&long[..255]),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

#[tokio::test]
async fn a_5xx_frees_the_key_for_a_retry() {
    let a = app();
    let owner = person("owner@retry.test");
    let (org, _) = org(&a.router, &owner, "Retry").await;
    let path = format!("/orgs/{org}/scim-tokens");
    let body = json!({"description": "Okta"});
    a.random.fail.store(true, Ordering::SeqCst);
    let failed = send(&a.router, post(&path, Some(&owner), &body, Some("tok"))).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE, "{failed:?}");
    a.random.fail.store(false, Ordering::SeqCst);
    let retried = send(&a.router, post(&path, Some(&owner), &body, Some("tok"))).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{retried:?}");
    assert!(!retried.replayed(), "the retry did the work: {retried:?}");
    let replay = send(&a.router, post(&path, Some(&owner), &body, Some("tok"))).await;
    assert!(replay.replayed(), "{replay:?}");
    assert_eq!(replay.raw, retried.raw);
    let list = get(&a.router, &path, &owner).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{list:?}");
}

#[tokio::test]
async fn a_kept_answer_holds_no_readable_secret() {
    let a = app();
    let owner = person("owner@sealed.test");
    let (org, _) = org(&a.router, &owner, "Sealed").await;
    let path = format!("/orgs/{org}/scim-tokens");
    let first = send(
        &a.router,
        post(&path, Some(&owner), &json!({}), Some("sealed")),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let token = first.body["token"].as_str().unwrap().to_owned();
    // What the store keeps for the key: the answer's body, sealed.
    let scope = IdempotencyScope::new(IdempotencyCaller::User(&owner.sub), Some(&org), "sealed");
    let probe = IdempotencyRecord::claim(scope, "probe".into(), chrono::Utc::now());
    let Ok(Claim::Existing(kept)) = a.store.claim_idempotency_key(&probe).await else {
        panic!("the answer is kept");
    };
    let IdempotencyState::Completed { response } = kept.state else {
        panic!("completed: {kept:?}");
    };
    assert_eq!(response.status, 201);
    assert_ne!(response.body, first.raw);
    assert!(
        !response
            .body
            .windows(token.len())
            .any(|w| w == token.as_bytes()),
        "the SCIM token is kept readable"
    );
    // The client presenting the key gets it back.
    let replay = send(
        &a.router,
        post(&path, Some(&owner), &json!({}), Some("sealed")),
    )
    .await;
    assert!(replay.replayed(), "{replay:?}");
    assert_eq!(replay.body["token"], token.as_str());
}

#[tokio::test]
async fn without_a_key_or_an_identity_nothing_changes() {
    let a = app();
    let owner = person("owner@nokey.test");
    let (org, _) = org(&a.router, &owner, "No key").await;
    let path = format!("/orgs/{org}/pools");
    for name in ["A", "B"] {
        let r = send(
            &a.router,
            post(&path, Some(&owner), &json!({"name": name}), None),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert!(!r.headers.contains_key(IDEMPOTENT_REPLAYED_HEADER), "{r:?}");
    }
    // The same request twice without a key: the second is a new request (a name conflict).
    let r = send(
        &a.router,
        post(&path, Some(&owner), &json!({"name": "A"}), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    assert_eq!(pool_count(&a.router, &org, &owner).await, 3);
    // No identity: the route answers 401 with a key or without (a malformed key is 400 first).
    for (key, status, code) in [
        (Some("k"), StatusCode::UNAUTHORIZED, "unauthenticated"),
        (None, StatusCode::UNAUTHORIZED, "unauthenticated"),
        (
            Some("bad key"),
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
        ),
    ] {
        let r = send(&a.router, post("/orgs", None, &json!({"name": "X"}), key)).await;
        assert_eq!((r.status, r.code()), (status, code), "{key:?}: {r:?}");
    }
    // Other methods ignore the header.
    let mut patch = post(
        &format!("/orgs/{org}"),
        Some(&owner),
        &json!({"name": "Renamed"}),
        Some("bad key"),
    );
    *patch.method_mut() = Method::PATCH;
    assert_eq!(send(&a.router, patch).await.status, StatusCode::OK);
}

fn scim_post(path: &str, token: &str, body: &Value, key: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/scim+json");
    if let Some(k) = key {
        b = b.header(IDEMPOTENCY_KEY_HEADER, k);
    }
    b.body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

#[tokio::test]
async fn scim_user_creation_replays() {
    let a = app();
    let owner = person("owner@scim-idem.test");
    let (org, _) = org(&a.router, &owner, "SCIM").await;
    let r = send(
        &a.router,
        post(
            &format!("/orgs/{org}/scim-tokens"),
            Some(&owner),
            &json!({}),
            None,
        ),
    )
    .await;
    let token = r.body["token"].as_str().unwrap().to_owned();
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "eve@scim-idem.test",
        "emails": [{"value": "eve@scim-idem.test", "primary": true}],
    });
    let first = send(
        &a.router,
        scim_post("/scim/v2/Users", &token, &user, Some("u-1")),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let second = send(
        &a.router,
        scim_post("/scim/v2/Users", &token, &user, Some("u-1")),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{second:?}");
    assert!(second.replayed(), "{second:?}");
    assert_eq!(second.raw, first.raw);
    assert_eq!(
        second.headers.get(header::LOCATION),
        first.headers.get(header::LOCATION)
    );
    assert_eq!(
        second.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/scim+json"
    );
    // Another key is another request: the userName is taken now.
    let third = send(
        &a.router,
        scim_post("/scim/v2/Users", &token, &user, Some("u-2")),
    )
    .await;
    assert_eq!(third.status, StatusCode::CONFLICT, "{third:?}");
    assert!(!third.replayed());
    // SCIM answers its errors as SCIM Errors, the layer's too.
    let mut other = user.clone();
    other["userName"] = json!("frank@scim-idem.test");
    let reused = send(
        &a.router,
        scim_post("/scim/v2/Users", &token, &other, Some("u-1")),
    )
    .await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{reused:?}"
    );
    assert_eq!(reused.body["status"], "422", "{reused:?}");
    // A request with a wrong token is the handler's 401, key or not.
    let bad_token = format!("rcs_{}", "A".repeat(43));
    let r = send(
        &a.router,
        scim_post("/scim/v2/Users", &bad_token, &user, Some("u-3")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
}

/// What a key costs on the embedded store (on disk, group commit): prints the mean latency of
/// keyed and unkeyed `POST /orgs/{org}/pools` and of replays. Run with
/// `cargo test -p rollcall-api --test idempotency -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn keyed_post_latency() {
    let a = app_over(EmbeddedStore::temporary().unwrap());
    let owner = person("owner@bench.test");
    let (org, _) = org(&a.router, &owner, "Bench").await;
    let path = format!("/orgs/{org}/pools");
    const N: usize = 200;
    let counter = AtomicUsize::new(0);
    let measure = |label: &str, key: bool, replay: bool| {
        let (router, path, owner) = (a.router.clone(), path.clone(), owner.clone());
        let start_at = counter.fetch_add(N, Ordering::SeqCst);
        let label = label.to_owned();
        async move {
            let started = Instant::now();
            for i in 0..N {
                let n = if replay { start_at } else { start_at + i };
                let body = json!({"name": format!("pool {n}")});
                let k = format!("bench-{n}");
                let r = send(
                    &router,
                    post(&path, Some(&owner), &body, key.then_some(k.as_str())),
                )
                .await;
                assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            }
            let mean: Duration = started.elapsed() / N as u32;
            println!(
                "{label:>24}: {:>8.3} ms per request ({N} sequential)",
                mean.as_secs_f64() * 1e3
            );
        }
    };
    measure("without a key", false, false).await;
    measure("with a new key", true, false).await;
    measure("replay of one key", true, true).await;
}
