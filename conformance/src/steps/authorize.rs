//! `authorize`: the browser part. Opens the authorization endpoint with only `client_id` and
//! `request_uri` (FAPI2-SP-CL-14), logs in and answers consent through [`crate::login`], and
//! judges where the browser ends up (suite research §3.3, §3.7).
//!
//! Params: `approve = false` denies consent (expect an `access_denied` error redirect);
//! `visit_only = true` only loads the authorization page, as a link pre-fetcher would, and
//! checks that it still shows the login (FAPI2-SP-AZ-15: the request_uri is consumed when
//! the authorization completes, a SHOULD, so a refusal only warns).
//!
//! In a plan with JARM responses the response — a redirect with `response` in the query or
//! the fragment, or the auto-submitting form of `form_post.jwt` — is judged and decoded by
//! [`crate::conditions::jarm`] first (MS-JARM-CL-02), and every later check reads the
//! parameters of the verified JWT.
//!
//! FAPI 1.0 Advanced: by value the URL carries the signed request object in `request` with
//! `response_type`, `client_id` and `scope` repeated (A-AS-01, A-AS-19); a `code id_token`
//! response is read from the fragment and its ID token verified as a detached signature by
//! [`crate::conditions::hybrid`] (A-IDT-04, A-IDT-05); a refusal may come as an error page, or
//! as an error redirected to a registered redirect URI in the query or the fragment, under JARM
//! signed or not (the OIDF plan's outcomes, never stricter).

use std::time::Instant;

use super::{StepRun, harness_problem, mutation_rules, need_client};
use crate::conditions::Check;
use crate::conditions::authorize::{self, Sent};
use crate::conditions::errors::{self, FrontOutcome, FrontRules};
use crate::conditions::{hybrid, jarm, request_object};
use crate::context::{ModuleContext, Standing};
use crate::http::{Request, Via};
use crate::login;
use crate::scenario::Expect;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    if !ctx.ensure_discovery().await {
        return;
    }
    // The browser always uses the plain authorization endpoint (never an mTLS alias).
    let Some(endpoint) = ctx.meta("authorization_endpoint") else {
        ctx.push(
            Check::new("discovery.authorization_endpoint", "the metadata names the authorization_endpoint")
                .req(&["FAPI2-SP-AS-01"])
                .expected("`authorization_endpoint` in the discovery document")
                .observed("absent")
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let m = &step.mutations;
    let approve = step.param_bool("approve").unwrap_or(true);

    let (query, sent_state, sent_redirect, response_mode, sent_nonce, par_mutations) = if m.has("no_par") {
        let verifier = fapilab_jose::random_token(32);
        let state = fapilab_jose::random_token(32);
        let nonce = ctx.openid().then(|| fapilab_jose::random_token(32));
        let response_type = if ctx.hybrid() { "code id_token" } else { "code" };
        let mut q = vec![
            ("response_type".to_owned(), response_type.to_owned()),
            ("client_id".to_owned(), client.client_id.clone()),
            ("redirect_uri".to_owned(), client.redirect_uri.clone()),
            ("scope".to_owned(), ctx.target.scope(&ctx.variant).to_owned()),
            ("state".to_owned(), state.clone()),
            ("code_challenge".to_owned(), fapilab_jose::sha256_b64url(verifier.as_bytes())),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
        ];
        if let Some(n) = &nonce {
            q.push(("nonce".to_owned(), n.clone()));
        }
        let response_mode = ctx.jarm().then(|| "jwt".to_owned());
        if let Some(mode) = &response_mode {
            q.push(("response_mode".to_owned(), mode.clone()));
        }
        (q, Some(state), client.redirect_uri.clone(), response_mode, nonce, crate::mutations::Mutations::default())
    } else {
        let st = ctx.state_ref(step.index);
        if st.par_rejected && step.expect() != Expect::Success {
            ctx.push(
                Check::new("authorize.rejected", "the request is refused (here: already at PAR)")
                    .info()
                    .expected("a refusal at PAR, an error page or an error redirect")
                    .observed("the pushed request was already refused, so there is nothing to authorize")
                    .pass(true),
            );
            ctx.aborted = true;
            return;
        }
        let Some(flow) = st.flow.clone() else {
            return harness_problem(
                ctx,
                "authorize.harness",
                "find a pushed request",
                "the scenario has no successful `par` step for this client before `authorize`",
            );
        };
        let front_client_id = if m.has("other_client_id") {
            match need_client(ctx, if step.index == 1 { 2 } else { 1 }) {
                Some(c) => c.client_id,
                None => return,
            }
        } else {
            client.client_id.clone()
        };
        let mut q = if ctx.by_value() {
            // A-AS-19, Part 2 5.2.3-9: response_type, client_id and scope repeated in the query.
            let mut q = vec![("client_id".to_owned(), front_client_id)];
            if let Some(object) = &flow.request_object {
                q.insert(0, ("response_type".to_owned(), flow.response_type.clone()));
                q.push(("scope".to_owned(), flow.scope.clone()));
                q.push(("request".to_owned(), object.clone()));
            }
            q
        } else {
            let Some(request_uri) = flow.request_uri.clone() else {
                return harness_problem(ctx, "authorize.harness", "find a request_uri", "the PAR response had no request_uri");
            };
            vec![("client_id".to_owned(), front_client_id), ("request_uri".to_owned(), request_uri)]
        };
        if m.has("reorder_authorize_params") || flow.front_reorder {
            q.reverse();
        }
        for (k, v) in &flow.front_extra {
            if !q.iter().any(|(qk, _)| qk == k) {
                q.push((k.clone(), v.clone()));
            }
        }
        if m.has("state_outside_par") && !q.iter().any(|(k, _)| k == "state") {
            q.push(("state".to_owned(), fapilab_jose::random_token(32)));
        }
        if m.has("nonce_outside_par") && !q.iter().any(|(k, _)| k == "nonce") {
            q.push(("nonce".to_owned(), fapilab_jose::random_token(32)));
        }
        (
            q,
            flow.state.clone(),
            flow.redirect_uri.clone().unwrap_or_else(|| client.redirect_uri.clone()),
            flow.response_mode.clone(),
            flow.nonce.clone(),
            flow.mutations.clone(),
        )
    };
    let encoded = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let url = format!("{endpoint}{sep}{encoded}");
    if step.param_bool("visit_only") == Some(true) {
        let resp = ctx.http.send(Via::Browser, Request::get(url.clone())).await;
        let shows_page = resp.status == Some(200) && resp.body.contains("<form");
        ctx.push(
            Check::new("authorize.page_loads", "loading the authorization page without finishing it leaves the request usable")
                .req(&["FAPI2-SP-AZ-15"])
                .warning()
                .expected("HTTP 200 with the login form")
                .observed(resp.describe())
                .hint("the request_uri is burnt when the page loads; link pre-fetchers then break real users' logins")
                .evidence(&[resp.index])
                .pass(shows_page),
        );
        return;
    }
    let target = ctx.target.clone();
    let result = login::run(&mut ctx.http, &target.login, &url, approve).await;
    let ev = result.evidence.clone();
    let expect = step.expect();
    // Under FAPI 1.0 Advanced a refusal may be a plain error even under JARM (the OIDF plan's
    // outcomes): only a response that carries a JWT is decoded then.
    let jwt_to_decode = ctx.jarm() && (expect == Expect::Success || !ctx.fapi1() || carries_response_jwt(&result.outcome));
    let outcome = if jwt_to_decode {
        // MS-JARM-CL-02: the JWT is verified before any parameter it carries is used.
        ctx.ensure_jwks().await;
        let advertised_algs = ctx.discovery.as_ref().and_then(|d| d.get("authorization_signing_alg_values_supported")).and_then(|v| {
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        });
        let want = jarm::Expected {
            issuer: &ctx.target.issuer,
            client_id: &client.client_id,
            mode: response_mode.as_deref().unwrap_or("jwt"),
            redirect_uri: &sent_redirect,
            jwks: ctx.server_jwks.as_ref(),
            advertised_algs,
            profile: ctx.messages.profile,
        };
        let (conds, decoded) = jarm::decode(&result.outcome, &want, &ev);
        ctx.extend(conds);
        decoded.unwrap_or(result.outcome)
    } else {
        result.outcome
    };

    let delivered = outcome.delivered_url();
    let got_code = delivered.as_deref().is_some_and(|url| {
        let (q, f) = errors::url_params(url);
        errors::param(&q, "code").is_some() || errors::param(&f, "code").is_some()
    });
    if expect == Expect::Success || (expect == Expect::Either && got_code) {
        let status = match &outcome {
            FrontOutcome::Redirect { status, .. } => Some(Some(*status)),
            // A posted response is a response only where the harness asked for one.
            FrontOutcome::FormPost { .. } if ctx.jarm() => Some(None),
            _ => None,
        };
        match (status, &delivered) {
            (Some(_), Some(to)) if ctx.hybrid() => {
                ctx.ensure_jwks().await;
                let want = hybrid::Expected {
                    issuer: &ctx.target.issuer,
                    client_id: &client.client_id,
                    redirect_uri: &sent_redirect,
                    state: sent_state.as_deref(),
                    nonce: sent_nonce.as_deref(),
                    jwks: ctx.server_jwks.as_ref(),
                };
                let (conds, got) = hybrid::success(&want, to, &ev);
                ctx.extend(conds);
                match got {
                    Some(d) => {
                        let st = ctx.state(step.index);
                        st.code = Some(d.code);
                        st.front_id_token = Some(d.id_token);
                        st.code_received_at = Some(Instant::now());
                    }
                    None => ctx.aborted = true,
                }
            }
            (Some(status), Some(to)) => {
                let sent = Sent { issuer: &ctx.target.issuer, redirect_uri: &sent_redirect, state: sent_state.as_deref() };
                // The 303 of FAPI2-SP-AZ-10/11 is no FAPI 1.0 rule.
                let status = if ctx.fapi1() { None } else { status };
                let (conds, code) = authorize::success(&sent, to, status, &ev);
                ctx.extend(conds);
                match code {
                    Some(c) => {
                        let st = ctx.state(step.index);
                        st.code = Some(c);
                        st.code_received_at = Some(Instant::now());
                    }
                    None => ctx.aborted = true,
                }
            }
            _ => {
                ctx.push(
                    Check::new("authorize.redirect", "the authorization completes with a redirect to the client")
                        .req(&["FAPI2-SP-AZ-02"])
                        .expected("a redirect to the redirect URI with a code")
                        .observed(match &outcome {
                            FrontOutcome::ErrorPage { status, error } => {
                                format!("error page HTTP {status}{}", error.as_ref().map(|e| format!(", error {e}")).unwrap_or_default())
                            }
                            FrontOutcome::Stuck { reason } => reason.clone(),
                            FrontOutcome::FormPost { action, .. } => {
                                format!(
                                    "a form posting the response to {} (a form_post response mode the request did not ask for)",
                                    action.split(['?', '#']).next().unwrap_or(action)
                                )
                            }
                            FrontOutcome::Redirect { .. } => String::new(),
                        })
                        .hint("check the target's [login] script (field names, credentials) and the client's registration")
                        .evidence(&ev)
                        .pass(false),
                );
                ctx.aborted = true;
            }
        }
        return;
    }
    // A refusal is expected (or allowed).
    let standing = if m.is_empty() && approve { ctx.standing(step.index) } else { None };
    let defaults: &[&str] = if let Some(s) = &standing {
        // FDX-ST-02: an inactive client is refused at the authorization endpoint with
        // unauthorized_client; DCM-05: a deleted client is unknown.
        match s {
            Standing::FdxInactive(_) => &["unauthorized_client"],
            Standing::Deleted => &["invalid_client", "unauthorized_client", "invalid_request"],
        }
    } else if !approve {
        &["access_denied"]
    } else if m.has("no_par") {
        &["invalid_request", "invalid_request_uri", "invalid_request_object"]
    } else if m.has("other_client_id") {
        &["invalid_request", "invalid_request_object", "invalid_request_uri"]
    } else {
        &[]
    };
    // What the `par` step changed, when the refusal is judged here (FAPI 1.0: by value, or a
    // pushed request the server accepted and refuses only now).
    let (par_reqs, par_errors) = {
        let (mut r, mut e) = mutation_rules(&par_mutations);
        if let Some(rule) = request_object::rule(&par_mutations) {
            r.extend_from_slice(rule.requirements);
            e.extend_from_slice(rule.errors);
        }
        (r, e)
    };
    let defaults: Vec<&str> = if defaults.is_empty() { par_errors } else { defaults.to_vec() };
    let errors_ok = step.errors(&defaults);
    let mut registered = vec![client.redirect_uri.clone()];
    registered.extend(client.second_redirect_uri.clone());
    let reqs: &[&str] = if let Some(s) = &standing {
        match s {
            Standing::FdxInactive(_) => &["FDX-ST-02"],
            Standing::Deleted => &["DCM-05"],
        }
    } else if !approve {
        &["OA-03", "FAPI2-SP-AZ-07"]
    } else if m.has("no_par") {
        &["FAPI2-SP-AZ-03"]
    } else if m.has("other_client_id") {
        &["FAPI2-SP-AZ-16", "PAR-10"]
    } else if !par_reqs.is_empty() {
        &par_reqs
    } else {
        &["PAR-10", "FAPI2-SP-AZ-15"]
    };
    let what =
        if !approve { "the authorization the user denied".to_owned() } else { format!("this authorization request ({})", m.label()) };
    let rules = if ctx.fapi1() { FrontRules::fapi1(&ctx.target.issuer) } else { FrontRules::fapi2(&ctx.target.issuer) };
    let conds = errors::front_channel("authorize", &what, &outcome, &errors_ok, &registered, &rules, reqs, &ev);
    ctx.extend(conds);
    if expect == Expect::Either {
        // Refused where a refusal was allowed: there is nothing to go on with.
        ctx.aborted = true;
    }
    if !approve && let Some(to) = &delivered {
        let (q, f) = errors::url_params(to);
        // A hybrid error comes in the fragment (OIDC Core 3.3.2.6).
        let state = errors::param(&q, "state").or_else(|| errors::param(&f, "state"));
        ctx.push(
            Check::new("authorize.error_state", "the error response echoes state")
                .req(&["OA-03"])
                .expected(if sent_state.is_some() { "the state sent" } else { "no state" })
                .observed(match state {
                    Some(s) if Some(s) == sent_state.as_deref() => "identical",
                    Some(_) => "different",
                    None => "absent",
                })
                .evidence(&ev)
                .pass(state == sent_state.as_deref()),
        );
    }
    if got_code && let Some(to) = &delivered {
        // Keep the code: a scenario may show it can even be redeemed.
        let (q, f) = errors::url_params(to);
        ctx.state(step.index).code = errors::param(&q, "code").or_else(|| errors::param(&f, "code")).map(str::to_owned);
    }
}

/// Whether the browser came back with a JARM `response` parameter (query, fragment or form).
fn carries_response_jwt(outcome: &FrontOutcome) -> bool {
    outcome.delivered_url().is_some_and(|url| {
        let (q, f) = errors::url_params(&url);
        errors::param(&q, "response").is_some() || errors::param(&f, "response").is_some()
    })
}
