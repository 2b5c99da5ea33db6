//! fapilab's sandbox: the mock bank and the one-command sandbox around the authorization
//! server.
//!
//! * [`bank`] — a resource server with seeded account data that enforces the FAPI 2.0
//!   resource-server rules (FAPI2-SP-RS-01..RS-05; OA-05, DP-R-01..03, MT-07, JAT-03), so a
//!   client under test can spend the tokens it obtained and see each failure answered the
//!   way RFC 6750 and RFC 9449 prescribe.
//! * [`start`] — brings up the test PKI, fapilab-server with its default workspace and
//!   clients, and the bank, then writes [`Manifest`] (`sandbox.json`) listing every URL,
//!   client and credential file, so nothing has to be configured by hand.
//!
//! Errors that stop the sandbox from starting are [`SandboxError`]; requests the bank
//! refuses are HTTP answers, not errors.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod bank;
mod error;
mod manifest;
mod run;

pub use bank::{BankConfig, BankState, RunningBank, TokenValidation, bank_app};
pub use error::SandboxError;
pub use manifest::{MANIFEST_FILE, Manifest, ManifestClient, ManifestUser, ManifestWorkspace};
pub use run::{Sandbox, SandboxOptions, start};
