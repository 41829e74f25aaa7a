//! Linking what organizations provisioned to a person's account (the identity model of
//! docs/api.md): a SCIM placeholder belongs to the one organization that provisioned it, and its
//! membership becomes a person's only
//! - at the first sign-in of a new account with that address verified (no account holds it
//!   yet): the account is a fresh user and every organization's placeholder moves to it;
//! - for an account that already exists, with the person's consent: the placeholders are offered
//!   in `GET /me/invitations` and linked by `POST /me/invitations/{usr}/accept` (or declined);
//! - at SCIM provisioning, when the organization has verified the address's domain
//!   ([`Service::scim_provision`]).
//!
//! Store calls: listing the placeholders of an address is one index query (at most
//! [`MAX_PLACEHOLDERS_PER_EMAIL`]); each link is one membership read and one
//! [`Store::link_member`](crate::ports::Store::link_member) (a read, an owner query and one
//! transaction on DynamoDB).

use super::accept::email_not_verified;
use super::invitations::invitation_not_found;
use super::{Caller, RETRIES, Service, caller_already_member};
use crate::audit::{Actor, AuditAction, Origin, RequestMeta, Target, TargetKind};
use crate::email::Email;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{OrgId, UserId};
use crate::model::{Membership, Organization, Timestamp, User};
use crate::ports::{Conflict, StoreError};
use serde_json::json;

/// Most placeholders of one address considered at a sign-in or listed for consent.
pub const MAX_PLACEHOLDERS_PER_EMAIL: usize = 100;

/// A membership an organization provisioned for the caller's address, waiting for their consent.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedMembership {
    /// The placeholder's id: what accept and decline name.
    pub id: UserId,
    /// The membership as the organization provisioned it.
    pub membership: Membership,
    /// Organization name.
    pub org_name: String,
    /// When the person declined it, if they did.
    pub declined_at: Option<Timestamp>,
}

impl Service {
    /// The placeholders organizations provisioned for `email`, oldest first.
    pub(crate) async fn placeholders_of(&self, email: &Email) -> Result<Vec<User>> {
        let users = self
            .store
            .list_users_by_email(email.normalized(), MAX_PLACEHOLDERS_PER_EMAIL)
            .await?;
        Ok(users
            .into_iter()
            .filter(|u| u.is_placeholder() && u.email.normalized() == email.normalized())
            .collect())
    }

    /// First sign-in of `user`, a new account with a verified address: the organizations'
    /// placeholders for the address (not declined) move to it. Failures are logged, not raised:
    /// the sign-in goes on, and a placeholder left behind is offered for consent.
    pub(crate) async fn link_new_account(
        &self,
        user: &User,
        placeholders: Vec<User>,
        request: &RequestMeta,
    ) {
        let origin = Origin {
            actor: Actor::User {
                id: user.id.clone(),
                email: user.email.to_string(),
            },
            request: request.clone(),
        };
        for p in placeholders {
            let Some(org) = p.provisioned_by.clone() else {
                continue; // stored before placeholders were an organization's: see docs
            };
            if p.link_declined_at.is_some() {
                continue;
            }
            match self
                .link_placeholder(&origin, "first_sign_in", p, &org, user)
                .await
            {
                Ok(m) => {
                    tracing::info!(org = %m.org_id, user = %user.id, "provisioned membership linked at first sign-in")
                }
                Err(e) => {
                    tracing::warn!(org = %org, user = %user.id, code = e.code.as_str(), "provisioned membership not linked")
                }
            }
        }
    }

    /// A verified domain of the organization vouches for its addresses: a member just provisioned
    /// with an address of such a domain that belongs to a person's account is that account's at
    /// once, without asking (as WorkOS and Clerk do for verified domains). Whether it happened;
    /// a failure only logs, and the membership then waits for the person's consent as usual.
    pub(crate) async fn link_in_verified_domain(
        &self,
        origin: &Origin,
        organization: &Organization,
        placeholder: &User,
        membership: &Membership,
    ) -> bool {
        let org = &organization.id;
        let email = &placeholder.email;
        match self.store.get_domain_claim(email.domain()).await {
            Ok(Some(claim)) if &claim.org_id == org => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "domain claim not read; the membership waits for consent");
                return false;
            }
        }
        let owners = match self
            .store
            .list_users_by_email(email.normalized(), MAX_PLACEHOLDERS_PER_EMAIL)
            .await
        {
            Ok(owners) => owners,
            Err(e) => {
                tracing::warn!(error = %e, "owners not read; the membership waits for consent");
                return false;
            }
        };
        let Some(account) = owners.into_iter().find(|u| {
            !u.is_placeholder() && u.email_verified && u.email.normalized() == email.normalized()
        }) else {
            return false;
        };
        match self
            .audited(
                origin,
                organization,
                AuditAction::MemberLinked,
                Target::new(TargetKind::Member, &placeholder.id),
                linked(placeholder, &account, "verified_domain"),
            )
            .link_member(placeholder, membership, &account)
            .await
        {
            Ok(_) => {
                tracing::info!(org = %org, user = %account.id, "provisioned member linked: verified domain");
                true
            }
            Err(e) => {
                tracing::warn!(org = %org, error = %e, "not linked; the membership waits for consent");
                false
            }
        }
    }

    /// Moves `placeholder`'s membership of `org` to `to`; re-reads and retries after a
    /// concurrent change.
    async fn link_placeholder(
        &self,
        origin: &Origin,
        how: &str,
        mut placeholder: User,
        org: &OrgId,
        to: &User,
    ) -> Result<Membership> {
        let organization = self
            .store
            .get_org(org)
            .await?
            .ok_or_else(invitation_not_found)?;
        for _ in 0..RETRIES {
            let member = self
                .store
                .get_membership(org, &placeholder.id)
                .await?
                .ok_or_else(invitation_not_found)?;
            let recorded = self.audited(
                origin,
                &organization,
                AuditAction::MemberLinked,
                Target::new(TargetKind::Member, &placeholder.id),
                linked(&placeholder, to, how),
            );
            match recorded.link_member(&placeholder, &member, to).await {
                Ok(m) => return Ok(m),
                Err(StoreError::Conflict(Conflict::Stale)) => {
                    // The placeholder or its membership changed (a SCIM write), or it is gone.
                    match self.store.get_user(&placeholder.id).await? {
                        Some(u) if u.is_placeholder() && u.email == placeholder.email => {
                            placeholder = u;
                        }
                        _ => return Err(invitation_not_found()),
                    }
                }
                Err(StoreError::Conflict(Conflict::MembershipExists)) => {
                    return Err(caller_already_member());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            ErrorCode::ConcurrentModification,
            "The membership changed while it was linked; try again",
        ))
    }

    /// The memberships organizations provisioned for the caller's verified address, waiting for
    /// their consent (declined ones included, marked), oldest first.
    pub async fn my_provisioned_memberships(
        &self,
        caller: &Caller,
    ) -> Result<Vec<ProvisionedMembership>> {
        let email = caller.verified_email().ok_or_else(email_not_verified)?;
        let placeholders: Vec<User> = self
            .placeholders_of(email)
            .await?
            .into_iter()
            .filter(|p| p.provisioned_by.is_some())
            .collect();
        if placeholders.is_empty() {
            return Ok(Vec::new());
        }
        let reads = placeholders.iter().map(|p| async move {
            let org = p.provisioned_by.as_ref().ok_or_else(invitation_not_found)?;
            let (m, o) = futures_util::future::join(
                self.store.get_membership(org, &p.id),
                self.store.get_org(org),
            )
            .await;
            Ok::<_, Error>(match (m?, o?) {
                (Some(membership), Some(org)) => Some(ProvisionedMembership {
                    id: p.id.clone(),
                    membership,
                    org_name: org.name,
                    declined_at: p.link_declined_at,
                }),
                _ => None,
            })
        });
        let found = futures_util::future::join_all(reads).await;
        let mut out = Vec::new();
        for f in found {
            out.extend(f?);
        }
        Ok(out)
    }

    /// The caller's consent: the membership provisioned for their verified address (by the
    /// placeholder's id) becomes theirs.
    pub async fn accept_provisioned(&self, caller: &Caller, id: &UserId) -> Result<Membership> {
        let placeholder = self.own_placeholder(caller, id).await?;
        let org = placeholder
            .provisioned_by
            .clone()
            .ok_or_else(invitation_not_found)?;
        let member = self
            .link_placeholder(&caller.origin(), "consent", placeholder, &org, &caller.user)
            .await?;
        tracing::info!(org = %member.org_id, user = %member.user_id, "provisioned membership accepted");
        Ok(member)
    }

    /// The caller declines a membership provisioned for their address: it is no longer linked at
    /// a sign-in and is shown as declined; the organization's member stays as it is (not signed
    /// in). Accepting later is still possible.
    pub async fn decline_provisioned(
        &self,
        caller: &Caller,
        id: &UserId,
    ) -> Result<ProvisionedMembership> {
        let placeholder = self.own_placeholder(caller, id).await?;
        let org = placeholder
            .provisioned_by
            .clone()
            .ok_or_else(invitation_not_found)?;
        let o = self
            .store
            .get_org(&org)
            .await?
            .ok_or_else(invitation_not_found)?;
        let declined = match placeholder.link_declined_at {
            Some(_) => placeholder,
            None => {
                self.audited(
                    &caller.origin(),
                    &o,
                    AuditAction::MemberLinkDeclined,
                    Target::new(TargetKind::Member, &placeholder.id),
                    json!({ "email": placeholder.email.to_string() }),
                )
                .decline_link(&placeholder, self.clock.now())
                .await?
            }
        };
        match self.store.get_membership(&org, &declined.id).await? {
            Some(membership) => Ok(ProvisionedMembership {
                id: declined.id,
                membership,
                org_name: o.name,
                declined_at: declined.link_declined_at,
            }),
            None => Err(invitation_not_found()),
        }
    }

    /// A placeholder an organization provisioned for the caller's verified address; 404 for any
    /// other id (another person's, an account, a legacy placeholder).
    async fn own_placeholder(&self, caller: &Caller, id: &UserId) -> Result<User> {
        let email = caller.verified_email().ok_or_else(email_not_verified)?;
        match self.store.get_user(id).await? {
            Some(u)
                if u.is_placeholder()
                    && u.provisioned_by.is_some()
                    && u.email.normalized() == email.normalized() =>
            {
                Ok(u)
            }
            _ => Err(invitation_not_found()),
        }
    }
}

/// The details of a link: the member's provisioned id, the account it moved to, and how.
fn linked(placeholder: &User, to: &User, how: &str) -> serde_json::Value {
    json!({
        "email": placeholder.email.to_string(),
        "placeholder_id": placeholder.id,
        "user_id": to.id,
        "via": how,
    })
}
