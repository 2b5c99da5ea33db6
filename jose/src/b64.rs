//! Base64url without padding, the only encoding JOSE uses for binary data.
//!
//! RFC 7515 §2 defines `BASE64URL(x)` as the URL- and filename-safe alphabet
//! of RFC 4648 §5 with all trailing `=` removed. Decoding here is strict:
//! padding, the standard alphabet (`+`, `/`), whitespace and non-zero unused
//! trailing bits are all rejected. Strictness matters for signatures: every
//! accepted string has exactly one byte sequence and vice versa, so no two
//! different compact serializations decode to the same JWS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::JoseError;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url, rejecting anything that is not its canonical
/// form.
pub fn decode(s: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| JoseError::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let text = encode(&data);
            assert!(!text.contains('='));
            assert_eq!(decode(&text).unwrap(), data);
        }
    }

    #[test]
    fn rfc7515_appendix_c_example() {
        assert_eq!(encode(&[3, 236, 255, 224, 193]), "A-z_4ME");
        assert_eq!(decode("A-z_4ME").unwrap(), vec![3, 236, 255, 224, 193]);
    }

    #[test]
    fn rejects_padding_standard_alphabet_and_noise() {
        assert_eq!(decode("AQ=="), Err(JoseError::Base64));
        assert_eq!(decode("A+z/4ME"), Err(JoseError::Base64));
        assert_eq!(decode("A-z_ 4ME"), Err(JoseError::Base64));
        assert_eq!(decode("A"), Err(JoseError::Base64));
        // "AR" decodes to 0x01 only with non-zero trailing bits: not canonical.
        assert_eq!(decode("AR"), Err(JoseError::Base64));
        assert_eq!(decode("AQ").unwrap(), vec![1]);
    }
}
