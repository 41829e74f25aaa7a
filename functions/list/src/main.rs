//! The `list` Lambda function: the list routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_api::run_lambda(rollcall_api::FunctionGroup::List).await
}
