//! A registration response built by hand, following `shared/spec/passkeys.md` §6's recipe for
//! a software ES256 registration: a new P-256 key (aws-lc-rs), `none` attestation (ATT-NONE:
//! empty `attStmt`), authenticator data `SHA-256(rp.id) ‖ UP|UV|AT ‖ signCount 0 ‖ zero AAGUID
//! ‖ len(credId) ‖ credId ‖ COSE key`, and a `webauthn.create` `clientDataJSON` for the
//! options' challenge at the origin. The credential id is the caller's: the REG-15 test
//! registers one credential id twice, which no authenticator does on its own.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use webauthn_rs_proto::{
    AuthenticatorAttestationResponseRaw, CreationChallengeResponse, RegisterPublicKeyCredential, RegistrationExtensionsClientOutputs,
};

use super::authenticator::{FLAG_AT, FLAG_UP, FLAG_UV};
use super::cbor::{self, Item};

/// Flags of the hand-built authenticator data: user present and verified, attested credential
/// data; not backup-eligible (a device-bound key).
pub const FLAGS: u8 = FLAG_UP | FLAG_UV | FLAG_AT;

/// A fresh random credential id of 32 bytes (the recipe's 16–32).
pub fn new_credential_id() -> Result<Vec<u8>, String> {
    let mut id = vec![0u8; 32];
    SystemRandom::new().fill(&mut id).map_err(|_| "no randomness for a credential id".to_owned())?;
    Ok(id)
}

/// The COSE_Key of an uncompressed P-256 point (`0x04 ‖ x ‖ y`): `{1: 2 (EC2), 3: -7 (ES256),
/// -1: 1 (P-256), -2: x, -3: y}`, in CTAP2 canonical order.
fn cose_es256(point: &[u8]) -> Result<Vec<u8>, String> {
    if point.len() != 65 || point[0] != 0x04 {
        return Err("the ES256 public key is not an uncompressed P-256 point".into());
    }
    Ok(cbor::encode(&Item::Map(vec![
        (cbor::int(1), cbor::int(2)),
        (cbor::int(3), cbor::int(-7)),
        (cbor::int(-1), cbor::int(1)),
        (cbor::int(-2), Item::Bytes(&point[1..33])),
        (cbor::int(-3), Item::Bytes(&point[33..])),
    ])))
}

/// A registration response for `options` at `origin` whose credential is `credential_id` with
/// a new ES256 key.
pub fn registration(
    origin: &str,
    options: &CreationChallengeResponse,
    credential_id: &[u8],
) -> Result<RegisterPublicKeyCredential, String> {
    let id_len = u16::try_from(credential_id.len()).map_err(|_| "a credential id longer than 65535 bytes".to_owned())?;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).map_err(|_| "cannot make an ES256 key".to_owned())?;
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).map_err(|_| "cannot read the ES256 key".to_owned())?;
    let cose_key = cose_es256(key.public_key().as_ref())?;

    let o = &options.public_key;
    let mut auth_data = digest(&SHA256, o.rp.id.as_bytes()).as_ref().to_vec();
    auth_data.push(FLAGS);
    auth_data.extend(0u32.to_be_bytes());
    auth_data.extend([0u8; 16]);
    auth_data.extend(id_len.to_be_bytes());
    auth_data.extend_from_slice(credential_id);
    auth_data.extend(cose_key);
    let attestation_object = cbor::encode(&Item::Map(vec![
        (Item::Text("fmt"), Item::Text("none")),
        (Item::Text("attStmt"), Item::Map(Vec::new())),
        (Item::Text("authData"), Item::Bytes(&auth_data)),
    ]));
    let client_data_json = serde_json::to_vec(&serde_json::json!({
        "type": "webauthn.create",
        "challenge": fapilab_jose::b64::encode(&o.challenge),
        "origin": origin,
        "crossOrigin": false,
    }))
    .map_err(|e| e.to_string())?;
    Ok(RegisterPublicKeyCredential {
        id: fapilab_jose::b64::encode(credential_id),
        raw_id: credential_id.to_vec(),
        response: AuthenticatorAttestationResponseRaw { attestation_object, client_data_json, transports: None },
        type_: "public-key".into(),
        extensions: RegistrationExtensionsClientOutputs::default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::passkey::authenticator::{attestation_auth_data, cose_p256_point};
    use serde_json::{Value, json};

    fn options(challenge: &[u8]) -> CreationChallengeResponse {
        serde_json::from_value(json!({"publicKey": {
            "rp": {"name": "fapilab", "id": "localhost"},
            "user": {"id": fapilab_jose::b64::encode(&[3; 16]), "name": "alice", "displayName": "alice"},
            "challenge": fapilab_jose::b64::encode(challenge),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"},
            "attestation": "none"
        }}))
        .unwrap()
    }

    #[test]
    fn follows_the_recipe_with_the_given_credential_id() {
        let id = new_credential_id().unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_credential_id().unwrap());
        let reg = registration("https://localhost:8443", &options(&[9; 32]), &id).unwrap();
        assert_eq!(
            (reg.type_.as_str(), reg.raw_id.as_slice(), reg.id.clone()),
            ("public-key", id.as_slice(), fapilab_jose::b64::encode(&id))
        );

        let (object, used) = cbor::decode(&reg.response.attestation_object).unwrap();
        assert_eq!(used, reg.response.attestation_object.len());
        assert_eq!(object.text_member("fmt"), Some(&Item::Text("none")));
        assert_eq!(object.text_member("attStmt"), Some(&Item::Map(Vec::new())), "ATT-NONE: an empty attStmt");
        let data = attestation_auth_data(&reg.response.attestation_object).unwrap();
        assert_eq!(data.rp_id_hash, digest(&SHA256, b"localhost").as_ref());
        assert_eq!((data.flags, data.sign_count), (0x45, 0));
        assert_eq!(data.credential_id.as_deref(), Some(id.as_slice()));
        let cose = data.credential_public_key.unwrap();
        let (key, _) = cbor::decode(&cose).unwrap();
        assert_eq!(
            (key.int_member(1), key.int_member(3), key.int_member(-1)),
            (Some(&cbor::int(2)), Some(&cbor::int(-7)), Some(&cbor::int(1)))
        );
        assert_eq!(cose_p256_point(&cose).unwrap().len(), 65);

        let client_data: Value = serde_json::from_slice(&reg.response.client_data_json).unwrap();
        assert_eq!(
            client_data,
            json!({"type": "webauthn.create", "challenge": fapilab_jose::b64::encode(&[9; 32]), "origin": "https://localhost:8443", "crossOrigin": false})
        );
        // As the page posts it: base64url members.
        let posted: Value = serde_json::to_value(&reg).unwrap();
        assert_eq!(posted["rawId"], json!(fapilab_jose::b64::encode(&id)));
        assert!(posted["response"]["attestationObject"].is_string() && posted["response"]["clientDataJSON"].is_string());

        // The same credential id again: a new key, the same id.
        let again = registration("https://localhost:8443", &options(&[8; 32]), &id).unwrap();
        let second = attestation_auth_data(&again.response.attestation_object).unwrap();
        assert_eq!(second.credential_id.as_deref(), Some(id.as_slice()));
        assert_ne!(second.credential_public_key, attestation_auth_data(&reg.response.attestation_object).unwrap().credential_public_key);
    }
}
