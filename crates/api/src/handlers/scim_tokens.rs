//! SCIM tokens of an organization: create (secret shown once), list, revoke.

use super::{Created, created};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, OptionalJsonBody, PathIds};
use crate::views::{CreatedScimTokenView, ListView, ScimTokenView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::service::CreateScimTokenRequest;

/// `POST /orgs/{org}/scim-tokens`: 201 with the token and its secret, shown once.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    OptionalJsonBody(body): OptionalJsonBody<CreateScimTokenRequest>,
) -> ApiResult<Created<CreatedScimTokenView>> {
    let made = state
        .service
        .create_scim_token(&caller, &ids.org()?, &body)
        .await?;
    Ok(created(CreatedScimTokenView {
        scim_token: ScimTokenView::from(made.token),
        token: made.secret,
    }))
}

/// `GET /orgs/{org}/scim-tokens`: every token of the organization, newest first, without secrets.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<ListView<ScimTokenView>>> {
    let tokens = state.service.list_scim_tokens(&caller, &ids.org()?).await?;
    Ok(Json(ListView::complete(
        tokens.into_iter().map(ScimTokenView::from).collect(),
    )))
}

/// `DELETE /orgs/{org}/scim-tokens/{sct}`: 204; the identity provider's next request with it is 401.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<StatusCode> {
    let (org, token) = (ids.org()?, ids.scim_token()?);
    state
        .service
        .revoke_scim_token(&caller, &org, &token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
