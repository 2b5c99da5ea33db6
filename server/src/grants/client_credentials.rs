//! `grant_type=client_credentials` (RFC 6749 §4.4; FAPI2-SP-AS-16): an access token for the
//! client itself, sender-constrained like every other, never with a refresh or ID token.


use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::http::FormParams;
use crate::issuance::{self, IssuedTokens, Issue, RefreshToken};
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{Confirmation, Grant, plain_key};
use crate::workspace::{Client, Workspace};

/// Scopes that describe an end-user and so make no sense without one.
const USER_SCOPES: [&str; 3] = ["openid", "profile", "email"];

pub fn exchange(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams, cnf: &Confirmation) -> OAuthResult<IssuedTokens> {
    if !client.allows_grant("client_credentials") {
        return Err(OAuthError::unauthorized_client("this client may not use the client_credentials grant [RFC6749-5.2]"));
    }
    let scope = match form.get("scope") {
        Some(asked) => {
            for s in asked.split_whitespace() {
                if USER_SCOPES.contains(&s) || !client.scopes.iter().any(|c| c == s) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {s:?} cannot be granted to the client itself [RFC6749-4.4.2]"),
                    ));
                }
            }
            asked.to_owned()
        }
        None => client.scopes.iter().filter(|s| !USER_SCOPES.contains(&s.as_str())).cloned().collect::<Vec<_>>().join(" "),
    };
    // One standing grant per client for its own tokens: it links them for revocation like any
    // grant, without a store write per token request. Once revoked it is never revived: every
    // token after that gets a grant of its own.
    let standing_id = format!("client_credentials|{}", client.client_id);
    let standing_key = plain_key(&ws.key, &standing_id);
    let new_grant = || Grant {
        client_id: client.client_id.clone(),
        subject: None,
        scope: scope.clone(),
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        created_at: fapilab_jose::now(),
        revoked: false,
    };
    let (grant_id, grant) = match state.records.grant(&standing_key).map_err(OAuthError::server)? {
        Some(grant) if !grant.revoked => (standing_id, grant),
        Some(_) => {
            let grant_id = fapilab_jose::random_token(18);
            let grant = new_grant();
            let expires = fapilab_jose::now() + ws.settings.access_token_lifetime as i64;
            state.records.put(Kind::Grant, &plain_key(&ws.key, &grant_id), Some(expires), &grant).map_err(OAuthError::server)?;
            (grant_id, grant)
        }
        None => {
            let grant = new_grant();
            state.records.put(Kind::Grant, &standing_key, None, &grant).map_err(OAuthError::server)?;
            (standing_id, grant)
        }
    };
    issuance::issue(
        ws,
        Issue { client, grant_id: &grant_id, grant: &grant, scope: &scope, cnf, refresh: RefreshToken::None, id_token_nonce: None },
    )
}
