//! The embedded default store: one SQLite file in the data dir.
//!
//! One connection behind a mutex: statements are short, and serialising them makes
//! [`Store::update`] atomic without transactions spanning await points. WAL mode keeps
//! readers of the file (backups, `sqlite3`) from blocking us. Statements are prepared once and
//! cached on the connection (a hot path: every token request writes here).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::{Kind, Store, StoreError, Update};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(backend)?;
        }
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS records (
                 kind TEXT NOT NULL,
                 key TEXT NOT NULL,
                 expires_at INTEGER,
                 data TEXT NOT NULL,
                 PRIMARY KEY (kind, key)
             );
             CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at);",
        )
        .map_err(backend)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn parse(kind: Kind, key: &str, text: String) -> Result<Value, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        kind: kind.as_str(),
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

impl Store for SqliteStore {
    fn put(&self, kind: Kind, key: &str, expires_at: Option<i64>, data: &Value) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare_cached(
                "INSERT INTO records (kind, key, expires_at, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data",
            )
            .map_err(backend)?;
        statement.execute(params![kind.as_str(), key, expires_at, data.to_string()]).map_err(backend)?;
        Ok(())
    }

    fn put_many(&self, writes: &[&super::batch::PendingWrite]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(backend)?;
        {
            let mut statement = tx
                .prepare_cached(
                    "INSERT INTO records (kind, key, expires_at, data) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kind, key) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data",
                )
                .map_err(backend)?;
            for w in writes {
                statement.execute(params![w.kind.as_str(), w.key, w.expires_at, w.data.to_string()]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached("SELECT data FROM records WHERE kind = ?1 AND key = ?2").map_err(backend)?;
        let text: Option<String> =
            statement.query_row(params![kind.as_str(), key], |row| row.get(0)).optional().map_err(backend)?;
        text.map(|t| parse(kind, key, t)).transpose()
    }

    fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute("DELETE FROM records WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key])
            .map_err(backend)?;
        Ok(n > 0)
    }

    fn update(&self, kind: Kind, key: &str, decide: &mut dyn FnMut(&Value) -> Update) -> Result<Option<Value>, StoreError> {
        let conn = self.lock();
        let row: Option<(String, Option<i64>)> = conn
            .prepare_cached("SELECT data, expires_at FROM records WHERE kind = ?1 AND key = ?2")
            .map_err(backend)?
            .query_row(params![kind.as_str(), key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(backend)?;
        let Some((text, expires_at)) = row else { return Ok(None) };
        let before = parse(kind, key, text)?;
        match decide(&before) {
            Update::Keep => {}
            Update::Replace(after) => {
                conn.prepare_cached("UPDATE records SET data = ?3, expires_at = ?4 WHERE kind = ?1 AND key = ?2")
                    .map_err(backend)?
                    .execute(params![kind.as_str(), key, after.to_string(), expires_at])
                    .map_err(backend)?;
            }
            Update::Delete => {
                conn.execute("DELETE FROM records WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key])
                    .map_err(backend)?;
            }
        }
        Ok(Some(before))
    }

    fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let conn = self.lock();
        // `substr` instead of LIKE: a prefix is matched literally, `%` and `_` included.
        let mut statement = conn
            .prepare_cached("SELECT key, data FROM records WHERE kind = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key")
            .map_err(backend)?;
        let rows = statement
            .query_map(params![kind.as_str(), prefix], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (key, text) = row.map_err(backend)?;
            let value = parse(kind, &key, text)?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        self.lock()
            .execute("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at < ?1", params![now])
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("fapilab-store-{}", fapilab_jose::random_token(8)));
        let path = dir.join("store.sqlite");
        {
            let s = SqliteStore::open(&path).expect("open");
            s.put(Kind::Grant, "g1", Some(100), &json!({"a": 1})).expect("put");
        }
        let s = SqliteStore::open(&path).expect("reopen");
        assert_eq!(s.get(Kind::Grant, "g1").expect("get"), Some(json!({"a": 1})));
        assert_eq!(s.purge_expired(101).expect("purge"), 1);
        assert_eq!(s.get(Kind::Grant, "g1").expect("get"), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn list_matches_the_prefix_literally() {
        let s = SqliteStore::in_memory().expect("open");
        s.put(Kind::RegisteredClient, "t/w|a", None, &json!(1)).expect("put");
        s.put(Kind::RegisteredClient, "t/w|b", None, &json!(2)).expect("put");
        s.put(Kind::RegisteredClient, "t/w2|c", None, &json!(3)).expect("put");
        s.put(Kind::Grant, "t/w|d", None, &json!(4)).expect("put");
        let keys: Vec<String> = s.list(Kind::RegisteredClient, "t/w|").expect("list").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["t/w|a", "t/w|b"]);
        assert!(s.list(Kind::RegisteredClient, "t/%").expect("list").is_empty());
    }

    #[test]
    fn put_many_is_one_transaction() {
        use crate::store::batch::PendingWrite;
        let s = SqliteStore::in_memory().expect("open");
        let a = PendingWrite { kind: Kind::AccessToken, key: "a".into(), expires_at: None, data: json!(1) };
        let b = PendingWrite { kind: Kind::RefreshToken, key: "b".into(), expires_at: Some(5), data: json!(2) };
        s.put_many(&[&a, &b]).expect("batch");
        assert_eq!(s.get(Kind::AccessToken, "a").expect("get"), Some(json!(1)));
        assert_eq!(s.get(Kind::RefreshToken, "b").expect("get"), Some(json!(2)));
    }

    #[test]
    fn update_is_read_decide_write() {
        let s = SqliteStore::in_memory().expect("open");
        s.put(Kind::Code, "c", None, &json!({"used": false})).expect("put");
        let before = s
            .update(Kind::Code, "c", &mut |v| {
                let mut v = v.clone();
                v["used"] = json!(true);
                Update::Replace(v)
            })
            .expect("update");
        assert_eq!(before, Some(json!({"used": false})));
        assert_eq!(s.get(Kind::Code, "c").expect("get"), Some(json!({"used": true})));
        assert_eq!(s.update(Kind::Code, "missing", &mut |_| Update::Delete).expect("update"), None);
    }
}
