//! Authorization server metadata: OIDC Discovery (`{issuer}/.well-known/openid-configuration`)
//! and RFC 8414 (`/.well-known/oauth-authorization-server{issuer path}`), one document
//! (FAPI2-SP-AS-01, MD-01..MD-04). Everything advertised is what the endpoints enforce, read
//! from the same policy.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::http::Ws;
use crate::profiles::SenderConstraint;
use crate::workspace::{Listener, Workspace};

pub async fn openid_configuration(Ws(ws): Ws) -> impl IntoResponse {
    Json(document(&ws))
}

pub async fn oauth_authorization_server(Ws(ws): Ws) -> impl IntoResponse {
    Json(document(&ws))
}

pub fn document(ws: &Workspace) -> Value {
    let p = &ws.policy;
    let tls = |name: &str| ws.endpoint(Listener::Tls, name);
    let mtls = |name: &str| ws.endpoint(Listener::Mtls, name);
    let algs = p.algorithm_names();
    let assertion_algs: Vec<&str> = ws.assertion_algorithms.iter().map(|a| a.as_str()).collect();
    let signing: Vec<&str> = vec![ws.signing_key.algorithm().as_str()];
    let mut grant_types = vec!["authorization_code", "refresh_token", "client_credentials"];
    if ws.settings.ciba.enabled {
        grant_types.push(crate::grants::ciba::GRANT_TYPE);
    }
    let mut doc = json!({
        "issuer": ws.issuer,
        "authorization_endpoint": tls("authorize"),
        "token_endpoint": tls("token"),
        "pushed_authorization_request_endpoint": tls("par"),
        "introspection_endpoint": tls("introspect"),
        "revocation_endpoint": tls("revoke"),
        "userinfo_endpoint": tls("userinfo"),
        "jwks_uri": tls("jwks"),
        "mtls_endpoint_aliases": {
            "token_endpoint": mtls("token"),
            "pushed_authorization_request_endpoint": mtls("par"),
            "introspection_endpoint": mtls("introspect"),
            "revocation_endpoint": mtls("revoke"),
            "userinfo_endpoint": mtls("userinfo"),
        },
        "response_types_supported": p.response_types(),
        "response_modes_supported": p.response_modes(),
        "grant_types_supported": grant_types,
        "code_challenge_methods_supported": p.pkce_methods,
        "token_endpoint_auth_methods_supported": p.client_auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": p.client_auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": p.client_auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "tls_client_certificate_bound_access_tokens": true,
        "authorization_response_iss_parameter_supported": true,
        "id_token_signing_alg_values_supported": signing,
        "subject_types_supported": ["public"],
        "scopes_supported": ws.settings.scopes,
        "claims_supported": ["sub", "iss", "aud", "azp", "exp", "iat", "auth_time", "nonce", "acr", "amr", "name", "preferred_username", "email", "email_verified"],
        "claims_parameter_supported": true,
        "acr_values_supported": ws.settings.acr_values,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": true,
    });
    // PAR-02: advertised when required; FAPI 1.0 Advanced plans that send requests by value
    // expect the member absent rather than false.
    if p.require_pushed_authorization_requests {
        doc["require_pushed_authorization_requests"] = json!(true);
    }
    // DP-MD-01: only where clients may register DPoP-bound tokens (FAPI 1.0 Advanced is
    // mTLS only, A-AS-06).
    if p.sender_constraints.contains(&SenderConstraint::Dpop) {
        doc["dpop_signing_alg_values_supported"] = json!(algs);
    }
    // CIBA-MD-01, FCIBA-04: poll and ping, never push; requests are signed (FCIBA-08).
    if ws.settings.ciba.enabled {
        doc["backchannel_authentication_endpoint"] = json!(tls("bc-authorize"));
        doc["mtls_endpoint_aliases"]["backchannel_authentication_endpoint"] = json!(mtls("bc-authorize"));
        doc["backchannel_token_delivery_modes_supported"] = json!(["poll", "ping"]);
        doc["backchannel_authentication_request_signing_alg_values_supported"] = json!(algs);
        doc["backchannel_user_code_parameter_supported"] = json!(false);
    }
    // RFC 9701 §6: every workspace signs introspection responses on request.
    doc["introspection_signing_alg_values_supported"] = json!(signing);
    // MS-AS-11, A-AS-01, A-AS-20: where request objects are read, required, and their algorithms.
    if p.request_objects.accepted() {
        doc["request_parameter_supported"] = json!(true);
        doc["request_object_signing_alg_values_supported"] = json!(algs);
    }
    if p.request_objects.required() {
        doc["require_signed_request_object"] = json!(true);
    }
    // MS-JARM-07, A-JARM-01: JARM signing, and the encryption a client may register
    // (A-IDT-03, A-ALG-02: never RSA1_5).
    let encryption_algs: Vec<&str> = p.encryption.algorithms.iter().map(|a| a.as_str()).collect();
    let encryption_encs: Vec<&str> = p.encryption.encodings.iter().map(|e| e.as_str()).collect();
    if p.offers_jarm() {
        doc["authorization_signing_alg_values_supported"] = json!(signing);
        doc["authorization_encryption_alg_values_supported"] = json!(encryption_algs);
        doc["authorization_encryption_enc_values_supported"] = json!(encryption_encs);
    }
    doc["id_token_encryption_alg_values_supported"] = json!(encryption_algs);
    doc["id_token_encryption_enc_values_supported"] = json!(encryption_encs);
    // DCR-01 / RFC 8414 §2: advertised only where the workspace offers registration.
    if ws.registration_enabled() {
        doc["registration_endpoint"] = json!(tls("register"));
        doc["mtls_endpoint_aliases"]["registration_endpoint"] = json!(mtls("register"));
    }
    doc
}
