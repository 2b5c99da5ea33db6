//! Client assertions and DPoP proofs, made apart from the measured run so the generator
//! measures the server, not itself: all of them before the clock starts ([`presign`], for
//! `--requests`), or by signer threads that keep a bounded queue ahead of the workers
//! ([`start_pool`], for `--duration`). Every request gets its own assertion (`jti`) and proof.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fapilab_jose::SigningKey;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::BenchError;

/// One HTTP request of a unit that needs credentials.
#[derive(Debug, Clone)]
pub(crate) struct CallSpec {
    pub htm: &'static str,
    /// Exactly the URL the request goes to (no query).
    pub htu: String,
    pub assertion: bool,
    pub proof: bool,
    /// The access token a resource request presents (`ath`).
    pub access_token: Option<String>,
}

/// The signed credentials of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Creds {
    pub assertion: Option<String>,
    pub proof: Option<String>,
}

/// The credentials of one unit, one entry per [`CallSpec`].
pub(crate) type Bundle = Vec<Creds>;

/// What to sign for each unit, and with which keys.
pub(crate) struct Signer {
    pub client_id: String,
    /// The assertion's `aud`: the issuer.
    pub issuer: String,
    pub client_key: Option<Arc<SigningKey>>,
    pub dpop_key: Option<Arc<SigningKey>>,
    pub calls: Vec<CallSpec>,
}

impl Signer {
    /// Signatures one unit needs.
    pub fn signatures(&self) -> u32 {
        self.calls
            .iter()
            .map(|c| u32::from(c.assertion) + u32::from(c.proof))
            .sum()
    }

    pub fn sign(&self) -> Result<Bundle, BenchError> {
        self.calls
            .iter()
            .map(|c| {
                let assertion = if c.assertion {
                    Some(self.assertion()?)
                } else {
                    None
                };
                let proof = if c.proof {
                    Some(self.proof(c.htm, &c.htu, c.access_token.as_deref())?)
                } else {
                    None
                };
                Ok(Creds { assertion, proof })
            })
            .collect()
    }

    /// A `private_key_jwt` client assertion (RFC 7523; `aud` = the issuer, FAPI2-SP-AS-08),
    /// valid for 60 s.
    pub fn assertion(&self) -> Result<String, BenchError> {
        let key = self
            .client_key
            .as_ref()
            .ok_or_else(|| BenchError::Signing("the client has no assertion key".into()))?;
        let now = fapilab_jose::now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.client_id));
        claims.insert("sub".into(), json!(self.client_id));
        claims.insert("aud".into(), json!(self.issuer));
        claims.insert("jti".into(), json!(fapilab_jose::random_token(24)));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 60));
        fapilab_jose::jws::sign(key, Map::new(), &Value::Object(claims))
            .map_err(|e| BenchError::Signing(format!("client assertion: {e}")))
    }

    /// A DPoP proof for `htm` `htu` (with `ath` for a resource request).
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
    ) -> Result<String, BenchError> {
        let key = self
            .dpop_key
            .as_ref()
            .ok_or_else(|| BenchError::Signing("no DPoP key".into()))?;
        fapilab_jose::dpop::create_proof(
            key,
            htm,
            htu,
            access_token,
            None,
            fapilab_jose::now(),
            &fapilab_jose::random_token(16),
        )
        .map_err(|e| BenchError::Signing(format!("DPoP proof: {e}")))
    }
}

/// Signs `units` bundles on `threads` threads; returns them with the wall time it took.
pub(crate) fn presign(
    signer: &Signer,
    units: u64,
    threads: usize,
) -> Result<(Vec<Bundle>, Duration), BenchError> {
    let started = Instant::now();
    let units = usize::try_from(units)
        .map_err(|_| BenchError::Usage("too many requests to pre-sign".into()))?;
    if signer.signatures() == 0 {
        return Ok((vec![Vec::new(); units], started.elapsed()));
    }
    let threads = threads.clamp(1, units.max(1));
    let per = units.div_ceil(threads);
    let parts: Vec<Result<Vec<Bundle>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = per.min(units.saturating_sub(t * per));
                scope.spawn(move || (0..n).map(|_| signer.sign()).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Signing("a signer thread panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(units);
    for part in parts {
        all.extend(part?);
    }
    Ok((all, started.elapsed()))
}

/// Signer threads feeding a bounded queue.
pub(crate) struct Pool {
    pub threads: usize,
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<Result<(u64, Duration), BenchError>>>,
}

/// What a pool did.
pub(crate) struct PoolResult {
    pub units: u64,
    /// Summed busy time of the threads.
    pub busy: Duration,
}

/// Starts `threads` signer threads that keep up to `capacity` signed bundles queued.
pub(crate) fn start_pool(
    signer: Arc<Signer>,
    threads: usize,
    capacity: usize,
) -> (Pool, mpsc::Receiver<Bundle>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let threads = threads.max(1);
    let handles = (0..threads)
        .map(|_| {
            let (tx, stop, signer) = (tx.clone(), stop.clone(), signer.clone());
            std::thread::spawn(move || {
                let mut units = 0u64;
                let mut busy = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let bundle = signer.sign()?;
                    busy += t.elapsed();
                    units += 1;
                    if tx.blocking_send(bundle).is_err() {
                        break;
                    }
                }
                Ok((units, busy))
            })
        })
        .collect();
    (
        Pool {
            threads,
            stop,
            handles,
        },
        rx,
    )
}

impl Pool {
    /// Stops the threads (the queue's receiver must be dropped first, or they may wait on a
    /// full queue) and sums what they did.
    pub fn finish(self) -> Result<PoolResult, BenchError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = PoolResult {
            units: 0,
            busy: Duration::ZERO,
        };
        for h in self.handles {
            let (units, busy) = h
                .join()
                .unwrap_or_else(|_| Err(BenchError::Signing("a signer thread panicked".into())))?;
            result.units += units;
            result.busy += busy;
        }
        Ok(result)
    }
}

/// Where workers take the next unit's credentials from. `None`: no more units.
pub(crate) enum Source {
    /// `--requests N`: everything signed already (or nothing to sign).
    Presigned {
        items: Vec<Bundle>,
        next: AtomicUsize,
    },
    /// `--duration`, nothing to sign: endless.
    Unlimited,
    /// `--duration`: a signer pool's queue.
    Pool {
        rx: tokio::sync::Mutex<mpsc::Receiver<Bundle>>,
        count_from: Instant,
        waits: AtomicU64,
        wait_ns: AtomicU64,
    },
}

impl Source {
    pub fn pool(rx: mpsc::Receiver<Bundle>, count_from: Instant) -> Source {
        Source::Pool {
            rx: tokio::sync::Mutex::new(rx),
            count_from,
            waits: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
        }
    }

    pub async fn next(&self) -> Option<Bundle> {
        match self {
            Source::Presigned { items, next } => {
                items.get(next.fetch_add(1, Ordering::Relaxed)).cloned()
            }
            Source::Unlimited => Some(Vec::new()),
            Source::Pool {
                rx,
                count_from,
                waits,
                wait_ns,
            } => {
                if let Ok(b) = rx.lock().await.try_recv() {
                    return Some(b);
                }
                // The queue ran dry: signing is holding this worker back.
                let t = Instant::now();
                let b = rx.lock().await.recv().await;
                if t >= *count_from {
                    waits.fetch_add(1, Ordering::Relaxed);
                    wait_ns.fetch_add(
                        u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                }
                b
            }
        }
    }

    /// Starvation during the measured run: (waits, time waited).
    pub fn starvation(&self) -> (u64, Duration) {
        match self {
            Source::Pool { waits, wait_ns, .. } => (
                waits.load(Ordering::Relaxed),
                Duration::from_nanos(wait_ns.load(Ordering::Relaxed)),
            ),
            _ => (0, Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use fapilab_jose::Algorithm;

    fn signer() -> Signer {
        Signer {
            client_id: "c1".into(),
            issuer: "https://as.example/t".into(),
            client_key: Some(Arc::new(
                SigningKey::generate(Algorithm::Es256, Some("k".into())).unwrap(),
            )),
            dpop_key: Some(Arc::new(
                SigningKey::generate(Algorithm::Es256, None).unwrap(),
            )),
            calls: vec![
                CallSpec {
                    htm: "POST",
                    htu: "https://as.example/t/par".into(),
                    assertion: true,
                    proof: true,
                    access_token: None,
                },
                CallSpec {
                    htm: "GET",
                    htu: "https://rs.example/accounts".into(),
                    assertion: false,
                    proof: true,
                    access_token: Some("at".into()),
                },
            ],
        }
    }

    #[test]
    fn every_unit_gets_unique_credentials() {
        let s = signer();
        assert_eq!(s.signatures(), 3);
        let (bundles, _) = presign(&s, 5, 2).unwrap();
        assert_eq!(bundles.len(), 5);
        let mut jtis = std::collections::HashSet::new();
        for b in &bundles {
            assert_eq!(b.len(), 2);
            assert!(b[1].assertion.is_none());
            let a = fapilab_jose::jws::decode_unverified_claims(b[0].assertion.as_deref().unwrap())
                .unwrap();
            assert_eq!(a["aud"], "https://as.example/t");
            assert!(jtis.insert(a["jti"].as_str().unwrap().to_owned()));
            let p = fapilab_jose::jws::decode_unverified_claims(b[1].proof.as_deref().unwrap())
                .unwrap();
            assert_eq!(p["htm"], "GET");
            assert_eq!(p["ath"], fapilab_jose::dpop::ath("at"));
            assert!(jtis.insert(p["jti"].as_str().unwrap().to_owned()));
        }
    }

    #[tokio::test]
    async fn pool_feeds_and_stops() {
        let (pool, rx) = start_pool(Arc::new(signer()), 2, 4);
        let source = Source::pool(rx, Instant::now());
        for _ in 0..10 {
            assert_eq!(source.next().await.unwrap().len(), 2);
        }
        drop(source);
        let r = pool.finish().unwrap();
        assert!(r.units >= 10);
    }
}
