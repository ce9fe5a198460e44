//! `down_timer_adverts` (vrrp_instance) and its global default `vrrp_down_timer_adverts`
//! (global_defs): how many advert intervals an instance's Master_Down_Interval waits instead
//! of the RFCs' 3 (keepalived.conf(5); a deviation from RFC 3768 / RFC 5798 section 6.1 that
//! every router of the instance must share). keepalived 2.2.7 (observed): 6 adverts, advert_int
//! 1, priority 100 → MASTER 6.6 s after the start, i.e. adverts × interval + Skew_Time.

use keepalived_config::Config;
use keepalived_config::model::{RawSetting, VrrpInstance};
use keepalived_vrrp::config::RFC_DOWN_TIMER_ADVERTS;

/// The value of the last `keyword` among `settings` that is in 1..=100 (the check refused
/// others).
fn value<'a>(
    settings: impl DoubleEndedIterator<Item = &'a RawSetting>,
    keyword: &str,
) -> Option<u32> {
    settings
        .rev()
        .find(|s| s.keyword == keyword)
        .and_then(|s| s.args.first())
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| (1..=100).contains(v))
}

/// The instance's own value, else global_defs', else 3.
pub fn adverts(config: &Config, inst: &VrrpInstance) -> u32 {
    value(inst.other.iter(), "down_timer_adverts")
        .or_else(|| value(config.global.other.iter(), "vrrp_down_timer_adverts"))
        .unwrap_or(RFC_DOWN_TIMER_ADVERTS)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use keepalived_vrrp::config::master_down_interval_after;
    use keepalived_vrrp::packet::Version;

    use super::*;

    #[test]
    fn the_instance_then_the_global_default_then_three() {
        let text = "global_defs {\n vrrp_down_timer_adverts 5\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                    down_timer_adverts 6\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        let c = &loaded.config;
        assert_eq!(adverts(c, &c.instances[0]), 6);
        assert_eq!(adverts(c, &c.instances[1]), 5);
        let text = "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                    down_timer_adverts 101\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(adverts(&loaded.config, &loaded.config.instances[0]), 3);
        // 2.2.7: 6 adverts of 1 s at priority 100 → 6 s + (256 - 100) / 256 s.
        assert_eq!(
            master_down_interval_after(Version::V2, Duration::from_secs(1), 100, 6),
            Duration::from_secs(6) + Duration::from_nanos(156 * 3_906_250)
        );
    }
}
