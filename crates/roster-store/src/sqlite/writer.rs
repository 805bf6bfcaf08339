//! The one thread that writes to a SQLite database. SQLite admits one writer at a time, so
//! rather than have request threads queue on its lock, writes are sent here as jobs; the
//! thread runs every job waiting in the queue inside one transaction (each job in its own
//! savepoint, so one failing job does not undo the others), commits once, and only then
//! answers each caller. With `synchronous = FULL` an answer means the data is on disk.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::events;
use crate::StoreError;

/// Most jobs committed together; bounds the time the first caller of a batch waits.
const MAX_BATCH: usize = 256;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One caller's write, type-erased so jobs of any result type share the queue.
trait Job: Send {
    /// Runs the work; says whether it failed, and gives the answer to send after commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply);
    /// Answers without running, when no transaction could be opened.
    fn abandon(self: Box<Self>, cause: String);
}

struct WriteJob<T, F> {
    work: F,
    done: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for WriteJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply) {
        let WriteJob { work, done } = *self;
        let result = work(conn);
        let failed = result.is_err();
        let reply: Reply = Box::new(move |commit| {
            let outcome = match commit {
                Ok(()) => result,
                Err(cause) => Err(StoreError::Backend(cause.into())),
            };
            let _ = done.send(outcome);
        });
        (failed, reply)
    }

    fn abandon(self: Box<Self>, cause: String) {
        let _ = self.done.send(Err(StoreError::Backend(cause.into())));
    }
}

/// What the writer thread counts, for metrics.
#[derive(Default)]
pub(crate) struct WriterStats {
    /// Jobs sent and not yet taken up by the thread.
    pub(crate) queued: AtomicUsize,
    /// Events written by committed jobs.
    pub(crate) events: AtomicU64,
}

/// A handle that sends write jobs to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer thread on `conn`. The thread ends when every handle is dropped.
    pub(crate) fn spawn(conn: Connection) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let stats = Arc::new(WriterStats::default());
        let counted = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("roster-sqlite-writer".to_owned())
            .spawn(move || run(conn, queue, &counted))?;
        Ok(Self { jobs, stats })
    }

    pub(crate) fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs `work` in the next write transaction and returns its result once that
    /// transaction is committed. An `Err` from `work` undoes only `work`'s own changes.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob { work, done });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(writer_gone());
        }
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the sqlite writer thread has stopped".into())
}

fn run(conn: Connection, queue: mpsc::Receiver<Box<dyn Job>>, stats: &WriterStats) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        commit_batch(&conn, batch, stats);
    }
}

/// Runs a transaction-control statement from the statement cache: these run several times
/// per write, and parsing them anew each time was a measurable share of a write's cost.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn commit_batch(conn: &Connection, batch: Vec<Box<dyn Job>>, stats: &WriterStats) {
    // Counts only this transaction's events, and only if it commits.
    events::take_written();
    if let Err(cause) = control(conn, "BEGIN IMMEDIATE") {
        let cause = format!("failed to begin a write transaction: {cause}");
        for job in batch {
            job.abandon(cause.clone());
        }
        return;
    }

    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(cause) = control(conn, "SAVEPOINT job") {
            job.abandon(format!("failed to open a write savepoint: {cause}"));
            continue;
        }
        let written = events::written();
        let (failed, reply) = job.run(conn);
        if failed {
            events::unwrite_to(written);
        }
        let undo = if failed {
            control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job"))
        } else {
            control(conn, "RELEASE job")
        };
        if let Err(cause) = undo {
            tracing::error!(error = %cause, "failed to close a write savepoint");
        }
        replies.push(reply);
    }

    let commit = control(conn, "COMMIT").map_err(|cause| {
        let _ = conn.execute_batch("ROLLBACK");
        format!("failed to commit a write transaction: {cause}")
    });
    let written = events::take_written();
    if commit.is_ok() {
        // Before the answers, so a caller that reads the count after its write sees it.
        stats.events.fetch_add(written, Ordering::Relaxed);
    }
    for reply in replies {
        reply(commit.clone());
    }
}
