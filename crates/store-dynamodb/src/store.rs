//! The [`Store`] implementation: each method is a fixed, small number of calls (see
//! `docs/data-model.md` for the table of access patterns and counts).

mod groups;
mod idempotency;

use crate::DynamoStore;
use crate::cursor::Scope;
use crate::expr::Expr;
use crate::item::{self, Item, attr, from_item, get_n, get_s, key, n, s, wire};
use crate::keys::{self, Counter, RefTarget};
use crate::read::FilterFn;
use crate::tx::Action;
use async_trait::async_trait;
use chrono::{Duration, DurationRound};
use rollcall_domain::audit::{AuditEvent, AuditFilter};
use rollcall_domain::email::normalize_email;
use rollcall_domain::idempotency::{Claim, IdempotencyRecord};
use rollcall_domain::ids::GroupId;
use rollcall_domain::ids::{InvitationId, InviteLinkId, OrgId, PoolId, ScimTokenId, UserId};
use rollcall_domain::model::Group;
use rollcall_domain::model::{
    Invitation, InvitationStatus, InviteLink, Membership, Organization, Pool, ScimToken, ScimUser,
    Timestamp, User, user_name_key,
};
use rollcall_domain::org_domain::{DomainClaim, OrgDomain};
use rollcall_domain::page::{Page, PageRequest};
use rollcall_domain::ports::GroupMemberChange;
use rollcall_domain::ports::{
    Conflict, Handover, InvitationFilter, InviteLimits, MemberFilter, MembershipWrite, RateLimit,
    Store, StoreError, StoreResult, scim_update_is_consistent,
};
use rollcall_domain::role::{Assignment, Role, normal_form};
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashMap};

/// Actions per transaction when a change is split into hand-over batches.
const BATCH_ITEMS: usize = 90;
/// Most rounds of batches a pool deletion or member removal makes before giving up (and leaving
/// the rest to a repeated call).
const MAX_BATCH_ROUNDS: usize = 50;

fn conflict<T>(c: Conflict) -> StoreResult<T> {
    Err(StoreError::Conflict(c))
}

fn decode<T: DeserializeOwned>(item: Option<Item>) -> StoreResult<Option<T>> {
    item.as_ref().map(from_item).transpose()
}

fn decode_all<T: DeserializeOwned>(items: &[Item]) -> StoreResult<Vec<T>> {
    items.iter().map(from_item).collect()
}

/// `version = :v`.
fn version_is(e: &mut Expr, v: u64) -> String {
    format!("{} = {}", e.name("version"), e.val(n(v)))
}

/// `version = :v AND status = :pending`.
fn pending_version(e: &mut Expr, v: u64) -> String {
    let ver = version_is(e, v);
    format!(
        "{ver} AND {} = {}",
        e.name("status"),
        e.val(s(InvitationStatus::Pending.as_str()))
    )
}

fn counter_item(org: &OrgId, c: Counter, value: i64) -> Item {
    let mut item = key(keys::counter(org, c));
    item.insert(keys::N.to_owned(), n(value));
    item
}

/// `ADD n :delta` on a counter.
fn counter_add(org: &OrgId, c: Counter, delta: i64) -> Action {
    Action::update(key(keys::counter(org, c)), |e| {
        format!("ADD {} {}", e.name(keys::N), e.val(n(delta)))
    })
}

/// Decrements a counter only if it stays at least 1.
fn counter_dec_keep_one(org: &OrgId, c: Counter) -> Action {
    counter_add(org, c, -1).when(|e| format!("{} > {}", e.name(keys::N), e.val(n(1))))
}

/// Adds one to a counter item unless it reached `max` (created at 1 when missing), setting `ttl`.
fn bounded_increment(k: (String, String), max: Option<u32>, ttl: Option<i64>) -> Action {
    let a = Action::update(key(k), |e| {
        let add = format!("ADD {} {}", e.name(keys::N), e.val(n(1)));
        match ttl {
            Some(t) => format!("SET {} = {} {add}", e.name(keys::TTL), e.val(n(t))),
            None => add,
        }
    });
    match max {
        // A limit of 0 admits nothing, even before the counter exists.
        Some(0) => a.when(|e| format!("{} < {}", e.name(keys::N), e.val(n(0)))),
        Some(m) => a.when(|e| {
            let nn = e.name(keys::N);
            format!("attribute_not_exists({nn}) OR {nn} < {}", e.val(n(m)))
        }),
        None => a,
    }
}

fn pool_delete_conflict(old: Option<&Item>) -> Conflict {
    match old {
        Some(i) if get_n(i, keys::CHILDREN).unwrap_or(0) > 0 => Conflict::PoolHasChildren,
        _ => Conflict::Stale,
    }
}

fn slot_conflict(old: Option<&Item>) -> Conflict {
    match old
        .and_then(|i| get_s(i, keys::TARGET))
        .and_then(|t| InvitationId::parse(t).ok())
    {
        Some(id) => Conflict::PendingInvitationExists(id),
        None => Conflict::Stale,
    }
}

/// Puts a reference item for each pool.
fn ref_actions(
    org: &OrgId,
    pools: impl IntoIterator<Item = PoolId>,
    target: &RefTarget,
) -> Vec<Action> {
    pools
        .into_iter()
        .map(|p| Action::put(item::ref_item(org, &p, target)))
        .collect()
}

/// Bumps the `seq` of each pool a write grants, on condition it exists and is not being deleted.
fn pool_grant_checks(org: &OrgId, pools: &[PoolId]) -> Vec<Action> {
    let unique: BTreeSet<&PoolId> = pools.iter().collect();
    unique
        .into_iter()
        .map(|p| {
            Action::update(key(keys::pool(org, p)), |e| {
                let seq = e.name(keys::SEQ);
                format!(
                    "SET {seq} = if_not_exists({seq}, {}) + {}",
                    e.val(n(0)),
                    e.val(n(1))
                )
            })
            .when(|e| {
                format!(
                    "attribute_exists({}) AND attribute_not_exists({})",
                    e.name(keys::PK),
                    e.name(keys::DELETING)
                )
            })
            .or(Conflict::PoolMissing(p.clone()))
        })
        .collect()
}

/// Checks that the organization exists ([`Conflict::OrgMissing`]).
fn org_exists(org: &OrgId) -> Action {
    Action::check(key(keys::org(org)))
        .if_present()
        .or(Conflict::OrgMissing)
}

/// Takes the claim at `k` for `user`: condition absent or already `user`'s, else `taken`.
fn take_claim(k: (String, String), user: &UserId, taken: Conflict) -> Action {
    let me = s(user.as_str());
    Action::put(item::user_claim_item(k, user))
        .when(|e| {
            format!(
                "attribute_not_exists({}) OR {} = {}",
                e.name(keys::PK),
                e.name(keys::TARGET),
                e.val(me)
            )
        })
        .or(taken)
}

/// Deletes a placeholder user and its subject claim, on condition it is still that placeholder
/// (same subject and address, not declined or linked meanwhile: [`Conflict::Stale`]).
fn placeholder_deletion(p: &User) -> Vec<Action> {
    let id = s(p.id.as_str());
    vec![
        Action::delete(key(keys::user(&p.id))).when(|e| placeholder_unchanged(e, p)),
        Action::delete(key(keys::sub(&p.sub)))
            .when(|e| format!("{} = {}", e.name("id"), e.val(id))),
    ]
}

/// The condition that the stored user is `p` as read: its subject, its normalized address and
/// its decline (the fields a placeholder's owners and organization change).
fn placeholder_unchanged(e: &mut Expr, p: &User) -> String {
    let sub = format!("{} = {}", e.name("sub"), e.val(s(p.sub.as_str())));
    let email = format!(
        "{}.{} = {}",
        e.name("email"),
        e.name("normalized"),
        e.val(s(p.email.normalized()))
    );
    let declined = match &p.link_declined_at {
        None => format!("attribute_not_exists({})", e.name("link_declined_at")),
        Some(at) => format!(
            "{} = {}",
            e.name("link_declined_at"),
            // As the item stores it (the serde form of the timestamp).
            e.val(s(serde_json::to_value(at)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
                .as_str()))
        ),
    };
    format!("{sub} AND {email} AND {declined}")
}

/// Moves the claim at `k` from `from` to `to`: condition held by `from`, else [`Conflict::Stale`].
fn move_claim(k: (String, String), from: &UserId, to: &UserId) -> Action {
    let was = s(from.as_str());
    Action::put(item::user_claim_item(k, to))
        .when(|e| format!("{} = {}", e.name(keys::TARGET), e.val(was)))
}

/// Releases `user`'s claim at `k` (a no-op when absent); [`Conflict::Stale`] if another holds it.
fn release_claim(k: (String, String), user: &UserId) -> Action {
    let me = s(user.as_str());
    Action::delete(key(k)).when(|e| {
        format!(
            "attribute_not_exists({}) OR {} = {}",
            e.name(keys::PK),
            e.name(keys::TARGET),
            e.val(me)
        )
    })
}

/// The actions of a membership write, in three groups, in the order they go into a transaction
/// (callers put their own conditions between them):
struct MembershipActions {
    /// The membership, the managers and members counters, and for a creation the organization's
    /// existence.
    core: Vec<Action>,
    /// The externalId claim moving with the value.
    claims: Vec<Action>,
    /// The reference items of the pools it gains.
    refs: Vec<Action>,
}

/// The parts of a membership write, before they are put together: a write of one membership
/// ([`membership_actions`]) counts and references alone; a group change
/// ([`Store::update_group`]) combines the counters and references of all its members.
struct MembershipParts {
    /// For a creation, the check that the organization exists.
    org_check: Option<Action>,
    /// The membership Put with its condition.
    put: Action,
    /// Change of the active organization managers counter (−1, 0, +1).
    managers: i64,
    /// Change of the members counter (0, or +1 for a creation).
    members: i64,
    /// The email and externalId claims moving with the values.
    claims: Vec<Action>,
    /// The pools the membership gains (its reference items are due).
    gained: BTreeSet<PoolId>,
}

/// The counter updates of `managers` and `members` changes: a managers decrease only while at
/// least one active organization manager stays ([`Conflict::LastOrganizationManager`]).
fn counter_actions(org: &OrgId, managers: i64, members: i64) -> Vec<Action> {
    let mut out = Vec::new();
    match managers {
        d if d < 0 => out.push(
            counter_add(org, Counter::Managers, d)
                .when(|e| format!("{} > {}", e.name(keys::N), e.val(n(-d))))
                .or(Conflict::LastOrganizationManager),
        ),
        d if d > 0 => out.push(counter_add(org, Counter::Managers, d)),
        _ => {}
    }
    if members != 0 {
        out.push(counter_add(org, Counter::Members, members));
    }
    out
}

fn membership_parts(w: &MembershipWrite) -> StoreResult<MembershipParts> {
    let (org, user) = match w {
        MembershipWrite::Create(m) => (&m.org_id, &m.user_id),
        MembershipWrite::Update { after, .. } => (&after.org_id, &after.user_id),
    };
    let (old_ext, new_ext) = match w {
        MembershipWrite::Create(m) => (None, m.external_id.as_deref()),
        MembershipWrite::Update { before, after } => {
            (before.external_id.as_deref(), after.external_id.as_deref())
        }
    };
    let mut claims = Vec::new();
    let (old_email, new_email) = match w {
        MembershipWrite::Create(m) => (None, m.email.normalized()),
        MembershipWrite::Update { before, after } => {
            (Some(before.email.normalized()), after.email.normalized())
        }
    };
    if old_email != Some(new_email) {
        if let Some(old) = old_email {
            claims.push(release_claim(keys::member_email_claim(org, old), user));
        }
        claims.push(take_claim(
            keys::member_email_claim(org, new_email),
            user,
            Conflict::MemberEmailTaken,
        ));
    }
    if old_ext != new_ext {
        if let Some(x) = old_ext {
            claims.push(release_claim(keys::external_id_claim(org, x), user));
        }
        if let Some(x) = new_ext {
            claims.push(take_claim(
                keys::external_id_claim(org, x),
                user,
                Conflict::ExternalIdTaken,
            ));
        }
    }
    match w {
        MembershipWrite::Create(m) => Ok(MembershipParts {
            org_check: Some(org_exists(&m.org_id)),
            put: Action::put(item::membership_item(m)?)
                .if_absent()
                .or(Conflict::MembershipExists),
            managers: i64::from(m.is_active_org_manager()),
            members: 1,
            claims,
            gained: item::pools_of(&m.assignments),
        }),
        MembershipWrite::Update { before, after } => {
            let v = before.version;
            let had = item::pools_of(&before.assignments);
            Ok(MembershipParts {
                org_check: None,
                put: Action::put(item::membership_item(after)?)
                    .when(|e| version_is(e, v))
                    .or(Conflict::Stale),
                managers: i64::from(after.is_active_org_manager())
                    - i64::from(before.is_active_org_manager()),
                members: 0,
                claims,
                gained: item::pools_of(&after.assignments)
                    .into_iter()
                    .filter(|p| !had.contains(p))
                    .collect(),
            })
        }
    }
}

/// Whether a membership write changes the member's groups (only a group change may:
/// [`Store::update_group`] writes them with the group's entries).
fn changes_groups(w: &MembershipWrite) -> bool {
    match w {
        MembershipWrite::Create(m) => !m.groups.is_empty(),
        MembershipWrite::Update { before, after } => before.groups != after.groups,
    }
}

/// The actions of a membership write outside a group change: [`Conflict::Stale`] if it would
/// change the member's groups.
fn membership_actions(w: &MembershipWrite) -> StoreResult<MembershipActions> {
    if changes_groups(w) {
        return conflict(Conflict::Stale);
    }
    let p = membership_parts(w)?;
    let after = w.after();
    let mut core: Vec<Action> = p.org_check.into_iter().collect();
    core.push(p.put);
    core.extend(counter_actions(&after.org_id, p.managers, p.members));
    let refs = ref_actions(
        &after.org_id,
        p.gained,
        &RefTarget::Member(after.user_id.clone()),
    );
    Ok(MembershipActions {
        core,
        claims: p.claims,
        refs,
    })
}

/// [`Conflict::Stale`] unless `record` is about the member `w` writes.
fn same_member(w: &MembershipWrite, record: &ScimUser) -> StoreResult<()> {
    if w.is_about(&record.org_id, &record.user_id) {
        Ok(())
    } else {
        conflict(Conflict::Stale)
    }
}

/// Accepts a pending invitation as `after`: the invitation (stored version, pending, unexpired at
/// `now` → [`Conflict::InvitationNotPending`]), then the slot, token claim and pending counter.
fn accept_actions(
    before: &Invitation,
    after: &Invitation,
    now: Timestamp,
) -> StoreResult<Vec<Action>> {
    let v = before.version;
    let now_n = item::epoch_nanos(now);
    let mut out = vec![
        Action::put(item::invitation_item(after)?)
            .when(|e| {
                let p = pending_version(e, v);
                format!("{p} AND {} > {}", e.name(keys::EXP), e.val(n(now_n)))
            })
            .or(Conflict::InvitationNotPending),
    ];
    out.extend(release_invitation(before, after)?);
    Ok(out)
}

/// Releases a closing invitation's slot and pending count, and updates its token claim to the
/// closed state (after its own Put).
fn release_invitation(before: &Invitation, after: &Invitation) -> StoreResult<Vec<Action>> {
    Ok(vec![
        Action::delete(key(keys::pending_slot(
            &before.org_id,
            before.email.normalized(),
        ))),
        Action::put(item::invitation_token_item(after)?),
        counter_add(&before.org_id, Counter::Pending, -1),
    ])
}

/// The rate-limit windows of `limits` that are set.
fn rate_actions(org: &OrgId, email: &str, limits: &InviteLimits) -> Vec<Action> {
    let mut out = Vec::new();
    let now = limits.now;
    if let Some(max) = limits.per_hour {
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        let ttl = (hour + Duration::hours(25)).timestamp();
        out.push(
            bounded_increment(keys::rate_hour(org, now), Some(max), Some(ttl))
                .or(Conflict::RateLimited(RateLimit::InvitationsPerHour)),
        );
    }
    if let Some(max) = limits.per_recipient_per_day {
        let day = now.duration_trunc(Duration::days(1)).unwrap_or(now);
        let ttl = (day + Duration::days(2)).timestamp();
        out.push(
            bounded_increment(keys::rate_day(org, now, email), Some(max), Some(ttl))
                .or(Conflict::RateLimited(RateLimit::EmailsPerRecipientPerDay)),
        );
    }
    out
}

fn without_pool(list: &[Assignment], pool: &PoolId) -> Vec<Assignment> {
    normal_form(
        list.iter()
            .filter(|a| a.pool_id.as_ref() != Some(pool))
            .cloned(),
    )
}

fn has_pool(list: &[Assignment], pool: &PoolId) -> bool {
    list.iter().any(|a| a.pool_id.as_ref() == Some(pool))
}

fn status_filter(e: &mut Expr, status: InvitationStatus, now: Timestamp) -> String {
    let st = e.name("status");
    let pending_and = |e: &mut Expr, op: &str| {
        let exp = e.name(keys::EXP);
        let pending = e.val(s(InvitationStatus::Pending.as_str()));
        let now = e.val(n(item::epoch_nanos(now)));
        format!("{st} = {pending} AND {exp} {op} {now}")
    };
    match status {
        InvitationStatus::Pending => pending_and(e, ">"),
        InvitationStatus::Expired => {
            let lapsed = pending_and(e, "<=");
            let expired = e.val(s(InvitationStatus::Expired.as_str()));
            format!("(({lapsed}) OR {st} = {expired})")
        }
        other => format!("{st} = {}", e.val(s(other.as_str()))),
    }
}

impl DynamoStore {
    async fn get_as<T: DeserializeOwned>(&self, k: (String, String)) -> StoreResult<Option<T>> {
        decode(self.get(k).await?)
    }

    async fn refresh_user(&self, current: User, seen: &User) -> StoreResult<User> {
        if current.email == seen.email
            && current.email_verified == seen.email_verified
            && current.name == seen.name
        {
            return Ok(current);
        }
        let updated = User {
            email: seen.email.clone(),
            email_verified: seen.email_verified,
            name: seen.name.clone(),
            ..current
        };
        self.run_step(vec![
            Action::put(item::sub_item(&updated)?).if_present(),
            Action::put(item::user_item(&updated)?).if_present(),
        ])
        .await?;
        Ok(updated)
    }

    /// Runs a membership-granting transaction; if it is too large for one transaction, writes the
    /// (harmless when stale) reference items first.
    async fn run_with_refs(&self, mut core: Vec<Action>, refs: Vec<Action>) -> StoreResult<()> {
        if core.len() + refs.len() <= self.room() {
            core.extend(refs);
            return self.run(core).await;
        }
        self.run_batched(refs.into_iter().map(|a| vec![a]).collect(), BATCH_ITEMS)
            .await?;
        self.run(core).await
    }

    /// For each reference item of `pool`: the actions that drop the pool from the referring items
    /// (or check they are unchanged since read), then delete the reference. A `GMEMBERS`
    /// reference refers to every membership it lists; an item referred to by several references
    /// is rewritten (or checked) once, with the first of them.
    async fn pool_ref_groups(&self, org: &OrgId, pool: &PoolId) -> StoreResult<Vec<Vec<Action>>> {
        let refs = self
            .query_all(
                None,
                &keys::org_pk(org),
                &keys::pool_refs_prefix(pool),
                true,
            )
            .await?;
        let targets: Vec<(Item, Vec<RefTarget>)> = refs
            .iter()
            .filter_map(|r| {
                let t = keys::parse_pool_ref(get_s(r, keys::SK)?)?;
                let ts = match t {
                    RefTarget::GroupMembers(..) => item::ref_users(r)
                        .into_iter()
                        .map(RefTarget::Member)
                        .collect(),
                    t => vec![t],
                };
                Some((item::key_of(r), ts))
            })
            .collect();
        let target_key = |t: &RefTarget| match t {
            RefTarget::Member(u) => Some(keys::membership(org, u)),
            RefTarget::Invitation(i) => Some(keys::invitation(i)),
            RefTarget::Link(l) => Some(keys::link(org, l)),
            RefTarget::Group(g) => Some(keys::group(org, g)),
            RefTarget::GroupMembers(..) => None,
        };
        let wanted: Vec<Item> = targets
            .iter()
            .flat_map(|(_, ts)| ts.iter().filter_map(target_key))
            .map(key)
            .collect();
        let fetched = if wanted.is_empty() {
            Vec::new()
        } else {
            self.batch_get(wanted).await?
        };
        let by_key: HashMap<(String, String), Item> = fetched
            .into_iter()
            .filter_map(|i| {
                let k = (
                    get_s(&i, keys::PK)?.to_owned(),
                    get_s(&i, keys::SK)?.to_owned(),
                );
                Some((k, i))
            })
            .collect();
        let mut handled = std::collections::HashSet::new();
        let mut groups = Vec::new();
        for (ref_key, ts) in targets {
            let mut g = Vec::new();
            for t in &ts {
                let Some(tk) = target_key(t) else { continue };
                if !handled.insert(tk.clone()) {
                    continue;
                }
                g.extend(drop_pool_actions(t, tk.clone(), by_key.get(&tk), pool)?);
            }
            g.push(Action::delete(ref_key));
            groups.push(g);
        }
        Ok(groups)
    }

    /// The final step of a pool deletion.
    fn pool_removal(pool: &Pool, seq: Option<i64>) -> Vec<Action> {
        let org = &pool.org_id;
        let mut v = vec![
            Action::delete(key(keys::pool(org, &pool.id)))
                .when(|e| {
                    let base = format!(
                        "attribute_exists({}) AND {} = {}",
                        e.name(keys::PK),
                        e.name(keys::CHILDREN),
                        e.val(n(0))
                    );
                    match seq {
                        Some(q) => format!("{base} AND {} = {}", e.name(keys::SEQ), e.val(n(q))),
                        None => base,
                    }
                })
                .or_inspect(pool_delete_conflict),
            counter_add(org, Counter::Pools, -1),
        ];
        if let Some(parent) = &pool.parent_id {
            v.push(Action::delete(key(keys::pool_name(
                org,
                parent,
                &pool.name_key(),
            ))));
            v.push(Action::update(key(keys::pool(org, parent)), |e| {
                format!("ADD {} {}", e.name(keys::CHILDREN), e.val(n(-1)))
            }));
        }
        v
    }

    /// The hand-over of what `member` owns in the org, one group per asset, with the counts.
    async fn handover_groups(
        &self,
        member: &Membership,
        successor: &UserId,
    ) -> StoreResult<(Vec<Vec<Action>>, Handover)> {
        let org = &member.org_id;
        let owned = self
            .query_all(
                Some(keys::GSI3),
                &keys::owner_gsi3(org, &member.user_id),
                "",
                true,
            )
            .await?;
        let new_owner = keys::owner_gsi3(org, successor);
        let mut groups = Vec::new();
        let mut h = Handover::default();
        for it in owned {
            let sk = get_s(&it, keys::GSI3.sk).unwrap_or_default();
            if sk.starts_with("POOL#") {
                let p: Pool = from_item(&it)?;
                if p.owner_id != member.user_id {
                    continue;
                }
                groups.push(vec![reassign(
                    key(keys::pool(org, &p.id)),
                    "owner_id",
                    member,
                    successor,
                    &new_owner,
                )]);
                h.pools += 1;
            } else if sk.starts_with("LINK#") {
                let l: InviteLink = from_item(&it)?;
                if l.created_by != member.user_id {
                    continue;
                }
                groups.push(vec![reassign(
                    key(keys::link(org, &l.id)),
                    "created_by",
                    member,
                    successor,
                    &new_owner,
                )]);
                h.invite_links += 1;
            } else if sk.starts_with("INV#") {
                let inv: Invitation = from_item(&it)?;
                if inv.status != InvitationStatus::Pending || inv.inviter_id != member.user_id {
                    continue;
                }
                let v = inv.version;
                let after = Invitation {
                    inviter_id: successor.clone(),
                    version: inv.version + 1,
                    ..inv
                };
                groups.push(vec![
                    Action::put(item::invitation_item(&after)?).when(|e| pending_version(e, v)),
                    Action::put(item::invitation_token_item(&after)?).if_present(),
                ]);
                h.invitations += 1;
            }
        }
        Ok((groups, h))
    }
}

/// Sets `field` (and the owner index) from `member` to `successor`, on condition it is `member`.
fn reassign(
    k: Item,
    field: &'static str,
    member: &Membership,
    successor: &UserId,
    new_owner: &str,
) -> Action {
    let succ = s(successor.as_str());
    let owner = s(new_owner);
    let was = s(member.user_id.as_str());
    Action::update(k, |e| {
        format!(
            "SET {} = {}, {} = {}",
            e.name(field),
            e.val(succ),
            e.name(keys::GSI3.pk),
            e.val(owner)
        )
    })
    .when(|e| format!("{} = {}", e.name(field), e.val(was)))
}

/// The actions that drop `pool` from the item `t` refers to (at key `tk`, `current` as read), or
/// check that an item without it is unchanged since read.
fn drop_pool_actions(
    t: &RefTarget,
    tk: (String, String),
    current: Option<&Item>,
    pool: &PoolId,
) -> StoreResult<Vec<Action>> {
    let mut g = Vec::new();
    match (t, current) {
        (RefTarget::Member(_), Some(it)) => {
            let m: Membership = from_item(it)?;
            let v = m.version;
            if let Some(without) = m.without_pool(pool) {
                let after = Membership {
                    version: m.version + 1,
                    ..without
                };
                g.push(Action::put(item::membership_item(&after)?).when(|e| version_is(e, v)));
            } else {
                g.push(Action::check(key(tk)).when(|e| version_is(e, v)));
            }
        }
        (RefTarget::Member(_), None) => g.push(Action::check(key(tk)).if_absent()),
        (RefTarget::Invitation(_), Some(it)) => {
            let inv: Invitation = from_item(it)?;
            if inv.status == InvitationStatus::Pending {
                let v = inv.version;
                if has_pool(&inv.assignments, pool) {
                    let after = Invitation {
                        assignments: without_pool(&inv.assignments, pool),
                        version: inv.version + 1,
                        ..inv
                    };
                    g.push(
                        Action::put(item::invitation_item(&after)?).when(|e| pending_version(e, v)),
                    );
                    g.push(Action::put(item::invitation_token_item(&after)?));
                } else {
                    g.push(Action::check(key(tk)).when(|e| version_is(e, v)));
                }
            }
        }
        (RefTarget::Link(_), Some(it)) => {
            let l: InviteLink = from_item(it)?;
            if has_pool(&l.assignments, pool) {
                let list = attr(&without_pool(&l.assignments, pool))?;
                g.push(
                    Action::update(key(tk), |e| {
                        format!("SET {} = {}", e.name("assignments"), e.val(list))
                    })
                    .if_present(),
                );
            }
        }
        (RefTarget::Group(_), Some(it)) => {
            // The mapping loses the pool; the group's members lose it through their own
            // references (every membership that gained a pool has one).
            let grp: Group = from_item(it)?;
            let v = grp.version;
            if has_pool(&grp.assignments, pool) {
                // As `Membership::without_pool` does for grants: the rest of the list, which
                // may become empty (no role beyond `member`).
                let after = Group {
                    assignments: grp
                        .assignments
                        .iter()
                        .filter(|a| a.pool_id.as_ref() != Some(pool))
                        .cloned()
                        .collect(),
                    version: grp.version + 1,
                    ..grp.clone()
                };
                g.push(Action::put(item::group_item(&after)?).when(|e| version_is(e, v)));
                g.extend(groups::name_claim_actions(&grp, &after)?);
            } else {
                g.push(Action::check(key(tk)).when(|e| version_is(e, v)));
            }
        }
        (RefTarget::Invitation(_) | RefTarget::Link(_) | RefTarget::Group(_), None) => {}
        (RefTarget::GroupMembers(..), _) => {}
    }
    Ok(g)
}

fn page_of<T: DeserializeOwned>(items: Vec<Item>, next: Option<String>) -> StoreResult<Page<T>> {
    Ok(Page {
        items: decode_all(&items)?,
        next_cursor: next,
    })
}

#[async_trait]
impl Store for DynamoStore {
    fn audited(&self, event: AuditEvent) -> std::sync::Arc<dyn Store> {
        std::sync::Arc::new(DynamoStore {
            audit: Some(std::sync::Arc::new(event)),
            ..self.clone()
        })
    }

    async fn list_audit_events(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        self.audit_list(org, filter, now, page).await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.get_as(keys::user(id)).await
    }

    async fn get_user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        self.get_as(keys::sub(sub)).await
    }

    async fn upsert_user(&self, user: &User) -> StoreResult<User> {
        if let Some(current) = self.get_as::<User>(keys::sub(&user.sub)).await? {
            return self.refresh_user(current, user).await;
        }
        // A user belongs to no organization: never an audit entry.
        let created = self
            .run_step(vec![
                Action::put(item::sub_item(user)?).if_absent(),
                Action::put(item::user_item(user)?).if_absent(),
            ])
            .await;
        match created {
            Ok(()) => Ok(user.clone()),
            Err(StoreError::Conflict(Conflict::Stale)) => {
                match self.get_as::<User>(keys::sub(&user.sub)).await? {
                    Some(current) => self.refresh_user(current, user).await,
                    None => conflict(Conflict::Stale),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn create_org(
        &self,
        org: &Organization,
        root: &Pool,
        owner: &Membership,
    ) -> StoreResult<()> {
        let mut actions = vec![
            Action::put(item::org_item(org)?).if_absent(),
            Action::put(item::new_pool_item(root)?).if_absent(),
            Action::put(item::membership_item(owner)?)
                .if_absent()
                .or(Conflict::MembershipExists),
            Action::put(counter_item(
                &org.id,
                Counter::Managers,
                i64::from(owner.is_active_org_manager()),
            )),
            Action::put(counter_item(&org.id, Counter::Pools, 1)),
            Action::put(counter_item(&org.id, Counter::Pending, 0)),
            Action::put(counter_item(&org.id, Counter::Members, 1)),
        ];
        actions.push(take_claim(
            keys::member_email_claim(&org.id, owner.email.normalized()),
            &owner.user_id,
            Conflict::MemberEmailTaken,
        ));
        if let Some(x) = &owner.external_id {
            actions.push(take_claim(
                keys::external_id_claim(&org.id, x),
                &owner.user_id,
                Conflict::ExternalIdTaken,
            ));
        }
        actions.extend(ref_actions(
            &org.id,
            item::pools_of(&owner.assignments),
            &RefTarget::Member(owner.user_id.clone()),
        ));
        self.run(actions).await
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        self.get_as(keys::org(id)).await
    }

    async fn get_orgs(&self, ids: &[OrgId]) -> StoreResult<Vec<Organization>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .batch_get(ids.iter().map(|id| key(keys::org(id))).collect())
            .await?;
        let orgs: Vec<Organization> = decode_all(&items)?;
        let by_id: HashMap<&OrgId, &Organization> = orgs.iter().map(|o| (&o.id, o)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id).map(|o| (*o).clone()))
            .collect())
    }

    async fn update_org(&self, org: &Organization) -> StoreResult<()> {
        let attrs = item::org_item(org)?;
        self.run(vec![
            Action::update(key(keys::org(&org.id)), |e| e.set_all(&attrs, &[]))
                .if_present()
                .or(Conflict::OrgMissing),
        ])
        .await
    }

    async fn get_pool(&self, org: &OrgId, id: &PoolId) -> StoreResult<Option<Pool>> {
        self.get_as(keys::pool(org, id)).await
    }

    async fn list_pools(&self, org: &OrgId) -> StoreResult<Vec<Pool>> {
        let items = self
            .query_all(None, &keys::org_pk(org), keys::POOL_PREFIX, true)
            .await?;
        decode_all(&items)
    }

    async fn create_pool(&self, pool: &Pool, max_pools: u32) -> StoreResult<()> {
        let org = &pool.org_id;
        let Some(parent) = &pool.parent_id else {
            return conflict(Conflict::Stale);
        };
        let mut claim = key(keys::pool_name(org, parent, &pool.name_key()));
        claim.insert(keys::TARGET.to_owned(), s(pool.id.as_str()));
        self.run(vec![
            Action::update(key(keys::pool(org, parent)), |e| {
                let c = e.name(keys::CHILDREN);
                format!(
                    "SET {c} = if_not_exists({c}, {}) + {}",
                    e.val(n(0)),
                    e.val(n(1))
                )
            })
            .when(|e| {
                format!(
                    "attribute_exists({}) AND attribute_not_exists({})",
                    e.name(keys::PK),
                    e.name(keys::DELETING)
                )
            })
            .or(Conflict::PoolMissing(parent.clone())),
            Action::put(claim).if_absent().or(Conflict::PoolNameTaken),
            bounded_increment(keys::counter(org, Counter::Pools), Some(max_pools), None)
                .or(Conflict::PoolLimit),
            Action::put(item::new_pool_item(pool)?).if_absent(),
        ])
        .await
    }

    async fn update_pool(&self, before: &Pool, after: &Pool) -> StoreResult<()> {
        let org = &after.org_id;
        let attrs = item::pool_attrs(after)?;
        let mut actions = vec![
            Action::update(key(keys::pool(org, &after.id)), |e| {
                e.set_all(&attrs, &["parent_id"])
            })
            .if_present(),
        ];
        if let Some(parent) = &after.parent_id
            && before.name_key() != after.name_key()
        {
            let mut claim = key(keys::pool_name(org, parent, &after.name_key()));
            claim.insert(keys::TARGET.to_owned(), s(after.id.as_str()));
            actions.push(Action::put(claim).if_absent().or(Conflict::PoolNameTaken));
            actions.push(Action::delete(key(keys::pool_name(
                org,
                parent,
                &before.name_key(),
            ))));
        }
        self.run(actions).await
    }

    async fn delete_pool(&self, pool: &Pool) -> StoreResult<()> {
        let org = &pool.org_id;
        if pool.parent_id.is_none() {
            return conflict(Conflict::Stale);
        }
        let Some(cur) = self.get(keys::pool(org, &pool.id)).await? else {
            return conflict(Conflict::Stale);
        };
        if get_n(&cur, keys::CHILDREN).unwrap_or(0) > 0 {
            return conflict(Conflict::PoolHasChildren);
        }
        let current: Pool = from_item(&cur)?;
        let resuming = cur.contains_key(keys::DELETING);
        let seq = get_n(&cur, keys::SEQ).unwrap_or(0);
        let groups = self.pool_ref_groups(org, &pool.id).await?;
        let size: usize = groups.iter().map(Vec::len).sum();
        if !resuming && size + 4 <= self.room() {
            let mut actions = Self::pool_removal(&current, Some(seq));
            actions.extend(groups.into_iter().flatten());
            return self.run(actions).await;
        }
        // Too large for one transaction: mark the pool so nothing can be granted on it any more,
        // drop the assignments in batches, then remove the pool. A failed call can be repeated.
        if !resuming {
            self.run_step(vec![
                Action::update(key(keys::pool(org, &pool.id)), |e| {
                    format!(
                        "SET {} = {}",
                        e.name(keys::DELETING),
                        e.val(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
                    )
                })
                .when(|e| {
                    format!(
                        "attribute_exists({}) AND {} = {}",
                        e.name(keys::PK),
                        e.name(keys::CHILDREN),
                        e.val(n(0))
                    )
                })
                .or_inspect(pool_delete_conflict),
            ])
            .await?;
        }
        let mut groups = groups;
        for _ in 0..MAX_BATCH_ROUNDS {
            let size: usize = groups.iter().map(Vec::len).sum();
            if size + 4 <= self.room() {
                let mut actions = Self::pool_removal(&current, None);
                actions.extend(groups.into_iter().flatten());
                return self.run(actions).await;
            }
            self.run_batched(groups, BATCH_ITEMS).await?;
            groups = self.pool_ref_groups(org, &pool.id).await?;
        }
        Err(StoreError::Unavailable(
            "pool deletion did not finish; repeat it".to_owned(),
        ))
    }

    async fn get_membership(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<Membership>> {
        self.get_as(keys::membership(org, user)).await
    }

    async fn find_membership_by_email(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Membership>> {
        // Index keys written under an older email rule may hold another address (see
        // docs/data-model.md, "The email rule"): only an equal normalized form is a match.
        let email = normalize_email(email);
        let partition = keys::member_email_gsi2(org, &email);
        let m: Option<Membership> = decode(self.query_first(keys::GSI2, &partition).await?)?;
        Ok(m.filter(|m| m.email.normalized() == email))
    }

    async fn list_memberships(
        &self,
        org: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let partition = keys::org_pk(org);
        let scope = Scope {
            tag: "members",
            index: None,
            partition: &partition,
            sk_prefix: keys::MEMBER_PREFIX,
        };
        let grant = match (filter.role, &filter.pool_id) {
            (Some(Role::Member), None) | (None, None) => None,
            (Some(r), Some(p)) => Some(Assignment::on_pool(r, p.clone()).grant_key()),
            (Some(r), None) => Some(r.as_str().to_owned()),
            (None, Some(p)) => Some(p.to_string()),
        };
        let status = filter.status.map(|st| wire(&st));
        let q = filter
            .q
            .as_ref()
            .map(|q| q.to_lowercase())
            .filter(|q| !q.is_empty());
        let f: FilterFn<'_> = Box::new(move |e: &mut Expr| {
            let mut parts = Vec::new();
            if let Some(g) = grant {
                parts.push(format!(
                    "contains({}, {})",
                    e.name(keys::GRANTS),
                    e.val(s(g))
                ));
            }
            if let Some(st) = status {
                parts.push(format!("{} = {}", e.name("status"), e.val(s(st))));
            }
            if let Some(q) = q {
                parts.push(format!(
                    "contains({}, {})",
                    e.name(keys::SEARCH),
                    e.val(s(q))
                ));
            }
            (!parts.is_empty()).then(|| parts.join(" AND "))
        });
        let (items, next) = self.page(&scope, f, true, page).await?;
        page_of(items, next)
    }

    async fn list_user_memberships(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let partition = keys::user_memberships_gsi1(user);
        let scope = Scope {
            tag: "user_members",
            index: Some(keys::GSI1),
            partition: &partition,
            sk_prefix: keys::MEMBER_PREFIX,
        };
        let (items, next) = self.page(&scope, Box::new(|_| None), true, page).await?;
        page_of(items, next)
    }

    async fn write_membership(&self, write: &MembershipWrite) -> StoreResult<()> {
        let m = membership_actions(write)?;
        let mut core = m.core;
        core.extend(m.claims);
        self.run_with_refs(core, m.refs).await
    }

    async fn remove_member(
        &self,
        member: &Membership,
        successor: &UserId,
    ) -> StoreResult<Handover> {
        // A member still in a group would leave its member entries behind.
        if !member.groups.is_empty() {
            return conflict(Conflict::Stale);
        }
        let org = &member.org_id;
        let user = &member.user_id;
        let email_claim = keys::member_email_claim(org, member.email.normalized());
        // Only a SCIM member's user can be this organization's placeholder.
        let placeholder = async {
            match member.source {
                rollcall_domain::model::MemberSource::Scim => {
                    self.get_as::<User>(keys::user(user)).await
                }
                _ => Ok(None),
            }
        };
        let (owned, record, claim, placeholder) = tokio::join!(
            self.handover_groups(member, successor),
            self.get_as::<ScimUser>(keys::scim_user(org, user)),
            self.get(email_claim.clone()),
            placeholder
        );
        let ((groups, handover), record, claim, placeholder) =
            (owned?, record?, claim?, placeholder?);
        if successor == user {
            return conflict(Conflict::Stale);
        }
        let v = member.version;
        let mut removal = vec![
            Action::delete(key(keys::membership(org, user))).when(|e| version_is(e, v)),
            // The successor is still a member when the assets reach them.
            Action::check(key(keys::membership(org, successor))).if_present(),
        ];
        if member.is_active_org_manager() {
            removal.push(
                counter_dec_keep_one(org, Counter::Managers).or(Conflict::LastOrganizationManager),
            );
        }
        removal.push(counter_add(org, Counter::Members, -1));
        // The SCIM record and the claims go with the membership.
        if let Some(r) = &record {
            let rv = r.version;
            removal
                .push(Action::delete(key(keys::scim_user(org, user))).when(|e| version_is(e, rv)));
            removal.push(release_claim(
                keys::user_name_claim(org, &r.user_name_key()),
                user,
            ));
            if let Some(alias) = &r.scim_id {
                removal.push(Action::delete(key(keys::scim_alias(org, alias))));
            }
        }
        if let Some(x) = &member.external_id {
            removal.push(release_claim(keys::external_id_claim(org, x), user));
        }
        // A placeholder of this organization goes with its membership (it would otherwise still
        // own the address and wait to be linked).
        if let Some(p) = placeholder.filter(|p| p.is_placeholder_of(org)) {
            removal.extend(placeholder_deletion(&p));
        }
        // The email claim, when the member holds it (a member stored before the claims existed
        // may share its address with the one who holds it; that one keeps it).
        if claim
            .as_ref()
            .and_then(|c| get_s(c, keys::TARGET))
            .is_some_and(|t| t == user.as_str())
        {
            removal.push(release_claim(email_claim, user));
        }
        let size: usize = groups.iter().map(Vec::len).sum();
        // The audit entry records what was handed over, which is known by now.
        let entry = self.audit.as_deref().map(|e| {
            let mut e = e.clone();
            e.record_handover(&handover);
            e
        });
        if size + removal.len() <= self.room() {
            removal.extend(groups.into_iter().flatten());
            self.run_recording(removal, entry.as_ref()).await?;
            return Ok(handover);
        }
        // More than one transaction holds: check the removal's conditions, hand over in batches,
        // remove last. Repeating a failed call hands over what is left and removes.
        match self
            .get_as::<Membership>(keys::membership(org, &member.user_id))
            .await?
        {
            Some(m) if m.version == member.version => {}
            _ => return conflict(Conflict::Stale),
        }
        if self.get(keys::membership(org, successor)).await?.is_none() {
            return conflict(Conflict::Stale);
        }
        if member.is_active_org_manager() {
            let managers = self.get(keys::counter(org, Counter::Managers)).await?;
            if managers
                .as_ref()
                .and_then(|i| get_n(i, keys::N))
                .unwrap_or(0)
                <= 1
            {
                return conflict(Conflict::LastOrganizationManager);
            }
        }
        self.run_batched(groups, BATCH_ITEMS).await?;
        self.run_recording(removal, entry.as_ref()).await?;
        Ok(handover)
    }

    async fn get_invitation(&self, id: &InvitationId) -> StoreResult<Option<Invitation>> {
        self.get_as(keys::invitation(id)).await
    }

    async fn find_invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        self.get_as(keys::invitation_token(token_hash)).await
    }

    async fn find_pending_invitation(
        &self,
        org: &OrgId,
        email: &str,
    ) -> StoreResult<Option<Invitation>> {
        let email = normalize_email(email);
        let Some(slot) = self.get(keys::pending_slot(org, &email)).await? else {
            return Ok(None);
        };
        let Some(id) = get_s(&slot, keys::TARGET).and_then(|t| InvitationId::parse(t).ok()) else {
            return Err(StoreError::Corrupt(format!(
                "pending slot of {org} without an invitation id"
            )));
        };
        let inv: Option<Invitation> = self.get_as(keys::invitation(&id)).await?;
        Ok(inv.filter(|i| i.status == InvitationStatus::Pending && i.email.normalized() == email))
    }

    async fn list_invitations(
        &self,
        org: &OrgId,
        filter: &InvitationFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>> {
        let status = filter.status;
        let email_status = filter.email_status;
        let org_value = org.to_string();
        let (partition, scope_tag, index) = match &filter.email {
            Some(email) => (
                keys::email_invitations_gsi2(&normalize_email(email)),
                "org_invitations_email",
                keys::GSI2,
            ),
            None => (
                keys::org_invitations_gsi1(org),
                "org_invitations",
                keys::GSI1,
            ),
        };
        let by_email = filter.email.is_some();
        let scope = Scope {
            tag: scope_tag,
            index: Some(index),
            partition: &partition,
            sk_prefix: "INV#",
        };
        let f: FilterFn<'_> = Box::new(move |e: &mut Expr| {
            let mut parts = Vec::new();
            if by_email {
                parts.push(format!("{} = {}", e.name("org_id"), e.val(s(org_value))));
            }
            if let Some(st) = status {
                parts.push(status_filter(e, st, now));
            }
            if let Some(es) = email_status {
                parts.push(format!(
                    "{} = {}",
                    e.name("email_status"),
                    e.val(s(es.as_str()))
                ));
            }
            (!parts.is_empty()).then(|| parts.join(" AND "))
        });
        let (items, next) = self.page(&scope, f, false, page).await?;
        page_of(items, next)
    }

    async fn list_invitations_for_email(
        &self,
        email: &str,
        now: Timestamp,
        page: &PageRequest,
    ) -> StoreResult<Page<Invitation>> {
        let email = normalize_email(email);
        let partition = keys::email_invitations_gsi2(&email);
        let scope = Scope {
            tag: "email_invitations",
            index: Some(keys::GSI2),
            partition: &partition,
            sk_prefix: "INV#",
        };
        let f: FilterFn<'_> =
            Box::new(move |e: &mut Expr| Some(status_filter(e, InvitationStatus::Pending, now)));
        let (items, next) = self.page(&scope, f, false, page).await?;
        let mut page: Page<Invitation> = page_of(items, next)?;
        page.items.retain(|i| i.email.normalized() == email);
        Ok(page)
    }

    async fn create_invitation(
        &self,
        invitation: &Invitation,
        replaces: Option<&Invitation>,
        limits: &InviteLimits,
    ) -> StoreResult<()> {
        let inv = invitation;
        let org = &inv.org_id;
        let slot = Action::put(item::pending_slot_item(inv));
        let slot = match replaces {
            None => slot.if_absent(),
            Some(r) => {
                let rid = s(r.id.as_str());
                slot.when(|e| {
                    format!(
                        "attribute_not_exists({}) OR {} = {}",
                        e.name(keys::PK),
                        e.name(keys::TARGET),
                        e.val(rid)
                    )
                })
            }
        };
        let mut actions = vec![org_exists(org), slot.or_inspect(slot_conflict)];
        if let Some(r) = replaces {
            let v = r.version;
            let closed = r.closed(InvitationStatus::Expired, limits.now);
            actions
                .push(Action::put(item::invitation_item(&closed)?).when(|e| pending_version(e, v)));
            actions.push(Action::put(item::invitation_token_item(&closed)?));
        }
        actions.push(Action::put(item::invitation_item(inv)?).if_absent());
        actions.push(Action::put(item::invitation_token_item(inv)?).if_absent());
        let pending_limit = Conflict::RateLimited(RateLimit::PendingInvitations);
        match (replaces, limits.max_pending) {
            (None, max) => actions.push(
                bounded_increment(keys::counter(org, Counter::Pending), max, None)
                    .or(pending_limit),
            ),
            (Some(_), Some(max)) => actions.push(
                Action::check(key(keys::counter(org, Counter::Pending)))
                    .when(|e| {
                        let nn = e.name(keys::N);
                        format!("attribute_not_exists({nn}) OR {nn} <= {}", e.val(n(max)))
                    })
                    .or(pending_limit),
            ),
            (Some(_), None) => {}
        }
        actions.extend(rate_actions(org, inv.email.normalized(), limits));
        actions.extend(ref_actions(
            org,
            item::pools_of(&inv.assignments),
            &RefTarget::Invitation(inv.id.clone()),
        ));
        self.run(actions).await
    }

    async fn update_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        limits: Option<&InviteLimits>,
    ) -> StoreResult<()> {
        let v = before.version;
        let mut actions =
            vec![Action::put(item::invitation_item(after)?).when(|e| pending_version(e, v))];
        if before.token_hash != after.token_hash {
            actions.push(Action::delete(key(keys::invitation_token(
                &before.token_hash,
            ))));
            actions.push(Action::put(item::invitation_token_item(after)?).if_absent());
        } else {
            actions.push(Action::put(item::invitation_token_item(after)?));
        }
        if let Some(l) = limits {
            actions.extend(rate_actions(&after.org_id, after.email.normalized(), l));
        }
        let had = item::pools_of(&before.assignments);
        let gained = item::pools_of(&after.assignments)
            .into_iter()
            .filter(|p| !had.contains(p));
        actions.extend(ref_actions(
            &after.org_id,
            gained,
            &RefTarget::Invitation(after.id.clone()),
        ));
        self.run(actions).await
    }

    async fn close_invitation(&self, before: &Invitation, after: &Invitation) -> StoreResult<()> {
        let v = before.version;
        let mut actions = vec![
            Action::put(item::invitation_item(after)?)
                .when(|e| pending_version(e, v))
                .or(Conflict::InvitationNotPending),
        ];
        actions.extend(release_invitation(before, after)?);
        self.run(actions).await
    }

    async fn accept_invitation(
        &self,
        before: &Invitation,
        after: &Invitation,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut core = accept_actions(before, after, now)?;
        let m = membership_actions(membership)?;
        core.extend(m.core);
        core.extend(pool_grant_checks(
            &membership.after().org_id,
            required_pools,
        ));
        core.extend(m.claims);
        self.run_with_refs(core, m.refs).await
    }

    async fn create_invite_link(&self, link: &InviteLink) -> StoreResult<()> {
        let mut actions = vec![
            Action::put(item::link_item(link)?).if_absent(),
            Action::put(item::link_token_item(link)).if_absent(),
        ];
        actions.extend(ref_actions(
            &link.org_id,
            item::pools_of(&link.assignments),
            &RefTarget::Link(link.id.clone()),
        ));
        self.run(actions).await
    }

    async fn get_invite_link(
        &self,
        org: &OrgId,
        id: &InviteLinkId,
    ) -> StoreResult<Option<InviteLink>> {
        self.get_as(keys::link(org, id)).await
    }

    async fn find_invite_link_by_token(&self, token_hash: &str) -> StoreResult<Option<InviteLink>> {
        let Some(claim) = self.get(keys::link_token(token_hash)).await? else {
            return Ok(None);
        };
        let org = get_s(&claim, keys::TARGET_ORG).and_then(|o| OrgId::parse(o).ok());
        let id = get_s(&claim, keys::TARGET).and_then(|l| InviteLinkId::parse(l).ok());
        let (Some(org), Some(id)) = (org, id) else {
            return Err(StoreError::Corrupt(
                "invite link token claim without a target".to_owned(),
            ));
        };
        self.get_as(keys::link(&org, &id)).await
    }

    async fn list_invite_links(
        &self,
        org: &OrgId,
        page: &PageRequest,
    ) -> StoreResult<Page<InviteLink>> {
        let partition = keys::org_pk(org);
        let scope = Scope {
            tag: "links",
            index: None,
            partition: &partition,
            sk_prefix: keys::LINK_PREFIX,
        };
        let (items, next) = self.page(&scope, Box::new(|_| None), false, page).await?;
        page_of(items, next)
    }

    async fn revoke_invite_link(&self, before: &InviteLink, after: &InviteLink) -> StoreResult<()> {
        let Some(at) = after.revoked_at else {
            return conflict(Conflict::Stale);
        };
        let at = attr(&at)?;
        self.run(vec![
            Action::update(key(keys::link(&before.org_id, &before.id)), |e| {
                format!("SET {} = {}", e.name("revoked_at"), e.val(at))
            })
            .when(|e| {
                format!(
                    "attribute_exists({}) AND attribute_not_exists({})",
                    e.name(keys::PK),
                    e.name("revoked_at")
                )
            }),
        ])
        .await
    }

    async fn join_with_link(
        &self,
        link: &InviteLink,
        membership: &MembershipWrite,
        required_pools: &[PoolId],
        now: Timestamp,
    ) -> StoreResult<()> {
        let now_n = item::epoch_nanos(now);
        let mut core = vec![
            Action::update(key(keys::link(&link.org_id, &link.id)), |e| {
                let uses = e.name("uses");
                format!("SET {uses} = {uses} + {}", e.val(n(1)))
            })
            .when(|e| {
                let pk = e.name(keys::PK);
                let revoked = e.name("revoked_at");
                let uses = e.name("uses");
                let max = e.name("max_uses");
                let exp = e.name(keys::EXP);
                let now = e.val(n(now_n));
                format!(
                    "attribute_exists({pk}) AND attribute_not_exists({revoked}) \
                     AND (attribute_not_exists({max}) OR {uses} < {max}) \
                     AND (attribute_not_exists({exp}) OR {exp} > {now})"
                )
            })
            .or(Conflict::LinkUnusable),
        ];
        let m = membership_actions(membership)?;
        core.extend(m.core);
        core.extend(pool_grant_checks(
            &membership.after().org_id,
            required_pools,
        ));
        core.extend(m.claims);
        self.run_with_refs(core, m.refs).await
    }

    async fn create_scim_token(&self, token: &ScimToken, max_tokens: u32) -> StoreResult<()> {
        self.run(vec![
            Action::put(item::scim_item(token)?).if_absent(),
            Action::put(item::scim_hash_item(token)?).if_absent(),
            bounded_increment(
                keys::counter(&token.org_id, Counter::ScimTokens),
                Some(max_tokens),
                None,
            )
            .or(Conflict::ScimTokenLimit),
        ])
        .await
    }

    async fn list_scim_tokens(&self, org: &OrgId) -> StoreResult<Vec<ScimToken>> {
        let items = self
            .query_all(None, &keys::org_pk(org), keys::SCIM_PREFIX, false)
            .await?;
        decode_all(&items)
    }

    async fn find_scim_token(&self, token_hash: &str) -> StoreResult<Option<ScimToken>> {
        self.get_as(keys::scim_token_hash(token_hash)).await
    }

    async fn delete_scim_token(&self, org: &OrgId, id: &ScimTokenId) -> StoreResult<bool> {
        let Some(token) = self.get_as::<ScimToken>(keys::scim_token(org, id)).await? else {
            return Ok(false);
        };
        let res = self
            .run(vec![
                Action::delete(key(keys::scim_token(org, id))).if_present(),
                Action::delete(key(keys::scim_token_hash(&token.token_hash))),
                counter_add(org, Counter::ScimTokens, -1),
            ])
            .await;
        match res {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Stale)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn record_scim_token_use(&self, token: &ScimToken, at: Timestamp) -> StoreResult<()> {
        // Both copies (the org's list reads one, authentication the other), only while the token
        // exists: a revocation in between wins.
        let used = ScimToken {
            last_used_at: Some(at),
            ..token.clone()
        };
        let res = self
            .run(vec![
                Action::put(item::scim_item(&used)?).if_present(),
                Action::put(item::scim_hash_item(&used)?).if_present(),
            ])
            .await;
        match res {
            Ok(()) | Err(StoreError::Conflict(Conflict::Stale)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn link_user_subject(&self, user: &User, new_sub: &str) -> StoreResult<User> {
        if new_sub == user.sub {
            return conflict(Conflict::Stale);
        }
        // Linking happens at a sign-in with the placeholder's email verified.
        let linked = User {
            sub: new_sub.to_owned(),
            email_verified: true,
            provisioned_by: None,
            ..user.clone()
        };
        let id = s(user.id.as_str());
        self.run(vec![
            // Exactly as read: a placeholder renamed or declined meanwhile is not linked.
            Action::put(item::user_item(&linked)?).when(|e| placeholder_unchanged(e, user)),
            Action::delete(key(keys::sub(&user.sub)))
                .when(|e| format!("{} = {}", e.name("id"), e.val(id))),
            Action::put(item::sub_item(&linked)?).if_absent(),
        ])
        .await?;
        Ok(linked)
    }

    async fn list_users_by_email(&self, email: &str, limit: usize) -> StoreResult<Vec<User>> {
        let email = normalize_email(email);
        let partition = keys::user_email_partition(&email);
        let users: Vec<User> =
            decode_all(&self.query_first_n(keys::GSI2, &partition, limit).await?)?;
        Ok(users
            .into_iter()
            .filter(|u| u.owns_email() && u.email.normalized() == email)
            .collect())
    }

    async fn link_member(
        &self,
        placeholder: &User,
        member: &Membership,
        to: &User,
    ) -> StoreResult<Membership> {
        let org = &member.org_id;
        let from = &placeholder.id;
        if !placeholder.is_placeholder_of(org) || &member.user_id != from || to.is_placeholder() {
            return conflict(Conflict::Stale);
        }
        let (owned, record) = tokio::join!(
            self.handover_groups(member, &to.id),
            self.get_as::<ScimUser>(keys::scim_user(org, from))
        );
        let ((groups, _), record) = (owned?, record?);
        let moved = Membership {
            user_id: to.id.clone(),
            version: member.version + 1,
            ..member.clone()
        };
        let v = member.version;
        let prefix = s(rollcall_domain::model::PLACEHOLDER_SUB_PREFIX);
        let mut core = placeholder_deletion(placeholder);
        core.extend([
            // The person's account exists and is not a placeholder.
            Action::check(key(keys::user(&to.id))).when(|e| {
                format!(
                    "attribute_exists({}) AND NOT begins_with({}, {})",
                    e.name(keys::PK),
                    e.name("sub"),
                    e.val(prefix)
                )
            }),
            Action::delete(key(keys::membership(org, from))).when(|e| version_is(e, v)),
            Action::put(item::membership_item(&moved)?)
                .if_absent()
                .or(Conflict::MembershipExists),
            move_claim(
                keys::member_email_claim(org, member.email.normalized()),
                from,
                &to.id,
            ),
        ]);
        if let Some(x) = &member.external_id {
            core.push(move_claim(keys::external_id_claim(org, x), from, &to.id));
        }
        if let Some(r) = &record {
            let scim_id = r.resource_id().clone();
            let rv = r.version;
            core.push(Action::delete(key(keys::scim_user(org, from))).when(|e| version_is(e, rv)));
            let record = ScimUser {
                user_id: to.id.clone(),
                scim_id: Some(scim_id.clone()),
                version: rv + 1,
                ..r.clone()
            };
            core.push(Action::put(item::scim_user_item(&record)?).if_absent());
            core.push(move_claim(
                keys::user_name_claim(org, &r.user_name_key()),
                from,
                &to.id,
            ));
            core.push(Action::put(item::user_claim_item(
                keys::scim_alias(org, &scim_id),
                &to.id,
            )));
        }
        let refs = ref_actions(
            org,
            item::pools_of(&moved.assignments),
            &RefTarget::Member(to.id.clone()),
        );
        let size: usize = groups.iter().map(Vec::len).sum();
        if size + core.len() <= self.room() {
            core.extend(groups.into_iter().flatten());
            self.run_with_refs(core, refs).await?;
        } else {
            // Like a large removal: hand over in batches first, link last; repeating a failed
            // call hands over what is left and links.
            self.run_batched(groups, BATCH_ITEMS).await?;
            self.run_with_refs(core, refs).await?;
        }
        Ok(moved)
    }

    async fn decline_link(&self, placeholder: &User, at: Timestamp) -> StoreResult<User> {
        if !placeholder.is_placeholder() {
            return conflict(Conflict::Stale);
        }
        let declined = User {
            link_declined_at: Some(at),
            ..placeholder.clone()
        };
        self.run(vec![
            Action::put(item::user_item(&declined)?)
                .when(|e| placeholder_unchanged(e, placeholder)),
            Action::put(item::sub_item(&declined)?).if_present(),
        ])
        .await?;
        Ok(declined)
    }

    async fn find_scim_alias(&self, org: &OrgId, id: &UserId) -> StoreResult<Option<UserId>> {
        let found = self.get(keys::scim_alias(org, id)).await?;
        found
            .as_ref()
            .and_then(|i| get_s(i, keys::TARGET))
            .map(|t| UserId::parse(t).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    async fn provision_scim_member(
        &self,
        new_user: Option<&User>,
        membership: &MembershipWrite,
        scim: &ScimUser,
        accepts: Option<(&Invitation, &Invitation)>,
        now: Timestamp,
    ) -> StoreResult<()> {
        same_member(membership, scim)?;
        let (org, user) = (&scim.org_id, &scim.user_id);
        let mut core = Vec::new();
        if let Some(u) = new_user {
            core.push(Action::put(item::sub_item(u)?).if_absent());
            core.push(Action::put(item::user_item(u)?).if_absent());
        }
        if let Some((before, after)) = accepts {
            core.extend(accept_actions(before, after, now)?);
        }
        let m = membership_actions(membership)?;
        core.extend(m.core);
        // Like accept: every pool the membership is given must exist and not be being deleted.
        let granted: Vec<PoolId> = item::pools_of(&membership.after().assignments)
            .into_iter()
            .collect();
        core.extend(pool_grant_checks(org, &granted));
        core.push(Action::put(item::scim_user_item(scim)?).if_absent());
        core.push(take_claim(
            keys::user_name_claim(org, &scim.user_name_key()),
            user,
            Conflict::UserNameTaken,
        ));
        core.extend(m.claims);
        self.run_with_refs(core, m.refs).await
    }

    async fn update_scim_member(
        &self,
        membership: &MembershipWrite,
        before: Option<&ScimUser>,
        after: &ScimUser,
        placeholder: Option<(&User, &User)>,
    ) -> StoreResult<()> {
        if !scim_update_is_consistent(membership, before, after, placeholder) {
            return conflict(Conflict::Stale);
        }
        let (org, user) = (&after.org_id, &after.user_id);
        let m = membership_actions(membership)?;
        let mut core = m.core;
        if let Some((was, becomes)) = placeholder {
            // The user item (and its email index) and the subject claim's copy, while the
            // placeholder is not linked (the membership's version orders concurrent renames).
            let sub = s(was.sub.as_str());
            core.push(
                Action::put(item::user_item(becomes)?)
                    .when(|e| format!("{} = {}", e.name("sub"), e.val(sub))),
            );
            core.push(Action::put(item::sub_item(becomes)?).if_present());
        }
        match before {
            Some(b) => {
                let v = b.version;
                let record = ScimUser {
                    version: v + 1,
                    ..after.clone()
                };
                core.push(Action::put(item::scim_user_item(&record)?).when(|e| version_is(e, v)));
            }
            None => core.push(Action::put(item::scim_user_item(after)?).if_absent()),
        }
        let old = before.map(ScimUser::user_name_key);
        let new = after.user_name_key();
        if old.as_deref() != Some(new.as_str()) {
            if let Some(old) = &old {
                core.push(release_claim(keys::user_name_claim(org, old), user));
            }
            core.push(take_claim(
                keys::user_name_claim(org, &new),
                user,
                Conflict::UserNameTaken,
            ));
        }
        core.extend(m.claims);
        self.run_with_refs(core, m.refs).await
    }

    async fn get_scim_user(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<ScimUser>> {
        self.get_as(keys::scim_user(org, user)).await
    }

    async fn get_scim_users(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<ScimUser>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .batch_get(users.iter().map(|u| key(keys::scim_user(org, u))).collect())
            .await?;
        let records: Vec<ScimUser> = decode_all(&items)?;
        let by_user: HashMap<&UserId, &ScimUser> =
            records.iter().map(|r| (&r.user_id, r)).collect();
        Ok(users
            .iter()
            .filter_map(|u| by_user.get(u).map(|r| (*r).clone()))
            .collect())
    }

    async fn find_scim_user_by_user_name(
        &self,
        org: &OrgId,
        key: &str,
    ) -> StoreResult<Option<ScimUser>> {
        let key = user_name_key(key);
        let Some(claim) = self.get(keys::user_name_claim(org, &key)).await? else {
            return Ok(None);
        };
        let Some(user) = get_s(&claim, keys::TARGET).and_then(|t| UserId::parse(t).ok()) else {
            return Err(StoreError::Corrupt(format!(
                "userName claim of {org} without a user id"
            )));
        };
        let record: Option<ScimUser> = self.get_as(keys::scim_user(org, &user)).await?;
        Ok(record.filter(|r| r.user_name_key() == key))
    }

    async fn count_memberships(&self, org: &OrgId) -> StoreResult<u64> {
        let counter = self.get(keys::counter(org, Counter::Members)).await?;
        let n = counter
            .as_ref()
            .and_then(|i| get_n(i, keys::N))
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn find_membership_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> StoreResult<Option<Membership>> {
        let Some(claim) = self.get(keys::external_id_claim(org, external_id)).await? else {
            return Ok(None);
        };
        let Some(user) = get_s(&claim, keys::TARGET).and_then(|t| UserId::parse(t).ok()) else {
            return Err(StoreError::Corrupt(format!(
                "externalId claim of {org} without a user id"
            )));
        };
        let m: Option<Membership> = self.get_as(keys::membership(org, &user)).await?;
        Ok(m.filter(|m| m.external_id.as_deref() == Some(external_id)))
    }

    // ---- verified domains (crate::domains) ----
    async fn create_org_domain(&self, domain: &OrgDomain) -> StoreResult<()> {
        self.domains_create(domain).await
    }

    async fn get_org_domain(&self, org: &OrgId, domain: &str) -> StoreResult<Option<OrgDomain>> {
        self.domains_get(org, domain).await
    }

    async fn list_org_domains(&self, org: &OrgId) -> StoreResult<Vec<OrgDomain>> {
        self.domains_list(org).await
    }

    async fn update_org_domain(&self, before: &OrgDomain, after: &OrgDomain) -> StoreResult<()> {
        self.domains_update(before, after).await
    }

    async fn delete_org_domain(&self, domain: &OrgDomain) -> StoreResult<()> {
        self.domains_delete(domain).await
    }

    async fn get_domain_claim(&self, domain: &str) -> StoreResult<Option<DomainClaim>> {
        self.domains_claim(domain).await
    }

    // ---- SCIM groups (groups.rs) ----
    async fn create_group(&self, group: &Group, max_groups: u32) -> StoreResult<()> {
        self.groups_create(group, max_groups).await
    }

    async fn get_group(&self, org: &OrgId, id: &GroupId) -> StoreResult<Option<Group>> {
        self.groups_get(org, id).await
    }

    async fn get_groups(&self, org: &OrgId, ids: &[GroupId]) -> StoreResult<Vec<Group>> {
        self.groups_get_many(org, ids).await
    }

    async fn find_group_by_name(&self, org: &OrgId, key: &str) -> StoreResult<Option<Group>> {
        self.groups_find_by_name(org, key).await
    }

    async fn list_groups(&self, org: &OrgId, page: &PageRequest) -> StoreResult<Page<Group>> {
        self.groups_list(org, page).await
    }

    async fn count_groups(&self, org: &OrgId) -> StoreResult<u64> {
        self.groups_count(org).await
    }

    async fn list_group_members(
        &self,
        org: &OrgId,
        group: &GroupId,
        page: &PageRequest,
    ) -> StoreResult<Page<UserId>> {
        self.groups_list_members(org, group, page).await
    }

    async fn update_group(
        &self,
        before: &Group,
        after: &Group,
        members: &[GroupMemberChange],
    ) -> StoreResult<()> {
        self.groups_update(before, after, members).await
    }

    async fn delete_group(&self, group: &Group) -> StoreResult<()> {
        self.groups_delete(group).await
    }

    async fn get_memberships(&self, org: &OrgId, users: &[UserId]) -> StoreResult<Vec<Membership>> {
        self.memberships_get_many(org, users).await
    }

    // ---- idempotency ----
    async fn claim_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<Claim> {
        self.idempotency_claim(claim).await
    }

    async fn complete_idempotency_key(&self, completed: &IdempotencyRecord) -> StoreResult<()> {
        self.idempotency_complete(completed).await
    }

    async fn release_idempotency_key(&self, claim: &IdempotencyRecord) -> StoreResult<()> {
        self.idempotency_release(claim).await
    }
}
