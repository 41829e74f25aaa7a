//! `rollcall serve`: every router in one process, with the chosen store and mailer.

use crate::auth::{AuthMode, authenticate};
use crate::local_auth::LocalKey;
use crate::oidc::{OidcSettings, OidcVerifier};
use crate::{MailerKind, StoreKind};
use rollcall_domain::ErrorCode;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rollcall_api::{ApiError, AppState, REQUEST_ID_HEADER};
use rollcall_domain::ports::{Clock, Mailer, OsRandomness, Store, SystemClock};
use rollcall_domain::service::{Service, ServiceConfig};
use rollcall_mail::{MailConfig, OutboxMailer, SesMailer, SimulatedOutcome};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tower_http::timeout::{DeadlineBody, TimeoutError};

/// Default of `--header-read-timeout-secs` (`ROLLCALL_HEADER_READ_TIMEOUT_SECS`): how long a
/// client may take to send a request's head (request line and headers), counted from when the
/// connection is ready for it; then the connection is closed.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 30;

/// Default of `--body-read-timeout-secs` (`ROLLCALL_BODY_READ_TIMEOUT_SECS`): how long a client
/// may take to send a request's whole body, counted from the end of its head; then the request
/// is answered 408 `request_timeout` and the connection closed.
pub const DEFAULT_BODY_READ_TIMEOUT_SECS: u64 = 30;

/// How long `serve` waits for the requests in flight at shutdown before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the local server waits for a slow client (the Lambda functions never see a
/// connection: API Gateway reads the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTimeouts {
    /// Most time to receive a request's head.
    pub header: Duration,
    /// Most time to receive a request's body, from the end of its head.
    pub body: Duration,
}

impl Default for ReadTimeouts {
    fn default() -> Self {
        ReadTimeouts {
            header: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            body: Duration::from_secs(DEFAULT_BODY_READ_TIMEOUT_SECS),
        }
    }
}

/// What `serve` runs with.
pub struct Options {
    /// Listen address (port 0 picks a free one; the chosen address is printed).
    pub addr: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Store backend.
    pub store: StoreKind,
    /// Mail backend.
    pub mailer: MailerKind,
    /// Header and body read timeouts.
    pub timeouts: ReadTimeouts,
    /// The DNS server of domain verification; the system's configuration when `None`.
    pub dns_resolver: Option<SocketAddr>,
    /// An external OIDC issuer whose tokens are accepted instead of the local key's.
    pub oidc: Option<OidcSettings>,
    /// Serve the local sign-in (anyone signs in as anyone) on a non-loopback address and to any
    /// `Host`. Off by default: see [`local_sign_in_guard`].
    pub insecure_expose_local_sign_in: bool,
}

/// Runs the local server until Ctrl-C or SIGTERM.
pub async fn run(opts: Options) -> Result<(), String> {
    init_logging();
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", opts.data_dir.display()))?;
    let auth = match opts.oidc.clone() {
        Some(settings) => AuthMode::Oidc(Arc::new(OidcVerifier::discover(settings).await?)),
        None => AuthMode::Local(LocalKey::load_or_create(&opts.data_dir)?),
    };
    let guard_local_sign_in =
        matches!(auth, AuthMode::Local(_)) && !opts.insecure_expose_local_sign_in;
    if guard_local_sign_in && !opts.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address: the local sign-in lets anyone who reaches the server \
             sign in as anyone. Listen on 127.0.0.1, or verify a real identity provider's tokens \
             (--oidc-issuer), or pass --insecure-expose-local-sign-in for a throwaway demo",
            opts.addr
        ));
    }
    // Bound first, so the mails' default accept link names the real port (also with port 0).
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut link_addr = local;
    if link_addr.ip().is_unspecified() {
        link_addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let accept_url = env_or("ROLLCALL_ACCEPT_URL", &format!("http://{link_addr}/accept"));
    let mail_config = MailConfig {
        sender: env_or("ROLLCALL_SENDER", "rollcall@localhost"),
        product_name: env_or("ROLLCALL_PRODUCT_NAME", "Rollcall"),
        accept_url: accept_url.clone(),
    };

    // The AWS SDK configuration (the Lambda functions' retry budget and timeouts), read once if
    // DynamoDB or SES is used.
    let sdk = tokio::sync::OnceCell::new();
    let aws = || sdk.get_or_init(rollcall_aws::sdk_config);
    // The embedded store also serves the local event list (`GET /_local/events`).
    let mut embedded = None;
    let store: Arc<dyn Store> = match opts.store {
        StoreKind::Embedded => {
            let path = opts.data_dir.join("rollcall.redb");
            let e = Arc::new(
                rollcall_store_embedded::EmbeddedStore::open(&path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            );
            embedded = Some(e.clone());
            e
        }
        StoreKind::Dynamodb => {
            let table = required_env("ROLLCALL_TABLE")?;
            Arc::new(rollcall_store_dynamodb::DynamoStore::from_sdk_config(
                aws().await,
                table,
            ))
        }
    };
    let mut outbox = None;
    let mut mail_events = None;
    let mailer: Arc<dyn Mailer> = match opts.mailer {
        MailerKind::Outbox => {
            let (o, events) = OutboxMailer::new(opts.data_dir.join("outbox"), mail_config)
                .with_delivery_reports();
            let o = Arc::new(o);
            outbox = Some(o.clone());
            mail_events = Some(events);
            o
        }
        MailerKind::Ses => {
            required_env("ROLLCALL_SENDER")?;
            let configuration_set = std::env::var("ROLLCALL_SES_CONFIGURATION_SET")
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty());
            Arc::new(
                SesMailer::from_sdk_config(aws().await, mail_config)
                    .with_configuration_set(configuration_set),
            )
        }
    };
    let service = Service::new(
        store,
        mailer,
        local_clock()?,
        Arc::new(OsRandomness),
        ServiceConfig { accept_url },
    )
    .with_dns(Arc::new(rollcall_dns::HickoryDns::new(opts.dns_resolver)?));
    let console_auth = match &auth {
        AuthMode::Local(_) => crate::console::ConsoleAuth::Local,
        AuthMode::Oidc(issuer) => crate::console::ConsoleAuth::Oidc {
            issuer: issuer.issuer().to_owned(),
            client_id: issuer.client_id().to_owned(),
            connect_origins: issuer.browser_origins().to_vec(),
        },
    };
    let console = crate::console::router(
        crate::console::ConsoleOptions {
            auth: console_auth,
            outbox: outbox.is_some(),
        },
        auth.local_key().cloned(),
    );
    // The outbox's delivery reports go to the use case the `mail-events` function calls.
    if let Some(events) = mail_events {
        tokio::spawn(record_mail_events(service.clone(), events));
    }
    let mut app = console.merge(rollcall_api::all_routes(AppState::new(service)));
    // The outbox holds every organization's invitation mail: only with the local identity (the
    // server of one developer), never next to a real identity provider.
    if let (Some(outbox), AuthMode::Local(_)) = (outbox, &auth) {
        app = Router::new()
            .route("/_local/outbox", get(list_outbox))
            .route(
                "/_local/outbox/bounces",
                get(list_bounces).post(simulate_bounce),
            )
            .with_state(outbox)
            .merge(app);
    }
    // The membership events every organization's changes make, as the `events` function
    // publishes them in AWS: like the outbox, only with the local identity.
    if let (Some(store), AuthMode::Local(_)) = (embedded, &auth) {
        app = Router::new()
            .route("/_local/events", get(list_events))
            .with_state(store)
            .merge(app);
    }
    let mut app = app.layer(axum::middleware::from_fn(move |req, next| {
        authenticate(auth.clone(), req, next)
    }));
    if guard_local_sign_in {
        app = app.layer(axum::middleware::from_fn(local_sign_in_guard));
    }
    let app = app.layer(axum::middleware::from_fn_with_state(
        opts.timeouts.body,
        body_read_deadline,
    ));

    tracing::info!(addr = %local, store = ?opts.store, mailer = ?opts.mailer, data_dir = %opts.data_dir.display(), "rollcall listening");
    println!("rollcall listening on http://{local}");
    serve_connections(listener, app, opts.timeouts.header).await;
    Ok(())
}

/// `app` with the connection's peer address in every request's extensions (the source IP the
/// audit log records).
fn with_peer(
    app: Router,
    peer: std::net::SocketAddr,
) -> tower::util::MapRequest<
    Router,
    impl FnMut(hyper::Request<hyper::body::Incoming>) -> hyper::Request<hyper::body::Incoming> + Clone,
> {
    tower::ServiceExt::map_request(
        app,
        move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            req
        },
    )
}

/// Accepts connections until Ctrl-C or SIGTERM and serves each with HTTP/1.1, closing one whose
/// request head takes longer than `header_timeout` (hyper's header read timeout; `axum::serve`
/// has none). At shutdown, waits up to [`SHUTDOWN_GRACE`] for the requests in flight.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(with_peer(app.clone(), peer)),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at shutdown were cut off");
    }
}

/// With the local sign-in, anyone who can send a request can sign in as anyone; so the server
/// answers only requests addressed to this machine by a loopback name (`localhost`, `127.x.x.x`,
/// `[::1]`), and a web page that re-points its own host name at 127.0.0.1 (DNS rebinding) gets 421
/// `misdirected_request` instead of a same-origin door into the API.
async fn local_sign_in_guard(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::MisdirectedRequest,
        "This local server answers only requests to localhost, 127.0.0.1 or [::1]",
    )
    .into_response()
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Gives the request body a deadline (tower-http's [`DeadlineBody`], from the end of the head):
/// a body not received in time is answered 408 `request_timeout` with `Connection: close`,
/// whatever the handler made of the failed read.
async fn body_read_deadline(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let req = req.map(|body| {
        Body::new(DeadlineBody::new(timeout, body).map_err(move |e| {
            if e.is::<TimeoutError>() {
                flag.store(true, Ordering::Relaxed);
            }
            e
        }))
    });
    let response = next.run(req).await;
    if !timed_out.load(Ordering::Relaxed) {
        return response;
    }
    let mut late = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        format!(
            "The request body was not received within {} seconds",
            timeout.as_secs()
        ),
    )
    .into_response();
    if let Some(id) = response.headers().get(REQUEST_ID_HEADER) {
        late.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    }
    tracing::info!(status = %response.status(), "request body not received in time; answered 408");
    late.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    late
}

/// A local testing aid: `ROLLCALL_LOCAL_CLOCK_OFFSET_SECS` (signed seconds) shifts the clock of
/// the local server's service, so that a test can restart it on the same data directory "later"
/// and meet expired invitations. Sign-in tokens keep the real time. The Lambda functions never
/// read it.
const CLOCK_OFFSET_ENV: &str = "ROLLCALL_LOCAL_CLOCK_OFFSET_SECS";

fn local_clock() -> Result<Arc<dyn Clock>, String> {
    let Some(raw) = std::env::var(CLOCK_OFFSET_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(Arc::new(SystemClock));
    };
    let secs: i64 = raw
        .trim()
        .parse()
        .ok()
        .filter(|s: &i64| s.unsigned_abs() <= 10 * 365 * 86_400)
        .ok_or_else(|| {
            format!("{CLOCK_OFFSET_ENV} must be a number of seconds (at most ten years)")
        })?;
    tracing::warn!(
        offset_secs = secs,
        "the service's clock is shifted ({CLOCK_OFFSET_ENV})"
    );
    Ok(Arc::new(OffsetClock(chrono::Duration::seconds(secs))))
}

/// The system clock shifted by a fixed offset (see [`local_clock`]).
struct OffsetClock(chrono::Duration);

impl Clock for OffsetClock {
    fn now(&self) -> rollcall_domain::model::Timestamp {
        chrono::Utc::now() + self.0
    }
}

/// `rollcall create-table`.
pub async fn create_table() -> Result<(), String> {
    init_logging();
    let table = required_env("ROLLCALL_TABLE")?;
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    rollcall_store_dynamodb::create_table(&client, &table)
        .await
        .map_err(|e| format!("cannot create table {table}: {e}"))?;
    println!("table {table} is ready");
    Ok(())
}

async fn list_outbox(State(outbox): State<Arc<OutboxMailer>>) -> Response {
    match outbox.list().await {
        Ok(entries) => axum::Json(entries).into_response(),
        Err(e) => {
            let body = serde_json::json!({"error": {"code": ErrorCode::ServiceUnavailable.as_str(), "message": e.to_string()}});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// Most events `GET /_local/events` lists (the newest).
const LOCAL_EVENTS: usize = 1000;

/// `GET /_local/events`: the membership events of the newest audit entries, newest last, as
/// the `events` function would publish them.
async fn list_events(State(store): State<Arc<rollcall_store_embedded::EmbeddedStore>>) -> Response {
    match store.recent_audit_events(LOCAL_EVENTS).await {
        Ok(entries) => {
            let events: Vec<rollcall_domain::events::ProductEvent> = entries
                .iter()
                .flat_map(rollcall_domain::events::events_of)
                .collect();
            let skip = events.len().saturating_sub(LOCAL_EVENTS);
            axum::Json(&events[skip..]).into_response()
        }
        Err(e) => {
            let body = serde_json::json!({"error": {"code": ErrorCode::ServiceUnavailable.as_str(), "message": e.to_string()}});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// Feeds the outbox's delivery reports to [`Service::record_mail_event`], as SES and the
/// `mail-events` function do in AWS. A report that comes before the send is recorded (the
/// outbox reports as soon as the mail is written, before the invitation records its message id)
/// is tried again shortly, as Lambda retries the event.
async fn record_mail_events(
    service: Service,
    mut events: tokio::sync::mpsc::UnboundedReceiver<rollcall_domain::ports::MailEvent>,
) {
    use rollcall_domain::service::MailEventOutcome;
    while let Some(event) = events.recv().await {
        let service = service.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                match service.record_mail_event(&event).await {
                    Ok(MailEventOutcome::NotYetRecorded) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, invitation = %event.invitation_id, "simulated mail event not recorded");
                        return;
                    }
                }
            }
        });
    }
}

/// `POST /_local/outbox/bounces` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateBounce {
    email: String,
    /// `bounce` (the default), `complaint`, or `none` to deliver again.
    kind: Option<String>,
}

/// `POST /_local/outbox/bounces` `{"email", "kind": "bounce" | "complaint" | "none"}`: from now
/// on mail to that address is reported as a hard bounce or a complaint (or delivered again):
/// 200 with the simulated outcomes.
async fn simulate_bounce(
    State(outbox): State<Arc<OutboxMailer>>,
    body: Result<axum::Json<SimulateBounce>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let invalid = |message: &str| {
        let body = serde_json::json!({"error": {"code": ErrorCode::ValidationError.as_str(), "message": message}});
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    };
    let Ok(axum::Json(body)) = body else {
        return invalid(
            "the body must be {\"email\": ..., \"kind\": \"bounce\" | \"complaint\" | \"none\"}",
        );
    };
    if rollcall_domain::email::Email::parse(&body.email).is_none() {
        return invalid("`email` is not a valid email address");
    }
    let outcome = match body.kind.as_deref().unwrap_or("bounce") {
        "bounce" => Some(SimulatedOutcome::Bounce),
        "complaint" => Some(SimulatedOutcome::Complaint),
        "none" => None,
        _ => return invalid("`kind` must be bounce, complaint or none"),
    };
    outbox.simulate(&body.email, outcome);
    list_bounces(State(outbox)).await
}

/// `GET /_local/outbox/bounces`: the simulated outcomes by normalized address.
async fn list_bounces(State(outbox): State<Arc<OutboxMailer>>) -> Response {
    let map: std::collections::BTreeMap<_, _> = outbox.simulated().into_iter().collect();
    axum::Json(serde_json::json!({ "bounces": map })).into_response()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("the environment variable {name} is required"))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_host_names() {
        for ok in [
            "localhost",
            "localhost:3000",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "10.0.0.1:3000",
            "0.0.0.0",
            "[::2]:80",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
