//! The keywords a configuration uses that keepalived-rs reads and checks but does not act on
//! yet, so the daemon can say so once at start instead of ignoring them silently
//! (docs/compat.md lists them). The checker side (`virtual_server` …) reports its own.

use std::collections::BTreeSet;

use crate::model::{Config, RawSetting};

/// Keywords kept as written that the daemon reads where it needs them: the mail alerts
/// (crates/keepalived/src/alert), the IPVS flushes (crates/keepalived/src/checker), the
/// announce settings (crates/keepalived/src/vrrp/announce_plan.rs) and the notify FIFO
/// (crates/keepalived/src/vrrp/driver/fifo.rs), of global_defs and vrrp_instance.
const ACTED_ON_AS_WRITTEN: &[&str] = &[
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_checker_emails",
    "no_email_faults",
    "smtp_helo_name",
    "lvs_flush",
    "lvs_flush_onstop",
    "lvs_flush_on_stop",
    // IPVS's connection timeouts, set by the checker child (crates/keepalived/src/checker).
    "lvs_timeouts",
    // IPVS's sync daemons, run by the VRRP child (crates/keepalived/src/vrrp/sync_daemon.rs).
    "lvs_sync_daemon",
    // Its vrrp_instance form of 1.x, which 2.2.7 still acts on (the same module).
    "lvs_sync_daemon_interface",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "garp_lower_prio_repeat",
    "garp_lower_prio_delay",
    // The address check of received adverts (crates/vrrp/src/instance.rs).
    "skip_check_adv_addr",
    // The VRRP side of the notify FIFO (crates/keepalived/src/vrrp/driver/fifo.rs).
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    // The checker's per-attempt failure lines and start-up notifies
    // (crates/keepalived/src/checker/task.rs, pool.rs).
    "checker_log_all_failures",
    "rs_init_notifies",
    // The checker's notify FIFO (crates/keepalived/src/checker/fifo.rs).
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    // An instance's, and a sync group's (which its members without their own take).
    "notify_priority_changes",
    // The firewall of vrrp_strict / no_accept (crates/keepalived/src/vrrp/firewall_plan.rs);
    // `nftables_ifindex` is what it does anyway (link-local addresses keyed by ifindex).
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    // VMACs of addresses and their names, and the periodic announcements
    // (crates/keepalived/src/vrrp/vmac_plan.rs).
    "use_vmac_addr",
    "vmac_prefix",
    "vmac_addr_prefix",
    "garp_extra_if",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    // The settings of the processes themselves (crates/keepalived/src/process_settings.rs);
    // the `bfd_*` ones have no process to act on and stay listed.
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "checker_priority",
    "checker_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "umask",
    // Run by the parent (crates/keepalived/src/start_stop_scripts.rs).
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    // The VRRP process waits before its instances start (crates/keepalived/src/startup_delay.rs).
    "vrrp_startup_delay",
    // An instance's interface setting (crates/keepalived/src/promote_secondaries.rs).
    "promote_secondaries",
    // Master_Down_Interval's advert count (crates/keepalived/src/down_timer.rs).
    "down_timer_adverts",
    "vrrp_down_timer_adverts",
    // Each advert of an unknown VRID logged (crates/keepalived/src/unknown_vrids.rs).
    "log_unknown_vrids",
    // The process-event socket's buffer (crates/keepalived/src/rcv_bufs.rs).
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
];

/// One line per distinct keyword not acted on, as `BLOCK keyword 'KEYWORD'`, sorted.
pub fn unsupported(config: &Config) -> Vec<String> {
    let mut found = BTreeSet::new();
    fn add(found: &mut BTreeSet<String>, block: &str, settings: &[RawSetting]) {
        for s in settings
            .iter()
            .filter(|s| !ACTED_ON_AS_WRITTEN.contains(&s.keyword.as_str()))
        {
            found.insert(format!("{block} keyword '{}'", s.keyword));
        }
    }
    add(&mut found, "global_defs", &config.global.other);
    if config.global.max_auto_priority.is_some() {
        found.insert("global_defs keyword 'max_auto_priority'".to_string());
    }
    for inst in &config.instances {
        add(&mut found, "vrrp_instance", &inst.other);
        // Read into the model, not acted on: BFD is not built (the top-level bfd_instance
        // says so too), `debug` only changes 2.2.7's data dump.
        if !inst.track_bfds.is_empty() {
            found.insert("vrrp_instance keyword 'track_bfd'".to_string());
        }
        if inst.debug.is_some() {
            found.insert("vrrp_instance keyword 'debug'".to_string());
        }
    }
    for group in &config.sync_groups {
        add(&mut found, "vrrp_sync_group", &group.other);
    }
    add(&mut found, "top-level", &config.other);
    // Static track groups are read and checked; the daemon does not make their instances
    // follow the static addresses, routes and rules naming them.
    if !config.track_groups.is_empty() {
        found.insert("top-level keyword 'track_group'".to_string());
    }
    for bfd in &config.bfd_instances {
        found.insert("top-level keyword 'bfd_instance'".to_string());
        add(&mut found, "bfd_instance", &bfd.other);
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{FakeHost, LoadOptions, load_str};

    #[test]
    fn lists_each_unmodelled_keyword_once() {
        let text = "global_defs {\n lvs_flush\n bfd_rt_priority 50\n router_id x\n\
                    vrrp_garp_interval 0.01\n}\n\
                    net_namespace blue\n\
                    bfd_instance b1 {\n neighbor_ip 192.0.2.2\n min_rx 100\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n kernel_rx_buf_size 300000\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n kernel_rx_buf_size 300000\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(
            super::unsupported(&loaded.config),
            vec![
                "bfd_instance keyword 'min_rx'",
                "bfd_instance keyword 'neighbor_ip'",
                "global_defs keyword 'bfd_rt_priority'",
                "top-level keyword 'bfd_instance'",
                "top-level keyword 'net_namespace'",
                "vrrp_instance keyword 'kernel_rx_buf_size'",
            ]
        );
    }

    /// Settings read into typed fields and not acted on are listed too: max_auto_priority,
    /// a unicast peer's TTL limits, an instance's track_bfd and debug.
    #[test]
    fn typed_settings_not_acted_on_are_listed() {
        let text = "global_defs {\n max_auto_priority 10\n}\n\
                    bfd_instance b1 {\n neighbor_ip 192.0.2.2\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n debug 2\n\
                    unicast_peer {\n 192.0.2.9 min_ttl 5 max_ttl 60\n }\n\
                    track_bfd {\n b1\n }\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(
            super::unsupported(&loaded.config),
            vec![
                "bfd_instance keyword 'neighbor_ip'",
                "global_defs keyword 'max_auto_priority'",
                "top-level keyword 'bfd_instance'",
                "vrrp_instance keyword 'debug'",
                "vrrp_instance keyword 'max_ttl'",
                "vrrp_instance keyword 'min_ttl'",
                "vrrp_instance keyword 'track_bfd'",
            ]
        );
        let text = "track_group G {\n group {\n  A\n }\n}\n";
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(
            super::unsupported(&loaded.config),
            vec!["top-level keyword 'track_group'"]
        );
    }

    /// lvs_timeouts is set by the checker child, lvs_sync_daemon acted on by the VRRP child;
    /// neither is listed, an unmodelled neighbour is.
    #[test]
    fn lvs_timeouts_and_lvs_sync_daemon_are_acted_on() {
        let text = "global_defs {\n lvs_timeouts tcp 7200\n lvs_sync_daemon eth0 VI_1\n\
                    bfd_rt_priority 50\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(
            super::unsupported(&loaded.config),
            vec!["global_defs keyword 'bfd_rt_priority'"]
        );
    }

    /// The global `SSL` block of SSL_GET (2.2.7 accepts it) is read into the model, for
    /// the checker to act on; it is no longer listed.
    #[test]
    fn the_ssl_block_is_read_into_the_model() {
        let text = "SSL {\n ca /etc/ssl/ca.pem\n certificate /etc/ssl/c.pem\n key k.pem\n \
                    password pw\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        assert!(super::unsupported(&loaded.config).is_empty());
        let ssl = loaded.config.ssl.expect("ssl");
        assert_eq!(ssl.ca.as_deref(), Some("/etc/ssl/ca.pem"));
        assert_eq!(ssl.certificate.as_deref(), Some("/etc/ssl/c.pem"));
        assert_eq!(
            (ssl.key.as_deref(), ssl.password.as_deref()),
            (Some("k.pem"), Some("pw"))
        );
    }

    /// The checker child acts on these two (issue 13).
    #[test]
    fn checker_global_keywords_are_acted_on() {
        let text = "global_defs {\n checker_log_all_failures\n rs_init_notifies\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        assert!(super::unsupported(&loaded.config).is_empty());
    }

    #[test]
    fn sync_groups_list_only_what_they_do_not_act_on() {
        let text = "vrrp_track_process p {\n process sshd\n}\n\
                    vrrp_script s {\n script /bin/true\n}\n\
                    vrrp_sync_group G {\n group {\n A\n B\n }\n track_script {\n s\n }\n\
                    track_process {\n p\n }\n notify_priority_changes\n smtp_alert\n\
                    sync_group_tracking_weight\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert!(super::unsupported(&loaded.config).is_empty());
    }

    #[test]
    fn a_sync_groups_track_bfd_is_listed() {
        let text = "bfd_instance b {\n neighbor_ip 192.0.2.9\n}\n\
                    vrrp_sync_group G {\n group {\n A\n }\n track_bfd {\n b\n }\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        let listed = super::unsupported(&loaded.config);
        assert!(
            listed.contains(&"vrrp_sync_group keyword 'track_bfd'".to_string()),
            "{listed:?}"
        );
    }

    #[test]
    fn keywords_the_daemon_acts_on_are_not_listed() {
        let text = "global_defs {\n smtp_alert\n smtp_helo_name h.example\n lvs_flush\n\
                    vrrp_lower_prio_no_advert\n vrrp_garp_lower_prio_delay 3\n\
                    vrrp_garp_interval 0.1\n vrrp_gna_interval 0.2\n nftables kt\n\
                    nftables_priority -3\n nftables_counters\n nftables_ifindex\n}\n\
                    garp_group {\n garp_interval 0.3\n interface eth0\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                    check_unicast_src\n garp_lower_prio_repeat 2\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert!(loaded.config.instances[0].check_unicast_src);
        assert_eq!(super::unsupported(&loaded.config), Vec::<String>::new());
    }
}
