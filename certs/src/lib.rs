//! fapilab's certificate authority.
//!
//! FAPI 2.0 and open-finance profiles run everything over mutual TLS: the
//! authorization server needs a TLS certificate its clients trust, and each
//! client (a TPP, third-party provider) needs a transport certificate whose
//! subject identifies it (RFC 8705 `tls_client_auth`) or whose exact
//! certificate it publishes in its JWKS (`self_signed_tls_client_auth`).
//! This crate makes that test PKI: a throw-away root CA, the server
//! certificate, and per-TPP transport certificates with JWS signing keys and
//! JWKS documents, plus the readers the server and the conformance harness
//! use to check what a peer presented.
//!
//! It is a test PKI: keys are stored unencrypted, lifetimes are short
//! ([`Lifetimes`]: 90 days for the CA, 30 for leaves, by default), and all
//! keys are ECDSA P-256 except the PS256 signing key.
//!
//! # On-disk layout
//!
//! [`CaDir`] manages one directory `D`:
//!
//! ```text
//! D/ca.pem                       root CA certificate (install as trust anchor)
//! D/ca.key                       root CA private key, PKCS#8 PEM, mode 0600
//! D/server.pem                   server TLS certificate
//! D/server.key                   server private key, PKCS#8 PEM, mode 0600
//! D/tpp/<name>/transport.pem     TPP transport (mTLS client) certificate
//! D/tpp/<name>/transport.key     its private key, PKCS#8 PEM, mode 0600
//! D/tpp/<name>/private.jwks.json {"keys":[ES256, PS256 private JWKs]}, mode 0600
//! D/tpp/<name>/public.jwks.json  {"keys":[public signing JWKs, transport JWK with x5c]}
//! D/tpp/<name>/subject.json      {"name", "self_signed", the TppSubject fields, "subject_dn"}
//! ```
//!
//! Existing files are never overwritten unless the caller asks (`force`);
//! the error then names the file and says to use `--force`. An expired CA or
//! server certificate is reported by [`CaDir::check_validity`] with the
//! command that fixes it, `fapilab certs init --dir <D> --force`.
//!
//! # Distinguished names
//!
//! [`TppSubject::rfc4514`] and [`subject_dn_of`] render DNs by one set of
//! RFC 4514 rules, documented in [`dn`], so the DN a client registers and
//! the DN the server reads from its certificate compare equal as strings
//! for certificates made here; [`dn_matches`] compares DN-wise for strings
//! from elsewhere.

mod authority;
pub mod dn;
mod error;
mod inspect;
mod issued;
mod layout;
pub mod subject;
mod tpp;
mod util;

pub use authority::{
    CA_COMMON_NAME, CA_ORGANISATION, CertificateAuthority, Lifetimes, self_signed_transport,
};
pub use dn::{dn_matches, issuer_dn_of, subject_dn_of};
pub use error::CertsError;
pub use inspect::{CertificateInfo, inspect_der, inspect_pem, pem_to_der, x5t_s256};
pub use issued::IssuedCertificate;
pub use layout::{CaDir, EXPIRY_MARGIN, InitOptions};
pub use subject::{TPP_DOMAIN, TppSubject};
pub use tpp::{TppBundle, validate_name};
