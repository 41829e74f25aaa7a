//! `cargo run --release -p rollcall-tests --bin rollcall-bench [-- --members 10000 --scim-users 10000 --concurrency 4]`
//!
//! Starts the release `rollcall serve` on the embedded store, seeds an organization with many
//! members through the API, and prints requests/second and p50/p99 latency for the main stories:
//! bulk invite of 100, accept, list 50 members, preview. Then provisions `--scim-users` Users in
//! another organization over SCIM and measures what identity providers do: `POST /Users`,
//! `userName eq` lookups, `PATCH` deactivation, and an import through `startIndex` pages of 100.
//! `--members 0` or `--scim-users 0` skips a part.
//!
//! `--compare-scim URL` adds the same `POST /Users` load against another SCIM server (no
//! authentication), e.g. `scim2-server --port 8080` → `--compare-scim http://127.0.0.1:8080`.
//!
//! `--soak-secs N` runs a soak instead (the test command runs a 15-second one): mixed traffic from
//! `--concurrency` clients for N seconds with the server's memory sampled; prints requests by status
//! and resident memory, then checks the store (`rollcall check-store`) with the server stopped.

use reqwest::{Method, StatusCode};
use rollcall_tests::server::{Backend, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
    wall: Duration,
}

impl Stats {
    fn print(&mut self) {
        self.samples.sort();
        let n = self.samples.len();
        let pct = |p: f64| {
            self.samples[((n as f64 * p).ceil() as usize).clamp(1, n) - 1].as_secs_f64() * 1000.0
        };
        println!(
            "{:<28} {:>7} req {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
            self.name,
            n,
            n as f64 / self.wall.as_secs_f64(),
            pct(0.50),
            pct(0.99)
        );
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `jobs` with at most `concurrency` in flight, timing each.
async fn run<F, Fut>(name: &'static str, jobs: usize, concurrency: usize, f: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::stream::{self, StreamExt};
    let start = Instant::now();
    let samples: Vec<Duration> = stream::iter(0..jobs)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                fut.await;
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    Stats {
        name,
        samples,
        wall: start.elapsed(),
    }
}

#[tokio::main]
async fn main() {
    let members = arg("--members", 10_000);
    let scim_users = arg("--scim-users", 10_000);
    let concurrency = arg("--concurrency", 4);
    // The release server unless ROLLCALL_BIN names another.
    let bin = match std::env::var("ROLLCALL_BIN") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => std::path::PathBuf::from(
            rollcall_tests::server::rollcall_bin()
                .to_string_lossy()
                .replace("/debug/", "/release/"),
        ),
    };
    let mut s = TestServer::start_with(Backend::Embedded, bin.clone()).await;
    let soak_secs = arg("--soak-secs", 0);
    if soak_secs > 0 {
        println!(
            "rollcall-bench: soak of {soak_secs} s at concurrency {concurrency}, {}",
            bin.display()
        );
        let report =
            rollcall_tests::soak::soak(&s, Duration::from_secs(soak_secs as u64), concurrency)
                .await;
        println!("{}", report.summary());
        s.crash();
        let unexpected = report.unexpected();
        if !unexpected.is_empty() {
            eprintln!("soak failed: unexpected statuses {unexpected:?}");
            std::process::exit(1);
        }
        s.assert_store_consistent("after the soak");
        println!("store consistent after the soak");
        return;
    }
    println!(
        "rollcall-bench: {} at {} (embedded store), {members} members, {scim_users} SCIM users, \
         concurrency {concurrency}",
        bin.display(),
        s.base
    );
    let mut results = Vec::new();
    if members > 0 {
        results.extend(invitation_stories(&s, members, concurrency).await);
    }
    if scim_users > 0 {
        results.extend(scim_stories(&s, scim_users, concurrency).await);
    }
    // `--compare-scim URL`: the same POST /Users load against another SCIM server (e.g. the
    // in-memory scim2-server) in the same run, for a side-by-side figure.
    let args: Vec<String> = std::env::args().collect();
    if let Some(url) = args
        .iter()
        .position(|a| a == "--compare-scim")
        .and_then(|i| args.get(i + 1))
    {
        results.push(other_scim_posts(url, scim_users.max(1000), concurrency).await);
    }
    println!();
    for stats in &mut results {
        stats.print();
    }
}

/// `POST /Users` of `users` Users to another SCIM server at `base` (no authentication).
async fn other_scim_posts(base: &str, users: usize, concurrency: usize) -> Stats {
    let http = reqwest::Client::new();
    let (http, base) = (&http, base.trim_end_matches('/'));
    let mut stats = run(
        "other server: SCIM POST /Users",
        users,
        concurrency,
        |i| async move {
            let user_name = format!("other{i:05}@scim.bench.test");
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "externalId": format!("ext-{i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "emails": [{"value": user_name, "type": "work", "primary": true}],
                "active": true,
            });
            let res = http
                .post(format!("{base}/Users"))
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .expect("the other SCIM server answers");
            assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        },
    )
    .await;
    stats.name = "other server: POST /Users";
    stats
}

/// Bulk invite, preview, accept and list in an organization of `members`.
async fn invitation_stories(s: &TestServer, members: usize, concurrency: usize) -> Vec<Stats> {
    let owner = s.token("owner@bench.test", Some("Owner"), true);
    let (_, org) = s
        .call(
            Method::POST,
            "/orgs",
            Some(&owner),
            Some(json!({"name": "Bench"})),
        )
        .await;
    let org = org["id"].as_str().expect("org").to_owned();
    // The highest invitation limits an organization may set (the defaults allow 500 an hour).
    assert!(
        members <= 10_000,
        "--members is at most 10000 (the highest invitations_per_hour)"
    );
    let (st, res) = s
        .call(
            Method::PATCH,
            &format!("/orgs/{org}"),
            Some(&owner),
            Some(json!({"settings": {
                "invitations_per_hour": 10_000,
                "max_pending_invitations": 10_000,
            }})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");

    // Bulk invite of 100 (no email, so the accept URLs come back), until `members` are invited.
    let batches = members.div_ceil(100);
    let urls = std::sync::Mutex::new(Vec::with_capacity(members));
    let bulk = run("bulk invite of 100", batches, concurrency.min(2), |b| {
        let owner = &owner;
        let org = &org;
        let urls = &urls;
        async move {
            let invitations: Vec<_> = (0..100)
                .map(|i| json!({"email": format!("m{}@bench.test", b * 100 + i)}))
                .collect();
            let (st, res) = s
                .call(
                    Method::POST,
                    &format!("/orgs/{org}/invitations"),
                    Some(owner),
                    Some(json!({"invitations": invitations, "send_email": false})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{res}");
            let mut u = urls.lock().expect("lock");
            for r in res["results"].as_array().expect("results") {
                let email = r["email"].as_str().expect("email").to_owned();
                let token = r["accept_url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no accept_url in {r}"))
                    .rsplit("token=")
                    .next()
                    .expect("token")
                    .to_owned();
                u.push((email, token));
            }
        }
    })
    .await;
    let invited = urls.into_inner().expect("lock");

    // Preview of pending invitations (before they are accepted).
    let previews = invited.len().min(5_000);
    let preview = run("preview", previews, concurrency, |i| {
        let token = &invited[i].1;
        async move {
            let (st, _) = s
                .call(Method::GET, &format!("/invitations/{token}"), None, None)
                .await;
            assert_eq!(st, StatusCode::OK);
        }
    })
    .await;

    // Accept every invitation.
    let tokens: Vec<String> = invited
        .iter()
        .map(|(email, _)| s.token(email, None, true))
        .collect();
    let accept = run("accept", invited.len(), concurrency, |i| {
        let bearer = &tokens[i];
        let token = &invited[i].1;
        async move {
            let (st, body) = s
                .call(
                    Method::POST,
                    "/invitations/accept",
                    Some(bearer),
                    Some(json!({"token": token})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{body}");
        }
    })
    .await;

    // List 50 members, first pages and deep pages.
    let (_, first) = s
        .call(
            Method::GET,
            &format!("/orgs/{org}/users?limit=50"),
            Some(&owner),
            None,
        )
        .await;
    let deep_cursor = first["next_cursor"].as_str().map(str::to_owned);
    let list = run("list 50 members", 2_000, concurrency, |i| {
        let owner = &owner;
        let org = &org;
        let cursor = deep_cursor.clone();
        async move {
            let path = match (i % 2, cursor) {
                (1, Some(c)) => format!("/orgs/{org}/users?limit=50&cursor={c}"),
                _ => format!("/orgs/{org}/users?limit=50"),
            };
            let (st, body) = s.call(Method::GET, &path, Some(owner), None).await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(body["items"].as_array().map(Vec::len), Some(50));
        }
    })
    .await;

    vec![bulk, accept, list, preview]
}

/// SCIM in an organization of `users` provisioned Users: POST, `userName eq`, PATCH deactivate,
/// and a full import through `startIndex` pages of 100.
async fn scim_stories(s: &TestServer, users: usize, concurrency: usize) -> Vec<Stats> {
    let owner = s.token("scim-owner@bench.test", Some("Owner"), true);
    let (_, org) = s
        .call(
            Method::POST,
            "/orgs",
            Some(&owner),
            Some(json!({"name": "SCIM bench"})),
        )
        .await;
    let org = org["id"].as_str().expect("org").to_owned();
    let (st, token) = s
        .call(
            Method::POST,
            &format!("/orgs/{org}/scim-tokens"),
            Some(&owner),
            Some(json!({"description": "bench"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{token}");
    let bearer = token["token"].as_str().expect("token").to_owned();
    let bearer = &bearer;
    let user_name = |i: usize| format!("user{i:05}@scim.bench.test");

    let ids = std::sync::Mutex::new(vec![String::new(); users]);
    let post = run("SCIM POST /Users", users, concurrency, |i| {
        let ids = &ids;
        async move {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name(i),
                "externalId": format!("ext-{i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "emails": [{"value": user_name(i), "type": "work", "primary": true}],
                "active": true,
            });
            let (st, res) = s
                .call(Method::POST, "/scim/v2/Users", Some(bearer), Some(body))
                .await;
            assert_eq!(st, StatusCode::CREATED, "{res}");
            ids.lock().expect("lock")[i] = res["id"].as_str().expect("id").to_owned();
        }
    })
    .await;
    let ids = ids.into_inner().expect("lock");

    let lookups = users.min(5_000);
    let by_user_name = run("SCIM userName eq", lookups, concurrency, |i| async move {
        let n = (i * 7919) % users;
        let path = format!(
            "/scim/v2/Users?filter=userName%20eq%20%22{}%22",
            user_name(n)
        );
        let (st, res) = s.call(Method::GET, &path, Some(bearer), None).await;
        assert_eq!(st, StatusCode::OK, "{res}");
        assert_eq!(res["totalResults"], 1, "{res}");
    })
    .await;

    let deactivations = users.min(2_000);
    let patch = run("SCIM PATCH active false", deactivations, concurrency, |i| {
        let id = &ids[i];
        async move {
            // Entra's shape: capitalized op, a string boolean.
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            });
            let (st, res) = s
                .call(
                    Method::PATCH,
                    &format!("/scim/v2/Users/{id}"),
                    Some(bearer),
                    Some(body),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{res}");
            assert_eq!(res["active"], false, "{res}");
        }
    })
    .await;

    // Imports as Okta and Entra do: sequential pages of 100 through startIndex, three times.
    let total = users + 1;
    let pages = total.div_ceil(100);
    let mut samples = Vec::with_capacity(3 * pages);
    let started = Instant::now();
    for _ in 0..3 {
        let mut seen = 0;
        for p in 0..pages {
            let t = Instant::now();
            let path = format!("/scim/v2/Users?startIndex={}&count=100", p * 100 + 1);
            let (st, res) = s.call(Method::GET, &path, Some(bearer), None).await;
            samples.push(t.elapsed());
            assert_eq!(st, StatusCode::OK, "{res}");
            assert_eq!(res["totalResults"].as_u64(), Some(total as u64), "{res}");
            seen += res["Resources"].as_array().map_or(0, Vec::len);
        }
        assert_eq!(seen, total, "an import sees every User once");
    }
    let import = Stats {
        name: "SCIM page of 100 (import)",
        samples,
        wall: started.elapsed(),
    };
    println!(
        "SCIM import of {total} Users in {pages} pages of 100: {:.0} ms per full import",
        import.wall.as_secs_f64() * 1000.0 / 3.0
    );
    let mut out = vec![post, by_user_name, patch, import];
    if users >= 1_200 {
        out.extend(group_stories(s, &owner, &org, bearer, &ids, concurrency).await);
    }
    out
}

/// Groups as identity providers push them: a group of (up to) 10,000 members filled 1,000 per
/// PATCH; then PATCH add 100 / remove 100 on it, `displayName eq` lookups, GET of the whole
/// group, and an organization manager's mapping change recomputing every member's roles.
async fn group_stories(
    s: &TestServer,
    owner: &str,
    org: &str,
    bearer: &str,
    ids: &[String],
    concurrency: usize,
) -> Vec<Stats> {
    const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    let reserve = 200;
    let size = (ids.len() - reserve).min(10_000);
    let (st, group) = s
        .call(
            Method::POST,
            "/scim/v2/Groups",
            Some(bearer),
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Everyone", "members": []})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().expect("group id").to_owned();
    let gpath = format!("/scim/v2/Groups/{gid}");
    let members =
        |ix: &[String]| -> serde_json::Value { ix.iter().map(|i| json!({"value": i})).collect() };
    let started = Instant::now();
    for chunk in ids[..size].chunks(1_000) {
        let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members(chunk)}]});
        let (st, res) = s
            .call(Method::PATCH, &gpath, Some(bearer), Some(body))
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{res}");
    }
    println!(
        "group filled with {size} members, 1,000 per PATCH: {:.0} ms ({:.0} members/s)",
        started.elapsed().as_secs_f64() * 1000.0,
        size as f64 / started.elapsed().as_secs_f64()
    );
    let extra = &ids[ids.len() - reserve..];
    let rounds = 20;
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for r in 0..rounds {
        let hundred = &extra[(r % 2) * 100..(r % 2) * 100 + 100];
        let t = Instant::now();
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"id": gid, "displayName": "Everyone"}},
            {"op": "add", "path": "members", "value": members(hundred)}]});
        let (st, res) = s
            .call(Method::PATCH, &gpath, Some(bearer), Some(body))
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{res}");
        add.push(t.elapsed());
        let t = Instant::now();
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Remove", "path": "members", "value": members(hundred)}]});
        let (st, res) = s
            .call(Method::PATCH, &gpath, Some(bearer), Some(body))
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{res}");
        remove.push(t.elapsed());
    }
    let wall = started.elapsed() / 2;
    let add = Stats {
        name: "PATCH add 100 (group 10k)",
        samples: add,
        wall,
    };
    let remove = Stats {
        name: "PATCH remove 100 (group 10k)",
        samples: remove,
        wall,
    };

    let lookup = run("Groups displayName eq", 2_000, concurrency, |_| async move {
        let (st, res) = s
            .call(
                Method::GET,
                "/scim/v2/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Everyone%22",
                Some(bearer),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        assert_eq!(res["totalResults"], 1, "{res}");
    })
    .await;

    let mut bytes = 0;
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..10 {
        let t = Instant::now();
        let r = s
            .scim(Method::GET, &format!("/Groups/{gid}"), Some(bearer), None)
            .await;
        samples.push(t.elapsed());
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["members"].as_array().map(Vec::len), Some(size));
        bytes = r.body.to_string().len();
    }
    println!("GET of a group of {size} members: {bytes} bytes of JSON");
    let get = Stats {
        name: "GET group of 10k members",
        samples,
        wall: started.elapsed(),
    };

    // An organization manager maps the group to a role: every member's roles are recomputed.
    let (st, pool) = s
        .call(
            Method::POST,
            &format!("/orgs/{org}/pools"),
            Some(owner),
            Some(json!({"name": "Bench pool"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{pool}");
    let pool = pool["id"].as_str().expect("pool").to_owned();
    let mut samples = Vec::new();
    let started = Instant::now();
    for role in ["engineer", "manager"] {
        let t = Instant::now();
        let (st, res) = s
            .call(
                Method::PUT,
                &format!("/orgs/{org}/groups/{gid}/assignments"),
                Some(owner),
                Some(json!({"assignments": [{"role": role, "pool_id": pool}]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        samples.push(t.elapsed());
    }
    println!(
        "mapping change recomputed {size} members' roles: {:.0} ms each ({:.0} members/s)",
        started.elapsed().as_secs_f64() * 500.0,
        2.0 * size as f64 / started.elapsed().as_secs_f64()
    );
    let recompute = Stats {
        name: "mapping change (10k members)",
        samples,
        wall: started.elapsed(),
    };
    vec![add, remove, lookup, get, recompute]
}
