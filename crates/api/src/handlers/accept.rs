//! The invitee's side: preview, accept, decline, my invitations, join with a link.

use super::{PageQuery, member_view};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Offer;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams};
use crate::views::{
    InvitationView, LinkPreviewView, ListView, MemberView, MyInvitationItem, MyInvitationView,
    PreviewView, ProvisionedMembershipView,
};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
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

/// `GET /invite-links/{token}`: public, no identity needed.
pub(crate) async fn preview_link(
    State(state): State<AppState>,
    ids: PathIds,
) -> ApiResult<Json<LinkPreviewView>> {
    let preview = state.service.preview_invite_link(ids.token()).await?;
    Ok(Json(LinkPreviewView::from(preview)))
}

/// `POST /invitations/accept`: 200 with the membership.
pub(crate) async fn accept_by_token(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<Json<MemberView>> {
    let member = state.service.accept_by_token(&caller, &body.token).await?;
    Ok(Json(member_view(&state, member).await?))
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
    let member = match ids.invitation_or_provisioned()? {
        Offer::Invitation(id) => state.service.accept_by_id(&caller, &id).await?,
        Offer::Provisioned(id) => state.service.accept_provisioned(&caller, &id).await?,
    };
    Ok(Json(member_view(&state, member).await?))
}

/// `POST /me/invitations/{inv}/decline`.
pub(crate) async fn decline_by_id(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Response> {
    Ok(match ids.invitation_or_provisioned()? {
        Offer::Invitation(id) => {
            let invitation = state.service.decline_by_id(&caller, &id).await?;
            Json(InvitationView::new(invitation, state.service.now())).into_response()
        }
        Offer::Provisioned(id) => {
            let declined = state.service.decline_provisioned(&caller, &id).await?;
            Json(ProvisionedMembershipView::from(declined)).into_response()
        }
    })
}

/// `GET /me/invitations`.
pub(crate) async fn mine(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<MyInvitationItem>>> {
    let page = query.page()?;
    // The first page starts with the memberships organizations provisioned for the caller's
    // address (at most MAX_PLACEHOLDERS_PER_EMAIL, outside `limit`), then the invitations.
    let provisioned = match page.cursor {
        None => state.service.my_provisioned_memberships(&caller).await?,
        Some(_) => Vec::new(),
    };
    let invitations = state.service.my_invitations(&caller, &page).await?;
    let now = state.service.now();
    let mut view = ListView::from_page(invitations, |i| {
        MyInvitationItem::Invitation(MyInvitationView::new(i, now))
    });
    view.items.splice(
        0..0,
        provisioned
            .into_iter()
            .map(|p| MyInvitationItem::Provisioned(p.into())),
    );
    Ok(Json(view))
}

/// `POST /join`: 200 with the new membership.
pub(crate) async fn join(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<Json<MemberView>> {
    let member = state.service.join(&caller, &body.token).await?;
    Ok(Json(member_view(&state, member).await?))
}
