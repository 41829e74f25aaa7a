//! The route table (spec §3), the one source the routers are built from.

use crate::AppState;
use crate::error::ApiError;
use crate::handlers::{accept, invitations, links, members, orgs, pools};
use crate::observe::observe;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

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
    /// Organizations, pools, assignments.
    Manage,
}

impl FunctionGroup {
    /// Every group.
    pub const ALL: [FunctionGroup; 5] = [
        FunctionGroup::Invite,
        FunctionGroup::Accept,
        FunctionGroup::List,
        FunctionGroup::Delete,
        FunctionGroup::Manage,
    ];

    /// The group's name (`invite`, `accept`, `list`, `delete`, `manage`).
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionGroup::Invite => "invite",
            FunctionGroup::Accept => "accept",
            FunctionGroup::List => "list",
            FunctionGroup::Delete => "delete",
            FunctionGroup::Manage => "manage",
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
    /// No identity needed.
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
}

/// A route with the handler it is served by.
struct RouteDef {
    info: RouteInfo,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route_defs {
    ($($method:ident $path:literal => $group:ident, $auth:ident, $handler:path;)*) => {
        fn definitions() -> Vec<RouteDef> {
            vec![$(
                RouteDef {
                    info: RouteInfo {
                        method: Method::$method,
                        path: $path,
                        group: FunctionGroup::$group,
                        auth: RouteAuth::$auth,
                    },
                    handler: || on(MethodFilter::$method, $handler),
                },
            )*]
        }
    };
}

route_defs! {
    POST "/orgs" => Manage, Jwt, orgs::create;
    PATCH "/orgs/{org}" => Manage, Jwt, orgs::update;
    POST "/orgs/{org}/pools" => Manage, Jwt, pools::create;
    PATCH "/orgs/{org}/pools/{pool}" => Manage, Jwt, pools::update;
    PUT "/orgs/{org}/users/{usr}/assignments" => Manage, Jwt, members::replace_assignments;

    GET "/orgs" => List, Jwt, orgs::list_mine;
    GET "/orgs/{org}" => List, Jwt, orgs::get;
    GET "/orgs/{org}/pools" => List, Jwt, pools::list;
    GET "/orgs/{org}/invitations" => List, Jwt, invitations::list;
    GET "/me" => List, Jwt, orgs::me;
    GET "/me/invitations" => List, Jwt, accept::mine;
    GET "/orgs/{org}/invite-links" => List, Jwt, links::list;
    GET "/orgs/{org}/users" => List, Jwt, members::list;
    GET "/orgs/{org}/users/{usr}" => List, Jwt, members::get;

    DELETE "/orgs/{org}/pools/{pool}" => Delete, Jwt, pools::delete;
    DELETE "/orgs/{org}/invitations/{inv}" => Delete, Jwt, invitations::revoke;
    DELETE "/orgs/{org}/invite-links/{lnk}" => Delete, Jwt, links::revoke;
    DELETE "/orgs/{org}/users/{usr}" => Delete, Jwt, members::remove;

    POST "/orgs/{org}/invitations" => Invite, Jwt, invitations::bulk_invite;
    POST "/orgs/{org}/invitations/{inv}/resend" => Invite, Jwt, invitations::resend;
    POST "/orgs/{org}/invite-links" => Invite, Jwt, links::create;

    GET "/invitations/{token}" => Accept, Public, accept::preview;
    POST "/invitations/accept" => Accept, Jwt, accept::accept_by_token;
    POST "/invitations/decline" => Accept, Jwt, accept::decline_by_token;
    POST "/me/invitations/{inv}/accept" => Accept, Jwt, accept::accept_by_id;
    POST "/me/invitations/{inv}/decline" => Accept, Jwt, accept::decline_by_id;
    POST "/join" => Accept, Jwt, accept::join;
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
    for def in definitions().into_iter().filter(|d| serves(d.info.group)) {
        router = router.route(def.info.path, (def.handler)());
    }
    router
        .method_not_allowed_fallback(wrong_method)
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

/// 404 `route_not_found`.
async fn no_route() -> ApiError {
    ApiError::route_not_found()
}

/// 405 `method_not_allowed`, or 404 `route_not_found` when the method and path are a route of
/// another function group (this function does not serve it).
async fn wrong_method(method: Method, path: Option<MatchedPath>) -> ApiError {
    let elsewhere = path.is_some_and(|p| {
        definitions()
            .iter()
            .any(|d| d.info.method == method && d.info.path == p.as_str())
    });
    if elsewhere {
        ApiError::route_not_found()
    } else {
        ApiError::method_not_allowed()
    }
}
