//! Starts the real `rollcall serve` binary on a free loopback port and talks to it over HTTP.

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Which backends the server runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Embedded store + outbox.
    Embedded,
    /// DynamoDB + SES at an emulator endpoint (moto), in a fresh table.
    Emulated {
        /// The emulator's URL.
        endpoint: String,
    },
}

/// A running local server, stopped on drop.
pub struct TestServer {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The server's data directory (kept alive as long as the server).
    pub data_dir: tempfile::TempDir,
    /// The backend.
    pub backend: Backend,
    /// HTTP client.
    pub http: Client,
    /// Table name when on DynamoDB.
    pub table: Option<String>,
    /// How the server was started, to start it again ([`TestServer::crash_and_restart`]).
    cmd: (PathBuf, Vec<std::ffi::OsString>, Vec<(String, String)>),
}

/// The built `rollcall` binary: `ROLLCALL_BIN`, else `target/debug/rollcall` of this workspace.
pub fn rollcall_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ROLLCALL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("debug").join("rollcall")
}

/// The emulator endpoint for DynamoDB/SES runs: `ROLLCALL_TEST_DYNAMODB_ENDPOINT`. When it is unset,
/// `None` (the caller skips with a notice), except under CI, where that is a failure.
pub fn emulator_endpoint() -> Option<String> {
    match std::env::var("ROLLCALL_TEST_DYNAMODB_ENDPOINT") {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "ROLLCALL_TEST_DYNAMODB_ENDPOINT is not set under CI: run the suite with ./scripts/test"
            );
            eprintln!(
                "notice: ROLLCALL_TEST_DYNAMODB_ENDPOINT unset; emulator tests skipped (./scripts/test runs them)"
            );
            None
        }
    }
}

/// The SES emulator: `ROLLCALL_TEST_SES_ENDPOINT` (a separate moto keeps its state dump small),
/// else the DynamoDB one.
pub fn ses_endpoint(dynamodb: &str) -> String {
    std::env::var("ROLLCALL_TEST_SES_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| dynamodb.to_owned())
}

fn aws_env(cmd: &mut Command, endpoint: &str) {
    let ses = ses_endpoint(endpoint);
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_ENDPOINT_URL_SES", &ses)
        .env("AWS_ENDPOINT_URL_SESV2", &ses)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .envs(emulator_timeouts());
}

/// Long SDK timeouts for a server on the emulator: moto answers one request at a time and a
/// transaction can take seconds while the whole suite runs, beyond the production budget of
/// `rollcall_aws` (an attempt cut short would be retried while moto still applies it). The fault
/// tests set the production values back.
pub fn emulator_timeouts() -> [(&'static str, &'static str); 2] {
    [
        (rollcall_aws::ATTEMPT_TIMEOUT_ENV, "30000"),
        (rollcall_aws::OPERATION_TIMEOUT_ENV, "60000"),
    ]
}

impl TestServer {
    /// Starts a server on `backend` and waits until it listens.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, rollcall_bin()).await
    }

    /// Starts the given `rollcall` binary on `backend`.
    pub async fn start_with(backend: Backend, bin: PathBuf) -> TestServer {
        Self::start_configured(backend, bin, &[]).await
    }

    /// Starts a server on `backend` with extra environment variables (e.g. shorter timeouts, or
    /// `AWS_ENDPOINT_URL_*` of a [`crate::faults::FaultProxy`]; they win over the defaults).
    pub async fn start_with_env(backend: Backend, env: &[(&str, &str)]) -> TestServer {
        Self::start_configured(backend, rollcall_bin(), env).await
    }

    async fn start_configured(backend: Backend, bin: PathBuf, env: &[(&str, &str)]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        assert!(
            bin.exists(),
            "{} not built: run `cargo build --bins` (./scripts/test does)",
            bin.display()
        );
        let mut table = None;
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir.path());
        cmd.env("ROLLCALL_ACCEPT_URL", "https://app.example.test/accept")
            .env("ROLLCALL_PRODUCT_NAME", "Rollcall Test")
            .env("ROLLCALL_SENDER", "invites@rollcall.example.test")
            .env("ROLLCALL_LOG_LEVEL", "warn");
        if let Backend::Emulated { endpoint } = &backend {
            let name = format!("rollcall-e2e-{}", uuid::Uuid::now_v7().simple());
            aws_env(&mut cmd, endpoint);
            cmd.arg("--store")
                .arg("dynamodb")
                .arg("--mailer")
                .arg("ses")
                .env("ROLLCALL_TABLE", &name);
            let mut create = Command::new(&bin);
            create.arg("create-table").env("ROLLCALL_TABLE", &name);
            aws_env(&mut create, endpoint);
            // The table is made where the server will look for it (e.g. another region).
            create.envs(env.iter().copied());
            // Off the runtime: the overrides may point at a proxy served by this very runtime
            // (a blocking wait here would deadlock a current-thread test runtime).
            let out = tokio::task::spawn_blocking(move || create.output())
                .await
                .expect("create-table task")
                .expect("run create-table");
            assert!(
                out.status.success(),
                "create-table failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            verify_ses_sender(&ses_endpoint(endpoint), "invites@rollcall.example.test").await;
            table = Some(name);
        }
        // Last, so they win over the defaults above (e.g. `AWS_ENDPOINT_URL_DYNAMODB` pointing at
        // a proxy in front of the emulator).
        cmd.envs(env.iter().copied());
        let saved = (
            bin.clone(),
            cmd.get_args().map(|a| a.to_owned()).collect(),
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
                .collect(),
        );
        let (child, base) = spawn_and_wait(&mut cmd);
        TestServer {
            child,
            base,
            data_dir,
            backend,
            http: Client::new(),
            table,
            cmd: saved,
        }
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts it again on the same
    /// data directory (and table); `base` changes to the new address. Returns once it listens.
    pub fn crash_and_restart(&mut self) {
        self.crash();
        self.restart();
    }

    /// The store the server runs on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL and waits for it to be gone.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again after [`TestServer::crash`], as it was started first.
    pub fn restart(&mut self) {
        let (bin, args, env) = &self.cmd;
        let mut cmd = Command::new(bin);
        cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
        let (child, base) = spawn_and_wait(&mut cmd);
        self.child = child;
        self.base = base;
    }

    /// Kills the server and starts it again on the same data (and table) with its clock `secs`
    /// seconds ahead (`ROLLCALL_LOCAL_CLOCK_OFFSET_SECS`), to meet what expires.
    pub fn restart_later(&mut self, secs: i64) {
        self.crash();
        const OFFSET: &str = "ROLLCALL_LOCAL_CLOCK_OFFSET_SECS";
        let env = &mut self.cmd.2;
        env.retain(|(k, _)| k != OFFSET);
        env.push((OFFSET.to_owned(), secs.to_string()));
        self.restart();
    }

    /// A bearer token for an identity, signed with the server's data-directory key exactly as
    /// `rollcall token` does; verified unless `verified` is false.
    pub fn token(&self, email: &str, name: Option<&str>, verified: bool) -> String {
        let key = rollcall::local_auth::LocalKey::load_or_create(self.data_dir.path())
            .expect("signing key");
        let claims = rollcall_domain::service::Claims {
            sub: format!("local|{}", rollcall_domain::email::normalize_email(email)),
            email: Some(email.to_owned()),
            email_verified: verified,
            name: name.map(str::to_owned),
        };
        key.mint(&claims, chrono::Duration::hours(1)).expect("mint")
    }

    /// A bearer token for another subject than [`TestServer::token`]'s (`local|<email>`): two
    /// identities may then claim one address.
    pub fn token_with_subject(&self, sub: &str, email: &str, verified: bool) -> String {
        let key = rollcall::local_auth::LocalKey::load_or_create(self.data_dir.path())
            .expect("signing key");
        let claims = rollcall_domain::service::Claims {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            email_verified: verified,
            name: None,
        };
        key.mint(&claims, chrono::Duration::hours(1)).expect("mint")
    }

    /// A token minted by the real `rollcall token` command (to prove the command works).
    pub fn token_from_cli(&self, email: &str) -> String {
        let out = Command::new(rollcall_bin())
            .arg("token")
            .arg("--email")
            .arg(email)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .output()
            .expect("run rollcall token");
        assert!(
            out.status.success(),
            "token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }

    /// Sends a request; returns status and JSON body (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Creates an organization as `owner` (a bearer token) and returns it (201 asserted).
    pub async fn create_org(&self, owner: &str, name: &str) -> Value {
        let (status, org) = self
            .call(
                Method::POST,
                "/orgs",
                Some(owner),
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create org {name}: {org}");
        org
    }

    /// Sends a request with extra headers (e.g. `x-request-id`, `User-Agent`); returns status and
    /// JSON body (`Value::Null` for an empty body). A body is sent as `application/scim+json` on
    /// a `/scim/` path, else as `application/json`.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            let content_type = if path.starts_with("/scim/") {
                "application/scim+json"
            } else {
                "application/json"
            };
            req = req.header("content-type", content_type).body(b.to_string());
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Sends raw bytes with a content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends an oversized body over a raw connection and reads the answer the server sends while
    /// the body is still being written (a server may answer 413 and close early; HTTP clients
    /// then report a broken pipe instead of the response).
    pub async fn call_oversized(
        &self,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .expect("status line");
        let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let json = json
            .find('{')
            .map(|i| &json[i..json.rfind('}').map_or(json.len(), |j| j + 1)])
            .unwrap_or("");
        (
            StatusCode::from_u16(status).expect("status"),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    }

    /// Mails sent so far, oldest first, as `{to, subject, text, html}` objects: the local outbox,
    /// or the emulator's record of SES sends.
    pub async fn sent_mail(&self) -> Vec<Value> {
        match &self.backend {
            Backend::Embedded => {
                let (status, body) = self.call(Method::GET, "/_local/outbox", None, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body.as_array().cloned().unwrap_or_default()
            }
            Backend::Emulated { endpoint } => {
                moto_sent_mail(&self.http, &ses_endpoint(endpoint)).await
            }
        }
    }

    /// The newest mail to `to`.
    pub async fn last_mail_to(&self, to: &str) -> Option<Value> {
        self.sent_mail().await.into_iter().rev().find(|m| {
            m["to"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(to))
                || m["to"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(to)))
                })
        })
    }
}

/// A SCIM response: status, headers and JSON body (`Value::Null` for an empty body).
#[derive(Debug)]
pub struct ScimResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body (a string when it is not JSON).
    pub body: Value,
}

impl ScimResponse {
    /// A response header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// An organization set up for SCIM: its id, its manager's JWT and a SCIM token.
#[derive(Debug, Clone)]
pub struct ScimOrgSetup {
    /// The organization.
    pub org: String,
    /// A bearer JWT of its organization manager.
    pub manager: String,
    /// A SCIM token of the organization (`rcs_…`).
    pub scim_token: String,
}

/// An organization set up for heavy traffic: the highest invitation limits, a SCIM token and an
/// invite link granting `member`.
#[derive(Debug, Clone)]
pub struct BusyOrg {
    /// The organization.
    pub org: String,
    /// A bearer JWT of its owner (organization manager).
    pub owner: String,
    /// The owner's user id.
    pub owner_id: String,
    /// A SCIM token of the organization.
    pub scim_token: String,
    /// An invite link token (`rcl_…`).
    pub link_token: String,
}

/// One request that may get no answer (the server killed under it): `None` then. A SCIM path
/// sends `application/scim+json`.
pub async fn try_call(
    http: &Client,
    base: &str,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> Option<(StatusCode, Value)> {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(bearer)
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        let content_type = if path.starts_with("/scim/") {
            "application/scim+json"
        } else {
            "application/json"
        };
        req = req.header("content-type", content_type).body(b.to_string());
    }
    let resp = req.send().await.ok()?;
    let status = resp.status();
    let text = resp.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

impl TestServer {
    /// Creates a [`BusyOrg`] owned by `owner_email`.
    pub async fn busy_org(&self, owner_email: &str, name: &str) -> BusyOrg {
        let owner = self.token(owner_email, Some("Owner"), true);
        let expect = async |method: Method, path: String, body: Value, status: StatusCode| {
            let (st, res) = self.call(method, &path, Some(&owner), Some(body)).await;
            assert_eq!(st, status, "{path}: {res}");
            res
        };
        let org = expect(
            Method::POST,
            "/orgs".into(),
            serde_json::json!({"name": name}),
            StatusCode::CREATED,
        )
        .await;
        let org = org["id"].as_str().expect("org id").to_owned();
        let limits = serde_json::json!({"settings": {"invitations_per_hour": 10_000, "max_pending_invitations": 10_000}});
        expect(
            Method::PATCH,
            format!("/orgs/{org}"),
            limits,
            StatusCode::OK,
        )
        .await;
        let scim = expect(
            Method::POST,
            format!("/orgs/{org}/scim-tokens"),
            serde_json::json!({"description": name}),
            StatusCode::CREATED,
        )
        .await;
        let link = expect(
            Method::POST,
            format!("/orgs/{org}/invite-links"),
            serde_json::json!({"assignments": [{"role": "member"}]}),
            StatusCode::CREATED,
        )
        .await;
        let (_, me) = self.call(Method::GET, "/me", Some(&owner), None).await;
        BusyOrg {
            org,
            owner_id: me["user"]["id"].as_str().expect("user id").to_owned(),
            owner,
            scim_token: scim["token"].as_str().expect("SCIM token").to_owned(),
            link_token: link["token"].as_str().expect("link token").to_owned(),
        }
    }

    /// Runs `rollcall check-store` on the data directory (the server must be stopped, e.g. by
    /// [`TestServer::crash`]) and panics with its report unless the store is consistent.
    pub fn assert_store_consistent(&self, when: &str) {
        let out = Command::new(&self.cmd.0)
            .arg("check-store")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .output()
            .expect("run rollcall check-store");
        assert!(
            out.status.success(),
            "check-store {when}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends a SCIM request to `/scim/v2{path}` with `Authorization: Bearer {token}`; a body is
    /// sent as `application/scim+json`.
    pub async fn scim(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> ScimResponse {
        let body = body.map(|b| (b.to_string().into_bytes(), "application/scim+json"));
        self.scim_raw(method, path, token, body).await
    }

    /// Sends a SCIM request with raw bytes and their content type.
    pub async fn scim_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(Vec<u8>, &str)>,
    ) -> ScimResponse {
        let mut req = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((bytes, content_type)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        ScimResponse {
            status,
            headers,
            body,
        }
    }

    /// Creates an organization managed by `owner_email` and a SCIM token for it.
    pub async fn scim_org(&self, owner_email: &str, name: &str) -> ScimOrgSetup {
        let manager = self.token(owner_email, Some(name), true);
        let (st, org) = self
            .call(
                Method::POST,
                "/orgs",
                Some(&manager),
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{org}");
        let org = org["id"].as_str().expect("org id").to_owned();
        let (st, made) = self
            .call(
                Method::POST,
                &format!("/orgs/{org}/scim-tokens"),
                Some(&manager),
                Some(serde_json::json!({"description": "identity provider"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{made}");
        let scim_token = made["token"].as_str().expect("SCIM token").to_owned();
        ScimOrgSetup {
            org,
            manager,
            scim_token,
        }
    }
}

/// Spawns `rollcall serve` and waits for the address it reports.
fn spawn_and_wait(cmd: &mut Command) -> (Child, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn rollcall serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(url) = line.strip_prefix("rollcall listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not report its address");
    (child, base)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The server's table goes with it: the shared emulator keeps every table in memory for
        // the rest of the run.
        if let (Backend::Emulated { endpoint }, Some(table)) = (&self.backend, self.table.take()) {
            let endpoint = endpoint.clone();
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    let _ = rollcall_store_dynamodb::emulator_client(&endpoint)
                        .delete_table()
                        .table_name(&table)
                        .send()
                        .await;
                });
            })
            .join();
        }
    }
}

/// Percent-encodes a query-string value (everything but unreserved characters), e.g. a SCIM
/// filter: `format!("/Users?filter={}", url_encode(r#"userName eq "a+b@x.test""#))`.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The token carried by an accept link inside a mail body.
pub fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + "token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    )
}

async fn verify_ses_sender(endpoint: &str, sender: &str) {
    let client = Client::new();
    let resp = client
        .post(format!("{endpoint}/v2/email/identities"))
        .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=x")
        .json(&serde_json::json!({"EmailIdentity": sender}))
        .send()
        .await
        .expect("verify sender");
    assert!(
        resp.status().is_success() || resp.status() == StatusCode::CONFLICT,
        "verify sender: {}",
        resp.status()
    );
}

/// Mails recorded by moto's SES, normalized to `{to, subject, text, html}`.
async fn moto_sent_mail(http: &Client, endpoint: &str) -> Vec<Value> {
    let data: Value = http
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto data")
        .json()
        .await
        .expect("json");
    let mut out = Vec::new();
    let Some(regions) = data
        .get("ses")
        .and_then(|s| s.get("sent_messages").or(Some(s)))
    else {
        return out;
    };
    collect_messages(regions, &mut out);
    out
}

fn collect_messages(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(map)
            if map.contains_key("destinations") || map.contains_key("destination") =>
        {
            let to = map
                .get("destinations")
                .or(map.get("destination"))
                .cloned()
                .unwrap_or(Value::Null);
            let to = match &to {
                Value::Object(d) => d.get("ToAddresses").cloned().unwrap_or(to.clone()),
                _ => to,
            };
            out.push(serde_json::json!({
                "to": to.as_array().and_then(|a| a.first()).cloned().unwrap_or(to.clone()),
                "subject": map.get("subject").cloned().unwrap_or(Value::Null),
                "text": map.get("body").or(map.get("text")).cloned().unwrap_or(Value::Null),
                "html": map.get("html").cloned().unwrap_or(Value::Null),
            }));
        }
        Value::Object(map) => map.values().for_each(|x| collect_messages(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_messages(x, out)),
        _ => {}
    }
}
