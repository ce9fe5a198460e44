//! Running a script once, with a timeout and process-group cleanup.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// How long a timed-out script's process group has to exit after SIGTERM
/// before it is sent SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// One `vrrp_script` block, as the runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    /// The script's name (the `vrrp_script NAME` word), used in log lines.
    pub name: String,
    /// Program and arguments; `argv[0]` is the program path. No shell is used.
    pub argv: Vec<String>,
    /// Time between two runs (used by the caller's scheduler).
    pub interval: Duration,
    /// How long one run may take before it is killed and counts as a failure.
    pub timeout: Duration,
    /// Successes in a row needed to go from bad to good.
    pub rise: u32,
    /// Failures in a row needed to go from good to bad.
    pub fall: u32,
    /// Start in the bad state (keepalived's `init_fail`).
    pub init_fail: bool,
    /// Run the script as this `(uid, gid)`; `None` keeps the daemon's ids.
    pub uid_gid: Option<(u32, u32)>,
}

/// The result of one run of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The script exited with status 0.
    Success,
    /// The script exited with a non-zero status (the exit code), or was
    /// killed by a signal (the signal number).
    Failure(i32),
    /// The script did not finish within its timeout; its process group was
    /// killed.
    TimedOut,
    /// The script could not be started; the reason names the file.
    CannotRun(String),
}

impl Outcome {
    /// Whether this outcome counts as a success for rise/fall.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// Where a run of a script is, numbered as keepalived numbers its script states (and as the
/// community exporter's `keepalived_script_state` reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunPhase {
    /// No run under way.
    #[default]
    Idle,
    /// The script runs.
    Running,
    /// It overran its timeout: its process group was sent SIGTERM and has [`TERM_GRACE`] to
    /// exit.
    TerminationRequested,
    /// It did not exit within [`TERM_GRACE`] of SIGTERM: its process group was sent SIGKILL,
    /// and the child is being reaped.
    TerminationForced,
}

impl RunPhase {
    /// keepalived's number: 0 idle, 1 running, 2 termination requested, 3 forced.
    pub fn number(self) -> u8 {
        match self {
            RunPhase::Idle => 0,
            RunPhase::Running => 1,
            RunPhase::TerminationRequested => 2,
            RunPhase::TerminationForced => 3,
        }
    }

    /// A short lower-case name: `idle`, `running`, `terminating`, `killed`.
    pub fn name(self) -> &'static str {
        match self {
            RunPhase::Idle => "idle",
            RunPhase::Running => "running",
            RunPhase::TerminationRequested => "terminating",
            RunPhase::TerminationForced => "killed",
        }
    }
}

/// Runs `spec.argv` once and reports how it ended.
///
/// The program is started without a shell, with stdin/stdout/stderr on
/// `/dev/null`, the daemon's own environment (as keepalived 2.2.7 passes it), and in
/// a process group of its own. If it runs longer than `spec.timeout`, the
/// whole group gets SIGTERM, then SIGKILL after at most [`TERM_GRACE`], and
/// the child is reaped before this returns.
pub async fn run_once(spec: &ScriptSpec) -> Outcome {
    run_once_watched(spec, |_| {}).await
}

/// [`run_once`], telling `watch` each phase the run enters: [`RunPhase::Running`] once the
/// program is started, [`RunPhase::TerminationRequested`] when its timeout sends SIGTERM,
/// [`RunPhase::TerminationForced`] when the grace is over and SIGKILL follows, and
/// [`RunPhase::Idle`] when the run is over (also when it could not start).
pub async fn run_once_watched<F: Fn(RunPhase)>(spec: &ScriptSpec, watch: F) -> Outcome {
    let outcome = run_watched(spec, &watch).await;
    watch(RunPhase::Idle);
    outcome
}

async fn run_watched<F: Fn(RunPhase)>(spec: &ScriptSpec, watch: &F) -> Outcome {
    let Some(program) = spec.argv.first() else {
        return Outcome::CannotRun(format!("script '{}' has no command", spec.name));
    };
    let mut cmd = Command::new(program);
    cmd.args(&spec.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = spec.uid_gid {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => return Outcome::CannotRun(cannot_run_reason(program, &err)),
    };
    watch(RunPhase::Running);
    // If this future is dropped mid-run (the daemon stops, a reload removes the script), the
    // whole process group goes, not only the direct child `kill_on_drop` takes care of.
    let mut guard = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
    let outcome = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => outcome_of(status),
        Ok(Err(err)) => Outcome::CannotRun(format!("waiting for '{program}': {err}")),
        Err(_elapsed) => {
            kill_group(&mut child, watch).await;
            Outcome::TimedOut
        }
    };
    guard.0 = None;
    outcome
}

/// Kills a script's process group when dropped while still armed.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // ESRCH just means the group is already gone.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// The reason text for a program that could not be started, in the style
/// `cannot run '/path': No such file or directory`.
fn cannot_run_reason(program: &str, err: &io::Error) -> String {
    let what = match err.raw_os_error() {
        Some(raw) => Errno::from_raw(raw).desc().to_string(),
        None => err.to_string(),
    };
    format!("cannot run '{program}': {what}")
}

fn outcome_of(status: ExitStatus) -> Outcome {
    match status.code() {
        Some(0) => Outcome::Success,
        Some(code) => Outcome::Failure(code),
        None => Outcome::Failure(status.signal().unwrap_or(-1)),
    }
}

/// SIGTERM the child's process group, give it [`TERM_GRACE`], SIGKILL the
/// group, and reap the child; `watch` hears of the termination's phases.
async fn kill_group<F: Fn(RunPhase)>(child: &mut Child, watch: &F) {
    let Some(raw_pid) = child.id() else {
        // Already reaped: nothing left that we own.
        return;
    };
    let Ok(raw_pid) = i32::try_from(raw_pid) else {
        return;
    };
    let pgid = Pid::from_raw(raw_pid);
    // ESRCH just means the group is already gone.
    watch(RunPhase::TerminationRequested);
    let _ = killpg(pgid, Signal::SIGTERM);
    let exited = tokio::time::timeout(TERM_GRACE, child.wait()).await;
    let leader_exited = matches!(exited, Ok(Ok(_)));
    if !leader_exited {
        watch(RunPhase::TerminationForced);
    }
    // Always KILL the group: the leader may have exited on TERM while
    // background children ignored it. The group id cannot be reused while
    // any member is alive.
    let _ = killpg(pgid, Signal::SIGKILL);
    if !leader_exited {
        // SIGKILL cannot be caught, so this wait is bounded in practice.
        let _ = child.wait().await;
    }
}
