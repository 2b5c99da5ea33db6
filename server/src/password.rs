//! Password hashing with argon2id (PHC strings). Passwords are never logged or returned.
//!
//! Verification runs in a reusable memory buffer ([`verify_in`]): argon2id needs ~19 MiB per
//! call, and fresh allocations of that size are kept by the allocator after use, so a burst of
//! logins would leave the server hundreds of MiB larger. The server keeps one buffer per
//! verification slot instead (`AppState::password_slots`).

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params};

/// Hashes `password` with argon2id's default parameters in `memory` (grown if needed), so
/// that hashing many passwords (every configured user at startup) takes the working area once.
pub fn hash_in(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let params = Params::default();
    let mut salt_bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt_bytes).map_err(|_| "no randomness".to_string())?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, &mut memory[..blocks])
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Verifies `password` against a PHC string, using (and growing if needed) `memory` as the
/// argon2 working area. The comparison is constant-time.
pub fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else { return false };
    let version = parsed.version.and_then(|v| argon2::Version::try_from(v).ok()).unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    if hasher.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks]).is_err() {
        return false;
    }
    aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash_in("correct horse", &mut Vec::new()).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("x", "not a hash"));
    }

    #[test]
    fn hashing_in_a_reused_buffer_gives_a_standard_phc_string() {
        let mut memory = Vec::new();
        let h = super::hash_in("correct horse", &mut memory).expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify("correct horse", &h), "the library verifies it");
        assert!(!super::verify("wrong horse", &h));
        let again = super::hash_in("correct horse", &mut memory).expect("hash");
        assert_ne!(again, h, "a fresh salt each time");
    }

    #[test]
    fn verification_in_a_reused_buffer_agrees_with_the_library() {
        let h = super::hash_in("correct horse", &mut Vec::new()).expect("hash");
        let mut memory = Vec::new();
        assert!(super::verify_in("correct horse", &h, &mut memory));
        assert!(!super::verify_in("wrong horse", &h, &mut memory));
        assert!(!super::verify_in("correct horse", "not a hash", &mut memory));
        assert!(memory.len() >= 19 * 1024, "one buffer of the argon2id memory cost");
    }
}
