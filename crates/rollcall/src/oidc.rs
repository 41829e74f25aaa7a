//! External OIDC issuer mode of `rollcall serve` (`--oidc-issuer`, `--oidc-audience`): bearer
//! tokens are verified against the issuer's published keys, as API Gateway's JWT authorizer does
//! in AWS, so the API and the console can be self-hosted behind a real identity provider.
//!
//! - The key set (JWKS) comes from `--oidc-jwks-url`, else from the `jwks_uri` of
//!   `<issuer>/.well-known/openid-configuration` (whose `issuer` must be the configured one). Both
//!   are read at start: a wrong URL fails the start with a message naming it.
//! - A token is accepted only when signed with an asymmetric algorithm (RS/PS 256-512, ES256,
//!   ES384, EdDSA) by a key of the set whose `kid` it names (a token without `kid` only when the
//!   set holds one signing key), of the algorithm's type (and of the key's own `alg` when it has
//!   one); `iss` equal to the issuer, `aud` containing the audience, `exp` in the future and `nbf`
//!   past, with [`LEEWAY_SECS`] of clock skew; and a `sub`. `alg: none` and the HS256-with-the-
//!   public-key confusion never verify.
//! - A token naming an unknown `kid` (the issuer rotated its keys) makes the set be fetched
//!   again, at most once per [`MIN_REFRESH_INTERVAL`]; a set older than [`MAX_KEY_AGE`] is
//!   fetched again on the next request. A failed fetch keeps the keys already known.
//! - Issuer, discovery and JWKS URLs must be `https`, except on a loopback host (tests, a local
//!   identity provider).

use crate::auth::claims_from_json;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rollcall_domain::service::Claims;
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Seconds of clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// Least time between two fetches of the key set caused by requests (unknown `kid`, old set).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Age after which the key set is fetched again (keys an issuer withdrew stop being accepted).
pub const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Most time one fetch (discovery or key set) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The algorithms a token may be signed with: asymmetric ones only.
const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What `serve` is told about the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL, exactly the `iss` claim of its tokens.
    pub issuer: String,
    /// The audience tokens must name in `aud` (for ID tokens: the client id).
    pub audience: String,
    /// The key set URL; discovered from the issuer when `None`.
    pub jwks_url: Option<String>,
    /// The console's client id at the issuer; the audience when `None`.
    pub client_id: Option<String>,
}

/// Verifies tokens of one external issuer; keeps its keys.
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    client_id: String,
    jwks_url: String,
    http: HttpClient,
    keys: RwLock<Arc<KeySet>>,
    /// When a request last caused a fetch (held while fetching, so one request fetches).
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

/// One verification key of the set.
#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    /// The key's own `alg`, when it names one.
    alg: Option<Algorithm>,
    kind: KeyKind,
    key: DecodingKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn signs_with(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::P256 => alg == ES256,
            KeyKind::P384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

struct KeySet {
    keys: Vec<VerifyKey>,
    fetched_at: Instant,
}

enum Lookup {
    Found(VerifyKey),
    /// No key of that `kid`: the issuer may have rotated its keys.
    Unknown,
    /// A key exists but cannot verify this token (wrong type or algorithm).
    Refused,
}

impl KeySet {
    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        let candidates: Vec<&VerifyKey> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            // Without a `kid`, only an unambiguous set says which key signed.
            None if self.keys.len() == 1 => self.keys.iter().collect(),
            None => return Lookup::Refused,
        };
        if candidates.is_empty() {
            return Lookup::Unknown;
        }
        candidates
            .into_iter()
            .find(|k| k.kind.signs_with(alg) && k.alg.is_none_or(|a| a == alg))
            .map_or(Lookup::Refused, |k| Lookup::Found(k.clone()))
    }
}

impl OidcVerifier {
    /// Reads the issuer's discovery document (unless a key set URL is given) and its key set.
    pub async fn discover(settings: OidcSettings) -> Result<OidcVerifier, String> {
        let OidcSettings {
            issuer,
            audience,
            jwks_url,
            client_id,
        } = settings;
        if audience.trim().is_empty() {
            return Err("--oidc-audience (ROLLCALL_OIDC_AUDIENCE) must not be empty".into());
        }
        check_url("--oidc-issuer (ROLLCALL_OIDC_ISSUER)", &issuer)?;
        let http = HttpClient::new()?;
        let jwks_url = match jwks_url {
            Some(url) => url,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let doc = http.get_json(&url).await?;
                if doc["issuer"].as_str() != Some(issuer.as_str()) {
                    return Err(format!(
                        "{url}: its issuer {} is not the configured issuer {issuer}",
                        doc["issuer"]
                    ));
                }
                doc["jwks_uri"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{url}: no jwks_uri"))?
            }
        };
        check_url(
            "the key set URL (--oidc-jwks-url, or the jwks_uri)",
            &jwks_url,
        )?;
        let keys = fetch_keys(&http, &jwks_url).await?;
        if keys.keys.is_empty() {
            return Err(format!("{jwks_url}: no usable signing key"));
        }
        tracing::info!(%issuer, %jwks_url, keys = keys.keys.len(), "verifying tokens of an external OIDC issuer");
        Ok(OidcVerifier {
            client_id: client_id
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| audience.clone()),
            issuer,
            audience,
            jwks_url,
            http,
            keys: RwLock::new(Arc::new(keys)),
            refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// The issuer URL (the console signs in there).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The console's client id at the issuer.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The claims of a valid token of this issuer (see the module docs for what is checked).
    pub async fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return None;
        }
        let mut keys = self.current();
        if keys.fetched_at.elapsed() > MAX_KEY_AGE
            && let Some(newer) = self.refresh(&keys).await
        {
            keys = newer;
        }
        let key = match keys.lookup(header.kid.as_deref(), header.alg) {
            Lookup::Found(key) => key,
            Lookup::Refused => return None,
            Lookup::Unknown => match self
                .refresh(&keys)
                .await?
                .lookup(header.kid.as_deref(), header.alg)
            {
                Lookup::Found(key) => key,
                Lookup::Unknown | Lookup::Refused => return None,
            },
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation).ok()?;
        claims_from_json(&data.claims)
    }

    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Fetches the key set again, unless another request just did (then its result), or one was
    /// fetched less than [`MIN_REFRESH_INTERVAL`] ago (then `None`).
    async fn refresh(&self, seen: &Arc<KeySet>) -> Option<Arc<KeySet>> {
        let mut last = self.refresh.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, seen) {
            return Some(current);
        }
        if last.is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL) {
            return None;
        }
        *last = Some(Instant::now());
        match fetch_keys(&self.http, &self.jwks_url).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                match self.keys.write() {
                    Ok(mut k) => *k = keys.clone(),
                    Err(poisoned) => *poisoned.into_inner() = keys.clone(),
                }
                tracing::info!(jwks_url = %self.jwks_url, keys = keys.keys.len(), "issuer keys fetched again");
                Some(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the issuer's keys again; keeping the known ones");
                None
            }
        }
    }
}

/// The signing keys of the set at `url`; keys of other uses, types or curves are left out.
async fn fetch_keys(http: &HttpClient, url: &str) -> Result<KeySet, String> {
    let doc = http.get_json(url).await?;
    let entries = doc["keys"]
        .as_array()
        .ok_or_else(|| format!("{url}: not a JWK set (no `keys`)"))?;
    let keys = entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .filter_map(|jwk| verify_key(&jwk))
        .collect();
    Ok(KeySet {
        keys,
        fetched_at: Instant::now(),
    })
}

fn verify_key(jwk: &Jwk) -> Option<VerifyKey> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        // Symmetric keys never verify tokens of an issuer.
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(Algorithm::try_from(a).ok()?),
        None => None,
    };
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        kind,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// `https`, or `http` on a loopback host only.
fn check_url(what: &str, url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("{what}: `{url}` is not a URL: {e}"))?;
    let host = uri.host().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err(format!(
            "{what}: `{url}` must be an https URL (http only on a loopback host)"
        )),
    }
}

/// A small HTTPS client (hyper with rustls and the system's root certificates).
struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpClient {
    fn new() -> Result<HttpClient, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// GET a JSON document (200 only, at most [`MAX_DOCUMENT_BYTES`], within
    /// [`FETCH_TIMEOUT`]).
    async fn get_json(&self, url: &str) -> Result<Value, String> {
        check_url("a URL of the issuer", url)?;
        let request = hyper::Request::get(url)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| format!("{url}: {e}"))?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("cannot fetch {url}: {e}"))?;
            let status = response.status();
            if status != hyper::StatusCode::OK {
                return Err(format!("{url} answered {status}"));
            }
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|e| format!("cannot read {url}: {e}"))?
                .to_bytes();
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("{url} did not answer within {FETCH_TIMEOUT:?}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
            "http://127.0.0.1:8080/realms/x",
            "http://localhost:9000",
            "http://[::1]:9000/",
        ] {
            assert!(check_url("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com",
            "ftp://idp.example.com",
            "idp.example.com",
            "https://",
        ] {
            assert!(check_url("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_kinds_match_algorithms() {
        assert!(KeyKind::Rsa.signs_with(Algorithm::RS256));
        assert!(KeyKind::Rsa.signs_with(Algorithm::PS512));
        assert!(!KeyKind::Rsa.signs_with(Algorithm::ES256));
        assert!(!KeyKind::Rsa.signs_with(Algorithm::HS256));
        assert!(KeyKind::P256.signs_with(Algorithm::ES256));
        assert!(!KeyKind::P256.signs_with(Algorithm::ES384));
        assert!(!ALLOWED_ALGORITHMS.contains(&Algorithm::HS256));
    }
}
