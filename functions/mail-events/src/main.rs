//! The `mail-events` Lambda function: SES delivery, bounce and complaint events (from the
//! configuration set's EventBridge destination) recorded as the invitation's email status.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollcall_lambda::mail_events::run().await
}
