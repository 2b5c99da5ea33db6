//! `fapilab bench`: a FAPI-aware load generator for any authorization server described by a
//! conformance target file or a sandbox manifest (it never depends on fapilab-server).
//!
//! Every request carries its own client assertion (`private_key_jwt`) and DPoP proof, or goes
//! over the client's mTLS identity. Signatures are made apart from the measured run — all
//! before the clock starts for `--requests N`, by a pool of signer threads that keeps a
//! bounded queue ahead of the workers for `--duration D` — and the report says how long
//! signing took and whether it ever held the workers back. Each worker has its own
//! keep-alive connection pool over rustls (and, for `code-flow`, its own browser with a
//! cookie jar).
//!
//! Scenarios ([`Scenario`]): `discovery`, `client-credentials`, `par`, `code-flow` (complete
//! authorizations: PAR → login and consent pages → token), `introspection` (tokens obtained
//! first) and `resource` (a token obtained first, then the resource URL with a fresh DPoP
//! proof with `ath`, or over mTLS). The [`Report`] has the rate, HDR-histogram latency
//! percentiles in microseconds and errors by HTTP status and `error` code; any error is
//! unexpected ([`Report::has_unexpected_errors`]).
//!
//! - [`duration`]: `10s`, `1m`, `500ms` on the command line
//! - [`report`]: outcomes, per-worker stats, the report
//! - [`run()`]: one benchmark

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod duration;
mod error;
pub mod report;
mod run;
mod sign;

pub use duration::{format_duration, parse_duration};
pub use error::BenchError;
pub use report::{Latency, Outcome, Report, Signing, Stats};
pub use run::{BenchOptions, Load, Scenario, run};
