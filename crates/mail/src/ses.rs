//! The SES v2 adapter.

use crate::{MailConfig, render_invitation};
use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use rollcall_domain::ports::{InvitationEmail, MailError, Mailer, SentMail};

/// The message tag naming the invitation of a mail (SES passes tags on to its events).
pub const TAG_INVITATION_ID: &str = "invitation_id";
/// The message tag naming the organization of a mail.
pub const TAG_ORG_ID: &str = "org_id";

/// Sends invitation emails with SES v2 `SendEmail` (simple content, UTF-8), tagged with the
/// invitation and organization ids, through a configuration set when one is configured (its
/// event destination reports deliveries, bounces and complaints to the `mail-events` function).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    cfg: MailConfig,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer on an existing SES v2 client.
    pub fn new(client: Client, cfg: MailConfig) -> Self {
        SesMailer {
            client,
            cfg,
            configuration_set: None,
        }
    }

    /// Sends through the SES configuration set `name` (`ROLLCALL_SES_CONFIGURATION_SET`), or
    /// without one (`None`: no delivery events).
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }

    /// A mailer on Rollcall's AWS SDK configuration from the environment (region, credentials,
    /// endpoints; the retry budget and timeouts of `rollcall_aws`); see
    /// [`SesMailer::from_sdk_config`].
    pub async fn from_env(cfg: MailConfig) -> Self {
        Self::from_sdk_config(&rollcall_aws::sdk_config().await, cfg)
    }

    /// A mailer on a loaded AWS SDK configuration (shared with the other clients of a process).
    /// The endpoint comes from `AWS_ENDPOINT_URL_SES` when set (the SDK itself only reads
    /// `AWS_ENDPOINT_URL_SESV2`, which wins when both are set).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, cfg: MailConfig) -> Self {
        let mut builder = aws_sdk_sesv2::config::Builder::from(sdk);
        let sesv2_set = std::env::var_os("AWS_ENDPOINT_URL_SESV2").is_some_and(|v| !v.is_empty());
        if !sesv2_set
            && let Ok(url) = std::env::var("AWS_ENDPOINT_URL_SES")
            && !url.trim().is_empty()
        {
            builder = builder.endpoint_url(url.trim());
        }
        SesMailer::new(Client::from_conf(builder.build()), cfg)
    }

    /// The configuration this mailer renders with.
    pub fn config(&self) -> &MailConfig {
        &self.cfg
    }
}

fn utf8(data: String) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|_| MailError("could not build the SES request".into()))
}

/// A message tag; SES allows only `[A-Za-z0-9_-]` in names and values (prefixed ids fit).
fn tag(name: &str, value: &str) -> Result<MessageTag, MailError> {
    MessageTag::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|_| MailError("could not build the SES request".into()))
}

/// A short description of an SDK error, without request contents.
fn describe<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(e) => {
            let inner = e.err();
            let code = inner.code().unwrap_or("unknown error");
            match inner.message() {
                Some(m) => {
                    let m: String = m.chars().take(200).collect();
                    format!("SES rejected the email: {code}: {m}")
                }
                None => format!("SES rejected the email: {code}"),
            }
        }
        SdkError::TimeoutError(_) => "SES did not answer in time".into(),
        SdkError::DispatchFailure(_) => "SES is unreachable".into(),
        SdkError::ResponseError(_) => "SES sent an unreadable response".into(),
        SdkError::ConstructionFailure(_) => "could not build the SES request".into(),
        _ => "SES request failed".into(),
    }
}

/// Whether SES itself failed after the SDK's retries: a timeout, no connection, throttling or a
/// 5xx answer (as opposed to refusing this one mail, e.g. `MessageRejected`).
fn service_unavailable<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_sesv2::config::http::HttpResponse>,
) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            matches!(
                e.err().code(),
                Some(
                    "TooManyRequestsException"
                        | "LimitExceededException"
                        | "Throttling"
                        | "ThrottlingException"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                )
            ) || e.raw().status().is_server_error()
        }
        _ => false,
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<SentMail, MailError> {
        let rendered = render_invitation(email, &self.cfg);
        let message = Message::builder()
            .subject(utf8(rendered.subject)?)
            .body(
                Body::builder()
                    .html(utf8(rendered.html)?)
                    .text(utf8(rendered.text)?)
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.cfg.sender)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .email_tags(tag(TAG_INVITATION_ID, email.invitation_id.as_str())?)
            .email_tags(tag(TAG_ORG_ID, email.org_id.as_str())?)
            .send()
            .await;
        match result {
            Ok(out) => {
                let message_id = out.message_id().unwrap_or("").to_owned();
                tracing::info!(
                    recipient_domain = %email.to.domain(),
                    invitation = %email.invitation_id,
                    message_id = %message_id,
                    "invitation email sent with SES"
                );
                Ok(SentMail { message_id })
            }
            Err(err) => {
                let short = describe(&err);
                tracing::warn!(
                    recipient_domain = %email.to.domain(),
                    error = %DisplayErrorContext(&err),
                    "invitation email not sent with SES"
                );
                // The service itself failing (not refusing this mail): the domain stops trying
                // the request's other mails.
                if service_unavailable(&err) {
                    Err(MailError::unavailable(short))
                } else {
                    Err(MailError(short))
                }
            }
        }
    }
}
