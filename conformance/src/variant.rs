//! Test variants: client authentication × sender constraint × OpenID (FAPI2-SP §0).

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Variant {
    pub client_auth: ClientAuth,
    pub sender: Sender,
    pub openid: OpenId,
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

impl Variant {
    /// All eight variants, in a stable order.
    pub fn all() -> Vec<Variant> {
        let mut all = Vec::new();
        for client_auth in ClientAuth::ALL {
            for sender in Sender::ALL {
                for openid in OpenId::ALL {
                    all.push(Variant { client_auth, sender, openid });
                }
            }
        }
        all
    }

    /// Parses a filter like `client_auth=mtls,sender=dpop,openid=plain_oauth`. Missing axes
    /// match every value; the result is every variant that matches.
    pub fn filter(spec: &str) -> Result<Vec<Variant>, String> {
        let mut client_auth = None;
        let mut sender = None;
        let mut openid = None;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected axis=value"))?;
            match key.trim() {
                "client_auth" => {
                    client_auth = Some(ClientAuth::ALL.into_iter().find(|v| v.as_str() == value.trim()).ok_or_else(|| {
                        format!("client_auth={value}: expected private_key_jwt or mtls")
                    })?)
                }
                "sender" | "sender_constrain" => {
                    sender = Some(
                        Sender::ALL
                            .into_iter()
                            .find(|v| v.as_str() == value.trim())
                            .ok_or_else(|| format!("sender={value}: expected dpop or mtls"))?,
                    )
                }
                "openid" => {
                    openid = Some(OpenId::ALL.into_iter().find(|v| v.as_str() == value.trim()).ok_or_else(|| {
                        format!("openid={value}: expected openid_connect or plain_oauth")
                    })?)
                }
                other => return Err(format!("unknown variant axis {other:?}: expected client_auth, sender or openid")),
            }
        }
        Ok(Variant::all()
            .into_iter()
            .filter(|v| client_auth.is_none_or(|c| c == v.client_auth))
            .filter(|v| sender.is_none_or(|s| s == v.sender))
            .filter(|v| openid.is_none_or(|o| o == v.openid))
            .collect())
    }

    /// `client_auth=…,sender=…,openid=…`
    pub fn label(&self) -> String {
        format!("client_auth={},sender={},openid={}", self.client_auth.as_str(), self.sender.as_str(), self.openid.as_str())
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
    }
}
