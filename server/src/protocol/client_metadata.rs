//! Client metadata of a dynamic registration (RFC 7591 §2, OIDC Registration §2, RFC 8705,
//! RFC 9449 §5.2), checked sans-IO against the workspace's rules.
//!
//! [`validate`] takes the JSON members the client sent (after a software statement, if any,
//! has overridden them) and returns either a [`ClientMetadata`] — the typed values the server
//! enforces plus the normalised document it echoes (DCR-02: every registered value, including
//! the defaults the server chose) — or the first [`MetadataViolation`], which names the member
//! and the requirement. Unknown members are ignored and not echoed (DCR-04); server-managed
//! members (`client_id`, `registration_access_token`, …) are the caller's business.

use fapilab_jose::jwe::{ContentEncryptionAlgorithm, KeyManagementAlgorithm};
use fapilab_jose::{Algorithm, Jwks};
use serde_json::{Map, Value, json};

use crate::profiles::{ClientAuthMethod, Policy, RegistrationExtension, SenderConstraint};

/// Scopes only the workspace's own administrative clients may hold: a registered client asking
/// for them would manage other clients.
pub const MANAGEMENT_SCOPES: [&str; 2] = ["dcr_manage", "update_client_status"];

const SUPPORTED_GRANTS: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// FDX-DCR-02
const FDX_DURATION_TYPES: [&str; 3] = ["ONE_TIME", "PERSISTENT", "TIME_BOUND"];
const FDX_REGISTRIES: [&str; 4] = ["FDX", "GLEIF", "ICANN", "PRIVATE"];
const MAX_TEXT: usize = 1_000;

/// What the workspace allows.
pub struct MetadataRules<'a> {
    pub policy: &'a Policy,
    /// The workspace's scopes (a registered client may ask for any of them).
    pub scopes: &'a [String],
    /// The workspace's `token_endpoint_auth_signing_alg_values`.
    pub assertion_algorithms: &'a [Algorithm],
    /// The algorithm of the workspace's signing key (ID tokens).
    pub id_token_algorithm: Algorithm,
    /// Accepted `jwks_uri` prefixes (none: keys by value only).
    pub jwks_uri_prefixes: &'a [String],
    /// The workspace offers CIBA: its grant and backchannel metadata may be registered.
    pub ciba: bool,
    /// Accepted ping notification endpoint prefixes (none: registered clients poll).
    pub notification_endpoint_prefixes: &'a [String],
}

/// The values the server enforces for a registered client.
#[derive(Debug, Clone)]
pub struct ClientMetadata {
    pub auth_method: ClientAuthMethod,
    pub sender_constraint: SenderConstraint,
    /// The public JWKS registered by value.
    pub jwks: Option<Value>,
    /// Where the client publishes its keys instead (fetched by the caller).
    pub jwks_uri: Option<String>,
    pub tls_client_auth_subject_dn: Option<String>,
    pub tls_client_auth_san_dns: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// `None`: any of the workspace's algorithms (registered as absent or `"none"`).
    pub token_endpoint_auth_signing_alg: Option<Algorithm>,
    pub client_name: Option<String>,
    /// CIBA-MD-02: a ping client's notification endpoint (`None`: poll, or no CIBA).
    pub backchannel_client_notification_endpoint: Option<String>,
    /// MS-MD-01: the response modes the client may use; `None`: any the workspace offers.
    pub response_modes: Option<Vec<String>>,
    /// MS-AS-06 / CIBA-02: the one algorithm the client signs its request objects and its
    /// backchannel requests with, when it registered one.
    pub request_object_signing_alg: Option<Algorithm>,
    pub backchannel_request_signing_alg: Option<Algorithm>,
    /// A-IDT-03: encryption of ID tokens, when registered.
    pub id_token_encryption: Option<Encryption>,
    /// JARM §3: encryption of JARM responses, when registered.
    pub authorization_encryption: Option<Encryption>,
    /// RFC 7591 §2: the response types the client may use.
    pub response_types: Vec<String>,
    /// RFC 9126 §6: every authorization request of the client goes through PAR.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101 §10.5: every authorization request of the client is a signed request object.
    pub require_signed_request_object: bool,
    /// What the registration echoes (DCR-02).
    pub document: Map<String, Value>,
}

/// A registered `*_encrypted_response_alg` / `_enc` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    pub alg: KeyManagementAlgorithm,
    pub enc: ContentEncryptionAlgorithm,
}

/// Why metadata was refused: the member and what is wrong with it. On the wire
/// `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataViolation {
    RedirectUri(String),
    Member { member: String, problem: String },
}

impl MetadataViolation {
    fn member(member: impl Into<String>, problem: impl Into<String>) -> Self {
        MetadataViolation::Member { member: member.into(), problem: problem.into() }
    }
    pub fn is_redirect_uri(&self) -> bool {
        matches!(self, MetadataViolation::RedirectUri(_))
    }
}

impl std::fmt::Display for MetadataViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetadataViolation::RedirectUri(problem) => f.write_str(problem),
            MetadataViolation::Member { member, problem } => write!(f, "{member}: {problem}"),
        }
    }
}

type Checked<T> = Result<T, MetadataViolation>;

fn string<'a>(body: &'a Map<String, Value>, member: &str) -> Checked<Option<&'a str>> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s)),
        Some(Value::String(_)) => Err(MetadataViolation::member(member, format!("longer than {MAX_TEXT} characters [DCR-04]"))),
        Some(_) => Err(MetadataViolation::member(member, "must be a string [RFC7591-2]")),
    }
}

fn strings(body: &Map<String, Value>, member: &str) -> Checked<Option<Vec<String>>> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| MetadataViolation::member(member, "must be an array of strings [RFC7591-2]")))
            .collect::<Checked<Vec<_>>>()
            .map(Some),
        Some(_) => Err(MetadataViolation::member(member, "must be an array of strings [RFC7591-2]")),
    }
}

fn boolean(body: &Map<String, Value>, member: &str) -> Checked<Option<bool>> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(MetadataViolation::member(member, "must be true or false [DCR-06]")),
    }
}

fn https_url(body: &Map<String, Value>, member: &str) -> Checked<Option<String>> {
    let Some(url) = string(body, member)? else { return Ok(None) };
    let ok = url.starts_with("https://") && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
    if ok { Ok(Some(url.to_owned())) } else { Err(MetadataViolation::member(member, format!("{url:?} is not an https URL [DCR-04, FAPI2-SP-NET-01]"))) }
}

fn auth_method(name: &str) -> Option<ClientAuthMethod> {
    [ClientAuthMethod::PrivateKeyJwt, ClientAuthMethod::TlsClientAuth, ClientAuthMethod::SelfSignedTlsClientAuth]
        .into_iter()
        .find(|m| m.as_str() == name)
}

pub fn validate(body: &Map<String, Value>, rules: &MetadataRules<'_>) -> Checked<ClientMetadata> {
    let policy = rules.policy;
    let mut doc = Map::new();

    // DCR-04: RFC 7591 defaults to client_secret_basic, which FAPI forbids; we substitute
    // private_key_jwt and say so in the echo.
    let method_name = string(body, "token_endpoint_auth_method")?.unwrap_or("private_key_jwt");
    let allowed_methods = policy.client_auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
    let auth_method = auth_method(method_name).filter(|m| policy.client_auth_methods.contains(m)).ok_or_else(|| {
        MetadataViolation::member(
            "token_endpoint_auth_method",
            format!("{method_name:?} is not allowed; use one of {allowed_methods} [FAPI2-SP-AS-06, DCR-04]"),
        )
    })?;
    doc.insert("token_endpoint_auth_method".into(), json!(auth_method.as_str()));

    let grant_types = strings(body, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types.is_empty() {
        return Err(MetadataViolation::member("grant_types", "must not be empty [RFC7591-2]"));
    }
    let mut grants: Vec<String> = Vec::new();
    for g in grant_types {
        let ciba_grant = rules.ciba && g == CIBA_GRANT;
        if !SUPPORTED_GRANTS.contains(&g.as_str()) && !ciba_grant {
            return Err(MetadataViolation::member("grant_types", format!("{g:?} is not supported; use {} [DCR-04]", SUPPORTED_GRANTS.join(", "))));
        }
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    let wants_code = grants.iter().any(|g| g == "authorization_code");
    let wants_ciba = grants.iter().any(|g| g == CIBA_GRANT);
    if grants.iter().any(|g| g == "refresh_token") && !wants_code && !wants_ciba {
        return Err(MetadataViolation::member("grant_types", "refresh_token needs authorization_code: only user grants are refreshed [DCR-04]"));
    }
    doc.insert("grant_types".into(), json!(grants));

    // RFC 7591 §2.1: `code` ⇔ `authorization_code` (the hybrid `code id_token` also returns a
    // code; its ID token needs no grant of its own here, as no token leaves the front channel).
    let response_types = strings(body, "response_types")?.unwrap_or_else(|| if wants_code { vec!["code".into()] } else { Vec::new() });
    for r in &response_types {
        if policy.response_rule(r).is_none() {
            return Err(MetadataViolation::member(
                "response_types",
                format!("{r:?} is not allowed; this profile allows {} [FAPI2-SP-AZ-01, DCR-04]", policy.response_types().join(", ")),
            ));
        }
    }
    if wants_code != response_types.iter().any(|r| r.split(' ').any(|t| t == "code")) {
        return Err(MetadataViolation::member(
            "response_types",
            "response_types must contain code exactly when grant_types contains authorization_code [RFC7591-2.1, DCR-04]",
        ));
    }
    doc.insert("response_types".into(), json!(response_types));

    let response_modes = strings(body, "response_modes")?;
    if let Some(modes) = &response_modes {
        if let Some(bad) = modes.iter().find(|m| !policy.response_modes().contains(&m.as_str())) {
            return Err(MetadataViolation::member(
                "response_modes",
                format!("{bad:?} is not offered; this workspace answers with {} [MS-MD-01]", policy.response_modes().join(", ")),
            ));
        }
        doc.insert("response_modes".into(), json!(modes));
    }

    let redirect_uris = strings(body, "redirect_uris")?.unwrap_or_default();
    if wants_code && redirect_uris.is_empty() {
        return Err(MetadataViolation::RedirectUri("redirect_uris is required for the authorization_code grant [RFC7591-2, DCR-03]".into()));
    }
    for uri in &redirect_uris {
        crate::protocol::redirect::check_registered_redirect_uri(uri, policy).map_err(|why| MetadataViolation::RedirectUri(format!("redirect_uris: {why} [DCR-03]")))?;
    }
    if !redirect_uris.is_empty() {
        doc.insert("redirect_uris".into(), json!(redirect_uris));
    }

    let mut jwks_uri = None;
    let jwks = match (body.get("jwks").filter(|v| !v.is_null()), body.get("jwks_uri").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => return Err(MetadataViolation::member("jwks", "register jwks or jwks_uri, not both [RFC7591-2, DCR-03]")),
        (None, Some(_)) => {
            let uri = https_url(body, "jwks_uri")?.unwrap_or_default();
            let path = uri.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
            if path.split('/').any(|segment| segment == "." || segment == ".." || segment.contains("%2e")) {
                return Err(MetadataViolation::member("jwks_uri", "must not contain dot segments [DCR-04]"));
            }
            if !rules.jwks_uri_prefixes.iter().any(|p| uri.starts_with(p.as_str())) {
                let allowed = if rules.jwks_uri_prefixes.is_empty() { "none: register jwks by value".to_owned() } else { rules.jwks_uri_prefixes.join(", ") };
                return Err(MetadataViolation::member("jwks_uri", format!("{uri:?} is not under an accepted key location ({allowed}) [DCR-04]")));
            }
            doc.insert("jwks_uri".into(), json!(uri));
            jwks_uri = Some(uri);
            None
        }
        (Some(value), None) => Some(public_jwks(value)?),
        (None, None) => None,
    };
    if jwks.is_none() && jwks_uri.is_none() && auth_method != ClientAuthMethod::TlsClientAuth {
        return Err(MetadataViolation::member("jwks", format!("jwks or jwks_uri is required for {}: the server verifies the client's keys from it [PKJ-03, MT-03]", auth_method.as_str())));
    }
    if let Some((value, parsed)) = &jwks {
        if auth_method == ClientAuthMethod::SelfSignedTlsClientAuth && parsed.keys().iter().all(|k| k.x5c().is_empty()) {
            return Err(MetadataViolation::member("jwks", "self_signed_tls_client_auth needs the certificate in a key's x5c [RFC8705-2.2, MT-03]"));
        }
        doc.insert("jwks".into(), value.clone());
    }

    let (subject_dn, san_dns) = if auth_method == ClientAuthMethod::TlsClientAuth {
        for other in ["tls_client_auth_san_uri", "tls_client_auth_san_ip", "tls_client_auth_san_email"] {
            if body.get(other).is_some_and(|v| !v.is_null()) {
                return Err(MetadataViolation::member(other, "not supported; register tls_client_auth_subject_dn or tls_client_auth_san_dns [RFC8705-2.1.2]"));
            }
        }
        let dn = string(body, "tls_client_auth_subject_dn")?.map(str::to_owned);
        let dns = string(body, "tls_client_auth_san_dns")?.map(str::to_owned);
        match (&dn, &dns) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(MetadataViolation::member(
                    "tls_client_auth_subject_dn",
                    "tls_client_auth needs exactly one of tls_client_auth_subject_dn and tls_client_auth_san_dns [RFC8705-2.1.2, MT-02]",
                ));
            }
            (Some(dn), None) if !fapilab_certs::dn_matches(dn, dn) || dn.trim().is_empty() => {
                return Err(MetadataViolation::member("tls_client_auth_subject_dn", format!("{dn:?} is not an RFC 4514 distinguished name [RFC8705-2.1.2]")));
            }
            _ => {}
        }
        if let Some(dn) = &dn {
            doc.insert("tls_client_auth_subject_dn".into(), json!(dn));
        }
        if let Some(dns) = &dns {
            doc.insert("tls_client_auth_san_dns".into(), json!(dns));
        }
        (dn, dns)
    } else {
        // Only meaningful for tls_client_auth (RFC 8705 §2.1.2); other clients' values are
        // ignored, as some ecosystems send the subject for every client.
        (None, None)
    };

    let dpop = boolean(body, "dpop_bound_access_tokens")?.unwrap_or(false);
    let mtls = boolean(body, "tls_client_certificate_bound_access_tokens")?.unwrap_or(false);
    let sender_constraint = match (dpop, mtls) {
        (true, false) => SenderConstraint::Dpop,
        (false, true) => SenderConstraint::Mtls,
        (true, true) => {
            return Err(MetadataViolation::member(
                "dpop_bound_access_tokens",
                "choose one sender constraint: dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens [FAPI2-SP-AS-05]",
            ));
        }
        (false, false) => {
            return Err(MetadataViolation::member(
                "dpop_bound_access_tokens",
                "every access token is sender-constrained: set dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens to true [FAPI2-SP-AS-04]",
            ));
        }
    };
    if !policy.sender_constraints.contains(&sender_constraint) {
        return Err(MetadataViolation::member("dpop_bound_access_tokens", "this sender constraint is not allowed by the profile [FAPI2-SP-AS-05]"));
    }
    doc.insert("dpop_bound_access_tokens".into(), json!(dpop));
    doc.insert("tls_client_certificate_bound_access_tokens".into(), json!(mtls));

    let scopes: Vec<String> = match string(body, "scope")? {
        Some(asked) => {
            let mut out: Vec<String> = Vec::new();
            for s in asked.split_whitespace() {
                if MANAGEMENT_SCOPES.contains(&s) {
                    return Err(MetadataViolation::member("scope", format!("{s} is reserved for the workspace's administrative clients [DCR-04]")));
                }
                if !rules.scopes.iter().any(|w| w == s) {
                    return Err(MetadataViolation::member("scope", format!("{s:?} is not offered by this server; scopes_supported lists {} [DCR-04]", rules.scopes.join(" "))));
                }
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_owned());
                }
            }
            out
        }
        None => rules.scopes.iter().filter(|s| !MANAGEMENT_SCOPES.contains(&s.as_str())).cloned().collect(),
    };
    doc.insert("scope".into(), json!(scopes.join(" ")));

    let allowed_algs = rules.assertion_algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ");
    let token_endpoint_auth_signing_alg = match string(body, "token_endpoint_auth_signing_alg")? {
        None | Some("none") => None,
        Some(name) => {
            let alg = name.parse::<Algorithm>().ok().filter(|a| rules.assertion_algorithms.contains(a)).ok_or_else(|| {
                MetadataViolation::member("token_endpoint_auth_signing_alg", format!("{name:?} is not supported; use {allowed_algs} or none [PKJ-03, FAPI2-SP-CR-02]"))
            })?;
            doc.insert("token_endpoint_auth_signing_alg".into(), json!(alg.as_str()));
            Some(alg)
        }
    };

    if let Some(name) = string(body, "id_token_signed_response_alg")? {
        if name != rules.id_token_algorithm.as_str() {
            return Err(MetadataViolation::member(
                "id_token_signed_response_alg",
                format!("{name:?} is not offered; this server signs ID tokens with {} [DCR-06, FAPI2-SP-CR-02]", rules.id_token_algorithm.as_str()),
            ));
        }
        doc.insert("id_token_signed_response_alg".into(), json!(name));
    }
    let request_object_signing_alg = match string(body, "request_object_signing_alg")? {
        None => None,
        Some(name) => {
            let alg = name.parse::<Algorithm>().ok().filter(|a| policy.accepts_algorithm(*a)).ok_or_else(|| {
                MetadataViolation::member(
                    "request_object_signing_alg",
                    format!("{name:?} is not allowed; use {} [DCR-06, FAPI2-SP-CR-02]", policy.algorithm_names().join(", ")),
                )
            })?;
            doc.insert("request_object_signing_alg".into(), json!(name));
            Some(alg)
        }
    };
    // MS-JARM-04 / RFC 9701 / DCR-06: responses are signed with the workspace's algorithm and
    // never encrypted here; asking for anything else must not be ignored silently.
    for member in ["authorization_signed_response_alg", "introspection_signed_response_alg"] {
        if let Some(name) = string(body, member)? {
            if name != rules.id_token_algorithm.as_str() {
                return Err(MetadataViolation::member(
                    member,
                    format!("{name:?} is not offered; this server signs with {} [MS-JARM-04, DCR-06]", rules.id_token_algorithm.as_str()),
                ));
            }
            doc.insert(member.into(), json!(name));
        }
    }
    // A-IDT-03, JARM §3: ID tokens and JARM responses may be encrypted to the client, with
    // what the profile offers; the other responses are never encrypted here, and asking for
    // that must not be ignored silently (DCR-06).
    let jwks_value = jwks.as_ref().map(|(v, _)| v);
    let id_token_encryption = encryption_members(body, "id_token", policy, jwks_value, &mut doc)?;
    if !policy.offers_jarm() {
        for member in ["authorization_encrypted_response_alg", "authorization_encrypted_response_enc"] {
            if body.get(member).is_some_and(|v| !v.is_null()) {
                return Err(MetadataViolation::member(member, "this workspace sends no JARM responses to encrypt [DCR-06, MS-JARM-05]"));
            }
        }
    }
    let authorization_encryption = encryption_members(body, "authorization", policy, jwks_value, &mut doc)?;
    for member in [
        "introspection_encrypted_response_alg",
        "introspection_encrypted_response_enc",
        "userinfo_encrypted_response_alg",
        "userinfo_encrypted_response_enc",
    ] {
        if body.get(member).is_some_and(|v| !v.is_null()) {
            return Err(MetadataViolation::member(member, "encrypted introspection and userinfo responses are not offered by this server [DCR-06]"));
        }
    }
    // RFC 9126 §6, RFC 9101 §10.5: a client may hold itself to PAR and to signed requests
    // where the profile does not; both are enforced at the authorization endpoint.
    let par = boolean(body, "require_pushed_authorization_requests")?.unwrap_or(false) || policy.require_pushed_authorization_requests;
    doc.insert("require_pushed_authorization_requests".into(), json!(par));
    let signed_requests = boolean(body, "require_signed_request_object")?.unwrap_or(false) || policy.request_objects.required();
    if signed_requests && !policy.request_objects.accepted() {
        return Err(MetadataViolation::member("require_signed_request_object", "this workspace does not read request objects [RFC9101-10.5]"));
    }
    doc.insert("require_signed_request_object".into(), json!(signed_requests));
    match string(body, "application_type")? {
        None | Some("web") => {
            doc.insert("application_type".into(), json!("web"));
        }
        Some(other) => {
            return Err(MetadataViolation::member("application_type", format!("{other:?} is not supported; only web clients (https redirect URIs) [DCR-06]")));
        }
    }

    let (backchannel_client_notification_endpoint, backchannel_request_signing_alg) =
        if wants_ciba { ciba_members(body, rules, &mut doc)? } else { (None, None) };

    let client_name = string(body, "client_name")?.map(str::to_owned);
    for member in ["client_name", "software_id", "software_version"] {
        if let Some(v) = string(body, member)? {
            doc.insert(member.into(), json!(v));
        }
    }
    for member in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        if let Some(v) = https_url(body, member)? {
            doc.insert(member.into(), json!(v));
        }
    }
    if let Some(contacts) = strings(body, "contacts")? {
        doc.insert("contacts".into(), json!(contacts));
    }

    if policy.registration_extension == Some(RegistrationExtension::Fdx) {
        fdx_members(body, &mut doc)?;
    }

    Ok(ClientMetadata {
        auth_method,
        sender_constraint,
        jwks: jwks.map(|(v, _)| v),
        jwks_uri,
        tls_client_auth_subject_dn: subject_dn,
        tls_client_auth_san_dns: san_dns,
        redirect_uris,
        grant_types: grants,
        scopes,
        token_endpoint_auth_signing_alg,
        client_name,
        backchannel_client_notification_endpoint,
        response_modes,
        request_object_signing_alg,
        backchannel_request_signing_alg,
        id_token_encryption,
        authorization_encryption,
        response_types,
        require_pushed_authorization_requests: par,
        require_signed_request_object: signed_requests,
        document: doc,
    })
}

/// `{kind}_encrypted_response_alg` / `_enc` (OIDC Registration §2, JARM §3): `enc` needs
/// `alg` and defaults to A128CBC-HS256; keys registered by value must hold an RSA encryption
/// key for `alg` (keys at a `jwks_uri` are checked when fetched).
fn encryption_members(
    body: &Map<String, Value>,
    kind: &str,
    policy: &Policy,
    jwks: Option<&Value>,
    doc: &mut Map<String, Value>,
) -> Result<Option<Encryption>, MetadataViolation> {
    let alg_member = format!("{kind}_encrypted_response_alg");
    let enc_member = format!("{kind}_encrypted_response_enc");
    let offered_algs = || policy.encryption.algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ");
    let offered_encs = || policy.encryption.encodings.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
    let alg = match string(body, &alg_member)? {
        None => {
            if string(body, &enc_member)?.is_some() {
                return Err(MetadataViolation::member(&enc_member, format!("{enc_member} needs {alg_member} [OIDC-REG-2]")));
            }
            return Ok(None);
        }
        Some(name) => name
            .parse::<KeyManagementAlgorithm>()
            .ok()
            .filter(|a| policy.encryption.algorithms.contains(a))
            .ok_or_else(|| MetadataViolation::member(&alg_member, format!("{name:?} is not offered; use {} (never RSA1_5) [A-ALG-02, DCR-06]", offered_algs())))?,
    };
    let enc = match string(body, &enc_member)? {
        None => ContentEncryptionAlgorithm::A128CbcHs256,
        Some(name) => name
            .parse::<ContentEncryptionAlgorithm>()
            .ok()
            .filter(|e| policy.encryption.encodings.contains(e))
            .ok_or_else(|| MetadataViolation::member(&enc_member, format!("{name:?} is not offered; use {} [A-IDT-03, DCR-06]", offered_encs())))?,
    };
    if !policy.encryption.encodings.contains(&enc) {
        return Err(MetadataViolation::member(&enc_member, format!("the default A128CBC-HS256 is not offered; name one of {} [DCR-06]", offered_encs())));
    }
    if let Some(set) = jwks
        && let Err(e) = fapilab_jose::jwe::EncryptionKey::from_jwks(set, alg, None)
    {
        return Err(MetadataViolation::member(&alg_member, format!("jwks holds no usable RSA encryption key (\"use\": \"enc\") for {}: {e} [A-IDT-03]", alg.as_str())));
    }
    doc.insert(alg_member, json!(alg.as_str()));
    doc.insert(enc_member, json!(enc.as_str()));
    Ok(Some(Encryption { alg, enc }))
}

/// CIBA-MD-02 / FCIBA-04: poll or ping (never push); ping needs an https notification endpoint.
fn ciba_members(body: &Map<String, Value>, rules: &MetadataRules<'_>, doc: &mut Map<String, Value>) -> Checked<(Option<String>, Option<Algorithm>)> {
    let policy = rules.policy;
    let mode = string(body, "backchannel_token_delivery_mode")?
        .ok_or_else(|| MetadataViolation::member("backchannel_token_delivery_mode", "is required with the CIBA grant: poll or ping [CIBA-MD-02]"))?;
    let endpoint = match mode {
        "poll" => None,
        "ping" => {
            let endpoint = https_url(body, "backchannel_client_notification_endpoint")?.ok_or_else(|| {
                MetadataViolation::member("backchannel_client_notification_endpoint", "is required for ping delivery [CIBA-MD-02]")
            })?;
            if !rules.notification_endpoint_prefixes.iter().any(|p| endpoint.starts_with(p.as_str())) {
                let allowed = if rules.notification_endpoint_prefixes.is_empty() {
                    "none: registered clients use poll".to_owned()
                } else {
                    rules.notification_endpoint_prefixes.join(", ")
                };
                return Err(MetadataViolation::member(
                    "backchannel_client_notification_endpoint",
                    format!("{endpoint:?} is not under an accepted location ({allowed}) [CIBA-MD-02]"),
                ));
            }
            Some(endpoint)
        }
        "push" => return Err(MetadataViolation::member("backchannel_token_delivery_mode", "push is not allowed by FAPI-CIBA; use poll or ping [FCIBA-04]")),
        other => return Err(MetadataViolation::member("backchannel_token_delivery_mode", format!("{other:?} is not poll or ping [CIBA-MD-02]"))),
    };
    doc.insert("backchannel_token_delivery_mode".into(), json!(mode));
    if let Some(e) = &endpoint {
        doc.insert("backchannel_client_notification_endpoint".into(), json!(e));
    }
    let signing_alg = match string(body, "backchannel_authentication_request_signing_alg")? {
        None => None,
        Some(name) => {
            let alg = name.parse::<Algorithm>().ok().filter(|a| policy.accepts_algorithm(*a)).ok_or_else(|| {
                MetadataViolation::member(
                    "backchannel_authentication_request_signing_alg",
                    format!("{name:?} is not allowed; use {} [FCIBA-09]", policy.algorithm_names().join(", ")),
                )
            })?;
            doc.insert("backchannel_authentication_request_signing_alg".into(), json!(name));
            Some(alg)
        }
    };
    if boolean(body, "backchannel_user_code_parameter")? == Some(true) {
        return Err(MetadataViolation::member("backchannel_user_code_parameter", "user codes are not supported [CIBA-MD-01]"));
    }
    Ok((endpoint, signing_alg))
}

/// A JWKS (by value, or fetched from a `jwks_uri`): parseable, with at least one signing key, and no private key material
/// (a client that sends its private key has leaked it).
pub fn public_jwks(value: &Value) -> Checked<(Value, Jwks)> {
    let keys = value.get("keys").and_then(Value::as_array).ok_or_else(|| MetadataViolation::member("jwks", "must be a JWK set: an object with a keys array [RFC7591-2]"))?;
    if keys.iter().any(fapilab_jose::Jwk::contains_private_members) {
        return Err(MetadataViolation::member("jwks", "contains private key material; register public keys only [RFC7591-2, DCR-04]"));
    }
    let parsed = Jwks::from_value(value).map_err(|e| MetadataViolation::member("jwks", format!("{e} [RFC7591-2]")))?;
    if parsed.keys().is_empty() {
        return Err(MetadataViolation::member("jwks", "holds no signing key this server supports (P-256, RSA 2048+ or Ed25519) [FAPI2-SP-CR-01]"));
    }
    Ok((value.clone(), parsed))
}

fn positive_days(body: &Map<String, Value>, member: &str, doc: &mut Map<String, Value>) -> Checked<()> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => {
                doc.insert(member.into(), json!(n));
                Ok(())
            }
            _ => Err(MetadataViolation::member(member, "must be a positive whole number of days [FDX-DCR-05]")),
        },
    }
}

fn registry_references(value: &Value, member: &str) -> Checked<()> {
    let items = value.as_array().ok_or_else(|| MetadataViolation::member(member, "must be an array [FDX-DCR-02]"))?;
    for (i, item) in items.iter().enumerate() {
        let at = format!("{member}[{i}]");
        let obj = item.as_object().ok_or_else(|| MetadataViolation::member(&at, "must be an object [FDX-DCR-02]"))?;
        for required in ["registered_entity_name", "registered_entity_id"] {
            if !obj.get(required).is_some_and(Value::is_string) {
                return Err(MetadataViolation::member(format!("{at}.{required}"), "is required and must be a string [FDX-DCR-02]"));
            }
        }
        if let Some(registry) = obj.get("registry")
            && !registry.as_str().is_some_and(|r| FDX_REGISTRIES.contains(&r))
        {
            return Err(MetadataViolation::member(format!("{at}.registry"), format!("must be one of {} [FDX-DCR-02]", FDX_REGISTRIES.join(", "))));
        }
    }
    Ok(())
}

/// FDX-DCR-02 / FDX-DCR-05: FDX members are validated and echoed unchanged.
fn fdx_members(body: &Map<String, Value>, doc: &mut Map<String, Value>) -> Checked<()> {
    if let Some(d) = string(body, "description")? {
        doc.insert("description".into(), json!(d));
    }
    if let Some(types) = strings(body, "duration_type")? {
        if let Some(bad) = types.iter().find(|t| !FDX_DURATION_TYPES.contains(&t.as_str())) {
            return Err(MetadataViolation::member("duration_type", format!("{bad:?} is not one of {} [FDX-DCR-05]", FDX_DURATION_TYPES.join(", "))));
        }
        doc.insert("duration_type".into(), json!(types));
    }
    positive_days(body, "duration_period", doc)?;
    positive_days(body, "lookback_period", doc)?;
    if let Some(refs) = body.get("registry_references").filter(|v| !v.is_null()) {
        registry_references(refs, "registry_references")?;
        doc.insert("registry_references".into(), refs.clone());
    }
    if let Some(list) = body.get("intermediaries").filter(|v| !v.is_null()) {
        let items = list.as_array().ok_or_else(|| MetadataViolation::member("intermediaries", "must be an array [FDX-DCR-02]"))?;
        for (i, item) in items.iter().enumerate() {
            let at = format!("intermediaries[{i}]");
            let obj = item.as_object().ok_or_else(|| MetadataViolation::member(&at, "must be an object [FDX-DCR-02]"))?;
            if !obj.get("name").is_some_and(Value::is_string) {
                return Err(MetadataViolation::member(format!("{at}.name"), "is required and must be a string [FDX-DCR-02]"));
            }
            if let Some(refs) = obj.get("registry_references") {
                registry_references(refs, &format!("{at}.registry_references"))?;
            }
        }
        doc.insert("intermediaries".into(), list.clone());
    }
    if let Some(types) = strings(body, "authorization_details_types")? {
        doc.insert("authorization_details_types".into(), json!(types));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::ProfileId;
    use fapilab_jose::SigningKey;
    use proptest::prelude::*;

    fn public_key() -> Value {
        let key = SigningKey::generate(Algorithm::Es256, Some("k1".into())).expect("key");
        json!({ "keys": [key.public_jwk().to_value()] })
    }

    fn good() -> Map<String, Value> {
        json!({
            "redirect_uris": ["https://tpp.example/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["authorization_code", "refresh_token"],
            "jwks": public_key(),
            "dpop_bound_access_tokens": true,
            "client_name": "TPP",
        })
        .as_object()
        .expect("object")
        .clone()
    }

    fn check_with(profile: ProfileId, body: &Map<String, Value>) -> Checked<ClientMetadata> {
        let policy = profile.policy();
        let scopes = vec!["openid".to_string(), "accounts".to_string()];
        let prefixes = vec!["https://directory.example/keys/".to_string()];
        let ping = vec!["https://tpp.example/".to_string()];
        let rules = MetadataRules {
            policy: &policy,
            scopes: &scopes,
            assertion_algorithms: &[Algorithm::Ps256, Algorithm::Es256],
            id_token_algorithm: Algorithm::Es256,
            jwks_uri_prefixes: &prefixes,
            ciba: true,
            notification_endpoint_prefixes: &ping,
        };
        validate(body, &rules)
    }

    fn check(body: &Map<String, Value>) -> Checked<ClientMetadata> {
        check_with(ProfileId::Fapi2SecurityProfile, body)
    }

    fn refused(edit: impl FnOnce(&mut Map<String, Value>)) -> MetadataViolation {
        let mut body = good();
        edit(&mut body);
        check(&body).expect_err("refused")
    }

    #[test]
    fn dcr_02_echo_holds_the_defaults_the_server_chose() {
        let mut body = good();
        body.remove("token_endpoint_auth_method");
        body.insert("unknown_member".into(), json!(1));
        let m = check(&body).expect("valid");
        assert_eq!(m.auth_method, ClientAuthMethod::PrivateKeyJwt);
        assert_eq!(m.document["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(m.document["response_types"], json!(["code"]));
        assert_eq!(m.document["scope"], "openid accounts");
        assert_eq!(m.document["require_pushed_authorization_requests"], true);
        assert!(!m.document.contains_key("unknown_member"), "DCR-04: unknown metadata is ignored");
    }

    #[test]
    fn dcr_03_redirect_uri_errors_are_their_own_code() {
        assert!(refused(|b| { b.insert("redirect_uris".into(), json!(["http://tpp.example/cb"])); }).is_redirect_uri());
        assert!(refused(|b| { b.remove("redirect_uris"); }).is_redirect_uri());
        assert!(!refused(|b| { b.insert("jwks_uri".into(), json!("https://tpp.example/jwks")); }).is_redirect_uri());
    }

    #[test]
    fn fapi_methods_algorithms_and_sender_constraints() {
        let e = refused(|b| { b.insert("token_endpoint_auth_method".into(), json!("client_secret_basic")); });
        assert!(e.to_string().contains("FAPI2-SP-AS-06"), "{e}");
        let e = refused(|b| { b.insert("token_endpoint_auth_signing_alg".into(), json!("RS256")); });
        assert!(e.to_string().contains("token_endpoint_auth_signing_alg"), "{e}");
        let e = refused(|b| { b.remove("dpop_bound_access_tokens"); });
        assert!(e.to_string().contains("FAPI2-SP-AS-04"), "{e}");
        let e = refused(|b| { b.insert("tls_client_certificate_bound_access_tokens".into(), json!(true)); });
        assert!(e.to_string().contains("choose one"), "{e}");
        let e = refused(|b| { b.insert("authorization_signed_response_alg".into(), json!("RS256")); });
        assert!(e.to_string().contains("MS-JARM-04"), "{e}");
        let e = refused(|b| { b.insert("id_token_encrypted_response_alg".into(), json!("RSA-OAEP")); });
        assert!(e.to_string().starts_with("id_token_encrypted_response_alg"), "{e}");
        let e = refused(|b| { b.insert("scope".into(), json!("accounts dcr_manage")); });
        assert!(e.to_string().contains("reserved"), "{e}");
        let e = refused(|b| { b.insert("response_types".into(), json!(["code id_token"])); });
        assert!(e.to_string().starts_with("response_types"), "{e}");
        let e = refused(|b| {
            b.insert("grant_types".into(), json!(["client_credentials"]));
            b.insert("response_types".into(), json!(["code"]));
        });
        assert!(e.to_string().contains("response_types must contain code exactly"), "{e}");
        let none = {
            let mut b = good();
            b.insert("token_endpoint_auth_signing_alg".into(), json!("none"));
            check(&b).expect("none means any")
        };
        assert_eq!(none.token_endpoint_auth_signing_alg, None);
        assert!(!none.document.contains_key("token_endpoint_auth_signing_alg"));
    }

    #[test]
    fn ms_md_01_response_modes_within_the_workspace_offer() {
        let mut body = good();
        body.insert("response_modes".into(), json!(["jwt"]));
        let ms = check_with(ProfileId::Fapi2MessageSigning, &body).expect("jwt is offered");
        assert_eq!(ms.response_modes, Some(vec!["jwt".to_string()]));
        assert_eq!(ms.document["response_modes"], json!(["jwt"]));
        let e = check(&body).expect_err("the Security Profile answers in the query only");
        assert!(e.to_string().contains("MS-MD-01"), "{e}");
    }

    #[test]
    fn ciba_md_02_delivery_modes() {
        let mut body = good();
        body.insert("grant_types".into(), json!([CIBA_GRANT, "refresh_token"]));
        body.insert("response_types".into(), json!([]));
        let e = check(&body).expect_err("no delivery mode");
        assert!(e.to_string().contains("CIBA-MD-02"), "{e}");
        body.insert("backchannel_token_delivery_mode".into(), json!("push"));
        assert!(check(&body).expect_err("push").to_string().contains("FCIBA-04"));
        body.insert("backchannel_token_delivery_mode".into(), json!("ping"));
        assert!(check(&body).expect_err("no endpoint").to_string().starts_with("backchannel_client_notification_endpoint"));
        body.insert("backchannel_client_notification_endpoint".into(), json!("https://internal.example/ciba"));
        assert!(check(&body).expect_err("outside the prefixes").to_string().contains("accepted location"));
        body.insert("backchannel_client_notification_endpoint".into(), json!("https://tpp.example/ciba"));
        let ping = check(&body).expect("ping");
        assert_eq!(ping.backchannel_client_notification_endpoint.as_deref(), Some("https://tpp.example/ciba"));
        body.insert("backchannel_token_delivery_mode".into(), json!("poll"));
        assert_eq!(check(&body).expect("poll").backchannel_client_notification_endpoint, None);
    }

    #[test]
    fn jwks_uri_only_under_an_accepted_prefix() {
        let mut body = good();
        body.remove("jwks");
        body.insert("jwks_uri".into(), json!("https://directory.example/keys/tpp.jwks"));
        let m = check(&body).expect("under the prefix");
        assert_eq!(m.jwks_uri.as_deref(), Some("https://directory.example/keys/tpp.jwks"));
        assert!(m.jwks.is_none());
        for outside in [
            "https://evil.example/keys/tpp.jwks",
            "http://directory.example/keys/tpp.jwks",
            "https://directory.example/other",
            "https://directory.example/keys/../admin/x",
            "https://directory.example/keys/%2E%2E/admin/x",
        ] {
            body.insert("jwks_uri".into(), json!(outside));
            let e = check(&body).expect_err(outside);
            assert!(e.to_string().starts_with("jwks_uri"), "{e}");
        }
    }

    #[test]
    fn keys_must_be_public_and_present() {
        let key = SigningKey::generate(Algorithm::Es256, Some("k1".into())).expect("key");
        let mut private = key.public_jwk().to_value();
        private["d"] = json!("AAAA");
        let e = refused(|b| { b.insert("jwks".into(), json!({ "keys": [private] })); });
        assert!(e.to_string().contains("private key material"), "{e}");
        let e = refused(|b| { b.remove("jwks"); });
        assert!(e.to_string().starts_with("jwks"), "{e}");
        let e = refused(|b| {
            b.insert("token_endpoint_auth_method".into(), json!("self_signed_tls_client_auth"));
        });
        assert!(e.to_string().contains("x5c"), "{e}");
    }

    #[test]
    fn tls_client_auth_needs_exactly_one_parseable_subject() {
        let mut body = good();
        body.insert("token_endpoint_auth_method".into(), json!("tls_client_auth"));
        body.remove("jwks");
        let e = check(&body).expect_err("no subject");
        assert!(e.to_string().contains("exactly one"), "{e}");
        body.insert("tls_client_auth_subject_dn".into(), json!("CN=tpp,O=Example"));
        let m = check(&body).expect("dn");
        assert_eq!(m.tls_client_auth_subject_dn.as_deref(), Some("CN=tpp,O=Example"));
        body.insert("tls_client_auth_subject_dn".into(), json!("not a dn"));
        assert!(check(&body).is_err());
    }

    #[test]
    fn fdx_members_only_in_fdx_workspaces() {
        let mut body = good();
        body.insert("duration_type".into(), json!(["PERSISTENT", "TIME_BOUND"]));
        body.insert("duration_period".into(), json!(365));
        body.insert("registry_references".into(), json!([{ "registered_entity_name": "TPP", "registered_entity_id": "1", "registry": "GLEIF" }]));
        body.insert("intermediaries".into(), json!([{ "name": "Platform" }]));
        let fdx = check_with(ProfileId::Fdx, &body).expect("fdx");
        assert_eq!(fdx.document["duration_type"], json!(["PERSISTENT", "TIME_BOUND"]));
        assert_eq!(fdx.document["intermediaries"], json!([{ "name": "Platform" }]));
        let plain = check(&body).expect("plain");
        assert!(!plain.document.contains_key("duration_type"), "not an FDX workspace: ignored");
        body.insert("lookback_period".into(), json!(0));
        let e = check_with(ProfileId::Fdx, &body).expect_err("zero days");
        assert!(e.to_string().contains("FDX-DCR-05"), "{e}");
        body.insert("lookback_period".into(), json!(30));
        body.insert("duration_type".into(), json!(["FOREVER"]));
        assert!(check_with(ProfileId::Fdx, &body).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_json_never_panics(member in "[a-z_]{1,40}", text in ".{0,40}", n in any::<i64>(), flag in any::<bool>()) {
            let mut body = good();
            for value in [json!(text.clone()), json!(n), json!(flag), json!([text.clone()]), json!({ "keys": [text.clone()] }), Value::Null] {
                body.insert(member.clone(), value.clone());
                let _ = check(&body);
                let _ = check_with(ProfileId::Fdx, &body);
                for known in ["redirect_uris", "grant_types", "jwks", "scope", "duration_period", "intermediaries"] {
                    let mut b = good();
                    b.insert(known.into(), value.clone());
                    let _ = check_with(ProfileId::Fdx, &b);
                }
            }
        }
    }
}
