//! SCIM Groups over HTTP on the embedded store and on DynamoDB (moto): the request sequences
//! Okta (Group Push) and Microsoft Entra ID send, recorded as JSON fixtures in
//! tests/fixtures/scim and replayed step by step, checking each answer and the group's members.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, ScimOrgSetup, TestServer, emulator_endpoint, url_encode};
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::start(Backend::Embedded).await];
    if let Some(endpoint) = emulator_endpoint() {
        v.push(TestServer::start(Backend::Emulated { endpoint }).await);
    }
    v
}

/// Replaces every `{name}` with its value (user ids by name, saved ids).
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn fill_json(v: &Value, vars: &BTreeMap<String, String>) -> Value {
    serde_json::from_str(&fill(&v.to_string(), vars)).expect("filled JSON")
}

/// The value at a dotted path (`Resources.0.id`).
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

async fn provision(s: &TestServer, t: &ScimOrgSetup, name: &str, domain: &str) -> String {
    let email = format!("{name}@{domain}");
    let r = s
        .scim(
            Method::POST,
            "/Users",
            Some(&t.scim_token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": {"givenName": name, "familyName": "Tester"},
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": true
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn replay(s: &TestServer, fixture: &str) {
    let path = format!("{}/fixtures/scim/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let provider = f["provider"].as_str().unwrap();
    let domain = f["domain"].as_str().unwrap();
    let t = s
        .scim_org(&format!("owner@{domain}"), &format!("{provider} org"))
        .await;
    let mut vars = BTreeMap::new();
    let mut names = BTreeMap::new();
    for u in f["users"].as_array().unwrap() {
        let name = u.as_str().unwrap();
        let id = provision(s, &t, name, domain).await;
        names.insert(id.clone(), name.to_owned());
        vars.insert(name.to_owned(), id);
    }
    for (i, step) in f["steps"].as_array().unwrap().iter().enumerate() {
        let method = Method::from_bytes(step["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = fill(step["path"].as_str().unwrap(), &vars);
        let body = step.get("body").map(|b| fill_json(b, &vars));
        let r = s
            .scim(method.clone(), &url, Some(&t.scim_token), body)
            .await;
        let what = format!(
            "{provider} step {i} ({}): {method} {url} → {} {}",
            step["note"].as_str().unwrap_or(""),
            r.status,
            r.body
        );
        assert_eq!(
            r.status.as_u16() as u64,
            step["status"].as_u64().unwrap(),
            "{what}"
        );
        if let Some(save) = step["save"].as_str() {
            vars.insert(save.to_owned(), r.body["id"].as_str().unwrap().to_owned());
        }
        if let Some(expect) = step["expect"].as_object() {
            for (k, want) in expect {
                let want = fill_json(want, &vars);
                assert_eq!(at(&r.body, k), &want, "{what}: {k}");
            }
        }
        if let Some(want) = step["members"].as_array() {
            let g = s
                .scim(
                    Method::GET,
                    &format!("/Groups/{}", vars["group"]),
                    Some(&t.scim_token),
                    None,
                )
                .await;
            assert_eq!(g.status, StatusCode::OK, "{what}: {}", g.body);
            let mut got: Vec<String> = g.body["members"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: members listed: {}", g.body))
                .iter()
                .map(|m| names[m["value"].as_str().unwrap()].clone())
                .collect();
            got.sort();
            let mut want: Vec<String> = want
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            want.sort();
            assert_eq!(got, want, "{what}: members after the step");
        }
    }
}

#[tokio::test]
async fn okta_group_push_sequence() {
    for s in servers().await {
        replay(&s, "okta-group-push.json").await;
    }
}

#[tokio::test]
async fn entra_group_sequence() {
    for s in servers().await {
        replay(&s, "entra-groups.json").await;
    }
}

/// Searches by member (the key condition, alone or with others) and a list page that asks for
/// members: the right groups, in id order, each with its own members.
#[tokio::test]
async fn groups_are_found_by_member_and_listed_with_their_members() {
    for s in servers().await {
        let t = s.scim_org("owner@search.test", "Search org").await;
        let mut ids = BTreeMap::new();
        for name in ["ann", "ben", "cat"] {
            ids.insert(name, provision(&s, &t, name, "search.test").await);
        }
        for (name, members) in [
            ("Alpha", vec!["ann", "ben"]),
            ("Beta", vec!["ben"]),
            ("Gamma", vec!["cat"]),
            ("Delta", vec![]),
        ] {
            let members: Vec<Value> = members.iter().map(|m| json!({"value": ids[m]})).collect();
            let r = s
                .scim(
                    Method::POST,
                    "/Groups",
                    Some(&t.scim_token),
                    Some(json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": name,
                        "members": members,
                    })),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        let search = async |filter: &str| -> Vec<String> {
            let r = s
                .scim(
                    Method::GET,
                    &format!("/Groups?filter={}", url_encode(filter)),
                    Some(&t.scim_token),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
            let names: Vec<String> = r.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["displayName"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(r.body["totalResults"], names.len(), "{filter}");
            names
        };
        let ben = &ids["ben"];
        assert_eq!(
            search(&format!(r#"members[value eq "{ben}"]"#)).await,
            ["Alpha", "Beta"]
        );
        assert_eq!(
            search(&format!(
                r#"members[value eq "{ben}"] and displayName eq "Beta""#
            ))
            .await,
            ["Beta"]
        );
        let ann = &ids["ann"];
        assert_eq!(
            search(&format!(
                r#"members[value eq "{ben}"] and members[value eq "{ann}"]"#
            ))
            .await,
            ["Alpha"]
        );
        assert!(search(r#"members[value eq "usr_nobody"]"#).await.is_empty());

        // A page that asks for members: every group, in id order (creation order), each with its
        // own members.
        let r = s
            .scim(
                Method::GET,
                "/Groups?attributes=displayName,members",
                Some(&t.scim_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let names: BTreeMap<&str, &str> = ids.iter().map(|(n, id)| (id.as_str(), *n)).collect();
        let listed: Vec<(String, Vec<String>)> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let mut members: Vec<String> = g["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| names[m["value"].as_str().unwrap()].to_owned())
                    .collect();
                members.sort();
                (g["displayName"].as_str().unwrap().to_owned(), members)
            })
            .collect();
        let want: Vec<(String, Vec<String>)> = [
            ("Alpha", vec!["ann", "ben"]),
            ("Beta", vec!["ben"]),
            ("Gamma", vec!["cat"]),
            ("Delta", vec![]),
        ]
        .into_iter()
        .map(|(g, m)| (g.to_owned(), m.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(listed, want);
    }
}
