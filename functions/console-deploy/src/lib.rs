//! The console deployer: a CloudFormation custom resource (`Custom::ConsoleFiles` in
//! `infra/template.yaml`) backed by this Lambda function, which embeds the console build
//! (`rollcall-console`) and puts it in the console's S3 bucket.
//!
//! - **Create / Update**: every file of the build is written with its `Content-Type` and
//!   `Cache-Control` (hashed `assets/...` first, `index.html` last, so the page never names a file
//!   not yet there), then `console-config.json` from the resource's properties (`ApiUrl`,
//!   `Issuer`, `ClientId`, `LogoutUrl`; `local_tools` is always false). Files of the build before
//!   (listed in [`MANIFEST_KEY`]) are kept one more deploy, for pages loaded before it; anything
//!   older is deleted. The manifest then lists this build.
//! - **Delete**: every object of the bucket is deleted (only the deployer writes there), so the
//!   bucket itself can be deleted; a bucket already gone is fine.
//! - Either way the outcome is PUT to CloudFormation's `ResponseURL`, also on failure (with the
//!   reason), so a stack never waits an hour for an answer. The physical id is derived from the
//!   bucket: a new bucket replaces the resource and CloudFormation then deletes the old files.
//!
//! Each request costs one PutObject per file plus two (configuration, manifest), one GetObject
//! (manifest), ListObjectsV2 pages, and one DeleteObjects per 1,000 stale keys.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Duration;

/// The object listing the files of the deployed build (kept for one more deploy).
pub const MANIFEST_KEY: &str = "console-manifest.json";
/// The console's runtime settings, read by the console at start.
pub const CONFIG_KEY: &str = "console-config.json";
/// The scopes the console asks the issuer for.
pub const SCOPE: &str = "openid email profile";

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleFile {
    /// The object key (the path without its leading `/`).
    pub key: String,
    /// The content.
    pub bytes: Cow<'static, [u8]>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: &'static str,
}

/// The custom resource's properties (CloudFormation passes every value as a string).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Properties {
    /// The console bucket.
    pub bucket: String,
    /// The API's base URL.
    pub api_url: String,
    /// The OIDC issuer the console signs in with.
    pub issuer: String,
    /// The console's client id at the issuer.
    pub client_id: String,
    /// The issuer's logout URL (Cognito's `/logout?client_id=...&logout_uri=...`); empty: none.
    #[serde(default)]
    pub logout_url: String,
}

/// `console-config.json`: the console's runtime settings in AWS.
pub fn config_json(p: &Properties) -> Value {
    let mut auth = json!({
        "mode": "oidc",
        "issuer": p.issuer.trim(),
        "client_id": p.client_id.trim(),
        "scope": SCOPE,
    });
    if !p.logout_url.trim().is_empty() {
        auth["logout_url"] = json!(p.logout_url.trim());
    }
    json!({
        "api_url": p.api_url.trim().trim_end_matches('/'),
        "auth": auth,
        "local_tools": false,
    })
}

/// What a deploy writes, in order: the build (hashed assets first, `index.html` last) with the
/// configuration just before `index.html`.
pub fn plan(
    build: impl IntoIterator<Item = (&'static str, rollcall_console::Asset)>,
    p: &Properties,
) -> Vec<ConsoleFile> {
    let mut files: Vec<ConsoleFile> = build
        .into_iter()
        .filter(|(path, _)| *path != CONFIG_KEY && *path != MANIFEST_KEY)
        .map(|(path, a)| ConsoleFile {
            key: path.trim_start_matches('/').to_owned(),
            bytes: Cow::Borrowed(a.bytes),
            content_type: a.content_type,
            cache_control: a.cache_control(),
        })
        .collect();
    files.push(ConsoleFile {
        key: CONFIG_KEY.to_owned(),
        bytes: Cow::Owned(config_json(p).to_string().into_bytes()),
        content_type: "application/json",
        cache_control: "no-cache",
    });
    let rank = |f: &ConsoleFile| match f.key.as_str() {
        k if k.starts_with("assets/") => 0,
        "index.html" => 3,
        CONFIG_KEY => 2,
        _ => 1,
    };
    files.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key)));
    files
}

fn s3_error<E: std::error::Error>(what: &str, e: E) -> String {
    format!("{what}: {}", DisplayErrorContext(e))
}

/// Writes `files` to `bucket`, deletes what neither this build nor the one before wrote, and
/// records this build in the manifest. Returns how many objects were deleted.
pub async fn deploy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    files: &[ConsoleFile],
) -> Result<usize, String> {
    for f in files {
        s3.put_object()
            .bucket(bucket)
            .key(&f.key)
            .content_type(f.content_type)
            .cache_control(f.cache_control)
            .body(ByteStream::from(f.bytes.clone().into_owned()))
            .send()
            .await
            .map_err(|e| s3_error(&format!("cannot write s3://{bucket}/{}", f.key), e))?;
    }
    let previous = previous_build(s3, bucket).await?;
    let current: BTreeSet<String> = files.iter().map(|f| f.key.clone()).collect();
    let stale: Vec<String> = list_keys(s3, bucket)
        .await?
        .into_iter()
        .filter(|k| k != MANIFEST_KEY && !current.contains(k) && !previous.contains(k))
        .collect();
    delete_keys(s3, bucket, &stale).await?;
    let manifest = json!({ "files": current });
    s3.put_object()
        .bucket(bucket)
        .key(MANIFEST_KEY)
        .content_type("application/json")
        .cache_control("no-cache")
        .body(ByteStream::from(manifest.to_string().into_bytes()))
        .send()
        .await
        .map_err(|e| s3_error(&format!("cannot write s3://{bucket}/{MANIFEST_KEY}"), e))?;
    Ok(stale.len())
}

/// Deletes every object of `bucket`; a missing bucket has nothing to delete. Returns how many.
pub async fn empty(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize, String> {
    let keys = match list_keys(s3, bucket).await {
        Ok(keys) => keys,
        Err(e) if e.contains("NoSuchBucket") => return Ok(0),
        Err(e) => return Err(e),
    };
    delete_keys(s3, bucket, &keys).await?;
    Ok(keys.len())
}

/// The keys the manifest lists (none when there is no manifest yet).
async fn previous_build(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<BTreeSet<String>, String> {
    let out = match s3
        .get_object()
        .bucket(bucket)
        .key(MANIFEST_KEY)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.code() == Some("NoSuchKey") => return Ok(BTreeSet::new()),
        Err(e) => {
            return Err(s3_error(
                &format!("cannot read s3://{bucket}/{MANIFEST_KEY}"),
                e,
            ));
        }
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| format!("cannot read s3://{bucket}/{MANIFEST_KEY}: {e}"))?
        .into_bytes();
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(doc["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or_default().to_owned();
                format!(
                    "{code} {}",
                    s3_error(&format!("cannot list s3://{bucket}"), e)
                )
            })?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => return Ok(keys),
        }
    }
}

async fn delete_keys(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) -> Result<(), String> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot delete from s3://{bucket}: {e}"))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| format!("cannot delete from s3://{bucket}: {e}"))?;
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| s3_error(&format!("cannot delete from s3://{bucket}"), e))?;
        if let Some(first) = out.errors().first() {
            return Err(format!(
                "cannot delete s3://{bucket}/{}: {}",
                first.key().unwrap_or_default(),
                first.message().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// A CloudFormation custom resource request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnRequest {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    /// Where the outcome is PUT (a presigned S3 URL).
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack.
    pub stack_id: String,
    /// This request.
    pub request_id: String,
    /// The resource's logical id.
    pub logical_resource_id: String,
    /// The id returned at creation (Update, Delete).
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// The resource's properties.
    #[serde(default)]
    pub resource_properties: Value,
}

/// The outcome of one request, as CloudFormation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `SUCCESS` or `FAILED`.
    pub status: &'static str,
    /// Why it failed (shown in the stack's events), or what was done.
    pub reason: String,
    /// The resource's physical id.
    pub physical_resource_id: String,
    /// `Fn::GetAtt` attributes.
    pub data: Value,
}

/// The physical id of the files in `bucket`.
pub fn physical_id(bucket: &str) -> String {
    format!("{bucket}/console")
}

/// Does what the request asks with the given build, within `budget`.
pub async fn act(
    s3: &aws_sdk_s3::Client,
    req: &CfnRequest,
    build: impl IntoIterator<Item = (&'static str, rollcall_console::Asset)>,
    budget: Duration,
) -> Outcome {
    let props = serde_json::from_value::<Properties>(req.resource_properties.clone());
    let fallback_id = req
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| format!("console-{}", req.request_id));
    let props = match (props, req.request_type.as_str()) {
        (Ok(p), _) if !p.bucket.trim().is_empty() => p,
        // Nothing was written under invalid properties: nothing to delete.
        (_, "Delete") => return success(fallback_id, "nothing to delete".into(), json!({})),
        (Ok(_), _) => return failed(fallback_id, "the property Bucket is empty".into()),
        (Err(e), _) => return failed(fallback_id, format!("invalid properties: {e}")),
    };
    let id = physical_id(&props.bucket);
    let work = async {
        match req.request_type.as_str() {
            "Create" | "Update" => {
                let files = plan(build, &props);
                let deleted = deploy(s3, &props.bucket, &files).await?;
                Ok((
                    format!("wrote {} files, deleted {deleted} stale ones", files.len()),
                    json!({"Files": files.len().to_string()}),
                ))
            }
            "Delete" => {
                // An Update that replaced the bucket deletes the old one's files; the same id as
                // the resource's current one is never deleted from under it (ids follow buckets).
                let deleted = empty(s3, &props.bucket).await?;
                Ok((format!("deleted {deleted} files"), json!({})))
            }
            other => Err(format!("unknown request type {other}")),
        }
    };
    match tokio::time::timeout(budget, work).await {
        Ok(Ok((reason, data))) => success(id, reason, data),
        Ok(Err(e)) => failed(id, e),
        Err(_) => failed(id, format!("did not finish within {budget:?}")),
    }
}

fn success(id: String, reason: String, data: Value) -> Outcome {
    Outcome {
        status: "SUCCESS",
        reason,
        physical_resource_id: id,
        data,
    }
}

fn failed(id: String, reason: String) -> Outcome {
    Outcome {
        status: "FAILED",
        reason,
        physical_resource_id: id,
        data: json!({}),
    }
}

/// The response document CloudFormation expects at the `ResponseURL`.
pub fn response_body(req: &CfnRequest, outcome: &Outcome) -> Value {
    json!({
        "Status": outcome.status,
        // CloudFormation shows at most 4 KB of reason.
        "Reason": outcome.reason.chars().take(1000).collect::<String>(),
        "PhysicalResourceId": outcome.physical_resource_id,
        "StackId": req.stack_id,
        "RequestId": req.request_id,
        "LogicalResourceId": req.logical_resource_id,
        "NoEcho": false,
        "Data": outcome.data,
    })
}

/// PUTs the response to the presigned URL (with an empty `Content-Type`, as it was signed),
/// trying three times.
pub async fn send_response(url: &str, body: &Value) -> Result<(), String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let bytes = Bytes::from(body.to_string());
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt) * 2)).await;
        }
        let request = hyper::Request::put(url)
            .header(hyper::header::CONTENT_TYPE, "")
            .header(hyper::header::CONTENT_LENGTH, bytes.len())
            .body(Full::new(bytes.clone()))
            .map_err(|e| format!("invalid ResponseURL: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(20), client.request(request)).await {
            Ok(Ok(res)) if res.status().is_success() => return Ok(()),
            Ok(Ok(res)) => {
                let status = res.status();
                let text = res
                    .into_body()
                    .collect()
                    .await
                    .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                    .unwrap_or_default();
                last = format!("the ResponseURL answered {status}: {text}");
            }
            Ok(Err(e)) => last = format!("cannot reach the ResponseURL: {e}"),
            Err(_) => last = "the ResponseURL did not answer within 20s".into(),
        }
    }
    Err(last)
}

/// Handles one invocation: acts on the request and answers CloudFormation, also when the request
/// is malformed (if it names a `ResponseURL`).
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    event: Value,
    build: impl IntoIterator<Item = (&'static str, rollcall_console::Asset)>,
    budget: Duration,
) -> Result<Outcome, String> {
    let req: CfnRequest = match serde_json::from_value(event.clone()) {
        Ok(r) => r,
        Err(e) => {
            let Some(url) = event["ResponseURL"].as_str() else {
                return Err(format!("not a CloudFormation custom resource request: {e}"));
            };
            let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
            let req = CfnRequest {
                request_type: text("RequestType"),
                response_url: url.to_owned(),
                stack_id: text("StackId"),
                request_id: text("RequestId"),
                logical_resource_id: text("LogicalResourceId"),
                physical_resource_id: event["PhysicalResourceId"].as_str().map(str::to_owned),
                resource_properties: Value::Null,
            };
            let outcome = failed(
                req.physical_resource_id
                    .clone()
                    .unwrap_or_else(|| format!("console-{}", req.request_id)),
                format!("malformed request: {e}"),
            );
            send_response(url, &response_body(&req, &outcome)).await?;
            return Ok(outcome);
        }
    };
    let outcome = act(s3, &req, build, budget).await;
    tracing::info!(
        request_type = %req.request_type,
        status = outcome.status,
        reason = %outcome.reason,
        "console files"
    );
    send_response(&req.response_url, &response_body(&req, &outcome)).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_console::Asset;

    fn props() -> Properties {
        Properties {
            bucket: "b".into(),
            api_url: "https://api.example.test/".into(),
            issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X".into(),
            client_id: "client1".into(),
            logout_url: String::new(),
        }
    }

    #[test]
    fn the_configuration_is_the_consoles_oidc_contract() {
        assert_eq!(
            config_json(&props()),
            json!({
                "api_url": "https://api.example.test",
                "auth": {"mode": "oidc", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
                         "client_id": "client1", "scope": "openid email profile"},
                "local_tools": false,
            })
        );
        let mut p = props();
        p.logout_url = "https://x.auth.eu-west-1.amazoncognito.com/logout?client_id=client1&logout_uri=https://d.cloudfront.net/".into();
        assert_eq!(
            config_json(&p)["auth"]["logout_url"],
            "https://x.auth.eu-west-1.amazoncognito.com/logout?client_id=client1&logout_uri=https://d.cloudfront.net/"
        );
    }

    #[test]
    fn assets_go_first_and_the_page_last() {
        let asset = |bytes: &'static [u8], ct, immutable| Asset {
            bytes,
            content_type: ct,
            immutable,
        };
        let build = vec![
            (
                "index.html",
                asset(b"<html>", "text/html; charset=utf-8", false),
            ),
            ("favicon.svg", asset(b"<svg/>", "image/svg+xml", false)),
            (
                "assets/a-1.js",
                asset(b"js", "text/javascript; charset=utf-8", true),
            ),
            // A file of the build may not overwrite the deployment's own configuration.
            (CONFIG_KEY, asset(b"{}", "application/json", false)),
        ];
        let files = plan(build, &props());
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["assets/a-1.js", "favicon.svg", CONFIG_KEY, "index.html"]
        );
        assert_eq!(
            files[0].cache_control,
            "public, max-age=31536000, immutable"
        );
        assert_eq!(files[3].cache_control, "no-cache");
        assert_eq!(files[2].content_type, "application/json");
        let config: Value = serde_json::from_slice(&files[2].bytes).unwrap();
        assert_eq!(config["auth"]["client_id"], "client1");
    }
}
