//! Membership events for the rest of a product: derived from audit entries (one place that
//! says which changes a product hears of), published to EventBridge by the `events` function
//! from the table's stream in AWS, and listed at `GET /_local/events` locally.
//!
//! The schema is versioned ([`SCHEMA_VERSION`]): fields are only ever added within a version.

use crate::audit::{AuditAction, AuditEvent};
use crate::ids::OrgId;
use crate::model::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

/// The version of every event's `detail` schema.
pub const SCHEMA_VERSION: &str = "1";
/// The EventBridge `source` of every event.
pub const SOURCE: &str = "rollcall";

/// Every event type, in documentation order.
pub const EVENT_TYPES: &[&str] = &[
    "member.joined",
    "member.removed",
    "member.roles_changed",
    "member.suspended",
    "member.reactivated",
    "member.linked",
    "invitation.created",
    "invitation.resent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.revoked",
    "invitation.expired",
    "pool.deleted",
];

/// One event: EventBridge's `detail-type` is `type`, its `detail` the whole value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductEvent {
    /// Stable id: the audit entry's id and the event's position in it (`aud_….0`), the same on
    /// every delivery of the entry, so consumers can drop duplicates.
    pub id: String,
    /// The event type (`member.joined`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// [`SCHEMA_VERSION`].
    pub version: &'static str,
    /// The organization.
    pub org_id: OrgId,
    /// When the change happened.
    pub occurred_at: Timestamp,
    /// Who made it (as in the audit log).
    pub actor: Value,
    /// The event's own fields (documented per type).
    pub data: Value,
    /// The audit entry the event comes from.
    pub audit_event_id: String,
}

/// The events an audit entry means, in order (none for changes no product needs to hear of:
/// pools, links, tokens, domains, settings).
pub fn events_of(entry: &AuditEvent) -> Vec<ProductEvent> {
    let d = &entry.details;
    let target = entry.target.id.as_str();
    let member = |user_id: &Value, extra: Value| {
        let mut data = json!({ "user_id": user_id });
        merge(&mut data, extra);
        data
    };
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    match entry.action {
        AuditAction::MemberJoined => out.push((
            "member.joined",
            member(
                &json!(target),
                json!({ "email": d["email"], "assignments": d["assignments"], "via": "invite_link", "invite_link_id": d["invite_link_id"] }),
            ),
        )),
        AuditAction::MemberProvisioned => {
            // Provisioning accepts the address's pending invitation in the same write.
            if d["accepted_invitation_id"].is_string() {
                out.push((
                    "invitation.accepted",
                    json!({ "invitation_id": d["accepted_invitation_id"], "email": d["email"], "user_id": target }),
                ));
            }
            out.push((
                "member.joined",
                member(
                    &json!(target),
                    json!({ "email": d["email"], "assignments": d["assignments"], "via": "scim", "status": d["status"] }),
                ),
            ));
        }
        AuditAction::InvitationAccepted => {
            out.push((
                "invitation.accepted",
                json!({ "invitation_id": target, "email": d["email"], "user_id": d["member_id"] }),
            ));
            if d["joined"] == json!(true) {
                out.push((
                    "member.joined",
                    member(
                        &d["member_id"],
                        json!({ "email": d["email"], "assignments": d["assignments"], "via": "invitation", "invitation_id": target }),
                    ),
                ));
            } else if d["roles"]["effective"]["before"] != d["roles"]["effective"]["after"] {
                out.push((
                    "member.roles_changed",
                    member(&d["member_id"], roles(&d["roles"]["effective"])),
                ));
            }
        }
        AuditAction::MemberRolesChanged if d["effective"]["before"] != d["effective"]["after"] => {
            out.push((
                "member.roles_changed",
                member(&json!(target), roles(&d["effective"])),
            ));
        }
        AuditAction::GroupMembersChanged => {
            for m in d["members"].as_array().into_iter().flatten() {
                let e = &m["effective"];
                if e["before"] != e["after"] {
                    out.push((
                        "member.roles_changed",
                        member(&m["user_id"], {
                            let mut r = roles(e);
                            merge(&mut r, json!({ "group_id": target }));
                            r
                        }),
                    ));
                }
            }
        }
        AuditAction::MemberSuspended => {
            out.push(("member.suspended", member(&json!(target), json!({}))));
        }
        AuditAction::MemberReactivated => {
            out.push(("member.reactivated", member(&json!(target), json!({}))));
        }
        AuditAction::MemberRemoved => out.push((
            "member.removed",
            member(
                &json!(target),
                json!({ "email": d["email"], "successor_id": d["successor_id"], "handed_over": d["handed_over"] }),
            ),
        )),
        AuditAction::MemberLinked => out.push((
            "member.linked",
            member(
                &d["user_id"],
                json!({ "email": d["email"], "placeholder_id": d["placeholder_id"], "via": d["via"] }),
            ),
        )),
        AuditAction::InvitationCreated => out.push((
            "invitation.created",
            json!({ "invitation_id": target, "email": d["email"], "assignments": d["assignments"], "expires_at": d["expires_at"] }),
        )),
        AuditAction::InvitationResent => out.push((
            "invitation.resent",
            json!({ "invitation_id": target, "email": d["email"] }),
        )),
        AuditAction::InvitationDeclined => out.push((
            "invitation.declined",
            json!({ "invitation_id": target, "email": d["email"] }),
        )),
        AuditAction::InvitationRevoked => out.push((
            "invitation.revoked",
            json!({ "invitation_id": target, "email": d["email"] }),
        )),
        // Every assignment on the pool went with it, for any number of members: one event for
        // the pool rather than a `member.roles_changed` per member.
        AuditAction::PoolDeleted => out.push((
            "pool.deleted",
            json!({ "pool_id": target, "name": d["name"], "parent_id": d["parent_id"] }),
        )),
        AuditAction::InvitationExpired => out.push((
            "invitation.expired",
            json!({ "invitation_id": target, "email": d["email"], "expires_at": d["expires_at"] }),
        )),
        _ => {}
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (kind, data))| ProductEvent {
            id: format!("{}.{i}", entry.id),
            kind,
            version: SCHEMA_VERSION,
            org_id: entry.org_id.clone(),
            occurred_at: entry.at,
            actor: serde_json::to_value(&entry.actor).unwrap_or(Value::Null),
            data,
            audit_event_id: entry.id.to_string(),
        })
        .collect()
}

fn roles(effective: &Value) -> Value {
    json!({ "assignments": { "before": effective["before"], "after": effective["after"] } })
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        for (k, v) in b {
            if !v.is_null() {
                a.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Origin, Target, TargetKind};
    use crate::ids::UserId;

    fn entry(action: AuditAction, target: &str, details: Value) -> AuditEvent {
        AuditEvent::new(
            &OrgId::from_uuid(uuid::Uuid::now_v7()),
            &Origin::system(),
            chrono::Utc::now(),
            365,
            action,
            Target::new(TargetKind::Member, target),
            details,
        )
    }

    #[test]
    fn an_accepted_invitation_is_accepted_and_a_join() {
        let user = UserId::from_uuid(uuid::Uuid::now_v7());
        let e = entry(
            AuditAction::InvitationAccepted,
            "inv_1",
            json!({ "email": "a@x.test", "member_id": user, "joined": true, "assignments": [] }),
        );
        let events = events_of(&e);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["invitation.accepted", "member.joined"]);
        assert_eq!(events[1].data["user_id"], json!(user));
        assert_eq!(events[1].id, format!("{}.1", e.id));
        assert!(kinds.iter().all(|k| EVENT_TYPES.contains(k)));
    }

    #[test]
    fn a_group_batch_is_one_roles_change_per_member_whose_roles_changed() {
        let e = entry(
            AuditAction::GroupMembersChanged,
            "grp_1",
            json!({ "members": [
                { "user_id": "usr_a", "effective": { "before": [], "after": [{"role": "engineer"}] } },
                { "user_id": "usr_b", "effective": { "before": [], "after": [] } },
            ]}),
        );
        let events = events_of(&e);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "member.roles_changed");
        assert_eq!(events[0].data["user_id"], json!("usr_a"));
        assert_eq!(events[0].data["group_id"], json!("grp_1"));
    }

    #[test]
    fn a_provisioning_that_accepts_an_invitation_is_both_events() {
        let e = entry(
            AuditAction::MemberProvisioned,
            "usr_1",
            json!({ "email": "a@x.test", "accepted_invitation_id": "inv_1", "assignments": [] }),
        );
        let kinds: Vec<&str> = events_of(&e).iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["invitation.accepted", "member.joined"]);
        let plain = entry(
            AuditAction::MemberProvisioned,
            "usr_2",
            json!({ "email": "b@x.test", "accepted_invitation_id": null, "assignments": [] }),
        );
        assert_eq!(events_of(&plain).len(), 1);
    }

    #[test]
    fn a_recorded_expiry_is_an_expired_invitation() {
        let e = entry(
            AuditAction::InvitationExpired,
            "inv_1",
            json!({ "email": "a@x.test", "expires_at": "2026-12-01T00:00:00Z" }),
        );
        let events = events_of(&e);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "invitation.expired");
        assert_eq!(
            events[0].data,
            json!({ "invitation_id": "inv_1", "email": "a@x.test", "expires_at": "2026-12-01T00:00:00Z" })
        );
        assert!(EVENT_TYPES.contains(&events[0].kind));
    }

    #[test]
    fn a_pool_deletion_is_one_event_for_all_its_assignments() {
        let e = entry(
            AuditAction::PoolDeleted,
            "pool_1",
            json!({ "name": "Research", "parent_id": "pool_0" }),
        );
        let events = events_of(&e);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "pool.deleted");
        assert_eq!(
            events[0].data,
            json!({ "pool_id": "pool_1", "name": "Research", "parent_id": "pool_0" })
        );
    }

    #[test]
    fn settings_and_pools_are_no_product_events() {
        assert!(events_of(&entry(AuditAction::PoolCreated, "pool_1", json!({}))).is_empty());
        assert!(events_of(&entry(AuditAction::OrganizationUpdated, "org_1", json!({}))).is_empty());
    }
}
