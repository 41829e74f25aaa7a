pub mod conformance;
pub mod dns;
pub mod faults;
pub mod lambda_runtime;
pub mod mail;
pub mod oidc_issuer;
pub mod server;
pub mod soak;
