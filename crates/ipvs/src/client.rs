//! A blocking generic netlink socket speaking to the kernel's `IPVS` family: resolves the
//! family through the controller, sends requests and collects replies and acknowledgements.
//! Each call is a short local exchange with the kernel, so the checker calls it inline.

use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{Socket, SocketAddr};
use nix::sys::socket::MsgFlags;

use crate::attr::{Destination, Info, Service, ServiceKey, Timeouts, info_from};
use crate::daemon::{DaemonRole, SyncDaemon};
use crate::message::{CmdAttr, Command, FAMILY_NAME, IpvsMessage};

/// What can go wrong talking to IPVS.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The kernel has no `IPVS` family (no ip_vs module).
    #[error("{}", describe(.0))]
    Unavailable(io::Error),
    /// The socket failed.
    #[error("{}", describe(.0))]
    Io(#[from] io::Error),
    /// The kernel refused a request; the errno.
    #[error("{}", describe(&io::Error::from_raw_os_error(*.0)))]
    Kernel(i32),
    /// A reply that does not parse.
    #[error("malformed IPVS reply: {0}")]
    Decode(String),
}

impl IpvsError {
    /// The errno of a refused request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Kernel(errno) => Some(*errno),
            IpvsError::Unavailable(e) | IpvsError::Io(e) => e.raw_os_error(),
            IpvsError::Decode(_) => None,
        }
    }
}

/// An error as `strerror` words it, without Rust's ` (os error N)` suffix.
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// A service as the kernel's table holds it, with its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// The service.
    pub service: Service,
    /// Its destinations.
    pub destinations: Vec<Destination>,
}

/// The size of the buffer replies are read into. The kernel sizes a dump's datagrams to the
/// largest buffer the reader has offered (at least a page), so a dump always fits; an
/// acknowledgement is a few dozen bytes.
const RECV_BUFFER: usize = 64 * 1024;

/// A connection to the kernel's IPVS table.
pub struct Ipvs {
    socket: Socket,
    family: u16,
    seq: u32,
    /// The request being sent, kept between calls so a request costs no allocation.
    send_buf: Vec<u8>,
    /// The datagram being read, kept between calls: one `recv` a reply, no peek first.
    recv_buf: Vec<u8>,
}

impl Ipvs {
    /// Opens a generic netlink socket and resolves the `IPVS` family;
    /// [`IpvsError::Unavailable`] when the kernel has none.
    pub fn open() -> Result<Self, IpvsError> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Acknowledgements then carry the request's header only, not the whole request back
        // (Linux 4.2 on). A kernel without the option echoes the request, which parses too.
        let _ = socket.set_cap_ack(true);
        let mut ipvs = Ipvs {
            socket,
            family: 0,
            seq: 0,
            send_buf: Vec::new(),
            recv_buf: Vec::with_capacity(RECV_BUFFER),
        };
        ipvs.family = ipvs.resolve_family().map_err(|e| match e {
            IpvsError::Kernel(errno) => IpvsError::Unavailable(io::Error::from_raw_os_error(errno)),
            other => other,
        })?;
        Ok(ipvs)
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let mut genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(FAMILY_NAME.to_string())],
        });
        genl.finalize();
        let replies = self.exchange(genl, NLM_F_REQUEST | NLM_F_ACK)?;
        replies
            .iter()
            .flat_map(|m| m.payload.nlas.iter())
            .find_map(|nla| match nla {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| IpvsError::Decode("no family id for IPVS".into()))
    }

    /// Sends one message and reads replies up to the acknowledgement or the end of the dump.
    fn exchange<F>(
        &mut self,
        genl: GenlMessage<F>,
        flags: u16,
    ) -> Result<Vec<GenlMessage<F>>, IpvsError>
    where
        F: netlink_packet_generic::GenlFamily
            + netlink_packet_core::Emitable
            + netlink_packet_core::ParseableParametrized<[u8], netlink_packet_generic::GenlHeader>
            + std::fmt::Debug,
    {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut msg = NetlinkMessage::from(genl);
        msg.header.flags = flags;
        msg.header.sequence_number = seq;
        msg.finalize();
        self.send_buf.clear();
        self.send_buf.resize(msg.buffer_len(), 0);
        msg.serialize(&mut self.send_buf);
        self.socket.send(&self.send_buf, 0)?;

        let mut replies = Vec::new();
        loop {
            let len = self.read_datagram()?;
            let datagram = &self.recv_buf[..len];
            let mut offset = 0;
            while offset < datagram.len() {
                let reply = NetlinkMessage::<GenlMessage<F>>::deserialize(&datagram[offset..])
                    .map_err(|e| IpvsError::Decode(e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(IpvsError::Decode("zero-length netlink message".into()));
                }
                offset += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(err) => {
                        return match err.code {
                            None => Ok(replies),
                            Some(code) => Err(IpvsError::Kernel(code.get().abs())),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        replies.push(inner);
                        if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Reads one datagram into `recv_buf` and returns its length. A datagram larger than the
    /// buffer (which the kernel does not send, see [`RECV_BUFFER`]) is an error, and the buffer
    /// grows to take the next one whole.
    fn read_datagram(&mut self) -> Result<usize, IpvsError> {
        self.recv_buf.clear();
        let room = self.recv_buf.capacity();
        // With MSG_TRUNC the datagram's real length comes back even when it did not fit.
        let len = self
            .socket
            .recv(&mut self.recv_buf, MsgFlags::MSG_TRUNC.bits())?;
        if len > room {
            self.recv_buf.reserve(len);
            return Err(IpvsError::Decode(format!(
                "a reply of {len} bytes did not fit the {room}-byte buffer"
            )));
        }
        Ok(len)
    }

    fn request(
        &mut self,
        cmd: Command,
        attrs: Vec<CmdAttr>,
        dump: bool,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let genl = GenlMessage::new(
            netlink_packet_generic::GenlHeader {
                cmd: cmd.value(),
                version: crate::message::FAMILY_VERSION,
            },
            IpvsMessage { cmd, attrs },
            self.family,
        );
        let flags = if dump {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        };
        Ok(self
            .exchange(genl, flags)?
            .into_iter()
            .map(|m| m.payload)
            .collect())
    }

    /// `IPVS_CMD_GET_INFO`: the IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let replies = self.request(Command::GetInfo, Vec::new(), false)?;
        let nlas: Vec<_> = replies
            .into_iter()
            .flat_map(|m| m.attrs)
            .filter_map(|a| match a {
                CmdAttr::Other(nla) => Some(nla),
                _ => None,
            })
            .collect();
        info_from(&nlas).map_err(|e| IpvsError::Decode(e.to_string()))
    }

    /// `IPVS_CMD_SET_CONFIG`: sets the connection timeouts (0 leaves one as it is).
    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), IpvsError> {
        let attrs = timeouts.attrs().into_iter().map(CmdAttr::Other).collect();
        self.request(Command::SetConfig, attrs, false).map(drop)
    }

    /// `IPVS_CMD_GET_CONFIG`: the connection timeouts.
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let replies = self.request(Command::GetConfig, Vec::new(), false)?;
        let nlas: Vec<_> = replies
            .into_iter()
            .flat_map(|m| m.attrs)
            .filter_map(|a| match a {
                CmdAttr::Other(nla) => Some(nla),
                _ => None,
            })
            .collect();
        Timeouts::from_attrs(&nlas).map_err(|e| IpvsError::Decode(e.to_string()))
    }

    /// `IPVS_CMD_NEW_DAEMON`: starts a connection synchronisation daemon.
    pub fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Daemon(daemon.attrs())];
        self.request(Command::NewDaemon, attrs, false).map(drop)
    }

    /// `IPVS_CMD_DEL_DAEMON`: stops the daemon of `role`.
    pub fn stop_daemon(&mut self, role: DaemonRole) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Daemon(SyncDaemon::stop_attrs(role))];
        self.request(Command::DelDaemon, attrs, false).map(drop)
    }

    /// `IPVS_CMD_GET_DAEMON` dump: the daemons running.
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let replies = self.request(Command::GetDaemon, Vec::new(), true)?;
        let mut daemons = Vec::new();
        for attr in replies.into_iter().flat_map(|m| m.attrs) {
            if let CmdAttr::Daemon(attrs) = attr {
                daemons.push(
                    SyncDaemon::from_attrs(&attrs).map_err(|e| IpvsError::Decode(e.to_string()))?,
                );
            }
        }
        Ok(daemons)
    }

    /// `IPVS_CMD_FLUSH`: deletes every service.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.request(Command::Flush, Vec::new(), false).map(drop)
    }

    /// `IPVS_CMD_NEW_SERVICE`.
    pub fn add_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(service.attrs())];
        self.request(Command::NewService, attrs, false).map(drop)
    }

    /// `IPVS_CMD_SET_SERVICE`: changes the scheduler, flags, timeout or netmask.
    pub fn edit_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(service.attrs())];
        self.request(Command::SetService, attrs, false).map(drop)
    }

    /// `IPVS_CMD_DEL_SERVICE`.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs())];
        self.request(Command::DelService, attrs, false).map(drop)
    }

    /// `IPVS_CMD_NEW_DEST`.
    pub fn add_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(dest.attrs())];
        self.request(Command::NewDest, attrs, false).map(drop)
    }

    /// `IPVS_CMD_SET_DEST`: changes weight, forwarding or thresholds.
    pub fn edit_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs()), CmdAttr::Dest(dest.attrs())];
        self.request(Command::SetDest, attrs, false).map(drop)
    }

    /// `IPVS_CMD_DEL_DEST`.
    pub fn del_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        let attrs = vec![
            CmdAttr::Service(key.attrs()),
            CmdAttr::Dest(dest.key_attrs()),
        ];
        self.request(Command::DelDest, attrs, false).map(drop)
    }

    /// `IPVS_CMD_GET_SERVICE` dump: every service.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let replies = self.request(Command::GetService, Vec::new(), true)?;
        let mut services = Vec::new();
        for attr in replies.into_iter().flat_map(|m| m.attrs) {
            if let CmdAttr::Service(attrs) = attr {
                services.push(
                    Service::from_attrs(&attrs).map_err(|e| IpvsError::Decode(e.to_string()))?,
                );
            }
        }
        Ok(services)
    }

    /// `IPVS_CMD_GET_DEST` dump: a service's destinations.
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, IpvsError> {
        let attrs = vec![CmdAttr::Service(key.attrs())];
        let replies = self.request(Command::GetDest, attrs, true)?;
        let mut dests = Vec::new();
        for attr in replies.into_iter().flat_map(|m| m.attrs) {
            if let CmdAttr::Dest(attrs) = attr {
                dests.push(
                    Destination::from_attrs(&attrs, key.af())
                        .map_err(|e| IpvsError::Decode(e.to_string()))?,
                );
            }
        }
        Ok(dests)
    }

    /// The whole table: every service with its destinations.
    pub fn table(&mut self) -> Result<Vec<TableEntry>, IpvsError> {
        let mut table = Vec::new();
        for service in self.services()? {
            let destinations = self.destinations(&service.key)?;
            table.push(TableEntry {
                service,
                destinations,
            });
        }
        Ok(table)
    }
}
