//! The raw IPv6 socket that carries VRRP (next header 112) on one interface (RFC 5798 section
//! 5.1.2).
//!
//! One [`VrrpSocket6`] per interface receives every IPv6 VRID on it and sends the adverts of
//! every IPv6 instance on it. A raw IPv6 socket never sees or writes the IPv6 header, so the
//! per-packet facts travel as ancillary data: sending passes `IPV6_PKTINFO` (the source address,
//! normally the interface's link-local one, and the interface) and `IPV6_HOPLIMIT`; receiving
//! asks for `IPV6_PKTINFO` (the destination, which the VRRPv3 checksum covers) and
//! `IPV6_HOPLIMIT` (which must be 255 for multicast adverts, RFC 5798 section 7.1). The socket is
//! not bound to an address, so adverts to ff02::12 and to any of our unicast addresses arrive.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, sendmsg, setsockopt,
    sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;

use crate::interface::Interface;
use crate::ready_set::{new_token, wait_once};
use crate::vrrp_socket::{IPPROTO_VRRP, RECV_BUFFER_BYTES, VRRP_TOS};

/// The IPv6 multicast group of VRRP (RFC 5798 section 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// How many times a send that finds the socket's buffer full waits for room before it fails.
const SEND_ATTEMPTS: u32 = 8;

/// Hop limit of multicast adverts; a receiver drops others (RFC 5798 sections 5.1.2.3, 7.1).
pub const VRRP_HOP_LIMIT: u8 = 255;

/// One VRRP message received on a [`VrrpSocket6`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received6 {
    /// Source address of the IPv6 header.
    pub src: Ipv6Addr,
    /// Destination address of the IPv6 header (ff02::12, or our unicast address).
    pub dst: Ipv6Addr,
    /// Hop limit of the IPv6 header.
    pub hop_limit: u8,
    /// Length of the VRRP message at the start of the caller's buffer.
    pub len: usize,
}

/// A raw IPPROTO_VRRP IPv6 socket bound to one interface, member of ff02::12 there. Not
/// registered with tokio, as [`crate::vrrp_socket::VrrpSocket`].
#[derive(Debug)]
pub struct VrrpSocket6 {
    /// The raw socket, non-blocking.
    socket: Socket,
    token: u64,
    ifindex: u32,
}

impl VrrpSocket6 {
    /// Opens the socket on `iface` and joins `group` there (normally [`VRRP_GROUP_V6`]; None
    /// or a group that is not multicast: unicast peers only). Needs CAP_NET_RAW.
    ///
    /// Socket options: `SO_BINDTODEVICE`, `IPV6_MULTICAST_IF` (the interface),
    /// `IPV6_MULTICAST_HOPS` 255, `IPV6_MULTICAST_LOOP` 0 (we never hear our own adverts),
    /// `IPV6_TCLASS` 0xc0 (as keepalived 2.2.7 sends), `IPV6_RECVPKTINFO` and
    /// `IPV6_RECVHOPLIMIT`, non-blocking.
    pub fn open(iface: &Interface, group: Option<Ipv6Addr>) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::IPV6,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )?;
        socket.bind_device(Some(iface.name.as_bytes()))?;
        socket.set_multicast_if_v6(iface.index)?;
        socket.set_multicast_hops_v6(u32::from(VRRP_HOP_LIMIT))?;
        socket.set_multicast_loop_v6(false)?;
        socket.set_tclass_v6(u32::from(VRRP_TOS))?;
        setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        socket.set_recv_buffer_size(RECV_BUFFER_BYTES)?;
        if let Some(group) = group.filter(Ipv6Addr::is_multicast) {
            socket.join_multicast_v6(&group, iface.index)?;
        }
        Ok(VrrpSocket6 {
            socket,
            token: new_token(),
            ifindex: iface.index,
        })
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one VRRP message from `src` (unspecified: the kernel chooses) to `dst` with
    /// `hop_limit`. The message's VRRPv3 checksum must already cover this (src, dst) pair.
    pub async fn send_from(
        &self,
        payload: &[u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
    ) -> io::Result<()> {
        if dst.is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "VRRP destination ::",
            ));
        }
        let info = nix::libc::in6_pktinfo {
            ipi6_addr: nix::libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let hops = nix::libc::c_int::from(hop_limit);
        let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
        let fd = self.socket.as_raw_fd();
        let send = || {
            let iov = [IoSlice::new(payload)];
            let cmsgs = [
                ControlMessage::Ipv6PacketInfo(&info),
                ControlMessage::Ipv6HopLimit(&hops),
            ];
            sendmsg(fd, &iov, &cmsgs, MsgFlags::empty(), Some(&to)).map_err(io::Error::from)
        };
        let mut attempts = 0;
        let sent = loop {
            match send() {
                // The send buffer is full: wait for room, a bounded number of times.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && attempts < SEND_ATTEMPTS => {
                    attempts += 1;
                    wait_once(self.socket.as_fd(), Interest::WRITABLE).await?;
                }
                other => break other?,
            }
        };
        if sent != payload.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send: {sent} of {} bytes", payload.len()),
            ));
        }
        Ok(())
    }

    /// Receives one VRRP message into `buf` with its addresses and hop limit. A message
    /// without them (the kernel always adds them once asked) or larger than `buf` gives an
    /// error of kind [`io::ErrorKind::InvalidData`]; the socket stays usable.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received6> {
        loop {
            match self.recv_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_once(self.socket.as_fd(), Interest::READABLE).await?;
                }
                other => return other,
            }
        }
    }

    /// As [`recv`](Self::recv) without waiting: [`io::ErrorKind::WouldBlock`] when nothing is
    /// queued, so a caller can drain the socket in one wake-up.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Received6> {
        self.recv_now(buf)
    }

    /// The socket, to be watched in a [`crate::ready_set::ReadySet`].
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Its key in a [`crate::ready_set::ReadySet`]: no other socket has had it.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// One `recvmsg(2)` on the non-blocking socket.
    fn recv_now(&self, buf: &mut [u8]) -> io::Result<Received6> {
        let fd = self.socket.as_raw_fd();
        let mut space = nix::cmsg_space!(nix::libc::in6_pktinfo, nix::libc::c_int);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(&mut space), MsgFlags::empty())
            .map_err(io::Error::from)?;
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what);
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(invalid("VRRP message larger than the buffer"));
        }
        let src = msg
            .address
            .map(|a| a.ip())
            .ok_or_else(|| invalid("no source"))?;
        let (mut dst, mut hop_limit) = (None, None);
        for cmsg in msg.cmsgs().map_err(io::Error::from)? {
            match cmsg {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                ControlMessageOwned::Ipv6HopLimit(h) => {
                    hop_limit = u8::try_from(h).ok();
                }
                _ => {}
            }
        }
        Ok(Received6 {
            src,
            dst: dst.ok_or_else(|| invalid("no destination"))?,
            hop_limit: hop_limit.ok_or_else(|| invalid("no hop limit"))?,
            len: msg.bytes,
        })
    }
}
