//! Adding and removing policy routing rules (virtual_rules, static_rules) over rtnetlink
//! (RTM_NEWRULE, RTM_DELRULE; the kernel's fib_rules).
//!
//! A rule carries FRA_PROTOCOL (`RTPROT_KEEPALIVED` unless told otherwise), so a removal only
//! matches the daemon's own rule and never an equal one an operator added. Rules are added
//! with `NLM_F_CREATE | NLM_F_EXCL`, as routes.

use std::io;
use std::net::IpAddr;

use rtnetlink::Handle;
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::route::{RouteHeader, RouteProtocol, RouteRealm};
use rtnetlink::packet_route::rule::{
    RuleAction, RuleAttribute, RuleFlags, RuleHeader, RuleMessage, RulePortRange, RuleUidRange,
};
use rtnetlink::packet_route::{AddressFamily, IpProtocol, RouteNetlinkMessage};
use tokio::task::JoinHandle;

use crate::routes::{RTPROT_KEEPALIVED, connect, request};

/// What a rule does when it matches (`FR_ACT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleKind {
    /// `table` / `lookup`: look the route up in a table.
    #[default]
    Lookup,
    /// `goto PREF`: go on at the rule of that preference.
    Goto(u32),
    /// `nop` (`type nop`).
    Nop,
    /// `blackhole`.
    Blackhole,
    /// `unreachable`.
    Unreachable,
    /// `prohibit`.
    Prohibit,
}

/// One rule as a virtual_rules / static_rules line describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Whether it is an IPv6 rule.
    pub ipv6: bool,
    /// `from PREFIX`.
    pub from: Option<(IpAddr, u8)>,
    /// `to PREFIX`.
    pub to: Option<(IpAddr, u8)>,
    /// `not`: the selector is inverted.
    pub invert: bool,
    /// `priority` / `preference` / `pref`.
    pub priority: u32,
    /// What it does.
    pub kind: RuleKind,
    /// `table` / `lookup`: the table (0 with `l3mdev`).
    pub table: Option<u32>,
    /// `tos` / `dsfield`.
    pub tos: u8,
    /// `fwmark MARK[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `iif NAME`.
    pub iif: Option<String>,
    /// `oif NAME`.
    pub oif: Option<String>,
    /// `realms FROM/TO`.
    pub realms: Option<(u16, u16)>,
    /// `suppress_prefixlength N`.
    pub suppress_prefixlength: Option<u32>,
    /// `suppress_ifgroup N`.
    pub suppress_ifgroup: Option<u32>,
    /// `l3mdev`.
    pub l3mdev: bool,
    /// `uidrange A-B`.
    pub uidrange: Option<(u32, u32)>,
    /// `ipproto N`.
    pub ipproto: Option<u8>,
    /// `sport A[-B]`.
    pub sport: Option<(u16, u16)>,
    /// `dport A[-B]`.
    pub dport: Option<(u16, u16)>,
    /// The protocol the rule is marked with; None: no FRA_PROTOCOL (2.2.7's `no_track` rules).
    pub protocol: Option<u8>,
}

impl RuleSpec {
    /// A rule of preference `priority` that matches everything and looks up nothing yet,
    /// protocol keepalived.
    pub fn new(ipv6: bool, priority: u32) -> RuleSpec {
        RuleSpec {
            ipv6,
            from: None,
            to: None,
            invert: false,
            priority,
            kind: RuleKind::Lookup,
            table: None,
            tos: 0,
            fwmark: None,
            iif: None,
            oif: None,
            realms: None,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            l3mdev: false,
            uidrange: None,
            ipproto: None,
            sport: None,
            dport: None,
            protocol: Some(RTPROT_KEEPALIVED),
        }
    }
}

/// The RTM_NEWRULE / RTM_DELRULE body for `spec` (as `ip rule` would build it).
pub fn rule_message(spec: &RuleSpec) -> RuleMessage {
    let mut msg = RuleMessage::default();
    let mut header = RuleHeader {
        family: if spec.ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        },
        tos: spec.tos,
        action: match spec.kind {
            RuleKind::Lookup => RuleAction::ToTable,
            RuleKind::Goto(_) => RuleAction::Goto,
            RuleKind::Nop => RuleAction::Nop,
            RuleKind::Blackhole => RuleAction::Blackhole,
            RuleKind::Unreachable => RuleAction::Unreachable,
            RuleKind::Prohibit => RuleAction::Prohibit,
        },
        ..RuleHeader::default()
    };
    if spec.invert {
        header.flags |= RuleFlags::Invert;
    }
    let attrs = &mut msg.attributes;
    if let Some(table) = spec.table {
        header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
        attrs.push(RuleAttribute::Table(table));
    }
    header.src_len = spec.from.map_or(0, |(_, len)| len);
    header.dst_len = spec.to.map_or(0, |(_, len)| len);
    msg.header = header;
    attrs.push(RuleAttribute::Priority(spec.priority));
    if let Some((addr, _)) = spec.from {
        attrs.push(RuleAttribute::Source(addr));
    }
    if let Some((addr, _)) = spec.to {
        attrs.push(RuleAttribute::Destination(addr));
    }
    if let RuleKind::Goto(target) = spec.kind {
        attrs.push(RuleAttribute::Goto(target));
    }
    if let Some((mark, mask)) = spec.fwmark {
        attrs.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            attrs.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(iif) = &spec.iif {
        attrs.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(oif) = &spec.oif {
        attrs.push(RuleAttribute::Oifname(oif.clone()));
    }
    if let Some((source, destination)) = spec.realms {
        attrs.push(RuleAttribute::Realm(RouteRealm {
            source,
            destination,
        }));
    }
    if let Some(len) = spec.suppress_prefixlength {
        attrs.push(RuleAttribute::SuppressPrefixLen(len));
    }
    if let Some(group) = spec.suppress_ifgroup {
        attrs.push(RuleAttribute::SuppressIfGroup(group));
    }
    if spec.l3mdev {
        attrs.push(RuleAttribute::L3MDev(true));
    }
    if let Some((start, end)) = spec.uidrange {
        attrs.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if let Some(proto) = spec.ipproto {
        attrs.push(RuleAttribute::IpProtocol(IpProtocol::from(proto)));
    }
    if let Some((start, end)) = spec.sport {
        attrs.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = spec.dport {
        attrs.push(RuleAttribute::DestinationPortRange(RulePortRange {
            start,
            end,
        }));
    }
    if let Some(protocol) = spec.protocol {
        attrs.push(RuleAttribute::Protocol(RouteProtocol::from(protocol)));
    }
    msg
}

/// Changes policy rules through one rtnetlink socket, whose connection runs as a task on the
/// tokio runtime that created the manager (aborted when the manager is dropped).
#[derive(Debug)]
pub struct RuleManager {
    handle: Handle,
    task: JoinHandle<()>,
}

impl RuleManager {
    /// Open the rtnetlink socket (in the calling thread's network namespace) and spawn its
    /// connection task. Must be called inside a tokio runtime. Changes need CAP_NET_ADMIN.
    pub fn new() -> io::Result<Self> {
        let (handle, task) = connect("RuleManager")?;
        Ok(RuleManager { handle, task })
    }

    /// Add the rule (RTM_NEWRULE with NLM_F_CREATE | NLM_F_EXCL; EEXIST when an equal rule
    /// is there).
    pub async fn add(&self, spec: &RuleSpec) -> io::Result<()> {
        let msg = RouteNetlinkMessage::NewRule(rule_message(spec));
        request(&self.handle, msg, NLM_F_CREATE | NLM_F_EXCL).await
    }

    /// Remove the rule (RTM_DELRULE matching the same description and protocol). One that is
    /// not there (ENOENT) counts as success.
    pub async fn remove(&self, spec: &RuleSpec) -> io::Result<()> {
        let msg = RouteNetlinkMessage::DelRule(rule_message(spec));
        match request(&self.handle, msg, 0).await {
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => Ok(()),
            other => other,
        }
    }
}

impl Drop for RuleManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rtnetlink::packet_core::Emitable;

    use super::*;

    #[test]
    fn a_source_rule_looking_up_a_table() {
        let mut spec = RuleSpec::new(false, 100);
        spec.from = Some((IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 32));
        spec.table = Some(100);
        let msg = rule_message(&spec);
        assert_eq!(msg.header.family, AddressFamily::Inet);
        assert_eq!((msg.header.src_len, msg.header.dst_len), (32, 0));
        assert_eq!(msg.header.table, 100);
        assert_eq!(msg.header.action, RuleAction::ToTable);
        assert_eq!(
            msg.attributes,
            vec![
                RuleAttribute::Table(100),
                RuleAttribute::Priority(100),
                RuleAttribute::Source(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))),
                RuleAttribute::Protocol(RouteProtocol::KeepAlived),
            ]
        );
        // 12-byte header, three 8-byte attributes and the 5-byte protocol padded to 8.
        assert_eq!(msg.buffer_len(), 12 + 4 * 8);
    }

    #[test]
    fn goto_inverted_and_selectors() {
        let mut spec = RuleSpec::new(false, 105);
        spec.kind = RuleKind::Goto(110);
        spec.invert = true;
        spec.fwmark = Some((5, Some(0xff)));
        spec.uidrange = Some((100, 200));
        spec.iif = Some("eth0".into());
        spec.sport = Some((80, 81));
        spec.protocol = Some(99);
        let msg = rule_message(&spec);
        assert_eq!(msg.header.action, RuleAction::Goto);
        assert!(msg.header.flags.contains(RuleFlags::Invert));
        for attr in [
            RuleAttribute::Goto(110),
            RuleAttribute::FwMark(5),
            RuleAttribute::FwMask(0xff),
            RuleAttribute::UidRange(RuleUidRange {
                start: 100,
                end: 200,
            }),
            RuleAttribute::Iifname("eth0".into()),
            RuleAttribute::SourcePortRange(RulePortRange { start: 80, end: 81 }),
            RuleAttribute::Protocol(RouteProtocol::Other(99)),
        ] {
            assert!(msg.attributes.contains(&attr), "{attr:?}");
        }
    }

    #[test]
    fn a_large_table_and_l3mdev() {
        let mut spec = RuleSpec::new(true, 7);
        spec.table = Some(1000);
        let msg = rule_message(&spec);
        assert_eq!(msg.header.family, AddressFamily::Inet6);
        assert_eq!(msg.header.table, 0);
        assert!(msg.attributes.contains(&RuleAttribute::Table(1000)));
        let mut spec = RuleSpec::new(false, 8);
        spec.l3mdev = true;
        let msg = rule_message(&spec);
        assert!(msg.attributes.contains(&RuleAttribute::L3MDev(true)));
        assert!(
            !msg.attributes
                .iter()
                .any(|a| matches!(a, RuleAttribute::Table(_)))
        );
    }
}
