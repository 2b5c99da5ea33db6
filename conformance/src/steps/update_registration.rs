//! `update_registration`: `PUT registration_client_uri` with the complete metadata (RFC 7592
//! §2.2, DCM-04): everything the server last returned except the members only it sets, plus
//! `client_id`, with the changes the params ask for. 200 with the new metadata; the FDX
//! status stays what it was (a client cannot set its own, FDX-DCR-04). The client's redirect
//! URIs follow the update, so later flow steps use the new ones.
//!
//! Params: `client_name = "…"`, `change_redirect_uri = true` (replace the redirect URIs by one
//! new URI). Mutations: a bad credential (DCM-03), `mismatched_client_id`,
//! `http_redirect_uri` (400), `fdx_client_status_in_body` (ignored or 400).

use serde_json::{Value, json};

use super::StepRun;
use crate::conditions::registration::{self as judge, Expected};
use crate::context::ModuleContext;
use crate::registration::{judge_management_refusal, need_registered, remember_answer, send_management, update_body};
use crate::scenario::Expect;

/// A redirect URI the client did not have: the first one with a fresh last path segment.
fn new_redirect_uri(old: &str) -> String {
    let base = old.split(['?', '#']).next().unwrap_or(old).trim_end_matches('/');
    format!("{base}/updated-{}", fapilab_jose::random_token(6))
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(registered) = need_registered(ctx, step.index, "update.harness") else { return };
    let m = &step.mutations;
    let mut body = update_body(&registered.metadata, &registered.client.client_id);
    if let Some(name) = step.param_str("client_name") {
        body.insert("client_name".into(), json!(name));
    }
    if step.param_bool("change_redirect_uri") == Some(true) {
        body.insert("redirect_uris".into(), json!([new_redirect_uri(&registered.client.redirect_uri)]));
    }
    if m.has("http_redirect_uri") {
        let uri = registered.client.redirect_uri.replacen("https://", "http://", 1);
        body.insert("redirect_uris".into(), json!([uri]));
    }
    if m.has("mismatched_client_id") {
        body.insert("client_id".into(), json!(format!("not-{}", registered.client.client_id)));
    }
    if m.has("fdx_client_status_in_body") {
        body.insert("fdx_client_status".into(), json!("Approved"));
    }
    let Some(managed) = send_management(ctx, step.index, m, "PUT", Some(Value::Object(body.clone())), "update").await else {
        return;
    };
    let ok = managed.resp.status == Some(200);
    if step.expect() == Expect::Success || (step.expect() == Expect::Either && ok) {
        let fdx_reqs: &[&str] = &["FDX-DCR-04"];
        let (conds, answer) = judge::client_information(
            &Expected {
                prefix: "update",
                what: "the update",
                requirements: &["DCM-04"],
                client_id: &registered.client.client_id,
                metadata: &body,
                fdx_status: registered.fdx_status.as_deref().map(|s| (s, fdx_reqs)),
            },
            &managed.resp,
        );
        ctx.extend(conds);
        match answer {
            Some(b) => remember_answer(ctx, step.index, &b, managed.with_admin),
            None => ctx.aborted = true,
        }
        return;
    }
    judge_management_refusal(ctx, step, "update", &managed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_redirect_uri_differs_and_drops_the_query() {
        let u = new_redirect_uri("https://c.example/cb?x=1");
        assert!(u.starts_with("https://c.example/cb/updated-") && !u.contains('?'), "{u}");
    }
}
