//! The users of the checker process's scripts, as keepalived 2.2.7's checker gives them while
//! it reads them (observed running 2.2.7, s29): each `quorum_up` / `quorum_down` of a virtual
//! server, `notify_up` / `notify_down` of a real server and `MISC_CHECK` runs as its own
//! `USER [GROUP]`, else as the default script user: `script_user`, else `keepalived_script`,
//! else (only when script security is off) root.
//!
//! - A named user or group that does not exist: `Script user 'U' does not exist` (or `Script
//!   group 'G' …`), then for a notify script `Invalid user/group for notify script PROGRAM -
//!   ignoring` (`quorum script` for a quorum's), and the script is dropped. (A MISC_CHECK's is
//!   reported where its `user` line is read, see build/checker.rs.)
//! - The default user needed and missing: the first script that needs it logs `Script user
//!   'keepalived_script' does not exist`; with `enable_script_security` it is also a config
//!   error there, `Unable to set default user keepalived_script for script` (once), and every
//!   script needing it is dropped: `Failed to set default user for notify script PROGRAM -
//!   ignoring` (logged only) or `Unable to set default user for misc script 'WORD' … -
//!   removing` (a config error at the check's `}`). A `script_user` that does not exist (the
//!   parent said so) drops them the same way, without the first two lines.
//!
//! The lines go to the checker's pass, in reading order; those logged only are not printed by
//! `-t`. What is kept is then found and counted for script security.

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Pass, Severity};
use crate::host::Host;
use crate::model::{Command, Config, RunAs};
use crate::script_checks::{Verdict, check_command, missing_id_line, resolve_user};

/// Whether the checker's scripts make a script-security violation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CheckerScripts {
    /// A script that runs (or was refused for what it is) was found.
    pub(crate) run: bool,
    /// One runs as root from an unsafe place.
    pub(crate) insecure: bool,
}

/// Where one of the checker's scripts is in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    QuorumUp(usize),
    QuorumDown(usize),
    NotifyUp(usize, usize),
    NotifyDown(usize, usize),
    /// A MISC_CHECK: virtual server, real server, check.
    Misc(usize, usize, usize),
}

impl Slot {
    /// The index of its virtual server.
    fn vs(self) -> usize {
        match self {
            Slot::QuorumUp(v)
            | Slot::QuorumDown(v)
            | Slot::NotifyUp(v, _)
            | Slot::NotifyDown(v, _)
            | Slot::Misc(v, ..) => v,
        }
    }

    /// The word 2.2.7's lines name the script by.
    fn kind(self) -> &'static str {
        match self {
            Slot::QuorumUp(_) | Slot::QuorumDown(_) => "quorum",
            Slot::NotifyUp(..) | Slot::NotifyDown(..) => "notify",
            Slot::Misc(..) => "misc",
        }
    }
}

/// The default script user as the checker finds it.
enum DefaultUser {
    Found((u32, u32)),
    /// `script_user` names a user or group that does not exist.
    NamedMissing,
    /// No `script_user` and no `keepalived_script` user; `said`: the line was logged.
    KeepalivedScriptMissing {
        said: bool,
    },
}

/// The notify or quorum script in `slot`.
fn notify_slot(config: &mut Config, slot: Slot) -> Option<&mut Option<Box<Command>>> {
    let vss = &mut config.virtual_servers;
    Some(match slot {
        Slot::QuorumUp(v) => &mut vss.get_mut(v)?.quorum_up,
        Slot::QuorumDown(v) => &mut vss.get_mut(v)?.quorum_down,
        Slot::NotifyUp(v, r) => &mut vss.get_mut(v)?.real_servers.get_mut(r)?.notify_up,
        Slot::NotifyDown(v, r) => &mut vss.get_mut(v)?.real_servers.get_mut(r)?.notify_down,
        Slot::Misc(..) => return None,
    })
}

/// Every script of the checker with where 2.2.7 reads it: a notify script at its line, a
/// MISC_CHECK at its `}` (where 2.2.7 sets its user). `named` tells whether it names its user.
fn slots(config: &Config) -> Vec<(u32, Slot, bool)> {
    let mut found = Vec::new();
    let mut notify = |slot: Slot, command: &Option<Box<Command>>| {
        if let Some(command) = command {
            found.push((command.location.order, slot, command.run_as.is_some()));
        }
    };
    for (v, vs) in config.virtual_servers.iter().enumerate() {
        notify(Slot::QuorumUp(v), &vs.quorum_up);
        notify(Slot::QuorumDown(v), &vs.quorum_down);
        for (r, rs) in vs.real_servers.iter().enumerate() {
            notify(Slot::NotifyUp(v, r), &rs.notify_up);
            notify(Slot::NotifyDown(v, r), &rs.notify_down);
        }
    }
    for (v, vs) in config.virtual_servers.iter().enumerate() {
        for (r, rs) in vs.real_servers.iter().enumerate() {
            for (c, check) in rs.checkers.iter().enumerate() {
                if check.misc_path.is_some() {
                    let at = check.close.as_ref().unwrap_or(&check.location);
                    found.push((at.order, Slot::Misc(v, r, c), misc_user(check).is_some()));
                }
            }
        }
    }
    found.sort_by_key(|(order, _, _)| *order);
    found
}

/// A MISC_CHECK's `user NAME [GROUP]`.
fn misc_user(check: &crate::model::Checker) -> Option<RunAs> {
    check
        .other
        .iter()
        .find(|s| s.keyword == "user" && !s.args.is_empty())
        .map(|s| RunAs {
            user: s.args[0].clone(),
            group: s.args.get(1).cloned(),
        })
}

/// A line of the checker's pass at `at`.
fn push(diagnostics: &mut Diagnostics, severity: Severity, at: &Location, line: String) {
    diagnostics.push(Diagnostic::new(severity, Some(at.clone()), line).in_pass(Pass::Checker));
}

/// Gives each of the checker's scripts its user (dropping those that cannot have one, with
/// 2.2.7's lines), finds what is kept, and says whether a script-security violation follows.
pub(crate) fn check(
    config: &mut Config,
    host: &dyn Host,
    enforcing: bool,
    diagnostics: &mut Diagnostics,
) -> CheckerScripts {
    let mut default = match &config.global.script_user {
        Some(named) => {
            resolve_user(named, host).map_or(DefaultUser::NamedMissing, DefaultUser::Found)
        }
        None => host.user("keepalived_script").map_or(
            DefaultUser::KeepalivedScriptMissing { said: false },
            DefaultUser::Found,
        ),
    };
    let mut tally = CheckerScripts::default();
    let mut dropped_misc = Vec::new();
    for (_, slot, named) in slots(config) {
        if let Slot::Misc(v, r, c) = slot {
            let Some(check) = config
                .virtual_servers
                .get_mut(v)
                .and_then(|vs| vs.real_servers.get_mut(r))
                .and_then(|rs| rs.checkers.get_mut(c))
            else {
                continue;
            };
            let at = check
                .close
                .clone()
                .unwrap_or_else(|| check.location.clone());
            let ids = match misc_user(check) {
                // A missing one was reported where its `user` line was read; the checker
                // drops the check when it plans it.
                Some(run_as) => match resolve_user(&run_as, host) {
                    Some(ids) => ids,
                    None => continue,
                },
                None => match default_ids(&mut default, enforcing, &at, diagnostics) {
                    Some(ids) => ids,
                    None => {
                        let words = check.misc_path.as_ref().map_or_else(String::new, |c| {
                            let quoted: Vec<String> =
                                c.argv.iter().map(|w| format!("'{w}'")).collect();
                            quoted.join(" ")
                        });
                        push(
                            diagnostics,
                            Severity::Error,
                            &at,
                            format!(
                                "Unable to set default user for misc script {words} - removing"
                            ),
                        );
                        dropped_misc.push((v, r, c));
                        continue;
                    }
                },
            };
            let Some(command) = check.misc_path.as_mut() else {
                continue;
            };
            command.run_as_ids = Some(ids);
            let verdict = check_command(command, ids, enforcing, host, None, diagnostics);
            count(&mut tally, &verdict);
            continue;
        }
        // A virtual server without real servers is dropped before 2.2.7 looks at script
        // security: its quorum scripts do not count (observed).
        let counted = config
            .virtual_servers
            .get(slot.vs())
            .is_some_and(|vs| !vs.real_servers.is_empty());
        let Some(cell) = notify_slot(config, slot) else {
            continue;
        };
        let Some(command) = cell.as_mut() else {
            continue;
        };
        let at = command.location.clone();
        let program = command.argv.first().cloned().unwrap_or_default();
        let ids = match (&command.run_as, named) {
            (Some(run_as), true) => match resolve_user(run_as, host) {
                Some(ids) => Some(ids),
                None => {
                    if let Some(line) = missing_id_line(run_as, host) {
                        push(diagnostics, Severity::Log, &at, line);
                    }
                    let line = format!(
                        "Invalid user/group for {} script {program} - ignoring",
                        slot.kind()
                    );
                    push(diagnostics, Severity::Log, &at, line);
                    *cell = None;
                    continue;
                }
            },
            _ => default_ids(&mut default, enforcing, &at, diagnostics),
        };
        let Some(ids) = ids else {
            let line = format!(
                "Failed to set default user for {} script {program} - ignoring",
                slot.kind()
            );
            push(diagnostics, Severity::Log, &at, line);
            *cell = None;
            continue;
        };
        command.run_as_ids = Some(ids);
        if command.argv.is_empty() {
            continue;
        }
        let verdict = check_command(command, ids, enforcing, host, None, diagnostics);
        if counted {
            count(&mut tally, &verdict);
        }
    }
    // Removed last to first, so the indexes of the others hold.
    for (v, r, c) in dropped_misc.into_iter().rev() {
        if let Some(rs) = config
            .virtual_servers
            .get_mut(v)
            .and_then(|vs| vs.real_servers.get_mut(r))
            && c < rs.checkers.len()
        {
            rs.checkers.remove(c);
        }
    }
    tally
}

/// Counts a kept script's verdict.
fn count(tally: &mut CheckerScripts, verdict: &Verdict) {
    tally.run |= verdict.runs_or_refused;
    tally.insecure |= verdict.insecure;
}

/// The default user for a script read at `at`, logging what the first script needing a
/// missing `keepalived_script` user logs; `None` when the script cannot have one.
fn default_ids(
    default: &mut DefaultUser,
    enforcing: bool,
    at: &Location,
    diagnostics: &mut Diagnostics,
) -> Option<(u32, u32)> {
    match default {
        DefaultUser::Found(ids) => Some(*ids),
        DefaultUser::NamedMissing => None,
        DefaultUser::KeepalivedScriptMissing { said } => {
            if !*said {
                *said = true;
                let line = "Script user 'keepalived_script' does not exist".to_string();
                push(diagnostics, Severity::Log, at, line);
                if enforcing {
                    let line = "Unable to set default user keepalived_script for script";
                    push(diagnostics, Severity::Error, at, line.to_string());
                }
            }
            // Without script security the scripts run as root.
            (!enforcing).then_some((0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::host::FakeHost;
    use crate::{LoadOptions, load_str};

    /// `text` read on the lab host (users root and nobody): the lines of `pass` (`L: ` before
    /// those only logged) and the model.
    fn read(text: &str, pass: Pass) -> (Vec<String>, Config) {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        let lines = loaded
            .diagnostics
            .iter()
            .filter(|d| d.pass == Some(pass))
            .map(|d| {
                let mark = if d.severity == Severity::Log {
                    "L: "
                } else {
                    ""
                };
                format!("{mark}{d}")
            })
            .collect();
        (lines, loaded.config)
    }

    const SCRIPTS: &str = "virtual_server 192.0.2.10 80 {\n\
        lb_algo rr\nlb_kind NAT\nprotocol TCP\n\
        quorum_up \"/bin/true q\"\n\
        real_server 192.0.2.11 80 {\n\
        notify_up \"/bin/true up\"\n\
        MISC_CHECK {\n\
        misc_path \"/bin/true x\"\n\
        }\n\
        }\n\
        }\n";

    const VIOLATION: &str =
        "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.";

    #[test]
    fn a_missing_default_user_is_said_once_and_the_scripts_run_as_root() {
        let (lines, config) = read(SCRIPTS, Pass::Checker);
        assert_eq!(
            lines,
            [
                "L: Script user 'keepalived_script' does not exist".to_string(),
                VIOLATION.to_string()
            ]
        );
        let vs = &config.virtual_servers[0];
        let rs = &vs.real_servers[0];
        let ids = |c: &Option<Box<Command>>| c.as_ref().and_then(|c| c.run_as_ids);
        assert_eq!(ids(&vs.quorum_up), Some((0, 0)));
        assert_eq!(ids(&rs.notify_up), Some((0, 0)));
        let misc = rs.checkers[0].misc_path.as_ref().expect("kept");
        assert_eq!(misc.run_as_ids, Some((0, 0)));
    }

    #[test]
    fn with_script_security_the_scripts_needing_the_missing_default_user_are_dropped() {
        let text = format!("global_defs {{\nenable_script_security\n}}\n{SCRIPTS}");
        let (lines, config) = read(&text, Pass::Checker);
        assert_eq!(
            lines,
            [
                "L: Script user 'keepalived_script' does not exist",
                "(/k.conf: Line 8) Unable to set default user keepalived_script for script",
                "L: Failed to set default user for quorum script /bin/true - ignoring",
                "L: Failed to set default user for notify script /bin/true - ignoring",
                "(/k.conf: Line 13) Unable to set default user for misc script '/bin/true' 'x' - \
                 removing",
            ]
        );
        let vs = &config.virtual_servers[0];
        assert!(vs.quorum_up.is_none());
        assert!(vs.real_servers[0].notify_up.is_none());
        assert!(vs.real_servers[0].checkers.is_empty());
    }

    #[test]
    fn a_user_or_group_that_does_not_exist_drops_a_notify_script() {
        let text = "virtual_server 192.0.2.10 80 {\n\
            lb_algo rr\nlb_kind NAT\nprotocol TCP\n\
            quorum_up \"/bin/true q\" nobody\n\
            real_server 192.0.2.11 80 {\n\
            notify_up \"/bin/true up\" nosuchuser\n\
            notify_down \"/bin/true down\" nobody nosuchgroup\n\
            TCP_CHECK {\n\
            }\n\
            }\n\
            }\n";
        let (lines, config) = read(text, Pass::Checker);
        assert_eq!(
            lines,
            [
                "L: Script user 'nosuchuser' does not exist",
                "L: Invalid user/group for notify script /bin/true - ignoring",
                "L: Script group 'nosuchgroup' does not exist",
                "L: Invalid user/group for notify script /bin/true - ignoring",
                VIOLATION,
            ]
        );
        let vs = &config.virtual_servers[0];
        let quorum = vs.quorum_up.as_ref().expect("kept");
        assert_eq!(quorum.run_as_ids, Some((65534, 65534)));
        assert!(vs.real_servers[0].notify_up.is_none());
        assert!(vs.real_servers[0].notify_down.is_none());
    }

    #[test]
    fn a_script_user_that_does_not_exist_drops_the_scripts_without_their_own() {
        let text = format!("global_defs {{\nscript_user nosuchuser\n}}\n{SCRIPTS}");
        let (parent, _) = read(&text, Pass::Parent);
        assert_eq!(
            parent,
            [
                "L: Script user 'nosuchuser' does not exist",
                "(Line 2) Error setting global script uid/gid",
            ]
        );
        let (lines, config) = read(&text, Pass::Checker);
        assert_eq!(
            lines,
            [
                "L: Failed to set default user for quorum script /bin/true - ignoring",
                "L: Failed to set default user for notify script /bin/true - ignoring",
                "(/k.conf: Line 13) Unable to set default user for misc script '/bin/true' 'x' - \
                 removing",
            ]
        );
        assert!(
            config.virtual_servers[0].real_servers[0]
                .checkers
                .is_empty()
        );
    }

    #[test]
    fn a_misc_checks_missing_group_is_named_before_the_check_is_refused() {
        let text = SCRIPTS.replace(
            "misc_path \"/bin/true x\"\n",
            "misc_path \"/bin/true x\"\nuser nobody nosuchgroup\n",
        );
        let (lines, _) = read(&text, Pass::Checker);
        assert_eq!(
            lines[..3],
            [
                "L: Script user 'keepalived_script' does not exist",
                "L: Script group 'nosuchgroup' does not exist",
                "(/k.conf: Line 10) Failed to set uid/gid for misc checker script '/bin/true' 'x' \
                 - removing",
            ]
        );
    }
}
