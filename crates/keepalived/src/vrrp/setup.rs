//! From the typed configuration to what the VRRP engine and the data path need: one
//! [`InstancePlan`] per vrrp_instance, with keepalived's global defaults applied.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{AuthType, Scope, VrrpInstance};
use keepalived_vrrp::instance::InstanceConfig;
use keepalived_vrrp::packet::{Auth, Version};

/// What the data path knows about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Kernel interface index.
    pub index: u32,
    /// The first IPv4 address configured on it, if any.
    pub primary: Option<Ipv4Addr>,
}

/// One address to add or remove: a VIP line of the configuration, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPlan {
    /// The interface it goes on (`dev`, else the instance's interface).
    pub interface: String,
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// `brd`.
    pub broadcast: Option<Ipv4Addr>,
    /// `scope`, as the kernel's RT_SCOPE number.
    pub scope: Option<u8>,
    /// `label`.
    pub label: Option<String>,
}

/// Everything needed to run one vrrp_instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The protocol side.
    pub config: InstanceConfig,
    /// The interface adverts go out on.
    pub interface: String,
    /// The addresses the master holds (virtual_ipaddress and virtual_ipaddress_excluded).
    pub addresses: Vec<AddressPlan>,
    /// Gratuitous ARPs per address in one burst (garp_master_repeat).
    pub garp_repeat: u32,
    /// Unicast peers; empty means multicast.
    pub unicast_peers: Vec<Ipv4Addr>,
}

/// A reason an instance cannot run; it is logged and the instance left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// The instance.
    pub instance: String,
    /// What is wrong.
    pub message: String,
}

/// Plans every instance of `config`; `lookup` answers for interface names.
pub fn plan(
    config: &Config,
    lookup: impl Fn(&str) -> Option<InterfaceInfo>,
) -> (Vec<InstancePlan>, Vec<PlanProblem>) {
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for inst in &config.instances {
        match plan_instance(config, inst, &lookup) {
            Ok(plan) => plans.push(plan),
            Err(message) => problems.push(PlanProblem {
                instance: inst.name.clone(),
                message,
            }),
        }
    }
    (plans, problems)
}

fn plan_instance(
    config: &Config,
    inst: &VrrpInstance,
    lookup: &impl Fn(&str) -> Option<InterfaceInfo>,
) -> Result<InstancePlan, String> {
    let global = &config.global;
    let interface = inst
        .interface
        .clone()
        .unwrap_or_else(|| global.default_interface.clone());
    let info = lookup(&interface).ok_or_else(|| format!("interface {interface} does not exist"))?;
    let version = match inst.version.unwrap_or(global.vrrp_version) {
        3 => Version::V3,
        _ => Version::V2,
    };
    let source = inst
        .unicast_src_ip
        .or(inst.mcast_src_ip)
        .and_then(|a| match a {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
    let local_address = source.or(info.primary).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let auth = match (&inst.authentication, version) {
        (Some(a), Version::V2) if a.auth_type == AuthType::Pass => Auth::pass(&a.password),
        (Some(a), Version::V2) if a.auth_type == AuthType::Ah => {
            return Err("auth_type AH is not supported yet (see docs/compat.md)".into());
        }
        _ => Auth::None,
    };
    let vips: Vec<Ipv4Addr> = inst
        .virtual_ipaddresses
        .iter()
        .filter_map(|a| match a.address {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect();
    if vips.len() != inst.virtual_ipaddresses.len() {
        return Err("IPv6 virtual addresses are not supported yet (see docs/compat.md)".into());
    }
    let addresses = inst
        .virtual_ipaddresses
        .iter()
        .chain(&inst.excluded_ipaddresses)
        .map(|a| AddressPlan {
            interface: a.dev.clone().unwrap_or_else(|| interface.clone()),
            address: a.address,
            prefix_len: a.prefix_len,
            broadcast: a.broadcast,
            scope: a.scope.map(scope_number),
            label: a.label.clone(),
        })
        .collect();
    let refresh = inst
        .garp_master_refresh
        .unwrap_or(global.vrrp_garp_master_refresh);
    let config = InstanceConfig {
        name: inst.name.clone(),
        interface: interface.clone(),
        vrid: inst.virtual_router_id,
        priority: inst.priority,
        advert_interval: Duration::from_secs_f64(inst.advert_int),
        // RFC 3768 section 6.1: Preempt_Mode; keepalived's `nopreempt` turns it off.
        preempt: !inst.nopreempt,
        preempt_delay: Duration::from_secs_f64(inst.preempt_delay),
        auth,
        version,
        addresses: vips,
        local_address,
        garp_master_delay: Duration::from_secs(u64::from(
            inst.garp_master_delay
                .unwrap_or(global.vrrp_garp_master_delay),
        )),
        garp_master_refresh: (refresh > 0).then(|| Duration::from_secs(u64::from(refresh))),
        unicast: !inst.unicast_peers.is_empty(),
    };
    // keepalived starts a `state MASTER` instance in BACKUP too (compat.md section 6); the
    // state only sets the default priority, which the config layer already did.
    Ok(InstancePlan {
        config,
        interface,
        addresses,
        garp_repeat: inst
            .garp_master_repeat
            .unwrap_or(global.vrrp_garp_master_repeat)
            .max(1),
        unicast_peers: inst
            .unicast_peers
            .iter()
            .filter_map(|p| match p {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect(),
    })
}

/// The kernel's RT_SCOPE numbers (linux/rtnetlink.h).
fn scope_number(scope: Scope) -> u8 {
    match scope {
        Scope::Global => 0,
        Scope::Site => 200,
        Scope::Link => 253,
        Scope::Host => 254,
        Scope::Nowhere => 255,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn plans(text: &str) -> Vec<InstancePlan> {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |name: &str| {
            (name == "eth0").then_some(InterfaceInfo {
                index: 2,
                primary: Some(Ipv4Addr::new(192, 0, 2, 10)),
            })
        };
        let (plans, problems) = plan(&loaded.config, lookup);
        assert!(problems.is_empty(), "{problems:?}");
        plans
    }

    #[test]
    fn seed_like_instance_is_planned_with_defaults() {
        let p = plans(
            "vrrp_instance VI_23 {\n state BACKUP\n nopreempt\n interface eth0\n virtual_router_id 23\n priority 100\n advert_int 5\n authentication {\n auth_type PASS\n auth_pass 1111\n }\n virtual_ipaddress {\n 192.0.2.100\n 192.0.2.101/24 dev eth0 label eth0:1 scope link\n }\n}\n",
        );
        let plan = &p[0];
        assert_eq!(plan.config.vrid, 23);
        assert!(!plan.config.preempt);
        assert_eq!(plan.config.advert_interval, Duration::from_secs(5));
        assert_eq!(plan.config.auth, Auth::pass(b"1111"));
        assert_eq!(plan.config.local_address, Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(plan.config.garp_master_delay, Duration::from_secs(5));
        assert_eq!(plan.garp_repeat, 5);
        assert_eq!(plan.addresses.len(), 2);
        assert_eq!(plan.addresses[0].prefix_len, 32);
        assert_eq!(plan.addresses[1].label.as_deref(), Some("eth0:1"));
        assert_eq!(plan.addresses[1].scope, Some(253));
    }

    #[test]
    fn mcast_src_ip_overrides_the_primary_address() {
        let p = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n mcast_src_ip 192.0.2.77\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n",
        );
        assert_eq!(p[0].config.local_address, Ipv4Addr::new(192, 0, 2, 77));
    }
}
