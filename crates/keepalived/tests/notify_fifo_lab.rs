//! The notify FIFO in a lab (root only): the same scenario run by our daemon and by keepalived
//! 2.2.7, the lines each wrote to its FIFO compared.
//!
//! What 2.2.7 writes, observed: `INSTANCE "VI_1" BACKUP 100` on each state change of an
//! instance (BACKUP, MASTER, FAULT, and STOP when it stops) with its effective priority;
//! `GROUP "G1" MASTER 0` for a sync group; with `notify_priority_changes`,
//! `INSTANCE "VI_1" MASTER_PRIORITY 120` on each change of the effective priority. A FIFO that
//! does not exist is made and removed at the stop; `vrrp_notify_fifo_script` runs with the
//! FIFO's path as its argument and reads the lines from it. With `-X`, at the stop an instance
//! that is not master logs `(VI_1) removing VIPs.` once more (it removes only what it added:
//! a VIP added by hand stays).
//!
//! Run: `cargo test -p keepalived --test notify_fifo_lab` (as root; each test returns early
//! otherwise).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keepalived_testlab::prelude::Daemon::{self, Ours, Real};
use keepalived_testlab::prelude::{daemon_log, lab_ready};
use keepalived_testlab::{Host, KEEPALIVED_BIN, Keepalived, Lab, poll_until, require_programs};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const TO_MASTER: Duration = Duration::from_secs(15);
const STEP: Duration = Duration::from_secs(5);

fn start(daemon: Daemon, host: &Host, config: &str) -> Keepalived {
    start_args(daemon, host, config, &[])
}

fn start_args(daemon: Daemon, host: &Host, config: &str, args: &[&str]) -> Keepalived {
    daemon.start_with_args(OURS, host, config, args)
}

fn wait_log(k: &Keepalived, needle: &str, timeout: Duration) {
    assert!(
        k.wait_for_log(needle, timeout),
        "no `{needle}` within {timeout:?}:\n{}",
        daemon_log(k)
    );
}

/// `cat FIFO > OUT`, started before the daemon (the FIFO made by the test).
struct Reader {
    child: Child,
    out: PathBuf,
}

impl Reader {
    fn start(fifo: &Path, out: PathBuf) -> Reader {
        let file = fs::File::create(&out).expect("reader output");
        let child = Command::new("cat")
            .arg(fifo)
            .stdin(Stdio::null())
            .stdout(file)
            .spawn()
            .expect("cat");
        Reader { child, out }
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VI_1 on eth0, priority 100, `notify_priority_changes`, tracking file `tf` with weight 10;
/// the FIFO given in global_defs.
fn priority_config(fifo: &Path, tf: &Path) -> String {
    format!(
        "global_defs {{\n    router_id a\n    vrrp_notify_fifo {}\n}}\n\
         vrrp_track_file tf {{\n    file {}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 71\n\
         \x20   priority 100\n    advert_int 1\n    notify_priority_changes\n\
         \x20   virtual_ipaddress {{\n        198.51.100.71/32\n    }}\n\
         \x20   track_file {{\n        tf weight 10\n    }}\n}}\n",
        fifo.display(),
        tf.display()
    )
}

/// Start, MASTER, two priority changes, the link down and up (FAULT, BACKUP, MASTER), stop:
/// the lines the FIFO received.
fn priority_scenario(lab: &Lab, daemon: Daemon) -> Vec<String> {
    let a = lab.host("a");
    let dir = a.dir().join(format!("{daemon:?}"));
    fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let tf = dir.join("tf");
    fs::write(&tf, "0\n").expect("tf");
    let reader = Reader::start(&fifo, dir.join("lines"));
    let mut k = start(daemon, a, &priority_config(&fifo, &tf));
    wait_log(&k, "(VI_1) Entering MASTER STATE", TO_MASTER);
    fs::write(&tf, "2\n").expect("tf");
    wait_log(
        &k,
        "(VI_1) Changing effective priority from 100 to 120",
        STEP,
    );
    fs::write(&tf, "-3\n").expect("tf");
    wait_log(
        &k,
        "(VI_1) Changing effective priority from 120 to 70",
        STEP,
    );
    a.set_link("eth0", false).expect("link down");
    wait_log(&k, "(VI_1) Entering FAULT STATE", STEP);
    a.set_link("eth0", true).expect("link up");
    assert!(
        poll_until(TO_MASTER, || daemon_log(&k)
            .matches("(VI_1) Entering MASTER STATE")
            .count()
            >= 2),
        "not MASTER again:\n{}",
        daemon_log(&k)
    );
    k.stop().expect("stop");
    assert!(
        poll_until(STEP, || reader.lines().iter().any(|l| l.contains("STOP"))),
        "{daemon:?}: no STOP line; lines: {:?}\n{}",
        reader.lines(),
        daemon_log(&k)
    );
    assert!(fifo.exists(), "{daemon:?} removed a FIFO it did not make");
    reader.lines()
}

#[test]
fn fifo_lines_match_keepalived() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN, "cat"]) {
        return;
    }
    let lab = Lab::new("fifop", &["a"]).expect("lab");
    let real = priority_scenario(&lab, Real);
    let ours = priority_scenario(&lab, Ours);
    assert_eq!(
        real,
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 120",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 70",
            "INSTANCE \"VI_1\" FAULT 70",
            "INSTANCE \"VI_1\" BACKUP 70",
            "INSTANCE \"VI_1\" MASTER 70",
            "INSTANCE \"VI_1\" STOP 70",
        ],
        "keepalived 2.2.7 wrote other lines than seen before"
    );
    assert_eq!(ours, real, "ours (left) against keepalived 2.2.7 (right)");
}

/// A sync group, a FIFO the daemon makes, and a script reading it: the lines the script got,
/// its argument, and whether the FIFO is gone after the stop.
fn group_scenario(lab: &Lab, daemon: Daemon) -> (Vec<String>, String, bool) {
    let a = lab.host("a");
    let dir = a.dir().join(format!("g{daemon:?}"));
    fs::create_dir_all(&dir).expect("dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    let fifo = dir.join("fifo");
    let lines = dir.join("lines");
    let args = dir.join("args");
    let script = dir.join("reader.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" > {}\nexec cat \"$1\" >> {}\n",
            args.display(),
            lines.display()
        ),
    )
    .expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = format!(
        "global_defs {{\n    router_id a\n    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}\n}}\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 72\n\
         \x20   priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        198.51.100.72/32\n    }}\n}}\n\
         vrrp_instance VI_2 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 73\n\
         \x20   priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        198.51.100.73/32\n    }}\n}}\n",
        fifo.display(),
        script.display()
    );
    let mut k = start(daemon, a, &config);
    assert!(
        poll_until(TO_MASTER, || {
            fs::read_to_string(&lines).is_ok_and(|t| t.contains("GROUP \"G1\" MASTER 0"))
        }),
        "{daemon:?}: the script got no GROUP MASTER line:\n{}",
        daemon_log(&k)
    );
    let got_args = fs::read_to_string(&args)
        .unwrap_or_default()
        .trim()
        .to_string();
    k.stop().expect("stop");
    let gone = poll_until(STEP, || !fifo.exists());
    let lines = fs::read_to_string(&lines)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("STOP"))
        .map(str::to_string)
        .collect();
    (
        lines,
        got_args.replace(&dir.display().to_string(), "DIR"),
        gone,
    )
}

#[test]
fn fifo_script_and_group_lines_match_keepalived() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN, "cat", "sh"]) {
        return;
    }
    let lab = Lab::new("fifog", &["a"]).expect("lab");
    let (real, real_args, real_gone) = group_scenario(&lab, Real);
    let (ours, ours_args, ours_gone) = group_scenario(&lab, Ours);
    assert_eq!(
        real_args, "DIR/fifo",
        "keepalived 2.2.7 passes the FIFO's path"
    );
    assert_eq!(ours_args, real_args);
    assert!(real_gone, "keepalived 2.2.7 removes the FIFO it made");
    assert!(ours_gone, "ours must remove the FIFO it made");
    // The lines of each kind come in the same order; 2.2.7 writes the group's first BACKUP
    // before its members' (ours after), so kinds are compared apart.
    let kind = |lines: &[String], k: &str| -> Vec<String> {
        lines.iter().filter(|l| l.starts_with(k)).cloned().collect()
    };
    assert_eq!(
        kind(&ours, "GROUP"),
        kind(&real, "GROUP"),
        "ours (left) against 2.2.7"
    );
    let mut ours_inst = kind(&ours, "INSTANCE");
    let mut real_inst = kind(&real, "INSTANCE");
    // The two members' lines interleave in either order.
    ours_inst.sort();
    real_inst.sort();
    assert_eq!(ours_inst, real_inst, "ours (left) against 2.2.7");
    assert!(real.contains(&"GROUP \"G1\" MASTER 0".to_string()));
}

/// A sync group with `notify_priority_changes` and `sync_group_tracking_weight`: VI_1 takes
/// the group's setting, VI_2 says `notify_priority_changes false`; both track file `tf` with
/// weight 10. The priority lines the FIFO got when the file moves the priorities.
fn group_priority_scenario(lab: &Lab, daemon: Daemon) -> Vec<String> {
    let a = lab.host("a");
    let dir = a.dir().join(format!("p{daemon:?}"));
    fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let tf = dir.join("tf");
    fs::write(&tf, "0\n").expect("tf");
    let reader = Reader::start(&fifo, dir.join("lines"));
    let member = |name: &str, vrid: u8, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n\
             \x20   priority 100\n    advert_int 1\n{extra}\
             \x20   virtual_ipaddress {{\n        198.51.100.{vrid}/32\n    }}\n\
             \x20   track_file {{\n        tf weight 10\n    }}\n}}\n"
        )
    };
    let config = format!(
        "global_defs {{\n    router_id a\n    vrrp_notify_fifo {}\n}}\n\
         vrrp_track_file tf {{\n    file {}\n}}\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n\
         \x20   notify_priority_changes\n    sync_group_tracking_weight\n}}\n{}{}",
        fifo.display(),
        tf.display(),
        member("VI_1", 74, ""),
        member("VI_2", 75, "    notify_priority_changes false\n"),
    );
    let mut k = start(daemon, a, &config);
    wait_log(&k, "(VI_2) Entering MASTER STATE", TO_MASTER);
    wait_log(&k, "(VI_1) Entering MASTER STATE", STEP);
    fs::write(&tf, "2\n").expect("tf");
    wait_log(
        &k,
        "(VI_2) Changing effective priority from 100 to 120",
        STEP,
    );
    wait_log(
        &k,
        "(VI_1) Changing effective priority from 100 to 120",
        STEP,
    );
    k.stop().expect("stop");
    assert!(
        poll_until(STEP, || reader.lines().iter().any(|l| l.contains("STOP"))),
        "{daemon:?}: no STOP line; lines: {:?}\n{}",
        reader.lines(),
        daemon_log(&k)
    );
    reader
        .lines()
        .into_iter()
        .filter(|l| l.contains("_PRIORITY"))
        .collect()
}

#[test]
fn group_notify_priority_changes_match_keepalived() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN, "cat"]) {
        return;
    }
    let lab = Lab::new("fifon", &["a"]).expect("lab");
    let real = group_priority_scenario(&lab, Real);
    let ours = group_priority_scenario(&lab, Ours);
    assert_eq!(
        real,
        ["INSTANCE \"VI_1\" MASTER_PRIORITY 120"],
        "keepalived 2.2.7 wrote other lines than seen before"
    );
    assert_eq!(ours, real, "ours (left) against keepalived 2.2.7 (right)");
}

/// `-X` on an instance in FAULT (a weight-0 track file holding 1) with its VIP added by hand:
/// how many `removing … VIPs` lines the run logs, and whether the VIP is still there after
/// the stop.
fn release_scenario(lab: &Lab, daemon: Daemon, release: bool) -> (usize, bool) {
    let a = lab.host("a");
    let dir = a.dir().join(format!("x{daemon:?}{release}"));
    fs::create_dir_all(&dir).expect("dir");
    let tf = dir.join("tf");
    fs::write(&tf, "1\n").expect("tf");
    let config = format!(
        "global_defs {{\n    router_id a\n}}\n\
         vrrp_track_file tf {{\n    file {}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 74\n\
         \x20   priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        198.51.100.74/32\n    }}\n\
         \x20   track_file {{\n        tf weight 0\n    }}\n}}\n",
        tf.display()
    );
    let args: &[&str] = if release { &["-X"] } else { &[] };
    let mut k = start_args(daemon, a, &config, args);
    wait_log(&k, "entering FAULT state", STEP);
    // The line comes before the daemon has finished entering FAULT (2.2.7 clears the
    // instance's addresses then): under load a VIP added at once can still be cleared.
    std::thread::sleep(Duration::from_secs(1));
    a.run("ip", &["addr", "add", "198.51.100.74/32", "dev", "eth0"])
        .expect("adding the VIP by hand");
    std::thread::sleep(Duration::from_millis(500));
    k.stop().expect("stop");
    let removing = daemon_log(&k)
        .lines()
        .filter(|l| l.contains("removing") && l.contains("VIPs"))
        .count();
    let kept = a.has_address("198.51.100.74").unwrap_or(false);
    let _ = a.run("ip", &["addr", "del", "198.51.100.74/32", "dev", "eth0"]);
    (removing, kept)
}

#[test]
fn release_vips_matches_keepalived() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let lab = Lab::new("fifox", &["a"]).expect("lab");
    for daemon in [Real, Ours] {
        let (without, kept_without) = release_scenario(&lab, daemon, false);
        let (with, kept_with) = release_scenario(&lab, daemon, true);
        assert_eq!(
            with,
            without + 1,
            "{daemon:?}: -X adds one `removing VIPs` line for an instance that is not master"
        );
        assert!(
            kept_without && kept_with,
            "{daemon:?}: a VIP the daemon did not add stays, -X or not"
        );
    }
}

/// `-a` on a lone router: the addresses present at start, one added and removed by hand, and
/// not the daemon's own VIP.
fn address_scenario(lab: &Lab, daemon: Daemon) -> String {
    let a = lab.host("a");
    let config = "global_defs {\n    router_id a\n}\n\
         vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 75\n\
         \x20   priority 100\n    advert_int 1\n    virtual_ipaddress {\n        198.51.100.75/32\n    }\n}\n";
    let mut k = start_args(daemon, a, config, &["-a"]);
    wait_log(&k, "(VI_1) Entering MASTER STATE", TO_MASTER);
    a.run("ip", &["addr", "add", "203.0.113.9/24", "dev", "eth0"])
        .expect("adding an address");
    wait_log(
        &k,
        "Netlink reflector reports IP 203.0.113.9 added to eth0",
        STEP,
    );
    a.run("ip", &["addr", "del", "203.0.113.9/24", "dev", "eth0"])
        .expect("removing it");
    wait_log(
        &k,
        "Netlink reflector reports IP 203.0.113.9 removed from eth0",
        STEP,
    );
    k.stop().expect("stop");
    daemon_log(&k)
}

#[test]
fn address_monitoring_matches_keepalived() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let lab = Lab::new("fifoa", &["a"]).expect("lab");
    let own = format!(
        "Netlink reflector reports IP {} added to eth0",
        lab.host("a").address()
    );
    for daemon in [Real, Ours] {
        let text = address_scenario(&lab, daemon);
        assert!(
            text.contains(&own),
            "{daemon:?}: no `{own}` at start:\n{text}"
        );
        assert!(
            !text.contains("Netlink reflector reports IP 198.51.100.75 added to"),
            "{daemon:?}: the daemon's own VIP is not reported with -a:\n{text}"
        );
    }
}
