//! Server keys (suite research §3.8; FAPI2-SP-CR-02, CR-04, CR-05, CR-07).

use fapilab_jose::{Jwk, Jwks};
use serde_json::Value;

use super::Check;
use crate::model::Condition;

const ALGS: &[&str] = &["PS256", "ES256", "EdDSA"];

/// Judges a JWKS document; returns the parsed set when usable.
pub fn check(doc: &Value, ev: &[usize]) -> (Vec<Condition>, Option<Jwks>) {
    let mut out = Vec::new();
    let keys = doc.get("keys").and_then(Value::as_array);
    out.push(
        Check::new("jwks.keys", "the JWKS is an object with a non-empty keys array")
            .req(&["FAPI2-SP-CR-07"])
            .expected("{\"keys\": [ … ]}")
            .observed(keys.map(|k| format!("{} keys", k.len())).unwrap_or_else(|| "no keys array".into()))
            .evidence(ev)
            .pass(keys.is_some_and(|k| !k.is_empty())),
    );
    let Some(keys) = keys else { return (out, None) };
    let private: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| Jwk::contains_private_members(k) || k.get("k").is_some())
        .map(|(i, _)| i.to_string())
        .collect();
    out.push(
        Check::new("jwks.no_private", "no private or symmetric key material is published")
            .req(&["FAPI2-SP-CR-07"])
            .expected("public members only")
            .observed(if private.is_empty() { "public only".into() } else { format!("private members in keys {}", private.join(", ")) })
            .hint("publishing d/p/q or k gives the signing key away")
            .evidence(ev)
            .pass(private.is_empty()),
    );
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match Jwk::from_value(k) {
            Ok(j) => parsed.push(j),
            Err(e) => problems.push(format!("key {i}: {e}")),
        }
    }
    out.push(
        Check::new("jwks.parse", "every key parses as a FAPI-usable public key")
            .req(&["FAPI2-SP-CR-02", "FAPI2-SP-CR-04", "FAPI2-SP-CR-05"])
            .expected("RSA ≥ 2048 bits, EC P-256, OKP Ed25519")
            .observed(if problems.is_empty() { format!("{} keys parse", parsed.len()) } else { problems.join("; ") })
            .hint("RSA keys under 2048 bits, or curves other than P-256/Ed25519, cannot be used under FAPI 2.0")
            .evidence(ev)
            .pass(problems.is_empty()),
    );
    let kids: Vec<Option<&str>> = keys.iter().map(|k| k.get("kid").and_then(Value::as_str)).collect();
    let missing = kids.iter().filter(|k| k.is_none_or(|s| s.trim().is_empty())).count();
    let mut seen = std::collections::HashSet::new();
    let dup: Vec<&str> = kids.iter().flatten().copied().filter(|k| !seen.insert(*k)).collect();
    out.push(
        Check::new("jwks.kid", "every key has a kid, and kids are unique")
            .req(&["FAPI2-SP-CR-07"])
            .expected("a distinct non-blank kid per key")
            .observed(format!("{missing} without kid; duplicates: {}", if dup.is_empty() { "none".into() } else { dup.join(", ") }))
            .evidence(ev)
            .pass(missing == 0 && dup.is_empty()),
    );
    let bad_alg: Vec<String> =
        keys.iter().filter_map(|k| k.get("alg").and_then(Value::as_str)).filter(|a| !ALGS.contains(a)).map(str::to_owned).collect();
    out.push(
        Check::new("jwks.alg", "every key's alg, when given, is PS256, ES256 or EdDSA")
            .req(&["FAPI2-SP-CR-02"])
            .expected(ALGS.join(", "))
            .observed(if bad_alg.is_empty() { "allowed".into() } else { bad_alg.join(", ") })
            .evidence(ev)
            .pass(bad_alg.is_empty()),
    );
    let weak: Vec<String> = parsed
        .iter()
        .filter_map(|k| k.rsa_modulus_bits().filter(|b| *b < 2048).map(|b| format!("{} ({b} bits)", k.kid().unwrap_or("?"))))
        .collect();
    out.push(
        Check::new("jwks.rsa_size", "RSA keys have at least 2048 bits")
            .req(&["FAPI2-SP-CR-04"])
            .expected("≥ 2048 bits")
            .observed(if weak.is_empty() { "no weak RSA key".into() } else { weak.join(", ") })
            .evidence(ev)
            .pass(weak.is_empty()),
    );
    let set = (!parsed.is_empty()).then(|| Jwks::new(parsed));
    (out, set)
}
