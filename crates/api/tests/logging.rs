//! The access log, alone in its process (tracing's callsite cache is global): one line per
//! request with the matched route, never a token or an email.

mod common;

use axum::http::{Method, StatusCode};
use common::{Harness, call, claims};
use serde_json::{Value, json};

/// Collects log output.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_access_line_per_request_without_secrets() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new();
    let app = h.all();
    let owner = claims("secret.owner@acme.test", None, true);
    let r = call(
        &app,
        Method::POST,
        "/orgs",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let org_id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("/orgs/{org_id}/invitations"),
        Some(&owner),
        Some(json!({
            "invitations": [{"email": "hidden.invitee@example.test"}], "send_email": false
        })),
    )
    .await;
    let token = r.body["results"][0]["accept_url"]
        .as_str()
        .unwrap()
        .rsplit("token=")
        .next()
        .unwrap()
        .to_owned();
    let r = call(
        &app,
        Method::GET,
        &format!("/invitations/{token}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let request_id = r
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains(&token), "token logged:\n{text}");
    assert!(
        !text.contains("hidden.invitee") && !text.contains("secret.owner"),
        "email logged:\n{text}"
    );
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let preview = lines
        .iter()
        .find(|l| l["request_id"] == json!(request_id))
        .expect("line for the preview");
    assert_eq!(preview["route"], "/invitations/{token}");
    assert_eq!(preview["method"], "GET");
    assert_eq!(preview["status"], 200);
    assert!(preview["latency_ms"].is_u64());
}
