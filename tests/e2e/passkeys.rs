//! Passkeys through the real server over TLS: a password sign-in, the account page, a passkey
//! registered there with a software authenticator, then a usernameless passkey sign-in that
//! ends in tokens whose ID token says how the user signed in (`amr` `hwk` + `user`, `acr` by
//! method, INT-PK-01); replays, CSRF, removal, and the account page's own sign-in. Real
//! browsers (Chromium's virtual authenticator) are in `browser.rs`; the harness's plan is
//! `scenarios/passkeys`.

use fapilab_conformance::passkey::authenticator::SoftAuthenticator;
use serde_json::{Value, json};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::support::*;

const PASSWORD_ACR: &str = "urn:fapilab:acr:password";
const PASSKEY_ACR: &str = "urn:fapilab:acr:passkey";

/// The harness's discoverable software authenticator, answering for the server's origin.
struct Authenticator {
    inner: SoftAuthenticator,
    origin: String,
}

impl Authenticator {
    fn new(issuer: &str) -> Authenticator {
        let origin = issuer.split('/').take(3).collect::<Vec<_>>().join("/");
        Authenticator { inner: SoftAuthenticator::new(), origin }
    }

    fn create(&mut self, options: &Value) -> String {
        let options: CreationChallengeResponse = serde_json::from_value(options.clone()).expect("creation options");
        let (made, _) = self.inner.register(&self.origin, options).expect("the authenticator registers");
        serde_json::to_string(&made).expect("json")
    }

    fn get(&mut self, options: &Value) -> String {
        let options: RequestChallengeResponse = serde_json::from_value(options.clone()).expect("request options");
        assert!(options.public_key.allow_credentials.is_empty(), "usernameless: no allowCredentials (AUTH-OPT-02)");
        let made = self.inner.authenticate(&self.origin, options, None).expect("the authenticator signs");
        serde_json::to_string(&made).expect("json")
    }
}

/// The value of the first hidden input called `name`.
fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no hidden {name} in {html}")) + needle.len();
    html[start..start + html[start..].find('"').expect("closing quote")].to_owned()
}

fn config() -> fapilab_server::config::Config {
    let mut config = base_config(&unique_dir("passkeys"));
    let ws = &mut config.tenants[0].workspaces[0];
    ws.acr_values = vec![PASSWORD_ACR.into(), PASSKEY_ACR.into()];
    ws.acr_by_method.passkey = Some(PASSKEY_ACR.into());
    config
}

/// A fresh browser's authorization: the login page's interaction, and what redeeming needs.
struct Started {
    browser: Browser,
    req: AuthRequest,
    par: Resp,
    login: Resp,
    interaction_id: String,
    csrf_token: String,
}

async fn start(env: &TestEnv, tpp: &Tpp) -> Started {
    start_with(env, tpp, AuthRequest::new("openid accounts"), env.browser()).await
}

async fn start_with(env: &TestEnv, tpp: &Tpp, req: AuthRequest, browser: Browser) -> Started {
    let par = env.push(tpp, &req).await;
    let login = browser.open_authorize(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri")).await;
    login.assert_status(200, "login page");
    assert!(login.body.contains("id=\"passkey-login\"") && login.body.contains("/passkey.js\""), "the login page offers passkeys: {login}");
    Started { interaction_id: hidden(&login.body, "interaction_id"), csrf_token: hidden(&login.body, "csrf_token"), login, browser, req, par }
}

impl Started {
    async fn options(&self, env: &TestEnv) -> Value {
        let fields = [("interaction_id".to_owned(), self.interaction_id.clone()), ("csrf_token".to_owned(), self.csrf_token.clone())];
        let options = self.browser.post(&env.tls_url("passkey/options"), &fields).await;
        options.assert_status(200, "passkey sign-in options");
        assert_eq!(options.header("cache-control"), Some("no-store"));
        options.json
    }

    async fn sign_in(&self, env: &TestEnv, credential: &str) -> Resp {
        let fields = [
            ("interaction_id".to_owned(), self.interaction_id.clone()),
            ("csrf_token".to_owned(), self.csrf_token.clone()),
            ("credential".to_owned(), credential.to_owned()),
        ];
        self.browser.post(&env.tls_url("passkey/login"), &fields).await
    }

    /// Consent after a successful sign-in; the ID token's claims, and the browser (signed in).
    async fn finish(self, env: &TestEnv, tpp: &Tpp, signed_in: &Resp) -> (Value, Browser) {
        signed_in.assert_status(303, "passkey sign-in (INT-PK-02: 303)");
        let consent = self.browser.get(signed_in.header("location").expect("Location")).await;
        let callback = self.browser.decide(&consent, true).await;
        let grant = CodeGrant {
            code: callback.query()["code"].clone(),
            verifier: self.req.pkce.verifier.clone(),
            redirect_uri: self.req.redirect_uri.clone(),
            request_uri: self.par.json["request_uri"].as_str().unwrap_or_default().to_owned(),
            callback,
            par: self.par,
        };
        let tokens = env.redeem(tpp, &grant).await;
        tokens.assert_status(200, "tokens");
        (Value::Object(jwt_parts(tokens.json["id_token"].as_str().expect("id_token")).1), self.browser)
    }
}

async fn account_form(browser: &Browser, env: &TestEnv, path: &str, fields: &[(&str, &str)]) -> Resp {
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    browser.post(&env.tls_url(path), &fields).await
}

#[tokio::test]
async fn a_passkey_added_on_the_account_page_signs_in_without_a_username() {
    let env = TestEnv::start_with(config()).await;
    let tpp = env.tpp("pkjwt-dpop-1");

    // A password sign-in first: amr pwd, the password acr.
    let first = start(&env, &tpp).await;
    let after = first.browser.submit_login(&first.login).await;
    let (claims, browser) = first.finish(&env, &tpp, &after).await;
    assert_eq!((claims["amr"].clone(), claims["acr"].clone()), (json!(["pwd"]), json!(PASSWORD_ACR)), "{claims}");

    // The account page, signed in.
    let page = browser.get(&env.tls_url("account")).await;
    page.assert_status(200, "account page");
    assert!(page.body.contains("You have no passkeys yet") && page.body.contains("id=\"passkey-register\""), "{page}");
    let csrf = hidden(&page.body, "csrf_token");
    account_form(&browser, &env, "account/passkeys/options", &[("csrf_token", "wrong")]).await.assert_status(400, "PK-05: a wrong CSRF token");
    let options = account_form(&browser, &env, "account/passkeys/options", &[("csrf_token", &csrf)]).await;
    options.assert_status(200, "creation options");
    assert_eq!(options.json["publicKey"]["authenticatorSelection"]["residentKey"], "required", "PK-01: {}", options.json);
    assert_eq!(options.json["publicKey"]["rp"]["id"], "localhost", "REG-OPT-02");
    let mut authenticator = Authenticator::new(&env.issuer);
    let credential = authenticator.create(&options.json);
    let added = account_form(&browser, &env, "account/passkeys", &[("csrf_token", &csrf), ("name", "Laptop <1>"), ("credential", &credential)]).await;
    added.assert_status(303, "registered");
    assert_eq!(added.header("location"), Some(env.tls_url("account").as_str()));
    let again = account_form(&browser, &env, "account/passkeys", &[("csrf_token", &csrf), ("name", "Laptop"), ("credential", &credential)]).await;
    again.assert_status(400, "REG-03: a registration response works once");
    assert!(again.body.contains("REG-03") && again.body.contains("role=\"alert\""), "{again}");
    let page = browser.get(&env.tls_url("account")).await;
    assert!(page.body.contains("<strong>Laptop &lt;1&gt;</strong>") && page.body.contains("data-passkey-id="), "escaped name, listed: {page}");

    // A new browser, no session: the passkey alone signs in, amr hwk + user, the passkey acr.
    let second = start(&env, &tpp).await;
    let assertion = authenticator.get(&second.options(&env).await);
    let signed_in = second.sign_in(&env, &assertion).await;
    let (claims, _) = second.finish(&env, &tpp, &signed_in).await;
    assert_eq!((claims["amr"].clone(), claims["acr"].clone()), (json!(["hwk", "user"]), json!(PASSKEY_ACR)), "INT-PK-01: {claims}");
    let last_used = browser.get(&env.tls_url("account")).await;
    assert!(last_used.body.contains("last used"), "AUTH-11: the use is recorded: {last_used}");

    // An essential acr only a passkey reaches (OIDC §5.5.1.1): the password session is not
    // reused, a password sign-in ends in unmet_authentication_requirements, a passkey in a code.
    let essential = || {
        let mut req = AuthRequest::new("openid accounts");
        req.extra.push(("claims".into(), json!({ "id_token": { "acr": { "essential": true, "value": PASSKEY_ACR } } }).to_string()));
        req
    };
    let browser = start_with(&env, &tpp, essential(), browser).await.browser;
    let by_password = start_with(&env, &tpp, essential(), env.browser()).await;
    let after = by_password.browser.submit_login(&by_password.login).await;
    after.assert_status(303, "signed in with the password");
    let consent = by_password.browser.get(after.header("location").expect("Location")).await;
    let refused = by_password.browser.decide(&consent, true).await;
    assert_eq!(refused.query().get("error").map(String::as_str), Some("unmet_authentication_requirements"), "{}", refused.0);
    let by_passkey = start_with(&env, &tpp, essential(), env.browser()).await;
    let signed_in = by_passkey.sign_in(&env, &authenticator.get(&by_passkey.options(&env).await)).await;
    let (claims, _) = by_passkey.finish(&env, &tpp, &signed_in).await;
    assert_eq!(claims["acr"], json!(PASSKEY_ACR), "{claims}");

    // The same assertion in another sign-in: a challenge of its own (INT-PK-03, AUTH-04).
    let third = start(&env, &tpp).await;
    third.options(&env).await;
    let replayed = third.sign_in(&env, &assertion).await;
    replayed.assert_status(401, "a replayed assertion");
    assert!(replayed.body.contains("AUTH-04") && replayed.header("set-cookie").is_none_or(|c| !c.contains("fapilab_session")), "{replayed}");
    // Without asking for options first there is nothing to answer.
    let fourth = start(&env, &tpp).await;
    fourth.sign_in(&env, &authenticator.get(&third.options(&env).await)).await.assert_status(401, "no ceremony in this interaction");

    // Removed: the passkey no longer signs in.
    let id = hidden(&page.body, "passkey_id");
    account_form(&browser, &env, "account/passkeys/remove", &[("csrf_token", "wrong"), ("passkey_id", &id)]).await.assert_status(400, "PK-05");
    account_form(&browser, &env, "account/passkeys/remove", &[("csrf_token", &csrf), ("passkey_id", &id)]).await.assert_status(303, "removed");
    account_form(&browser, &env, "account/passkeys/remove", &[("csrf_token", &csrf), ("passkey_id", &id)]).await.assert_status(404, "already gone");
    let fifth = start(&env, &tpp).await;
    let refused = fifth.sign_in(&env, &authenticator.get(&fifth.options(&env).await)).await;
    refused.assert_status(401, "a removed passkey");
    assert!(refused.body.contains("removed"), "{refused}");
}

#[tokio::test]
async fn the_account_page_signs_in_first_and_passkeys_survive_a_restart() {
    let mut env = TestEnv::start_with(config()).await;
    let browser = env.browser();
    let login = browser.get(&env.tls_url("account")).await;
    login.assert_status(200, "the login page, for the account");
    assert!(login.body.contains("Sign in to manage your passkeys"), "{login}");
    let after = browser.submit_login(&login).await;
    after.assert_status(303, "signed in");
    assert_eq!(after.header("location"), Some(env.tls_url("account").as_str()), "back to the account page");
    let page = browser.get(&env.tls_url("account")).await;
    assert!(page.body.contains(&format!("Signed in as <strong>{DEFAULT_USER}</strong>")), "{page}");
    let csrf = hidden(&page.body, "csrf_token");

    // Without a session: login_required, as JSON for the script.
    let stranger = env.browser();
    let refused = account_form(&stranger, &env, "account/passkeys/options", &[("csrf_token", &csrf)]).await;
    refused.assert_status(401, "no session");
    assert_eq!(refused.json["error"], "login_required");

    let options = account_form(&browser, &env, "account/passkeys/options", &[("csrf_token", &csrf)]).await;
    let mut authenticator = Authenticator::new(&env.issuer);
    let credential = authenticator.create(&options.json);
    account_form(&browser, &env, "account/passkeys", &[("csrf_token", &csrf), ("name", "Phone"), ("credential", &credential)]).await.assert_status(303, "registered");

    let env = env.restart().await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let started = start(&env, &tpp).await;
    let signed_in = started.sign_in(&env, &authenticator.get(&started.options(&env).await)).await;
    let (claims, _) = started.finish(&env, &tpp, &signed_in).await;
    assert_eq!(claims["amr"], json!(["hwk", "user"]), "the passkey is in the store: {claims}");
}

#[tokio::test]
async fn an_administrator_lists_and_removes_a_users_passkeys() {
    const ADMIN_TOKEN: &str = "admin-token-for-the-passkey-tests-0123456789";
    let mut config = config();
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    let env = TestEnv::start_with(config).await;
    let tpp = env.tpp("pkjwt-dpop-1");
    let first = start(&env, &tpp).await;
    let after = first.browser.submit_login(&first.login).await;
    let (claims, browser) = first.finish(&env, &tpp, &after).await;
    let subject = claims["sub"].as_str().expect("sub").to_owned();
    let page = browser.get(&env.tls_url("account")).await;
    let csrf = hidden(&page.body, "csrf_token");
    let options = account_form(&browser, &env, "account/passkeys/options", &[("csrf_token", &csrf)]).await;
    let mut authenticator = Authenticator::new(&env.issuer);
    let credential = authenticator.create(&options.json);
    account_form(&browser, &env, "account/passkeys", &[("csrf_token", &csrf), ("name", "Lost phone"), ("credential", &credential)]).await.assert_status(303, "registered");

    let admin = |method: reqwest::Method, path: String| {
        let request = env.http.request(method, format!("{}{path}", env.info.base_url)).header("authorization", format!("Bearer {ADMIN_TOKEN}"));
        async move { Resp::read(request.send().await.expect("admin call")).await }
    };
    let list_path = format!("/admin/passkeys/default/fapi2/{subject}");
    env.http.get(format!("{}{list_path}", env.info.base_url)).send().await.map(|r| r.status().as_u16()).map(|s| assert_eq!(s, 401, "no admin token")).expect("call");
    let listed = admin(reqwest::Method::GET, list_path.clone()).await;
    listed.assert_status(200, "list");
    let passkeys = listed.json["passkeys"].as_array().expect("passkeys");
    assert_eq!((passkeys.len(), passkeys[0]["name"].as_str(), passkeys[0]["backup_eligible"].as_bool()), (1, Some("Lost phone"), Some(false)), "{}", listed.json);
    assert!(passkeys[0].get("credential").is_none() && !listed.body.contains("public"), "no keys in the view: {}", listed.body);
    let id = passkeys[0]["id"].as_str().expect("id").to_owned();
    admin(reqwest::Method::DELETE, format!("{list_path}/{id}")).await.assert_status(204, "removed");
    admin(reqwest::Method::DELETE, format!("{list_path}/{id}")).await.assert_status(404, "already removed");
    admin(reqwest::Method::GET, "/admin/passkeys/default/nope/x".into()).await.assert_status(404, "no such workspace");
    let again = start(&env, &tpp).await;
    let refused = again.sign_in(&env, &authenticator.get(&again.options(&env).await)).await;
    refused.assert_status(401, "a passkey an administrator removed");
}
