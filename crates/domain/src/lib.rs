//! Rollcall's domain: ids, emails, roles and permission rules, the entities, the ports the
//! adapters implement, and the use cases. No AWS, HTTP or runtime dependencies.

pub mod audit;
pub mod email;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod model;
pub mod org_domain;
pub mod page;
pub mod permissions;
pub mod ports;
pub mod role;
pub mod secret;
pub mod service;

pub use email::Email;
pub use error::{Error, ErrorCode, ErrorKind, Result};
pub use ids::*;
pub use model::*;
pub use page::{Page, PageRequest};
pub use role::{Assignment, Role};
