//! The checker side: `virtual_server_group`, `virtual_server`, `real_server` and the health
//! checks. A config that uses them is valid; the checkers themselves run elsewhere.

use std::net::IpAddr;

use super::Cx;
use crate::diagnostic::Severity;
use crate::model::{
    Checker, CheckerKind, Forwarding, RealServer, ServiceKey, TunnelOptions, Url, VirtualServer,
    VirtualServerGroup,
};
use crate::tree::Statement;
use crate::values;

const VS_KEYWORDS: &[&str] = &[
    "delay_loop",
    "lb_algo",
    "lvs_sched",
    "lb_kind",
    "lvs_method",
    "protocol",
    "persistence_timeout",
    "persistence_granularity",
    "persistence_engine",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "real_server",
    "virtualhost",
    "ha_suspend",
    "alpha",
    "omega",
    "quorum",
    "quorum_up",
    "quorum_down",
    "hysteresis",
    "ops",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "inhibit_on_failure",
    "smtp_alert",
    "hashed",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "ip_family",
    "weight",
];

/// IPVS schedulers keepalived accepts.
const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos",
];

const RS_KEYWORDS: &[&str] = &[
    "weight",
    "inhibit_on_failure",
    "notify_up",
    "notify_down",
    "uthreshold",
    "lthreshold",
    "smtp_alert",
    "virtualhost",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "connect_timeout",
    "lvs_method",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

/// Keywords every check but FILE_CHECK and BFD_CHECK takes.
const COMMON_CHECK_KEYWORDS: &[&str] = &[
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "alpha",
    "log_all_failures",
];

/// The connection options of the checks that connect (and of SMTP_CHECK's `host`).
const CONNECTION_KEYWORDS: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "fwmark",
];

/// The keywords of one kind of check as keepalived 2.2.7 knows them, beyond the common and
/// connection ones (`None`: a check without connection options).
fn own_keywords(kind: CheckerKind) -> (&'static [&'static str], bool, bool) {
    // (own keywords, takes the common keywords, takes the connection options)
    match kind {
        CheckerKind::Tcp | CheckerKind::Ping => (&[], true, true),
        CheckerKind::Http | CheckerKind::Ssl => (
            &[
                "url",
                "virtualhost",
                "http_protocol",
                "enable_sni",
                "fast_recovery",
                "nb_get_retry",
            ],
            true,
            true,
        ),
        CheckerKind::Misc => (
            &["misc_path", "misc_timeout", "misc_dynamic", "user"],
            true,
            false,
        ),
        CheckerKind::Smtp => (&["helo_name", "host"], true, true),
        CheckerKind::Dns => (&["type", "name"], true, true),
        CheckerKind::Udp => (
            &[
                "payload",
                "require_reply",
                "min_reply_length",
                "max_reply_length",
            ],
            true,
            true,
        ),
        CheckerKind::File => (&["track_file", "weight"], false, false),
        CheckerKind::Bfd => (&["name", "alpha"], false, false),
    }
}

/// Whether a check of `kind` knows `keyword`.
fn check_knows(kind: CheckerKind, keyword: &str) -> bool {
    let (own, common, connection) = own_keywords(kind);
    own.contains(&keyword)
        || common && COMMON_CHECK_KEYWORDS.contains(&keyword)
        || connection && CONNECTION_KEYWORDS.contains(&keyword)
}

/// The keywords a check of `kind` knows, for a hint after an unknown one.
fn check_keywords(kind: CheckerKind) -> Vec<&'static str> {
    let (own, common, connection) = own_keywords(kind);
    let mut all = own.to_vec();
    if common {
        all.extend_from_slice(COMMON_CHECK_KEYWORDS);
    }
    if connection {
        all.extend_from_slice(CONNECTION_KEYWORDS);
    }
    all
}

/// The largest decimal 2.2.7's unsigned decimal reader takes (in microseconds).
const DECIMAL_MAX: u64 = u64::MAX - 1;
/// `connect_timeout`'s largest value in microseconds (4294.967295 s).
const TIMEOUT_MAX: u64 = u32::MAX as u64;

/// When a keyword adds its own line after the reader's message.
#[derive(Clone, Copy, PartialEq)]
enum Followup {
    /// After every refusal.
    Always,
    /// Only when the word was a number (2.2.7 says nothing more for `x`).
    NumbersOnly,
}

/// A decimal number of seconds read as 2.2.7 reads it, in seconds. `followup` is the line
/// keepalived adds when it refuses the value (`{}` stands for the word).
fn decimal(
    cx: &mut Cx<'_>,
    item: &Statement,
    min: u64,
    max: u64,
    followup: &str,
    when: Followup,
) -> Option<f64> {
    let text = cx.arg(item)?;
    let read = values::read_decimal_micros(text, min, max);
    for message in &read.messages {
        cx.error(&item.location, message.clone());
    }
    match read.value {
        // Words after the number: 2.2.7 checks and takes the whole part as microseconds
        // (`5x` is 5 µs); a check run every few microseconds would hammer the server, so the
        // service takes what the word meant (5 s) once 2.2.7 would have accepted it.
        Some(micros) => Some(read.meant.unwrap_or(micros) as f64 / 1e6),
        None => {
            if when == Followup::Always || !read.not_a_number {
                cx.error(&item.location, followup.replace("{}", text));
            }
            None
        }
    }
}

/// An unsigned integer read as 2.2.7 reads it; `followup` is the line keepalived adds when it
/// refuses the value (`{}` stands for the word).
fn unsigned(cx: &mut Cx<'_>, item: &Statement, min: u32, max: u32, followup: &str) -> Option<u32> {
    let text = cx.arg(item)?;
    match values::read_unsigned(text, min, max) {
        Ok(v) => Some(v),
        Err(message) => {
            cx.error(&item.location, message);
            cx.error(&item.location, followup.replace("{}", text));
            None
        }
    }
}

/// Keeps a valid setting for the checker child; an invalid one is ignored as 2.2.7 ignores it.
fn keep_if(cx: &mut Cx<'_>, other: &mut Vec<crate::model::RawSetting>, item: &Statement, ok: bool) {
    if ok {
        other.push(cx.raw(item));
    }
}

/// Reads the common timing keywords of a virtual or real server (kept raw for the checks to
/// inherit); false when `item` is none of them.
fn timing(
    cx: &mut Cx<'_>,
    other: &mut Vec<crate::model::RawSetting>,
    item: &Statement,
    owner: &str,
) -> bool {
    let vs = owner == "virtual server";
    let seconds = match item.keyword() {
        "retry" => {
            let ok = unsigned(cx, item, 1, u32::MAX, "retry value invalid - {}").is_some();
            keep_if(cx, other, item, ok);
            return true;
        }
        "delay_before_retry" => {
            let followup = if vs {
                "virtual server delay before retry '{}' invalid - ignoring".to_string()
            } else {
                format!("{owner} delay_before_retry '{{}}' invalid - ignoring")
            };
            decimal(cx, item, 0, DECIMAL_MAX, &followup, Followup::NumbersOnly)
        }
        "warmup" => {
            let followup = format!("{owner} warmup '{{}}' invalid - ignoring");
            decimal(cx, item, 0, DECIMAL_MAX, &followup, Followup::NumbersOnly)
        }
        "connect_timeout" => {
            let followup = format!("{owner} connect_timeout {{}} invalid - ignoring");
            decimal(cx, item, 1, TIMEOUT_MAX, &followup, Followup::Always)
        }
        "delay_loop" if !vs => {
            let followup = format!("{owner} delay_loop '{{}}' invalid - ignoring");
            decimal(cx, item, 1, DECIMAL_MAX, &followup, Followup::Always)
        }
        _ => return false,
    };
    // Kept as the value taken (`1x` is 1 for 2.2.7), for the checks to inherit.
    if let Some(seconds) = seconds {
        let mut raw = cx.raw(item);
        raw.args = vec![seconds.to_string()];
        other.push(raw);
    }
    true
}

/// Reads `virtual_server_group NAME { ADDR[-END] [PORT] | fwmark N [inet|inet6] … }` as
/// keepalived 2.2.7 reads it: a refused entry is named and skipped; a group left without
/// entries, or mixing IPv4, IPv6 and family-less fwmarks, is named at its `}` and removed.
pub fn virtual_server_group(cx: &mut Cx<'_>, stmt: &Statement) -> Option<VirtualServerGroup> {
    let name = cx.block_name(stmt)?;
    // Written without `{`: the reader stopped at the next line (see the tree builder).
    stmt.block.as_ref()?;
    let mut entries = Vec::new();
    let mut families = GroupFamilies::default();
    for item in cx.block(stmt) {
        if group_entry(cx, item, &name, &mut families) {
            entries.push(item.words.iter().map(|w| w.text.to_string()).collect());
        }
    }
    let problem = if entries.is_empty() {
        Some("has no entries")
    } else if families.fwmark_without_family && families.ipv4 && families.ipv6 {
        Some("cannot have IPv4, IPv6 and fwmark without family")
    } else {
        None
    };
    if let Some(problem) = problem {
        let at = closing_line(stmt);
        cx.error(
            &at,
            format!("virtual server group {name} {problem} - removing"),
        );
        return None;
    }
    Some(VirtualServerGroup {
        name,
        location: stmt.location.clone(),
        entries,
    })
}

/// The families a virtual_server_group's entries name so far.
#[derive(Default)]
struct GroupFamilies {
    ipv4: bool,
    ipv6: bool,
    fwmark_without_family: bool,
}

/// Where keepalived names a block's end: its `}` (the block's first line without one).
fn closing_line(stmt: &Statement) -> crate::diagnostic::Location {
    stmt.block
        .as_ref()
        .and_then(|b| b.close.clone())
        .unwrap_or_else(|| stmt.location.clone())
}

/// One entry of a virtual_server_group; false when 2.2.7 refuses (and names) it.
fn group_entry(
    cx: &mut Cx<'_>,
    item: &Statement,
    group: &str,
    families: &mut GroupFamilies,
) -> bool {
    if item.keyword() == "fwmark" {
        let Some(text) = cx.arg(item) else {
            return false;
        };
        if let Err(message) = values::read_unsigned(text, 0, u32::MAX) {
            cx.error(&item.location, message);
            cx.error(
                &item.location,
                format!("({group}): fwmark '{text}' must be in [0, 4294967295] - ignoring"),
            );
            return false;
        }
        match item.arg_texts().nth(1) {
            None => families.fwmark_without_family = true,
            Some("inet") => families.ipv4 = true,
            Some("inet6") => families.ipv6 = true,
            Some(family) => {
                cx.error(
                    &item.location,
                    format!("({group}): fwmark '{text}' family {family} unknown - ignoring"),
                );
                return false;
            }
        }
        return true;
    }
    let word = item.keyword();
    if word.contains('/') {
        cx.error(
            &item.location,
            format!("Address mask bits not empty - {word} - skipping"),
        );
        return false;
    }
    let port = item.arg_texts().next();
    let port_ok = port.is_none_or(|p| {
        // A port of 0 passes silently; any other is read in [1, 65535].
        values::read_unsigned(p, 0, 65535) == Ok(0)
            || values::read_unsigned(p, 1, 65535)
                .map_err(|message| cx.error(&item.location, message))
                .is_ok()
    });
    let (start, end) = match word.split_once('-') {
        Some((start, end)) => (start, Some(end)),
        None => (word, None),
    };
    let address = start.parse::<IpAddr>().ok();
    let Some(address) = address.filter(|_| port_ok) else {
        let port = port.map(|p| format!("/port/{p}")).unwrap_or_default();
        cx.error(
            &item.location,
            format!("Invalid virtual server group IP address {word} {port} - skipping"),
        );
        return false;
    };
    if let Some(end) = end
        && let Some(problem) = range_problem(address, end)
    {
        let message = match problem {
            RangeProblem::Extra(rest) => {
                format!("Virtual server group range '{word}' has extra characters at end '{rest}'")
            }
            RangeProblem::TooLarge => {
                format!("Virtual server group range '{word}' end '{end}' too large")
            }
            RangeProblem::NotGreater => format!(
                "Address range end is not greater than address range start - {word} - skipping"
            ),
        };
        cx.error(&item.location, message);
        return false;
    }
    if address.is_ipv4() {
        families.ipv4 = true;
    } else {
        families.ipv6 = true;
    }
    true
}

/// Why 2.2.7 refuses the end of an address range.
enum RangeProblem<'a> {
    /// Characters after the number (`strtoul`'s stop).
    Extra(&'a str),
    /// Above 255 (IPv4) or 0xffff (IPv6).
    TooLarge,
    /// Not above the start's last byte or group.
    NotGreater,
}

/// The end of `ADDR-END`: decimal for IPv4, hexadecimal for IPv6, read as `strtoul` reads it.
fn range_problem(start: IpAddr, end: &str) -> Option<RangeProblem<'_>> {
    let (radix, max, first) = match start {
        IpAddr::V4(a) => (10, 255, u64::from(a.octets()[3])),
        IpAddr::V6(a) => (16, 0xffff, u64::from(a.segments()[7])),
    };
    let unsigned = end.strip_prefix('+').unwrap_or(end);
    let (negative, digits_from) = match unsigned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, unsigned),
    };
    let digits = digits_from
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits_from.len());
    let rest = &digits_from[digits..];
    if digits == 0 {
        // strtoul read nothing: the whole word is left over.
        if !end.is_empty() {
            return Some(RangeProblem::Extra(end));
        }
    } else if !rest.is_empty() {
        return Some(RangeProblem::Extra(rest));
    }
    let value = u64::from_str_radix(&digits_from[..digits], radix).unwrap_or(if digits == 0 {
        0
    } else {
        u64::MAX
    });
    if negative && value != 0 || value > max {
        return Some(RangeProblem::TooLarge);
    }
    if value <= first {
        return Some(RangeProblem::NotGreater);
    }
    None
}

fn service_key(cx: &mut Cx<'_>, stmt: &Statement) -> Option<ServiceKey> {
    let args: Vec<&str> = stmt.arg_texts().collect();
    if args.is_empty() {
        // Fatal in 2.2.7 ("missing a parameter"), with no line about the address.
        cx.arg(stmt);
        return None;
    }
    let key = match args.as_slice() {
        ["group", name, ..] => Some(ServiceKey::Group(name.to_string())),
        ["fwmark", mark, ..] => {
            // 2.2.7's unsigned reader, then its own line; the service is skipped.
            match values::read_unsigned(mark, 0, u32::MAX) {
                Ok(mark) => return Some(ServiceKey::Fwmark(mark)),
                Err(message) => {
                    cx.error(&stmt.location, message);
                    cx.error(
                        &stmt.location,
                        format!(
                            "virtual server fwmark '{mark}' must be in [0, 4294967295] - ignoring"
                        ),
                    );
                    return None;
                }
            }
        }
        [addr, port, ..] => {
            // A port of 0 passes silently; any other is read in [1, 65535].
            let port = if values::read_unsigned(port, 0, 65535) == Ok(0) {
                Some(0)
            } else {
                values::read_unsigned(port, 1, 65535)
                    .map_err(|message| cx.error(&stmt.location, message))
                    .ok()
                    .and_then(|p| u16::try_from(p).ok())
            };
            match (values::parse_sockaddr_ip::<IpAddr>(addr), port) {
                (Ok(a), Some(p)) => Some(ServiceKey::Address(a, p)),
                _ => None,
            }
        }
        // An address without a port is port 0.
        [addr] => values::parse_sockaddr_ip(addr)
            .ok()
            .map(|a| ServiceKey::Address(a, 0)),
        _ => None,
    };
    if key.is_none() {
        let message = match args.as_slice() {
            [addr] => format!("Invalid virtual server IP address {addr} - skipping"),
            _ => format!(
                "Invalid virtual server IP address/port {} - skipping",
                args.iter().take(2).copied().collect::<Vec<_>>().join("/")
            ),
        };
        cx.error(&stmt.location, message);
    }
    key
}

/// Reads a virtual_server block.
/// `defined` names the track files and BFD instances defined before it (a FILE_CHECK or
/// BFD_CHECK may name only those).
pub fn virtual_server(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    defined: &Defined<'_>,
) -> Option<VirtualServer> {
    // keepalived skips the whole block of a virtual server it cannot parse.
    let key = service_key(cx, stmt)?;
    let mut vs = VirtualServer {
        key,
        location: stmt.location.clone(),
        delay_loop: 60.0,
        lb_algo: None,
        lb_kind: None,
        protocol: None,
        persistence_timeout: None,
        sorry_server: None,
        tunnel: TunnelOptions::default(),
        sorry_tunnel: None,
        quorum: 1,
        hysteresis: 0,
        inhibit_on_failure: false,
        alpha: false,
        omega: false,
        quorum_up: None,
        quorum_down: None,
        ops: false,
        real_servers: Vec::new(),
        other: Vec::new(),
    };
    // The family `persistence_granularity` gives a service whose header has none.
    let mut granularity_family: Option<bool> = None;
    let mut default_weight: Option<i32> = None;
    for item in cx.block(stmt) {
        match item.keyword() {
            "delay_loop" => {
                let followup = "virtual server delay loop '{}' invalid - ignoring";
                if let Some(v) = decimal(cx, item, 1, DECIMAL_MAX, followup, Followup::Always) {
                    vs.delay_loop = v;
                }
            }
            "lb_algo" | "lvs_sched" => match cx.arg(item) {
                Some(algo) if SCHEDULERS.contains(&algo) => vs.lb_algo = Some(algo.to_string()),
                Some(algo) => cx.error(
                    &item.location,
                    format!("Invalid lvs_scheduler '{algo}' - ignoring"),
                ),
                None => {}
            },
            "lb_kind" | "lvs_method" => {
                if let Some(method) = forwarding(cx, item, "virtual") {
                    vs.lb_kind = Some(method.kind);
                    vs.tunnel = method.tunnel.unwrap_or(vs.tunnel);
                }
            }
            "sorry_server_lvs_method" if vs.sorry_server.is_none() => cx.error(
                &item.location,
                "sorry_server forwarding used without sorry_server",
            ),
            "sorry_server_lvs_method" => {
                if let Some(method) = forwarding(cx, item, "sorry") {
                    vs.sorry_tunnel = method.tunnel.or(vs.sorry_tunnel);
                    vs.other.push(cx.raw(item));
                }
            }
            // 2.2.7 takes the protocol in any case (`tcp`), unlike lb_kind.
            "protocol" => match cx.arg(item).map(|p| (p, p.to_ascii_uppercase())) {
                Some((_, p)) if matches!(p.as_str(), "TCP" | "UDP" | "SCTP") => {
                    vs.protocol = Some(p)
                }
                Some((other, _)) => cx.error(
                    &item.location,
                    format!("Unknown protocol {other} - ignoring"),
                ),
                None => {}
            },
            "persistence_timeout" => {
                vs.persistence_timeout = match item.args().first() {
                    None => Some(6 * 60),
                    Some(_) => unsigned(cx, item, 1, 2_678_400, "persistence_timeout invalid")
                        .or(vs.persistence_timeout),
                }
            }
            // Both read their word without looking: none is fatal (2.2.7).
            "sorry_server" | "persistence_engine" if item.args().is_empty() => {
                cx.arg(item);
            }
            "sorry_server_inhibit" if vs.sorry_server.is_none() => cx.error(
                &item.location,
                "Ignoring sorry_server inhibit used before or without sorry_server",
            ),
            "virtualhost" if item.args().is_empty() => {
                cx.error(&item.location, "virtual server virtualhost missing")
            }
            "sorry_server" => {
                let args: Vec<&str> = item.arg_texts().collect();
                let address_ok = args
                    .first()
                    .is_some_and(|a| values::parse_sockaddr_ip::<IpAddr>(a).is_ok());
                // A port of 0 passes silently; any other is read in [1, 65535].
                let port_ok = address_ok
                    && args.get(1).is_none_or(|p| {
                        values::read_unsigned(p, 0, 65535) == Ok(0)
                            || values::read_unsigned(p, 1, 65535)
                                .map_err(|message| cx.error(&item.location, message))
                                .is_ok()
                    });
                if port_ok {
                    // The address as read (what follows a '/' is ignored), then the port.
                    vs.sorry_server = Some(
                        args.iter()
                            .enumerate()
                            .map(|(i, a)| match a.split_once('/') {
                                Some((address, _)) if i == 0 => address.to_string(),
                                _ => a.to_string(),
                            })
                            .collect(),
                    );
                } else {
                    let address = args.first().copied().unwrap_or_default();
                    cx.error(
                        &item.location,
                        format!("Invalid sorry server IP address {address} - skipping"),
                    );
                }
            }
            "quorum" => {
                vs.quorum = unsigned(
                    cx,
                    item,
                    1,
                    u32::MAX,
                    "Quorum {} must be in [1, 4294967295]. Setting to 1.",
                )
                .unwrap_or(1);
            }
            // The weight of the real servers that give none (1).
            "weight" => {
                let followup = "Virtual server weight {} is outside range 1-2147483647";
                if let Some(v) = unsigned(cx, item, 1, i32::MAX as u32, followup) {
                    default_weight = Some(v as i32);
                }
            }
            "hysteresis" => {
                let followup = "Hysteresis {} must be in [0, 4294967295] - ignoring";
                if let Some(v) = unsigned(cx, item, 0, u32::MAX, followup) {
                    vs.hysteresis = v;
                }
            }
            "persistence_granularity" => {
                let Some(text) = cx.arg(item) else {
                    continue;
                };
                // An IPv6 service takes a prefix length, an IPv4 one a netmask; a service
                // without a family yet (fwmark, group) reads a word with a dot as a netmask,
                // anything else as a prefix length, and takes that family.
                let ipv6 = match vs.key {
                    ServiceKey::Address(addr, _) => addr.is_ipv6(),
                    _ => stated_family(&vs)
                        .or(granularity_family)
                        .unwrap_or(!text.contains('.')),
                };
                let valid = if ipv6 {
                    cx.read_unsigned(&item.location, text, 1, 128).is_some()
                } else {
                    values::inet_aton(text).is_some()
                };
                if valid {
                    if !matches!(vs.key, ServiceKey::Address(..)) && stated_family(&vs).is_none() {
                        granularity_family.get_or_insert(ipv6);
                    }
                    vs.other.push(cx.raw(item));
                } else {
                    let family = if ipv6 { "IPv6" } else { "IPv4" };
                    cx.error(
                        &item.location,
                        format!("Invalid {family} persistence_granularity specified - {text}"),
                    );
                }
            }
            "ip_family" => match cx.arg(item) {
                Some(family @ ("inet" | "inet6")) => {
                    let conflicts = matches!(vs.key, ServiceKey::Address(addr, _)
                        if addr.is_ipv6() != (family == "inet6"));
                    if conflicts {
                        cx.error(
                            &item.location,
                            format!(
                                "Virtual server specified family {family} conflicts with \
                                 server family"
                            ),
                        );
                    } else {
                        vs.other.push(cx.raw(item));
                    }
                }
                Some(family) => {
                    cx.error(&item.location, format!("unknown address family {family}"))
                }
                None => {}
            },
            // 2.2.7 says nothing about a word after these three in a virtual server.
            "inhibit_on_failure" => vs.inhibit_on_failure = quiet_flag(item),
            "alpha" => vs.alpha = quiet_flag(item),
            "omega" => vs.omega = quiet_flag(item),
            "quorum_up" => {
                let what = format!("({}) quorum_up script", group_name(&vs.key));
                if cx.first_wins(vs.quorum_up.is_some(), item, &what) {
                    vs.quorum_up = cx.notify_command(item).map(Box::new);
                }
            }
            "quorum_down" => {
                let what = format!("({}) quorum_down script", group_name(&vs.key));
                if cx.first_wins(vs.quorum_down.is_some(), item, &what) {
                    vs.quorum_down = cx.notify_command(item).map(Box::new);
                }
            }
            // 2.2.7 takes any word after ops silently.
            "ops" => vs.ops = true,
            "hashed" | "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                if matches!(vs.lb_algo.as_deref(), Some("sh" | "mh")) {
                    vs.other.push(cx.raw(item));
                } else {
                    cx.error(
                        &item.location,
                        format!("{} only applies to sh scheduler - ignoring", item.keyword()),
                    );
                }
            }
            "real_server" => {
                let protocol = vs.protocol.as_deref();
                let owner = group_name(&vs.key);
                let Some(rs) = real_server(cx, item, defined, protocol, owner) else {
                    continue;
                };
                // The service's family: its address's, else ip_family's, else the first real
                // server's; a real server of another family is skipped at its `}`.
                let family = match vs.key {
                    ServiceKey::Address(addr, _) => Some(addr.is_ipv6()),
                    _ => stated_family(&vs)
                        .or(granularity_family)
                        .or(vs.real_servers.first().map(|r| r.address.is_ipv6())),
                };
                if family.is_some_and(|v6| v6 != rs.address.is_ipv6()) {
                    cx.error(
                        &closing_line(item),
                        format!(
                            "Address family of virtual server and real server {} don't match - \
                             skipping real server.",
                            rs.address
                        ),
                    );
                } else {
                    vs.real_servers.push(rs);
                }
            }
            _ if timing(cx, &mut vs.other, item, "virtual server") => {}
            k if VS_KEYWORDS.contains(&k) => vs.other.push(cx.raw(item)),
            _ => cx.unknown(item, VS_KEYWORDS),
        }
    }
    sorry_server_family(cx, stmt, &mut vs, granularity_family);
    if let Some(weight) = default_weight {
        for rs in vs.real_servers.iter_mut().filter(|rs| !rs.weight_given) {
            rs.weight = weight;
        }
    }
    duplicate_real_servers(cx, &mut vs);
    quorum_rules(cx, &mut vs);
    Some(vs)
}

/// At the virtual server's `}`, a sorry server (the last one named) of another family than the
/// service (its address's, else `ip_family`'s or `persistence_granularity`'s, else its real
/// servers') is dropped, as 2.2.7 does; a service without any family keeps it.
fn sorry_server_family(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    vs: &mut VirtualServer,
    granularity_family: Option<bool>,
) {
    let Some(address) = vs
        .sorry_server
        .as_ref()
        .and_then(|words| words.first())
        .and_then(|a| values::parse_sockaddr_ip::<IpAddr>(a).ok())
    else {
        return;
    };
    let family = match vs.key {
        ServiceKey::Address(addr, _) => Some(addr.is_ipv6()),
        _ => stated_family(vs)
            .or(granularity_family)
            .or(vs.real_servers.first().map(|r| r.address.is_ipv6())),
    };
    if family.is_some_and(|v6| v6 != address.is_ipv6()) {
        cx.error(
            &closing_line(stmt),
            format!(
                "Address family of virtual server and sorry server {address} don't match - \
                 skipping sorry server."
            ),
        );
        vs.sorry_server = None;
    }
}

/// The family a virtual server's `ip_family` states (true for inet6).
fn stated_family(vs: &VirtualServer) -> Option<bool> {
    vs.other
        .iter()
        .rev()
        .find(|s| s.keyword == "ip_family")
        .and_then(|s| s.args.first())
        .map(|f| f == "inet6")
}

/// Drops, silently as keepalived 2.2.7 does once the whole file is read, the virtual servers
/// naming a virtual_server_group that does not exist (or was removed), whose group holds both
/// IPv4 and IPv6 entries, or whose group's family differs from the service's (its
/// `ip_family`, else its first real server's).
pub fn drop_unresolved_groups(config: &mut crate::model::Config) {
    let groups = &config.virtual_server_groups;
    config.virtual_servers.retain(|vs| {
        let ServiceKey::Group(name) = &vs.key else {
            return true;
        };
        let Some(group) = groups.iter().find(|g| &g.name == name) else {
            return false;
        };
        let (mut ipv4, mut ipv6) = (false, false);
        for entry in &group.entries {
            let family = match entry.as_slice() {
                [mark, _, family, ..] if mark == "fwmark" => Some(family == "inet6"),
                [mark, ..] if mark == "fwmark" => None,
                [address, ..] => {
                    let start = address.split_once('-').map_or(address.as_str(), |(s, _)| s);
                    start.parse::<IpAddr>().ok().map(|a| a.is_ipv6())
                }
                [] => None,
            };
            match family {
                Some(true) => ipv6 = true,
                Some(false) => ipv4 = true,
                None => {}
            }
        }
        if ipv4 && ipv6 {
            return false;
        }
        let service = stated_family(vs).or(vs.real_servers.first().map(|r| r.address.is_ipv6()));
        match service {
            Some(v6) => !(v6 && ipv4 || !v6 && ipv6),
            None => true,
        }
    });
}

/// A real server listed twice (same address and port) in one virtual server: 2.2.7 names and
/// removes the second.
fn duplicate_real_servers(cx: &mut Cx<'_>, vs: &mut VirtualServer) {
    let mut index = 1;
    while index < vs.real_servers.len() {
        let (address, port) = (vs.real_servers[index].address, vs.real_servers[index].port);
        let earlier = vs.real_servers[..index]
            .iter()
            .any(|rs| rs.address == address && rs.port == port);
        if earlier {
            let name = service_name(vs);
            let proto = name.split(':').rev().nth(1).unwrap_or("tcp").to_string();
            cx.unlocated_checker(
                Severity::Warning,
                format!(
                    "VS {name}: real server [{address}]:{proto}:{port} is duplicated - removing \
                     second rs"
                ),
            );
            vs.real_servers.remove(index);
        } else {
            index += 1;
        }
    }
}

/// 2.2.7's checks of a virtual server's quorum against its real servers once it is read: a
/// quorum above their total weight is lowered to it, and a hysteresis not below the quorum
/// becomes the quorum less one (wrapping, as keepalived's unsigned arithmetic does, to
/// 4294967295 for a quorum of 0).
fn quorum_rules(cx: &mut Cx<'_>, vs: &mut VirtualServer) {
    if vs.real_servers.is_empty() {
        return;
    }
    let name = service_name(vs);
    let total: u64 = vs
        .real_servers
        .iter()
        .map(|rs| u64::from(rs.weight.max(0).unsigned_abs()))
        .sum();
    if u64::from(vs.quorum) > total {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        cx.unlocated_checker(
            Severity::Warning,
            format!(
                "Warning - quorum {} for {name} exceeds total weight of real servers {total}, \
                 reducing quorum to {total}",
                vs.quorum
            ),
        );
        vs.quorum = total;
    }
    if vs.hysteresis >= vs.quorum {
        let reset = vs.quorum.wrapping_sub(1);
        cx.unlocated_checker(
            Severity::Warning,
            format!(
                "Virtual server {name}: hysteresis {} >= quorum {}; setting hysteresis to {reset}",
                vs.hysteresis, vs.quorum
            ),
        );
        vs.hysteresis = reset;
    }
}

/// A forwarding method line (`lb_kind`, a real server's `lvs_method`,
/// `sorry_server_lvs_method`): `NAT`, `DR` or `TUN`, then the tunnel options `type
/// ipip|gue|gre`, `port N` (gue), `nocsum|csum|remcsum`, read and checked as 2.2.7 reads them
/// for any method (`server` names whose: virtual, real or sorry). None for an unknown method;
/// the options are None when refused (the method stands, the previous options too).
fn forwarding(cx: &mut Cx<'_>, item: &Statement, server: &str) -> Option<Forwarding> {
    let kind = match cx.arg(item)? {
        kind @ ("NAT" | "DR" | "TUN") => kind.to_string(),
        kind => {
            cx.error(
                &item.location,
                format!("PARSER : unknown [{kind}] routing method for {server} server."),
            );
            return None;
        }
    };
    let tunnel = tunnel_options(cx, item, server);
    Some(Forwarding { kind, tunnel })
}

/// The tunnel options after a forwarding method (2.2.7's rules and lines).
fn tunnel_options(cx: &mut Cx<'_>, item: &Statement, server: &str) -> Option<TunnelOptions> {
    let at = &item.location;
    let mut options = TunnelOptions::default();
    let mut words = item.arg_texts().skip(1);
    while let Some(word) = words.next() {
        match word {
            "type" => {
                let Some(kind) = words.next() else {
                    cx.error(at, format!("Missing tunnel type for {server} server."));
                    return None;
                };
                options.kind = match kind {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => {
                        let line = format!("Unknown tunnel type {kind} for {server} server.");
                        cx.error(at, line);
                        return None;
                    }
                };
            }
            "port" => {
                let Some(port) = words.next() else {
                    cx.error(at, format!("Missing port for {server} server gue tunnel."));
                    return None;
                };
                match cx.read_unsigned(at, port, 1, 65535) {
                    // In range: fits u16.
                    Some(p) => options.port = p as u16,
                    None => {
                        let line = format!("Invalid gue tunnel port {port} for {server} server.");
                        cx.error(at, line);
                        return None;
                    }
                }
            }
            "nocsum" => options.flags = 0,
            "csum" => options.flags = 1,
            "remcsum" => options.flags = 2,
            other => {
                let line = format!("Invalid tunnel option {other} for {server} server.");
                cx.error(at, line);
                return None;
            }
        }
    }
    if (options.kind == 1) != (options.port != 0) {
        cx.error(at, "gue tunnels require port, otherwise cannot have port.");
        return None;
    }
    if options.kind == 0 && options.flags != 0 {
        cx.error(at, "ipip tunnels do not support checksum option.");
        return None;
    }
    if options.kind == 2 && options.flags == 2 {
        cx.error(at, "gre tunnels do not support remote checksum option.");
        return None;
    }
    Some(options)
}

/// How 2.2.7 names a virtual server in its "already specified" lines: its group's name, or
/// `(null)` (the name it prints for a service without a group).
fn group_name(key: &ServiceKey) -> &str {
    match key {
        ServiceKey::Group(group) => group,
        _ => "(null)",
    }
}

/// The virtual server as 2.2.7 names it in these lines: `[ADDR]:PROTO:PORT`, `FWM N` or
/// `[GROUP]:0`.
fn service_name(vs: &VirtualServer) -> String {
    match &vs.key {
        ServiceKey::Address(addr, port) => {
            let proto = match vs.protocol.as_deref() {
                Some("UDP") => "udp",
                Some("SCTP") => "sctp",
                _ => "tcp",
            };
            format!("[{addr}]:{proto}:{port}")
        }
        ServiceKey::Fwmark(mark) => format!("FWM {mark}"),
        ServiceKey::Group(name) => format!("[{name}]:0"),
    }
}

/// A `real_server` block; `owner` names its virtual server in the lines that do (see
/// [`group_name`]).
fn real_server(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    defined: &Defined<'_>,
    protocol: Option<&str>,
    owner: &str,
) -> Option<RealServer> {
    let args: Vec<&str> = stmt.arg_texts().collect();
    let address = args
        .first()
        .and_then(|a| values::parse_sockaddr_ip::<IpAddr>(a).ok());
    // As a virtual server's: 0 passes silently, any other is read in [1, 65535] with the
    // number reader's line.
    let port = match args.get(1) {
        None => Some(0),
        Some(p) if values::read_unsigned(p, 0, 65535) == Ok(0) => Some(0),
        Some(p) => values::read_unsigned(p, 1, 65535)
            .map_err(|message| cx.error(&stmt.location, message))
            .ok()
            .and_then(|p| u16::try_from(p).ok()),
    };
    let (Some(address), Some(port)) = (address, port) else {
        cx.error(
            &stmt.location,
            format!(
                "Invalid real server ip address/port {}/{} - skipping",
                args.first().copied().unwrap_or_default(),
                args.get(1).copied().unwrap_or("(null)")
            ),
        );
        return None;
    };
    let mut rs = RealServer {
        address,
        port,
        location: stmt.location.clone(),
        weight: 1,
        weight_given: false,
        lvs_method: None,
        inhibit_on_failure: None,
        notify_up: None,
        notify_down: None,
        checkers: Vec::new(),
        other: Vec::new(),
    };
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        match keyword {
            "weight" => {
                let followup = "Real server weight {} is outside range 0-2147483647";
                if let Some(v) = unsigned(cx, item, 0, i32::MAX as u32, followup) {
                    rs.weight = v as i32;
                    rs.weight_given = true;
                }
            }
            "inhibit_on_failure" => rs.inhibit_on_failure = Some(param_flag(cx, item)),
            "virtualhost" if item.args().is_empty() => {
                cx.error(&item.location, "real server virtualhost missing")
            }
            "alpha" => {
                param_flag(cx, item);
                rs.other.push(cx.raw(item));
            }
            "lvs_method" => {
                if let Some(method) = forwarding(cx, item, "real") {
                    let tunnel = method
                        .tunnel
                        .or(rs.lvs_method.as_ref().and_then(|m| m.tunnel));
                    rs.lvs_method = Some(Box::new(Forwarding { tunnel, ..method }));
                }
            }
            "notify_up" => {
                let what = format!("({owner}) notify_up script");
                if cx.first_wins(rs.notify_up.is_some(), item, &what) {
                    rs.notify_up = cx.notify_command(item).map(Box::new);
                }
            }
            "notify_down" => {
                let what = format!("({owner}) notify_down script");
                if cx.first_wins(rs.notify_down.is_some(), item, &what) {
                    rs.notify_down = cx.notify_command(item).map(Box::new);
                }
            }
            "uthreshold" | "lthreshold" => {
                let followup = format!("Invalid real_server {keyword} '{{}}' - ignoring");
                let ok = unsigned(cx, item, 0, u32::MAX, &followup).is_some();
                keep_if(cx, &mut rs.other, item, ok);
            }
            _ if timing(cx, &mut rs.other, item, "real server") => {}
            _ => match checker_kind(keyword) {
                Some(CheckerKind::File) => {
                    rs.checkers
                        .extend(file_check(cx, item, defined.track_files, rs.address))
                }
                Some(kind @ (CheckerKind::Http | CheckerKind::Ssl)) => {
                    let check = checker(cx, item, kind, rs.address, false);
                    if check.urls.is_empty() {
                        // 2.2.7 names it at the `}` (and then crashes under `-t`).
                        let at = item
                            .block
                            .as_ref()
                            .and_then(|b| b.close.clone())
                            .unwrap_or_else(|| item.location.clone());
                        cx.error(&at, "HTTP/SSL_GET checker has no urls specified - ignoring");
                    } else {
                        rs.checkers.push(check);
                    }
                }
                Some(CheckerKind::Bfd) => {
                    let name = format!(
                        "[{}]:{}:{}",
                        rs.address,
                        protocol.map_or("none".to_string(), str::to_ascii_lowercase),
                        rs.port
                    );
                    rs.checkers.extend(bfd_check(
                        cx,
                        item,
                        defined.bfd_instances,
                        &name,
                        rs.address,
                    ))
                }
                Some(CheckerKind::Misc) => {
                    let check = checker(cx, item, CheckerKind::Misc, rs.address, false);
                    if check.misc_path.is_none() {
                        cx.error(
                            &closing_line(item),
                            "No script path has been specified for MISC_CHECKER - skipping",
                        );
                    } else {
                        rs.checkers.push(check);
                    }
                }
                Some(kind) => rs.checkers.push(checker(cx, item, kind, rs.address, false)),
                None if RS_KEYWORDS.contains(&keyword) => rs.other.push(cx.raw(item)),
                None => cx.unknown(item, RS_KEYWORDS),
            },
        }
    }
    Some(rs)
}

fn checker_kind(keyword: &str) -> Option<CheckerKind> {
    Some(match keyword {
        "TCP_CHECK" => CheckerKind::Tcp,
        "HTTP_GET" => CheckerKind::Http,
        "SSL_GET" => CheckerKind::Ssl,
        "MISC_CHECK" => CheckerKind::Misc,
        "SMTP_CHECK" => CheckerKind::Smtp,
        "DNS_CHECK" => CheckerKind::Dns,
        "UDP_CHECK" => CheckerKind::Udp,
        "PING_CHECK" => CheckerKind::Ping,
        "FILE_CHECK" => CheckerKind::File,
        "BFD_CHECK" => CheckerKind::Bfd,
        _ => return None,
    })
}

/// What a check may refer to: the track files and BFD instances defined before its virtual
/// server.
pub struct Defined<'a> {
    /// Names of the `vrrp_track_file` blocks read so far.
    pub track_files: &'a [&'a str],
    /// Names of the `bfd_instance` blocks read so far.
    pub bfd_instances: &'a [&'a str],
}

/// A BFD_CHECK as 2.2.7 reads it: `name` must name a bfd_instance defined before; without one
/// the check is skipped (named at its `}`). `service` is `[ADDR]:PROTO:PORT` of the real server.
fn bfd_check(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    bfd_instances: &[&str],
    service: &str,
    server: IpAddr,
) -> Option<Checker> {
    // (a name was given, it names a known instance)
    let mut named = (false, false);
    for item in cx.block(stmt) {
        if item.keyword() == "name"
            && let Some(name) = item.arg_texts().next()
            && !named.1
        {
            named.0 = true;
            if bfd_instances.contains(&name) {
                named.1 = true;
            } else {
                cx.error(
                    &item.location,
                    format!("({service}) BFD_CHECK - BFD {name} not configured"),
                );
            }
        }
    }
    let check = checker(cx, stmt, CheckerKind::Bfd, server, false);
    if named.1 {
        return Some(check);
    }
    if named.0 {
        // Named after an unknown instance: dropped without a further line.
        return None;
    }
    cx.error(
        &closing_line(stmt),
        format!("({service}) No name has been specified for BFD_CHECKER - skipping"),
    );
    None
}

/// A FILE_CHECK as 2.2.7 reads it: `track_file` must name a track file defined before, and
/// `weight` is a signed number; without a track file the check is ignored (named at its `}`).
fn file_check(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    track_files: &[&str],
    server: IpAddr,
) -> Option<Checker> {
    let mut found = false;
    for item in cx.block(stmt) {
        match item.keyword() {
            "track_file" => {
                if let Some(name) = cx.arg(item) {
                    if track_files.contains(&name) {
                        found = true;
                    } else {
                        cx.error(&item.location, format!("track_file {name} not found"));
                    }
                }
            }
            "weight" => {
                let mut words = item.arg_texts();
                let Some(text) = words.next() else {
                    cx.error(&item.location, "track file weight missing");
                    continue;
                };
                const MAX: i64 = 2_147_483_647;
                if cx.read_int(&item.location, text, -MAX, MAX).is_none() {
                    cx.error(
                        &item.location,
                        "weight for track file must be in [-2147483647..2147483647] \
                         inclusive. Ignoring...",
                    );
                } else if let Some(option) = words.next().filter(|w| *w != "reverse") {
                    cx.error(
                        &item.location,
                        format!("unknown track file weight option {option} - ignoring"),
                    );
                }
            }
            _ => {}
        }
    }
    let check = checker(cx, stmt, CheckerKind::File, server, false);
    if found {
        return Some(check);
    }
    let at = stmt
        .block
        .as_ref()
        .and_then(|b| b.close.clone())
        .unwrap_or_else(|| stmt.location.clone());
    cx.error(&at, "FILE_CHECK has no track_file specified - ignoring");
    None
}

/// Reads one check block (or SMTP_CHECK's `host` block, `host` true) of a real server at
/// `server`: each keyword as keepalived 2.2.7 reads it for that kind of check.
fn checker(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    kind: CheckerKind,
    server: IpAddr,
    host: bool,
) -> Checker {
    let mut check = Checker {
        kind,
        location: stmt.location.clone(),
        close: stmt.block.as_ref().and_then(|b| b.close.clone()),
        connect_timeout: None,
        connect_port: None,
        connect_ip: None,
        delay_loop: None,
        misc_timeout: None,
        misc_dynamic: false,
        retry: None,
        delay_before_retry: None,
        urls: Vec::new(),
        misc_path: None,
        hosts: Vec::new(),
        other: Vec::new(),
    };
    let mut bindto: Option<IpAddr> = None;
    let mut dns_name = false;
    let mut bind_if = false;
    let mut reply_lengths: [Option<u32>; 2] = [None, None];
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        let known = if host {
            COMMON_CHECK_KEYWORDS.contains(&keyword) || CONNECTION_KEYWORDS.contains(&keyword)
        } else {
            check_knows(kind, keyword)
        };
        if !known {
            if host {
                cx.unknown(item, &[COMMON_CHECK_KEYWORDS, CONNECTION_KEYWORDS].concat());
            } else {
                cx.unknown(item, &check_keywords(kind));
            }
            continue;
        }
        match keyword {
            // SMTP_CHECK's `host` block: connection options of one more server to check.
            "host" => {
                if item.block.is_some() {
                    check.hosts.push(checker(cx, item, kind, server, true))
                }
            }
            "connect_timeout" => {
                let followup = "connect_timeout {} invalid - ignoring";
                check.connect_timeout =
                    decimal(cx, item, 1, TIMEOUT_MAX, followup, Followup::Always)
            }
            "connect_port" => {
                let followup = "Invalid checker connect_port '{}'";
                check.connect_port = unsigned(cx, item, 1, 65535, followup).map(|v| v as u16)
            }
            "bind_port" => {
                let ok = unsigned(cx, item, 1, 65535, "Invalid checker bind_port '{}'").is_some();
                keep_if(cx, &mut check.other, item, ok);
            }
            "bind_if" => {
                if cx.arg(item).is_some() {
                    bind_if = true;
                    check.other.push(cx.raw(item));
                }
            }
            "fwmark" => {
                let followup = "Invalid fwmark connection value '{}'";
                let ok = unsigned(cx, item, 0, u32::MAX, followup).is_some();
                keep_if(cx, &mut check.other, item, ok);
            }
            "warmup" => {
                let followup = "Invalid warmup connection value '{}'";
                // Kept as the value taken (`1x` is 1 for 2.2.7).
                if let Some(seconds) =
                    decimal(cx, item, 0, DECIMAL_MAX, followup, Followup::NumbersOnly)
                {
                    let mut raw = cx.raw(item);
                    raw.args = vec![seconds.to_string()];
                    check.other.push(raw);
                }
            }
            "connect_ip" => match cx
                .arg(item)
                .map(|a| (a, values::parse_sockaddr_ip::<IpAddr>(a)))
            {
                Some((text, Ok(ip))) if bindto.is_some_and(|b| b.is_ipv6() != ip.is_ipv6()) => cx
                    .error(
                        &item.location,
                        format!(
                            "connect_ip address {text} does not match address family of \
                             bindto - skipping"
                        ),
                    ),
                Some((_, Ok(ip))) => check.connect_ip = Some(ip),
                Some((text, Err(_))) => cx.error(
                    &item.location,
                    format!("Invalid connect_ip address {text} - ignoring"),
                ),
                None => {}
            },
            "bindto" => match cx
                .arg(item)
                .map(|a| (a, values::parse_sockaddr_ip::<IpAddr>(a)))
            {
                Some((text, Ok(ip))) => {
                    let target = check.connect_ip.unwrap_or(server);
                    if target.is_ipv6() != ip.is_ipv6() {
                        cx.error(
                            &item.location,
                            format!(
                                "bindto address {text} does not match address family of \
                                 connect_ip - skipping"
                            ),
                        );
                    } else {
                        bindto = Some(ip);
                        check.other.push(cx.raw(item));
                    }
                }
                Some((text, Err(_))) => cx.error(
                    &item.location,
                    format!("Invalid bindto address {text} - ignoring"),
                ),
                None => {}
            },
            "delay_loop" => {
                let followup = "delay_loop '{}' is invalid - ignoring";
                check.delay_loop = decimal(cx, item, 1, DECIMAL_MAX, followup, Followup::Always)
            }
            // Whole seconds; 0 leaves the default (the check's delay_loop).
            "misc_timeout" => {
                let followup = "Invalid misc_timeout value '{}'";
                check.misc_timeout = unsigned(cx, item, 0, u32::MAX, followup)
                    .filter(|&v| v > 0)
                    .map(f64::from)
            }
            "min_reply_length" | "max_reply_length" => {
                let which = &keyword[..3];
                let followup =
                    format!("UDP_CHECK {which} length {{}} not valid - must be between 0 & 65535");
                let value = unsigned(cx, item, 0, 65535, &followup);
                reply_lengths[usize::from(which == "max")] = value;
                keep_if(cx, &mut check.other, item, value.is_some());
            }
            "payload" | "require_reply" => {
                let what = if keyword == "payload" {
                    "payload"
                } else {
                    "reply"
                };
                match item.arg_texts().next() {
                    None if keyword == "payload" => {
                        cx.error(&item.location, "UDP_CHECK payload requires a payload")
                    }
                    None => {}
                    Some(hex) if hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                        check.other.push(cx.raw(item))
                    }
                    Some(_) => cx.error(
                        &item.location,
                        format!("Invalid hex string for UDP_CHECK {what}"),
                    ),
                }
            }
            "type" => match cx.arg(item) {
                Some(name)
                    if ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"]
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(name)) =>
                {
                    check.other.push(cx.raw(item))
                }
                Some(name) => cx.error(
                    &item.location,
                    format!("Unknown DNS check type {name} - ignoring"),
                ),
                None => {}
            },
            "name" if kind == CheckerKind::Dns => {
                if cx.arg(item).is_some() {
                    if dns_name {
                        cx.error(
                            &item.location,
                            "DNS_CHECK name already specified - ignoring",
                        );
                    } else {
                        dns_name = true;
                        check.other.push(cx.raw(item));
                    }
                }
            }
            "helo_name" => match item.arg_texts().next() {
                Some(_) => check.other.push(cx.raw(item)),
                None => cx.error(&item.location, "SMTP_CHECK helo name missing"),
            },
            "virtualhost" => match item.arg_texts().next() {
                Some(_) => check.other.push(cx.raw(item)),
                None => cx.error(&item.location, "HTTP_GET virtualhost name missing"),
            },
            // 2.2.7 takes any word after misc_dynamic silently.
            "misc_dynamic" => check.misc_dynamic = quiet_flag(item),
            "http_protocol" => match item.arg_texts().next() {
                Some("1.0" | "1.1" | "1.0C" | "1.0c") => check.other.push(cx.raw(item)),
                Some(version) => cx.error(
                    &item.location,
                    format!("Invalid http_protocol version {version}"),
                ),
                None => cx.error(&item.location, "Missing http_protocol version"),
            },
            "enable_sni" => {
                param_flag(cx, item);
                check.other.push(cx.raw(item));
            }
            "retry" => {
                let followup = "Invalid retry connection value '{}'";
                check.retry = unsigned(cx, item, 0, u32::MAX, followup)
            }
            "nb_get_retry" => {
                cx.error(
                    &item.location,
                    "nb_get_retry is deprecated - please use 'retry'",
                );
                let followup = "Invalid nb_get_retry value '{}'";
                check.retry = unsigned(cx, item, 0, u32::MAX, followup).or(check.retry)
            }
            "delay_before_retry" => {
                let followup = "Invalid delay_before_retry connection value '{}'";
                check.delay_before_retry =
                    decimal(cx, item, 0, DECIMAL_MAX, followup, Followup::NumbersOnly)
            }
            "url" if item.block.is_none() => {
                // 2.2.7 looks for the block on the next line and names the url there.
                let items = cx.block(stmt);
                let next = items
                    .iter()
                    .position(|i| std::ptr::eq(i, item))
                    .and_then(|at| items.get(at + 1))
                    .map(|i| i.location.clone())
                    .unwrap_or_else(|| closing_line(stmt));
                cx.error(&next, "HTTP/SSL_GET checker url has no path - ignoring");
            }
            "url" => check.urls.extend(url(cx, item)),
            // A misc_path without a script is ignored silently.
            "misc_path" => {
                // Split from the line itself: a quote never closed leaves no word but is
                // still named (`String '…': missing terminating "`).
                if !item.args().is_empty() || item.raw.is_some() {
                    check.misc_path = cx.command(item)
                }
            }
            "user" if item.args().is_empty() => {
                let script = check
                    .misc_path
                    .as_ref()
                    .map(|_| {
                        let path = stmt
                            .block
                            .as_ref()
                            .and_then(|b| {
                                b.items.iter().rev().find(|i| {
                                    i.keyword() == "misc_path"
                                        && i.location.line < item.location.line
                                        && !i.args().is_empty()
                                })
                            })
                            .map(|i| i.arg_texts().collect::<Vec<_>>().join(" "))
                            .unwrap_or_default();
                        format!("'{path}'")
                    })
                    .unwrap_or_default();
                cx.error(
                    &item.location,
                    format!("No user specified for misc checker script {script}"),
                );
            }
            // 2.2.7 drops a MISC_CHECK whose user or group does not exist on the host
            // (the checker child resolves them again and drops it too).
            "user" if !misc_user_exists(cx, item) => {
                let mut words = item.arg_texts();
                let run_as = crate::model::RunAs {
                    user: words.next().unwrap_or_default().to_string(),
                    group: words.next().map(str::to_string),
                };
                if let Some(line) = crate::script_checks::missing_id_line(&run_as, cx.host) {
                    cx.log_checker(&item.location, line);
                }
                let script = check
                    .misc_path
                    .as_ref()
                    .map(|c| {
                        let words: Vec<String> = c.argv.iter().map(|a| format!("'{a}'")).collect();
                        words.join(" ")
                    })
                    .unwrap_or_default();
                cx.error(
                    &item.location,
                    format!("Failed to set uid/gid for misc checker script {script} - removing"),
                );
                check.other.push(cx.raw(item));
            }
            "alpha" | "fast_recovery" | "log_all_failures" => {
                param_flag(cx, item);
                check.other.push(cx.raw(item));
            }
            _ => check.other.push(cx.raw(item)),
        }
    }
    let target = check.connect_ip.unwrap_or(server);
    let connects = host || own_keywords(kind).2;
    if connects
        && !bind_if
        && let IpAddr::V6(v6) = target
        && v6.is_unicast_link_local()
    {
        cx.error(
            &closing_line(stmt),
            format!("Checker link local address {target} requires a bind_if"),
        );
    }
    if let [Some(min), Some(max)] = reply_lengths
        && min > max
    {
        cx.error(
            &closing_line(stmt),
            format!("UDP_CHECK min_reply length {min} > max_reply_length {max} - will always fail"),
        );
    }
    check
}

/// Whether a MISC_CHECK's `user NAME [GROUP]` names a user (and group) of this host.
fn misc_user_exists(cx: &Cx<'_>, item: &Statement) -> bool {
    let mut words = item.arg_texts();
    let user = words
        .next()
        .is_some_and(|name| cx.host.user(name).is_some());
    user && words
        .next()
        .is_none_or(|group| cx.host.group(group).is_some())
}

/// A virtual server's flag: on, whatever follows (`false`/`off`/`no` switch it off).
fn quiet_flag(stmt: &Statement) -> bool {
    !matches!(stmt.arg_texts().next(), Some("false" | "off" | "no"))
}

/// A real server's or check's flag: 2.2.7 names a word it does not know as `Invalid KEYWORD
/// parameter X` (and leaves the flag on).
fn param_flag(cx: &mut Cx<'_>, stmt: &Statement) -> bool {
    match stmt.arg_texts().next() {
        None | Some("true" | "on" | "yes") => true,
        Some("false" | "off" | "no") => false,
        Some(other) => {
            cx.error(
                &stmt.location,
                format!("Invalid {} parameter {other}", stmt.keyword()),
            );
            true
        }
    }
}

/// The keywords of a `url` block.
const URL_KEYWORDS: &[&str] = &[
    "path",
    "digest",
    "status_code",
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_stack",
    "regex_min_offset",
    "regex_max_offset",
];

/// A `url` block as keepalived 2.2.7 reads it; `None` (named at its `}`) without a path.
fn url(cx: &mut Cx<'_>, stmt: &Statement) -> Option<Url> {
    let mut url = Url::default();
    for item in cx.block(stmt) {
        match item.keyword() {
            "path" => {
                if let Some(path) = cx.arg(item) {
                    url.path = Some(path.to_string());
                }
            }
            "digest" => {
                let Some(digest) = cx.arg(item) else {
                    continue;
                };
                if url.digest.is_some() {
                    cx.error(&item.location, format!("Digest '{digest}' is a duplicate"));
                } else if digest.len() != 32 {
                    cx.error(
                        &item.location,
                        format!(
                            "digest '{digest}' character length should be 32 rather than {}",
                            digest.len()
                        ),
                    );
                } else if let Some(pair) = (0..16).rev().find(|i| {
                    !digest.as_bytes()[2 * i..2 * i + 2]
                        .iter()
                        .all(u8::is_ascii_hexdigit)
                }) {
                    // 2.2.7 reads the digest's hex pairs from the last one.
                    cx.error(
                        &item.location,
                        format!(
                            "Unable to interpret hex digit in '{digest}' at offset {}/{}",
                            2 * pair,
                            2 * pair + 1
                        ),
                    );
                } else {
                    url.digest = Some(digest.to_string());
                }
            }
            "status_code" => {
                for code in item.arg_texts() {
                    let read = |c: &str| c.parse::<u16>().ok().filter(|n| (100..600).contains(n));
                    let valid = match code.split_once('-') {
                        Some((low, high)) => {
                            matches!((read(low), read(high)), (Some(l), Some(h)) if l <= h)
                        }
                        None => read(code).is_some(),
                    };
                    if valid {
                        url.status_code.push(code.to_string());
                    } else {
                        cx.error(
                            &item.location,
                            format!("Invalid HTTP_GET status code '{code}'"),
                        );
                    }
                }
            }
            "virtualhost" => match item.arg_texts().next() {
                Some(host) => url.virtualhost = Some(host.to_string()),
                None => cx.error(&item.location, "Missing HTTP_GET virtualhost name"),
            },
            // 2.2.7 says nothing about these under -t (the regex is compiled by the checker).
            "regex" | "regex_no_match" | "regex_options" | "regex_stack" | "regex_min_offset"
            | "regex_max_offset" => url.other.push(cx.raw(item)),
            _ => cx.unknown(item, URL_KEYWORDS),
        }
    }
    if url.path.is_none() {
        cx.error(
            &closing_line(stmt),
            "HTTP/SSL_GET checker url has no path - ignoring",
        );
        return None;
    }
    Some(url)
}
