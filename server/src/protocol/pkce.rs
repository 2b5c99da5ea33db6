//! PKCE (RFC 7636) with S256 only (FAPI2-SP-AZ-05, PKCE-01).

/// Checks a `code_challenge` as pushed: S256 challenges are 43 base64url characters.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>, allowed: &[&str]) -> Result<(), String> {
    let Some(challenge) = challenge else {
        return Err("code_challenge is required [FAPI2-SP-AZ-05]".into());
    };
    let method = method.unwrap_or("plain");
    if !allowed.contains(&method) {
        return Err(format!("code_challenge_method must be S256, got {method:?} [FAPI2-SP-AZ-05]"));
    }
    let well_formed = challenge.len() == 43
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err("code_challenge must be 43 base64url characters (S256) [PKCE-01]".into());
    }
    Ok(())
}

/// Verifies a `code_verifier` against the stored S256 challenge (PKCE-01).
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), PkceFailure> {
    let verifier = verifier.ok_or(PkceFailure::Missing)?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(PkceFailure::Malformed);
    }
    if fapilab_jose::sha256_b64url(verifier.as_bytes()) != challenge {
        return Err(PkceFailure::Mismatch);
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum PkceFailure {
    Missing,
    Malformed,
    Mismatch,
}

impl std::fmt::Display for PkceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PkceFailure::Missing => "code_verifier is required [FAPI2-SP-AZ-05]",
            PkceFailure::Malformed => "code_verifier must be 43-128 characters of [A-Za-z0-9-._~] [PKCE-01]",
            PkceFailure::Mismatch => "code_verifier does not match the code_challenge [FAPI2-SP-AZ-05]",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_vector() {
        assert!(verify(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").is_ok());
        assert_eq!(verify(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), Err(PkceFailure::Mismatch));
        assert_eq!(verify(None, "x"), Err(PkceFailure::Missing));
        assert_eq!(verify(Some("short"), "x"), Err(PkceFailure::Malformed));
    }

    #[test]
    fn plain_and_missing_challenges_are_refused() {
        let ok = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_challenge(Some(ok), Some("S256"), &["S256"]).is_ok());
        assert!(check_challenge(Some(ok), Some("plain"), &["S256"]).is_err());
        assert!(check_challenge(Some(ok), None, &["S256"]).is_err());
        assert!(check_challenge(None, Some("S256"), &["S256"]).is_err());
    }
}
