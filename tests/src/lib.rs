pub mod conformance;
pub mod dns;
pub mod lambda_runtime;
pub mod server;
pub mod soak;
