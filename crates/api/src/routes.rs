//! The route table (spec §3), the one source the routers are built from.

use crate::AppState;
use crate::error::ApiError;
use crate::handlers::{
    accept, audit, domains, groups, invitations, links, members, orgs, pools, scim, scim_tokens,
};
use crate::observe::observe;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use rollcall_domain::audit::AuditAction;

/// The Lambda functions the routes are split into (spec §3, "Function" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FunctionGroup {
    /// Bulk invite, resend, create invite links.
    Invite,
    /// Preview, accept, decline, join.
    Accept,
    /// Every read.
    List,
    /// Deletes and revokes.
    Delete,
    /// Organizations, pools, assignments (members' and groups'), SCIM tokens, domains.
    Manage,
    /// SCIM 2.0 for identity providers (`/scim/v2/...`).
    Scim,
}

impl FunctionGroup {
    /// Every group.
    pub const ALL: [FunctionGroup; 6] = [
        FunctionGroup::Invite,
        FunctionGroup::Accept,
        FunctionGroup::List,
        FunctionGroup::Delete,
        FunctionGroup::Manage,
        FunctionGroup::Scim,
    ];

    /// The group's name (`invite`, `accept`, `list`, `delete`, `manage`, `scim`).
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionGroup::Invite => "invite",
            FunctionGroup::Accept => "accept",
            FunctionGroup::List => "list",
            FunctionGroup::Delete => "delete",
            FunctionGroup::Manage => "manage",
            FunctionGroup::Scim => "scim",
        }
    }

    /// Parses a group name.
    pub fn parse(name: &str) -> Option<FunctionGroup> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

impl std::fmt::Display for FunctionGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a route identifies its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteAuth {
    /// A bearer JWT (API Gateway's JWT authorizer; the local server's token layer).
    Jwt,
    /// No JWT: API Gateway lets the request through without its authorizer. Either no identity
    /// is needed, or the handler authenticates another way (the SCIM routes check a SCIM token).
    Public,
}

/// One route: method, path in axum syntax (`/orgs/{org}/pools/{pool}`, also API Gateway's),
/// function group and authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: &'static str,
    /// The function serving it.
    pub group: FunctionGroup,
    /// How the caller is identified.
    pub auth: RouteAuth,
    /// The audit entries a successful request writes, one per transaction: one of these
    /// actions (a request that changes nothing writes none; a large group change writes one
    /// entry per batch). Empty for a route that changes nothing.
    pub audit: &'static [AuditAction],
}

/// A route with the handler it is served by.
struct RouteDef {
    info: RouteInfo,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route_defs {
    ($($method:ident $path:literal => $group:ident, $auth:ident, $handler:path $(, [$($action:ident),*])?;)*) => {
        fn definitions() -> Vec<RouteDef> {
            vec![$(
                RouteDef {
                    info: RouteInfo {
                        method: Method::$method,
                        path: $path,
                        group: FunctionGroup::$group,
                        auth: RouteAuth::$auth,
                        audit: &[$($(AuditAction::$action),*)?],
                    },
                    handler: || on(MethodFilter::$method, $handler),
                },
            )*]
        }
    };
}

route_defs! {
    POST "/orgs" => Manage, Jwt, orgs::create, [OrganizationCreated];
    PATCH "/orgs/{org}" => Manage, Jwt, orgs::update, [OrganizationUpdated];
    POST "/orgs/{org}/pools" => Manage, Jwt, pools::create, [PoolCreated];
    PATCH "/orgs/{org}/pools/{pool}" => Manage, Jwt, pools::update, [PoolUpdated];
    PUT "/orgs/{org}/users/{usr}/assignments" => Manage, Jwt, members::replace_assignments, [MemberRolesChanged];
    POST "/orgs/{org}/scim-tokens" => Manage, Jwt, scim_tokens::create, [ScimTokenCreated];
    POST "/orgs/{org}/domains" => Manage, Jwt, domains::create, [DomainAdded];
    POST "/orgs/{org}/domains/{domain}/verify" => Manage, Jwt, domains::verify, [DomainVerified, DomainVerificationFailed];
    PATCH "/orgs/{org}/domains/{domain}" => Manage, Jwt, domains::update, [DomainUpdated];
    PUT "/orgs/{org}/groups/{grp}/assignments" => Manage, Jwt, groups::set_assignments, [GroupAssignmentsChanged, GroupMembersChanged];

    GET "/orgs" => List, Jwt, orgs::list_mine;
    GET "/orgs/{org}" => List, Jwt, orgs::get;
    GET "/orgs/{org}/pools" => List, Jwt, pools::list;
    GET "/orgs/{org}/invitations" => List, Jwt, invitations::list, [InvitationExpired];
    GET "/me" => List, Jwt, orgs::me;
    GET "/me/invitations" => List, Jwt, accept::mine, [InvitationCreated];
    GET "/orgs/{org}/invite-links" => List, Jwt, links::list;
    GET "/orgs/{org}/users" => List, Jwt, members::list;
    GET "/orgs/{org}/users/{usr}" => List, Jwt, members::get;
    GET "/orgs/{org}/scim-tokens" => List, Jwt, scim_tokens::list;
    GET "/orgs/{org}/domains" => List, Jwt, domains::list;
    GET "/orgs/{org}/groups" => List, Jwt, groups::list;
    GET "/orgs/{org}/groups/{grp}" => List, Jwt, groups::get;
    GET "/orgs/{org}/groups/{grp}/members" => List, Jwt, groups::members;
    GET "/orgs/{org}/audit-events" => List, Jwt, audit::list;

    DELETE "/orgs/{org}/pools/{pool}" => Delete, Jwt, pools::delete, [PoolDeleted];
    DELETE "/orgs/{org}/invitations/{inv}" => Delete, Jwt, invitations::revoke, [InvitationRevoked];
    DELETE "/orgs/{org}/invite-links/{lnk}" => Delete, Jwt, links::revoke, [InviteLinkRevoked];
    DELETE "/orgs/{org}/users/{usr}" => Delete, Jwt, members::remove, [MemberRemoved, GroupMembersChanged];
    DELETE "/orgs/{org}/scim-tokens/{sct}" => Delete, Jwt, scim_tokens::revoke, [ScimTokenRevoked];
    DELETE "/orgs/{org}/domains/{domain}" => Delete, Jwt, domains::delete, [DomainRemoved];

    POST "/orgs/{org}/invitations" => Invite, Jwt, invitations::bulk_invite, [InvitationCreated, InvitationResent];
    POST "/orgs/{org}/invitations/{inv}/resend" => Invite, Jwt, invitations::resend, [InvitationResent, InvitationExpired];
    POST "/orgs/{org}/invite-links" => Invite, Jwt, links::create, [InviteLinkCreated];

    GET "/invitations/{token}" => Accept, Public, accept::preview;
    GET "/invite-links/{token}" => Accept, Public, accept::preview_link;
    POST "/invitations/accept" => Accept, Jwt, accept::accept_by_token, [InvitationAccepted, InvitationExpired];
    POST "/invitations/decline" => Accept, Jwt, accept::decline_by_token, [InvitationDeclined, InvitationExpired];
    POST "/me/invitations/{inv}/accept" => Accept, Jwt, accept::accept_by_id, [InvitationAccepted, MemberLinked, InvitationExpired];
    POST "/me/invitations/{inv}/decline" => Accept, Jwt, accept::decline_by_id, [InvitationDeclined, MemberLinkDeclined, InvitationExpired];
    POST "/join" => Accept, Jwt, accept::join, [MemberJoined];

    // SCIM: no JWT; every handler authenticates the organization's SCIM token.
    GET "/scim/v2/ServiceProviderConfig" => Scim, Public, scim::service_provider_config;
    GET "/scim/v2/ResourceTypes" => Scim, Public, scim::resource_types;
    GET "/scim/v2/ResourceTypes/{id}" => Scim, Public, scim::resource_type;
    GET "/scim/v2/Schemas" => Scim, Public, scim::schemas;
    GET "/scim/v2/Schemas/{id}" => Scim, Public, scim::schema_by_id;
    GET "/scim/v2/Users" => Scim, Public, scim::list_users;
    POST "/scim/v2/Users" => Scim, Public, scim::create_user, [MemberProvisioned, MemberLinked];
    POST "/scim/v2/Users/.search" => Scim, Public, scim::search_users;
    // A search from the root (RFC 7644 §3.4.2.1): Users is the only resource type.
    POST "/scim/v2/.search" => Scim, Public, scim::search_all;
    GET "/scim/v2/Users/{id}" => Scim, Public, scim::get_user;
    PUT "/scim/v2/Users/{id}" => Scim, Public, scim::replace_user, [MemberUpdated, MemberSuspended, MemberReactivated];
    PATCH "/scim/v2/Users/{id}" => Scim, Public, scim::patch_user, [MemberUpdated, MemberSuspended, MemberReactivated];
    DELETE "/scim/v2/Users/{id}" => Scim, Public, scim::delete_user, [MemberRemoved, GroupMembersChanged];
    GET "/scim/v2/Groups" => Scim, Public, scim::list_groups;
    POST "/scim/v2/Groups" => Scim, Public, scim::create_group, [GroupCreated, GroupMembersChanged];
    POST "/scim/v2/Groups/.search" => Scim, Public, scim::search_groups;
    GET "/scim/v2/Groups/{id}" => Scim, Public, scim::get_group;
    PUT "/scim/v2/Groups/{id}" => Scim, Public, scim::replace_group, [GroupUpdated, GroupMembersChanged];
    PATCH "/scim/v2/Groups/{id}" => Scim, Public, scim::patch_group, [GroupUpdated, GroupMembersChanged];
    DELETE "/scim/v2/Groups/{id}" => Scim, Public, scim::delete_group, [GroupDeleted, GroupMembersChanged];
}

/// Every route of every group.
pub fn route_table() -> Vec<RouteInfo> {
    definitions().into_iter().map(|d| d.info).collect()
}

/// The router of one function group, with the default body limit.
pub fn router(group: FunctionGroup, state: AppState) -> Router {
    router_with_limit(group, state, crate::DEFAULT_MAX_BODY_BYTES)
}

/// The router of one function group, accepting bodies of at most `max_body_bytes`.
pub fn router_with_limit(group: FunctionGroup, state: AppState, max_body_bytes: usize) -> Router {
    build(|g| g == group, state, max_body_bytes)
}

/// Every route of every group in one router (the local server), with the default body limit.
pub fn all_routes(state: AppState) -> Router {
    all_routes_with_limit(state, crate::DEFAULT_MAX_BODY_BYTES)
}

/// Every route of every group, accepting bodies of at most `max_body_bytes`.
pub fn all_routes_with_limit(state: AppState, max_body_bytes: usize) -> Router {
    build(|_| true, state, max_body_bytes)
}

fn build(serves: impl Fn(FunctionGroup) -> bool, state: AppState, max_body_bytes: usize) -> Router {
    let mut router = Router::new();
    let mut has_scim = false;
    for def in definitions().into_iter().filter(|d| serves(d.info.group)) {
        has_scim |= def.info.group == FunctionGroup::Scim;
        router = router.route(def.info.path, (def.handler)());
    }
    router
        .method_not_allowed_fallback(move |method: Method, uri: Uri, path: Option<MatchedPath>| {
            wrong_method(method, uri, path, has_scim)
        })
        .fallback(move |uri: Uri| no_route(uri, has_scim))
        // Inside the body limit, which it reads the body under.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::idempotency,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

/// 404 `route_not_found` (a SCIM Error body under `/scim/` when this router serves SCIM).
async fn no_route(uri: Uri, serves_scim: bool) -> Response {
    if serves_scim && scim::is_scim_path(uri.path()) {
        return scim::no_endpoint();
    }
    ApiError::route_not_found().into_response()
}

/// 405 `method_not_allowed` (a SCIM Error body under `/scim/` when this router serves SCIM), or
/// 404 `route_not_found` when the method and path are a route of another function group (this
/// function does not serve it).
async fn wrong_method(
    method: Method,
    uri: Uri,
    path: Option<MatchedPath>,
    serves_scim: bool,
) -> Response {
    let elsewhere = path.is_some_and(|p| {
        definitions()
            .iter()
            .any(|d| d.info.method == method && d.info.path == p.as_str())
    });
    if elsewhere {
        ApiError::route_not_found().into_response()
    } else if serves_scim && scim::is_scim_path(uri.path()) {
        scim::method_not_allowed()
    } else {
        ApiError::method_not_allowed().into_response()
    }
}
