//! `GET /_local/events` of the local server: the membership events of every change, as the
//! `events` function publishes them from the stream in AWS, newest last.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer};
use serde_json::{Value, json};

async fn events(s: &TestServer) -> Vec<Value> {
    let (st, body) = s.call(Method::GET, "/_local/events", None, None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[tokio::test]
async fn every_membership_change_is_an_event_in_order() {
    let s = TestServer::start(Backend::Embedded).await;
    assert!(events(&s).await.is_empty());
    let owner = s.token("owner@events.test", Some("Owner"), true);
    let org = s.create_org(&owner, "Events").await;
    let org = org["id"].as_str().unwrap().to_owned();
    // Creating an organization or a pool is no product event.
    assert!(events(&s).await.is_empty());

    let (st, res) = s
        .call(
            Method::POST,
            &format!("/orgs/{org}/invitations"),
            Some(&owner),
            Some(json!({"invitations": [{"email": "ada@events.test"}], "send_email": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    let invitation = res["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = res["results"][0]["accept_url"]
        .as_str()
        .unwrap()
        .rsplit("token=")
        .next()
        .unwrap()
        .to_owned();
    let ada = s.token("ada@events.test", Some("Ada"), true);
    let (st, member) = s
        .call(
            Method::POST,
            "/invitations/accept",
            Some(&ada),
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{member}");
    let ada_id = member["user_id"].as_str().unwrap().to_owned();
    let (st, body) = s
        .call(
            Method::PUT,
            &format!("/orgs/{org}/users/{ada_id}/assignments"),
            Some(&owner),
            Some(json!({"assignments": [{"role": "organization_manager"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{org}/users/{ada_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    let all = events(&s).await;
    assert_eq!(
        types(&all),
        [
            "invitation.created",
            "invitation.accepted",
            "member.joined",
            "member.roles_changed",
            "member.removed"
        ]
    );
    for e in &all {
        assert_eq!(e["version"], "1", "{e}");
        assert_eq!(e["org_id"], json!(org), "{e}");
        assert!(e["id"].as_str().unwrap().starts_with("aud_"), "{e}");
    }
    assert_eq!(all[0]["data"]["invitation_id"], json!(invitation));
    assert_eq!(all[2]["data"]["user_id"], json!(ada_id));
    assert_eq!(all[2]["data"]["via"], "invitation");
    assert_eq!(
        all[3]["data"]["assignments"]["after"],
        json!([{"role": "organization_manager"}])
    );
    assert_eq!(all[4]["data"]["user_id"], json!(ada_id));
    assert_eq!(all[4]["actor"]["type"], "user");
    // The same list on every read: ids are stable.
    let again = events(&s).await;
    assert_eq!(again, all);

    // Creating a pool is no event; deleting it is one, for every assignment that went with it.
    let (st, pool) = s
        .call(
            Method::POST,
            &format!("/orgs/{org}/pools"),
            Some(&owner),
            Some(json!({"name": "Short-lived"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{pool}");
    let pool = pool["id"].as_str().unwrap().to_owned();
    assert_eq!(events(&s).await, all);
    let (st, body) = s
        .call(
            Method::DELETE,
            &format!("/orgs/{org}/pools/{pool}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let after = events(&s).await;
    assert_eq!(after.len(), all.len() + 1);
    let last = &after[all.len()];
    assert_eq!(last["type"], "pool.deleted", "{last}");
    assert_eq!(last["data"]["pool_id"], json!(pool), "{last}");
    assert_eq!(last["data"]["name"], "Short-lived", "{last}");
}
