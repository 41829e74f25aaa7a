//! Verified organization domains: add (with the TXT record to publish), list, verify, change the
//! enrollment mode, delete.

use super::{Created, created};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{AuthenticatedCaller, JsonBody, PathIds};
use crate::views::ListView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rollcall_domain::ids::{OrgId, UserId};
use rollcall_domain::model::Timestamp;
use rollcall_domain::org_domain::{DomainState, Enrollment, OrgDomain};
use rollcall_domain::service::{AddDomainRequest, UpdateDomainRequest};
use serde::Serialize;

/// The DNS record that proves ownership: `{type: "TXT", name, value}`.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationRecordView {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// The full name of the record (`_rollcall-challenge.acme.com`).
    pub name: String,
    /// Its value (`rollcall-domain-verification=rcd_…`).
    pub value: String,
}

/// A domain of an organization.
#[derive(Debug, Clone, Serialize)]
pub struct DomainView {
    /// The domain, IDNA ASCII form.
    pub domain: String,
    /// Organization.
    pub org_id: OrgId,
    /// `pending` | `verified` | `failed`.
    pub state: DomainState,
    /// `manual` | `automatic_invitation`.
    pub enrollment: Enrollment,
    /// The TXT record to publish.
    pub verification: VerificationRecordView,
    /// Who added it.
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// When it was verified.
    pub verified_at: Option<Timestamp>,
    /// Who verified it.
    pub verified_by: Option<UserId>,
    /// The last DNS check.
    pub last_checked_at: Option<Timestamp>,
    /// Why the last check did not verify it.
    pub last_check_reason: Option<String>,
    /// Checks that did not find the record.
    pub failed_checks: u32,
}

impl From<OrgDomain> for DomainView {
    fn from(d: OrgDomain) -> Self {
        DomainView {
            verification: VerificationRecordView {
                record_type: "TXT",
                name: d.record_name(),
                value: d.record_value(),
            },
            domain: d.domain,
            org_id: d.org_id,
            state: d.state,
            enrollment: d.enrollment,
            created_by: d.created_by,
            created_at: d.created_at,
            verified_at: d.verified_at,
            verified_by: d.verified_by,
            last_checked_at: d.last_checked_at,
            last_check_reason: d.last_check_reason,
            failed_checks: d.failed_checks,
        }
    }
}

/// `POST /orgs/{org}/domains`: 201 with the domain, `pending`, and the TXT record to publish.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<AddDomainRequest>,
) -> ApiResult<Created<DomainView>> {
    let d = state
        .service
        .add_domain(&caller, &ids.org()?, &body)
        .await?;
    Ok(created(DomainView::from(d)))
}

/// `GET /orgs/{org}/domains`: every domain of the organization, by name.
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<ListView<DomainView>>> {
    let list = state.service.list_domains(&caller, &ids.org()?).await?;
    Ok(Json(ListView::complete(
        list.into_iter().map(DomainView::from).collect(),
    )))
}

/// `POST /orgs/{org}/domains/{domain}/verify`: 200 with the domain, `verified` or still
/// `pending` (or `failed`) with the reason.
pub(crate) async fn verify(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<Json<DomainView>> {
    let d = state
        .service
        .verify_domain(&caller, &ids.org()?, ids.domain())
        .await?;
    Ok(Json(DomainView::from(d)))
}

/// `PATCH /orgs/{org}/domains/{domain}`: 200 with the domain (`enrollment`).
pub(crate) async fn update(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
    JsonBody(body): JsonBody<UpdateDomainRequest>,
) -> ApiResult<Json<DomainView>> {
    let d = state
        .service
        .update_domain(&caller, &ids.org()?, ids.domain(), &body)
        .await?;
    Ok(Json(DomainView::from(d)))
}

/// `DELETE /orgs/{org}/domains/{domain}`: 204; a verified domain's claim is released.
pub(crate) async fn delete(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    ids: PathIds,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_domain(&caller, &ids.org()?, ids.domain())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
