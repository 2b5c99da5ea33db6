//! End-to-end tests: real listeners on loopback, real TLS and mTLS, real signatures.
//! One test binary (see Cargo.toml `[[test]] e2e`), one module per area.

mod support;
mod flows;
mod negative;
mod interop;
mod sandbox;
mod proxy;
mod interop_edges;
mod certify_remote;
mod registration;
mod message_signing;
mod ciba;
mod fapi1;
mod identity;
mod passkeys;
mod browser;
