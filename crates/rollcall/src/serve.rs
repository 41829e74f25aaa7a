//! `rollcall serve`: every router in one process, with the chosen store and mailer.

use crate::local_auth::{LocalKey, authenticate};
use crate::{MailerKind, StoreKind};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rollcall_api::AppState;
use rollcall_domain::ports::{Mailer, OsRandomness, Store, SystemClock};
use rollcall_domain::service::{Service, ServiceConfig};
use rollcall_mail::{MailConfig, OutboxMailer, SesMailer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
}

/// Runs the local server until Ctrl-C or SIGTERM.
pub async fn run(opts: Options) -> Result<(), String> {
    init_logging();
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", opts.data_dir.display()))?;
    let key = LocalKey::load_or_create(&opts.data_dir)?;
    let accept_url = env_or(
        "ROLLCALL_ACCEPT_URL",
        &format!("http://{}/accept", opts.addr),
    );
    let mail_config = MailConfig {
        sender: env_or("ROLLCALL_SENDER", "rollcall@localhost"),
        product_name: env_or("ROLLCALL_PRODUCT_NAME", "Rollcall"),
        accept_url: accept_url.clone(),
    };

    // The AWS SDK configuration, read once if DynamoDB or SES is used.
    let sdk = tokio::sync::OnceCell::new();
    let aws =
        || sdk.get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()));
    let store: Arc<dyn Store> = match opts.store {
        StoreKind::Embedded => {
            let path = opts.data_dir.join("rollcall.redb");
            Arc::new(
                rollcall_store_embedded::EmbeddedStore::open(&path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            )
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
    let mailer: Arc<dyn Mailer> = match opts.mailer {
        MailerKind::Outbox => {
            let o = Arc::new(OutboxMailer::new(opts.data_dir.join("outbox"), mail_config));
            outbox = Some(o.clone());
            o
        }
        MailerKind::Ses => {
            required_env("ROLLCALL_SENDER")?;
            Arc::new(SesMailer::from_sdk_config(aws().await, mail_config))
        }
    };
    let service = Service::new(
        store,
        mailer,
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceConfig { accept_url },
    );
    let mut app = rollcall_api::all_routes(AppState { service });
    if let Some(outbox) = outbox {
        app = Router::new()
            .route("/_local/outbox", get(list_outbox))
            .with_state(outbox)
            .merge(app);
    }
    let app = app.layer(axum::middleware::from_fn(move |req, next| {
        authenticate(key.clone(), req, next)
    }));

    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(addr = %local, store = ?opts.store, mailer = ?opts.mailer, data_dir = %opts.data_dir.display(), "rollcall listening");
    println!("rollcall listening on http://{local}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
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
            let body = serde_json::json!({"error": {"code": "service_unavailable", "message": e.to_string()}});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
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
