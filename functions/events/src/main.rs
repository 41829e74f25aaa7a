//! The `events` Lambda function: the table's DynamoDB Stream to membership events on the stack's
//! EventBridge bus (see the library docs).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rollcall_fn_events::{BUS_ENV, EventBridge, handle};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Time kept back from the function's deadline to answer Lambda.
const ANSWER_RESERVE: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_tracing();
    let bus = match std::env::var(BUS_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => {
            tracing::error!(
                variable = BUS_ENV,
                "configuration error: {BUS_ENV} is not set"
            );
            return Err(format!("{BUS_ENV} is not set (the EventBridge bus to publish to)").into());
        }
    };
    // The SDK configuration of every Rollcall function: retry budget and timeouts.
    let sdk = rollcall_aws::sdk_config().await;
    let publisher = EventBridge::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
    tracing::info!(function = "events", "rollcall function starting");
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(ANSWER_RESERVE + rollcall_aws::OPERATION_TIMEOUT);
        let request_id = event.context.request_id.clone();
        match handle(publisher, &event.payload, budget).await {
            Ok(done) => {
                let c = done.counts;
                tracing::info!(
                    request_id = %request_id,
                    records = c.records,
                    skipped = c.skipped,
                    poison = c.poison,
                    events = c.events,
                    published = c.published,
                    put_events_calls = c.calls,
                    failed_records = c.failed_records,
                    "stream batch"
                );
                Ok::<Value, Error>(serde_json::to_value(done.response)?)
            }
            Err(e) => {
                tracing::error!(request_id = %request_id, error = %e, "stream batch failed as a whole");
                Err(Error::from(e))
            }
        }
    }))
    .await
}

/// JSON logs filtered by `ROLLCALL_LOG_LEVEL`, else `RUST_LOG`, else `info`: a level (`debug`) or
/// `target=level` directives, as the other functions (`crates/lambda`). A value that does not
/// parse is reported and `info` is used.
fn init_json_tracing() {
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
                .with_target(false)
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
    if let Some(Err(e)) = parsed {
        tracing::warn!(error = %e, "the log level setting does not parse; logging at info");
    }
}
