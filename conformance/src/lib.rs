//! fapilab's conformance harness: plans made of scenario modules made of steps and
//! conditions, run against any authorization server over HTTP.
//!
//! Written from the specifications, independently of the server: this crate never depends on
//! `fapilab-server`, so one bug cannot make both agree. It shares only the low-level JOSE
//! helpers (`fapilab-jose`) and certificate reading (`fapilab-certs`: the RFC 4514 subject DN
//! a `tls_client_auth` registration names).
//!
//! - [`model`]: conditions, exchanges, verdicts, module and run results
//! - [`variant`]: client auth × sender constraint × OpenID
//! - [`scenario`], [`load`], [`plan`]: the scenario file format, its validation, the plans
//! - [`target`]: what is tested (a target file or a sandbox manifest)
//! - [`execute`], [`context`], [`steps`], [`mutations`], [`conditions`]: running one module
//! - [`registration`]: what the client registration steps share (RFC 7591/7592, FDX status)
//! - [`http`], [`login`], [`tls_probe`]: talking to the server (recorded, redacted)
//! - [`passkey`]: the software passkey and the browser the passkey steps sign in with
//! - [`runner`], [`expected`], [`certify`], [`report`]: a whole run and its reports

pub mod certify;
pub mod conditions;
pub mod context;
pub mod execute;
pub mod expected;
pub mod http;
pub mod load;
pub mod login;
pub mod model;
pub mod mutations;
pub mod passkey;
pub mod ping;
pub mod plan;
pub mod registration;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod steps;
pub mod target;
pub mod tls_probe;
pub mod variant;
