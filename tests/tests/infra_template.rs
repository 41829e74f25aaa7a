//! `infra/template.yaml` against the code it deploys: cfn-lint passes; every route of
//! `rollcall_api::route_table()` is an HttpApi event of the function serving its group (and no
//! other event exists); public routes (the invitation preview, and the SCIM routes, which check a
//! SCIM token instead of a JWT) have no authorizer; each function is built by cargo-lambda
//! from its own binary; the table is the store's table; and each function's IAM policy is exactly
//! what its store calls need (derived below from the Store methods each group's use cases call,
//! the same table as in docs/deploy.md). The events function (no route) is checked apart: its
//! stream source, filter and dead-letter queue, and a role of exactly the stream, the bus and
//! the queue.
//!
//! Needs the repository's `.venv` (cfn-lint, whose YAML loader also reads the template here):
//! under CI a missing tool fails, elsewhere these tests skip with a notice.

use rollcall_api::{FunctionGroup, RouteAuth, route_table};
use rollcall_store_dynamodb::keys;
use rollcall_tests::lambda_runtime::template::{self, function_of_group, functions, permissions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The Store methods each group's use cases call (crates/domain/src/service, transitively; for
/// `scim`, crates/domain/src/service/scim.rs), besides `identify` ([`IDENTIFY`]), which every signed-in
/// route calls.
const GROUP_STORE_METHODS: &[(&str, &[&str])] = &[
    (
        "invite",
        &[
            "get_org",
            "get_membership",
            "list_pools",
            "find_membership_by_email",
            "find_pending_invitation",
            "create_invitation",
            "update_invitation",
            "get_invitation",
            "create_invite_link",
            // A POST with an Idempotency-Key (crates/api/src/idempotency.rs): the claim, then
            // the kept answer or the release.
            "claim_idempotency_key",
            "complete_idempotency_key",
            "release_idempotency_key",
        ],
    ),
    (
        "accept",
        &[
            "find_invitation_by_token",
            "get_org",
            "get_user",
            "get_invitation",
            "get_membership",
            "list_pools",
            "accept_invitation",
            "close_invitation",
            "find_invite_link_by_token",
            "join_with_link",
            // Accepting or declining a membership provisioned for the caller's address.
            "link_member",
            "decline_link",
            // The answer's member view names the member's groups (one batched read).
            "get_groups",
            // A POST with an Idempotency-Key (crates/api/src/idempotency.rs): the claim, then
            // the kept answer or the release.
            "claim_idempotency_key",
            "complete_idempotency_key",
            "release_idempotency_key",
        ],
    ),
    (
        "list",
        &[
            "get_org",
            "get_membership",
            "get_orgs",
            "list_user_memberships",
            "list_pools",
            "list_invitations",
            "list_invitations_for_email",
            "list_invite_links",
            "list_memberships",
            "list_scim_tokens",
            // GET /orgs/{org}/domains; GET /me/invitations: the claim of the caller's email
            // domain, and for an `automatic_invitation` domain the invitation it makes.
            "list_org_domains",
            "get_domain_claim",
            "find_membership_by_email",
            "create_invitation",
            // Member views name the members' groups (one batched read per response); the group
            // routes read groups and their members (refs resolved in batches, and aliases of
            // linked placeholders).
            "get_groups",
            "get_group",
            "list_groups",
            "list_group_members",
            "get_memberships",
            "get_scim_users",
            "find_scim_alias",
            // GET /orgs/{org}/audit-events.
            "list_audit_events",
        ],
    ),
    (
        "delete",
        &[
            "get_org",
            "get_membership",
            "get_pool",
            "delete_pool",
            "get_invitation",
            "list_pools",
            "close_invitation",
            "get_invite_link",
            "revoke_invite_link",
            "list_memberships",
            "remove_member",
            // Leaving every group before a removal (Service::leave_all_groups): the groups, the
            // member re-read, one group transaction per group.
            "get_scim_user",
            "get_groups",
            "get_group",
            "get_memberships",
            "get_scim_users",
            "find_scim_alias",
            "update_group",
            "delete_scim_token",
            "get_org_domain",
            "delete_org_domain",
        ],
    ),
    (
        "manage",
        &[
            "create_org",
            "get_org",
            "get_membership",
            "list_pools",
            "update_org",
            "get_pool",
            "create_pool",
            "update_pool",
            "write_membership",
            "create_scim_token",
            "list_org_domains",
            "create_org_domain",
            "get_org_domain",
            "update_org_domain",
            // PUT …/groups/{grp}/assignments: the group, then its members a batch at a time
            // (refs resolved in batches, and aliases of linked placeholders), one group
            // transaction per batch; member views name the members' groups.
            "get_group",
            "list_group_members",
            "get_memberships",
            "get_scim_users",
            "find_scim_alias",
            "update_group",
            "get_groups",
            // A POST with an Idempotency-Key (crates/api/src/idempotency.rs): the claim, then
            // the kept answer or the release.
            "claim_idempotency_key",
            "complete_idempotency_key",
            "release_idempotency_key",
        ],
    ),
    (
        "scim",
        &[
            // Every request: the SCIM token by its hash (authenticate_scim_token), and at most
            // once an hour its last use.
            "find_scim_token",
            "record_scim_token_use",
            // GET /Users/{id}, and the read before PUT, PATCH and DELETE.
            "get_membership",
            "get_scim_user",
            "find_scim_alias",
            // POST /Users (an address of a verified domain of the org that belongs to an account
            // links it at once).
            "get_domain_claim",
            "list_users_by_email",
            "link_member",
            "get_org",
            "find_membership_by_email",
            "find_pending_invitation",
            "list_pools",
            "provision_scim_member",
            // PUT and PATCH /Users/{id} (with a new email: the org's domains and the user, whose
            // email follows when a placeholder).
            "update_scim_member",
            "get_user",
            // DELETE /Users/{id}: another organization manager takes over.
            "list_memberships",
            "remove_member",
            // GET /Users and POST /Users/.search.
            "count_memberships",
            "get_scim_users",
            "find_scim_user_by_user_name",
            "find_membership_by_external_id",
            // /Groups: the group by id or displayName, the org's groups, a group's members, the
            // members named (batched, and aliases of linked placeholders), and the changes.
            "create_group",
            "get_group",
            "get_groups",
            "find_group_by_name",
            "list_groups",
            "list_group_members",
            "get_memberships",
            "update_group",
            "delete_group",
            // A POST with an Idempotency-Key (crates/api/src/idempotency.rs): the claim, then
            // the kept answer or the release.
            "claim_idempotency_key",
            "complete_idempotency_key",
            "release_idempotency_key",
        ],
    ),
];

/// Store methods of `identify`, called by every route with `RouteAuth::Jwt`: the user by subject,
/// and on first sight of a subject with a verified email, the placeholders organizations
/// provisioned for that address: the oldest becomes the account, the others' memberships move to
/// it.
const IDENTIFY: &[&str] = &[
    "get_user_by_sub",
    "upsert_user",
    "list_users_by_email",
    "link_user_subject",
    "get_membership",
    "get_user",
    "link_member",
];

/// What each Store method of crates/store-dynamodb does to the table, as IAM sees it: actions on
/// the table (a `TransactWriteItems` needs the action of each of its items: Put → PutItem,
/// Update → UpdateItem, Delete → DeleteItem, ConditionCheck → ConditionCheckItem), and the
/// indexes it queries (`dynamodb:Query` on the index ARN).
///
/// A membership write moves the externalId claim (Put the new one, Delete the old one) only when
/// `external_id` changes, which only the SCIM methods do; the other membership writes keep it.
///
/// Every write a use case makes through an audited handle (`Store::audited`) also puts its
/// audit entry (PutItem, condition: absent) in the same transaction: methods that otherwise
/// only update or delete need PutItem for it.
const STORE_METHOD_ACCESS: &[(&str, &[&str], &[&str])] = &[
    // ---- audit ----
    ("list_audit_events", &["Query"], &[]),
    ("get_user", &["GetItem"], &[]),
    ("get_user_by_sub", &["GetItem"], &[]),
    ("upsert_user", &["GetItem", "PutItem"], &[]),
    ("create_org", &["PutItem"], &[]),
    ("get_org", &["GetItem"], &[]),
    ("get_orgs", &["BatchGetItem"], &[]),
    ("update_org", &["UpdateItem", "PutItem"], &[]),
    ("get_pool", &["GetItem"], &[]),
    ("list_pools", &["Query"], &[]),
    ("create_pool", &["UpdateItem", "PutItem"], &[]),
    ("update_pool", &["UpdateItem", "PutItem", "DeleteItem"], &[]),
    (
        "delete_pool",
        &[
            "GetItem",
            "Query",
            "BatchGetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "ConditionCheckItem",
        ],
        &[],
    ),
    ("get_membership", &["GetItem"], &[]),
    ("find_membership_by_email", &[], &["GSI2"]),
    ("list_memberships", &["Query"], &[]),
    ("list_user_memberships", &[], &["GSI1"]),
    (
        "write_membership",
        &["ConditionCheckItem", "PutItem", "UpdateItem"],
        &[],
    ),
    // GetItem: the member's SCIM record (in parallel with the GSI3 Query of what they own), and
    // before a batched hand-over the membership, the successor's and the managers counter;
    // ConditionCheck: the successor is still a member.
    (
        "remove_member",
        &[
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "ConditionCheckItem",
        ],
        &["GSI3"],
    ),
    ("get_invitation", &["GetItem"], &[]),
    ("find_invitation_by_token", &["GetItem"], &[]),
    ("find_pending_invitation", &["GetItem"], &[]),
    ("list_invitations", &[], &["GSI1", "GSI2"]),
    ("list_invitations_for_email", &[], &["GSI2"]),
    (
        "create_invitation",
        &["ConditionCheckItem", "PutItem", "UpdateItem"],
        &[],
    ),
    (
        "update_invitation",
        &["PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    (
        "close_invitation",
        &["PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    (
        "accept_invitation",
        &["ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    ("create_invite_link", &["PutItem"], &[]),
    ("get_invite_link", &["GetItem"], &[]),
    ("find_invite_link_by_token", &["GetItem"], &[]),
    ("list_invite_links", &["Query"], &[]),
    ("revoke_invite_link", &["UpdateItem", "PutItem"], &[]),
    (
        "join_with_link",
        &["ConditionCheckItem", "PutItem", "UpdateItem"],
        &[],
    ),
    // The token, its hash copy, and the org's token counter (bounded).
    ("create_scim_token", &["PutItem", "UpdateItem"], &[]),
    ("list_scim_tokens", &["Query"], &[]),
    ("find_scim_token", &["GetItem"], &[]),
    (
        "delete_scim_token",
        &["GetItem", "DeleteItem", "UpdateItem", "PutItem"],
        &[],
    ),
    // Put the token and its hash copy (condition: they still exist).
    ("record_scim_token_use", &["PutItem"], &[]),
    ("list_users_by_email", &[], &["GSI2"]),
    // The SCIM record (GetItem) and what the placeholder owns (GSI3), then one transaction: the
    // placeholder and its subject deleted, the account checked, the membership and record
    // re-keyed (Delete + Put), the claims moved and the alias put, owned items reassigned
    // (Update), pool references (Put).
    (
        "link_member",
        &[
            "GetItem",
            "PutItem",
            "DeleteItem",
            "UpdateItem",
            "ConditionCheckItem",
        ],
        &["GSI3"],
    ),
    // The alias item.
    ("find_scim_alias", &["GetItem"], &[]),
    // Put the placeholder (condition: its subject) and its subject claim copy.
    ("decline_link", &["PutItem"], &[]),
    // Put the user with its subject (condition: old subject), Delete the old subject claim,
    // Put the new one.
    ("link_user_subject", &["PutItem", "DeleteItem"], &[]),
    // New placeholder user and its subject claim, membership (organization exists: a
    // ConditionCheck), members and managers counters, SCIM record, userName and externalId
    // claims, pool references; accepting a pending invitation deletes its slot.
    (
        "provision_scim_member",
        &["ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    // Membership and SCIM record, managers counter, claims moved (Put new, Delete old); a
    // creating membership write would add the organization's ConditionCheck.
    (
        "update_scim_member",
        &["ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    ("get_scim_user", &["GetItem"], &[]),
    ("get_scim_users", &["BatchGetItem"], &[]),
    // The userName claim, then the record it points to.
    ("find_scim_user_by_user_name", &["GetItem"], &[]),
    // The `COUNT#members` item.
    ("count_memberships", &["GetItem"], &[]),
    // The externalId claim, then the membership it points to.
    ("find_membership_by_external_id", &["GetItem"], &[]),
    // ---- verified domains ----
    // The record (condition: absent) and a ConditionCheck that the organization exists.
    ("create_org_domain", &["ConditionCheckItem", "PutItem"], &[]),
    ("get_org_domain", &["GetItem"], &[]),
    ("list_org_domains", &["Query"], &[]),
    // The record (condition: version), and when verified the domain's claim (condition: free or
    // the org's own).
    ("update_org_domain", &["PutItem"], &[]),
    // The record (condition: version), and when verified the claim.
    ("delete_org_domain", &["DeleteItem", "PutItem"], &[]),
    ("get_domain_claim", &["GetItem"], &[]),
    // ---- SCIM groups ----
    // The group (condition: absent), its name claim (condition: absent), the org's group counter
    // (condition: below the limit; the organization exists).
    (
        "create_group",
        &["ConditionCheckItem", "PutItem", "UpdateItem"],
        &[],
    ),
    ("get_group", &["GetItem"], &[]),
    ("get_groups", &["BatchGetItem"], &[]),
    // The name claim, then the group it points to.
    ("find_group_by_name", &["GetItem"], &[]),
    ("list_groups", &["Query"], &[]),
    ("count_groups", &["GetItem"], &[]),
    ("list_group_members", &["Query"], &[]),
    // One transaction: the group (condition: version), the name claim moved on a rename, each
    // member entry (Put if absent, Delete if present, ConditionCheck), each membership with its
    // claims and the managers counter.
    (
        "update_group",
        &["ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem"],
        &[],
    ),
    // The group (condition: version, no members), its name claim, the org's group counter.
    (
        "delete_group",
        &["DeleteItem", "UpdateItem", "PutItem"],
        &[],
    ),
    ("get_memberships", &["BatchGetItem"], &[]),
    // Idempotency records: one conditional PutItem, UpdateItem or DeleteItem each.
    ("claim_idempotency_key", &["PutItem"], &[]),
    ("complete_idempotency_key", &["UpdateItem"], &[]),
    ("release_idempotency_key", &["DeleteItem"], &[]),
];

/// The binary of the console deployer (a custom resource, not a route group).
const DEPLOYER_BINARY: &str = "rollcall-console-deploy";

/// The binary of the events function (the table's stream to EventBridge, not a route group).
const EVENTS_BINARY: &str = "rollcall-events";

/// The binary of the function SES delivery events reach (an EventBridge rule, not a route group).
const MAIL_EVENTS_BINARY: &str = "rollcall-mail-events";

/// The Store calls of `Service::record_mail_event` (the mail-events function), with the actions
/// each makes in that use: `update_invitation` with the same token hash, the same assignments and
/// no limits is a transaction of two Puts (the invitation and its token copy) and nothing else,
/// so the function gets a subset of the method's general actions in [`STORE_METHOD_ACCESS`].
const MAIL_EVENTS_STORE_CALLS: &[(&str, &[&str])] = &[
    ("get_invitation", &["GetItem"]),
    ("update_invitation", &["PutItem"]),
];

/// The issuer of the stack's own user pool.
const COGNITO_ISSUER: &str = "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}";

/// Groups that send invitation mail (`ses:SendEmail` on the sender identity).
const MAIL_GROUPS: &[&str] = &["invite"];

/// The template, or `None` when the venv is missing outside CI.
fn load() -> Option<Value> {
    let python = template::require_tool("python")?;
    Some(template::load(&python).unwrap_or_else(|e| panic!("{e}")))
}

fn groups() -> Vec<&'static str> {
    FunctionGroup::ALL.iter().map(|g| g.as_str()).collect()
}

fn function(t: &Value, group: &str) -> (String, Value) {
    let id = function_of_group(t, group)
        .unwrap_or_else(|| panic!("no function builds rollcall-{group}"));
    let f = functions(t).remove(&id).unwrap_or_default();
    (id, f)
}

/// The permissions a group needs: its store calls' DynamoDB actions, and mail if it sends any.
fn needed(group: &str, signed_in: bool) -> BTreeSet<(String, String)> {
    let access: BTreeMap<&str, (&[&str], &[&str])> = STORE_METHOD_ACCESS
        .iter()
        .map(|(m, a, i)| (*m, (*a, *i)))
        .collect();
    let methods = GROUP_STORE_METHODS
        .iter()
        .find(|(g, _)| *g == group)
        .unwrap_or_else(|| panic!("no store methods listed for group {group}"))
        .1;
    let mut out = BTreeSet::new();
    let identify: &[&str] = if signed_in { IDENTIFY } else { &[] };
    for m in methods.iter().chain(identify) {
        let (actions, indexes) = access
            .get(m)
            .unwrap_or_else(|| panic!("unknown store method {m}"));
        for a in *actions {
            out.insert((format!("dynamodb:{a}"), "table".to_owned()));
        }
        for i in *indexes {
            out.insert(("dynamodb:Query".to_owned(), format!("index/{i}")));
        }
    }
    if MAIL_GROUPS.contains(&group) {
        out.insert(("ses:SendEmail".to_owned(), "identity:sender".to_owned()));
        out.insert(("ses:SendEmail".to_owned(), "configuration-set".to_owned()));
    }
    out
}

/// Every function that reaches the table is denied updating or deleting an audit entry (items
/// of an `AUDIT#org` partition): the log is append-only whatever the code does.
#[test]
fn no_function_may_change_or_delete_an_audit_entry() {
    let Some(t) = load() else { return };
    let audit_pk = keys::audit_pk(&rollcall_domain::ids::OrgId::from_uuid(uuid::Uuid::nil()));
    let prefix = audit_pk.split('#').next().unwrap_or_default();
    for group in groups() {
        let (id, f) = function(&t, group);
        let statements: Vec<Value> = f["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
            .collect();
        let deny = statements
            .iter()
            .find(|s| s["Sid"] == "AuditLogIsAppendOnly")
            .unwrap_or_else(|| panic!("{id} has no AuditLogIsAppendOnly statement"));
        assert_eq!(deny["Effect"], "Deny", "{id}");
        assert_eq!(
            deny["Action"],
            json!(["dynamodb:UpdateItem", "dynamodb:DeleteItem"]),
            "{id}"
        );
        assert_eq!(
            deny["Resource"],
            json!({"Fn::GetAtt": ["Table", "Arn"]}),
            "{id}"
        );
        assert_eq!(
            deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"],
            json!([format!("{prefix}#*")]),
            "{id}"
        );
    }
}

#[test]
fn cfn_lint_passes() {
    let Some(lint) = template::require_tool("cfn-lint") else {
        return;
    };
    let out = Command::new(lint)
        .arg("infra/template.yaml")
        .current_dir(template::repo_root())
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint infra/template.yaml failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_route_is_wired_to_its_function_and_nothing_else_is() {
    let Some(t) = load() else { return };
    // (method, path) -> (function logical id, event)
    let mut events: BTreeMap<(String, String), Vec<(String, Value)>> = BTreeMap::new();
    for (id, f) in functions(&t) {
        // The events and mail-events functions are reached by no route (their own tests).
        let binary = &f["Metadata"]["BuildProperties"]["Binary"];
        if binary == EVENTS_BINARY || binary == MAIL_EVENTS_BINARY {
            continue;
        }
        for (name, ev) in f["Properties"]["Events"].as_object().into_iter().flatten() {
            assert_eq!(
                ev["Type"], "HttpApi",
                "{id}.{name}: only HttpApi events are expected"
            );
            let p = &ev["Properties"];
            assert_eq!(
                p["ApiId"],
                json!({"Ref": "HttpApi"}),
                "{id}.{name} is not on the HttpApi"
            );
            assert!(
                p.get("PayloadFormatVersion").is_none_or(|v| v == "2.0"),
                "{id}.{name}: payload 2.0"
            );
            let key = (
                p["Method"].as_str().unwrap_or("").to_ascii_uppercase(),
                p["Path"].as_str().unwrap_or("").to_owned(),
            );
            events
                .entry(key)
                .or_default()
                .push((id.clone(), ev.clone()));
        }
    }
    let routes = route_table();
    for r in &routes {
        let key = (r.method.as_str().to_owned(), r.path.to_owned());
        let wired = events.remove(&key).unwrap_or_default();
        let (expected, _) = function(&t, r.group.as_str());
        assert_eq!(
            wired.len(),
            1,
            "{} {} must be exactly one HttpApi event, found {}",
            key.0,
            key.1,
            wired.len()
        );
        let (id, ev) = &wired[0];
        assert_eq!(
            id, &expected,
            "{} {} is served by {}, but wired to {id}",
            key.0, key.1, r.group
        );
        let authorizer = &ev["Properties"]["Auth"]["Authorizer"];
        match r.auth {
            RouteAuth::Public => assert_eq!(
                authorizer, "NONE",
                "{} {} is public: Auth.Authorizer must be NONE",
                key.0, key.1
            ),
            RouteAuth::Jwt => assert!(
                authorizer.is_null() || authorizer == "OidcAuthorizer",
                "{} {} needs the JWT authorizer, has {authorizer}",
                key.0,
                key.1
            ),
        }
    }
    assert!(
        events.is_empty(),
        "events for routes the route table does not have: {:?}",
        events.keys().collect::<Vec<_>>()
    );
    // Every group has a function and every function a group (but the console deployer and the
    // mail-events function, which serve no route).
    let ids: BTreeSet<String> = groups().iter().map(|g| function(&t, g).0).collect();
    let all: BTreeSet<String> = functions(&t)
        .into_iter()
        .filter(|(_, f)| {
            let binary = &f["Metadata"]["BuildProperties"]["Binary"];
            binary != DEPLOYER_BINARY && binary != EVENTS_BINARY && binary != MAIL_EVENTS_BINARY
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, all, "functions without a route group");
}

#[test]
fn the_api_verifies_jwts_from_the_configured_issuer() {
    let Some(t) = load() else { return };
    let api = &t["Resources"]["HttpApi"];
    assert_eq!(api["Type"], "AWS::Serverless::HttpApi");
    let auth = &api["Properties"]["Auth"];
    let name = auth["DefaultAuthorizer"]
        .as_str()
        .expect("a default authorizer");
    let jwt = &auth["Authorizers"][name]["JwtConfiguration"];
    // Your issuer and audience, or the stack's user pool and the console's client.
    assert_eq!(
        jwt["issuer"],
        json!({"Fn::If": ["HasExternalIssuer", {"Ref": "JwtIssuer"}, {"Fn::Sub": COGNITO_ISSUER}]})
    );
    assert_eq!(
        jwt["audience"],
        json!({"Fn::If": ["HasExternalIssuer", {"Ref": "JwtAudience"}, [{"Ref": "ConsoleUserPoolClient"}]]})
    );
    assert_eq!(
        auth["Authorizers"][name]["IdentitySource"],
        "$request.header.Authorization"
    );
    let params = &t["Parameters"];
    for p in [
        "JwtIssuer",
        "JwtAudience",
        "SenderAddress",
        "ProductName",
        "AcceptUrl",
        "LogLevel",
        "CorsAllowedOrigins",
        "Architecture",
        "ConsoleClientId",
        "ConsoleLogoutUrl",
        "CognitoDomainPrefix",
    ] {
        assert!(params.get(p).is_some(), "parameter {p} missing");
    }
    assert_eq!(params["Architecture"]["Default"], "arm64");
    // `sam deploy --guided` needs no identity provider: no issuer means the stack's own pool.
    assert_eq!(params["JwtIssuer"]["Default"], "");
    assert_eq!(params["AcceptUrl"]["Default"], "");
    assert_eq!(
        t["Conditions"]["CreateUserPool"],
        json!({"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]})
    );
    // CORS: always the console's origin, plus the parameter's.
    let cors = &api["Properties"]["CorsConfiguration"];
    let console_origin = json!({"Fn::Sub": "https://${ConsoleDistribution.DomainName}"});
    let origins = &cors["AllowOrigins"]["Fn::If"];
    assert_eq!(origins[0], "HasCors");
    assert_eq!(origins[2], json!([console_origin]));
    assert_eq!(
        origins[1]["Fn::Split"][1]["Fn::Join"][1],
        json!([console_origin, {"Fn::Join": [",", {"Ref": "CorsAllowedOrigins"}]}])
    );
    let headers: BTreeSet<String> = cors["AllowHeaders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str().map(str::to_ascii_lowercase))
        .collect();
    assert!(headers.contains("authorization") && headers.contains("content-type"));
    // A browser may send an Idempotency-Key and read whether the answer was a replay.
    assert!(headers.contains(rollcall_api::IDEMPOTENCY_KEY_HEADER));
    let exposed: BTreeSet<String> = cors["ExposeHeaders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str().map(str::to_ascii_lowercase))
        .collect();
    assert!(exposed.contains(rollcall_api::IDEMPOTENT_REPLAYED_HEADER));
    assert!(
        cors.get("AllowCredentials").is_none_or(|v| v == false),
        "bearer tokens, no cookies"
    );
    let outputs = &t["Outputs"];
    assert!(
        outputs["ApiUrl"]["Value"]["Fn::Sub"]
            .as_str()
            .is_some_and(|s| s.contains("${HttpApi}"))
    );
    assert_eq!(outputs["TableName"]["Value"], json!({"Ref": "Table"}));
}

/// API Gateway's HTTP API gives an integration at most 30 s. Each function's timeout must stay
/// below that, and leave room for requests that meet a failing dependency: one SDK call ends
/// within `rollcall_aws::OPERATION_TIMEOUT` (retries included), so the function timeout holds at
/// least two exhausted calls and a request answers 503 itself instead of being cut off.
#[test]
fn function_timeouts_stay_below_api_gateways_and_above_the_sdk_budget() {
    let Some(t) = load() else { return };
    let globals = &t["Globals"]["Function"];
    let sdk_call = rollcall_aws::OPERATION_TIMEOUT.as_secs();
    for group in groups() {
        let (id, f) = function(&t, group);
        let timeout = f["Properties"]
            .get("Timeout")
            .unwrap_or(&globals["Timeout"])
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: no Timeout"));
        assert!(
            timeout < 30,
            "{id}: Timeout {timeout} s is not below API Gateway's 30 s"
        );
        assert!(
            timeout >= 2 * sdk_call,
            "{id}: Timeout {timeout} s leaves no room for two SDK calls of {sdk_call} s"
        );
    }
    // An integration timeout, if set, is the 30 s maximum or less and above the functions'.
    for (id, r) in t["Resources"].as_object().into_iter().flatten() {
        if let Some(ms) = r["Properties"]["TimeoutInMillis"].as_u64() {
            assert!(ms <= 30_000, "{id}: TimeoutInMillis {ms}");
        }
    }
}

#[test]
fn functions_are_rust_binaries_on_al2023_with_alarms() {
    let Some(t) = load() else { return };
    let globals = &t["Globals"]["Function"];
    let prop = |f: &Value, k: &str| {
        f["Properties"]
            .get(k)
            .cloned()
            .unwrap_or_else(|| globals[k].clone())
    };
    let alarms: Vec<&Value> = t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    for g in groups() {
        let (id, f) = function(&t, g);
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        assert_eq!(
            f["Metadata"]["BuildProperties"]["Binary"],
            format!("rollcall-{g}"),
            "{id}"
        );
        assert_eq!(prop(&f, "Runtime"), "provided.al2023", "{id}");
        assert_eq!(prop(&f, "Handler"), "bootstrap", "{id}");
        assert_eq!(
            prop(&f, "Architectures"),
            json!([{"Ref": "Architecture"}]),
            "{id}"
        );
        let env = |k: &str| {
            f["Properties"]["Environment"]["Variables"]
                .get(k)
                .cloned()
                .unwrap_or_else(|| globals["Environment"]["Variables"][k].clone())
        };
        assert_eq!(env("ROLLCALL_TABLE"), json!({"Ref": "Table"}), "{id}");
        assert_eq!(
            env("ROLLCALL_ACCEPT_URL"),
            json!({"Fn::If": ["HasAcceptUrl", {"Ref": "AcceptUrl"},
                {"Fn::Sub": "https://${ConsoleDistribution.DomainName}/accept"}]}),
            "{id}: the console's accept page unless AcceptUrl names another"
        );
        assert_eq!(
            env("ROLLCALL_LOG_LEVEL"),
            json!({"Ref": "LogLevel"}),
            "{id}"
        );
        if MAIL_GROUPS.contains(&g) {
            assert_eq!(
                env("ROLLCALL_SENDER"),
                json!({"Ref": "SenderAddress"}),
                "{id}"
            );
            assert_eq!(
                env("ROLLCALL_PRODUCT_NAME"),
                json!({"Ref": "ProductName"}),
                "{id}"
            );
        }
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|a| {
                let p = &a["Properties"];
                p["Namespace"] == "AWS/Lambda"
                    && p["MetricName"] == metric
                    && p["Dimensions"] == json!([{"Name": "FunctionName", "Value": {"Ref": id}}])
            });
            assert!(found, "{id} has no {metric} alarm");
        }
    }
}

#[test]
fn the_table_is_the_stores_table() {
    let Some(t) = load() else { return };
    let table = &t["Resources"]["Table"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": keys::TTL, "Enabled": true})
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let schema = |pk: &str, sk: &str| json!([{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]);
    assert_eq!(p["KeySchema"], schema(keys::PK, keys::SK));
    let mut attrs = vec![keys::PK, keys::SK];
    let mut gsis = Vec::new();
    for i in keys::INDEXES {
        attrs.extend([i.pk, i.sk]);
        gsis.push(json!({"IndexName": i.name, "KeySchema": schema(i.pk, i.sk), "Projection": {"ProjectionType": "ALL"}}));
    }
    let defs: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["AttributeName"].as_str().unwrap_or("").to_owned(),
                d["AttributeType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = attrs
        .iter()
        .map(|a| ((*a).to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(defs, want);
    assert_eq!(p["GlobalSecondaryIndexes"], json!(gsis));
}

#[test]
fn every_store_method_is_classified() {
    let ports = std::fs::read_to_string(template::repo_root().join("crates/domain/src/ports.rs"))
        .expect("ports.rs");
    let start = ports.find("pub trait Store").expect("the Store trait");
    let body = &ports[start..];
    let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
    let methods: BTreeSet<&str> = body
        .split("async fn ")
        .skip(1)
        .filter_map(|s| s.split('(').next())
        .map(str::trim)
        .collect();
    let classified: BTreeSet<&str> = STORE_METHOD_ACCESS.iter().map(|(m, _, _)| *m).collect();
    assert_eq!(
        methods, classified,
        "STORE_METHOD_ACCESS must list exactly the Store port's methods"
    );
    for (g, ms) in GROUP_STORE_METHODS {
        for m in *ms {
            assert!(classified.contains(m), "{g}: unknown store method {m}");
        }
    }
    let listed: BTreeSet<&str> = GROUP_STORE_METHODS.iter().map(|(g, _)| *g).collect();
    assert_eq!(
        listed,
        groups().into_iter().collect(),
        "GROUP_STORE_METHODS must list every group"
    );
}

#[test]
fn each_function_has_exactly_the_permissions_its_store_calls_need() {
    let Some(t) = load() else { return };
    let routes = route_table();
    let mut report = Vec::new();
    for g in groups() {
        let (id, f) = function(&t, g);
        let signed_in = routes
            .iter()
            .any(|r| r.group.as_str() == g && r.auth == RouteAuth::Jwt);
        let want = needed(g, signed_in);
        let have = permissions(&f);
        let extra: Vec<_> = have.difference(&want).collect();
        let missing: Vec<_> = want.difference(&have).collect();
        if !extra.is_empty() || !missing.is_empty() {
            report.push(format!("{id}: not needed {extra:?}; missing {missing:?}"));
        }
    }
    assert!(
        report.is_empty(),
        "IAM policies differ from what the store calls need:\n{}",
        report.join("\n")
    );
}

/// SES reports deliveries, bounces and complaints of the invite function's mails (sent through
/// the stack's configuration set) to the default EventBridge bus, and a rule hands exactly those
/// to the mail-events function, whose IAM is one GetItem and the Puts of the status write.
#[test]
fn ses_events_reach_the_mail_events_function_with_least_privilege() {
    let Some(t) = load() else { return };
    let (id, f) = function(&t, "mail-events");
    let set = json!({"Ref": "MailConfigurationSet"});
    resource(&t, "MailConfigurationSet", "AWS::SES::ConfigurationSet");

    // The event destination: the three event types, to the default bus.
    let destinations: Vec<&Value> = t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .filter(|r| r["Type"] == "AWS::SES::ConfigurationSetEventDestination")
        .collect();
    assert_eq!(destinations.len(), 1, "one SES event destination");
    let p = &destinations[0]["Properties"];
    assert_eq!(p["ConfigurationSetName"], set);
    let d = &p["EventDestination"];
    assert_eq!(d["Enabled"], true);
    let types: BTreeSet<&str> = d["MatchingEventTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(types, BTreeSet::from(["delivery", "bounce", "complaint"]));
    assert_eq!(
        d["EventBridgeDestination"]["EventBusArn"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"})
    );

    // The rule: only SES's delivery, bounce and complaint events of this configuration set's
    // invitation mails.
    let events: Vec<&Value> = f["Properties"]["Events"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(events.len(), 1, "{id}: one event source");
    assert_eq!(events[0]["Type"], "EventBridgeRule", "{id}");
    let pattern = &events[0]["Properties"]["Pattern"];
    assert!(
        events[0]["Properties"].get("EventBusName").is_none(),
        "{id}: the default bus"
    );
    assert_eq!(pattern["source"], json!(["aws.ses"]), "{id}");
    let detail_types: BTreeSet<&str> = pattern["detail-type"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        detail_types,
        BTreeSet::from([
            "Email Delivered",
            "Email Bounced",
            "Email Complaint Received"
        ])
    );
    let tags = &pattern["detail"]["mail"]["tags"];
    assert_eq!(tags["ses:configuration-set"], json!([set]), "{id}");
    assert_eq!(tags["invitation_id"], json!([{"exists": true}]), "{id}");

    // Least privilege: what record_mail_event's store calls do, nothing else (no SES, no index,
    // no other action); the narrowed actions stay within each method's general ones.
    let access: BTreeMap<&str, &[&str]> = STORE_METHOD_ACCESS
        .iter()
        .map(|(m, a, _)| (*m, *a))
        .collect();
    let mut want = BTreeSet::new();
    for (method, actions) in MAIL_EVENTS_STORE_CALLS {
        for a in *actions {
            assert!(access[method].contains(a), "{method} does not use {a}");
            want.insert((format!("dynamodb:{a}"), "table".to_owned()));
        }
    }
    assert_eq!(permissions(&f), want, "{id}");
    // And on invitation items only (the invitation and its token copy): no other item, the
    // audit log above all, can be read or overwritten by it.
    let statements: Vec<Value> = f["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect();
    for st in statements.iter().filter(|s| s["Effect"] == "Allow") {
        assert_eq!(
            st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            json!(["INV#*", "TOKEN#INV#*"]),
            "{id}: {st}"
        );
    }

    // Built and configured like the others, with its own log group and alarms.
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
    assert_eq!(
        f["Properties"]["LoggingConfig"]["LogGroup"],
        json!({"Ref": "MailEventsLogGroup"})
    );
    resource(&t, "MailEventsLogGroup", "AWS::Logs::LogGroup");
    for metric in ["Errors", "Throttles"] {
        let found = t["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, a)| {
                let p = &a["Properties"];
                a["Type"] == "AWS::CloudWatch::Alarm"
                    && p["MetricName"] == metric
                    && p["Dimensions"] == json!([{"Name": "FunctionName", "Value": {"Ref": id}}])
            });
        assert!(found, "{id} has no {metric} alarm");
    }
    assert_eq!(
        f["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"], 2,
        "{id}: a failed event (not yet recorded, store down) is retried"
    );
    // Then kept: the event goes to an encrypted dead-letter queue, watched by an alarm.
    assert_eq!(
        f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"],
        json!({"Type": "SQS", "Destination": {"Fn::GetAtt": ["MailEventsDeadLetterQueue", "Arn"]}}),
        "{id}: events given up on are kept"
    );
    let dlq = resource(&t, "MailEventsDeadLetterQueue", "AWS::SQS::Queue");
    assert_eq!(dlq["Properties"]["SqsManagedSseEnabled"], true, "encrypted");
    assert_eq!(
        dlq["Properties"]["MessageRetentionPeriod"], 1_209_600,
        "14 days"
    );
    let watched = t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, a)| {
            a["Type"] == "AWS::CloudWatch::Alarm"
                && a["Properties"]["Namespace"] == "AWS/SQS"
                && a["Properties"]["Dimensions"][0]["Value"]
                    == json!({"Fn::GetAtt": ["MailEventsDeadLetterQueue", "QueueName"]})
        });
    assert!(watched, "no alarm on the mail-events dead-letter queue");
    assert_eq!(
        t["Outputs"]["MailEventsDeadLetterQueueUrl"]["Value"],
        json!({"Ref": "MailEventsDeadLetterQueue"})
    );

    // The invite function sends through the set (and may: SES v2 checks the set's ARN too).
    let (invite, inv) = function(&t, "invite");
    assert_eq!(
        inv["Properties"]["Environment"]["Variables"]["ROLLCALL_SES_CONFIGURATION_SET"], set,
        "{invite}"
    );
    assert!(
        permissions(&inv).contains(&("ses:SendEmail".to_owned(), "configuration-set".to_owned())),
        "{invite}"
    );
}

fn resource<'a>(t: &'a Value, id: &str, kind: &str) -> &'a Value {
    let r = &t["Resources"][id];
    assert_eq!(r["Type"], kind, "{id}");
    r
}

#[test]
fn the_console_bucket_is_private_and_read_only_through_its_distribution() {
    let Some(t) = load() else { return };
    let bucket = resource(&t, "ConsoleBucket", "AWS::S3::Bucket");
    let block = &bucket["Properties"]["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k], true, "{k}");
    }
    assert!(bucket["Properties"].get("WebsiteConfiguration").is_none());
    // Only two bucket policies may exist: this one (and nothing makes the bucket public).
    let policy = resource(&t, "ConsoleBucketPolicy", "AWS::S3::BucketPolicy");
    assert_eq!(
        policy["Properties"]["Bucket"],
        json!({"Ref": "ConsoleBucket"})
    );
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    let allows: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allows.len(), 1, "one Allow: CloudFront's");
    let allow = allows[0];
    assert_eq!(
        allow["Principal"],
        json!({"Service": "cloudfront.amazonaws.com"})
    );
    assert_eq!(allow["Action"], "s3:GetObject");
    assert_eq!(
        allow["Resource"],
        json!({"Fn::Sub": "${ConsoleBucket.Arn}/*"})
    );
    assert_eq!(
        allow["Condition"]["StringEquals"]["AWS:SourceArn"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ConsoleDistribution}"}),
        "only this distribution"
    );
    let oac = resource(
        &t,
        "ConsoleOriginAccessControl",
        "AWS::CloudFront::OriginAccessControl",
    );
    let oac = &oac["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["OriginAccessControlOriginType"], "s3");
    assert_eq!(oac["SigningBehavior"], "always");
    assert_eq!(oac["SigningProtocol"], "sigv4");

    let dist = resource(&t, "ConsoleDistribution", "AWS::CloudFront::Distribution");
    let config = &dist["Properties"]["DistributionConfig"];
    let origins = config["Origins"].as_array().expect("origins");
    assert_eq!(
        origins.len(),
        1,
        "the console bucket only (the API has its own domain)"
    );
    assert_eq!(
        origins[0]["DomainName"],
        json!({"Fn::GetAtt": ["ConsoleBucket", "RegionalDomainName"]})
    );
    assert_eq!(
        origins[0]["OriginAccessControlId"],
        json!({"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]})
    );
    assert_eq!(origins[0]["S3OriginConfig"]["OriginAccessIdentity"], "");
    assert!(
        config.get("CustomErrorResponses").is_none(),
        "no custom error responses: SPA routes are rewritten by the function"
    );
    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(behavior["ViewerProtocolPolicy"], "redirect-to-https");
    assert_eq!(
        behavior["ResponseHeadersPolicyId"],
        json!({"Ref": "ConsoleSecurityHeaders"})
    );
    assert_eq!(
        behavior["FunctionAssociations"],
        json!([{"EventType": "viewer-request",
                "FunctionARN": {"Fn::GetAtt": ["ConsoleRoutesFunction", "FunctionMetadata.FunctionARN"]}}])
    );
    assert!(
        config.get("CacheBehaviors").is_none(),
        "one behaviour for everything"
    );
    assert_eq!(
        t["Outputs"]["ConsoleUrl"]["Value"],
        json!({"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"})
    );
}

#[test]
fn every_console_response_carries_the_security_headers() {
    let Some(t) = load() else { return };
    let policy = resource(
        &t,
        "ConsoleSecurityHeaders",
        "AWS::CloudFront::ResponseHeadersPolicy",
    );
    let h = &policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let csp = &h["ContentSecurityPolicy"];
    assert_eq!(csp["Override"], true);
    let text = csp["ContentSecurityPolicy"]["Fn::Sub"][0]
        .as_str()
        .expect("a CSP template");
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(text.contains(directive), "CSP lacks {directive}: {text}");
    }
    assert!(
        !text.contains("unsafe-inline") && !text.contains("unsafe-eval"),
        "{text}"
    );
    assert_eq!(h["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");
    assert_eq!(h["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(h["ContentTypeOptions"]["Override"], true);
    let hsts = &h["StrictTransportSecurity"];
    assert!(
        hsts["AccessControlMaxAgeSec"]
            .as_u64()
            .is_some_and(|s| s >= 31_536_000)
    );
    for k in ["ReferrerPolicy", "FrameOptions", "StrictTransportSecurity"] {
        assert_eq!(h[k]["Override"], true, "{k}");
    }
}

/// Runs the CloudFront Function's code with node on a viewer request for `uri`.
fn rewritten(node: &std::path::Path, code: &str, uri: &str) -> String {
    let script = format!(
        "{code}\nprocess.stdout.write(handler({{request: {{uri: {}, headers: {{}}, querystring: {{}}}}}}).uri);",
        json!(uri)
    );
    let out = Command::new(node)
        .arg("-e")
        .arg(script)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn console_routes_get_the_single_page_and_files_stay_files() {
    let Some(t) = load() else { return };
    let f = resource(&t, "ConsoleRoutesFunction", "AWS::CloudFront::Function");
    assert_eq!(
        f["Properties"]["FunctionConfig"]["Runtime"],
        "cloudfront-js-2.0"
    );
    assert_eq!(f["Properties"]["AutoPublish"], true);
    let code = f["Properties"]["FunctionCode"].as_str().expect("code");
    // node builds the console, so it is there wherever the workspace builds.
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file());
    let Some(node) = node else {
        assert!(std::env::var("CI").is_err(), "node is missing under CI");
        eprintln!("notice: node missing; the CloudFront Function is not run");
        return;
    };
    // Every page path of the console (as `rollcall serve` routes them) gets index.html.
    for path in rollcall::console::PAGE_PATHS {
        let uri = path.replace("{*rest}", "orgs/org_01/users");
        assert_eq!(rewritten(&node, code, &uri), "/index.html", "{uri}");
    }
    for uri in ["/console/orgs/org_01/members/usr_1", "/accept/", "/unknown"] {
        assert_eq!(rewritten(&node, code, uri), "/index.html", "{uri}");
    }
    for uri in [
        "/index.html",
        "/console-config.json",
        "/assets/index-Bx1y2z.js",
        "/assets/index-Q9w8e7.css",
        "/favicon.svg",
    ] {
        assert_eq!(rewritten(&node, code, uri), uri, "{uri} is a file");
    }
}

#[test]
fn the_console_deployer_writes_only_the_console_bucket() {
    let Some(t) = load() else { return };
    let (id, f) = functions(&t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == DEPLOYER_BINARY)
        .expect("a function builds rollcall-console-deploy");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert!(
        f["Properties"].get("Events").is_none(),
        "{id} serves no route"
    );
    assert!(
        f["Properties"].get("Runtime").is_none() && f["Properties"].get("Architectures").is_none(),
        "{id}: provided.al2023 on the Architecture parameter, as the others (Globals)"
    );
    assert_eq!(f["Properties"]["AutoPublishAlias"], "live");
    let statements = f["Properties"]["Policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    let mut granted = BTreeSet::new();
    for st in &statements {
        assert_eq!(st["Effect"], "Allow", "{st}");
        let actions: Vec<Value> = match &st["Action"] {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        for a in actions {
            granted.insert((
                a.as_str().unwrap_or("?").to_owned(),
                st["Resource"].to_string(),
            ));
        }
    }
    let objects = json!({"Fn::Sub": "${ConsoleBucket.Arn}/*"}).to_string();
    let bucket = json!({"Fn::GetAtt": ["ConsoleBucket", "Arn"]}).to_string();
    let want: BTreeSet<(String, String)> = [
        ("s3:PutObject", &objects),
        ("s3:GetObject", &objects),
        ("s3:DeleteObject", &objects),
        ("s3:ListBucket", &bucket),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r.clone()))
    .collect();
    assert_eq!(
        granted, want,
        "{id}: the console bucket's objects and listing only"
    );

    let files = resource(&t, "ConsoleFiles", "Custom::ConsoleFiles");
    let p = &files["Properties"];
    assert_eq!(p["ServiceToken"], json!({"Fn::GetAtt": [id, "Arn"]}));
    assert_eq!(p["Bucket"], json!({"Ref": "ConsoleBucket"}));
    assert_eq!(
        p["FunctionVersion"],
        json!({"Ref": format!("{id}.Version")}),
        "a new deployer build updates the files"
    );
    assert_eq!(
        p["ApiUrl"], t["Outputs"]["ApiUrl"]["Value"],
        "the console calls the API's URL"
    );
    assert_eq!(
        p["Issuer"],
        json!({"Fn::If": ["HasExternalIssuer", {"Ref": "JwtIssuer"}, {"Fn::Sub": COGNITO_ISSUER}]}),
        "the console signs in where the authorizer's tokens come from"
    );
    assert_eq!(p["ClientId"], t["Outputs"]["ConsoleClientId"]["Value"]);
}

#[test]
fn without_an_issuer_the_stack_creates_a_user_pool_for_the_console() {
    let Some(t) = load() else { return };
    let pool = resource(&t, "UserPool", "AWS::Cognito::UserPool");
    assert_eq!(pool["Condition"], "CreateUserPool");
    assert_eq!(
        pool["DeletionPolicy"], "Retain",
        "accounts outlive the stack"
    );
    assert_eq!(pool["Properties"]["UsernameAttributes"], json!(["email"]));
    assert_eq!(
        pool["Properties"]["AutoVerifiedAttributes"],
        json!(["email"])
    );
    let domain = resource(&t, "UserPoolDomain", "AWS::Cognito::UserPoolDomain");
    assert_eq!(domain["Condition"], "CreateUserPool");
    let client = resource(&t, "ConsoleUserPoolClient", "AWS::Cognito::UserPoolClient");
    assert_eq!(client["Condition"], "CreateUserPool");
    let c = &client["Properties"];
    assert_eq!(c["GenerateSecret"], false, "a public client (PKCE)");
    assert_eq!(c["AllowedOAuthFlowsUserPoolClient"], true);
    assert_eq!(c["AllowedOAuthFlows"], json!(["code"]));
    assert_eq!(
        c["AllowedOAuthScopes"],
        json!(["openid", "email", "profile"])
    );
    assert_eq!(
        c["CallbackURLs"],
        json!([{"Fn::Sub": "https://${ConsoleDistribution.DomainName}/signin/callback"}])
    );
    assert_eq!(
        c["LogoutURLs"],
        json!([{"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"}])
    );
    let outputs = &t["Outputs"];
    assert_eq!(outputs["UserPoolId"]["Value"], json!({"Ref": "UserPool"}));
    assert_eq!(outputs["UserPoolId"]["Condition"], "CreateUserPool");
    assert_eq!(
        outputs["ConsoleClientId"]["Value"]["Fn::If"][2],
        json!({"Ref": "ConsoleUserPoolClient"})
    );
}

/// The events function: built from its own binary like the others, invoked only by the table's
/// stream (new images), and only for INSERTs of audit entries, reporting failed records one by
/// one, bisecting failed batches, retrying a bounded number of times and then describing the
/// batch in its encrypted dead-letter queue; it publishes to the stack's bus, which is an output.
#[test]
fn the_events_function_reads_audit_inserts_from_the_stream_and_publishes_to_the_bus() {
    let Some(t) = load() else { return };
    let (id, f) = functions(&t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == EVENTS_BINARY)
        .expect("a function builds rollcall-events");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
    assert!(
        f["Properties"].get("Runtime").is_none() && f["Properties"].get("Architectures").is_none(),
        "{id}: provided.al2023 on the Architecture parameter, as the others (Globals)"
    );
    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(
        table["StreamSpecification"],
        json!({"StreamViewType": "NEW_IMAGE"}),
        "the table streams new images"
    );
    let events = f["Properties"]["Events"].as_object().expect("events");
    assert_eq!(events.len(), 1, "{id}: the stream is its only event");
    let (name, ev) = events.iter().next().expect("one event");
    assert_eq!(ev["Type"], "DynamoDB", "{id}.{name}");
    let p = &ev["Properties"];
    assert_eq!(p["Stream"], json!({"Fn::GetAtt": ["Table", "StreamArn"]}));
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON", "no change is missed");
    assert_eq!(
        p["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    let retries = p["MaximumRetryAttempts"].as_u64().expect("bounded retries");
    assert!((1..=10).contains(&retries), "{retries}");
    let batch = p["BatchSize"].as_u64().expect("a batch size");
    assert!((1..=1000).contains(&batch), "{batch}");
    assert!(
        p["MaximumBatchingWindowInSeconds"]
            .as_u64()
            .is_some_and(|s| s <= 5)
    );
    assert_eq!(
        p["DestinationConfig"]["OnFailure"]["Destination"],
        json!({"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]})
    );
    let filters = p["FilterCriteria"]["Filters"].as_array().expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().expect("a pattern"))
        .expect("the pattern is JSON");
    let audit_pk = keys::audit_pk(&rollcall_domain::ids::OrgId::from_uuid(uuid::Uuid::nil()));
    let prefix = format!("{}#", audit_pk.split('#').next().unwrap_or_default());
    assert_eq!(
        pattern,
        json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {keys::PK: {"S": [{"prefix": prefix}]}}}})
    );
    let env = &f["Properties"]["Environment"]["Variables"];
    assert_eq!(env["ROLLCALL_EVENT_BUS"], json!({"Ref": "EventBus"}));
    assert_eq!(
        rollcall_fn_events_bus_env(),
        "ROLLCALL_EVENT_BUS",
        "the variable the function reads"
    );
    let bus = resource(&t, "EventBus", "AWS::Events::EventBus");
    assert!(
        bus["Properties"]["Name"]["Fn::Sub"]
            .as_str()
            .is_some_and(|n| n.contains("${AWS::StackName}")),
        "the bus is named after the stack"
    );
    let dlq = resource(&t, "EventsDeadLetterQueue", "AWS::SQS::Queue");
    assert_eq!(dlq["Properties"]["SqsManagedSseEnabled"], true, "encrypted");
    assert_eq!(
        dlq["Properties"]["MessageRetentionPeriod"], 1_209_600,
        "14 days"
    );
    let log = &f["Properties"]["LoggingConfig"]["LogGroup"];
    let log_id = log["Ref"].as_str().expect("its own log group");
    let group = resource(&t, log_id, "AWS::Logs::LogGroup");
    assert_eq!(
        group["Properties"]["RetentionInDays"],
        json!({"Ref": "LogRetentionDays"})
    );
    let alarms: Vec<&Value> = t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    for metric in ["Errors", "Throttles", "IteratorAge"] {
        assert!(
            alarms
                .iter()
                .any(|a| a["Properties"]["MetricName"] == metric
                    && a["Properties"]["Dimensions"]
                        == json!([{"Name": "FunctionName", "Value": {"Ref": id}}])),
            "{id} has no {metric} alarm"
        );
    }
    assert!(
        alarms
            .iter()
            .any(|a| a["Properties"]["Namespace"] == "AWS/SQS"
                && a["Properties"]["Dimensions"][0]["Value"]
                    == json!({"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]})),
        "no alarm on the dead-letter queue"
    );
    let outputs = &t["Outputs"];
    assert_eq!(outputs["EventBusName"]["Value"], json!({"Ref": "EventBus"}));
    assert_eq!(
        outputs["EventBusArn"]["Value"],
        json!({"Fn::GetAtt": ["EventBus", "Arn"]})
    );
}

/// The name of the variable the events function reads its bus from (kept here as text: the
/// tests crate does not depend on the function crate).
fn rollcall_fn_events_bus_env() -> String {
    let lib = std::fs::read_to_string(template::repo_root().join("functions/events/src/lib.rs"))
        .expect("functions/events/src/lib.rs");
    lib.split("pub const BUS_ENV: &str = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The events function's IAM is exactly: read the table's stream, publish to the stack's bus,
/// describe failed batches in its dead-letter queue, write its own log group. Its role is its own
/// (SAM's generated role would add the managed stream policy, on every stream of the account), and
/// it has no access to the table's items.
#[test]
fn the_events_function_may_read_the_stream_and_publish_to_the_bus_and_nothing_else() {
    let Some(t) = load() else { return };
    let (id, f) = functions(&t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == EVENTS_BINARY)
        .expect("a function builds rollcall-events");
    assert!(
        f["Properties"].get("Policies").is_none(),
        "{id}: its permissions are its role's"
    );
    let role_id = f["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{id}: Role is !GetAtt <its role>.Arn"));
    assert_eq!(f["Properties"]["Role"]["Fn::GetAtt"][1], "Arn");
    let role = resource(&t, role_id, "AWS::IAM::Role");
    let r = &role["Properties"];
    assert!(
        r.get("ManagedPolicyArns").is_none() && r.get("PermissionsBoundary").is_none(),
        "{role_id}: no managed policy"
    );
    assert_eq!(
        r["AssumeRolePolicyDocument"]["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
        "{role_id}: only Lambda assumes it"
    );
    let log_group = f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        .as_str()
        .expect("its own log group");
    let mut granted = BTreeSet::new();
    for policy in r["Policies"].as_array().expect("inline policies") {
        for st in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
        {
            assert_eq!(st["Effect"], "Allow", "{role_id}: {st}");
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "{st}"
            );
            let actions: Vec<Value> = match &st["Action"] {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let resources: Vec<Value> = match &st["Resource"] {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            for a in &actions {
                for res in &resources {
                    granted.insert((a.as_str().unwrap_or("?").to_owned(), res.to_string()));
                }
            }
        }
    }
    let getatt = |r: &str, a: &str| json!({"Fn::GetAtt": [r, a]}).to_string();
    let stream = getatt("Table", "StreamArn");
    let want: BTreeSet<(String, String)> = [
        ("dynamodb:DescribeStream", stream.clone()),
        ("dynamodb:GetRecords", stream.clone()),
        ("dynamodb:GetShardIterator", stream.clone()),
        ("dynamodb:ListStreams", stream),
        ("events:PutEvents", getatt("EventBus", "Arn")),
        ("sqs:SendMessage", getatt("EventsDeadLetterQueue", "Arn")),
        ("logs:CreateLogStream", getatt(log_group, "Arn")),
        ("logs:PutLogEvents", getatt(log_group, "Arn")),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r))
    .collect();
    assert_eq!(
        granted, want,
        "{role_id}: the stream, the bus, the dead-letter queue and its logs only"
    );
}
