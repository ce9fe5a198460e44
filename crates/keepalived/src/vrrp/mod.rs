//! The VRRP child: plans the configured instances and runs them on a current-thread tokio
//! runtime. Signals are handled here only, set up once: SIGTERM/SIGINT start the stop (a
//! [`shutdown::Shutdown`] token the driver waits on), the others become [`driver::Control`]s;
//! a reload reads and checks the new file on a blocking thread, off the protocol loop, so a
//! large file never delays adverts.

pub mod address_monitor;
pub mod advert_watch;
pub mod announce_plan;
pub mod driver;
pub mod dumps;
pub mod fault_reason;
pub mod firewall_plan;
pub mod garp_pace;
pub mod policy_monitor;
pub mod refusal;
pub mod route_plan;
pub mod setup;
pub mod shutdown;
pub mod sync_daemon;
pub mod sync_plan;
pub mod track_process;
pub mod transitions;
pub mod vmac_plan;
pub mod wording;

use std::net::IpAddr;
use std::path::PathBuf;

use std::sync::Arc;

use anyhow::Context;
use keepalived_config::Config;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use crate::alert::{self, AlertSettings};
use crate::cli::Cli;
use crate::config_log::{Reader, log_diagnostics, unusable};
use crate::config_test::load_config;
use crate::logger::Logger;
use crate::supervisor::{ChildExit, clear_stats_signal, json_signal};
use driver::Control;
use setup::{InterfaceInfo, Planned};

/// The (uid, gid) of a user name.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
}

/// Where the state changes of `config`'s instances and groups with `smtp_alert` are mailed
/// (global_defs), or `None` when nothing asks; why they cannot be sent is logged.
fn alert_settings(config: &Config, logger: &Logger) -> Option<Arc<AlertSettings>> {
    let wanted = config
        .instances
        .iter()
        .any(|i| alert::vrrp_alerts(config, i))
        || sync_plan::groups(config).iter().any(|g| g.smtp_alert);
    if !wanted {
        return None;
    }
    match AlertSettings::from_config(config) {
        Ok(settings) => settings.map(Arc::new),
        Err(why) => {
            logger.info(&format!("SMTP alerts disabled: {why}"));
            None
        }
    }
}

/// Plans `config` (whose scripts the configuration's validation has already found, checked
/// and resolved) against this host, logging each instance that cannot run.
fn plan(config: Config, logger: &Logger) -> Planned {
    let mut planned = plan_quietly(&config);
    planned.alerts = alert_settings(&config, logger);
    for note in &planned.notes {
        logger.info(note);
    }
    for problem in &planned.problems {
        logger.info(&wording::about(
            &problem.instance,
            &format!("cannot run: {}", problem.error),
        ));
    }
    planned
}

/// Plans `config` against this host, logging nothing.
fn plan_quietly(config: &Config) -> Planned {
    // A VIP is on the interface while its instance is master (and removed at start as a
    // leftover of an earlier run): it is never taken for the interface's own address, or a
    // reload would see the instance's source change and restart it. keepalived 2.2.7 is in
    // FAULT (`no IPv4 address for interface`) when nothing but VIPs is left (observed with a
    // VIP equal to the interface's only address); likewise for IPv6 link-local addresses
    // (vrrp_strict asks an IPv6 instance's first VIP to be one).
    let vips: std::collections::HashSet<IpAddr> = config
        .instances
        .iter()
        .flat_map(|i| i.virtual_ipaddresses.iter().chain(&i.excluded_ipaddresses))
        .map(|a| a.address)
        .collect();
    let lookup = |name: &str| {
        keepalived_net::interface::lookup(name)
            .ok()
            .map(|i| InterfaceInfo {
                index: i.index,
                primary: i
                    .ipv4
                    .iter()
                    .map(|&(a, _)| a)
                    .find(|a| !vips.contains(&IpAddr::V4(*a))),
                link_local: i
                    .ipv6
                    .iter()
                    .copied()
                    .find(|a| a.is_unicast_link_local() && !vips.contains(&IpAddr::V6(*a))),
            })
    };
    setup::plan(config, lookup, lookup_user)
}

/// Runs every vrrp_instance of `config` in this process until a stop signal.
pub fn run(cli: &Cli, config: Config, logger: Logger) -> anyhow::Result<ChildExit> {
    let group = config.global.vrrp_mcast_group4;
    let router_id = config.global.router_id.clone();
    let fifo = driver::fifo::plan(&config, lookup_user);
    let firewall = firewall_plan::FirewallSettings::of(&config.global);
    // What no reload may change (the parent refuses such a reload; the control socket's
    // check says so beforehand). A reload that changed it would have been refused, so the
    // start's stays right.
    let fixed = crate::reload_guard::Fixed::of(&config);
    let startup_delay = crate::startup_delay::of(&config);
    let promote = crate::promote_secondaries::interfaces(&config);
    crate::unknown_vrids::set(&config);
    crate::rcv_bufs::set(&config);
    let planned = plan(config, &logger);
    let alerts = planned.alerts.clone();
    // With no vrrp_instance at all, the static blocks alone keep the process running (as
    // 2.2.7's does), and so does nothing at all under `--all` (2.2.7's idles too); only
    // instances that are all refused stop it.
    let nothing_refused = planned.problems.is_empty();
    if planned.instances.is_empty() && !nothing_refused {
        logger.info("no vrrp_instance can run");
        return Ok(ChildExit::Config);
    }
    let settings = driver::Settings {
        group,
        router_id: router_id.unwrap_or_else(|| {
            nix::unistd::gethostname()
                .map_or_else(|_| String::new(), |h| h.to_string_lossy().into_owned())
        }),
        keep_addresses: cli.dont_release_vrrp,
        alerts,
        fifo,
        release_vips: cli.release_vips,
        firewall,
    };
    let vips: Vec<std::net::IpAddr> = planned
        .instances
        .iter()
        .flat_map(|p| p.addresses.iter().map(|a| a.address))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let (controls, receiver) = mpsc::channel::<Control>(16);
        let (trigger, shutdown) = shutdown::channel();
        let signals = Signals::install()?;
        let reload = ReloadSource {
            path: cli.use_file.clone(),
            config_id: cli.config_id.clone(),
            all_config: cli.all_config,
            vrrp_only: cli.vrrp && !cli.check,
            fixed: Some(fixed),
        };
        let socket = start_control_socket(cli, &controls, &reload, &logger);
        if let Some(addr) = cli.metrics_listen {
            match crate::metrics_http::bind(addr).await {
                Ok(listener) => {
                    logger.info(&format!("Serving metrics on http://{addr}/metrics"));
                    tokio::task::spawn_local(crate::metrics_http::serve(
                        listener,
                        controls.clone(),
                        logger.clone(),
                    ));
                }
                Err(err) => logger.info(&format!("{err:#}")),
            }
        }
        signals.spawn(trigger, controls, reload, logger.clone());
        if cli.address_monitoring {
            address_monitor::spawn(logger.clone(), vips);
        }
        crate::startup_delay::wait(startup_delay, &shutdown, &logger).await;
        let promoted = crate::promote_secondaries::apply(&promote, &logger);
        let result = driver::run(planned, settings, logger, receiver, shutdown).await;
        promoted.restore();
        if socket {
            let _ = std::fs::remove_file(&cli.control_socket);
        }
        result
    })?;
    Ok(ChildExit::Clean)
}

/// Opens the control socket (`--control-socket`), if it can (true): the daemon runs without
/// it otherwise, and the log says why.
fn start_control_socket(
    cli: &Cli,
    controls: &mpsc::Sender<Control>,
    reload: &ReloadSource,
    logger: &Logger,
) -> bool {
    let listener = match crate::control::server::bind(&cli.control_socket) {
        Ok(listener) => listener,
        Err(err @ crate::control::server::BindError::InUse(_)) => {
            logger.detail(&format!("No control socket: {err}"));
            return false;
        }
        Err(err) => {
            logger.info(&format!("No control socket: {err:#}"));
            return false;
        }
    };
    let source = reload.clone();
    let parent = cli.parent_pid;
    let handler = crate::control::server::Handler {
        controls: controls.clone(),
        check: std::sync::Arc::new(move || source.check()),
        apply: std::sync::Arc::new(move || {
            // As `kill -HUP` on the daemon: the parent reloads every child.
            let pid = parent.unwrap_or_else(|| i32::try_from(std::process::id()).unwrap_or(0));
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            )
            .map_err(|e| format!("cannot signal the daemon to reload: {e}"))
        }),
        logger: logger.clone(),
    };
    tokio::task::spawn_local(crate::control::server::serve(listener, handler));
    true
}

/// Where a reload reads the configuration from (the command line's `-f`, `-i`, `--all`).
#[derive(Debug, Clone)]
struct ReloadSource {
    path: PathBuf,
    config_id: Option<String>,
    all_config: bool,
    /// `-P`: no checker child runs beside this one.
    vrrp_only: bool,
    /// What the running configuration fixes until a restart.
    fixed: Option<crate::reload_guard::Fixed>,
}

impl ReloadSource {
    /// Checks the configuration as [`ReloadSource::load`] would, logging nothing: the
    /// problems found when it can be applied, the reasons when it cannot.
    fn check(&self) -> Result<Vec<String>, Vec<String>> {
        let loaded = load_config(&self.path, self.config_id.as_deref(), self.all_config);
        let problems: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity != keepalived_config::Severity::Log)
            .map(ToString::to_string)
            .collect();
        if unusable(&loaded) {
            return Err(problems);
        }
        // The parent refuses these before any child reads the file.
        if let Some(fixed) = &self.fixed {
            let refusals = fixed.refusals(&crate::reload_guard::Fixed::of(&loaded.config));
            if !refusals.is_empty() {
                let mut reasons = problems;
                reasons.extend(refusals);
                return Err(reasons);
            }
        }
        if let Some(refused) = refusal::refusal(&loaded.config, &loaded.diagnostics) {
            let mut reasons = problems;
            reasons.extend(refused.line());
            return Err(reasons);
        }
        let planned = plan_quietly(&loaded.config);
        if planned.instances.is_empty() {
            let mut reasons = problems;
            reasons.push("no vrrp_instance of the new configuration can run".to_string());
            reasons.extend(
                planned
                    .problems
                    .iter()
                    .map(|p| format!("({}) cannot run: {}", p.instance, p.error)),
            );
            return Err(reasons);
        }
        Ok(problems)
    }

    /// Reads, checks and plans the configuration (blocking: run it off the protocol loop).
    /// `None` when it cannot be used; the running one stays, and the log says why.
    fn load(&self, logger: &Logger) -> Option<Planned> {
        // keepalived 2.2.7's VRRP child says `Reloading`; its parent logged the file's lines
        // (crate::supervisor).
        logger.info("Reloading");
        let loaded = load_config(&self.path, self.config_id.as_deref(), self.all_config);
        log_diagnostics(logger, &loaded, Reader::vrrp_child(self.vrrp_only, &loaded));
        if unusable(&loaded) {
            logger.info("The new configuration cannot be used: keeping the running one");
            return None;
        }
        // keepalived 2.2.7 stops the daemon here; a reload keeps the running configuration
        // instead (docs/compat.md, deliberate differences).
        if let Some(refused) = refusal::refusal(&loaded.config, &loaded.diagnostics) {
            if let Some(line) = refused.unsaid_line(&loaded.diagnostics) {
                logger.info(&line);
            }
            logger.info("The new configuration cannot be used: keeping the running one");
            return None;
        }
        let planned = plan(loaded.config, logger);
        if planned.instances.is_empty() {
            logger
                .info("No vrrp_instance of the new configuration can run: keeping the running one");
            return None;
        }
        Some(planned)
    }
}

/// The signals the VRRP child handles, installed once.
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
    json: Signal,
    clear: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let open = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
        Ok(Signals {
            term: open(SignalKind::terminate())?,
            int: open(SignalKind::interrupt())?,
            hup: open(SignalKind::hangup())?,
            usr1: open(SignalKind::user_defined1())?,
            usr2: open(SignalKind::user_defined2())?,
            json: open(SignalKind::from_raw(json_signal()))?,
            clear: open(SignalKind::from_raw(clear_stats_signal()))?,
        })
    }

    /// Two tasks: one turns SIGTERM/SIGINT into the stop, the other turns the rest into
    /// controls (a reload is read and planned on a blocking thread first), so a stop is
    /// never held up behind a slow reload.
    fn spawn(
        self,
        trigger: shutdown::Trigger,
        controls: mpsc::Sender<Control>,
        reload: ReloadSource,
        logger: Logger,
    ) {
        let Signals {
            mut term,
            mut int,
            mut hup,
            mut usr1,
            mut usr2,
            mut json,
            mut clear,
        } = self;
        tokio::task::spawn_local(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            trigger.stop();
        });
        tokio::task::spawn_local(async move {
            loop {
                let control = tokio::select! {
                    _ = usr1.recv() => Control::DumpData,
                    _ = usr2.recv() => Control::DumpStats,
                    _ = json.recv() => Control::DumpJson,
                    _ = clear.recv() => Control::DumpAndClearStats,
                    _ = hup.recv() => {
                        let (source, reload_logger) = (reload.clone(), logger.clone());
                        let loaded = tokio::task::spawn_blocking(move || {
                            source.load(&reload_logger)
                        })
                        .await;
                        match loaded {
                            Ok(Some(planned)) => Control::Reload(Box::new(planned)),
                            Ok(None) => continue,
                            Err(err) => {
                                logger.info(&format!("Reload failed: {err}"));
                                continue;
                            }
                        }
                    }
                };
                if controls.send(control).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safe_file::tests::{TempDir, TestResult};

    #[test]
    fn a_reload_check_refuses_what_2_2_7_refuses_at_run_time() -> TestResult {
        let dir = TempDir::new("reload-refusal")?;
        let path = dir.path().join("keepalived.conf");
        let source = ReloadSource {
            path: path.clone(),
            config_id: None,
            all_config: false,
            vrrp_only: false,
            fixed: None,
        };
        for (text, reason) in [
            (
                "vrrp_instance VI_1 {\n interface nosuchif0\n virtual_router_id 9\n \
                 virtual_ipaddress {\n 192.0.2.9\n }\n}\n",
                "Non-existent interface specified in configuration",
            ),
            (
                "vrrp_instance VI_1 {\n interface lo\n virtual_ipaddress {\n 192.0.2.9\n }\n}\n",
                "(VI_1) the virtual router id must be set",
            ),
            (
                "vrrp_instance VI_1 {\n virtual_router_id 9\n virtual_ipaddress {\n 192.0.2.9\n }\n}\n",
                "(VI_1) Unknown interface!",
            ),
        ] {
            std::fs::write(&path, text)?;
            let Err(reasons) = source.check() else {
                panic!("accepted:\n{text}");
            };
            assert!(
                reasons.iter().any(|r| r.contains(reason)),
                "{reason} not in {reasons:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_reload_check_refuses_a_new_nftables_table_name() -> TestResult {
        let dir = TempDir::new("reload-table")?;
        let path = dir.path().join("keepalived.conf");
        let instance = "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 9\n\
                        virtual_ipaddress {\n 192.0.2.9\n }\n}\n";
        std::fs::write(
            &path,
            format!("global_defs {{\n vrrp_strict\n}}\n{instance}"),
        )?;
        let running = load_config(&path, None, false);
        let source = ReloadSource {
            path: path.clone(),
            config_id: None,
            all_config: false,
            vrrp_only: false,
            fixed: Some(crate::reload_guard::Fixed::of(&running.config)),
        };
        let table = "Cannot change nftables table name at a reload - please restart keepalived";
        // (`lo` makes the instance itself refused here: only the table line matters.)
        let before = source.check().err().unwrap_or_default();
        assert!(!before.iter().any(|r| r == table), "{before:?}");
        std::fs::write(
            &path,
            format!("global_defs {{\n vrrp_strict\n nftables kx\n}}\n{instance}"),
        )?;
        let Err(reasons) = source.check() else {
            panic!("a new table name was accepted");
        };
        assert!(reasons.iter().any(|r| r == table), "{reasons:?}");
        Ok(())
    }
}
