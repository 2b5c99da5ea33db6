//! Reading and checking an authorization request, wherever it arrives: pushed to PAR
//! (RFC 9126) or sent by value to the authorization endpoint (RFC 6749 §4.1.1, OIDC §6.1),
//! as form parameters or as a signed request object (RFC 9101). Both endpoints call
//! [`parameters`] then [`validate`]; what differs between profiles is read from the policy.

use serde_json::Value;

use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::faults::{Fault, FaultSet};
use crate::http::FormParams;
use crate::profiles::PkceRule;
use crate::protocol::pkce;
use crate::protocol::request_object::{self, RequestKind, RequestObjectContext};
use crate::state::AppState;
use crate::store::records::AuthorizationParams;
use crate::workspace::{Client, Workspace};

/// AZ-14: nonces up to 64 characters are always accepted; beyond this we refuse.
const MAX_NONCE_LENGTH: usize = 512;
/// AZ-17: `state` may be long (a JWT, > 1000 characters); the 64 KiB body limit bounds it.
const MAX_STATE_LENGTH: usize = 8192;

/// Where the request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The PAR endpoint: the client is authenticated.
    Pushed,
    /// The authorization endpoint, through the browser: the client is only named.
    FrontChannel,
}

/// Form parameters of a request that arrives outside a request object, and which may repeat
/// parameters of it (OIDC §6.1, A-AS-19), besides client authentication.
const ENVELOPE: [&str; 4] = ["request", "client_assertion", "client_assertion_type", "client_id"];

/// The authorization parameters of a request: the form's, or — when the request carries a
/// signed request object — only the verified object's (MS-AS-08, A-AS-10).
pub fn parameters(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams, channel: Channel) -> OAuthResult<FormParams> {
    let faults = &state.faults;
    let rule = ws.policy.request_objects;
    let Some(jwt) = form.get("request") else {
        let allowed_plain = match channel {
            Channel::Pushed => faults.active(Fault::RequestObjectRequired),
            Channel::FrontChannel => faults.active(Fault::AuthorizeRequestObjectRequired),
        };
        if (rule.required() || client.require_signed_request_object) && !allowed_plain {
            return Err(OAuthError::invalid_request(
                "this workspace takes authorization requests only as a signed request object in the request parameter [MS-AS-01, A-AS-01]",
            ));
        }
        return Ok(form.clone());
    };
    if !rule.accepted() || (channel == Channel::FrontChannel && !rule.by_value_at_authorization_endpoint()) {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "this workspace does not take request objects here; push the request to the PAR endpoint [RFC9101-6.1]",
        ));
    }
    if form.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request and request_uri must not be sent together [RFC9101-5, MS-AS-09, PAR-04]",
        ));
    }
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
    // MS-AS-10: a pushed request object is used once. One sent by value is part of a URL a
    // browser may load again (reload, link pre-fetchers, AZ-15); each load is its own
    // authorization and its code is single-use, so it is not burned on first sight.
    if channel == Channel::Pushed {
        crate::protocol::replay::refuse_reused_request(state, ws, &client.client_id, &claims, ctx.now)
            .map_err(|why| OAuthError::new(ErrorCode::InvalidRequestObject, format!("{why} [MS-AS-10]")))?;
    }
    let inside = request_object::parameters(&claims);
    let outside: Vec<(String, String)> =
        form.iter().filter(|(k, _)| !ENVELOPE.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();

    // A-AS-19 / OIDC §6.1: the front channel repeats response_type (and client_id, checked
    // against the object by `verify`); a repeated value must be the object's.
    if channel == Channel::FrontChannel
        && let Some((_, outer)) = outside.iter().find(|(k, _)| k == "response_type")
        && let Some((_, inner)) = inside.iter().find(|(k, _)| k == "response_type")
        && outer != inner
    {
        return Err(OAuthError::invalid_request(
            "response_type outside the request object differs from the one inside [A-AS-19, OIDC-6.1]",
        ));
    }

    let outside_wins = match channel {
        Channel::Pushed => faults.active(Fault::RequestObjectOutsideParams),
        Channel::FrontChannel => faults.active(Fault::AuthorizeOutsideParams),
    };
    let mut pairs = inside;
    if outside_wins {
        pairs.retain(|(k, _)| !outside.iter().any(|(o, _)| o == k));
        pairs.extend(outside);
    } else if faults.active(Fault::RequestObjectRequiredMembers) {
        for (k, v) in outside {
            if matches!(k.as_str(), "scope" | "nonce" | "redirect_uri") && !pairs.iter().any(|(p, _)| *p == k) {
                pairs.push((k, v));
            }
        }
    }
    Ok(FormParams::from_pairs(pairs))
}

/// PAR-05 / OIDC §3.1.2.2: the parameters are checked like an authorization request,
/// synchronously, before anything is stored.
pub fn validate(ws: &Workspace, client: &Client, form: &FormParams, channel: Channel, faults: &FaultSet) -> OAuthResult<AuthorizationParams> {
    let policy = &ws.policy;
    if channel == Channel::Pushed && form.contains("request_uri") && !faults.active(Fault::RequestUriInParRefused) {
        return Err(OAuthError::invalid_request("request_uri must not be sent to the PAR endpoint [PAR-04]"));
    }
    if let Some(id) = form.get("client_id")
        && id != client.client_id
    {
        return Err(OAuthError::invalid_request("client_id differs from the authenticated client [PAR-09, A-AS-19]"));
    }
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(format!(
            "client {} may not use the authorization_code grant [RFC6749-4.1]",
            client.client_id
        )));
    }
    let response_type = form.require("response_type", "RFC6749-4.1.1")?;
    let offered = policy.response_types().join("\", \"");
    // OAuth 2.0 Multiple Response Types §3: the order of the values does not matter; from here
    // on the request carries the profile's spelling.
    let response_type = policy.response_rule(response_type).map_or(response_type, |r| r.response_type);
    if let Some(registered) = &client.response_types
        && !registered.iter().any(|r| same_response_type(r, response_type))
    {
        return Err(OAuthError::unauthorized_client(format!(
            "response_type {response_type:?} is not one client {} registered ({}) [RFC7591-2]",
            client.client_id,
            registered.join(", ")
        )));
    }
    let rule = match policy.response_rule(response_type) {
        Some(rule) => rule,
        None if faults.active(Fault::ResponseTypeCodeOnly) => &policy.responses[0],
        None => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type {response_type:?} is not allowed; only \"{offered}\" [FAPI2-SP-AZ-01, A-AS-02]"),
            ));
        }
    };
    let modes = rule.response_modes.join(", ");
    let response_mode = match form.get("response_mode") {
        None => match rule.default_mode {
            Some(mode) => mode,
            None if faults.active(Fault::JarmRequired) => "query",
            None => {
                return Err(OAuthError::invalid_request(format!(
                    "response_mode is required with response_type {response_type:?}: one of {modes} (signed responses) [MS-JARM-01, A-AS-02]"
                )));
            }
        },
        Some("query") if faults.active(Fault::JarmRequired) && !rule.returns_id_token() => "query",
        Some("query") if faults.active(Fault::HybridQueryEncoding) && rule.returns_id_token() => "query",
        Some(mode) => match rule.response_modes.iter().find(|m| **m == mode) {
            Some(known) => known,
            None => {
                let why = if rule.returns_id_token() && mode == "query" {
                    "an ID token is never returned in the query [A-AS-22]"
                } else {
                    "[FAPI2-SP-AZ-01, MS-JARM-01, A-AS-02]"
                };
                return Err(OAuthError::invalid_request(format!(
                    "response_mode {mode:?} is not supported with response_type {response_type:?}; use {modes} {why}"
                )));
            }
        },
    };
    // MS-MD-01: a client that registered its response modes uses only those.
    if let Some(registered) = &client.response_modes
        && !registered.iter().any(|m| m == response_mode)
    {
        return Err(OAuthError::invalid_request(format!(
            "response_mode {response_mode:?} is not one the client registered ({}) [MS-MD-01]",
            registered.join(", ")
        )));
    }
    let redirect_uri = match (form.get("redirect_uri"), client.redirect_uris.first()) {
        (None, Some(first)) if faults.active(Fault::RedirectUriRequired) => first.as_str(),
        _ => form.require("redirect_uri", "FAPI2-SP-AZ-06, B-AS-09, A-AS-23")?,
    };
    crate::protocol::redirect::check_registered_redirect_uri(redirect_uri, policy).map_err(OAuthError::invalid_request)?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) && !faults.active(Fault::RedirectUriRegistration) {
        return Err(OAuthError::invalid_request(format!(
            "redirect_uri {redirect_uri:?} is not registered for client {} [FAPI2-SP-AS-07, B-AS-10, OA-03]",
            client.client_id
        )));
    }
    let scope = form.get("scope").ok_or_else(|| {
        OAuthError::new(ErrorCode::InvalidScope, "scope is required: this server has no default scope [RFC6749-3.3, A-AS-23]")
    })?;
    for s in scope.split_whitespace() {
        if !client.scopes.iter().any(|allowed| allowed == s) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {s:?} is not allowed for client {} [RFC6749-3.3]", client.client_id),
            ));
        }
    }
    let openid = scope.split_whitespace().any(|s| s == "openid");
    if rule.returns_id_token() && !openid {
        return Err(OAuthError::invalid_request(format!(
            "response_type {response_type:?} returns an ID token, so scope must contain openid [OIDC-3.3.2.1]"
        )));
    }
    check_pkce(policy.pkce, policy.pkce_methods, form, channel, faults)?;
    let state_param = form.get("state");
    if state_param.is_some_and(|s| s.len() > MAX_STATE_LENGTH) {
        return Err(OAuthError::invalid_request(format!("state is longer than {MAX_STATE_LENGTH} characters")));
    }
    if state_param.is_none() && !openid && policy.state_required_without_openid {
        return Err(OAuthError::invalid_request("state is required when scope does not contain openid [B-NS-02]"));
    }
    let nonce = form.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LENGTH) {
        return Err(OAuthError::invalid_request(format!(
            "nonce is longer than {MAX_NONCE_LENGTH} characters (up to 64 are always accepted) [FAPI2-SP-AZ-14]"
        )));
    }
    let nonce_required = rule.returns_id_token() || (openid && policy.nonce_required_with_openid);
    if nonce.is_none() && nonce_required && !faults.active(Fault::NonceRequired) {
        return Err(OAuthError::invalid_request(if rule.returns_id_token() {
            "nonce is required with a response type that returns an ID token [OIDC-3.3.2.11, A-IDT-05]"
        } else {
            "nonce is required when scope contains openid [B-NS-01]"
        }));
    }
    let dpop_jkt = form.get("dpop_jkt");
    if dpop_jkt.is_some_and(|j| j.len() != 43 || !j.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
        return Err(OAuthError::invalid_request("dpop_jkt must be a base64url SHA-256 JWK thumbprint [DP-C-01]"));
    }
    let max_age = match form.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer [OIDC-3.1.2.1]"))?,
        ),
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
        // Stored records predating response modes other than JARM read `None` as the query.
        response_mode: Some(response_mode.to_owned()).filter(|m| m != "query"),
    })
}

/// Whether two `response_type` values name the same set of types.
pub fn same_response_type(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split(' ').collect();
    let mut y: Vec<&str> = b.split(' ').collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// FAPI2-SP-AZ-05, B-AS-07: PKCE on every request; A-AS-18: on pushed ones, and checked the
/// same way where a front-channel request carries it.
fn check_pkce(rule: PkceRule, methods: &[&str], form: &FormParams, channel: Channel, faults: &FaultSet) -> OAuthResult<()> {
    let challenge = form.get("code_challenge");
    let method = form.get("code_challenge_method");
    let required = rule == PkceRule::Always || channel == Channel::Pushed;
    if !required && challenge.is_none() && method.is_none() {
        return Ok(());
    }
    if faults.active(Fault::PkcePlainAllowed) && method == Some("plain") {
        return Ok(());
    }
    if faults.active(Fault::ParPkceRequired) && challenge.is_none() {
        return Ok(());
    }
    pkce::check_challenge(challenge, method, methods).map_err(OAuthError::invalid_request)
}

/// OIDC Core §5.5.1.1: an essential `acr` request is honoured when one of its values is
/// supported, and refused otherwise.
fn essential_acr(ws: &Workspace, claims: Option<&str>) -> OAuthResult<Option<Vec<String>>> {
    let Some(claims) = claims else { return Ok(None) };
    let parsed: Value = serde_json::from_str(claims).map_err(|_| OAuthError::invalid_request("claims must be a JSON object [OIDC-5.5]"))?;
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
