//! How a script's program is found and checked before it may run, as keepalived 2.2.7 does it
//! for `vrrp_script`, every `notify*` script and `MISC_CHECK` alike. One implementation, used by
//! `keepalived -t`, by the daemon when it loads its configuration, and by the script runner.
//!
//! Behaviour found by running keepalived 2.2.7 (see docs/compat.md, "How scripts are found"):
//! - A program without a slash is searched in the daemon's `PATH`, or in `/bin:/usr/bin` when
//!   the daemon has no `PATH`; the first entry that exists and is not a directory wins, and a
//!   warning names the file found (`WARNING - script `killall` resolved by path search to
//!   `/usr/bin/killall`. Please specify full path.`). A relative path with a slash is used as
//!   written, against the daemon's working directory.
//! - When the script runs as a user other than root, 2.2.7 cannot search the `PATH` at all (it
//!   drops its effective uid before `setgroups`, which then fails): it logs `Unable to set
//!   supplementary gids (Operation not permitted)` and `Permissions failure for script NAME in
//!   path - disabling`. We do the same, so a mixed cluster behaves alike; the fix for the user is
//!   a full path, which both accept.
//! - Then every symlink is resolved; a directory is refused (`Wrong file type found in script
//!   path 'PATH'.`), as is a file the user cannot execute.
//! - A script that runs as root is unsafe if the file, or any directory from `/` down to it, is
//!   owned by a non-root user, or is writable by others, or by its group when that group is not
//!   gid 0. A directory with the sticky bit is exempt from the writable tests (not from the
//!   owner test); the sticky bit on the file itself is not. Scripts run by another user are not
//!   checked for safety.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::host::{FileStatus, Host};

/// The directories searched for a bare script name when the daemon has no `PATH`: what
/// keepalived 2.2.7 searches then (glibc's `confstr(_CS_PATH)`).
pub const DEFAULT_SEARCH_PATH: &str = "/bin:/usr/bin";

/// keepalived's log line when a script that would run as root is unsafe, or any script runs,
/// and `enable_script_security` is off.
pub const SECURITY_VIOLATION: &str =
    "SECURITY VIOLATION - scripts are being executed but script_security not enabled.";

/// What [`SECURITY_VIOLATION`] gains when at least one root script is unsafe.
pub const INSECURE_SCRIPTS_SUFFIX: &str = " There are insecure scripts.";

/// A script that was found and can be executed by the user it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    /// The program as configured.
    pub program: PathBuf,
    /// The path found: the program itself when it has a slash, else the `PATH` entry joined
    /// with it. This is what runs.
    pub found: PathBuf,
    /// Its real path (symlinks resolved); what the safety rules look at.
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
                self.found.display()
            )
        })
    }
}

/// Why a script cannot be run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptProblem {
    /// A bare name that is in no directory of the search path.
    NotInPath {
        /// The program as configured.
        program: PathBuf,
        /// The directories searched, `:`-separated.
        search_path: String,
    },
    /// A bare name for a script that runs as another user: keepalived 2.2.7 cannot search
    /// the `PATH` then.
    PathPermission {
        /// The program as configured.
        program: PathBuf,
    },
    /// The program does not exist or cannot be reached.
    NotFound {
        /// The program as configured.
        program: PathBuf,
        /// Why, e.g. `No such file or directory`.
        reason: String,
    },
    /// The program is a directory or another file that is not a regular file.
    WrongType {
        /// Its real path.
        path: PathBuf,
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
            ScriptProblem::NotInPath {
                program,
                search_path,
            } => write!(
                f,
                "cannot run '{}': not found in {search_path}",
                program.display()
            ),
            ScriptProblem::PathPermission { program } => write!(
                f,
                "cannot run '{}': a script run by another user must be named by its full path",
                program.display()
            ),
            ScriptProblem::NotFound { program, reason } => {
                write!(f, "cannot run '{}': {reason}", program.display())
            }
            ScriptProblem::WrongType { path } => {
                write!(f, "cannot run '{}': not a regular file", path.display())
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
    /// keepalived's log lines for this problem, in order (the script is then disabled).
    pub fn log_lines(&self) -> Vec<String> {
        match self {
            ScriptProblem::NotInPath { program, .. } => vec![format!(
                "Cannot find script {} in path - disabling",
                program.display()
            )],
            ScriptProblem::PathPermission { program } => vec![
                "Unable to set supplementary gids (Operation not permitted)".to_string(),
                format!(
                    "Permissions failure for script {} in path - disabling",
                    program.display()
                ),
            ],
            ScriptProblem::NotFound { program, reason } => vec![format!(
                "Script {} cannot be accessed - {reason}",
                program.display()
            )],
            ScriptProblem::WrongType { path } => vec![format!(
                "Wrong file type found in script path '{}'.",
                path.display()
            )],
            ScriptProblem::NotExecutable { path, uid, gid } => vec![format!(
                "WARNING - script '{}' is not executable for uid:gid {uid}:{gid} - disabling.",
                path.display()
            )],
        }
    }

    /// The last of [`ScriptProblem::log_lines`]: the one that says the script is disabled.
    pub fn log_line(&self) -> String {
        self.log_lines().pop().unwrap_or_default()
    }

    /// Whether the program was never found: keepalived then says a `vrrp_script` is disabled
    /// "since not found/accessible" and does not count it as a script being executed.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            ScriptProblem::NotInPath { .. }
                | ScriptProblem::PathPermission { .. }
                | ScriptProblem::NotFound { .. }
        )
    }

    /// keepalived's `-t` line for a `vrrp_script` named `name` that this problem disables, if
    /// it gives one (a script that is not executable is disabled without one).
    pub fn track_script_line(&self, name: &str) -> Option<String> {
        match self {
            _ if self.is_missing() => Some(format!(
                "Disabling track script {name} since not found/accessible"
            )),
            ScriptProblem::WrongType { .. } => {
                Some(format!("Disabling track script {name} due to insecure"))
            }
            _ => None,
        }
    }
}

/// Finds `program` as it will be run by `run_as` (`(uid, gid)`), checks that this user can
/// execute it and, when that is root, whether it is safe. An unsafe script is reported in
/// [`ScriptCheck::insecure`], not as an error: it only stops the script when script security
/// is on.
pub fn inspect(
    program: &Path,
    run_as: (u32, u32),
    host: &dyn Host,
) -> Result<ScriptCheck, ScriptProblem> {
    let (uid, gid) = run_as;
    let (found, searched) = find_program(program, uid, host)?;
    let path = host
        .real_path(&found)
        .map_err(|reason| ScriptProblem::NotFound {
            program: program.to_path_buf(),
            reason,
        })?;
    let status = host
        .file_status(&path)
        .ok_or_else(|| ScriptProblem::NotFound {
            program: program.to_path_buf(),
            reason: "No such file or directory".into(),
        })?;
    if !status.is_file {
        return Err(ScriptProblem::WrongType { path });
    }
    if !may_execute(&path, status, uid, gid, host) {
        return Err(ScriptProblem::NotExecutable { path, uid, gid });
    }
    let insecure = if uid == 0 {
        insecurity(&path, host)
    } else {
        None
    };
    Ok(ScriptCheck {
        program: program.to_path_buf(),
        found,
        path,
        searched,
        run_as,
        insecure,
    })
}

/// The program's path: as given if it contains a slash, else the first match in the host's
/// script search path. The flag tells whether a search was done.
fn find_program(
    program: &Path,
    uid: u32,
    host: &dyn Host,
) -> Result<(PathBuf, bool), ScriptProblem> {
    if program.as_os_str().is_empty() {
        return Err(ScriptProblem::NotFound {
            program: program.to_path_buf(),
            reason: "empty program name".into(),
        });
    }
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return Ok((program.to_path_buf(), false));
    }
    if uid != 0 {
        return Err(ScriptProblem::PathPermission {
            program: program.to_path_buf(),
        });
    }
    let search_path = host.script_search_path();
    search_path
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| host.file_status(candidate).is_some_and(|s| !s.is_dir))
        .map(|found| (found, true))
        .ok_or_else(|| ScriptProblem::NotInPath {
            program: program.to_path_buf(),
            search_path: search_path.clone(),
        })
}

/// Whether `uid:gid` may execute the file at `path` (real path) with `status`: root needs any
/// execute bit; another user needs the execute bit of its class on the file and search
/// permission on every directory above it. Supplementary groups are not considered: the
/// runner drops them when it changes user.
fn may_execute(path: &Path, status: FileStatus, uid: u32, gid: u32, host: &dyn Host) -> bool {
    if uid == 0 {
        return status.mode & 0o111 != 0;
    }
    if !class_bit(status, uid, gid, 0o1) {
        return false;
    }
    path.ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
        .all(|dir| {
            host.file_status(dir)
                .is_some_and(|s| class_bit(s, uid, gid, 0o1))
        })
}

/// Whether `bit` (1 = x, 2 = w, 4 = r) is set in the permission class that applies to
/// `uid:gid`.
fn class_bit(status: FileStatus, uid: u32, gid: u32, bit: u32) -> bool {
    let shift = if status.uid == uid {
        6
    } else if status.gid == gid {
        3
    } else {
        0
    };
    (status.mode >> shift) & bit != 0
}

/// The first reason, from `/` down to the file, why running `path` (a real path) as root is
/// unsafe.
fn insecurity(path: &Path, host: &dyn Host) -> Option<String> {
    let mut components: Vec<&Path> = path
        .ancestors()
        .filter(|c| !c.as_os_str().is_empty())
        .collect();
    components.reverse();
    components.into_iter().find_map(|component| {
        let status = host.file_status(component)?;
        let problem = component_problem(status.mode, status.uid, status.gid, status.is_dir)?;
        Some(if component == path {
            format!("it {problem}")
        } else {
            format!("directory '{}' {problem}", component.display())
        })
    })
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
        assert_eq!(
            component_problem(0o100775, 0, 65534, false).as_deref(),
            Some("is writable by group 65534 (mode 0775)")
        );
    }

    #[test]
    fn sticky_directories_are_exempt_but_not_files() {
        assert_eq!(component_problem(0o041777, 0, 0, true), None);
        assert_eq!(
            component_problem(0o101777, 0, 0, false).as_deref(),
            Some("is writable by other users (mode 1777)")
        );
        assert_eq!(
            component_problem(0o041777, 65534, 0, true).as_deref(),
            Some("is owned by uid 65534")
        );
    }

    #[test]
    fn problem_lines_are_keepalived_s() {
        let not_in_path = ScriptProblem::NotInPath {
            program: "killall".into(),
            search_path: "/bin:/usr/bin".into(),
        };
        assert_eq!(
            not_in_path.log_lines(),
            ["Cannot find script killall in path - disabling"]
        );
        assert_eq!(
            not_in_path.track_script_line("chk").as_deref(),
            Some("Disabling track script chk since not found/accessible")
        );
        let permission = ScriptProblem::PathPermission {
            program: "killall".into(),
        };
        assert_eq!(
            permission.log_lines(),
            [
                "Unable to set supplementary gids (Operation not permitted)",
                "Permissions failure for script killall in path - disabling"
            ]
        );
        let dir = ScriptProblem::WrongType {
            path: "/etc/keepalived".into(),
        };
        assert_eq!(
            dir.log_lines(),
            ["Wrong file type found in script path '/etc/keepalived'."]
        );
        assert_eq!(
            dir.track_script_line("chk").as_deref(),
            Some("Disabling track script chk due to insecure")
        );
        let noexec = ScriptProblem::NotExecutable {
            path: "/x/s.sh".into(),
            uid: 0,
            gid: 0,
        };
        assert_eq!(noexec.track_script_line("chk"), None);
        assert!(!noexec.is_missing());
    }
}
