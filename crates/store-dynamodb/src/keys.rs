//! Every key format, index name and extra attribute name of the table, in one place.
//!
//! Ids never contain `#`; a free-form part (email, name key, subject, token hash) is always the
//! last part of a key, so prefixes select exactly one parent's children. `docs/data-model.md`
//! describes the same layout for people.

use chrono::{DateTime, Datelike, Timelike, Utc};
use rollcall_domain::audit::AuditEventId;
use rollcall_domain::ids::{
    GroupId, InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId,
};

/// Partition key attribute of the table.
pub const PK: &str = "PK";
/// Sort key attribute of the table.
pub const SK: &str = "SK";

/// One global secondary index: its name and key attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// Index name.
    pub name: &'static str,
    /// Partition key attribute.
    pub pk: &'static str,
    /// Sort key attribute.
    pub sk: &'static str,
}

/// user → memberships (`USER#usr` / `MEMBER#org`); org → invitations (`ORGINV#org` / `INV#inv`).
pub const GSI1: Index = Index {
    name: "GSI1",
    pk: "GSI1PK",
    sk: "GSI1SK",
};
/// email → invitations, every status (`EMAIL#normalized` / `INV#inv`); org + email → memberships
/// (`MEMBEREMAIL#org#normalized` / `MEMBER#usr`); email → users, oldest first
/// (`USEREMAIL#normalized` / `<created>#usr`).
pub const GSI2: Index = Index {
    name: "GSI2",
    pk: "GSI2PK",
    sk: "GSI2SK",
};
/// owner → assets in an org: pools, invite links, pending invitations (`OWNER#org#usr` / `POOL#…`,
/// `LINK#…`, `INV#…`).
pub const GSI3: Index = Index {
    name: "GSI3",
    pk: "GSI3PK",
    sk: "GSI3SK",
};
/// Every index, created with the table.
pub const INDEXES: [Index; 3] = [GSI1, GSI2, GSI3];

/// TTL attribute (epoch seconds): terminal invitations and rate-limit windows.
pub const TTL: &str = "ttl";
/// Counter attribute of `COUNT#…` and `RATE#…` items.
pub const N: &str = "n";
/// Pool: number of direct children.
pub const CHILDREN: &str = "children";
/// Pool: bumped by every transaction that grants the pool (accept, join), so a deletion that read
/// the pool's references before a grant fails instead of leaving a dangling assignment.
pub const SEQ: &str = "seq";
/// Pool: set while a deletion too large for one transaction is in progress.
pub const DELETING: &str = "deleting";
/// Expiry as epoch nanoseconds (invitations, invite links), for conditions and filters.
pub const EXP: &str = "exp";
/// Membership: string set of grant keys (`role`, `role#pool`, `pool`) for role/pool filters.
pub const GRANTS: &str = "grants";
/// Membership: lowercased `email\nname` for the `q` filter.
pub const SEARCH: &str = "search";
/// Invitation: normalized email, for filters.
pub const EMAIL_NORM: &str = "email_norm";
/// Claim items: the id they point to.
pub const TARGET: &str = "target";
/// Claim items that point into an org: the org id.
pub const TARGET_ORG: &str = "target_org";
/// Reference items of a group change (`REF#pool#GMEMBERS#…`): string set of the user ids whose
/// memberships gained the pool in that change.
pub const USERS: &str = "users";

/// Sort key of singleton items (users, orgs, invitations, claims).
pub const SINGLE: &str = "#";

/// `USER#usr` / `#`: a user.
pub fn user(id: &UserId) -> (String, String) {
    (format!("USER#{id}"), SINGLE.to_owned())
}

/// `SUB#sub` / `#`: subject claim holding a copy of the user.
pub fn sub(sub: &str) -> (String, String) {
    (format!("SUB#{sub}"), SINGLE.to_owned())
}

/// Partition of everything that lives inside one organization.
pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// Partition of an organization's audit log (apart from its other items, so that a Query of
/// the organization's items never reads the log, and IAM can tell audit writes apart).
pub fn audit_pk(org: &OrgId) -> String {
    format!("AUDIT#{org}")
}

/// `AUDIT#org` / `aud_…`: one audit entry.
pub fn audit(org: &OrgId, id: &AuditEventId) -> (String, String) {
    (audit_pk(org), id.to_string())
}

/// `ORG#org` / `#`: the organization.
pub fn org(org: &OrgId) -> (String, String) {
    (org_pk(org), SINGLE.to_owned())
}

/// The counters kept per organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Active organization managers.
    Managers,
    /// Pools, the root included.
    Pools,
    /// Stored-pending invitations.
    Pending,
    /// Memberships.
    Members,
    /// SCIM tokens.
    ScimTokens,
    /// SCIM groups.
    Groups,
}

/// `ORG#org` / `COUNT#managers|pools|pending|members|scim-tokens|groups`: a counter item
/// (attribute `n`).
pub fn counter(org: &OrgId, c: Counter) -> (String, String) {
    let name = match c {
        Counter::Managers => "managers",
        Counter::Pools => "pools",
        Counter::Pending => "pending",
        Counter::Members => "members",
        Counter::ScimTokens => "scim-tokens",
        Counter::Groups => "groups",
    };
    (org_pk(org), format!("COUNT#{name}"))
}

/// `ORG#org` / `RATE#H#YYYYMMDDHH`: invitations created in the org in one UTC hour.
pub fn rate_hour(org: &OrgId, at: DateTime<Utc>) -> (String, String) {
    (
        org_pk(org),
        format!(
            "RATE#H#{:04}{:02}{:02}{:02}",
            at.year(),
            at.month(),
            at.day(),
            at.hour()
        ),
    )
}

/// `ORG#org` / `RATE#D#YYYYMMDD#email`: emails to one address from the org in one UTC day.
pub fn rate_day(org: &OrgId, at: DateTime<Utc>, email: &str) -> (String, String) {
    (
        org_pk(org),
        format!(
            "RATE#D#{:04}{:02}{:02}#{email}",
            at.year(),
            at.month(),
            at.day()
        ),
    )
}

/// Prefix of the pool items of an org.
pub const POOL_PREFIX: &str = "POOL#";

/// `ORG#org` / `POOL#pool`: a pool.
pub fn pool(org: &OrgId, id: &PoolId) -> (String, String) {
    (org_pk(org), format!("{POOL_PREFIX}{id}"))
}

/// `ORG#org` / `PNAME#parent#namekey`: sibling-name claim.
pub fn pool_name(org: &OrgId, parent: &PoolId, name_key: &str) -> (String, String) {
    (org_pk(org), format!("PNAME#{parent}#{name_key}"))
}

/// What a reference item points to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefTarget {
    /// A membership (by user).
    Member(UserId),
    /// An invitation.
    Invitation(InvitationId),
    /// An invite link.
    Link(InviteLinkId),
    /// A group (its mapping, `Group::assignments`).
    Group(GroupId),
    /// The memberships one group change gave the pool: the user ids are in the item's
    /// [`USERS`] attribute; the group's version after the change makes the key unique.
    GroupMembers(GroupId, u64),
}

/// Prefix of the reference items of one pool.
pub fn pool_refs_prefix(pool: &PoolId) -> String {
    format!("REF#{pool}#")
}

/// `ORG#org` / `REF#pool#MEMBER#usr|INV#inv|LINK#lnk|GROUP#grp|GMEMBERS#grp#version`: "this
/// item has (or had) an assignment on this pool" (`GMEMBERS`: these memberships, listed in the
/// item). Written with the assignment; deleted by the pool's deletion. May be stale.
pub fn pool_ref(org: &OrgId, pool: &PoolId, target: &RefTarget) -> (String, String) {
    let t = match target {
        RefTarget::Member(u) => format!("MEMBER#{u}"),
        RefTarget::Invitation(i) => format!("INV#{i}"),
        RefTarget::Link(l) => format!("LINK#{l}"),
        RefTarget::Group(g) => format!("GROUP#{g}"),
        RefTarget::GroupMembers(g, v) => format!("GMEMBERS#{g}#{v}"),
    };
    (org_pk(org), format!("{}{t}", pool_refs_prefix(pool)))
}

/// Parses the target out of a reference item's sort key.
pub fn parse_pool_ref(sk: &str) -> Option<RefTarget> {
    let rest = sk.strip_prefix("REF#")?;
    let (_pool, target) = rest.split_once('#')?;
    let (kind, id) = target.split_once('#')?;
    match kind {
        "MEMBER" => UserId::parse(id).ok().map(RefTarget::Member),
        "INV" => InvitationId::parse(id).ok().map(RefTarget::Invitation),
        "LINK" => InviteLinkId::parse(id).ok().map(RefTarget::Link),
        "GROUP" => GroupId::parse(id).ok().map(RefTarget::Group),
        "GMEMBERS" => {
            let (g, v) = id.split_once('#')?;
            Some(RefTarget::GroupMembers(
                GroupId::parse(g).ok()?,
                v.parse().ok()?,
            ))
        }
        _ => None,
    }
}

/// Prefix of the membership items of an org.
pub const MEMBER_PREFIX: &str = "MEMBER#";

/// `ORG#org` / `MEMBER#usr`: a membership.
pub fn membership(org: &OrgId, user: &UserId) -> (String, String) {
    (org_pk(org), format!("{MEMBER_PREFIX}{user}"))
}

/// GSI1 keys of a membership: `USER#usr` / `MEMBER#org`.
pub fn membership_gsi1(org: &OrgId, user: &UserId) -> (String, String) {
    (format!("USER#{user}"), format!("{MEMBER_PREFIX}{org}"))
}

/// GSI2 keys of a membership: `MEMBEREMAIL#org#email` / `MEMBER#usr`.
pub fn membership_gsi2(org: &OrgId, email: &str, user: &UserId) -> (String, String) {
    (
        member_email_gsi2(org, email),
        format!("{MEMBER_PREFIX}{user}"),
    )
}

/// GSI2 partition of the members of an org with a normalized email.
pub fn member_email_gsi2(org: &OrgId, email: &str) -> String {
    format!("MEMBEREMAIL#{org}#{email}")
}

/// GSI2 keys of a user: `USEREMAIL#email` / `<created>#usr`, where `<created>` is the creation
/// time in epoch nanoseconds padded to 20 digits, so the oldest user of an address comes first.
pub fn user_email_gsi2(email: &str, created_at: DateTime<Utc>, user: &UserId) -> (String, String) {
    let nanos = i128::from(created_at.timestamp()) * 1_000_000_000
        + i128::from(created_at.timestamp_subsec_nanos());
    (
        user_email_partition(email),
        format!("{:020}#{user}", nanos.max(0)),
    )
}

/// GSI2 partition of the users with a normalized email.
pub fn user_email_partition(email: &str) -> String {
    format!("USEREMAIL#{email}")
}

/// GSI1 partition of a user's memberships.
pub fn user_memberships_gsi1(user: &UserId) -> String {
    format!("USER#{user}")
}

/// `INV#inv` / `#`: an invitation.
pub fn invitation(id: &InvitationId) -> (String, String) {
    (format!("INV#{id}"), SINGLE.to_owned())
}

/// GSI1 keys of an invitation: `ORGINV#org` / `INV#inv`.
pub fn invitation_gsi1(org: &OrgId, id: &InvitationId) -> (String, String) {
    (org_invitations_gsi1(org), format!("INV#{id}"))
}

/// GSI1 partition of an org's invitations.
pub fn org_invitations_gsi1(org: &OrgId) -> String {
    format!("ORGINV#{org}")
}

/// GSI2 keys of an invitation: `EMAIL#email` / `INV#inv`.
pub fn invitation_gsi2(email: &str, id: &InvitationId) -> (String, String) {
    (email_invitations_gsi2(email), format!("INV#{id}"))
}

/// GSI2 partition of the invitations addressed to a normalized email.
pub fn email_invitations_gsi2(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// GSI3 partition of what a member owns in an org: `OWNER#org#usr`.
pub fn owner_gsi3(org: &OrgId, user: &UserId) -> String {
    format!("OWNER#{org}#{user}")
}

/// GSI3 sort key of an owned pool.
pub fn owned_pool_gsi3(id: &PoolId) -> String {
    format!("POOL#{id}")
}

/// GSI3 sort key of an owned invite link.
pub fn owned_link_gsi3(id: &InviteLinkId) -> String {
    format!("LINK#{id}")
}

/// GSI3 sort key of a sent pending invitation.
pub fn owned_invitation_gsi3(id: &InvitationId) -> String {
    format!("INV#{id}")
}

/// `ORG#org` / `PENDING#email`: the one stored-pending invitation per org and email.
pub fn pending_slot(org: &OrgId, email: &str) -> (String, String) {
    (org_pk(org), format!("PENDING#{email}"))
}

/// `TOKEN#INV#hash` / `#`: current invitation token; holds a full copy of the invitation.
pub fn invitation_token(hash: &str) -> (String, String) {
    (format!("TOKEN#INV#{hash}"), SINGLE.to_owned())
}

/// Prefix of the invite-link items of an org.
pub const LINK_PREFIX: &str = "LINK#";

/// `ORG#org` / `LINK#lnk`: an invite link.
pub fn link(org: &OrgId, id: &InviteLinkId) -> (String, String) {
    (org_pk(org), format!("{LINK_PREFIX}{id}"))
}

/// `TOKEN#LINK#hash` / `#`: invite-link token claim pointing to the link (`target_org`, `target`).
pub fn link_token(hash: &str) -> (String, String) {
    (format!("TOKEN#LINK#{hash}"), SINGLE.to_owned())
}

/// Prefix of the SCIM-token items of an org.
pub const SCIM_PREFIX: &str = "SCIM#";

/// `ORG#org` / `SCIM#sct`: a SCIM token.
pub fn scim_token(org: &OrgId, id: &ScimTokenId) -> (String, String) {
    (org_pk(org), format!("{SCIM_PREFIX}{id}"))
}

/// `TOKEN#SCIM#hash` / `#`: SCIM token claim holding a full copy of the token.
pub fn scim_token_hash(hash: &str) -> (String, String) {
    (format!("TOKEN#SCIM#{hash}"), SINGLE.to_owned())
}

/// `ORG#org` / `SCIMUSER#usr`: the SCIM record of a member.
pub fn scim_user(org: &OrgId, user: &UserId) -> (String, String) {
    (org_pk(org), format!("SCIMUSER#{user}"))
}

/// `ORG#org` / `UNAME#<userName key>`: userName claim of a member (`target` = the user id).
pub fn user_name_claim(org: &OrgId, key: &str) -> (String, String) {
    (org_pk(org), format!("UNAME#{key}"))
}

/// `ORG#org` / `EXTID#<externalId>`: externalId claim of a membership (`target` = the user id).
pub fn external_id_claim(org: &OrgId, external_id: &str) -> (String, String) {
    (org_pk(org), format!("EXTID#{external_id}"))
}

/// `ORG#org` / `SCIMID#usr`: a SCIM id alias (`target` = the user whose record the identity
/// provider knows by that id: a placeholder linked to a person's account).
pub fn scim_alias(org: &OrgId, id: &UserId) -> (String, String) {
    (org_pk(org), format!("SCIMID#{id}"))
}

/// `ORG#org` / `MEMAIL#<normalized email>`: email claim of a membership (`target` = the user
/// id): one member per email per organization.
pub fn member_email_claim(org: &OrgId, email: &str) -> (String, String) {
    (org_pk(org), format!("MEMAIL#{email}"))
}

/// Sort-key prefix of an organization's domains.
pub const DOMAIN_PREFIX: &str = "DOMAIN#";

/// `ORG#org` / `DOMAIN#<domain>`: a domain of an organization, in any state.
pub fn org_domain(org: &OrgId, domain: &str) -> (String, String) {
    (org_pk(org), format!("{DOMAIN_PREFIX}{domain}"))
}

/// `DOMAIN#<domain>` / `#`: the claim of a verified domain (`org_id`, `enrollment`,
/// `verified_by`): one organization per verified domain.
pub fn domain_claim(domain: &str) -> (String, String) {
    (format!("{DOMAIN_PREFIX}{domain}"), SINGLE.to_owned())
}

/// Prefix of the group items of an org.
pub const GROUP_PREFIX: &str = "GROUP#";

/// `ORG#org` / `GROUP#grp`: a SCIM group.
pub fn group(org: &OrgId, id: &GroupId) -> (String, String) {
    (org_pk(org), format!("{GROUP_PREFIX}{id}"))
}

/// `ORG#org` / `GNAME#<name key>`: displayName claim of a group, holding a full copy of it (so
/// a lookup by name is one GetItem), written in step with the group.
pub fn group_name(org: &OrgId, name_key: &str) -> (String, String) {
    (org_pk(org), format!("GNAME#{name_key}"))
}

/// Partition of a group's member entries: `GMEM#org#grp`.
pub fn group_members_pk(org: &OrgId, group: &GroupId) -> String {
    format!("GMEM#{org}#{group}")
}

/// `GMEM#org#grp` / `usr_…`: a group's member entry, keyed by the member ref (the SCIM id the
/// identity provider knows the member by). Keys only: a page of 5,000 is about 600 KB.
pub fn group_member(org: &OrgId, group: &GroupId, member_ref: &UserId) -> (String, String) {
    (group_members_pk(org, group), member_ref.to_string())
}

/// `IDEM#<scope>` / `#`: the record of an `Idempotency-Key` scope (a SHA-256 hex digest of
/// caller, organization and key), in a partition of its own; TTL deletes it after it expires.
pub fn idempotency(scope: &str) -> (String, String) {
    (format!("IDEM#{scope}"), SINGLE.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn refs_round_trip() {
        let org = OrgId::from_uuid(Uuid::now_v7());
        let pool = PoolId::from_uuid(Uuid::now_v7());
        for t in [
            RefTarget::Member(UserId::from_uuid(Uuid::now_v7())),
            RefTarget::Invitation(InvitationId::from_uuid(Uuid::now_v7())),
            RefTarget::Link(InviteLinkId::from_uuid(Uuid::now_v7())),
            RefTarget::Group(GroupId::from_uuid(Uuid::now_v7())),
            RefTarget::GroupMembers(GroupId::from_uuid(Uuid::now_v7()), 17),
        ] {
            let (_, sk) = pool_ref(&org, &pool, &t);
            assert!(sk.starts_with(&pool_refs_prefix(&pool)));
            assert_eq!(parse_pool_ref(&sk), Some(t));
        }
        assert_eq!(parse_pool_ref("REF#x"), None);
    }

    #[test]
    fn prefixes_do_not_overlap() {
        let org = OrgId::from_uuid(Uuid::now_v7());
        let pool = PoolId::from_uuid(Uuid::now_v7());
        let (_, name) = pool_name(&org, &pool, "a");
        assert!(!name.starts_with(POOL_PREFIX));
        let user = UserId::from_uuid(Uuid::now_v7());
        let (_, m) = membership(&org, &user);
        assert!(m.starts_with(MEMBER_PREFIX));
        let grp = GroupId::from_uuid(Uuid::now_v7());
        let (_, g) = group(&org, &grp);
        assert!(g.starts_with(GROUP_PREFIX));
        for (_, sk) in [
            scim_user(&org, &user),
            user_name_claim(&org, "member#x"),
            external_id_claim(&org, "SCIM#x"),
            group_name(&org, "group#x"),
            counter(&org, Counter::Groups),
        ] {
            for prefix in [
                POOL_PREFIX,
                MEMBER_PREFIX,
                LINK_PREFIX,
                SCIM_PREFIX,
                GROUP_PREFIX,
                "REF#",
            ] {
                assert!(!sk.starts_with(prefix), "{sk} under {prefix}");
            }
        }
    }
}
