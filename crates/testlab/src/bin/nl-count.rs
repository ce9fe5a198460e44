//! A benchmark probe for the IPVS lab: counts the generic netlink requests that change the
//! kernel's IPVS table (new / set / delete of services and destinations, flush, ...), as the
//! `nlmon` device shows every netlink message of the host, and how long after a SIGHUP it
//! sends to a daemon the last of them came.
//!
//! Usage: `nl-count --hup PID [--dev nlmon0] [--quiet SECS] [--max SECS]`. It starts capturing,
//! sends SIGHUP to PID, and ends when `--quiet` seconds (default 10) passed without a
//! command after at least one was seen, or after `--max` seconds (default 300). It prints one
//! line: `commands N first_ms F last_ms L new_service .. set_service .. del_service ..
//! new_dest .. set_dest .. del_dest .. other .. genl_frames G timed_out 0|1` (times from the
//! SIGHUP; `genl_frames` counts every generic netlink frame seen, replies included).
//! `--watch` instead of `--hup PID` sends no signal and gives the times from its own start (to
//! time a daemon's start-up: start `nl-count --watch` first, then the daemon).
//! Exits 2 on a usage or socket error.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::net::if_::if_nametoindex;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{
    AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType, recvfrom, setsockopt, socket,
    sockopt,
};
use nix::sys::time::TimeVal;
use nix::unistd::Pid;

/// `NETLINK_GENERIC`.
const NETLINK_GENERIC: u16 = 16;
/// `GENL_ID_CTRL`: the controller's own family, not IPVS.
const GENL_ID_CTRL: u16 = 16;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;

/// The IPVS commands (`IPVS_CMD_*` of linux/ip_vs.h) that change the table, by number.
fn command_slot(cmd: u8) -> Option<usize> {
    match cmd {
        1 => Some(0),                          // NEW_SERVICE
        2 => Some(1),                          // SET_SERVICE
        3 => Some(2),                          // DEL_SERVICE
        5 => Some(3),                          // NEW_DEST
        6 => Some(4),                          // SET_DEST
        7 => Some(5),                          // DEL_DEST
        9 | 10 | 12 | 14 | 16 | 17 => Some(6), // daemons, config, info, zero, flush
        _ => None,
    }
}

const SLOTS: [&str; 7] = [
    "new_service",
    "set_service",
    "del_service",
    "new_dest",
    "set_dest",
    "del_dest",
    "other",
];

struct Args {
    /// The pid to send SIGHUP to; `None` with `--watch`.
    hup: Option<i32>,
    dev: String,
    quiet: Duration,
    max: Duration,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        hup: None,
        dev: "nlmon0".into(),
        quiet: Duration::from_secs(10),
        max: Duration::from_secs(300),
    };
    let mut it = std::env::args().skip(1);
    let mut watch = false;
    while let Some(flag) = it.next() {
        if flag == "--watch" {
            watch = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let secs = || {
            value
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{flag}: not a number of seconds: {value}"))
        };
        match flag.as_str() {
            "--hup" => {
                out.hup = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--hup: not a pid: {value}"))?,
                )
            }
            "--dev" => out.dev = value.clone(),
            "--quiet" => out.quiet = secs()?,
            "--max" => out.max = secs()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    match out.hup {
        Some(pid) if pid <= 0 => return Err(format!("--hup: not a pid: {pid}")),
        Some(_) if watch => return Err("--hup and --watch exclude each other".into()),
        None if !watch => return Err("--hup PID or --watch is required".into()),
        _ => {}
    }
    Ok(out)
}

/// A packet socket seeing every interface (the nlmon device's frames are picked by index),
/// with a large buffer and a short receive timeout.
fn open(dev: &str) -> Result<(OwnedFd, usize), String> {
    let index = if_nametoindex(dev).map_err(|e| format!("no device {dev}: {e}"))? as usize;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::empty(),
        SockProtocol::EthAll,
    )
    .map_err(|e| format!("socket: {e}"))?;
    // Best effort: a smaller buffer only risks drops while a daemon floods the table.
    let _ = setsockopt(&fd, sockopt::RcvBufForce, &(256 << 20));
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 100_000))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    Ok((fd, index))
}

/// The changing IPVS commands of one captured frame (one or more netlink messages).
fn commands(frame: &[u8], out: &mut Vec<u8>) {
    let mut at = 0;
    while frame.len() >= at + 20 {
        let word =
            |i: usize| u32::from_ne_bytes([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
        let half = |i: usize| u16::from_ne_bytes([frame[i], frame[i + 1]]);
        let len = word(at) as usize;
        let kind = half(at + 4);
        let flags = half(at + 6);
        if len < 16 || at + len > frame.len() {
            return;
        }
        if kind != GENL_ID_CTRL && kind >= 16 && flags & NLM_F_REQUEST != 0 && len >= 20 {
            out.push(frame[at + 16]);
        }
        at += (len + 3) & !3;
    }
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nl-count: {e}");
            std::process::exit(2);
        }
    };
    let (fd, index) = match open(&args.dev) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("nl-count: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    if let Some(pid) = args.hup
        && let Err(e) = kill(Pid::from_raw(pid), Signal::SIGHUP)
    {
        eprintln!("nl-count: kill: {e}");
        std::process::exit(2);
    }
    let mut counts = [0u64; SLOTS.len()];
    let mut first: Option<Duration> = None;
    let mut last: Option<Duration> = None;
    let mut frames = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut cmds = Vec::new();
    let mut timed_out = false;
    loop {
        let now = start.elapsed();
        if last.is_some_and(|l| now.saturating_sub(l) >= args.quiet) {
            break;
        }
        if now >= args.max {
            timed_out = true;
            break;
        }
        let Ok((n, Some(from))) = recvfrom::<LinkAddr>(fd.as_raw_fd(), &mut buf) else {
            continue;
        };
        if from.ifindex() != index || u16::from_be(from.protocol()) != NETLINK_GENERIC {
            continue;
        }
        frames += 1;
        cmds.clear();
        commands(&buf[..n.min(buf.len())], &mut cmds);
        for &cmd in &cmds {
            if let Some(slot) = command_slot(cmd) {
                counts[slot] += 1;
                let at = start.elapsed();
                first.get_or_insert(at);
                last = Some(at);
            }
        }
    }
    let ms = |d: Option<Duration>| d.map_or(-1.0, |d| d.as_secs_f64() * 1000.0);
    let mut line = format!(
        "commands {} first_ms {:.1} last_ms {:.1}",
        counts.iter().sum::<u64>(),
        ms(first),
        ms(last)
    );
    for (name, count) in SLOTS.iter().zip(counts) {
        line.push_str(&format!(" {name} {count}"));
    }
    line.push_str(&format!(
        " genl_frames {frames} timed_out {}",
        u8::from(timed_out)
    ));
    println!("{line}");
}
