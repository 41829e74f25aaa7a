//! How `rollcall serve` authenticates bearer tokens: with the data directory's own key (local
//! sign-in, `rollcall token`), or against an external OIDC issuer's published keys. Either way,
//! handlers get exactly the [`Claims`] API Gateway's JWT authorizer would hand the Lambda
//! functions, mapped by the one function that maps claims ([`rollcall_api::claims_from_fields`]).

use crate::local_auth::LocalKey;
use crate::oidc::OidcVerifier;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rollcall_domain::ErrorCode;
use rollcall_domain::service::Claims;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Who signs the tokens the server accepts.
#[derive(Clone)]
pub enum AuthMode {
    /// Tokens signed with the data directory's key: `rollcall token` and the local sign-in.
    Local(LocalKey),
    /// Tokens of an external OIDC issuer (`--oidc-issuer`); no local sign-in is offered.
    Oidc(Arc<OidcVerifier>),
}

impl AuthMode {
    /// The claims of a valid token, or `None` for an invalid, expired or foreign one.
    pub async fn verify(&self, token: &str) -> Option<Claims> {
        match self {
            AuthMode::Local(key) => key.verify(token),
            AuthMode::Oidc(verifier) => verifier.verify(token).await,
        }
    }

    /// The local signing key, when the server signs its own tokens (local sign-in).
    pub fn local_key(&self) -> Option<&LocalKey> {
        match self {
            AuthMode::Local(key) => Some(key),
            AuthMode::Oidc(_) => None,
        }
    }

    /// The external issuer, when tokens come from one.
    pub fn oidc(&self) -> Option<&OidcVerifier> {
        match self {
            AuthMode::Local(_) => None,
            AuthMode::Oidc(verifier) => Some(verifier),
        }
    }
}

/// [`Claims`] from a verified token's JSON claims: each claim as text, as API Gateway passes
/// them (`true` as `"true"`), through the one mapping the Lambda functions use too.
pub fn claims_from_json(claims: &Map<String, Value>) -> Option<Claims> {
    rollcall_api::claims_from_fields(|key| match claims.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Middleware: a bearer JWT is verified and its claims put in the request extensions, as API
/// Gateway's authorizer would; an invalid one is refused with 401. SCIM routes carry their own
/// tokens and are left alone; requests without a token go on (public routes need none, the rest
/// answer 401 themselves).
pub async fn authenticate(auth: AuthMode, mut req: Request<Body>, next: Next) -> Response {
    if req.uri().path().starts_with("/scim/") {
        return next.run(req).await;
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    if let Some(token) = bearer {
        match auth.verify(&token).await {
            Some(claims) => {
                req.extensions_mut().insert(claims);
            }
            None => return unauthenticated(),
        }
    }
    next.run(req).await
}

fn unauthenticated() -> Response {
    let body = serde_json::json!({"error": {"code": ErrorCode::Unauthenticated.as_str(), "message": "The bearer token is invalid or expired"}});
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn json_claims_map_as_the_authorizer_passes_them() {
        let c = claims_from_json(&map(json!({
            "sub": "abc", "email": "a@b.co", "email_verified": true,
            "given_name": "Ada", "family_name": "Lovelace", "aud": "x"
        })))
        .unwrap();
        assert_eq!(c.sub, "abc");
        assert_eq!(c.email.as_deref(), Some("a@b.co"));
        assert!(c.email_verified);
        assert_eq!(c.name.as_deref(), Some("Ada Lovelace"));
        // Some providers send the flag as a string.
        let c = claims_from_json(&map(json!({"sub": "abc", "email_verified": "true"}))).unwrap();
        assert!(c.email_verified);
        let c = claims_from_json(&map(json!({"sub": "abc", "email_verified": "yes"}))).unwrap();
        assert!(!c.email_verified);
        assert!(claims_from_json(&map(json!({"email": "a@b.co"}))).is_none());
        assert!(claims_from_json(&map(json!({"sub": " "}))).is_none());
    }
}
