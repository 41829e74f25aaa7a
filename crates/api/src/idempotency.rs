//! `Idempotency-Key` on every POST route (docs/api.md, "Idempotent requests"), as a layer of every
//! router, so the local server and each Lambda function behave alike.
//!
//! A POST with the header is scoped to its caller (the token's subject, or the SCIM token) and
//! organization (`{org}` of the path, or the SCIM token's) and fingerprinted (method, path and
//! body); the key is then claimed in the store before the handler runs. A free key runs the
//! handler and keeps its answer (except 408, 429, 5xx and bodies over 256 KiB, which release the
//! claim so that a retry does the work); the same request again gets the kept answer with
//! `Idempotent-Replayed: true`, without running the handler; another request with the key is 422
//! `idempotency_key_reused`; one arriving while the first still runs is 409
//! `idempotency_key_in_use` with `Retry-After: 1`. Kept bodies are sealed to the client's key
//! (`IdempotencyKey::seal`), so secrets in answers are never stored readable. A request without
//! the header, of another
//! method, or without an identity (the handler answers 401) goes through untouched.
//!
//! Cost per keyed request: the claim (one conditional write that also returns a record already
//! there), then one write to keep the answer (or one delete to release it); a replay is the claim
//! alone.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{read_body, request_claims};
use crate::handlers::scim;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rollcall_domain::ErrorCode;
use rollcall_domain::idempotency::{
    IdempotencyCaller, IdempotencyKey, MAX_IDEMPOTENCY_KEY_LEN, REPLAYED_HEADERS, StoredHeader,
    StoredResponse, is_valid_idempotency_key, keeps_response, request_fingerprint,
};
use rollcall_domain::service::{IdempotentStart, ScimOrg};

/// The request header carrying the client's key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The response header set (to `true`) on a replayed answer.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";

/// Seconds a client is told to wait when its key's first request is still running.
pub const IN_USE_RETRY_AFTER_SECS: u64 = 1;

/// Who sent the request, as the key is scoped.
enum Sender {
    User(String),
    Scim(ScimOrg),
}

/// The middleware (see the module documentation).
pub async fn idempotency(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(IDEMPOTENCY_KEY_HEADER) {
        return next.run(req).await;
    }
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let is_scim = scim::is_scim_path(&route);
    let fail = |e: ApiError| {
        if is_scim {
            scim::failure(e)
        } else {
            e.into_response()
        }
    };
    let Some(key) = client_key(&req) else {
        return fail(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidIdempotencyKey,
            format!(
                "Idempotency-Key must be one header of 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible \
                 ASCII characters (a UUID is a good key)"
            ),
        ));
    };
    let sender = if is_scim {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match scim::authenticate(&state, authorization).await {
            Ok(org) => Sender::Scim(org),
            // The handler answers (401, or 503 when the store failed).
            Err(_) => return next.run(req).await,
        }
    } else {
        match request_claims(req.extensions()) {
            Some(claims) => Sender::User(claims.sub),
            None => return next.run(req).await,
        }
    };
    let (caller, org) = match &sender {
        Sender::User(sub) => (
            IdempotencyCaller::User(sub),
            path_org(&route, req.uri().path()),
        ),
        Sender::Scim(o) => (
            IdempotencyCaller::ScimToken(o.token_id.as_str()),
            Some(o.org_id.as_str()),
        ),
    };
    let key = IdempotencyKey::new(caller, org, &key);

    // The body, within the body limit (413 above it), kept for the handler.
    let mut probe = Request::new(std::mem::take(req.body_mut()));
    *probe.extensions_mut() = req.extensions().clone();
    let body = match read_body(probe, &()).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let fingerprint = request_fingerprint(Method::POST.as_str(), path, &body);
    *req.body_mut() = Body::from(body);

    let claim = match state.service.start_idempotent(&key, fingerprint).await {
        Ok(IdempotentStart::Proceed(claim)) => claim,
        Ok(IdempotentStart::Replay(stored)) => return replay(stored),
        Err(e) => {
            let in_use = e.code == ErrorCode::IdempotencyKeyInUse;
            let mut response = fail(e.into());
            if in_use {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(IN_USE_RETRY_AFTER_SECS),
                );
            }
            return response;
        }
    };
    if let Sender::Scim(org) = sender {
        req.extensions_mut().insert(org);
    }

    let (parts, body) = next.run(req).await.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "response body could not be read");
            if let Err(e) = state.service.release_idempotent(&claim).await {
                tracing::warn!(error = %e, "idempotency key not released");
            }
            return fail(ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR));
        }
    };
    let status = parts.status.as_u16();
    if keeps_response(status, bytes.len()) {
        let stored = StoredResponse {
            status,
            headers: kept_headers(&parts.headers),
            body: bytes.to_vec(),
        };
        // The work is done: a failure to keep its answer is logged, and the answer still goes
        // out (a retry meets the claim until its lease runs out, then does the work again).
        if let Err(e) = state.service.finish_idempotent(&key, &claim, stored).await {
            tracing::warn!(error = %e, "idempotent response not kept");
        }
    } else if let Err(e) = state.service.release_idempotent(&claim).await {
        tracing::warn!(error = %e, "idempotency key not released");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The one `Idempotency-Key` of a request, if it is valid.
fn client_key(req: &Request) -> Option<String> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    value
        .to_str()
        .ok()
        .filter(|k| is_valid_idempotency_key(k))
        .map(str::to_owned)
}

/// The `{org}` of a route under `/orgs/{org}` (as sent: the handler decides whether it exists).
fn path_org<'a>(route: &str, path: &'a str) -> Option<&'a str> {
    if !route.starts_with("/orgs/{org}") {
        return None;
    }
    path.split('/').nth(2).filter(|s| !s.is_empty())
}

/// The headers of an answer that a replay repeats.
fn kept_headers(headers: &axum::http::HeaderMap) -> Vec<StoredHeader> {
    REPLAYED_HEADERS
        .iter()
        .flat_map(|name| {
            headers.get_all(*name).iter().filter_map(move |v| {
                v.to_str().ok().map(|value| StoredHeader {
                    name: (*name).to_owned(),
                    value: value.to_owned(),
                })
            })
        })
        .collect()
}

/// A kept answer, again, marked as a replay.
fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(Bytes::from(stored.body)));
    *response.status_mut() =
        StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for h in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_comes_from_org_routes_only() {
        assert_eq!(
            path_org("/orgs/{org}/pools", "/orgs/org_1/pools"),
            Some("org_1")
        );
        assert_eq!(path_org("/orgs", "/orgs"), None);
        assert_eq!(path_org("/invitations/accept", "/invitations/accept"), None);
    }
}
