//! The Lambda entry point shared by every function binary.

use crate::config::{Config, ConfigError};
use crate::{AppState, FunctionGroup, router_with_limit};
use async_trait::async_trait;
use rollcall_domain::ports::{InvitationEmail, MailError, Mailer, OsRandomness, SystemClock};
use rollcall_domain::service::Service;
use rollcall_mail::SesMailer;
use std::sync::Arc;

/// Runs one function group on Lambda: JSON logs, configuration from the environment, the DynamoDB
/// store and SES, then the group's router behind `lambda_http`.
pub async fn run_lambda(group: FunctionGroup) -> Result<(), lambda_http::Error> {
    init_json_tracing();
    let app = match build(group).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(function = group.as_str(), error = %e, "configuration error");
            return Err(Box::new(e));
        }
    };
    tracing::info!(function = group.as_str(), "rollcall function starting");
    lambda_http::run(app).await
}

async fn build(group: FunctionGroup) -> Result<axum::Router, ConfigError> {
    // Every setting is checked before any AWS client is configured.
    let config = Config::from_env()?;
    let table = config.table()?.to_owned();
    // Only the invite function sends mail; the others run without SES settings if they have none.
    let mail = match config.mail_config() {
        Ok(mail) => Some(mail),
        Err(e) if group == FunctionGroup::Invite => return Err(e),
        Err(_) => None,
    };
    // One SDK configuration for both clients: the environment and profile files are read once.
    // Credentials are resolved lazily, at the first call.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = rollcall_store_dynamodb::DynamoStore::from_sdk_config(&sdk, table);
    let mailer: Arc<dyn Mailer> = match mail {
        Some(mail) => Arc::new(SesMailer::from_sdk_config(&sdk, mail)),
        None => Arc::new(NoMailer),
    };
    let service = Service::new(
        Arc::new(store),
        mailer,
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        config.service_config(),
    );
    Ok(router_with_limit(
        group,
        AppState { service },
        config.max_body_bytes,
    ))
}

/// A mailer for functions that never send mail.
struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send_invitation(&self, _email: &InvitationEmail) -> Result<(), MailError> {
        Err(MailError(
            "mail is not configured for this function (ROLLCALL_SENDER)".into(),
        ))
    }
}

/// JSON logs filtered by `ROLLCALL_LOG_LEVEL`, else `RUST_LOG`, else `info`.
fn init_json_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("ROLLCALL_LOG_LEVEL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}
