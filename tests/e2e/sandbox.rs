//! The sandbox end to end: `fapilab_sandbox::start` brings up the CA, the authorization server
//! and the mock bank on loopback. For every client authentication × sender constraint a TPP
//! gets tokens through the full code flow, reads accounts at the bank with its sender
//! constraint, refreshes, and after revoking the grant the bank refuses the token
//! (FAPI2-SP-RS-03, RS-05).

use serde_json::Value;

use crate::support::*;

async fn bank_get(tpp: &Tpp, url: &str, token: &str, interaction_id: Option<&str>) -> Resp {
    let mut req = if tpp.is_dpop() {
        tpp.http.get(url).header("authorization", format!("DPoP {token}")).header("dpop", tpp.dpop_proof("GET", url, Some(token), None))
    } else {
        tpp.http.get(url).header("authorization", format!("Bearer {token}"))
    };
    if let Some(id) = interaction_id {
        req = req.header("x-fapi-interaction-id", id);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
}

#[tokio::test]
async fn every_variant_reads_the_bank_refreshes_and_is_refused_after_revocation() {
    let dir = unique_dir("sandbox");
    let sandbox = fapilab_sandbox::start(fapilab_sandbox::SandboxOptions { data_dir: dir.clone(), port_base: 0, bind: "127.0.0.1".parse().expect("ip"), ..Default::default() })
        .await
        .expect("the sandbox starts");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&sandbox.manifest_path).expect("manifest file")).expect("manifest JSON");
    assert_eq!(manifest["bank_url"], Value::String(sandbox.bank_url.clone()), "manifest bank_url");
    let env = TestEnv::attach(info_of(&sandbox.server, &dir));
    let accounts_url = format!("{}/accounts", sandbox.bank_url);

    for client_id in ["pkjwt-dpop-1", "pkjwt-mtls-1", "tls-dpop-1", "tls-mtls-1", "selfsigned-dpop-1", "selfsigned-mtls-1"] {
        let tpp = env.tpp(client_id);
        let (_, tokens) = env.tokens(&tpp, &AuthRequest::new(FULL_SCOPE)).await;
        let access_token = tokens["access_token"].as_str().expect("access_token").to_owned();
        let refresh_token = tokens["refresh_token"].as_str().expect("refresh_token").to_owned();

        let accounts = bank_get(&tpp, &accounts_url, &access_token, Some("b7d9a3c2-1f0e-4e7a-9a55-3c1de2f4a6b8")).await;
        accounts.assert_status(200, &format!("{client_id}: GET /accounts"));
        assert_eq!(accounts.header("x-fapi-interaction-id"), Some("b7d9a3c2-1f0e-4e7a-9a55-3c1de2f4a6b8"), "{client_id}: interaction id echoed");
        assert!(accounts.header("date").is_some(), "{client_id}: Date header");
        let first_account = accounts.json.pointer("/data/0/account_id").or_else(|| accounts.json.pointer("/accounts/0/id")).or_else(|| accounts.json.pointer("/0/id"));
        assert!(first_account.is_some() || accounts.body.contains("acc-001"), "{client_id}: accounts listed: {accounts}");
        let balances = bank_get(&tpp, &format!("{}/accounts/acc-001/balances", sandbox.bank_url), &access_token, None).await;
        balances.assert_status(200, &format!("{client_id}: GET balances"));
        let transactions = bank_get(&tpp, &format!("{}/accounts/acc-001/transactions", sandbox.bank_url), &access_token, None).await;
        transactions.assert_status(200, &format!("{client_id}: GET transactions"));

        let refreshed = env.refresh(&tpp, &refresh_token).await;
        refreshed.assert_status(200, &format!("{client_id}: refresh"));
        let new_token = refreshed.json["access_token"].as_str().expect("refreshed access_token").to_owned();
        bank_get(&tpp, &accounts_url, &new_token, None).await.assert_status(200, &format!("{client_id}: bank with the refreshed token"));

        env.revoke(&tpp, &refresh_token, Some("refresh_token")).await.assert_status(200, &format!("{client_id}: revoke"));
        let refused = bank_get(&tpp, &accounts_url, &new_token, None).await;
        refused.assert_status(401, &format!("{client_id}: bank after revocation (FAPI2-SP-RS-03)"));
        assert!(refused.www_authenticate().is_some_and(|c| c.contains("invalid_token")), "{client_id}: invalid_token challenge: {refused}");
    }

    // FAPI2-SP-RS-02: never a token in the query string, even a valid one.
    let tpp = env.tpp("pkjwt-dpop-2");
    let (_, tokens) = env.tokens(&tpp, &AuthRequest::new(OAUTH_SCOPE)).await;
    let token = tokens["access_token"].as_str().expect("access_token");
    let in_query = format!("{accounts_url}?access_token={token}");
    bank_get(&tpp, &in_query, token, None).await.assert_status(401, "token in the query string (FAPI2-SP-RS-02)");

    // FAPI2-SP-RS-05 / MT-07: an mTLS-bound token over another TPP's certificate connection.
    let owner = env.tpp("tls-mtls-1");
    let other = env.tpp("tls-mtls-2");
    let (_, tokens) = env.tokens(&owner, &AuthRequest::new(OAUTH_SCOPE)).await;
    let token = tokens["access_token"].as_str().expect("access_token");
    bank_get(&other, &accounts_url, token, None).await.assert_status(401, "mTLS-bound token with another certificate (MT-07)");

    drop(env);
    drop(sandbox);
    let _ = std::fs::remove_dir_all(dir);
}
