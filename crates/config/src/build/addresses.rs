//! Address, route and rule lines: virtual_ipaddress(_excluded), static_ipaddress,
//! virtual_routes / static_routes and virtual_rules / static_rules.

use std::net::IpAddr;

use super::Cx;
use crate::model::{IpAddress, Route, Rule, Scope};
use crate::tree::Statement;
use crate::values::parse_prefix;

/// Address options that take a value and that we keep as written.
const VALUED_ADDRESS_OPTIONS: &[&str] = &["preferred_lft", "track_group", "peer"];
/// Address options without a value that we keep as written.
const FLAG_ADDRESS_OPTIONS: &[&str] = &[
    "no_track",
    "home",
    "-nodad",
    "nodad",
    "noprefixroute",
    "autojoin",
];

/// Reads every line of an address block. `is_static` only changes the wording of messages.
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

/// Reads one address line: `ADDR[/LEN] [brd ADDR] [dev IF] [scope S] [label L] …`.
fn address_line(cx: &mut Cx<'_>, item: &Statement, is_static: bool) -> Option<IpAddress> {
    let text = item.keyword();
    let (addr_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let Ok(address) = addr_text.parse::<IpAddr>() else {
        let what = if is_static { "Static" } else { "VRRP" };
        cx.error(
            &item.location,
            format!("{what} parsed invalid IP {text}. skipping IP..."),
        );
        return None;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len_text.map(|l| l.parse::<u8>()) {
        None => max,
        Some(Ok(len)) if len <= max => len,
        Some(_) => {
            let len = len_text.unwrap_or_default();
            cx.error(
                &item.location,
                format!("Invalid address prefix len {len} for address {text} - using {max}"),
            );
            max
        }
    };
    let mut vip = IpAddress {
        address,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        other: Vec::new(),
        location: item.location.clone(),
    };
    let mut words = item.arg_texts();
    while let Some(option) = words.next() {
        match option {
            "brd" | "broadcast" | "dev" | "scope" | "label" => {
                let Some(value) = words.next() else {
                    cx.error(
                        &item.location,
                        format!("No {option} parameter specified for {text}"),
                    );
                    break;
                };
                match option {
                    "dev" => {
                        cx.check_interface(&item.location, value, &format!("ip address {text}"));
                        vip.dev = Some(value.to_string());
                    }
                    "label" => vip.label = Some(value.to_string()),
                    "scope" => match Scope::parse(value) {
                        Some(s) => vip.scope = Some(s),
                        None => cx.error(
                            &item.location,
                            format!("Invalid scope '{value}' for ip address {text}"),
                        ),
                    },
                    _ => match value.parse() {
                        Ok(b) => vip.broadcast = Some(b),
                        Err(_) if value == "+" || value == "-" => {
                            vip.other.push(format!("brd {value}"))
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
            _ if VALUED_ADDRESS_OPTIONS.contains(&option) => {
                let value = words.next().unwrap_or_default();
                vip.other.push(format!("{option} {value}"));
            }
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
pub fn route_block(cx: &mut Cx<'_>, stmt: &Statement) -> Vec<Route> {
    cx.block(stmt)
        .iter()
        .filter_map(|item| route_line(cx, item))
        .collect()
}

fn prefix_or_default(text: &str) -> Option<(IpAddr, u8)> {
    if text == "default" {
        Some((IpAddr::from([0, 0, 0, 0]), 0))
    } else {
        parse_prefix(text)
    }
}

/// Route options that take one value and that we keep only in `words`.
const ROUTE_VALUED: &[&str] = &[
    "proto",
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
    "track_group",
];

fn route_line(cx: &mut Cx<'_>, item: &Statement) -> Option<Route> {
    let words: Vec<String> = item.words.iter().map(|w| w.text.clone()).collect();
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
    let mut iter = words.iter().map(String::as_str);
    while let Some(word) = iter.next() {
        match word {
            "src" | "via" | "gw" | "from" | "or" => {
                if word == "gw" {
                    cx.error(
                        &item.location,
                        "\"gw\" for routes is deprecated. Please use \"via\"",
                    );
                }
                let value = iter.next().unwrap_or_default();
                if word == "or" {
                    // An alternative gateway: `via A or B`.
                    if value.parse::<IpAddr>().is_err() {
                        cx.error(
                            &item.location,
                            format!("Invalid or address '{value}' in route"),
                        );
                    }
                    continue;
                }
                match value.parse::<IpAddr>() {
                    Ok(a) if word == "src" || word == "from" => route.src = Some(a),
                    Ok(a) => route.via = Some(a),
                    Err(_) => cx.error(
                        &item.location,
                        format!("Invalid {word} address '{value}' in route"),
                    ),
                }
            }
            "dev" | "oif" => route.dev = iter.next().map(str::to_string),
            "table" => route.table = iter.next().map(str::to_string),
            "metric" | "priority" | "preference" => {
                let value = iter.next().unwrap_or_default();
                route.metric = cx
                    .int_value(&item.location, value, 0, i64::from(u32::MAX))
                    .map(|v| v as u32);
            }
            "to" => route.destination = iter.next().and_then(prefix_or_default),
            "blackhole" | "unreachable" | "prohibit" | "throw" | "local" | "broadcast"
            | "unicast" | "anycast" | "multicast" | "nat" | "onlink" | "no_track" => {}
            _ if ROUTE_VALUED.contains(&word) => {
                iter.next();
            }
            _ if route.destination.is_none() => match prefix_or_default(word) {
                Some(p) => route.destination = Some(p),
                None => cx.error(
                    &item.location,
                    format!("Invalid route destination '{word}'"),
                ),
            },
            other => cx.error(&item.location, format!("Unknown route option '{other}'")),
        }
    }
    if route.destination.is_none() {
        cx.error(&item.location, "Route has no destination - ignoring");
        return None;
    }
    match &route.dev {
        Some(dev) => {
            if !cx.host.interface_exists(dev) {
                cx.warning(
                    &item.location,
                    format!("WARNING - interface {dev} for VROUTE nexthop doesn't exist"),
                );
            }
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

/// Reads every line of a rule block.
pub fn rule_block(cx: &mut Cx<'_>, stmt: &Statement) -> Vec<Rule> {
    cx.block(stmt)
        .iter()
        .filter_map(|item| rule_line(cx, item))
        .collect()
}

fn rule_line(cx: &mut Cx<'_>, item: &Statement) -> Option<Rule> {
    let words: Vec<String> = item.words.iter().map(|w| w.text.clone()).collect();
    let mut rule = Rule {
        from: None,
        to: None,
        table: None,
        priority: None,
        words: words.clone(),
        location: item.location.clone(),
    };
    let mut iter = words.iter().map(String::as_str);
    while let Some(word) = iter.next() {
        match word {
            "from" | "to" => {
                let value = iter.next().unwrap_or_default();
                let prefix = if value == "all" {
                    Some((IpAddr::from([0, 0, 0, 0]), 0))
                } else {
                    parse_prefix(value)
                };
                match prefix {
                    Some(p) if word == "from" => rule.from = Some(p),
                    Some(p) => rule.to = Some(p),
                    None => {
                        cx.error(
                            &item.location,
                            format!("Invalid rule {word} address '{value}'"),
                        );
                        return None;
                    }
                }
            }
            "table" | "lookup" => {
                rule.table = iter.next().map(str::to_string);
                if let Some(table) = &rule.table
                    && !routing_table_exists(table)
                {
                    cx.error(
                        &item.location,
                        format!("Routing table {table} not found for rule"),
                    );
                }
            }
            "priority" | "preference" | "pref" | "prio" => {
                let value = iter.next().unwrap_or_default();
                rule.priority = cx
                    .int_value(&item.location, value, 0, i64::from(u32::MAX))
                    .map(|v| v as u32);
            }
            "not" | "no_track" | "l3mdev" => {}
            _ => {
                // fwmark, tos, iif, oif, uidrange, sport, dport, ipproto, goto, realms,
                // suppress_prefixlength, suppress_ifgroup, nat, protocol: one value each.
                iter.next();
            }
        }
    }
    if rule.priority.is_none() {
        cx.warning(
            &item.location,
            "Rule has no preference specified - setting to 16384. This is probably not what you want.",
        );
    }
    Some(rule)
}

/// A routing table given by number, or by a name iproute2 knows (its built-in names or
/// /etc/iproute2/rt_tables).
fn routing_table_exists(table: &str) -> bool {
    if table.parse::<u32>().is_ok() || matches!(table, "local" | "main" | "default" | "unspec") {
        return true;
    }
    std::fs::read_to_string("/etc/iproute2/rt_tables").is_ok_and(|text| {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .any(|l| l.split_whitespace().nth(1) == Some(table))
    })
}
