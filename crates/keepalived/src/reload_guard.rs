//! What a reload cannot change. keepalived 2.2.7's parent reads the configuration again on
//! SIGHUP and, when a setting that only a restart can change differs, refuses the whole reload
//! (no child reloads, the running configuration stays) with a line naming the setting
//! (observed). The one checked here is the nftables table name of global_defs: `nftables
//! [NAME]` as written (alone it means `keepalived`); not writing it differs from writing it,
//! even when strict mode would pick the same default name (observed: a configuration without
//! `nftables` reloaded with `nftables keepalived` is refused). `nftables_priority` and
//! `nftables_counters` may change, but the tables made keep their first settings until the
//! stop (observed), which the VRRP child does anyway.

use std::path::Path;

use keepalived_config::Config;

use crate::config_test::load_config;
use crate::vrrp::firewall_plan::DEFAULT_TABLE;

/// The settings of one configuration that a reload may not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// `nftables [NAME]` of global_defs, as written (`None`: not written).
    nftables_table: Option<String>,
}

impl Fixed {
    /// The fixed settings of `config`.
    pub fn of(config: &Config) -> Fixed {
        let nftables_table = config
            .global
            .other
            .iter()
            .rev()
            .find(|s| s.keyword == "nftables")
            .map(|s| {
                s.args
                    .first()
                    .cloned()
                    .unwrap_or_else(|| DEFAULT_TABLE.to_string())
            });
        Fixed { nftables_table }
    }

    /// The fixed settings of the configuration at `path`; `None` when it cannot be read (the
    /// children then say why and keep what they run).
    pub fn load(path: &Path, config_id: Option<&str>, all_config: bool) -> Option<Fixed> {
        let loaded = load_config(path, config_id, all_config);
        (!crate::daemon::unusable(&loaded)).then(|| Fixed::of(&loaded.config))
    }

    /// 2.2.7's lines for each setting `new` changes; empty when the reload may go on.
    pub fn refusals(&self, new: &Fixed) -> Vec<String> {
        let mut out = Vec::new();
        if self.nftables_table != new.nftables_table {
            out.push(
                "Cannot change nftables table name at a reload - please restart keepalived"
                    .to_string(),
            );
        }
        out
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
}
