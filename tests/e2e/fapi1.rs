//! FAPI 1.0 Advanced and Baseline workspaces over real TLS and mTLS: signed request objects by
//! value and pushed (A-AS-01, A-AS-10, A-AS-19, A-AS-23), the hybrid `code id_token` response
//! with its detached-signature ID token (A-IDT-04, A-IDT-05), `code` with JARM (A-JARM-01),
//! mTLS-bound tokens (A-AS-06), PKCE with PAR only (A-AS-18), the FAPI 1 client assertion
//! audiences, encrypted ID tokens and JARM responses (A-IDT-03), and Baseline's front-channel
//! rules (B-AS-07, B-NS-01, B-NS-02).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::support::*;
use fapilab_server::config::RegistrationPolicy;
use fapilab_server::profiles::ProfileId;

async fn advanced_env() -> TestEnv {
    TestEnv::start(|ws| ws.profile = ProfileId::Fapi1Advanced).await
}

/// The claims of a FAPI 1.0 Advanced request object (Part 2 5.2.3: every parameter inside).
fn request_claims(env: &TestEnv, tpp: &Tpp, response_type: &str, nonce: &str, state: Option<&str>) -> Map<String, Value> {
    let now = fapilab_jose::now();
    let mut claims = json!({
        "iss": tpp.client_id, "client_id": tpp.client_id, "aud": env.issuer,
        "nbf": now, "iat": now, "exp": now + 300, "jti": fapilab_jose::random_token(12),
        "response_type": response_type, "redirect_uri": DEFAULT_REDIRECT_URIS[0],
        "scope": "openid accounts", "nonce": nonce,
    });
    if let Some(s) = state {
        claims["state"] = json!(s);
    }
    let Value::Object(map) = claims else { unreachable!("a JSON object literal") };
    map
}

fn sign_request(tpp: &Tpp, claims: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), json!("oauth-authz-req+jwt"));
    fapilab_jose::jws::sign(&tpp.rsa_key, header, &Value::Object(claims.clone())).expect("sign request object")
}

/// `GET /authorize` with `query` (Part 2 5.2.3-9: response_type, client_id and scope repeated
/// outside the object).
fn authorize_url(env: &TestEnv, query: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    format!("{}/authorize?{}", env.issuer, q.finish())
}

fn by_value_url(env: &TestEnv, tpp: &Tpp, claims: &Map<String, Value>) -> String {
    let request = sign_request(tpp, claims);
    let response_type = claims["response_type"].as_str().unwrap_or("code id_token").to_owned();
    authorize_url(
        env,
        &[("client_id", &tpp.client_id), ("response_type", &response_type), ("scope", "openid"), ("request", &request)],
    )
}

/// Opens `url`, signs in and approves; the callback.
async fn approve(env: &TestEnv, url: &str) -> Callback {
    let browser = env.browser();
    let page = browser.get(url).await;
    page.assert_status(200, "login page");
    browser.continue_from_login(&page, true).await
}

/// An authorization URL the server must refuse with an error page (never a redirect).
async fn assert_error_page(env: &TestEnv, url: &str, codes: &[&str], what: &str) {
    let page = env.browser().get(url).await;
    assert_eq!(page.status, 400, "{what}: {page}");
    let error = page.page_error().unwrap_or_else(|| panic!("{what}: no error on the page: {page}"));
    assert!(codes.iter().any(|c| error.starts_with(c)), "{what}: {error} is not one of {codes:?}");
}

fn fragment(callback: &Callback) -> HashMap<String, String> {
    let (_, fragment) = callback.0.split_once('#').unwrap_or_else(|| panic!("no fragment in {}", callback.0));
    form_urlencoded::parse(fragment.as_bytes()).into_owned().collect()
}

/// A-IDT-05 / OIDC §3.3.2.12: the front-channel ID token verifies with the server's key and
/// binds the code, the state and the nonce.
fn check_detached_id_token(env: &TestEnv, tpp: &Tpp, jwks: &fapilab_jose::Jwks, response: &HashMap<String, String>, nonce: &str) -> Map<String, Value> {
    let (header, claims) = verify_server_jwt(&response["id_token"], jwks);
    let alg = header["alg"].as_str().expect("alg").parse::<fapilab_jose::Algorithm>().expect("known alg");
    assert!(matches!(alg, fapilab_jose::Algorithm::Ps256 | fapilab_jose::Algorithm::Es256), "A-IDT-07: {alg:?}");
    assert_eq!(claims["iss"], json!(env.issuer));
    assert_eq!(claims["aud"], json!(tpp.client_id), "A-IDT-05 aud");
    assert_eq!(claims["nonce"], json!(nonce), "A-IDT-05 nonce");
    assert_eq!(claims["c_hash"], json!(fapilab_jose::id_token_hash(alg, &response["code"])), "A-IDT-05 c_hash");
    match response.get("state") {
        Some(state) => assert_eq!(claims["s_hash"], json!(fapilab_jose::id_token_hash(alg, state)), "A-IDT-05 s_hash"),
        None => assert!(claims.get("s_hash").is_none(), "no state, no s_hash"),
    }
    claims
}

async fn redeem(env: &TestEnv, tpp: &Tpp, code: &str, verifier: Option<&str>) -> Resp {
    let mut params = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", DEFAULT_REDIRECT_URIS[0])];
    if let Some(v) = verifier {
        params.push(("code_verifier", v));
    }
    env.token(tpp, &params).await
}

#[tokio::test]
async fn a_as_01_a_idt_05_hybrid_by_value_for_every_client_authentication() {
    let env = advanced_env().await;
    let jwks = env.jwks().await;
    for client in ["pkjwt-mtls-1", "tls-mtls-1", "selfsigned-mtls-1"] {
        let tpp = env.tpp(client);
        let nonce = fapilab_jose::random_token(16);
        let state = fapilab_jose::random_token(16);
        let claims = request_claims(&env, &tpp, "code id_token", &nonce, Some(&state));
        let callback = approve(&env, &by_value_url(&env, &tpp, &claims)).await;
        assert!(callback.query().is_empty(), "A-AS-22: nothing in the query of a hybrid response: {}", callback.0);
        let response = fragment(&callback);
        assert_eq!(response.get("state"), Some(&state), "{client}");
        check_detached_id_token(&env, &tpp, &jwks, &response, &nonce);

        // No PKCE by value (A-AS-18 requires it only with PAR); tokens bound to the certificate.
        let tokens = redeem(&env, &tpp, &response["code"], None).await;
        tokens.assert_status(200, &format!("{client}: token"));
        assert_eq!(tokens.json["token_type"], "Bearer");
        let (_, at) = jwt_parts(tokens.json["access_token"].as_str().expect("access_token"));
        assert_eq!(at["cnf"]["x5t#S256"], json!(tpp.cert_thumbprint()), "A-AS-06: {client}");
        let (_, id_token) = verify_server_jwt(tokens.json["id_token"].as_str().expect("id_token"), &jwks);
        assert_eq!(id_token["nonce"], json!(nonce));
        assert_eq!(
            id_token["at_hash"],
            json!(fapilab_jose::id_token_hash(fapilab_jose::Algorithm::Es256, tokens.json["access_token"].as_str().expect("at"))),
            "at_hash binds the access token"
        );
        env.userinfo(&tpp, tokens.json["access_token"].as_str().expect("at")).await.assert_status(200, "userinfo with the bound token");
    }
}

#[tokio::test]
async fn a_as_10_a_as_19_a_as_23_only_the_request_object_counts() {
    let env = advanced_env().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let nonce = fapilab_jose::random_token(16);
    let claims = request_claims(&env, &tpp, "code id_token", &nonce, None);
    let request = sign_request(&tpp, &claims);

    // A-AS-10: scope, state and nonce outside the object are ignored.
    let url = authorize_url(
        &env,
        &[
            ("client_id", &tpp.client_id),
            ("response_type", "code id_token"),
            ("scope", "openid profile email"),
            ("state", "outside"),
            ("nonce", "outside"),
            ("request", &request),
        ],
    );
    let response = fragment(&approve(&env, &url).await);
    assert!(!response.contains_key("state"), "a state only outside the object is not used");
    let id_token = check_detached_id_token(&env, &tpp, &env.jwks().await, &response, &nonce);
    assert_eq!(id_token["nonce"], json!(nonce));
    let tokens = redeem(&env, &tpp, &response["code"], None).await;
    tokens.assert_status(200, "token");
    assert_eq!(tokens.json["scope"], "openid accounts", "B-AS-15 / A-AS-10: the object's scope");

    // A-AS-19: a response_type outside that differs from the one inside.
    let other = request_claims(&env, &tpp, "code id_token", &nonce, None);
    let url = authorize_url(&env, &[("client_id", &tpp.client_id), ("response_type", "code"), ("request", &sign_request(&tpp, &other))]);
    assert_error_page(&env, &url, &["invalid_request"], "A-AS-19 response_type mismatch").await;
    // client_id outside naming another client: the object is not that client's.
    let url = authorize_url(&env, &[("client_id", "pkjwt-mtls-2"), ("response_type", "code id_token"), ("request", &sign_request(&tpp, &other))]);
    assert_error_page(&env, &url, &["invalid_request_object"], "A-AS-19 client_id mismatch").await;

    // A-AS-23: scope, nonce or redirect_uri only outside the object.
    for (member, outside) in [("scope", "openid accounts"), ("nonce", "n-outside"), ("redirect_uri", DEFAULT_REDIRECT_URIS[0])] {
        let mut claims = request_claims(&env, &tpp, "code id_token", &nonce, None);
        claims.remove(member);
        let url = authorize_url(
            &env,
            &[("client_id", &tpp.client_id), ("response_type", "code id_token"), (member, outside), ("request", &sign_request(&tpp, &claims))],
        );
        assert_error_page(&env, &url, &["invalid_request", "invalid_scope"], &format!("A-AS-23 {member} only outside")).await;
    }

    // A-AS-01: a plain request.
    let plain = authorize_url(
        &env,
        &[
            ("client_id", &tpp.client_id),
            ("response_type", "code id_token"),
            ("scope", "openid"),
            ("nonce", "n"),
            ("redirect_uri", DEFAULT_REDIRECT_URIS[0]),
        ],
    );
    assert_error_page(&env, &plain, &["invalid_request"], "A-AS-01 no request object").await;
}

#[tokio::test]
async fn a_as_02_a_as_22_response_types_and_modes() {
    let env = advanced_env().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let nonce = fapilab_jose::random_token(16);
    let code_only = request_claims(&env, &tpp, "code", &nonce, None);
    assert_error_page(&env, &by_value_url(&env, &tpp, &code_only), &["invalid_request"], "A-AS-02 code without JARM").await;
    let mut query = request_claims(&env, &tpp, "code id_token", &nonce, None);
    query.insert("response_mode".into(), json!("query"));
    assert_error_page(&env, &by_value_url(&env, &tpp, &query), &["invalid_request"], "A-AS-22 hybrid in the query").await;
    let mut token = request_claims(&env, &tpp, "code id_token token", &nonce, None);
    token.insert("response_type".into(), json!("code id_token token"));
    assert_error_page(&env, &by_value_url(&env, &tpp, &token), &["unsupported_response_type"], "A-AS-02 code id_token token").await;
    let mut no_nonce = request_claims(&env, &tpp, "code id_token", &nonce, None);
    no_nonce.remove("nonce");
    assert_error_page(&env, &by_value_url(&env, &tpp, &no_nonce), &["invalid_request"], "OIDC 3.3.2.11 nonce").await;

    // An access denial in the hybrid mode comes back in the fragment.
    let claims = request_claims(&env, &tpp, "code id_token", &nonce, Some("st"));
    let browser = env.browser();
    let page = browser.get(&by_value_url(&env, &tpp, &claims)).await;
    let denied = browser.continue_from_login(&page, false).await;
    let response = fragment(&denied);
    assert_eq!(response.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(response.get("state").map(String::as_str), Some("st"));
}

#[tokio::test]
async fn a_as_18_a_jarm_01_pushed_request_with_jarm() {
    let env = advanced_env().await;
    let tpp = env.tpp("tls-mtls-1");
    let nonce = fapilab_jose::random_token(16);
    let pkce = pkce_pair();
    let mut claims = request_claims(&env, &tpp, "code", &nonce, Some("jarm-state"));
    claims.insert("response_mode".into(), json!("jwt"));

    // A-AS-18: PAR without PKCE is refused.
    let par_url = env.endpoint(&tpp, "par");
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("request".into(), sign_request(&tpp, &claims)));
    env.post_form(&tpp, &par_url, &form, Default::default()).await.assert_error(400, &["invalid_request"], "A-AS-18");

    claims.insert("jti".into(), json!(fapilab_jose::random_token(12)));
    claims.insert("code_challenge".into(), json!(pkce.challenge));
    claims.insert("code_challenge_method".into(), json!("S256"));
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("request".into(), sign_request(&tpp, &claims)));
    let pushed = env.post_form(&tpp, &par_url, &form, Default::default()).await;
    pushed.assert_status(201, "PAR with a request object");
    let request_uri = pushed.json["request_uri"].as_str().expect("request_uri").to_owned();
    let callback = env.browser().login_and_consent(&tpp.client_id, &request_uri, true).await;
    let query = callback.query();
    assert_eq!(query.keys().collect::<Vec<_>>(), vec!["response"], "A-JARM-01: only the response JWT");
    let (_, jarm) = verify_server_jwt(&query["response"], &env.jwks().await);
    assert_eq!(jarm["aud"], json!(tpp.client_id));
    assert_eq!(jarm["iss"], json!(env.issuer));
    assert_eq!(jarm["state"], "jarm-state");
    let code = jarm["code"].as_str().expect("code");
    redeem(&env, &tpp, code, None).await.assert_error(400, &["invalid_grant"], "the pushed PKCE challenge binds the code");
}

#[tokio::test]
async fn fapi1_client_assertion_audiences_differ_from_fapi2() {
    // FAPI 1 (OIDC §9, RFC 9126 §2): the token URL and the PAR URL are acceptable audiences.
    let env = advanced_env().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let token_url = env.endpoint(&tpp, "token");
    // The published token URL too, while the client calls the mTLS alias (RFC 9126 §2).
    assert_ne!(token_url, env.tls_url("token"), "an mTLS client calls the alias");
    for aud in [json!(env.issuer), json!(token_url), json!(env.tls_url("token")), json!([env.issuer, "https://other.example"])] {
        let assertion = tpp.client_assertion(aud.clone(), |_| {});
        let form = owned(&[
            ("grant_type", "client_credentials"),
            ("scope", "accounts"),
            ("client_id", &tpp.client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ]);
        env.post_form(&tpp, &token_url, &form, Default::default()).await.assert_status(200, &format!("FAPI 1 assertion aud {aud}"));
    }
    // FAPI2-SP-AS-08: the same token-URL audience is refused in a FAPI 2.0 workspace.
    let fapi2 = TestEnv::start(|ws| ws.profile = ProfileId::Fapi2SecurityProfile).await;
    let tpp2 = fapi2.tpp("pkjwt-mtls-1");
    let token_url = fapi2.endpoint(&tpp2, "token");
    let assertion = tpp2.client_assertion(json!(token_url), |_| {});
    let form = owned(&[
        ("grant_type", "client_credentials"),
        ("scope", "accounts"),
        ("client_id", &tpp2.client_id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &assertion),
    ]);
    fapi2.post_form(&tpp2, &token_url, &form, Default::default()).await.assert_error(401, &["invalid_client"], "FAPI 2.0 token-URL aud");
}

#[tokio::test]
async fn a_idt_03_encrypted_id_tokens_and_jarm_responses_for_a_registered_client() {
    let env = TestEnv::start(|ws| {
        ws.profile = ProfileId::Fapi1Advanced;
        ws.registration.enabled = true;
        ws.registration.policy = RegistrationPolicy::Open;
    })
    .await;
    let tpp = env.tpp("pkjwt-mtls-2");
    let enc_key = fapilab_jose::jwe::DecryptionKey::generate(fapilab_jose::jwe::KeyManagementAlgorithm::RsaOaep256, Some("enc-1".into()))
        .expect("RSA decryption key");
    let mut enc_jwk = enc_key.public_jwk();
    enc_jwk["use"] = json!("enc");
    let jwks = json!({ "keys": [tpp.signing_key.public_jwk().to_value(), tpp.rsa_key.public_jwk().to_value(), enc_jwk] });
    let mut metadata = json!({
        "redirect_uris": [DEFAULT_REDIRECT_URIS[0]],
        "token_endpoint_auth_method": "private_key_jwt",
        "tls_client_certificate_bound_access_tokens": true,
        "grant_types": ["authorization_code"],
        "response_types": ["code id_token", "code"],
        "scope": "openid accounts",
        "jwks": jwks,
        "id_token_encrypted_response_alg": "RSA-OAEP-256",
        "id_token_encrypted_response_enc": "A256GCM",
        "authorization_encrypted_response_alg": "RSA-OAEP-256",
    });
    // A-ALG-02: RSA1_5 is never offered.
    metadata["id_token_encrypted_response_alg"] = json!("RSA1_5");
    let refused = Resp::read(env.http.post(env.tls_url("register")).json(&metadata).send().await.expect("register")).await;
    refused.assert_error(400, &["invalid_client_metadata"], "A-ALG-02 RSA1_5");
    metadata["id_token_encrypted_response_alg"] = json!("RSA-OAEP-256");
    let registered = Resp::read(env.http.post(env.tls_url("register")).json(&metadata).send().await.expect("register")).await;
    registered.assert_status(201, "registration with encryption");
    assert_eq!(registered.json["authorization_encrypted_response_enc"], "A128CBC-HS256", "OIDC Registration default enc");
    let tpp = tpp.renamed(registered.json["client_id"].as_str().expect("client_id"));
    let server_keys = env.jwks().await;
    let open = |jwe: &str| -> String {
        let (header, plaintext) = fapilab_jose::jwe::decrypt(jwe, &enc_key).unwrap_or_else(|e| panic!("decrypt {jwe}: {e}"));
        assert_eq!(header["kid"], "enc-1", "the JWE names the client's key");
        assert_eq!(header["cty"], "JWT", "a nested JWT");
        String::from_utf8(plaintext).expect("UTF-8 JWS")
    };

    // Hybrid: the front-channel ID token and the token endpoint's are encrypted.
    let nonce = fapilab_jose::random_token(16);
    let claims = request_claims(&env, &tpp, "code id_token", &nonce, Some("s"));
    let mut response = fragment(&approve(&env, &by_value_url(&env, &tpp, &claims)).await);
    assert_eq!(response["id_token"].split('.').count(), 5, "A-IDT-03: a JWE");
    let inner = open(&response["id_token"]);
    response.insert("id_token".into(), inner);
    check_detached_id_token(&env, &tpp, &server_keys, &response, &nonce);
    let tokens = redeem(&env, &tpp, &response["code"], None).await;
    tokens.assert_status(200, "token");
    let (_, id_token) = verify_server_jwt(&open(tokens.json["id_token"].as_str().expect("id_token")), &server_keys);
    assert_eq!(id_token["aud"], json!(tpp.client_id));

    // JARM: the response JWT is encrypted too.
    let mut claims = request_claims(&env, &tpp, "code", &nonce, Some("s2"));
    claims.insert("response_mode".into(), json!("query.jwt"));
    let callback = approve(&env, &by_value_url(&env, &tpp, &claims)).await;
    let jarm = callback.query()["response"].clone();
    assert_eq!(jarm.split('.').count(), 5, "an encrypted JARM response");
    let (_, jarm_claims) = verify_server_jwt(&open(&jarm), &server_keys);
    assert_eq!(jarm_claims["state"], "s2");
}

#[tokio::test]
async fn b_as_07_b_ns_01_b_ns_02_baseline_front_channel() {
    let env = TestEnv::start(|ws| ws.profile = ProfileId::Fapi1Baseline).await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let pkce = pkce_pair();
    let base = |extra: &[(&str, &str)]| -> String {
        let mut q: Vec<(&str, &str)> = vec![
            ("client_id", &tpp.client_id),
            ("response_type", "code"),
            ("redirect_uri", DEFAULT_REDIRECT_URIS[0]),
        ];
        q.extend_from_slice(extra);
        authorize_url(&env, &q)
    };
    let url = base(&[("scope", "openid accounts"), ("nonce", "n1"), ("state", "s1"), ("code_challenge", &pkce.challenge), ("code_challenge_method", "S256")]);
    let callback = approve(&env, &url).await;
    let query = callback.query();
    assert_eq!(query["state"], "s1");
    assert_eq!(query["iss"], env.issuer);
    let proof = tpp.dpop_proof("POST", &env.endpoint(&tpp, "token"), None, None);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("dpop", header(&proof));
    let tokens = env
        .token_with_headers(
            &tpp,
            &[("grant_type", "authorization_code"), ("code", &query["code"]), ("redirect_uri", DEFAULT_REDIRECT_URIS[0]), ("code_verifier", &pkce.verifier)],
            headers,
        )
        .await;
    tokens.assert_status(200, "Baseline token");
    assert_eq!(tokens.json["scope"], "openid accounts", "B-AS-15");

    assert_error_page(&env, &base(&[("scope", "openid"), ("nonce", "n"), ("state", "s")]), &["invalid_request"], "B-AS-07 no PKCE").await;
    assert_error_page(
        &env,
        &base(&[("scope", "openid"), ("state", "s"), ("code_challenge", &pkce.challenge), ("code_challenge_method", "S256")]),
        &["invalid_request"],
        "B-NS-01 openid without nonce",
    )
    .await;
    assert_error_page(
        &env,
        &base(&[("scope", "accounts"), ("code_challenge", &pkce.challenge), ("code_challenge_method", "S256")]),
        &["invalid_request"],
        "B-NS-02 no openid, no state",
    )
    .await;
    assert_error_page(
        &env,
        &base(&[("scope", "accounts"), ("state", "s"), ("code_challenge", &pkce.challenge), ("code_challenge_method", "plain")]),
        &["invalid_request"],
        "B-AS-07 plain PKCE",
    )
    .await;
}

#[tokio::test]
async fn fapi1_discovery_documents() {
    for (profile, name) in [(ProfileId::Fapi1Advanced, "fapi1_advanced"), (ProfileId::Fapi1Baseline, "fapi1_baseline")] {
        let env = TestEnv::start(|ws| ws.profile = profile).await;
        let doc = env.discovery().await;
        assert!(doc.get("require_pushed_authorization_requests").is_none(), "{name}: PAR is not required, so not advertised as required");
        assert_eq!(doc["request_parameter_supported"], true, "{name}: A-AS-01 by value");
        assert!(!doc["id_token_encryption_alg_values_supported"].as_array().expect("algs").contains(&json!("RSA1_5")), "A-ALG-02");
        let text = serde_json::to_string(&doc)
            .expect("serialize")
            .replace(&env.info.mtls_base_url, "https://localhost:MTLS_PORT")
            .replace(&env.info.base_url, "https://localhost:PORT");
        let redacted: Value = serde_json::from_str(&text).expect("redacted JSON");
        insta::assert_json_snapshot!(format!("discovery_{name}"), redacted);
    }
}

#[tokio::test]
async fn rfc9126_6_a_client_that_registered_par_only_is_held_to_it() {
    let env = TestEnv::start(|ws| {
        ws.profile = ProfileId::Fapi1Baseline;
        ws.registration.enabled = true;
        ws.registration.policy = RegistrationPolicy::Open;
    })
    .await;
    let tpp = env.tpp("pkjwt-mtls-2");
    let metadata = json!({
        "redirect_uris": [DEFAULT_REDIRECT_URIS[0]],
        "token_endpoint_auth_method": "private_key_jwt",
        "tls_client_certificate_bound_access_tokens": true,
        "grant_types": ["authorization_code"],
        "scope": "openid accounts",
        "jwks": { "keys": [tpp.signing_key.public_jwk().to_value()] },
        "require_pushed_authorization_requests": true,
    });
    let registered = Resp::read(env.http.post(env.tls_url("register")).json(&metadata).send().await.expect("register")).await;
    registered.assert_status(201, "registration");
    assert_eq!(registered.json["require_pushed_authorization_requests"], true);
    let client_id = registered.json["client_id"].as_str().expect("client_id");
    let pkce = pkce_pair();
    let url = authorize_url(
        &env,
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", DEFAULT_REDIRECT_URIS[0]),
            ("scope", "accounts"),
            ("state", "s"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_error_page(&env, &url, &["invalid_request"], "RFC 9126 §6: a by-value request of a PAR-only client").await;
    // The same plain request from a client that did not register it (Baseline allows it).
    let url = url.replace(client_id, "pkjwt-mtls-1");
    env.browser().get(&url).await.assert_status(200, "login page for a client without the flag");
}

#[tokio::test]
async fn dcr_06_jarm_encryption_is_refused_where_no_jarm_response_exists() {
    let env = TestEnv::start(|ws| {
        ws.registration.enabled = true;
        ws.registration.policy = RegistrationPolicy::Open;
    })
    .await;
    let tpp = env.tpp("pkjwt-dpop-2");
    let metadata = json!({
        "redirect_uris": [DEFAULT_REDIRECT_URIS[0]],
        "token_endpoint_auth_method": "private_key_jwt",
        "dpop_bound_access_tokens": true,
        "grant_types": ["authorization_code"],
        "jwks": { "keys": [tpp.signing_key.public_jwk().to_value()] },
        "authorization_encrypted_response_alg": "RSA-OAEP-256",
    });
    let refused = Resp::read(env.http.post(env.tls_url("register")).json(&metadata).send().await.expect("register")).await;
    refused.assert_error(400, &["invalid_client_metadata"], "FAPI 2.0 SP has no JARM to encrypt");
}
