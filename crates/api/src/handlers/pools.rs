//! The pool tree.

use super::{Created, created};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds};
use crate::views::{ListView, PoolView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::service::{CreatePoolRequest, UpdatePoolRequest};

/// `GET /orgs/{org}/pools`: every pool, parents before children, in one page.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<ListView<PoolView>>> {
    let pools = state.service.list_pools(&caller, &ids.org()?).await?;
    Ok(Json(ListView::complete(
        pools.into_iter().map(PoolView::from).collect(),
    )))
}

/// `POST /orgs/{org}/pools`.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<CreatePoolRequest>,
) -> ApiResult<Created<PoolView>> {
    let pool = state
        .service
        .create_pool(&caller, &ids.org()?, &body)
        .await?;
    Ok(created(PoolView::from(pool)))
}

/// `PATCH /orgs/{org}/pools/{pool}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<UpdatePoolRequest>,
) -> ApiResult<Json<PoolView>> {
    let (org, pool) = (ids.org()?, ids.pool()?);
    let pool = state
        .service
        .update_pool(&caller, &org, &pool, &body)
        .await?;
    Ok(Json(PoolView::from(pool)))
}

/// `DELETE /orgs/{org}/pools/{pool}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<StatusCode> {
    let (org, pool) = (ids.org()?, ids.pool()?);
    state.service.delete_pool(&caller, &org, &pool).await?;
    Ok(StatusCode::NO_CONTENT)
}
