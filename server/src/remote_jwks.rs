//! Fetching a registered client's `jwks_uri` (RFC 7591 §2): the only outbound HTTP the server
//! makes, so it is narrow on purpose — https only, URLs under the workspace's accepted
//! prefixes (checked at registration), no redirects, a short timeout and a small body limit.
//! Trust: the platform's roots plus the CA and `ca.trusted_client_ca_files`.

use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BYTES: usize = 64 * 1024;

pub struct JwksFetcher {
    http: reqwest::Client,
}

impl JwksFetcher {
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<JwksFetcher, String> {
        let roots = extra_roots.iter().filter_map(|c| reqwest::Certificate::from_der(c).ok());
        let http = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .https_only(true)
            .build()
            .map_err(|e| format!("building the jwks_uri client: {e}"))?;
        Ok(JwksFetcher { http })
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
