//! The generic netlink payload of the `IPVS` family: a command and its first-level attributes
//! (include/uapi/linux/ip_vs.h, `IPVS_CMD_*` and `IPVS_CMD_ATTR_*`).

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLA_F_NESTED, Nla, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::attr::{DestAttr, SvcAttr, parse_nested};

/// The family's name in the generic netlink controller.
pub const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub const FAMILY_VERSION: u8 = 1;

const CMD_ATTR_SERVICE: u16 = 1;
const CMD_ATTR_DEST: u16 = 2;
const CMD_ATTR_DAEMON: u16 = 3;

/// `IPVS_CMD_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Add a service.
    NewService,
    /// Change a service.
    SetService,
    /// Delete a service.
    DelService,
    /// Read one service, or dump them all.
    GetService,
    /// Add a destination.
    NewDest,
    /// Change a destination.
    SetDest,
    /// Delete a destination.
    DelDest,
    /// Dump a service's destinations.
    GetDest,
    /// Start a connection synchronisation daemon.
    NewDaemon,
    /// Stop a connection synchronisation daemon.
    DelDaemon,
    /// Read the synchronisation daemons.
    GetDaemon,
    /// Set the connection timeouts.
    SetConfig,
    /// Read the connection timeouts.
    GetConfig,
    /// The kernel's reply to `GetInfo`.
    SetInfo,
    /// Version and connection table size.
    GetInfo,
    /// Delete every service and destination.
    Flush,
    /// Any other command number.
    Other(u8),
}

impl Command {
    /// The command's number.
    pub fn value(self) -> u8 {
        match self {
            Command::NewService => 1,
            Command::SetService => 2,
            Command::DelService => 3,
            Command::GetService => 4,
            Command::NewDest => 5,
            Command::SetDest => 6,
            Command::DelDest => 7,
            Command::GetDest => 8,
            Command::NewDaemon => 9,
            Command::DelDaemon => 10,
            Command::GetDaemon => 11,
            Command::SetConfig => 12,
            Command::GetConfig => 13,
            Command::SetInfo => 14,
            Command::GetInfo => 15,
            Command::Flush => 17,
            Command::Other(v) => v,
        }
    }

    /// The command a number names.
    pub fn from_value(value: u8) -> Self {
        match value {
            1 => Command::NewService,
            2 => Command::SetService,
            3 => Command::DelService,
            4 => Command::GetService,
            5 => Command::NewDest,
            6 => Command::SetDest,
            7 => Command::DelDest,
            8 => Command::GetDest,
            9 => Command::NewDaemon,
            10 => Command::DelDaemon,
            11 => Command::GetDaemon,
            12 => Command::SetConfig,
            13 => Command::GetConfig,
            14 => Command::SetInfo,
            15 => Command::GetInfo,
            17 => Command::Flush,
            v => Command::Other(v),
        }
    }
}

/// A first-level attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdAttr {
    /// `IPVS_CMD_ATTR_SERVICE`: a nested service.
    Service(Vec<SvcAttr>),
    /// `IPVS_CMD_ATTR_DEST`: a nested destination.
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`: a nested sync daemon ([`crate::daemon`]).
    Daemon(Vec<DefaultNla>),
    /// Anything else, and the `IPVS_INFO_ATTR_*` of a `GetInfo` reply.
    Other(DefaultNla),
}

impl Nla for CmdAttr {
    fn value_len(&self) -> usize {
        match self {
            CmdAttr::Service(attrs) => attrs.as_slice().buffer_len(),
            CmdAttr::Dest(attrs) => attrs.as_slice().buffer_len(),
            CmdAttr::Daemon(attrs) => attrs.as_slice().buffer_len(),
            CmdAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            CmdAttr::Service(_) => CMD_ATTR_SERVICE | NLA_F_NESTED,
            CmdAttr::Dest(_) => CMD_ATTR_DEST | NLA_F_NESTED,
            CmdAttr::Daemon(_) => CMD_ATTR_DAEMON | NLA_F_NESTED,
            CmdAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            CmdAttr::Service(attrs) => attrs.as_slice().emit(buffer),
            CmdAttr::Dest(attrs) => attrs.as_slice().emit(buffer),
            CmdAttr::Daemon(attrs) => attrs.as_slice().emit(buffer),
            CmdAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

/// One message of the `IPVS` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: Command,
    /// Its attributes.
    pub attrs: Vec<CmdAttr>,
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.value()
    }

    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = Command::from_value(header.cmd);
        // Replies whose first-level attributes are not services and destinations.
        let info = matches!(
            cmd,
            Command::SetInfo | Command::GetInfo | Command::SetConfig | Command::GetConfig
        );
        let mut attrs = Vec::new();
        for nla in NlasIterator::new(buf) {
            let nla = nla?;
            attrs.push(parse_cmd_attr(&nla, info)?);
        }
        Ok(IpvsMessage { cmd, attrs })
    }
}

fn parse_cmd_attr(nla: &NlaBuffer<&[u8]>, info: bool) -> Result<CmdAttr, DecodeError> {
    Ok(match nla.kind() {
        CMD_ATTR_SERVICE if !info => CmdAttr::Service(parse_nested(nla.value())?),
        CMD_ATTR_DEST if !info => CmdAttr::Dest(parse_nested(nla.value())?),
        CMD_ATTR_DAEMON if !info => CmdAttr::Daemon(parse_nested(nla.value())?),
        _ => CmdAttr::Other(DefaultNla::parse(nla)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{Destination, Forward, IPPROTO_UDP, ServiceKey};

    #[test]
    fn command_numbers_follow_ip_vs_h() {
        let expected = [
            (Command::NewService, 1),
            (Command::SetService, 2),
            (Command::DelService, 3),
            (Command::GetService, 4),
            (Command::NewDest, 5),
            (Command::SetDest, 6),
            (Command::DelDest, 7),
            (Command::GetDest, 8),
            (Command::NewDaemon, 9),
            (Command::DelDaemon, 10),
            (Command::GetDaemon, 11),
            (Command::SetConfig, 12),
            (Command::GetConfig, 13),
            (Command::SetInfo, 14),
            (Command::GetInfo, 15),
            (Command::Flush, 17),
        ];
        for (cmd, value) in expected {
            assert_eq!(cmd.value(), value);
            assert_eq!(Command::from_value(value), cmd);
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn new_dest_message_nests_service_then_dest() {
        let key = ServiceKey::Address {
            protocol: IPPROTO_UDP,
            addr: "198.51.100.10".parse().expect("address"),
            port: 53,
        };
        let dest = Destination::new("192.0.2.11".parse().expect("address"), 53, Forward::Masq, 1);
        let msg = IpvsMessage {
            cmd: Command::NewDest,
            attrs: vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(dest.attrs())],
        };
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        // service: AF(8) PROTOCOL(8) ADDR(20) PORT(8) = 44 + 4 header
        assert_eq!(&buf[..4], &[48, 0, 1, 0x80]);
        assert_eq!(&buf[4..12], &[6, 0, 1, 0, 2, 0, 0, 0]);
        assert_eq!(&buf[12..20], &[6, 0, 2, 0, 17, 0, 0, 0]);
        // dest: AF(8) ADDR(20) PORT(8) FWD(8) WEIGHT(8) U(8) L(8) = 68 + 4 header
        assert_eq!(&buf[48..52], &[72, 0, 2, 0x80]);
        assert_eq!(buf.len(), 48 + 72);

        let header = GenlHeader {
            cmd: Command::NewDest.value(),
            version: FAMILY_VERSION,
        };
        let parsed = IpvsMessage::parse_with_param(&buf, header).expect("parses");
        assert_eq!(parsed, msg);
    }

    /// A DEL_DAEMON of the backup daemon: IPVS_CMD_ATTR_DAEMON (3, nested) holding the
    /// state alone; a GET_DAEMON reply of the same layout reads back as a daemon attribute.
    #[test]
    #[cfg(target_endian = "little")]
    fn daemon_messages_nest_their_attributes() {
        let msg = IpvsMessage {
            cmd: Command::DelDaemon,
            attrs: vec![CmdAttr::Daemon(crate::daemon::SyncDaemon::stop_attrs(
                crate::daemon::DaemonRole::Backup,
            ))],
        };
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        assert_eq!(buf, [12, 0, 3, 0x80, 8, 0, 1, 0, 2, 0, 0, 0]);
        let header = GenlHeader {
            cmd: Command::GetDaemon.value(),
            version: FAMILY_VERSION,
        };
        let parsed = IpvsMessage::parse_with_param(&buf, header).expect("parses");
        assert_eq!(parsed.attrs, msg.attrs);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn get_info_reply_reads_its_own_attributes() {
        let buf = [8, 0, 1, 0, 1, 2, 1, 0, 8, 0, 2, 0, 0, 16, 0, 0];
        let header = GenlHeader {
            cmd: Command::SetInfo.value(),
            version: FAMILY_VERSION,
        };
        let msg = IpvsMessage::parse_with_param(&buf[..], header).expect("parses");
        let others: Vec<DefaultNla> = msg
            .attrs
            .into_iter()
            .filter_map(|a| match a {
                CmdAttr::Other(nla) => Some(nla),
                _ => None,
            })
            .collect();
        let info = crate::attr::info_from(&others).expect("info");
        assert_eq!(
            (info.version_string().as_str(), info.conn_tab_size),
            ("1.2.1", 4096)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let header = GenlHeader {
            cmd: Command::NewService.value(),
            version: FAMILY_VERSION,
        };
        assert!(IpvsMessage::parse_with_param(&[200, 0, 1, 0, 0][..], header).is_err());
        assert!(IpvsMessage::parse_with_param(&[8, 0, 1, 0, 9, 0, 0, 0][..], header).is_err());
    }
}
