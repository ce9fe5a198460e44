//! The announce settings of one instance (issue 14, item 6): how many gratuitous ARPs each
//! kind of burst sends, and what a master does when it hears another master. Read from the
//! instance, else global_defs, as keepalived 2.2.7 does (docs/compat.md, "Announcing").
//!
//! - `garp_master_refresh_repeat` / `vrrp_garp_master_refresh_repeat` (1): per refresh burst;
//! - `garp_lower_prio_repeat` / `vrrp_garp_lower_prio_repeat` (`garp_master_repeat`): per burst
//!   after a lower-priority advert; `garp_lower_prio_delay` / `vrrp_garp_lower_prio_delay`
//!   (`garp_master_delay`) before the second one;
//! - `lower_prio_no_advert` / `vrrp_lower_prio_no_advert` (off);
//! - `higher_prio_send_advert` / `vrrp_higher_prio_send_advert`: off in 2.2.7, **on** by
//!   default in keepalived-rs, so that when a split brain heals the master that remains always
//!   hears of it and announces its addresses at once; `higher_prio_send_advert off` restores
//!   2.2.7's behaviour.

use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{RawSetting, VrrpInstance};
use keepalived_config::values::parse_bool;
use keepalived_vrrp::config::Contention;

/// Burst sizes other than the one on becoming master (`garp_master_repeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncePlan {
    /// Gratuitous ARPs per address in a refresh burst.
    pub refresh_repeat: u32,
    /// Gratuitous ARPs per address in a burst after a lower-priority advert.
    pub lower_prio_repeat: u32,
}

/// The last value of `keyword` among `settings`, as a number.
fn number(settings: &[RawSetting], keyword: &str) -> Option<u32> {
    settings
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
        .and_then(|s| s.args.first())
        .and_then(|v| v.parse().ok())
}

/// The last value of flag `keyword` among `settings`: on when written alone.
fn flag(settings: &[RawSetting], keyword: &str) -> Option<bool> {
    settings
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
        .map(|s| s.args.first().is_none_or(|v| parse_bool(v).unwrap_or(true)))
}

/// The announce settings of `inst`; `master_repeat` and `master_delay` are its
/// `garp_master_repeat` and `garp_master_delay`, the defaults of the lower-priority ones.
pub fn announce_settings(
    config: &Config,
    inst: &VrrpInstance,
    master_repeat: u32,
) -> (AnnouncePlan, Contention) {
    let global = &config.global;
    // vrrp_strict (2.2.7): what the instance leaves unset takes the strict value, not
    // global_defs' (no lower-priority repeats, no advert answering a lower priority, none on
    // hearing a higher one); set values were reset by the configuration check.
    let strict = inst.strict_mode.unwrap_or(global.vrrp_strict);
    let global_other: &[RawSetting] = if strict { &[] } else { &global.other };
    let plan = AnnouncePlan {
        refresh_repeat: inst
            .garp_master_refresh_repeat
            .unwrap_or(global.vrrp_garp_master_refresh_repeat)
            .max(1),
        lower_prio_repeat: number(&inst.other, "garp_lower_prio_repeat")
            .or_else(|| number(global_other, "vrrp_garp_lower_prio_repeat"))
            .unwrap_or(if strict { 0 } else { master_repeat }),
    };
    let contention = Contention {
        lower_prio_no_advert: inst
            .lower_prio_no_advert
            .or_else(|| flag(global_other, "vrrp_lower_prio_no_advert"))
            .unwrap_or(strict),
        higher_prio_send_advert: inst
            .higher_prio_send_advert
            .or_else(|| flag(global_other, "vrrp_higher_prio_send_advert"))
            .unwrap_or(!strict),
        lower_prio_delay: number(&inst.other, "garp_lower_prio_delay")
            .or_else(|| number(global_other, "vrrp_garp_lower_prio_delay"))
            .map(|s| Duration::from_secs(u64::from(s))),
        // Not reset by vrrp_strict (a check of received adverts, not an announcement).
        skip_check_adv_addr: flag(&inst.other, "skip_check_adv_addr")
            .unwrap_or(global.vrrp_skip_check_adv_addr),
    };
    (plan, contention)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn settings(global: &str, instance: &str) -> (AnnouncePlan, Contention) {
        let text = format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface eth0\n virtual_router_id 1\n\
             {instance}\n virtual_ipaddress {{\n 192.0.2.1\n }}\n}}\n"
        );
        let host = FakeHost::lab();
        let loaded = load_str(&text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        announce_settings(&loaded.config, &loaded.config.instances[0], 5)
    }

    #[test]
    fn keepalived_defaults_except_the_heal_advert() {
        let (plan, contention) = settings("", "");
        assert_eq!(
            plan,
            AnnouncePlan {
                refresh_repeat: 1,
                lower_prio_repeat: 5
            }
        );
        assert!(!contention.lower_prio_no_advert);
        assert!(contention.higher_prio_send_advert, "keepalived-rs: on");
        assert_eq!(contention.lower_prio_delay, None, "garp_master_delay");
    }

    #[test]
    fn the_instance_wins_over_global_defs() {
        let (plan, contention) = settings(
            " vrrp_garp_lower_prio_repeat 3\n vrrp_garp_lower_prio_delay 7\n\
             vrrp_lower_prio_no_advert\n vrrp_garp_master_refresh_repeat 4",
            " garp_lower_prio_repeat 2\n higher_prio_send_advert false",
        );
        assert_eq!(plan.lower_prio_repeat, 2);
        assert_eq!(plan.refresh_repeat, 4);
        assert!(contention.lower_prio_no_advert);
        assert!(!contention.higher_prio_send_advert);
        assert_eq!(contention.lower_prio_delay, Some(Duration::from_secs(7)));
    }

    /// keepalived 2.2.7 under vrrp_strict: global_defs' announce settings are not taken, the
    /// strict values are.
    #[test]
    fn strict_mode_takes_the_strict_values() {
        let (plan, contention) = settings(
            " vrrp_strict\n vrrp_garp_lower_prio_repeat 3\n vrrp_higher_prio_send_advert",
            "",
        );
        assert_eq!(plan.lower_prio_repeat, 0);
        assert!(contention.lower_prio_no_advert);
        assert!(!contention.higher_prio_send_advert);
    }
}
