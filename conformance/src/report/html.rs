//! One self-contained HTML page: no external resources, no script, readable offline.
//!
//! Header (target, date, duration, counts) → per plan a table of modules × variants with
//! verdict badges → a section for every module that failed, warned or has stale expectations,
//! with each failed condition and, under it, its evidence exchanges in `<details>`.
//!
//! Every piece of text is escaped (response bodies come from the server under test), nothing
//! from the run becomes a link target, and a Content-Security-Policy forbids scripts and any
//! external load even if something slipped through.

use std::fmt::Write as _;

use super::{
    esc, esc_attr, failed_conditions, human_duration, is_expected_failure, plans_in_order, plural, requirement_list,
};
use crate::model::{Condition, Exchange, ModuleResult, RunResult, Severity, Verdict};
use crate::variant::Variant;

const STYLE: &str = r#"
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #5c6670; --line: #d0d7de; --code: #f6f8fa;
  --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --skip: #6e7781; --xfail: #8250df; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d;
  --code: #161b22; --pass: #3fb950; --fail: #f85149; --warn: #d29922; --skip: #8b949e; --xfail: #a371f7; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 3rem; font: 15px/1.45 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 1.5rem; margin: .5rem 0; } h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; } h4 { margin: 1rem 0 .3rem; font-size: .95rem; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 4px; padding: .5rem .7rem;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: .3rem 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 3px; font-size: .8rem; font-weight: 600;
  color: #fff; text-decoration: none; white-space: nowrap; }
.passed { background: var(--pass); } .failed { background: var(--fail); } .warning { background: var(--warn); }
.skipped { background: var(--skip); } .xfail { background: var(--xfail); } .stale { background: var(--fail); }
.result { font-size: 1.1rem; font-weight: 700; } .result.ok { color: var(--pass); } .result.bad { color: var(--fail); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th.variant { font-weight: normal; font-size: .75rem; color: var(--muted); }
td.cell { text-align: center; } .none { color: var(--muted); }
.title { color: var(--muted); font-size: .85rem; }
section.module { border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 4px;
  padding: .8rem 1rem; margin: 1rem 0; }
section.module.warning-module { border-left-color: var(--warn); } section.module.xfail-module { border-left-color: var(--xfail); }
.condition { margin: .8rem 0 1rem; padding-left: .8rem; border-left: 2px solid var(--line); }
.condition dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .3rem 0; }
.condition dt { color: var(--muted); } .condition dd { margin: 0; }
.condition dd pre { margin: 0; }
details { margin: .3rem 0; } summary { cursor: pointer; }
.note { margin: .3rem 0; }
"#;

/// The whole page.
pub fn html(run: &RunResult) -> String {
    let mut out = String::new();
    let title = format!("fapilab conformance: {}", run.target);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");

    header(&mut out, run);
    out.push_str("<main>\n");
    for plan in plans_in_order(run) {
        matrix(&mut out, run, &plan);
    }

    let detailed: Vec<(usize, &ModuleResult)> =
        run.modules.iter().enumerate().filter(|(_, m)| has_details(m)).collect();
    if !detailed.is_empty() {
        out.push_str("<h2 id=\"details\">Failures and warnings</h2>\n");
        for (i, m) in detailed {
            module_section(&mut out, i, m);
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, run: &RunResult) {
    let s = &run.summary;
    out.push_str("<header>\n<h1>fapilab conformance report</h1>\n<dl class=\"meta\">\n");
    let _ = writeln!(out, "<dt>Target</dt><dd><code>{}</code></dd>", esc(&run.target));
    let _ = writeln!(out, "<dt>Plans</dt><dd>{}</dd>", esc(&run.plans.join(", ")));
    let _ = writeln!(out, "<dt>Started</dt><dd>{}</dd>", esc(&run.started_at));
    let _ = writeln!(out, "<dt>Duration</dt><dd>{}</dd>", human_duration(run.duration_ms));
    let _ = writeln!(out, "<dt>Modules</dt><dd>{}</dd>", run.modules.len());
    out.push_str("</dl>\n<p class=\"counts\">");
    let _ = write!(
        out,
        "<span class=\"badge passed\">{} passed</span> <span class=\"badge failed\">{} failed</span> \
         <span class=\"badge warning\">{}</span> <span class=\"badge skipped\">{} skipped</span> \
         <span class=\"badge xfail\">{}</span> <span class=\"badge stale\">{}</span>",
        s.passed,
        s.failed,
        plural(s.warning, "warning", "warnings"),
        s.skipped,
        plural(s.expected_failures, "expected failure", "expected failures"),
        plural(s.unexpected_failures, "unexpected failure", "unexpected failures"),
    );
    out.push_str("</p>\n");
    if run.success() {
        out.push_str("<p class=\"result ok\">Result: PASSED</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p class=\"result bad\">Result: FAILED ({})</p>",
            plural(s.unexpected_failures, "unexpected failure", "unexpected failures")
        );
    }
    out.push_str("</header>\n");
}

/// Failed (expected or not), warned, or has stale expectations.
fn has_details(m: &ModuleResult) -> bool {
    matches!(m.verdict, Verdict::Failed | Verdict::Warning) || !m.unmet_expectations.is_empty()
}

/// (css class, text) of a module's badge.
fn badge(m: &ModuleResult) -> (&'static str, &'static str) {
    match m.verdict {
        Verdict::Passed => ("passed", "PASSED"),
        Verdict::Failed if is_expected_failure(m) => ("xfail", "EXPECTED FAILURE"),
        Verdict::Failed => ("failed", "FAILED"),
        Verdict::Warning => ("warning", "WARNING"),
        Verdict::Skipped { .. } => ("skipped", "SKIPPED"),
    }
}

/// The module's badge; in the matrix (`link`) it links to the module's section.
fn badge_html(i: usize, m: &ModuleResult, link: bool) -> String {
    let (class, text) = badge(m);
    let mut s = if link && has_details(m) {
        format!("<a class=\"badge {class}\" href=\"#m{i}\">{text}</a>")
    } else if let Verdict::Skipped { reason } = &m.verdict {
        format!("<span class=\"badge {class}\" title=\"{}\">{text}</span>", esc_attr(reason))
    } else {
        format!("<span class=\"badge {class}\">{text}</span>")
    };
    if !m.unmet_expectations.is_empty() {
        if link {
            let _ = write!(s, " <a class=\"badge stale\" href=\"#m{i}\">STALE</a>");
        } else {
            s.push_str(" <span class=\"badge stale\">STALE</span>");
        }
    }
    s
}

/// Modules (rows, in run order) × the variants the plan ran (columns, in variant order).
fn matrix(out: &mut String, run: &RunResult, plan: &str) {
    let in_plan: Vec<(usize, &ModuleResult)> = run.modules.iter().enumerate().filter(|(_, m)| m.plan == plan).collect();
    let _ = writeln!(out, "<section class=\"plan\">\n<h2>Plan <code>{}</code></h2>", esc(plan));
    if in_plan.is_empty() {
        out.push_str("<p class=\"none\">No modules ran.</p>\n</section>\n");
        return;
    }
    let mut variants: Vec<Variant> = in_plan.iter().map(|(_, m)| m.variant).collect();
    variants.sort();
    variants.dedup();
    let mut modules: Vec<(&str, &str)> = Vec::new();
    for (_, m) in &in_plan {
        if !modules.iter().any(|(name, _)| *name == m.module) {
            modules.push((&m.module, &m.title));
        }
    }

    out.push_str("<table>\n<thead><tr><th>Module</th>");
    for v in &variants {
        let _ = write!(
            out,
            "<th class=\"variant\" title=\"{}\">{}<br>{}<br>{}</th>",
            esc_attr(&v.label()),
            v.client_auth.as_str(),
            v.sender.as_str(),
            v.openid.as_str()
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (name, title) in modules {
        let _ = write!(out, "<tr><td><code>{}</code><div class=\"title\">{}</div></td>", esc(name), esc(title));
        for v in &variants {
            let cells: Vec<String> = in_plan
                .iter()
                .filter(|(_, m)| m.module == name && m.variant == *v)
                .map(|(i, m)| badge_html(*i, m, true))
                .collect();
            if cells.is_empty() {
                out.push_str("<td class=\"cell none\">&#8212;</td>");
            } else {
                let _ = write!(out, "<td class=\"cell\">{}</td>", cells.join(" "));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn module_section(out: &mut String, i: usize, m: &ModuleResult) {
    let (class, _) = badge(m);
    let extra = match class {
        "warning" => " warning-module",
        "xfail" => " xfail-module",
        _ => "",
    };
    let _ = writeln!(out, "<section class=\"module{extra}\" id=\"m{i}\">");
    let _ = writeln!(
        out,
        "<h3>{} <code>{}</code> <span class=\"title\">[{}]</span></h3>",
        badge_html(i, m, false),
        esc(&m.module),
        esc(&m.variant.label())
    );
    let _ = writeln!(
        out,
        "<p class=\"note\">{} &#183; plan <code>{}</code> &#183; requirements {} &#183; {}</p>",
        esc(&m.title),
        esc(&m.plan),
        esc(&requirement_list(&m.requirements)),
        human_duration(m.duration_ms)
    );
    if is_expected_failure(m) {
        for e in &m.expected_failures {
            let _ = writeln!(
                out,
                "<p class=\"note\"><span class=\"badge xfail\">expected failure</span> <code>{}</code>: {}</p>",
                esc(&e.condition),
                esc(&e.reason)
            );
        }
    }
    for e in &m.unmet_expectations {
        let _ = writeln!(
            out,
            "<p class=\"note\"><span class=\"badge stale\">stale expected failure</span> <code>{}</code> did not fail, \
             but the expected-failures file lists it ({}): remove the entry.</p>",
            esc(&e.condition),
            esc(&e.reason)
        );
    }
    let failed: Vec<&Condition> = if m.verdict == Verdict::Failed {
        failed_conditions(m)
            .chain(m.conditions.iter().filter(|c| !c.passed && c.severity != Severity::Failure))
            .collect()
    } else {
        m.conditions.iter().filter(|c| !c.passed).collect()
    };
    let any_failed = !failed.is_empty();
    for c in failed {
        condition(out, m, c);
    }
    let passed = m.conditions.iter().filter(|c| c.passed).count();
    if passed > 0 {
        let (one, many) =
            if any_failed { ("other condition", "other conditions") } else { ("condition", "conditions") };
        let _ = writeln!(out, "<p class=\"note title\">{} passed.</p>", plural(passed, one, many));
    }
    out.push_str("</section>\n");
}

fn severity_badge(s: Severity) -> &'static str {
    match s {
        Severity::Failure => "<span class=\"badge failed\">failure</span>",
        Severity::Warning => "<span class=\"badge warning\">warning</span>",
        Severity::Info => "<span class=\"badge skipped\">info</span>",
    }
}

fn condition(out: &mut String, m: &ModuleResult, c: &Condition) {
    out.push_str("<div class=\"condition\">\n");
    let _ = writeln!(out, "<h4>{} <code>{}</code> {}</h4>", severity_badge(c.severity), esc(&c.id), esc(&c.summary));
    out.push_str("<dl>\n");
    let _ = writeln!(out, "<dt>Requirements</dt><dd>{}</dd>", esc(&requirement_list(&c.requirements)));
    let _ = writeln!(out, "<dt>Expected</dt><dd><pre>{}</pre></dd>", esc(&c.expected));
    let _ = writeln!(out, "<dt>Observed</dt><dd><pre>{}</pre></dd>", esc(&c.observed));
    if let Some(hint) = &c.hint {
        let _ = writeln!(out, "<dt>Hint</dt><dd>{}</dd>", esc(hint));
    }
    out.push_str("</dl>\n");
    for &e in &c.evidence {
        match m.exchanges.get(e) {
            Some(x) => exchange(out, e, x),
            None => {
                let _ =
                    writeln!(out, "<p class=\"note none\">Evidence #{e} is missing from the module's exchanges.</p>");
            }
        }
    }
    out.push_str("</div>\n");
}

fn headers_text(headers: &[(String, String)]) -> String {
    headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

fn exchange(out: &mut String, index: usize, x: &Exchange) {
    let outcome = match (x.status, &x.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(_)) => "transport error".to_owned(),
        (None, None) => "no response".to_owned(),
    };
    let _ = writeln!(
        out,
        "<details>\n<summary>Evidence #{index} &#183; {} &#183; <code>{} {}</code> &#8594; {} ({} ms)</summary>",
        esc(&x.step),
        esc(&x.method),
        esc(&x.url),
        esc(&outcome),
        x.elapsed_ms
    );
    let mut request = format!("{} {}\n{}", x.method, x.url, headers_text(&x.request_headers));
    if let Some(body) = &x.request_body {
        request.push('\n');
        request.push_str(body);
    }
    let _ = writeln!(out, "<h4>Request</h4>\n<pre>{}</pre>", esc(&request));
    if let Some(status) = x.status {
        let mut response = format!("{status}\n{}", headers_text(&x.response_headers));
        if let Some(body) = &x.response_body {
            response.push('\n');
            response.push_str(body);
        }
        let _ = writeln!(out, "<h4>Response</h4>\n<pre>{}</pre>", esc(&response));
    }
    if let Some(error) = &x.error {
        let _ = writeln!(out, "<h4>Transport error</h4>\n<pre>{}</pre>", esc(error));
    }
    out.push_str("</details>\n");
}
