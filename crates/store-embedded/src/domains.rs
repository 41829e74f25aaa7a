//! Verified organization domains on the embedded store: the org's domain records
//! ([`keys::ORG_DOMAINS`]) and the global claims of verified domains ([`keys::DOMAIN_CLAIMS`]),
//! changed together in one write transaction.

use crate::db::{Reader, del, get, put, scan_values};
use crate::keys;
use redb::WriteTransaction;
use rollcall_domain::ids::OrgId;
use rollcall_domain::org_domain::{DomainClaim, DomainState, OrgDomain};
use rollcall_domain::ports::{Conflict, StoreError, StoreResult};

fn conflict<T>(c: Conflict) -> StoreResult<T> {
    Err(StoreError::Conflict(c))
}

pub(crate) fn create_org_domain(tx: &WriteTransaction, d: &OrgDomain) -> StoreResult<()> {
    if !crate::db::exists(tx, keys::ORGS, d.org_id.as_str())? {
        return conflict(Conflict::OrgMissing);
    }
    let key = keys::org_domain(&d.org_id, &d.domain);
    if crate::db::exists(tx, keys::ORG_DOMAINS, &key)? {
        return conflict(Conflict::DomainExists);
    }
    put(tx, keys::ORG_DOMAINS, &key, d)
}

pub(crate) fn get_org_domain(
    r: &impl Reader,
    org: &OrgId,
    domain: &str,
) -> StoreResult<Option<OrgDomain>> {
    get(r, keys::ORG_DOMAINS, &keys::org_domain(org, domain))
}

pub(crate) fn list_org_domains(r: &impl Reader, org: &OrgId) -> StoreResult<Vec<OrgDomain>> {
    scan_values(r, keys::ORG_DOMAINS, &keys::prefix(org.as_str()))
}

/// The stored record, if it is `expected`'s version of the same domain.
fn current(tx: &WriteTransaction, expected: &OrgDomain) -> StoreResult<OrgDomain> {
    match get_org_domain(tx, &expected.org_id, &expected.domain)? {
        Some(d) if d.version == expected.version => Ok(d),
        _ => conflict(Conflict::Stale),
    }
}

pub(crate) fn update_org_domain(
    tx: &WriteTransaction,
    before: &OrgDomain,
    after: &OrgDomain,
) -> StoreResult<()> {
    if after.org_id != before.org_id
        || after.domain != before.domain
        || after.version != before.version + 1
    {
        return conflict(Conflict::Stale);
    }
    current(tx, before)?;
    if after.state == DomainState::Verified {
        let held: Option<DomainClaim> = get(tx, keys::DOMAIN_CLAIMS, &after.domain)?;
        if held.is_some_and(|c| c.org_id != after.org_id) {
            return conflict(Conflict::DomainClaimed);
        }
        put(tx, keys::DOMAIN_CLAIMS, &after.domain, &after.claim())?;
    }
    put(
        tx,
        keys::ORG_DOMAINS,
        &keys::org_domain(&after.org_id, &after.domain),
        after,
    )
}

pub(crate) fn delete_org_domain(tx: &WriteTransaction, d: &OrgDomain) -> StoreResult<()> {
    let stored = current(tx, d)?;
    del(
        tx,
        keys::ORG_DOMAINS,
        &keys::org_domain(&stored.org_id, &stored.domain),
    )?;
    let held: Option<DomainClaim> = get(tx, keys::DOMAIN_CLAIMS, &stored.domain)?;
    if held.is_some_and(|c| c.org_id == stored.org_id) {
        del(tx, keys::DOMAIN_CLAIMS, &stored.domain)?;
    }
    Ok(())
}

pub(crate) fn get_domain_claim(r: &impl Reader, domain: &str) -> StoreResult<Option<DomainClaim>> {
    get(r, keys::DOMAIN_CLAIMS, domain)
}
