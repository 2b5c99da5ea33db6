//! The admin API for identity pools and users over real HTTPS: token checks, CRUD, password
//! policies (every unmet rule listed), expiry, identifiers and addresses, pagination edges,
//! persistence across a restart, and that no password or hash is ever returned.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

const ADMIN_TOKEN: &str = "admin-token-for-the-e2e-tests-0123456789";

async fn admin_env() -> TestEnv {
    let mut config = base_config(&unique_dir("identity"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    TestEnv::start_with(config).await
}

/// The admin API's origin: the TLS listener's root (`/admin/...`).
fn admin_url(env: &TestEnv, path: &str) -> String {
    format!("{}{path}", env.info.base_url)
}

async fn call(env: &TestEnv, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let mut req = env.http.request(method.clone(), admin_url(env, path));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))).await
}

async fn admin(env: &TestEnv, method: Method, path: &str, body: Option<Value>) -> Resp {
    call(env, method, path, Some(ADMIN_TOKEN), body).await
}

async fn new_pool(env: &TestEnv, body: Value) -> String {
    let r = admin(env, Method::POST, "/admin/pools", Some(body)).await;
    r.assert_status(201, "create pool");
    r.json["id"].as_str().expect("pool id").to_owned()
}

async fn new_user(env: &TestEnv, pool: &str, body: Value) -> Resp {
    admin(env, Method::POST, &format!("/admin/pools/{pool}/users"), Some(body)).await
}

fn ids(page: &Resp) -> Vec<String> {
    page.json["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn the_admin_api_needs_an_admin_token_and_documents_itself() {
    let env = admin_env().await;
    call(&env, Method::GET, "/admin/pools", None, None).await.assert_error(401, &["invalid_token"], "no token");
    call(&env, Method::GET, "/admin/pools", Some("not-the-admin-token-at-all-xxxx"), None).await.assert_error(401, &["invalid_token"], "wrong token");
    let openapi = call(&env, Method::GET, "/admin/openapi.json", None, None).await;
    openapi.assert_status(200, "OpenAPI document");
    assert_eq!(openapi.json["openapi"], "3.1.0");
    assert!(openapi.json["paths"]["/admin/pools/{pool_id}/users"]["get"].is_object());
    // A server without admin tokens refuses everyone.
    let closed = TestEnv::start(|_| {}).await;
    call(&closed, Method::GET, "/admin/pools", Some(ADMIN_TOKEN), None).await.assert_error(401, &["invalid_token"], "no tokens configured");
}

#[tokio::test]
async fn pools_and_users_crud_with_policies_identifiers_and_addresses() {
    let env = admin_env().await;
    let policy = json!({ "min_length": 10, "max_length": 64, "min_lowercase": 1, "min_uppercase": 1, "min_digits": 1, "min_special": 1 });
    admin(&env, Method::POST, "/admin/pools", Some(json!({ "name": "retail", "password_policy": { "min_length": 70, "max_length": 64 } })))
        .await
        .assert_error(400, &["invalid_request"], "an impossible policy");
    admin(&env, Method::POST, "/admin/pools", Some(json!({ "nme": "typo" }))).await.assert_error(400, &["invalid_request"], "unknown member");
    let typed = admin(&env, Method::POST, "/admin/pools/none/users", Some(json!({ "identifiers": [], "password": 12_345_678 }))).await;
    typed.assert_error(400, &["invalid_request"], "a password of the wrong type");
    assert!(!typed.body.contains("12345678"), "a refused body's values are not echoed: {typed}");
    let pool = new_pool(&env, json!({ "name": "retail", "password_policy": policy, "preferred_mechanism": "passkey" })).await;
    let read = admin(&env, Method::GET, &format!("/admin/pools/{pool}"), None).await;
    assert_eq!(read.json["preferred_mechanism"], "passkey");
    let renamed = admin(&env, Method::PUT, &format!("/admin/pools/{pool}"), Some(json!({ "name": "retail banking" }))).await;
    assert_eq!((renamed.status, renamed.json["name"].as_str()), (200, Some("retail banking")));

    // Every unmet rule is listed.
    let weak = new_user(&env, &pool, json!({ "identifiers": [{ "type": "email", "value": "alice@bank.example" }], "password": "short" })).await;
    weak.assert_error(400, &["invalid_request"], "weak password");
    let description = weak.json["error_description"].as_str().expect("description");
    for rule in ["at least 10 characters", "uppercase", "digit", "neither letters nor digits"] {
        assert!(description.contains(rule), "{rule} missing from {description}");
    }
    let same = new_user(&env, &pool, json!({ "identifiers": [{ "type": "email", "value": "Alice.Long1!@bank.example" }], "password": "alice.long1!@bank.EXAMPLE" })).await;
    assert!(same.json["error_description"].as_str().is_some_and(|d| d.contains("identifiers")), "password = identifier: {same}");

    let created = new_user(
        &env,
        &pool,
        json!({
            "name": "Alice",
            "identifiers": [
                { "type": "email", "value": "alice@bank.example" },
                { "type": "external", "value": "C-0001", "external_type": "customer_number", "source": "core-banking" }
            ],
            "addresses": [{ "type": "mobile", "value": "+447700900123" }],
            "password": "Correct-Horse-9",
            "password_expires_at": 4_102_444_800i64
        }),
    )
    .await;
    created.assert_status(201, "create user");
    let text = created.body.clone();
    assert!(!text.contains("Correct-Horse-9") && !text.contains("argon2"), "no password or hash in {text}");
    assert_eq!(created.json["password"], json!({ "set": true, "expires_at": 4_102_444_800i64 }));
    let user = created.json["id"].as_str().expect("user id").to_owned();
    let base = format!("/admin/pools/{pool}/users/{user}");

    // Identifiers are unique per pool (emails case-insensitively) and validated.
    let dup = new_user(&env, &pool, json!({ "identifiers": [{ "type": "email", "value": "ALICE@bank.example" }] })).await;
    dup.assert_status(409, "duplicate identifier");
    let across_types = new_user(&env, &pool, json!({ "identifiers": [{ "type": "external", "value": "Alice@Bank.example", "external_type": "login", "source": "legacy" }] })).await;
    across_types.assert_status(409, "sign-in accepts any identifier, so values are unique across types");
    new_user(&env, &pool, json!({ "identifiers": [{ "type": "mobile", "value": "0770" }] })).await.assert_error(400, &["invalid_request"], "bad mobile");
    new_user(&env, &pool, json!({ "identifiers": [{ "type": "external", "value": "X" }] })).await.assert_error(400, &["invalid_request"], "external without source");
    let added = admin(&env, Method::POST, &format!("{base}/identifiers"), Some(json!({ "type": "uuid", "value": "c770aef3-6784-41f7-8e0e-ff5f97bddb3a" }))).await;
    added.assert_status(201, "add identifier");
    let identifiers = added.json["identifiers"].as_array().expect("identifiers").clone();
    assert_eq!(identifiers.len(), 3);
    for i in &identifiers[..2] {
        let id = i["id"].as_str().expect("identifier id");
        admin(&env, Method::DELETE, &format!("{base}/identifiers/{id}"), None).await.assert_status(200, "remove identifier");
    }
    let last = identifiers[2]["id"].as_str().expect("id");
    admin(&env, Method::DELETE, &format!("{base}/identifiers/{last}"), None).await.assert_status(409, "the last identifier stays");

    // Addresses: add, verify, remove.
    let with_email = admin(&env, Method::POST, &format!("{base}/addresses"), Some(json!({ "type": "email", "value": "alice@home.example" }))).await;
    with_email.assert_status(201, "add address");
    let address = with_email.json["addresses"][1].clone();
    assert_eq!(address["verified"], false);
    let address_id = address["id"].as_str().expect("address id");
    let verified = admin(&env, Method::POST, &format!("{base}/addresses/{address_id}/verify"), None).await;
    assert_eq!(verified.json["addresses"][1]["verified"], true);
    assert!(verified.json["addresses"][1]["verified_at"].is_i64());
    admin(&env, Method::DELETE, &format!("{base}/addresses/{address_id}"), None).await.assert_status(200, "remove address");
    admin(&env, Method::DELETE, &format!("{base}/addresses/{address_id}"), None).await.assert_status(404, "already removed");

    // Password changes follow the policy; expiry can be cleared.
    admin(&env, Method::PUT, &base, Some(json!({ "password": "weak" }))).await.assert_error(400, &["invalid_request"], "weak new password");
    let changed = admin(&env, Method::PUT, &base, Some(json!({ "password": "Another-Horse-7", "password_expires_at": null }))).await;
    changed.assert_status(200, "new password");
    assert_eq!(changed.json["password"], json!({ "set": true, "expires_at": null }));

    // A user imported without a password and an expiry in the past.
    let imported = new_user(&env, &pool, json!({ "identifiers": [{ "type": "email", "value": "bob@bank.example" }], "password_expires_at": 1 })).await;
    assert_eq!(imported.json["password"], json!({ "set": false, "expires_at": 1 }));

    admin(&env, Method::DELETE, &base, None).await.assert_status(204, "delete user");
    admin(&env, Method::GET, &base, None).await.assert_status(404, "deleted user");
    admin(&env, Method::DELETE, &format!("/admin/pools/{pool}"), None).await.assert_status(204, "delete pool");
    admin(&env, Method::GET, &format!("/admin/pools/{pool}/users"), None).await.assert_status(404, "users of a deleted pool");
}

#[tokio::test]
async fn pagination_edges() {
    let env = admin_env().await;
    let empty = admin(&env, Method::GET, "/admin/pools", None).await;
    assert_eq!(empty.json, json!({ "items": [], "next": null, "previous": null, "limit": 20 }), "empty list");
    let mut pools = Vec::new();
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        pools.push(new_pool(&env, json!({ "name": name })).await);
    }
    pools.sort();
    let first = admin(&env, Method::GET, "/admin/pools?limit=2", None).await;
    assert_eq!(ids(&first), pools[..2]);
    assert_eq!((first.json["next"].as_str(), first.json["previous"].as_str()), (Some(pools[1].as_str()), None));
    let last = admin(&env, Method::GET, &format!("/admin/pools?limit=2&after={}", pools[3]), None).await;
    assert_eq!(ids(&last), pools[4..]);
    assert_eq!((last.json["next"].as_str(), last.json["previous"].as_str()), (None, Some(pools[4].as_str())), "last page");
    let at_end = admin(&env, Method::GET, &format!("/admin/pools?after={}", pools[4]), None).await;
    assert_eq!((ids(&at_end).len(), at_end.json["next"].is_null()), (0, true), "cursor at the end");
    let back = admin(&env, Method::GET, &format!("/admin/pools?limit=2&before={}", pools[2]), None).await;
    assert_eq!(ids(&back), pools[..2]);
    let by_name = admin(&env, Method::GET, "/admin/pools?sort=name&order=desc&limit=3", None).await;
    let names: Vec<&str> = by_name.json["items"].as_array().expect("items").iter().map(|p| p["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["echo", "delta", "charlie"]);
    let filtered = admin(&env, Method::GET, "/admin/pools?name=HARL", None).await;
    assert_eq!(filtered.json["items"][0]["name"], "charlie");
    for (query, parameter) in [
        ("sort=age", "sort"),
        ("order=sideways", "order"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("before=a&after=b", "before"),
        ("after=pool_gone", "after"),
        ("page=2", "query"),
    ] {
        let r = admin(&env, Method::GET, &format!("/admin/pools?{query}"), None).await;
        r.assert_error(400, &["invalid_request"], query);
        assert!(r.json["error_description"].as_str().is_some_and(|d| d.starts_with(parameter)), "{query}: {r}");
    }
}

#[tokio::test]
async fn pools_and_users_survive_a_restart() {
    let mut env = admin_env().await;
    let pool = new_pool(&env, json!({ "name": "persisted", "preferred_mechanism": "email_otp" })).await;
    let user = new_user(&env, &pool, json!({ "identifiers": [{ "type": "email", "value": "carol@bank.example" }], "password": "Persisted-Secret-1" })).await;
    user.assert_status(201, "create user");
    let user_id = user.json["id"].as_str().expect("id").to_owned();

    let env2 = env.restart().await;
    let read = admin(&env2, Method::GET, &format!("/admin/pools/{pool}/users/{user_id}"), None).await;
    read.assert_status(200, "user after restart");
    assert_eq!(read.json["identifiers"][0]["value"], "carol@bank.example");
    assert_eq!(read.json["password"]["set"], true);
    assert_eq!(admin(&env2, Method::GET, &format!("/admin/pools/{pool}"), None).await.json["preferred_mechanism"], "email_otp");
}

/// Submits the first form of `page` with `fields` added to its hidden inputs.
async fn submit(browser: &Browser, page: &Resp, fields: &[(&str, &str)]) -> Resp {
    submit_html(browser, &page.body, fields).await
}

/// Submits the first form of `html` (e.g. the part of a page after a heading).
async fn submit_html(browser: &Browser, html: &str, fields: &[(&str, &str)]) -> Resp {
    let form = parse_form(html).unwrap_or_else(|| panic!("no form: {html}"));
    let mut all = form.hidden.clone();
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    browser.post(&form.action, &all).await
}

#[tokio::test]
async fn pool_users_sign_in_and_an_expired_password_must_be_changed_first() {
    let mut config = base_config(&unique_dir("identity-login"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    config.tenants[0].workspaces[0].identity_pool = Some("retail".into());
    let env = TestEnv::start_with(config).await;
    let policy = json!({ "min_length": 12, "min_digits": 1, "min_uppercase": 1 });
    assert_eq!(new_pool(&env, json!({ "id": "retail", "name": "Retail", "password_policy": policy })).await, "retail");
    admin(&env, Method::POST, "/admin/pools", Some(json!({ "id": "retail", "name": "again" }))).await.assert_status(409, "pool id taken");
    let expired = new_user(
        &env,
        "retail",
        json!({
            "name": "Dana Expired",
            "identifiers": [{ "type": "email", "value": "dana@bank.example" }],
            "addresses": [{ "type": "email", "value": "dana@bank.example", "verified": true }],
            "password": "Old-Password-1", "password_expires_at": 1
        }),
    )
    .await;
    expired.assert_status(201, "expired user");
    let subject = expired.json["id"].as_str().expect("id").to_owned();
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new("openid profile email accounts");
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri");
    let browser = env.browser();
    let login = browser.open_authorize(&tpp.client_id, request_uri).await;
    login.assert_status(200, "login page");

    // The configured default user is not a user of this workspace any more.
    let refused = submit(&browser, &login, &[("username", "alice"), ("password", "wonderland-2026")]).await;
    refused.assert_status(401, "alice is not in the pool");
    // Wrong password of a pool user: the same answer.
    submit(&browser, &login, &[("username", "dana@bank.example"), ("password", "Wrong-Password-1")]).await.assert_status(401, "wrong password");

    let change = submit(&browser, &login, &[("username", "DANA@bank.example"), ("password", "Old-Password-1")]).await;
    change.assert_status(200, "change-password step");
    assert!(change.body.contains("name=\"new_password\""), "{change}");
    let weak = submit(&browser, &change, &[("new_password", "short"), ("confirm_password", "short")]).await;
    weak.assert_status(400, "weak new password");
    for rule in ["at least 12 characters", "uppercase", "digit"] {
        assert!(weak.body.contains(rule), "{rule}: {weak}");
    }
    let mismatch = submit(&browser, &change, &[("new_password", "New-Password-22"), ("confirm_password", "New-Password-23")]).await;
    assert!(mismatch.body.contains("differ"), "{mismatch}");
    let reused = submit(&browser, &change, &[("new_password", "Old-Password-1"), ("confirm_password", "Old-Password-1")]).await;
    assert!(reused.body.contains("different from the expired one"), "{reused}");
    let changed = submit(&browser, &change, &[("new_password", "New-Password-22"), ("confirm_password", "New-Password-22")]).await;
    changed.assert_status(303, "signed in after the change");
    let consent_page = browser.get(changed.header("location").expect("consent")).await;
    assert!(consent_page.body.contains("dana@bank.example"), "consent names the user: {consent_page}");
    let callback = browser.decide(&consent_page, true).await;
    let code = callback.query()["code"].clone();
    let grant = CodeGrant { code, verifier: req.pkce.verifier.clone(), redirect_uri: req.redirect_uri.clone(), request_uri: request_uri.to_owned(), callback, par };
    let tokens = env.redeem(&tpp, &grant).await;
    tokens.assert_status(200, "tokens for the pool user");
    let (_, id_token) = jwt_parts(tokens.json["id_token"].as_str().expect("id_token"));
    assert_eq!(id_token["sub"], subject.as_str(), "the pool user's id is the subject");
    let userinfo = env.userinfo(&tpp, tokens.json["access_token"].as_str().expect("at")).await;
    assert_eq!((userinfo.json["name"].as_str(), userinfo.json["email"].as_str(), userinfo.json["email_verified"].as_bool()), (Some("Dana Expired"), Some("dana@bank.example"), Some(true)));

    // The new password is stored without expiry; the old one no longer works.
    let read = admin(&env, Method::GET, &format!("/admin/pools/retail/users/{subject}"), None).await;
    assert_eq!(read.json["password"], json!({ "set": true, "expires_at": null }));
    let again = env.browser();
    let req2 = AuthRequest::new("openid accounts");
    let par2 = env.push(&tpp, &req2).await;
    let login2 = again.open_authorize(&tpp.client_id, par2.json["request_uri"].as_str().expect("request_uri")).await;
    submit(&again, &login2, &[("username", "dana@bank.example"), ("password", "Old-Password-1")]).await.assert_status(401, "old password");
    submit(&again, &login2, &[("username", "dana@bank.example"), ("password", "New-Password-22")]).await.assert_status(303, "new password");

    // An administrator's password reset ends the sessions opened before it.
    let par3 = env.push(&tpp, &AuthRequest::new("openid accounts")).await;
    let page = again.open_authorize(&tpp.client_id, par3.json["request_uri"].as_str().expect("request_uri")).await;
    assert!(page.body.contains("name=\"decision\""), "signed in: straight to consent: {page}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    admin(&env, Method::PUT, &format!("/admin/pools/retail/users/{subject}"), Some(json!({ "password": "Reset-By-Admin-3" }))).await.assert_status(200, "reset");
    let par4 = env.push(&tpp, &AuthRequest::new("openid accounts")).await;
    let page = again.open_authorize(&tpp.client_id, par4.json["request_uri"].as_str().expect("request_uri")).await;
    assert!(page.body.contains("name=\"password\""), "the session ended with the reset: {page}");
}

/// The code in the newest inbox message to `to`.
async fn code_sent_to(env: &TestEnv, to: &str) -> String {
    let inbox = admin(env, Method::GET, &format!("/admin/inbox?to={to}"), None).await;
    inbox.assert_status(200, "inbox");
    let body = inbox.json["messages"][0]["body"].as_str().unwrap_or_else(|| panic!("no message to {to}: {inbox}")).to_owned();
    body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap_or_else(|| panic!("no code in {body:?}")).to_owned()
}

#[tokio::test]
async fn one_time_codes_sign_in_and_let_an_imported_user_set_a_first_password() {
    let mut config = base_config(&unique_dir("identity-otp"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    config.tenants[0].workspaces[0].identity_pool = Some("mobile-first".into());
    let env = TestEnv::start_with(config).await;
    new_pool(&env, json!({ "id": "mobile-first", "name": "Mobile first", "preferred_mechanism": "email_otp" })).await;
    // Imported without a password, its expiry in the past: it sets one at first sign-in.
    let imported = new_user(
        &env,
        "mobile-first",
        json!({
            "name": "Erin Imported",
            "identifiers": [{ "type": "external", "value": "C-777", "external_type": "customer_number", "source": "core" }],
            "addresses": [{ "type": "email", "value": "erin@bank.example", "verified": true }, { "type": "email", "value": "erin@old.example" }],
            "password_expires_at": 1
        }),
    )
    .await;
    imported.assert_status(201, "imported user");
    let subject = imported.json["id"].as_str().expect("id").to_owned();
    let tpp = env.tpp("pkjwt-dpop-1");
    let req = AuthRequest::new("openid accounts");
    let par = env.push(&tpp, &req).await;
    let request_uri = par.json["request_uri"].as_str().expect("request_uri").to_owned();
    let browser = env.browser();
    let login = browser.open_authorize(&tpp.client_id, &request_uri).await;
    let first_form = parse_form(&login.body).expect("form");
    assert!(first_form.action.ends_with("/otp"), "the preferred mechanism comes first: {login}");
    // No password yet: the password form cannot sign this user in.
    let password_form = &login.body[login.body.find("Or sign in with your password").expect("second form")..];
    submit_html(&browser, password_form, &[("username", "C-777"), ("password", "anything-at-all")]).await.assert_status(401, "no password yet");

    // An unknown identifier gets the same page, and nothing is sent.
    let unknown = submit(&browser, &login, &[("username", "nobody@bank.example")]).await;
    unknown.assert_status(200, "same page for an unknown identifier");
    assert!(admin(&env, Method::GET, "/admin/inbox?to=nobody@bank.example", None).await.json["messages"].as_array().expect("messages").is_empty());

    let entry = submit(&browser, &login, &[("username", "C-777")]).await;
    entry.assert_status(200, "code entry page");
    let code = code_sent_to(&env, "erin@bank.example").await;
    assert!(admin(&env, Method::GET, "/admin/inbox?to=erin@old.example", None).await.json["messages"].as_array().expect("messages").is_empty(), "unverified addresses get nothing");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = submit(&browser, &entry, &[("code", wrong)]).await;
    refused.assert_status(401, "wrong code");
    assert!(refused.body.contains("4 attempt(s) left"), "{refused}");
    let choose = submit(&browser, &entry, &[("code", &code)]).await;
    choose.assert_status(200, "first password step");
    assert!(choose.body.contains("name=\"new_password\""), "{choose}");
    // Used once: the same code again is refused.
    submit(&browser, &entry, &[("code", &code)]).await.assert_status(401, "a used code");
    let done = submit(&browser, &choose, &[("new_password", "First-Password-123"), ("confirm_password", "First-Password-123")]).await;
    done.assert_status(303, "signed in after choosing a password");
    let consent_page = browser.get(done.header("location").expect("consent")).await;
    let callback = browser.decide(&consent_page, true).await;
    let grant = CodeGrant { code: callback.query()["code"].clone(), verifier: req.pkce.verifier.clone(), redirect_uri: req.redirect_uri.clone(), request_uri, callback, par };
    let tokens = env.redeem(&tpp, &grant).await;
    tokens.assert_status(200, "tokens");
    let (_, id_token) = jwt_parts(tokens.json["id_token"].as_str().expect("id_token"));
    assert_eq!((id_token["sub"].as_str(), id_token["amr"].clone()), (Some(subject.as_str()), json!(["otp"])), "amr says how the user signed in");

    // Five wrong codes lock the code; a new one can be asked for.
    let again = env.browser();
    let par2 = env.push(&tpp, &AuthRequest::new("openid accounts")).await;
    let login2 = again.open_authorize(&tpp.client_id, par2.json["request_uri"].as_str().expect("request_uri")).await;
    let entry2 = submit(&again, &login2, &[("username", "C-777")]).await;
    let code2 = code_sent_to(&env, "erin@bank.example").await;
    let wrong2 = if code2 == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        submit(&again, &entry2, &[("code", wrong2)]).await.assert_status(401, "wrong code");
    }
    let locked = submit(&again, &entry2, &[("code", &code2)]).await;
    assert!(locked.body.contains("Too many wrong codes"), "{locked}");
    // And the password chosen above now works with the password form, amr pwd.
    let password_form = &login2.body[login2.body.find("Or sign in with your password").expect("second form")..];
    submit_html(&again, password_form, &[("username", "erin@bank.example"), ("password", "First-Password-123")]).await.assert_status(401, "an address is not an identifier");
    submit_html(&again, password_form, &[("username", "C-777"), ("password", "First-Password-123")]).await.assert_status(303, "password sign-in");
}

#[tokio::test]
async fn one_time_codes_are_limited_per_user_across_sign_ins() {
    let mut config = base_config(&unique_dir("identity-otp-limits"));
    config.admin.tokens = vec![ADMIN_TOKEN.into()];
    config.tenants[0].workspaces[0].identity_pool = Some("codes".into());
    let env = TestEnv::start_with(config).await;
    new_pool(&env, json!({ "id": "codes", "name": "Codes", "preferred_mechanism": "sms_otp" })).await;
    new_user(&env, "codes", json!({ "identifiers": [{ "type": "mobile", "value": "+447700900456" }], "addresses": [{ "type": "mobile", "value": "+447700900456", "verified": true }] }))
        .await
        .assert_status(201, "user");
    let tpp = env.tpp("pkjwt-dpop-1");
    let par = env.push(&tpp, &AuthRequest::new("openid accounts")).await;
    let browser = env.browser();
    let login = browser.open_authorize(&tpp.client_id, par.json["request_uri"].as_str().expect("request_uri")).await;
    assert!(login.body.contains("by text message"), "{login}");
    for _ in 0..7 {
        submit(&browser, &login, &[("username", "+447700900456")]).await.assert_status(200, "code page");
    }
    let sent = admin(&env, Method::GET, "/admin/inbox?to=%2B447700900456", None).await;
    assert_eq!(sent.json["messages"].as_array().map(Vec::len), Some(5), "at most 5 codes per user per 15 minutes: {sent}");
    assert_eq!(sent.json["messages"][0]["channel"], "sms");
}

/// A fresh login page of the default workspace.
async fn login_page(env: &TestEnv) -> Resp {
    let par = env.push(&env.tpp("pkjwt-dpop-1"), &AuthRequest::new("openid accounts")).await;
    env.browser().open_authorize("pkjwt-dpop-1", par.json["request_uri"].as_str().expect("request_uri")).await
}

/// The built-in theme's sources, as the admin API takes them.
fn builtin_theme() -> Value {
    let source = fapilab_server::theme::builtin_source();
    json!({ "templates": source.templates, "css": source.css })
}

#[tokio::test]
async fn a_workspace_theme_is_validated_previewed_activated_and_reset() {
    let mut env = admin_env().await;
    let base = "/admin/themes/default/fapi2";
    admin(&env, Method::PUT, "/admin/themes/default/nope", Some(builtin_theme())).await.assert_status(404, "unknown workspace");

    // Every problem at once: a missing template, a form without its fields, a stylesheet that
    // would close its <style> element.
    let mut broken = builtin_theme();
    broken["templates"].as_object_mut().expect("templates").remove("consent.html");
    broken["templates"]["login.html"] = json!("{% extends \"layout.html\" %}{% block content %}<p>Sign in elsewhere</p>{% endblock %}");
    broken["css"] = json!("body{}</style><script>alert(1)</script>");
    let refused = admin(&env, Method::PUT, base, Some(broken)).await;
    refused.assert_error(400, &["invalid_request"], "a broken theme");
    let why = refused.json["error_description"].as_str().expect("description");
    for problem in ["consent.html: missing", "login.html: the rendered page lacks the form field", "password", "css"] {
        assert!(why.contains(problem), "{problem} missing from {why}");
    }

    let mut acme = builtin_theme();
    let login = acme["templates"]["login.html"].as_str().expect("login").replace("<h1>Sign in</h1>", "<h1>Sign in to Acme Bank</h1>");
    acme["templates"]["login.html"] = json!(login);
    acme["css"] = json!("body{background:#fdf6e3}");
    let draft = admin(&env, Method::PUT, base, Some(acme)).await;
    draft.assert_status(200, "a valid draft");
    assert_eq!(draft.json["status"], "draft");
    let preview = admin(&env, Method::GET, &format!("{base}/preview/login.html"), None).await;
    preview.assert_status(200, "preview");
    assert!(preview.body.contains("Sign in to Acme Bank") && preview.body.contains("#fdf6e3"), "{preview}");
    admin(&env, Method::GET, &format!("{base}/preview/layout.html"), None).await.assert_status(404, "the layout is not a page");

    let tpp = env.tpp("pkjwt-dpop-1");
    assert!(!login_page(&env).await.body.contains("Acme"), "a draft is not live");
    admin(&env, Method::POST, &format!("{base}/activate"), None).await.assert_status(200, "activate");
    let themed = login_page(&env).await;
    assert!(themed.body.contains("Sign in to Acme Bank"), "{themed}");
    // The themed login still signs in (its form carries every field the server reads).
    let req = AuthRequest::new("openid accounts");
    env.tokens(&tpp, &req).await;

    // Kept across a restart; the reset brings back the built-in theme.
    let env2 = env.restart().await;
    assert!(login_page(&env2).await.body.contains("Sign in to Acme Bank"), "the active theme survives a restart");
    admin(&env2, Method::DELETE, base, None).await.assert_status(204, "reset");
    assert!(!login_page(&env2).await.body.contains("Acme"), "built-in again");
}
