//! Runs every (plan, module, variant) that applies, concurrently.
//!
//! Modules that do not apply to a variant are not scheduled at all (`fapilab certify --list`
//! shows applicability). The others run as tokio tasks bounded by a semaphore, except modules
//! with a `wait` step: they are idle most of their run (waiting for a code or request_uri to
//! expire), so they start first and hold no permit — the run then takes about the longest
//! wait, not the sum of the waits. A module that panics or exceeds [`MODULE_TIMEOUT`] is
//! recorded as FAILED with a `harness.*` condition instead of aborting the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::model::{Condition, ModuleResult, Severity, Verdict};
use crate::plan::Plan;
use crate::scenario::Scenario;
use crate::target::Targets;
use crate::variant::Variant;

/// The default bound on modules running at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// A module that takes longer than this is stopped and FAILED.
pub const MODULE_TIMEOUT: Duration = Duration::from_secs(600);

/// The step whose modules are scheduled first and outside the concurrency bound.
const WAIT_STEP: &str = "wait";

/// Matches a module name against a filter: the exact name, or a pattern with `*` wildcards.
pub fn module_matches(filter: &str, module: &str) -> bool {
    if !filter.contains('*') {
        return filter == module;
    }
    let parts: Vec<&str> = filter.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return false,
    };
    let Some(mut remaining) = module.strip_prefix(first) else { return false };
    let (last, middle) = match rest.split_last() {
        Some(x) => x,
        None => return remaining.is_empty(),
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// Every (module, variant) to run, in (plan, module file, variant) order: the variants of
/// `variants` that are the plan's own ([`Plan::variants`]) and that the module applies to.
pub fn schedule<'a>(
    plans: &'a [Plan],
    variants: &[Variant],
    module_filter: Option<&str>,
) -> Vec<(&'a Scenario, Variant)> {
    let mut jobs = Vec::new();
    for plan in plans {
        let own = plan.variants();
        for scenario in &plan.modules {
            if module_filter.is_some_and(|f| !module_matches(f, &scenario.module)) {
                continue;
            }
            for v in variants {
                if own.contains(v) && scenario.applies_to(v) {
                    jobs.push((scenario, *v));
                }
            }
        }
    }
    jobs
}

fn waits(scenario: &Scenario) -> bool {
    scenario.steps.iter().any(|s| s.step == WAIT_STEP)
}

/// A FAILED result for a module the harness could not finish (panic, timeout).
pub fn harness_failure(
    scenario: &Scenario,
    variant: Variant,
    id: &str,
    summary: &str,
    observed: String,
    duration_ms: u64,
) -> ModuleResult {
    let conditions = vec![Condition {
        id: id.to_string(),
        requirements: Vec::new(),
        severity: Severity::Failure,
        passed: false,
        summary: summary.to_string(),
        expected: "the module runs to completion".to_string(),
        observed,
        hint: None,
        evidence: Vec::new(),
    }];
    ModuleResult {
        plan: scenario.plan.clone(),
        module: scenario.module.clone(),
        title: scenario.title.clone(),
        variant,
        requirements: scenario.requirements.clone(),
        verdict: Verdict::Failed,
        conditions,
        exchanges: Vec::new(),
        duration_ms,
        expected_failures: Vec::new(),
        unmet_expectations: Vec::new(),
    }
}

fn sort_key(r: &ModuleResult) -> (&str, &str, Variant) {
    (r.plan.as_str(), r.module.as_str(), r.variant)
}

/// Runs every applicable (plan, module, variant), at most `concurrency` at once (modules with
/// a `wait` step excepted, see the module documentation), each against the target its
/// `[requires] profile` picks (SKIPPED when there is none), calling `on_finished` as each
/// ends. Results are sorted by (plan, module, variant).
pub async fn run(
    targets: Arc<Targets>,
    plans: &[Plan],
    variants: &[Variant],
    module_filter: Option<&str>,
    concurrency: usize,
    on_finished: impl Fn(&ModuleResult) + Send + Sync,
) -> Vec<ModuleResult> {
    let mut jobs: Vec<(Arc<Scenario>, Variant)> =
        schedule(plans, variants, module_filter).into_iter().map(|(s, v)| (Arc::new(s.clone()), v)).collect();
    // Waiting modules first (stable, so the order is otherwise kept).
    jobs.sort_by_key(|(s, _)| !waits(s));

    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks: JoinSet<ModuleResult> = JoinSet::new();
    let mut by_task: HashMap<tokio::task::Id, (Arc<Scenario>, Variant, Instant)> = HashMap::new();
    for (scenario, variant) in jobs {
        let bounded = !waits(&scenario);
        let permits = Arc::clone(&permits);
        let target = targets.for_scenario(&scenario);
        let task_scenario = Arc::clone(&scenario);
        let handle = tasks.spawn(async move {
            let target = match target {
                Ok(t) => t,
                Err(reason) => return crate::execute::skipped(&task_scenario, variant, reason),
            };
            let _permit = if bounded { permits.acquire_owned().await.ok() } else { None };
            let started = Instant::now();
            match tokio::time::timeout(MODULE_TIMEOUT, crate::execute::execute(target, &task_scenario, variant)).await {
                Ok(result) => result,
                Err(_) => harness_failure(
                    &task_scenario,
                    variant,
                    "harness.timeout",
                    "The module finished within the harness's time limit",
                    format!("still running after {} s", MODULE_TIMEOUT.as_secs()),
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                ),
            }
        });
        by_task.insert(handle.id(), (scenario, variant, Instant::now()));
    }

    let mut results = Vec::with_capacity(by_task.len());
    while let Some(joined) = tasks.join_next_with_id().await {
        let result = match joined {
            Ok((_, result)) => result,
            Err(e) => {
                let Some((scenario, variant, queued)) = by_task.get(&e.id()) else { continue };
                let what = if e.is_panic() { "panicked" } else { "was cancelled" };
                tracing::error!(module = %scenario.module, %variant, "module {what}");
                harness_failure(
                    scenario,
                    *variant,
                    "harness.module_crashed",
                    "The module ran without crashing the harness",
                    format!("the module {what}: {e}"),
                    u64::try_from(queued.elapsed().as_millis()).unwrap_or(u64::MAX),
                )
            }
        };
        on_finished(&result);
        results.push(result);
    }
    results.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_filter_patterns() {
        assert!(module_matches("happy-flow", "happy-flow"));
        assert!(!module_matches("happy", "happy-flow"));
        assert!(module_matches("happy*", "happy-flow"));
        assert!(module_matches("*flow", "happy-flow"));
        assert!(module_matches("par-*-aud-*", "par-assertion-aud-array"));
        assert!(!module_matches("par-*-aud-*", "pkce-required"));
        assert!(module_matches("*", "anything"));
        assert!(!module_matches("a*a", "a"));
    }
}
