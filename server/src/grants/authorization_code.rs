//! `grant_type=authorization_code` (RFC 6749 §4.1.3): single-use codes that live no longer
//! than the profile allows and are bound to the client, the redirect URI, the PKCE verifier
//! and the DPoP key (FAPI2-SP-AS-12, AS-13, AZ-05, AZ-09, OA-04, DP-C-02, B-AS-13).


use crate::error::{OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::FormParams;
use crate::issuance::{self, IssuedTokens, Issue, RefreshToken};
use crate::protocol::pkce;
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{AuthorizationCode, Confirmation, Grant, plain_key, secret_key};
use crate::workspace::{Client, Workspace};

pub fn exchange(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams, cnf: &Confirmation, proof_jkt: Option<&str>) -> OAuthResult<IssuedTokens> {
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization_code grant [RFC6749-5.2]"));
    }
    let code = form.require("code", "RFC6749-4.1.3")?;
    let code_key = secret_key(&ws.key, code);
    let now = fapilab_jose::now();
    let record: AuthorizationCode = state
        .records
        .get(Kind::Code, &code_key)
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is unknown [RFC6749-5.2]"))?;
    if record.client_id != client.client_id && !state.faults.active(Fault::CodeClientBinding) {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client [OA-04]"));
    }
    if let Some(grant_id) = &record.redeemed_grant
        && !state.faults.active(Fault::CodeSingleUse) {
        revoke_after_reuse(state, ws, grant_id);
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used; the tokens issued for it are revoked [FAPI2-SP-AZ-09, OA-04]",
        ));
    }
    if record.expires_at < now && !state.faults.active(Fault::CodeExpiry) {
        return Err(OAuthError::invalid_grant("the authorization code has expired [FAPI2-SP-AS-12]"));
    }
    match form.get("redirect_uri") {
        _ if state.faults.active(Fault::RedirectUriCheckAtToken) => {}
        Some(uri) if uri == record.params.redirect_uri => {}
        Some(_) => return Err(OAuthError::invalid_grant("redirect_uri differs from the pushed authorization request [OA-04]")),
        None => return Err(OAuthError::invalid_grant("redirect_uri must repeat the one of the authorization request [OA-04]")),
    }
    if state.faults.active(Fault::PkcePlainAllowed) && record.params.code_challenge_method == "plain" {
        if form.get("code_verifier") != Some(record.params.code_challenge.as_str()) {
            return Err(OAuthError::invalid_grant("code_verifier does not match the plain code_challenge"));
        }
    } else if record.params.code_challenge.is_empty() {
        // A-AS-18: a FAPI 1.0 request sent by value may come without PKCE (only a test-only
        // fault lets one through elsewhere). A verifier for a code without a challenge is a
        // PKCE downgrade attempt (RFC 9700 §4.8.2).
        if form.contains("code_verifier") {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge [RFC9700-4.8.2]",
            ));
        }
    } else if !state.faults.active(Fault::PkceCheck) {
        pkce::verify(form.get("code_verifier"), &record.params.code_challenge).map_err(|f| OAuthError::invalid_grant(f.to_string()))?;
    }
    if let Some(bound) = &record.params.dpop_jkt
        && proof_jkt != Some(bound.as_str())
        && !state.faults.active(Fault::DpopCodeBinding) {
            return Err(OAuthError::invalid_grant(
                "the DPoP proof key differs from the key the authorization code is bound to [DP-C-02, FAPI2-SP-AS-13]",
            ));
        }

    // The grant is stored before the code is claimed, so a replay that races this redemption
    // always finds the grant to revoke (FAPI2-SP-AZ-09).
    let grant_id = fapilab_jose::random_token(18);
    let grant_key = plain_key(&ws.key, &grant_id);
    let grant = Grant {
        client_id: client.client_id.clone(),
        subject: Some(record.subject.clone()),
        scope: record.params.scope.clone(),
        auth_time: Some(record.auth_time),
        acr: record.acr.clone(),
        amr: record.amr.clone(),
        created_at: now,
        revoked: false,
    };
    let grant_lifetime = ws.settings.refresh_token_lifetime as i64;
    state.records.put(Kind::Grant, &grant_key, Some(now + grant_lifetime), &grant).map_err(OAuthError::server)?;

    // Claim the code atomically; a concurrent second redemption loses.
    let before = state
        .records
        .modify::<AuthorizationCode>(Kind::Code, &code_key, |c| {
            if c.redeemed_grant.is_some() && !state.faults.active(Fault::CodeSingleUse) {
                return false;
            }
            c.redeemed_grant = Some(grant_id.clone());
            true
        })
        .map_err(OAuthError::server)?;
    let first_redemption = before.as_ref().map(|b| b.redeemed_grant.clone());
    if first_redemption != Some(None) && !state.faults.active(Fault::CodeSingleUse) {
        // Our own grant never got a token; drop it.
        if let Err(e) = state.records.delete(Kind::Grant, &grant_key) {
            tracing::warn!(error = %e, "could not delete an unused grant");
        }
        if let Some(Some(first)) = first_redemption {
            revoke_after_reuse(state, ws, &first);
        }
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used; the tokens issued for it are revoked [FAPI2-SP-AZ-09, OA-04]",
        ));
    }

    let openid = record.params.scope.split_whitespace().any(|s| s == "openid");
    let refresh = if client.allows_grant("refresh_token") { RefreshToken::New } else { RefreshToken::None };
    issuance::issue(
        ws,
        Issue {
            client,
            grant_id: &grant_id,
            grant: &grant,
            scope: &record.params.scope,
            cnf,
            refresh,
            id_token_nonce: openid.then_some(record.params.nonce.as_deref()),
        },
    )
}

fn revoke_after_reuse(state: &AppState, ws: &Workspace, grant_id: &str) {
    match state.records.revoke_grant(&plain_key(&ws.key, grant_id)) {
        Ok(_) => tracing::warn!("authorization code replayed: its grant is revoked"),
        Err(e) => tracing::error!(error = %e, "could not revoke the grant of a replayed code"),
    }
}
