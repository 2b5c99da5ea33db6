//! `userinfo` (openid variants): call the UserInfo endpoint with the bound access token and
//! check the answer names the ID token's subject (OIDC Core §5.3; FAPI2-SP-RS-01, RS-05).
//!
//! UserInfo is a protected resource of the authorization server itself, so the resource
//! server negative tests apply to it too (`expect = "rejected"`: a 4xx, and with a 401 a
//! `WWW-Authenticate` challenge, RFC 6750 §3, RFC 9449 §7.1): the DPoP proof mutations
//! `dpop_wrong_htm` (DP-08), `dpop_wrong_htu` (DP-09), `dpop_no_ath` / `dpop_wrong_ath` (DP-12)
//! and `dpop_replay` (DP-13, a SHOULD: a warning), and `swap_certificate` (MT-07). Without
//! mutations, a refusal is expected of the token of a registered client that was deleted
//! (DCM-05) or set to an inactive FDX status (FDX-ST-03): both SHOULDs, so warnings.

use super::{DPOP_ONLY, Proof, StepRun, harness_problem, need_client, other_htm, other_htu, proof_to_replay, send_with_nonce_retry};
use crate::conditions::{Check, resource};
use crate::context::{ModuleContext, Standing};
use crate::http::{Request, Response, Via};
use crate::model::Severity;
use crate::scenario::Expect;
use crate::variant::Sender;

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    if !ctx.openid() {
        ctx.push(
            Check::new("userinfo.applies", "UserInfo is checked in openid variants only")
                .info()
                .observed("plain OAuth variant: not applicable")
                .pass(true),
        );
        return;
    }
    let m = &step.mutations;
    let dpop = ctx.variant.sender == Sender::Dpop;
    if !dpop && let Some(name) = DPOP_ONLY.iter().find(|n| m.has(n)) {
        return ctx.skip(format!("mutation {name} applies to DPoP-bound tokens only"));
    }
    if dpop && m.has("swap_certificate") {
        return ctx.skip("mutation swap_certificate applies to certificate-bound tokens only");
    }
    let Some(client) = need_client(ctx, step.index) else { return };
    let other = if m.has("swap_certificate") {
        match need_client(ctx, if step.index == 1 { 2 } else { 1 }) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    if !ctx.ensure_discovery().await {
        return;
    }
    let Some(url) = ctx.endpoint(&client, "userinfo_endpoint") else {
        if step.expect() == Expect::Rejected {
            return ctx.skip("the server advertises no userinfo_endpoint");
        }
        ctx.push(
            Check::new("userinfo.endpoint", "the server advertises a UserInfo endpoint")
                .req(&["OID-01"])
                .info()
                .expected("userinfo_endpoint in the metadata")
                .observed("absent: UserInfo not checked")
                .pass(true),
        );
        return;
    };
    let Some(tokens) = ctx.state_ref(step.index).tokens.clone() else {
        return harness_problem(ctx, "userinfo.harness", "find an access token", "add a `token` step before `userinfo`");
    };
    let key = ctx.state(step.index).dpop_key.clone();
    let via = if dpop {
        Via::Plain
    } else if let Some(o) = &other {
        match (&o.cert_pem, &o.key_pem) {
            (Some(c), Some(k)) => Via::Identity { cert_pem: c, key_pem: k },
            _ => return harness_problem(ctx, "userinfo.harness", "find client 2's certificate", "no cert_file/key_file for client 2"),
        }
    } else {
        ctx.via_for(&client)
    };
    let replayed = if dpop && m.has("dpop_replay") {
        match proof_to_replay(ctx, &key, "GET", &url) {
            Ok(p) => Some(p),
            Err(e) => return harness_problem(ctx, "userinfo.harness", "find the DPoP proof to replay", &e),
        }
    } else {
        None
    };
    let wrong_htu = other_htu(ctx, &url);
    let at = tokens.access_token.clone();
    let url2 = url.clone();
    let m2 = m.clone();
    let resp = send_with_nonce_retry(ctx, via, step.index, false, |nonce| {
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let mut req = Request::get(url2.clone()).header("Authorization", format!("{scheme} {at}"));
        if let Some(proof) = &replayed {
            req = req.header("DPoP", proof.clone());
        } else if dpop {
            let mut p = Proof::new(&key, "GET", &url2);
            p.access_token = Some(&at);
            p.nonce = nonce;
            if m2.has("dpop_wrong_htm") {
                p.htm = other_htm("GET");
            }
            if m2.has("dpop_wrong_htu") {
                p.htu = wrong_htu.clone();
            }
            if m2.has("dpop_no_ath") {
                p.ath_override = Some(String::new());
            }
            if m2.has("dpop_wrong_ath") {
                p.ath_override = Some(fapilab_jose::dpop::ath(&fapilab_jose::random_token(32)));
            }
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "userinfo.harness", "build the UserInfo request", &e),
    };
    let accepted = resp.status == Some(200);
    let expect = step.expect();
    if expect == Expect::Rejected || (expect == Expect::Either && !accepted) {
        return judge_rejected(ctx, step, &resp);
    }
    let ev = [resp.index];
    ctx.push(
        Check::new("userinfo.status", "UserInfo answers 200 for the bound token")
            .req(&["FAPI2-SP-RS-01", "FAPI2-SP-RS-05"])
            .expected("HTTP 200")
            .observed(resp.describe())
            .evidence(&ev)
            .pass(accepted),
    );
    if !accepted {
        return;
    }
    let body = resp.json();
    let sub = body.as_ref().and_then(|b| b.get("sub")).and_then(|s| s.as_str()).map(str::to_owned);
    let id_sub = tokens.id_token_claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str()).map(str::to_owned);
    ctx.push(
        Check::new("userinfo.sub", "UserInfo's sub equals the ID token's sub")
            .req(&["OID-01"])
            .expected(id_sub.clone().unwrap_or_else(|| "the ID token's sub".into()))
            .observed(sub.clone().unwrap_or_else(|| "(absent or not JSON)".into()))
            .evidence(&ev)
            .pass(sub.is_some() && (id_sub.is_none() || sub == id_sub)),
    );
}

/// Requirement ids for what the mutations break at UserInfo.
fn requirements(m: &crate::mutations::Mutations) -> Vec<&'static str> {
    let table: &[(&str, &[&str])] = &[
        ("dpop_wrong_htm", &["DP-08", "FAPI2-SP-RS-05"]),
        ("dpop_wrong_htu", &["DP-09", "FAPI2-SP-RS-05"]),
        ("dpop_no_ath", &["DP-03", "DP-12"]),
        ("dpop_wrong_ath", &["DP-12"]),
        ("dpop_replay", &["DP-13"]),
        ("swap_certificate", &["MT-07", "FAPI2-SP-RS-05"]),
    ];
    let out: Vec<&str> = table.iter().filter(|(n, _)| m.has(n)).flat_map(|(_, r)| r.iter().copied()).collect();
    if out.is_empty() { vec!["FAPI2-SP-RS-05"] } else { out }
}

/// A refused UserInfo call: a 4xx (never 2xx); a 401 must carry a `WWW-Authenticate`
/// challenge naming one of the accepted error codes (RFC 6750 §3, RFC 9449 §7.1).
fn judge_rejected(ctx: &mut ModuleContext, step: &StepRun<'_>, resp: &Response) {
    let m = &step.mutations;
    let standing = if m.is_empty() { ctx.standing(step.index) } else { None };
    let (what, reqs, severity) = match standing {
        // DCM-05 (revoke a deleted client's tokens) and FDX-ST-03 (tokens of a client set
        // inactive stop working) are SHOULDs: a working token is a warning.
        Some(Standing::Deleted) => ("the access token of a deleted client".to_owned(), vec!["DCM-05"], Severity::Warning),
        Some(Standing::FdxInactive(status)) => {
            (format!("the access token of a client set to FDX status {status}"), vec!["FDX-ST-03"], Severity::Warning)
        }
        None => (
            format!("the UserInfo call ({})", m.label()),
            requirements(m),
            if m.has("dpop_replay") { Severity::Warning } else { Severity::Failure },
        ),
    };
    ctx.extend(resource::rejected("userinfo.rejected", &what, &reqs, severity, resp));
    if resp.status != Some(401) {
        return;
    }
    let errors = step.errors(&["invalid_token", "invalid_dpop_proof", "invalid_request"]);
    let challenge = resp.header("www-authenticate");
    let named = challenge.is_some_and(|w| errors.iter().any(|e| w.contains(&format!("error=\"{e}\"")) || w.contains(&format!("error={e}"))));
    ctx.push(
        Check::new("userinfo.challenge", "the 401 carries a WWW-Authenticate challenge with the error")
            .req(&["OA-05"])
            .expected(format!("WWW-Authenticate with error=\"{}\"", errors.join("\" or error=\"")))
            .observed(challenge.unwrap_or("(absent)").to_owned())
            .evidence(&[resp.index])
            .pass(named),
    );
}
