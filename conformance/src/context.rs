//! The state of one running module: its HTTP clients and exchanges, the conditions found so
//! far, the server metadata, and per client (1 and 2) its DPoP key, its pushed request, code
//! and tokens. Every module starts from a fresh context: own cookie jar, own DPoP keys.

use std::sync::Arc;
use std::time::Instant;

use fapilab_jose::{Algorithm, Jwks, SigningKey};
use serde_json::{Map, Value};

use crate::http::{Http, Via};
use crate::model::Condition;
use crate::scenario::{Messages, RequestMethod, ResponseMode, SecurityProfile};
use crate::target::{Target, TargetClient};
use crate::variant::{Sender, Variant};

/// What the PAR step pushed, for the steps after it.
#[derive(Debug, Clone)]
pub struct Flow {
    pub request_uri: Option<String>,
    pub expires_in: Option<u64>,
    pub pushed_at: Instant,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The PKCE verifier, when the request carried a challenge (always with PAR; by value only
    /// with `pkce_by_value`, A-AS-18).
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: String,
    /// The `response_type` requested (`code`, or `code id_token` for the hybrid flow).
    pub response_type: String,
    /// By value (A-AS-01): the signed request object for the `request` parameter of the
    /// authorization URL; `None` when nothing is pushed and no object is sent.
    pub request_object: Option<String>,
    /// The mutations of the `par` step: what an `authorize` step expecting a refusal judges.
    pub mutations: crate::mutations::Mutations,
    /// The thumbprint the code is bound to (PAR DPoP proof key or `dpop_jkt`), if any.
    pub dpop_jkt: Option<String>,
    /// Extra parameters for the authorization URL (`state_outside_par`, …).
    pub front_extra: Vec<(String, String)>,
    /// `request_uri` before `client_id` in the authorization URL.
    pub front_reorder: bool,
    /// The JARM `response_mode` pushed (`jwt`, `query.jwt`, …), in plans with JARM responses.
    pub response_mode: Option<String>,
}

/// What a successful `backchannel_authorize` step got back (CIBA-04), for the token steps.
#[derive(Debug, Clone)]
pub struct BackchannelRequest {
    pub auth_req_id: String,
    pub expires_in: u64,
    /// Seconds between polls: the answer's `interval` (5 when absent, CIBA-04), grown by 5
    /// after each `slow_down` (CIBA-06).
    pub interval: u64,
    pub acknowledged_at: Instant,
    /// When the client last polled the token endpoint with it.
    pub last_poll: Option<Instant>,
    /// When the last token request for it was sent: the server measures the interval between
    /// arrivals, so a too-fast poll is judged from send to send (CIBA-06).
    pub last_poll_sent: Option<Instant>,
    pub binding_message: Option<String>,
    /// The `client_notification_token` sent (ping clients, CIBA-01).
    pub notification_token: Option<String>,
}

/// A token response worth keeping.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    pub refresh_token: Option<String>,
    pub id_token_claims: Option<Map<String, Value>>,
    /// Exchange that issued them.
    pub evidence: usize,
    /// Set by a successful `revoke` step: which of them was revoked (`"refresh"` or `"access"`).
    pub revoked: Option<&'static str>,
}

/// A client the module registered (RFC 7591): from then on it is the module's client
/// `index`, with the keys and certificate of the target's client it was registered for.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The target's client with the registered `client_id` and redirect URIs.
    pub client: TargetClient,
    pub registration_client_uri: Option<String>,
    /// The latest registration access token (the server may rotate it on every use, DCM-06).
    pub registration_access_token: Option<String>,
    /// The token before the last rotation, if the server rotated it.
    pub previous_registration_access_token: Option<String>,
    /// The metadata of the server's last answer about the client.
    pub metadata: Map<String, Value>,
    /// A successful `delete_registration` removed it (DCM-05).
    pub deleted: bool,
    /// The FDX status the module expects the client to have (FDX-ST-05, FDX-UPD-01).
    pub fdx_status: Option<String>,
}

/// Why the server must no longer serve a registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Deleted through its registration client URI (DCM-05).
    Deleted,
    /// In an FDX status that cannot obtain tokens (FDX-ST-01, FDX-ST-02).
    FdxInactive(String),
}

/// A token of the target's registration admin client.
#[derive(Debug, Clone)]
pub struct AdminToken {
    pub access_token: String,
    /// `DPoP` or `Bearer`.
    pub token_type: String,
}

/// The registration admin client's DPoP key, nonce and tokens (by the scope asked for).
pub struct AdminState {
    pub dpop_key: Arc<SigningKey>,
    pub as_nonce: Option<String>,
    pub tokens: std::collections::HashMap<String, AdminToken>,
}

/// Per-client state.
pub struct ClientState {
    pub dpop_key: Arc<SigningKey>,
    /// Last `DPoP-Nonce` from the authorization server (DP-N-01).
    pub as_nonce: Option<String>,
    /// Last `DPoP-Nonce` from the resource server (DP-N-02).
    pub rs_nonce: Option<String>,
    pub flow: Option<Flow>,
    /// The last PAR was refused (a later `authorize` expecting a refusal accepts that).
    pub par_rejected: bool,
    pub code: Option<String>,
    /// The claims of the ID token of the last hybrid authorization response (A-IDT-04), for
    /// the token endpoint's ID token to agree with (OIDC Core 3.3.3.6).
    pub front_id_token: Option<Map<String, Value>>,
    /// A code already redeemed (for `reuse_code`).
    pub redeemed_code: Option<String>,
    pub code_received_at: Option<Instant>,
    pub tokens: Option<Tokens>,
    /// The refresh token before the last rotation, if the server rotated it.
    pub previous_refresh_token: Option<String>,
    /// Set by a successful `register` step.
    pub registered: Option<Registered>,
    /// The last acknowledged CIBA authentication request.
    pub backchannel: Option<BackchannelRequest>,
}

pub struct ModuleContext {
    pub target: Arc<Target>,
    pub variant: Variant,
    /// The plan's request method and response mode.
    pub messages: Messages,
    pub http: Http,
    pub conditions: Vec<Condition>,
    pub discovery: Option<Map<String, Value>>,
    pub server_jwks: Option<Jwks>,
    pub clients: [ClientState; 2],
    pub admin: AdminState,
    /// The module's CIBA ping notification endpoint, once a `ping_listener` step started it.
    pub ping: Option<crate::ping::Listener>,
    /// The module's software passkey, account page and registered passkeys.
    pub passkeys: crate::passkey::PasskeyState,
    /// Set by a step that cannot run the module (with the reason).
    pub skipped: Option<String>,
    /// Set when a step could not continue (later steps are not run).
    pub aborted: bool,
}

fn fresh_key() -> Result<Arc<SigningKey>, String> {
    SigningKey::generate(Algorithm::Es256, None).map(Arc::new).map_err(|e| format!("generating a DPoP key: {e}"))
}

impl ClientState {
    fn new() -> Result<ClientState, String> {
        Ok(ClientState {
            dpop_key: fresh_key()?,
            as_nonce: None,
            rs_nonce: None,
            flow: None,
            par_rejected: false,
            code: None,
            front_id_token: None,
            redeemed_code: None,
            code_received_at: None,
            tokens: None,
            previous_refresh_token: None,
            registered: None,
            backchannel: None,
        })
    }
}

impl ModuleContext {
    pub fn new(target: Arc<Target>, variant: Variant, messages: Messages) -> Result<ModuleContext, String> {
        let http = Http::new(&target.ca_pem);
        Ok(ModuleContext {
            target,
            variant,
            messages,
            http,
            conditions: Vec::new(),
            discovery: None,
            server_jwks: None,
            clients: [ClientState::new()?, ClientState::new()?],
            admin: AdminState { dpop_key: fresh_key()?, as_nonce: None, tokens: std::collections::HashMap::new() },
            ping: None,
            passkeys: crate::passkey::PasskeyState::default(),
            skipped: None,
            aborted: false,
        })
    }

    pub fn push(&mut self, c: Condition) {
        self.conditions.push(c);
    }

    pub fn extend(&mut self, cs: impl IntoIterator<Item = Condition>) {
        self.conditions.extend(cs);
    }

    /// Ends the module as skipped.
    pub fn skip(&mut self, reason: impl Into<String>) {
        if self.skipped.is_none() {
            self.skipped = Some(reason.into());
        }
        self.aborted = true;
    }

    pub fn openid(&self) -> bool {
        self.variant.openid == crate::variant::OpenId::OpenidConnect
    }

    pub fn dpop(&self) -> bool {
        self.variant.sender == Sender::Dpop
    }

    /// The module sends signed request objects: pushed (MS-CL-01) or by value (A-AS-01).
    pub fn signed_requests(&self) -> bool {
        self.messages.request.signed()
    }

    /// The module sends its request object in the authorization URL, pushing nothing (A-AS-01).
    pub fn by_value(&self) -> bool {
        self.messages.request == RequestMethod::ByValue
    }

    /// The module asks for JARM responses (MS-JARM-CL-01, A-JARM-01).
    pub fn jarm(&self) -> bool {
        self.messages.response == ResponseMode::Jarm
    }

    /// The module asks for `code id_token` responses in the fragment (A-AS-02, A-IDT-04).
    pub fn hybrid(&self) -> bool {
        self.messages.response == ResponseMode::Hybrid
    }

    /// The server is judged against FAPI 1.0 Advanced.
    pub fn fapi1(&self) -> bool {
        self.messages.profile == SecurityProfile::Fapi1Advanced
    }


    /// The module's client `index`: the client a `register` step registered for it, else the
    /// target's client for this variant (a clone: the target is shared).
    pub fn client(&self, index: u8) -> Option<TargetClient> {
        match &self.state_ref(index).registered {
            Some(r) => Some(r.client.clone()),
            None => self.target.client(&self.variant, index).cloned(),
        }
    }

    /// The target's own client `index` for this variant, even after a registration.
    pub fn target_client(&self, index: u8) -> Option<TargetClient> {
        self.target.client(&self.variant, index).cloned()
    }

    /// Whether the server must refuse client `index`: a registered client that was deleted or
    /// set to an inactive FDX status.
    pub fn standing(&self, index: u8) -> Option<Standing> {
        let r = self.state_ref(index).registered.as_ref()?;
        if r.deleted {
            return Some(Standing::Deleted);
        }
        match &r.fdx_status {
            Some(s) if !crate::target::fdx_status_active(s) => Some(Standing::FdxInactive(s.clone())),
            _ => None,
        }
    }

    pub fn state(&mut self, index: u8) -> &mut ClientState {
        let i = usize::from(index.clamp(1, 2) - 1);
        &mut self.clients[i]
    }

    pub fn state_ref(&self, index: u8) -> &ClientState {
        let i = usize::from(index.clamp(1, 2) - 1);
        &self.clients[i]
    }

    /// Replaces the client's DPoP key (the refresh step uses a fresh one, like the suite).
    pub fn new_dpop_key(&mut self, index: u8) -> Result<(), String> {
        self.state(index).dpop_key = fresh_key()?;
        Ok(())
    }

    /// A metadata string member.
    pub fn meta(&self, name: &str) -> Option<String> {
        self.discovery.as_ref().and_then(|d| d.get(name)).and_then(Value::as_str).map(str::to_owned)
    }

    /// The endpoint `name` (e.g. `token_endpoint`) for `client`: its `mtls_endpoint_aliases`
    /// entry when the client uses its certificate (FAPI2-SP-NET-08, MT-10), else the plain one.
    pub fn endpoint(&self, client: &TargetClient, name: &str) -> Option<String> {
        if client.uses_mtls()
            && let Some(alias) =
                self.discovery.as_ref().and_then(|d| d.get("mtls_endpoint_aliases")).and_then(|a| a.get(name)).and_then(Value::as_str)
        {
            return Some(alias.to_owned());
        }
        self.meta(name)
    }

    /// Fetches discovery (without judging it: that is the `discover` step) when no step did.
    pub async fn ensure_discovery(&mut self) -> bool {
        if self.discovery.is_some() {
            return true;
        }
        let url = self.target.discovery_url.clone();
        let resp = self.http.send(Via::Plain, crate::http::Request::get(url)).await;
        match resp.json() {
            Some(doc) if resp.status == Some(200) => {
                self.discovery = Some(doc);
                true
            }
            _ => {
                self.push(
                    crate::conditions::Check::new("discovery.available", "the discovery document can be fetched")
                        .req(&["FAPI2-SP-AS-01"])
                        .expected("HTTP 200 with a JSON object")
                        .observed(resp.describe())
                        .evidence(&[resp.index])
                        .pass(false),
                );
                self.aborted = true;
                false
            }
        }
    }

    /// Fetches the server's JWKS (without judging it: that is the `jwks` step) when no step
    /// did, so ID token signatures can be verified.
    pub async fn ensure_jwks(&mut self) {
        if self.server_jwks.is_some() {
            return;
        }
        let Some(url) = self.meta("jwks_uri") else { return };
        let resp = self.http.send(Via::Plain, crate::http::Request::get(url)).await;
        if resp.status == Some(200)
            && let Some(doc) = resp.json()
        {
            self.server_jwks = Jwks::from_value(&Value::Object(doc)).ok();
        }
    }

    /// The connection a client's back-channel requests use: its certificate when it
    /// authenticates or binds with mTLS.
    pub fn via_for<'a>(&self, client: &'a TargetClient) -> Via<'a> {
        match (&client.cert_pem, &client.key_pem) {
            (Some(cert_pem), Some(key_pem)) if client.uses_mtls() => Via::Identity { cert_pem, key_pem },
            _ => Via::Plain,
        }
    }
}

/// The client's signing key for `private_key_jwt`: the first usable key of its private JWKS
/// (ES256 first, then PS256, then EdDSA).
pub fn client_signing_key(client: &TargetClient) -> Result<SigningKey, String> {
    let keys = client.private_jwks.get("keys").and_then(Value::as_array).ok_or("the client's private JWKS has no keys")?;
    let mut loaded: Vec<SigningKey> = keys.iter().filter_map(|k| SigningKey::from_private_jwk(k).ok()).collect();
    loaded.sort_by_key(|k| match k.algorithm() {
        Algorithm::Es256 => 0,
        Algorithm::Ps256 => 1,
        Algorithm::EdDsa => 2,
    });
    loaded.into_iter().next().ok_or_else(|| format!("client {}: no usable private signing key in its JWKS", client.client_id))
}

/// The client's RSA key (for the RS256 negative test), if its JWKS has one.
pub fn client_rsa_key(client: &TargetClient) -> Option<SigningKey> {
    let keys = client.private_jwks.get("keys").and_then(Value::as_array)?;
    keys.iter().filter_map(|k| SigningKey::from_private_jwk(k).ok()).find(|k| k.algorithm() == Algorithm::Ps256)
}
