//! The kernel's process connector (netlink `NETLINK_CONNECTOR`, `CN_IDX_PROC`; the kernel's
//! Documentation/driver-api/connector.rst and include/uapi/linux/cn_proc.h): one message per
//! fork, exec, name change and exit of any process on the host, once subscribed with
//! `PROC_CN_MCAST_LISTEN`.
//!
//! The kernel answers only sockets of the initial network namespace: elsewhere the
//! subscription fails with ECONNREFUSED (errno 111), as keepalived 2.2.7 logs it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, NetlinkAddr, bind, recv, send};
use socket2::{Domain, Protocol, Socket, Type};

/// `NETLINK_CONNECTOR`.
const NETLINK_CONNECTOR: i32 = 11;
/// `CN_IDX_PROC` / `CN_VAL_PROC`: the process connector's id (and multicast group).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
/// `PROC_CN_MCAST_LISTEN`.
const MCAST_LISTEN: u32 = 1;
/// `NLMSG_DONE`, the type a connector message travels as.
const NLMSG_DONE: u16 = 3;
/// Sizes of `struct nlmsghdr` and `struct cn_msg`.
const NLMSG_HDR: usize = 16;
const CN_MSG_HDR: usize = 20;

/// `enum what` of `struct proc_event`.
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 0x1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One process event, for processes (thread events are left out, as keepalived does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    /// The answer to the subscription: 0 when it took.
    Ack(u32),
    /// `parent` forked `child`.
    Fork {
        /// The parent process.
        parent: u32,
        /// The new process.
        child: u32,
    },
    /// The process exec'd a new program.
    Exec(u32),
    /// The process changed its name to this.
    Comm(u32, Vec<u8>),
    /// The process exited.
    Exit(u32),
}

/// Why the connector cannot be used, worded as keepalived 2.2.7 logs it.
#[derive(Debug)]
pub struct Unavailable {
    /// The log line.
    pub line: String,
}

fn unavailable(what: &str, errno: Errno) -> Unavailable {
    Unavailable {
        line: format!("{what} - errno {} - {}", errno as i32, errno.desc()),
    }
}

/// Opens a non-blocking process-connector socket and subscribes to the events.
pub fn open() -> Result<Socket, Unavailable> {
    let errno = |e: io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(0));
    let socket = Socket::new(
        Domain::from(libc_af_netlink()),
        Type::DGRAM.cloexec().nonblocking(),
        Some(Protocol::from(NETLINK_CONNECTOR)),
    )
    .map_err(|e| unavailable("Failed to open process monitoring socket", errno(e)))?;
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, CN_IDX_PROC))
        .map_err(|e| unavailable("Failed to bind to process monitoring socket", e))?;
    // Events come in bursts (a busy build forks thousands of processes a second).
    crate::rcv_bufs::process_monitor(&socket);
    send(socket.as_raw_fd(), &subscribe_message(), MsgFlags::empty())
        .map_err(|e| unavailable("Failed to set/clear process event listen", e))?;
    Ok(socket)
}

/// `AF_NETLINK`.
fn libc_af_netlink() -> i32 {
    nix::sys::socket::AddressFamily::Netlink as i32
}

/// The netlink message that asks for the events: nlmsghdr, cn_msg, then the operation.
pub fn subscribe_message() -> Vec<u8> {
    let total = NLMSG_HDR + CN_MSG_HDR + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&u32::try_from(total).unwrap_or(40).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&MCAST_LISTEN.to_ne_bytes());
    m
}

/// What one read from the socket gave.
#[derive(Debug)]
pub enum Received {
    /// These events (possibly none).
    Events(Vec<ProcEvent>),
    /// Nothing more to read now.
    WouldBlock,
    /// The kernel dropped events (ENOBUFS): the counts must be taken again.
    Lost,
    /// Another error.
    Failed(Errno),
}

/// Reads one datagram from `fd` without blocking.
pub fn receive(fd: RawFd, buf: &mut [u8]) -> Received {
    match recv(fd, buf, MsgFlags::MSG_DONTWAIT) {
        Ok(len) => Received::Events(parse(buf.get(..len).unwrap_or_default())),
        Err(Errno::EAGAIN) => Received::WouldBlock,
        Err(Errno::ENOBUFS) => Received::Lost,
        Err(e) => Received::Failed(e),
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The process events in a datagram of netlink messages; anything malformed or foreign is
/// skipped.
pub fn parse(mut buf: &[u8]) -> Vec<ProcEvent> {
    let mut events = Vec::new();
    while let Some(len) = u32_at(buf, 0) {
        let len = len as usize;
        if len < NLMSG_HDR || len > buf.len() {
            break;
        }
        if let Some(event) = parse_message(&buf[NLMSG_HDR..len]) {
            events.push(event);
        }
        // Messages are aligned to 4 bytes.
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or_default();
    }
    events
}

/// One connector message: cn_msg then proc_event (`what`, cpu, timestamp, data).
fn parse_message(m: &[u8]) -> Option<ProcEvent> {
    if u32_at(m, 0)? != CN_IDX_PROC || u32_at(m, 4)? != CN_VAL_PROC {
        return None;
    }
    let data_len = usize::from(u16_at(m, 16)?);
    let ev = m.get(CN_MSG_HDR..CN_MSG_HDR + data_len)?;
    let what = u32_at(ev, 0)?;
    // The event's own data starts after what (4), cpu (4) and the timestamp (8).
    let d = ev.get(16..)?;
    match what {
        PROC_EVENT_NONE => Some(ProcEvent::Ack(u32_at(d, 0)?)),
        PROC_EVENT_FORK => {
            let (child_pid, child_tgid) = (u32_at(d, 8)?, u32_at(d, 12)?);
            (child_pid == child_tgid).then_some(ProcEvent::Fork {
                parent: u32_at(d, 4)?,
                child: child_tgid,
            })
        }
        PROC_EVENT_EXEC | PROC_EVENT_COMM | PROC_EVENT_EXIT => {
            let (pid, tgid) = (u32_at(d, 0)?, u32_at(d, 4)?);
            if pid != tgid {
                return None;
            }
            Some(match what {
                PROC_EVENT_EXEC => ProcEvent::Exec(tgid),
                PROC_EVENT_EXIT => ProcEvent::Exit(tgid),
                _ => {
                    let raw = d.get(8..24)?;
                    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                    ProcEvent::Comm(tgid, raw[..end].to_vec())
                }
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(what: u32, data: &[u32], tail: &[u8]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes());
        ev.extend_from_slice(&0u64.to_ne_bytes());
        for d in data {
            ev.extend_from_slice(&d.to_ne_bytes());
        }
        ev.extend_from_slice(tail);
        let total = NLMSG_HDR + CN_MSG_HDR + ev.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        m.extend_from_slice(&[0; 2]);
        m.extend_from_slice(&ev);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn events_are_read_and_threads_left_out() {
        let mut buf = message(PROC_EVENT_FORK, &[1, 1, 7, 7], &[]);
        buf.extend(message(PROC_EVENT_FORK, &[7, 7, 8, 7], &[]));
        buf.extend(message(PROC_EVENT_EXEC, &[7, 7], &[]));
        let mut comm = *b"newname\0\0\0\0\0\0\0\0\0";
        comm[15] = 0;
        buf.extend(message(PROC_EVENT_COMM, &[7, 7], &comm));
        buf.extend(message(PROC_EVENT_EXIT, &[7, 7, 0, 17], &[]));
        buf.extend(message(PROC_EVENT_NONE, &[0], &[]));
        assert_eq!(
            parse(&buf),
            vec![
                ProcEvent::Fork {
                    parent: 1,
                    child: 7
                },
                ProcEvent::Exec(7),
                ProcEvent::Comm(7, b"newname".to_vec()),
                ProcEvent::Exit(7),
                ProcEvent::Ack(0),
            ]
        );
    }

    #[test]
    fn garbage_is_skipped() {
        assert_eq!(parse(&[1, 2, 3]), vec![]);
        assert_eq!(parse(&[255; 64]), vec![]);
        let mut short = message(PROC_EVENT_EXEC, &[7, 7], &[]);
        short.truncate(30);
        assert_eq!(parse(&short), vec![]);
    }

    #[test]
    fn the_subscription_is_40_bytes() {
        let m = subscribe_message();
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 36), Some(MCAST_LISTEN));
    }
}
