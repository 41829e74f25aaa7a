//! What an identity provider's import costs on DynamoDB: reading every SCIM User through
//! `startIndex` pages must cost about as much as reading them once (a few calls per page), not
//! the square of it. Counts the DynamoDB store's calls (moto; skipped without the emulator).

use rollcall_domain::ids::ScimTokenId;
use rollcall_domain::ports::{OsRandomness, Store, SystemClock};
use rollcall_domain::service::{Claims, Omitted, ScimOrg, Service, ServiceConfig};
use rollcall_mail::{MailConfig, OutboxMailer};
use rollcall_scim::mapping::{member_command, member_resource};
use rollcall_scim::{CursorCache, ListQuery, normalize_user};
use rollcall_store_dynamodb::{DynamoStore, create_table, emulator_client};
use rollcall_tests::server::emulator_endpoint;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

const USERS: usize = 120;
const PAGE: usize = 50;

/// A process serving SCIM: the use cases and its list cursors.
struct Scim {
    service: Service,
    cursors: CursorCache,
}

/// The ListResponse of `GET /Users?startIndex={start}&count={PAGE}`, as the SCIM route makes it.
async fn page(scim: &Scim, org: &ScimOrg, start: usize) -> Value {
    let (s, c) = (start.to_string(), PAGE.to_string());
    let q = ListQuery::from_query([("startIndex", s.as_str()), ("count", c.as_str())]).unwrap();
    let page = scim
        .service
        .scim_list(org, q.start_index - 1, q.count, &scim.cursors)
        .await
        .unwrap();
    let resources: Vec<Value> = page
        .members
        .iter()
        .map(|m| member_resource(m, "http://x/scim/v2"))
        .collect();
    q.response(&resources, page.total)
}

/// Reads every User in pages of [`PAGE`]; returns the user ids in order.
async fn import(scim: &Scim, org: &ScimOrg) -> Vec<String> {
    let mut ids = Vec::new();
    let mut start = 1;
    loop {
        let body = page(scim, org, start).await;
        let total = body["totalResults"].as_u64().unwrap() as usize;
        let items = body["Resources"].as_array().cloned().unwrap_or_default();
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        start += PAGE;
        if start > total {
            return ids;
        }
    }
}

#[tokio::test]
async fn importing_every_user_by_start_index_reads_each_page_once() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let client = emulator_client(&endpoint);
    let table = format!("rollcall-scim-import-{}", Uuid::now_v7().simple());
    create_table(&client, &table).await.unwrap();
    let dynamo = DynamoStore::new(client, table);
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
    let owner = service
        .identify(
            &Claims {
                sub: "owner".into(),
                email: Some("owner@import.test".into()),
                email_verified: true,
                name: None,
            },
            &rollcall_domain::audit::RequestMeta::default(),
        )
        .await
        .unwrap();
    let created = service.create_org(&owner, "Import").await.unwrap();
    let org = ScimOrg {
        org_id: created.id.clone(),
        token_id: ScimTokenId::from_uuid(Uuid::now_v7()),
        request: Default::default(),
    };
    let scim = Scim {
        service: service.clone(),
        cursors: CursorCache::default(),
    };
    for i in 0..USERS - 1 {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("u{i:04}@import.test"),
            "active": true,
        });
        let command = member_command(&normalize_user(&body).unwrap(), Omitted::Keep);
        service.scim_provision(&org, &command).await.unwrap();
    }

    // A sequential import on a process that has not listed this org before.
    dynamo.reset_calls();
    let ids = import(&scim, &org).await;
    let cold = dynamo.calls();
    assert_eq!(ids.len(), USERS, "every member, the owner included");
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), USERS, "no member twice across pages");
    let pages = USERS.div_ceil(PAGE) as u64;
    println!("import of {USERS} users in pages of {PAGE}: {pages} pages, {cold:?}");
    // Per page: the member counter (1 GetItem), one Query, one BatchGetItem of SCIM records.
    assert_eq!(cold.get, pages, "{cold:?}");
    assert_eq!(cold.query, pages, "{cold:?}");
    assert_eq!(cold.batch_get, pages, "{cold:?}");
    assert_eq!(cold.total(), 3 * pages, "{cold:?}");

    // A page asked for out of order (another process, or the cache expired) walks from the
    // nearest known position with pages of the store's maximum size: bounded, not quadratic.
    let fresh = Scim {
        service,
        cursors: CursorCache::default(),
    };
    dynamo.reset_calls();
    let last = page(&fresh, &org, 2 * PAGE + 1).await;
    let jump = dynamo.calls();
    println!(
        "page at startIndex {} on a cold process: {jump:?}",
        2 * PAGE + 1
    );
    assert_eq!(
        last["Resources"].as_array().map(Vec::len),
        Some(USERS - 2 * PAGE)
    );
    assert!(jump.query <= 3, "{jump:?}");
}
