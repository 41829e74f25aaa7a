//! Rollcall's HTTP layer: one router per function group (spec §3), identity extraction, input
//! parsing with JSON errors, error mapping, views, configuration and the Lambda entry point.
//!
//! Every route calls exactly one [`Service`] use case; permission checks and validation live
//! there. This crate only parses input, calls the use case and renders the output or the error.

pub mod config;
mod error;
mod extract;
mod handlers;
mod lambda;
mod observe;
mod routes;
pub mod views;

pub use error::{
    ApiError, ApiResult, ErrorCode, RATE_LIMIT_RETRY_AFTER_SECS, UNAVAILABLE_RETRY_AFTER_SECS,
    status_for,
};
pub use extract::{
    AuthenticatedCaller, JsonBody, OptionalJsonBody, PathIds, QueryParams, lambda_claims,
    page_request, request_claims,
};
pub use lambda::run_lambda;
pub use observe::{REQUEST_ID_HEADER, RequestId};
pub use routes::{
    FunctionGroup, RouteAuth, RouteInfo, all_routes, all_routes_with_limit, route_table, router,
    router_with_limit,
};

use rollcall_domain::service::Service;

/// Default largest request body, in bytes (`ROLLCALL_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 262_144;

/// What every handler gets: the use cases.
#[derive(Clone)]
pub struct AppState {
    /// The use cases over their adapters.
    pub service: Service,
}
