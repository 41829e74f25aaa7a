//! Rollcall's HTTP layer: one router per function group (spec §3), identity extraction, input
//! parsing with JSON errors, error mapping and views. The Lambda composition root (configuration,
//! AWS SDK, DynamoDB, SES) is `rollcall-lambda`'s; the local binary composes its own.
//!
//! Every route calls exactly one [`Service`] use case; permission checks and validation live
//! there. This crate only parses input, calls the use case and renders the output or the error.

mod error;
mod extract;
mod handlers;
mod idempotency;
mod observe;
mod routes;
pub mod views;

pub use error::{
    ApiError, ApiResult, RATE_LIMIT_RETRY_AFTER_SECS, ResponseCode, UNAVAILABLE_RETRY_AFTER_SECS,
    status_for,
};
pub use extract::{
    AuthenticatedCaller, JsonBody, OptionalJsonBody, PathIds, QueryParams, claims_from_fields,
    lambda_claims, page_request, request_claims,
};
pub use idempotency::{
    IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, IN_USE_RETRY_AFTER_SECS, idempotency,
};
pub use observe::{REQUEST_ID_HEADER, RequestId};
pub use routes::{
    FunctionGroup, RouteAuth, RouteInfo, all_routes, all_routes_with_limit, route_table, router,
    router_with_limit,
};

use rollcall_domain::service::Service;
use rollcall_scim::CursorCache;
use std::sync::Arc;

/// Default largest request body, in bytes (`ROLLCALL_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 262_144;

/// What every handler gets: the use cases, and what SCIM keeps between requests.
#[derive(Clone)]
pub struct AppState {
    /// The use cases over their adapters.
    pub service: Service,
    /// The SCIM list cursors of this process (`startIndex` paging), shared by its requests.
    pub scim_cursors: Arc<CursorCache>,
}

impl AppState {
    /// The state of a process serving `service` (an empty SCIM cursor cache).
    pub fn new(service: Service) -> Self {
        AppState {
            service,
            scim_cursors: Arc::default(),
        }
    }
}
