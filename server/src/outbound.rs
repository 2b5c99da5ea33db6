//! The server's outbound HTTP, narrow on purpose: fetching a registered client's `jwks_uri`
//! (RFC 7591 §2; URLs under the workspace's accepted prefixes, checked at registration) and
//! CIBA ping notifications (CIBA §10.2) to a client's registered notification endpoint.
//! https only, no redirects followed, a short timeout, a small body limit. Trust: the
//! platform's roots plus the CA and `ca.trusted_client_ca_files`.

use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BYTES: usize = 64 * 1024;

pub struct Outbound {
    http: reqwest::Client,
}

impl Outbound {
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Outbound, String> {
        let roots = extra_roots.iter().filter_map(|c| reqwest::Certificate::from_der(c).ok());
        let http = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .https_only(true)
            .build()
            .map_err(|e| format!("building the outbound HTTP client: {e}"))?;
        Ok(Outbound { http })
    }

    /// CIBA §10.2 ping: `POST` `{"auth_req_id": …}` with the client's notification token.
    /// Redirects are not followed (FCIBA-12); the answer's status is returned as it is.
    pub async fn notify(&self, endpoint: &str, client_notification_token: &str, auth_req_id: &str) -> Result<u16, String> {
        let response = self
            .http
            .post(endpoint)
            .bearer_auth(client_notification_token)
            .json(&serde_json::json!({ "auth_req_id": auth_req_id }))
            .send()
            .await
            .map_err(|e| format!("notifying {endpoint}: {e}"))?;
        Ok(response.status().as_u16())
    }

    /// The JSON document at `url`; the caller checks it is a public key set.
    pub async fn fetch(&self, url: &str) -> Result<Value, String> {
        let mut response = self.http.get(url).header("accept", "application/json, application/jwk-set+json").send().await.map_err(|e| format!("could not fetch {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered HTTP {}", response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(format!("{url} returned more than {} KiB", MAX_BYTES / 1024));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} did not return JSON: {e}"))
    }
}
