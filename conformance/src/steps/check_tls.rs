//! `check_tls`: TLS handshakes with the target's endpoints (suite research §3.9;
//! FAPI2-SP-NET-02, NET-03, NET-06). For each distinct host and port: a handshake limited to
//! TLS 1.2 must negotiate an ECDHE + AEAD suite, and TLS 1.3 should work.
//!
//! rustls offers only recommended suites and cannot speak TLS 1.0/1.1, so refusals of old
//! versions and weak TLS 1.2 suites are checked with raw ClientHello probes
//! (`crate::tls_probe`), once per host and port.
//!
//! Params: `endpoints = ["authorization_endpoint", "token_endpoint", "resource", …]`
//! (metadata names, or "resource"); default: authorization, PAR, token (plain and mTLS
//! aliases) and the resource.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::StepRun;
use crate::conditions::tls;
use crate::context::ModuleContext;
use crate::model::Exchange;
use crate::tls_probe;

/// `(host, port)` of an https URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').map_or(Some(443), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((authority.to_owned(), 443)),
    }
}

/// One handshake; returns the negotiated suite name.
fn handshake(ca_pem: &[u8], host: &str, port: u16, version: &'static rustls::SupportedProtocolVersion) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("CA bundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("CA bundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("server name {host}: {e}"))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let addr = (host, port).to_socket_addrs().map_err(|e| format!("resolving {host}: {e}"))?.next().ok_or("no address")?;
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| format!("handshake: {e}"))?;
    }
    let suite = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).ok_or("no suite negotiated")?;
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    let _ = sock.flush();
    Ok(suite)
}

pub async fn run(ctx: &mut ModuleContext, step: &StepRun<'_>) {
    if !ctx.ensure_discovery().await {
        return;
    }
    let names: Vec<String> = match step.spec.params.get("endpoints").and_then(toml::Value::as_array) {
        Some(list) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        None => ["authorization_endpoint", "pushed_authorization_request_endpoint", "token_endpoint", "resource"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    let mut urls = Vec::new();
    for n in &names {
        if n == "resource" {
            urls.push(("resource".to_owned(), ctx.target.resource_url.clone()));
            continue;
        }
        if let Some(u) = ctx.meta(n) {
            urls.push((n.clone(), u));
        }
        if let Some(alias) =
            ctx.discovery.as_ref().and_then(|d| d.get("mtls_endpoint_aliases")).and_then(|a| a.get(n)).and_then(|v| v.as_str())
        {
            urls.push((format!("{n} (mTLS alias)"), alias.to_owned()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    let ca = ctx.target.ca_pem.clone();
    for (label, url) in urls {
        let Some((host, port)) = host_port(&url) else { continue };
        if !seen.insert((host.clone(), port)) {
            continue;
        }
        let mut results = Vec::new();
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let (h, c) = (host.clone(), ca.clone());
            let started = Instant::now();
            let r = tokio::task::spawn_blocking(move || handshake(&c, &h, port, version)).await.unwrap_or_else(|e| Err(e.to_string()));
            let label_v = if std::ptr::eq(version, &rustls::version::TLS12) { "TLS 1.2" } else { "TLS 1.3" };
            let index = ctx.http.record(Exchange {
                step: String::new(),
                method: "TLS".into(),
                url: format!("https://{host}:{port}/ ({label}, {label_v} only)"),
                request_headers: Vec::new(),
                request_body: None,
                status: None,
                response_headers: Vec::new(),
                response_body: r.as_ref().ok().map(|s| format!("negotiated {s}")),
                error: r.as_ref().err().cloned(),
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            results.push((r, index));
        }
        let (r12, i12) = &results[0];
        let (r13, i13) = &results[1];
        let endpoint = format!("{label} ({host}:{port})");
        ctx.push(tls::reachable(&endpoint, r12.is_ok() || r13.is_ok(), &[*i12, *i13]));
        ctx.push(tls::tls12(&endpoint, r12, &[*i12]));
        ctx.push(tls::tls13(&endpoint, r13, &[*i13]));
        let probes: [(&str, u16, &[u16]); 3] = [
            ("TLS 1.0", tls_probe::TLS10, tls_probe::GOOD_TLS12_SUITES),
            ("TLS 1.1", tls_probe::TLS11, tls_probe::GOOD_TLS12_SUITES),
            ("TLS 1.2 with RSA key exchange, CBC or 3DES suites", tls_probe::TLS12, tls_probe::WEAK_SUITES),
        ];
        for (what, version, suites) in probes {
            let h = host.clone();
            let started = Instant::now();
            let outcome = tokio::task::spawn_blocking(move || tls_probe::probe(&h, port, version, suites))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let index = ctx.http.record(Exchange {
                step: String::new(),
                method: "TLS".into(),
                url: format!("https://{host}:{port}/ ({label}, ClientHello offering only {what})"),
                request_headers: Vec::new(),
                request_body: None,
                status: None,
                response_headers: Vec::new(),
                response_body: outcome.as_ref().ok().map(|o| format!("{o:?}")),
                error: outcome.as_ref().err().cloned(),
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            ctx.push(tls::probe_refused(&endpoint, what, &outcome, &[index]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_and_port() {
        assert_eq!(host_port("https://localhost:8443/a"), Some(("localhost".into(), 8443)));
        assert_eq!(host_port("https://as.example/a"), Some(("as.example".into(), 443)));
        assert_eq!(host_port("https://[::1]:9/x"), Some(("::1".into(), 9)));
        assert_eq!(host_port("http://x"), None);
    }
}
