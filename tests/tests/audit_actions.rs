//! The audit actions of the code and of the documentation are one list: the action table under
//! `## Audit log` in docs/api.md has a row per `AuditAction`, in the same order, and no other.

use rollcall_domain::audit::AuditAction;
use std::path::Path;

/// The action names of the table under `## Audit log` in docs/api.md (rows `| \`name\` | … |`
/// after the `| Action |` header).
fn documented_actions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let text = std::fs::read_to_string(&path).expect("docs/api.md");
    let section = text
        .split("\n## Audit log\n")
        .nth(1)
        .expect("docs/api.md has an \"## Audit log\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let table = section
        .split("| Action | Recorded when |")
        .nth(1)
        .expect("the actions table");
    table
        .lines()
        .skip(2)
        .map_while(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn every_audit_action_is_documented_in_order() {
    let code: Vec<String> = AuditAction::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(documented_actions(), code);
}
