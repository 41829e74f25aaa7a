//! The store conformance suite on the DynamoDB store, against a local emulator (moto).
//!
//! Reads `ROLLCALL_TEST_DYNAMODB_ENDPOINT` (e.g. `http://127.0.0.1:5123`; `scripts/test` and
//! `scripts/moto start` set it up). Unset: each test prints a notice and passes, except under
//! `CI`, where that is a failure. All cases share one table per run, named with a fresh UUID.

use rollcall_domain::ports::Store;
use rollcall_store_dynamodb::{DynamoStore, create_table, emulator_client};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The table of this run, created once.
static TABLE: OnceCell<String> = OnceCell::const_new();

/// A store on this run's table, or `None` (outside CI) when no emulator is configured.
async fn dynamo_store() -> Option<Arc<dyn Store>> {
    let Ok(endpoint) = std::env::var("ROLLCALL_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ROLLCALL_TEST_DYNAMODB_ENDPOINT is not set; CI must run the DynamoDB tests against moto (see scripts/test)"
        );
        eprintln!(
            "skipping: ROLLCALL_TEST_DYNAMODB_ENDPOINT is not set (start moto with scripts/moto start)"
        );
        return None;
    };
    let client = emulator_client(&endpoint);
    let setup = client.clone();
    let table = TABLE
        .get_or_init(|| async move {
            let table = format!("rollcall-conformance-{}", uuid::Uuid::now_v7().simple());
            create_table(&setup, &table)
                .await
                .expect("create the test table");
            table
        })
        .await;
    Some(Arc::new(DynamoStore::new(client, table.clone())))
}

rollcall_tests::store_conformance_tests!({
    let Some(store) = dynamo_store().await else {
        return;
    };
    std::future::ready(store)
});
