//! The six Lambda binaries, each run the way Lambda runs it (the Runtime API emulator of
//! `rollcall_tests::lambda_runtime`, API Gateway HTTP API payload 2.0 events with JWT authorizer
//! claims, or for SCIM routes no authorizer and only the SCIM bearer token) on DynamoDB + SES
//! emulated by moto: a whole invite/accept story and a SCIM provisioning story across the
//! functions, requests without claims or token, what each function called on AWS compared with
//! its IAM policy in `infra/template.yaml`, and a table of binary size, init time and peak memory;
//! and one story through the fault proxy (`rollcall_tests::faults`): throttled, failed and dropped
//! calls retried to success, and a stalled DynamoDB answered 503 within the function timeout.
//! Also the `events` function on a DynamoDB Streams batch of real audit entries, publishing to
//! an EventBridge bus on moto (read back through a rule's SQS target).
//!
//! Needs `ROLLCALL_TEST_DYNAMODB_ENDPOINT` (./scripts/test sets it; unset: fails under CI, else
//! skips with a notice) and the built binaries (`target/debug/rollcall-<group>`, or
//! `ROLLCALL_FUNCTIONS_DIR`).

use rollcall_api::FunctionGroup;
use rollcall_domain::service::Claims;
use rollcall_scim::schema::{ERROR_SCHEMA, LIST_RESPONSE_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA};
use rollcall_store_dynamodb::{create_table, emulator_client};
use rollcall_tests::faults::{Fault, FaultProxy, Rule, Target, Times};
use rollcall_tests::lambda_runtime::{
    AwsCall, AwsRecorder, FunctionResponse, FunctionStats, HttpEvent, LambdaConfig, LambdaFunction,
    Outcome, template,
};
use rollcall_tests::server::{emulator_endpoint, emulator_timeouts, ses_endpoint, token_in};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const SENDER: &str = "invites@rollcall.example.test";
const ACCEPT_URL: &str = "https://app.example.test/accept";
/// The media type of Rollcall's API.
const JSON: &str = "application/json";
/// The media type of every SCIM response.
const SCIM_JSON: &str = "application/scim+json";

/// One function group under test, with the recorder between it and the emulator.
struct Running {
    function: LambdaFunction,
    recorder: AwsRecorder,
}

fn claims(email: &str, name: &str) -> Claims {
    Claims {
        sub: format!("oidc|{email}"),
        email: Some(email.to_owned()),
        email_verified: true,
        name: Some(name.to_owned()),
    }
}

/// The environment `infra/template.yaml` gives the function of `group`, pointed at `endpoint` (the
/// recorder, or the fault proxy) for DynamoDB and SES.
fn config(group: &str, table: &str, endpoint: &str) -> LambdaConfig {
    let mut c = LambdaConfig::new(format!("rollcall-{group}"))
        .env("ROLLCALL_TABLE", table)
        .env("ROLLCALL_ACCEPT_URL", ACCEPT_URL)
        .env("ROLLCALL_LOG_LEVEL", "info")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_ENDPOINT_URL_SES", endpoint)
        .env("AWS_ENDPOINT_URL_SESV2", endpoint);
    for (k, v) in emulator_timeouts() {
        c = c.env(k, v);
    }
    if group == "invite" {
        c = c
            .env("ROLLCALL_SENDER", SENDER)
            .env("ROLLCALL_PRODUCT_NAME", "Rollcall Test");
    }
    c
}

async fn verify_sender(endpoint: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/v2/email/identities"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=x",
        )
        .json(&json!({"EmailIdentity": SENDER}))
        .send()
        .await
        .expect("verify sender");
    assert!(
        resp.status().is_success() || resp.status().as_u16() == 409,
        "verify sender: {}",
        resp.status()
    );
}

/// The token of the newest invitation mail to `to` that moto's SES recorded.
async fn token_mailed_to(endpoint: &str, to: &str) -> Option<String> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let mut found = Vec::new();
    collect_mail(&data["ses"], to, &mut found);
    found.pop()
}

fn collect_mail(v: &Value, to: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if m.contains_key("destinations") || m.contains_key("destination") => {
            let dest = m
                .get("destinations")
                .or(m.get("destination"))
                .map(Value::to_string)
                .unwrap_or_default();
            if dest.to_lowercase().contains(&to.to_lowercase())
                && let Some(t) = token_in(&Value::Object(m.clone()).to_string())
            {
                out.push(t);
            }
        }
        Value::Object(m) => m.values().for_each(|x| collect_mail(x, to, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_mail(x, to, out)),
        _ => {}
    }
}

/// Sends `event` to the function of `group` and checks the headers every response carries: the
/// request id, and `media_type` on every response with a body (204 has none).
async fn invoke(
    fns: &mut BTreeMap<&'static str, Running>,
    group: &str,
    event: HttpEvent,
    media_type: &str,
) -> FunctionResponse {
    let route = event.route_key();
    let f = &mut fns
        .get_mut(group)
        .unwrap_or_else(|| panic!("no function {group}"))
        .function;
    let r: FunctionResponse = f
        .invoke(&event)
        .await
        .unwrap_or_else(|e| panic!("{route}: {e}"));
    assert_eq!(
        r.header("x-request-id"),
        Some(r.request_id.as_str()),
        "{route}: x-request-id is the request id"
    );
    if r.status != 204 {
        let essence = r.header("content-type").map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        assert_eq!(
            essence.as_deref(),
            Some(media_type),
            "{route}: content-type {:?}",
            r.header("content-type")
        );
    } else {
        assert!(r.body.is_empty(), "{route}: 204 with a body");
    }
    r
}

/// A call to Rollcall's API: status and JSON body.
async fn call(
    fns: &mut BTreeMap<&'static str, Running>,
    group: &str,
    event: HttpEvent,
) -> (u16, Value) {
    let r = invoke(fns, group, event, JSON).await;
    (r.status, r.json())
}

/// A SCIM request as an identity provider sends it: no JWT (the route has no authorizer, so the
/// event carries no claims), `Authorization: Bearer <SCIM token>`, SCIM bodies as
/// `application/scim+json`. Returns the whole response (for `Location`, `WWW-Authenticate`).
async fn scim(
    fns: &mut BTreeMap<&'static str, Running>,
    token: Option<&str>,
    event: HttpEvent,
    body: Option<&Value>,
) -> FunctionResponse {
    let mut event = event.header("accept", SCIM_JSON);
    if let Some(t) = token {
        event = event.header("authorization", &format!("Bearer {t}"));
    }
    if let Some(b) = body {
        event = event
            .body(b.to_string().into_bytes())
            .header("content-type", SCIM_JSON);
    }
    invoke(fns, "scim", event, SCIM_JSON).await
}

/// Checks a SCIM Error response: its status, and the RFC 7644 §3.12 body (`status` as a string).
fn assert_scim_error(r: &FunctionResponse, status: u16, what: &str) {
    let body = r.json();
    assert_eq!(r.status, status, "{what}: {body}");
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{what}: {body}");
    assert_eq!(body["status"], json!(status.to_string()), "{what}: {body}");
}

#[tokio::test]
async fn the_invitation_story_runs_on_the_lambda_binaries() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let table = format!("rollcall-lambda-{}", uuid::Uuid::now_v7().simple());
    create_table(&emulator_client(&endpoint), &table)
        .await
        .expect("create table");
    verify_sender(&ses_endpoint(&endpoint)).await;

    // Start the functions one after the other, so each init time is one cold start alone.
    let mut fns: BTreeMap<&'static str, Running> = BTreeMap::new();
    for g in FunctionGroup::ALL {
        let recorder = AwsRecorder::start_split(&endpoint, &ses_endpoint(&endpoint))
            .await
            .expect("recorder");
        let mut function =
            LambdaFunction::start_group(g.as_str(), config(g.as_str(), &table, &recorder.endpoint))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        function
            .wait_ready(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fns.insert(g.as_str(), Running { function, recorder });
    }

    // Addresses unique to this run: the emulator (and its record of sent mail) is shared.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let (owner_email, bob_email, carol_email) = (
        format!("olivia-{run}@acme.test"),
        format!("bob-{run}@example.test"),
        format!("carol-{run}@example.test"),
    );
    let owner = claims(&owner_email, "Olivia Owner");
    let bob = claims(&bob_email, "Bob Builder");

    // manage: create the organization and a pool.
    let (st, org) = call(
        &mut fns,
        "manage",
        HttpEvent::new("POST", "/orgs", &[])
            .claims(&owner)
            .json(&json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(st, 201, "{org}");
    let org_id = org["id"].as_str().expect("org id").to_owned();
    let (st, pool) = call(
        &mut fns,
        "manage",
        HttpEvent::new("POST", "/orgs/{org}/pools", &[("org", &org_id)])
            .claims(&owner)
            .json(&json!({"name": "Engineering"})),
    )
    .await;
    assert_eq!(st, 201, "{pool}");
    let pool_id = pool["id"].as_str().expect("pool id").to_owned();

    // manage: a POST with an Idempotency-Key, sent twice, creates one pool; the retry gets the
    // first answer back, marked as a replay.
    let keyed = || {
        HttpEvent::new("POST", "/orgs/{org}/pools", &[("org", &org_id)])
            .claims(&owner)
            .header("idempotency-key", &format!("ops-{run}"))
            .json(&json!({"name": "Operations"}))
    };
    let first = invoke(&mut fns, "manage", keyed(), JSON).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = invoke(&mut fns, "manage", keyed(), JSON).await;
    assert_eq!(retry.status, 201, "{}", retry.text());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    let (st, pools) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/pools", &[("org", &org_id)]).claims(&owner),
    )
    .await;
    assert_eq!(st, 200, "{pools}");
    let named = |name: &str| {
        pools["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == name)
            .count()
    };
    assert_eq!(named("Operations"), 1, "{pools}");

    // list: the audit log holds one entry per pool created (the replay wrote none), each with
    // API Gateway's source IP and the request id of the invocation that made it.
    let (st, log) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/audit-events", &[("org", &org_id)])
            .claims(&owner)
            .query("action", "pool.created"),
    )
    .await;
    assert_eq!(st, 200, "{log}");
    let entries = log["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{log}");
    let ops = entries
        .iter()
        .find(|e| e["details"]["name"] == "Operations")
        .unwrap_or_else(|| panic!("no entry for the keyed pool: {log}"));
    assert_eq!(ops["request"]["source_ip"], "203.0.113.7", "{ops}");
    assert_eq!(
        ops["request"]["request_id"],
        json!(first.request_id),
        "{ops}"
    );
    assert_eq!(ops["actor"]["email"], json!(owner_email), "{ops}");

    // invite: bulk invite Bob and Carol as engineers of the pool; the mail goes through SES.
    let body = json!({
        "invitations": [{"email": bob_email, "name": "Bob Builder"}, {"email": carol_email}],
        "assignments": [{"role": "engineer", "pool_id": pool_id}]
    });
    let (st, res) = call(
        &mut fns,
        "invite",
        HttpEvent::new("POST", "/orgs/{org}/invitations", &[("org", &org_id)])
            .claims(&owner)
            .json(&body),
    )
    .await;
    assert_eq!(st, 200, "{res}");
    let results = res["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{res}");
    for r in results {
        assert_eq!(r["result"], "invited", "{res}");
        assert_eq!(r["invitation"]["email_status"], "sent", "{res}");
        assert!(
            r.get("accept_url").is_none_or(Value::is_null),
            "no accept_url when mail is sent: {res}"
        );
    }
    let carol_inv = results[1]["invitation"]["id"]
        .as_str()
        .expect("invitation id")
        .to_owned();
    let token = token_mailed_to(&ses_endpoint(&endpoint), &bob_email)
        .await
        .expect("an invitation mail to Bob with its token");
    assert!(token.starts_with("rci_"), "{token}");

    // accept: the public preview (no authorizer, no claims), then Bob accepts.
    let (st, preview) = call(
        &mut fns,
        "accept",
        HttpEvent::new("GET", "/invitations/{token}", &[("token", &token)]),
    )
    .await;
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["org_name"], "Acme", "{preview}");
    assert_eq!(preview["inviter_name"], "Olivia Owner", "{preview}");
    let (st, member) = call(
        &mut fns,
        "accept",
        HttpEvent::new("POST", "/invitations/accept", &[])
            .claims(&bob)
            .json(&json!({"token": token})),
    )
    .await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member["source"], "invitation", "{member}");
    assert_eq!(
        member["assignments"],
        json!([{"role": "engineer", "pool_id": pool_id}]),
        "{member}"
    );
    let bob_id = member["user_id"].as_str().expect("user id").to_owned();

    // list: the members, and Bob's own view.
    let (st, users) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/users", &[("org", &org_id)]).claims(&owner),
    )
    .await;
    assert_eq!(st, 200, "{users}");
    let ids: Vec<&str> = users["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{users}");
    assert!(ids.contains(&bob_id.as_str()), "{users}");
    let (st, me) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/me", &[]).claims(&bob),
    )
    .await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["user"]["id"], json!(bob_id), "{me}");
    assert_eq!(me["memberships"][0]["org"]["id"], json!(org_id), "{me}");

    // delete: revoke Carol's invitation, remove Bob.
    let (st, body) = call(
        &mut fns,
        "delete",
        HttpEvent::new(
            "DELETE",
            "/orgs/{org}/invitations/{inv}",
            &[("org", &org_id), ("inv", &carol_inv)],
        )
        .claims(&owner),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let (st, body) = call(
        &mut fns,
        "delete",
        HttpEvent::new(
            "DELETE",
            "/orgs/{org}/users/{usr}",
            &[("org", &org_id), ("usr", &bob_id)],
        )
        .claims(&owner),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let (st, users) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/users", &[("org", &org_id)]).claims(&owner),
    )
    .await;
    assert_eq!(st, 200, "{users}");
    assert_eq!(
        users["items"].as_array().map(Vec::len),
        Some(1),
        "only the owner is left: {users}"
    );

    let scim_secret = scim_story(&mut fns, &org_id, &owner, &run).await;

    // No claims in the request context (a route whose authorizer was removed): 401, never served.
    for (group, event) in [
        (
            "manage",
            HttpEvent::new("POST", "/orgs", &[]).json(&json!({"name": "Nope"})),
        ),
        ("list", HttpEvent::new("GET", "/me", &[])),
        (
            "accept",
            HttpEvent::new("POST", "/invitations/accept", &[]).json(&json!({"token": token})),
        ),
    ] {
        let route = event.route_key();
        let (st, err) = call(&mut fns, group, event).await;
        assert_eq!(st, 401, "{route}: {err}");
        assert_eq!(err["error"]["code"], "unauthenticated", "{route}: {err}");
    }

    // Logs: one JSON document per line, and never the invitation token or the SCIM token.
    for (g, r) in &fns {
        for line in r.function.logs() {
            assert!(
                !line.contains(&token),
                "{g} logged the invitation token: {line}"
            );
            assert!(
                !line.contains(&scim_secret),
                "{g} logged the SCIM token: {line}"
            );
            assert!(
                serde_json::from_str::<Value>(&line).is_ok(),
                "{g} wrote a non-JSON log line: {line}"
            );
        }
    }

    // What each function called on AWS is within what its IAM policy allows.
    let granted = template::require_tool("python")
        .map(|py| template::load(&py).unwrap_or_else(|e| panic!("{e}")));
    let mut rows = Vec::new();
    let mut excess = Vec::new();
    for (g, r) in fns {
        let calls: BTreeSet<AwsCall> = r
            .recorder
            .calls()
            .into_iter()
            .map(|(a, res)| {
                if res == format!("identity:{SENDER}") {
                    (a, "identity:sender".to_owned())
                } else {
                    (a, res)
                }
            })
            .collect();
        let n_calls = r.recorder.calls().len();
        if let Some(t) = &granted {
            let id =
                template::function_of_group(t, g).unwrap_or_else(|| panic!("no function for {g}"));
            let allowed = template::permissions(&template::functions(t)[&id]);
            let denied: Vec<&AwsCall> = calls.difference(&allowed).collect();
            if !denied.is_empty() {
                excess.push(format!(
                    "{id} called {denied:?}, which its policy does not allow"
                ));
            }
        }
        let used: Vec<String> = calls
            .iter()
            .map(|(a, res)| format!("{}@{res}", a.trim_start_matches("dynamodb:")))
            .collect();
        let stats = r.function.stop();
        rows.push((g, stats, n_calls, used));
    }
    print_table(&rows);
    assert!(excess.is_empty(), "{}", excess.join("\n"));
}

/// The SCIM story: the owner creates a SCIM token (manage) and sees it listed (list); the identity
/// provider, with that token only, provisions a user (scim: POST), finds it by `userName eq`,
/// deactivates it with Okta's PATCH and deletes it; the members route (list) shows each step; the
/// token is revoked (delete) and refused from then on. Returns the token's secret.
async fn scim_story(
    fns: &mut BTreeMap<&'static str, Running>,
    org_id: &str,
    owner: &Claims,
    run: &str,
) -> String {
    let org = [("org", org_id)];
    let (st, created) = call(
        fns,
        "manage",
        HttpEvent::new("POST", "/orgs/{org}/scim-tokens", &org)
            .claims(owner)
            .json(&json!({"description": "Okta production"})),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let secret = created["token"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("rcs_"), "{created}");
    assert_eq!(created["description"], "Okta production", "{created}");
    let sct = created["id"].as_str().expect("token id").to_owned();
    let (st, tokens) = call(
        fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/scim-tokens", &org).claims(owner),
    )
    .await;
    assert_eq!(st, 200, "{tokens}");
    let items = tokens["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{tokens}");
    assert_eq!(items[0]["id"], json!(sct), "{tokens}");
    assert!(
        !tokens.to_string().contains(&secret) && items[0].get("token").is_none(),
        "the secret is shown once: {tokens}"
    );

    // POST /Users, as Okta sends it.
    let user_name = format!("dana-{run}@example.test");
    let external_id = format!("00u{run}");
    let user = json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Dana", "familyName": "Scully"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "externalId": external_id,
        "active": true
    });
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("POST", "/scim/v2/Users", &[]),
        Some(&user),
    )
    .await;
    let created = r.json();
    assert_eq!(r.status, 201, "{created}");
    let id = created["id"].as_str().expect("SCIM id").to_owned();
    assert!(id.starts_with("usr_"), "{created}");
    assert_eq!(created["userName"], json!(user_name), "{created}");
    assert_eq!(created["externalId"], json!(external_id), "{created}");
    assert_eq!(created["active"], true, "{created}");
    assert_eq!(created["meta"]["resourceType"], "User", "{created}");
    let location = created["meta"]["location"].as_str().unwrap_or("");
    assert!(
        location.starts_with("https://") && location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{created}"
    );
    assert_eq!(
        r.header("location"),
        Some(location),
        "Location is meta.location"
    );

    // Without the token: 401 with a SCIM Error and a Bearer challenge.
    let r = scim(
        fns,
        None,
        HttpEvent::new("GET", "/scim/v2/Users", &[]),
        None,
    )
    .await;
    assert_scim_error(&r, 401, "no token");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));

    // A member of the organization, from SCIM.
    let member_route = || {
        HttpEvent::new(
            "GET",
            "/orgs/{org}/users/{usr}",
            &[("org", org_id), ("usr", id.as_str())],
        )
        .claims(owner)
    };
    let (st, member) = call(fns, "list", member_route()).await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member["source"], "scim", "{member}");
    assert_eq!(member["status"], "active", "{member}");
    assert_eq!(member["external_id"], json!(external_id), "{member}");
    assert_eq!(member["name"], "Dana Scully", "{member}");

    // Groups: the provider pushes a group with Dana (scim), the owner maps it to a role on a pool
    // (manage), and Dana's effective roles carry it, with the group as their source (list).
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("POST", "/scim/v2/Groups", &[]),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "X-Files",
            "members": [{"value": id}]
        })),
    )
    .await;
    let group = r.json();
    assert_eq!(r.status, 201, "{group}");
    assert_eq!(group["members"][0]["value"], json!(id), "{group}");
    let group_id = group["id"].as_str().expect("group id").to_owned();
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("GET", "/scim/v2/Groups", &[])
            .query("excludedAttributes", "members")
            .query("filter", "displayName eq \"x-files\""),
        None,
    )
    .await;
    let found = r.json();
    assert_eq!(r.status, 200, "{found}");
    assert_eq!(found["totalResults"], 1, "{found}");
    assert!(found["Resources"][0].get("members").is_none(), "{found}");
    let (st, pool) = call(
        fns,
        "manage",
        HttpEvent::new("POST", "/orgs/{org}/pools", &org)
            .claims(owner)
            .json(&json!({"name": "Basement"})),
    )
    .await;
    assert_eq!(st, 201, "{pool}");
    let engineer = json!([{"role": "engineer", "pool_id": pool["id"]}]);
    let (st, mapped) = call(
        fns,
        "manage",
        HttpEvent::new(
            "PUT",
            "/orgs/{org}/groups/{grp}/assignments",
            &[("org", org_id), ("grp", group_id.as_str())],
        )
        .claims(owner)
        .json(&json!({"assignments": engineer})),
    )
    .await;
    assert_eq!(st, 200, "{mapped}");
    assert_eq!(mapped["member_count"], 1, "{mapped}");
    let (st, member) = call(fns, "list", member_route()).await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member["assignments"], engineer, "{member}");
    assert_eq!(
        member["direct_assignments"],
        json!([{"role": "member"}]),
        "{member}"
    );
    assert_eq!(member["groups"][0]["group_id"], json!(group_id), "{member}");
    assert_eq!(member["groups"][0]["display_name"], "X-Files", "{member}");

    // GET /Users?filter=userName eq "…" (a key lookup), as Okta checks before creating.
    let filter = format!("userName eq \"{}\"", user_name.to_uppercase());
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("GET", "/scim/v2/Users", &[])
            .query("filter", &filter)
            .query("startIndex", "1")
            .query("count", "100"),
        None,
    )
    .await;
    let found = r.json();
    assert_eq!(r.status, 200, "{found}");
    assert_eq!(found["schemas"], json!([LIST_RESPONSE_SCHEMA]), "{found}");
    assert_eq!(
        found["totalResults"], 1,
        "userName is case-insensitive: {found}"
    );
    assert_eq!(found["Resources"][0]["id"], json!(id), "{found}");

    // PATCH active false (Okta's deactivation): the member is suspended.
    let patch = json!({
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("PATCH", "/scim/v2/Users/{id}", &[("id", &id)]),
        Some(&patch),
    )
    .await;
    let patched = r.json();
    assert_eq!(r.status, 200, "{patched}");
    assert_eq!(patched["active"], false, "{patched}");
    assert_eq!(patched["userName"], json!(user_name), "{patched}");
    let (st, member) = call(fns, "list", member_route()).await;
    assert_eq!(st, 200, "{member}");
    assert_eq!(member["status"], "suspended", "{member}");

    // An unfiltered page: the owner (no SCIM record: a derived resource) and Dana.
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("GET", "/scim/v2/Users", &[])
            .query("startIndex", "1")
            .query("count", "10"),
        None,
    )
    .await;
    let page = r.json();
    assert_eq!(r.status, 200, "{page}");
    assert_eq!(page["totalResults"], 2, "{page}");
    let users: BTreeMap<&str, &Value> = page["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?, u)))
        .collect();
    assert_eq!(users.len(), 2, "{page}");
    assert_eq!(users[id.as_str()]["active"], false, "{page}");
    assert!(
        users.values().any(|u| u["userName"] == json!(owner.email)),
        "the owner's userName is their email: {page}"
    );

    // DELETE: 204, then the resource and the member are gone.
    let user_route = || HttpEvent::new("DELETE", "/scim/v2/Users/{id}", &[("id", &id)]);
    let r = scim(fns, Some(&secret), user_route(), None).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("GET", "/scim/v2/Users/{id}", &[("id", &id)]),
        None,
    )
    .await;
    assert_scim_error(&r, 404, "deleted user");
    let (st, gone) = call(fns, "list", member_route()).await;
    assert_eq!(st, 404, "{gone}");
    assert_eq!(gone["error"]["code"], "member_not_found", "{gone}");

    // Revoke the token (delete): the identity provider's next request is refused.
    let (st, body) = call(
        fns,
        "delete",
        HttpEvent::new(
            "DELETE",
            "/orgs/{org}/scim-tokens/{sct}",
            &[("org", org_id), ("sct", &sct)],
        )
        .claims(owner),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let r = scim(
        fns,
        Some(&secret),
        HttpEvent::new("GET", "/scim/v2/Users", &[]),
        None,
    )
    .await;
    assert_scim_error(&r, 401, "revoked token");
    secret
}

fn print_table(rows: &[(&str, FunctionStats, usize, Vec<String>)]) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    println!();
    println!(
        "function | binary (MiB) | init (ms) | first call (ms) | peak RSS (MiB) | invocations | AWS calls"
    );
    println!("---|---|---|---|---|---|---");
    for (g, s, n, _) in rows {
        println!(
            "{g} | {:.1} | {} | {} | {} | {} | {n}",
            mib(s.binary_bytes),
            ms(s.init),
            ms(s.first_invocation),
            s.peak_rss_kib
                .map(|k| format!("{:.1}", k as f64 / 1024.0))
                .unwrap_or_else(|| "-".into()),
            s.invocations,
        );
    }
    for (g, _, _, used) in rows {
        println!("{g} used: {}", used.join(", "));
    }
}

#[tokio::test]
async fn a_function_missing_its_configuration_fails_at_init_naming_the_variable() {
    // No emulator needed: the configuration is read before any AWS call.
    let config = LambdaConfig::new("rollcall-list")
        .env("ROLLCALL_TABLE", "t")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    let mut f = LambdaFunction::start_group("list", config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = f
        .wait_ready(Duration::from_secs(30))
        .await
        .expect_err("init must fail without ROLLCALL_ACCEPT_URL");
    assert!(err.to_string().contains("ROLLCALL_ACCEPT_URL"), "{err}");
}

/// One story on the Lambda binaries through the fault proxy: the SDK configuration the functions
/// are built with (`rollcall_aws`) retries throttling, 500s and dropped connections to success,
/// and a DynamoDB that stops answering makes the function answer 503 with `Retry-After` after the
/// operation timeout, well within the function timeout (15 s, as in `infra/template.yaml`; the
/// harness fails an invocation that takes longer). Afterwards the write that failed can be made.
#[tokio::test]
async fn the_functions_retry_failing_calls_and_answer_503_within_their_timeout() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let table = format!("rollcall-lambda-faults-{}", uuid::Uuid::now_v7().simple());
    create_table(&emulator_client(&endpoint), &table)
        .await
        .expect("create table");
    let ses = ses_endpoint(&endpoint);
    verify_sender(&ses).await;
    let proxy = FaultProxy::start(&endpoint, &ses).await;
    // The production timeouts (`config` lengthens them for the emulator).
    let attempt = rollcall_aws::ATTEMPT_TIMEOUT.as_millis().to_string();
    let operation = rollcall_aws::OPERATION_TIMEOUT.as_millis().to_string();
    let start = async |group: &str| {
        let production = config(group, &table, &proxy.endpoint)
            .env(rollcall_aws::ATTEMPT_TIMEOUT_ENV, &attempt)
            .env(rollcall_aws::OPERATION_TIMEOUT_ENV, &operation);
        let mut f = LambdaFunction::start_group(group, production)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        f.wait_ready(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        f
    };
    let (mut manage, mut invite, mut accept) = (
        start("manage").await,
        start("invite").await,
        start("accept").await,
    );
    let run = uuid::Uuid::now_v7().simple().to_string();
    let owner = claims(&format!("olivia-{run}@acme.test"), "Olivia Owner");
    let dana_email = format!("dana-{run}@example.test");
    let dana = claims(&dana_email, "Dana");

    // manage: the organization's transaction is throttled twice, the third attempt writes it.
    proxy.inject(Rule::new(
        Target::DynamoDbOps(vec!["TransactWriteItems"]),
        Fault::Throughput,
        Times::Next(2),
    ));
    let r = manage
        .invoke(
            &HttpEvent::new("POST", "/orgs", &[])
                .claims(&owner)
                .json(&json!({"name": "Faulty"})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 201, "{}", r.text());
    let org = r.json()["id"].as_str().expect("org id").to_owned();
    let after_org = proxy.counts();
    assert_eq!(after_org.injected.get("throughput_exceeded"), Some(&2));
    assert!(after_org.retries >= 2, "{after_org}");
    proxy.clear();

    // invite: SES answers 500 once, then takes the mail.
    proxy.inject(Rule::new(Target::Ses, Fault::ServerError, Times::Next(1)));
    let r = invite
        .invoke(
            &HttpEvent::new("POST", "/orgs/{org}/invitations", &[("org", &org)])
                .claims(&owner)
                .json(&json!({"invitations": [{"email": dana_email}]})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["results"][0]["invitation"]["email_status"],
        "sent",
        "{}",
        r.text()
    );
    proxy.clear();
    let token = token_mailed_to(&ses, &dana_email)
        .await
        .expect("the invitation mail");

    // accept: the first DynamoDB connection is dropped without an answer.
    proxy.inject(Rule::new(Target::DynamoDb, Fault::Drop, Times::Next(1)));
    let r = accept
        .invoke(
            &HttpEvent::new("POST", "/invitations/accept", &[])
                .claims(&dana)
                .json(&json!({"token": token})),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text());
    proxy.clear();

    // manage: DynamoDB stops answering. The function gives up after the SDK's operation
    // timeout and answers 503 with Retry-After, instead of being cut off at its own timeout.
    proxy.inject(Rule::new(
        Target::DynamoDb,
        Fault::Hang(Duration::from_secs(3)),
        Times::Always,
    ));
    let pool = HttpEvent::new("POST", "/orgs/{org}/pools", &[("org", &org)])
        .claims(&owner)
        .json(&json!({"name": "Stalled"}));
    let r = manage.invoke(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    let unavailable_after = r.duration;
    assert!(
        unavailable_after >= rollcall_aws::OPERATION_TIMEOUT - Duration::from_millis(500)
            && unavailable_after < Duration::from_secs(10),
        "503 after {unavailable_after:?}"
    );
    proxy.clear();
    let r = manage.invoke(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status,
        201,
        "the pool once DynamoDB is back: {}",
        r.text()
    );
    let counts = proxy.counts();
    println!("lambda fault story: {counts}; 503 after {unavailable_after:?}");
    assert!(counts.retries >= 5, "{counts}");
}

// ---------------------------------------------------------------- events (stream -> EventBridge)

/// The `events` function (in a module of its own: its helpers stay apart from the HTTP stories').
mod events {
    use super::*;

    use rollcall_tests::mail::NoMail;

    /// One call of an AWS JSON protocol (DynamoDB, EventBridge, SQS) on the emulator, unsigned (moto
    /// reads the region from the credential scope).
    async fn aws_json(
        endpoint: &str,
        service: &str,
        target: &str,
        version: &str,
        body: Value,
    ) -> Value {
        let resp = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"),
        )
        .header("content-type", format!("application/x-amz-json-{version}"))
        .header("x-amz-target", target)
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{target}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn eventbridge(endpoint: &str, op: &str, body: Value) -> Value {
        aws_json(endpoint, "events", &format!("AWSEvents.{op}"), "1.1", body).await
    }

    async fn sqs(endpoint: &str, op: &str, body: Value) -> Value {
        aws_json(endpoint, "sqs", &format!("AmazonSQS.{op}"), "1.0", body).await
    }

    /// Every message now on `queue` (each read once: hidden for 5 minutes after), as JSON bodies.
    async fn drain(endpoint: &str, queue: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let r = sqs(
                endpoint,
                "ReceiveMessage",
                json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}),
            )
            .await;
            let msgs = r["Messages"].as_array().cloned().unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(
                    serde_json::from_str(m["Body"].as_str().unwrap_or("null"))
                        .unwrap_or(Value::Null),
                );
            }
        }
    }

    /// A DynamoDB Streams record (`NEW_IMAGE`) of `event_name` for the item `image` (attribute-value
    /// JSON), as Lambda delivers it.
    fn stream_record(table: &str, seq: &str, event_name: &str, image: &Value) -> Value {
        let keys = json!({"PK": image["PK"], "SK": image["SK"]});
        let mut data = json!({
            "ApproximateCreationDateTime": chrono::Utc::now().timestamp(),
            "Keys": keys,
            "SequenceNumber": seq,
            "SizeBytes": image.to_string().len(),
            "StreamViewType": "NEW_IMAGE",
        });
        if event_name != "REMOVE" {
            data["NewImage"] = image.clone();
        }
        json!({
            "eventID": uuid::Uuid::now_v7().simple().to_string(),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": data,
            "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000"),
        })
    }

    /// The `events` function on a DynamoDB Streams batch made of real audit entries (written by the
    /// use cases on the DynamoDB store, read back in the stream's attribute-value JSON), with a
    /// poison record in the middle and the REMOVE of an expired entry: the answer reports the poison
    /// record alone; PutEvents (seen by the recorder) carries exactly the events `events_of` derives,
    /// which arrive on the emulated bus (a rule with an SQS target) with source `rollcall`, the type
    /// as detail-type and the event as detail; the same batch again publishes the same ids. Then
    /// PutEvents failing as a whole (the bus does not exist) reports every record with an event.
    #[tokio::test]
    async fn the_events_function_publishes_a_stream_batch_and_reports_a_poison_record_alone() {
        use rollcall_domain::service::{ScimMemberCommand, ScimOrg, Service, ServiceConfig};
        use rollcall_store_dynamodb::{DynamoStore, audit_event_from_stream_image};
        use std::sync::Arc;

        let Some(endpoint) = emulator_endpoint() else {
            return;
        };
        let run = uuid::Uuid::now_v7().simple().to_string();
        let table = format!("rollcall-lambda-events-{run}");
        let client = emulator_client(&endpoint);
        create_table(&client, &table).await.expect("create table");

        // Real changes through the use cases: an organization, a member provisioned by SCIM, an
        // invitation created and revoked, the member removed.
        let service = Service::new(
            Arc::new(DynamoStore::new(client.clone(), table.clone())),
            Arc::new(NoMail),
            Arc::new(rollcall_domain::ports::SystemClock),
            Arc::new(rollcall_domain::ports::OsRandomness),
            ServiceConfig {
                accept_url: ACCEPT_URL.into(),
            },
        );
        let (owner_email, member_email, invitee_email) = (
            format!("olivia-{run}@acme.test"),
            format!("mia-{run}@acme.test"),
            format!("ivan-{run}@example.test"),
        );
        let owner = service
            .identify(
                &claims(&owner_email, "Olivia Owner"),
                &rollcall_domain::audit::RequestMeta::default(),
            )
            .await
            .expect("identify");
        let org = service.create_org(&owner, "Acme").await.expect("org").id;
        let scim = ScimOrg {
            org_id: org.clone(),
            token_id: rollcall_domain::ids::ScimTokenId::from_uuid(uuid::Uuid::now_v7()),
            request: Default::default(),
        };
        let member = service
            .scim_provision(
                &scim,
                &ScimMemberCommand {
                    user_name: Some(member_email.clone()),
                    email: rollcall_domain::Email::parse(&member_email),
                    name: None,
                    phone: None,
                    external_id: None,
                    active: Some(true),
                    resource: json!({"userName": member_email}),
                },
            )
            .await
            .expect("provision")
            .membership
            .user_id;
        let invited = service
            .bulk_invite(
                &owner,
                &org,
                &serde_json::from_value(
                    json!({"invitations": [{"email": invitee_email}], "send_email": false}),
                )
                .expect("request"),
            )
            .await
            .expect("invite");
        let invitation = invited[0]
            .invitation
            .as_ref()
            .expect("an invitation")
            .id
            .clone();
        service
            .revoke_invitation(&owner, &org, &invitation)
            .await
            .expect("revoke");
        service
            .remove_member(&owner, &org, &member, None)
            .await
            .expect("remove");

        // The audit entries, oldest first, as the stream delivers them (DynamoDB's JSON protocol
        // answers in the same attribute-value JSON).
        let items = aws_json(
            &endpoint,
            "dynamodb",
            "DynamoDB_20120810.Query",
            "1.0",
            json!({
                "TableName": table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": keys_audit_pk(&org)}},
                "ConsistentRead": true,
            }),
        )
        .await["Items"]
            .as_array()
            .cloned()
            .expect("audit items");
        // The events the product must hear of, in order, per record.
        let expected: Vec<Vec<Value>> = items
            .iter()
            .map(|image| {
                let entry = audit_event_from_stream_image(image).expect("an audit entry");
                rollcall_domain::events::events_of(&entry)
                    .iter()
                    .map(|e| serde_json::to_value(e).expect("event JSON"))
                    .collect()
            })
            .collect();
        let types: Vec<&str> = expected
            .iter()
            .flatten()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "member.joined",
                "invitation.created",
                "invitation.revoked",
                "member.removed"
            ],
            "{items:?}"
        );

        // The batch: the entries in order, a poison record (an audit INSERT whose image is not an
        // entry) after the second, and the REMOVE of the first (its TTL deletion).
        let seq = |i: usize| format!("{:021}", 4_000_000 + i);
        let mut records = Vec::new();
        let mut seqs_with_events = Vec::new();
        let mut poison_seq = String::new();
        for (i, image) in items.iter().enumerate() {
            let s = seq(records.len());
            records.push(stream_record(&table, &s, "INSERT", image));
            if !expected[i].is_empty() {
                seqs_with_events.push(s);
            }
            if i == 1 {
                poison_seq = seq(records.len());
                let mut poison = image.clone();
                poison["SK"] = json!({"S": format!("aud_{}", uuid::Uuid::now_v7().simple())});
                poison["action"] = json!({"S": "member.exploded"});
                records.push(stream_record(&table, &poison_seq, "INSERT", &poison));
            }
        }
        records.push(stream_record(
            &table,
            &seq(records.len()),
            "REMOVE",
            &items[0],
        ));
        let batch = json!({"Records": records});

        // The bus, and a rule delivering everything of source rollcall to a queue the test reads.
        let bus = format!("rollcall-test-{run}");
        eventbridge(&endpoint, "CreateEventBus", json!({"Name": bus})).await;
        let queue_name = format!("rollcall-events-{run}");
        let queue =
            sqs(&endpoint, "CreateQueue", json!({"QueueName": queue_name})).await["QueueUrl"]
                .as_str()
                .expect("queue url")
                .to_owned();
        eventbridge(
        &endpoint,
        "PutRule",
        json!({"Name": "all", "EventBusName": bus, "EventPattern": json!({"source": ["rollcall"]}).to_string()}),
    )
    .await;
        eventbridge(
        &endpoint,
        "PutTargets",
        json!({"Rule": "all", "EventBusName": bus,
               "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}")}]}),
    )
    .await;

        let recorder = AwsRecorder::start(&endpoint).await.expect("recorder");
        let start = async |bus: &str, endpoint: &str| {
            let mut c = LambdaConfig::new("rollcall-events")
                .env("ROLLCALL_EVENT_BUS", bus)
                .env("ROLLCALL_LOG_LEVEL", "info")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_SESSION_TOKEN", "test")
                .env("AWS_ENDPOINT_URL_EVENTBRIDGE", endpoint);
            for (k, v) in emulator_timeouts() {
                c = c.env(k, v);
            }
            let mut f = LambdaFunction::start_group("events", c)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            f.wait_ready(Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            f
        };
        let answer = |outcome: Outcome, f: &LambdaFunction| match outcome {
            Outcome::Response(body) => {
                serde_json::from_slice::<Value>(&body).expect("a JSON answer")
            }
            other => panic!("invocation error {other:?}; logs:\n{}", f.logs().join("\n")),
        };
        let mut f = start(&bus, &recorder.endpoint).await;
        let (outcome, took) = f.invoke_raw(&batch).await.unwrap_or_else(|e| panic!("{e}"));
        let body = answer(outcome, &f);
        assert_eq!(
            body,
            json!({"batchItemFailures": [{"itemIdentifier": poison_seq}]}),
            "the poison record alone"
        );
        let put_calls = |r: &AwsRecorder| {
            r.calls()
                .iter()
                .filter(|(a, _)| a.contains("PutEvents"))
                .count()
        };
        let calls = recorder.calls();
        assert_eq!(
            put_calls(&recorder),
            1,
            "four events: one PutEvents call; {calls:?}"
        );
        assert!(
            calls.iter().all(|(a, _)| a.contains("PutEvents")),
            "nothing but PutEvents (no table access): {calls:?}"
        );
        let want: Vec<&Value> = expected.iter().flatten().collect();
        let delivered = drain(&endpoint, &queue).await;
        let details: Vec<&Value> = delivered.iter().map(|m| &m["detail"]).collect();
        assert_eq!(details, want, "exactly the derived events, in order");
        for m in &delivered {
            assert_eq!(m["source"], "rollcall");
            assert_eq!(m["detail-type"], m["detail"]["type"]);
            assert_eq!(m["detail"]["version"], "1");
            assert_eq!(m["detail"]["org_id"], json!(org));
        }
        // At least once: the same batch again publishes the same ids.
        let (outcome, again_took) = f.invoke_raw(&batch).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer(outcome, &f), body);
        let ids = |ms: &[Value]| -> Vec<String> {
            ms.iter()
                .filter_map(|m| m["detail"]["id"].as_str().map(str::to_owned))
                .collect()
        };
        assert_eq!(ids(&drain(&endpoint, &queue).await), ids(&delivered));
        assert_eq!(put_calls(&recorder), 2);
        for line in f.logs() {
            assert!(
                serde_json::from_str::<Value>(&line).is_ok(),
                "a non-JSON log line: {line}"
            );
            for email in [&owner_email, &member_email, &invitee_email] {
                assert!(
                    !line.contains(email.as_str()),
                    "an address in the logs: {line}"
                );
            }
        }
        assert!(
            f.logs()
                .iter()
                .any(|l| l.contains("\"failed_records\":1") && l.contains("\"published\":4")),
            "one line per batch with its counts: {:?}",
            f.logs()
        );
        let stats = f.stop();

        // PutEvents failing as a whole (no such bus): every record with an event is reported, and
        // the poison record still.
        let mut broken = start(&format!("rollcall-missing-{run}"), &endpoint).await;
        let (outcome, _) = broken
            .invoke_raw(&batch)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut want_failed = seqs_with_events.clone();
        want_failed.push(poison_seq.clone());
        want_failed.sort();
        let failed: Vec<String> = answer(outcome, &broken)["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(failed, want_failed);
        drop(broken);

        println!(
            "events function: binary {:.1} MiB, init {:?}, batch of {} records (4 events) {took:?}, again {again_took:?}, peak RSS {:?} KiB",
            stats.binary_bytes as f64 / (1024.0 * 1024.0),
            stats.init,
            batch["Records"].as_array().map(Vec::len).unwrap_or(0),
            stats.peak_rss_kib,
        );

        // Clean up: the shared emulator keeps everything for the rest of the run.
        eventbridge(
            &endpoint,
            "RemoveTargets",
            json!({"Rule": "all", "EventBusName": bus, "Ids": ["q"]}),
        )
        .await;
        eventbridge(
            &endpoint,
            "DeleteRule",
            json!({"Name": "all", "EventBusName": bus}),
        )
        .await;
        eventbridge(&endpoint, "DeleteEventBus", json!({"Name": bus})).await;
        sqs(&endpoint, "DeleteQueue", json!({"QueueUrl": queue})).await;
        client
            .delete_table()
            .table_name(&table)
            .send()
            .await
            .expect("delete table");
    }

    #[tokio::test]
    async fn the_events_function_without_its_bus_fails_at_init_naming_the_variable() {
        // No emulator needed: the bus is read before any AWS call.
        let config = LambdaConfig::new("rollcall-events")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        let mut f = LambdaFunction::start_group("events", config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let err = f
            .wait_ready(Duration::from_secs(30))
            .await
            .expect_err("init must fail without ROLLCALL_EVENT_BUS");
        assert!(err.to_string().contains("ROLLCALL_EVENT_BUS"), "{err}");
    }

    /// The partition of an organization's audit entries.
    fn keys_audit_pk(org: &rollcall_domain::ids::OrgId) -> String {
        rollcall_store_dynamodb::keys::audit_pk(org)
    }
}

// ---------------------------------------------------------------- mail-events (SES -> invitations)

/// An SES event of `fixtures/ses/<name>.json` (shaped as EventBridge delivers it) about `to`'s
/// mail `message_id` of invitation `inv` in `org`.
fn ses_event(name: &str, to: &str, message_id: &str, inv: &str, org: &str) -> Value {
    let path = format!("{}/fixtures/ses/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text
        .replace("{{EMAIL}}", to)
        .replace("{{MESSAGE_ID}}", message_id)
        .replace("{{INVITATION_ID}}", inv)
        .replace("{{ORG_ID}}", org);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// SES delivery events on the `mail-events` binary: invitations mailed by the invite function
/// (through moto's SES), then a bounce and a complaint as EventBridge delivers them; the stored
/// invitations afterwards, the list filtered by email status, resend refusing the bounced address;
/// a stale message id and a delivery after the bounce change nothing; a malformed event is an
/// invocation error (`MalformedEvent`) and the events after it are still recorded. The function's
/// AWS calls are within its IAM policy: one GetItem, and one transaction of two Puts per change.
#[tokio::test]
async fn mail_events_records_bounces_and_complaints_from_ses() {
    use rollcall_domain::ids::InvitationId;
    use rollcall_domain::model::EmailStatus;
    use rollcall_domain::ports::Store;
    use rollcall_tests::lambda_runtime::Outcome;

    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let table = format!("rollcall-mail-events-{}", uuid::Uuid::now_v7().simple());
    let client = emulator_client(&endpoint);
    create_table(&client, &table).await.expect("create table");
    verify_sender(&ses_endpoint(&endpoint)).await;
    let store = rollcall_store_dynamodb::DynamoStore::new(client, table.clone());

    let mut fns: BTreeMap<&'static str, Running> = BTreeMap::new();
    for g in ["manage", "invite", "list", "mail-events"] {
        let recorder = AwsRecorder::start_split(&endpoint, &ses_endpoint(&endpoint))
            .await
            .expect("recorder");
        let mut function = LambdaFunction::start_group(g, config(g, &table, &recorder.endpoint))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        function
            .wait_ready(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fns.insert(g, Running { function, recorder });
    }

    let run = uuid::Uuid::now_v7().simple().to_string();
    let owner = claims(&format!("olivia-{run}@acme.test"), "Olivia Owner");
    let (gone, spam) = (
        format!("gone-{run}@example.test"),
        format!("spam-{run}@example.test"),
    );
    let (st, org) = call(
        &mut fns,
        "manage",
        HttpEvent::new("POST", "/orgs", &[])
            .claims(&owner)
            .json(&json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(st, 201, "{org}");
    let org_id = org["id"].as_str().expect("org id").to_owned();
    let (st, res) = call(
        &mut fns,
        "invite",
        HttpEvent::new("POST", "/orgs/{org}/invitations", &[("org", &org_id)])
            .claims(&owner)
            .json(&json!({"invitations": [{"email": gone}, {"email": spam}]})),
    )
    .await;
    assert_eq!(st, 200, "{res}");
    let inv_ids: Vec<String> = (0..2)
        .map(|i| {
            assert_eq!(
                res["results"][i]["invitation"]["email_status"], "sent",
                "{res}"
            );
            res["results"][i]["invitation"]["id"]
                .as_str()
                .expect("invitation id")
                .to_owned()
        })
        .collect();
    let stored = async |id: &str| {
        store
            .get_invitation(&InvitationId::parse(id).expect("id"))
            .await
            .expect("read")
            .expect("stored")
    };
    let message_of = async |id: &str| {
        stored(id)
            .await
            .email_message_id
            .expect("the SES message id is recorded")
    };
    let (gone_msg, spam_msg) = (message_of(&inv_ids[0]).await, message_of(&inv_ids[1]).await);
    assert_ne!(gone_msg, spam_msg);

    let f = &mut fns.get_mut("mail-events").expect("mail-events").function;
    let mut timings = Vec::new();
    let mut invoke_event = async |event: &Value| {
        let (outcome, took) = f.invoke_raw(event).await.unwrap_or_else(|e| panic!("{e}"));
        timings.push(took);
        match outcome {
            Outcome::Response(body) => Ok(serde_json::from_slice::<Value>(&body).expect("JSON")),
            Outcome::Error { error_type, body } => Err((error_type, body)),
        }
    };
    // A malformed event first: an invocation error, which does not hold up the next ones.
    let malformed = json!({"source": "aws.ses", "detail-type": "Email Bounced", "detail": {"eventType": "Bounce"}});
    let (_, body) = invoke_event(&malformed).await.expect_err("malformed");
    assert_eq!(body["errorType"], "MalformedEvent", "{body}");
    let bounce = ses_event("bounce", &gone, &gone_msg, &inv_ids[0], &org_id);
    let r = invoke_event(&bounce).await.expect("bounce");
    assert_eq!(r, json!({"outcome": "recorded", "email_status": "bounced"}));
    let complaint = ses_event("complaint", &spam, &spam_msg, &inv_ids[1], &org_id);
    let r = invoke_event(&complaint).await.expect("complaint");
    assert_eq!(
        r,
        json!({"outcome": "recorded", "email_status": "complained"})
    );
    // Redelivered (EventBridge is at-least-once), late, or about an older mail: nothing changes.
    let r = invoke_event(&bounce).await.expect("again");
    assert_eq!(r, json!({"outcome": "unchanged"}));
    let delivered = ses_event("delivery", &gone, &gone_msg, &inv_ids[0], &org_id);
    let r = invoke_event(&delivered).await.expect("late delivery");
    assert_eq!(r, json!({"outcome": "unchanged"}));
    let stale = ses_event(
        "delivery",
        &spam,
        "0100018c-an-older-mail",
        &inv_ids[1],
        &org_id,
    );
    let r = invoke_event(&stale).await.expect("stale");
    assert_eq!(r, json!({"outcome": "stale"}));
    let unknown_inv = InvitationId::from_uuid(uuid::Uuid::now_v7()).to_string();
    let unknown = ses_event("bounce", &gone, &gone_msg, &unknown_inv, &org_id);
    let r = invoke_event(&unknown).await.expect("unknown");
    assert_eq!(r, json!({"outcome": "unknown_invitation"}));

    // The invitations afterwards.
    let gone_inv = stored(&inv_ids[0]).await;
    assert_eq!(gone_inv.email_status, EmailStatus::Bounced);
    assert_eq!(
        gone_inv.email_message_id.as_deref(),
        Some(gone_msg.as_str())
    );
    assert_eq!(
        stored(&inv_ids[1]).await.email_status,
        EmailStatus::Complained
    );
    let (st, list) = call(
        &mut fns,
        "list",
        HttpEvent::new("GET", "/orgs/{org}/invitations", &[("org", &org_id)])
            .claims(&owner)
            .query("email_status", "bounced"),
    )
    .await;
    assert_eq!(st, 200, "{list}");
    let listed: Vec<&str> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["email"].as_str())
        .collect();
    assert_eq!(listed, [gone.as_str()], "{list}");
    let (st, err) = call(
        &mut fns,
        "invite",
        HttpEvent::new(
            "POST",
            "/orgs/{org}/invitations/{inv}/resend",
            &[("org", &org_id), ("inv", &inv_ids[0])],
        )
        .claims(&owner)
        .json(&json!({})),
    )
    .await;
    assert_eq!(st, 409, "{err}");
    assert_eq!(err["error"]["code"], "email_undeliverable", "{err}");

    // AWS calls of mail-events: within its policy; per event one GetItem, and for the two that
    // changed the status one transaction of two Puts.
    let r = fns.remove("mail-events").expect("mail-events");
    let calls = r.recorder.calls();
    let gets = calls
        .iter()
        .filter(|(a, _)| a == "dynamodb:GetItem")
        .count();
    let puts = calls
        .iter()
        .filter(|(a, _)| a == "dynamodb:PutItem")
        .count();
    assert_eq!((gets, puts, calls.len()), (6, 4, 10), "{calls:?}");
    if let Some(py) = template::require_tool("python") {
        let t = template::load(&py).unwrap_or_else(|e| panic!("{e}"));
        let id = template::function_of_group(&t, "mail-events").expect("mail-events function");
        let allowed = template::permissions(&template::functions(&t)[&id]);
        let used: BTreeSet<AwsCall> = calls.into_iter().collect();
        let denied: Vec<&AwsCall> = used.difference(&allowed).collect();
        assert!(
            denied.is_empty(),
            "{id} called {denied:?}, which its policy does not allow"
        );
    }
    for line in r.function.logs() {
        assert!(
            serde_json::from_str::<Value>(&line).is_ok(),
            "mail-events wrote a non-JSON log line: {line}"
        );
        assert!(
            !line.contains(&gone) && !line.contains(&spam),
            "mail-events logged a recipient address: {line}"
        );
    }
    let ms: Vec<String> = timings
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
        .collect();
    let stats = r.function.stop();
    println!(
        "mail-events: binary {:.1} MiB, init {:?}, peak RSS {:?} KiB, invocations (ms): {}",
        stats.binary_bytes as f64 / (1024.0 * 1024.0),
        stats.init,
        stats.peak_rss_kib,
        ms.join(", ")
    );
}
