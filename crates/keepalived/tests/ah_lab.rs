//! `auth_type AH` (root only): VRRPv2 behind an IP authentication header (RFC 2338 section
//! 5.3.6.3), our daemon against our daemon and against keepalived 2.2.7 both ways.
//!
//! - the same password: an election and a hand-over; tshark decodes every advert as AH
//!   carrying VRRP (auth type 2, good checksum) and finds nothing malformed;
//! - another password: each side refuses the other's adverts (2.2.7's `IPSEC-AH : invalid
//!   IPSEC HMAC-MD5 value` line), both become master, and ours counts them as authentication
//!   failures (`dropped adverts: invalid passwd N` at the stop).

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, daemon_log, for_each_pair};
use keepalived_testlab::{Host, Keepalived, Lab, VrrpInstance, adverts};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(10);
const VRID: u8 = 81;
const VIP: &str = "192.0.2.181";
/// 2.2.7's line for an advert whose ICV does not match (ours words it the same).
const REFUSED: &str =
    "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !";

fn config(host: &Host, priority: u8, password: &str) -> String {
    VrrpInstance::new(VRID, priority, &["192.0.2.181/24", "192.0.2.182/24"])
        .extra(&format!(
            "authentication {{\n        auth_type AH\n        auth_pass {password}\n    }}"
        ))
        .render(host.name())
}

fn start(daemon: Daemon, host: &Host, config: &str) -> Keepalived {
    daemon.start(OURS, host, config)
}

/// The frames tshark marks malformed in a capture file.
fn malformed(path: &Path) -> String {
    let out = Command::new("tshark")
        .args(["-r", &path.to_string_lossy(), "-Y", "_ws.malformed"])
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn same_password(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut capture = lab
        .capture_bridge_filter("ip proto 51 or arp")
        .expect("capture");
    let mut ka = start(x, a, &config(a, 150, "secret12"));
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let mut kb = start(y, b, &config(b, 100, "secret12"));
    thread::sleep(Duration::from_millis(5000));
    assert!(
        !b.has_address(VIP).expect("addresses of b"),
        "two masters:\n{}",
        daemon_log(&kb)
    );
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    assert!(
        b.wait_for_address(VIP, true, Duration::from_secs(5)),
        "b did not take over:\n{}",
        daemon_log(&kb)
    );
    thread::sleep(Duration::from_millis(1500));
    let status = kb.stop().expect("SIGTERM stops b");
    assert!(status.success(), "b exited with {status}");
    for k in [&ka, &kb] {
        assert!(!daemon_log(k).contains(REFUSED), "{}", daemon_log(k));
    }
    let frames = capture.frames().expect("tshark decodes the capture");
    for host in [a, b] {
        let sent: Vec<_> = adverts(&frames)
            .into_iter()
            .filter(|v| v.src == host.address() && v.vrid == VRID)
            .collect();
        assert!(sent.len() >= 2, "{} sent {sent:#?}", host.name());
        for v in &sent {
            assert_eq!((v.auth_type, v.ttl, v.version), (Some(2), 255, 2), "{v:?}");
            assert!(v.checksum_good, "{v:?}");
        }
    }
    let bad = malformed(capture.path());
    assert!(bad.trim().is_empty(), "malformed frames:\n{bad}");
}

#[test]
fn ah_elects_and_hands_over_against_keepalived() {
    for_each_pair("ah", same_password);
}

fn other_password(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut ka = start(x, a, &config(a, 150, "secret12"));
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let mut kb = start(y, b, &config(b, 100, "wrongpw"));
    assert!(
        b.wait_for_address(VIP, true, ELECTION),
        "b heard a despite the other password:\n{}",
        daemon_log(&kb)
    );
    assert!(
        kb.wait_for_log(REFUSED, Duration::from_secs(3)),
        "b did not say why:\n{}",
        daemon_log(&kb)
    );
    assert!(
        ka.wait_for_log(REFUSED, Duration::from_secs(5)),
        "a did not refuse b's adverts:\n{}",
        daemon_log(&ka)
    );
    let status = kb.stop().expect("SIGTERM stops b");
    assert!(status.success(), "b exited with {status}");
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    for (k, daemon) in [(&ka, x), (&kb, y)] {
        let text = daemon_log(k);
        let lines = text.matches(REFUSED).count();
        if daemon == Daemon::Ours {
            let counted = text
                .lines()
                .find_map(|l| l.split("dropped adverts: invalid passwd ").nth(1))
                .and_then(|n| n.split(',').next())
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no `dropped adverts: invalid passwd N`:\n{text}"));
            assert_eq!(counted, lines, "{text}");
        }
        assert!(lines >= 1, "{text}");
    }
}

#[test]
fn ah_with_another_password_is_refused_and_counted() {
    for_each_pair("ahbad", other_password);
}

/// a (priority 150) is killed and starts again: as keepalived 2.2.7 does, it keeps one
/// sequence counter for what it sends and hears, so once it has heard b (master meanwhile) its
/// numbers follow b's and b takes them (a restarted peer that sent from 1 would be refused:
/// "sequence number 1 already processed"), and a is master again.
fn restarted_peer(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let a_config = config(a, 150, "secret12");
    let mut ka = start(x, a, &a_config);
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let mut kb = start(y, b, &config(b, 100, "secret12"));
    thread::sleep(Duration::from_millis(3000));
    ka.kill().expect("SIGKILL a");
    for vip in ["192.0.2.181/24", "192.0.2.182/24"] {
        let _ = a.run("ip", &["addr", "del", vip, "dev", "eth0"]);
    }
    assert!(
        b.wait_for_address(VIP, true, ELECTION),
        "b did not take over:\n{}",
        daemon_log(&kb)
    );
    thread::sleep(Duration::from_millis(2000));
    let mut ka = start(x, a, &a_config);
    assert!(
        b.wait_for_address(VIP, false, ELECTION),
        "b did not hear the restarted a:\n{}\na:\n{}",
        daemon_log(&kb),
        daemon_log(&ka)
    );
    assert!(a.wait_for_address(VIP, true, Duration::from_secs(3)));
    for k in [&ka, &kb] {
        assert!(
            !daemon_log(k).contains("already processed"),
            "{}",
            daemon_log(k)
        );
    }
    let _ = ka.stop();
    let _ = kb.stop();
}

#[test]
fn ah_a_restarted_peer_is_heard_again() {
    for_each_pair("ahseq", restarted_peer);
}
