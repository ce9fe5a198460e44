//! global_defs' `startup_script` and `shutdown_script`, run by the parent as keepalived 2.2.7
//! runs them (observed: docs/compat.md "Startup and shutdown scripts"): the startup script once
//! the configuration is read and before any child starts, the shutdown script once every
//! child has stopped, each waited for up to its `*_script_timeout` (10 s by default) and then
//! killed. Lines, as 2.2.7's: `Running startup script PATH`, then `startup script script
//! succeeded`, `startup script script failed, status N` or `startup script timed out` (the
//! same with `shutdown`); without `enable_script_security`, `SECURITY VIOLATION - start/
//! shutdown scripts are being executed but script_security not enabled.` once at start.
//!
//! A script is written `SCRIPT [USER [GROUP]]`; without a user it runs as the other scripts do
//! (`script_user`, else `keepalived_script`, else root). Its program is found and checked by
//! the same rules as every other script's (`keepalived_config::script_lookup`).
//!
//! The parent carries on as a fresh image that does not read the configuration
//! (crates/keepalived/src/daemon.rs), so the shutdown script found at start is handed to it
//! as an internal argument ([`Planned::to_arg`]).

use std::path::Path;
use std::time::Duration;

use keepalived_config::model::{Config, RawSetting};
use keepalived_config::script_lookup::{ScriptProblem, inspect};
use keepalived_config::{Host, values};
use keepalived_track::{Outcome, ScriptSpec, run_once};
use serde::{Deserialize, Serialize};

use crate::logger::Logger;

/// 2.2.7's `startup_script_timeout` / `shutdown_script_timeout` when not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// 2.2.7's line when a start or shutdown script is set and script security is off.
pub const SECURITY_VIOLATION: &str = "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.";

/// The user scripts without one of their own run as, when it exists and no `script_user` is
/// set.
const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// Which of the two scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Which {
    /// `startup_script`.
    Startup,
    /// `shutdown_script`.
    Shutdown,
}

impl Which {
    fn word(self) -> &'static str {
        match self {
            Which::Startup => "startup",
            Which::Shutdown => "shutdown",
        }
    }
}

/// A script found and allowed to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// Which one it is.
    pub which: Which,
    /// Program (the path found) and arguments.
    pub argv: Vec<String>,
    /// The program's real path, as the log line names it.
    pub path: String,
    /// `(uid, gid)` it runs as.
    pub run_as: (u32, u32),
    /// How long it may run.
    pub timeout_ms: u64,
}

impl Planned {
    /// The internal command-line argument that carries this script to the parent's
    /// supervising image.
    pub fn to_arg(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads what [`Planned::to_arg`] wrote.
    pub fn from_arg(arg: &str) -> Option<Planned> {
        serde_json::from_str(arg).ok()
    }
}

/// What the configuration asks: the lines to log at start and the scripts that may run.
#[derive(Debug, Default)]
pub struct Plan {
    /// Lines the parent logs once at start (the security line, why a script cannot run).
    pub lines: Vec<String>,
    /// The startup script, if set and usable.
    pub startup: Option<Planned>,
    /// The shutdown script, if set and usable.
    pub shutdown: Option<Planned>,
}

fn last<'a>(config: &'a Config, keyword: &str) -> Option<&'a RawSetting> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
}

/// The script string of the words as kept (a `"…"` string is one word; a `'…'` span of words
/// is joined) and the words after it (`USER [GROUP]`).
fn script_and_rest(args: &[String]) -> (String, &[String]) {
    let Some(first) = args.first() else {
        return (String::new(), args);
    };
    if first.starts_with('\'') {
        let closing = args
            .iter()
            .enumerate()
            .position(|(i, w)| w.ends_with('\'') && (i > 0 || w.len() > 1))
            .unwrap_or(args.len() - 1);
        let joined = args[..=closing].join(" ");
        let inner = joined
            .strip_prefix('\'')
            .map(|t| t.strip_suffix('\'').unwrap_or(t))
            .unwrap_or(&joined)
            .to_string();
        return (inner, &args[closing + 1..]);
    }
    (first.clone(), &args[1..])
}

/// Reads both scripts of `config`, finding their programs on `host`.
pub fn plan(config: &Config, host: &dyn Host) -> Plan {
    let mut plan = Plan::default();
    let enforcing = config.global.enable_script_security;
    let set = [Which::Startup, Which::Shutdown]
        .into_iter()
        .filter_map(|w| last(config, &format!("{}_script", w.word())).map(|s| (w, s)))
        .collect::<Vec<_>>();
    if set.is_empty() {
        return plan;
    }
    // A script without a user of its own runs as the default script user: 2.2.7's parent
    // says first when there is none (and the script then runs as root).
    let takes_default_user = set
        .iter()
        .any(|(_, s)| script_and_rest(&s.args).1.is_empty());
    if takes_default_user
        && config.global.script_user.is_none()
        && host.user(DEFAULT_SCRIPT_USER).is_none()
    {
        plan.lines.push(format!(
            "Script user '{DEFAULT_SCRIPT_USER}' does not exist"
        ));
    }
    if !enforcing {
        plan.lines.push(SECURITY_VIOLATION.to_string());
    }
    for (which, setting) in set {
        let (text, rest) = script_and_rest(&setting.args);
        let mut argv = values::split_command(&text);
        if argv.first().is_none_or(|a| a.is_empty()) {
            continue;
        }
        let run_as = match run_as(config, rest, host) {
            Ok(ids) => ids,
            Err(line) => {
                plan.lines.push(line);
                continue;
            }
        };
        let found = match inspect(Path::new(&argv[0]), run_as, host) {
            Ok(found) => found,
            Err(problem) => {
                plan.lines.extend(problem_lines(&problem));
                continue;
            }
        };
        if let Some(line) = found.path_search_log_line() {
            plan.lines.push(line);
        }
        if let Some(line) = found.unsafe_log_line(enforcing) {
            plan.lines.push(line);
            if enforcing {
                continue;
            }
        }
        argv[0] = found.found.to_string_lossy().into_owned();
        let timeout = last(config, &format!("{}_script_timeout", which.word()))
            .and_then(|s| s.args.first())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| (1..=1000).contains(v))
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let planned = Planned {
            which,
            argv,
            path: found.path.to_string_lossy().into_owned(),
            run_as,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        match which {
            Which::Startup => plan.startup = Some(planned),
            Which::Shutdown => plan.shutdown = Some(planned),
        }
    }
    plan
}

fn problem_lines(problem: &ScriptProblem) -> Vec<String> {
    problem.log_lines()
}

/// The `(uid, gid)` of `USER [GROUP]`, else of the default script user, else root.
fn run_as(config: &Config, rest: &[String], host: &dyn Host) -> Result<(u32, u32), String> {
    let named = |user: &str, group: Option<&str>| -> Result<(u32, u32), String> {
        let (uid, primary) = host
            .user(user)
            .ok_or_else(|| format!("Unable to resolve script username '{user}' - ignoring"))?;
        let gid = match group {
            Some(g) => host
                .group(g)
                .ok_or_else(|| format!("Unable to resolve script group name '{g}' - ignoring"))?,
            None => primary,
        };
        Ok((uid, gid))
    };
    if let Some(user) = rest.first() {
        return named(user, rest.get(1).map(String::as_str));
    }
    if let Some(user) = &config.global.script_user {
        return named(&user.user, user.group.as_deref());
    }
    Ok(host.user(DEFAULT_SCRIPT_USER).unwrap_or((0, 0)))
}

/// The line that ends a run, as 2.2.7 words it.
pub fn outcome_line(which: Which, outcome: &Outcome) -> String {
    let word = which.word();
    match outcome {
        Outcome::Success => format!("{word} script script succeeded"),
        Outcome::Failure(status) => format!("{word} script script failed, status {status}"),
        Outcome::TimedOut => format!("{word} script timed out"),
        Outcome::CannotRun(reason) => format!("{word} script cannot run: {reason}"),
    }
}

/// Runs `script` and waits for it (up to its timeout, then it is killed), logging as 2.2.7.
/// Called where no runtime runs (the parent before its children start, after they stopped).
pub fn run(script: &Planned, logger: &Logger) {
    logger.info(&format!(
        "Running {} script {}",
        script.which.word(),
        script.path
    ));
    let spec = ScriptSpec {
        name: format!("{}_script", script.which.word()),
        argv: script.argv.clone(),
        interval: Duration::from_millis(script.timeout_ms),
        timeout: Duration::from_millis(script.timeout_ms),
        rise: 1,
        fall: 1,
        init_fail: false,
        uid_gid: (script.run_as != (0, 0)).then_some(script.run_as),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(run_once(&spec)),
        Err(err) => Outcome::CannotRun(format!("no runtime: {err}")),
    };
    logger.info(&outcome_line(script.which, &outcome));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    fn config(global: &str) -> Config {
        let text = format!("global_defs {{\n{global}\n}}\n");
        let host = FakeHost::lab();
        load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn scripts_words_users_and_timeouts() {
        assert_eq!(
            script_and_rest(&["/bin/x a".into(), "nobody".into()]),
            ("/bin/x a".to_string(), &["nobody".to_string()][..])
        );
        assert_eq!(
            script_and_rest(&["'/bin/x".into(), "a'".into(), "u".into(), "g".into()]),
            (
                "/bin/x a".to_string(),
                &["u".to_string(), "g".to_string()][..]
            )
        );
        let c = config(
            " startup_script \"/bin/true --start\"\n startup_script_timeout 3\n \
             shutdown_script /bin/false\n enable_script_security\n script_user root",
        );
        let host = keepalived_config::RealHost::default();
        let plan = plan(&c, &host);
        assert!(plan.lines.is_empty(), "{:?}", plan.lines);
        let start = plan.startup.expect("startup");
        assert_eq!(start.argv.get(1).map(String::as_str), Some("--start"));
        assert_eq!((start.timeout_ms, start.run_as), (3000, (0, 0)));
        let stop = plan.shutdown.expect("shutdown");
        assert_eq!(stop.timeout_ms, 10_000);
        assert_eq!(Planned::from_arg(&stop.to_arg()), Some(stop));
    }

    #[test]
    fn the_security_line_and_a_missing_program() {
        let c = config(" shutdown_script /nonexistent/kw-script");
        let mut host = FakeHost::lab();
        host.users
            .push((DEFAULT_SCRIPT_USER.to_string(), 1001, 1001));
        let plan = plan(&c, &host);
        assert_eq!(
            plan.lines.first().map(String::as_str),
            Some(SECURITY_VIOLATION)
        );
        assert!(plan.shutdown.is_none());
        assert!(plan.lines.len() > 1, "{:?}", plan.lines);
        assert!(super::plan(&config(" router_id r"), &host).lines.is_empty());
    }

    /// 2.2.7's parent, without a `keepalived_script` user: the line comes before the security
    /// violation, and only for a script without a user of its own.
    #[test]
    fn a_missing_default_script_user_is_named_for_a_script_without_its_own() {
        let host = FakeHost::lab();
        let missing = "Script user 'keepalived_script' does not exist";
        let lines = plan(&config(" startup_script /bin/true"), &host).lines;
        assert_eq!(
            lines.first().map(String::as_str),
            Some(missing),
            "{lines:?}"
        );
        assert_eq!(lines.get(1).map(String::as_str), Some(SECURITY_VIOLATION));
        let lines = plan(&config(" startup_script \"/bin/true\" root"), &host).lines;
        assert!(!lines.iter().any(|l| l == missing), "{lines:?}");
        let lines = plan(
            &config(" startup_script /bin/true\n script_user nobody"),
            &host,
        )
        .lines;
        assert!(!lines.iter().any(|l| l == missing), "{lines:?}");
    }

    #[test]
    fn outcome_lines_as_2_2_7() {
        assert_eq!(
            outcome_line(Which::Startup, &Outcome::Success),
            "startup script script succeeded"
        );
        assert_eq!(
            outcome_line(Which::Shutdown, &Outcome::Failure(3)),
            "shutdown script script failed, status 3"
        );
        assert_eq!(
            outcome_line(Which::Startup, &Outcome::TimedOut),
            "startup script timed out"
        );
    }
}
