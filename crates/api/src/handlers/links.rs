//! Invite links.

use super::{Created, PageQuery, created};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams};
use crate::views::{CreatedLinkView, InviteLinkView, ListView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::service::CreateLinkRequest;

/// `POST /orgs/{org}/invite-links`: 201 with the link and its token, shown once.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<CreateLinkRequest>,
) -> ApiResult<Created<CreatedLinkView>> {
    let created_link = state
        .service
        .create_invite_link(&caller, &ids.org()?, &body)
        .await?;
    Ok(created(CreatedLinkView {
        link: InviteLinkView::new(created_link.link, state.service.now()),
        token: created_link.token,
    }))
}

/// `GET /orgs/{org}/invite-links`.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<InviteLinkView>>> {
    let org = ids.org()?;
    let page = query.page()?;
    let links = state
        .service
        .list_invite_links(&caller, &org, &page)
        .await?;
    let now = state.service.now();
    Ok(Json(ListView::from_page(links, |l| {
        InviteLinkView::new(l, now)
    })))
}

/// `DELETE /orgs/{org}/invite-links/{lnk}`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<StatusCode> {
    let (org, link) = (ids.org()?, ids.link()?);
    state
        .service
        .revoke_invite_link(&caller, &org, &link)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
