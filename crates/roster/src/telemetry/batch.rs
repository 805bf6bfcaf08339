//! A log writer that batches: lines are appended to a buffer under a short lock, and a
//! background thread writes the buffer out every few milliseconds, or sooner once it is
//! large. When the output cannot keep up the buffer stops growing at a cap and further
//! lines are counted and dropped, never blocking a request.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this large is written at once rather than at the next tick.
const EAGER_FLUSH_BYTES: usize = 64 * 1024;
/// Past this, lines are dropped (and counted) until the writer catches up.
const CAPACITY_BYTES: usize = 8 * 1024 * 1024;
/// A buffer grown by a burst is given back rather than kept at that size.
const KEEP_BYTES: usize = 256 * 1024;
/// How long the guard waits at exit for the last lines to be written: an output nobody
/// reads must not keep the process from exiting.
const EXIT_WAIT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    dropped: u64,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    ready: Condvar,
    finished: Mutex<bool>,
    done: Condvar,
    dropped_total: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock leaves plain bytes behind; keep logging.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` the subscriber formats into; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes out what is still buffered, waiting at most a second, when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the background thread writing to `output`.
    pub fn spawn<W: Write + Send + 'static>(output: W) -> (Self, FlushGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            finished: Mutex::new(false),
            done: Condvar::new(),
            dropped_total: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("roster-log".to_owned())
            .spawn(move || write_batches(&for_thread, output));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                // Without the thread no line would ever be written; say so where it shows.
                eprintln!("roster: cannot start the log writer thread: {error}");
                None
            }
        };
        let writer = Self {
            shared: Arc::clone(&shared),
        };
        (writer, FlushGuard { shared, thread })
    }

    /// Lines dropped so far because the output fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        if pending.lines.len() + line.len() > CAPACITY_BYTES {
            pending.dropped += 1;
            self.shared.dropped_total.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = pending.lines.is_empty();
        pending.lines.extend_from_slice(line);
        // The writer sleeps while there is nothing to write: wake it for the first line
        // of a batch, and again when the batch is large.
        if was_empty || pending.lines.len() >= EAGER_FLUSH_BYTES {
            self.shared.ready.notify_one();
        }
    }
}

fn write_batches<W: Write>(shared: &Shared, mut output: W) {
    let mut batch = Vec::new();
    loop {
        let (dropped, closed) = {
            let pending = shared.lock();
            let pending = shared
                .ready
                .wait_while(pending, |p| p.lines.is_empty() && !p.closed)
                .unwrap_or_else(PoisonError::into_inner);
            // Let the batch fill a little before writing it.
            let (mut pending, _) = shared
                .ready
                .wait_timeout_while(pending, FLUSH_EVERY, |p| {
                    !p.closed && p.lines.len() < EAGER_FLUSH_BYTES
                })
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut batch, &mut pending.lines);
            (std::mem::take(&mut pending.dropped), pending.closed)
        };
        if !batch.is_empty() {
            // Nowhere to report a failed log write; the next batch tries again.
            let _ = output.write_all(&batch).and_then(|()| output.flush());
        }
        if batch.capacity() > KEEP_BYTES {
            batch = Vec::new();
        } else {
            batch.clear();
        }
        if closed {
            *shared
                .finished
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = true;
            shared.done.notify_all();
            return;
        }
        if dropped > 0 {
            // Through the subscriber, so the notice has the format of every other line.
            tracing::warn!(dropped, "log output fell behind; lines were dropped");
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        let finished = self
            .shared
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (finished, _) = self
            .shared
            .done
            .wait_timeout_while(finished, EXIT_WAIT, |finished| !*finished)
            .unwrap_or_else(PoisonError::into_inner);
        if *finished {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        // Otherwise the output is stuck; the thread is left behind and ends with the
        // process.
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what it was given, and counts the write calls.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0.extend_from_slice(bytes);
            seen.1 += 1;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_come_out_whole_in_order_in_few_writes() {
        let recorder = Recorder::default();
        let (writer, guard) = BatchWriter::spawn(recorder.clone());
        for n in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let (bytes, writes) = recorder.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text, expected);
        assert!(writes < 100, "{writes} write calls for 1000 lines");
    }

    #[test]
    fn lines_are_written_without_waiting_for_the_guard() {
        let recorder = Recorder::default();
        let (writer, _guard) = BatchWriter::spawn(recorder.clone());
        writer.make_writer().write_all(b"soon\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while recorder.0.lock().unwrap().0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(recorder.0.lock().unwrap().0, b"soon\n");
    }

    /// An output that does not return until it is let go.
    struct Stuck(Arc<Mutex<()>>, Recorder);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _held = self.0.lock().unwrap();
            self.1.write(bytes)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_costs_dropped_lines_not_blocked_callers_nor_a_stuck_exit() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let recorder = Recorder::default();
        let (writer, guard) = BatchWriter::spawn(Stuck(Arc::clone(&gate), recorder.clone()));
        let line = [b'x'; 1023];
        // Twice the capacity: every call returns although nothing can be written.
        for _ in 0..(2 * CAPACITY_BYTES / 1024) {
            writer.make_writer().write_all(&line).unwrap();
            writer.make_writer().write_all(b"\n").unwrap();
        }
        assert!(writer.dropped() > 0);
        // The output never comes back: the guard still lets the process go.
        let started = std::time::Instant::now();
        drop(guard);
        assert!(started.elapsed() < EXIT_WAIT + Duration::from_secs(2));
        drop(held);
    }
}
