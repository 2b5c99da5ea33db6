//! TLS (suite research §3.9; FAPI2-SP-NET-02, NET-03, NET-06, NET-09, NET-11).

use super::Check;
use crate::model::Condition;

/// The TLS 1.2 suites FAPI 2.0 allows on server-to-server endpoints: ECDHE key exchange with
/// an AEAD cipher (FAPI2-SP-NET-06).
pub const RECOMMENDED_TLS12: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// A TLS 1.2 handshake result.
pub fn tls12(endpoint: &str, outcome: &Result<String, String>, ev: &[usize]) -> Condition {
    let c = Check::new("tls.tls12_suite", format!("TLS 1.2 to {endpoint} negotiates an ECDHE AEAD suite"))
        .req(&["FAPI2-SP-NET-02", "FAPI2-SP-NET-03", "FAPI2-SP-NET-06"])
        .expected(format!("one of {}, or TLS 1.2 refused when TLS 1.3 works", RECOMMENDED_TLS12.join(", ")))
        .evidence(ev);
    match outcome {
        Ok(suite) => c.observed(format!("negotiated {suite}")).pass(RECOMMENDED_TLS12.contains(&suite.as_str())),
        // Refusing TLS 1.2 altogether is allowed when TLS 1.3 works; the TLS 1.3 check judges that.
        Err(e) => c.info().observed(format!("TLS 1.2 handshake refused: {e}")).pass(true),
    }
}

pub fn tls13(endpoint: &str, outcome: &Result<String, String>, ev: &[usize]) -> Condition {
    Check::new("tls.tls13", format!("{endpoint} supports TLS 1.3"))
        .req(&["FAPI2-SP-NET-02", "FAPI2-SP-NET-03"])
        .warning()
        .expected("a TLS 1.3 handshake succeeds")
        .observed(match outcome {
            Ok(s) => format!("negotiated {s}"),
            Err(e) => format!("refused: {e}"),
        })
        .evidence(ev)
        .pass(outcome.is_ok())
}

/// At least one of TLS 1.2 and 1.3 works.
pub fn reachable(endpoint: &str, ok: bool, ev: &[usize]) -> Condition {
    Check::new("tls.reachable", format!("{endpoint} completes a TLS 1.2 or 1.3 handshake"))
        .req(&["FAPI2-SP-NET-01", "FAPI2-SP-NET-02"])
        .expected("a TLS 1.2 or TLS 1.3 handshake with the target's CA")
        .observed(if ok { "yes" } else { "no handshake succeeded" })
        .evidence(ev)
        .pass(ok)
}

/// A probe offering something FAPI 2.0 forbids must be refused (FAPI2-SP-NET-02, NET-03,
/// NET-06): `what` names the offer, e.g. "TLS 1.1" or "TLS 1.2 with RSA key exchange and CBC
/// suites".
pub fn probe_refused(endpoint: &str, what: &str, outcome: &Result<crate::tls_probe::ProbeOutcome, String>, ev: &[usize]) -> Condition {
    use crate::tls_probe::{ProbeOutcome, version_name};
    let c = Check::new("tls.refuses_weak_offer", format!("{endpoint} refuses a ClientHello offering only {what}"))
        .req(&["FAPI2-SP-NET-02", "FAPI2-SP-NET-03", "FAPI2-SP-NET-06"])
        .expected("an alert or a closed connection, never a ServerHello")
        .hint("a TLS terminator with a legacy compatibility profile; restrict it to TLS 1.2+ with ECDHE-AEAD suites (BCP 195)")
        .evidence(ev);
    match outcome {
        Ok(ProbeOutcome::Refused(how)) => c.observed(format!("refused ({how})")).pass(true),
        Ok(ProbeOutcome::Accepted { version, suite }) => {
            c.observed(format!("ServerHello: {} with suite 0x{suite:04X}", version_name(*version))).pass(false)
        }
        Err(e) => c.info().observed(format!("could not probe: {e}")).pass(true),
    }
}
