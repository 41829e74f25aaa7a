//! Inviting by email: bulk invite, resend, list, revoke.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    AuthenticatedCaller, JsonBody, OptionalJsonBody, PathIds, QueryParams, page_request,
};
use crate::views::{
    BulkInviteView, InvitationView, InviteResultView, ListView, ResentInvitationView,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::model::{EmailStatus, InvitationStatus};
use rollcall_domain::service::{BulkInviteRequest, ResendRequest};
use serde::Deserialize;

/// `POST /orgs/{org}/invitations`: 200 with one result per entry.
pub(crate) async fn bulk_invite(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<BulkInviteRequest>,
) -> ApiResult<Json<BulkInviteView>> {
    let results = state
        .service
        .bulk_invite(&caller, &ids.org()?, &body)
        .await?;
    let now = state.service.now();
    Ok(Json(BulkInviteView {
        results: results
            .into_iter()
            .map(|r| InviteResultView::new(r, now))
            .collect(),
    }))
}

/// `POST /orgs/{org}/invitations/{inv}/resend` (an empty body is `{}`).
pub(crate) async fn resend(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    OptionalJsonBody(body): OptionalJsonBody<ResendRequest>,
) -> ApiResult<Json<ResentInvitationView>> {
    let (org, inv) = (ids.org()?, ids.invitation()?);
    let (invitation, accept_url) = state
        .service
        .resend_invitation(&caller, &org, &inv, &body)
        .await?;
    Ok(Json(ResentInvitationView {
        invitation: InvitationView::new(invitation, state.service.now()),
        accept_url,
    }))
}

/// `GET /orgs/{org}/invitations` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvitationsQuery {
    status: Option<String>,
    email: Option<String>,
    email_status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /orgs/{org}/invitations?status=&email=&email_status=`.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<InvitationsQuery>,
) -> ApiResult<Json<ListView<InvitationView>>> {
    let org = ids.org()?;
    let status = match query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(InvitationStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query(
                "`status` must be one of pending, accepted, declined, revoked, expired",
            )
        })?),
        None => None,
    };
    let email = query
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let email_status = match query
        .email_status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(EmailStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query(
                "`email_status` must be one of sent, delivered, bounced, complained, failed, not_sent",
            )
        })?),
        None => None,
    };
    let page = page_request(query.limit, query.cursor.clone())?;
    let invitations = state
        .service
        .list_invitations(&caller, &org, status, email, email_status, &page)
        .await?;
    let now = state.service.now();
    Ok(Json(ListView::from_page(invitations, |i| {
        InvitationView::new(i, now)
    })))
}

/// `DELETE /orgs/{org}/invitations/{inv}`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<StatusCode> {
    let (org, inv) = (ids.org()?, ids.invitation()?);
    state.service.revoke_invitation(&caller, &org, &inv).await?;
    Ok(StatusCode::NO_CONTENT)
}
