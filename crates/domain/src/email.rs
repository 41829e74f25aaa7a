//! Email addresses: stored as given, compared after normalization (trim + lowercase).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically valid email address, kept as given (trimmed) with its normalized form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    value: String,
    normalized: String,
}

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

impl Email {
    /// Parses an address: one `@`, a non-empty local part of at most 64 characters, a domain with a
    /// dot, labels of letters, digits and hyphens; no spaces or control characters.
    pub fn parse(raw: &str) -> Option<Email> {
        let value = raw.trim();
        if value.is_empty() || value.len() > MAX_EMAIL_LEN {
            return None;
        }
        let (local, domain) = value.split_once('@')?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return None;
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return None;
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return None;
        }
        let domain_ok = labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain_ok {
            return None;
        }
        Some(Email {
            value: value.to_owned(),
            normalized: value.to_lowercase(),
        })
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Trimmed and lowercased: the form used for every comparison and key.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The domain part, lowercased.
    pub fn domain(&self) -> &str {
        self.normalized
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("")
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.value)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Normalizes text the way [`Email::normalized`] does, for lookups by a raw query value.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_case_and_normalizes() {
        let e = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(e.normalized(), "ada.lovelace@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "", "a", "a@b", "@b.c", "a@@b.c", "a b@c.d", "a@-b.c", "a..b@c.d", "a@b..c", "<a@b.c>",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }
}
