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
//!
//! [requires]                                  # optional: what the target must offer
//! profile = "fdx"                             # sandbox.json: run against the workspace of this profile
//! features = ["registration", "fdx"]          # registration | fdx | dcr_manage | other_workspace
//!                                             # | introspection_client | ciba
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
}

impl Applies {
    pub fn matches(&self, v: &Variant) -> bool {
        self.client_auth.as_ref().is_none_or(|a| a.contains(&v.client_auth))
            && self.sender.as_ref().is_none_or(|s| s.contains(&v.sender))
            && self.openid.as_ref().is_none_or(|o| o.contains(&v.openid))
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
}

impl Feature {
    pub const ALL: [Feature; 6] =
        [Feature::Registration, Feature::Fdx, Feature::DcrManage, Feature::OtherWorkspace, Feature::IntrospectionClient, Feature::Ciba];
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Registration => "registration",
            Feature::Fdx => "fdx",
            Feature::DcrManage => "dcr_manage",
            Feature::OtherWorkspace => "other_workspace",
            Feature::IntrospectionClient => "introspection_client",
            Feature::Ciba => "ciba",
        }
    }
}

/// How a plan sends its authorization requests (the OIDF suite's `fapi_request_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestMethod {
    /// Plain form parameters at the PAR endpoint (FAPI 2.0 Security Profile).
    #[default]
    Unsigned,
    /// Every authorization parameter in a request object signed by the client, pushed as
    /// `request` (RFC 9101, RFC 9126 §3; MS-CL-01).
    Signed,
}

impl RequestMethod {
    pub const ALL: [RequestMethod; 2] = [RequestMethod::Unsigned, RequestMethod::Signed];
    pub fn as_str(self) -> &'static str {
        match self {
            RequestMethod::Unsigned => "unsigned",
            RequestMethod::Signed => "signed",
        }
    }
}

/// How a plan asks for authorization responses (the OIDF suite's `fapi_response_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Plain query parameters (RFC 6749 §4.1.2, RFC 9207).
    #[default]
    Plain,
    /// A JWT signed by the authorization server (JARM; `response_mode=jwt`, MS-JARM-CL-01).
    Jarm,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 2] = [ResponseMode::Plain, ResponseMode::Jarm];
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Plain => "plain",
            ResponseMode::Jarm => "jarm",
        }
    }
}

/// A plan's message settings, the same for every module of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Messages {
    pub request: RequestMethod,
    pub response: ResponseMode,
}

impl Messages {
    /// `request method signed, response mode jarm`, for listings and messages.
    pub fn label(&self) -> String {
        format!("request method {}, response mode {}", self.request.as_str(), self.response.as_str())
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
