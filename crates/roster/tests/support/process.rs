//! Running the built binary from tests: a scrubbed environment, and a deadline on every
//! child so a hung process fails the test instead of hanging it. Shared by the test
//! targets that start `roster` as a process.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Clears what would change a child's behaviour behind the test's back: roster's own
/// settings from the environment, and proxies that would carry loopback requests elsewhere.
pub fn hermetic(mut command: Command) -> Command {
    const SCRUBBED: [&str; 16] = [
        "ROSTER_DATABASE_URL",
        "ROSTER_CONFIG",
        "ROSTER_LISTEN",
        "ROSTER_REGION",
        "ROSTER_LOG_FORMAT",
        "ROSTER_TOKEN_PEPPER",
        "ROSTER_SIP_REALM",
        "ROSTER_OPERATOR_TOKEN",
        "ROSTER_TLS_CERT",
        "ROSTER_TLS_KEY",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ];
    for name in SCRUBBED {
        command.env_remove(name);
    }
    command
}

/// Runs a command to completion, killing it and failing the test after `limit`.
pub fn run(mut command: Command, limit: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let description = format!("{command:?}");
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let stdout = drain(child.stdout.take().expect("a piped stdout"));
    let stderr = drain(child.stderr.take().expect("a piped stderr"));
    let Some(status) = wait_with_deadline(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{description} did not finish within {limit:?}");
    };
    Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    }
}

pub fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

pub fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("polling a child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
