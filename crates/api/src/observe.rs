//! Per-request plumbing: the request id, one access-log line, and JSON for every error response.

use crate::error::{ApiError, ResponseCode};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use std::time::Instant;
use tracing::Instrument;

/// The request id header, read from requests and set on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, in the request extensions for handlers that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The request id: a well-formed incoming `x-request-id`, else the Lambda request id, else a new
/// UUID.
pub fn request_id(req: &Request) -> String {
    let incoming = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        });
    if let Some(id) = incoming {
        return id.to_owned();
    }
    if let Some(ctx) = req.extensions().get::<lambda_http::Context>()
        && !ctx.request_id.is_empty()
    {
        return ctx.request_id.clone();
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.extensions().get::<RequestContext>()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    uuid::Uuid::now_v7().to_string()
}

/// Where a request came from, for the audit log: its request id (set by [`observe`]), the
/// client's IP (API Gateway's `requestContext.http.sourceIp` in AWS, the connection's peer
/// locally: never a client-supplied `X-Forwarded-For`) and its `User-Agent`.
pub fn request_meta(parts: &axum::http::request::Parts) -> rollcall_domain::audit::RequestMeta {
    let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.as_str());
    let lambda_ip = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    };
    let source_ip = lambda_ip.or_else(|| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    });
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    rollcall_domain::audit::RequestMeta::new(request_id, source_ip.as_deref(), user_agent)
}

/// Middleware: request id in and out, JSON error bodies, one log line per request (method,
/// matched route, status, latency, request id; never tokens, emails or bodies).
pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut response = next.run(req).instrument(span).await;
    if method != Method::HEAD {
        response = ensure_json_error(response);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error_code = response
        .extensions()
        .get::<ResponseCode>()
        .map(|c| c.0.to_string());
    macro_rules! access_log {
        ($level:ident) => {
            tracing::$level!(
                request_id = %id,
                method = %method,
                route = %route,
                status,
                latency_ms,
                error_code = error_code.as_deref(),
                "request"
            )
        };
    }
    if status >= 500 {
        access_log!(error);
    } else {
        access_log!(info);
    }
    response
}

/// Gives an error response from outside our handlers (a framework default) our JSON shape.
fn ensure_json_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        });
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (fresh, body) = ApiError::for_status(status).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(fresh.headers);
    parts.extensions.extend(fresh.extensions);
    Response::from_parts(parts, body)
}
