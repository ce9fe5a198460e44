//! Forged VRRP adverts and a raw-socket injector: every field a receiver checks (IPv4 TTL,
//! version, type, address count, checksum, authentication, interval, length) can be set to any
//! value, so tests can send malformed and hostile packets at a running daemon.
//!
//! The [`Injector`] is an `IP_HDRINCL` raw socket opened inside a host's namespace (the socket
//! stays in that namespace whichever thread uses it later). raw(7): the kernel always fills in
//! the IPv4 checksum and total length, and the identification when it is 0; everything else
//! (TTL, TOS, source, destination) goes out as written here.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use anyhow::{Context, Result, bail};
use socket2::{Domain, Protocol, Socket, Type};

use crate::capture::internet_checksum;
use crate::lab::Host;

/// The VRRP multicast group (RFC 3768 section 5.2.2).
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// IP protocol number of VRRP.
const IPPROTO_VRRP: u8 = 112;

/// A VRRP advert with every field under the test's control. [`ForgedAdvert::v2`] and
/// [`ForgedAdvert::v3`] give a valid advert; change fields to break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgedAdvert {
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination (the group by default).
    pub dst: Ipv4Addr,
    /// IPv4 TTL (255 is the only valid one).
    pub ttl: u8,
    /// IPv4 TOS byte.
    pub tos: u8,
    /// The VRRP version nibble.
    pub version: u8,
    /// The VRRP type nibble (1 = advertisement).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// The address count field; `None` writes the number of `addresses`.
    pub addr_count: Option<u8>,
    /// VRRPv2 auth type (ignored for other versions).
    pub auth_type: u8,
    /// Advertisement interval: VRRPv2 whole seconds (low byte written), VRRPv3 centiseconds
    /// (12 bits written).
    pub interval: u16,
    /// The addresses carried.
    pub addresses: Vec<Ipv4Addr>,
    /// VRRPv2 authentication data (written for version 2 only).
    pub auth_data: [u8; 8],
    /// The checksum field; `None` writes the correct one.
    pub checksum: Option<u16>,
    /// Cut the VRRP message to this many bytes after it is built (and checksummed).
    pub truncate: Option<usize>,
}

impl ForgedAdvert {
    /// A valid VRRPv2 advert from `src` to the group: TTL 255, TOS 0xc0, no authentication,
    /// advert_int 1.
    pub fn v2(src: Ipv4Addr, vrid: u8, priority: u8, addresses: &[Ipv4Addr]) -> ForgedAdvert {
        ForgedAdvert {
            src,
            dst: VRRP_GROUP,
            ttl: 255,
            tos: 0xc0,
            version: 2,
            kind: 1,
            vrid,
            priority,
            addr_count: None,
            auth_type: 0,
            interval: 1,
            addresses: addresses.to_vec(),
            auth_data: [0; 8],
            checksum: None,
            truncate: None,
        }
    }

    /// A valid VRRPv3 advert (IPv4) from `src` to the group, interval 100 centiseconds.
    pub fn v3(src: Ipv4Addr, vrid: u8, priority: u8, addresses: &[Ipv4Addr]) -> ForgedAdvert {
        ForgedAdvert {
            version: 3,
            interval: 100,
            ..ForgedAdvert::v2(src, vrid, priority, addresses)
        }
    }

    /// Sets PASS authentication with `password` (zero-padded, cut to 8 bytes).
    pub fn pass(mut self, password: &str) -> ForgedAdvert {
        self.auth_type = 1;
        self.auth_data = [0; 8];
        let bytes = password.as_bytes();
        let n = bytes.len().min(8);
        self.auth_data[..n].copy_from_slice(&bytes[..n]);
        self
    }

    /// The VRRP message bytes (the IP payload).
    pub fn payload(&self) -> Vec<u8> {
        let count = self
            .addr_count
            .unwrap_or_else(|| u8::try_from(self.addresses.len()).unwrap_or(u8::MAX));
        let mut out = vec![
            (self.version << 4) | (self.kind & 0x0f),
            self.vrid,
            self.priority,
            count,
        ];
        if self.version == 3 {
            out.extend_from_slice(&(self.interval & 0x0fff).to_be_bytes());
        } else {
            out.push(self.auth_type);
            out.push(self.interval.to_be_bytes()[1]);
        }
        out.extend_from_slice(&[0, 0]);
        for a in &self.addresses {
            out.extend_from_slice(&a.octets());
        }
        if self.version != 3 {
            out.extend_from_slice(&self.auth_data);
        }
        let sum = match self.checksum {
            Some(sum) => sum,
            None if self.version == 3 => {
                let mut covered = pseudo_header(self.src, self.dst, out.len()).to_vec();
                covered.extend_from_slice(&out);
                internet_checksum(&covered)
            }
            None => internet_checksum(&out),
        };
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        if let Some(n) = self.truncate {
            out.truncate(n);
        }
        out
    }

    /// The whole IPv4 datagram: a 20-byte header (no options) and [`ForgedAdvert::payload`].
    pub fn datagram(&self) -> Vec<u8> {
        let payload = self.payload();
        let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
        let mut d = Vec::with_capacity(20 + payload.len());
        d.extend_from_slice(&[0x45, self.tos]);
        d.extend_from_slice(&total.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, 0, self.ttl, IPPROTO_VRRP, 0, 0]);
        d.extend_from_slice(&self.src.octets());
        d.extend_from_slice(&self.dst.octets());
        let sum = internet_checksum(&d);
        d[10..12].copy_from_slice(&sum.to_be_bytes());
        d.extend_from_slice(&payload);
        d
    }
}

/// The IPv4 pseudo-header of the VRRPv3 checksum (RFC 5798 section 5.2.8).
fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&src.octets());
    h[4..8].copy_from_slice(&dst.octets());
    h[9] = IPPROTO_VRRP;
    h[10..12].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    h
}

/// A raw `IP_HDRINCL` socket in a host's namespace, bound to one of its interfaces, that sends
/// [`ForgedAdvert`]s as they are written.
#[derive(Debug)]
pub struct Injector {
    socket: Socket,
    label: String,
}

impl Injector {
    /// Opens the socket inside `host`'s namespace, bound to `ifname` (multicast goes out there).
    pub fn open(host: &Host, ifname: &str) -> Result<Injector> {
        Injector::open_with_address(host, ifname, host.address())
    }

    /// The same on an interface whose address is `address` (the kernel refuses a multicast
    /// interface address that is not on the bound interface, e.g. eth0's on an extra link).
    pub fn open_with_address(host: &Host, ifname: &str, address: Ipv4Addr) -> Result<Injector> {
        let name = ifname.to_string();
        let socket = host.in_netns(move || -> Result<Socket> {
            let socket = Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(IPPROTO_VRRP))),
            )
            .context("raw socket")?;
            socket.set_header_included_v4(true).context("IP_HDRINCL")?;
            socket
                .bind_device(Some(name.as_bytes()))
                .context("SO_BINDTODEVICE")?;
            socket
                .set_multicast_if_v4(&address)
                .context("IP_MULTICAST_IF")?;
            socket
                .set_multicast_loop_v4(false)
                .context("IP_MULTICAST_LOOP")?;
            Ok(socket)
        })??;
        Ok(Injector {
            socket,
            label: format!("injector on {ifname} in {}", host.netns()),
        })
    }

    /// Sends one advert (to its `dst`).
    pub fn send(&self, advert: &ForgedAdvert) -> Result<()> {
        self.send_datagram(&advert.datagram(), advert.dst)
    }

    /// Sends raw bytes (an IPv4 header and payload) to `dst`.
    pub fn send_datagram(&self, datagram: &[u8], dst: Ipv4Addr) -> Result<()> {
        let addr = SocketAddr::V4(SocketAddrV4::new(dst, 0));
        let sent = self
            .socket
            .send_to(datagram, &addr.into())
            .with_context(|| format!("{}: sendto {dst}", self.label))?;
        if sent != datagram.len() {
            bail!("{}: short send ({sent} of {})", self.label, datagram.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    #[test]
    fn a_valid_v2_advert_matches_keepalived() {
        // compat.md section 7: keepalived 2.2.7, VRID 51, priority 150, two VIPs, PASS.
        let a = ForgedAdvert::v2(
            SRC,
            51,
            150,
            &[Ipv4Addr::new(10, 9, 9, 100), Ipv4Addr::new(10, 9, 9, 101)],
        )
        .pass("secret12");
        let want = crate::from_hex(
            "21 33 96 02 01 01 b3 6f 0a 09 09 64 0a 09 09 65 73 65 63 72 65 74 31 32",
        )
        .expect("hex");
        assert_eq!(a.payload(), want);
        let d = a.datagram();
        assert_eq!(&d[..10], &[0x45, 0xc0, 0, 44, 0, 0, 0, 0, 255, 112]);
        assert_eq!(&d[12..20], &[192, 0, 2, 1, 224, 0, 0, 18]);
        assert_eq!(internet_checksum(&d[..20]), 0);
        assert_eq!(&d[20..], &want[..]);
    }

    #[test]
    fn forged_fields_are_written_as_given() {
        let mut a = ForgedAdvert::v2(SRC, 7, 254, &[Ipv4Addr::new(192, 0, 2, 100)]);
        a.addr_count = Some(5);
        a.checksum = Some(0xdead);
        a.ttl = 64;
        let p = a.payload();
        assert_eq!((p[3], &p[6..8]), (5, &[0xde, 0xad][..]));
        assert_eq!(a.datagram()[8], 64);
        a.truncate = Some(6);
        assert_eq!(a.payload().len(), 6);
    }

    #[test]
    fn v3_checksum_covers_the_pseudo_header() {
        let a = ForgedAdvert::v3(SRC, 9, 100, &[Ipv4Addr::new(192, 0, 2, 100)]);
        let p = a.payload();
        assert_eq!(p.len(), 12);
        assert_eq!((p[0], p[4], p[5]), (0x31, 0, 100));
        let mut covered = pseudo_header(SRC, VRRP_GROUP, p.len()).to_vec();
        covered.extend_from_slice(&p);
        assert_eq!(internet_checksum(&covered), 0);
        assert_ne!(internet_checksum(&p), 0);
    }
}
