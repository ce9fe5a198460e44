//! vrrp_sync_groups in the driver: after a member's actions are carried out, its group reacts
//! (the decisions are `keepalived_vrrp::sync_group`'s pure functions): the group's log line,
//! its notify commands, and the other members moved, each then carried out in turn (a work
//! list, so a group never recurses).

use std::collections::VecDeque;
use std::time::Instant;

use keepalived_vrrp::instance::{State, Tracking};
use keepalived_vrrp::sync_group::{self, Member, SyncGroup, group_fault, may_become_master};

use super::super::sync_plan::GroupPlan;
use super::super::wording;
use super::Driver;
use super::notify::{self, Notifier, NotifyCommand};

/// What a member reports to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    /// It entered this state.
    Entered(State),
    /// Its Master_Down_Timer fired; it waits for the group.
    TimedOut,
}

/// One running vrrp_sync_group.
pub struct RunningGroup {
    /// What it runs.
    pub plan: GroupPlan,
    /// Its members, as indexes into `Driver::running`, in the group's order.
    pub members: Vec<usize>,
    /// Its own state.
    pub group: SyncGroup,
    /// The members that have started (a member's first state joins the group's).
    pub joined: Vec<usize>,
    /// Its notify commands' task; only when it has notify commands.
    pub notifier: Option<Notifier>,
}

/// The commands group `plan` runs on entering `state`: the state's own command, then the
/// generic `notify` with `GROUP NAME STATE 0` (keepalived 2.2.7 passes priority 0 for
/// groups).
pub fn group_commands(plan: &GroupPlan, state: State) -> Vec<NotifyCommand> {
    let who = ("GROUP", plan.name.as_str());
    notify::state_commands(&plan.notify, plan.notify_user, who, state, 0)
}

/// Whether a member entering `state` follows its group to MASTER instead of taking the group
/// to BACKUP: on its `first` entry (its start, or its restart by a reload) while the group is
/// master, so a member (re)started beside masters does not demote them.
pub fn joins_master(first: bool, group: Option<State>, state: State) -> bool {
    first && group == Some(State::Master) && state == State::Backup
}

/// Whether the group's first state is taken without a `Syncing instances` line: keepalived
/// 2.2.7 starts its members straight into BACKUP (`Entering BACKUP STATE (init)`, group notify
/// only), unless their start `waited` for a weight-0 script's first result, after which the
/// first member's BACKUP is synced as any other transition.
pub fn starts_quietly(before: Option<State>, to: State, waited: bool) -> bool {
    before.is_none() && to == State::Backup && !waited
}

impl Driver {
    /// Carries out everything instance `i` asked for, then what its sync group does about
    /// it, member after member.
    pub(super) async fn execute(&mut self, i: usize) {
        // Most events (an advert sent or heard) concern no group: no queue is made for them.
        self.execute_one(i).await;
        if self.group_events.is_empty() {
            return;
        }
        let mut queue = VecDeque::new();
        for (k, event) in std::mem::take(&mut self.group_events) {
            self.group_reacts(k, event, &mut queue);
        }
        // Every step moves a member to another state or leaves the group settled; a bound
        // keeps a mistake from spinning.
        let mut budget = 64 + 8 * self.running.len() - 1;
        while let Some(j) = queue.pop_front() {
            self.execute_one(j).await;
            for (k, event) in std::mem::take(&mut self.group_events) {
                self.group_reacts(k, event, &mut queue);
            }
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
        }
    }

    /// The group of instance `i`, if it has one.
    pub(super) fn group_of(&self, i: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.members.contains(&i))
    }

    /// `own` tracking of instance `i` with its group's FAULT: any member whose own tracking
    /// says FAULT holds every member in FAULT.
    pub(super) fn with_group_fault(&self, i: usize, own: Tracking) -> Tracking {
        let Some(g) = self.group_of(i) else {
            return own;
        };
        let others: Vec<_> = self.groups[g]
            .members
            .iter()
            .filter(|&&m| m != i)
            .map(|&m| self.own_tracking_of(m).fault)
            .collect();
        Tracking {
            priority: own.priority,
            fault: group_fault(own.fault, others),
        }
    }

    /// Member `k` reported `event`: its group follows it, or lets it become master.
    fn group_reacts(&mut self, k: usize, event: GroupEvent, queue: &mut VecDeque<usize>) {
        let Some(g) = self.group_of(k) else {
            return;
        };
        let now = Instant::now();
        let others: Vec<usize> = self.groups[g]
            .members
            .iter()
            .copied()
            .filter(|&m| m != k)
            .collect();
        match event {
            GroupEvent::TimedOut => {
                let views = others.iter().map(|&m| Member {
                    state: self.running[m].instance.state(),
                    wants_master: self.running[m].instance.wants_master(),
                });
                if may_become_master(self.groups[g].group.state(), views) {
                    self.running[k].instance.sync_to_master(now);
                    queue.push_back(k);
                }
            }
            GroupEvent::Entered(State::Initialize)
                if self.groups[g]
                    .members
                    .iter()
                    .any(|&m| self.running[m].instance.state() != State::Initialize) =>
            {
                // One member stopped (a reload restarts it): the group stops with its last.
                self.groups[g].joined.retain(|&m| m != k);
            }
            GroupEvent::Entered(state) => {
                let first = !self.groups[g].joined.contains(&k);
                if first {
                    self.groups[g].joined.push(k);
                }
                if joins_master(first, self.groups[g].group.state(), state) {
                    // Started (or restarted by a reload) while its group is master.
                    self.running[k].instance.sync_to_master(now);
                    queue.push_back(k);
                    return;
                }
                let before = self.groups[g].group.state();
                let Some(to) = self.groups[g].group.member_entered(state) else {
                    return;
                };
                let group = &self.groups[g];
                let waited = self.running[k].plan.scripts.iter().any(|u| u.weight == 0);
                if sync_group::logs_sync(to) && !starts_quietly(before, to, waited) {
                    self.logger
                        .info(&wording::group_syncing(&group.plan.name, to));
                }
                if let Some(notifier) = &group.notifier {
                    notifier.queue(group_commands(&group.plan, to));
                }
                if let Some(fifo) = self.fifo.as_mut() {
                    fifo.write(&super::fifo::group_line(&group.plan.name, to));
                }
                if let Some(alerts) = self.alerts.as_ref().filter(|_| group.plan.smtp_alert)
                    && sync_group::logs_sync(to)
                    && alerts.mails_vrrp_state(to)
                {
                    let mail =
                        crate::alert::vrrp_group_mail(&alerts.router_id, &group.plan.name, to);
                    crate::alert::send_in_background(alerts.clone(), mail, self.logger.clone());
                }
                for m in others {
                    if !self.running[m].started {
                        continue;
                    }
                    match to {
                        State::Master => self.running[m].instance.sync_to_master(now),
                        State::Backup if self.running[m].instance.state() == State::Master => {
                            self.running[m].instance.sync_to_backup(now);
                        }
                        State::Backup | State::Fault => {
                            let tracking = self.tracking_of(m);
                            self.running[m].instance.track(now, tracking);
                        }
                        State::Initialize => continue,
                    }
                    queue.push_back(m);
                }
            }
        }
    }

    /// Runs `plans` from now on: members found by name among the running instances, each
    /// made a synced member; a group keeps the state of its running members.
    pub(super) fn install_groups(&mut self, plans: Vec<GroupPlan>) {
        for running in &mut self.running {
            running.instance.set_synced(false);
        }
        self.groups.clear();
        for plan in plans {
            let members: Vec<usize> = plan
                .members
                .iter()
                .filter_map(|name| {
                    self.running
                        .iter()
                        .position(|r| &r.plan.config.name == name)
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            for &m in &members {
                self.running[m].instance.set_synced(true);
            }
            let state = members
                .iter()
                .map(|&m| self.running[m].instance.state())
                .find(|s| *s != State::Initialize);
            let joined = members
                .iter()
                .copied()
                .filter(|&m| self.running[m].instance.state() != State::Initialize)
                .collect();
            // A group replaced by a reload finishes what its task has queued.
            let notifier = plan
                .notify
                .iter()
                .next()
                .is_some()
                .then(|| Notifier::spawn_named(plan.name.clone(), self.logger.clone()));
            self.groups.push(RunningGroup {
                plan,
                members,
                group: SyncGroup::new(state),
                joined,
                notifier,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::setup::{InterfaceInfo, plan};
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    #[test]
    fn keepalived_logs_no_sync_line_for_a_start_straight_into_backup() {
        assert!(starts_quietly(None, State::Backup, false));
        assert!(!starts_quietly(None, State::Backup, true), "after a script");
        assert!(!starts_quietly(Some(State::Fault), State::Backup, false));
        assert!(!starts_quietly(None, State::Fault, false));
    }

    #[test]
    fn a_member_started_beside_masters_joins_them() {
        assert!(joins_master(true, Some(State::Master), State::Backup));
        assert!(
            !joins_master(false, Some(State::Master), State::Backup),
            "lost an election"
        );
        assert!(!joins_master(true, Some(State::Backup), State::Backup));
        assert!(!joins_master(true, Some(State::Master), State::Fault));
    }

    #[test]
    fn group_notify_gets_group_name_state_and_priority_zero() {
        let text = "vrrp_sync_group G1 {\n group {\n A\n B\n }\n notify_master /bin/true\n\
            notify /bin/echo\n}\n\
            vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
            vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: None,
                link_local: None,
            })
        };
        let planned = plan(&loaded.config, lookup, |_| Some((0, 0)));
        let group = &planned.groups[0];
        let master: Vec<Vec<String>> = group_commands(group, State::Master)
            .into_iter()
            .map(|c| c.argv)
            .collect();
        assert_eq!(master.len(), 2, "notify_master, then notify");
        assert!(master[0][0].ends_with("true"));
        assert_eq!(master[1][1..], ["GROUP", "G1", "MASTER", "0"]);
        let stop = group_commands(group, State::Initialize);
        assert_eq!(stop.len(), 1, "no notify_stop: only the generic one");
        assert_eq!(stop[0].argv[1..], ["GROUP", "G1", "STOP", "0"]);
    }
}
