//! Child processes of the integration run: started with their output in log files, waited for
//! by a ready line or a socket, stopped with SIGTERM (graceful) or SIGKILL (a crash), and always
//! killed when dropped so that a failing scenario leaves nothing running.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A long-running child (the identity server, an agent, the OPA server).
pub(crate) struct Service {
    pub(crate) name: String,
    child: Child,
    ready: mpsc::Receiver<String>,
    log: PathBuf,
}

impl Service {
    /// Starts `command`, its stderr going to `<logs>/<name>.log` and each stdout line forwarded
    /// to [`Service::wait_for_line`].
    pub(crate) fn start(name: &str, mut command: Command, logs: &Path) -> anyhow::Result<Self> {
        let log = logs.join(format!("{name}.log"));
        let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let (tx, ready) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Self { name: name.to_owned(), child, ready, log })
    }

    /// Waits until the child prints a stdout line containing `needle`, and returns that line.
    pub(crate) fn wait_for_line(
        &mut self,
        needle: &str,
        limit: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before printing {needle:?}{}", self.name, self.tail());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{} printed no {needle:?} within {limit:?}{}", self.name, self.tail());
            }
            match self.ready.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// Waits until every path in `paths` exists (sockets the child creates).
    pub(crate) fn wait_for_paths(
        &mut self,
        paths: &[PathBuf],
        limit: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        while !paths.iter().all(|p| p.exists()) {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}){}", self.name, self.tail());
            }
            if Instant::now() > deadline {
                bail!("{} created no {paths:?} within {limit:?}{}", self.name, self.tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// SIGTERM, then waits for a graceful exit; returns its status.
    pub(crate) fn terminate(mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} did not stop within {limit:?} of SIGTERM{}", self.name, self.tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process dies without any chance to clean up, like a crash.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of the child's stderr log, for failure messages.
    pub(crate) fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(15);
        let tail = lines.get(start..).unwrap_or_default().join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- {} ---\n{tail}", self.log.display())
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a short-lived command (`agentweave call`) did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    /// For failure messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

/// Runs `command` to completion, killing it after `limit`.
pub(crate) fn run_bounded(mut command: Command, limit: Duration) -> anyhow::Result<Outcome> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a command")?;
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the command did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Outcome {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
