//! The [`DnsTxt`] port on `hickory-resolver`: TXT lookups for domain verification, against the
//! system's resolver configuration or one name server (`ROLLCALL_DNS_RESOLVER`).
//!
//! Nothing is cached: a verify call right after the record is published sees it (the resolver
//! queried may still cache; that is the DNS provider's TTL).

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use rollcall_domain::ports::{DnsError, DnsTxt};
use std::net::SocketAddr;
use std::time::Duration;

/// Seconds one query waits for an answer before it is tried again (twice) or given up.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// A TXT resolver over `hickory-resolver`.
#[derive(Clone)]
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryDns").finish_non_exhaustive()
    }
}

fn options() -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.timeout = QUERY_TIMEOUT;
    opts.attempts = 2;
    opts.ndots = 0;
    opts
}

impl HickoryDns {
    /// The system's configuration (`/etc/resolv.conf`), or the one name server at `server`
    /// (UDP, with TCP for truncated answers). Errors name what could not be read.
    pub fn new(server: Option<SocketAddr>) -> Result<HickoryDns, String> {
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
        };
        let resolver = builder
            .with_options(options())
            .build()
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(HickoryDns { resolver })
    }
}

#[async_trait]
impl DnsTxt for HickoryDns {
    async fn txt_records(&self, name: &str) -> Result<Vec<String>, DnsError> {
        // A fully qualified name: no search domains are tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(DnsError(e.to_string())),
        }
    }
}
