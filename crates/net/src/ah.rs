//! VRRPv2 with `auth_type AH`: the IP Authentication Header of RFC 2338 section 5.3.6.3 (RFC
//! 2402) between the IPv4 header and the VRRP message, as keepalived 2.2.7 sends and checks it
//! (learnt from its adverts):
//!
//! ```text
//! IPv4 header (protocol 51, TOS 0xc0, TTL 255, identification = sequence number)
//! AH: next header 112 | payload length 4 | reserved 0 | SPI = source address
//!     | sequence number (from 1) | ICV: HMAC-MD5-96 (12 bytes)
//! VRRPv2 message (auth type 2, authentication data zero)
//! ```
//!
//! The ICV is the first 96 bits of HMAC-MD5 (RFC 2403), keyed with `auth_pass` (at most 8
//! bytes), over the whole datagram with the TOS, flags / fragment offset, header checksum and
//! ICV fields zeroed; unlike RFC 2402, keepalived leaves the TTL in.

use std::net::Ipv4Addr;
use std::ops::Range;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;

/// IP protocol number of the Authentication Header (RFC 2402).
pub const IPPROTO_AH: u8 = 51;
/// Length of the AH keepalived sends: 12 fixed bytes and a 12-byte ICV.
pub const AH_LEN: usize = 24;
/// The AH "payload length" field: the header's length in 32-bit words minus 2.
const AH_PAYLOAD_LEN: u8 = 4;
/// Length of the ICV (HMAC-MD5-96, RFC 2403).
const ICV_LEN: usize = 12;
const IPV4_HEADER_LEN: usize = 20;
/// Length of an `auth_pass` (RFC 2338 section 5.3.10: 8 octets).
pub const KEY_LEN: usize = 8;

type HmacMd5 = Hmac<Md5>;

/// Why a received AH datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AhError {
    /// Too short, not IPv4, or not protocol 51.
    #[error("not an IPv4 datagram with an authentication header")]
    NotAh,
    /// The AH does not carry VRRP, or its length is not keepalived's.
    #[error("authentication header of another form (next header {next}, length {len})")]
    Form {
        /// Its next-header field.
        next: u8,
        /// Its payload-length field.
        len: u8,
    },
    /// The ICV does not match: another password, or a field changed on the way.
    #[error("invalid IPSEC HMAC-MD5 value")]
    Hmac,
}

/// An AH datagram located: where its parts lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The IPv4 header's length.
    pub header_len: usize,
    /// The VRRP message.
    pub vrrp: Range<usize>,
    /// The sequence number.
    pub sequence: u32,
}

fn icv(key: &[u8; KEY_LEN], datagram: &[u8], header_len: usize) -> [u8; ICV_LEN] {
    let mut zeroed = datagram.to_vec();
    zeroed[1] = 0; // TOS
    zeroed[6] = 0; // flags, fragment offset
    zeroed[7] = 0;
    zeroed[10] = 0; // header checksum
    zeroed[11] = 0;
    let at = header_len + 12;
    zeroed[at..at + ICV_LEN].fill(0);
    // The key zero-padded to MD5's 64-byte block, as HMAC pads it (RFC 2104 section 2).
    let mut block = [0u8; 64];
    block[..KEY_LEN].copy_from_slice(key);
    let mut mac = <HmacMd5 as KeyInit>::new(&block.into());
    mac.update(&zeroed);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; ICV_LEN];
    out.copy_from_slice(&full[..ICV_LEN]);
    out
}

/// The key of an `auth_pass`: its first 8 bytes, zero-padded (HMAC pads shorter keys with
/// zeros too, so both give the same ICV).
pub fn key(password: &[u8]) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    let n = password.len().min(KEY_LEN);
    key[..n].copy_from_slice(&password[..n]);
    key
}

/// Builds the whole IPv4 datagram of one VRRP message `vrrp` (its auth type 2, its
/// authentication data zero) with its AH: from `src` to `dst` with `ttl`, sequence number
/// `sequence` (also the IP identification, never 0 there so that the kernel does not replace
/// it), keyed with `key`. None when the message is too large for one datagram.
pub fn build(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    sequence: u32,
    key: &[u8; KEY_LEN],
    vrrp: &[u8],
) -> Option<Vec<u8>> {
    let total = u16::try_from(IPV4_HEADER_LEN + AH_LEN + vrrp.len()).ok()?;
    let mut d = Vec::with_capacity(usize::from(total));
    d.extend_from_slice(&[0x45, 0xc0]);
    d.extend_from_slice(&total.to_be_bytes());
    let id = (sequence as u16).max(1);
    d.extend_from_slice(&id.to_be_bytes());
    d.extend_from_slice(&[0, 0, ttl, IPPROTO_AH, 0, 0]);
    d.extend_from_slice(&src.octets());
    d.extend_from_slice(&dst.octets());
    d.extend_from_slice(&[112, AH_PAYLOAD_LEN, 0, 0]);
    d.extend_from_slice(&src.octets());
    d.extend_from_slice(&sequence.to_be_bytes());
    d.extend_from_slice(&[0; ICV_LEN]);
    d.extend_from_slice(vrrp);
    let icv = icv(key, &d, IPV4_HEADER_LEN);
    d[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&icv);
    Some(d)
}

/// Finds the VRRP message in an AH datagram (IPv4 header included), without checking the ICV.
pub fn locate(datagram: &[u8]) -> Result<Located, AhError> {
    let first = *datagram.first().ok_or(AhError::NotAh)?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < IPV4_HEADER_LEN || datagram.get(9) != Some(&IPPROTO_AH) {
        return Err(AhError::NotAh);
    }
    let ah = datagram
        .get(header_len..header_len + AH_LEN)
        .ok_or(AhError::NotAh)?;
    if ah[0] != 112 || ah[1] != AH_PAYLOAD_LEN {
        return Err(AhError::Form {
            next: ah[0],
            len: ah[1],
        });
    }
    Ok(Located {
        header_len,
        vrrp: header_len + AH_LEN..datagram.len(),
        sequence: u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]),
    })
}

/// Checks the ICV of an AH datagram (IPv4 header included) against `key`; the VRRP message's
/// place when it matches.
pub fn verify(datagram: &[u8], key: &[u8; KEY_LEN]) -> Result<Located, AhError> {
    let located = locate(datagram)?;
    let at = located.header_len + 12;
    let expected = icv(key, datagram, located.header_len);
    // Compared in constant time.
    let given = &datagram[at..at + ICV_LEN];
    let differ = expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if differ != 0 {
        return Err(AhError::Hmac);
    }
    Ok(located)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An advert keepalived 2.2.7 sent (VRID 51, priority 150, two VIPs, `auth_pass
    /// secret12`), as captured, the IPv4 header's checksum filled by the kernel.
    const CAPTURED: &str = "45c0004400010000ff3318b2c0000201e0000012\
                            70040000c00002010000000126d3b0ff4db6fdbd1cfc2a4e\
                            213396020201c1fec0000264c00002650000000000000000";

    fn captured() -> Vec<u8> {
        (0..CAPTURED.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&CAPTURED[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn rfc2338_5_3_6_3_keepalived_s_advert_is_verified() {
        let d = captured();
        let located = verify(&d, &key(b"secret12")).expect("verified");
        assert_eq!(located.sequence, 1);
        assert_eq!(&d[located.vrrp.clone()][..4], &[0x21, 0x33, 0x96, 0x02]);
        assert_eq!(verify(&d, &key(b"wrongpw")), Err(AhError::Hmac));
        // A changed priority (a field the ICV covers) is refused; a changed TOS or checksum
        // (fields it leaves out) is not.
        let mut changed = d.clone();
        changed[20 + AH_LEN + 2] = 200;
        assert_eq!(verify(&changed, &key(b"secret12")), Err(AhError::Hmac));
        let mut tos = d.clone();
        tos[1] = 0;
        tos[10] = 0x12;
        assert!(verify(&tos, &key(b"secret12")).is_ok());
    }

    #[test]
    fn rfc2338_5_3_6_3_built_as_keepalived_builds_it() {
        let d = captured();
        let vrrp = &d[20 + AH_LEN..];
        let built = build(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            255,
            1,
            &key(b"secret12"),
            vrrp,
        )
        .expect("built");
        // The same bytes, but for the header checksum the kernel fills in.
        let mut expected = d.clone();
        expected[10] = 0;
        expected[11] = 0;
        assert_eq!(built, expected);
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let d = captured();
        for n in 0..d.len() {
            let _ = verify(&d[..n], &key(b"x"));
        }
        assert_eq!(locate(&[]), Err(AhError::NotAh));
        let mut other = d.clone();
        other[9] = 112;
        assert_eq!(locate(&other), Err(AhError::NotAh));
        let mut form = d.clone();
        form[20] = 6;
        assert!(matches!(locate(&form), Err(AhError::Form { next: 6, .. })));
        assert_eq!(key(b"a-very-long-password"), *b"a-very-l");
    }
}
