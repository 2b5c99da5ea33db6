//! Dynamic client registration (RFC 7591; DCR-01..DCR-06) at `{issuer}/register`, and its
//! management (RFC 7592; DCM-01..DCM-06) at `{issuer}/register/{client_id}` — on both
//! listeners.
//!
//! Who may register is the workspace's registration policy: anyone, the holder of an initial
//! access token, or a client with a software statement from a trusted issuer. Metadata is
//! checked by `protocol::client_metadata` under the workspace's profile. Management is allowed
//! to the client's registration access token — which rotates on every GET and PUT made with it
//! (DCM-06), so a leaked token is short-lived in practice — or to an access token of the same
//! workspace carrying `dcr_manage`, which may manage any registered client but never a
//! configured one.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::access;
use crate::config::RegistrationPolicy;
use crate::error::{Challenge, ErrorCode, OAuthError, OAuthResult};
use crate::http::{ClientIdSegment, JsonObject, Peer, Ws};
use crate::protocol::client_metadata::{self, ClientMetadata};
use crate::protocol::software_statement::{self, StatementViolation};
use crate::registry::{self, RegisteredClientRecord, TokenCheck};
use crate::state::SharedState;
use crate::store::Kind;
use crate::workspace::Workspace;

/// The scope that lets an access token manage every registered client of its workspace.
pub const DCR_MANAGE_SCOPE: &str = "dcr_manage";

/// Members a client may send back (e.g. echoing a registration response) but never sets.
const SERVER_MANAGED: [&str; 9] = [
    "client_id",
    "client_secret",
    "client_secret_expires_at",
    "client_id_issued_at",
    "registration_access_token",
    "registration_client_uri",
    "fdx_client_status",
    "status",
    "client_status",
];

fn registration_offered(ws: &Workspace) -> OAuthResult<()> {
    if ws.registration_enabled() {
        Ok(())
    } else {
        Err(OAuthError::new(ErrorCode::NotFound, "this workspace does not offer dynamic client registration"))
    }
}

fn unauthorized(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_token(description).with_challenge(Challenge::Bearer)
}

fn bearer(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (!token.is_empty()).then_some((scheme, token))
}

fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 7591 §3: the initial access token, when the policy asks for one.
fn check_initial_access_token(ws: &Workspace, headers: &HeaderMap) -> OAuthResult<()> {
    if ws.settings.registration.policy != RegistrationPolicy::InitialAccessToken {
        return Ok(());
    }
    let Some((scheme, token)) = bearer(headers) else {
        return Err(unauthorized("registration requires an initial access token in Authorization: Bearer [DCR-01, RFC7591-3]"));
    };
    let digest = fapilab_jose::sha256_b64url(token.as_bytes());
    if !scheme.eq_ignore_ascii_case("bearer") || !ws.initial_access_token_hashes.contains(&digest) {
        return Err(unauthorized("the initial access token is not valid for this workspace [DCR-01, RFC7591-3]"));
    }
    Ok(())
}

/// DCR-05: verifies a software statement and lets its claims override the request.
fn apply_software_statement(ws: &Workspace, body: &mut Map<String, Value>) -> OAuthResult<()> {
    let statement = match body.remove("software_statement") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(OAuthError::new(ErrorCode::InvalidSoftwareStatement, "software_statement must be a JWT string [DCR-05, RFC7591-2.3]"));
        }
    };
    let required = ws.settings.registration.policy == RegistrationPolicy::SoftwareStatement;
    match (statement, &ws.software_statement_jwks) {
        (None, _) if required => Err(OAuthError::new(
            ErrorCode::InvalidSoftwareStatement,
            "this workspace registers clients only with a software_statement from a trusted issuer [DCR-01, DCR-05]",
        )),
        (None, _) => Ok(()),
        (Some(_), None) => Err(OAuthError::new(
            ErrorCode::UnapprovedSoftwareStatement,
            "this workspace trusts no software statement issuer [DCR-05, RFC7591-3.2.2]",
        )),
        (Some(jwt), Some(trusted)) => {
            let claims = software_statement::verify(&jwt, trusted, &ws.settings.registration.software_statement_issuers, fapilab_jose::now())
                .map_err(|v| match v {
                    StatementViolation::Invalid(_) => OAuthError::new(ErrorCode::InvalidSoftwareStatement, v.to_string()),
                    StatementViolation::Unapproved(_) => OAuthError::new(ErrorCode::UnapprovedSoftwareStatement, v.to_string()),
                })?;
            software_statement::merge(body, claims);
            body.insert("software_statement".into(), Value::String(jwt));
            Ok(())
        }
    }
}

/// Policy, software statement, then metadata: the validated registration.
fn validated(ws: &Workspace, mut body: Map<String, Value>) -> OAuthResult<ClientMetadata> {
    for member in SERVER_MANAGED {
        body.remove(member);
    }
    apply_software_statement(ws, &mut body)?;
    let statement = body.get("software_statement").cloned();
    let mut metadata = client_metadata::validate(&body, &registry::rules(ws)).map_err(|v| {
        let code = if v.is_redirect_uri() { ErrorCode::InvalidRedirectUri } else { ErrorCode::InvalidClientMetadata };
        OAuthError::new(code, v.to_string())
    })?;
    // RFC 7591 §3.2.1: the statement itself is returned unmodified.
    if let Some(statement) = statement {
        metadata.document.insert("software_statement".into(), statement);
    }
    Ok(metadata)
}

/// The keys at the client's `jwks_uri`, when it registered one (refused like bad metadata).
async fn remote_keys(state: &SharedState, metadata: &ClientMetadata) -> OAuthResult<Option<Value>> {
    match &metadata.jwks_uri {
        None => Ok(None),
        Some(uri) => registry::fetch_client_keys(&state.outbound, uri)
            .await
            .map(Some)
            .map_err(|why| OAuthError::new(ErrorCode::InvalidClientMetadata, format!("jwks_uri: {why} [DCR-04]"))),
    }
}

fn runtime_client(ws: &Workspace, client_id: &str, metadata: &ClientMetadata, record: &RegisteredClientRecord) -> OAuthResult<Arc<crate::workspace::Client>> {
    registry::client_from_metadata(client_id, metadata, record.fdx_status, record.fetched_jwks.as_ref())
        .map(Arc::new)
        .map_err(|why| OAuthError::server(format!("workspace {}: validated metadata did not build a client: {why}", ws.key)))
}

/// `POST {issuer}/register` (RFC 7591 §3.1).
pub async fn register(State(state): State<SharedState>, Ws(ws): Ws, peer: Peer, headers: HeaderMap, JsonObject(body): JsonObject) -> Result<Response, OAuthError> {
    registration_offered(&ws)?;
    check_initial_access_token(&ws, &headers)?;
    let metadata = validated(&ws, body)?;
    let fetched_jwks = remote_keys(&state, &metadata).await?;

    let now = fapilab_jose::now();
    let client_id = loop {
        let candidate = format!("dcr-{}", fapilab_jose::random_token(16));
        if ws.client(&candidate).is_none() {
            break candidate;
        }
    };
    let token = fapilab_jose::random_token(32);
    let record = RegisteredClientRecord {
        client_id: client_id.clone(),
        issued_at: now,
        metadata: metadata.document.clone(),
        registration_token_hash: fapilab_jose::sha256_b64url(token.as_bytes()),
        registration_token_expires_at: ws.settings.registration.registration_access_token_lifetime.expires_at(now),
        // FDX-ST-05
        fdx_status: ws.policy.registration_extension.map(|_| ws.settings.fdx.initial_status),
        status_changes: Vec::new(),
        fetched_jwks,
    };
    let client = runtime_client(&ws, &client_id, &metadata, &record)?;
    {
        let _writing = ws.registry.lock_for_write();
        state.records.put(Kind::RegisteredClient, &registry::record_key(&ws, &client_id), None, &record).map_err(OAuthError::server)?;
        ws.registry.insert(client);
    }
    tracing::info!(%client_id, method = metadata.auth_method.as_str(), "client registered");
    Ok(no_store(StatusCode::CREATED, registry::information(&ws, peer.listener, &record, Some(&token))))
}

/// Who is managing a registration.
enum Manager {
    /// The client itself, with its registration access token (RFC 7592 §2).
    Client,
    /// A holder of a `dcr_manage` access token of this workspace.
    Administrator,
}

/// DCM-03: the client's registration access token, or a `dcr_manage` access token; the
/// registration's record comes with it.
fn manager(state: &SharedState, ws: &Workspace, peer: &Peer, method: &Method, client_id: &str, headers: &HeaderMap) -> OAuthResult<(Manager, RegisteredClientRecord)> {
    let Some((scheme, token)) = bearer(headers) else {
        return Err(unauthorized("a registration access token (or a dcr_manage access token) is required in the Authorization header [DCM-02, DCM-03]"));
    };
    let record: Option<RegisteredClientRecord> =
        state.records.get(Kind::RegisteredClient, &registry::record_key(ws, client_id)).map_err(OAuthError::server)?;
    if scheme.eq_ignore_ascii_case("bearer")
        && let Some(record) = &record
    {
        match record.token_matches(token, fapilab_jose::now()) {
            TokenCheck::Valid => return Ok((Manager::Client, record.clone())),
            TokenCheck::Expired => return Err(unauthorized("the registration access token has expired [DCM-03]")),
            TokenCheck::Wrong => {}
        }
    }
    let url = ws.endpoint(peer.listener, &format!("register/{client_id}"));
    if access::active_access_token(state, ws, token).is_none() {
        return Err(unauthorized(
            "the token is neither this client's current registration access token nor an active access token of this workspace (registration access tokens rotate on every GET and PUT) [DCM-03, DCM-06]",
        ));
    }
    let bound = access::bound_access_token(state, ws, peer, method.as_str(), &url, headers)?;
    if !bound.scope.split_whitespace().any(|s| s == DCR_MANAGE_SCOPE) {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "managing another client's registration needs an access token with the dcr_manage scope [DCM-03]")
            .with_challenge(access::challenge(ws, &bound.cnf)));
    }
    match record {
        Some(record) => Ok((Manager::Administrator, record)),
        None if ws.clients.contains_key(client_id) => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            format!("client {client_id} is configured by the operator, not registered; dcr_manage manages registered clients only [DCM-03]"),
        )),
        None => Err(OAuthError::new(ErrorCode::NotFound, format!("no registered client {client_id} in this workspace [DCM-03]"))),
    }
}

/// A fresh registration access token for `record` (DCM-06), stored as its hash.
fn rotate(ws: &Workspace, record: &mut RegisteredClientRecord) -> String {
    let token = fapilab_jose::random_token(32);
    let now = fapilab_jose::now();
    record.registration_token_hash = fapilab_jose::sha256_b64url(token.as_bytes());
    record.registration_token_expires_at = ws.settings.registration.registration_access_token_lifetime.expires_at(now);
    token
}

/// `GET registration_client_uri` (RFC 7592 §2.1).
pub async fn read(State(state): State<SharedState>, Ws(ws): Ws, ClientIdSegment(client_id): ClientIdSegment, peer: Peer, method: Method, headers: HeaderMap) -> Result<Response, OAuthError> {
    registration_offered(&ws)?;
    let (manager, mut record) = manager(&state, &ws, &peer, &method, &client_id, &headers)?;
    let token = match manager {
        Manager::Client => {
            // Rotate on the current record, read under the writer lock: a DELETE, PUT or
            // status change since `manager` read it must not be written over.
            let _writing = ws.registry.lock_for_write();
            let key = registry::record_key(&ws, &client_id);
            let presented = bearer(&headers).map(|(_, t)| t).unwrap_or_default();
            record = state
                .records
                .get::<RegisteredClientRecord>(Kind::RegisteredClient, &key)
                .map_err(OAuthError::server)?
                .filter(|current| current.token_matches(presented, fapilab_jose::now()) == TokenCheck::Valid)
                .ok_or_else(|| unauthorized("the registration changed or was deleted meanwhile; its registration access token is no longer valid [DCM-03]"))?;
            let token = rotate(&ws, &mut record);
            state.records.put(Kind::RegisteredClient, &key, None, &record).map_err(OAuthError::server)?;
            Some(token)
        }
        Manager::Administrator => None,
    };
    Ok(no_store(StatusCode::OK, registry::information(&ws, peer.listener, &record, token.as_deref())))
}

/// `PUT registration_client_uri` (RFC 7592 §2.2): the complete new metadata replaces the old.
pub async fn update(
    State(state): State<SharedState>,
    Ws(ws): Ws,
    ClientIdSegment(client_id): ClientIdSegment,
    peer: Peer,
    method: Method,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, OAuthError> {
    registration_offered(&ws)?;
    let (manager, _) = manager(&state, &ws, &peer, &method, &client_id, &headers)?;
    match body.get("client_id") {
        Some(Value::String(id)) if *id == client_id => {}
        Some(_) => {
            return Err(OAuthError::new(ErrorCode::InvalidClientMetadata, "client_id in the body differs from the client being updated [DCM-04]"));
        }
        None => {
            return Err(OAuthError::new(ErrorCode::InvalidClientMetadata, "client_id is required in the body of an update [DCM-04, RFC7592-2.2]"));
        }
    }
    let metadata = validated(&ws, body)?;
    let fetched_jwks = remote_keys(&state, &metadata).await?;
    let _writing = ws.registry.lock_for_write();
    // Read again under the writer lock: a status change or rotation may have happened since.
    let mut record: RegisteredClientRecord = state
        .records
        .get(Kind::RegisteredClient, &registry::record_key(&ws, &client_id))
        .map_err(OAuthError::server)?
        .ok_or_else(|| unauthorized("the client was deleted [DCM-05]"))?;
    record.metadata = metadata.document.clone();
    record.fetched_jwks = fetched_jwks;
    let token = match manager {
        Manager::Client => Some(rotate(&ws, &mut record)),
        Manager::Administrator => None,
    };
    let client = runtime_client(&ws, &client_id, &metadata, &record)?;
    state.records.put(Kind::RegisteredClient, &registry::record_key(&ws, &client_id), None, &record).map_err(OAuthError::server)?;
    ws.registry.insert(client);
    tracing::info!(%client_id, "client registration updated");
    Ok(no_store(StatusCode::OK, registry::information(&ws, peer.listener, &record, token.as_deref())))
}

/// `DELETE registration_client_uri` (RFC 7592 §2.3): 204, then the client id, its
/// registration access token and every token it holds stop working (DCM-05).
pub async fn delete(State(state): State<SharedState>, Ws(ws): Ws, ClientIdSegment(client_id): ClientIdSegment, peer: Peer, method: Method, headers: HeaderMap) -> Result<Response, OAuthError> {
    registration_offered(&ws)?;
    manager(&state, &ws, &peer, &method, &client_id, &headers)?;
    {
        let _writing = ws.registry.lock_for_write();
        state.records.delete(Kind::RegisteredClient, &registry::record_key(&ws, &client_id)).map_err(OAuthError::server)?;
        ws.registry.remove(&client_id);
    }
    tracing::info!(%client_id, "client registration deleted");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
