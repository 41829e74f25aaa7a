//! A Lambda Runtime API emulator on loopback: starts a built function binary the way Lambda does
//! (environment, `AWS_LAMBDA_RUNTIME_API`), feeds it API Gateway HTTP API (payload 2.0) events and
//! returns what the function answered, with its init time and peak memory.
//!
//! Implemented endpoints (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//! `GET /2018-06-01/runtime/invocation/next`, `POST .../invocation/{id}/response`,
//! `POST .../invocation/{id}/error`, `POST /2018-06-01/runtime/init/error`, and the two Extensions
//! API calls a runtime with a graceful-shutdown hook makes (`register`, `event/next`, which never
//! answers).
//!
//! Also here: [`AwsRecorder`], a loopback proxy in front of the AWS emulator recording the calls a
//! function makes as IAM authorizes them, and [`template`], which reads `infra/template.yaml` and
//! the permissions it grants each function.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use rollcall_domain::service::Claims;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Largest response payload Lambda accepts for a buffered invocation (6 MB), plus headroom.
const MAX_PAYLOAD: usize = 7 * 1024 * 1024;
/// Region reported to the function.
const REGION: &str = "us-east-1";
/// Account id in the function ARN and the request context.
const ACCOUNT: &str = "123456789012";
/// API id in the request context and host header.
const API_ID: &str = "rollcall01";

/// What went wrong while running a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

fn err(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}

/// Where built function binaries are: `ROLLCALL_FUNCTIONS_DIR`, else `target/debug` of this
/// workspace (honouring `CARGO_TARGET_DIR`).
pub fn functions_dir() -> PathBuf {
    if let Ok(p) = std::env::var("ROLLCALL_FUNCTIONS_DIR")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("debug")
}

/// The binary of a function group (`rollcall-<group>`) in `dir`: either `dir/rollcall-<group>`
/// (cargo's layout) or `dir/rollcall-<group>/bootstrap` (cargo-lambda's `target/lambda` layout).
pub fn function_binary(dir: &FsPath, group: &str) -> PathBuf {
    let name = format!("rollcall-{group}");
    let lambda_layout = dir.join(&name).join("bootstrap");
    if lambda_layout.is_file() {
        lambda_layout
    } else {
        dir.join(name)
    }
}

/// How the emulated Lambda runs a function.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB; informational, nothing is limited).
    pub memory_mb: u32,
    /// How long an invocation may take before the harness gives up (the function timeout).
    pub timeout: Duration,
    /// Extra environment (configuration, credentials, endpoints), applied after Lambda's own.
    pub env: Vec<(String, String)>,
}

impl LambdaConfig {
    /// A function named `name` with 256 MB, a 15 s timeout (as in `infra/template.yaml`) and no
    /// extra environment.
    pub fn new(name: impl Into<String>) -> Self {
        LambdaConfig {
            function_name: name.into(),
            memory_mb: 256,
            timeout: Duration::from_secs(15),
            env: Vec::new(),
        }
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// What the function reported for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../response`: the response payload.
    Response(Vec<u8>),
    /// `POST .../error`: the error type header and the error document.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
        /// The body (`{"errorType", "errorMessage"}`), or the raw text.
        body: Value,
    },
}

/// One event waiting for the function's `next` call.
struct Pending {
    request_id: String,
    payload: Vec<u8>,
    deadline_ms: u128,
}

/// State shared by the Runtime API handlers.
struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<Value>>,
    function_arn: String,
}

/// The Runtime API server of one function.
struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Pending>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    async fn start(function_arn: String) -> Result<RuntimeApi, HarnessError> {
        let (queue, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(rx),
            waiting: Mutex::new(HashMap::new()),
            first_next: watch::Sender::new(None),
            init_error: watch::Sender::new(None),
            function_arn,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2020-01-01/extension/register", post(extension_register))
            .route("/2020-01-01/extension/event/next", get(extension_next))
            .layer(DefaultBodyLimit::max(MAX_PAYLOAD))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| err(format!("cannot listen on loopback: {e}")))?;
        let addr = listener.local_addr().map_err(|e| err(e.to_string()))?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            shared,
            queue,
            task,
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The 24 hex digits of an X-Ray trace id, taken from a request id (padded with zeros).
fn trace_hex(request_id: &str) -> String {
    let hex: String = request_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(24)
        .collect();
    format!("{hex:0<24}")
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    s.first_next.send_if_modified(|v| {
        if v.is_none() {
            *v = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let pending = s.events.lock().await.recv().await;
    let Some(p) = pending else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the harness stopped").into_response();
    };
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", p.request_id.clone()),
        ("lambda-runtime-deadline-ms", p.deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            s.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{:08x}-{}",
                epoch_ms() / 1000,
                trace_hex(&p.request_id)
            ),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    }
    (StatusCode::OK, headers, p.payload).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown_request(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"errorType": "InvalidRequestID", "errorMessage": format!("unknown request id {id}")})),
    )
        .into_response()
}

/// Splits a streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`, as
/// `lambda_http::run_with_streaming_response` sends it) into the HTTP API response payload: a JSON
/// prelude, eight NUL bytes, then the raw body.
fn unstream(body: &[u8]) -> Vec<u8> {
    let sep = [0u8; 8];
    let Some(at) = body.windows(8).position(|w| w == sep) else {
        return body.to_vec();
    };
    let mut prelude: Value = serde_json::from_slice(&body[..at]).unwrap_or_else(|_| json!({}));
    let raw = &body[at + 8..];
    match std::str::from_utf8(raw) {
        Ok(text) => {
            prelude["body"] = json!(text);
            prelude["isBase64Encoded"] = json!(false);
        }
        Err(_) => {
            prelude["body"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
            prelude["isBase64Encoded"] = json!(true);
        }
    }
    serde_json::to_vec(&prelude).unwrap_or_default()
}

async fn response(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    let payload = if streaming {
        unstream(&body)
    } else {
        body.to_vec()
    };
    let waiter = s.waiting.lock().ok().and_then(|mut w| w.remove(&id));
    match waiter {
        Some(tx) => {
            let _ = tx.send(Outcome::Response(payload));
            accepted()
        }
        None => unknown_request(&id),
    }
}

fn error_document(headers: &HeaderMap, body: &[u8]) -> (String, Value) {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    (error_type, body)
}

async fn invocation_error(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, body) = error_document(&headers, &body);
    let waiter = s.waiting.lock().ok().and_then(|mut w| w.remove(&id));
    match waiter {
        Some(tx) => {
            let _ = tx.send(Outcome::Error { error_type, body });
            accepted()
        }
        None => unknown_request(&id),
    }
}

async fn init_error(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (error_type, body) = error_document(&headers, &body);
    s.init_error
        .send_replace(Some(json!({"errorType": error_type, "body": body})));
    accepted()
}

async fn extension_register(headers: HeaderMap) -> Response {
    let name = headers
        .get("lambda-extension-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("extension");
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()) {
        h.insert("lambda-extension-identifier", v);
    }
    (
        StatusCode::OK,
        h,
        axum::Json(
            json!({"functionName": name, "functionVersion": "$LATEST", "handler": "bootstrap"}),
        ),
    )
        .into_response()
}

async fn extension_next() -> Response {
    std::future::pending::<()>().await;
    StatusCode::OK.into_response()
}

/// An API Gateway HTTP API request, turned into a payload format 2.0 event by [`HttpEvent::payload`].
#[derive(Debug, Clone)]
pub struct HttpEvent {
    method: String,
    route: String,
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    claims: Option<Claims>,
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HttpEvent {
    /// A request to the route `route` (API Gateway syntax, e.g. `/orgs/{org}/users/{usr}`) with the
    /// values of its path parameters.
    pub fn new(method: &str, route: &str, params: &[(&str, &str)]) -> Self {
        HttpEvent {
            method: method.to_ascii_uppercase(),
            route: route.to_owned(),
            path_params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            claims: None,
        }
    }

    /// Signed in: the JWT authorizer's claims (and an `authorization` header, as the client sent).
    pub fn claims(mut self, claims: &Claims) -> Self {
        self.claims = Some(claims.clone());
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds a request header (names are lowercased, as API Gateway does).
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.headers
            .push((key.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// A JSON body with its content type.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    /// A raw body (sent base64-encoded when it is not UTF-8, as API Gateway does).
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// `METHOD /route`, API Gateway's route key.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.route)
    }

    /// The request path with the parameters filled in.
    pub fn raw_path(&self) -> String {
        let mut path = self.route.clone();
        for (k, v) in &self.path_params {
            path = path.replace(&format!("{{{k}}}"), &encode(v));
        }
        path
    }

    /// The payload format 2.0 event API Gateway would send for this request.
    pub fn payload(&self, request_id: &str) -> Value {
        let domain = format!("{API_ID}.execute-api.{REGION}.amazonaws.com");
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!(domain));
        headers.insert("user-agent".into(), json!("rollcall-tests/1.0"));
        headers.insert("x-forwarded-for".into(), json!("203.0.113.7"));
        headers.insert("x-forwarded-port".into(), json!("443"));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        headers.insert(
            "x-amzn-trace-id".into(),
            json!(format!("Root=1-00000000-{}", trace_hex(request_id))),
        );
        if self.claims.is_some() {
            headers.insert(
                "authorization".into(),
                json!("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            );
        }
        if let Some(b) = &self.body {
            headers.insert("content-length".into(), json!(b.len().to_string()));
        }
        // The request's own headers replace the defaults; API Gateway joins repeated ones with commas.
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &self.headers {
            let joined = match headers.get(k).and_then(Value::as_str) {
                Some(prev) if seen.contains(k) => format!("{prev},{v}"),
                _ => v.clone(),
            };
            seen.insert(k.clone());
            headers.insert(k.clone(), json!(joined));
        }
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut qsp = serde_json::Map::new();
        for (k, v) in &self.query {
            let joined = match qsp.get(k).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{v}"),
                None => v.clone(),
            };
            qsp.insert(k.clone(), json!(joined));
        }
        let now = epoch_ms();
        let mut context = json!({
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": API_ID,
            "http": {
                "method": self.method,
                "path": self.raw_path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "rollcall-tests/1.0"
            },
            "requestId": request_id,
            "routeKey": self.route_key(),
            "stage": "$default",
            "time": chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now as i64,
        });
        if let Some(c) = &self.claims {
            // The JWT authorizer passes every claim as a string ("true", not true).
            let mut claims = serde_json::Map::new();
            claims.insert("sub".into(), json!(c.sub));
            claims.insert("iss".into(), json!("https://issuer.example.test/"));
            claims.insert("aud".into(), json!("rollcall-tests"));
            claims.insert("token_use".into(), json!("id"));
            claims.insert("iat".into(), json!(((now / 1000) as u64).to_string()));
            claims.insert(
                "exp".into(),
                json!(((now / 1000) as u64 + 3600).to_string()),
            );
            if let Some(e) = &c.email {
                claims.insert("email".into(), json!(e));
                claims.insert(
                    "email_verified".into(),
                    json!(if c.email_verified { "true" } else { "false" }),
                );
            }
            if let Some(n) = &c.name {
                claims.insert("name".into(), json!(n));
            }
            context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route_key(),
            "rawPath": self.raw_path(),
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !qsp.is_empty() {
            event["queryStringParameters"] = Value::Object(qsp);
        }
        if !self.path_params.is_empty() {
            let params: serde_json::Map<String, Value> = self
                .path_params
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            event["pathParameters"] = Value::Object(params);
        }
        if let Some(b) = &self.body {
            match std::str::from_utf8(b) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }
}

/// A function's answer to an HTTP API event (payload format 2.0 response).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionResponse {
    /// `statusCode`.
    pub status: u16,
    /// `headers` (names lowercased; `multiValueHeaders` joined with commas).
    pub headers: BTreeMap<String, String>,
    /// `body`, base64-decoded when `isBase64Encoded`.
    pub body: Vec<u8>,
    /// The payload as the function sent it.
    pub raw: Value,
    /// From sending the event to receiving the response.
    pub duration: Duration,
    /// The invocation's request id (also the event's `requestContext.requestId`).
    pub request_id: String,
}

impl FunctionResponse {
    /// A header by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as JSON (`Value::Null` when empty, a string when it is not JSON).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn parse(
        payload: &[u8],
        duration: Duration,
        request_id: &str,
    ) -> Result<FunctionResponse, HarnessError> {
        let raw: Value = serde_json::from_slice(payload)
            .map_err(|e| err(format!("response payload is not JSON: {e}")))?;
        let status = raw["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| err(format!("response has no statusCode: {raw}")))?;
        let mut headers = BTreeMap::new();
        if let Some(h) = raw["headers"].as_object() {
            for (k, v) in h {
                headers.insert(
                    k.to_ascii_lowercase(),
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                );
            }
        }
        if let Some(h) = raw["multiValueHeaders"].as_object() {
            for (k, v) in h {
                let values: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect();
                if !values.is_empty() {
                    headers
                        .entry(k.to_ascii_lowercase())
                        .or_insert_with(|| values.join(","));
                }
            }
        }
        let text = raw["body"].as_str().unwrap_or("");
        let body = if raw["isBase64Encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| err(format!("bad base64 body: {e}")))?
        } else {
            text.as_bytes().to_vec()
        };
        Ok(FunctionResponse {
            status,
            headers,
            body,
            raw,
            duration,
            request_id: request_id.to_owned(),
        })
    }
}

/// Resource figures of a function process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionStats {
    /// Size of the binary, bytes.
    pub binary_bytes: u64,
    /// From spawning the process to its first `next` call (Lambda's init phase).
    pub init: Option<Duration>,
    /// Peak resident memory (`VmHWM`), KiB.
    pub peak_rss_kib: Option<u64>,
    /// Invocations answered.
    pub invocations: u32,
    /// Duration of the first invocation (cold: first connections, first TLS handshake if any).
    pub first_invocation: Option<Duration>,
}

/// A function binary running against the emulated Runtime API; killed on drop.
pub struct LambdaFunction {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// The binary started.
    pub binary: PathBuf,
    config: LambdaConfig,
    child: Child,
    api: RuntimeApi,
    spawned: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    stats: FunctionStats,
}

impl LambdaFunction {
    /// Starts the binary of `group` (see [`functions_dir`], [`function_binary`]).
    pub async fn start_group(
        group: &str,
        config: LambdaConfig,
    ) -> Result<LambdaFunction, HarnessError> {
        Self::start(function_binary(&functions_dir(), group), config).await
    }

    /// Starts `binary` with a clean Lambda-like environment plus `config.env`.
    pub async fn start(
        binary: PathBuf,
        config: LambdaConfig,
    ) -> Result<LambdaFunction, HarnessError> {
        if !binary.is_file() {
            return Err(err(format!(
                "{} not built: run `cargo build --bins` (or set ROLLCALL_FUNCTIONS_DIR)",
                binary.display()
            )));
        }
        let binary_bytes = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
        let name = config.function_name.clone();
        let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
        let api = RuntimeApi::start(arn).await?;
        let task_root = binary.parent().map(FsPath::to_path_buf).unwrap_or_default();
        let now = chrono::Utc::now();
        let mut cmd = Command::new(&binary);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!(
                    "{}/[$LATEST]{}",
                    now.format("%Y/%m/%d"),
                    uuid::Uuid::now_v7().simple()
                ),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION);
        if let Ok(bt) = std::env::var("RUST_BACKTRACE") {
            cmd.env("RUST_BACKTRACE", bt);
        }
        for (k, v) in &config.env {
            cmd.env(k, v);
        }
        cmd.current_dir(&task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", binary.display())))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect_lines(out, logs.clone());
        }
        if let Some(out) = child.stderr.take() {
            collect_lines(out, logs.clone());
        }
        let stats = FunctionStats {
            binary_bytes,
            ..FunctionStats::default()
        };
        Ok(LambdaFunction {
            name,
            binary,
            config,
            child,
            api,
            spawned,
            logs,
            stats,
        })
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn died(&mut self, status: ExitStatus, doing: &str) -> HarnessError {
        let init = self.api.shared.init_error.borrow().clone();
        let init = init
            .map(|e| format!("; init error {e}"))
            .unwrap_or_default();
        err(format!(
            "{} exited ({status}) {doing}{init}; output:\n{}",
            self.name,
            self.logs().join("\n")
        ))
    }

    /// Waits until the function asks for its first event; the time since spawning is its init
    /// duration.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, HarnessError> {
        if let Some(d) = self.stats.init {
            return Ok(d);
        }
        let mut first = self.api.shared.first_next.subscribe();
        let mut init_err = self.api.shared.init_error.subscribe();
        let give_up = Instant::now() + timeout;
        loop {
            if let Some(at) = *first.borrow_and_update() {
                let d = at.saturating_duration_since(self.spawned);
                self.stats.init = Some(d);
                return Ok(d);
            }
            if let Some(e) = init_err.borrow_and_update().clone() {
                return Err(err(format!(
                    "{} failed to initialize: {e}; output:\n{}",
                    self.name,
                    self.logs().join("\n")
                )));
            }
            if let Some(status) = self.exited() {
                return Err(self.died(status, "during init"));
            }
            if Instant::now() >= give_up {
                return Err(err(format!(
                    "{} did not ask for an event within {timeout:?}",
                    self.name
                )));
            }
            tokio::select! {
                _ = first.changed() => {}
                _ = init_err.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    /// Sends one raw event payload and waits for the function's outcome.
    pub async fn invoke_raw(
        &mut self,
        payload: &Value,
    ) -> Result<(Outcome, Duration), HarnessError> {
        self.wait_ready(Duration::from_secs(30)).await?;
        let request_id = uuid::Uuid::now_v7().to_string();
        self.invoke_with_id(
            &request_id,
            serde_json::to_vec(payload).map_err(|e| err(e.to_string()))?,
        )
        .await
    }

    async fn invoke_with_id(
        &mut self,
        request_id: &str,
        payload: Vec<u8>,
    ) -> Result<(Outcome, Duration), HarnessError> {
        let (tx, mut rx) = oneshot::channel();
        if let Ok(mut w) = self.api.shared.waiting.lock() {
            w.insert(request_id.to_owned(), tx);
        }
        let started = Instant::now();
        let deadline_ms = epoch_ms() + self.config.timeout.as_millis();
        self.api
            .queue
            .send(Pending {
                request_id: request_id.to_owned(),
                payload,
                deadline_ms,
            })
            .map_err(|_| err("the runtime API stopped"))?;
        loop {
            tokio::select! {
                r = &mut rx => {
                    let outcome = r.map_err(|_| err("the runtime API dropped the invocation"))?;
                    let d = started.elapsed();
                    self.stats.invocations += 1;
                    if self.stats.first_invocation.is_none() {
                        self.stats.first_invocation = Some(d);
                    }
                    return Ok((outcome, d));
                }
                _ = tokio::time::sleep(Duration::from_millis(20)) => {
                    if let Some(status) = self.exited() {
                        return Err(self.died(status, &format!("during invocation {request_id}")));
                    }
                    if started.elapsed() > self.config.timeout {
                        return Err(err(format!("{} timed out after {:?} on {request_id}", self.name, self.config.timeout)));
                    }
                }
            }
        }
    }

    /// Sends an HTTP API request and returns the function's HTTP response; an invocation error
    /// (the function failed instead of answering) is an `Err`.
    pub async fn invoke(&mut self, event: &HttpEvent) -> Result<FunctionResponse, HarnessError> {
        self.wait_ready(Duration::from_secs(30)).await?;
        let request_id = uuid::Uuid::now_v7().to_string();
        let payload =
            serde_json::to_vec(&event.payload(&request_id)).map_err(|e| err(e.to_string()))?;
        match self.invoke_with_id(&request_id, payload).await? {
            (Outcome::Response(body), d) => FunctionResponse::parse(&body, d, &request_id),
            (Outcome::Error { error_type, body }, _) => Err(err(format!(
                "{} reported an invocation error {error_type}: {body}; output:\n{}",
                self.name,
                self.logs().join("\n")
            ))),
        }
    }

    /// Peak resident memory of the process so far (`VmHWM` of `/proc/<pid>/status`), KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Lines the function wrote to stdout and stderr so far (what CloudWatch Logs would hold).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Figures so far (peak memory read now).
    pub fn stats(&self) -> FunctionStats {
        FunctionStats {
            peak_rss_kib: self.peak_rss_kib(),
            ..self.stats
        }
    }

    /// Reads the final figures (peak memory before the process goes), then kills the process and
    /// stops its Runtime API.
    pub fn stop(mut self) -> FunctionStats {
        let stats = self.stats();
        let _ = self.child.kill();
        let _ = self.child.wait();
        stats
    }
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One AWS API call as IAM authorizes it: the action (`dynamodb:PutItem`; each item of a
/// `TransactWriteItems` counts as its own action) and the resource kind (`table`, `index/GSI1`,
/// `identity:<from address>`).
pub type AwsCall = (String, String);

/// A loopback HTTP proxy in front of an AWS emulator that records the calls going through it, so
/// a test can compare what a function really did with what its IAM policy allows.
pub struct AwsRecorder {
    /// `http://127.0.0.1:<port>`, to use as `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2`.
    pub endpoint: String,
    calls: Arc<Mutex<Vec<AwsCall>>>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct RecorderState {
    upstream: String,
    ses_upstream: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<AwsCall>>>,
}

impl AwsRecorder {
    /// Starts a recorder forwarding to `upstream` (e.g. the moto endpoint).
    pub async fn start(upstream: &str) -> Result<AwsRecorder, HarnessError> {
        Self::start_split(upstream, upstream).await
    }

    /// Starts a recorder forwarding SES v2 calls (`/v2/email/...`) to `ses_upstream` and the rest
    /// to `upstream`.
    pub async fn start_split(
        upstream: &str,
        ses_upstream: &str,
    ) -> Result<AwsRecorder, HarnessError> {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = RecorderState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            ses_upstream: ses_upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            calls: calls.clone(),
        };
        let app = Router::new()
            .fallback(forward)
            .layer(DefaultBodyLimit::max(MAX_PAYLOAD))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| err(format!("cannot listen on loopback: {e}")))?;
        let addr = listener.local_addr().map_err(|e| err(e.to_string()))?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(AwsRecorder {
            endpoint: format!("http://{addr}"),
            calls,
            task,
        })
    }

    /// The calls recorded so far, in order.
    pub fn calls(&self) -> Vec<AwsCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for AwsRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The IAM view of one request: DynamoDB's JSON protocol (`X-Amz-Target`) or SES v2's REST paths.
fn classify(headers: &HeaderMap, path: &str, body: &[u8]) -> Vec<AwsCall> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        let table_or_index = |d: &Value| match d["IndexName"].as_str() {
            Some(i) => format!("index/{i}"),
            None => "table".to_owned(),
        };
        return match op {
            "TransactWriteItems" | "TransactGetItems" => doc["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|it| {
                    let kind = it.as_object()?.keys().next()?.clone();
                    let action = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        "ConditionCheck" => "ConditionCheckItem",
                        "Get" => "GetItem",
                        other => other,
                    };
                    Some((format!("dynamodb:{action}"), "table".to_owned()))
                })
                .collect(),
            _ => vec![(format!("dynamodb:{op}"), table_or_index(&doc))],
        };
    }
    if path.starts_with("/v2/email/outbound-emails") {
        let from = doc["FromEmailAddress"].as_str().unwrap_or("?");
        return vec![("ses:SendEmail".to_owned(), format!("identity:{from}"))];
    }
    vec![(format!("unknown:{target}{path}"), String::new())]
}

async fn forward(State(s): State<RecorderState>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_PAYLOAD).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if let Ok(mut c) = s.calls.lock() {
        c.extend(classify(&parts.headers, parts.uri.path(), &body));
    }
    let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
        return (StatusCode::METHOD_NOT_ALLOWED, "method").into_response();
    };
    let upstream = if parts.uri.path().starts_with("/v2/email") {
        &s.ses_upstream
    } else {
        &s.upstream
    };
    let mut out = s
        .http
        .request(method, format!("{upstream}{path_and_query}"));
    for (k, v) in &parts.headers {
        if !matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let resp = match out.body(body.to_vec()).send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for (k, v) in resp.headers() {
        if matches!(
            k.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            headers.append(k, v);
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    (status, headers, bytes.to_vec()).into_response()
}

/// Reading `infra/template.yaml` and the permissions it grants.
pub mod template {
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::process::Command;

    /// The repository root.
    pub fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// `.venv/bin/<tool>` of the repository, if installed (`./scripts/test` installs it).
    pub fn venv_tool(tool: &str) -> Option<PathBuf> {
        let p = repo_root().join(".venv").join("bin").join(tool);
        p.is_file().then_some(p)
    }

    /// Whether a missing tool is a failure (under CI) or a skip with a notice (elsewhere).
    pub fn require_tool(tool: &str) -> Option<PathBuf> {
        let found = venv_tool(tool);
        if found.is_none() {
            assert!(
                std::env::var("CI").is_err(),
                ".venv/bin/{tool} is missing under CI: run the suite with ./scripts/test"
            );
            eprintln!(
                "notice: .venv/bin/{tool} missing; template checks skipped (./scripts/test installs it)"
            );
        }
        found
    }

    /// The SAM template as JSON, CloudFormation's short tags in their long form (`!Ref X` as
    /// `{"Ref": "X"}`, `!GetAtt T.Arn` as `{"Fn::GetAtt": ["T", "Arn"]}`), read with cfn-lint's
    /// own YAML loader from `.venv` (so it is exactly what cfn-lint checks).
    pub fn load(python: &std::path::Path) -> Result<Value, String> {
        let path = repo_root().join("infra").join("template.yaml");
        let out = Command::new(python)
            .arg("-c")
            .arg("import json, sys\nfrom cfnlint.decode import cfn_yaml\nprint(json.dumps(cfn_yaml.load(sys.argv[1])))")
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "cannot read {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("template JSON: {e}"))
    }

    /// The `AWS::Serverless::Function` resources by logical id.
    pub fn functions(t: &Value) -> BTreeMap<String, Value> {
        t["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect()
    }

    /// The logical id of the function built from binary `rollcall-<group>`.
    pub fn function_of_group(t: &Value, group: &str) -> Option<String> {
        let binary = format!("rollcall-{group}");
        functions(t)
            .into_iter()
            .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == binary.as_str())
            .map(|(k, _)| k)
    }

    fn list(v: &Value) -> Vec<Value> {
        match v {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }
    }

    /// The resource kind of a policy resource: `table`, `index/<name>`, `identity:sender`
    /// (the sender address or its domain), `configuration-set` (the stack's SES configuration
    /// set), else `unrecognized:<json>`.
    pub fn resource_kind(r: &Value) -> String {
        if r["Fn::GetAtt"] == serde_json::json!(["Table", "Arn"]) {
            return "table".to_owned();
        }
        let ses_prefix = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/";
        match &r["Fn::Sub"] {
            Value::String(s) => {
                if let Some(index) = s.strip_prefix("${Table.Arn}/index/") {
                    return format!("index/{index}");
                }
                if s.strip_prefix(ses_prefix) == Some("${SenderAddress}") {
                    return "identity:sender".to_owned();
                }
                if s == "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${MailConfigurationSet}"
                {
                    return "configuration-set".to_owned();
                }
            }
            Value::Array(a) if a.len() == 2 => {
                let domain_of_sender = serde_json::json!({"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderAddress"}]}]});
                if let (Some(s), Some(vars)) = (a[0].as_str(), a[1].as_object())
                    && let Some(var) = s
                        .strip_prefix(ses_prefix)
                        .and_then(|v| v.strip_prefix("${"))
                        .and_then(|v| v.strip_suffix('}'))
                    && vars.get(var) == Some(&domain_of_sender)
                {
                    return "identity:sender".to_owned();
                }
            }
            _ => {}
        }
        format!("unrecognized:{r}")
    }

    /// Every (action, resource kind) a function's policies allow. Only inline `Statement`
    /// policies with `Effect: Allow` are understood; anything else (a managed policy, a SAM policy
    /// template, a wildcard) is returned as an `unrecognized:` entry so a check fails on it.
    pub fn permissions(function: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for policy in list(&function["Properties"]["Policies"]) {
            let Some(statements) = policy.get("Statement") else {
                out.insert((format!("unrecognized:{policy}"), String::new()));
                continue;
            };
            for st in list(statements) {
                // Denies take nothing away from what is allowed here; the audit log's deny is
                // checked by its own test.
                if st["Effect"] == "Deny" {
                    continue;
                }
                if st["Effect"] != "Allow"
                    || st.get("NotAction").is_some()
                    || st.get("NotResource").is_some()
                {
                    out.insert((format!("unrecognized:{st}"), String::new()));
                    continue;
                }
                for action in list(&st["Action"]) {
                    let action = action
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("unrecognized:{action}"));
                    for r in list(&st["Resource"]) {
                        out.insert((action.clone(), resource_kind(&r)));
                    }
                }
            }
        }
        out
    }
}

fn collect_lines(out: impl Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut s) = sink.lock() {
                s.push(line);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "sub-1".into(),
            email: Some("a@example.test".into()),
            email_verified: true,
            name: Some("A".into()),
        }
    }

    #[test]
    fn event_has_the_shape_api_gateway_sends() {
        let e = HttpEvent::new(
            "post",
            "/orgs/{org}/users/{usr}",
            &[("org", "org_1"), ("usr", "usr 2")],
        )
        .claims(&claims())
        .query("q", "a b")
        .query("q", "c")
        .json(&json!({"x": 1}));
        let p = e.payload("0f0e0d0c-0b0a-0908-0706-050403020100");
        assert_eq!(p["version"], "2.0");
        assert_eq!(p["routeKey"], "POST /orgs/{org}/users/{usr}");
        assert_eq!(p["rawPath"], "/orgs/org_1/users/usr%202");
        assert_eq!(p["pathParameters"]["usr"], "usr 2");
        assert_eq!(p["rawQueryString"], "q=a%20b&q=c");
        assert_eq!(p["queryStringParameters"]["q"], "a b,c");
        assert_eq!(p["requestContext"]["http"]["method"], "POST");
        assert_eq!(
            p["requestContext"]["authorizer"]["jwt"]["claims"]["email_verified"],
            "true"
        );
        assert_eq!(p["headers"]["content-type"], "application/json");
        assert_eq!(p["body"], "{\"x\":1}");
        assert_eq!(p["isBase64Encoded"], false);
        let anonymous = HttpEvent::new("GET", "/invitations/{token}", &[("token", "t")])
            .payload("0f0e0d0c-0b0a-0908-0706-050403020100");
        assert!(anonymous["requestContext"].get("authorizer").is_none());
        assert!(anonymous["headers"].get("authorization").is_none());
    }

    #[test]
    fn responses_are_decoded() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"x-a": ["1", "2"]},
            "body": base64::engine::general_purpose::STANDARD.encode(b"{\"ok\":true}"),
            "isBase64Encoded": true
        });
        let r =
            FunctionResponse::parse(payload.to_string().as_bytes(), Duration::ZERO, "r").unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("X-A"), Some("1,2"));
        assert_eq!(r.json(), json!({"ok": true}));
    }

    #[test]
    fn streamed_responses_are_reassembled() {
        let mut body = br#"{"statusCode":200,"headers":{"a":"b"}}"#.to_vec();
        body.extend_from_slice(&[0; 8]);
        body.extend_from_slice(b"hello");
        let r = FunctionResponse::parse(&unstream(&body), Duration::ZERO, "r").unwrap();
        assert_eq!(
            (r.status, r.text().as_str(), r.header("a")),
            (200, "hello", Some("b"))
        );
    }

    #[tokio::test]
    async fn the_runtime_api_hands_out_events_and_collects_outcomes() {
        let api = RuntimeApi::start("arn:aws:lambda:us-east-1:123456789012:function:f".into())
            .await
            .unwrap();
        let base = format!("http://{}/2018-06-01/runtime", api.addr);
        let http = reqwest::Client::new();
        let (tx, rx) = oneshot::channel();
        api.shared.waiting.lock().unwrap().insert("id-1".into(), tx);
        api.queue
            .send(Pending {
                request_id: "id-1".into(),
                payload: b"{}".to_vec(),
                deadline_ms: 1,
            })
            .unwrap();
        let next = http
            .get(format!("{base}/invocation/next"))
            .send()
            .await
            .unwrap();
        assert_eq!(next.headers()["lambda-runtime-aws-request-id"], "id-1");
        assert_eq!(next.headers()["lambda-runtime-deadline-ms"], "1");
        assert!(
            next.headers()
                .contains_key("lambda-runtime-invoked-function-arn")
        );
        assert_eq!(next.text().await.unwrap(), "{}");
        assert!(api.shared.first_next.borrow().is_some());
        let r = http
            .post(format!("{base}/invocation/id-1/error"))
            .header("lambda-runtime-function-error-type", "Runtime.Unhandled")
            .body(r#"{"errorType":"E","errorMessage":"boom"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        match rx.await.unwrap() {
            Outcome::Error { error_type, body } => {
                assert_eq!(error_type, "Runtime.Unhandled");
                assert_eq!(body["errorMessage"], "boom");
            }
            other => panic!("{other:?}"),
        }
        let unknown = http
            .post(format!("{base}/invocation/nope/response"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 400);
        let init = http
            .post(format!("{base}/init/error"))
            .body(r#"{"errorMessage":"no config"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(init.status(), 202);
        assert!(
            api.shared
                .init_error
                .borrow()
                .as_ref()
                .is_some_and(|e| e.to_string().contains("no config"))
        );
    }
}
