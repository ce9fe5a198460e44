//! Script security (`enable_script_security`), as keepalived 2.2.7 applies it.
//!
//! Behaviour found by running keepalived 2.2.7 (its man page only says "don't run scripts
//! configured to be run as root if any part of the path is writable by a non-root user"):
//! - The program is resolved first: a name without a slash is looked up in the script `PATH`,
//!   then every symlink is resolved (realpath). Only the real path is checked, so a symlink in
//!   an unsafe directory pointing at a safe file is accepted, and a safe symlink pointing at an
//!   unsafe file is refused (the log names the real file).
//! - A script that runs as root is unsafe if the file, or any directory from `/` down to it,
//!   is owned by a non-root user, or is writable by others, or is writable by its group when
//!   that group is not root's (gid 0). A directory with the sticky bit set is exempt from the
//!   writable tests (not from the owner test); the sticky bit on the file itself is not.
//! - A script that runs as another user is not checked for safety at all.
//! - Whether or not script security is on, a script that does not exist or that the user it
//!   runs as cannot execute is disabled. With script security off an unsafe script still runs;
//!   keepalived only logs a warning and a `SECURITY VIOLATION` line.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{getegid, geteuid};

use crate::runner::{Outcome, SCRIPT_PATH, ScriptSpec, run_once};

/// What keepalived logs once at start-up when scripts would run as root with unsafe
/// permissions but `enable_script_security` is off.
pub const SECURITY_VIOLATION_LOG: &str = "SECURITY VIOLATION - scripts are being executed but script_security not enabled. There are insecure scripts.";

/// A script that was found and can be executed by the user it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    /// The program as configured.
    pub program: PathBuf,
    /// Its real path (found in the script `PATH` if needed, symlinks resolved).
    pub path: PathBuf,
    /// Whether the program had no slash and was found by a `PATH` search.
    pub searched: bool,
    /// The `(uid, gid)` it runs as.
    pub run_as: (u32, u32),
    /// Why it is unsafe to run as root, if it runs as root and is unsafe, e.g.
    /// `it is writable by other users (mode 0777)`.
    pub insecure: Option<String>,
}

impl ScriptCheck {
    /// The one-line refusal for an unsafe script, naming the file and the reason.
    pub fn refusal(&self) -> Option<String> {
        let reason = self.insecure.as_ref()?;
        Some(format!(
            "refusing to run {} as root: {reason}",
            self.named()
        ))
    }

    fn named(&self) -> String {
        if self.program == self.path {
            format!("'{}'", self.path.display())
        } else {
            format!(
                "'{}' (resolved to '{}')",
                self.program.display(),
                self.path.display()
            )
        }
    }

    /// keepalived's log line for an unsafe script: with `enforcing` (script security on) the
    /// script is disabled, otherwise only warned about.
    pub fn unsafe_log_line(&self, enforcing: bool) -> Option<String> {
        self.insecure.as_ref()?;
        let tail = if enforcing { " - disabling." } else { "." };
        Some(format!(
            "Unsafe permissions found for script '{}'{tail}",
            self.path.display()
        ))
    }

    /// keepalived's warning for a program found by a `PATH` search.
    pub fn path_search_log_line(&self) -> Option<String> {
        self.searched.then(|| {
            format!(
                "WARNING - script `{}` resolved by path search to `{}`. Please specify full path.",
                self.program.display(),
                self.path.display()
            )
        })
    }
}

/// Why a script cannot be run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptProblem {
    /// The program does not exist or cannot be reached.
    NotFound {
        /// The program as configured.
        program: PathBuf,
        /// Why, e.g. `No such file or directory`.
        reason: String,
    },
    /// The user it runs as cannot execute it.
    NotExecutable {
        /// The program's real path.
        path: PathBuf,
        /// The user it runs as.
        uid: u32,
        /// The group it runs as.
        gid: u32,
    },
}

impl fmt::Display for ScriptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptProblem::NotFound { program, reason } => {
                write!(f, "cannot run '{}': {reason}", program.display())
            }
            ScriptProblem::NotExecutable { path, uid, gid } => write!(
                f,
                "cannot run '{}': not executable for uid:gid {uid}:{gid}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ScriptProblem {}

impl ScriptProblem {
    /// keepalived's log line for this problem (the script is then disabled).
    pub fn log_line(&self) -> String {
        match self {
            ScriptProblem::NotFound { program, reason } => {
                format!("Script {} cannot be accessed - {reason}", program.display())
            }
            ScriptProblem::NotExecutable { path, uid, gid } => format!(
                "WARNING - script '{}' is not executable for uid:gid {uid}:{gid} - disabling.",
                path.display()
            ),
        }
    }
}

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

/// Finds `program` (a `PATH` search if it has no slash, then symlinks resolved), checks that
/// `run_as` (`None`: the daemon's own ids) can execute it, and, when that is root, whether it
/// is safe. An unsafe script is reported in [`ScriptCheck::insecure`], not as an error: it
/// only stops the script when script security is on.
pub fn inspect_script(
    program: &Path,
    run_as: Option<(u32, u32)>,
) -> Result<ScriptCheck, ScriptProblem> {
    let (uid, gid) = run_as.unwrap_or_else(|| (geteuid().as_raw(), getegid().as_raw()));
    let (found, searched) = find_program(program)?;
    let path = fs::canonicalize(&found).map_err(|err| not_found(program, &err))?;
    let meta = fs::metadata(&path).map_err(|err| not_found(program, &err))?;
    if !meta.is_file() || !may_execute(&path, &meta, uid, gid) {
        return Err(ScriptProblem::NotExecutable { path, uid, gid });
    }
    let insecure = if uid == 0 {
        insecurity(&path).map_err(|err| not_found(program, &err))?
    } else {
        None
    };
    Ok(ScriptCheck {
        program: program.to_path_buf(),
        path,
        searched,
        run_as: (uid, gid),
        insecure,
    })
}

fn not_found(program: &Path, err: &io::Error) -> ScriptProblem {
    let reason = match err.raw_os_error() {
        Some(raw) => nix::errno::Errno::from_raw(raw).desc().to_string(),
        None => err.to_string(),
    };
    ScriptProblem::NotFound {
        program: program.to_path_buf(),
        reason,
    }
}

/// The program's path: as given if it contains a slash, else the first match in the script
/// `PATH` (as the runner's exec would find it). The flag tells whether a search was done.
fn find_program(program: &Path) -> Result<(PathBuf, bool), ScriptProblem> {
    if program.as_os_str().is_empty() {
        return Err(ScriptProblem::NotFound {
            program: program.to_path_buf(),
            reason: "empty program name".into(),
        });
    }
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return Ok((program.to_path_buf(), false));
    }
    SCRIPT_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| !m.is_dir()))
        .map(|found| (found, true))
        .ok_or_else(|| ScriptProblem::NotFound {
            program: program.to_path_buf(),
            reason: format!("not found in {SCRIPT_PATH}"),
        })
}

/// Whether `uid:gid` may execute the file at `path` (real path) with metadata `meta`: root
/// needs any execute bit; another user needs the execute bit of its class on the file and
/// search permission on every directory above it. Supplementary groups are not considered:
/// the runner drops them when it changes user.
fn may_execute(path: &Path, meta: &fs::Metadata, uid: u32, gid: u32) -> bool {
    if uid == 0 {
        return meta.permissions().mode() & 0o111 != 0;
    }
    if !class_bit(meta, uid, gid, 0o1) {
        return false;
    }
    path.ancestors()
        .skip(1)
        .all(|dir| fs::metadata(dir).is_ok_and(|m| class_bit(&m, uid, gid, 0o1)))
}

/// Whether `bit` (1 = x, 2 = w, 4 = r) is set in the permission class that applies to
/// `uid:gid`.
fn class_bit(meta: &fs::Metadata, uid: u32, gid: u32, bit: u32) -> bool {
    let mode = meta.permissions().mode();
    let shift = if meta.uid() == uid {
        6
    } else if meta.gid() == gid {
        3
    } else {
        0
    };
    (mode >> shift) & bit != 0
}

/// The first reason, from `/` down to the file, why running `path` (a real path) as root is
/// unsafe.
fn insecurity(path: &Path) -> io::Result<Option<String>> {
    let mut components: Vec<&Path> = path.ancestors().collect();
    components.reverse();
    for component in components {
        let meta = fs::metadata(component)?;
        let problem = component_problem(
            meta.permissions().mode(),
            meta.uid(),
            meta.gid(),
            meta.is_dir(),
        );
        if let Some(problem) = problem {
            return Ok(Some(if component == path {
                format!("it {problem}")
            } else {
                format!("directory '{}' {problem}", component.display())
            }));
        }
    }
    Ok(None)
}

/// keepalived's rule for one component of a root script's path: why a file or directory with
/// this `mode`, owner and group is unsafe, e.g. `is writable by other users (mode 0777)`.
pub fn component_problem(mode: u32, uid: u32, gid: u32, is_dir: bool) -> Option<String> {
    let perms = mode & 0o7777;
    if uid != 0 {
        return Some(format!("is owned by uid {uid}"));
    }
    if is_dir && perms & 0o1000 != 0 {
        return None;
    }
    if perms & 0o002 != 0 {
        return Some(format!("is writable by other users (mode {perms:04o})"));
    }
    if perms & 0o020 != 0 && gid != 0 {
        return Some(format!("is writable by group {gid} (mode {perms:04o})"));
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_owned_and_not_writable_is_safe() {
        assert_eq!(component_problem(0o100755, 0, 0, false), None);
        assert_eq!(component_problem(0o040755, 0, 0, true), None);
        assert_eq!(component_problem(0o104755, 0, 0, false), None);
    }

    #[test]
    fn group_write_is_safe_only_for_root_group() {
        assert_eq!(component_problem(0o100775, 0, 0, false), None);
        assert_eq!(component_problem(0o040775, 0, 0, true), None);
        assert_eq!(
            component_problem(0o100775, 0, 65534, false).as_deref(),
            Some("is writable by group 65534 (mode 0775)")
        );
    }

    #[test]
    fn world_writable_is_unsafe() {
        assert_eq!(
            component_problem(0o100777, 0, 0, false).as_deref(),
            Some("is writable by other users (mode 0777)")
        );
        assert_eq!(
            component_problem(0o100757, 0, 0, false).as_deref(),
            Some("is writable by other users (mode 0757)")
        );
        assert_eq!(
            component_problem(0o040777, 0, 0, true).as_deref(),
            Some("is writable by other users (mode 0777)")
        );
    }

    #[test]
    fn sticky_directories_are_exempt_but_not_files() {
        assert_eq!(component_problem(0o041777, 0, 0, true), None);
        assert_eq!(component_problem(0o041775, 0, 65534, true), None);
        assert_eq!(
            component_problem(0o101777, 0, 0, false).as_deref(),
            Some("is writable by other users (mode 1777)")
        );
    }

    #[test]
    fn non_root_owner_is_unsafe_even_when_sticky() {
        assert_eq!(
            component_problem(0o100755, 65534, 0, false).as_deref(),
            Some("is owned by uid 65534")
        );
        assert_eq!(
            component_problem(0o041777, 65534, 0, true).as_deref(),
            Some("is owned by uid 65534")
        );
    }

    #[test]
    fn log_lines() {
        let check = ScriptCheck {
            program: "true".into(),
            path: "/usr/bin/true".into(),
            searched: true,
            run_as: (0, 0),
            insecure: Some("it is owned by uid 1".into()),
        };
        assert_eq!(
            check.unsafe_log_line(true).as_deref(),
            Some("Unsafe permissions found for script '/usr/bin/true' - disabling.")
        );
        assert_eq!(
            check.unsafe_log_line(false).as_deref(),
            Some("Unsafe permissions found for script '/usr/bin/true'.")
        );
        assert_eq!(
            check.path_search_log_line().as_deref(),
            Some(
                "WARNING - script `true` resolved by path search to `/usr/bin/true`. Please specify full path."
            )
        );
        assert_eq!(
            check.refusal().as_deref(),
            Some(
                "refusing to run 'true' (resolved to '/usr/bin/true') as root: it is owned by uid 1"
            )
        );
        let missing = ScriptProblem::NotFound {
            program: "/x/missing.sh".into(),
            reason: "No such file or directory".into(),
        };
        assert_eq!(
            missing.log_line(),
            "Script /x/missing.sh cannot be accessed - No such file or directory"
        );
        assert_eq!(
            missing.to_string(),
            "cannot run '/x/missing.sh': No such file or directory"
        );
        let noexec = ScriptProblem::NotExecutable {
            path: "/x/s.sh".into(),
            uid: 0,
            gid: 0,
        };
        assert_eq!(
            noexec.log_line(),
            "WARNING - script '/x/s.sh' is not executable for uid:gid 0:0 - disabling."
        );
    }
}
