//! Every table and every key the embedded store writes, in one place.
//!
//! Keys are strings; composite keys join their parts with `/`. Ids never contain `/`, and a
//! variable part (an email, a name key, a subject) is always the last part, so a prefix that ends
//! in `/` selects exactly one parent's children. Values are JSON.

use chrono::{DateTime, Utc};
use redb::TableDefinition;
use rollcall_domain::audit::AuditEventId;
use rollcall_domain::ids::{
    GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId,
};
use rollcall_domain::page::MAX_CURSOR_LEN;
use rollcall_domain::ports::StoreError;

/// A table: string keys, JSON bytes.
pub(crate) type Table = TableDefinition<'static, &'static str, &'static [u8]>;

/// `user_id` → `User`.
pub(crate) const USERS: Table = TableDefinition::new("users");
/// `sub` → `user_id` (subject uniqueness).
pub(crate) const USER_SUBS: Table = TableDefinition::new("user_subs");
/// `org_id` → `Organization`.
pub(crate) const ORGS: Table = TableDefinition::new("orgs");
/// `org_id` → `Counters`.
pub(crate) const ORG_COUNTERS: Table = TableDefinition::new("org_counters");
/// `org_id/pool_id` → `Pool`.
pub(crate) const POOLS: Table = TableDefinition::new("pools");
/// `org_id/parent_id/name_key` (parent `-` for the root) → `pool_id` (sibling names; children).
pub(crate) const POOL_NAMES: Table = TableDefinition::new("pool_names");
/// `org_id/user_id` → `Membership`.
pub(crate) const MEMBERSHIPS: Table = TableDefinition::new("memberships");
/// `org_id/email/user_id` → empty (members by normalized email).
pub(crate) const MEMBER_EMAILS: Table = TableDefinition::new("member_emails");
/// `user_id/org_id` → empty (a user's organizations).
pub(crate) const USER_ORGS: Table = TableDefinition::new("user_orgs");
/// `inv_id` → `Invitation`.
pub(crate) const INVITATIONS: Table = TableDefinition::new("invitations");
/// `org_id/inv_id` → empty (an org's invitations).
pub(crate) const ORG_INVITATIONS: Table = TableDefinition::new("org_invitations");
/// `email/inv_id` → empty (invitations addressed to a normalized email).
pub(crate) const EMAIL_INVITATIONS: Table = TableDefinition::new("email_invitations");
/// `token_hash` → `inv_id` (current tokens of stored-pending invitations).
pub(crate) const INVITATION_TOKENS: Table = TableDefinition::new("invitation_tokens");
/// `org_id/email` → `inv_id` (the one stored-pending invitation per org and email).
pub(crate) const PENDING_SLOTS: Table = TableDefinition::new("pending_slots");
/// `org_id/h/YYYYMMDDHH` and `org_id/d/YYYYMMDD/email` → count (rate-limit windows).
pub(crate) const RATE_WINDOWS: Table = TableDefinition::new("rate_windows");
/// `org_id/lnk_id` → `InviteLink`.
pub(crate) const LINKS: Table = TableDefinition::new("invite_links");
/// `token_hash` → `org_id/lnk_id`.
pub(crate) const LINK_TOKENS: Table = TableDefinition::new("invite_link_tokens");
/// `org_id/sct_id` → `ScimToken`.
pub(crate) const SCIM_TOKENS: Table = TableDefinition::new("scim_tokens");
/// `token_hash` → `org_id/sct_id`.
pub(crate) const SCIM_TOKEN_HASHES: Table = TableDefinition::new("scim_token_hashes");
/// `email/created/user_id` → empty (users by normalized email, oldest first; see [`user_email`]).
pub(crate) const USER_EMAILS: Table = TableDefinition::new("user_emails");
/// `org_id/user_id` → `ScimUser` (the SCIM record of a member).
pub(crate) const SCIM_USERS: Table = TableDefinition::new("scim_users");
/// `org_id/user_name_key` → `user_id` (userName claims).
pub(crate) const SCIM_USER_NAMES: Table = TableDefinition::new("scim_user_names");
/// `org_id/external_id` → `user_id` (externalId claims of memberships).
pub(crate) const EXTERNAL_IDS: Table = TableDefinition::new("external_ids");
/// `org_id/email` → `user_id` (email claims: one member per normalized email per org).
pub(crate) const MEMBER_EMAIL_CLAIMS: Table = TableDefinition::new("member_email_claims");
/// `org_id/scim_id` → `user_id` (SCIM ids of linked placeholders: the member's user now).
pub(crate) const SCIM_ALIASES: Table = TableDefinition::new("scim_aliases");

/// `org_id/domain` → `OrgDomain` (an organization's domains, any state).
pub(crate) const ORG_DOMAINS: Table = TableDefinition::new("org_domains");
/// `domain` → `DomainClaim` (the one organization holding a verified domain).
pub(crate) const DOMAIN_CLAIMS: Table = TableDefinition::new("domain_claims");

/// `org_id/grp_id` → `Group` (SCIM groups).
pub(crate) const GROUPS: Table = TableDefinition::new("groups");
/// `org_id/name_key` → `grp_id` (displayName claims: one group per name key per org).
pub(crate) const GROUP_NAMES: Table = TableDefinition::new("group_names");
/// `org_id/grp_id/member_ref` → empty (a group's members, by the SCIM id the identity provider
/// knows them by: a member's user id, or a linked placeholder's id found in [`SCIM_ALIASES`]).
pub(crate) const GROUP_MEMBERS: Table = TableDefinition::new("group_members");

/// `org_id/aud_id` → `AuditEvent` (the audit log: written with each change, never updated).
pub(crate) const AUDIT_EVENTS: Table = TableDefinition::new("audit_events");

/// `scope` → `IdempotencyRecord` (one per `Idempotency-Key` scope; see [`idempotency_expiry`]).
pub(crate) const IDEMPOTENCY: Table = TableDefinition::new("idempotency");
/// `expires_at/scope` → empty (idempotency records by expiry, so claims delete expired ones).
pub(crate) const IDEMPOTENCY_EXPIRY: Table = TableDefinition::new("idempotency_expiry");

/// Every table, created when the database is opened.
pub(crate) const ALL_TABLES: [Table; 34] = [
    USERS,
    USER_SUBS,
    ORGS,
    ORG_COUNTERS,
    POOLS,
    POOL_NAMES,
    MEMBERSHIPS,
    MEMBER_EMAILS,
    USER_ORGS,
    INVITATIONS,
    ORG_INVITATIONS,
    EMAIL_INVITATIONS,
    INVITATION_TOKENS,
    PENDING_SLOTS,
    RATE_WINDOWS,
    LINKS,
    LINK_TOKENS,
    SCIM_TOKENS,
    SCIM_TOKEN_HASHES,
    USER_EMAILS,
    SCIM_USERS,
    SCIM_USER_NAMES,
    EXTERNAL_IDS,
    MEMBER_EMAIL_CLAIMS,
    SCIM_ALIASES,
    META,
    ORG_DOMAINS,
    DOMAIN_CLAIMS,
    GROUPS,
    GROUP_NAMES,
    GROUP_MEMBERS,
    AUDIT_EVENTS,
    IDEMPOTENCY,
    IDEMPOTENCY_EXPIRY,
];

/// Store metadata (`format` → version).
pub(crate) const META: Table = TableDefinition::new("meta");

/// Joins two key parts.
pub(crate) fn join(a: &str, b: &str) -> String {
    format!("{a}/{b}")
}

/// The prefix selecting every key whose first part is `a`.
pub(crate) fn prefix(a: &str) -> String {
    format!("{a}/")
}

/// The smallest key after every key starting with `prefix` (which ends in `/`).
pub(crate) fn prefix_end(prefix: &str) -> String {
    // `0` is the byte after `/`.
    let mut end = prefix.trim_end_matches('/').to_owned();
    end.push('0');
    end
}

/// `org_id/pool_id`.
pub(crate) fn pool(org: &OrgId, id: &PoolId) -> String {
    join(org.as_str(), id.as_str())
}

/// `org_id/parent_id/` (children of `parent`, or of nothing for the root).
pub(crate) fn pool_children(org: &OrgId, parent: Option<&PoolId>) -> String {
    let parent = parent.map(PoolId::as_str).unwrap_or("-");
    format!("{org}/{parent}/")
}

/// `org_id/parent_id/name_key`.
pub(crate) fn pool_name(org: &OrgId, parent: Option<&PoolId>, name_key: &str) -> String {
    format!("{}{name_key}", pool_children(org, parent))
}

/// `org_id/user_id`.
pub(crate) fn membership(org: &OrgId, user: &UserId) -> String {
    join(org.as_str(), user.as_str())
}

/// `org_id/email/` (the members of `org` with that normalized email).
pub(crate) fn member_emails(org: &OrgId, email: &str) -> String {
    format!("{org}/{email}/")
}

/// `org_id/email/user_id`.
pub(crate) fn member_email(org: &OrgId, email: &str, user: &UserId) -> String {
    format!("{}{user}", member_emails(org, email))
}

/// `org_id/domain` (a domain of an organization).
pub(crate) fn org_domain(org: &OrgId, domain: &str) -> String {
    join(org.as_str(), domain)
}

/// `org_id/email` (the email claim of a member).
pub(crate) fn member_email_claim(org: &OrgId, email: &str) -> String {
    join(org.as_str(), email)
}

/// `user_id/org_id`.
pub(crate) fn user_org(user: &UserId, org: &OrgId) -> String {
    join(user.as_str(), org.as_str())
}

/// `org_id/inv_id`.
pub(crate) fn org_invitation(org: &OrgId, id: &InvitationId) -> String {
    join(org.as_str(), id.as_str())
}

/// `email/inv_id`.
pub(crate) fn email_invitation(email: &str, id: &InvitationId) -> String {
    join(email, id.as_str())
}

/// `org_id/email`.
pub(crate) fn pending_slot(org: &OrgId, email: &str) -> String {
    join(org.as_str(), email)
}

/// `org_id/h/` (every hourly window of the org).
pub(crate) fn hour_windows(org: &OrgId) -> String {
    format!("{org}/h/")
}

/// `org_id/h/YYYYMMDDHH`.
pub(crate) fn hour_window(org: &OrgId, at: DateTime<Utc>) -> String {
    format!("{}{}", hour_windows(org), at.format("%Y%m%d%H"))
}

/// `org_id/d/` (every daily window of the org).
pub(crate) fn day_windows(org: &OrgId) -> String {
    format!("{org}/d/")
}

/// `org_id/d/YYYYMMDD/` (the daily windows of one day).
pub(crate) fn day_prefix(org: &OrgId, at: DateTime<Utc>) -> String {
    format!("{}{}/", day_windows(org), at.format("%Y%m%d"))
}

/// `org_id/d/YYYYMMDD/email`.
pub(crate) fn day_window(org: &OrgId, at: DateTime<Utc>, email: &str) -> String {
    format!("{}{email}", day_prefix(org, at))
}

/// `org_id/lnk_id`.
pub(crate) fn link(org: &OrgId, id: &InviteLinkId) -> String {
    join(org.as_str(), id.as_str())
}

/// `org_id/sct_id`.
pub(crate) fn scim_token(org: &OrgId, id: &ScimTokenId) -> String {
    join(org.as_str(), id.as_str())
}

/// `email/` (the users with that normalized email).
pub(crate) fn user_emails(email: &str) -> String {
    format!("{email}/")
}

/// `email/created/user_id`, where `created` is the creation time in epoch nanoseconds padded to
/// 20 digits, so the oldest user of an address comes first. (An email cannot contain `/` after its
/// `@`, so no address's prefix selects another address's users.)
pub(crate) fn user_email(email: &str, created_at: DateTime<Utc>, user: &UserId) -> String {
    let nanos = i128::from(created_at.timestamp()) * 1_000_000_000
        + i128::from(created_at.timestamp_subsec_nanos());
    format!("{}{:020}/{user}", user_emails(email), nanos.max(0))
}

/// `org_id/scim_id` (a SCIM id alias).
pub(crate) fn scim_alias(org: &OrgId, id: &UserId) -> String {
    join(org.as_str(), id.as_str())
}

/// `org_id/user_id` of a SCIM record.
pub(crate) fn scim_user(org: &OrgId, user: &UserId) -> String {
    join(org.as_str(), user.as_str())
}

/// `org_id/user_name_key`.
pub(crate) fn user_name(org: &OrgId, key: &str) -> String {
    join(org.as_str(), key)
}

/// `org_id/external_id`.
pub(crate) fn external_id(org: &OrgId, id: &str) -> String {
    join(org.as_str(), id)
}

/// `org_id/grp_id`.
pub(crate) fn group(org: &OrgId, id: &GroupId) -> String {
    join(org.as_str(), id.as_str())
}

/// `org_id/name_key` (a group's displayName claim).
pub(crate) fn group_name(org: &OrgId, name_key: &str) -> String {
    join(org.as_str(), name_key)
}

/// `org_id/grp_id` (the scope whose children are the group's member entries).
pub(crate) fn group_members(org: &OrgId, id: &GroupId) -> String {
    group(org, id)
}

/// `org_id/grp_id/member_ref`.
pub(crate) fn group_member(org: &OrgId, id: &GroupId, member_ref: &UserId) -> String {
    join(&group_members(org, id), member_ref.as_str())
}

/// `expires_at/scope` of [`IDEMPOTENCY_EXPIRY`]: the expiry as zero-padded epoch nanoseconds, so
/// key order is expiry order.
pub(crate) fn idempotency_expiry(expires_at: DateTime<Utc>, scope: &str) -> String {
    let nanos = i128::from(expires_at.timestamp()) * 1_000_000_000
        + i128::from(expires_at.timestamp_subsec_nanos());
    format!("{:024}/{scope}", nanos.max(0))
}

/// The key of the format version in [`META`].
pub(crate) const FORMAT_KEY: &str = "format";
/// The format version this code writes (2: users by email, member counts, SCIM records and claims;
/// 3: member email claims; 4: SCIM groups, which a build that does not know them must not open,
/// since its membership writes would drop the members' `groups`; 5: the audit log, which a build
/// that does not know it must not write to without entries). The idempotency tables need no new
/// version: nothing else refers to them, and a build without them just leaves them alone.
pub(crate) const FORMAT_VERSION: u32 = 5;

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// `list_memberships`.
    Members,
    /// `list_user_memberships`.
    UserMemberships,
    /// `list_invitations`.
    Invitations,
    /// `list_invitations_for_email`.
    EmailInvitations,
    /// `list_invite_links`.
    Links,
    /// `list_groups`.
    Groups,
    /// `list_group_members`.
    GroupMembers,
    /// `list_audit_events`.
    AuditEvents,
}

impl ListKind {
    fn tag(self) -> &'static str {
        match self {
            ListKind::Members => "m",
            ListKind::UserMemberships => "um",
            ListKind::Invitations => "i",
            ListKind::EmailInvitations => "ei",
            ListKind::Links => "l",
            ListKind::Groups => "g",
            ListKind::GroupMembers => "gm",
            ListKind::AuditEvents => "a",
        }
    }

    /// Whether `last` is an id of the kind this list is ordered by.
    fn accepts(self, last: &str) -> bool {
        match self {
            ListKind::Members | ListKind::GroupMembers => UserId::parse(last).is_ok(),
            ListKind::UserMemberships => OrgId::parse(last).is_ok(),
            ListKind::Invitations | ListKind::EmailInvitations => InvitationId::parse(last).is_ok(),
            ListKind::Links => InviteLinkId::parse(last).is_ok(),
            ListKind::Groups => GroupId::parse(last).is_ok(),
            ListKind::AuditEvents => AuditEventId::parse(last).is_some(),
        }
    }
}

const CURSOR_VERSION: &str = "e1";

/// An opaque cursor: hex of `e1\nkind\nscope\nlast`, where `scope` is what the list is of (org,
/// user or email) and `last` the last id returned.
pub(crate) fn encode_cursor(kind: ListKind, scope: &str, last: &str) -> String {
    let raw = format!("{CURSOR_VERSION}\n{}\n{scope}\n{last}", kind.tag());
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The last id of a cursor made by [`encode_cursor`] for the same list, or
/// [`StoreError::InvalidCursor`].
pub(crate) fn decode_cursor(
    cursor: &str,
    kind: ListKind,
    scope: &str,
) -> Result<String, StoreError> {
    if cursor.len() > MAX_CURSOR_LEN || !cursor.len().is_multiple_of(2) {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(StoreError::InvalidCursor)?;
    let raw = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let mut parts = raw.splitn(4, '\n');
    let (Some(version), Some(tag), Some(got_scope), Some(last)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StoreError::InvalidCursor);
    };
    if version != CURSOR_VERSION || tag != kind.tag() || got_scope != scope || !kind.accepts(last) {
        return Err(StoreError::InvalidCursor);
    }
    Ok(last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_list() {
        let org = OrgId::from_uuid(Uuid::now_v7());
        let user = UserId::from_uuid(Uuid::now_v7());
        let c = encode_cursor(ListKind::Members, org.as_str(), user.as_str());
        assert_eq!(
            decode_cursor(&c, ListKind::Members, org.as_str()).unwrap(),
            user.as_str()
        );
        assert_eq!(
            decode_cursor(&c, ListKind::Links, org.as_str()),
            Err(StoreError::InvalidCursor)
        );
        let other = OrgId::from_uuid(Uuid::now_v7());
        assert_eq!(
            decode_cursor(&c, ListKind::Members, other.as_str()),
            Err(StoreError::InvalidCursor)
        );
        for bad in ["", "zz", "abc", "00", &"a".repeat(2000)] {
            assert_eq!(
                decode_cursor(bad, ListKind::Members, org.as_str()),
                Err(StoreError::InvalidCursor)
            );
        }
    }

    #[test]
    fn prefix_end_follows_every_child() {
        let p = prefix("org_x");
        let end = prefix_end(&p);
        assert!(join("org_x", "zzz~") < end);
        assert!(p < join("org_x", "a"));
        assert!(join("org_x0", "a") >= end);
    }
}
