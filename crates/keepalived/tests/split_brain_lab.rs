//! A split brain healing (root only), run both ways against keepalived 2.2.7 (ours with ours,
//! ours on a with 2.2.7 on b, 2.2.7 on a with ours on b).
//!
//! a (priority 200) and b (100) share VI_1 (VRID 81, 192.0.2.100). a's bridge port is cut off
//! (its link stays up, so it stays master) until b is master too, then joined again.
//!
//! What keepalived 2.2.7 does, found by running it: the master that hears a lower-priority
//! advert logs `Received advert from B with lower priority 100, ours 200, forcing new
//! election`, answers with an advert at once and sends a burst of gratuitous ARPs; the lower
//! master that hears the higher advert yields silently, so when a's advert is the first to
//! cross, a never learns there were two masters and announces nothing (switches and hosts may
//! keep b's MAC for the address). keepalived-rs yields with one advert of its own first
//! (`higher_prio_send_advert`, on by default in ours), so the master that remains always
//! re-announces at once. Checked here: whenever b is ours, a (ours or 2.2.7) sends gratuitous
//! ARPs for the address within 2 s of the heal; in every pair the group converges on a.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keepalived_testlab::prelude::{Daemon, daemon_log, for_each_pair};
use keepalived_testlab::{Lab, VrrpInstance, garps};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP: &str = "192.0.2.100";
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(12);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn heal(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let instance = |priority| VrrpInstance::new(81, priority, &["192.0.2.100/32"]);
    let ka = x.start(OURS, a, &instance(200).render("a"));
    let kb = y.start(OURS, b, &instance(100).render("b"));
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "a never master:\n{}",
        daemon_log(&ka)
    );
    lab.isolate("a", true).expect("cut a off");
    assert!(
        b.wait_for_address(VIP, true, ELECTION),
        "b never master while a was cut off:\n{}",
        daemon_log(&kb)
    );
    assert!(a.has_address(VIP).unwrap_or(false), "a stays master");
    let mut capture = lab.capture_bridge().expect("capture");
    let healed_at = now();
    lab.isolate("a", false).expect("join a again");
    assert!(
        b.wait_for_address(VIP, false, ELECTION),
        "b kept {VIP} after the heal:\n{}",
        daemon_log(&kb)
    );
    std::thread::sleep(Duration::from_secs(2));
    capture.stop().expect("stop capture");
    assert!(
        a.has_address(VIP).unwrap_or(false),
        "a master after the heal"
    );
    let a_mac = a.mac("eth0").expect("a's MAC");
    let frames = capture.frames().expect("frames");
    let announced = garps(&frames).iter().any(|g| {
        g.sender_ip.to_string() == VIP
            && g.eth_src.eq_ignore_ascii_case(&a_mac)
            && g.time >= healed_at
            && g.time <= healed_at + 2.0
    });
    let heard_lower = daemon_log(&ka).contains("Received advert from");
    if y == Daemon::Ours || heard_lower {
        assert!(
            announced,
            "a ({x:?}) did not re-announce {VIP} within 2 s of the heal (b: {y:?});\na:\n{}\nb:\n{}",
            daemon_log(&ka),
            daemon_log(&kb)
        );
    }
    if y == Daemon::Ours {
        assert!(
            heard_lower,
            "b (ours) yielded without telling a:\n{}",
            daemon_log(&ka)
        );
    }
}

#[test]
fn a_healed_split_brain_is_announced_by_the_master_that_remains() {
    for_each_pair("heal", heal);
}
