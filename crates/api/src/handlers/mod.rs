//! Route handlers: parse input, call exactly one use case, render the output.

pub(crate) mod accept;
pub(crate) mod audit;
pub(crate) mod domains;
pub(crate) mod groups;
pub(crate) mod invitations;
pub(crate) mod links;
pub(crate) mod members;
pub(crate) mod orgs;
pub(crate) mod pools;
pub(crate) mod scim;
pub(crate) mod scim_tokens;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::page_request;
use crate::views::MemberView;
use axum::Json;
use axum::http::StatusCode;
use rollcall_domain::model::Membership;
use rollcall_domain::page::PageRequest;
use serde::Deserialize;

/// `?limit=&cursor=` of list routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    fn page(self) -> ApiResult<PageRequest> {
        page_request(self.limit, self.cursor)
    }
}

/// `201 Created` with a JSON body.
type Created<T> = (StatusCode, Json<T>);

fn created<T>(body: T) -> Created<T> {
    (StatusCode::CREATED, Json(body))
}

/// Members as views, their groups named with one batched read of the groups they name (none
/// when no one has a group).
async fn member_views(state: &AppState, members: Vec<Membership>) -> ApiResult<Vec<MemberView>> {
    let Some(org) = members.first().map(|m| m.org_id.clone()) else {
        return Ok(Vec::new());
    };
    let names = state.service.group_names(&org, &members).await?;
    Ok(members
        .into_iter()
        .map(|m| MemberView::new(m, &names))
        .collect())
}

/// One member as a view, its groups named.
async fn member_view(state: &AppState, member: Membership) -> ApiResult<MemberView> {
    let names = state
        .service
        .group_names(&member.org_id, std::slice::from_ref(&member))
        .await?;
    Ok(MemberView::new(member, &names))
}
