//! Real-browser end-to-end tests: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/*.mjs`), against the server on loopback with real TLS. Password sign-in
//! with consent, an expired password changed on the way, and a workspace theme, each filled in
//! by label as a user would; passkey registration and sign-in with Chromium's virtual
//! authenticator (DevTools WebAuthn domain). Screenshots of every page land in
//! `target/tmp/browser-screenshots/` (test artifacts).
//!
//! Chromium and the npm package are installed by `scripts/setup-test-deps.sh`; when they are
//! missing the test fails with that instruction — it never skips.

use std::path::PathBuf;
use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

const ADMIN_TOKEN: &str = "admin-token-for-the-browser-tests-0123456789";
const CHROMIUM: &str = "/usr/bin/chromium";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require_browser() {
    let playwright = repo_root().join("tests/browser/node_modules/playwright-core/package.json");
    assert!(
        std::path::Path::new(CHROMIUM).is_file() && playwright.is_file(),
        "the browser tests need Debian's chromium ({CHROMIUM}) and playwright-core ({}): run `scripts/setup-test-deps.sh` from the repository root",
        playwright.display()
    );
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots")
}

/// Runs `tests/browser/{script}` with `config` and returns what it printed (JSON).
async fn run_script(script: &str, config: Value) -> Value {
    let dir = unique_dir("browser-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("json")).expect("write the config");
    let script = format!("tests/browser/{script}");
    let run = tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(&config_path).current_dir(repo_root()).output());
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the browser finished within 3 minutes")
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the browser flows failed:\n{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

async fn admin(env: &TestEnv, method: Method, path: &str, body: Value) -> Resp {
    let req = env.http.request(method, format!("{}{path}", env.info.base_url)).header("authorization", format!("Bearer {ADMIN_TOKEN}")).json(&body);
    Resp::read(req.send().await.expect("admin call")).await
}

#[tokio::test]
async fn chromium_signs_in_changes_an_expired_password_and_shows_the_theme() {
    require_browser();
    let mut config = base_config(&unique_dir("browser"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    config.tenants[0].workspaces[0].identity_pool = Some("retail".into());
    let env = TestEnv::start_with(config).await;
    admin(&env, Method::POST, "/admin/pools", json!({ "id": "retail", "name": "Retail" })).await.assert_status(201, "pool");
    for (email, password, expires) in [("frank@bank.example", "Frank-Password-1", None), ("dana@bank.example", "Dana-Old-Password-1", Some(1))] {
        let body = json!({ "identifiers": [{ "type": "email", "value": email }], "password": password, "password_expires_at": expires });
        admin(&env, Method::POST, "/admin/pools/retail/users", body).await.assert_status(201, email);
    }
    // A theme: the built-in one with another heading and colours.
    let mut theme = fapilab_server::theme::builtin_source();
    let login = theme.templates["login.html"].replace("<h1>Sign in</h1>", "<h1>Sign in to Acme Bank</h1>");
    theme.templates.insert("login.html".into(), login);
    theme.css.push_str("body{background:#fdf6e3}h1{color:#268bd2}");
    admin(&env, Method::PUT, "/admin/themes/default/fapi2", json!({ "templates": theme.templates, "css": theme.css })).await.assert_status(200, "theme draft");
    admin(&env, Method::POST, "/admin/themes/default/fapi2/activate", json!({})).await.assert_status(200, "activate");

    let tpp = env.tpp("pkjwt-dpop-1");
    let mut requests = Vec::new();
    let mut flows = Vec::new();
    for (name, username, password, new_password) in [
        ("password", "frank@bank.example", "Frank-Password-1", None),
        ("expired", "dana@bank.example", "Dana-Old-Password-1", Some("Dana-New-Password-2")),
    ] {
        let req = AuthRequest::new("openid accounts");
        let par = env.push(&tpp, &req).await;
        let url = env.browser().authorize_url(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri"));
        flows.push(json!({ "name": name, "url": url, "username": username, "password": password, "new_password": new_password }));
        requests.push((name, req, par));
    }
    let screenshots = screenshots();
    let config = json!({ "chromium": CHROMIUM, "screenshots": screenshots, "redirect_uri": DEFAULT_REDIRECT_URIS[0], "flows": flows });
    let results = run_script("sign-in.mjs", config).await;

    for (name, req, par) in requests {
        let result = &results[name];
        assert_eq!(result["heading"], "Sign in to Acme Bank", "{name}: the themed login page");
        let callback = Callback(result["callback"].as_str().unwrap_or_else(|| panic!("{name}: no callback: {results}")).to_owned());
        let query = callback.query();
        assert_eq!(query.get("state"), req.state.as_ref(), "{name}: state");
        assert_eq!(query.get("iss").map(String::as_str), Some(env.issuer.as_str()), "{name}: iss");
        let grant = CodeGrant {
            code: query["code"].clone(),
            verifier: req.pkce.verifier.clone(),
            redirect_uri: req.redirect_uri.clone(),
            request_uri: par.json["request_uri"].as_str().unwrap_or_default().to_owned(),
            callback: callback.clone(),
            par,
        };
        env.redeem(&tpp, &grant).await.assert_status(200, &format!("{name}: the code from the browser redeems"));
    }
    for file in ["password-1-login.png", "password-3-consent.png", "expired-2-change-password.png"] {
        let path = screenshots.join(file);
        assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000), "screenshot {} saved", path.display());
    }
}

#[tokio::test]
async fn chromium_adds_a_passkey_and_signs_in_with_it() {
    require_browser();
    let mut config = base_config(&unique_dir("browser-passkey"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    let ws = &mut config.tenants[0].workspaces[0];
    ws.identity_pool = Some("retail".into());
    ws.acr_values = vec!["urn:fapilab:acr:password".into(), "urn:fapilab:acr:passkey".into()];
    ws.acr_by_method.passkey = Some("urn:fapilab:acr:passkey".into());
    // The browser starts between the pushes and their use.
    ws.request_uri_lifetime = 300;
    let env = TestEnv::start_with(config).await;
    let pool = json!({ "id": "retail", "name": "Retail", "preferred_mechanism": "passkey" });
    admin(&env, Method::POST, "/admin/pools", pool).await.assert_status(201, "pool");
    let user = json!({ "identifiers": [{ "type": "email", "value": "grace@bank.example" }], "password": "Grace-Password-1" });
    let created = admin(&env, Method::POST, "/admin/pools/retail/users", user).await;
    created.assert_status(201, "user");
    let subject = created.json["id"].as_str().expect("user id").to_owned();

    let tpp = env.tpp("pkjwt-dpop-1");
    let mut requests = Vec::new();
    for _ in 0..2 {
        let req = AuthRequest::new("openid accounts");
        let par = env.push(&tpp, &req).await;
        let url = env.browser().authorize_url(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri"));
        requests.push((url, req, par));
    }
    let config = json!({
        "chromium": CHROMIUM, "screenshots": screenshots(), "redirect_uri": DEFAULT_REDIRECT_URIS[0],
        "account_url": env.tls_url("account"), "password_url": requests[0].0, "passkey_url": requests[1].0,
        "username": "grace@bank.example", "password": "Grace-Password-1",
    });
    let result = run_script("passkey.mjs", config).await;
    assert_eq!(result["first_button"], "Sign in with a passkey", "the pool prefers passkeys: offered first");
    assert_eq!(result["listed"], json!(["Chromium"]), "the account page lists the new passkey: {result}");
    assert_eq!(result["resident_credentials"], 1, "PK-01: a discoverable credential was made");
    let callbacks = result["callbacks"].as_array().unwrap_or_else(|| panic!("no callbacks: {result}"));
    assert_eq!(callbacks.len(), 2, "{result}");

    for ((_, req, par), (callback, amr, acr)) in requests.into_iter().zip([
        (&callbacks[0], json!(["pwd"]), "urn:fapilab:acr:password"),
        (&callbacks[1], json!(["hwk", "user"]), "urn:fapilab:acr:passkey"),
    ]) {
        let callback = Callback(callback.as_str().expect("url").to_owned());
        let grant = CodeGrant {
            code: callback.query()["code"].clone(),
            verifier: req.pkce.verifier.clone(),
            redirect_uri: req.redirect_uri.clone(),
            request_uri: par.json["request_uri"].as_str().unwrap_or_default().to_owned(),
            callback,
            par,
        };
        let tokens = env.redeem(&tpp, &grant).await;
        tokens.assert_status(200, "the code from the browser redeems");
        let (_, claims) = jwt_parts(tokens.json["id_token"].as_str().expect("id_token"));
        assert_eq!((claims["sub"].as_str(), &claims["amr"], claims["acr"].as_str()), (Some(subject.as_str()), &amr, Some(acr)), "INT-PK-01");
    }
    for file in ["passkey-1-login.png", "passkey-4-account-with-passkey.png", "passkey-6-consent-after-passkey.png"] {
        let path = screenshots().join(file);
        assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000), "screenshot {} saved", path.display());
    }
}
