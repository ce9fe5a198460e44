//! `global_defs { … }`.

use super::Cx;
use super::global_rules;
use crate::model::GlobalDefs;
use crate::tree::Statement;

/// Keywords of global_defs that we model.
const MODELLED: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "script_user",
    "enable_script_security",
    "vrrp_version",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_strict",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_notify_fifo",
    "vrrp_priority",
    "vrrp_no_swap",
    "default_interface",
    "dynamic_interfaces",
    "max_auto_priority",
];

/// Fills `global` from a global_defs block.
pub fn build(cx: &mut Cx<'_>, stmt: &Statement, global: &mut GlobalDefs) {
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        default_user_for_fifo(cx, item, global);
        match keyword {
            "router_id" => {
                global.router_id = cx
                    .arg_or(item, "routerid name missing - ignoring")
                    .map(str::to_string)
            }
            "notification_email" => {
                cx.list_block_params(item);
                global.notification_email = cx.word_list(item);
                if global.notification_email.is_empty()
                    && let Some(block) = &item.block
                {
                    let at = block.close.clone().unwrap_or_else(|| block.open.clone());
                    cx.error(&at, "Warning - empty notification_email block");
                }
            }
            "notification_email_from" => {
                global.notification_email_from = cx
                    .arg_or(item, "emailfrom missing - ignoring")
                    .map(str::to_string)
            }
            "smtp_server" => global.smtp_server = global_rules::smtp_server(cx, item),
            "smtp_connect_timeout" => {
                if let Some(text) = cx.arg(item) {
                    match cx.read_unsigned(&item.location, text, 0, 4294) {
                        Some(v) => {
                            global.smtp_connect_timeout = v.max(1);
                            if v == 0 {
                                cx.error(
                                    &item.location,
                                    "smtp_conect_timeout must be greater than 0, setting to 1",
                                );
                            }
                        }
                        None => cx.error(
                            &item.location,
                            format!(
                                "smtp_connect_timeout '{text}' must be in [0, 4294] - ignoring"
                            ),
                        ),
                    }
                }
            }
            "script_user" => {
                if cx.arg_or(item, "No script username specified").is_some() {
                    global.script_user = cx.run_as(item);
                    let exists = global.script_user.as_ref().is_some_and(|r| {
                        cx.host.user(&r.user).is_some()
                            && r.group.as_ref().is_none_or(|g| cx.host.group(g).is_some())
                    });
                    if !exists {
                        // Logged by the parent, which reads global_defs (2.2.7, observed).
                        if let Some(line) = global
                            .script_user
                            .as_ref()
                            .and_then(|r| crate::script_checks::missing_id_line(r, cx.host))
                        {
                            cx.log_at(&item.location, line);
                        }
                        cx.error(&item.location, "Error setting global script uid/gid");
                    } else if global.default_script_user_failed {
                        // 2.2.7 (observed): a script_user after a FIFO that found the default
                        // user missing is refused too.
                        cx.error(&item.location, "Error setting global script uid/gid");
                    }
                }
            }
            // 2.2.7 reads no word after it: `enable_script_security false` enables it too,
            // silently (observed, s29).
            "enable_script_security" => global.enable_script_security = true,
            "vrrp_version" => match cx.signed_int(item, 2, 3) {
                Some(v) => global.vrrp_version = v as u8,
                None if item.args().is_empty() => {}
                None => cx.error(&item.location, "VRRP Error: Version must be either 2 or 3"),
            },
            "vrrp_mcast_group4" => {
                if let Some(text) = cx.arg(item) {
                    match crate::values::parse_sockaddr_ip::<std::net::Ipv4Addr>(text) {
                        Ok(a) if a.is_multicast() => global.vrrp_mcast_group4 = a,
                        Ok(_) => cx.error(
                            &item.location,
                            format!("vrrp_mcast_group4 [{text}] is not multicast. Skipping"),
                        ),
                        Err(_) => cx.error(
                            &item.location,
                            format!("Can't parse vrrp_mcast_group4 [{text}]. Skipping"),
                        ),
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(text) = cx.arg(item) {
                    match crate::values::parse_sockaddr_ip::<std::net::Ipv6Addr>(text) {
                        Ok(a) if a.is_multicast() => global.vrrp_mcast_group6 = a,
                        Ok(_) => cx.error(
                            &item.location,
                            format!("vrrp_mcast_group6 [{text}] is not multicast. Skipping"),
                        ),
                        Err(_) => cx.error(
                            &item.location,
                            format!("Can't parse vrrp_mcast_group6 [{text}]. Skipping"),
                        ),
                    }
                }
            }
            "vrrp_garp_master_delay" => set(&mut global.vrrp_garp_master_delay, garp(cx, item)),
            "vrrp_garp_master_repeat" => {
                let value = garp(cx, item);
                set(
                    &mut global.vrrp_garp_master_repeat,
                    global_rules::at_least_one(cx, item, value),
                )
            }
            "vrrp_garp_master_refresh" => set(&mut global.vrrp_garp_master_refresh, garp(cx, item)),
            "vrrp_garp_master_refresh_repeat" => {
                let value = garp(cx, item);
                set(
                    &mut global.vrrp_garp_master_refresh_repeat,
                    global_rules::at_least_one(cx, item, value),
                )
            }
            "vrrp_garp_interval" => set(
                &mut global.vrrp_garp_interval,
                global_rules::garp_interval(cx, item),
            ),
            "vrrp_gna_interval" => set(
                &mut global.vrrp_gna_interval,
                global_rules::garp_interval(cx, item),
            ),
            "vrrp_min_garp" => {
                global.vrrp_min_garp = cx
                    .flag_or(item, |_| "Invalid value for vrrp_min_garp specified".into())
                    .unwrap_or(false);
                if global.vrrp_min_garp {
                    min_garp(global);
                }
            }
            // keepalived 2.2.7 takes these as set whatever follows them.
            "vrrp_strict" => global.vrrp_strict = true,
            "vrrp_skip_check_adv_addr" => global.vrrp_skip_check_adv_addr = true,
            "vrrp_check_unicast_src" => global.vrrp_check_unicast_src = true,
            "vrrp_notify_fifo" => {
                if cx.first_wins(global.vrrp_notify_fifo.is_some(), item, keyword) {
                    global.vrrp_notify_fifo = cx
                        .arg_or(item, "No vrrp_notify_fifo name specified")
                        .map(str::to_string)
                }
            }
            // The first of each is kept (2.2.7).
            "notify_fifo"
            | "lvs_notify_fifo"
            | "notify_fifo_script"
            | "vrrp_notify_fifo_script"
            | "lvs_notify_fifo_script"
                if global.other.iter().any(|s| s.keyword == keyword) =>
            {
                cx.first_wins(true, item, keyword);
            }
            "vrrp_priority" if item.args().is_empty() => {
                cx.error(&item.location, "No vrrp process priority specified")
            }
            "vrrp_priority" => {
                let value = cx.int(item, -20, 19).map(|v| v as i32);
                if value.is_none() && !item.args().is_empty() {
                    cx.error(&item.location, "Invalid vrrp process priority specified");
                }
                set(&mut global.vrrp_priority, value)
            }
            "vrrp_no_swap" => global.vrrp_no_swap = true,
            "default_interface" => {
                if let Some(name) = cx.arg_or(item, "default_interface requires interface name") {
                    global.default_interface = name.to_string();
                }
            }
            "dynamic_interfaces" => match item.arg_texts().next() {
                None | Some("allow_if_changes") => global.dynamic_interfaces = true,
                Some(other) => cx.error(
                    &item.location,
                    format!("Unknown dynamic_interfaces option '{other}'"),
                ),
            },
            "smtp_alert" => {
                cx.flag_or(item, |v| {
                    format!("Invalid value '{v}' for global smtp_alert specified")
                });
                global.other.push(cx.raw(item));
            }
            "vrrp_higher_prio_send_advert" | "vrrp_lower_prio_no_advert" => {
                let keyword = item.keyword();
                cx.flag_or(item, |_| format!("Invalid value for {keyword} specified"));
                global.other.push(cx.raw(item));
            }
            "smtp_alert_vrrp" | "smtp_alert_checker" => {
                let keyword = item.keyword();
                cx.flag_or(item, |v| {
                    format!("Invalid value '{v}' for global {keyword} specified")
                });
                global.other.push(cx.raw(item));
            }
            "max_auto_priority" => {
                global.max_auto_priority = match item.arg_texts().next() {
                    None => Some(99),
                    Some(text) => {
                        let value = cx.int(item, -1, 99).map(|v| v as i32);
                        if value.is_none() {
                            cx.error(
                                &item.location,
                                format!(
                                    "max_auto_priority '{text}' must be in [0, 99] (or -1 to \
                                     disable) - ignoring"
                                ),
                            );
                        }
                        value
                    }
                }
            }
            "vrrp_rx_bufs_policy" => {
                global_rules::rx_bufs_policy(cx, item, &mut global.rx_bufs_policy);
                global.other.push(cx.raw(item));
            }
            _ if global_rules::check(cx, item) => global.other.push(cx.raw(item)),
            _ => {
                let known: Vec<&str> = MODELLED
                    .iter()
                    .chain(global_rules::KEYWORDS)
                    .copied()
                    .collect();
                cx.unknown(item, &known);
            }
        }
    }
}

/// A gratuitous ARP count or delay: 0..4294, with keepalived's message.
fn garp(cx: &mut Cx<'_>, item: &Statement) -> Option<u32> {
    let text = cx.arg(item)?;
    // 2.2.7's unsigned reader (`negative number '-1'`): the delay in seconds up to 4294
    // (UINT_MAX / TIMER_HZ), the refresh and the repeats any unsigned number.
    let max = if item.keyword() == "vrrp_garp_master_delay" {
        4294
    } else {
        u32::MAX
    };
    let value = cx.read_unsigned(&item.location, text, 0, max);
    if value.is_none() {
        let keyword = item.keyword();
        let said = if keyword == "vrrp_garp_master_refresh" {
            format!("Invalid {keyword} '{text}' - ignoring")
        } else {
            format!("{keyword} '{text}' invalid - ignoring")
        };
        cx.error(&item.location, said);
    }
    value
}

/// A notify FIFO without a script takes the default script user under script security
/// (2.2.7, observed): read after `enable_script_security` and before any `script_user`, with
/// no `keepalived_script` user on the host, it says so (once for the whole file).
fn default_user_for_fifo(cx: &mut Cx<'_>, item: &Statement, global: &mut GlobalDefs) {
    let fifo = matches!(
        item.keyword(),
        "vrrp_notify_fifo" | "notify_fifo" | "lvs_notify_fifo"
    );
    if fifo
        && item.args().len() == 1
        && global.enable_script_security
        && global.script_user.is_none()
        && !global.default_script_user_failed
        && cx.host.user("keepalived_script").is_none()
    {
        global.default_script_user_failed = true;
        cx.error(
            &item.location,
            "Unable to set default user keepalived_script for script",
        );
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// `vrrp_min_garp`: one gratuitous ARP / NA per address on becoming master, no second burst
/// and none on refresh, for each of those settings still at its default when the keyword is
/// read (2.2.7: a later setting still wins, an earlier one is kept).
fn min_garp(global: &mut GlobalDefs) {
    let defaults = GlobalDefs::default();
    if global.vrrp_garp_master_repeat == defaults.vrrp_garp_master_repeat {
        global.vrrp_garp_master_repeat = 1;
    }
    if global.vrrp_garp_master_refresh_repeat == defaults.vrrp_garp_master_refresh_repeat {
        global.vrrp_garp_master_refresh_repeat = 0;
    }
    if global.vrrp_garp_master_delay == defaults.vrrp_garp_master_delay {
        global.vrrp_garp_master_delay = 0;
    }
}
