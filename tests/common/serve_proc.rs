//! Starting the real `switchyard serve` binary on a free port for a test: the address is
//! parsed from the ready line on stderr, the rest of stderr is kept for assertions, and the
//! process is killed when the test ends.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Long enough for a loaded 2-core machine; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running server.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub ready_line: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

/// Starts `switchyard serve --listen 127.0.0.1:0 ARGS…` with `env`, and waits for its ready line.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start switchyard serve");
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = lines.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("switchyard: serving ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line.clone());
                }
            }
            kept.lock().unwrap().push(line);
        }
    });
    let ready_line = match rx.recv_timeout(DEADLINE) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "no ready line; stderr:\n{}",
                lines.lock().unwrap().join("\n")
            );
        }
    };
    let addr = ready_line
        .rsplit_once("http://")
        .and_then(|(_, a)| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {ready_line:?}"));
    Served {
        child,
        addr,
        ready_line,
        stderr: lines,
    }
}

impl Served {
    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit (killing it after the deadline).
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("the server did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
