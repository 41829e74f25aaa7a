//! Members: list, read, replace assignments, remove.

use super::{member_view, member_views};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams, page_request};
use crate::views::{ListView, MemberView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::ids::{PoolId, UserId};
use rollcall_domain::model::MemberStatus;
use rollcall_domain::ports::MemberFilter;
use rollcall_domain::role::{Assignment, Role};
use serde::Deserialize;

/// `GET /orgs/{org}/users` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MembersQuery {
    role: Option<String>,
    pool_id: Option<String>,
    status: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Treats `?x=` like an absent parameter.
fn present(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl MembersQuery {
    fn filter(&self) -> Result<MemberFilter, ApiError> {
        let role = match present(self.role.clone()) {
            Some(r) => Some(Role::parse(r.trim()).ok_or_else(|| {
                ApiError::invalid_query(format!(
                    "`role` must be one of organization_manager, manager, engineer, member, not `{}`",
                    r.chars().take(64).collect::<String>()
                ))
            })?),
            None => None,
        };
        let pool_id = match present(self.pool_id.clone()) {
            Some(p) => Some(
                PoolId::parse(p.trim())
                    .map_err(|e| ApiError::invalid_query(format!("`pool_id`: {e}")))?,
            ),
            None => None,
        };
        let status = match present(self.status.clone()).as_deref().map(str::trim) {
            None => None,
            Some("active") => Some(MemberStatus::Active),
            Some("suspended") => Some(MemberStatus::Suspended),
            Some(_) => {
                return Err(ApiError::invalid_query(
                    "`status` must be active or suspended",
                ));
            }
        };
        Ok(MemberFilter {
            role,
            pool_id,
            status,
            q: self.q.clone(),
        })
    }
}

/// `GET /orgs/{org}/users`.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<MembersQuery>,
) -> ApiResult<Json<ListView<MemberView>>> {
    let org = ids.org()?;
    let filter = query.filter()?;
    let page = page_request(query.limit, query.cursor)?;
    let members = state
        .service
        .list_members(&caller, &org, &filter, &page)
        .await?;
    Ok(Json(ListView {
        items: member_views(&state, members.items).await?,
        next_cursor: members.next_cursor,
    }))
}

/// `GET /orgs/{org}/users/{usr}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<MemberView>> {
    let (org, user) = (ids.org()?, ids.user()?);
    let member = state.service.get_member(&caller, &org, &user).await?;
    Ok(Json(member_view(&state, member).await?))
}

/// `PUT /orgs/{org}/users/{usr}/assignments` and `PUT /orgs/{org}/groups/{grp}/assignments`
/// body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignmentsBody {
    pub(crate) assignments: Vec<Assignment>,
}

/// `PUT /orgs/{org}/users/{usr}/assignments`: sets the member's direct assignments (their
/// groups' stay).
pub(crate) async fn replace_assignments(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<AssignmentsBody>,
) -> ApiResult<Json<MemberView>> {
    let (org, user) = (ids.org()?, ids.user()?);
    let member = state
        .service
        .replace_assignments(&caller, &org, &user, &body.assignments)
        .await?;
    Ok(Json(member_view(&state, member).await?))
}

/// `DELETE /orgs/{org}/users/{usr}` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveQuery {
    successor_id: Option<String>,
}

/// `DELETE /orgs/{org}/users/{usr}?successor_id=`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<RemoveQuery>,
) -> ApiResult<StatusCode> {
    let (org, user) = (ids.org()?, ids.user()?);
    let successor = match present(query.successor_id) {
        Some(s) => Some(
            UserId::parse(s.trim())
                .map_err(|e| ApiError::invalid_query(format!("`successor_id`: {e}")))?,
        ),
        None => None,
    };
    let removed = state
        .service
        .remove_member(&caller, &org, &user, successor.as_ref())
        .await?;
    tracing::info!(
        org = %org,
        member = %user,
        successor = %removed.successor_id,
        pools = removed.handover.pools,
        invite_links = removed.handover.invite_links,
        invitations = removed.handover.invitations,
        "member removed; assets handed over"
    );
    Ok(StatusCode::NO_CONTENT)
}
