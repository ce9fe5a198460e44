//! Script security (`enable_script_security`) for the script runner: the rules themselves,
//! and how a script is found, live in [`keepalived_config::script_lookup`] so that
//! `keepalived -t`, the daemon's load and every run apply one implementation. This module
//! applies them to the real machine.

use std::path::Path;

use keepalived_config::RealHost;
use keepalived_config::script_lookup::inspect;
pub use keepalived_config::script_lookup::{ScriptCheck, ScriptProblem, component_problem};
use nix::unistd::{getegid, geteuid};

use crate::runner::{Outcome, ScriptSpec, run_once};

/// Checks that `program` may run as `run_as` (`None`: the daemon's own ids) under
/// `enable_script_security`. `Err` is one line naming the file and the reason, e.g.
/// `refusing to run '/tmp/x/check.sh' as root: it is writable by other users (mode 0777)`.
pub fn check_script(program: &Path, run_as: Option<(u32, u32)>) -> Result<(), String> {
    let check = inspect_script(program, run_as).map_err(|p| p.to_string())?;
    match check.refusal() {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

/// Finds `program` on this machine as it would run as `run_as` (`None`: the daemon's own
/// ids), checks that this user can execute it and, when that is root, whether it is safe
/// (see [`keepalived_config::script_lookup::inspect`]).
pub fn inspect_script(
    program: &Path,
    run_as: Option<(u32, u32)>,
) -> Result<ScriptCheck, ScriptProblem> {
    let run_as = run_as.unwrap_or_else(|| (geteuid().as_raw(), getegid().as_raw()));
    inspect(program, run_as, &RealHost::default())
}

/// Runs `spec` once like [`run_once`], but with `script_security` on only after
/// [`check_script`] accepted it: a refused script is never started and gives
/// [`Outcome::CannotRun`] with the refusal.
pub async fn run_secured(spec: &ScriptSpec, script_security: bool) -> Outcome {
    if script_security {
        let Some(program) = spec.argv.first() else {
            return Outcome::CannotRun(format!("script '{}' has no command", spec.name));
        };
        if let Err(reason) = check_script(Path::new(program), spec.uid_gid) {
            return Outcome::CannotRun(reason);
        }
    }
    run_once(spec).await
}
