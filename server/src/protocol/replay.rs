//! Bounded, expiring replay caches for `jti` values (PKJ-04, DP-13).
//!
//! Single node, in memory: an entry lives until the moment after which the JWT it came from
//! would be refused anyway, so the cache holds one validity window of traffic. Expired entries
//! are swept every few seconds, so memory stays flat under a steady load. Keys are stored as
//! 128-bit digests (collisions are negligible; a collision would only refuse one fresh JWT).
//! When the cache is full of live entries it refuses new ones rather than forgetting live
//! ones: a replay must never be accepted because the cache was flooded.

use std::collections::HashMap;
use std::sync::Mutex;

/// How often (seconds) expired entries are swept out.
const SWEEP_INTERVAL: i64 = 5;

pub struct ReplayCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    entries: HashMap<u128, i64>,
    next_sweep: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    Full,
}

fn digest(key: &str) -> u128 {
    let hash = fapilab_jose::sha256(key.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        ReplayCache { inner: Mutex::new(Inner { entries: HashMap::new(), next_sweep: 0 }), capacity }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records `key` until `expires_at` (unix seconds) unless it is already live.
    pub fn check_and_insert(&self, key: String, expires_at: i64, now: i64) -> ReplayVerdict {
        let id = digest(&key);
        let mut inner = self.lock();
        if now >= inner.next_sweep {
            inner.entries.retain(|_, exp| *exp >= now);
            inner.next_sweep = now + SWEEP_INTERVAL;
        }
        if inner.entries.get(&id).is_some_and(|&exp| exp >= now) {
            return ReplayVerdict::Replayed;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.retain(|_, exp| *exp >= now);
            if inner.entries.len() >= self.capacity {
                return ReplayVerdict::Full;
            }
        }
        inner.entries.insert(id, expires_at);
        ReplayVerdict::Fresh
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// MS-AS-10 / CIBA-02: a signed request's `jti` is accepted once while the request is valid.
/// Uses the client-assertion cache, under keys of their own. `Err` says why (client-safe).
pub fn refuse_reused_request(
    state: &crate::state::AppState,
    ws: &crate::workspace::Workspace,
    client_id: &str,
    claims: &serde_json::Map<String, serde_json::Value>,
    now: i64,
) -> Result<(), &'static str> {
    let Some(jti) = claims.get("jti").and_then(serde_json::Value::as_str) else { return Ok(()) };
    let until = claims.get("exp").and_then(serde_json::Value::as_i64).unwrap_or(now + 3600);
    match state.assertion_replay.check_and_insert(format!("{}|request|{client_id}|{jti}", ws.key), until, now) {
        ReplayVerdict::Fresh => Ok(()),
        ReplayVerdict::Replayed => Err("this signed request (its jti) was already used"),
        ReplayVerdict::Full => Err("the server is at capacity; retry in a moment"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_caught_until_expiry() {
        let c = ReplayCache::new(10);
        assert_eq!(c.check_and_insert("a".into(), 100, 50), ReplayVerdict::Fresh);
        assert_eq!(c.check_and_insert("a".into(), 100, 60), ReplayVerdict::Replayed);
        assert_eq!(c.check_and_insert("a".into(), 200, 101), ReplayVerdict::Fresh);
    }

    #[test]
    fn a_full_cache_sweeps_then_refuses() {
        let c = ReplayCache::new(2);
        assert_eq!(c.check_and_insert("a".into(), 10, 0), ReplayVerdict::Fresh);
        assert_eq!(c.check_and_insert("b".into(), 100, 0), ReplayVerdict::Fresh);
        assert_eq!(c.check_and_insert("c".into(), 100, 4), ReplayVerdict::Full);
        assert_eq!(c.check_and_insert("c".into(), 100, 11), ReplayVerdict::Fresh);
        assert_eq!(c.len(), 2);
    }

    /// Under a steady load the cache holds one window of entries, not everything ever seen.
    #[test]
    fn expired_entries_are_swept_without_reaching_capacity() {
        let c = ReplayCache::new(1_000_000);
        for second in 0..100 {
            for n in 0..10 {
                assert_eq!(c.check_and_insert(format!("{second}-{n}"), second + 10, second), ReplayVerdict::Fresh);
            }
        }
        assert!(c.len() <= 10 * (10 + SWEEP_INTERVAL as usize + 1), "{} entries", c.len());
    }
}

