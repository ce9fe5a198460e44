//! VRRP advertisements on the wire, in smoltcp's shape: [`Packet`] is a checked view over the
//! bytes (field accessors, no allocation, never indexes out of bounds), [`Advertisement`] the
//! validated representation with [`Advertisement::parse`], [`Advertisement::emit`] and
//! [`Advertisement::buffer_len`]. Version 2 (RFC 3768 section 5.1) over IPv4, version 3
//! (RFC 5798 section 5.1) over IPv4 and IPv6; the address family of a message is the family of
//! the IP packet that carries it.
//!
//! VRRPv2 over IPv6 is no standard's: it is the form keepalived 2.2.7 sends for an IPv6 instance
//! with `version 2` (captured and byte-checked, see [`carries_auth_data`] and
//! [`checksum_covers_pseudo_header`]): the VRRPv2 header (auth type, Adver Int in whole
//! seconds), the IPv6 addresses, no authentication data, and the checksum over the IPv6
//! pseudo-header as for VRRPv3 (its IPv6 sockets have the kernel fill and verify the checksum).
//!
//! ```text
//!  0                   1                   2                   3
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                IPvX Address (1..n), 4 or 16 bytes each        |
//! v2 only: |              Authentication Data (8 bytes)                |
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (RFC 3768 section 5.2.4, RFC 5798 section 5.1.1.4).
pub const PROTOCOL: u8 = 112;
/// The IPv4 multicast group of VRRP (RFC 3768 section 5.2.2, RFC 5798 section 5.1.1.2).
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (RFC 5798 section 5.1.2.2).
pub const MULTICAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL (hop limit) multicast advertisements are sent with and must arrive with (RFC 3768
/// section 5.2.3, RFC 5798 sections 5.1.1.3 and 5.1.2.3).
pub const TTL: u8 = 255;
/// Fixed part of the message before the addresses.
pub const HEADER_LEN: usize = 8;
/// Length of the authentication data of VRRPv2.
pub const AUTH_DATA_LEN: usize = 8;
/// The only message type: ADVERTISEMENT (RFC 3768 section 5.3.2).
const TYPE_ADVERTISEMENT: u8 = 1;

mod field {
    use std::ops::Range;
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: auth type; v3: reserved nibble and the high nibble of Max Adver Int.
    pub const WORD_4: usize = 4;
    /// v2: Adver Int; v3: the low byte of Max Adver Int.
    pub const WORD_5: usize = 5;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// The address family of a message: the width of its addresses and its checksum pseudo-header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// 4-byte addresses.
    V4,
    /// 16-byte addresses.
    V6,
}

impl Family {
    /// The family of `address`.
    pub fn of(address: IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Bytes per address.
    pub fn address_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The VRRP multicast group of this family.
    pub fn multicast_group(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(MULTICAST_GROUP),
            Family::V6 => IpAddr::V6(MULTICAST_GROUP_V6),
        }
    }
}

/// The protocol version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

impl Version {
    /// The version number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
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

/// Whether a message of `version` over `family` ends with the 8 bytes of authentication data:
/// only VRRPv2 over IPv4 (RFC 3768 section 5.3.10). keepalived 2.2.7's VRRPv2 over IPv6 leaves
/// them out, also with `auth_type PASS` (observed: a 24-byte message for one VIP, auth type 1,
/// no password), and refuses a message that has them (`vrrp packet too long, length 32 and
/// expect 24`).
pub fn carries_auth_data(version: Version, family: Family) -> bool {
    version == Version::V2 && family == Family::V4
}

/// Whether the checksum of a message of `version` over `family` covers the pseudo-header of the
/// IP packet: VRRPv3 always (RFC 5798 section 5.2.8), VRRPv2 over IPv4 never (RFC 3768 section
/// 5.3.8), VRRPv2 over IPv6 too (keepalived 2.2.7, observed: the checksum 0xec6b of its advert
/// from fe80::38c7:45ff:fe22:b292 to ff02::12 is the one over the IPv6 pseudo-header; tshark,
/// which checks the message alone, calls it bad; 2.2.7 does not hear a message whose checksum
/// covers the message alone).
pub fn checksum_covers_pseudo_header(version: Version, family: Family) -> bool {
    version == Version::V3 || family == Family::V6
}

/// The version of a message whose version nibble is `number`, or `None` when it is neither 2
/// nor 3.
fn version_of(number: u8) -> Option<Version> {
    match number {
        2 => Some(Version::V2),
        3 => Some(Version::V3),
        _ => None,
    }
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

/// A read-only or read-write view over the bytes of one VRRP message (the IP payload).
///
/// [`Packet::new_checked`] makes sure the fixed header is there, so every header accessor is
/// safe to call; the variable part (addresses, authentication data) is only read through
/// [`Packet::addresses`] and [`Packet::auth_data`], which check the length for the family.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view that has not been checked: header accessors may panic on a short buffer.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over `buffer` once it holds at least the fixed header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, ParseError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(ParseError::Truncated(len));
        }
        Ok(Packet { buffer })
    }

    /// The VRID of a message of at least 2 bytes, read before the header is checked: enough
    /// to route even a truncated message to the instance that counts it as such.
    pub fn peek_vrid(buffer: T) -> Option<u8> {
        buffer.as_ref().get(field::VRID).copied()
    }

    /// The bytes behind the view.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref()[at]
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.byte(field::VER_TYPE) >> 4
    }

    /// The type nibble.
    pub fn kind(&self) -> u8 {
        self.byte(field::VER_TYPE) & 0x0f
    }

    /// The virtual router id.
    pub fn vrid(&self) -> u8 {
        self.byte(field::VRID)
    }

    /// The sender's priority.
    pub fn priority(&self) -> u8 {
        self.byte(field::PRIORITY)
    }

    /// The address count.
    pub fn address_count(&self) -> u8 {
        self.byte(field::COUNT)
    }

    /// VRRPv2: the auth type.
    pub fn auth_type(&self) -> u8 {
        self.byte(field::WORD_4)
    }

    /// The advertisement interval in centiseconds: VRRPv2's whole seconds × 100, VRRPv3's
    /// 12-bit Max Adver Int.
    pub fn interval_cs(&self) -> u16 {
        if self.version() == 3 {
            u16::from_be_bytes([self.byte(field::WORD_4) & 0x0f, self.byte(field::WORD_5)])
        } else {
            u16::from(self.byte(field::WORD_5)) * 100
        }
    }

    /// The checksum field.
    pub fn checksum_field(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::CHECKSUM.start], b[field::CHECKSUM.start + 1]])
    }

    /// The length the message must have for its version, address count and `family`.
    pub fn expected_len(&self, family: Family) -> usize {
        let addresses = HEADER_LEN + family.address_len() * usize::from(self.address_count());
        if version_of(self.version()).is_some_and(|v| carries_auth_data(v, family)) {
            addresses + AUTH_DATA_LEN
        } else {
            addresses
        }
    }

    /// The addresses, read in `family`'s width; `None` unless the length is exact.
    pub fn addresses(&self, family: Family) -> Option<Vec<IpAddr>> {
        Some(self.address_iter(family)?.collect())
    }

    /// The addresses as [`Packet::addresses`] reads them, without collecting them (a
    /// receiver compares them with its own for every advert).
    pub fn address_iter(&self, family: Family) -> Option<impl Iterator<Item = IpAddr> + '_> {
        let bytes = self.buffer.as_ref();
        if bytes.len() != self.expected_len(family) {
            return None;
        }
        let end = HEADER_LEN + family.address_len() * usize::from(self.address_count());
        let list = bytes.get(HEADER_LEN..end)?;
        Some(
            list.chunks_exact(family.address_len())
                .filter_map(move |c| match family {
                    Family::V4 => <[u8; 4]>::try_from(c).ok().map(IpAddr::from),
                    Family::V6 => <[u8; 16]>::try_from(c).ok().map(IpAddr::from),
                }),
        )
    }

    /// VRRPv2: the 8 bytes of authentication data at the end; `None` if they are not there.
    pub fn auth_data(&self) -> Option<[u8; AUTH_DATA_LEN]> {
        let bytes = self.buffer.as_ref();
        let start = bytes.len().checked_sub(AUTH_DATA_LEN)?;
        bytes.get(start..)?.try_into().ok()
    }

    /// Whether the checksum verifies: over the message alone for VRRPv2 over IPv4 (RFC 3768
    /// section 5.3.8), over the pseudo-header of `src` and `dst` too for VRRPv3 (RFC 5798
    /// section 5.2.8) and for VRRPv2 over IPv6 ([`checksum_covers_pseudo_header`]).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let bytes = self.buffer.as_ref();
        if !self.checksum_covers_pseudo_header(Family::of(src)) {
            return checksum(&[bytes]) == 0;
        }
        match pseudo_header(src, dst, bytes.len()) {
            Some(header) => checksum(&[header.as_slice(), bytes]) == 0,
            None => false,
        }
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// [`checksum_covers_pseudo_header`] for this message's version nibble (a version that is
    /// neither 2 nor 3 is treated as VRRPv3).
    fn checksum_covers_pseudo_header(&self, family: Family) -> bool {
        version_of(self.version())
            .is_none_or(|version| checksum_covers_pseudo_header(version, family))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Computes and writes the checksum for a packet from `src` to `dst`.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let covers = self.checksum_covers_pseudo_header(Family::of(src));
        let bytes = self.buffer.as_ref();
        let sum = if !covers {
            checksum(&[bytes])
        } else {
            match pseudo_header(src, dst, bytes.len()) {
                Some(header) => checksum(&[header.as_slice(), bytes]),
                None => checksum(&[bytes]),
            }
        };
        self.set_checksum(sum);
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
    /// Authentication (always [`Auth::None`] for VRRPv3). A received VRRPv2 message over IPv6
    /// carries no authentication data ([`carries_auth_data`]): its auth type 1 reads as
    /// `Auth::Pass` of eight zero bytes, and the password cannot be checked.
    pub auth: Auth,
    /// The virtual addresses, all of the family of the packet.
    pub addresses: Vec<IpAddr>,
}

impl Advertisement {
    /// Parses and validates a VRRP message (the IP payload) carried from `src` to `dst`: the
    /// family of the addresses is theirs, and VRRPv3's checksum covers their pseudo-header.
    pub fn parse(
        bytes: &[u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<Advertisement, ParseError> {
        let packet = Packet::new_checked(bytes)?;
        Advertisement::parse_packet(&packet, src.into(), dst.into())
    }

    /// [`Advertisement::parse`] over a checked view.
    pub fn parse_packet<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Advertisement, ParseError> {
        let mut advert = Advertisement::parse_packet_without_addresses(packet, src, dst)?;
        advert.addresses = packet.addresses(Family::of(src)).unwrap_or_default();
        Ok(advert)
    }

    /// [`Advertisement::parse_packet`] with the same checks, but `addresses` left empty (no
    /// allocation): read them with [`Packet::address_iter`] over the family of `src`.
    pub fn parse_packet_without_addresses<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Advertisement, ParseError> {
        let family = Family::of(src);
        let version = version_of(packet.version()).ok_or(ParseError::Version(packet.version()))?;
        if packet.kind() != TYPE_ADVERTISEMENT {
            return Err(ParseError::Type(packet.kind()));
        }
        let len = packet.buffer.as_ref().len();
        // A destination of the other family cannot carry this message.
        if Family::of(dst) != family || packet.address_iter(family).is_none() {
            return Err(ParseError::Length {
                actual: len,
                count: packet.address_count(),
            });
        }
        if !packet.verify_checksum(src, dst) {
            return Err(ParseError::Checksum);
        }
        let auth = match version {
            Version::V3 => Auth::None,
            Version::V2 => match (packet.auth_type(), packet.auth_data()) {
                (0, _) => Auth::None,
                (1, _) if !carries_auth_data(version, family) => Auth::Pass([0; AUTH_DATA_LEN]),
                (1, Some(data)) => Auth::Pass(data),
                (2, _) => Auth::Ah,
                (other, _) => return Err(ParseError::AuthType(other)),
            },
        };
        Ok(Advertisement {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval_cs: packet.interval_cs(),
            auth,
            addresses: Vec::new(),
        })
    }

    /// The addresses written: at most 255.
    fn written_addresses(&self) -> &[IpAddr] {
        &self.addresses[..self.addresses.len().min(255)]
    }

    /// Length of the message on the wire, over the family of its first address (IPv4 when it
    /// has none).
    pub fn buffer_len(&self) -> usize {
        let family = self
            .addresses
            .first()
            .map_or(Family::V4, |a| Family::of(*a));
        self.buffer_len_over(family)
    }

    /// Length of the message on the wire when an IP packet of `family` carries it.
    pub fn buffer_len_over(&self, family: Family) -> usize {
        let addresses: usize = self
            .written_addresses()
            .iter()
            .map(|a| Family::of(*a).address_len())
            .sum();
        if carries_auth_data(self.version, family) {
            HEADER_LEN + addresses + AUTH_DATA_LEN
        } else {
            HEADER_LEN + addresses
        }
    }

    /// Writes the message into `packet` (exactly [`Advertisement::buffer_len_over`] the family
    /// of `src` bytes) with the checksum computed for a packet from `src` to `dst`. At most 255
    /// addresses are written.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: IpAddr,
        dst: IpAddr,
    ) {
        let addresses = self.written_addresses();
        let out = packet.buffer.as_mut();
        out[field::VER_TYPE] = self.version.number() << 4 | TYPE_ADVERTISEMENT;
        out[field::VRID] = self.vrid;
        out[field::PRIORITY] = self.priority;
        out[field::COUNT] = addresses.len() as u8;
        match self.version {
            Version::V2 => {
                out[field::WORD_4] = self.auth.type_number();
                // VRRPv2 carries whole seconds; round up so 0.5 s never becomes 0.
                out[field::WORD_5] =
                    u8::try_from(self.interval_cs.div_ceil(100)).unwrap_or(u8::MAX);
            }
            Version::V3 => {
                let [high, low] = (self.interval_cs & 0x0fff).to_be_bytes();
                out[field::WORD_4] = high;
                out[field::WORD_5] = low;
            }
        }
        let mut at = HEADER_LEN;
        for address in addresses {
            let octets: &[u8] = match address {
                IpAddr::V4(v4) => &v4.octets(),
                IpAddr::V6(v6) => &v6.octets(),
            };
            out[at..at + octets.len()].copy_from_slice(octets);
            at += octets.len();
        }
        if carries_auth_data(self.version, Family::of(src)) {
            let data = match self.auth {
                Auth::Pass(data) => data,
                Auth::None | Auth::Ah => [0; AUTH_DATA_LEN],
            };
            out[at..at + AUTH_DATA_LEN].copy_from_slice(&data);
        }
        packet.fill_checksum(src, dst);
    }

    /// The message bytes with the checksum computed for a packet from `src` to `dst`.
    pub fn to_bytes(&self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> Vec<u8> {
        let src = src.into();
        let mut packet = Packet::new_unchecked(vec![0u8; self.buffer_len_over(Family::of(src))]);
        self.emit(&mut packet, src, dst.into());
        packet.into_inner()
    }
}

/// The pseudo-header the VRRPv3 checksum covers (RFC 5798 section 5.2.8): IPv4's as for TCP and
/// UDP (RFC 768), IPv6's of RFC 8200 section 8.1. `None` when the families differ.
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> Option<PseudoHeader> {
    let mut header = PseudoHeader {
        bytes: [0; 40],
        len: 0,
    };
    let parts: [&[u8]; 4] = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => [
            &src.octets(),
            &dst.octets(),
            &[0, PROTOCOL],
            &(len as u16).to_be_bytes(),
        ],
        (IpAddr::V6(src), IpAddr::V6(dst)) => [
            &src.octets(),
            &dst.octets(),
            &(len as u32).to_be_bytes(),
            &[0, 0, 0, PROTOCOL],
        ],
        _ => return None,
    };
    for part in parts {
        header.bytes[header.len..header.len + part.len()].copy_from_slice(part);
        header.len += part.len();
    }
    Some(header)
}

/// A pseudo-header, on the stack (12 bytes for IPv4, 40 for IPv6): one is made for every
/// VRRPv3 message sent and received.
struct PseudoHeader {
    bytes: [u8; 40],
    len: usize,
}

impl PseudoHeader {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
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
            addresses: vec![
                Ipv4Addr::new(10, 9, 9, 100).into(),
                Ipv4Addr::new(10, 9, 9, 101).into(),
            ],
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
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
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
    fn rfc5798_5_2_8_v3_checksum_is_for_the_destination_it_goes_to() {
        // To a unicast peer or a configured vrrp_mcast_group4, the pseudo-header holds that
        // destination: a checksum computed for 224.0.0.18 fails there.
        let src = Ipv4Addr::new(192, 0, 2, 10);
        let peer = Ipv4Addr::new(192, 0, 2, 20);
        let repr = Advertisement {
            version: Version::V3,
            vrid: 7,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
        };
        let bytes = repr.to_bytes(src, peer);
        assert_eq!(Advertisement::parse(&bytes, src, peer), Ok(repr.clone()));
        assert_eq!(
            Advertisement::parse(&bytes, src, MULTICAST_GROUP),
            Err(ParseError::Checksum)
        );
    }

    #[test]
    fn rfc5798_5_2_8_v3_over_ipv6_uses_the_ipv6_pseudo_header() {
        let src: Ipv6Addr = "fe80::1".parse().expect("address");
        let vip: Ipv6Addr = "2001:db8::100".parse().expect("address");
        let repr = Advertisement {
            version: Version::V3,
            vrid: 9,
            priority: 150,
            interval_cs: 5,
            auth: Auth::None,
            addresses: vec![vip.into()],
        };
        let bytes = repr.to_bytes(src, MULTICAST_GROUP_V6);
        assert_eq!(bytes.len(), 8 + 16);
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut header = Vec::new();
        header.extend_from_slice(&src.octets());
        header.extend_from_slice(&MULTICAST_GROUP_V6.octets());
        header.extend_from_slice(&[0, 0, 0, 24, 0, 0, 0, 112]);
        assert_eq!(checksum(&[&header, &bytes]), 0);
        assert_eq!(
            Advertisement::parse(&bytes, src, MULTICAST_GROUP_V6),
            Ok(repr)
        );
        // Read as IPv4, 24 bytes are not 1 address of 4: refused.
        assert!(matches!(
            Advertisement::parse(&bytes, Ipv4Addr::new(192, 0, 2, 1), MULTICAST_GROUP),
            Err(ParseError::Length { .. })
        ));
    }

    /// keepalived 2.2.7, `version 2` in an IPv6 instance (VRID 62, priority 150, advert_int 1,
    /// VIP 2001:db8::100/64), captured: the IPv6 payload of its advert from
    /// fe80::38c7:45ff:fe22:b292 to ff02::12 (payload length 24: no authentication data).
    const KEEPALIVED_V2_OVER_V6: [u8; 24] = [
        0x21, 0x3e, 0x96, 0x01, 0x00, 0x01, 0xec, 0x6b, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    ];

    fn keepalived_v6_source() -> Ipv6Addr {
        "fe80::38c7:45ff:fe22:b292".parse().expect("address")
    }

    fn keepalived_v2_over_v6_repr(auth: Auth) -> Advertisement {
        Advertisement {
            version: Version::V2,
            vrid: 62,
            priority: 150,
            interval_cs: 100,
            auth,
            addresses: vec!["2001:db8::100".parse::<Ipv6Addr>().expect("vip").into()],
        }
    }

    #[test]
    fn v2_over_ipv6_parses_and_emits_keepalived_capture() {
        let src = keepalived_v6_source();
        let repr = keepalived_v2_over_v6_repr(Auth::None);
        assert_eq!(
            Advertisement::parse(&KEEPALIVED_V2_OVER_V6, src, MULTICAST_GROUP_V6),
            Ok(repr.clone())
        );
        assert_eq!(
            repr.to_bytes(src, MULTICAST_GROUP_V6),
            KEEPALIVED_V2_OVER_V6.to_vec()
        );
        assert_eq!(repr.buffer_len(), 24);
        // tshark checks the message alone (0x1a06 there) and calls 2.2.7's checksum bad.
        let mut zeroed = KEEPALIVED_V2_OVER_V6;
        zeroed[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(checksum(&[&zeroed]), 0x1a06);
    }

    #[test]
    fn v2_over_ipv6_rules() {
        assert!(carries_auth_data(Version::V2, Family::V4));
        assert!(!carries_auth_data(Version::V2, Family::V6));
        assert!(!carries_auth_data(Version::V3, Family::V4));
        assert!(!checksum_covers_pseudo_header(Version::V2, Family::V4));
        assert!(checksum_covers_pseudo_header(Version::V2, Family::V6));
        assert!(checksum_covers_pseudo_header(Version::V3, Family::V4));
    }

    #[test]
    fn v2_over_ipv6_pass_is_a_type_without_data() {
        // keepalived 2.2.7 with auth_type PASS, auth_pass secret: auth type 1, still 24 bytes,
        // the checksum one less than without authentication (0xeb6b, captured).
        let src = keepalived_v6_source();
        let repr = keepalived_v2_over_v6_repr(Auth::pass(b"secret"));
        let bytes = repr.to_bytes(src, MULTICAST_GROUP_V6);
        assert_eq!(bytes.len(), 24);
        assert_eq!((bytes[4], bytes[6], bytes[7]), (1, 0xeb, 0x6b));
        assert_eq!(
            Advertisement::parse(&bytes, src, MULTICAST_GROUP_V6),
            Ok(keepalived_v2_over_v6_repr(Auth::Pass([0; AUTH_DATA_LEN])))
        );
    }

    #[test]
    fn v2_over_ipv6_refuses_what_keepalived_refuses() {
        let src = keepalived_v6_source();
        // With 8 bytes of authentication data appended: 2.2.7 logs `vrrp packet too long,
        // length 32 and expect 24`.
        let mut long = KEEPALIVED_V2_OVER_V6.to_vec();
        long.extend_from_slice(&[0; AUTH_DATA_LEN]);
        Packet::new_unchecked(&mut long[..]).fill_checksum(src.into(), MULTICAST_GROUP_V6.into());
        assert_eq!(
            Advertisement::parse(&long, src, MULTICAST_GROUP_V6),
            Err(ParseError::Length {
                actual: 32,
                count: 1
            })
        );
        // The checksum over the message alone (RFC 3768's): 2.2.7 does not hear it.
        let mut plain = KEEPALIVED_V2_OVER_V6;
        plain[6..8].copy_from_slice(&[0, 0]);
        let sum = checksum(&[&plain]);
        plain[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            Advertisement::parse(&plain, src, MULTICAST_GROUP_V6),
            Err(ParseError::Checksum)
        );
        // The same header read as IPv4 is 24 bytes for one 4-byte address: refused.
        assert!(matches!(
            Advertisement::parse(&KEEPALIVED_V2_OVER_V6, ANY, MULTICAST_GROUP),
            Err(ParseError::Length { .. })
        ));
    }

    #[test]
    fn checked_view_reads_the_header_fields() {
        assert!(matches!(
            Packet::new_checked(&KEEPALIVED_V2[..7]),
            Err(ParseError::Truncated(7))
        ));
        let packet = Packet::new_checked(&KEEPALIVED_V2[..]).expect("header present");
        assert_eq!(
            (
                packet.version(),
                packet.kind(),
                packet.vrid(),
                packet.priority()
            ),
            (2, 1, 51, 150)
        );
        assert_eq!((packet.address_count(), packet.auth_type()), (2, 1));
        assert_eq!(
            (packet.interval_cs(), packet.checksum_field()),
            (100, 0xb36f)
        );
        assert_eq!(packet.auth_data(), Some(*b"secret12"));
        assert_eq!(
            packet.addresses(Family::V6),
            None,
            "two 16-byte addresses do not fit"
        );
        assert_eq!(packet.addresses(Family::V4).map(|a| a.len()), Some(2));
        assert_eq!(Packet::peek_vrid(&KEEPALIVED_V2[..2]), Some(51));
        assert_eq!(Packet::peek_vrid(&KEEPALIVED_V2[..1]), None);
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
