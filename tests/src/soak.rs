//! A bounded soak: mixed traffic against a running `rollcall serve` (embedded store) for a while,
//! as fast as `clients` concurrent clients go, with the server's resident memory sampled every
//! half second. Used by the test command (short) and `rollcall-bench --soak-secs N` (long).
//!
//! The mix, per client and round: a SCIM `POST /Users`, a `userName eq` lookup, a `PATCH` of that
//! user (suspend), every fourth round its `DELETE`; a bulk invite of two addresses, the list of
//! members, the invitations list and the organization; a join by invite link every eighth round.

use crate::server::{TestServer, try_call};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What a soak did and saw.
#[derive(Debug, Default, Clone)]
pub struct SoakReport {
    /// How long the traffic ran.
    pub elapsed: Duration,
    /// Requests answered, by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer at all.
    pub no_answer: u64,
    /// Resident memory of the server after the set-up, in KiB.
    pub rss_start_kib: u64,
    /// Highest sample, in KiB.
    pub rss_max_kib: u64,
    /// Last sample, in KiB.
    pub rss_end_kib: u64,
    /// Resident memory at the end of each quarter of the run, in KiB.
    pub rss_quarters_kib: Vec<u64>,
}

impl SoakReport {
    /// Requests answered.
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Answers other than 2xx and the documented 429/503.
    pub fn unexpected(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s) && **s != 429 && **s != 503)
            .map(|(s, n)| (*s, *n))
            .collect()
    }

    /// One paragraph for people.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "soak: {:.0} s, {} requests ({:.0} req/s), statuses {:?}, {} unanswered; server RSS \
             {:.1} MiB after set-up, {:.1} MiB at most, {:.1} MiB at the end (quarters: {})",
            secs,
            self.requests(),
            self.requests() as f64 / secs.max(0.001),
            self.statuses,
            self.no_answer,
            self.rss_start_kib as f64 / 1024.0,
            self.rss_max_kib as f64 / 1024.0,
            self.rss_end_kib as f64 / 1024.0,
            self.rss_quarters_kib
                .iter()
                .map(|k| format!("{:.1}", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(" / "),
        )
    }
}

/// Resident set size of a process, in KiB (Linux `/proc`; 0 elsewhere).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Setup {
    org: String,
    owner: String,
    scim: String,
    link: String,
}

/// Runs the soak for `duration` with `clients` concurrent clients.
pub async fn soak(s: &TestServer, duration: Duration, clients: usize) -> SoakReport {
    let busy = s.busy_org("owner@soak.test", "Soak").await;
    let setup = Arc::new(Setup {
        org: busy.org,
        owner: busy.owner,
        scim: busy.scim_token,
        link: busy.link_token,
    });

    let pid = s.pid();
    let report = Arc::new(Mutex::new(SoakReport {
        rss_start_kib: rss_kib(pid),
        ..SoakReport::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let sampler = {
        let (report, stop) = (report.clone(), stop.clone());
        tokio::spawn(async move {
            let quarter = duration / 4;
            let mut next_quarter = quarter;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let kib = rss_kib(pid);
                let mut r = report.lock().await;
                r.rss_max_kib = r.rss_max_kib.max(kib);
                r.rss_end_kib = kib;
                if start.elapsed() >= next_quarter && r.rss_quarters_kib.len() < 4 {
                    r.rss_quarters_kib.push(kib);
                    next_quarter += quarter;
                }
            }
        })
    };
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (http, base, setup, report) = (
                s.http.clone(),
                s.base.clone(),
                setup.clone(),
                report.clone(),
            );
            let key = s.data_dir.path().to_owned();
            tokio::spawn(async move {
                let mut round = 0u64;
                let mut local: BTreeMap<u16, u64> = BTreeMap::new();
                let mut lost = 0u64;
                while start.elapsed() < duration {
                    round += 1;
                    for status in client_round(&http, &base, &setup, &key, c, round).await {
                        match status {
                            Some(st) => *local.entry(st).or_default() += 1,
                            None => lost += 1,
                        }
                    }
                }
                let mut r = report.lock().await;
                for (st, n) in local {
                    *r.statuses.entry(st).or_default() += n;
                }
                r.no_answer += lost;
            })
        })
        .collect();
    for w in workers {
        w.await.expect("soak client");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let mut r = report.lock().await.clone();
    r.elapsed = elapsed;
    r.rss_end_kib = rss_kib(pid);
    r.rss_max_kib = r.rss_max_kib.max(r.rss_end_kib);
    r
}

/// One round of one client: the statuses it got (`None`: no answer).
async fn client_round(
    http: &reqwest::Client,
    base: &str,
    setup: &Setup,
    data_dir: &std::path::Path,
    client: usize,
    round: u64,
) -> Vec<Option<u16>> {
    let tag = format!("c{client}r{round}-{}", uuid::Uuid::now_v7().simple());
    let org = &setup.org;
    let mut out = Vec::with_capacity(9);
    let user_name = format!("{tag}@soak.test");
    let created = try_call(
        http,
        base,
        Method::POST,
        "/scim/v2/Users",
        &setup.scim,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": [{"value": user_name, "primary": true}],
            "active": true,
        })),
    )
    .await;
    let id = created
        .as_ref()
        .and_then(|(_, b)| b["id"].as_str().map(str::to_owned));
    out.push(created.map(|(s, _)| s.as_u16()));
    let filter = crate::server::url_encode(&format!("userName eq \"{user_name}\""));
    out.push(
        try_call(
            http,
            base,
            Method::GET,
            &format!("/scim/v2/Users?filter={filter}"),
            &setup.scim,
            None,
        )
        .await
        .map(|(s, _)| s.as_u16()),
    );
    if let Some(id) = id {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        });
        out.push(
            try_call(
                http,
                base,
                Method::PATCH,
                &format!("/scim/v2/Users/{id}"),
                &setup.scim,
                Some(patch),
            )
            .await
            .map(|(s, _)| s.as_u16()),
        );
        if round.is_multiple_of(4) {
            out.push(
                try_call(
                    http,
                    base,
                    Method::DELETE,
                    &format!("/scim/v2/Users/{id}"),
                    &setup.scim,
                    None,
                )
                .await
                .map(|(s, _)| s.as_u16()),
            );
        }
    }
    let invite = json!({
        "invitations": [{"email": format!("{tag}a@invitee.test")}, {"email": format!("{tag}b@invitee.test")}],
        "send_email": false,
    });
    out.push(
        try_call(
            http,
            base,
            Method::POST,
            &format!("/orgs/{org}/invitations"),
            &setup.owner,
            Some(invite),
        )
        .await
        .map(|(s, _)| s.as_u16()),
    );
    for path in [
        format!("/orgs/{org}/users?limit=50"),
        format!("/orgs/{org}/invitations?limit=50"),
        format!("/orgs/{org}"),
    ] {
        out.push(
            try_call(http, base, Method::GET, &path, &setup.owner, None)
                .await
                .map(|(s, _)| s.as_u16()),
        );
    }
    if round.is_multiple_of(8) {
        let key = rollcall::local_auth::LocalKey::load_or_create(data_dir).expect("signing key");
        let joiner = key
            .sign_in(
                &format!("{tag}@joiner.test"),
                None,
                None,
                true,
                chrono::Duration::hours(1),
            )
            .expect("token");
        out.push(
            try_call(
                http,
                base,
                Method::POST,
                "/join",
                &joiner,
                Some(json!({"token": setup.link})),
            )
            .await
            .map(|(s, _)| s.as_u16()),
        );
    }
    out
}
