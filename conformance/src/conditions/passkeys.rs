//! Passkeys (`shared/spec/passkeys.md`): the WebAuthn options the server sends for a
//! registration (REG-OPT-01…05, PK-01, PK-02, PK-04) and a sign-in (AUTH-OPT-01, AUTH-OPT-02),
//! how it answers a posted credential it must refuse, whether a refused sign-in left a session,
//! and the ID token of a passkey sign-in (INT-PK-01).

use serde_json::{Map, Value};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse, ResidentKeyRequirement, UserVerificationPolicy};

use super::Check;
use crate::http::Response;
use crate::model::Condition;
use crate::passkey::browser::{Landing, alert_text, form_by_id, is_sign_in_page};
use crate::target::Passkeys;

/// REG-OPT-01, AUTH-OPT-01: a challenge SHOULD have at least 16 bytes.
const MIN_CHALLENGE: usize = 16;

fn uv_name(policy: &UserVerificationPolicy) -> &'static str {
    match policy {
        UserVerificationPolicy::Required => "required",
        UserVerificationPolicy::Preferred => "preferred",
        UserVerificationPolicy::Discouraged_DO_NOT_USE => "discouraged",
    }
}

/// The creation options of a registration. `username` is the user's login (REG-OPT-03: not in
/// `user.id`); `held` the ids of the user's passkeys the module registered and did not remove
/// (REG-OPT-05: `excludeCredentials`).
pub fn creation_options(
    options: &CreationChallengeResponse,
    want: &Passkeys,
    username: &str,
    held: &[Vec<u8>],
    evidence: &[usize],
) -> Vec<Condition> {
    let o = &options.public_key;
    let mut out = vec![
        Check::new("passkey_register.challenge", "the registration challenge is long enough to be unguessable")
            .req(&["REG-OPT-01"])
            .warning()
            .expected(format!("at least {MIN_CHALLENGE} random bytes (32 advised)"))
            .observed(format!("{} bytes", o.challenge.len()))
            .evidence(evidence)
            .pass(o.challenge.len() >= MIN_CHALLENGE),
        Check::new("passkey_register.rp_id", "the options name the target's RP ID")
            .req(&["REG-OPT-02"])
            .expected(want.rp_id.clone())
            .observed(o.rp.id.clone())
            .evidence(evidence)
            .pass(o.rp.id == want.rp_id),
    ];
    let handle = &o.user.id;
    let names_user = !username.is_empty() && handle.windows(username.len()).any(|w| w.eq_ignore_ascii_case(username.as_bytes()));
    out.push(
        Check::new("passkey_register.user_id", "user.id is an opaque handle of 1 to 64 bytes, not the username")
            .req(&["REG-OPT-03", "PK-02"])
            .expected("1–64 random bytes without personal data")
            .observed(format!("{} bytes{}", handle.len(), if names_user { ", containing the username" } else { "" }))
            .hint("a usernameless sign-in finds the user by this handle alone: make it random and store it with the account")
            .evidence(evidence)
            .pass((1..=64).contains(&handle.len()) && !names_user),
    );
    let algs: Vec<i64> = o.pub_key_cred_params.iter().filter(|p| p.type_ == "public-key").map(|p| p.alg).collect();
    out.push(
        Check::new("passkey_register.es256_offered", "pubKeyCredParams offers ES256")
            .req(&["REG-OPT-04"])
            .expected("-7 (ES256) among the algorithms")
            .observed(format!("{algs:?}"))
            .evidence(evidence)
            .pass(algs.contains(&-7)),
    );
    let selection = o.authenticator_selection.as_ref();
    let resident = selection.is_some_and(|s| s.require_resident_key || matches!(s.resident_key, Some(ResidentKeyRequirement::Required)));
    out.push(
        Check::new("passkey_register.resident_key", "a passkey is requested: a discoverable (resident) credential")
            .req(&["PK-01", "REG-OPT-05"])
            .expected("authenticatorSelection.residentKey = \"required\" (requireResidentKey: true)")
            .observed(match selection {
                Some(s) => format!("residentKey {:?}, requireResidentKey {}", s.resident_key, s.require_resident_key),
                None => "no authenticatorSelection".into(),
            })
            .hint("without a resident credential the authenticator cannot find the account in a usernameless sign-in")
            .evidence(evidence)
            .pass(resident),
    );
    out.push(
        Check::new("passkey_register.user_verification", "user verification is required for a passwordless credential")
            .req(&["REG-OPT-05"])
            .warning()
            .expected("authenticatorSelection.userVerification = \"required\"")
            .observed(selection.map_or("absent (preferred)", |s| uv_name(&s.user_verification)).to_owned())
            .evidence(evidence)
            .pass(selection.is_some_and(|s| s.user_verification == UserVerificationPolicy::Required)),
    );
    if !held.is_empty() {
        let excluded = o.exclude_credentials.as_deref().unwrap_or_default();
        let missing = held.iter().filter(|id| !excluded.iter().any(|c| &c.id == *id)).count();
        out.push(
            Check::new("passkey_register.exclude_credentials", "excludeCredentials lists the user's passkeys")
                .req(&["REG-OPT-05", "PK-04"])
                .warning()
                .expected(format!("the {} passkey(s) registered earlier in this module among excludeCredentials", held.len()))
                .observed(format!("{} listed, {missing} of the module's missing", excluded.len()))
                .hint("list the user's credential ids so an authenticator does not make a second credential for the same account")
                .evidence(evidence)
                .pass(missing == 0),
        );
    }
    out
}

/// The request options of a usernameless passkey sign-in.
pub fn request_options(options: &RequestChallengeResponse, want: &Passkeys, evidence: &[usize]) -> Vec<Condition> {
    let o = &options.public_key;
    vec![
        Check::new("passkey_login.challenge", "the sign-in challenge is long enough to be unguessable")
            .req(&["AUTH-OPT-01"])
            .warning()
            .expected(format!("at least {MIN_CHALLENGE} random bytes (32 advised)"))
            .observed(format!("{} bytes", o.challenge.len()))
            .evidence(evidence)
            .pass(o.challenge.len() >= MIN_CHALLENGE),
        Check::new("passkey_login.rp_id", "the options name the target's RP ID")
            .req(&["AUTH-OPT-01", "AUTH-05"])
            .expected(want.rp_id.clone())
            .observed(o.rp_id.clone())
            .evidence(evidence)
            .pass(o.rp_id == want.rp_id),
        Check::new("passkey_login.user_verification", "a passwordless sign-in requires user verification")
            .req(&["AUTH-OPT-01", "INT-PK-01"])
            .expected("userVerification = \"required\"")
            .observed(uv_name(&o.user_verification))
            .hint("with UV not required, a stolen unlocked authenticator signs in alone: the passkey is then one factor")
            .evidence(evidence)
            .pass(o.user_verification == UserVerificationPolicy::Required),
        Check::new("passkey_login.allow_credentials", "a usernameless sign-in names no credential")
            .req(&["AUTH-OPT-02"])
            .expected("allowCredentials empty (the authenticator offers its discoverable credentials)")
            .observed(format!("{} credential(s)", o.allow_credentials.len()))
            .evidence(evidence)
            .pass(o.allow_credentials.is_empty()),
    ]
}

/// What a refusal's status is judged by: the target's form contract, not a WebAuthn rule.
pub const CONTRACT: &str = "README \"Login form contract\"";

/// Ceremony options as the page's script reads them: HTTP 200 with `{"publicKey": …}` of type
/// `T`; otherwise the failing condition `name` (what was asked, under `rule`).
pub fn parse_options<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &str,
    rule: &str,
    expected: &str,
    resp: &Response,
) -> Result<T, Box<Condition>> {
    let parsed = (resp.status == Some(200)).then(|| resp.json()).flatten().map(|o| serde_json::from_value::<T>(o.into()));
    match parsed {
        Some(Ok(options)) => Ok(options),
        other => Err(Box::new(
            Check::new(name, what)
                .req(&[rule])
                .expected(expected)
                .observed(match other {
                    Some(Err(e)) => format!("{}: {e}", resp.describe()),
                    _ => resp.describe(),
                })
                .evidence(&[resp.index])
                .pass(false),
        )),
    }
}

/// A posted credential the server must refuse: a 4xx answer without a redirect (`rules`), the
/// status the target's contract names (`want_status`: 401 for a sign-in, 400 for a
/// registration, [`CONTRACT`]) and a `role="alert"` text the user can read (a warning).
/// `prefix` is the step, `what` the broken rule in words.
pub fn refused(prefix: &str, what: &str, resp: &Response, want_status: u16, rules: &[&str], evidence: &[usize]) -> Vec<Condition> {
    let status = resp.status_or_zero();
    let location = resp.header("location").map(crate::http::redact_url);
    let alert = alert_text(&resp.body);
    let observed = match (&resp.error, &location) {
        (Some(e), _) => format!("transport error: {e}"),
        (None, Some(l)) => format!("HTTP {status} to {l}"),
        (None, None) => match &alert {
            Some(alert) => format!("HTTP {status}: {alert:?}"),
            None => format!("HTTP {status}"),
        },
    };
    vec![
        Check::new(&format!("{prefix}.refused"), format!("the server refuses {what}"))
            .req(rules)
            .expected("an error page (4xx), no redirect onwards")
            .observed(observed.clone())
            .evidence(evidence)
            .pass((400..500).contains(&status) && location.is_none()),
        Check::new(&format!("{prefix}.refusal_status"), format!("the refusal is HTTP {want_status}, as the target's form contract says"))
            .req(&[CONTRACT])
            .expected(format!("HTTP {want_status}"))
            .observed(observed)
            .evidence(evidence)
            .pass(status == want_status),
        Check::new(&format!("{prefix}.error_shown"), "the page tells the user what went wrong")
            .req(rules)
            .warning()
            .expected("an error element with role=\"alert\" and its text")
            .observed(alert.as_ref().map_or_else(|| "absent".to_owned(), |a| format!("{a:?}")))
            .evidence(evidence)
            .pass(alert.is_some()),
    ]
}

/// After a refused sign-in the browser holds no session: the account page, which needs one,
/// answers with a sign-in page (HTTP 200, a form with the password field `password_field` or
/// `form#passkey-login`, no registration form). Anything else — the account page, signed in
/// (with the registration form, or with a "sign in again" link when the sign-in is old), an
/// error, a redirect away, no answer — does not show that there is no session.
pub fn no_session(prefix: &str, account: &Landing, password_field: &str, rules: &[&str]) -> Condition {
    let mut ids = rules.to_vec();
    if !ids.contains(&"INT-PK-01") {
        ids.push("INT-PK-01");
    }
    let body = &account.response.body;
    let sign_in = is_sign_in_page(body, &account.url, password_field);
    let register = form_by_id(body, &account.url, "passkey-register").is_some();
    let shows = if register {
        "the account page with the registration form: signed in"
    } else if sign_in {
        "a sign-in page"
    } else {
        "no sign-in form"
    };
    Check::new(&format!("{prefix}.no_session"), "the refused sign-in opened no session")
        .req(&ids)
        .expected(format!("the account page asks this browser to sign in: HTTP 200, a `{password_field}` field or form#passkey-login"))
        .observed(format!("{}: {shows}", account.describe()))
        .hint("the session cookie must be set only after the assertion verified (INT-PK-01)")
        .evidence(&account.evidence)
        .pass(account.is_page() && sign_in && !register)
}

/// The ID token after a passkey sign-in (INT-PK-01, RFC 8176): `amr` names user verification,
/// the kind of key the registration's flags say — `hwk` for a device-bound credential
/// (`backup_eligible` false, BE = 0), `swk` for a backup-eligible (synced) one, PK-03 — and
/// no password; an `acr`.
pub fn sign_in_claims(claims: &Map<String, Value>, backup_eligible: bool, evidence: &[usize]) -> Vec<Condition> {
    let amr: Option<Vec<&str>> = claims.get("amr").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect());
    let has = |m: &str| amr.as_ref().is_some_and(|a| a.contains(&m));
    let (key, other, kind) =
        if backup_eligible { ("swk", "hwk", "backup-eligible (BE = 1)") } else { ("hwk", "swk", "device-bound (BE = 0)") };
    let acr = claims.get("acr");
    vec![
        Check::new("passkey_claims.amr", "amr says a user-verified key of the registered kind, and nothing else, signed in")
            .req(&["INT-PK-01", "PK-03"])
            .expected(format!("amr with \"user\" and \"{key}\" (the credential is {kind}), without \"{other}\" or \"pwd\""))
            .observed(claims.get("amr").map_or_else(|| "absent".to_owned(), Value::to_string))
            .hint("RFC 8176: hwk for a device-bound key, swk for a synced (backup-eligible) passkey, user for user verification")
            .evidence(evidence)
            .pass(has("user") && has(key) && !has(other) && !has("pwd")),
        Check::new("passkey_claims.acr", "the ID token names the authentication context class of the passkey sign-in")
            .req(&["INT-PK-01"])
            .expected("acr: a non-empty string")
            .observed(acr.map_or_else(|| "absent".to_owned(), Value::to_string))
            .evidence(evidence)
            .pass(acr.and_then(Value::as_str).is_some_and(|s| !s.is_empty())),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn want() -> Passkeys {
        Passkeys {
            rp_id: "localhost".into(),
            origin: "https://localhost:8443".into(),
            account_url: "https://localhost:8443/t/w/account".into(),
        }
    }

    fn failed(conds: &[Condition]) -> Vec<&str> {
        conds.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn judges_creation_options() {
        let good = json!({"publicKey": {
            "rp": {"name": "x", "id": "localhost"}, "user": {"id": "AAECAwQFBgcICQoLDA0ODw", "name": "alice", "displayName": "alice"},
            "challenge": fapilab_jose::b64::encode(&[9; 32]), "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "excludeCredentials": [{"type": "public-key", "id": "AQID"}],
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"}}});
        let options: CreationChallengeResponse = serde_json::from_value(good.clone()).unwrap();
        assert!(failed(&creation_options(&options, &want(), "alice", &[vec![1, 2, 3]], &[])).is_empty());
        let mut bad = good;
        bad["publicKey"]["user"]["id"] = json!(fapilab_jose::b64::encode(b"alice"));
        bad["publicKey"]["rp"]["id"] = json!("other.example");
        bad["publicKey"]["challenge"] = json!("AAEC");
        bad["publicKey"]["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -257}]);
        bad["publicKey"]["authenticatorSelection"] =
            json!({"residentKey": "discouraged", "requireResidentKey": false, "userVerification": "preferred"});
        bad["publicKey"]["excludeCredentials"] = json!([]);
        let options: CreationChallengeResponse = serde_json::from_value(bad).unwrap();
        assert_eq!(
            failed(&creation_options(&options, &want(), "alice", &[vec![1, 2, 3]], &[])),
            vec![
                "passkey_register.challenge",
                "passkey_register.rp_id",
                "passkey_register.user_id",
                "passkey_register.es256_offered",
                "passkey_register.resident_key",
                "passkey_register.user_verification",
                "passkey_register.exclude_credentials"
            ]
        );
    }

    #[test]
    fn judges_request_options() {
        let good = json!({"publicKey": {"challenge": fapilab_jose::b64::encode(&[1; 32]), "rpId": "localhost", "allowCredentials": [], "userVerification": "required"}});
        let options: RequestChallengeResponse = serde_json::from_value(good).unwrap();
        assert!(failed(&request_options(&options, &want(), &[])).is_empty());
        let bad = json!({"publicKey": {"challenge": "AAEC", "rpId": "example", "allowCredentials": [{"type": "public-key", "id": "AQID"}], "userVerification": "preferred"}});
        let options: RequestChallengeResponse = serde_json::from_value(bad).unwrap();
        assert_eq!(failed(&request_options(&options, &want(), &[])).len(), 4);
    }

    #[test]
    fn a_refusal_is_an_error_page_without_a_redirect() {
        let page = |status: u16, headers: Vec<(String, String)>, body: &str| Response {
            index: 0,
            status: Some(status),
            headers,
            body: body.into(),
            error: None,
        };
        let ok = refused("passkey_login", "x", &page(401, vec![], "<p role=\"alert\">No.</p>"), 401, &["AUTH-08"], &[]);
        assert!(failed(&ok).is_empty());
        assert_eq!(ok[0].requirements, vec!["AUTH-08"]);
        assert_eq!(ok[1].requirements, vec![CONTRACT], "the status is the target's contract, not a WebAuthn rule");
        let single_quoted =
            refused("passkey_register", "x", &page(400, vec![], "<p class='error' role='alert'>No.</p>"), 400, &["REG-09"], &[]);
        assert!(failed(&single_quoted).is_empty());
        let other_status = refused("passkey_login", "x", &page(400, vec![], "<p>No.</p>"), 401, &["AUTH-08"], &[]);
        assert_eq!(failed(&other_status), vec!["passkey_login.refusal_status", "passkey_login.error_shown"]);
        let redirect = page(303, vec![("location".into(), "/t/w/consent?interaction_id=1".into())], "");
        assert_eq!(failed(&refused("passkey_login", "x", &redirect, 401, &["AUTH-08"], &[])).len(), 3);
        let server_error = page(500, vec![], "<p role=\"alert\">Oops</p>");
        assert_eq!(failed(&refused("passkey_login", "x", &server_error, 401, &["AUTH-08"], &[])).len(), 2);
    }

    #[test]
    fn no_session_needs_a_sign_in_page() {
        const URL: &str = "https://localhost:8443/t/w/account";
        let landing = |status: Option<u16>, body: &str, left_to: Option<(String, u16)>| Landing {
            response: Response {
                index: 3,
                status,
                headers: Vec::new(),
                body: body.into(),
                error: status.is_none().then(|| "reset".to_owned()),
            },
            url: URL.into(),
            left_to,
            evidence: vec![3],
        };
        let login = r#"<form method="post" action="/t/w/login"><input type="hidden" name="csrf_token" value="c"><input name="username"><input name="password" type="password"></form>"#;
        let passkey_only =
            r#"<form id="passkey-login" method="post" action="/t/w/passkey/login" data-options="/t/w/passkey/options"></form>"#;
        let account = r#"<form id="passkey-register" method="post" action="/t/w/account/passkeys" data-options="/t/w/account/passkeys/options"><input name="name"></form>"#;
        let sign_in_again = r#"<p>Signed in as alice.</p><a href="/t/w/account?sign_in=again">sign in again</a>"#;
        let judge = |l: &Landing| no_session("passkey_login", l, "password", &["AUTH-08"]);
        assert!(judge(&landing(Some(200), login, None)).passed);
        assert!(judge(&landing(Some(200), passkey_only, None)).passed);
        assert_eq!(judge(&landing(Some(200), login, None)).requirements, vec!["AUTH-08", "INT-PK-01"]);
        for (what, l) in [
            ("signed in", landing(Some(200), account, None)),
            ("signed in, an old sign-in", landing(Some(200), sign_in_again, None)),
            ("a sign-in form next to the account", landing(Some(200), &format!("{login}{account}"), None)),
            ("a server error", landing(Some(500), login, None)),
            ("rate limited", landing(Some(429), "<p>Too many requests</p>", None)),
            ("no answer", landing(None, "", None)),
            ("a redirect away", landing(Some(200), "", Some(("https://client.example/cb".into(), 303)))),
        ] {
            let c = judge(&l);
            assert!(!c.passed, "{what}: {}", c.observed);
        }
        assert!(!no_session("passkey_login", &landing(Some(200), login, None), "passcode", &[]).passed, "the target's password field");
    }

    #[test]
    fn judges_amr_and_acr() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let device_bound = |v: Value| failed(&sign_in_claims(&claims(v), false, &[])).into_iter().map(str::to_owned).collect::<Vec<_>>();
        let synced = |v: Value| failed(&sign_in_claims(&claims(v), true, &[])).into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert!(device_bound(json!({"amr": ["hwk", "user"], "acr": "urn:x:passkey"})).is_empty());
        assert!(synced(json!({"amr": ["user", "swk", "mfa"], "acr": "1"})).is_empty());
        // The kind of key follows the registration's BE flag.
        assert_eq!(device_bound(json!({"amr": ["swk", "user"], "acr": "1"})), vec!["passkey_claims.amr"]);
        assert_eq!(synced(json!({"amr": ["hwk", "user"], "acr": "1"})), vec!["passkey_claims.amr"]);
        for bad in [json!(["hwk"]), json!(["hwk", "swk", "user"]), json!(["pwd", "hwk", "user"]), json!("hwk user"), json!([])] {
            assert_eq!(device_bound(json!({"amr": bad, "acr": "1"})), vec!["passkey_claims.amr"], "{bad}");
        }
        assert_eq!(device_bound(json!({"amr": ["hwk", "user"], "acr": ""})), vec!["passkey_claims.acr"]);
        assert_eq!(device_bound(json!({"amr": ["hwk", "user"]})), vec!["passkey_claims.acr"]);
    }
}
