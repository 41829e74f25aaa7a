//! Email addresses and the one rule by which they are compared.
//!
//! An address is stored as given (trimmed) and compared in its normalized form: the local part
//! with ASCII letters lowercased and every other character kept as it is, `@`, and the domain in
//! its IDNA ASCII form (UTS 46 `ToASCII`: `Bücher.Example` → `xn--bcher-kva.example`). The rule
//! never equates two addresses a mail system may deliver to different mailboxes: the Kelvin sign
//! `K` (U+212A), the dotless `ı`, the Turkish `İ` or fullwidth letters are not `k`, `i` or their
//! ASCII look-alikes (Unicode lowercasing equates some of them), while a domain is one DNS name
//! however it is spelled. Every comparison, claim and index key on both stores uses
//! [`Email::normalized`], [`normalize_email`] or [`normalize_domain`]; nothing else folds the
//! case of addresses or domains.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A syntactically valid email address, kept as given (trimmed) with its normalized form.
///
/// Serialized as `{value, normalized}`; deserialization recomputes `normalized` from `value`
/// with the current rule, so records written under an earlier rule are compared by this one.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    value: String,
    normalized: String,
}

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest domain name in its ASCII form.
pub const MAX_DOMAIN_LEN: usize = 253;

impl Email {
    /// Parses an address: one `@`, a non-empty local part of at most 64 bytes of letters, digits
    /// and ``!#$%&'*+-/=?^_`{|}~.`` (no leading, trailing or double dot), and a domain that has an
    /// IDNA ASCII form of at least two labels ([`normalize_domain`]); no spaces or control
    /// characters.
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
        let domain = normalize_domain_part(domain)?;
        Some(Email {
            value: value.to_owned(),
            normalized: format!("{}@{domain}", local.to_ascii_lowercase()),
        })
    }

    /// An address read from a stored record: parsed with the current rule. A value the current
    /// rule refuses (accepted by an older, laxer one) keeps its text with only ASCII letters
    /// lowercased, so that the record stays readable; that form equals no valid address's.
    fn from_stored(value: String) -> Email {
        Email::parse(&value).unwrap_or_else(|| Email {
            normalized: value.trim().to_ascii_lowercase(),
            value,
        })
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The form used for every comparison, claim and key (see the module docs).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The domain part in its IDNA ASCII form (lowercase).
    pub fn domain(&self) -> &str {
        self.normalized
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("")
    }

    /// Whether the address's domain is one of `domains`, each compared in its IDNA ASCII form
    /// (so lists stored before they were normalized compare the same way).
    pub fn domain_in(&self, domains: &[String]) -> bool {
        domains
            .iter()
            .any(|d| normalize_domain(d).is_some_and(|d| d == self.domain()))
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The stored shape; a stored `normalized` is ignored and recomputed.
        #[derive(Deserialize)]
        struct Stored {
            value: String,
        }
        let Stored { value } = Stored::deserialize(deserializer)?;
        Ok(Email::from_stored(value))
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

/// Normalizes text the way [`Email::normalized`] does, for lookups by a raw query value. Text
/// that is not a valid address gets only its ASCII letters lowercased (no address's form equals
/// it).
pub fn normalize_email(raw: &str) -> String {
    Email::parse(raw).map_or_else(|| raw.trim().to_ascii_lowercase(), |e| e.normalized)
}

/// A domain name as written in settings or on an invite link (a leading `@` allowed) in its
/// IDNA ASCII form: see [`normalize_domain_part`].
pub fn normalize_domain(raw: &str) -> Option<String> {
    let raw = raw.trim();
    normalize_domain_part(raw.strip_prefix('@').unwrap_or(raw))
}

/// UTS 46 `ToASCII` with the STD3 rules (letters, digits, hyphens), then a dotted name of at
/// least two labels of 1..=63 characters without leading or trailing hyphens, at most 253 in
/// all; `None` when the domain has no such form.
fn normalize_domain_part(domain: &str) -> Option<String> {
    if domain.is_empty() || domain.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let ascii = idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::STD3).ok()?;
    let labels_ok = ascii.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let ok = labels_ok && ascii.len() <= MAX_DOMAIN_LEN && ascii.contains('.');
    ok.then(|| ascii.into_owned())
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

    /// Two addresses the rule must keep apart: a mail system may deliver them to different
    /// mailboxes.
    #[test]
    fn never_equates_different_mailboxes() {
        for (a, b) in [
            ("\u{212A}ate@a.test", "kate@a.test"),  // Kelvin sign, not K
            ("\u{212A}ate@a.test", "Kate@a.test"),  // not even the ASCII capital
            ("d\u{131}ana@a.test", "diana@a.test"), // dotless i
            ("\u{130}pek@a.test", "ipek@a.test"),   // Turkish capital I with dot
            ("\u{130}pek@a.test", "i\u{307}pek@a.test"), // ... and its Unicode lowercase
            ("\u{FF4B}ate@a.test", "kate@a.test"),  // fullwidth k
            ("\u{FF2B}ate@a.test", "\u{FF4B}ate@a.test"), // fullwidth K, k: non-ASCII, kept
            ("\u{C9}mile@a.test", "\u{E9}mile@a.test"), // É, é: non-ASCII, kept
        ] {
            let (ea, eb) = (Email::parse(a), Email::parse(b));
            if let (Some(ea), Some(eb)) = (&ea, &eb) {
                assert_ne!(ea.normalized(), eb.normalized(), "{a} vs {b}");
                assert_ne!(normalize_email(a), normalize_email(b), "{a} vs {b}");
            }
            assert!(ea.is_some(), "{a} is a valid address");
        }
    }

    #[test]
    fn folds_ascii_case_only_and_compares_domains_in_idna_ascii() {
        let same = [
            ("Kate@A.Test", "kate@a.test"),
            ("KATE@a.TEST", "kate@A.test"),
            ("ann@b\u{FC}cher.example", "ann@xn--bcher-kva.example"),
            ("ann@B\u{DC}CHER.example", "ann@XN--BCHER-KVA.example"),
        ];
        for (a, b) in same {
            let (ea, eb) = (Email::parse(a).unwrap(), Email::parse(b).unwrap());
            assert_eq!(ea.normalized(), eb.normalized(), "{a} vs {b}");
            assert_eq!(normalize_email(a), ea.normalized(), "{a}");
        }
        let e = Email::parse("\u{212A}ate@B\u{FC}cher.Example").unwrap();
        assert_eq!(e.as_str(), "\u{212A}ate@B\u{FC}cher.Example");
        assert_eq!(e.normalized(), "\u{212A}ate@xn--bcher-kva.example");
        assert_eq!(e.domain(), "xn--bcher-kva.example");
        assert!(e.domain_in(&["B\u{FC}CHER.example".to_owned()]));
        assert!(e.domain_in(&["xn--bcher-kva.example".to_owned()]));
        assert!(!e.domain_in(&["bucher.example".to_owned()]));
    }

    #[test]
    fn a_domain_without_idna_ascii_form_is_invalid() {
        for bad in ["a@xn--a.test", "a@\u{2764}\u{FE0F}.test\u{0}", "a@a_b.test"] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            normalize_domain("@B\u{FC}cher.Example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(normalize_domain("nodot"), None);
    }

    #[test]
    fn stored_records_follow_the_rule() {
        // A record written by the old rule (Unicode lowercase) reads back with the new form.
        let old = r#"{"value":"\u212Aate@A.test","normalized":"kate@a.test"}"#;
        let e: Email = serde_json::from_str(old).unwrap();
        assert_eq!(e.as_str(), "\u{212A}ate@A.test");
        assert_eq!(e.normalized(), "\u{212A}ate@a.test");
        let back: Email = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
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
