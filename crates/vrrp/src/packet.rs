//! VRRP advertisements on the wire: a checked parse into [`Advertisement`] and the exact bytes
//! back out, version 2 (RFC 3768 section 5.1) and version 3 for IPv4 (RFC 5798 section 5.1).
//!
//! ```text
//!  0                   1                   2                   3
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                         IP Address (1..n)                     |
//! v2 only: |              Authentication Data (8 bytes)                |
//! ```

use std::net::Ipv4Addr;

/// IP protocol number of VRRP (RFC 3768 section 5.2.4).
pub const PROTOCOL: u8 = 112;
/// The IPv4 multicast group of VRRP (RFC 3768 section 5.2.2).
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The TTL every advertisement is sent with and must arrive with (RFC 3768 section 5.2.3).
pub const TTL: u8 = 255;
/// Fixed part of the message before the addresses.
const HEADER_LEN: usize = 8;
/// Length of the authentication data of VRRPv2.
pub const AUTH_DATA_LEN: usize = 8;
/// The only message type: ADVERTISEMENT (RFC 3768 section 5.3.2).
const TYPE_ADVERTISEMENT: u8 = 1;

/// The protocol version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

/// Authentication of a VRRPv2 message (RFC 2338 section 5.3.6; RFC 3768 keeps the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0: no authentication; the 8 bytes are zero.
    None,
    /// Type 1: simple text password, zero-padded to 8 bytes.
    Pass([u8; AUTH_DATA_LEN]),
    /// Type 2: IP Authentication Header; the data field is not used.
    Ah,
}

impl Auth {
    /// The auth type number on the wire.
    pub fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah => 2,
        }
    }

    /// A PASS authentication from a password of at most 8 bytes (longer ones are cut, as
    /// keepalived does).
    pub fn pass(password: &[u8]) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        let len = password.len().min(AUTH_DATA_LEN);
        data[..len].copy_from_slice(&password[..len]);
        Auth::Pass(data)
    }
}

/// A validated VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id (1..255).
    pub vrid: u8,
    /// Sender's priority: 0 = the master stops, 255 = the address owner.
    pub priority: u8,
    /// Advertisement interval in centiseconds (VRRPv2 carries whole seconds).
    pub interval_cs: u16,
    /// Authentication (always [`Auth::None`] for VRRPv3).
    pub auth: Auth,
    /// The virtual addresses.
    pub addresses: Vec<Ipv4Addr>,
}

/// Why a message was refused. Each is a drop reason with its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ParseError {
    /// Shorter than the fixed header.
    #[error("packet too short ({0} bytes)")]
    Truncated(usize),
    /// Version other than 2 or 3.
    #[error("invalid version {0}")]
    Version(u8),
    /// Type other than ADVERTISEMENT.
    #[error("invalid type {0}")]
    Type(u8),
    /// The length does not match the address count.
    #[error("length {actual} does not match {count} addresses")]
    Length {
        /// Bytes received.
        actual: usize,
        /// The address count field.
        count: u8,
    },
    /// The checksum does not verify.
    #[error("Invalid VRRP checksum")]
    Checksum,
    /// An auth type that is not 0, 1 or 2.
    #[error("unknown authentication type {0}")]
    AuthType(u8),
}

impl Advertisement {
    /// Parses and validates a VRRP message (the IP payload). For VRRPv3 the checksum covers an
    /// IPv4 pseudo-header, so the packet's source and destination are needed.
    pub fn parse(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Advertisement, ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated(bytes.len()));
        }
        let version = match bytes[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(ParseError::Version(other)),
        };
        let kind = bytes[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(ParseError::Type(kind));
        }
        let count = bytes[3];
        let addresses_end = HEADER_LEN + 4 * usize::from(count);
        let expected = match version {
            Version::V2 => addresses_end + AUTH_DATA_LEN,
            Version::V3 => addresses_end,
        };
        if bytes.len() != expected {
            return Err(ParseError::Length {
                actual: bytes.len(),
                count,
            });
        }
        let valid = match version {
            Version::V2 => checksum(&[bytes]) == 0,
            Version::V3 => checksum(&[&pseudo_header(src, dst, bytes.len()), bytes]) == 0,
        };
        if !valid {
            return Err(ParseError::Checksum);
        }
        let addresses = bytes[HEADER_LEN..addresses_end]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect();
        let (interval_cs, auth) = match version {
            Version::V2 => {
                let mut data = [0u8; AUTH_DATA_LEN];
                data.copy_from_slice(&bytes[addresses_end..]);
                let auth = match bytes[4] {
                    0 => Auth::None,
                    1 => Auth::Pass(data),
                    2 => Auth::Ah,
                    other => return Err(ParseError::AuthType(other)),
                };
                (u16::from(bytes[5]) * 100, auth)
            }
            Version::V3 => (u16::from_be_bytes([bytes[4] & 0x0f, bytes[5]]), Auth::None),
        };
        Ok(Advertisement {
            version,
            vrid: bytes[1],
            priority: bytes[2],
            interval_cs,
            auth,
            addresses,
        })
    }

    /// Length of the message on the wire.
    pub fn buffer_len(&self) -> usize {
        let base = HEADER_LEN + 4 * self.addresses.len().min(255);
        match self.version {
            Version::V2 => base + AUTH_DATA_LEN,
            Version::V3 => base,
        }
    }

    /// The message bytes with the checksum filled in. At most 255 addresses are written.
    /// VRRPv3's checksum needs the source and destination of the IP packet.
    pub fn to_bytes(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let addresses = &self.addresses[..self.addresses.len().min(255)];
        let mut out = Vec::with_capacity(self.buffer_len());
        let version = match self.version {
            Version::V2 => 2,
            Version::V3 => 3,
        };
        out.push(version << 4 | TYPE_ADVERTISEMENT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(addresses.len() as u8);
        match self.version {
            Version::V2 => {
                out.push(self.auth.type_number());
                // VRRPv2 carries whole seconds; round up so 0.5 s never becomes 0.
                out.push(u8::try_from(self.interval_cs.div_ceil(100)).unwrap_or(u8::MAX));
            }
            Version::V3 => out.extend_from_slice(&(self.interval_cs & 0x0fff).to_be_bytes()),
        }
        out.extend_from_slice(&[0, 0]);
        for address in addresses {
            out.extend_from_slice(&address.octets());
        }
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::Pass(data) => data,
                Auth::None | Auth::Ah => [0; AUTH_DATA_LEN],
            };
            out.extend_from_slice(&data);
        }
        let sum = match self.version {
            Version::V2 => checksum(&[&out]),
            Version::V3 => checksum(&[&pseudo_header(src, dst, out.len()), &out]),
        };
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }
}

/// The IPv4 pseudo-header of RFC 5798 section 5.2.8 (as for TCP and UDP).
fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> [u8; 12] {
    let mut header = [0u8; 12];
    header[..4].copy_from_slice(&src.octets());
    header[4..8].copy_from_slice(&dst.octets());
    header[9] = PROTOCOL;
    header[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    header
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`: the one's complement of
/// the one's complement sum of 16-bit words. Verifying data that contains its checksum gives 0.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut pending: Option<u8> = None;
    for byte in parts.iter().flat_map(|p| p.iter().copied()) {
        match pending.take() {
            Some(high) => sum += u32::from(u16::from_be_bytes([high, byte])),
            None => pending = Some(byte),
        }
    }
    if let Some(high) = pending {
        sum += u32::from(u16::from_be_bytes([high, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

    /// compat.md section 7: keepalived 2.2.7, VRID 51, priority 150, VIPs 10.9.9.100 and
    /// 10.9.9.101, PASS "secret12", advert_int 1.
    const KEEPALIVED_V2: [u8; 24] = [
        0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xb3, 0x6f, 0x0a, 0x09, 0x09, 0x64, 0x0a, 0x09, 0x09,
        0x65, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];

    fn keepalived_repr() -> Advertisement {
        Advertisement {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth: Auth::pass(b"secret12"),
            addresses: vec![Ipv4Addr::new(10, 9, 9, 100), Ipv4Addr::new(10, 9, 9, 101)],
        }
    }

    #[test]
    fn rfc3768_5_1_parses_keepalived_capture() {
        assert_eq!(
            Advertisement::parse(&KEEPALIVED_V2, ANY, ANY),
            Ok(keepalived_repr())
        );
    }

    #[test]
    fn rfc3768_5_1_emits_keepalived_bytes() {
        assert_eq!(keepalived_repr().to_bytes(ANY, ANY), KEEPALIVED_V2.to_vec());
        assert_eq!(keepalived_repr().buffer_len(), KEEPALIVED_V2.len());
    }

    #[test]
    fn rfc3768_5_3_8_bad_checksum_is_refused() {
        let mut bytes = KEEPALIVED_V2;
        bytes[7] ^= 1;
        assert_eq!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::Checksum)
        );
    }

    #[test]
    fn rfc3768_5_3_length_must_match_address_count() {
        let mut bytes = KEEPALIVED_V2.to_vec();
        bytes[3] = 9;
        assert!(matches!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::Length { count: 9, .. })
        ));
        bytes.truncate(5);
        assert_eq!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::Truncated(5))
        );
    }

    #[test]
    fn rfc3768_5_3_1_version_and_type_are_checked() {
        let mut bytes = KEEPALIVED_V2;
        bytes[0] = 0x41;
        assert_eq!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::Version(4))
        );
        bytes[0] = 0x22;
        assert_eq!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::Type(2))
        );
    }

    #[test]
    fn rfc3768_5_3_6_unknown_auth_type_is_refused() {
        let mut repr = keepalived_repr();
        repr.auth = Auth::None;
        let mut bytes = repr.to_bytes(ANY, ANY);
        bytes[4] = 7;
        bytes[6] = 0;
        bytes[7] = 0;
        let sum = checksum(&[&bytes]);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            Advertisement::parse(&bytes, ANY, ANY),
            Err(ParseError::AuthType(7))
        );
    }

    #[test]
    fn rfc5798_5_2_8_v3_checksum_covers_the_pseudo_header() {
        let src = Ipv4Addr::new(192, 0, 2, 10);
        let repr = Advertisement {
            version: Version::V3,
            vrid: 7,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100)],
        };
        let bytes = repr.to_bytes(src, MULTICAST_GROUP);
        assert_eq!(bytes.len(), 12);
        assert_eq!(bytes[0], 0x31);
        assert_eq!(Advertisement::parse(&bytes, src, MULTICAST_GROUP), Ok(repr));
        let other = Ipv4Addr::new(192, 0, 2, 11);
        assert_eq!(
            Advertisement::parse(&bytes, other, MULTICAST_GROUP),
            Err(ParseError::Checksum)
        );
    }

    #[test]
    fn v2_interval_rounds_up_to_whole_seconds() {
        let mut repr = keepalived_repr();
        repr.interval_cs = 150;
        assert_eq!(repr.to_bytes(ANY, ANY)[5], 2);
    }

    #[test]
    fn odd_length_checksum() {
        // RFC 1071: a trailing odd byte is padded with zero.
        assert_eq!(checksum(&[&[0x01]]), !0x0100);
        assert_eq!(checksum(&[&[0x01], &[0x02]]), !0x0102);
    }

    #[test]
    fn no_input_panics() {
        for len in 0..40 {
            for fill in [0u8, 0x21, 0xff] {
                let bytes = vec![fill; len];
                let _ = Advertisement::parse(&bytes, ANY, ANY);
            }
        }
    }
}
