//! The virtual servers' pools as keepalived 2.2.7 keeps them in IPVS: which real servers are
//! alive (all their checks up), the quorum with its hysteresis and sorry server,
//! inhibit_on_failure (weight 0 instead of removal), notify_up / notify_down, and what start,
//! reload and stop do to the kernel's table. Every change is logged with keepalived's wording.

use std::collections::HashMap;

use keepalived_ipvs::{Destination, Forward, Ipvs, IpvsError, ServiceKey};

use super::plan::{CheckKind, Plan, RsPlan, VsPlan, endpoint_name};
use super::talk::Talk;
use super::task::{CheckState, Report};
use crate::alert::CheckerAlert;
use crate::logger::Logger;

/// How [`Pool::stop_with`] leaves IPVS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Each destination, then each service deleted (the default).
    Each,
    /// Each service deleted, its destinations with it (`lvs_flush_on_stop VS`).
    Services,
    /// Nothing deleted here: the caller flushes the table (`lvs_flush_on_stop`).
    Flushed,
    /// Nothing deleted, nothing logged (`-I`, `--dont-release-ipvs`).
    Keep,
}

/// The kernel's table as the pool drives it; a trait so the pool's logic is tested without a
/// kernel.
pub trait Table {
    /// Adds or replaces a service.
    fn add_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError>;
    /// Changes a service's options.
    fn edit_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError>;
    /// Deletes a service.
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError>;
    /// Adds a destination.
    fn add_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError>;
    /// Changes a destination.
    fn edit_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError>;
    /// Deletes a destination.
    fn del_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError>;
}

impl Table for Ipvs {
    fn add_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
        Ipvs::add_service(self, service)
    }
    fn edit_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
        Ipvs::edit_service(self, service)
    }
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        Ipvs::del_service(self, key)
    }
    fn add_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        Ipvs::add_dest(self, key, dest)
    }
    fn edit_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        Ipvs::edit_dest(self, key, dest)
    }
    fn del_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        Ipvs::del_dest(self, key, dest)
    }
}

/// The kernel's table once opened. A checker without virtual servers never opens it (as 2.2.7)
/// and sends no command; one sent all the same is refused as IPVS being unavailable.
impl Table for Option<Ipvs> {
    fn add_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
        opened(self)?.add_service(service)
    }
    fn edit_service(&mut self, service: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
        opened(self)?.edit_service(service)
    }
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        opened(self)?.del_service(key)
    }
    fn add_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        opened(self)?.add_dest(key, dest)
    }
    fn edit_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        opened(self)?.edit_dest(key, dest)
    }
    fn del_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        opened(self)?.del_dest(key, dest)
    }
}

/// The opened table, or `Unavailable` (ENOPROTOOPT, as a kernel without the family answers).
pub fn opened(ipvs: &mut Option<Ipvs>) -> Result<&mut Ipvs, IpvsError> {
    ipvs.as_mut().ok_or_else(|| {
        IpvsError::Unavailable(std::io::Error::from_raw_os_error(nix::libc::ENOPROTOOPT))
    })
}

/// A script to run for a change (notify_up / notify_down), in order.
pub type Notify = super::plan::NotifyScript;

#[derive(Debug, Clone)]
struct RsState {
    checks_up: Vec<bool>,
    /// The destination as it is in the table, if it is.
    installed: Option<Destination>,
    /// Whether the state came over from before a reload.
    carried: bool,
    /// The weight in force (the configured one, or what misc_dynamic set).
    weight: i32,
}

impl RsState {
    fn alive(&self) -> bool {
        self.checks_up.iter().all(|&up| up)
    }
}

#[derive(Debug, Clone)]
struct VsState {
    plan: VsPlan,
    rs: Vec<RsState>,
    quorum_up: bool,
    sorry_installed: bool,
}

/// Every virtual server's state.
pub struct Pool {
    vss: Vec<VsState>,
    logger: Logger,
    /// What is to be mailed (`smtp_alert`), in order, until [`Pool::take_alerts`].
    alerts: Vec<CheckerAlert>,
    /// `no_checker_emails`: a check's change is mailed only when its real server changes.
    no_checker_emails: bool,
    /// `rs_init_notifies`: real servers installed alive get their notify_up then.
    rs_init_notifies: bool,
    /// The notify FIFO's lines (`VS … UP`, `RS … … DOWN`), written where 2.2.7 runs the
    /// notify scripts (see [`super::fifo`]), in order, until [`Pool::take_fifo_lines`].
    fifo_lines: Vec<String>,
}

impl Pool {
    /// The pool for `plan`, nothing installed yet (a copy of it; tests).
    #[cfg(test)]
    pub fn new(plan: &Plan, logger: Logger) -> Pool {
        Pool::from_plan(plan.clone(), logger)
    }

    /// The pool for `plan`, taking its virtual servers (the pool is then the only holder of
    /// the plan's real servers and checks).
    pub fn from_plan(plan: Plan, logger: Logger) -> Pool {
        let no_checker_emails = plan.no_checker_emails;
        let rs_init_notifies = plan.rs_init_notifies;
        let vss = plan
            .virtual_servers
            .into_iter()
            .map(|vs| VsState {
                rs: vs
                    .real_servers
                    .iter()
                    .map(|rs| RsState {
                        // A FILE_CHECK's file is read before the pool is installed, as
                        // 2.2.7 does (a server it holds down is never added).
                        checks_up: rs
                            .checks
                            .iter()
                            .map(|c| match &c.kind {
                                CheckKind::File(f) => {
                                    super::file::state(f, super::file::read_value(&f.path)).0
                                }
                                _ => !rs.alpha,
                            })
                            .collect(),
                        installed: None,
                        carried: false,
                        weight: rs.dest.weight,
                    })
                    .collect(),
                quorum_up: false,
                sorry_installed: false,
                plan: vs,
            })
            .collect();
        Pool {
            vss,
            logger,
            alerts: Vec::new(),
            fifo_lines: Vec::new(),
            no_checker_emails,
            rs_init_notifies,
        }
    }

    /// The virtual servers' plans, in the configuration's order.
    pub fn virtual_servers(&self) -> impl Iterator<Item = &VsPlan> {
        self.vss.iter().map(|vs| &vs.plan)
    }

    /// The starting state of each check: `(vs, rs, check) -> state`.
    pub fn check_state(&self, vs: usize, rs: usize, check: usize) -> CheckState {
        let up = self
            .vss
            .get(vs)
            .and_then(|v| v.rs.get(rs))
            .and_then(|r| r.checks_up.get(check))
            .copied()
            .unwrap_or(true);
        CheckState { up, has_run: false }
    }

    /// Installs every service, the sorry servers of those without quorum and the alive real
    /// servers of the others.
    /// Returns the quorum_up scripts of the services that start with their quorum, in order.
    pub fn start(&mut self, table: &mut dyn Table) -> Vec<Notify> {
        let logger = self.logger.clone();
        let mut talk = Talk::new(table, &logger);
        let table: &mut dyn Table = &mut talk;
        let mut notify = Vec::new();
        for i in 0..self.vss.len() {
            self.install_vs(i, table, &mut notify);
        }
        notify
    }

    fn install_vs(&mut self, i: usize, table: &mut dyn Table, notify: &mut Vec<Notify>) {
        let logger = self.logger.clone();
        let vs = &mut self.vss[i];
        done(add_services(table, &vs.plan));
        // rs_init_notifies: as 2.2.7, each real server that starts alive has its notify_up
        // run (and the FIFO's `RS … UP`) as it is installed, before the quorum's scripts.
        if self.rs_init_notifies {
            for r in 0..vs.rs.len() {
                init_notify(vs, r, notify, &mut self.fifo_lines);
            }
        }
        let sum = weight_sum(vs);
        let (q, h) = (vs.plan.quorum, vs.plan.hysteresis);
        vs.quorum_up = sum >= q;
        // 2.2.7 mails a quorum that holds at start, and nothing for one that does not (in
        // the lab).
        if vs.plan.smtp_alert && vs.quorum_up {
            self.alerts.push(CheckerAlert::Quorum {
                vs: vs.plan.name.clone(),
                up: vs.quorum_up,
                starting: true,
                quorum: q,
                hysteresis: h,
                threshold: q.saturating_add(h),
                sum,
            });
        }
        if vs.quorum_up {
            if vs.plan.sorry_inhibit {
                install_idle_sorry(vs, table);
            }
            for r in 0..vs.rs.len() {
                install_rs(vs, r, table);
            }
            // After the real servers, as 2.2.7 logs it (seen when the kernel refuses them:
            // their `IPVS cmd ... error` lines come first).
            logger.info(&format!(
                "Gained quorum {q}+{h}={} <= {sum} for VS {}",
                q.saturating_add(h),
                vs.plan.name
            ));
            notify.extend(vs.plan.quorum_up.clone());
            self.fifo_lines
                .push(super::fifo::vs_line(&vs.plan.name, true));
        } else {
            // keepalived logs nothing here: the quorum was never gained.
            install_sorry(vs, table, &logger);
        }
    }

    /// A check's report: its change applied ([`Pool::check_changed`]), and the mail 2.2.7
    /// sends for it queued when the real server has `smtp_alert` (and, with
    /// `no_checker_emails`, only when the real server's state changed). Returns the notify
    /// scripts to run, in order.
    pub fn report(&mut self, report: &Report, table: &mut dyn Table) -> Vec<Notify> {
        let id = report.id;
        let was_alive = self.rs_alive(id.vs, id.rs);
        let notify = if report.first_down {
            self.first_down(id.vs, id.rs)
        } else {
            self.check_changed(id.vs, id.rs, id.check, report.up, report.weight, table)
        };
        let alive = self.rs_alive(id.vs, id.rs);
        if let (Some(body), Some(vs)) = (&report.mail, self.vss.get(id.vs))
            && let (Some(rs), Some(alive)) = (vs.plan.real_servers.get(id.rs), alive)
            && rs.smtp_alert
            && (was_alive != Some(alive) || !self.no_checker_emails)
        {
            self.alerts.push(CheckerAlert::RealServer {
                rs: rs.name.clone(),
                vs: vs.plan.name.clone(),
                alive,
                body: body.clone(),
            });
        }
        notify
    }

    /// A check that started down (`alpha`) failed its first time: as 2.2.7, the real
    /// server's notify_down runs and the FIFO gets its `RS … DOWN` line, though nothing
    /// changed (no log line, the table untouched). Returns the script to run.
    fn first_down(&mut self, vs: usize, rs: usize) -> Vec<Notify> {
        let Some(v) = self.vss.get(vs) else {
            return Vec::new();
        };
        let (Some(plan), Some(state)) = (v.plan.real_servers.get(rs), v.rs.get(rs)) else {
            return Vec::new();
        };
        let alive = state.alive();
        self.fifo_lines
            .push(super::fifo::rs_line(&plan.name, &v.plan.name, alive));
        let script = if alive {
            &plan.notify_up
        } else {
            &plan.notify_down
        };
        script.clone().into_iter().collect()
    }

    /// The notify FIFO's lines since the last call, in order.
    pub fn take_fifo_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.fifo_lines)
    }

    /// The mails queued since the last call, in order.
    pub fn take_alerts(&mut self) -> Vec<CheckerAlert> {
        std::mem::take(&mut self.alerts)
    }

    fn rs_alive(&self, vs: usize, rs: usize) -> Option<bool> {
        self.vss.get(vs)?.rs.get(rs).map(RsState::alive)
    }

    /// A check changed state; returns the notify scripts to run, in order.
    pub fn check_changed(
        &mut self,
        vs: usize,
        rs: usize,
        check: usize,
        up: bool,
        weight: Option<i32>,
        table: &mut dyn Table,
    ) -> Vec<Notify> {
        let logger = self.logger.clone();
        let mut talk = Talk::new(table, &logger);
        let table: &mut dyn Table = &mut talk;
        let mut notify = Vec::new();
        let Some(v) = self.vss.get_mut(vs) else {
            return notify;
        };
        let Some(state) = v.rs.get_mut(rs) else {
            return notify;
        };
        let was_alive = state.alive();
        let rs_plan = v.plan.real_servers[rs].clone();
        let (vs_name, key) = (v.plan.name.clone(), keys(&v.plan));
        if let Some(w) = weight.filter(|&w| w != state.weight) {
            logger.info(&format!(
                "Changing weight from {} to {w} for {} service {} of VS {vs_name}",
                state.weight,
                if was_alive { "active" } else { "inactive" },
                rs_plan.name
            ));
            state.weight = w;
            if was_alive && state.installed.is_some() {
                install_rs(v, rs, table);
            }
        }
        let state = &mut v.rs[rs];
        if let Some(slot) = state.checks_up.get_mut(check) {
            *slot = up;
        }
        let alive = state.alive();
        if alive == was_alive {
            if weight.is_some() {
                update_quorum(
                    v,
                    table,
                    &logger,
                    &mut notify,
                    &mut self.alerts,
                    &mut self.fifo_lines,
                );
            }
            return notify;
        }
        if alive {
            if rs_plan.inhibit_on_failure {
                logger.info(&format!(
                    "Enabling service {} of VS {vs_name}",
                    rs_plan.name
                ));
            } else {
                logger.info(&format!("Adding service {} to VS {vs_name}", rs_plan.name));
            }
            if (v.quorum_up || v.plan.sorry.is_none()) && !install_rs(v, rs, table) {
                // Refused by the kernel (a service deleted behind our back): as 2.2.7, the
                // server stays down, nothing runs, and the check's next success tries again
                // (scenario 11).
                if let Some(slot) = v.rs[rs].checks_up.get_mut(check) {
                    *slot = false;
                }
                super::task::refuse(super::task::CheckId { vs, rs, check });
                return notify;
            }
            notify.extend(rs_plan.notify_up.clone());
            self.fifo_lines
                .push(super::fifo::rs_line(&rs_plan.name, &vs_name, true));
        } else {
            if rs_plan.inhibit_on_failure {
                logger.info(&format!(
                    "Disabling service {} of VS {vs_name}",
                    rs_plan.name
                ));
                if v.rs[rs].installed.is_some() {
                    let mut dest = rs_plan.dest.clone();
                    dest.weight = 0;
                    done(edit_dest(table, &key, &dest));
                    v.rs[rs].installed = Some(dest);
                }
            } else {
                logger.info(&format!(
                    "Removing service {} from VS {vs_name}",
                    rs_plan.name
                ));
                uninstall_rs(v, rs, table);
            }
            notify.extend(rs_plan.notify_down.clone());
            self.fifo_lines
                .push(super::fifo::rs_line(&rs_plan.name, &vs_name, false));
        }
        update_quorum(
            v,
            table,
            &logger,
            &mut notify,
            &mut self.alerts,
            &mut self.fifo_lines,
        );
        notify
    }

    /// [`Pool::reload_plan`] with a copy of `plan` (tests).
    #[cfg(test)]
    pub fn reload(&mut self, plan: &Plan, table: &mut dyn Table) -> Vec<Notify> {
        self.reload_plan(plan.clone(), table)
    }

    /// Replaces the plan on a reload: what is unchanged stays untouched in the table (and its
    /// checks keep their state), changed options are edited in place, what is gone is removed
    /// and what is new is installed as at start. Returns the quorum scripts to run, in order.
    pub fn reload_plan(&mut self, plan: Plan, table: &mut dyn Table) -> Vec<Notify> {
        let logger = self.logger.clone();
        let mut talk = Talk::new(table, &logger);
        let table: &mut dyn Table = &mut talk;
        super::task::forget_refusals();
        let mut notify = Vec::new();
        // The old virtual servers by name (a hash lookup each: a reload of thousands of
        // virtual servers stays linear).
        let mut old: Vec<Option<VsState>> = std::mem::take(&mut self.vss)
            .into_iter()
            .map(Some)
            .collect();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::with_capacity(old.len());
        let names: Vec<String> = old.iter().flatten().map(|o| o.plan.name.clone()).collect();
        for (i, name) in names.iter().enumerate() {
            by_name.entry(name.as_str()).or_default().push(i);
        }
        let next_pool = Pool::from_plan(plan, logger.clone());
        self.no_checker_emails = next_pool.no_checker_emails;
        self.rs_init_notifies = next_pool.rs_init_notifies;
        let mut next = next_pool.vss;
        let mut fresh = Vec::new();
        for (i, vs) in next.iter_mut().enumerate() {
            let found = by_name
                .get_mut(vs.plan.name.as_str())
                .and_then(|candidates| {
                    let at = candidates.iter().position(|&o| {
                        old[o]
                            .as_ref()
                            .is_some_and(|o| same_keys(&o.plan, &vs.plan))
                    })?;
                    Some(candidates.remove(at))
                });
            let Some(prev) = found.and_then(|o| old[o].take()) else {
                fresh.push(i);
                continue;
            };
            if prev.plan.services != vs.plan.services {
                done(edit_services(table, &vs.plan));
            }
            vs.quorum_up = prev.quorum_up;
            vs.sorry_installed = prev.sorry_installed;
            // The old real servers by address and port (one hash lookup each).
            let mut prev_rs: Vec<Option<(RsPlan, RsState)>> = prev
                .plan
                .real_servers
                .into_iter()
                .zip(prev.rs)
                .map(Some)
                .collect();
            let mut prev_at: HashMap<(std::net::IpAddr, u16), usize> = prev_rs
                .iter()
                .enumerate()
                .rev()
                .filter_map(|(i, p)| p.as_ref().map(|p| ((p.0.dest.addr, p.0.dest.port), i)))
                .collect();
            for r in 0..vs.rs.len() {
                let rs_plan = &vs.plan.real_servers[r];
                let found = prev_at
                    .remove(&(rs_plan.dest.addr, rs_plan.dest.port))
                    .and_then(|at| prev_rs[at].take());
                let Some((old_plan, old_state)) = found else {
                    if vs.quorum_up {
                        install_rs(vs, r, table);
                    }
                    if self.rs_init_notifies {
                        init_notify(vs, r, &mut notify, &mut self.fifo_lines);
                    }
                    continue;
                };
                if old_plan.checks == rs_plan.checks {
                    vs.rs[r].checks_up = old_state.checks_up;
                    vs.rs[r].carried = true;
                }
                vs.rs[r].installed = old_state.installed.clone();
                if old_plan.dest.weight == rs_plan.dest.weight {
                    vs.rs[r].weight = old_state.weight;
                } else if old_state.weight != rs_plan.dest.weight {
                    logger.info(&format!(
                        "Changing weight from {} to {} for {} service {} of VS {}",
                        old_state.weight,
                        rs_plan.dest.weight,
                        if vs.rs[r].alive() {
                            "active"
                        } else {
                            "inactive"
                        },
                        rs_plan.name,
                        vs.plan.name
                    ));
                }
                if old_state.installed.is_some() {
                    install_rs(vs, r, table);
                }
            }
            for (gone_plan, gone_state) in prev_rs.into_iter().flatten() {
                logger.info(&format!("service {} no longer exist", gone_plan.name));
                if gone_plan.smtp_alert && gone_state.alive() {
                    self.alerts.push(CheckerAlert::Removed {
                        rs: gone_plan.name.clone(),
                        vs: vs.plan.name.clone(),
                    });
                }
                if let Some(dest) = gone_state.installed {
                    logger.info(&format!(
                        "Removing service {} from VS {}",
                        gone_plan.name, vs.plan.name
                    ));
                    done(del_dest(table, &keys(&vs.plan), &dest));
                }
            }
            if prev.plan.sorry != vs.plan.sorry && prev.sorry_installed {
                if let Some(sorry) = &prev.plan.sorry {
                    done(del_dest(table, &keys(&vs.plan), sorry));
                }
                vs.sorry_installed = false;
                if !vs.quorum_up {
                    install_sorry(vs, table, &logger);
                }
            }
            update_quorum(
                vs,
                table,
                &logger,
                &mut notify,
                &mut self.alerts,
                &mut self.fifo_lines,
            );
        }
        for gone in old.into_iter().flatten() {
            logger.info(&format!("Removing Virtual Server {}", gone.plan.name));
            for (rs, state) in gone.plan.real_servers.iter().zip(&gone.rs) {
                if rs.smtp_alert && state.alive() {
                    self.alerts.push(CheckerAlert::Removed {
                        rs: rs.name.clone(),
                        vs: gone.plan.name.clone(),
                    });
                }
            }
            done(del_services(table, &gone.plan));
        }
        self.vss = next;
        for i in fresh {
            self.install_vs(i, table, &mut notify);
        }
        notify
    }

    /// At stop: removes what was installed as `mode` says: one by one by default, logging
    /// `Shutting down service RS from VS VS` for every real server; `-I` keeps everything;
    /// the flushes log nothing (as 2.2.7 in the lab). Returns the notify_down scripts `omega`
    /// runs (none with `-I`).
    pub fn stop_with(&mut self, table: &mut dyn Table, mode: StopMode) -> Vec<Notify> {
        let logger = self.logger.clone();
        let mut talk = Talk::new(table, &logger);
        let table: &mut dyn Table = &mut talk;
        let mut notify = Vec::new();
        if mode == StopMode::Keep {
            return notify;
        }
        for vs in &mut self.vss {
            // 2.2.7 takes the sorry server out first (also one kept at weight 0 by
            // sorry_server_inhibit), then each real server.
            if mode == StopMode::Each
                && let Some(sorry) = &vs.plan.sorry
                && (vs.sorry_installed || vs.plan.sorry_inhibit)
            {
                done(del_dest(table, &keys(&vs.plan), sorry));
            }
            vs.sorry_installed = false;
            for r in 0..vs.rs.len() {
                // 2.2.7 names each real server only when it removes them one by one.
                if mode == StopMode::Each {
                    logger.info(&format!(
                        "Shutting down service {} from VS {}",
                        vs.plan.real_servers[r].name, vs.plan.name
                    ));
                }
                if vs.plan.omega && vs.rs[r].alive() {
                    notify.extend(vs.plan.real_servers[r].notify_down.clone());
                    self.fifo_lines.push(super::fifo::rs_line(
                        &vs.plan.real_servers[r].name,
                        &vs.plan.name,
                        false,
                    ));
                }
                let installed = vs.rs[r].installed.take();
                if mode != StopMode::Each {
                    continue;
                }
                if let Some(dest) = installed {
                    done(del_dest(table, &keys(&vs.plan), &dest));
                }
            }
            // With omega, 2.2.7 takes every virtual server down at the stop, whatever the
            // quorum was: its quorum_down runs and its FIFO gets `VS … DOWN`.
            if vs.plan.omega {
                notify.extend(vs.plan.quorum_down.clone());
                self.fifo_lines
                    .push(super::fifo::vs_line(&vs.plan.name, false));
            }
            if matches!(mode, StopMode::Each | StopMode::Services) {
                done(del_services(table, &vs.plan));
            }
        }
        notify
    }

    /// Whether a real server's check states came over from before a reload.
    pub fn carried(&self, vs: usize, rs: usize) -> bool {
        self.vss
            .get(vs)
            .and_then(|v| v.rs.get(rs))
            .is_some_and(|r| r.carried)
    }
}

/// Whether two virtual servers have the same services' keys, in order.
fn same_keys(a: &VsPlan, b: &VsPlan) -> bool {
    a.services.len() == b.services.len()
        && a.services
            .iter()
            .zip(&b.services)
            .all(|(x, y)| x.key == y.key)
}

/// The keys of a virtual server's services (one, or one per group entry).
fn keys(plan: &VsPlan) -> Vec<ServiceKey> {
    plan.services.iter().map(|s| s.key).collect()
}

/// The destination as a service takes it: in a group, a fwmark entry's real servers have
/// port 0 with DR and TUN and keep their port with NAT (keepalived 2.2.7, observed in the
/// checker VM lab, scenarios 3 and 10).
fn for_key(key: &ServiceKey, dest: &Destination) -> Destination {
    let mut dest = dest.clone();
    if matches!(key, ServiceKey::Fwmark { .. }) && dest.forward != Forward::Masq {
        dest.port = 0;
    }
    dest
}

/// Runs `op` on every key; the first error is the result, the others are still attempted.
fn each(
    keys: &[ServiceKey],
    mut op: impl FnMut(&ServiceKey) -> Result<(), IpvsError>,
) -> Result<(), IpvsError> {
    let mut result = Ok(());
    for key in keys {
        if let Err(e) = op(key)
            && result.is_ok()
        {
            result = Err(e);
        }
    }
    result
}

fn add_services(table: &mut dyn Table, plan: &VsPlan) -> Result<(), IpvsError> {
    let mut result = Ok(());
    for service in &plan.services {
        // A service already there is left as it is (2.2.7 logs the refusal and goes on).
        let r = table.add_service(service);
        if result.is_ok() {
            result = r;
        }
    }
    result
}

fn edit_services(table: &mut dyn Table, plan: &VsPlan) -> Result<(), IpvsError> {
    let mut result = Ok(());
    for service in &plan.services {
        let r = table.edit_service(service);
        if result.is_ok() {
            result = r;
        }
    }
    result
}

fn del_services(table: &mut dyn Table, plan: &VsPlan) -> Result<(), IpvsError> {
    each(&keys(plan), |key| table.del_service(key))
}

fn add_dest(
    table: &mut dyn Table,
    keys: &[ServiceKey],
    dest: &Destination,
) -> Result<(), IpvsError> {
    each(keys, |key| {
        // A destination already there is left as it is (2.2.7 logs the refusal).
        table.add_dest(key, &for_key(key, dest))
    })
}

fn edit_dest(
    table: &mut dyn Table,
    keys: &[ServiceKey],
    dest: &Destination,
) -> Result<(), IpvsError> {
    each(keys, |key| table.edit_dest(key, &for_key(key, dest)))
}

fn del_dest(
    table: &mut dyn Table,
    keys: &[ServiceKey],
    dest: &Destination,
) -> Result<(), IpvsError> {
    each(keys, |key| table.del_dest(key, &for_key(key, dest)))
}

fn same_dest(a: &Destination, b: &Destination) -> bool {
    a.addr == b.addr
        && a.port == b.port
        && a.forward == b.forward
        && a.weight == b.weight
        && a.upper_threshold == b.upper_threshold
        && a.lower_threshold == b.lower_threshold
}

/// `rs_init_notifies`: real server `r`'s notify_up and FIFO line when it starts alive.
fn init_notify(vs: &VsState, r: usize, notify: &mut Vec<Notify>, fifo_lines: &mut Vec<String>) {
    if !vs.rs[r].alive() {
        return;
    }
    let rs = &vs.plan.real_servers[r];
    notify.extend(rs.notify_up.clone());
    fifo_lines.push(super::fifo::rs_line(&rs.name, &vs.plan.name, true));
}

fn weight_sum(vs: &VsState) -> u32 {
    vs.rs
        .iter()
        .filter(|state| state.alive())
        .map(|state| state.weight.max(0) as u32)
        .sum()
}

/// Puts real server `r` in the table as its state says; false when the kernel refused it (the
/// refusal logged by [`Talk`]; the entry counts as there all the same, as 2.2.7's does).
fn install_rs(vs: &mut VsState, r: usize, table: &mut dyn Table) -> bool {
    let plan = &vs.plan.real_servers[r];
    let alive = vs.rs[r].alive();
    if !alive && !plan.inhibit_on_failure {
        return true;
    }
    let mut dest = plan.dest.clone();
    dest.weight = if alive { vs.rs[r].weight } else { 0 };
    if vs.rs[r]
        .installed
        .as_ref()
        .is_some_and(|d| same_dest(d, &dest))
    {
        return true;
    }
    let key = keys(&vs.plan);
    let result = if vs.rs[r].installed.is_some() {
        edit_dest(table, &key, &dest)
    } else {
        add_dest(table, &key, &dest)
    };
    vs.rs[r].installed = Some(dest);
    result.is_ok()
}

fn uninstall_rs(vs: &mut VsState, r: usize, table: &mut dyn Table) {
    if let Some(dest) = vs.rs[r].installed.take() {
        let result = del_dest(table, &keys(&vs.plan), &dest);
        done(result);
    }
}

fn sorry_name(vs: &VsState, sorry: &Destination) -> String {
    let protocol = match vs.plan.services[0].key {
        ServiceKey::Address { protocol, .. } => protocol,
        // A fwmark service has no protocol: `[ADDR]:none:PORT`, as its real servers.
        ServiceKey::Fwmark { .. } => 0,
    };
    endpoint_name(sorry.addr, protocol, sorry.port)
}

fn install_sorry(vs: &mut VsState, table: &mut dyn Table, logger: &Logger) {
    let Some(sorry) = vs.plan.sorry.clone() else {
        return;
    };
    if vs.sorry_installed && !vs.plan.sorry_inhibit {
        return;
    }
    let key = keys(&vs.plan);
    if vs.plan.sorry_inhibit {
        // Kept in the table at weight 0 while the quorum holds: given its weight back.
        logger.info(&format!(
            "Enabling sorry server {} to VS {}",
            sorry_name(vs, &sorry),
            vs.plan.name
        ));
        // In the table at weight 0: edited (2.2.7 turns its add into an edit there).
        done(edit_dest(table, &key, &sorry));
    } else {
        logger.info(&format!(
            "Adding sorry server {} to VS {}",
            sorry_name(vs, &sorry),
            vs.plan.name
        ));
        done(add_dest(table, &key, &sorry));
    }
    vs.sorry_installed = true;
    logger.info(&format!(
        "Removing alive servers from the pool for VS {}",
        vs.plan.name
    ));
    for r in 0..vs.rs.len() {
        uninstall_rs(vs, r, table);
    }
}

/// `sorry_server_inhibit` while the quorum holds: the sorry server in the table at weight 0.
fn install_idle_sorry(vs: &mut VsState, table: &mut dyn Table) {
    let Some(mut sorry) = vs.plan.sorry.clone() else {
        return;
    };
    sorry.weight = 0;
    let key = keys(&vs.plan);
    // In the table with its weight (the quorum was lost): edited to 0, as 2.2.7 turns its
    // delete into an edit for an inhibited sorry server; else added at 0 (start).
    if vs.sorry_installed {
        done(edit_dest(table, &key, &sorry));
    } else {
        done(add_dest(table, &key, &sorry));
    }
    vs.sorry_installed = false;
}

fn update_quorum(
    vs: &mut VsState,
    table: &mut dyn Table,
    logger: &Logger,
    notify: &mut Vec<Notify>,
    alerts: &mut Vec<CheckerAlert>,
    fifo: &mut Vec<String>,
) {
    let sum = weight_sum(vs);
    let (q, h) = (vs.plan.quorum, vs.plan.hysteresis);
    let quorum_alert = |up: bool, threshold: u32| CheckerAlert::Quorum {
        vs: vs.plan.name.clone(),
        up,
        starting: false,
        quorum: q,
        hysteresis: h,
        threshold,
        sum,
    };
    if vs.quorum_up && sum < q.saturating_sub(h) {
        if vs.plan.smtp_alert {
            alerts.push(quorum_alert(false, q.saturating_sub(h)));
        }
        vs.quorum_up = false;
        logger.info(&format!(
            "Lost quorum {q}-{h}={} > {sum} for VS {}",
            q.saturating_sub(h),
            vs.plan.name
        ));
        notify.extend(vs.plan.quorum_down.clone());
        fifo.push(super::fifo::vs_line(&vs.plan.name, false));
        install_sorry(vs, table, logger);
    } else if !vs.quorum_up && sum >= q.saturating_add(h) {
        if vs.plan.smtp_alert {
            alerts.push(quorum_alert(true, q.saturating_add(h)));
        }
        vs.quorum_up = true;
        logger.info(&format!(
            "Gained quorum {q}+{h}={} <= {sum} for VS {}",
            q.saturating_add(h),
            vs.plan.name
        ));
        notify.extend(vs.plan.quorum_up.clone());
        fifo.push(super::fifo::vs_line(&vs.plan.name, true));
        if let Some(sorry) = vs.plan.sorry.clone() {
            if vs.sorry_installed && vs.plan.sorry_inhibit {
                logger.info(&format!(
                    "Disabling sorry server {} from VS {}",
                    sorry_name(vs, &sorry),
                    vs.plan.name
                ));
                install_idle_sorry(vs, table);
            } else if vs.sorry_installed {
                logger.info(&format!(
                    "Removing sorry server {} from VS {}",
                    sorry_name(vs, &sorry),
                    vs.plan.name
                ));
                let key = keys(&vs.plan);
                done(del_dest(table, &key, &sorry));
                vs.sorry_installed = false;
            }
            logger.info(&format!(
                "Adding alive servers to the pool for VS {}",
                vs.plan.name
            ));
        }
        for r in 0..vs.rs.len() {
            install_rs(vs, r, table);
        }
    }
}

/// A command's outcome: a refusal was logged by [`Talk`] as 2.2.7 words it, and the pool goes
/// on as 2.2.7 does (the entry is taken as in the table, or gone, as asked).
fn done(result: Result<(), IpvsError>) {
    let _ = result;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::logger::LogSettings;

    /// A table in memory recording each call.
    #[derive(Default)]
    struct Fake {
        calls: Vec<String>,
    }

    impl Table for Fake {
        fn add_service(&mut self, s: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
            self.calls.push(format!("add_service {:?}", s.key));
            Ok(())
        }
        fn edit_service(&mut self, s: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
            self.calls.push(format!("edit_service {:?}", s.key));
            Ok(())
        }
        fn del_service(&mut self, k: &ServiceKey) -> Result<(), IpvsError> {
            self.calls.push(format!("del_service {k:?}"));
            Ok(())
        }
        fn add_dest(&mut self, _: &ServiceKey, d: &Destination) -> Result<(), IpvsError> {
            self.calls
                .push(format!("add {}:{} w{}", d.addr, d.port, d.weight));
            Ok(())
        }
        fn edit_dest(&mut self, _: &ServiceKey, d: &Destination) -> Result<(), IpvsError> {
            self.calls
                .push(format!("edit {}:{} w{}", d.addr, d.port, d.weight));
            Ok(())
        }
        fn del_dest(&mut self, _: &ServiceKey, d: &Destination) -> Result<(), IpvsError> {
            self.calls.push(format!("del {}:{}", d.addr, d.port));
            Ok(())
        }
    }

    fn plan(text: &str) -> Plan {
        let host = keepalived_config::RealHost::default();
        let options = keepalived_config::LoadOptions::for_host(&host);
        let loaded = keepalived_config::load_str(text, std::path::Path::new("t.conf"), &options);
        Plan::from_config(&loaded.config)
    }

    /// In a group, a fwmark entry's destination keeps its port with NAT and gets port 0
    /// with DR and TUN; an address entry keeps it (keepalived 2.2.7, checker VM scenarios
    /// 3 and 10).
    #[test]
    fn a_group_fwmark_entry_clears_the_port_with_dr_and_tun_only() {
        let addr = "192.0.2.147".parse().expect("address");
        let mark = ServiceKey::Fwmark { af: 2, mark: 37 };
        let address = ServiceKey::Address {
            protocol: 6,
            addr: "198.51.100.144".parse().expect("address"),
            port: 8080,
        };
        for (forward, port) in [
            (Forward::Masq, 8080),
            (Forward::Route, 0),
            (Forward::Tunnel, 0),
        ] {
            let dest = Destination::new(addr, 8080, forward, 1);
            assert_eq!(for_key(&mark, &dest).port, port, "{forward:?}");
            assert_eq!(for_key(&address, &dest).port, 8080, "{forward:?}");
        }
    }

    const CONF: &str = "virtual_server 198.51.100.20 8080 {\n quorum 2\n \
        sorry_server 192.0.2.99 8080\n real_server 192.0.2.21 8080 {\n TCP_CHECK {\n }\n }\n \
        real_server 192.0.2.22 8080 {\n inhibit_on_failure\n weight 1\n TCP_CHECK {\n }\n }\n}\n";

    pub(crate) fn quiet() -> Logger {
        Logger::new(
            "test",
            LogSettings {
                console: false,
                syslog: false,
                facility: None,
                detail: false,
            },
        )
    }

    #[test]
    fn quorum_loss_installs_the_sorry_server_and_gain_restores_the_pool() {
        let p = plan(CONF);
        let mut pool = Pool::new(&p, quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        assert_eq!(
            t.calls[1..],
            ["add 192.0.2.21:8080 w1", "add 192.0.2.22:8080 w1"]
        );
        t.calls.clear();
        pool.check_changed(0, 1, 0, false, None, &mut t);
        // Inhibited: weight 0 first, then the quorum is lost and the pool emptied.
        assert_eq!(
            t.calls,
            [
                "edit 192.0.2.22:8080 w0",
                "add 192.0.2.99:8080 w1",
                "del 192.0.2.21:8080",
                "del 192.0.2.22:8080"
            ]
        );
        t.calls.clear();
        pool.check_changed(0, 1, 0, true, None, &mut t);
        assert_eq!(
            t.calls,
            [
                "del 192.0.2.99:8080",
                "add 192.0.2.21:8080 w1",
                "add 192.0.2.22:8080 w1"
            ]
        );
    }

    #[test]
    fn reload_of_the_same_config_touches_nothing() {
        let p = plan(CONF);
        let mut pool = Pool::new(&p, quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        t.calls.clear();
        pool.reload(&p, &mut t);
        assert!(t.calls.is_empty(), "{:?}", t.calls);
        // A changed weight is edited in place, nothing else.
        pool.reload(&plan(&CONF.replace("weight 1", "weight 5")), &mut t);
        assert_eq!(t.calls, ["edit 192.0.2.22:8080 w5"]);
    }

    #[test]
    fn quorum_scripts_and_an_inhibited_sorry_server() {
        let conf = CONF
            .replace(
                " quorum 2\n",
                " quorum 2\n quorum_up \"/bin/true up\"\n quorum_down \"/bin/true down\"\n",
            )
            // After the sorry server, as 2.2.7 requires.
            .replace(
                "sorry_server 192.0.2.99 8080\n",
                "sorry_server 192.0.2.99 8080\n sorry_server_inhibit\n sorry_server_lvs_method DR\n",
            )
            .replace("inhibit_on_failure\n", "");
        let p = plan(&conf);
        assert_eq!(
            p.virtual_servers[0].sorry.as_ref().map(|d| d.forward),
            Some(keepalived_ipvs::Forward::Route)
        );
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        let mut pool = Pool::new(&p, quiet());
        let mut t = Fake::default();
        // The quorum holds at start: its script runs, the sorry server waits at weight 0.
        assert_eq!(pool.start(&mut t), [vec!["/bin/true", "up"]]);
        assert_eq!(
            t.calls[1..],
            [
                "add 192.0.2.99:8080 w0",
                "add 192.0.2.21:8080 w1",
                "add 192.0.2.22:8080 w1"
            ]
        );
        t.calls.clear();
        let scripts = pool.check_changed(0, 1, 0, false, None, &mut t);
        assert_eq!(scripts, [vec!["/bin/true", "down"]]);
        assert_eq!(
            t.calls,
            [
                "del 192.0.2.22:8080",
                "edit 192.0.2.99:8080 w1",
                "del 192.0.2.21:8080"
            ]
        );
        t.calls.clear();
        let scripts = pool.check_changed(0, 1, 0, true, None, &mut t);
        assert_eq!(scripts, [vec!["/bin/true", "up"]]);
        assert_eq!(
            t.calls,
            [
                "edit 192.0.2.99:8080 w0",
                "add 192.0.2.21:8080 w1",
                "add 192.0.2.22:8080 w1"
            ]
        );
    }

    #[test]
    fn reload_matches_virtual_and_real_servers_in_any_order() {
        let vs = |addr: &str, servers: &[&str]| {
            let mut text = format!("virtual_server {addr} 80 {{\n protocol TCP\n");
            for rs in servers {
                text.push_str(&format!(" real_server {rs} 80 {{\n }}\n"));
            }
            text + "}\n"
        };
        let before = vs("198.51.100.1", &["192.0.2.1", "192.0.2.2", "192.0.2.3"])
            + &vs("198.51.100.2", &["192.0.2.4", "192.0.2.5"]);
        // Both lists reversed, one real server gone.
        let after = vs("198.51.100.2", &["192.0.2.5", "192.0.2.4"])
            + &vs("198.51.100.1", &["192.0.2.3", "192.0.2.1"]);
        let mut pool = Pool::new(&plan(&before), quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        t.calls.clear();
        pool.reload(&plan(&after), &mut t);
        assert_eq!(t.calls, ["del 192.0.2.2:80"]);
        t.calls.clear();
        pool.reload(&plan(&after), &mut t);
        assert!(t.calls.is_empty(), "{:?}", t.calls);
    }

    #[test]
    fn a_dynamic_weight_edits_the_destination_and_counts_for_the_quorum() {
        let p = plan(CONF);
        let mut pool = Pool::new(&p, quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        t.calls.clear();
        pool.check_changed(0, 0, 0, true, Some(10), &mut t);
        assert_eq!(t.calls, ["edit 192.0.2.21:8080 w10"]);
        t.calls.clear();
        // .21 alone (weight 10) keeps the quorum of 2: no sorry server.
        pool.check_changed(0, 1, 0, false, None, &mut t);
        assert_eq!(t.calls, ["edit 192.0.2.22:8080 w0"]);
    }

    #[test]
    fn hysteresis_widens_the_quorum_band() {
        let conf = "virtual_server 198.51.100.20 8080 {\n quorum 2\n hysteresis 1\n \
            sorry_server 192.0.2.99 8080\n real_server 192.0.2.21 8080 {\n TCP_CHECK {\n }\n }\n \
            real_server 192.0.2.22 8080 {\n TCP_CHECK {\n }\n }\n \
            real_server 192.0.2.23 8080 {\n TCP_CHECK {\n }\n }\n}\n";
        let mut pool = Pool::new(&plan(conf), quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        t.calls.clear();
        // 3 -> 2 -> 1: still above quorum - hysteresis (1), no sorry server.
        pool.check_changed(0, 0, 0, false, None, &mut t);
        pool.check_changed(0, 1, 0, false, None, &mut t);
        assert!(
            !t.calls.iter().any(|c| c.contains("192.0.2.99")),
            "{:?}",
            t.calls
        );
        // 0: lost.
        pool.check_changed(0, 2, 0, false, None, &mut t);
        assert!(
            t.calls.iter().any(|c| c == "add 192.0.2.99:8080 w1"),
            "{:?}",
            t.calls
        );
        t.calls.clear();
        // 1, 2: below quorum + hysteresis (3): still the sorry server.
        pool.check_changed(0, 0, 0, true, None, &mut t);
        pool.check_changed(0, 1, 0, true, None, &mut t);
        assert!(
            !t.calls.iter().any(|c| c.contains("192.0.2.99")),
            "{:?}",
            t.calls
        );
        pool.check_changed(0, 2, 0, true, None, &mut t);
        assert_eq!(t.calls[0], "del 192.0.2.99:8080", "{:?}", t.calls);
        assert_eq!(t.calls.len(), 4, "{:?}", t.calls);
    }

    #[test]
    fn omega_runs_notify_down_of_alive_servers_at_stop() {
        let conf = "virtual_server 198.51.100.20 8080 {\n omega\n \
            real_server 192.0.2.21 8080 {\n notify_down \"/bin/true down 21\"\n \
            TCP_CHECK {\n }\n }\n real_server 192.0.2.22 8080 {\n \
            notify_down \"/bin/true down 22\"\n TCP_CHECK {\n }\n }\n}\n";
        let mut pool = Pool::new(&plan(conf), quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        pool.check_changed(0, 1, 0, false, None, &mut t);
        let scripts = pool.stop_with(&mut t, StopMode::Each);
        assert_eq!(scripts, [vec!["/bin/true", "down", "21"]]);
        let mut plain = Pool::new(&plan(&conf.replace("omega", "")), quiet());
        plain.start(&mut t);
        assert!(plain.stop_with(&mut t, StopMode::Each).is_empty());
    }

    /// rs_init_notifies (2.2.7 in the lab, scenario 9): the real servers that start alive get
    /// their notify_up at start, in order, before the quorum's script; an alpha one does not
    /// (it is not alive yet). A real server new at a reload gets its own.
    #[test]
    fn rs_init_notifies_runs_notify_up_of_servers_starting_alive() {
        let conf = "global_defs {\n rs_init_notifies\n}\n\
            virtual_server 198.51.100.20 8080 {\n quorum_up \"/bin/true qup\"\n \
            real_server 192.0.2.21 8080 {\n notify_up \"/bin/true up 21\"\n \
            TCP_CHECK {\n }\n }\n real_server 192.0.2.22 8080 {\n alpha\n \
            notify_up \"/bin/true up 22\"\n TCP_CHECK {\n }\n }\n \
            real_server 192.0.2.23 8080 {\n notify_up \"/bin/true up 23\"\n \
            TCP_CHECK {\n }\n }\n}\n";
        let mut pool = Pool::new(&plan(conf), quiet());
        let mut t = Fake::default();
        assert_eq!(
            pool.start(&mut t),
            [
                vec!["/bin/true", "up", "21"],
                vec!["/bin/true", "up", "23"],
                vec!["/bin/true", "qup"],
            ]
        );
        assert_eq!(
            pool.take_fifo_lines(),
            [
                "RS [192.0.2.21]:udp:8080 [198.51.100.20]:udp:8080 UP",
                "RS [192.0.2.23]:udp:8080 [198.51.100.20]:udp:8080 UP",
                "VS [198.51.100.20]:udp:8080 UP",
            ]
        );
        // A reload adding a real server: its notify_up only.
        let more = conf.replace(
            "real_server 192.0.2.23",
            "real_server 192.0.2.24 8080 {\n notify_up \"/bin/true up 24\"\n \
             TCP_CHECK {\n }\n }\n real_server 192.0.2.23",
        );
        assert_eq!(
            pool.reload(&plan(&more), &mut t),
            [vec!["/bin/true", "up", "24"]]
        );
        // Without the keyword, only the quorum's script.
        let mut plain = Pool::new(&plan(&conf.replace("rs_init_notifies", "")), quiet());
        assert_eq!(plain.start(&mut t), [vec!["/bin/true", "qup"]]);
    }

    /// An alpha server's check failing its first time: its notify_down runs and the FIFO
    /// gets `RS … DOWN`, the table untouched; the mail goes only when the report carries one
    /// (2.2.7 mails it for MISC_CHECK only), as 2.2.7 in the QEMU lab (scenario 11).
    #[test]
    fn an_alpha_servers_first_failure_runs_notify_down() {
        let conf = "virtual_server 198.51.100.20 8080 {\n protocol TCP\n \
            real_server 192.0.2.21 8080 {\n alpha\n smtp_alert\n \
            notify_up \"/bin/true up 21\"\n notify_down \"/bin/true down 21\"\n \
            TCP_CHECK {\n }\n MISC_CHECK {\n misc_path /bin/false\n }\n }\n}\n";
        let mut pool = Pool::new(&plan(conf), quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        pool.take_fifo_lines();
        t.calls.clear();
        let first_down = |check, mail: Option<&str>| Report {
            id: super::super::task::CheckId {
                vs: 0,
                rs: 0,
                check,
            },
            up: false,
            weight: None,
            mail: mail.map(str::to_string),
            first_down: true,
        };
        assert_eq!(
            pool.report(&first_down(0, None), &mut t),
            [vec!["/bin/true", "down", "21"]]
        );
        assert_eq!(
            pool.take_fifo_lines(),
            ["RS [192.0.2.21]:tcp:8080 [198.51.100.20]:tcp:8080 DOWN"]
        );
        assert!(pool.take_alerts().is_empty());
        // Each check's first failure runs it again; MISC_CHECK's mails.
        assert_eq!(
            pool.report(&first_down(1, Some("misc down")), &mut t),
            [vec!["/bin/true", "down", "21"]]
        );
        assert!(matches!(
            &pool.take_alerts()[..],
            [CheckerAlert::RealServer { alive: false, .. }]
        ));
        assert!(t.calls.is_empty(), "{:?}", t.calls);
        // Still down: both checks must pass before it is added.
        assert!(pool.check_changed(0, 0, 0, true, None, &mut t).is_empty());
        assert_eq!(
            pool.check_changed(0, 0, 1, true, None, &mut t),
            [vec!["/bin/true", "up", "21"]]
        );
        assert_eq!(t.calls, ["add 192.0.2.21:8080 w1"]);
    }

    /// The kernel refusing a real server that comes up (its service deleted behind our
    /// back): as 2.2.7, the server stays down, no script runs, and the check is told to try
    /// again at its next success.
    #[test]
    fn a_refused_real_server_stays_down_and_its_check_tries_again() {
        struct Gone(Fake);
        impl Table for Gone {
            fn add_service(&mut self, s: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
                self.0.add_service(s)
            }
            fn edit_service(&mut self, s: &keepalived_ipvs::Service) -> Result<(), IpvsError> {
                self.0.edit_service(s)
            }
            fn del_service(&mut self, k: &ServiceKey) -> Result<(), IpvsError> {
                self.0.del_service(k)
            }
            fn add_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
                Err(IpvsError::Kernel(3))
            }
            fn edit_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
                Err(IpvsError::Kernel(3))
            }
            fn del_dest(&mut self, k: &ServiceKey, d: &Destination) -> Result<(), IpvsError> {
                self.0.del_dest(k, d)
            }
        }
        let conf = "virtual_server 198.51.100.29 80 {\n protocol TCP\n \
            real_server 192.0.2.29 80 {\n alpha\n notify_up \"/bin/true up\"\n \
            TCP_CHECK {\n }\n }\n}\n";
        let mut pool = Pool::new(&plan(conf), quiet());
        let mut t = Gone(Fake::default());
        pool.start(&mut t);
        pool.take_fifo_lines();
        let id = super::super::task::CheckId {
            vs: 0,
            rs: 0,
            check: 0,
        };
        assert!(pool.check_changed(0, 0, 0, true, None, &mut t).is_empty());
        assert!(pool.take_fifo_lines().is_empty());
        assert_eq!(pool.rs_alive(0, 0), Some(false));
        assert!(super::super::task::take_refusal(id));
        assert!(!super::super::task::take_refusal(id));
    }

    #[test]
    fn stop_removes_what_was_installed() {
        let p = plan(CONF);
        let mut pool = Pool::new(&p, quiet());
        let mut t = Fake::default();
        pool.start(&mut t);
        t.calls.clear();
        pool.stop_with(&mut t, StopMode::Each);
        assert_eq!(t.calls.len(), 3, "{:?}", t.calls);
        assert!(t.calls[2].starts_with("del_service"));
    }

    #[test]
    fn stop_modes_leave_ipvs_as_asked() {
        let p = plan(CONF);
        for (mode, calls) in [
            (StopMode::Services, 1),
            (StopMode::Flushed, 0),
            (StopMode::Keep, 0),
        ] {
            let mut pool = Pool::new(&p, quiet());
            let mut t = Fake::default();
            pool.start(&mut t);
            t.calls.clear();
            pool.stop_with(&mut t, mode);
            assert_eq!(t.calls.len(), calls, "{mode:?}: {:?}", t.calls);
            assert!(t.calls.iter().all(|c| c.starts_with("del_service")));
        }
    }

    /// The mails 2.2.7 sends (crates/keepalived/tests/checker_mail_vm.rs): quorum at start and
    /// when lost or gained, a check's change with the real server's new state, every check
    /// change or (with no_checker_emails) only those that move the real server, `Removing`
    /// for a real server a reload drops.
    #[test]
    fn alerts_follow_2_2_7() {
        const TEXT: &str = "GLOBAL\nvirtual_server 198.51.100.20 8080 {\n quorum 2\n smtp_alert\n \
            real_server 192.0.2.21 8080 {\n TCP_CHECK {\n }\n MISC_CHECK {\n misc_path /bin/true\n }\n }\n \
            real_server 192.0.2.22 8080 {\n smtp_alert false\n TCP_CHECK {\n }\n }\n}\n";
        let report = |rs, check, up, mail: &str| Report {
            id: super::super::task::CheckId { vs: 0, rs, check },
            up,
            weight: None,
            mail: Some(mail.to_string()),
            first_down: false,
        };
        for (global, every_check) in [("", true), ("global_defs {\n no_checker_emails\n}", false)] {
            let p = plan(&TEXT.replace("GLOBAL", global));
            let mut pool = Pool::new(&p, quiet());
            let mut t = Fake::default();
            pool.start(&mut t);
            let start = pool.take_alerts();
            assert!(
                matches!(
                    &start[..],
                    [CheckerAlert::Quorum {
                        up: true,
                        starting: true,
                        sum: 2,
                        ..
                    }]
                ),
                "{start:?}"
            );
            pool.report(&report(0, 0, false, "tcp down"), &mut t);
            let down = pool.take_alerts();
            assert_eq!(down.len(), 2, "{down:?}");
            assert!(matches!(
                &down[0],
                CheckerAlert::Quorum {
                    up: false,
                    starting: false,
                    threshold: 2,
                    sum: 1,
                    ..
                }
            ));
            assert_eq!(
                down[1],
                CheckerAlert::RealServer {
                    rs: "[192.0.2.21]:udp:8080".into(),
                    vs: "[198.51.100.20]:udp:8080".into(),
                    alive: false,
                    body: "tcp down".into(),
                }
            );
            // The second check of a server already down.
            pool.report(&report(0, 1, false, "misc down"), &mut t);
            assert_eq!(pool.take_alerts().len(), usize::from(every_check));
            // A real server with smtp_alert false mails nothing.
            pool.report(&report(1, 0, false, "tcp down"), &mut t);
            assert!(pool.take_alerts().is_empty());
            let p2 = plan(&TEXT.replace("GLOBAL", global).replace(
                " real_server 192.0.2.22 8080 {\n smtp_alert false\n TCP_CHECK {\n }\n }\n",
                "",
            ));
            pool.report(&report(1, 0, true, "tcp up"), &mut t);
            pool.take_alerts();
            pool.reload(&p2, &mut t);
            // .22 (alive again) has smtp_alert false: its removal is not mailed either.
            assert!(pool.take_alerts().is_empty());
        }
    }
}
