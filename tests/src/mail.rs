//! A mailer for tests that drive the use cases directly and do not read the mail they send.

use async_trait::async_trait;
use rollcall_domain::ports::{InvitationEmail, MailError, Mailer, SentMail};

/// Accepts every mail and sends nothing (a test that reads mail uses the outbox or the SES
/// emulator instead).
pub struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send_invitation(&self, _email: &InvitationEmail) -> Result<SentMail, MailError> {
        Ok(SentMail {
            message_id: "no-mail".into(),
        })
    }
}
