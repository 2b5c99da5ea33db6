//! RFC 9440 `Client-Cert` from a TLS-terminating proxy: honoured only when enabled and only
//! from a configured proxy address; otherwise the header is ignored.

use std::net::IpAddr;

use base64::Engine;
use reqwest::header::HeaderMap;

use crate::support::*;

fn client_cert_header(tpp: &Tpp) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = format!(":{}:", base64::engine::general_purpose::STANDARD.encode(&tpp.cert_der));
    headers.insert("client-cert", header(&value));
    headers
}

/// A `client_credentials` request by `tls-mtls-1` on the TLS listener — no certificate on the
/// connection, only the header.
async fn token_via_proxy_header(env: &TestEnv) -> Resp {
    let tpp = env.tpp("tls-mtls-1");
    let form = vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("client_id".to_string(), tpp.client_id.clone()),
        ("scope".to_string(), "accounts".to_string()),
    ];
    let resp = env.http.post(env.tls_url("token")).headers(client_cert_header(&tpp)).form(&form).send().await.expect("POST token");
    Resp::read(resp).await
}

#[tokio::test]
async fn client_cert_header_from_a_trusted_proxy_authenticates_and_binds() {
    let dir = unique_dir("proxy-on");
    let mut config = base_config(&dir);
    config.server.client_cert_header.enabled = true;
    config.server.client_cert_header.trusted_proxies = vec!["127.0.0.1".parse::<IpAddr>().expect("ip")];
    let env = TestEnv::start_with(config).await;
    let resp = token_via_proxy_header(&env).await;
    resp.assert_status(200, "token with an RFC 9440 header from a trusted proxy");
    let tpp = env.tpp("tls-mtls-1");
    let introspection = env.introspect(&tpp, resp.json["access_token"].as_str().expect("access_token")).await;
    assert_eq!(introspection.json["cnf"]["x5t#S256"], serde_json::json!(tpp.cert_thumbprint()), "bound to the header's certificate: {introspection}");
}

#[tokio::test]
async fn client_cert_header_is_ignored_when_off_or_from_another_address() {
    let env = TestEnv::shared().await;
    token_via_proxy_header(&env).await.assert_error(401, &["invalid_client"], "header ignored when the feature is off (MT-04)");

    let dir = unique_dir("proxy-elsewhere");
    let mut config = base_config(&dir);
    config.server.client_cert_header.enabled = true;
    config.server.client_cert_header.trusted_proxies = vec!["192.0.2.10".parse::<IpAddr>().expect("ip")];
    let env = TestEnv::start_with(config).await;
    token_via_proxy_header(&env).await.assert_error(401, &["invalid_client"], "header from an untrusted peer is ignored");
}
