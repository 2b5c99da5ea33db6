//! Protocol logic as sans-IO functions: no sockets, no axum types, testable on their own.

pub mod client_assertion;
pub mod client_metadata;
pub mod mtls;
pub mod pkce;
pub mod redirect;
pub mod replay;
pub mod request_object;
pub mod software_statement;
