//! One benchmark: load the target, pick the client, prepare (discovery, tokens, credentials),
//! optionally warm up, then run the workers and build the report.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fapilab_conformance::conditions::errors::FrontOutcome;
use fapilab_conformance::http::Http;
use fapilab_conformance::target::{Login, Target, TargetClient};
use fapilab_conformance::variant::{ClientAuth, Sender};
use fapilab_jose::{Algorithm, SigningKey};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::report::{Outcome, ReportHeader, Signing, Stats};
use crate::sign::{Bundle, CallSpec, Creds, Signer, Source, presign, start_pool};
use crate::{BenchError, Report, format_duration};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TIMEOUT: Duration = Duration::from_secs(30);
/// Tokens obtained for `introspection` at most.
const MAX_INTROSPECTION_TOKENS: u64 = 2000;

/// What each unit of work does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// GET the discovery document.
    Discovery,
    /// POST the token endpoint, `grant_type=client_credentials`, the target's resource scope.
    ClientCredentials,
    /// POST a pushed authorization request with PKCE.
    Par,
    /// A complete authorization: PAR, the login and consent pages, the token request.
    CodeFlow,
    /// POST the introspection endpoint with one of the tokens obtained beforehand.
    Introspection,
    /// GET the resource URL with a token obtained beforehand.
    Resource,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Discovery,
        Scenario::ClientCredentials,
        Scenario::Par,
        Scenario::CodeFlow,
        Scenario::Introspection,
        Scenario::Resource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Discovery => "discovery",
            Scenario::ClientCredentials => "client-credentials",
            Scenario::Par => "par",
            Scenario::CodeFlow => "code-flow",
            Scenario::Introspection => "introspection",
            Scenario::Resource => "resource",
        }
    }
}

impl FromStr for Scenario {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Scenario, BenchError> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|x| x.as_str()).collect();
                BenchError::Usage(format!(
                    "unknown scenario {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Exactly this many units, credentials pre-signed.
    Requests(u64),
    /// As many as fit, credentials from a signer pool.
    Duration(Duration),
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A target file (TOML) or a sandbox manifest (`sandbox.json`).
    pub target: PathBuf,
    pub scenario: Scenario,
    /// Concurrent workers, each with its own connection pool.
    pub concurrency: usize,
    pub load: Load,
    /// The same load for this long before measuring; those samples are discarded.
    pub warmup: Duration,
    /// The client to act as (default: a `private_key_jwt` + DPoP client).
    pub client: Option<String>,
    /// Signer threads (default: the number of CPUs).
    pub signers: Option<usize>,
    /// `code-flow`: authorizations per browser (cookie jar, login session) before the worker
    /// opens a fresh one; `None`: one browser per worker for the whole run.
    pub browser_reuse: Option<u64>,
    /// Redraw a progress line on stderr.
    pub progress: bool,
}

struct Endpoints {
    discovery: String,
    token: String,
    par: String,
    introspection: String,
    authorization: String,
    resource: String,
}

struct AccessToken {
    value: String,
    scheme: &'static str,
}

/// What every worker shares.
struct Ctx {
    scenario: Scenario,
    client: TargetClient,
    ep: Endpoints,
    scope: String,
    login: Login,
    ca_pem: Vec<u8>,
    browser_reuse: Option<u64>,
    token: Option<AccessToken>,
    tokens: Vec<String>,
    next_token: AtomicUsize,
}

struct Worker {
    http: reqwest::Client,
    browser: Option<Http>,
    /// Authorizations the current browser has done.
    browser_flows: u64,
    stats: Stats,
}

/// Live counters for the progress line.
#[derive(Default)]
struct Live {
    done: AtomicU64,
    failed: AtomicU64,
}

/// Runs one benchmark (see the crate documentation). Failed requests are in the report;
/// an `Err` means the run could not start (bad target, unreachable server, failed setup).
pub async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let concurrency = opts.concurrency.max(1);
    if let Load::Duration(d) = opts.load
        && d.is_zero()
    {
        return Err(BenchError::Usage("--duration must be more than 0".into()));
    }
    if opts.load == Load::Requests(0) {
        return Err(BenchError::Usage("--requests must be at least 1".into()));
    }
    let target = Target::load_any(&opts.target)?;
    let client = pick_client(&target, opts.client.as_deref())?.clone();
    if opts.scenario == Scenario::CodeFlow && matches!(target.login, Login::Manual) {
        return Err(BenchError::Usage(
            "code-flow needs a scripted login (login mode \"form\"), not manual".into(),
        ));
    }
    let pkjwt = client.auth == ClientAuth::PrivateKeyJwt;
    let dpop = client.sender == Sender::Dpop;
    let client_key = if pkjwt {
        Some(Arc::new(
            fapilab_conformance::context::client_signing_key(&client).map_err(BenchError::Setup)?,
        ))
    } else {
        None
    };
    let dpop_key = if dpop {
        Some(Arc::new(
            SigningKey::generate(Algorithm::Es256, None)
                .map_err(|e| BenchError::Setup(format!("DPoP key: {e}")))?,
        ))
    } else {
        None
    };

    // Setup: discovery, then the tokens some scenarios need.
    let setup_http = http_client(&target.ca_pem, &client)?;
    let ep = discover(&setup_http, &target, &client).await?;
    let mut ctx = Ctx {
        scenario: opts.scenario,
        client: client.clone(),
        ep,
        scope: target.scope_plain.clone(),
        login: target.login.clone(),
        ca_pem: target.ca_pem.clone(),
        browser_reuse: opts.browser_reuse.filter(|n| *n > 0),
        token: None,
        tokens: Vec::new(),
        next_token: AtomicUsize::new(0),
    };
    let token_signer = Signer {
        client_id: client.client_id.clone(),
        issuer: target.issuer.clone(),
        client_key: client_key.clone(),
        dpop_key: dpop_key.clone(),
        calls: vec![CallSpec {
            htm: "POST",
            htu: ctx.ep.token.clone(),
            assertion: pkjwt,
            proof: dpop,
            access_token: None,
        }],
    };
    match opts.scenario {
        Scenario::Resource => {
            ctx.token = Some(obtain_token(&ctx, &setup_http, &token_signer).await?)
        }
        Scenario::Introspection => {
            let count = match opts.load {
                Load::Requests(n) => n.min(MAX_INTROSPECTION_TOKENS),
                Load::Duration(_) => (concurrency as u64 * 8).clamp(16, MAX_INTROSPECTION_TOKENS),
            };
            for _ in 0..count {
                ctx.tokens
                    .push(obtain_token(&ctx, &setup_http, &token_signer).await?.value);
            }
        }
        _ => {}
    }

    let signer = Arc::new(Signer {
        client_id: client.client_id.clone(),
        issuer: target.issuer.clone(),
        client_key,
        dpop_key,
        calls: calls(&ctx, pkjwt, dpop),
    });
    let ctx = Arc::new(ctx);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let browser = (opts.scenario == Scenario::CodeFlow).then(|| Http::new(&target.ca_pem));
        workers.push(Worker {
            http: http_client(&target.ca_pem, &client)?,
            browser,
            browser_flows: 0,
            stats: Stats::new()?,
        });
    }
    let threads = opts
        .signers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let signatures = signer.signatures();
    let live = Arc::new(Live::default());
    let header = ReportHeader {
        scenario: opts.scenario.as_str().into(),
        issuer: target.issuer.clone(),
        client_id: Some(client.client_id.clone()),
        unit: if opts.scenario == Scenario::CodeFlow {
            "authorization".into()
        } else {
            "request".into()
        },
        concurrency,
        load: match opts.load {
            Load::Requests(n) => format!("requests={n}"),
            Load::Duration(d) => format!("duration={}", format_duration(d)),
        },
        warmup_seconds: opts.warmup.as_secs_f64(),
    };

    let (stats, elapsed, signing) = match opts.load {
        Load::Requests(n) => {
            let mut discarded = 0;
            if !opts.warmup.is_zero() {
                // Warm-up: the same load from a signer pool, for the warm-up time.
                let (source, pool, start) =
                    pool_source(&signer, signatures, threads, concurrency, opts.warmup).await;
                let progress = progress_task(opts, "warm-up", live.clone(), start);
                workers = run_phase(
                    workers,
                    &ctx,
                    &source,
                    Some(start + opts.warmup),
                    None,
                    &live,
                )
                .await?;
                stop_progress(progress).await;
                drop(source);
                if let Some(pool) = pool {
                    pool.finish()?;
                }
                for w in &mut workers {
                    discarded += w.stats.total();
                    w.stats = w.stats.fresh();
                }
            }
            let (items, took) = presign(&signer, n, threads)?;
            let source = Arc::new(Source::Presigned {
                items,
                next: AtomicUsize::new(0),
            });
            live.done.store(0, Ordering::Relaxed);
            live.failed.store(0, Ordering::Relaxed);
            let start = Instant::now();
            let progress = progress_task(opts, "run", live.clone(), start);
            workers = run_phase(workers, &ctx, &source, None, None, &live).await?;
            let elapsed = start.elapsed();
            stop_progress(progress).await;
            let mut stats = merge(&workers)?;
            stats.discarded = discarded;
            let secs = took.as_secs_f64();
            let signing = Signing {
                mode: if signatures == 0 {
                    "none".into()
                } else {
                    "presigned".into()
                },
                signatures_per_unit: signatures,
                units_signed: if signatures == 0 { 0 } else { n },
                seconds: round3(secs),
                units_per_second: if signatures > 0 && secs > 0.0 {
                    (n as f64 / secs).round()
                } else {
                    0.0
                },
                signer_threads: if signatures == 0 { 0 } else { threads },
                starved_waits: 0,
                starved_seconds: 0.0,
            };
            (stats, elapsed, signing)
        }
        Load::Duration(d) => {
            let (source, pool, start) =
                pool_source(&signer, signatures, threads, concurrency, opts.warmup).await;
            let measure_from = start + opts.warmup;
            let progress = progress_task(opts, "run", live.clone(), start);
            workers = run_phase(
                workers,
                &ctx,
                &source,
                Some(measure_from + d),
                Some(measure_from),
                &live,
            )
            .await?;
            let elapsed = Instant::now().saturating_duration_since(measure_from);
            stop_progress(progress).await;
            let (waits, waited) = source.starvation();
            drop(source);
            let signing = match pool {
                Some(pool) => {
                    let threads = pool.threads;
                    let r = pool.finish()?;
                    let secs = r.busy.as_secs_f64();
                    Signing {
                        mode: "pool".into(),
                        signatures_per_unit: signatures,
                        units_signed: r.units,
                        seconds: round3(secs),
                        units_per_second: if secs > 0.0 {
                            (r.units as f64 / secs * threads as f64).round()
                        } else {
                            0.0
                        },
                        signer_threads: threads,
                        starved_waits: waits,
                        starved_seconds: round3(waited.as_secs_f64()),
                    }
                }
                None => none_signing(),
            };
            (merge(&workers)?, elapsed, signing)
        }
    };
    Ok(Report::from_stats(header, &stats, elapsed, signing))
}

fn none_signing() -> Signing {
    Signing {
        mode: "none".into(),
        signatures_per_unit: 0,
        units_signed: 0,
        seconds: 0.0,
        units_per_second: 0.0,
        signer_threads: 0,
        starved_waits: 0,
        starved_seconds: 0.0,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A pool-fed source (or an endless one when nothing needs signing), and the instant the
/// phase starts: the pool first fills the queue with a few rounds for every worker, so the
/// clock starts with credentials ready. Starvation counts from `start + warmup`.
async fn pool_source(
    signer: &Arc<Signer>,
    signatures: u32,
    threads: usize,
    concurrency: usize,
    warmup: Duration,
) -> (Arc<Source>, Option<crate::sign::Pool>, Instant) {
    if signatures == 0 {
        return (Arc::new(Source::Unlimited), None, Instant::now());
    }
    let capacity = (concurrency * 64).max(256);
    let (pool, rx) = start_pool(signer.clone(), threads, capacity);
    let ready = (concurrency * 8).min(capacity);
    let filling = Instant::now();
    while rx.len() < ready && filling.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let start = Instant::now();
    (
        Arc::new(Source::pool(rx, start + warmup)),
        Some(pool),
        start,
    )
}

fn merge(workers: &[Worker]) -> Result<Stats, BenchError> {
    let mut all = Stats::new()?;
    for w in workers {
        all.merge(&w.stats);
    }
    Ok(all)
}

/// Runs every worker (one task each) until the source is empty or `deadline`; units that
/// start before `measure_from` are discarded (counted in `discarded`).
async fn run_phase(
    workers: Vec<Worker>,
    ctx: &Arc<Ctx>,
    source: &Arc<Source>,
    deadline: Option<Instant>,
    measure_from: Option<Instant>,
    live: &Arc<Live>,
) -> Result<Vec<Worker>, BenchError> {
    let handles: Vec<_> = workers
        .into_iter()
        .map(|w| {
            tokio::spawn(worker(
                w,
                ctx.clone(),
                source.clone(),
                deadline,
                measure_from,
                live.clone(),
            ))
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await
                .map_err(|e| BenchError::Setup(format!("a worker failed: {e}")))?,
        );
    }
    Ok(out)
}

async fn worker(
    mut w: Worker,
    ctx: Arc<Ctx>,
    source: Arc<Source>,
    deadline: Option<Instant>,
    measure_from: Option<Instant>,
    live: Arc<Live>,
) -> Worker {
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(bundle) = source.next().await else {
            break;
        };
        let started = Instant::now();
        let (outcome, requests) = unit(&ctx, &mut w, &bundle).await;
        let latency = started.elapsed();
        if measure_from.is_some_and(|m| started < m) {
            w.stats.discarded += 1;
        } else {
            w.stats.record(latency, &outcome, requests);
        }
        live.done.fetch_add(1, Ordering::Relaxed);
        if !outcome.is_ok() {
            live.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    w
}

// ---- the progress line ------------------------------------------------------------------------

struct Progress {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

fn progress_task(
    opts: &BenchOptions,
    phase: &'static str,
    live: Arc<Live>,
    start: Instant,
) -> Option<Progress> {
    if !opts.progress {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let scenario = opts.scenario.as_str();
    let handle = tokio::spawn(async move {
        let mut last = (Instant::now(), 0u64);
        while !flag.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let done = live.done.load(Ordering::Relaxed);
            let now = Instant::now();
            let dt = now.duration_since(last.0).as_secs_f64();
            let rate = if dt > 0.0 {
                (done - last.1) as f64 / dt
            } else {
                0.0
            };
            last = (now, done);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K{scenario} {phase} {:>6.1}s  {done} done  {rate:.0}/s  {} failed",
                start.elapsed().as_secs_f64(),
                live.failed.load(Ordering::Relaxed)
            );
            let _ = err.flush();
        }
    });
    Some(Progress { stop, handle })
}

async fn stop_progress(p: Option<Progress>) {
    if let Some(p) = p {
        p.stop.store(true, Ordering::Relaxed);
        let _ = p.handle.await;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

// ---- setup ----------------------------------------------------------------------------------

/// `--client ID`, or the first `private_key_jwt` + DPoP client.
fn pick_client<'a>(
    target: &'a Target,
    wanted: Option<&str>,
) -> Result<&'a TargetClient, BenchError> {
    let ids = || {
        target
            .clients
            .iter()
            .map(|c| c.client_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(id) => target
            .clients
            .iter()
            .find(|c| c.client_id == id)
            .ok_or_else(|| {
                BenchError::Usage(format!("the target has no client {id:?}; it has {}", ids()))
            }),
        None => {
            let mut candidates: Vec<&TargetClient> = target
                .clients
                .iter()
                .filter(|c| c.auth == ClientAuth::PrivateKeyJwt && c.sender == Sender::Dpop)
                .collect();
            candidates.sort_by_key(|c| c.index);
            candidates.first().copied().ok_or_else(|| {
                BenchError::Usage(format!("the target has no private_key_jwt + DPoP client; choose one with --client ({})", ids()))
            })
        }
    }
}

/// One client for one worker: the target's CA only, no redirects, keep-alive, and the
/// client's certificate when it uses mTLS.
fn http_client(ca_pem: &[u8], client: &TargetClient) -> Result<reqwest::Client, BenchError> {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem)
        .map_err(|e| BenchError::Setup(format!("the target's CA bundle: {e}")))?;
    let mut b = reqwest::Client::builder()
        .tls_certs_only(certs)
        .redirect(Policy::none())
        .timeout(TIMEOUT)
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(4)
        .pool_idle_timeout(Duration::from_secs(90));
    if client.uses_mtls() {
        let (Some(cert), Some(key)) = (&client.cert_pem, &client.key_pem) else {
            return Err(BenchError::Setup(format!(
                "client {} uses mTLS but has no certificate and key",
                client.client_id
            )));
        };
        let identity =
            reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes()).map_err(|e| {
                BenchError::Setup(format!(
                    "client {} certificate or key: {e}",
                    client.client_id
                ))
            })?;
        b = b.identity(identity);
    }
    b.build()
        .map_err(|e| BenchError::Setup(format!("building the HTTP client: {e}")))
}

async fn discover(
    http: &reqwest::Client,
    target: &Target,
    client: &TargetClient,
) -> Result<Endpoints, BenchError> {
    let fail = |m: String| BenchError::Setup(format!("discovery {}: {m}", target.discovery_url));
    let resp = http.get(&target.discovery_url).send().await.map_err(|e| {
        fail(Outcome::from_transport(&e).key().unwrap_or_default() + &format!(": {e}"))
    })?;
    let status = resp.status().as_u16();
    let doc: Value = resp
        .json()
        .await
        .map_err(|e| fail(format!("HTTP {status}, not JSON: {e}")))?;
    if status != 200 {
        return Err(fail(format!("HTTP {status}")));
    }
    let plain = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    let for_client = |name: &str| {
        let alias = doc
            .get("mtls_endpoint_aliases")
            .and_then(|a| a.get(name))
            .and_then(Value::as_str);
        match alias {
            Some(a) if client.uses_mtls() => Some(a.to_owned()),
            _ => plain(name),
        }
    };
    Ok(Endpoints {
        discovery: target.discovery_url.clone(),
        token: for_client("token_endpoint").unwrap_or_default(),
        par: for_client("pushed_authorization_request_endpoint").unwrap_or_default(),
        introspection: for_client("introspection_endpoint").unwrap_or_default(),
        authorization: plain("authorization_endpoint").unwrap_or_default(),
        resource: target.resource_url.clone(),
    })
}

/// What each unit signs.
fn calls(ctx: &Ctx, pkjwt: bool, dpop: bool) -> Vec<CallSpec> {
    let post = |url: &str, proof: bool| CallSpec {
        htm: "POST",
        htu: url.to_owned(),
        assertion: pkjwt,
        proof,
        access_token: None,
    };
    match ctx.scenario {
        Scenario::Discovery => Vec::new(),
        Scenario::ClientCredentials => vec![post(&ctx.ep.token, dpop)],
        Scenario::Par => vec![post(&ctx.ep.par, dpop)],
        Scenario::Introspection => vec![post(&ctx.ep.introspection, false)],
        Scenario::CodeFlow => vec![post(&ctx.ep.par, dpop), post(&ctx.ep.token, dpop)],
        Scenario::Resource => vec![CallSpec {
            htm: "GET",
            htu: ctx
                .ep
                .resource
                .split(['?', '#'])
                .next()
                .unwrap_or(&ctx.ep.resource)
                .to_owned(),
            assertion: false,
            proof: dpop && ctx.token.as_ref().is_some_and(|t| t.scheme == "DPoP"),
            access_token: ctx.token.as_ref().map(|t| t.value.clone()),
        }],
    }
}

/// A client-credentials token (setup; signed inline, not measured).
async fn obtain_token(
    ctx: &Ctx,
    http: &reqwest::Client,
    signer: &Signer,
) -> Result<AccessToken, BenchError> {
    if ctx.ep.token.is_empty() {
        return Err(BenchError::Setup(
            "the metadata has no token_endpoint".into(),
        ));
    }
    let bundle = signer.sign()?;
    let creds = bundle.first().cloned().unwrap_or_default();
    let mut form = auth_form(ctx, &creds);
    form.push(("grant_type", "client_credentials"));
    form.push(("scope", &ctx.scope));
    let (status, body) = post(http, &ctx.ep.token, &form, creds.proof.as_deref())
        .await
        .map_err(|o| {
            BenchError::Setup(format!(
                "obtaining a token: {}",
                o.key().unwrap_or_default()
            ))
        })?;
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let value = v.get("access_token").and_then(Value::as_str);
    match (status, value) {
        (200, Some(t)) => {
            let dpop = v
                .get("token_type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("dpop"));
            Ok(AccessToken {
                value: t.to_owned(),
                scheme: if dpop { "DPoP" } else { "Bearer" },
            })
        }
        _ => Err(BenchError::Setup(format!(
            "obtaining a token (client_credentials): HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        ))),
    }
}

// ---- the units ------------------------------------------------------------------------------

fn auth_form<'a>(ctx: &'a Ctx, creds: &'a Creds) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("client_id", ctx.client.client_id.as_str())];
    if let Some(a) = &creds.assertion {
        form.push(("client_assertion_type", ASSERTION_TYPE));
        form.push(("client_assertion", a));
    }
    form
}

/// Sends and reads the whole answer: `(status, body)`, or the transport error.
async fn send(rb: reqwest::RequestBuilder) -> Result<(u16, String), Outcome> {
    let resp = rb.send().await.map_err(|e| Outcome::from_transport(&e))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(|e| Outcome::from_transport(&e))?;
    Ok((status, body))
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Result<(u16, String), Outcome> {
    let mut rb = http.post(url).form(form);
    if let Some(p) = proof {
        rb = rb.header("DPoP", p);
    }
    send(rb).await
}

/// 2xx → the body; anything else → the classified outcome.
fn expect_2xx(r: Result<(u16, String), Outcome>) -> Result<String, Outcome> {
    let (status, body) = r?;
    match Outcome::from_response(status, &body) {
        Outcome::Ok => Ok(body),
        other => Err(other),
    }
}

/// One unit: its outcome and how many HTTP requests it sent.
async fn unit(ctx: &Ctx, w: &mut Worker, bundle: &Bundle) -> (Outcome, u32) {
    let creds = |i: usize| bundle.get(i).cloned().unwrap_or_default();
    let result = match ctx.scenario {
        Scenario::Discovery => expect_2xx(send(w.http.get(&ctx.ep.discovery)).await).map(|_| 1),
        Scenario::ClientCredentials => {
            let c = creds(0);
            let mut form = auth_form(ctx, &c);
            form.push(("grant_type", "client_credentials"));
            form.push(("scope", &ctx.scope));
            expect_2xx(post(&w.http, &ctx.ep.token, &form, c.proof.as_deref()).await).map(|_| 1)
        }
        Scenario::Par => par(ctx, w, &creds(0)).await.map(|_| 1),
        Scenario::Introspection => {
            let c = creds(0);
            let i = ctx.next_token.fetch_add(1, Ordering::Relaxed);
            let token = ctx
                .tokens
                .get(i % ctx.tokens.len().max(1))
                .map(String::as_str)
                .unwrap_or_default();
            let mut form = auth_form(ctx, &c);
            form.push(("token", token));
            match expect_2xx(post(&w.http, &ctx.ep.introspection, &form, None).await) {
                Ok(body) => {
                    let active = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("active").and_then(Value::as_bool));
                    if active == Some(true) {
                        Ok(1)
                    } else {
                        Err(Outcome::flow(
                            "inactive token",
                            body.chars().take(300).collect::<String>(),
                        ))
                    }
                }
                Err(o) => Err(o),
            }
        }
        Scenario::Resource => {
            let c = creds(0);
            let Some(t) = &ctx.token else {
                return (Outcome::flow("no token", "setup obtained no token"), 0);
            };
            let mut rb = w
                .http
                .get(&ctx.ep.resource)
                .header("Authorization", format!("{} {}", t.scheme, t.value));
            if let Some(p) = &c.proof {
                rb = rb.header("DPoP", p.as_str());
            }
            expect_2xx(send(rb).await).map(|_| 1)
        }
        Scenario::CodeFlow => code_flow(ctx, w, &creds(0), &creds(1)).await,
    };
    match result {
        Ok(n) => (Outcome::Ok, n),
        Err(o) => (o, 1),
    }
}

struct Pushed {
    request_uri: String,
    state: String,
    code_verifier: String,
}

async fn par(ctx: &Ctx, w: &Worker, c: &Creds) -> Result<Pushed, Outcome> {
    let state = fapilab_jose::random_token(16);
    let code_verifier = fapilab_jose::random_token(32);
    let challenge = fapilab_jose::sha256_b64url(code_verifier.as_bytes());
    let mut form = auth_form(ctx, c);
    form.extend([
        ("response_type", "code"),
        ("redirect_uri", ctx.client.redirect_uri.as_str()),
        ("scope", ctx.scope.as_str()),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let body = expect_2xx(post(&w.http, &ctx.ep.par, &form, c.proof.as_deref()).await)?;
    let request_uri = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("request_uri")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| {
            Outcome::flow("no request_uri", body.chars().take(300).collect::<String>())
        })?;
    Ok(Pushed {
        request_uri,
        state,
        code_verifier,
    })
}

/// PAR → authorization (login and consent, scripted) → token. Returns the HTTP requests sent.
async fn code_flow(
    ctx: &Ctx,
    w: &mut Worker,
    par_creds: &Creds,
    token_creds: &Creds,
) -> Result<u32, Outcome> {
    let pushed = par(ctx, w, par_creds).await?;
    if ctx.browser_reuse.is_some_and(|n| w.browser_flows >= n) {
        // A new user: empty cookie jar, new connections, a fresh login.
        w.browser = Some(Http::new(&ctx.ca_pem));
        w.browser_flows = 0;
    }
    w.browser_flows += 1;
    let url = reqwest::Url::parse_with_params(
        &ctx.ep.authorization,
        &[
            ("client_id", ctx.client.client_id.as_str()),
            ("request_uri", pushed.request_uri.as_str()),
        ],
    )
    .map_err(|e| Outcome::flow("bad authorization_endpoint", e.to_string()))?;
    let Some(browser) = w.browser.as_mut() else {
        return Err(Outcome::flow("no browser", ""));
    };
    let result = fapilab_conformance::login::run(browser, &ctx.login, url.as_str(), true).await;
    let front = u32::try_from(result.evidence.len()).unwrap_or(u32::MAX);
    // The recorded exchanges are for reports; a load run keeps none.
    browser.exchanges.clear();
    let callback = match result.outcome {
        FrontOutcome::Redirect { url, .. } => url,
        FrontOutcome::ErrorPage { status, error } => {
            return Err(match status {
                0 => Outcome::flow("authorization page", error.unwrap_or_default()),
                s => Outcome::Http {
                    status: s,
                    error,
                    detail: "the authorization pages ended on an error page".into(),
                },
            });
        }
        other => return Err(Outcome::flow("login script stuck", format!("{other:?}"))),
    };
    let params: HashMap<String, String> = reqwest::Url::parse(&callback)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(e) = params.get("error") {
        return Err(Outcome::flow(
            &format!("authorization error={e}"),
            params.get("error_description").cloned().unwrap_or_default(),
        ));
    }
    if params.get("state") != Some(&pushed.state) {
        return Err(Outcome::flow("state mismatch", callback));
    }
    let Some(code) = params.get("code") else {
        return Err(Outcome::flow("no code", callback));
    };
    let mut form = auth_form(ctx, token_creds);
    form.extend([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", ctx.client.redirect_uri.as_str()),
        ("code_verifier", pushed.code_verifier.as_str()),
    ]);
    expect_2xx(post(&w.http, &ctx.ep.token, &form, token_creds.proof.as_deref()).await)?;
    Ok(2 + front)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.as_str().parse::<Scenario>().unwrap(), s);
        }
        let err = "login".parse::<Scenario>().unwrap_err().to_string();
        assert!(
            err.contains("code-flow") && err.contains("resource"),
            "{err}"
        );
    }
}
