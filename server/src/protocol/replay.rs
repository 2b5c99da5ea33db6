//! Bounded, expiring replay caches for `jti` values (PKJ-04, DP-13).
//!
//! Single node, in memory: an entry lives until the moment after which the JWT it came from
//! would be refused anyway, so the cache never holds more than one validity window of traffic.
//! When it is full it refuses new entries rather than forgetting live ones: a replay must never
//! be accepted because the cache was flooded.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct ReplayCache {
    entries: Mutex<HashMap<String, i64>>,
    capacity: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    Full,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        ReplayCache { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// Records `key` until `expires_at` (unix seconds) unless it is already live.
    pub fn check_and_insert(&self, key: String, expires_at: i64, now: i64) -> ReplayVerdict {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(&exp) = entries.get(&key)
            && exp >= now {
                return ReplayVerdict::Replayed;
            }
        if entries.len() >= self.capacity {
            entries.retain(|_, exp| *exp >= now);
            if entries.len() >= self.capacity {
                return ReplayVerdict::Full;
            }
        }
        entries.insert(key, expires_at);
        ReplayVerdict::Fresh
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        assert_eq!(c.check_and_insert("c".into(), 100, 5), ReplayVerdict::Full);
        assert_eq!(c.check_and_insert("c".into(), 100, 11), ReplayVerdict::Fresh);
        assert_eq!(c.len(), 2);
    }
}
