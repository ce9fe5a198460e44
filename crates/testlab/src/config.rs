//! A small builder for the keepalived.conf text the lab tests need.

use std::fmt::Write;

/// One `vrrp_instance`, rendered by [`VrrpInstance::render`] into a complete keepalived.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// Instance name (`VI_1`).
    pub name: String,
    /// `state`: `"BACKUP"` or `"MASTER"`.
    pub state: String,
    /// `interface`.
    pub interface: String,
    /// `virtual_router_id`.
    pub vrid: u8,
    /// `priority`.
    pub priority: u8,
    /// `advert_int` in seconds (fractions allowed for VRRPv3).
    pub advert_int: String,
    /// `auth_pass` with `auth_type PASS`, or no `authentication` block.
    pub auth_pass: Option<String>,
    /// `virtual_ipaddress` entries, e.g. `"192.0.2.100/32"`.
    pub vips: Vec<String>,
    /// `version` (2 or 3) if set.
    pub version: Option<u8>,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// Extra lines placed inside the instance block as they are.
    pub extra: Vec<String>,
    /// Extra lines placed inside `global_defs` as they are.
    pub global_extra: Vec<String>,
}

impl VrrpInstance {
    /// `VI_1` on eth0, state BACKUP, advert_int 1, no auth, VRRPv2 defaults.
    pub fn new(vrid: u8, priority: u8, vips: &[&str]) -> VrrpInstance {
        VrrpInstance {
            name: "VI_1".to_string(),
            state: "BACKUP".to_string(),
            interface: crate::HOST_IF.to_string(),
            vrid,
            priority,
            advert_int: "1".to_string(),
            auth_pass: None,
            vips: vips.iter().map(|s| (*s).to_string()).collect(),
            version: None,
            nopreempt: false,
            extra: Vec::new(),
            global_extra: Vec::new(),
        }
    }

    /// Sets PASS authentication.
    pub fn auth_pass(mut self, pass: &str) -> VrrpInstance {
        self.auth_pass = Some(pass.to_string());
        self
    }

    /// Sets `advert_int`.
    pub fn advert_int(mut self, secs: &str) -> VrrpInstance {
        self.advert_int = secs.to_string();
        self
    }

    /// Sets the VRRP version.
    pub fn version(mut self, version: u8) -> VrrpInstance {
        self.version = Some(version);
        self
    }

    /// Sets the instance name.
    pub fn named(mut self, name: &str) -> VrrpInstance {
        self.name = name.to_string();
        self
    }

    /// Sets `nopreempt`.
    pub fn nopreempt(mut self) -> VrrpInstance {
        self.nopreempt = true;
        self
    }

    /// Adds a line inside the instance block.
    pub fn extra(mut self, line: &str) -> VrrpInstance {
        self.extra.push(line.to_string());
        self
    }

    /// The complete config file: `global_defs` with `router_id` then the instance.
    pub fn render(&self, router_id: &str) -> String {
        render_config(router_id, std::slice::from_ref(self))
    }

    fn render_instance(&self, s: &mut String) {
        let _ = writeln!(s, "\nvrrp_instance {} {{", self.name);
        let _ = writeln!(s, "    state {}", self.state);
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        if let Some(v) = self.version {
            let _ = writeln!(s, "    version {v}");
        }
        if self.nopreempt {
            let _ = writeln!(s, "    nopreempt");
        }
        if let Some(p) = &self.auth_pass {
            let _ = writeln!(
                s,
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}"
            );
        }
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(s, "        {v}");
        }
        let _ = writeln!(s, "    }}");
        for l in &self.extra {
            let _ = writeln!(s, "    {l}");
        }
        let _ = writeln!(s, "}}");
    }
}

/// A config file with several instances: `global_defs` with `router_id` and the
/// `global_extra` lines of every instance, then each instance in order.
pub fn render_config(router_id: &str, instances: &[VrrpInstance]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "global_defs {{\n    router_id {router_id}");
    for l in instances.iter().flat_map(|i| &i.global_extra) {
        let _ = writeln!(s, "    {l}");
    }
    let _ = writeln!(s, "}}");
    for i in instances {
        i.render_instance(&mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_pass_instance() {
        let conf = VrrpInstance::new(51, 150, &["192.0.2.100/32"])
            .auth_pass("secret12")
            .render("a");
        assert!(conf.contains("virtual_router_id 51\n"));
        assert!(conf.contains("priority 150\n"));
        assert!(conf.contains("auth_type PASS\n        auth_pass secret12\n"));
        assert!(conf.contains("        192.0.2.100/32\n"));
        assert!(!conf.contains("version"));
    }

    #[test]
    fn renders_several_instances() {
        let conf = render_config(
            "b",
            &[
                VrrpInstance::new(51, 150, &["192.0.2.101/32"]).named("VI_1"),
                VrrpInstance::new(52, 100, &["192.0.2.102/32"])
                    .named("VI_2")
                    .nopreempt(),
            ],
        );
        assert_eq!(conf.matches("vrrp_instance ").count(), 2);
        assert_eq!(conf.matches("global_defs").count(), 1);
        assert!(conf.contains("vrrp_instance VI_2 {\n"));
        assert!(conf.contains("    nopreempt\n"));
    }
}
