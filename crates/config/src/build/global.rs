//! `global_defs { … }`.

use super::Cx;
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

/// Keywords keepalived 2.2.7 accepts in global_defs that we keep as written.
const ACCEPTED: &[&str] = &[
    "smtp_helo_name",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_email_faults",
    "checker_log_all_failures",
    "local_name",
    "instance",
    "network_namespace",
    "lvs_id",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_flush_onstop",
    "lvs_timeouts",
    "lvs_sync_daemon",
    "lvs_sync_daemon_interface",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_process_name",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "vrrp_notify_fifo_script",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "vrrp_rt_priority",
    "vrrp_rlimit_rtime",
    "vrrp_rlimit_rttime",
    "vrrp_cpu_affinity",
    "vrrp_process_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "vrrp_down_timer_adverts",
    "vrrp_log_unknown_vrids",
    "vrrp_notify_priority_changes",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_restore_interfaces_startup",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_rlimit_rtime",
    "checker_rlimit_rttime",
    "checker_cpu_affinity",
    "checker_process_name",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_rlimit_rtime",
    "bfd_rlimit_rttime",
    "bfd_cpu_affinity",
    "bfd_process_name",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "dbus_service_name",
    "script_security",
    "process_names",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "linkbeat_use_polling",
    "child_wait_time",
    "use_pid_dir",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "log_unknown_vrids",
    "umask",
    "random_seed",
    "tmp_config_directory",
    "fifo_write_vrrp_states_on_reload",
    "rs_init_notifies",
    "no_checker_emails",
    "data_use_instance",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_min_garp",
    "enable_sni",
    "vrrp_no_swap",
    "lvs_sched",
    "uc_bufs",
];

/// Fills `global` from a global_defs block.
pub fn build(cx: &mut Cx<'_>, stmt: &Statement, global: &mut GlobalDefs) {
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        match keyword {
            "router_id" => {
                global.router_id = cx
                    .arg_or(item, "routerid name missing - ignoring")
                    .map(str::to_string)
            }
            "notification_email" => global.notification_email = cx.word_list(item),
            "notification_email_from" => {
                global.notification_email_from =
                    cx.arg_or(item, "emailfrom missing").map(str::to_string)
            }
            "smtp_server" => global.smtp_server = cx.text(item),
            "smtp_connect_timeout" => {
                if let Some(v) = cx.uint(item, u32::MAX) {
                    global.smtp_connect_timeout = v;
                }
            }
            "script_user" => {
                if cx.arg_or(item, "No script username specified").is_some() {
                    global.script_user = cx.run_as(item);
                }
            }
            "enable_script_security" => global.enable_script_security = cx.flag(item),
            "vrrp_version" => match cx.int(item, 2, 3) {
                Some(v) => global.vrrp_version = v as u8,
                None => cx.error(&item.location, "VRRP Error: Version must be either 2 or 3"),
            },
            "vrrp_mcast_group4" => {
                if let Some(text) = cx.arg(item) {
                    match text.parse::<std::net::Ipv4Addr>() {
                        Ok(a) if a.is_multicast() => global.vrrp_mcast_group4 = a,
                        _ => cx.error(
                            &item.location,
                            format!("vrrp_mcast_group4 [{text}] is not multicast. Skipping"),
                        ),
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(text) = cx.arg(item) {
                    match text.parse::<std::net::Ipv6Addr>() {
                        Ok(a) if a.is_multicast() => global.vrrp_mcast_group6 = a,
                        _ => cx.error(
                            &item.location,
                            format!("vrrp_mcast_group6 [{text}] is not multicast. Skipping"),
                        ),
                    }
                }
            }
            "vrrp_garp_master_delay" => set(&mut global.vrrp_garp_master_delay, garp(cx, item)),
            "vrrp_garp_master_repeat" => set(&mut global.vrrp_garp_master_repeat, garp(cx, item)),
            "vrrp_garp_master_refresh" => set(&mut global.vrrp_garp_master_refresh, garp(cx, item)),
            "vrrp_garp_master_refresh_repeat" => {
                set(&mut global.vrrp_garp_master_refresh_repeat, garp(cx, item))
            }
            "vrrp_garp_interval" => set(&mut global.vrrp_garp_interval, cx.decimal(item, 0.0, 1.0)),
            "vrrp_gna_interval" => set(&mut global.vrrp_gna_interval, cx.decimal(item, 0.0, 1.0)),
            "vrrp_min_garp" => global.vrrp_min_garp = cx.flag(item),
            "vrrp_strict" => global.vrrp_strict = cx.flag(item),
            "vrrp_skip_check_adv_addr" => global.vrrp_skip_check_adv_addr = cx.flag(item),
            "vrrp_check_unicast_src" => global.vrrp_check_unicast_src = cx.flag(item),
            "vrrp_notify_fifo" => global.vrrp_notify_fifo = cx.arg(item).map(str::to_string),
            "vrrp_priority" => set(
                &mut global.vrrp_priority,
                cx.int(item, -20, 19).map(|v| v as i32),
            ),
            "vrrp_no_swap" => global.vrrp_no_swap = cx.flag(item),
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
            "vrrp_higher_prio_send_advert"
            | "vrrp_lower_prio_no_advert"
            | "smtp_alert_vrrp"
            | "smtp_alert_checker"
            | "vrrp_strict_mode" => {
                let keyword = item.keyword();
                cx.flag_or(item, |_| format!("Invalid value for {keyword} specified"));
                global.other.push(cx.raw(item));
            }
            "max_auto_priority" => {
                global.max_auto_priority = match item.args().first() {
                    None => Some(99),
                    Some(_) => cx.int(item, -1, 99).map(|v| v as i32),
                }
            }
            _ if ACCEPTED.contains(&keyword) => global.other.push(cx.raw(item)),
            _ => {
                let known: Vec<&str> = MODELLED.iter().chain(ACCEPTED).copied().collect();
                cx.unknown(item, &known);
            }
        }
    }
}

/// A gratuitous ARP count or delay: 0..4294, with keepalived's message.
fn garp(cx: &mut Cx<'_>, item: &Statement) -> Option<u32> {
    let value = cx.int(item, 0, 4294).map(|v| v as u32);
    if value.is_none()
        && let Some(text) = item.arg_texts().next()
    {
        cx.error(
            &item.location,
            format!("{} '{text}' invalid - ignoring", item.keyword()),
        );
    }
    value
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}
