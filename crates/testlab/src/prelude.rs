//! What the lab tests repeat, defined once: whether a lab can run, reading a daemon's log,
//! the lines that matter in it, and the protocol's timing formulas (from the engine itself,
//! so a test never carries a second copy of Master_Down_Interval).
//!
//! `use keepalived_testlab::prelude::*;`

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

pub use crate::{
    Host, KEEPALIVED_BIN, Keepalived, LAB_PROGRAMS, Lab, VrrpInstance, is_root, poll_until,
    require_programs, require_root,
};
pub use keepalived_vrrp::config::{
    master_down_interval, master_down_interval_for, skew_time, skew_time_for,
};
pub use keepalived_vrrp::packet::Version;

/// Which keepalived runs on a lab host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// keepalived-rs (the binary a test names).
    Ours,
    /// keepalived 2.2.7.
    Real,
}

/// (daemon on a, daemon on b) for a scenario run both ways against keepalived 2.2.7.
pub const PAIRS: [(Daemon, Daemon); 3] = [
    (Daemon::Ours, Daemon::Ours),
    (Daemon::Ours, Daemon::Real),
    (Daemon::Real, Daemon::Ours),
];

impl Daemon {
    /// The program this daemon runs: `ours` (our binary's path) or keepalived 2.2.7's.
    pub fn binary(self, ours: &str) -> &str {
        match self {
            Daemon::Ours => ours,
            Daemon::Real => KEEPALIVED_BIN,
        }
    }

    /// Starts this daemon on `host` with `config`; `ours` is our binary.
    pub fn start(self, ours: &str, host: &Host, config: &str) -> Keepalived {
        self.start_with_args(ours, host, config, &[])
    }

    /// Like [`Daemon::start`], with `args` added to the command line of either daemon. Ours
    /// gets a control socket in the host's directory, so daemons of labs running at the same
    /// time never share the default one.
    pub fn start_with_args(
        self,
        ours: &str,
        host: &Host,
        config: &str,
        args: &[&str],
    ) -> Keepalived {
        let socket = host.dir().join("ctl.sock").to_string_lossy().into_owned();
        let (binary, mut all): (&str, Vec<&str>) = match self {
            Daemon::Ours => (ours, vec!["--control-socket", &socket]),
            Daemon::Real => (KEEPALIVED_BIN, Vec::new()),
        };
        all.extend_from_slice(args);
        Keepalived::start_with(host, Path::new(binary), config, &all)
            .unwrap_or_else(|e| panic!("starting {self:?} on {}: {e:#}", host.name()))
    }
}

/// Runs `scenario` once per pair of [`PAIRS`], each in a lab of its own (hosts a and b) on a
/// thread of its own, all at the same time; fails naming every pair that failed. Skips (with
/// the reason printed) unless [`lab_ready`].
pub fn for_each_pair(tag: &str, scenario: fn(&Lab, Daemon, Daemon)) {
    if !lab_ready() {
        return;
    }
    let t0 = Instant::now();
    let results: Vec<thread::Result<Duration>> = thread::scope(|s| {
        let handles: Vec<_> = PAIRS
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                let name = format!("{tag}{i}");
                s.spawn(move || {
                    let t = Instant::now();
                    let lab = Lab::new(&name, &["a", "b"]).expect("lab");
                    scenario(&lab, x, y);
                    t.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut failed = Vec::new();
    for (&(x, y), result) in PAIRS.iter().zip(results) {
        match result {
            Ok(took) => eprintln!("{tag}: a={x:?} b={y:?} passed in {took:.1?}"),
            Err(panic) => failed.push(format!("a={x:?} b={y:?}: {}", panic_message(&*panic))),
        }
    }
    eprintln!("{tag}: {:.1?} for all pairs", t0.elapsed());
    assert!(
        failed.is_empty(),
        "{tag} failed for:\n{}",
        failed.join("\n")
    );
}

/// The message a panic carried.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "panicked".to_string())
}

/// Root and every lab program present; otherwise prints why the test is skipped.
pub fn lab_ready() -> bool {
    require_root() && require_programs(LAB_PROGRAMS)
}

/// A daemon's log so far (a test that cannot read it fails saying so).
pub fn daemon_log(k: &Keepalived) -> String {
    k.log().expect("daemon log")
}

/// How often `needle` appears in a daemon's log.
pub fn log_count(k: &Keepalived, needle: &str) -> usize {
    daemon_log(k).matches(needle).count()
}

/// A state line as both daemons write it: ours `VRRP_Instance(VI_1) Entering MASTER STATE`,
/// keepalived 2.x `(VI_1) Entering MASTER STATE`; this is the part they share. The first state
/// of an instance reads `… Entering BACKUP STATE (init)` in both, which this matches too.
pub fn entering(instance: &str, state: &str) -> String {
    format!("({instance}) Entering {state} STATE")
}

/// The `Entering … STATE` lines of a log, each from `(NAME)` on, so ours
/// (`Keepalived_vrrp[9]: VRRP_Instance(VI_1) Entering BACKUP STATE (init)`) and keepalived
/// 2.2.7's (`Fri Dec  4 …: (VI_1) Entering BACKUP STATE (init)`) compare equal.
pub fn state_changes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("Entering") && l.contains("STATE"))
        // The first `(` opens the instance's name in both (ours: `VRRP_Instance(`).
        .filter_map(|l| l.find('(').map(|at| l[at..].to_string()))
        .collect()
}

/// The lines of a log that say a daemon changed state or priority, or panicked.
pub fn state_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            l.contains("STATE") || l.contains("prio") || l.contains("FAULT") || l.contains("panic")
        })
        .collect()
}

/// The `reason count` pairs after `marker` on the first line holding it, as in
/// `VRRP_Instance(VI_1) dropped adverts: invalid passwd 3, Invalid VRRPv2 checksum 5`.
pub fn counts_after(text: &str, marker: &str) -> BTreeMap<String, u64> {
    let Some(list) = text.lines().find_map(|l| l.split(marker).nth(1)) else {
        return BTreeMap::new();
    };
    list.split(", ")
        .filter_map(|item| {
            let (reason, n) = item.trim().rsplit_once(' ')?;
            Some((reason.to_string(), n.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_and_state_lines_are_read_from_log_text() {
        let log = "x\nVRRP_Instance(VI_1) Entering MASTER STATE\n\
                   VRRP_Instance(VI_1) dropped adverts: invalid passwd 3, invalid TTL 12\n";
        assert_eq!(
            state_lines(log),
            vec!["VRRP_Instance(VI_1) Entering MASTER STATE"]
        );
        let counts = counts_after(log, "VRRP_Instance(VI_1) dropped adverts: ");
        assert_eq!(counts.get("invalid passwd"), Some(&3));
        assert_eq!(counts.get("invalid TTL"), Some(&12));
        assert!(log.contains(&entering("VI_1", "MASTER")));
        let start = "Fri Dec  4 02:50:31 2026: (VI_1) Entering BACKUP STATE (init)\n\
                     Keepalived_vrrp[9]: VRRP_Instance(VI_1) Entering BACKUP STATE (init)\n\
                     Keepalived_vrrp[9]: VRRP_Instance(VI_1) Transition to MASTER STATE\n";
        assert_eq!(
            state_changes(start),
            vec![
                "(VI_1) Entering BACKUP STATE (init)",
                "(VI_1) Entering BACKUP STATE (init)"
            ]
        );
        assert!(start.contains(&entering("VI_1", "BACKUP")));
    }

    #[test]
    fn the_lab_timing_is_the_engines() {
        assert_eq!(
            master_down_interval(Duration::from_secs(1), 100),
            Duration::from_micros(3_609_375)
        );
    }
}
