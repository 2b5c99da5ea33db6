//! DPoP proofs (RFC 9449): creating them and checking them as a receiver.
//!
//! The module is sans-IO: it never looks at HTTP messages, clocks or storage.
//! The caller passes the request method, its external URL, the current time,
//! and the nonce and access token it expects, and keeps the `jti` replay
//! cache (DP-13) and the nonce rotation itself. Checking the proof key
//! against a token's `cnf.jkt` (DP-12) is done by the caller with
//! [`VerifiedProof::jkt`].
//!
//! [`verify_proof`] performs the checks of RFC 9449 §4.3 in the order the RFC
//! lists them and reports the first failure as a [`DpopViolation`], whose
//! `Display` text is a client-safe sentence ending in the requirement id
//! from the project's spec digest (DP-02 … DP-12, FAPI2-SP-CR-04,
//! FAPI2-SP-AS-14). Per DP-14 unknown header members and claims are
//! ignored. Per RFC 8725 §3.11 the proof is explicitly typed (`typ`
//! `dpop+jwt`), so no other kind of JWT can be replayed as a proof.
//!
//! `htu` is compared after [`normalize_htu`] (RFC 9449 §4.3 check 9 asks for
//! the syntax- and scheme-based normalization of RFC 3986 §6.2.2 and §6.2.3).

use serde_json::{Map, Value};

use crate::error::printable;
use crate::{Algorithm, JoseError, Jwk, SigningKey};

/// The `typ` header value of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// FAPI 2.0 default for how far `iat` may lie in the future, in seconds
/// (FAPI2-SP-AS-14 requires accepting 10 s and rejecting more than 60 s).
pub const DEFAULT_MAX_FUTURE_SKEW: i64 = 10;
/// Default for how old a proof may be, in seconds (DP-11 suggests 60–300 s).
pub const DEFAULT_MAX_AGE: i64 = 60;

/// Creates a DPoP proof JWT for one request.
///
/// The header carries `typ` `dpop+jwt`, the key's `alg` and the public key as
/// `jwk` (required members only); the claims are `jti`, `htm`, `htu`, `iat`,
/// plus `ath` (RFC 9449 §4.2) when `access_token` is given and `nonce` when
/// a server nonce is given. `htu` is used verbatim, so pass the target URI
/// without query and fragment.
pub fn create_proof(
    key: &SigningKey,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    iat: i64,
    jti: &str,
) -> Result<String, JoseError> {
    let mut header = Map::new();
    header.insert("typ".into(), Value::String(DPOP_TYP.into()));
    header.insert("jwk".into(), key.public_jwk().to_minimal_value());
    let mut claims = Map::new();
    claims.insert("jti".into(), Value::String(jti.into()));
    claims.insert("htm".into(), Value::String(htm.into()));
    claims.insert("htu".into(), Value::String(htu.into()));
    claims.insert("iat".into(), Value::from(iat));
    if let Some(token) = access_token {
        claims.insert("ath".into(), Value::String(ath(token)));
    }
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), Value::String(nonce.into()));
    }
    crate::jws::sign_exact(key, header, &Value::Object(claims))
}

/// The `ath` value for an access token: BASE64URL(SHA-256(ASCII(token)))
/// (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    crate::sha256_b64url(access_token.as_bytes())
}

/// Normalizes an absolute `http`/`https` URL for `htu` comparison.
///
/// Scheme and host are lowercased, the scheme's default port (443 / 80) and
/// an empty port are removed, query and fragment are dropped, percent
/// escapes get uppercase hex and unreserved characters are decoded, dot
/// segments are removed and an empty path becomes `/`. URLs with user info,
/// other schemes, characters outside RFC 3986 or malformed escapes give
/// `None`.
pub fn normalize_htu(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443u16,
        "http" => 80u16,
        _ => return None,
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let rest = rest.split('?').next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = split_authority(authority)?;
    let port = match port {
        None | Some("") => None,
        Some(digits) => {
            if digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let port: u16 = digits.parse().ok()?;
            (port != default_port).then_some(port)
        }
    };
    let path = normalize_path(path)?;
    let mut out = format!("{scheme}://{host}");
    if let Some(port) = port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(&path);
    Some(out)
}

/// Splits `host[:port]`, validating and lowercasing the host.
fn split_authority(authority: &str) -> Option<(String, Option<&str>)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']')?;
        let literal = &inner[..close];
        let after = &inner[close + 1..];
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{}]", literal.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if host.is_empty() || !host.bytes().all(valid) {
            return None;
        }
        (host.to_ascii_lowercase(), port)
    };
    Some((host, port))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encoding normalization and dot-segment removal of a path
/// (RFC 3986 §6.2.2.1, §6.2.2.2, §5.2.4).
fn normalize_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("/".into());
    }
    let bytes = path.as_bytes();
    let mut cleaned = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(hex, 16).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            if is_unreserved(value) {
                cleaned.push(char::from(value));
            } else {
                cleaned.push_str(&format!("%{value:02X}"));
            }
            i += 3;
            continue;
        }
        let allowed = is_unreserved(b)
            || matches!(
                b,
                b'/' | b':'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if !allowed {
            return None;
        }
        cleaned.push(char::from(b));
        i += 1;
    }
    Some(remove_dot_segments(&cleaned))
}

fn remove_dot_segments(path: &str) -> String {
    let body = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = body.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// What the receiver expects of a proof.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequirements<'a> {
    /// The HTTP method of the request, e.g. `POST` (compared exactly, DP-08).
    pub method: &'a str,
    /// The request's target URI as the client sees it (the configured
    /// external URL, DP-09); compared after [`normalize_htu`].
    pub url: &'a str,
    /// The access token presented with the request; when set, `ath` is
    /// required and must match it (DP-12).
    pub access_token: Option<&'a str>,
    /// The nonce the server demands; when set, the `nonce` claim is required
    /// and must equal it (DP-10).
    pub nonce: Option<&'a str>,
    /// Accepted signature algorithms (DP-05, FAPI2-SP-CR-02).
    pub allowed_algs: &'a [Algorithm],
    /// Current time, Unix seconds.
    pub now: i64,
    /// How many seconds `iat` may lie in the future (DP-11, FAPI2-SP-AS-14).
    pub max_future_skew: i64,
    /// How many seconds old a proof may be (DP-11).
    pub max_age: i64,
}

impl<'a> ProofRequirements<'a> {
    /// Requirements for `method` and `url` at time `now`, with all three
    /// algorithms, no access token, no nonce, and the default time window.
    pub fn new(method: &'a str, url: &'a str, now: i64) -> Self {
        ProofRequirements {
            method,
            url,
            access_token: None,
            nonce: None,
            allowed_algs: &Algorithm::ALL,
            now,
            max_future_skew: DEFAULT_MAX_FUTURE_SKEW,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof key (compare with `cnf.jkt`).
    pub jkt: String,
    /// The `jti` claim, for the caller's replay cache (DP-13).
    pub jti: String,
    /// The `iat` claim.
    pub iat: i64,
    /// The proof key.
    pub jwk: Jwk,
    /// The `nonce` claim, if the proof has one (whether or not it was
    /// required), so callers accepting several live nonces can check it.
    pub nonce: Option<String>,
}

/// Why a DPoP proof was rejected. The `Display` text is safe to send to the
/// client and names the requirement id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopViolation {
    /// More than one `DPoP` header (detected by the caller).
    #[error("the request carries more than one DPoP header [DP-01]")]
    MultipleProofs,
    /// Not a well-formed compact JWS with a JSON object payload.
    #[error("DPoP proof is not a well-formed JWS: {0} [DP-02]")]
    Malformed(String),
    /// `typ` missing or not `dpop+jwt`.
    #[error("DPoP proof header \"typ\" must be \"dpop+jwt\" [DP-04]")]
    WrongTyp,
    /// No `alg` header.
    #[error("DPoP proof header has no \"alg\" [DP-05]")]
    MissingAlg,
    /// `alg` is `none`, symmetric, unknown or not in the allowed list.
    #[error(
        "DPoP proof alg \"{0}\" is not one of the asymmetric algorithms this server accepts [DP-05]"
    )]
    AlgorithmNotAllowed(String),
    /// No `jwk` header.
    #[error("DPoP proof header has no \"jwk\" public key [DP-06]")]
    MissingJwk,
    /// The `jwk` header contains private key members.
    #[error("DPoP proof \"jwk\" header contains private key material [DP-07]")]
    PrivateJwk,
    /// The `jwk` header is not a usable public key for the proof's `alg`.
    #[error(
        "DPoP proof \"jwk\" header is not a usable public key for the proof's alg: {0} [DP-06]"
    )]
    BadJwk(String),
    /// The `jwk` header is an RSA key under 2048 bits.
    #[error(
        "DPoP proof \"jwk\" is an RSA key of {bits} bits; at least 2048 bits are required [FAPI2-SP-CR-04]"
    )]
    WeakJwk {
        /// Modulus size of the rejected key.
        bits: usize,
    },
    /// The signature does not verify with the embedded key.
    #[error("DPoP proof signature does not verify with its \"jwk\" [DP-06]")]
    BadSignature,
    /// A required claim is absent.
    #[error("DPoP proof lacks the required \"{0}\" claim [DP-03]")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or is empty.
    #[error("DPoP proof claim \"{0}\" has the wrong type or is empty [DP-03]")]
    WrongClaimType(&'static str),
    /// `htm` differs from the request method.
    #[error("DPoP proof htm \"{htm}\" does not match the request method {method} [DP-08]")]
    HtmMismatch {
        /// The claim value.
        htm: String,
        /// The request method.
        method: String,
    },
    /// `htu` differs from the request URI.
    #[error("DPoP proof htu \"{htu}\" does not match the request URI {expected} [DP-09]")]
    HtuMismatch {
        /// The claim value.
        htu: String,
        /// The URI the server expected.
        expected: String,
    },
    /// The server demanded a nonce and the proof has none.
    #[error(
        "DPoP proof lacks the nonce the server requires; retry with the DPoP-Nonce value [DP-10]"
    )]
    MissingNonce,
    /// The proof's nonce is not the current server nonce.
    #[error(
        "DPoP proof nonce is not the current server nonce; retry with the DPoP-Nonce value [DP-10]"
    )]
    NonceMismatch,
    /// `iat` lies too far in the future.
    #[error(
        "DPoP proof iat is {ahead} s in the future; at most {limit} s is accepted [DP-11, FAPI2-SP-AS-14]"
    )]
    IatInFuture {
        /// Seconds ahead of the server clock.
        ahead: i64,
        /// The accepted maximum.
        limit: i64,
    },
    /// `iat` lies too far in the past.
    #[error("DPoP proof iat is {age} s old; at most {limit} s is accepted [DP-11]")]
    IatTooOld {
        /// Seconds behind the server clock.
        age: i64,
        /// The accepted maximum.
        limit: i64,
    },
    /// An access token was presented but the proof has no `ath`.
    #[error("DPoP proof lacks the \"ath\" claim required with an access token [DP-12]")]
    MissingAth,
    /// `ath` is not the hash of the presented access token.
    #[error("DPoP proof ath does not match the presented access token [DP-12]")]
    AthMismatch,
    /// The proof key is not the key the token or code is bound to (detected
    /// by the caller comparing [`VerifiedProof::jkt`]).
    #[error("DPoP proof key does not match the key the token is bound to [DP-12]")]
    KeyMismatch,
    /// The `jti` was seen before (detected by the caller's replay cache).
    #[error("DPoP proof jti has already been used [DP-13]")]
    Replayed,
}

impl DpopViolation {
    /// The requirement id the violation breaks, e.g. `DP-08`.
    pub fn requirement(&self) -> &'static str {
        match self {
            DpopViolation::MultipleProofs => "DP-01",
            DpopViolation::Malformed(_) => "DP-02",
            DpopViolation::MissingClaim(_) | DpopViolation::WrongClaimType(_) => "DP-03",
            DpopViolation::WrongTyp => "DP-04",
            DpopViolation::MissingAlg | DpopViolation::AlgorithmNotAllowed(_) => "DP-05",
            DpopViolation::MissingJwk | DpopViolation::BadJwk(_) | DpopViolation::BadSignature => {
                "DP-06"
            }
            DpopViolation::PrivateJwk => "DP-07",
            DpopViolation::WeakJwk { .. } => "FAPI2-SP-CR-04",
            DpopViolation::HtmMismatch { .. } => "DP-08",
            DpopViolation::HtuMismatch { .. } => "DP-09",
            DpopViolation::MissingNonce | DpopViolation::NonceMismatch => "DP-10",
            DpopViolation::IatInFuture { .. } | DpopViolation::IatTooOld { .. } => "DP-11",
            DpopViolation::MissingAth | DpopViolation::AthMismatch | DpopViolation::KeyMismatch => {
                "DP-12"
            }
            DpopViolation::Replayed => "DP-13",
        }
    }

    /// Whether the client should be answered with `use_dpop_nonce` and a
    /// fresh `DPoP-Nonce` (RFC 9449 §8, §9) rather than `invalid_dpop_proof`.
    pub fn is_nonce_problem(&self) -> bool {
        matches!(
            self,
            DpopViolation::MissingNonce | DpopViolation::NonceMismatch
        )
    }

    /// The OAuth error code for the response: `use_dpop_nonce` or
    /// `invalid_dpop_proof`.
    pub fn error_code(&self) -> &'static str {
        if self.is_nonce_problem() {
            "use_dpop_nonce"
        } else {
            "invalid_dpop_proof"
        }
    }
}

/// Checks a DPoP proof against the request (RFC 9449 §4.3, DP-02 … DP-12
/// and DP-14). Replay (DP-13) and key binding (DP-12 `cnf.jkt`) are left to
/// the caller.
pub fn verify_proof(proof: &str, req: &ProofRequirements) -> Result<VerifiedProof, DpopViolation> {
    let jws = crate::jws::CompactJws::parse(proof).map_err(malformed)?;
    let claims = jws.claims().map_err(malformed)?;
    let header = jws.header();

    // Required claims present and of the right type (DP-03).
    let jti = match claims.get("jti") {
        None => return Err(DpopViolation::MissingClaim("jti")),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(DpopViolation::WrongClaimType("jti")),
    };
    let htm = string_claim(&claims, "htm")?;
    let htu = string_claim(&claims, "htu")?;
    let iat = match claims.get("iat") {
        None => return Err(DpopViolation::MissingClaim("iat")),
        Some(value) => numeric_date(value).ok_or(DpopViolation::WrongClaimType("iat"))?,
    };

    // typ (DP-04).
    if header.get("typ").and_then(Value::as_str) != Some(DPOP_TYP) {
        return Err(DpopViolation::WrongTyp);
    }

    // alg (DP-05).
    let alg = match header.get("alg") {
        None => return Err(DpopViolation::MissingAlg),
        Some(Value::String(name)) => match name.parse::<Algorithm>() {
            Ok(alg) if req.allowed_algs.contains(&alg) => alg,
            _ => return Err(DpopViolation::AlgorithmNotAllowed(printable(name))),
        },
        Some(other) => {
            return Err(DpopViolation::AlgorithmNotAllowed(printable(
                &other.to_string(),
            )));
        }
    };

    // jwk: present (DP-06), public only (DP-07), usable for alg.
    let jwk_value = header.get("jwk").ok_or(DpopViolation::MissingJwk)?;
    if Jwk::contains_private_members(jwk_value) {
        return Err(DpopViolation::PrivateJwk);
    }
    let jwk = match Jwk::from_value(jwk_value) {
        Ok(jwk) => jwk,
        Err(JoseError::WeakRsaKey { bits }) => return Err(DpopViolation::WeakJwk { bits }),
        Err(other) => return Err(DpopViolation::BadJwk(other.to_string())),
    };
    if !jwk.supports(alg) {
        let reason = if jwk.key_algorithm() == alg {
            format!("its \"alg\" or \"use\" member excludes {alg}")
        } else {
            format!("a key of type {} cannot make {alg} signatures", jwk.kty())
        };
        return Err(DpopViolation::BadJwk(reason));
    }

    // Signature (DP-06).
    jwk.verify(alg, jws.signing_input(), jws.signature())
        .map_err(|_| DpopViolation::BadSignature)?;

    // htm (DP-08).
    if htm != req.method {
        return Err(DpopViolation::HtmMismatch {
            htm: printable(&htm),
            method: printable(req.method),
        });
    }

    // htu (DP-09).
    let expected = normalize_htu(req.url);
    if expected.is_none() || normalize_htu(&htu) != expected {
        return Err(DpopViolation::HtuMismatch {
            htu: printable(&htu),
            expected: printable(req.url),
        });
    }

    // nonce (DP-10).
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(DpopViolation::WrongClaimType("nonce")),
    };
    if let Some(expected) = req.nonce {
        match nonce.as_deref() {
            None => return Err(DpopViolation::MissingNonce),
            Some(got) if !constant_time_eq(got, expected) => {
                return Err(DpopViolation::NonceMismatch);
            }
            Some(_) => {}
        }
    }

    // iat window (DP-11, FAPI2-SP-AS-14).
    let ahead = iat.saturating_sub(req.now);
    if ahead > req.max_future_skew {
        return Err(DpopViolation::IatInFuture {
            ahead,
            limit: req.max_future_skew,
        });
    }
    let age = req.now.saturating_sub(iat);
    if age > req.max_age {
        return Err(DpopViolation::IatTooOld {
            age,
            limit: req.max_age,
        });
    }

    // ath (DP-12).
    if let Some(token) = req.access_token {
        match claims.get("ath") {
            None => return Err(DpopViolation::MissingAth),
            Some(Value::String(got)) => {
                if !constant_time_eq(got, &ath(token)) {
                    return Err(DpopViolation::AthMismatch);
                }
            }
            Some(_) => return Err(DpopViolation::WrongClaimType("ath")),
        }
    }

    Ok(VerifiedProof {
        jkt: jwk.thumbprint(),
        jti,
        iat,
        jwk,
        nonce,
    })
}

/// The detail of a parse failure, without the generic "malformed JWS" prefix.
fn malformed(error: JoseError) -> DpopViolation {
    let detail = match error {
        JoseError::MalformedJws(detail) => detail,
        JoseError::CriticalHeader => {
            "it has a \"crit\" header, and no JWS extension is understood here".into()
        }
        JoseError::ClaimsNotObject => "the payload is not a JSON object".into(),
        other => other.to_string(),
    };
    DpopViolation::Malformed(detail)
}

fn string_claim(claims: &Map<String, Value>, name: &'static str) -> Result<String, DpopViolation> {
    match claims.get(name) {
        None => Err(DpopViolation::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(DpopViolation::WrongClaimType(name)),
    }
}

/// A JSON number as whole Unix seconds (RFC 7519 §2 NumericDate may carry
/// a fraction, which is truncated toward negative infinity).
fn numeric_date(value: &Value) -> Option<i64> {
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = value.as_f64()?;
    let floor = f.floor();
    // i64 range check; values outside it cannot be meaningful times.
    if (-9.0e18..=9.0e18).contains(&floor) {
        Some(floor as i64)
    } else {
        None
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;
    use crate::test_support::key;
    use serde_json::json;

    const NOW: i64 = 1_750_000_000;
    const URL: &str = "https://as.example.com/token";

    fn req() -> ProofRequirements<'static> {
        ProofRequirements::new("POST", URL, NOW)
    }

    fn proof(alg: Algorithm) -> String {
        create_proof(key(alg), "POST", URL, None, None, NOW, "jti-1").unwrap()
    }

    fn std_header(k: &SigningKey) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("typ".into(), json!(DPOP_TYP));
        h.insert("jwk".into(), k.public_jwk().to_minimal_value());
        h
    }

    fn std_claims() -> Map<String, Value> {
        json!({"jti": "jti-1", "htm": "POST", "htu": URL, "iat": NOW})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Signs a proof after letting the test edit header and claims.
    fn craft(edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let k = key(Algorithm::Es256);
        let mut header = std_header(k);
        let mut claims = std_claims();
        edit(&mut header, &mut claims);
        crate::jws::sign_exact(k, header, &Value::Object(claims)).unwrap()
    }

    fn rejects(proof: &str, req: &ProofRequirements, expected: DpopViolation) {
        let got = verify_proof(proof, req).unwrap_err();
        assert_eq!(got, expected);
        let text = got.to_string();
        assert!(text.contains(got.requirement()), "{text}");
    }

    #[test]
    fn valid_proofs_for_all_algorithms() {
        for alg in Algorithm::ALL {
            let verified = verify_proof(&proof(alg), &req()).unwrap();
            assert_eq!(verified.jkt, key(alg).thumbprint());
            assert_eq!(verified.jti, "jti-1");
            assert_eq!(verified.iat, NOW);
            assert_eq!(verified.nonce, None);
            assert_eq!(verified.jwk.thumbprint(), verified.jkt);
        }
    }

    #[test]
    fn created_proof_has_the_rfc9449_shape() {
        let p = create_proof(
            key(Algorithm::Es256),
            "GET",
            URL,
            Some("at"),
            Some("n1"),
            NOW,
            "j",
        )
        .unwrap();
        let jws = crate::jws::CompactJws::parse(&p).unwrap();
        assert_eq!(jws.typ(), Some("dpop+jwt"));
        assert_eq!(jws.kid(), None);
        let jwk = jws.header()["jwk"].as_object().unwrap();
        assert_eq!(jwk.len(), 4);
        assert!(!jwk.contains_key("d"));
        let claims = jws.claims().unwrap();
        assert_eq!(claims["ath"], json!(ath("at")));
        assert_eq!(claims["nonce"], json!("n1"));
        assert_eq!(claims["htm"], json!("GET"));
    }

    #[test]
    fn ath_matches_rfc9449_example() {
        // RFC 9449 §7.1.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn jkt_matches_rfc9449_example() {
        // RFC 9449 §6.1.
        let jwk = Jwk::from_value(&json!({
            "kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn dp14_unknown_members_are_ignored_and_htu_is_normalized() {
        let p = craft(|h, c| {
            h.insert("x-extra".into(), json!({"a": 1}));
            h.insert("kid".into(), json!("whatever"));
            c.insert("extra".into(), json!([1, 2]));
            c.insert(
                "htu".into(),
                json!("HTTPS://AS.example.com:443/token?x=1#frag"),
            );
        });
        verify_proof(&p, &req()).unwrap();
        // The expected URL is normalized as well.
        let r = ProofRequirements {
            url: "https://as.EXAMPLE.com/./token",
            ..req()
        };
        verify_proof(&proof(Algorithm::Es256), &r).unwrap();
    }

    #[test]
    fn violation_malformed() {
        rejects(
            "not-a-jwt",
            &req(),
            DpopViolation::Malformed(
                "a compact JWS has exactly 3 dot-separated parts, found 1".into(),
            ),
        );
        let p = proof(Algorithm::Es256);
        let parts: Vec<&str> = p.split('.').collect();
        let array_payload = format!("{}.{}.{}", parts[0], b64::encode(b"[1]"), parts[2]);
        assert!(matches!(
            verify_proof(&array_payload, &req()),
            Err(DpopViolation::Malformed(_))
        ));
        let crit = craft(|h, _| {
            h.insert("crit".into(), json!(["exp"]));
        });
        let err = verify_proof(&crit, &req()).unwrap_err();
        assert!(matches!(err, DpopViolation::Malformed(_)));
        assert!(err.to_string().contains("\"crit\""), "{err}");
    }

    #[test]
    fn violation_wrong_typ() {
        rejects(
            &craft(|h, _| {
                h.remove("typ");
            }),
            &req(),
            DpopViolation::WrongTyp,
        );
        rejects(
            &craft(|h, _| {
                h.insert("typ".into(), json!("JWT"));
            }),
            &req(),
            DpopViolation::WrongTyp,
        );
        rejects(
            &craft(|h, _| {
                h.insert("typ".into(), json!("DPoP+JWT"));
            }),
            &req(),
            DpopViolation::WrongTyp,
        );
    }

    #[test]
    fn violation_missing_alg_and_alg_not_allowed() {
        let p = proof(Algorithm::Es256);
        let parts: Vec<&str> = p.split('.').collect();
        let mut header: Value = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
        header.as_object_mut().unwrap().remove("alg");
        let no_alg = format!(
            "{}.{}.{}",
            b64::encode(header.to_string().as_bytes()),
            parts[1],
            parts[2]
        );
        rejects(&no_alg, &req(), DpopViolation::MissingAlg);
        for bad in ["none", "RS256", "HS256"] {
            header["alg"] = json!(bad);
            let forged = format!(
                "{}.{}.{}",
                b64::encode(header.to_string().as_bytes()),
                parts[1],
                parts[2]
            );
            rejects(
                &forged,
                &req(),
                DpopViolation::AlgorithmNotAllowed(bad.into()),
            );
        }
        let only_es = ProofRequirements {
            allowed_algs: &[Algorithm::Es256],
            ..req()
        };
        rejects(
            &proof(Algorithm::EdDsa),
            &only_es,
            DpopViolation::AlgorithmNotAllowed("EdDSA".into()),
        );
        verify_proof(&proof(Algorithm::Es256), &only_es).unwrap();
    }

    #[test]
    fn violation_missing_jwk() {
        rejects(
            &craft(|h, _| {
                h.remove("jwk");
            }),
            &req(),
            DpopViolation::MissingJwk,
        );
    }

    #[test]
    fn violation_private_jwk() {
        let private = key(Algorithm::Es256).to_private_jwk();
        rejects(
            &craft(|h, _| {
                h.insert("jwk".into(), private);
            }),
            &req(),
            DpopViolation::PrivateJwk,
        );
    }

    #[test]
    fn violation_bad_jwk() {
        let p = craft(|h, _| {
            h.insert("jwk".into(), json!("not an object"));
        });
        assert!(matches!(
            verify_proof(&p, &req()),
            Err(DpopViolation::BadJwk(_))
        ));
        let p = craft(|h, _| {
            h.insert(
                "jwk".into(),
                json!({"kty": "EC", "crv": "P-384", "x": "AQ", "y": "AQ"}),
            );
        });
        assert!(matches!(
            verify_proof(&p, &req()),
            Err(DpopViolation::BadJwk(_))
        ));
        // An Ed25519 key in a proof signed with ES256.
        let ed = key(Algorithm::EdDsa).public_jwk().to_minimal_value();
        let p = craft(|h, _| {
            h.insert("jwk".into(), ed);
        });
        let err = verify_proof(&p, &req()).unwrap_err();
        assert_eq!(
            err,
            DpopViolation::BadJwk("a key of type OKP cannot make ES256 signatures".into())
        );
        let mut tagged = key(Algorithm::Es256).public_jwk().to_minimal_value();
        tagged["use"] = json!("enc");
        let p = craft(|h, _| {
            h.insert("jwk".into(), tagged);
        });
        let err = verify_proof(&p, &req()).unwrap_err();
        assert_eq!(err.requirement(), "DP-06");
        assert!(err.to_string().contains("excludes ES256"), "{err}");
    }

    #[test]
    fn violation_weak_jwk() {
        let weak = json!({"kty": "RSA", "n": b64::encode(&[0xC1; 128]), "e": "AQAB"});
        let p = craft(|h, _| {
            h.insert("jwk".into(), weak);
        });
        rejects(&p, &req(), DpopViolation::WeakJwk { bits: 1024 });
    }

    #[test]
    fn violation_bad_signature() {
        // Signed by one EC key, carrying another EC key.
        let other = SigningKey::generate(Algorithm::Es256, None)
            .unwrap()
            .public_jwk()
            .to_minimal_value();
        rejects(
            &craft(|h, _| {
                h.insert("jwk".into(), other);
            }),
            &req(),
            DpopViolation::BadSignature,
        );
        let p = proof(Algorithm::Ps256);
        let (head, _) = p.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", b64::encode(&[0u8; 256]));
        rejects(&forged, &req(), DpopViolation::BadSignature);
    }

    #[test]
    fn violation_missing_claims() {
        for name in ["jti", "htm", "htu", "iat"] {
            let p = craft(|_, c| {
                c.remove(name);
            });
            let expected = DpopViolation::MissingClaim(match name {
                "jti" => "jti",
                "htm" => "htm",
                "htu" => "htu",
                _ => "iat",
            });
            rejects(&p, &req(), expected);
        }
    }

    #[test]
    fn violation_wrong_claim_types() {
        rejects(
            &craft(|_, c| {
                c.insert("jti".into(), json!(5));
            }),
            &req(),
            DpopViolation::WrongClaimType("jti"),
        );
        rejects(
            &craft(|_, c| {
                c.insert("jti".into(), json!(""));
            }),
            &req(),
            DpopViolation::WrongClaimType("jti"),
        );
        rejects(
            &craft(|_, c| {
                c.insert("htm".into(), json!(["POST"]));
            }),
            &req(),
            DpopViolation::WrongClaimType("htm"),
        );
        rejects(
            &craft(|_, c| {
                c.insert("htu".into(), json!(null));
            }),
            &req(),
            DpopViolation::WrongClaimType("htu"),
        );
        rejects(
            &craft(|_, c| {
                c.insert("iat".into(), json!("1750000000"));
            }),
            &req(),
            DpopViolation::WrongClaimType("iat"),
        );
        rejects(
            &craft(|_, c| {
                c.insert("nonce".into(), json!(1));
            }),
            &req(),
            DpopViolation::WrongClaimType("nonce"),
        );
        let with_at = ProofRequirements {
            access_token: Some("at"),
            ..req()
        };
        rejects(
            &craft(|_, c| {
                c.insert("ath".into(), json!(1));
            }),
            &with_at,
            DpopViolation::WrongClaimType("ath"),
        );
        // A fractional iat is a valid NumericDate.
        verify_proof(
            &craft(|_, c| {
                c.insert("iat".into(), json!(NOW as f64 + 0.5));
            }),
            &req(),
        )
        .unwrap();
    }

    #[test]
    fn violation_htm_mismatch() {
        let p = craft(|_, c| {
            c.insert("htm".into(), json!("PUT"));
        });
        let r = ProofRequirements {
            method: "GET",
            ..req()
        };
        rejects(
            &p,
            &r,
            DpopViolation::HtmMismatch {
                htm: "PUT".into(),
                method: "GET".into(),
            },
        );
        assert_eq!(
            verify_proof(&p, &r).unwrap_err().to_string(),
            "DPoP proof htm \"PUT\" does not match the request method GET [DP-08]"
        );
        // Methods are case-sensitive.
        let lower = craft(|_, c| {
            c.insert("htm".into(), json!("post"));
        });
        assert!(matches!(
            verify_proof(&lower, &req()),
            Err(DpopViolation::HtmMismatch { .. })
        ));
    }

    #[test]
    fn violation_htu_mismatch() {
        for other in [
            "https://as.example.com/par",
            "http://as.example.com/token",
            "https://as.example.com:8443/token",
            "/token",
            "not a url",
        ] {
            let p = craft(|_, c| {
                c.insert("htu".into(), json!(other));
            });
            rejects(
                &p,
                &req(),
                DpopViolation::HtuMismatch {
                    htu: other.into(),
                    expected: URL.into(),
                },
            );
        }
        // A server URL that cannot be normalized never matches.
        let r = ProofRequirements {
            url: "ftp://as.example.com/token",
            ..req()
        };
        assert!(matches!(
            verify_proof(&proof(Algorithm::Es256), &r),
            Err(DpopViolation::HtuMismatch { .. })
        ));
    }

    #[test]
    fn violation_nonce() {
        let r = ProofRequirements {
            nonce: Some("n-2"),
            ..req()
        };
        let missing = verify_proof(&proof(Algorithm::Es256), &r).unwrap_err();
        assert_eq!(missing, DpopViolation::MissingNonce);
        assert!(missing.is_nonce_problem());
        assert_eq!(missing.error_code(), "use_dpop_nonce");
        let old = create_proof(
            key(Algorithm::Es256),
            "POST",
            URL,
            None,
            Some("n-1"),
            NOW,
            "j",
        )
        .unwrap();
        let mismatch = verify_proof(&old, &r).unwrap_err();
        assert_eq!(mismatch, DpopViolation::NonceMismatch);
        assert!(mismatch.is_nonce_problem());
        let fresh = create_proof(
            key(Algorithm::Es256),
            "POST",
            URL,
            None,
            Some("n-2"),
            NOW,
            "j",
        )
        .unwrap();
        assert_eq!(
            verify_proof(&fresh, &r).unwrap().nonce.as_deref(),
            Some("n-2")
        );
        // Without a demanded nonce the claim is reported, not checked.
        assert_eq!(
            verify_proof(&old, &req()).unwrap().nonce.as_deref(),
            Some("n-1")
        );
        assert!(!DpopViolation::BadSignature.is_nonce_problem());
        assert_eq!(
            DpopViolation::BadSignature.error_code(),
            "invalid_dpop_proof"
        );
    }

    #[test]
    fn violation_iat_window() {
        let at = |iat: i64| {
            create_proof(key(Algorithm::Es256), "POST", URL, None, None, iat, "j").unwrap()
        };
        // FAPI2-SP-AS-14: +9 s accepted, +61 s rejected (here with a 10 s window).
        verify_proof(&at(NOW + 9), &req()).unwrap();
        verify_proof(&at(NOW + 10), &req()).unwrap();
        rejects(
            &at(NOW + 11),
            &req(),
            DpopViolation::IatInFuture {
                ahead: 11,
                limit: 10,
            },
        );
        let lenient = ProofRequirements {
            max_future_skew: 60,
            ..req()
        };
        verify_proof(&at(NOW + 60), &lenient).unwrap();
        rejects(
            &at(NOW + 61),
            &lenient,
            DpopViolation::IatInFuture {
                ahead: 61,
                limit: 60,
            },
        );
        rejects(
            &at(NOW + 3600),
            &req(),
            DpopViolation::IatInFuture {
                ahead: 3600,
                limit: 10,
            },
        );
        // DP-14: an hour old is rejected.
        verify_proof(&at(NOW - 60), &req()).unwrap();
        rejects(
            &at(NOW - 3600),
            &req(),
            DpopViolation::IatTooOld {
                age: 3600,
                limit: 60,
            },
        );
        rejects(
            &at(i64::MIN),
            &req(),
            DpopViolation::IatTooOld {
                age: i64::MAX,
                limit: 60,
            },
        );
        let err = verify_proof(&at(NOW + 75), &req()).unwrap_err().to_string();
        assert!(err.contains("FAPI2-SP-AS-14"), "{err}");
    }

    #[test]
    fn violation_ath() {
        let r = ProofRequirements {
            access_token: Some("token-A"),
            ..req()
        };
        rejects(&proof(Algorithm::Es256), &r, DpopViolation::MissingAth);
        let wrong = create_proof(
            key(Algorithm::Es256),
            "POST",
            URL,
            Some("token-B"),
            None,
            NOW,
            "j",
        )
        .unwrap();
        rejects(&wrong, &r, DpopViolation::AthMismatch);
        let right = create_proof(
            key(Algorithm::Es256),
            "POST",
            URL,
            Some("token-A"),
            None,
            NOW,
            "j",
        )
        .unwrap();
        verify_proof(&right, &r).unwrap();
    }

    #[test]
    fn caller_side_violations_have_ids() {
        for (v, id) in [
            (DpopViolation::MultipleProofs, "DP-01"),
            (DpopViolation::KeyMismatch, "DP-12"),
            (DpopViolation::Replayed, "DP-13"),
        ] {
            assert_eq!(v.requirement(), id);
            assert!(v.to_string().ends_with(&format!("[{id}]")), "{v}");
        }
    }

    #[test]
    fn echoed_values_are_sanitized() {
        let p = craft(|_, c| {
            c.insert("htm".into(), json!("P\"U\r\nT"));
        });
        let err = verify_proof(&p, &req()).unwrap_err().to_string();
        assert!(err.contains("\"P?U??T\""), "{err}");
    }

    #[test]
    fn normalize_htu_cases() {
        let cases = [
            (
                "https://AS.Example.com/token",
                Some("https://as.example.com/token"),
            ),
            (
                "HTTPS://as.example.com:443/token",
                Some("https://as.example.com/token"),
            ),
            (
                "https://as.example.com:/token",
                Some("https://as.example.com/token"),
            ),
            (
                "http://as.example.com:80/x",
                Some("http://as.example.com/x"),
            ),
            (
                "http://as.example.com:443/x",
                Some("http://as.example.com:443/x"),
            ),
            (
                "https://as.example.com:0443/x",
                Some("https://as.example.com/x"),
            ),
            (
                "https://as.example.com:8443",
                Some("https://as.example.com:8443/"),
            ),
            ("https://as.example.com", Some("https://as.example.com/")),
            (
                "https://as.example.com?x=1",
                Some("https://as.example.com/"),
            ),
            (
                "https://as.example.com/a/b?x=1#f",
                Some("https://as.example.com/a/b"),
            ),
            (
                "https://as.example.com/a#f?x",
                Some("https://as.example.com/a"),
            ),
            (
                "https://as.example.com/a/./b/../c",
                Some("https://as.example.com/a/c"),
            ),
            (
                "https://as.example.com/a/..",
                Some("https://as.example.com/"),
            ),
            (
                "https://as.example.com/%7euser/%2f",
                Some("https://as.example.com/~user/%2F"),
            ),
            (
                "https://as.example.com/Case/Path/",
                Some("https://as.example.com/Case/Path/"),
            ),
            (
                "https://[2001:DB8::1]:443/t",
                Some("https://[2001:db8::1]/t"),
            ),
            ("https://[::1]:8443/t", Some("https://[::1]:8443/t")),
            ("ftp://as.example.com/", None),
            ("as.example.com/token", None),
            ("https:///token", None),
            ("https://user@as.example.com/", None),
            ("https://as.example.com:99999/", None),
            ("https://as.example.com:44a/", None),
            ("https://as example.com/", None),
            ("https://as.example.com/a b", None),
            ("https://as.example.com/%zz", None),
            ("https://as.example.com/%4", None),
            ("https://as.example.com/%+1", None),
            ("https://[::1/x", None),
            ("https://[::1]x/", None),
            ("https://h\u{e9}.example/", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_htu(input).as_deref(), expected, "{input}");
        }
    }
}
