//! Passkeys: WebAuthn credentials an end user registers from the account page and signs in
//! with, usernameless, on the login page (`endpoints/passkey_login.rs`,
//! `endpoints/account.rs`). The ceremonies' cryptography and checks are `webauthn-rs`'s
//! (REG-01…REG-14, AUTH-03…AUTH-10); this module keeps what it leaves to the relying party:
//!
//! - the relying party of a workspace: RP ID = the issuer's host, the one allowed origin = the
//!   issuer's scheme, host and port (REG-OPT-02, REG-04); none when the host is an IP address,
//!   which WebAuthn cannot use as an RP ID;
//! - challenges, server-side, single use, five minutes, bound to what they were issued for —
//!   an interaction for sign-in (INT-PK-03), a session for registration (REG-03, PK-05);
//! - the credential records per user, the random user handle that names the user to the
//!   authenticator (never PII, PK-02, REG-OPT-03), credential ids unique in the workspace (REG-15),
//!   the counter and backup state after every use (AUTH-09, AUTH-11);
//! - what the sign-in proves: `amr` `hwk` (a key bound to one device) or `swk` (a synced,
//!   backup-eligible passkey) and `user` (user verification is always required), RFC 8176.
//!
//! Records, keyed per workspace: [`Kind::PasskeyAccount`] by subject, [`Kind::PasskeyHandle`]
//! by user handle (usernameless sign-in finds the user by it) and [`Kind::PasskeyCredential`]
//! by credential id (uniqueness). Writes go through one lock, so two registrations of the same
//! credential cannot both pass the uniqueness check.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Credential, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use webauthn_rs_proto::ResidentKeyRequirement;

use crate::faults::{Fault, FaultSet};
use crate::store::records::plain_key;
use crate::store::{Kind, Records, StoreError};

/// REG-OPT-01, AUTH-OPT-01: the `timeout` the browser is given…
const BROWSER_TIMEOUT_SECONDS: u64 = 300;
/// …and how long the server keeps the challenge: a little longer, so a user who finishes at
/// the last second is not refused.
pub const CEREMONY_LIFETIME: i64 = 330;
/// Unfinished ceremonies kept at most per workspace and kind (sign-in, registration), the
/// oldest going first: a flood of option requests cannot grow the server without bound, nor
/// push out another workspace's ceremonies or the registrations of signed-in users.
const MAX_CEREMONIES: usize = 10_000;
/// A passkey's name as the user typed it, at most this long.
pub const MAX_NAME_CHARS: usize = 64;
/// PK-04: a user may have several passkeys, up to this many.
pub const MAX_PASSKEYS_PER_USER: usize = 20;

/// The relying party of a workspace whose issuer is `issuer`, or why there is none.
/// `any_port` is the test-only fault `passkey_origin_port` (REG-04/AUTH-04 removed).
pub fn relying_party(issuer: &str, name: &str, any_port: bool) -> Result<Webauthn, String> {
    let url = Url::parse(issuer).map_err(|e| format!("the issuer is not a URL: {e}"))?;
    // `domain()` is none for IP addresses, which cannot be a WebAuthn RP ID (REG-OPT-02).
    let Some(host) = url.domain().map(str::to_owned) else {
        return Err("the issuer's host is an IP address, which cannot be a WebAuthn RP ID (REG-OPT-02)".into());
    };
    let mut origin = url.clone();
    origin.set_path("");
    origin.set_query(None);
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| b.rp_name(name).allow_any_port(any_port).timeout(std::time::Duration::from_secs(BROWSER_TIMEOUT_SECONDS)).build())
        .map_err(|e| format!("cannot be a WebAuthn relying party: {e}"))
}

/// One registered passkey of a user.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// The credential id, base64url: how the account page names it.
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The verified credential: public key, algorithm, counter, backup flags.
    pub credential: Passkey,
}

impl StoredPasskey {
    /// BE, BS (REG-10, PK-03) and the signature counter, as last seen.
    pub fn flags(&self) -> CredentialFlags {
        let credential = Credential::from(self.credential.clone());
        CredentialFlags { backup_eligible: credential.backup_eligible, backed_up: credential.backup_state, counter: credential.counter }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialFlags {
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub counter: u32,
}

/// A user's passkeys in one workspace, and the handle that names the user to authenticators.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasskeyAccount {
    pub user_handle: Uuid,
    pub passkeys: Vec<StoredPasskey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Owner {
    subject: String,
}

/// What a ceremony was started for; a response is only accepted for the same purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Sign-in within this interaction (INT-PK-03).
    SignIn { workspace: String, interaction_id: String },
    /// Registration by this session's user.
    Register { workspace: String, session: String },
}

impl Purpose {
    /// The workspace and kind of ceremony, which share one cap.
    fn group(&self) -> (&str, bool) {
        match self {
            Purpose::SignIn { workspace, .. } => (workspace, true),
            Purpose::Register { workspace, .. } => (workspace, false),
        }
    }
}

enum CeremonyState {
    SignIn(DiscoverableAuthentication),
    Register { subject: String, user_handle: Uuid, state: PasskeyRegistration },
}

struct Ceremony {
    state: CeremonyState,
    /// The challenge as sent (base64url).
    challenge: String,
    expires_at: i64,
    started: u64,
}

/// Why a passkey was not accepted: a message for the page, the requirement it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    fn new(text: impl Into<String>) -> Refusal {
        Refusal(text.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0.0)]
    Refused(Refusal),
}

impl From<Refusal> for PasskeyError {
    fn from(r: Refusal) -> Self {
        PasskeyError::Refused(r)
    }
}

/// The server's passkey state: unfinished ceremonies (memory) and the writer lock.
#[derive(Default)]
pub struct Passkeys {
    ceremonies: Mutex<HashMap<Purpose, Ceremony>>,
    started: std::sync::atomic::AtomicU64,
    writer: Mutex<()>,
    faults: FaultSet,
}

/// RFC 8176 methods a passkey sign-in proves: possession of a hardware-bound (`hwk`) or a
/// synced, software-kept (`swk`) key, and user verification (`user`; always required here).
pub fn amr(backup_eligible: bool) -> [&'static str; 2] {
    [if backup_eligible { "swk" } else { "hwk" }, "user"]
}

/// Credential ids in the account page's URLs and forms.
pub fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

impl Passkeys {
    pub fn new(faults: FaultSet) -> Passkeys {
        Passkeys { faults, ..Passkeys::default() }
    }

    fn remember(&self, purpose: Purpose, state: CeremonyState, challenge: String, now: i64) {
        let mut ceremonies = self.ceremonies.lock().unwrap_or_else(|e| e.into_inner());
        ceremonies.retain(|_, c| c.expires_at > now);
        let group = |p: &Purpose| p.group() == purpose.group();
        if ceremonies.keys().filter(|p| group(p)).count() >= MAX_CEREMONIES
            && let Some(oldest) = ceremonies.iter().filter(|(p, _)| group(p)).min_by_key(|(_, c)| c.started).map(|(k, _)| k.clone())
        {
            ceremonies.remove(&oldest);
        }
        let started = self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A new ceremony for the same purpose replaces the previous one (its challenge dies).
        ceremonies.insert(purpose, Ceremony { state, challenge, expires_at: now + CEREMONY_LIFETIME, started });
    }

    /// Takes the ceremony for `purpose`: whatever happens next, its challenge is spent.
    fn take(&self, purpose: &Purpose, now: i64) -> Option<CeremonyState> {
        let mut ceremonies = self.ceremonies.lock().unwrap_or_else(|e| e.into_inner());
        ceremonies.remove(purpose).filter(|c| c.expires_at > now).map(|c| c.state)
    }

    /// The test-only fault `passkey_interaction_binding`: the sign-in ceremony of any
    /// interaction of the workspace whose challenge the response signed.
    fn take_by_challenge(&self, purpose: &Purpose, credential: &webauthn_rs::prelude::PublicKeyCredential, now: i64) -> Option<CeremonyState> {
        let Purpose::SignIn { workspace, .. } = purpose else { return None };
        let client_data: serde_json::Value = serde_json::from_slice(credential.response.client_data_json.as_slice()).ok()?;
        let challenge = client_data.get("challenge")?.as_str()?;
        let mut ceremonies = self.ceremonies.lock().unwrap_or_else(|e| e.into_inner());
        let key = ceremonies
            .iter()
            .find(|(p, c)| matches!(p, Purpose::SignIn { workspace: w, .. } if w == workspace) && c.challenge == challenge)
            .map(|(p, _)| p.clone())?;
        ceremonies.remove(&key).filter(|c| c.expires_at > now).map(|c| c.state)
    }

    /// AUTH-OPT-01/02: options for a usernameless sign-in — a fresh challenge, no
    /// `allowCredentials`, user verification required — bound to `purpose`.
    pub fn start_sign_in(&self, rp: &Webauthn, purpose: Purpose, now: i64) -> Result<RequestChallengeResponse, Refusal> {
        let (mut options, state) = rp.start_discoverable_authentication().map_err(|e| Refusal::new(format!("cannot start a passkey sign-in: {e}")))?;
        // A modal request started by a button, not the autofill ("conditional") mediation the
        // library defaults to: the login page asks when the user chooses a passkey.
        options.mediation = None;
        let challenge = URL_SAFE_NO_PAD.encode(options.public_key.challenge.as_slice());
        self.remember(purpose, CeremonyState::SignIn(state), challenge, now);
        Ok(options)
    }

    /// Verifies a sign-in response; the subject it proves and the `amr` values.
    pub fn finish_sign_in(
        &self,
        records: &Records,
        rp: &Webauthn,
        workspace: &str,
        purpose: &Purpose,
        response: &str,
        now: i64,
    ) -> Result<(String, [&'static str; 2]), PasskeyError> {
        let parsed: Result<webauthn_rs::prelude::PublicKeyCredential, _> = serde_json::from_str(response);
        let ceremony = match &parsed {
            Ok(credential) if self.faults.active(Fault::PasskeyInteractionBinding) => self.take_by_challenge(purpose, credential, now),
            _ => self.take(purpose, now),
        };
        let Some(CeremonyState::SignIn(state)) = ceremony else {
            return Err(Refusal::new("no passkey sign-in is waiting here, or it has expired or was used: ask for a new one (AUTH-04, INT-PK-03)").into());
        };
        let credential = parsed.map_err(|e| not_a_credential("PublicKeyCredential", &e))?;
        if credential.type_ != "public-key" {
            return Err(Refusal::new("the credential's type is not public-key (AUTH-04, REG-01)").into());
        }
        let owner: Option<Owner> = if self.faults.active(Fault::PasskeyUserHandleBinding) {
            records.get(Kind::PasskeyCredential, &plain_key(workspace, &credential_id_text(credential.get_credential_id())))?
        } else {
            // AUTH-02: usernameless, so the user is named by the user handle, which must be there.
            let (handle, _) = rp
                .identify_discoverable_authentication(&credential)
                .map_err(|_| Refusal::new("the passkey response has no user handle naming a user (AUTH-02)"))?;
            records.get(Kind::PasskeyHandle, &plain_key(workspace, &handle.to_string()))?
        };
        let credential_id = credential_id_text(credential.get_credential_id());
        let Some(owner) = owner else {
            return Err(Refusal::new("this passkey is not registered here (AUTH-02, AUTH-03)").into());
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let account: Option<PasskeyAccount> = records.get(Kind::PasskeyAccount, &plain_key(workspace, &owner.subject))?;
        let Some(mut account) = account else {
            return Err(Refusal::new("this passkey is not registered here (AUTH-03)").into());
        };
        // AUTH-02/AUTH-03: the credential must be one of the user the handle names.
        let Some(stored) = account.passkeys.iter_mut().find(|p| p.id == credential_id) else {
            return Err(Refusal::new("this passkey does not belong to the user its user handle names, or was removed (AUTH-02, AUTH-03)").into());
        };
        let result: AuthenticationResult = rp
            .finish_discoverable_authentication_v2(&credential, state, &stored.credential)
            .map_err(|e| Refusal::new(format!("the passkey sign-in did not verify: {} ({e})", sign_in_reason(&e))))?;
        if !result.user_verified() {
            return Err(Refusal::new("the authenticator did not verify the user (AUTH-06)").into());
        }
        // AUTH-09, AUTH-11: keep the counter and backup state the authenticator reported.
        stored.credential.update_credential(&result);
        stored.last_used_at = Some(now);
        let amr = amr(result.backup_eligible());
        records.put(Kind::PasskeyAccount, &plain_key(workspace, &owner.subject), None, &account)?;
        Ok((owner.subject, amr))
    }

    /// REG-OPT-01…05: creation options for `subject` — a new credential that is discoverable
    /// (`residentKey: required`), user-verified, not one the user already has.
    #[allow(clippy::too_many_arguments)]
    pub fn start_registration(
        &self,
        records: &Records,
        rp: &Webauthn,
        workspace: &str,
        subject: &str,
        display_name: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<CreationChallengeResponse, PasskeyError> {
        // PK-02: one stable handle per user. The account (and the handle's owner record) exists
        // before the first options leave, so two registrations started at once share it.
        let account = {
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            match self.account(records, workspace, subject)? {
                Some(account) => account,
                None => {
                    let account = PasskeyAccount { user_handle: Uuid::new_v4(), passkeys: Vec::new() };
                    let handle = Records::pending(Kind::PasskeyHandle, plain_key(workspace, &account.user_handle.to_string()), None, &Owner { subject: subject.to_owned() })?;
                    let listed = Records::pending(Kind::PasskeyAccount, plain_key(workspace, subject), None, &account)?;
                    records.store().put_many(&[&handle, &listed])?;
                    account
                }
            }
        };
        let user_handle = account.user_handle;
        let existing: Vec<_> = account.passkeys.iter().map(|p| p.credential.cred_id().clone()).collect();
        if existing.len() >= MAX_PASSKEYS_PER_USER {
            return Err(Refusal::new(format!("at most {MAX_PASSKEYS_PER_USER} passkeys per user: remove one first (PK-04)")).into());
        }
        let (mut options, state) = rp
            .start_passkey_registration(user_handle, display_name, display_name, Some(existing))
            .map_err(|e| Refusal::new(format!("cannot start a passkey registration: {e}")))?;
        // PK-01: a passkey is found by the authenticator at sign-in, so it must be discoverable.
        let selection = options.public_key.authenticator_selection.get_or_insert_with(Default::default);
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        let challenge = URL_SAFE_NO_PAD.encode(options.public_key.challenge.as_slice());
        self.remember(purpose, CeremonyState::Register { subject: subject.to_owned(), user_handle, state }, challenge, now);
        Ok(options)
    }

    /// Verifies a registration response and stores the passkey under `name`.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_registration(
        &self,
        records: &Records,
        rp: &Webauthn,
        workspace: &str,
        subject: &str,
        purpose: &Purpose,
        name: &str,
        response: &str,
        now: i64,
    ) -> Result<StoredPasskey, PasskeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(|c| c.is_control() || invisible(c)) {
            return Err(Refusal::new(format!("give the passkey a name of 1 to {MAX_NAME_CHARS} characters")).into());
        }
        let (user_handle, state) = match self.take(purpose, now) {
            Some(CeremonyState::Register { subject: started_for, user_handle, state }) if started_for == subject => (user_handle, state),
            _ => return Err(Refusal::new("no passkey registration is waiting here, or it has expired or was used: start again (REG-03)").into()),
        };
        let credential: webauthn_rs::prelude::RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|e| not_a_credential("RegisterPublicKeyCredential", &e))?;
        if credential.type_ != "public-key" {
            return Err(Refusal::new("the credential's type is not public-key (REG-01)").into());
        }
        // REG-15, said as such (the library reports a credential it was told to exclude as an
        // algorithm change).
        let presented = credential_id_text(credential.raw_id.as_slice());
        if records.get::<Owner>(Kind::PasskeyCredential, &plain_key(workspace, &presented))?.is_some() {
            return Err(Refusal::new("this passkey is already registered (REG-15)").into());
        }
        let passkey = rp
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| Refusal::new(format!("the new passkey did not verify: {} ({e})", registration_reason(&e))))?;
        let id = credential_id_text(passkey.cred_id());
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // REG-15: a credential id names one credential of one user.
        if records.get::<Owner>(Kind::PasskeyCredential, &plain_key(workspace, &id))?.is_some() {
            return Err(Refusal::new("this passkey is already registered (REG-15)").into());
        }
        let Some(mut account) = self.account(records, workspace, subject)?.filter(|a| a.user_handle == user_handle) else {
            return Err(Refusal::new("this registration was started for another user handle: start again (PK-02)").into());
        };
        if account.passkeys.len() >= MAX_PASSKEYS_PER_USER {
            return Err(Refusal::new(format!("at most {MAX_PASSKEYS_PER_USER} passkeys per user: remove one first (PK-04)")).into());
        }
        let stored = StoredPasskey { id: id.clone(), name: name.to_owned(), created_at: now, last_used_at: None, credential: passkey };
        account.passkeys.push(stored.clone());
        // Both records or neither: a credential id is never claimed by no account.
        let owner = Records::pending(Kind::PasskeyCredential, plain_key(workspace, &id), None, &Owner { subject: subject.to_owned() })?;
        let listed = Records::pending(Kind::PasskeyAccount, plain_key(workspace, subject), None, &account)?;
        records.store().put_many(&[&owner, &listed])?;
        Ok(stored)
    }

    /// PK-04: removes one of `subject`'s passkeys; whether it was there.
    pub fn remove(&self, records: &Records, workspace: &str, subject: &str, id: &str) -> Result<bool, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut account) = self.account(records, workspace, subject)? else { return Ok(false) };
        let before = account.passkeys.len();
        account.passkeys.retain(|p| p.id != id);
        if account.passkeys.len() == before {
            return Ok(false);
        }
        // The index first: if the second write fails the passkey is still listed, and removing
        // it again finishes the job.
        records.delete(Kind::PasskeyCredential, &plain_key(workspace, id))?;
        records.put(Kind::PasskeyAccount, &plain_key(workspace, subject), None, &account)?;
        Ok(true)
    }

    /// Removes every passkey record of `subject` (a deleted user): the account, its user
    /// handle and each credential id, which may then be registered again.
    pub fn forget_user(&self, records: &Records, workspace: &str, subject: &str) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(account) = self.account(records, workspace, subject)? else { return Ok(()) };
        for passkey in &account.passkeys {
            records.delete(Kind::PasskeyCredential, &plain_key(workspace, &passkey.id))?;
        }
        records.delete(Kind::PasskeyHandle, &plain_key(workspace, &account.user_handle.to_string()))?;
        records.delete(Kind::PasskeyAccount, &plain_key(workspace, subject))?;
        Ok(())
    }

    /// `subject`'s passkeys in `workspace`, if any were ever registered.
    pub fn account(&self, records: &Records, workspace: &str, subject: &str) -> Result<Option<PasskeyAccount>, StoreError> {
        records.get(Kind::PasskeyAccount, &plain_key(workspace, subject))
    }
}

/// Characters that change how the rest of a name reads (bidirectional controls) or are
/// invisible: a passkey's name is shown back to its owner and must mean what it shows.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

/// A response that is not the WebAuthn JSON expected; the parser's detail goes to the log
/// only (it quotes the input).
fn not_a_credential(expected: &str, e: &serde_json::Error) -> PasskeyError {
    tracing::debug!(error = %e, "passkey response does not parse");
    Refusal::new(format!("the passkey response is not a WebAuthn {expected} (JSON, base64url members)")).into()
}

/// The requirement a failed registration broke, in words.
fn registration_reason(e: &webauthn_rs::prelude::WebauthnError) -> &'static str {
    use webauthn_rs::prelude::WebauthnError as E;
    match e {
        E::InvalidClientDataType => "the client data is not of a registration (REG-02)",
        E::MismatchedChallenge => "the challenge is not the one issued (REG-03)",
        E::InvalidRPOrigin => "the origin is not this server's (REG-04)",
        E::InvalidRPIDHash => "the RP ID hash is not this server's (REG-07)",
        E::UserNotPresent => "the user was not present (REG-08)",
        E::UserNotVerified => "the user was not verified (REG-09)",
        E::CredentialMayNotBeHardwareBound | E::CredentialBackupEligibilityInconsistent => "the backup flags are inconsistent (REG-10)",
        E::CredentialAlteredAlgFromRequest | E::COSEKeyInvalidAlgorithm => "the key's algorithm was not offered (REG-11)",
        E::CredentialCrossOrigin => "the request came from another origin (REG-04)",
        E::ParseCBORFailure(_) | E::ParseNOMFailure => "the attestation object is malformed (REG-06)",
        _ => "see WebAuthn §7.1 (REG-01…REG-16)",
    }
}

/// The requirement a failed sign-in broke, in words.
fn sign_in_reason(e: &webauthn_rs::prelude::WebauthnError) -> &'static str {
    use webauthn_rs::prelude::WebauthnError as E;
    match e {
        E::InvalidClientDataType => "the client data is not of a sign-in (AUTH-04)",
        E::MismatchedChallenge => "the challenge is not the one issued (AUTH-04)",
        E::InvalidRPOrigin => "the origin is not this server's (AUTH-04)",
        E::InvalidRPIDHash => "the RP ID hash is not this server's (AUTH-05)",
        E::UserNotPresent => "the user was not present (AUTH-06)",
        E::UserNotVerified => "the user was not verified (AUTH-06)",
        E::CredentialBackupEligibilityInconsistent | E::CredentialMayNotBeHardwareBound => "the backup flags changed or are inconsistent (AUTH-07)",
        E::AuthenticationFailure | E::SignatureInvalid => "the signature does not verify (AUTH-08)",
        E::CredentialCrossOrigin => "the request came from another origin (AUTH-04)",
        E::CredentialPossibleCompromise => "the signature counter went backwards: the passkey may be cloned (AUTH-09)",
        _ => "see WebAuthn §7.2 (AUTH-01…AUTH-11)",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialCreationOptions, UserVerificationPolicy};

    use super::*;
    use crate::store::memory::MemoryStore;

    const ISSUER: &str = "https://localhost:8443/default/fapi2";
    const WS: &str = "default/fapi2";

    /// A discoverable authenticator: SoftPasskey (which needs `allowCredentials` and returns
    /// no user handle) plus what a resident key keeps — the credential and user handle per
    /// RP ID — so it can answer a usernameless request.
    struct Resident {
        inner: SoftPasskey,
        credentials: Vec<(Vec<u8>, Vec<u8>)>,
    }

    impl Resident {
        fn new() -> Resident {
            // `true`: the software token reports user verification (it has no PIN to ask).
            Resident { inner: SoftPasskey::new(true), credentials: Vec::new() }
        }

        fn origin() -> Url {
            Url::parse("https://localhost:8443").expect("origin")
        }

        fn create(&mut self, mut options: CreationChallengeResponse) -> String {
            let user = options.public_key.user.id.to_vec();
            // This wrapper is the resident storage; SoftPasskey itself refuses resident keys.
            if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
                selection.require_resident_key = false;
                selection.resident_key = None;
            }
            let made = self.inner.do_registration(Self::origin(), options).expect("registration");
            self.credentials.push((made.raw_id.to_vec(), user));
            serde_json::to_string(&made).expect("json")
        }

        fn get(&mut self, mut options: RequestChallengeResponse) -> String {
            let (id, user) = self.credentials.last().cloned().expect("a resident credential");
            options.public_key.allow_credentials = vec![AllowCredentials { type_: "public-key".into(), id, transports: None }];
            let mut made = self.inner.do_authentication(Self::origin(), options).expect("authentication");
            made.response.user_handle = Some(user);
            serde_json::to_string(&made).expect("json")
        }
    }

    struct Fixture {
        records: Records,
        rp: Webauthn,
        passkeys: Passkeys,
        now: i64,
    }

    fn fixture() -> Fixture {
        Fixture {
            records: Records::new(Arc::new(MemoryStore::default())),
            rp: relying_party(ISSUER, "test", false).expect("relying party"),
            passkeys: Passkeys::default(),
            now: 1_800_000_000,
        }
    }

    fn sign_in_purpose(id: &str) -> Purpose {
        Purpose::SignIn { workspace: WS.into(), interaction_id: id.into() }
    }

    fn register_purpose(session: &str) -> Purpose {
        Purpose::Register { workspace: WS.into(), session: session.into() }
    }

    impl Fixture {
        fn register(&self, authenticator: &mut Resident, subject: &str) -> Result<StoredPasskey, PasskeyError> {
            let purpose = register_purpose(subject);
            let options = self.passkeys.start_registration(&self.records, &self.rp, WS, subject, subject, purpose.clone(), self.now)?;
            let response = authenticator.create(options);
            self.passkeys.finish_registration(&self.records, &self.rp, WS, subject, &purpose, "Laptop", &response, self.now)
        }

        fn options(&self, interaction: &str) -> RequestChallengeResponse {
            self.passkeys.start_sign_in(&self.rp, sign_in_purpose(interaction), self.now).expect("options")
        }

        fn finish(&self, interaction: &str, response: &str) -> Result<(String, [&'static str; 2]), PasskeyError> {
            self.passkeys.finish_sign_in(&self.records, &self.rp, WS, &sign_in_purpose(interaction), response, self.now)
        }
    }

    fn refusal(result: Result<impl std::fmt::Debug, PasskeyError>) -> String {
        match result {
            Err(PasskeyError::Refused(r)) => r.0,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    impl std::fmt::Debug for StoredPasskey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("StoredPasskey").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[test]
    fn the_relying_party_is_the_issuers_origin_and_never_an_ip_address() {
        let rp = relying_party(ISSUER, "t", false).expect("localhost");
        assert_eq!(rp.get_allowed_origins(), [Url::parse("https://localhost:8443").expect("url")]);
        assert!(relying_party("https://127.0.0.1:8443/t/w", "t", false).is_err_and(|e| e.contains("REG-OPT-02")));
        assert!(relying_party("https://[::1]:8443/t/w", "t", false).is_err());
    }

    #[test]
    fn registration_options_ask_for_a_discoverable_user_verified_passkey() {
        let f = fixture();
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "alice", register_purpose("s"), f.now).expect("options");
        let json = serde_json::to_value(&options).expect("json");
        let selection = &json["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "PK-01: {json}");
        assert_eq!(selection["requireResidentKey"], true, "PK-01");
        assert_eq!(selection["userVerification"], "required", "REG-OPT-05");
        assert_eq!(json["publicKey"]["rp"]["id"], "localhost", "REG-OPT-02");
        let handle = json["publicKey"]["user"]["id"].as_str().expect("user id");
        assert!(!handle.contains("alice") && !handle.contains("sub-1"), "REG-OPT-03: the user handle is opaque");
    }

    #[test]
    fn a_registered_passkey_signs_in_usernameless_and_counts_its_uses() {
        let f = fixture();
        let mut authenticator = Resident::new();
        let stored = f.register(&mut authenticator, "sub-1").expect("registered");
        assert_eq!(stored.flags(), CredentialFlags { backup_eligible: false, backed_up: false, counter: 0 });
        let response = authenticator.get(f.options("ix-1"));
        let (subject, amr) = f.finish("ix-1", &response).expect("signed in");
        assert_eq!((subject.as_str(), amr), ("sub-1", ["hwk", "user"]), "INT-PK-01");
        let account = f.passkeys.account(&f.records, WS, "sub-1").expect("store").expect("account");
        assert_eq!(account.passkeys[0].flags().counter, 1, "AUTH-11: the counter is kept");
        assert_eq!(account.passkeys[0].last_used_at, Some(f.now));
        // The second passkey of the same user: several per user (PK-04), and excluded from
        // the next registration's options (REG-OPT-05).
        let mut second = Resident::new();
        f.register(&mut second, "sub-1").expect("a second passkey");
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "alice", register_purpose("s"), f.now).expect("options");
        assert_eq!(options.public_key.exclude_credentials.map(|c| c.len()), Some(2));
    }

    #[test]
    fn a_sign_in_response_works_once_and_only_for_its_interaction() {
        let f = fixture();
        let mut authenticator = Resident::new();
        f.register(&mut authenticator, "sub-1").expect("registered");
        // INT-PK-03: made for interaction 1, posted to interaction 2 (which has its own challenge).
        let response = authenticator.get(f.options("ix-1"));
        f.options("ix-2");
        assert!(refusal(f.finish("ix-2", &response)).contains("AUTH-04"));
        // Interaction 1's ceremony is untouched by that, and works once.
        f.finish("ix-1", &response).expect("signed in");
        assert!(refusal(f.finish("ix-1", &response)).contains("no passkey sign-in is waiting"), "REG-03/AUTH-04: the challenge was spent");
        // Replayed into a fresh ceremony of the same interaction: another challenge.
        f.options("ix-1");
        assert!(refusal(f.finish("ix-1", &response)).contains("challenge"));
    }

    #[test]
    fn expired_challenges_are_refused() {
        let mut f = fixture();
        let mut authenticator = Resident::new();
        f.register(&mut authenticator, "sub-1").expect("registered");
        let response = authenticator.get(f.options("ix-1"));
        f.now += CEREMONY_LIFETIME + 1;
        assert!(refusal(f.finish("ix-1", &response)).contains("expired"));
    }

    #[test]
    fn the_user_handle_must_name_the_credentials_owner() {
        let f = fixture();
        let mut alice = Resident::new();
        let mut bob = Resident::new();
        f.register(&mut alice, "alice").expect("alice");
        f.register(&mut bob, "bob").expect("bob");
        // Alice's credential, presented with Bob's user handle (AUTH-02).
        let bob_handle = bob.credentials[0].1.clone();
        alice.credentials[0].1 = bob_handle;
        let response = alice.get(f.options("ix-1"));
        assert!(refusal(f.finish("ix-1", &response)).contains("AUTH-02"));
        // No user handle at all (AUTH-02: usernameless sign-in needs it).
        let mut response: serde_json::Value = serde_json::from_str(&bob.get(f.options("ix-2"))).expect("json");
        response["response"]["userHandle"] = serde_json::Value::Null;
        assert!(refusal(f.finish("ix-2", &response.to_string())).contains("AUTH-02"));
        // A user handle that names nobody.
        let mut response: serde_json::Value = serde_json::from_str(&bob.get(f.options("ix-3"))).expect("json");
        response["response"]["userHandle"] = serde_json::json!(URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes()));
        assert!(refusal(f.finish("ix-3", &response.to_string())).contains("not registered"));
    }

    #[test]
    fn a_changed_byte_breaks_the_signature() {
        let f = fixture();
        let mut authenticator = Resident::new();
        f.register(&mut authenticator, "sub-1").expect("registered");
        let mut response: serde_json::Value = serde_json::from_str(&authenticator.get(f.options("ix-1"))).expect("json");
        let data = response["response"]["authenticatorData"].as_str().expect("authData");
        let mut bytes = URL_SAFE_NO_PAD.decode(data).expect("b64");
        // The counter's last byte: flags and RP ID hash stay valid, only the signature breaks.
        bytes[36] ^= 0x40;
        response["response"]["authenticatorData"] = serde_json::json!(URL_SAFE_NO_PAD.encode(bytes));
        assert!(refusal(f.finish("ix-1", &response.to_string())).contains("AUTH-08"));
    }

    #[test]
    fn a_counter_that_goes_back_means_a_clone() {
        let f = fixture();
        let mut authenticator = Resident::new();
        f.register(&mut authenticator, "sub-1").expect("registered");
        let first = authenticator.get(f.options("ix-1"));
        let second = authenticator.get(f.options("ix-2"));
        f.finish("ix-2", &second).expect("counter 2");
        assert!(refusal(f.finish("ix-1", &first)).contains("AUTH-09"));
    }

    #[test]
    fn registration_needs_user_verification_and_a_fresh_credential() {
        let f = fixture();
        // REG-09: the authenticator was told verification is not needed, so UV is not set.
        let purpose = register_purpose("s1");
        let mut options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", purpose.clone(), f.now).expect("options");
        let public: &mut PublicKeyCredentialCreationOptions = &mut options.public_key;
        if let Some(selection) = public.authenticator_selection.as_mut() {
            selection.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
        }
        let mut unverified = Resident { inner: SoftPasskey::new(false), credentials: Vec::new() };
        let response = unverified.create(options);
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, "Key", &response, f.now)).contains("REG-09"));

        // REG-03: a registration response works once.
        let purpose = register_purpose("s2");
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", purpose.clone(), f.now).expect("options");
        let mut authenticator = Resident::new();
        let response = authenticator.create(options);
        f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, "Key", &response, f.now).expect("registered");
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, "Key", &response, f.now)).contains("REG-03"));

        // REG-15: a credential id that already names someone's passkey.
        let purpose = register_purpose("s3");
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-2", "b", purpose.clone(), f.now).expect("options");
        let mut other = Resident::new();
        let response = other.create(options);
        let id = credential_id_text(&other.credentials[0].0);
        f.records.put(Kind::PasskeyCredential, &plain_key(WS, &id), None, &Owner { subject: "sub-1".into() }).expect("index");
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-2", &purpose, "Key", &response, f.now)).contains("REG-15"));

        // Another session's registration ceremony does not finish this one's.
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-2", "b", register_purpose("s4"), f.now).expect("options");
        let response = Resident::new().create(options);
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-2", &register_purpose("s5"), "Key", &response, f.now)).contains("REG-03"));
    }

    #[test]
    fn registrations_started_together_share_the_users_handle() {
        let f = fixture();
        let (one, two) = (register_purpose("s1"), register_purpose("s2"));
        let first = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", one.clone(), f.now).expect("options");
        let second = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", two.clone(), f.now).expect("options");
        assert_eq!(first.public_key.user.id, second.public_key.user.id, "PK-02: one stable handle");
        let (mut a, mut b) = (Resident::new(), Resident::new());
        let (ra, rb) = (a.create(first), b.create(second));
        f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &two, "B", &rb, f.now).expect("second first");
        f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &one, "A", &ra, f.now).expect("then the first");
        for (i, authenticator) in [&mut a, &mut b].into_iter().enumerate() {
            let interaction = format!("ix-{i}");
            let response = authenticator.get(f.options(&interaction));
            assert_eq!(f.finish(&interaction, &response).expect("both sign in").0, "sub-1");
        }
    }

    #[test]
    fn names_are_checked_before_anything_is_spent() {
        let f = fixture();
        for name in ["", "   ", "tab\tname", "evil\u{202E}gnp.exe", "zero\u{200B}width", &"x".repeat(MAX_NAME_CHARS + 1)] {
            let purpose = register_purpose("s");
            let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", purpose.clone(), f.now).expect("options");
            let response = Resident::new().create(options);
            assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, name, &response, f.now)).contains("name"));
        }
    }

    #[test]
    fn a_removed_passkey_no_longer_signs_in() {
        let f = fixture();
        let mut authenticator = Resident::new();
        let stored = f.register(&mut authenticator, "sub-1").expect("registered");
        assert!(!f.passkeys.remove(&f.records, WS, "sub-2", &stored.id).expect("store"), "only its owner removes it");
        assert!(f.passkeys.remove(&f.records, WS, "sub-1", &stored.id).expect("store"));
        let response = authenticator.get(f.options("ix-1"));
        assert!(refusal(f.finish("ix-1", &response)).contains("removed"));
    }

    #[test]
    fn a_forgotten_user_leaves_nothing_behind() {
        let f = fixture();
        let mut authenticator = Resident::new();
        let stored = f.register(&mut authenticator, "sub-1").expect("registered");
        f.passkeys.forget_user(&f.records, WS, "sub-1").expect("forgotten");
        assert!(f.passkeys.account(&f.records, WS, "sub-1").expect("store").is_none());
        assert!(f.records.get::<Owner>(Kind::PasskeyCredential, &plain_key(WS, &stored.id)).expect("store").is_none());
        let response = authenticator.get(f.options("ix-1"));
        assert!(refusal(f.finish("ix-1", &response)).contains("not registered"));
    }

    #[test]
    fn synced_passkeys_prove_a_software_key() {
        assert_eq!(amr(true), ["swk", "user"]);
        assert_eq!(amr(false), ["hwk", "user"]);
    }

    #[test]
    fn unfinished_ceremonies_are_bounded() {
        let f = fixture();
        f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", register_purpose("s"), f.now).expect("options");
        for i in 0..MAX_CEREMONIES + 5 {
            f.options(&format!("ix-{i}"));
        }
        let ceremonies = f.passkeys.ceremonies.lock().expect("lock");
        assert_eq!(ceremonies.len(), MAX_CEREMONIES + 1);
        assert!(!ceremonies.contains_key(&sign_in_purpose("ix-0")), "the oldest went first");
        assert!(ceremonies.contains_key(&register_purpose("s")), "sign-in options do not push out registrations");
    }

    #[test]
    fn only_public_key_credentials_are_read() {
        let f = fixture();
        let mut authenticator = Resident::new();
        let purpose = register_purpose("s");
        let options = f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", purpose.clone(), f.now).expect("options");
        let mut response: serde_json::Value = serde_json::from_str(&authenticator.create(options)).expect("json");
        response["type"] = serde_json::json!("password");
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, "Key", &response.to_string(), f.now)).contains("REG-01"));
        f.passkeys.start_registration(&f.records, &f.rp, WS, "sub-1", "a", purpose.clone(), f.now).expect("options");
        assert!(refusal(f.passkeys.finish_registration(&f.records, &f.rp, WS, "sub-1", &purpose, "Key", "{\"id\": 1}", f.now)).contains("not a WebAuthn"));
    }
}
