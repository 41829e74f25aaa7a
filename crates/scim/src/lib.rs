//! SCIM 2.0 Users (RFC 7643/7644) for Rollcall: the protocol only. The use cases (provisioning,
//! update, suspension, removal, the reads of lists) are the domain's (`Service::scim_*` in
//! `rollcall_domain::service`); crates/api serves them over HTTP. No HTTP and no storage here.
//!
//! - [`filter`]: the full filter grammar parsed into an AST ([`Filter::parse`]), evaluated
//!   against User resources ([`Filter::matches`]), and [`filter::key_lookup`] recognizing
//!   `userName eq`, `externalId eq` and `emails.value eq` so the store answers them by key;
//! - [`patch`]: PATCH requests as Okta and Microsoft Entra ID send them ([`apply_patch`]);
//! - [`resource`]: POST/PUT body normalization ([`normalize_user`]) and
//!   `attributes`/`excludedAttributes` projection ([`Projection`]);
//! - [`list`]: list query parameters and paging ([`ListQuery`]);
//! - [`schema`]: the supported attribute set with its metadata, and the discovery documents;
//! - [`error`]: [`ScimError`] and its SCIM JSON body;
//! - [`mapping`]: User resource ⇔ membership (and its SCIM record), and the resource's domain
//!   command ([`mapping::member_command`]);
//! - [`cursors`]: [`CursorCache`], `startIndex` paging over the store's cursors.
//!
//! A User resource is the JSON object of the wire format: core attributes at the top level,
//! enterprise attributes under `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
//! The HTTP layer adds `id` and `meta` and maps memberships to and from this shape.
//!
//! Tests: `cargo test -p rollcall-scim`. The property tests (random filters, random bytes
//! and random PATCH requests, proving no panic and parser round-trips) live in
//! `tests/proptests.rs`; run more cases with
//! `PROPTEST_CASES=20000 cargo test -p rollcall-scim --release --test proptests`.

pub mod cursors;
pub mod error;
pub mod filter;
pub mod group;
pub mod list;
pub mod mapping;
pub mod patch;
pub mod resource;
pub mod schema;

pub use cursors::CursorCache;
pub use error::ScimError;
pub use filter::{Filter, FilterError, KeyLookup, LookupKey, key_lookup, status_hint};
pub use list::ListQuery;
pub use patch::{PatchError, PatchRequest, apply_patch};
pub use resource::{Projection, normalize_user};
