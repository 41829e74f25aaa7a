//! `rollcall serve --oidc-issuer ... --oidc-audience ...`: the real binary verifies bearer tokens
//! against a (fake, loopback) issuer's published keys instead of its local key. Attacks first:
//! every forged, foreign or stale token is refused with 401; then valid RS256 and ES256 tokens are
//! accepted, a rotated key is picked up, a withdrawn one is refused, unknown key ids cannot make
//! the server hammer the issuer, and a discovery document of another issuer stops the start.
//!
//! Needs `cargo build --bins` first (./scripts/test does). The tests run on a multi-threaded
//! runtime: the fake issuer must answer while `TestServer::start` blocks its thread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use rollcall_tests::oidc_issuer::{FakeIssuer, TestKey};
use rollcall_tests::server::{Backend, TestServer, rollcall_bin};
use serde_json::{Value, json};

const AUDIENCE: &str = "console-client-1";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of an ID token of `issuer` for Ada, valid for an hour.
fn claims(issuer: &FakeIssuer) -> Value {
    json!({
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": "idp|ada",
        "email": "ada@example.test",
        "email_verified": true,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(m) = claims.as_object_mut() {
        m.remove(key);
    }
    claims
}

async fn serve(issuer: &FakeIssuer, extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![
        ("ROLLCALL_OIDC_ISSUER", issuer.url.as_str()),
        ("ROLLCALL_OIDC_AUDIENCE", AUDIENCE),
    ];
    env.extend_from_slice(extra);
    TestServer::start_with_env(Backend::Embedded, &env).await
}

async fn me(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.call(Method::GET, "/me", Some(token), None).await
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token with the given header, claims and signature bytes.
fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header),
        b64(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// HS256 over the claims with `secret` (the classic confusion: the public key as an HMAC secret).
fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("hs256")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_and_stale_tokens_are_refused() {
    let rsa = TestKey::rsa_a();
    let ec = TestKey::ec();
    let issuer = FakeIssuer::start(&[&rsa, &ec]).await;
    let s = serve(&issuer, &[]).await;
    let good = claims(&issuer);

    let valid = rsa.sign(&good);
    let parts: Vec<&str> = valid.split('.').collect();
    let jwk = rsa.jwk();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n bytes");

    let cases: Vec<(&str, String)> = vec![
        (
            "wrong issuer",
            rsa.sign(&with(
                good.clone(),
                "iss",
                json!("https://evil.example.test"),
            )),
        ),
        (
            "issuer with a trailing slash",
            rsa.sign(&with(
                good.clone(),
                "iss",
                json!(format!("{}/", issuer.url)),
            )),
        ),
        (
            "wrong audience",
            rsa.sign(&with(good.clone(), "aud", json!("another-client"))),
        ),
        ("no audience", rsa.sign(&without(good.clone(), "aud"))),
        (
            "expired beyond the leeway",
            rsa.sign(&with(good.clone(), "exp", json!(now() - 120))),
        ),
        ("no expiry", rsa.sign(&without(good.clone(), "exp"))),
        (
            "not yet valid",
            rsa.sign(&with(good.clone(), "nbf", json!(now() + 600))),
        ),
        ("no subject", rsa.sign(&without(good.clone(), "sub"))),
        (
            "unknown kid",
            TestKey::rsa_b().with_kid("not-published").sign(&good),
        ),
        (
            "signed by another key under a published kid",
            TestKey::rsa_b().with_kid(&rsa.kid).sign(&good),
        ),
        (
            "claims changed after signing",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with(good.clone(), "email", json!("mallory@evil.test"))),
                parts[2]
            ),
        ),
        ("signature cut off", format!("{}.{}.", parts[0], parts[1])),
        (
            "alg none",
            raw_token(
                &json!({"alg": "none", "typ": "JWT", "kid": rsa.kid}),
                &good,
                b"",
            ),
        ),
        (
            "alg none without kid",
            raw_token(&json!({"alg": "none", "typ": "JWT"}), &good, b""),
        ),
        (
            "HS256 keyed with the RSA modulus",
            hs256(&rsa.kid, &good, &n),
        ),
        (
            "HS256 keyed with the published JWK",
            hs256(&rsa.kid, &good, jwk.to_string().as_bytes()),
        ),
        (
            "ES256 signature naming the RSA key",
            TestKey::ec().with_kid(&rsa.kid).sign(&good),
        ),
        (
            "RS256 signature naming the EC key",
            TestKey::rsa_a().with_kid(&ec.kid).sign(&good),
        ),
        (
            "a token of the server's own local key",
            s.token("ada@example.test", Some("Ada"), true),
        ),
        ("not a JWT", "abc.def".to_owned()),
    ];
    for (case, token) in &cases {
        let (st, body) = me(&s, token).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{case}");
    }
    // The valid token itself passes (the cases above fail for their reason alone).
    let (st, body) = me(&s, &valid).await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_id_tokens_are_accepted_with_their_claims() {
    let rsa = TestKey::rsa_a();
    let ec = TestKey::ec();
    let issuer = FakeIssuer::start(&[&rsa, &ec]).await;
    let s = serve(&issuer, &[]).await;
    assert_eq!(issuer.discovery_fetches(), 1, "discovery read at start");

    let (st, body) = me(&s, &rsa.sign(&claims(&issuer))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "ada@example.test");
    assert_eq!(body["user"]["name"], "Ada Lovelace");

    // ES256, a few seconds past `exp` (within the leeway), `aud` as a list, the flag as a string.
    let late = json!({
        "iss": issuer.url, "aud": ["other", AUDIENCE], "sub": "idp|ada",
        "email": "ada@example.test", "email_verified": "true", "name": "Ada L.",
        "exp": now() - 5,
    });
    let (st, body) = me(&s, &ec.sign(&late)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "ada@example.test");

    // No new key fetch was needed for known keys.
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_and_a_withdrawn_one_refused() {
    let a = TestKey::rsa_a();
    let b = TestKey::rsa_b();
    let issuer = FakeIssuer::start(&[&a]).await;
    let s = serve(&issuer, &[]).await;
    let c = claims(&issuer);
    let (st, body) = me(&s, &a.sign(&c)).await;
    assert_eq!(st, StatusCode::OK, "{body}");

    // The issuer rotates: only b is published now.
    issuer.publish(&[&b]);
    let (st, body) = me(&s, &b.sign(&c)).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the new key is fetched on its first kid: {body}"
    );
    assert_eq!(issuer.jwks_fetches(), 2);
    let (st, body) = me(&s, &a.sign(&c)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the withdrawn key: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_ids_fetch_the_key_set_at_most_once_in_a_while() {
    let a = TestKey::rsa_a();
    let issuer = FakeIssuer::start(&[&a]).await;
    let s = serve(&issuer, &[]).await;
    assert_eq!(issuer.jwks_fetches(), 1);
    let c = claims(&issuer);
    for i in 0..5 {
        let token = TestKey::rsa_b().with_kid(&format!("random-{i}")).sign(&c);
        let (st, _) = me(&s, &token).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one fetch for the first unknown kid, none for the next ones"
    );
    // Known keys keep working meanwhile.
    let (st, _) = me(&s, &a.sign(&c)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_and_encryption_keys_of_the_set_are_never_used() {
    let a = TestKey::rsa_a();
    let issuer = FakeIssuer::start(&[&a]).await;
    let secret = b"a shared secret that is long enough";
    let mut enc = TestKey::rsa_b().jwk();
    enc["use"] = json!("enc");
    issuer.publish_raw(vec![
        a.jwk(),
        json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(secret)}),
        enc,
    ]);
    let s = serve(&issuer, &[]).await;
    let c = claims(&issuer);
    let (st, _) = me(&s, &hs256("hmac", &c, secret)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "an oct key in the set");
    let (st, _) = me(&s, &TestKey::rsa_b().sign(&c)).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a key published for encryption"
    );
    let (st, _) = me(&s, &a.sign(&c)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_key_set_url_skips_discovery() {
    let a = TestKey::rsa_a();
    let issuer = FakeIssuer::start(&[&a]).await;
    let jwks = issuer.jwks_url();
    let s = serve(&issuer, &[("ROLLCALL_OIDC_JWKS_URL", &jwks)]).await;
    let (st, body) = me(&s, &a.sign(&claims(&issuer))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(issuer.discovery_fetches(), 0);
}

/// `rollcall serve` with these settings exits; returns its stderr.
fn serve_fails(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(rollcall_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("ROLLCALL_LOG_LEVEL", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run rollcall serve");
    assert!(!out.status.success(), "serve should not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_issuer_stops_the_start() {
    let a = TestKey::rsa_a();
    let issuer = FakeIssuer::start(&[&a]).await;
    issuer.claim_issuer("https://someone-else.example.test");
    let url = issuer.url.clone();
    let err = tokio::task::spawn_blocking(move || {
        serve_fails(&[
            ("ROLLCALL_OIDC_ISSUER", &url),
            ("ROLLCALL_OIDC_AUDIENCE", AUDIENCE),
        ])
    })
    .await
    .expect("join");
    assert!(err.contains("is not the configured issuer"), "{err}");

    let err = tokio::task::spawn_blocking(|| {
        serve_fails(&[
            ("ROLLCALL_OIDC_ISSUER", "http://idp.example.test"),
            ("ROLLCALL_OIDC_AUDIENCE", AUDIENCE),
        ])
    })
    .await
    .expect("join");
    assert!(err.contains("must be an https URL"), "{err}");

    // An issuer without an audience is refused by the command line.
    let err = tokio::task::spawn_blocking(|| {
        serve_fails(&[("ROLLCALL_OIDC_ISSUER", "https://idp.example.test")])
    })
    .await
    .expect("join");
    assert!(err.contains("--oidc-audience"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_issuer_the_console_signs_in_there_and_no_local_sign_in_exists() {
    let a = TestKey::rsa_a();
    let issuer = FakeIssuer::start(&[&a]).await;
    let s = serve(&issuer, &[("ROLLCALL_OIDC_CLIENT_ID", "console-spa")]).await;
    let (st, config) = s
        .call(Method::GET, "/console-config.json", None, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{config}");
    assert_eq!(config["auth"]["mode"], "oidc");
    assert_eq!(config["auth"]["issuer"], issuer.url.as_str());
    assert_eq!(config["auth"]["client_id"], "console-spa");
    assert_eq!(config["local_tools"], false);
    // The console's CSP lets the browser reach the issuer and its endpoints on other origins.
    let page = s
        .http
        .get(format!("{}/console", s.base))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!(
            "connect-src 'self' {} https://logout.idp.example.test;",
            issuer.url
        )),
        "{csp}"
    );
    let (st, body) = s
        .call(
            Method::POST,
            "/_local/token",
            None,
            Some(json!({"email": "ada@example.test"})),
        )
        .await;
    assert!(
        st == StatusCode::NOT_FOUND || st == StatusCode::METHOD_NOT_ALLOWED,
        "no local sign-in with an issuer: {st} {body}"
    );
    assert!(body.get("token").is_none());
    // Nor the outbox, which holds every organization's invitation mail (the mailer is the
    // outbox here: only its route is gone).
    let (st, body) = s.call(Method::GET, "/_local/outbox", None, None).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "no outbox with an issuer: {body}"
    );
    // Nor the event list, which holds every organization's membership changes.
    let (st, body) = s.call(Method::GET, "/_local/events", None, None).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "no event list with an issuer: {body}"
    );
}
