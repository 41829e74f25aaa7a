//! SES v2 adapter against moto's server. Needs `ROLLCALL_TEST_SES_ENDPOINT`
//! (e.g. `http://127.0.0.1:5123`); skipped with a notice when unset, failed when `CI` is set.
//!
//! One test function only: it sets process environment variables for `SesMailer::from_env`.

use chrono::TimeZone;
use rollcall_domain::email::Email;
use rollcall_domain::ports::{InvitationEmail, Mailer};
use rollcall_domain::role::Role;
use rollcall_mail::{MailConfig, SesMailer};

const REGION: &str = "us-east-1";

fn endpoint() -> Option<String> {
    match std::env::var("ROLLCALL_TEST_SES_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().trim_end_matches('/').to_owned()),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "ROLLCALL_TEST_SES_ENDPOINT is not set: CI must start moto's server \
                     (moto_server -H 127.0.0.1 -p PORT) and point this variable at it"
                );
            }
            eprintln!(
                "notice: ROLLCALL_TEST_SES_ENDPOINT is not set; skipping the SES test against moto"
            );
            None
        }
    }
}

fn client(endpoint: &str) -> aws_sdk_sesv2::Client {
    let conf = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sesv2::Client::from_conf(conf)
}

async fn verify_sender(client: &aws_sdk_sesv2::Client, sender: &str) {
    use aws_sdk_sesv2::error::ProvideErrorMetadata;
    match client
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
    {
        Ok(_) => {}
        // The identity is left from an earlier run against the same server.
        Err(e) if e.code() == Some("AlreadyExistsException") => {}
        Err(e) => panic!(
            "CreateEmailIdentity failed: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(&e)
        ),
    }
}

/// Messages moto recorded: `ses.Message[]` of `{id, source, destinations: {ToAddresses}, subject, body}`.
async fn sent_messages(endpoint: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn to_of(m: &serde_json::Value) -> Vec<String> {
    m["destinations"]["ToAddresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn invitation(to: &str, token: &str) -> InvitationEmail {
    InvitationEmail {
        invitation_id: rollcall_domain::ids::InvitationId::from_uuid(uuid::Uuid::now_v7()),
        org_id: rollcall_domain::ids::OrgId::from_uuid(uuid::Uuid::nil()),
        to: Email::parse(to).unwrap(),
        invitee_name: Some("Ada".into()),
        inviter: "Grace <Hopper>".into(),
        org_name: "Acme & Co".into(),
        roles: vec![(Role::Engineer, Some("Marketing".into()))],
        token: token.into(),
        expires_at: chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 14, 5, 0)
            .unwrap(),
    }
}

#[tokio::test]
async fn ses_mailer_sends_through_moto() {
    let Some(endpoint) = endpoint() else { return };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let sender = format!("no-reply-{run}@example.com");
    let cfg = MailConfig {
        sender: sender.clone(),
        product_name: "Rollcall".into(),
        accept_url: "https://app.example.com/invite".into(),
    };
    let ses = client(&endpoint);

    // An unverified sender is rejected: a MailError, without the token in it.
    let unverified = SesMailer::new(
        ses.clone(),
        MailConfig {
            sender: format!("nobody-{run}@example.com"),
            ..cfg.clone()
        },
    );
    let err = unverified
        .send_invitation(&invitation(
            &format!("x-{run}@example.org"),
            "secret-token-zzz",
        ))
        .await
        .unwrap_err();
    assert!(!err.0.contains("secret-token-zzz"), "{err}");
    assert!(err.0.starts_with("SES"), "{err}");
    eprintln!("unverified sender gives: {err}");

    verify_sender(&ses, &sender).await;

    // Explicit client.
    let to = format!("ada-{run}@example.org");
    SesMailer::new(ses.clone(), cfg.clone())
        .send_invitation(&invitation(&to, "tok-1"))
        .await
        .unwrap();
    let msgs: Vec<_> = sent_messages(&endpoint)
        .await
        .into_iter()
        .filter(|m| to_of(m) == [to.clone()])
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m["source"], sender.as_str());
    assert_eq!(
        m["subject"],
        "Grace <Hopper> invited you to join Acme & Co on Rollcall"
    );
    // moto keeps the HTML part of simple content as `body`.
    let body = m["body"].as_str().unwrap();
    assert!(
        body.contains("href=\"https://app.example.com/invite?token=tok-1\""),
        "{body}"
    );
    assert!(body.contains("Grace &lt;Hopper&gt;"));
    assert!(body.contains("Acme &amp; Co"));
    assert!(body.contains("Engineer on pool Marketing"));
    assert!(body.contains("Saturday, 28 November 2026 at 14:05 UTC"));

    // From the environment, with the endpoint from AWS_ENDPOINT_URL_SES.
    // SAFETY: this is the only test of this binary, so no other thread reads the environment.
    unsafe {
        std::env::remove_var("AWS_ENDPOINT_URL_SESV2");
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_ENDPOINT_URL_SES", &endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", REGION);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let to2 = format!("bob-{run}@example.org");
    SesMailer::from_env(cfg.clone())
        .await
        .send_invitation(&invitation(&to2, "tok-2"))
        .await
        .unwrap();
    let msgs: Vec<_> = sent_messages(&endpoint)
        .await
        .into_iter()
        .filter(|m| to_of(m) == [to2.clone()])
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0]["body"].as_str().unwrap().contains("?token=tok-2"));
}
