//! In-process harness: the routers over the embedded store and a mailer that records mails.

#![allow(dead_code)]

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use rollcall_api::AppState;
use rollcall_domain::ports::{
    InvitationEmail, MailError, Mailer, OsRandomness, SentMail, SystemClock,
};
use rollcall_domain::service::{Claims, Service, ServiceConfig};
use rollcall_store_embedded::EmbeddedStore;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// Records every invitation email.
#[derive(Default)]
pub struct RecordingMailer(pub Mutex<Vec<InvitationEmail>>);

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<SentMail, MailError> {
        let mut mails = self.0.lock().unwrap();
        mails.push(email.clone());
        Ok(SentMail {
            message_id: format!("test-{}", mails.len()),
        })
    }
}

/// A service over a fresh in-memory store.
pub struct Harness {
    pub state: AppState,
    pub mails: Arc<RecordingMailer>,
}

pub const ACCEPT_URL: &str = "https://app.test/accept";

impl Harness {
    pub fn new() -> Self {
        let store = Arc::new(EmbeddedStore::in_memory().unwrap());
        let mails = Arc::new(RecordingMailer::default());
        let service = Service::new(
            store,
            mails.clone(),
            Arc::new(SystemClock),
            Arc::new(OsRandomness),
            ServiceConfig {
                accept_url: ACCEPT_URL.into(),
            },
        );
        Harness {
            state: AppState::new(service),
            mails,
        }
    }

    pub fn all(&self) -> Router {
        rollcall_api::all_routes(self.state.clone())
    }

    /// The token of the last mail sent to `to` (normalized compare).
    pub fn last_token_to(&self, to: &str) -> Option<String> {
        let mails = self.mails.0.lock().unwrap();
        mails
            .iter()
            .rev()
            .find(|m| m.to.normalized() == rollcall_domain::email::normalize_email(to))
            .map(|m| m.token.clone())
    }
}

pub fn claims(email: &str, name: Option<&str>, verified: bool) -> Claims {
    Claims {
        sub: format!("sub|{email}"),
        email: Some(email.into()),
        email_verified: verified,
        name: name.map(str::to_owned),
    }
}

/// A response: status, headers, JSON body (Null when empty).
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Resp {
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or(Value::Null)
    };
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

pub fn request(
    method: Method,
    path: &str,
    who: Option<&Claims>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    let mut req = builder.body(Body::from(body)).unwrap();
    if let Some(c) = who {
        req.extensions_mut().insert(c.clone());
    }
    req
}

pub async fn call(
    router: &Router,
    method: Method,
    path: &str,
    who: Option<&Claims>,
    body: Option<Value>,
) -> Resp {
    let req = match body {
        Some(b) => request(
            method,
            path,
            who,
            Some("application/json"),
            serde_json::to_vec(&b).unwrap(),
        ),
        None => request(method, path, who, None, Vec::new()),
    };
    send(router, req).await
}
