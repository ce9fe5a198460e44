//! Gratuitous ARP and unsolicited neighbour advertisements on an `AF_PACKET` socket.
//!
//! RFC 5798 section 6.4.2 (and RFC 3768 section 6.4.2): on becoming master, a router broadcasts a
//! gratuitous ARP request for each virtual IPv4 address, so that hosts and switches learn where
//! it now lives. The frame is what keepalived sends (compat.md section 7): an ARP request
//! (RFC 826) to ff:ff:ff:ff:ff:ff, sender hardware address = the interface MAC, sender and
//! target protocol address = the VIP, target hardware address ff:ff:ff:ff:ff:ff.
//!
//! For IPv6 (RFC 5798 section 6.4.2, RFC 4861 section 7.2.6) the announcement is an unsolicited
//! neighbour advertisement per virtual address, as keepalived 2.2.7 sends it (observed): from the
//! VIP to all-nodes ff02::1 (Ethernet 33:33:00:00:00:01), hop limit 255, Override set, Solicited
//! clear, Router set when the interface forwards IPv6, with the target link-layer address option.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, bind, send, socket};
use pnet_base::MacAddr;
use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};

use crate::interface::{self, Interface};

/// Ethernet header (14) + ARP for IPv4 over Ethernet (28).
pub const GARP_FRAME_LEN: usize = 42;

/// Sends gratuitous ARPs out of one interface.
#[derive(Debug)]
pub struct GarpSender {
    fd: OwnedFd,
    mac: [u8; 6],
}

impl GarpSender {
    /// Open a packet socket bound to `iface` (CAP_NET_RAW).
    ///
    /// The socket is opened with protocol 0, so the kernel queues no received frames on it: it
    /// only sends.
    pub fn open(iface: &Interface) -> io::Result<Self> {
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // The sockaddr_ll of the interface, as getifaddrs reports it (protocol 0: keep the
        // socket's, i.e. receive nothing).
        let link = interface::link_addr(iface.index)?;
        bind(fd.as_raw_fd(), &link)?;
        Ok(GarpSender { fd, mac: iface.mac })
    }

    /// Send one gratuitous ARP for `vip`.
    pub fn send(&self, vip: Ipv4Addr) -> io::Result<()> {
        self.send_frame(&garp_frame(self.mac, vip)?)
    }

    /// Send one unsolicited neighbour advertisement for `vip` (`router`: the Router flag).
    pub fn send_na(&self, vip: Ipv6Addr, router: bool) -> io::Result<()> {
        self.send_frame(&na_frame(self.mac, vip, router))
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let sent = send(self.fd.as_raw_fd(), frame, MsgFlags::empty())?;
        if sent != frame.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send: {sent} of {} bytes", frame.len()),
            ));
        }
        Ok(())
    }
}

/// Ethernet (14) + IPv6 (40) + neighbour advertisement (24) + target link-layer option (8).
pub const NA_FRAME_LEN: usize = 86;

/// All-nodes multicast (RFC 4291 section 2.7.1), where unsolicited advertisements go.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Build the unsolicited neighbour advertisement frame for `vip` from `mac` (RFC 4861 section
/// 4.4; the ICMPv6 checksum over the pseudo-header of RFC 8200 section 8.1).
pub fn na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    // Ethernet: the IPv6 multicast MAC of ff02::1 (RFC 2464 section 7).
    f[..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    // IPv6 header: version 6, payload 32, next header ICMPv6 (58), hop limit 255.
    f[14] = 0x60;
    f[18..20].copy_from_slice(&32u16.to_be_bytes());
    f[20] = 58;
    f[21] = 255;
    f[22..38].copy_from_slice(&vip.octets());
    f[38..54].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 neighbour advertisement: type 136, code 0, flags R/S/O, target, option 2.
    f[54] = 136;
    f[58] = if router { 0xa0 } else { 0x20 };
    f[62..78].copy_from_slice(&vip.octets());
    f[78] = 2;
    f[79] = 1;
    f[80..86].copy_from_slice(&mac);
    let mut sum: u32 = 32 + 58;
    for pair in f[22..54].chunks(2).chain(f[54..86].chunks(2)) {
        sum += u32::from(u16::from_be_bytes([
            pair[0],
            pair.get(1).copied().unwrap_or(0),
        ]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The fold above leaves at most 16 bits.
    let checksum = !u16::try_from(sum).unwrap_or(u16::MAX);
    f[56..58].copy_from_slice(&checksum.to_be_bytes());
    f
}

/// Build the gratuitous ARP frame for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> io::Result<[u8; GARP_FRAME_LEN]> {
    let too_small = || io::Error::other("GARP buffer too small");
    let [a, b, c, d, e, f] = mac;
    let mac = MacAddr::new(a, b, c, d, e, f);
    let mut frame = [0u8; GARP_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).ok_or_else(too_small)?;
    eth.set_destination(MacAddr::broadcast());
    eth.set_source(mac);
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp = MutableArpPacket::new(eth.payload_mut()).ok_or_else(too_small)?;
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(mac);
    arp.set_sender_proto_addr(vip);
    arp.set_target_hw_addr(MacAddr::broadcast());
    arp.set_target_proto_addr(vip);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bytes() {
        let f = garp_frame([2, 0, 0, 0, 0, 0x0a], Ipv4Addr::new(192, 0, 2, 100)).expect("frame");
        let expected: [u8; GARP_FRAME_LEN] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
            2, 0, 0, 0, 0, 0x0a, // Ethernet source: our MAC
            0x08, 0x06, // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
            2, 0, 0, 0, 0, 0x0a, 192, 0, 2, 100, // sender: our MAC, the VIP
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 100, // target: the VIP
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn na_frame_bytes() {
        // As keepalived 2.2.7 sent it for 2001:db8::100 from 02:00:00:00:00:0a (captured).
        let vip: Ipv6Addr = "2001:db8::100".parse().expect("address");
        let f = na_frame([2, 0, 0, 0, 0, 0x0a], vip, false);
        assert_eq!(
            &f[..14],
            &[0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x0a, 0x86, 0xdd]
        );
        assert_eq!(&f[14..22], &[0x60, 0, 0, 0, 0, 32, 58, 255]);
        assert_eq!(&f[54..62], &[136, 0, 0xf7, 0x23, 0x20, 0, 0, 0]);
        assert_eq!(&f[78..], &[2, 1, 2, 0, 0, 0, 0, 0x0a]);
        // With the Router flag the checksum drops by 0x8000 (one's complement).
        let r = na_frame([2, 0, 0, 0, 0, 0x0a], vip, true);
        assert_eq!(&r[56..59], &[0x77, 0x23, 0xa0]);
    }
}
