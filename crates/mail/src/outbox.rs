//! The local outbox: each mail is a JSON file in a directory.

use crate::{MailConfig, accept_link, render_invitation};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rollcall_domain::email::normalize_email;
use rollcall_domain::ports::{InvitationEmail, MailError, Mailer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// Writes each mail to `<dir>/<unix-nanos>-<uuidv7>.json` (atomically: temp file, then rename).
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    cfg: MailConfig,
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
        OutboxMailer { dir, cfg }
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

    async fn write(&self, entry: &OutboxEntry) -> Result<PathBuf, MailError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| io_error("create", &self.dir, e))?;
        let nanos = entry.sent_at.timestamp_nanos_opt().unwrap_or(0).max(0);
        let id = uuid::Uuid::now_v7();
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
    async fn send_invitation(&self, email: &InvitationEmail) -> Result<(), MailError> {
        let rendered = render_invitation(email, &self.cfg);
        let entry = OutboxEntry {
            to: email.to.as_str().to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            sent_at: Utc::now(),
        };
        let path = self.write(&entry).await?;
        // Local runs only: the accept link (with its token) is logged on purpose (spec §4).
        tracing::info!(
            to = %email.to,
            accept_link = %accept_link(&self.cfg.accept_url, &email.token),
            file = %path.display(),
            "invitation email written to the outbox"
        );
        Ok(())
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
