//! SCIM 2.0 conformance of `/scim/v2` as checked by scim2-tester through `scim2-cli`
//! (`scim --url … test`): discovery, CRUD of Users and Groups, PATCH add/remove/replace of every attribute and
//! attribute selection, on the embedded store and on DynamoDB (moto).
//!
//! The CLI is `ROLLCALL_TEST_SCIM_CLI` (`./scripts/test` installs it into `.venv` and sets it).
//! Unset: the test is skipped with a notice, except under CI, where that is a failure.

use rollcall_tests::server::{Backend, TestServer, emulator_endpoint};
use std::process::Command;

/// The `scim` executable of scim2-cli, or `None` (skip) outside CI.
fn scim_cli() -> Option<String> {
    match std::env::var("ROLLCALL_TEST_SCIM_CLI") {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "ROLLCALL_TEST_SCIM_CLI is not set under CI: run the suite with ./scripts/test"
            );
            eprintln!(
                "notice: ROLLCALL_TEST_SCIM_CLI unset; SCIM conformance skipped (./scripts/test runs it)"
            );
            None
        }
    }
}

/// The statuses scim2-tester reports (`scim2_tester.Status`).
const PASSING: [&str; 3] = ["SUCCESS", "COMPLIANT", "ACCEPTABLE"];
const FAILING: [&str; 4] = ["DEVIATION", "ERROR", "CRITICAL", "SKIPPED"];

/// Checks every run must contain: without them the run did not cover what it should.
const REQUIRED_CHECKS: [&str; 10] = [
    "service_provider_config_endpoint",
    "query_all_schemas",
    "object_creation",
    "object_query",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
    "search_with_attributes",
];

/// One result line of `scim test`: `STATUS check_name`.
#[derive(Debug, PartialEq, Eq)]
struct CheckLine {
    status: String,
    check: String,
}

/// The result lines of the CLI's output (ANSI colours stripped; detail lines are indented).
fn parse(output: &str) -> Vec<CheckLine> {
    output
        .lines()
        .map(strip_ansi)
        .filter_map(|line| {
            let (status, check) = line.split_once(' ')?;
            (PASSING.contains(&status) || FAILING.contains(&status)).then(|| CheckLine {
                status: status.to_owned(),
                check: check.trim().to_owned(),
            })
        })
        .collect()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

async fn conformance(s: &TestServer, cli: &str) {
    let setup = s.scim_org("owner@conformance.test", "Conformance").await;
    let url = format!("{}/scim/v2", s.base);
    // The token goes through the environment, not the command line (other users see argv).
    let out = tokio::task::spawn_blocking({
        let (cli, url) = (cli.to_owned(), url.clone());
        let header = format!("Authorization: Bearer {}", setup.scim_token);
        move || {
            Command::new(cli)
                .arg("--url")
                .arg(url)
                .arg("test")
                .arg("-v")
                .env("SCIM_CLI_HEADERS", header)
                .env("NO_COLOR", "1")
                .output()
        }
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("run {cli}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let full = format!(
        "{cli} --url {url} test -v ({:?}) exited {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        s.backend, out.status
    );
    let checks = parse(&stdout);
    let failed: Vec<&CheckLine> = checks
        .iter()
        .filter(|c| FAILING.contains(&c.status.as_str()))
        .collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}\n{full}");
    // Groups are checked like Users (no exemption): creation, query, replacement, deletion.
    for (check, says) in [
        ("object_creation", "created Group object"),
        ("object_query", "queried Group object"),
        (
            "access_schema_by_id",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
        ),
    ] {
        assert!(
            stdout
                .lines()
                .map(strip_ansi)
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| PASSING.iter().any(|p| w[0] == format!("{p} {check}"))
                    && w[1].contains(says)),
            "no passing {check} for Groups\n{full}"
        );
    }
    for name in REQUIRED_CHECKS {
        assert!(
            checks.iter().any(|c| c.check == name),
            "check {name} did not run\n{full}"
        );
    }
    assert!(
        checks.len() >= 50,
        "only {} checks ran\n{full}",
        checks.len()
    );
    assert!(out.status.success(), "no failed check, yet: {full}");
    eprintln!(
        "scim2-tester on {:?}: {} checks passed",
        s.backend,
        checks.len()
    );
}

#[tokio::test]
async fn scim2_tester_passes_on_embedded_store() {
    let Some(cli) = scim_cli() else {
        return;
    };
    let server = TestServer::start(Backend::Embedded).await;
    conformance(&server, &cli).await;
}

#[tokio::test]
async fn scim2_tester_passes_on_dynamodb() {
    let Some(cli) = scim_cli() else {
        return;
    };
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let server = TestServer::start(Backend::Emulated { endpoint }).await;
    conformance(&server, &cli).await;
}

#[test]
fn parses_the_cli_output() {
    let out = "Performing a SCIM compliance check on http://x/scim/v2/ ...\n\
               \u{1b}[32mSUCCESS\u{1b}[0m object_creation\n  Successfully created User\n\
               ERROR search_with_attributes\n  No SCIM endpoint\n  {'detail': 'x'}\n\
               SKIPPED check_add_attribute\n";
    assert_eq!(
        parse(out),
        vec![
            CheckLine {
                status: "SUCCESS".into(),
                check: "object_creation".into()
            },
            CheckLine {
                status: "ERROR".into(),
                check: "search_with_attributes".into()
            },
            CheckLine {
                status: "SKIPPED".into(),
                check: "check_add_attribute".into()
            },
        ]
    );
}
