//! `-a` / `--address-monitoring`: every address the kernel reports is logged, as keepalived
//! 2.2.7 does with `-a` (observed): at start each address present, then each change, as
//! `Netlink reflector reports IP ADDR added to IF` / `Netlink reflector reports IP ADDR removed
//! from IF`. Like 2.2.7, the daemon's own VIPs are left out (their changes have lines of
//! their own).
//!
//! A netlink route socket (rtnetlink(7)) subscribed to RTMGRP_IPV4_IFADDR and
//! RTMGRP_IPV6_IFADDR, then a dump of the addresses (RTM_GETADDR); messages are `ifaddrmsg`
//! followed by attributes (IFA_LOCAL, else IFA_ADDRESS).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{MsgFlags, NetlinkAddr, bind, send};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::logger::Logger;

const NETLINK_ROUTE: i32 = 0;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// One address change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressChange {
    /// Added (true) or removed.
    pub added: bool,
    /// The address.
    pub address: IpAddr,
    /// The interface index.
    pub index: u32,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The address changes in a datagram of netlink messages (others skipped).
pub fn parse(mut buf: &[u8]) -> Vec<AddressChange> {
    let mut out = Vec::new();
    while let Some(len) = u32_at(buf, 0) {
        let len = len as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let kind = u16_at(buf, 4).unwrap_or(0);
        if (kind == RTM_NEWADDR || kind == RTM_DELADDR)
            && let Some(change) = parse_addr(&buf[16..len], kind == RTM_NEWADDR)
        {
            out.push(change);
        }
        buf = buf.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

/// `ifaddrmsg` (family, prefixlen, flags, scope, index) then the attributes.
fn parse_addr(m: &[u8], added: bool) -> Option<AddressChange> {
    let family = *m.first()?;
    let index = u32_at(m, 4)?;
    let mut attrs = m.get(8..)?;
    let (mut local, mut address) = (None, None);
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = usize::from(len);
        if len < 4 || len > attrs.len() {
            break;
        }
        let data = &attrs[4..len];
        let ip = match (family, data.len()) {
            (2, 4) => Some(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (10, 16) => <[u8; 16]>::try_from(data)
                .ok()
                .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
            _ => None,
        };
        match kind {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            _ => {}
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    Some(AddressChange {
        added,
        address: local.or(address)?,
        index,
    })
}

/// The log line for `change` on interface `ifname`.
pub fn line(change: &AddressChange, ifname: &str) -> String {
    let (verb, to) = if change.added {
        ("added", "to")
    } else {
        ("removed", "from")
    };
    format!(
        "Netlink reflector reports IP {} {verb} {to} {ifname}",
        change.address
    )
}

/// The name of interface `index` (from /sys/class/net, which `ip netns exec` mounts for the
/// namespace), or its number.
fn ifname(index: u32) -> String {
    let found = std::fs::read_dir("/sys/class/net").ok().and_then(|dir| {
        dir.flatten().find_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("ifindex")).ok()?;
            (text.trim().parse::<u32>().ok()? == index)
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
    });
    found.unwrap_or_else(|| index.to_string())
}

/// The dump request: nlmsghdr then an `ifaddrmsg` of family AF_UNSPEC.
fn dump_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(24);
    m.extend_from_slice(&24u32.to_ne_bytes());
    m.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0u8; 8]);
    m
}

/// A netlink route socket subscribed to address changes, asking for a dump of the present
/// addresses when `dump` is set.
fn open(dump: bool) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::from(nix::sys::socket::AddressFamily::Netlink as i32),
        Type::DGRAM.cloexec().nonblocking(),
        Some(Protocol::from(NETLINK_ROUTE)),
    )?;
    bind(
        socket.as_raw_fd(),
        &NetlinkAddr::new(0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR),
    )?;
    if dump {
        send(socket.as_raw_fd(), &dump_request(), MsgFlags::empty())?;
    }
    UdpSocket::from_std(std::net::UdpSocket::from(OwnedFd::from(socket)))
}

/// Hands every batch of address changes read from `socket` to `each` until the socket fails
/// (then `failed` is told why).
async fn read_changes(
    socket: UdpSocket,
    mut each: impl FnMut(Vec<AddressChange>) -> bool,
    failed: impl FnOnce(std::io::Error),
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if socket.readable().await.is_err() {
            return;
        }
        let got = socket.try_io(Interest::READABLE, || {
            nix::sys::socket::recv(socket.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT)
                .map_err(std::io::Error::from)
        });
        match got {
            Ok(len) => {
                if !each(parse(buf.get(..len).unwrap_or_default())) {
                    return;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) => return failed(err),
        }
    }
}

/// Starts logging the addresses (a task on the current `LocalSet`) other than `vips`; a socket
/// that cannot be opened is logged and nothing more happens.
pub fn spawn(logger: Logger, vips: Vec<IpAddr>) {
    let socket = match open(true) {
        Ok(socket) => socket,
        Err(err) => {
            logger.info(&format!("Cannot monitor addresses: {err}"));
            return;
        }
    };
    let failed = logger.clone();
    tokio::task::spawn_local(read_changes(
        socket,
        move |changes| {
            for change in changes.iter().filter(|c| !vips.contains(&c.address)) {
                logger.info(&line(change, &ifname(change.index)));
            }
            true
        },
        move |err| failed.info(&format!("Address monitoring stopped: {err}")),
    ));
}

/// The address changes of this namespace from now on, for the VRRP driver (a task on the
/// current `LocalSet`): an instance's interface losing or gaining its address, a
/// `unicast_src_ip` appearing. The channel closes if the socket fails.
pub fn watch() -> std::io::Result<tokio::sync::mpsc::UnboundedReceiver<AddressChange>> {
    let socket = open(false)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::task::spawn_local(read_changes(
        socket,
        move |changes| changes.into_iter().all(|c| tx.send(c).is_ok()),
        |_| {},
    ));
    Ok(rx)
}

/// A netlink message of type `kind` (for the monitors' tests): the 16-byte header, the
/// family-specific `header`, then `attrs` as 4-byte-aligned attributes.
#[cfg(test)]
pub(crate) fn netlink_message(kind: u16, header: &[u8], attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = header.to_vec();
    for (t, data) in attrs {
        let len = 4 + data.len();
        body.extend_from_slice(&(len as u16).to_ne_bytes());
        body.extend_from_slice(&t.to_ne_bytes());
        body.extend_from_slice(data);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&[0; 10]);
    m.extend(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, family: u8, index: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut header = vec![family, 24, 0, 0];
        header.extend_from_slice(&index.to_ne_bytes());
        netlink_message(kind, &header, attrs)
    }

    #[test]
    fn changes_are_read_and_worded() {
        let mut buf = message(
            RTM_NEWADDR,
            2,
            3,
            &[(IFA_ADDRESS, &[192, 0, 2, 1]), (IFA_LOCAL, &[192, 0, 2, 5])],
        );
        let v6: [u8; 16] = "2001:db8::1".parse::<Ipv6Addr>().expect("v6").octets();
        buf.extend(message(RTM_DELADDR, 10, 4, &[(IFA_ADDRESS, &v6)]));
        buf.extend(message(16, 0, 1, &[]));
        let changes = parse(&buf);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            line(&changes[0], "eth0"),
            "Netlink reflector reports IP 192.0.2.5 added to eth0"
        );
        assert_eq!(
            line(&changes[1], "eth1"),
            "Netlink reflector reports IP 2001:db8::1 removed from eth1"
        );
        assert_eq!(parse(&[1, 2, 3]), vec![]);
    }
}
