//! The workspace's own signing key: created on first start, kept in the data dir (0600),
//! parsed once.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use fapilab_jose::{Algorithm, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {path}: {message}")]
    Key { path: String, message: String },
}

pub fn load_or_create(dir: &Path, alg: Algorithm) -> Result<SigningKey, KeyError> {
    let path = dir.join(format!("signing-{}.pem", alg.as_str().to_ascii_lowercase()));
    let fail = |message: String| KeyError::Key { path: path.display().to_string(), message };
    if path.exists() {
        let pem = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let key = SigningKey::from_pkcs8_pem(alg, &pem, None).map_err(|e| fail(e.to_string()))?;
        let kid = key.public_jwk().thumbprint();
        return SigningKey::from_pkcs8_pem(alg, &pem, Some(kid)).map_err(|e| fail(e.to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let key = SigningKey::generate(alg, None).map_err(|e| fail(e.to_string()))?;
    let pem = key.to_pkcs8_pem();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| fail(e.to_string()))?;
    file.write_all(pem.as_bytes()).map_err(|e| fail(e.to_string()))?;
    let kid = key.public_jwk().thumbprint();
    SigningKey::from_pkcs8_pem(alg, &pem, Some(kid)).map_err(|e| fail(e.to_string()))
}
