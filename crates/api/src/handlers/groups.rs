//! Groups (organization managers): list, read, members, and what a group gives its members.
//! The identity provider writes groups and their members over SCIM; these routes read them and
//! map them to roles.

use super::members::AssignmentsBody;
use super::{PageQuery, member_views};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds, QueryParams};
use crate::views::{GroupMemberView, GroupView, ListView};
use axum::Json;
use axum::extract::State;

/// `GET /orgs/{org}/groups`: a page of the organization's groups, in id order.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<GroupView>>> {
    let org = ids.org()?;
    let page = query.page()?;
    let groups = state.service.list_groups(&caller, &org, &page).await?;
    Ok(Json(ListView::from_page(groups, GroupView::from)))
}

/// `GET /orgs/{org}/groups/{grp}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<GroupView>> {
    let (org, group) = (ids.org()?, ids.group()?);
    let group = state
        .service
        .get_group(&caller, &org, group.as_str())
        .await?;
    Ok(Json(GroupView::from(group)))
}

/// `GET /orgs/{org}/groups/{grp}/members`: a page of the group's members with their
/// memberships (their groups named with one batched read for the page).
pub(crate) async fn members(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<ListView<GroupMemberView>>> {
    let (org, group) = (ids.org()?, ids.group()?);
    let page = query.page()?;
    let members = state
        .service
        .list_group_members(&caller, &org, group.as_str(), &page)
        .await?;
    let (refs, memberships): (Vec<_>, Vec<_>) = members
        .items
        .into_iter()
        .map(|m| (m.member_ref, m.membership))
        .unzip();
    let views = member_views(&state, memberships).await?;
    Ok(Json(ListView {
        items: refs
            .into_iter()
            .zip(views)
            .map(|(member_ref, member)| GroupMemberView { member_ref, member })
            .collect(),
        next_cursor: members.next_cursor,
    }))
}

/// `PUT /orgs/{org}/groups/{grp}/assignments`: sets what the group gives its members; their
/// effective roles follow, a batch at a time (a 503 part-way is finished by repeating the call).
pub(crate) async fn set_assignments(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<AssignmentsBody>,
) -> ApiResult<Json<GroupView>> {
    let (org, group) = (ids.org()?, ids.group()?);
    let group = state
        .service
        .set_group_assignments(&caller, &org, group.as_str(), &body.assignments)
        .await?;
    Ok(Json(GroupView::from(group)))
}
