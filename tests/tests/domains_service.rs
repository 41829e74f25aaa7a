//! The domain-verification use cases with a scripted [`DnsTxt`] and a clock the test moves: the
//! bounds after which a pending domain is `failed`, that a DNS failure writes nothing, and the
//! one-key-lookup helpers the SCIM code calls. The HTTP flows over a real DNS server are in
//! `domains_http.rs`.

use async_trait::async_trait;
use chrono::{Duration, Utc};
use rollcall_domain::Email;
use rollcall_domain::ErrorKind;
use rollcall_domain::model::Timestamp;
use rollcall_domain::org_domain::DomainState;
use rollcall_domain::ports::{Clock, DnsError, DnsTxt, OsRandomness};
use rollcall_domain::service::{
    AddDomainRequest, Caller, Claims, DOMAIN_PENDING_DAYS, MAX_DOMAIN_CHECKS, Service,
    ServiceConfig,
};
use rollcall_store_embedded::EmbeddedStore;
use rollcall_tests::mail::NoMail;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// TXT records by name; a name in `failing` answers an error.
#[derive(Default)]
struct ScriptedDns {
    records: Mutex<HashMap<String, Vec<String>>>,
    failing: Mutex<bool>,
}

#[async_trait]
impl DnsTxt for ScriptedDns {
    async fn txt_records(&self, name: &str) -> Result<Vec<String>, DnsError> {
        if *self.failing.lock().unwrap() {
            return Err(DnsError("SERVFAIL".into()));
        }
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default())
    }
}

/// A clock the test moves.
struct TestClock(Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

struct World {
    service: Service,
    dns: Arc<ScriptedDns>,
    clock: Arc<TestClock>,
}

impl World {
    fn new() -> World {
        let dns = Arc::new(ScriptedDns::default());
        let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
        let service = Service::new(
            Arc::new(EmbeddedStore::in_memory().unwrap()),
            Arc::new(NoMail),
            clock.clone(),
            Arc::new(OsRandomness),
            ServiceConfig {
                accept_url: "https://app.test/accept".into(),
            },
        )
        .with_dns(dns.clone());
        World {
            service,
            dns,
            clock,
        }
    }

    async fn manager(&self, email: &str) -> (Caller, rollcall_domain::ids::OrgId) {
        let caller = self
            .service
            .identify(
                &Claims {
                    sub: format!("sub|{email}"),
                    email: Some(email.into()),
                    email_verified: true,
                    name: None,
                },
                &rollcall_domain::audit::RequestMeta::default(),
            )
            .await
            .unwrap();
        let org = self.service.create_org(&caller, "Org").await.unwrap();
        (caller, org.id)
    }

    fn advance(&self, by: Duration) {
        *self.clock.0.lock().unwrap() += by;
    }
}

#[tokio::test]
async fn a_pending_domain_fails_after_its_days_and_can_still_verify() {
    let w = World::new();
    let (me, org) = w.manager("ann@acme.test").await;
    let d = w
        .service
        .add_domain(
            &me,
            &org,
            &AddDomainRequest {
                domain: "acme.test".into(),
            },
        )
        .await
        .unwrap();
    let checked = w
        .service
        .verify_domain(&me, &org, "acme.test")
        .await
        .unwrap();
    assert_eq!(checked.state, DomainState::Pending);
    w.advance(Duration::days(DOMAIN_PENDING_DAYS) - Duration::minutes(1));
    let checked = w
        .service
        .verify_domain(&me, &org, "acme.test")
        .await
        .unwrap();
    assert_eq!(checked.state, DomainState::Pending);
    w.advance(Duration::minutes(2));
    // Past the bound, a read shows it failed before any verify call records it.
    let listed = w.service.list_domains(&me, &org).await.unwrap();
    assert_eq!(listed[0].state, DomainState::Failed);
    assert_eq!(listed[0].failed_checks, 2);
    let failed = w
        .service
        .verify_domain(&me, &org, "acme.test")
        .await
        .unwrap();
    assert_eq!(failed.state, DomainState::Failed);
    assert_eq!(failed.failed_checks, 3);
    assert!(
        w.service
            .verified_domain_owner("acme.test")
            .await
            .unwrap()
            .is_none()
    );
    // The record appears late: a verify still verifies.
    w.dns
        .records
        .lock()
        .unwrap()
        .insert(d.record_name(), vec![d.record_value()]);
    let verified = w
        .service
        .verify_domain(&me, &org, "ACME.test")
        .await
        .unwrap();
    assert_eq!(verified.state, DomainState::Verified);
    assert_eq!(verified.verified_by.as_ref(), Some(&me.user.id));
    // The helpers the SCIM code calls: one key lookup each.
    assert_eq!(
        w.service.verified_domain_owner("Acme.Test").await.unwrap(),
        Some(org.clone())
    );
    let email = Email::parse("bob@ACME.test").unwrap();
    assert!(
        w.service
            .org_has_verified_domain(&org, &email)
            .await
            .unwrap()
    );
    let (_, other) = w.manager("carl@other.test").await;
    assert!(
        !w.service
            .org_has_verified_domain(&other, &email)
            .await
            .unwrap()
    );
    let elsewhere = Email::parse("bob@sub.acme.test").unwrap();
    assert!(
        !w.service
            .org_has_verified_domain(&org, &elsewhere)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_pending_domain_fails_after_its_checks() {
    let w = World::new();
    let (me, org) = w.manager("ann@many.test").await;
    w.service
        .add_domain(
            &me,
            &org,
            &AddDomainRequest {
                domain: "many.test".into(),
            },
        )
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..MAX_DOMAIN_CHECKS {
        last = Some(
            w.service
                .verify_domain(&me, &org, "many.test")
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    assert_eq!(last.state, DomainState::Failed);
    assert_eq!(last.failed_checks, MAX_DOMAIN_CHECKS);
}

#[tokio::test]
async fn a_dns_failure_is_unavailable_and_writes_nothing() {
    let w = World::new();
    let (me, org) = w.manager("ann@down.test").await;
    let before = w
        .service
        .add_domain(
            &me,
            &org,
            &AddDomainRequest {
                domain: "down.test".into(),
            },
        )
        .await
        .unwrap();
    *w.dns.failing.lock().unwrap() = true;
    let err = w
        .service
        .verify_domain(&me, &org, "down.test")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(err.code, "dns_unavailable");
    let now = w.service.list_domains(&me, &org).await.unwrap();
    assert_eq!(now, vec![before]);
}
