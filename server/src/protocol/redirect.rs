//! Redirect URI rules.

use crate::profiles::Policy;

/// Checks a redirect URI a client registers (or pushes): absolute, no fragment, https — or
/// http on a loopback address for native apps (FAPI2-SP-AZ-08, RFC 8252 §7.3).
pub fn check_registered_redirect_uri(uri: &str, policy: &Policy) -> Result<(), String> {
    let Ok(parsed) = uri.parse::<http::Uri>() else {
        return Err(format!("redirect_uri {uri:?} is not an absolute URI [RFC6749-3.1.2]"));
    };
    if uri.contains('#') {
        return Err("redirect_uri must not contain a fragment [RFC6749-3.1.2]".into());
    }
    let Some(host) = parsed.host() else {
        return Err(format!("redirect_uri {uri:?} has no host [RFC6749-3.1.2]"));
    };
    match parsed.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if policy.allow_http_loopback_redirects && is_loopback(host) => Ok(()),
        _ => Err(format!(
            "redirect_uri {uri:?} must use https (http only on a loopback address) [FAPI2-SP-AZ-08]"
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::ProfileId;

    #[test]
    fn https_and_loopback_http_only() {
        let p = ProfileId::Fapi2SecurityProfile.policy();
        assert!(check_registered_redirect_uri("https://client.example/cb", &p).is_ok());
        assert!(check_registered_redirect_uri("http://127.0.0.1:8080/cb", &p).is_ok());
        assert!(check_registered_redirect_uri("http://[::1]:8080/cb", &p).is_ok());
        assert!(check_registered_redirect_uri("http://client.example/cb", &p).is_err());
        assert!(check_registered_redirect_uri("https://client.example/cb#x", &p).is_err());
        assert!(check_registered_redirect_uri("cb", &p).is_err());
    }
}
