//! Group commit: one writer thread applies the store's write operations, each in its own redb
//! write transaction committed without a sync ([`Durability::None`]), and makes a whole batch
//! durable with one synced commit before it answers any caller of the batch.
//!
//! Operations that arrive together (up to [`MAX_BATCH`]) therefore share one `fsync` instead of
//! paying one each, while each keeps its own transaction: a conflict or error aborts that
//! operation alone and answers only its caller. No caller hears `Ok` before the sync that makes
//! its write durable has returned. (redb refuses savepoints in a transaction once a table is open,
//! so the batch is a run of non-durable commits closed by a durable one rather than one
//! transaction with a savepoint per operation; redb guarantees that a durable commit persists
//! every non-durable commit before it.)
//!
//! Reads see a non-durable commit as soon as it is made, before its batch is synced. A crash in
//! that window loses the batch's writes, none of which were acknowledged.

use crate::db::db_err;
use redb::{Database, Durability, WriteTransaction};
use rollcall_domain::ports::{StoreError, StoreResult};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Most operations one sync covers; a longer queue is served in several batches.
pub const MAX_BATCH: usize = 256;

/// Operations waiting for the writer; senders wait (asynchronously) when it is full.
const QUEUE: usize = 4096;

/// Answers one operation's caller once the batch's sync is known: `None` if it succeeded.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// One queued operation: runs its transaction and returns how to answer its caller, and whether
/// it committed (a batch of failures needs no sync).
type Job = Box<dyn FnOnce(&Database) -> (Reply, bool) + Send>;

/// The handle the store's clones share. Dropping the last one stops the writer thread and waits
/// for it, so the database file is closed (and can be opened again) when the store is gone.
#[derive(Clone)]
pub(crate) struct Writer(Arc<Inner>);

struct Inner {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Counters>,
}

/// What the writer has done so far.
#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    syncs: AtomicU64,
}

/// Writes committed and syncs made since the store was opened: their ratio is the mean batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Write operations committed.
    pub writes: u64,
    /// Durable (synced) commits made for them.
    pub syncs: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the loop once the queued operations are done.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Starts the writer thread of `db`.
    pub(crate) fn start(db: Arc<Database>) -> Result<Writer, StoreError> {
        let (queue, jobs) = mpsc::channel::<Job>(QUEUE);
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        let thread = std::thread::Builder::new()
            .name("rollcall-store-writer".into())
            .spawn(move || run(&db, jobs, &counters))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer: {e}")))?;
        Ok(Writer(Arc::new(Inner {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        })))
    }

    /// What the writer has done so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            writes: self.0.stats.writes.load(Ordering::Relaxed),
            syncs: self.0.stats.syncs.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` in a write transaction of its own and answers once that write is durable;
    /// `f`'s error aborts the transaction and is answered as is.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |db| {
            let result = apply(db, f);
            let committed = result.is_ok();
            let reply: Reply = Box::new(move |sync_failure| {
                let result = match (result, sync_failure) {
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (result, _) => result,
                };
                let _ = answer.send(result);
            });
            (reply, committed)
        });
        let stopped = || StoreError::Unavailable("the store writer has stopped".into());
        let queue = self.0.queue.as_ref().ok_or_else(stopped)?;
        queue.send(job).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| {
            StoreError::Unavailable("the store writer dropped the operation (it panicked)".into())
        })?
    }
}

/// One operation in its own transaction, committed without a sync.
fn apply<T>(db: &Database, f: impl FnOnce(&WriteTransaction) -> StoreResult<T>) -> StoreResult<T> {
    let mut tx = db.begin_write().map_err(db_err)?;
    tx.set_durability(Durability::None)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    match f(&tx) {
        Ok(v) => {
            tx.commit().map_err(db_err)?;
            Ok(v)
        }
        Err(e) => {
            if let Err(abort) = tx.abort() {
                tracing::warn!(error = %abort, "aborting a store transaction failed");
            }
            Err(e)
        }
    }
}

/// The writer loop: waits for an operation, takes whatever else is queued (up to [`MAX_BATCH`]),
/// applies each, syncs once, answers every caller of the batch.
fn run(db: &Database, mut jobs: mpsc::Receiver<Job>, stats: &Counters) {
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        let mut committed = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            // A panicking operation drops its reply (its caller gets an error) and its
            // transaction (aborted); the writer goes on with the others.
            match std::panic::catch_unwind(AssertUnwindSafe(|| job(db))) {
                Ok((reply, ok)) => {
                    replies.push(reply);
                    committed += u64::from(ok);
                }
                Err(_) => tracing::error!("a store write panicked; it was aborted"),
            }
            if replies.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        let sync = if committed > 0 {
            stats.writes.fetch_add(committed, Ordering::Relaxed);
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            sync(db).err()
        } else {
            None
        };
        if let Some(e) = &sync {
            tracing::error!(error = %e, writes = replies.len(), "the store could not make a batch durable");
        }
        for reply in replies.drain(..) {
            reply(sync.as_ref());
        }
    }
}

/// Makes every commit so far durable: an empty transaction committed with a sync.
fn sync(db: &Database) -> StoreResult<()> {
    let tx = db.begin_write().map_err(db_err)?;
    tx.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    fn put(key: u64, fail: bool) -> impl FnOnce(&WriteTransaction) -> StoreResult<u64> {
        move |tx| {
            let mut table = tx.open_table(T).map_err(db_err)?;
            table.insert(key, key * 10).map_err(db_err)?;
            if fail {
                return Err(StoreError::Unavailable(format!("write {key} refused")));
            }
            Ok(key)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_that_arrive_together_share_syncs_and_a_failure_aborts_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("w.redb")).unwrap());
        let writer = Writer::start(db.clone()).unwrap();
        let tasks: Vec<_> = (0..400u64)
            .map(|k| {
                let w = writer.clone();
                tokio::spawn(async move { w.write(put(k, k % 7 == 0)).await })
            })
            .collect();
        for (k, task) in (0..400u64).zip(tasks) {
            let result = task.await.unwrap();
            if k % 7 == 0 {
                assert_eq!(
                    result,
                    Err(StoreError::Unavailable(format!("write {k} refused")))
                );
            } else {
                assert_eq!(result, Ok(k));
            }
        }
        let stats = writer.stats();
        assert_eq!(
            stats.writes,
            (0..400u64).filter(|k| k % 7 != 0).count() as u64
        );
        assert!(
            stats.syncs < stats.writes,
            "{stats:?}: concurrent writes shared syncs"
        );

        let read = db.begin_read().unwrap();
        let table = read.open_table(T).unwrap();
        for k in 0..400u64 {
            let got = table.get(k).unwrap().map(|v| v.value());
            assert_eq!(got, (k % 7 != 0).then_some(k * 10), "key {k}");
        }
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let db = Arc::new(
            Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .unwrap(),
        );
        let writer = Writer::start(db).unwrap();
        let panicked = writer
            .write(|_tx| -> StoreResult<()> { panic!("a bug in an operation") })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Unavailable(_))),
            "{panicked:?}"
        );
        assert_eq!(writer.write(put(1, false)).await, Ok(1));
    }
}
