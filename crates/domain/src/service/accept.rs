//! The invitee's side: public preview, accept, decline, and my pending invitations.

use super::invitations::invitation_not_found;
use super::{Caller, RETRIES, Service, require_allowed_domain};
use crate::audit::{AuditAction, Target, TargetKind};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::ids::{InvitationId, PoolId};
use crate::model::{Invitation, InvitationStatus, MemberSource, MemberStatus, Membership};
use crate::page::{Page, PageRequest};
use crate::ports::{Conflict, MembershipWrite, StoreError};
use crate::role::merge_assignments;
use crate::secret::{SecretKind, hash_secret, looks_like, verify_secret};
use serde_json::json;

/// What an invitation token shows before sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationPreview {
    /// The invitation.
    pub invitation: Invitation,
    /// Organization name.
    pub org_name: String,
    /// Inviter's name (or email).
    pub inviter_name: Option<String>,
    /// The pools the offered assignments name (id and name), in assignment order; a pool deleted
    /// since the invitation was sent is left out (accepting drops its assignment).
    pub pools: Vec<(PoolId, String)>,
}

/// A pending invitation addressed to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct MyInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// Organization name.
    pub org_name: String,
}

impl Service {
    /// Public preview by token; unknown, expired, revoked and used tokens are all 404.
    /// Costs: the token lookup, then the organization, the inviter and each named pool (at most
    /// one per assignment) read in parallel.
    pub async fn preview_invitation(&self, token: &str) -> Result<InvitationPreview> {
        let inv = self.open_invitation_by_token(token).await?;
        let (org, inviter, pools) = futures_util::future::join3(
            self.store.get_org(&inv.org_id),
            self.store.get_user(&inv.inviter_id),
            self.named_pools(&inv.org_id, &inv.assignments),
        )
        .await;
        let org = org?.ok_or_else(invitation_not_found)?;
        let inviter_name = inviter?.map(|u| u.name.unwrap_or_else(|| u.email.to_string()));
        Ok(InvitationPreview {
            invitation: inv,
            org_name: org.name,
            inviter_name,
            pools: pools?,
        })
    }

    /// Accepts by token.
    pub async fn accept_by_token(&self, caller: &Caller, token: &str) -> Result<Membership> {
        let inv = self.invitation_by_token(token).await?;
        self.accept(caller, inv).await
    }

    /// Accepts by id, for the signed-in invitee.
    pub async fn accept_by_id(&self, caller: &Caller, id: &InvitationId) -> Result<Membership> {
        let inv = self.own_invitation(caller, id).await?;
        self.accept(caller, inv).await
    }

    /// Declines by token.
    pub async fn decline_by_token(&self, caller: &Caller, token: &str) -> Result<Invitation> {
        let inv = self.invitation_by_token(token).await?;
        self.decline(caller, inv).await
    }

    /// Declines by id, for the signed-in invitee.
    pub async fn decline_by_id(&self, caller: &Caller, id: &InvitationId) -> Result<Invitation> {
        let inv = self.own_invitation(caller, id).await?;
        self.decline(caller, inv).await
    }

    /// Pending invitations addressed to the caller's verified email, in every organization.
    pub async fn my_invitations(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<MyInvitation>> {
        let email = caller.verified_email().ok_or_else(email_not_verified)?;
        // A verified domain with `automatic_invitation` may have one for the caller.
        let offered = self.offer_domain_invitation(caller, email).await?;
        let mut page = self
            .store
            .list_invitations_for_email(email.normalized(), self.clock.now(), page)
            .await?;
        // The email index may lag behind the write that just made it (DynamoDB's indexes are
        // eventually consistent): the first page shows it anyway.
        if let Some(inv) = offered
            && !page.items.iter().any(|i| i.id == inv.id)
        {
            page.items.insert(0, inv);
        }
        let mut org_ids: Vec<_> = page.items.iter().map(|i| i.org_id.clone()).collect();
        org_ids.sort();
        org_ids.dedup();
        let orgs = self.store.get_orgs(&org_ids).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .filter_map(|i| {
                    let org_name = orgs.iter().find(|o| o.id == i.org_id)?.name.clone();
                    Some(MyInvitation {
                        invitation: i,
                        org_name,
                    })
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// The invitation behind a token, whatever its state (for accept/decline, which explain states).
    async fn invitation_by_token(&self, token: &str) -> Result<Invitation> {
        if !looks_like(SecretKind::Invitation, token) {
            return Err(invitation_not_found());
        }
        match self
            .store
            .find_invitation_by_token(&hash_secret(token))
            .await?
        {
            Some(inv) if verify_secret(token, &inv.token_hash) => Ok(inv),
            _ => Err(invitation_not_found()),
        }
    }

    /// The invitation behind a token only while it is pending and unexpired.
    async fn open_invitation_by_token(&self, token: &str) -> Result<Invitation> {
        let inv = self.invitation_by_token(token).await?;
        if inv.is_open(self.clock.now()) {
            Ok(inv)
        } else {
            Err(invitation_not_found())
        }
    }

    /// An invitation addressed to the caller's verified email; 404 for anyone else's.
    async fn own_invitation(&self, caller: &Caller, id: &InvitationId) -> Result<Invitation> {
        let email = caller.verified_email().ok_or_else(email_not_verified)?;
        match self.store.get_invitation(id).await? {
            Some(inv) if inv.email.normalized() == email.normalized() => Ok(inv),
            _ => Err(invitation_not_found()),
        }
    }

    /// Accepts `inv` for the caller: verified matching email, pending, unexpired; atomic and single-use.
    async fn accept(&self, caller: &Caller, mut inv: Invitation) -> Result<Membership> {
        check_invitee(caller, &inv)?;
        let org = self
            .store
            .get_org(&inv.org_id)
            .await?
            .ok_or_else(invitation_not_found)?;
        if !inv.is_open(self.clock.now()) {
            return Err(self.refuse_closed(&caller.origin(), &org, &inv).await);
        }
        // The organization may have limited its domains since it invited: refused, kept pending.
        require_allowed_domain(&org, &inv.email)?;
        for _ in 0..RETRIES {
            let now = self.clock.now();
            if !inv.is_open(now) {
                return Err(self.refuse_closed(&caller.origin(), &org, &inv).await);
            }
            let pools = self.store.list_pools(&inv.org_id).await?;
            let (kept, required) = super::pools::on_existing_pools(&inv.assignments, &pools);
            let existing = self
                .store
                .get_membership(&inv.org_id, &caller.user.id)
                .await?;
            let write = match existing {
                Some(before) => {
                    let direct = merge_assignments(before.direct_assignments(), &kept);
                    let after = Membership {
                        updated_at: now,
                        version: before.version + 1,
                        ..before.clone().with_direct_assignments(direct)
                    };
                    MembershipWrite::Update { before, after }
                }
                None => MembershipWrite::Create(Membership {
                    direct_assignments: None,
                    groups: Vec::new(),
                    org_id: inv.org_id.clone(),
                    user_id: caller.user.id.clone(),
                    email: caller.user.email.clone(),
                    name: caller.user.name.clone().or(inv.name.clone()),
                    phone: inv.phone.clone(),
                    status: MemberStatus::Active,
                    source: MemberSource::Invitation,
                    external_id: None,
                    assignments: kept.clone(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                }),
            };
            let after = inv.accepted(&caller.user.id, now);
            let recorded = self.audited(
                &caller.origin(),
                &org,
                AuditAction::InvitationAccepted,
                Target::new(TargetKind::Invitation, &inv.id),
                acceptance(&write, &inv),
            );
            match recorded
                .accept_invitation(&inv, &after, &write, &required, now)
                .await
            {
                Ok(()) => {
                    return Ok(match write {
                        MembershipWrite::Create(m) => m,
                        MembershipWrite::Update { after, .. } => after,
                    });
                }
                // Membership appeared or changed, or a pool vanished meanwhile: read again.
                Err(StoreError::Conflict(
                    Conflict::MembershipExists | Conflict::PoolMissing(_),
                )) => {}
                Err(StoreError::Conflict(Conflict::InvitationNotPending | Conflict::Stale)) => {
                    let now = self.clock.now();
                    // Answered by what it became (accepted, declined, revoked, expired).
                    match self.store.get_invitation(&inv.id).await? {
                        Some(current) if current.is_open(now) => inv = current,
                        Some(current) => {
                            return Err(self.refuse_closed(&caller.origin(), &org, &current).await);
                        }
                        None => return Err(invitation_not_found()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            ErrorCode::ConcurrentModification,
            "The membership changed while the invitation was accepted; try again",
        ))
    }

    /// Declines `inv` for the caller.
    async fn decline(&self, caller: &Caller, inv: Invitation) -> Result<Invitation> {
        check_invitee(caller, &inv)?;
        let org = self
            .store
            .get_org(&inv.org_id)
            .await?
            .ok_or_else(invitation_not_found)?;
        if !inv.is_open(self.clock.now()) {
            return Err(self.refuse_closed(&caller.origin(), &org, &inv).await);
        }
        self.close_as(&caller.origin(), &org, &inv, InvitationStatus::Declined)
            .await
    }
}

/// The details of an acceptance: the member it made or changed, whether they joined by it, and
/// their roles.
fn acceptance(write: &MembershipWrite, inv: &Invitation) -> serde_json::Value {
    let member = write.after();
    match write {
        MembershipWrite::Create(_) => json!({
            "email": inv.email.to_string(),
            "member_id": member.user_id,
            "joined": true,
            "assignments": member.assignments,
        }),
        MembershipWrite::Update { before, after } => json!({
            "email": inv.email.to_string(),
            "member_id": member.user_id,
            "joined": false,
            "roles": super::members::roles_change(before, after),
        }),
    }
}

/// The accept/decline identity rule: a verified email equal (normalized) to the invitation's.
fn check_invitee(caller: &Caller, inv: &Invitation) -> Result<()> {
    let email = caller.verified_email().ok_or_else(email_not_verified)?;
    if email.normalized() != inv.email.normalized() {
        return Err(Error::new(
            ErrorKind::Forbidden,
            ErrorCode::EmailMismatch,
            format!(
                "This invitation was sent to a different email address than the one you are signed in with ({})",
                caller.user.email
            ),
        ));
    }
    Ok(())
}

pub(crate) fn email_not_verified() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        ErrorCode::EmailNotVerified,
        "Your identity provider has not verified your email address",
    )
}
