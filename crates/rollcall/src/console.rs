//! The web console and the hosted accept/join pages, served by `rollcall serve` from the same
//! origin as the API: the built files (`/assets/...`), the single page behind every console route,
//! the runtime settings (`GET /console-config.json`) and, with the local identity, the local
//! sign-in (`POST /_local/token`). Every response carries the console's security headers.

use crate::local_auth::{LocalKey, SIGN_IN_TTL_HOURS, SignInError};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rollcall_api::{ApiError, JsonBody};
use rollcall_domain::ErrorCode;
use serde::Deserialize;
use std::sync::Arc;

/// The paths of the console's pages (the single page's own router tells them apart). The API owns
/// `/orgs`, `/me`, `/invitations`, `/scim` and `POST /join`; the console never uses those paths.
pub const PAGE_PATHS: &[&str] = &[
    "/",
    "/accept",
    "/join",
    "/signin",
    "/signin/callback",
    "/outbox",
    "/console",
    "/console/{*rest}",
];

/// How people sign in to the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleAuth {
    /// The local server's own tokens: the sign-in page types an email and a name.
    Local,
    /// An external OpenID Connect issuer (Authorization Code + PKCE in the browser).
    Oidc {
        /// The issuer URL.
        issuer: String,
        /// The console's client id at the issuer.
        client_id: String,
    },
}

/// What the console is served with.
#[derive(Clone)]
pub struct ConsoleOptions {
    /// How people sign in.
    pub auth: ConsoleAuth,
    /// The local outbox page exists (outbox mailer).
    pub outbox: bool,
}

struct ConsoleState {
    config_json: String,
    csp: HeaderValue,
}

/// The console's routes; `key` is the local signing key (the local sign-in exists only with
/// [`ConsoleAuth::Local`] and a key: with an external issuer the server signs no tokens).
pub fn router(opts: ConsoleOptions, key: Option<LocalKey>) -> Router {
    let state = Arc::new(ConsoleState {
        config_json: config_json(&opts),
        csp: HeaderValue::from_str(&content_security_policy(&opts.auth)).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
        }),
    });
    let mut pages = Router::new();
    for path in PAGE_PATHS {
        pages = pages.route(path, get(page));
    }
    let mut router = pages
        .route("/assets/{*file}", get(file))
        .route("/console-config.json", get(config))
        .with_state(state.clone());
    if opts.auth == ConsoleAuth::Local
        && let Some(key) = key
    {
        router = router.merge(
            Router::new()
                .route("/_local/token", post(local_sign_in))
                .with_state(key),
        );
    }
    router.layer(axum::middleware::from_fn_with_state(
        state,
        security_headers,
    ))
}

/// The settings the console reads at start (`web/src/config.ts`): same-origin API, the sign-in
/// mode, and whether the local tools (sign-in page, outbox) exist.
fn config_json(opts: &ConsoleOptions) -> String {
    let auth = match &opts.auth {
        ConsoleAuth::Local => serde_json::json!({"mode": "local"}),
        ConsoleAuth::Oidc { issuer, client_id } => serde_json::json!({
            "mode": "oidc", "issuer": issuer, "client_id": client_id, "scope": "openid email profile",
        }),
    };
    serde_json::json!({
        "api_url": "",
        "auth": auth,
        "local_tools": opts.auth == ConsoleAuth::Local && opts.outbox,
    })
    .to_string()
}

/// No inline script or style, nothing from other origins but the issuer's token endpoint, no
/// framing, no plugins.
pub fn content_security_policy(auth: &ConsoleAuth) -> String {
    let connect = match auth {
        ConsoleAuth::Local => "'self'".to_owned(),
        ConsoleAuth::Oidc { issuer, .. } => format!("'self' {}", origin_of(issuer)),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// `https://host[:port]` of a URL (the CSP names origins, not paths).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

async fn security_headers(
    State(state): State<Arc<ConsoleState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, state.csp.clone());
    // The accept and join pages carry a token in their address: no page sends a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

async fn page() -> Response {
    let index = rollcall_console::index_html();
    asset_response(index, &HeaderMap::new())
}

async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match rollcall_console::asset(&format!("assets/{file}")) {
        Some(a) => asset_response(a, &headers),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::RouteNotFound,
            format!("No console file assets/{file}"),
        )
        .into_response(),
    }
}

fn asset_response(a: rollcall_console::Asset, _req: &HeaderMap) -> Response {
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, a.cache_control()),
        ],
        a.bytes,
    )
        .into_response()
}

async fn config(State(state): State<Arc<ConsoleState>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.config_json.clone(),
    )
        .into_response()
}

/// `POST /_local/token` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    #[serde(default)]
    name: Option<String>,
}

/// The local sign-in: a token for the typed address, as `rollcall token` makes (local only).
async fn local_sign_in(State(key): State<LocalKey>, JsonBody(body): JsonBody<SignIn>) -> Response {
    let name = body
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let ttl = chrono::Duration::hours(SIGN_IN_TTL_HOURS);
    match key.sign_in(body.email.trim(), name, None, true, ttl) {
        Ok(token) => axum::Json(serde_json::json!({ "token": token })).into_response(),
        Err(SignInError::InvalidEmail(message)) => {
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, message)
                .with_details(serde_json::json!({"field": "email"}))
                .into_response()
        }
        Err(SignInError::Key(message)) => {
            tracing::error!(error = %message, "cannot sign a local token");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "The local signing key is unavailable",
            )
            .into_response()
        }
    }
}
