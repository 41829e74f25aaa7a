//! The local sign-in lets anyone sign in as anyone, so `rollcall serve` with it stays on this
//! machine: it refuses to listen on a non-loopback address, and answers only requests addressed to
//! a loopback name (a web page that re-points its own host name at 127.0.0.1, DNS rebinding, gets
//! 421 instead of a same-origin door to the API).

use reqwest::StatusCode;
use rollcall_tests::server::{Backend, TestServer, rollcall_bin};

#[test]
fn a_non_loopback_address_is_refused_with_the_local_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(rollcall_bin())
        .args(["serve", "--addr", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run rollcall serve");
    assert!(!out.status.success(), "it must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[tokio::test]
async fn requests_to_another_host_name_are_misdirected() {
    let s = TestServer::start(Backend::Embedded).await;
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    for (host, expected) in [
        (
            format!("rebound.evil.example:{port}"),
            StatusCode::MISDIRECTED_REQUEST,
        ),
        ("evil.example".to_owned(), StatusCode::MISDIRECTED_REQUEST),
        (format!("localhost:{port}"), StatusCode::OK),
        (format!("127.0.0.1:{port}"), StatusCode::OK),
    ] {
        for path in ["/console-config.json", "/_local/outbox", "/_local/events"] {
            let res = s
                .http
                .get(format!("{}{path}", s.base))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), expected, "Host {host}, {path}");
            if expected == StatusCode::MISDIRECTED_REQUEST {
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "misdirected_request", "{body}");
            }
        }
        let res = s
            .http
            .post(format!("{}/_local/token", s.base))
            .header("host", &host)
            .json(&serde_json::json!({"email": "owner@victim.test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "Host {host}: the local sign-in");
    }
}
