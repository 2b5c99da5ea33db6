//! Counting and reporting: per-worker [`Stats`] (an HDR histogram of latencies in
//! microseconds, outcomes by class), merged into one [`Report`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::BenchError;

/// Highest latency the histogram tracks exactly: one hour, in microseconds (larger values are
/// clamped to it).
const MAX_MICROS: u64 = 3_600_000_000;
/// Distinct error messages kept as examples.
const MAX_SAMPLES: usize = 8;

/// How one unit of work (a request, or a whole authorization for `code-flow`) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A non-2xx answer; `error` is the OAuth `error` code of a JSON body, if any.
    Http {
        status: u16,
        error: Option<String>,
        detail: String,
    },
    /// No HTTP answer: connection refused, TLS failure, timeout…
    Transport {
        kind: String,
        detail: String,
    },
    /// An answer that was 2xx but not what the flow needs (no `request_uri`, an inactive
    /// token, a redirect without a code…).
    Flow {
        what: String,
        detail: String,
    },
}

impl Outcome {
    /// Classifies an HTTP answer: 2xx is fine, anything else is an unexpected error keyed by
    /// status and `error` code.
    pub fn from_response(status: u16, body: &str) -> Outcome {
        if (200..300).contains(&status) {
            return Outcome::Ok;
        }
        let error = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            });
        let mut detail: String = body.chars().take(300).collect();
        if detail.is_empty() {
            detail = "(empty body)".into();
        }
        Outcome::Http {
            status,
            error,
            detail,
        }
    }

    /// Classifies a reqwest transport error.
    pub fn from_transport(e: &reqwest::Error) -> Outcome {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_body() || e.is_decode() {
            "body"
        } else if e.is_request() {
            "request"
        } else {
            "other"
        };
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let text = s.to_string();
            if !detail.contains(&text) {
                detail.push_str(": ");
                detail.push_str(&text);
            }
            source = s.source();
        }
        Outcome::Transport {
            kind: kind.into(),
            detail,
        }
    }

    pub fn flow(what: &str, detail: impl Into<String>) -> Outcome {
        Outcome::Flow {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// The class an error is counted under: `HTTP 400 invalid_client`, `HTTP 503`,
    /// `transport connect`, `flow no code`; `None` for success.
    pub fn key(&self) -> Option<String> {
        match self {
            Outcome::Ok => None,
            Outcome::Http {
                status,
                error: Some(e),
                ..
            } => Some(format!("HTTP {status} {e}")),
            Outcome::Http {
                status,
                error: None,
                ..
            } => Some(format!("HTTP {status}")),
            Outcome::Transport { kind, .. } => Some(format!("transport {kind}")),
            Outcome::Flow { what, .. } => Some(format!("flow {what}")),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Http { detail, .. }
            | Outcome::Transport { detail, .. }
            | Outcome::Flow { detail, .. } => Some(detail),
        }
    }
}

/// One worker's (or, merged, the run's) measurements.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of every measured unit, successful or not, in microseconds.
    pub histogram: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// A few distinct error messages, for the report.
    pub samples: Vec<String>,
    /// HTTP requests sent in measured units (a code flow sends several per unit).
    pub http_requests: u64,
    /// Units finished during the warm-up (not in the histogram).
    pub discarded: u64,
}

impl Stats {
    /// Empty stats; the histogram tracks 1 µs ..= 1 h with 3 significant digits.
    pub fn new() -> Result<Stats, BenchError> {
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .map_err(|e| BenchError::Setup(format!("histogram: {e}")))?;
        Ok(Stats {
            histogram,
            ok: 0,
            errors: BTreeMap::new(),
            samples: Vec::new(),
            http_requests: 0,
            discarded: 0,
        })
    }

    /// Empty stats with the same histogram bounds.
    pub fn fresh(&self) -> Stats {
        Stats {
            histogram: Histogram::new_from(&self.histogram),
            ok: 0,
            errors: BTreeMap::new(),
            samples: Vec::new(),
            http_requests: 0,
            discarded: 0,
        }
    }

    pub fn record(&mut self, latency: Duration, outcome: &Outcome, http_requests: u32) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_MICROS);
        self.histogram.saturating_record(micros);
        self.http_requests += u64::from(http_requests);
        match outcome.key() {
            None => self.ok += 1,
            Some(key) => {
                if self.samples.len() < MAX_SAMPLES
                    && let Some(detail) = outcome.detail()
                {
                    let line = format!("{key}: {detail}");
                    if !self.samples.iter().any(|s| s.starts_with(&key)) {
                        self.samples.push(line);
                    }
                }
                *self.errors.entry(key).or_default() += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        // Same bounds on both sides; a failure could only come from clamped values, which
        // `saturating_record` already kept in range.
        let _ = self.histogram.add(&other.histogram);
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for s in &other.samples {
            let key = s.split(": ").next().unwrap_or(s);
            if self.samples.len() < MAX_SAMPLES && !self.samples.iter().any(|m| m.starts_with(key))
            {
                self.samples.push(s.clone());
            }
        }
        self.http_requests += other.http_requests;
        self.discarded += other.discarded;
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                min: 0,
                mean: 0.0,
                p50: 0,
                p90: 0,
                p99: 0,
                max: 0,
            };
        }
        Latency {
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// How the client assertions and DPoP proofs were made, apart from the measured run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signing {
    /// `none` (nothing to sign: discovery, mTLS without DPoP), `presigned` (`--requests`: all
    /// signed before the clock started) or `pool` (`--duration`: signer threads ahead of the
    /// workers).
    pub mode: String,
    /// Signatures per unit (assertions + proofs).
    pub signatures_per_unit: u32,
    /// Units whose credentials were signed (a pool signs a little more than is used).
    pub units_signed: u64,
    /// Time spent signing: wall time of the pre-signing, or the signer threads' summed busy
    /// time.
    pub seconds: f64,
    /// Units signed per second of that time.
    pub units_per_second: f64,
    pub signer_threads: usize,
    /// Pool only: how often a worker found no signed credentials ready during the measured
    /// run (0: signing never held the workers back).
    pub starved_waits: u64,
    pub starved_seconds: f64,
}

/// A whole run: what `fapilab bench` prints and `--json` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub issuer: String,
    pub client_id: Option<String>,
    /// What a unit is: `request`, or `authorization` for `code-flow`.
    pub unit: String,
    pub concurrency: usize,
    /// `requests=N` or `duration=10s`.
    pub load: String,
    pub warmup_seconds: f64,
    /// Units finished during the warm-up and discarded.
    pub warmup_discarded: u64,
    /// Measured wall time.
    pub elapsed_seconds: f64,
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    /// Units (of every outcome) per second of measured time.
    pub per_second: f64,
    pub http_requests: u64,
    pub latency_us: Latency,
    /// Unexpected outcomes by class (`HTTP 400 invalid_client`, `transport connect`…).
    pub errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub signing: Signing,
}

impl Report {
    /// Builds the report from merged stats and the measured wall time.
    pub fn from_stats(
        header: ReportHeader,
        stats: &Stats,
        elapsed: Duration,
        signing: Signing,
    ) -> Report {
        let secs = elapsed.as_secs_f64();
        let total = stats.total();
        Report {
            scenario: header.scenario,
            issuer: header.issuer,
            client_id: header.client_id,
            unit: header.unit,
            concurrency: header.concurrency,
            load: header.load,
            warmup_seconds: header.warmup_seconds,
            warmup_discarded: stats.discarded,
            elapsed_seconds: round3(secs),
            total,
            ok: stats.ok,
            failed: stats.failed(),
            per_second: if secs > 0.0 {
                round1(total as f64 / secs)
            } else {
                0.0
            },
            http_requests: stats.http_requests,
            latency_us: Latency::of(&stats.histogram),
            errors: stats.errors.clone(),
            error_samples: stats.samples.clone(),
            signing,
        }
    }

    /// Whether anything unexpected happened (every non-2xx answer, transport error or broken
    /// flow is unexpected).
    pub fn has_unexpected_errors(&self) -> bool {
        self.failed > 0
    }

    /// The report for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let l = &self.latency_us;
        let client = self.client_id.as_deref().unwrap_or("-");
        out.push_str(&format!(
            "fapilab bench: {} against {} (client {client}), concurrency {}, {}\n",
            self.scenario, self.issuer, self.concurrency, self.load
        ));
        if self.warmup_seconds > 0.0 {
            out.push_str(&format!(
                "  warm-up        {:.1}s, {} {}s discarded\n",
                self.warmup_seconds, self.warmup_discarded, self.unit
            ));
        }
        out.push_str(&format!(
            "  {:<14} {} in {:.2}s: {:.1}/s ({} ok, {} failed; {} HTTP requests)\n",
            format!("{}s", self.unit),
            self.total,
            self.elapsed_seconds,
            self.per_second,
            self.ok,
            self.failed,
            self.http_requests
        ));
        out.push_str(&format!(
            "  latency (µs)   p50 {}  p90 {}  p99 {}  max {}  (min {}, mean {:.1})\n",
            l.p50, l.p90, l.p99, l.max, l.min, l.mean
        ));
        let s = &self.signing;
        match s.mode.as_str() {
            "none" => out.push_str("  signing        nothing to sign per request\n"),
            "presigned" => out.push_str(&format!(
                "  signing        {} units ({} signatures each) pre-signed in {:.3}s ({:.0}/s, {} threads), before the clock started\n",
                s.units_signed, s.signatures_per_unit, s.seconds, s.units_per_second, s.signer_threads
            )),
            _ => out.push_str(&format!(
                "  signing        pool of {} threads: {} units ({} signatures each) in {:.3}s busy ({:.0}/s); workers waited for signing {} times ({:.3}s){}\n",
                s.signer_threads,
                s.units_signed,
                s.signatures_per_unit,
                s.seconds,
                s.units_per_second,
                s.starved_waits,
                s.starved_seconds,
                if s.starved_waits > 0 { ": SIGNING HELD THE WORKERS BACK, use more --signers" } else { "" }
            )),
        }
        if self.errors.is_empty() {
            out.push_str("  errors         none\n");
        } else {
            out.push_str(&format!(
                "  UNEXPECTED ERRORS: {} of {} {}s\n",
                self.failed, self.total, self.unit
            ));
            for (k, v) in &self.errors {
                out.push_str(&format!("    {v:>8}  {k}\n"));
            }
            for sample in &self.error_samples {
                out.push_str(&format!("    e.g. {sample}\n"));
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<(), BenchError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| BenchError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(path, format!("{text}\n")).map_err(|source| BenchError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// The descriptive part of a [`Report`].
#[derive(Debug, Clone)]
pub struct ReportHeader {
    pub scenario: String,
    pub issuer: String,
    pub client_id: Option<String>,
    pub unit: String,
    pub concurrency: usize,
    pub load: String,
    pub warmup_seconds: f64,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn classifies_http_answers() {
        assert_eq!(Outcome::from_response(200, "{}"), Outcome::Ok);
        assert_eq!(Outcome::from_response(201, ""), Outcome::Ok);
        let o = Outcome::from_response(
            400,
            r#"{"error":"invalid_client","error_description":"bad"}"#,
        );
        assert_eq!(o.key().as_deref(), Some("HTTP 400 invalid_client"));
        let o = Outcome::from_response(503, "");
        assert_eq!(o.key().as_deref(), Some("HTTP 503"));
        assert!(matches!(o, Outcome::Http { ref detail, .. } if detail == "(empty body)"));
        assert_eq!(
            Outcome::from_response(302, "<html>").key().as_deref(),
            Some("HTTP 302")
        );
        assert_eq!(
            Outcome::from_response(401, r#"{"error":5}"#)
                .key()
                .as_deref(),
            Some("HTTP 401")
        );
        assert_eq!(
            Outcome::flow("no code", "x").key().as_deref(),
            Some("flow no code")
        );
        assert_eq!(
            Outcome::Transport {
                kind: "connect".into(),
                detail: "refused".into()
            }
            .key()
            .as_deref(),
            Some("transport connect")
        );
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut s = Stats::new().unwrap();
        for micros in 1..=1000u64 {
            s.record(Duration::from_micros(micros), &Outcome::Ok, 1);
        }
        let l = Latency::of(&s.histogram);
        assert_eq!(l.min, 1);
        assert_eq!(l.p50, 500);
        assert_eq!(l.p90, 900);
        assert_eq!(l.p99, 990);
        assert_eq!(l.max, 1000);
        assert!((l.mean - 500.5).abs() < 0.5, "{}", l.mean);
        assert_eq!(s.ok, 1000);
        assert_eq!(s.http_requests, 1000);
    }

    #[test]
    fn merging_adds_counts_errors_and_histograms() {
        let mut a = Stats::new().unwrap();
        let mut b = Stats::new().unwrap();
        a.record(Duration::from_millis(1), &Outcome::Ok, 1);
        a.record(
            Duration::from_millis(2),
            &Outcome::from_response(400, r#"{"error":"invalid_dpop_proof"}"#),
            1,
        );
        b.record(
            Duration::from_millis(4),
            &Outcome::from_response(400, r#"{"error":"invalid_dpop_proof"}"#),
            1,
        );
        b.record(
            Duration::from_millis(8),
            &Outcome::from_response(500, ""),
            3,
        );
        b.discarded = 7;
        a.merge(&b);
        assert_eq!(a.ok, 1);
        assert_eq!(a.failed(), 3);
        assert_eq!(a.total(), 4);
        assert_eq!(a.errors["HTTP 400 invalid_dpop_proof"], 2);
        assert_eq!(a.errors["HTTP 500"], 1);
        assert_eq!(a.samples.len(), 2, "one sample per class: {:?}", a.samples);
        assert_eq!(a.http_requests, 6);
        assert_eq!(a.discarded, 7);
        assert_eq!(a.histogram.len(), 4);
        let l = Latency::of(&a.histogram);
        assert!((7990..=8010).contains(&l.max), "{}", l.max);
    }

    #[test]
    fn huge_and_zero_latencies_are_clamped() {
        let mut s = Stats::new().unwrap();
        s.record(Duration::ZERO, &Outcome::Ok, 1);
        s.record(Duration::from_secs(100_000), &Outcome::Ok, 1);
        assert_eq!(s.histogram.len(), 2);
        assert_eq!(Latency::of(&s.histogram).min, 1);
    }

    fn report(stats: &Stats, secs: u64) -> Report {
        let header = ReportHeader {
            scenario: "client-credentials".into(),
            issuer: "https://as".into(),
            client_id: Some("c".into()),
            unit: "request".into(),
            concurrency: 4,
            load: "requests=3".into(),
            warmup_seconds: 0.0,
        };
        let signing = Signing {
            mode: "presigned".into(),
            signatures_per_unit: 2,
            units_signed: 3,
            seconds: 0.5,
            units_per_second: 6.0,
            signer_threads: 2,
            starved_waits: 0,
            starved_seconds: 0.0,
        };
        Report::from_stats(header, stats, Duration::from_secs(secs), signing)
    }

    #[test]
    fn report_rate_and_verdict() {
        let mut s = Stats::new().unwrap();
        for _ in 0..3 {
            s.record(Duration::from_millis(1), &Outcome::Ok, 1);
        }
        let r = report(&s, 2);
        assert_eq!(r.per_second, 1.5);
        assert!(!r.has_unexpected_errors());
        assert!(r.render().contains("errors         none"), "{}", r.render());
        s.record(
            Duration::from_millis(1),
            &Outcome::from_response(401, r#"{"error":"invalid_token"}"#),
            1,
        );
        let r = report(&s, 2);
        assert!(r.has_unexpected_errors());
        assert_eq!(r.per_second, 2.0);
        let text = r.render();
        assert!(
            text.contains("UNEXPECTED ERRORS: 1 of 4") && text.contains("HTTP 401 invalid_token"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["errors"]["HTTP 401 invalid_token"], 1);
        assert_eq!(json["latency_us"]["p50"], 1000);
        assert_eq!(report(&Stats::new().unwrap(), 0).per_second, 0.0);
    }
}
