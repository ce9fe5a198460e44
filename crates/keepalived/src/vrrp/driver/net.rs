//! The data path of each interface: its socket per address family, read by the main loop
//! (drained in one wake-up into one buffer, each packet handled in place), the senders of
//! gratuitous ARPs and unsolicited neighbour advertisements, and received packets routed to
//! the instance of their (link, VRID).

use std::net::IpAddr;
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use keepalived_net::garp::GarpSender;
use keepalived_net::interface;
use keepalived_net::vrrp_socket::VrrpSocket;
use keepalived_net::vrrp_socket6::VrrpSocket6;
use keepalived_vrrp::instance::{Destination, Received};
use keepalived_vrrp::packet::Packet;

use super::super::setup::InstancePlan;
use super::Driver;

/// A packet read from an interface's socket, its message still in the receive buffer.
pub struct Incoming<'a> {
    /// Index into `Driver::links`.
    pub interface: usize,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: &'a [u8],
    /// `auth_type AH`: why its authentication header did not check out ([`super::ah`]).
    pub ah_refused: Option<super::ah::Refusal>,
}

/// The VRRP socket of one link: IPv4 or IPv6.
#[derive(Clone)]
pub enum LinkSocket {
    /// IPv4 (IP_HDRINCL, we write the header).
    V4(Rc<VrrpSocket>),
    /// IPv6 (source and hop limit as ancillary data).
    V6(Rc<VrrpSocket6>),
    /// IPv4 behind an authentication header (`auth_type AH`, IP protocol 51).
    Ah(Rc<super::ah::AhLink>),
    /// None yet: the interface does not exist (`dynamic_interfaces`); opened when it appears.
    Absent,
}

/// What kind of socket a link needs, to open it again when its interface is created anew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkKind {
    /// IPv6, joining this group.
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// `auth_type AH`.
    pub ah: bool,
}

/// The per-interface, per-family half of the data path.
pub struct Link {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Its VRRP socket.
    pub socket: LinkSocket,
    /// Packets for a VRID nobody here runs.
    pub unknown_vrid: u64,
    /// Packets too short to carry a VRID.
    pub too_short: u64,
    /// Reading its socket failed (not a bad packet: the socket): the main loop leaves it
    /// alone until then, so a broken socket does not spin.
    pub paused_until: Option<Instant>,
    /// The last link state seen (the kernel repeats RTM_NEWLINK for unrelated changes).
    pub up: bool,
    /// The interface's address the adverts of instances without a configured source leave
    /// from: its first IPv4 address other than our VIPs, or (an IPv6 link) its first IPv6
    /// link-local address other than our VIPs (RFC 5798 section 5.1.2.1).
    pub primary: Option<IpAddr>,
    /// The kind of its socket.
    pub kind: LinkKind,
    /// Whether its socket waits to be read ([`super::arrivals`]).
    pub watch: super::arrivals::Watch,
}

impl Driver {
    /// Hands a received packet to the instance of its interface and VRID, or counts it.
    pub(super) async fn receive(&mut self, packet: Incoming<'_>) {
        // A message too short for a whole header is still the instance's to count.
        let vrid = match Packet::peek_vrid(packet.payload) {
            Some(vrid) => vrid,
            None => {
                let link = &mut self.links[packet.interface];
                link.too_short += 1;
                if link.too_short == 1 {
                    self.logger.info(&format!(
                        "(interface {}) VRRP packet too short - {} bytes; counting such \
                         packets from now on",
                        link.name,
                        packet.payload.len()
                    ));
                }
                return;
            }
        };
        let Some(i) = self.routes.get(packet.interface, vrid) else {
            let link = &mut self.links[packet.interface];
            link.unknown_vrid += 1;
            crate::unknown_vrids::report(&self.logger, vrid, &link.name);
            if link.unknown_vrid == 1 && !crate::unknown_vrids::enabled() {
                self.logger.info(&format!(
                    "(interface {}) received an advert for VRID {vrid} that no instance here \
                     runs; ignoring such adverts from now on",
                    link.name
                ));
            }
            return;
        };
        if let Some(why) = packet.ah_refused {
            self.ah_rejected(i, why);
            return;
        }
        let received = Received {
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
            payload: packet.payload,
        };
        let now = Instant::now();
        let running = &mut self.running[i];
        let (phase, stats) = (running.instance.phase(), running.instance.stats());
        let (accepted, zeros) = (stats.received, stats.priority_zero_received);
        running.instance.handle_packet(now, received);
        let stats = running.instance.stats();
        if stats.received > accepted {
            let zero = stats.priority_zero_received > zeros;
            let config = running.instance.config();
            running.watch.accepted(now, phase, config, zero);
        }
        self.execute(i).await;
    }

    /// The link (socket) of `plan`'s interface and address family, opened on first use, and
    /// the announcement senders its addresses need.
    pub(super) fn link_for(&mut self, plan: &InstancePlan) -> anyhow::Result<usize> {
        let name = &plan.config.interface;
        let ipv6 = plan.config.local_address.is_ipv6();
        let ah = plan.ah_key.is_some();
        let same = |l: &Link| {
            // By kind, not socket: a link on a missing interface has none yet.
            &l.name == name && l.kind.ipv6.is_some() == ipv6 && l.kind.ah == ah
        };
        let link = match self.links.iter().position(same) {
            Some(link) => link,
            None => {
                let kind = LinkKind {
                    // vrrp_mcast_group6, as the instance's destination says (ff02::12 for
                    // unicast instances: keepalived's sockets join it too).
                    ipv6: ipv6.then_some(match &plan.config.destination {
                        Destination::Multicast(IpAddr::V6(group)) => *group,
                        _ => keepalived_vrrp::packet::MULTICAST_GROUP_V6,
                    }),
                    ah,
                };
                // With `dynamic_interfaces` the interface may not exist yet: the link waits
                // for it, down and without a socket.
                let iface = interface::lookup(name).ok();
                let socket = match &iface {
                    Some(iface) => self.open_socket(iface, kind)?,
                    None => LinkSocket::Absent,
                };
                let (index, up) = iface.as_ref().map_or((0, false), |i| (i.index, i.up));
                if let Some(iface) = &iface {
                    self.ifindex.insert(iface.name.clone(), iface.index);
                }
                self.interface_up.insert(name.clone(), up);
                let primary = iface
                    .as_ref()
                    .and_then(|i| self.first_address(i, kind.ipv6.is_some()));
                self.links.push(Link {
                    name: name.clone(),
                    index,
                    socket,
                    unknown_vrid: 0,
                    too_short: 0,
                    paused_until: None,
                    up,
                    primary,
                    kind,
                    watch: Default::default(),
                });
                self.links.len() - 1
            }
        };
        if let (LinkSocket::Ah(socket), Some(key)) = (&self.links[link].socket, plan.ah_key) {
            socket.set_key(plan.config.vrid, key);
        }
        for name in std::iter::once(name).chain(plan.addresses.iter().map(|a| &a.interface)) {
            if self.garps.contains_key(name) {
                continue;
            }
            // A `dev` that does not exist is reported when its address is added.
            if let Ok(iface) = interface::lookup(name) {
                let garp =
                    GarpSender::open(&iface).with_context(|| format!("ARP socket on {name}"))?;
                self.ifindex.insert(iface.name.clone(), iface.index);
                self.garps.insert(iface.name, garp);
            }
        }
        Ok(link)
    }
}

impl Driver {
    /// Opens the VRRP socket of `kind` on `iface`. Each advert carries its instance's own
    /// source; the socket's is only a default.
    pub(super) fn open_socket(
        &self,
        iface: &interface::Interface,
        kind: LinkKind,
    ) -> anyhow::Result<LinkSocket> {
        let name = &iface.name;
        Ok(if kind.ah {
            LinkSocket::Ah(Rc::new(super::ah::AhLink::new(
                VrrpSocket::open_protocol(iface, None, self.group, keepalived_net::ah::IPPROTO_AH)
                    .with_context(|| format!("AH socket on {name}"))?,
            )))
        } else if let Some(group) = kind.ipv6 {
            LinkSocket::V6(Rc::new(
                VrrpSocket6::open(iface, Some(group))
                    .with_context(|| format!("IPv6 VRRP socket on {name}"))?,
            ))
        } else {
            LinkSocket::V4(Rc::new(
                VrrpSocket::open(iface, None, self.group)
                    .with_context(|| format!("VRRP socket on {name}"))?,
            ))
        })
    }

    /// The address of `iface` adverts leave from when no source is configured: its first
    /// IPv4 address, or with `ipv6` its first link-local IPv6 address, that is not one of our
    /// VIPs.
    pub(super) fn first_address(&self, iface: &interface::Interface, ipv6: bool) -> Option<IpAddr> {
        let ours = |a: IpAddr| {
            self.running
                .iter()
                .any(|r| r.plan.addresses.iter().any(|v| v.address == a))
        };
        if ipv6 {
            iface
                .ipv6
                .iter()
                .map(|&a| IpAddr::V6(a))
                .find(|&a| matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local()) && !ours(a))
        } else {
            iface
                .ipv4
                .iter()
                .map(|&(a, _)| IpAddr::V4(a))
                .find(|&a| !ours(a))
        }
    }
}

/// The receive buffer of an interface's socket: a jumbo frame. The largest VRRP message (255
/// IPv6 addresses behind the headers) is about 4.2 KB; anything longer is not VRRP and arrives
/// cut short, to be dropped and counted as malformed.
const RECEIVE_BUFFER: usize = 9_216;

/// How many packets one wake-up reads from a socket before the loop looks at its timers and
/// other events again: a flood must not delay adverts.
const RECEIVE_BUDGET: usize = 64;

/// What one [`Driver::drain_link`] read.
pub(super) struct Drained {
    /// The read stopped at its budget: the socket may hold more (a flood).
    pub more: bool,
    /// How many packets it handed to the instances.
    pub packets: usize,
}

/// How long a socket whose reads fail (other than with a bad packet) is left alone.
const BROKEN_SOCKET_PAUSE: Duration = Duration::from_millis(100);

/// One packet taken from a link's socket: where its VRRP message lies in the receive buffer,
/// or (behind an authentication header) the message taken out of it.
struct Taken {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    payload: Payload,
    ah_refused: Option<super::ah::Refusal>,
}

enum Payload {
    InBuffer(Range<usize>),
    Owned(Vec<u8>),
}

/// Reads one packet from `socket` into `buf` without waiting. `Ok(None)`: a datagram that is
/// not a VRRP message the instances could count (an AH datagram whose header cannot be
/// located), already consumed.
fn take_one(socket: &LinkSocket, buf: &mut [u8]) -> std::io::Result<Option<Taken>> {
    Ok(match socket {
        LinkSocket::V4(socket) => {
            let r = socket.try_recv(buf)?;
            Some(Taken {
                src: IpAddr::from(r.src),
                dst: IpAddr::from(r.dst),
                ttl: r.ttl,
                payload: Payload::InBuffer(r.payload),
                ah_refused: None,
            })
        }
        LinkSocket::V6(socket) => {
            let r = socket.try_recv(buf)?;
            Some(Taken {
                src: IpAddr::from(r.src),
                dst: IpAddr::from(r.dst),
                ttl: r.hop_limit,
                payload: Payload::InBuffer(0..r.len),
                ah_refused: None,
            })
        }
        LinkSocket::Ah(link) => {
            let r = link.socket.try_recv(buf)?;
            buf.get(..r.payload.end)
                .and_then(|d| link.open(d))
                .map(|(payload, refused)| Taken {
                    src: IpAddr::from(r.src),
                    dst: IpAddr::from(r.dst),
                    ttl: r.ttl,
                    payload: Payload::Owned(payload),
                    ah_refused: refused,
                })
        }
        LinkSocket::Absent => {
            return Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
        }
    })
}

impl Driver {
    /// Reads link `l`'s socket until it is empty or [`RECEIVE_BUDGET`] packets were read,
    /// each handed to its instance at once from one receive buffer; says how many it read and
    /// whether the budget ran out with packets maybe still waiting (a flood).
    pub(super) async fn drain_link(&mut self, l: usize) -> Drained {
        let mut buf = std::mem::take(&mut self.receive_buffer);
        if buf.len() != RECEIVE_BUFFER {
            buf = vec![0u8; RECEIVE_BUFFER];
        }
        let mut more = true;
        let mut emptied = false;
        let mut packets = 0;
        for _ in 0..RECEIVE_BUDGET {
            let Some(link) = self.links.get(l) else {
                more = false;
                break;
            };
            match take_one(&link.socket, &mut buf) {
                Ok(Some(taken)) => {
                    let payload = match &taken.payload {
                        Payload::InBuffer(range) => buf.get(range.clone()),
                        Payload::Owned(payload) => Some(&payload[..]),
                    };
                    let Some(payload) = payload else {
                        continue;
                    };
                    packets += 1;
                    let packet = Incoming {
                        interface: l,
                        src: taken.src,
                        dst: taken.dst,
                        ttl: taken.ttl,
                        payload,
                        ah_refused: taken.ah_refused,
                    };
                    self.receive(packet).await;
                }
                Ok(None) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    more = false;
                    emptied = true;
                    break;
                }
                // A garbled IP header is one bad packet: read the next one at once.
                Err(err) if err.kind() == std::io::ErrorKind::InvalidData => {}
                // A broken socket must not spin: leave it alone a little.
                Err(_) => {
                    if let Some(link) = self.links.get_mut(l) {
                        link.paused_until = Some(Instant::now() + BROKEN_SOCKET_PAUSE);
                    }
                    more = false;
                    break;
                }
            }
        }
        self.receive_buffer = buf;
        if emptied && let Some(link) = self.links.get_mut(l) {
            self.arrivals.emptied(link);
        }
        Drained { more, packets }
    }

    /// When the first paused socket is to be read again.
    pub(super) fn paused_until(&self) -> Option<Instant> {
        self.links.iter().filter_map(|l| l.paused_until).min()
    }

    /// Sockets whose pause is over are read again.
    pub(super) fn resume_links(&mut self, now: Instant) {
        for link in &mut self.links {
            if link.paused_until.is_some_and(|t| t <= now) {
                link.paused_until = None;
            }
        }
    }
}

/// Which instance runs each (link, VRID): a table of 256 entries per link, looked up with one
/// memory access per received packet (a hash map hashed the key and probed a cold table).
#[derive(Debug, Default)]
pub struct Routes {
    /// Entry `link * 256 + vrid`: the instance's index plus one, 0 for none.
    table: Vec<u32>,
}

impl Routes {
    /// The instance of `vrid` on `link`.
    pub fn get(&self, link: usize, vrid: u8) -> Option<usize> {
        let entry = *self.table.get(link * 256 + usize::from(vrid))?;
        (entry as usize).checked_sub(1)
    }
}

impl FromIterator<((usize, u8), usize)> for Routes {
    fn from_iter<I: IntoIterator<Item = ((usize, u8), usize)>>(routes: I) -> Routes {
        let mut table = Vec::new();
        for ((link, vrid), i) in routes {
            let at = link * 256 + usize::from(vrid);
            if table.len() <= at {
                table.resize((link + 1) * 256, 0);
            }
            // More instances than a u32 counts cannot be configured; such an entry is left out.
            if let Some(entry) = u32::try_from(i).ok().and_then(|i| i.checked_add(1)) {
                table[at] = entry;
            }
        }
        Routes { table }
    }
}

#[cfg(test)]
mod tests {
    use super::Routes;

    #[test]
    fn routes_find_each_instance_and_nothing_else() {
        let routes: Routes = [((0, 1), 0), ((0, 255), 1), ((3, 1), 2)]
            .into_iter()
            .collect();
        assert_eq!(routes.get(0, 1), Some(0));
        assert_eq!(routes.get(0, 255), Some(1));
        assert_eq!(routes.get(3, 1), Some(2));
        assert_eq!(routes.get(0, 2), None);
        assert_eq!(routes.get(1, 1), None);
        assert_eq!(routes.get(4, 1), None);
        assert_eq!(Routes::default().get(0, 0), None);
    }
}
