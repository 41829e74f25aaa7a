//! The audit log: one entry per change, written by the store in the same transaction as the
//! change ([`crate::ports::Store::audited`]), never updated, kept for the organization's
//! retention (`audit_retention_days`) and then expired by the store's TTL.

use crate::ids::{OrgId, ScimTokenId, UserId};
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Days an entry is kept when the organization did not choose.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Shortest retention an organization may choose.
pub const MIN_RETENTION_DAYS: u32 = 30;
/// Longest retention an organization may choose (about 7 years).
pub const MAX_RETENTION_DAYS: u32 = 2555;
/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT_LEN: usize = 512;
/// Longest request id kept, in characters.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Longest source IP kept, in characters.
pub const MAX_SOURCE_IP_LEN: usize = 64;

/// An audit entry's id: `aud_` + 32 hex digits that start with the entry's Unix millisecond, so
/// that ids sort by time (newest first is descending id order) and a time range is an id range.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditEventId(String);

impl AuditEventId {
    /// The prefix of every audit id.
    pub const PREFIX: &'static str = "aud_";

    /// A new id for an entry made at `at`: 12 hex digits of its Unix millisecond, 4 of a
    /// counter of the ids this process made in that millisecond (so they sort in the order they
    /// were made), 16 random. Across processes, entries of one millisecond sort in no particular
    /// order.
    pub fn new(at: Timestamp) -> Self {
        static LAST: std::sync::Mutex<(u64, u16)> = std::sync::Mutex::new((u64::MAX, 0));
        let ms = millis(at);
        let seq = {
            let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
            *last = if last.0 == ms {
                (ms, last.1.saturating_add(1))
            } else {
                (ms, 0)
            };
            last.1
        };
        let random = Uuid::now_v7().as_u128() as u64;
        AuditEventId(format!("{}{ms:012x}{seq:04x}{random:016x}", Self::PREFIX))
    }

    /// The smallest id of an entry made at `at` or later (to the millisecond).
    pub fn lower_bound(at: Timestamp) -> Self {
        AuditEventId(format!(
            "{}{:012x}{}",
            Self::PREFIX,
            millis(at),
            "0".repeat(20)
        ))
    }

    /// The largest id of an entry made at `at` or earlier (to the millisecond).
    pub fn upper_bound(at: Timestamp) -> Self {
        AuditEventId(format!(
            "{}{:012x}{}",
            Self::PREFIX,
            millis(at),
            "f".repeat(20)
        ))
    }

    /// Parses `aud_` + 32 lowercase hex digits.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix(Self::PREFIX)?;
        (rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| AuditEventId(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn millis(at: Timestamp) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff
}

impl fmt::Display for AuditEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AuditEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AuditEventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AuditEventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AuditEventId::parse(&s).ok_or_else(|| serde::de::Error::custom("not an audit event id"))
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in person.
    User {
        /// Their user id.
        id: UserId,
        /// Their email at the time.
        email: String,
    },
    /// An identity provider, by the SCIM token it presented.
    ScimToken {
        /// The token's id.
        id: ScimTokenId,
    },
    /// Rollcall itself (a mail provider's delivery report).
    System,
}

impl Actor {
    /// The id the `actor` filter matches: a user id, a SCIM token id, or `system`.
    pub fn filter_key(&self) -> &str {
        match self {
            Actor::User { id, .. } => id.as_str(),
            Actor::ScimToken { id } => id.as_str(),
            Actor::System => "system",
        }
    }
}

/// Where a request came from (API Gateway's request context in AWS, the connection locally).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// The request id (the `x-request-id` the response carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The client's `User-Agent`, cut to [`MAX_USER_AGENT_LEN`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// A request's metadata, each value trimmed, stripped of control characters and cut to its
    /// bound; empty values are left out.
    pub fn new(
        request_id: Option<&str>,
        source_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Self {
        let clean = |v: Option<&str>, max: usize| {
            v.map(|v| {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(max)
                    .collect::<String>()
                    .trim()
                    .to_owned()
            })
            .filter(|v| !v.is_empty())
        };
        RequestMeta {
            request_id: clean(request_id, MAX_REQUEST_ID_LEN),
            source_ip: clean(source_ip, MAX_SOURCE_IP_LEN),
            user_agent: clean(user_agent, MAX_USER_AGENT_LEN),
        }
    }
}

/// Who makes a change and from where: what every audit entry of a request shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Who.
    pub actor: Actor,
    /// From where.
    pub request: RequestMeta,
}

impl Origin {
    /// Rollcall itself, outside any request (a background job, a mail provider's report).
    pub fn system() -> Self {
        Origin {
            actor: Actor::System,
            request: RequestMeta::default(),
        }
    }

    /// The same request, acting as the system (a change the request finds due rather than asks
    /// for, such as closing an expired invitation it reads).
    pub fn as_system(&self) -> Self {
        Origin {
            actor: Actor::System,
            request: self.request.clone(),
        }
    }
}

/// What kind of thing a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The organization.
    Organization,
    /// A pool.
    Pool,
    /// An email invitation.
    Invitation,
    /// An invite link.
    InviteLink,
    /// A member (by user id).
    Member,
    /// A SCIM token.
    ScimToken,
    /// A verified domain (by name).
    Domain,
    /// A SCIM group.
    Group,
}

/// The thing a change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: TargetKind,
    /// Its id (a domain's name for a domain).
    pub id: String,
}

impl Target {
    /// A target of `kind` with id `id`.
    pub fn new(kind: TargetKind, id: impl fmt::Display) -> Self {
        Target {
            kind,
            id: id.to_string(),
        }
    }
}

macro_rules! audit_actions {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// What a change did. The names are stable: consumers filter on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $(#[doc = $doc] $variant,)*
        }

        impl AuditAction {
            /// Every action, in documentation order.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The action's name (`pool.created`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            /// What the action records, for the documentation.
            pub fn description(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $doc,)*
                }
            }
        }
    };
}

audit_actions! {
    OrganizationCreated => "organization.created", "An organization was created with its root pool; its creator became its organization manager.";
    OrganizationUpdated => "organization.updated", "The organization's name or settings changed (details: the changed fields, before and after).";
    PoolCreated => "pool.created", "A pool was created (details: name, parent, owner).";
    PoolUpdated => "pool.updated", "A pool was renamed or given another owner (details: before and after).";
    PoolDeleted => "pool.deleted", "A leaf pool was deleted; the assignments on it were dropped.";
    InvitationCreated => "invitation.created", "An invitation was created (details: email, assignments, whether mail is sent, and the expired invitation for the same address it replaced, closed as expired in the same transaction).";
    InvitationResent => "invitation.resent", "An invitation was sent again with a new token and expiry: by resend, or by a bulk invite of an address with a pending invitation (details: assignments before and after).";
    InvitationRevoked => "invitation.revoked", "A manager revoked a pending invitation.";
    InvitationAccepted => "invitation.accepted", "The invitee accepted: they became a member or gained the invitation's roles (details: member, assignments).";
    InvitationDeclined => "invitation.declined", "The invitee declined.";
    InvitationExpired => "invitation.expired", "A pending invitation was found past its expiry and closed as expired (actor: the system; request: the read or action that found it; details: email, expires_at).";
    InviteLinkCreated => "invite_link.created", "An invite link was created (details: assignments, limits).";
    InviteLinkRevoked => "invite_link.revoked", "An invite link was revoked.";
    MemberJoined => "member.joined", "Someone joined with an invite link (details: link, assignments).";
    MemberRolesChanged => "member.roles_changed", "A member's direct assignments changed (details: before and after, direct and effective).";
    MemberProvisioned => "member.provisioned", "The identity provider created a member over SCIM (details: userName, externalId, assignments).";
    MemberUpdated => "member.updated", "The identity provider changed a member's attributes over SCIM (details: the changed fields, before and after).";
    MemberSuspended => "member.suspended", "The identity provider deactivated a member (active: false).";
    MemberReactivated => "member.reactivated", "The identity provider reactivated a member (active: true).";
    MemberRemoved => "member.removed", "A member was removed; what they owned went to the successor (details: successor, counts handed over).";
    MemberLinked => "member.linked", "A provisioned member was linked to the person's own account at sign-in or by their consent.";
    MemberLinkDeclined => "member.link_declined", "The owner of a provisioned member's address declined to take the membership.";
    ScimTokenCreated => "scim_token.created", "A SCIM token was created (details: description; never the secret).";
    ScimTokenRevoked => "scim_token.revoked", "A SCIM token was revoked.";
    DomainAdded => "domain.added", "A domain was added, pending verification.";
    DomainVerified => "domain.verified", "A domain's DNS record was found: the organization holds the domain.";
    DomainVerificationFailed => "domain.verification_failed", "A verification found no matching DNS record (details: the check count).";
    DomainUpdated => "domain.updated", "A verified domain's enrollment mode changed (details: before and after).";
    DomainRemoved => "domain.removed", "A domain was removed and, when verified, released.";
    GroupCreated => "group.created", "The identity provider created a group over SCIM.";
    GroupUpdated => "group.updated", "A group was renamed or its externalId changed over SCIM (details: before and after).";
    GroupMembersChanged => "group.members_changed", "Members joined or left a group (details: the members added and removed in this transaction; a large change is several entries).";
    GroupAssignmentsChanged => "group.assignments_changed", "A manager changed the roles a group grants (details: before and after, members recomputed).";
    GroupDeleted => "group.deleted", "The identity provider deleted a group.";
}

impl AuditAction {
    /// The action named `name`.
    pub fn parse(name: &str) -> Option<AuditAction> {
        Self::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AuditAction::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown audit action"))
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Id, ordered by time.
    pub id: AuditEventId,
    /// The organization it belongs to.
    pub org_id: OrgId,
    /// When.
    pub at: Timestamp,
    /// What.
    pub action: AuditAction,
    /// Who.
    pub actor: Actor,
    /// About what.
    pub target: Target,
    /// What changed (action-specific; documented per action).
    pub details: serde_json::Value,
    /// From where.
    pub request: RequestMeta,
    /// When the store drops it (the organization's retention from `at`).
    pub expires_at: Timestamp,
}

impl AuditEvent {
    /// An entry made at `at` by `origin`, kept `retention_days`.
    pub fn new(
        org_id: &OrgId,
        origin: &Origin,
        at: Timestamp,
        retention_days: u32,
        action: AuditAction,
        target: Target,
        details: serde_json::Value,
    ) -> Self {
        AuditEvent {
            id: AuditEventId::new(at),
            org_id: org_id.clone(),
            at,
            action,
            actor: origin.actor.clone(),
            target,
            details,
            request: origin.request.clone(),
            expires_at: at + chrono::Duration::days(i64::from(retention_days)),
        }
    }

    /// Records what a removal handed over (`details.handed_over`), which only the store learns
    /// while writing it.
    pub fn record_handover(&mut self, handover: &crate::ports::Handover) {
        self.add_detail(
            "handed_over",
            serde_json::to_value(handover).unwrap_or(serde_json::Value::Null),
        );
    }

    fn add_detail(&mut self, key: &str, value: serde_json::Value) {
        if !self.details.is_object() {
            self.details = serde_json::Value::Object(serde_json::Map::new());
        }
        if let Some(map) = self.details.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    }

    /// Whether the entry matches `filter`.
    pub fn matches(&self, filter: &AuditFilter) -> bool {
        filter.action.is_none_or(|a| a == self.action)
            && filter
                .actor
                .as_deref()
                .is_none_or(|a| a == self.actor.filter_key())
            && filter.target.as_deref().is_none_or(|t| t == self.target.id)
            && filter.since.is_none_or(|s| self.at >= s)
            && filter.until.is_none_or(|u| self.at < u)
    }
}

/// The fields that differ between two values of a struct, as `{"path": {"before": …, "after":
/// …}}` with dotted paths into nested objects (`settings.invitation_expiry_days`); lists and
/// other values are compared whole. Fields named in `skip` (bookkeeping such as `version` and
/// `updated_at`) are left out.
pub fn changes<T: Serialize>(before: &T, after: &T, skip: &[&str]) -> serde_json::Value {
    fn walk(
        path: &str,
        b: &serde_json::Value,
        a: &serde_json::Value,
        skip: &[&str],
        out: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        match (b, a) {
            (serde_json::Value::Object(bm), serde_json::Value::Object(am)) => {
                let mut names: Vec<&String> = bm.keys().chain(am.keys()).collect();
                names.sort();
                names.dedup();
                for name in names {
                    if path.is_empty() && skip.contains(&name.as_str()) {
                        continue;
                    }
                    let p = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        &p,
                        bm.get(name).unwrap_or(&null),
                        am.get(name).unwrap_or(&null),
                        skip,
                        out,
                    );
                }
            }
            _ if b != a => {
                out.insert(
                    path.to_owned(),
                    serde_json::json!({ "before": b, "after": a }),
                );
            }
            _ => {}
        }
    }
    let mut out = serde_json::Map::new();
    if let (Ok(b), Ok(a)) = (serde_json::to_value(before), serde_json::to_value(after)) {
        walk("", &b, &a, skip, &mut out);
    }
    serde_json::Value::Object(out)
}

/// Filter of [`crate::ports::Store::list_audit_events`]; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// This action.
    pub action: Option<AuditAction>,
    /// This actor ([`Actor::filter_key`]: a user id, a SCIM token id, or `system`).
    pub actor: Option<String>,
    /// This target id.
    pub target: Option<String>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_bounds_enclose_them() {
        let t0 = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::milliseconds(5);
        let (a, b) = (AuditEventId::new(t0), AuditEventId::new(t1));
        assert!(a < b);
        assert!(AuditEventId::lower_bound(t0) <= a && a <= AuditEventId::upper_bound(t0));
        assert!(AuditEventId::upper_bound(t0) < b);
        // Made in the same millisecond, in order.
        let same: Vec<AuditEventId> = (0..100).map(|_| AuditEventId::new(t0)).collect();
        assert!(same.windows(2).all(|w| w[0] < w[1]));
        // An earlier time made later still sorts by its own time.
        let earlier = AuditEventId::new(t0 - chrono::Duration::hours(1));
        assert!(earlier < AuditEventId::lower_bound(t0));
        assert_eq!(AuditEventId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(AuditEventId::parse("aud_x"), None);
    }

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
    }

    #[test]
    fn changes_name_dotted_paths_of_what_differs() {
        let b = serde_json::json!({"name": "a", "version": 1, "settings": {"x": 1, "y": [1]}});
        let a = serde_json::json!({"name": "b", "version": 2, "settings": {"x": 1, "y": [2]}});
        assert_eq!(
            changes(&b, &a, &["version"]),
            serde_json::json!({
                "name": {"before": "a", "after": "b"},
                "settings.y": {"before": [1], "after": [2]},
            })
        );
    }

    #[test]
    fn request_meta_is_cleaned_and_bounded() {
        let ua = "x".repeat(2000);
        let m = RequestMeta::new(Some(" req-1\n"), Some(""), Some(&ua));
        assert_eq!(m.request_id.as_deref(), Some("req-1"));
        assert_eq!(m.source_ip, None);
        assert_eq!(m.user_agent.map(|u| u.len()), Some(MAX_USER_AGENT_LEN));
    }
}
