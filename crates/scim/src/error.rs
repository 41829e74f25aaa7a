//! SCIM error responses (RFC 7644 §3.12).

use rollcall_domain::{Error, ErrorCode, ErrorKind};
use serde_json::{Value, json};

use crate::schema::ERROR_SCHEMA;

/// `scimType` values of RFC 7644 §3.12 used by this crate and the HTTP layer.
pub mod scim_type {
    /// The filter syntax was invalid or the filter cannot be evaluated.
    pub const INVALID_FILTER: &str = "invalidFilter";
    /// The filter yields too many results.
    pub const TOO_MANY: &str = "tooMany";
    /// One or more unique attribute values are in use.
    pub const UNIQUENESS: &str = "uniqueness";
    /// The attempted modification is not compatible with the attribute's mutability.
    pub const MUTABILITY: &str = "mutability";
    /// The request body structure was invalid.
    pub const INVALID_SYNTAX: &str = "invalidSyntax";
    /// The `path` attribute was invalid or malformed.
    pub const INVALID_PATH: &str = "invalidPath";
    /// The path did not yield an attribute that could be operated on.
    pub const NO_TARGET: &str = "noTarget";
    /// A required value was missing or a value was not compatible with the attribute type.
    pub const INVALID_VALUE: &str = "invalidValue";
    /// The protocol version is not supported.
    pub const INVALID_VERS: &str = "invalidVers";
    /// The request cannot be completed because it is sensitive.
    pub const SENSITIVE: &str = "sensitive";
}

/// A SCIM error: HTTP status, optional `scimType`, human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SCIM error {status}: {detail}")]
pub struct ScimError {
    /// HTTP status code.
    pub status: u16,
    /// `scimType` keyword (only meaningful with 400 and 409).
    pub scim_type: Option<&'static str>,
    /// Human-readable detail, safe to show to the client.
    pub detail: String,
}

impl ScimError {
    /// Builds an error from its parts.
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with the given `scimType`.
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(scim_type::INVALID_FILTER, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(scim_type::INVALID_VALUE, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(scim_type::INVALID_SYNTAX, detail)
    }

    /// 401 (missing or invalid bearer token).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    /// 404 (unknown resource or endpoint).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 405 (e.g. writes to discovery endpoints).
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(scim_type::UNIQUENESS), detail)
    }

    /// 413 (payload too large).
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    /// 429 (rate limited).
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(429, None, detail)
    }

    /// 500 (never carries internal details).
    pub fn internal() -> Self {
        Self::new(500, None, "internal server error")
    }

    /// 501 (operation not supported, e.g. sort, bulk).
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }

    /// The SCIM Error JSON body; `status` is a string as RFC 7644 §3.12 requires.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".to_owned(), Value::String(t.to_owned()));
        }
        body
    }
}

impl From<Error> for ScimError {
    /// A use case's error as a SCIM Error: uniqueness conflicts are 409 `uniqueness`, invalid
    /// input (and an address outside the organization's allowed domains) 400 `invalidValue`,
    /// the rest keeps its status, with the message as `detail`.
    fn from(e: Error) -> Self {
        const UNIQUE: [ErrorCode; 5] = [
            ErrorCode::GroupNameTaken,
            ErrorCode::UserNameTaken,
            ErrorCode::ExternalIdTaken,
            ErrorCode::AlreadyMember,
            ErrorCode::MemberEmailTaken,
        ];
        let detail = e.message;
        match e.kind {
            ErrorKind::Conflict if UNIQUE.contains(&e.code) => ScimError::uniqueness(detail),
            ErrorKind::Invalid | ErrorKind::Unprocessable => ScimError::invalid_value(detail),
            ErrorKind::Forbidden if e.code == ErrorCode::EmailDomainNotAllowed => {
                ScimError::invalid_value(detail)
            }
            ErrorKind::Unauthenticated => ScimError::unauthorized(detail),
            ErrorKind::Forbidden => ScimError::forbidden(detail),
            ErrorKind::NotFound => ScimError::not_found(detail),
            ErrorKind::Conflict => ScimError::new(409, None, detail),
            ErrorKind::Gone => ScimError::new(410, None, detail),
            ErrorKind::RateLimited => ScimError::too_many_requests(detail),
            ErrorKind::Unavailable => ScimError::new(503, None, detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_string_status_and_scim_type() {
        let e = ScimError::invalid_filter("bad filter");
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad filter"
            })
        );
    }

    #[test]
    fn error_json_without_scim_type_omits_it() {
        let v = ScimError::not_found("User abc not found").to_json();
        assert_eq!(v["status"], "404");
        assert!(v.get("scimType").is_none());
        assert_eq!(v["detail"], "User abc not found");
        let v = ScimError::unauthorized("invalid token").to_json();
        assert_eq!(v["status"], "401");
    }

    #[test]
    fn uniqueness_is_409() {
        let e = ScimError::uniqueness("userName already exists");
        assert_eq!(e.status, 409);
        assert_eq!(e.to_json()["scimType"], "uniqueness");
    }
}
