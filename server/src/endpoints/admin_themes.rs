//! The admin API for workspace themes (`theme.rs`): upload a theme as a draft (validated:
//! every problem listed), preview the draft's pages with sample data, activate it, or go back
//! to the built-in theme.
//!
//! - `PUT /admin/themes/{tenant}/{workspace}` `{ "templates": { "login.html": … }, "css": … }`
//! - `GET /admin/themes/{tenant}/{workspace}`: the draft and active sources
//! - `GET /admin/themes/{tenant}/{workspace}/preview/{page}`: the draft's page as HTML
//! - `POST /admin/themes/{tenant}/{workspace}/activate`, `DELETE …`

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::endpoints::admin::Admin;
use crate::error::{ErrorCode, OAuthError, OAuthResult};
use crate::state::{AppState, SharedState};
use crate::store::Kind;
use crate::theme::{Theme, ThemeSource};

/// What the store keeps per workspace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredTheme {
    pub draft: Option<ThemeSource>,
    pub active: Option<ThemeSource>,
}

fn workspace_key(state: &AppState, tenant: &str, workspace: &str) -> OAuthResult<String> {
    state.workspace(tenant, workspace).map(|ws| ws.key.clone()).ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such workspace"))
}

fn stored(state: &AppState, key: &str) -> OAuthResult<StoredTheme> {
    Ok(state.records.get::<StoredTheme>(Kind::Theme, key).map_err(OAuthError::server)?.unwrap_or_default())
}

fn invalid(problems: Vec<String>) -> OAuthError {
    OAuthError::invalid_request(format!("the theme is not valid: {}", problems.join("; ")))
}

/// Loads every workspace's active theme at startup. A stored theme that no longer validates
/// is logged and skipped: its workspace shows the built-in theme.
pub fn load_active(state: &AppState) {
    let keys: Vec<String> = state.workspaces.keys().cloned().collect();
    for key in keys {
        let Ok(Some(record)) = state.records.get::<StoredTheme>(Kind::Theme, &key) else { continue };
        let Some(active) = record.active else { continue };
        match Theme::compile(&active) {
            Ok(theme) => {
                state.themes.write().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::new(theme));
            }
            Err(problems) => tracing::warn!(workspace = %key, ?problems, "the stored theme does not validate; using the built-in one"),
        }
    }
}

pub async fn upload(_: Admin, State(state): State<SharedState>, Path((tenant, workspace)): Path<(String, String)>, body: Bytes) -> OAuthResult<Response> {
    let key = workspace_key(&state, &tenant, &workspace)?;
    let source: ThemeSource = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::invalid_request(format!("the body is not a theme (templates, css) at line {}, column {}", e.line(), e.column())))?;
    Theme::compile(&source).map_err(invalid)?;
    let mut record = stored(&state, &key)?;
    record.draft = Some(source);
    state.records.put(Kind::Theme, &key, None, &record).map_err(OAuthError::server)?;
    tracing::info!(workspace = %key, "theme draft stored");
    Ok((
        StatusCode::OK,
        Json(json!({
            "status": "draft",
            "preview": crate::theme::TEMPLATES.iter().filter(|t| **t != "layout.html").map(|t| format!("/admin/themes/{tenant}/{workspace}/preview/{t}")).collect::<Vec<_>>(),
            "active": record.active.is_some(),
        })),
    )
        .into_response())
}

pub async fn read(_: Admin, State(state): State<SharedState>, Path((tenant, workspace)): Path<(String, String)>) -> OAuthResult<Response> {
    let key = workspace_key(&state, &tenant, &workspace)?;
    let record = stored(&state, &key)?;
    Ok(Json(json!({ "draft": record.draft, "active": record.active })).into_response())
}

pub async fn preview(_: Admin, State(state): State<SharedState>, Path((tenant, workspace, page)): Path<(String, String, String)>) -> OAuthResult<Response> {
    let key = workspace_key(&state, &tenant, &workspace)?;
    let draft = stored(&state, &key)?.draft.ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no draft theme; upload one first"))?;
    if !crate::theme::TEMPLATES.contains(&page.as_str()) || page == "layout.html" {
        return Err(OAuthError::new(ErrorCode::NotFound, format!("no page {page:?}; previews: {}", crate::theme::TEMPLATES.iter().filter(|p| **p != "layout.html").copied().collect::<Vec<_>>().join(", "))));
    }
    let theme = Theme::compile(&draft).map_err(invalid)?;
    Ok(crate::pages::secure(StatusCode::OK, theme.render(&page, crate::theme::sample(&page))))
}

pub async fn activate(_: Admin, State(state): State<SharedState>, Path((tenant, workspace)): Path<(String, String)>) -> OAuthResult<Response> {
    let key = workspace_key(&state, &tenant, &workspace)?;
    let mut record = stored(&state, &key)?;
    let draft = record.draft.take().ok_or_else(|| OAuthError::invalid_request("no draft theme to activate; upload one first"))?;
    let theme = Theme::compile(&draft).map_err(invalid)?;
    record.active = Some(draft);
    state.records.put(Kind::Theme, &key, None, &record).map_err(OAuthError::server)?;
    state.themes.write().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), Arc::new(theme));
    tracing::info!(workspace = %key, "theme activated");
    Ok(Json(json!({ "status": "active" })).into_response())
}

pub async fn reset(_: Admin, State(state): State<SharedState>, Path((tenant, workspace)): Path<(String, String)>) -> OAuthResult<Response> {
    let key = workspace_key(&state, &tenant, &workspace)?;
    state.records.delete(Kind::Theme, &key).map_err(OAuthError::server)?;
    state.themes.write().unwrap_or_else(|e| e.into_inner()).remove(&key);
    tracing::info!(workspace = %key, "back to the built-in theme");
    Ok(StatusCode::NO_CONTENT.into_response())
}
