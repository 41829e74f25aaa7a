//! Verified organization domains over HTTP, against the real `rollcall serve` binary on the
//! embedded store and on DynamoDB (moto), with a real DNS server on loopback (`hickory-server`,
//! see `rollcall_tests::dns`) that the server asks through `ROLLCALL_DNS_RESOLVER`.

use reqwest::{Method, StatusCode};
use rollcall_tests::dns::TestDns;
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint};
use serde_json::{Value, json};

async fn servers(dns: &TestDns) -> Vec<TestServer> {
    let resolver = dns.addr.to_string();
    let env = [("ROLLCALL_DNS_RESOLVER", resolver.as_str())];
    let mut v = vec![TestServer::start_with_env(Backend::Embedded, &env).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start_with_env(Backend::Emulated { endpoint }, &env).await);
    }
    v
}

/// An organization seen from its first organization manager.
struct Org {
    id: String,
    manager: String,
}

/// Typed helpers for the domain routes.
struct Api<'a> {
    s: &'a TestServer,
}

impl Api<'_> {
    async fn create_org(&self, owner_email: &str, name: &str) -> Org {
        let manager = self.s.token(owner_email, Some("Owner"), true);
        let org = self.s.create_org(&manager, name).await;
        Org {
            id: org["id"].as_str().unwrap().to_owned(),
            manager,
        }
    }

    async fn add(&self, org: &Org, domain: &str) -> (StatusCode, Value) {
        self.s
            .call(
                Method::POST,
                &format!("/orgs/{}/domains", org.id),
                Some(&org.manager),
                Some(json!({ "domain": domain })),
            )
            .await
    }

    async fn verify(&self, org: &Org, domain: &str) -> (StatusCode, Value) {
        self.s
            .call(
                Method::POST,
                &format!("/orgs/{}/domains/{domain}/verify", org.id),
                Some(&org.manager),
                None,
            )
            .await
    }

    async fn list(&self, org: &Org, token: &str) -> (StatusCode, Value) {
        self.s
            .call(
                Method::GET,
                &format!("/orgs/{}/domains", org.id),
                Some(token),
                None,
            )
            .await
    }

    async fn set_enrollment(&self, org: &Org, domain: &str, mode: &str) -> (StatusCode, Value) {
        self.s
            .call(
                Method::PATCH,
                &format!("/orgs/{}/domains/{domain}", org.id),
                Some(&org.manager),
                Some(json!({ "enrollment": mode })),
            )
            .await
    }

    async fn delete(&self, org: &Org, domain: &str) -> (StatusCode, Value) {
        self.s
            .call(
                Method::DELETE,
                &format!("/orgs/{}/domains/{domain}", org.id),
                Some(&org.manager),
                None,
            )
            .await
    }

    async fn my_invitations(&self, token: &str) -> (StatusCode, Value) {
        self.s
            .call(Method::GET, "/me/invitations", Some(token), None)
            .await
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The invitations of `body` (a `/me/invitations` page) from `org`.
fn from_org<'a>(body: &'a Value, org: &Org) -> Vec<&'a Value> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["org_id"] == org.id.as_str())
        .collect()
}

#[tokio::test]
async fn verify_claim_release_and_automatic_invitation() {
    let dns = TestDns::start().await;
    for s in servers(&dns).await {
        let api = Api { s: &s };
        let a = api.create_org("ann@acme.example", "Acme").await;
        let b = api.create_org("bob@rival.example", "Rival").await;

        // Create: pending, with the record to publish; Unicode and case normalized.
        let (st, d) = api.add(&a, " Acme.EXAMPLE ").await;
        assert_eq!(st, StatusCode::CREATED, "{d}");
        assert_eq!(d["domain"], "acme.example");
        assert_eq!(d["state"], "pending");
        assert_eq!(d["enrollment"], "manual");
        assert_eq!(d["verification"]["type"], "TXT");
        assert_eq!(
            d["verification"]["name"],
            "_rollcall-challenge.acme.example"
        );
        let value = d["verification"]["value"].as_str().unwrap().to_owned();
        assert!(
            value.starts_with("rollcall-domain-verification=rcd_"),
            "{value}"
        );
        let (st, again) = api.add(&a, "acme.example").await;
        assert_eq!(st, StatusCode::CONFLICT, "{again}");
        assert_eq!(code(&again), "domain_exists");
        let (st, idn) = api.add(&a, "B\u{FC}cher.example").await;
        assert_eq!(st, StatusCode::CREATED, "{idn}");
        assert_eq!(idn["domain"], "xn--bcher-kva.example");

        // Bad input and public mail domains.
        for public in [
            "gmail.com",
            "Outlook.com",
            "gmx.de",
            "yahoo.co.uk",
            "qq.com",
        ] {
            let (st, body) = api.add(&a, public).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{public}: {body}");
            assert_eq!(code(&body), "public_mail_domain", "{public}");
        }
        for bad in ["not a domain", "nodot", "a..b.example", "-a.example", ""] {
            let (st, body) = api.add(&a, bad).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
            assert_eq!(code(&body), "invalid_domain", "{bad:?}");
        }

        // Verify without the record: 200, still pending, with the reason.
        let (st, d) = api.verify(&a, "acme.example").await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["state"], "pending");
        assert!(d["last_checked_at"].is_string(), "{d}");
        assert_eq!(
            d["last_check_reason"],
            "No TXT record found at _rollcall-challenge.acme.example"
        );
        assert_eq!(d["failed_checks"], 1);
        // A record with another value is not proof.
        dns.publish_txt("_rollcall-challenge.acme.example", "something-else");
        let (st, d) = api.verify(&a, "ACME.example").await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["state"], "pending");
        assert!(
            d["last_check_reason"]
                .as_str()
                .unwrap()
                .contains("do not contain the verification value"),
            "{d}"
        );

        // Publish the record: verified.
        dns.publish_txt("_rollcall-challenge.acme.example", &value);
        let (st, d) = api.verify(&a, "acme.example").await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["state"], "verified", "{d}");
        assert!(d["verified_at"].is_string(), "{d}");
        assert_eq!(d["last_check_reason"], Value::Null);
        // Verifying again changes nothing.
        let (st, d2) = api.verify(&a, "acme.example").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(d2["verified_at"], d["verified_at"]);

        // Another org may add it (pending in several orgs) but not verify it, even with its own
        // record published.
        let (st, bd) = api.add(&b, "acme.example").await;
        assert_eq!(st, StatusCode::CREATED, "{bd}");
        assert_eq!(bd["state"], "pending");
        let b_value = bd["verification"]["value"].as_str().unwrap().to_owned();
        assert_ne!(b_value, value);
        dns.publish_txt("_rollcall-challenge.acme.example", &b_value);
        let (st, body) = api.verify(&b, "acme.example").await;
        assert_eq!(st, StatusCode::CONFLICT, "{body}");
        assert_eq!(code(&body), "domain_claimed");
        let (st, list) = api.list(&b, &b.manager).await;
        assert_eq!(st, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["state"], "pending");
        assert_eq!(list["next_cursor"], Value::Null);
        // B cannot see or delete A's domains (another organization is 404).
        let (st, _) = api.list(&a, &b.manager).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let as_b = Org {
            id: a.id.clone(),
            manager: b.manager.clone(),
        };
        let (st, _) = api.delete(&as_b, "acme.example").await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, body) = api.verify(&a, "unknown.example").await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(code(&body), "domain_not_found");

        // Enrollment: only a verified domain enrolls automatically.
        let (st, body) = api
            .set_enrollment(&b, "acme.example", "automatic_invitation")
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "domain_not_verified");
        let (st, body) = api.set_enrollment(&a, "acme.example", "sometimes").await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let (st, d) = api
            .set_enrollment(&a, "acme.example", "automatic_invitation")
            .await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["enrollment"], "automatic_invitation");

        // A verified address of the domain finds an invitation from A, once.
        let carol = s.token("Carol@Acme.example", Some("Carol"), true);
        let (st, mine) = api.my_invitations(&carol).await;
        assert_eq!(st, StatusCode::OK, "{mine}");
        let offered = from_org(&mine, &a);
        assert_eq!(offered.len(), 1, "{mine}");
        assert_eq!(offered[0]["status"], "pending");
        assert_eq!(offered[0]["assignments"], json!([{"role": "member"}]));
        assert_eq!(offered[0]["email_status"], "not_sent");
        let inv = offered[0]["id"].as_str().unwrap().to_owned();
        let (st, mine) = api.my_invitations(&carol).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(from_org(&mine, &a).len(), 1, "idempotent: {mine}");
        assert_eq!(from_org(&mine, &a)[0]["id"], inv.as_str());
        assert!(
            s.sent_mail()
                .await
                .iter()
                .all(|m| m["to"] != "Carol@Acme.example")
        );
        // Not for an unverified address of the domain, nor for another domain.
        let dave = s.token("dave@acme.example", None, false);
        let (st, body) = api.my_invitations(&dave).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        let erin = s.token("erin@other.example", None, true);
        let (st, mine) = api.my_invitations(&erin).await;
        assert_eq!(st, StatusCode::OK);
        assert!(from_org(&mine, &a).is_empty(), "{mine}");
        // Accepting it makes Carol a member; she is not invited again.
        let (st, m) = s
            .call(
                Method::POST,
                &format!("/me/invitations/{inv}/accept"),
                Some(&carol),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{m}");
        let (_, mine) = api.my_invitations(&carol).await;
        assert!(from_org(&mine, &a).is_empty(), "{mine}");
        // Members are not domain managers.
        let (st, body) = api.list(&a, &carol).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        // Removed, Carol is not invited back by herself.
        let carol_id = m["user_id"].as_str().unwrap().to_owned();
        let (st, body) = s
            .call(
                Method::DELETE,
                &format!("/orgs/{}/users/{carol_id}", a.id),
                Some(&a.manager),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let (_, mine) = api.my_invitations(&carol).await;
        assert!(from_org(&mine, &a).is_empty(), "{mine}");
        // A declined invitation is not offered again.
        let frank = s.token("frank@acme.example", None, true);
        let (_, mine) = api.my_invitations(&frank).await;
        let inv = from_org(&mine, &a)[0]["id"].as_str().unwrap().to_owned();
        let (st, _) = s
            .call(
                Method::POST,
                &format!("/me/invitations/{inv}/decline"),
                Some(&frank),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, mine) = api.my_invitations(&frank).await;
        assert!(from_org(&mine, &a).is_empty(), "{mine}");

        // Deleting releases the claim: the other organization can now verify.
        let (st, body) = api.delete(&a, "acme.example").await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let (st, body) = api.delete(&a, "acme.example").await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        let (st, d) = api.verify(&b, "acme.example").await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(d["state"], "verified", "{d}");
        // A's automatic enrollment went with its domain.
        let gina = s.token("gina@acme.example", None, true);
        let (_, mine) = api.my_invitations(&gina).await;
        assert!(mine["items"].as_array().unwrap().is_empty(), "{mine}");
        dns.remove("_rollcall-challenge.acme.example");
    }
}

#[tokio::test]
async fn a_dns_failure_is_503_and_changes_nothing() {
    let dns = TestDns::start().await;
    for s in servers(&dns).await {
        let api = Api { s: &s };
        let a = api.create_org("ann@broken.example", "Broken").await;
        let (st, _) = api.add(&a, "broken.example").await;
        assert_eq!(st, StatusCode::CREATED);
        dns.set_failing("_rollcall-challenge.broken.example", true);
        let (st, body) = api.verify(&a, "broken.example").await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(code(&body), "dns_unavailable");
        let (st, list) = api.list(&a, &a.manager).await;
        assert_eq!(st, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["state"], "pending", "{list}");
        assert_eq!(list["items"][0]["failed_checks"], 0, "{list}");
        assert_eq!(list["items"][0]["last_checked_at"], Value::Null, "{list}");
        dns.set_failing("_rollcall-challenge.broken.example", false);
    }
}

/// A verified domain vouches for its addresses: SCIM provisioning of an address of the
/// organization's verified domain that belongs to an existing account links it at once, without
/// the person's consent; any other address still waits for consent. The SCIM answer is the same
/// either way (a new id that is not the account's).
#[tokio::test]
async fn scim_links_an_existing_account_of_a_verified_domain_without_consent() {
    let dns = TestDns::start().await;
    for s in servers(&dns).await {
        let api = Api { s: &s };
        let a = api.create_org("ann@acme.example", "Acme").await;
        let (st, d) = api.add(&a, "acme.example").await;
        assert_eq!(st, StatusCode::CREATED, "{d}");
        dns.publish_txt(
            d["verification"]["name"].as_str().unwrap(),
            d["verification"]["value"].as_str().unwrap(),
        );
        let (st, d) = api.verify(&a, "acme.example").await;
        assert_eq!(
            (st, d["state"].clone()),
            (StatusCode::OK, json!("verified")),
            "{d}"
        );
        let (st, made) = s
            .call(
                Method::POST,
                &format!("/orgs/{}/scim-tokens", a.id),
                Some(&a.manager),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{made}");
        let scim_token = made["token"].as_str().unwrap().to_owned();

        // Two people who already have accounts: one in the verified domain, one elsewhere.
        let carl = s.token_with_subject("idp|carl", "carl@acme.example", true);
        let dora = s.token_with_subject("idp|dora", "dora@elsewhere.example", true);
        let mut account_ids = Vec::new();
        for t in [&carl, &dora] {
            let (st, me) = s.call(Method::GET, "/me", Some(t), None).await;
            assert_eq!(st, StatusCode::OK, "{me}");
            account_ids.push(me["user"]["id"].clone());
        }
        for address in ["carl@acme.example", "dora@elsewhere.example"] {
            let r = s
                .scim(
                    Method::POST,
                    "/Users",
                    Some(&scim_token),
                    Some(
                        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": address, "emails": [{"value": address, "primary": true}]}),
                    ),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            assert!(!account_ids.contains(&r.body["id"]), "{}", r.body);
            let again = s
                .scim(
                    Method::GET,
                    &format!("/Users/{}", r.body["id"].as_str().unwrap()),
                    Some(&scim_token),
                    None,
                )
                .await;
            assert_eq!(again.body["id"], r.body["id"], "{}", again.body);
        }
        let orgs = |t: String| {
            let s = &s;
            async move { s.call(Method::GET, "/orgs", Some(&t), None).await.1 }
        };
        assert_eq!(
            orgs(carl.clone()).await["items"][0]["id"],
            json!(a.id),
            "linked at once"
        );
        assert_eq!(orgs(dora.clone()).await["items"], json!([]), "asked first");
    }
}
