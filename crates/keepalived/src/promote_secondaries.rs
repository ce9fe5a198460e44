//! An instance's `promote_secondaries`: the kernel then keeps an interface's other IPv4
//! addresses of a subnet when its primary one is removed (it promotes a secondary instead of
//! flushing them all), as when a VIP that is the interface's only address of its subnet
//! leaves. keepalived 2.2.7 (observed) sets `net.ipv4.conf.IF.promote_secondaries` to 1 for
//! the instance's interface when the VRRP process starts and puts back the value it found
//! when it stops (0 stays 0, a 1 set beforehand stays 1). A VMAC instance's VMAC interface has
//! it already (crates/net/src/vmac.rs); its base interface is left alone.

use std::path::PathBuf;

use keepalived_config::Config;

use crate::logger::Logger;

/// The sysctl file of `interface`'s setting.
fn path(interface: &str) -> PathBuf {
    PathBuf::from(format!(
        "/proc/sys/net/ipv4/conf/{interface}/promote_secondaries"
    ))
}

/// The interfaces whose setting the configuration asks for, each once, in order.
pub fn interfaces(config: &Config) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for instance in &config.instances {
        let wants = instance
            .other
            .iter()
            .any(|s| s.keyword == "promote_secondaries");
        if !wants || instance.use_vmac.is_some() {
            continue;
        }
        if let Some(interface) = instance.interface.as_deref()
            && !found.iter().any(|f| f == interface)
        {
            found.push(interface.to_string());
        }
    }
    found
}

/// The values found before they were set, to put back at stop.
#[derive(Debug, Default)]
pub struct Promoted {
    found: Vec<(String, String)>,
}

/// Sets the setting of each interface to 1, remembering what it was; an interface whose
/// setting cannot be read or written is logged and left.
pub fn apply(interfaces: &[String], logger: &Logger) -> Promoted {
    let mut promoted = Promoted::default();
    for interface in interfaces {
        let file = path(interface);
        let before = match std::fs::read_to_string(&file) {
            Ok(value) => value.trim().to_string(),
            Err(err) => {
                logger.info(&format!(
                    "Unable to read promote_secondaries of {interface} - {err}"
                ));
                continue;
            }
        };
        if before == "1" {
            continue;
        }
        match std::fs::write(&file, "1") {
            Ok(()) => promoted.found.push((interface.clone(), before)),
            Err(err) => logger.info(&format!(
                "Unable to set promote_secondaries of {interface} - {err}"
            )),
        }
    }
    promoted
}

impl Promoted {
    /// Puts back the values found (an interface that went away is skipped).
    pub fn restore(self) {
        for (interface, before) in self.found {
            let _ = std::fs::write(path(&interface), before);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    #[test]
    fn the_interfaces_of_the_instances_that_ask() {
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n promote_secondaries\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n promote_secondaries\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n\
                    vrrp_instance C {\n interface eth1\n virtual_router_id 3\n\
                    virtual_ipaddress {\n 192.0.2.3\n }\n}\n\
                    vrrp_instance D {\n interface eth1\n virtual_router_id 4\n use_vmac\n\
                    promote_secondaries\n virtual_ipaddress {\n 192.0.2.4\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        assert_eq!(interfaces(&loaded.config), vec!["eth0".to_string()]);
    }
}
