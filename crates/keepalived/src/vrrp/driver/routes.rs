//! Routes and policy rules, as keepalived 2.2.7 installs them (observed with `ip route show
//! table all` / `ip rule` beside its log):
//!
//! - an instance's virtual_routes and virtual_rules are set after its addresses when it
//!   becomes MASTER (`setting Virtual Routes`, `setting Virtual Rules`), and removed, rules
//!   first, before its addresses when it leaves MASTER or stops (`removing Virtual Rules`,
//!   `removing Virtual Routes`); at start-up both lines are logged too, but only the rules
//!   are removed (2.2.7 sends RTM_DELRULE then and no RTM_DELROUTE: a route is removed only
//!   once it was set); `-V` leaves them in place at the stop, with the addresses;
//! - static_ipaddress, static_routes and static_rules are installed at start-up and removed at
//!   the stop;
//! - a reload removes the static and virtual lines that are gone (`Removing route PREFIX`,
//!   `ip rule from ADDR removed`) and installs the new ones; a master sets its whole list again
//!   (what is already there stays).

use std::io;

use keepalived_net::addresses::AddressSpec;
use keepalived_net::interface;
use keepalived_net::routes::RouteManager;
use keepalived_net::rules::{RuleManager, RuleSpec};

use super::super::route_plan::{
    PolicyPlan, RouteLine, RuleLine, StaticAddress, StaticPlan, route_name, route_spec, rule_name,
    rule_spec,
};
use super::super::wording;
use super::{Driver, Running};
use crate::logger::Logger;

/// The rtnetlink sockets for routes and rules, the static blocks installed now, and the
/// instances whose virtual routes are set.
#[derive(Debug)]
pub(super) struct Policy {
    routes: RouteManager,
    rules: RuleManager,
    statics: StaticPlan,
    set: std::collections::HashSet<String>,
}

impl Policy {
    /// Opens the sockets (inside the tokio runtime).
    pub(super) fn new() -> io::Result<Policy> {
        Ok(Policy {
            routes: RouteManager::new()?,
            rules: RuleManager::new()?,
            statics: StaticPlan::default(),
            set: std::collections::HashSet::new(),
        })
    }
}

/// The interface index of `name` now.
fn ifindex(name: &str) -> Option<u32> {
    interface::lookup(name).ok().map(|i| i.index)
}

/// Where a line is logged from: an instance's lines name it, static ones do not.
fn say(logger: &Logger, instance: Option<&str>, text: &str) {
    match instance {
        Some(name) => logger.info(&wording::about(name, text)),
        None => logger.info(text),
    }
}

impl Policy {
    async fn add_route(&self, logger: &Logger, who: Option<&str>, line: &RouteLine) {
        let spec = match route_spec(&line.words, &ifindex) {
            Ok(spec) => spec,
            Err(err) => {
                let text = format!("cannot install route `{}`: {err}", line.words.join(" "));
                return say(logger, who, &text);
            }
        };
        match self.routes.add(&spec).await {
            Ok(()) => {}
            // Already there (a master setting its list again, a reload).
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => {}
            Err(err) => say(
                logger,
                who,
                &format!("cannot add route {}: {err}", route_name(&spec)),
            ),
        }
    }

    async fn remove_route(&self, logger: &Logger, who: Option<&str>, line: &RouteLine) {
        // A line whose interface has gone cannot name the route; nothing to remove then (the
        // kernel removed the routes of the interface with it).
        let Ok(spec) = route_spec(&line.words, &ifindex) else {
            return;
        };
        if let Err(err) = self.routes.remove(&spec).await {
            say(
                logger,
                who,
                &format!("cannot remove route {}: {err}", route_name(&spec)),
            );
        }
    }

    async fn add_rule(&self, logger: &Logger, who: Option<&str>, line: &RuleLine) {
        let spec = match rule_spec(line) {
            Ok(spec) => spec,
            Err(err) => {
                let text = format!("cannot install rule `{}`: {err}", line.words.join(" "));
                return say(logger, who, &text);
            }
        };
        match self.rules.add(&spec).await {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => {}
            Err(err) => say(
                logger,
                who,
                &format!("cannot add ip rule {}: {err}", rule_name(&spec)),
            ),
        }
    }

    async fn remove_rule(&self, logger: &Logger, who: Option<&str>, spec: &RuleSpec) {
        if let Err(err) = self.rules.remove(spec).await {
            say(
                logger,
                who,
                &format!("cannot remove ip rule {}: {err}", rule_name(spec)),
            );
        }
    }

    /// Sets every route, then every rule, of `plan`.
    async fn set(&self, logger: &Logger, who: Option<&str>, plan: &PolicyPlan) {
        if !plan.routes.is_empty() {
            if let Some(name) = who {
                logger.detail(&wording::about(name, "setting Virtual Routes"));
            }
            for line in &plan.routes {
                self.add_route(logger, who, line).await;
            }
        }
        if !plan.rules.is_empty() {
            if let Some(name) = who {
                logger.detail(&wording::about(name, "setting Virtual Rules"));
            }
            for line in &plan.rules {
                self.add_rule(logger, who, line).await;
            }
        }
    }

    /// Removes every rule, then (when `routes`) every route, of `plan`.
    async fn clear(&self, logger: &Logger, who: Option<&str>, plan: &PolicyPlan, routes: bool) {
        if !plan.rules.is_empty() {
            if let Some(name) = who {
                logger.detail(&wording::about(name, "removing Virtual Rules"));
            }
            for line in &plan.rules {
                if let Ok(spec) = rule_spec(line) {
                    self.remove_rule(logger, who, &spec).await;
                }
            }
        }
        if !plan.routes.is_empty() {
            if let Some(name) = who {
                logger.detail(&wording::about(name, "removing Virtual Routes"));
            }
            if routes {
                for line in &plan.routes {
                    self.remove_route(logger, who, line).await;
                }
            }
        }
    }

    /// Removes what `old` has and `new` has not, saying so as 2.2.7 does.
    async fn remove_gone(
        &self,
        logger: &Logger,
        who: Option<&str>,
        old: &PolicyPlan,
        new: &PolicyPlan,
    ) {
        for line in old.rules.iter().filter(|l| !new.rules.contains(l)) {
            if let Ok(spec) = rule_spec(line) {
                self.remove_rule(logger, who, &spec).await;
                logger.info(&format!("ip rule {} removed", rule_name(&spec)));
            }
        }
        for line in old.routes.iter().filter(|l| !new.routes.contains(l)) {
            if let Ok(spec) = route_spec(&line.words, &ifindex) {
                logger.info(&format!("Removing route {}", route_name(&spec)));
            }
            self.remove_route(logger, who, line).await;
        }
    }
}

/// The AddressSpec of a static address, when its interface exists.
fn static_spec(a: &StaticAddress) -> Result<AddressSpec, String> {
    let Some(dev) = &a.dev else {
        return Err(format!("static address {} has no interface", a.address));
    };
    let ifindex = ifindex(dev).ok_or_else(|| format!("interface {dev} doesn't exist"))?;
    Ok(AddressSpec {
        ifindex,
        address: a.address,
        prefix_len: a.prefix_len,
        broadcast: a.broadcast,
        scope: a.scope,
        label: a.label.clone(),
        dad: a.dad,
        preferred_lft: a.preferred_lft,
        peer: a.peer,
        flags: a.flags,
    })
}

impl Driver {
    /// Instance `i` became MASTER: its routes, then its rules (after its addresses).
    pub(super) async fn set_virtual_policy(&mut self, i: usize) {
        let running = &self.running[i];
        let name = running.plan.config.name.as_str();
        self.policy.set.insert(name.to_string());
        self.policy
            .set(&self.logger, Some(name), &running.plan.policy)
            .await;
    }

    /// Instance `i` leaves MASTER, stops, or starts (leftovers): its rules, then its routes
    /// (before its addresses).
    pub(super) async fn clear_virtual_policy(&mut self, i: usize) {
        let running = &self.running[i];
        let name = running.plan.config.name.as_str();
        let routes = self.policy.set.remove(name);
        self.policy
            .clear(&self.logger, Some(name), &running.plan.policy, routes)
            .await;
    }

    /// A reload keeps `running` with the policy `new`: what is gone is removed; a master
    /// sets its list again.
    pub(super) async fn reload_virtual_policy(&self, running: &Running, new: &PolicyPlan) {
        let old = &running.plan.policy;
        let name = running.plan.config.name.as_str();
        self.policy
            .remove_gone(&self.logger, Some(name), old, new)
            .await;
        if running.instance.state() == keepalived_vrrp::instance::State::Master {
            self.policy.set(&self.logger, Some(name), new).await;
        }
    }

    /// Installs the static blocks at start-up, or, on a reload, removes what is gone and
    /// installs the rest.
    pub(super) async fn install_statics(&mut self, new: StaticPlan) {
        let old = std::mem::take(&mut self.policy.statics);
        for a in old.addresses.iter().filter(|a| !new.addresses.contains(a)) {
            if let Ok(spec) = static_spec(a)
                && let Err(err) = self.addresses.remove(&spec).await
            {
                self.logger.info(&format!(
                    "cannot remove static address {}: {err}",
                    a.address
                ));
            }
        }
        self.policy
            .remove_gone(&self.logger, None, &old.policy, &new.policy)
            .await;
        for a in &new.addresses {
            let result = match static_spec(a) {
                Ok(spec) => self.addresses.add(&spec).await.map_err(|e| e.to_string()),
                Err(err) => Err(err),
            };
            if let Err(err) = result {
                self.logger.info(&format!(
                    "cannot add static address {}/{}: {err}",
                    a.address, a.prefix_len
                ));
            }
        }
        self.policy.set(&self.logger, None, &new.policy).await;
        self.policy.statics = new;
    }

    /// The stop: the static rules, routes and addresses go.
    pub(super) async fn remove_statics(&mut self) {
        let old = std::mem::take(&mut self.policy.statics);
        self.policy
            .clear(&self.logger, None, &old.policy, true)
            .await;
        for a in &old.addresses {
            if let Ok(spec) = static_spec(a) {
                let _ = self.addresses.remove(&spec).await;
            }
        }
    }
}

/// Whether `deleted` is one of the tracked routes or rules of `plan` (those marked `proto
/// keepalived`, i.e. without `no_track`).
pub fn tracks(plan: &PolicyPlan, deleted: &crate::vrrp::policy_monitor::Deleted) -> bool {
    use crate::vrrp::policy_monitor::{Deleted, RTPROT_KEEPALIVED};
    match deleted {
        Deleted::Route {
            destination,
            prefix_len,
            table,
        } => plan.routes.iter().any(|line| {
            // A `no_track` route is marked as keepalived's too (2.2.7 does the same).
            !line.words.iter().any(|w| w == "no_track")
                && route_spec(&line.words, &ifindex).is_ok_and(|spec| {
                    spec.protocol == RTPROT_KEEPALIVED
                        && spec.destination == *destination
                        && spec.prefix_len == *prefix_len
                        && spec.table == *table
                })
        }),
        Deleted::Rule { ipv6, priority } => plan.rules.iter().any(|line| {
            !line.words.iter().any(|w| w == "no_track")
                && rule_spec(line).is_ok_and(|spec| {
                    spec.protocol == Some(RTPROT_KEEPALIVED)
                        && spec.ipv6 == *ipv6
                        && spec.priority == *priority
                })
        }),
    }
}

impl Driver {
    /// A route or rule of keepalived's was deleted: a master that tracks it steps down and,
    /// alone, takes over again and sets everything again (keepalived 2.2.7, observed). A
    /// deletion of our own (leaving MASTER, stopping) finds no master tracking it.
    pub(super) async fn policy_deleted(&mut self, deleted: crate::vrrp::policy_monitor::Deleted) {
        let now = std::time::Instant::now();
        for i in 0..self.running.len() {
            let running = &self.running[i];
            if running.instance.state() == keepalived_vrrp::instance::State::Master
                && tracks(&running.plan.policy, &deleted)
            {
                self.running[i].instance.step_down(now);
                self.execute(i).await;
            }
        }
    }
}

#[cfg(test)]
mod tracking_tests {
    use super::*;
    use crate::vrrp::policy_monitor::Deleted;
    use std::net::{IpAddr, Ipv4Addr};

    fn plan(routes: &[&str], rules: &[(&str, u32)]) -> PolicyPlan {
        let words = |l: &str| l.split_whitespace().map(str::to_string).collect();
        PolicyPlan {
            routes: routes
                .iter()
                .map(|l| RouteLine { words: words(l) })
                .collect(),
            rules: rules
                .iter()
                .map(|(l, priority)| RuleLine {
                    words: words(l),
                    priority: *priority,
                })
                .collect(),
        }
    }

    #[test]
    fn only_tracked_routes_and_rules_are_followed() {
        let p = plan(
            &[
                "198.51.100.0/24 via 192.0.2.254",
                "203.0.113.0/24 via 192.0.2.254 no_track",
                "192.0.2.128/25 via 192.0.2.254 table 100",
            ],
            &[
                ("from 192.0.2.100 table 100", 16384),
                ("from 192.0.2.101 table 100 no_track", 16383),
            ],
        );
        let route = |a: [u8; 4], len, table| Deleted::Route {
            destination: IpAddr::V4(Ipv4Addr::from(a)),
            prefix_len: len,
            table,
        };
        assert!(tracks(&p, &route([198, 51, 100, 0], 24, 254)));
        assert!(!tracks(&p, &route([203, 0, 113, 0], 24, 254)), "no_track");
        assert!(
            !tracks(&p, &route([198, 51, 100, 0], 25, 254)),
            "another prefix"
        );
        assert!(tracks(&p, &route([192, 0, 2, 128], 25, 100)));
        assert!(
            !tracks(&p, &route([192, 0, 2, 128], 25, 254)),
            "another table"
        );
        let rule = |priority| Deleted::Rule {
            ipv6: false,
            priority,
        };
        assert!(tracks(&p, &rule(16384)));
        assert!(!tracks(&p, &rule(16383)), "no_track");
    }
}
