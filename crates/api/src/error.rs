//! The one place errors become HTTP responses: `{"error": {"code", "message", "details"?}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rollcall_domain::{Error, ErrorCode, ErrorKind};
use serde_json::{Value, json};
use std::borrow::Cow;

/// Seconds a client is told to wait after a rate limit (the limits are hourly and daily).
pub const RATE_LIMIT_RETRY_AFTER_SECS: u64 = 3600;

/// Seconds a client is told to wait after a 503: a dependency (DynamoDB, the random source, DNS)
/// failed after the SDK's own retries (`rollcall_aws`); throttling and brief outages clear in
/// seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// An error response: status, stable snake_case code, human message and optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// Machine-readable details.
    pub details: Option<Value>,
}

/// The error code of a response, kept in its extensions so the access log can name it (an
/// [`ErrorCode`], or `scim_<scimType|status>` for a SCIM Error).
#[derive(Debug, Clone)]
pub struct ResponseCode(pub Cow<'static, str>);

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 `route_not_found`.
    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::RouteNotFound,
            "No route matches this path",
        )
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "This path does not accept this method",
        )
    }

    /// 400 `invalid_query` with the parser's explanation.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidQuery, message)
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "This request needs a valid bearer token",
        )
    }

    /// The generic error for a status (used when something outside our handlers answered).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => (ErrorCode::BadRequest, "The request is malformed"),
            StatusCode::UNAUTHORIZED => (
                ErrorCode::Unauthenticated,
                "This request needs a valid bearer token",
            ),
            StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "You are not allowed to do this"),
            StatusCode::NOT_FOUND => (ErrorCode::RouteNotFound, "No route matches this path"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorCode::MethodNotAllowed,
                "This path does not accept this method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorCode::PayloadTooLarge, "The request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                ErrorCode::UnsupportedMediaType,
                "The request body must be JSON (Content-Type: application/json)",
            ),
            StatusCode::TOO_MANY_REQUESTS => {
                (ErrorCode::RateLimited, "Too many requests; try again later")
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                ErrorCode::ServiceUnavailable,
                "The service is unavailable; try again shortly",
            ),
            s if s.is_server_error() => (
                ErrorCode::InternalError,
                "The server failed to answer this request",
            ),
            _ => (ErrorCode::RequestFailed, "The request failed"),
        };
        Self::new(status, code, message)
    }
}

/// The HTTP status of a domain error kind.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError {
            status: status_for(e.kind),
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code.as_str(), "message": self.message });
        if let (Some(details), Some(obj)) = (self.details, error.as_object_mut()) {
            obj.insert("details".into(), details);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(RATE_LIMIT_RETRY_AFTER_SECS),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                );
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(ResponseCode(Cow::Borrowed(self.code.as_str())));
        response
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_tells_when_to_retry() {
        let unavailable: ApiError = Error::unavailable("DynamoDB: ThrottlingException").into();
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        let response = unavailable.into_response();
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).unwrap(),
            &UNAVAILABLE_RETRY_AFTER_SECS.to_string()
        );
        let other = ApiError::for_status(StatusCode::BAD_REQUEST).into_response();
        assert!(other.headers().get(header::RETRY_AFTER).is_none());
    }
}
