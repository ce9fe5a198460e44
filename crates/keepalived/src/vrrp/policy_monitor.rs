//! Tracked virtual routes and rules: keepalived 2.2.7 watches the routes and rules it set
//! (those without `no_track`, marked `proto keepalived`) and a master whose route or rule is
//! deleted by someone else steps down and sets everything again (observed, see
//! docs/compat.md "Routes, rules and static blocks").
//!
//! A netlink route socket (rtnetlink(7)) subscribed to the IPv4 and IPv6 route and rule
//! groups; RTM_DELROUTE carries an `rtmsg` (family, destination length, table, protocol, …)
//! then attributes (RTA_DST, RTA_TABLE), RTM_DELRULE a `fib_rule_hdr` then attributes
//! (FRA_PRIORITY, FRA_TABLE, FRA_PROTOCOL).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{MsgFlags, NetlinkAddr, bind};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

const NETLINK_ROUTE: i32 = 0;
/// RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE, RTMGRP_IPV6_ROUTE and RTNLGRP_IPV6_RULE (19) as a
/// bit.
const GROUPS: u32 = 0x40 | 0x80 | 0x400 | (1 << (19 - 1));
const RTM_DELROUTE: u16 = 25;
const RTM_DELRULE: u16 = 33;
const RTA_DST: u16 = 1;
const RTA_TABLE: u16 = 15;
const FRA_PRIORITY: u16 = 6;
const FRA_TABLE: u16 = 15;
const FRA_PROTOCOL: u16 = 21;
/// RTPROT_KEEPALIVED: what keepalived marks its tracked routes and rules with.
pub const RTPROT_KEEPALIVED: u8 = 18;

/// A route or rule of keepalived's (`proto keepalived`) was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// A route.
    Route {
        /// Its destination.
        destination: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// Its table.
        table: u32,
    },
    /// A rule.
    Rule {
        /// IPv6.
        ipv6: bool,
        /// Its preference.
        priority: u32,
    },
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The attributes after a 12-byte header: (type, data).
fn attributes(mut attrs: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = usize::from(len);
        if len < 4 || len > attrs.len() {
            break;
        }
        out.push((kind & 0x3fff, &attrs[4..len]));
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

/// The deletions of keepalived's routes and rules in a datagram of netlink messages.
pub fn parse(mut buf: &[u8]) -> Vec<Deleted> {
    let mut out = Vec::new();
    while let Some(len) = u32_at(buf, 0) {
        let len = len as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let kind = u16_at(buf, 4).unwrap_or(0);
        let body = &buf[16..len];
        let found = match kind {
            RTM_DELROUTE => route(body),
            RTM_DELRULE => rule(body),
            _ => None,
        };
        out.extend(found);
        buf = buf.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

/// An `rtmsg` of protocol keepalived.
fn route(m: &[u8]) -> Option<Deleted> {
    let (family, prefix_len, table, protocol) = (*m.first()?, *m.get(1)?, *m.get(4)?, *m.get(5)?);
    if protocol != RTPROT_KEEPALIVED {
        return None;
    }
    let mut table = u32::from(table);
    let mut destination = match family {
        2 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        10 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    for (kind, data) in attributes(m.get(12..)?) {
        match (kind, family, data.len()) {
            (RTA_TABLE, _, 4) => table = u32_at(data, 0)?,
            (RTA_DST, 2, 4) => {
                destination = IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3]))
            }
            (RTA_DST, 10, 16) => {
                destination = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))
            }
            _ => {}
        }
    }
    Some(Deleted::Route {
        destination,
        prefix_len,
        table,
    })
}

/// A `fib_rule_hdr` of protocol keepalived.
fn rule(m: &[u8]) -> Option<Deleted> {
    let family = *m.first()?;
    let mut priority = 0;
    let mut protocol = 0;
    for (kind, data) in attributes(m.get(12..)?) {
        match (kind, data.len()) {
            (FRA_PRIORITY, 4) => priority = u32_at(data, 0)?,
            (FRA_PROTOCOL, 1) => protocol = data[0],
            (FRA_TABLE, _) => {}
            _ => {}
        }
    }
    (protocol == RTPROT_KEEPALIVED).then_some(Deleted::Rule {
        ipv6: family == 10,
        priority,
    })
}

/// The deletions of keepalived's routes and rules in this namespace from now on (a task on
/// the current `LocalSet`). The channel closes if the socket fails.
pub fn watch() -> std::io::Result<tokio::sync::mpsc::UnboundedReceiver<Deleted>> {
    let socket = Socket::new(
        Domain::from(nix::sys::socket::AddressFamily::Netlink as i32),
        Type::DGRAM.cloexec().nonblocking(),
        Some(Protocol::from(NETLINK_ROUTE)),
    )?;
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, GROUPS))?;
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(OwnedFd::from(socket)))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 64 * 1024];
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
                    for deleted in parse(buf.get(..len).unwrap_or_default()) {
                        if tx.send(deleted).is_err() {
                            return;
                        }
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                // ENOBUFS: some messages were lost; go on with the next ones.
                Err(err) if err.raw_os_error() == Some(105) => {}
                Err(_) => return,
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, header: [u8; 12], attrs: &[(u16, &[u8])]) -> Vec<u8> {
        crate::vrrp::address_monitor::netlink_message(kind, &header, attrs)
    }

    #[test]
    fn only_keepalived_routes_and_rules_count() {
        // 198.51.100.0/24 in main (254), proto keepalived.
        let mut buf = message(
            RTM_DELROUTE,
            [2, 24, 0, 0, 254, 18, 0, 1, 0, 0, 0, 0],
            &[
                (RTA_TABLE, &254u32.to_ne_bytes()),
                (RTA_DST, &[198, 51, 100, 0]),
            ],
        );
        // The same from the kernel (proto 2): not ours.
        buf.extend(message(
            RTM_DELROUTE,
            [2, 24, 0, 0, 254, 2, 0, 1, 0, 0, 0, 0],
            &[(RTA_DST, &[198, 51, 100, 0])],
        ));
        buf.extend(message(
            RTM_DELRULE,
            [2, 0, 32, 0, 100, 0, 0, 1, 0, 0, 0, 0],
            &[
                (FRA_PRIORITY, &16384u32.to_ne_bytes()),
                (FRA_PROTOCOL, &[18]),
            ],
        ));
        buf.extend(message(
            RTM_DELRULE,
            [2, 0, 32, 0, 100, 0, 0, 1, 0, 0, 0, 0],
            &[(FRA_PRIORITY, &100u32.to_ne_bytes())],
        ));
        assert_eq!(
            parse(&buf),
            vec![
                Deleted::Route {
                    destination: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 0)),
                    prefix_len: 24,
                    table: 254,
                },
                Deleted::Rule {
                    ipv6: false,
                    priority: 16384,
                },
            ]
        );
        assert!(parse(&[1, 2]).is_empty());
    }
}
