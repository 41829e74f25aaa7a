//! The `scim` Lambda function: SCIM 2.0 (`/scim/v2/...`) for identity providers.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rollcall_lambda::run(rollcall_lambda::FunctionGroup::Scim).await
}
