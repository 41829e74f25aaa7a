//! The Store port on one DynamoDB table.
//!
//! Key design (all formats in [`keys`], described in `docs/data-model.md`): one on-demand table
//! with string keys `PK`/`SK` and three overloaded GSIs; uniqueness by claim items written with
//! `attribute_not_exists` inside `TransactWriteItems`; counters as items updated in the same
//! transactions with conditions; TTL on terminal invitations. Every method is a small fixed number
//! of GetItem / Query / BatchGetItem / TransactWriteItems / PutItem / UpdateItem / DeleteItem calls
//! (never a Scan), counted in [`CallCounts`].

mod audit;
mod cursor;
mod domains;
mod errors;
mod expr;
mod item;
pub mod keys;
mod read;
mod store;
mod table;
mod tx;

pub use audit::audit_event_from_stream_image;
pub use table::create_table;

use aws_sdk_dynamodb::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls made to DynamoDB, by operation (each SDK call counts once, whatever its internal retries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// GetItem.
    pub get: u64,
    /// Query.
    pub query: u64,
    /// BatchGetItem.
    pub batch_get: u64,
    /// TransactWriteItems.
    pub transact: u64,
    /// PutItem.
    pub put: u64,
    /// UpdateItem.
    pub update: u64,
    /// DeleteItem.
    pub delete: u64,
}

impl CallCounts {
    /// All calls together.
    pub fn total(&self) -> u64 {
        self.get
            + self.query
            + self.batch_get
            + self.transact
            + self.put
            + self.update
            + self.delete
    }
}

#[derive(Debug, Default)]
struct Counters {
    get: AtomicU64,
    query: AtomicU64,
    batch_get: AtomicU64,
    transact: AtomicU64,
    put: AtomicU64,
    update: AtomicU64,
    delete: AtomicU64,
}

/// The DynamoDB store: a client, the table name, and call counters.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    counts: Arc<Counters>,
    /// The audit entry the write that completes the next change of this handle puts in its
    /// transaction ([`rollcall_domain::ports::Store::audited`]).
    audit: Option<Arc<rollcall_domain::audit::AuditEvent>>,
}

impl DynamoStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: String) -> Self {
        DynamoStore {
            client,
            table,
            counts: Arc::new(Counters::default()),
            audit: None,
        }
    }

    /// A store on `table` with Rollcall's AWS SDK configuration from the environment (region,
    /// credentials, and `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` for an emulator; the
    /// retry budget and timeouts of `rollcall_aws`).
    pub async fn from_env(table: String) -> Self {
        Self::from_sdk_config(&rollcall_aws::sdk_config().await, table)
    }

    /// A store on `table` with a loaded AWS SDK configuration (shared with the other clients of
    /// a process, so it is read once).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: String) -> Self {
        Self::new(Client::new(config), table)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls made so far (since creation or the last [`DynamoStore::reset_calls`]).
    pub fn calls(&self) -> CallCounts {
        let c = &self.counts;
        CallCounts {
            get: c.get.load(Ordering::Relaxed),
            query: c.query.load(Ordering::Relaxed),
            batch_get: c.batch_get.load(Ordering::Relaxed),
            transact: c.transact.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
            update: c.update.load(Ordering::Relaxed),
            delete: c.delete.load(Ordering::Relaxed),
        }
    }

    /// Sets every call counter back to zero.
    pub fn reset_calls(&self) {
        let c = &self.counts;
        for a in [
            &c.get,
            &c.query,
            &c.batch_get,
            &c.transact,
            &c.put,
            &c.update,
            &c.delete,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }
}

/// A client for a local emulator (moto) at `endpoint_url`, with fixed dummy credentials and region
/// `us-east-1`; for tests and local runs only.
pub fn emulator_client(endpoint_url: &str) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .build();
    Client::from_conf(config)
}
