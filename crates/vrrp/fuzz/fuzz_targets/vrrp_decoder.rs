//! The VRRP decoder on arbitrary bytes: `Advertisement::parse` never panics, and whatever it
//! accepts is written back by `to_bytes` into a message of the same length that parses to the
//! same advertisement and carries the same header fields.
//!
//! The checked view agrees with the representation on every header field.
//!
//! Input: 4 bytes of IPv4 source, 4 bytes of IPv4 destination (the VRRPv3 checksum covers
//! both), then the VRRP message. Shorter inputs are parsed whole with 0.0.0.0 for both. A
//! source whose first byte is 0xfe is read as the IPv6 link-local fe80::SRC to ff02::12, so
//! IPv6 messages (16-byte addresses, the IPv6 pseudo-header) are reached from the same seeds.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepalived_vrrp::instance::DropReason;
use keepalived_vrrp::packet::{
    Advertisement, Family, MULTICAST_GROUP_V6, Packet, Version, checksum,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (src, dst, payload) = match data {
        [a, b, c, d, e, f, g, h, payload @ ..] => (
            Ipv4Addr::new(*a, *b, *c, *d),
            Ipv4Addr::new(*e, *f, *g, *h),
            payload,
        ),
        _ => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, data),
    };
    let (src, dst): (IpAddr, IpAddr) = if src.octets()[0] == 0xfe {
        let [_, b, c, d] = src.octets();
        let v6 = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, u16::from(b), u16::from_be_bytes([c, d]));
        (v6.into(), MULTICAST_GROUP_V6.into())
    } else {
        (src.into(), dst.into())
    };
    let width = Family::of(src).address_len();
    let advert = match Advertisement::parse(payload, src, dst) {
        Ok(advert) => advert,
        Err(err) => {
            // Every refusal is printable and maps to a drop reason with a name.
            assert!(!err.to_string().is_empty());
            assert!(!DropReason::from(err).as_str().is_empty());
            return;
        }
    };
    let bytes = advert.to_bytes(src, dst);
    assert_eq!(bytes.len(), payload.len(), "length changed: {advert:?}");
    assert_eq!(bytes.len(), advert.buffer_len());
    assert_eq!(advert.addresses.len(), usize::from(payload[3]));
    // Version, type, VRID, priority and address count are written as they were read.
    assert_eq!(bytes[..4], payload[..4], "header changed: {advert:?}");
    // The addresses too.
    let view = Packet::new_checked(payload).expect("a parsed message has a header");
    assert_eq!(view.vrid(), advert.vrid);
    assert_eq!(view.priority(), advert.priority);
    assert_eq!(view.interval_cs(), advert.interval_cs);
    assert_eq!(view.addresses(Family::of(src)).as_ref(), Some(&advert.addresses));
    let end = 8 + width * advert.addresses.len();
    assert_eq!(
        bytes[8..end],
        payload[8..end],
        "addresses changed: {advert:?}"
    );
    match advert.version {
        // VRRPv2: auth type and interval byte unchanged, and the checksum verifies: over the
        // message alone over IPv4, over the IPv6 pseudo-header too over IPv6 (as 2.2.7 sends).
        Version::V2 => {
            assert_eq!(bytes[4..6], payload[4..6], "auth type or interval changed");
            let sum = match (src, dst) {
                (IpAddr::V6(src), IpAddr::V6(dst)) => {
                    checksum(&[&ipv6_pseudo_header(src, dst, bytes.len()), &bytes])
                }
                _ => checksum(&[&bytes]),
            };
            assert_eq!(sum, 0, "checksum of {advert:?}");
        }
        // VRRPv3: the 12-bit interval unchanged (the 4 reserved bits are written as zero).
        Version::V3 => {
            assert_eq!(bytes[4] & 0x0f, payload[4] & 0x0f, "interval changed");
            assert_eq!(bytes[5], payload[5], "interval changed");
        }
    }
    let again = Advertisement::parse(&bytes, src, dst);
    assert_eq!(again.as_ref(), Ok(&advert), "round trip through to_bytes");
    // Writing is deterministic: the same advertisement gives the same bytes.
    assert_eq!(advert.to_bytes(src, dst), bytes);
});

/// The IPv6 pseudo-header of RFC 8200 section 8.1 for a VRRP message (next header 112) of
/// `len` bytes, written here apart from the crate's own so the check does not share its code.
fn ipv6_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Vec<u8> {
    let mut header = Vec::with_capacity(40);
    header.extend_from_slice(&src.octets());
    header.extend_from_slice(&dst.octets());
    header.extend_from_slice(&(len as u32).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 112]);
    header
}
