//! Finishing an authorization request: consuming the pushed request (FAPI2-SP-AZ-15) and
//! answering the client at its validated redirect URI by 303 (AZ-10, AZ-11) with a code or an
//! error, `state`, and always `iss` (FAPI2-SP-AZ-07, RFC 9207) — in the query; in the fragment
//! for the hybrid `code id_token`, with the ID token as detached signature (A-IDT-04, A-IDT-05);
//! or, in a JARM response mode, all of them inside one signed (optionally encrypted) JWT
//! (MS-JARM-03, A-JARM-01) delivered in the query, the fragment or a form post (MS-JARM-06).
//! Used by the consent form and by `prompt=none` at the authorization endpoint.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::issuance::{self, IdTokenClaims};
use crate::pages;
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{AuthorizationCode, Consent, PushedRequest, Session, plain_key, secret_key};
use crate::workspace::{Client, Workspace};

pub enum Outcome<'a> {
    Approved(&'a Session),
    Refused { error: &'static str, description: &'static str },
}

/// Marks the pushed request used; an error page if it was used already. Its lifetime was
/// checked when the authorization page loaded; the interaction that followed has its own.
pub fn consume(state: &AppState, ws: &Workspace, handle: &str) -> Result<PushedRequest, Response> {
    let before = state.records.modify::<PushedRequest>(Kind::PushedRequest, &plain_key(&ws.key, handle), |p| {
        if p.used && !state.faults.active(Fault::RequestUriSingleUse) {
            return false;
        }
        p.used = true;
        true
    });
    match before {
        Ok(Some(p)) if !p.used || state.faults.active(Fault::RequestUriSingleUse) => Ok(p),
        Ok(_) => Err(pages::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_uri",
            "the authorization request was already used or is unknown [FAPI2-SP-AZ-15]",
        )),
        Err(e) => Err(OAuthError::server(e).into_response()),
    }
}

/// Whether the user already consented to every scope of this request for this client.
pub fn has_consent(state: &AppState, ws: &Workspace, subject: &str, pushed: &PushedRequest) -> bool {
    let key = plain_key(&ws.key, &format!("{subject}|{}", pushed.client_id));
    let Ok(Some(consent)) = state.records.get::<Consent>(Kind::Consent, &key) else { return false };
    let granted: Vec<&str> = consent.scope.split_whitespace().collect();
    pushed.params.scope.split_whitespace().all(|s| granted.contains(&s))
}

pub fn respond(state: &AppState, ws: &Workspace, pushed: &PushedRequest, outcome: Outcome<'_>) -> Response {
    let Some(client) = ws.client(&pushed.client_id) else {
        return pages::error(StatusCode::BAD_REQUEST, "invalid_request", "the client of this request no longer exists");
    };
    let mut params: Vec<(&str, String)> = Vec::new();
    let outcome = match outcome {
        // OIDC §5.5.1.1: a sign-in that did not reach an essential `acr` is a failed
        // authentication, not a grant at a lower level (INT-PK-01).
        Outcome::Approved(session) if !meets_essential_acr(pushed, session) => Outcome::Refused {
            error: "unmet_authentication_requirements",
            description: "the sign-in did not reach an acr the request marked essential [OIDC-5.5.1.1]",
        },
        other => other,
    };
    match outcome {
        Outcome::Approved(session) => match issue_code(state, ws, pushed, session) {
            Ok(code) => {
                tracing::info!(client_id = %pushed.client_id, "authorization approved");
                if ws.policy.response_rule(&pushed.params.response_type).is_some_and(|r| r.returns_id_token()) {
                    match detached_id_token(state, ws, &client, pushed, session, &code) {
                        Ok(id_token) => params.push(("id_token", id_token)),
                        Err(e) => return e.into_response(),
                    }
                }
                params.push(("code", code));
            }
            Err(e) => return e.into_response(),
        },
        Outcome::Refused { error, description } => {
            tracing::info!(client_id = %pushed.client_id, error, "authorization refused");
            params.push(("error", error.into()));
            params.push(("error_description", description.into()));
        }
    }
    if let Some(s) = &pushed.params.state {
        params.push(("state", s.clone()));
    }
    let with_iss = !state.faults.active(Fault::IssParameter);
    let is_error = params.iter().any(|(k, _)| *k == "error");
    let redirect_uri = &pushed.params.redirect_uri;
    match pushed.params.response_mode.as_deref() {
        // OIDC §3.3.2.5 / A-AS-22: a hybrid response (and its errors) in the fragment.
        Some("fragment") => see_other(&format!("{redirect_uri}#{}", encode(ws, &params, with_iss))),
        Some(_) if is_error && state.faults.active(Fault::JarmErrorPlain) => redirect(ws, redirect_uri, &params, with_iss),
        Some(mode) => match jarm_response(state, ws, &client, pushed, &params) {
            Ok(jwt) => deliver_jwt(redirect_uri, mode, &jwt),
            Err(e) => e.into_response(),
        },
        None => redirect(ws, redirect_uri, &params, with_iss),
    }
}

/// A-IDT-04, A-IDT-05 (OIDC §3.3.2.11): the ID token of a hybrid response is a detached
/// signature over the response — `c_hash` of the code, `s_hash` of the state, the request's
/// `nonce` — for the client only.
fn detached_id_token(state: &AppState, ws: &Workspace, client: &Client, pushed: &PushedRequest, session: &Session, code: &str) -> OAuthResult<String> {
    let faults = &state.faults;
    let alg = ws.signing_key.algorithm();
    let mut hashes = Vec::new();
    if !faults.active(Fault::HybridCHash) {
        hashes.push(("c_hash", fapilab_jose::id_token_hash(alg, code)));
    }
    if let Some(s) = &pushed.params.state
        && !faults.active(Fault::HybridSHash)
    {
        hashes.push(("s_hash", fapilab_jose::id_token_hash(alg, s)));
    }
    let acr = granted_acr(session);
    let audience = if faults.active(Fault::FrontChannelIdTokenAudience) { ws.issuer.as_str() } else { client.client_id.as_str() };
    let claims = IdTokenClaims {
        subject: &session.subject,
        audience,
        auth_time: Some(session.auth_time),
        acr: acr.as_deref(),
        amr: &session.amr,
        nonce: pushed.params.nonce.as_deref().filter(|_| !faults.active(Fault::HybridIdTokenNonce)),
        hashes,
    };
    issuance::id_token(ws, client, &claims)
}

fn encode(ws: &Workspace, params: &[(&str, String)], with_iss: bool) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        out.append_pair(k, v);
    }
    if with_iss {
        out.append_pair("iss", &ws.issuer);
    }
    out.finish()
}

/// JARM response lifetime (MS-JARM-03 recommends at most 10 minutes).
const JARM_LIFETIME: i64 = 300;

/// MS-JARM-03: the response parameters, `iss`, `aud` = the client and `exp`, signed with the
/// workspace key (MS-JARM-04) and, when the client registered it, encrypted to the client
/// (JARM §2.2, MS-JARM-05).
fn jarm_response(state: &AppState, ws: &Workspace, client: &Client, pushed: &PushedRequest, params: &[(&str, String)]) -> Result<String, OAuthError> {
    let now = fapilab_jose::now();
    let mut claims = serde_json::Map::new();
    if !state.faults.active(Fault::JarmIss) {
        claims.insert("iss".into(), json!(ws.issuer));
    }
    let audience = if state.faults.active(Fault::JarmAud) { ws.issuer.clone() } else { pushed.client_id.clone() };
    claims.insert("aud".into(), json!(audience));
    claims.insert("iat".into(), json!(now));
    if !state.faults.active(Fault::JarmExp) {
        claims.insert("exp".into(), json!(now + JARM_LIFETIME));
    }
    for (k, v) in params {
        claims.insert((*k).to_owned(), json!(v));
    }
    let signed = fapilab_jose::jws::sign(&ws.signing_key, serde_json::Map::new(), &serde_json::Value::Object(claims)).map_err(OAuthError::server)?;
    match &client.authorization_encryption {
        Some(encryption) => encryption.seal(&signed).map_err(OAuthError::server),
        None => Ok(signed),
    }
}

/// MS-JARM-06: `jwt` means `query.jwt` for `response_type=code`.
fn deliver_jwt(redirect_uri: &str, mode: &str, jwt: &str) -> Response {
    match mode {
        "form_post.jwt" => pages::form_post(redirect_uri, "response", jwt),
        "fragment.jwt" => {
            let fragment = form_urlencoded::Serializer::new(String::new()).append_pair("response", jwt).finish();
            see_other(&format!("{redirect_uri}#{fragment}"))
        }
        _ => {
            let query = form_urlencoded::Serializer::new(String::new()).append_pair("response", jwt).finish();
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            see_other(&format!("{redirect_uri}{separator}{query}"))
        }
    }
}

fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(target) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => pages::error(StatusCode::BAD_REQUEST, "invalid_request", "the redirect URI cannot be used"),
    }
}

fn issue_code(state: &AppState, ws: &Workspace, pushed: &PushedRequest, session: &Session) -> Result<String, OAuthError> {
    let now = fapilab_jose::now();
    let code = fapilab_jose::random_token(32);
    let acr = granted_acr(session);
    let record = AuthorizationCode {
        client_id: pushed.client_id.clone(),
        params: pushed.params.clone(),
        subject: session.subject.clone(),
        auth_time: session.auth_time,
        acr,
        amr: session.amr.clone(),
        expires_at: now + ws.settings.code_lifetime as i64,
        redeemed_grant: None,
    };
    // Kept past its expiry so that a late second redemption is still recognised as reuse.
    let keep_until = record.expires_at + ws.settings.refresh_token_lifetime as i64;
    state.records.put(Kind::Code, &secret_key(&ws.key, &code), Some(keep_until), &record).map_err(OAuthError::server)?;
    let consent = Consent { scope: pushed.params.scope.clone(), granted_at: now };
    let consent_key = plain_key(&ws.key, &format!("{}|{}", session.subject, pushed.client_id));
    state.records.put(Kind::Consent, &consent_key, None, &consent).map_err(OAuthError::server)?;
    Ok(code)
}

/// Whether the session's `acr` is one of those the request marked essential (if any).
pub fn meets_essential_acr(pushed: &PushedRequest, session: &Session) -> bool {
    pushed.params.essential_acr.as_ref().is_none_or(|wanted| wanted.contains(&session.acr))
}

/// The `acr` of the way the user signed in (`acr_by_method`, INT-PK-01) — never a requested
/// value the sign-in did not reach. An essential request no supported value can meet was
/// refused with the request (OIDC §5.5.1.1, `authorization_request`).
fn granted_acr(session: &Session) -> Option<String> {
    Some(session.acr.clone()).filter(|a| !a.is_empty())
}

fn redirect(ws: &Workspace, redirect_uri: &str, params: &[(&str, String)], with_iss: bool) -> Response {
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    see_other(&format!("{redirect_uri}{separator}{}", encode(ws, params, with_iss)))
}
