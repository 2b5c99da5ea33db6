//! Pushed authorization requests (RFC 9126; FAPI2-SP-AZ-02..AZ-06, AZ-12, PAR-01..PAR-06).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::client_auth;
use crate::dpop::{self, Place};
use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::faults::{Fault, FaultSet};
use crate::http::{FormParams, OAuthForm, Peer, Ws};
use crate::profiles::{RequestObjects, SenderConstraint};
use crate::protocol::pkce;
use crate::protocol::request_object::{self, RequestKind, RequestObjectContext};
use crate::state::{AppState, SharedState};
use crate::store::Kind;
use crate::store::records::{AuthorizationParams, PushedRequest, plain_key};
use crate::workspace::{Client, Workspace};

pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// AZ-14: nonces up to 64 characters are always accepted; beyond this we refuse.
const MAX_NONCE_LENGTH: usize = 512;
/// AZ-17: `state` may be long (a JWT, > 1000 characters); the 64 KiB body limit bounds it.
const MAX_STATE_LENGTH: usize = 8192;

pub async fn push(
    axum::extract::State(state): axum::extract::State<SharedState>,
    Ws(ws): Ws,
    peer: Peer,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Result<Response, OAuthError> {
    // DPoP first: a use_dpop_nonce answer must not spend the client assertion (RFC 9449 §8).
    let url = ws.endpoint(peer.listener, "par");
    let proof = dpop::check(&state, &ws, &headers, "POST", &url, None, Place::AuthorizationServer)?;
    let authenticated = client_auth::authenticate(&state, &ws, &form, &headers, &peer, "par")?;
    let client = authenticated.client;
    crate::registry::ensure_active(&client)?;
    let pushed_form = pushed_parameters(&state, &ws, &client, &form)?;
    let mut params = validate(&ws, &client, &pushed_form, &state.faults)?;

    // DP-C-01 / FAPI2-SP-AS-13: a DPoP header at PAR binds the code like dpop_jkt does.
    if let Some(proof) = proof {
        match &params.dpop_jkt {
            Some(jkt) if *jkt != proof.jkt && !state.faults.active(Fault::DpopJktParMismatch) => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt differs from the key of the DPoP proof sent with this request [DP-C-01]",
                ));
            }
            _ => params.dpop_jkt = Some(proof.jkt),
        }
    }
    if params.dpop_jkt.is_some() && client.sender_constraint == Some(SenderConstraint::Mtls) {
        return Err(OAuthError::invalid_request(format!(
            "client {} is registered for mTLS-bound tokens; dpop_jkt does not apply [FAPI2-SP-AS-05]",
            client.client_id
        )));
    }

    let now = fapilab_jose::now();
    let lifetime = ws.settings.request_uri_lifetime as i64;
    let handle = fapilab_jose::random_token(32);
    let pushed = PushedRequest { client_id: client.client_id.clone(), params, expires_at: now + lifetime, used: false };
    state
        .records
        .put(Kind::PushedRequest, &plain_key(&ws.key, &handle), Some(now + lifetime + 60), &pushed)
        .map_err(OAuthError::server)?;
    tracing::info!(client_id = %client.client_id, "authorization request pushed");
    let body: Value = json!({ "request_uri": format!("{REQUEST_URI_PREFIX}{handle}"), "expires_in": lifetime });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if ws.settings.dpop_nonce {
        // DP-N-01: hand out the current nonce so the token request needs no extra round trip.
        if let Ok(v) = HeaderValue::from_str(&ws.dpop_nonce(now)) {
            response.headers_mut().insert("dpop-nonce", v);
        }
    }
    Ok(response)
}

/// Where the authorization parameters come from: the form, or — where the profile requires
/// signed requests — only the verified request object (MS-AS-01, MS-AS-08).
fn pushed_parameters(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams) -> OAuthResult<FormParams> {
    let faults = &state.faults;
    match ws.policy.request_objects {
        RequestObjects::NotAccepted => Ok(form.clone()),
        RequestObjects::RequiredInPar => {
            if form.contains("request_uri") {
                return Err(OAuthError::invalid_request("request_uri must not be sent to the PAR endpoint, with or without a request object [MS-AS-09, PAR-04]"));
            }
            let Some(jwt) = form.get("request") else {
                if faults.active(Fault::RequestObjectRequired) {
                    return Ok(form.clone());
                }
                return Err(OAuthError::invalid_request(
                    "this workspace takes authorization requests only as a signed request object in the request parameter [MS-AS-01]",
                ));
            };
            let ctx = RequestObjectContext {
                kind: RequestKind::Authorization,
                issuer: &ws.issuer,
                client_id: &client.client_id,
                client_keys: &client.jwks,
                registered_alg: client.request_object_signing_alg,
                policy: &ws.policy,
                now: fapilab_jose::now(),
            };
            let claims = request_object::verify(jwt, &ctx, faults).map_err(|v| OAuthError::new(ErrorCode::InvalidRequestObject, v.to_string()))?;
            crate::protocol::replay::refuse_reused_request(state, ws, &client.client_id, &claims, ctx.now)
                .map_err(|why| OAuthError::new(ErrorCode::InvalidRequestObject, format!("{why} [MS-AS-10]")))?;
            let mut pairs = request_object::parameters(&claims);
            if faults.active(Fault::RequestObjectOutsideParams) {
                let outside: Vec<(String, String)> = form
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "request" | "client_assertion" | "client_assertion_type"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                pairs.retain(|(k, _)| !outside.iter().any(|(o, _)| o == k));
                pairs.extend(outside);
            }
            Ok(FormParams::from_pairs(pairs))
        }
    }
}

/// PAR-05: the pushed parameters are checked like an authorization request, synchronously.
fn validate(ws: &Workspace, client: &Client, form: &FormParams, faults: &FaultSet) -> OAuthResult<AuthorizationParams> {
    let policy = &ws.policy;
    if form.contains("request_uri") && !faults.active(Fault::RequestUriInParRefused) {
        return Err(OAuthError::invalid_request("request_uri must not be sent to the PAR endpoint [PAR-04]"));
    }
    if form.contains("request") {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported by this workspace's profile; push the parameters as a form [RFC9101-6.1]",
        ));
    }
    if let Some(id) = form.get("client_id")
        && id != client.client_id {
            return Err(OAuthError::invalid_request("client_id differs from the authenticated client [PAR-09]"));
        }
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(format!(
            "client {} may not use the authorization_code grant [RFC6749-4.1]",
            client.client_id
        )));
    }
    let response_type = form.require("response_type", "RFC6749-4.1.1")?;
    if !policy.response_types.contains(&response_type) && !faults.active(Fault::ResponseTypeCodeOnly) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            format!("response_type {response_type:?} is not allowed; only \"code\" [FAPI2-SP-AZ-01]"),
        ));
    }
    let modes = policy.response_modes.join(", ");
    let plain_allowed = faults.active(Fault::JarmRequired);
    let response_mode = match form.get("response_mode") {
        None if policy.response_mode_required && !plain_allowed => {
            return Err(OAuthError::invalid_request(format!("response_mode is required: one of {modes} (signed responses) [MS-JARM-01]")));
        }
        None => None,
        Some("query") if plain_allowed => None,
        Some(mode) if policy.response_modes.contains(&mode) => Some(mode.to_owned()).filter(|m| m != "query"),
        Some(mode) => {
            return Err(OAuthError::invalid_request(format!(
                "response_mode {mode:?} is not supported; this workspace answers with {modes} [FAPI2-SP-AZ-01, MS-JARM-01]"
            )));
        }
    };
    // MS-MD-01: a client that registered its response modes uses only those.
    let effective_mode = response_mode.as_deref().unwrap_or("query");
    if let Some(registered) = &client.response_modes
        && !registered.iter().any(|m| m == effective_mode)
    {
        return Err(OAuthError::invalid_request(format!(
            "response_mode {effective_mode:?} is not one the client registered ({}) [MS-MD-01]",
            registered.join(", ")
        )));
    }
    let redirect_uri = match (form.get("redirect_uri"), client.redirect_uris.first()) {
        (None, Some(first)) if faults.active(Fault::RedirectUriRequired) => first.as_str(),
        _ => form.require("redirect_uri", "FAPI2-SP-AZ-06")?,
    };
    crate::protocol::redirect::check_registered_redirect_uri(redirect_uri, policy).map_err(OAuthError::invalid_request)?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) && !faults.active(Fault::RedirectUriRegistration) {
        return Err(OAuthError::invalid_request(format!(
            "redirect_uri {redirect_uri:?} is not registered for client {} [FAPI2-SP-AS-07, OA-03]",
            client.client_id
        )));
    }
    let scope = form
        .get("scope")
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "scope is required: this server has no default scope [RFC6749-3.3]"))?;
    for s in scope.split_whitespace() {
        if !client.scopes.iter().any(|allowed| allowed == s) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {s:?} is not allowed for client {} [RFC6749-3.3]", client.client_id),
            ));
        }
    }
    let plain_pkce_allowed = faults.active(Fault::PkcePlainAllowed) && form.get("code_challenge_method") == Some("plain");
    let no_pkce_allowed = faults.active(Fault::ParPkceRequired) && form.get("code_challenge").is_none();
    if policy.require_pkce && !plain_pkce_allowed && !no_pkce_allowed {
        pkce::check_challenge(form.get("code_challenge"), form.get("code_challenge_method"), policy.pkce_methods)
            .map_err(OAuthError::invalid_request)?;
    }
    let state_param = form.get("state");
    if state_param.is_some_and(|s| s.len() > MAX_STATE_LENGTH) {
        return Err(OAuthError::invalid_request(format!("state is longer than {MAX_STATE_LENGTH} characters")));
    }
    let nonce = form.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LENGTH) {
        return Err(OAuthError::invalid_request(format!(
            "nonce is longer than {MAX_NONCE_LENGTH} characters (up to 64 are always accepted) [FAPI2-SP-AZ-14]"
        )));
    }
    let dpop_jkt = form.get("dpop_jkt");
    if dpop_jkt.is_some_and(|j| j.len() != 43 || !j.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
        return Err(OAuthError::invalid_request("dpop_jkt must be a base64url SHA-256 JWK thumbprint [DP-C-01]"));
    }
    let max_age = match form.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            OAuthError::invalid_request("max_age must be a non-negative integer [OIDC-3.1.2.1]")
        })?),
    };
    let essential_acr = essential_acr(ws, form.get("claims"))?;
    Ok(AuthorizationParams {
        response_type: response_type.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.to_owned(),
        state: state_param.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: form.get("code_challenge").unwrap_or_default().to_owned(),
        code_challenge_method: form.get("code_challenge_method").unwrap_or("S256").to_owned(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
        acr_values: form.get("acr_values").map(str::to_owned),
        essential_acr,
        max_age,
        prompt: form.get("prompt").map(str::to_owned),
        response_mode,
    })
}

/// OIDC Core §5.5.1.1: an essential `acr` request is honoured when one of its values is
/// supported, and refused otherwise.
fn essential_acr(ws: &Workspace, claims: Option<&str>) -> OAuthResult<Option<Vec<String>>> {
    let Some(claims) = claims else { return Ok(None) };
    let parsed: Value = serde_json::from_str(claims)
        .map_err(|_| OAuthError::invalid_request("claims must be a JSON object [OIDC-5.5]"))?;
    if !parsed.is_object() {
        return Err(OAuthError::invalid_request("claims must be a JSON object [OIDC-5.5]"));
    }
    let Some(acr) = parsed.pointer("/id_token/acr") else { return Ok(None) };
    if acr.get("essential").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    let requested: Vec<String> = match (acr.get("value"), acr.get("values")) {
        (Some(Value::String(v)), _) => vec![v.clone()],
        (_, Some(Value::Array(vs))) => vs.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => ws.settings.acr_values.clone(),
    };
    if !requested.iter().any(|r| ws.settings.acr_values.contains(r)) {
        return Err(OAuthError::invalid_request(format!(
            "none of the essential acr values {requested:?} can be satisfied; supported: {:?} [OIDC-5.5.1.1]",
            ws.settings.acr_values
        )));
    }
    Ok(Some(requested))
}
