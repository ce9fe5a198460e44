//! Gratuitous ARP on an `AF_PACKET` socket.
//!
//! RFC 5798 section 6.4.2 (and RFC 3768 section 6.4.2): on becoming master, a router broadcasts a
//! gratuitous ARP request for each virtual IPv4 address, so that hosts and switches learn where
//! it now lives. The frame is what keepalived sends (compat.md section 7): an ARP request
//! (RFC 826) to ff:ff:ff:ff:ff:ff, sender hardware address = the interface MAC, sender and
//! target protocol address = the VIP, target hardware address ff:ff:ff:ff:ff:ff.

use std::io;
use std::net::Ipv4Addr;
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
        let frame = garp_frame(self.mac, vip)?;
        let sent = send(self.fd.as_raw_fd(), &frame, MsgFlags::empty())?;
        if sent != frame.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send: {sent} of {} bytes", frame.len()),
            ));
        }
        Ok(())
    }
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
}
