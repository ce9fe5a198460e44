//! The VRRP child reacting to links and addresses that come and go (root only), our daemon
//! and keepalived 2.2.7 on the same scenarios, each alone on a lab host of its own, both at
//! the same time; every step waits on a condition with a deadline.
//!
//! What keepalived 2.2.7 does, found by running it in namespaces (the truth these tests hold
//! ours to; ours writes `VRRP_Instance(VI_1) …` where 2.2.7 writes `(VI_1) …`, so needles
//! start at the parenthesis):
//!
//! - With `dynamic_interfaces`, an instance on an interface that does not exist logs
//!   `Configuration specifies interface eth9 which doesn't currently exist - will use if
//!   created`, then `(VI_1): entering FAULT state (interface eth9 down)`, `(VI_1) entering
//!   FAULT state (no IPv4 address for interface)` and `(VI_1) entering FAULT state`. Created
//!   and up it stays in FAULT until the interface has an IPv4 address, then enters BACKUP
//!   (then MASTER alone). Deleted: `(VI_1) Entering FAULT STATE` and `Interface eth9
//!   deleted`; created again with an address: BACKUP again.
//! - The address of the instance's interface removed: FAULT; back: BACKUP.
//! - Starting in FAULT names each cause: `(VI_1): entering FAULT state (interface trk0
//!   down)` for a weight-0 tracked interface, `(VI_2): entering FAULT state (tracked file tf
//!   has status -254)`; a tracked file that stops saying FAULT: `(VI_2): tracked file tf
//!   leaving FAULT state`.
//! - A `unicast_src_ip` not on the host: `bind unicast_src 203.0.113.7 failed 99 - Cannot
//!   assign requested address`, `(VI_3): entering FAULT state (src address not configured)`,
//!   `(VI_3) Entering FAULT STATE`; 2.2.7 stays in FAULT when the address is added later (its
//!   socket is never bound again), ours leaves FAULT then (docs/compat.md, deliberate
//!   differences) — the one place the two are held to different outcomes.
//!
//! Run: `cargo test -p keepalived --test dynamic_if_lab` (as root; skipped otherwise).

use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::Daemon::{self, Ours, Real};
use keepalived_testlab::prelude::{daemon_log, entering, lab_ready, panic_message};
use keepalived_testlab::{Host, Keepalived, Lab, poll_until};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Start-up, or a change seen and acted on, with room for a loaded machine.
const SOON: Duration = Duration::from_secs(8);
/// Entering BACKUP, then MASTER alone after Master_Down_Interval (about 3.6 s at priority
/// 100), with room for a loaded machine.
const TO_MASTER: Duration = Duration::from_secs(12);
/// How long a daemon is watched to show it does not do something.
const QUIET: Duration = Duration::from_secs(2);

/// Runs `scenario` for ours and for keepalived 2.2.7, each in a lab of its own, at the same
/// time; fails naming each daemon that failed.
fn both(tag: &str, scenario: fn(&Lab, Daemon)) {
    if !lab_ready() {
        return;
    }
    let results: Vec<(Daemon, thread::Result<()>)> = thread::scope(|s| {
        let handles: Vec<_> = [Ours, Real]
            .into_iter()
            .enumerate()
            .map(|(i, daemon)| {
                let name = format!("{tag}{i}");
                (
                    daemon,
                    s.spawn(move || {
                        let lab = Lab::new(&name, &["a"]).expect("lab");
                        scenario(&lab, daemon);
                    }),
                )
            })
            .collect();
        handles.into_iter().map(|(d, h)| (d, h.join())).collect()
    });
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|(d, r)| r.err().map(|p| format!("{d:?}: {}", panic_message(&*p))))
        .collect();
    assert!(
        failed.is_empty(),
        "{tag} failed for:\n{}",
        failed.join("\n")
    );
}

/// Runs `ip ARGS` on `host`; a failure fails the test.
fn ip(host: &Host, args: &[&str]) {
    let out = host.run("ip", args).expect("ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// Waits until the log of `k` holds `needle` `count` times.
fn wait_count(k: &Keepalived, needle: &str, count: usize, within: Duration) {
    assert!(
        poll_until(within, || daemon_log(k).matches(needle).count() >= count),
        "no {count}x {needle:?} within {within:?}; log:\n{}",
        daemon_log(k)
    );
}

/// Asserts the log of `k` holds `needle`.
fn has(k: &Keepalived, needle: &str) {
    let log = daemon_log(k);
    assert!(log.contains(needle), "no {needle:?} in:\n{log}");
}

/// Stops `k` and checks it exits cleanly.
fn stop(mut k: Keepalived) {
    let status = k.stop().expect("SIGTERM stops the daemon");
    assert!(status.success(), "exit {status}; log:\n{}", daemon_log(&k));
}

const DYNAMIC: &str = "global_defs {
    dynamic_interfaces
}
vrrp_instance VI_1 {
    interface eth9
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        203.0.113.100/32
    }
}
";

/// An instance on an interface that does not exist yet, with `dynamic_interfaces`.
fn missing_interface(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let k = daemon.start(OURS, a, DYNAMIC);
    wait_count(&k, "(VI_1) entering FAULT state", 1, SOON);
    has(
        &k,
        "Configuration specifies interface eth9 which doesn't currently exist - will use if created",
    );
    has(&k, "(VI_1): entering FAULT state (interface eth9 down)");
    has(
        &k,
        "(VI_1) entering FAULT state (no IPv4 address for interface)",
    );
    // Created and up, without an address: still FAULT.
    ip(
        a,
        &[
            "link", "add", "eth9", "type", "veth", "peer", "name", "eth8",
        ],
    );
    ip(a, &["link", "set", "eth8", "up"]);
    ip(a, &["link", "set", "eth9", "up"]);
    thread::sleep(QUIET);
    assert!(
        !daemon_log(&k).contains(&entering("VI_1", "BACKUP")),
        "left FAULT without an address:\n{}",
        daemon_log(&k)
    );
    // With an address: BACKUP, then MASTER alone.
    ip(a, &["addr", "add", "203.0.113.5/24", "dev", "eth9"]);
    wait_count(&k, &entering("VI_1", "MASTER"), 1, TO_MASTER);
    assert!(a.wait_for_address("203.0.113.100", true, SOON), "VIP");
    // The address removed: FAULT; back: MASTER again.
    ip(a, &["addr", "del", "203.0.113.5/24", "dev", "eth9"]);
    wait_count(&k, &entering("VI_1", "FAULT"), 1, SOON);
    assert!(a.wait_for_address("203.0.113.100", false, SOON), "VIP kept");
    ip(a, &["addr", "add", "203.0.113.5/24", "dev", "eth9"]);
    wait_count(&k, &entering("VI_1", "MASTER"), 2, TO_MASTER);
    // Deleted: FAULT.
    ip(a, &["link", "del", "eth9"]);
    wait_count(&k, &entering("VI_1", "FAULT"), 2, SOON);
    wait_count(&k, "Interface eth9 deleted", 1, SOON);
    // Created again (a new index), up with an address: MASTER again, adverts from it.
    ip(
        a,
        &[
            "link", "add", "eth9", "type", "veth", "peer", "name", "eth8",
        ],
    );
    ip(a, &["addr", "add", "203.0.113.5/24", "dev", "eth9"]);
    ip(a, &["link", "set", "eth8", "up"]);
    ip(a, &["link", "set", "eth9", "up"]);
    wait_count(&k, &entering("VI_1", "MASTER"), 3, TO_MASTER);
    assert!(a.wait_for_address("203.0.113.100", true, SOON), "VIP");
    stop(k);
}

#[test]
fn dynamic_interface_created_deleted_and_created_again() {
    both("dynif", missing_interface);
}

const CAUSES: &str = "track_file tf {
    file TF_PATH
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    track_interface {
        trk0
    }
    virtual_ipaddress {
        203.0.113.101/32
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    track_file {
        tf weight 0
    }
    virtual_ipaddress {
        203.0.113.102/32
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    priority 100
    advert_int 1
    unicast_src_ip 203.0.113.7
    unicast_peer {
        203.0.113.8
    }
    virtual_ipaddress {
        203.0.113.103/32
    }
}
";

/// Instances starting in FAULT for a tracked interface, a tracked file and a unicast source
/// not on the host, then each cause going away.
fn fault_causes(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    // A veth pair whose trk0 end stays down.
    ip(
        a,
        &[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ],
    );
    ip(a, &["link", "set", "trk1", "up"]);
    let tf = a.dir().join("tf");
    std::fs::write(&tf, "1\n").expect("track file");
    let conf = CAUSES.replace("TF_PATH", &tf.to_string_lossy());
    let k = daemon.start(OURS, a, &conf);
    wait_count(
        &k,
        "(VI_3): entering FAULT state (src address not configured)",
        1,
        SOON,
    );
    wait_count(&k, "(VI_2) entering FAULT state", 1, SOON);
    has(&k, "(VI_1): entering FAULT state (interface trk0 down)");
    has(&k, "(VI_1) entering FAULT state");
    has(
        &k,
        "(VI_2): entering FAULT state (tracked file tf has status -254)",
    );
    has(
        &k,
        "bind unicast_src 203.0.113.7 failed 99 - Cannot assign requested address",
    );
    // 2.2.7 writes this line just after the one above.
    wait_count(&k, &entering("VI_3", "FAULT"), 1, SOON);
    // The file says 0: VI_2 leaves FAULT.
    std::fs::write(&tf, "0\n").expect("track file");
    wait_count(&k, "(VI_2): tracked file tf leaving FAULT state", 1, SOON);
    wait_count(&k, &entering("VI_2", "BACKUP"), 1, SOON);
    // trk0 up: VI_1 leaves FAULT; down again: FAULT.
    ip(a, &["link", "set", "trk0", "up"]);
    wait_count(&k, "Netlink reports trk0 up", 1, SOON);
    wait_count(&k, &entering("VI_1", "BACKUP"), 1, SOON);
    ip(a, &["link", "set", "trk0", "down"]);
    wait_count(&k, "Netlink reports trk0 down", 1, SOON);
    wait_count(&k, &entering("VI_1", "FAULT"), 1, SOON);
    // The unicast source appears: 2.2.7 stays in FAULT, ours leaves it (a deliberate
    // difference).
    ip(a, &["addr", "add", "203.0.113.7/24", "dev", "eth0"]);
    match daemon {
        Ours => wait_count(&k, &entering("VI_3", "BACKUP"), 1, SOON),
        Real => {
            thread::sleep(QUIET);
            assert!(
                !daemon_log(&k).contains(&entering("VI_3", "BACKUP")),
                "2.2.7 left FAULT:\n{}",
                daemon_log(&k)
            );
        }
    }
    stop(k);
}

#[test]
fn start_in_fault_names_its_causes() {
    both("fltcause", fault_causes);
}

const ROUTES: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        203.0.113.100/32
    }
    virtual_routes {
        198.51.100.0/24 dev eth0
        198.51.100.128/25 dev eth0 table 100 no_track
    }
    virtual_rules {
        from 203.0.113.100 table 100 priority 200
    }
}
";

/// Whether `ip ARGS` on `host` prints something.
fn listed(host: &Host, args: &[&str]) -> bool {
    let out = host.run("ip", args).expect("ip");
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// A master whose tracked virtual route or rule is deleted steps down and takes over again,
/// setting them again; deleting a `no_track` one changes nothing.
fn tracked_policy(lab: &Lab, daemon: Daemon) {
    let a = lab.host("a");
    let k = daemon.start(OURS, a, ROUTES);
    wait_count(&k, &entering("VI_1", "MASTER"), 1, TO_MASTER);
    let route = ["route", "show", "198.51.100.0/24"];
    assert!(poll_until(SOON, || listed(a, &route)), "route set");
    // Both daemons log BACKUP once at start (2.2.7 with ` (init)`).
    let backup = entering("VI_1", "BACKUP");
    let backups = daemon_log(&k).matches(&backup).count();
    ip(a, &["route", "del", "198.51.100.128/25", "table", "100"]);
    thread::sleep(QUIET);
    assert_eq!(
        daemon_log(&k).matches(&backup).count(),
        backups,
        "a no_track route moved it:\n{}",
        daemon_log(&k)
    );
    ip(a, &["route", "del", "198.51.100.0/24"]);
    wait_count(&k, &backup, backups + 1, SOON);
    wait_count(&k, &entering("VI_1", "MASTER"), 2, SOON);
    assert!(poll_until(SOON, || listed(a, &route)), "route set again");
    ip(a, &["rule", "del", "priority", "200"]);
    wait_count(&k, &backup, backups + 2, SOON);
    wait_count(&k, &entering("VI_1", "MASTER"), 3, SOON);
    let rule = ["rule", "show", "priority", "200"];
    assert!(poll_until(SOON, || listed(a, &rule)), "rule set again");
    stop(k);
}

#[test]
fn deleted_tracked_route_or_rule_makes_the_master_step_down() {
    both("trkroute", tracked_policy);
}
