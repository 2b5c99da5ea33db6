//! fapilab's reference authorization server.
//!
//! Tenants hold workspaces; each workspace is an issuer (`{base}/{tenant}/{workspace}`) that
//! runs one profile. A profile is data ([`profiles::Policy`]) that the endpoints consult.
//! Layout: one file per endpoint under `endpoints/`, one per grant under `grants/`, one per
//! profile under `profiles/`, protocol checks without I/O under `protocol/`, storage under
//! `store/`. See ARCHITECTURE.md at the repository root.

// `OAuthError` carries a description, a cause and headers; boxing it would buy nothing on a
// path that ends the request anyway.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod authorization_request;
pub mod authorization_response;
pub mod ciba;
pub mod client_auth;
pub mod config;
pub mod dpop;
pub mod end_users;
pub mod endpoints;
pub mod error;
pub mod faults;
pub mod grants;
pub mod http;
pub mod identity;
pub mod inbox;
pub mod interaction;
pub mod issuance;
pub mod keys;
pub mod pages;
pub mod password;
pub mod profiles;
pub mod protocol;
pub mod registry;
pub mod outbound;
pub mod server;
pub mod state;
pub mod store;
pub mod theme;
pub mod tls;
pub mod workspace;

pub use config::Config;
pub use server::{RunningServer, StartError, app, start};
