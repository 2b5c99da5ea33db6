//! Keys shared by the unit tests. RSA generation is slow in debug builds,
//! so each algorithm's key is generated once per test binary.

use std::sync::OnceLock;

use crate::{Algorithm, SigningKey};

static ES256: OnceLock<SigningKey> = OnceLock::new();
static PS256: OnceLock<SigningKey> = OnceLock::new();
static EDDSA: OnceLock<SigningKey> = OnceLock::new();

/// A shared key for `alg` with kid `test-<alg>`.
pub(crate) fn key(alg: Algorithm) -> &'static SigningKey {
    let cell = match alg {
        Algorithm::Es256 => &ES256,
        Algorithm::Ps256 => &PS256,
        Algorithm::EdDsa => &EDDSA,
    };
    cell.get_or_init(|| {
        SigningKey::generate(alg, Some(format!("test-{alg}"))).expect("key generation")
    })
}
