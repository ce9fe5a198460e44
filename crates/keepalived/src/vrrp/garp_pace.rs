//! Spacing of gratuitous ARPs and unsolicited neighbour advertisements (issue 14, item 6):
//! `vrrp_garp_interval` / `vrrp_gna_interval` of global_defs and `garp_group { garp_interval;
//! gna_interval; interface / interfaces }`, the minimum time between two ARPs (two NAs) sent
//! on one interface, as keepalived 2.2.7 keeps it (observed on the wire, docs/compat.md
//! "Announcing"):
//!
//! - a *pace* belongs to each interface an instance runs on (the base of a VMAC) when a
//!   global interval is set, holding the global intervals; the interfaces of one
//!   `garp_group` share one pace holding only the group's intervals (the global ones do not
//!   fill in), so two interfaces of a group are spaced together;
//! - an interface without a pace (a VIP's other `dev`, or no interval anywhere) sends at once;
//! - ARPs and NAs are spaced apart, each against its own last send;
//! - an announcement that finds its pace free goes at once; otherwise the address is marked
//!   pending, and an address already pending is not queued again (so a burst of
//!   `garp_master_repeat` rounds sends an address at most twice: 2.2.7 does the same);
//! - pending addresses leave in instance order, then address order, one per pace each time
//!   the pace's interval has passed.
//!
//! Sans-IO: the driver offers each announcement and sends what it is told, at the deadline
//! it is given.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use keepalived_config::Config;

use super::setup::InstancePlan;

/// Which interfaces are paced, and how (built from the configuration and the plans).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PacePlan {
    /// Per pace: the ARP interval and the NA interval (`None`: not spaced).
    paces: Vec<(Option<Duration>, Option<Duration>)>,
    /// Interface name → pace.
    by_interface: HashMap<String, usize>,
}

/// A positive interval in seconds as a duration; 0 (or a bad value) is none.
fn interval(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

impl PacePlan {
    /// The paces `config` asks for over the interfaces the instances of `plans` run on.
    pub fn of(config: &Config, plans: &[InstancePlan]) -> PacePlan {
        let mut plan = PacePlan::default();
        for group in &config.garp_groups {
            let pace = plan.paces.len();
            plan.paces.push((
                group.garp_interval.and_then(interval),
                group.gna_interval.and_then(interval),
            ));
            for name in &group.interfaces {
                plan.by_interface.entry(name.clone()).or_insert(pace);
            }
        }
        let global = (
            interval(config.global.vrrp_garp_interval),
            interval(config.global.vrrp_gna_interval),
        );
        for inst in plans {
            let base = match &inst.vmac {
                Some(v) => v.base.clone(),
                None => inst.config.interface.clone(),
            };
            let pace = match plan.by_interface.get(&base) {
                Some(&pace) => Some(pace),
                None if global != (None, None) => {
                    plan.paces.push(global);
                    plan.by_interface.insert(base, plan.paces.len() - 1);
                    Some(plan.paces.len() - 1)
                }
                None => None,
            };
            // The addresses on a VMAC are announced on it; they are paced with its base.
            if let (Some(pace), Some(v)) = (pace, &inst.vmac) {
                plan.by_interface.entry(v.name.clone()).or_insert(pace);
            }
        }
        plan
    }

    /// Whether announcements on `interface` are paced.
    #[cfg(test)]
    pub fn is_paced(&self, interface: &str) -> bool {
        self.by_interface.contains_key(interface)
    }
}

/// What to do with one announcement offered to the [`Pacer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Send it now.
    Send,
    /// It waits: the pacer hands it back from [`Pacer::due`].
    Queued,
    /// The address is already waiting: nothing more to send for it.
    AlreadyPending,
}

/// One announcement waiting: (instance index, address index) in the driver's plans.
pub type Pending = (usize, usize);

/// The running state of a [`PacePlan`]: the last sends and the addresses waiting.
#[derive(Debug, Default)]
pub struct Pacer {
    plan: PacePlan,
    /// Per pace: when the next ARP and the next NA may leave.
    next: Vec<(Option<Instant>, Option<Instant>)>,
    /// Waiting announcements, in instance then address order → (pace, IPv6).
    pending: BTreeMap<Pending, (usize, bool)>,
}

impl Pacer {
    /// A pacer with nothing sent yet.
    pub fn new(plan: PacePlan) -> Pacer {
        let next = vec![(None, None); plan.paces.len()];
        Pacer {
            plan,
            next,
            pending: BTreeMap::new(),
        }
    }

    /// The plan it runs.
    #[cfg(test)]
    pub fn plan(&self) -> &PacePlan {
        &self.plan
    }

    /// The interval and next-send slot of `pace` for one family.
    fn slot(&mut self, pace: usize, ipv6: bool) -> (Option<Duration>, &mut Option<Instant>) {
        let (arp, na) = self.plan.paces[pace];
        let next = &mut self.next[pace];
        if ipv6 {
            (na, &mut next.1)
        } else {
            (arp, &mut next.0)
        }
    }

    /// Announcement `key` of an address on `interface` (`ipv6`: an NA, else an ARP) at `now`.
    pub fn offer(&mut self, key: Pending, interface: &str, ipv6: bool, now: Instant) -> Offer {
        let Some(&pace) = self.plan.by_interface.get(interface) else {
            return Offer::Send;
        };
        if self.pending.contains_key(&key) {
            return Offer::AlreadyPending;
        }
        let (every, next) = self.slot(pace, ipv6);
        let Some(every) = every else {
            return Offer::Send;
        };
        if next.is_none_or(|at| at <= now) {
            *next = Some(now + every);
            Offer::Send
        } else {
            self.pending.insert(key, (pace, ipv6));
            Offer::Queued
        }
    }

    /// The announcements to send at `now`, in order: for each pace and family at most one.
    pub fn due(&mut self, now: Instant) -> Vec<Pending> {
        let mut out = Vec::new();
        let waiting: Vec<(Pending, (usize, bool))> =
            self.pending.iter().map(|(k, v)| (*k, *v)).collect();
        for (key, (pace, ipv6)) in waiting {
            let (every, next) = self.slot(pace, ipv6);
            if next.is_none_or(|at| at <= now) {
                *next = every.map(|every| now + every);
                self.pending.remove(&key);
                out.push(key);
            }
        }
        out
    }

    /// When [`Pacer::due`] has something next, if anything waits.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|&(pace, ipv6)| {
                let next = self.next[pace];
                if ipv6 { next.1 } else { next.0 }
            })
            .min()
            .map(|at| at.unwrap_or_else(Instant::now))
    }

    /// Forgets what instance `instance` has waiting (its addresses were removed).
    pub fn forget(&mut self, instance: usize) {
        self.pending.retain(|&(i, _), _| i != instance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn pacer(global: &str, rest: &str) -> Pacer {
        let text = format!(
            "global_defs {{\n{global}\n}}\n\
             vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n\
             virtual_ipaddress {{\n 192.0.2.1\n }}\n}}\n\
             vrrp_instance B {{\n interface eth1\n virtual_router_id 2\n\
             virtual_ipaddress {{\n 192.0.2.2\n }}\n}}\n{rest}"
        );
        let host = FakeHost::lab();
        let loaded = load_str(&text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |name: &str| {
            name.starts_with("eth")
                .then_some(super::super::setup::InterfaceInfo {
                    index: 2,
                    primary: Some(std::net::Ipv4Addr::new(192, 0, 2, 10)),
                    link_local: None,
                })
        };
        let planned = super::super::setup::plan(&loaded.config, lookup, |_| None);
        assert_eq!(planned.instances.len(), 2, "{:?}", planned.problems);
        Pacer::new(PacePlan::of(&loaded.config, &planned.instances))
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn without_an_interval_everything_goes_at_once() {
        let mut p = pacer("", "");
        let t = Instant::now();
        assert!(!p.plan().is_paced("eth0"));
        for round in 0..3 {
            assert_eq!(p.offer((0, round), "eth0", false, t), Offer::Send);
        }
        assert_eq!(p.deadline(), None);
    }

    /// Observed with 2.2.7 (4 VIPs, garp_master_repeat 3, vrrp_garp_interval 0.1): the first
    /// ARP at once, then one per address 0.1 s apart, each address at most once more.
    #[test]
    fn a_burst_is_spaced_and_each_address_waits_once() {
        let mut p = pacer(" vrrp_garp_interval 0.1", "");
        let t = Instant::now();
        let mut offers = Vec::new();
        for _round in 0..3 {
            for a in 0..4 {
                offers.push(p.offer((0, a), "eth0", false, t));
            }
        }
        assert_eq!(offers[0], Offer::Send);
        assert_eq!(&offers[1..4], &[Offer::Queued; 3]);
        assert_eq!(
            offers[4],
            Offer::Queued,
            "address 0 waits for its second ARP"
        );
        assert!(offers[5..].iter().all(|o| *o == Offer::AlreadyPending));
        assert_eq!(p.deadline(), Some(t + 100 * MS));
        assert!(p.due(t + 99 * MS).is_empty());
        let mut sent = Vec::new();
        let mut at = t;
        for _ in 0..4 {
            at = p.deadline().expect("something waits");
            let due = p.due(at);
            assert_eq!(due.len(), 1, "one per interval");
            sent.push(due[0]);
        }
        assert_eq!(sent, vec![(0, 0), (0, 1), (0, 2), (0, 3)]);
        assert_eq!(at, t + 400 * MS);
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn arps_and_nas_have_their_own_spacing_and_interfaces_their_own_pace() {
        let mut p = pacer(" vrrp_garp_interval 0.1\n vrrp_gna_interval 0.2", "");
        let t = Instant::now();
        assert_eq!(p.offer((0, 0), "eth0", false, t), Offer::Send);
        assert_eq!(p.offer((0, 1), "eth0", true, t), Offer::Send);
        assert_eq!(p.offer((1, 0), "eth1", false, t), Offer::Send);
        assert_eq!(p.offer((0, 2), "eth0", true, t), Offer::Queued);
        assert_eq!(p.offer((0, 3), "eth0", false, t), Offer::Queued);
        assert_eq!(p.due(t + 100 * MS), vec![(0, 3)]);
        assert_eq!(p.due(t + 200 * MS), vec![(0, 2)]);
        // A VIP's other `dev` is not paced.
        assert_eq!(p.offer((0, 4), "eth2", false, t), Offer::Send);
        assert_eq!(p.offer((0, 5), "eth2", false, t), Offer::Send);
    }

    /// Observed with 2.2.7: the interfaces of a garp_group share one spacing, and the group
    /// replaces the global intervals (its NAs are not spaced by vrrp_gna_interval).
    #[test]
    fn a_garp_group_spaces_its_interfaces_together_and_overrides_the_global() {
        let mut p = pacer(
            " vrrp_garp_interval 0.1\n vrrp_gna_interval 0.2",
            "garp_group {\n garp_interval 0.3\n interfaces {\n eth0\n eth1\n }\n}\n",
        );
        let t = Instant::now();
        assert_eq!(p.offer((0, 0), "eth0", false, t), Offer::Send);
        assert_eq!(p.offer((1, 0), "eth1", false, t), Offer::Queued);
        assert_eq!(p.offer((0, 1), "eth0", true, t), Offer::Send);
        assert_eq!(p.offer((0, 2), "eth0", true, t), Offer::Send);
        assert!(p.due(t + 299 * MS).is_empty());
        assert_eq!(p.due(t + 300 * MS), vec![(1, 0)]);
    }

    #[test]
    fn a_forgotten_instance_sends_nothing_more() {
        let mut p = pacer(" vrrp_garp_interval 1", "");
        let t = Instant::now();
        assert_eq!(p.offer((0, 0), "eth0", false, t), Offer::Send);
        assert_eq!(p.offer((0, 1), "eth0", false, t), Offer::Queued);
        p.forget(0);
        assert_eq!(p.deadline(), None);
        assert!(p.due(t + Duration::from_secs(2)).is_empty());
    }
}
