//! Real-browser end-to-end tests: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/sign-in.mjs`), against the server on loopback with real TLS. Password
//! sign-in with consent, an expired password changed on the way, and a workspace theme, each
//! filled in by label as a user would. Screenshots of every page land in
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
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let dir = unique_dir("browser-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config_path = dir.join("flows.json");
    let config = json!({ "chromium": CHROMIUM, "screenshots": screenshots, "redirect_uri": DEFAULT_REDIRECT_URIS[0], "flows": flows });
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("json")).expect("write the flows");

    let run = tokio::task::spawn_blocking(move || {
        Command::new("node").arg("tests/browser/sign-in.mjs").arg(&config_path).current_dir(repo_root()).output()
    });
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the browser finished within 3 minutes")
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the browser flows failed:\n{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let results: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));

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
