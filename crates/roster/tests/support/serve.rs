//! `roster serve` as a child process: started on a port of the kernel's choosing, every
//! byte it writes on stdout and stderr kept, killed when dropped. Shared by the test
//! targets that need the real process (crash safety, secrets in logs).

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{hermetic, run, wait_with_deadline};

/// Longest the server may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `roster --database DATABASE`, with nothing leaking in from the test's environment.
pub fn roster(database: &str) -> Command {
    let mut command = hermetic(Command::new(env!("CARGO_BIN_EXE_roster")));
    command.arg("--database").arg(database);
    command
}

/// Runs an operator command that must succeed and returns its stdout and stderr.
pub fn cli(database: &str, args: &[&str]) -> (String, String) {
    cli_with_env(database, args, &[])
}

/// [`cli`] with these environment variables set.
pub fn cli_with_env(database: &str, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut command = roster(database);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = run(command, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "roster {args:?}: {}\n{stdout}\n{stderr}",
        output.status
    );
    (stdout, stderr)
}

/// A running `roster serve`.
pub struct Serve {
    child: Child,
    pub address: SocketAddr,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Serve {
    /// Starts `roster --database DATABASE serve --listen 127.0.0.1:0 EXTRA` with `env`, and
    /// waits for the line that says where it listens.
    pub fn start(database: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = roster(database);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("starting roster serve");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (grew, growth) = mpsc::channel();
        let readers = vec![
            keep(
                child.stdout.take().expect("a piped stdout"),
                &stdout,
                grew.clone(),
            ),
            keep(child.stderr.take().expect("a piped stderr"), &stderr, grew),
        ];
        let mut server = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout,
            stderr,
            readers,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        server.address = loop {
            if let Some(address) = listen_address(&server.output()) {
                break address;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || growth.recv_timeout(left).is_err() {
                // The pipes closed or time ran out: there is no listen line to wait for.
                if let Some(address) = listen_address(&server.output()) {
                    break address;
                }
                panic!(
                    "roster serve never said where it listens:\n{}",
                    server.output()
                );
            }
        };
        assert!(server.address.ip().is_loopback() && server.address.port() != 0);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// All it wrote so far: stdout, then stderr.
    pub fn output(&self) -> String {
        let stdout = self.stdout.lock().expect("the stdout buffer");
        let stderr = self.stderr.lock().expect("the stderr buffer");
        format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    }

    /// SIGKILL: the process ends at once, whatever it was doing.
    pub fn kill(&mut self) {
        self.child.kill().expect("sending SIGKILL");
        self.child.wait().expect("reaping the killed server");
    }

    /// SIGTERM, then waits for the exit and for the last of its output.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let mut kill = Command::new("kill");
        kill.arg("-TERM").arg(self.child.id().to_string());
        let sent = run(kill, Duration::from_secs(10));
        assert!(sent.status.success(), "kill -TERM failed");
        let status = wait_with_deadline(&mut self.child, Duration::from_secs(15))
            .unwrap_or_else(|| panic!("still running 15 s after SIGTERM:\n{}", self.output()));
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status, self.output())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends everything `pipe` gives to `into`, signalling each time it grows.
fn keep(
    mut pipe: impl Read + Send + 'static,
    into: &Arc<Mutex<Vec<u8>>>,
    grew: mpsc::Sender<()>,
) -> thread::JoinHandle<()> {
    let into = Arc::clone(into);
    thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    into.lock()
                        .expect("an output buffer")
                        .extend_from_slice(&buffer[..n]);
                    let _ = grew.send(());
                }
            }
        }
    })
}

/// The address on the "roster is serving" line, in the text (`listen=ADDR`) or the JSON
/// (`"listen":"ADDR"`) log format.
fn listen_address(output: &str) -> Option<SocketAddr> {
    let line = output.lines().find(|l| l.contains("roster is serving"))?;
    let start = ["listen=", "\"listen\":\""]
        .iter()
        .find_map(|marker| line.find(marker).map(|at| at + marker.len()))?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
