//! `rollcall`: the local binary. `serve` runs every route of every function in one process;
//! `token` prints a bearer token the local server accepts; `create-table` sets up DynamoDB.

use clap::{Parser, Subcommand};
use rollcall::{MailerKind, StoreKind, local_auth, serve};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Rollcall membership backend: local server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole API on one address.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROLLCALL_ADDR", default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// Local data directory (embedded store, outbox, token signing key).
        #[arg(long, env = "ROLLCALL_DATA_DIR", default_value = ".rollcall")]
        data_dir: PathBuf,
        /// Store backend.
        #[arg(long, env = "ROLLCALL_STORE", value_enum, default_value = "embedded")]
        store: StoreKind,
        /// Mail backend.
        #[arg(long, env = "ROLLCALL_MAILER", value_enum, default_value = "outbox")]
        mailer: MailerKind,
        /// Seconds a client may take to send a request's head before the connection is closed.
        #[arg(long, env = "ROLLCALL_HEADER_READ_TIMEOUT_SECS",
              default_value_t = serve::DEFAULT_HEADER_READ_TIMEOUT_SECS,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_read_timeout_secs: u64,
        /// Seconds a client may take to send a request's body (after its head) before it is
        /// answered 408.
        #[arg(long, env = "ROLLCALL_BODY_READ_TIMEOUT_SECS",
              default_value_t = serve::DEFAULT_BODY_READ_TIMEOUT_SECS,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        body_read_timeout_secs: u64,
        /// The DNS server domain verification asks (`IP:PORT`); the system's configuration when
        /// absent.
        #[arg(long, env = "ROLLCALL_DNS_RESOLVER")]
        dns_resolver: Option<SocketAddr>,
        /// Accept tokens of this external OIDC issuer (exactly their `iss`) instead of the local
        /// key's; the local sign-in is then not offered.
        #[arg(long, env = "ROLLCALL_OIDC_ISSUER", requires = "oidc_audience")]
        oidc_issuer: Option<String>,
        /// The audience the issuer's tokens must carry in `aud` (for ID tokens, the client id).
        #[arg(long, env = "ROLLCALL_OIDC_AUDIENCE", requires = "oidc_issuer")]
        oidc_audience: Option<String>,
        /// The issuer's key set (JWKS) URL; discovered from
        /// `<issuer>/.well-known/openid-configuration` when absent.
        #[arg(long, env = "ROLLCALL_OIDC_JWKS_URL", requires = "oidc_issuer")]
        oidc_jwks_url: Option<String>,
        /// The console's client id at the issuer; the audience when absent.
        #[arg(long, env = "ROLLCALL_OIDC_CLIENT_ID", requires = "oidc_issuer")]
        oidc_client_id: Option<String>,
    },
    /// Print a bearer token for an identity, accepted by a server using the same data directory.
    Token {
        /// Email claim.
        #[arg(long)]
        email: String,
        /// Name claim.
        #[arg(long)]
        name: Option<String>,
        /// Subject; derived from the email when absent.
        #[arg(long)]
        sub: Option<String>,
        /// Mark the email as not verified.
        #[arg(long)]
        unverified: bool,
        /// Hours the token stays valid.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
        /// Local data directory holding the signing key.
        #[arg(long, env = "ROLLCALL_DATA_DIR", default_value = ".rollcall")]
        data_dir: PathBuf,
    },
    /// Create the DynamoDB table (`ROLLCALL_TABLE`) with its indexes and TTL; a no-op if it exists.
    CreateTable,
    /// Check every invariant of the embedded store (index entries, claims, counters); prints each
    /// problem and exits 1 if there is any. Reads every table: run it with the server stopped or
    /// idle.
    CheckStore {
        /// Local data directory holding `rollcall.redb`.
        #[arg(long, env = "ROLLCALL_DATA_DIR", default_value = ".rollcall")]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            addr,
            data_dir,
            store,
            mailer,
            header_read_timeout_secs,
            body_read_timeout_secs,
            dns_resolver,
            oidc_issuer,
            oidc_audience,
            oidc_jwks_url,
            oidc_client_id,
        } => runtime().and_then(|rt| {
            rt.block_on(serve::run(serve::Options {
                addr,
                data_dir,
                store,
                mailer,
                timeouts: serve::ReadTimeouts {
                    header: std::time::Duration::from_secs(header_read_timeout_secs),
                    body: std::time::Duration::from_secs(body_read_timeout_secs),
                },
                dns_resolver,
                oidc: oidc_issuer.zip(oidc_audience).map(|(issuer, audience)| {
                    rollcall::oidc::OidcSettings {
                        issuer,
                        audience,
                        jwks_url: oidc_jwks_url,
                        client_id: oidc_client_id,
                    }
                }),
            }))
        }),
        Command::Token {
            email,
            name,
            sub,
            unverified,
            ttl_hours,
            data_dir,
        } => print_token(&email, name, sub, !unverified, ttl_hours, &data_dir),
        Command::CreateTable => runtime().and_then(|rt| rt.block_on(serve::create_table())),
        Command::CheckStore { data_dir } => {
            runtime().and_then(|rt| rt.block_on(check_store(&data_dir)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rollcall: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn check_store(data_dir: &std::path::Path) -> Result<(), String> {
    let path = data_dir.join("rollcall.redb");
    if !path.is_file() {
        return Err(format!("{}: no store here", path.display()));
    }
    let store = rollcall_store_embedded::EmbeddedStore::open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let problems = store
        .check_integrity()
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if problems.is_empty() {
        println!("{}: consistent", path.display());
        return Ok(());
    }
    for p in &problems {
        println!("{p}");
    }
    Err(format!("{}: {} problems", path.display(), problems.len()))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))
}

fn print_token(
    email: &str,
    name: Option<String>,
    sub: Option<String>,
    verified: bool,
    ttl_hours: i64,
    data_dir: &std::path::Path,
) -> Result<(), String> {
    if !(1..=24 * 365).contains(&ttl_hours) {
        return Err("--ttl-hours must be between 1 and 8760".into());
    }
    let key = local_auth::LocalKey::load_or_create(data_dir)?;
    let token = key
        .sign_in(
            email,
            name,
            sub,
            verified,
            chrono::Duration::hours(ttl_hours),
        )
        .map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}
