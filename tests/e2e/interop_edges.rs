//! Behaviour third-party clients and the OpenID conformance suite rely on beyond the MUST
//! list: DPoP key rotation at refresh, nonce retries that resend the same assertion, the
//! RFC 6749 `error_description` character set, introspection hints, POST to the
//! authorization endpoint, `prompt=none` with `max_age`, and PAR edge cases.

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::support::*;

/// RFC 9449 §5 / DP-T-03: a confidential client's refresh token is not bound to a DPoP key;
/// the new access token is bound to the key of the refresh request.
#[tokio::test]
async fn dp_t_03_refresh_with_a_new_dpop_key_binds_the_new_token_to_it() {
    let env = TestEnv::shared().await;
    let mut tpp = env.tpp("pkjwt-dpop-2");
    let (_, tokens) = env.tokens(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh_token").to_owned();
    tpp.dpop_key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, None).expect("new DPoP key");
    let refreshed = env.refresh(&tpp, &refresh_token).await;
    refreshed.assert_status(200, "refresh with a rotated DPoP key");
    let introspection = env.introspect(&tpp, refreshed.json["access_token"].as_str().expect("access_token")).await;
    assert_eq!(introspection.json["cnf"], json!({ "jkt": tpp.dpop_jkt() }), "bound to the new key: {introspection}");
}

/// RFC 9449 §8: answering `use_dpop_nonce` must not spend the client assertion, so a client
/// may resend the very same form with a proof carrying the nonce.
#[tokio::test]
async fn dp_n_01_nonce_retry_may_resend_the_same_client_assertion() {
    let env = TestEnv::start(|w| w.dpop_nonce = true).await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("grant_type".into(), "client_credentials".into()));
    form.push(("scope".into(), "accounts".into()));
    let mut headers = HeaderMap::new();
    headers.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    let first = env.post_form(&tpp, &url, &form, headers).await;
    first.assert_error(400, &["use_dpop_nonce"], "no nonce yet (DP-N-01)");
    let nonce = first.header("dpop-nonce").expect("DPoP-Nonce header").to_owned();
    let mut headers = HeaderMap::new();
    headers.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, Some(&nonce))));
    env.post_form(&tpp, &url, &form, headers).await.assert_status(200, "same assertion, proof with the nonce");
}

/// RFC 6749 §5.2: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E — the suite
/// checks this on token endpoint errors.
#[tokio::test]
async fn rfc6749_5_2_error_description_character_set() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let mut form = vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("client_id".to_string(), tpp.client_id.clone()),
        ("client_assertion_type".to_string(), ASSERTION_TYPE.to_string()),
        ("client_assertion".to_string(), tpp.client_assertion(json!(url), |_| {})),
    ];
    form.push(("scope".into(), "accounts".into()));
    let mut headers = HeaderMap::new();
    headers.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    let resp = env.post_form(&tpp, &url, &form, headers).await;
    resp.assert_error(401, &["invalid_client"], "aud = token endpoint (FAPI2-SP-AS-08)");
    let description = resp.json["error_description"].as_str().expect("error_description");
    assert!(
        description.chars().all(|c| matches!(c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "characters outside the RFC 6749 set: {description}"
    );
}

/// RFC 7662 §2.1: the hint orders the search; an access token introspected with
/// `token_type_hint=refresh_token` is still found.
#[tokio::test]
async fn int_02_introspection_hint_does_not_hide_the_token() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let token = env.client_credentials(&tpp).await.json["access_token"].as_str().expect("access_token").to_owned();
    let url = env.tls_url("introspect");
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("token".into(), token));
    form.push(("token_type_hint".into(), "refresh_token".into()));
    let resp = env.post_form(&tpp, &url, &form, HeaderMap::new()).await;
    assert_eq!(resp.json["active"], json!(true), "found despite the hint: {resp}");
}

/// OIDC Core §3.1.2.1: the authorization endpoint also accepts POST.
#[tokio::test]
async fn oidc_authorization_endpoint_accepts_post() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri");
    let browser = env.browser();
    let form = [("client_id", tpp.client_id.as_str()), ("request_uri", request_uri)];
    let resp = Resp::read(browser.client.post(env.tls_url("authorize")).form(&form).send().await.expect("POST authorize")).await;
    resp.assert_status(200, "POST to the authorization endpoint shows the login page");
    assert!(resp.body.contains("name=\"password\""), "login page: {resp}");
}

/// OIDC Core §3.1.2.1: `prompt=none` with a session older than `max_age` is `login_required`.
#[tokio::test]
async fn oidc_prompt_none_respects_max_age() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let browser = env.browser();
    env.authorize_with(&browser, &tpp, &AuthRequest::new(FULL_SCOPE)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut req = AuthRequest::new(FULL_SCOPE);
    req.extra.push(("prompt".into(), "none".into()));
    req.extra.push(("max_age".into(), "0".into()));
    let par = env.push(&tpp, &req).await;
    let resp = browser.open_authorize(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri")).await;
    let location = resp.header("location").unwrap_or_else(|| panic!("prompt=none redirects: {resp}"));
    let query = Callback(location.to_owned()).query();
    assert_eq!(query.get("error").map(String::as_str), Some("login_required"), "{resp}");
    assert_eq!(query.get("iss"), Some(&env.issuer), "iss on the error redirect (AZ-07)");
}

/// RFC 6749 §3.3: no scope and no default → `invalid_scope`; RFC 9101 §6.1: a pushed
/// request object where none is supported → `request_not_supported`.
#[tokio::test]
async fn par_without_scope_and_with_a_request_object() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let without_scope: Vec<(String, String)> = req.params().into_iter().filter(|(k, _)| k != "scope").collect();
    let borrowed: Vec<(&str, &str)> = without_scope.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.par_without_dpop(&tpp, &borrowed).await.assert_error(400, &["invalid_scope"], "PAR without scope");
    let mut with_request = req.params();
    with_request.push(("request".into(), "eyJhbGciOiJFUzI1NiJ9.e30.c2ln".into()));
    let borrowed: Vec<(&str, &str)> = with_request.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.par_without_dpop(&tpp, &borrowed).await.assert_error(400, &["request_not_supported"], "PAR with a request object");
}

/// A finished authorization expires its interaction cookie: a browser that authorizes often
/// must not carry one cookie per authorization (found by `fapilab bench` as HTTP 431).
#[tokio::test]
async fn completed_authorization_expires_its_interaction_cookie() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let browser = env.browser();
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let page = browser.open_authorize(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri")).await;
    let after_login = browser.submit_login(&page).await;
    let consent = browser.get(after_login.header("location").expect("303 to consent")).await;
    let done = browser.submit_consent(&consent, true).await;
    done.assert_status(303, "consent answers the client");
    let expired: Vec<&str> = done
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("fapilab_ix_") && c.contains("Max-Age=0"))
        .collect();
    assert_eq!(expired.len(), 1, "the interaction cookie is expired: {done}");
}

/// client_credentials tokens share one standing grant per client; revoking one token must not
/// touch the others (RFC 7009 §2: the token, not the grant, unless it is a refresh token).
#[tokio::test]
async fn rev_client_credentials_tokens_are_revoked_one_by_one() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-2");
    let first = env.client_credentials(&tpp).await.json["access_token"].as_str().expect("first token").to_owned();
    let second = env.client_credentials(&tpp).await.json["access_token"].as_str().expect("second token").to_owned();
    env.revoke(&tpp, &first, Some("access_token")).await.assert_status(200, "revoke the first token");
    assert_eq!(env.introspect(&tpp, &first).await.json["active"], json!(false), "the revoked token is inactive");
    assert_eq!(env.introspect(&tpp, &second).await.json["active"], json!(true), "the other token stays active");
}
