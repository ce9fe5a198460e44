//! What one `vrrp_track_process` block asks for, resolved from the configuration as
//! keepalived 2.2.7 resolves it (keepalived.conf(5), "vrrp_track_process"):
//!
//! - `process NAME` alone matches the process name the kernel keeps (`/proc/PID/comm`, at
//!   most 15 bytes); with `full_command` it matches the first word of the command line
//!   (`/proc/PID/cmdline`, argv\[0\]) instead;
//! - `process NAME ARG…` implies `full_command` and, unless `param_match` says otherwise, an
//!   exact match of the arguments;
//! - `param_match` (implies `full_command`): no argument or `exact` — the arguments are
//!   exactly those given; `partial` — the process's arguments start with the given ones, each
//!   whole; `initial` — the process's arguments, joined, start with the given ones joined,
//!   the last one possibly cut short;
//! - `quorum` (1) and `quorum_max` (no upper bound): the process is "up" while the number of
//!   matching processes lies between them; `quorum_max 0` alone means "up while none runs";
//! - `fork_delay` / `terminate_delay` (`delay` sets both): a gain by a fork, a loss by an exit,
//!   counts only once it has lasted that long.

use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{TrackProcessDef, VrrpInstance};

/// How the arguments of a process are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamMatch {
    /// Arguments are not looked at.
    None,
    /// The arguments are exactly the configured ones.
    Exact,
    /// The process's arguments begin with the configured ones (whole words).
    Partial,
    /// The process's argument string begins with the configured one (the last word may be a
    /// prefix).
    Initial,
}

/// One tracked process, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// The block's name (`vrrp_track_process NAME`), as the log names it.
    pub name: String,
    /// The process name or argv\[0\] to match.
    pub path: Vec<u8>,
    /// The configured arguments, each followed by a NUL as in `/proc/PID/cmdline`.
    pub params: Vec<u8>,
    /// How arguments are compared.
    pub param_match: ParamMatch,
    /// Match argv\[0\] of the command line rather than the kernel's process name.
    pub full_command: bool,
    /// The fewest matching processes that count as up.
    pub quorum: u32,
    /// The most matching processes that count as up.
    pub quorum_max: u32,
    /// How long a gain by a fork must last before it counts.
    pub fork_delay: Option<Duration>,
    /// How long a loss by an exit must last before it counts.
    pub terminate_delay: Option<Duration>,
}

impl ProcessSpec {
    /// Resolves `def`; None when it names no process (the configuration check reports it).
    pub fn from_def(def: &TrackProcessDef) -> Option<ProcessSpec> {
        let words = def.process.as_ref()?;
        let (path, args) = words.split_first()?;
        let mut params = Vec::new();
        for arg in args {
            params.extend_from_slice(arg.as_bytes());
            params.push(0);
        }
        let mut param_match = match def.param_match.as_deref() {
            Some("partial") => ParamMatch::Partial,
            Some("initial") => ParamMatch::Initial,
            Some(_) => ParamMatch::Exact,
            None => ParamMatch::None,
        };
        if !args.is_empty() && param_match == ParamMatch::None {
            param_match = ParamMatch::Exact;
        }
        let full_command = def.full_command || param_match != ParamMatch::None;
        let (quorum, quorum_max) = match def.quorum_max {
            Some(0) if def.quorum <= 1 => (0, 0),
            Some(max) if max >= def.quorum => (def.quorum, max),
            _ => (def.quorum, u32::MAX),
        };
        let seconds = |s: Option<f64>| {
            s.filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
        };
        Some(ProcessSpec {
            name: def.name.clone(),
            path: path.as_bytes().to_vec(),
            params,
            param_match,
            full_command,
            quorum,
            quorum_max,
            fork_delay: seconds(def.fork_delay.or(def.delay)),
            terminate_delay: seconds(def.terminate_delay.or(def.delay)),
        })
    }

    /// Whether `count` matching processes make the quorum.
    pub fn has_quorum(&self, count: u32) -> bool {
        count >= self.quorum && count <= self.quorum_max
    }

    /// Whether a process with name `comm` and command line `cmdline` (NUL-separated, as
    /// `/proc/PID/cmdline` holds it) is one of those tracked.
    pub fn matches(&self, comm: &[u8], cmdline: &[u8]) -> bool {
        if !self.full_command {
            return comm == self.path.as_slice();
        }
        let (argv0, rest) = match cmdline.iter().position(|&b| b == 0) {
            Some(end) => (&cmdline[..end], &cmdline[end + 1..]),
            None => (cmdline, &[][..]),
        };
        if argv0 != self.path.as_slice() {
            return false;
        }
        let want = self.params.as_slice();
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => rest == want,
            ParamMatch::Partial => rest.starts_with(want),
            ParamMatch::Initial => {
                let want = want.strip_suffix(&[0]).unwrap_or(want);
                rest.starts_with(want)
            }
        }
    }
}

/// An instance's use of a tracked process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessUse {
    /// Index into the planned processes.
    pub process: usize,
    /// The weight that applies (the track line's, else the block's): 0 means FAULT while
    /// the quorum is not achieved.
    pub weight: i32,
    /// `weight W reverse` (on the line or the block).
    pub reverse: bool,
}

/// The processes `inst` tracks, adding each block to `specs` once. A name that no block
/// defines is left out (the configuration check reports it).
pub fn uses(config: &Config, inst: &VrrpInstance, specs: &mut Vec<ProcessSpec>) -> Vec<ProcessUse> {
    let mut uses = Vec::new();
    for tracked in &inst.track_processes {
        let Some(def) = config
            .track_processes
            .iter()
            .find(|d| d.name == tracked.name)
        else {
            continue;
        };
        let Some(spec) = ProcessSpec::from_def(def) else {
            continue;
        };
        let process = match specs.iter().position(|s| s.name == spec.name) {
            Some(index) => index,
            None => {
                specs.push(spec);
                specs.len() - 1
            }
        };
        uses.push(ProcessUse {
            process,
            weight: tracked.weight.unwrap_or(def.weight),
            reverse: tracked.reverse.unwrap_or(def.reverse),
        });
    }
    uses
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn spec(body: &str) -> ProcessSpec {
        let text = format!("vrrp_track_process tp {{\n{body}\n}}\n");
        let host = FakeHost::lab();
        let loaded = load_str(&text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        ProcessSpec::from_def(&loaded.config.track_processes[0]).expect("spec")
    }

    #[test]
    fn a_bare_name_matches_the_kernel_process_name() {
        let spec = spec("process nginx");
        assert!(spec.matches(b"nginx", b"/usr/sbin/nginx\0-g\0daemon off;\0"));
        assert!(!spec.matches(b"nginx-debug", b"nginx\0"));
    }

    #[test]
    fn full_command_matches_argv0() {
        let spec = spec("process /usr/sbin/nginx\nfull_command");
        assert!(spec.matches(b"nginx", b"/usr/sbin/nginx\0-g\0x\0"));
        assert!(!spec.matches(b"nginx", b"nginx\0"));
    }

    #[test]
    fn arguments_imply_an_exact_match() {
        let spec = spec("process /bin/sleep 100");
        assert_eq!(spec.param_match, ParamMatch::Exact);
        assert!(spec.matches(b"sleep", b"/bin/sleep\x00100\0"));
        assert!(!spec.matches(b"sleep", b"/bin/sleep\x00100\0x\0"));
        assert!(!spec.matches(b"sleep", b"/bin/sleep\x001000\0"));
    }

    #[test]
    fn partial_and_initial() {
        let partial = spec("process /bin/app -c conf\nparam_match partial");
        assert!(partial.matches(b"app", b"/bin/app\0-c\0conf\0-v\0"));
        assert!(!partial.matches(b"app", b"/bin/app\0-c\0config\0"));
        let initial = spec("process /bin/app -c conf\nparam_match initial");
        assert!(initial.matches(b"app", b"/bin/app\0-c\0config\0"));
        assert!(!initial.matches(b"app", b"/bin/app\0-d\0conf\0"));
    }

    #[test]
    fn param_match_without_arguments_wants_none() {
        let spec = spec("process /bin/app\nparam_match");
        assert!(spec.full_command);
        assert!(spec.matches(b"app", b"/bin/app\0"));
        assert!(!spec.matches(b"app", b"/bin/app\0-v\0"));
    }

    #[test]
    fn quorum_bounds_and_delays() {
        let spec = spec("process x\nquorum 2\nquorum_max 3\ndelay 0.5\nterminate_delay 2");
        assert!(!spec.has_quorum(1) && spec.has_quorum(2) && spec.has_quorum(3));
        assert!(!spec.has_quorum(4));
        assert_eq!(spec.fork_delay, Some(Duration::from_millis(500)));
        assert_eq!(spec.terminate_delay, Some(Duration::from_secs(2)));
        let none = spec_none();
        assert!(none.has_quorum(0) && !none.has_quorum(1));
    }

    fn spec_none() -> ProcessSpec {
        spec("process x\nquorum_max 0")
    }
}
