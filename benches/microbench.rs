//! Criterion microbenchmarks of the per-request work that bounds throughput per core:
//! client-assertion verification, DPoP proof verification, access-token signing and
//! verification (ES256, PS256), the PAR store (SQLite, WAL) and argon2id password checks.
//!
//! Run with `cargo bench --bench microbench`; figures are recorded in BENCHMARKS.md.
//! Every benchmark calls the real code path (server and jose crates), never a copy.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use fapilab_jose::dpop::{self, ProofRequirements};
use fapilab_jose::jws::{self, CompactJws};
use fapilab_jose::{Algorithm, Jwks, SigningKey};
use fapilab_server::profiles::ProfileId;
use fapilab_server::protocol::client_assertion::{self, AssertionContext};
use fapilab_server::store::Kind;
use fapilab_server::store::Records;
use fapilab_server::store::records::{
    AccessTokenRecord, AuthorizationParams, Confirmation, PushedRequest, plain_key, secret_key,
};
use fapilab_server::store::sqlite::SqliteStore;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://as.example/t/w";
const TOKEN_ENDPOINT: &str = "https://as.example/t/w/token";
const RESOURCE_URL: &str = "https://rs.example/accounts";
const CLIENT_ID: &str = "client-1";
const WORKSPACE: &str = "t/w";
/// A fixed clock: the checks are sans-IO, so every iteration sees the same valid window.
const NOW: i64 = 1_800_000_000;

fn key(alg: Algorithm, kid: &str) -> SigningKey {
    SigningKey::generate(alg, Some(kid.into())).expect("key generation")
}

fn assertion(key: &SigningKey) -> String {
    let claims = json!({
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": ISSUER,
        "jti": "assertion-jti-0123456789",
        "iat": NOW,
        "exp": NOW + 60,
    });
    jws::sign(key, Map::new(), &claims).expect("sign assertion")
}

/// An RFC 9068 access token as `issuance::issue` mints it for a DPoP-bound client_credentials grant.
fn access_token_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": CLIENT_ID,
        "aud": "https://rs.example",
        "client_id": CLIENT_ID,
        "iat": NOW,
        "exp": NOW + 300,
        "jti": fapilab_jose::random_token(18),
        "scope": "accounts payments",
        "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" },
    })
}

fn at_header() -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("typ".into(), json!("at+jwt"));
    header
}

fn client_assertion(c: &mut Criterion) {
    let es = key(Algorithm::Es256, "es-1");
    let ps = key(Algorithm::Ps256, "ps-1");
    let jwks = Jwks::from_value(&json!({ "keys": [es.public_jwk().to_value(), ps.public_jwk().to_value()] }))
        .expect("client jwks");
    let policy = ProfileId::Fapi2SecurityProfile.policy();
    let ctx = AssertionContext { issuer: ISSUER, endpoint_urls: &[TOKEN_ENDPOINT], algorithms: policy.token_endpoint_auth_signing_algorithms, now: NOW };
    for (name, signer) in [("client_assertion/verify_es256", &es), ("client_assertion/verify_ps256", &ps)] {
        let token = assertion(signer);
        client_assertion::verify(&token, CLIENT_ID, &jwks, &policy, &ctx).expect("assertion verifies");
        c.bench_function(name, |b| {
            b.iter(|| client_assertion::verify(black_box(&token), CLIENT_ID, &jwks, &policy, &ctx).expect("verify"))
        });
    }
}

fn dpop_proof(c: &mut Criterion) {
    let holder = key(Algorithm::Es256, "dpop");
    let policy = ProfileId::Fapi2SecurityProfile.policy();
    let access_token = jws::sign(&key(Algorithm::Es256, "as"), at_header(), &access_token_claims()).expect("token");
    let cases = [
        ("dpop/verify_es256_token_request", TOKEN_ENDPOINT, None),
        ("dpop/verify_es256_with_ath", RESOURCE_URL, Some(access_token.as_str())),
    ];
    for (name, url, token) in cases {
        let proof = dpop::create_proof(&holder, "POST", url, token, None, NOW, "proof-jti-0123456789").expect("proof");
        let req = ProofRequirements {
            method: "POST",
            url,
            access_token: token,
            nonce: None,
            allowed_algs: policy.accepted_algorithms,
            now: NOW,
            max_future_skew: policy.max_future_skew.as_secs() as i64,
            max_age: policy.max_dpop_proof_age.as_secs() as i64,
        };
        dpop::verify_proof(&proof, &req).expect("proof verifies");
        c.bench_function(name, |b| b.iter(|| dpop::verify_proof(black_box(&proof), &req).expect("verify")));
    }
}

fn access_token(c: &mut Criterion) {
    let claims = access_token_claims();
    for (alg, label) in [(Algorithm::Es256, "es256"), (Algorithm::Ps256, "ps256")] {
        let signer = key(alg, "as-1");
        c.bench_function(&format!("access_token/sign_{label}"), |b| {
            b.iter(|| jws::sign(&signer, at_header(), black_box(&claims)).expect("sign"))
        });
        let token = jws::sign(&signer, at_header(), &claims).expect("sign");
        let public = signer.public_jwk();
        c.bench_function(&format!("access_token/parse_verify_{label}"), |b| {
            b.iter(|| {
                let parsed = CompactJws::parse(black_box(&token)).expect("parse");
                parsed.verify(&public).expect("verify");
                parsed
            })
        });
    }
}

fn pushed_request() -> PushedRequest {
    PushedRequest {
        client_id: CLIENT_ID.into(),
        params: AuthorizationParams {
            response_type: "code".into(),
            redirect_uri: "https://client.example/callback".into(),
            scope: "openid accounts".into(),
            state: Some("af0ifjsldkj-state-value".into()),
            nonce: Some("n-0S6_WzA2Mj-nonce-value".into()),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            code_challenge_method: "S256".into(),
            dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
            acr_values: None,
            essential_acr: None,
            max_age: None,
            prompt: None,
            response_mode: None,
        },
        expires_at: NOW + 60,
        used: false,
    }
}

/// A fresh SQLite file in the temp dir, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> TempDb {
        let path = std::env::temp_dir().join(format!("fapilab-microbench-{}.sqlite", std::process::id()));
        let db = TempDb(path);
        db.remove();
        db
    }
    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A handle shaped like `random_token(32)` (43 characters), unique per call.
fn handle(counter: &AtomicU64) -> String {
    format!("{:0>43}", counter.fetch_add(1, Ordering::Relaxed))
}

fn store(c: &mut Criterion) {
    let db = TempDb::new();
    let records = Records::new(Arc::new(SqliteStore::open(&db.0).expect("open sqlite")));
    let pushed = pushed_request();
    let counter = AtomicU64::new(0);

    // A table that already holds some traffic, so lookups walk a real B-tree.
    let mut preloaded = Vec::new();
    for _ in 0..10_000 {
        let key = plain_key(WORKSPACE, &handle(&counter));
        records.put(Kind::PushedRequest, &key, Some(NOW + 120), &pushed).expect("put");
        preloaded.push(key);
    }

    c.bench_function("store/par_insert", |b| {
        b.iter(|| {
            let key = plain_key(WORKSPACE, &handle(&counter));
            records.put(Kind::PushedRequest, &key, Some(NOW + 120), black_box(&pushed)).expect("put")
        })
    });

    let mut i = 0usize;
    c.bench_function("store/par_lookup", |b| {
        b.iter(|| {
            i = (i + 7919) % preloaded.len();
            let found: Option<PushedRequest> = records.get(Kind::PushedRequest, &preloaded[i]).expect("get");
            found.expect("present")
        })
    });

    // The consume path (authorization_response::consume): mark a fresh, unused request used.
    c.bench_function("store/par_consume_modify", |b| {
        b.iter_batched(
            || {
                let key = plain_key(WORKSPACE, &handle(&counter));
                records.put(Kind::PushedRequest, &key, Some(NOW + 120), &pushed).expect("put");
                key
            },
            |key| {
                let before = records
                    .modify::<PushedRequest>(Kind::PushedRequest, &key, |p| {
                        if p.used {
                            return false;
                        }
                        p.used = true;
                        true
                    })
                    .expect("modify");
                assert!(before.is_some_and(|p| !p.used));
            },
            BatchSize::SmallInput,
        )
    });

    // What issuance::issue writes per access token (keyed by the token's SHA-256).
    let record = AccessTokenRecord {
        grant_id: fapilab_jose::random_token(18),
        client_id: CLIENT_ID.into(),
        subject: None,
        scope: "accounts payments".into(),
        jti: fapilab_jose::random_token(18),
        cnf: Confirmation::Jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        issued_at: NOW,
        expires_at: NOW + 300,
        revoked: false,
    };
    c.bench_function("store/access_token_insert", |b| {
        b.iter(|| {
            let key = secret_key(WORKSPACE, &handle(&counter));
            records.put(Kind::AccessToken, &key, Some(NOW + 300), black_box(&record)).expect("put")
        })
    });
}

fn password(c: &mut Criterion) {
    let phc = fapilab_server::password::hash_in("correct horse battery staple", &mut Vec::new()).expect("hash");
    let mut memory = Vec::new();
    assert!(fapilab_server::password::verify_in("correct horse battery staple", &phc, &mut memory));
    c.bench_function("password/argon2id_verify_in", |b| {
        b.iter(|| fapilab_server::password::verify_in(black_box("correct horse battery staple"), &phc, &mut memory))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = microbench;
    config = config();
    targets = client_assertion, dpop_proof, access_token, store, password
}
criterion_main!(microbench);
