//! The VRRP decoder on arbitrary bytes: `Advertisement::parse` never panics, and whatever it
//! accepts is written back by `to_bytes` into a message of the same length that parses to the
//! same advertisement and carries the same header fields.
//!
//! Input: 4 bytes of IPv4 source, 4 bytes of IPv4 destination (the VRRPv3 checksum covers
//! both), then the VRRP message. Shorter inputs are parsed whole with 0.0.0.0 for both.

#![no_main]

use std::net::Ipv4Addr;

use keepalived_vrrp::instance::DropReason;
use keepalived_vrrp::packet::{Advertisement, Version, checksum};
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
    let end = 8 + 4 * advert.addresses.len();
    assert_eq!(
        bytes[8..end],
        payload[8..end],
        "addresses changed: {advert:?}"
    );
    match advert.version {
        // VRRPv2: auth type and interval byte unchanged, and the checksum verifies on its own.
        Version::V2 => {
            assert_eq!(bytes[4..6], payload[4..6], "auth type or interval changed");
            assert_eq!(checksum(&[&bytes]), 0);
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
