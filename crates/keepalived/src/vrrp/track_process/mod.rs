//! `vrrp_track_process`: how many processes of a kind run, and whether that makes the quorum,
//! told to the driver as it changes.
//!
//! Like keepalived 2.2.7 the processes are counted once from /proc at start, then followed
//! through the kernel's process connector ([`connector`]): forks, execs, renames and exits,
//! as they happen. The connector answers only in the host's initial network namespace; in
//! any other (a container, a lab namespace) 2.2.7 logs `Failed to set/clear process event
//! listen - errno 111 - Connection refused` and never counts again, so its instances stay in
//! FAULT. keepalived-rs logs the same line, then says once that it falls back to scanning
//! /proc every [`SCAN_INTERVAL`], and keeps tracking (docs/compat.md).
//!
//! - [`spec`]: a block as matching needs it (names, arguments, quorum, delays);
//! - [`procfs`]: reading processes from /proc;
//! - [`quorum`]: the counts and the quorum, delays included (pure, unit-tested);
//! - [`connector`]: the netlink socket and its messages.

pub mod connector;
pub mod procfs;
pub mod quorum;
pub mod spec;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use connector::{ProcEvent, Received};
use quorum::{Change, Counter};
pub use spec::ProcessSpec;

/// How often /proc is scanned when the process connector cannot be used: a process death is
/// seen within this (200 ms: a fifth of the shortest advert interval keepalived.conf users
/// set, 1 s, for a scan that costs about a millisecond of CPU per few hundred processes).
pub const SCAN_INTERVAL: Duration = Duration::from_millis(200);

/// What the tracker tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A line to log.
    Log(String),
    /// A tracked process gained or lost its quorum.
    Quorum(Change),
}

/// A tracker just started.
pub struct Started {
    /// Whether each tracked process has its quorum, from the first scan.
    pub up: Vec<bool>,
    /// The lines to log now (why the connector is not used, the fallback).
    pub lines: Vec<String>,
    /// The task that follows the processes from now on.
    pub task: JoinHandle<()>,
}

/// Where changes come from.
enum Source {
    /// The process connector: the netlink socket, registered with tokio as a datagram socket
    /// only to reach the reactor without `unsafe` (as crates/net does for its raw sockets).
    Events(UdpSocket),
    /// Scanning /proc on an interval.
    Scan,
}

/// The line logged once when /proc is scanned instead of listening to process events.
pub fn fallback_line() -> String {
    format!(
        "Process events unavailable: tracking processes by scanning /proc every {} ms",
        SCAN_INTERVAL.as_millis()
    )
}

/// Starts tracking `specs`: subscribes to the process events (or falls back to scanning),
/// counts from /proc, and spawns the task that reports changes on `tx` tagged with
/// `generation`. Must run inside a `LocalSet`.
pub fn start(specs: Vec<ProcessSpec>, generation: u64, tx: mpsc::Sender<(u64, Report)>) -> Started {
    let mut lines = Vec::new();
    // Subscribe first and count after, so no process is missed in between.
    let source = match connector::open() {
        Ok(socket) => match UdpSocket::from_std(std::net::UdpSocket::from(OwnedFd::from(socket))) {
            Ok(fd) => Source::Events(fd),
            Err(err) => {
                lines.push(format!("Cannot watch the process monitoring socket: {err}"));
                Source::Scan
            }
        },
        Err(unavailable) => {
            lines.push(unavailable.line);
            Source::Scan
        }
    };
    if matches!(source, Source::Scan) {
        lines.push(fallback_line());
    }
    let cmdline = specs.iter().any(|s| s.full_command);
    let counter = Counter::new(specs, &procfs::scan(cmdline));
    let up = counter.up().to_vec();
    let task = tokio::task::spawn_local(follow(counter, source, generation, tx));
    Started { up, lines, task }
}

/// Sends `changes`; false once the driver is gone.
async fn report(tx: &mpsc::Sender<(u64, Report)>, generation: u64, changes: Vec<Change>) -> bool {
    for change in changes {
        if tx.send((generation, Report::Quorum(change))).await.is_err() {
            return false;
        }
    }
    true
}

/// Follows the processes until the driver goes away (or aborts the task).
async fn follow(
    mut counter: Counter,
    mut source: Source,
    generation: u64,
    tx: mpsc::Sender<(u64, Report)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut confirmed = false;
    let mut scan = tokio::time::interval(SCAN_INTERVAL);
    scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = counter.next_deadline();
        let delay = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        let mut changes = Vec::new();
        let mut fall_back = None;
        match &source {
            Source::Events(fd) => {
                tokio::select! {
                    () = delay => changes = counter.timers_due(Instant::now()),
                    ready = fd.readable() => {
                        if let Err(err) = ready {
                            fall_back = Some(format!("process monitor socket error: {err}"));
                        }
                        while fall_back.is_none() {
                            let got = fd.try_io(Interest::READABLE, || {
                                match connector::receive(fd.as_raw_fd(), &mut buf) {
                                    Received::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
                                    other => Ok(other),
                                }
                            });
                            let now = Instant::now();
                            match got {
                                Ok(Received::Events(events)) => {
                                    for event in events {
                                        if event == ProcEvent::Ack(0) && !confirmed {
                                            confirmed = true;
                                            let line = "proc_events has confirmed it is configured";
                                            let _ = tx.send((generation, Report::Log(line.into()))).await;
                                        }
                                        changes.extend(apply(&mut counter, event, now));
                                    }
                                }
                                Ok(Received::Lost) => {
                                    // Events were dropped: count again from /proc.
                                    let cmdline = counter.needs_cmdline();
                                    changes.extend(counter.rescan(&procfs::scan(cmdline), now));
                                }
                                Ok(Received::Failed(errno)) => {
                                    fall_back = Some(format!(
                                        "process monitor netlink recv error {} - {}",
                                        errno as i32,
                                        errno.desc()
                                    ));
                                }
                                Ok(Received::WouldBlock) => break,
                                Err(_) => break,
                            }
                        }
                    }
                }
            }
            Source::Scan => {
                tokio::select! {
                    () = delay => changes = counter.timers_due(Instant::now()),
                    _ = scan.tick() => {
                        let cmdline = counter.needs_cmdline();
                        let found = procfs::scan(cmdline);
                        changes = counter.rescan(&found, Instant::now());
                    }
                }
            }
        }
        if !report(&tx, generation, changes).await {
            return;
        }
        if fall_back.is_some() {
            continue_with(&mut source, fall_back, &tx, generation).await;
        }
    }
}

/// Switches to scanning /proc after the socket failed, saying why.
async fn continue_with(
    source: &mut Source,
    why: Option<String>,
    tx: &mpsc::Sender<(u64, Report)>,
    generation: u64,
) {
    *source = Source::Scan;
    for line in why.into_iter().chain([fallback_line()]) {
        let _ = tx.send((generation, Report::Log(line))).await;
    }
}

/// One process event applied to the counts.
fn apply(counter: &mut Counter, event: ProcEvent, now: Instant) -> Vec<Change> {
    match event {
        ProcEvent::Ack(_) => Vec::new(),
        ProcEvent::Fork { parent, child } => counter.fork(parent, child, now),
        ProcEvent::Exec(pid) => {
            let info = procfs::read(pid, counter.needs_cmdline());
            counter.check(pid, info.as_ref(), false, now)
        }
        ProcEvent::Comm(pid, comm) => {
            let info = procfs::ProcInfo {
                comm,
                cmdline: Vec::new(),
            };
            counter.check(pid, Some(&info), true, now)
        }
        ProcEvent::Exit(pid) => counter.exit(pid, now),
    }
}
