//! virtual_routes / virtual_rules of an instance and the static_ipaddress / static_routes /
//! static_rules blocks, planned: the lines as the configuration kept them (words), turned into
//! rtnetlink descriptions ([`RouteSpec`], [`RuleSpec`]) when they are installed, so an
//! interface that appears later is still found.
//!
//! The configuration layer has already reported and dropped the lines keepalived 2.2.7 refuses;
//! what is read here is the rest, with 2.2.7's meanings (observed with `ip route` / `ip rule`
//! against its installs): the protocol is `keepalived` (18) unless `protocol` is given with
//! `no_track`; the scope stays universe unless `scope` is given; `rtt` / `rttvar` below 200 ms
//! become 200 ms; `features ecn` is 1.

use std::net::IpAddr;

use keepalived_config::model::{Config, IpAddress, Route, Rule, Scope};
use keepalived_net::AddressOptions;
use keepalived_net::routes::{
    Kind, Metric, MetricKind, NextHop, RTPROT_KEEPALIVED, RouteSpec, c_number,
};
use keepalived_net::rules::{RuleKind, RuleSpec};

/// One route line: its words as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteLine {
    /// The words of the line.
    pub words: Vec<String>,
}

/// One rule line: its words and the preference it ended up with (its own, or the one
/// keepalived gives a rule without one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleLine {
    /// The words of the line.
    pub words: Vec<String>,
    /// Its preference.
    pub priority: u32,
}

/// An instance's virtual_routes and virtual_rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyPlan {
    /// virtual_routes.
    pub routes: Vec<RouteLine>,
    /// virtual_rules.
    pub rules: Vec<RuleLine>,
}

impl PolicyPlan {
    /// The plan of the model's lines.
    pub fn of(routes: &[Route], rules: &[Rule]) -> PolicyPlan {
        PolicyPlan {
            routes: routes.iter().map(route_line).collect(),
            rules: rules.iter().map(rule_line).collect(),
        }
    }
}

/// One static_ipaddress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticAddress {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// `brd`.
    pub broadcast: Option<std::net::Ipv4Addr>,
    /// `dev`: the interface it goes on.
    pub dev: Option<String>,
    /// `scope` as an `RT_SCOPE_*` value.
    pub scope: Option<u8>,
    /// `label`.
    pub label: Option<String>,
    /// `peer`.
    pub peer: Option<IpAddr>,
    /// `home`, `mngtmpaddr`, `noprefixroute`, `autojoin`.
    pub flags: AddressOptions,
    /// IPv6: duplicate address detection asked for (`-nodad`), as for a VIP.
    pub dad: bool,
    /// IPv6: the preferred lifetime, as for a VIP (0 for a /128 unless given; None: forever).
    pub preferred_lft: Option<u32>,
}

/// The static_ipaddress, static_routes and static_rules blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticPlan {
    /// static_ipaddress.
    pub addresses: Vec<StaticAddress>,
    /// static_routes and static_rules.
    pub policy: PolicyPlan,
}

impl StaticPlan {
    /// The static blocks of `config`; an address without `dev` goes on `default_interface`
    /// (observed: 2.2.7 puts it on eth0 by default).
    pub fn of(config: &Config) -> StaticPlan {
        let default = &config.global.default_interface;
        StaticPlan {
            addresses: config
                .static_addresses
                .iter()
                .map(|a| static_address(a, default))
                .collect(),
            policy: PolicyPlan::of(&config.static_routes, &config.static_rules),
        }
    }
}

/// Whether `config` has static_ipaddress, static_routes or static_rules lines.
pub fn has_statics(config: &Config) -> bool {
    !(config.static_addresses.is_empty()
        && config.static_routes.is_empty()
        && config.static_rules.is_empty())
}

fn route_line(route: &Route) -> RouteLine {
    RouteLine {
        words: route.words.clone(),
    }
}

fn rule_line(rule: &Rule) -> RuleLine {
    RuleLine {
        words: rule.words.clone(),
        // The configuration gives every kept rule a preference.
        priority: rule.priority.unwrap_or(0),
    }
}

fn static_address(a: &IpAddress, default_interface: &str) -> StaticAddress {
    StaticAddress {
        address: a.address,
        prefix_len: a.prefix_len,
        broadcast: a.broadcast,
        dev: Some(
            a.dev
                .as_ref()
                .map_or_else(|| default_interface.to_string(), |d| d.to_string()),
        ),
        scope: a.scope.map(scope_value),
        label: a.label.as_ref().map(|l| l.to_string()),
        peer: a.peer,
        flags: address_options(a),
        dad: a.other.iter().any(|o| o == "-nodad"),
        preferred_lft: super::setup::preferred_lft(a),
    }
}

/// The flag words of an address line (`home`, `noprefixroute`, …).
pub fn address_options(a: &IpAddress) -> AddressOptions {
    AddressOptions::from_words(a.other.iter().map(String::as_str))
}

/// `RT_SCOPE_*` of a scope name.
pub fn scope_value(scope: Scope) -> u8 {
    match scope {
        Scope::Global => 0,
        Scope::Site => 200,
        Scope::Link => 253,
        Scope::Host => 254,
        Scope::Nowhere => 255,
        Scope::Number(n) => n,
    }
}

/// A rule action given by one word: a name, or 6, 7, 8 (FR_ACT_BLACKHOLE, _UNREACHABLE,
/// _PROHIBIT of linux/fib_rules.h) as 2.2.7 takes them.
fn simple_rule_action(word: &str) -> Option<RuleKind> {
    Some(match word {
        "blackhole" => RuleKind::Blackhole,
        "unreachable" => RuleKind::Unreachable,
        "prohibit" => RuleKind::Prohibit,
        "nop" => RuleKind::Nop,
        _ => match c_number(word)? {
            6 => RuleKind::Blackhole,
            7 => RuleKind::Unreachable,
            8 => RuleKind::Prohibit,
            _ => return None,
        },
    })
}

/// A name from an iproute2 table file (`NUMBER NAME` lines), or a number.
fn iproute2_name(text: &str, files: &[&str], builtin: &[(&str, u32)]) -> Option<u32> {
    if let Some(n) = c_number(text) {
        return Some(n);
    }
    if let Some((_, n)) = builtin.iter().find(|(name, _)| *name == text) {
        return Some(*n);
    }
    files.iter().find_map(|path| {
        std::fs::read_to_string(path).ok().and_then(|body| {
            body.lines().find_map(|line| {
                let line = line.split('#').next().unwrap_or("");
                let mut words = line.split_whitespace();
                let number = words.next().and_then(c_number)?;
                (words.next() == Some(text)).then_some(number)
            })
        })
    })
}

/// A routing table by name (`main`, `local`, `default`, /etc/iproute2/rt_tables) or number,
/// as the configuration reader takes it (a number's low 32 bits, as 2.2.7).
pub fn table_id(text: &str) -> Option<u32> {
    keepalived_config::values::routing_table(text)
}

/// A route protocol by number or name (/etc/iproute2/rt_protos).
fn protocol_id(text: &str) -> Option<u8> {
    iproute2_name(
        text,
        &["/etc/iproute2/rt_protos", "/usr/share/iproute2/rt_protos"],
        &[
            ("unspec", 0),
            ("redirect", 1),
            ("kernel", 2),
            ("boot", 3),
            ("static", 4),
            ("keepalived", 18),
        ],
    )
    .and_then(|n| u8::try_from(n).ok())
}

/// A scope by number or name.
fn scope_id(text: &str) -> Option<u8> {
    match text {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => c_number(text).and_then(|n| u8::try_from(n).ok()),
    }
}

/// `ADDR[/LEN]` (the full length when not written); `default` / `all` is the zero prefix of
/// the family of `v6`.
fn prefix(text: &str, v6: bool) -> Option<(IpAddr, u8)> {
    if matches!(text, "default" | "all" | "any") {
        let zero: IpAddr = if v6 {
            IpAddr::from([0u16; 8])
        } else {
            IpAddr::from([0u8; 4])
        };
        return Some((zero, 0));
    }
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv6() { 128 } else { 32 };
    // A length beyond the family's is the full length, as 2.2.7 reads it ("Invalid address
    // prefix len 33 for address … - using 32").
    let len = match len {
        Some(l) => l.parse::<u8>().ok()?.min(max),
        None => max,
    };
    Some((addr, len))
}

/// `A/B` or `B` realms (names are not read: numbers only).
fn realms(text: &str) -> Option<(u16, u16)> {
    match text.split_once('/') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((0, text.parse().ok()?)),
    }
}

/// `A-B` or `A`.
fn range<T: std::str::FromStr + Copy>(text: &str) -> Option<(T, T)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let a = text.parse().ok()?;
            Some((a, a))
        }
    }
}

/// A route time in milliseconds, at least 200: `Ns` / `Nsec(s)`, `Nms` / `Nmsec(s)`,
/// `Nus` / `Nusec(s)`, or a bare number of microseconds.
fn rtt_ms(text: &str) -> Result<u32, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("invalid time {text}"))?;
    let ms = match unit {
        "s" | "sec" | "secs" => n.saturating_mul(1000),
        "ms" | "msec" | "msecs" => n,
        "" | "us" | "usec" | "usecs" => n / 1000,
        _ => return Err(format!("invalid time {text}")),
    };
    Ok(u32::try_from(ms.max(200)).unwrap_or(u32::MAX))
}

/// The metric a route keyword names.
fn metric_kind(word: &str) -> Option<MetricKind> {
    Some(match word {
        "mtu" => MetricKind::Mtu,
        "window" => MetricKind::Window,
        "rtt" => MetricKind::Rtt,
        "rttvar" => MetricKind::RttVar,
        "ssthresh" => MetricKind::SsThresh,
        "cwnd" => MetricKind::Cwnd,
        "advmss" => MetricKind::Advmss,
        "reordering" => MetricKind::Reordering,
        "hoplimit" => MetricKind::Hoplimit,
        "initcwnd" => MetricKind::InitCwnd,
        "rto_min" => MetricKind::RtoMin,
        "initrwnd" => MetricKind::InitRwnd,
        "quickack" => MetricKind::QuickAck,
        "fastopen_no_cookie" => MetricKind::FastopenNoCookie,
        _ => return None,
    })
}

/// Parses a route line into the description rtnetlink gets; `ifindex` resolves `dev` names.
/// An error says what in the line cannot be installed.
pub fn route_spec(
    words: &[String],
    ifindex: &dyn Fn(&str) -> Option<u32>,
) -> Result<RouteSpec, String> {
    let mut spec = RouteSpec::new(IpAddr::from([0u8; 4]), 0);
    let mut destination: Option<String> = None;
    let mut protocol: Option<u8> = None;
    let mut no_track = false;
    let mut or_hops: Vec<IpAddr> = Vec::new();
    let mut iter = words.iter().map(String::as_str).peekable();
    let value = |iter: &mut std::iter::Peekable<_>, what: &str| -> Result<String, String> {
        let next: Option<&str> = Iterator::next(iter);
        next.map(str::to_string)
            .ok_or_else(|| format!("{what} without a value"))
    };
    let address = |text: &str| -> Result<IpAddr, String> {
        text.parse::<IpAddr>()
            .map_err(|_| format!("invalid address {text}"))
    };
    let device = |name: &str| -> Result<u32, String> {
        ifindex(name).ok_or_else(|| format!("interface {name} doesn't exist"))
    };
    while let Some(word) = iter.next() {
        match word {
            "to" => destination = Some(value(&mut iter, word)?),
            "via" | "gw" => {
                let mut v = value(&mut iter, word)?;
                if v == "inet" || v == "inet6" {
                    v = value(&mut iter, word)?;
                }
                spec.gateway = Some(address(&v)?);
            }
            "or" => or_hops.push(address(&value(&mut iter, word)?)?),
            "src" => spec.pref_source = Some(address(&value(&mut iter, word)?)?),
            "from" => {
                // A source prefix (IPv6 only, as 2.2.7 takes it): a source-specific route.
                let v = value(&mut iter, word)?;
                let source = prefix(&v, true).ok_or(format!("invalid from prefix {v}"))?;
                if !source.0.is_ipv6() {
                    return Err(format!("route from address only supported with IPv6 ({v})"));
                }
                spec.source = Some(source);
            }
            "dev" | "oif" => spec.oif = Some(device(&value(&mut iter, word)?)?),
            "metric" | "priority" | "preference" => {
                let v = value(&mut iter, word)?;
                spec.metric = Some(c_number(&v).ok_or(format!("invalid metric {v}"))?);
            }
            "table" => {
                let v = value(&mut iter, word)?;
                spec.table = table_id(&v).ok_or(format!("routing table {v} not found"))?;
            }
            "protocol" | "proto" => {
                let v = value(&mut iter, word)?;
                protocol = Some(protocol_id(&v).ok_or(format!("invalid protocol {v}"))?);
            }
            "scope" => {
                let v = value(&mut iter, word)?;
                spec.scope = scope_id(&v).ok_or(format!("invalid scope {v}"))?;
            }
            "tos" | "dsfield" => {
                let v = value(&mut iter, word)?;
                spec.tos = c_number(&v)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(format!("invalid tos {v}"))?;
            }
            "realms" => {
                let v = value(&mut iter, word)?;
                spec.realms = Some(realms(&v).ok_or(format!("invalid realms {v}"))?);
            }
            "features" => {
                let v = value(&mut iter, word)?;
                let bits = match v.as_str() {
                    "ecn" => 1,
                    other => c_number(other).ok_or(format!("invalid features {v}"))?,
                };
                spec.metrics.push(Metric {
                    kind: MetricKind::Features,
                    value: bits,
                    locked: false,
                });
            }
            "congctl" => {
                let mut v = value(&mut iter, word)?;
                let locked = v == "lock";
                if locked {
                    v = value(&mut iter, word)?;
                }
                spec.metrics.push(Metric {
                    kind: MetricKind::Congctl(v),
                    value: 0,
                    locked,
                });
            }
            "pref" => {
                let v = value(&mut iter, word)?;
                spec.pref = Some(match v.as_str() {
                    "low" => 3,
                    "medium" => 0,
                    "high" => 1,
                    other => c_number(other)
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or(format!("invalid pref {v}"))?,
                });
            }
            "expires" => {
                let v = value(&mut iter, word)?;
                spec.expires = Some(c_number(&v).ok_or(format!("invalid expires {v}"))?);
            }
            "onlink" => spec.onlink = true,
            "no_track" => no_track = true,
            "track_group" => {
                value(&mut iter, word)?;
            }
            "nexthop" => {
                let mut hop = NextHop {
                    weight: 1,
                    ..NextHop::default()
                };
                while let Some(&option) = iter.peek() {
                    match option {
                        "via" | "gw" => {
                            iter.next();
                            let mut v = value(&mut iter, option)?;
                            if v == "inet" || v == "inet6" {
                                v = value(&mut iter, option)?;
                            }
                            hop.gateway = Some(address(&v)?);
                        }
                        "dev" => {
                            iter.next();
                            hop.ifindex = Some(device(&value(&mut iter, option)?)?);
                        }
                        "weight" => {
                            iter.next();
                            let v = value(&mut iter, option)?;
                            hop.weight = v
                                .parse::<u16>()
                                .ok()
                                .filter(|w| (1..=256).contains(w))
                                .ok_or(format!("invalid nexthop weight {v}"))?;
                        }
                        "onlink" => {
                            iter.next();
                            hop.onlink = true;
                        }
                        "realms" => {
                            iter.next();
                            let v = value(&mut iter, option)?;
                            hop.realms = Some(realms(&v).ok_or(format!("invalid realms {v}"))?);
                        }
                        _ => break,
                    }
                }
                spec.nexthops.push(hop);
            }
            "encap" | "as" | "ttl-propagate" => {
                return Err(format!("route option {word} is not supported"));
            }
            _ => {
                if let Some(kind) = Kind::from_keyword(word) {
                    spec.kind = kind;
                } else if let Some(kind) = metric_kind(word) {
                    let mut v = value(&mut iter, word)?;
                    let locked = v == "lock";
                    if locked {
                        v = value(&mut iter, word)?;
                    }
                    // rtt, rttvar and rto_min are times (`3s`, `700ms`; a bare number is
                    // microseconds), at least 200 ms as keepalived 2.2.7 resets them
                    // (observed: `rtt 250` and `rto_min 100` show as 200ms); the kernel keeps
                    // rtt in 1/8 ms and rttvar in 1/4 ms.
                    let n = match kind {
                        MetricKind::Rtt => rtt_ms(&v)?.saturating_mul(8),
                        MetricKind::RttVar => rtt_ms(&v)?.saturating_mul(4),
                        MetricKind::RtoMin => rtt_ms(&v)?,
                        _ => c_number(&v).ok_or(format!("invalid {word} {v}"))?,
                    };
                    spec.metrics.push(Metric {
                        kind,
                        value: n,
                        locked,
                    });
                } else {
                    destination = Some(word.to_string());
                }
            }
        }
    }
    let v6_hint = [spec.gateway, spec.pref_source, spec.source.map(|(a, _)| a)]
        .into_iter()
        .flatten()
        .chain(spec.nexthops.iter().filter_map(|h| h.gateway))
        .any(|a| a.is_ipv6());
    let text = destination.ok_or("route has no destination")?;
    let (dest, len) = prefix(&text, v6_hint).ok_or(format!("invalid destination {text}"))?;
    spec.destination = dest;
    spec.prefix_len = len;
    if spec.pref.is_some() && !dest.is_ipv6() {
        // 2.2.7 drops the route ("pref is only valid for IPv6").
        return Err("pref is only valid for IPv6".into());
    }
    if !or_hops.is_empty() {
        // `via A or B`: a multipath route over A and B, the kernel finding their interface.
        // A `dev` stays on the route itself, where the kernel refuses it (EINVAL) as it
        // refuses 2.2.7's (observed: with `dev` 2.2.7's route is not installed).
        let hops = spec.gateway.take().into_iter().chain(or_hops);
        for gateway in hops {
            spec.nexthops.push(NextHop {
                gateway: Some(gateway),
                weight: 1,
                ..NextHop::default()
            });
        }
    }
    spec.protocol = match protocol {
        Some(p) if no_track => p,
        _ => RTPROT_KEEPALIVED,
    };
    Ok(spec)
}

/// Parses a rule line into the description rtnetlink gets.
pub fn rule_spec(line: &RuleLine) -> Result<RuleSpec, String> {
    let mut spec = RuleSpec::new(false, line.priority);
    let mut from: Option<String> = None;
    let mut to: Option<String> = None;
    let mut protocol: Option<u8> = None;
    let mut no_track = false;
    let mut action: Option<RuleKind> = None;
    let mut iter = line.words.iter().map(String::as_str);
    let mut value = |what: &str| -> Result<String, String> {
        iter.next()
            .map(str::to_string)
            .ok_or_else(|| format!("{what} without a value"))
    };
    // The closure borrows the iterator; words are read through it only.
    while let Ok(word) = value("") {
        let word = word.as_str();
        match word {
            "not" => spec.invert = true,
            "from" => from = Some(value(word)?),
            "to" => to = Some(value(word)?),
            "table" | "lookup" => {
                let v = value(word)?;
                spec.table = Some(table_id(&v).ok_or(format!("routing table {v} not found"))?);
                action = Some(RuleKind::Lookup);
            }
            "priority" | "preference" => {
                // An invalid preference drops the rule in 2.2.7 ("Invalid rule preference").
                let v = value(word)?;
                v.parse::<u32>()
                    .map_err(|_| format!("invalid rule preference {v}"))?;
            }
            "goto" => {
                let v = value(word)?;
                action = Some(RuleKind::Goto(
                    c_number(&v).ok_or(format!("invalid goto {v}"))?,
                ));
            }
            "type" => {
                // `type` names the action that follows it.
                let v = value(word)?;
                action = Some(match v.as_str() {
                    "goto" => {
                        let g = value("goto")?;
                        RuleKind::Goto(c_number(&g).ok_or(format!("invalid goto {g}"))?)
                    }
                    other => {
                        simple_rule_action(other).ok_or(format!("invalid rule action {other}"))?
                    }
                });
            }
            _ if simple_rule_action(word).is_some() => action = simple_rule_action(word),
            "fwmark" => {
                let v = value(word)?;
                spec.fwmark = Some(match v.split_once('/') {
                    Some((m, k)) => (
                        c_number(m).ok_or(format!("invalid fwmark {v}"))?,
                        Some(c_number(k).ok_or(format!("invalid fwmark {v}"))?),
                    ),
                    None => (c_number(&v).ok_or(format!("invalid fwmark {v}"))?, None),
                });
            }
            "iif" | "dev" => spec.iif = Some(value(word)?),
            "oif" => spec.oif = Some(value(word)?),
            "tos" | "dsfield" => {
                let v = value(word)?;
                spec.tos = c_number(&v)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(format!("invalid tos {v}"))?;
            }
            "realms" => {
                let v = value(word)?;
                spec.realms = Some(realms(&v).ok_or(format!("invalid realms {v}"))?);
            }
            "suppress_prefixlength" => {
                let v = value(word)?;
                spec.suppress_prefixlength = Some(c_number(&v).ok_or(format!("invalid {v}"))?);
            }
            "suppress_ifgroup" => {
                let v = value(word)?;
                spec.suppress_ifgroup = Some(c_number(&v).ok_or(format!("invalid {v}"))?);
            }
            "l3mdev" => {
                spec.l3mdev = true;
                action = Some(RuleKind::Lookup);
            }
            "uidrange" => {
                let v = value(word)?;
                spec.uidrange = v.contains('-').then(|| range(&v)).flatten();
            }
            "ipproto" => {
                let v = value(word)?;
                spec.ipproto = Some(match v.as_str() {
                    "tcp" => 6,
                    "udp" => 17,
                    "icmp" => 1,
                    "sctp" => 132,
                    "ipv6-icmp" | "icmpv6" => 58,
                    other => other.parse().map_err(|_| format!("invalid ipproto {v}"))?,
                });
            }
            "sport" => {
                // Only `A-B` is read; 2.2.7 installs the rule without the selector otherwise.
                let v = value(word)?;
                spec.sport = v.contains('-').then(|| range(&v)).flatten();
            }
            "dport" => {
                // Only `A-B` is read; 2.2.7 installs the rule without the selector otherwise.
                let v = value(word)?;
                spec.dport = v.contains('-').then(|| range(&v)).flatten();
            }
            "protocol" => {
                let v = value(word)?;
                protocol = Some(protocol_id(&v).ok_or(format!("invalid protocol {v}"))?);
            }
            "no_track" => no_track = true,
            // A static rule's track group (not acted on, logged at start).
            "track_group" => {
                value(word)?;
            }
            other => return Err(format!("unknown rule option {other}")),
        }
    }
    let family_of = |text: &Option<String>| {
        text.as_deref()
            .filter(|t| *t != "all")
            .and_then(|t| prefix(t, false))
            .map(|(a, _)| a.is_ipv6())
    };
    spec.ipv6 = family_of(&from).or(family_of(&to)).unwrap_or(false);
    for (text, slot) in [(&from, &mut spec.from), (&to, &mut spec.to)] {
        if let Some(t) = text.as_deref().filter(|t| *t != "all") {
            *slot = Some(prefix(t, spec.ipv6).ok_or(format!("invalid rule address {t}"))?);
        }
    }
    spec.kind = action.ok_or("no action specified for rule")?;
    // 2.2.7 marks a tracked rule as its own; an untracked one carries the protocol it was
    // given, or none (observed: `no_track` rules show no `proto`).
    spec.protocol = match protocol {
        _ if !no_track => Some(RTPROT_KEEPALIVED),
        given => given,
    };
    Ok(spec)
}

/// How a route is named in log lines: `PREFIX` (2.2.7's `Removing route PREFIX`).
pub fn route_name(spec: &RouteSpec) -> String {
    format!("{}/{}", spec.destination, spec.prefix_len)
}

/// How a rule is named in log lines (2.2.7's `ip rule from ADDR removed`).
pub fn rule_name(spec: &RuleSpec) -> String {
    let shown = |p: &Option<(IpAddr, u8)>| {
        p.map(|(a, l)| {
            if l == if a.is_ipv6() { 128 } else { 32 } {
                a.to_string()
            } else {
                format!("{a}/{l}")
            }
        })
    };
    let mut parts = vec![format!(
        "from {}",
        shown(&spec.from).unwrap_or_else(|| "all".into())
    )];
    if let Some(to) = shown(&spec.to) {
        parts.push(format!("to {to}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn index(name: &str) -> Option<u32> {
        match name {
            "eth0" => Some(3),
            "eth1" => Some(4),
            _ => None,
        }
    }

    fn route(text: &str) -> RouteSpec {
        match route_spec(&words(text), &index) {
            Ok(spec) => spec,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn a_gateway_route_with_metric_and_table() {
        let spec = route("198.51.100.0/24 via 192.0.2.1 dev eth0 metric 7 table 100");
        assert_eq!(spec.destination, ip("198.51.100.0"));
        assert_eq!(spec.prefix_len, 24);
        assert_eq!(spec.gateway, Some(ip("192.0.2.1")));
        assert_eq!(spec.oif, Some(3));
        assert_eq!(spec.metric, Some(7));
        assert_eq!(spec.table, 100);
        assert_eq!(spec.protocol, RTPROT_KEEPALIVED);
        assert_eq!(spec.scope, 0);
    }

    #[test]
    fn types_default_and_to() {
        assert_eq!(route("blackhole 198.51.100.0/26").kind, Kind::Blackhole);
        let spec = route("default via 2001:db8::1 dev eth0");
        assert_eq!(spec.prefix_len, 0);
        assert!(spec.destination.is_ipv6());
        let spec = route("src 192.0.2.10 to 198.51.100.0/24 via 192.0.2.1");
        assert_eq!(spec.prefix_len, 24);
        assert_eq!(spec.pref_source, Some(ip("192.0.2.10")));
        assert_eq!(route("203.0.113.1 dev eth0").prefix_len, 32);
    }

    #[test]
    fn the_protocol_is_kept_only_with_no_track() {
        assert_eq!(route("192.0.2.0/24 dev eth0 protocol 99").protocol, 18);
        assert_eq!(
            route("192.0.2.0/24 dev eth0 protocol 99 no_track").protocol,
            99
        );
        assert_eq!(
            route("192.0.2.0/24 dev eth0 proto static no_track").protocol,
            4
        );
    }

    #[test]
    fn nexthops_and_the_deprecated_or() {
        let spec =
            route("203.0.113.0/24 nexthop via 192.0.2.5 dev eth0 weight 2 onlink nexthop dev eth1");
        assert_eq!(spec.nexthops.len(), 2);
        assert_eq!(spec.nexthops[0].weight, 2);
        assert!(spec.nexthops[0].onlink);
        assert_eq!(spec.nexthops[1].ifindex, Some(4));
        let spec = route("203.0.113.0/24 via 192.0.2.5 or 192.0.2.6");
        assert_eq!(spec.gateway, None);
        assert_eq!(spec.oif, None);
        let hops: Vec<_> = spec
            .nexthops
            .iter()
            .map(|h| (h.gateway, h.ifindex))
            .collect();
        assert_eq!(
            hops,
            vec![(Some(ip("192.0.2.5")), None), (Some(ip("192.0.2.6")), None),]
        );
        // With `dev` the interface stays on the route, where the kernel refuses it as it
        // refuses 2.2.7's.
        let spec = route("203.0.113.0/24 via 192.0.2.5 or 192.0.2.6 dev eth0");
        assert_eq!(spec.oif, Some(3));
    }

    #[test]
    fn metrics_locks_and_units() {
        let spec = route(
            "192.0.2.0/24 dev eth0 mtu lock 1400 rtt 100 rttvar 300ms rto_min 1s features ecn",
        );
        let got: Vec<_> = spec
            .metrics
            .iter()
            .map(|m| (m.kind.clone(), m.value, m.locked))
            .collect();
        assert_eq!(
            got,
            vec![
                (MetricKind::Mtu, 1400, true),
                (MetricKind::Rtt, 1600, false),
                (MetricKind::RttVar, 1200, false),
                (MetricKind::RtoMin, 1000, false),
                (MetricKind::Features, 1, false),
            ]
        );
    }

    #[test]
    fn what_2_2_7_drops_or_corrects() {
        assert!(route_spec(&words("192.0.2.0/24 dev eth9"), &index).is_err());
        assert!(route_spec(&words("192.0.2.0/24 dev eth0 pref high"), &index).is_err());
        assert_eq!(route("198.51.100.0/33 dev eth0").prefix_len, 32);
        assert_eq!(route("2001:db8::/64 dev eth0 pref high").pref, Some(1));
    }

    #[test]
    fn rules_of_every_kind() {
        let rule = |text: &str, priority| match rule_spec(&RuleLine {
            words: words(text),
            priority,
        }) {
            Ok(spec) => spec,
            Err(e) => panic!("{text}: {e}"),
        };
        let spec = rule("from 192.0.2.100 table 100 priority 100", 100);
        assert_eq!(spec.from, Some((ip("192.0.2.100"), 32)));
        assert_eq!(spec.table, Some(100));
        assert_eq!(spec.priority, 100);
        assert!(!spec.ipv6);
        assert_eq!(rule_name(&spec), "from 192.0.2.100");
        let spec = rule("from 2001:db8::/64 lookup main", 16384);
        assert!(spec.ipv6);
        assert_eq!(spec.table, Some(254));
        let spec = rule("not from all fwmark 0x5/0xff goto 110 priority 5", 5);
        assert!(spec.invert);
        assert_eq!(spec.fwmark, Some((5, Some(255))));
        assert_eq!(spec.kind, RuleKind::Goto(110));
        let spec = rule(
            "from all uidrange 100-200 ipproto tcp dport 443-443 blackhole",
            9,
        );
        assert_eq!(spec.uidrange, Some((100, 200)));
        assert_eq!(spec.ipproto, Some(6));
        assert_eq!(spec.dport, Some((443, 443)));
        assert_eq!(spec.kind, RuleKind::Blackhole);
        let spec = rule("from all l3mdev protocol 99 no_track", 7);
        assert!(spec.l3mdev);
        assert_eq!(spec.protocol, Some(99));
        assert_eq!(rule("from all table 100 no_track", 7).protocol, None);
        assert_eq!(rule("from all table 100 sport 80", 7).sport, None);
        for dropped in [
            "from all lookup 100 pref 22",
            "from all table 100 priority x",
        ] {
            let line = RuleLine {
                words: words(dropped),
                priority: 16384,
            };
            assert!(rule_spec(&line).is_err(), "{dropped}");
        }
        assert!(
            rule_spec(&RuleLine {
                words: words("from all"),
                priority: 1
            })
            .is_err()
        );
    }
}
