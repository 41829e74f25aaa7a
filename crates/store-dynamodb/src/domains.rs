//! Verified organization domains on the table: `ORG#org` / `DOMAIN#<domain>` records and the
//! `DOMAIN#<domain>` / `#` claims of verified domains (keys in [`crate::keys`]).
//!
//! Calls: create, update and delete are one write each (a TransactWriteItems of two items when
//! the claim or the organization's existence is part of it, else a single conditional write);
//! get and the claim lookup one GetItem; the list one Query on the org's partition.

use crate::DynamoStore;
use crate::item::{Item, from_item, key, n, s, to_item};
use crate::keys;
use crate::tx::Action;
use rollcall_domain::ids::OrgId;
use rollcall_domain::org_domain::{DomainClaim, DomainState, OrgDomain};
use rollcall_domain::ports::{Conflict, StoreError, StoreResult};
use serde::Serialize;

fn with_key<T: Serialize>(value: &T, k: (String, String)) -> StoreResult<Item> {
    let mut item = to_item(value)?;
    item.extend(key(k));
    Ok(item)
}

fn record_item(d: &OrgDomain) -> StoreResult<Item> {
    with_key(d, keys::org_domain(&d.org_id, &d.domain))
}

/// The claim may be written by (or belongs to) `org`: absent, or already `org`'s.
fn claim_free_or_own(org: &OrgId) -> impl FnOnce(&mut crate::expr::Expr) -> String {
    let org = s(org.as_str());
    move |e| {
        format!(
            "attribute_not_exists({}) OR {} = {}",
            e.name(keys::PK),
            e.name("org_id"),
            e.val(org)
        )
    }
}

fn version_is(v: u64) -> impl FnOnce(&mut crate::expr::Expr) -> String {
    move |e| format!("{} = {}", e.name("version"), e.val(n(v)))
}

impl DynamoStore {
    pub(crate) async fn domains_create(&self, d: &OrgDomain) -> StoreResult<()> {
        self.run(vec![
            Action::check(key(keys::org(&d.org_id)))
                .if_present()
                .or(Conflict::OrgMissing),
            Action::put(record_item(d)?)
                .if_absent()
                .or(Conflict::DomainExists),
        ])
        .await
    }

    pub(crate) async fn domains_get(
        &self,
        org: &OrgId,
        domain: &str,
    ) -> StoreResult<Option<OrgDomain>> {
        self.get(keys::org_domain(org, domain))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }

    pub(crate) async fn domains_list(&self, org: &OrgId) -> StoreResult<Vec<OrgDomain>> {
        let items = self
            .query_all(None, &keys::org_pk(org), keys::DOMAIN_PREFIX, true)
            .await?;
        items.iter().map(from_item).collect()
    }

    pub(crate) async fn domains_update(
        &self,
        before: &OrgDomain,
        after: &OrgDomain,
    ) -> StoreResult<()> {
        if after.org_id != before.org_id
            || after.domain != before.domain
            || after.version != before.version + 1
        {
            return Err(StoreError::Conflict(Conflict::Stale));
        }
        let mut actions = vec![Action::put(record_item(after)?).when(version_is(before.version))];
        if after.state == DomainState::Verified {
            actions.push(
                Action::put(with_key(&after.claim(), keys::domain_claim(&after.domain))?)
                    .when(claim_free_or_own(&after.org_id))
                    .or(Conflict::DomainClaimed),
            );
        }
        self.run(actions).await
    }

    pub(crate) async fn domains_delete(&self, d: &OrgDomain) -> StoreResult<()> {
        let mut actions = vec![
            Action::delete(key(keys::org_domain(&d.org_id, &d.domain))).when(version_is(d.version)),
        ];
        if d.state == DomainState::Verified {
            actions.push(
                Action::delete(key(keys::domain_claim(&d.domain)))
                    .when(claim_free_or_own(&d.org_id)),
            );
        }
        self.run(actions).await
    }

    pub(crate) async fn domains_claim(&self, domain: &str) -> StoreResult<Option<DomainClaim>> {
        self.get(keys::domain_claim(domain))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }
}
