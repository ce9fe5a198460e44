//! Pid files (`-p`, `-r`, `-c`; defaults /var/run/keepalived.pid, vrrp.pid, checkers.pid) and
//! the "already running" check.
//!
//! What keepalived 2.2.7 does, observed by starting it twice with `-n -p … -r …` in a network
//! namespace:
//! - the pid file holds the pid and a newline (`"15254\n"`), mode 0644; the child pid files
//!   likewise; they are removed at a clean stop;
//! - the second start reads the configuration (it logs `Opening file '…'.` and
//!   `Configuration file …`), then logs `daemon is already running` and exits with status **0**
//!   (not non-zero, although compat.md section 1 says so; keepalived wins);
//! - a pid file of the parent or of a child that holds a live pid counts;
//! - 2.2.7 counts *any* live process, even one that is not keepalived (a pid reused after a
//!   crash then blocks the start), and an empty or garbage pid file reads as pid 0, which is
//!   "alive" too: it logs `daemon is already running` and removes the file. keepalived-rs only
//!   counts a live, non-zombie process that is a keepalived (by its executable or its command
//!   name), and replaces any other pid file;
//! - when the pid file's directory does not exist 2.2.7 logs
//!   `pidfile_write : Cannot open /path/keepalived.pid pidfile` and exits 0; keepalived-rs
//!   creates the directory.
//!
//! The files are written with `safe_file` (never through a symlink, never into a file of another
//! user, atomically) and removed only while they still hold the pid that was written.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::safe_file::{self, SafeFileError, WriteOptions};

/// The exit status of a start that finds the daemon already running: keepalived 2.2.7 logs
/// `daemon is already running` and exits 0.
pub const ALREADY_RUNNING_EXIT: i32 = 0;

/// The most a pid file is read: a pid, a newline and some slack.
const READ_LIMIT: usize = 64;

/// Why a pid file could not be created.
#[derive(Debug)]
pub enum PidFileError {
    /// The pid file names a live keepalived: the daemon is already running (with this pid).
    AlreadyRunning(i32),
    /// The pid file could not be written safely.
    Write(SafeFileError),
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::AlreadyRunning(pid) => {
                write!(f, "daemon is already running (pid {pid})")
            }
            PidFileError::Write(err) => write!(f, "cannot write the pid file: {err}"),
        }
    }
}

impl std::error::Error for PidFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PidFileError::AlreadyRunning(_) => None,
            PidFileError::Write(err) => Some(err),
        }
    }
}

impl From<SafeFileError> for PidFileError {
    fn from(err: SafeFileError) -> Self {
        PidFileError::Write(err)
    }
}

/// A pid file this process wrote. It is removed by `remove` or when dropped, but only while it
/// still holds the pid that was written (a newer daemon's file is left alone).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: i32,
    removed: bool,
}

impl PidFile {
    /// Writes this process's pid to `path`, unless the file names another live keepalived
    /// (`PidFileError::AlreadyRunning`). A stale file (dead pid, not a keepalived, garbage,
    /// empty, a symlink) is replaced; a missing directory is created.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        let own = std::process::id();
        if let Some(pid) = running_pid(path)
            && u32::try_from(pid).ok() != Some(own)
        {
            return Err(PidFileError::AlreadyRunning(pid));
        }
        Self::write_for(path, own)
    }

    /// Writes `pid` (another process, e.g. a child this process started) to `path`, replacing
    /// whatever the file held.
    pub fn write_for(path: &Path, pid: u32) -> Result<PidFile, PidFileError> {
        let pid = i32::try_from(pid).map_err(|_| {
            PidFileError::Write(SafeFileError {
                path: path.to_path_buf(),
                reason: safe_file::SafeFileReason::Io {
                    action: "cannot record the pid",
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                },
            })
        })?;
        let options = WriteOptions {
            mode: safe_file::PUBLIC_MODE,
            create_parent: true,
        };
        safe_file::write_file(path, contents(pid).as_bytes(), options)?;
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
            removed: false,
        })
    }

    /// The path of the file.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid written into it.
    #[cfg(test)]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Removes the file if it still holds our pid.
    pub fn remove(mut self) {
        self.remove_now();
    }

    fn remove_now(&mut self) {
        if !self.removed {
            self.removed = true;
            // Nothing useful can be done about a failure at this point (the file is left
            // behind, and the next start replaces it as stale).
            let _ = safe_file::remove_if_contents(&self.path, contents(self.pid).as_bytes());
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        self.remove_now();
    }
}

/// What a pid file holds: the pid and a newline, as keepalived writes it.
fn contents(pid: i32) -> String {
    format!("{pid}\n")
}

/// The pid in the pid file at `path`: `None` when there is no file, it is not a regular file
/// (a symlink is not followed), or it does not hold a positive number.
pub fn read_pid(path: &Path) -> Option<i32> {
    let bytes = safe_file::read_small(path, READ_LIMIT).ok()??;
    parse_pid(&bytes)
}

/// The pid in `bytes`: decimal digits with optional surrounding white space, above 0.
fn parse_pid(bytes: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>().ok().filter(|pid| *pid > 0)
}

/// The pid in the pid file at `path` if it is a live keepalived (this program or keepalived
/// itself): the daemon that file belongs to is running.
pub fn running_pid(path: &Path) -> Option<i32> {
    read_pid(path).filter(|pid| is_running_keepalived(*pid))
}

/// Whether `pid` is a live (not zombie) process that is a keepalived.
pub fn is_running_keepalived(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may itself contain
    // parentheses: take the last one.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if !matches!(state, Some(s) if !matches!(s, 'Z' | 'X' | 'x')) {
        return false;
    }
    // The executable may be unreadable (another user's process when we are not root): then the
    // command name decides.
    let exe = std::fs::read_link(dir.join("exe")).ok();
    let comm = std::fs::read_to_string(dir.join("comm")).ok();
    looks_like_keepalived(exe.as_deref(), comm.as_deref())
}

/// Whether a process with executable `exe` and command name `comm` is a keepalived: the
/// executable's name starts with `keepalived` (an upgraded binary shows as
/// `keepalived (deleted)`), or the command name is `keepalived` (the name it was started by,
/// e.g. through a symlink /usr/sbin/keepalived).
fn looks_like_keepalived(exe: Option<&Path>, comm: Option<&str>) -> bool {
    let by_exe = exe
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("keepalived"));
    let by_comm = comm.is_some_and(|c| c.trim_end_matches('\n') == "keepalived");
    by_exe || by_comm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safe_file::tests::{TempDir, TestResult, entries, failure, mode_of};
    use std::os::unix::fs::symlink;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A child process killed and reaped on drop.
    struct Reaped(Child);

    impl Reaped {
        fn pid(&self) -> i32 {
            i32::try_from(self.0.id()).unwrap_or(i32::MAX)
        }
    }

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts `program` under the name `keepalived` (a symlink in `dir`), so its command name
    /// is `keepalived`.
    fn spawn_as_keepalived(dir: &Path, program: &str, args: &[&str]) -> TestResult<Reaped> {
        let link = dir.join("keepalived");
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(program, &link)?;
        }
        let child = Command::new(&link)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Reaped(child))
    }

    /// Waits (bounded) until `/proc/PID/comm` reads `name` (the exec has happened).
    fn wait_for_comm(pid: i32, name: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim_end() == name {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn already_running_exits_like_keepalived() {
        // keepalived 2.2.7 started twice: `daemon is already running`, exit status 0.
        assert_eq!(ALREADY_RUNNING_EXIT, 0);
        let text = PidFileError::AlreadyRunning(1234).to_string();
        assert!(text.contains("daemon is already running"), "{text}");
    }

    #[test]
    fn parses_pids_like_keepalived_writes_them() {
        assert_eq!(parse_pid(b"15254\n"), Some(15254));
        assert_eq!(parse_pid(b"  42  \n"), Some(42));
        assert_eq!(parse_pid(b"1"), Some(1));
        for bad in [
            &b""[..],
            b"\n",
            b"garbage\n",
            b"0\n",
            b"-5\n",
            b"+5\n",
            b"12 34\n",
            b"99999999999\n",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn create_writes_our_pid_and_remove_deletes_it() -> TestResult {
        let dir = TempDir::new("pid-create")?;
        let path = dir.path().join("run/keepalived.pid");
        let file = PidFile::create(&path)?;
        let own = i32::try_from(std::process::id())?;
        assert_eq!(file.pid(), own);
        assert_eq!(file.path(), path);
        assert_eq!(std::fs::read_to_string(&path)?, format!("{own}\n"));
        assert_eq!(mode_of(&path)?, 0o644);
        assert_eq!(read_pid(&path), Some(own));
        file.remove();
        assert!(!path.exists());
        assert!(entries(&dir.path().join("run")).is_empty());
        Ok(())
    }

    #[test]
    fn drop_removes_only_a_file_that_still_holds_our_pid() -> TestResult {
        let dir = TempDir::new("pid-drop")?;
        let path = dir.path().join("vrrp.pid");
        drop(PidFile::write_for(&path, 4_000_001)?);
        assert!(!path.exists());

        let file = PidFile::write_for(&path, 4_000_002)?;
        std::fs::write(&path, b"4000003\n")?;
        drop(file);
        assert_eq!(std::fs::read_to_string(&path)?, "4000003\n");

        let file = PidFile::write_for(&path, 4_000_004)?;
        std::fs::remove_file(&path)?;
        file.remove();
        assert!(!path.exists());
        Ok(())
    }

    #[test]
    fn stale_pid_files_are_replaced() -> TestResult {
        let dir = TempDir::new("pid-stale")?;
        let path = dir.path().join("keepalived.pid");
        let own = i32::try_from(std::process::id())?;

        // A pid that has exited and been reaped.
        let mut gone = Command::new("true").spawn()?;
        let dead = i32::try_from(gone.id())?;
        gone.wait()?;

        for stale in [
            String::new(),
            "garbage\n".to_string(),
            "0\n".to_string(),
            format!("{dead}\n"),
        ] {
            std::fs::write(&path, &stale)?;
            assert_eq!(running_pid(&path), None, "{stale:?}");
            let file = PidFile::create(&path)?;
            assert_eq!(
                std::fs::read_to_string(&path)?,
                format!("{own}\n"),
                "{stale:?}"
            );
            file.remove();
        }
        Ok(())
    }

    #[test]
    fn a_live_process_that_is_not_keepalived_does_not_count() -> TestResult {
        let dir = TempDir::new("pid-other")?;
        let path = dir.path().join("keepalived.pid");
        let other = Reaped(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .spawn()?,
        );
        assert!(wait_for_comm(other.pid(), "sleep"));
        std::fs::write(&path, format!("{}\n", other.pid()))?;
        assert_eq!(read_pid(&path), Some(other.pid()));
        assert_eq!(running_pid(&path), None);
        let file = PidFile::create(&path)?;
        assert_eq!(read_pid(&path), Some(file.pid()));
        Ok(())
    }

    #[test]
    fn a_live_keepalived_means_already_running() -> TestResult {
        let dir = TempDir::new("pid-live")?;
        let path = dir.path().join("keepalived.pid");
        let daemon = spawn_as_keepalived(dir.path(), "/bin/sleep", &["30"])?;
        assert!(wait_for_comm(daemon.pid(), "keepalived"));
        assert!(is_running_keepalived(daemon.pid()));
        std::fs::write(&path, format!("{}\n", daemon.pid()))?;

        assert_eq!(running_pid(&path), Some(daemon.pid()));
        let err = failure(PidFile::create(&path))?;
        assert!(
            matches!(err, PidFileError::AlreadyRunning(pid) if pid == daemon.pid()),
            "{err}"
        );
        assert!(err.to_string().contains("already running"), "{err}");
        // The file is left as it was.
        assert_eq!(read_pid(&path), Some(daemon.pid()));

        drop(daemon);
        assert_eq!(running_pid(&path), None);
        let file = PidFile::create(&path)?;
        assert_eq!(read_pid(&path), Some(file.pid()));
        Ok(())
    }

    #[test]
    fn a_zombie_keepalived_is_not_running() -> TestResult {
        let dir = TempDir::new("pid-zombie")?;
        let mut zombie = spawn_as_keepalived(dir.path(), "/bin/true", &[])?;
        let pid = zombie.pid();
        // Not reaped: once it has exited it stays a zombie until the wait below.
        let start = Instant::now();
        let mut state = String::new();
        while start.elapsed() < Duration::from_secs(5) {
            state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if state
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(state.contains("(keepalived) Z"), "{state}");
        assert!(!is_running_keepalived(pid));
        zombie.0.wait()?;
        Ok(())
    }

    #[test]
    fn our_own_pid_in_the_file_is_not_another_daemon() -> TestResult {
        let dir = TempDir::new("pid-own")?;
        let path = dir.path().join("keepalived.pid");
        std::fs::write(&path, format!("{}\n", std::process::id()))?;
        let file = PidFile::create(&path)?;
        assert_eq!(read_pid(&path), Some(file.pid()));
        Ok(())
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() -> TestResult {
        let dir = TempDir::new("pid-link")?;
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious\n")?;
        let path = dir.path().join("keepalived.pid");
        symlink(&victim, &path)?;
        assert_eq!(read_pid(&path), None);
        let file = PidFile::create(&path)?;
        assert_eq!(std::fs::read(&victim)?, b"precious\n");
        assert!(std::fs::symlink_metadata(&path)?.is_file());
        assert_eq!(read_pid(&path), Some(file.pid()));
        Ok(())
    }

    #[test]
    fn write_errors_are_reported_with_the_path() -> TestResult {
        let dir = TempDir::new("pid-err")?;
        let path = dir.path().join("keepalived.pid");
        std::fs::create_dir(&path)?;
        let err = failure(PidFile::create(&path))?;
        assert!(matches!(err, PidFileError::Write(_)), "{err}");
        assert!(err.to_string().contains("keepalived.pid"), "{err}");
        Ok(())
    }

    #[test]
    fn recognises_keepalived_by_executable_or_command_name() {
        let yes = [
            (Some("/usr/sbin/keepalived"), None),
            (Some("/usr/sbin/keepalived (deleted)"), None),
            (Some("/usr/bin/sleep"), Some("keepalived\n")),
            (None, Some("keepalived\n")),
        ];
        for (exe, comm) in yes {
            assert!(
                looks_like_keepalived(exe.map(Path::new), comm),
                "{exe:?} {comm:?}"
            );
        }
        let no = [
            (Some("/usr/bin/sleep"), Some("sleep\n")),
            (None, Some("keepalived-x\n")),
            (None, None),
            (Some("/usr/sbin/notkeepalived"), Some("notkeepalived\n")),
        ];
        for (exe, comm) in no {
            assert!(
                !looks_like_keepalived(exe.map(Path::new), comm),
                "{exe:?} {comm:?}"
            );
        }
    }
}
