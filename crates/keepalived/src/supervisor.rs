//! The parent process (compat.md section 3): it does no protocol work. It starts the VRRP and
//! checker children as fresh executions of this binary (`--child vrrp|checker`), restarts a
//! child that dies (with back-off when it keeps dying), passes signals on, writes the pid files,
//! and on TERM stops the children and removes the pid files.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};

use crate::cli::{ChildRole, Cli};
use crate::logger::Logger;
use crate::pidfile::PidFile;

/// How a child ends, as its exit status tells the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// Stopped as asked (0).
    Clean,
    /// A fatal error: it must not be restarted (2).
    Fatal,
    /// Its configuration cannot be used: it must not be restarted (3).
    Config,
}

impl ChildExit {
    /// The process exit status.
    pub const fn code(self) -> i32 {
        match self {
            ChildExit::Clean => 0,
            ChildExit::Fatal => 2,
            ChildExit::Config => 3,
        }
    }
}

impl From<ChildExit> for i32 {
    fn from(status: ChildExit) -> i32 {
        status.code()
    }
}

/// Exit status of a child that hit a fatal error (it must not be restarted).
pub const EXIT_FATAL: i32 = ChildExit::Fatal.code();
/// Exit status of a child whose configuration cannot be used (it must not be restarted).
pub const EXIT_CONFIG: i32 = ChildExit::Config.code();

/// A child that lived less than this before dying counts as "dying again soon".
const SHORT_LIFE: Duration = Duration::from_secs(10);
/// The longest wait before restarting a child that keeps dying.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long children get to stop after SIGTERM before they are killed (a stop takes at most
/// 5 s: priority-0 adverts, VIPs removed, notify_stop).
const STOP_GRACE: Duration = Duration::from_millis(5500);

/// The back-off before restarting a child that has died `deaths_in_a_row` times, each soon
/// after it started: none the first time, then 1, 2, 4 … 60 s.
pub fn backoff(deaths_in_a_row: u32) -> Duration {
    match deaths_in_a_row {
        0 | 1 => Duration::ZERO,
        n => Duration::from_secs(1u64 << (n - 2).min(6)).min(MAX_BACKOFF),
    }
}

/// One child the parent keeps running.
struct Slot {
    role: ChildRole,
    pid_file: PathBuf,
    child: Option<Child>,
    written_pid_file: Option<PidFile>,
    started: Instant,
    /// Deaths in a row, each soon after the start before it.
    deaths_in_a_row: u32,
    /// When a delayed restart is due.
    restart_at: Option<Instant>,
}

/// What the parent's signal handlers turned into.
enum Event {
    Stop,
    Forward(Signal, &'static str),
    ForwardRaw(i32, &'static str),
    ChildExited,
    RestartDue,
    /// A child finished starting or reloading (crate::ready).
    Ready(ChildRole, crate::ready::Done),
    /// Nothing happened for a while since the last event: memory can go back.
    Settled,
}

/// The signals the parent listens to.
struct Signals {
    term: SignalStream,
    int: SignalStream,
    hup: SignalStream,
    usr1: SignalStream,
    usr2: SignalStream,
    json: SignalStream,
    clear_stats: SignalStream,
    child: SignalStream,
}

/// keepalived's JSON dump signal, SIGRTMIN+2.
pub fn json_signal() -> i32 {
    nix::libc::SIGRTMIN() + 2
}

/// keepalived's "stats dump then clear" signal, SIGRTMAX-1.
pub fn clear_stats_signal() -> i32 {
    nix::libc::SIGRTMAX() - 1
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let open = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
        Ok(Signals {
            term: open(SignalKind::terminate())?,
            int: open(SignalKind::interrupt())?,
            hup: open(SignalKind::hangup())?,
            usr1: open(SignalKind::user_defined1())?,
            usr2: open(SignalKind::user_defined2())?,
            json: open(SignalKind::from_raw(json_signal()))?,
            clear_stats: open(SignalKind::from_raw(clear_stats_signal()))?,
            child: open(SignalKind::child())?,
        })
    }

    async fn next(
        &mut self,
        restart_at: Option<Instant>,
        settle_at: Option<Instant>,
        ready: Option<&crate::ready::Listener>,
    ) -> Event {
        let restart = async {
            match restart_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let settle = async {
            match settle_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let report = async {
            match ready {
                Some(listener) => listener.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => Event::Stop,
            _ = self.int.recv() => Event::Stop,
            _ = self.hup.recv() => Event::Forward(Signal::SIGHUP, "reload"),
            _ = self.usr1.recv() => Event::Forward(Signal::SIGUSR1, "data dump"),
            _ = self.usr2.recv() => Event::Forward(Signal::SIGUSR2, "stats dump"),
            _ = self.json.recv() => Event::ForwardRaw(json_signal(), "JSON dump"),
            _ = self.clear_stats.recv() => Event::ForwardRaw(clear_stats_signal(), "stats clear"),
            _ = self.child.recv() => Event::ChildExited,
            () = restart => Event::RestartDue,
            () = settle => Event::Settled,
            (role, done) = report => Event::Ready(role, done),
        }
    }
}

/// The parent: runs `roles` as children until a stop signal or a child's permanent error;
/// returns the exit status.
pub fn run(cli: &Cli, roles: &[ChildRole], logger: &Logger) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(supervise(cli, roles, logger))
}

async fn supervise(cli: &Cli, roles: &[ChildRole], logger: &Logger) -> anyhow::Result<i32> {
    let mut signals = Signals::install()?;
    // Bound before any child starts, so no report is lost; without it each child logs its
    // own `Startup complete` / `Reload complete` (crate::ready).
    let ready = crate::ready::Listener::bind()
        .map_err(|err| logger.detail(&format!("cannot listen for the children's reports: {err}")))
        .ok();
    let mut slots: Vec<Slot> = roles
        .iter()
        .map(|&role| Slot {
            role,
            pid_file: cli.child_pid_file(role),
            child: None,
            written_pid_file: None,
            started: Instant::now(),
            deaths_in_a_row: 0,
            restart_at: None,
        })
        .collect();
    for slot in &mut slots {
        start(slot, logger)?;
    }
    let mut awaiting = Some(crate::ready::Awaiting::new(
        crate::ready::Done::Startup,
        roles.iter().copied(),
    ));
    // What a reload may not change (read before the start-up pages go back).
    let load_fixed = || {
        crate::reload_guard::Fixed::load(&cli.use_file, cli.config_id.as_deref(), cli.all_config)
    };
    let mut fixed = load_fixed();
    // From here the parent only waits for signals and children: its start-up pages go back,
    // and again a while after whatever it handles later (the children's reports, a reload,
    // which reads the file), so code run once does not stay mapped (crate::memory).
    crate::memory::release_startup_memory();
    let mut settle_at = Some(Instant::now() + crate::memory::SETTLE_AFTER);
    let mut exit_code = 0;
    loop {
        let restart_at = slots.iter().filter_map(|s| s.restart_at).min();
        let event = signals.next(restart_at, settle_at, ready.as_ref()).await;
        settle_at = match event {
            Event::Settled => None,
            _ => Some(Instant::now() + crate::memory::SETTLE_AFTER),
        };
        match event {
            Event::Settled => {
                crate::memory::release_startup_memory();
            }
            Event::Stop => {
                // First, as 2.2.7's parent says `Stopping` (in the contract's words).
                logger.info(&format!("Stopping {}", crate::daemon::version_line()));
                break;
            }
            Event::Forward(sig, what) => {
                if sig == Signal::SIGHUP {
                    // keepalived 2.2.7's parent (observed through syslog): `Reloading ...`,
                    // then the lines of its reading the file; the children's `Reloading`
                    // follows, and `Reload complete` once every child is done.
                    logger.info("Reloading ...");
                    logger.detail(&format!("Opening file '{}'.", cli.use_file.display()));
                    logger.info(&format!("Configuration file {}", cli.use_file.display()));
                    // The parent's own reading says what it finds (global_defs, the top
                    // level); the children say what theirs find. It builds only its own part
                    // of the file, as 2.2.7's parent reads only its own keywords: the children
                    // wait for it, so it decides how soon a reload starts.
                    let loaded = crate::config_test::load_parent_view(
                        &cli.use_file,
                        cli.config_id.as_deref(),
                        cli.all_config,
                    );
                    crate::config_log::log_diagnostics(
                        logger,
                        &loaded,
                        crate::config_log::Reader::Parent,
                    );
                    // As 2.2.7's parent: a change only a restart can make refuses the whole
                    // reload; the children keep what they run.
                    let new = (!crate::config_log::unusable(&loaded))
                        .then(|| crate::reload_guard::Fixed::of(&loaded.config));
                    drop(loaded);
                    if let (Some(old), Some(new)) = (&fixed, &new) {
                        let refusals = old.refusals(new);
                        if !refusals.is_empty() {
                            for line in refusals {
                                logger.info(&line);
                            }
                            continue;
                        }
                    }
                    fixed = new.or(fixed);
                    awaiting = Some(crate::ready::Awaiting::new(
                        crate::ready::Done::Reload,
                        slots.iter().filter(|s| s.child.is_some()).map(|s| s.role),
                    ));
                } else {
                    logger.detail(&format!("Passing the {what} request to the children"));
                }
                for slot in &slots {
                    signal_child(slot, sig);
                }
            }
            Event::ForwardRaw(number, what) => {
                logger.detail(&format!("Passing the {what} request to the children"));
                for slot in &slots {
                    if let Some(child) = &slot.child {
                        signal_raw(child.id(), number);
                    }
                }
            }
            Event::RestartDue => {
                let now = Instant::now();
                for slot in &mut slots {
                    if slot.restart_at.is_some_and(|at| at <= now) {
                        slot.restart_at = None;
                        start(slot, logger)?;
                    }
                }
            }
            Event::Ready(role, done) => {
                if let Some(line) = awaiting.as_mut().and_then(|a| a.report(role, done)) {
                    logger.info(line);
                    awaiting = None;
                }
            }
            Event::ChildExited => {
                let before: Vec<Option<u32>> = slots
                    .iter()
                    .map(|s| s.child.as_ref().map(Child::id))
                    .collect();
                let reaped = reap(&mut slots, cli, logger)?;
                if let Some(code) = reaped {
                    // The daemon stops: nothing is complete.
                    exit_code = code;
                    break;
                }
                // A child that died is not waited for (one started again reports a start).
                for (slot, pid) in slots.iter().zip(before) {
                    if pid.is_some()
                        && slot.child.as_ref().map(Child::id) != pid
                        && let Some(line) = awaiting.as_mut().and_then(|a| a.forget(slot.role))
                    {
                        logger.info(line);
                        awaiting = None;
                    }
                }
            }
        }
    }
    stop_children(&mut slots, logger).await;
    Ok(exit_code)
}

/// Starts `slot`'s child and writes its pid file.
fn start(slot: &mut Slot, logger: &Logger) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this program to start a child")?;
    let parent = std::process::id();
    // The child gets the parent's command line (without the internal flags) and its role.
    let args = parent_arguments();
    let child = Command::new(exe)
        .args(args)
        .args([
            "--child",
            slot.role.arg(),
            "--parent-pid",
            &parent.to_string(),
        ])
        .spawn()
        .with_context(|| format!("cannot start the {} child", slot.role.title()))?;
    let pid = child.id();
    logger.info(&format!(
        "Starting {} child process, pid={pid}",
        slot.role.title()
    ));
    // The child's pid file: a stale or foreign one is replaced (we just started this child).
    slot.written_pid_file = None;
    match PidFile::write_for(&slot.pid_file, pid) {
        Ok(file) => slot.written_pid_file = Some(file),
        Err(err) => logger.info(&format!(
            "cannot write the {} child's pid file {}: {err}",
            slot.role.title(),
            slot.pid_file.display()
        )),
    }
    slot.child = Some(child);
    slot.started = Instant::now();
    Ok(())
}

/// The parent's command line without the program name and the internal options that only
/// concern the parent (`--detached`, `--supervise LIST`).
fn parent_arguments() -> Vec<std::ffi::OsString> {
    let mut args = Vec::new();
    let mut skip_value = false;
    for arg in std::env::args_os().skip(1) {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == "--supervise" || arg == "--shutdown-script" {
            skip_value = true;
        } else if arg != "--detached" && !arg.to_string_lossy().starts_with("--supervise=") {
            args.push(arg);
        }
    }
    args
}

/// Collects the children that exited; restarts them, or returns the exit status the daemon
/// stops with when one must not be restarted.
fn reap(slots: &mut [Slot], cli: &Cli, logger: &Logger) -> anyhow::Result<Option<i32>> {
    for slot in slots.iter_mut() {
        let Some(child) = slot.child.as_mut() else {
            continue;
        };
        let Some(status) = child.try_wait().context("waiting for a child")? else {
            continue;
        };
        let pid = child.id();
        slot.child = None;
        if let Some(file) = slot.written_pid_file.take() {
            file.remove();
        }
        let title = slot.role.title();
        match permanent_failure(status) {
            Some(code) => {
                // keepalived 2.2.7's words; its parent then exits 2 after a child's
                // configuration error (an instance without a VRID, a missing interface) and 1
                // after a fatal one (the checker without IPVS).
                let (what, status) = if code == EXIT_CONFIG {
                    ("CONFIG", 2)
                } else {
                    ("FATAL", 1)
                };
                logger.info(&format!(
                    "pid {pid} exited with permanent error {what}. Terminating"
                ));
                return Ok(Some(status));
            }
            None if cli.dont_respawn => {
                logger.info(&format!("{title} child process({pid}) died: Exiting"));
                return Ok(Some(0));
            }
            None => {
                logger.info(&format!("{title} child process({pid}) died: Respawning"));
                if slot.started.elapsed() < SHORT_LIFE {
                    slot.deaths_in_a_row += 1;
                } else {
                    slot.deaths_in_a_row = 1;
                }
                let delay = backoff(slot.deaths_in_a_row);
                if delay.is_zero() {
                    start(slot, logger)?;
                } else {
                    logger.info(&format!(
                        "{title} child keeps dying ({} times in a row): restarting it in {} s",
                        slot.deaths_in_a_row,
                        delay.as_secs()
                    ));
                    slot.restart_at = Some(Instant::now() + delay);
                }
            }
        }
    }
    Ok(None)
}

/// A child's exit status that means "do not restart": a configuration or fatal error.
fn permanent_failure(status: ExitStatus) -> Option<i32> {
    status
        .code()
        .filter(|&code| code == EXIT_CONFIG || code == EXIT_FATAL)
}

fn signal_child(slot: &Slot, sig: Signal) {
    if let Some(child) = &slot.child
        && let Ok(pid) = i32::try_from(child.id())
    {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Sends a signal nix has no name for (the real-time ones) to `pid`.
fn signal_raw(pid: u32, number: i32) {
    use rustix_libc_wrappers::process::SignalExt;
    let (Ok(pid), Some(sig)) = (
        i32::try_from(pid),
        rustix::process::Signal::from_raw(number),
    ) else {
        return;
    };
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// TERM to every child, then KILL to those still there after [`STOP_GRACE`]; removes the
/// children's pid files.
async fn stop_children(slots: &mut [Slot], logger: &Logger) {
    for slot in slots.iter() {
        signal_child(slot, Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    for slot in slots.iter_mut() {
        let Some(child) = slot.child.as_mut() else {
            continue;
        };
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    logger.info(&format!(
                        "{} child process({}) did not stop in time: killing it",
                        slot.role.title(),
                        child.id()
                    ));
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        slot.child = None;
        if let Some(file) = slot.written_pid_file.take() {
            file.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let waits: Vec<u64> = (0..10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn configuration_and_fatal_exits_are_permanent() {
        use std::os::unix::process::ExitStatusExt;
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(permanent_failure(exited(EXIT_CONFIG)), Some(EXIT_CONFIG));
        assert_eq!(permanent_failure(exited(EXIT_FATAL)), Some(EXIT_FATAL));
        assert_eq!(permanent_failure(exited(0)), None);
        assert_eq!(permanent_failure(exited(1)), None);
        // Killed by SIGKILL: a crash, restarted.
        assert_eq!(permanent_failure(ExitStatus::from_raw(9)), None);
    }
}
