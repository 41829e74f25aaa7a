//! The console deployer (`functions/console-deploy`), the real binary under the Lambda Runtime API
//! emulator, against moto's S3, answering a local stand-in for CloudFormation's response URL:
//! what Create writes (every file of the embedded build with its type and caching, and
//! `console-config.json` from the resource's properties), what Update replaces and deletes (the
//! build before is kept one more deploy), that Delete empties the bucket so it can be deleted, and
//! that a malformed request is answered FAILED rather than left waiting.
//!
//! Needs the emulator (`ROLLCALL_TEST_DYNAMODB_ENDPOINT`, ./scripts/test starts it) and
//! `cargo build --bins`.

use aws_sdk_s3::primitives::ByteStream;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::put;
use rollcall_tests::lambda_runtime::{
    LambdaConfig, LambdaFunction, Outcome, function_binary, functions_dir,
};
use rollcall_tests::server::emulator_endpoint;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const MANIFEST: &str = "console-manifest.json";
const CONFIG: &str = "console-config.json";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";

/// What CloudFormation would receive: request id -> (content type, body).
type Received = Arc<Mutex<BTreeMap<String, (String, Value)>>>;

/// A stand-in for CloudFormation's presigned response URLs.
struct ResponseUrls {
    base: String,
    received: Received,
    task: tokio::task::JoinHandle<()>,
}

impl ResponseUrls {
    async fn start() -> ResponseUrls {
        let received = Received::default();
        let app = Router::new()
            .route("/responses/{id}", put(record))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ResponseUrls {
            base,
            received,
            task,
        }
    }

    fn take(&self, id: &str) -> (String, Value) {
        self.received
            .lock()
            .expect("lock")
            .remove(id)
            .unwrap_or_else(|| panic!("no response for {id}"))
    }
}

impl Drop for ResponseUrls {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(received): State<Received>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned();
    let doc = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received
        .lock()
        .expect("lock")
        .insert(id, (content_type, doc));
    ""
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn properties(bucket: &str, client_id: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:console-deploy",
        "Bucket": bucket,
        "ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/",
        "Issuer": ISSUER,
        "ClientId": client_id,
        "LogoutUrl": format!("https://rollcall-x.auth.us-east-1.amazoncognito.com/logout?client_id={client_id}&logout_uri=https://d111.cloudfront.net/"),
        "FunctionVersion": "3",
    })
}

struct Deployer {
    function: LambdaFunction,
    urls: ResponseUrls,
}

impl Deployer {
    /// Sends one request; returns CloudFormation's view of the answer (the PUT's content type
    /// and body).
    async fn request(
        &mut self,
        kind: &str,
        physical_id: Option<&str>,
        props: Value,
    ) -> (String, Value) {
        let id = uuid::Uuid::now_v7().to_string();
        let mut event = json!({
            "RequestType": kind,
            "ResponseURL": format!("{}/responses/{id}", self.urls.base),
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/rollcall/1",
            "RequestId": id,
            "ResourceType": "Custom::ConsoleFiles",
            "LogicalResourceId": "ConsoleFiles",
            "ResourceProperties": props,
        });
        if let Some(p) = physical_id {
            event["PhysicalResourceId"] = json!(p);
        }
        let (outcome, _) = self
            .function
            .invoke_raw(&event)
            .await
            .unwrap_or_else(|e| panic!("invoke: {e:?}\n{}", self.function.logs().join("\n")));
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "the function answered CloudFormation: {outcome:?}\n{}",
            self.function.logs().join("\n")
        );
        let (content_type, body) = self.urls.take(&id);
        assert_eq!(body["RequestId"], id.as_str());
        assert_eq!(body["LogicalResourceId"], "ConsoleFiles");
        assert_eq!(
            body["StackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/rollcall/1"
        );
        (content_type, body)
    }
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeSet<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (Vec<u8>, String, String) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    let content_type = out.content_type().unwrap_or_default().to_owned();
    let cache = out.cache_control().unwrap_or_default().to_owned();
    let bytes = out
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec();
    (bytes, content_type, cache)
}

async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_and_delete_the_console_files() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let s3 = s3_client(&endpoint);
    let bucket = format!("console-{}", uuid::Uuid::now_v7().simple());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");

    let config = LambdaConfig::new("rollcall-console-deploy")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("AWS_ENDPOINT_URL_S3", &endpoint);
    let function =
        LambdaFunction::start(function_binary(&functions_dir(), "console-deploy"), config)
            .await
            .expect("start the deployer");
    let mut d = Deployer {
        function,
        urls: ResponseUrls::start().await,
    };
    let build: BTreeMap<&str, rollcall_console::Asset> = rollcall_console::files().collect();
    assert!(build.contains_key("index.html"));

    // ---- Create: the whole build, the settings, the manifest.
    let (content_type, answer) = d
        .request("Create", None, properties(&bucket, "client-1"))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(
        content_type, "",
        "the presigned URL is signed without a content type"
    );
    let physical = format!("{bucket}/console");
    assert_eq!(answer["PhysicalResourceId"], physical.as_str());
    let mut want: BTreeSet<String> = build.keys().map(|k| (*k).to_owned()).collect();
    want.insert(CONFIG.into());
    want.insert(MANIFEST.into());
    assert_eq!(keys(&s3, &bucket).await, want);
    for (path, asset) in &build {
        let (bytes, content_type, cache) = get(&s3, &bucket, path).await;
        assert_eq!(bytes, asset.bytes, "{path}");
        assert_eq!(content_type, asset.content_type, "{path}");
        assert_eq!(cache, asset.cache_control(), "{path}");
    }
    let (config, content_type, cache) = get(&s3, &bucket, CONFIG).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(cache, "no-cache");
    let config: Value = serde_json::from_slice(&config).expect("config json");
    assert_eq!(
        config,
        json!({
            "api_url": "https://abc123.execute-api.us-east-1.amazonaws.com",
            "auth": {
                "mode": "oidc",
                "issuer": ISSUER,
                "client_id": "client-1",
                "scope": "openid email profile",
                "logout_url": "https://rollcall-x.auth.us-east-1.amazoncognito.com/logout?client_id=client-1&logout_uri=https://d111.cloudfront.net/",
            },
            "local_tools": false,
        })
    );

    // ---- Update: new settings; a file of the build before is kept one more deploy, older ones go.
    put_object(&s3, &bucket, "assets/stale-0.js", b"old").await;
    put_object(&s3, &bucket, "assets/previous-1.js", b"previous").await;
    let mut manifest: Value =
        serde_json::from_slice(&get(&s3, &bucket, MANIFEST).await.0).expect("manifest");
    manifest["files"]
        .as_array_mut()
        .expect("files")
        .push(json!("assets/previous-1.js"));
    put_object(&s3, &bucket, MANIFEST, manifest.to_string().as_bytes()).await;
    let (_, answer) = d
        .request("Update", Some(&physical), properties(&bucket, "client-2"))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], physical.as_str());
    let now = keys(&s3, &bucket).await;
    assert!(
        !now.contains("assets/stale-0.js"),
        "older than the build before"
    );
    assert!(
        now.contains("assets/previous-1.js"),
        "the build before is kept"
    );
    let config: Value =
        serde_json::from_slice(&get(&s3, &bucket, CONFIG).await.0).expect("config json");
    assert_eq!(config["auth"]["client_id"], "client-2");
    let (_, answer) = d
        .request("Update", Some(&physical), properties(&bucket, "client-2"))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(
        keys(&s3, &bucket).await,
        want,
        "two deploys later it is gone"
    );

    // ---- Delete: the bucket is emptied and can be deleted; a second Delete finds nothing.
    let (_, answer) = d
        .request("Delete", Some(&physical), properties(&bucket, "client-2"))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(keys(&s3, &bucket).await.is_empty());
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the emptied bucket can be deleted");
    let (_, answer) = d
        .request("Delete", Some(&physical), properties(&bucket, "client-2"))
        .await;
    assert_eq!(
        answer["Status"], "SUCCESS",
        "a bucket already gone: {answer}"
    );

    // ---- Failures are answered, not left waiting.
    let (_, answer) = d
        .request("Create", None, json!({"ApiUrl": "https://x"}))
        .await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .is_some_and(|r| r.contains("Bucket")),
        "{answer}"
    );
    let (_, answer) = d
        .request("Create", None, properties("no-such-bucket-rollcall", "c"))
        .await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .is_some_and(|r| r.contains("no-such-bucket-rollcall")),
        "{answer}"
    );
    d.function.stop();
}
