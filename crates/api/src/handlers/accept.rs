//! The invitee's side: preview, accept, decline, my invitations, join with a link.

use super::PageQuery;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams};
use crate::views::{InvitationView, ListView, MemberView, MyInvitationView, PreviewView};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// `{"token": "..."}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    token: String,
}

impl std::fmt::Debug for TokenBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenBody { token: <redacted> }")
    }
}

/// `GET /invitations/{token}`: public, no identity needed.
pub(crate) async fn preview(
    State(state): State<AppState>,
    ids: PathIds,
) -> ApiResult<Json<PreviewView>> {
    let preview = state.service.preview_invitation(ids.token()).await?;
    Ok(Json(PreviewView::from(preview)))
}

/// `POST /invitations/accept`: 200 with the membership.
pub(crate) async fn accept_by_token(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<Json<MemberView>> {
    let member = state.service.accept_by_token(&caller, &body.token).await?;
    Ok(Json(MemberView::from(member)))
}

/// `POST /invitations/decline`: 200 with the declined invitation.
pub(crate) async fn decline_by_token(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<Json<InvitationView>> {
    let invitation = state.service.decline_by_token(&caller, &body.token).await?;
    Ok(Json(InvitationView::new(invitation, state.service.now())))
}

/// `POST /me/invitations/{inv}/accept`.
pub(crate) async fn accept_by_id(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<MemberView>> {
    let member = state
        .service
        .accept_by_id(&caller, &ids.invitation()?)
        .await?;
    Ok(Json(MemberView::from(member)))
}

/// `POST /me/invitations/{inv}/decline`.
pub(crate) async fn decline_by_id(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<InvitationView>> {
    let invitation = state
        .service
        .decline_by_id(&caller, &ids.invitation()?)
        .await?;
    Ok(Json(InvitationView::new(invitation, state.service.now())))
}

/// `GET /me/invitations`.
pub(crate) async fn mine(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<MyInvitationView>>> {
    let page = query.page()?;
    let invitations = state.service.my_invitations(&caller, &page).await?;
    let now = state.service.now();
    Ok(Json(ListView::from_page(invitations, |i| {
        MyInvitationView::new(i, now)
    })))
}

/// `POST /join`: 200 with the new membership.
pub(crate) async fn join(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<Json<MemberView>> {
    let member = state.service.join(&caller, &body.token).await?;
    Ok(Json(MemberView::from(member)))
}
