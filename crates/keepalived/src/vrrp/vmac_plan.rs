//! `use_vmac [NAME]` and `vmac_xmit_base` planned: which VMAC interface an instance needs, and
//! which of its interfaces move onto it (RFC 3768 section 7.3, RFC 5798 section 7.3: the
//! virtual router answers with the virtual MAC address).
//!
//! As keepalived 2.2.7 does (observed): the VIPs without a `dev` go on the VMAC; the adverts
//! are sent (and heard) on the VMAC, so their source MAC is the virtual one, unless
//! `vmac_xmit_base` sends them on the underlying interface; their source address stays the
//! underlying interface's.

use std::net::Ipv6Addr;

use keepalived_config::model::VrrpInstance;

/// The VMAC interface an instance needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacPlan {
    /// Its name: `use_vmac NAME`, else `vrrp.VRID`.
    pub name: String,
    /// The interface under it (the instance's `interface`).
    pub base: String,
    /// The virtual router MAC address (00:00:5e:00:01:VRID, or :02: for IPv6).
    pub mac: [u8; 6],
    /// `vmac_xmit_base`: adverts go out of `base`.
    pub xmit_base: bool,
    /// IPv6 instance: the VMAC carries `base`'s link-local address.
    pub link_local: Option<Ipv6Addr>,
}

impl VmacPlan {
    /// Whether `name` is the VMAC's default name (`vrrp.VRID`).
    pub fn default_name(&self) -> String {
        keepalived_net::vmac::default_name(self.mac[5])
    }
}

/// The VMAC `inst` asks for on `base`, if any.
pub fn vmac_of(
    inst: &VrrpInstance,
    base: &str,
    ipv6: bool,
    link_local: Option<Ipv6Addr>,
) -> Option<VmacPlan> {
    let given = inst.use_vmac.as_ref()?;
    let vrid = inst.virtual_router_id;
    // A name the config check refused (too long, `/` or `:`) falls back to the default.
    let name = if given.is_empty() || given.len() > 15 || given.contains(['/', ':']) {
        keepalived_net::vmac::default_name(vrid)
    } else {
        given.clone()
    };
    Some(VmacPlan {
        name,
        base: base.to_string(),
        mac: keepalived_net::vmac::virtual_mac(vrid, ipv6),
        xmit_base: inst.vmac_xmit_base,
        link_local: if ipv6 { link_local } else { None },
    })
}

/// Renames the VMAC of a plan's interfaces from `from` to `to` (a named VMAC whose name is
/// taken by another interface falls back to `vrrp.VRID`).
pub fn rename(plan: &mut super::setup::InstancePlan, from: &str, to: &str) {
    if plan.config.interface == from {
        std::sync::Arc::make_mut(&mut plan.config).interface = to.to_string();
    }
    for address in &mut plan.addresses {
        if address.interface == from {
            address.interface = to.to_string();
        }
    }
    if let Some(vmac) = &mut plan.vmac {
        vmac.name = to.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::super::setup::{InterfaceInfo, plan};
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::path::Path;

    fn planned(text: &str) -> Vec<super::super::setup::InstancePlan> {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: Some(Ipv4Addr::new(192, 0, 2, 10)),
                link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0a)),
            })
        };
        plan(&loaded.config, lookup, |_| None).instances
    }

    #[test]
    fn vips_and_adverts_move_onto_the_vmac_unless_xmit_base() {
        let p = planned(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n 192.0.2.100/24\n 192.0.2.101 dev eth0\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 52\n use_vmac vmx0\n vmac_xmit_base\n virtual_ipaddress {\n 192.0.2.102\n }\n}\n\
             vrrp_instance C {\n interface eth0\n virtual_router_id 53\n use_vmac\n virtual_ipaddress {\n 2001:db8::1/64\n }\n}\n\
             vrrp_instance D {\n interface eth0\n virtual_router_id 54\n virtual_ipaddress {\n 192.0.2.104\n }\n}\n",
        );
        let a = &p[0];
        let vmac = a.vmac.as_ref().expect("vmac");
        assert_eq!(
            (vmac.name.as_str(), vmac.base.as_str(), vmac.mac),
            ("vrrp.51", "eth0", [0, 0, 0x5e, 0, 1, 51])
        );
        assert_eq!(a.config.interface, "vrrp.51");
        assert_eq!(a.addresses[0].interface, "vrrp.51");
        assert_eq!(a.addresses[1].interface, "eth0");
        // The source address stays the underlying interface's.
        assert_eq!(
            a.config.local_address,
            std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
        );
        let b = &p[1];
        assert_eq!(b.config.interface, "eth0");
        assert_eq!(b.addresses[0].interface, "vmx0");
        assert!(b.vmac.as_ref().is_some_and(|v| v.xmit_base));
        let c = p[2].vmac.as_ref().expect("vmac");
        assert_eq!(c.mac, [0, 0, 0x5e, 0, 2, 53]);
        assert!(c.link_local.is_some());
        assert!(p[3].vmac.is_none());
    }
}
