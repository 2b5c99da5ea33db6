//! Steps: one file per step. A step sends something (changed by the scenario's mutations),
//! then checks what came back against the scenario's expectation (`success`, `rejected` or
//! `either`) and records conditions. Shared pieces live here: client authentication, DPoP
//! proofs (with the changes the negative tests need) and the `use_dpop_nonce` retry.

pub mod authorize;
pub mod backchannel_authorize;
pub mod call_resource;
pub mod check_headers;
pub mod check_passkey_claims;
pub mod check_tls;
pub mod ciba_token;
pub mod client_credentials;
pub mod delete_registration;
pub mod device_decide;
pub mod discover;
pub mod http_method;
pub mod introspect;
pub mod jwks;
pub mod par;
pub mod passkey_account;
pub mod passkey_login;
pub mod passkey_register;
pub mod passkey_remove;
pub mod ping_listener;
pub mod ping_notification;
pub mod read_registration;
pub mod refresh;
pub mod register;
pub mod reuse_code;
pub mod revoke;
pub mod set_fdx_status;
pub mod token;
pub mod update_registration;
pub mod userinfo;
pub mod wait;

use fapilab_jose::{SigningKey, b64};
use serde_json::{Map, Value, json};

use crate::conditions::Check;
use crate::context::{ModuleContext, Standing, client_rsa_key, client_signing_key};
use crate::http::{Request, Response, Via};
use crate::mutations::Mutations;
use crate::scenario::{Expect, StepSpec};
use crate::target::TargetClient;
use crate::variant::ClientAuth;

/// One step as the runner hands it over.
pub struct StepRun<'a> {
    pub spec: &'a StepSpec,
    pub mutations: Mutations,
    /// The client the step acts for (1 or 2).
    pub index: u8,
}

impl StepRun<'_> {
    pub fn expect(&self) -> Expect {
        self.spec.expect
    }

    pub fn has(&self, m: &str) -> bool {
        self.mutations.has(m)
    }

    /// The accepted error codes: the scenario's, else `defaults`.
    pub fn errors<'b>(&'b self, defaults: &'b [&'b str]) -> Vec<String> {
        if self.spec.errors.is_empty() { defaults.iter().map(|s| (*s).to_owned()).collect() } else { self.spec.errors.clone() }
    }

    pub fn param_u64(&self, name: &str) -> Option<u64> {
        self.spec.params.get(name).and_then(toml::Value::as_integer).and_then(|i| u64::try_from(i).ok())
    }

    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.spec.params.get(name).and_then(toml::Value::as_str)
    }

    pub fn param_bool(&self, name: &str) -> Option<bool> {
        self.spec.params.get(name).and_then(toml::Value::as_bool)
    }
}

/// The step's client, or a skip when the target has none for this variant.
pub fn need_client(ctx: &mut ModuleContext, index: u8) -> Option<TargetClient> {
    match ctx.client(index) {
        Some(c) => Some(c),
        None => {
            let v = ctx.variant;
            ctx.skip(format!("the target has no client {index} for client_auth={},sender={}", v.client_auth.as_str(), v.sender.as_str()));
            None
        }
    }
}

/// Records that the harness itself could not build or send what the step needed, and stops.
pub fn harness_problem(ctx: &mut ModuleContext, id: &str, what: &str, message: &str) {
    ctx.push(
        Check::new(id, format!("the harness could {what}"))
            .expected("the harness can build the request")
            .observed(message.to_owned())
            .hint("a problem with the target file (keys, certificates) or the harness, not necessarily the server")
            .pass(false),
    );
    ctx.aborted = true;
}

/// An endpoint from the metadata, or a failure condition and abort.
pub fn need_endpoint(ctx: &mut ModuleContext, client: &TargetClient, name: &str, requirement: &str) -> Option<String> {
    match ctx.endpoint(client, name) {
        Some(url) => Some(url),
        None => {
            ctx.push(
                Check::new(&format!("discovery.{name}"), format!("the metadata names the {name}"))
                    .req(&[requirement])
                    .expected(format!("`{name}` in the discovery document"))
                    .observed("absent")
                    .pass(false),
            );
            ctx.aborted = true;
            None
        }
    }
}

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Client authentication parameters for a back-channel call to `endpoint_url`, with the
/// assertion mutations applied (PKJ-01, PKJ-02, FAPI2-SP-AS-08; MT-01 for mTLS).
pub fn client_auth_params(ctx: &ModuleContext, client: &TargetClient, m: &Mutations) -> Result<Vec<(String, String)>, String> {
    let mut params = vec![("client_id".to_owned(), client.client_id.clone())];
    if client.auth == ClientAuth::Mtls || m.has("assertion_missing") || m.has("no_client_auth") {
        return Ok(params);
    }
    if m.has("assertion_replay") {
        // PKJ-04: the very assertion the server already accepted in this module.
        let Some(used) = ctx.http.accepted_assertion.as_ref().filter(|a| a.client_id == client.client_id) else {
            return Err(format!(
                "assertion_replay: no client assertion of {} was accepted earlier in this module; \
                 put a successful back-channel step (par, token, refresh) of this client before it",
                client.client_id
            ));
        };
        params.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
        params.push(("client_assertion".into(), used.assertion.clone()));
        return Ok(params);
    }
    let now = fapilab_jose::now();
    let issuer = ctx.target.issuer.clone();
    let mut claims = Map::new();
    let other_id = format!("{}-other", client.client_id);
    claims.insert("iss".into(), json!(if m.has("assertion_iss_other") { &other_id } else { &client.client_id }));
    if !m.has("assertion_no_sub") {
        claims.insert("sub".into(), json!(if m.has("assertion_sub_other") { &other_id } else { &client.client_id }));
    }
    let aud = if m.has("assertion_aud_other") {
        json!("https://other-server.example.com/")
    } else if m.has("assertion_aud_array") {
        json!([issuer])
    } else if m.has("assertion_aud_par_url") {
        // The URL the client calls: the mTLS alias when it uses its certificate, as the OIDF
        // suite does after copying `mtls_endpoint_aliases` over the endpoints.
        json!(ctx.endpoint(client, "pushed_authorization_request_endpoint").unwrap_or_default())
    } else if m.has("assertion_aud_token_url") {
        json!(ctx.endpoint(client, "token_endpoint").unwrap_or_default())
    } else {
        json!(issuer)
    };
    claims.insert("aud".into(), aud);
    claims.insert("jti".into(), json!(fapilab_jose::random_token(24)));
    let (iat, exp) = if m.has("assertion_exp_past") {
        (now - 360, now - 300)
    } else if m.has("assertion_nbf_plus_8") {
        claims.insert("nbf".into(), json!(now + 8));
        (now + 8, now + 68)
    } else if m.has("assertion_iat_plus_61") {
        claims.insert("nbf".into(), json!(now + 61));
        (now + 61, now + 121)
    } else {
        (now, now + 60)
    };
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
    let assertion = if m.has("assertion_rs256") {
        let key =
            client_rsa_key(client).ok_or_else(|| format!("client {} has no RSA key to sign an RS256 assertion with", client.client_id))?;
        sign_rs256(&key, Map::new(), &Value::Object(claims))?
    } else {
        let key = client_signing_key(client)?;
        fapilab_jose::jws::sign(&key, Map::new(), &Value::Object(claims)).map_err(|e| format!("signing the client assertion: {e}"))?
    };
    let assertion = if m.has("assertion_bad_signature") { corrupt_signature(&assertion)? } else { assertion };
    params.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
    params.push(("client_assertion".into(), assertion));
    Ok(params)
}

/// The compact JWS `jws` with one byte of its signature changed: header and claims stay valid,
/// the signature does not verify (PKJ-03 for client assertions, MS-AS-06 for request objects).
pub fn corrupt_signature(jws: &str) -> Result<String, String> {
    let (input, sig) = jws.rsplit_once('.').ok_or("not a compact JWS")?;
    let mut sig = b64::decode(sig).map_err(|e| format!("the JWS signature: {e}"))?;
    let b = sig.get_mut(5).ok_or("the JWS signature is too short")?;
    *b ^= 0x5a;
    Ok(format!("{input}.{}", b64::encode(&sig)))
}

/// Mutations that change only a `private_key_jwt` client assertion.
pub const ASSERTION_ONLY: &[&str] = &[
    "assertion_rs256",
    "assertion_missing",
    "assertion_exp_past",
    "assertion_aud_other",
    "assertion_aud_array",
    "assertion_aud_par_url",
    "assertion_aud_token_url",
    "assertion_no_sub",
    "assertion_iss_other",
    "assertion_sub_other",
    "assertion_nbf_plus_8",
    "assertion_iat_plus_61",
    "assertion_replay",
    "assertion_bad_signature",
];

/// Mutations that change only a DPoP proof (or its absence).
pub const DPOP_ONLY: &[&str] = &[
    "dpop_missing",
    "dpop_other_key",
    "dpop_jkt_mismatch",
    "dpop_jkt_only",
    "dpop_wrong_htm",
    "dpop_wrong_htu",
    "dpop_no_ath",
    "dpop_wrong_ath",
    "dpop_wrong_typ",
    "dpop_alg_none",
    "dpop_private_jwk",
    "dpop_bad_signature",
    "dpop_iat_plus_3600",
    "dpop_iat_minus_3600",
    "dpop_replay",
    "dpop_two_headers",
    "dpop_header_name_case",
    "bearer_scheme_for_dpop_token",
    "dpop_iat_minus_10",
    "dpop_iat_plus_8",
    "dpop_nbf_exp",
];

/// Skips the module when the step expects a refusal and one of its mutations has nothing to
/// change in this variant (an assertion mutation for an mTLS-authenticated client, a proof
/// mutation without DPoP): the unchanged request would be accepted and prove nothing. (With
/// `success` or `either`, such a mutation is simply a no-op.) Returns whether it skipped.
pub fn skip_inapplicable(ctx: &mut ModuleContext, step: &StepRun<'_>, client: &TargetClient) -> bool {
    let m = &step.mutations;
    if step.expect() != Expect::Rejected {
        return false;
    }
    let reason = if client.auth != ClientAuth::PrivateKeyJwt
        && let Some(name) = ASSERTION_ONLY.iter().find(|n| m.has(n))
    {
        Some(format!("mutation {name} applies to private_key_jwt clients only"))
    } else if !ctx.dpop()
        && let Some(name) = DPOP_ONLY.iter().find(|n| m.has(n))
    {
        Some(format!("mutation {name} applies to DPoP-bound tokens only"))
    } else if !ctx.signed_requests()
        && let Some(name) = crate::mutations::SIGNED_ONLY.iter().find(|n| m.has(n))
    {
        Some(format!("mutation {name} applies to plans with signed request objects only"))
    } else if !ctx.jarm()
        && let Some(name) = crate::mutations::JARM_ONLY.iter().find(|n| m.has(n))
    {
        Some(format!("mutation {name} applies to plans with JARM responses only"))
    } else if !ctx.jarm()
        && !ctx.hybrid()
        && let Some(name) = crate::mutations::JARM_OR_HYBRID.iter().find(|n| m.has(n))
    {
        Some(format!("mutation {name} applies to JARM or code id_token responses only"))
    } else {
        None
    };
    match reason {
        Some(r) => {
            ctx.skip(r);
            true
        }
        None => false,
    }
}

/// How much a refused-but-accepted request weighs: replay protection of client assertions
/// (PKJ-04) and DPoP proofs (DP-13) is a SHOULD, so an accepted replay is a warning.
pub fn rejection_severity(m: &Mutations) -> crate::model::Severity {
    if m.has("assertion_replay") || m.has("dpop_replay") {
        crate::model::Severity::Warning
    } else {
        crate::model::Severity::Failure
    }
}

/// `htu` of another endpoint of the server than `url` (for `dpop_wrong_htu`): the first of the
/// token, PAR and UserInfo endpoints that differs, else a URL on another host.
pub fn other_htu(ctx: &ModuleContext, url: &str) -> String {
    let own = htu_of(url);
    ["token_endpoint", "pushed_authorization_request_endpoint", "userinfo_endpoint"]
        .iter()
        .filter_map(|name| ctx.meta(name))
        .map(|u| htu_of(&u))
        .find(|u| *u != own)
        .unwrap_or_else(|| "https://other-server.fapilab.invalid/token".to_owned())
}

/// `htm` other than `method` (for `dpop_wrong_htm`): POST for a GET, PUT for a POST.
pub fn other_htm(method: &str) -> &'static str {
    if method == "GET" { "POST" } else { "PUT" }
}

/// For `dpop_replay`: the last proof the server accepted for `htm` and `url` in this module,
/// signed by `key` (so the replay differs from a valid request only in its reused `jti`).
pub fn proof_to_replay(ctx: &ModuleContext, key: &SigningKey, htm: &str, url: &str) -> Result<String, String> {
    let htu = htu_of(url);
    match ctx.http.accepted_proofs.get(&(htm.to_owned(), htu.clone())) {
        Some(p) if p.jkt == key.thumbprint() => Ok(p.proof.clone()),
        Some(_) => Err(format!("dpop_replay: the proof accepted for {htm} {htu} was signed by another key than this request's")),
        None => Err(format!(
            "dpop_replay: no DPoP proof for {htm} {htu} was accepted earlier in this module; put a successful step that sends one before it"
        )),
    }
}

/// Signs with RSASSA-PKCS1-v1_5 SHA-256 (`RS256`), which FAPI 2.0 forbids (FAPI2-SP-CR-02):
/// only for the negative tests. `header` gets `alg` and the key's `kid`.
pub fn sign_rs256(key: &SigningKey, mut header: Map<String, Value>, claims: &Value) -> Result<String, String> {
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let pair = RsaKeyPair::from_pkcs8(key.to_pkcs8_der()).map_err(|_| "the RSA key does not load".to_owned())?;
    header.insert("alg".into(), json!("RS256"));
    if let Some(kid) = key.kid() {
        header.insert("kid".into(), json!(kid));
    }
    let header = Value::Object(header);
    let input = format!("{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(claims.to_string().as_bytes()));
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
        .map_err(|_| "RS256 signing failed".to_owned())?;
    Ok(format!("{input}.{}", b64::encode(&sig)))
}

/// A form POST carrying a DPoP proof, for `send_with_nonce_retry`: the `replayed` proof when a
/// replay is tested, else a fresh proof by `key` with the mutations (a wrong `htm` or `htu`
/// included) and the server's nonce. Without a key (mTLS clients) no proof is added.
pub fn dpop_form_post(
    url: &str,
    form: &[(String, String)],
    replayed: Option<&str>,
    key: Option<&SigningKey>,
    m: &Mutations,
    wrong_htu: &str,
    nonce: Option<String>,
) -> Result<Request, String> {
    let req = Request::post_form(url, form.to_vec());
    if let Some(proof) = replayed {
        return Ok(req.header("DPoP", proof));
    }
    let Some(k) = key else { return Ok(req) };
    let mut p = Proof::new(k, "POST", url).with_mutations(m);
    p.nonce = nonce;
    if m.has("dpop_wrong_htm") {
        p.htm = other_htm("POST");
    }
    if m.has("dpop_wrong_htu") {
        p.htu = wrong_htu.to_owned();
    }
    Ok(req.header("DPoP", p.build()?))
}

/// A DPoP proof with the changes the negative tests need.
pub struct Proof<'a> {
    pub key: &'a SigningKey,
    pub htm: &'a str,
    pub htu: String,
    pub access_token: Option<&'a str>,
    pub nonce: Option<String>,
    pub iat_offset: i64,
    pub typ: &'a str,
    pub alg_none: bool,
    pub private_jwk: bool,
    pub bad_signature: bool,
    pub nbf_exp: bool,
    /// Replaces `ath` (wrong_ath); `Some("")` drops it.
    pub ath_override: Option<String>,
}

impl<'a> Proof<'a> {
    pub fn new(key: &'a SigningKey, htm: &'a str, url: &str) -> Proof<'a> {
        Proof {
            key,
            htm,
            htu: htu_of(url),
            access_token: None,
            nonce: None,
            iat_offset: 0,
            typ: fapilab_jose::dpop::DPOP_TYP,
            alg_none: false,
            private_jwk: false,
            bad_signature: false,
            nbf_exp: false,
            ath_override: None,
        }
    }

    /// Applies the proof mutations valid at every endpoint.
    pub fn with_mutations(mut self, m: &Mutations) -> Proof<'a> {
        if m.has("dpop_iat_minus_10") {
            self.iat_offset = -10;
        }
        if m.has("dpop_iat_plus_8") {
            self.iat_offset = 8;
        }
        if m.has("dpop_nbf_exp") {
            self.nbf_exp = true;
        }
        self
    }

    pub fn build(&self) -> Result<String, String> {
        let now = fapilab_jose::now();
        let jwk = if self.private_jwk { self.key.to_private_jwk() } else { self.key.public_jwk().to_minimal_value() };
        let alg = if self.alg_none { "none" } else { self.key.algorithm().as_str() };
        let header = json!({"typ": self.typ, "alg": alg, "jwk": jwk});
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(fapilab_jose::random_token(16)));
        claims.insert("htm".into(), json!(self.htm));
        claims.insert("htu".into(), json!(self.htu));
        claims.insert("iat".into(), json!(now + self.iat_offset));
        if self.nbf_exp {
            claims.insert("nbf".into(), json!(now));
            claims.insert("exp".into(), json!(now + 300));
        }
        match (&self.ath_override, self.access_token) {
            (Some(a), _) if a.is_empty() => {}
            (Some(a), _) => {
                claims.insert("ath".into(), json!(a));
            }
            (None, Some(t)) => {
                claims.insert("ath".into(), json!(fapilab_jose::dpop::ath(t)));
            }
            (None, None) => {}
        }
        if let Some(n) = &self.nonce {
            claims.insert("nonce".into(), json!(n));
        }
        let input = format!("{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(Value::Object(claims).to_string().as_bytes()));
        if self.alg_none {
            return Ok(format!("{input}."));
        }
        let mut sig = self.key.sign(input.as_bytes()).map_err(|e| format!("signing the DPoP proof: {e}"))?;
        if self.bad_signature
            && let Some(b) = sig.get_mut(5)
        {
            *b ^= 0x5a;
        }
        Ok(format!("{input}.{}", b64::encode(&sig)))
    }
}

/// `htu`: the URL without query and fragment (RFC 9449 §4.2).
pub fn htu_of(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_owned()
}

/// Whether a response asks for a DPoP nonce (DP-N-01 at the AS, DP-N-02 at an RS).
pub fn wants_nonce(resp: &Response) -> bool {
    matches!(resp.status, Some(400 | 401))
        && (resp.json_error().as_deref() == Some("use_dpop_nonce")
            || resp.header("www-authenticate").is_some_and(|w| w.contains("use_dpop_nonce")))
}

/// Sends the request `build` makes for the current nonce; when the server answers
/// `use_dpop_nonce` with a `DPoP-Nonce` header, stores it and retries once (FAPI2-SP-AS-11,
/// CL-08). `at_rs` picks the resource server's nonce instead of the AS's.
pub async fn send_with_nonce_retry(
    ctx: &mut ModuleContext,
    via: Via<'_>,
    index: u8,
    at_rs: bool,
    mut build: impl FnMut(Option<String>) -> Result<Request, String>,
) -> Result<Response, String> {
    let nonce = if at_rs { ctx.state(index).rs_nonce.clone() } else { ctx.state(index).as_nonce.clone() };
    let resp = ctx.http.send(via, build(nonce)?).await;
    let fresh = resp.header("dpop-nonce").map(str::to_owned);
    if let Some(n) = &fresh {
        if at_rs {
            ctx.state(index).rs_nonce = Some(n.clone());
        } else {
            ctx.state(index).as_nonce = Some(n.clone());
        }
    }
    if wants_nonce(&resp) {
        match fresh {
            Some(n) => {
                let retry = ctx.http.send(via, build(Some(n))?).await;
                if let Some(n2) = retry.header("dpop-nonce").map(str::to_owned) {
                    if at_rs {
                        ctx.state(index).rs_nonce = Some(n2);
                    } else {
                        ctx.state(index).as_nonce = Some(n2);
                    }
                }
                return Ok(retry);
            }
            None => ctx.push(
                Check::new("dpop.nonce_header", "a use_dpop_nonce error carries a DPoP-Nonce header")
                    .req(&["FAPI2-SP-AS-11"])
                    .expected("DPoP-Nonce header with the nonce to use")
                    .observed("use_dpop_nonce without DPoP-Nonce")
                    .evidence(&[resp.index])
                    .pass(false),
            ),
        }
    }
    Ok(resp)
}

/// DER of the first certificate of a PEM text.
pub fn cert_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = pem[start..].find("-----END CERTIFICATE-----")? + start;
    let body: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Requirement ids and default accepted errors when the server must refuse a client it no
/// longer serves: a deleted registration (DCM-05: `invalid_client`) or an inactive FDX status
/// (FDX-ST-02: `unauthorized_client`, and `invalid_client` which the FDX note also allows).
pub fn standing_rules(s: &Standing) -> (Vec<&'static str>, Vec<&'static str>) {
    match s {
        Standing::Deleted => (vec!["DCM-05"], vec!["invalid_client"]),
        Standing::FdxInactive(_) => (vec!["FDX-ST-02"], vec!["unauthorized_client", "invalid_client"]),
    }
}

/// Requirement ids and default accepted errors of an expected refusal: the mutations' rules,
/// or for a step without mutations whose client the server no longer serves, that reason.
pub fn refusal_rules(ctx: &ModuleContext, step: &StepRun<'_>) -> (Vec<&'static str>, Vec<&'static str>) {
    if step.mutations.is_empty()
        && let Some(s) = ctx.standing(step.index)
    {
        return standing_rules(&s);
    }
    mutation_rules(&step.mutations)
}

/// Requirement ids and default accepted errors for what a mutation breaks.
pub fn mutation_rules(m: &Mutations) -> (Vec<&'static str>, Vec<&'static str>) {
    let table: &[(&str, &[&str], &[&str])] = &[
        ("drop_pkce", &["FAPI2-SP-AZ-05", "PKCE-01"], &["invalid_request"]),
        ("pkce_plain", &["FAPI2-SP-AZ-05", "PKCE-01"], &["invalid_request"]),
        ("drop_code_verifier", &["FAPI2-SP-AZ-05", "PKCE-01"], &["invalid_grant", "invalid_request"]),
        ("wrong_code_verifier", &["FAPI2-SP-AZ-05", "PKCE-01"], &["invalid_grant"]),
        ("drop_redirect_uri", &["FAPI2-SP-AZ-06"], &["invalid_request", "invalid_request_object"]),
        ("unregistered_redirect_uri", &["FAPI2-SP-AS-07", "PAR-08"], &["invalid_request", "invalid_request_object"]),
        ("response_type_code_id_token", &["FAPI2-SP-AZ-01"], &["unsupported_response_type", "invalid_request", "unauthorized_client"]),
        ("response_type_token", &["FAPI2-SP-AZ-01"], &["unsupported_response_type", "invalid_request", "unauthorized_client"]),
        ("request_uri_in_par_body", &["PAR-04"], &["invalid_request", "invalid_request_object", "request_uri_not_supported"]),
        ("long_state", &["FAPI2-SP-AZ-17"], &["invalid_request"]),
        ("nonce_384", &["FAPI2-SP-AZ-14"], &["invalid_request"]),
        ("dpop_jkt_mismatch", &["DP-C-01", "FAPI2-SP-AS-13"], &["invalid_request", "invalid_dpop_proof"]),
        ("use_client_2", &["OA-04"], &["invalid_grant", "invalid_client"]),
        ("assertion_rs256", &["FAPI2-SP-CR-02", "PKJ-03"], &["invalid_client", "invalid_request"]),
        ("assertion_missing", &["FAPI2-SP-AZ-04", "FAPI2-SP-AS-03", "PKJ-01"], &["invalid_client", "invalid_request"]),
        ("assertion_exp_past", &["PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_aud_other", &["FAPI2-SP-AS-08", "PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_aud_array", &["FAPI2-SP-AS-08", "PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_aud_par_url", &["FAPI2-SP-AS-08", "PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_aud_token_url", &["FAPI2-SP-AS-08", "PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_no_sub", &["PKJ-02"], &["invalid_client", "invalid_request"]),
        ("assertion_iss_other", &["PKJ-02", "B-AS-19"], &["invalid_client", "invalid_request"]),
        ("assertion_sub_other", &["PKJ-02", "B-AS-19"], &["invalid_client", "invalid_request"]),
        ("response_type_code", &["A-AS-02"], &["unsupported_response_type", "invalid_request", "unauthorized_client"]),
        ("scope_only_outside", &["A-AS-10", "A-AS-23"], &["invalid_request", "invalid_request_object"]),
        ("redirect_uri_only_outside", &["A-AS-10", "A-AS-23"], &["invalid_request", "invalid_request_object"]),
        ("assertion_iat_plus_61", &["FAPI2-SP-AS-14"], &["invalid_client", "invalid_request"]),
        ("assertion_nbf_plus_8", &["FAPI2-SP-AS-14"], &[]),
        ("no_client_auth", &["FAPI2-SP-AS-03", "FAPI2-SP-AZ-04", "MT-04"], &["invalid_client", "invalid_request", "invalid_grant"]),
        ("dpop_missing", &["FAPI2-SP-AS-04", "DP-T-02"], &["invalid_request", "invalid_dpop_proof", "invalid_grant"]),
        ("dpop_other_key", &["FAPI2-SP-AS-13", "DP-C-02"], &["invalid_request", "invalid_grant", "invalid_dpop_proof"]),
        (
            "no_sender_constraint",
            &["FAPI2-SP-AS-04", "DP-T-02", "MT-06"],
            &["invalid_request", "invalid_grant", "invalid_dpop_proof", "invalid_client"],
        ),
        ("swap_certificate", &["MT-07", "MT-02"], &["invalid_client", "invalid_grant", "invalid_request"]),
        ("token_redirect_uri_mismatch", &["OA-04"], &["invalid_grant"]),
        ("assertion_replay", &["PKJ-04"], &["invalid_client", "invalid_request"]),
        ("assertion_bad_signature", &["PKJ-03"], &["invalid_client", "invalid_request"]),
        ("dpop_wrong_htm", &["DP-08"], &["invalid_dpop_proof", "invalid_request"]),
        ("dpop_wrong_htu", &["DP-09"], &["invalid_dpop_proof", "invalid_request"]),
        ("dpop_replay", &["DP-13"], &["invalid_dpop_proof", "invalid_request"]),
        ("dpop_iat_minus_10", &["DP-11"], &[]),
        ("dpop_iat_plus_8", &["FAPI2-SP-AS-14", "DP-11"], &[]),
        ("dpop_nbf_exp", &["DP-14"], &[]),
        ("response_mode_query", &["MS-JARM-01"], &["invalid_request"]),
        ("drop_response_mode", &["MS-JARM-01"], &["invalid_request"]),
    ];
    let mut reqs = Vec::new();
    let mut errors = Vec::new();
    for (name, r, e) in table {
        if m.has(name) {
            reqs.extend_from_slice(r);
            for x in *e {
                if !errors.contains(x) {
                    errors.push(*x);
                }
            }
        }
    }
    (reqs, errors)
}
