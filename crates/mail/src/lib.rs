//! The [`Mailer`](rollcall_domain::ports::Mailer) port: invitation email templates, an SES v2
//! adapter for AWS and an outbox adapter that writes mails to files for local runs.

mod outbox;
mod render;
mod ses;
mod ses_events;

pub use outbox::{OutboxEntry, OutboxMailer, SimulatedOutcome};
pub use render::{RenderedEmail, accept_link, escape_html, format_expiry, render_invitation};
pub use ses::{SesMailer, TAG_INVITATION_ID, TAG_ORG_ID};
pub use ses_events::{MalformedSesEvent, SesEvent, parse_ses_event};

/// What every mailer needs to know besides the email itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// The `From` address (e.g. `Rollcall <no-reply@example.com>`), verified in SES.
    pub sender: String,
    /// Product name shown in the subject and the body.
    pub product_name: String,
    /// Where the accept link points; the token is appended as `token=...`.
    pub accept_url: String,
}
