//! `par`: push an authorization request (RFC 9126; FAPI2-SP-AZ-02, AZ-04, AZ-05, AZ-06,
//! AS-13): client authentication per variant (assertion with `aud` = the issuer string, or the
//! client certificate on the `mtls_endpoint_aliases` endpoint), PKCE S256, `state`, `nonce`
//! (openid variants), `redirect_uri`, and under DPoP a proof that binds the code to the
//! client's DPoP key (RFC 9449 §10.1).
//!
//! In a plan with signed requests every authorization parameter goes into a request object
//! signed with the client's key (RFC 9101 §4, RFC 9126 §3; MS-CL-01…MS-CL-05): header `typ`
//! `oauth-authz-req+jwt` and `kid`, claims `iss` = `client_id` = the client, `aud` = the
//! issuer, `iat` = `nbf` = now, `exp` = now + 300, `jti`; the form carries only the client
//! authentication, `client_id` and `request`. The parameter mutations change the parameters
//! inside the object; the `request_object_*` mutations change the object itself. In a plan
//! with JARM responses the parameters include `response_mode` (`jwt` unless a mutation picks
//! another mode; MS-JARM-CL-01).
//!
//! FAPI 1.0 Advanced: with `code id_token` responses the request asks for `response_type=code
//! id_token` and no `response_mode` (the fragment, OIDC Core 3.3.2.5). By value (A-AS-01) this
//! step only prepares the request — the signed request object and the parameters the
//! `authorize` step repeats in the URL (A-AS-19) — and sends nothing: the authorization
//! endpoint is where it is judged. PKCE goes with every pushed request (A-AS-18) and by value
//! only with `pkce_by_value`.

use std::time::Instant;

use fapilab_jose::{Algorithm, SigningKey, b64};
use serde_json::{Map, Value, json};

use super::{
    StepRun, client_auth_params, corrupt_signature, dpop_form_post, harness_problem, need_client, need_endpoint,
    other_htu, proof_to_replay, refusal_rules, rejection_severity, send_with_nonce_retry, sign_rs256, skip_inapplicable,
};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::{Check, par, request_object};
use crate::context::{Flow, ModuleContext, client_signing_key};
use crate::http::Response;
use crate::mutations::Mutations;
use crate::scenario::Expect;
use crate::target::TargetClient;

/// The JOSE `typ` of a request object (RFC 9101 §10.8; MS-CL-05).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// Lifetime of the harness's request objects: well inside MS-CL-04's 60 minutes.
const REQUEST_OBJECT_LIFETIME: i64 = 300;

/// An `aud` for another server.
const OTHER_AUDIENCE: &str = "https://other-server.fapilab.invalid/";

/// Mutations of what only a pushed request carries: nothing to change by value.
const PUSHED_ONLY: &[&str] = &["request_uri_in_par_body", "no_client_auth"];

/// A redirect URI no client registers (and that resolves nowhere).
pub const UNREGISTERED_REDIRECT: &str = "https://unregistered.fapilab.invalid/callback";

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if skip_inapplicable(ctx, step, &client) || !ctx.ensure_discovery().await {
        return;
    }
    let m = &step.mutations;
    let by_value = ctx.by_value();
    if by_value && let Some(name) = PUSHED_ONLY.iter().chain(super::ASSERTION_ONLY).chain(super::DPOP_ONLY).find(|n| m.has(n)) {
        // Nothing is pushed by value: a refusal could not be seen, an acceptance proves nothing.
        if step.expect() == Expect::Rejected {
            return ctx.skip(format!("mutation {name} changes a pushed request; this variant sends its request by value"));
        }
        ctx.push(
            Check::new("par.by_value_mutation", format!("mutation {name} has nothing to change by value"))
                .info()
                .expected("a pushed request to change")
                .observed("the request is sent by value, without client authentication: the mutation is not applied here")
                .pass(true),
        );
    }
    let url = if by_value {
        String::new()
    } else {
        match need_endpoint(ctx, &client, "pushed_authorization_request_endpoint", "FAPI2-SP-AZ-02") {
            Some(u) => u,
            None => return,
        }
    };

    // What the request carries.
    let redirect_uri = if m.has("drop_redirect_uri") {
        None
    } else if m.has("unregistered_redirect_uri") {
        Some(UNREGISTERED_REDIRECT.to_owned())
    } else if m.has("redirect_uri_with_query") {
        match &client.second_redirect_uri {
            Some(u) if u.contains('?') => Some(u.clone()),
            Some(u) => Some(format!("{u}?dummy1=lorem&dummy2=ipsum")),
            None => {
                ctx.skip(format!("client {} has no second_redirect_uri in the target", client.client_id));
                return;
            }
        }
    } else {
        Some(client.redirect_uri.clone())
    };
    let mut scope = ctx.target.scope(&ctx.variant).to_owned();
    if m.has("reverse_scope_order") {
        scope = scope.split_whitespace().rev().collect::<Vec<_>>().join(" ");
    }
    let state = if m.has("drop_state") || m.has("state_outside_par") {
        None
    } else if m.has("long_state") {
        Some(long_random(1000))
    } else {
        Some(fapilab_jose::random_token(32))
    };
    let nonce = if !ctx.openid() || m.has("drop_nonce") {
        None
    } else if m.has("nonce_64") {
        Some(long_random(64))
    } else if m.has("nonce_384") {
        Some(long_random(384))
    } else {
        Some(fapilab_jose::random_token(32))
    };
    let pkce = !m.has("drop_pkce") && (!by_value || m.has("pkce_by_value"));
    let code_verifier = fapilab_jose::random_token(32);
    let mut front_extra = Vec::new();
    if m.has("state_outside_par") {
        front_extra.push(("state".to_owned(), fapilab_jose::random_token(32)));
    }
    if m.has("nonce_outside_par") {
        front_extra.push(("nonce".to_owned(), fapilab_jose::random_token(32)));
    }

    let mut params: Vec<(String, String)> = Vec::new();
    let response_type = if m.has("response_type_code_id_token") {
        "code id_token"
    } else if m.has("response_type_token") {
        "token"
    } else if m.has("response_type_code") || !ctx.hybrid() {
        "code"
    } else {
        "code id_token"
    };
    params.push(("response_type".into(), response_type.into()));
    if let Some(r) = &redirect_uri {
        if m.has("redirect_uri_only_outside") {
            front_extra.push(("redirect_uri".to_owned(), r.clone()));
        } else {
            params.push(("redirect_uri".into(), r.clone()));
        }
    }
    if m.has("scope_only_outside") {
        front_extra.push(("scope".to_owned(), scope.clone()));
    } else {
        params.push(("scope".into(), scope.clone()));
    }
    if let Some(s) = &state {
        params.push(("state".into(), s.clone()));
    }
    if let Some(n) = &nonce {
        params.push(("nonce".into(), n.clone()));
    }
    if pkce {
        if m.has("pkce_plain") {
            params.push(("code_challenge".into(), code_verifier.clone()));
            params.push(("code_challenge_method".into(), "plain".into()));
        } else {
            params.push(("code_challenge".into(), fapilab_jose::sha256_b64url(code_verifier.as_bytes())));
            params.push(("code_challenge_method".into(), "S256".into()));
        }
    }
    let response_mode = if m.has("response_type_code") {
        None
    } else if ctx.jarm() {
        jarm_response_mode(m)
    } else if m.has("response_mode_query") {
        Some("query".to_owned())
    } else {
        None
    };
    if let Some(mode) = &response_mode {
        params.push(("response_mode".into(), mode.clone()));
    }
    // Form parameters that stay outside a request object: PAR-04 in a plain request, MS-AS-09
    // (`request` with `request_uri`) in a signed one.
    let mut outside = Vec::new();
    if m.has("request_uri_in_par_body") {
        outside.push(("request_uri".to_owned(), format!("{}{}", par::REQUEST_URI_PREFIX, fapilab_jose::random_token(24))));
    }

    if by_value {
        let other = ctx.client(if step.index == 1 { 2 } else { 1 });
        let request_object = if m.has("no_request_object") {
            // Every parameter in the URL instead (A-AS-01).
            front_extra.extend(params.iter().cloned());
            None
        } else {
            match build_request_object(ctx, &client, other.as_ref(), &params, m) {
                Ok(object) => Some(object),
                Err(ObjectError::Skip(reason)) => return ctx.skip(reason),
                Err(ObjectError::Problem(e)) => return harness_problem(ctx, "par.harness", "build the request object", &e),
            }
        };
        if m.has("params_outside_request_object") {
            // The URL already repeats response_type, client_id and scope (A-AS-19).
            front_extra.extend(outside_copy(&client, &params).into_iter().filter(|(k, _)| !matches!(k.as_str(), "response_type" | "scope")));
        }
        ctx.push(
            Check::new("par.by_value", "by value, the request is sent in the authorization URL, not pushed")
                .req(&["A-AS-01"])
                .info()
                .expected("a signed request object for the authorize step")
                .observed(match &request_object {
                    Some(_) => format!("request object prepared ({})", m.label()),
                    None => "no request object: every parameter in the URL".to_owned(),
                })
                .pass(true),
        );
        let st = ctx.state(step.index);
        st.flow = Some(Flow {
            request_uri: None,
            expires_in: None,
            pushed_at: Instant::now(),
            state,
            nonce,
            code_verifier: pkce.then_some(code_verifier),
            redirect_uri,
            scope,
            response_type: response_type.to_owned(),
            request_object,
            mutations: m.clone(),
            dpop_jkt: None,
            front_extra,
            front_reorder: m.has("reorder_authorize_params"),
            response_mode,
        });
        st.par_rejected = false;
        st.code = None;
        return;
    }

    // DPoP: which key the proof is signed with, and which thumbprint dpop_jkt names.
    let dpop = ctx.dpop();
    let mut proof_key = None;
    let mut dpop_jkt_param = None;
    if dpop && !m.has("dpop_missing") {
        let own = ctx.state(step.index).dpop_key.clone();
        let other = if m.has("dpop_other_key") || m.has("dpop_jkt_mismatch") {
            match SigningKey::generate(Algorithm::Es256, None) {
                Ok(k) => Some(std::sync::Arc::new(k)),
                Err(e) => return harness_problem(ctx, "par.harness", "generate a second DPoP key", &e.to_string()),
            }
        } else {
            None
        };
        if m.has("dpop_jkt_only") {
            dpop_jkt_param = Some(own.thumbprint());
        } else if m.has("dpop_jkt_mismatch") {
            proof_key = Some(own.clone());
            dpop_jkt_param = other.as_ref().map(|k| k.thumbprint());
        } else if let Some(o) = other {
            proof_key = Some(o);
        } else {
            proof_key = Some(own);
        }
    }
    if let Some(j) = &dpop_jkt_param {
        params.push(("dpop_jkt".into(), j.clone()));
    }
    let bound_jkt = dpop_jkt_param.clone().or_else(|| proof_key.as_ref().map(|k| k.thumbprint()));

    let auth = match client_auth_params(ctx, &client, m) {
        Ok(a) => a,
        Err(e) => {
            if m.has("assertion_rs256") {
                ctx.skip(e);
                return;
            }
            return harness_problem(ctx, "par.harness", "build the client authentication", &e);
        }
    };
    let via = if m.has("no_client_auth") && client.auth == crate::variant::ClientAuth::Mtls {
        crate::http::Via::Plain
    } else {
        ctx.via_for(&client)
    };
    let mut form = auth;
    if ctx.signed_requests() && !m.has("no_request_object") {
        let other = ctx.client(if step.index == 1 { 2 } else { 1 });
        match build_request_object(ctx, &client, other.as_ref(), &params, m) {
            Ok(object) => form.push(("request".into(), object)),
            Err(ObjectError::Skip(reason)) => {
                ctx.skip(reason);
                return;
            }
            Err(ObjectError::Problem(e)) => return harness_problem(ctx, "par.harness", "build the request object", &e),
        }
        if m.has("params_outside_request_object") {
            form.extend(outside_copy(&client, &params));
        }
    } else {
        form.extend(params);
    }
    form.extend(outside);
    let url_for_proof = url.clone();
    let m2 = m.clone();
    let replayed = match (&proof_key, m.has("dpop_replay")) {
        (Some(k), true) => match proof_to_replay(ctx, k, "POST", &url) {
            Ok(p) => Some(p),
            Err(e) => return harness_problem(ctx, "par.harness", "find the DPoP proof to replay", &e),
        },
        _ => None,
    };
    let wrong_htu = other_htu(ctx, &url);
    let resp = send_with_nonce_retry(ctx, via, step.index, false, |nonce| {
        dpop_form_post(&url_for_proof, &form, replayed.as_deref(), proof_key.as_deref(), &m2, &wrong_htu, nonce)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "par.harness", "build the PAR request", &e),
    };

    let flow = Flow {
        request_uri: None,
        expires_in: None,
        pushed_at: Instant::now(),
        state,
        nonce,
        code_verifier: pkce.then_some(code_verifier),
        redirect_uri,
        scope,
        response_type: response_type.to_owned(),
        request_object: None,
        mutations: m.clone(),
        dpop_jkt: bound_jkt,
        front_extra,
        front_reorder: m.has("reorder_authorize_params"),
        response_mode,
    };
    judge(ctx, step, &resp, flow, via_is_plain_for_mtls(&client, m));
}

fn via_is_plain_for_mtls(client: &crate::target::TargetClient, m: &crate::mutations::Mutations) -> bool {
    m.has("no_client_auth") && client.auth == crate::variant::ClientAuth::Mtls
}

fn judge(ctx: &mut ModuleContext, step: &StepRun<'_>, resp: &Response, mut flow: Flow, tls_refusal_ok: bool) {
    let (mut reqs, mut default_errors) = refusal_rules(ctx, step);
    let object_rule = request_object::rule(&step.mutations);
    if let Some(rule) = &object_rule {
        reqs.extend_from_slice(rule.requirements);
        default_errors.extend_from_slice(rule.errors);
    }
    if ctx.signed_requests() && step.has("request_uri_in_par_body") {
        // RFC 9126 §3: a pushed request with `request` must not carry `request_uri` too.
        reqs.push("MS-AS-09");
    }
    let accepted = resp.status == Some(201);
    let expect = step.expect();
    if expect == Expect::Success || (expect == Expect::Either && accepted) {
        let (conds, next) = par::success(resp);
        ctx.extend(conds);
        match next {
            Some((request_uri, expires_in)) => {
                flow.request_uri = Some(request_uri);
                flow.expires_in = expires_in;
                let st = ctx.state(step.index);
                st.flow = Some(flow);
                st.par_rejected = false;
                st.code = None;
            }
            None => ctx.aborted = true,
        }
        return;
    }
    let errors = step.errors(&default_errors);
    let mut req_ids: Vec<&str> = reqs.clone();
    if req_ids.is_empty() {
        req_ids.push("PAR-05");
    }
    let what = format!("the pushed request ({})", step.mutations.label());
    let conds = errors::back_channel(
        &Rejection {
            id: "par",
            what: &what,
            errors: &errors,
            requirements: &req_ids,
            tls_refusal_ok,
            severity: rejection_severity(&step.mutations),
            hint: object_rule.map_or_else(|| hint_for(&step.mutations), |r| r.hint),
        },
        resp,
    );
    ctx.extend(conds);
    let st = ctx.state(step.index);
    if accepted {
        // Refused expectation not met; keep the flow so a scenario can look further.
        if let Some(body) = resp.json() {
            flow.request_uri = body.get("request_uri").and_then(|v| v.as_str()).map(str::to_owned);
            flow.expires_in = body.get("expires_in").and_then(serde_json::Value::as_u64);
        }
        st.flow = Some(flow);
        st.par_rejected = false;
    } else {
        st.flow = None;
        st.par_rejected = true;
    }
}

fn hint_for(m: &crate::mutations::Mutations) -> &'static str {
    if m.has("assertion_aud_token_url") || m.has("assertion_aud_par_url") || m.has("assertion_aud_array") {
        "aud must be the issuer string; servers built for FAPI 1 or plain RFC 9126 often accept the token or PAR endpoint URL (FAPI2-SP-AS-08)"
    } else if m.has("pkce_plain") || m.has("drop_pkce") {
        "FAPI 2.0 requires PKCE with S256 on every request"
    } else if m.has("request_uri_in_par_body") {
        "RFC 9126 §2.1: a pushed request must not contain request_uri"
    } else if m.has("assertion_rs256") {
        "only PS256, ES256 and EdDSA are allowed for client assertions"
    } else if m.has("assertion_replay") {
        "a client assertion is single use: remember its jti until it expires (PKJ-04)"
    } else if m.has("assertion_bad_signature") {
        "verify the assertion's signature with a key from the client's registered JWKS (PKJ-03)"
    } else if m.has("dpop_wrong_htm") || m.has("dpop_wrong_htu") {
        "the proof's htm and htu must equal this request's method and URL (DP-08, DP-09)"
    } else if m.has("dpop_replay") {
        "remember each DPoP proof's jti for as long as its iat is acceptable (DP-13)"
    } else if m.has("response_mode_query") || m.has("drop_response_mode") {
        "FAPI 2.0 Message Signing requires JARM: refuse a request without response_mode jwt, query.jwt, fragment.jwt or form_post.jwt (MS-JARM-01)"
    } else {
        "the server accepted a request the profile requires it to refuse"
    }
}

/// `n` characters of random base64url.
pub fn long_random(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&fapilab_jose::random_token(48));
    }
    s.truncate(n);
    s
}

/// The JARM `response_mode` to push (MS-JARM-CL-01: `jwt`, or the mode a mutation asks for).
fn jarm_response_mode(m: &Mutations) -> Option<String> {
    if m.has("drop_response_mode") {
        return None;
    }
    let mode = if m.has("response_mode_query") {
        "query"
    } else if m.has("response_mode_query_jwt") {
        "query.jwt"
    } else if m.has("response_mode_fragment_jwt") {
        "fragment.jwt"
    } else if m.has("response_mode_form_post_jwt") {
        "form_post.jwt"
    } else {
        "jwt"
    };
    Some(mode.to_owned())
}

/// Why a request object could not be built.
enum ObjectError {
    /// The variant cannot carry the mutation (no second client, no RSA key): the module proves
    /// nothing here.
    Skip(String),
    Problem(String),
}

/// The request object carrying `params` (RFC 9101 §4; MS-CL-01…MS-CL-05), signed with the
/// client's key, with the `request_object_*` mutations applied.
fn build_request_object(
    ctx: &ModuleContext,
    client: &TargetClient,
    other: Option<&TargetClient>,
    params: &[(String, String)],
    m: &Mutations,
) -> Result<String, ObjectError> {
    let needs_other = m.has("request_object_other_key") || m.has("request_object_client_id_other") || m.has("request_object_iss_other");
    let other_id = match other {
        Some(o) => o.client_id.clone(),
        None if needs_other => {
            return Err(ObjectError::Skip(format!("the target has no second client for {}", ctx.variant.label())));
        }
        None => String::new(),
    };
    let now = fapilab_jose::now();
    let mut claims = Map::new();
    for (k, v) in params {
        claims.insert(k.clone(), json!(v));
    }
    let iss = if m.has("request_object_iss_other") || m.has("request_object_client_id_other") { &other_id } else { &client.client_id };
    claims.insert("iss".into(), json!(iss));
    let client_id = if m.has("request_object_client_id_other") { &other_id } else { &client.client_id };
    claims.insert("client_id".into(), json!(client_id));
    let issuer = ctx.target.issuer.clone();
    if m.has("request_object_aud_other") {
        claims.insert("aud".into(), json!(OTHER_AUDIENCE));
    } else if m.has("request_object_aud_array") {
        claims.insert("aud".into(), json!([issuer, OTHER_AUDIENCE]));
    } else if m.has("request_object_aud_par_url") {
        claims.insert("aud".into(), json!(ctx.meta("pushed_authorization_request_endpoint").unwrap_or_default()));
    } else if !m.has("request_object_no_aud") {
        claims.insert("aud".into(), json!(issuer));
    }
    // (iat, nbf, exp): MS-AS-03 wants nbf at most 60 minutes old, MS-AS-04 an exp in the
    // future at most 60 minutes after nbf; each mutation breaks exactly one of them.
    let (iat, nbf, exp) = if m.has("request_object_nbf_70_minutes_ago") {
        (now, now - 4200, now + REQUEST_OBJECT_LIFETIME)
    } else if m.has("request_object_nbf_plus_8") {
        (now + 8, now + 8, now + 8 + REQUEST_OBJECT_LIFETIME)
    } else if m.has("request_object_expired") {
        (now - 360, now - 360, now - 60)
    } else if m.has("request_object_exp_over_60_minutes") {
        (now, now, now + 4200)
    } else {
        (now, now, now + REQUEST_OBJECT_LIFETIME)
    };
    claims.insert("iat".into(), json!(iat));
    if !m.has("request_object_no_nbf") {
        claims.insert("nbf".into(), json!(nbf));
    }
    if !m.has("request_object_no_exp") {
        claims.insert("exp".into(), json!(exp));
    }
    claims.insert("jti".into(), json!(fapilab_jose::random_token(24)));
    if m.has("request_object_with_request_uri") {
        claims.insert("request_uri".into(), json!(format!("{}{}", par::REQUEST_URI_PREFIX, fapilab_jose::random_token(24))));
    }
    let claims = Value::Object(claims);
    let mut header = Map::new();
    if !m.has("request_object_no_typ") {
        header.insert("typ".into(), json!(REQUEST_OBJECT_TYP));
    }
    if m.has("request_object_alg_none") {
        // An unsecured JWT (RFC 7519 §6): alg none and an empty signature.
        header.insert("alg".into(), json!("none"));
        return Ok(format!(
            "{}.{}.",
            b64::encode(Value::Object(header).to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        ));
    }
    let object = if m.has("request_object_rs256") {
        let key = crate::context::client_rsa_key(client)
            .ok_or_else(|| ObjectError::Skip(format!("client {} has no RSA key to sign an RS256 request object with", client.client_id)))?;
        sign_rs256(&key, header, &claims).map_err(ObjectError::Problem)?
    } else {
        let signer = if m.has("request_object_other_key") { other.unwrap_or(client) } else { client };
        let key = client_signing_key(signer).map_err(ObjectError::Problem)?;
        fapilab_jose::jws::sign(&key, header, &claims).map_err(|e| ObjectError::Problem(format!("signing the request object: {e}")))?
    };
    if m.has("request_object_bad_signature") { corrupt_signature(&object).map_err(ObjectError::Problem) } else { Ok(object) }
}

/// For `params_outside_request_object` (MS-AS-08): the authorization parameters again as form
/// parameters next to `request`, with another redirect URI (the client's second, else one it
/// never registered), state, nonce and code_challenge. A server that lets them win sends the
/// browser elsewhere, echoes the other state and binds the code to a verifier the harness
/// never uses.
fn outside_copy(client: &TargetClient, params: &[(String, String)]) -> Vec<(String, String)> {
    let other_redirect = client.second_redirect_uri.clone().unwrap_or_else(|| UNREGISTERED_REDIRECT.to_owned());
    params
        .iter()
        .map(|(k, v)| {
            let value = match k.as_str() {
                "redirect_uri" => other_redirect.clone(),
                "state" | "nonce" => fapilab_jose::random_token(32),
                "code_challenge" => fapilab_jose::sha256_b64url(fapilab_jose::random_token(32).as_bytes()),
                _ => v.clone(),
            };
            (k.clone(), value)
        })
        .collect()
}
