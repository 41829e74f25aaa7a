//! Failing dependencies (issue 10): `rollcall serve --store dynamodb --mailer ses` behind the fault
//! proxy of `rollcall_tests::faults`, one round per kind of fault. In each round, writes of every
//! kind (create org, bulk invite with mail, accept, SCIM POST, member removal) run while the
//! proxy throttles, fails, drops or stalls DynamoDB/SES requests. Every answer must be the
//! write's success (the SDK's retries absorbed the fault) or 503 `service_unavailable` with
//! `Retry-After`, never a 500, and within a bound well below the Lambda timeout. After the faults
//! stop, the data is checked through the API and directly in the table: every organization is
//! whole (root pool, owner membership, counters equal to what they count), an invitation is
//! accepted exactly when its membership exists, a SCIM user exists once or not at all, a removed
//! member is gone with the counters following; a mail that could not be sent left
//! `email_status: failed` and a resend now sends it. Each round prints what its fault produced.
//!
//! Needs the emulator (`ROLLCALL_TEST_DYNAMODB_ENDPOINT`, `ROLLCALL_TEST_SES_ENDPOINT`;
//! ./scripts/test sets them; unset: fails under CI, else skips with a notice).

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use rollcall_tests::faults::{Counts, Fault, FaultProxy, Rule, Target, Times};
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint, ses_endpoint, token_in};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The longest a request may take while a dependency fails: the SDK bounds one call at
/// `rollcall_aws::OPERATION_TIMEOUT` (5 s) and a request stops at its first exhausted call; the
/// bound leaves room for the calls before it, and stays below the Lambda timeout (15 s).
const REQUEST_BOUND: Duration = Duration::from_secs(12);

/// DynamoDB's write operations.
const WRITES: [&str; 4] = ["TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"];

/// What the writes of a round answered.
#[derive(Debug, Default)]
struct Tally {
    /// Per write kind: (2xx, 503).
    by_kind: BTreeMap<&'static str, (u32, u32)>,
    /// Slowest answer.
    slowest: Duration,
}

impl Tally {
    fn ok(&self) -> u32 {
        self.by_kind.values().map(|v| v.0).sum()
    }
    fn unavailable(&self) -> u32 {
        self.by_kind.values().map(|v| v.1).sum()
    }
}

/// One server behind a fault proxy, with an organization, its manager and a SCIM token.
struct Round {
    name: &'static str,
    server: TestServer,
    proxy: FaultProxy,
    dynamodb: String,
    owner: String,
    org: String,
    scim_token: String,
    tally: Tally,
}

/// An answer: status and body.
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Round {
    async fn start(name: &'static str) -> Option<Round> {
        let dynamodb = emulator_endpoint()?;
        let ses = ses_endpoint(&dynamodb);
        let proxy = FaultProxy::start(&dynamodb, &ses).await;
        // The production timeouts (TestServer lengthens them for the emulator).
        let attempt = rollcall_aws::ATTEMPT_TIMEOUT.as_millis().to_string();
        let operation = rollcall_aws::OPERATION_TIMEOUT.as_millis().to_string();
        let server = TestServer::start_with_env(
            Backend::Emulated {
                endpoint: dynamodb.clone(),
            },
            &[
                (rollcall_aws::ATTEMPT_TIMEOUT_ENV, &attempt),
                (rollcall_aws::OPERATION_TIMEOUT_ENV, &operation),
                ("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint),
                ("AWS_ENDPOINT_URL_SES", &proxy.endpoint),
                ("AWS_ENDPOINT_URL_SESV2", &proxy.endpoint),
                // The faults make the server log every failed call; the test reports them.
                ("ROLLCALL_LOG_LEVEL", "off"),
            ],
        )
        .await;
        let setup = server
            .scim_org(
                &format!("owner-{name}@faults.test"),
                &format!("Faults {name}"),
            )
            .await;
        Some(Round {
            name,
            server,
            proxy,
            dynamodb,
            owner: setup.manager,
            org: setup.org,
            scim_token: setup.scim_token,
            tally: Tally::default(),
        })
    }

    /// Sends a request and checks the answer: `success`, or 503 `service_unavailable` with
    /// `Retry-After`, within [`REQUEST_BOUND`]; counts it under `kind`.
    async fn write(
        &mut self,
        kind: &'static str,
        success: StatusCode,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> Answer {
        let started = Instant::now();
        let mut req = self
            .server
            .http
            .request(method.clone(), format!("{}{path}", self.server.base))
            .bearer_auth(bearer);
        if let Some(b) = body {
            let ct = if path.starts_with("/scim/") {
                "application/scim+json"
            } else {
                "application/json"
            };
            req = req.header("content-type", ct).body(b.to_string());
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await.expect("body");
        let took = started.elapsed();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let name = self.name;
        assert!(
            took < REQUEST_BOUND,
            "[{name}] {method} {path} took {took:?} (bound {REQUEST_BOUND:?})"
        );
        self.tally.slowest = self.tally.slowest.max(took);
        let entry = self.tally.by_kind.entry(kind).or_default();
        if status == success {
            entry.0 += 1;
        } else {
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "[{name}] {method} {path}: neither {success} nor 503: {body}"
            );
            let code = body["error"]["code"]
                .as_str()
                .or(body["status"].as_str().map(|_| "service_unavailable"))
                .unwrap_or("");
            assert_eq!(code, "service_unavailable", "[{name}] {path}: {body}");
            assert_eq!(
                retry_after.as_deref(),
                Some("5"),
                "[{name}] {path}: a 503 tells when to retry"
            );
            entry.1 += 1;
        }
        Answer { status, body }
    }

    /// Invitations without mail (their accept tokens), made before the faults.
    async fn invite_for_accept(&self, emails: &[String]) -> Vec<(String, String)> {
        let entries: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
        let (st, res) = self
            .server
            .call(
                Method::POST,
                &format!("/orgs/{}/invitations", self.org),
                Some(&self.owner),
                Some(json!({"invitations": entries, "send_email": false})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        res["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                let url = r["accept_url"].as_str().expect("accept_url");
                (
                    r["email"].as_str().expect("email").to_owned(),
                    token_in(url).expect("token in the accept link"),
                )
            })
            .collect()
    }

    /// Members made before the faults (to remove during them): their user ids.
    async fn members(&self, tag: &str, n: usize) -> Vec<String> {
        let emails: Vec<String> = (0..n).map(|i| format!("{tag}{i}@leaving.test")).collect();
        let mut ids = Vec::new();
        for (email, token) in self.invite_for_accept(&emails).await {
            let bearer = self.server.token(&email, None, true);
            let (st, m) = self
                .server
                .call(
                    Method::POST,
                    "/invitations/accept",
                    Some(&bearer),
                    Some(json!({"token": token})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{m}");
            ids.push(m["user_id"].as_str().expect("user_id").to_owned());
        }
        ids
    }

    /// Writes of every kind, sequentially, while the proxy injects faults: per repeat, an
    /// organization, a bulk invite of two with mail, two accepts, a SCIM user and a member
    /// removal. Returns what needs checking after the faults stop.
    async fn run(&mut self, p: Prepared) -> Attempts {
        let Prepared {
            tag,
            repeat,
            mut to_accept,
            mut leaving,
        } = p;
        let mut at = Attempts::default();
        for i in 0..repeat {
            // Create an organization (a transaction: org, root pool, owner membership, counters).
            let name = format!("{tag} org {i}");
            let a = self
                .write(
                    "create_org",
                    StatusCode::CREATED,
                    Method::POST,
                    "/orgs",
                    &self.owner.clone(),
                    Some(json!({"name": name})),
                )
                .await;
            at.orgs.push((name, a.status.is_success()));
            // Bulk invite of two, with mail.
            let emails = [
                format!("{tag}-inv{i}a@mailed.test"),
                format!("{tag}-inv{i}b@mailed.test"),
            ];
            let a = self
                .write(
                    "bulk_invite",
                    StatusCode::OK,
                    Method::POST,
                    &format!("/orgs/{}/invitations", self.org),
                    &self.owner.clone(),
                    Some(json!({"invitations": emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>()})),
                )
                .await;
            for r in a.body["results"].as_array().into_iter().flatten() {
                if let Some(status) = r["invitation"]["email_status"].as_str() {
                    at.mailed.push((
                        r["email"].as_str().unwrap_or("").to_owned(),
                        r["invitation"]["id"].as_str().unwrap_or("").to_owned(),
                        status.to_owned(),
                    ));
                }
            }
            at.invited.extend(emails);
            // Two accepts.
            for _ in 0..2 {
                let (email, token) = to_accept.pop().expect("an invitation to accept");
                let bearer = self.server.token(&email, None, true);
                let a = self
                    .write(
                        "accept",
                        StatusCode::OK,
                        Method::POST,
                        "/invitations/accept",
                        &bearer,
                        Some(json!({"token": token})),
                    )
                    .await;
                at.accepts.push((email, token, a.status.is_success()));
            }
            // A SCIM user.
            let user_name = format!("{tag}-scim{i}@scim.test");
            let a = self
                .write(
                    "scim_post",
                    StatusCode::CREATED,
                    Method::POST,
                    "/scim/v2/Users",
                    &self.scim_token.clone(),
                    Some(json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": user_name,
                        "active": true,
                        "emails": [{"value": user_name, "primary": true}],
                    })),
                )
                .await;
            at.scim.push((user_name, a.status.is_success()));
            // A member removal.
            let user = leaving.pop().expect("a member to remove");
            let a = self
                .write(
                    "remove_member",
                    StatusCode::NO_CONTENT,
                    Method::DELETE,
                    &format!("/orgs/{}/users/{user}", self.org),
                    &self.owner.clone(),
                    None,
                )
                .await;
            at.removals.push((user, a.status.is_success()));
        }
        at
    }

    /// After the faults: everything consistent, everything that failed can be done now.
    async fn verify(&self, at: &Attempts) {
        let name = self.name;
        let s = &self.server;
        // Organizations: those answered 201 are listed; in the table, every organization is whole.
        let (st, mine) = s
            .call(Method::GET, "/orgs?limit=200", Some(&self.owner), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{mine}");
        let listed: Vec<&str> = mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|o| o["name"].as_str().or(o["org"]["name"].as_str()))
            .collect();
        for (org, created) in &at.orgs {
            let n = listed.iter().filter(|l| **l == org.as_str()).count();
            if *created {
                assert_eq!(n, 1, "[{name}] {org} was created but is not listed once");
            } else {
                assert!(n <= 1, "[{name}] {org} listed {n} times");
            }
        }
        self.check_table().await;

        // Accepts: accepted exactly when the membership exists; a failed accept can be redone.
        for (email, token, ok) in &at.accepts {
            let bearer = s.token(email, None, true);
            if !ok {
                let (st, body) = s
                    .call(
                        Method::POST,
                        "/invitations/accept",
                        Some(&bearer),
                        Some(json!({"token": token})),
                    )
                    .await;
                // Either the accept was not written (it works now) or it was, wholly (the
                // invitation is closed; the membership is checked below).
                assert!(
                    st == StatusCode::OK || st == StatusCode::GONE || st == StatusCode::CONFLICT,
                    "[{name}] accept again after a 503: {st} {body}"
                );
            }
            let members = self.members_by_email(email).await;
            assert_eq!(
                members, 1,
                "[{name}] {email}: one membership after accepting"
            );
            let inv = self.invitations_to(email).await;
            let statuses: Vec<&str> = inv.iter().filter_map(|i| i["status"].as_str()).collect();
            assert_eq!(statuses, ["accepted"], "[{name}] {email}'s invitation");
        }
        // Invitations of the bulk invites: at most one each; a failed mail can be resent now.
        for email in &at.invited {
            let items = self.invitations_to(email).await;
            assert!(items.len() <= 1, "[{name}] {email}: {items:?}");
        }
        for (email, id, status) in &at.mailed {
            if status == "sent" {
                assert!(
                    s.last_mail_to(email).await.is_some(),
                    "[{name}] {email}: email_status sent but no mail"
                );
                continue;
            }
            assert_eq!(status, "failed", "[{name}] {email}");
            let (st, inv) = s
                .call(
                    Method::POST,
                    &format!("/orgs/{}/invitations/{id}/resend", self.org),
                    Some(&self.owner),
                    Some(json!({})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "[{name}] resend {email}: {inv}");
            let inv = if inv["invitation"].is_object() {
                &inv["invitation"]
            } else {
                &inv
            };
            assert_eq!(
                inv["email_status"], "sent",
                "[{name}] resent {email}: {inv}"
            );
            let mail = s.last_mail_to(email).await.expect("the resent mail");
            assert!(token_in(&mail.to_string()).is_some(), "{mail}");
        }
        // SCIM users: once or not at all; a failed POST can be redone.
        for (user_name, created) in &at.scim {
            let filter = format!("userName eq \"{user_name}\"");
            let path = format!(
                "/Users?filter={}",
                rollcall_tests::server::url_encode(&filter)
            );
            let found = s
                .scim(Method::GET, &path, Some(&self.scim_token), None)
                .await;
            assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
            let n = found.body["totalResults"].as_u64().unwrap_or(0);
            if *created {
                assert_eq!(n, 1, "[{name}] {user_name}");
            } else {
                assert!(n <= 1, "[{name}] {user_name}: {n}");
                if n == 0 {
                    let again = s
                        .scim(
                            Method::POST,
                            "/Users",
                            Some(&self.scim_token),
                            Some(json!({
                                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": user_name,
                                "active": true,
                            })),
                        )
                        .await;
                    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
                }
            }
        }
        // Removals: gone when answered 204; a failed removal can be redone.
        for (user, removed) in &at.removals {
            let path = format!("/orgs/{}/users/{user}", self.org);
            let (st, body) = s.call(Method::GET, &path, Some(&self.owner), None).await;
            if *removed {
                assert_eq!(st, StatusCode::NOT_FOUND, "[{name}] removed {user}: {body}");
            } else if st == StatusCode::OK {
                let (st, body) = s.call(Method::DELETE, &path, Some(&self.owner), None).await;
                assert_eq!(st, StatusCode::NO_CONTENT, "[{name}] remove again: {body}");
            }
        }
        // And once more: the redone writes left the table whole.
        self.check_table().await;
    }

    /// The organization's invitations to `email`, any status.
    async fn invitations_to(&self, email: &str) -> Vec<Value> {
        let (st, inv) = self
            .server
            .call(
                Method::GET,
                &format!(
                    "/orgs/{}/invitations?email={}",
                    self.org,
                    rollcall_tests::server::url_encode(email)
                ),
                Some(&self.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{inv}");
        inv["items"].as_array().expect("items").clone()
    }

    async fn members_by_email(&self, email: &str) -> usize {
        let (st, list) = self
            .server
            .call(
                Method::GET,
                &format!(
                    "/orgs/{}/users?q={}&limit=200",
                    self.org,
                    rollcall_tests::server::url_encode(email)
                ),
                Some(&self.owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|m| {
                m["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .count()
    }

    /// Reads the whole table directly (not through the proxy) and checks every organization:
    /// its item, a root pool, an owner membership, and counters equal to what they count.
    async fn check_table(&self) {
        let name = self.name;
        let client = rollcall_store_dynamodb::emulator_client(&self.dynamodb);
        let table = self.server.table.clone().expect("table");
        let mut items: Vec<HashMap<String, AttributeValue>> = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        let s = |item: &HashMap<String, AttributeValue>, k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let mut orgs: BTreeMap<String, Vec<&HashMap<String, AttributeValue>>> = BTreeMap::new();
        for item in &items {
            let pk = s(item, "PK");
            if pk.starts_with("ORG#") {
                orgs.entry(pk).or_default().push(item);
            }
        }
        assert!(!orgs.is_empty(), "[{name}] no organization in the table");
        for (pk, part) in &orgs {
            let sks: Vec<String> = part.iter().map(|i| s(i, "SK")).collect();
            let count = |prefix: &str| sks.iter().filter(|k| k.starts_with(prefix)).count();
            let counter = |c: &str| {
                part.iter()
                    .find(|i| s(i, "SK") == format!("COUNT#{c}"))
                    .and_then(|i| i.get("n"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0)
            };
            assert!(
                sks.iter().any(|k| k == "#"),
                "[{name}] {pk}: items without the organization: {sks:?}"
            );
            assert!(count("POOL#") >= 1, "[{name}] {pk}: no root pool: {sks:?}");
            assert!(count("MEMBER#") >= 1, "[{name}] {pk}: no member: {sks:?}");
            assert_eq!(
                counter("members"),
                count("MEMBER#"),
                "[{name}] {pk}: members counter"
            );
            assert_eq!(
                counter("pools"),
                count("POOL#"),
                "[{name}] {pk}: pools counter"
            );
            assert!(
                counter("managers") >= 1,
                "[{name}] {pk}: no manager counted"
            );
        }
        // Every accepted invitation's invitee is a member of its organization.
        for inv in items.iter().filter(|i| s(i, "PK").starts_with("INV#")) {
            let status = s(inv, "status");
            let org_pk = format!("ORG#{}", s(inv, "org_id"));
            // (Invitations of members removed later are accepted without a membership.)
            if status == "accepted"
                && orgs.contains_key(&org_pk)
                && s(inv, "email_norm").ends_with("@invitee.test")
            {
                let email = s(inv, "email_norm");
                let members = orgs[&org_pk]
                    .iter()
                    .filter(|i| s(i, "SK").starts_with("MEMBER#"))
                    .filter(|i| {
                        let e = s(i, "email");
                        e.eq_ignore_ascii_case(&email) || s(i, "search").starts_with(&email)
                    })
                    .count();
                assert_eq!(
                    members, 1,
                    "[{name}] accepted invitation of {email}: {members} memberships"
                );
            }
        }
    }

    fn report(&self, counts: &Counts) {
        println!(
            "fault round {:<22} answers: {} 2xx, {} 503 {:?}; slowest {:?}; proxy: {counts}",
            self.name,
            self.tally.ok(),
            self.tally.unavailable(),
            self.tally.by_kind,
            self.tally.slowest,
        );
    }
}

/// The writes of a round and how they were answered.
#[derive(Debug, Default)]
struct Attempts {
    /// (org name, answered 201).
    orgs: Vec<(String, bool)>,
    /// Addresses of the bulk invites.
    invited: Vec<String>,
    /// (email, invitation id, email_status answered) of invitations the bulk invites made.
    mailed: Vec<(String, String, String)>,
    /// (email, token, answered 200).
    accepts: Vec<(String, String, bool)>,
    /// (userName, answered 201).
    scim: Vec<(String, bool)>,
    /// (user id, answered 204).
    removals: Vec<(String, bool)>,
}

/// A round: setup without faults, the writes under `rules`, then the checks without faults.
async fn round(name: &'static str, rules: Vec<Rule>, repeat: usize) -> Option<(Tally, Counts)> {
    let mut r = Round::start(name).await?;
    // The fixtures the writes need are made before the faults start.
    let setup = r.prepare(name, repeat).await;
    r.proxy.reset_counts();
    for rule in rules {
        r.proxy.inject(rule);
    }
    let at = r.run(setup).await;
    r.proxy.clear();
    let counts = r.proxy.counts();
    r.report(&counts);
    r.verify(&at).await;
    Some((std::mem::take(&mut r.tally), counts))
}

impl Round {
    async fn prepare(&self, tag: &str, repeat: usize) -> Prepared {
        let accept_emails: Vec<String> = (0..2 * repeat)
            .map(|i| format!("{tag}-acc{i}@invitee.test"))
            .collect();
        Prepared {
            tag: tag.to_owned(),
            repeat,
            to_accept: self.invite_for_accept(&accept_emails).await,
            leaving: self.members(tag, repeat).await,
        }
    }
}

/// The fixtures of a round's writes.
struct Prepared {
    tag: String,
    repeat: usize,
    to_accept: Vec<(String, String)>,
    leaving: Vec<String>,
}

fn writes() -> Target {
    Target::DynamoDbOps(WRITES.to_vec())
}

/// Throttling on a share of the requests (writes more often): the SDK's retries absorb almost all
/// of it.
#[tokio::test]
async fn throttling_is_absorbed_by_the_retries() {
    let Some((tally, counts)) = round(
        "throttling",
        vec![
            Rule::new(writes(), Fault::Throughput, Times::Fraction(0.3)),
            Rule::new(Target::DynamoDb, Fault::Throttling, Times::Fraction(0.1)),
        ],
        2,
    )
    .await
    else {
        return;
    };
    assert!(counts.faults() > 0 && counts.retries > 0, "{counts}");
    assert!(tally.ok() > tally.unavailable(), "{tally:?}");
}

/// Every write throttled: each is tried three times, then answered 503 with Retry-After, and
/// nothing is written.
#[tokio::test]
async fn persistent_throttling_answers_503_and_writes_nothing() {
    let Some((tally, counts)) = round(
        "throttled_writes",
        vec![Rule::new(writes(), Fault::Throttling, Times::Always)],
        1,
    )
    .await
    else {
        return;
    };
    assert_eq!(tally.ok(), 0, "{tally:?}");
    assert_eq!(tally.unavailable(), 6, "{tally:?}");
    // Each failed write call was attempted three times.
    assert_eq!(counts.retries, 2 * counts.faults() / 3, "{counts}");
}

/// 500s from DynamoDB and SES on a share of the requests.
#[tokio::test]
async fn server_errors_are_retried_or_answered_503() {
    let Some((_, counts)) = round(
        "server_errors",
        vec![Rule::new(
            Target::All,
            Fault::ServerError,
            Times::Fraction(0.35),
        )],
        2,
    )
    .await
    else {
        return;
    };
    assert!(counts.faults() > 0 && counts.retries > 0, "{counts}");
}

/// Connections to DynamoDB and SES closed without an answer, on a share of the requests.
#[tokio::test]
async fn dropped_connections_are_retried_or_answered_503() {
    let Some((_, counts)) = round(
        "dropped_connections",
        vec![Rule::new(Target::All, Fault::Drop, Times::Fraction(0.35))],
        2,
    )
    .await
    else {
        return;
    };
    assert!(counts.faults() > 0 && counts.retries > 0, "{counts}");
}

/// SES refuses everything: invitations are made with `email_status: failed`, the API answers 200,
/// and once SES is back a resend sends the mail (checked by the round).
#[tokio::test]
async fn a_mail_outage_leaves_failed_invitations_that_resend_later() {
    let Some((tally, counts)) = round(
        "mail_outage",
        vec![Rule::new(Target::Ses, Fault::Throughput, Times::Always)],
        1,
    )
    .await
    else {
        return;
    };
    assert_eq!(tally.unavailable(), 0, "{tally:?}");
    // The bulk invite's first mail was tried three times; its second was not tried at all.
    assert_eq!(counts.requests.get("ses:SendEmail"), Some(&3), "{counts}");
    assert_eq!(
        counts.injected.get("throughput_exceeded"),
        Some(&3),
        "{counts}"
    );
}

/// A dependency that does not answer: one attempt stalls (the SDK gives up after its attempt
/// timeout and retries), SES stalls for a whole call (the invitation is made, its mail failed),
/// some answers are slow but in time; then SES stalls for good and a bulk invite of five costs
/// one mail timeout; then DynamoDB stalls for good and a write answers 503 within the operation
/// timeout.
#[tokio::test]
async fn stalled_dependencies_time_out_within_the_budget() {
    let Some(mut r) = Round::start("stalled").await else {
        return;
    };
    let prepared = r.prepare("stalled", 1).await;
    r.proxy.reset_counts();
    let stall = Duration::from_secs(3);
    assert!(stall > rollcall_aws::ATTEMPT_TIMEOUT);
    r.proxy.inject(Rule::new(
        Target::DynamoDbOps(vec!["TransactWriteItems"]),
        Fault::Hang(stall),
        Times::Next(1),
    ));
    r.proxy.inject(Rule::new(
        Target::Ses,
        Fault::Hang(stall),
        Times::Next(rollcall_aws::MAX_ATTEMPTS),
    ));
    r.proxy.inject(Rule::new(
        Target::DynamoDb,
        Fault::Delay(Duration::from_millis(300)),
        Times::Fraction(0.2),
    ));
    let at = r.run(prepared).await;
    r.proxy.clear();
    assert_eq!(r.tally.unavailable(), 0, "{:?}", r.tally);
    assert!(
        at.mailed.iter().any(|(_, _, status)| status == "failed"),
        "{:?}",
        at.mailed
    );
    // SES stops answering: a bulk invite of five spends one call's timeout on mail, not five;
    // every invitation is made, with its mail failed.
    r.proxy
        .inject(Rule::new(Target::Ses, Fault::Hang(stall), Times::Always));
    let sends_before = r.proxy.counts().requests.get("ses:SendEmail").copied();
    let emails: Vec<String> = (0..5)
        .map(|i| format!("stalled-bulk{i}@mailed.test"))
        .collect();
    let owner = r.owner.clone();
    let org = r.org.clone();
    let started = Instant::now();
    let a = r
        .write(
            "bulk_invite",
            StatusCode::OK,
            Method::POST,
            &format!("/orgs/{org}/invitations"),
            &owner,
            Some(json!({"invitations": emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>()})),
        )
        .await;
    let took = started.elapsed();
    assert!(
        took < rollcall_aws::OPERATION_TIMEOUT + Duration::from_secs(3),
        "a bulk invite of five with SES stalled took {took:?}"
    );
    let sends = r.proxy.counts().requests.get("ses:SendEmail").copied();
    assert_eq!(
        sends.unwrap_or(0) - sends_before.unwrap_or(0),
        u64::from(rollcall_aws::MAX_ATTEMPTS),
        "one mail tried, with its retries"
    );
    let mut at = at;
    for res in a.body["results"].as_array().expect("results") {
        assert_eq!(res["invitation"]["email_status"], "failed", "{res}");
        at.mailed.push((
            res["email"].as_str().unwrap_or("").to_owned(),
            res["invitation"]["id"].as_str().unwrap_or("").to_owned(),
            "failed".to_owned(),
        ));
    }
    at.invited.extend(emails);
    r.proxy.clear();
    // DynamoDB stops answering: the write gives up after the operation timeout.
    r.proxy.inject(Rule::new(
        Target::DynamoDb,
        Fault::Hang(stall),
        Times::Always,
    ));
    let started = Instant::now();
    let a = r
        .write(
            "create_org",
            StatusCode::CREATED,
            Method::POST,
            "/orgs",
            &owner,
            Some(json!({"name": "never"})),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert!(
        took >= rollcall_aws::OPERATION_TIMEOUT - Duration::from_millis(500)
            && took < rollcall_aws::OPERATION_TIMEOUT + Duration::from_secs(3),
        "503 after {took:?}"
    );
    r.proxy.clear();
    let counts = r.proxy.counts();
    r.report(&counts);
    assert!(counts.retries > 0, "{counts}");
    at.orgs.push(("never".to_owned(), false));
    r.verify(&at).await;
}
