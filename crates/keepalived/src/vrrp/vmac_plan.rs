//! `use_vmac [NAME]` and `vmac_xmit_base` planned: which VMAC interface an instance needs, and
//! which of its interfaces move onto it (RFC 3768 section 7.3, RFC 5798 section 7.3: the
//! virtual router answers with the virtual MAC address).
//!
//! As keepalived 2.2.7 does (observed): the VIPs without a `dev` go on the VMAC; the adverts
//! are sent (and heard) on the VMAC, so their source MAC is the virtual one, unless
//! `vmac_xmit_base` sends them on the underlying interface; their source address stays the
//! underlying interface's.

use std::net::Ipv6Addr;
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{RawSetting, VrrpInstance};

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
    /// An IPv6 VMAC (of an IPv6 instance, or of IPv6 addresses).
    pub ipv6: bool,
    /// The name to fall back to when a given name is held by another kind of link
    /// (`vmac_prefix`.VRID).
    pub fallback: String,
    /// IPv6 stays on: an IPv6 VMAC, or an IPv4 instance's own VMAC when the instance has
    /// IPv6 addresses (keepalived 2.2.7, observed; otherwise it turns IPv6 off there).
    pub ipv6_on: bool,
}

impl VmacPlan {
    /// The VMAC's default name (`vrrp.VRID`, or with `vmac_prefix`).
    pub fn default_name(&self) -> String {
        self.fallback.clone()
    }
}

/// The prefixes of generated VMAC names (global_defs `vmac_prefix`, default `vrrp`, and
/// `vmac_addr_prefix` for the VMACs of addresses, default the former), the last one written
/// winning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// `vmac_prefix`: the instance's own VMAC is `PREFIX.VRID`.
    pub prefix: String,
    /// `vmac_addr_prefix`: an address's VMAC is `PREFIX.VRID`, `PREFIX6.VRID` (IPv6) or
    /// `PREFIXn.VRID`.
    pub addr_prefix: String,
}

impl Naming {
    /// The prefixes global_defs sets.
    pub fn of(config: &Config) -> Self {
        let last = |keyword: &str| {
            config
                .global
                .other
                .iter()
                .rev()
                .find(|s| s.keyword == keyword)
                .and_then(|s| s.args.first().cloned())
        };
        let prefix = last("vmac_prefix").unwrap_or_else(|| "vrrp".to_string());
        let addr_prefix = last("vmac_addr_prefix").unwrap_or_else(|| prefix.clone());
        Naming {
            prefix,
            addr_prefix,
        }
    }
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            prefix: "vrrp".to_string(),
            addr_prefix: "vrrp".to_string(),
        }
    }
}

/// The VMAC `inst` asks for on `base`, if any.
pub fn vmac_of(
    inst: &VrrpInstance,
    base: &str,
    ipv6: bool,
    link_local: Option<Ipv6Addr>,
    naming: &Naming,
) -> Option<VmacPlan> {
    let given = inst.use_vmac.as_ref()?;
    let vrid = inst.virtual_router_id;
    // A name the config check refused (too long, `/` or `:`) falls back to the default.
    let fallback = format!("{}.{vrid}", naming.prefix);
    let name = if given.is_empty() || given.len() > 15 || given.contains(['/', ':']) {
        fallback.clone()
    } else {
        given.clone()
    };
    // `use_vmac NAME MAC`: 6 octets as given, or 5 and the VRID (keepalived 2.2.7, observed).
    let mac = match inst.use_vmac_mac.as_deref() {
        Some(&[a, b, c, d, e, f]) => [a, b, c, d, e, f],
        Some(&[a, b, c, d, e]) => [a, b, c, d, e, vrid],
        _ => keepalived_net::vmac::virtual_mac(vrid, ipv6),
    };
    Some(VmacPlan {
        name,
        ipv6,
        fallback,
        base: base.to_string(),
        mac,
        xmit_base: inst.vmac_xmit_base,
        link_local: if ipv6 { link_local } else { None },
        ipv6_on: ipv6
            || inst
                .virtual_ipaddresses
                .iter()
                .chain(&inst.excluded_ipaddresses)
                .any(|a| a.address.is_ipv6()),
    })
}

/// Where an instance's addresses go, and the VMACs of addresses it needs besides its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The interface of each address (virtual_ipaddress then virtual_ipaddress_excluded).
    pub interfaces: Vec<String>,
    /// The VMACs of addresses (`use_vmac_addr`, an address's own `use_vmac`), in the order
    /// they are made.
    pub vmacs: Vec<VmacPlan>,
}

/// Places the addresses of `inst`, whose interface is `interface` and family IPv6 when
/// `ipv6`, as keepalived 2.2.7 does (observed, docs/compat.md "VMAC interfaces"):
///
/// - an address with its own `use_vmac`, and with the instance's `use_vmac_addr` an address
///   on another interface (`dev`) or of the other family, goes on a VMAC of its interface
///   and family (MAC 00:00:5e:00:01:VRID, :02: for IPv6), one per (interface, family);
///   except an address of the instance's family on its interface when the instance has a
///   VMAC: that one goes on the instance's VMAC;
/// - other addresses go on their `dev`, else on the instance's VMAC or interface.
///
/// The VMACs of addresses are named `ADDR_PREFIX.VRID` (IPv4) or `ADDR_PREFIX6.VRID`
/// (IPv6), else `ADDR_PREFIXn.VRID` with the smallest n from 1 whose name is free; `taken`
/// holds the names planned so far (all instances) and gets these.
pub fn place(
    inst: &VrrpInstance,
    (interface, ipv6): (&str, bool),
    own: Option<&VmacPlan>,
    naming: &Naming,
    link_local_of: &dyn Fn(&str) -> Option<Ipv6Addr>,
    taken: &mut Vec<String>,
) -> Placement {
    let vrid = inst.virtual_router_id;
    let use_vmac_addr = has(&inst.other, "use_vmac_addr");
    let vip_interface = own.map_or(interface, |v| v.name.as_str());
    let mut placement = Placement::default();
    for a in inst
        .virtual_ipaddresses
        .iter()
        .chain(&inst.excluded_ipaddresses)
    {
        let dev = a.dev.as_deref().unwrap_or(interface);
        let family_v6 = a.address.is_ipv6();
        let same = dev == interface && family_v6 == ipv6;
        let own_option = a.other.iter().any(|o| o == "use_vmac");
        let wants = own_option || (use_vmac_addr && !same);
        let on = if wants && !(same && own.is_some()) {
            let found = placement
                .vmacs
                .iter()
                .find(|v| v.base == dev && v.ipv6 == family_v6);
            match found {
                Some(v) => v.name.clone(),
                None => {
                    let name = free_name(&naming.addr_prefix, vrid, family_v6, taken);
                    taken.push(name.clone());
                    placement.vmacs.push(VmacPlan {
                        name: name.clone(),
                        ipv6: family_v6,
                        fallback: name.clone(),
                        base: dev.to_string(),
                        mac: keepalived_net::vmac::virtual_mac(vrid, family_v6),
                        xmit_base: false,
                        link_local: if family_v6 { link_local_of(dev) } else { None },
                        ipv6_on: family_v6,
                    });
                    name
                }
            }
        } else {
            a.dev
                .as_ref()
                .map_or_else(|| vip_interface.to_string(), |d| d.to_string())
        };
        placement.interfaces.push(on);
    }
    placement
}

/// The first free name of an address's VMAC.
fn free_name(prefix: &str, vrid: u8, ipv6: bool, taken: &[String]) -> String {
    let first = if ipv6 {
        format!("{prefix}6.{vrid}")
    } else {
        format!("{prefix}.{vrid}")
    };
    if !taken.contains(&first) {
        return first;
    }
    (1..=255u32)
        .map(|n| format!("{prefix}{n}.{vrid}"))
        .find(|name| !taken.contains(name))
        .unwrap_or(first)
}

fn has(settings: &[RawSetting], keyword: &str) -> bool {
    settings.iter().any(|s| s.keyword == keyword)
}

/// `garp_extra_if [all] SECONDS` of an instance, else `vrrp_garp_extra_if` (or its old name
/// `vrrp_vmac_garp_intvl`) of global_defs: while master, every SECONDS one gratuitous ARP
/// (IPv4) or unsolicited neighbour advertisement (IPv6) for the first address on each
/// interface of the instance's addresses other than its own interface, only on VMACs unless
/// `all` (keepalived 2.2.7, observed: so that switches keep the MACs of interfaces that send
/// no adverts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpExtra {
    /// The period.
    pub interval: Duration,
    /// The addresses announced each time (indices into the plan's addresses).
    pub addresses: Vec<usize>,
}

/// The extra gratuitous ARPs of an instance: its `addresses` placed on `interfaces`, its own
/// interface `own` (its VMAC, or its interface), and `vmacs` the names of VMAC interfaces.
pub fn garp_extra(
    config: &Config,
    inst: &VrrpInstance,
    interfaces: &[String],
    own: &[&str],
    vmacs: &[&str],
) -> Option<GarpExtra> {
    let setting =
        inst.other
            .iter()
            .rev()
            .find(|s| s.keyword == "garp_extra_if")
            .or_else(|| {
                config.global.other.iter().rev().find(|s| {
                    s.keyword == "vrrp_garp_extra_if" || s.keyword == "vrrp_vmac_garp_intvl"
                })
            })?;
    let all = setting.args.first().is_some_and(|a| a == "all");
    let seconds: u64 = setting
        .args
        .get(usize::from(all))
        .and_then(|v| v.parse().ok())
        .filter(|v| *v <= 86_400)?;
    if seconds == 0 {
        return None;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut addresses = Vec::new();
    for (index, on) in interfaces.iter().enumerate() {
        if own.contains(&on.as_str()) || seen.contains(&on.as_str()) {
            continue;
        }
        seen.push(on);
        if all || vmacs.contains(&on.as_str()) {
            addresses.push(index);
        }
    }
    (!addresses.is_empty()).then(|| GarpExtra {
        interval: Duration::from_secs(seconds),
        addresses,
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
    use std::time::Duration;

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

    #[test]
    fn addresses_get_vmacs_of_their_interface_and_family_named_as_keepalived_does() {
        // As keepalived 2.2.7 made them (observed, docs/compat.md "VMAC interfaces").
        let p = planned(
            "global_defs {\n vmac_prefix vx\n vmac_addr_prefix va\n}\n\
             vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n use_vmac_addr\n\
             virtual_ipaddress {\n 192.0.2.100/24\n 198.51.100.100/24 dev eth1\n 203.0.113.100/24 dev eth1 use_vmac\n }\n\
             virtual_ipaddress_excluded {\n 2001:db8::100/64\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 52\n use_vmac\n\
             virtual_ipaddress {\n 192.0.2.102/24\n 198.51.100.102/24 dev eth1 use_vmac\n 203.0.113.102/24 dev eth2 use_vmac\n 198.51.100.103/24 dev eth1\n }\n\
             virtual_ipaddress_excluded {\n 2001:db8::102/64 dev eth1 use_vmac\n 2001:db8::103/64 use_vmac\n }\n}\n",
        );
        let on = |i: usize| -> Vec<&str> {
            p[i].addresses
                .iter()
                .map(|a| a.interface.as_str())
                .collect()
        };
        let vmacs = |i: usize| -> Vec<(&str, &str, u8)> {
            p[i].address_vmacs
                .iter()
                .map(|v| (v.name.as_str(), v.base.as_str(), v.mac[4]))
                .collect()
        };
        assert_eq!(p[0].vmac.as_ref().map(|v| v.name.as_str()), Some("vx.51"));
        assert_eq!(on(0), ["vx.51", "va.51", "va.51", "va6.51"]);
        assert_eq!(vmacs(0), [("va.51", "eth1", 1), ("va6.51", "eth0", 2)]);
        assert!(p[0].address_vmacs[1].link_local.is_some());
        assert_eq!(
            on(1),
            ["vx.52", "va.52", "va1.52", "eth1", "va6.52", "va2.52"]
        );
        assert_eq!(
            vmacs(1),
            [
                ("va.52", "eth1", 1),
                ("va1.52", "eth2", 1),
                ("va6.52", "eth1", 2),
                ("va2.52", "eth0", 2)
            ]
        );
    }

    #[test]
    fn extra_garps_go_to_the_first_address_of_each_other_interface() {
        let text = |global: &str, own: &str| {
            format!(
                "global_defs {{\n {global}\n}}\n\
                 vrrp_instance A {{\n interface eth0\n virtual_router_id 53\n {own}\n\
                 virtual_ipaddress {{\n 192.0.2.53/24 use_vmac\n 192.0.2.54/24\n 198.51.100.53/24 dev eth1\n 198.51.100.54/24 dev eth1\n 192.0.2.55/24 use_vmac\n }}\n}}\n"
            )
        };
        let extra = |global: &str, own: &str| planned(&text(global, own))[0].garp_extra.clone();
        // Only VMACs by default; every other interface with `all`; the instance's own never.
        let vmacs_only = extra("vrrp_garp_extra_if 100", "").expect("extra");
        assert_eq!(vmacs_only.addresses, [0]);
        assert_eq!(vmacs_only.interval, Duration::from_secs(100));
        let all = extra("vrrp_vmac_garp_intvl 3\n vrrp_garp_extra_if all 4", "").expect("extra");
        assert_eq!(all.addresses, [0, 2]);
        assert_eq!(all.interval, Duration::from_secs(4));
        // The instance's setting wins; 0 turns it off.
        let own = extra("vrrp_garp_extra_if 100", "garp_extra_if all 7").expect("extra");
        assert_eq!(
            (own.addresses, own.interval),
            (vec![0, 2], Duration::from_secs(7))
        );
        assert_eq!(extra("vrrp_garp_extra_if all 100", "garp_extra_if 0"), None);
        assert_eq!(extra("router_id x", ""), None);
    }

    #[test]
    fn use_vmac_takes_a_mac_of_its_own() {
        let p = planned(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 74\n use_vmac vm74 02:11:22:33:44\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 75\n use_vmac 02:11:22:33:44:55\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n\
             vrrp_instance C {\n interface eth0\n virtual_router_id 76\n use_vmac vm76 01:11:22:33:44:55\n virtual_ipaddress {\n 192.0.2.3\n }\n}\n",
        );
        let of = |i: usize| {
            let v = p[i].vmac.as_ref().expect("vmac");
            (v.name.clone(), v.mac)
        };
        assert_eq!(of(0), ("vm74".to_string(), [2, 0x11, 0x22, 0x33, 0x44, 74]));
        assert_eq!(
            of(1),
            ("vrrp.75".to_string(), [2, 0x11, 0x22, 0x33, 0x44, 0x55])
        );
        // A multicast MAC is refused: the virtual router MAC.
        assert_eq!(of(2), ("vm76".to_string(), [0, 0, 0x5e, 0, 1, 76]));
    }
}
