//! Adding and removing routes (virtual_routes, static_routes) over rtnetlink (RTM_NEWROUTE,
//! RTM_DELROUTE; rtnetlink(7)).
//!
//! Routes are sent as keepalived 2.2.7 sends them (observed with strace): a unicast route is
//! added with `NLM_F_CREATE` alone (so it goes in beside a route of the same prefix and metric,
//! such as the kernel's own prefix route), any other type with `NLM_F_CREATE | NLM_F_EXCL`
//! (EEXIST then); a removal says scope `RT_SCOPE_NOWHERE` (any scope) and names the protocol,
//! so the kernel only removes the daemon's own.

use std::io;
use std::net::IpAddr;

use futures::StreamExt;
use rtnetlink::Handle;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric, RouteNextHop,
    RouteNextHopFlags, RoutePreference, RouteProtocol, RouteRealm, RouteScope, RouteType,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::task::JoinHandle;

/// `RTPROT_KEEPALIVED`: the protocol keepalived marks its routes and rules with.
pub const RTPROT_KEEPALIVED: u8 = 18;
/// `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;

/// The route types (`RTN_*`, rtnetlink(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A gateway or direct route.
    #[default]
    Unicast,
    /// `local`: a local interface route.
    Local,
    /// `broadcast`.
    Broadcast,
    /// `anycast`.
    Anycast,
    /// `multicast`.
    Multicast,
    /// `blackhole`: packets silently dropped.
    Blackhole,
    /// `unreachable`: ICMP unreachable.
    Unreachable,
    /// `prohibit`: ICMP administratively prohibited.
    Prohibit,
    /// `throw`: the lookup goes on in the next policy rule.
    Throw,
    /// `nat`.
    Nat,
    /// `xresolve`: an external resolver.
    ExternalResolve,
    /// A type given by a number no name stands for (`0`, `12`-`255`).
    Number(u8),
}

impl Kind {
    /// The type a route line's keyword names: iproute2's names, or a number up to 255 as
    /// `strtoul(…, 0)` reads it (keepalived 2.2.7 takes `6` as blackhole).
    pub fn from_keyword(word: &str) -> Option<Kind> {
        if let Some(n) = c_number(word).and_then(|n| u8::try_from(n).ok()) {
            return Some(match n {
                1 => Kind::Unicast,
                2 => Kind::Local,
                3 => Kind::Broadcast,
                4 => Kind::Anycast,
                5 => Kind::Multicast,
                6 => Kind::Blackhole,
                7 => Kind::Unreachable,
                8 => Kind::Prohibit,
                9 => Kind::Throw,
                10 => Kind::Nat,
                11 => Kind::ExternalResolve,
                other => Kind::Number(other),
            });
        }
        Some(match word {
            "unicast" => Kind::Unicast,
            "local" => Kind::Local,
            "broadcast" | "brd" => Kind::Broadcast,
            "anycast" => Kind::Anycast,
            "multicast" => Kind::Multicast,
            "blackhole" => Kind::Blackhole,
            "unreachable" => Kind::Unreachable,
            "prohibit" => Kind::Prohibit,
            "throw" => Kind::Throw,
            "nat" => Kind::Nat,
            "xresolve" => Kind::ExternalResolve,
            _ => return None,
        })
    }

    fn route_type(self) -> RouteType {
        match self {
            Kind::Unicast => RouteType::Unicast,
            Kind::Local => RouteType::Local,
            Kind::Broadcast => RouteType::Broadcast,
            Kind::Anycast => RouteType::Anycast,
            Kind::Multicast => RouteType::Multicast,
            Kind::Blackhole => RouteType::BlackHole,
            Kind::Unreachable => RouteType::Unreachable,
            Kind::Prohibit => RouteType::Prohibit,
            Kind::Throw => RouteType::Throw,
            Kind::Nat => RouteType::Nat,
            Kind::ExternalResolve => RouteType::ExternalResolve,
            Kind::Number(n) => RouteType::from(n),
        }
    }
}

/// One `RTAX_*` metric of a route (`mtu lock 1400` is `Metric { kind: Mtu, value: 1400,
/// locked: true }`), in the unit the kernel keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Which metric.
    pub kind: MetricKind,
    /// Its value.
    pub value: u32,
    /// `lock`: the kernel must not change it (path MTU discovery and the like).
    pub locked: bool,
}

/// The `RTAX_*` metrics a route line can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricKind {
    /// `mtu`.
    Mtu,
    /// `window`.
    Window,
    /// `rtt` (the kernel's unit: 1/8 ms).
    Rtt,
    /// `rttvar` (the kernel's unit: 1/4 ms).
    RttVar,
    /// `ssthresh`.
    SsThresh,
    /// `cwnd`.
    Cwnd,
    /// `advmss`.
    Advmss,
    /// `reordering`.
    Reordering,
    /// `hoplimit`.
    Hoplimit,
    /// `initcwnd`.
    InitCwnd,
    /// `features` (`ecn` is 1).
    Features,
    /// `rto_min` (ms).
    RtoMin,
    /// `initrwnd`.
    InitRwnd,
    /// `quickack`.
    QuickAck,
    /// `fastopen_no_cookie`.
    FastopenNoCookie,
    /// `congctl NAME`: the value is unused, the name is here.
    Congctl(String),
}

/// The `RTAX_*` number of a metric, for the lock bit mask.
fn rtax(kind: &MetricKind) -> u32 {
    match kind {
        MetricKind::Mtu => 2,
        MetricKind::Window => 3,
        MetricKind::Rtt => 4,
        MetricKind::RttVar => 5,
        MetricKind::SsThresh => 6,
        MetricKind::Cwnd => 7,
        MetricKind::Advmss => 8,
        MetricKind::Reordering => 9,
        MetricKind::Hoplimit => 10,
        MetricKind::InitCwnd => 11,
        MetricKind::Features => 12,
        MetricKind::RtoMin => 13,
        MetricKind::InitRwnd => 14,
        MetricKind::QuickAck => 15,
        MetricKind::Congctl(_) => 16,
        MetricKind::FastopenNoCookie => 17,
    }
}

/// One next hop of a multipath route (`nexthop via ADDR dev IF weight N onlink`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NextHop {
    /// `via`: the gateway.
    pub gateway: Option<IpAddr>,
    /// `dev`: the interface index.
    pub ifindex: Option<u32>,
    /// `weight` (1 to 256; the kernel keeps weight - 1).
    pub weight: u16,
    /// `onlink`: the gateway is on the link even without a matching prefix.
    pub onlink: bool,
    /// `realms FROM/TO` (IPv4).
    pub realms: Option<(u16, u16)>,
}

/// One route as a virtual_routes / static_routes line describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The destination prefix.
    pub destination: IpAddr,
    /// Its length.
    pub prefix_len: u8,
    /// `table` (RT_TABLE_MAIN when not written).
    pub table: u32,
    /// The protocol (`RTPROT_KEEPALIVED` unless `protocol` with `no_track`).
    pub protocol: u8,
    /// `scope`: an `RT_SCOPE_*` value; keepalived 2.2.7 leaves it universe (0) unless told
    /// (observed: its device routes show no `scope link`).
    pub scope: u8,
    /// The type.
    pub kind: Kind,
    /// `tos` / `dsfield`.
    pub tos: u8,
    /// `dev`: the interface index.
    pub oif: Option<u32>,
    /// `via` / `gw`.
    pub gateway: Option<IpAddr>,
    /// `src`: the preferred source address.
    pub pref_source: Option<IpAddr>,
    /// `from PREFIX` (IPv6): the source prefix a source-specific route matches (`RTA_SRC`).
    pub source: Option<(IpAddr, u8)>,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `realms FROM/TO` (IPv4).
    pub realms: Option<(u16, u16)>,
    /// The `RTAX_*` metrics.
    pub metrics: Vec<Metric>,
    /// `onlink`.
    pub onlink: bool,
    /// `nexthop` (and the deprecated `or`): the hops of a multipath route.
    pub nexthops: Vec<NextHop>,
    /// `pref low|medium|high` (IPv6 router preference, RFC 4191 section 2.1): 3, 0, 1.
    pub pref: Option<u8>,
    /// `expires SECS` (IPv6).
    pub expires: Option<u32>,
}

impl RouteSpec {
    /// A unicast route to `destination/prefix_len` in the main table, protocol keepalived,
    /// nothing else set.
    pub fn new(destination: IpAddr, prefix_len: u8) -> RouteSpec {
        RouteSpec {
            destination,
            prefix_len,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_KEEPALIVED,
            scope: 0,
            kind: Kind::Unicast,
            tos: 0,
            oif: None,
            gateway: None,
            pref_source: None,
            source: None,
            metric: None,
            realms: None,
            metrics: Vec::new(),
            onlink: false,
            nexthops: Vec::new(),
            pref: None,
            expires: None,
        }
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

/// The RTM_NEWROUTE / RTM_DELROUTE body for `spec` (header and attributes, as `ip route`
/// would build them).
pub fn route_message(spec: &RouteSpec) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let mut header = RouteHeader {
        address_family: match spec.destination {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        },
        destination_prefix_length: spec.prefix_len,
        source_prefix_length: spec.source.map_or(0, |(_, len)| len),
        tos: spec.tos,
        // Tables above 255 only fit RTA_TABLE; the header then says RT_TABLE_UNSPEC.
        table: u8::try_from(spec.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC),
        protocol: RouteProtocol::from(spec.protocol),
        scope: RouteScope::from(spec.scope),
        kind: spec.kind.route_type(),
        ..RouteHeader::default()
    };
    if spec.onlink {
        header.flags |= RouteFlags::Onlink;
    }
    msg.header = header;
    let attrs = &mut msg.attributes;
    attrs.push(RouteAttribute::Table(spec.table));
    if spec.prefix_len > 0 || !spec.destination.is_unspecified() {
        attrs.push(RouteAttribute::Destination(route_address(spec.destination)));
    }
    if let Some(gateway) = spec.gateway {
        attrs.push(RouteAttribute::Gateway(route_address(gateway)));
    }
    if let Some(oif) = spec.oif {
        attrs.push(RouteAttribute::Oif(oif));
    }
    if let Some(src) = spec.pref_source {
        attrs.push(RouteAttribute::PrefSource(route_address(src)));
    }
    if let Some((source, _)) = spec.source {
        attrs.push(RouteAttribute::Source(route_address(source)));
    }
    if let Some(metric) = spec.metric {
        attrs.push(RouteAttribute::Priority(metric));
    }
    if let Some((source, destination)) = spec.realms {
        attrs.push(RouteAttribute::Realm(RouteRealm {
            source,
            destination,
        }));
    }
    if !spec.metrics.is_empty() {
        attrs.push(RouteAttribute::Metrics(metrics(&spec.metrics)));
    }
    if !spec.nexthops.is_empty() {
        attrs.push(RouteAttribute::MultiPath(
            spec.nexthops.iter().map(next_hop).collect(),
        ));
    }
    if let Some(pref) = spec.pref {
        attrs.push(RouteAttribute::Preference(RoutePreference::from(pref)));
    }
    if let Some(expires) = spec.expires {
        attrs.push(RouteAttribute::Expires(expires));
    }
    msg
}

/// RTA_METRICS: the lock mask first (when some metric is locked), then each metric.
fn metrics(list: &[Metric]) -> Vec<RouteMetric> {
    let lock = list
        .iter()
        .filter(|m| m.locked)
        .fold(0u32, |mask, m| mask | (1 << rtax(&m.kind)));
    let mut out = Vec::new();
    if lock != 0 {
        out.push(RouteMetric::Lock(lock));
    }
    for m in list {
        out.push(match &m.kind {
            MetricKind::Mtu => RouteMetric::Mtu(m.value),
            MetricKind::Window => RouteMetric::Window(m.value),
            MetricKind::Rtt => RouteMetric::Rtt(m.value),
            MetricKind::RttVar => RouteMetric::RttVar(m.value),
            MetricKind::SsThresh => RouteMetric::SsThresh(m.value),
            MetricKind::Cwnd => RouteMetric::Cwnd(m.value),
            MetricKind::Advmss => RouteMetric::Advmss(m.value),
            MetricKind::Reordering => RouteMetric::Reordering(m.value),
            MetricKind::Hoplimit => RouteMetric::Hoplimit(m.value),
            MetricKind::InitCwnd => RouteMetric::InitCwnd(m.value),
            MetricKind::Features => RouteMetric::Features(m.value),
            MetricKind::RtoMin => RouteMetric::RtoMin(m.value),
            MetricKind::InitRwnd => RouteMetric::InitRwnd(m.value),
            MetricKind::QuickAck => RouteMetric::QuickAck(m.value),
            MetricKind::FastopenNoCookie => RouteMetric::FastopenNoCookie(m.value),
            MetricKind::Congctl(name) => RouteMetric::CcAlgo(name.clone()),
        });
    }
    out
}

/// One `struct rtnexthop` with its attributes.
fn next_hop(hop: &NextHop) -> RouteNextHop {
    let mut out = RouteNextHop::default();
    out.hops = u8::try_from(hop.weight.saturating_sub(1)).unwrap_or(u8::MAX);
    out.interface_index = hop.ifindex.unwrap_or(0);
    if hop.onlink {
        out.flags |= RouteNextHopFlags::Onlink;
    }
    if let Some(gateway) = hop.gateway {
        out.attributes
            .push(RouteAttribute::Gateway(route_address(gateway)));
    }
    if let Some((source, destination)) = hop.realms {
        out.attributes.push(RouteAttribute::Realm(RouteRealm {
            source,
            destination,
        }));
    }
    out
}

/// The netlink flags (beyond NLM_F_REQUEST | NLM_F_ACK) that add `spec`: NLM_F_CREATE, and
/// NLM_F_EXCL for every type but unicast, as 2.2.7.
pub fn add_flags(spec: &RouteSpec) -> u16 {
    if spec.kind == Kind::Unicast {
        NLM_F_CREATE
    } else {
        NLM_F_CREATE | NLM_F_EXCL
    }
}

/// Changes routes through one rtnetlink socket, whose connection runs as a task on the tokio
/// runtime that created the manager (aborted when the manager is dropped).
#[derive(Debug)]
pub struct RouteManager {
    handle: Handle,
    task: JoinHandle<()>,
}

impl RouteManager {
    /// Open the rtnetlink socket (in the calling thread's network namespace) and spawn its
    /// connection task. Must be called inside a tokio runtime. Changes need CAP_NET_ADMIN.
    pub fn new() -> io::Result<Self> {
        let (handle, task) = connect("RouteManager")?;
        Ok(RouteManager { handle, task })
    }

    /// Add the route (RTM_NEWROUTE with [`add_flags`]). The kernel's refusal (EEXIST,
    /// ENETUNREACH, EINVAL, …) is returned.
    pub async fn add(&self, spec: &RouteSpec) -> io::Result<()> {
        let msg = RouteNetlinkMessage::NewRoute(route_message(spec));
        request(&self.handle, msg, add_flags(spec)).await
    }

    /// Remove the route (RTM_DELROUTE for the same description, so only a route of the
    /// same protocol matches). One that is not there (ESRCH) counts as success.
    pub async fn remove(&self, spec: &RouteSpec) -> io::Result<()> {
        let mut body = route_message(spec);
        body.header.scope = RouteScope::NoWhere;
        let msg = RouteNetlinkMessage::DelRoute(body);
        match request(&self.handle, msg, 0).await {
            Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => Ok(()),
            other => other,
        }
    }
}

impl Drop for RouteManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A new rtnetlink socket and its connection task on the current tokio runtime.
pub(crate) fn connect(who: &str) -> io::Result<(Handle, JoinHandle<()>)> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("{who}::new outside a tokio runtime: {e}")))?;
    let (connection, handle, _unsolicited) = rtnetlink::new_connection()?;
    let task = runtime.spawn(connection);
    Ok((handle, task))
}

/// Sends `msg` with NLM_F_REQUEST | NLM_F_ACK | `flags` and returns the kernel's answer: the
/// errno of its error message, if any.
pub(crate) async fn request(
    handle: &Handle,
    msg: RouteNetlinkMessage,
    flags: u16,
) -> io::Result<()> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut handle = handle.clone();
    let mut response = handle.request(req).map_err(io::Error::other)?;
    while let Some(answer) = response.next().await {
        if let NetlinkPayload::Error(err) = answer.payload
            && err.code.is_some()
        {
            return Err(err.to_io());
        }
    }
    Ok(())
}

/// A number as C's `strtoul(…, 0)` reads it (decimal, `0x` hex or leading-0 octal), as
/// iproute2 and keepalived read route values.
pub fn c_number(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use rtnetlink::packet_core::Emitable;

    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn a_source_specific_route_carries_its_source_prefix() {
        let mut spec = RouteSpec::new(IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0]), 64);
        spec.source = Some((IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 48));
        let msg = route_message(&spec);
        assert_eq!(msg.header.source_prefix_length, 48);
        assert!(msg.attributes.iter().any(|a| matches!(
            a,
            RouteAttribute::Source(RouteAddress::Inet6(addr))
                if *addr == "2001:db8::".parse::<std::net::Ipv6Addr>().expect("address")
        )));
    }

    #[test]
    fn route_types_by_name_and_by_number() {
        assert_eq!(Kind::from_keyword("blackhole"), Some(Kind::Blackhole));
        assert_eq!(Kind::from_keyword("6"), Some(Kind::Blackhole));
        assert_eq!(Kind::from_keyword("0x7"), Some(Kind::Unreachable));
        assert_eq!(Kind::from_keyword("xresolve"), Some(Kind::ExternalResolve));
        assert_eq!(Kind::from_keyword("0"), Some(Kind::Number(0)));
        assert_eq!(Kind::from_keyword("200"), Some(Kind::Number(200)));
        assert_eq!(Kind::from_keyword("256"), None);
        assert_eq!(Kind::from_keyword("unspec"), None);
        assert_eq!(Kind::Number(200).route_type(), RouteType::Other(200));
    }

    #[test]
    fn a_gateway_route_in_the_main_table() {
        let mut spec = RouteSpec::new(v4(198, 51, 100, 0), 24);
        spec.gateway = Some(v4(192, 0, 2, 1));
        spec.oif = Some(3);
        spec.metric = Some(7);
        let msg = route_message(&spec);
        assert_eq!(msg.header.address_family, AddressFamily::Inet);
        assert_eq!(msg.header.destination_prefix_length, 24);
        assert_eq!(msg.header.table, 254);
        assert_eq!(msg.header.protocol, RouteProtocol::KeepAlived);
        assert_eq!(msg.header.scope, RouteScope::Universe);
        assert_eq!(msg.header.kind, RouteType::Unicast);
        assert_eq!(
            msg.attributes,
            vec![
                RouteAttribute::Table(254),
                RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(198, 51, 100, 0))),
                RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 0, 2, 1))),
                RouteAttribute::Oif(3),
                RouteAttribute::Priority(7),
            ]
        );
        // It encodes: 12-byte header plus 5 attributes of 8 bytes.
        assert_eq!(msg.buffer_len(), 12 + 5 * 8);
    }

    #[test]
    fn a_table_above_255_goes_in_rta_table_only() {
        let mut spec = RouteSpec::new(v4(203, 0, 113, 0), 24);
        spec.table = 1000;
        spec.kind = Kind::Blackhole;
        let msg = route_message(&spec);
        assert_eq!(msg.header.table, 0);
        assert_eq!(msg.header.kind, RouteType::BlackHole);
        assert!(msg.attributes.contains(&RouteAttribute::Table(1000)));
        assert_eq!(add_flags(&spec), NLM_F_CREATE | NLM_F_EXCL);
        assert_eq!(
            add_flags(&RouteSpec::new(v4(203, 0, 113, 0), 24)),
            NLM_F_CREATE
        );
    }

    #[test]
    fn the_default_route_has_no_destination_attribute() {
        let spec = RouteSpec::new(v4(0, 0, 0, 0), 0);
        let msg = route_message(&spec);
        assert!(
            !msg.attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Destination(_)))
        );
    }

    #[test]
    fn locked_metrics_set_the_lock_mask_first() {
        let mut spec = RouteSpec::new(v4(203, 0, 113, 0), 24);
        spec.metrics = vec![
            Metric {
                kind: MetricKind::Mtu,
                value: 1300,
                locked: true,
            },
            Metric {
                kind: MetricKind::Congctl("reno".into()),
                value: 0,
                locked: true,
            },
            Metric {
                kind: MetricKind::InitCwnd,
                value: 10,
                locked: false,
            },
        ];
        let msg = route_message(&spec);
        let metrics = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Metrics(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default();
        assert_eq!(
            metrics,
            vec![
                RouteMetric::Lock((1 << 2) | (1 << 16)),
                RouteMetric::Mtu(1300),
                RouteMetric::CcAlgo("reno".into()),
                RouteMetric::InitCwnd(10),
            ]
        );
    }

    #[test]
    fn multipath_weights_are_kept_minus_one() {
        let mut spec = RouteSpec::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 8, 0, 0, 0, 0, 0)),
            48,
        );
        spec.nexthops = vec![
            NextHop {
                gateway: Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5))),
                ifindex: Some(3),
                weight: 1,
                onlink: true,
                realms: None,
            },
            NextHop {
                gateway: None,
                ifindex: Some(4),
                weight: 3,
                onlink: false,
                realms: None,
            },
        ];
        spec.pref = Some(1);
        let msg = route_message(&spec);
        assert_eq!(msg.header.address_family, AddressFamily::Inet6);
        let hops = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::MultiPath(h) => Some(h.clone()),
                _ => None,
            })
            .unwrap_or_default();
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[0].hops, hops[0].interface_index), (0, 3));
        assert!(hops[0].flags.contains(RouteNextHopFlags::Onlink));
        assert_eq!((hops[1].hops, hops[1].interface_index), (2, 4));
        assert!(hops[1].attributes.is_empty());
        assert!(
            msg.attributes
                .contains(&RouteAttribute::Preference(RoutePreference::High))
        );
    }
}
