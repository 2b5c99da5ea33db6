//! DPoP at this server's endpoints (RFC 9449): header handling, server nonces and the
//! replay cache around the sans-IO proof check in `fapilab_jose::dpop`.

use axum::http::{HeaderMap, StatusCode};
use fapilab_jose::dpop::{self, ProofRequirements, VerifiedProof};

use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::protocol::replay::ReplayVerdict;
use crate::state::AppState;
use crate::workspace::Workspace;

/// Where the proof is checked: the answers differ (RFC 9449 §7.1 vs §5).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    AuthorizationServer,
    Resource,
}

/// Checks the `DPoP` header if there is one. `Ok(None)` when the request carries none.
pub fn check(
    state: &AppState,
    ws: &Workspace,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    place: Place,
) -> OAuthResult<Option<VerifiedProof>> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else { return Ok(None) };
    let fail = |code: ErrorCode, description: String| {
        let e = OAuthError::new(code, description);
        match place {
            Place::AuthorizationServer => e,
            Place::Resource => e
                .with_status(StatusCode::UNAUTHORIZED)
                .with_challenge(Challenge::Dpop { algs: ws.policy.algorithm_names().join(" ") }),
        }
    };
    if values.next().is_some() {
        return Err(fail(ErrorCode::InvalidDpopProof, "exactly one DPoP header is allowed [DP-01]".into()));
    }
    let proof = first
        .to_str()
        .map_err(|_| fail(ErrorCode::InvalidDpopProof, "the DPoP header is not a JWS [DP-02]".into()))?;
    let now = fapilab_jose::now();
    // Test-only faults DP-08 / DP-09: expect whatever htm / htu the proof claims.
    let claimed = |name: &str| -> Option<String> {
        let claims = fapilab_jose::jws::decode_unverified_claims(proof).ok()?;
        claims.get(name)?.as_str().map(str::to_owned)
    };
    let claimed_htm = if state.faults.active(Fault::DpopHtm) { claimed("htm") } else { None };
    let claimed_htu = if state.faults.active(Fault::DpopHtu) { claimed("htu") } else { None };
    let requirements = ProofRequirements {
        method: claimed_htm.as_deref().unwrap_or(method),
        url: claimed_htu.as_deref().unwrap_or(url),
        access_token: if state.faults.active(Fault::DpopAth) { None } else { access_token },
        nonce: None,
        allowed_algs: ws.policy.accepted_algorithms,
        now,
        max_future_skew: ws.policy.max_future_skew.as_secs() as i64,
        max_age: ws.policy.max_dpop_proof_age.as_secs() as i64,
    };
    let verified = dpop::verify_proof(proof, &requirements).map_err(|v| fail(ErrorCode::InvalidDpopProof, v.to_string()))?;
    if ws.settings.dpop_nonce {
        let fresh = verified.nonce.as_deref().is_some_and(|n| ws.dpop_nonce_is_current(n, now));
        if !fresh {
            return Err(fail(
                ErrorCode::UseDpopNonce,
                "this server requires a DPoP nonce: retry with the nonce from the DPoP-Nonce header [DP-10, FAPI2-SP-AS-11]".into(),
            )
            .with_dpop_nonce(ws.dpop_nonce(now)));
        }
    }
    let key = format!("{}|{}|{}", ws.key, verified.jkt, verified.jti);
    let expires = verified.iat + requirements.max_age + requirements.max_future_skew;
    match state.dpop_replay.check_and_insert(key, expires, now) {
        ReplayVerdict::Fresh => Ok(Some(verified)),
        ReplayVerdict::Replayed if state.faults.active(Fault::DpopJtiReplay) => Ok(Some(verified)),
        ReplayVerdict::Replayed => Err(fail(ErrorCode::InvalidDpopProof, "DPoP proof jti was already used [DP-13]".into())),
        ReplayVerdict::Full => Err(OAuthError::overloaded("DPoP replay cache is full")),
    }
}
