//! Which process logs which of a configuration's problems, as keepalived 2.2.7's processes
//! do: each reads the file with its own keyword table and logs what its reading finds (see
//! [`keepalived_config::Pass`]).

use keepalived_config::{Diagnostic, Loaded, Severity};

use crate::cli::{ChildRole, Cli};
use crate::daemon::children_for;
use crate::logger::Logger;
use crate::start_stop_scripts;

/// Whether the configuration cannot be run at all (keepalived's syntax or fatal errors).
pub fn unusable(loaded: &Loaded) -> bool {
    loaded
        .diagnostics
        .iter()
        .any(|d| matches!(d.severity, Severity::Fatal | Severity::Syntax))
}

/// Which process logs a configuration's diagnostics, and so which of them (2.2.7's processes
/// each read the file with their own keyword table and log what that reading finds; the pass a
/// diagnostic carries is the reading that finds it first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The parent refusing a file no process can use: every problem, once.
    Refusing,
    /// The parent at start or reload: its own reading (global_defs and the top level), and the
    /// BFD reading's (there is no BFD process here).
    Parent,
    /// A child: its own reading. The VRRP child also logs the run-time lines (how its scripts
    /// were found) and, when no checker child runs, the checker reading's lines (2.2.7's VRRP
    /// process reads the track files and the top level too).
    Child {
        /// The child.
        role: ChildRole,
        /// Whether a checker child runs beside it.
        checker_runs: bool,
    },
}

impl Reader {
    /// Whether this process logs `d`.
    fn logs(self, d: &Diagnostic) -> bool {
        use keepalived_config::Pass;
        let pass = d.pass.unwrap_or(Pass::Vrrp);
        match self {
            Reader::Refusing => d.severity != Severity::Log,
            Reader::Parent => {
                d.severity != Severity::Log
                    && matches!(pass, Pass::Parent | Pass::Bfd)
                    // Said by the start/shutdown script plan, where the parent runs them.
                    && d.message != start_stop_scripts::SECURITY_VIOLATION
            }
            Reader::Child {
                role: ChildRole::Vrrp,
                checker_runs,
            } => {
                d.severity == Severity::Log
                    || pass == Pass::Vrrp
                    || (pass == Pass::Checker && !checker_runs)
            }
            Reader::Child {
                role: ChildRole::Checker,
                ..
            } => d.severity != Severity::Log && pass == Pass::Checker,
        }
    }

    /// The reader for child `role` of the daemon run by `cli` on `loaded`.
    pub fn child(cli: &Cli, loaded: &Loaded, role: ChildRole) -> Reader {
        Reader::Child {
            role,
            checker_runs: children_for(cli, loaded).contains(&ChildRole::Checker),
        }
    }

    /// The VRRP child's reader at a reload, `vrrp_only` when `-P` kept the checker from
    /// running.
    pub fn vrrp_child(vrrp_only: bool, loaded: &Loaded) -> Reader {
        Reader::Child {
            role: ChildRole::Vrrp,
            checker_runs: !vrrp_only && !loaded.config.virtual_servers.is_empty(),
        }
    }
}

/// Logs the diagnostics of a configuration load that `reader` logs, in order.
pub fn log_diagnostics(logger: &Logger, loaded: &Loaded, reader: Reader) {
    for diagnostic in loaded.diagnostics.iter().filter(|d| reader.logs(d)) {
        logger.info(&diagnostic.to_string());
    }
}
