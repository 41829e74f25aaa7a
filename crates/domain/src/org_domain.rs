//! Verified organization domains: an organization proves it owns a DNS domain by publishing a TXT
//! record, and then holds that domain alone (one organization per verified domain).
//!
//! Domain names follow the email rule ([`crate::email::normalize_domain`]: IDNA ASCII form,
//! lowercase); public mail domains ([`is_public_mail_domain`]) cannot be claimed.

use crate::ids::{OrgId, UserId};
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};

/// The label prepended to a domain to name its challenge record: `_rollcall-challenge.acme.com`.
pub const CHALLENGE_LABEL: &str = "_rollcall-challenge";
/// What the TXT record's value starts with, before the token.
pub const CHALLENGE_VALUE_PREFIX: &str = "rollcall-domain-verification=";

/// Where a domain is in its verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainState {
    /// Created; the TXT record has not been found yet.
    Pending,
    /// The TXT record was found: the organization owns the domain (and holds its claim).
    Verified,
    /// Not found within the bound ([`crate::service::DOMAIN_PENDING_DAYS`] days or
    /// [`crate::service::MAX_DOMAIN_CHECKS`] checks); a later verify call may still succeed.
    Failed,
}

impl DomainState {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Verified => "verified",
            DomainState::Failed => "failed",
        }
    }
}

/// What a verified domain does for people who sign in with one of its addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enrollment {
    /// Nothing happens by itself: the organization invites people as usual.
    #[default]
    Manual,
    /// A person signed in with a verified address of the domain who is not a member finds a
    /// pending invitation with the organization's `scim_default_assignments`.
    AutomaticInvitation,
}

/// A domain of an organization, in any state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgDomain {
    /// Organization.
    pub org_id: OrgId,
    /// The domain in its IDNA ASCII form (`acme.com`, `xn--bcher-kva.example`).
    pub domain: String,
    /// Verification state.
    pub state: DomainState,
    /// The random part of the TXT record's value (not a credential: shown again on reads).
    pub verification_token: String,
    /// Enrollment mode (only acts once verified).
    pub enrollment: Enrollment,
    /// Who added it.
    pub created_by: UserId,
    /// Creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it was verified.
    pub verified_at: Option<Timestamp>,
    /// The organization manager whose verify call found the record (the inviter of automatic
    /// invitations).
    pub verified_by: Option<UserId>,
    /// The last DNS check.
    pub last_checked_at: Option<Timestamp>,
    /// Why the last check did not verify the domain.
    pub last_check_reason: Option<String>,
    /// Checks that did not find the record.
    pub failed_checks: u32,
    /// Optimistic-concurrency counter.
    pub version: u64,
}

impl OrgDomain {
    /// The name of the TXT record to publish: `_rollcall-challenge.<domain>`.
    pub fn record_name(&self) -> String {
        challenge_name(&self.domain)
    }

    /// The value of the TXT record to publish: `rollcall-domain-verification=<token>`.
    pub fn record_value(&self) -> String {
        format!("{CHALLENGE_VALUE_PREFIX}{}", self.verification_token)
    }

    /// The state to show at `now`: `failed` for a domain still stored `pending` past
    /// `pending_days` days (as an invitation's `expired`, derived at read time; a verify call
    /// records it).
    pub fn effective_state(&self, now: Timestamp, pending_days: i64) -> DomainState {
        if self.state == DomainState::Pending
            && now - self.created_at >= chrono::Duration::days(pending_days)
        {
            DomainState::Failed
        } else {
            self.state
        }
    }

    /// The global claim a verified domain holds.
    pub fn claim(&self) -> DomainClaim {
        DomainClaim {
            domain: self.domain.clone(),
            org_id: self.org_id.clone(),
            enrollment: self.enrollment,
            verified_by: self.verified_by.clone().unwrap_or(self.created_by.clone()),
        }
    }
}

/// The one organization holding a verified domain (one key per domain, across all organizations),
/// with what sign-ins of the domain need to know, so that they cost one key lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainClaim {
    /// The domain (IDNA ASCII form).
    pub domain: String,
    /// The organization that verified it.
    pub org_id: OrgId,
    /// The organization's enrollment mode for it.
    pub enrollment: Enrollment,
    /// The organization manager who verified it.
    pub verified_by: UserId,
}

/// `_rollcall-challenge.<domain>`.
pub fn challenge_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

/// Public mail providers: anyone can have an address there, so nobody may claim them. Exact
/// domains, in IDNA ASCII form.
const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "outlook.fr",
    "outlook.de",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "hotmail.it",
    "live.com",
    "live.co.uk",
    "live.fr",
    "msn.com",
    "passport.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.co.jp",
    "yahoo.fr",
    "yahoo.de",
    "ymail.com",
    "rocketmail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "aim.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tuta.io",
    "zoho.com",
    "zohomail.com",
    "fastmail.com",
    "hey.com",
    "mail.com",
    "email.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "yandex.ru",
    "yandex.com",
    "ya.ru",
    "rambler.ru",
    "ukr.net",
    "qq.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sohu.com",
    "aliyun.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "rediffmail.com",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "bellsouth.net",
    "cox.net",
    "charter.net",
    "btinternet.com",
    "sky.com",
    "shaw.ca",
    "rogers.com",
    "bigpond.com",
    "optusnet.com.au",
];

/// Public mail providers with one domain per country (`gmx.de`, `gmx.net`, `gmx.at`, ...): any
/// domain whose first label is one of these.
const PUBLIC_MAIL_FIRST_LABELS: &[&str] = &["gmx", "yahoo", "hotmail", "outlook", "live"];

/// Whether `domain` (IDNA ASCII form) is a public mail provider's, which no organization may
/// claim: the built-in list above, and the country variants of the providers that have them.
pub fn is_public_mail_domain(domain: &str) -> bool {
    if PUBLIC_MAIL_DOMAINS.contains(&domain) {
        return true;
    }
    // `gmx.net`, `gmx.co.uk`: the provider's name followed by a public suffix of one or two
    // short labels.
    let mut labels = domain.split('.');
    let first = labels.next().unwrap_or("");
    let rest: Vec<&str> = labels.collect();
    PUBLIC_MAIL_FIRST_LABELS.contains(&first)
        && (1..=2).contains(&rest.len())
        && rest.iter().all(|l| l.len() <= 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_mail_domains() {
        for d in [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "hotmail.com",
            "live.com",
            "yahoo.com",
            "icloud.com",
            "me.com",
            "aol.com",
            "proton.me",
            "protonmail.com",
            "gmx.de",
            "gmx.net",
            "gmx.co.uk",
            "mail.ru",
            "yandex.ru",
            "qq.com",
            "163.com",
            "yahoo.co.uk",
        ] {
            assert!(is_public_mail_domain(d), "{d}");
        }
        for d in [
            "acme.com",
            "gmx.acme.com",
            "mail.acme.ru",
            "gmail.acme.com",
            "live.example.org",
        ] {
            assert!(!is_public_mail_domain(d), "{d}");
        }
    }

    #[test]
    fn record_name_and_value() {
        assert_eq!(challenge_name("acme.com"), "_rollcall-challenge.acme.com");
    }
}
