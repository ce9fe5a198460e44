//! The classic keepalived guide, for real (root only): two load balancers, each running
//! Debian's haproxy and a keepalived whose check is `killall -0 haproxy`, named without a path
//! as the guides write it. haproxy dies on the master; the VIP must move to the other node
//! within the check interval plus the backup's Skew_Time (RFC 3768 section 6.1), because the
//! failing weight-0 check puts the master in FAULT and it sends a priority-0 advert.
//!
//! Each node runs in a PID namespace of its own (with its own /proc), so `killall` on a node
//! sees only that node's haproxy, as on two machines. Pairs: ours on both nodes, and mixed
//! pairs with keepalived 2.2.7 on one node (a rolling upgrade).
//!
//! Run: `cargo test -p keepalived --test haproxy_lab` (as root with haproxy, killall, unshare,
//! nsenter and keepalived 2.2.7 installed; each test returns early otherwise).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::*;
use keepalived_testlab::{Proc, Signal};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "198.51.100.100";
const VIP_CIDR: &str = "198.51.100.100/32";

/// `interval 2`, as the guides write it.
const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Priorities of the two nodes: a is the master.
const MASTER_PRIORITY: u8 = 150;
const BACKUP_PRIORITY: u8 = 100;

/// Room for polling and a loaded two-core machine on top of the protocol's own bound.
const SLACK: Duration = Duration::from_millis(1000);

/// A node: its PID namespace holder, its haproxy and its keepalived.
struct Node {
    holder: Proc,
    haproxy: Proc,
    keepalived: Keepalived,
}

/// The config of the guides: no script security, `killall -0 haproxy` every 2 s, weight 0.
fn keepalived_config(name: &str, priority: u8) -> String {
    let instance = VrrpInstance::new(51, priority, &[VIP_CIDR])
        .auth_pass("secret12")
        .extra("track_script {\n        chk_haproxy\n    }");
    let text = instance.render(name);
    let script = format!(
        "\nvrrp_script chk_haproxy {{\n    script \"killall -0 haproxy\"\n    interval {}\n}}\n",
        CHECK_INTERVAL.as_secs()
    );
    match text.find("\nvrrp_instance") {
        Some(at) => format!("{}{script}{}", &text[..at], &text[at..]),
        None => panic!("no vrrp_instance in:\n{text}"),
    }
}

/// haproxy in front of one (absent) server: it only has to run.
fn haproxy_config() -> &'static str {
    "global\n    maxconn 64\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind :8080\n    default_backend be\n\nbackend be\n    server s1 203.0.113.80:80\n"
}

/// Starts a PID namespace with its own /proc in `host`, haproxy and `daemon` inside it.
fn start_node(host: &Host, daemon: Daemon, priority: u8) -> Node {
    let holder = host
        .spawn(
            "unshare",
            &["--pid", "--fork", "--mount-proc", "sleep", "600"],
        )
        .expect("PID namespace holder");
    let mut init = None;
    let found = poll_until(Duration::from_secs(5), || {
        init = namespace_init(holder.pid());
        init.is_some()
    });
    assert!(found, "the PID namespace's sleep did not start");
    let init = init.unwrap_or_default().to_string();
    let enter = ["nsenter", "-t", &init, "-p", "-m", "--"];
    let cfg = host.dir().join("haproxy.cfg");
    fs::write(&cfg, haproxy_config()).expect("haproxy config");
    let cfg_s = cfg.to_string_lossy().into_owned();
    let mut args: Vec<&str> = enter[1..].to_vec();
    args.extend_from_slice(&["haproxy", "-db", "-f", &cfg_s]);
    let haproxy = host.spawn("nsenter", &args).expect("haproxy");
    let wrapper = [
        "nsenter",
        "-t",
        &init,
        "-p",
        "-m",
        "--",
        "env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    let keepalived = Keepalived::start_wrapped(
        host,
        &wrapper,
        Path::new(daemon.binary(OURS)),
        &keepalived_config(host.name(), priority),
        &[],
    )
    .expect("keepalived");
    Node {
        holder,
        haproxy,
        keepalived,
    }
}

/// The pid (in this namespace) of the first child of `unshare --fork`: the PID namespace's init.
fn namespace_init(unshare: u32) -> Option<u32> {
    let child = first_child(unshare)?;
    let comm = fs::read_to_string(format!("/proc/{child}/comm")).ok()?;
    (comm.trim() == "sleep").then_some(child)
}

/// The first child of process `pid`.
fn first_child(pid: u32) -> Option<u32> {
    let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// Two nodes, `a` the master; haproxy is killed on `a` and the VIP must reach `b` in time.
fn failover(lab: &Lab, on_a: Daemon, on_b: Daemon) {
    let tag = format!("a={on_a:?} b={on_b:?}");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut node_a = start_node(a, on_a, MASTER_PRIORITY);
    let mut node_b = start_node(b, on_b, BACKUP_PRIORITY);
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(15)),
        "{tag}: a never held the VIP\n{}",
        node_a.keepalived.log().unwrap_or_default()
    );
    assert!(
        !b.has_address(VIP).unwrap_or(true),
        "{tag}: both hold the VIP"
    );
    // Let the first runs settle, then kill haproxy on the master.
    std::thread::sleep(Duration::from_secs(3));
    let killed = Instant::now();
    // haproxy alone, so that nsenter, its parent, reaps it at once as a service manager would.
    let haproxy_pid = first_child(node_a.haproxy.pid()).expect("haproxy's pid");
    keepalived_testlab::signal(haproxy_pid, Signal::Kill).expect("killing haproxy on a");
    let bound = CHECK_INTERVAL + skew_time(BACKUP_PRIORITY);
    let mut released = None;
    let moved = poll_until(bound + SLACK + Duration::from_secs(5), || {
        if released.is_none() && !a.has_address(VIP).unwrap_or(true) {
            released = Some(killed.elapsed());
        }
        b.has_address(VIP).unwrap_or(false)
    });
    let took = killed.elapsed();
    let log_a = node_a.keepalived.log().unwrap_or_default();
    let log_b = node_b.keepalived.log().unwrap_or_default();
    assert!(
        moved,
        "{tag}: the VIP never reached b\n--- a\n{log_a}\n--- b\n{log_b}"
    );
    assert!(
        poll_until(Duration::from_secs(2), || !a
            .has_address(VIP)
            .unwrap_or(true)),
        "{tag}: a kept the VIP in FAULT\n{log_a}"
    );
    eprintln!(
        "{tag}: haproxy killed on a ({on_a:?}); VIP off a after {released:.3?}, on b ({on_b:?}) after {took:.3?} (bound {bound:.3?} + {SLACK:?})"
    );
    assert!(
        took <= bound + SLACK,
        "{tag}: the VIP took {took:?}, more than the check interval plus Skew_Time ({bound:?}) + {SLACK:?}\n--- a\n{log_a}\n--- b\n{log_b}"
    );
    assert!(
        log_a.contains("resolved by path search to `"),
        "{tag}: a did not log the path search\n{log_a}"
    );
    assert!(
        log_a.contains("VRRP_Script(chk_haproxy) failed"),
        "{tag}: a never saw its check fail\n{log_a}"
    );
    let _ = node_a.keepalived.stop();
    let _ = node_b.keepalived.stop();
    let _ = node_b.haproxy.kill();
    let _ = node_a.holder.kill();
    let _ = node_b.holder.kill();
}

/// The three pairs (ours on both, 2.2.7 on a, 2.2.7 on b), each in its own lab, at once.
#[test]
fn haproxy_dies_and_the_vip_moves() {
    if !require_root() || !require_programs(&["haproxy", "killall", "unshare", "nsenter"]) {
        return;
    }
    for_each_pair("haproxy", failover);
}
