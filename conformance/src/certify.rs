//! `fapilab certify`: load the plans and the target, check the target is reachable, run,
//! report, and turn the outcome into an exit code.
//!
//! Exit codes: 0 — nothing failed unexpectedly; 1 — an unexpected failure, or an
//! expected-failures entry that no longer fails; 2 — bad usage, an unreadable or invalid file,
//! or a target whose discovery document cannot be fetched over TLS.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::expected::ExpectedFailures;
use crate::http::{Http, Request, Via};
use crate::model::RunResult;
use crate::plan::{Plan, builtin_plans, plans_from_dir};
use crate::runner::{DEFAULT_CONCURRENCY, module_matches, schedule};
use crate::scenario::{Applies, Requires};
use crate::target::{Target, Targets};
use crate::scenario::Messages;
use crate::variant::{ClientAuth, OpenId, RequestMethod, ResponseMode, Sender, Variant, VariantAxes, VariantFilter};

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Clone)]
pub struct CertifyOptions {
    /// A target TOML file or a fapilab `sandbox.json` (every workspace: a module runs against
    /// the one its `[requires] profile` names).
    pub target: PathBuf,
    /// Run only this plan (default: every plan).
    pub plan: Option<String>,
    /// A [`VariantFilter`] (default: every variant of each plan).
    pub variants: Option<String>,
    /// Run only modules with this name (`*` wildcards allowed).
    pub module: Option<String>,
    pub expected_failures: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// A folder of scenario files (`DIR/<plan>/*.toml`) run instead of the built-in plans.
    pub scenarios: Option<PathBuf>,
    pub concurrency: usize,
}

impl Default for CertifyOptions {
    fn default() -> Self {
        CertifyOptions {
            target: PathBuf::new(),
            plan: None,
            variants: None,
            module: None,
            expected_failures: None,
            json: None,
            junit: None,
            html: None,
            scenarios: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// The plans in `scenarios` when given (instead of the built-in ones, as `scenarios/README.md`
/// documents), else the built-in plans.
pub fn load_plans(scenarios: Option<&Path>) -> Result<Vec<Plan>, crate::load::LoadError> {
    match scenarios {
        Some(dir) => plans_from_dir(dir),
        None => builtin_plans(),
    }
}

/// Fetches the discovery document over TLS (trusting the target's CA): `Err` with a
/// one-paragraph explanation when it cannot be fetched.
pub async fn check_reachable(target: &Target) -> Result<(), String> {
    let mut http = Http::new(&target.ca_pem);
    http.step = "preflight".to_string();
    let response = http.send(Via::Plain, Request::get(target.discovery_url.clone())).await;
    if let Some(error) = &response.error {
        return Err(format!(
            "cannot fetch the discovery document {} over TLS: {error}\n\
             Is the server running, and does the target file's CA bundle sign its certificate?",
            target.discovery_url
        ));
    }
    match response.status {
        Some(200) => {}
        Some(status) => {
            return Err(format!(
                "the discovery document {} answered HTTP {status}; expected 200 with the server metadata",
                target.discovery_url
            ));
        }
        None => return Err(format!("no response from the discovery document {}", target.discovery_url)),
    }
    if response.json().is_none() {
        return Err(format!("the discovery document {} is not a JSON object", target.discovery_url));
    }
    Ok(())
}

/// The variants of `plans` that `filter` matches (each plan's own axes), without repeats.
pub fn plan_variants(plans: &[Plan], filter: &VariantFilter) -> Vec<Variant> {
    let mut out: Vec<Variant> = Vec::new();
    for plan in plans {
        for v in filter.select(&plan.variants()) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

fn select_plans(all: Vec<Plan>, plan: Option<&str>, module: Option<&str>) -> Result<Vec<Plan>, String> {
    let names: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
    let mut plans: Vec<Plan> = match plan {
        Some(name) => all.into_iter().filter(|p| p.name == name).collect(),
        None => all,
    };
    if plans.is_empty() {
        return Err(match plan {
            Some(name) => format!("unknown plan {name:?}; expected one of: {}", names.join(", ")),
            None => "no plans loaded".to_string(),
        });
    }
    if let Some(filter) = module {
        for p in &mut plans {
            p.modules.retain(|m| module_matches(filter, &m.module));
        }
        plans.retain(|p| !p.modules.is_empty());
        if plans.is_empty() {
            return Err(format!("no module matches {filter:?} (see `fapilab certify --list`)"));
        }
    }
    Ok(plans)
}

/// Runs a certification and returns the process exit code.
pub async fn certify(opts: CertifyOptions) -> i32 {
    let all_plans = match load_plans(opts.scenarios.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let expected = match &opts.expected_failures {
        None => ExpectedFailures::default(),
        Some(path) => match ExpectedFailures::load(path).and_then(|x| x.check_against(&all_plans).map(|()| x)) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let plans = match select_plans(all_plans, opts.plan.as_deref(), opts.module.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let variants = match VariantFilter::parse(opts.variants.as_deref().unwrap_or("")) {
        Ok(filter) => plan_variants(&plans, &filter),
        Err(e) => {
            eprintln!("error: --variants: {e}");
            return EXIT_USAGE;
        }
    };
    let total = schedule(&plans, &variants, None).len();
    if total == 0 {
        eprintln!("error: no selected module applies to the selected variants (see `fapilab certify --list`)");
        return EXIT_USAGE;
    }
    let targets = match Targets::load_any(&opts.target) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // The servers (sandbox workspaces) the scheduled modules run against, each checked once.
    let mut used: Vec<Arc<Target>> = Vec::new();
    for (scenario, _) in schedule(&plans, &variants, None) {
        if let Ok(t) = targets.for_scenario(scenario)
            && !used.iter().any(|u| Arc::ptr_eq(u, &t))
        {
            used.push(t);
        }
    }
    for target in &used {
        if let Err(e) = check_reachable(target).await {
            eprintln!("error: target {} is not reachable: {e}", target.issuer);
            return EXIT_USAGE;
        }
    }

    let started_at = rfc3339(SystemTime::now());
    let started = Instant::now();
    let progress = crate::report::Progress::new(total, std::io::stderr().is_terminal());
    let mut modules = crate::runner::run(Arc::clone(&targets), &plans, &variants, None, opts.concurrency, |r| {
        let mut r = r.clone();
        expected.apply_one(&mut r);
        progress.module_finished(&r);
    })
    .await;
    progress.finish();
    expected.apply(&mut modules);

    let summary = RunResult::summarize(&modules);
    let run = RunResult {
        target: used.iter().map(|t| t.issuer.as_str()).collect::<Vec<_>>().join(", "),
        plans: plans.iter().map(|p| p.name.clone()).collect(),
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        modules,
        summary,
    };
    print!("{}", crate::report::summary_text(&run));

    let mut code = if run.success() { EXIT_OK } else { EXIT_FAILED };
    type Render = fn(&RunResult) -> String;
    let outputs: [(&Option<PathBuf>, Render); 3] =
        [(&opts.json, crate::report::json), (&opts.junit, crate::report::junit), (&opts.html, crate::report::html)];
    for (path, render) in outputs {
        let Some(path) = path else { continue };
        if let Err(e) = std::fs::write(path, render(&run)) {
            eprintln!("error: {}: cannot write: {e}", path.display());
            code = EXIT_USAGE;
        }
    }
    code
}

/// RFC 3339 UTC with second precision, e.g. `2025-01-31T23:59:59Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = fapilab_jose::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn applies_text(a: &Applies, plan: &Plan) -> String {
    fn axis<T: Copy>(name: &str, values: &Option<Vec<T>>, label: fn(T) -> &'static str) -> Option<String> {
        values.as_ref().map(|v| format!("{name}={}", v.iter().map(|x| label(*x)).collect::<Vec<_>>().join("|")))
    }
    let parts: Vec<String> = [
        axis("client_auth", &a.client_auth, ClientAuth::as_str),
        axis("sender", &a.sender, Sender::as_str),
        axis("openid", &a.openid, OpenId::as_str),
        axis("request_method", &a.request_method, RequestMethod::as_str),
        axis("response_mode", &a.response_mode, ResponseMode::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    let count = plan.variants().iter().filter(|v| a.matches(v, &plan.messages)).count();
    if parts.is_empty() { format!("all {count} variants") } else { format!("{} ({count} variants)", parts.join(", ")) }
}

/// The plan's settings for the listing: request method and response mode where its variants do
/// not set them, and the security profile when it is not FAPI 2.0.
fn plan_settings(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if plan.axes.request_method.is_none() {
        parts.push(format!("request method {}", plan.messages.request.as_str()));
    }
    if plan.axes.response_mode.is_none() {
        parts.push(format!("response mode {}", plan.messages.response.as_str()));
    }
    if plan.messages.profile != crate::scenario::SecurityProfile::default() {
        parts.push(format!("security profile {}", plan.messages.profile.as_str()));
    }
    parts.join(", ")
}

/// `[requires]` for the listing, e.g. `profile fdx; registration, fdx`; `None` when empty.
fn requires_text(r: &Requires) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(p) = &r.profile {
        parts.push(format!("profile {p}"));
    }
    if !r.features.is_empty() {
        parts.push(r.features.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `fapilab certify --list`: the plans and their modules (with requirements, the variants each
/// applies to and what it requires of the target), the eight variants, and the step catalog.
pub fn list(plans: &[Plan]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plans:");
    for plan in plans {
        let _ = writeln!(out, "  {}  ({} modules, {} module runs over all variants)", plan.name, plan.modules.len(), plan.runs());
    }
    let _ = writeln!(out, "\nVariants (of a plan without [variants]):");
    for v in Variant::all() {
        let _ = writeln!(out, "  {v}");
    }
    for plan in plans {
        let _ = writeln!(out, "\nPlan {} ({} modules):", plan.name, plan.modules.len());
        if let Some(title) = &plan.title {
            let _ = writeln!(out, "  {title}");
        }
        if plan.axes != VariantAxes::default() {
            let _ = writeln!(out, "  variants: {} ({})", plan.axes.label(), plan.variants().len());
        }
        if plan.messages != Messages::default() {
            let _ = writeln!(out, "  {}", plan_settings(plan));
        }
        if !plan.includes.is_empty() {
            let _ = writeln!(out, "  includes the modules of: {}", plan.includes.join(", "));
        }
        for m in &plan.modules {
            let _ = writeln!(out, "  {}  {}", m.module, m.title);
            let _ = writeln!(out, "      requirements: {}", m.requirements.join(", "));
            let _ = writeln!(out, "      applies: {}", applies_text(&m.applies, plan));
            if let Some(r) = requires_text(&m.requires) {
                let _ = writeln!(out, "      requires: {r}");
            }
        }
    }
    let _ = writeln!(out, "\nSteps:");
    for step in crate::execute::catalog() {
        let _ = writeln!(out, "  {}  {}", step.name, step.summary);
        if !step.params.is_empty() {
            let _ = writeln!(out, "      params: {}", step.params.join(", "));
        }
        if !step.mutations.is_empty() {
            let _ = writeln!(out, "      mutations: {}", step.mutations.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_738_367_999)), "2025-01-31T23:59:59Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_107_542_400)), "2100-03-01T00:00:00Z");
    }

    fn plan(axes: VariantAxes) -> Plan {
        Plan { name: "p".into(), title: None, includes: Vec::new(), messages: Messages::default(), axes, modules: Vec::new() }
    }

    #[test]
    fn describes_applicability() {
        let fapi2 = plan(VariantAxes::default());
        assert_eq!(applies_text(&Applies::default(), &fapi2), "all 8 variants");
        let a = Applies {
            sender: Some(vec![Sender::Dpop]),
            openid: Some(vec![OpenId::OpenidConnect, OpenId::PlainOauth]),
            ..Applies::default()
        };
        assert_eq!(applies_text(&a, &fapi2), "sender=dpop, openid=openid_connect|plain_oauth (4 variants)");
        let fapi1 = plan(VariantAxes {
            sender: vec![Sender::Mtls],
            openid: vec![OpenId::OpenidConnect],
            request_method: Some(vec![RequestMethod::ByValue, RequestMethod::Signed]),
            response_mode: Some(vec![ResponseMode::Hybrid, ResponseMode::Jarm]),
            ..VariantAxes::default()
        });
        assert_eq!(applies_text(&Applies::default(), &fapi1), "all 8 variants");
        let a = Applies { request_method: Some(vec![RequestMethod::Signed]), ..Applies::default() };
        assert_eq!(applies_text(&a, &fapi1), "request_method=signed (4 variants)");
        let picked = plan_variants(&[fapi2, fapi1], &VariantFilter::parse("client_auth=mtls").expect("filter"));
        assert_eq!(picked.len(), 8, "four of each plan");
    }

    #[test]
    fn describes_requirements_on_the_target() {
        use crate::scenario::Feature;
        assert_eq!(requires_text(&Requires::default()), None);
        let r = Requires { profile: Some("fdx".into()), features: vec![Feature::Registration, Feature::Fdx] };
        assert_eq!(requires_text(&r).as_deref(), Some("profile fdx; registration, fdx"));
    }
}
