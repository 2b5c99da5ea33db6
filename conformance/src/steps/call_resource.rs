//! `call_resource`: GET the target's resource URL with the access token — `Authorization:
//! DPoP` plus a proof with `ath` (DP-R-01), or `Bearer` over the client's mTLS connection
//! (MT-07) — and judge the answer (suite research §3.10). The DPoP negative list of the suite
//! is expressed as mutations of this step. After a `revoke` step, `expect = "rejected"` without
//! mutations checks that the revoked token (FAPI2-SP-RS-03), or the access token of a revoked
//! refresh token (REV-05, a SHOULD: a warning), no longer works.

use super::{DPOP_ONLY, Proof, StepRun, harness_problem, need_client, send_with_nonce_retry};
use crate::conditions::{Check, resource};
use crate::context::{ModuleContext, Standing};
use crate::http::{Request, Via};
use crate::model::Severity;
use crate::scenario::Expect;
use crate::variant::Sender;


fn requirements(m: &crate::mutations::Mutations) -> Vec<&'static str> {
    let table: &[(&str, &[&str])] = &[
        ("dpop_wrong_htm", &["DP-08", "FAPI2-SP-RS-05"]),
        ("dpop_wrong_htu", &["DP-09", "FAPI2-SP-RS-05"]),
        ("dpop_no_ath", &["DP-03", "DP-12"]),
        ("dpop_wrong_ath", &["DP-12"]),
        ("dpop_wrong_typ", &["DP-04"]),
        ("dpop_alg_none", &["DP-05", "FAPI2-SP-CR-03"]),
        ("dpop_private_jwk", &["DP-07"]),
        ("dpop_bad_signature", &["DP-06"]),
        ("dpop_iat_plus_3600", &["DP-11", "FAPI2-SP-AS-14"]),
        ("dpop_iat_minus_3600", &["DP-11"]),
        ("dpop_replay", &["DP-13"]),
        ("dpop_two_headers", &["DP-01"]),
        ("dpop_header_name_case", &["DP-14"]),
        ("scheme_case", &["FAPI2-SP-RS-01"]),
        ("token_in_query", &["FAPI2-SP-RS-02"]),
        ("bearer_scheme_for_dpop_token", &["DP-R-02", "FAPI2-SP-RS-05"]),
        ("other_client_token", &["FAPI2-SP-RS-05", "DP-12", "MT-07"]),
        ("no_sender_constraint", &["FAPI2-SP-RS-05"]),
        ("fapi_headers", &["B-RS-11", "B-RS-13"]),
        ("swap_certificate", &["MT-07", "FAPI2-SP-RS-05"]),
    ];
    let mut out: Vec<&str> = table.iter().filter(|(n, _)| m.has(n)).flat_map(|(_, r)| r.iter().copied()).collect();
    if out.is_empty() {
        out = vec!["FAPI2-SP-RS-01", "FAPI2-SP-RS-05"];
    }
    out
}

/// A random RFC 4122 version 4 UUID, lower-case.
fn uuid_v4() -> String {
    let mut b: Vec<u8> = fapilab_jose::b64::decode(&fapilab_jose::random_token(16)).unwrap_or_default();
    b.resize(16, 0);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// An RFC 9110 HTTP-date (IMF-fixdate), e.g. `Tue, 11 Nov 2025 08:49:37 GMT`.
fn http_date(t: std::time::SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let stamp = crate::certify::rfc3339(t);
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let weekday = DAYS[usize::try_from((secs / 86_400) % 7).unwrap_or(0)];
    // `stamp` is YYYY-MM-DDThh:mm:ssZ.
    let month = stamp.get(5..7).and_then(|m| m.parse::<usize>().ok()).and_then(|m| MONTHS.get(m - 1)).copied().unwrap_or("Jan");
    format!("{weekday}, {} {month} {} {} GMT", &stamp[8..10], &stamp[0..4], &stamp[11..19])
}

fn invert_case(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }).collect()
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    let Some(client) = need_client(ctx, step.index) else { return };
    let m = &step.mutations;
    let dpop = ctx.variant.sender == Sender::Dpop;
    if !dpop && let Some(name) = DPOP_ONLY.iter().find(|n| m.has(n)) {
        ctx.skip(format!("mutation {name} applies to DPoP-bound tokens only"));
        return;
    }
    let other_index = if step.index == 1 { 2 } else { 1 };
    let other = if m.has("swap_certificate") || m.has("other_client_token") {
        match need_client(ctx, other_index) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    let token_index = if m.has("other_client_token") { other_index } else { step.index };
    let Some(tokens) = ctx.state_ref(token_index).tokens.clone() else {
        return harness_problem(
            ctx,
            "resource.harness",
            "find an access token",
            &format!("client {token_index} has no access token yet: add its `token` step first"),
        );
    };
    let at = tokens.access_token.clone();
    let url = ctx.target.resource_url.clone();

    // The connection: the client's certificate for mTLS-bound tokens.
    let via = if dpop {
        if m.has("dpop_header_name_case") { Via::TitleCase } else { Via::Plain }
    } else if m.has("no_sender_constraint") {
        Via::Plain
    } else if m.has("swap_certificate") {
        match other.as_ref().and_then(|o| o.cert_pem.as_deref().zip(o.key_pem.as_deref())) {
            Some((c, k)) => Via::Identity { cert_pem: c, key_pem: k },
            None => return harness_problem(ctx, "resource.harness", "find client 2's certificate", "no cert_file/key_file for client 2"),
        }
    } else {
        match (&client.cert_pem, &client.key_pem) {
            (Some(c), Some(k)) => Via::Identity { cert_pem: c, key_pem: k },
            _ => {
                return harness_problem(
                    ctx,
                    "resource.harness",
                    "find the client certificate",
                    "no cert_file/key_file for an mTLS-bound client",
                );
            }
        }
    };
    let base_scheme = if dpop && !m.has("bearer_scheme_for_dpop_token") { "DPoP" } else { "Bearer" };
    let scheme = if m.has("scheme_case") { invert_case(base_scheme) } else { base_scheme.to_owned() };
    let key = ctx.state(step.index).dpop_key.clone();
    let with_proof = dpop && !m.has("no_sender_constraint") && !m.has("bearer_scheme_for_dpop_token") && !m.has("token_in_query");
    let in_query = m.has("token_in_query");
    let request_url = if in_query {
        let sep = if url.contains('?') { '&' } else { '?' };
        let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("access_token", &at).finish();
        format!("{url}{sep}{q}")
    } else {
        url.clone()
    };
    let m2 = m.clone();
    let make_proof = |nonce: Option<String>| -> Result<String, String> {
        let mut p = Proof::new(&key, "GET", &url).with_mutations(&m2);
        p.access_token = Some(&at);
        p.nonce = nonce;
        if m2.has("dpop_wrong_htm") {
            p.htm = "POST";
        }
        if m2.has("dpop_wrong_htu") {
            p.htu = "https://other-resource.fapilab.invalid/accounts".into();
        }
        if m2.has("dpop_no_ath") {
            p.ath_override = Some(String::new());
        }
        if m2.has("dpop_wrong_ath") {
            p.ath_override = Some(fapilab_jose::dpop::ath(&fapilab_jose::random_token(32)));
        }
        if m2.has("dpop_wrong_typ") {
            p.typ = "JWT";
        }
        p.alg_none = m2.has("dpop_alg_none");
        p.private_jwk = m2.has("dpop_private_jwk");
        p.bad_signature = m2.has("dpop_bad_signature");
        if m2.has("dpop_iat_plus_3600") {
            p.iat_offset = 3600;
        }
        if m2.has("dpop_iat_minus_3600") {
            p.iat_offset = -3600;
        }
        p.build()
    };
    let mut last_request = None;
    let interaction_id = uuid_v4();
    let resp = send_with_nonce_retry(ctx, via, step.index, true, |nonce| {
        let mut req = Request::get(request_url.clone());
        if !in_query {
            req = req.header("Authorization", format!("{scheme} {at}"));
        }
        // What real TPPs send alongside the token (the OIDF happy flow sends the same).
        if m2.has("ipv6_customer_ip") {
            req = req.header("x-fapi-customer-ip-address", "2001:db8::1:0:0:1");
        }
        if m2.has("fapi_headers") {
            // FAPI 1.0 Part 1 6.2.2: what a client may send, 6.2.1-11 and -13: what the
            // resource server must do with it.
            req = req
                .header("x-fapi-interaction-id", interaction_id.clone())
                .header("x-fapi-auth-date", http_date(std::time::SystemTime::now()))
                .header("x-fapi-customer-ip-address", "198.51.100.119");
        }
        if m2.has("accept_json_utf8") {
            req = req.header("Accept", "application/json; charset=utf-8");
        }
        if m2.has("accept_any") {
            req = req.header("Accept", "*/*");
        }
        if with_proof {
            req = req.header("DPoP", make_proof(nonce.clone())?);
            if m2.has("dpop_two_headers") {
                req = req.header("DPoP", make_proof(nonce)?);
            }
        }
        last_request = Some(req.clone());
        Ok(req)
    })
    .await;
    let mut resp = match resp {
        Ok(r) => r,
        Err(e) => return harness_problem(ctx, "resource.harness", "build the resource request", &e),
    };
    let reqs = requirements(m);
    if m.has("dpop_replay") {
        // The first use of the proof must work; the replay is what is judged.
        let first = resource::success("resource.replay_first_use", "the proof's first use", &["DP-R-01"], &resp);
        ctx.extend(first);
        if let Some(req) = last_request {
            resp = ctx.http.send(via, req).await;
        }
    }
    let accepted = matches!(resp.status, Some(200 | 201));
    let expect = step.expect();
    let what = if m.is_empty() { "the bound access token".to_owned() } else { format!("the call ({})", m.label()) };
    if expect == Expect::Success || (expect == Expect::Either && accepted) {
        let mut conds = resource::success("resource.status", &what, &reqs, &resp);
        if m.has("dpop_header_name_case")
            && let Some(c) = conds.first_mut()
        {
            c.severity = Severity::Warning;
        }
        ctx.extend(conds);
        if m.has("fapi_headers") && accepted {
            let echoed = resp.header("x-fapi-interaction-id");
            ctx.push(
                Check::new("resource.interaction_id", "the resource server echoes x-fapi-interaction-id")
                    .req(&["B-RS-11"])
                    .expected(interaction_id.clone())
                    .observed(echoed.unwrap_or("(absent)").to_owned())
                    .hint("return the x-fapi-interaction-id of the request unchanged (and log it, B-RS-12)")
                    .evidence(&[resp.index])
                    .pass(echoed == Some(interaction_id.as_str())),
            );
        }
        if !accepted && expect == Expect::Success && m.is_empty() {
            ctx.aborted = true;
        }
    } else {
        let severity = if m.has("dpop_replay") { Severity::Warning } else { Severity::Failure };
        // After a `revoke` step: a revoked access token must not work (FAPI2-SP-RS-03); one whose
        // refresh token was revoked should not (REV-05 is a SHOULD: a warning).
        let standing = if m.is_empty() { ctx.standing(step.index) } else { None };
        let (what, reqs, severity) = match (tokens.revoked, standing) {
            (Some("refresh"), _) if m.is_empty() => {
                ("the access token of a revoked refresh token".to_owned(), vec!["REV-05", "FAPI2-SP-RS-03"], Severity::Warning)
            }
            (Some("access"), _) if m.is_empty() => ("the revoked access token".to_owned(), vec!["REV-06", "FAPI2-SP-RS-03"], severity),
            // DCM-05 (the AS SHOULD revoke a deleted client's tokens) and FDX-ST-03 (tokens of a
            // client set inactive stop working) are SHOULDs: a working token is a warning.
            (_, Some(Standing::Deleted)) => ("the access token of a deleted client".to_owned(), vec!["DCM-05"], Severity::Warning),
            (_, Some(Standing::FdxInactive(status))) => {
                (format!("the access token of a client set to FDX status {status}"), vec!["FDX-ST-03"], Severity::Warning)
            }
            _ => (what, reqs, severity),
        };
        ctx.extend(resource::rejected("resource.rejected", &what, &reqs, severity, &resp));
    }
}

/// A plain, valid resource call with client `index`'s token, key and certificate (for steps
/// that need to know whether a token still works).
pub async fn simple_call(
    ctx: &mut ModuleContext,
    index: u8,
    client: &crate::target::TargetClient,
    access_token: &str,
) -> Result<crate::http::Response, String> {
    let url = ctx.target.resource_url.clone();
    let dpop = ctx.variant.sender == Sender::Dpop;
    let key = ctx.state(index).dpop_key.clone();
    let via = if dpop {
        Via::Plain
    } else {
        match (&client.cert_pem, &client.key_pem) {
            (Some(c), Some(k)) => Via::Identity { cert_pem: c, key_pem: k },
            _ => Via::Plain,
        }
    };
    send_with_nonce_retry(ctx, via, index, true, |nonce| {
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let mut req = Request::get(url.clone()).header("Authorization", format!("{scheme} {access_token}"));
        if dpop {
            let mut p = Proof::new(&key, "GET", &url);
            p.access_token = Some(access_token);
            p.nonce = nonce;
            req = req.header("DPoP", p.build()?);
        }
        Ok(req)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn http_dates_and_uuids() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, uuid_v4());
    }
}
