//! The audit actions and event types of the code and of the documentation are one list each: the
//! action table under `## Audit log` in docs/api.md has a row per `AuditAction`, in the same order,
//! and no other; the types table under `## Events` and the OpenAPI `ProductEvent.type` enum list
//! the event types of `rollcall_domain::events::EVENT_TYPES`, in the same order.

use rollcall_domain::audit::AuditAction;
use rollcall_domain::events::EVENT_TYPES;
use std::path::Path;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first column's names of the table after `header` in the `## {section}` section of
/// docs/api.md (rows `| \`name\` | … |`).
fn documented_names(section: &str, header: &str) -> Vec<String> {
    let text = repo_file("docs/api.md");
    let section = text
        .split(&format!("\n## {section}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/api.md has a \"## {section}\" section"));
    let section = section.split("\n## ").next().unwrap_or(section);
    let table = section
        .split(header)
        .nth(1)
        .unwrap_or_else(|| panic!("the table {header}"));
    table
        .lines()
        .skip(2)
        .map_while(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn every_event_type_is_documented_in_order() {
    let code: Vec<String> = EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(documented_names("Events", "| Type | When | `data` |"), code);
    let openapi: serde_json::Value =
        serde_json::from_str(&repo_file("docs/openapi.json")).expect("openapi.json");
    let listed: Vec<String> =
        openapi["components"]["schemas"]["ProductEvent"]["properties"]["type"]["enum"]
            .as_array()
            .expect("ProductEvent.type enum")
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    assert_eq!(listed, code);
}

#[test]
fn every_audit_action_is_documented_in_order() {
    let code: Vec<String> = AuditAction::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(
        documented_names("Audit log", "| Action | Recorded when |"),
        code
    );
}
