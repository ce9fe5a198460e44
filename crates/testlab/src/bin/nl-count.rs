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
//!
//! It stays out of the measured daemon's way: frames are timed by the kernel as it captures
//! them (`SO_TIMESTAMPNS`), and the socket is drained every [`BATCH`] instead of being woken
//! for each frame. (Woken per frame, on the guests' one CPU it took more CPU time during a
//! start-up of 39,000 commands than the daemon it watched.)

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::net::if_::if_nametoindex;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType,
    recvmsg, setsockopt, socket, sockopt,
};
use nix::unistd::Pid;

/// `NETLINK_GENERIC`.
const NETLINK_GENERIC: u16 = 16;
/// `GENL_ID_CTRL`: the controller's own family, not IPVS.
const GENL_ID_CTRL: u16 = 16;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// How long it sleeps between two drains of its socket.
const BATCH: Duration = Duration::from_millis(20);

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

/// A non-blocking packet socket seeing every interface (the nlmon device's frames are picked
/// by index), with a large buffer and the kernel's capture time on each frame.
fn open(dev: &str) -> Result<(OwnedFd, usize), String> {
    let index = if_nametoindex(dev).map_err(|e| format!("no device {dev}: {e}"))? as usize;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK,
        SockProtocol::EthAll,
    )
    .map_err(|e| format!("socket: {e}"))?;
    // Best effort: a smaller buffer only risks drops while a daemon floods the table.
    let _ = setsockopt(&fd, sockopt::RcvBufForce, &(256 << 20));
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true)
        .map_err(|e| format!("SO_TIMESTAMPNS: {e}"))?;
    Ok((fd, index))
}

/// One captured frame: its length, the interface and protocol it came by, and when the kernel
/// captured it (`None` when the frame carried no time).
struct Frame {
    len: usize,
    ifindex: usize,
    protocol: u16,
    at: Option<SystemTime>,
}

/// The next queued frame, or `None` when the queue is empty (or the socket fails).
fn next_frame(fd: &OwnedFd, buf: &mut [u8], cmsg: &mut Vec<u8>) -> Option<Frame> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg =
        match recvmsg::<LinkAddr>(fd.as_raw_fd(), &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT) {
            Ok(msg) => msg,
            Err(Errno::EINTR) => return next_frame(fd, buf, cmsg),
            Err(_) => return None,
        };
    let at = msg.cmsgs().ok().and_then(|mut all| {
        all.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => Some(
                SystemTime::UNIX_EPOCH
                    + Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().max(0) as u32),
            ),
            _ => None,
        })
    });
    let from = msg.address?;
    Some(Frame {
        len: msg.bytes,
        ifindex: from.ifindex(),
        protocol: u16::from_be(from.protocol()),
        at,
    })
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
    let start = SystemTime::now();
    let since_start = |t: SystemTime| t.duration_since(start).unwrap_or_default();
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
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut cmds = Vec::new();
    let mut timed_out = false;
    loop {
        while let Some(frame) = next_frame(&fd, &mut buf, &mut cmsg) {
            if frame.ifindex != index || frame.protocol != NETLINK_GENERIC {
                continue;
            }
            frames += 1;
            cmds.clear();
            commands(&buf[..frame.len.min(buf.len())], &mut cmds);
            let at = since_start(frame.at.unwrap_or_else(SystemTime::now));
            for &cmd in &cmds {
                if let Some(slot) = command_slot(cmd) {
                    counts[slot] += 1;
                    first.get_or_insert(at);
                    last = Some(at);
                }
            }
        }
        let now = since_start(SystemTime::now());
        if last.is_some_and(|l| now.saturating_sub(l) >= args.quiet) {
            break;
        }
        if now >= args.max {
            timed_out = true;
            break;
        }
        std::thread::sleep(BATCH);
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
