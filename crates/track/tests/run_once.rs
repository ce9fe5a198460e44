//! Runs real scripts written to a temporary directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use keepalived_track::{Outcome, RunPhase, ScriptSpec, run_once, run_once_watched};

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("keepalived-track-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn script(&self, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn spec(path: &Path, timeout: Duration) -> ScriptSpec {
    ScriptSpec {
        name: "chk".into(),
        argv: vec![path.display().to_string()],
        interval: Duration::from_secs(1),
        timeout,
        rise: 1,
        fall: 1,
        init_fail: false,
        uid_gid: None,
    }
}

/// Whether `pid` is gone: no /proc entry, or a zombie (an orphan waiting for
/// a PID 1 that may not reap in a container). Polls for up to 2 s.
fn gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                // State is the field after the ")" closing the command name.
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .unwrap_or("?")
                    .to_string();
                if state == "Z" || state == "X" {
                    return true;
                }
            }
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Ok(text) = fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn exit_zero_is_success() {
    let dir = TempDir::new("ok");
    let s = dir.script("ok.sh", "exit 0", 0o755);
    assert_eq!(
        run_once(&spec(&s, Duration::from_secs(2))).await,
        Outcome::Success
    );
}

#[tokio::test]
async fn exit_one_is_failure() {
    let dir = TempDir::new("fail");
    let s = dir.script("fail.sh", "exit 1", 0o755);
    assert_eq!(
        run_once(&spec(&s, Duration::from_secs(2))).await,
        Outcome::Failure(1)
    );
}

#[tokio::test]
async fn arguments_and_the_daemon_s_environment() {
    let dir = TempDir::new("env");
    let out = dir.0.join("out");
    let s = dir.script(
        "env.sh",
        &format!(
            "echo \"$1 $2\" > {0}\necho \"PATH=$PATH\" >> {0}",
            out.display()
        ),
        0o755,
    );
    let mut sp = spec(&s, Duration::from_secs(2));
    sp.argv.push("a b".into());
    sp.argv.push("c".into());
    assert_eq!(run_once(&sp).await, Outcome::Success);
    let text = fs::read_to_string(&out).expect("script output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("a b c"));
    // keepalived 2.2.7 hands its scripts its own environment; so do we.
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(
        lines.next(),
        Some(format!("PATH={path}").as_str()),
        "{text}"
    );
}

#[tokio::test]
async fn killed_by_signal_is_failure_with_signal() {
    let dir = TempDir::new("sig");
    let s = dir.script("sig.sh", "kill -9 $$", 0o755);
    assert_eq!(
        run_once(&spec(&s, Duration::from_secs(2))).await,
        Outcome::Failure(9)
    );
}

#[tokio::test]
async fn timeout_kills_the_script() {
    let dir = TempDir::new("slow");
    let pidfile = dir.0.join("pid");
    let s = dir.script(
        "slow.sh",
        &format!("echo $$ > {}\nsleep 30", pidfile.display()),
        0o755,
    );
    let start = Instant::now();
    let out = run_once(&spec(&s, Duration::from_millis(200))).await;
    let took = start.elapsed();
    assert_eq!(out, Outcome::TimedOut);
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let pid = read_pid(&pidfile);
    // The leader is our child and must be reaped: no /proc entry at all.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "script {pid} still present"
    );
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = TempDir::new("group");
    let pidfile = dir.0.join("bg");
    let s = dir.script(
        "group.sh",
        &format!("sleep 30 &\necho $! > {}\nsleep 30", pidfile.display()),
        0o755,
    );
    let start = Instant::now();
    let out = run_once(&spec(&s, Duration::from_millis(300))).await;
    assert_eq!(out, Outcome::TimedOut);
    assert!(start.elapsed() < Duration::from_millis(1500));
    let bg = read_pid(&pidfile);
    assert!(gone(bg), "background child {bg} survived");
}

#[tokio::test]
async fn term_ignored_escalates_to_kill() {
    let dir = TempDir::new("stubborn");
    let pidfile = dir.0.join("pid");
    let s = dir.script(
        "stubborn.sh",
        &format!("trap '' TERM\necho $$ > {}\nsleep 30", pidfile.display()),
        0o755,
    );
    let start = Instant::now();
    let out = run_once(&spec(&s, Duration::from_millis(200))).await;
    let took = start.elapsed();
    assert_eq!(out, Outcome::TimedOut);
    assert!(
        took >= Duration::from_millis(1100),
        "KILL came too early: {took:?}"
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let pid = read_pid(&pidfile);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "script {pid} still present"
    );
}

#[tokio::test]
async fn missing_program_cannot_run() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("nope.sh");
    match run_once(&spec(&path, Duration::from_secs(1))).await {
        Outcome::CannotRun(reason) => {
            let want = format!("'{}': No such file or directory", path.display());
            assert!(reason.contains(&want), "{reason}");
        }
        other => panic!("expected CannotRun, got {other:?}"),
    }
}

#[tokio::test]
async fn non_executable_cannot_run() {
    let dir = TempDir::new("noexec");
    let s = dir.script("plain.sh", "exit 0", 0o644);
    match run_once(&spec(&s, Duration::from_secs(1))).await {
        Outcome::CannotRun(reason) => {
            assert!(reason.contains(&format!("'{}'", s.display())), "{reason}");
            assert!(reason.contains("Permission denied"), "{reason}");
        }
        other => panic!("expected CannotRun, got {other:?}"),
    }
}

#[tokio::test]
async fn empty_argv_cannot_run() {
    let mut sp = spec(Path::new("/bin/true"), Duration::from_secs(1));
    sp.argv.clear();
    assert!(matches!(run_once(&sp).await, Outcome::CannotRun(_)));
}

/// A run that is abandoned (its future dropped, as when the daemon stops or a reload removes
/// the script) takes the script's whole process group with it, background children included.
#[tokio::test]
async fn dropping_a_run_kills_the_whole_process_group() {
    let dir = std::env::temp_dir().join(format!("kr-drop-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("dir");
    let marker = dir.join("child.pid");
    let script = dir.join("forks.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {}\nwait\n",
            marker.display()
        ),
    )
    .expect("script");
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let spec = spec(&script, Duration::from_secs(60));
    // Let it start and fork, then drop the run.
    let _ = tokio::time::timeout(Duration::from_millis(500), run_once(&spec)).await;
    let child = read_pid(&marker);
    let _ = fs::remove_dir_all(&dir);
    assert!(
        gone(child),
        "the script's background child {child} outlived the dropped run"
    );
}

/// The phases `run_once_watched` reports for `spec`, and its outcome.
async fn phases_of(spec: &ScriptSpec) -> (Outcome, Vec<RunPhase>) {
    let seen = RefCell::new(Vec::new());
    let outcome = run_once_watched(spec, |p| seen.borrow_mut().push(p)).await;
    (outcome, seen.into_inner())
}

#[tokio::test]
async fn phases_of_a_run_that_ends_by_itself() {
    let dir = TempDir::new("phase-ok");
    let s = dir.script("ok.sh", "exit 3", 0o755);
    let (out, phases) = phases_of(&spec(&s, Duration::from_secs(2))).await;
    assert_eq!(out, Outcome::Failure(3));
    assert_eq!(phases, [RunPhase::Running, RunPhase::Idle]);
    let missing = dir.0.join("missing.sh");
    let (out, phases) = phases_of(&spec(&missing, Duration::from_secs(2))).await;
    assert!(matches!(out, Outcome::CannotRun(_)), "{out:?}");
    assert_eq!(phases, [RunPhase::Idle]);
}

#[tokio::test]
async fn phases_of_a_timed_out_run_that_obeys_sigterm() {
    let dir = TempDir::new("phase-term");
    // `exec` so that SIGTERM reaches sleep itself, which dies of it at once.
    let s = dir.script("slow.sh", "exec sleep 30", 0o755);
    let (out, phases) = phases_of(&spec(&s, Duration::from_millis(200))).await;
    assert_eq!(out, Outcome::TimedOut);
    assert_eq!(
        phases,
        [
            RunPhase::Running,
            RunPhase::TerminationRequested,
            RunPhase::Idle
        ]
    );
}

#[tokio::test]
async fn phases_of_a_timed_out_run_that_ignores_sigterm() {
    let dir = TempDir::new("phase-kill");
    let s = dir.script("stubborn.sh", "trap '' TERM\nsleep 30", 0o755);
    let start = Instant::now();
    let (out, phases) = phases_of(&spec(&s, Duration::from_millis(200))).await;
    assert_eq!(out, Outcome::TimedOut);
    assert_eq!(
        phases,
        [
            RunPhase::Running,
            RunPhase::TerminationRequested,
            RunPhase::TerminationForced,
            RunPhase::Idle
        ]
    );
    // The grace was given before SIGKILL.
    assert!(
        start.elapsed() >= keepalived_track::TERM_GRACE,
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        [
            RunPhase::Idle,
            RunPhase::Running,
            RunPhase::TerminationRequested,
            RunPhase::TerminationForced
        ]
        .map(RunPhase::number),
        [0, 1, 2, 3]
    );
}
