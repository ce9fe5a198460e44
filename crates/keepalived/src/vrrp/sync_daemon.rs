//! `lvs_sync_daemon` (global_defs): IPVS's connection synchronisation daemons following one
//! vrrp_instance, as keepalived 2.2.7's VRRP child runs them (observed in the QEMU lab,
//! tests/sync_daemon_vm.rs): the backup daemon while the instance is not master, the master
//! daemon while it is, both stopped at the stop; each through IPVS's generic netlink
//! (`IPVS_CMD_NEW_DAEMON` / `IPVS_CMD_DEL_DAEMON`).
//!
//! What 2.2.7 logs: `Initializing ipvs` when the child starts, `Reinitializing ipvs` at each
//! reload with the line, and the kernel's refusals as `IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon
//! has already run(17)` (a reload starts the current daemon again; the kernel refuses, it
//! runs already). Nothing is logged for a start or stop that works. A reload that changes the
//! settings stops the running daemon before the new one starts; one that removes the line or
//! names an unknown instance leaves the daemon running, past the stop too (observed, run
//! `-change`).

use keepalived_config::Config;
use keepalived_config::sync_daemon::read_args;
use keepalived_ipvs::{DaemonRole, Ipvs, IpvsError, SyncDaemon};
use keepalived_vrrp::event::State;

use crate::logger::Logger;

/// The daemon to run and the instance it follows, resolved against the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemonPlan {
    /// The vrrp_instance whose state the daemons follow.
    pub instance: String,
    /// The daemon's settings (its role is set when it starts); `None` when the instance is
    /// not in the file (2.2.7 logs it and runs no daemon).
    pub daemon: Option<SyncDaemon>,
}

/// The sync daemon `config` asks for: the first `lvs_sync_daemon` line the configuration
/// check kept (a second is refused there), its sync id defaulting to the instance's virtual
/// router id; else the first vrrp_instance with the deprecated `lvs_sync_daemon_interface
/// IF` (2.2.7 runs the daemon on IF with sync id 0 and the kernel's defaults, following
/// that instance; observed). `None` when neither is written.
pub fn plan(config: &Config) -> Option<SyncDaemonPlan> {
    let daemon = |interface: String, sync_id: u32| SyncDaemon {
        role: DaemonRole::Backup,
        interface,
        sync_id,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let setting = config
        .global
        .other
        .iter()
        .filter(|s| s.keyword == "lvs_sync_daemon")
        .find_map(|s| read_args(&s.args).setting);
    let Some(setting) = setting else {
        return config.instances.iter().find_map(|i| {
            let interface = i
                .other
                .iter()
                .find(|s| s.keyword == "lvs_sync_daemon_interface")?
                .args
                .first()?;
            Some(SyncDaemonPlan {
                instance: i.name.to_string(),
                daemon: Some(daemon(interface.clone(), 0)),
            })
        });
    };
    let name = setting.instance.clone().unwrap_or_default();
    let Some(instance) = config.instances.iter().find(|i| i.name.as_str() == name) else {
        return Some(SyncDaemonPlan {
            instance: name,
            daemon: None,
        });
    };
    let sync_id = setting
        .sync_id
        .map(u32::from)
        .unwrap_or_else(|| u32::from(instance.virtual_router_id));
    Some(SyncDaemonPlan {
        instance: name,
        daemon: Some(SyncDaemon {
            maxlen: setting.maxlen,
            port: setting.port,
            ttl: setting.ttl,
            group: setting.group,
            ..daemon(setting.interface, sync_id)
        }),
    })
}

/// Whether a load whose plan is `new` stops the daemon running under `old` (`None`: no line
/// then). As 2.2.7 in the QEMU lab (tests/sync_daemon_vm.rs, run `-change`): a reload that
/// changes the daemon's settings (interface, sync id, maxlen, port, TTL, group) stops it
/// before the new one starts (nothing logged); one naming another instance keeps it when
/// the settings are the same (the role then follows the new instance); one that removes the
/// line, or names an instance the file does not have (the line is then cleared), leaves it
/// running, and a line written again later stops it (nothing logged).
pub fn stops_at_load(old: Option<&SyncDaemonPlan>, new: Option<&SyncDaemonPlan>) -> bool {
    match new.and_then(|p| p.daemon.as_ref()) {
        None => false,
        Some(new) => old.and_then(|p| p.daemon.as_ref()) != Some(new),
    }
}

/// The daemon an instance in `state` wants: master while master, backup otherwise; `None`
/// while it starts or stops (nothing changes then).
pub fn role_for(state: State) -> Option<DaemonRole> {
    match state {
        State::Master => Some(DaemonRole::Master),
        State::Backup | State::Fault => Some(DaemonRole::Backup),
        _ => None,
    }
}

/// One request to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `IPVS_CMD_DEL_DAEMON` of the role.
    Stop(DaemonRole),
    /// `IPVS_CMD_NEW_DAEMON` of the role.
    Start(DaemonRole),
}

/// The requests that take the kernel from running `running` to running `want`.
pub fn steps(running: Option<DaemonRole>, want: DaemonRole) -> Vec<Step> {
    match running {
        Some(role) if role == want => Vec::new(),
        Some(role) => vec![Step::Stop(role), Step::Start(want)],
        None => vec![Step::Start(want)],
    }
}

/// The line keepalived 2.2.7 logs when the kernel refuses a daemon request: the old
/// setsockopt command's name and number, and libipvs's words for the error. The errno is
/// the one 2.2.7 reports: its netlink library reads the kernel's ESRCH (no such daemon) as
/// ENOENT (observed: the stop of a daemon whose start the kernel refused logs `No such file
/// or directory(2)`).
pub fn refusal_line(step: Step, err: &IpvsError) -> String {
    let errno = match err.errno().unwrap_or(0) {
        nix::libc::ESRCH => nix::libc::ENOENT,
        errno => errno,
    };
    let (name, number) = match step {
        Step::Start(_) => ("IP_VS_SO_SET_STARTDAEMON", 1163),
        Step::Stop(_) => ("IP_VS_SO_SET_STOPDAEMON", 1164),
    };
    let words = match (step, errno) {
        (Step::Start(_), nix::libc::EEXIST) => "Daemon has already run".to_string(),
        // A reply that does not parse has no errno.
        (_, 0) => err.to_string(),
        _ => keepalived_ipvs::client::describe(&std::io::Error::from_raw_os_error(errno)),
    };
    format!("IPVS cmd {name}({number}) error: {words}({errno})")
}

/// The running side: the plan, the netlink socket and the daemon the kernel runs for us.
pub struct SyncDaemons {
    plan: Option<SyncDaemonPlan>,
    ipvs: Option<Ipvs>,
    running: Option<DaemonRole>,
    /// A load happened before this one.
    loaded: bool,
    /// The load under way is a reload: the running daemon is started again.
    restart: bool,
    logger: Logger,
}

impl SyncDaemons {
    /// Nothing planned yet.
    pub fn new(logger: Logger) -> Self {
        SyncDaemons {
            plan: None,
            ipvs: None,
            running: None,
            loaded: false,
            restart: false,
            logger,
        }
    }

    /// Takes the plan of a load (the start, then each reload), before the instances are
    /// installed. A changed daemon is stopped ([`stops_at_load`]); with one configured the line of
    /// 2.2.7 is logged (`Initializing ipvs`, `Reinitializing ipvs` at a reload) and IPVS is
    /// opened (its module loaded when missing).
    pub fn load(&mut self, plan: Option<SyncDaemonPlan>) {
        let reload = std::mem::replace(&mut self.loaded, true);
        self.restart = reload;
        if stops_at_load(self.plan.as_ref(), plan.as_ref())
            && let Some(role) = self.running
        {
            self.send(Step::Stop(role));
            self.running = None;
        }
        let Some(plan) = plan else {
            // The line removed: the running daemon is left as it is, and forgotten but for
            // its role (a later line stops it before starting its own).
            self.plan = None;
            return;
        };
        self.logger.info(if reload {
            "Reinitializing ipvs"
        } else {
            "Initializing ipvs"
        });
        if plan.daemon.is_none() {
            self.logger.info(&format!(
                "Unable to find vrrp instance {} for lvs_syncd - clearing lvs_syncd config",
                plan.instance
            ));
            self.plan = None;
            return;
        }
        self.plan = Some(plan);
        if self.ipvs.is_none() {
            match crate::checker::open_ipvs() {
                Ok(ipvs) => self.ipvs = Some(ipvs),
                Err(e) => self
                    .logger
                    .info(&format!("IPVS: Can't initialize ipvs: {e}")),
            }
        }
    }

    /// The instance the daemons follow, if any.
    pub fn instance(&self) -> Option<&str> {
        self.plan.as_ref().map(|p| p.instance.as_str())
    }

    /// After a load: the daemon for the followed instance's `state` (`None`: not running)
    /// starts; after a reload the running one is started again, as 2.2.7 does (the kernel
    /// refuses it, and the refusal is logged).
    pub fn settle(&mut self, state: Option<State>) {
        if self.plan.is_none() {
            return;
        }
        let want = state.and_then(role_for).unwrap_or(DaemonRole::Backup);
        if self.running == Some(want) {
            if std::mem::take(&mut self.restart) {
                self.send(Step::Start(want));
            }
        } else {
            self.follow(want);
        }
    }

    /// The followed instance entered `state`.
    pub fn entered(&mut self, state: State) {
        if let Some(want) = role_for(state) {
            self.follow(want);
        }
    }

    fn follow(&mut self, want: DaemonRole) {
        if self.plan.is_none() {
            return;
        }
        // What was asked for counts as running, as with 2.2.7: a daemon the kernel
        // refused is stopped all the same (and the kernel's refusal of that logged).
        for step in steps(self.running, want) {
            self.send(step);
            self.running = match step {
                Step::Stop(_) => None,
                Step::Start(role) => Some(role),
            };
        }
    }

    /// The stop: the running daemon stops (not one whose line a reload removed: 2.2.7
    /// leaves it running).
    pub fn stop(&mut self) {
        if self.plan.is_none() {
            return;
        }
        if let Some(role) = self.running.take() {
            self.send(Step::Stop(role));
        }
    }

    /// Sends one request; a refusal is logged.
    fn send(&mut self, step: Step) {
        let Some(ipvs) = self.ipvs.as_mut() else {
            return;
        };
        let result = match step {
            Step::Start(role) => {
                let Some(mut daemon) = self.plan.as_ref().and_then(|p| p.daemon.clone()) else {
                    return;
                };
                daemon.role = role;
                ipvs.start_daemon(&daemon)
            }
            Step::Stop(role) => ipvs.stop_daemon(role),
        };
        if let Err(e) = result {
            self.logger.info(&refusal_line(step, &e));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    fn config(global: &str) -> Config {
        let text = format!(
            "global_defs {{\n{global}\n}}\n\
             vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 100\n\
             virtual_ipaddress {{\n 192.0.2.100\n }}\n}}\n"
        );
        let host = FakeHost::lab();
        load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn the_plan_takes_the_instance_s_vrid_unless_an_id_is_given() {
        let p = plan(&config(" lvs_sync_daemon eth0 VI_1")).expect("plan");
        assert_eq!(p.instance, "VI_1");
        assert_eq!(
            p.daemon.expect("daemon"),
            SyncDaemon {
                role: DaemonRole::Backup,
                interface: "eth0".into(),
                sync_id: 51,
                maxlen: None,
                port: None,
                ttl: None,
                group: None,
            }
        );
        let p = plan(&config(
            " lvs_sync_daemon eth1 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90",
        ))
        .expect("plan");
        let d = p.daemon.expect("daemon");
        assert_eq!(
            (d.interface.as_str(), d.sync_id, d.maxlen),
            ("eth1", 7, Some(1400))
        );
        assert_eq!(
            (d.port, d.ttl, d.group),
            (
                Some(8850),
                Some(2),
                Some("224.0.0.90".parse().expect("group"))
            )
        );
    }

    #[test]
    fn no_daemon_without_the_keyword_or_its_instance() {
        assert_eq!(plan(&config(" router_id x")), None);
        let p = plan(&config(" lvs_sync_daemon eth0 VI_9")).expect("plan");
        assert_eq!((p.instance.as_str(), p.daemon), ("VI_9", None));
        let p = plan(&config(" lvs_sync_daemon eth0")).expect("plan");
        assert_eq!((p.instance.as_str(), p.daemon), ("", None));
    }

    /// An instance's `lvs_sync_daemon_interface` (1.x): sync id 0, the kernel's defaults.
    #[test]
    fn the_deprecated_instance_keyword_runs_a_daemon_too() {
        let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n\
                    lvs_sync_daemon_interface eth1\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n";
        let host = FakeHost::lab();
        let config = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config;
        let p = plan(&config).expect("plan");
        let d = p.daemon.expect("daemon");
        assert_eq!(
            (
                p.instance.as_str(),
                d.interface.as_str(),
                d.sync_id,
                d.maxlen
            ),
            ("VI_1", "eth1", 0, None)
        );
    }

    #[test]
    fn the_first_line_wins() {
        let p = plan(&config(
            " lvs_sync_daemon eth0 VI_1 id 3\n lvs_sync_daemon eth1 VI_1 id 4",
        ))
        .expect("plan");
        let d = p.daemon.expect("daemon");
        assert_eq!((d.interface.as_str(), d.sync_id), ("eth0", 3));
    }

    #[test]
    fn the_daemon_follows_the_state() {
        assert_eq!(role_for(State::Master), Some(DaemonRole::Master));
        assert_eq!(role_for(State::Backup), Some(DaemonRole::Backup));
        assert_eq!(role_for(State::Fault), Some(DaemonRole::Backup));
        assert_eq!(role_for(State::Initialize), None);
        assert_eq!(
            steps(None, DaemonRole::Backup),
            vec![Step::Start(DaemonRole::Backup)]
        );
        assert_eq!(
            steps(Some(DaemonRole::Backup), DaemonRole::Master),
            vec![
                Step::Stop(DaemonRole::Backup),
                Step::Start(DaemonRole::Master)
            ]
        );
        assert!(steps(Some(DaemonRole::Master), DaemonRole::Master).is_empty());
    }

    /// What a reload does to the running daemon, as 2.2.7 in the lab (run `-change`).
    #[test]
    fn a_reload_stops_the_daemon_only_when_its_settings_change() {
        let first = plan(&config(" lvs_sync_daemon eth0 VI_1 id 7 port 8850"));
        let same = plan(&config(" lvs_sync_daemon eth0 VI_1 id 7 port 8850"));
        let port = plan(&config(" lvs_sync_daemon eth0 VI_1 id 7 port 8851"));
        let id = plan(&config(" lvs_sync_daemon eth0 VI_1 id 8 port 8850"));
        assert!(!stops_at_load(first.as_ref(), same.as_ref()));
        assert!(stops_at_load(first.as_ref(), port.as_ref()));
        assert!(stops_at_load(first.as_ref(), id.as_ref()));
        // Removed: left running; written again: stopped before the new one.
        assert!(!stops_at_load(first.as_ref(), None));
        assert!(stops_at_load(None, first.as_ref()));
        assert!(!stops_at_load(None, None));
        // An unknown instance: left running too.
        let unknown = plan(&config(" lvs_sync_daemon eth0 VI_9"));
        assert!(unknown.as_ref().is_some_and(|p| p.daemon.is_none()));
        assert!(!stops_at_load(first.as_ref(), unknown.as_ref()));
    }

    #[test]
    fn refusals_are_worded_as_2_2_7() {
        assert_eq!(
            refusal_line(
                Step::Start(DaemonRole::Backup),
                &IpvsError::Kernel(nix::libc::EEXIST)
            ),
            "IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)"
        );
        assert_eq!(
            refusal_line(
                Step::Stop(DaemonRole::Master),
                &IpvsError::Kernel(nix::libc::ESRCH)
            ),
            "IPVS cmd IP_VS_SO_SET_STOPDAEMON(1164) error: No such file or directory(2)"
        );
        assert_eq!(
            refusal_line(
                Step::Start(DaemonRole::Master),
                &IpvsError::Kernel(nix::libc::ENODEV)
            ),
            "IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: No such device(19)"
        );
    }
}
