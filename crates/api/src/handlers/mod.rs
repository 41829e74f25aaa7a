//! Route handlers: parse input, call exactly one use case, render the output.

pub(crate) mod accept;
pub(crate) mod domains;
pub(crate) mod invitations;
pub(crate) mod links;
pub(crate) mod members;
pub(crate) mod orgs;
pub(crate) mod pools;
pub(crate) mod scim;
pub(crate) mod scim_tokens;

use crate::error::ApiResult;
use crate::extract::page_request;
use axum::Json;
use axum::http::StatusCode;
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
