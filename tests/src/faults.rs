//! A fault-injecting HTTP proxy on loopback, between a server (or a Lambda function) and the
//! DynamoDB/SES emulator: point `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2` at
//! [`FaultProxy::endpoint`], then [`FaultProxy::inject`] faults for a test's duration:
//!
//! - [`Fault::Throughput`] / [`Fault::Throttling`]: DynamoDB's throttling answers (400
//!   `ProvisionedThroughputExceededException` / `ThrottlingException`); SES gets its own (429
//!   `TooManyRequestsException`);
//! - [`Fault::ServerError`]: 500 (`InternalServerError` / `InternalFailure`);
//! - [`Fault::Drop`]: the connection is closed without an answer;
//! - [`Fault::Hang`]: no answer for a while (beyond the SDK's attempt timeout), then the connection
//!   is closed;
//! - [`Fault::Delay`]: a slow but real answer (forwarded after the delay).
//!
//! Every fault but [`Fault::Delay`] is injected *instead of* forwarding: the emulator never sees
//! the request, as when a throttled or failed request was not applied by the service.
//!
//! A rule fires for the next N matching requests, for a fraction of them, or for all of them;
//! it matches by service or by DynamoDB operation (`X-Amz-Target`) / SES v2 path. The proxy counts
//! every request per operation, the retries among them (the SDK's `amz-sdk-request: attempt=N`
//! header) and every fault it injected.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the proxy does instead of (or before) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// DynamoDB 400 `ProvisionedThroughputExceededException`; SES 429 `TooManyRequestsException`.
    Throughput,
    /// DynamoDB 400 `ThrottlingException`; SES 429 `TooManyRequestsException`.
    Throttling,
    /// 500 `InternalServerError` (DynamoDB) / `InternalFailure` (SES).
    ServerError,
    /// The connection is closed without an answer.
    Drop,
    /// No answer for this long, then the connection is closed (the request is not forwarded).
    Hang(Duration),
    /// The request is forwarded after this long and its answer returned.
    Delay(Duration),
}

impl Fault {
    /// A short name, for counts and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Throughput => "throughput_exceeded",
            Fault::Throttling => "throttling",
            Fault::ServerError => "server_error",
            Fault::Drop => "dropped_connection",
            Fault::Hang(_) => "hang",
            Fault::Delay(_) => "delay",
        }
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every request.
    All,
    /// Every DynamoDB request.
    DynamoDb,
    /// DynamoDB requests of these operations (`PutItem`, `TransactWriteItems`, ...).
    DynamoDbOps(Vec<&'static str>),
    /// Every SES v2 request (`/v2/email/...`).
    Ses,
}

/// How many of the matching requests a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Times {
    /// The next N matching requests.
    Next(u32),
    /// Each matching request with this probability (a seeded generator: runs repeat).
    Fraction(f64),
    /// Every matching request, until the rule is cleared.
    Always,
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Which requests.
    pub target: Target,
    /// What happens to them.
    pub fault: Fault,
    /// How many of them.
    pub times: Times,
}

impl Rule {
    /// A rule for `target`, `fault` and `times`.
    pub fn new(target: Target, fault: Fault, times: Times) -> Self {
        Rule {
            target,
            fault,
            times,
        }
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Requests received, per operation (`dynamodb:PutItem`, `ses:SendEmail`, ...).
    pub requests: BTreeMap<String, u64>,
    /// Requests that were the SDK's retries (attempt 2 or later).
    pub retries: u64,
    /// Faults injected, per [`Fault::name`].
    pub injected: BTreeMap<&'static str, u64>,
    /// Requests forwarded to the emulator.
    pub forwarded: u64,
}

impl Counts {
    /// All requests received.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// All faults injected.
    pub fn faults(&self) -> u64 {
        self.injected.values().sum()
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests ({} retries), {} forwarded, faults {:?}",
            self.total(),
            self.retries,
            self.forwarded,
            self.injected
        )
    }
}

struct RuleState {
    rule: Rule,
    left: Option<u32>,
}

struct State {
    rules: Vec<RuleState>,
    counts: Counts,
    rng: u64,
}

struct Shared {
    dynamodb: String,
    ses: String,
    http: reqwest::Client,
    state: Mutex<State>,
}

/// The proxy: listens on loopback until dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl FaultProxy {
    /// Starts a proxy forwarding DynamoDB requests to `dynamodb` and SES v2 requests
    /// (`/v2/email/...`) to `ses` (emulator URLs).
    pub async fn start(dynamodb: &str, ses: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fault proxy: listen on loopback");
        let addr = listener.local_addr().expect("fault proxy address");
        let shared = Arc::new(Shared {
            dynamodb: dynamodb.trim_end_matches('/').to_owned(),
            ses: ses.trim_end_matches('/').to_owned(),
            // No pooling: a connection the emulator closed is never reused by a forward.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("fault proxy client"),
            state: Mutex::new(State {
                rules: Vec::new(),
                counts: Counts::default(),
                rng: 0x9E37_79B9_7F4A_7C15,
            }),
        });
        let accept = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { handle(shared, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// Adds a rule (rules are tried in the order they were added; the first that fires wins).
    pub fn inject(&self, rule: Rule) {
        let left = match rule.times {
            Times::Next(n) => Some(n),
            _ => None,
        };
        self.state().rules.push(RuleState { rule, left });
    }

    /// Removes every rule: requests are forwarded again.
    pub fn clear(&self) {
        self.state().rules.clear();
    }

    /// What the proxy saw and did so far.
    pub fn counts(&self) -> Counts {
        self.state().counts.clone()
    }

    /// Forgets the counts.
    pub fn reset_counts(&self) {
        self.state().counts = Counts::default();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The operation of a request: `dynamodb:<X-Amz-Target operation>`, `ses:SendEmail` for SES v2's
/// outbound emails, else `ses:<path>` / `other:<path>`.
fn operation(req: &Request<Incoming>) -> (bool, String) {
    let path = req.uri().path();
    if path.starts_with("/v2/email") {
        let op = if path.starts_with("/v2/email/outbound-emails") {
            "SendEmail".to_owned()
        } else {
            path.to_owned()
        };
        return (true, format!("ses:{op}"));
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match target.split_once('.') {
        Some((_, op)) => (false, format!("dynamodb:{op}")),
        None => (false, format!("other:{path}")),
    }
}

fn matches(target: &Target, ses: bool, op: &str) -> bool {
    match target {
        Target::All => true,
        Target::DynamoDb => !ses,
        Target::DynamoDbOps(ops) => {
            !ses && ops.iter().any(|o| op.strip_prefix("dynamodb:") == Some(*o))
        }
        Target::Ses => ses,
    }
}

/// Picks the fault for a request (if any) and counts it.
fn decide(shared: &Shared, req: &Request<Incoming>) -> (bool, Option<Fault>) {
    let (ses, op) = operation(req);
    let retry = req
        .headers()
        .get("amz-sdk-request")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("attempt=")))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 1);
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    *st.counts.requests.entry(op.clone()).or_default() += 1;
    if retry {
        st.counts.retries += 1;
    }
    let mut chosen = None;
    let State { rules, rng, .. } = &mut *st;
    for r in rules.iter_mut() {
        if !matches(&r.rule.target, ses, &op) {
            continue;
        }
        let fires = match (r.rule.times, &mut r.left) {
            (Times::Next(_), Some(left)) if *left > 0 => {
                *left -= 1;
                true
            }
            (Times::Fraction(p), _) => {
                // xorshift64*
                *rng ^= *rng >> 12;
                *rng ^= *rng << 25;
                *rng ^= *rng >> 27;
                let x = rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
                (x as f64 / (1u64 << 53) as f64) < p
            }
            (Times::Always, _) => true,
            _ => false,
        };
        if fires {
            chosen = Some(r.rule.fault);
            break;
        }
    }
    if let Some(f) = chosen {
        *st.counts.injected.entry(f.name()).or_default() += 1;
    }
    (ses, chosen)
}

type Answer = Result<Response<Full<Bytes>>, Dropped>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    let (ses, fault) = decide(&shared, &req);
    match fault {
        None => forward(&shared, ses, req).await,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            forward(&shared, ses, req).await
        }
        Some(Fault::Drop) => Err(Dropped),
        Some(Fault::Hang(d)) => {
            tokio::time::sleep(d).await;
            Err(Dropped)
        }
        Some(f @ (Fault::Throughput | Fault::Throttling | Fault::ServerError)) => {
            // Read the request whole, as a service does before it answers.
            let _ = req.into_body().collect().await;
            Ok(error_answer(f, ses))
        }
    }
}

/// The error answer a service gives for `fault`, in its protocol: DynamoDB's JSON 1.0 `__type`,
/// SES v2's REST-JSON `x-amzn-ErrorType`.
fn error_answer(fault: Fault, ses: bool) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (status, kind, message) = match (fault, ses) {
        (Fault::Throughput, false) => (
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        (Fault::Throttling, false) => (
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "Throughput exceeds the current capacity of your table or index.",
        ),
        (_, false) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        ),
        (Fault::Throughput | Fault::Throttling, true) => (
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Too Many Requests",
        ),
        (_, true) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        ),
    };
    let mut builder = Response::builder()
        .status(status)
        .header("x-amzn-requestid", &request_id);
    let body = if ses {
        builder = builder
            .header("content-type", "application/json")
            .header("x-amzn-errortype", kind);
        serde_json::json!({ "message": message })
    } else {
        builder = builder.header("content-type", "application/x-amz-json-1.0");
        serde_json::json!({ "__type": kind, "message": message })
    };
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Forwards a request to the emulator and returns its answer; an emulator that cannot be reached
/// makes the proxy drop the connection.
async fn forward(shared: &Shared, ses: bool, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let upstream = if ses { &shared.ses } else { &shared.dynamodb };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let method =
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).map_err(|_| Dropped)?;
    let mut out = shared
        .http
        .request(method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let resp = out.send().await.map_err(|_| Dropped)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(|_| Dropped)?;
    shared
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .counts
        .forwarded += 1;
    let mut builder = Response::builder().status(status);
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    builder.body(Full::new(bytes)).map_err(|_| Dropped)
}
