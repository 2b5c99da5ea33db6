//! What stops a benchmark before or outside its measured run. Failed requests during the run
//! are not errors: they are counted in the [`crate::Report`].

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad arguments (an unknown scenario, a malformed duration, an unknown client).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Target(#[from] fapilab_conformance::target::TargetError),
    /// Discovery, tokens or clients could not be prepared: the target is unreachable or
    /// refused the setup requests.
    #[error("setup: {0}")]
    Setup(String),
    /// A client assertion or DPoP proof could not be signed.
    #[error("signing: {0}")]
    Signing(String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
