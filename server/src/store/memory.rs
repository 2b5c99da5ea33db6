//! An in-memory [`Store`] for unit tests and throwaway servers.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::{Kind, Store, StoreError, Update};

/// (kind, key) → (expiry, record).
type Table = HashMap<(Kind, String), (Option<i64>, Value)>;

#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<Table>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        match self.records.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Store for MemoryStore {
    fn put(&self, kind: Kind, key: &str, expires_at: Option<i64>, data: &Value) -> Result<(), StoreError> {
        self.lock().insert((kind, key.to_owned()), (expires_at, data.clone()));
        Ok(())
    }

    fn put_many(&self, writes: &[&super::batch::PendingWrite]) -> Result<(), StoreError> {
        let mut records = self.lock();
        for w in writes {
            records.insert((w.kind, w.key.clone()), (w.expires_at, w.data.clone()));
        }
        Ok(())
    }

    fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.lock().get(&(kind, key.to_owned())).map(|(_, v)| v.clone()))
    }

    fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(&(kind, key.to_owned())).is_some())
    }

    fn update(&self, kind: Kind, key: &str, decide: &mut dyn FnMut(&Value) -> Update) -> Result<Option<Value>, StoreError> {
        let mut records = self.lock();
        let id = (kind, key.to_owned());
        let Some((expires_at, before)) = records.get(&id).cloned() else { return Ok(None) };
        match decide(&before) {
            Update::Keep => {}
            Update::Replace(after) => {
                records.insert(id, (expires_at, after));
            }
            Update::Delete => {
                records.remove(&id);
            }
        }
        Ok(Some(before))
    }

    fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out: Vec<(String, Value)> = self
            .lock()
            .iter()
            .filter(|((k, key), _)| *k == kind && key.starts_with(prefix))
            .map(|((_, key), (_, v))| (key.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let mut records = self.lock();
        let before = records.len();
        records.retain(|_, (exp, _)| exp.is_none_or(|e| e >= now));
        Ok(before - records.len())
    }
}
