//! `grant_type=urn:openid:params:grant-type:ciba` (CIBA §10.1, §11; CIBA-05..CIBA-07): the
//! client collects the outcome of its authentication request — `authorization_pending` while
//! the user has not decided, `slow_down` when it polls faster than its interval (which then
//! grows by 5 s), `expired_token`, `access_denied`, and tokens exactly once.

use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::faults::Fault;
use crate::http::FormParams;
use crate::issuance::{self, Issue, IssuedTokens, RefreshToken};
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{BackchannelRequest, BackchannelStatus, Confirmation, Grant, plain_key, secret_key};
use crate::workspace::{Client, Workspace};

pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// What the poll found.
enum Poll {
    NotThisClients,
    Expired,
    Pending,
    SlowDown,
    Denied,
    Spent,
    Approved { request: Box<BackchannelRequest>, auth_time: i64 },
}

pub fn exchange(state: &AppState, ws: &Workspace, client: &Client, form: &FormParams, cnf: &Confirmation) -> OAuthResult<IssuedTokens> {
    if !ws.settings.ciba.enabled {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "this workspace does not offer CIBA [CIBA-MD-01]"));
    }
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::unauthorized_client(format!("client {} is not registered for CIBA [CIBA-03]", client.client_id)));
    }
    let auth_req_id = form.require("auth_req_id", "CIBA-05")?;
    let now = fapilab_jose::now();
    // CIBA-06 intervals are compared in milliseconds (see `BackchannelRequest::last_poll_ms`).
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(now * 1000, |d| d.as_millis() as i64);
    let mut poll = None;
    let found = state
        .records
        .modify::<BackchannelRequest>(Kind::BackchannelRequest, &secret_key(&ws.key, auth_req_id), |r| {
            if r.client_id != client.client_id && !state.faults.active(Fault::CibaClientBinding) {
                poll = Some(Poll::NotThisClients);
                return false;
            }
            if r.status == BackchannelStatus::Redeemed && !state.faults.active(Fault::CibaSingleUse) {
                poll = Some(Poll::Spent);
                return false;
            }
            if r.expires_at <= now && !state.faults.active(Fault::CibaExpiry) {
                poll = Some(Poll::Expired);
                return false;
            }
            match r.status.clone() {
                BackchannelStatus::Pending => {
                    let too_soon = r.last_poll_ms.is_some_and(|last| now_ms - last < r.interval * 1000) && !state.faults.active(Fault::CibaSlowDown);
                    r.last_poll_ms = Some(now_ms);
                    if too_soon {
                        r.interval += 5;
                        poll = Some(Poll::SlowDown);
                    } else {
                        poll = Some(Poll::Pending);
                    }
                    true
                }
                BackchannelStatus::Denied => {
                    poll = Some(Poll::Denied);
                    false
                }
                BackchannelStatus::Approved { auth_time } => {
                    poll = Some(Poll::Approved { request: Box::new(r.clone()), auth_time });
                    r.status = BackchannelStatus::Redeemed;
                    true
                }
                // Only under the test-only fault `ciba_single_use`: tokens again.
                BackchannelStatus::Redeemed => {
                    poll = Some(Poll::Approved { request: Box::new(r.clone()), auth_time: now });
                    false
                }
            }
        })
        .map_err(OAuthError::server)?;
    let unknown = || OAuthError::invalid_grant("auth_req_id is unknown, was issued to another client, or was already used [CIBA-06]");
    let (request, auth_time) = match (found, poll) {
        (None, _) | (_, None) | (_, Some(Poll::NotThisClients)) | (_, Some(Poll::Spent)) => return Err(unknown()),
        (_, Some(Poll::Expired)) => return Err(OAuthError::new(ErrorCode::ExpiredToken, "the authentication request has expired [CIBA-06]")),
        (_, Some(Poll::Pending)) => {
            return Err(OAuthError::new(ErrorCode::AuthorizationPending, "the user has not yet decided on the authentication device [CIBA-06]"));
        }
        (_, Some(Poll::SlowDown)) => {
            return Err(OAuthError::new(ErrorCode::SlowDown, "polling faster than the interval; wait 5 seconds longer between requests [CIBA-06]"));
        }
        (_, Some(Poll::Denied)) => {
            return Err(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request on the authentication device [CIBA-06]")
                .with_status(axum::http::StatusCode::BAD_REQUEST));
        }
        (_, Some(Poll::Approved { request, auth_time })) => (request, auth_time),
    };
    let grant_id = fapilab_jose::random_token(18);
    let grant = Grant {
        client_id: client.client_id.clone(),
        subject: Some(request.subject.clone()),
        scope: request.scope.clone(),
        auth_time: Some(auth_time),
        acr: request.acr.clone(),
        amr: Vec::new(),
        created_at: now,
        revoked: false,
    };
    let grant_lifetime = ws.settings.refresh_token_lifetime as i64;
    state.records.put(Kind::Grant, &plain_key(&ws.key, &grant_id), Some(now + grant_lifetime), &grant).map_err(OAuthError::server)?;
    let refresh = if client.allows_grant("refresh_token") { RefreshToken::New } else { RefreshToken::None };
    issuance::issue(
        ws,
        // CIBA-07: an ID token always (no nonce in CIBA).
        Issue { client, grant_id: &grant_id, grant: &grant, scope: &request.scope, cnf, refresh, id_token_nonce: Some(None) },
    )
}
