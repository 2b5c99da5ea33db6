//! `par`: push an authorization request (RFC 9126; FAPI2-SP-AZ-02, AZ-04, AZ-05, AZ-06,
//! AS-13): client authentication per variant (assertion with `aud` = the issuer string, or the
//! client certificate on the `mtls_endpoint_aliases` endpoint), PKCE S256, `state`, `nonce`
//! (openid variants), `redirect_uri`, and under DPoP a proof that binds the code to the
//! client's DPoP key (RFC 9449 §10.1).

use std::time::Instant;

use fapilab_jose::{Algorithm, SigningKey};

use super::{
    StepRun, client_auth_params, dpop_form_post, harness_problem, need_client, need_endpoint, other_htu,
    proof_to_replay, refusal_rules, rejection_severity, send_with_nonce_retry, skip_inapplicable,
};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::par;
use crate::context::{Flow, ModuleContext};
use crate::http::Response;
use crate::scenario::Expect;

/// A redirect URI no client registers (and that resolves nowhere).
pub const UNREGISTERED_REDIRECT: &str = "https://unregistered.fapilab.invalid/callback";

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if skip_inapplicable(ctx, step, &client) || !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = need_endpoint(ctx, &client, "pushed_authorization_request_endpoint", "FAPI2-SP-AZ-02") else { return };
    let m = &step.mutations;

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
    } else {
        "code"
    };
    params.push(("response_type".into(), response_type.into()));
    if let Some(r) = &redirect_uri {
        params.push(("redirect_uri".into(), r.clone()));
    }
    params.push(("scope".into(), scope.clone()));
    if let Some(s) = &state {
        params.push(("state".into(), s.clone()));
    }
    if let Some(n) = &nonce {
        params.push(("nonce".into(), n.clone()));
    }
    if !m.has("drop_pkce") {
        if m.has("pkce_plain") {
            params.push(("code_challenge".into(), code_verifier.clone()));
            params.push(("code_challenge_method".into(), "plain".into()));
        } else {
            params.push(("code_challenge".into(), fapilab_jose::sha256_b64url(code_verifier.as_bytes())));
            params.push(("code_challenge_method".into(), "S256".into()));
        }
    }
    if m.has("request_uri_in_par_body") {
        params.push(("request_uri".into(), format!("{}{}", par::REQUEST_URI_PREFIX, fapilab_jose::random_token(24))));
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
    form.extend(params);
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
        code_verifier,
        redirect_uri,
        scope,
        dpop_jkt: bound_jkt,
        front_extra,
        front_reorder: m.has("reorder_authorize_params"),
    };
    judge(ctx, step, &resp, flow, via_is_plain_for_mtls(&client, m));
}

fn via_is_plain_for_mtls(client: &crate::target::TargetClient, m: &crate::mutations::Mutations) -> bool {
    m.has("no_client_auth") && client.auth == crate::variant::ClientAuth::Mtls
}

fn judge(ctx: &mut ModuleContext, step: &StepRun<'_>, resp: &Response, mut flow: Flow, tls_refusal_ok: bool) {
    let (reqs, default_errors) = refusal_rules(ctx, step);
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
            hint: hint_for(&step.mutations),
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
