//! The checker child (`Keepalived_healthcheckers`), as keepalived 2.2.7 runs it: it opens
//! IPVS (loading ip_vs if needed; without it the child stops with `IPVS: Can't initialize
//! ipvs`), installs the virtual servers and their alive real servers, runs every health check
//! as its own task, moves real servers in and out of the table as their checks change, and on
//! SIGHUP reloads without touching what did not change; at stop it removes what it installed.
//!
//! - [`plan`]: the configuration resolved with keepalived's defaults.
//! - [`probe`]: one attempt of the TCP, HTTP, MISC and PING checks; [`datagram`] (UDP_CHECK,
//!   DNS_CHECK), [`smtp`], [`tls`] (SSL_GET) and [`file`] (FILE_CHECK) for the others.
//! - [`genhash`]: the `genhash` command.
//! - [`task`]: a check's retries, state and log lines.
//! - [`pool`]: quorum, sorry server, inhibit_on_failure, notify scripts and the IPVS calls.

pub mod datagram;
pub mod fifo;
pub mod file;
pub mod genhash;
pub mod plan;
pub mod pool;
pub mod probe;
pub mod smtp;
pub mod source;
pub mod task;
pub mod tcp_checks;
pub mod tls;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use keepalived_config::Config;
use keepalived_ipvs::{Ipvs, IpvsError};
use keepalived_track::security::inspect_script;
use keepalived_track::{ScriptSpec, run_once};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::alert::{self, AlertSettings};
use crate::cli::{ChildRole, Cli};
use crate::config_test::load_config;
use crate::daemon::{log_diagnostics, unusable};
use crate::logger::Logger;
use crate::supervisor::EXIT_FATAL;
use plan::{CheckKind, FlushOnStop, Plan};
use pool::{Pool, StopMode};
use task::{CheckId, Names, Report};

/// How long a notify script may run.
const NOTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the checker child until SIGTERM; returns the exit status.
pub fn run(cli: &Cli, config: Config, logger: Logger) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let mut plan = Plan::from_config(&config);
        let mut alerts = alert_settings(&config, &plan, &logger);
        // The notify FIFOs are those of the start (as the VRRP child's).
        let user = config.global.script_user.as_ref().and_then(|r| {
            nix::unistd::User::from_name(&r.user)
                .ok()
                .flatten()
                .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
        });
        let mut fifos = fifo::CheckerFifos::open(&config, user, &logger);
        drop(config);
        resolve_scripts(&mut plan, &logger);
        log_unsupported(&plan, &logger);
        prepare(&plan, &logger);
        logger.info("Initializing ipvs");
        let mut ipvs = match open_ipvs() {
            Ok(ipvs) => ipvs,
            Err(e) => {
                logger.info(&format!("IPVS: Can't initialize ipvs: {e}"));
                for vs in &plan.virtual_servers {
                    for rs in &vs.real_servers {
                        logger.info(&format!(
                            "Shutting down service {} from VS {}",
                            rs.name, vs.name
                        ));
                    }
                }
                fifos.close();
                logger.info("Stopped");
                return Ok(EXIT_FATAL);
            }
        };
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
        let notifier = spawn_notifier();
        let (flush_at_start, mut flush_on_stop) = (plan.flush_at_start, plan.flush_on_stop);
        // The pool takes the plan: one copy of the real servers and their checks.
        let mut pool = Pool::from_plan(plan, logger.clone());
        if flush_at_start
            && let Err(e) = ipvs.flush()
        {
            logger.info(&format!("IPVS: flush failed: {e}"));
        }
        for argv in pool.start(&mut ipvs) {
            let _ = notifier.send(argv);
        }
        fifos.write(pool.take_fifo_lines());
        send_alerts(&mut pool, alerts.as_ref(), &logger);
        logger.info("Startup complete");
        let mut tasks = spawn_checks(&pool, &tx, &logger, false);
        // When the start-up (or the last reload) is over and its memory goes back.
        let mut settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
        loop {
            let settle = async {
                match settle_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                () = settle => {
                    settle_at = None;
                    crate::memory::release_startup_memory();
                }
                Some(report) = rx.recv() => {
                    for argv in pool.report(&report, &mut ipvs) {
                        let _ = notifier.send(argv);
                    }
                    fifos.write(pool.take_fifo_lines());
                    send_alerts(&mut pool, alerts.as_ref(), &logger);
                }
                _ = hup.recv() => {
                    logger.info("Reloading");
                    logger.info(&format!("Opening file '{}'.", cli.use_file.display()));
                    let loaded =
                        load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
                    log_diagnostics(&logger, &loaded, Some(ChildRole::Checker));
                    if unusable(&loaded) {
                        logger.info("The new configuration cannot be used: keeping the running one");
                        continue;
                    }
                    let mut next = Plan::from_config(&loaded.config);
                    // The mail settings of global_defs are read again, as 2.2.7 does.
                    alerts = alert_settings(&loaded.config, &next, &logger);
                    // The model is no longer needed: freed before the pool grows.
                    drop(loaded);
                    resolve_scripts(&mut next, &logger);
                    log_unsupported(&next, &logger);
                    prepare(&next, &logger);
                    for handle in tasks.drain(..) {
                        handle.abort();
                    }
                    // Reports of the old checks are stale now.
                    while rx.try_recv().is_ok() {}
                    logger.info("Reinitializing ipvs");
                    flush_on_stop = next.flush_on_stop;
                    for argv in pool.reload_plan(next, &mut ipvs) {
                        let _ = notifier.send(argv);
                    }
                    fifos.write(pool.take_fifo_lines());
                    send_alerts(&mut pool, alerts.as_ref(), &logger);
                    logger.info("Reload complete");
                    settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
                    tasks = spawn_checks(&pool, &tx, &logger, true);
                }
            }
        }
        for handle in tasks {
            handle.abort();
        }
        let mode = match (cli.dont_release_ipvs, flush_on_stop) {
            (true, _) => StopMode::Keep,
            (false, FlushOnStop::Full) => StopMode::Flushed,
            (false, FlushOnStop::Vs) => StopMode::Services,
            (false, FlushOnStop::No) => StopMode::Each,
        };
        let scripts = pool.stop_with(&mut ipvs, mode);
        if mode == StopMode::Flushed
            && let Err(e) = ipvs.flush()
        {
            logger.info(&format!("IPVS: flush failed: {e}"));
        }
        fifos.write(pool.take_fifo_lines());
        fifos.close();
        for argv in scripts {
            run_once(&notify_spec(argv)).await;
        }
        logger.info("Stopped");
        Ok(0)
    })
}

/// Where the checker's alerts go (`global_defs`), when a virtual or real server asks for them;
/// why they cannot be sent is logged once per load.
fn alert_settings(config: &Config, plan: &Plan, logger: &Logger) -> Option<Arc<AlertSettings>> {
    let wanted = plan
        .virtual_servers
        .iter()
        .any(|vs| vs.smtp_alert || vs.real_servers.iter().any(|rs| rs.smtp_alert));
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

/// Mails what the pool queued, each in a task of its own (a dead mail server delays no
/// check); without mail settings the queue is dropped.
fn send_alerts(pool: &mut Pool, settings: Option<&Arc<AlertSettings>>, logger: &Logger) {
    let queued = pool.take_alerts();
    let Some(settings) = settings else { return };
    for queued in &queued {
        let mail = alert::checker_mail(&settings.router_id, queued);
        alert::spawn_send(settings.clone(), mail, logger.clone());
    }
}

/// Opens IPVS; when the family is missing, asks the kernel's module loader for ip_vs once
/// (as keepalived does) and tries again.
fn open_ipvs() -> Result<Ipvs, IpvsError> {
    match Ipvs::open() {
        Err(IpvsError::Unavailable(_)) => {
            let modprobe = std::fs::read_to_string("/proc/sys/kernel/modprobe")
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/sbin/modprobe".to_string());
            let _ = std::process::Command::new(modprobe)
                .args(["ip_vs"])
                .stdin(std::process::Stdio::null())
                .status();
            Ipvs::open()
        }
        other => other,
    }
}

/// Resolves each MISC_CHECK and notify program through the script security module (a `PATH`
/// search for bare names), logging what cannot run.
fn resolve_scripts(plan: &mut Plan, logger: &Logger) {
    let resolve = |argv: &mut Vec<String>| {
        let Some(program) = argv.first() else { return };
        match inspect_script(Path::new(program), None) {
            Ok(check) => {
                if let Some(line) = check.path_search_log_line() {
                    logger.info(&line);
                }
                argv[0] = check.path.display().to_string();
            }
            Err(problem) => logger.info(&problem.log_line()),
        }
    };
    for vs in &mut plan.virtual_servers {
        for argv in [vs.quorum_up.as_mut(), vs.quorum_down.as_mut()]
            .into_iter()
            .flatten()
        {
            resolve(argv);
        }
        for rs in &mut vs.real_servers {
            if let Some(argv) = rs.notify_up.as_mut() {
                resolve(argv);
            }
            if let Some(argv) = rs.notify_down.as_mut() {
                resolve(argv);
            }
            for check in &mut rs.checks {
                if let CheckKind::Misc { argv, .. } = &mut std::sync::Arc::make_mut(check).kind {
                    resolve(argv);
                }
            }
        }
    }
}

/// What a load sets up before the checks run: the SSL_GET client from the `SSL` block and
/// the `init_file` values of the track_files FILE_CHECKs read.
fn prepare(plan: &Plan, logger: &Logger) {
    for line in tls::configure(plan.ssl.as_ref()) {
        logger.info(&line);
    }
    for (path, value, overwrite) in &plan.init_files {
        if let Err(err) = keepalived_track::file::init_file(path, *value, *overwrite) {
            logger.info(&format!(
                "Unable to initialise track file {}: {err}",
                path.display()
            ));
        }
    }
}

/// Logs, once per load, the plan's warnings and each setting the child reads and does not act
/// on.
fn log_unsupported(plan: &Plan, logger: &Logger) {
    for warning in &plan.warnings {
        logger.info(warning);
    }
    for (keyword, at) in &plan.unsupported {
        logger.info(&format!(
            "({at}) '{keyword}' is not supported by keepalived-rs yet and is ignored"
        ));
    }
}

fn spawn_checks(
    pool: &Pool,
    tx: &mpsc::UnboundedSender<Report>,
    logger: &Logger,
    reload: bool,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    // Every TCP_CHECK runs in one task (tcp_checks.rs), the other checks in a task each.
    let mut tcp = Vec::new();
    for (v, vs) in pool.virtual_servers().enumerate() {
        for (r, rs) in vs.real_servers.iter().enumerate() {
            for (c, check) in rs.checks.iter().enumerate() {
                // 2.2.7 runs no thread for a FILE_CHECK, so says nothing of it.
                if !matches!(check.kind, CheckKind::File(_)) {
                    logger.info(&format!(
                        "Activating healthchecker for service {} for VS {}",
                        rs.name, vs.name
                    ));
                }
                let mut state = pool.check_state(v, r, c);
                // A reload keeps what the checks knew: no new "first result" lines.
                state.has_run = reload && pool.carried(v, r);
                let id = CheckId {
                    vs: v,
                    rs: r,
                    check: c,
                };
                // At start the first attempts are scattered over `warmup`; after a reload
                // the checks go on at their delay_loop.
                let first = if reload {
                    check.delay_loop
                } else {
                    task::first_delay(check.warmup)
                };
                if matches!(check.kind, CheckKind::Tcp) {
                    tcp.push(tcp_checks::TcpCheck {
                        id,
                        plan: std::sync::Arc::clone(check),
                        state,
                        first,
                    });
                    continue;
                }
                let names = Names {
                    vs: vs.name.clone(),
                    rs: rs.name.clone(),
                };
                tasks.push(tokio::spawn(task::run(
                    id,
                    std::sync::Arc::clone(check),
                    names,
                    state,
                    first,
                    tx.clone(),
                    logger.clone(),
                )));
            }
        }
    }
    if !tcp.is_empty() {
        tasks.push(tokio::spawn(tcp_checks::run(
            tcp,
            tx.clone(),
            logger.clone(),
        )));
    }
    logger.info("Activating BFD healthchecker");
    tasks
}

/// A task running notify scripts one after the other, in the order they are sent.
fn spawn_notifier() -> mpsc::UnboundedSender<Vec<String>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<String>>();
    tokio::spawn(async move {
        while let Some(argv) = rx.recv().await {
            run_once(&notify_spec(argv)).await;
        }
    });
    tx
}

/// How a notify script runs.
fn notify_spec(argv: Vec<String>) -> ScriptSpec {
    ScriptSpec {
        name: argv.first().cloned().unwrap_or_default(),
        argv,
        interval: NOTIFY_TIMEOUT,
        timeout: NOTIFY_TIMEOUT,
        rise: 1,
        fall: 1,
        init_fail: false,
        uid_gid: None,
    }
}
