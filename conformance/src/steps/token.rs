//! `token`: redeem the authorization code (RFC 6749 §4.1.3) with PKCE, client authentication
//! and the sender constraint (DPoP proof with the key the code is bound to, or the client
//! certificate). Judges the response (suite research §3.5) and, in openid variants, the ID
//! token (§3.6).

use std::sync::Arc;

use fapilab_jose::{Algorithm, SigningKey};

use super::{
    StepRun, cert_der, client_auth_params, dpop_form_post, harness_problem, need_client, need_endpoint, other_htu,
    proof_to_replay, refusal_rules, rejection_severity, send_with_nonce_retry, skip_inapplicable,
};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::token::Binding;
use crate::conditions::{Check, hybrid, id_token, token};
use crate::context::{ModuleContext, Tokens};
use crate::http::{Response, Via};
use crate::mutations::Mutations;
use crate::scenario::Expect;
use crate::target::TargetClient;
use crate::variant::{ClientAuth, Sender};

/// The connection for a back-channel call with the sender mutations applied: no certificate
/// (`no_sender_constraint` under mTLS, `no_client_auth` with mTLS authentication), or client
/// 2's certificate (`swap_certificate`). Returns whether a refused handshake is acceptable.
pub fn back_channel_via<'a>(
    ctx: &ModuleContext,
    client: &'a TargetClient,
    other: Option<&'a TargetClient>,
    m: &Mutations,
) -> (Via<'a>, bool) {
    let drop_cert =
        (m.has("no_sender_constraint") && client.sender == Sender::Mtls) || (m.has("no_client_auth") && client.auth == ClientAuth::Mtls);
    if drop_cert {
        return (Via::Plain, true);
    }
    if m.has("swap_certificate")
        && let Some(o) = other
        && let (Some(c), Some(k)) = (&o.cert_pem, &o.key_pem)
    {
        return (Via::Identity { cert_pem: c, key_pem: k }, true);
    }
    (ctx.via_for(client), false)
}

/// The DPoP key a back-channel proof is signed with, unless the mutations drop the proof.
pub fn proof_key(ctx: &mut ModuleContext, index: u8, m: &Mutations) -> Result<Option<Arc<SigningKey>>, String> {
    if !ctx.dpop() || m.has("dpop_missing") || m.has("no_sender_constraint") {
        return Ok(None);
    }
    if m.has("dpop_other_key") {
        return SigningKey::generate(Algorithm::Es256, None).map(|k| Some(Arc::new(k))).map_err(|e| e.to_string());
    }
    Ok(Some(ctx.state(index).dpop_key.clone()))
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if skip_inapplicable(ctx, step, &client) || !ctx.ensure_discovery().await {
        return;
    }
    let m = &step.mutations;
    let other_index = if step.index == 1 { 2 } else { 1 };
    let other = if m.has("use_client_2") || m.has("swap_certificate") {
        match need_client(ctx, other_index) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    // Whose credentials the request carries.
    let (creds, creds_index) = match (&other, m.has("use_client_2")) {
        (Some(o), true) => (o.clone(), other_index),
        _ => (client.clone(), step.index),
    };
    let Some(url) = need_endpoint(ctx, &creds, "token_endpoint", "FAPI2-SP-AS-01") else { return };
    let st = ctx.state_ref(step.index);
    let (Some(code), Some(flow)) = (st.code.clone(), st.flow.clone()) else {
        return harness_problem(
            ctx,
            "token.harness",
            "find an authorization code",
            "the scenario has no successful `authorize` step for this client before `token`",
        );
    };
    let mut form = vec![("grant_type".to_owned(), "authorization_code".to_owned()), ("code".to_owned(), code.clone())];
    let redirect_uri = if m.has("token_redirect_uri_mismatch") {
        // OA-04: another URI the client registered, not the one of the authorization request.
        let other = [Some(&client.redirect_uri), client.second_redirect_uri.as_ref()]
            .into_iter()
            .flatten()
            .find(|u| Some(*u) != flow.redirect_uri.as_ref())
            .cloned();
        match other {
            Some(u) => Some(u),
            None => return ctx.skip(format!("client {} has no second registered redirect URI in the target", client.client_id)),
        }
    } else {
        flow.redirect_uri.clone()
    };
    if let Some(r) = &redirect_uri {
        form.push(("redirect_uri".into(), r.clone()));
    }
    if let Some(verifier) = &flow.code_verifier
        && !m.has("drop_code_verifier")
    {
        let v = if m.has("wrong_code_verifier") { fapilab_jose::random_token(32) } else { verifier.clone() };
        form.push(("code_verifier".into(), v));
    }
    match client_auth_params(ctx, &creds, m) {
        Ok(a) => form.extend(a),
        Err(e) if m.has("assertion_rs256") => return ctx.skip(e),
        Err(e) => return harness_problem(ctx, "token.harness", "build the client authentication", &e),
    }
    // The DPoP key stays this client's (use_client_2 included): the code is bound to it, and
    // only the client may differ from a valid request (OA-04, not DP-C-02).
    let key = match proof_key(ctx, step.index, m) {
        Ok(k) => k,
        Err(e) => return harness_problem(ctx, "token.harness", "generate a DPoP key", &e),
    };
    let (via, tls_refusal_ok) = back_channel_via(ctx, &creds, other.as_ref(), m);
    let cert_for_binding = match via {
        Via::Identity { cert_pem, .. } => cert_der(cert_pem).map(|d| fapilab_jose::sha256_b64url(&d)),
        _ => None,
    };
    let m2 = m.clone();
    let url2 = url.clone();
    let replayed = match (&key, m.has("dpop_replay")) {
        (Some(k), true) => match proof_to_replay(ctx, k, "POST", &url) {
            Ok(p) => Some(p),
            Err(e) => return harness_problem(ctx, "token.harness", "find the DPoP proof to replay", &e),
        },
        _ => None,
    };
    let wrong_htu = other_htu(ctx, &url);
    let resp = send_with_nonce_retry(ctx, via, creds_index, false, |nonce| {
        dpop_form_post(&url2, &form, replayed.as_deref(), key.as_deref(), &m2, &wrong_htu, nonce)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "token.harness", "build the token request", &e),
    };
    {
        let st = ctx.state(step.index);
        st.redeemed_code = Some(code);
    }
    let jkt = key.as_ref().map(|k| k.thumbprint());
    let binding = Binding { sender: ctx.variant.sender, jkt: jkt.as_deref(), x5t: cert_for_binding.as_deref() };
    let accepted = resp.status == Some(200);
    let expect = step.expect();
    if accepted && ctx.openid() {
        ctx.ensure_jwks().await;
    }
    if expect == Expect::Success || (expect == Expect::Either && accepted) {
        judge_success(ctx, "token", step.index, &client.client_id, flow.nonce.as_deref(), &resp, &binding, None);
        return;
    }
    let (reqs, defaults) = refusal_rules(ctx, step);
    let errors_ok = step.errors(&defaults);
    let reqs = if reqs.is_empty() { vec!["OA-02"] } else { reqs };
    let what = format!("the token request ({})", m.label());
    let conds = errors::back_channel(
        &Rejection {
            id: "token",
            what: &what,
            errors: &errors_ok,
            requirements: &reqs,
            tls_refusal_ok,
            severity: rejection_severity(m),
            hint: "the server issued tokens for a request the profile requires it to refuse",
        },
        &resp,
    );
    ctx.extend(conds);
}

/// Judges a token response expected to succeed (authorization code or refresh) and keeps the
/// tokens. `previous` is the ID token of the grant (refresh: claims must match).
#[allow(clippy::too_many_arguments)]
pub fn judge_success(
    ctx: &mut ModuleContext,
    prefix: &str,
    index: u8,
    client_id: &str,
    nonce: Option<&str>,
    resp: &Response,
    binding: &Binding<'_>,
    previous: Option<&serde_json::Map<String, serde_json::Value>>,
) {
    let (conds, body) = token::success(prefix, resp, binding);
    ctx.extend(conds);
    let Some(body) = body else {
        ctx.aborted = true;
        return;
    };
    let ev = [resp.index];
    let id_tok = body.get("id_token").and_then(|v| v.as_str());
    let mut claims = None;
    if ctx.openid() {
        match (id_tok, prefix) {
            (Some(t), _) => {
                let issuer = ctx.target.issuer.clone();
                let want = id_token::Expected::token_endpoint(ctx.messages.profile, &issuer, client_id, nonce);
                let jwks = ctx.server_jwks.clone();
                let (conds, c) = id_token::check(prefix, t, jwks.as_ref(), &want, &ev);
                if ctx.fapi1()
                    && let Some(claims) = &c
                {
                    // OIDC Core 3.3.3.6: hashes in this ID token are optional but must match;
                    // after a hybrid response it names the same user as the front-channel one.
                    let alg = id_token::header_alg(t).unwrap_or_default();
                    let at = body.get("access_token").and_then(|v| v.as_str());
                    let code = if prefix == "token" { ctx.state_ref(index).redeemed_code.clone() } else { None };
                    for (claim, value) in [("at_hash", at), ("c_hash", code.as_deref())] {
                        ctx.extend(id_token::check_hash(
                            &format!("{prefix}.id_token_{claim}"),
                            claims,
                            &alg,
                            claim,
                            value,
                            &id_token::HashRule::IfPresent,
                            &["B-OID-01"],
                            &ev,
                        ));
                    }
                    if prefix == "token"
                        && let Some(front) = ctx.state_ref(index).front_id_token.clone()
                    {
                        ctx.push(hybrid::same_subject(&front, claims, &ev));
                    }
                }
                // A refreshed ID token need not repeat the nonce (OIDC Core §12.2).
                let conds = conds.into_iter().filter(|c| !(prefix == "refresh" && c.id.ends_with("id_token_nonce"))).collect::<Vec<_>>();
                ctx.extend(conds);
                if let (Some(new), Some(old)) = (&c, previous) {
                    let same = ["iss", "sub", "aud"].iter().all(|k| new.get(*k) == old.get(*k));
                    ctx.push(
                        Check::new("refresh.id_token_consistent", "the refreshed ID token has the original iss, sub and aud")
                            .req(&["OID-01"])
                            .expected("iss, sub and aud unchanged")
                            .observed(if same { "unchanged" } else { "changed" })
                            .evidence(&ev)
                            .pass(same),
                    );
                }
                claims = c;
            }
            (None, "token") => ctx.push(
                Check::new("token.id_token", "an ID token is returned for the openid scope")
                    .req(&["OID-01"])
                    .expected("id_token in the token response")
                    .observed("absent")
                    .evidence(&ev)
                    .pass(false),
            ),
            (None, _) => {}
        }
    } else if prefix == "token" {
        ctx.push(
            Check::new("token.no_id_token", "no ID token without the openid scope")
                .req(&["OID-01"])
                .expected("no id_token")
                .observed(if id_tok.is_some() { "id_token present" } else { "absent" })
                .evidence(&ev)
                .pass(id_tok.is_none()),
        );
    }
    let access_token = body.get("access_token").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    if access_token.is_empty() {
        ctx.aborted = true;
        return;
    }
    let st = ctx.state(index);
    let old = st.tokens.take();
    let refresh_token = body
        .get("refresh_token")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| old.as_ref().and_then(|o| o.refresh_token.clone()));
    st.tokens = Some(Tokens {
        access_token,
        token_type: body.get("token_type").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
        refresh_token,
        id_token_claims: claims.or_else(|| old.and_then(|o| o.id_token_claims)),
        evidence: resp.index,
        revoked: None,
    });
    if prefix == "token" {
        st.code = None;
    }
}
