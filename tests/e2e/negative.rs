//! Negative tests: one per MUST of the FAPI 2.0 Security Profile digest's negative-test list
//! (`shared/spec/fapi2-security-profile.md` §10 items 1–25 that apply to an authorization
//! server), the DPoP receiver checks DP-01..DP-14 and the `private_key_jwt` rules PKJ-01..05
//! (`shared/spec/oauth-building-blocks.md`). Each test names its requirement id and asserts
//! the HTTP status and the `error` code, accepting the alternatives the digest allows. Where
//! cheap, a positive control shows the refusal was for the stated reason only.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// The pushed parameters of `req` with `drop` removed and `set` replacing/adding values.
fn par_params(req: &AuthRequest, drop: &[&str], set: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = req.params().into_iter().filter(|(k, _)| !drop.contains(&k.as_str())).collect();
    for (k, v) in set {
        p.retain(|(name, _)| name != k);
        p.push((k.to_string(), v.to_string()));
    }
    p
}

/// PAR with client authentication and exactly `params` (no DPoP header).
async fn par_raw(env: &TestEnv, tpp: &Tpp, params: Vec<(String, String)>) -> Resp {
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.par_without_dpop(tpp, &borrowed).await
}

/// An authorization request the server must have refused: an error page (4xx, no redirect),
/// or a redirect to the registered URI with `error` ∈ `codes` — never a code.
fn assert_authorize_refused(resp: &Resp, codes: &[&str], what: &str) {
    assert!(!resp.body.contains("name=\"password\""), "{what}: the login page was shown instead of an error: {resp}");
    match resp.header("location") {
        Some(location) => {
            let cb = Callback(location.to_owned());
            assert!(DEFAULT_REDIRECT_URIS.contains(&cb.without_query()), "{what}: redirect only to a registered URI: {resp}");
            let q = cb.query();
            assert!(!q.contains_key("code"), "{what}: no code: {resp}");
            assert!(q.get("error").is_some_and(|e| codes.contains(&e.as_str())), "{what}: error {codes:?}: {resp}");
        }
        None => {
            assert!((400..500).contains(&resp.status), "{what}: expected a 4xx error page: {resp}");
            let code = resp.page_error();
            assert!(code.as_deref().is_some_and(|c| codes.contains(&c)), "{what}: error page with {codes:?}, got {code:?}: {resp}");
        }
    }
}

/// `client_credentials` at the token endpoint with an explicit DPoP header.
async fn cc_with_dpop(env: &TestEnv, tpp: &Tpp, proof: &str) -> Resp {
    env.token_with_headers(tpp, &[("grant_type", "client_credentials")], dpop_header(proof)).await
}

/// `client_credentials` with this client assertion (and, for DPoP clients, a good proof).
async fn cc_with_assertion(env: &TestEnv, tpp: &Tpp, assertion: &str) -> Resp {
    let url = env.endpoint(tpp, "token");
    let form = owned(&[
        ("grant_type", "client_credentials"),
        ("client_id", &tpp.client_id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]);
    let headers = if tpp.is_dpop() { dpop_header(&tpp.dpop_proof("POST", &url, None, None)) } else { HeaderMap::new() };
    env.post_form(tpp, &url, &form, headers).await
}

/// PAR with this client assertion, no DPoP header.
async fn par_with_assertion(env: &TestEnv, tpp: &Tpp, url: &str, assertion: &str) -> Resp {
    let mut form = owned(&[("client_id", &tpp.client_id), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)]);
    form.extend(AuthRequest::new(FULL_SCOPE).params());
    env.post_form(tpp, url, &form, HeaderMap::new()).await
}

/// A user access token with `openid` for `tpp` (one full authorization).
async fn user_access_token(env: &TestEnv, tpp: &Tpp) -> String {
    let (_, tokens) = env.tokens(tpp, &AuthRequest::new(FULL_SCOPE)).await;
    tokens["access_token"].as_str().expect("access_token").to_owned()
}

async fn userinfo_with(env: &TestEnv, client: &reqwest::Client, url: &str, authorization: Option<&str>, dpop: Option<&str>) -> Resp {
    let mut req = client.get(url);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let _ = env;
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
}

const DPOP_REFUSAL: &[&str] = &["invalid_dpop_proof"];
const CLIENT_AUTH_REFUSAL: &[&str] = &["invalid_client"];

/// A client assertion refusal: 401 `invalid_client` (FAPI2-SP-AS-08 also allows 400
/// `invalid_request`).
fn assert_assertion_refused(resp: &Resp, what: &str) {
    resp.assert_error_in(&[400, 401], &["invalid_client", "invalid_request"], what);
}

// ---------------------------------------------------------------------------------------------
// §10 item 1 — FAPI2-SP-AZ-03: no authorization without PAR
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_03_authorize_without_par_is_refused_without_code() {
    let env = TestEnv::shared().await;
    let browser = env.browser();
    let pkce = pkce_pair();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "pkjwt-dpop-1")
        .append_pair("redirect_uri", DEFAULT_REDIRECT_URIS[0])
        .append_pair("scope", FULL_SCOPE)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "s1")
        .finish();
    let resp = browser.get(&format!("{}/authorize?{query}", env.issuer)).await;
    assert_authorize_refused(&resp, &["invalid_request"], "authorization request without PAR (AZ-03)");

    // A request object by value at the authorization endpoint is no substitute for PAR.
    let tpp = env.tpp("pkjwt-dpop-1");
    let request = fapilab_jose::jws::sign(
        &tpp.signing_key,
        serde_json::Map::new(),
        &json!({ "iss": "pkjwt-dpop-1", "aud": env.issuer, "response_type": "code", "client_id": "pkjwt-dpop-1",
                 "redirect_uri": DEFAULT_REDIRECT_URIS[0], "scope": "openid", "code_challenge": pkce.challenge,
                 "code_challenge_method": "S256", "exp": fapilab_jose::now() + 60 }),
    )
    .expect("request object");
    let query = form_urlencoded::Serializer::new(String::new()).append_pair("client_id", "pkjwt-dpop-1").append_pair("request", &request).finish();
    let resp = browser.get(&format!("{}/authorize?{query}", env.issuer)).await;
    assert_authorize_refused(&resp, &["invalid_request"], "request object by value instead of PAR (AZ-03)");
}

// ---------------------------------------------------------------------------------------------
// §10 item 2 — FAPI2-SP-AZ-04: PAR requires client authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_04_par_without_client_authentication_is_invalid_client() {
    let env = TestEnv::shared().await;
    // private_key_jwt client sending only client_id.
    let mut form = owned(&[("client_id", "pkjwt-dpop-1")]);
    form.extend(AuthRequest::new(FULL_SCOPE).params());
    let tpp = env.tpp("pkjwt-dpop-1");
    let resp = env.post_form(&tpp, &env.tls_url("par"), &form, HeaderMap::new()).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "PAR with client_id only (AZ-04)");
    assert!(resp.json.get("request_uri").is_none(), "no request_uri: {resp}");

    // tls_client_auth client sending client_id over a connection without a certificate.
    let mut form = owned(&[("client_id", "tls-mtls-1")]);
    form.extend(AuthRequest::new(FULL_SCOPE).params());
    let resp = Resp::read(env.http.post(env.tls_url("par")).form(&form).send().await.expect("POST par")).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "PAR by a tls_client_auth client without a certificate (AZ-04, MT-04)");
}

// ---------------------------------------------------------------------------------------------
// §10 item 3 — FAPI2-SP-AZ-05: PKCE with S256 is required
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_05_par_without_pkce_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let resp = par_raw(&env, &tpp, par_params(&req, &["code_challenge", "code_challenge_method"], &[])).await;
    resp.assert_error(400, &["invalid_request"], "PAR without code_challenge (AZ-05)");
    let resp = par_raw(&env, &tpp, par_params(&req, &["code_challenge"], &[])).await;
    resp.assert_error(400, &["invalid_request"], "PAR with a method but no code_challenge (AZ-05)");
}

#[tokio::test]
async fn fapi2_sp_az_05_plain_pkce_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-dpop-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let verifier = req.pkce.verifier.clone();
    let resp = par_raw(&env, &tpp, par_params(&req, &[], &[("code_challenge_method", "plain"), ("code_challenge", &verifier)])).await;
    resp.assert_error(400, &["invalid_request"], "PAR with code_challenge_method=plain (AZ-05)");
    // Without a method the challenge would be plain (RFC 7636 §4.3): refused as well.
    let resp = par_raw(&env, &tpp, par_params(&req, &["code_challenge_method"], &[("code_challenge", &verifier)])).await;
    resp.assert_error(400, &["invalid_request"], "PAR without code_challenge_method (plain by default) (AZ-05)");
}

// ---------------------------------------------------------------------------------------------
// §10 item 4 — FAPI2-SP-AZ-06: redirect_uri is required at PAR
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_06_par_without_redirect_uri_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("selfsigned-mtls-1");
    let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &["redirect_uri"], &[])).await;
    resp.assert_error(400, &["invalid_request"], "PAR without redirect_uri (AZ-06)");
}

// ---------------------------------------------------------------------------------------------
// §10 item 5 — PAR-04: no request_uri inside a pushed request
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn par_04_request_uri_inside_par_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let inner = format!("{REQUEST_URI_PREFIX}{}", fapilab_jose::random_token(32));
    let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &[], &[("request_uri", &inner)])).await;
    resp.assert_error(400, &["invalid_request"], "PAR containing request_uri (PAR-04, RFC 9126 §2.1)");
}

// ---------------------------------------------------------------------------------------------
// FAPI2-SP-AZ-01: only response_type=code
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_01_response_type_code_id_token_unsupported() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &[], &[("response_type", "code id_token")])).await;
    resp.assert_error(400, &["unsupported_response_type", "invalid_request"], "PAR with response_type=code id_token (AZ-01)");
    assert!(resp.json.get("request_uri").is_none(), "no request_uri: {resp}");
}

#[tokio::test]
async fn fapi2_sp_az_01_response_type_token_unsupported() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &[], &[("response_type", "token")])).await;
    resp.assert_error(400, &["unsupported_response_type", "invalid_request"], "PAR with response_type=token (AZ-01)");
}

// ---------------------------------------------------------------------------------------------
// FAPI2-SP-AS-07 / AZ-08: redirect URIs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_07_unregistered_redirect_uri_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    for uri in ["https://evil.example/callback", "https://client.fapilab.test/callback/../evil", "https://client.fapilab.test/callback?x=1"] {
        let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &[], &[("redirect_uri", uri)])).await;
        resp.assert_error(400, &["invalid_request", "invalid_redirect_uri"], &format!("PAR with unregistered redirect_uri {uri} (AS-07)"));
    }
}

#[tokio::test]
async fn fapi2_sp_az_08_http_redirect_uri_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-dpop-1");
    let resp = par_raw(&env, &tpp, par_params(&AuthRequest::new(FULL_SCOPE), &[], &[("redirect_uri", "http://client.fapilab.test/callback")])).await;
    resp.assert_error(400, &["invalid_request", "invalid_redirect_uri"], "PAR with an http redirect_uri (AZ-08)");
}

// ---------------------------------------------------------------------------------------------
// §10 items 6–8 — request_uri: single use, expiry, bound to the client (AZ-15, AZ-12, AZ-16)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_15_request_uri_reuse_after_completion_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let resp = env.browser().open_authorize(&tpp.client_id, &grant.request_uri).await;
    assert_authorize_refused(&resp, &["invalid_request_uri", "invalid_request"], "request_uri used again after the authorization completed (AZ-15, PAR-10)");
}

#[tokio::test]
async fn fapi2_sp_az_12_expired_request_uri_refused() {
    let env = TestEnv::start(|w| w.request_uri_lifetime = 10).await;
    let tpp = env.tpp("tls-mtls-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    assert_eq!(par.json["expires_in"], json!(10), "expires_in is the configured lifetime: {par}");
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    // A user who opened the page in time may finish later: from then on the interaction (bound
    // to that browser, 600 s) governs, so a slow human is not locked out mid-login.
    let slow_user = env.browser();
    let page = slow_user.open_authorize(&tpp.client_id, &request_uri).await;
    page.assert_status(200, "authorization page before the expiry");
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let resp = env.browser().open_authorize(&tpp.client_id, &request_uri).await;
    assert_authorize_refused(&resp, &["invalid_request_uri", "invalid_request"], "expired request_uri (AZ-12, PAR-10)");

    let after_login = slow_user.submit_login(&page).await;
    let last = match after_login.header("location") {
        Some(consent_url) => {
            let consent = slow_user.get(consent_url).await;
            if consent.status == 200 && consent.body.contains("name=\"decision\"") { slow_user.submit_consent(&consent, true).await } else { consent }
        }
        None => after_login,
    };
    let location = last.header("location").unwrap_or_else(|| panic!("the authorization started in time completes: {last}"));
    assert!(Callback(location.to_owned()).query().contains_key("code"), "a code for the authorization started in time: {last}");
}

#[tokio::test]
async fn fapi2_sp_az_16_request_uri_with_other_client_id_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let browser = env.browser();
    for other in ["pkjwt-dpop-2", "tls-mtls-1", "no-such-client"] {
        let resp = browser.open_authorize(other, &request_uri).await;
        assert_authorize_refused(&resp, &["invalid_request_uri", "invalid_request", "invalid_client"], &format!("request_uri of pkjwt-dpop-1 with client_id={other} (AZ-16)"));
    }
    // The pushing client can still use it (control).
    browser.open_authorize(&tpp.client_id, &request_uri).await.assert_status(200, "the pushing client's authorization page");
}

#[tokio::test]
async fn par_10_unknown_request_uri_refused() {
    let env = TestEnv::shared().await;
    let browser = env.browser();
    for uri in [format!("{REQUEST_URI_PREFIX}{}", fapilab_jose::random_token(32)), "https://evil.example/request.jwt".to_owned(), REQUEST_URI_PREFIX.to_owned()] {
        let resp = browser.open_authorize("pkjwt-dpop-1", &uri).await;
        assert_authorize_refused(&resp, &["invalid_request_uri", "invalid_request"], &format!("unknown request_uri {uri} (PAR-10)"));
    }
    // A valid request_uri without client_id (PAR-10: the client sends both).
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri");
    let query = form_urlencoded::Serializer::new(String::new()).append_pair("request_uri", request_uri).finish();
    let resp = browser.get(&format!("{}/authorize?{query}", env.issuer)).await;
    assert_authorize_refused(&resp, &["invalid_request", "invalid_request_uri", "invalid_client"], "request_uri without client_id (PAR-10)");
}

/// §10 item 25 / PAR-11: only client_id and request_uri are read at the authorization
/// endpoint; front-channel parameters cannot override the pushed ones.
#[tokio::test]
async fn par_11_front_channel_parameters_are_ignored() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-dpop-2");
    let req = AuthRequest::new(FULL_SCOPE);
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let browser = env.browser();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &tpp.client_id)
        .append_pair("request_uri", &request_uri)
        .append_pair("redirect_uri", "https://evil.example/cb")
        .append_pair("state", "evil-state")
        .append_pair("scope", "openid")
        .append_pair("response_type", "code token")
        .finish();
    let page = browser.get(&format!("{}/authorize?{query}", env.issuer)).await;
    page.assert_status(200, "authorization page with extra front-channel parameters");
    let callback = browser.continue_from_login(&page, true).await;
    let q = callback.query();
    assert_eq!(callback.without_query(), DEFAULT_REDIRECT_URIS[0], "the pushed redirect_uri wins: {}", callback.0);
    assert_eq!(q.get("state"), req.state.as_ref(), "the pushed state wins: {}", callback.0);
    assert!(q.contains_key("code") && !q.contains_key("access_token"), "code only: {}", callback.0);
}

// ---------------------------------------------------------------------------------------------
// §10 items 9–12, 23 — the authorization code (AZ-09, AS-12, AZ-05, OA-04)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_az_09_code_reuse_is_invalid_grant_and_revokes_first_tokens() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let first = env.redeem(&tpp, &grant).await;
    first.assert_status(200, "first redemption");
    let access_token = first.json["access_token"].as_str().expect("access_token").to_owned();
    let refresh_token = first.json["refresh_token"].as_str().expect("refresh_token").to_owned();
    assert_eq!(env.introspect(&tpp, &access_token).await.json["active"], json!(true), "AT active before the replay");

    let second = env.redeem(&tpp, &grant).await;
    second.assert_error(400, &["invalid_grant"], "second redemption of the code (AZ-09)");
    assert!(second.json.get("access_token").is_none(), "no token for a replayed code: {second}");

    // RFC 6749 §4.1.2 / OA-04: tokens issued for the code are revoked.
    let intro = env.introspect(&tpp, &access_token).await;
    assert_eq!(intro.json, json!({ "active": false }), "first AT inactive after the code replay (OA-04): {intro}");
    env.refresh(&tpp, &refresh_token).await.assert_error(400, &["invalid_grant"], "first RT unusable after the code replay");
}

#[tokio::test]
async fn fapi2_sp_as_12_expired_code_is_invalid_grant() {
    let env = TestEnv::start(|w| w.code_lifetime = 1).await;
    let tpp = env.tpp("tls-mtls-2");
    let grant = env.authorize(&tpp, &AuthRequest::new(OAUTH_SCOPE)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = env.redeem(&tpp, &grant).await;
    resp.assert_error(400, &["invalid_grant"], "code redeemed after its lifetime (AS-12)");
}

#[tokio::test]
async fn fapi2_sp_az_05_wrong_code_verifier_is_invalid_grant() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("selfsigned-dpop-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let base = [("grant_type", "authorization_code"), ("code", grant.code.as_str()), ("redirect_uri", grant.redirect_uri.as_str())];

    let other = pkce_pair().verifier;
    let mut params = base.to_vec();
    params.push(("code_verifier", &other));
    env.token(&tpp, &params).await.assert_error(400, &["invalid_grant"], "wrong code_verifier (AZ-05, PKCE-01)");

    env.token(&tpp, &base).await.assert_error(400, &["invalid_grant", "invalid_request"], "missing code_verifier (AZ-05)");

    let mut params = base.to_vec();
    params.push(("code_verifier", "short"));
    env.token(&tpp, &params).await.assert_error(400, &["invalid_grant", "invalid_request"], "malformed code_verifier (PKCE-01)");

    // Control: the right verifier still works, so the refusals were about the verifier.
    env.redeem(&tpp, &grant).await.assert_status(200, "redemption with the right verifier");
}

#[tokio::test]
async fn oa_04_redirect_uri_mismatch_at_token_is_invalid_grant() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let mut params = vec![("grant_type", "authorization_code"), ("code", grant.code.as_str()), ("code_verifier", grant.verifier.as_str())];
    // the second URI is registered for the client, but it is not the pushed one.
    let with_other = [params.clone(), vec![("redirect_uri", DEFAULT_REDIRECT_URIS[1])]].concat();
    env.token(&tpp, &with_other).await.assert_error(400, &["invalid_grant"], "redirect_uri differs from the pushed one (OA-04, §10 item 12)");
    env.token(&tpp, &params).await.assert_error(400, &["invalid_grant", "invalid_request"], "redirect_uri missing at the token endpoint (OA-04)");
    params.push(("redirect_uri", grant.redirect_uri.as_str()));
    env.token(&tpp, &params).await.assert_status(200, "control: the pushed redirect_uri");
}

#[tokio::test]
async fn fapi2_sp_oa_04_code_redeemed_by_another_client_is_invalid_grant() {
    let env = TestEnv::shared().await;
    let owner = env.tpp("pkjwt-dpop-1");
    let grant = env.authorize(&owner, &AuthRequest::new(FULL_SCOPE)).await;
    for thief in ["pkjwt-dpop-2", "tls-dpop-1", "selfsigned-mtls-1"] {
        let thief = env.tpp(thief);
        let resp = env.redeem(&thief, &grant).await;
        resp.assert_error(400, &["invalid_grant"], &format!("code of pkjwt-dpop-1 redeemed by {} (§10 item 23)", thief.client_id));
    }
}

// ---------------------------------------------------------------------------------------------
// §10 items 13, 14, 24 — private_key_jwt (FAPI2-SP-AS-08, AS-14, CR-02, CR-03, PKJ-01..05)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_08_assertion_aud_token_url_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let ok = cc_with_assertion(&env, &tpp, &tpp.client_assertion(json!(env.issuer), |_| {})).await;
    ok.assert_status(200, "control: aud = issuer");
    for aud in [env.tls_url("token"), env.mtls_url("token")] {
        let resp = cc_with_assertion(&env, &tpp, &tpp.client_assertion(json!(aud), |_| {})).await;
        assert_assertion_refused(&resp, &format!("assertion aud = token endpoint URL {aud} (AS-08)"));
    }
    let resp = cc_with_assertion(&env, &tpp, &tpp.client_assertion(json!("https://other-as.example"), |_| {})).await;
    assert_assertion_refused(&resp, "assertion aud = another server (PKJ-02)");
}

#[tokio::test]
async fn fapi2_sp_as_08_assertion_aud_par_url_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-2");
    let url = env.tls_url("par");
    let ok = par_with_assertion(&env, &tpp, &url, &tpp.client_assertion(json!(env.issuer), |_| {})).await;
    ok.assert_status(201, "control: PAR with aud = issuer");
    let resp = par_with_assertion(&env, &tpp, &url, &tpp.client_assertion(json!(url), |_| {})).await;
    assert_assertion_refused(&resp, "PAR assertion aud = PAR endpoint URL (AS-08)");
    let resp = par_with_assertion(&env, &tpp, &url, &tpp.client_assertion(json!([env.issuer, url]), |_| {})).await;
    assert_assertion_refused(&resp, "PAR assertion aud = [issuer, PAR URL] (AS-08)");
}

#[tokio::test]
async fn fapi2_sp_as_08_assertion_aud_array_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let resp = cc_with_assertion(&env, &tpp, &tpp.client_assertion(json!([env.issuer]), |_| {})).await;
    assert_assertion_refused(&resp, "assertion aud = [issuer] (AS-08)");
}

#[tokio::test]
async fn pkj_02_assertion_exp_in_past_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-2");
    let now = fapilab_jose::now();
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("exp".into(), json!(now - 300));
        c.insert("iat".into(), json!(now - 360));
    });
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &assertion).await, "assertion exp 5 min in the past (PKJ-02, §10 item 24)");
}

#[tokio::test]
async fn fapi2_sp_as_14_assertion_iat_61s_in_future_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let now = fapilab_jose::now();
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("iat".into(), json!(now + 61));
        c.insert("exp".into(), json!(now + 120));
    });
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &assertion).await, "assertion iat +61 s (AS-14)");
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("nbf".into(), json!(now + 61));
        c.insert("exp".into(), json!(now + 120));
    });
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &assertion).await, "assertion nbf +61 s (AS-14)");
}

#[tokio::test]
async fn fapi2_sp_as_14_assertion_iat_8s_in_future_accepted() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let now = fapilab_jose::now();
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("iat".into(), json!(now + 8));
        c.insert("nbf".into(), json!(now + 8));
        c.insert("exp".into(), json!(now + 68));
    });
    cc_with_assertion(&env, &tpp, &assertion).await.assert_status(200, "assertion iat/nbf +8 s must be accepted (AS-14)");
}

#[tokio::test]
async fn pkj_04_assertion_jti_replay_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let assertion = tpp.client_assertion(json!(env.issuer), |_| {});
    cc_with_assertion(&env, &tpp, &assertion).await.assert_status(200, "first use of the assertion");
    let resp = cc_with_assertion(&env, &tpp, &assertion).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "the same assertion (jti) again (PKJ-04)");
    // A new assertion with the same jti is a replay too.
    let jti = fapilab_jose::jws::decode_unverified_claims(&assertion).expect("claims")["jti"].clone();
    let again = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("jti".into(), jti);
    });
    cc_with_assertion(&env, &tpp, &again).await.assert_error(401, CLIENT_AUTH_REFUSAL, "a new assertion reusing the jti (PKJ-04)");
}

#[tokio::test]
async fn pkj_02_assertion_missing_or_wrong_claims_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-2");
    for claim in ["sub", "iss", "aud", "exp", "jti"] {
        let assertion = tpp.client_assertion(json!(env.issuer), |c| {
            c.remove(claim);
        });
        let resp = cc_with_assertion(&env, &tpp, &assertion).await;
        resp.assert_error(401, CLIENT_AUTH_REFUSAL, &format!("assertion without {claim} (PKJ-02, §10 item 24)"));
    }
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("iss".into(), json!("pkjwt-mtls-1"));
    });
    cc_with_assertion(&env, &tpp, &assertion).await.assert_error(401, CLIENT_AUTH_REFUSAL, "assertion iss ≠ sub (PKJ-02)");
    // sub naming another client that the signature does not belong to.
    let assertion = tpp.client_assertion(json!(env.issuer), |c| {
        c.insert("iss".into(), json!("pkjwt-mtls-1"));
        c.insert("sub".into(), json!("pkjwt-mtls-1"));
    });
    let url = env.endpoint(&tpp, "token");
    let form = owned(&[("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &assertion)]);
    env.post_form(&tpp, &url, &form, HeaderMap::new()).await.assert_error(401, CLIENT_AUTH_REFUSAL, "assertion for pkjwt-mtls-1 signed by pkjwt-mtls-2's key (PKJ-03)");
    // client_id differs from the assertion's sub.
    let assertion = tpp.client_assertion(json!(env.issuer), |_| {});
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "pkjwt-mtls-1"), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &assertion)]);
    env.post_form(&tpp, &url, &form, HeaderMap::new()).await.assert_error(401, CLIENT_AUTH_REFUSAL, "client_id ≠ assertion sub (PKJ-01)");
    // Wrong client_assertion_type.
    let assertion = tpp.client_assertion(json!(env.issuer), |_| {});
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "pkjwt-mtls-2"), ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), ("client_assertion", &assertion)]);
    env.post_form(&tpp, &url, &form, HeaderMap::new()).await.assert_error_in(&[400, 401], &["invalid_client", "invalid_request"], "wrong client_assertion_type (PKJ-01)");
}

#[tokio::test]
async fn fapi2_sp_cr_02_rs256_assertion_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let claims = Value::Object(tpp.assertion_claims(json!(env.issuer)));
    // A real RS256 signature by the client's registered RSA key.
    let kid = tpp.rsa_key.kid().expect("kid");
    let assertion = sign_rs256(&tpp.rsa_key, &json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }), &claims);
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &assertion).await, "RS256 client assertion (CR-02, §10 item 14)");
    // Control: the same key with PS256 is accepted.
    let ps256 = fapilab_jose::jws::sign(&tpp.rsa_key, serde_json::Map::new(), &Value::Object(tpp.assertion_claims(json!(env.issuer)))).expect("PS256");
    cc_with_assertion(&env, &tpp, &ps256).await.assert_status(200, "control: PS256 assertion with the same key");
    // An ES256 signature that claims to be HS256.
    let hs = sign_raw(&tpp.signing_key, &json!({ "alg": "HS256", "kid": tpp.signing_key.kid() }), &Value::Object(tpp.assertion_claims(json!(env.issuer))));
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &hs).await, "HS256 client assertion (CR-02, PKJ-03)");
}

#[tokio::test]
async fn fapi2_sp_cr_03_unsigned_assertion_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-2");
    let claims = Value::Object(tpp.assertion_claims(json!(env.issuer)));
    let unsigned = format!(
        "{}.{}.",
        fapilab_jose::b64::encode(br#"{"alg":"none"}"#),
        fapilab_jose::b64::encode(claims.to_string().as_bytes())
    );
    assert_assertion_refused(&cc_with_assertion(&env, &tpp, &unsigned).await, "alg=none client assertion (CR-03)");
}

#[tokio::test]
async fn pkj_03_assertion_signed_by_unregistered_key_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    let stranger = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, tpp.signing_key.kid().map(str::to_owned)).expect("key");
    let assertion = fapilab_jose::jws::sign(&stranger, serde_json::Map::new(), &Value::Object(tpp.assertion_claims(json!(env.issuer)))).expect("sign");
    cc_with_assertion(&env, &tpp, &assertion).await.assert_error(401, CLIENT_AUTH_REFUSAL, "assertion signed by a key not in the client's JWKS (PKJ-03)");
}

#[tokio::test]
async fn fapi2_sp_as_03_token_without_client_assertion_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "pkjwt-dpop-1")]);
    let resp = env.post_form(&tpp, &url, &form, dpop_header(&tpp.dpop_proof("POST", &url, None, None))).await;
    resp.assert_error_in(&[400, 401], &["invalid_client", "invalid_request"], "token request with client_id only (AS-03, §10 item 24)");
    let form = owned(&[("grant_type", "client_credentials")]);
    let resp = env.post_form(&tpp, &url, &form, dpop_header(&tpp.dpop_proof("POST", &url, None, None))).await;
    resp.assert_error_in(&[400, 401], &["invalid_client", "invalid_request"], "token request without any client identification (AS-03)");
}

#[tokio::test]
async fn fapi2_sp_as_06_client_secret_post_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "pkjwt-dpop-1"), ("client_secret", "s3cret")]);
    let resp = env.post_form(&tpp, &url, &form, dpop_header(&tpp.dpop_proof("POST", &url, None, None))).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "client_secret_post (AS-06)");
    // At PAR as well.
    let mut form = owned(&[("client_id", "pkjwt-dpop-1"), ("client_secret", "s3cret")]);
    form.extend(AuthRequest::new(FULL_SCOPE).params());
    env.post_form(&tpp, &env.tls_url("par"), &form, HeaderMap::new()).await.assert_error(401, CLIENT_AUTH_REFUSAL, "client_secret_post at PAR (AS-06)");
}

#[tokio::test]
async fn fapi2_sp_as_06_http_basic_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let basic = format!("Basic {}", base64_std(b"pkjwt-dpop-1:s3cret"));
    let form = owned(&[("grant_type", "client_credentials")]);
    let mut headers = dpop_header(&tpp.dpop_proof("POST", &url, None, None));
    headers.insert("authorization", header(&basic));
    env.post_form(&tpp, &url, &form, headers).await.assert_error(401, CLIENT_AUTH_REFUSAL, "client_secret_basic (AS-06)");
    // Basic alongside an otherwise valid client assertion is refused too.
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("grant_type".into(), "client_credentials".into()));
    let mut headers = dpop_header(&tpp.dpop_proof("POST", &url, None, None));
    headers.insert("authorization", header(&basic));
    env.post_form(&tpp, &url, &form, headers).await.assert_error(401, CLIENT_AUTH_REFUSAL, "HTTP Basic next to a client assertion (AS-06)");
}

/// Standard base64 with padding (RFC 7617 Basic credentials).
fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// §10 item 15 — FAPI2-SP-AS-02: no resource owner password credentials grant
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_02_password_grant_unsupported() {
    let env = TestEnv::shared().await;
    for id in ["pkjwt-dpop-1", "tls-mtls-1"] {
        let tpp = env.tpp(id);
        let resp = env.token(&tpp, &[("grant_type", "password"), ("username", DEFAULT_USER), ("password", DEFAULT_PASSWORD)]).await;
        resp.assert_error(400, &["unsupported_grant_type", "unauthorized_client"], &format!("password grant by {id} (AS-02)"));
        assert!(resp.json.get("access_token").is_none(), "no token: {resp}");
    }
}

// ---------------------------------------------------------------------------------------------
// §10 item 16 — FAPI2-SP-AS-04: DPoP clients need a proof; mTLS clients a certificate
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_04_dpop_client_token_without_proof_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", grant.code.as_str()),
        ("redirect_uri", grant.redirect_uri.as_str()),
        ("code_verifier", grant.verifier.as_str()),
    ];
    let resp = env.token_with_headers(&tpp, &params, HeaderMap::new()).await;
    resp.assert_error(400, &["invalid_dpop_proof", "invalid_request"], "DPoP client without a DPoP proof (AS-04, DP-T-02)");
    assert!(resp.json.get("access_token").is_none(), "never a Bearer token instead: {resp}");
    let resp = env.token_with_headers(&tpp, &[("grant_type", "client_credentials")], HeaderMap::new()).await;
    resp.assert_error(400, &["invalid_dpop_proof", "invalid_request"], "client_credentials without a DPoP proof (AS-04)");
    // Control: with a proof the code is redeemed.
    env.redeem(&tpp, &grant).await.assert_status(200, "control: the same code with a proof");
}

#[tokio::test]
async fn fapi2_sp_as_04_mtls_bound_client_without_certificate_gets_no_token() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-1");
    // A valid client assertion over the TLS listener: nothing to bind the token to.
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("grant_type".into(), "client_credentials".into()));
    let resp = Resp::read(env.http.post(env.tls_url("token")).form(&form).send().await.expect("POST token")).await;
    resp.assert_error_in(&[400, 401], &["invalid_request", "invalid_client"], "mTLS-bound client without a certificate (AS-04, MT-06)");
    assert!(resp.json.get("access_token").is_none(), "no unbound token: {resp}");
}

// ---------------------------------------------------------------------------------------------
// §10 item 18 — mutual TLS (MT-02, MT-03, MT-04, MT-07)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mt_04_tls_client_auth_without_certificate_is_invalid_client() {
    let env = TestEnv::shared().await;
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "tls-mtls-1")]);
    // Over the TLS listener (which never asks for a certificate).
    let resp = Resp::read(env.http.post(env.tls_url("token")).form(&form).send().await.expect("POST token")).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "tls_client_auth over the TLS listener without a certificate (MT-04, §10 item 18)");
    // Over the mTLS alias, declining to send a certificate.
    let resp = Resp::read(env.http.post(env.mtls_url("token")).form(&form).send().await.expect("POST token")).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "tls_client_auth on the mTLS alias without a certificate (MT-04)");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "selfsigned-mtls-1")]);
    let resp = Resp::read(env.http.post(env.mtls_url("token")).form(&form).send().await.expect("POST token")).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "self_signed_tls_client_auth without a certificate (MT-04)");
}

#[tokio::test]
async fn mt_02_certificate_of_another_tpp_refused() {
    let env = TestEnv::shared().await;
    let victim = env.tpp("tls-mtls-1");
    let other = env.tpp("tls-mtls-2");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "tls-mtls-1")]);
    let resp = env.post_form(&other, &env.mtls_url("token"), &form, HeaderMap::new()).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "tls-mtls-1 with tls-mtls-2's certificate (MT-02)");
    // A self-signed certificate carrying a TPP subject does not chain to the CA.
    let selfsigned = env.tpp("selfsigned-mtls-1");
    let resp = env.post_form(&selfsigned, &env.mtls_url("token"), &form, HeaderMap::new()).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "tls-mtls-1 with a self-signed certificate (MT-02)");
    // Control.
    env.post_form(&victim, &env.mtls_url("token"), &form, HeaderMap::new()).await.assert_status(200, "control: its own certificate");
}

#[tokio::test]
async fn mt_03_self_signed_certificate_not_in_jwks_refused() {
    let env = TestEnv::shared().await;
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "selfsigned-mtls-1")]);
    for other in ["selfsigned-mtls-2", "tls-mtls-1"] {
        let other = env.tpp(other);
        let resp = env.post_form(&other, &env.mtls_url("token"), &form, HeaderMap::new()).await;
        resp.assert_error(401, CLIENT_AUTH_REFUSAL, &format!("selfsigned-mtls-1 with {}'s certificate (MT-03)", other.client_id));
    }
}

#[tokio::test]
async fn mt_07_mtls_bound_access_token_with_other_certificate_is_invalid_token() {
    let env = TestEnv::shared().await;
    let owner = env.tpp("tls-mtls-1");
    let access_token = user_access_token(&env, &owner).await;
    let url = env.mtls_url("userinfo");
    let bearer = format!("Bearer {access_token}");
    userinfo_with(&env, &owner.http, &url, Some(&bearer), None).await.assert_status(200, "control: the bound certificate");

    let other = env.tpp("tls-mtls-2");
    let resp = userinfo_with(&env, &other.http, &url, Some(&bearer), None).await;
    resp.assert_error(401, &["invalid_token"], "mTLS-bound AT over a connection with another certificate (MT-07, RS-05)");
    let resp = userinfo_with(&env, &env.http, &url, Some(&bearer), None).await;
    resp.assert_error(401, &["invalid_token"], "mTLS-bound AT on the mTLS alias without a certificate (MT-07)");
    let resp = userinfo_with(&env, &env.http, &env.tls_url("userinfo"), Some(&bearer), None).await;
    resp.assert_error(401, &["invalid_token"], "mTLS-bound AT over the TLS listener (MT-07)");
}

// ---------------------------------------------------------------------------------------------
// §10 item 17, DP-01..DP-14 — DPoP proofs at the token endpoint
// ---------------------------------------------------------------------------------------------

/// The claims of a good token-endpoint proof for `tpp`.
fn proof_claims(env: &TestEnv, tpp: &Tpp) -> serde_json::Map<String, Value> {
    json!({
        "jti": fapilab_jose::random_token(16),
        "htm": "POST",
        "htu": env.endpoint(tpp, "token"),
        "iat": fapilab_jose::now(),
    })
    .as_object()
    .cloned()
    .expect("object")
}

fn proof_header(key: &fapilab_jose::SigningKey) -> Value {
    json!({ "typ": "dpop+jwt", "alg": key.algorithm().as_str(), "jwk": key.public_jwk().to_minimal_value() })
}

#[tokio::test]
async fn dp_01_two_dpop_headers_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    let mut headers = HeaderMap::new();
    headers.append("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    headers.append("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    let resp = env.token_with_headers(&tpp, &[("grant_type", "client_credentials")], headers).await;
    resp.assert_error(400, DPOP_REFUSAL, "two DPoP headers (DP-01)");
}

#[tokio::test]
async fn dp_02_malformed_proof_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    for bad in ["not-a-jws", "a.b.c", "e30.e30.", "e30.e30.e30.e30.e30"] {
        let resp = cc_with_dpop(&env, &tpp, bad).await;
        resp.assert_error(400, DPOP_REFUSAL, &format!("malformed DPoP proof {bad:?} (DP-02)"));
    }
}

#[tokio::test]
async fn dp_03_missing_claims_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    for claim in ["jti", "htm", "htu", "iat"] {
        let mut claims = proof_claims(&env, &tpp);
        claims.remove(claim);
        let proof = sign_raw(&tpp.dpop_key, &proof_header(&tpp.dpop_key), &Value::Object(claims));
        cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, &format!("DPoP proof without {claim} (DP-03)"));
    }
}

#[tokio::test]
async fn dp_04_wrong_typ_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    for typ in [Some("JWT"), Some("at+jwt"), None] {
        let mut header = proof_header(&tpp.dpop_key);
        match typ {
            Some(t) => header["typ"] = json!(t),
            None => {
                header.as_object_mut().expect("object").remove("typ");
            }
        }
        let proof = sign_raw(&tpp.dpop_key, &header, &Value::Object(proof_claims(&env, &tpp)));
        cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, &format!("DPoP proof typ {typ:?} (DP-04)"));
    }
}

#[tokio::test]
async fn dp_05_alg_none_and_rs256_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let claims = Value::Object(proof_claims(&env, &tpp));
    let mut header = proof_header(&tpp.dpop_key);
    header["alg"] = json!("none");
    let none = format!("{}.{}.", fapilab_jose::b64::encode(header.to_string().as_bytes()), fapilab_jose::b64::encode(claims.to_string().as_bytes()));
    cc_with_dpop(&env, &tpp, &none).await.assert_error(400, DPOP_REFUSAL, "DPoP proof alg=none (DP-05)");

    let rsa_header = json!({ "typ": "dpop+jwt", "alg": "RS256", "jwk": tpp.rsa_key.public_jwk().to_minimal_value() });
    let rs256 = sign_rs256(&tpp.rsa_key, &rsa_header, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &rs256).await.assert_error(400, DPOP_REFUSAL, "DPoP proof RS256 (DP-05, CR-02)");

    let mut hs_header = proof_header(&tpp.dpop_key);
    hs_header["alg"] = json!("HS256");
    let hs = sign_raw(&tpp.dpop_key, &hs_header, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &hs).await.assert_error(400, DPOP_REFUSAL, "DPoP proof HS256 (DP-05)");

    let mut no_alg = proof_header(&tpp.dpop_key);
    no_alg.as_object_mut().expect("object").remove("alg");
    let proof = sign_raw(&tpp.dpop_key, &no_alg, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "DPoP proof without alg (DP-05)");

    // Control: PS256 with the same RSA key is fine.
    let ps256_header = json!({ "typ": "dpop+jwt", "alg": "PS256", "jwk": tpp.rsa_key.public_jwk().to_minimal_value() });
    let ps256 = sign_raw(&tpp.rsa_key, &ps256_header, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &ps256).await.assert_status(200, "control: PS256 DPoP proof");
}

#[tokio::test]
async fn dp_06_signature_not_by_the_embedded_jwk_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let other = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, None).expect("key");
    let proof = sign_raw(&tpp.dpop_key, &proof_header(&other), &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "DPoP proof signed by another key than its jwk (DP-06)");
    let mut no_jwk = proof_header(&tpp.dpop_key);
    no_jwk.as_object_mut().expect("object").remove("jwk");
    let proof = sign_raw(&tpp.dpop_key, &no_jwk, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "DPoP proof without jwk (DP-06)");
}

#[tokio::test]
async fn dp_07_private_jwk_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": tpp.dpop_key.to_private_jwk() });
    let proof = sign_raw(&tpp.dpop_key, &header, &Value::Object(proof_claims(&env, &tpp)));
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "DPoP proof with a private jwk (DP-07)");
}

#[tokio::test]
async fn dp_08_htm_mismatch_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    for htm in ["GET", "PUT", "post"] {
        let proof = tpp.dpop_proof(htm, &url, None, None);
        cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, &format!("DPoP proof htm {htm} for a POST (DP-08)"));
    }
}

#[tokio::test]
async fn dp_09_htu_mismatch_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    for htu in [env.tls_url("par"), env.mtls_url("token"), "https://evil.example/default/fapi2/token".to_owned(), format!("{}/token", env.info.base_url)] {
        let proof = tpp.dpop_proof("POST", &htu, None, None);
        cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, &format!("DPoP proof htu {htu} (DP-09)"));
    }
}

#[tokio::test]
async fn dp_11_stale_and_future_iat_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    let now = fapilab_jose::now();
    for (offset, what) in [(-600, "10 min old"), (-3600, "1 h old (DP-14)"), (3600, "1 h in the future (DP-14)")] {
        let proof = dpop_proof_with(&tpp.dpop_key, "POST", &url, None, None, now + offset, &fapilab_jose::random_token(16));
        cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, &format!("DPoP proof iat {what} (DP-11)"));
    }
}

#[tokio::test]
async fn fapi2_sp_as_14_dpop_iat_61s_in_future_refused_8s_accepted() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    let now = fapilab_jose::now();
    let proof = dpop_proof_with(&tpp.dpop_key, "POST", &url, None, None, now + 61, &fapilab_jose::random_token(16));
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "DPoP proof iat +61 s (AS-14)");
    let proof = dpop_proof_with(&tpp.dpop_key, "POST", &url, None, None, now + 8, &fapilab_jose::random_token(16));
    cc_with_dpop(&env, &tpp, &proof).await.assert_status(200, "DPoP proof iat +8 s must be accepted (AS-14)");
}

#[tokio::test]
async fn dp_13_replayed_jti_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    let proof = tpp.dpop_proof("POST", &url, None, None);
    cc_with_dpop(&env, &tpp, &proof).await.assert_status(200, "first use of the proof");
    cc_with_dpop(&env, &tpp, &proof).await.assert_error(400, DPOP_REFUSAL, "the same DPoP proof again (DP-13)");
    // A new proof that reuses the jti.
    let jti = fapilab_jose::jws::decode_unverified_claims(&proof).expect("claims")["jti"].as_str().expect("jti").to_owned();
    let again = dpop_proof_with(&tpp.dpop_key, "POST", &url, None, None, fapilab_jose::now(), &jti);
    cc_with_dpop(&env, &tpp, &again).await.assert_error(400, DPOP_REFUSAL, "a new DPoP proof with a used jti (DP-13)");
}

#[tokio::test]
async fn dp_14_unknown_members_ignored_and_header_name_case_insensitive() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let mut jose_header = proof_header(&tpp.dpop_key);
    jose_header["x-extra"] = json!("ignored");
    let mut claims = proof_claims(&env, &tpp);
    claims.insert("unknown_claim".into(), json!({ "nested": [1, 2, 3] }));
    let proof = sign_raw(&tpp.dpop_key, &jose_header, &Value::Object(claims));
    cc_with_dpop(&env, &tpp, &proof).await.assert_status(200, "unknown header members and claims are ignored (DP-14)");

    let url = env.endpoint(&tpp, "token");
    let mut headers = HeaderMap::new();
    headers.insert("dpop", header(&tpp.dpop_proof("POST", &url, None, None)));
    // HTTP header names are case-insensitive: over HTTP/1.1 with title case it goes out as `Dpop`.
    let http1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&env.ca_pem).expect("CA")])
        .http1_only()
        .http1_title_case_headers()
        .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .expect("HTTP/1.1 client");
    let mut form = tpp.auth_params(&env.issuer);
    form.push(("grant_type".into(), "client_credentials".into()));
    let resp = Resp::read(http1.post(&url).headers(headers).form(&form).send().await.expect("POST token")).await;
    resp.assert_status(200, "a DPoP header spelled in another case (DP-14)");
}

// ---------------------------------------------------------------------------------------------
// FAPI2-SP-AS-13, DP-C-01, DP-C-02 — authorization code bound to a DPoP key
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_13_dpop_jkt_mismatch_at_token_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-2");
    let mut req = AuthRequest::new(FULL_SCOPE);
    req.dpop_header_at_par = false;
    req.extra.push(("dpop_jkt".into(), tpp.dpop_jkt()));
    let grant = env.authorize(&tpp, &req).await;
    let url = env.endpoint(&tpp, "token");
    let k2 = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, None).expect("K2");
    let proof = dpop_proof_with(&k2, "POST", &url, None, None, fapilab_jose::now(), &fapilab_jose::random_token(16));
    let params = [
        ("grant_type", "authorization_code"),
        ("code", grant.code.as_str()),
        ("redirect_uri", grant.redirect_uri.as_str()),
        ("code_verifier", grant.verifier.as_str()),
    ];
    let resp = env.token_with_headers(&tpp, &params, dpop_header(&proof)).await;
    resp.assert_error(400, &["invalid_grant", "invalid_dpop_proof"], "code bound to K1 redeemed with a K2 proof (AS-13, DP-C-02)");
    // Control: with K1.
    let ok = env.redeem(&tpp, &grant).await;
    ok.assert_status(200, "control: the bound key");
    assert_eq!(jwt_parts(ok.json["access_token"].as_str().expect("AT")).1["cnf"]["jkt"], json!(tpp.dpop_jkt()));

    // The same with the binding made by a DPoP header at PAR (RFC 9449 §10.1).
    let req = AuthRequest::new(FULL_SCOPE);
    let grant = env.authorize(&tpp, &req).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", grant.code.as_str()),
        ("redirect_uri", grant.redirect_uri.as_str()),
        ("code_verifier", grant.verifier.as_str()),
    ];
    let proof = dpop_proof_with(&k2, "POST", &url, None, None, fapilab_jose::now(), &fapilab_jose::random_token(16));
    let resp = env.token_with_headers(&tpp, &params, dpop_header(&proof)).await;
    resp.assert_error(400, &["invalid_grant", "invalid_dpop_proof"], "code bound by a PAR proof of K1 redeemed with K2 (AS-13)");
    env.redeem(&tpp, &grant).await.assert_status(200, "control: the PAR proof's key");
}

#[tokio::test]
async fn dp_c_01_par_dpop_jkt_differs_from_par_proof_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let k2 = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, None).expect("K2");
    let req = AuthRequest::new(FULL_SCOPE);
    let params = par_params(&req, &[], &[("dpop_jkt", &k2.public_jwk().thumbprint())]);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // `par` adds a DPoP proof by the TPP's own key (K1).
    let resp = env.par(&tpp, &borrowed).await;
    resp.assert_error(400, &["invalid_request", "invalid_dpop_proof"], "PAR dpop_jkt ≠ the PAR proof's key (DP-C-01)");
    // A dpop_jkt for an mTLS-bound client is refused as well.
    let mtls = env.tpp("tls-mtls-1");
    let params = par_params(&req, &[], &[("dpop_jkt", &k2.public_jwk().thumbprint())]);
    par_raw(&env, &mtls, params).await.assert_error(400, &["invalid_request"], "dpop_jkt from an mTLS-bound client (AS-05)");
}

// ---------------------------------------------------------------------------------------------
// FAPI2-SP-AS-11, DP-N-01 — server nonces
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_as_11_dpop_nonce_required_then_retry_succeeds() {
    let env = TestEnv::start(|w| w.dpop_nonce = true).await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");

    let first = cc_with_dpop(&env, &tpp, &tpp.dpop_proof("POST", &url, None, None)).await;
    first.assert_error(400, &["use_dpop_nonce"], "token request without a nonce (DP-N-01)");
    let nonce = first.header("dpop-nonce").unwrap_or_else(|| panic!("use_dpop_nonce without a DPoP-Nonce header: {first}")).to_owned();
    assert!(!nonce.is_empty() && nonce.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)), "nonce is NQCHAR: {nonce:?}");

    let wrong = cc_with_dpop(&env, &tpp, &tpp.dpop_proof("POST", &url, None, Some("not-the-nonce"))).await;
    wrong.assert_error(400, &["use_dpop_nonce"], "a wrong nonce (DP-10)");

    let retry = cc_with_dpop(&env, &tpp, &tpp.dpop_proof("POST", &url, None, Some(&nonce))).await;
    retry.assert_status(200, "retry with the server nonce (AS-11)");
    assert_eq!(retry.json["token_type"], json!("DPoP"));

    // PAR demands the nonce too, and accepts the retry.
    let req = AuthRequest::new(FULL_SCOPE);
    let params = req.params();
    let par_url = env.endpoint(&tpp, "par");
    let mut form = tpp.auth_params(&env.issuer);
    form.extend(params.clone());
    let resp = env.post_form(&tpp, &par_url, &form, dpop_header(&tpp.dpop_proof("POST", &par_url, None, None))).await;
    resp.assert_error(400, &["use_dpop_nonce"], "PAR proof without a nonce (DP-N-01)");
    let nonce = resp.header("dpop-nonce").expect("DPoP-Nonce at PAR").to_owned();
    let mut form = tpp.auth_params(&env.issuer);
    form.extend(params);
    env.post_form(&tpp, &par_url, &form, dpop_header(&tpp.dpop_proof("POST", &par_url, None, Some(&nonce)))).await.assert_status(201, "PAR retry with the nonce");
}

// ---------------------------------------------------------------------------------------------
// Resource access at UserInfo (RS-01..RS-05, DP-R-01, DP-R-02, DP-12)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dp_12_userinfo_proof_ath_and_key_checked() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let at = user_access_token(&env, &tpp).await;
    let url = env.endpoint(&tpp, "userinfo");
    let auth = format!("DPoP {at}");
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&tpp.dpop_proof("GET", &url, Some(&at), None))).await.assert_status(200, "control");

    let no_ath = tpp.dpop_proof("GET", &url, None, None);
    let resp = userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&no_ath)).await;
    resp.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "proof without ath at the RS (DP-12, §10 item 17)");
    assert!(resp.www_authenticate().is_some_and(|w| w.starts_with("DPoP")), "DPoP challenge: {resp}");

    let wrong_ath = tpp.dpop_proof("GET", &url, Some("another-access-token"), None);
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&wrong_ath)).await.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "proof with the ath of another token (DP-12)");

    let other_key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, None).expect("key");
    let foreign = dpop_proof_with(&other_key, "GET", &url, Some(&at), None, fapilab_jose::now(), &fapilab_jose::random_token(16));
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&foreign)).await.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "proof by another key than cnf.jkt (DP-12, RS-05)");

    let wrong_htm = tpp.dpop_proof("POST", &url, Some(&at), None);
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&wrong_htm)).await.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "proof htm POST for a GET at the RS (DP-08)");

    let wrong_htu = tpp.dpop_proof("GET", &env.tls_url("token"), Some(&at), None);
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&wrong_htu)).await.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "proof htu of another URL at the RS (DP-09)");

    let proof = tpp.dpop_proof("GET", &url, Some(&at), None);
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&proof)).await.assert_status(200, "fresh proof");
    userinfo_with(&env, &tpp.http, &url, Some(&auth), Some(&proof)).await.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "replayed proof at the RS (DP-13)");
}

#[tokio::test]
async fn dp_r_01_dpop_bound_access_token_without_proof_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-dpop-1");
    let at = user_access_token(&env, &tpp).await;
    let url = env.endpoint(&tpp, "userinfo");
    let resp = userinfo_with(&env, &tpp.http, &url, Some(&format!("DPoP {at}")), None).await;
    resp.assert_error(401, &["invalid_dpop_proof", "invalid_token"], "DPoP-bound AT without a proof (DP-R-01)");
    assert!(resp.www_authenticate().is_some_and(|w| w.starts_with("DPoP")), "DPoP challenge: {resp}");
}

#[tokio::test]
async fn fapi2_sp_rs_05_dpop_bound_access_token_with_bearer_scheme_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let at = user_access_token(&env, &tpp).await;
    let url = env.endpoint(&tpp, "userinfo");
    let resp = userinfo_with(&env, &tpp.http, &url, Some(&format!("Bearer {at}")), Some(&tpp.dpop_proof("GET", &url, Some(&at), None))).await;
    resp.assert_error(401, &["invalid_token", "invalid_dpop_proof"], "DPoP-bound AT with the Bearer scheme (DP-R-02, RS-05)");
    let resp = userinfo_with(&env, &tpp.http, &url, Some(&format!("Bearer {at}")), None).await;
    resp.assert_error(401, &["invalid_token", "invalid_dpop_proof"], "DPoP-bound AT as a plain Bearer token (DP-R-02)");
}

#[tokio::test]
async fn fapi2_sp_rs_01_authorization_scheme_is_case_insensitive() {
    let env = TestEnv::shared().await;
    let dpop = env.tpp("selfsigned-dpop-2");
    let at = user_access_token(&env, &dpop).await;
    let url = env.endpoint(&dpop, "userinfo");
    for scheme in ["dpop", "DPOP"] {
        let resp = userinfo_with(&env, &dpop.http, &url, Some(&format!("{scheme} {at}")), Some(&dpop.dpop_proof("GET", &url, Some(&at), None))).await;
        resp.assert_status(200, &format!("scheme {scheme} (RS-01)"));
    }
    let mtls = env.tpp("selfsigned-mtls-2");
    let at = user_access_token(&env, &mtls).await;
    let url = env.endpoint(&mtls, "userinfo");
    for scheme in ["bearer", "BEARER"] {
        let resp = userinfo_with(&env, &mtls.http, &url, Some(&format!("{scheme} {at}")), None).await;
        resp.assert_status(200, &format!("scheme {scheme} (RS-01)"));
    }
}

#[tokio::test]
async fn fapi2_sp_rs_02_access_token_in_query_or_body_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-2");
    let at = user_access_token(&env, &tpp).await;
    let url = env.endpoint(&tpp, "userinfo");
    let resp = Resp::read(tpp.http.get(format!("{url}?access_token={at}")).send().await.expect("GET userinfo")).await;
    assert_eq!(resp.status, 401, "access_token in the query (RS-02): {resp}");
    assert!(resp.www_authenticate().is_some(), "a challenge (OA-05): {resp}");
    let resp = Resp::read(tpp.http.post(&url).form(&[("access_token", at.as_str())]).send().await.expect("POST userinfo")).await;
    assert_eq!(resp.status, 401, "access_token in a form body (RS-02): {resp}");
}

#[tokio::test]
async fn fapi2_sp_rs_03_tampered_and_unknown_access_tokens_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-mtls-2");
    let at = user_access_token(&env, &tpp).await;
    let url = env.endpoint(&tpp, "userinfo");
    let mut tampered = at.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (token, what) in [(tampered.as_str(), "tampered signature"), ("not-a-token", "unknown token")] {
        let resp = userinfo_with(&env, &tpp.http, &url, Some(&format!("Bearer {token}")), None).await;
        resp.assert_error(401, &["invalid_token"], &format!("{what} (RS-03)"));
    }
    // An access token revoked through RFC 7009 is refused at once (REV-06).
    env.revoke(&tpp, &at, Some("access_token")).await.assert_status(200, "revoke the AT");
    let resp = userinfo_with(&env, &tpp.http, &url, Some(&format!("Bearer {at}")), None).await;
    resp.assert_error(401, &["invalid_token"], "revoked access token (RS-03, REV-06)");
}

// ---------------------------------------------------------------------------------------------
// Revocation and introspection (REV-02..REV-04, INT-01, INT-03)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rev_02_revoking_another_clients_token_does_not_revoke_it() {
    let env = TestEnv::shared().await;
    let owner = env.tpp("pkjwt-mtls-1");
    let resp = env.client_credentials(&owner).await;
    resp.assert_status(200, "client_credentials");
    let at = resp.json["access_token"].as_str().expect("AT").to_owned();
    let other = env.tpp("pkjwt-mtls-2");
    let resp = env.revoke(&other, &at, None).await;
    assert!(
        resp.status == 200 || (resp.status == 400 && resp.error() == Some("unauthorized_client")),
        "revoking another client's token: 200 or 400 unauthorized_client (REV-02), got {resp}"
    );
    let intro = env.introspect(&owner, &at).await;
    assert_eq!(intro.json["active"], json!(true), "the token stays active (REV-02): {intro}");
}

#[tokio::test]
async fn rev_03_04_unknown_token_and_unsupported_hint() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-2");
    env.revoke(&tpp, "no-such-token", None).await.assert_status(200, "revoking an unknown token (REV-03)");
    env.revoke(&tpp, "no-such-token", Some("authorization_code")).await.assert_error(400, &["unsupported_token_type"], "unsupported token_type_hint (REV-04)");
}

#[tokio::test]
async fn int_01_03_introspection_authenticates_and_hides_inactive_tokens() {
    let env = TestEnv::shared().await;
    let owner = env.tpp("pkjwt-mtls-1");
    let resp = env.client_credentials(&owner).await;
    let at = resp.json["access_token"].as_str().unwrap_or_else(|| panic!("client_credentials: {resp}")).to_owned();
    // Another client sees nothing (INT-03).
    let other = env.tpp("tls-mtls-1");
    assert_eq!(env.introspect(&other, &at).await.json, json!({ "active": false }), "another client's token is inactive to it");
    assert_eq!(env.introspect(&owner, "garbage").await.json, json!({ "active": false }), "unknown token");
    // No client authentication (INT-01).
    let resp = Resp::read(env.http.post(env.tls_url("introspect")).form(&[("token", at.as_str())]).send().await.expect("POST introspect")).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "introspection without client authentication (INT-01)");
    // No token parameter.
    let url = env.endpoint(&owner, "introspect");
    let form = owner.auth_params(&env.issuer);
    env.post_form(&owner, &url, &form, HeaderMap::new()).await.assert_error(400, &["invalid_request"], "introspection without token (INT-01)");
}

// ---------------------------------------------------------------------------------------------
// Network and HTTP (NET-09, NET-11, PAR-02, RFC 6749 §3.1, robustness)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fapi2_sp_net_11_no_cors_on_authorize() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let browser = env.browser();
    let url = browser.authorize_url(&tpp.client_id, &request_uri);
    let preflight = Resp::read(
        browser
            .client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("OPTIONS authorize"),
    )
    .await;
    let get = Resp::read(browser.client.get(&url).header("origin", "https://evil.example").send().await.expect("GET authorize")).await;
    get.assert_status(200, "authorization page");
    for (what, resp) in [("OPTIONS preflight", &preflight), ("GET with Origin", &get)] {
        let cors: Vec<_> = resp.headers.keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
        assert!(cors.is_empty(), "{what}: no CORS headers on the authorization endpoint (NET-11), got {cors:?}: {resp}");
    }
    assert!(preflight.status >= 400, "the preflight is not approved: {preflight}");
}

#[tokio::test]
async fn fapi2_sp_net_09_hsts_on_authorize() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let browser = env.browser();
    let login = browser.open_authorize(&tpp.client_id, &request_uri).await;
    let error = browser.get(&format!("{}/authorize", env.issuer)).await;
    for (what, resp) in [("login page", &login), ("error page", &error)] {
        let hsts = resp.header("strict-transport-security").unwrap_or_else(|| panic!("{what}: no HSTS header (NET-09): {resp}"));
        let max_age: u64 = hsts
            .split(';')
            .find_map(|d| d.trim().strip_prefix("max-age="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{what}: HSTS without max-age: {hsts}"));
        assert!(max_age > 0, "{what}: HSTS max-age > 0 (NET-09): {hsts}");
    }
}

#[tokio::test]
async fn par_02_get_par_is_405() {
    let env = TestEnv::shared().await;
    for (method, name) in [(reqwest::Method::GET, "par"), (reqwest::Method::PUT, "par"), (reqwest::Method::GET, "token"), (reqwest::Method::DELETE, "token")] {
        let resp = Resp::read(env.http.request(method.clone(), env.tls_url(name)).send().await.expect("request")).await;
        assert_eq!(resp.status, 405, "{method} /{name} (PAR-02): {resp}");
        assert!(resp.header("access-control-allow-origin").is_none(), "no CORS: {resp}");
    }
}

#[tokio::test]
async fn rfc6749_3_1_repeated_parameter_refused() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let req = AuthRequest::new(FULL_SCOPE);
    let mut form = tpp.auth_params(&env.issuer);
    form.extend(req.params());
    form.push(("scope".into(), "openid".into()));
    env.post_form(&tpp, &env.endpoint(&tpp, "par"), &form, HeaderMap::new()).await.assert_error(400, &["invalid_request"], "PAR with scope twice (RFC 6749 §3.1)");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "tls-mtls-1"), ("grant_type", "client_credentials")]);
    env.post_form(&tpp, &env.endpoint(&tpp, "token"), &form, HeaderMap::new()).await.assert_error(400, &["invalid_request"], "token request with grant_type twice (RFC 6749 §3.1)");
    let form = owned(&[("grant_type", "client_credentials"), ("client_id", "tls-mtls-1"), ("client_id", "tls-mtls-2")]);
    env.post_form(&tpp, &env.endpoint(&tpp, "token"), &form, HeaderMap::new()).await.assert_error_in(&[400, 401], &["invalid_request", "invalid_client"], "token request with two client_ids");
}

/// No malformed input ever makes the server answer 5xx (or drop the request).
#[tokio::test]
async fn robustness_garbage_bodies_never_5xx() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let form_type = "application/x-www-form-urlencoded";
    let huge = "a".repeat(200 * 1024);
    let long_assertion = format!(
        "grant_type=client_credentials&client_id=pkjwt-dpop-1&client_assertion_type={}&client_assertion={}",
        ASSERTION_TYPE,
        "eyJhbGciOiJFUzI1NiJ9.".repeat(4000)
    );
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (Some(form_type), b"".to_vec()),
        (Some(form_type), b"%%%".to_vec()),
        (Some(form_type), b"a=%ff%fe&b=%".to_vec()),
        (Some(form_type), b"a=\xff\xfe\x00&grant_type=\xc3".to_vec()),
        (Some(form_type), b"=&=&&==&grant_type=".to_vec()),
        (Some(form_type), format!("grant_type=authorization_code&code={}", "A".repeat(20_000)).into_bytes()),
        (Some(form_type), b"grant_type=client_credentials&client_id=pkjwt-dpop-1&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c".to_vec()),
        (Some(form_type), b"grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOjF9.AAAA".to_vec()),
        (Some(form_type), long_assertion.into_bytes()),
        (Some(form_type), b"client_id=tls-mtls-1&response_type=code&scope=openid&redirect_uri=%00&code_challenge=%FF&claims=%7B%7B&max_age=-1&dpop_jkt=%00".to_vec()),
        (Some(form_type), b"interaction_id=x&csrf_token=y&username=alice&password=z&decision=approve".to_vec()),
        (Some(form_type), b"interaction_id=aaaaaaaaaaaaaaa%C3%A9%C3%A9&csrf_token=%C3%A9&username=%00&password=%FF&decision=%C3%A9".to_vec()),
        (Some(form_type), huge.clone().into_bytes()),
        (Some("application/json"), br#"{"grant_type":"client_credentials","client_id":"tls-mtls-1"}"#.to_vec()),
        (Some("application/x-www-form-urlencoded; charset=utf-16"), b"\xff\xfeg\x00".to_vec()),
        (Some("text/plain"), b"\x00\x00\x00".to_vec()),
        (Some("multipart/form-data; boundary=x"), b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--".to_vec()),
        (None, b"garbage".to_vec()),
    ];
    let mut endpoints = Vec::new();
    for name in ["par", "token", "introspect", "revoke", "userinfo", "login", "consent"] {
        endpoints.push((env.http.clone(), env.tls_url(name)));
    }
    for name in ["par", "token", "introspect", "revoke", "userinfo"] {
        endpoints.push((tpp.http.clone(), env.mtls_url(name)));
    }
    let mut failures = Vec::new();
    for (client, url) in &endpoints {
        for (content_type, body) in &bodies {
            let mut req = client.post(url).body(body.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", *ct);
            }
            let label = format!("POST {url} [{}] {:?}", content_type.unwrap_or("-"), String::from_utf8_lossy(&body[..body.len().min(60)]));
            match req.send().await {
                Ok(r) => {
                    let resp = Resp::read(r).await;
                    if resp.status >= 500 {
                        failures.push(format!("{label}: {resp}"));
                    }
                }
                // A server may close the connection after refusing an oversized body early.
                Err(e) if body.len() > 64 * 1024 => eprintln!("{label}: transport error after an oversized body: {e}"),
                Err(e) => failures.push(format!("{label}: transport error {e}")),
            }
        }
    }
    // Garbage headers and queries.
    let junk_headers: Vec<(&str, String)> = vec![
        ("authorization", "DPoP".into()),
        ("authorization", "DPoP  ".into()),
        ("authorization", format!("Bearer {}", "x".repeat(10_000))),
        ("authorization", "Basic %%%".into()),
        ("dpop", "a.b.c".into()),
        ("dpop", "..".into()),
        ("dpop", format!("{}.{}.", "eyJ".repeat(3000), "e30")),
        ("client-cert", ":AAAA:".into()),
    ];
    for (name, value) in &junk_headers {
        for url in [env.tls_url("userinfo"), env.tls_url("token"), env.tls_url("par")] {
            let r = env.http.post(&url).header(*name, value.as_str()).form(&[("grant_type", "client_credentials"), ("client_id", "pkjwt-dpop-1")]).send().await;
            match r {
                Ok(r) => {
                    let resp = Resp::read(r).await;
                    if resp.status >= 500 {
                        failures.push(format!("POST {url} with {name}: {resp}"));
                    }
                }
                Err(e) => failures.push(format!("POST {url} with {name}: transport error {e}")),
            }
        }
    }
    let queries = [
        "".to_owned(),
        "request_uri=&client_id=".to_owned(),
        format!("client_id=pkjwt-dpop-1&request_uri={REQUEST_URI_PREFIX}{}", "x".repeat(5000)),
        format!("client_id=%FF%FE&request_uri={REQUEST_URI_PREFIX}%00"),
        "client_id=pkjwt-dpop-1&client_id=tls-mtls-1&request_uri=a&request_uri=b".to_owned(),
        "%%%&&==".to_owned(),
        "interaction_id=aaaaaaaaaaaaaaa%C3%A9%C3%A9".to_owned(),
        format!("interaction_id={}", "x".repeat(65)),
    ];
    for q in &queries {
        for path in ["authorize", "consent"] {
            let url = format!("{}/{path}?{q}", env.issuer);
            match env.http.get(&url).send().await {
                Ok(r) => {
                    let resp = Resp::read(r).await;
                    if resp.status >= 500 {
                        failures.push(format!("GET {url}: {resp}"));
                    }
                }
                Err(e) => failures.push(format!("GET {url}: transport error {e}")),
            }
        }
    }
    for path in ["/", "/default", "/default/nope/token", "/nope/fapi2/token", "/.well-known/oauth-authorization-server/nope/nope", "/default/fapi2/../../etc/passwd"] {
        let url = format!("{}{path}", env.info.base_url);
        match env.http.get(&url).send().await {
            Ok(r) => {
                let resp = Resp::read(r).await;
                if resp.status >= 500 {
                    failures.push(format!("GET {url}: {resp}"));
                }
            }
            Err(e) => failures.push(format!("GET {url}: transport error {e}")),
        }
    }
    assert!(failures.is_empty(), "server errors or dropped requests on malformed input:\n{}", failures.join("\n"));
    // The oversized body was answered 413 (PAR-07), not silently truncated and processed.
    let resp = Resp::read(env.http.post(env.tls_url("par")).header("content-type", form_type).body(huge).send().await.expect("POST huge PAR")).await;
    assert_eq!(resp.status, 413, "oversized PAR body (PAR-07): {resp}");
}

/// RFC 6749 §5.2 (OA-02): when a client tried to authenticate with the Authorization header,
/// the 401 `invalid_client` MUST carry a `WWW-Authenticate` challenge for the scheme it used.
#[tokio::test]
async fn oa_02_http_basic_refusal_carries_www_authenticate() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.tls_url("token");
    let form = owned(&[("grant_type", "client_credentials")]);
    let mut headers = dpop_header(&tpp.dpop_proof("POST", &url, None, None));
    headers.insert("authorization", header(&format!("Basic {}", base64_std(b"pkjwt-dpop-1:s3cret"))));
    let resp = env.post_form(&tpp, &url, &form, headers).await;
    resp.assert_error(401, CLIENT_AUTH_REFUSAL, "client_secret_basic (AS-06)");
    let challenge = resp.www_authenticate().unwrap_or_else(|| panic!("401 invalid_client after HTTP Basic without WWW-Authenticate (RFC 6749 §5.2, OA-02): {resp}"));
    assert!(challenge.to_ascii_lowercase().starts_with("basic"), "the challenge matches the scheme the client used (Basic): {resp}");
}

/// OpenID Connect Core §3.1.2.1: with `prompt=none` the server MUST NOT show any login or
/// consent page; without a session it answers `login_required` at the (validated) redirect
/// URI, with `iss` (RFC 9207) and `state`.
#[tokio::test]
async fn oidc_prompt_none_without_session_is_login_required() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let mut req = AuthRequest::new(FULL_SCOPE);
    req.extra.push(("prompt".into(), "none".into()));
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let resp = env.browser().open_authorize(&tpp.client_id, &request_uri).await;
    assert!(!resp.body.contains("name=\"password\""), "prompt=none must not show the login page (OIDC Core §3.1.2.1): {resp}");
    let location = resp.header("location").unwrap_or_else(|| panic!("prompt=none without a session: expected a redirect with error=login_required: {resp}"));
    let callback = Callback(location.to_owned());
    let q = callback.query();
    assert_eq!(callback.without_query(), DEFAULT_REDIRECT_URIS[0], "{resp}");
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "{resp}");
    assert_eq!(q.get("iss").map(String::as_str), Some(env.issuer.as_str()), "{resp}");
    assert_eq!(q.get("state"), req.state.as_ref(), "{resp}");
}

/// The login and consent forms are bound to the browser that opened the authorization page
/// (cookie) and carry a CSRF token: another browser, or a wrong token, gets an error page.
#[tokio::test]
async fn interaction_is_bound_to_the_browser_and_csrf_token() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-2");
    let par = env.push(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let victim = env.browser();
    let page = victim.open_authorize(&tpp.client_id, &request_uri).await;
    page.assert_status(200, "login page");
    let form = parse_form(&page.body).expect("login form");
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), DEFAULT_USER.into()));
    fields.push(("password".into(), DEFAULT_PASSWORD.into()));

    let attacker = env.browser();
    let resp = attacker.post(&form.action, &fields).await;
    assert!(resp.status == 400 && resp.header("location").is_none(), "login form posted from another browser is refused: {resp}");

    let mut wrong_csrf: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "csrf_token").cloned().collect();
    wrong_csrf.push(("csrf_token".into(), "forged".into()));
    let resp = victim.post(&form.action, &wrong_csrf).await;
    assert!(resp.status == 400 && resp.header("location").is_none(), "login form with a wrong csrf_token is refused: {resp}");

    let mut wrong_password: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "password").cloned().collect();
    wrong_password.push(("password".into(), "wrong-password".into()));
    let resp = victim.post(&form.action, &wrong_password).await;
    assert!(resp.status == 401 && resp.header("location").is_none(), "a wrong password gets the login page again, no session: {resp}");

    // Control: the victim's own browser signs in and consents.
    let callback = victim.continue_from_login(&page, true).await;
    assert!(callback.query().contains_key("code"), "{}", callback.0);
}

/// FAPI2-SP-NET-01: nothing is served over plain HTTP.
#[tokio::test]
async fn fapi2_sp_net_01_plain_http_not_served() {
    let env = TestEnv::shared().await;
    let plain = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).no_proxy().build().expect("client");
    for addr in [env.info.tls_addr, env.info.mtls_addr] {
        let url = format!("http://{addr}/default/fapi2/.well-known/openid-configuration");
        match plain.get(&url).send().await {
            Err(_) => {}
            Ok(r) => {
                let resp = Resp::read(r).await;
                assert!(resp.status >= 400 && resp.json.get("issuer").is_none(), "plain HTTP must not be answered with content (NET-01): {resp}");
            }
        }
    }
}

/// FAPI2-SP-AS-14 / MD-04: every advertised DPoP algorithm is accepted (what is advertised
/// is what is enforced), and nothing else is.
#[tokio::test]
async fn md_04_advertised_dpop_algorithms_are_accepted() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let url = env.endpoint(&tpp, "token");
    let doc = env.discovery().await;
    let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap_or_else(|| panic!("dpop_signing_alg_values_supported: {doc}")).clone();
    for alg in algs {
        let name = alg.as_str().expect("alg name");
        assert!(["PS256", "ES256", "EdDSA"].contains(&name), "only FAPI 2.0 algorithms are advertised (CR-02): {name}");
        let alg: fapilab_jose::Algorithm = name.parse().expect("known algorithm");
        let key = fapilab_jose::SigningKey::generate(alg, None).expect("key");
        let proof = dpop_proof_with(&key, "POST", &url, None, None, fapilab_jose::now(), &fapilab_jose::random_token(16));
        let resp = cc_with_dpop(&env, &tpp, &proof).await;
        resp.assert_status(200, &format!("a DPoP proof with the advertised alg {name}"));
        assert_eq!(jwt_parts(resp.json["access_token"].as_str().expect("AT")).1["cnf"]["jkt"], json!(key.public_jwk().thumbprint()), "bound to the {name} key");
    }
}

/// RFC 6749 §6: a refresh token works only for the client it was issued to, and a DPoP
/// client's refresh needs a proof (DP-T-03).
#[tokio::test]
async fn rfc6749_6_refresh_token_of_another_client_refused() {
    let env = TestEnv::shared().await;
    let owner = env.tpp("pkjwt-dpop-1");
    let (_, tokens) = env.tokens(&owner, &AuthRequest::new(OAUTH_SCOPE)).await;
    let rt = tokens["refresh_token"].as_str().expect("refresh_token");
    for thief in ["pkjwt-dpop-2", "tls-mtls-1"] {
        let thief = env.tpp(thief);
        env.refresh(&thief, rt).await.assert_error(400, &["invalid_grant"], &format!("refresh token of pkjwt-dpop-1 used by {} (RFC 6749 §6)", thief.client_id));
    }
    let resp = env.token_with_headers(&owner, &[("grant_type", "refresh_token"), ("refresh_token", rt)], HeaderMap::new()).await;
    resp.assert_error(400, &["invalid_dpop_proof", "invalid_request"], "DPoP client refreshing without a proof (DP-T-03, AS-04)");
    env.refresh(&owner, rt).await.assert_status(200, "control: the owner with its proof");
}

/// INT-01/INT-02: the resource server's client introspects any token of the workspace and
/// sees the binding; it never gets tokens itself (AS-04).
#[tokio::test]
async fn int_02_resource_server_introspects_and_gets_no_tokens() {
    let env = TestEnv::shared().await;
    let client = env.tpp("tls-dpop-2");
    let resp = env.client_credentials(&client).await;
    resp.assert_status(200, "client_credentials");
    let at = resp.json["access_token"].as_str().expect("AT");
    let rs = env.tpp("bank");
    let intro = env.introspect(&rs, at).await;
    intro.assert_status(200, "introspection by the resource server");
    assert_eq!(intro.json["active"], json!(true), "{intro}");
    assert_eq!(intro.json["cnf"], json!({ "jkt": client.dpop_jkt() }), "{intro}");
    assert_eq!(intro.json["token_type"], json!("DPoP"), "{intro}");
    let resp = env.client_credentials(&rs).await;
    resp.assert_error(400, &["unauthorized_client", "invalid_request", "invalid_dpop_proof"], "the resource server asks for a token");
    assert!(resp.json.get("access_token").is_none(), "{resp}");
}

/// OA-01: token-endpoint errors are JSON and not cached.
#[tokio::test]
async fn oa_01_token_errors_are_json_and_not_cached() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let resp = env.token(&tpp, &[("grant_type", "authorization_code"), ("code", "nope"), ("redirect_uri", DEFAULT_REDIRECT_URIS[0]), ("code_verifier", &pkce_pair().verifier)]).await;
    resp.assert_error(400, &["invalid_grant"], "unknown code");
    assert!(resp.header("content-type").is_some_and(|c| c.starts_with("application/json")), "JSON error (OA-01): {resp}");
    assert_eq!(resp.header("cache-control"), Some("no-store"), "no-store on token errors (OA-01): {resp}");
}

/// RFC 6750 §3.1 (OA-05) and RFC 9449 §7.1 (DP-R-03): a request without any access token
/// gets 401 with challenges that carry no error code, including a `DPoP` challenge with
/// `algs` (UserInfo accepts DPoP-bound tokens).
#[tokio::test]
async fn oa_05_dp_r_03_missing_token_challenges_without_error_code() {
    let env = TestEnv::shared().await;
    let resp = userinfo_with(&env, &env.http, &env.tls_url("userinfo"), None, None).await;
    assert_eq!(resp.status, 401, "userinfo without a token: {resp}");
    let challenges: Vec<String> = resp.headers.get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    assert!(!challenges.is_empty(), "a challenge (RFC 6750 §3): {resp}");
    assert!(
        challenges.iter().all(|c| !c.contains("error=")),
        "no error code when the request carried no token (RFC 6750 §3.1, OA-05); got {challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.to_ascii_lowercase().starts_with("dpop") && c.contains("algs=")),
        "a DPoP challenge with algs (RFC 9449 §7.1, DP-R-03); got {challenges:?}"
    );
}

/// FAPI2-SP-AZ-09: concurrent redemptions of one code yield at most one set of tokens.
#[tokio::test]
async fn fapi2_sp_az_09_concurrent_code_redemption_succeeds_at_most_once() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("tls-mtls-1");
    let grant = env.authorize(&tpp, &AuthRequest::new(OAUTH_SCOPE)).await;
    let attempts: Vec<_> = (0..6).map(|_| env.redeem(&tpp, &grant)).collect();
    let results = futures_join_all(attempts).await;
    let ok: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert!(ok.len() <= 1, "a code redeemed concurrently issued {} token responses (AZ-09): {}", ok.len(), ok.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"));
    for r in results.iter().filter(|r| r.status != 200) {
        r.assert_error(400, &["invalid_grant"], "concurrent second redemption (AZ-09)");
    }
}

/// Polls the futures to completion concurrently (a tiny `join_all`).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<Option<_>> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, slot) in handles.iter_mut().enumerate() {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => {
                        outputs[i] = Some(out);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("completed")).collect()
}

/// JWT access tokens carry their own record (nothing is stored per token): a token with the
/// same claims signed by another key, or one of ours whose claims were edited, must not be
/// taken for ours (JAT-03, FAPI2-SP-RS-03); revocation marks the token (REV-06).
#[tokio::test]
async fn jat_03_self_contained_access_tokens_are_verified_and_revocable() {
    let env = TestEnv::shared().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let bank = env.tpp("bank");
    let cc = env.client_credentials(&tpp).await;
    cc.assert_status(200, "client_credentials");
    let token = cc.json["access_token"].as_str().expect("access token").to_owned();
    let introspected = env.introspect(&bank, &token).await;
    assert_eq!(introspected.json["active"], true, "{introspected}");
    assert_eq!(introspected.json["sub"], json!(tpp.client_id), "{introspected}");

    let jws = fapilab_jose::jws::CompactJws::parse(&token).expect("JWT access token");
    let claims = Value::Object(jws.claims().expect("claims"));
    let header = Value::Object(jws.header().clone());
    let stranger = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, jws.kid().map(str::to_owned)).expect("key");
    let forged = sign_raw(&stranger, &header, &claims);
    assert_eq!(env.introspect(&bank, &forged).await.json["active"], false, "signed by another key");
    let mut widened = claims.clone();
    widened["scope"] = json!("accounts payments");
    let parts: Vec<&str> = token.split('.').collect();
    let edited = format!("{}.{}.{}", parts[0], fapilab_jose::b64::encode(widened.to_string().as_bytes()), parts[2]);
    assert_eq!(env.introspect(&bank, &edited).await.json["active"], false, "edited claims");
    env.userinfo(&tpp, &forged).await.assert_error(401, &["invalid_token"], "forged token at userinfo");

    env.revoke(&tpp, &token, Some("access_token")).await.assert_status(200, "revocation");
    assert_eq!(env.introspect(&bank, &token).await.json["active"], false, "REV-06: revoked");
    // The same signature in its other ECDSA encoding (s -> n - s) is still the revoked token.
    let respelled = format!("{}.{}.{}", parts[0], parts[1], fapilab_jose::b64::encode(&other_ecdsa_encoding(&fapilab_jose::b64::decode(parts[2]).expect("signature"))));
    assert_ne!(respelled, token);
    assert_eq!(env.introspect(&bank, &respelled).await.json["active"], false, "REV-06: revocation follows the jti, not the token text");
}

/// The P-256 signature `r || s` as `r || (n - s)`, which verifies just as well.
fn other_ecdsa_encoding(signature: &[u8]) -> Vec<u8> {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e,
        0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    ];
    let (r, s) = signature.split_at(32);
    let mut out = r.to_vec();
    let mut negated = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = N[i] as i16 - s[i] as i16 - borrow;
        borrow = if d < 0 { 1 } else { 0 };
        if d < 0 {
            d += 256;
        }
        negated[i] = d as u8;
    }
    out.extend_from_slice(&negated);
    out
}

/// Ten wrong passwords within 15 minutes lock the account's password (the right one too) for
/// the rest of the window, and an identifier that names nobody locks the same way — the lock
/// says nothing about who exists. Another account is not affected.
#[tokio::test]
async fn wrong_passwords_lock_the_password_for_a_while() {
    let mut config = base_config(&unique_dir("lockout"));
    let users = &mut config.tenants[0].workspaces[0].users;
    if users.is_empty() {
        users.push(fapilab_server::config::UserConfig { username: DEFAULT_USER.into(), password: DEFAULT_PASSWORD.into(), name: None, email: None });
    }
    users.push(fapilab_server::config::UserConfig { username: "bob".into(), password: "bob-builder-2026".into(), name: None, email: None });
    let env = TestEnv::start_with(config).await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new("openid accounts")).await;
    let browser = env.browser();
    let page = browser.open_authorize(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri")).await;
    let form = parse_form(&page.body).expect("login form");
    let attempt = |username: &str, password: &str| {
        let mut fields = form.hidden.clone();
        fields.push(("username".into(), username.into()));
        fields.push(("password".into(), password.into()));
        let (browser, action) = (&browser, form.action.clone());
        async move { browser.post(&action, &fields).await }
    };
    for who in [DEFAULT_USER, "nobody-at-all"] {
        for i in 0..10 {
            let resp = attempt(who, "wrong-password").await;
            assert!(resp.status == 401 && resp.body.contains("not right"), "{who}: wrong password {i}: {resp}");
        }
        let locked = attempt(who, if who == DEFAULT_USER { DEFAULT_PASSWORD } else { "anything" }).await;
        assert!(locked.status == 401 && locked.body.contains("Too many wrong passwords"), "{who}: locked: {locked}");
    }
    attempt("bob", "bob-builder-2026").await.assert_status(303, "another account is not locked");
}
