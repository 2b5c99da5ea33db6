//! Turning a presented access token into what it grants: [`TokenInfo`].
//!
//! Two validators, chosen by [`crate::bank::TokenValidation`]:
//!
//! * [`Introspection`] (the default) asks the authorization server on every request
//!   (RFC 7662, INT-01..INT-03), authenticating as the resource-server client `bank` with
//!   `private_key_jwt` (RFC 7523: `aud` is the issuer, a fresh `jti`, a one-minute `exp`).
//!   Nothing is cached, so a revoked token is refused on its next use (FAPI2-SP-RS-03).
//! * [`JwtAccessTokens`] verifies RFC 9068 JWT access tokens locally against the
//!   authorization server's JWKS, fetched on first use (JAT-03): `typ` `at+jwt`, the
//!   signature, `iss`, `aud` containing the bank's audience, and `exp`. It cannot see a
//!   revocation before the token expires, which is why it is not the default.
//!
//! Sender-constraint and scope checks happen after this, in `token_check`, on the `cnf` and
//! `scope` reported here.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use fapilab_jose::jws::CompactJws;
use fapilab_jose::{Jwks, SigningKey};
use serde_json::{Map, Value, json};

use crate::error::SandboxError;

/// A boxed future, so that validators can live behind `dyn TokenValidator`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long the bank waits for the authorization server.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lifetime of the bank's client assertions.
const ASSERTION_LIFETIME: i64 = 60;
/// Tolerated clock difference for `nbf` of JWT access tokens.
const CLOCK_SKEW: i64 = 10;

/// What a valid, active access token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The user (or, for client credentials, the client) the token speaks for.
    pub subject: String,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    /// `cnf.jkt` (RFC 9449 §6): the token is DPoP-bound to this key thumbprint.
    pub jkt: Option<String>,
    /// `cnf.x5t#S256` (RFC 8705 §3.1): the token is bound to this certificate thumbprint.
    pub x5t_s256: Option<String>,
    pub expires_at: Option<i64>,
}

impl TokenInfo {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Reads `sub`, `client_id`, `scope`, `cnf` and `exp` from an introspection response
    /// or JWT claims set.
    fn from_claims(claims: &Map<String, Value>) -> Result<TokenInfo, TokenRejection> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                TokenRejection::Invalid("the access token names no subject (sub) [JAT-02]".into())
            })?;
        let cnf = claims.get("cnf").and_then(Value::as_object);
        let cnf_member = |name: &str| {
            cnf.and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(TokenInfo {
            subject: subject.to_owned(),
            client_id: claims
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            scopes: claims
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            jkt: cnf_member("jkt"),
            x5t_s256: cnf_member("x5t#S256"),
            expires_at: claims.get("exp").and_then(Value::as_i64),
        })
    }
}

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// Unknown, expired, revoked, forged or not meant for this bank: 401 `invalid_token`.
    /// The text is client-safe and names the requirement.
    Invalid(String),
    /// The authorization server could not be asked; the text is for the operator log only.
    Unavailable(String),
}

/// Validates access tokens. Implemented by [`Introspection`] and [`JwtAccessTokens`]; tests
/// plug in their own.
pub trait TokenValidator: Send + Sync {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenInfo, TokenRejection>>;
}

/// Several authorization servers (the sandbox's workspaces), each with its own validator.
///
/// A JWT access token names its issuer: its unverified `iss` picks the validator, which then
/// checks everything (signature, `iss`, …) as usual. An opaque token names nothing, so each
/// server is asked in turn until one knows it; a token every server refuses is refused with
/// the first server's reason.
pub struct ByIssuer {
    servers: Vec<(String, Box<dyn TokenValidator>)>,
}

impl ByIssuer {
    /// `servers`: (issuer, validator) pairs, asked in this order for opaque tokens.
    pub fn new(servers: Vec<(String, Box<dyn TokenValidator>)>) -> ByIssuer {
        ByIssuer { servers }
    }
}

/// The `iss` of a JWT, read without verification (only to route it).
fn unverified_issuer(token: &str) -> Option<String> {
    let claims = CompactJws::parse(token).ok()?.claims().ok()?;
    claims.get("iss").and_then(Value::as_str).map(str::to_owned)
}

impl TokenValidator for ByIssuer {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenInfo, TokenRejection>> {
        Box::pin(async move {
            if let Some(iss) = unverified_issuer(token) {
                return match self.servers.iter().find(|(issuer, _)| *issuer == iss) {
                    Some((_, validator)) => validator.validate(token).await,
                    None => Err(TokenRejection::Invalid("the access token was issued by an authorization server this bank does not trust [JAT-02]".into())),
                };
            }
            let mut first = None;
            for (_, validator) in &self.servers {
                match validator.validate(token).await {
                    Ok(info) => return Ok(info),
                    Err(rejection) => {
                        first.get_or_insert(rejection);
                    }
                }
            }
            Err(first.unwrap_or_else(|| TokenRejection::Invalid("no authorization server is configured [FAPI2-SP-RS-03]".into())))
        })
    }
}

/// Where the authorization server is and how to trust it.
#[derive(Debug, Clone)]
pub struct AuthorizationServer {
    /// The issuer identifier; the `aud` of the bank's client assertions and the expected `iss`.
    pub issuer: String,
    /// Introspection endpoint on the listener that does not ask for client certificates.
    pub introspection_endpoint: String,
    pub jwks_uri: String,
    /// PEM trust anchors for the authorization server's TLS certificate.
    pub ca_pem: Vec<u8>,
}

fn http_client(ca_pem: &[u8]) -> Result<reqwest::Client, SandboxError> {
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem)
        .map_err(|e| SandboxError::HttpClient(format!("CA certificate: {e}")))?;
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .no_proxy()
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|e| SandboxError::HttpClient(e.to_string()))
}

/// RFC 7662 introspection on every request.
pub struct Introspection {
    http: reqwest::Client,
    endpoint: String,
    issuer: String,
    audience: String,
    client_id: String,
    key: SigningKey,
}

impl Introspection {
    /// `key` signs the `private_key_jwt` assertions of `client_id`; `audience` is the bank's
    /// identifier, which an introspection answer's `aud`, when present, must contain.
    pub fn new(
        server: &AuthorizationServer,
        audience: &str,
        client_id: &str,
        key: SigningKey,
    ) -> Result<Introspection, SandboxError> {
        Ok(Introspection {
            http: http_client(&server.ca_pem)?,
            endpoint: server.introspection_endpoint.clone(),
            issuer: server.issuer.clone(),
            audience: audience.to_owned(),
            client_id: client_id.to_owned(),
            key,
        })
    }

    fn client_assertion(&self, now: i64) -> Result<String, TokenRejection> {
        let jti = fapilab_jose::try_random_token(18)
            .map_err(|e| TokenRejection::Unavailable(e.to_string()))?;
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "jti": jti,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        fapilab_jose::jws::sign(&self.key, Map::new(), &claims)
            .map_err(|e| TokenRejection::Unavailable(format!("signing the client assertion: {e}")))
    }

    async fn introspect(&self, token: &str) -> Result<TokenInfo, TokenRejection> {
        let now = fapilab_jose::now();
        let assertion = self.client_assertion(now)?;
        let form = [
            ("token", token),
            ("token_type_hint", "access_token"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let response = self
            .http
            .post(&self.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                TokenRejection::Unavailable(format!(
                    "introspection request to {}: {e}",
                    self.endpoint
                ))
            })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| {
            TokenRejection::Unavailable(format!("introspection answer ({status}) is not JSON: {e}"))
        })?;
        if !status.is_success() {
            return Err(TokenRejection::Unavailable(format!(
                "introspection answered {status}: {body}"
            )));
        }
        let Some(claims) = body.as_object() else {
            return Err(TokenRejection::Unavailable(
                "introspection answer is not a JSON object".into(),
            ));
        };
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenRejection::Invalid(
                "the access token is not active: unknown, expired or revoked [FAPI2-SP-RS-03]"
                    .into(),
            ));
        }
        if claims
            .get("iss")
            .and_then(Value::as_str)
            .is_some_and(|iss| iss != self.issuer)
        {
            return Err(TokenRejection::Invalid(
                "the access token was issued by another authorization server [FAPI2-SP-RS-03]"
                    .into(),
            ));
        }
        if claims.contains_key("aud") && !audience_contains(claims.get("aud"), &self.audience) {
            return Err(TokenRejection::Invalid(format!(
                "the access token is not meant for this bank: its audience lacks {} [FAPI2-SP-RS-03]",
                self.audience
            )));
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp <= now)
        {
            return Err(TokenRejection::Invalid(
                "the access token has expired [FAPI2-SP-RS-03]".into(),
            ));
        }
        TokenInfo::from_claims(claims)
    }
}

impl TokenValidator for Introspection {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenInfo, TokenRejection>> {
        Box::pin(self.introspect(token))
    }
}

/// Local verification of RFC 9068 JWT access tokens.
pub struct JwtAccessTokens {
    /// `None` when the key set was handed over and is never fetched.
    http: Option<reqwest::Client>,
    jwks_uri: String,
    issuer: String,
    audience: String,
    jwks: tokio::sync::OnceCell<Jwks>,
}

impl JwtAccessTokens {
    pub fn new(
        server: &AuthorizationServer,
        audience: &str,
    ) -> Result<JwtAccessTokens, SandboxError> {
        Ok(JwtAccessTokens {
            http: Some(http_client(&server.ca_pem)?),
            jwks_uri: server.jwks_uri.clone(),
            issuer: server.issuer.clone(),
            audience: audience.to_owned(),
            jwks: tokio::sync::OnceCell::new(),
        })
    }

    /// A validator with a known key set, for tests and for callers that already hold it.
    pub fn with_jwks(issuer: &str, audience: &str, jwks: Jwks) -> JwtAccessTokens {
        JwtAccessTokens {
            http: None,
            jwks_uri: String::new(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            jwks: tokio::sync::OnceCell::new_with(Some(jwks)),
        }
    }

    /// Fetches the key set on first use; a failed fetch is retried on the next request.
    async fn jwks(&self) -> Result<&Jwks, TokenRejection> {
        self.jwks
            .get_or_try_init(|| async {
                let fail = |e: String| {
                    TokenRejection::Unavailable(format!("fetching {}: {e}", self.jwks_uri))
                };
                let http = self
                    .http
                    .as_ref()
                    .ok_or_else(|| fail("no HTTP client to fetch the key set with".into()))?;
                let response = http
                    .get(&self.jwks_uri)
                    .send()
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(fail(format!("status {status}")));
                }
                let value: Value = response.json().await.map_err(|e| fail(e.to_string()))?;
                Jwks::from_value(&value).map_err(|e| fail(e.to_string()))
            })
            .await
    }

    async fn verify(&self, token: &str) -> Result<TokenInfo, TokenRejection> {
        let jwks = self.jwks().await?;
        verify_jwt_access_token(
            token,
            jwks,
            &self.issuer,
            &self.audience,
            fapilab_jose::now(),
        )
    }
}

impl TokenValidator for JwtAccessTokens {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenInfo, TokenRejection>> {
        Box::pin(self.verify(token))
    }
}

/// The JAT-03 checks, without I/O.
pub fn verify_jwt_access_token(
    token: &str,
    jwks: &Jwks,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<TokenInfo, TokenRejection> {
    let invalid = |s: &str| TokenRejection::Invalid(s.to_owned());
    let jws = CompactJws::parse(token).map_err(|_| {
        invalid("the access token is not a JWT issued by the authorization server [JAT-03]")
    })?;
    let typ_ok = jws.typ().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(invalid(
            "the token's typ is not at+jwt: ID tokens and other JWTs are not access tokens [JAT-03]",
        ));
    }
    jws.verify_with_jwks(jwks)
        .map_err(|_| invalid("the access token's signature does not verify with the authorization server's keys [JAT-03, FAPI2-SP-RS-03]"))?;
    let claims = jws
        .claims()
        .map_err(|_| invalid("the access token's payload is not a JSON object [JAT-03]"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(invalid(
            "the access token was issued by another authorization server (iss) [JAT-03]",
        ));
    }
    if !audience_contains(claims.get("aud"), audience) {
        return Err(TokenRejection::Invalid(format!(
            "the access token is not meant for this bank: its aud lacks {audience} [JAT-03]"
        )));
    }
    match claims.get("exp").and_then(Value::as_i64) {
        None => return Err(invalid("the access token has no exp [JAT-02]")),
        Some(exp) if exp <= now => {
            return Err(invalid(
                "the access token has expired [JAT-03, FAPI2-SP-RS-03]",
            ));
        }
        Some(_) => {}
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + CLOCK_SKEW)
    {
        return Err(invalid("the access token is not valid yet (nbf) [JAT-03]"));
    }
    TokenInfo::from_claims(&claims)
}

/// Whether an `aud` claim (a string or an array of strings) contains `audience`.
fn audience_contains(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == audience,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fapilab_jose::Algorithm;

    const ISSUER: &str = "https://as.example/t/w";
    const AUD: &str = "urn:fapilab:bank";
    const NOW: i64 = 1_750_000_000;

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::Es256, Some("as-1".into())).expect("key")
    }

    fn jwks(key: &SigningKey) -> Jwks {
        Jwks::from_value(&json!({ "keys": [key.public_jwk().to_value()] })).expect("jwks")
    }

    fn token(key: &SigningKey, typ: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = json!({
            "iss": ISSUER, "sub": "user-1", "aud": AUD, "client_id": "c1",
            "iat": NOW, "exp": NOW + 300, "jti": "j1", "scope": "openid accounts",
            "cnf": { "jkt": "thumb" },
        });
        edit(&mut claims);
        let mut header = Map::new();
        header.insert("typ".into(), json!(typ));
        fapilab_jose::jws::sign(key, header, &claims).expect("sign")
    }

    #[tokio::test]
    async fn by_issuer_routes_jwts_by_iss_and_asks_every_server_about_opaque_tokens() {
        const OTHER: &str = "https://as.example/t/fdx";
        let (first, second) = (key(), key());
        let router = ByIssuer::new(vec![
            (ISSUER.to_owned(), Box::new(JwtAccessTokens::with_jwks(ISSUER, AUD, jwks(&first))) as Box<dyn TokenValidator>),
            (OTHER.to_owned(), Box::new(JwtAccessTokens::with_jwks(OTHER, AUD, jwks(&second)))),
        ]);
        let far_future = |c: &mut Value| c["exp"] = json!(fapilab_jose::now() + 300);
        let from_other = token(&second, "at+jwt", |c| {
            c["iss"] = json!(OTHER);
            far_future(c);
        });
        assert!(router.validate(&from_other).await.is_ok(), "the second server's token is routed to it");
        let forged = token(&first, "at+jwt", |c| {
            c["iss"] = json!(OTHER);
            far_future(c);
        });
        assert!(matches!(router.validate(&forged).await, Err(TokenRejection::Invalid(_))), "signed by the wrong server");
        let stranger = token(&first, "at+jwt", |c| {
            c["iss"] = json!("https://elsewhere.example");
            far_future(c);
        });
        let refused = router.validate(&stranger).await.expect_err("unknown issuer");
        assert!(matches!(&refused, TokenRejection::Invalid(d) if d.contains("does not trust")), "{refused:?}");
        assert!(matches!(router.validate("opaque-handle").await, Err(TokenRejection::Invalid(_))), "every server refuses it");
    }

    fn check(token: &str, jwks: &Jwks) -> Result<TokenInfo, TokenRejection> {
        verify_jwt_access_token(token, jwks, ISSUER, AUD, NOW)
    }

    fn rejected_with(result: Result<TokenInfo, TokenRejection>, needle: &str) {
        match result {
            Err(TokenRejection::Invalid(text)) => assert!(text.contains(needle), "{text}"),
            other => panic!("expected a rejection mentioning {needle}, got {other:?}"),
        }
    }

    #[test]
    fn a_good_token_gives_its_grant() {
        let k = key();
        let info = check(&token(&k, "at+jwt", |_| {}), &jwks(&k)).expect("valid");
        assert_eq!(info.subject, "user-1");
        assert!(info.has_scope("accounts"));
        assert_eq!(info.jkt.as_deref(), Some("thumb"));
        assert_eq!(info.x5t_s256, None);
        let array_aud = token(&k, "application/AT+JWT", |c| {
            c["aud"] = json!(["other", AUD])
        });
        assert!(check(&array_aud, &jwks(&k)).is_ok());
    }

    #[test]
    fn jat_03_checks() {
        let k = key();
        let keys = jwks(&k);
        rejected_with(check(&token(&k, "JWT", |_| {}), &keys), "typ");
        rejected_with(
            check(
                &token(&k, "at+jwt", |c| c["iss"] = json!("https://evil")),
                &keys,
            ),
            "iss",
        );
        rejected_with(
            check(
                &token(&k, "at+jwt", |c| c["aud"] = json!("urn:other")),
                &keys,
            ),
            "aud",
        );
        rejected_with(
            check(&token(&k, "at+jwt", |c| c["exp"] = json!(NOW)), &keys),
            "expired",
        );
        rejected_with(
            check(&token(&k, "at+jwt", |c| c["nbf"] = json!(NOW + 60)), &keys),
            "nbf",
        );
        rejected_with(check(&token(&key(), "at+jwt", |_| {}), &keys), "signature");
        rejected_with(check("opaque-token", &keys), "not a JWT");
        let mut tampered = token(&k, "at+jwt", |_| {});
        tampered.push('A');
        assert!(check(&tampered, &keys).is_err());
    }
}
