//! Request-level tests of the bank with a fixed token table in place of the authorization
//! server, driven through the router with `tower::ServiceExt::oneshot`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use fapilab_jose::{Algorithm, SigningKey};
use fapilab_server::tls::ConnectionInfo;
use fapilab_server::workspace::Listener;
use serde_json::Value;
use tower::ServiceExt;

use super::*;

const BASE: &str = "https://bank.example:8445";
const CERT: &[u8] = b"the DER of a client certificate";
const OTHER_CERT: &[u8] = b"the DER of another certificate";

struct Table(HashMap<String, Result<TokenInfo, TokenRejection>>);

impl TokenValidator for Table {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> validator::BoxFuture<'a, Result<TokenInfo, TokenRejection>> {
        let answer = self.0.get(token).cloned().unwrap_or_else(|| {
            Err(TokenRejection::Invalid(
                "the access token is not active [FAPI2-SP-RS-03]".into(),
            ))
        });
        Box::pin(async move { answer })
    }
}

fn info(jkt: Option<&str>, x5t: Option<&str>, scope: &str) -> TokenInfo {
    TokenInfo {
        subject: "user-1".into(),
        client_id: Some("client-1".into()),
        scopes: scope.split_whitespace().map(str::to_owned).collect(),
        jkt: jkt.map(str::to_owned),
        x5t_s256: x5t.map(str::to_owned),
        expires_at: None,
    }
}

struct Fixture {
    app: axum::Router,
    dpop_key: SigningKey,
}

fn fixture() -> Fixture {
    let dpop_key = SigningKey::generate(Algorithm::Es256, None).expect("key");
    let cert_thumbprint = fapilab_jose::sha256_b64url(CERT);
    let mut table = HashMap::new();
    table.insert(
        "dpop-token".to_owned(),
        Ok(info(Some(&dpop_key.thumbprint()), None, "openid accounts")),
    );
    table.insert(
        "mtls-token".to_owned(),
        Ok(info(None, Some(&cert_thumbprint), "accounts")),
    );
    table.insert("unbound-token".to_owned(), Ok(info(None, None, "accounts")));
    table.insert(
        "no-scope-token".to_owned(),
        Ok(info(None, Some(&cert_thumbprint), "openid profile")),
    );
    table.insert(
        "as-down".to_owned(),
        Err(TokenRejection::Unavailable("connection refused".into())),
    );
    let state = BankState::with_validator(BankConfig::new(BASE), Arc::new(Table(table)));
    Fixture {
        app: bank_app(Arc::new(state)),
        dpop_key,
    }
}

fn get(path: &str) -> axum::http::request::Builder {
    Request::builder().method("GET").uri(path)
}

fn with_cert(mut request: Request<Body>, cert: &[u8]) -> Request<Body> {
    request.extensions_mut().insert(ConnectionInfo {
        listener: Listener::Mtls,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 50_000)),
        client_certificate: Some(Arc::new(cert.to_vec())),
    });
    request
}

fn proof(f: &Fixture, method: &str, path: &str, token: Option<&str>) -> String {
    let jti = fapilab_jose::random_token(12);
    fapilab_jose::dpop::create_proof(
        &f.dpop_key,
        method,
        &format!("{BASE}{path}"),
        token,
        None,
        fapilab_jose::now(),
        &jti,
    )
    .expect("proof")
}

async fn send(
    f: &Fixture,
    request: Request<Body>,
) -> (StatusCode, Vec<String>, Value, Response<Body>) {
    let response = f.app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let challenges = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (
        status,
        challenges,
        json,
        Response::from_parts(parts, Body::empty()),
    )
}

fn dpop_request(f: &Fixture, scheme: &str, path: &str) -> Request<Body> {
    get(path)
        .header(header::AUTHORIZATION, format!("{scheme} dpop-token"))
        .header("DPoP", proof(f, "GET", path, Some("dpop-token")))
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn missing_token_gets_both_challenges_without_an_error_code() {
    let f = fixture();
    let (status, challenges, body, _) =
        send(&f, get("/accounts").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges,
        vec![
            "Bearer realm=\"fapilab-bank\"".to_owned(),
            "DPoP realm=\"fapilab-bank\", algs=\"PS256 ES256 EdDSA\"".to_owned(),
        ]
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("FAPI2-SP-RS-01"),
        "{body}"
    );
    // An unknown scheme counts as no credentials.
    let basic = get("/accounts")
        .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .expect("request");
    let (status, challenges, _, _) = send(&f, basic).await;
    assert_eq!((status, challenges.len()), (StatusCode::UNAUTHORIZED, 2));
}

#[tokio::test]
async fn query_string_and_form_body_tokens_are_refused_even_with_a_header() {
    let f = fixture();
    let request = with_cert(
        get("/accounts?access_token=mtls-token")
            .header(header::AUTHORIZATION, "Bearer mtls-token")
            .body(Body::empty())
            .expect("request"),
        CERT,
    );
    let (status, challenges, body, _) = send(&f, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenges[0].starts_with("Bearer realm=\"fapilab-bank\", error=\"invalid_request\""),
        "{challenges:?}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("[FAPI2-SP-RS-02]"),
        "{body}"
    );

    let request = with_cert(
        get("/accounts")
            .header(header::AUTHORIZATION, "Bearer mtls-token")
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::from("access_token=mtls-token"))
            .expect("request"),
        CERT,
    );
    let (status, _, body, _) = send(&f, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("form body"),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_has_an_interaction_id_and_a_date() {
    let f = fixture();
    let id = "93bac548-d2de-4546-b106-880a5018460d";
    let request = get("/accounts")
        .header(headers::INTERACTION_ID, id)
        .body(Body::empty())
        .expect("request");
    let (_, _, _, response) = send(&f, request).await;
    assert_eq!(response.headers()[headers::INTERACTION_ID], id);
    let date = response.headers()[header::DATE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");

    let (status, _, _, response) =
        send(&f, get("/nowhere").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let generated = response.headers()[headers::INTERACTION_ID]
        .to_str()
        .expect("ascii");
    assert!(headers::tests::is_uuid_v4(generated), "{generated}");
    assert!(response.headers().contains_key(header::DATE));
}

#[tokio::test]
async fn a_dpop_bound_token_with_a_valid_proof_reads_accounts_in_any_scheme_case() {
    let f = fixture();
    for scheme in ["DPoP", "dpop", "DPOP"] {
        let (status, _, body, _) = send(&f, dpop_request(&f, scheme, "/accounts")).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert_eq!(body["sub"], "user-1");
        assert_eq!(body["accounts"].as_array().map(Vec::len), Some(3));
    }
    let (status, _, body, _) = send(
        &f,
        dpop_request(&f, "DPoP", "/accounts/acc-001/transactions"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transactions"][0]["transaction_id"], "tx-001-0001");
    let (status, _, body, _) =
        send(&f, dpop_request(&f, "DPoP", "/accounts/acc-002/balances")).await;
    assert_eq!(
        (status, body["balances"][0]["amount"].clone()),
        (StatusCode::OK, Value::from("10250.00"))
    );
    let (status, _, body, _) = send(&f, dpop_request(&f, "DPoP", "/accounts/acc-404")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::NOT_FOUND, Value::from("not_found"))
    );
}

#[tokio::test]
async fn dpop_binding_failures() {
    let f = fixture();
    let expect =
        |(status, challenges, body, _): (StatusCode, Vec<String>, Value, Response<Body>),
         code: &str,
         id: &str| {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(challenges.len(), 1, "{challenges:?}");
            assert!(
                challenges[0]
                    .starts_with(&format!("DPoP realm=\"fapilab-bank\", error=\"{code}\"")),
                "{challenges:?}"
            );
            assert!(
                challenges[0].contains("algs=\"PS256 ES256 EdDSA\""),
                "{challenges:?}"
            );
            assert_eq!(body["error"], code);
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(id),
                "{body}"
            );
        };
    // DP-R-02: the Bearer scheme with a DPoP-bound token.
    expect(
        send(&f, dpop_request(&f, "Bearer", "/accounts")).await,
        "invalid_token",
        "DP-R-02",
    );
    // DP-R-01: no proof.
    let request = get("/accounts")
        .header(header::AUTHORIZATION, "DPoP dpop-token")
        .body(Body::empty())
        .expect("request");
    expect(send(&f, request).await, "invalid_dpop_proof", "DP-R-01");
    // DP-12: no ath.
    let request = get("/accounts")
        .header(header::AUTHORIZATION, "DPoP dpop-token")
        .header("DPoP", proof(&f, "GET", "/accounts", None))
        .body(Body::empty())
        .expect("request");
    expect(send(&f, request).await, "invalid_dpop_proof", "DP-12");
    // DP-09: proof for another URL; DP-08: for another method.
    let request = get("/accounts")
        .header(header::AUTHORIZATION, "DPoP dpop-token")
        .header(
            "DPoP",
            proof(&f, "GET", "/accounts/acc-001", Some("dpop-token")),
        )
        .body(Body::empty())
        .expect("request");
    expect(send(&f, request).await, "invalid_dpop_proof", "DP-09");
    let request = get("/accounts")
        .header(header::AUTHORIZATION, "DPoP dpop-token")
        .header("DPoP", proof(&f, "POST", "/accounts", Some("dpop-token")))
        .body(Body::empty())
        .expect("request");
    expect(send(&f, request).await, "invalid_dpop_proof", "DP-08");
    // DP-12: a valid proof by another key.
    let stranger = Fixture {
        app: f.app.clone(),
        dpop_key: SigningKey::generate(Algorithm::Es256, None).expect("key"),
    };
    expect(
        send(&f, dpop_request(&stranger, "DPoP", "/accounts")).await,
        "invalid_dpop_proof",
        "DP-12",
    );
    // DP-13: a replayed proof.
    let replayed = proof(&f, "GET", "/accounts", Some("dpop-token"));
    let request = |p: &str| {
        get("/accounts")
            .header(header::AUTHORIZATION, "DPoP dpop-token")
            .header("DPoP", p)
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(send(&f, request(&replayed)).await.0, StatusCode::OK);
    expect(
        send(&f, request(&replayed)).await,
        "invalid_dpop_proof",
        "DP-13",
    );
    // DP-01: two proofs.
    let request = get("/accounts")
        .header(header::AUTHORIZATION, "DPoP dpop-token")
        .header("DPoP", proof(&f, "GET", "/accounts", Some("dpop-token")))
        .header("DPoP", proof(&f, "GET", "/accounts", Some("dpop-token")))
        .body(Body::empty())
        .expect("request");
    expect(send(&f, request).await, "invalid_dpop_proof", "DP-01");
}

#[tokio::test]
async fn certificate_bound_tokens_need_this_connection_s_certificate() {
    let f = fixture();
    let request = |scheme: &str| {
        get("/accounts/acc-001")
            .header(header::AUTHORIZATION, format!("{scheme} mtls-token"))
            .body(Body::empty())
            .expect("request")
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, _, body, _) = send(&f, with_cert(request(scheme), CERT)).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert_eq!(body["account"]["account_id"], "acc-001");
    }
    for refused in [
        request("Bearer"),
        with_cert(request("Bearer"), OTHER_CERT),
        with_cert(request("DPoP"), CERT),
    ] {
        let (status, challenges, body, _) = send(&f, refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            challenges[0].starts_with("Bearer realm=\"fapilab-bank\", error=\"invalid_token\""),
            "{challenges:?}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .contains("MT-07"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn unbound_inactive_and_underscoped_tokens_are_refused() {
    let f = fixture();
    let bearer = |token: &str| {
        with_cert(
            get("/accounts")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
            CERT,
        )
    };

    let (status, challenges, body, _) = send(&f, bearer("unbound-token")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, Value::from("invalid_token"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("FAPI2-SP-AS-04"),
        "{body}"
    );
    assert!(challenges[0].contains("error=\"invalid_token\""));

    let (status, challenges, body, _) = send(&f, bearer("revoked-or-unknown")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, Value::from("invalid_token"))
    );
    assert!(
        challenges[0].starts_with("Bearer realm=\"fapilab-bank\", error=\"invalid_token\""),
        "{challenges:?}"
    );

    let (status, challenges, body, _) = send(&f, bearer("no-scope-token")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::FORBIDDEN, Value::from("insufficient_scope"))
    );
    assert!(
        challenges[0].contains("error=\"insufficient_scope\"")
            && challenges[0].contains("scope=\"accounts\""),
        "{challenges:?}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("FAPI2-SP-RS-04"),
        "{body}"
    );

    let (status, challenges, body, _) = send(&f, bearer("as-down")).await;
    assert_eq!(
        (status, challenges.len()),
        (StatusCode::SERVICE_UNAVAILABLE, 0)
    );
    assert!(
        !body.to_string().contains("connection refused"),
        "the cause stays in the log: {body}"
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_bad_requests() {
    let f = fixture();
    let two = get("/accounts")
        .header(header::AUTHORIZATION, "Bearer mtls-token")
        .header(header::AUTHORIZATION, "Bearer mtls-token")
        .body(Body::empty())
        .expect("request");
    let empty = get("/accounts")
        .header(header::AUTHORIZATION, "Bearer")
        .body(Body::empty())
        .expect("request");
    let junk = get("/accounts")
        .header(header::AUTHORIZATION, "Bearer a,b")
        .body(Body::empty())
        .expect("request");
    for request in [two, empty, junk] {
        let (status, challenges, body, _) = send(&f, with_cert(request, CERT)).await;
        assert_eq!(
            (status, body["error"].clone()),
            (StatusCode::BAD_REQUEST, Value::from("invalid_request")),
            "{body}"
        );
        assert!(
            challenges[0].contains("error=\"invalid_request\""),
            "{challenges:?}"
        );
    }
}

#[tokio::test]
async fn other_methods_and_paths_do_not_need_a_token() {
    let f = fixture();
    let (status, _, body, _) = send(
        &f,
        Request::builder()
            .method("POST")
            .uri("/accounts")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(
        status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::UNAUTHORIZED,
        "{status} {body}"
    );
    let (status, _, body, _) =
        send(&f, get("/payments").body(Body::empty()).expect("request")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::NOT_FOUND, Value::from("not_found"))
    );
}

#[tokio::test]
async fn b_rs_13_customer_headers_are_accepted_when_valid_and_refused_when_malformed() {
    let f = fixture();
    let with = |name: &str, value: &str| {
        let mut request = dpop_request(&f, "DPoP", "/accounts");
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
        request
    };
    // FAPI 1.0 Part 1 §6.2.1-13 / §6.2.2: the spec's own examples pass.
    for (name, value) in [
        ("x-fapi-customer-ip-address", "198.51.100.119"),
        ("x-fapi-customer-ip-address", "2001:DB8::1893:25c8:1946"),
        ("x-fapi-auth-date", "Tue, 11 Sep 2012 19:43:31 GMT"),
    ] {
        let (status, _, body, _) = send(&f, with(name, value)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {value}: {body}");
    }
    for (name, value) in [
        ("x-fapi-customer-ip-address", "198.51.100.300"),
        ("x-fapi-customer-ip-address", "client.example"),
        ("x-fapi-auth-date", "2012-09-11T19:43:31Z"),
        ("x-fapi-auth-date", "Mon, 11 Sep 2012 19:43:31 GMT"),
    ] {
        let (status, _, body, response) = send(&f, with(name, value)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {value}");
        assert_eq!(body["error"], "invalid_request");
        assert!(body["error_description"].as_str().is_some_and(|d| d.contains(name)), "{body}");
        assert!(response.headers().contains_key("x-fapi-interaction-id"), "refusals carry the interaction id too");
    }
}
