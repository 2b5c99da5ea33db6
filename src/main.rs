//! The `fapilab` command: parses arguments and calls the libraries. Nothing else lives here.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fapilab", version, about = "FAPI reference authorization server, CA and sandbox")]
struct Cli {
    /// Log filter (tracing env-filter syntax), e.g. `info` or `fapilab_server=debug`.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve {
        /// Config file (see fapilab.example.toml); without one, the defaults apply.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides `server.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Start the CA, the authorization server and the mock bank on loopback, and write
    /// `<data-dir>/sandbox.json`.
    Sandbox {
        #[arg(long, default_value = "data/sandbox")]
        data_dir: PathBuf,
        /// AS TLS port; the AS mTLS alias port is +1 and the bank +2.
        #[arg(long, default_value_t = 8443)]
        port_base: u16,
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
    },
    /// Manage the certificate authority.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create the root CA, the server certificate and (optionally) TPPs.
    Init {
        #[arg(long, default_value = "data/ca")]
        dir: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Extra server certificate names besides localhost, 127.0.0.1 and ::1.
        #[arg(long = "server-name")]
        server_names: Vec<String>,
        /// TPPs to issue right away (transport certificate + signing keys).
        #[arg(long = "tpp")]
        tpps: Vec<String>,
        #[arg(long, default_value_t = 90)]
        ca_days: u32,
        #[arg(long, default_value_t = 30)]
        leaf_days: u32,
    },
    /// Issue a TPP: transport certificate with directory-style subject, ES256 + PS256 keys.
    Issue {
        #[arg(long, default_value = "data/ca")]
        dir: PathBuf,
        #[arg(long)]
        tpp: String,
        /// A self-signed transport certificate (RFC 8705 §2.2) instead of a CA-issued one.
        #[arg(long)]
        self_signed: bool,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value_t = 30)]
        leaf_days: u32,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).context("--log")?)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config, data_dir } => {
            let mut config = match &config {
                Some(path) => fapilab_server::Config::load(path)?,
                None => fapilab_server::Config::default(),
            };
            if let Some(dir) = data_dir {
                config.server.data_dir = dir;
            }
            let server = fapilab_server::start(config).await?;
            for ws in server.workspaces() {
                println!("{} ({}): {}/.well-known/openid-configuration", ws.key, ws.profile.as_str(), ws.issuer);
            }
            server.wait().await;
        }
        Command::Sandbox { data_dir, port_base, bind } => {
            let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions { data_dir, port_base, bind }).await?;
            println!("{}", sandbox.summary());
            sandbox.wait().await;
        }
        Command::Certs { command } => certs(command)?,
    }
    Ok(())
}

fn certs(command: CertsCommand) -> anyhow::Result<()> {
    match command {
        CertsCommand::Init { dir, force, server_names, tpps, ca_days, leaf_days } => {
            let ca = fapilab_certs::CaDir::new(&dir);
            let options = fapilab_certs::InitOptions {
                force,
                lifetimes: fapilab_certs::Lifetimes { ca_days, leaf_days },
                server_names,
                tpps: tpps.into_iter().map(|t| (t, false)).collect(),
            };
            ca.init(&options)?;
            println!("CA ready in {}: trust {}", dir.display(), ca.ca_cert().display());
        }
        CertsCommand::Issue { dir, tpp, self_signed, force, leaf_days } => {
            let ca = fapilab_certs::CaDir::new(&dir);
            ca.issue_tpp(&tpp, self_signed, leaf_days, force)?;
            println!(
                "TPP {tpp}: certificate {}, private JWKS {}",
                ca.tpp_transport_cert(&tpp).display(),
                ca.tpp_private_jwks(&tpp).display()
            );
        }
    }
    Ok(())
}
