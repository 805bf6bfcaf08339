//! A log writer that batches: lines are appended to a buffer under a short lock, and a
//! background thread writes the buffer out every few milliseconds, or sooner once it is
//! large. When the output cannot keep up the buffer stops growing at a cap and further
//! lines are counted and dropped, never blocking a request.

use std::io::Write;
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

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    dropped: u64,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    ready: Condvar,
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

/// Writes out what is still buffered and stops the background thread when dropped.
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
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("roster-log".to_owned())
            .spawn(move || write_batches(&for_thread, output))
            .ok();
        let writer = Self {
            shared: Arc::clone(&shared),
        };
        (writer, FlushGuard { shared, thread })
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        if pending.lines.len() + line.len() > CAPACITY_BYTES {
            pending.dropped += 1;
            return;
        }
        pending.lines.extend_from_slice(line);
        if pending.lines.len() >= EAGER_FLUSH_BYTES {
            self.shared.ready.notify_one();
        }
    }
}

fn write_batches<W: Write>(shared: &Shared, mut output: W) {
    let mut batch = Vec::new();
    loop {
        let (dropped, closed) = {
            let pending = shared.lock();
            let (mut pending, _) = shared
                .ready
                .wait_timeout_while(pending, FLUSH_EVERY, |p| {
                    !p.closed && p.lines.len() < EAGER_FLUSH_BYTES
                })
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut batch, &mut pending.lines);
            (std::mem::take(&mut pending.dropped), pending.closed)
        };
        if dropped > 0 {
            let note = format!("WARN log output fell behind: {dropped} lines dropped\n");
            batch.extend_from_slice(note.as_bytes());
        }
        if !batch.is_empty() {
            // Nowhere to report a failed log write; the next batch tries again.
            let _ = output.write_all(&batch).and_then(|()| output.flush());
            batch.clear();
        }
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    fn a_stuck_output_costs_dropped_lines_not_blocked_callers() {
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
        drop(held);
        drop(guard);
        let text = String::from_utf8(recorder.0.lock().unwrap().0.clone()).unwrap();
        let note = text.lines().find(|l| l.contains("lines dropped")).unwrap();
        let dropped: u64 = note.split_whitespace().nth(5).unwrap().parse().unwrap();
        assert!(dropped > 0, "{note}");
        assert!(text.len() <= 2 * CAPACITY_BYTES, "{}", text.len());
    }
}
