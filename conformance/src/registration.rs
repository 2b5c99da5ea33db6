//! What the registration steps share (RFC 7591/7592, the FDX status endpoint): where to
//! register, the metadata the harness registers for a target client, the admin client's
//! tokens and how each credential is presented.
//!
//! A registered client reuses the keys and certificate of the target's client it stands in
//! for, so the FAPI 2.0 flow steps run with it unchanged (see [`crate::context::Registered`]).

use fapilab_jose::{Algorithm, SigningKey};
use serde_json::{Map, Value, json};

use crate::conditions::Check;
use crate::context::{AdminToken, ModuleContext, Registered};
use crate::http::{Request, Response, Via};
use crate::model::Severity;
use crate::mutations::Mutations;
use crate::scenario::Feature;
use crate::steps::{Proof, StepRun, cert_der, client_auth_params, wants_nonce};
use crate::target::{AdminClient, Registration, Target, TargetClient};
use crate::variant::Sender;

/// Members only the server sets (RFC 7591 §3.2.1, RFC 7592 §2.2, FDX-DCR-03): never sent back
/// in an update (DCM-04).
pub const SERVER_MANAGED: &[&str] = &[
    "client_secret",
    "client_secret_expires_at",
    "client_id_issued_at",
    "registration_access_token",
    "registration_client_uri",
    "fdx_client_status",
    "status",
    "client_status",
];

/// The FDX registration metadata the harness sends and expects echoed (FDX-DCR-02).
pub const FDX_MEMBERS: &[&str] =
    &["description", "duration_type", "duration_period", "lookback_period", "registry_references", "intermediaries"];

/// The scope of the admin client's tokens for registration management.
pub const DCR_MANAGE: &str = "dcr_manage";
/// The scope of the admin client's tokens for the FDX status endpoint (FDX-UPD-02).
pub const UPDATE_CLIENT_STATUS: &str = "update_client_status";

/// The target's registration section, or the module SKIPPED with the reason (the
/// `registration` feature of `[requires]` skips such modules before they start).
pub fn need_registration(ctx: &mut ModuleContext) -> Option<Registration> {
    match &ctx.target.registration {
        Some(r) => Some(r.clone()),
        None => {
            let reason = ctx.target.unmet(&[Feature::Registration]).unwrap_or_default();
            ctx.skip(reason);
            None
        }
    }
}

/// The admin client allowed `scope`, or the module SKIPPED with the reason.
pub fn need_admin(ctx: &mut ModuleContext, reg: &Registration, scope: &str) -> Option<AdminClient> {
    match &reg.admin_client {
        Some(a) if a.has_scope(scope) => Some(a.clone()),
        Some(_) => {
            ctx.skip(format!("the target's registration admin_client has no {scope} scope"));
            None
        }
        None => {
            ctx.skip("the target names no registration admin_client");
            None
        }
    }
}

/// Where `client` registers: the configured endpoint, else the discovery document's
/// (`mtls_endpoint_aliases.registration_endpoint` for a client using its certificate).
pub fn endpoint_for(ctx: &ModuleContext, reg: &Registration, client: &TargetClient) -> Option<String> {
    if client.uses_mtls()
        && let Some(e) = &reg.mtls_endpoint
    {
        return Some(e.clone());
    }
    reg.endpoint.clone().or_else(|| ctx.endpoint(client, "registration_endpoint"))
}

/// Options of one registration request.
pub struct MetadataOptions<'a> {
    pub grant_types: &'a [String],
    /// Add the FDX metadata (FDX-DCR-02).
    pub fdx: bool,
    pub client_name: &'a str,
}

/// The public keys of a private JWKS.
pub fn public_keys(client: &TargetClient) -> Vec<Value> {
    client
        .private_jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(|k| SigningKey::from_private_jwk(k).ok()).map(|k| k.public_jwk().to_value()).collect())
        .unwrap_or_default()
}

/// The transport certificate's key as a JWK with `x5c` (what `self_signed_tls_client_auth`
/// registers, RFC 8705 §2.2).
fn certificate_jwk(client: &TargetClient) -> Result<Value, String> {
    let (Some(cert_pem), Some(key_pem)) = (&client.cert_pem, &client.key_pem) else {
        return Err(format!("client {} has no certificate and key to register", client.client_id));
    };
    let key = [Algorithm::Es256, Algorithm::Ps256, Algorithm::EdDsa]
        .into_iter()
        .find_map(|alg| SigningKey::from_pkcs8_pem(alg, key_pem, None).ok())
        .ok_or_else(|| format!("client {}: the certificate's key is not ES256, PS256 or EdDSA", client.client_id))?;
    let der = cert_der(cert_pem).ok_or_else(|| format!("client {}: cert_file holds no PEM certificate", client.client_id))?;
    let mut jwk = key.public_jwk().to_value();
    if let Some(obj) = jwk.as_object_mut() {
        use base64::Engine;
        obj.insert("x5c".into(), json!([base64::engine::general_purpose::STANDARD.encode(&der)]));
    }
    Ok(jwk)
}

/// The FDX metadata the harness registers (FDX-DCR-02): every FDX member, with values a data
/// provider must accept.
fn fdx_metadata() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("description".into(), json!("fapilab conformance harness: a data recipient under test"));
    m.insert("duration_type".into(), json!(["ONE_TIME", "PERSISTENT", "TIME_BOUND"]));
    m.insert("duration_period".into(), json!(365));
    m.insert("lookback_period".into(), json!(365));
    m.insert(
        "registry_references".into(),
        json!([{"registered_entity_name": "fapilab harness", "registered_entity_id": "fapilab-harness-1", "registry": "PRIVATE"}]),
    );
    m.insert(
        "intermediaries".into(),
        json!([{"name": "fapilab platform", "description": "a data access platform", "uri": "https://platform.fapilab.test",
                "logo_uri": "https://platform.fapilab.test/logo.png", "contacts": ["ops@platform.fapilab.test"],
                "registry_references": [{"registered_entity_name": "fapilab platform", "registered_entity_id": "fapilab-platform-1", "registry": "PRIVATE"}]}]),
    );
    m
}

/// Every scope the target's flows ask for (openid and plain variants), once each.
pub fn flow_scopes(target: &Target) -> String {
    let mut scope: Vec<&str> = Vec::new();
    for s in target.scope_openid.split_whitespace().chain(target.scope_plain.split_whitespace()) {
        if !scope.contains(&s) {
            scope.push(s);
        }
    }
    scope.join(" ")
}

/// The metadata registering `client` (the target's client for this variant): its redirect
/// URIs, authentication method and keys, the variant's sender constraint (FAPI2-SP-AS-04),
/// and `scope`.
pub fn client_metadata(scope: &str, client: &TargetClient, o: &MetadataOptions<'_>) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    let mut redirect_uris = vec![json!(client.redirect_uri)];
    if let Some(second) = &client.second_redirect_uri {
        redirect_uris.push(json!(second));
    }
    m.insert("redirect_uris".into(), Value::Array(redirect_uris));
    m.insert("token_endpoint_auth_method".into(), json!(client.auth_method));
    m.insert("grant_types".into(), json!(o.grant_types));
    if o.grant_types.iter().any(|g| g == "authorization_code") {
        m.insert("response_types".into(), json!(["code"]));
    }
    m.insert("scope".into(), json!(scope));
    match client.auth_method.as_str() {
        "self_signed_tls_client_auth" => {
            m.insert("jwks".into(), json!({"keys": [certificate_jwk(client)?]}));
        }
        "tls_client_auth" => {
            let der = client
                .cert_pem
                .as_deref()
                .and_then(cert_der)
                .ok_or_else(|| format!("client {} has no certificate to take the subject DN from", client.client_id))?;
            let dn = fapilab_certs::subject_dn_of(&der).map_err(|e| format!("client {}: {e}", client.client_id))?;
            m.insert("tls_client_auth_subject_dn".into(), json!(dn));
        }
        _ => {
            let keys = public_keys(client);
            if keys.is_empty() {
                return Err(format!("client {} has no usable key in its private JWKS to register", client.client_id));
            }
            m.insert("jwks".into(), json!({"keys": keys}));
        }
    }
    match client.sender {
        Sender::Dpop => m.insert("dpop_bound_access_tokens".into(), json!(true)),
        Sender::Mtls => m.insert("tls_client_certificate_bound_access_tokens".into(), json!(true)),
    };
    m.insert("client_name".into(), json!(o.client_name));
    if o.fdx {
        m.extend(fdx_metadata());
    }
    Ok(m)
}

/// The body of an update (DCM-04): the complete metadata the server last returned, without
/// the members only the server sets, with `client_id`.
pub fn update_body(metadata: &Map<String, Value>, client_id: &str) -> Map<String, Value> {
    let mut body: Map<String, Value> = metadata.iter().filter(|(k, _)| !SERVER_MANAGED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    body.insert("client_id".into(), json!(client_id));
    body
}

/// Sends a request the admin client signs with a DPoP proof, retrying once with the server's
/// nonce (FAPI2-SP-AS-11).
async fn send_admin(
    ctx: &mut ModuleContext,
    via: Via<'_>,
    mut build: impl FnMut(Option<String>) -> Result<Request, String>,
) -> Result<Response, String> {
    let resp = ctx.http.send(via, build(ctx.admin.as_nonce.clone())?).await;
    let fresh = resp.header("dpop-nonce").map(str::to_owned);
    if let Some(n) = &fresh {
        ctx.admin.as_nonce = Some(n.clone());
    }
    match fresh {
        Some(n) if wants_nonce(&resp) => {
            let retry = ctx.http.send(via, build(Some(n))?).await;
            if let Some(n) = retry.header("dpop-nonce") {
                ctx.admin.as_nonce = Some(n.to_owned());
            }
            Ok(retry)
        }
        _ => Ok(resp),
    }
}

/// A client_credentials token of the admin client with `scope` (cached for the module), or
/// `None` after recording why there is none.
pub async fn admin_token(ctx: &mut ModuleContext, admin: &AdminClient, scope: &str) -> Option<AdminToken> {
    if let Some(t) = ctx.admin.tokens.get(scope) {
        return Some(t.clone());
    }
    if !ctx.ensure_discovery().await {
        return None;
    }
    let client = &admin.client;
    let Some(url) = ctx.endpoint(client, "token_endpoint") else {
        crate::steps::harness_problem(ctx, "admin.token", "find the token endpoint", "no token_endpoint in the discovery document");
        return None;
    };
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned()), ("scope".to_owned(), scope.to_owned())];
    match client_auth_params(ctx, client, &Mutations::default()) {
        Ok(a) => form.extend(a),
        Err(e) => {
            crate::steps::harness_problem(ctx, "admin.token", "authenticate the admin client", &e);
            return None;
        }
    }
    let key = (client.sender == Sender::Dpop).then(|| ctx.admin.dpop_key.clone());
    let via = ctx.via_for(client);
    let resp = send_admin(ctx, via, |nonce| {
        let mut req = Request::post_form(url.clone(), form.clone());
        if let Some(k) = &key {
            let mut p = Proof::new(k, "POST", &url);
            p.nonce = nonce;
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            crate::steps::harness_problem(ctx, "admin.token", "build the admin client's token request", &e);
            return None;
        }
    };
    let body = resp.json().filter(|_| resp.status == Some(200));
    let token = body.as_ref().and_then(|b| {
        let at = b.get("access_token").and_then(Value::as_str)?;
        let tt = b.get("token_type").and_then(Value::as_str).unwrap_or("Bearer");
        Some(AdminToken { access_token: at.to_owned(), token_type: tt.to_owned() })
    });
    ctx.push(
        Check::new("admin.token", format!("the registration admin client obtains a token with scope {scope}"))
            .req(&["FDX-UPD-02", "DCM-02"])
            .expected("HTTP 200 with an access_token (client_credentials)")
            .observed(resp.describe())
            .hint("the target's registration admin_client must be allowed the client_credentials grant and this scope")
            .evidence(&[resp.index])
            .pass(token.is_some()),
    );
    match token {
        Some(t) => {
            ctx.admin.tokens.insert(scope.to_owned(), t.clone());
            Some(t)
        }
        None => {
            ctx.aborted = true;
            None
        }
    }
}

/// Sends `method url` (with an optional JSON body) with the admin client's token, presented
/// as it is bound: a `DPoP` token with a proof carrying `ath` (RFC 9449 §7.1), a `Bearer` one
/// over the admin client's certificate (RFC 8705 §3).
pub async fn send_with_admin_token(
    ctx: &mut ModuleContext,
    admin: &AdminClient,
    token: &AdminToken,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Response, String> {
    let client = &admin.client;
    let dpop = token.token_type.eq_ignore_ascii_case("DPoP");
    let key = ctx.admin.dpop_key.clone();
    let via = ctx.via_for(client);
    send_admin(ctx, via, |nonce| {
        let mut req = match &body {
            Some(b) => Request::json(method, url, b.clone()),
            None => Request::bodyless(method, url),
        };
        if dpop {
            let mut p = Proof::new(&key, method, url);
            p.access_token = Some(&token.access_token);
            p.nonce = nonce;
            req = req.header("Authorization", format!("DPoP {}", token.access_token)).header("DPoP", p.build()?);
        } else {
            req = req.header("Authorization", format!("Bearer {}", token.access_token));
        }
        Ok(req)
    })
    .await
}

/// Sends `method url` (with an optional JSON body) over `client`'s connection with `bearer`
/// (a registration or initial access token) in `Authorization: Bearer` (RFC 6750 §2.1), or
/// without credentials.
pub async fn send_with_bearer(
    ctx: &mut ModuleContext,
    client: &TargetClient,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut req = match body {
        Some(b) => Request::json(method, url, b),
        None => Request::bodyless(method, url),
    };
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let via = ctx.via_for(client);
    ctx.http.send(via, req).await
}

/// Client `index`'s registration, or a harness problem (no `register` step before).
pub fn need_registered(ctx: &mut ModuleContext, index: u8, id: &str) -> Option<Registered> {
    match &ctx.state_ref(index).registered {
        Some(r) => Some(r.clone()),
        None => {
            crate::steps::harness_problem(
                ctx,
                id,
                "find a registered client",
                &format!("the scenario has no successful `register` step for client {index} before this step"),
            );
            None
        }
    }
}

/// The configuration endpoint of a registration (DCM-01), or a harness problem when the
/// registration answer named none (its own condition already failed).
pub fn need_client_uri(ctx: &mut ModuleContext, r: &Registered, id: &str) -> Option<String> {
    match &r.registration_client_uri {
        Some(u) => Some(u.clone()),
        None => {
            crate::steps::harness_problem(ctx, id, "find the registration_client_uri", "the registration answer had none");
            None
        }
    }
}

/// A management request as sent: the answer, and whether the admin client's token was used
/// instead of the registration access token.
pub struct Managed {
    pub resp: Response,
    pub with_admin: bool,
}

/// Sends `method` (with `body`) to client `index`'s configuration endpoint with the
/// credential the step's mutations pick: its latest registration access token (RFC 7592 §2),
/// none, an unknown one, client 2's, the one before a rotation, or the admin client's token
/// (`dcr_manage`, or only `update_client_status`), possibly at another tenant. `prefix` names
/// the step's conditions (`read`, `update`, `delete`). `None` when there is nothing to send
/// (the module skipped, a harness problem recorded, or no rotated token to try).
pub async fn send_management(
    ctx: &mut ModuleContext,
    index: u8,
    m: &Mutations,
    method: &str,
    body: Option<Value>,
    prefix: &str,
) -> Option<Managed> {
    let id = &format!("{prefix}.harness");
    let reg = need_registration(ctx)?;
    let registered = need_registered(ctx, index, id)?;
    let mut url = need_client_uri(ctx, &registered, id)?;
    let admin_scope = if m.has("dcr_manage_token") || m.has("other_workspace") {
        Some(DCR_MANAGE)
    } else if m.has("token_without_dcr_manage") {
        Some(UPDATE_CLIENT_STATUS)
    } else {
        None
    };
    if let Some(scope) = admin_scope {
        if !reg.supports_dcr_manage {
            ctx.skip("the target does not say it supports dcr_manage (supports_dcr_manage)");
            return None;
        }
        if m.has("other_workspace") {
            let Some(other) = &reg.other_workspace_registration_endpoint else {
                ctx.skip("the target names no other_workspace_registration_endpoint");
                return None;
            };
            url = format!("{}/{}", other.trim_end_matches('/'), registered.client.client_id);
        }
        let admin = need_admin(ctx, &reg, scope)?;
        let token = admin_token(ctx, &admin, scope).await?;
        return match send_with_admin_token(ctx, &admin, &token, method, &url, body).await {
            Ok(resp) => Some(Managed { resp, with_admin: true }),
            Err(e) => {
                crate::steps::harness_problem(ctx, id, "build the request with the admin client's token", &e);
                None
            }
        };
    }
    let bearer = if m.has("no_registration_token") {
        None
    } else if m.has("wrong_registration_token") {
        Some(fapilab_jose::random_token(32))
    } else if m.has("other_client_registration_token") {
        let other = if index == 1 { 2 } else { 1 };
        match ctx.state_ref(other).registered.as_ref().and_then(|r| r.registration_access_token.clone()) {
            Some(t) => Some(t),
            None => {
                crate::steps::harness_problem(
                    ctx,
                    id,
                    "find the other client's registration access token",
                    &format!("register client {other} before this step"),
                );
                return None;
            }
        }
    } else if m.has("previous_registration_token") {
        match &registered.previous_registration_access_token {
            Some(t) => Some(t.clone()),
            None => {
                // DCM-06 makes rotation optional: nothing to try, and nothing wrong.
                ctx.push(
                    Check::new(&format!("{prefix}.previous_registration_token"), "a rotated registration access token stops working")
                        .req(&["DCM-06"])
                        .info()
                        .expected("the token before the last rotation is refused")
                        .observed("not checked: the server has not rotated this client's registration access token")
                        .pass(true),
                );
                return None;
            }
        }
    } else {
        registered.registration_access_token.clone()
    };
    let resp = send_with_bearer(ctx, &registered.client, method, &url, bearer.as_deref(), body).await;
    Some(Managed { resp, with_admin: false })
}

/// Keeps what a successful management answer says about client `index`: its metadata and,
/// unless the admin client asked, a rotated registration access token (DCM-06: the client
/// must use the newest one).
pub fn remember_answer(ctx: &mut ModuleContext, index: u8, body: &Map<String, Value>, with_admin: bool) {
    let Some(r) = ctx.state(index).registered.as_mut() else { return };
    r.metadata = body.clone();
    if let Some(uris) = body.get("redirect_uris").and_then(Value::as_array) {
        let uris: Vec<String> = uris.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        if let Some(first) = uris.first() {
            r.client.redirect_uri = first.clone();
            r.client.second_redirect_uri = uris.get(1).cloned();
        }
    }
    if with_admin {
        return;
    }
    if let Some(new) = body.get("registration_access_token").and_then(Value::as_str)
        && r.registration_access_token.as_deref() != Some(new)
    {
        r.previous_registration_access_token = r.registration_access_token.replace(new.to_owned());
    }
}

/// Judges a refused management request: a body the server had to refuse (400 with an RFC 7591
/// error) or a credential it had to refuse (RFC 6750: 401, 403; 404 for a client another
/// tenant does not know).
pub fn judge_management_refusal(ctx: &mut ModuleContext, step: &StepRun<'_>, id: &str, managed: &Managed) {
    let m = &step.mutations;
    let body_rules: Option<(&[&str], &[&str])> = if m.has("mismatched_client_id") {
        Some((&["DCM-04"], &["invalid_client_metadata"]))
    } else if m.has("http_redirect_uri") {
        Some((&["DCM-04", "DCR-03"], &["invalid_redirect_uri"]))
    } else if m.has("fdx_client_status_in_body") {
        Some((&["FDX-DCR-04"], &["invalid_client_metadata"]))
    } else {
        None
    };
    if let Some((reqs, defaults)) = body_rules {
        let errors = step.errors(defaults);
        ctx.extend(crate::conditions::errors::back_channel(
            &crate::conditions::errors::Rejection {
                id,
                what: &format!("the update ({})", m.label()),
                errors: &errors,
                requirements: reqs,
                tls_refusal_ok: false,
                severity: Severity::Failure,
                hint: "the server stored metadata the specification requires it to refuse",
            },
            &managed.resp,
        ));
        return;
    }
    let deleted = ctx.standing(step.index) == Some(crate::context::Standing::Deleted);
    let (reqs, statuses, defaults): (&[&str], &[u16], &[&str]) = if m.has("wrong_registration_token") || m.has("no_registration_token") {
        (&["DCM-03"], &[401], &["invalid_token"])
    } else if m.has("other_client_registration_token") {
        (&["DCM-03"], &[401, 403], &["invalid_token", "access_denied"])
    } else if m.has("previous_registration_token") {
        (&["DCM-06", "DCM-03"], &[401], &["invalid_token"])
    } else if m.has("token_without_dcr_manage") {
        (&["DCM-03"], &[403], &["insufficient_scope"])
    } else if m.has("other_workspace") {
        (&["DCM-03"], &[401, 403, 404], &["invalid_token", "access_denied", "not_found"])
    } else if deleted && managed.with_admin {
        (&["DCM-05"], &[401, 404], &["invalid_token", "not_found"])
    } else if deleted {
        (&["DCM-05", "DCM-03"], &[401], &["invalid_token"])
    } else {
        (&["DCM-03"], &[400, 401, 403, 404], &[])
    };
    let errors = step.errors(defaults);
    let what = if m.is_empty() && deleted {
        "the registration access token of a deleted client".to_owned()
    } else {
        format!("this management request ({})", m.label())
    };
    ctx.extend(crate::conditions::registration::bearer_refused(
        &crate::conditions::registration::BearerRefusal {
            id,
            what: &what,
            statuses,
            errors: &errors,
            requirements: reqs,
            severity: Severity::Failure,
        },
        &managed.resp,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtls_client(auth_method: &str, cert: &fapilab_certs::IssuedCertificate) -> TargetClient {
        TargetClient {
            client_id: "c".into(),
            auth: crate::variant::ClientAuth::Mtls,
            auth_method: auth_method.into(),
            sender: Sender::Mtls,
            index: 1,
            private_jwks: json!({"keys": []}),
            cert_pem: Some(cert.cert_pem.clone()),
            key_pem: Some(cert.key_pem.clone()),
            redirect_uri: "https://c.example/cb".into(),
            second_redirect_uri: None,
        }
    }

    #[test]
    fn certificate_clients_register_their_subject_or_certificate_key() {
        #![allow(clippy::unwrap_used)]
        let cert = fapilab_certs::self_signed_transport(&fapilab_certs::TppSubject::for_name("harness"), 1).unwrap();
        let grant_types = ["authorization_code".to_owned()];
        let o = MetadataOptions { grant_types: &grant_types, fdx: false, client_name: "n" };

        let m = client_metadata("openid accounts", &mtls_client("tls_client_auth", &cert), &o).unwrap();
        let dn = m.get("tls_client_auth_subject_dn").and_then(Value::as_str).unwrap();
        assert!(fapilab_certs::dn_matches(dn, &fapilab_certs::subject_dn_of(&cert.cert_der).unwrap()), "{dn}");
        assert_eq!(m.get("tls_client_certificate_bound_access_tokens"), Some(&json!(true)));
        assert!(!m.contains_key("jwks") && !m.contains_key("dpop_bound_access_tokens"));

        // RFC 8705 §2.2: the self-signed certificate itself, in x5c, with its key.
        let m = client_metadata("openid accounts", &mtls_client("self_signed_tls_client_auth", &cert), &o).unwrap();
        let jwk = &m["jwks"]["keys"][0];
        use base64::Engine;
        assert_eq!(jwk["x5c"][0], json!(base64::engine::general_purpose::STANDARD.encode(&cert.cert_der)));
        assert_eq!(m.get("scope"), Some(&json!("openid accounts")));
        assert_eq!(m.get("response_types"), Some(&json!(["code"])));
    }

    #[test]
    fn update_body_drops_server_managed_members() {
        let mut m = Map::new();
        m.insert("client_name".into(), json!("x"));
        m.insert("registration_access_token".into(), json!("secret"));
        m.insert("fdx_client_status".into(), json!("Pending"));
        m.insert("client_id_issued_at".into(), json!(1));
        let body = update_body(&m, "c-1");
        assert_eq!(Value::Object(body), json!({"client_name": "x", "client_id": "c-1"}));
    }
}
