//! The `list` Lambda function: the list routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_lambda::run(rollcall_lambda::FunctionGroup::List).await
}
