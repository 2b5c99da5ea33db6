//! The harness's passkey: a software authenticator that behaves like a discoverable
//! ("resident") one, so the harness can register a passkey and sign in usernameless without a
//! browser or hardware (`shared/spec/passkeys.md` §5, §6).
//!
//! `webauthn_authenticator_rs::softpasskey::SoftPasskey` makes real ES256 credentials (packed
//! self attestation, UP, UV when asked, a signature counter) but is not discoverable: it refuses
//! `requireResidentKey`, needs `allowCredentials` to sign, and returns no `userHandle`. This
//! wrapper is the discoverable part a passkey provider adds: per credential it keeps the RP ID
//! and the `user.id` of the creation options (PK-01, PK-02); a request with an empty
//! `allowCredentials` (AUTH-OPT-02) is answered with its resident credential for that RP ID,
//! and the answer carries the remembered user handle — which the assertion signature does not
//! cover (AUTH-08 signs `authenticatorData ‖ SHA-256(clientDataJSON)`), so this is exactly what
//! a resident authenticator returns. Like one (CTAP2 `authenticatorMakeCredential`), it refuses
//! to make a credential for an RP whose `excludeCredentials` names one it holds (REG-OPT-05),
//! and a new credential for an RP ID and user handle it holds a credential for replaces that
//! one: it keeps one discoverable credential per account and RP.
//!
//! The token is told that it verifies the user (`SoftPasskey::new(true)`): it sets UV exactly
//! when the options ask for `userVerification: "required"`, and leaves it unset for
//! `"preferred"` or `"discouraged"` — which the negative tests use (REG-09, AUTH-06).

use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use super::cbor::{self, Item};

/// Authenticator data flags (WebAuthn §6.1).
pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
pub const FLAG_BE: u8 = 0x08;
pub const FLAG_BS: u8 = 0x10;
pub const FLAG_AT: u8 = 0x40;

/// Authenticator data (WebAuthn §6.1): `rpIdHash ‖ flags ‖ signCount ‖ [attested credential data]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    pub rp_id_hash: Vec<u8>,
    pub flags: u8,
    pub sign_count: u32,
    /// With the AT flag: the credential id and its COSE public key (the CBOR bytes).
    pub credential_id: Option<Vec<u8>>,
    pub credential_public_key: Option<Vec<u8>>,
}

impl AuthenticatorData {
    pub fn parse(bytes: &[u8]) -> Result<AuthenticatorData, String> {
        if bytes.len() < 37 {
            return Err(format!("authenticator data of {} bytes (at least 37)", bytes.len()));
        }
        let flags = bytes[32];
        let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
        let (credential_id, credential_public_key) = if flags & FLAG_AT != 0 {
            // aaguid (16) ‖ credentialIdLength (2) ‖ credentialId ‖ COSE key
            let len_at = 37 + 16;
            let len = bytes.get(len_at..len_at + 2).ok_or("attested credential data ends early")?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let id = bytes.get(len_at + 2..len_at + 2 + len).ok_or("credential id ends early")?;
            let key_at = len_at + 2 + len;
            let (_, used) = cbor::decode(bytes.get(key_at..).unwrap_or_default())?;
            (Some(id.to_vec()), Some(bytes[key_at..key_at + used].to_vec()))
        } else {
            (None, None)
        };
        Ok(AuthenticatorData { rp_id_hash: bytes[..32].to_vec(), flags, sign_count, credential_id, credential_public_key })
    }
}

/// The `authData` of a CBOR attestation object (`fmt`, `attStmt`, `authData`).
pub fn attestation_auth_data(attestation_object: &[u8]) -> Result<AuthenticatorData, String> {
    let (object, _) = cbor::decode(attestation_object)?;
    let auth_data = object.text_member("authData").and_then(Item::as_bytes).ok_or("the attestation object has no authData")?;
    AuthenticatorData::parse(auth_data)
}

/// An EC2 P-256 COSE key as a SEC1 uncompressed point (`0x04 ‖ x ‖ y`).
pub fn cose_p256_point(cose_key: &[u8]) -> Result<Vec<u8>, String> {
    let (key, _) = cbor::decode(cose_key)?;
    let x = key.int_member(-2).and_then(Item::as_bytes).ok_or("the COSE key has no x")?;
    let y = key.int_member(-3).and_then(Item::as_bytes).ok_or("the COSE key has no y")?;
    if x.len() != 32 || y.len() != 32 {
        return Err("the COSE key is not a P-256 point".into());
    }
    Ok([&[0x04][..], x, y].concat())
}

/// What a discoverable authenticator keeps next to the private key of a credential it made.
#[derive(Debug, Clone)]
pub struct Resident {
    pub rp_id: String,
    pub credential_id: Vec<u8>,
    /// `user.id` of the creation options: returned as `userHandle` on every assertion.
    pub user_handle: Vec<u8>,
    /// The flags of the registration's authenticator data.
    pub flags: u8,
    /// The credential public key (SEC1 uncompressed P-256 point).
    pub public_key: Vec<u8>,
}

/// Why the authenticator made no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// `excludeCredentials` names this credential, which it holds for the RP
    /// (`InvalidStateError`, REG-OPT-05).
    Excluded(Vec<u8>),
    /// Anything else (options it cannot answer, a token error).
    Refused(String),
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::Excluded(id) => {
                write!(f, "the authenticator already holds excluded credential {} (InvalidStateError)", fapilab_jose::b64::encode(id))
            }
            RegisterError::Refused(why) => f.write_str(why),
        }
    }
}

/// The harness's software passkey provider (see the module documentation).
pub struct SoftAuthenticator {
    token: SoftPasskey,
    resident: Vec<Resident>,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        SoftAuthenticator::new()
    }
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator").field("resident", &self.resident).finish_non_exhaustive()
    }
}

fn parse_origin(origin: &str) -> Result<Url, String> {
    Url::parse(origin).map_err(|e| format!("origin {origin:?}: {e}"))
}

impl SoftAuthenticator {
    pub fn new() -> SoftAuthenticator {
        SoftAuthenticator { token: SoftPasskey::new(true), resident: Vec::new() }
    }

    /// The credentials it holds, oldest first.
    #[cfg(test)]
    pub fn residents(&self) -> &[Resident] {
        &self.resident
    }

    /// `navigator.credentials.create()` at `origin`: makes a credential for the options and
    /// keeps it as the resident credential of the options' RP and user, in place of the one it
    /// held for them.
    pub fn register(
        &mut self,
        origin: &str,
        options: CreationChallengeResponse,
    ) -> Result<(RegisterPublicKeyCredential, Resident), RegisterError> {
        let origin = parse_origin(origin).map_err(RegisterError::Refused)?;
        let mut options = options;
        let rp_id = options.public_key.rp.id.clone();
        let user_handle = options.public_key.user.id.to_vec();
        if let Some(excluded) = options.public_key.exclude_credentials.as_ref()
            && let Some(held) =
                excluded.iter().find(|c| self.resident.iter().any(|r| r.rp_id == rp_id && r.credential_id == c.id.as_slice()))
        {
            return Err(RegisterError::Excluded(held.id.to_vec()));
        }
        // The token cannot store resident keys: this wrapper keeps the discoverable part.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.require_resident_key = false;
        }
        let credential = self
            .token
            .do_registration(origin, options)
            .map_err(|e| RegisterError::Refused(format!("the software authenticator refused: {e:?}")))?;
        let auth_data = attestation_auth_data(&credential.response.attestation_object).map_err(RegisterError::Refused)?;
        let credential_id = auth_data
            .credential_id
            .clone()
            .ok_or_else(|| RegisterError::Refused("the registration has no attested credential data".into()))?;
        let public_key = cose_p256_point(auth_data.credential_public_key.as_deref().unwrap_or_default()).map_err(RegisterError::Refused)?;
        let resident = Resident { rp_id, credential_id, user_handle, flags: auth_data.flags, public_key };
        // CTAP2: one discoverable credential per RP ID and user handle; the new one replaces it.
        self.resident.retain(|r| !(r.rp_id == resident.rp_id && r.user_handle == resident.user_handle));
        self.resident.push(resident.clone());
        Ok((credential, resident))
    }

    /// `navigator.credentials.get()` at `origin`: signs the options' challenge with `pick`
    /// (a credential id: the account the user chooses), else with the newest resident
    /// credential for the RP ID that `allowCredentials` allows — every one when it is empty
    /// (a usernameless request). The assertion carries the credential's user handle.
    pub fn authenticate(
        &mut self,
        origin: &str,
        options: RequestChallengeResponse,
        pick: Option<&[u8]>,
    ) -> Result<PublicKeyCredential, String> {
        let origin = parse_origin(origin)?;
        let mut options = options;
        let rp_id = options.public_key.rp_id.clone();
        let allowed = &options.public_key.allow_credentials;
        let candidates: Vec<&Resident> = self
            .resident
            .iter()
            .filter(|r| r.rp_id == rp_id && (allowed.is_empty() || allowed.iter().any(|a| a.id == r.credential_id)))
            .collect();
        let chosen = match pick {
            Some(id) => candidates
                .iter()
                .find(|r| r.credential_id == id)
                .copied()
                .ok_or_else(|| format!("the authenticator holds no credential {} usable for {rp_id}", fapilab_jose::b64::encode(id)))?,
            None => candidates.last().copied().ok_or_else(|| format!("the authenticator holds no credential for {rp_id}"))?,
        };
        let chosen = chosen.clone();
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: chosen.credential_id.clone(), transports: None }];
        let mut assertion =
            self.token.do_authentication(origin, options).map_err(|e| format!("the software authenticator refused: {e:?}"))?;
        assertion.response.user_handle = Some(chosen.user_handle);
        Ok(assertion)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_lc_rs::digest::{SHA256, digest};
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
    use serde_json::{Value, json};

    const ORIGIN: &str = "https://localhost:8443";

    fn b64(bytes: &[u8]) -> String {
        fapilab_jose::b64::encode(bytes)
    }

    /// Creation options as the contract's server sends them (passkey: resident key and user
    /// verification required, `none` attestation).
    fn creation(user_id: &[u8], challenge: &[u8], exclude: &[&[u8]]) -> Value {
        json!({"publicKey": {
            "rp": {"name": "fapilab", "id": "localhost"},
            "user": {"id": b64(user_id), "name": "alice", "displayName": "alice"},
            "challenge": b64(challenge),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
            "timeout": 300000,
            "excludeCredentials": exclude.iter().map(|id| json!({"type": "public-key", "id": b64(id)})).collect::<Vec<_>>(),
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"},
            "attestation": "none"
        }})
    }

    fn request(challenge: &[u8]) -> Value {
        json!({"publicKey": {"challenge": b64(challenge), "timeout": 300000, "rpId": "localhost", "allowCredentials": [], "userVerification": "required"}})
    }

    /// Serialises, parses back into the proto type and serialises again: the same JSON.
    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> Value {
        let json = serde_json::to_value(value).unwrap();
        let back: T = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        json
    }

    fn client_data(json: &Value, member: &str) -> Value {
        let raw = fapilab_jose::b64::decode(json["response"][member].as_str().unwrap()).unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    fn bytes(json: &Value, member: &str) -> Vec<u8> {
        fapilab_jose::b64::decode(json["response"][member].as_str().unwrap()).unwrap()
    }

    #[test]
    fn registers_then_signs_in_usernameless_with_the_user_handle() {
        let mut a = SoftAuthenticator::new();
        let user = [7u8; 16];
        let options: CreationChallengeResponse = serde_json::from_value(creation(&user, &[1; 32], &[])).unwrap();
        let (credential, resident) = a.register(ORIGIN, options).unwrap();
        let reg = round_trip(&credential);
        assert_eq!(reg["type"], "public-key");
        let cd = client_data(&reg, "clientDataJSON");
        assert_eq!((cd["type"].as_str(), cd["challenge"].as_str()), (Some("webauthn.create"), Some(b64(&[1; 32]).as_str())));
        assert!(cd["origin"].as_str().unwrap().starts_with(ORIGIN), "{cd}");
        let auth_data = attestation_auth_data(&bytes(&reg, "attestationObject")).unwrap();
        assert_eq!(auth_data.rp_id_hash, digest(&SHA256, b"localhost").as_ref());
        assert_eq!(auth_data.flags & (FLAG_UP | FLAG_UV | FLAG_AT), FLAG_UP | FLAG_UV | FLAG_AT, "UP, UV and AT for a passkey");
        assert_eq!(auth_data.flags & (FLAG_BE | FLAG_BS), 0, "not backup-eligible: a device-bound key");
        assert_eq!(auth_data.credential_id.as_deref(), Some(resident.credential_id.as_slice()));
        assert_eq!(fapilab_jose::b64::decode(reg["rawId"].as_str().unwrap()).unwrap(), resident.credential_id);
        assert_eq!((resident.rp_id.as_str(), resident.user_handle.as_slice()), ("localhost", &user[..]));

        // Usernameless: the request names no credential; the answer names the resident one
        // and carries the user handle.
        let options: RequestChallengeResponse = serde_json::from_value(request(&[2; 32])).unwrap();
        let assertion = a.authenticate(ORIGIN, options, None).unwrap();
        let get = round_trip(&assertion);
        assert_eq!(fapilab_jose::b64::decode(get["rawId"].as_str().unwrap()).unwrap(), resident.credential_id);
        assert_eq!(bytes(&get, "userHandle"), user);
        let cd = client_data(&get, "clientDataJSON");
        assert_eq!((cd["type"].as_str(), cd["challenge"].as_str()), (Some("webauthn.get"), Some(b64(&[2; 32]).as_str())));
        let data = bytes(&get, "authenticatorData");
        let parsed = AuthenticatorData::parse(&data).unwrap();
        assert_eq!(parsed.flags & (FLAG_UP | FLAG_UV), FLAG_UP | FLAG_UV);
        assert!(parsed.sign_count > 0 && parsed.credential_id.is_none());
        // AUTH-08: the signature verifies over authenticatorData ‖ SHA-256(clientDataJSON)
        // with the registered key, and one changed byte breaks it.
        let signed = [data.as_slice(), digest(&SHA256, &bytes(&get, "clientDataJSON")).as_ref()].concat();
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &resident.public_key);
        key.verify(&signed, &bytes(&get, "signature")).expect("a valid assertion");
        let mut tampered = signed.clone();
        tampered[33] ^= 0x01;
        assert!(key.verify(&tampered, &bytes(&get, "signature")).is_err());
    }

    #[test]
    fn user_verification_follows_the_options() {
        let mut a = SoftAuthenticator::new();
        let mut options = creation(&[3; 16], &[4; 32], &[]);
        options["publicKey"]["authenticatorSelection"]["userVerification"] = json!("discouraged");
        let (credential, resident) = a.register(ORIGIN, serde_json::from_value(options).unwrap()).unwrap();
        let auth_data = attestation_auth_data(&credential.response.attestation_object).unwrap();
        assert_eq!(auth_data.flags & FLAG_UV, 0, "REG-09: no user verification when discouraged");
        assert_eq!(resident.flags & FLAG_UP, FLAG_UP);
        let mut request = request(&[5; 32]);
        request["publicKey"]["userVerification"] = json!("discouraged");
        let assertion = a.authenticate(ORIGIN, serde_json::from_value(request).unwrap(), None).unwrap();
        let flags = AuthenticatorData::parse(&assertion.response.authenticator_data).unwrap().flags;
        assert_eq!(flags & (FLAG_UP | FLAG_UV), FLAG_UP, "AUTH-06: no user verification when discouraged");
    }

    #[test]
    fn picks_the_chosen_credential_and_honours_exclusions() {
        let mut a = SoftAuthenticator::new();
        let (_, first) = a.register(ORIGIN, serde_json::from_value(creation(&[1; 16], &[1; 32], &[])).unwrap()).unwrap();
        let (_, second) = a.register(ORIGIN, serde_json::from_value(creation(&[2; 16], &[2; 32], &[])).unwrap()).unwrap();
        assert_eq!(a.residents().len(), 2);
        let newest = a.authenticate(ORIGIN, serde_json::from_value(request(&[9; 32])).unwrap(), None).unwrap();
        assert_eq!((newest.raw_id.clone(), newest.response.user_handle.clone()), (second.credential_id.clone(), Some(vec![2; 16])));
        let picked = a.authenticate(ORIGIN, serde_json::from_value(request(&[9; 32])).unwrap(), Some(&first.credential_id)).unwrap();
        assert_eq!((picked.raw_id.clone(), picked.response.user_handle.clone()), (first.credential_id.clone(), Some(vec![1; 16])));
        // A username-first request naming only the first credential gets the first.
        let mut named = request(&[9; 32]);
        named["publicKey"]["allowCredentials"] = json!([{"type": "public-key", "id": b64(&first.credential_id)}]);
        let answer = a.authenticate(ORIGIN, serde_json::from_value(named).unwrap(), None).unwrap();
        assert_eq!(answer.raw_id, first.credential_id);
        // Another RP ID: nothing to sign with.
        let mut other = request(&[9; 32]);
        other["publicKey"]["rpId"] = json!("other.example");
        assert!(
            a.authenticate("https://other.example", serde_json::from_value(other).unwrap(), None).unwrap_err().contains("no credential")
        );
        // excludeCredentials naming a held credential: no new credential (REG-OPT-05).
        let err = a.register(ORIGIN, serde_json::from_value(creation(&[1; 16], &[3; 32], &[&first.credential_id])).unwrap()).unwrap_err();
        assert_eq!(err, RegisterError::Excluded(first.credential_id.clone()));
        assert!(err.to_string().contains("excluded"), "{err}");
        assert_eq!(a.residents().len(), 2);
    }

    #[test]
    fn a_new_credential_for_the_same_account_replaces_the_old_one() {
        let mut a = SoftAuthenticator::new();
        let (_, old) = a.register(ORIGIN, serde_json::from_value(creation(&[1; 16], &[1; 32], &[])).unwrap()).unwrap();
        let (_, other_user) = a.register(ORIGIN, serde_json::from_value(creation(&[2; 16], &[2; 32], &[])).unwrap()).unwrap();
        // The same RP ID and user handle, the old credential not excluded: CTAP2 overwrites it.
        let (_, new) = a.register(ORIGIN, serde_json::from_value(creation(&[1; 16], &[3; 32], &[])).unwrap()).unwrap();
        assert_ne!(new.credential_id, old.credential_id);
        let held: Vec<&[u8]> = a.residents().iter().map(|r| r.credential_id.as_slice()).collect();
        assert_eq!(held, vec![other_user.credential_id.as_slice(), new.credential_id.as_slice()]);
        let err = a.authenticate(ORIGIN, serde_json::from_value(request(&[9; 32])).unwrap(), Some(&old.credential_id)).unwrap_err();
        assert!(err.contains("no credential"), "{err}");
        let answer = a.authenticate(ORIGIN, serde_json::from_value(request(&[9; 32])).unwrap(), Some(&new.credential_id)).unwrap();
        assert_eq!(answer.response.user_handle, Some(vec![1; 16]));
        // Another RP ID with the same user handle is another account: kept side by side.
        let mut elsewhere = creation(&[1; 16], &[4; 32], &[]);
        elsewhere["publicKey"]["rp"]["id"] = json!("login.localhost");
        a.register("https://login.localhost", serde_json::from_value(elsewhere).unwrap()).unwrap();
        assert_eq!(a.residents().len(), 3);
    }

    #[test]
    fn authenticator_data_parser_reads_the_flags_and_counter() {
        let mut data = vec![0u8; 32];
        data.extend([FLAG_UP | FLAG_UV | FLAG_BE, 0, 0, 1, 2]);
        let parsed = AuthenticatorData::parse(&data).unwrap();
        assert_eq!((parsed.flags, parsed.sign_count, parsed.credential_id), (FLAG_UP | FLAG_UV | FLAG_BE, 258, None));
        assert!(AuthenticatorData::parse(&data[..36]).is_err());
        data[32] |= FLAG_AT;
        assert!(AuthenticatorData::parse(&data).is_err(), "AT without attested credential data");
    }
}
