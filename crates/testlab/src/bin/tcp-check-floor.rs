//! The least a TCP health checker can cost, for the checker benchmark: every second, a full
//! TCP connection to each target (a non-blocking `socket` made with `SOCK_NONBLOCK |
//! SOCK_CLOEXEC`, `connect`, one `epoll_ctl` to watch it, success on writable without error,
//! then `close`), all the second's connections in one batch and one `epoll_wait` loop, no
//! logging and no state besides the sockets. Its CPU time is the kernel's work for the TCP
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

/// One second's batch: connects to every target, waits (at most `limit`) for each to be
/// established or fail, closes them all; returns the number established.
fn batch(epoll: &Epoll, targets: &[SocketAddr], limit: Duration) -> usize {
    let mut open: Vec<Option<Socket>> = Vec::with_capacity(targets.len());
    let mut pending = 0;
    let mut ok = 0;
    for (i, target) in targets.iter().enumerate() {
        let socket = match Socket::new(Domain::IPV4, Type::STREAM.nonblocking().cloexec(), None) {
            Ok(s) => s,
            Err(_) => {
                open.push(None);
                continue;
            }
        };
        match socket.connect(&(*target).into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
            Err(_) => {
                open.push(None);
                continue;
            }
        }
        let event = EpollEvent::new(EpollFlags::EPOLLOUT | EpollFlags::EPOLLET, i as u64);
        if epoll.add(&socket, event).is_err() {
            open.push(None);
            continue;
        }
        open.push(Some(socket));
        pending += 1;
    }
    let deadline = Instant::now() + limit;
    let mut events = vec![EpollEvent::empty(); 256];
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let Ok(n) = epoll.wait(&mut events, timeout) else {
            continue;
        };
        for event in &events[..n] {
            let Some(slot) = usize::try_from(event.data())
                .ok()
                .and_then(|i| open.get_mut(i))
            else {
                continue;
            };
            // Closing the socket also takes it out of the epoll set.
            if slot.take().is_some() {
                pending -= 1;
                if !event
                    .events()
                    .intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
                {
                    ok += 1;
                }
            }
        }
    }
    ok
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
    let start = Instant::now();
    let mut next = start;
    loop {
        let ok = batch(&epoll, &targets, Duration::from_secs(1));
        if ok < targets.len() && start.elapsed() > Duration::from_secs(5) {
            eprintln!("tcp-check-floor: {ok} of {} established", targets.len());
        }
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}
