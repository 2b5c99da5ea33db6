//! Test variants. Every plan varies client authentication × sender constraint × OpenID
//! (FAPI2-SP §0, the OIDF `client_auth_type`, `sender_constrain`, `openid`); a plan may also
//! vary how authorization requests are sent and responses received (the OIDF
//! `fapi_auth_request_method` / `fapi_request_method` and `fapi_response_mode`), and may fix any
//! axis to fewer values. A plan's `plan.toml` declares its axes ([`VariantAxes`], `[variants]`);
//! without one a plan runs the eight FAPI 2.0 variants.
//!
//! The request method and the response mode are variant axes only in the plans that declare
//! them: elsewhere they are plan settings ([`crate::scenario::Messages`]), so a variant of such a
//! plan carries `None` for them and its label, report names and JSON stay as they were.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    PrivateKeyJwt,
    Mtls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Dpop,
    Mtls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenId {
    OpenidConnect,
    PlainOauth,
}

/// How authorization requests are sent (the OIDF suite's `fapi_request_method` in FAPI 2.0
/// Message Signing, `fapi_auth_request_method` in FAPI 1.0 Advanced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestMethod {
    /// Plain form parameters at the PAR endpoint (FAPI 2.0 Security Profile).
    #[default]
    Unsigned,
    /// Every authorization parameter in a request object signed by the client, pushed as
    /// `request` (RFC 9101, RFC 9126 §3; MS-CL-01, A-AS-01, A-AS-11); the authorization URL
    /// carries only `client_id` and `request_uri`. The OIDF suite calls it
    /// `signed_non_repudiation` (FAPI 2.0) and `pushed` (FAPI 1.0).
    Signed,
    /// The signed request object in the `request` parameter of the authorization URL, with
    /// `response_type`, `client_id` and `scope` repeated in the query (RFC 9101 §5.1; A-AS-01,
    /// A-AS-19, FAPI1 Part 2 5.2.3-9). Nothing is pushed.
    ByValue,
}

impl RequestMethod {
    pub const ALL: [RequestMethod; 3] = [RequestMethod::Unsigned, RequestMethod::Signed, RequestMethod::ByValue];
    pub fn as_str(self) -> &'static str {
        match self {
            RequestMethod::Unsigned => "unsigned",
            RequestMethod::Signed => "signed",
            RequestMethod::ByValue => "by_value",
        }
    }

    /// The request travels in a signed request object.
    pub fn signed(self) -> bool {
        self != RequestMethod::Unsigned
    }
}

/// How authorization responses come back (the OIDF suite's `fapi_response_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// `response_type=code`, plain query parameters (RFC 6749 §4.1.2, RFC 9207).
    #[default]
    Plain,
    /// `response_type=code` with `response_mode=jwt`: a JWT signed by the authorization server
    /// (JARM; MS-JARM-CL-01, A-JARM-01).
    Jarm,
    /// `response_type=code id_token`: code, ID token and state in the fragment, the ID token a
    /// detached signature over code and state (OIDC Core 3.3; A-AS-02, A-IDT-04, A-IDT-05). The
    /// OIDF FAPI 1.0 plan calls it `plain_response`.
    Hybrid,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 3] = [ResponseMode::Plain, ResponseMode::Jarm, ResponseMode::Hybrid];
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Plain => "plain",
            ResponseMode::Jarm => "jarm",
            ResponseMode::Hybrid => "hybrid",
        }
    }
}

/// One variant. `request_method` and `response_mode` are `Some` only in plans that vary them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Variant {
    pub client_auth: ClientAuth,
    pub sender: Sender,
    pub openid: OpenId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_method: Option<RequestMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<ResponseMode>,
}

impl ClientAuth {
    pub const ALL: [ClientAuth; 2] = [ClientAuth::PrivateKeyJwt, ClientAuth::Mtls];
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
            ClientAuth::Mtls => "mtls",
        }
    }
}

impl Sender {
    pub const ALL: [Sender; 2] = [Sender::Dpop, Sender::Mtls];
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Dpop => "dpop",
            Sender::Mtls => "mtls",
        }
    }
}

impl OpenId {
    pub const ALL: [OpenId; 2] = [OpenId::OpenidConnect, OpenId::PlainOauth];
    pub fn as_str(self) -> &'static str {
        match self {
            OpenId::OpenidConnect => "openid_connect",
            OpenId::PlainOauth => "plain_oauth",
        }
    }
}

/// The axes of a plan: the values each takes. `request_method` and `response_mode` are axes
/// only when `Some`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantAxes {
    pub client_auth: Vec<ClientAuth>,
    pub sender: Vec<Sender>,
    pub openid: Vec<OpenId>,
    pub request_method: Option<Vec<RequestMethod>>,
    pub response_mode: Option<Vec<ResponseMode>>,
}

impl Default for VariantAxes {
    /// The eight FAPI 2.0 variants.
    fn default() -> Self {
        VariantAxes {
            client_auth: ClientAuth::ALL.to_vec(),
            sender: Sender::ALL.to_vec(),
            openid: OpenId::ALL.to_vec(),
            request_method: None,
            response_mode: None,
        }
    }
}

impl VariantAxes {
    /// Every combination, in a stable order (client_auth, sender, openid, request method,
    /// response mode).
    pub fn variants(&self) -> Vec<Variant> {
        let methods: Vec<Option<RequestMethod>> = match &self.request_method {
            Some(v) => v.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        let modes: Vec<Option<ResponseMode>> = match &self.response_mode {
            Some(v) => v.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        let mut all = Vec::new();
        for &client_auth in &self.client_auth {
            for &sender in &self.sender {
                for &openid in &self.openid {
                    for &request_method in &methods {
                        for &response_mode in &modes {
                            all.push(Variant { client_auth, sender, openid, request_method, response_mode });
                        }
                    }
                }
            }
        }
        all
    }

    /// `client_auth=private_key_jwt|mtls, sender=mtls, …` for listings.
    pub fn label(&self) -> String {
        fn axis<T: Copy>(name: &str, values: &[T], label: fn(T) -> &'static str) -> String {
            format!("{name}={}", values.iter().map(|v| label(*v)).collect::<Vec<_>>().join("|"))
        }
        let mut parts = vec![
            axis("client_auth", &self.client_auth, ClientAuth::as_str),
            axis("sender", &self.sender, Sender::as_str),
            axis("openid", &self.openid, OpenId::as_str),
        ];
        if let Some(v) = &self.request_method {
            parts.push(axis("request_method", v, RequestMethod::as_str));
        }
        if let Some(v) = &self.response_mode {
            parts.push(axis("response_mode", v, ResponseMode::as_str));
        }
        parts.join(", ")
    }
}

/// A `--variant` filter: one value per named axis; a missing axis matches every value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VariantFilter {
    pub client_auth: Option<ClientAuth>,
    pub sender: Option<Sender>,
    pub openid: Option<OpenId>,
    pub request_method: Option<RequestMethod>,
    pub response_mode: Option<ResponseMode>,
}

/// The axis names a filter may use.
pub const AXES: &[&str] = &["client_auth", "sender", "openid", "request_method", "response_mode"];

fn pick<T: Copy>(axis: &str, value: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, String> {
    all.iter().copied().find(|v| name(*v) == value).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!("{axis}={value}: expected {}", names.join(" or "))
    })
}

impl VariantFilter {
    /// Parses `client_auth=mtls,sender=dpop,request_method=by_value`; the empty string matches
    /// every variant.
    pub fn parse(spec: &str) -> Result<VariantFilter, String> {
        let mut f = VariantFilter::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected axis=value"))?;
            let value = value.trim();
            match key.trim() {
                "client_auth" => f.client_auth = Some(pick("client_auth", value, &ClientAuth::ALL, ClientAuth::as_str)?),
                "sender" | "sender_constrain" => f.sender = Some(pick("sender", value, &Sender::ALL, Sender::as_str)?),
                "openid" => f.openid = Some(pick("openid", value, &OpenId::ALL, OpenId::as_str)?),
                "request_method" => {
                    f.request_method = Some(pick("request_method", value, &RequestMethod::ALL, RequestMethod::as_str)?);
                }
                "response_mode" => {
                    f.response_mode = Some(pick("response_mode", value, &ResponseMode::ALL, ResponseMode::as_str)?);
                }
                other => return Err(format!("unknown variant axis {other:?}: expected one of {}", AXES.join(", "))),
            }
        }
        Ok(f)
    }

    /// Whether `v` has every value the filter names. A variant of a plan that does not vary the
    /// request method (or response mode) matches no filter on that axis.
    pub fn matches(&self, v: &Variant) -> bool {
        self.client_auth.is_none_or(|c| c == v.client_auth)
            && self.sender.is_none_or(|s| s == v.sender)
            && self.openid.is_none_or(|o| o == v.openid)
            && self.request_method.is_none_or(|r| Some(r) == v.request_method)
            && self.response_mode.is_none_or(|r| Some(r) == v.response_mode)
    }

    /// The variants of `all` the filter matches, in their order.
    pub fn select(&self, all: &[Variant]) -> Vec<Variant> {
        all.iter().copied().filter(|v| self.matches(v)).collect()
    }
}

impl Variant {
    /// A variant of the three FAPI 2.0 axes.
    pub const fn new(client_auth: ClientAuth, sender: Sender, openid: OpenId) -> Variant {
        Variant { client_auth, sender, openid, request_method: None, response_mode: None }
    }

    /// The eight FAPI 2.0 variants (a plan without `[variants]`), in a stable order.
    pub fn all() -> Vec<Variant> {
        VariantAxes::default().variants()
    }

    /// The FAPI 2.0 variants a filter like `client_auth=mtls,sender=dpop,openid=plain_oauth`
    /// matches.
    pub fn filter(spec: &str) -> Result<Vec<Variant>, String> {
        Ok(VariantFilter::parse(spec)?.select(&Variant::all()))
    }

    /// `client_auth=…,sender=…,openid=…`, then `request_method=…` and `response_mode=…` where
    /// the plan varies them.
    pub fn label(&self) -> String {
        let mut s =
            format!("client_auth={},sender={},openid={}", self.client_auth.as_str(), self.sender.as_str(), self.openid.as_str());
        if let Some(r) = self.request_method {
            s.push_str(",request_method=");
            s.push_str(r.as_str());
        }
        if let Some(r) = self.response_mode {
            s.push_str(",response_mode=");
            s.push_str(r.as_str());
        }
        s
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_variants_and_filters() {
        assert_eq!(Variant::all().len(), 8);
        assert_eq!(Variant::filter("").expect("empty").len(), 8);
        assert_eq!(Variant::filter("sender=dpop").expect("one axis").len(), 4);
        let one = Variant::filter("client_auth=mtls,sender=dpop,openid=plain_oauth").expect("all axes");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].label(), "client_auth=mtls,sender=dpop,openid=plain_oauth");
        assert!(Variant::filter("sender=bearer").is_err());
        assert!(Variant::filter("colour=red").is_err());
        // The FAPI 2.0 variants have no request method axis: a filter on it matches none.
        assert!(Variant::filter("request_method=by_value").expect("known axis").is_empty());
    }

    #[test]
    fn a_plan_declares_its_own_axes() {
        let fapi1 = VariantAxes {
            client_auth: ClientAuth::ALL.to_vec(),
            sender: vec![Sender::Mtls],
            openid: vec![OpenId::OpenidConnect],
            request_method: Some(vec![RequestMethod::ByValue, RequestMethod::Signed]),
            response_mode: Some(vec![ResponseMode::Hybrid, ResponseMode::Jarm]),
        };
        let all = fapi1.variants();
        assert_eq!(all.len(), 8);
        assert_eq!(
            all[0].label(),
            "client_auth=private_key_jwt,sender=mtls,openid=openid_connect,request_method=by_value,response_mode=hybrid"
        );
        let f = VariantFilter::parse("request_method=by_value, response_mode=jarm").expect("filter");
        let picked = f.select(&all);
        assert_eq!(picked.len(), 2);
        assert!(picked.iter().all(|v| v.request_method == Some(RequestMethod::ByValue) && v.response_mode == Some(ResponseMode::Jarm)));
        assert!(VariantFilter::parse("sender=dpop").expect("filter").select(&all).is_empty());
        assert!(VariantFilter::parse("response_mode=fragment").expect_err("unknown value").contains("expected plain or jarm or hybrid"));
        assert_eq!(
            fapi1.label(),
            "client_auth=private_key_jwt|mtls, sender=mtls, openid=openid_connect, request_method=by_value|signed, response_mode=hybrid|jarm"
        );
        // A FAPI 2.0 variant serializes as before: no request method or response mode.
        let json = serde_json::to_string(&Variant::all()[0]).expect("json");
        assert_eq!(json, r#"{"client_auth":"private_key_jwt","sender":"dpop","openid":"openid_connect"}"#);
    }
}
