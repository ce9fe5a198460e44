//! Tracking in a lab (root only): `init_fail` and script security, our daemon against
//! keepalived 2.2.7 on the same config.
//!
//! Every scenario runs on one lab host (a, 192.0.2.10, priority 150, VIP 198.51.100.100/32 on
//! eth0), once per daemon: `<scenario>_ours` runs our binary, `<scenario>_keepalived` runs
//! keepalived 2.2.7, and both assert the same thing. Alone on the bridge, a becomes MASTER one
//! Master_Down_Interval (3.41 s) after it enters BACKUP. Log lines are matched on what both
//! daemons print: ours writes `VRRP_Instance(VI_1) Entering …`, keepalived 2.x `(VI_1) Entering …`,
//! so the needles start at the parenthesis.
//!
//! What keepalived 2.2.7 does, found by running it (it is the truth these tests hold ours to):
//!
//! - `init_fail` has no effect on a script an instance tracks: tracking a script puts it back in
//!   its initial state (`keepalived -d` dumps `Init state = INIT` with `init_fail` in the config).
//!   In that state one success makes the script good whatever `rise` is, and one failure bad;
//!   neither `Entering FAULT STATE` nor `VRRP_Script(chk) failed` is logged for a script that
//!   succeeds.
//! - An instance tracking a weight-0 script waits for the script's first result before it logs
//!   `Entering BACKUP STATE` (it sits in FAULT meanwhile without logging it).
//! - With `enable_script_security` (and `script_user root`, as there is no `keepalived_script`
//!   user), a vrrp_script that is writable by others, or lies in a directory writable by others,
//!   is logged as `Unsafe permissions found for script 'PATH' - disabling.` and `Disabling track
//!   script NAME due to insecure`; it never runs, and the instances tracking it behave as if it
//!   were not tracked (BACKUP at once, then MASTER).
//! - A world-writable notify script is refused the same way (`Unsafe permissions found for
//!   script 'PATH' - disabling.`, once per notify keyword naming it) and never runs.
//! - A script owned by root, mode 0755, in root-owned 0755 directories (under /tmp, whose sticky
//!   bit keepalived accepts) runs.
//!
//! Run: `cargo test -p keepalived --test tracking_lab -- --test-threads 1` (as root; each test
//! returns early otherwise).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::Daemon::{self, Ours, Real};
use keepalived_testlab::prelude::daemon_log;
use keepalived_testlab::{
    Host, KEEPALIVED_BIN, Keepalived, Lab, VrrpInstance, poll_until, require_programs, require_root,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The instance's VIP (TEST-NET-2) without and with its prefix.
const VIP: &str = "198.51.100.100";
const VIP_CIDR: &str = "198.51.100.100/32";
const VRID: u8 = 51;
const PASS: &str = "secret12";

/// How long a lone host may take from start to holding the VIP: a first script run (up to 2 s in
/// the slow scenario), Master_Down_Interval (3.41 s at priority 150), with room for a loaded
/// machine.
const TO_MASTER: Duration = Duration::from_secs(12);

/// How long a script that must not run is given to show that it does not.
const NEVER: Duration = Duration::from_secs(3);

/// Builds a one-host lab named after `tag` and runs `scenario` in it for `daemon`; returns early
/// (the test passes vacuously, printing why) without root or the programs it needs.
fn run(tag: &str, daemon: Daemon, scenario: fn(&Lab, Daemon)) {
    if !require_root() || !require_programs(&["ip", "sh"]) {
        return;
    }
    if daemon == Real && !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let t = Instant::now();
    let lab = Lab::new(tag, &["a"]).expect("lab");
    scenario(&lab, daemon);
    eprintln!("{tag}: {daemon:?} passed in {:.1?}", t.elapsed());
}

// ---- config and scripts -------------------------------------------------------------------

/// A complete config: `global_defs` with script security and `script_user root`, then
/// `scripts` (vrrp_script blocks, which keepalived needs before the instance that tracks them),
/// then VI_1 (priority 150) with `extra` lines inside it.
fn config(scripts: &str, extra: &[String]) -> String {
    let mut instance = VrrpInstance::new(VRID, 150, &[VIP_CIDR]).auth_pass(PASS);
    for line in extra {
        instance = instance.extra(line);
    }
    instance.global_extra = vec![
        "script_user root".to_string(),
        "enable_script_security".to_string(),
    ];
    let text = instance.render("a");
    match text.find("\nvrrp_instance") {
        Some(at) => format!("{}{scripts}{}", &text[..at], &text[at..]),
        None => panic!("no vrrp_instance in the rendered config:\n{text}"),
    }
}

/// `track_script { NAME… }` with the default weight (0: a failure means FAULT).
fn track(names: &[&str]) -> String {
    let mut s = String::from("track_script {\n");
    for n in names {
        s.push_str(&format!("        {n}\n"));
    }
    s.push_str("    }");
    s
}

/// A `vrrp_script` block running `path` every `interval` seconds, with `more` lines inside.
fn vrrp_script(name: &str, path: &Path, interval: u32, more: &[&str]) -> String {
    let mut s = format!(
        "\nvrrp_script {name} {{\n    script \"{}\"\n    interval {interval}\n",
        path.display()
    );
    for line in more {
        s.push_str(&format!("    {line}\n"));
    }
    s.push_str("}\n");
    s
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// A directory `name` under `a`'s scratch directory with `mode`. The scratch directory and the
/// lab directory above it are set to 0755 so that only what a scenario makes insecure is (the
/// test's umask could have left them group-writable).
fn script_dir(a: &Host, name: &str, mode: u32) -> PathBuf {
    let home = a.dir();
    chmod(home, 0o755);
    if let Some(lab_dir) = home.parent() {
        chmod(lab_dir, 0o755);
    }
    let dir = home.join(name);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    chmod(&dir, mode);
    dir
}

/// Writes a /bin/sh script `name` into `dir` with `body` and `mode`; returns its path.
fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    chmod(&path, mode);
    path
}

// ---- log and state checks -----------------------------------------------------------------

/// Where `needle` first appears in `text`; fails showing the log if it does not.
fn first(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("the log has no `{needle}`:\n{text}"))
}

/// Asserts that the first occurrences of `needles` come in this order.
fn assert_order(text: &str, needles: &[&str]) {
    let at: Vec<usize> = needles.iter().map(|n| first(text, n)).collect();
    for (i, pair) in at.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "`{}` should come before `{}` in the log:\n{text}",
            needles[i],
            needles[i + 1]
        );
    }
}

fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "the log has `{needle}`:\n{text}");
}

/// Asserts a log line naming `path` as unsafe or insecure (the wording may differ, the file
/// must be named).
fn assert_names_unsafe(text: &str, path: &Path) {
    let path = path.display().to_string();
    assert!(
        text.lines()
            .any(|l| l.contains(&path) && (l.contains("nsafe") || l.contains("nsecure"))),
        "no log line names {path} as unsafe:\n{text}"
    );
}

/// Waits until `a` holds the VIP and the daemon logged MASTER.
fn wait_master(a: &Host, k: &Keepalived) {
    assert!(
        a.wait_for_address(VIP, true, TO_MASTER),
        "{} did not get {VIP} within {TO_MASTER:?}; its log:\n{}",
        a.name(),
        daemon_log(k)
    );
    assert!(
        k.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(2)),
        "the VIP is there but MASTER was not logged:\n{}",
        daemon_log(k)
    );
}

/// The number of lines in `path` (0 if it does not exist yet).
fn lines_in(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// Stops the daemon; ours must exit cleanly.
fn stop(daemon: Daemon, k: &mut Keepalived) {
    let status = k.stop().expect("SIGTERM stops the daemon");
    if daemon == Ours {
        assert!(
            status.success(),
            "ours exited with {status}:\n{}",
            daemon_log(k)
        );
    }
}

// ---- scenarios ----------------------------------------------------------------------------

/// A succeeding check script counted in `runs`, tracked with weight 0, rise 2, fall 2, and
/// `init_fail` when asked. Returns (config, runs file).
fn counted_check(a: &Host, init_fail: bool) -> (String, PathBuf) {
    let dir = script_dir(a, "scripts", 0o755);
    let runs = a.dir().join("runs");
    let path = script(
        &dir,
        "check.sh",
        &format!("echo run >> {}\nexit 0", runs.display()),
        0o755,
    );
    let mut more = vec!["rise 2", "fall 2"];
    if init_fail {
        more.push("init_fail");
    }
    let conf = config(&vrrp_script("chk", &path, 2, &more), &[track(&["chk"])]);
    (conf, runs)
}

/// `init_fail`, weight 0, rise 2, interval 2 s, a script that succeeds. keepalived 2.2.7 ignores
/// `init_fail` for a tracked script: the first success makes it good (rise is not waited for),
/// and only then does the instance enter BACKUP; no FAULT, no `failed`; MASTER follows.
fn init_fail(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let (conf, runs) = counted_check(a, true);
    let mut k = daemon.start(OURS, a, &conf);
    assert!(
        k.wait_for_log("VRRP_Script(chk) succeeded", Duration::from_secs(4)),
        "the script did not succeed:\n{}",
        daemon_log(&k)
    );
    let runs_at_success = lines_in(&runs);
    wait_master(a, &k);
    let text = daemon_log(&k);
    assert_eq!(
        runs_at_success, 1,
        "the script was good after {runs_at_success} runs; keepalived 2.2.7 counts the first \
         success of a tracked script (init_fail or not) as enough:\n{text}"
    );
    assert_lacks(&text, "Entering FAULT STATE");
    assert_lacks(&text, "VRRP_Script(chk) failed");
    assert_order(
        &text,
        &[
            "VRRP_Script(chk) succeeded",
            "(VI_1) Entering BACKUP STATE",
            "(VI_1) Entering MASTER STATE",
        ],
    );
    stop(daemon, &mut k);
}

/// The control: the same without `init_fail`. The instance never goes through FAULT, the
/// script succeeds, the instance goes BACKUP then MASTER with the VIP.
fn no_init_fail(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let (conf, runs) = counted_check(a, false);
    let mut k = daemon.start(OURS, a, &conf);
    wait_master(a, &k);
    let text = daemon_log(&k);
    assert_lacks(&text, "Entering FAULT STATE");
    assert_lacks(&text, "VRRP_Script(chk) failed");
    first(&text, "VRRP_Script(chk) succeeded");
    assert_order(
        &text,
        &[
            "(VI_1) Entering BACKUP STATE",
            "(VI_1) Entering MASTER STATE",
        ],
    );
    assert!(lines_in(&runs) >= 1, "the script never ran:\n{text}");
    stop(daemon, &mut k);
}

/// A weight-0 script that takes 2 s to succeed: keepalived 2.2.7 holds the instance until
/// that first result, so `Entering BACKUP STATE` comes after `succeeded`, at least 2 s after
/// start.
fn first_result_gates_start(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let dir = script_dir(a, "scripts", 0o755);
    let path = script(&dir, "slow.sh", "sleep 2\nexit 0", 0o755);
    let conf = config(
        &vrrp_script("chk", &path, 10, &["timeout 5"]),
        &[track(&["chk"])],
    );
    let started = Instant::now();
    let mut k = daemon.start(OURS, a, &conf);
    assert!(
        k.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(6)),
        "no BACKUP:\n{}",
        daemon_log(&k)
    );
    let backup_after = started.elapsed();
    wait_master(a, &k);
    let text = daemon_log(&k);
    assert_order(
        &text,
        &[
            "VRRP_Script(chk) succeeded",
            "(VI_1) Entering BACKUP STATE",
            "(VI_1) Entering MASTER STATE",
        ],
    );
    assert!(
        backup_after >= Duration::from_millis(1800),
        "BACKUP {backup_after:.1?} after start, before the script's first result:\n{text}"
    );
    assert_lacks(&text, "Entering FAULT STATE");
    stop(daemon, &mut k);
}

/// Two check scripts that would touch a marker and fail: one world-writable (0777) in a 0755
/// directory, one 0755 in a world-writable (0777) directory. Both are disabled as insecure,
/// never run, and do not count as tracked: the instance goes BACKUP and MASTER as if it had no
/// scripts (were they tracked, the failure, or waiting for a result that never comes, would
/// keep it from MASTER).
fn insecure_check(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let marker = a.dir().join("marker");
    let body = format!("touch {}\nexit 1", marker.display());
    let dir = script_dir(a, "scripts", 0o755);
    let open_file = script(&dir, "open.sh", &body, 0o777);
    let open_dir = script_dir(a, "opendir", 0o777);
    let in_open_dir = script(&open_dir, "check.sh", &body, 0o755);
    let scripts =
        vrrp_script("chk", &open_file, 1, &[]) + &vrrp_script("chkdir", &in_open_dir, 1, &[]);
    let conf = config(&scripts, &[track(&["chk", "chkdir"])]);
    let mut k = daemon.start(OURS, a, &conf);
    wait_master(a, &k);
    assert!(
        !poll_until(NEVER, || marker.exists()),
        "an insecure check script ran:\n{}",
        daemon_log(&k)
    );
    assert!(
        a.has_address(VIP).expect("addresses"),
        "a lost {VIP}:\n{}",
        daemon_log(&k)
    );
    let text = daemon_log(&k);
    first(&text, "Disabling track script chk due to insecure");
    first(&text, "Disabling track script chkdir due to insecure");
    assert_lacks(&text, "Entering FAULT STATE");
    assert_lacks(&text, "VRRP_Script(chk");
    stop(daemon, &mut k);
}

/// The file of an insecure check script is named in the log (compat.md section 6: "the error
/// names the file"; keepalived: `Unsafe permissions found for script 'PATH' - disabling.`).
fn insecure_path_logged(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let dir = script_dir(a, "scripts", 0o755);
    let path = script(&dir, "open.sh", "exit 0", 0o777);
    let conf = config(&vrrp_script("chk", &path, 1, &[]), &[track(&["chk"])]);
    let mut k = daemon.start(OURS, a, &conf);
    assert!(
        k.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(5)),
        "no BACKUP:\n{}",
        daemon_log(&k)
    );
    let text = daemon_log(&k);
    first(&text, "Disabling track script chk due to insecure");
    assert_names_unsafe(&text, &path);
    stop(daemon, &mut k);
}

/// World-writable `notify_master` and `notify` scripts: keepalived 2.2.7 refuses both (each
/// named as unsafe in the log) and never runs them; the instance still becomes MASTER.
fn insecure_notify(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let dir = script_dir(a, "scripts", 0o755);
    let master_marker = a.dir().join("notify-master-ran");
    let generic_marker = a.dir().join("notify-ran");
    let on_master = script(
        &dir,
        "on-master.sh",
        &format!("touch {}", master_marker.display()),
        0o777,
    );
    let on_any = script(
        &dir,
        "on-any.sh",
        &format!("touch {}", generic_marker.display()),
        0o777,
    );
    let conf = config(
        "",
        &[
            format!("notify_master \"{}\"", on_master.display()),
            format!("notify \"{}\"", on_any.display()),
        ],
    );
    let mut k = daemon.start(OURS, a, &conf);
    wait_master(a, &k);
    assert!(
        !poll_until(NEVER, || master_marker.exists() || generic_marker.exists()),
        "a world-writable notify script ran (notify_master: {}, notify: {}):\n{}",
        master_marker.exists(),
        generic_marker.exists(),
        daemon_log(&k)
    );
    let text = daemon_log(&k);
    assert_names_unsafe(&text, &on_master);
    assert_names_unsafe(&text, &on_any);
    stop(daemon, &mut k);
}

/// The control: the same check script mode 0755, owned by root, in root-owned 0755
/// directories, runs (the marker appears), succeeds, and nothing is called insecure.
fn secure_check(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let marker = a.dir().join("marker");
    let dir = script_dir(a, "scripts", 0o755);
    let path = script(
        &dir,
        "check.sh",
        &format!("touch {}\nexit 0", marker.display()),
        0o755,
    );
    let conf = config(&vrrp_script("chk", &path, 1, &[]), &[track(&["chk"])]);
    let mut k = daemon.start(OURS, a, &conf);
    assert!(
        poll_until(Duration::from_secs(5), || marker.exists()),
        "the secure check script did not run:\n{}",
        daemon_log(&k)
    );
    wait_master(a, &k);
    let text = daemon_log(&k);
    first(&text, "VRRP_Script(chk) succeeded");
    for bad in ["nsecure", "nsafe", "Entering FAULT STATE"] {
        assert_lacks(&text, bad);
    }
    stop(daemon, &mut k);
}

// ---- tests --------------------------------------------------------------------------------

#[test]
fn init_fail_keepalived() {
    run("initfailk", Real, init_fail);
}

#[test]
fn init_fail_ours() {
    run("initfailo", Ours, init_fail);
}

#[test]
fn without_init_fail_no_fault_keepalived() {
    run("noinitk", Real, no_init_fail);
}

#[test]
fn without_init_fail_no_fault_ours() {
    run("noinito", Ours, no_init_fail);
}

#[test]
fn first_script_result_gates_start_keepalived() {
    run("gatek", Real, first_result_gates_start);
}

#[test]
fn first_script_result_gates_start_ours() {
    run("gateo", Ours, first_result_gates_start);
}

#[test]
fn insecure_check_script_never_runs_keepalived() {
    run("insechk", Real, insecure_check);
}

#[test]
fn insecure_check_script_never_runs_ours() {
    run("insecho", Ours, insecure_check);
}

#[test]
fn insecure_script_path_is_logged_keepalived() {
    run("inspathk", Real, insecure_path_logged);
}

#[test]
fn insecure_script_path_is_logged_ours() {
    run("inspatho", Ours, insecure_path_logged);
}

#[test]
fn insecure_notify_script_never_runs_keepalived() {
    run("insnotk", Real, insecure_notify);
}

#[test]
fn insecure_notify_script_never_runs_ours() {
    run("insnoto", Ours, insecure_notify);
}

#[test]
fn secure_check_script_runs_keepalived() {
    run("securek", Real, secure_check);
}

#[test]
fn secure_check_script_runs_ours() {
    run("secureo", Ours, secure_check);
}

// ---- track_file ------------------------------------------------------------------------------

/// `vrrp_track_file` (the 1.x/2.x block name keepalived 2.2.7 still reads): with weight 0 a
/// non-zero value puts the instance in FAULT (VIP removed) and 0 brings it back; a weighted
/// file changes the priority by value × weight. The file is rewritten the way an operator would
/// (`echo N > file`), and the daemon reacts without a reload.
fn track_file(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let dir = script_dir(a, "trackfiles", 0o755);
    let fault_file = dir.join("maintenance");
    let weight_file = dir.join("load");
    fs::write(&fault_file, "0\n").expect("write");
    fs::write(&weight_file, "0\n").expect("write");
    let blocks = format!(
        "\nvrrp_track_file maintenance {{\n    file \"{}\"\n    weight 0\n}}\n\
         \nvrrp_track_file load {{\n    file \"{}\"\n    weight -5\n}}\n",
        fault_file.display(),
        weight_file.display()
    );
    let conf = config(
        &blocks,
        &["track_file {\n        maintenance\n        load\n    }".to_string()],
    );
    let mut k = daemon.start(OURS, a, &conf);
    wait_master(a, &k);
    // A weighted value: 150 - 4 × 5 = 130.
    fs::write(&weight_file, "4\n").expect("write");
    assert!(
        k.wait_for_log("priority from 150 to 130", Duration::from_secs(5)),
        "no priority change:\n{}",
        daemon_log(&k)
    );
    assert!(a.has_address(VIP).unwrap_or(false), "still master alone");
    // Weight 0 and a non-zero value: FAULT, the VIP goes.
    fs::write(&fault_file, "1\n").expect("write");
    assert!(
        k.wait_for_log("(VI_1) Entering FAULT STATE", Duration::from_secs(5)),
        "no FAULT:\n{}",
        daemon_log(&k)
    );
    assert!(a.wait_for_address(VIP, false, Duration::from_secs(3)));
    // Back to 0: out of FAULT, and alone on the link it becomes master again.
    fs::write(&fault_file, "0\n").expect("write");
    assert!(
        a.wait_for_address(VIP, true, TO_MASTER),
        "no VIP after the fault cleared:\n{}",
        daemon_log(&k)
    );
    stop(daemon, &mut k);
}

#[test]
fn track_file_keepalived() {
    run("tfilek", Real, track_file);
}

#[test]
fn track_file_ours() {
    run("tfileo", Ours, track_file);
}
