//! Extractors whose every rejection is an [`ApiError`]: identity, JSON bodies, query strings and
//! path ids.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use lambda_http::request::RequestContext;
use rollcall_domain::ErrorCode;
use rollcall_domain::ids::{
    GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId,
};
use rollcall_domain::page::{MAX_CURSOR_LEN, MAX_LIMIT, PageRequest};
use rollcall_domain::service::{Caller, Claims};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The signed-in caller of a request, resolved by [`rollcall_domain::service::Service::identify`].
#[derive(Debug, Clone)]
pub struct AuthenticatedCaller(pub Caller);

impl FromRequestParts<AppState> for AuthenticatedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = request_claims(&parts.extensions).ok_or_else(ApiError::unauthenticated)?;
        let caller = state
            .service
            .identify(&claims, &crate::observe::request_meta(parts))
            .await?;
        Ok(AuthenticatedCaller(caller))
    }
}

/// The identity claims of a request: a [`Claims`] value in the extensions (the local server's JWT
/// layer puts it there), else API Gateway's JWT authorizer claims from the Lambda request context.
pub fn request_claims(extensions: &Extensions) -> Option<Claims> {
    if let Some(claims) = extensions.get::<Claims>() {
        return Some(claims.clone());
    }
    lambda_claims(extensions.get::<RequestContext>()?)
}

/// The JWT authorizer claims of an API Gateway HTTP API request (`sub`, `email`,
/// `email_verified` as `"true"`/`"false"`, `name`).
pub fn lambda_claims(context: &RequestContext) -> Option<Claims> {
    let map = match context {
        RequestContext::ApiGatewayV2(ctx) => &ctx.authorizer.as_ref()?.jwt.as_ref()?.claims,
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    claims_from_fields(|key| map.get(key).cloned())
}

/// The one mapping of a token's claims to [`Claims`], given each claim as text the way API
/// Gateway's JWT authorizer hands them over (`email_verified` as `"true"`/`"false"`): `sub`
/// (required), `email`, `email_verified` (only `true` counts), and `name`, else `given_name` and
/// `family_name` joined. The local server's verifiers (its own key, or an external issuer) map
/// their tokens through it too, so every deployment reads a token alike.
pub fn claims_from_fields(field: impl Fn(&str) -> Option<String>) -> Option<Claims> {
    let text = |key: &str| {
        field(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let sub = text("sub")?;
    let name = text("name").or_else(|| {
        let parts: Vec<String> = [text("given_name"), text("family_name")]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(Claims {
        sub,
        email: text("email"),
        email_verified: text("email_verified").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        name,
    })
}

/// A JSON request body: `Content-Type: application/json` required (415), at most the body limit
/// (413), valid JSON of the expected shape without unknown fields (400 `invalid_json`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        check_json_content_type(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be absent: an empty body reads as `T::default()` (as if `{}` was sent);
/// a non-empty one follows the rules of [`JsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        check_json_content_type(&headers)?;
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "The request body must be JSON, sent with Content-Type: application/json",
        )),
    }
}

pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "The request body is larger than this API accepts",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidBody,
                "The request body could not be read",
            )
        }
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let details = serde_json::json!({ "line": e.line(), "column": e.column() });
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            format!("The request body is not valid JSON for this request: {e}"),
        )
        .with_details(details)
    })
}

/// A query string parsed into `T`; any problem is 400 `invalid_query`.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| QueryParams(v))
            .map_err(|rejection| ApiError::invalid_query(rejection.body_text()))
    }
}

/// `limit` and `cursor` into a [`PageRequest`]: limit 1..=200 (default 50), cursor at most 1024
/// characters.
pub fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let mut page = PageRequest::default();
    if let Some(limit) = limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_query(format!(
                "`limit` must be between 1 and {MAX_LIMIT}"
            ))
            .with_details(serde_json::json!({ "field": "limit" })));
        }
        page.limit = limit;
    }
    match cursor {
        Some(c) if c.len() > MAX_CURSOR_LEN => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidCursor,
                "The cursor is not valid for this list",
            ));
        }
        Some(c) if !c.is_empty() => page.cursor = Some(c),
        _ => {}
    }
    Ok(page)
}

/// The path parameters of the matched route, parsed on demand; a malformed id is answered like an
/// unknown one (404 with the resource's not-found code).
#[derive(Debug, Clone)]
pub struct PathIds(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(map)| PathIds(map))
            .map_err(|_| ApiError::route_not_found())
    }
}

fn not_found(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, message)
}

impl PathIds {
    fn raw(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    /// `{org}`.
    pub fn org(&self) -> Result<OrgId, ApiError> {
        OrgId::parse(self.raw("org"))
            .map_err(|_| not_found(ErrorCode::OrganizationNotFound, "No such organization"))
    }

    /// `{pool}`.
    pub fn pool(&self) -> Result<PoolId, ApiError> {
        PoolId::parse(self.raw("pool"))
            .map_err(|_| not_found(ErrorCode::PoolNotFound, "No such pool in this organization"))
    }

    /// `{usr}`.
    pub fn user(&self) -> Result<UserId, ApiError> {
        UserId::parse(self.raw("usr")).map_err(|_| {
            not_found(
                ErrorCode::MemberNotFound,
                "No such member in this organization",
            )
        })
    }

    /// `{inv}`.
    pub fn invitation(&self) -> Result<InvitationId, ApiError> {
        InvitationId::parse(self.raw("inv"))
            .map_err(|_| not_found(ErrorCode::InvitationNotFound, "No such invitation"))
    }

    /// `{inv}` of `/me/invitations/{inv}/…`: an invitation (`inv_…`) or a provisioned membership
    /// (`usr_…`, the placeholder's id).
    pub fn invitation_or_provisioned(&self) -> Result<Offer, ApiError> {
        let raw = self.raw("inv");
        if let Ok(id) = UserId::parse(raw) {
            return Ok(Offer::Provisioned(id));
        }
        self.invitation().map(Offer::Invitation)
    }

    /// `{lnk}`.
    pub fn link(&self) -> Result<InviteLinkId, ApiError> {
        InviteLinkId::parse(self.raw("lnk"))
            .map_err(|_| not_found(ErrorCode::InviteLinkNotFound, "No such invite link"))
    }

    /// `{sct}`.
    pub fn scim_token(&self) -> Result<ScimTokenId, ApiError> {
        ScimTokenId::parse(self.raw("sct"))
            .map_err(|_| not_found(ErrorCode::ScimTokenNotFound, "No such SCIM token"))
    }

    /// `{grp}`.
    pub fn group(&self) -> Result<GroupId, ApiError> {
        GroupId::parse(self.raw("grp")).map_err(|_| {
            not_found(
                ErrorCode::GroupNotFound,
                "No such group in this organization",
            )
        })
    }

    /// `{token}` (a secret: never log it).
    pub fn token(&self) -> &str {
        self.raw("token")
    }

    /// `{domain}`, as given (the use case normalizes it; an invalid one is 404 there).
    pub fn domain(&self) -> &str {
        self.raw("domain")
    }
}

/// What `/me/invitations/{inv}/accept|decline` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// An email invitation.
    Invitation(InvitationId),
    /// A membership an organization provisioned for the caller's address.
    Provisioned(UserId),
}
