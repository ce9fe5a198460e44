//! The nftables rules of instances without accept mode (`vrrp_strict`, `no_accept`): their
//! addresses enter the `vips` sets just before they are added as master, and leave just after
//! they are removed; the tables go at the stop. What to send is decided by
//! [`super::super::firewall_plan`]; this module sends it over netlink
//! ([`keepalived_net::nftables`]) and logs 2.2.7's lines.

use std::collections::{HashMap, HashSet};

use keepalived_net::nftables::{Family, Nftables};

use super::super::firewall_plan::{FirewallSettings, Keys, Ruleset, announces_nftables};
use super::super::setup::InstancePlan;
use super::super::wording;
use super::Driver;

/// The firewall's state in the driver.
#[derive(Debug)]
pub(super) struct Firewall {
    /// Opened when first needed; None after it could not be opened (said once).
    nft: Option<Nftables>,
    /// The socket could not be opened: nothing more is tried.
    unavailable: bool,
    /// Looked for tables left by an earlier run.
    looked_for_leftovers: bool,
    rules: Ruleset,
    /// The elements set for each master instance, by name.
    installed: HashMap<String, Keys>,
    /// Instances whose removal was logged since they last set theirs: 2.2.7 says it once
    /// per release (and once at start), not for each of our removal steps.
    released: HashSet<String>,
}

impl Firewall {
    /// With `settings` from global_defs; nothing is sent until an instance needs it.
    pub(super) fn new(settings: FirewallSettings) -> Firewall {
        Firewall {
            nft: None,
            unavailable: false,
            looked_for_leftovers: false,
            rules: Ruleset::new(settings),
            installed: HashMap::new(),
            released: HashSet::new(),
        }
    }
}

impl Driver {
    /// At start and on a reload: 2.2.7's line when nftables is picked without being asked
    /// for, and a look for tables an earlier run left (the first time some instance needs
    /// the firewall).
    pub(super) fn firewall_install(&mut self, plans: &[InstancePlan]) {
        let drops = plans.iter().any(|p| p.firewall);
        let vmac = plans.iter().any(|p| p.vmac.is_some());
        if announces_nftables(self.firewall.rules.settings(), drops, vmac) {
            self.logger.info(
                "use_vmac or no_accept/strict specified, but no firewall configured - using \
                 nftables",
            );
        }
        if drops && !self.firewall.looked_for_leftovers {
            self.firewall.looked_for_leftovers = true;
            let table = self.firewall.rules.settings().table.clone();
            for family in [Family::Ipv4, Family::Ipv6] {
                let found = self
                    .nft()
                    .map(|nft| nft.table_exists(family, &table))
                    .transpose();
                if let Ok(Some(true)) = found {
                    self.firewall.rules.found_leftover(family);
                }
            }
        }
    }

    /// Instance `i` becomes master: its addresses go into the sets.
    pub(super) fn firewall_set(&mut self, i: usize) {
        if !self.running[i].plan.firewall {
            return;
        }
        let name = self.running[i].plan.config.name.clone();
        self.firewall.released.remove(&name);
        self.logger
            .detail(&wording::about(&name, "setting firewall drop rule"));
        let keys = Keys::of(&self.running[i].plan.addresses, |interface| {
            self.ifindex.get(interface).copied().or_else(|| {
                keepalived_net::interface::lookup(interface)
                    .ok()
                    .map(|i| i.index)
            })
        });
        if keys.is_empty() {
            return;
        }
        for batch in self.firewall.rules.set(&keys) {
            let result = match self.nft() {
                Some(nft) => nft.apply(&batch.msgs),
                None => return,
            };
            match result {
                Ok(()) => self.firewall.rules.applied(&batch),
                Err(err) => self.logger.info(&wording::about(
                    &name,
                    &format!("cannot set the firewall drop rule: {err}"),
                )),
            }
        }
        self.firewall.installed.insert(name, keys);
    }

    /// Instance `i` leaves MASTER (or starts, or stops): its addresses leave the sets.
    pub(super) fn firewall_remove(&mut self, i: usize) {
        if !self.running[i].plan.firewall {
            return;
        }
        let name = self.running[i].plan.config.name.clone();
        if self.firewall.released.insert(name.clone()) {
            self.logger
                .detail(&wording::about(&name, "removing firewall drop rule"));
        }
        self.firewall_drop_keys(&name);
    }

    /// Takes the addresses instance `name` put into the sets out of them, without a line (a
    /// reload, before its master sets its new ones).
    pub(super) fn firewall_drop_keys(&mut self, name: &str) {
        let Some(keys) = self.firewall.installed.remove(name) else {
            return;
        };
        for batch in self.firewall.rules.remove(&keys) {
            let result = match self.nft() {
                Some(nft) => nft.apply(&batch.msgs),
                None => return,
            };
            if let Err(err) = result {
                self.logger.info(&wording::about(
                    name,
                    &format!("cannot remove the firewall drop rule: {err}"),
                ));
            }
        }
    }

    /// A VMAC (index `vmac`, on the interface of index `base`) was made for an instance
    /// with addresses of IPv4 (`v4`) and IPv6 (`v6`): its entry in the `vmac_map` of each
    /// of those families, the map and its rules made first if needed.
    pub(super) fn firewall_vmac(&mut self, vmac: u32, base: u32, (v4, v6): (bool, bool)) {
        for (ipv6, wanted) in [(false, v4), (true, v6)] {
            if !wanted {
                continue;
            }
            let batch = self.firewall.rules.vmac(ipv6, vmac, base);
            let result = match self.nft() {
                Some(nft) => nft.apply(&batch.msgs),
                None => return,
            };
            match result {
                Ok(()) => self.firewall.rules.applied(&batch),
                Err(err) => self
                    .logger
                    .info(&format!("cannot set the nftables VMAC map: {err}")),
            }
        }
    }

    /// The stop: the tables this run made are removed.
    pub(super) fn firewall_teardown(&mut self) {
        let msgs = self.firewall.rules.teardown();
        if msgs.is_empty() {
            return;
        }
        if let Some(nft) = self.nft()
            && let Err(err) = nft.apply(&msgs)
        {
            self.logger
                .info(&format!("cannot remove the nftables tables: {err}"));
        }
    }

    /// The socket, opened on first use; a failure is logged once.
    fn nft(&mut self) -> Option<&mut Nftables> {
        if self.firewall.nft.is_none() && !self.firewall.unavailable {
            match Nftables::open() {
                Ok(nft) => self.firewall.nft = Some(nft),
                Err(err) => {
                    self.firewall.unavailable = true;
                    self.logger.info(&format!(
                        "cannot open an nftables netlink socket, no firewall rules: {err}"
                    ));
                }
            }
        }
        self.firewall.nft.as_mut()
    }
}
