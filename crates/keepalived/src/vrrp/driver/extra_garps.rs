//! `garp_extra_if` / `vrrp_garp_extra_if` carried out: while an instance is master, one
//! gratuitous ARP or unsolicited neighbour advertisement every interval for the first address
//! on each of its other interfaces ([`crate::vrrp::vmac_plan::GarpExtra`]), the first one an
//! interval after it became master, as keepalived 2.2.7 does (observed).

use std::collections::HashMap;
use std::time::Instant;

use super::Driver;

/// When each master instance (by name) announces next.
#[derive(Debug, Default)]
pub struct ExtraGarps {
    next: HashMap<String, Instant>,
}

impl ExtraGarps {
    /// The earliest announcement due.
    pub fn deadline(&self) -> Option<Instant> {
        self.next.values().min().copied()
    }
}

impl Driver {
    /// Instance `i` entered `master` (true) or left it: its periodic announcements start an
    /// interval from `now`, or stop.
    pub(super) fn extra_garps_follow(&mut self, i: usize, master: bool, now: Instant) {
        let plan = &self.running[i].plan;
        match (&plan.garp_extra, master) {
            (Some(extra), true) => {
                self.extra_garps
                    .next
                    .insert(plan.config.name.clone(), now + extra.interval);
            }
            _ => {
                self.extra_garps.next.remove(&plan.config.name);
            }
        }
    }

    /// The periodic announcements due at `now`; each is set again an interval later.
    pub(super) fn send_extra_garps(&mut self, now: Instant) {
        let due: Vec<String> = self
            .extra_garps
            .next
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let found = self.running.iter().position(|r| {
                r.plan.config.name == name
                    && r.instance.state() == keepalived_vrrp::event::State::Master
            });
            let Some(i) = found else {
                // Removed by a reload, or no longer master.
                self.extra_garps.next.remove(&name);
                continue;
            };
            let Some(extra) = self.running[i].plan.garp_extra.clone() else {
                self.extra_garps.next.remove(&name);
                continue;
            };
            self.extra_garps.next.insert(name, now + extra.interval);
            self.announce_some(i, 1, Some(&extra.addresses));
        }
    }
}
