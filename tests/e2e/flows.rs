//! Full authorization-code flows for every client authentication × sender constraint, with and
//! without `openid` (FAPI2-SP §0: the variants a certification run covers), plus the flow-level
//! requirements: `iss` in every authorization response, long `state`, 64-character `nonce`,
//! pre-fetched authorization pages, discovery, and a store that survives a restart.

use serde_json::{Value, json};

use crate::support::*;

/// PAR → login + consent → callback → token → userinfo → refresh ×2 → introspect → revoke.
async fn full_flow(client_id: &str, openid: bool, bind_with_dpop_jkt: bool) {
    let env = TestEnv::shared().await;
    let tpp = env.tpp(client_id);
    let jwks = env.jwks().await;
    let scope = if openid { FULL_SCOPE } else { OAUTH_SCOPE };
    let mut req = AuthRequest::new(scope);
    if tpp.is_dpop() && bind_with_dpop_jkt {
        // RFC 9449 §10: bind the code with the dpop_jkt parameter instead of a PAR proof.
        req.dpop_header_at_par = false;
        req.extra.push(("dpop_jkt".into(), tpp.dpop_jkt()));
    }

    // PAR (FAPI2-SP-AZ-02, AZ-12) and the browser part (AZ-07: iss; state round trip).
    let grant = env.authorize(&tpp, &req).await;
    let par = &grant.par;
    assert!(grant.request_uri.starts_with(REQUEST_URI_PREFIX), "request_uri prefix (AZ-02): {par}");
    let expires_in = par.json["expires_in"].as_i64().unwrap_or_else(|| panic!("expires_in is an integer: {par}"));
    assert!(expires_in > 0 && expires_in < 600, "PAR expires_in < 600 (FAPI2-SP-AZ-12): {par}");
    assert_eq!(par.header("cache-control"), Some("no-store"), "PAR response is not cached: {par}");
    let callback = grant.callback.query();
    assert_eq!(grant.callback.without_query(), DEFAULT_REDIRECT_URIS[0], "the pushed redirect_uri is used");
    assert!(!callback.contains_key("id_token") && !callback.contains_key("access_token"), "no token in the front channel (§10 item 22): {}", grant.callback.0);

    // FAPI2-SP-CR-06: at least 128 bits of entropy (≥ 22 base64url characters).
    let handle = grant.request_uri.strip_prefix(REQUEST_URI_PREFIX).unwrap_or_default();
    assert!(handle.len() >= 22, "request_uri reference entropy (CR-06): {}", grant.request_uri);
    assert!(grant.code.len() >= 22, "code entropy (CR-06): {}", grant.code);

    // Token (AS-04: sender-constrained; OA-01: no-store).
    let resp = env.redeem(&tpp, &grant).await;
    resp.assert_status(200, "token (authorization_code)");
    assert_eq!(resp.header("cache-control"), Some("no-store"), "token response Cache-Control (OA-01): {resp}");
    let tokens = resp.json.clone();
    let expected_type = if tpp.is_dpop() { "DPoP" } else { "Bearer" };
    assert_eq!(tokens["token_type"], json!(expected_type), "token_type: {resp}");
    assert_eq!(tokens["scope"], json!(scope), "granted scope: {resp}");
    let access_token = tokens["access_token"].as_str().unwrap_or_else(|| panic!("access_token: {resp}")).to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap_or_else(|| panic!("refresh_token: {resp}")).to_owned();
    assert!(refresh_token.len() >= 22, "refresh token entropy (CR-06): {refresh_token}");

    let expected_cnf = if tpp.is_dpop() { json!({ "jkt": tpp.dpop_jkt() }) } else { json!({ "x5t#S256": tpp.cert_thumbprint() }) };
    let (at_header, at_claims) = verify_server_jwt(&access_token, &jwks);
    assert_eq!(at_header["typ"], json!("at+jwt"), "RFC 9068 typ: {at_header:?}");
    assert_eq!(Value::Object(at_claims["cnf"].as_object().cloned().unwrap_or_default()), expected_cnf, "AT cnf (DP-T-01 / MT-06): {at_claims:?}");
    assert_eq!(at_claims["iss"], json!(env.issuer), "AT iss");
    assert_eq!(at_claims["client_id"], json!(tpp.client_id), "AT client_id");
    assert_eq!(at_claims["scope"], json!(scope), "AT scope");

    // ID token only with openid (OID-01), from the token endpoint only.
    let mut subject = None;
    match (openid, tokens.get("id_token").and_then(Value::as_str)) {
        (true, Some(id_token)) => {
            let (header, claims) = verify_server_jwt(id_token, &jwks);
            let alg = header["alg"].as_str().unwrap_or_default();
            assert!(["PS256", "ES256", "EdDSA"].contains(&alg), "ID token alg (FAPI2-SP-CR-02): {header:?}");
            assert_eq!(claims["iss"], json!(env.issuer), "ID token iss: {claims:?}");
            assert_eq!(claims["aud"], json!(tpp.client_id), "ID token aud: {claims:?}");
            assert_eq!(claims["nonce"], json!(req.nonce.clone().expect("nonce")), "ID token nonce: {claims:?}");
            for claim in ["sub", "exp", "iat", "auth_time"] {
                assert!(claims.contains_key(claim), "ID token has {claim}: {claims:?}");
            }
            subject = claims["sub"].as_str().map(str::to_owned);
        }
        (true, None) => panic!("openid flow without id_token: {resp}"),
        (false, Some(_)) => panic!("id_token without the openid scope: {resp}"),
        (false, None) => {}
    }

    // UserInfo (OIDC §5.3) with the binding proven (DPoP proof with ath / same certificate).
    let userinfo = env.userinfo(&tpp, &access_token).await;
    if openid {
        userinfo.assert_status(200, "userinfo");
        assert_eq!(userinfo.json["sub"].as_str(), subject.as_deref(), "userinfo sub equals the ID token sub: {userinfo}");
        assert_eq!(userinfo.json["email"], json!("alice@fapilab.test"), "email scope: {userinfo}");
    } else {
        userinfo.assert_error(403, &["insufficient_scope"], "userinfo without openid (RS-04)");
    }

    // Refresh twice with the same refresh token: no rotation (FAPI2-SP-AS-10).
    let mut refreshed_tokens = Vec::new();
    for round in 1..=2 {
        let refreshed = env.refresh(&tpp, &refresh_token).await;
        refreshed.assert_status(200, &format!("refresh #{round} with the same refresh token (AS-10)"));
        assert_eq!(refreshed.header("cache-control"), Some("no-store"), "refresh response no-store: {refreshed}");
        assert_eq!(refreshed.json["token_type"], json!(expected_type), "refresh token_type: {refreshed}");
        if let Some(rt) = refreshed.json.get("refresh_token") {
            assert_eq!(rt, &json!(refresh_token), "AS-10: the refresh token is not rotated: {refreshed}");
        }
        let at = refreshed.json["access_token"].as_str().unwrap_or_else(|| panic!("refreshed access_token: {refreshed}")).to_owned();
        assert_ne!(at, access_token, "a new access token");
        let (_, claims) = verify_server_jwt(&at, &jwks);
        assert_eq!(Value::Object(claims["cnf"].as_object().cloned().unwrap_or_default()), expected_cnf, "refreshed AT keeps the binding");
        refreshed_tokens.push(at);
    }

    // Introspection (RFC 7662) by the client itself.
    let intro = env.introspect(&tpp, &access_token).await;
    intro.assert_status(200, "introspection");
    assert_eq!(intro.json["active"], json!(true), "AT active: {intro}");
    assert_eq!(intro.json["cnf"], expected_cnf, "introspection cnf: {intro}");
    assert_eq!(intro.json["token_type"], json!(expected_type), "introspection token_type: {intro}");
    assert_eq!(intro.json["client_id"], json!(tpp.client_id), "introspection client_id: {intro}");
    assert_eq!(intro.json["scope"], json!(scope), "introspection scope: {intro}");
    let rt_intro = env.introspect(&tpp, &refresh_token).await;
    assert_eq!(rt_intro.json["active"], json!(true), "RT active: {rt_intro}");

    // Revocation of the refresh token revokes the grant (REV-05, REV-06).
    let revoked = env.revoke(&tpp, &refresh_token, Some("refresh_token")).await;
    revoked.assert_status(200, "revocation");
    for at in std::iter::once(&access_token).chain(refreshed_tokens.iter()) {
        let intro = env.introspect(&tpp, at).await;
        intro.assert_status(200, "introspection after revocation");
        assert_eq!(intro.json, json!({ "active": false }), "AT inactive after its refresh token was revoked (REV-05, INT-03): {intro}");
    }
    let after = env.refresh(&tpp, &refresh_token).await;
    after.assert_error(400, &["invalid_grant"], "refresh after revocation (REV-06)");
    let userinfo = env.userinfo(&tpp, &access_token).await;
    userinfo.assert_error(401, &["invalid_token"], "userinfo with a revoked AT (RS-03)");
}

macro_rules! flow_tests {
    ($($name:ident: $client:literal, openid = $openid:literal, dpop_jkt = $jkt:literal;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                full_flow($client, $openid, $jkt).await;
            }
        )*
    };
}

flow_tests! {
    flow_private_key_jwt_dpop_openid: "pkjwt-dpop-1", openid = true, dpop_jkt = false;
    flow_private_key_jwt_dpop_oauth: "pkjwt-dpop-2", openid = false, dpop_jkt = true;
    flow_private_key_jwt_mtls_openid: "pkjwt-mtls-1", openid = true, dpop_jkt = false;
    flow_private_key_jwt_mtls_oauth: "pkjwt-mtls-2", openid = false, dpop_jkt = false;
    flow_tls_client_auth_dpop_openid: "tls-dpop-1", openid = true, dpop_jkt = true;
    flow_tls_client_auth_dpop_oauth: "tls-dpop-2", openid = false, dpop_jkt = false;
    flow_tls_client_auth_mtls_openid: "tls-mtls-1", openid = true, dpop_jkt = false;
    flow_tls_client_auth_mtls_oauth: "tls-mtls-2", openid = false, dpop_jkt = false;
    flow_self_signed_tls_client_auth_dpop_openid: "selfsigned-dpop-1", openid = true, dpop_jkt = false;
    flow_self_signed_tls_client_auth_dpop_oauth: "selfsigned-dpop-2", openid = false, dpop_jkt = true;
    flow_self_signed_tls_client_auth_mtls_openid: "selfsigned-mtls-1", openid = true, dpop_jkt = false;
    flow_self_signed_tls_client_auth_mtls_oauth: "selfsigned-mtls-2", openid = false, dpop_jkt = false;
}

/// FAPI2-SP-AZ-07 / RFC 9207: the error response of a denied authorization carries `iss`.
#[tokio::test]
async fn fapi2_sp_az_07_user_denies_access_denied_with_iss() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let callback = env.browser().login_and_consent(&tpp.client_id, &request_uri, false).await;
    let q = callback.query();
    assert_eq!(callback.without_query(), DEFAULT_REDIRECT_URIS[0], "error goes to the pushed redirect_uri: {}", callback.0);
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"), "error: {}", callback.0);
    assert_eq!(q.get("iss").map(String::as_str), Some(env.issuer.as_str()), "iss in the error response (AZ-07): {}", callback.0);
    assert_eq!(q.get("state"), req.state.as_ref(), "state in the error response: {}", callback.0);
    assert!(!q.contains_key("code"), "no code after a denial: {}", callback.0);
}

/// FAPI2-SP-AZ-17: a long `state` (e.g. a JWT) round-trips unchanged.
#[tokio::test]
async fn fapi2_sp_az_17_long_state_round_trips() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let mut req = AuthRequest::new(OAUTH_SCOPE);
    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/= %&?#".chars().collect();
    let state: String = (0..1500).map(|i| alphabet[(i * 7 + i / 13) % alphabet.len()]).collect();
    req.state = Some(state.clone());
    // `authorize` asserts that the callback's state equals the pushed one.
    let grant = env.authorize(&tpp, &req).await;
    assert_eq!(grant.callback.query().get("state").map(String::len), Some(1500));
}

/// FAPI2-SP-AZ-14: a 64-character nonce is accepted and comes back in the ID token.
#[tokio::test]
async fn fapi2_sp_az_14_64_char_nonce_accepted() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("selfsigned-dpop-1");
    let mut req = AuthRequest::new(FULL_SCOPE);
    let nonce = "n0nce-".repeat(11)[..64].to_owned();
    assert_eq!(nonce.len(), 64);
    req.nonce = Some(nonce.clone());
    let (_, tokens) = env.tokens(&tpp, &req).await;
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["nonce"], json!(nonce), "ID token nonce: {claims:?}");
}

/// FAPI2-SP-AZ-15: loading the authorization page before login (a link pre-fetcher, then the
/// user, twice) does not burn the request_uri; it is consumed only when the authorization
/// completes.
#[tokio::test]
async fn fapi2_sp_az_15_authorization_page_loaded_twice_still_works() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();

    let prefetcher = env.browser();
    prefetcher.open_authorize(&tpp.client_id, &request_uri).await.assert_status(200, "pre-fetch of the authorization page");
    let user = env.browser();
    user.open_authorize(&tpp.client_id, &request_uri).await.assert_status(200, "first load");
    let second = user.open_authorize(&tpp.client_id, &request_uri).await;
    second.assert_status(200, "second load before login (AZ-15)");
    let callback = user.continue_from_login(&second, true).await;
    let q = callback.query();
    assert!(q.contains_key("code"), "the second page completes the authorization: {}", callback.0);
    assert_eq!(q.get("iss").map(String::as_str), Some(env.issuer.as_str()));

    // The code from that authorization works.
    let grant = CodeGrant {
        code: q["code"].clone(),
        verifier: req.pkce.verifier.clone(),
        redirect_uri: req.redirect_uri.clone(),
        request_uri,
        callback,
        par,
    };
    env.redeem(&tpp, &grant).await.assert_status(200, "token after a twice-loaded page");
}

/// FAPI2-SP-AS-01, MD-01, MD-02: both metadata locations serve the same document, whose
/// issuer is byte-equal to the issuer; the document is pinned by a snapshot.
#[tokio::test]
async fn fapi2_sp_as_01_discovery_documents() {
    let env = TestEnv::shared().await;
    let oidc_url = format!("{}/.well-known/openid-configuration", env.issuer);
    let issuer_path = env.issuer.strip_prefix(&env.info.base_url).expect("issuer under the base URL");
    let rfc8414_url = format!("{}/.well-known/oauth-authorization-server{issuer_path}", env.info.base_url);

    let oidc = Resp::read(env.http.get(&oidc_url).send().await.expect("GET OIDC discovery")).await;
    oidc.assert_status(200, "OIDC discovery");
    assert!(oidc.header("content-type").is_some_and(|c| c.starts_with("application/json")), "JSON: {oidc}");
    let rfc8414 = Resp::read(env.http.get(&rfc8414_url).send().await.expect("GET RFC 8414 metadata")).await;
    rfc8414.assert_status(200, "RFC 8414 metadata");
    assert_eq!(oidc.json, rfc8414.json, "both metadata documents are the same");
    assert_eq!(oidc.json["issuer"].as_str(), Some(env.issuer.as_str()), "issuer byte-equal (MD-02)");
    // The issuer really is where the OIDC document was fetched from (CL-11).
    assert_eq!(format!("{}/.well-known/openid-configuration", oidc.json["issuer"].as_str().unwrap_or_default()), oidc_url);

    let doc = &oidc.json;
    assert_eq!(doc["require_pushed_authorization_requests"], json!(true));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    assert!(!doc["grant_types_supported"].as_array().expect("grant types").contains(&json!("password")), "AS-02");
    for (name, url) in doc.as_object().expect("object") {
        if let Some(url) = url.as_str().filter(|_| name.ends_with("_endpoint") || name == "jwks_uri") {
            assert!(url.starts_with("https://"), "{name} is https (MD-04): {url}");
        }
    }
    // Every advertised mTLS alias is on the mTLS listener.
    for (name, url) in doc["mtls_endpoint_aliases"].as_object().expect("mtls_endpoint_aliases") {
        assert!(url.as_str().is_some_and(|u| u.starts_with(&env.info.mtls_base_url)), "{name} alias on the mTLS listener: {url}");
    }

    // Snapshot with the port-dependent base URLs replaced.
    let text = serde_json::to_string(doc)
        .expect("serialize")
        .replace(&env.info.mtls_base_url, "https://localhost:MTLS_PORT")
        .replace(&env.info.base_url, "https://localhost:PORT");
    let redacted: Value = serde_json::from_str(&text).expect("redacted JSON");
    insta::assert_json_snapshot!("discovery_document", redacted);
}

/// The store survives a restart: a refresh token from before works afterwards (and the
/// pushed, consumed state is not held only in memory).
#[tokio::test]
async fn refresh_token_survives_restart() {
    let mut env = TestEnv::start(|_| {}).await;
    let mut tpp = env.tpp("pkjwt-dpop-1");
    let (_, tokens) = env.tokens(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh_token").to_owned();
    let access_token = tokens["access_token"].as_str().expect("access_token").to_owned();
    let old_issuer = env.issuer.clone();

    let env2 = env.restart().await;
    assert_eq!(env2.issuer, old_issuer, "same issuer after the restart");
    // New connections only: nothing may reach the old server's connection tasks.
    tpp.rebind(&env2);

    let refreshed = env2.refresh(&tpp, &refresh_token).await;
    refreshed.assert_status(200, "refresh after a restart");
    let intro = env2.introspect(&tpp, &access_token).await;
    assert_eq!(intro.json["active"], json!(true), "the access token from before the restart is still known: {intro}");
    // The signing key survived too: the old access token verifies with the new JWKS.
    verify_server_jwt(&access_token, &env2.jwks().await);
    drop(env);
}

/// FAPI2-SP-AS-11 / CL-08: a workspace that demands DPoP server nonces still completes a full
/// flow for a client that follows RFC 9449 §8–9 (retry with the `DPoP-Nonce` value) at PAR, the
/// token endpoint and UserInfo.
#[tokio::test]
async fn dpop_nonce_mode_full_flow() {
    let env = TestEnv::start(|w| w.dpop_nonce = true).await;
    let tpp = env.tpp("tls-dpop-1");
    let (_, tokens) = env.tokens(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    assert!(tpp.nonce.lock().expect("nonce").is_some(), "the server sent a DPoP-Nonce");
    let at = tokens["access_token"].as_str().expect("access_token");
    env.userinfo(&tpp, at).await.assert_status(200, "userinfo in nonce mode");
    let rt = tokens["refresh_token"].as_str().expect("refresh_token");
    env.refresh(&tpp, rt).await.assert_status(200, "refresh in nonce mode");
}
