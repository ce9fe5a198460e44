//! Child processes with bounded waits: running a command to completion, spawning a long-lived
//! process that is killed on drop, and sending signals (through `/usr/bin/kill`, so no unsafe code
//! is needed).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a short command (`ip`, `kill`, `tshark -r`) may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often bounded waits poll.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// A signal that can be sent to a process or a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop.
    Term,
    /// SIGKILL: die now.
    Kill,
    /// SIGHUP: reload.
    Hup,
    /// SIGINT: interrupt.
    Int,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
    /// SIGSTOP: freeze (simulates a hung process).
    Stop,
    /// SIGCONT: resume after SIGSTOP.
    Cont,
    /// Any other signal by the name `kill -s` understands, e.g. `"RTMIN+2"`.
    Named(&'static str),
}

impl Signal {
    /// The name as `kill -s` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Hup => "HUP",
            Signal::Int => "INT",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
            Signal::Named(name) => name,
        }
    }
}

/// Sends `sig` to the process `pid`.
pub fn signal(pid: u32, sig: Signal) -> Result<()> {
    send(&pid.to_string(), sig)
}

/// Sends `sig` to every process of the process group `pgid`.
pub fn signal_group(pgid: u32, sig: Signal) -> Result<()> {
    send(&format!("-{pgid}"), sig)
}

fn send(target: &str, sig: Signal) -> Result<()> {
    let out = run_command(
        Command::new("kill").args(["-s", sig.name(), "--", target]),
        Duration::from_secs(5),
    )?;
    if !out.status.success() {
        bail!(
            "kill -s {} -- {target}: {}",
            sig.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `cmd` to completion with stdin closed and stdout/stderr captured. If it is still running
/// after `timeout`, its process group is killed and an error is returned.
pub fn run_command(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    if let Some(mut out) = child.stdout.take() {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            let _ = tx.send((true, buf));
        });
    }
    if let Some(mut err) = child.stderr.take() {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            let _ = tx.send((false, buf));
        });
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {what}"))?
        {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        thread::sleep(POLL);
    };
    let Some(status) = status else {
        let _ = signal_group(child.id(), Signal::Kill);
        let _ = child.kill();
        let _ = child.wait();
        bail!("{what} still running after {timeout:?}: killed");
    };

    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    // A grandchild may keep a pipe open; do not wait for it for long.
    let pipe_deadline = Instant::now() + Duration::from_secs(2);
    for _ in 0..2 {
        let left = pipe_deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, buf)) => stdout = buf,
            Ok((false, buf)) => stderr = buf,
            Err(_) => break,
        }
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Runs `program args…` (bounded by [`COMMAND_TIMEOUT`]) and returns its stdout, or an error
/// naming the command and its stderr when it exits non-zero.
pub fn run_ok(program: &str, args: &[&str]) -> Result<String> {
    let out = run_command(Command::new(program).args(args), COMMAND_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The process groups a lab started and has not yet reaped; killed when the lab is dropped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<Vec<u32>>>);

impl Registry {
    fn add(&self, pgid: u32) {
        if let Ok(mut v) = self.0.lock() {
            v.push(pgid);
        }
    }

    fn remove(&self, pgid: u32) {
        if let Ok(mut v) = self.0.lock() {
            v.retain(|p| *p != pgid);
        }
    }

    /// SIGKILLs every registered process group.
    pub(crate) fn kill_all(&self) {
        let groups = match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(_) => return,
        };
        for pgid in groups {
            let _ = signal_group(pgid, Signal::Kill);
        }
    }
}

/// A long-lived child process that leads its own process group. Dropping it SIGKILLs the group
/// and reaps the child (bounded); the lab that started it does the same for any still alive.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    label: String,
    status: Option<ExitStatus>,
    registry: Registry,
}

impl Proc {
    /// Spawns `cmd` as the leader of a new process group, registered in `registry`.
    pub(crate) fn spawn(mut cmd: Command, label: String, registry: &Registry) -> Result<Proc> {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {label}"))?;
        registry.add(child.id());
        Ok(Proc {
            child,
            label,
            status: None,
            registry: registry.clone(),
        })
    }

    /// The process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What was started, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Mutable access to the underlying child (for its pipes, if any were requested).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `sig` to the process (not its group). An already reaped process is an error.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        if self.status.is_some() {
            bail!("{} has already exited", self.label);
        }
        signal(self.pid(), sig)
    }

    /// Sends `sig` to the whole process group.
    pub fn signal_group(&self, sig: Signal) -> Result<()> {
        signal_group(self.pid(), sig)
    }

    /// The exit status if the process has exited (reaping it), `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self
            .child
            .try_wait()
            .with_context(|| format!("waiting for {}", self.label))?;
        if let Some(status) = status {
            self.status = Some(status);
            self.registry.remove(self.pid());
        }
        Ok(status)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits at most `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL);
        }
    }

    /// SIGKILLs the process group and reaps the leader (bounded wait).
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.status {
            // The leader is gone; other members of its group may not be.
            let _ = self.signal_group(Signal::Kill);
            return Ok(status);
        }
        let _ = self.signal_group(Signal::Kill);
        let _ = self.child.kill();
        match self.wait_timeout(Duration::from_secs(5))? {
            Some(status) => Ok(status),
            None => bail!("{} survived SIGKILL for 5 s", self.label),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Waits for `child` until `deadline`, polling every few tens of milliseconds; past it,
/// `kill` ends it and it is reaped. Returns whether the deadline passed.
pub(crate) fn wait_until(
    child: &mut Child,
    deadline: Instant,
    kill: impl FnOnce(&mut Child),
) -> Result<bool> {
    loop {
        if child.try_wait()?.is_some() {
            return Ok(false);
        }
        if Instant::now() > deadline {
            kill(child);
            let _ = child.wait();
            return Ok(true);
        }
        std::thread::sleep(POLL * 10);
    }
}
