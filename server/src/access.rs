//! Resolving an access token presented to this server (introspection, userinfo, registration
//! management, FDX status).
//!
//! Where a token's record comes from: an opaque handle has a stored record; one of this
//! workspace's JWT access tokens (RFC 9068) is its own record once its signature, `typ`, `iss`
//! and grant claim check out — so issuing one writes nothing. A stored record always wins: that
//! is how a revoked JWT is marked (REV-06). Then the record must be unexpired and unrevoked,
//! its grant still active (a revoked refresh token or a replayed code kills every token of the
//! grant), and its client still in good standing — a deleted registration (DCM-05) or an FDX
//! client set inactive (FDX-ST-03) takes its tokens with it.

use axum::http::{HeaderMap, StatusCode, header};
use fapilab_jose::jws::CompactJws;
use serde_json::Value;

use crate::dpop::{self, Place};
use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::Peer;
use crate::protocol::mtls;
use crate::store::Kind;
use crate::store::records::{AccessTokenRecord, Confirmation, RefreshTokenRecord, secret_key};
use crate::state::AppState;
use crate::workspace::Workspace;

fn client_in_good_standing(ws: &Workspace, client_id: &str) -> bool {
    ws.client(client_id).is_some_and(|c| crate::registry::ensure_active(&c).is_ok())
}

/// Where the revocation of a self-contained JWT access token is recorded: by its `jti` from
/// the verified claims, never by the token text — an ECDSA signature has a second valid
/// encoding (s and n − s), so the same token can be spelled twice (REV-06).
pub fn revocation_key(ws: &Workspace, jti: &str) -> String {
    crate::store::records::plain_key(&ws.key, &format!("revoked-jti|{jti}"))
}

/// The record of an access token of this workspace, active or not: stored (opaque tokens), or
/// read from the verified JWT itself, marked revoked when its `jti` was revoked.
pub fn access_token_record(state: &AppState, ws: &Workspace, token: &str) -> Option<AccessTokenRecord> {
    let lookup = |key: &str| match state.records.get::<AccessTokenRecord>(Kind::AccessToken, key) {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::error!(error = %e, "access token lookup failed");
            None
        }
    };
    if let Some(stored) = lookup(&secret_key(&ws.key, token))? {
        return Some(stored);
    }
    let mut record = self_contained(ws, token)?;
    if lookup(&revocation_key(ws, &record.jti))?.is_some() {
        record.revoked = true;
    }
    Some(record)
}

/// One of our JWT access tokens, verified with the workspace's key. The subject is filled in
/// from the grant by the caller (a client_credentials token's `sub` is the client).
fn self_contained(ws: &Workspace, token: &str) -> Option<AccessTokenRecord> {
    let jws = CompactJws::parse(token).ok()?;
    if jws.typ() != Some("at+jwt") {
        return None;
    }
    jws.verify(&ws.access_token_verifier).ok()?;
    let claims = jws.claims().ok()?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss").as_deref() != Some(ws.issuer.as_str()) {
        return None;
    }
    let cnf = claims.get("cnf").and_then(Value::as_object);
    let confirmation = match (cnf.and_then(|c| c.get("jkt")), cnf.and_then(|c| c.get("x5t#S256"))) {
        (Some(Value::String(jkt)), None) => Confirmation::Jkt(jkt.clone()),
        (None, Some(Value::String(x5t))) => Confirmation::X5tS256(x5t.clone()),
        (None, None) => Confirmation::Unbound,
        _ => return None,
    };
    Some(AccessTokenRecord {
        grant_id: text(crate::issuance::GRANT_CLAIM)?,
        client_id: text("client_id")?,
        subject: None,
        scope: text("scope").unwrap_or_default(),
        jti: text("jti")?,
        cnf: confirmation,
        issued_at: number("iat")?,
        expires_at: number("exp")?,
        revoked: false,
    })
}

pub fn active_access_token(state: &AppState, ws: &Workspace, token: &str) -> Option<AccessTokenRecord> {
    let mut record = access_token_record(state, ws, token)?;
    let now = fapilab_jose::now();
    if record.revoked || record.expires_at < now || !client_in_good_standing(ws, &record.client_id) {
        return None;
    }
    let grant_key = crate::store::records::plain_key(&ws.key, &record.grant_id);
    let grant = state.records.grant_active(&grant_key).ok()??;
    if grant.client_id != record.client_id {
        return None;
    }
    if record.subject.is_none() {
        record.subject = grant.subject;
    }
    Some(record)
}

pub fn active_refresh_token(state: &AppState, ws: &Workspace, token: &str) -> Option<RefreshTokenRecord> {
    let record: RefreshTokenRecord = state.records.get(Kind::RefreshToken, &secret_key(&ws.key, token)).ok()??;
    let now = fapilab_jose::now();
    let grant_key = crate::store::records::plain_key(&ws.key, &record.grant_id);
    let retired = record.retired_until.is_some_and(|t| t < now);
    let live = !record.revoked
        && !retired
        && record.expires_at >= now
        && client_in_good_standing(ws, &record.client_id)
        && state.records.grant_active(&grant_key).ok()?.is_some();
    live.then_some(record)
}

/// A protected-resource request to this server: the token comes only in the Authorization
/// header (FAPI2-SP-RS-01, RS-02), its scheme (case-insensitive) must fit its binding, and the
/// binding is verified — DPoP proof with `ath` and matching `jkt` (DP-R-01, DP-R-02, DP-12) or
/// the connection's certificate thumbprint (MT-07). `url` is the URL the request was sent to.
pub fn challenge(ws: &Workspace, cnf: &Confirmation) -> Challenge {
    match cnf {
        Confirmation::Jkt(_) => Challenge::Dpop { algs: ws.policy.algorithm_names().join(" ") },
        Confirmation::X5tS256(_) | Confirmation::Unbound => Challenge::Bearer,
    }
}

pub fn bound_access_token(state: &AppState, ws: &Workspace, peer: &Peer, method: &str, url: &str, headers: &HeaderMap) -> OAuthResult<AccessTokenRecord> {
    let unauthorized = |code: ErrorCode, description: &str, challenge: Challenge| {
        OAuthError::new(code, description).with_status(StatusCode::UNAUTHORIZED).with_challenge(challenge)
    };
    let dpop_challenge = Challenge::Dpop { algs: ws.policy.algorithm_names().join(" ") };
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        let missing = Challenge::TokenMissing { realm: ws.issuer.clone(), algs: ws.policy.algorithm_names().join(" ") };
        return Err(unauthorized(ErrorCode::InvalidToken, "an access token is required in the Authorization header [FAPI2-SP-RS-01, OA-05, DP-R-03]", missing));
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized(ErrorCode::InvalidRequest, "the Authorization header has no token [RFC6750-2.1]", Challenge::Bearer).with_status(StatusCode::BAD_REQUEST));
    }
    let record = active_access_token(state, ws, token).ok_or_else(|| {
        unauthorized(ErrorCode::InvalidToken, "the access token is unknown, expired or revoked [FAPI2-SP-RS-03]", Challenge::Bearer)
    })?;
    match &record.cnf {
        Confirmation::Jkt(jkt) => {
            if !scheme.eq_ignore_ascii_case("dpop") {
                return Err(unauthorized(ErrorCode::InvalidToken, "a DPoP-bound access token must be sent with the DPoP scheme [DP-R-02]", dpop_challenge));
            }
            let proof = dpop::check(state, ws, headers, method, url, Some(token), Place::Resource)?.ok_or_else(|| {
                unauthorized(ErrorCode::InvalidDpopProof, "a DPoP proof is required with a DPoP-bound access token [DP-R-01]", dpop_challenge.clone())
            })?;
            if proof.jkt != *jkt {
                return Err(unauthorized(ErrorCode::InvalidDpopProof, "the DPoP proof key is not the key the access token is bound to [DP-12]", dpop_challenge));
            }
        }
        Confirmation::X5tS256(thumbprint) => {
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(unauthorized(ErrorCode::InvalidToken, "a certificate-bound access token is sent with the Bearer scheme [FAPI2-SP-CL-03]", Challenge::Bearer));
            }
            let presented = peer.client_certificate.as_ref().map(|c| mtls::thumbprint(c));
            if presented.as_deref() != Some(thumbprint.as_str()) && !state.faults.active(Fault::CertificateBinding) {
                return Err(unauthorized(ErrorCode::InvalidToken, "the access token is bound to another client certificate than this connection's [MT-07]", Challenge::Bearer));
            }
        }
        // Only under the test-only fault `sender_constraint_required`: nothing to verify.
        Confirmation::Unbound => {}
    }
    Ok(record)
}
