//! global_defs' `log_unknown_vrids`: every advert received for a VRID that no instance runs
//! on its interface is logged, in keepalived 2.2.7's words (observed: `Unknown VRID(52)
//! received on interface(e0). ignoring...` for each such advert; nothing without the keyword).
//! Without it, ours says so once per interface in its own words (the VRRP driver, net.rs).
//! Read when the VRRP process starts; a reload does not change it.

use std::sync::atomic::{AtomicBool, Ordering};

use keepalived_config::Config;

use crate::logger::Logger;

/// Whether the running configuration sets `log_unknown_vrids`.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether `config` sets it.
pub fn wanted(config: &Config) -> bool {
    config
        .global
        .other
        .iter()
        .any(|s| s.keyword == "log_unknown_vrids")
}

/// Takes the setting of `config` (at the VRRP process's start).
pub fn set(config: &Config) {
    ENABLED.store(wanted(config), Ordering::Relaxed);
}

/// Whether each unknown VRID's advert is logged.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// 2.2.7's line for one advert of `vrid` on `interface`.
pub fn line(vrid: u8, interface: &str) -> String {
    format!("Unknown VRID({vrid}) received on interface({interface}). ignoring...")
}

/// Logs the advert of `vrid` received on `interface` when the setting is on.
pub fn report(logger: &Logger, vrid: u8, interface: &str) {
    if enabled() {
        logger.info(&line(vrid, interface));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    #[test]
    fn the_setting_and_its_line() {
        let host = FakeHost::lab();
        let load =
            |text: &str| load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config;
        assert!(wanted(&load("global_defs {\n log_unknown_vrids\n}\n")));
        assert!(!wanted(&load("global_defs {\n router_id r\n}\n")));
        assert_eq!(
            line(52, "e0"),
            "Unknown VRID(52) received on interface(e0). ignoring..."
        );
    }
}
