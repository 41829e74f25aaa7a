//! The error codes of the code and of the documentation are one set: every `ErrorCode` is a row
//! of the "Error codes" table of docs/api.md, and every row of that table is an `ErrorCode`.

use rollcall_domain::ErrorCode;
use std::collections::BTreeSet;
use std::path::Path;

/// The codes of the first column of the table under `## Error codes` in docs/api.md.
fn documented_codes() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let text = std::fs::read_to_string(&path).expect("docs/api.md");
    let section = text
        .split("\n## Error codes\n")
        .nth(1)
        .expect("docs/api.md has an \"## Error codes\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(code, _)| code.to_owned())
        .collect()
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_exists() {
    let documented = documented_codes();
    assert!(
        documented.len() > 20,
        "the table was not found: {documented:?}"
    );
    let table: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(table.len(), documented.len(), "a code is listed twice");
    let code: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        code.len(),
        ErrorCode::ALL.len(),
        "two variants share a code"
    );
    let undocumented: Vec<_> = code.difference(&table).collect();
    let unknown: Vec<_> = table.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "not in the table of docs/api.md: {undocumented:?}; in the table but no ErrorCode: {unknown:?}"
    );
}

#[test]
fn codes_are_snake_case() {
    for c in ErrorCode::ALL {
        let s = c.as_str();
        assert!(
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{s}"
        );
        assert_eq!(c.to_string(), s);
    }
}
