//! Raw TLS ClientHello probes for what the harness's own TLS stack cannot offer.
//!
//! rustls speaks only TLS 1.2 and 1.3 with recommended suites, so it cannot ask a server
//! whether it would *accept* TLS 1.0, TLS 1.1 or a weak TLS 1.2 suite (FAPI2-SP-NET-02,
//! NET-03, NET-06). A probe sends a hand-built ClientHello offering exactly that and reads the
//! first record back: a ServerHello means the server accepted; an alert or a closed connection
//! means it refused. No handshake is ever completed and no key material is involved.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// TLS record and handshake constants (RFC 5246 §6.2.1, §7.4; RFC 8446 §4).
const RECORD_HANDSHAKE: u8 = 0x16;
const RECORD_ALERT: u8 = 0x15;
const HANDSHAKE_CLIENT_HELLO: u8 = 0x01;
const HANDSHAKE_SERVER_HELLO: u8 = 0x02;

pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;

/// Suites BCP 195 does not recommend, which every version can negotiate: RSA key exchange
/// and CBC modes (and 3DES).
pub const WEAK_SUITES: &[u16] = &[
    0xC013, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    0xC014, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xC009, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xC00A, // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0x009C, // TLS_RSA_WITH_AES_128_GCM_SHA256
    0x009D, // TLS_RSA_WITH_AES_256_GCM_SHA384
    0x002F, // TLS_RSA_WITH_AES_128_CBC_SHA
    0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
    0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
];

/// Recommended TLS 1.2 suites (ECDHE + AEAD): offered with an old version, they show whether
/// the version alone is refused.
pub const GOOD_TLS12_SUITES: &[u16] = &[0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The server answered with a ServerHello: it would go on with this version and suite.
    Accepted { version: u16, suite: u16 },
    /// The server answered with an alert (its description code) or closed the connection.
    Refused(String),
}

/// Builds a ClientHello offering `version` (as `client_version`, no `supported_versions`
/// extension, so TLS 1.3 is not on offer) and exactly `suites`.
pub fn client_hello(host: &str, version: u16, suites: &[u16]) -> Vec<u8> {
    let mut random = [0u8; 32];
    // Any bytes will do for a probe; fill them from the CSPRNG anyway.
    let _ = aws_lc_rs::rand::fill(&mut random);
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // session id
    let suite_bytes: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    push_u16(&mut body, suite_bytes.len());
    body.extend_from_slice(&suite_bytes);
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    if host.parse::<std::net::IpAddr>().is_err() {
        let name = host.as_bytes();
        let mut sni = Vec::new();
        push_u16(&mut sni, name.len() + 3);
        sni.push(0); // host_name
        push_u16(&mut sni, name.len());
        sni.extend_from_slice(name);
        extension(&mut extensions, 0x0000, &sni);
    }
    extension(&mut extensions, 0x000A, &[0x00, 0x06, 0x00, 0x1D, 0x00, 0x17, 0x00, 0x18]); // x25519, P-256, P-384
    extension(&mut extensions, 0x000B, &[0x01, 0x00]); // ec_point_formats: uncompressed
    extension(&mut extensions, 0x000D, &[0x00, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x01]); // ecdsa-p256, pss, pkcs1
    push_u16(&mut body, extensions.len());
    body.extend_from_slice(&extensions);

    let mut handshake = vec![HANDSHAKE_CLIENT_HELLO];
    push_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = vec![RECORD_HANDSHAKE];
    record.extend_from_slice(&TLS10.to_be_bytes()); // record layer version, as clients send it
    push_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

fn push_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u16).to_be_bytes());
}

fn push_u24(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_u16(out, data.len());
    out.extend_from_slice(data);
}

/// Reads the server's first record and classifies it.
pub fn classify(response: &[u8]) -> ProbeOutcome {
    match response {
        [] => ProbeOutcome::Refused("connection closed without an answer".into()),
        [RECORD_ALERT, _, _, _, _, _level, description, ..] => ProbeOutcome::Refused(format!("alert {description}")),
        [RECORD_HANDSHAKE, _, _, _, _, HANDSHAKE_SERVER_HELLO, _, _, _, v1, v2, rest @ ..] => {
            let version = u16::from_be_bytes([*v1, *v2]);
            // random (32), session id (length-prefixed), then the chosen suite.
            let Some(&sid_len) = rest.get(32) else { return ProbeOutcome::Refused("truncated ServerHello".into()) };
            let at = 33 + usize::from(sid_len);
            match (rest.get(at), rest.get(at + 1)) {
                (Some(a), Some(b)) => ProbeOutcome::Accepted { version, suite: u16::from_be_bytes([*a, *b]) },
                _ => ProbeOutcome::Refused("truncated ServerHello".into()),
            }
        }
        [kind, ..] => ProbeOutcome::Refused(format!("unexpected record type {kind}")),
    }
}

/// Sends one probe and waits (at most 10 s) for the answer. Blocking: call from a blocking task.
pub fn probe(host: &str, port: u16, version: u16, suites: &[u16]) -> Result<ProbeOutcome, String> {
    let addr = (host, port).to_socket_addrs().map_err(|e| format!("resolving {host}: {e}"))?.next().ok_or("no address")?;
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    sock.write_all(&client_hello(host, version, suites)).map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; 512];
    let mut filled = 0;
    // Enough of the first record to classify it: header + ServerHello up to the suite.
    while filled < 48 {
        match sock.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if filled == 0 => return Ok(ProbeOutcome::Refused(format!("connection reset: {e}"))),
            Err(_) => break,
        }
        if buf.first() == Some(&RECORD_ALERT) && filled >= 7 {
            break;
        }
    }
    Ok(classify(&buf[..filled]))
}

pub fn version_name(version: u16) -> &'static str {
    match version {
        TLS10 => "TLS 1.0",
        TLS11 => "TLS 1.1",
        TLS12 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "an unknown version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_lengths_are_consistent() {
        let hello = client_hello("as.example", TLS11, WEAK_SUITES);
        assert_eq!(hello[0], RECORD_HANDSHAKE);
        let record_len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(record_len, hello.len() - 5);
        let hs_len = (usize::from(hello[6]) << 16) | (usize::from(hello[7]) << 8) | usize::from(hello[8]);
        assert_eq!(hs_len, hello.len() - 9);
        assert_eq!(u16::from_be_bytes([hello[9], hello[10]]), TLS11);
    }

    /// A peer that answers any ClientHello with a canned ServerHello (TLS 1.0, a CBC suite) is
    /// reported as accepting; one that closes is reported as refusing.
    #[test]
    fn probes_a_live_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let peer = std::thread::spawn(move || {
            for answer_hello in [true, false] {
                let (mut conn, _) = listener.accept().expect("accept");
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                if answer_hello {
                    let mut hello = vec![0x16, 3, 1, 0, 42, 0x02, 0, 0, 38, 0x03, 0x01];
                    hello.extend_from_slice(&[9u8; 32]);
                    hello.extend_from_slice(&[0, 0xC0, 0x13, 0]);
                    conn.write_all(&hello).expect("write");
                }
            }
        });
        assert_eq!(probe("127.0.0.1", port, TLS10, WEAK_SUITES), Ok(ProbeOutcome::Accepted { version: TLS10, suite: 0xC013 }));
        assert!(matches!(probe("127.0.0.1", port, TLS10, WEAK_SUITES), Ok(ProbeOutcome::Refused(_))));
        peer.join().expect("peer");
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(&[]), ProbeOutcome::Refused("connection closed without an answer".into()));
        assert_eq!(classify(&[0x15, 3, 3, 0, 2, 2, 70]), ProbeOutcome::Refused("alert 70".into()));
        let mut hello = vec![0x16, 3, 3, 0, 60, 0x02, 0, 0, 56, 0x03, 0x01];
        hello.extend_from_slice(&[7u8; 32]);
        hello.push(0);
        hello.extend_from_slice(&[0xC0, 0x13]);
        assert_eq!(classify(&hello), ProbeOutcome::Accepted { version: TLS10, suite: 0xC013 });
        assert!(matches!(classify(&hello[..20]), ProbeOutcome::Refused(_)));
    }
}
