//! The target: the authorization server under test, its two clients per variant, its resource
//! and how to log in.
//!
//! A target comes from a TOML file ([`Target::load`]) or from fapilab's own `sandbox.json`
//! ([`Target::from_sandbox_manifest`]); [`Target::load_any`] picks by extension. Everything
//! is validated up front and every error names the key.
//!
//! # Target file, format 1
//!
//! ```toml
//! format = 1
//! issuer = "https://as.example/tenant"
//! discovery_url = "https://as.example/tenant/.well-known/openid-configuration" # default: issuer + that path
//! ca_file = "ca.pem"                     # PEM bundle: the only roots trusted for every connection
//! resource_url = "https://rs.example/accounts"  # a GET endpoint that accepts the access tokens
//! resource_scope = "accounts"            # default "accounts"
//! scope_openid = "openid accounts"       # default "openid " + resource_scope
//! scope_plain = "accounts"               # default resource_scope
//! code_lifetime = 60                     # seconds (default 60), used by `wait until = "code_expiry"`
//!
//! [[clients]]                            # two per client authentication × sender constraint
//! client_id = "client-1"
//! token_endpoint_auth_method = "private_key_jwt"  # | tls_client_auth | self_signed_tls_client_auth
//! sender_constraint = "dpop"             # | mtls
//! index = 1                              # optional: 1 or 2 (default: order within the pair)
//! private_jwks_file = "client-1.jwks.json"  # private JWKS: assertions (and nothing else)
//! cert_file = "client-1.pem"             # transport certificate (needed for mTLS)
//! key_file = "client-1.key"              # its PKCS#8 private key
//! redirect_uri = "https://client.example/cb"
//! second_redirect_uri = "https://client.example/cb?dummy1=lorem&dummy2=ipsum"  # optional
//!
//! [login]
//! mode = "form"                          # | "manual": print the URL, paste the final redirect URL
//! username = "alice"
//! password = "secret"
//! username_field = "username"            # default
//! password_field = "password"            # default
//! approve = { field = "decision", value = "approve" }  # default
//! deny = { field = "decision", value = "deny" }        # default
//! extra_fields = { }                     # added to every form post
//! ```
//!
//! Relative file names are resolved against the target file's directory. Unknown keys are
//! errors. When a client authentication × sender constraint pair has client 1 but no client 2
//! the file is refused: a certification run needs two clients (cross-client checks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::variant::{ClientAuth, Sender, Variant};

pub const TARGET_FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{path}: cannot read it: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
}

/// A login for the authorization server's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub password: String,
}

/// One form field with its value (a consent button, for example).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldValue {
    pub field: String,
    pub value: String,
}

/// How to drive the login and consent pages: which fields to fill in; hidden inputs are
/// always copied from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormScript {
    pub username: String,
    pub password: String,
    pub username_field: String,
    pub password_field: String,
    /// Added to the consent form to approve.
    pub approve: FieldValue,
    /// Added to the consent form to deny.
    pub deny: FieldValue,
    /// Added to every form the script submits.
    pub extra_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Form(Box<FormScript>),
    /// Print the authorization URL, read the final redirect URL from stdin.
    Manual,
}

#[derive(Debug, Clone)]
pub struct TargetClient {
    pub client_id: String,
    pub auth: ClientAuth,
    /// The exact `token_endpoint_auth_method` (`private_key_jwt`, `tls_client_auth`,
    /// `self_signed_tls_client_auth`).
    pub auth_method: String,
    pub sender: Sender,
    /// 1 or 2.
    pub index: u8,
    /// Private JWKS (`{"keys":[…]}`); never written to any report.
    pub private_jwks: serde_json::Value,
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    pub redirect_uri: String,
    pub second_redirect_uri: Option<String>,
}

impl TargetClient {
    /// Whether this client needs its certificate on the back channel (mTLS authentication or
    /// mTLS sender constraint), and so the `mtls_endpoint_aliases` (FAPI2-SP-NET-08, MT-10).
    pub fn uses_mtls(&self) -> bool {
        self.auth == ClientAuth::Mtls || self.sender == Sender::Mtls
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub issuer: String,
    pub discovery_url: String,
    pub ca_pem: Vec<u8>,
    pub resource_url: String,
    pub clients: Vec<TargetClient>,
    pub scope_openid: String,
    pub scope_plain: String,
    pub login: Login,
    /// Authorization code lifetime in seconds (FAPI2-SP-AS-12: at most 60).
    pub code_lifetime: u64,
    pub users: Vec<User>,
}

// ---- the TOML file --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTarget {
    format: u32,
    issuer: String,
    discovery_url: Option<String>,
    ca_file: PathBuf,
    resource_url: String,
    resource_scope: Option<String>,
    scope_openid: Option<String>,
    scope_plain: Option<String>,
    code_lifetime: Option<u64>,
    #[serde(default)]
    clients: Vec<FileClient>,
    login: FileLogin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: String,
    index: Option<u8>,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    redirect_uri: String,
    second_redirect_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLogin {
    mode: String,
    username: Option<String>,
    password: Option<String>,
    username_field: Option<String>,
    password_field: Option<String>,
    approve: Option<FieldValue>,
    deny: Option<FieldValue>,
    #[serde(default)]
    extra_fields: BTreeMap<String, String>,
}

// ---- sandbox.json (read as plain JSON: this crate never depends on the sandbox) -------------

#[derive(Deserialize)]
struct Manifest {
    ca_file: PathBuf,
    /// Not in every manifest: a shortened code lifetime when the sandbox was started with one.
    #[serde(default)]
    code_lifetime: Option<u64>,
    bank_url: String,
    workspaces: Vec<ManifestWorkspace>,
    #[serde(default)]
    users: Vec<ManifestUser>,
}

#[derive(Deserialize)]
struct ManifestWorkspace {
    issuer: String,
    discovery_url: String,
    clients: Vec<ManifestClient>,
    /// The workspace's authorization code lifetime, when the manifest states it.
    #[serde(default)]
    code_lifetime: Option<u64>,
}

#[derive(Deserialize)]
struct ManifestClient {
    client_id: String,
    token_endpoint_auth_method: String,
    sender_constraint: Option<String>,
    private_jwks_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
struct ManifestUser {
    username: String,
    password: String,
}

fn parse_auth(method: &str) -> Option<ClientAuth> {
    match method {
        "private_key_jwt" => Some(ClientAuth::PrivateKeyJwt),
        "tls_client_auth" | "self_signed_tls_client_auth" => Some(ClientAuth::Mtls),
        _ => None,
    }
}

fn parse_sender(s: &str) -> Option<Sender> {
    match s {
        "dpop" => Some(Sender::Dpop),
        "mtls" => Some(Sender::Mtls),
        _ => None,
    }
}

impl Target {
    /// `.json` → [`Target::from_sandbox_manifest`], anything else → [`Target::load`].
    pub fn load_any(path: &Path) -> Result<Target, TargetError> {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Target::from_sandbox_manifest(path)
        } else {
            Target::load(path)
        }
    }

    /// Loads and validates a TOML target file (format in the module documentation).
    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read { path: path.to_owned(), source })?;
        Target::parse_toml(&text, path)
    }

    fn parse_toml(text: &str, path: &Path) -> Result<Target, TargetError> {
        let invalid = |key: &str, message: String| TargetError::Invalid { path: path.to_owned(), key: key.to_owned(), message };
        let file: FileTarget = toml::from_str(text).map_err(|e| TargetError::Parse { path: path.to_owned(), message: e.to_string() })?;
        if file.format != TARGET_FORMAT_VERSION {
            return Err(invalid("format", format!("version {} is not supported; expected {TARGET_FORMAT_VERSION}", file.format)));
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_owned() } else { base.join(p) };
        let issuer = file.issuer.trim_end_matches('/').to_owned();
        if !issuer.starts_with("https://") {
            return Err(invalid("issuer", format!("{issuer:?} is not an https URL (FAPI2-SP-NET-01)")));
        }
        let discovery_url = file.discovery_url.unwrap_or_else(|| format!("{issuer}/.well-known/openid-configuration"));
        if !discovery_url.starts_with("https://") {
            return Err(invalid("discovery_url", format!("{discovery_url:?} is not an https URL")));
        }
        if !file.resource_url.starts_with("https://") {
            return Err(invalid("resource_url", format!("{:?} is not an https URL", file.resource_url)));
        }
        let ca_path = resolve(&file.ca_file);
        let ca_pem = std::fs::read(&ca_path).map_err(|e| invalid("ca_file", format!("cannot read {}: {e}", ca_path.display())))?;
        if !String::from_utf8_lossy(&ca_pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("ca_file", format!("{} holds no PEM certificate", ca_path.display())));
        }
        let resource_scope = file.resource_scope.unwrap_or_else(|| "accounts".to_owned());
        let code_lifetime = file.code_lifetime.unwrap_or(60);
        if code_lifetime == 0 || code_lifetime > 3600 {
            return Err(invalid("code_lifetime", format!("{code_lifetime} is not 1..=3600 seconds")));
        }

        let mut clients = Vec::new();
        for (i, c) in file.clients.iter().enumerate() {
            let key = |k: &str| format!("clients[{i}].{k}");
            let auth = parse_auth(&c.token_endpoint_auth_method).ok_or_else(|| {
                invalid(
                    &key("token_endpoint_auth_method"),
                    format!(
                        "{:?}: expected private_key_jwt, tls_client_auth or self_signed_tls_client_auth (FAPI2-SP-AS-06)",
                        c.token_endpoint_auth_method
                    ),
                )
            })?;
            let sender = parse_sender(&c.sender_constraint).ok_or_else(|| {
                invalid(&key("sender_constraint"), format!("{:?}: expected dpop or mtls (FAPI2-SP-AS-05)", c.sender_constraint))
            })?;
            let index = match c.index {
                Some(n @ (1 | 2)) => n,
                Some(n) => return Err(invalid(&key("index"), format!("{n}: expected 1 or 2"))),
                None => {
                    let before = clients.iter().filter(|o: &&TargetClient| o.auth == auth && o.sender == sender).count();
                    if before >= 2 {
                        return Err(invalid(
                            &key("client_id"),
                            "a third client for the same authentication and sender constraint; give `index`".into(),
                        ));
                    }
                    u8::try_from(before + 1).unwrap_or(2)
                }
            };
            let private_jwks = match &c.private_jwks_file {
                Some(p) => {
                    let p = resolve(p);
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| invalid(&key("private_jwks_file"), format!("cannot read {}: {e}", p.display())))?;
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| invalid(&key("private_jwks_file"), format!("{} is not JSON: {e}", p.display())))?;
                    check_private_jwks(&v).map_err(|m| invalid(&key("private_jwks_file"), m))?;
                    v
                }
                None if auth == ClientAuth::PrivateKeyJwt => {
                    return Err(invalid(&key("private_jwks_file"), "required for private_key_jwt".into()));
                }
                None => serde_json::json!({"keys": []}),
            };
            let read_pem = |k: &str, p: &Option<PathBuf>| -> Result<Option<String>, TargetError> {
                match p {
                    Some(p) => {
                        let p = resolve(p);
                        std::fs::read_to_string(&p).map(Some).map_err(|e| invalid(&key(k), format!("cannot read {}: {e}", p.display())))
                    }
                    None => Ok(None),
                }
            };
            let cert_pem = read_pem("cert_file", &c.cert_file)?;
            let key_pem = read_pem("key_file", &c.key_file)?;
            let needs_cert = auth == ClientAuth::Mtls || sender == Sender::Mtls;
            if needs_cert && (cert_pem.is_none() || key_pem.is_none()) {
                return Err(invalid(
                    &key("cert_file"),
                    "cert_file and key_file are required for mTLS authentication or mTLS sender constraint".into(),
                ));
            }
            if !c.redirect_uri.starts_with("https://") && !c.redirect_uri.starts_with("http://127.0.0.1") {
                return Err(invalid(&key("redirect_uri"), format!("{:?} is not https (FAPI2-SP-AZ-08)", c.redirect_uri)));
            }
            clients.push(TargetClient {
                client_id: c.client_id.clone(),
                auth,
                auth_method: c.token_endpoint_auth_method.clone(),
                sender,
                index,
                private_jwks,
                cert_pem,
                key_pem,
                redirect_uri: c.redirect_uri.clone(),
                second_redirect_uri: c.second_redirect_uri.clone(),
            });
        }
        if clients.is_empty() {
            return Err(invalid("clients", "no [[clients]]: a run needs two clients per variant".into()));
        }
        check_pairs(&clients).map_err(|m| invalid("clients", m))?;

        let l = &file.login;
        let login = match l.mode.as_str() {
            "manual" => Login::Manual,
            "form" => {
                let username = l.username.clone().ok_or_else(|| invalid("login.username", "required when mode = \"form\"".into()))?;
                let password = l.password.clone().ok_or_else(|| invalid("login.password", "required when mode = \"form\"".into()))?;
                Login::Form(Box::new(FormScript {
                    username,
                    password,
                    username_field: l.username_field.clone().unwrap_or_else(|| "username".into()),
                    password_field: l.password_field.clone().unwrap_or_else(|| "password".into()),
                    approve: l.approve.clone().unwrap_or_else(|| FieldValue { field: "decision".into(), value: "approve".into() }),
                    deny: l.deny.clone().unwrap_or_else(|| FieldValue { field: "decision".into(), value: "deny".into() }),
                    extra_fields: l.extra_fields.clone(),
                }))
            }
            other => return Err(invalid("login.mode", format!("{other:?}: expected \"form\" or \"manual\""))),
        };
        let users = match &login {
            Login::Form(f) => vec![User { username: f.username.clone(), password: f.password.clone() }],
            Login::Manual => Vec::new(),
        };
        Ok(Target {
            issuer,
            discovery_url,
            ca_pem,
            resource_url: file.resource_url,
            clients,
            scope_openid: file.scope_openid.unwrap_or_else(|| format!("openid {resource_scope}")),
            scope_plain: file.scope_plain.unwrap_or(resource_scope),
            login,
            code_lifetime,
            users,
        })
    }

    /// Reads fapilab's `sandbox.json` (the first workspace), with the sandbox's login form
    /// contract (README "Login form contract") and its first user.
    pub fn from_sandbox_manifest(path: &Path) -> Result<Target, TargetError> {
        let invalid = |key: &str, message: String| TargetError::Invalid { path: path.to_owned(), key: key.to_owned(), message };
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read { path: path.to_owned(), source })?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| TargetError::Parse { path: path.to_owned(), message: format!("not a sandbox manifest: {e}") })?;
        let ws = m.workspaces.first().ok_or_else(|| invalid("workspaces", "empty".into()))?;
        let ca_pem = std::fs::read(&m.ca_file).map_err(|e| invalid("ca_file", format!("cannot read {}: {e}", m.ca_file.display())))?;
        let user = m.users.first().ok_or_else(|| invalid("users", "no user to log in with".into()))?;
        let mut clients = Vec::new();
        for (i, c) in ws.clients.iter().enumerate() {
            let key = |k: &str| format!("workspaces[0].clients[{i}].{k}");
            let (Some(auth), Some(sender)) =
                (parse_auth(&c.token_endpoint_auth_method), c.sender_constraint.as_deref().and_then(parse_sender))
            else {
                continue; // not a FAPI 2.0 client of a variant
            };
            let index = if c.client_id.ends_with("-2") { 2 } else { 1 };
            let private_jwks = match &c.private_jwks_file {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .map_err(|e| invalid(&key("private_jwks_file"), format!("cannot read {}: {e}", p.display())))?;
                    serde_json::from_str(&text).map_err(|e| invalid(&key("private_jwks_file"), format!("not JSON: {e}")))?
                }
                None => serde_json::json!({"keys": []}),
            };
            let read = |k: &str, p: &Option<PathBuf>| -> Result<Option<String>, TargetError> {
                p.as_ref()
                    .map(|p| std::fs::read_to_string(p).map_err(|e| invalid(&key(k), format!("cannot read {}: {e}", p.display()))))
                    .transpose()
            };
            let redirect_uri = c.redirect_uris.first().cloned().ok_or_else(|| invalid(&key("redirect_uris"), "empty".into()))?;
            let _ = &c.scope;
            clients.push(TargetClient {
                client_id: c.client_id.clone(),
                auth,
                auth_method: c.token_endpoint_auth_method.clone(),
                sender,
                index,
                private_jwks,
                cert_pem: read("cert_file", &c.cert_file)?,
                key_pem: read("key_file", &c.key_file)?,
                redirect_uri,
                second_redirect_uri: c.redirect_uris.get(1).cloned(),
            });
        }
        // Prefer tls_client_auth over self_signed_tls_client_auth for the mtls axis (both
        // match; `client` returns the first).
        clients.sort_by_key(|c| (c.auth_method == "self_signed_tls_client_auth", c.client_id.clone()));
        check_pairs(&clients).map_err(|m| invalid("workspaces[0].clients", m))?;
        Ok(Target {
            issuer: ws.issuer.clone(),
            discovery_url: ws.discovery_url.clone(),
            ca_pem,
            resource_url: format!("{}/accounts", m.bank_url.trim_end_matches('/')),
            clients,
            scope_openid: "openid accounts".into(),
            scope_plain: "accounts".into(),
            login: Login::Form(Box::new(FormScript {
                username: user.username.clone(),
                password: user.password.clone(),
                username_field: "username".into(),
                password_field: "password".into(),
                approve: FieldValue { field: "decision".into(), value: "approve".into() },
                deny: FieldValue { field: "decision".into(), value: "deny".into() },
                extra_fields: BTreeMap::new(),
            })),
            code_lifetime: ws.code_lifetime.or(m.code_lifetime).unwrap_or(60),
            users: m.users.iter().map(|u| User { username: u.username.clone(), password: u.password.clone() }).collect(),
        })
    }

    /// Client `index` (1 or 2) for the variant's client authentication and sender constraint;
    /// `mtls` authentication matches `tls_client_auth` and `self_signed_tls_client_auth`.
    pub fn client(&self, variant: &Variant, index: u8) -> Option<&TargetClient> {
        self.clients.iter().find(|c| c.auth == variant.client_auth && c.sender == variant.sender && c.index == index)
    }

    /// The scope a variant asks for.
    pub fn scope(&self, variant: &Variant) -> &str {
        match variant.openid {
            crate::variant::OpenId::OpenidConnect => &self.scope_openid,
            crate::variant::OpenId::PlainOauth => &self.scope_plain,
        }
    }
}

/// Every pair with a client 1 needs a client 2, and the other way round.
fn check_pairs(clients: &[TargetClient]) -> Result<(), String> {
    for auth in ClientAuth::ALL {
        for sender in Sender::ALL {
            let has = |i: u8| clients.iter().any(|c| c.auth == auth && c.sender == sender && c.index == i);
            let pair = format!("client_auth={},sender={}", auth.as_str(), sender.as_str());
            match (has(1), has(2)) {
                (true, false) => return Err(format!("variant {pair} has client 1 but no second client (a run needs two)")),
                (false, true) => return Err(format!("variant {pair} has client 2 but no client 1")),
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_private_jwks(v: &serde_json::Value) -> Result<(), String> {
    let keys = v.get("keys").and_then(|k| k.as_array()).ok_or("not a JWKS: no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWKS holds no key".into());
    }
    if !keys.iter().any(|k| fapilab_jose::SigningKey::from_private_jwk(k).is_ok()) {
        return Err("no usable private signing key (PS256, ES256 or EdDSA) in the JWKS".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("fapilab-target-{}-{}", std::process::id(), fapilab_jose::random_token(6)));
        std::fs::create_dir_all(&d).unwrap();
        let key = fapilab_jose::SigningKey::generate(fapilab_jose::Algorithm::Es256, Some("k1".into())).unwrap();
        std::fs::write(d.join("jwks.json"), serde_json::json!({"keys": [key.to_private_jwk()]}).to_string()).unwrap();
        std::fs::write(d.join("ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        d
    }

    const HEAD: &str = r#"
format = 1
issuer = "https://as.example/t/"
ca_file = "ca.pem"
resource_url = "https://rs.example/accounts"
[login]
mode = "form"
username = "alice"
password = "pw"
"#;

    fn client(id: &str) -> String {
        format!(
            "[[clients]]\nclient_id = \"{id}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\nsender_constraint = \"dpop\"\nprivate_jwks_file = \"jwks.json\"\nredirect_uri = \"https://c.example/cb\"\n"
        )
    }

    #[test]
    fn good_file_loads_with_defaults() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let t = Target::load_any(&path).expect("loads");
        assert_eq!(t.issuer, "https://as.example/t");
        assert_eq!(t.discovery_url, "https://as.example/t/.well-known/openid-configuration");
        assert_eq!(t.scope_openid, "openid accounts");
        assert_eq!(t.scope_plain, "accounts");
        assert_eq!(t.code_lifetime, 60);
        let v = Variant { client_auth: ClientAuth::PrivateKeyJwt, sender: Sender::Dpop, openid: crate::variant::OpenId::PlainOauth };
        assert_eq!(t.client(&v, 1).unwrap().client_id, "a");
        assert_eq!(t.client(&v, 2).unwrap().client_id, "b");
        let Login::Form(f) = &t.login else { panic!("form login") };
        assert_eq!(f.approve.value, "approve");
        assert_eq!(f.password_field, "password");
    }

    #[test]
    fn unknown_key_is_named() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("colour = \"red\"\n{HEAD}{}{}", client("a"), client("b"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn missing_second_client_names_the_variant() {
        let d = dir();
        let path = d.join("t.toml");
        std::fs::write(&path, format!("{HEAD}{}", client("a"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("client_auth=private_key_jwt,sender=dpop") && err.contains("second client"), "{err}");
    }

    #[test]
    fn bad_auth_method_names_the_key() {
        let d = dir();
        let path = d.join("t.toml");
        let bad = client("a").replace("private_key_jwt", "client_secret_basic");
        std::fs::write(&path, format!("{HEAD}{bad}{}", client("b"))).unwrap();
        let err = Target::load(&path).unwrap_err().to_string();
        assert!(err.contains("clients[0].token_endpoint_auth_method"), "{err}");
    }
}
