//! A short soak in the test command (the long one is `rollcall-bench --soak-secs N`): mixed
//! traffic of every kind for 15 seconds from 8 clients against the real `rollcall serve`, with the
//! server's memory sampled. No answer but 2xx and the documented 429/503; memory stays within the
//! documented bound; the store checks clean afterwards.

use rollcall_tests::server::{Backend, TestServer};
use rollcall_tests::soak::soak;
use std::time::Duration;

/// The documented bound (README, "Tests and benchmarks"): the server's resident memory grows by at
/// most this much over a soak.
const RSS_GROWTH_BOUND_MIB: u64 = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_traffic_for_a_while_keeps_memory_bounded_and_the_store_consistent() {
    let mut s = TestServer::start(Backend::Embedded).await;
    let report = soak(&s, Duration::from_secs(15), 8).await;
    eprintln!("{}", report.summary());
    assert!(
        report.requests() > 500,
        "the soak did real work: {report:?}"
    );
    assert_eq!(
        report.unexpected(),
        vec![],
        "only 2xx, 429 and 503: {report:?}"
    );
    assert_eq!(report.no_answer, 0, "every request was answered");
    let growth_mib = report.rss_max_kib.saturating_sub(report.rss_start_kib) / 1024;
    assert!(
        growth_mib <= RSS_GROWTH_BOUND_MIB,
        "resident memory grew by {growth_mib} MiB (bound {RSS_GROWTH_BOUND_MIB} MiB)"
    );
    s.crash();
    s.assert_store_consistent("after the soak");
}
