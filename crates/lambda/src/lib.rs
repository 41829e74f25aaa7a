//! The Lambda composition root the function binaries share: configuration from the environment
//! ([`config`]), one AWS SDK configuration, the DynamoDB store and SES, the use cases over them,
//! and one function group's router (`rollcall_api`) behind `lambda_http`. Each binary in
//! `functions/*` is one call to [`run`].

pub mod config;
pub mod mail_events;

pub use rollcall_api::FunctionGroup;

use crate::config::{Config, ConfigError};
use async_trait::async_trait;
use rollcall_api::{AppState, router_with_limit};
use rollcall_domain::ports::{
    InvitationEmail, MailError, Mailer, OsRandomness, SentMail, SystemClock,
};
use rollcall_domain::service::Service;
use rollcall_mail::SesMailer;
use std::sync::Arc;

/// Runs one function group on Lambda: JSON logs, configuration from the environment, the DynamoDB
/// store and SES, then the group's router behind `lambda_http`.
pub async fn run(group: FunctionGroup) -> Result<(), lambda_http::Error> {
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
    // One SDK configuration for both clients, with the retry budget and timeouts of
    // `rollcall_aws`: the environment and profile files are read once. Credentials are resolved
    // lazily, at the first call.
    let sdk = rollcall_aws::sdk_config().await;
    let store = rollcall_store_dynamodb::DynamoStore::from_sdk_config(&sdk, table);
    let mailer: Arc<dyn Mailer> = match mail {
        Some(mail) => Arc::new(
            SesMailer::from_sdk_config(&sdk, mail)
                .with_configuration_set(config.ses_configuration_set.clone()),
        ),
        None => Arc::new(NoMailer),
    };
    let service = Service::new(
        Arc::new(store),
        mailer,
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        config.service_config(),
    );
    // Only the manage function verifies domains (`POST /orgs/{org}/domains/{domain}/verify`); it
    // alone is built with the resolver (feature `dns`), so the other binaries stay small.
    #[cfg(feature = "dns")]
    let service = match group {
        FunctionGroup::Manage => {
            let dns = rollcall_dns::HickoryDns::new(config.dns_resolver).map_err(|reason| {
                ConfigError::Invalid {
                    name: "ROLLCALL_DNS_RESOLVER",
                    reason,
                }
            })?;
            service.with_dns(Arc::new(dns))
        }
        _ => service,
    };
    Ok(router_with_limit(
        group,
        AppState::new(service),
        config.max_body_bytes,
    ))
}

/// A mailer for functions that never send mail.
pub(crate) struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send_invitation(&self, _email: &InvitationEmail) -> Result<SentMail, MailError> {
        Err(MailError(
            "mail is not configured for this function (ROLLCALL_SENDER)".into(),
        ))
    }
}

/// JSON logs filtered by `ROLLCALL_LOG_LEVEL`, else `RUST_LOG`, else `info`: a level (`debug`) or
/// `target=level` directives (`info,rollcall_api=debug`). A value that does not parse is reported
/// and `info` is used.
pub(crate) fn init_json_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let configured = ["ROLLCALL_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    let parsed = configured.as_deref().map(|v| v.trim().parse::<Targets>());
    let filter = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        _ => Targets::new().with_default(tracing::Level::INFO),
    };
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_target(false)
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
    if let Some(Err(e)) = parsed {
        tracing::warn!(error = %e, "the log level setting does not parse; logging at info");
    }
}
