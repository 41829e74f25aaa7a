//! Crash safety of the embedded store (issue 10): concurrent writes of every kind against the real
//! `rollcall serve`, `kill -9` at a random moment, restart on the same data directory, then:
//! every write that was answered 2xx is there, the store opens cleanly, and `rollcall check-store`
//! finds every index entry, claim and counter in agreement with the data (so nothing that was not
//! answered is half there). Many rounds, bounded in time.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer, token_in, try_call};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Rounds of traffic, kill, restart and check.
const ROUNDS: usize = 12;
/// Concurrent clients during a round.
const CLIENTS: usize = 8;

/// What the clients were told was done (2xx), to be found after every crash.
#[derive(Default)]
struct Acknowledged {
    /// Invitations created: (id, email).
    invited: Vec<(String, String)>,
    /// Members made by accepting or joining: user id.
    members: Vec<String>,
    /// SCIM users created and left alone: SCIM id.
    scim_users: Vec<String>,
    /// SCIM users suspended by PATCH: SCIM id.
    suspended: Vec<String>,
    /// SCIM users deleted: SCIM id.
    scim_deleted: Vec<String>,
    /// Members removed with a hand-over: (user id, pool id that moved to the owner).
    removed: Vec<(String, String)>,
}

/// Work that a later operation may take: objects acknowledged and not yet used by another kind.
#[derive(Default)]
struct Pending {
    /// Invitations whose token is known, not yet accepted: (token, email).
    to_accept: Vec<(String, String)>,
    /// Addresses whose invitation was taken for an accept (answered or not).
    accept_taken: std::collections::HashSet<String>,
    /// SCIM users to suspend or delete.
    scim_free: Vec<String>,
    /// Members owning a pool, to remove: (user id, pool id).
    to_remove: Vec<(String, String)>,
}

struct Fixture {
    org: String,
    owner: String,
    owner_id: String,
    pool: String,
    link_token: String,
    scim_token: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_and_the_store_stays_consistent() {
    let mut s = TestServer::start(Backend::Embedded).await;
    let http = reqwest::Client::new();
    let busy = s.busy_org("olivia@crash.test", "Crash").await;
    let (st, pool) = s
        .call(
            Method::POST,
            &format!("/orgs/{}/pools", busy.org),
            Some(&busy.owner),
            Some(json!({"name": "Platform"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{pool}");
    let fx = Arc::new(Fixture {
        org: busy.org,
        owner: busy.owner,
        owner_id: busy.owner_id,
        pool: pool["id"].as_str().unwrap().to_owned(),
        link_token: busy.link_token,
        scim_token: busy.scim_token,
    });
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let pending = Arc::new(Mutex::new(Pending::default()));
    let started = Instant::now();
    let mut unanswered = 0usize;
    let mut answered = 0usize;

    for round in 0..ROUNDS {
        // Invitation tokens from the outbox for the invitations acknowledged so far.
        let mails = s.sent_mail().await;
        {
            let acked = acked.lock().await;
            let mut p = pending.lock().await;
            let known: Vec<String> = p.to_accept.iter().map(|(_, e)| e.clone()).collect();
            for (_, email) in acked.invited.iter().rev().take(40) {
                if known.contains(email) || p.accept_taken.contains(email) {
                    continue;
                }
                let mail = mails.iter().rev().find(|m| m["to"] == email.as_str());
                if let Some(t) = mail.and_then(|m| m["text"].as_str()).and_then(token_in) {
                    p.to_accept.push((t, email.clone()));
                }
            }
        }

        let base = s.base.clone();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (http, base, fx, acked, pending) = (
                    http.clone(),
                    base.clone(),
                    fx.clone(),
                    acked.clone(),
                    pending.clone(),
                );
                let key = s.data_dir.path().to_owned();
                tokio::spawn(async move {
                    let mut n = 0usize;
                    let (mut ok, mut lost) = (0usize, 0usize);
                    // Until the server dies under us (or a bound, should it not).
                    while n < 400 {
                        n += 1;
                        let tag = format!("r{round}c{c}n{n}");
                        match one_operation(
                            &http,
                            &base,
                            &fx,
                            &key,
                            &tag,
                            (c + n) % 7,
                            &acked,
                            &pending,
                        )
                        .await
                        {
                            Some(()) => ok += 1,
                            None => {
                                lost += 1;
                                break;
                            }
                        }
                    }
                    (ok, lost)
                })
            })
            .collect();
        // Kill at a random moment of the round's traffic.
        let delay = 80 + (uuid::Uuid::now_v7().as_u128() % 400) as u64;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        s.crash();
        for c in clients {
            let (ok, lost) = c.await.unwrap();
            answered += ok;
            unanswered += lost;
        }

        // The store opens and checks clean with the server down.
        s.assert_store_consistent(&format!("after kill -9 in round {round}"));
        s.restart();
        verify(&s, &http, &fx, &*acked.lock().await, round).await;
    }
    let acked = acked.lock().await;
    eprintln!(
        "crash test: {ROUNDS} rounds of kill -9 in {:.1} s; {answered} writes answered 2xx and found \
         after the crashes ({} invitations, {} members, {} SCIM users, {} suspended, {} SCIM deletes, \
         {} removals with hand-over); {unanswered} requests cut off by the kill",
        started.elapsed().as_secs_f64(),
        acked.invited.len(),
        acked.members.len(),
        acked.scim_users.len() + acked.suspended.len() + acked.scim_deleted.len(),
        acked.suspended.len(),
        acked.scim_deleted.len(),
        acked.removed.len(),
    );
    assert!(
        acked.invited.len() > 20
            && acked.suspended.len() + acked.scim_deleted.len() > 10
            && !acked.removed.is_empty(),
        "the rounds did real work"
    );
}

/// One write of kind `kind`; `None` when the server did not answer (it was killed).
#[allow(clippy::too_many_arguments)]
async fn one_operation(
    http: &reqwest::Client,
    base: &str,
    fx: &Fixture,
    data_dir: &std::path::Path,
    tag: &str,
    kind: usize,
    acked: &Mutex<Acknowledged>,
    pending: &Mutex<Pending>,
) -> Option<()> {
    let org = &fx.org;
    match kind {
        // Bulk invite of two new addresses.
        0 | 1 => {
            let emails = [
                format!("{tag}a@invitee.test"),
                format!("{tag}b@invitee.test"),
            ];
            let body = json!({
                "invitations": emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
                "assignments": [{"role": "engineer", "pool_id": fx.pool}],
            });
            let (st, res) = try_call(
                http,
                base,
                Method::POST,
                &format!("/orgs/{org}/invitations"),
                &fx.owner,
                Some(body),
            )
            .await?;
            assert_eq!(st, StatusCode::OK, "{res}");
            let mut a = acked.lock().await;
            for r in res["results"].as_array().unwrap() {
                assert_eq!(r["result"], "invited", "{r}");
                a.invited.push((
                    r["invitation"]["id"].as_str().unwrap().to_owned(),
                    r["email"].as_str().unwrap().to_owned(),
                ));
            }
        }
        // Accept a known invitation as its invitee.
        2 => {
            let (token, email) = {
                let mut p = pending.lock().await;
                let Some((token, email)) = p.to_accept.pop() else {
                    return Some(());
                };
                p.accept_taken.insert(email.clone());
                (token, email)
            };
            let invitee = invitee_token(data_dir, &email);
            let (st, member) = try_call(
                http,
                base,
                Method::POST,
                "/invitations/accept",
                &invitee,
                Some(json!({"token": token})),
            )
            .await?;
            assert_eq!(st, StatusCode::OK, "{member}");
            acked
                .lock()
                .await
                .members
                .push(member["user_id"].as_str().unwrap().to_owned());
        }
        // Join by link, then give the new member a pool to hand over later.
        3 => {
            let joiner = invitee_token(data_dir, &format!("{tag}@joiner.test"));
            let (st, member) = try_call(
                http,
                base,
                Method::POST,
                "/join",
                &joiner,
                Some(json!({"token": fx.link_token})),
            )
            .await?;
            assert_eq!(st, StatusCode::OK, "{member}");
            let user = member["user_id"].as_str().unwrap().to_owned();
            acked.lock().await.members.push(user.clone());
            let (st, pool) = try_call(
                http,
                base,
                Method::POST,
                &format!("/orgs/{org}/pools"),
                &fx.owner,
                Some(json!({"name": tag, "parent_id": fx.pool, "owner_id": user})),
            )
            .await?;
            assert_eq!(st, StatusCode::CREATED, "{pool}");
            pending
                .lock()
                .await
                .to_remove
                .push((user, pool["id"].as_str().unwrap().to_owned()));
        }
        // SCIM: create a user.
        4 => {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("{tag}@scim.test"),
                "active": true,
                "emails": [{"value": format!("{tag}@scim.test"), "primary": true}],
            });
            let (st, user) = try_call(
                http,
                base,
                Method::POST,
                "/scim/v2/Users",
                &fx.scim_token,
                Some(body),
            )
            .await?;
            assert_eq!(st, StatusCode::CREATED, "{user}");
            let id = user["id"].as_str().unwrap().to_owned();
            acked.lock().await.scim_users.push(id.clone());
            pending.lock().await.scim_free.push(id);
        }
        // SCIM: suspend (PATCH) or delete a user created earlier.
        5 => {
            let Some(id) = pending.lock().await.scim_free.pop() else {
                return Some(());
            };
            // From here its state is in doubt until the answer comes.
            acked.lock().await.scim_users.retain(|u| u != &id);
            if uuid::Uuid::now_v7().as_u128().is_multiple_of(2) {
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}],
                });
                let (st, res) = try_call(
                    http,
                    base,
                    Method::PATCH,
                    &format!("/scim/v2/Users/{id}"),
                    &fx.scim_token,
                    Some(body),
                )
                .await?;
                assert_eq!(st, StatusCode::OK, "{res}");
                acked.lock().await.suspended.push(id);
            } else {
                let (st, res) = try_call(
                    http,
                    base,
                    Method::DELETE,
                    &format!("/scim/v2/Users/{id}"),
                    &fx.scim_token,
                    None,
                )
                .await?;
                assert_eq!(st, StatusCode::NO_CONTENT, "{res}");
                acked.lock().await.scim_deleted.push(id);
            }
        }
        // Remove a member who owns a pool; the owner is the successor.
        _ => {
            let Some((user, pool)) = pending.lock().await.to_remove.pop() else {
                return Some(());
            };
            // From here the membership is in doubt until the answer comes.
            acked.lock().await.members.retain(|m| m != &user);
            let path = format!("/orgs/{org}/users/{user}?successor_id={}", fx.owner_id);
            let (st, res) = try_call(http, base, Method::DELETE, &path, &fx.owner, None).await?;
            assert_eq!(st, StatusCode::NO_CONTENT, "{res}");
            acked.lock().await.removed.push((user, pool));
        }
    }
    Some(())
}

/// A token for `email`, signed with the data directory's key.
fn invitee_token(data_dir: &std::path::Path, email: &str) -> String {
    let key = rollcall::local_auth::LocalKey::load_or_create(data_dir).expect("signing key");
    key.sign_in(email, None, None, true, chrono::Duration::hours(1))
        .expect("token")
}

/// Every acknowledged write is there after the restart.
async fn verify(
    s: &TestServer,
    http: &reqwest::Client,
    fx: &Fixture,
    a: &Acknowledged,
    round: usize,
) {
    let org = &fx.org;
    let get = |path: String, bearer: String| {
        let (http, base) = (http.clone(), s.base.clone());
        async move {
            try_call(&http, &base, Method::GET, &path, &bearer, None)
                .await
                .expect("the restarted server answers")
        }
    };
    let mut checks = Vec::new();
    for (id, email) in &a.invited {
        let path = format!(
            "/orgs/{org}/invitations?email={}",
            rollcall_tests::server::url_encode(email)
        );
        checks.push((
            get(path, fx.owner.clone()),
            format!("invitation {id}"),
            Some(id.clone()),
        ));
    }
    for user in &a.members {
        checks.push((
            get(format!("/orgs/{org}/users/{user}"), fx.owner.clone()),
            format!("member {user}"),
            None,
        ));
    }
    for id in a.scim_users.iter().chain(&a.suspended) {
        checks.push((
            get(format!("/scim/v2/Users/{id}"), fx.scim_token.clone()),
            format!("SCIM user {id}"),
            None,
        ));
    }
    for (what, expect_id) in checks
        .into_iter()
        .map(|(f, w, e)| (tokio::spawn(f), (w, e)))
    {
        let (st, body) = what.await.unwrap();
        assert_eq!(
            st,
            StatusCode::OK,
            "round {round}: {} lost after kill -9: {body}",
            expect_id.0
        );
        if let Some(id) = expect_id.1 {
            assert!(
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["id"] == id.as_str()),
                "round {round}: invitation {id} lost after kill -9: {body}"
            );
        }
    }
    for id in &a.suspended {
        let (_, u) = get(format!("/scim/v2/Users/{id}"), fx.scim_token.clone()).await;
        assert_eq!(
            u["active"], false,
            "round {round}: suspension of {id} lost: {u}"
        );
    }
    for id in &a.scim_deleted {
        let (st, u) = get(format!("/scim/v2/Users/{id}"), fx.scim_token.clone()).await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "round {round}: deletion of {id} lost: {u}"
        );
    }
    for (user, pool) in &a.removed {
        let (st, m) = get(format!("/orgs/{org}/users/{user}"), fx.owner.clone()).await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "round {round}: removal of {user} lost: {m}"
        );
        let (_, pools) = get(format!("/orgs/{org}/pools"), fx.owner.clone()).await;
        let p = pools["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == pool.as_str());
        assert_eq!(
            p.map(|p| p["owner_id"].clone()),
            Some(json!(fx.owner_id)),
            "round {round}: hand-over of pool {pool} lost"
        );
    }
}
