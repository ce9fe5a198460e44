//! What a reload cannot change. keepalived 2.2.7's parent reads the configuration again on
//! SIGHUP and, when a setting that only a restart can change differs, refuses the whole reload
//! (no child reloads, the running configuration stays) with a line naming the setting
//! (observed in namespaces, each setting added at a reload):
//!
//! - `net_namespace NAME` (top level): `Cannot change network namespace at a reload - please
//!   restart keepalived`;
//! - `net_namespace_ipvs NAME` (top level): `Cannot change IPVS network namespace …`;
//! - `instance NAME` (top level): `Cannot change instance name …`;
//! - `nftables [NAME]` of global_defs: `Cannot change nftables table name …`, as written (alone
//!   it means `keepalived`); not writing it differs from writing it, even when strict mode
//!   would pick the same default name (observed: a configuration without `nftables` reloaded
//!   with `nftables keepalived` is refused). `nftables_priority` and `nftables_counters` may
//!   change, but the tables made keep their first settings until the stop (observed), which
//!   the VRRP child does anyway;
//! - `nftables_ipvs [NAME]` of global_defs: `Cannot change IPVS nftables table name …`, read
//!   the same way (alone it means `keepalived_ipvs`);
//! - `disable_local_igmp` of global_defs: `Cannot change disable_local_igmp …`.
//!
//! Seen allowed: `use_pid_dir`, `namespace_with_ipsets`, `dynamic_interfaces`,
//! `process_names`, `vrrp_process_name`, `checker_process_name`, `umask`,
//! `max_auto_priority`, `nftables_ifindex`, `nftables_priority`, `config_save_dir`. 2.2.7's
//! binary also has a `Cannot change config_directory …` line, but no keyword of that name;
//! what sets it was not found. Not observed: the order of
//! the lines when several settings change at once (ours: the order of the list above), and
//! a setting removed rather than added (taken as a change, as for `nftables`).

use std::path::Path;

use keepalived_config::Config;
use keepalived_config::model::RawSetting;

use crate::config_test::load_parent_view;
use crate::vrrp::firewall_plan::DEFAULT_TABLE;

/// The IPVS table name `nftables_ipvs` alone means.
const DEFAULT_IPVS_TABLE: &str = "keepalived_ipvs";

/// The settings of one configuration that a reload may not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// `net_namespace NAME` at the top level.
    net_namespace: Option<String>,
    /// `net_namespace_ipvs NAME` at the top level.
    net_namespace_ipvs: Option<String>,
    /// `instance NAME` at the top level.
    instance: Option<String>,
    /// `nftables [NAME]` of global_defs, as written (`None`: not written).
    nftables_table: Option<String>,
    /// `nftables_ipvs [NAME]` of global_defs, as written.
    nftables_ipvs_table: Option<String>,
    /// `disable_local_igmp` of global_defs.
    disable_local_igmp: bool,
}

/// The last `keyword` among `settings`: `Some(first word)`, `Some(default)` when written
/// alone, `None` when not written.
fn last_value(settings: &[RawSetting], keyword: &str, default: &str) -> Option<String> {
    settings
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
        .map(|s| {
            s.args
                .first()
                .cloned()
                .unwrap_or_else(|| default.to_string())
        })
}

impl Fixed {
    /// The fixed settings of `config`.
    pub fn of(config: &Config) -> Fixed {
        let global = &config.global.other;
        Fixed {
            net_namespace: last_value(&config.other, "net_namespace", ""),
            net_namespace_ipvs: last_value(&config.other, "net_namespace_ipvs", ""),
            instance: last_value(&config.other, "instance", ""),
            nftables_table: last_value(global, "nftables", DEFAULT_TABLE),
            nftables_ipvs_table: last_value(global, "nftables_ipvs", DEFAULT_IPVS_TABLE),
            disable_local_igmp: global.iter().any(|s| s.keyword == "disable_local_igmp"),
        }
    }

    /// The fixed settings of the configuration at `path` (the parent's reading of it); `None`
    /// when it cannot be read (the children then say why and keep what they run).
    pub fn load(path: &Path, config_id: Option<&str>, all_config: bool) -> Option<Fixed> {
        let loaded = load_parent_view(path, config_id, all_config);
        (!crate::config_log::unusable(&loaded)).then(|| Fixed::of(&loaded.config))
    }

    /// 2.2.7's lines for each setting `new` changes; empty when the reload may go on.
    pub fn refusals(&self, new: &Fixed) -> Vec<String> {
        let changes = [
            (self.net_namespace != new.net_namespace, "network namespace"),
            (
                self.net_namespace_ipvs != new.net_namespace_ipvs,
                "IPVS network namespace",
            ),
            (self.instance != new.instance, "instance name"),
            (
                self.nftables_table != new.nftables_table,
                "nftables table name",
            ),
            (
                self.nftables_ipvs_table != new.nftables_ipvs_table,
                "IPVS nftables table name",
            ),
            (
                self.disable_local_igmp != new.disable_local_igmp,
                "disable_local_igmp",
            ),
        ];
        changes
            .into_iter()
            .filter(|(changed, _)| *changed)
            .map(|(_, what)| {
                format!("Cannot change {what} at a reload - please restart keepalived")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};

    fn fixed(global: &str) -> Fixed {
        let text = format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface eth0\n\
             virtual_router_id 1\n virtual_ipaddress {{\n 192.0.2.1\n }}\n}}\n"
        );
        let host = FakeHost::lab();
        Fixed::of(&load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config)
    }

    #[test]
    fn the_table_name_as_written_may_not_change() {
        let none = fixed(" vrrp_strict");
        let default = fixed(" nftables");
        let named = fixed(" nftables keepalived");
        let other = fixed(" nftables kx\n nftables_priority -5");
        // Not written differs from the default name written out, as in 2.2.7.
        assert_eq!(none.refusals(&default).len(), 1);
        assert_eq!(default.refusals(&none).len(), 1);
        assert!(default.refusals(&named).is_empty());
        assert_eq!(
            named.refusals(&other),
            ["Cannot change nftables table name at a reload - please restart keepalived"]
        );
        // The priority and counters may change.
        assert!(
            other
                .refusals(&fixed(" nftables kx\n nftables_counters"))
                .is_empty()
        );
        assert!(none.refusals(&fixed(" router_id x")).is_empty());
    }

    fn fixed_top(top: &str, global: &str) -> Fixed {
        let text = format!(
            "{top}\nglobal_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface eth0\n\
             virtual_router_id 1\n virtual_ipaddress {{\n 192.0.2.1\n }}\n}}\n"
        );
        let host = FakeHost::lab();
        Fixed::of(&load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config)
    }

    #[test]
    fn namespaces_instance_ipvs_table_and_igmp_may_not_change_as_in_2_2_7() {
        let base = fixed_top("", "");
        let line =
            |what: &str| format!("Cannot change {what} at a reload - please restart keepalived");
        for (top, global, what) in [
            ("net_namespace blue", "", "network namespace"),
            ("net_namespace_ipvs blue", "", "IPVS network namespace"),
            ("instance foo", "", "instance name"),
            ("", " nftables_ipvs", "IPVS nftables table name"),
            ("", " disable_local_igmp", "disable_local_igmp"),
        ] {
            let changed = fixed_top(top, global);
            assert_eq!(base.refusals(&changed), [line(what)], "{top}{global}");
            assert_eq!(
                changed.refusals(&base),
                [line(what)],
                "removed: {top}{global}"
            );
            assert!(changed.refusals(&fixed_top(top, global)).is_empty());
        }
        // Seen allowed by 2.2.7.
        for (top, global) in [
            ("use_pid_dir", ""),
            ("namespace_with_ipsets", ""),
            ("", " dynamic_interfaces"),
            ("", " umask 077"),
            ("", " nftables_ifindex"),
        ] {
            assert!(
                base.refusals(&fixed_top(top, global)).is_empty(),
                "{top}{global}"
            );
        }
        // The default IPVS table name written out is the same as alone.
        assert!(
            fixed_top("", " nftables_ipvs")
                .refusals(&fixed_top("", " nftables_ipvs keepalived_ipvs"))
                .is_empty()
        );
        // Several at once: one line each.
        assert_eq!(
            base.refusals(&fixed_top("instance x", " disable_local_igmp"))
                .len(),
            2
        );
    }
}
