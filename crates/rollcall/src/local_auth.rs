//! Local identity: HS256 JWTs signed with a key kept in the data directory. The local server
//! verifies them ([`crate::auth`]) and hands handlers exactly the claims API Gateway's JWT
//! authorizer would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rollcall_domain::service::Claims;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Issuer and audience of local tokens.
pub const LOCAL_ISSUER: &str = "rollcall-local";

/// The claims a local token carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenClaims {
    sub: String,
    email: String,
    email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// How long a token of the local sign-in page (`POST /_local/token`) stays valid.
pub const SIGN_IN_TTL_HOURS: i64 = 12;

/// Why a local token could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The address is not an email address.
    InvalidEmail(String),
    /// The key could not sign.
    Key(String),
}

impl std::fmt::Display for SignInError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignInError::InvalidEmail(m) | SignInError::Key(m) => f.write_str(m),
        }
    }
}

/// The signing key of a data directory.
#[derive(Clone)]
pub struct LocalKey {
    secret: Arc<Vec<u8>>,
}

impl LocalKey {
    /// Loads `<data_dir>/jwt-signing.key`, creating it (32 random bytes, mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<LocalKey, String> {
        let path = key_path(data_dir);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let secret = URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|e| format!("{}: not a key: {e}", path.display()))?;
            if secret.len() < 32 {
                return Err(format!("{}: key too short", path.display()));
            }
            return Ok(LocalKey {
                secret: Arc::new(secret),
            });
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("random source failed: {e}"))?;
        write_private(&path, URL_SAFE_NO_PAD.encode(&secret).as_bytes())?;
        Ok(LocalKey {
            secret: Arc::new(secret),
        })
    }

    /// A signed token for this identity, valid for `ttl`.
    pub fn mint(&self, claims: &Claims, ttl: chrono::Duration) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let body = TokenClaims {
            sub: claims.sub.clone(),
            email: claims.email.clone().unwrap_or_default(),
            email_verified: claims.email_verified,
            name: claims.name.clone(),
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_ISSUER.into(),
            iat: now,
            exp: now + ttl.num_seconds(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &body,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| format!("cannot sign token: {e}"))
    }

    /// A token for a person of the local server, as `rollcall token` and the local sign-in page
    /// make it: the subject is derived from the normalized address unless given.
    pub fn sign_in(
        &self,
        email: &str,
        name: Option<String>,
        sub: Option<String>,
        email_verified: bool,
        ttl: chrono::Duration,
    ) -> Result<String, SignInError> {
        if rollcall_domain::Email::parse(email).is_none() {
            return Err(SignInError::InvalidEmail(format!(
                "`{email}` is not a valid email address"
            )));
        }
        let sub = sub
            .unwrap_or_else(|| format!("local|{}", rollcall_domain::email::normalize_email(email)));
        let claims = Claims {
            sub,
            email: Some(email.to_owned()),
            email_verified,
            name,
        };
        self.mint(&claims, ttl).map_err(SignInError::Key)
    }

    /// The claims of a valid token (signature, issuer, audience, expiry checked).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_ISSUER]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .ok()?;
        crate::auth::claims_from_json(&data.claims)
    }
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("jwt-signing.key")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_tampered_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalKey::load_or_create(dir.path()).unwrap();
        let claims = Claims {
            sub: "s1".into(),
            email: Some("a@b.co".into()),
            email_verified: true,
            name: Some("A".into()),
        };
        let token = key.mint(&claims, chrono::Duration::hours(1)).unwrap();
        assert_eq!(key.verify(&token), Some(claims.clone()));
        let again = LocalKey::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token).is_some(), "same key after reload");
        let other = LocalKey::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.verify(&token).is_none());
        let expired = key.mint(&claims, chrono::Duration::hours(-1)).unwrap();
        assert!(key.verify(&expired).is_none());
    }
}
