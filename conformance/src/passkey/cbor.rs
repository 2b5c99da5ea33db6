//! Just enough CBOR (RFC 8949) to read what an authenticator sends — the attestation object
//! (`fmt`, `attStmt`, `authData`) and the COSE public key inside the authenticator data
//! (`shared/spec/passkeys.md` §1) — and to write the same for a registration built by hand.
//! Definite lengths only — CTAP2 canonical CBOR has no others.

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

/// Encodes `item` with definite lengths and the shortest argument encodings (RFC 8949 §4.2.1);
/// map members in the order given (the caller orders them canonically).
pub fn encode(item: &Item<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(item, &mut out);
    out
}

fn head(major: u8, arg: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match arg {
        0..=23 => out.push(major | arg as u8),
        24..=0xff => out.extend([major | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend((arg as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend(arg.to_be_bytes());
        }
    }
}

fn encode_into(item: &Item<'_>, out: &mut Vec<u8>) {
    match item {
        Item::Unsigned(n) => head(0, *n, out),
        Item::Negative(n) => head(1, *n, out),
        Item::Bytes(b) => {
            head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Item::Text(t) => {
            head(3, t.len() as u64, out);
            out.extend_from_slice(t.as_bytes());
        }
        Item::Array(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| encode_into(i, out));
        }
        Item::Map(members) => {
            head(5, members.len() as u64, out);
            for (k, v) in members {
                encode_into(k, out);
                encode_into(v, out);
            }
        }
        Item::Simple(n) => head(7, u64::from(*n), out),
    }
}

/// The CBOR integer `n` (major type 0 or 1).
pub fn int(n: i64) -> Item<'static> {
    if n < 0 { Item::Negative(n.unsigned_abs() - 1) } else { Item::Unsigned(n.unsigned_abs()) }
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
    fn writes_what_it_reads() {
        // The attestation object of the first test, byte for byte.
        let object = Item::Map(vec![
            (Item::Text("fmt"), Item::Text("none")),
            (Item::Text("attStmt"), Item::Map(Vec::new())),
            (Item::Text("authData"), Item::Bytes(&[1, 2])),
        ]);
        let expected = [
            0xa3, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e', 0x67, b'a', b't', b't', b'S', b't', b'm', b't', 0xa0, 0x68, b'a',
            b'u', b't', b'h', b'D', b'a', b't', b'a', 0x42, 1, 2,
        ];
        assert_eq!(encode(&object), expected);
        // COSE labels and the length boundaries of the argument encodings.
        let cose = Item::Map(vec![(int(1), int(2)), (int(3), int(-7)), (int(-1), int(1)), (int(-2), Item::Bytes(&[0xaa]))]);
        assert_eq!(encode(&cose), [0xa4, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x41, 0xaa]);
        for n in [0u64, 23, 24, 255, 256, 65_535, 65_536, u64::from(u32::MAX), u64::from(u32::MAX) + 1, u64::MAX] {
            let bytes = encode(&Item::Unsigned(n));
            assert_eq!(decode(&bytes).unwrap(), (Item::Unsigned(n), bytes.len()));
        }
        assert_eq!(encode(&Item::Unsigned(24)), [0x18, 24]);
        assert_eq!(encode(&int(-257)), [0x39, 0x01, 0x00]);
        let long = vec![7u8; 300];
        let bytes = encode(&Item::Bytes(&long));
        assert_eq!(&bytes[..3], &[0x59, 0x01, 0x2c]);
        assert_eq!(decode(&bytes).unwrap(), (Item::Bytes(&long), 303));
        let nested = Item::Array(vec![Item::Simple(21), Item::Text("é"), Item::Map(vec![(int(-3), Item::Array(Vec::new()))])]);
        let bytes = encode(&nested);
        assert_eq!(decode(&bytes).unwrap(), (nested, bytes.len()));
    }

    #[test]
    fn refuses_truncated_and_indefinite_items() {
        assert!(decode(&[0x42, 1]).is_err());
        assert!(decode(&[0x5f]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[0x19, 0x01]).is_err());
    }
}
