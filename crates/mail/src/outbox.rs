//! The local outbox: each mail is a JSON file in a directory.

use crate::{MailConfig, accept_link, render_invitation};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rollcall_domain::email::normalize_email;
use rollcall_domain::ports::{
    InvitationEmail, MailError, MailEvent, MailEventKind, Mailer, SentMail,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// One mail in the outbox, as stored and as listed by `GET /_local/outbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// When it was written (RFC 3339, UTC).
    pub sent_at: DateTime<Utc>,
}

/// What the outbox reports for mail to an address, instead of a delivery (local runs, to try
/// bounce handling without SES).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedOutcome {
    /// A permanent (hard) bounce: the address does not exist.
    Bounce,
    /// The recipient marks the mail as spam.
    Complaint,
}

/// Simulated delivery reports: outcomes by normalized address, and where the events go.
#[derive(Debug)]
struct Simulation {
    outcomes: Mutex<HashMap<String, SimulatedOutcome>>,
    events: mpsc::UnboundedSender<MailEvent>,
}

/// Writes each mail to `<dir>/<unix-nanos>-<uuidv7>.json` (atomically: temp file, then rename).
///
/// With [`OutboxMailer::with_delivery_reports`], it also plays the mail provider's event
/// stream: after each mail, one [`MailEvent`] (delivered, or the outcome simulated for the
/// address with [`OutboxMailer::simulate`]) goes to the returned receiver, which the local server
/// feeds to the same use case the `mail-events` Lambda function calls.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    cfg: MailConfig,
    simulation: Option<Arc<Simulation>>,
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> MailError {
    MailError(format!(
        "outbox: could not {what} {}: {err}",
        path.display()
    ))
}

impl OutboxMailer {
    /// An outbox in `dir` (created on the first mail).
    pub fn new(dir: PathBuf, cfg: MailConfig) -> Self {
        OutboxMailer {
            dir,
            cfg,
            simulation: None,
        }
    }

    /// Reports a delivery event after every mail (see the type's doc); the receiver gets them.
    pub fn with_delivery_reports(mut self) -> (Self, mpsc::UnboundedReceiver<MailEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.simulation = Some(Arc::new(Simulation {
            outcomes: Mutex::new(HashMap::new()),
            events: tx,
        }));
        (self, rx)
    }

    /// From now on, mail to `email` (compared by the email rule) is reported as `outcome`
    /// instead of delivered; `None` delivers it again. Kept in memory (until the process ends).
    /// False when this outbox does not report deliveries.
    pub fn simulate(&self, email: &str, outcome: Option<SimulatedOutcome>) -> bool {
        let Some(sim) = &self.simulation else {
            return false;
        };
        if let Ok(mut map) = sim.outcomes.lock() {
            match outcome {
                Some(o) => map.insert(normalize_email(email), o),
                None => map.remove(&normalize_email(email)),
            };
        }
        true
    }

    /// The simulated outcomes, by normalized address.
    pub fn simulated(&self) -> HashMap<String, SimulatedOutcome> {
        self.simulation
            .as_ref()
            .and_then(|s| s.outcomes.lock().ok().map(|m| m.clone()))
            .unwrap_or_default()
    }

    fn report(&self, email: &InvitationEmail, message_id: &str) {
        let Some(sim) = &self.simulation else {
            return;
        };
        let outcome = sim
            .outcomes
            .lock()
            .ok()
            .and_then(|m| m.get(email.to.normalized()).copied());
        let kind = match outcome {
            None => MailEventKind::Delivered,
            Some(SimulatedOutcome::Bounce) => MailEventKind::Bounced { permanent: true },
            Some(SimulatedOutcome::Complaint) => MailEventKind::Complained,
        };
        let _ = sim.events.send(MailEvent {
            invitation_id: email.invitation_id.clone(),
            org_id: email.org_id.clone(),
            message_id: message_id.to_owned(),
            kind,
            at: Utc::now(),
        });
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every mail in the outbox, oldest first (newest last). Unreadable files are skipped.
    pub async fn list(&self) -> Result<Vec<OutboxEntry>, MailError> {
        let mut rd = match tokio::fs::read_dir(&self.dir).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("read", &self.dir, e)),
        };
        let mut names = Vec::new();
        while let Some(entry) = rd
            .next_entry()
            .await
            .map_err(|e| io_error("read", &self.dir, e))?
        {
            let name = entry.file_name();
            if let Some(name) = name.to_str()
                && name.ends_with(".json")
                && !name.starts_with('.')
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let path = self.dir.join(&name);
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                // Removed between listing and reading.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("read", &path, e)),
            };
            match serde_json::from_slice::<OutboxEntry>(&bytes) {
                Ok(entry) => out.push(entry),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping unreadable outbox file")
                }
            }
        }
        Ok(out)
    }

    /// The mails to one address (compared by the email rule), oldest first.
    pub async fn list_for(&self, to: &str) -> Result<Vec<OutboxEntry>, MailError> {
        let to = normalize_email(to);
        let mut all = self.list().await?;
        all.retain(|e| normalize_email(&e.to) == to);
        Ok(all)
    }

    async fn write(&self, entry: &OutboxEntry, id: uuid::Uuid) -> Result<PathBuf, MailError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| io_error("create", &self.dir, e))?;
        let nanos = entry.sent_at.timestamp_nanos_opt().unwrap_or(0).max(0);
        let path = self.dir.join(format!("{nanos:020}-{id}.json"));
        let tmp = self.dir.join(format!(".{nanos:020}-{id}.json.tmp"));
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| MailError(format!("outbox: could not encode the mail: {e}")))?;
        let written = async {
            use tokio::io::AsyncWriteExt;
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(&json).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_error("write", &path, e));
        }
        Ok(path)
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<SentMail, MailError> {
        let rendered = render_invitation(email, &self.cfg);
        let entry = OutboxEntry {
            to: email.to.as_str().to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            sent_at: Utc::now(),
        };
        let id = uuid::Uuid::now_v7();
        let path = self.write(&entry, id).await?;
        let message_id = format!("outbox-{id}");
        // Local runs only: the accept link (with its token) is logged on purpose (spec §4).
        tracing::info!(
            to = %email.to,
            accept_link = %accept_link(&self.cfg.accept_url, &email.token),
            file = %path.display(),
            "invitation email written to the outbox"
        );
        self.report(email, &message_id);
        Ok(SentMail { message_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rollcall_domain::email::Email;
    use rollcall_domain::role::Role;

    fn cfg() -> MailConfig {
        MailConfig {
            sender: "no-reply@example.com".into(),
            product_name: "Rollcall".into(),
            accept_url: "http://127.0.0.1:3000/accept".into(),
        }
    }

    fn invitation(to: &str, token: &str) -> InvitationEmail {
        InvitationEmail {
            invitation_id: rollcall_domain::ids::InvitationId::from_uuid(uuid::Uuid::now_v7()),
            org_id: rollcall_domain::ids::OrgId::from_uuid(uuid::Uuid::nil()),
            to: Email::parse(to).unwrap(),
            invitee_name: None,
            inviter: "Grace".into(),
            org_name: "Acme".into(),
            roles: vec![(Role::Member, None)],
            token: token.into(),
            expires_at: Utc.with_ymd_and_hms(2026, 11, 28, 14, 5, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn writes_lists_in_order_and_survives_a_new_mailer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let mailer = OutboxMailer::new(dir.clone(), cfg());
        assert!(
            mailer.list().await.unwrap().is_empty(),
            "missing dir lists as empty"
        );

        for i in 0..5 {
            let to = if i % 2 == 0 {
                "Ada@Example.org"
            } else {
                "bob@example.org"
            };
            mailer
                .send_invitation(&invitation(to, &format!("token{i}")))
                .await
                .unwrap();
        }
        let list = mailer.list().await.unwrap();
        assert_eq!(list.len(), 5);
        for (i, e) in list.iter().enumerate() {
            assert!(
                e.text
                    .contains(&format!("http://127.0.0.1:3000/accept?token=token{i}")),
                "newest last"
            );
            assert_eq!(e.subject, "Grace invited you to join Acme on Rollcall");
            assert!(e.html.contains("<html"));
        }
        assert!(list.windows(2).all(|w| w[0].sent_at <= w[1].sent_at));
        assert_eq!(list[0].to, "Ada@Example.org");

        // No temp files are left behind; every file is complete JSON with exactly five fields.
        let mut count = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            assert!(name.ends_with(".json") && !name.starts_with('.'), "{name}");
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 5);
            let sent_at = v["sent_at"].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(sent_at).is_ok(),
                "{sent_at}"
            );
            count += 1;
        }
        assert_eq!(count, 5);

        let again = OutboxMailer::new(dir.clone(), cfg());
        assert_eq!(again.list().await.unwrap(), list);
        let ada = again.list_for("ada@example.org").await.unwrap();
        assert_eq!(ada.len(), 3);
        assert!(ada[2].text.contains("token=token4"));

        // A stray or broken file does not break listing.
        std::fs::write(dir.join("99999999999999999999-broken.json"), b"{not json").unwrap();
        std::fs::write(dir.join(".partial.json.tmp"), b"{").unwrap();
        assert_eq!(again.list().await.unwrap().len(), 5);
    }

    #[tokio::test]
    async fn simulated_bounces_and_complaints_are_reported_per_address() {
        let tmp = tempfile::tempdir().unwrap();
        let (mailer, mut events) =
            OutboxMailer::new(tmp.path().join("outbox"), cfg()).with_delivery_reports();
        assert!(mailer.simulate(" Bad@Example.org", Some(SimulatedOutcome::Bounce)));
        assert!(mailer.simulate("spam@example.org", Some(SimulatedOutcome::Complaint)));
        let mut sent = Vec::new();
        for to in ["bad@example.org", "ok@example.org", "SPAM@example.org"] {
            let mail = invitation(to, "t");
            let s = mailer.send_invitation(&mail).await.unwrap();
            let e = events.recv().await.unwrap();
            assert_eq!(e.message_id, s.message_id);
            assert_eq!(e.invitation_id, mail.invitation_id);
            sent.push(e.kind);
        }
        assert_eq!(
            sent,
            [
                MailEventKind::Bounced { permanent: true },
                MailEventKind::Delivered,
                MailEventKind::Complained
            ]
        );
        // Every mail is still in the outbox; clearing the simulation delivers again.
        assert_eq!(mailer.list().await.unwrap().len(), 3);
        mailer.simulate("bad@example.org", None);
        mailer
            .send_invitation(&invitation("bad@example.org", "t"))
            .await
            .unwrap();
        assert_eq!(events.recv().await.unwrap().kind, MailEventKind::Delivered);
        // Without reports, nothing is simulated.
        assert!(!OutboxMailer::new(tmp.path().into(), cfg()).simulate("a@b.c", None));
    }

    #[tokio::test]
    async fn unwritable_dir_is_a_mail_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let mailer = OutboxMailer::new(file, cfg());
        let err = mailer
            .send_invitation(&invitation("a@example.org", "secret-token"))
            .await
            .unwrap_err();
        assert!(!err.0.contains("secret-token"));
    }
}
