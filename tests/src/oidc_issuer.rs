//! A fake OIDC issuer on loopback for the tests of `rollcall serve --oidc-issuer`: it serves a
//! discovery document and a key set (JWKS) that a test can change (key rotation), counts the key
//! set fetches, and signs tokens with fixed test keys.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// Keys made for these tests only (`openssl genrsa 2048`, PKCS#1 DER; `openssl ecparam -name
// prime256v1`, PKCS#8 DER), base64. They sign nothing outside the tests.
include!("oidc_issuer_keys.rs");

/// A signing key with its key id and algorithm.
#[derive(Clone)]
pub struct TestKey {
    /// The `kid` tokens name and the key set lists.
    pub kid: String,
    /// The algorithm it signs with.
    pub alg: Algorithm,
    encoding: EncodingKey,
}

fn der(b64: &str) -> Vec<u8> {
    STANDARD.decode(b64).expect("test key base64")
}

impl TestKey {
    /// The first RSA key (RS256).
    pub fn rsa_a() -> TestKey {
        TestKey {
            kid: "rsa-a".into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&der(RSA_A_DER)),
        }
    }

    /// The second RSA key (RS256), for rotation.
    pub fn rsa_b() -> TestKey {
        TestKey {
            kid: "rsa-b".into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&der(RSA_B_DER)),
        }
    }

    /// A P-256 key (ES256).
    pub fn ec() -> TestKey {
        TestKey {
            kid: "ec-1".into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(&der(EC_DER)),
        }
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: &str) -> TestKey {
        self.kid = kid.into();
        self
    }

    /// The public key as a JWK (`kid`, `alg`, `use: sig`).
    pub fn jwk(&self) -> Value {
        let jwk = Jwk::from_encoding_key(&self.encoding, self.alg).expect("public jwk");
        let mut v = serde_json::to_value(jwk).expect("jwk json");
        v["kid"] = json!(self.kid);
        v["use"] = json!("sig");
        v
    }

    /// A token of these claims signed with this key, naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

#[derive(Default)]
struct Published {
    issuer_claim: Mutex<Option<String>>,
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
}

/// A running fake issuer; stops when dropped.
pub struct FakeIssuer {
    /// The issuer URL (`http://127.0.0.1:<port>`), also the `iss` of its tokens.
    pub url: String,
    state: Arc<Published>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeIssuer {
    /// Starts an issuer publishing `keys`.
    pub async fn start(keys: &[&TestKey]) -> FakeIssuer {
        let state = Arc::new(Published::default());
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = FakeIssuer { url, state, task };
        issuer.publish(keys);
        issuer
    }

    /// Replaces the published key set.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().expect("keys") = keys.iter().map(|k| k.jwk()).collect();
    }

    /// Publishes raw JWK entries (keys of other types or uses).
    pub fn publish_raw(&self, keys: Vec<Value>) {
        *self.state.keys.lock().expect("keys") = keys;
    }

    /// Makes the discovery document name another issuer than the URL it is served from.
    pub fn claim_issuer(&self, issuer: &str) {
        *self.state.issuer_claim.lock().expect("issuer") = Some(issuer.to_owned());
    }

    /// The key set URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/keys", self.url)
    }

    /// How often the key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How often the discovery document was fetched.
    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn discovery(
    State(state): State<Arc<Published>>,
    headers: axum::http::HeaderMap,
) -> axum::Json<Value> {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let own = format!("http://{host}");
    let issuer = state
        .issuer_claim
        .lock()
        .expect("issuer")
        .clone()
        .unwrap_or_else(|| own.clone());
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{own}/keys"),
        "authorization_endpoint": format!("{own}/authorize"),
        "token_endpoint": format!("{own}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(state): State<Arc<Published>>) -> axum::Json<Value> {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().expect("keys").clone();
    axum::Json(json!({ "keys": keys }))
}
