//! `register`: RFC 7591 registration (DCR-01) of a client standing in for the target's client
//! of this variant — its redirect URIs, authentication method, keys or certificate subject,
//! and the variant's sender constraint — with the initial access token when the target has
//! one. On success the registered client is the module's client `client` from then on (the
//! flow steps use its `client_id` with the target client's keys and certificate).
//!
//! Params: `grant_types = [...]` (default authorization_code and refresh_token),
//! `fdx_metadata = true` (add the FDX metadata, FDX-DCR-02), `ciba_delivery_mode = "poll" |
//! "ping"` (a CIBA client, CIBA-MD-02: for ping with the module's `ping_listener` endpoint,
//! and `response_types` [] without the authorization code grant). The mutations break one rule of
//! the metadata or of the initial access token each.

use serde_json::{Map, Value, json};

use super::{StepRun, harness_problem};
use crate::conditions::errors::{self, Rejection};
use crate::conditions::registration::{self as judge, BearerRefusal};
use crate::context::{ModuleContext, Registered};
use crate::model::Severity;
use crate::mutations::Mutations;
use crate::registration::{MetadataOptions, client_metadata, endpoint_for, flow_scopes, need_registration, public_keys, send_with_bearer};
use crate::scenario::Expect;
use crate::target::TargetClient;

/// Requirement ids, accepted errors and statuses of what a registration mutation breaks.
fn rules(m: &Mutations) -> (Vec<&'static str>, Vec<&'static str>) {
    let table: &[(&str, &[&str], &[&str])] = &[
        ("http_redirect_uri", &["DCR-03", "DCR-04"], &["invalid_redirect_uri"]),
        ("jwks_and_jwks_uri", &["DCR-03", "DCR-04"], &["invalid_client_metadata"]),
        ("no_redirect_uris", &["DCR-04"], &["invalid_redirect_uri", "invalid_client_metadata"]),
        ("client_secret_basic", &["DCR-04", "FAPI2-SP-AS-06"], &["invalid_client_metadata"]),
        ("auth_signing_alg_rs256", &["DCR-06", "FAPI2-SP-CR-02"], &["invalid_client_metadata"]),
        ("response_types_token", &["DCR-04", "FAPI2-SP-AZ-01"], &["invalid_client_metadata"]),
        ("grant_response_mismatch", &["DCR-04"], &["invalid_client_metadata"]),
        ("private_key_in_jwks", &["DCR-03", "DCR-04"], &["invalid_client_metadata"]),
        ("no_bound_tokens_flag", &["DCR-06", "FAPI2-SP-AS-04"], &["invalid_client_metadata"]),
        ("admin_scope", &["DCR-04", "FDX-UPD-02"], &["invalid_client_metadata"]),
        ("fdx_bad_duration_type", &["FDX-DCR-05"], &["invalid_client_metadata"]),
        ("fdx_zero_duration_period", &["FDX-DCR-05"], &["invalid_client_metadata"]),
        ("fdx_negative_lookback_period", &["FDX-DCR-05"], &["invalid_client_metadata"]),
    ];
    let mut reqs = Vec::new();
    let mut errors = Vec::new();
    for (name, r, e) in table {
        if m.has(name) {
            reqs.extend_from_slice(r);
            errors.extend_from_slice(e);
        }
    }
    (reqs, errors)
}

/// The mutations that concern the initial access token (a 401 from the bearer check).
const TOKEN_MUTATIONS: &[&str] = &["no_initial_access_token", "wrong_initial_access_token"];

/// What the harness sends: the client's metadata with the mutations applied.
fn metadata(ctx: &ModuleContext, step: &StepRun<'_>, client: &TargetClient) -> Result<Map<String, Value>, String> {
    let m = &step.mutations;
    let grant_types: Vec<String> = match step.spec.params.get("grant_types").and_then(toml::Value::as_array) {
        Some(list) => list.iter().filter_map(toml::Value::as_str).map(str::to_owned).collect(),
        None => vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
    };
    let fdx = step.param_bool("fdx_metadata") == Some(true) || m.0.iter().any(|x| x.starts_with("fdx_"));
    let name = format!("fapilab conformance {} client {}", ctx.variant, step.index);
    let scope = flow_scopes(&ctx.target);
    let mut md = client_metadata(&scope, client, &MetadataOptions { grant_types: &grant_types, fdx, client_name: &name })?;
    match step.param_str("ciba_delivery_mode") {
        None => {}
        Some(mode @ ("poll" | "ping")) => {
            // CIBA-MD-02: the delivery mode, and for ping the module's notification endpoint.
            md.insert("backchannel_token_delivery_mode".into(), json!(mode));
            if mode == "ping" {
                let url = ctx.ping.as_ref().map(|p| p.url.clone()).ok_or("ciba_delivery_mode = \"ping\" needs a `ping_listener` step first")?;
                md.insert("backchannel_client_notification_endpoint".into(), json!(url));
            }
            if !grant_types.iter().any(|g| g == "authorization_code") {
                md.insert("response_types".into(), json!([]));
            }
            // CIBA-02: the server verifies the signed authentication requests with the client's
            // registered keys, which an mTLS client registers too.
            let mut keys = md.get("jwks").and_then(|j| j.get("keys")).and_then(Value::as_array).cloned().unwrap_or_default();
            for k in public_keys(client) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            md.insert("jwks".into(), json!({"keys": keys}));
        }
        Some(other) => return Err(format!("ciba_delivery_mode = {other:?}: expected poll or ping")),
    }
    if m.has("http_redirect_uri") {
        md.insert("redirect_uris".into(), json!([http_redirect(&client.redirect_uri)]));
    }
    if m.has("no_redirect_uris") {
        md.remove("redirect_uris");
    }
    if m.has("jwks_and_jwks_uri") {
        if !md.contains_key("jwks") {
            md.insert("jwks".into(), json!({"keys": [fresh_public_jwk()?]}));
        }
        md.insert("jwks_uri".into(), json!("https://client.fapilab.test/jwks.json"));
    }
    if m.has("client_secret_basic") {
        md.insert("token_endpoint_auth_method".into(), json!("client_secret_basic"));
    }
    if m.has("auth_signing_alg_rs256") {
        md.insert("token_endpoint_auth_signing_alg".into(), json!("RS256"));
    }
    if m.has("response_types_token") {
        md.insert("response_types".into(), json!(["token"]));
    }
    if m.has("grant_response_mismatch") {
        md.insert("grant_types".into(), json!(["client_credentials"]));
        md.insert("response_types".into(), json!(["code"]));
    }
    if m.has("private_key_in_jwks") {
        let key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("leaked".into()))
            .map_err(|e| format!("generating a key: {e}"))?;
        md.insert("jwks".into(), json!({"keys": [key.to_private_jwk()]}));
    }
    if m.has("no_bound_tokens_flag") {
        md.remove("dpop_bound_access_tokens");
        md.remove("tls_client_certificate_bound_access_tokens");
    }
    if m.has("admin_scope") {
        let scope = md.get("scope").and_then(Value::as_str).unwrap_or_default().to_owned();
        md.insert("scope".into(), json!(format!("{scope} dcr_manage update_client_status")));
    }
    if m.has("fdx_bad_duration_type") {
        md.insert("duration_type".into(), json!(["FOREVER"]));
    }
    if m.has("fdx_zero_duration_period") {
        md.insert("duration_period".into(), json!(0));
    }
    if m.has("fdx_negative_lookback_period") {
        md.insert("lookback_period".into(), json!(-1));
    }
    if m.has("fdx_client_status_in_body") {
        md.insert("fdx_client_status".into(), json!("Approved"));
    }
    Ok(md)
}

/// The redirect URI over plain http (FAPI2-SP-AZ-08 and DCR-03 require https).
fn http_redirect(uri: &str) -> String {
    format!("http://{}", uri.strip_prefix("https://").unwrap_or(uri))
}

fn fresh_public_jwk() -> Result<Value, String> {
    let key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("k1".into())).map_err(|e| format!("generating a key: {e}"))?;
    Ok(key.public_jwk().to_value())
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(reg) = need_registration(ctx) else { return };
    // The target's own client: a second registration for the same index starts from it again.
    let Some(client) = ctx.target_client(step.index) else {
        let v = ctx.variant;
        return ctx.skip(format!(
            "the target has no client {} for client_auth={},sender={} to register a client like",
            step.index,
            v.client_auth.as_str(),
            v.sender.as_str()
        ));
    };
    if !ctx.ensure_discovery().await {
        return;
    }
    let m = &step.mutations;
    if step.expect() == Expect::Rejected && reg.initial_access_token.is_none() && TOKEN_MUTATIONS.iter().any(|t| m.has(t)) {
        return ctx.skip("the target registers clients without an initial access token: there is none to leave out or get wrong");
    }
    let Some(url) = endpoint_for(ctx, &reg, &client) else {
        ctx.push(
            crate::conditions::Check::new("discovery.registration_endpoint", "the metadata names the registration endpoint")
                .req(&["DCR-01"])
                .expected("registration_endpoint in the discovery document (or [registration] endpoint in the target)")
                .observed("absent")
                .pass(false),
        );
        ctx.aborted = true;
        return;
    };
    let body = match metadata(ctx, step, &client) {
        Ok(b) => b,
        Err(e) => return harness_problem(ctx, "registration.harness", "build the client metadata", &e),
    };
    let bearer = if m.has("no_initial_access_token") {
        None
    } else if m.has("wrong_initial_access_token") {
        Some(fapilab_jose::random_token(32))
    } else {
        reg.initial_access_token.clone()
    };
    let resp = send_with_bearer(ctx, &client, "POST", &url, bearer.as_deref(), Some(Value::Object(body.clone()))).await;
    let created = resp.status == Some(201);
    let expect = step.expect();
    if expect == Expect::Success || (expect == Expect::Either && created) {
        let initial = reg.fdx.as_ref().map(|f| f.initial_status.clone());
        let (conds, answer) = judge::created(&resp, &body, initial.as_deref());
        ctx.extend(conds);
        let Some(answer) = answer else {
            ctx.aborted = true;
            return;
        };
        let uris: Vec<String> = answer
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let mut registered_client = client.clone();
        registered_client.client_id = answer.get("client_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(first) = uris.first() {
            registered_client.redirect_uri = first.clone();
            registered_client.second_redirect_uri = uris.get(1).cloned();
        }
        ctx.state(step.index).registered = Some(Registered {
            client: registered_client,
            registration_client_uri: answer.get("registration_client_uri").and_then(Value::as_str).map(str::to_owned),
            registration_access_token: answer.get("registration_access_token").and_then(Value::as_str).map(str::to_owned),
            previous_registration_access_token: None,
            metadata: answer,
            deleted: false,
            fdx_status: initial,
        });
        return;
    }
    if TOKEN_MUTATIONS.iter().any(|t| m.has(t)) {
        let errors = step.errors(&["invalid_token"]);
        ctx.extend(judge::bearer_refused(
            &BearerRefusal {
                id: "registration",
                what: &format!("a registration ({})", m.label()),
                statuses: &[401],
                errors: &errors,
                requirements: &["DCR-01", "FDX-DCR-01"],
                severity: Severity::Failure,
            },
            &resp,
        ));
        return;
    }
    let (reqs, defaults) = rules(m);
    let errors_ok = step.errors(&defaults);
    let reqs = if reqs.is_empty() { vec!["DCR-03"] } else { reqs };
    let what = format!("the registration ({})", m.label());
    ctx.extend(errors::back_channel(
        &Rejection {
            id: "registration",
            what: &what,
            errors: &errors_ok,
            requirements: &reqs,
            tls_refusal_ok: false,
            severity: Severity::Failure,
            hint: "the server registered metadata the specification requires it to refuse; its error_description should name the field",
        },
        &resp,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_redirect_keeps_the_rest_of_the_uri() {
        assert_eq!(http_redirect("https://c.example/cb?x=1"), "http://c.example/cb?x=1");
    }

    #[test]
    fn every_metadata_mutation_has_a_rule() {
        for m in crate::mutations::for_step("register") {
            if TOKEN_MUTATIONS.contains(&m) || m == "fdx_client_status_in_body" {
                continue;
            }
            let (reqs, errors) = rules(&Mutations(vec![m.to_owned()]));
            assert!(!reqs.is_empty() && !errors.is_empty(), "{m}");
        }
    }
}
