//! The local server's read timeouts (issue 8, finding 8): a client that sends an incomplete
//! request head, or fewer body bytes than its `Content-Length`, is answered 408 or disconnected
//! once the configured timeout passes, instead of holding a connection (and a task) open.
//!
//! The timeouts are set to one second here (`ROLLCALL_HEADER_READ_TIMEOUT_SECS`,
//! `ROLLCALL_BODY_READ_TIMEOUT_SECS`); the assertions allow ten. The store plays no part, so only
//! the embedded backend runs.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the tests configure.
const TIMEOUT_SECS: &str = "1";
/// How long a stalled connection may last before the test fails (the server would hold it for
/// as long as the client wants without a timeout).
const BOUND: Duration = Duration::from_secs(10);

async fn server() -> TestServer {
    TestServer::start_with_env(
        Backend::Embedded,
        &[
            ("ROLLCALL_HEADER_READ_TIMEOUT_SECS", TIMEOUT_SECS),
            ("ROLLCALL_BODY_READ_TIMEOUT_SECS", TIMEOUT_SECS),
        ],
    )
    .await
}

/// Writes `bytes` on a new connection and never more, then reads until the server closes it.
/// Returns what the server sent, or panics if the connection is still open after [`BOUND`].
async fn stall(s: &TestServer, bytes: &[u8]) -> String {
    let addr = s.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let started = Instant::now();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server still held the stalled connection after {:?}; it sent {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&raw)
    );
    String::from_utf8_lossy(&raw).into_owned()
}

/// The JSON body of a raw HTTP/1.1 response.
fn json_body(raw: &str) -> Value {
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let start = body.find('{').unwrap_or(body.len());
    let end = body.rfind('}').map_or(start, |i| i + 1);
    serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
}

/// The server still serves after the stalled clients are gone.
async fn still_serves(s: &TestServer) {
    let owner = s.token("after@timeouts.test", None, true);
    s.create_org(&owner, "After").await;
}

#[tokio::test]
async fn an_incomplete_request_head_is_dropped() {
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // The request line and one header, never the blank line that ends the head.
    let answer = stall(
        &s,
        format!("POST /orgs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n")
            .as_bytes(),
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "closed without an answer, or with 408: {answer:?}"
    );
    // Nothing at all after connecting.
    let answer = stall(&s, b"").await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn an_incomplete_body_is_answered_408() {
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let token = s.token("slow@timeouts.test", None, true);
    // Content-Length 100, ten bytes sent.
    let request = format!(
        "POST /orgs HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\": \""
    );
    let answer = stall(&s, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    let body = json_body(&answer);
    assert_eq!(body["error"]["code"], "request_timeout", "{answer:?}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer:?}"
    );
    // Nothing was created by the cut-off request.
    let (st, orgs) = s.call(Method::GET, "/orgs", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK, "{orgs}");
    assert_eq!(orgs["items"], json!([]), "{orgs}");
    still_serves(&s).await;
}
