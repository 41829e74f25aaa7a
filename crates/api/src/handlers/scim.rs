//! SCIM 2.0 (`/scim/v2/...`): bearer SCIM token, `application/scim+json` in and out, SCIM Error
//! bodies for every failure. Each handler maps the request with the `scim` crate (filter, PATCH,
//! resource to command), calls one domain use case (`Service::scim_*`) and maps the member back
//! to a User resource.

use crate::AppState;
use crate::error::ResponseCode;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use rollcall_domain::ErrorKind;
use rollcall_domain::model::Group;
use rollcall_domain::service::MemberOp;
use rollcall_domain::service::{MAX_FILTER_SCAN, Omitted, ScimOrg};
use rollcall_scim::error::scim_type;
use rollcall_scim::group::{
    GroupCondition, GroupFilter, GroupListQuery, GroupProjection, group_patch, group_resource,
    group_write,
};
use rollcall_scim::mapping::{member_command, member_resource};
use rollcall_scim::{
    ListQuery, Projection, ScimError, apply_patch, key_lookup, normalize_user, schema, status_hint,
};
use serde_json::Value;
use std::borrow::Cow;

/// How many groups of a list page have their members read at once.
const GROUP_READS_AT_ONCE: usize = 8;

/// The media type of every SCIM response.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The path prefix of the SCIM routes.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// A SCIM failure as a response: the SCIM Error body (`status` as a string, `scimType`,
/// `detail`), `Content-Type: application/scim+json`, and `WWW-Authenticate` on 401.
#[derive(Debug, Clone)]
pub struct ScimFailure(pub ScimError);

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(e)
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim_json(status, &e.to_json());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::error::UNAVAILABLE_RETRY_AFTER_SECS),
            );
        }
        let code = match e.scim_type {
            Some(t) => format!("scim_{t}"),
            None => format!("scim_{}", e.status),
        };
        response
            .extensions_mut()
            .insert(ResponseCode(Cow::Owned(code)));
        response
    }
}

/// A JSON body with the SCIM media type.
fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response()
}

/// A SCIM response: status, body, and a `Location` header for created resources.
pub struct ScimJson {
    status: StatusCode,
    body: Value,
    location: Option<String>,
}

impl ScimJson {
    fn ok(body: Value) -> Self {
        ScimJson {
            status: StatusCode::OK,
            body,
            location: None,
        }
    }
}

impl IntoResponse for ScimJson {
    fn into_response(self) -> Response {
        let mut response = scim_json(self.status, &self.body);
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, l);
        }
        response
    }
}

type ScimResult<T> = Result<T, ScimFailure>;

/// The SCIM base URL of a request (`{proto}://{host}/scim/v2`), for `meta.location`: the
/// `X-Forwarded-Proto` (API Gateway sets it; else `http`) and `Host` headers. A missing or
/// malformed host gives the relative `/scim/v2`.
pub fn base_url(headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
    };
    let host = header("x-forwarded-host")
        .filter(|h| !h.is_empty())
        .or_else(|| header("host"))
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    let proto = match header("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    match host {
        Some(h) => format!("{proto}://{h}{SCIM_PREFIX}"),
        None => SCIM_PREFIX.to_owned(),
    }
}

/// The SCIM context of a request: the organization of its bearer SCIM token, the application
/// state and the base URL. Every SCIM route extracts it first; no valid token is 401 with a SCIM
/// Error body.
pub struct Scim {
    org: ScimOrg,
    state: AppState,
    base: String,
}

impl FromRequestParts<AppState> for Scim {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ScimResult<Self> {
        // A keyed POST was authenticated by the idempotency layer already (it scopes the key by
        // the token): its organization is in the extensions, and the token is not read twice.
        let mut org = match parts.extensions.get::<ScimOrg>() {
            Some(org) => org.clone(),
            None => {
                let authorization = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                authenticate(state, authorization).await?
            }
        };
        org.request = crate::observe::request_meta(parts);
        Ok(Scim {
            org,
            state: state.clone(),
            base: base_url(&parts.headers),
        })
    }
}

/// The organization of a request's `Authorization` header value (`Bearer rcs_…`): one key
/// lookup by the token's hash and a constant-time comparison. 401 otherwise.
pub(crate) async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
) -> ScimResult<ScimOrg> {
    let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(ScimFailure(ScimError::unauthorized(
            "Authentication required: send Authorization: Bearer <SCIM token>",
        )));
    };
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(ScimFailure(ScimError::unauthorized(
                "The Authorization header must be: Bearer <SCIM token>",
            )));
        }
    };
    match state.service.scim_org(token).await {
        Ok(org) => Ok(org),
        Err(e) if e.kind == ErrorKind::Unavailable => Err(ScimFailure(ScimError::new(
            503,
            None,
            "The data store is unavailable; try again shortly",
        ))),
        Err(_) => Err(ScimFailure(ScimError::unauthorized(
            "The SCIM token is invalid or has been revoked",
        ))),
    }
}

impl Scim {
    /// `GET /Users` and `POST /Users/.search`: a ListResponse (projection applied). A filter
    /// with a key (`userName eq`, `externalId eq`, `emails.value eq`) is one lookup; any other is
    /// evaluated over the members (refused with 400 `tooMany` past [`MAX_FILTER_SCAN`]); no
    /// filter is a page in position order.
    async fn list_users(&self, query: &ListQuery) -> ScimResult<Value> {
        let service = &self.state.service;
        let Some(filter) = &query.filter else {
            let page = service
                .scim_list(
                    &self.org,
                    query.start_index.saturating_sub(1),
                    query.count,
                    self.state.scim_cursors.as_ref(),
                )
                .await
                .map_err(ScimError::from)?;
            let resources: Vec<Value> = page
                .members
                .iter()
                .map(|m| member_resource(m, &self.base))
                .collect();
            return Ok(query.response(&resources, page.total));
        };
        let found = self.matching_users(filter).await?;
        Ok(query.response(query.page(&found), found.len()))
    }

    /// Every User resource `filter` matches, in member order.
    async fn matching_users(&self, filter: &rollcall_scim::Filter) -> ScimResult<Vec<Value>> {
        let service = &self.state.service;
        let candidates = match key_lookup(filter) {
            Some(lookup) => service
                .scim_find(&self.org, &lookup.key.domain_key())
                .await
                .map_err(ScimError::from)?
                .into_iter()
                .collect(),
            None => service
                .scim_scan(&self.org, status_hint(filter))
                .await
                .map_err(ScimError::from)?
                .ok_or_else(|| {
                    ScimError::bad_request(
                        scim_type::TOO_MANY,
                        format!(
                            "This filter is evaluated over the organization's members, and it \
                             has more than {MAX_FILTER_SCAN}; filter with userName eq, externalId \
                             eq or emails.value eq instead"
                        ),
                    )
                })?,
        };
        let mut found = Vec::with_capacity(candidates.len());
        for m in &candidates {
            let r = member_resource(m, &self.base);
            if filter.matches(&r).map_err(ScimError::from)? {
                found.push(r);
            }
        }
        Ok(found)
    }

    /// Every group `filter` matches, in id order. A key condition (id, displayName, member) is
    /// answered by a key lookup; otherwise the organization's groups (at most 1000) are read.
    async fn matching_groups(&self, filter: Option<&GroupFilter>) -> ScimResult<Vec<Group>> {
        let service = &self.state.service;
        let org = &self.org.org_id;
        let fail = |e: rollcall_domain::Error| ScimFailure(ScimError::from(e));
        let key = filter.and_then(GroupFilter::key);
        let candidates = match key {
            Some(GroupCondition::Id(v)) => match service.group(org, v).await {
                Ok(g) => vec![g],
                Err(e) if e.kind == ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(fail(e)),
            },
            Some(GroupCondition::DisplayName(v)) => service
                .group_by_name(org, v)
                .await
                .map_err(fail)?
                .into_iter()
                .collect(),
            Some(GroupCondition::Member(v)) => service
                .scim_groups_of_member(&self.org, v)
                .await
                .map_err(fail)?,
            Some(GroupCondition::ExternalId(_)) | None => {
                service.all_groups(org).await.map_err(fail)?
            }
        };
        let Some(filter) = filter else {
            return Ok(candidates);
        };
        // Each member named by the filter: the ids of their groups (one read per member; the
        // key member's groups are the candidates, already read).
        let mut member_groups = std::collections::HashMap::new();
        if let Some(GroupCondition::Member(v)) = key {
            let ids: Vec<String> = candidates.iter().map(|g| g.id.to_string()).collect();
            member_groups.insert(v.clone(), ids);
        }
        for c in &filter.0 {
            if let GroupCondition::Member(v) = c
                && !member_groups.contains_key(v)
            {
                let ids: Vec<String> = service
                    .scim_groups_of_member(&self.org, v)
                    .await
                    .map_err(fail)?
                    .into_iter()
                    .map(|g| g.id.to_string())
                    .collect();
                member_groups.insert(v.clone(), ids);
            }
        }
        let mut found: Vec<Group> = candidates
            .into_iter()
            .filter(|g| {
                filter.matches(g, |m| {
                    member_groups
                        .get(m)
                        .is_some_and(|ids| ids.iter().any(|id| id == g.id.as_str()))
                })
            })
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    /// The Group resource, with its members when `with_members`.
    async fn group_resource(&self, group: &Group, with_members: bool) -> ScimResult<Value> {
        let members = if with_members {
            Some(
                self.state
                    .service
                    .group_member_refs(group)
                    .await
                    .map_err(ScimError::from)?,
            )
        } else {
            None
        };
        Ok(group_resource(group, members.as_deref(), &self.base))
    }

    /// `GET /Groups` and `POST /Groups/.search`: a ListResponse. List responses leave `members`
    /// out unless `attributes` asks for them (a group may have 20,000); `GET /Groups/{id}`
    /// returns them.
    async fn list_groups(&self, query: &GroupListQuery) -> ScimResult<Value> {
        let found = self.matching_groups(query.filter.as_ref()).await?;
        let total = found.len();
        let start = query.start_index.saturating_sub(1).min(total);
        let end = start.saturating_add(query.count).min(total);
        // Members (when asked for) are read for a few groups at once, the page kept in order.
        let with_members = query.projection.asks_members();
        let reads: Vec<_> = found[start..end]
            .iter()
            .map(|g| self.group_resource(g, with_members))
            .collect();
        let page: Vec<Value> = stream::iter(reads)
            .buffered(GROUP_READS_AT_ONCE)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<ScimResult<_>>()?;
        Ok(query.response(page, total))
    }
}

/// The `{id}` of a SCIM path.
pub struct ScimId(String);

impl<S: Send + Sync> FromRequestParts<S> for ScimId {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ScimResult<Self> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| ScimId(id))
            .map_err(|_| ScimFailure(ScimError::not_found("No such resource")))
    }
}

/// The query string as name/value pairs (names are matched case-insensitively by the parsers).
pub struct ScimQuery(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ScimResult<Self> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| ScimQuery(pairs))
            .map_err(|_| {
                ScimFailure(ScimError::bad_request(
                    scim_type::INVALID_VALUE,
                    "The query string is malformed",
                ))
            })
    }
}

impl ScimQuery {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `attributes` / `excludedAttributes` for a single-resource response.
    fn projection(&self) -> ScimResult<Projection> {
        Ok(Projection::parse(
            self.get("attributes"),
            self.get("excludedAttributes"),
        )?)
    }
}

/// A JSON request body: `application/scim+json`, `application/json` (or any `+json` type, or no
/// Content-Type at all) else 415; at most the body limit (413); valid JSON (400 `invalidSyntax`).
pub struct ScimBody(Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimFailure;

    async fn from_request(req: Request, state: &S) -> ScimResult<Self> {
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?"))
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        match essence.as_deref() {
            None | Some("application/json") => {}
            Some(t) if t.starts_with("application/") && t.ends_with("+json") => {}
            Some(_) => {
                return Err(ScimFailure(ScimError::new(
                    415,
                    None,
                    "The request body must be JSON, sent with Content-Type: application/scim+json \
                     or application/json",
                )));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimFailure(ScimError::payload_too_large(
                    "The request body is larger than this service accepts",
                ))
            } else {
                ScimFailure(ScimError::invalid_syntax(
                    "The request body could not be read",
                ))
            }
        })?;
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            ScimFailure(ScimError::invalid_syntax(format!(
                "The request body is not valid JSON: {e}"
            )))
        })
    }
}

/// Applies `attributes`/`excludedAttributes` to a single resource.
fn resource(query: &ScimQuery, body: Value) -> ScimResult<ScimJson> {
    Ok(ScimJson::ok(query.projection()?.apply(&body)))
}

// ---- discovery -------------------------------------------------------------------------------

/// `GET /scim/v2/ServiceProviderConfig`.
pub(crate) async fn service_provider_config(scim: Scim) -> ScimJson {
    ScimJson::ok(schema::service_provider_config(&scim.base))
}

/// `GET /scim/v2/ResourceTypes`.
pub(crate) async fn resource_types(scim: Scim) -> ScimJson {
    ScimJson::ok(schema::resource_types(&scim.base))
}

/// `GET /scim/v2/ResourceTypes/{id}`.
pub(crate) async fn resource_type(scim: Scim, ScimId(id): ScimId) -> ScimResult<ScimJson> {
    schema::resource_type_by_id(&scim.base, &id)
        .map(ScimJson::ok)
        .ok_or_else(|| ScimFailure(ScimError::not_found("No such resource type")))
}

/// `GET /scim/v2/Schemas`.
pub(crate) async fn schemas(scim: Scim) -> ScimJson {
    ScimJson::ok(schema::schemas(&scim.base))
}

/// `GET /scim/v2/Schemas/{id}`.
pub(crate) async fn schema_by_id(scim: Scim, ScimId(id): ScimId) -> ScimResult<ScimJson> {
    schema::schema_by_id(&scim.base, &id)
        .map(ScimJson::ok)
        .ok_or_else(|| ScimFailure(ScimError::not_found("No such schema")))
}

// ---- Users -------------------------------------------------------------------------------------

/// `GET /scim/v2/Users?filter=&startIndex=&count=&attributes=&excludedAttributes=`.
pub(crate) async fn list_users(scim: Scim, query: ScimQuery) -> ScimResult<ScimJson> {
    let q = ListQuery::from_query(query.pairs())?;
    Ok(ScimJson::ok(scim.list_users(&q).await?))
}

/// `POST /scim/v2/Users/.search` with a SearchRequest body.
pub(crate) async fn search_users(scim: Scim, ScimBody(body): ScimBody) -> ScimResult<ScimJson> {
    let q = ListQuery::from_search_body(&body)?;
    Ok(ScimJson::ok(scim.list_users(&q).await?))
}

/// `POST /scim/v2/Users`: 201 with the resource and a `Location` header.
pub(crate) async fn create_user(
    scim: Scim,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let command = member_command(&normalize_user(&body)?, Omitted::Keep);
    let member = scim
        .state
        .service
        .scim_provision(&scim.org, &command)
        .await
        .map_err(ScimError::from)?;
    let created = member_resource(&member, &scim.base);
    let location = created["meta"]["location"].as_str().map(str::to_owned);
    let mut out = resource(&query, created)?;
    out.status = StatusCode::CREATED;
    out.location = location;
    Ok(out)
}

/// `GET /scim/v2/Users/{id}`.
pub(crate) async fn get_user(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
) -> ScimResult<ScimJson> {
    let member = scim
        .state
        .service
        .scim_member(&scim.org, &id)
        .await
        .map_err(ScimError::from)?;
    resource(&query, member_resource(&member, &scim.base))
}

/// `PUT /scim/v2/Users/{id}`.
pub(crate) async fn replace_user(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let command = member_command(&normalize_user(&body)?, Omitted::Keep);
    let member = scim
        .state
        .service
        .scim_update(&scim.org, &id, Omitted::Keep, |_| {
            Ok::<_, ScimError>(command.clone())
        })
        .await?;
    resource(&query, member_resource(&member, &scim.base))
}

/// `PATCH /scim/v2/Users/{id}`: 200 with the resource.
pub(crate) async fn patch_user(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let base = scim.base.as_str();
    let member = scim
        .state
        .service
        .scim_update(&scim.org, &id, Omitted::Clear, |current| {
            let patched = apply_patch(&member_resource(current, base), &body)?;
            Ok::<_, ScimError>(member_command(&patched, Omitted::Clear))
        })
        .await?;
    resource(&query, member_resource(&member, base))
}

/// `DELETE /scim/v2/Users/{id}`: 204.
pub(crate) async fn delete_user(scim: Scim, ScimId(id): ScimId) -> ScimResult<StatusCode> {
    scim.state
        .service
        .scim_remove(&scim.org, &id)
        .await
        .map_err(ScimError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- Groups ------------------------------------------------------------------------------------

impl ScimQuery {
    fn group_projection(&self) -> GroupProjection {
        GroupProjection::parse(self.get("attributes"), self.get("excludedAttributes"))
    }
}

/// A Group response with the query's projection (members read only when returned).
async fn group_response(scim: &Scim, query: &ScimQuery, group: &Group) -> ScimResult<ScimJson> {
    let projection = query.group_projection();
    let resource = scim
        .group_resource(group, projection.wants_members())
        .await?;
    Ok(ScimJson::ok(projection.apply(resource)))
}

/// `GET /scim/v2/Groups?filter=&startIndex=&count=&attributes=&excludedAttributes=`.
pub(crate) async fn list_groups(scim: Scim, query: ScimQuery) -> ScimResult<ScimJson> {
    let q = GroupListQuery::from_query(query.pairs())?;
    Ok(ScimJson::ok(scim.list_groups(&q).await?))
}

/// `POST /scim/v2/Groups/.search` with a SearchRequest body.
pub(crate) async fn search_groups(scim: Scim, ScimBody(body): ScimBody) -> ScimResult<ScimJson> {
    let q = GroupListQuery::from_search_body(&body)?;
    Ok(ScimJson::ok(scim.list_groups(&q).await?))
}

/// `POST /scim/v2/Groups`: 201 with the resource and a `Location` header.
pub(crate) async fn create_group(
    scim: Scim,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let (attrs, members) = group_write(&body)?;
    let group = scim
        .state
        .service
        .scim_create_group(&scim.org, attrs, members)
        .await
        .map_err(ScimError::from)?;
    let mut out = group_response(&scim, &query, &group).await?;
    out.status = StatusCode::CREATED;
    out.location = Some(rollcall_scim::group::group_location(&scim.base, &group));
    Ok(out)
}

/// `GET /scim/v2/Groups/{id}`.
pub(crate) async fn get_group(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
) -> ScimResult<ScimJson> {
    let group = scim
        .state
        .service
        .group(&scim.org.org_id, &id)
        .await
        .map_err(ScimError::from)?;
    group_response(&scim, &query, &group).await
}

/// `PUT /scim/v2/Groups/{id}`: the members become exactly the body's.
pub(crate) async fn replace_group(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimJson> {
    let (attrs, members) = group_write(&body)?;
    let group = scim
        .state
        .service
        .scim_update_group(&scim.org, &id, attrs, &[MemberOp::Replace(members)])
        .await
        .map_err(ScimError::from)?;
    group_response(&scim, &query, &group).await
}

/// `PATCH /scim/v2/Groups/{id}`: 204 (what Entra expects and Okta accepts), or 200 with the
/// resource when `attributes` or `excludedAttributes` asks for it (RFC 7644 §3.5.2).
pub(crate) async fn patch_group(
    scim: Scim,
    ScimId(id): ScimId,
    query: ScimQuery,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let (attrs, ops) = group_patch(&body)?;
    let group = scim
        .state
        .service
        .scim_update_group(&scim.org, &id, attrs, &ops)
        .await
        .map_err(ScimError::from)?;
    if query.group_projection().is_set() {
        return Ok(group_response(&scim, &query, &group).await?.into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /scim/v2/Groups/{id}`: 204; the members lose what the group gave them.
pub(crate) async fn delete_group(scim: Scim, ScimId(id): ScimId) -> ScimResult<StatusCode> {
    scim.state
        .service
        .scim_delete_group(&scim.org, &id)
        .await
        .map_err(ScimError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /scim/v2/.search`: Users then Groups matching the SearchRequest. A filter only one
/// resource type understands finds nothing of the other type.
pub(crate) async fn search_all(scim: Scim, ScimBody(body): ScimBody) -> ScimResult<ScimJson> {
    let users = ListQuery::from_search_body(&body);
    let groups = GroupListQuery::from_search_body(&body);
    let (users, groups) = match (users, groups) {
        (Err(e), Err(_)) => return Err(ScimFailure(e)),
        (u, g) => (u.ok(), g.ok()),
    };
    let paging = users
        .clone()
        .map(|u| (u.start_index, u.count))
        .or_else(|| groups.as_ref().map(|g| (g.start_index, g.count)));
    let (start_index, count) = paging.unwrap_or((1, rollcall_scim::list::DEFAULT_COUNT));
    let mut all: Vec<Value> = Vec::new();
    if let Some(u) = &users {
        let found = match &u.filter {
            Some(f) => scim.matching_users(f).await?,
            None => {
                let page = scim
                    .state
                    .service
                    .scim_scan(&scim.org, None)
                    .await
                    .map_err(ScimError::from)?
                    .ok_or_else(|| {
                        ScimError::bad_request(
                            scim_type::TOO_MANY,
                            format!(
                                "The organization has more than {MAX_FILTER_SCAN} members; search                                  /Users and /Groups separately"
                            ),
                        )
                    })?;
                page.iter()
                    .map(|m| member_resource(m, &scim.base))
                    .collect()
            }
        };
        all.extend(found.iter().map(|r| u.projection.apply(r)));
    }
    if let Some(g) = &groups {
        for group in scim.matching_groups(g.filter.as_ref()).await? {
            let r = scim
                .group_resource(&group, g.projection.asks_members())
                .await?;
            all.push(g.projection.apply(r));
        }
    }
    let total = all.len();
    let start = start_index.saturating_sub(1).min(total);
    let end = start.saturating_add(count).min(total);
    Ok(ScimJson::ok(rollcall_scim::resource::list_response(
        all[start..end].to_vec(),
        total,
        start_index,
    )))
}

// ---- fallbacks -----------------------------------------------------------------------------------

/// Whether a request path is under the SCIM prefix (its errors are SCIM Error bodies).
pub(crate) fn is_scim_path(path: &str) -> bool {
    path == SCIM_PREFIX || path.starts_with("/scim/")
}

/// An error of the HTTP layer (such as the idempotency layer's) as a SCIM Error, with the same
/// status and headers, for a SCIM route.
pub(crate) fn failure(error: crate::error::ApiError) -> Response {
    let status = error.status;
    let mut response =
        ScimFailure(ScimError::new(status.as_u16(), None, error.message)).into_response();
    response
        .extensions_mut()
        .insert(ResponseCode(Cow::Borrowed(error.code.as_str())));
    response
}

/// 404 for a path under `/scim/v2` that is no SCIM endpoint.
pub(crate) fn no_endpoint() -> Response {
    ScimFailure(ScimError::not_found(
        "No SCIM endpoint at this path: this service provider serves /Users, /Groups, \
         /Schemas, /ResourceTypes and /ServiceProviderConfig",
    ))
    .into_response()
}

/// 405 for a method a SCIM path does not accept (e.g. writes to the discovery endpoints).
pub(crate) fn method_not_allowed() -> Response {
    ScimFailure(ScimError::method_not_allowed(
        "This SCIM endpoint does not accept this method",
    ))
    .into_response()
}
