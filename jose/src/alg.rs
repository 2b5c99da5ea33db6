//! The JWS signature algorithms this crate accepts.
//!
//! FAPI 2.0 limits JWS algorithms to PS256, ES256 and EdDSA with Ed25519
//! (requirement FAPI2-SP-CR-02). RFC 8725 §3.1 asks libraries to let callers
//! allow-list algorithms; here the allow-list is the type itself: anything
//! else, including `none`, `HS256` and `RS256`, cannot be represented and is
//! refused while parsing (RFC 7518 §3.1 names; `EdDSA` from RFC 8037 §3.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::JoseError;
use crate::error::printable;

/// An accepted JWS `alg` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256; signatures are the 64-byte `r || s`
    /// (RFC 7518 §3.4).
    Es256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt
    /// (RFC 7518 §3.5).
    Ps256,
    /// EdDSA over Ed25519 (RFC 8037 §3.1).
    EdDsa,
}

impl Algorithm {
    /// Every accepted algorithm, in the order servers usually advertise them.
    pub const ALL: [Algorithm; 3] = [Algorithm::Ps256, Algorithm::Es256, Algorithm::EdDsa];

    /// The registered `alg` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Ps256 => "PS256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for Algorithm {
    type Err = JoseError;

    /// Case-sensitive, as `alg` values are (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Algorithm::Es256),
            "PS256" => Ok(Algorithm::Ps256),
            "EdDSA" => Ok(Algorithm::EdDsa),
            other => Err(JoseError::UnsupportedAlgorithm(printable(other))),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for name in [
            "none", "None", "RS256", "HS256", "es256", "EDDSA", "Ed25519", "ES384", "",
        ] {
            assert_eq!(
                name.parse::<Algorithm>(),
                Err(JoseError::UnsupportedAlgorithm(name.to_string())),
                "{name}"
            );
        }
        assert!(serde_json::from_str::<Algorithm>("\"RS256\"").is_err());
        let msg = "HS256".parse::<Algorithm>().unwrap_err().to_string();
        assert!(
            msg.contains("\"HS256\"") && msg.contains("FAPI2-SP-CR-02"),
            "{msg}"
        );
    }
}
