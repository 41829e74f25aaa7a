//! A full check of the store's invariants: every index entry and claim points at the record it
//! indexes, every record has its index entries, and each organization's counters equal what they
//! count. It reads every table (a full scan, for tests, the crash test and operators: `rollcall
//! check-store`), never a request path.

use crate::db::{Reader, decode};
use crate::keys;
use crate::ops::Counters;
use redb::ReadTransaction;
use rollcall_domain::model::{
    Group, Invitation, InvitationStatus, InviteLink, Membership, Organization, Pool, ScimToken,
    ScimUser,
};
use rollcall_domain::ports::StoreResult;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

/// Every entry of `table`: key and raw value.
fn all(r: &ReadTransaction, table: keys::Table) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    r.visit(
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |k, v| {
            out.push((k.to_owned(), v.to_vec()));
            Ok(true)
        },
    )?;
    Ok(out)
}

/// Every decoded record of `table`, by key.
fn records<T: serde::de::DeserializeOwned>(
    r: &ReadTransaction,
    table: keys::Table,
) -> StoreResult<BTreeMap<String, T>> {
    all(r, table)?
        .into_iter()
        .map(|(k, v)| decode(&v).map(|t| (k, t)))
        .collect()
}

/// Every index entry of `table` whose value is a plain string, by key.
fn index(r: &ReadTransaction, table: keys::Table) -> StoreResult<BTreeMap<String, String>> {
    Ok(all(r, table)?
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect())
}

/// Every key of `table`.
fn key_set(r: &ReadTransaction, table: keys::Table) -> StoreResult<BTreeSet<String>> {
    Ok(all(r, table)?.into_iter().map(|(k, _)| k).collect())
}

/// The problems found, one sentence each; empty when the store is consistent.
pub(crate) fn check(r: &ReadTransaction) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    let orgs: BTreeMap<String, Organization> = records(r, keys::ORGS)?;
    let counters: BTreeMap<String, Counters> = records(r, keys::ORG_COUNTERS)?;
    let memberships: BTreeMap<String, Membership> = records(r, keys::MEMBERSHIPS)?;
    let pools: BTreeMap<String, Pool> = records(r, keys::POOLS)?;
    let invitations: BTreeMap<String, Invitation> = records(r, keys::INVITATIONS)?;
    let links: BTreeMap<String, InviteLink> = records(r, keys::LINKS)?;
    let scim_users: BTreeMap<String, ScimUser> = records(r, keys::SCIM_USERS)?;
    let scim_tokens: BTreeMap<String, ScimToken> = records(r, keys::SCIM_TOKENS)?;
    let user_orgs = key_set(r, keys::USER_ORGS)?;
    let member_emails = key_set(r, keys::MEMBER_EMAILS)?;
    let email_claims = index(r, keys::MEMBER_EMAIL_CLAIMS)?;
    let pending_slots = index(r, keys::PENDING_SLOTS)?;
    let org_invitations = key_set(r, keys::ORG_INVITATIONS)?;
    let invitation_tokens = index(r, keys::INVITATION_TOKENS)?;
    let link_tokens = index(r, keys::LINK_TOKENS)?;
    let scim_names = index(r, keys::SCIM_USER_NAMES)?;
    let external_ids = index(r, keys::EXTERNAL_IDS)?;
    let scim_token_hashes = index(r, keys::SCIM_TOKEN_HASHES)?;
    let scim_aliases = index(r, keys::SCIM_ALIASES)?;
    let groups: BTreeMap<String, Group> = records(r, keys::GROUPS)?;
    let group_names = index(r, keys::GROUP_NAMES)?;
    let group_members = key_set(r, keys::GROUP_MEMBERS)?;

    // Memberships and their index entries, both ways.
    for (key, m) in &memberships {
        let org = &m.org_id;
        let user = &m.user_id;
        if !orgs.contains_key(org.as_str()) {
            problems.push(format!("membership {key}: no organization"));
        }
        if !user_orgs.contains(&keys::user_org(user, org)) {
            problems.push(format!("membership {key}: no user_orgs entry"));
        }
        let email = m.email.normalized();
        if !member_emails.contains(&keys::member_email(org, email, user)) {
            problems.push(format!("membership {key}: no member_emails entry"));
        }
        match email_claims.get(&keys::member_email_claim(org, email)) {
            None => problems.push(format!("membership {key}: no email claim")),
            Some(holder) => match memberships.get(&keys::join(org.as_str(), holder)) {
                Some(h) if h.email.normalized() == email => {}
                _ => problems.push(format!("membership {key}: its email claim names {holder}, not a member with that address")),
            },
        }
    }
    for key in &user_orgs {
        let Some((user, org)) = key.split_once('/') else {
            problems.push(format!("user_orgs {key}: malformed"));
            continue;
        };
        if !memberships.contains_key(&keys::join(org, user)) {
            problems.push(format!("user_orgs {key}: no membership"));
        }
    }
    for key in &member_emails {
        let mut parts = key.rsplitn(2, '/');
        let (Some(user), Some(org_email)) = (parts.next(), parts.next()) else {
            problems.push(format!("member_emails {key}: malformed"));
            continue;
        };
        let Some((org, email)) = org_email.split_once('/') else {
            problems.push(format!("member_emails {key}: malformed"));
            continue;
        };
        match memberships.get(&keys::join(org, user)) {
            Some(m) if m.email.normalized() == email => {}
            _ => problems.push(format!("member_emails {key}: no member with that address")),
        }
    }
    for (key, user) in &email_claims {
        let Some((org, email)) = key.split_once('/') else {
            problems.push(format!("email claim {key}: malformed"));
            continue;
        };
        match memberships.get(&keys::join(org, user)) {
            Some(m) if m.email.normalized() == email => {}
            _ => problems.push(format!(
                "email claim {key} → {user}: no member with that address"
            )),
        }
    }

    // SCIM records and their claims.
    for (key, s) in &scim_users {
        if !memberships.contains_key(&keys::membership(&s.org_id, &s.user_id)) {
            problems.push(format!("SCIM user {key}: no membership"));
        }
    }
    for (key, user) in &scim_names {
        let Some((org, _)) = key.split_once('/') else {
            problems.push(format!("userName claim {key}: malformed"));
            continue;
        };
        if !scim_users.contains_key(&keys::join(org, user)) {
            problems.push(format!("userName claim {key} → {user}: no SCIM user"));
        }
    }
    for (key, user) in &external_ids {
        let Some((org, _)) = key.split_once('/') else {
            problems.push(format!("externalId claim {key}: malformed"));
            continue;
        };
        if !memberships.contains_key(&keys::join(org, user)) {
            problems.push(format!("externalId claim {key} → {user}: no membership"));
        }
    }

    // Invitations: the pending slot, the token and the org index.
    for (id, inv) in &invitations {
        if !org_invitations.contains(&keys::org_invitation(&inv.org_id, &inv.id)) {
            problems.push(format!("invitation {id}: no org_invitations entry"));
        }
        let pending = inv.status == InvitationStatus::Pending;
        let slot = pending_slots.get(&keys::pending_slot(&inv.org_id, inv.email.normalized()));
        if pending && slot != Some(id) {
            problems.push(format!(
                "pending invitation {id}: its pending slot names {slot:?}"
            ));
        }
        if pending && invitation_tokens.get(&inv.token_hash) != Some(id) {
            problems.push(format!(
                "pending invitation {id}: its token does not find it"
            ));
        }
    }
    for (slot, id) in &pending_slots {
        match invitations.get(id) {
            Some(inv) if inv.status == InvitationStatus::Pending => {}
            _ => problems.push(format!(
                "pending slot {slot} → {id}: not a pending invitation"
            )),
        }
    }
    for (hash, id) in &invitation_tokens {
        match invitations.get(id) {
            // Closed invitations keep their token, so it can say why it no longer works.
            Some(inv) if &inv.token_hash == hash => {}
            _ => problems.push(format!(
                "invitation token → {id}: not that invitation's token"
            )),
        }
    }

    // Links, tokens, pools: what they point at exists.
    for (hash, key) in &link_tokens {
        match links.get(key) {
            Some(l) if &l.token_hash == hash => {}
            _ => problems.push(format!("invite link token → {key}: no such link")),
        }
    }
    for (key, link) in &links {
        if link.max_uses.is_some_and(|max| link.uses > max) {
            problems.push(format!(
                "invite link {key}: {} uses of at most {:?}",
                link.uses, link.max_uses
            ));
        }
    }
    for (hash, key) in &scim_token_hashes {
        match scim_tokens.get(key) {
            Some(t) if &t.token_hash == hash => {}
            _ => problems.push(format!("SCIM token hash → {key}: no such token")),
        }
    }
    for (key, pool) in &pools {
        if !memberships.contains_key(&keys::membership(&pool.org_id, &pool.owner_id)) {
            problems.push(format!(
                "pool {key}: its owner {} is not a member",
                pool.owner_id
            ));
        }
    }

    // Groups: records, name claims, member entries and the members' `groups`, all ways.
    problems.extend(check_groups(
        &orgs,
        &memberships,
        &scim_aliases,
        &groups,
        &group_names,
        &group_members,
    ));

    // Counters equal what they count.
    let mut counted: HashMap<&str, Counters> = HashMap::new();
    for m in memberships.values() {
        let c = counted.entry(m.org_id.as_str()).or_default();
        c.members += 1;
        c.active_org_managers += u32::from(m.is_active_org_manager());
    }
    for p in pools.values() {
        counted.entry(p.org_id.as_str()).or_default().pools += 1;
    }
    for slot in pending_slots.keys() {
        if let Some((org, _)) = slot.split_once('/') {
            counted.entry(org).or_default().pending_invitations += 1;
        }
    }
    for t in scim_tokens.values() {
        counted.entry(t.org_id.as_str()).or_default().scim_tokens += 1;
    }
    for g in groups.values() {
        counted.entry(g.org_id.as_str()).or_default().groups += 1;
    }
    for org in orgs.keys() {
        let stored = counters.get(org).cloned().unwrap_or_default();
        let actual = counted.get(org.as_str()).cloned().unwrap_or_default();
        if stored != actual {
            problems.push(format!(
                "organization {org}: counters {stored:?}, counted {actual:?}"
            ));
        }
    }
    crate::idempotency::check(r, &mut problems)?;
    Ok(problems)
}

/// The group invariants: each group is under its own key, in an existing organization, holds its
/// name claim and counts its entries; each name claim names a group with that name key; each
/// member entry names a member of the org (by user id, or by a SCIM id aliased to one) who lists
/// the group, at most once per group; each group a member lists exists and has the member's
/// entry; a member in groups has as effective assignments its direct ones and its grants.
fn check_groups(
    orgs: &BTreeMap<String, Organization>,
    memberships: &BTreeMap<String, Membership>,
    scim_aliases: &BTreeMap<String, String>,
    groups: &BTreeMap<String, Group>,
    group_names: &BTreeMap<String, String>,
    group_members: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    // Entries per group key, and (org/group, user) pairs the entries make.
    let mut entries: HashMap<String, u64> = HashMap::new();
    let mut listed: HashMap<(String, String), u32> = HashMap::new();
    for key in group_members {
        let mut parts = key.splitn(3, '/');
        let (Some(org), Some(group), Some(member_ref)) = (parts.next(), parts.next(), parts.next())
        else {
            problems.push(format!("group member entry {key}: malformed"));
            continue;
        };
        let group_key = keys::join(org, group);
        *entries.entry(group_key.clone()).or_default() += 1;
        if !groups.contains_key(&group_key) {
            problems.push(format!("group member entry {key}: no such group"));
        }
        // The member: the ref is their user id, or a SCIM id aliased to them.
        let user = if memberships.contains_key(&keys::join(org, member_ref)) {
            member_ref.to_owned()
        } else if let Some(user) = scim_aliases.get(&keys::join(org, member_ref)) {
            user.clone()
        } else {
            problems.push(format!("group member entry {key}: names no member"));
            continue;
        };
        match memberships.get(&keys::join(org, &user)) {
            None => problems.push(format!(
                "group member entry {key}: its alias names {user}, not a member"
            )),
            Some(m) if !m.groups.iter().any(|g| g.group_id.as_str() == group) => problems.push(
                format!("group member entry {key}: member {user} does not list the group"),
            ),
            Some(_) => {}
        }
        *listed.entry((group_key, user)).or_default() += 1;
    }
    for ((group_key, user), n) in &listed {
        if *n > 1 {
            problems.push(format!("group {group_key}: {n} entries name member {user}"));
        }
    }
    for (key, m) in memberships {
        let org = m.org_id.as_str();
        for grant in &m.groups {
            let group_key = keys::join(org, grant.group_id.as_str());
            if !groups.contains_key(&group_key) {
                problems.push(format!(
                    "membership {key}: lists group {}, which does not exist",
                    grant.group_id
                ));
            }
            if !listed.contains_key(&(group_key, m.user_id.as_str().to_owned())) {
                problems.push(format!(
                    "membership {key}: lists group {}, which has no entry for it",
                    grant.group_id
                ));
            }
        }
        if !m.groups.windows(2).all(|w| w[0].group_id < w[1].group_id) {
            problems.push(format!(
                "membership {key}: its groups are not in group id order, each once"
            ));
        }
        if (!m.groups.is_empty() || m.direct_assignments.is_some())
            && m.assignments != Membership::effective_of(m.direct_assignments(), &m.groups)
        {
            problems.push(format!(
                "membership {key}: its assignments are not its direct ones and its grants"
            ));
        }
    }
    for (key, g) in groups {
        if key != &keys::group(&g.org_id, &g.id) {
            problems.push(format!("group {key}: stored under another key"));
        }
        if !orgs.contains_key(g.org_id.as_str()) {
            problems.push(format!("group {key}: no organization"));
        }
        let claim = keys::group_name(&g.org_id, &g.name_key());
        if group_names.get(&claim).map(String::as_str) != Some(g.id.as_str()) {
            problems.push(format!(
                "group {key}: its name claim {claim} does not name it"
            ));
        }
        let n = entries.get(key).copied().unwrap_or(0);
        if g.member_count != n {
            problems.push(format!(
                "group {key}: member_count {}, {n} entries",
                g.member_count
            ));
        }
    }
    for (claim, id) in group_names {
        let Some((org, name_key)) = claim.split_once('/') else {
            problems.push(format!("group name claim {claim}: malformed"));
            continue;
        };
        match groups.get(&keys::join(org, id)) {
            Some(g) if g.name_key() == name_key => {}
            _ => problems.push(format!(
                "group name claim {claim} → {id}: no group with that name"
            )),
        }
    }
    problems
}
