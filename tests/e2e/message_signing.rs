//! FAPI 2.0 Message Signing workspaces: signed request objects inside PAR (MS-AS-*), JARM
//! responses in every response mode (MS-JARM-*) and signed introspection (MS-JIR-*), over
//! real TLS with real signatures.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use crate::support::*;
use fapilab_server::profiles::ProfileId;

async fn ms_env() -> TestEnv {
    TestEnv::start(|ws| ws.profile = ProfileId::Fapi2MessageSigning).await
}

/// The authorization parameters of `req` plus `response_mode`, as request object claims.
fn request_claims(env: &TestEnv, tpp: &Tpp, req: &AuthRequest, response_mode: &str) -> Map<String, Value> {
    let now = fapilab_jose::now();
    let mut claims = Map::new();
    for (k, v) in req.params() {
        claims.insert(k, json!(v));
    }
    claims.insert("response_mode".into(), json!(response_mode));
    claims.insert("client_id".into(), json!(tpp.client_id));
    claims.insert("iss".into(), json!(tpp.client_id));
    claims.insert("aud".into(), json!(env.issuer));
    claims.insert("nbf".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    claims.insert("jti".into(), json!(fapilab_jose::random_token(12)));
    claims
}

fn sign_request(tpp: &Tpp, claims: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), json!("oauth-authz-req+jwt"));
    fapilab_jose::jws::sign(&tpp.signing_key, header, &Value::Object(claims.clone())).expect("sign request object")
}

/// PAR with client authentication, a DPoP proof for DPoP clients, and exactly `extra` form
/// parameters besides.
async fn par_form(env: &TestEnv, tpp: &Tpp, extra: &[(&str, &str)]) -> Resp {
    let url = env.endpoint(tpp, "par");
    let mut form = tpp.auth_params(&env.issuer);
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut headers = HeaderMap::new();
    if tpp.is_dpop() {
        headers.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    }
    env.post_form(tpp, &url, &form, headers).await
}

async fn push_signed(env: &TestEnv, tpp: &Tpp, claims: &Map<String, Value>) -> Resp {
    par_form(env, tpp, &[("request", &sign_request(tpp, claims))]).await
}

/// MS-JARM-CL-02: the response JWT verifies with the server's key and is addressed to us.
async fn verified_jarm(env: &TestEnv, tpp: &Tpp, jwt: &str) -> Map<String, Value> {
    let jws = fapilab_jose::jws::CompactJws::parse(jwt).expect("JARM JWS");
    jws.verify_with_jwks(&env.jwks().await).expect("JARM signature [MS-JARM-04]");
    assert!(jws.kid().is_some(), "JARM kid");
    let claims = jws.claims().expect("claims");
    assert_eq!(claims["iss"], json!(env.issuer), "MS-JARM-03 iss");
    assert_eq!(claims["aud"], json!(tpp.client_id), "MS-JARM-03 aud");
    let exp = claims["exp"].as_i64().expect("MS-JARM-03 exp");
    let now = fapilab_jose::now();
    assert!(exp > now && exp <= now + 600, "exp within 10 minutes: {exp}");
    claims
}

/// Login and consent for `request_uri`; returns the consent form's answer.
async fn consent(env: &TestEnv, tpp: &Tpp, request_uri: &str, approve: bool) -> Resp {
    let browser = env.browser();
    let login = browser.open_authorize(&tpp.client_id, request_uri).await;
    login.assert_status(200, "login page");
    let after_login = browser.submit_login(&login).await;
    after_login.assert_status(303, "login");
    let consent_page = browser.get(after_login.header("location").expect("consent location")).await;
    browser.submit_consent(&consent_page, approve).await
}

#[tokio::test]
async fn ms_as_11_discovery_advertises_signed_requests_and_responses() {
    let env = ms_env().await;
    let doc = env.discovery().await;
    assert_eq!(doc["require_signed_request_object"], true);
    assert_eq!(doc["request_object_signing_alg_values_supported"], json!(["PS256", "ES256", "EdDSA"]));
    assert_eq!(doc["response_modes_supported"], json!(["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"]));
    assert_eq!(doc["authorization_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(doc["introspection_signing_alg_values_supported"], json!(["ES256"]));
}

#[tokio::test]
async fn ms_jarm_06_every_response_mode_delivers_a_verified_jarm_response() {
    let env = ms_env().await;
    for name in ["pkjwt-dpop-1", "tls-mtls-1"] {
        let tpp = env.tpp(name);
        for mode in ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"] {
            let req = AuthRequest::new("openid accounts");
            let par = push_signed(&env, &tpp, &request_claims(&env, &tpp, &req, mode)).await;
            par.assert_status(201, &format!("PAR with a request object ({name}, {mode})"));
            let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
            let answer = consent(&env, &tpp, &request_uri, true).await;
            let jwt = match mode {
                "form_post.jwt" => {
                    answer.assert_status(200, "form_post page");
                    let form = parse_form(&answer.body).expect("the form_post form");
                    assert_eq!(form.action, req.redirect_uri, "posts to the redirect URI");
                    form.hidden.iter().find(|(k, _)| k == "response").map(|(_, v)| v.clone()).expect("response input")
                }
                "fragment.jwt" => {
                    answer.assert_status(303, "fragment.jwt");
                    let location = answer.header("location").expect("location");
                    let (base, fragment) = location.split_once('#').expect("a fragment");
                    assert_eq!(base, req.redirect_uri);
                    form_urlencoded::parse(fragment.as_bytes()).find(|(k, _)| k == "response").map(|(_, v)| v.into_owned()).expect("response")
                }
                _ => {
                    answer.assert_status(303, "query.jwt");
                    let callback = Callback(answer.header("location").expect("location").to_owned());
                    let query = callback.query();
                    assert!(!query.contains_key("iss") && !query.contains_key("code"), "MS-JARM-02: only response in the query: {}", callback.0);
                    query.get("response").cloned().expect("response")
                }
            };
            let claims = verified_jarm(&env, &tpp, &jwt).await;
            assert_eq!(claims.get("state"), req.state.as_ref().map(|s| json!(s)).as_ref());
            let code = claims["code"].as_str().expect("code").to_owned();
            let grant = CodeGrant {
                code,
                verifier: req.pkce.verifier.clone(),
                redirect_uri: req.redirect_uri.clone(),
                request_uri,
                callback: Callback(String::new()),
                par,
            };
            env.redeem(&tpp, &grant).await.assert_status(200, &format!("token with the JARM code ({name}, {mode})"));
        }
    }
}

#[tokio::test]
async fn ms_jarm_03_a_denied_authorization_is_a_jarm_error() {
    let env = ms_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new("openid accounts");
    let par = push_signed(&env, &tpp, &request_claims(&env, &tpp, &req, "query.jwt")).await;
    let answer = consent(&env, &tpp, par.json["request_uri"].as_str().expect("request_uri"), false).await;
    let query = Callback(answer.header("location").expect("location").to_owned()).query();
    assert!(!query.contains_key("error"), "the error travels inside the JWT: {query:?}");
    let claims = verified_jarm(&env, &tpp, query.get("response").expect("response")).await;
    assert_eq!(claims["error"], "access_denied");
    assert_eq!(claims.get("state"), req.state.as_ref().map(|s| json!(s)).as_ref());
}

#[tokio::test]
async fn ms_as_01_to_09_request_objects_are_required_and_checked() {
    let env = ms_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new("openid accounts");
    let good = request_claims(&env, &tpp, &req, "jwt");
    let plain: Vec<(String, String)> = req.params();
    let borrowed: Vec<(&str, &str)> = plain.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    par_form(&env, &tpp, &borrowed).await.assert_error(400, &["invalid_request"], "MS-AS-01: plain parameters");

    type Edit = (&'static str, Box<dyn Fn(&mut Map<String, Value>)>);
    let edits: Vec<Edit> = vec![
        ("MS-AS-02 aud missing", Box::new(|c| { c.remove("aud"); })),
        ("MS-AS-02 aud elsewhere", Box::new(|c| { c.insert("aud".into(), json!("https://other.example")); })),
        ("MS-AS-03 nbf missing", Box::new(|c| { c.remove("nbf"); })),
        ("MS-AS-03 nbf too old", Box::new(|c| {
            let now = fapilab_jose::now();
            c.insert("nbf".into(), json!(now - 3601));
            c.insert("exp".into(), json!(now + 60));
        })),
        ("MS-AS-04 exp missing", Box::new(|c| { c.remove("exp"); })),
        ("MS-AS-04 expired", Box::new(|c| { c.insert("exp".into(), json!(fapilab_jose::now() - 1)); })),
        ("MS-AS-04 lifetime over 60 min", Box::new(|c| { c.insert("exp".into(), json!(fapilab_jose::now() + 3601)); })),
        ("MS-AS-07 client_id of another client", Box::new(|c| { c.insert("client_id".into(), json!("pkjwt-dpop-2")); })),
        ("MS-AS-07 iss of another client", Box::new(|c| { c.insert("iss".into(), json!("pkjwt-dpop-2")); })),
    ];
    for (what, edit) in edits {
        let mut claims = good.clone();
        edit(&mut claims);
        push_signed(&env, &tpp, &claims).await.assert_error(400, &["invalid_request_object"], what);
    }
    let other = env.tpp("pkjwt-dpop-2");
    let forged = par_form(&env, &tpp, &[("request", &sign_request(&other, &good))]).await;
    forged.assert_error(400, &["invalid_request_object"], "MS-AS-06: signed by another client's key");
    let fresh = |claims: &Map<String, Value>| {
        let mut c = claims.clone();
        c.insert("jti".into(), json!(fapilab_jose::random_token(12)));
        c
    };
    let mut as_array = fresh(&good);
    as_array.insert("aud".into(), json!([env.issuer, "https://other.example"]));
    push_signed(&env, &tpp, &as_array).await.assert_status(201, "MS-AS-02: aud array containing the issuer");
    let untyped = fapilab_jose::jws::sign(&tpp.signing_key, Map::new(), &Value::Object(fresh(&good))).expect("sign");
    par_form(&env, &tpp, &[("request", &untyped)]).await.assert_status(201, "MS-AS-05: typ absent");
    par_form(&env, &tpp, &[("request", &untyped)]).await.assert_error(400, &["invalid_request_object"], "MS-AS-10: the same request object again");
    let request = sign_request(&tpp, &good);
    par_form(&env, &tpp, &[("request", &request), ("request_uri", "urn:ietf:params:oauth:request_uri:x")])
        .await
        .assert_error(400, &["invalid_request"], "MS-AS-09: request with request_uri");
    let mut query_mode = fresh(&good);
    query_mode.insert("response_mode".into(), json!("query"));
    push_signed(&env, &tpp, &query_mode).await.assert_error(400, &["invalid_request"], "MS-JARM-01: plain query response mode");
    let mut no_mode = fresh(&good);
    no_mode.remove("response_mode");
    push_signed(&env, &tpp, &no_mode).await.assert_error(400, &["invalid_request"], "MS-JARM-01: no response mode");

    // MS-AS-08: a redirect_uri outside the object is ignored; the object's one is answered.
    let outside = DEFAULT_REDIRECT_URIS[1];
    let par = par_form(&env, &tpp, &[("request", &sign_request(&tpp, &fresh(&good))), ("redirect_uri", outside)]).await;
    par.assert_status(201, "PAR with an outside redirect_uri");
    let answer = consent(&env, &tpp, par.json["request_uri"].as_str().expect("request_uri"), true).await;
    let location = answer.header("location").expect("location");
    assert!(location.starts_with(&format!("{}?response=", req.redirect_uri)), "MS-AS-08: {location}");
}

#[tokio::test]
async fn ms_jir_01_to_03_introspection_is_signed_on_request() {
    let env = ms_env().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let bank = env.tpp("bank");
    let token = env.client_credentials(&tpp).await.json["access_token"].as_str().expect("token").to_owned();
    let url = env.endpoint(&bank, "introspect");
    let mut form = bank.auth_params(&env.issuer);
    form.push(("token".into(), token.clone()));
    let mut accept = HeaderMap::new();
    accept.insert("accept", header("application/token-introspection+jwt"));
    let signed = env.post_form(&bank, &url, &form, accept).await;
    signed.assert_status(200, "signed introspection");
    assert_eq!(signed.header("content-type"), Some("application/token-introspection+jwt"));
    let jws = fapilab_jose::jws::CompactJws::parse(&signed.body).expect("JWT");
    assert_eq!(jws.typ(), Some("token-introspection+jwt"), "RFC 9701 typ");
    jws.verify_with_jwks(&env.jwks().await).expect("signature");
    let claims = jws.claims().expect("claims");
    assert_eq!(claims["iss"], json!(env.issuer));
    assert_eq!(claims["aud"], json!("bank"), "MS-JIR-02: addressed to the caller");
    assert!(claims["iat"].is_i64());
    assert_eq!(claims["token_introspection"]["active"], true);
    assert_eq!(claims["token_introspection"]["client_id"], json!(tpp.client_id));

    let mut form = bank.auth_params(&env.issuer);
    form.push(("token".into(), token));
    let plain = env.post_form(&bank, &url, &form, HeaderMap::new()).await;
    assert_eq!(plain.json["active"], true, "MS-JIR-03: plain JSON without the Accept header: {plain}");
}

/// MS-MD-01: a client registered with `response_modes` uses only those.
#[tokio::test]
async fn ms_md_01_registered_response_modes_are_enforced() {
    const IAT: &str = "initial-access-token-for-ms";
    let env = TestEnv::start(|ws| {
        ws.profile = ProfileId::Fapi2MessageSigning;
        ws.registration.enabled = true;
        ws.registration.initial_access_tokens = vec![IAT.into()];
    })
    .await;
    let bundle = fapilab_certs::CaDir::new(&env.info.ca_dir).load_tpp("pkjwt-dpop-1").expect("tpp");
    let body = json!({
        "redirect_uris": DEFAULT_REDIRECT_URIS,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": bundle.public_jwks(),
        "dpop_bound_access_tokens": true,
        "scope": "openid accounts",
        "response_modes": ["jwt"],
    });
    let registered = Resp::read(env.http.post(env.tls_url("register")).bearer_auth(IAT).json(&body).send().await.expect("POST")).await;
    registered.assert_status(201, "registration with response_modes");
    assert_eq!(registered.json["response_modes"], json!(["jwt"]));
    let tpp = env.tpp("pkjwt-dpop-1").renamed(registered.json["client_id"].as_str().expect("client_id"));
    let req = AuthRequest::new("openid accounts");
    push_signed(&env, &tpp, &request_claims(&env, &tpp, &req, "fragment.jwt")).await.assert_error(400, &["invalid_request"], "MS-MD-01: an unregistered mode");
    push_signed(&env, &tpp, &request_claims(&env, &tpp, &req, "jwt")).await.assert_status(201, "the registered mode");
}
