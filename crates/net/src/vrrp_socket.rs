//! The raw IPv4 socket that carries VRRP (IP protocol 112) on one interface.
//!
//! One [`VrrpSocket`] per interface receives every VRID on it and sends the adverts of every
//! instance on it. Sending uses `IP_HDRINCL`: the IPv4 header is built here (TOS 0xc0, TTL 255,
//! protocol 112, the configured source), so the source can be any address (also one the kernel
//! would not pick) without `bind(2)`, which would make a raw socket drop every datagram whose
//! destination is not that address, the multicast group included (`raw_v4_match` in the kernel).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;

use crate::ready_set::{new_token, wait_once};

use crate::interface::Interface;

/// Receive buffer asked for on every VRRP socket (bytes).
pub const RECV_BUFFER_BYTES: usize = 1 << 20;

/// IP protocol number of VRRP (RFC 3768 section 5.2.4, RFC 5798 section 5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 multicast group of VRRP (RFC 3768 section 5.2.2, RFC 5798 section 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// TTL of every VRRP packet sent; a receiver drops others (RFC 3768 sections 5.2.3 and 7.1).
pub const VRRP_TTL: u8 = 255;
/// The TOS byte keepalived puts on adverts: precedence "internetwork control" (0xc0).
pub const VRRP_TOS: u8 = 0xc0;

/// How many times a send that finds the socket's buffer full waits for room before it fails.
const SEND_ATTEMPTS: u32 = 8;

/// Length of an IPv4 header without options.
const IPV4_HEADER_LEN: usize = 20;

/// The largest datagram [`VrrpSocket::send_from`] builds on the stack: a VRRP message with
/// 255 IPv4 addresses and authentication data (8 + 1,020 + 8 bytes) behind its header.
const STACK_DATAGRAM: usize = 1_100;

/// One datagram received on a [`VrrpSocket`], described by its IPv4 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Source address from the IPv4 header.
    pub src: Ipv4Addr,
    /// Destination address from the IPv4 header (the group, or our unicast address).
    pub dst: Ipv4Addr,
    /// TTL from the IPv4 header (RFC 3768 section 7.1: must be 255 for multicast adverts).
    pub ttl: u8,
    /// Where the VRRP message lies in the caller's buffer (after the IPv4 header and options).
    pub payload: Range<usize>,
}

/// Why a received datagram's IPv4 header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than the 20 of a minimal IPv4 header.
    #[error("datagram of {0} bytes is shorter than an IPv4 header")]
    TooShort(usize),
    /// The version nibble is not 4.
    #[error("IP version {0}, expected 4")]
    Version(u8),
    /// The IHL field gives a header under 20 bytes or longer than the datagram.
    #[error("IPv4 header length {header} is invalid for a {received}-byte datagram")]
    HeaderLength {
        /// Header length in bytes (IHL × 4).
        header: usize,
        /// Bytes received.
        received: usize,
    },
    /// The total-length field is below the header length or above the bytes received (the
    /// datagram was truncated by a too small buffer, or the field is garbled).
    #[error("IPv4 total length {total} is invalid for a {received}-byte datagram")]
    TotalLength {
        /// The total-length field.
        total: usize,
        /// Bytes received.
        received: usize,
    },
}

impl From<HeaderError> for io::Error {
    fn from(e: HeaderError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Parse the IPv4 header at the start of `datagram` (RFC 791 section 3.1), as a raw IPv4 socket
/// delivers it, and locate the payload. Never panics, whatever the bytes.
pub fn parse_ipv4_header(datagram: &[u8]) -> Result<Received, HeaderError> {
    let received = datagram.len();
    let Some(h) = datagram.first_chunk::<IPV4_HEADER_LEN>() else {
        return Err(HeaderError::TooShort(received));
    };
    let version = h[0] >> 4;
    if version != 4 {
        return Err(HeaderError::Version(version));
    }
    let header = usize::from(h[0] & 0x0f) * 4;
    if header < IPV4_HEADER_LEN || header > received {
        return Err(HeaderError::HeaderLength { header, received });
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < header || total > received {
        return Err(HeaderError::TotalLength { total, received });
    }
    Ok(Received {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        ttl: h[8],
        payload: header..total,
    })
}

/// Build the IPv4 header for a VRRP datagram: version 4, IHL 5, TOS 0xc0, `ttl`, protocol 112,
/// no fragmentation. raw(7) with `IP_HDRINCL`: the kernel always fills in the checksum and total
/// length, and the identification when it is zero and the source when it is 0.0.0.0.
fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, payload_len: usize, ttl: u8) -> io::Result<[u8; 20]> {
    let total = payload_len
        .checked_add(IPV4_HEADER_LEN)
        .and_then(|t| u16::try_from(t).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "VRRP payload too large"))?;
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45;
    h[1] = VRRP_TOS;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    // h[4..6] identification 0 (kernel picks), h[6..8] flags/fragment offset 0.
    h[8] = ttl;
    h[9] = IPPROTO_VRRP;
    // h[10..12] checksum: computed by the kernel.
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    Ok(h)
}

/// A raw IPPROTO_VRRP socket bound to one interface, member of the VRRP group on it.
///
/// The socket is not registered with tokio, so arrivals nobody reads wake nobody: its reader
/// watches it through a [`crate::ready_set::ReadySet`] (under [`token`](Self::token)), or
/// awaits one datagram with [`recv`](Self::recv). A send that finds the buffer full waits for
/// room ([`wait_once`]).
#[derive(Debug)]
pub struct VrrpSocket {
    /// The raw socket, non-blocking; the std datagram type only for its sendto/recv.
    socket: std::net::UdpSocket,
    token: u64,
    src: Ipv4Addr,
    group: Ipv4Addr,
    ifindex: u32,
}

impl VrrpSocket {
    /// Open the socket on `iface` and join `group` (normally [`VRRP_GROUP_V4`]) there.
    ///
    /// The source of sent packets is `src`, else the interface's primary address, else 0.0.0.0,
    /// which lets the kernel choose. A `group` that is not multicast (e.g. 0.0.0.0 for
    /// unicast-only instances) is not joined. Needs CAP_NET_RAW.
    ///
    /// Socket options: `SO_BINDTODEVICE` (only datagrams arriving on `iface`, and the route out
    /// of it), `IP_MULTICAST_IF` with an `ip_mreqn` holding the ifindex (without one of these two
    /// a send to 224.0.0.18 fails with ENETUNREACH), `IP_MULTICAST_TTL`/`IP_TTL` 255 and
    /// `IP_TOS` 0xc0 (also written in our own header), `IP_MULTICAST_LOOP` 0 (we never see our
    /// own adverts), `IP_MULTICAST_ALL` 0 (no datagrams for groups only other sockets joined),
    /// `IP_HDRINCL`, non-blocking.
    pub fn open(iface: &Interface, src: Option<Ipv4Addr>, group: Ipv4Addr) -> io::Result<Self> {
        Self::open_protocol(iface, src, group, IPPROTO_VRRP)
    }

    /// As [`open`](Self::open), for IP protocol `protocol`: 51 for VRRP behind an
    /// authentication header ([`crate::ah`]), sent with [`send_datagram`](Self::send_datagram).
    pub fn open_protocol(
        iface: &Interface,
        src: Option<Ipv4Addr>,
        group: Ipv4Addr,
        protocol: u8,
    ) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(protocol))),
        )?;
        socket.bind_device(Some(iface.name.as_bytes()))?;
        rustix::net::sockopt::set_ip_multicast_if_with_ifindex(
            &socket,
            &Ipv4Addr::UNSPECIFIED,
            &Ipv4Addr::UNSPECIFIED,
            iface.index,
        )?;
        socket.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_tos_v4(u32::from(VRRP_TOS))?;
        socket.set_multicast_loop_v4(false)?;
        socket.set_multicast_all_v4(false)?;
        socket.set_header_included_v4(true)?;
        // A burst of adverts (many instances, or a flood) must not overflow the default buffer
        // before the daemon reads it; the kernel caps this at net.core.rmem_max.
        socket.set_recv_buffer_size(RECV_BUFFER_BYTES)?;
        if group.is_multicast() {
            socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(iface.index))?;
        }
        let src = src
            .or_else(|| iface.primary_ipv4())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Ok(VrrpSocket {
            socket: std::net::UdpSocket::from(socket),
            token: new_token(),
            src,
            group,
            ifindex: iface.index,
        })
    }

    /// The source address written into sent packets (0.0.0.0: chosen by the kernel). VRRPv3
    /// needs it for the checksum pseudo-header (RFC 5798 section 5.2.8).
    pub fn source(&self) -> Ipv4Addr {
        self.src
    }

    /// The group [`send`](Self::send) sends to.
    pub fn group(&self) -> Ipv4Addr {
        self.group
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Send one VRRP message to the group with TTL 255 (RFC 3768 section 5.2.2/5.2.3).
    pub async fn send(&self, payload: &[u8]) -> io::Result<()> {
        self.send_to(payload, self.group).await
    }

    /// Send one VRRP message to `dst` (a unicast peer, or a group), TTL 255.
    pub async fn send_to(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        self.send_from(payload, self.src, dst, VRRP_TTL).await
    }

    /// Send one VRRP message from `src` (each instance has its own source address, which its
    /// VRRPv3 checksum covers; 0.0.0.0 lets the kernel choose) to `dst` with `ttl` (255, or
    /// `unicast_ttl` to unicast peers).
    pub async fn send_from(
        &self,
        payload: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
    ) -> io::Result<()> {
        if dst.is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "VRRP destination 0.0.0.0",
            ));
        }
        let header = ipv4_header(src, dst, payload.len(), ttl)?;
        // Header and message are put together on the stack: an advert (at most 20 + 1,036
        // bytes for 255 IPv4 addresses) costs no allocation; anything larger takes one.
        let mut stack = [0u8; STACK_DATAGRAM];
        let mut heap = Vec::new();
        let total = header.len() + payload.len();
        let datagram: &mut [u8] = match stack.get_mut(..total) {
            Some(datagram) => datagram,
            None => {
                heap.resize(total, 0);
                &mut heap
            }
        };
        datagram[..header.len()].copy_from_slice(&header);
        datagram[header.len()..].copy_from_slice(payload);
        self.send_datagram(datagram, dst).await
    }

    /// Send a whole IPv4 datagram, header included (built by the caller, e.g. [`crate::ah`]),
    /// to `dst`.
    pub async fn send_datagram(&self, datagram: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let addr = SocketAddr::V4(SocketAddrV4::new(dst, 0));
        let mut attempts = 0;
        let sent = loop {
            match self.socket.send_to(datagram, addr) {
                // The send buffer is full: wait for room, a bounded number of times.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && attempts < SEND_ATTEMPTS => {
                    attempts += 1;
                    wait_once(self.socket.as_fd(), Interest::WRITABLE).await?;
                }
                other => break other?,
            }
        };
        if sent != datagram.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send: {sent} of {} bytes", datagram.len()),
            ));
        }
        Ok(())
    }

    /// Receive one datagram into `buf` (IPv4 header included) and parse its header.
    ///
    /// A datagram with a short or garbled header, or one larger than `buf`, gives an error of
    /// kind [`io::ErrorKind::InvalidData`] wrapping a [`HeaderError`]; the socket stays usable.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            match self.try_recv(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_once(self.socket.as_fd(), Interest::READABLE).await?;
                }
                other => return other,
            }
        }
    }

    /// As [`recv`](Self::recv) without waiting: [`io::ErrorKind::WouldBlock`] when nothing is
    /// queued, so a caller can drain the socket in one wake-up.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let n = self.socket.recv(buf)?;
        let datagram = buf.get(..n).unwrap_or(buf);
        Ok(parse_ipv4_header(datagram)?)
    }

    /// The socket, to be watched in a [`crate::ready_set::ReadySet`].
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Its key in a [`crate::ready_set::ReadySet`]: no other socket has had it.
    pub fn token(&self) -> u64 {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An advert as keepalived 2.2.7 sends it (compat.md section 7), behind the IPv4 header.
    const ADVERT: [u8; 24] = [
        0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xb3, 0x6f, 0x0a, 0x09, 0x09, 0x64, 0x0a, 0x09, 0x09,
        0x65, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];

    fn datagram() -> Vec<u8> {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let mut d = ipv4_header(src, VRRP_GROUP_V4, ADVERT.len(), VRRP_TTL)
            .expect("header")
            .to_vec();
        d.extend_from_slice(&ADVERT);
        d
    }

    #[test]
    fn header_round_trip() {
        let d = datagram();
        assert_eq!(&d[..12], &[0x45, 0xc0, 0, 44, 0, 0, 0, 0, 255, 112, 0, 0]);
        let r = parse_ipv4_header(&d).expect("parse");
        assert_eq!(r.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(r.dst, VRRP_GROUP_V4);
        assert_eq!(r.ttl, 255);
        assert_eq!(&d[r.payload], &ADVERT);
    }

    #[test]
    fn header_with_options() {
        // IHL 6: four bytes of options (a router alert) before the payload.
        let mut d = datagram();
        d.splice(20..20, [0x94, 0x04, 0, 0]);
        d[0] = 0x46;
        d[2..4].copy_from_slice(&48u16.to_be_bytes());
        let r = parse_ipv4_header(&d).expect("parse");
        assert_eq!(r.payload, 24..48);
    }

    #[test]
    fn header_trailing_bytes_ignored() {
        let mut d = datagram();
        d.extend_from_slice(&[0; 6]);
        assert_eq!(parse_ipv4_header(&d).expect("parse").payload, 20..44);
    }

    #[test]
    fn garbled_headers_rejected() {
        let d = datagram();
        assert_eq!(parse_ipv4_header(&d[..19]), Err(HeaderError::TooShort(19)));
        assert_eq!(parse_ipv4_header(&[]), Err(HeaderError::TooShort(0)));
        let mut v6 = d.clone();
        v6[0] = 0x65;
        assert_eq!(parse_ipv4_header(&v6), Err(HeaderError::Version(6)));
        let mut ihl = d.clone();
        ihl[0] = 0x44;
        assert!(matches!(
            parse_ipv4_header(&ihl),
            Err(HeaderError::HeaderLength { header: 16, .. })
        ));
        ihl[0] = 0x4f;
        assert!(matches!(
            parse_ipv4_header(&ihl[..40]),
            Err(HeaderError::HeaderLength { header: 60, .. })
        ));
        let mut total = d.clone();
        total[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(
            parse_ipv4_header(&total),
            Err(HeaderError::TotalLength { total: 19, .. })
        ));
        // Truncated by a small receive buffer.
        assert!(matches!(
            parse_ipv4_header(&d[..30]),
            Err(HeaderError::TotalLength {
                total: 44,
                received: 30
            })
        ));
        let e: io::Error = HeaderError::TooShort(1).into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn never_panics_on_any_short_input() {
        // Every prefix of a valid datagram, and every first byte, parses or errors cleanly.
        let d = datagram();
        for n in 0..=d.len() {
            let _ = parse_ipv4_header(&d[..n]);
        }
        for b in 0..=255u8 {
            let mut x = d.clone();
            x[0] = b;
            let _ = parse_ipv4_header(&x);
            x[3] = b;
            let _ = parse_ipv4_header(&x);
        }
    }

    #[test]
    fn oversize_payload_refused() {
        const MAX_PAYLOAD: usize = u16::MAX as usize - IPV4_HEADER_LEN;
        let e = ipv4_header(
            Ipv4Addr::UNSPECIFIED,
            VRRP_GROUP_V4,
            MAX_PAYLOAD + 1,
            VRRP_TTL,
        )
        .expect_err("too large");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(ipv4_header(Ipv4Addr::UNSPECIFIED, VRRP_GROUP_V4, MAX_PAYLOAD, VRRP_TTL).is_ok());
    }
}
