//! The audit log over HTTP, on both backends: every route of the route table, called once with a
//! successful minimal request, writes exactly the entry it documents (or none), naming the caller,
//! the target and the request's id, source IP and user agent; no request changes or drops an
//! entry written before it; refused requests write nothing; and `GET /orgs/{org}/audit-events`
//! answers only the organization's managers, filters, pages and refuses bad queries.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use rollcall_api::{RouteInfo, route_table};
use rollcall_tests::dns::TestDns;
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint, url_encode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const USER_AGENT: &str = "audit-walk/1";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const AUDIT_ROUTE: &str = "/orgs/{org}/audit-events";

/// Servers on both backends, asking `dns` for TXT records (domain verification).
async fn servers(dns: &TestDns) -> Vec<TestServer> {
    let resolver = dns.addr.to_string();
    let env = [("ROLLCALL_DNS_RESOLVER", resolver.as_str())];
    let mut v = vec![TestServer::start_with_env(Backend::Embedded, &env).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start_with_env(Backend::Emulated { endpoint }, &env).await);
    }
    v
}

// ------------------------------------------------------------------ typed helpers

/// A signed-in person: bearer token, user id, email.
#[derive(Clone)]
struct Person {
    token: String,
    id: String,
    email: String,
}

impl Person {
    /// The `actor` of the entries this person's requests write.
    fn actor(&self) -> Value {
        json!({"type": "user", "id": self.id, "email": self.email})
    }
}

/// An organization and its first organization manager.
struct Org {
    id: String,
    manager: Person,
}

/// A person with a verified email, known to the server (their user exists).
async fn person(s: &TestServer, email: &str) -> Person {
    let token = s.token(email, Some("Audit Tester"), true);
    let (st, me) = s.call(Method::GET, "/me", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK, "GET /me: {me}");
    Person {
        token,
        id: me["user"]["id"].as_str().expect("user id").to_owned(),
        email: email.to_owned(),
    }
}

/// Sends a request that must succeed; returns the response body.
async fn ok(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let (st, res) = s
        .call_with_headers(method.clone(), path, Some(token), body, &[])
        .await;
    assert!(st.is_success(), "{method} {path}: {st} {res}");
    res
}

async fn create_org(s: &TestServer, manager_email: &str, name: &str) -> Org {
    let manager = person(s, manager_email).await;
    let org = s.create_org(&manager.token, name).await;
    Org {
        id: org["id"].as_str().expect("org id").to_owned(),
        manager,
    }
}

async fn create_pool(s: &TestServer, org: &Org, name: &str) -> String {
    let pool = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/pools", org.id),
        &org.manager.token,
        Some(json!({ "name": name })),
    )
    .await;
    pool["id"].as_str().expect("pool id").to_owned()
}

/// A pending invitation to `email` (no mail sent): its id and token.
async fn invite(s: &TestServer, org: &Org, email: &str) -> (String, String) {
    let res = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/invitations", org.id),
        &org.manager.token,
        Some(json!({"invitations": [{"email": email}], "send_email": false})),
    )
    .await;
    let id = res["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no invitation in {res}"))
        .to_owned();
    let token = res["results"][0]["accept_url"]
        .as_str()
        .and_then(|u| u.rsplit("token=").next())
        .unwrap_or_else(|| panic!("no accept_url in {res}"))
        .to_owned();
    (id, token)
}

/// A member of `org` (invited and accepted) with the plain `member` role.
async fn add_member(s: &TestServer, org: &Org, email: &str) -> Person {
    let (_, token) = invite(s, org, email).await;
    let p = person(s, email).await;
    ok(
        s,
        Method::POST,
        "/invitations/accept",
        &p.token,
        Some(json!({ "token": token })),
    )
    .await;
    p
}

/// An invite link granting `member`: its id and token.
async fn create_link(s: &TestServer, org: &Org) -> (String, String) {
    let link = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/invite-links", org.id),
        &org.manager.token,
        Some(json!({"assignments": [{"role": "member"}]})),
    )
    .await;
    (
        link["id"].as_str().expect("link id").to_owned(),
        link["token"].as_str().expect("link token").to_owned(),
    )
}

/// A SCIM token: its id and secret.
async fn create_scim_token(s: &TestServer, org: &Org) -> (String, String) {
    let made = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/scim-tokens", org.id),
        &org.manager.token,
        Some(json!({"description": "audit walk"})),
    )
    .await;
    (
        made["id"].as_str().expect("token id").to_owned(),
        made["token"].as_str().expect("token").to_owned(),
    )
}

fn scim_user_body(email: &str) -> Value {
    json!({
        "schemas": [CORE_USER],
        "userName": email,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

async fn scim_user(s: &TestServer, scim_token: &str, email: &str) -> String {
    let user = ok(
        s,
        Method::POST,
        "/scim/v2/Users",
        scim_token,
        Some(scim_user_body(email)),
    )
    .await;
    user["id"].as_str().expect("SCIM id").to_owned()
}

async fn scim_group(s: &TestServer, scim_token: &str, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let group = ok(
        s,
        Method::POST,
        "/scim/v2/Groups",
        scim_token,
        Some(json!({"schemas": [CORE_GROUP], "displayName": name, "members": members})),
    )
    .await;
    group["id"].as_str().expect("group id").to_owned()
}

/// Adds `domain` (pending); returns the TXT value that proves it.
async fn add_domain(s: &TestServer, org: &Org, domain: &str) -> String {
    let d = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/domains", org.id),
        &org.manager.token,
        Some(json!({ "domain": domain })),
    )
    .await;
    d["verification"]["value"]
        .as_str()
        .expect("TXT value")
        .to_owned()
}

/// Adds `domain`, publishes its record and verifies it.
async fn verified_domain(s: &TestServer, dns: &TestDns, org: &Org, domain: &str) {
    let value = add_domain(s, org, domain).await;
    dns.publish_txt(&format!("_rollcall-challenge.{domain}"), &value);
    let d = ok(
        s,
        Method::POST,
        &format!("/orgs/{}/domains/{domain}/verify", org.id),
        &org.manager.token,
        None,
    )
    .await;
    assert_eq!(d["state"], "verified", "{d}");
}

/// Every entry of `org`'s audit log, newest first, read page by page.
async fn audit_log(s: &TestServer, org: &str, token: &str) -> Vec<Value> {
    audit_query(s, org, token, "", 200).await
}

/// Every entry matching `query` (`action=...&...`, or empty), reading pages of `limit`.
async fn audit_query(
    s: &TestServer,
    org: &str,
    token: &str,
    query: &str,
    limit: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if query.is_empty() { "" } else { "&" };
    loop {
        let mut path = format!("/orgs/{org}/audit-events?{query}{sep}limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", url_encode(c)));
        }
        let (st, page) = s.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(st, StatusCode::OK, "GET {path}: {page}");
        let items = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {page}"));
        assert!(items.len() <= limit, "GET {path}: {} items", items.len());
        out.extend(items.iter().cloned());
        match &page["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => break,
            other => panic!("GET {path}: next_cursor {other}"),
        }
    }
    // Newest first: ids (ordered by time) descending.
    let ids: Vec<&str> = out.iter().map(entry_id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "audit log of {org} not newest first: {ids:?}"
    );
    out
}

fn entry_id(e: &Value) -> &str {
    e["id"]
        .as_str()
        .unwrap_or_else(|| panic!("entry without id: {e}"))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

// ------------------------------------------------------------------ the walk

/// Where a walk request's entry is, and what it names.
enum Target {
    /// This id.
    Id(String),
    /// The id at this JSON pointer of the response.
    At(&'static str),
}

/// What a walk request must write.
enum Expect {
    /// No entry.
    Nothing,
    /// Exactly one entry: this action, by this actor, about a target of this type.
    Entry {
        action: &'static str,
        actor: Value,
        kind: &'static str,
        target: Target,
    },
    /// These entries (one per transaction), in any order.
    Entries(Vec<Want>),
}

/// One entry a request must write: its action, actor, and target's type and id.
struct Want {
    action: &'static str,
    actor: Value,
    kind: &'static str,
    target: Target,
}

/// One successful request of the walk.
struct Case {
    path: String,
    token: Option<String>,
    body: Option<Value>,
    expect: Expect,
    /// The entry goes to the organization the request creates (`POST /orgs`), not the walk's.
    new_org: bool,
}

impl Case {
    fn read(path: String, token: &str) -> Case {
        Case {
            path,
            token: Some(token.to_owned()),
            body: None,
            expect: Expect::Nothing,
            new_org: false,
        }
    }

    fn public_read(path: String) -> Case {
        Case {
            token: None,
            ..Case::read(path, "")
        }
    }

    fn search(path: &str, scim: &str, filter: String) -> Case {
        Case {
            body: Some(json!({"schemas": [SEARCH], "filter": filter})),
            ..Case::read(path.to_owned(), scim)
        }
    }

    fn write(
        path: String,
        who: &Person,
        body: Option<Value>,
        action: &'static str,
        kind: &'static str,
        target: Target,
    ) -> Case {
        Case {
            path,
            token: Some(who.token.clone()),
            body,
            expect: Expect::Entry {
                action,
                actor: who.actor(),
                kind,
                target,
            },
            new_org: false,
        }
    }
}

/// The walk's organization, seen from its manager, with one of everything for the reads.
struct Walk<'a> {
    s: &'a TestServer,
    dns: &'a TestDns,
    org: Org,
    /// A SCIM token of the organization (secret and id).
    scim: String,
    scim_id: String,
    pool: String,
    member: String,
    invitation_token: String,
    link_token: String,
    scim_user: String,
    group: String,
    /// Every entry of the organization's log seen so far, by id.
    seen: BTreeMap<String, Value>,
    /// Requests whose one entry was checked.
    entries_checked: usize,
}

impl<'a> Walk<'a> {
    async fn new(s: &'a TestServer, dns: &'a TestDns) -> Walk<'a> {
        let org = create_org(s, "walk-manager@walk.test", "Walk").await;
        let pool = create_pool(s, &org, "Shared").await;
        let member = add_member(s, &org, "walk-member@walk.test").await.id;
        let (_, invitation_token) = invite(s, &org, "walk-guest@walk.test").await;
        let (_, link_token) = create_link(s, &org).await;
        let (scim_id, scim) = create_scim_token(s, &org).await;
        let scim_user = scim_user(s, &scim, "walk-scim@walk.test").await;
        add_domain(s, &org, "shared.walk.example").await;
        let group = scim_group(s, &scim, "Walk readers", &[&scim_user]).await;
        Walk {
            s,
            dns,
            org,
            scim,
            scim_id,
            pool,
            member,
            invitation_token,
            link_token,
            scim_user,
            group,
            seen: BTreeMap::new(),
            entries_checked: 0,
        }
    }

    fn scim_actor(&self) -> Value {
        json!({"type": "scim_token", "id": self.scim_id})
    }

    fn scim_write(
        &self,
        path: String,
        body: Option<Value>,
        action: &'static str,
        kind: &'static str,
        target: Target,
    ) -> Case {
        Case {
            path,
            token: Some(self.scim.clone()),
            body,
            expect: Expect::Entry {
                action,
                actor: self.scim_actor(),
                kind,
                target,
            },
            new_org: false,
        }
    }

    /// The request for `route`, with what it needs set up first. Every route of the table must
    /// have a case here: a new route without one fails the walk.
    async fn case(&mut self, route: &RouteInfo, n: usize) -> Case {
        let s = self.s;
        let org = self.org.id.clone();
        let m = self.org.manager.clone();
        let email = format!("r{n}@walk.test");
        let manager_write = |path: String, body, action, kind, target| {
            Case::write(path, &m, body, action, kind, target)
        };
        match (route.method.as_str(), route.path) {
            // ---- manage
            ("POST", "/orgs") => Case {
                new_org: true,
                ..manager_write(
                    "/orgs".into(),
                    Some(json!({"name": "Walk side"})),
                    "organization.created",
                    "organization",
                    Target::At("/id"),
                )
            },
            ("PATCH", "/orgs/{org}") => manager_write(
                format!("/orgs/{org}"),
                Some(json!({"name": "Walk renamed", "settings": {"audit_retention_days": 30}})),
                "organization.updated",
                "organization",
                Target::Id(org.clone()),
            ),
            ("POST", "/orgs/{org}/pools") => manager_write(
                format!("/orgs/{org}/pools"),
                Some(json!({ "name": format!("Pool {n}") })),
                "pool.created",
                "pool",
                Target::At("/id"),
            ),
            ("PATCH", "/orgs/{org}/pools/{pool}") => {
                let pool = create_pool(s, &self.org, &format!("Pool {n}")).await;
                manager_write(
                    format!("/orgs/{org}/pools/{pool}"),
                    Some(json!({ "name": format!("Renamed {n}") })),
                    "pool.updated",
                    "pool",
                    Target::Id(pool),
                )
            }
            ("PUT", "/orgs/{org}/users/{usr}/assignments") => {
                let usr = add_member(s, &self.org, &email).await.id;
                manager_write(
                    format!("/orgs/{org}/users/{usr}/assignments"),
                    Some(json!({"assignments": [{"role": "engineer", "pool_id": self.pool}]})),
                    "member.roles_changed",
                    "member",
                    Target::Id(usr),
                )
            }
            ("POST", "/orgs/{org}/scim-tokens") => manager_write(
                format!("/orgs/{org}/scim-tokens"),
                Some(json!({"description": "walk"})),
                "scim_token.created",
                "scim_token",
                Target::At("/id"),
            ),
            ("POST", "/orgs/{org}/domains") => manager_write(
                format!("/orgs/{org}/domains"),
                Some(json!({ "domain": format!("r{n}.walk.example") })),
                "domain.added",
                "domain",
                Target::At("/domain"),
            ),
            ("POST", "/orgs/{org}/domains/{domain}/verify") => {
                let domain = format!("r{n}.walk.example");
                let value = add_domain(s, &self.org, &domain).await;
                self.dns
                    .publish_txt(&format!("_rollcall-challenge.{domain}"), &value);
                manager_write(
                    format!("/orgs/{org}/domains/{domain}/verify"),
                    None,
                    "domain.verified",
                    "domain",
                    Target::Id(domain),
                )
            }
            ("PATCH", "/orgs/{org}/domains/{domain}") => {
                let domain = format!("r{n}.walk.example");
                verified_domain(s, self.dns, &self.org, &domain).await;
                manager_write(
                    format!("/orgs/{org}/domains/{domain}"),
                    Some(json!({"enrollment": "automatic_invitation"})),
                    "domain.updated",
                    "domain",
                    Target::Id(domain),
                )
            }
            ("PUT", "/orgs/{org}/groups/{grp}/assignments") => {
                let grp = scim_group(s, &self.scim, &format!("Group {n}"), &[]).await;
                manager_write(
                    format!("/orgs/{org}/groups/{grp}/assignments"),
                    Some(json!({"assignments": [{"role": "engineer", "pool_id": self.pool}]})),
                    "group.assignments_changed",
                    "group",
                    Target::Id(grp),
                )
            }
            // ---- list: reads write nothing
            ("GET", "/orgs" | "/me" | "/me/invitations") => {
                Case::read(route.path.to_owned(), &m.token)
            }
            (
                "GET",
                "/orgs/{org}"
                | "/orgs/{org}/pools"
                | "/orgs/{org}/invitations"
                | "/orgs/{org}/invite-links"
                | "/orgs/{org}/users"
                | "/orgs/{org}/users/{usr}"
                | "/orgs/{org}/scim-tokens"
                | "/orgs/{org}/domains"
                | "/orgs/{org}/groups"
                | "/orgs/{org}/groups/{grp}"
                | "/orgs/{org}/groups/{grp}/members"
                | AUDIT_ROUTE,
            ) => Case::read(
                route
                    .path
                    .replace("{org}", &org)
                    .replace("{usr}", &self.member)
                    .replace("{grp}", &self.group),
                &m.token,
            ),
            // ---- delete
            ("DELETE", "/orgs/{org}/pools/{pool}") => {
                let pool = create_pool(s, &self.org, &format!("Pool {n}")).await;
                manager_write(
                    format!("/orgs/{org}/pools/{pool}"),
                    None,
                    "pool.deleted",
                    "pool",
                    Target::Id(pool),
                )
            }
            ("DELETE", "/orgs/{org}/invitations/{inv}") => {
                let (inv, _) = invite(s, &self.org, &email).await;
                manager_write(
                    format!("/orgs/{org}/invitations/{inv}"),
                    None,
                    "invitation.revoked",
                    "invitation",
                    Target::Id(inv),
                )
            }
            ("DELETE", "/orgs/{org}/invite-links/{lnk}") => {
                let (lnk, _) = create_link(s, &self.org).await;
                manager_write(
                    format!("/orgs/{org}/invite-links/{lnk}"),
                    None,
                    "invite_link.revoked",
                    "invite_link",
                    Target::Id(lnk),
                )
            }
            ("DELETE", "/orgs/{org}/users/{usr}") => {
                let usr = add_member(s, &self.org, &email).await.id;
                manager_write(
                    format!("/orgs/{org}/users/{usr}"),
                    None,
                    "member.removed",
                    "member",
                    Target::Id(usr),
                )
            }
            ("DELETE", "/orgs/{org}/scim-tokens/{sct}") => {
                let (sct, _) = create_scim_token(s, &self.org).await;
                manager_write(
                    format!("/orgs/{org}/scim-tokens/{sct}"),
                    None,
                    "scim_token.revoked",
                    "scim_token",
                    Target::Id(sct),
                )
            }
            ("DELETE", "/orgs/{org}/domains/{domain}") => {
                let domain = format!("r{n}.walk.example");
                add_domain(s, &self.org, &domain).await;
                manager_write(
                    format!("/orgs/{org}/domains/{domain}"),
                    None,
                    "domain.removed",
                    "domain",
                    Target::Id(domain),
                )
            }
            // ---- invite
            ("POST", "/orgs/{org}/invitations") => manager_write(
                format!("/orgs/{org}/invitations"),
                Some(json!({"invitations": [{"email": email}], "send_email": false})),
                "invitation.created",
                "invitation",
                Target::At("/results/0/invitation/id"),
            ),
            ("POST", "/orgs/{org}/invitations/{inv}/resend") => {
                let (inv, _) = invite(s, &self.org, &email).await;
                manager_write(
                    format!("/orgs/{org}/invitations/{inv}/resend"),
                    Some(json!({"send_email": false})),
                    "invitation.resent",
                    "invitation",
                    Target::Id(inv),
                )
            }
            ("POST", "/orgs/{org}/invite-links") => manager_write(
                format!("/orgs/{org}/invite-links"),
                Some(json!({"assignments": [{"role": "member"}]})),
                "invite_link.created",
                "invite_link",
                Target::At("/id"),
            ),
            // ---- accept
            ("GET", "/invitations/{token}") => {
                Case::public_read(format!("/invitations/{}", self.invitation_token))
            }
            ("GET", "/invite-links/{token}") => {
                Case::public_read(format!("/invite-links/{}", self.link_token))
            }
            ("POST", "/invitations/accept" | "/invitations/decline") => {
                let (inv, token) = invite(s, &self.org, &email).await;
                let invitee = person(s, &email).await;
                let action = if route.path.ends_with("accept") {
                    "invitation.accepted"
                } else {
                    "invitation.declined"
                };
                Case::write(
                    route.path.to_owned(),
                    &invitee,
                    Some(json!({ "token": token })),
                    action,
                    "invitation",
                    Target::Id(inv),
                )
            }
            ("POST", "/me/invitations/{inv}/accept" | "/me/invitations/{inv}/decline") => {
                let (inv, _) = invite(s, &self.org, &email).await;
                let invitee = person(s, &email).await;
                let action = if route.path.ends_with("accept") {
                    "invitation.accepted"
                } else {
                    "invitation.declined"
                };
                Case::write(
                    route.path.replace("{inv}", &inv),
                    &invitee,
                    None,
                    action,
                    "invitation",
                    Target::Id(inv),
                )
            }
            ("POST", "/join") => {
                let joiner = person(s, &email).await;
                let id = joiner.id.clone();
                Case::write(
                    "/join".into(),
                    &joiner,
                    Some(json!({ "token": self.link_token })),
                    "member.joined",
                    "member",
                    Target::Id(id),
                )
            }
            // ---- SCIM
            (
                "GET",
                "/scim/v2/ServiceProviderConfig"
                | "/scim/v2/ResourceTypes"
                | "/scim/v2/Schemas"
                | "/scim/v2/Users"
                | "/scim/v2/Groups",
            ) => Case::read(route.path.to_owned(), &self.scim),
            ("GET", "/scim/v2/ResourceTypes/{id}") => {
                Case::read("/scim/v2/ResourceTypes/User".into(), &self.scim)
            }
            ("GET", "/scim/v2/Schemas/{id}") => {
                Case::read(format!("/scim/v2/Schemas/{CORE_USER}"), &self.scim)
            }
            ("GET", "/scim/v2/Users/{id}") => {
                Case::read(format!("/scim/v2/Users/{}", self.scim_user), &self.scim)
            }
            ("GET", "/scim/v2/Groups/{id}") => {
                Case::read(format!("/scim/v2/Groups/{}", self.group), &self.scim)
            }
            ("POST", "/scim/v2/Users/.search" | "/scim/v2/.search") => Case::search(
                route.path,
                &self.scim,
                "userName eq \"walk-scim@walk.test\"".into(),
            ),
            ("POST", "/scim/v2/Groups/.search") => Case::search(
                route.path,
                &self.scim,
                "displayName eq \"Walk readers\"".into(),
            ),
            ("POST", "/scim/v2/Users") => self.scim_write(
                "/scim/v2/Users".into(),
                Some(scim_user_body(&email)),
                "member.provisioned",
                "member",
                Target::At("/id"),
            ),
            ("PUT", "/scim/v2/Users/{id}") => {
                let id = scim_user(s, &self.scim, &email).await;
                let mut body = scim_user_body(&email);
                body["displayName"] = json!(format!("Renamed {n}"));
                self.scim_write(
                    format!("/scim/v2/Users/{id}"),
                    Some(body),
                    "member.updated",
                    "member",
                    Target::Id(id),
                )
            }
            ("PATCH", "/scim/v2/Users/{id}") => {
                let id = scim_user(s, &self.scim, &email).await;
                self.scim_write(
                    format!("/scim/v2/Users/{id}"),
                    Some(json!({"schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "active", "value": false}]})),
                    "member.suspended",
                    "member",
                    Target::Id(id),
                )
            }
            ("DELETE", "/scim/v2/Users/{id}") => {
                let id = scim_user(s, &self.scim, &email).await;
                self.scim_write(
                    format!("/scim/v2/Users/{id}"),
                    None,
                    "member.removed",
                    "member",
                    Target::Id(id),
                )
            }
            ("POST", "/scim/v2/Groups") => self.scim_write(
                "/scim/v2/Groups".into(),
                Some(json!({"schemas": [CORE_GROUP], "displayName": format!("Group {n}")})),
                "group.created",
                "group",
                Target::At("/id"),
            ),
            ("PUT", "/scim/v2/Groups/{id}") => {
                let id = scim_group(s, &self.scim, &format!("Group {n}"), &[]).await;
                self.scim_write(
                    format!("/scim/v2/Groups/{id}"),
                    Some(
                        json!({"schemas": [CORE_GROUP], "displayName": format!("Renamed {n}"),
                        "members": []}),
                    ),
                    "group.updated",
                    "group",
                    Target::Id(id),
                )
            }
            ("PATCH", "/scim/v2/Groups/{id}") => {
                let id = scim_group(s, &self.scim, &format!("Group {n}"), &[]).await;
                self.scim_write(
                    format!("/scim/v2/Groups/{id}"),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": format!("Renamed {n}")}
                    ]})),
                    "group.updated",
                    "group",
                    Target::Id(id),
                )
            }
            ("DELETE", "/scim/v2/Groups/{id}") => {
                let id = scim_group(s, &self.scim, &format!("Group {n}"), &[]).await;
                self.scim_write(
                    format!("/scim/v2/Groups/{id}"),
                    None,
                    "group.deleted",
                    "group",
                    Target::Id(id),
                )
            }
            (method, path) => panic!(
                "route {method} {path} has no case in the audit walk: add one to Walk::case \
                 (with the entry a successful request writes, or none)"
            ),
        }
    }

    /// The organization's log; every entry seen before is still there, unchanged.
    async fn log_kept(&mut self, what: &str) -> Vec<Value> {
        let log = audit_log(self.s, &self.org.id, &self.org.manager.token).await;
        let now: BTreeMap<&str, &Value> = log.iter().map(|e| (entry_id(e), e)).collect();
        for (id, old) in &self.seen {
            match now.get(id.as_str()) {
                None => panic!("{what}: entry {id} is gone from the log: {old}"),
                Some(e) => assert_eq!(*e, old, "{what}: entry {id} changed"),
            }
        }
        for e in &log {
            self.seen.insert(entry_id(e).to_owned(), e.clone());
        }
        log
    }

    /// Runs `case` for `route` with request id `request_id` and checks what it wrote.
    async fn run(&mut self, route: &RouteInfo, case: Case, request_id: &str) {
        let s = self.s;
        let what = format!(
            "{} {} ({request_id}, {})",
            route.method, route.path, case.path
        );
        let before = self.log_kept(&format!("{what}, before")).await;
        let (st, res) = s
            .call_with_headers(
                route.method.clone(),
                &case.path,
                case.token.as_deref(),
                case.body.clone(),
                &[("x-request-id", request_id), ("user-agent", USER_AGENT)],
            )
            .await;
        assert!(st.is_success(), "{what}: {st} {res}");
        let what = format!("{what} → {st}");
        let after = self.log_kept(&format!("{what}, after")).await;
        let old: BTreeSet<&str> = before.iter().map(entry_id).collect();
        let new_org_log: Vec<Value>;
        let mut new: Vec<&Value> = after
            .iter()
            .filter(|e| !old.contains(entry_id(e)))
            .collect();
        if case.new_org {
            assert!(new.is_empty(), "{what}: wrote in the walk's org: {new:?}");
            let id = res["id"].as_str().expect("new org id");
            new_org_log = audit_log(s, id, &self.org.manager.token).await;
            new = new_org_log.iter().collect();
        }
        let log_org = if case.new_org {
            res["id"].as_str().unwrap_or_default().to_owned()
        } else {
            self.org.id.clone()
        };
        match case.expect {
            Expect::Nothing => {
                assert!(
                    route.audit.is_empty() || route.method == Method::GET,
                    "{what}: the route documents {:?} but the walk expects no entry",
                    route.audit
                );
                assert!(new.is_empty(), "{what}: wrote {new:#?}");
            }
            Expect::Entry {
                action,
                actor,
                kind,
                target,
            } => {
                assert_eq!(new.len(), 1, "{what}: expected one entry, got {new:#?}");
                let want = Want {
                    action,
                    actor,
                    kind,
                    target,
                };
                check_entry(new[0], &want, route, &res, &log_org, request_id, &what);
                self.entries_checked += 1;
            }
            Expect::Entries(wants) => {
                assert_eq!(
                    new.len(),
                    wants.len(),
                    "{what}: expected {} entries, got {new:#?}",
                    wants.len()
                );
                let mut left = new.clone();
                for want in &wants {
                    let target = target_id(&want.target, &res, &what);
                    let i = left
                        .iter()
                        .position(|e| e["action"] == want.action && e["target"]["id"] == target)
                        .unwrap_or_else(|| {
                            panic!("{what}: no {} entry about {target}: {new:#?}", want.action)
                        });
                    check_entry(
                        left.remove(i),
                        want,
                        route,
                        &res,
                        &log_org,
                        request_id,
                        &what,
                    );
                }
            }
        }
    }
}

fn target_id(target: &Target, res: &Value, what: &str) -> String {
    match target {
        Target::Id(id) => id.clone(),
        Target::At(pointer) => res
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{what}: no {pointer} in {res}"))
            .to_owned(),
    }
}

/// `e` is the entry `want` describes, of a request of `route` answered `res`, in `org`'s log.
fn check_entry(
    e: &Value,
    want: &Want,
    route: &RouteInfo,
    res: &Value,
    org: &str,
    request_id: &str,
    what: &str,
) {
    let target = target_id(&want.target, res, what);
    assert!(
        route.audit.iter().any(|a| a.as_str() == e["action"]),
        "{what}: action {} is not one the route documents ({:?}): {e:#}",
        e["action"],
        route.audit
    );
    assert_eq!(e["action"], want.action, "{what}: {e:#}");
    assert_eq!(e["org_id"], org, "{what}: {e:#}");
    assert_eq!(e["actor"], want.actor, "{what}: {e:#}");
    assert_eq!(
        e["target"],
        json!({"type": want.kind, "id": target}),
        "{what}: {e:#}"
    );
    assert_eq!(
        e["request"],
        json!({
            "request_id": request_id,
            "source_ip": "127.0.0.1",
            "user_agent": USER_AGENT
        }),
        "{what}: {e:#}"
    );
    assert!(e["at"].is_string() && e["expires_at"].is_string(), "{e:#}");
}

async fn walk(s: &TestServer, dns: &TestDns) {
    let table = route_table();
    // The log has one route, a read: no request can write to it, edit or delete an entry.
    let log_routes: Vec<(Method, &str)> = table
        .iter()
        .filter(|r| r.path.contains("audit-events"))
        .map(|r| (r.method.clone(), r.path))
        .collect();
    assert_eq!(log_routes, vec![(Method::GET, AUDIT_ROUTE)]);

    let mut w = Walk::new(s, dns).await;
    w.log_kept("after setup").await;
    for (n, route) in table.iter().enumerate() {
        let case = w.case(route, n).await;
        w.run(route, case, &format!("walk-{n}")).await;
    }
    // Every route documenting entries had its entry checked (the others: none written).
    let writers = table
        .iter()
        .filter(|r| r.method != Method::GET && !r.audit.is_empty())
        .count();
    assert_eq!(w.entries_checked, writers, "routes walked with an entry");

    // Beyond the walk: the other documented outcomes of routes that have several.
    let find = |method: Method, path: &str| {
        table
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("{method} {path} not in the route table"))
            .clone()
    };
    let org = w.org.id.clone();
    let m = w.org.manager.clone();
    // A verification that finds no record.
    let domain = "unproven.walk.example".to_owned();
    add_domain(s, &w.org, &domain).await;
    let case = Case::write(
        format!("/orgs/{org}/domains/{domain}/verify"),
        &m,
        None,
        "domain.verification_failed",
        "domain",
        Target::Id(domain.clone()),
    );
    let route = find(Method::POST, "/orgs/{org}/domains/{domain}/verify");
    w.run(&route, case, "walk-extra-1").await;
    // Reactivating a suspended member over SCIM (PATCH and PUT).
    let id = scim_user(s, &w.scim, "suspended@walk.test").await;
    let suspend = json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    ok(
        s,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        &w.scim,
        Some(suspend.clone()),
    )
    .await;
    let case = w.scim_write(
        format!("/scim/v2/Users/{id}"),
        Some(json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": true}]})),
        "member.reactivated",
        "member",
        Target::Id(id.clone()),
    );
    w.run(
        &find(Method::PATCH, "/scim/v2/Users/{id}"),
        case,
        "walk-extra-2",
    )
    .await;
    let mut put = scim_user_body("suspended@walk.test");
    put["active"] = json!(false);
    let case = w.scim_write(
        format!("/scim/v2/Users/{id}"),
        Some(put),
        "member.suspended",
        "member",
        Target::Id(id.clone()),
    );
    w.run(
        &find(Method::PUT, "/scim/v2/Users/{id}"),
        case,
        "walk-extra-3",
    )
    .await;
    // A provisioned membership offered to an existing account, accepted and declined by id.
    let pending = ["linked@walk.test", "unlinked@walk.test"];
    let mut offers = Vec::new();
    for email in pending {
        let p = person(s, email).await;
        let placeholder = scim_user(s, &w.scim, email).await;
        offers.push((p, placeholder));
    }
    for ((p, placeholder), (path, action, n)) in offers.into_iter().zip([
        (
            "/me/invitations/{inv}/accept",
            "member.linked",
            "walk-extra-4",
        ),
        (
            "/me/invitations/{inv}/decline",
            "member.link_declined",
            "walk-extra-5",
        ),
    ]) {
        let case = Case::write(
            path.replace("{inv}", &placeholder),
            &p,
            None,
            action,
            "member",
            Target::Id(placeholder),
        );
        w.run(&find(Method::POST, path), case, n).await;
    }
    // Requests that change a group's members too write one entry per transaction: the
    // group's new roles, then its members' regrant; a SCIM user removed from its group, then
    // removed.
    let grp = scim_group(s, &w.scim, "Walk two-step", &[&w.scim_user]).await;
    let group_want = |action| Want {
        action,
        actor: m.actor(),
        kind: "group",
        target: Target::Id(grp.clone()),
    };
    let case = Case {
        body: Some(json!({"assignments": [{"role": "engineer", "pool_id": w.pool}]})),
        expect: Expect::Entries(vec![
            group_want("group.assignments_changed"),
            group_want("group.members_changed"),
        ]),
        ..Case::read(format!("/orgs/{org}/groups/{grp}/assignments"), &m.token)
    };
    let route = find(Method::PUT, "/orgs/{org}/groups/{grp}/assignments");
    w.run(&route, case, "walk-extra-9").await;
    let id = scim_user(s, &w.scim, "grouped@walk.test").await;
    let grp = scim_group(s, &w.scim, "Walk leavers", &[&id]).await;
    let case = Case {
        expect: Expect::Entries(vec![
            Want {
                action: "group.members_changed",
                actor: w.scim_actor(),
                kind: "group",
                target: Target::Id(grp.clone()),
            },
            Want {
                action: "member.removed",
                actor: w.scim_actor(),
                kind: "member",
                target: Target::Id(id.clone()),
            },
        ]),
        ..Case::read(format!("/scim/v2/Users/{id}"), &w.scim)
    };
    let route = find(Method::DELETE, "/scim/v2/Users/{id}");
    w.run(&route, case, "walk-extra-10").await;
    // GET /me/invitations of a newcomer whose address is in a verified domain enrolling
    // automatically: the invitation the domain's enrollment makes (by the system, in this
    // request), once.
    verified_domain(s, dns, &w.org, "auto.walk.example").await;
    ok(
        s,
        Method::PATCH,
        &format!("/orgs/{org}/domains/auto.walk.example"),
        &m.token,
        Some(json!({"enrollment": "automatic_invitation"})),
    )
    .await;
    let newcomer = s.token("newcomer@auto.walk.example", None, true);
    let route = find(Method::GET, "/me/invitations");
    let case = Case {
        path: "/me/invitations".into(),
        token: Some(newcomer.clone()),
        body: None,
        expect: Expect::Entry {
            action: "invitation.created",
            actor: json!({"type": "system"}),
            kind: "invitation",
            target: Target::At("/items/0/id"),
        },
        new_org: false,
    };
    w.run(&route, case, "walk-extra-6").await;
    let again = Case::read("/me/invitations".into(), &newcomer);
    w.run(&route, again, "walk-extra-7").await;
    // A request that changes nothing writes nothing: renaming a pool to the name it has.
    let pool = create_pool(s, &w.org, "Twice").await;
    let before = w.log_kept("before the same name").await;
    let (st, res) = s
        .call_with_headers(
            Method::PATCH,
            &format!("/orgs/{org}/pools/{pool}"),
            Some(&m.token),
            Some(json!({"name": "Twice"})),
            &[("x-request-id", "walk-extra-8")],
        )
        .await;
    assert!(st.is_success(), "same-name rename: {st} {res}");
    let after = w.log_kept("after the same name").await;
    assert_eq!(
        ids(&after),
        ids(&before),
        "renaming a pool to its own name wrote an entry"
    );
}

/// Every route of the table, called once with a successful minimal request on each backend,
/// writes the one entry its `audit` list documents (or none), about the right target, by the
/// caller, with the request's id, source IP and user agent; and after every request, every
/// entry written before is still listed, byte for byte.
#[tokio::test]
async fn every_mutating_route_writes_its_documented_entry() {
    let dns = TestDns::start().await;
    for s in servers(&dns).await {
        walk(&s, &dns).await;
    }
}

// ------------------------------------------------------------------ refused requests

/// A refused request: method, path, bearer, body, expected status and error code (`""`: a SCIM
/// error, checked by its `status`).
type Refused<'a> = (Method, String, &'a str, Option<Value>, StatusCode, &'a str);

/// Requests refused with 400, 403, 404, 409 and 422 (API and SCIM) write no entry in either
/// organization's log.
#[tokio::test]
async fn failed_requests_write_no_entry() {
    let dns = TestDns::start().await;
    for s in servers(&dns).await {
        let a = create_org(&s, "fail-manager@fail.test", "Fail").await;
        let b = create_org(&s, "other-manager@other.test", "Other").await;
        let plain = add_member(&s, &a, "plain@fail.test").await;
        create_pool(&s, &a, "Taken").await;
        let b_pool = create_pool(&s, &b, "Theirs").await;
        let (_, scim) = create_scim_token(&s, &a).await;
        scim_user(&s, &scim, "taken@fail.test").await;
        let b_member = add_member(&s, &b, "stranger@other.test").await;
        let (inv, inv_token) = invite(&s, &a, "revoked@fail.test").await;
        ok(
            &s,
            Method::DELETE,
            &format!("/orgs/{}/invitations/{inv}", a.id),
            &a.manager.token,
            None,
        )
        .await;
        let (_, pools) = s
            .call(
                Method::GET,
                &format!("/orgs/{}/pools", a.id),
                Some(&a.manager.token),
                None,
            )
            .await;
        let root = pools["items"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["parent_id"].is_null()))
            .and_then(|p| p["id"].as_str())
            .unwrap_or_else(|| panic!("no root pool in {pools}"))
            .to_owned();
        let revoked_invitee = person(&s, "revoked@fail.test").await;
        let org = &a.id;
        let mgr = a.manager.token.as_str();
        let cases: Vec<Refused> = vec![
            (
                Method::POST,
                format!("/orgs/{org}/pools"),
                mgr,
                Some(json!({})),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                Method::POST,
                format!("/orgs/{org}/pools"),
                mgr,
                Some(json!({"name": "  "})),
                StatusCode::BAD_REQUEST,
                "validation_error",
            ),
            (
                Method::PATCH,
                format!("/orgs/{org}"),
                mgr,
                Some(json!({"settings": {"audit_retention_days": 1}})),
                StatusCode::BAD_REQUEST,
                "validation_error",
            ),
            (
                Method::PUT,
                format!("/orgs/{org}/users/{}/assignments", plain.id),
                &plain.token,
                Some(json!({"assignments": [{"role": "organization_manager"}]})),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                Method::POST,
                format!("/orgs/{org}/scim-tokens"),
                &plain.token,
                Some(json!({})),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                Method::PATCH,
                format!("/orgs/{org}/pools/{b_pool}"),
                mgr,
                Some(json!({"name": "Stolen"})),
                StatusCode::NOT_FOUND,
                "pool_not_found",
            ),
            (
                Method::DELETE,
                format!("/orgs/{org}/users/{}", b_member.id),
                mgr,
                None,
                StatusCode::NOT_FOUND,
                "member_not_found",
            ),
            (
                Method::POST,
                format!("/orgs/{org}/pools"),
                mgr,
                Some(json!({"name": "taken"})),
                StatusCode::CONFLICT,
                "pool_name_taken",
            ),
            (
                Method::DELETE,
                format!("/orgs/{org}/pools/{root}"),
                mgr,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                "root_pool",
            ),
            (
                Method::DELETE,
                format!("/orgs/{org}/invitations/{inv}"),
                mgr,
                None,
                StatusCode::CONFLICT,
                "invitation_not_pending",
            ),
            (
                Method::POST,
                "/invitations/accept".into(),
                &revoked_invitee.token,
                Some(json!({ "token": inv_token })),
                StatusCode::CONFLICT,
                "invitation_not_pending",
            ),
            (
                Method::POST,
                "/scim/v2/Users".into(),
                &scim,
                Some(scim_user_body("TAKEN@fail.test")),
                StatusCode::CONFLICT,
                "",
            ),
            (
                Method::POST,
                "/scim/v2/Groups".into(),
                &scim,
                Some(json!({"schemas": [CORE_GROUP], "displayName": "Strangers",
                    "members": [{"value": b_member.id}]})),
                StatusCode::BAD_REQUEST,
                "",
            ),
            (
                Method::PATCH,
                "/scim/v2/Users/usr_00000000000000000000000000".into(),
                &scim,
                Some(json!({"schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]})),
                StatusCode::NOT_FOUND,
                "",
            ),
        ];
        for (i, (method, path, token, body, want, want_code)) in cases.into_iter().enumerate() {
            let a_before = audit_log(&s, &a.id, &a.manager.token).await;
            let b_before = audit_log(&s, &b.id, &b.manager.token).await;
            let request_id = format!("fail-{i}");
            let (st, res) = s
                .call_with_headers(
                    method.clone(),
                    &path,
                    Some(token),
                    body,
                    &[("x-request-id", &request_id), ("user-agent", USER_AGENT)],
                )
                .await;
            let what = format!("{method} {path} ({request_id}) → {st} {res}");
            assert_eq!(st, want, "{what}");
            if path.starts_with("/scim/") {
                assert_eq!(res["status"], want.as_str(), "{what}");
            } else {
                assert_eq!(code(&res), want_code, "{what}");
            }
            assert_eq!(
                audit_log(&s, &a.id, &a.manager.token).await,
                a_before,
                "{what} wrote an entry"
            );
            assert_eq!(
                audit_log(&s, &b.id, &b.manager.token).await,
                b_before,
                "{what} wrote an entry in the other organization"
            );
        }
        // No entry anywhere names a refused request.
        for log in [
            audit_log(&s, &a.id, &a.manager.token).await,
            audit_log(&s, &b.id, &b.manager.token).await,
        ] {
            for e in log {
                let id = e["request"]["request_id"].as_str().unwrap_or("");
                assert!(!id.starts_with("fail-"), "{e:#}");
            }
        }
    }
}

// ------------------------------------------------------------------ the read route

fn rfc3339(t: DateTime<Utc>) -> String {
    url_encode(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn at(e: &Value) -> DateTime<Utc> {
    e["at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("no time in {e}"))
}

fn ids(entries: &[Value]) -> Vec<String> {
    entries.iter().map(|e| entry_id(e).to_owned()).collect()
}

/// `GET /orgs/{org}/audit-events`: managers only (403 for a member, 404 for another org's
/// manager), filters by action, actor, target and time, pages with `limit` and `next_cursor`,
/// and refuses bad query values with 400 and the API's error shape.
#[tokio::test]
async fn audit_events_route_reads_and_filters() {
    let dns = TestDns::start().await;
    let s = TestServer::start_with_env(
        Backend::Embedded,
        &[("ROLLCALL_DNS_RESOLVER", &dns.addr.to_string())],
    )
    .await;
    let a = create_org(&s, "reader@read.test", "Read").await;
    let b = create_org(&s, "else@else.test", "Else").await;
    let member = add_member(&s, &a, "member@read.test").await;
    let path = format!("/orgs/{}/audit-events", a.id);

    // Who may read.
    let (st, res) = s.call(Method::GET, &path, Some(&member.token), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{res}");
    assert_eq!(code(&res), "forbidden", "{res}");
    assert!(res["error"]["message"].is_string(), "{res}");
    for query in [
        "",
        "?action=pool.created",
        &format!("?actor={}", a.manager.id),
    ] {
        let (st, res) = s
            .call(
                Method::GET,
                &format!("{path}{query}"),
                Some(&b.manager.token),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{query}: {res}");
        assert_eq!(code(&res), "organization_not_found", "{query}: {res}");
    }
    let (st, _) = s.call(Method::GET, &path, None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, res) = s
        .call(
            Method::GET,
            "/orgs/org_00000000000000000000000000/audit-events",
            Some(&a.manager.token),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{res}");

    // Three groups of changes, apart in time.
    let gap = || tokio::time::sleep(std::time::Duration::from_millis(30));
    gap().await;
    let p1 = create_pool(&s, &a, "One").await;
    let p2 = create_pool(&s, &a, "Two").await;
    gap().await;
    let p3 = create_pool(&s, &a, "Three").await;
    ok(
        &s,
        Method::PATCH,
        &format!("/orgs/{}/pools/{p1}", a.id),
        &a.manager.token,
        Some(json!({"name": "One renamed"})),
    )
    .await;
    gap().await;
    ok(
        &s,
        Method::PUT,
        &format!("/orgs/{}/users/{}/assignments", a.id, member.id),
        &a.manager.token,
        Some(json!({"assignments": [{"role": "engineer", "pool_id": p2}]})),
    )
    .await;
    ok(
        &s,
        Method::DELETE,
        &format!("/orgs/{}/pools/{p3}", a.id),
        &a.manager.token,
        None,
    )
    .await;

    let all = audit_log(&s, &a.id, &a.manager.token).await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "pool.deleted",
            "member.roles_changed",
            "pool.updated",
            "pool.created",
            "pool.created",
            "pool.created",
            "invitation.accepted",
            "invitation.created",
            "organization.created",
        ],
        "{all:#?}"
    );
    // B's log holds only B's creation.
    let b_log = audit_log(&s, &b.id, &b.manager.token).await;
    assert_eq!(b_log.len(), 1, "{b_log:#?}");
    assert_eq!(b_log[0]["action"], "organization.created");

    let manager = a.manager.token.as_str();
    let query = |q: String| {
        let s = &s;
        let org = a.id.clone();
        async move { audit_query(s, &org, manager, &q, 200).await }
    };
    let expect = |pred: &dyn Fn(&Value) -> bool| -> Vec<String> {
        all.iter()
            .filter(|e| pred(e))
            .map(|e| entry_id(e).to_owned())
            .collect()
    };
    // By action.
    let got = query("action=pool.created".into()).await;
    assert_eq!(ids(&got), expect(&|e| e["action"] == "pool.created"));
    assert_eq!(got.len(), 3);
    let got = query("action=scim_token.created".into()).await;
    assert!(got.is_empty(), "{got:#?}");
    // By actor: the manager, and the member (who accepted).
    let got = query(format!("actor={}", a.manager.id)).await;
    assert_eq!(
        ids(&got),
        expect(&|e| e["actor"]["id"] == a.manager.id.as_str())
    );
    assert_eq!(got.len(), 8);
    let got = query(format!("actor={}", member.id)).await;
    assert_eq!(
        ids(&got),
        expect(&|e| e["actor"]["id"] == member.id.as_str())
    );
    assert_eq!(got[0]["action"], "invitation.accepted");
    assert_eq!(got.len(), 1);
    let got = query("actor=system".into()).await;
    assert!(got.is_empty(), "{got:#?}");
    // By target: the pool created and renamed; the member (whose accept names the invitation).
    let got = query(format!("target={p1}")).await;
    assert_eq!(ids(&got), expect(&|e| e["target"]["id"] == p1.as_str()));
    assert_eq!(got.len(), 2);
    let got = query(format!("target={}", member.id)).await;
    assert_eq!(
        ids(&got),
        expect(&|e| e["target"]["id"] == member.id.as_str())
    );
    assert_eq!(got[0]["action"], "member.roles_changed");
    assert_eq!(got.len(), 1);
    // Combined.
    let got = query(format!(
        "action=pool.created&target={p2}&actor={}",
        a.manager.id
    ))
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["target"]["id"], p2.as_str());
    // By time: since is inclusive, until exclusive; the groups are 30 ms apart.
    let first_of = |action: &str, target: &str| {
        all.iter()
            .find(|e| e["action"] == action && e["target"]["id"] == target)
            .map(at)
            .unwrap_or_else(|| panic!("no {action} of {target}"))
    };
    let group2 = first_of("pool.created", &p3) - chrono::Duration::milliseconds(5);
    let group3 = first_of("member.roles_changed", &member.id) - chrono::Duration::milliseconds(5);
    let got = query(format!("since={}", rfc3339(group2))).await;
    assert_eq!(ids(&got), expect(&|e| at(e) >= group2));
    assert_eq!(got.len(), 4, "{got:#?}");
    let got = query(format!("until={}", rfc3339(group3))).await;
    assert_eq!(ids(&got), expect(&|e| at(e) < group3));
    assert_eq!(got.len(), 7, "{got:#?}");
    let got = query(format!(
        "since={}&until={}",
        rfc3339(group2),
        rfc3339(group3)
    ))
    .await;
    assert_eq!(ids(&got), expect(&|e| at(e) >= group2 && at(e) < group3));
    assert_eq!(
        got.iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["pool.updated", "pool.created"]
    );
    let got = query(format!("since={}&action=pool.created", rfc3339(group2))).await;
    assert_eq!(got.len(), 1);
    // An exact entry time is inside `since` (inclusive).
    let exact = at(&all[3]);
    let got = query(format!(
        "since={}",
        url_encode(&exact.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    ))
    .await;
    assert!(
        ids(&got).contains(&entry_id(&all[3]).to_owned()),
        "{got:#?}"
    );

    // Paging: pages of 2 add up to the whole log in order; a filter pages too.
    for limit in [1, 2, 4] {
        let got = audit_query(&s, &a.id, manager, "", limit).await;
        assert_eq!(ids(&got), ids(&all), "limit {limit}");
    }
    let (st, page) = s
        .call(Method::GET, &format!("{path}?limit=2"), Some(manager), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert!(page["next_cursor"].is_string(), "{page}");
    let got = audit_query(&s, &a.id, manager, "action=pool.created", 2).await;
    assert_eq!(ids(&got), expect(&|e| e["action"] == "pool.created"));
    let (st, page) = s
        .call(
            Method::GET,
            &format!("{path}?action=pool.deleted&limit=5"),
            Some(manager),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(page["next_cursor"], Value::Null, "{page}");

    // Bad queries: 400 with the API's error shape, naming the field.
    let since = rfc3339(group3);
    let until = rfc3339(group2);
    for (query, field) in [
        ("action=pool.exploded".to_owned(), Some("action")),
        ("action=POOL.CREATED".to_owned(), Some("action")),
        ("since=yesterday".to_owned(), Some("since")),
        ("until=2026-13-01T00:00:00Z".to_owned(), Some("until")),
        (format!("since={since}&until={until}"), Some("until")),
        (format!("since={since}&until={since}"), Some("until")),
        ("limit=0".to_owned(), Some("limit")),
        ("limit=201".to_owned(), Some("limit")),
        ("limit=abc".to_owned(), None),
        ("colour=red".to_owned(), None),
        (format!("actor={}", "x".repeat(300)), Some("actor")),
    ] {
        let (st, res) = s
            .call(Method::GET, &format!("{path}?{query}"), Some(manager), None)
            .await;
        let what = format!("?{query} → {st} {res}");
        assert_eq!(st, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(code(&res), "invalid_query", "{what}");
        assert!(res["error"]["message"].is_string(), "{what}");
        if let Some(field) = field {
            assert_eq!(res["error"]["details"]["field"], field, "{what}");
        }
    }
    let (st, res) = s
        .call(
            Method::GET,
            &format!("{path}?cursor=garbage!!"),
            Some(manager),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{res}");
    assert!(code(&res).starts_with("invalid_"), "{res}");
    // Reading the log wrote nothing.
    assert_eq!(ids(&audit_log(&s, &a.id, manager).await), ids(&all));
}
