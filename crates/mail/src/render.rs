//! The invitation email template: subject, plain-text and HTML bodies.

use crate::MailConfig;
use rollcall_domain::model::Timestamp;
use rollcall_domain::ports::InvitationEmail;
use std::fmt::Write as _;

/// A rendered email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Subject line (single line).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body; every interpolated value is escaped.
    pub html: String,
}

/// Escapes `& < > " '` for use in HTML text and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes a value safe for one line (subject, header, list item): control characters such as CR
/// and LF become spaces, runs of whitespace collapse to one, and the ends are trimmed.
fn one_line(s: &str) -> String {
    let replaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The accept link (one rule, in the domain).
pub use rollcall_domain::secret::link_with_token as accept_link;

/// The expiry as shown in emails, in UTC: `Saturday, 28 November 2026 at 14:05 UTC`.
pub fn format_expiry(at: &Timestamp) -> String {
    at.format("%A, %-d %B %Y at %H:%M UTC").to_string()
}

/// Renders the invitation email (spec §4).
pub fn render_invitation(email: &InvitationEmail, cfg: &MailConfig) -> RenderedEmail {
    let inviter = one_line(&email.inviter);
    let org = one_line(&email.org_name);
    let product = one_line(&cfg.product_name);
    let name = email
        .invitee_name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty());
    let link = one_line(&accept_link(&cfg.accept_url, &email.token));
    let expiry = format_expiry(&email.expires_at);
    let roles: Vec<String> = email
        .roles
        .iter()
        .map(
            |(role, pool)| match pool.as_deref().map(one_line).filter(|p| !p.is_empty()) {
                Some(pool) if role.is_pool_scoped() => format!("{} on pool {pool}", role.label()),
                _ => role.label().to_owned(),
            },
        )
        .collect();

    let subject = format!("{inviter} invited you to join {org} on {product}");
    let greeting = match &name {
        Some(n) => format!("Hi {n},"),
        None => "Hello,".to_owned(),
    };
    let ignore = "If you did not expect this invitation, you can ignore this email: nothing \
                  happens unless you accept it.";

    // ---- plain text ----
    let mut text = String::new();
    let _ = writeln!(text, "{greeting}\n");
    let _ = writeln!(text, "{inviter} invited you to join {org} on {product}.\n");
    if !roles.is_empty() {
        let _ = writeln!(text, "Roles offered:");
        for r in &roles {
            let _ = writeln!(text, "  - {r}");
        }
        text.push('\n');
    }
    let _ = writeln!(text, "Accept the invitation:\n{link}\n");
    let _ = writeln!(text, "This invitation expires on {expiry}.\n");
    let _ = writeln!(text, "{ignore}");

    // ---- HTML ----
    let e = escape_html;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{subject}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;\">\n\
         <table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" style=\"background:#f4f5f7;padding:24px 0;\"><tr><td align=\"center\">\n\
         <table role=\"presentation\" width=\"560\" cellspacing=\"0\" cellpadding=\"0\" style=\"max-width:560px;background:#ffffff;border-radius:8px;padding:32px;\"><tr><td>\n",
        subject = e(&subject),
    );
    let _ = writeln!(
        html,
        "<p style=\"font-size:16px;margin:0 0 16px;\">{}</p>",
        e(&greeting)
    );
    let _ = writeln!(
        html,
        "<p style=\"font-size:16px;margin:0 0 16px;\"><strong>{}</strong> invited you to join \
         <strong>{}</strong> on {}.</p>",
        e(&inviter),
        e(&org),
        e(&product)
    );
    if !roles.is_empty() {
        let _ = writeln!(
            html,
            "<p style=\"font-size:16px;margin:0 0 8px;\">Roles offered:</p>"
        );
        let _ = writeln!(
            html,
            "<ul style=\"font-size:16px;margin:0 0 16px;padding-left:24px;\">"
        );
        for r in &roles {
            let _ = writeln!(html, "<li>{}</li>", e(r));
        }
        let _ = writeln!(html, "</ul>");
    }
    let _ = writeln!(
        html,
        "<p style=\"margin:24px 0;\"><a href=\"{href}\" style=\"display:inline-block;background:#2563eb;\
         color:#ffffff;text-decoration:none;font-size:16px;font-weight:600;padding:12px 24px;\
         border-radius:6px;\">Accept invitation</a></p>",
        href = e(&link)
    );
    let _ = writeln!(
        html,
        "<p style=\"font-size:14px;margin:0 0 16px;color:#52606d;\">Or open this link: \
         <a href=\"{href}\" style=\"color:#2563eb;word-break:break-all;\">{href}</a></p>",
        href = e(&link)
    );
    let _ = writeln!(
        html,
        "<p style=\"font-size:14px;margin:0 0 16px;color:#52606d;\">This invitation expires on {}.</p>",
        e(&expiry)
    );
    let _ = writeln!(
        html,
        "<p style=\"font-size:13px;margin:0;color:#7b8794;\">{}</p>",
        e(ignore)
    );
    html.push_str("</td></tr></table>\n</td></tr></table>\n</body>\n</html>\n");

    RenderedEmail {
        subject,
        text,
        html,
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
            accept_url: "https://app.example.com/invite".into(),
        }
    }

    fn invitation() -> InvitationEmail {
        InvitationEmail {
            invitation_id: rollcall_domain::ids::InvitationId::from_uuid(uuid::Uuid::now_v7()),
            org_id: rollcall_domain::ids::OrgId::from_uuid(uuid::Uuid::nil()),
            to: Email::parse("ada@example.org").unwrap(),
            invitee_name: Some("Ada Lovelace".into()),
            inviter: "Grace Hopper".into(),
            org_name: "Acme".into(),
            roles: vec![
                (Role::OrganizationManager, None),
                (Role::Engineer, Some("Marketing".into())),
                (Role::Manager, Some("Ops".into())),
            ],
            token: "tok_AbC-123_xyz".into(),
            expires_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 28, 14, 5, 9)
                .unwrap(),
        }
    }

    #[test]
    fn subject_is_exact() {
        let r = render_invitation(&invitation(), &cfg());
        assert_eq!(
            r.subject,
            "Grace Hopper invited you to join Acme on Rollcall"
        );
    }

    #[test]
    fn bodies_carry_link_roles_expiry_greeting_and_ignore_note() {
        let r = render_invitation(&invitation(), &cfg());
        let link = "https://app.example.com/invite?token=tok_AbC-123_xyz";
        for body in [&r.text, &r.html] {
            assert!(body.contains(link), "{body}");
            assert!(body.contains("Organization manager"));
            assert!(body.contains("Engineer on pool Marketing"));
            assert!(body.contains("Manager on pool Ops"));
            assert!(body.contains("Saturday, 28 November 2026 at 14:05 UTC"));
            assert!(body.contains("Hi Ada Lovelace,"));
            assert!(body.contains("ignore this email"));
        }
        assert!(r.html.contains(&format!("<a href=\"{link}\"")));
        assert!(r.html.contains("Accept invitation"));
    }

    #[test]
    fn text_body_has_no_html() {
        let r = render_invitation(&invitation(), &cfg());
        assert!(!r.text.contains('<'), "{}", r.text);
        assert!(!r.text.contains('>'), "{}", r.text);
        assert!(!r.text.contains("&amp;"));
    }

    #[test]
    fn greeting_without_name() {
        let mut inv = invitation();
        inv.invitee_name = None;
        let r = render_invitation(&inv, &cfg());
        assert!(r.text.starts_with("Hello,\n"));
        inv.invitee_name = Some("  \r\n ".into());
        let r = render_invitation(&inv, &cfg());
        assert!(r.text.starts_with("Hello,\n"));
    }

    #[test]
    fn pool_role_without_pool_name_shows_label() {
        let mut inv = invitation();
        inv.roles = vec![(Role::Engineer, None), (Role::Member, None)];
        let r = render_invitation(&inv, &cfg());
        assert!(r.text.contains("  - Engineer\n"));
        assert!(r.text.contains("  - Member\n"));
    }

    #[test]
    fn link_uses_ampersand_when_url_has_query_and_encodes_token() {
        assert_eq!(
            accept_link("http://127.0.0.1:3000/accept", "a b+c/="),
            "http://127.0.0.1:3000/accept?token=a%20b%2Bc%2F%3D"
        );
        assert_eq!(
            accept_link("https://x.example/i?src=mail", "t"),
            "https://x.example/i?src=mail&token=t"
        );
        assert_eq!(
            accept_link("https://x.example/i?", "t"),
            "https://x.example/i?token=t"
        );

        let mut c = cfg();
        c.accept_url = "https://x.example/i?src=mail".into();
        let r = render_invitation(&invitation(), &c);
        assert!(
            r.text
                .contains("https://x.example/i?src=mail&token=tok_AbC-123_xyz")
        );
        // In HTML the `&` of the query is itself escaped.
        assert!(
            r.html
                .contains("href=\"https://x.example/i?src=mail&amp;token=tok_AbC-123_xyz\"")
        );
    }

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain é"), "plain é");
    }

    #[test]
    fn hostile_values_are_escaped_in_html() {
        let mut inv = invitation();
        inv.org_name = "<script>alert(1)</script>".into();
        inv.inviter = "\"onmouseover=alert(1) x='".into();
        inv.invitee_name = Some("<img src=x onerror=alert(1)>".into());
        inv.roles = vec![(Role::Engineer, Some("</li><b>pool & co".into()))];
        let mut c = cfg();
        c.product_name = "Roll<call>".into();
        let r = render_invitation(&inv, &c);
        assert!(!r.html.contains("<script>"));
        assert!(!r.html.contains("<img"));
        assert!(!r.html.contains("</li><b>"));
        assert!(!r.html.contains("\"onmouseover"));
        assert!(!r.html.contains("x='"));
        assert!(!r.html.contains("Roll<call>"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("&quot;onmouseover=alert(1) x=&#x27;"));
        assert!(
            r.html
                .contains("Engineer on pool &lt;/li&gt;&lt;b&gt;pool &amp; co")
        );
        // The only tags in the HTML are the template's own.
        let tags: std::collections::BTreeSet<String> = r
            .html
            .split('<')
            .skip(1)
            .map(|t| {
                t.split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        let allowed = [
            "!DOCTYPE", "html", "/html", "head", "/head", "meta", "title", "/title", "body",
            "/body", "table", "/table", "tr", "/tr", "td", "/td", "p", "/p", "strong", "/strong",
            "ul", "/ul", "li", "/li", "a", "/a",
        ];
        for t in &tags {
            assert!(allowed.contains(&t.as_str()), "unexpected tag {t}");
        }
    }

    #[test]
    fn subject_has_no_line_breaks() {
        let mut inv = invitation();
        inv.inviter = "Eve\r\nBcc: victim@example.com".into();
        inv.org_name = "Acme\nCorp\t".into();
        let mut c = cfg();
        c.product_name = "Roll\rcall".into();
        let r = render_invitation(&inv, &c);
        assert!(!r.subject.contains('\r') && !r.subject.contains('\n'));
        assert_eq!(
            r.subject,
            "Eve Bcc: victim@example.com invited you to join Acme Corp on Roll call"
        );
    }

    #[test]
    fn expiry_format() {
        let at = chrono::Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 59).unwrap();
        assert_eq!(format_expiry(&at), "Monday, 4 January 2027 at 09:00 UTC");
    }
}
