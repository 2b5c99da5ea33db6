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
    /// Certification dry-run. Without --target: against the embedded reference server (a
    /// fresh sandbox on ephemeral ports with short code and request_uri lifetimes), every plan,
    /// every variant. Exit code 0: nothing unexpected failed; 1: unexpected failures; 2: bad
    /// usage or unreachable target.
    Certify(CertifyArgs),
    /// Load-test an authorization server with FAPI requests (unique client assertions and DPoP
    /// proofs, or mTLS), signed apart from the measured run. Without --target: against the
    /// embedded sandbox. Exit code 0: no errors; 1: any unexpected error; 2: bad usage or
    /// failed setup.
    Bench(BenchArgs),
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
        /// Authorization code lifetime in seconds (1..=60; default 60).
        #[arg(long)]
        code_lifetime: Option<u64>,
        /// PAR request_uri lifetime in seconds (5..=599; default 60).
        #[arg(long)]
        request_uri_lifetime: Option<u64>,
    },
    /// Manage the certificate authority.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
}

#[derive(clap::Args)]
struct CertifyArgs {
    /// A target file (TOML) describing the authorization server, or a sandbox manifest
    /// (sandbox.json).
    #[arg(long)]
    target: Option<PathBuf>,
    /// Only this plan (see --list).
    #[arg(long)]
    plan: Option<String>,
    /// Variant filter, e.g. `client_auth=mtls,sender=dpop,openid=plain_oauth`; missing axes
    /// mean every value.
    #[arg(long)]
    variant: Option<String>,
    /// Only this module.
    #[arg(long)]
    module: Option<String>,
    /// Known failures (plan, variant, module, condition, reason); a listed failure that no
    /// longer happens fails the run.
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    junit: Option<PathBuf>,
    #[arg(long)]
    html: Option<PathBuf>,
    /// Scenario files (a folder per plan) instead of the built-in plans.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// How many modules run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Print plans, variants, modules (with the requirement ids each checks) and steps.
    #[arg(long)]
    list: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A target file (TOML) or a sandbox manifest (sandbox.json).
    #[arg(long)]
    target: Option<PathBuf>,
    /// discovery, client-credentials, par, code-flow, introspection or resource.
    #[arg(long)]
    scenario: String,
    /// Concurrent workers, each with its own keep-alive connections.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Run for this long (10s, 1m, 500ms), signing from a signer pool.
    #[arg(
        long,
        required_unless_present = "requests",
        conflicts_with = "requests"
    )]
    duration: Option<String>,
    /// Send exactly this many units, all credentials signed before the clock starts.
    #[arg(long)]
    requests: Option<u64>,
    /// The same load for this long first; its samples are discarded.
    #[arg(long)]
    warmup: Option<String>,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The client to act as (default: a private_key_jwt + DPoP client); mTLS clients use their
    /// certificate.
    #[arg(long)]
    client: Option<String>,
    /// Signer threads (default: one per CPU).
    #[arg(long)]
    signers: Option<usize>,
    /// code-flow: authorizations per browser (cookie jar, login session) before a fresh one
    /// (default: one browser per worker for the whole run).
    #[arg(long)]
    browser_reuse: Option<u64>,
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
    // certify prints its own progress; the embedded server's request logs would drown it.
    let quiet = matches!(cli.command, Command::Certify(_) | Command::Bench(_));
    let log = if quiet && cli.log == "info" { "warn" } else { cli.log.as_str() };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(log).context("--log")?)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let code = runtime.block_on(run(cli.command))?;
    std::process::exit(code)
}

async fn run(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Certify(args) => return certify(args).await,
        Command::Bench(args) => return Ok(bench(args).await),
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
        Command::Sandbox { data_dir, port_base, bind, code_lifetime, request_uri_lifetime } => {
            let options = fapilab_sandbox::SandboxOptions { data_dir, port_base, bind, code_lifetime, request_uri_lifetime, ..Default::default() };
            let sandbox = fapilab_sandbox::start(options).await?;
            println!("{}", sandbox.summary());
            sandbox.wait().await;
        }
        Command::Certs { command } => certs(command)?,
    }
    Ok(0)
}

/// Code and request_uri lifetimes of the embedded server: the expiry modules wait this long.
const EMBEDDED_CODE_LIFETIME: u64 = 5;
const EMBEDDED_REQUEST_URI_LIFETIME: u64 = 5;

async fn certify(args: CertifyArgs) -> anyhow::Result<i32> {
    use fapilab_conformance::certify::{CertifyOptions, list};
    use fapilab_conformance::plan::{builtin_plans, plans_from_dir};
    if args.list {
        let plans = match &args.scenarios {
            Some(dir) => plans_from_dir(dir)?,
            None => builtin_plans()?,
        };
        println!("{}", list(&plans));
        return Ok(0);
    }
    let mut options = CertifyOptions {
        target: PathBuf::new(),
        plan: args.plan,
        variants: args.variant,
        module: args.module,
        expected_failures: args.expected_failures,
        json: args.json,
        junit: args.junit,
        html: args.html,
        scenarios: args.scenarios,
        concurrency: args.concurrency.max(1),
    };
    if let Some(target) = args.target {
        options.target = target;
        return Ok(fapilab_conformance::certify::certify(options).await);
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("fapilab-certify-{}-{nanos}", std::process::id()));
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
        data_dir: dir.clone(),
        port_base: 0,
        code_lifetime: Some(EMBEDDED_CODE_LIFETIME),
        request_uri_lifetime: Some(EMBEDDED_REQUEST_URI_LIFETIME),
        ..Default::default()
    })
    .await?;
    eprintln!("fapilab certify: embedded reference server at {}", sandbox.server.base_url);
    options.target = sandbox.manifest_path.clone();
    let code = fapilab_conformance::certify::certify(options).await;
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(code)
}

/// Runs `fapilab bench`; the exit code (0 clean, 1 unexpected errors, 2 usage or setup).
async fn bench(args: BenchArgs) -> i32 {
    use std::io::IsTerminal;
    let options = match bench_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fapilab bench: {e}");
            return 2;
        }
    };
    let mut sandbox = None;
    let mut options = options;
    options.progress = std::io::stderr().is_terminal();
    if args.target.is_none() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("fapilab-bench-{}-{nanos}", std::process::id()));
        match fapilab_sandbox::start(fapilab_sandbox::SandboxOptions {
            data_dir: dir.clone(),
            port_base: 0,
            ..Default::default()
        })
        .await
        {
            Ok(s) => {
                eprintln!("fapilab bench: embedded sandbox at {}", s.server.base_url);
                options.target = s.manifest_path.clone();
                sandbox = Some((s, dir));
            }
            Err(e) => {
                eprintln!("fapilab bench: starting the embedded sandbox: {e}");
                return 2;
            }
        }
    }
    let result = fapilab_bench::run(&options).await;
    if let Some((s, dir)) = sandbox {
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fapilab bench: {e}");
            return 2;
        }
    };
    print!("{}", report.render());
    if let Some(path) = &args.json
        && let Err(e) = report.write_json(path)
    {
        eprintln!("fapilab bench: {e}");
        return 2;
    }
    if report.has_unexpected_errors() {
        eprintln!(
            "fapilab bench: {} of {} {}s failed unexpectedly",
            report.failed, report.total, report.unit
        );
        return 1;
    }
    0
}

fn bench_options(
    args: &BenchArgs,
) -> Result<fapilab_bench::BenchOptions, fapilab_bench::BenchError> {
    let load = match (&args.duration, args.requests) {
        (Some(d), _) => fapilab_bench::Load::Duration(fapilab_bench::parse_duration(d)?),
        (None, Some(n)) => fapilab_bench::Load::Requests(n),
        (None, None) => {
            return Err(fapilab_bench::BenchError::Usage(
                "--duration or --requests is required".into(),
            ));
        }
    };
    Ok(fapilab_bench::BenchOptions {
        target: args.target.clone().unwrap_or_default(),
        scenario: args.scenario.parse()?,
        concurrency: args.concurrency.max(1),
        load,
        warmup: args
            .warmup
            .as_deref()
            .map(fapilab_bench::parse_duration)
            .transpose()?
            .unwrap_or_default(),
        client: args.client.clone(),
        signers: args.signers,
        browser_reuse: args.browser_reuse,
        progress: false,
    })
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
