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
//! - [`task`]: a check's retries, state and log lines; [`url_cycle`]: HTTP_GET / SSL_GET's
//!   urls, one per attempt.
//! - [`pool`]: quorum, sorry server, inhibit_on_failure, notify scripts and the IPVS calls.

pub mod datagram;
pub mod fifo;
pub mod file;
pub mod genhash;
pub mod plan;
pub mod pool;
pub mod probe;
#[cfg(test)]
mod reload_bench;
pub mod smtp;
pub mod source;
pub mod start_grid;
pub mod suspend;
pub mod talk;
pub mod task;
pub mod tcp_checks;
pub mod timeouts;
pub mod tls;
pub mod url_cycle;

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
use crate::config_log::{Reader, log_diagnostics, unusable};
use crate::config_test::load_config;
use crate::logger::Logger;
use crate::supervisor::EXIT_FATAL;
use plan::{CheckKind, FlushOnStop, NotifyScript, Plan};
use pool::{Pool, StopMode};
use task::{CheckId, Names, Report};

/// How long a notify script may run.
const NOTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the checker child until SIGTERM; returns the exit status. `security`: the reading's
/// script-security lines, logged once the scripts are found.
pub fn run(
    cli: &Cli,
    config: Config,
    security: Vec<String>,
    logger: Logger,
) -> anyhow::Result<i32> {
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
        for line in &security {
            logger.info(line);
        }
        log_unsupported(&plan, &logger);
        prepare(&plan, &logger);
        // 2.2.7 initialises IPVS only for virtual servers: a checker forced to run without
        // any (`-C` or `--all` on a VRRP-only file) needs no ip_vs module.
        let mut ipvs: Option<Ipvs> = None;
        if !plan.virtual_servers.is_empty() {
            match initialize_ipvs(&logger) {
                Some(opened) => ipvs = Some(opened),
                None => {
                    log_shutting_down(&plan, &logger);
                    fifos.close();
                    // `Stopped` follows from crate::daemon, as after every child's end.
                    return Ok(EXIT_FATAL);
                }
            }
        }
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
        let notifier = spawn_notifier();
        let (flush_at_start, mut flush_on_stop) = (plan.flush_at_start, plan.flush_on_stop);
        let mut timeouts = timeouts::LvsTimeouts::default();
        if ipvs.is_some() {
            timeouts.apply(&mut ipvs, plan.lvs_timeouts.as_ref(), &logger);
        }
        // The pool takes the plan: one copy of the real servers and their checks.
        let mut pool = Pool::from_plan(plan, logger.clone());
        if flush_at_start
            && let Some(Err(e)) = ipvs.as_mut().map(Ipvs::flush)
        {
            logger.info(&format!("IPVS: flush failed: {e}"));
        }
        for argv in pool.start(&mut ipvs) {
            let _ = notifier.send(argv);
        }
        fifos.write(pool.take_fifo_lines());
        send_alerts(&mut pool, alerts.as_ref(), &logger);
        crate::ready::tell_parent(&logger, ChildRole::Checker, crate::ready::Done::Startup);
        let mut suspension =
            suspend::Suspension::new(pool.virtual_servers(), &suspend::host_addresses());
        let mut ran: std::collections::HashSet<usize> = (0..pool.virtual_servers().count())
            .filter(|v| suspension.active(*v))
            .collect();
        let mut tasks = spawn_checks(&pool, &suspension, &tx, &logger, Launch::Start);
        let mut address_poll = tokio::time::interval(suspend::POLL);
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
                _ = address_poll.tick(), if suspension.in_use() => {
                    follow_addresses(&mut suspension, &mut ran, &pool, &mut tasks, &tx, &logger);
                }
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
                    let Some((next, next_alerts)) = read_for_reload(cli, &logger) else {
                        logger.info("The new configuration cannot be used: keeping the running one");
                        continue;
                    };
                    alerts = next_alerts;
                    for (_, handle) in tasks.drain(..) {
                        handle.abort();
                    }
                    // Reports of the old checks are stale now.
                    while rx.try_recv().is_ok() {}
                    if ipvs.is_none() && !next.virtual_servers.is_empty() {
                        // The first virtual servers: IPVS is needed from now on.
                        match initialize_ipvs(&logger) {
                            Some(opened) => ipvs = Some(opened),
                            None => {
                                log_shutting_down(&next, &logger);
                                fifos.close();
                                return Ok(EXIT_FATAL);
                            }
                        }
                    } else if ipvs.is_some() {
                        logger.info("Reinitializing ipvs");
                    }
                    flush_on_stop = next.flush_on_stop;
                    if ipvs.is_some() {
                        timeouts.apply(&mut ipvs, next.lvs_timeouts.as_ref(), &logger);
                    }
                    for argv in pool.reload_plan(next, &mut ipvs) {
                        let _ = notifier.send(argv);
                    }
                    fifos.write(pool.take_fifo_lines());
                    send_alerts(&mut pool, alerts.as_ref(), &logger);
                    crate::ready::tell_parent(
                        &logger,
                        ChildRole::Checker,
                        crate::ready::Done::Reload,
                    );
                    settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
                    suspension = suspend::Suspension::new(
                        pool.virtual_servers(),
                        &suspend::host_addresses(),
                    );
                    ran = (0..pool.virtual_servers().count())
                        .filter(|v| suspension.active(*v))
                        .collect();
                    tasks = spawn_checks(&pool, &suspension, &tx, &logger, Launch::Reload);
                }
            }
        }
        for (_, handle) in tasks {
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
            && let Some(Err(e)) = ipvs.as_mut().map(Ipvs::flush)
        {
            logger.info(&format!("IPVS: flush failed: {e}"));
        }
        timeouts.restore(&mut ipvs, &logger);
        fifos.write(pool.take_fifo_lines());
        fifos.close();
        for argv in scripts {
            run_once(&notify_spec(argv)).await;
        }
        Ok(0)
    })
}

/// The reload's reading: the file read again as the child reads it (its problems logged),
/// resolved into the next plan with its scripts found and its TLS and track files set up, and
/// the mail settings of global_defs read again, as 2.2.7 does. `None` when the file cannot be
/// used.
pub(crate) fn read_for_reload(
    cli: &Cli,
    logger: &Logger,
) -> Option<(Plan, Option<Arc<AlertSettings>>)> {
    let loaded = load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
    log_diagnostics(
        logger,
        &loaded,
        Reader::child(cli, &loaded, ChildRole::Checker),
    );
    if unusable(&loaded) {
        return None;
    }
    let mut next = Plan::from_config(&loaded.config);
    let alerts = alert_settings(&loaded.config, &next, logger);
    let security = crate::config_log::checker_security_lines(&loaded);
    // The model is no longer needed: freed before the pool grows.
    drop(loaded);
    resolve_scripts(&mut next, logger);
    for line in &security {
        logger.info(line);
    }
    log_unsupported(&next, logger);
    prepare(&next, logger);
    Some((next, alerts))
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

/// `Initializing ipvs` and the opening; `None` (after 2.2.7's line) when the kernel has no IPVS.
fn initialize_ipvs(logger: &Logger) -> Option<Ipvs> {
    logger.info("Initializing ipvs");
    match open_ipvs() {
        Ok(ipvs) => Some(ipvs),
        Err(e) => {
            logger.info(&format!("IPVS: Can't initialize ipvs: {e}"));
            None
        }
    }
}

/// 2.2.7's `Shutting down service` line for every real server, when IPVS cannot be opened.
fn log_shutting_down(plan: &Plan, logger: &Logger) {
    for vs in &plan.virtual_servers {
        for rs in &vs.real_servers {
            logger.info(&format!(
                "Shutting down service {} from VS {}",
                rs.name, vs.name
            ));
        }
    }
}

/// Opens IPVS; when the family is missing, asks the kernel's module loader for ip_vs once
/// (as keepalived does) and tries again.
pub(crate) fn open_ipvs() -> Result<Ipvs, IpvsError> {
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
    // Whether the script was found missing (the program as given, then what was logged).
    let resolve = |argv: &mut Vec<String>, run_as: Option<(u32, u32)>| -> bool {
        let Some(program) = argv.first() else {
            return false;
        };
        match inspect_script(Path::new(program), run_as) {
            Ok(check) => {
                if let Some(line) = check.path_search_log_line() {
                    logger.info(&line);
                }
                argv[0] = check.path.display().to_string();
                false
            }
            Err(problem) => {
                logger.info(&problem.log_line());
                problem.is_missing()
            }
        }
    };
    // 2.2.7 finds every MISC_CHECK's script first, then the notify scripts (observed, s29).
    for rs in plan
        .virtual_servers
        .iter_mut()
        .flat_map(|vs| vs.real_servers.iter_mut())
    {
        // A MISC_CHECK whose script is missing is dropped, as 2.2.7 drops it (seen with its
        // shipped sample keepalived.conf.misc_check): the real server keeps no such check.
        rs.checks.retain_mut(|check| {
            let CheckKind::Misc { argv, run_as, .. } = &mut std::sync::Arc::make_mut(check).kind
            else {
                return true;
            };
            if !resolve(argv, *run_as) {
                return true;
            }
            logger.info(&misc_disabled_line(argv));
            false
        });
    }
    for vs in &mut plan.virtual_servers {
        let quorum = [vs.quorum_up.as_mut(), vs.quorum_down.as_mut()];
        let servers = vs
            .real_servers
            .iter_mut()
            .flat_map(|rs| [rs.notify_up.as_mut(), rs.notify_down.as_mut()]);
        for script in quorum.into_iter().chain(servers).flatten() {
            resolve(&mut script.argv, script.run_as);
        }
    }
}

/// 2.2.7's line for a MISC_CHECK dropped because its script is missing: every word of the
/// command quoted, `Disabling misc script '/usr/local/bin/script.sh' 'arg1' since not
/// found/accessible`.
fn misc_disabled_line(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| format!("'{w}'")).collect();
    format!(
        "Disabling misc script {} since not found/accessible",
        words.join(" ")
    )
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

/// How [`spawn_checks`] starts the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launch {
    /// At start: every virtual server, first attempts scattered over `warmup`.
    Start,
    /// After a reload: every virtual server, going on at their delay_loop.
    Reload,
    /// One virtual server whose `ha_suspend` address came back; `ran`: its checks ran
    /// before (no new "first result" lines).
    Resume { vs: usize, ran: bool },
}

/// Logs `VERB healthchecker for service RS for VS VS` for each check of virtual server `v`
/// (2.2.7 runs no thread for a FILE_CHECK, so says nothing of it).
fn log_checks(pool: &Pool, v: usize, verb: &str, logger: &Logger) {
    let Some(vs) = pool.virtual_servers().nth(v) else {
        return;
    };
    for rs in &vs.real_servers {
        for check in &rs.checks {
            if !matches!(check.kind, CheckKind::File(_)) {
                logger.info(&format!(
                    "{verb} healthchecker for service {} for VS {}",
                    rs.name, vs.name
                ));
            }
        }
    }
}

/// Suspends or resumes the checks of the `ha_suspend` virtual servers whose address came or
/// went (see [`suspend`]).
fn follow_addresses(
    suspension: &mut suspend::Suspension,
    ran: &mut std::collections::HashSet<usize>,
    pool: &Pool,
    tasks: &mut Vec<(usize, JoinHandle<()>)>,
    tx: &mpsc::UnboundedSender<Report>,
    logger: &Logger,
) {
    let changes = suspension.update(&suspend::host_addresses());
    for (address, added) in changes.addresses {
        let how = if added { "added" } else { "removed" };
        logger.detail(&format!("Netlink reflector reports IP {address} {how}"));
    }
    for (v, active) in changes.servers {
        if active {
            log_checks(pool, v, "Activating", logger);
            let launch = Launch::Resume {
                vs: v,
                ran: !ran.insert(v),
            };
            tasks.extend(spawn_checks(pool, suspension, tx, logger, launch));
        } else {
            log_checks(pool, v, "Suspending", logger);
            tasks.retain(|(vs, handle)| {
                if *vs == v {
                    handle.abort();
                }
                *vs != v
            });
        }
    }
}

fn spawn_checks(
    pool: &Pool,
    suspension: &suspend::Suspension,
    tx: &mpsc::UnboundedSender<Report>,
    logger: &Logger,
    launch: Launch,
) -> Vec<(usize, JoinHandle<()>)> {
    let mut tasks = Vec::new();
    let reload = launch != Launch::Start;
    // Every TCP_CHECK runs in one task (tcp_checks.rs), the other checks in a task each; the
    // TCP_CHECKs of an `ha_suspend` virtual server in a task of their own, stopped with it.
    let mut shared_tcp = Vec::new();
    for (v, vs) in pool.virtual_servers().enumerate() {
        match launch {
            Launch::Resume { vs, .. } if vs != v => continue,
            Launch::Resume { .. } => {}
            _ if !suspension.active(v) => {
                // ha_suspend without its address: 2.2.7 says so and runs nothing.
                log_checks(pool, v, "Deactivating", logger);
                continue;
            }
            _ => log_checks(pool, v, "Activating", logger),
        }
        let mut own_tcp = Vec::new();
        for (r, rs) in vs.real_servers.iter().enumerate() {
            for (c, check) in rs.checks.iter().enumerate() {
                let mut state = pool.check_state(v, r, c);
                // A reload keeps what the checks knew: no new "first result" lines.
                state.has_run = match launch {
                    Launch::Start => false,
                    Launch::Reload => pool.carried(v, r),
                    Launch::Resume { ran, .. } => ran,
                };
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
                    task::start_delay(check.warmup)
                };
                if matches!(check.kind, CheckKind::Tcp) {
                    let tcp_check = tcp_checks::TcpCheck {
                        id,
                        plan: std::sync::Arc::clone(check),
                        state,
                        first,
                    };
                    if suspension.watches(v) {
                        own_tcp.push(tcp_check);
                    } else {
                        shared_tcp.push(tcp_check);
                    }
                    continue;
                }
                let names = Names {
                    vs: vs.name.clone(),
                    rs: rs.name.clone(),
                };
                tasks.push((
                    v,
                    tokio::spawn(task::run(
                        id,
                        std::sync::Arc::clone(check),
                        names,
                        state,
                        first,
                        tx.clone(),
                        logger.clone(),
                    )),
                ));
            }
        }
        if !own_tcp.is_empty() {
            tasks.push((
                v,
                tokio::spawn(tcp_checks::run(own_tcp, tx.clone(), logger.clone())),
            ));
        }
    }
    if !shared_tcp.is_empty() {
        // Keyed by no virtual server: only a reload or the stop ends it.
        tasks.push((
            usize::MAX,
            tokio::spawn(tcp_checks::run(shared_tcp, tx.clone(), logger.clone())),
        ));
    }
    if !matches!(launch, Launch::Resume { .. }) {
        logger.info("Activating BFD healthchecker");
    }
    tasks
}

/// A task running notify scripts one after the other, in the order they are sent.
fn spawn_notifier() -> mpsc::UnboundedSender<NotifyScript> {
    let (tx, mut rx) = mpsc::unbounded_channel::<NotifyScript>();
    tokio::spawn(async move {
        while let Some(script) = rx.recv().await {
            run_once(&notify_spec(script)).await;
        }
    });
    tx
}

/// How a notify script runs: as its user.
fn notify_spec(script: NotifyScript) -> ScriptSpec {
    ScriptSpec {
        name: script.argv.first().cloned().unwrap_or_default(),
        argv: script.argv,
        interval: NOTIFY_TIMEOUT,
        timeout: NOTIFY_TIMEOUT,
        rise: 1,
        fall: 1,
        init_fail: false,
        uid_gid: script.run_as,
    }
}

#[cfg(test)]
mod tests {
    use super::{NotifyScript, misc_disabled_line, notify_spec};

    #[test]
    fn a_notify_script_runs_as_its_user() {
        let script = NotifyScript {
            argv: vec!["/bin/true".to_string(), "up".to_string()],
            run_as: Some((65534, 65534)),
        };
        let spec = notify_spec(script);
        assert_eq!(spec.uid_gid, Some((65534, 65534)));
        assert_eq!(spec.name, "/bin/true");
        assert_eq!(spec.argv, ["/bin/true", "up"]);
    }

    #[test]
    fn a_dropped_misc_check_is_named_with_every_word_quoted() {
        let argv = ["/usr/local/bin/script.sh", "arg1", "arg2"].map(String::from);
        assert_eq!(
            misc_disabled_line(&argv),
            "Disabling misc script '/usr/local/bin/script.sh' 'arg1' 'arg2' since not \
             found/accessible"
        );
    }
}
