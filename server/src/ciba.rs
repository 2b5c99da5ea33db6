//! CIBA outcomes (CIBA §10, §11): the simulated authentication device decides a pending
//! request — by a configured rule or through the device API — and a ping client is told the
//! result is ready (CIBA §10.2).

use std::sync::Arc;

use crate::config::DeviceDecision;
use crate::state::AppState;
use crate::store::Kind;
use crate::store::records::{BackchannelRequest, BackchannelStatus};
use crate::workspace::Workspace;

/// Ping notification attempts when the client's endpoint fails with a 5xx or the network.
const PING_ATTEMPTS: u32 = 3;

/// Records the device's decision on a pending request; `false` when it was not pending (or is
/// unknown). A ping client is notified afterwards.
pub async fn decide(state: &Arc<AppState>, ws: &Arc<Workspace>, key: &str, decision: DeviceDecision) -> bool {
    let now = fapilab_jose::now();
    let before = state.records.modify::<BackchannelRequest>(Kind::BackchannelRequest, key, |r| {
        if r.status != BackchannelStatus::Pending || r.expires_at <= now {
            return false;
        }
        r.status = match decision {
            DeviceDecision::Approve => BackchannelStatus::Approved { auth_time: now },
            DeviceDecision::Deny => BackchannelStatus::Denied,
        };
        true
    });
    let request = match before {
        Ok(Some(r)) if r.status == BackchannelStatus::Pending && r.expires_at > now => r,
        Ok(_) => return false,
        Err(e) => {
            tracing::error!(error = %e, "recording a CIBA decision failed");
            return false;
        }
    };
    tracing::info!(client_id = %request.client_id, device_id = %request.device_id, ?decision, "CIBA request decided");
    if let Some(ping) = request.notification {
        let state = state.clone();
        let workspace = ws.key.clone();
        tokio::spawn(async move { notify(&state, &workspace, &ping.endpoint, &ping.client_notification_token, &ping.auth_req_id).await });
    }
    true
}

/// CIBA §10.2: one POST; a 2xx is success, a 4xx (and a redirect, which is never followed) is
/// final — the client said no (FCIBA-12) — and only a 5xx or a network failure is tried again.
async fn notify(state: &AppState, workspace: &str, endpoint: &str, token: &str, auth_req_id: &str) {
    for attempt in 1..=PING_ATTEMPTS {
        match state.outbound.notify(endpoint, token, auth_req_id).await {
            Ok(status) if (200..300).contains(&status) => return,
            Ok(status) if status < 500 => {
                tracing::warn!(%workspace, %endpoint, status, "the client refused the CIBA ping; not retried");
                return;
            }
            Ok(status) => tracing::warn!(%workspace, %endpoint, status, attempt, "CIBA ping failed"),
            Err(why) => tracing::warn!(%workspace, %endpoint, %why, attempt, "CIBA ping failed"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(attempt))).await;
    }
}

/// The configured device rule for `username`, if any: decide after its delay.
pub fn apply_device_rules(state: &Arc<AppState>, ws: &Arc<Workspace>, key: String, username: &str) {
    let Some(rule) = ws.settings.ciba.device_rules.iter().find(|r| r.login_hint.as_deref().is_none_or(|h| h == username)) else {
        return;
    };
    let (decision, delay) = (rule.decision, std::time::Duration::from_millis(rule.after_ms));
    let (state, ws) = (state.clone(), ws.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        decide(&state, &ws, &key, decision).await;
    });
}
