pub mod conformance;
pub mod lambda_runtime;
pub mod server;
