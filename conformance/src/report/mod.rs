//! Reports of a run: live terminal progress and the closing summary ([`terminal`]), JSON
//! ([`json()`]), JUnit XML ([`junit()`]) and one self-contained HTML page ([`html()`]).
//!
//! Everything an exchange carries comes from the server under test, which may be hostile:
//! XML and HTML output escape every piece of text, and terminal output neutralises control
//! characters (no ANSI escape injection from a response body).

mod html;
mod json;
mod junit;
mod terminal;

pub use html::html;
pub use json::json;
pub use junit::junit;
pub use terminal::{Progress, summary_text};

use crate::model::{Condition, ModuleResult, Severity, Verdict};

/// The failed conditions that fail a module (severity `Failure`), in check order.
fn failed_conditions(m: &ModuleResult) -> impl Iterator<Item = &Condition> {
    m.conditions.iter().filter(|c| !c.passed && c.severity == Severity::Failure)
}

/// The failed conditions that make a module a warning (severity `Warning`), in check order.
fn warning_conditions(m: &ModuleResult) -> impl Iterator<Item = &Condition> {
    m.conditions.iter().filter(|c| !c.passed && c.severity == Severity::Warning)
}

/// Failed, but only on conditions the expected-failures file lists.
fn is_expected_failure(m: &ModuleResult) -> bool {
    m.verdict == Verdict::Failed && !m.expected_failures.is_empty()
}

/// Failed on a condition nobody listed (stale expectations are reported separately).
fn is_unexpected_failure(m: &ModuleResult) -> bool {
    m.verdict == Verdict::Failed && m.expected_failures.is_empty()
}

/// `1234` ms → `1.234` (seconds, as JUnit wants them).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A duration for people: `850 ms`, `12.3 s`, `2 min 05 s`.
fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    } else {
        let secs = ms / 1000;
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Requirement ids as `FAPI2-SP-AZ-05, FAPI2-SP-AZ-06`, or `none`.
fn requirement_list(ids: &[String]) -> String {
    if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
}

/// The plans in report order: those the run lists, then any a module names that the run
/// does not list (so no module is ever dropped from a report).
fn plans_in_order(run: &crate::model::RunResult) -> Vec<String> {
    let mut plans: Vec<String> = Vec::new();
    for p in run.plans.iter().chain(run.modules.iter().map(|m| &m.plan)) {
        if !plans.contains(p) {
            plans.push(p.clone());
        }
    }
    plans
}

/// Characters XML 1.0 does not allow anywhere (C0 controls other than tab, LF and CR, and
/// U+FFFE/U+FFFF; Rust `char`s are never surrogates).
fn xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Escapes text for XML and HTML, both in element content and in quoted attribute values.
///
/// Control characters XML forbids (and HTML calls parse errors) become a visible `\u{1b}`, so
/// evidence stays readable; DEL and the C1 controls are shown the same way. CR and, in
/// attributes, TAB and LF are written as character references so parsers keep them.
fn markup_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if xml_forbidden(c) || ('\u{7F}'..='\u{9F}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes element content.
fn esc(s: &str) -> String {
    markup_escape(s, false)
}

/// Escapes a quoted attribute value.
fn esc_attr(s: &str) -> String {
    markup_escape(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(esc("x\u{1b}[31my\u{0}"), "x\\u{1b}[31my\\u{0}");
        assert_eq!(esc("l1\nl2\r\n\tx"), "l1\nl2&#13;\n\tx");
        assert_eq!(esc_attr("l1\nl2\t"), "l1&#10;l2&#9;");
        assert_eq!(esc("\u{fffe}\u{9b}é"), "\\u{fffe}\\u{9b}é");
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(0), "0.000");
        assert_eq!(seconds(61_005), "61.005");
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(12_345), "12.3 s");
        assert_eq!(human_duration(125_000), "2 min 05 s");
    }
}
