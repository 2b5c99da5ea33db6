//! The one error type of this crate.
//!
//! Every message says which file (or which input) is at fault and what the
//! operator can do about it, because these errors usually end up printed by
//! the `fapilab certs` command line and nobody reads a backtrace there.

use std::path::PathBuf;

/// Everything that can go wrong while creating, storing or reading the
/// fapilab test PKI.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// Reading, writing or creating a file or directory failed.
    #[error("could not {action} {}: {source}; check the path and its permissions", path.display())]
    Io {
        /// What we were doing ("read", "write", "create directory", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file would have been overwritten and `force` was not given.
    #[error("{} already exists; refusing to overwrite it (use --force to replace it)", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// A file that should have been created earlier is missing.
    #[error("{} does not exist; {hint}", path.display())]
    Missing {
        /// The missing file.
        path: PathBuf,
        /// What to run to create it.
        hint: String,
    },

    /// A PEM document could not be decoded.
    #[error(
        "{source_name} is not a valid PEM {expected}: {reason}; regenerate it or point to the right file"
    )]
    Pem {
        /// The file or input that was being read.
        source_name: String,
        /// The kind of PEM block that was expected.
        expected: &'static str,
        /// What the decoder said.
        reason: String,
    },

    /// A certificate could not be parsed or is not what we expected.
    #[error("{source_name}: {reason}")]
    Certificate {
        /// The file or input that was being read.
        source_name: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },

    /// A private key could not be loaded, or does not match its certificate.
    #[error("{source_name}: {reason}")]
    Key {
        /// The file or input that was being read.
        source_name: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },

    /// rcgen refused to build a certificate.
    #[error("could not create the {what}: {source}")]
    Generate {
        /// Which certificate was being created.
        what: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// A signing key or JWK operation of `fapilab-jose` failed.
    #[error("could not {what}: {reason}")]
    Jose {
        /// What was being done.
        what: String,
        /// The JOSE layer's message.
        reason: String,
    },

    /// A TPP name is not usable as a directory name and DNS label.
    #[error(
        "invalid TPP name {name:?}: {reason}; use 1 to 63 characters from a-z, 0-9 and '-', not starting or ending with '-'"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A subject attribute or certificate name cannot be encoded as required.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidValue {
        /// The attribute or parameter concerned.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// Why, and what would be accepted.
        reason: &'static str,
    },

    /// A JSON file could not be read or written.
    #[error("{} is not valid JSON of the expected shape: {source}; regenerate it with --force", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },

    /// A certificate has expired or is about to.
    #[error(
        "{} is no longer usable: it is valid only until {not_after} (expired or less than a day left); regenerate the test PKI with `{fix}`",
        file.display()
    )]
    Expired {
        /// The certificate file.
        file: PathBuf,
        /// Its notAfter, as `YYYY-MM-DDTHH:MM:SSZ`.
        not_after: String,
        /// The command that fixes it.
        fix: String,
    },

    /// A certificate on disk was not issued by the CA on disk.
    #[error("{} was not issued by the CA in {}; regenerate it with `{fix}`", file.display(), ca.display())]
    NotIssuedByCa {
        /// The certificate file.
        file: PathBuf,
        /// The CA certificate file.
        ca: PathBuf,
        /// The command that fixes it.
        fix: String,
    },

    /// A TPP exists on disk with a different kind of transport certificate.
    #[error(
        "{} records self_signed = {on_disk} but {requested} was requested; reissue the TPP with --force",
        path.display()
    )]
    TppConflict {
        /// The TPP's subject.json.
        path: PathBuf,
        /// What the file says.
        on_disk: bool,
        /// What the caller asked for.
        requested: bool,
    },
}

impl CertsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        CertsError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn generate(what: impl Into<String>, source: rcgen::Error) -> Self {
        CertsError::Generate {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn jose(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        CertsError::Jose {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
