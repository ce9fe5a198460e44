//! `vrrp_garp_interval` / `vrrp_gna_interval` and `garp_group` (root only): the gratuitous
//! ARPs and unsolicited neighbour advertisements a new master sends, captured on its
//! interface and decoded by tshark, for our daemon and for keepalived 2.2.7 with the same
//! configuration (each in a lab of its own, all at once):
//!
//! - global intervals: two instances on one interface, 6 IPv4 VIPs and 2 IPv6 ones,
//!   `garp_master_repeat 3`: two ARPs on the interface are never closer than
//!   `vrrp_garp_interval`, two NAs never closer than `vrrp_gna_interval` (less a small
//!   tolerance for the capture's clock), every address is announced, and none more than twice
//!   (an address already waiting is not queued again, as 2.2.7 does);
//! - a `garp_group` on the interface replaces the global intervals: ARPs spaced by its
//!   `garp_interval`, and its NAs, with no `gna_interval` in the group, not spaced at all: all
//!   `garp_master_repeat` of them per address.
//!
//! Only lower bounds on gaps are asserted, never an upper one. 2.2.7 is held to them from its
//! second frame of a family on: once, on a loaded machine, its first two ARPs left 65 ms apart
//! (interval 0.1 s) and one address went three times, the rest spaced as configured (its
//! next-send time seems taken from its event loop's cached clock; not pinned down). Ours is
//! held to every gap and to at most two sends per address.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;

use keepalived_testlab::ipv6::decode_v6;
use keepalived_testlab::prelude::{Daemon, daemon_log, lab_ready, panic_message};
use keepalived_testlab::{HOST_IF, Host, Keepalived, Lab, decode, garps, poll_until};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Start-up, Master_Down_Interval and the whole spaced burst, with room for a loaded machine.
const ANNOUNCED: Duration = Duration::from_secs(25);
/// How much closer than configured two of our captured frames may be (capture timestamps).
const TOLERANCE: f64 = 0.01;

/// How much closer than `interval` two frames of `daemon` may be. Ours reads the clock at each
/// send and is held to [`TOLERANCE`]; keepalived 2.2.7 computes its next send from a clock it
/// caches per event loop pass, and on a loaded machine (CI) was seen to send two ARPs 89 ms
/// apart at a 100 ms interval: it is held to three quarters of the interval, which still shows
/// that it spaces its announcements.
fn tolerance(daemon: Daemon, interval: f64) -> f64 {
    match daemon {
        Daemon::Ours => TOLERANCE,
        Daemon::Real => interval / 4.0,
    }
}

const V4: [&str; 6] = [
    "192.0.2.101",
    "192.0.2.102",
    "192.0.2.103",
    "192.0.2.104",
    "192.0.2.105",
    "192.0.2.106",
];
const V6: [&str; 2] = ["2001:db8::101", "2001:db8::102"];

/// Two instances on [`HOST_IF`], the first with 4 IPv4 VIPs and 2 IPv6 ones (excluded, so one
/// instance carries both families), the second with 2 IPv4 VIPs; `tail` is added at the end.
fn config(host: &Host, tail: &str) -> String {
    let instance = |name: &str, vrid: u8, vips: &[&str], excluded: &[&str]| {
        let mut s = format!(
            "vrrp_instance {name} {{\n interface {HOST_IF}\n state BACKUP\n\
             virtual_router_id {vrid}\n priority 100\n advert_int 1\n\
             garp_master_repeat 3\n garp_master_delay 0\n virtual_ipaddress {{\n"
        );
        for v in vips {
            s.push_str(&format!("  {v}/24\n"));
        }
        s.push_str(" }\n");
        if !excluded.is_empty() {
            s.push_str(" virtual_ipaddress_excluded {\n");
            for v in excluded {
                s.push_str(&format!("  {v}/64\n"));
            }
            s.push_str(" }\n");
        }
        s.push_str("}\n");
        s
    };
    format!(
        "global_defs {{\n router_id {}\n vrrp_garp_interval 0.1\n vrrp_gna_interval 0.15\n}}\n{}{}{tail}",
        host.name(),
        instance("A", 61, &V4[..4], &V6),
        instance("B", 62, &V4[4..], &[]),
    )
}

fn start(daemon: Daemon, host: &Host, config: &str) -> Keepalived {
    daemon.start(OURS, host, config)
}

/// The announcements of one capture: per family, (time, address) in capture order.
struct Announced {
    arps: Vec<(f64, IpAddr)>,
    nas: Vec<(f64, IpAddr)>,
}

impl Announced {
    /// What `path` holds; None when tshark cannot read it (yet).
    fn read(path: &Path) -> Option<Announced> {
        let frames = decode(path).ok()?;
        let arps = garps(&frames)
            .into_iter()
            .map(|g| (g.time, IpAddr::V4(g.sender_ip)))
            .filter(|(_, a)| V4.iter().any(|v| v.parse::<IpAddr>().ok() == Some(*a)))
            .collect();
        let (_, nas) = decode_v6(path).ok()?;
        let nas = nas
            .into_iter()
            .map(|n| (n.time, IpAddr::V6(n.target)))
            .filter(|(_, a)| V6.iter().any(|v| v.parse::<IpAddr>().ok() == Some(*a)))
            .collect();
        Some(Announced { arps, nas })
    }

    fn counts(list: &[(f64, IpAddr)]) -> BTreeMap<IpAddr, usize> {
        let mut counts = BTreeMap::new();
        for (_, a) in list {
            *counts.entry(*a).or_default() += 1;
        }
        counts
    }

    /// Every address of both families seen at least once.
    fn complete(&self) -> bool {
        Announced::counts(&self.arps).len() == V4.len()
            && Announced::counts(&self.nas).len() == V6.len()
    }
}

/// The smallest gap between two consecutive frames of `list`.
fn smallest_gap(list: &[(f64, IpAddr)]) -> f64 {
    list.windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(f64::INFINITY, f64::min)
}

/// Runs `daemon` with `tail` appended to [`config`] until every address was announced (and
/// for `settle` more, so that what else the burst sends is captured too), then returns what
/// was captured.
fn capture_burst(lab: &Lab, daemon: Daemon, tail: &str, settle: Duration) -> (Announced, String) {
    let host = lab.host("a");
    let mut capture = host
        .capture_filter(HOST_IF, "arp or icmp6")
        .expect("capture starts");
    let mut k = start(daemon, host, &config(host, tail));
    let complete = poll_until(ANNOUNCED, || {
        Announced::read(capture.path()).is_some_and(|a| a.complete())
    });
    // Once every address is out the burst is over; a short look more, so that a frame too
    // many would be seen.
    thread::sleep(settle);
    capture.stop().expect("capture stops");
    let log = daemon_log(&k);
    k.stop().expect("daemon stops");
    let announced = Announced::read(capture.path()).expect("tshark decodes the capture");
    assert!(
        complete,
        "{daemon:?}: not every address announced within {ANNOUNCED:?}: ARPs {:?}, NAs {:?}\n{log}",
        announced.arps, announced.nas
    );
    (announced, log)
}

fn global_intervals(lab: &Lab, daemon: Daemon) {
    let (seen, log) = capture_burst(lab, daemon, "", Duration::from_millis(300));
    let arp_gap = smallest_gap(held_to(daemon, &seen.arps));
    let na_gap = smallest_gap(held_to(daemon, &seen.nas));
    eprintln!(
        "{daemon:?}: {} ARPs, smallest gap {arp_gap:.3} s; {} NAs, smallest gap {na_gap:.3} s",
        seen.arps.len(),
        seen.nas.len()
    );
    assert!(
        arp_gap >= 0.1 - tolerance(daemon, 0.1),
        "{daemon:?}: ARPs {arp_gap:.3} s apart: {:?}",
        seen.arps
    );
    assert!(
        na_gap >= 0.15 - tolerance(daemon, 0.15),
        "{daemon:?}: NAs {na_gap:.3} s apart: {:?}",
        seen.nas
    );
    if daemon == Daemon::Ours {
        for (address, n) in Announced::counts(&seen.arps)
            .into_iter()
            .chain(Announced::counts(&seen.nas))
        {
            assert!(
                n <= 2,
                "{daemon:?}: {address} announced {n} times: {:?} {:?}",
                seen.arps,
                seen.nas
            );
        }
    }
    // 2.2.7 words the burst `Sending/queueing`, ours keeps the contract's `Sending`.
    let burst = match daemon {
        Daemon::Ours => "Sending",
        Daemon::Real => "Sending/queueing",
    };
    assert!(
        log.contains(&format!(
            "{burst} gratuitous ARPs on {HOST_IF} for 192.0.2.101"
        )),
        "{daemon:?}:\n{log}"
    );
}

/// The frames whose gaps `daemon` is held to: all of ours, 2.2.7's from the second on.
fn held_to(daemon: Daemon, list: &[(f64, IpAddr)]) -> &[(f64, IpAddr)] {
    match daemon {
        Daemon::Ours => list,
        Daemon::Real => list.get(1..).unwrap_or_default(),
    }
}

fn garp_group(lab: &Lab, daemon: Daemon) {
    let group =
        format!("garp_group {{\n garp_interval 0.25\n interfaces {{\n  {HOST_IF}\n }}\n}}\n");
    let (seen, _) = capture_burst(lab, daemon, &group, Duration::from_millis(300));
    let arp_gap = smallest_gap(held_to(daemon, &seen.arps));
    eprintln!(
        "{daemon:?} with a garp_group: {} ARPs, smallest gap {arp_gap:.3} s; NAs {:?}",
        seen.arps.len(),
        Announced::counts(&seen.nas)
    );
    assert!(
        arp_gap >= 0.25 - tolerance(daemon, 0.25),
        "{daemon:?}: ARPs {arp_gap:.3} s apart: {:?}",
        seen.arps
    );
    // The group has no gna_interval, and vrrp_gna_interval does not fill in: every round of
    // garp_master_repeat goes.
    for v6 in V6 {
        let address: IpAddr = v6.parse().expect("an IPv6 address");
        // 2.2.7 is held only to "all of them" (see the module's doc).
        let n = Announced::counts(&seen.nas).get(&address).copied();
        assert!(
            n == Some(3) || daemon == Daemon::Real && n.is_some_and(|n| n >= 3),
            "{daemon:?}: {address} announced {n:?} times: {:?}",
            seen.nas
        );
    }
}

#[test]
fn garps_and_nas_are_spaced_per_interface_as_2_2_7_spaces_them() {
    if !lab_ready() {
        return;
    }
    type Scenario = fn(&Lab, Daemon);
    let runs: [(&str, Scenario, Daemon); 4] = [
        ("gio", global_intervals, Daemon::Ours),
        ("gir", global_intervals, Daemon::Real),
        ("ggo", garp_group, Daemon::Ours),
        ("ggr", garp_group, Daemon::Real),
    ];
    let results: Vec<(String, thread::Result<()>)> = thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|&(tag, scenario, daemon)| {
                let handle = s.spawn(move || {
                    let lab = Lab::new(tag, &["a"]).expect("lab");
                    scenario(&lab, daemon);
                });
                (tag.to_string(), handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(tag, h)| (tag, h.join()))
            .collect()
    });
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|(tag, r)| r.err().map(|p| format!("{tag}: {}", panic_message(&*p))))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
