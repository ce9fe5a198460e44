//! The connection synchronisation daemons (`IPVS_CMD_NEW_DAEMON`, `IPVS_CMD_DEL_DAEMON`,
//! `IPVS_CMD_GET_DAEMON`): the attributes nested in `IPVS_CMD_ATTR_DAEMON`, laid out as
//! include/uapi/linux/ip_vs.h and the kernel's ip_vs_ctl.c read them (no I/O).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, DefaultNla, Emitable, Nla};

const DAEMON_STATE: u16 = 1;
const DAEMON_MCAST_IFN: u16 = 2;
const DAEMON_SYNC_ID: u16 = 3;
const DAEMON_SYNC_MAXLEN: u16 = 4;
const DAEMON_MCAST_GROUP: u16 = 5;
const DAEMON_MCAST_GROUP6: u16 = 6;
const DAEMON_MCAST_PORT: u16 = 7;
const DAEMON_MCAST_TTL: u16 = 8;

/// `IP_VS_IFNAME_MAXLEN`: the interface name's room, its terminating NUL included.
pub const IFNAME_MAXLEN: usize = 16;

/// Which side of the synchronisation a daemon runs (`IP_VS_STATE_MASTER` / `_BACKUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DaemonRole {
    /// Sends the connection table's changes (`IP_VS_STATE_MASTER`, 1).
    Master,
    /// Receives them (`IP_VS_STATE_BACKUP`, 2).
    Backup,
}

impl DaemonRole {
    /// The kernel's number for the role.
    pub fn value(self) -> u32 {
        match self {
            DaemonRole::Master => 1,
            DaemonRole::Backup => 2,
        }
    }

    /// The role a number names.
    pub fn from_value(value: u32) -> Option<Self> {
        match value {
            1 => Some(DaemonRole::Master),
            2 => Some(DaemonRole::Backup),
            _ => None,
        }
    }

    /// `master` / `backup`, as ipvsadm and keepalived word it.
    pub fn name(self) -> &'static str {
        match self {
            DaemonRole::Master => "master",
            DaemonRole::Backup => "backup",
        }
    }
}

/// One synchronisation daemon: what `NEW_DAEMON` starts and `GET_DAEMON` reports. The
/// optional settings left out let the kernel choose (maxlen from the interface's MTU, port
/// 8848, TTL 1, group 224.0.0.81).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    /// Master or backup.
    pub role: DaemonRole,
    /// The interface it sends or listens on (`IPVS_DAEMON_ATTR_MCAST_IFN`).
    pub interface: String,
    /// The sync id (`IPVS_DAEMON_ATTR_SYNC_ID`, 0 to 255).
    pub sync_id: u32,
    /// The UDP payload size (`IPVS_DAEMON_ATTR_SYNC_MAXLEN`).
    pub maxlen: Option<u16>,
    /// The base port (`IPVS_DAEMON_ATTR_MCAST_PORT`).
    pub port: Option<u16>,
    /// The multicast TTL (`IPVS_DAEMON_ATTR_MCAST_TTL`).
    pub ttl: Option<u8>,
    /// The multicast group (`IPVS_DAEMON_ATTR_MCAST_GROUP` / `_GROUP6`).
    pub group: Option<IpAddr>,
}

impl SyncDaemon {
    /// The attributes of a `NEW_DAEMON`: the state (u32), the interface (NUL-terminated),
    /// the sync id (u32), then those set of maxlen (u16), port (u16), TTL (u8) and group (4
    /// or 16 bytes, network order); numbers in host order, the port too (unlike a service's:
    /// the kernel reads it with `nla_get_u16`; sent in network order, `ipvsadm -L --daemon`
    /// shows 8850 as 37410, seen in the QEMU lab).
    pub fn attrs(&self) -> Vec<DefaultNla> {
        let mut ifname = self.interface.as_bytes().to_vec();
        ifname.truncate(IFNAME_MAXLEN - 1);
        ifname.push(0);
        let mut attrs = vec![
            DefaultNla::new(DAEMON_STATE, self.role.value().to_ne_bytes().to_vec()),
            DefaultNla::new(DAEMON_MCAST_IFN, ifname),
            DefaultNla::new(DAEMON_SYNC_ID, self.sync_id.to_ne_bytes().to_vec()),
        ];
        if let Some(maxlen) = self.maxlen {
            attrs.push(DefaultNla::new(
                DAEMON_SYNC_MAXLEN,
                maxlen.to_ne_bytes().to_vec(),
            ));
        }
        if let Some(port) = self.port {
            attrs.push(DefaultNla::new(
                DAEMON_MCAST_PORT,
                port.to_ne_bytes().to_vec(),
            ));
        }
        if let Some(ttl) = self.ttl {
            attrs.push(DefaultNla::new(DAEMON_MCAST_TTL, vec![ttl]));
        }
        match self.group {
            Some(IpAddr::V4(a)) => {
                attrs.push(DefaultNla::new(DAEMON_MCAST_GROUP, a.octets().to_vec()));
            }
            Some(IpAddr::V6(a)) => {
                attrs.push(DefaultNla::new(DAEMON_MCAST_GROUP6, a.octets().to_vec()));
            }
            None => {}
        }
        attrs
    }

    /// The attributes of a `DEL_DAEMON` of `role`: the state alone, as the kernel needs.
    pub fn stop_attrs(role: DaemonRole) -> Vec<DefaultNla> {
        vec![DefaultNla::new(
            DAEMON_STATE,
            role.value().to_ne_bytes().to_vec(),
        )]
    }

    /// Reads one daemon of a `GET_DAEMON` reply.
    pub fn from_attrs(attrs: &[DefaultNla]) -> Result<Self, DecodeError> {
        let mut role = None;
        let mut daemon = SyncDaemon {
            role: DaemonRole::Master,
            interface: String::new(),
            sync_id: 0,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        for attr in attrs {
            let mut v = vec![0u8; attr.value_len()];
            attr.emit_value(&mut v);
            match attr.kind() {
                DAEMON_STATE => role = DaemonRole::from_value(u32::from_ne_bytes(four(&v)?)),
                DAEMON_MCAST_IFN => {
                    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                    daemon.interface = String::from_utf8_lossy(&v[..end]).into_owned();
                }
                DAEMON_SYNC_ID => daemon.sync_id = u32::from_ne_bytes(four(&v)?),
                DAEMON_SYNC_MAXLEN => daemon.maxlen = Some(u16::from_ne_bytes(two(&v)?)),
                DAEMON_MCAST_PORT => daemon.port = Some(u16::from_ne_bytes(two(&v)?)),
                DAEMON_MCAST_TTL => daemon.ttl = v.first().copied(),
                DAEMON_MCAST_GROUP => {
                    let b = four(&v)?;
                    daemon.group = Some(IpAddr::V4(Ipv4Addr::from(b)));
                }
                DAEMON_MCAST_GROUP6 => {
                    let b: [u8; 16] = v
                        .get(..16)
                        .and_then(|s| s.try_into().ok())
                        .ok_or_else(|| DecodeError::from("IPVS group6 shorter than 16 bytes"))?;
                    daemon.group = Some(IpAddr::V6(Ipv6Addr::from(b)));
                }
                _ => {}
            }
        }
        daemon.role = role.ok_or_else(|| DecodeError::from("IPVS daemon without a state"))?;
        Ok(daemon)
    }
}

/// The bytes of a list of attributes, as they travel nested.
pub fn nested_bytes(attrs: &[DefaultNla]) -> Vec<u8> {
    let mut buf = vec![0u8; attrs.buffer_len()];
    attrs.emit(&mut buf);
    buf
}

fn two(v: &[u8]) -> Result<[u8; 2], DecodeError> {
    v.get(..2)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| DecodeError::from("IPVS attribute shorter than 2 bytes"))
}

fn four(v: &[u8]) -> Result<[u8; 4], DecodeError> {
    v.get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| DecodeError::from("IPVS attribute shorter than 4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::parse_nested;

    fn full() -> SyncDaemon {
        SyncDaemon {
            role: DaemonRole::Master,
            interface: "eth0".into(),
            sync_id: 7,
            maxlen: Some(1400),
            port: Some(8850),
            ttl: Some(2),
            group: Some("224.0.0.90".parse().expect("group")),
        }
    }

    /// The bytes of a NEW_DAEMON of master on eth0, sync id 7, maxlen 1400, port 8850, TTL 2,
    /// group 224.0.0.90, written out by hand from ip_vs.h's layout (little-endian host).
    fn full_fixture() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend([8, 0, 1, 0, 1, 0, 0, 0]); // STATE = IP_VS_STATE_MASTER
        b.extend([9, 0, 2, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0]); // MCAST_IFN "eth0\0"
        b.extend([8, 0, 3, 0, 7, 0, 0, 0]); // SYNC_ID = 7
        b.extend([6, 0, 4, 0, 0x78, 0x05, 0, 0]); // SYNC_MAXLEN = 1400, host order
        b.extend([6, 0, 7, 0, 0x92, 0x22, 0, 0]); // MCAST_PORT = 8850, host order
        b.extend([5, 0, 8, 0, 2, 0, 0, 0]); // MCAST_TTL = 2
        b.extend([8, 0, 5, 0, 224, 0, 0, 90]); // MCAST_GROUP, network order
        b
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn a_daemon_encodes_to_the_kernel_layout() {
        assert_eq!(nested_bytes(&full().attrs()), full_fixture());
    }

    #[test]
    fn a_daemon_decodes_from_the_kernel_layout() {
        let attrs: Vec<DefaultNla> = parse_nested(&full_fixture()).expect("parses");
        assert_eq!(SyncDaemon::from_attrs(&attrs).expect("daemon"), full());
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn defaults_and_stop_carry_only_what_the_kernel_needs() {
        let daemon = SyncDaemon {
            role: DaemonRole::Backup,
            interface: "veth0".into(),
            sync_id: 51,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        let mut b = Vec::new();
        b.extend([8, 0, 1, 0, 2, 0, 0, 0]); // STATE = IP_VS_STATE_BACKUP
        b.extend([10, 0, 2, 0, b'v', b'e', b't', b'h', b'0', 0, 0, 0]);
        b.extend([8, 0, 3, 0, 51, 0, 0, 0]);
        assert_eq!(nested_bytes(&daemon.attrs()), b);
        assert_eq!(
            nested_bytes(&SyncDaemon::stop_attrs(DaemonRole::Master)),
            vec![8, 0, 1, 0, 1, 0, 0, 0]
        );
    }

    #[test]
    fn an_ipv6_group_travels_as_group6() {
        let mut daemon = full();
        daemon.group = Some("ff02::1234".parse().expect("group"));
        let bytes = nested_bytes(&daemon.attrs());
        let mut expected = vec![20, 0, 6, 0, 0xff, 0x02];
        expected.extend([0; 12]);
        expected.extend([0x12, 0x34]);
        assert!(bytes.ends_with(&expected), "{bytes:?}");
        let attrs: Vec<DefaultNla> = parse_nested(&bytes).expect("parses");
        assert_eq!(SyncDaemon::from_attrs(&attrs).expect("daemon"), daemon);
    }

    #[test]
    fn a_short_or_stateless_reply_is_an_error() {
        let short = vec![DefaultNla::new(DAEMON_STATE, vec![1, 0])];
        assert!(SyncDaemon::from_attrs(&short).is_err());
        let stateless = vec![DefaultNla::new(DAEMON_SYNC_ID, vec![1, 0, 0, 0])];
        assert!(SyncDaemon::from_attrs(&stateless).is_err());
    }
}
