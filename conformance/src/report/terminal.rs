//! Terminal output: live progress while modules finish, and the closing summary.
//!
//! Text from the server under test (observed values, hints quoting it) is printed through
//! [`printable`], which shows control characters as `\u{..}` escapes: a hostile response
//! cannot move the cursor, recolour the terminal or hide text with bidi overrides.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;

use super::{
    failed_conditions, human_duration, is_expected_failure, is_unexpected_failure, plural, requirement_list,
    warning_conditions,
};
use crate::model::{Condition, ModuleResult, RunResult, Verdict};

/// Longest value (expected, observed, hint) shown on one terminal line.
const VALUE_MAX: usize = 200;
/// Width of the progress bar, in cells.
const BAR_WIDTH: usize = 30;
/// Continuation lines line up under the module name.
const INDENT: &str = "        ";

/// Live progress on the terminal (or any writer).
///
/// Interactive: a progress bar on the last line, redrawn in place (`\r` + ANSI erase line),
/// with a line per finished module printed above it. Non-interactive (a pipe, a CI log):
/// plain lines only — no `\r`, no escape sequences.
///
/// Thread-safe: modules finishing on several tasks may call [`Progress::module_finished`]
/// concurrently; each module's lines are written together.
pub struct Progress {
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    total: usize,
    done: usize,
    failed: usize,
    interactive: bool,
    colour: bool,
    bar_shown: bool,
}

impl Progress {
    /// Progress on stderr. Pass `interactive = std::io::stderr().is_terminal()`.
    pub fn new(total: usize, interactive: bool) -> Progress {
        Progress::with_writer(total, interactive, Box::new(std::io::stderr()))
    }

    /// Progress on any writer (tests, log files). Colours are used only when `interactive`
    /// and `NO_COLOR` is not set.
    pub fn with_writer(total: usize, interactive: bool, out: Box<dyn Write + Send>) -> Progress {
        let colour = interactive && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Progress { state: Mutex::new(State { out, total, done: 0, failed: 0, interactive, colour, bar_shown: false }) }
    }

    /// Prints the module's line (and, for failures, its first failed condition) and, when
    /// interactive, redraws the bar. Write errors are ignored: progress is best-effort.
    pub fn module_finished(&self, result: &ModuleResult) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.done += 1;
        if result.failed_unexpectedly() {
            state.failed += 1;
        }
        let mut text = String::new();
        if state.interactive && state.bar_shown {
            text.push_str("\r\x1b[2K");
        }
        text.push_str(&module_lines(result, state.colour));
        if state.interactive {
            text.push_str(&bar(state.done, state.total, state.failed, state.colour));
            state.bar_shown = true;
        }
        let _ = state.out.write_all(text.as_bytes());
        let _ = state.out.flush();
    }

    /// Clears the bar (interactive) and flushes. Call once, before printing the summary.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.interactive && state.bar_shown {
            let _ = state.out.write_all(b"\r\x1b[2K");
            state.bar_shown = false;
        }
        let _ = state.out.flush();
    }
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

fn verdict_colour(m: &ModuleResult) -> &'static str {
    match m.verdict {
        _ if !m.unmet_expectations.is_empty() => "1;31",
        Verdict::Passed => "32",
        Verdict::Failed if is_expected_failure(m) => "33",
        Verdict::Failed => "1;31",
        Verdict::Warning => "33",
        Verdict::Skipped { .. } => "2",
    }
}

/// `PASSED  module  [variant]  (123 ms)` and, depending on the verdict, detail lines.
fn module_lines(m: &ModuleResult, colour: bool) -> String {
    let label = paint(&format!("{:<8}", m.verdict.label()), verdict_colour(m), colour);
    let mut s = format!("{label}{}  [{}]  ({} ms)", printable(&m.module), m.variant.label(), m.duration_ms);
    if is_expected_failure(m) {
        s.push_str("  expected failure");
    }
    s.push('\n');
    match &m.verdict {
        Verdict::Skipped { reason } => {
            let _ = writeln!(s, "{INDENT}{}", one_line(reason));
        }
        Verdict::Failed if is_expected_failure(m) => {
            for e in &m.expected_failures {
                let _ = writeln!(s, "{INDENT}expected failure: {} ({})", one_line(&e.reason), printable(&e.condition));
            }
        }
        Verdict::Failed => match failed_conditions(m).next() {
            Some(c) => s.push_str(&condition_lines(c)),
            None => {
                let _ = writeln!(s, "{INDENT}no failed condition recorded");
            }
        },
        Verdict::Warning => {
            if let Some(c) = warning_conditions(m).next() {
                s.push_str(&condition_lines(c));
            }
        }
        Verdict::Passed => {}
    }
    for e in &m.unmet_expectations {
        let _ = writeln!(
            s,
            "{INDENT}stale expected failure: {} did not fail ({}); remove it from the expected-failures file",
            printable(&e.condition),
            one_line(&e.reason)
        );
    }
    s
}

/// The condition id, its requirements, expected vs observed and the hint, indented.
fn condition_lines(c: &Condition) -> String {
    let mut s =
        format!("{INDENT}{} [{}]: {}\n", printable(&c.id), requirement_list(&c.requirements), one_line(&c.summary));
    let _ = writeln!(s, "{INDENT}  expected: {}", one_line(&c.expected));
    let _ = writeln!(s, "{INDENT}  observed: {}", one_line(&c.observed));
    if let Some(hint) = &c.hint {
        let _ = writeln!(s, "{INDENT}  hint: {}", one_line(hint));
    }
    s
}

/// `[#########---------------------]  9/30 modules, 1 failed` (no newline).
fn bar(done: usize, total: usize, failed: usize, colour: bool) -> String {
    let filled = (done.min(total) * BAR_WIDTH).checked_div(total).unwrap_or(BAR_WIDTH);
    let bar = format!("{}{}", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled));
    let mut s = format!("[{bar}]  {done}/{total} modules");
    if failed > 0 {
        s.push_str(&paint(&format!(", {failed} failed"), "1;31", colour));
    }
    s
}

/// Terminal-safe text: control characters (C0, DEL, C1 — including ESC and CSI) and bidi
/// controls are shown as `\n`, `\t`, `\r` or `\u{..}`.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// [`printable`], cut at [`VALUE_MAX`] characters.
fn one_line(s: &str) -> String {
    let p = printable(s);
    if p.chars().count() > VALUE_MAX {
        let mut cut: String = p.chars().take(VALUE_MAX - 1).collect();
        cut.push('…');
        cut
    } else {
        p
    }
}

/// The closing summary: counts per verdict, expected and unexpected failures, duration, and
/// each unexpected failure (module, variant, first failed condition) or stale expectation.
pub fn summary_text(run: &RunResult) -> String {
    let s = &run.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fapilab conformance: {}  ({} modules, started {}, took {})",
        printable(&run.target),
        run.modules.len(),
        printable(&run.started_at),
        human_duration(run.duration_ms)
    );
    let _ = writeln!(
        out,
        "  {} passed, {} failed, {}, {} skipped",
        s.passed,
        s.failed,
        plural(s.warning, "warning", "warnings"),
        s.skipped
    );
    let _ = writeln!(
        out,
        "  {}, {}",
        plural(s.expected_failures, "expected failure", "expected failures"),
        plural(s.unexpected_failures, "unexpected failure", "unexpected failures")
    );

    let unexpected: Vec<&ModuleResult> = run.modules.iter().filter(|m| m.failed_unexpectedly()).collect();
    if !unexpected.is_empty() {
        out.push_str("\nUnexpected failures:\n");
        for m in unexpected {
            let _ = writeln!(out, "  {}  [{}]", printable(&m.module), m.variant.label());
            if is_unexpected_failure(m) {
                match failed_conditions(m).next() {
                    Some(c) => {
                        let _ = writeln!(
                            out,
                            "    {} [{}]: expected {}, observed {}",
                            printable(&c.id),
                            requirement_list(&c.requirements),
                            one_line(&c.expected),
                            one_line(&c.observed)
                        );
                    }
                    None => out.push_str("    failed without a failed condition\n"),
                }
            }
            for e in &m.unmet_expectations {
                let _ = writeln!(
                    out,
                    "    stale expected failure: {} did not fail ({})",
                    printable(&e.condition),
                    one_line(&e.reason)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if run.success() {
            "Result: PASSED".to_owned()
        } else {
            format!("Result: FAILED ({})", plural(s.unexpected_failures, "unexpected failure", "unexpected failures"))
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_neutralises_escapes() {
        assert_eq!(printable("a\u{1b}[2Jb\u{9b}c\u{202e}d\n"), "a\\u{1b}[2Jb\\u{9b}c\\u{202e}d\\n");
    }

    #[test]
    fn bar_fills() {
        assert_eq!(bar(0, 3, 0, false), format!("[{}]  0/3 modules", "-".repeat(30)));
        assert_eq!(bar(3, 3, 1, false), format!("[{}]  3/3 modules, 1 failed", "#".repeat(30)));
        assert_eq!(bar(0, 0, 0, false), format!("[{}]  0/0 modules", "#".repeat(30)));
    }
}
