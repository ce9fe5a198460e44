//! virtual_routes / virtual_rules and the static blocks against keepalived 2.2.7 (root only).
//!
//! Hosts a (priority 150) and b (priority 100) run the same configuration — static_ipaddress,
//! static_routes, static_rules, and an instance with virtual_routes and virtual_rules of most
//! kinds 2.2.7 accepts — once with 2.2.7 on a and ours on b, once the other way round, in two
//! labs at the same time. The routes of every table, the rules of both families and the
//! addresses of each host are read at the same points of both runs: a MASTER and b BACKUP;
//! the same after a reload of both that changes a static route, a virtual route and a
//! virtual rule; after a stops, b MASTER and a stopped; after b stops. Each point must read the same
//! whichever daemon ran there (the host's own address written as SELF), so ours installs and
//! removes what 2.2.7 does, in MASTER, in BACKUP and after the stop, both ways.

use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, lab_ready, panic_message};
use keepalived_testlab::{Host, Keepalived, Lab, VrrpInstance, poll_until};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "192.0.2.100";
const VRID: u8 = 81;
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(10);

const STATICS: &str = "static_ipaddress {
    198.51.100.10/24 dev eth0
}
static_routes {
    203.0.113.128/25 via 192.0.2.1 dev eth0
    blackhole 198.51.100.128/25 table 200
}
static_rules {
    from 198.51.100.10 table 200 priority 300
}
";

const ROUTES: &str = "virtual_routes {
        203.0.113.0/26 via 192.0.2.1 dev eth0 metric 7
        203.0.113.64/26 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2 dev eth0
        unreachable 198.51.100.0/26 table 201
        prohibit 198.51.100.64/26 table 201
        default via 192.0.2.1 dev eth0 table 202 src 192.0.2.100
        2001:db8:5::/48 dev eth0 mtu lock 1300 pref high
        203.0.113.192/27 dev eth0 protocol 99 no_track scope link
        203.0.113.224/27 via 192.0.2.1 or 192.0.2.2
        198.51.100.192/26 dev eth0 initcwnd 10 advmss 1400 rtt 300ms table 203
        2001:db8:6::/48 from 2001:db8:7::/48 dev eth0
        6 198.51.100.224/27 table 201
    }
    virtual_rules {
        from 192.0.2.100 table 201 priority 100
        to 203.0.113.0/24 fwmark 0x5/0xff table 202 priority 101
        from 2001:db8::/64 table 201 priority 102
        iif eth0 table 201 priority 103
        from all uidrange 100-200 lookup 201 priority 104
        not from 192.0.2.0/24 goto 110 priority 105
        from all table main suppress_prefixlength 0 priority 106
        from all prohibit priority 107
        from all ipproto tcp dport 443-444 table 202 priority 108
    }";

fn config(host: &Host, priority: u8) -> String {
    let instance = VrrpInstance::new(VRID, priority, &["192.0.2.100/24"]).extra(ROUTES);
    format!("{STATICS}{}", instance.render(host.name()))
}

/// The configuration after the reload: one static route, one virtual route and one virtual
/// rule changed.
fn reloaded_config(host: &Host, priority: u8) -> String {
    config(host, priority)
        .replace(
            "203.0.113.128/25 via 192.0.2.1 dev eth0",
            "203.0.113.128/25 via 192.0.2.2 dev eth0",
        )
        .replace(
            "203.0.113.0/26 via 192.0.2.1 dev eth0 metric 7",
            "203.0.113.0/26 via 192.0.2.1 dev eth0 metric 8",
        )
        .replace(
            "from all prohibit priority 107",
            "from all prohibit priority 109",
        )
}

/// Whether `host` shows the reloaded configuration's changes (and no longer the old lines).
fn reload_done(host: &Host, master: bool) -> bool {
    let s = snapshot(host);
    let statics = s.contains("203.0.113.128/25 via 192.0.2.2")
        && !s.contains("203.0.113.128/25 via 192.0.2.1");
    let virtuals = s.contains("109:")
        && !s.contains("107:")
        && s.contains("metric 8")
        && !s.contains("metric 7");
    statics && (!master || virtuals)
}

/// What a host holds: routes of every table (both families), rules (both families), addresses;
/// the host's own address as SELF, the link-local ones left out.
fn snapshot(host: &Host) -> String {
    let mut out = String::new();
    let me = host.address().to_string();
    let mine = format!("{me}/");
    // `ip route show table all` lists both families.
    for args in [
        &["-d", "route", "show", "table", "all"][..],
        &["rule"],
        &["-6", "rule"],
        &["-o", "addr"],
    ] {
        let got = host.run("ip", args).expect("ip");
        out.push_str(&format!("# ip {}\n", args.join(" ")));
        for line in String::from_utf8_lossy(&got.stdout).lines() {
            if line.contains("fe80") {
                continue;
            }
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| {
                    if w == me {
                        "SELF".to_string()
                    } else if let Some(len) = w.strip_prefix(&mine) {
                        format!("SELF/{len}")
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            out.push_str(&words.join(" "));
            out.push('\n');
        }
    }
    out
}

fn start(daemon: Daemon, host: &Host, priority: u8) -> Keepalived {
    let conf = config(host, priority);
    let started = match daemon {
        Daemon::Ours => {
            let socket = host.dir().join("ctl.sock");
            let socket = socket.to_string_lossy().into_owned();
            Keepalived::start_with(
                host,
                std::path::Path::new(OURS),
                &conf,
                &["--control-socket", &socket],
            )
        }
        Daemon::Real => Keepalived::start(host, &conf),
    };
    started.unwrap_or_else(|e| panic!("starting {daemon:?} on {}: {e:#}", host.name()))
}

/// Whether `host` shows every virtual route and rule (the last rule and route are there).
fn all_set(host: &Host) -> bool {
    let s = snapshot(host);
    s.contains("108:") && s.contains("198.51.100.192/26") && s.contains(VIP)
}

/// Whether `host` shows its static blocks.
fn statics_set(host: &Host) -> bool {
    let s = snapshot(host);
    s.contains("300:") && s.contains("198.51.100.128/25") && s.contains("198.51.100.10/24")
}

/// The snapshots of one run, by point.
#[derive(Debug)]
struct Points {
    a_master: String,
    b_backup: String,
    a_reloaded: String,
    b_reloaded: String,
    b_master: String,
    a_stopped: String,
    b_stopped: String,
    logs: String,
}

fn run(lab: &Lab, x: Daemon, y: Daemon) -> Points {
    let (a, b) = (lab.host("a"), lab.host("b"));
    // a first, master alone; then b joins as backup (started together, a slow start of a on
    // a loaded machine could let b's timer fire first).
    let mut ka = start(x, a, 150);
    assert!(
        poll_until(ELECTION, || all_set(a)),
        "a did not become master with its routes and rules:\n{}\n{}",
        snapshot(a),
        ka.log().unwrap_or_default()
    );
    let mut kb = start(y, b, 100);
    let logs = |ka: &Keepalived, kb: &Keepalived| {
        format!(
            "a ({x:?}):\n{}\nb ({y:?}):\n{}",
            ka.log().unwrap_or_default(),
            kb.log().unwrap_or_default()
        )
    };
    assert!(
        poll_until(ELECTION, || statics_set(b)),
        "b did not install its static blocks:\n{}\n{}",
        snapshot(b),
        logs(&ka, &kb)
    );
    // b stays backup past its Master_Down_Interval (3.6 s), with anything late landed.
    thread::sleep(Duration::from_millis(4500));
    let a_master = snapshot(a);
    let b_backup = snapshot(b);
    // A reload of both: what is gone goes, what is new comes, the states stay.
    ka.write_config(&reloaded_config(a, 150))
        .expect("config of a");
    kb.write_config(&reloaded_config(b, 100))
        .expect("config of b");
    ka.reload().expect("SIGHUP a");
    kb.reload().expect("SIGHUP b");
    assert!(
        poll_until(ELECTION, || reload_done(a, true) && reload_done(b, false)),
        "the reload did not land:\na:\n{}\nb:\n{}\n{}",
        snapshot(a),
        snapshot(b),
        logs(&ka, &kb)
    );
    thread::sleep(Duration::from_millis(1000));
    let a_reloaded = snapshot(a);
    let b_reloaded = snapshot(b);
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    assert!(
        poll_until(ELECTION, || all_set(b)),
        "b did not take over with its routes and rules:\n{}\n{}",
        snapshot(b),
        logs(&ka, &kb)
    );
    thread::sleep(Duration::from_millis(500));
    let b_master = snapshot(b);
    let a_stopped = snapshot(a);
    let status = kb.stop().expect("SIGTERM stops b");
    assert!(status.success(), "b exited with {status}");
    let b_stopped = snapshot(b);
    Points {
        a_master,
        b_backup,
        a_reloaded,
        b_reloaded,
        b_master,
        a_stopped,
        b_stopped,
        logs: logs(&ka, &kb),
    }
}

/// The lines of `left` and `right` that differ.
fn differences(left: &str, right: &str) -> String {
    let l: Vec<&str> = left.lines().collect();
    let r: Vec<&str> = right.lines().collect();
    let mut out = String::new();
    for line in l.iter().filter(|x| !r.contains(x)) {
        out.push_str(&format!("  2.2.7 only: {line}\n"));
    }
    for line in r.iter().filter(|x| !l.contains(x)) {
        out.push_str(&format!("  ours only:  {line}\n"));
    }
    out
}

#[test]
fn routes_and_rules_follow_the_state_as_in_2_2_7_both_ways() {
    if !lab_ready() {
        return;
    }
    let pairs = [(Daemon::Real, Daemon::Ours), (Daemon::Ours, Daemon::Real)];
    let results: Vec<thread::Result<Points>> = thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                s.spawn(move || {
                    let lab = Lab::new(&format!("rt{i}"), &["a", "b"]).expect("lab");
                    run(&lab, x, y)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut points = Vec::new();
    for (&(x, y), result) in pairs.iter().zip(results) {
        match result {
            Ok(p) => points.push(p),
            Err(panic) => panic!("a={x:?} b={y:?}: {}", panic_message(&*panic)),
        }
    }
    // Run 0: 2.2.7 on a, ours on b; run 1: ours on a, 2.2.7 on b.
    let (run0, run1) = (&points[0], &points[1]);
    let mut report = String::new();
    let mut compare = |what: &str, reference: &str, ours: &str| {
        let diff = differences(reference, ours);
        if !diff.is_empty() {
            report.push_str(&format!("{what}:\n{diff}"));
        }
    };
    compare("a MASTER", &run0.a_master, &run1.a_master);
    compare("a MASTER reloaded", &run0.a_reloaded, &run1.a_reloaded);
    compare("a stopped", &run0.a_stopped, &run1.a_stopped);
    compare("b BACKUP reloaded", &run1.b_reloaded, &run0.b_reloaded);
    compare("b BACKUP", &run1.b_backup, &run0.b_backup);
    compare("b MASTER", &run1.b_master, &run0.b_master);
    compare("b stopped", &run1.b_stopped, &run0.b_stopped);
    assert!(
        report.is_empty(),
        "ours and 2.2.7 differ (2.2.7 on the left):\n{report}\nrun 0 logs:\n{}\nrun 1 logs:\n{}",
        run0.logs,
        run1.logs
    );
    // What was compared is what the configuration asks for.
    assert!(run0.a_master.contains("203.0.113.0/26 via 192.0.2.1"));
    assert!(run0.a_master.contains("proto openr scope link"));
    // A source-specific IPv6 route, and a type given by its number (6: blackhole).
    assert!(
        run0.a_master
            .contains("2001:db8:6::/48 from 2001:db8:7::/48"),
        "{}",
        run0.a_master
    );
    assert!(
        run0.a_master.contains("blackhole 198.51.100.224/27"),
        "{}",
        run0.a_master
    );
    assert!(!run0.b_backup.contains("203.0.113.0/26"));
    assert!(run0.b_backup.contains("blackhole 198.51.100.128/25"));
    assert!(run0.a_reloaded.contains("109:"));
    assert!(!run0.a_reloaded.contains("107:"));
    assert!(!run0.a_stopped.contains("proto keepalived"));
    assert!(!run0.a_stopped.contains("198.51.100.10/24"));
}
