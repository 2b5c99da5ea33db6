//! Minting tokens for a grant: the access token (RFC 9068 JWT or opaque), the refresh token
//! and the ID token, and the JSON token response (RFC 6749 §5.1).
//!
//! Minting is synchronous and returns the token records still to be written; the endpoint
//! commits them in a batched transaction (`store::batch`) before it answers, so a token is
//! never handed out before its record exists.

use serde_json::{Map, Value, json};

use crate::error::{OAuthError, OAuthResult};
use crate::store::batch::PendingWrite;
use crate::store::{Kind, Records};
use crate::store::records::{AccessTokenRecord, Confirmation, Grant, RefreshTokenRecord, secret_key};
use crate::workspace::{Client, Workspace};

pub struct Issue<'a> {
    pub client: &'a Client,
    pub grant_id: &'a str,
    pub grant: &'a Grant,
    /// Scope of this access token (⊆ the grant's).
    pub scope: &'a str,
    pub cnf: &'a Confirmation,
    pub refresh: RefreshToken<'a>,
    /// `Some(nonce)` for an ID token (inner `None`: no nonce claim, e.g. on refresh).
    pub id_token_nonce: Option<Option<&'a str>>,
}

/// A token response and the records that must be durable before it is sent.
#[must_use = "the records must be written before the response is sent"]
pub struct IssuedTokens {
    pub body: Value,
    pub writes: Vec<PendingWrite>,
}

pub enum RefreshToken<'a> {
    None,
    New,
    /// AS-10: no rotation; the response repeats the token the client sent.
    Same(&'a str),
}

const ID_TOKEN_LIFETIME: i64 = 300;

/// Private claim of our JWT access tokens naming their grant.
pub const GRANT_CLAIM: &str = "gid";

pub fn issue(ws: &Workspace, issue: Issue<'_>) -> OAuthResult<IssuedTokens> {
    let mut writes = Vec::with_capacity(2);
    let now = fapilab_jose::now();
    let lifetime = ws.settings.access_token_lifetime as i64;
    let jti = fapilab_jose::random_token(18);
    let subject = issue.grant.subject.clone();
    let access_token = if ws.access_tokens_are_jwt() {
        let mut claims = json!({
            "iss": ws.issuer,
            "sub": subject.clone().unwrap_or_else(|| issue.client.client_id.clone()),
            "aud": ws.settings.access_token_audience,
            "client_id": issue.client.client_id,
            "iat": now,
            "exp": now + lifetime,
            "jti": jti,
            "scope": issue.scope,
            "cnf": issue.cnf.to_cnf(),
            // The grant the token belongs to: revoking the grant revokes the token
            // (FAPI2-SP-SC-06) without a stored record per token (see `access`).
            GRANT_CLAIM: issue.grant_id,
        });
        if let Some(t) = issue.grant.auth_time {
            claims["auth_time"] = json!(t);
        }
        if let Some(acr) = &issue.grant.acr {
            claims["acr"] = json!(acr);
        }
        if let (Some(c), Confirmation::Unbound) = (claims.as_object_mut(), issue.cnf) {
            c.remove("cnf");
        }
        let mut header = Map::new();
        header.insert("typ".into(), json!("at+jwt"));
        fapilab_jose::jws::sign(&ws.signing_key, header, &claims).map_err(OAuthError::server)?
    } else {
        fapilab_jose::random_token(32)
    };
    // A JWT access token carries its own record (verified by `access`); only an opaque handle
    // needs one stored.
    if !ws.access_tokens_are_jwt() {
        let record = AccessTokenRecord {
            grant_id: issue.grant_id.to_owned(),
            client_id: issue.client.client_id.clone(),
            subject: subject.clone(),
            scope: issue.scope.to_owned(),
            jti,
            cnf: issue.cnf.clone(),
            issued_at: now,
            expires_at: now + lifetime,
            revoked: false,
        };
        writes.push(Records::pending(Kind::AccessToken, secret_key(&ws.key, &access_token), Some(now + lifetime), &record).map_err(OAuthError::server)?);
    }

    let mut body = json!({
        "access_token": access_token,
        "token_type": issue.cnf.token_type(),
        "expires_in": lifetime,
        "scope": issue.scope,
    });

    match issue.refresh {
        RefreshToken::None => {}
        RefreshToken::Same(token) => body["refresh_token"] = json!(token),
        RefreshToken::New => {
            let token = fapilab_jose::random_token(32);
            let rt_lifetime = ws.settings.refresh_token_lifetime as i64;
            let record = RefreshTokenRecord {
                grant_id: issue.grant_id.to_owned(),
                client_id: issue.client.client_id.clone(),
                cnf: issue.cnf.clone(),
                issued_at: now,
                expires_at: now + rt_lifetime,
                revoked: false,
                retired_until: None,
            };
            writes.push(Records::pending(Kind::RefreshToken, secret_key(&ws.key, &token), Some(now + rt_lifetime), &record).map_err(OAuthError::server)?);
            body["refresh_token"] = json!(token);
        }
    }

    if let (Some(nonce), Some(subject)) = (issue.id_token_nonce, subject.as_ref()) {
        let claims = IdTokenClaims {
            subject,
            audience: &issue.client.client_id,
            auth_time: issue.grant.auth_time,
            acr: issue.grant.acr.as_deref(),
            amr: &issue.grant.amr,
            nonce,
            // OIDC §3.3.2.11 makes at_hash optional at the token endpoint; it ties this ID
            // token to the access token it travels with.
            hashes: vec![("at_hash", fapilab_jose::id_token_hash(ws.signing_key.algorithm(), &access_token))],
        };
        body["id_token"] = json!(id_token(ws, issue.client, &claims)?);
    }
    Ok(IssuedTokens { body, writes })
}

/// What one ID token says about its authentication (OIDC Core §2).
pub struct IdTokenClaims<'a> {
    pub subject: &'a str,
    /// The client (A-IDT-05); only a test-only fault makes it anything else.
    pub audience: &'a str,
    pub auth_time: Option<i64>,
    pub acr: Option<&'a str>,
    /// RFC 8176 methods; empty: `pwd` when an `acr` is given (grants written before methods
    /// were recorded all came from a password sign-in).
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
    /// `c_hash`, `s_hash`, `at_hash` (OIDC §3.3.2.11), already computed.
    pub hashes: Vec<(&'static str, String)>,
}

/// An ID token signed by the workspace (A-IDT-02, A-IDT-07) and, when the client registered
/// encryption, encrypted to it (A-IDT-03).
pub fn id_token(ws: &Workspace, client: &Client, c: &IdTokenClaims<'_>) -> OAuthResult<String> {
    let now = fapilab_jose::now();
    let mut claims = json!({
        "iss": ws.issuer,
        "sub": c.subject,
        "aud": c.audience,
        "azp": client.client_id,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME,
    });
    if let Some(t) = c.auth_time {
        claims["auth_time"] = json!(t);
    }
    if let Some(acr) = c.acr {
        claims["acr"] = json!(acr);
    }
    if !c.amr.is_empty() {
        claims["amr"] = json!(c.amr);
    } else if c.acr.is_some() {
        claims["amr"] = json!(["pwd"]);
    }
    if let Some(n) = c.nonce {
        claims["nonce"] = json!(n);
    }
    for (name, value) in &c.hashes {
        claims[*name] = json!(value);
    }
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    let signed = fapilab_jose::jws::sign(&ws.signing_key, header, &claims).map_err(OAuthError::server)?;
    match &client.id_token_encryption {
        Some(encryption) => encryption.seal(&signed).map_err(OAuthError::server),
        None => Ok(signed),
    }
}
