//! Configuration from `ROLLCALL_*` environment variables, read once at start-up.

use rollcall_domain::service::ServiceConfig;
use rollcall_mail::MailConfig;

/// Default `ROLLCALL_PRODUCT_NAME`.
pub const DEFAULT_PRODUCT_NAME: &str = "Rollcall";

/// Why the configuration is unusable; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("the environment variable {0} is required")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("the environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Rollcall's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ROLLCALL_TABLE`: the DynamoDB table (required when the DynamoDB store is used).
    pub table: Option<String>,
    /// `ROLLCALL_SENDER`: the `From` address of invitation emails (required to send mail).
    pub sender: Option<String>,
    /// `ROLLCALL_PRODUCT_NAME` (default "Rollcall").
    pub product_name: String,
    /// `ROLLCALL_ACCEPT_URL` (required): where invitees land; `?token=` is appended.
    pub accept_url: String,
    /// `ROLLCALL_MAX_BODY_BYTES` (default 262144): the largest request body accepted.
    pub max_body_bytes: usize,
    /// `ROLLCALL_DNS_RESOLVER` (`IP:PORT`): the DNS server domain verification asks; the
    /// system's configuration when unset.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// `ROLLCALL_SES_CONFIGURATION_SET`: the SES configuration set invitation emails are sent
    /// through (its event destination reports deliveries, bounces and complaints); none when
    /// unset.
    pub ses_configuration_set: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests). Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let accept_url =
            get("ROLLCALL_ACCEPT_URL").ok_or(ConfigError::Missing("ROLLCALL_ACCEPT_URL"))?;
        if !(accept_url.starts_with("https://") || accept_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "ROLLCALL_ACCEPT_URL",
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        let max_body_bytes = match get("ROLLCALL_MAX_BODY_BYTES") {
            None => rollcall_api::DEFAULT_MAX_BODY_BYTES,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1024)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "ROLLCALL_MAX_BODY_BYTES",
                    reason: format!("`{v}` is not a byte count of at least 1024"),
                })?,
        };
        let dns_resolver = match get("ROLLCALL_DNS_RESOLVER") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError::Invalid {
                name: "ROLLCALL_DNS_RESOLVER",
                reason: format!("`{v}` is not an IP:PORT address"),
            })?),
        };
        Ok(Config {
            dns_resolver,
            ses_configuration_set: get("ROLLCALL_SES_CONFIGURATION_SET"),
            table: get("ROLLCALL_TABLE"),
            sender: get("ROLLCALL_SENDER"),
            product_name: get("ROLLCALL_PRODUCT_NAME")
                .unwrap_or_else(|| DEFAULT_PRODUCT_NAME.to_owned()),
            accept_url,
            max_body_bytes,
        })
    }

    /// The DynamoDB table, or the error naming `ROLLCALL_TABLE`.
    pub fn table(&self) -> Result<&str, ConfigError> {
        self.table
            .as_deref()
            .ok_or(ConfigError::Missing("ROLLCALL_TABLE"))
    }

    /// The mailer's settings, or the error naming `ROLLCALL_SENDER`.
    pub fn mail_config(&self) -> Result<MailConfig, ConfigError> {
        let sender = self
            .sender
            .clone()
            .ok_or(ConfigError::Missing("ROLLCALL_SENDER"))?;
        Ok(MailConfig {
            sender,
            product_name: self.product_name.clone(),
            accept_url: self.accept_url.clone(),
        })
    }

    /// The use cases' settings.
    pub fn service_config(&self) -> ServiceConfig {
        ServiceConfig {
            accept_url: self.accept_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_required_variables() {
        let err = from(&[]).unwrap_err();
        assert!(err.to_string().contains("ROLLCALL_ACCEPT_URL"), "{err}");
        let c = from(&[("ROLLCALL_ACCEPT_URL", "https://app.test/accept")]).unwrap();
        assert_eq!(c.product_name, "Rollcall");
        assert_eq!(c.max_body_bytes, 262_144);
        assert!(
            c.table()
                .unwrap_err()
                .to_string()
                .contains("ROLLCALL_TABLE")
        );
        assert!(
            c.mail_config()
                .unwrap_err()
                .to_string()
                .contains("ROLLCALL_SENDER")
        );
        let c = from(&[
            ("ROLLCALL_ACCEPT_URL", "https://app.test/accept"),
            ("ROLLCALL_TABLE", "t"),
            ("ROLLCALL_SENDER", "no-reply@app.test"),
            ("ROLLCALL_PRODUCT_NAME", "Acme"),
            ("ROLLCALL_MAX_BODY_BYTES", "4096"),
        ])
        .unwrap();
        assert_eq!(c.table().unwrap(), "t");
        assert_eq!(c.mail_config().unwrap().product_name, "Acme");
        assert_eq!(c.max_body_bytes, 4096);
        let err = from(&[
            ("ROLLCALL_ACCEPT_URL", "https://a.test"),
            ("ROLLCALL_MAX_BODY_BYTES", "lots"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("ROLLCALL_MAX_BODY_BYTES"), "{err}");
        assert!(from(&[("ROLLCALL_ACCEPT_URL", "ftp://x")]).is_err());
        assert_eq!(c.dns_resolver, None);
        assert_eq!(c.ses_configuration_set, None);
        let c = from(&[
            ("ROLLCALL_ACCEPT_URL", "https://a.test"),
            ("ROLLCALL_DNS_RESOLVER", "127.0.0.1:5353"),
        ])
        .unwrap();
        assert_eq!(c.dns_resolver, Some("127.0.0.1:5353".parse().unwrap()));
        let err = from(&[
            ("ROLLCALL_ACCEPT_URL", "https://a.test"),
            ("ROLLCALL_DNS_RESOLVER", "localhost"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("ROLLCALL_DNS_RESOLVER"), "{err}");
    }
}
