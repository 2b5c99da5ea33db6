//! The admin API for identity pools and their users: JSON over HTTPS at `/admin/...`, with a
//! bearer token from `admin.tokens`, described by the OpenAPI document at
//! `/admin/openapi.json` (`endpoints/admin_openapi.rs`).
//!
//! Lists page with `id`, `name`, `sort`, `order`, `limit`, `before` / `after`
//! (`identity::pagination`); a bad parameter is a 400 naming it. A password is checked against
//! the pool's policy (every unmet rule listed), hashed with argon2id and never returned or
//! logged. Changes are stored before they are visible (`identity::Directory`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::identity::pagination::{self, PageRequest};
use crate::identity::policy::{self, PasswordPolicy};
use crate::identity::{Address, AddressKind, Identifier, IdentifierKind, Mechanism, PasswordCredential, Pool, PoolUser, normalised};
use crate::state::{AppState, SharedState};

/// A caller holding one of the configured admin tokens.
pub struct Admin;

impl FromRequestParts<SharedState> for Admin {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Admin, OAuthError> {
        let refuse = |d: &str| OAuthError::invalid_token(d).with_challenge(Challenge::Bearer);
        let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some((scheme, token)) = value.and_then(|v| v.split_once(' ')) else {
            return Err(refuse("the admin API needs Authorization: Bearer <admin token> [RFC6750-2.1]"));
        };
        let digest = fapilab_jose::sha256_b64url(token.trim().as_bytes());
        if !scheme.eq_ignore_ascii_case("bearer") || !state.admin_token_hashes.contains(&digest) {
            return Err(refuse("the token is not one of the configured admin.tokens"));
        }
        Ok(Admin)
    }
}

/// Parses a JSON body. The error names the kind of problem and its place, never the value:
/// serde's own text quotes values, and a body may hold a password.
fn json_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> OAuthResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => "is not JSON",
            serde_json::error::Category::Data => "has a member that is unknown, missing or of the wrong type",
        };
        OAuthError::invalid_request(format!("the body {kind} (line {}, column {}); see /admin/openapi.json", e.line(), e.column()))
    })
}

fn not_found(what: &str) -> OAuthError {
    OAuthError::new(ErrorCode::NotFound, format!("no such {what}"))
}

fn conflict(description: String) -> OAuthError {
    OAuthError::invalid_request(description).with_status(StatusCode::CONFLICT)
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn page_of<T: pagination::Listed + Clone>(all: &[T], query: &HashMap<String, String>, view: impl Fn(&T) -> Value) -> OAuthResult<Response> {
    let request = PageRequest::parse(query).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let page = pagination::page(all, &request).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    Ok(answer(
        StatusCode::OK,
        json!({ "items": page.items.iter().map(view).collect::<Vec<_>>(), "next": page.next, "previous": page.previous, "limit": request.limit }),
    ))
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", fapilab_jose::random_token(12))
}

fn name_of(value: Option<String>, what: &str) -> OAuthResult<Option<String>> {
    match value {
        Some(n) if n.trim().is_empty() || n.chars().count() > 200 => {
            Err(OAuthError::invalid_request(format!("{what} must be 1 to 200 characters")))
        }
        other => Ok(other.map(|n| n.trim().to_owned())),
    }
}

// --- pools ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolInput {
    /// At creation only: an id of the operator's choosing, so a workspace's `identity_pool`
    /// can name the pool before it exists; otherwise one is generated.
    id: Option<String>,
    name: Option<String>,
    password_policy: Option<PasswordPolicy>,
    preferred_mechanism: Option<Mechanism>,
}

fn pool_view(pool: &Pool) -> Value {
    json!(pool)
}

fn checked_policy(policy: Option<PasswordPolicy>) -> OAuthResult<Option<PasswordPolicy>> {
    if let Some(p) = &policy {
        p.validate().map_err(|why| OAuthError::invalid_request(format!("password_policy: {why}")))?;
    }
    Ok(policy)
}

pub async fn list_pools(_: Admin, State(state): State<SharedState>, Query(query): Query<HashMap<String, String>>) -> OAuthResult<Response> {
    page_of(&state.directory.pools(), &query, pool_view)
}

pub async fn create_pool(_: Admin, State(state): State<SharedState>, body: Bytes) -> OAuthResult<Response> {
    let input: PoolInput = json_body(&body)?;
    let name = name_of(input.name, "name")?.ok_or_else(|| OAuthError::invalid_request("name is required"))?;
    let id = match input.id {
        None => new_id("pool"),
        Some(id) if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => id,
        Some(id) => return Err(OAuthError::invalid_request(format!("id {id:?} must be 1 to 64 letters, digits, - or _"))),
    };
    let now = fapilab_jose::now();
    let pool = Pool {
        id,
        name,
        password_policy: checked_policy(input.password_policy)?.unwrap_or_default(),
        preferred_mechanism: input.preferred_mechanism.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    let _writer = state.directory.lock_writer().await;
    if state.directory.pool(&pool.id).is_some() {
        return Err(conflict(format!("a pool with id {:?} exists", pool.id)));
    }
    state.directory.put_pool(&state.records, pool.clone()).map_err(OAuthError::server)?;
    tracing::info!(pool = %pool.id, "identity pool created");
    Ok(answer(StatusCode::CREATED, pool_view(&pool)))
}

pub async fn read_pool(_: Admin, State(state): State<SharedState>, Path(pool_id): Path<String>) -> OAuthResult<Response> {
    let pool = state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    Ok(answer(StatusCode::OK, pool_view(&pool)))
}

pub async fn update_pool(_: Admin, State(state): State<SharedState>, Path(pool_id): Path<String>, body: Bytes) -> OAuthResult<Response> {
    let input: PoolInput = json_body(&body)?;
    if input.id.is_some() {
        return Err(OAuthError::invalid_request("a pool's id cannot change"));
    }
    let name = name_of(input.name, "name")?;
    let policy = checked_policy(input.password_policy)?;
    let _writer = state.directory.lock_writer().await;
    let mut pool = state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    if let Some(n) = name {
        pool.name = n;
    }
    if let Some(p) = policy {
        pool.password_policy = p;
    }
    if let Some(m) = input.preferred_mechanism {
        pool.preferred_mechanism = m;
    }
    pool.updated_at = fapilab_jose::now();
    state.directory.put_pool(&state.records, pool.clone()).map_err(OAuthError::server)?;
    Ok(answer(StatusCode::OK, pool_view(&pool)))
}

pub async fn delete_pool(_: Admin, State(state): State<SharedState>, Path(pool_id): Path<String>) -> OAuthResult<Response> {
    let _writer = state.directory.lock_writer().await;
    state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    for user in state.directory.users(&pool_id) {
        forget_passkeys(&state, &pool_id, &user.id)?;
    }
    state.directory.delete_pool(&state.records, &pool_id).map_err(OAuthError::server)?;
    tracing::info!(pool = %pool_id, "identity pool deleted with its users");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// --- users ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifierInput {
    #[serde(rename = "type")]
    kind: IdentifierKind,
    value: String,
    external_type: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressInput {
    #[serde(rename = "type")]
    kind: AddressKind,
    value: String,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserInput {
    name: Option<String>,
    #[serde(default)]
    identifiers: Vec<IdentifierInput>,
    #[serde(default)]
    addresses: Vec<AddressInput>,
    password: Option<String>,
    /// Unix seconds; `null` clears it (PUT).
    #[serde(default, deserialize_with = "present")]
    password_expires_at: Option<Option<i64>>,
}

/// Tells an absent member (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

fn identifier(input: IdentifierInput) -> OAuthResult<Identifier> {
    let value = input.value.trim().to_owned();
    let fail = |why: &str| Err(OAuthError::invalid_request(format!("identifier {value:?}: {why}")));
    match input.kind {
        IdentifierKind::Email if !is_email(&value) => return fail("not an email address"),
        IdentifierKind::Mobile if !is_mobile(&value) => return fail("not an E.164 mobile number (+ and 8 to 15 digits)"),
        IdentifierKind::Uuid if !is_uuid(&value) => return fail("not a UUID"),
        IdentifierKind::External if input.external_type.as_deref().is_none_or(str::is_empty) || input.source.as_deref().is_none_or(str::is_empty) => {
            return fail("an external identifier needs external_type and source");
        }
        _ if value.is_empty() || value.chars().count() > 320 => return fail("must be 1 to 320 characters"),
        _ => {}
    }
    if input.kind != IdentifierKind::External && (input.external_type.is_some() || input.source.is_some()) {
        return fail("external_type and source belong to external identifiers only");
    }
    Ok(Identifier { id: new_id("idn"), kind: input.kind, value, external_type: input.external_type, source: input.source })
}

fn address(input: AddressInput) -> OAuthResult<Address> {
    let value = input.value.trim().to_owned();
    let ok = match input.kind {
        AddressKind::Email => is_email(&value),
        AddressKind::Mobile => is_mobile(&value),
    };
    if !ok {
        return Err(OAuthError::invalid_request(format!("address {value:?} is not a valid {:?} address", input.kind)));
    }
    let now = fapilab_jose::now();
    Ok(Address { id: new_id("adr"), kind: input.kind, value, verified: input.verified, verified_at: input.verified.then_some(now) })
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && v.len() <= 320 && !v.chars().any(char::is_whitespace)
}

fn is_mobile(v: &str) -> bool {
    v.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Identifier values are unique per pool.
fn refuse_duplicates(state: &AppState, pool_id: &str, user_id: &str, identifiers: &[Identifier]) -> OAuthResult<()> {
    // Sign-in accepts any identifier whatever its type, so values are unique across types.
    let same = |a: &Identifier, b: &Identifier| normalised(a.kind, &a.value).eq_ignore_ascii_case(&normalised(b.kind, &b.value));
    for (i, a) in identifiers.iter().enumerate() {
        if identifiers[..i].iter().any(|b| same(a, b)) {
            return Err(conflict(format!("identifier {:?} is listed twice", a.value)));
        }
    }
    for a in identifiers {
        if state.directory.identifier_owner(pool_id, a.kind, &a.value).is_some_and(|owner| owner != user_id) {
            return Err(conflict(format!("identifier {:?} already belongs to another user of this pool", a.value)));
        }
    }
    Ok(())
}

/// Checks `password` against the pool's policy and hashes it.
async fn new_password(state: &AppState, pool: &Pool, user: &PoolUser, password: String, expires_at: Option<i64>) -> OAuthResult<PasswordCredential> {
    let unmet = pool.password_policy.check(&password, user.identifier_values());
    if !unmet.is_empty() {
        return Err(OAuthError::invalid_request(policy::describe(&unmet)));
    }
    let hash = state
        .with_password_memory(move |memory| crate::password::hash_in(&password, memory))
        .await
        .ok_or_else(|| OAuthError::new(ErrorCode::TemporarilyUnavailable, "the server is shutting down"))?
        .map_err(OAuthError::server)?;
    Ok(PasswordCredential { hash, expires_at, changed_at: fapilab_jose::now() })
}

pub async fn list_users(_: Admin, State(state): State<SharedState>, Path(pool_id): Path<String>, Query(query): Query<HashMap<String, String>>) -> OAuthResult<Response> {
    state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    page_of(&state.directory.users(&pool_id), &query, PoolUser::view)
}

pub async fn create_user(_: Admin, State(state): State<SharedState>, Path(pool_id): Path<String>, body: Bytes) -> OAuthResult<Response> {
    let input: UserInput = json_body(&body)?;
    let pool = state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    let identifiers = input.identifiers.into_iter().map(identifier).collect::<OAuthResult<Vec<_>>>()?;
    if identifiers.is_empty() {
        return Err(OAuthError::invalid_request("a user needs at least one identifier"));
    }
    let addresses = input.addresses.into_iter().map(address).collect::<OAuthResult<Vec<_>>>()?;
    let now = fapilab_jose::now();
    let expires_at = input.password_expires_at.flatten();
    let mut user = PoolUser {
        id: new_id("usr"),
        pool_id: pool_id.clone(),
        name: name_of(input.name, "name")?.unwrap_or_else(|| identifiers[0].value.clone()),
        identifiers,
        addresses,
        password: None,
        // A user imported without a password and with a past expiry sets one at first sign-in.
        password_expires_at: expires_at,
        created_at: now,
        updated_at: now,
    };
    if let Some(password) = input.password {
        user.password = Some(new_password(&state, &pool, &user, password, expires_at).await?);
    }
    let _writer = state.directory.lock_writer().await;
    state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    refuse_duplicates(&state, &pool_id, &user.id, &user.identifiers)?;
    state.directory.put_user(&state.records, user.clone()).map_err(OAuthError::server)?;
    tracing::info!(pool = %pool_id, user = %user.id, "pool user created");
    Ok(answer(StatusCode::CREATED, user.view()))
}

pub async fn read_user(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id)): Path<(String, String)>) -> OAuthResult<Response> {
    let user = state.directory.user(&pool_id, &user_id).ok_or_else(|| not_found("user"))?;
    Ok(answer(StatusCode::OK, user.view()))
}

/// PUT: `name`, `password` and `password_expires_at`; identifiers and addresses have their own
/// resources.
pub async fn update_user(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id)): Path<(String, String)>, body: Bytes) -> OAuthResult<Response> {
    let input: UserInput = json_body(&body)?;
    if !input.identifiers.is_empty() || !input.addresses.is_empty() {
        return Err(OAuthError::invalid_request("change identifiers and addresses through …/identifiers and …/addresses"));
    }
    let name = name_of(input.name, "name")?;
    // argon2 runs before the writer lock (it is slow); everything decided from the user's
    // current state is decided again under the lock, on a fresh copy.
    let hashed = match &input.password {
        Some(p) => {
            let pool = state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
            let current = state.directory.user(&pool_id, &user_id).ok_or_else(|| not_found("user"))?;
            Some(new_password(&state, &pool, &current, p.clone(), None).await?)
        }
        None => None,
    };
    let _writer = state.directory.lock_writer().await;
    let pool = state.directory.pool(&pool_id).ok_or_else(|| not_found("pool"))?;
    let mut user = state.directory.user(&pool_id, &user_id).ok_or_else(|| not_found("user"))?;
    if let Some(p) = &input.password {
        let unmet = pool.password_policy.check(p, user.identifier_values());
        if !unmet.is_empty() {
            return Err(OAuthError::invalid_request(policy::describe(&unmet)));
        }
    }
    if let Some(n) = name {
        user.name = n;
    }
    // The expiry changes only when the body names it; a new password keeps the current one.
    let expires_at = match input.password_expires_at {
        Some(explicit) => explicit,
        None => user.password.as_ref().and_then(|p| p.expires_at).or(user.password_expires_at),
    };
    if let Some(mut credential) = hashed {
        credential.expires_at = expires_at;
        user.password = Some(credential);
    } else if let Some(p) = user.password.as_mut() {
        p.expires_at = expires_at;
    }
    user.password_expires_at = expires_at;
    user.updated_at = fapilab_jose::now();
    state.directory.put_user(&state.records, user.clone()).map_err(OAuthError::server)?;
    Ok(answer(StatusCode::OK, user.view()))
}

pub async fn delete_user(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id)): Path<(String, String)>) -> OAuthResult<Response> {
    let _writer = state.directory.lock_writer().await;
    state.directory.user(&pool_id, &user_id).ok_or_else(|| not_found("user"))?;
    forget_passkeys(&state, &pool_id, &user_id)?;
    state.directory.delete_user(&state.records, &pool_id, &user_id).map_err(OAuthError::server)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A deleted user's passkeys go too, in every workspace that signs in from the pool.
fn forget_passkeys(state: &AppState, pool_id: &str, user_id: &str) -> OAuthResult<()> {
    for ws in state.workspaces.values().filter(|ws| ws.settings.identity_pool.as_deref() == Some(pool_id)) {
        state.passkeys.forget_user(&state.records, &ws.key, user_id).map_err(OAuthError::server)?;
    }
    Ok(())
}

/// Applies `change` to a stored user under the writer lock and answers with the user.
async fn change_user(state: &AppState, pool_id: &str, user_id: &str, status: StatusCode, change: impl FnOnce(&AppState, &mut PoolUser) -> OAuthResult<()>) -> OAuthResult<Response> {
    let _writer = state.directory.lock_writer().await;
    let mut user = state.directory.user(pool_id, user_id).ok_or_else(|| not_found("user"))?;
    change(state, &mut user)?;
    user.updated_at = fapilab_jose::now();
    state.directory.put_user(&state.records, user.clone()).map_err(OAuthError::server)?;
    Ok(answer(status, user.view()))
}

pub async fn add_identifier(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id)): Path<(String, String)>, body: Bytes) -> OAuthResult<Response> {
    let new = identifier(json_body(&body)?)?;
    change_user(&state, &pool_id, &user_id, StatusCode::CREATED, |state, user| {
        let mut all = user.identifiers.clone();
        all.push(new);
        refuse_duplicates(state, &pool_id, &user.id, &all)?;
        user.identifiers = all;
        Ok(())
    })
    .await
}

pub async fn remove_identifier(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id, identifier_id)): Path<(String, String, String)>) -> OAuthResult<Response> {
    change_user(&state, &pool_id, &user_id, StatusCode::OK, |_, user| {
        let before = user.identifiers.len();
        if user.identifiers.len() == 1 && user.identifiers[0].id == identifier_id {
            return Err(conflict("a user keeps at least one identifier; add another first".into()));
        }
        user.identifiers.retain(|i| i.id != identifier_id);
        if user.identifiers.len() == before {
            return Err(not_found("identifier"));
        }
        Ok(())
    })
    .await
}

pub async fn add_address(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id)): Path<(String, String)>, body: Bytes) -> OAuthResult<Response> {
    let new = address(json_body(&body)?)?;
    change_user(&state, &pool_id, &user_id, StatusCode::CREATED, |_, user| {
        if user.addresses.iter().any(|a| a.kind == new.kind && a.value.eq_ignore_ascii_case(&new.value)) {
            return Err(conflict(format!("address {:?} is already on this user", new.value)));
        }
        user.addresses.push(new);
        Ok(())
    })
    .await
}

pub async fn remove_address(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id, address_id)): Path<(String, String, String)>) -> OAuthResult<Response> {
    change_user(&state, &pool_id, &user_id, StatusCode::OK, |_, user| {
        let before = user.addresses.len();
        user.addresses.retain(|a| a.id != address_id);
        if user.addresses.len() == before {
            return Err(not_found("address"));
        }
        Ok(())
    })
    .await
}

pub async fn verify_address(_: Admin, State(state): State<SharedState>, Path((pool_id, user_id, address_id)): Path<(String, String, String)>) -> OAuthResult<Response> {
    change_user(&state, &pool_id, &user_id, StatusCode::OK, |_, user| {
        let address = user.addresses.iter_mut().find(|a| a.id == address_id).ok_or_else(|| not_found("address"))?;
        if !address.verified {
            address.verified = true;
            address.verified_at = Some(fapilab_jose::now());
        }
        Ok(())
    })
    .await
}

// --- the sandbox inbox ---------------------------------------------------------------------

/// `GET /admin/inbox[?to=address]`: one-time codes "sent" by email or text message, newest
/// first.
pub async fn inbox(_: Admin, State(state): State<SharedState>, Query(query): Query<HashMap<String, String>>) -> OAuthResult<Response> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "to") {
        return Err(OAuthError::invalid_request(format!("query: unknown parameter {unknown:?}; the inbox takes to")));
    }
    Ok(answer(StatusCode::OK, json!({ "messages": state.inbox.list(query.get("to").map(String::as_str)) })))
}

pub async fn clear_inbox(_: Admin, State(state): State<SharedState>) -> Response {
    state.inbox.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_formats() {
        assert!(is_email("alice@bank.example") && !is_email("alice") && !is_email("a@b") && !is_email("a b@c.d"));
        assert!(is_mobile("+447700900123") && !is_mobile("07700900123") && !is_mobile("+12"));
        assert!(is_uuid("c770aef3-6784-41f7-8e0e-ff5f97bddb3a") && !is_uuid("c770aef3678441f78e0eff5f97bddb3a"));
    }
}
