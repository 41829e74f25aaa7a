//! Bearer secrets: 256 random bits, base64url with a readable prefix, stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The kinds of secret Rollcall issues, each with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Invitation token (`rci_`).
    Invitation,
    /// Invite-link token (`rcl_`).
    InviteLink,
    /// SCIM bearer token (`rcs_`).
    Scim,
    /// The random part of a domain's TXT record (`rcd_`; not a credential, shown again).
    DomainVerification,
}

impl SecretKind {
    /// The readable prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Invitation => "rci_",
            SecretKind::InviteLink => "rcl_",
            SecretKind::Scim => "rcs_",
            SecretKind::DomainVerification => "rcd_",
        }
    }
}

/// A freshly issued secret: the plain text (shown once) and its hash (stored).
#[derive(Clone)]
pub struct IssuedSecret {
    /// The secret to hand out once.
    pub plain: String,
    /// SHA-256 of `plain`, lowercase hex.
    pub hash: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedSecret {{ hash: {} }}", self.hash)
    }
}

/// Builds a secret of `kind` from 32 random bytes.
pub fn issue_secret(kind: SecretKind, random: [u8; 32]) -> IssuedSecret {
    let plain = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(random));
    let hash = hash_secret(&plain);
    IssuedSecret { plain, hash }
}

/// SHA-256 of a secret's text, lowercase hex.
pub fn hash_secret(plain: &str) -> String {
    let digest = Sha256::digest(plain.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether presented text has the shape of a secret of `kind` (prefix + 43 base64url characters).
/// Lets obviously wrong input be refused before any store lookup.
pub fn looks_like(kind: SecretKind, presented: &str) -> bool {
    presented.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Compares a presented secret with a stored hash in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(presented);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// The accept link: `base?token=...` (or `&token=...` when `base` already has a query), with the
/// token percent-encoded.
pub fn link_with_token(base: &str, token: &str) -> String {
    let base = base.trim();
    let sep = if base.ends_with('?') || base.ends_with('&') {
        ""
    } else if base.contains('?') {
        "&"
    } else {
        "?"
    };
    let mut out = format!("{base}{sep}token=");
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_secret_verifies_and_has_shape() {
        let s = issue_secret(SecretKind::Invitation, [7u8; 32]);
        assert!(s.plain.starts_with("rci_"));
        assert!(looks_like(SecretKind::Invitation, &s.plain));
        assert!(!looks_like(SecretKind::Scim, &s.plain));
        assert!(verify_secret(&s.plain, &s.hash));
        assert!(!verify_secret("rci_other", &s.hash));
        assert_eq!(s.hash.len(), 64);
    }

    #[test]
    fn links_carry_the_token_as_a_query_parameter() {
        assert_eq!(
            link_with_token("http://h/accept", "a b+c/="),
            "http://h/accept?token=a%20b%2Bc%2F%3D"
        );
        assert_eq!(
            link_with_token("https://x.example/i?src=mail", "t"),
            "https://x.example/i?src=mail&token=t"
        );
        assert_eq!(
            link_with_token("https://x.example/i?", "t"),
            "https://x.example/i?token=t"
        );
    }
}
