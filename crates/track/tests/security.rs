//! Script security on real files in temporary directories under /tmp.
//!
//! Most cases need root: the "safe" files must be owned by root, and some are given to uid
//! 65534. Without root those tests print a note and return.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keepalived_track::security::component_problem;
use keepalived_track::{
    Outcome, ScriptProblem, ScriptSpec, check_script, inspect_script, run_secured,
};
use nix::unistd::{Gid, Uid, chown};

const ROOT: Option<(u32, u32)> = Some((0, 0));
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root");
        false
    }
}

/// A directory under /tmp (root-owned and sticky, so it does not make the path unsafe),
/// removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = Path::new("/tmp").join(format!(
            "keepalived-security-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("create temp dir");
        set_mode(&dir, 0o755);
        TempDir(dir)
    }

    /// A subdirectory with `mode`.
    fn dir(&self, name: &str, mode: u32) -> PathBuf {
        let dir = self.0.join(name);
        fs::create_dir(&dir).expect("mkdir");
        set_mode(&dir, mode);
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A script in `dir` with `mode` that creates `marker` (if given) and exits 0.
fn script(dir: &Path, name: &str, mode: u32, marker: Option<&Path>) -> PathBuf {
    let path = dir.join(name);
    let body = match marker {
        Some(m) => format!("#!/bin/sh\ntouch '{}'\nexit 0\n", m.display()),
        None => "#!/bin/sh\nexit 0\n".to_string(),
    };
    fs::write(&path, body).expect("write script");
    set_mode(&path, mode);
    path
}

fn give(path: &Path, uid: Option<u32>, gid: Option<u32>) {
    chown(path, uid.map(Uid::from_raw), gid.map(Gid::from_raw)).expect("chown");
}

/// /tmp must itself be safe for the "accepted" cases to mean anything.
fn tmp_is_safe() -> bool {
    let meta = fs::metadata("/tmp").expect("stat /tmp");
    let problem = component_problem(meta.mode(), meta.uid(), meta.gid(), meta.is_dir());
    if let Some(problem) = problem {
        eprintln!("skipped: /tmp {problem}");
        return false;
    }
    true
}

#[test]
fn root_owned_0755_script_in_0755_dir_passes() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("ok");
    let dir = tmp.dir("d", 0o755);
    let s = script(&dir, "ok.sh", 0o755, None);
    assert_eq!(check_script(&s, ROOT), Ok(()));
    assert_eq!(check_script(&s, None), Ok(()));
    let check = inspect_script(&s, ROOT).expect("inspect");
    assert_eq!(check.path, s);
    assert_eq!(check.insecure, None);
    assert!(!check.searched);
    // Group-writable by root's own group is fine too.
    let g = script(&dir, "g.sh", 0o775, None);
    assert_eq!(check_script(&g, ROOT), Ok(()));
}

#[test]
fn world_writable_script_is_refused() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("ww");
    let dir = tmp.dir("d", 0o755);
    let s = script(&dir, "check.sh", 0o777, None);
    assert_eq!(
        check_script(&s, ROOT),
        Err(format!(
            "refusing to run '{}' as root: it is writable by other users (mode 0777)",
            s.display()
        ))
    );
    let check = inspect_script(&s, ROOT).expect("inspect");
    assert_eq!(
        check.unsafe_log_line(true),
        Some(format!(
            "Unsafe permissions found for script '{}' - disabling.",
            s.display()
        ))
    );
}

#[test]
fn group_writable_by_other_group_is_refused() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("gw");
    let dir = tmp.dir("d", 0o755);
    let s = script(&dir, "check.sh", 0o775, None);
    give(&s, None, Some(NOBODY));
    set_mode(&s, 0o775);
    let err = check_script(&s, ROOT).expect_err("refused");
    assert!(
        err.ends_with("it is writable by group 65534 (mode 0775)"),
        "{err}"
    );
}

#[test]
fn script_in_world_writable_dir_is_refused() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("wwdir");
    let dir = tmp.dir("open", 0o777);
    let s = script(&dir, "check.sh", 0o755, None);
    assert_eq!(
        check_script(&s, ROOT),
        Err(format!(
            "refusing to run '{}' as root: directory '{}' is writable by other users (mode 0777)",
            s.display(),
            dir.display()
        ))
    );
}

#[test]
fn sticky_dir_like_tmp_is_accepted_when_the_file_is_safe() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("sticky");
    let dir = tmp.dir("sticky", 0o1777);
    let s = script(&dir, "check.sh", 0o755, None);
    assert_eq!(check_script(&s, ROOT), Ok(()));
    // ... but not an unsafe file in it.
    let bad = script(&dir, "bad.sh", 0o777, None);
    assert!(check_script(&bad, ROOT).is_err());
    // A sticky directory owned by another user is not exempt.
    let theirs = tmp.dir("theirs", 0o755);
    give(&theirs, Some(NOBODY), None);
    set_mode(&theirs, 0o1777);
    let t = script(&theirs, "check.sh", 0o755, None);
    let err = check_script(&t, ROOT).expect_err("refused");
    assert!(
        err.ends_with(&format!(
            "directory '{}' is owned by uid 65534",
            theirs.display()
        )),
        "{err}"
    );
}

#[test]
fn script_owned_by_another_user_is_refused_as_root_only() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("owner");
    let dir = tmp.dir("d", 0o755);
    let s = script(&dir, "check.sh", 0o755, None);
    give(&s, Some(NOBODY), None);
    assert_eq!(
        check_script(&s, ROOT),
        Err(format!(
            "refusing to run '{}' as root: it is owned by uid 65534",
            s.display()
        ))
    );
    // keepalived 2.2.7 does not check scripts that run as another user.
    assert_eq!(check_script(&s, Some((NOBODY, NOBODY))), Ok(()));
    let ww = script(&dir, "ww.sh", 0o777, None);
    assert_eq!(check_script(&ww, Some((NOBODY, NOBODY))), Ok(()));
}

#[test]
fn symlinks_are_resolved_before_checking() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("link");
    let safe = tmp.dir("safe", 0o755);
    let open = tmp.dir("open", 0o777);
    let good = script(&safe, "good.sh", 0o755, None);
    let bad = script(&safe, "bad.sh", 0o777, None);
    // A link in an unsafe directory to a safe file: only the real path counts.
    let l1 = open.join("l1.sh");
    symlink(&good, &l1).expect("symlink");
    assert_eq!(check_script(&l1, ROOT), Ok(()));
    // A link in a safe directory to an unsafe file: refused, naming the real file.
    let l2 = safe.join("l2.sh");
    symlink(&bad, &l2).expect("symlink");
    assert_eq!(
        check_script(&l2, ROOT),
        Err(format!(
            "refusing to run '{}' (resolved to '{}') as root: it is writable by other users (mode 0777)",
            l2.display(),
            bad.display()
        ))
    );
}

#[test]
fn missing_script_is_a_clear_error() {
    let tmp = TempDir::new("missing");
    let p = tmp.0.join("missing.sh");
    assert_eq!(
        check_script(&p, ROOT),
        Err(format!(
            "cannot run '{}': No such file or directory",
            p.display()
        ))
    );
    match inspect_script(&p, None) {
        Err(problem @ ScriptProblem::NotFound { .. }) => assert_eq!(
            problem.log_line(),
            format!(
                "Script {} cannot be accessed - No such file or directory",
                p.display()
            )
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn non_executable_script_is_refused() {
    let tmp = TempDir::new("noexec");
    let s = script(&tmp.0, "plain.sh", 0o644, None);
    assert_eq!(
        check_script(&s, ROOT),
        Err(format!(
            "cannot run '{}': not executable for uid:gid 0:0",
            s.display()
        ))
    );
    // Executable by its owner only: another user cannot run it.
    let mine = script(&tmp.0, "mine.sh", 0o700, None);
    assert_eq!(
        inspect_script(&mine, Some((NOBODY, NOBODY))),
        Err(ScriptProblem::NotExecutable {
            path: mine.clone(),
            uid: NOBODY,
            gid: NOBODY
        })
    );
}

#[test]
fn bare_name_is_found_in_the_script_path() {
    let check = inspect_script(Path::new("sh"), None).expect("sh in PATH");
    assert!(check.searched);
    assert!(check.path.is_absolute(), "{:?}", check.path);
    let warning = check.path_search_log_line().expect("warning");
    assert!(
        warning.starts_with("WARNING - script `sh` resolved by path search to `"),
        "{warning}"
    );
    let err = check_script(Path::new("no-such-program-kart"), None).expect_err("missing");
    let path = std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin".into());
    assert_eq!(
        err,
        format!("cannot run 'no-such-program-kart': not found in {path}")
    );
}

fn spec(path: &Path) -> ScriptSpec {
    ScriptSpec {
        name: "chk".into(),
        argv: vec![path.display().to_string()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        rise: 1,
        fall: 1,
        init_fail: false,
        uid_gid: None,
    }
}

#[tokio::test]
async fn refused_script_is_never_run() {
    if !is_root() || !tmp_is_safe() {
        return;
    }
    let tmp = TempDir::new("run");
    let dir = tmp.dir("d", 0o755);
    let marker = tmp.0.join("ran");
    let s = script(&dir, "check.sh", 0o777, Some(&marker));
    match run_secured(&spec(&s), true).await {
        Outcome::CannotRun(reason) => {
            assert!(reason.contains(&format!("'{}'", s.display())), "{reason}");
            assert!(reason.contains("writable by other users"), "{reason}");
        }
        other => panic!("expected CannotRun, got {other:?}"),
    }
    assert!(!marker.exists(), "the refused script ran");
    // Without script security the same script does run (keepalived only warns) ...
    assert_eq!(run_secured(&spec(&s), false).await, Outcome::Success);
    assert!(marker.exists(), "script did not run without security");
    fs::remove_file(&marker).expect("rm marker");
    // ... and once it is safe it runs with script security too.
    set_mode(&s, 0o755);
    assert_eq!(run_secured(&spec(&s), true).await, Outcome::Success);
    assert!(marker.exists(), "safe script did not run");
}
