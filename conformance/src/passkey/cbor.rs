//! Just enough CBOR (RFC 8949) to read what an authenticator sends: the attestation object
//! (`fmt`, `attStmt`, `authData`) and the COSE public key inside the authenticator data
//! (`shared/spec/passkeys.md` §1). Definite lengths only — CTAP2 canonical CBOR has no others.

/// One decoded data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// Major type 0.
    Unsigned(u64),
    /// Major type 1: the value is `-1 - n`.
    Negative(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Vec<Item<'a>>),
    Map(Vec<(Item<'a>, Item<'a>)>),
    /// Major type 7: `false` (20), `true` (21), `null` (22), …
    Simple(u8),
}

impl<'a> Item<'a> {
    /// The value of the map member whose key is the text `key`.
    pub fn text_member(&self, key: &str) -> Option<&Item<'a>> {
        match self {
            Item::Map(members) => members.iter().find(|(k, _)| *k == Item::Text(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value of the map member whose key is the integer `key` (COSE labels).
    pub fn int_member(&self, key: i64) -> Option<&Item<'a>> {
        let wanted = if key < 0 { Item::Negative(key.unsigned_abs() - 1) } else { Item::Unsigned(key.unsigned_abs()) };
        match self {
            Item::Map(members) => members.iter().find(|(k, _)| *k == wanted).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Item::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Decodes the item at the start of `data`; returns it and how many bytes it took.
pub fn decode(data: &[u8]) -> Result<(Item<'_>, usize), String> {
    decode_at(data, 0, 0)
}

const MAX_DEPTH: usize = 16;

fn decode_at(data: &[u8], pos: usize, depth: usize) -> Result<(Item<'_>, usize), String> {
    if depth > MAX_DEPTH {
        return Err("CBOR nested too deeply".into());
    }
    let first = *data.get(pos).ok_or("CBOR ends early")?;
    let major = first >> 5;
    let info = first & 0x1f;
    let (arg, mut next) = match info {
        0..=23 => (u64::from(info), pos + 1),
        24..=27 => {
            let len = 1usize << (info - 24);
            let bytes = data.get(pos + 1..pos + 1 + len).ok_or("CBOR ends inside a length")?;
            (bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)), pos + 1 + len)
        }
        _ => return Err(format!("CBOR item 0x{first:02x} has an indefinite or reserved length")),
    };
    let take = |next: usize, n: u64| -> Result<(&[u8], usize), String> {
        let n = usize::try_from(n).map_err(|_| "CBOR length too large")?;
        let end = next.checked_add(n).ok_or("CBOR length too large")?;
        data.get(next..end).map(|s| (s, end)).ok_or_else(|| "CBOR string longer than the data".to_owned())
    };
    let item = match major {
        0 => Item::Unsigned(arg),
        1 => Item::Negative(arg),
        2 => {
            let (s, end) = take(next, arg)?;
            next = end;
            Item::Bytes(s)
        }
        3 => {
            let (s, end) = take(next, arg)?;
            next = end;
            Item::Text(std::str::from_utf8(s).map_err(|_| "CBOR text is not UTF-8")?)
        }
        4 => {
            let mut items = Vec::new();
            for _ in 0..arg {
                let (item, end) = decode_at(data, next, depth + 1)?;
                items.push(item);
                next = end;
            }
            Item::Array(items)
        }
        5 => {
            let mut members = Vec::new();
            for _ in 0..arg {
                let (k, end) = decode_at(data, next, depth + 1)?;
                let (v, end) = decode_at(data, end, depth + 1)?;
                members.push((k, v));
                next = end;
            }
            Item::Map(members)
        }
        6 => return Err("CBOR tags are not expected here".into()),
        _ if info < 24 => Item::Simple(info),
        _ => return Err("CBOR floats and extended simple values are not expected here".into()),
    };
    Ok((item, next))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_maps_with_text_and_integer_keys() {
        // {"fmt": "none", "attStmt": {}, "authData": h'0102'}
        let data = [
            0xa3, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e', 0x67, b'a', b't', b't', b'S', b't', b'm', b't', 0xa0, 0x68, b'a',
            b'u', b't', b'h', b'D', b'a', b't', b'a', 0x42, 1, 2,
        ];
        let (item, used) = decode(&data).unwrap();
        assert_eq!(used, data.len());
        assert_eq!(item.text_member("fmt"), Some(&Item::Text("none")));
        assert_eq!(item.text_member("attStmt"), Some(&Item::Map(Vec::new())));
        assert_eq!(item.text_member("authData").and_then(Item::as_bytes), Some(&[1u8, 2][..]));
        // {1: 2, 3: -7, -2: h'aa'} followed by a trailing byte that is not part of it.
        let cose = [0xa3, 0x01, 0x02, 0x03, 0x26, 0x21, 0x41, 0xaa, 0xff];
        let (key, used) = decode(&cose).unwrap();
        assert_eq!(used, 8);
        assert_eq!(key.int_member(3), Some(&Item::Negative(6)));
        assert_eq!(key.int_member(-2).and_then(Item::as_bytes), Some(&[0xaa][..]));
        assert_eq!(key.int_member(-3), None);
    }

    #[test]
    fn refuses_truncated_and_indefinite_items() {
        assert!(decode(&[0x42, 1]).is_err());
        assert!(decode(&[0x5f]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[0x19, 0x01]).is_err());
    }
}
