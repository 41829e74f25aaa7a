//! The local side of Rollcall: the one-process server and local identities. The `rollcall` binary
//! is a thin command line over this library; tests and benchmarks use it directly.

pub mod auth;
pub mod console;
pub mod local_auth;
pub mod oidc;
pub mod serve;

use clap::ValueEnum;

/// Where data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded file database in the data directory.
    Embedded,
    /// DynamoDB (`ROLLCALL_TABLE`, standard AWS SDK environment).
    Dynamodb,
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MailerKind {
    /// Files in the data directory, a log line, and `GET /_local/outbox`.
    Outbox,
    /// Amazon SES v2 (`ROLLCALL_SENDER`, standard AWS SDK environment).
    Ses,
}
