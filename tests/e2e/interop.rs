//! Interoperability: the independent, OpenID-certified client library `openid-client` (npm, v6)
//! completes PAR + PKCE + private_key_jwt + DPoP + userinfo against a server running in this
//! process — under the FAPI 2.0 Security Profile, under Message Signing with a signed request
//! object (JAR) and a JARM response, and under FAPI 1.0 Advanced with JAR + PAR + JARM and
//! mTLS-bound tokens. The client is `tests/interop/fapi2-client.mjs`; its dependencies are pinned by
//! `tests/interop/package-lock.json` and installed by `scripts/setup-test-deps.sh`.
//!
//! Missing dependencies fail the test (never skip it): an interop check that silently does not
//! run proves nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// Which flow the client runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// FAPI 2.0 Security Profile: PAR, PKCE, DPoP.
    SecurityProfile,
    /// FAPI 2.0 Message Signing: JAR inside PAR, JARM, DPoP.
    MessageSigning,
    /// FAPI 1.0 Advanced: JAR inside PAR, PKCE, JARM, mTLS endpoint aliases and bound tokens.
    Fapi1Advanced,
}

impl Flow {
    fn profile(self) -> fapilab_server::profiles::ProfileId {
        use fapilab_server::profiles::ProfileId;
        match self {
            Flow::SecurityProfile => ProfileId::Fapi2SecurityProfile,
            Flow::MessageSigning => ProfileId::Fapi2MessageSigning,
            Flow::Fapi1Advanced => ProfileId::Fapi1Advanced,
        }
    }
    fn client_id(self) -> &'static str {
        if self == Flow::Fapi1Advanced { "pkjwt-mtls-1" } else { "pkjwt-dpop-1" }
    }
}
const REDIRECT_URI: &str = "https://client.fapilab.test/callback";
const SCOPE: &str = "openid accounts";
/// Generous: a cold Node start plus two argon2id verifications on a busy 2-core machine.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory for this run: server data (store, keys, CA) and the client's config.
fn unique_temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("fapilab-e2e-interop-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temp dir");
    dir
}

fn require_node_dependencies() {
    let installed = repo_root().join("tests/interop/node_modules/openid-client/package.json");
    assert!(
        installed.is_file(),
        "the interop client's npm dependencies are not installed ({} is missing): \
         run `scripts/setup-test-deps.sh` from the repository root (it runs `npm ci --prefix tests/interop`)",
        installed.display()
    );
}

struct Outcome {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `node tests/interop/fapi2-client.mjs <config>` and collects its output, killing it past
/// the timeout. Blocking: call from `spawn_blocking`, so the in-process server keeps serving.
fn run_node_client(config: &Path, ca_file: &Path) -> Outcome {
    let mut child = Command::new("node")
        .arg("tests/interop/fapi2-client.mjs")
        .arg(config)
        .current_dir(repo_root())
        .env("NODE_EXTRA_CA_CERTS", ca_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node 20 must be on PATH): {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr is piped")));
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait for the killed node");
            let stderr = stderr.join().unwrap_or_default();
            panic!("the openid-client run did not finish within {CLIENT_TIMEOUT:?} ({status}); stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs the openid-client flow against a fresh server whose default workspace has `profile`;
/// returns the client's JSON summary after the checks every profile shares.
async fn run_flow(flow: Flow) -> serde_json::Value {
    require_node_dependencies();

    let dir = unique_temp_dir();
    let mut cfg = fapilab_server::Config::default();
    cfg.server.data_dir = dir.join("data");
    cfg.server.tls_port = 0;
    cfg.server.mtls_port = 0;
    cfg.tenants[0].workspaces[0].profile = flow.profile();
    let client_id = flow.client_id();
    let server = fapilab_server::start(cfg).await.expect("start the server");
    let issuer = server.workspace("default", "fapi2").expect("the default/fapi2 workspace").issuer.clone();
    let ca_file = server.ca_dir.ca_cert();
    let private_jwks = server.ca_dir.tpp_private_jwks(client_id);
    assert!(private_jwks.is_file(), "no private JWKS for {client_id} at {}", private_jwks.display());

    let config_path = dir.join("openid-client.json");
    let config = json!({
        "issuer": issuer,
        "client_id": client_id,
        "private_jwks_file": private_jwks,
        "ca_file": ca_file,
        "username": fapilab_server::config::DEFAULT_USER,
        "password": fapilab_server::config::DEFAULT_PASSWORD,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "message_signing": flow == Flow::MessageSigning,
        "fapi1_advanced": flow == Flow::Fapi1Advanced,
        "transport_cert_file": server.ca_dir.tpp_transport_cert(client_id),
        "transport_key_file": server.ca_dir.tpp_transport_key(client_id),
    });
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("serialize")).expect("write the client config");

    let outcome = tokio::task::spawn_blocking({
        let config_path = config_path.clone();
        let ca_file = ca_file.clone();
        move || run_node_client(&config_path, &ca_file)
    })
    .await
    .expect("the node runner panicked");

    assert!(
        outcome.status.success(),
        "openid-client did not complete the FAPI 2.0 flow against {issuer} ({}).\n\
         --- stdout ---\n{}\n--- stderr ---\n{}\n(server data and client config kept in {})",
        outcome.status,
        outcome.stdout,
        outcome.stderr,
        dir.display()
    );
    let summary: serde_json::Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("the client's summary is not JSON ({e}):\n{}", outcome.stdout));
    println!("openid-client summary:\n{summary:#}");
    assert_eq!(summary["ok"], true, "{summary:#}");
    assert_eq!(summary["issuer"], issuer.as_str(), "{summary:#}");
    let token_type = if flow == Flow::Fapi1Advanced { "bearer" } else { "dpop" };
    assert!(summary["token"]["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(token_type)), "{summary:#}");
    let sub = summary["id_token"]["sub"].as_str().expect("ID Token sub");
    assert_eq!(summary["userinfo"]["sub"], sub, "userinfo sub matches the ID Token: {summary:#}");
    let assertions = summary["client_assertions"].as_array().expect("client assertions recorded");
    assert!(assertions.len() >= 2, "a client assertion at PAR and at the token endpoint: {summary:#}");
    assert!(assertions.iter().all(|a| a["aud"] == issuer.as_str()), "FAPI2-SP-AS-08 aud: {summary:#}");
    if flow == Flow::Fapi1Advanced {
        let der = server.ca_dir.load_tpp(client_id).expect("the client's TPP bundle").transport.cert_der;
        assert_eq!(summary["token"]["cnf"]["x5t#S256"], fapilab_jose::sha256_b64url(&der).as_str(), "A-AS-06: bound to the certificate: {summary:#}");
    }

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    summary
}

#[tokio::test]
async fn openid_client_completes_par_pkce_private_key_jwt_dpop_userinfo() {
    let summary = run_flow(Flow::SecurityProfile).await;
    assert!(summary["authorization_response"]["iss"].as_str().is_some_and(|iss| summary["issuer"] == iss), "RFC 9207 iss: {summary:#}");
}

/// FAPI 2.0 Message Signing: openid-client signs the request object it pushes (JAR, MS-AS-01)
/// and verifies the JARM response before using the code (MS-JARM-CL-02).
#[tokio::test]
async fn openid_client_completes_a_message_signing_flow_with_jar_and_jarm() {
    let summary = run_flow(Flow::MessageSigning).await;
    assert_eq!(summary["authorization_response"]["jarm"], true, "{summary:#}");
}

/// FAPI 1.0 Advanced: openid-client pushes a signed request object with PKCE (A-AS-01,
/// A-AS-18), verifies the JARM response (A-JARM-01) and calls the mTLS endpoint aliases with
/// its certificate; the access token is bound to it (A-AS-06).
#[tokio::test]
async fn openid_client_completes_a_fapi1_advanced_flow_with_par_jar_jarm_and_mtls() {
    let summary = run_flow(Flow::Fapi1Advanced).await;
    assert_eq!(summary["authorization_response"]["jarm"], true, "{summary:#}");
}
