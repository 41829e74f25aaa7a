//! Idempotent requests (docs/api.md, "Idempotent requests"): a POST sent with an
//! `Idempotency-Key` is done once; a retry with the same key and the same request gets the first
//! response back. This module holds the record the stores keep per key, how its scope and the
//! request's fingerprint are computed, and which responses are kept. The HTTP layer reads the
//! header and replays; the use cases are in `service::idempotency`.

use crate::model::Timestamp;
use chrono::Duration;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Seconds a completed request's response is kept and replayed, counted from the first request
/// (24 hours, as Stripe keeps keys).
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 86_400;

/// Seconds a claim of a request still running holds its key. A request that dies without
/// answering (a crashed process, a Lambda timeout at 15 s) frees its key after this lease, so a
/// retry can do the work; it is far longer than any request may run.
pub const IDEMPOTENCY_LEASE_SECS: i64 = 300;

/// Longest `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Largest response body kept for replay, in bytes (256 KiB). A larger response is answered
/// but not kept: its claim is released, and a retry does the work again.
pub const MAX_STORED_RESPONSE_BYTES: usize = 262_144;

/// How long a completed response is kept.
pub fn idempotency_window() -> Duration {
    Duration::seconds(IDEMPOTENCY_WINDOW_SECS)
}

/// How long a claim of a running request holds its key.
pub fn idempotency_lease() -> Duration {
    Duration::seconds(IDEMPOTENCY_LEASE_SECS)
}

/// Whether `key` is a usable `Idempotency-Key`: 1 to 255 visible ASCII characters (no spaces or
/// control characters), as a UUID or any other client-made token is.
pub fn is_valid_idempotency_key(key: &str) -> bool {
    (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Who sent a keyed request: keys are scoped per caller, so two callers never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyCaller<'a> {
    /// A signed-in person, by the subject of their token.
    User(&'a str),
    /// An identity provider, by the id of the organization's SCIM token it presented.
    ScimToken(&'a str),
}

fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn caller_parts(caller: IdempotencyCaller<'_>) -> (&'static str, &str) {
    match caller {
        IdempotencyCaller::User(sub) => ("user", sub),
        IdempotencyCaller::ScimToken(id) => ("scim", id),
    }
}

/// Hashes the parts of a scope, each length-prefixed.
fn hash_parts(h: &mut Sha256, kind: &str, who: &str, org: &str, key: &str) {
    for part in [kind, who, org, key] {
        h.update(part.len().to_string().as_bytes());
        h.update(b":");
        h.update(part.as_bytes());
        h.update(b"\n");
    }
}

/// The scope of a key: SHA-256 (hex) of the caller, the organization (`-` for a route without
/// one) and the client's key, each length-prefixed so no two triples hash alike. The stores key
/// the record on it; it reveals neither the caller nor the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyScope(String);

impl IdempotencyScope {
    /// The scope of `key` sent by `caller` to the organization `org` (the `{org}` of the path or
    /// the SCIM token's organization; `None` for a route without one).
    pub fn new(caller: IdempotencyCaller<'_>, org: Option<&str>, key: &str) -> Self {
        let (kind, who) = caller_parts(caller);
        let mut h = Sha256::new();
        hash_parts(&mut h, kind, who, org.unwrap_or("-"), key);
        IdempotencyScope(hex(&h.finalize()))
    }

    /// A scope as a store read it back.
    pub fn from_stored(value: String) -> Self {
        IdempotencyScope(value)
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdempotencyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client's key as the service uses it: the [`IdempotencyScope`] the stores key the record on,
/// and the secret that seals the kept answer. Both are SHA-256 of the caller, organization and
/// key, with different prefixes, so the stored scope does not give away the sealing secret.
#[derive(Clone)]
pub struct IdempotencyKey {
    scope: IdempotencyScope,
    sealing: [u8; 32],
}

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdempotencyKey {{ scope: {} }}", self.scope)
    }
}

impl IdempotencyKey {
    /// The key `key` sent by `caller` to the organization `org` (see [`IdempotencyScope::new`]).
    pub fn new(caller: IdempotencyCaller<'_>, org: Option<&str>, key: &str) -> Self {
        let scope = IdempotencyScope::new(caller, org, key);
        let (kind, who) = caller_parts(caller);
        let mut h = Sha256::new();
        h.update(b"rollcall idempotency sealing\n");
        hash_parts(&mut h, kind, who, org.unwrap_or("-"), key);
        IdempotencyKey {
            scope,
            sealing: h.finalize().into(),
        }
    }

    /// The scope the record is kept under.
    pub fn scope(&self) -> &IdempotencyScope {
        &self.scope
    }

    /// The AEAD key of the claim made at `claimed_at`: each claim seals at most one answer, so a
    /// fixed nonce is never used twice with one key.
    fn claim_key(&self, claimed_at: Timestamp) -> Option<LessSafeKey> {
        let mut h = Sha256::new();
        h.update(self.sealing);
        h.update(claimed_at.timestamp().to_be_bytes());
        h.update(claimed_at.timestamp_subsec_nanos().to_be_bytes());
        let bytes: [u8; 32] = h.finalize().into();
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes).ok()?;
        Some(LessSafeKey::new(unbound))
    }

    /// Seals an answer's body for the claim made at `claimed_at` (ChaCha20-Poly1305, the scope as
    /// associated data): the store keeps only this, so a secret in an answer (a SCIM token, an
    /// invite link's token) is never stored readable, and only a client presenting the key again
    /// can have it back. `None` only if the cipher refuses (inputs over 256 GiB).
    pub fn seal(&self, claimed_at: Timestamp, body: &[u8]) -> Option<Vec<u8>> {
        let mut sealed = body.to_vec();
        let aad = Aad::from(self.scope.as_str().as_bytes());
        self.claim_key(claimed_at)?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key([0; 12]), aad, &mut sealed)
            .ok()?;
        Some(sealed)
    }

    /// Opens a body [`IdempotencyKey::seal`] sealed; `None` when it does not authenticate.
    pub fn open(&self, claimed_at: Timestamp, sealed: &[u8]) -> Option<Vec<u8>> {
        let mut buf = sealed.to_vec();
        let aad = Aad::from(self.scope.as_str().as_bytes());
        let plain = self
            .claim_key(claimed_at)?
            .open_in_place(Nonce::assume_unique_for_key([0; 12]), aad, &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The fingerprint of a request: SHA-256 (hex) of its method, path with query, and body bytes. The
/// same key with another fingerprint is another request (422).
pub fn request_fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path_and_query.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex(&h.finalize())
}

/// A response header kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHeader {
    /// Lowercase name.
    pub name: String,
    /// Value (visible ASCII).
    pub value: String,
}

/// The first response to a keyed request, as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The headers worth replaying ([`REPLAYED_HEADERS`]).
    pub headers: Vec<StoredHeader>,
    /// The body bytes (base64 in JSON), sealed by [`IdempotencyKey::seal`] when stored.
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// The response headers a replay repeats: the body's type, a created resource's address, and
/// how to authenticate after a 401. Request ids and dates are the replay's own.
pub const REPLAYED_HEADERS: [&str; 3] = ["content-type", "location", "www-authenticate"];

/// Whether a response to a keyed request is kept for replay: every 2xx, 3xx and 4xx answer of at
/// most [`MAX_STORED_RESPONSE_BYTES`], except the answers that say "try again later" (408 request
/// timeout, 429 rate limited) and every 5xx; for those the claim is released so that a retry does
/// the work.
pub fn keeps_response(status: u16, body_len: usize) -> bool {
    (200..500).contains(&status)
        && status != 408
        && status != 429
        && body_len <= MAX_STORED_RESPONSE_BYTES
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Where a keyed request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IdempotencyState {
    /// Claimed; the request is running (or died: its lease then runs out).
    InProgress,
    /// Answered; the response is replayed.
    Completed {
        /// The first response.
        response: StoredResponse,
    },
}

/// What the stores keep per key scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key's scope (caller, organization, key).
    pub scope: IdempotencyScope,
    /// The fingerprint of the request that claimed it.
    pub fingerprint: String,
    /// Running or answered.
    #[serde(flatten)]
    pub state: IdempotencyState,
    /// When the key was claimed (also what identifies this claim in later writes).
    pub created_at: Timestamp,
    /// When the record stops counting: the claim's lease while in progress, the end of the
    /// 24-hour window once completed. An expired record is as good as absent.
    pub expires_at: Timestamp,
}

impl IdempotencyRecord {
    /// A new claim of `scope` at `now`, held for [`IDEMPOTENCY_LEASE_SECS`].
    pub fn claim(scope: IdempotencyScope, fingerprint: String, now: Timestamp) -> Self {
        IdempotencyRecord {
            scope,
            fingerprint,
            state: IdempotencyState::InProgress,
            created_at: now,
            expires_at: now + idempotency_lease(),
        }
    }

    /// This claim completed with `response`, kept until 24 hours after the claim.
    pub fn completed(&self, response: StoredResponse) -> Self {
        IdempotencyRecord {
            state: IdempotencyState::Completed { response },
            expires_at: self.created_at + idempotency_window(),
            ..self.clone()
        }
    }

    /// Whether the record no longer counts at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }
}

/// What [`crate::ports::Store::claim_idempotency_key`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its record expired): the new claim is stored.
    Claimed,
    /// An unexpired record holds the key; nothing was written.
    Existing(IdempotencyRecord),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(is_valid_idempotency_key("a"));
        assert!(is_valid_idempotency_key(&"k".repeat(255)));
        assert!(is_valid_idempotency_key(
            "0f8fad5b-d9cb-469f-a165-70867728950e"
        ));
        for bad in ["", " ", "a b", "tab\t", "é", &"k".repeat(256)] {
            assert!(!is_valid_idempotency_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn scopes_separate_callers_orgs_and_keys() {
        let base = IdempotencyScope::new(IdempotencyCaller::User("s"), Some("org_1"), "k");
        assert_eq!(
            base,
            IdempotencyScope::new(IdempotencyCaller::User("s"), Some("org_1"), "k")
        );
        for other in [
            IdempotencyScope::new(IdempotencyCaller::User("t"), Some("org_1"), "k"),
            IdempotencyScope::new(IdempotencyCaller::ScimToken("s"), Some("org_1"), "k"),
            IdempotencyScope::new(IdempotencyCaller::User("s"), Some("org_2"), "k"),
            IdempotencyScope::new(IdempotencyCaller::User("s"), None, "k"),
            IdempotencyScope::new(IdempotencyCaller::User("s"), Some("org_1"), "k2"),
            // Parts cannot run into each other.
            IdempotencyScope::new(IdempotencyCaller::User("s:1"), Some("org_1"), "k"),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(base.as_str().len(), 64);
    }

    #[test]
    fn kept_bodies_are_sealed_to_the_key_and_the_claim() {
        let now = chrono::Utc::now();
        let key = IdempotencyKey::new(IdempotencyCaller::User("s"), Some("org_1"), "k");
        let secret = b"{\"token\":\"rcs_secret\"}";
        let sealed = key.seal(now, secret).unwrap();
        assert_eq!(sealed.len(), secret.len() + 16);
        assert!(!sealed.windows(10).any(|w| w == b"rcs_secret"));
        assert_eq!(key.open(now, &sealed).as_deref(), Some(secret.as_slice()));
        assert_eq!(
            key.scope(),
            &IdempotencyScope::new(IdempotencyCaller::User("s"), Some("org_1"), "k")
        );
        // Another key, caller or claim cannot open it, nor can a tampered body be opened.
        let other = IdempotencyKey::new(IdempotencyCaller::User("s"), Some("org_1"), "k2");
        assert_eq!(other.open(now, &sealed), None);
        assert_eq!(key.open(now + Duration::nanoseconds(1), &sealed), None);
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert_eq!(key.open(now, &tampered), None);
        let empty = key.seal(now, b"").unwrap();
        assert_eq!(key.open(now, &empty).as_deref(), Some(&b""[..]));
    }

    #[test]
    fn fingerprints_cover_method_path_and_body() {
        let f = request_fingerprint("POST", "/orgs", b"{}");
        assert_eq!(f, request_fingerprint("POST", "/orgs", b"{}"));
        assert_ne!(f, request_fingerprint("POST", "/orgs", b"{ }"));
        assert_ne!(f, request_fingerprint("POST", "/orgs?x=1", b"{}"));
        assert_ne!(f, request_fingerprint("PUT", "/orgs", b"{}"));
    }

    #[test]
    fn which_responses_are_kept() {
        for kept in [200, 201, 204, 400, 403, 404, 409, 422] {
            assert!(keeps_response(kept, 10), "{kept}");
        }
        for released in [408, 429, 500, 503] {
            assert!(!keeps_response(released, 10), "{released}");
        }
        assert!(keeps_response(201, MAX_STORED_RESPONSE_BYTES));
        assert!(!keeps_response(201, MAX_STORED_RESPONSE_BYTES + 1));
    }

    #[test]
    fn records_round_trip_as_json() {
        let now = chrono::Utc::now();
        let scope = IdempotencyScope::new(IdempotencyCaller::User("s"), None, "k");
        let claim = IdempotencyRecord::claim(scope, "f".into(), now);
        assert_eq!(claim.expires_at, now + idempotency_lease());
        let done = claim.completed(StoredResponse {
            status: 201,
            headers: vec![StoredHeader {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: vec![0, 159, 146, 150],
        });
        assert_eq!(done.expires_at, now + idempotency_window());
        for r in [claim, done] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<IdempotencyRecord>(&json).unwrap(), r);
        }
    }
}
