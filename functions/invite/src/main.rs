//! The `invite` Lambda function: the invite routes of the Rollcall API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_api::run_lambda(rollcall_api::FunctionGroup::Invite).await
}
