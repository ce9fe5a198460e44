//! The VMAC interfaces of the running instances (`use_vmac`, planned in
//! [`crate::vrrp::vmac_plan`]): made (or taken over) before an instance's sockets open,
//! removed when the daemon stops, with the `/proc/sys/net/ipv4/conf` settings keepalived 2.2.7
//! gives them and their underlying interfaces (observed; docs/compat.md, VMAC).

use anyhow::Context;
use keepalived_net::interface;
use keepalived_net::vmac::{self, Existing, VmacManager};

use super::super::setup::InstancePlan;
use super::super::vmac_plan::{self, VmacPlan};
use super::super::wording;
use super::Driver;

/// The VMAC interfaces this daemon made or took over, and the settings to put back.
#[derive(Debug, Default)]
pub struct Vmacs {
    manager: Option<VmacManager>,
    /// (instance, interface name), in the order they were made.
    made: Vec<(String, String)>,
    /// Settings changed for the time the daemon runs: (sysctl key, value before).
    restore: Vec<(String, String)>,
    /// `net.ipv4.conf.all.rp_filter` as it was, once looked at.
    all_rp_filter: Option<u32>,
    /// Underlying interfaces already set up.
    bases: Vec<String>,
    /// The source address of the VMAC instances' adverts, by (underlying interface, IPv6):
    /// the underlying interface's first address (IPv4) or link-local one (IPv6), as last read.
    base_sources: std::collections::HashMap<(String, bool), Option<std::net::IpAddr>>,
}

fn conf(interface: &str, key: &str) -> String {
    format!("net/ipv4/conf/{interface}/{key}")
}

impl Driver {
    /// Makes the VMAC `plan` needs, or takes over the one there, before its sockets open;
    /// a named VMAC whose name another kind of interface holds falls back to `vrrp.VRID`, as
    /// keepalived 2.2.7 does.
    pub(super) async fn prepare_vmac(&mut self, plan: &mut InstancePlan) -> anyhow::Result<()> {
        self.prepare_instance_vmac(plan).await?;
        self.prepare_address_vmacs(plan).await;
        Ok(())
    }

    /// The instance's own VMAC (`use_vmac`).
    async fn prepare_instance_vmac(&mut self, plan: &mut InstancePlan) -> anyhow::Result<()> {
        let Some(wanted) = plan.vmac.clone() else {
            return Ok(());
        };
        let name = plan.config.name.clone();
        if self.vmacs.made.iter().any(|(_, v)| *v == wanted.name) {
            return Ok(());
        }
        if self.vmacs.manager.is_none() {
            self.vmacs.manager = Some(VmacManager::new().context("rtnetlink")?);
        }
        let base = interface::lookup(&wanted.base)
            .with_context(|| format!("interface {}", wanted.base))?;
        let manager = self.vmacs.manager.as_ref().context("rtnetlink")?;
        let mut current = wanted.name.clone();
        let mut existing = manager.inspect(&current, base.index, wanted.mac).await?;
        if existing == Existing::Foreign && current != wanted.default_name() {
            self.logger.info(&wording::about(
                &name,
                &format!(
                    "interface {current} already exists and is not a private macvlan; \
                     ignoring vmac if_name"
                ),
            ));
            let fallback = wanted.default_name();
            vmac_plan::rename(plan, &current, &fallback);
            current = fallback;
            existing = manager.inspect(&current, base.index, wanted.mac).await?;
        }
        let ipv6 = plan.config.local_address.is_ipv6();
        let families = (
            !ipv6 || plan.addresses.iter().any(|a| a.address.is_ipv4()),
            ipv6 || plan.addresses.iter().any(|a| a.address.is_ipv6()),
        );
        let wanted = plan.vmac.clone().unwrap_or(wanted);
        self.make_vmac(&name, &current, &wanted, base.index, existing, families)
            .await?;
        Ok(())
    }

    /// Makes the VMACs of an instance's addresses (`use_vmac_addr`, an address's own
    /// `use_vmac`); one that cannot be made is logged, and its addresses fail when added.
    async fn prepare_address_vmacs(&mut self, plan: &InstancePlan) {
        let name = plan.config.name.clone();
        for wanted in &plan.address_vmacs {
            if self.vmacs.made.iter().any(|(_, v)| *v == wanted.name) {
                continue;
            }
            let made = async {
                if self.vmacs.manager.is_none() {
                    self.vmacs.manager = Some(VmacManager::new().context("rtnetlink")?);
                }
                let base = interface::lookup(&wanted.base)
                    .with_context(|| format!("interface {}", wanted.base))?;
                let manager = self.vmacs.manager.as_ref().context("rtnetlink")?;
                let existing = manager
                    .inspect(&wanted.name, base.index, wanted.mac)
                    .await?;
                let ipv6 = wanted.ipv6;
                self.make_vmac(
                    &name,
                    &wanted.name,
                    wanted,
                    base.index,
                    existing,
                    (!ipv6, ipv6),
                )
                .await
            };
            if let Err(err) = made.await {
                self.logger.info(&wording::about(
                    &name,
                    &format!("cannot make VMAC interface {}: {err:#}", wanted.name),
                ));
            }
        }
    }

    /// Makes VMAC `current` as `wanted` says over what is there (`existing`), or takes it
    /// over, then gives it its addresses and settings.
    async fn make_vmac(
        &mut self,
        name: &str,
        current: &str,
        wanted: &VmacPlan,
        base_index: u32,
        existing: Existing,
        families: (bool, bool),
    ) -> anyhow::Result<()> {
        let manager = self.vmacs.manager.as_ref().context("rtnetlink")?;
        let made = |verb: &str| {
            format!(
                "{}: Success {verb} VMAC interface {current}",
                wording::instance(name)
            )
        };
        let index = match existing {
            Existing::Absent => {
                let index = manager
                    .create(current, base_index, wanted.mac, wanted.ipv6_on)
                    .await
                    .with_context(|| format!("cannot create VMAC interface {current}"))?;
                self.logger.info(&made("creating"));
                index
            }
            Existing::Compatible(index) => {
                manager.set_up(index).await?;
                index
            }
            Existing::WrongAddress(index) => {
                self.logger.info(&wording::about(
                    name,
                    &format!(
                        "VMAC {current} already exists but is incompatible. It will be \
                         deleted/updated"
                    ),
                ));
                self.logger.info(&wording::about(
                    name,
                    &format!("Update old VMAC interface {current} due to wrong MAC/mode "),
                ));
                manager.delete(index).await?;
                let index = manager
                    .create(current, base_index, wanted.mac, wanted.ipv6_on)
                    .await
                    .with_context(|| format!("cannot update VMAC interface {current}"))?;
                self.logger.info(&made("updating"));
                index
            }
            Existing::Foreign => anyhow::bail!(
                "interface {current} exists and is not a private macvlan on {}",
                wanted.base
            ),
        };
        if !self.vmacs.made.iter().any(|(_, v)| v == current) {
            self.vmacs
                .made
                .push((name.to_string(), current.to_string()));
        }
        // 2.2.7's nftables map sending IGMP / MLD reports out of the underlying interface
        // (driver/firewall.rs), of the VMAC's families (2.2.7, observed).
        self.firewall_vmac(index, base_index, families);
        // A new macvlan reports its carrier a moment after it is set up: wait for it (at most
        // a second), so the instance does not start with its interface seen down.
        for _ in 0..100 {
            if interface::lookup(current).is_ok_and(|i| i.up) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        match wanted.link_local {
            Some(address) => {
                let spec = vmac::ipv6_link_local_spec(index, address);
                if let Err(err) = self.addresses.add(&spec).await {
                    self.logger
                        .info(&format!("cannot add {address}/64 on {current}: {err}"));
                }
            }
            None if !wanted.ipv6 => self.ipv4_settings(wanted, current),
            None => {}
        }
        Ok(())
    }

    /// The interface whose address instance `i`'s adverts leave from, when it is not the
    /// link's: the VMAC's underlying interface (adverts sent on the VMAC carry the underlying
    /// interface's address; keepalived 2.2.7 follows it, observed: the address removed, the
    /// instance is in FAULT; another one added, it leaves FAULT and sends from it).
    fn source_base(&self, i: usize) -> Option<(&str, bool)> {
        let plan = &self.running[i].plan;
        let vmac = plan.vmac.as_ref().filter(|v| !v.xmit_base)?;
        Some((vmac.base.as_str(), plan.config.local_address.is_ipv6()))
    }

    /// The address instance `i` would send from now: its VMAC's underlying interface's, else
    /// its link's.
    pub(super) fn interface_source(&self, i: usize) -> Option<std::net::IpAddr> {
        match self.source_base(i) {
            Some((base, ipv6)) => match self.vmacs.base_sources.get(&(base.to_string(), ipv6)) {
                Some(known) => *known,
                // Not read yet: the address planned at start.
                None => {
                    let current = self.running[i].instance.config().local_address;
                    (!current.is_unspecified()).then_some(current)
                }
            },
            None => self.links[self.running[i].link].primary,
        }
    }

    /// For a VMAC instance sending from its underlying interface's address: the source it
    /// should have now (`current` while that interface has none); None for other instances.
    pub(super) fn vmac_source(
        &self,
        i: usize,
        current: std::net::IpAddr,
    ) -> Option<std::net::IpAddr> {
        self.source_base(i)?;
        Some(self.interface_source(i).unwrap_or(current))
    }

    /// An address changed on interface `index`: the VMAC instances over it whose source
    /// address changed (read again).
    pub(super) fn base_source_changed(&mut self, index: u32) -> Vec<usize> {
        let mut affected = Vec::new();
        for i in 0..self.running.len() {
            let Some((base, ipv6)) = self.source_base(i) else {
                continue;
            };
            let key = (base.to_string(), ipv6);
            let Ok(iface) = interface::lookup(base) else {
                continue;
            };
            if iface.index != index {
                continue;
            }
            let now = self.first_address(&iface, ipv6);
            let before = self.vmacs.base_sources.insert(key, now);
            if before.is_none_or(|b| b != now) {
                affected.push(i);
            }
        }
        affected
    }

    /// The IPv4 settings of a VMAC and of the interface under it; `rp_filter` is lowered for
    /// the time the daemon runs (a VMAC's packets come back on the underlying interface with
    /// its own source), keeping its strength on the underlying interface and for new ones.
    fn ipv4_settings(&mut self, wanted: &VmacPlan, current: &str) {
        let mut failed = Vec::new();
        for (key, value) in vmac::VMAC_IPV4_CONF {
            if vmac::write_sysctl(&conf(current, key), value).is_err() {
                failed.push(conf(current, key));
            }
        }
        if !self.vmacs.bases.contains(&wanted.base) {
            self.vmacs.bases.push(wanted.base.clone());
            for (key, value) in vmac::BASE_IPV4_CONF {
                if vmac::write_sysctl(&conf(&wanted.base, key), value).is_err() {
                    failed.push(conf(&wanted.base, key));
                }
            }
            let all = *self.vmacs.all_rp_filter.get_or_insert_with(|| {
                vmac::read_sysctl(&conf("all", "rp_filter"))
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            });
            if all != 0 {
                let mut keys = vec![
                    (conf("all", "rp_filter"), "0".to_string()),
                    (conf("default", "rp_filter"), all.to_string()),
                ];
                keys.retain(|(k, _)| !self.vmacs.restore.iter().any(|(r, _)| r == k));
                let own = conf(&wanted.base, "rp_filter");
                let base_value: u32 = vmac::read_sysctl(&own)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if base_value < all {
                    keys.push((own, all.to_string()));
                }
                for (key, value) in keys {
                    if let Ok(before) = vmac::read_sysctl(&key) {
                        self.vmacs.restore.push((key.clone(), before));
                    }
                    if vmac::write_sysctl(&key, &value).is_err() {
                        failed.push(key);
                    }
                }
            }
        }
        for key in failed {
            self.logger
                .info(&format!("cannot set /proc/sys/{key} for VMAC {current}"));
        }
    }

    /// Whether `event` is about a VMAC made here and no longer true: the kernel reports a new
    /// macvlan down, then up, and the watch may read those after the instance started.
    pub(super) fn stale_vmac_event(&self, event: &keepalived_net::link::LinkEvent) -> bool {
        self.vmacs.made.iter().any(|(_, name)| *name == event.name)
            && keepalived_net::link::is_up(&event.name).is_ok_and(|up| up != event.up)
    }

    /// After a reload: the VMACs no running instance plans any more are removed (after the
    /// addresses of the instances the reload stopped), as keepalived 2.2.7 does (observed:
    /// `(VI_2) Success removing VMAC interface vrrp.52`; for the VMAC of an address 2.2.7
    /// names no instance, `((null)) Success …`, where ours names the instance).
    pub(super) async fn remove_unplanned_vmacs(&mut self) {
        let planned: Vec<&str> = self
            .running
            .iter()
            .flat_map(|r| r.plan.vmac.iter().chain(&r.plan.address_vmacs))
            .map(|v| v.name.as_str())
            .collect();
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.vmacs.made)
            .into_iter()
            .partition(|(_, name)| planned.contains(&name.as_str()));
        self.vmacs.made = kept;
        self.delete_vmacs(gone).await;
    }

    /// Deletes the VMACs `made` ((instance, interface name)), each logged.
    async fn delete_vmacs(&self, made: Vec<(String, String)>) {
        let Some(manager) = &self.vmacs.manager else {
            return;
        };
        for (instance, name) in made {
            let removed = match manager.index_of(&name).await {
                Ok(Some(index)) => manager.delete(index).await,
                Ok(None) => continue,
                Err(err) => Err(err),
            };
            match removed {
                Ok(()) => self.logger.info(&wording::about(
                    &instance,
                    &format!("Success removing VMAC interface {name}"),
                )),
                Err(err) => self.logger.info(&wording::about(
                    &instance,
                    &format!("cannot remove VMAC interface {name}: {err}"),
                )),
            }
        }
    }

    /// At the stop: the VMACs made or taken over are removed (after the addresses), and the
    /// settings lowered for them put back.
    pub(super) async fn remove_vmacs(&mut self) {
        let made = std::mem::take(&mut self.vmacs.made);
        self.delete_vmacs(made).await;
        for (key, value) in std::mem::take(&mut self.vmacs.restore).into_iter().rev() {
            if let Err(err) = vmac::write_sysctl(&key, &value) {
                self.logger
                    .info(&format!("cannot restore /proc/sys/{key}: {err}"));
            }
        }
    }
}
