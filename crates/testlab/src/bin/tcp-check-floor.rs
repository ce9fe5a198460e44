//! The least a TCP health checker can cost, for the checker benchmark: every second, a full
//! TCP connection to each target (a non-blocking `socket` made with `SOCK_NONBLOCK |
//! SOCK_CLOEXEC`, `connect`, one `epoll_ctl` to watch it, success on writable without error,
//! then `close`), the connections spread over the second, one `epoll_wait` loop, no logging
//! and no state besides the sockets. Its CPU time is the kernel's work for the TCP
//! connections plus a few system calls each: a floor no checker doing full connections can go
//! under. Runs until killed.
//!
//! Usage: `tcp-check-floor PREFIX COUNT PORT...` checks PREFIX1 to PREFIXCOUNT (e.g.
//! `203.0.113.` and 250) on each port.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use socket2::{Domain, Socket, Type};

fn targets() -> Result<Vec<SocketAddr>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prefix, count, ports @ ..] = args.as_slice() else {
        return Err("usage: tcp-check-floor PREFIX COUNT PORT...".into());
    };
    let count: u8 = count.parse().map_err(|_| format!("not a count: {count}"))?;
    let mut targets = Vec::new();
    for port in ports {
        let port: u16 = port.parse().map_err(|_| format!("not a port: {port}"))?;
        for host in 1..=count {
            let addr: Ipv4Addr = format!("{prefix}{host}")
                .parse()
                .map_err(|_| format!("not an address: {prefix}{host}"))?;
            targets.push(SocketAddr::from((addr, port)));
        }
    }
    Ok(targets)
}

/// Slots a second is cut into: each target is connected to in its own slot, spread over the
/// second as a checker's scattered timers spread its checks (a burst of 1,000 connections
/// overflows the servers' listen backlogs).
const SLOTS: usize = 100;

/// The connections in flight, by target: the socket and when it was started.
type InFlight = Vec<Option<(Socket, Instant)>>;

/// Starts a connection to `target` (slot `i`); false when it failed at once.
fn start(epoll: &Epoll, open: &mut InFlight, i: usize, target: SocketAddr) -> bool {
    let Ok(socket) = Socket::new(Domain::IPV4, Type::STREAM.nonblocking().cloexec(), None) else {
        return false;
    };
    match socket.connect(&target.into()) {
        Ok(()) => return true,
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        Err(_) => return false,
    }
    let event = EpollEvent::new(EpollFlags::EPOLLOUT, i as u64);
    if epoll.add(&socket, event).is_err() {
        return false;
    }
    open[i] = Some((socket, Instant::now()));
    true
}

/// Handles the events of the epoll set until `until`; counts the connections established
/// and failed (an error, or not established within a second).
fn wait(epoll: &Epoll, open: &mut InFlight, until: Instant, ok: &mut u64, failed: &mut u64) {
    let mut events = vec![EpollEvent::empty(); 256];
    // At least one look at the set, also when behind time (a slow guest cannot start 1,000
    // connections a second): the events are never left unread.
    let mut first = true;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() && !first {
            break;
        }
        first = false;
        let timeout = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let Ok(n) = epoll.wait(&mut events, timeout) else {
            continue;
        };
        if n == 0 && left.is_zero() {
            break;
        }
        for event in &events[..n] {
            let Some(slot) = usize::try_from(event.data())
                .ok()
                .and_then(|i| open.get_mut(i))
            else {
                continue;
            };
            // Closing the socket also takes it out of the epoll set.
            if slot.take().is_some() {
                if event
                    .events()
                    .intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
                {
                    *failed += 1;
                } else {
                    *ok += 1;
                }
            }
        }
    }
    for slot in open.iter_mut() {
        if slot
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(1))
        {
            *slot = None;
            *failed += 1;
        }
    }
}

fn main() {
    let targets = match targets() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tcp-check-floor: {e}");
            std::process::exit(2);
        }
    };
    let epoll = match Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tcp-check-floor: epoll: {e}");
            std::process::exit(1);
        }
    };
    let mut open: InFlight = targets.iter().map(|_| None).collect();
    let (mut ok, mut failed) = (0u64, 0u64);
    let slot = Duration::from_secs(1) / SLOTS as u32;
    let mut next = Instant::now();
    for round in 1u64.. {
        for s in 0..SLOTS {
            for i in (s * targets.len() / SLOTS)..((s + 1) * targets.len() / SLOTS) {
                if open[i].is_none() && !start(&epoll, &mut open, i, targets[i]) {
                    failed += 1;
                }
            }
            next += slot;
            wait(&epoll, &mut open, next, &mut ok, &mut failed);
        }
        if round % 10 == 0 {
            eprintln!("tcp-check-floor: {ok} established, {failed} failed");
        }
    }
}
