//! The global_defs settings of a process itself, as keepalived 2.2.7 applies them (observed on
//! this machine: `ps`, /proc/PID/{comm,stat,status,limits}; docs/compat.md "Process settings"):
//!
//! - its name (`comm`, what `ps`, `top` and `pidof` show): `process_names` names the children
//!   `keepalived_vrrp` and `keepalived_lvs`; `vrrp_process_name` / `checker_process_name`
//!   (`lvs_process_name`) name one; a child without a name of its own keeps the parent's
//!   (`keepalived`). The children are fresh executions of this program, so the name is set
//!   with `prctl(PR_SET_NAME)`; the command line (`ps -o args`) is left as it was, as 2.2.7's;
//! - its CPUs (`vrrp_cpu_affinity` / `checker_cpu_affinity`);
//! - its scheduling: with `*_rt_priority`, `SCHED_RR` at that priority and `RLIMIT_RTTIME`
//!   set to `*_rlimit_rttime` microseconds (10000 by default) as the hard limit and half of it
//!   as the soft one, SIGXCPU (the soft limit's signal) ignored; otherwise the nice value `vrrp_priority` / `checker_priority`, which
//!   2.2.7 does not apply to a real-time process;
//! - `*_no_swap`: all its pages, present and future, locked in memory (`mlockall`);
//! - the file creation mask of every process (`umask`, when `-u` is not given; 2.2.7's
//!   default is 0177), set by the parent before any child starts.
//!
//! Everything is applied once, at the start of the process, on its only thread: threads
//! started later (the runtime's blocking pool) inherit it. The BFD process of 2.2.7 has no
//! counterpart here: its `bfd_*` settings stay listed as not supported.

use std::ffi::CString;

use keepalived_config::Config;
use keepalived_config::model::RawSetting;

use crate::cli::ChildRole;

/// 2.2.7's file creation mask when neither `-u` nor `umask` gives one (observed: 0177 in the
/// parent, the children and the scripts they run).
pub const DEFAULT_UMASK: u32 = 0o177;

/// 2.2.7's `*_rlimit_rttime` when a real-time priority is set and no limit is: 10 ms of CPU
/// time between two blocking system calls.
pub const DEFAULT_RLIMIT_RTTIME: u64 = 10_000;

/// What one process applies to itself at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Its name (`comm`, at most 15 bytes are kept by the kernel), when it changes.
    pub name: Option<String>,
    /// The CPUs it may run on (empty: all).
    pub cpus: Vec<usize>,
    /// Its nice value, when set and no real-time priority is.
    pub nice: Option<i32>,
    /// Its `SCHED_RR` priority (1..=99).
    pub rt_priority: Option<i32>,
    /// `RLIMIT_RTTIME` (hard limit, in microseconds) when `rt_priority` is set.
    pub rlimit_rttime: Option<u64>,
    /// Whether all its memory is locked (`mlockall`).
    pub no_swap: bool,
}

/// The last setting of `keyword` in global_defs (keepalived keeps the last one written).
fn last<'a>(config: &'a Config, keywords: &[&str]) -> Option<&'a RawSetting> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| keywords.contains(&s.keyword.as_str()))
}

/// The first value of `keyword`, as written.
fn value<'a>(config: &'a Config, keywords: &[&str]) -> Option<&'a str> {
    last(config, keywords).and_then(|s| s.args.first().map(String::as_str))
}

/// Whether `keyword` is written at all.
fn present(config: &Config, keyword: &str) -> bool {
    last(config, &[keyword]).is_some()
}

/// The name `process_name` gives the parent (which its children keep unless they have one).
pub fn parent_name(config: &Config) -> Option<String> {
    value(config, &["process_name"])
        .map(str::to_string)
        .or_else(|| present(config, "process_names").then(|| "keepalived".to_string()))
}

/// The settings of the process playing `role`. Values the configuration check refused are
/// left out (it has said why); a real-time priority out of 1..=99 is brought into it, as
/// 2.2.7's warning says.
pub fn of(config: &Config, role: ChildRole) -> Settings {
    let (prefix, default_name, own_names): (&str, &str, &[&str]) = match role {
        ChildRole::Vrrp => ("vrrp", "keepalived_vrrp", &["vrrp_process_name"]),
        ChildRole::Checker => (
            "checker",
            "keepalived_lvs",
            &["checker_process_name", "lvs_process_name"],
        ),
    };
    let key = |suffix: &str| format!("{prefix}_{suffix}");
    let name = value(config, own_names)
        .map(str::to_string)
        .or_else(|| present(config, "process_names").then(|| default_name.to_string()))
        .or_else(|| parent_name(config));
    let cpus = last(config, &[&key("cpu_affinity")])
        .and_then(|s| {
            s.args
                .iter()
                .map(|a| a.parse::<usize>().ok())
                .collect::<Option<Vec<usize>>>()
        })
        .filter(|cpus| cpus.iter().all(|&c| c < nix::sched::CpuSet::count()))
        .unwrap_or_default();
    let rt_priority = value(config, &[&key("rt_priority")])
        .and_then(|v| v.parse::<i64>().ok())
        .map(|p| p.clamp(1, 99) as i32);
    let rlimit_rttime = rt_priority.map(|_| {
        value(config, &[&key("rlimit_rttime"), &key("rlimit_rtime")])
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&v| (1..=u64::from(u32::MAX)).contains(&v))
            .unwrap_or(DEFAULT_RLIMIT_RTTIME)
    });
    let nice = match role {
        ChildRole::Vrrp => Some(config.global.vrrp_priority),
        ChildRole::Checker => value(config, &["checker_priority"]).and_then(|v| v.parse().ok()),
    }
    .filter(|n| *n != 0 && (-20..=19).contains(n) && rt_priority.is_none());
    let no_swap = match role {
        ChildRole::Vrrp => config.global.vrrp_no_swap,
        ChildRole::Checker => present(config, "checker_no_swap"),
    };
    Settings {
        name,
        cpus,
        nice,
        rt_priority,
        rlimit_rttime,
        no_swap,
    }
}

/// The file creation mask `umask` gives: a number (hexadecimal with `0x`, octal with a
/// leading 0, decimal otherwise) or bits `I{R,W,X}{USR,GRP,OTH}` joined by `|`. `None` when it
/// is not written or cannot be read.
pub fn umask_of(config: &Config) -> Option<u32> {
    let setting = last(config, &["umask"])?;
    parse_umask(&setting.args.concat())
}

/// See [`umask_of`].
fn parse_umask(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let number = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()
    } else if text.starts_with(|c: char| c.is_ascii_digit()) {
        text.parse::<u32>().ok()
    } else {
        let mut bits = 0;
        for word in text.split('|') {
            bits |= umask_bit(word.trim())?;
        }
        Some(bits)
    };
    number.filter(|&n| n <= 0o777)
}

/// One `I{R,W,X}{USR,GRP,OTH}` bit.
fn umask_bit(word: &str) -> Option<u32> {
    let rest = word.strip_prefix('I')?;
    let (what, who) = rest.split_at_checked(1)?;
    let what = match what {
        "R" => 4,
        "W" => 2,
        "X" => 1,
        _ => return None,
    };
    let shift = match who {
        "USR" => 6,
        "GRP" => 3,
        "OTH" => 0,
        _ => return None,
    };
    Some(what << shift)
}

/// Sets the name (`comm`) of the calling thread, which is the process's while it has one
/// thread. An error is returned as the line to log.
pub fn set_name(name: &str) -> Result<(), String> {
    let name = CString::new(name).map_err(|_| format!("invalid process name '{name}'"))?;
    nix::sys::prctl::set_name(&name)
        .map_err(|e| format!("Unable to set process name to {name:?} - {e}"))
}

/// Applies `settings` to this process (call it while it has only one thread). Returns the
/// problems, one line each, for the caller to log; what fails is left as it was.
pub fn apply(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(name) = &settings.name
        && let Err(e) = set_name(name)
    {
        problems.push(e);
    }
    if !settings.cpus.is_empty() {
        let mut set = nix::sched::CpuSet::new();
        let added = settings.cpus.iter().try_for_each(|&c| set.set(c));
        if let Err(e) =
            added.and_then(|()| nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set))
        {
            problems.push(format!("Unable to set cpu affinity - {e}"));
        }
    }
    if let Some(nice) = settings.nice
        && let Err(e) = rustix::process::setpriority_process(None, nice)
    {
        problems.push(format!("Unable to set process priority to {nice} - {e}"));
    }
    if let Some(priority) = settings.rt_priority {
        match set_round_robin(priority) {
            Ok(()) => {
                if let Some(limit) = settings.rlimit_rttime {
                    // Past the soft limit the kernel sends SIGXCPU, which would end the
                    // process; 2.2.7's real-time child survives it (it handles the signal)
                    // and only the hard limit's SIGKILL ends it.
                    if let Err(e) = ignore_sigxcpu() {
                        problems.push(format!("Unable to ignore SIGXCPU - {e}"));
                    }
                    if let Err(e) = nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_RTTIME,
                        limit / 2,
                        limit,
                    ) {
                        problems.push(format!("Unable to set RLIMIT_RTTIME to {limit} - {e}"));
                    }
                }
            }
            Err(e) => problems.push(format!("Unable to set real-time priority {priority} - {e}")),
        }
    }
    if settings.no_swap {
        use nix::sys::mman::{MlockAllFlags, mlockall};
        if let Err(e) = mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
            problems.push(format!("Unable to lock process memory (no_swap) - {e}"));
        }
    }
    problems
}

/// SIGXCPU ignored (the soft `RLIMIT_RTTIME` then only warns the kernel's way: nothing).
fn ignore_sigxcpu() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_IGN installs no handler, so no code runs in signal context; nothing else in
    // this process sets SIGXCPU's disposition.
    #[allow(unsafe_code)]
    let previous = unsafe { signal(Signal::SIGXCPU, SigHandler::SigIgn) };
    previous.map(drop)
}

/// `sched_setscheduler(0, SCHED_RR, priority)`: neither nix nor rustix has it.
fn set_round_robin(priority: i32) -> Result<(), nix::errno::Errno> {
    let param = nix::libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the call; the kernel
    // only reads it. Pid 0 is the calling thread.
    #[allow(unsafe_code)]
    let result = unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_RR, &param) };
    nix::errno::Errno::result(result).map(drop)
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
    fn nothing_written_changes_nothing() {
        let c = config("router_id r");
        assert_eq!(of(&c, ChildRole::Vrrp), Settings::default());
        assert_eq!(of(&c, ChildRole::Checker), Settings::default());
        assert_eq!(umask_of(&c), None);
    }

    #[test]
    fn each_child_takes_its_own_settings() {
        let c = config(
            "vrrp_priority -5\n checker_priority 3\n vrrp_no_swap\n vrrp_cpu_affinity 1\n\
             checker_cpu_affinity 0 1\n",
        );
        let vrrp = of(&c, ChildRole::Vrrp);
        assert_eq!(
            vrrp,
            Settings {
                nice: Some(-5),
                no_swap: true,
                cpus: vec![1],
                ..Settings::default()
            }
        );
        let checker = of(&c, ChildRole::Checker);
        assert_eq!(
            checker,
            Settings {
                nice: Some(3),
                cpus: vec![0, 1],
                ..Settings::default()
            }
        );
    }

    /// 2.2.7: `vrrp_rt_priority 20` gives RLIMIT_RTTIME 5000/10000 µs; with
    /// `vrrp_rlimit_rttime 100000`, 50000/100000; `vrrp_priority 4` beside a real-time
    /// priority leaves the nice value at 0.
    #[test]
    fn a_real_time_priority_brings_its_time_limit_and_drops_the_nice_value() {
        let c = config("vrrp_rt_priority 20\n vrrp_priority 4\n checker_rt_priority 200");
        let vrrp = of(&c, ChildRole::Vrrp);
        assert_eq!(
            (vrrp.rt_priority, vrrp.rlimit_rttime, vrrp.nice),
            (Some(20), Some(DEFAULT_RLIMIT_RTTIME), None)
        );
        assert_eq!(of(&c, ChildRole::Checker).rt_priority, Some(99));
        let c = config("vrrp_rt_priority 20\n vrrp_rlimit_rttime 100000\n");
        assert_eq!(of(&c, ChildRole::Vrrp).rlimit_rttime, Some(100_000));
        // Without a real-time priority the limit is not set.
        let c = config("checker_rlimit_rttime 100000\n");
        assert_eq!(of(&c, ChildRole::Checker).rlimit_rttime, None);
    }

    /// 2.2.7: `process_names` gives keepalived_vrrp and keepalived_lvs (comm);
    /// `vrrp_process_name myvrrp` alone names the VRRP child only; `process_name myparent`
    /// names the parent, and a child without a name of its own keeps it.
    #[test]
    fn names_follow_2_2_7() {
        let c = config("process_names");
        assert_eq!(
            of(&c, ChildRole::Vrrp).name.as_deref(),
            Some("keepalived_vrrp")
        );
        assert_eq!(
            of(&c, ChildRole::Checker).name.as_deref(),
            Some("keepalived_lvs")
        );
        let c = config("vrrp_process_name myvrrp");
        assert_eq!(of(&c, ChildRole::Vrrp).name.as_deref(), Some("myvrrp"));
        assert_eq!(of(&c, ChildRole::Checker).name, None);
        let c = config("process_names\n checker_process_name chk");
        assert_eq!(of(&c, ChildRole::Checker).name.as_deref(), Some("chk"));
    }

    #[test]
    fn umask_numbers_and_bits() {
        assert_eq!(parse_umask("0027"), Some(0o027));
        assert_eq!(parse_umask("0x12"), Some(0o022));
        assert_eq!(parse_umask("18"), Some(0o022));
        assert_eq!(parse_umask("IWGRP|IWOTH"), Some(0o022));
        assert_eq!(parse_umask("IRWXG"), None);
        assert_eq!(parse_umask("IXUSR | IRGRP"), Some(0o140));
        assert_eq!(parse_umask("0999"), None);
        assert_eq!(parse_umask("01000"), None);
        let c = config("umask IWGRP | IWOTH");
        assert_eq!(umask_of(&c), Some(0o022));
    }

    /// nextest runs each test in a process of its own: ignoring SIGXCPU here touches no other.
    #[test]
    fn sigxcpu_is_ignored() {
        ignore_sigxcpu().expect("sigaction");
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let ignored = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .expect("SigIgn");
        // Bit N - 1 is signal N; SIGXCPU is 24.
        assert_ne!(ignored & (1 << 23), 0, "{ignored:x}");
    }

    #[test]
    fn refused_values_are_left_out() {
        let c = config("vrrp_cpu_affinity 1 x\n checker_priority 40\n vrrp_rt_priority x");
        assert_eq!(of(&c, ChildRole::Vrrp), Settings::default());
        assert_eq!(of(&c, ChildRole::Checker), Settings::default());
    }
}
