//! Reload (SIGHUP) of a running master in a lab (root only): the same reloads done to our
//! daemon and to keepalived 2.2.7, each alone on a host of its own lab at the same time, and
//! after each reload the state lines, the notify runs and the addresses on eth0 compared.
//!
//! What keepalived 2.2.7 does, observed (docs/compat.md, "Reload"): an instance whose
//! interface and VRID stay carries on whatever else changed (priority, addresses, advert
//! interval, nopreempt, its name): no state line, no notify, a master keeps its addresses, the
//! ones the reload removed are released (`ip address … no longer exist`) and, when one was
//! added, every address is announced again. Another VRID is another instance: the old one
//! sends priority 0, releases its addresses and runs its notify as FAULT; the new one logs
//! `Entering BACKUP STATE (init)`, notifies BACKUP, and becomes master after
//! Master_Down_Interval.
//!
//! Run: `cargo test -p keepalived --test reload_lab` (as root; the test returns early
//! otherwise, saying why).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, daemon_log, lab_ready, state_changes};
use keepalived_testlab::{Host, KEEPALIVED_BIN, Keepalived, Lab, poll_until, require_programs};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// Start-up plus Master_Down_Interval (3.4 s at priority 150), with room for a loaded machine.
const ELECTION: Duration = Duration::from_secs(15);
/// How long a reload may take to be logged as complete.
const RELOAD: Duration = Duration::from_secs(8);
/// After a reload: time for any state change or notify it might set off (a master's
/// Master_Down_Interval is not involved: nothing may happen at all).
const SETTLE: Duration = Duration::from_millis(1500);

/// The notify command: appends its arguments to `notify.log` beside it.
fn notify_script(host: &Host) -> String {
    let path = host.dir().join("notify.sh");
    let log = host.dir().join("notify.log");
    fs::write(
        &path,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .expect("notify script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// One vrrp_instance on eth0 with the generic notify; `garp_master_delay 0`, so the only
/// announcements are those of becoming master and of a reload.
struct Setup<'a> {
    name: &'a str,
    vrid: u8,
    priority: u8,
    advert: u8,
    nopreempt: bool,
    vips: &'a [&'a str],
}

impl Setup<'_> {
    fn render(&self, notify: &str) -> String {
        let vips: String = self
            .vips
            .iter()
            .map(|v| format!("        {v}/32\n"))
            .collect();
        format!(
            "global_defs {{\n    router_id reload\n    script_user root\n}}\n\
             vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n\
             \x20   virtual_router_id {vrid}\n    priority {priority}\n    advert_int {advert}\n\
             \x20   garp_master_delay 0\n\
             {nopreempt}\x20   notify \"{notify}\"\n    virtual_ipaddress {{\n{vips}    }}\n}}\n",
            name = self.name,
            vrid = self.vrid,
            priority = self.priority,
            advert = self.advert,
            nopreempt = if self.nopreempt {
                "    nopreempt\n"
            } else {
                ""
            },
        )
    }
}

const START: Setup<'static> = Setup {
    name: "VI_1",
    vrid: 61,
    priority: 150,
    advert: 1,
    nopreempt: false,
    vips: &["192.0.2.161"],
};

/// The reloads, in order, each from the one before.
fn steps() -> Vec<(&'static str, Setup<'static>)> {
    vec![
        (
            "priority up",
            Setup {
                priority: 200,
                ..START
            },
        ),
        (
            "priority down",
            Setup {
                priority: 120,
                ..START
            },
        ),
        (
            "a VIP added",
            Setup {
                priority: 120,
                vips: &["192.0.2.161", "192.0.2.162"],
                ..START
            },
        ),
        (
            "a VIP removed",
            Setup {
                priority: 120,
                vips: &["192.0.2.162"],
                ..START
            },
        ),
        (
            "advert_int and nopreempt",
            Setup {
                priority: 120,
                advert: 2,
                nopreempt: true,
                vips: &["192.0.2.162"],
                ..START
            },
        ),
        (
            "renamed",
            Setup {
                name: "VI_9",
                priority: 120,
                advert: 2,
                nopreempt: true,
                vips: &["192.0.2.162"],
                ..START
            },
        ),
        (
            "another VRID",
            Setup {
                name: "VI_9",
                vrid: 62,
                priority: 120,
                vips: &["192.0.2.162"],
                ..START
            },
        ),
    ]
}

/// What one reload did: state lines (from `(NAME)` on, so both daemons' prefixes compare),
/// notify runs, the lab's VIPs on eth0 afterwards, and whether the added VIP was announced.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    states: Vec<String>,
    notified: Vec<String>,
    vips: Vec<String>,
    announced: bool,
}

fn notified(host: &Host) -> Vec<String> {
    fs::read_to_string(host.dir().join("notify.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn vips(host: &Host) -> Vec<String> {
    let mut list: Vec<String> = host
        .addresses("eth0")
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.starts_with("192.0.2.16"))
        .collect();
    list.sort();
    list
}

/// Runs the start and every reload on `daemon`, alone in a lab of its own.
fn scenario(daemon: Daemon) -> Vec<(String, Seen)> {
    let tag = if daemon == Daemon::Real {
        "rlreal"
    } else {
        "rlours"
    };
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let host = lab.host("a");
    let notify = notify_script(host);
    let mut k: Keepalived = daemon.start(OURS, host, &START.render(&notify));
    assert!(
        host.wait_for_address("192.0.2.161", true, ELECTION)
            && k.wait_for_log("(VI_1) Entering MASTER STATE", ELECTION),
        "{daemon:?} never became master:\n{}",
        daemon_log(&k)
    );
    // The notify of becoming master runs on a task of its own: wait for it, so it is not
    // counted as the first reload's.
    assert!(
        poll_until(RELOAD, || notified(host)
            .iter()
            .any(|l| l == "INSTANCE VI_1 MASTER 150")),
        "{daemon:?}: no MASTER notify: {:?}",
        notified(host)
    );
    let mut seen = Vec::new();
    for (n, (what, setup)) in steps().into_iter().enumerate() {
        let (log_before, notify_before) = (daemon_log(&k), notified(host).len());
        k.write_config(&setup.render(&notify)).expect("config");
        k.reload().expect("SIGHUP");
        assert!(
            poll_until(RELOAD, || daemon_log(&k).matches("Reload complete").count()
                > n),
            "{daemon:?}: reload {what} not complete:\n{}",
            daemon_log(&k)
        );
        thread::sleep(SETTLE);
        if what == "another VRID" {
            // The new instance starts in BACKUP and takes over after Master_Down_Interval.
            assert!(
                poll_until(ELECTION, || daemon_log(&k)[log_before.len()..]
                    .contains("(VI_9) Entering MASTER STATE")),
                "{daemon:?}: the new instance never became master:\n{}",
                daemon_log(&k)
            );
            // Its notify runs on a task of its own.
            poll_until(RELOAD, || notified(host).len() >= notify_before + 3);
        }
        let log = daemon_log(&k);
        let added = &log[log_before.len().min(log.len())..];
        // Sorted: 2.2.7 runs the old instance's FAULT and the new one's BACKUP notify at the
        // same moment, each a process of its own, so either may write first.
        let mut runs = notified(host)[notify_before..].to_vec();
        runs.sort();
        seen.push((
            what.to_string(),
            Seen {
                states: state_changes(added),
                notified: runs,
                vips: vips(host),
                announced: added.contains("gratuitous ARPs on eth0 for 192.0.2.162"),
            },
        ));
    }
    k.stop().expect("stop");
    seen
}

#[test]
fn reload_carries_instances_on_as_keepalived_does() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| scenario(Daemon::Real));
        let ours = s.spawn(|| scenario(Daemon::Ours));
        (real.join(), ours.join())
    });
    let real = real.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let ours = ours.unwrap_or_else(|p| std::panic::resume_unwind(p));
    // What 2.2.7 did when this was written: the test also notices if it ever does otherwise.
    let quiet = |list: &[&str], announced: bool| Seen {
        states: Vec::new(),
        notified: Vec::new(),
        vips: list.iter().map(|v| format!("{v}/32")).collect(),
        announced,
    };
    let expected = vec![
        quiet(&["192.0.2.161"], false),
        quiet(&["192.0.2.161"], false),
        quiet(&["192.0.2.161", "192.0.2.162"], true),
        quiet(&["192.0.2.162"], false),
        quiet(&["192.0.2.162"], false),
        quiet(&["192.0.2.162"], false),
    ];
    for ((what, seen), want) in real.iter().zip(&expected) {
        assert_eq!(seen, want, "keepalived 2.2.7, {what}");
    }
    let (_, last) = &real[expected.len()];
    assert_eq!(
        last.states,
        [
            "(VI_9) Entering BACKUP STATE (init)",
            "(VI_9) Entering MASTER STATE"
        ],
        "keepalived 2.2.7, another VRID"
    );
    assert_eq!(
        last.notified,
        [
            "INSTANCE VI_9 BACKUP 120",
            "INSTANCE VI_9 FAULT 120",
            "INSTANCE VI_9 MASTER 120"
        ],
        "keepalived 2.2.7, another VRID"
    );
    for ((what, theirs), (_, mine)) in real.iter().zip(&ours) {
        assert_eq!(mine, theirs, "ours (left) against keepalived 2.2.7, {what}");
    }
}

/// What a master did when someone else removed its VIP: its state lines, its notify runs
/// (sorted), whether it said so, and whether the VIP came back.
fn vip_removed_scenario(daemon: Daemon) -> (Vec<String>, Vec<String>, bool, bool) {
    let tag = if daemon == Daemon::Real {
        "vdreal"
    } else {
        "vdours"
    };
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let host = lab.host("a");
    let notify = notify_script(host);
    let mut k: Keepalived = daemon.start(OURS, host, &START.render(&notify));
    assert!(
        host.wait_for_address("192.0.2.161", true, ELECTION)
            && poll_until(RELOAD, || notified(host)
                .iter()
                .any(|l| l == "INSTANCE VI_1 MASTER 150")),
        "{daemon:?} never became master:\n{}",
        daemon_log(&k)
    );
    let (log_before, notify_before) = (daemon_log(&k), notified(host).len());
    host.run("ip", &["addr", "del", "192.0.2.161/32", "dev", "eth0"])
        .expect("ip addr del");
    // Back after Skew_Time (0.41 s at priority 150), with room for a loaded machine.
    let back = poll_until(ELECTION, || {
        daemon_log(&k)[log_before.len()..].contains("(VI_1) Entering MASTER STATE")
            && host.has_address("192.0.2.161").unwrap_or(false)
    });
    poll_until(RELOAD, || notified(host).len() >= notify_before + 2);
    thread::sleep(SETTLE);
    let log = daemon_log(&k);
    let added = &log[log_before.len()..];
    let mut runs = notified(host)[notify_before..].to_vec();
    runs.sort();
    let said = added.contains("Netlink reflector reports IP 192.0.2.161 removed from eth0");
    k.stop().expect("stop");
    (state_changes(added), runs, said, back)
}

#[test]
fn a_vip_removed_under_a_master_is_taken_back_as_keepalived_does() {
    if !lab_ready() || !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| vip_removed_scenario(Daemon::Real));
        let ours = s.spawn(|| vip_removed_scenario(Daemon::Ours));
        (real.join(), ours.join())
    });
    let real = real.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let ours = ours.unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert_eq!(
        real,
        (
            vec![
                "(VI_1) Entering BACKUP STATE".to_string(),
                "(VI_1) Entering MASTER STATE".to_string()
            ],
            vec![
                "INSTANCE VI_1 BACKUP 150".to_string(),
                "INSTANCE VI_1 MASTER 150".to_string()
            ],
            true,
            true
        ),
        "keepalived 2.2.7 did otherwise than seen before"
    );
    assert_eq!(ours, real, "ours (left) against keepalived 2.2.7 (right)");
}
