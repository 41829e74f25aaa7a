//! `cargo run --release -p rollcall-tests --bin rollcall-bench [-- --members 10000 --concurrency 4]`
//!
//! Starts the release `rollcall serve` on the embedded store, seeds an organization with many
//! members through the API, and prints requests/second and p50/p99 latency for the main stories:
//! bulk invite of 100, accept, list 50 members, preview.

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
    let s = TestServer::start_with(Backend::Embedded, bin.clone()).await;
    println!(
        "rollcall-bench: {} at {} (embedded store), {members} members, concurrency {concurrency}",
        bin.display(),
        s.base
    );
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

    // Bulk invite of 100 (no email, so the accept URLs come back), until `members` are invited.
    let batches = members.div_ceil(100);
    let urls = std::sync::Mutex::new(Vec::with_capacity(members));
    let mut bulk = run("bulk invite of 100", batches, concurrency.min(2), |b| {
        let s = &s;
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
                    .expect("accept_url")
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
    let mut preview = run("preview", previews, concurrency, |i| {
        let s = &s;
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
    let mut accept = run("accept", invited.len(), concurrency, |i| {
        let s = &s;
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
    let mut list = run("list 50 members", 2_000, concurrency, |i| {
        let s = &s;
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

    println!();
    for stats in [&mut bulk, &mut accept, &mut list, &mut preview] {
        stats.print();
    }
}
