//! Table setup: the table with its indexes (on-demand), and TTL on `ttl`.

use crate::errors;
use crate::keys;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use rollcall_domain::ports::{StoreError, StoreResult};
use std::time::Duration;

/// How long [`create_table`] waits for the table to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

fn key_schema(pk: &str, sk: &str) -> StoreResult<Vec<KeySchemaElement>> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(pk)
            .key_type(KeyType::Hash)
            .build()
            .map_err(errors::build)?,
        KeySchemaElement::builder()
            .attribute_name(sk)
            .key_type(KeyType::Range)
            .build()
            .map_err(errors::build)?,
    ])
}

/// Creates `table` with its global secondary indexes (on-demand billing), waits until it is
/// active, and enables TTL on the `ttl` attribute. Does nothing that is already done, so it can be
/// run again on an existing table.
pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
    let mut attrs = vec![keys::PK, keys::SK];
    for i in keys::INDEXES {
        attrs.push(i.pk);
        attrs.push(i.sk);
    }
    let definitions = attrs
        .into_iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(errors::build)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let indexes = keys::INDEXES
        .into_iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(i.name)
                .set_key_schema(Some(key_schema(i.pk, i.sk)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(errors::build)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(keys::PK, keys::SK)?))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(table, "table created"),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            tracing::info!(table, "table exists")
        }
        Err(e) => return Err(errors::service("CreateTable", &e)),
    }
    wait_active(client, table).await?;
    enable_ttl(client, table).await
}

async fn wait_active(client: &Client, table: &str) -> StoreResult<()> {
    let start = std::time::Instant::now();
    loop {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| errors::service("DescribeTable", &e))?;
        let t = d.table();
        let table_active = t.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = t.is_some_and(|t| {
            t.global_secondary_indexes()
                .iter()
                .all(|i| i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active))
        });
        if table_active && indexes_active {
            return Ok(());
        }
        if start.elapsed() > ACTIVE_TIMEOUT {
            return Err(StoreError::Unavailable(format!(
                "table {table} did not become active"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn enable_ttl(client: &Client, table: &str) -> StoreResult<()> {
    let d = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| errors::service("DescribeTimeToLive", &e))?;
    let current = d.time_to_live_description();
    let status = current.and_then(|c| c.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        if current.and_then(|c| c.attribute_name()) != Some(keys::TTL) {
            tracing::warn!(
                table,
                "TTL is enabled on another attribute; terminal invitations will not expire"
            );
        }
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(keys::TTL)
        .build()
        .map_err(errors::build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| errors::service("UpdateTimeToLive", &e))?;
    Ok(())
}
