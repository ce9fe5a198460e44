//! The firewall side of accept mode, as Debian's keepalived 2.2.7 builds it with nftables
//! (observed with `nft list ruleset` and its netlink messages, docs/compat.md "vrrp_strict and
//! its nftables rules"). Pure: which tables, chains, sets and rules, which set elements for
//! which instance, and when; the driver (`driver/firewall.rs`) sends what this returns through
//! `keepalived_net::nftables`.
//!
//! RFC 5798 section 6.4.3: a master that is not the address owner accepts packets addressed
//! to the virtual addresses only in Accept_Mode. An instance without accept mode (the default
//! under `vrrp_strict`, or `no_accept`) has its addresses in a `vips` set while it is master;
//! rules of `table ip keepalived` / `table ip6 keepalived` (names from `nftables`) drop
//! packets to and from them. An IPv6 link-local address goes, with its interface's index,
//! into `vips_link_local`; neighbour discovery always passes. A table is made the first time
//! an address of its family is set, its elements leave when the instance leaves MASTER, and
//! the tables go at the stop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepalived_config::model::{GlobalDefs, VrrpInstance};
use keepalived_net::nftables::{Expr, Family, Hook, MetaKey, Msg, PayloadBase, SetKey, Verdict};
use keepalived_vrrp::packet::Version;

use super::setup::AddressPlan;

/// The table name when `nftables` names none (keepalived 2.2.7's default).
pub const DEFAULT_TABLE: &str = "keepalived";
/// The chains' priority without `nftables_priority`: `filter - 1`.
pub const DEFAULT_PRIORITY: i32 = -1;

/// The global_defs settings of the firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallSettings {
    /// `nftables [TABLE]`.
    pub table: String,
    /// `nftables_priority N`.
    pub priority: i32,
    /// `nftables_counters`: a counter in every rule.
    pub counters: bool,
    /// Whether `nftables` itself was written (otherwise 2.2.7 says it picks nftables).
    pub configured: bool,
}

impl FirewallSettings {
    /// The settings of `global`. `nftables_ifindex` changes nothing here: Debian's 2.2.7
    /// keys link-local addresses by interface index with or without it (observed).
    pub fn of(global: &GlobalDefs) -> FirewallSettings {
        let mut settings = FirewallSettings {
            table: DEFAULT_TABLE.to_string(),
            priority: DEFAULT_PRIORITY,
            counters: false,
            configured: false,
        };
        for s in &global.other {
            match s.keyword.as_str() {
                "nftables" => {
                    settings.configured = true;
                    if let Some(name) = s.args.first() {
                        settings.table = name.clone();
                    }
                }
                "nftables_priority" => {
                    if let Some(p) = s.args.first().and_then(|v| v.parse().ok()) {
                        settings.priority = p;
                    }
                }
                "nftables_counters" => settings.counters = true,
                _ => {}
            }
        }
        settings
    }
}

/// Whether instance `inst` runs in accept mode (keepalived 2.2.7's rules): `accept` /
/// `no_accept` as written, otherwise on unless strict; under strict a VRRPv2 instance that
/// does not own the addresses is refused accept mode (RFC 3768 has none).
pub fn accept_mode(inst: &VrrpInstance, global: &GlobalDefs, version: Version) -> bool {
    let strict = inst.strict_mode.unwrap_or(global.vrrp_strict);
    let accept = inst.accept.unwrap_or(!strict);
    accept && !(strict && version == Version::V2 && inst.priority != 255)
}

/// Whether the daemon logs 2.2.7's `use_vmac or no_accept/strict specified, but no firewall
/// configured - using nftables`: some instance drops traffic or uses a VMAC, and `nftables`
/// was not written.
pub fn announces_nftables(settings: &FirewallSettings, drops: bool, vmac: bool) -> bool {
    !settings.configured && (drops || vmac)
}

/// The set elements of one instance: its addresses (virtual and excluded) by family, the
/// IPv6 link-local ones with their interface's index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// IPv4 addresses.
    pub v4: Vec<Ipv4Addr>,
    /// IPv6 addresses other than link-local.
    pub v6: Vec<Ipv6Addr>,
    /// IPv6 link-local addresses and the index of the interface each is on.
    pub link_local: Vec<(Ipv6Addr, u32)>,
}

impl Keys {
    /// The keys of `addresses`; a link-local address on an interface `ifindex` does not know
    /// is left out.
    pub fn of(addresses: &[AddressPlan], ifindex: impl Fn(&str) -> Option<u32>) -> Keys {
        let mut keys = Keys::default();
        for a in addresses {
            match a.address {
                IpAddr::V4(v4) => keys.v4.push(v4),
                IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                    if let Some(index) = ifindex(&a.interface) {
                        keys.link_local.push((v6, index));
                    }
                }
                IpAddr::V6(v6) => keys.v6.push(v6),
            }
        }
        keys
    }

    /// No element at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty() && self.link_local.is_empty()
    }
}

/// What is known of one of our tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    /// Not there.
    Absent,
    /// Left by an earlier run: replaced when first needed.
    Leftover,
    /// Made by this run.
    Made,
}

/// One transaction to send, and what it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The table's family.
    pub family: Family,
    /// The messages.
    pub msgs: Vec<Msg>,
    /// It makes the table.
    pub makes_table: bool,
    /// It makes the link-local set and its rules.
    pub makes_link_local: bool,
    /// It makes the `vips` set and its rules.
    pub makes_vips: bool,
    /// It makes the VMAC map and its rules.
    pub makes_vmac: bool,
}

/// The tables as this run has them, and the batches that change them.
#[derive(Debug, Clone)]
pub struct Ruleset {
    settings: FirewallSettings,
    v4: TableState,
    v6: TableState,
    link_local: bool,
    /// The `vips` sets and their rules, IPv4 and IPv6.
    vips: [bool; 2],
    /// The VMAC maps and their rules, IPv4 and IPv6.
    vmac: [bool; 2],
}

/// The ids sets get in a batch (those 2.2.7 gives them).
const VIPS4_ID: u32 = 1;
const VIPS6_ID: u32 = 2;
const ND_ID: u32 = 3;
const LINK_LOCAL_ID: u32 = 4;
const VMAC_MAP_ID: u32 = 5;
const VMAC_SET_ID: u32 = 6;
/// ICMPv6 neighbour solicitation and advertisement (RFC 4861 section 4).
const ND_TYPES: [u8; 2] = [135, 136];
/// Offsets of the source and destination addresses in the IPv4 and IPv6 headers.
const V4_SADDR: u32 = 12;
const V4_DADDR: u32 = 16;
const V6_SADDR: u32 = 8;
const V6_DADDR: u32 = 24;

impl Ruleset {
    /// No table yet.
    pub fn new(settings: FirewallSettings) -> Ruleset {
        Ruleset {
            settings,
            v4: TableState::Absent,
            v6: TableState::Absent,
            link_local: false,
            vips: [false; 2],
            vmac: [false; 2],
        }
    }

    /// The settings.
    pub fn settings(&self) -> &FirewallSettings {
        &self.settings
    }

    /// A table of ours found at start, left by an earlier run.
    pub fn found_leftover(&mut self, family: Family) {
        let state = self.state_mut(family);
        if *state == TableState::Absent {
            *state = TableState::Leftover;
        }
    }

    /// The state of the table of `family`.
    pub fn state(&self, family: Family) -> TableState {
        match family {
            Family::Ipv4 => self.v4,
            Family::Ipv6 => self.v6,
        }
    }

    fn state_mut(&mut self, family: Family) -> &mut TableState {
        match family {
            Family::Ipv4 => &mut self.v4,
            Family::Ipv6 => &mut self.v6,
        }
    }

    /// Records that `batch` was applied.
    pub fn applied(&mut self, batch: &Batch) {
        if batch.makes_table {
            *self.state_mut(batch.family) = TableState::Made;
        }
        if batch.makes_link_local {
            self.link_local = true;
        }
        let f = index(batch.family);
        if batch.makes_vips {
            self.vips[f] = true;
        }
        if batch.makes_vmac {
            self.vmac[f] = true;
        }
    }

    /// The batches that put `keys` in the sets (an instance becoming master): the IPv4 one,
    /// then the IPv6 one, each making its table (and the link-local set) first if needed.
    pub fn set(&self, keys: &Keys) -> Vec<Batch> {
        let mut batches = Vec::new();
        if !keys.v4.is_empty() {
            let mut b = self.batch(Family::Ipv4);
            if !self.vips[0] {
                b.makes_table = true;
                b.makes_vips = true;
                self.ipv4_table(&mut b.msgs);
            }
            b.msgs
                .push(self.elements(Family::Ipv4, "vips", v4_keys(&keys.v4)));
            batches.push(b);
        }
        if !keys.v6.is_empty() || !keys.link_local.is_empty() {
            let mut b = self.batch(Family::Ipv6);
            if !self.vips[1] {
                b.makes_table = true;
                b.makes_vips = true;
                self.ipv6_table(&mut b.msgs);
            }
            if !keys.link_local.is_empty() && !self.link_local {
                b.makes_link_local = true;
                self.link_local_set(&mut b.msgs);
            }
            if !keys.v6.is_empty() {
                b.msgs
                    .push(self.elements(Family::Ipv6, "vips", v6_keys(&keys.v6)));
            }
            if !keys.link_local.is_empty() {
                b.msgs.push(self.elements(
                    Family::Ipv6,
                    "vips_link_local",
                    link_local_keys(&keys.link_local),
                ));
            }
            batches.push(b);
        }
        batches
    }

    /// The batches that take `keys` out of the sets (an instance leaving MASTER); nothing
    /// for a table this run has not made.
    pub fn remove(&self, keys: &Keys) -> Vec<Batch> {
        let mut batches = Vec::new();
        let table = &self.settings.table;
        if self.vips[0] && !keys.v4.is_empty() {
            let mut b = self.batch(Family::Ipv4);
            b.msgs.push(Msg::DelElements {
                family: Family::Ipv4,
                table: table.clone(),
                set: "vips".into(),
                keys: v4_keys(&keys.v4),
            });
            batches.push(b);
        }
        if self.vips[1] {
            let mut b = self.batch(Family::Ipv6);
            if !keys.v6.is_empty() {
                b.msgs.push(Msg::DelElements {
                    family: Family::Ipv6,
                    table: table.clone(),
                    set: "vips".into(),
                    keys: v6_keys(&keys.v6),
                });
            }
            if self.link_local && !keys.link_local.is_empty() {
                b.msgs.push(Msg::DelElements {
                    family: Family::Ipv6,
                    table: table.clone(),
                    set: "vips_link_local".into(),
                    keys: link_local_keys(&keys.link_local),
                });
            }
            if !b.msgs.is_empty() {
                batches.push(b);
            }
        }
        batches
    }

    /// The messages that remove the tables this run made (the stop), in one transaction;
    /// the state forgets them.
    pub fn teardown(&mut self) -> Vec<Msg> {
        let mut msgs = Vec::new();
        for family in [Family::Ipv4, Family::Ipv6] {
            if self.state(family) == TableState::Made {
                msgs.push(Msg::DelTable {
                    family,
                    table: self.settings.table.clone(),
                });
                *self.state_mut(family) = TableState::Absent;
            }
        }
        self.link_local = false;
        self.vips = [false; 2];
        self.vmac = [false; 2];
        msgs
    }

    /// The batch for a VMAC made for an instance (of IPv6 when `ipv6`): 2.2.7 sends the IGMP
    /// (IPv6: MLDv2) reports leaving a macvlan out of the interface under it instead, and
    /// drops router solicitations from an IPv6 VMAC (observed), through `vmac_map` (VMAC
    /// index → underlying index) and, for IPv6, `vmac_set`; made once per family, whatever
    /// the accept mode.
    pub fn vmac(&self, ipv6: bool, vmac: u32, base: u32) -> Batch {
        let f = if ipv6 { Family::Ipv6 } else { Family::Ipv4 };
        let table = self.settings.table.clone();
        let mut b = self.batch(f);
        let made = self.vmac[index(f)];
        if !made {
            b.makes_table = true;
            b.makes_vmac = true;
            b.msgs.push(Msg::NewTable {
                family: f,
                table: table.clone(),
            });
            b.msgs.push(self.chain(f, "out", Some(Hook::Output)));
            b.msgs.push(Msg::NewMap {
                family: f,
                table: table.clone(),
                set: "vmac_map".into(),
                key: SetKey::Ifindex,
                data: SetKey::Ifindex,
                id: VMAC_MAP_ID,
            });
            if ipv6 {
                b.msgs
                    .push(self.set_msg(f, "vmac_set", SetKey::Ifindex, false, VMAC_SET_ID));
            }
            let macvlan = {
                let mut kind = b"macvlan".to_vec();
                kind.resize(16, 0);
                kind
            };
            let to_macvlan = |mut exprs: Vec<Expr>| {
                exprs.extend([
                    Expr::Meta {
                        key: MetaKey::OifKind,
                        dreg: 2,
                    },
                    Expr::CmpEq {
                        sreg: 2,
                        data: macvlan.clone(),
                    },
                    Expr::Meta {
                        key: MetaKey::Oif,
                        dreg: 2,
                    },
                ]);
                exprs
            };
            let dup = [
                Expr::MapLookup {
                    sreg: 2,
                    set: "vmac_map".into(),
                    dreg: 2,
                },
                Expr::Dup {
                    sreg_addr: 1,
                    sreg_dev: 2,
                },
            ];
            if ipv6 {
                let icmpv6 = |t: u8| {
                    vec![
                        Expr::Meta {
                            key: MetaKey::L4proto,
                            dreg: 1,
                        },
                        Expr::CmpEq {
                            sreg: 1,
                            data: vec![58],
                        },
                        Expr::Payload {
                            base: PayloadBase::Transport,
                            offset: 0,
                            len: 1,
                            dreg: 1,
                        },
                        Expr::CmpEq {
                            sreg: 1,
                            data: vec![t],
                        },
                    ]
                };
                // MLDv2 listener report (RFC 3810 section 5.2): type 143.
                let mut report = icmpv6(143);
                report.push(network(V6_DADDR, 16));
                let mut report = to_macvlan(report);
                report.extend(dup.clone());
                b.msgs.push(self.rule(f, "out", report, Verdict::Drop));
                // Router solicitation (RFC 4861 section 4.1): type 133.
                let mut solicit = to_macvlan(icmpv6(133));
                solicit.push(Expr::Lookup {
                    sreg: 2,
                    set: "vmac_set".into(),
                });
                b.msgs.push(self.rule(f, "out", solicit, Verdict::Drop));
            } else {
                // IGMP (IP protocol 2).
                let mut igmp = to_macvlan(vec![
                    network(9, 1),
                    Expr::CmpEq {
                        sreg: 1,
                        data: vec![2],
                    },
                    network(V4_DADDR, 4),
                ]);
                igmp.extend(dup);
                b.msgs.push(self.rule(f, "out", igmp, Verdict::Drop));
            }
        }
        b.msgs.push(Msg::NewMapEntries {
            family: f,
            table: table.clone(),
            set: "vmac_map".into(),
            set_id: (!made).then_some(VMAC_MAP_ID),
            entries: vec![(vmac.to_ne_bytes().to_vec(), base.to_ne_bytes().to_vec())],
        });
        if ipv6 {
            b.msgs.push(Msg::NewElements {
                family: f,
                table,
                set: "vmac_set".into(),
                set_id: (!made).then_some(VMAC_SET_ID),
                keys: vec![vmac.to_ne_bytes().to_vec()],
            });
        }
        b
    }

    fn batch(&self, family: Family) -> Batch {
        let mut msgs = Vec::new();
        if self.state(family) == TableState::Leftover {
            // What an earlier run left is replaced whole, as 2.2.7 does (observed).
            msgs.push(Msg::DelTable {
                family,
                table: self.settings.table.clone(),
            });
        }
        Batch {
            family,
            msgs,
            makes_table: false,
            makes_link_local: false,
            makes_vips: false,
            makes_vmac: false,
        }
    }

    fn elements(&self, family: Family, set: &str, keys: Vec<Vec<u8>>) -> Msg {
        Msg::NewElements {
            family,
            table: self.settings.table.clone(),
            set: set.into(),
            set_id: None,
            keys,
        }
    }

    fn chain(&self, family: Family, chain: &str, hook: Option<Hook>) -> Msg {
        Msg::NewChain {
            family,
            table: self.settings.table.clone(),
            chain: chain.into(),
            hook: hook.map(|h| (h, self.settings.priority)),
        }
    }

    fn set_msg(&self, family: Family, set: &str, key: SetKey, constant: bool, id: u32) -> Msg {
        Msg::NewSet {
            family,
            table: self.settings.table.clone(),
            set: set.into(),
            key,
            constant,
            id,
        }
    }

    fn rule(&self, family: Family, chain: &str, mut exprs: Vec<Expr>, verdict: Verdict) -> Msg {
        if self.settings.counters {
            exprs.push(Expr::Counter);
        }
        exprs.push(Expr::Verdict(verdict));
        Msg::NewRule {
            family,
            table: self.settings.table.clone(),
            chain: chain.into(),
            exprs,
        }
    }

    /// `table ip T { set vips; chain out (ip saddr @vips drop); chain in (ip daddr @vips
    /// drop) }`, in 2.2.7's order.
    fn ipv4_table(&self, msgs: &mut Vec<Msg>) {
        let f = Family::Ipv4;
        msgs.push(Msg::NewTable {
            family: f,
            table: self.settings.table.clone(),
        });
        msgs.push(self.chain(f, "out", Some(Hook::Output)));
        msgs.push(self.chain(f, "in", Some(Hook::Input)));
        msgs.push(self.set_msg(f, "vips", SetKey::Ipv4Addr, false, VIPS4_ID));
        msgs.push(self.rule(f, "in", address_in_set(V4_DADDR, 4, "vips"), Verdict::Drop));
        msgs.push(self.rule(f, "out", address_in_set(V4_SADDR, 4, "vips"), Verdict::Drop));
    }

    /// `table ip6 T`: neighbour discovery accepted, link-local traffic sent to its own
    /// chains, `ip6 saddr/daddr @vips drop`, in 2.2.7's order.
    fn ipv6_table(&self, msgs: &mut Vec<Msg>) {
        let f = Family::Ipv6;
        msgs.push(Msg::NewTable {
            family: f,
            table: self.settings.table.clone(),
        });
        msgs.push(self.chain(f, "out", Some(Hook::Output)));
        msgs.push(self.chain(f, "in", Some(Hook::Input)));
        msgs.push(self.chain(f, "in_link_local", None));
        msgs.push(self.chain(f, "out_link_local", None));
        msgs.push(self.set_msg(f, "vips", SetKey::Ipv6Addr, false, VIPS6_ID));
        msgs.push(self.set_msg(f, "neighbor-discovery", SetKey::Icmpv6Type, true, ND_ID));
        msgs.push(Msg::NewElements {
            family: f,
            table: self.settings.table.clone(),
            set: "neighbor-discovery".into(),
            set_id: Some(ND_ID),
            keys: ND_TYPES.iter().map(|t| vec![*t]).collect(),
        });
        for (chain, offset) in [("in", V6_DADDR), ("out", V6_SADDR)] {
            msgs.push(self.rule(f, chain, neighbour_discovery(), Verdict::Accept));
            msgs.push(self.rule(
                f,
                chain,
                link_local_source_or_destination(offset),
                Verdict::Goto(format!("{chain}_link_local")),
            ));
        }
        msgs.push(self.rule(f, "in", address_in_set(V6_DADDR, 16, "vips"), Verdict::Drop));
        msgs.push(self.rule(
            f,
            "out",
            address_in_set(V6_SADDR, 16, "vips"),
            Verdict::Drop,
        ));
    }

    /// `set vips_link_local { type ipv6_addr . iface_index }` and its two rules.
    fn link_local_set(&self, msgs: &mut Vec<Msg>) {
        let f = Family::Ipv6;
        msgs.push(self.set_msg(
            f,
            "vips_link_local",
            SetKey::Ipv6AddrIfindex,
            false,
            LINK_LOCAL_ID,
        ));
        for (chain, offset, key) in [
            ("in_link_local", V6_DADDR, MetaKey::Iif),
            ("out_link_local", V6_SADDR, MetaKey::Oif),
        ] {
            let exprs = vec![
                network(offset, 16),
                Expr::Meta { key, dreg: 2 },
                Expr::Lookup {
                    sreg: 1,
                    set: "vips_link_local".into(),
                },
            ];
            msgs.push(self.rule(f, chain, exprs, Verdict::Drop));
        }
    }
}

fn index(family: Family) -> usize {
    match family {
        Family::Ipv4 => 0,
        Family::Ipv6 => 1,
    }
}

fn network(offset: u32, len: u32) -> Expr {
    Expr::Payload {
        base: PayloadBase::Network,
        offset,
        len,
        dreg: 1,
    }
}

/// `ip saddr @SET` and the like.
fn address_in_set(offset: u32, len: u32, set: &str) -> Vec<Expr> {
    vec![
        network(offset, len),
        Expr::Lookup {
            sreg: 1,
            set: set.into(),
        },
    ]
}

/// `icmpv6 type @neighbor-discovery`: next header 58, then the ICMPv6 type in the set.
fn neighbour_discovery() -> Vec<Expr> {
    vec![
        network(6, 1),
        Expr::CmpEq {
            sreg: 1,
            data: vec![58],
        },
        Expr::Payload {
            base: PayloadBase::Transport,
            offset: 0,
            len: 1,
            dreg: 1,
        },
        Expr::Lookup {
            sreg: 1,
            set: "neighbor-discovery".into(),
        },
    ]
}

/// `ip6 saddr fe80::/10` (or daddr): the address masked to 10 bits equals fe80::.
fn link_local_source_or_destination(offset: u32) -> Vec<Expr> {
    let mut mask = vec![0u8; 16];
    mask[0] = 0xff;
    mask[1] = 0xc0;
    let mut prefix = vec![0u8; 16];
    prefix[0] = 0xfe;
    prefix[1] = 0x80;
    vec![
        network(offset, 16),
        Expr::Bitwise {
            reg: 1,
            mask,
            xor: vec![0; 16],
        },
        Expr::CmpEq {
            sreg: 1,
            data: prefix,
        },
    ]
}

fn v4_keys(addresses: &[Ipv4Addr]) -> Vec<Vec<u8>> {
    addresses.iter().map(|a| a.octets().to_vec()).collect()
}

fn v6_keys(addresses: &[Ipv6Addr]) -> Vec<Vec<u8>> {
    addresses.iter().map(|a| a.octets().to_vec()).collect()
}

/// The address then the interface index in host order (the kernel's `meta iif`).
fn link_local_keys(addresses: &[(Ipv6Addr, u32)]) -> Vec<Vec<u8>> {
    addresses
        .iter()
        .map(|(a, index)| {
            let mut key = a.octets().to_vec();
            key.extend_from_slice(&index.to_ne_bytes());
            key
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    fn settings() -> FirewallSettings {
        FirewallSettings {
            table: "keepalived".into(),
            priority: -1,
            counters: false,
            configured: false,
        }
    }

    fn address(interface: &str, a: &str) -> AddressPlan {
        AddressPlan {
            interface: interface.into(),
            address: a.parse().expect("address"),
            prefix_len: 24,
            broadcast: None,
            scope: None,
            label: None,
            dad: false,
            preferred_lft: None,
            peer: None,
            flags: Default::default(),
            no_track: false,
        }
    }

    fn kinds(msgs: &[Msg]) -> Vec<String> {
        msgs.iter()
            .map(|m| match m {
                Msg::NewTable { .. } => "table".to_string(),
                Msg::DelTable { .. } => "deltable".to_string(),
                Msg::NewChain { chain, .. } => format!("chain {chain}"),
                Msg::NewSet { set, .. } => format!("set {set}"),
                Msg::NewMap { set, .. } => format!("map {set}"),
                Msg::NewMapEntries { set, entries, .. } => format!("+{set} {}", entries.len()),
                Msg::NewElements { set, keys, .. } => format!("+{set} {}", keys.len()),
                Msg::DelElements { set, keys, .. } => format!("-{set} {}", keys.len()),
                Msg::NewRule { chain, exprs, .. } => format!("rule {chain} {}", exprs.len()),
            })
            .collect()
    }

    fn global(text: &str) -> keepalived_config::model::Config {
        let host = FakeHost::lab();
        load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn settings_are_read_from_global_defs() {
        let c = global(
            "global_defs {\n nftables mytab\n nftables_priority -5\n nftables_counters\n\
             nftables_ifindex\n}\n",
        );
        let s = FirewallSettings::of(&c.global);
        assert_eq!(
            s,
            FirewallSettings {
                table: "mytab".into(),
                priority: -5,
                counters: true,
                configured: true,
            }
        );
        let c = global("global_defs {\n nftables\n}\n");
        assert_eq!(FirewallSettings::of(&c.global).table, "keepalived");
        assert!(FirewallSettings::of(&c.global).configured);
        let c = global("global_defs {\n router_id x\n}\n");
        assert_eq!(FirewallSettings::of(&c.global), settings());
    }

    /// keepalived 2.2.7 (observed): strict → no accept; `accept` under strict is refused for
    /// VRRPv2 and kept for VRRPv3; without strict accept is on unless `no_accept`.
    #[test]
    fn accept_mode_follows_strict_version_and_keywords() {
        let text = |global: &str, extra: &str, prio: u8| {
            format!(
                "global_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface eth0\n\
                 virtual_router_id 1\n priority {prio}\n{extra}\n virtual_ipaddress {{\n \
                 192.0.2.1\n }}\n}}\n"
            )
        };
        let check = |global_text: &str, extra: &str, prio: u8, version: Version| {
            let c = global(&text(global_text, extra, prio));
            accept_mode(&c.instances[0], &c.global, version)
        };
        assert!(!check("vrrp_strict", "", 100, Version::V2));
        assert!(!check("vrrp_strict", "accept", 100, Version::V2));
        assert!(check("vrrp_strict", "accept", 255, Version::V2));
        assert!(check("vrrp_strict", "accept\n version 3", 100, Version::V3));
        assert!(check("", "", 100, Version::V2));
        assert!(!check("", "no_accept", 100, Version::V3));
        assert!(!check("", "strict_mode", 100, Version::V3));
    }

    #[test]
    fn keys_split_by_family_with_link_local_interfaces() {
        let addresses = [
            address("e0", "192.0.2.100"),
            address("e0", "fe80::100"),
            address("e0", "2001:db8::100"),
            address("gone", "fe80::200"),
        ];
        let keys = Keys::of(&addresses, |name| (name == "e0").then_some(3));
        assert_eq!(
            keys.v4,
            vec!["192.0.2.100".parse::<Ipv4Addr>().expect("address")]
        );
        assert_eq!(
            keys.v6,
            vec!["2001:db8::100".parse::<Ipv6Addr>().expect("address")]
        );
        assert_eq!(
            keys.link_local,
            vec![("fe80::100".parse::<Ipv6Addr>().expect("address"), 3)]
        );
    }

    /// The first master makes the tables in the order 2.2.7 does (observed with strace).
    #[test]
    fn the_first_master_makes_the_tables_as_keepalived_does() {
        let mut rules = Ruleset::new(settings());
        let keys = Keys::of(
            &[
                address("e0", "192.0.2.100"),
                address("e0", "fe80::100"),
                address("e0", "2001:db8::100"),
            ],
            |_| Some(3),
        );
        let batches = rules.set(&keys);
        assert_eq!(batches.len(), 2);
        assert_eq!(
            kinds(&batches[0].msgs),
            [
                "table",
                "chain out",
                "chain in",
                "set vips",
                "rule in 3",
                "rule out 3",
                "+vips 1"
            ]
        );
        assert_eq!(
            kinds(&batches[1].msgs),
            [
                "table",
                "chain out",
                "chain in",
                "chain in_link_local",
                "chain out_link_local",
                "set vips",
                "set neighbor-discovery",
                "+neighbor-discovery 2",
                "rule in 5",
                "rule in 4",
                "rule out 5",
                "rule out 4",
                "rule in 3",
                "rule out 3",
                "set vips_link_local",
                "rule in_link_local 4",
                "rule out_link_local 4",
                "+vips 1",
                "+vips_link_local 1",
            ]
        );
        for b in &batches {
            rules.applied(b);
        }
        // A second master only adds its elements.
        let other = Keys::of(&[address("e0", "192.0.2.101")], |_| Some(3));
        let again = rules.set(&other);
        assert_eq!(again.len(), 1);
        assert_eq!(kinds(&again[0].msgs), ["+vips 1"]);
        // Leaving MASTER takes the elements out; the stop removes both tables.
        let removed = rules.remove(&keys);
        assert_eq!(kinds(&removed[0].msgs), ["-vips 1"]);
        assert_eq!(kinds(&removed[1].msgs), ["-vips 1", "-vips_link_local 1"]);
        assert_eq!(kinds(&rules.teardown()), ["deltable", "deltable"]);
        assert!(rules.teardown().is_empty());
    }

    #[test]
    fn nothing_is_removed_from_tables_never_made() {
        let rules = Ruleset::new(settings());
        let keys = Keys::of(&[address("e0", "192.0.2.100")], |_| Some(3));
        assert!(rules.remove(&keys).is_empty());
    }

    #[test]
    fn an_ipv4_instance_makes_no_ipv6_table() {
        let rules = Ruleset::new(settings());
        let keys = Keys::of(&[address("e0", "192.0.2.100")], |_| Some(3));
        let batches = rules.set(&keys);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].family, Family::Ipv4);
    }

    #[test]
    fn a_leftover_table_is_replaced_when_first_needed() {
        let mut rules = Ruleset::new(settings());
        rules.found_leftover(Family::Ipv4);
        let keys = Keys::of(&[address("e0", "192.0.2.100")], |_| Some(3));
        let batches = rules.set(&keys);
        assert_eq!(kinds(&batches[0].msgs)[..2], ["deltable", "table"]);
        rules.applied(&batches[0]);
        assert_eq!(rules.state(Family::Ipv4), TableState::Made);
        assert_eq!(kinds(&rules.set(&keys)[0].msgs), ["+vips 1"]);
    }

    #[test]
    fn counters_and_priority_go_into_rules_and_chains() {
        let rules = Ruleset::new(FirewallSettings {
            counters: true,
            priority: -5,
            ..settings()
        });
        let keys = Keys::of(&[address("e0", "192.0.2.100")], |_| Some(3));
        let msgs = &rules.set(&keys)[0].msgs;
        assert!(msgs.iter().any(|m| matches!(
            m,
            Msg::NewChain {
                hook: Some((Hook::Output, -5)),
                ..
            }
        )));
        let Msg::NewRule { exprs, .. } = &msgs[4] else {
            panic!("{msgs:?}");
        };
        assert_eq!(exprs[2], Expr::Counter);
        assert_eq!(exprs[3], Expr::Verdict(Verdict::Drop));
    }

    #[test]
    fn the_nftables_line_is_for_firewalls_and_vmacs_not_configured() {
        let s = settings();
        assert!(announces_nftables(&s, true, false));
        assert!(announces_nftables(&s, false, true));
        assert!(!announces_nftables(&s, false, false));
        let configured = FirewallSettings {
            configured: true,
            ..settings()
        };
        assert!(!announces_nftables(&configured, true, true));
    }

    /// A VMAC's map and rules come once per family, then only its entry; the strict rules
    /// made later in the same table add their own set and chains (2.2.7's order, observed).
    #[test]
    fn vmacs_share_one_map_per_family() {
        let mut rules = Ruleset::new(settings());
        let first = rules.vmac(true, 7, 3);
        assert_eq!(
            kinds(&first.msgs),
            [
                "table",
                "chain out",
                "map vmac_map",
                "set vmac_set",
                "rule out 11",
                "rule out 9",
                "+vmac_map 1",
                "+vmac_set 1",
            ]
        );
        rules.applied(&first);
        assert_eq!(
            kinds(&rules.vmac(true, 8, 3).msgs),
            ["+vmac_map 1", "+vmac_set 1"]
        );
        let v4 = rules.vmac(false, 6, 3);
        assert_eq!(
            kinds(&v4.msgs)[2..],
            ["map vmac_map", "rule out 9", "+vmac_map 1"]
        );
        // The strict part still makes its set and rules in a table the VMAC made.
        let keys = Keys::of(&[address("e0", "2001:db8::1")], |_| Some(3));
        let strict = rules.set(&keys);
        assert!(kinds(&strict[0].msgs).contains(&"set vips".to_string()));
        assert_eq!(kinds(&rules.teardown()), ["deltable"]);
    }
}
