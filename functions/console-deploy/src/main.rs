//! The console deployer Lambda function: a CloudFormation custom resource that writes the embedded
//! console and its `console-config.json` to the console bucket (see the library docs).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Time kept back from the function's deadline to answer CloudFormation.
const ANSWER_RESERVE: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_tracing();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let s3 = s3.clone();
        async move {
            let budget = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(ANSWER_RESERVE)
                .max(Duration::from_secs(1));
            let outcome = rollcall_fn_console_deploy::handle(
                &s3,
                event.payload,
                rollcall_console::files(),
                budget,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot answer CloudFormation");
                Error::from(e)
            })?;
            Ok::<Value, Error>(serde_json::json!({"Status": outcome.status}))
        }
    }))
    .await
}

fn init_json_tracing() {
    let level = std::env::var("ROLLCALL_LOG_LEVEL")
        .ok()
        .and_then(|v| v.trim().parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(level)
        .without_time()
        .try_init();
}
