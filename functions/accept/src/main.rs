//! The `accept` Lambda function: the accept routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_lambda::run(rollcall_lambda::FunctionGroup::Accept).await
}
