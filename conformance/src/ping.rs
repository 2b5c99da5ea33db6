//! The client's CIBA ping notification endpoint (OpenID CIBA Core §10.2; CIBA-08): an HTTPS
//! listener on `localhost` that the harness runs for one module, serving the certificate the
//! target names (`[ciba] notification_endpoint_cert_file`, trusted by the server). It records
//! every request — method, path, `Authorization` header, body — and answers as the module
//! asks: 204 (the answer CIBA recommends), 401, or a 302 redirect to another path of itself,
//! so a module can check that the server neither retries a final answer nor follows a redirect.
//!
//! A small HTTP/1.1 server of its own: one request per connection, `Connection: close`.

use std::sync::{Arc, Mutex};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Largest request head and body the listener reads: a notification is a few hundred bytes.
const MAX_REQUEST: usize = 64 * 1024;
/// The path of the notification endpoint; a redirect points at [`REDIRECT_PATH`].
pub const NOTIFY_PATH: &str = "/ciba/notify";
pub const REDIRECT_PATH: &str = "/ciba/redirected";

/// How the listener answers a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 204 No Content (CIBA Core §10.2).
    NoContent,
    /// 401: a final error the server must not retry.
    Unauthorized,
    /// 302 to [`REDIRECT_PATH`]: the server must not follow it.
    Redirect,
}

impl Answer {
    pub fn parse(s: &str) -> Option<Answer> {
        match s {
            "no_content" => Some(Answer::NoContent),
            "unauthorized" => Some(Answer::Unauthorized),
            "redirect" => Some(Answer::Redirect),
            _ => None,
        }
    }
}

/// One request the listener received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// A running listener; it stops when dropped.
pub struct Listener {
    /// The notification endpoint, `https://localhost:{port}/ciba/notify`.
    pub url: String,
    pub answer: Answer,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts a listener on 127.0.0.1 with the certificate chain and key (PEM).
    pub async fn start(cert_pem: &str, key_pem: &str, answer: Answer) -> Result<Listener, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the notification endpoint certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("the notification endpoint key: {e}"))?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the notification endpoint certificate and key: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let tcp = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("binding the notification endpoint: {e}"))?;
        let port = tcp.local_addr().map_err(|e| e.to_string())?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let base = format!("https://localhost:{port}");
        let location = format!("{base}{REDIRECT_PATH}");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                let log = Arc::clone(&log);
                let location = location.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let Some(request) = read_request(&mut tls).await else { return };
                    let reply = match (answer, request.path.as_str()) {
                        (Answer::Redirect, NOTIFY_PATH) => {
                            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        }
                        (Answer::Unauthorized, _) => "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                        _ => "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_owned(),
                    };
                    if let Ok(mut l) = log.lock() {
                        l.push(request);
                    }
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Ok(Listener { url: format!("{base}{NOTIFY_PATH}"), answer, received, task })
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Reads one request: the head up to the blank line, then `Content-Length` bytes of body.
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut request_line = head.split("\r\n").next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length = header("content-length").and_then(|l| l.parse::<usize>().ok()).unwrap_or(0).min(MAX_REQUEST);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    Some(Received { method, path, authorization: header("authorization"), body })
}
