//! SDK failures → [`StoreError::Unavailable`] with a short message (the details go to the log).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rollcall_domain::ports::StoreError;

/// A request that failed at the service or on the way there.
pub fn service<E, R>(op: &str, e: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let what = match e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("service error");
            match se.err().message() {
                // A request the service refused as malformed: its message says what (no values).
                Some(m) if code == "ValidationException" => {
                    format!("{code}: {}", m.chars().take(200).collect::<String>())
                }
                _ => code.to_owned(),
            }
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "network failure".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request construction failed".to_owned(),
        _ => "request failed".to_owned(),
    };
    tracing::warn!(operation = op, error = %DisplayErrorContext(e), "DynamoDB request failed");
    StoreError::Unavailable(format!("{op}: {what}"))
}

/// A request that could not be built (a bug: a required field was missing).
pub fn build(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request construction failed: {e}"))
}
