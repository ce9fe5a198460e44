//! Value rules of the global_defs keywords keepalived 2.2.7 accepts but the model does not give
//! a meaning (LVS, SNMP, D-Bus, namespaces, real-time scheduling, netlink buffers, nftables,
//! start/shutdown scripts, reload options): each keyword's ranges and messages, learnt by
//! running 2.2.7 with good and bad values (fixtures/corpus/gen-global-*).
//!
//! keepalived reports a bad number twice on the line: once from its number reader
//! (`invalid number 'x'`, `number 'N' outside range [A, B]`, `negative number 'N'`) and once
//! from the keyword (`Invalid vrrp real-time limit - x`); both are reproduced.

use super::Cx;
use crate::tree::Statement;

/// How a keyword's value is checked.
#[derive(Clone, Copy)]
enum Rule {
    /// Accepted with any value or none.
    Any,
    /// A value is required; `message` when it is missing (an ordinary error).
    Required(&'static str),
    /// A value is required; missing, it is keepalived's fatal "missing a parameter" (exit 2).
    Syntax,
    /// A boolean or nothing; a bad value gives `message` (`{v}` is the value).
    Flag(&'static str),
    /// An integer in `min..=max`; `bad` (with `{v}`) follows the number reader's message;
    /// `missing` when there is no value (`None`: no value is fine).
    Int {
        min: i64,
        max: i64,
        bad: &'static str,
        missing: Option<&'static str>,
    },
    /// An unsigned number up to `max` (2.2.7's unsigned reader: `negative number`, `outside
    /// range`), then `bad`.
    Unsigned {
        max: u32,
        bad: &'static str,
        missing: Option<&'static str>,
    },
    /// A non-negative decimal number of seconds; `bad` with `{v}`.
    Delay(&'static str),
    /// A process's nice value, -20..=19.
    Nice(&'static str),
    /// A process's real-time priority, 1..=99.
    RtPriority(&'static str),
    /// A process's real-time limit, 1..=4294967295.
    RtLimit(&'static str),
    /// CPU numbers for a process's affinity.
    CpuAffinity(&'static str),
    /// Checked by a function of its own.
    Custom(fn(&mut Cx<'_>, &Statement)),
}

/// The rule for `keyword`, if keepalived 2.2.7 accepts it in global_defs.
fn rule(keyword: &str) -> Option<Rule> {
    use Rule::*;
    Some(match keyword {
        "smtp_helo_name" | "no_email_faults" | "smtp_alert_vrrp" | "smtp_alert_checker" => Any,
        "checker_log_all_failures" => Flag("Invalid value for checker_log_all_failures specified"),
        "startup_script" => Required("startup script missing"),
        "shutdown_script" => Required("shutdown script missing"),
        "startup_script_timeout" | "shutdown_script_timeout" => Int {
            min: 1,
            max: 1000,
            bad: "{k} '{v}' must be in [1, 1000] - ignoring",
            missing: None,
        },
        "min_auto_priority_delay" => Int {
            min: 1,
            max: 10_000_000,
            bad: "{k} '{v}' must be in [1, 10000000] - ignoring",
            missing: None,
        },
        "include_check" => Custom(include_check),
        "disable_local_igmp" | "vmac_prefix" | "vmac_addr_prefix" => Any,
        "lvs_flush" | "lvs_flush_onstop" => Any,
        "lvs_flush_on_stop" => Custom(lvs_flush_on_stop),
        "lvs_timeouts" => Custom(lvs_timeouts),
        "lvs_sync_daemon" => Custom(lvs_sync_daemon),
        "lvs_notify_fifo"
        | "vrrp_notify_fifo_script"
        | "lvs_notify_fifo_script"
        | "notify_fifo"
        | "notify_fifo_script" => Any,
        // Seconds, up to UINT_MAX / TIMER_HZ as 2.2.7 reads them.
        "vrrp_garp_lower_prio_delay" => Unsigned {
            max: 4294,
            bad: "{k} '{v}' invalid - ignoring",
            missing: None,
        },
        "vrrp_garp_lower_prio_repeat" => Unsigned {
            max: i32::MAX as u32,
            bad: "Invalid {k} '{v}'",
            missing: None,
        },
        "vrrp_down_timer_adverts" => Int {
            min: 1,
            max: 100,
            bad: "Invalid vrrp_down_timer_adverts [1:100] '{v}'",
            missing: None,
        },
        "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => Custom(garp_extra_if),
        "vrrp_lower_prio_no_advert" | "vrrp_higher_prio_send_advert" => Any,
        "vrrp_iptables" => Custom(iptables),
        "nftables" | "nftables_ifindex" | "nftables_counters" | "nftables_ipvs" => Any,
        "nftables_priority" | "nftables_ipvs_priority" => Int {
            min: i64::from(i32::MIN),
            max: i64::from(i32::MAX),
            bad: "invalid nftables chain priority '{v}'",
            missing: None,
        },
        "nftables_ipvs_start_fwmark" => Any,
        "vrrp_rt_priority" => RtPriority("vrrp"),
        "checker_rt_priority" => RtPriority("checker"),
        "bfd_rt_priority" => RtPriority("bfd"),
        "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => RtLimit("vrrp"),
        "checker_rlimit_rttime" | "checker_rlimit_rtime" => RtLimit("checker"),
        "bfd_rlimit_rttime" | "bfd_rlimit_rtime" => RtLimit("bfd"),
        "vrrp_cpu_affinity" => CpuAffinity("vrrp"),
        "checker_cpu_affinity" => CpuAffinity("checker"),
        "bfd_cpu_affinity" => CpuAffinity("bfd"),
        "checker_priority" => Nice("checker"),
        "bfd_priority" => Nice("bfd"),
        "checker_no_swap" | "bfd_no_swap" => Any,
        "vrrp_notify_priority_changes"
        | "vrrp_netlink_cmd_rcv_bufs_force"
        | "vrrp_netlink_monitor_rcv_bufs_force"
        | "lvs_netlink_cmd_rcv_bufs_force"
        | "lvs_netlink_monitor_rcv_bufs_force"
        | "process_monitor_rcv_bufs_force" => Flag("Invalid value '{v}' for global {k} specified"),
        "vrrp_netlink_cmd_rcv_bufs"
        | "vrrp_netlink_monitor_rcv_bufs"
        | "lvs_netlink_cmd_rcv_bufs"
        | "lvs_netlink_monitor_rcv_bufs"
        | "process_monitor_rcv_bufs" => Int {
            min: 0,
            max: i64::from(u32::MAX),
            bad: "{k} size ({v}) invalid",
            missing: Some("{k} size missing"),
        },
        "snmp_socket" => Required("SNMP error : snmp socket name missing"),
        "enable_traps"
        | "enable_snmp_vrrp"
        | "enable_snmp_keepalived"
        | "enable_snmp_rfc"
        | "enable_snmp_rfcv2"
        | "enable_snmp_rfcv3"
        | "enable_snmp_checker"
        | "enable_dbus" => Any,
        "dbus_service_name" => Required("dbus_service_name missing - ignoring"),
        "rs_init_notifies" | "no_checker_emails" => Any,
        // vrrp_rx_bufs_policy is read by global.rs: it needs what earlier blocks set.
        "vrrp_rx_bufs_policy" => Any,
        "vrrp_rx_bufs_multiplier" => Custom(rx_bufs_multiplier),
        "vrrp_startup_delay" => Delay("{k} '{v}' is invalid"),
        "random_seed" => Int {
            min: 0,
            max: i64::from(u32::MAX),
            bad: "random_seed {v} invalid",
            missing: None,
        },
        "reload_check_config"
        | "reload_time_file"
        | "reload_repeat"
        | "reload_file"
        | "config_save_dir"
        | "tmp_config_directory"
        | "data_use_instance"
        | "process_names" => Any,
        "process_name"
        | "vrrp_process_name"
        | "checker_process_name"
        | "bfd_process_name"
        | "lvs_process_name" => Syntax,
        "fifo_write_vrrp_states_on_reload" | "umask" | "log_unknown_vrids" => Any,
        _ => return None,
    })
}

/// Every keyword with a rule here, for "did you mean" hints.
pub(crate) const KEYWORDS: &[&str] = &[
    "smtp_helo_name",
    "no_email_faults",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "startup_script",
    "shutdown_script",
    "startup_script_timeout",
    "shutdown_script_timeout",
    "min_auto_priority_delay",
    "disable_local_igmp",
    "include_check",
    "vmac_prefix",
    "vmac_addr_prefix",
    "lvs_flush",
    "lvs_flush_onstop",
    "lvs_flush_on_stop",
    "lvs_timeouts",
    "lvs_sync_daemon",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "vrrp_notify_fifo_script",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_iptables",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "checker_priority",
    "bfd_priority",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_notify_priority_changes",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_dbus",
    "dbus_service_name",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "tmp_config_directory",
    "data_use_instance",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "lvs_process_name",
    "fifo_write_vrrp_states_on_reload",
    "vrrp_vmac_garp_intvl",
    "umask",
    "log_unknown_vrids",
];

fn fill(template: &str, keyword: &str, value: &str) -> String {
    template.replace("{k}", keyword).replace("{v}", value)
}

/// What 2.2.7 says when a keyword that needs a value has none.
enum Missing {
    /// keepalived's fatal "missing a parameter" (exit 2): checking stops there.
    Syntax,
    /// An ordinary error with this message (`{k}` is the keyword, `{p}` its process).
    Message(&'static str),
}

fn missing(keyword: &str) -> Option<Missing> {
    use Missing::*;
    Some(match keyword {
        "vrrp_rlimit_rttime"
        | "vrrp_rlimit_rtime"
        | "checker_rlimit_rttime"
        | "checker_rlimit_rtime"
        | "bfd_rlimit_rttime"
        | "bfd_rlimit_rtime"
        | "config_save_dir"
        | "nftables_priority"
        | "nftables_ipvs_priority"
        | "nftables_ipvs_start_fwmark"
        | "random_seed"
        | "umask"
        | "vmac_prefix"
        | "vmac_addr_prefix"
        | "vrrp_down_timer_adverts"
        | "vrrp_garp_lower_prio_delay"
        | "vrrp_garp_lower_prio_repeat"
        | "vrrp_startup_delay" => Syntax,
        "vrrp_cpu_affinity" | "checker_cpu_affinity" | "bfd_cpu_affinity" => {
            Message("No {p} cpu_id set specified")
        }
        "checker_priority" | "bfd_priority" => Message("No {p} process priority specified"),
        "vrrp_rt_priority" | "checker_rt_priority" | "bfd_rt_priority" => {
            Message("No {p} process real-time priority specified")
        }
        "lvs_notify_fifo" | "notify_fifo" => Message("No {k} name specified"),
        "lvs_notify_fifo_script" | "notify_fifo_script" | "vrrp_notify_fifo_script" => {
            Message("No {k} specified")
        }
        "min_auto_priority_delay" => Message("min_auto_priority_delay requires delay time"),
        "reload_time_file" => Message("reload_time_file invalid"),
        "startup_script_timeout" | "shutdown_script_timeout" => Message("{k} requires value"),
        "tmp_config_directory" => Message("tmp_config_directory missing directory name"),
        "vrrp_rx_bufs_multiplier" => Message("Invalid vrrp_rx_bufs_multiplier"),
        _ => return None,
    })
}

/// Checks `item` by its keyword's rule. Returns false when global_defs has no such keyword.
pub(crate) fn check(cx: &mut Cx<'_>, item: &Statement) -> bool {
    let keyword = item.keyword();
    let Some(rule) = rule(keyword) else {
        return false;
    };
    let value = item.arg_texts().next();
    let at = &item.location;
    if value.is_none()
        && let Some(m) = missing(keyword)
    {
        match m {
            Missing::Syntax => {
                cx.arg(item);
            }
            Missing::Message(message) => {
                let process = keyword.split('_').next().unwrap_or_default();
                cx.error(at, fill(message, keyword, "").replace("{p}", process));
            }
        }
        return true;
    }
    match rule {
        Rule::Any => {}
        Rule::Required(message) => {
            if value.is_none() {
                cx.error(at, fill(message, keyword, ""));
            }
        }
        Rule::Syntax => {
            cx.arg(item);
        }
        Rule::Flag(message) => {
            if let Some(v) = value
                && crate::values::parse_bool(v).is_none()
            {
                cx.error(at, fill(message, keyword, v));
            }
        }
        Rule::Int {
            min,
            max,
            bad,
            missing,
        } => match (value, missing) {
            (None, Some(message)) => cx.error(at, fill(message, keyword, "")),
            (None, None) => {}
            (Some(v), _) => {
                // 2.2.7 reads this one with its signed reader, the others unsigned.
                let read = if keyword == "min_auto_priority_delay" {
                    cx.read_int(at, v, min, max)
                } else {
                    cx.int_value(at, v, min, max)
                };
                if read.is_none() {
                    cx.error(at, fill(bad, keyword, v));
                }
            }
        },
        Rule::Unsigned { max, bad, missing } => match (value, missing) {
            (None, Some(message)) => cx.error(at, fill(message, keyword, "")),
            (None, None) => {}
            (Some(v), _) => {
                if cx.read_unsigned(at, v, 0, max).is_none() {
                    cx.error(at, fill(bad, keyword, v));
                }
            }
        },
        Rule::Delay(bad) => {
            if let Some(v) = value {
                // Seconds in [0.001, 4294.967295], read by the unsigned decimal reader.
                let read = crate::values::read_decimal_micros(v, 1_000, 4_294_967_295);
                for message in read.messages {
                    cx.error(at, message);
                }
                if read.value.is_none() {
                    cx.error(at, fill(bad, keyword, v));
                }
            }
        }
        Rule::Nice(process) => {
            if let Some(v) = value
                && cx.int_value(at, v, -20, 19).is_none()
            {
                cx.error(at, format!("Invalid {process} process priority specified"));
            }
        }
        Rule::RtPriority(process) => {
            if let Some(v) = value {
                // An empty word is 0, and leading blanks are skipped, as strtol reads it; 2.2.7's
                // signed reader names a word that is no number or does not fit 32 bits.
                let read = if v.is_empty() {
                    Ok(0)
                } else {
                    crate::values::read_int(
                        v.trim_start(),
                        i64::from(i32::MIN),
                        i64::from(i32::MAX),
                    )
                };
                match read {
                    Ok(n) if n < 1 => cx.error(
                        at,
                        format!(
                            "{process} process real-time priority {n} less than minimum 1 - setting to minimum"
                        ),
                    ),
                    Ok(n) if n > 99 => cx.error(
                        at,
                        format!(
                            "{process} process real-time priority {n} greater than maximum 99 - setting to maximum"
                        ),
                    ),
                    Ok(_) => {}
                    Err(message) => {
                        cx.error(at, message);
                        cx.error(
                            at,
                            format!("{process} process real-time priority '{v}' invalid"),
                        );
                    }
                }
            }
        }
        Rule::RtLimit(process) => {
            if let Some(v) = value
                && cx.int_value(at, v, 1, i64::from(u32::MAX)).is_none()
            {
                cx.error(at, format!("Invalid {process} real-time limit - {v}"));
            }
        }
        Rule::CpuAffinity(process) => {
            let cpus = std::thread::available_parallelism().map_or(1, usize::from);
            let max = i64::try_from(cpus).unwrap_or(1) - 1;
            for v in item.arg_texts() {
                // 2.2.7's signed reader (`-0` is 0, `-5` is out of range), and the CPU it names
                // is strtol's number cut to an int (`1.5` is 1, `99999999999` 1215752191).
                if let Err(message) = crate::values::read_int(v, 0, max) {
                    cx.error(at, message);
                    let shown = strtol_prefix(v) as i32;
                    cx.error(
                        at,
                        format!("Invalid cpu_id:{shown} specified for {process} process"),
                    );
                    break;
                }
            }
        }
        Rule::Custom(f) => f(cx, item),
    }
    true
}

/// The number at the start of a word as C's `strtol(…, 10)` reads it (0 when there is none;
/// beyond 64 bits it saturates, as strtol does).
fn strtol_prefix(word: &str) -> i64 {
    let body = word.trim_start();
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    let magnitude: i128 = digits[..len]
        .parse()
        .unwrap_or(if len == 0 { 0 } else { i128::MAX });
    let value = if negative { -magnitude } else { magnitude };
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A word read as `strtod` reads a whole word: an empty word is 0.
fn strtod_word(v: &str) -> Result<f64, std::num::ParseFloatError> {
    if v.is_empty() {
        Ok(0.0)
    } else {
        v.parse::<f64>()
    }
}

/// A repeat count where 0 is raised to 1 with keepalived's warning.
pub(crate) fn at_least_one(cx: &mut Cx<'_>, item: &Statement, value: Option<u32>) -> Option<u32> {
    if value == Some(0) {
        cx.error(
            &item.location,
            format!("{} must be greater than 0, setting to 1", item.keyword()),
        );
        return Some(1);
    }
    value
}

/// `garp_interval` / `gna_interval` in a garp_group: seconds in [0, 2147.483647]. A word
/// that is not a number reads as 0 (after the number reader's message) and counts as set.
pub(crate) fn garp_group_interval(cx: &mut Cx<'_>, item: &Statement) -> Option<f64> {
    let v = cx.arg(item)?;
    match strtod_word(v) {
        Ok(n) if n.is_finite() && (0.0..=2_147.483_647).contains(&n) => Some(n),
        Ok(_) => {
            cx.error(
                &item.location,
                format!("number '{v}' outside range [0.000000, 2147.483647]"),
            );
            cx.error(
                &item.location,
                format!("garp_group {} '{v}' invalid", item.keyword()),
            );
            None
        }
        Err(_) => {
            cx.error(&item.location, format!("invalid number '{v}'"));
            Some(0.0)
        }
    }
}

/// `vrrp_garp_interval` / `vrrp_gna_interval`: seconds in `[0.000001, 4294.967295]`.
pub(crate) fn garp_interval(cx: &mut Cx<'_>, item: &Statement) -> Option<f64> {
    let v = cx.arg(item)?;
    // 2.2.7's unsigned decimal reader, seconds in [0.000001, 4294.967295].
    let read = crate::values::read_decimal_micros(v, 1, 4_294_967_295);
    for message in read.messages {
        cx.error(&item.location, message);
    }
    match read.value {
        Some(micros) => Some(micros as f64 / 1e6),
        None => {
            cx.error(
                &item.location,
                format!("{} '{v}' is invalid", item.keyword()),
            );
            None
        }
    }
}

fn include_check(cx: &mut Cx<'_>, item: &Statement) {
    // 2.2.7 as Debian builds it knows no include_check type.
    for v in item.arg_texts() {
        cx.error(
            &item.location,
            format!("Unknown include_check type '{v}' - ignoring"),
        );
    }
}

/// `smtp_server ADDRESS [PORT]`: an IP address or a host name that resolves, and a port in
/// 1..=65535.
pub(crate) fn smtp_server(cx: &mut Cx<'_>, item: &Statement) -> Option<String> {
    let mut words = item.arg_texts();
    let host = cx.arg(item)?;
    words.next();
    let port = words.next();
    let port_ok = match port {
        Some(p) => cx.int_value(&item.location, p, 1, 65535).is_some(),
        None => true,
    };
    if !port_ok || host.parse::<std::net::IpAddr>().is_err() && !cx.host.host_name_resolves(host) {
        cx.error(
            &item.location,
            format!("Invalid smtp server {host} {}", port.unwrap_or("25")),
        );
        return None;
    }
    Some(item.arg_texts().collect::<Vec<_>>().join(" "))
}

fn lvs_flush_on_stop(cx: &mut Cx<'_>, item: &Statement) {
    if let Some(v) = item.arg_texts().next()
        && v != "VS"
    {
        cx.error(
            &item.location,
            format!("Unknown lvs_flush_on_stop type {v}"),
        );
    }
}

fn lvs_timeouts(cx: &mut Cx<'_>, item: &Statement) {
    let words: Vec<&str> = item.arg_texts().collect();
    if words.is_empty() {
        cx.error(&item.location, "lvs_timeouts requires at least one option");
        return;
    }
    let mut i = 0;
    while i < words.len() {
        let option = words[i];
        if matches!(option, "tcp" | "tcpfin" | "udp") {
            match words.get(i + 1) {
                Some(v) => {
                    if cx.int_value(&item.location, v, 0, 86400 * 31).is_none() {
                        cx.error(
                            &item.location,
                            format!("Invalid lvs_timeout {option} ({v}) - ignoring"),
                        );
                    }
                    i += 2;
                }
                None => {
                    cx.error(
                        &item.location,
                        format!("No value specified for lvs_timeout {option} - ignoring"),
                    );
                    i += 1;
                }
            }
        } else {
            cx.error(
                &item.location,
                format!("Unknown option {option} specified for lvs_timeouts"),
            );
            i += 1;
        }
    }
}

/// `lvs_sync_daemon` (crate::sync_daemon reads the words); a second line is refused while
/// a first one stands, as 2.2.7 does.
fn lvs_sync_daemon(cx: &mut Cx<'_>, item: &Statement) {
    let words: Vec<&str> = item.arg_texts().collect();
    if let Some(first) = &cx.lvs_sync_daemon {
        let message = format!("lvs_sync_daemon has already been specified as {first} - ignoring");
        cx.error(&item.location, message);
        return;
    }
    let read = crate::sync_daemon::read(&words);
    for message in read.messages {
        cx.error(&item.location, message);
    }
    if let Some(daemon) = read.setting {
        let instance = daemon.instance.unwrap_or_default();
        cx.lvs_sync_daemon = Some(format!("{} {instance}", daemon.interface));
    }
}

/// `vrrp_garp_extra_if [all] SECONDS` (1 to 86400, `all` anywhere) and its deprecated name
/// `vrrp_vmac_garp_intvl`, worded as keepalived 2.2.7 does (observed).
fn garp_extra_if(cx: &mut Cx<'_>, item: &Statement) {
    let keyword = item.keyword();
    if keyword == "vrrp_vmac_garp_intvl" {
        cx.error(
            &item.location,
            "Keyword \"vrrp_vmac_garp_intvl\" is deprecated - please use \"vrrp_garp_extra_if\"",
        );
    }
    // Every word but `all` is read as the time, in order; the first bad one ends the line.
    let mut timed = false;
    for v in item.arg_texts().filter(|w| *w != "all") {
        let ok = if v.starts_with('-') && v[1..].parse::<u64>().is_ok() {
            cx.error(&item.location, format!("negative number '{v}'"));
            false
        } else {
            cx.int_value(&item.location, v, 1, 86_400).is_some()
        };
        if !ok {
            cx.error(
                &item.location,
                format!("{keyword} '{v}' invalid - ignoring"),
            );
            return;
        }
        timed = true;
    }
    if !timed {
        cx.error(
            &item.location,
            format!("{keyword} specified without time - ignoring"),
        );
    }
}

fn iptables(cx: &mut Cx<'_>, item: &Statement) {
    // Debian's 2.2.7 is built with nftables and without iptables.
    cx.error(
        &item.location,
        "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and \
         'vrrp_ipsets' with 'nftables' config option",
    );
}

/// `vrrp_rx_bufs_policy MTU|ADVERT|SIZE ...`, worded as 2.2.7 does: a word that is neither
/// policy is read as a size, but 2.2.7's reader always reads the FIRST word for it (so
/// `ADVERT junk` says `invalid number 'ADVERT'` of `junk`). A size and a policy together
/// drop the policy, MTU and ADVERT together drop ADVERT, counting what earlier lines and
/// global_defs blocks set.
pub(crate) fn rx_bufs_policy(
    cx: &mut Cx<'_>,
    item: &Statement,
    policy: &mut crate::model::RxBufsPolicy,
) {
    let words: Vec<&str> = item.arg_texts().collect();
    let Some(first) = words.first() else {
        cx.error(&item.location, "vrrp_rx_bufs_policy missing");
        return;
    };
    for v in &words {
        if v.eq_ignore_ascii_case("MTU") {
            policy.mtu = true;
        } else if v.eq_ignore_ascii_case("ADVERT") {
            policy.advert = true;
        } else {
            match crate::values::read_unsigned(first, 0, u32::MAX) {
                Ok(size) => policy.size = Some(size),
                Err(message) => {
                    cx.error(&item.location, message);
                    cx.error(&item.location, format!("Invalid vrrp_rx_bufs_policy {v}"));
                }
            }
        }
    }
    if policy.size.is_some() && (policy.mtu || policy.advert) {
        cx.error(
            &item.location,
            "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy",
        );
        policy.mtu = false;
        policy.advert = false;
    } else if policy.mtu && policy.advert {
        cx.error(
            &item.location,
            "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT",
        );
        policy.advert = false;
    }
}

/// `vrrp_rx_bufs_multiplier N`: exactly one unsigned number, at least 1.
fn rx_bufs_multiplier(cx: &mut Cx<'_>, item: &Statement) {
    let words: Vec<&str> = item.arg_texts().collect();
    let [v] = words.as_slice() else {
        cx.error(&item.location, "Invalid vrrp_rx_bufs_multiplier");
        return;
    };
    if let Err(message) = crate::values::read_unsigned(v, 1, u32::MAX) {
        cx.error(&item.location, message);
        cx.error(
            &item.location,
            format!("Invalid vrrp_rx_bufs_multiplier {v}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{KEYWORDS, rule};

    #[test]
    fn every_listed_keyword_has_a_rule() {
        for keyword in KEYWORDS {
            assert!(rule(keyword).is_some(), "{keyword}");
        }
    }
}
