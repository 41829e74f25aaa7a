//! The `accept` Lambda function: the accept routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_api::run_lambda(rollcall_api::FunctionGroup::Accept).await
}
