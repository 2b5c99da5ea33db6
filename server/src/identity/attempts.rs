//! Counting recent events per key in a sliding window, in memory: codes sent, wrong codes,
//! wrong passwords. A restart forgets the counts; the windows are short anyway.
//!
//! Keys may come from the request (a typed-in identifier), so a map holds at most
//! [`MAX_KEYS`] keys: past that, new keys are not tracked (the ones already there still
//! count), and what is tracked never grows without bound.

use std::collections::HashMap;
use std::sync::Mutex;

pub const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Attempts {
    times: Mutex<HashMap<String, Vec<i64>>>,
}

impl Attempts {
    /// Events of `key` less than `window` seconds before `now`.
    pub fn count(&self, key: &str, window: i64, now: i64) -> usize {
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let count = match times.get_mut(key) {
            Some(t) => {
                t.retain(|at| now - at < window);
                t.len()
            }
            None => 0,
        };
        if count == 0 {
            times.remove(key);
        }
        count
    }

    /// Records an event of `key` at `now`; old events of every key (older than `window`) go.
    pub fn note(&self, key: &str, window: i64, now: i64) {
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        if times.len() >= MAX_KEYS {
            times.retain(|_, t| {
                t.retain(|at| now - at < window);
                !t.is_empty()
            });
        }
        if times.len() < MAX_KEYS || times.contains_key(key) {
            times.entry(key.to_owned()).or_default().push(now);
        }
    }

    /// Forgets `key`'s events (after it succeeded).
    pub fn clear(&self, key: &str) {
        self.times.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_count_within_their_window_only() {
        let a = Attempts::default();
        a.note("k", 10, 100);
        a.note("k", 10, 105);
        assert_eq!(a.count("k", 10, 109), 2);
        assert_eq!(a.count("k", 10, 110), 1, "the first left the window");
        assert_eq!(a.count("other", 10, 110), 0);
        a.clear("k");
        assert_eq!(a.count("k", 10, 110), 0);
    }

    #[test]
    fn request_chosen_keys_are_bounded() {
        let a = Attempts::default();
        for i in 0..MAX_KEYS + 10 {
            a.note(&format!("k{i}"), 60, 0);
        }
        assert_eq!(a.times.lock().expect("lock").len(), MAX_KEYS);
        assert_eq!(a.count("k0", 60, 1), 1, "a tracked key still counts");
        a.note("k0", 60, 2);
        assert_eq!(a.count("k0", 60, 3), 2);
        // Once the old events expire, room is made again.
        a.note("new", 60, 100);
        assert_eq!(a.count("new", 60, 101), 1);
    }
}
