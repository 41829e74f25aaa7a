//! The audit log: `GET /orgs/{org}/audit-events`.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthenticatedCaller, PathIds, QueryParams, page_request};
use crate::views::ListView;
use axum::Json;
use axum::extract::State;
use rollcall_domain::audit::{AuditAction, AuditEvent, AuditFilter};
use rollcall_domain::model::Timestamp;
use serde::Deserialize;

/// `GET /orgs/{org}/audit-events` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Longest `actor` or `target` filter value.
const MAX_FILTER_VALUE: usize = 256;

/// `GET /orgs/{org}/audit-events?action=&actor=&target=&since=&until=`: newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    QueryParams(query): QueryParams<AuditQuery>,
) -> ApiResult<Json<ListView<AuditEvent>>> {
    let org = ids.org()?;
    let filter = AuditFilter {
        action: match present(&query.action) {
            Some(a) => Some(AuditAction::parse(a).ok_or_else(|| {
                invalid(
                    "action",
                    "`action` is not an audit action (see the API reference)",
                )
            })?),
            None => None,
        },
        actor: bounded("actor", present(&query.actor))?,
        target: bounded("target", present(&query.target))?,
        since: time("since", present(&query.since))?,
        until: time("until", present(&query.until))?,
    };
    if let (Some(s), Some(u)) = (filter.since, filter.until)
        && s >= u
    {
        return Err(invalid("until", "`until` must be later than `since`"));
    }
    let page = page_request(query.limit, query.cursor.clone())?;
    let events = state
        .service
        .list_audit_events(&caller, &org, &filter, &page)
        .await?;
    Ok(Json(ListView::from_page(events, |e| e)))
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::invalid_query(message).with_details(serde_json::json!({ "field": field }))
}

fn bounded(field: &str, v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        Some(v) if v.chars().count() > MAX_FILTER_VALUE => Err(invalid(
            field,
            &format!("`{field}` must be at most {MAX_FILTER_VALUE} characters"),
        )),
        v => Ok(v.map(str::to_owned)),
    }
}

fn time(field: &str, v: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    v.map(|v| {
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                invalid(
                    field,
                    &format!("`{field}` must be an RFC 3339 time such as 2026-12-01T00:00:00Z"),
                )
            })
    })
    .transpose()
}
