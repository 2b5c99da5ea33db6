//! Scenario files: one test module per TOML file under `scenarios/<plan>/`.
//!
//! Format version 1 (documented in `scenarios/README.md`):
//!
//! ```toml
//! format = 1
//! module = "par-plain-pkce-rejected"          # unique within the plan
//! title = "PKCE method plain is refused at PAR"
//! requirements = ["FAPI2-SP-AZ-05", "PKCE-01"]
//!
//! [applies]                                   # optional; a missing axis means every value
//! client_auth = ["private_key_jwt"]           # private_key_jwt | mtls
//! sender = ["dpop"]                           # dpop | mtls
//! openid = ["openid_connect"]                 # openid_connect | plain_oauth
//! request_method = ["by_value"]               # unsigned | signed | by_value (the plan's, or its variant's)
//! response_mode = ["hybrid"]                  # plain | jarm | hybrid (the plan's, or its variant's)
//!
//! [requires]                                  # optional: what the target must offer
//! profile = "fdx"                             # sandbox.json: run against the workspace of this profile
//! features = ["registration", "fdx"]          # registration | fdx | dcr_manage | other_workspace
//!                                             # | introspection_client | ciba | passkeys
//!
//! [[steps]]
//! step = "par"                                # a step implemented in Rust (see `fapilab certify --list`)
//! client = 1                                  # which of the target's two clients (default 1)
//! mutations = ["pkce_plain"]                  # named changes to what the step sends
//! expect = "rejected"                         # success (default) | rejected | either
//! errors = ["invalid_request"]                # error codes accepted when rejected
//! ```
//!
//! Steps and mutations are Rust; a file composes them, so a bank adds a case by writing a file.
//!
//! A plan folder may also hold a `plan.toml` ([`crate::plan`]): it includes another plan's
//! modules and sets how every module of the plan sends its authorization requests and receives
//! the responses ([`Messages`]).

use serde::{Deserialize, Serialize};

pub use crate::variant::{RequestMethod, ResponseMode};
use crate::variant::{ClientAuth, OpenId, Sender, Variant};

pub const FORMAT_VERSION: u32 = 1;

/// What a step must observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The server accepts; the step's success conditions are checked.
    #[default]
    Success,
    /// The server refuses (an error response, an error page or an error redirect — each form
    /// the spec allows is accepted and recorded) with one of `errors` when a code is visible.
    Rejected,
    /// Either is allowed by the spec; what happened is recorded (and may warn).
    Either,
}

/// One `[[steps]]` entry as written in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepSpec {
    pub step: String,
    pub client: u8,
    pub mutations: Vec<String>,
    pub expect: Expect,
    pub errors: Vec<String>,
    /// Step-specific parameters (every other key of the table), e.g. `seconds = 1`.
    pub params: toml::Table,
    /// Line of the `[[steps]]` header in the file, for messages.
    pub line: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applies {
    pub client_auth: Option<Vec<ClientAuth>>,
    pub sender: Option<Vec<Sender>>,
    pub openid: Option<Vec<OpenId>>,
    /// Matched against the variant's request method, or the plan's when it does not vary it.
    #[serde(default)]
    pub request_method: Option<Vec<RequestMethod>>,
    /// Matched against the variant's response mode, or the plan's when it does not vary it.
    #[serde(default)]
    pub response_mode: Option<Vec<ResponseMode>>,
}

impl Applies {
    /// Whether a module applies to `v` in a plan whose settings are `plan` (the request method
    /// and response mode of a plan that does not vary them).
    pub fn matches(&self, v: &Variant, plan: &Messages) -> bool {
        let m = plan.for_variant(v);
        self.client_auth.as_ref().is_none_or(|a| a.contains(&v.client_auth))
            && self.sender.as_ref().is_none_or(|s| s.contains(&v.sender))
            && self.openid.as_ref().is_none_or(|o| o.contains(&v.openid))
            && self.request_method.as_ref().is_none_or(|r| r.contains(&m.request))
            && self.response_mode.as_ref().is_none_or(|r| r.contains(&m.response))
    }
}

/// Something a module needs from the target beyond the FAPI 2.0 basics; a target without it
/// makes the module SKIPPED with the reason ([`crate::target::Target::unmet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Dynamic client registration (RFC 7591/7592).
    Registration,
    /// The FDX client status endpoint and an admin client allowed to use it.
    Fdx,
    /// Registration management with the admin client's `dcr_manage` token.
    DcrManage,
    /// Another tenant's registration endpoint on the same server.
    OtherWorkspace,
    /// A resource-server client allowed to introspect tokens (RFC 7662, RFC 9701; MS-JIR-04:
    /// ordinary clients must not be).
    IntrospectionClient,
    /// CIBA (OpenID CIBA Core 1.0) with a simulated authentication device the harness can
    /// drive: users it approves, denies or leaves pending, and its device API.
    Ciba,
    /// Passkey (WebAuthn) sign-in: the RP ID and origin the harness's software authenticator
    /// answers for, and the account page where the target's user registers passkeys
    /// (`shared/spec/passkeys.md`).
    Passkeys,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::Registration,
        Feature::Fdx,
        Feature::DcrManage,
        Feature::OtherWorkspace,
        Feature::IntrospectionClient,
        Feature::Ciba,
        Feature::Passkeys,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Registration => "registration",
            Feature::Fdx => "fdx",
            Feature::DcrManage => "dcr_manage",
            Feature::OtherWorkspace => "other_workspace",
            Feature::IntrospectionClient => "introspection_client",
            Feature::Ciba => "ciba",
            Feature::Passkeys => "passkeys",
        }
    }
}

/// Which security profile the harness judges the server against: where FAPI 1.0 Advanced and
/// FAPI 2.0 differ (ID token and JARM algorithms, the `iss` authorization response parameter,
/// client assertion audiences, request object rules), the conditions follow it and cite its
/// requirement ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityProfile {
    /// FAPI 2.0 (Security Profile and Message Signing): `shared/spec/fapi2-*.md`.
    #[default]
    Fapi2,
    /// FAPI 1.0 Advanced: `shared/spec/fapi1.md`.
    Fapi1Advanced,
}

impl SecurityProfile {
    pub const ALL: [SecurityProfile; 2] = [SecurityProfile::Fapi2, SecurityProfile::Fapi1Advanced];
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProfile::Fapi2 => "fapi2",
            SecurityProfile::Fapi1Advanced => "fapi1-advanced",
        }
    }

    /// The requirement ids a condition cites under this profile. Steps and conditions are
    /// shared between the plans and name the FAPI 2.0 rules; under FAPI 1.0 Advanced each
    /// becomes the rule of `shared/spec/fapi1.md` that says the same, one without a FAPI 1.0
    /// counterpart (DPoP, clock skew, `typ`, the `iss` parameter, …) is dropped, and the
    /// building-block ids (`PKCE-`, `PAR-`, `OA-`, `PKJ-`, `MT-`, …) stay. A condition left with
    /// no id cites `fallback` (the module's requirements).
    pub fn requirements(self, ids: &[String], fallback: &[String]) -> Vec<String> {
        if self == SecurityProfile::Fapi2 {
            return ids.to_vec();
        }
        let mut out: Vec<String> = Vec::new();
        for id in ids {
            let mapped: &[&str] = match id.as_str() {
                "FAPI2-SP-AS-01" | "FAPI2-SP-CL-11" => &["B-AS-22"],
                "FAPI2-SP-AZ-01" | "MS-JARM-01" => &["A-AS-02"],
                "FAPI2-SP-AZ-02" => &["A-AS-11"],
                "FAPI2-SP-AZ-03" | "MS-AS-01" => &["A-AS-01"],
                "FAPI2-SP-AZ-04" | "FAPI2-SP-AS-03" | "FAPI2-SP-AS-06" => &["A-AS-14"],
                "FAPI2-SP-AZ-05" => &["A-AS-18"],
                "FAPI2-SP-AZ-06" => &["B-AS-09"],
                "FAPI2-SP-AZ-09" => &["B-AS-13"],
                "FAPI2-SP-AS-07" => &["B-AS-10"],
                "FAPI2-SP-AS-04" | "FAPI2-SP-AS-05" => &["A-AS-05", "A-AS-06"],
                "FAPI2-SP-CR-02" | "FAPI2-SP-CR-03" => &["A-ALG-01"],
                "FAPI2-SP-CR-04" => &["B-AS-05"],
                "FAPI2-SP-CR-05" => &["B-AS-06"],
                "FAPI2-SP-CR-06" => &["B-AS-16"],
                "FAPI2-SP-CR-07" => &["A-JWKS-01"],
                "FAPI2-SP-NET-01" | "FAPI2-SP-NET-02" | "FAPI2-SP-NET-03" | "FAPI2-SP-NET-06" => &["A-TLS-01"],
                "FAPI2-SP-NET-09" => &["B-TLS-01"],
                "FAPI2-SP-RS-01" | "FAPI2-SP-RS-02" | "FAPI2-SP-RS-05" => &["A-RS-01"],
                "FAPI2-SP-RS-03" => &["B-RS-04"],
                "FAPI2-SP-AZ-16" => &["PAR-10"],
                "MS-AS-02" => &["A-AS-15"],
                "MS-AS-03" => &["A-AS-17"],
                "MS-AS-04" => &["A-AS-13"],
                "MS-AS-06" => &["A-AS-01", "A-AS-20"],
                "MS-AS-07" => &["A-AS-19"],
                "MS-AS-08" => &["A-AS-10"],
                "MS-AS-09" => &["PAR-04"],
                other if other.starts_with("FAPI2-") || other.starts_with("MS-") || other.starts_with("DP-") => &[],
                other => {
                    if !out.iter().any(|o| o == other) {
                        out.push(other.to_owned());
                    }
                    &[]
                }
            };
            for m in mapped {
                if !out.iter().any(|o| o == m) {
                    out.push((*m).to_owned());
                }
            }
        }
        if out.is_empty() { fallback.to_vec() } else { out }
    }
}

/// A plan's message settings, the same for every module of the plan; a plan that varies the
/// request method or the response mode ([`crate::variant::VariantAxes`]) gets them from each
/// variant ([`Messages::for_variant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Messages {
    pub request: RequestMethod,
    pub response: ResponseMode,
    #[serde(default)]
    pub profile: SecurityProfile,
}

impl Messages {
    /// `request method signed, response mode jarm`, for listings and messages.
    pub fn label(&self) -> String {
        format!("request method {}, response mode {}", self.request.as_str(), self.response.as_str())
    }

    /// The settings one variant runs with: the variant's request method and response mode
    /// where it has them, the plan's otherwise.
    pub fn for_variant(&self, v: &Variant) -> Messages {
        Messages {
            request: v.request_method.unwrap_or(self.request),
            response: v.response_mode.unwrap_or(self.response),
            profile: self.profile,
        }
    }
}

/// `[requires]`: which workspace of a sandbox the module runs against, and what it needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Requires {
    /// A sandbox manifest's workspace profile (`None`: the first workspace).
    pub profile: Option<String>,
    pub features: Vec<Feature>,
}

/// A loaded, validated scenario (one module).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    pub plan: String,
    pub module: String,
    pub title: String,
    pub requirements: Vec<String>,
    pub applies: Applies,
    #[serde(default)]
    pub requires: Requires,
    pub steps: Vec<StepSpec>,
    /// The file it came from.
    pub source: String,
    /// Set by the plan (its `plan.toml`), not by the module file.
    #[serde(default)]
    pub messages: Messages,
}

impl Scenario {
    /// Whether the module runs in `v` (its `[applies]`, with the plan's settings).
    pub fn applies_to(&self, v: &Variant) -> bool {
        self.applies.matches(v, &self.messages)
    }
}
