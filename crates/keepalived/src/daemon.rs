//! Running the daemon as keepalived does (compat.md section 3): without `-n` the command
//! starts a detached copy of itself and returns once it runs; the daemon is a parent that
//! supervises a VRRP child and, when there are virtual servers, a checker child. Children are
//! fresh executions of this binary (`--child vrrp|checker`), so no runtime or thread is ever
//! forked.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;

use crate::cli::{ChildRole, Cli};
use crate::config_log::{Reader, log_diagnostics, unusable};
use crate::config_test::load_config;
use crate::lifecycle_lines;
use crate::logger::{LogSettings, Logger};
use crate::pidfile::{self, PidFile, PidFileError};
use crate::process_settings;
use crate::start_stop_scripts::{self, Planned};
use crate::supervisor::{self, EXIT_CONFIG, EXIT_FATAL};
use crate::{checker, vrrp};
use keepalived_config::Loaded;

/// How long `keepalived` (without `-n`) waits for the daemon it started to write its pid file.
const START_WAIT: Duration = Duration::from_secs(10);

/// keepalived's version line, as the parent logs it at start and stop.
pub fn version_line() -> String {
    format!("Keepalived v{}", env!("CARGO_PKG_VERSION"))
}

/// Starts the daemon (or, with the internal `--child`, one of its children); returns the exit
/// status.
pub fn run(cli: &Cli) -> anyhow::Result<i32> {
    if let Some(role) = cli.child {
        return run_child(cli, role);
    }
    if let Some(roles) = &cli.supervise {
        return supervise(cli, roles);
    }
    if !cli.dont_fork && !cli.detached {
        return launch_detached(cli);
    }
    if cli.detached {
        // A session of its own: no controlling terminal, not in the caller's process group.
        nix::unistd::setsid().context("cannot start a new session")?;
        std::env::set_current_dir("/").context("cannot change directory to /")?;
    }
    run_parent(cli)
}

/// `keepalived` without `-n`: start the daemon detached, wait until it has written its pid
/// file (or failed), and return.
fn launch_detached(cli: &Cli) -> anyhow::Result<i32> {
    let pid_path = cli.parent_pid_file();
    if let Some(pid) = pidfile::running_pid(&pid_path) {
        let logger = Logger::new("Keepalived", LogSettings::from_cli(cli));
        logger.info(&already_running(pid));
        return Ok(pidfile::ALREADY_RUNNING_EXIT);
    }
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .arg("--detached")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the daemon")?;
    let started = Instant::now();
    while started.elapsed() < START_WAIT {
        if let Some(status) = child.try_wait().context("waiting for the daemon")? {
            return Ok(status.code().unwrap_or(1));
        }
        if pidfile::read_pid(&pid_path) == i32::try_from(child.id()).ok() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(0)
}

/// keepalived 2.2.7's line (it exits 0 after it); the pid is ours to add, after the words.
fn already_running(pid: i32) -> String {
    format!("daemon is already running (pid {pid})")
}

/// The parent: pid file, configuration check, children, and the stop.
fn run_parent(cli: &Cli) -> anyhow::Result<i32> {
    if let Some(mask) = &cli.umask {
        let bits = u32::from_str_radix(mask.trim_start_matches("0o"), 8)
            .with_context(|| format!("invalid umask '{mask}' (octal expected)"))?;
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(bits));
    }
    let logger = Logger::new("Keepalived", LogSettings::from_cli(cli));
    logger.info(&format!("Starting {} (keepalived-rs)", version_line()));
    if cli.core_dump || cli.core_dump_pattern.is_some() {
        allow_core_dumps(&logger);
    }
    if let Some(line) = lifecycle_lines::running_on() {
        logger.info(&line);
    }
    for line in lifecycle_lines::command_line(std::env::args_os().filter(|a| a != "--detached")) {
        logger.info(&line);
    }
    let pid_file = match parent_pid_file(cli, &logger) {
        Ok(file) => file,
        Err(status) => return Ok(status),
    };
    let loaded = load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
    logger.detail(&format!("Opening file '{}'.", cli.use_file.display()));
    if unusable(&loaded) {
        // The children would refuse it too: say why once, and stop.
        log_diagnostics(&logger, &loaded, Reader::Refusing);
        logger.info("Stopping: the configuration cannot be used");
        pid_file.remove();
        stopped(&logger);
        return Ok(loaded.exit_code());
    }
    logger.info(&format!("Configuration file {}", cli.use_file.display()));
    log_diagnostics(&logger, &loaded, Reader::Parent);
    if missing_file_refused(&loaded) {
        // `-e`: a missing configuration file stops the start with 2.2.7's status 6 (a reload
        // logs it and goes on, as 2.2.7's).
        pid_file.remove();
        stopped(&logger);
        return Ok(loaded.exit_code());
    }
    // Said once, by the parent at start: what is read and checked but not acted on yet.
    for what in keepalived_config::unsupported::unsupported(&loaded.config) {
        logger.info(&format!(
            "{what} is not supported by keepalived-rs yet - ignoring (see docs/compat.md)"
        ));
    }
    if let Some(notice) =
        lifecycle_lines::max_auto_priority_notice(loaded.config.global.max_auto_priority)
    {
        logger.info(notice);
    }
    let roles = children_for(cli, &loaded);
    if roles.is_empty() {
        logger.info("Warning - keepalived has no configuration to run");
    }
    // The file creation mask of every process (its children and their scripts inherit it).
    let parent_name = process_settings::parent_name(&loaded.config);
    set_umask(cli, &loaded, &logger);
    // startup_script runs now, before any child; shutdown_script once they all stopped.
    let scripts = start_stop_scripts::plan(&loaded.config, &keepalived_config::RealHost::default());
    for line in &scripts.lines {
        logger.info(line);
    }
    if let Some(startup) = &scripts.startup {
        start_stop_scripts::run(startup, &logger);
    }
    let shutdown = scripts.shutdown;
    drop(loaded);
    // The parent only supervises from here on. It carries on as a fresh image of this program
    // (same pid, same pid file) that never reads the configuration, so the configuration
    // parser's pages are not kept mapped in a process that no longer needs them.
    match reexec_supervisor(&roles, parent_name.as_deref(), shutdown.as_ref()) {
        Ok(never) => match never {},
        Err(err) => {
            logger.detail(&format!(
                "cannot start the supervisor image ({err}); going on"
            ));
            if let Some(name) = &parent_name
                && let Err(line) = process_settings::set_name(name)
            {
                logger.info(&line);
            }
            let status = supervisor::run(cli, &roles, &logger);
            run_shutdown_script(shutdown.as_ref(), &status, &logger);
            pid_file.remove();
            stopped(&logger);
            status
        }
    }
}

/// The parent's file creation mask: `-u`, else global_defs' `umask`, else 2.2.7's default
/// (0177); 2.2.7 says when `-u` wins over the configuration.
fn set_umask(cli: &Cli, loaded: &Loaded, logger: &Logger) {
    let configured = process_settings::umask_of(&loaded.config);
    if cli.umask.is_some() {
        if configured.is_some() {
            logger.info("umask command line option specified, ignoring config option");
        }
        return;
    }
    let mask = configured.unwrap_or(process_settings::DEFAULT_UMASK);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// Replaces this process with `keepalived … [--process-name NAME] --supervise ROLES` (same
/// arguments otherwise).
fn reexec_supervisor(
    roles: &[ChildRole],
    name: Option<&str>,
    shutdown: Option<&Planned>,
) -> nix::Result<std::convert::Infallible> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    // The resolved path, not /proc/self/exe: the process name (`ps`, `pidof keepalived`, the
    // pid-file check) comes from the last part of the path executed.
    let path = std::env::current_exe().map_err(|_| nix::errno::Errno::ENOENT)?;
    let exe = CString::new(path.as_os_str().as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)?;
    let mut args: Vec<CString> = std::env::args_os()
        .filter(|a| a != "--detached")
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let list: Vec<&str> = roles.iter().map(|r| r.arg()).collect();
    if let Some(name) = name {
        args.push(CString::new("--process-name").map_err(|_| nix::errno::Errno::EINVAL)?);
        args.push(CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?);
    }
    if let Some(script) = shutdown {
        args.push(CString::new("--shutdown-script").map_err(|_| nix::errno::Errno::EINVAL)?);
        args.push(CString::new(script.to_arg()).map_err(|_| nix::errno::Errno::EINVAL)?);
    }
    args.push(CString::new("--supervise").map_err(|_| nix::errno::Errno::EINVAL)?);
    if !list.is_empty() {
        args.push(CString::new(list.join(",")).map_err(|_| nix::errno::Errno::EINVAL)?);
    }
    nix::unistd::execv(&exe, &args)
}

/// Writes the parent's pid file (ours already, after [`reexec_supervisor`]); `Err` is the
/// exit status when another keepalived runs or the file cannot be written, logged.
fn parent_pid_file(cli: &Cli, logger: &Logger) -> Result<PidFile, i32> {
    match PidFile::create(&cli.parent_pid_file()) {
        Ok(file) => Ok(file),
        Err(PidFileError::AlreadyRunning(pid)) => {
            logger.info(&already_running(pid));
            Err(pidfile::ALREADY_RUNNING_EXIT)
        }
        Err(err) => {
            logger.info(&format!("cannot write the pid file: {err}"));
            Err(EXIT_FATAL)
        }
    }
}

/// The parent's supervising image (after [`reexec_supervisor`]): the pid file is already ours.
fn supervise(cli: &Cli, roles: &[ChildRole]) -> anyhow::Result<i32> {
    let logger = Logger::new("Keepalived", LogSettings::from_cli(cli));
    // `process_name`: an exec gave this image the program's name back.
    if let Some(name) = &cli.process_name
        && let Err(line) = process_settings::set_name(name)
    {
        logger.info(&line);
    }
    let pid_file = match parent_pid_file(cli, &logger) {
        Ok(file) => file,
        Err(status) => return Ok(status),
    };
    let status = supervisor::run(cli, roles, &logger);
    let shutdown = cli.shutdown_script.as_deref().and_then(Planned::from_arg);
    run_shutdown_script(shutdown.as_ref(), &status, &logger);
    pid_file.remove();
    stopped(&logger);
    status
}

/// The parent's last lines, as 2.2.7's: what it and its children used (`-D`), then
/// `Stopped Keepalived v…`.
/// `-m` / `-M`: no core size limit for the parent and the children it starts (they inherit
/// it), so a process that ends abnormally leaves a core as 2.2.7's do.
fn allow_core_dumps(logger: &Logger) {
    use nix::sys::resource::{RLIM_INFINITY, Resource, setrlimit};
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY) {
        logger.info(&format!("Failed to set core file size limit: {e}"));
    }
}

/// Whether `-e` (all_config) found an included file missing.
fn missing_file_refused(loaded: &Loaded) -> bool {
    loaded
        .diagnostics
        .iter()
        .any(|d| d.severity == keepalived_config::Severity::MissingFile)
}

fn stopped(logger: &Logger) {
    logger.detail(&lifecycle_lines::cpu_usage());
    logger.info(&format!("Stopped {} (keepalived-rs)", version_line()));
}

/// `shutdown_script`, once every child has stopped; not after a child's permanent error
/// stopped the daemon (2.2.7 did not run it then).
fn run_shutdown_script(script: Option<&Planned>, status: &anyhow::Result<i32>, logger: &Logger) {
    if let Some(script) = script
        && matches!(status, Ok(0))
    {
        start_stop_scripts::run(script, logger);
    }
}

/// Which children run: of those `-P` / `-C` allow (both without either), each whose part of
/// the configuration is not empty, or each with `--all` (keepalived 2.x; a vrrp_instance
/// dropped for lacking its VRID counts: 2.2.7's VRRP process starts, then refuses the file).
pub fn children_for(cli: &Cli, loaded: &Loaded) -> Vec<ChildRole> {
    // -P / -C choose which children may run (both when neither or both are given); one runs
    // when the file gives it something to do, or with `--all` (observed with 2.2.7: `-C` on a
    // VRRP-only file starts nothing and says it has no configuration to run).
    let (may_vrrp, may_check) = match (cli.vrrp, cli.check) {
        (true, false) => (true, false),
        (false, true) => (false, true),
        _ => (true, true),
    };
    // The static blocks alone start the VRRP process too (observed with 2.2.7).
    let vrrp = may_vrrp
        && (cli.all
            || vrrp::refusal::has_instances(&loaded.config)
            || vrrp::route_plan::has_statics(&loaded.config));
    let check = may_check && (cli.all || !loaded.config.virtual_servers.is_empty());
    // 2.2.7 starts the checker first (observed: `Starting Healthcheck child process` before
    // `Starting VRRP child process`).
    let mut roles = Vec::new();
    if check {
        roles.push(ChildRole::Checker);
    }
    if vrrp {
        roles.push(ChildRole::Vrrp);
    }
    roles
}

/// A child: die with the parent, read the configuration, and run.
fn run_child(cli: &Cli, role: ChildRole) -> anyhow::Result<i32> {
    // Children exit when the parent dies, even by SIGKILL (compat.md section 3); SIGTERM so
    // the VRRP child still sends its priority-0 adverts and removes its VIPs.
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGTERM)).context("PR_SET_PDEATHSIG")?;
    if let Some(parent) = cli.parent_pid
        && nix::unistd::getppid().as_raw() != parent
    {
        // The parent died before the line above took effect.
        return Ok(0);
    }
    let logger = Logger::new(role.ident(), LogSettings::from_cli(cli));
    let status = run_child_with(cli, role, &logger);
    // 2.2.7's children end with `Stopped`, with `-D` with what they used, whatever the
    // reason they stop.
    logger.info(&lifecycle_lines::child_stopped(logger.shows_detail()));
    status
}

/// [`run_child`] once its logger is made: read (the parent said `Opening file`), check, run.
fn run_child_with(cli: &Cli, role: ChildRole, logger: &Logger) -> anyhow::Result<i32> {
    let loaded = load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
    log_diagnostics(logger, &loaded, Reader::child(cli, &loaded, role));
    if unusable(&loaded) {
        logger.info("Stopping: the configuration cannot be used");
        return Ok(EXIT_CONFIG);
    }
    if role == ChildRole::Vrrp
        && let Some(refused) = vrrp::refusal::refusal(&loaded.config, &loaded.diagnostics)
    {
        if let Some(line) = refused.unsaid_line(&loaded.diagnostics) {
            logger.info(&line);
        }
        return Ok(EXIT_CONFIG);
    }
    // Its name, CPUs, scheduling and memory locking (global_defs), on its only thread.
    for line in process_settings::apply(&process_settings::of(&loaded.config, role)) {
        logger.info(&line);
    }
    let result = match role {
        ChildRole::Vrrp => vrrp::run(cli, loaded.config, logger.clone()).map(i32::from),
        ChildRole::Checker => {
            let security = crate::config_log::checker_security_lines(&loaded);
            checker::run(cli, loaded.config, security, logger.clone())
        }
    };
    match result {
        Ok(code) => Ok(code),
        Err(err) => {
            logger.info(&format!("{err:#}"));
            Ok(EXIT_FATAL)
        }
    }
}
