//! Group commit for the hot write path: token records.
//!
//! Every token response writes at least one record. One SQLite transaction per record costs
//! more than the signature on the token, and doing it under the store's lock on an async worker
//! stalls every other request on that worker. [`BatchWriter`] hands records to one writer
//! thread, which commits whatever has queued up in a single transaction ([`Store::put_many`])
//! and then answers each caller. The caller awaits that answer before responding, so a token
//! is never handed out before its record is durable — batching changes the cost, not the
//! guarantee.

use std::sync::Arc;
use std::sync::mpsc;

use serde_json::Value;

use super::{Kind, Store, StoreError};

/// At most this many records per transaction (keeps one commit short).
const MAX_BATCH: usize = 256;

/// A record to write.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    pub kind: Kind,
    pub key: String,
    pub expires_at: Option<i64>,
    pub data: Value,
}

struct Job {
    write: PendingWrite,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The sending side; the writer thread ends when the last `BatchWriter` is dropped.
#[derive(Clone)]
pub struct BatchWriter {
    jobs: mpsc::Sender<Job>,
}

impl BatchWriter {
    pub fn start(store: Arc<dyn Store>) -> BatchWriter {
        let (jobs, queue) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("store-writer".into()).spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let writes: Vec<&PendingWrite> = batch.iter().map(|j| &j.write).collect();
                let outcome = store.put_many(&writes).map_err(|e| e.to_string());
                for job in batch {
                    let _ = job.done.send(outcome.clone());
                }
            }
        });
        if let Err(e) = spawned {
            // Without a thread the queue has no reader: every write fails with this reason
            // instead of hanging.
            tracing::error!(error = %e, "could not start the store writer thread");
        }
        BatchWriter { jobs }
    }

    /// Writes `writes` (in one transaction with whatever else is queued) and returns once they
    /// are committed.
    pub async fn write(&self, writes: Vec<PendingWrite>) -> Result<(), StoreError> {
        let mut answers = Vec::with_capacity(writes.len());
        for write in writes {
            let (done, answer) = tokio::sync::oneshot::channel();
            self.jobs.send(Job { write, done }).map_err(|_| StoreError::Backend("the store writer has stopped".into()))?;
            answers.push(answer);
        }
        for answer in answers {
            answer.await.map_err(|_| StoreError::Backend("the store writer has stopped".into()))?.map_err(StoreError::Backend)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use serde_json::json;

    #[tokio::test]
    async fn writes_are_committed_before_the_caller_resumes() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let writer = BatchWriter::start(store.clone());
        let many: Vec<_> = (0..50)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let w = PendingWrite { kind: Kind::AccessToken, key: format!("k{i}"), expires_at: Some(10), data: json!(i) };
                    writer.write(vec![w]).await
                })
            })
            .collect();
        for task in many {
            task.await.expect("task").expect("written");
        }
        for i in 0..50 {
            assert_eq!(store.get(Kind::AccessToken, &format!("k{i}")).expect("get"), Some(json!(i)));
        }
    }
}
