//! The whole invitation story over HTTP against the real local server, on the embedded store and
//! on DynamoDB + SES (moto).

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer, emulator_endpoint, token_in};
use serde_json::{Value, json};

#[tokio::test]
async fn story_on_embedded_store() {
    let server = TestServer::start(Backend::Embedded).await;
    story(&server).await;
}

#[tokio::test]
async fn story_on_dynamodb_and_ses() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let server = TestServer::start(Backend::Emulated { endpoint }).await;
    story(&server).await;
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

async fn story(s: &TestServer) {
    let owner = s.token("owner@acme.test", Some("Olivia Owner"), true);
    let bob_email = "Bob.Builder@Example.test";
    let bob = s.token("bob.builder@example.test", Some("Bob"), true);
    let mallory = s.token("mallory@evil.test", Some("Mallory"), true);
    let bob_unverified = s.token("bob.builder@example.test", Some("Bob"), false);

    // A token from the real `rollcall token` command is accepted.
    let (st, me) = s
        .call(
            Method::GET,
            "/me",
            Some(&s.token_from_cli("cli@acme.test")),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], "cli@acme.test");

    // Create the organization; the creator is its organization manager.
    let org = s.create_org(&owner, "Acme").await;
    let org_id = id(&org);
    let root = org["root_pool_id"].as_str().unwrap().to_owned();
    let (st, me) = s.call(Method::GET, "/me", Some(&owner), None).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    let owner_id = me["user"]["id"].as_str().unwrap().to_owned();

    // Pools: engineering under the root, backend under engineering.
    let (st, eng) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/pools"),
            Some(&owner),
            Some(json!({"name": "Engineering"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{eng}");
    assert_eq!(eng["parent_id"], json!(root));
    let eng_id = id(&eng);
    let (st, dup) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/pools"),
            Some(&owner),
            Some(json!({"name": "engineering"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["error"]["code"], "pool_name_taken");

    // Bulk invite with every per-entry outcome.
    let body = json!({
        "invitations": [
            {"email": bob_email, "name": "Bob"},
            {"email": "not-an-email"},
            {"email": "BOB.builder@example.test"},
            {"email": "owner@acme.test"},
            {"email": "carol@example.test", "assignments": [{"role": "engineer", "pool_id": "pool_0123456789abcdef0123456789abcdef"}]},
            {"email": "dave@example.test", "assignments": [{"role": "engineer", "pool_id": eng_id}]}
        ],
        "assignments": [{"role": "manager", "pool_id": eng_id}]
    });
    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/invitations"),
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    let results = res["results"].as_array().unwrap();
    let outcome = |i: usize| {
        (
            results[i]["result"].as_str().unwrap().to_owned(),
            results[i]["error"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    assert_eq!(outcome(0), ("invited".into(), "".into()), "{res}");
    assert_eq!(outcome(1), ("error".into(), "invalid_email".into()));
    assert_eq!(outcome(2), ("error".into(), "duplicate_email".into()));
    assert_eq!(outcome(3), ("error".into(), "self_invite".into()));
    assert_eq!(outcome(4), ("error".into(), "pool_not_found".into()));
    assert_eq!(outcome(5), ("invited".into(), "".into()));
    let bob_inv = &results[0]["invitation"];
    assert_eq!(bob_inv["email"], bob_email, "stored as given");
    assert_eq!(bob_inv["status"], "pending");
    assert_eq!(bob_inv["email_status"], "sent");
    assert!(
        results[0].get("accept_url").is_none_or(Value::is_null),
        "no accept_url when mail is sent"
    );
    assert!(bob_inv.get("token").is_none() && bob_inv.get("token_hash").is_none());
    let bob_inv_id = id(bob_inv);

    // Re-inviting a pending address merges assignments and resends.
    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/invitations"),
            Some(&owner),
            Some(json!({
                "invitations": [{"email": "bob.builder@example.test"}],
                "assignments": [{"role": "engineer", "pool_id": root}]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(res["results"][0]["result"], "resent", "{res}");
    let merged = res["results"][0]["invitation"]["assignments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(merged.len(), 2, "{merged:?}");

    // The email: subject, escaped HTML, accept link with the current token.
    let mail = s
        .last_mail_to("Bob.Builder@Example.test")
        .await
        .or(s.last_mail_to("bob.builder@example.test").await)
        .expect("mail to bob");
    assert_eq!(
        mail["subject"], "Olivia Owner invited you to join Acme on Rollcall Test",
        "{mail}"
    );
    let token = token_in(mail["text"].as_str().unwrap()).expect("token in mail");
    assert!(token.starts_with("rci_"));

    // Public preview.
    let (st, preview) = s
        .call(Method::GET, &format!("/invitations/{token}"), None, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{preview}");
    assert_eq!(preview["org_name"], "Acme");
    assert_eq!(preview["org_id"], org_id.as_str(), "{preview}");
    assert_eq!(preview["inviter_name"], "Olivia Owner");
    // The pools the roles are on, by name (the accept page shows names, not ids).
    assert_eq!(
        preview["pools"],
        json!([{"id": eng_id, "name": "Engineering"}, {"id": root, "name": "Acme"}]),
        "{preview}"
    );
    let (st, missing) = s
        .call(
            Method::GET,
            "/invitations/rci_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "invitation_not_found");

    // The wrong person cannot accept, nor an unverified email; the invitation stays intact.
    let (st, err) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&mallory),
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{err}");
    assert_eq!(err["error"]["code"], "email_mismatch");
    let (st, err) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&bob_unverified),
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{err}");
    let (st, _) = s
        .call(Method::GET, &format!("/invitations/{token}"), None, None)
        .await;
    assert_eq!(st, StatusCode::OK, "still pending after refused accepts");

    // Bob sees it among his invitations, then accepts.
    let (st, mine) = s
        .call(Method::GET, "/me/invitations", Some(&bob), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{mine}");
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == json!(bob_inv_id) || i["invitation"]["id"] == json!(bob_inv_id)),
        "{mine}"
    );
    let (st, member) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&bob),
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{member}");
    assert_eq!(member["source"], "invitation");
    let bob_id = member["user_id"].as_str().unwrap().to_owned();
    let (st, again) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&bob),
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "single use: {again}");
    assert_eq!(again["error"]["code"], "invitation_already_used");
    let (st, _) = s
        .call(Method::GET, &format!("/invitations/{token}"), None, None)
        .await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a used token previews as not found"
    );

    // Listed with roles; the invitation shows accepted.
    let (st, users) = s
        .call(
            Method::GET,
            &format!("/orgs/{org_id}/users?role=manager&pool_id={eng_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{users}");
    let items = users["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{users}");
    assert_eq!(items[0]["user_id"], json!(bob_id));
    let (st, invs) = s
        .call(
            Method::GET,
            &format!("/orgs/{org_id}/invitations?status=accepted"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(invs["items"][0]["accepted_by"], json!(bob_id), "{invs}");

    // Already a member now.
    let (_, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/invitations"),
            Some(&owner),
            Some(json!({"invitations": [{"email": bob_email}]})),
        )
        .await;
    assert_eq!(
        res["results"][0]["error"]["code"], "already_member",
        "{res}"
    );

    // Bob, manager of Engineering, creates a sub-pool there but not at the root; he owns it.
    let (st, backend) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/pools"),
            Some(&bob),
            Some(json!({"name": "Backend", "parent_id": eng_id})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{backend}");
    assert_eq!(backend["owner_id"], json!(bob_id));
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/orgs/{org_id}/pools"),
            Some(&bob),
            Some(json!({"name": "Rogue"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Bob cannot make himself organization manager.
    let (st, _) = s
        .call(
            Method::PUT,
            &format!("/orgs/{org_id}/users/{bob_id}/assignments"),
            Some(&bob),
            Some(json!({"assignments": [{"role": "organization_manager"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The last organization manager cannot leave or be demoted.
    let (st, err) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{org_id}/users/{owner_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "last_organization_manager");

    // Remove Bob; his pool passes to the owner (the default successor).
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{org_id}/users/{bob_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, pools) = s
        .call(
            Method::GET,
            &format!("/orgs/{org_id}/pools"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let backend_now = pools["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Backend")
        .cloned()
        .unwrap();
    assert_eq!(
        backend_now["owner_id"],
        json!(owner_id),
        "assets moved to the successor"
    );
    let names: Vec<&str> = pools["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Acme", "Engineering", "Backend"],
        "parents before children"
    );
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/orgs/{org_id}/users/{bob_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/orgs/{org_id}/pools"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "a former member sees the org as unknown"
    );
}
