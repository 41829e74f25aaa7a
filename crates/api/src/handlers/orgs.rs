//! Organizations and the caller's profile.

use super::{Created, PageQuery, created};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams};
use crate::views::{ListView, MeResponse, OrganizationView};
use axum::Json;
use axum::extract::State;
use rollcall_domain::service::UpdateOrgRequest;
use serde::Deserialize;

/// `POST /orgs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrgBody {
    name: String,
}

/// `POST /orgs`.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<CreateOrgBody>,
) -> ApiResult<Created<OrganizationView>> {
    let org = state.service.create_org(&caller, &body.name).await?;
    // The creator is the organization's manager, who sees its settings.
    Ok(created(OrganizationView::new(org, true)))
}

/// `GET /orgs`.
pub(crate) async fn list_mine(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<OrganizationView>>> {
    let page = query.page()?;
    let orgs = state.service.list_my_orgs(&caller, &page).await?;
    Ok(Json(ListView::from_page(
        orgs,
        OrganizationView::from_membership,
    )))
}

/// `GET /orgs/{org}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<OrganizationView>> {
    let view = state.service.get_org(&caller, &ids.org()?).await?;
    Ok(Json(OrganizationView::from_view(view)))
}

/// `PATCH /orgs/{org}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<UpdateOrgRequest>,
) -> ApiResult<Json<OrganizationView>> {
    let view = state
        .service
        .update_org(&caller, &ids.org()?, &body)
        .await?;
    Ok(Json(OrganizationView::from_view(view)))
}

/// `GET /me`.
pub(crate) async fn me(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<MeResponse>> {
    let page = query.page()?;
    let me = state.service.me(&caller, &page).await?;
    Ok(Json(MeResponse::from(me)))
}
