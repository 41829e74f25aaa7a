//! The `mail-events` function: SES delivery events (EventBridge, asynchronous invocation) recorded
//! as the invitation's `email_status` through [`Service::record_mail_event`].
//!
//! One event per invocation; per event one GetItem and at most one write (see
//! `rollcall_domain::service` `mail_events`). What the function answers:
//! - recorded, or nothing to do (a duplicate, an older message, a soft bounce, a closed or unknown
//!   invitation, an event type or mail that is not Rollcall's): success, with the outcome;
//! - an event that cannot be read: an invocation error `MalformedEvent`, logged at error level.
//!   Lambda retries an asynchronous invocation twice, then drops the event; each event is its own
//!   invocation, so a malformed one never holds up the others. The error (rather than a silent
//!   drop) makes the function's Errors alarm show that SES sends something Rollcall cannot read;
//! - an event that came before the invitation's send was recorded (`NotYetRecorded`) or a store
//!   failure (`StoreUnavailable`): an invocation error, so Lambda's retries (about 1 and 2 minutes
//!   later) record it.

use crate::config::{Config, ConfigError};
use crate::{NoMailer, init_json_tracing};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use rollcall_domain::ports::{OsRandomness, SystemClock};
use rollcall_domain::service::{MailEventOutcome, Service};
use rollcall_mail::{MalformedSesEvent, SesEvent, parse_ses_event};
use serde_json::{Value, json};
use std::sync::Arc;

/// Why an event was not handled; the invocation fails (and Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum MailEventError {
    /// The event is not an SES event Rollcall can read.
    #[error(transparent)]
    Malformed(#[from] MalformedSesEvent),
    /// The invitation's send is not recorded yet.
    #[error("the invitation's latest email is not recorded yet; retry later")]
    NotYetRecorded,
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

impl From<MailEventError> for Diagnostic {
    fn from(e: MailEventError) -> Self {
        let error_type = match &e {
            MailEventError::Malformed(_) => "MalformedEvent",
            MailEventError::NotYetRecorded => "NotYetRecorded",
            MailEventError::Store(_) => "StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Handles one EventBridge event: the outcome as JSON (`{"outcome": ..}`), or why it failed.
pub async fn handle(service: &Service, event: &Value) -> Result<Value, MailEventError> {
    let mail = match parse_ses_event(event) {
        Ok(SesEvent::Mail(m)) => m,
        Ok(SesEvent::Ignored(reason)) => {
            tracing::info!(reason, "event ignored");
            return Ok(json!({"outcome": "ignored", "reason": reason}));
        }
        Err(e) => {
            tracing::error!(error = %e, "malformed SES event dropped");
            return Err(e.into());
        }
    };
    match service.record_mail_event(&mail).await {
        Ok(MailEventOutcome::NotYetRecorded) => Err(MailEventError::NotYetRecorded),
        Ok(MailEventOutcome::Recorded(status)) => {
            Ok(json!({"outcome": "recorded", "email_status": status.as_str()}))
        }
        Ok(other) => Ok(json!({"outcome": other.as_str()})),
        Err(e) => {
            tracing::error!(error = %e, invitation = %mail.invitation_id, "mail event not recorded");
            Err(MailEventError::Store(e.message))
        }
    }
}

async fn build() -> Result<Service, ConfigError> {
    let config = Config::from_env()?;
    let table = config.table()?.to_owned();
    let sdk = rollcall_aws::sdk_config().await;
    let store = rollcall_store_dynamodb::DynamoStore::from_sdk_config(&sdk, table);
    Ok(Service::new(
        Arc::new(store),
        Arc::new(NoMailer),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        config.service_config(),
    ))
}

/// Runs the `mail-events` function on Lambda: JSON logs, configuration from the environment,
/// the DynamoDB store, then one [`handle`] per event.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    init_json_tracing();
    let service = match build().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(function = "mail-events", error = %e, "configuration error");
            return Err(Box::new(e));
        }
    };
    tracing::info!(function = "mail-events", "rollcall function starting");
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(service, &event.payload).await
    }))
    .await
}
