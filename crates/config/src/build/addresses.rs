//! Address, route and rule lines: virtual_ipaddress(_excluded), static_ipaddress,
//! virtual_routes / static_routes and virtual_rules / static_rules.

use std::net::IpAddr;

use super::Cx;
use crate::diagnostic::Location;
use crate::model::{IpAddress, Route, Rule, Scope, ThinVec};
use crate::tree::Statement;

/// Address options without a value that we keep as written (the daemon reads them from
/// [`IpAddress::other`]).
const FLAG_ADDRESS_OPTIONS: &[&str] = &[
    "no_track",
    "home",
    "noprefixroute",
    "autojoin",
    "mngtmpaddr",
    "use_vmac",
];

/// Reads every line of an address block (`is_static`: static_ipaddress, whose lines may name
/// a `track_group`).
pub fn address_block(cx: &mut Cx<'_>, stmt: &Statement, is_static: bool) -> Vec<IpAddress> {
    // Sized up front: thousands of instances each keep their list for the whole run.
    let mut out = Vec::with_capacity(cx.block(stmt).len());
    for item in cx.block(stmt) {
        if let Some(address) = address_line(cx, item, is_static) {
            out.push(address);
        }
    }
    out
}

/// `ADDR[/LEN]` as keepalived reads it in address, route and rule lines: an address that does
/// not parse is refused (`{what} parsed invalid IP …`); a bad length is reported by the number
/// reader and again, and the full length is used.
fn address_with_len(
    cx: &mut Cx<'_>,
    at: &Location,
    text: &str,
    what: &str,
) -> Option<(IpAddr, u8)> {
    let (addr_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    // The length is read first, against the family the text looks like (2.2.7 names a bad
    // length of `192.0..1/33` before the address).
    let parsed = addr_text.parse::<IpAddr>();
    let ipv6 = parsed
        .as_ref()
        .map_or(addr_text.contains(':'), IpAddr::is_ipv6);
    let max: u8 = if ipv6 { 128 } else { 32 };
    let prefix_len = match len_text {
        None => max,
        Some(len) => match cx.read_unsigned(at, len, 0, u32::from(max)) {
            Some(v) => v as u8,
            None => {
                let line =
                    format!("Invalid address prefix len {len} for address {text} - using {max}");
                cx.error(at, line);
                max
            }
        },
    };
    let Ok(address) = parsed else {
        cx.error(
            at,
            format!("{what} parsed invalid IP {text}. skipping IP..."),
        );
        return None;
    };
    Some((address, prefix_len))
}

/// The options of an address line that take a value.
const VALUED_OPTIONS: &[&str] = &[
    "brd",
    "broadcast",
    "dev",
    "scope",
    "label",
    "peer",
    "preferred_lft",
];

/// `peer ADDR`: the other end of a point-to-point address (`ip address add A peer P`). A
/// peer that is not an address, or of the other family, is refused and the address kept; a
/// prefix length on the address itself is named as ignored and the full length used, as
/// 2.2.7 adds it (`inet 192.0.2.4 peer 192.0.2.5/32`).
fn peer_option(cx: &mut Cx<'_>, at: &Location, vip: &mut IpAddress, value: &str) {
    let Ok(peer) = value.parse::<IpAddr>() else {
        cx.error(
            at,
            format!("VRRP parsed invalid IP {value}. skipping IP..."),
        );
        cx.error(at, format!("Invalid peer address {value}"));
        return;
    };
    if peer.is_ipv4() != vip.address.is_ipv4() {
        cx.error(
            at,
            format!("Peer address {value} does not match address family"),
        );
        return;
    }
    let full = if vip.address.is_ipv4() { 32 } else { 128 };
    if vip.prefix_len != full {
        cx.error(
            at,
            "Cannot specify address prefix when specifying peer address - ignoring",
        );
    }
    vip.prefix_len = full;
    vip.peer = Some(peer);
}

/// Reads one address line: `ADDR[/LEN] [brd ADDR] [dev IF] [scope S] [label L] …`.
fn address_line(cx: &mut Cx<'_>, item: &Statement, is_static: bool) -> Option<IpAddress> {
    let text = item.keyword();
    // 2.2.7 says `VRRP parsed invalid IP` for static addresses too (it has no other wording).
    let (address, prefix_len) = address_with_len(cx, &item.location, text, "VRRP")?;
    let mut vip = IpAddress {
        address,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        other: ThinVec::new(),
        location: item.location.clone(),
        written: text.into(),
    };
    let mut words = item.arg_texts().peekable();
    while let Some(option) = words.next() {
        // An option whose value is missing drops the whole address, as 2.2.7 does.
        let valued = VALUED_OPTIONS.contains(&option) || (is_static && option == "track_group");
        if valued && words.peek().is_none() {
            cx.error(
                &item.location,
                format!("No {option} parameter specified for {text}"),
            );
            return None;
        }
        match option {
            // Static addresses only: the group's instances track it (not acted on yet,
            // logged at start).
            "track_group" if is_static => {
                let name = words.next().unwrap_or_default();
                track_group_option(cx, &item.location, name);
                vip.other.push(format!("track_group {name}"));
            }
            "peer" if vip.peer.is_some() => {
                // The word after a second `peer` is then read as an option of its own.
                let value = words.peek().copied().unwrap_or_default();
                cx.error(
                    &item.location,
                    format!("Peer {value} - another peer has already been specified"),
                );
            }
            "peer" => {
                let value = words.next().unwrap_or_default();
                peer_option(cx, &item.location, &mut vip, value);
            }
            "brd" | "broadcast" if address.is_ipv6() => {
                cx.error(
                    &item.location,
                    format!("VRRP is trying to assign a broadcast {option} to the IPv6 address {text} !!?? WTF... skipping VIP..."),
                );
                return None;
            }
            "brd" | "broadcast" | "dev" | "scope" | "label" => {
                let value = words.next().unwrap_or_default();
                match option {
                    "dev" => {
                        // A missing interface ends the line there: 2.2.7 reads no more of it.
                        if !cx.check_interface(&item.location, value, &format!("ip address {text}"))
                        {
                            return None;
                        }
                        vip.dev = Some(value.into());
                    }
                    // An interface label holds at most 15 bytes (IFNAMSIZ - 1).
                    "label" if value.len() > 15 => {
                        cx.error(
                            &item.location,
                            format!("Address label {value} is longer than maximum length 15 - removing address"),
                        );
                        return None;
                    }
                    "label" => vip.label = Some(value.into()),
                    // Only the default scope (0, global) may be named for IPv6.
                    "scope"
                        if address.is_ipv6()
                            && (Scope::parse(value).is_some() || value.parse::<u8>().is_ok())
                            && !matches!(value, "global" | "universe" | "0") =>
                    {
                        cx.error(
                            &item.location,
                            format!(
                                "Cannot specify scope for IPv6 addresses ({text}) - ignoring scope"
                            ),
                        )
                    }
                    "scope" => match Scope::parse(value) {
                        Some(s) => vip.scope = Some(s),
                        None if value.parse::<u8>().is_ok() => {
                            vip.scope = value.parse().ok().map(Scope::from_number)
                        }
                        None => cx.error(
                            &item.location,
                            format!("Invalid scope '{value}' specified for {text} - ignoring"),
                        ),
                    },
                    _ => match value.parse() {
                        Ok(b) => vip.broadcast = Some(b),
                        // A broadcast worked out from the prefix needs host bits.
                        Err(_)
                            if (value == "+" || value == "-")
                                && address.is_ipv4()
                                && prefix_len >= 31 =>
                        {
                            cx.error(
                                &item.location,
                                format!(
                                    "Address prefix length {prefix_len} too long for broadcast"
                                ),
                            );
                        }
                        // `+`: the prefix's last address, `-`: its first (`ip address`'s rule).
                        Err(_) if value == "+" || value == "-" => {
                            if let IpAddr::V4(v4) = address {
                                let host_bits =
                                    u32::MAX.checked_shr(prefix_len.into()).unwrap_or(0);
                                let bits = u32::from(v4);
                                vip.broadcast = Some(std::net::Ipv4Addr::from(if value == "+" {
                                    bits | host_bits
                                } else {
                                    bits & !host_bits
                                }));
                            }
                        }
                        Err(_) => {
                            cx.error(
                                &item.location,
                                format!("VRRP is trying to assign invalid broadcast {value}. skipping VIP..."),
                            );
                            return None;
                        }
                    },
                }
            }
            "preferred_lft" => {
                let value = words.next().unwrap_or_default();
                // An empty word is 0, as 2.2.7's number reader reads it.
                if value != "forever" && !value.is_empty() && value.parse::<u32>().is_err() {
                    cx.error(&item.location, format!("invalid number '{value}'"));
                    cx.error(&item.location, format!("preferred_lft {value} is invalid"));
                } else {
                    vip.other.push(format!("{option} {value}"));
                }
            }
            // Duplicate address detection is an IPv6 matter: keepalived 2.2.7 adds IPv6 VIPs
            // without it, `-nodad` asks for it; a bare `nodad` is unknown to it (observed).
            "-nodad" if address.is_ipv6() => vip.other.push(option.to_string()),
            _ if FLAG_ADDRESS_OPTIONS.contains(&option) => vip.other.push(option.to_string()),
            _ => {
                cx.error(
                    &item.location,
                    format!("Unknown configuration entry '{option}' for ip address - ignoring"),
                );
            }
        }
    }
    Some(vip)
}

/// Reads every line of a route block.
/// Reads every line of a route block (`is_static`: static_routes, which may name a
/// track_group).
pub fn route_block(cx: &mut Cx<'_>, stmt: &Statement, is_static: bool) -> Vec<Route> {
    cx.block(stmt)
        .iter()
        .filter_map(|item| route_line(cx, item, is_static))
        .collect()
}

/// `track_group NAME` of a static line: the group must be defined above (2.2.7's lookup).
/// Whether it is.
fn track_group_option(cx: &mut Cx<'_>, at: &Location, name: &str) -> bool {
    let found = cx.track_groups.iter().any(|g| g == name);
    if !found {
        cx.error(at, format!("track_group {name} not found"));
    }
    found
}

/// A route's destination (`default` or `ADDR[/LEN]`); a word that is not one is reported as
/// keepalived does (`unknown route keyword …`) and the route is dropped. `family` is the
/// line's address family so far (`Some(true)` for IPv6): `default` has none of its own (it
/// takes the one set later, IPv4 if none) and, as in keepalived 2.2.7, may not follow an
/// address; an address of the other family is refused.
fn route_destination(
    cx: &mut Cx<'_>,
    at: &Location,
    text: &str,
    family: &mut Option<bool>,
) -> Option<(IpAddr, u8)> {
    if text == "default" {
        if family.is_some() {
            cx.error(at, "Cannot mix IPv4 and IPv6 addresses for route (default)");
            return None;
        }
        return Some((IpAddr::from([0, 0, 0, 0]), 0));
    }
    let destination = address_with_len(cx, at, text, "VRRP");
    let Some((address, len)) = destination else {
        cx.error(at, format!("unknown route keyword {text}"));
        return None;
    };
    if family.is_some_and(|v6| v6 != address.is_ipv6()) {
        let line = format!("Cannot mix IPv4 and IPv6 addresses for route ({address}/{len})");
        cx.error(at, line);
        return None;
    }
    *family = Some(address.is_ipv6());
    destination
}

/// A gateway or source address in a route line (`VRRP parsed invalid IP …` when it is not one).
fn route_address(cx: &mut Cx<'_>, at: &Location, text: &str) -> Option<IpAddr> {
    let parsed = text.parse::<IpAddr>().ok();
    if parsed.is_none() {
        cx.error(at, format!("VRRP parsed invalid IP {text}. skipping IP..."));
    }
    parsed
}

/// Route options that take one value and that we keep only in `words`.
const ROUTE_VALUED: &[&str] = &[
    "protocol",
    "tos",
    "dsfield",
    "realms",
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "ssthresh",
    "rto_min",
    "features",
    "quickack",
    "congctl",
    "fastopen_no_cookie",
    "pref",
    "nexthop",
    "weight",
    "onlink",
    "encap",
    "as",
    "expires",
    "hoplimit",
    "scope",
    "no_track",
];

fn route_line(cx: &mut Cx<'_>, item: &Statement, is_static: bool) -> Option<Route> {
    let words: Vec<String> = item.words.iter().map(|w| w.text.to_string()).collect();
    let mut route = Route {
        destination: None,
        via: None,
        dev: None,
        src: None,
        metric: None,
        table: None,
        words: words.clone(),
        location: item.location.clone(),
    };
    // The line's address family once an address (or `pref`, IPv6 only) has set it.
    let mut family: Option<bool> = None;
    // `protocol` other than keepalived's own (18) is reset unless the route is not tracked.
    let mut foreign_protocol = false;
    let mut no_track = false;
    let mut iter = words.iter().map(String::as_str);
    while let Some(word) = iter.next() {
        match word {
            "protocol" => {
                let value = value_after(cx, item, &mut iter, word)?;
                foreign_protocol = !matches!(value, "18" | "keepalived");
            }
            "no_track" => no_track = true,
            // Virtual routes do not know it: there it is the word that ends the line.
            "track_group" if is_static => {
                let name = value_after(cx, item, &mut iter, word)?;
                track_group_option(cx, &item.location, name);
            }
            "congctl" => {
                // `congctl [lock] NAME`.
                if iter.next() == Some("lock") {
                    iter.next();
                }
            }
            "from" => {
                // A source prefix: IPv6 only (a source-specific route), as 2.2.7 reads it.
                let value = value_after(cx, item, &mut iter, word)?;
                let only_v6 = || format!("route from address only supported with IPv6 ({value})");
                if value == "default" {
                    cx.error(&item.location, only_v6());
                    return None;
                }
                let Some((address, _)) = address_with_len(cx, &item.location, value, "VRRP") else {
                    cx.error(
                        &item.location,
                        format!("invalid route from address {value}"),
                    );
                    return None;
                };
                if address.is_ipv4() {
                    cx.error(&item.location, only_v6());
                    return None;
                }
                if family == Some(false) {
                    cx.error(
                        &item.location,
                        "Cannot mix IPv4 and IPv6 addresses for route",
                    );
                    return None;
                }
                family = Some(true);
            }
            "src" | "via" | "gw" | "or" => {
                if word == "gw" {
                    cx.error(
                        &item.location,
                        "\"gw\" for routes is deprecated. Please use \"via\"",
                    );
                }
                if word == "or" {
                    cx.error(
                        &item.location,
                        "\"or\" for routes is deprecated. Please use \"nexthop\"",
                    );
                }
                let value = value_after(cx, item, &mut iter, word)?;
                let Some(address) = route_address(cx, &item.location, value) else {
                    let line = match word {
                        "or" => format!("Invalid \"or\" address {value}"),
                        "src" => format!("invalid route src address {value}"),
                        _ => format!("invalid route via address {value}"),
                    };
                    cx.error(&item.location, line);
                    return None;
                };
                if word != "or" {
                    if family.is_some_and(|v6| v6 != address.is_ipv6()) {
                        cx.error(
                            &item.location,
                            "Cannot mix IPv4 and IPv6 addresses for route",
                        );
                        return None;
                    }
                    family = Some(address.is_ipv6());
                }
                match word {
                    // An alternative gateway (`via A or B`) is a second next hop.
                    "or" => {}
                    "src" => route.src = Some(address),
                    _ => route.via = Some(address),
                }
            }
            "nexthop" => {
                // `nexthop [via ADDR] [dev IF] [weight N] [onlink]`, repeated.
                while let Some(option) = iter.clone().next() {
                    match option {
                        "via" | "gw" => {
                            iter.next();
                            let value = value_after(cx, item, &mut iter, word)?;
                            if route_address(cx, &item.location, value).is_none() {
                                let line = format!("invalid nexthop address {value}");
                                cx.error(&item.location, line);
                            }
                        }
                        "dev" => {
                            iter.next();
                            if let Some(dev) = iter.next() {
                                cx.interface_must_exist(&item.location, dev, || {
                                    format!(
                                        "WARNING - interface {dev} for VROUTE nexthop doesn't exist"
                                    )
                                });
                            }
                        }
                        "weight" | "realms" | "encap" => {
                            iter.next();
                            iter.next();
                        }
                        "onlink" => {
                            iter.next();
                        }
                        _ => break,
                    }
                }
            }
            "dev" | "oif" => route.dev = Some(value_after(cx, item, &mut iter, word)?.to_string()),
            "table" => {
                route.table = Some(value_after(cx, item, &mut iter, word)?.to_string());
                if let Some(table) = &route.table
                    && crate::values::routing_table(table).is_none()
                {
                    cx.error(
                        &item.location,
                        format!("Routing table {table} not found for route"),
                    );
                }
            }
            "scope" => {
                let value = value_after(cx, item, &mut iter, word)?;
                if value.parse::<u8>().is_err()
                    && !matches!(
                        value,
                        "global" | "universe" | "nowhere" | "host" | "link" | "site"
                    )
                {
                    cx.error(
                        &item.location,
                        format!("Scope {value} not found or invalid for route"),
                    );
                }
            }
            "pref" => {
                // An IPv4 line is refused there, before the value is read (2.2.7 drops it).
                if family == Some(false) {
                    cx.error(&item.location, "pref is only valid for IPv6");
                    return None;
                } else {
                    value_after(cx, item, &mut iter, word)?;
                    family = Some(true);
                }
            }
            "mtu" | "advmss" | "rtt" | "rttvar" | "reordering" | "window" | "cwnd" | "initcwnd"
            | "initrwnd" | "ssthresh" | "rto_min" | "hoplimit" => {
                // A metric may be locked: `mtu lock 1400`.
                if value_after(cx, item, &mut iter, word)? == "lock" {
                    value_after(cx, item, &mut iter, "lock")?;
                }
            }
            "metric" | "priority" | "preference" => {
                let value = value_after(cx, item, &mut iter, word)?;
                route.metric = cx.read_unsigned(&item.location, value, 0, u32::MAX);
                if route.metric.is_none() {
                    let line = format!("Invalid metric {value} specified for route");
                    cx.error(&item.location, line);
                }
            }
            "to" => {
                let value = value_after(cx, item, &mut iter, word)?;
                route.destination =
                    Some(route_destination(cx, &item.location, value, &mut family)?);
            }
            "onlink" => {}
            _ if is_route_type(word) => {
                // 2.2.7 reads a type as `TYPE PREFIX`: the word after it is the destination
                // (`blackhole 198.51.100.0/24`; a type ending the line is missing that
                // parameter, and one followed by a word that is no address drops the route).
                let value = value_after(cx, item, &mut iter, word)?;
                route.destination =
                    Some(route_destination(cx, &item.location, value, &mut family)?);
            }
            _ if ROUTE_VALUED.contains(&word) => {
                value_after(cx, item, &mut iter, word)?;
            }
            // Any other word is the destination; one that is not an address ends the line.
            other => {
                route.destination =
                    Some(route_destination(cx, &item.location, other, &mut family)?);
            }
        }
    }
    if route.destination.is_none() {
        cx.error(&item.location, "Route has no destination - ignoring");
        return None;
    }
    // `default` takes the family the rest of the line set.
    if family == Some(true)
        && let Some((address, 0)) = &mut route.destination
        && address.is_ipv4()
    {
        *address = IpAddr::from([0u16; 8]);
    }
    if foreign_protocol && !no_track {
        cx.warning(
            &item.location,
            "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
        );
    }
    match &route.dev {
        Some(dev) => {
            cx.interface_must_exist(&item.location, dev, || {
                format!("WARNING - interface {dev} for VROUTE nexthop doesn't exist")
            });
        }
        None => {
            let shown = match route.destination {
                Some((_, 0)) if words.iter().any(|w| w == "default") => "default".to_string(),
                Some((addr, len)) => format!("{addr}/{len}"),
                None => String::new(),
            };
            cx.warning(
                &item.location,
                format!(
                    "Warning - cannot track route {shown} with no interface specified, not tracking"
                ),
            );
        }
    }
    Some(route)
}

/// The word after `keyword` on a route or rule line; a line that ends there is 2.2.7's fatal
/// "missing a parameter" (checking stops there, exit 2).
fn value_after<'w>(
    cx: &mut Cx<'_>,
    item: &Statement,
    iter: &mut impl Iterator<Item = &'w str>,
    keyword: &str,
) -> Option<&'w str> {
    let value = iter.next();
    if value.is_none() {
        cx.missing_parameter(item, keyword);
    }
    value
}

/// Reads every line of a rule block.
pub fn rule_block(cx: &mut Cx<'_>, stmt: &Statement, is_static: bool) -> Vec<Rule> {
    cx.block(stmt)
        .iter()
        .filter_map(|item| rule_line(cx, item, is_static))
        .collect()
}

fn rule_line(cx: &mut Cx<'_>, item: &Statement, is_static: bool) -> Option<Rule> {
    let words: Vec<String> = item.words.iter().map(|w| w.text.to_string()).collect();
    let mut rule = Rule {
        from: None,
        to: None,
        table: None,
        priority: None,
        priority_given: false,
        words: words.clone(),
        location: item.location.clone(),
    };
    let at = &item.location;
    let mut action = false;
    let mut foreign_protocol = false;
    let no_track = words.iter().any(|w| w == "no_track");
    let (mut track_group, mut in_interface) = (false, false);
    let mut iter = words.iter().map(String::as_str);
    while let Some(word) = iter.next() {
        match word {
            "from" | "to" => {
                let value = value_after(cx, item, &mut iter, word)?;
                let prefix = if value == "all" {
                    None
                } else {
                    match address_with_len(cx, at, value, "VRRP") {
                        Some(p) => Some(p),
                        None => {
                            cx.error(at, format!("Invalid rule {word} address {value}"));
                            return None;
                        }
                    }
                };
                if word == "from" {
                    rule.from = prefix;
                } else {
                    rule.to = prefix;
                }
            }
            "table" | "lookup" => {
                action = true;
                rule.table = Some(value_after(cx, item, &mut iter, word)?.to_string());
                if let Some(table) = &rule.table {
                    // The rule is dropped there (2.2.7 takes the number's low 32 bits, so
                    // `4294967296` is table 0 too).
                    match crate::values::routing_table(table) {
                        None => {
                            cx.error(at, format!("Routing table {table} not found for rule"));
                            return None;
                        }
                        Some(0) => {
                            cx.error(at, "Table 0 is not valid");
                            return None;
                        }
                        Some(_) => {}
                    }
                }
            }
            "priority" | "preference" => {
                // 2.2.7's unsigned reader; a bad value drops the rule.
                let value = value_after(cx, item, &mut iter, word)?;
                match crate::values::read_unsigned(value, 0, u32::MAX) {
                    Ok(v) => {
                        rule.priority = Some(v);
                        rule.priority_given = true;
                    }
                    Err(message) => {
                        cx.error(at, message);
                        cx.error(at, "Invalid rule preference priority specified");
                        return None;
                    }
                }
            }
            "goto" => {
                action = true;
                value_after(cx, item, &mut iter, word)?;
            }
            "blackhole" | "unreachable" | "prohibit" | "nop" => action = true,
            // `type` names the action that follows it.
            "type" => {
                match value_after(cx, item, &mut iter, word)? {
                    "blackhole" | "unreachable" | "prohibit" | "nop" => {}
                    "goto" => {
                        value_after(cx, item, &mut iter, "goto")?;
                    }
                    kind if numbered_rule_action(kind) => {}
                    kind => {
                        cx.error(at, format!("Invalid rule action {kind}"));
                        return None;
                    }
                }
                action = true;
            }
            // A number is an action by its number: FR_ACT_BLACKHOLE, _UNREACHABLE, _PROHIBIT.
            kind if numbered_rule_action(kind) => action = true,
            kind if c_u32(kind).is_some() => {
                cx.error(at, format!("Invalid rule action {kind}"));
                return None;
            }
            "fwmark" => {
                let value = value_after(cx, item, &mut iter, word)?;
                let ok = value.split_once('/').map_or(parse_c_u32(value), |(m, k)| {
                    parse_c_u32(m) && parse_c_u32(k)
                });
                if !ok {
                    cx.error(at, format!("Invalid rule fwmark {value} specified"));
                }
            }
            "track_group" if is_static => {
                let name = value_after(cx, item, &mut iter, word)?;
                track_group |= track_group_option(cx, at, name);
            }
            "iif" | "oif" | "dev" => {
                // `dev` is `iif` (2.2.7).
                in_interface |= word != "oif";
                let dev = value_after(cx, item, &mut iter, word)?;
                cx.interface_must_exist(at, dev, || {
                    format!("WARNING - interface {dev} for rule doesn't exist")
                });
            }
            "sport" | "dport" => {
                let value = value_after(cx, item, &mut iter, word)?;
                let ok = value
                    .split_once('-')
                    .is_some_and(|(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
                if !ok {
                    cx.error(at, format!("invalid {word} range {value}"));
                }
            }
            "uidrange" => {
                let value = value_after(cx, item, &mut iter, word)?;
                let ok = value
                    .split_once('-')
                    .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
                if !ok {
                    cx.error(at, "Invalid uidrange uidrange specified");
                }
            }
            "ipproto" => {
                let value = value_after(cx, item, &mut iter, word)?;
                if value.parse::<u8>().is_err()
                    && !matches!(
                        value,
                        "tcp" | "udp" | "icmp" | "sctp" | "ipv6-icmp" | "icmpv6"
                    )
                {
                    cx.error(at, format!("Invalid ipproto {value}"));
                }
            }
            "protocol" => {
                let value = value_after(cx, item, &mut iter, word)?;
                if cx.int_value(at, value, 0, 255).is_none() {
                    cx.error(at, format!("Invalid protocol {value}"));
                }
                foreign_protocol = value != "18";
            }
            "realms" => {
                let value = value_after(cx, item, &mut iter, word)?;
                let ok = value.split('/').all(|r| r.parse::<u32>().is_ok());
                if !ok {
                    cx.error(at, format!("invalid realms {value} for rule"));
                }
            }
            "nat" => {
                value_after(cx, item, &mut iter, word)?;
                cx.error(at, "Invalid rule action nat");
            }
            "tos" | "dsfield" | "suppress_prefixlength" | "suppress_ifgroup" => {
                value_after(cx, item, &mut iter, word)?;
            }
            "l3mdev" => action = true,
            "not" | "no_track" => {}
            other => {
                // 2.2.7 stops reading the rule there and drops it.
                cx.error(at, format!("Unknown rule option {other}"));
                return None;
            }
        }
    }
    let family = |p: &Option<(IpAddr, u8)>| p.map(|(a, _)| a.is_ipv6());
    if let (Some(a), Some(b)) = (family(&rule.from), family(&rule.to))
        && a != b
    {
        cx.error(at, "rule specification has mixed IPv4 and IPv6");
        return None;
    }
    if !action {
        cx.error(at, "No action specified for rule - ignoring");
        return None;
    }
    if track_group && !in_interface {
        cx.error(
            at,
            "Static rule cannot have track_group if dev/iif not specified",
        );
    }
    if foreign_protocol && !no_track {
        cx.warning(
            at,
            "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
        );
    }
    if rule.priority.is_none() {
        let preference = cx.next_default_rule_preference(rule.is_ipv6());
        cx.warning(
            at,
            format!("Rule has no preference specified - setting to {preference}. This is probably not what you want."),
        );
        rule.priority = Some(preference);
    }
    Some(rule)
}

/// A route type as 2.2.7 takes one (iproute2's names, `brd` for broadcast among them, or a
/// number up to 255 as `strtoul(…, 0)` reads it: `6` is blackhole).
fn is_route_type(word: &str) -> bool {
    matches!(
        word,
        "unicast"
            | "local"
            | "broadcast"
            | "brd"
            | "anycast"
            | "multicast"
            | "blackhole"
            | "unreachable"
            | "prohibit"
            | "throw"
            | "nat"
            | "xresolve"
    ) || c_u32(word).is_some_and(|n| n <= 255)
}

/// A number as C's `strtoul(…, 0)` reads it (decimal, `0x` hex or leading-0 octal).
fn parse_c_u32(text: &str) -> bool {
    c_u32(text).is_some()
}

/// A number as C's `strtoul(…, 0)` reads it.
fn c_u32(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse::<u32>().ok()
    }
}

/// Whether a rule's action word is one given by number that 2.2.7 takes: 6, 7 and 8
/// (blackhole, unreachable, prohibit; linux/fib_rules.h), written as C writes numbers.
fn numbered_rule_action(text: &str) -> bool {
    matches!(c_u32(text), Some(6..=8))
}
