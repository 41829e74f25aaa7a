//! Prefixed, time-ordered identifiers (`org_…`, `pool_…`, …) built on UUID v7.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

/// Error for a string that is not a well-formed id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id")]
pub struct InvalidId {
    /// The kind expected (`org`, `pool`, …).
    pub kind: &'static str,
    /// The rejected text, cut to 64 characters.
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id from a UUID (v7 gives creation order).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(format!("{}{}", $prefix, uuid.simple()))
            }

            /// Parses `prefix` + 32 lowercase hex digits.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let invalid = || InvalidId { kind: $prefix.trim_end_matches('_'), value: value.chars().take(64).collect() };
                let rest = value.strip_prefix($prefix).ok_or_else(invalid)?;
                if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(invalid());
                }
                Ok(Self(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

prefixed_id!(/// An organization.
    OrgId, "org_");
prefixed_id!(/// A pool in an organization's tree.
    PoolId, "pool_");
prefixed_id!(/// A person, global across organizations.
    UserId, "usr_");
prefixed_id!(/// An email invitation.
    InvitationId, "inv_");
prefixed_id!(/// A multi-use invite link.
    InviteLinkId, "lnk_");
prefixed_id!(/// A SCIM bearer token.
    ScimTokenId, "sct_");
prefixed_id!(/// A group the identity provider pushes over SCIM.
    GroupId, "grp_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_wrong_kind() {
        let id = OrgId::from_uuid(Uuid::now_v7());
        assert_eq!(OrgId::parse(id.as_str()).unwrap(), id);
        assert!(PoolId::parse(id.as_str()).is_err());
        assert!(OrgId::parse("org_").is_err());
        assert!(OrgId::parse("org_0123456789ABCDEF0123456789abcdef").is_err());
        assert!(OrgId::parse("org_0123456789abcdef0123456789abcdef").is_ok());
    }
}
