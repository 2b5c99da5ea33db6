//! The crate's one error type, [`SandboxError`], for everything that can stop the sandbox or
//! the mock bank from starting.
//!
//! Requests the bank refuses are not errors of this kind: they are HTTP answers built in
//! `bank::token_check` (RFC 6750 §3, RFC 9449 §7.1). These messages are for the operator
//! starting the sandbox; each names the file, port or component at fault and holds no secret.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the sandbox or the mock bank could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The data directory (or a directory inside it) could not be created or resolved.
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        /// The directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The test PKI could not be created or read.
    #[error("certificate authority: {0}")]
    Certs(#[from] fapilab_certs::CertsError),

    /// The authorization server refused to start.
    #[error("authorization server: {0}")]
    Server(#[from] fapilab_server::StartError),

    /// The TLS identity of the bank could not be loaded.
    #[error("mock bank TLS: {0}")]
    Tls(#[from] fapilab_server::tls::TlsError),

    /// `port_base + 2` does not fit in a port number.
    #[error("port_base {0} is too high: the sandbox needs port_base, port_base+1 and port_base+2")]
    PortRange(u16),

    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The address of a bound listener could not be read.
    #[error("cannot read the address of the mock bank's listener: {0}")]
    ListenerAddress(#[source] std::io::Error),

    /// No workspace registers the resource-server client the bank authenticates as.
    #[error(
        "no workspace registers a resource-server client {0:?} for the mock bank to introspect with"
    )]
    NoBankClient(String),

    /// The bank's signing key for client assertions is missing from its TPP bundle.
    #[error("the TPP bundle {0:?} has no signing key for the bank's client assertions")]
    NoSigningKey(String),

    /// The HTTP client the bank uses to reach the authorization server could not be built.
    #[error("mock bank HTTP client: {0}")]
    HttpClient(String),

    /// The manifest could not be written.
    #[error("manifest {}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}
