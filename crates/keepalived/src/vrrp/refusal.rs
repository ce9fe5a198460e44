//! When keepalived 2.2.7's VRRP process refuses to run a configuration it has read: it logs
//! why, exits with its configuration status, and the parent then stops the whole daemon with
//! exit status 2 (`pid N exited with permanent error CONFIG. Terminating`). Observed by running
//! 2.2.7 in a namespace (the runtime differential test, `tests/runtime_diff.rs`, keeps it so):
//!
//! 1. An interface the configuration names does not exist (for an instance, a tracked
//!    interface, a VIP's or a route's `dev`, a rule, a garp_group) and `dynamic_interfaces` is
//!    not set: after the lined warning, `Non-existent interface specified in configuration`.
//!    This is checked first: nothing else is said then.
//! 2. A vrrp_instance has no valid `virtual_router_id` (missing, out of range, an unrendered
//!    template): `(VI_1) the virtual router id must be set` — even when other instances are
//!    fine. The line is one of the configuration's own diagnostics, already logged.
//! 3. A vrrp_instance has no `interface` (`default_interface` does not stand in for it):
//!    `(VI_1) Unknown interface!`.
//!
//! A file with no vrrp_instance block at all is not refused: the daemon runs with nothing to do
//! ("Warning - keepalived has no configuration to run"), as 2.2.7 does.

use keepalived_config::{Config, Diagnostic};

/// The line 2.2.7 logs after an interface the configuration names was not found.
pub const NON_EXISTENT_INTERFACE: &str = "Non-existent interface specified in configuration";

/// Why the VRRP process refuses a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An interface named in the configuration does not exist (rule 1).
    NonExistentInterface,
    /// A vrrp_instance block had no valid VRID and was dropped (rule 2).
    MissingVrid,
    /// This vrrp_instance names no interface (rule 3).
    UnknownInterface(String),
}

impl Refusal {
    /// The line the VRRP process logs for it, when the configuration's diagnostics have not
    /// already said it.
    pub fn line(&self) -> Option<String> {
        match self {
            Refusal::NonExistentInterface => Some(NON_EXISTENT_INTERFACE.to_string()),
            Refusal::MissingVrid => None,
            Refusal::UnknownInterface(name) => Some(format!("({name}) Unknown interface!")),
        }
    }
}

impl Refusal {
    /// [`Refusal::line`] unless one of the configuration's `diagnostics` already says it (the
    /// reader reports the missing interface's line itself): 2.2.7 says it once.
    pub fn unsaid_line(&self, diagnostics: &[Diagnostic]) -> Option<String> {
        self.line()
            .filter(|line| !diagnostics.iter().any(|d| &d.message == line))
    }
}

/// Whether a diagnostic says a vrrp_instance lacked its VRID (the instance was dropped).
fn names_missing_vrid(d: &Diagnostic) -> bool {
    d.message.ends_with(") the virtual router id must be set")
}

/// Whether the configuration had a vrrp_instance block, counting those dropped for lacking a
/// VRID: 2.2.7 starts its VRRP process for them, which then refuses the file.
pub fn has_instances(config: &Config) -> bool {
    config.instance_blocks > 0
}

/// Why 2.2.7's VRRP process would refuse `config` (read with `diagnostics`), in its order;
/// `None` when it runs it.
pub fn refusal(config: &Config, diagnostics: &[Diagnostic]) -> Option<Refusal> {
    if config.nonexistent_interface {
        return Some(Refusal::NonExistentInterface);
    }
    if diagnostics.iter().any(names_missing_vrid) {
        return Some(Refusal::MissingVrid);
    }
    config
        .instances
        .iter()
        .find(|i| i.interface.is_none())
        .map(|i| Refusal::UnknownInterface(i.name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, Loaded, load_str};
    use std::path::Path;

    /// Read on a host with lo and eth0..eth3.
    fn load(text: &str) -> Loaded {
        let host = FakeHost::lab();
        load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host))
    }

    fn verdict(text: &str) -> (Option<Refusal>, bool) {
        let loaded = load(text);
        (
            refusal(&loaded.config, &loaded.diagnostics),
            has_instances(&loaded.config),
        )
    }

    fn instance(name: &str, body: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n{body}\n    virtual_ipaddress {{\n        192.0.2.100/32\n    }}\n}}\n"
        )
    }

    #[test]
    fn a_runnable_file_is_not_refused() {
        let text = instance("VI_1", "    interface eth0\n    virtual_router_id 51");
        assert_eq!(verdict(&text), (None, true));
        assert_eq!(
            verdict("global_defs {\n    router_id x\n}\n"),
            (None, false)
        );
    }

    #[test]
    fn an_instance_without_a_vrid_stops_everything() {
        let only = instance("VI_1", "    interface eth0");
        assert_eq!(verdict(&only), (Some(Refusal::MissingVrid), true));
        let beside = format!(
            "{}{}",
            instance("VI_1", "    interface eth0\n    virtual_router_id 51"),
            instance("VI_2", "    interface eth0\n    virtual_router_id 300")
        );
        assert_eq!(verdict(&beside), (Some(Refusal::MissingVrid), true));
        assert_eq!(Refusal::MissingVrid.line(), None);
    }

    #[test]
    fn a_missing_interface_anywhere_stops_everything_first() {
        for body in [
            "    interface eth9\n    virtual_router_id 51",
            "    interface eth9",
            "    interface eth0\n    virtual_router_id 51\n    track_interface {\n        eth9\n    }",
        ] {
            let text = instance("VI_1", body);
            assert_eq!(
                verdict(&text).0,
                Some(Refusal::NonExistentInterface),
                "{text}"
            );
        }
        let dev = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    \
                   virtual_ipaddress {\n        192.0.2.100/32 dev eth9\n    }\n}\n";
        assert_eq!(verdict(dev).0, Some(Refusal::NonExistentInterface));
        let dynamic = format!(
            "global_defs {{\n    dynamic_interfaces\n}}\n{}",
            instance("VI_1", "    interface eth9\n    virtual_router_id 51")
        );
        assert_eq!(verdict(&dynamic).0, None);
        assert_eq!(
            Refusal::NonExistentInterface.line().as_deref(),
            Some(NON_EXISTENT_INTERFACE)
        );
    }

    #[test]
    fn an_instance_without_an_interface_is_refused() {
        let text = format!(
            "global_defs {{\n    default_interface eth0\n}}\n{}",
            instance("VI_1", "    virtual_router_id 51")
        );
        let refused = verdict(&text).0;
        assert_eq!(refused, Some(Refusal::UnknownInterface("VI_1".into())));
        assert_eq!(
            refused.and_then(|r| r.line()).as_deref(),
            Some("(VI_1) Unknown interface!")
        );
    }
}
