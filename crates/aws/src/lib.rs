//! The one AWS SDK configuration every DynamoDB and SES client of Rollcall is built from (the
//! Lambda functions and `rollcall serve --store dynamodb / --mailer ses`): the standard
//! environment (region, credentials, `AWS_ENDPOINT_URL_*`), plus a bounded retry budget and
//! timeouts, so that a request meeting a failing dependency answers 503 well within the Lambda
//! timeout (15 s in `infra/template.yaml`), itself below API Gateway's 30 s integration limit.
//!
//! One SDK call (an operation: `PutItem`, `TransactWriteItems`, `SendEmail`, ...):
//!
//! - at most [`MAX_ATTEMPTS`] attempts, in the SDK's standard retry mode: throttling
//!   (`ProvisionedThroughputExceededException`, `ThrottlingException`, `TooManyRequestsException`),
//!   5xx answers, dropped connections and attempt timeouts are retried after an exponential
//!   backoff with full jitter starting at [`INITIAL_BACKOFF`] (at most [`MAX_BACKOFF`]);
//! - each attempt must connect within [`CONNECT_TIMEOUT`] and be answered within
//!   [`ATTEMPT_TIMEOUT`];
//! - the whole call, attempts and backoffs together, ends after [`OPERATION_TIMEOUT`].
//!
//! A call that exhausts this budget fails; the store maps that to `StoreError::Unavailable`, the
//! API to 503 `service_unavailable` with `Retry-After` (a failed `SendEmail` leaves the invitation
//! `email_status: failed` instead). A request stops at its first such failure.
//!
//! These values replace the SDK's environment settings (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`):
//! the budget is part of the service's contract with API Gateway, not a deployment knob.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use std::time::Duration;

/// Attempts of one SDK call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Upper bound of the first retry's (jittered) backoff; doubles per retry.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Largest backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Time to open a connection (TCP and TLS) to the service.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Time one attempt may take, from sending the request to the end of the answer. DynamoDB
/// answers in milliseconds and SES in a few hundred; an attempt that takes longer is treated as
/// lost and retried.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time one SDK call may take, all attempts and backoffs included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The retry budget: standard mode, [`MAX_ATTEMPTS`], [`INITIAL_BACKOFF`] to [`MAX_BACKOFF`].
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// Replaces [`ATTEMPT_TIMEOUT`] (milliseconds), for a local emulator only: moto handles one
/// request at a time and copies tables inside transactions, so under a parallel test suite one of
/// its answers can take seconds. Never set in a deployment.
pub const ATTEMPT_TIMEOUT_ENV: &str = "ROLLCALL_AWS_ATTEMPT_TIMEOUT_MS";
/// Replaces [`OPERATION_TIMEOUT`] (milliseconds), for a local emulator only (see
/// [`ATTEMPT_TIMEOUT_ENV`]).
pub const OPERATION_TIMEOUT_ENV: &str = "ROLLCALL_AWS_OPERATION_TIMEOUT_MS";

/// The timeouts: [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`] and [`OPERATION_TIMEOUT`] (the last two
/// replaced by [`ATTEMPT_TIMEOUT_ENV`] / [`OPERATION_TIMEOUT_ENV`] when set to a number).
pub fn timeout_config() -> TimeoutConfig {
    let from_env = |name: &str, default: Duration| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(default, Duration::from_millis)
    };
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(from_env(ATTEMPT_TIMEOUT_ENV, ATTEMPT_TIMEOUT))
        .operation_timeout(from_env(OPERATION_TIMEOUT_ENV, OPERATION_TIMEOUT))
        .build()
}

/// Loads the SDK configuration from the environment (read once per process; credentials are
/// resolved lazily, at the first call) with [`retry_config`] and [`timeout_config`].
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// The loader [`sdk_config`] uses, to set more before loading (e.g. a region in tests).
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_call_fits_the_operation_timeout_and_the_lambda_timeout() {
        // Every attempt timing out, with the largest backoffs, would take longer than the
        // operation timeout: the operation timeout is what bounds a call.
        let backoffs: Duration = (1..MAX_ATTEMPTS)
            .map(|n| (INITIAL_BACKOFF * 2u32.pow(n - 1)).min(MAX_BACKOFF))
            .sum();
        assert!(ATTEMPT_TIMEOUT * MAX_ATTEMPTS + backoffs >= OPERATION_TIMEOUT);
        // Two attempts (one retry) always fit.
        assert!(ATTEMPT_TIMEOUT * 2 + INITIAL_BACKOFF < OPERATION_TIMEOUT);
        // The Lambda timeout (infra/template.yaml, checked by the tests crate) is 15 s: three
        // exhausted calls fit, and it stays below API Gateway's 30 s.
        assert!(OPERATION_TIMEOUT * 3 <= Duration::from_secs(15));
    }

    #[tokio::test]
    async fn the_loaded_configuration_carries_the_budget() {
        let sdk = loader()
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let retry = sdk.retry_config().expect("retry config");
        assert_eq!(retry.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(retry.initial_backoff(), INITIAL_BACKOFF);
        let timeouts = sdk.timeout_config().expect("timeout config");
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
    }
}
