//! The validation pass over every script of a configuration (`vrrp_script`, the `notify*`
//! scripts of instances and sync groups, `MISC_CHECK`'s `misc_path`), in keepalived 2.2.7's
//! order: each program is found and checked with [`script_lookup::inspect`], what cannot run
//! is disabled, and what can run is given the path that was found, so every later run uses
//! exactly the file that was checked.
//!
//! keepalived 2.2.7 reports these in two channels, and so do we: the lines `keepalived -t`
//! prints (`Disabling track script chk since not found/accessible`, `SECURITY VIOLATION …`),
//! and lines only the running daemon logs ([`Severity::Log`]: `Cannot find script killall in
//! path - disabling`, the path-search warning, `Unsafe permissions found …`).

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, Pass, Severity};
use crate::host::Host;
use crate::model::{Command, Config, NotifyScripts, RunAs};
use crate::script_lookup::{INSECURE_SCRIPTS_SUFFIX, SECURITY_VIOLATION, ScriptProblem, inspect};

/// The user scripts run as when nothing else is said and `keepalived_script` is missing.
const ROOT: (u32, u32) = (0, 0);

/// What the pass has seen so far: whether a script will run (keepalived then wants script
/// security) and whether a root script is unsafe.
#[derive(Debug, Default)]
struct Tally {
    vrrp_scripts_run: bool,
    check_scripts_run: bool,
    /// A VRRP-side root script is unsafe.
    insecure: bool,
    /// A checker-side root script is unsafe.
    check_insecure: bool,
}

impl Tally {
    /// Counts the verdict on one of the VRRP process's scripts.
    fn count_vrrp(&mut self, verdict: &Verdict) {
        self.vrrp_scripts_run |= verdict.runs_or_refused;
        self.insecure |= verdict.insecure;
    }
}

/// Checks, disables or resolves every script of `config`.
pub(crate) fn check(config: &mut Config, host: &dyn Host, diagnostics: &mut Diagnostics) {
    let enforcing = config.global.enable_script_security;
    // Asked only when a script needs it: a user lookup loads the name-service modules.
    let script_user = config.global.script_user.clone();
    let default_user_cell = std::cell::OnceCell::new();
    let default_user = || {
        *default_user_cell.get_or_init(|| default_user(script_user.as_ref(), host).unwrap_or(ROOT))
    };
    // A `script_user` that does not exist leaves scripts without a user of their own unable
    // to run (2.2.7 drops them; vrrp_scripts are removed, with their lines, by validation).
    let no_default_user = script_user
        .as_ref()
        .is_some_and(|r| resolve_user(r, host).is_none());
    let mut tally = Tally::default();
    // Without a VRRP instance 2.2.7's VRRP process checks none of its scripts (observed:
    // a lone vrrp_script neither is disabled when missing nor counts for script security).
    if !config.instances.is_empty() {
        vrrp_side(
            config,
            host,
            enforcing,
            &default_user,
            no_default_user,
            &mut tally,
            diagnostics,
        );
    }
    // The checker's notify scripts (quorum_up/down, a real server's notify_up/down, the
    // LVS FIFO script) count as check scripts; the checker resolves them when it plans them.
    let lvs_fifo: Vec<(String, Option<RunAs>, crate::diagnostic::Location)> = config
        .global
        .other
        .iter()
        .filter(|o| o.keyword == "lvs_notify_fifo_script")
        .filter_map(|o| {
            let run_as = o.args.get(1).map(|user| RunAs {
                user: user.clone(),
                group: o.args.get(2).cloned(),
            });
            Some((o.args.first()?.clone(), run_as, o.location.clone()))
        })
        .collect();
    // Services without real servers are dropped before 2.2.7 checks script security.
    let has_services = config
        .virtual_servers
        .iter()
        .any(|vs| !vs.real_servers.is_empty());
    // The LVS FIFO script counts as a check script.
    if has_services {
        for (text, run_as, location) in lvs_fifo {
            let mut command = Command {
                argv: crate::values::split_command(&text),
                text,
                location,
                run_as,
                run_as_ids: None,
                shell: false,
            };
            if command.argv.is_empty() {
                continue;
            }
            let run_as = match &command.run_as {
                None if no_default_user => continue,
                None => default_user(),
                Some(named) => match resolve_user(named, host) {
                    Some(ids) => ids,
                    None => continue,
                },
            };
            let verdict = check_command(&mut command, run_as, enforcing, host, None, diagnostics);
            tally.check_scripts_run |= verdict.runs_or_refused;
            tally.check_insecure |= verdict.insecure;
        }
    }
    // The checker's own scripts: their users, then found.
    let checker = crate::checker_scripts::check(config, host, enforcing, diagnostics);
    tally.check_scripts_run |= checker.run;
    tally.check_insecure |= checker.insecure;
    let start_stop_run = start_stop_scripts(config, host, enforcing, &default_user, diagnostics);
    if !enforcing {
        security_violation(&tally, diagnostics);
        if start_stop_run {
            // The parent runs them, so it names them (2.2.7, observed: exit 6).
            let line = SECURITY_VIOLATION.replacen("scripts", "start/shutdown scripts", 1);
            diagnostics.push(Diagnostic::new(Severity::Security, None, line).in_pass(Pass::Parent));
        }
    }
}

/// global_defs' `startup_script` / `shutdown_script SCRIPT [USER [GROUP]]`: whether one of
/// them would run (it is found; a missing one is dropped silently, as 2.2.7 does).
fn start_stop_scripts(
    config: &Config,
    host: &dyn Host,
    enforcing: bool,
    default_user: &dyn Fn() -> (u32, u32),
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut runs = false;
    for setting in config
        .global
        .other
        .iter()
        .filter(|o| matches!(o.keyword.as_str(), "startup_script" | "shutdown_script"))
    {
        let Some(text) = setting.args.first() else {
            continue;
        };
        let run_as = setting.args.get(1).map(|user| RunAs {
            user: user.clone(),
            group: setting.args.get(2).cloned(),
        });
        let ids = match &run_as {
            None => default_user(),
            Some(named) => match resolve_user(named, host) {
                Some(ids) => ids,
                None => continue,
            },
        };
        let mut command = Command {
            argv: crate::values::split_command(text),
            text: text.clone(),
            location: setting.location.clone(),
            run_as,
            run_as_ids: None,
            shell: false,
        };
        runs |=
            check_command(&mut command, ids, enforcing, host, None, diagnostics).runs_or_refused;
    }
    runs
}

/// The VRRP process's scripts: vrrp_scripts, the notify scripts of instances and sync groups,
/// and the FIFO scripts.
fn vrrp_side(
    config: &mut Config,
    host: &dyn Host,
    enforcing: bool,
    default_user: &dyn Fn() -> (u32, u32),
    no_default_user: bool,
    tally: &mut Tally,
    diagnostics: &mut Diagnostics,
) {
    for script in config.scripts.iter_mut().filter(|s| !s.disabled) {
        let Some(command) = script.command.as_mut() else {
            continue;
        };
        let run_as = script
            .user
            .as_ref()
            .and_then(|r| resolve_user(r, host))
            .unwrap_or_else(default_user);
        let verdict = check_vrrp_command(command, run_as, enforcing, host, tally, diagnostics);
        if let Some(line) = verdict.refused_line(&script.name) {
            unlocated(diagnostics, Severity::Error, line);
        }
        script.disabled |= !verdict.usable;
    }
    let notifies = config
        .instances
        .iter_mut()
        .map(|i| &mut i.notify)
        .chain(config.sync_groups.iter_mut().map(|g| &mut g.notify));
    for notify in notifies {
        for slot in notify_slots(notify) {
            let Some(command) = slot.as_mut() else {
                continue;
            };
            let run_as = match &command.run_as {
                None if no_default_user => {
                    *slot = None;
                    continue;
                }
                None => default_user(),
                Some(named) => match resolve_user(named, host) {
                    Some(ids) => ids,
                    None => {
                        if let Some(line) = missing_id_line(named, host) {
                            log(diagnostics, line);
                        }
                        log(
                            diagnostics,
                            format!(
                                "Invalid user/group for notify script {} - ignoring",
                                command.argv.first().map_or("", String::as_str)
                            ),
                        );
                        *slot = None;
                        continue;
                    }
                },
            };
            if command.run_as.is_some() {
                command.run_as_ids = Some(run_as);
            }
            let verdict = check_vrrp_command(command, run_as, enforcing, host, tally, diagnostics);
            if !verdict.usable {
                *slot = None;
            }
        }
    }
    // The VRRP process's FIFO scripts run like notify scripts (the daemon's FIFO writer
    // resolves them itself; here they only count for script security).
    let fifo_scripts: Vec<(String, Option<RunAs>, crate::diagnostic::Location)> = config
        .global
        .other
        .iter()
        .filter(|o| {
            matches!(
                o.keyword.as_str(),
                "notify_fifo_script" | "vrrp_notify_fifo_script"
            )
        })
        .filter_map(|o| {
            let text = o.args.first()?.clone();
            let run_as = o.args.get(1).map(|user| RunAs {
                user: user.clone(),
                group: o.args.get(2).cloned(),
            });
            Some((text, run_as, o.location.clone()))
        })
        .collect();
    for (text, run_as, location) in fifo_scripts {
        let run_as = match run_as {
            None if no_default_user => continue,
            None => default_user(),
            Some(named) => match resolve_user(&named, host) {
                Some(ids) => ids,
                None => continue,
            },
        };
        let mut command = Command {
            argv: crate::values::split_command(&text),
            text,
            location,
            run_as: None,
            run_as_ids: None,
            shell: false,
        };
        if command.argv.is_empty() {
            continue;
        }
        if crate::values::is_shell_redirection(&command.argv[0]) {
            continue;
        }
        let verdict = check_command(&mut command, run_as, enforcing, host, None, diagnostics);
        tally.count_vrrp(&verdict);
    }
}

/// [`check_command`] for one of the VRRP process's scripts, logged as the VRRP child logs how
/// it found them, and counted in `tally`.
fn check_vrrp_command(
    command: &mut Command,
    run_as: (u32, u32),
    enforcing: bool,
    host: &dyn Host,
    tally: &mut Tally,
    diagnostics: &mut Diagnostics,
) -> Verdict {
    let verdict = check_command(
        command,
        run_as,
        enforcing,
        host,
        Some(Severity::Log),
        diagnostics,
    );
    tally.count_vrrp(&verdict);
    verdict
}

/// The notify slots in the order keepalived 2.2.7 checks them.
fn notify_slots(notify: &mut NotifyScripts) -> [&mut Option<Box<Command>>; 5] {
    [
        &mut notify.backup,
        &mut notify.master,
        &mut notify.fault,
        &mut notify.stop,
        &mut notify.generic,
    ]
}

/// Without `enable_script_security`, any script that would run is a violation (exit 6): each
/// process says it of its own scripts, the checker worded for check scripts (2.2.7 prints
/// both lines when both kinds run, observed on the corpus).
fn security_violation(tally: &Tally, diagnostics: &mut Diagnostics) {
    let kinds = [
        (
            tally.check_scripts_run,
            "check ",
            tally.check_insecure,
            Pass::Checker,
        ),
        (tally.vrrp_scripts_run, "", tally.insecure, Pass::Vrrp),
    ];
    for (run, kind, insecure, pass) in kinds {
        if !run {
            continue;
        }
        let mut line = SECURITY_VIOLATION.replacen("scripts", &format!("{kind}scripts"), 1);
        if insecure {
            line.push_str(INSECURE_SCRIPTS_SUFFIX);
        }
        diagnostics.push(Diagnostic::new(Severity::Security, None, line).in_pass(pass));
    }
}

/// What became of one command.
pub(crate) struct Verdict {
    /// It may run.
    usable: bool,
    /// It was found (it runs, or was refused for what it is rather than for being absent).
    pub(crate) runs_or_refused: bool,
    /// It runs as root from an unsafe place and script security is off.
    pub(crate) insecure: bool,
    /// Why a `vrrp_script` running it is disabled, as `-t` words it, when it says so.
    disabled_because: Option<&'static str>,
}

impl Verdict {
    /// keepalived's `-t` line for the `vrrp_script` `name` this verdict disables.
    fn refused_line(&self, name: &str) -> Option<String> {
        self.disabled_because
            .map(|why| format!("Disabling track script {name} {why}"))
    }
}

/// Finds and checks `command` for `run_as`, logs what the daemon logs (as `channel`, when
/// given), and resolves its program to the path found.
pub(crate) fn check_command(
    command: &mut Command,
    run_as: (u32, u32),
    enforcing: bool,
    host: &dyn Host,
    channel: Option<Severity>,
    diagnostics: &mut Diagnostics,
) -> Verdict {
    if command.shell {
        // Run by `/bin/sh -c` and never looked up: keepalived 2.2.7 neither checks nor
        // counts it.
        return Verdict {
            usable: true,
            runs_or_refused: false,
            insecure: false,
            disabled_because: None,
        };
    }
    let Some(program) = command.argv.first() else {
        return Verdict {
            usable: false,
            runs_or_refused: false,
            insecure: false,
            disabled_because: None,
        };
    };
    match inspect(Path::new(program), run_as, host) {
        Err(problem) => {
            for line in problem.log_lines() {
                if let Some(severity) = channel {
                    diagnostics.push(Diagnostic::new(severity, None, line));
                }
            }
            let disabled_because = if problem.is_missing() {
                Some("since not found/accessible")
            } else if matches!(problem, ScriptProblem::WrongType { .. }) {
                Some("due to insecure")
            } else {
                None
            };
            Verdict {
                usable: false,
                runs_or_refused: !problem.is_missing(),
                insecure: false,
                disabled_because,
            }
        }
        Ok(found) => {
            if let (Some(line), Some(severity)) = (found.path_search_log_line(), channel) {
                diagnostics.push(Diagnostic::new(severity, None, line));
            }
            let unsafe_line = found.unsafe_log_line(enforcing);
            let refused = unsafe_line.is_some() && enforcing;
            if let (Some(line), Some(severity)) = (unsafe_line, channel) {
                diagnostics.push(Diagnostic::new(severity, None, line));
            }
            command.argv[0] = found.found.to_string_lossy().into_owned();
            Verdict {
                usable: !refused,
                runs_or_refused: true,
                insecure: found.insecure.is_some() && !enforcing,
                disabled_because: refused.then_some("due to insecure"),
            }
        }
    }
}

/// The `(uid, gid)` scripts run as when they name no user: `script_user`, else the
/// `keepalived_script` user; `None` when neither exists.
fn default_user(script_user: Option<&RunAs>, host: &dyn Host) -> Option<(u32, u32)> {
    match script_user {
        Some(run_as) => resolve_user(run_as, host),
        None => host.user("keepalived_script"),
    }
}

/// keepalived 2.2.7 logs once, as the first script that needs it is read, that the default
/// script user is missing (with or without script security); `-t` does not print it.
pub(crate) fn missing_default_user(
    config: &Config,
    host: &dyn Host,
    diagnostics: &mut Diagnostics,
) {
    if config.global.script_user.is_some() {
        return;
    }
    let first_needing = config
        .scripts
        .iter()
        .filter(|s| s.command.is_some() && s.user.is_none())
        .map(|s| s.close.as_ref().unwrap_or(&s.location))
        .min_by_key(|l| l.order);
    // The user database is only asked when a script needs the default user: looking a user
    // up loads the system's name-service modules, a quarter of `-t`'s fixed memory.
    if (first_needing.is_some() || uses_default_user(config))
        && host.user("keepalived_script").is_none()
    {
        diagnostics.push(Diagnostic::new(
            Severity::Log,
            first_needing.cloned(),
            "Script user 'keepalived_script' does not exist",
        ));
    }
}

/// Whether some script takes the default user: a `vrrp_script` without `user`, or any
/// notify script.
fn uses_default_user(config: &Config) -> bool {
    config
        .scripts
        .iter()
        .any(|s| s.command.is_some() && s.user.is_none())
        || config
            .instances
            .iter()
            .map(|i| &i.notify)
            .chain(config.sync_groups.iter().map(|g| &g.notify))
            .any(|n| {
                [&n.master, &n.backup, &n.fault, &n.stop, &n.generic]
                    .iter()
                    .any(|slot| slot.is_some())
            })
}

/// 2.2.7's line for a `USER [GROUP]` that cannot be resolved: `Script user 'U' does not
/// exist`, or `Script group 'G' does not exist` when only the group is missing.
pub(crate) fn missing_id_line(run_as: &RunAs, host: &dyn Host) -> Option<String> {
    if host.user(&run_as.user).is_none() {
        return Some(format!("Script user '{}' does not exist", run_as.user));
    }
    let group = run_as.group.as_ref()?;
    host.group(group)
        .is_none()
        .then(|| format!("Script group '{group}' does not exist"))
}

/// A `USER [GROUP]` as ids: the user's primary group unless a group is named.
pub(crate) fn resolve_user(run_as: &RunAs, host: &dyn Host) -> Option<(u32, u32)> {
    let (uid, primary) = host.user(&run_as.user)?;
    let gid = match &run_as.group {
        Some(group) => host.group(group)?,
        None => primary,
    };
    Some((uid, gid))
}

/// Records a line only the running daemon logs.
fn log(diagnostics: &mut Diagnostics, line: impl Into<String>) {
    diagnostics.push(Diagnostic::new(Severity::Log, None, line));
}

/// Records a problem keepalived gives without a line number.
fn unlocated(diagnostics: &mut Diagnostics, severity: Severity, message: String) {
    diagnostics.push(Diagnostic::new(severity, None, message));
}
