//! The `delete` Lambda function: the delete routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_lambda::run(rollcall_lambda::FunctionGroup::Delete).await
}
