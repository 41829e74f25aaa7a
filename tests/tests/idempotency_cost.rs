//! What an `Idempotency-Key` costs on DynamoDB, through the router: a keyed POST makes the calls
//! of the same POST without a key plus one conditional PutItem (the claim) and one UpdateItem (the
//! kept answer); a replay is that one PutItem alone, whose failed condition returns the record.
//! Counts the DynamoDB store's calls (moto; skipped without the emulator).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use rollcall_api::{AppState, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
use rollcall_domain::ports::{OsRandomness, Store, SystemClock};
use rollcall_domain::service::{Claims, Service, ServiceConfig};
use rollcall_mail::{MailConfig, OutboxMailer};
use rollcall_store_dynamodb::{CallCounts, DynamoStore, create_table, emulator_client};
use rollcall_tests::server::emulator_endpoint;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;
use uuid::Uuid;

async fn post(
    router: &axum::Router,
    path: &str,
    who: &Claims,
    body: Value,
    key: Option<&str>,
) -> (StatusCode, bool, Value) {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        b = b.header(IDEMPOTENCY_KEY_HEADER, k);
    }
    let mut req = b.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut().insert(who.clone());
    let r = router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let replayed = r.headers().contains_key(IDEMPOTENT_REPLAYED_HEADER);
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        replayed,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_keyed_post_costs_one_conditional_write_more() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let client = emulator_client(&endpoint);
    let table = format!("rollcall-idem-cost-{}", Uuid::now_v7().simple());
    create_table(&client, &table).await.unwrap();
    let dynamo = DynamoStore::new(client.clone(), table.clone());
    let store: Arc<dyn Store> = Arc::new(dynamo.clone());
    let outbox = tempfile::tempdir().unwrap();
    let service = Service::new(
        store,
        Arc::new(OutboxMailer::new(
            outbox.path().to_owned(),
            MailConfig {
                sender: "no-reply@example.com".into(),
                product_name: "Rollcall".into(),
                accept_url: "http://localhost/accept".into(),
            },
        )),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceConfig {
            accept_url: "http://localhost/accept".into(),
        },
    );
    let router = rollcall_api::all_routes(AppState::new(service));
    let owner = Claims {
        sub: "owner".into(),
        email: Some("owner@cost.test".into()),
        email_verified: true,
        name: None,
    };
    let (st, _, org) = post(&router, "/orgs", &owner, json!({"name": "Cost"}), None).await;
    assert_eq!(st, StatusCode::CREATED, "{org}");
    let path = format!("/orgs/{}/pools", org["id"].as_str().unwrap());

    dynamo.reset_calls();
    let (st, _, _) = post(&router, &path, &owner, json!({"name": "A"}), None).await;
    assert_eq!(st, StatusCode::CREATED);
    let plain = dynamo.calls();

    dynamo.reset_calls();
    let (st, replayed, first) = post(&router, &path, &owner, json!({"name": "B"}), Some("k")).await;
    assert_eq!((st, replayed), (StatusCode::CREATED, false), "{first}");
    let keyed = dynamo.calls();

    dynamo.reset_calls();
    let (st, replayed, again) = post(&router, &path, &owner, json!({"name": "B"}), Some("k")).await;
    assert_eq!((st, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again, first);
    let replay = dynamo.calls();

    println!("POST /orgs/{{org}}/pools without a key: {plain:?}");
    println!("POST /orgs/{{org}}/pools with a new key: {keyed:?}");
    println!("POST /orgs/{{org}}/pools replayed:      {replay:?}");
    assert_eq!(
        keyed,
        CallCounts {
            put: plain.put + 1,
            update: plain.update + 1,
            ..plain
        }
    );
    assert_eq!(
        replay,
        CallCounts {
            put: 1,
            ..CallCounts::default()
        }
    );

    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}
