//! The chaos soak (issue 7): three daemons with 50 VRRP instances each, while a seeded loop
//! flaps links, flips check scripts, reloads, kills VRRP children with SIGKILL, restarts
//! daemons, drains and undrains instances and talks to the daemons' control sockets (issue
//! 16); the invariants are checked all along and at the end.
//!
//! The lab (crates/testlab) has hosts `a`, `b`, `c` on 192.0.2.0/24, each running our daemon
//! (or, on `c`, another keepalived given in [`Settings::reference`]). Every host has VRIDs
//! 1..=50 on `eth0` with VIP 198.51.100.V/32, `advert_int 1`, preemption on; host
//! `(V - 1) mod 3` is VRID V's preferred master (priority 150), the next one 120, the last 100.
//! Each host has a flag file and two `vrrp_script`s that run `/usr/bin/test -f FLAG` every
//! second: `chk_down` (weight -60, tracked by VRIDs V ≡ 1 mod 4, so a preferred master drops to
//! 90 and the master moves) and `chk_fault` (weight 0, tracked by VRIDs V ≡ 3 mod 4: FAULT).
//!
//! The chaos loop runs rounds of the seven [`StepKind`]s in a seeded random order, with a
//! random pause of 0.5–2.5 s after each step, until [`Settings::duration`] has passed. A
//! *fault* starts with a step and *heals* when the link is back up, the flag file is back,
//! the killed VRRP child has been respawned or the restarted daemon's VRRP child runs; a drain
//! or an undrain heals its VRID at once (the VIP may move then, as at any preemption).
//!
//! Our daemons run with `--control-socket` in their host's directory ([`control`]). A *drain*
//! step drains one instance of one of our hosts (or undrains one it drained); an instance stays
//! drained until the soak undrains it, or its host's VRRP child is killed or the daemon
//! restarted (the drain is the VRRP process's and goes with it: the soak forgets it then). The
//! invariant: a drained instance never becomes MASTER — from [`control::DRAIN_GRACE`] after
//! the drain was answered, no holder sample may see its VIP on its host, its daemon's log may
//! not say `(VI_V) Entering MASTER STATE` after the drain, and `status` may not show it MASTER.
//! A *control* step sends `status` (every instance listed once, drained exactly as the soak
//! drained them), `show` of a random instance and two malformed requests (each must be refused
//! with an error naming the problem, and change nothing: `status` is checked again after).
//! At the end every host gets `undrain --all` and must then show nothing drained.
//!
//! A sampler thread reads every host's addresses (one `ip -j -4 addr show` per host) every
//! 200 ms. Per VRID, an interval in which two or more hosts hold the VIP is an *overlap*; its
//! *charged* duration is counted from the later of its first sample and the last heal of a
//! fault affecting that VRID, and not at all while such a fault is active. An overlap is a
//! violation when its charged duration exceeds Master_Down_Interval at the lowest effective
//! priority of the lab (100 - 60 = 40: 3 + 216/256 = 3.84 s) plus 1 s. The sampler also
//! records, every 10 s, the RSS and open fds of each daemon's process tree (the processes
//! running the daemon's binary below its parent).
//!
//! At the end the flags are restored, and within 10 s every VIP must be held by its preferred
//! master only, and every daemon's log must show that host as MASTER and the others as BACKUP
//! for every VRID. Memory must stay flat: RSS at the end at most 1.2 × the start + 1 MiB, open
//! fds at the end within ±3 of the start (a running check script adds one or two for its
//! lifetime; a leak adds at least one per event, of which a soak has dozens).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keepalived_testlab::{Host, Keepalived, Lab, Signal, VrrpInstance, render_config, signal};

pub mod control;

/// The VRIDs of every host: 1..=`VRIDS`.
pub const VRIDS: u8 = 50;
/// The lab's hosts, in order; a host's index is its position here.
pub const HOSTS: [&str; 3] = ["a", "b", "c"];
/// Base priorities by rank: the preferred master, the second, the last.
pub const PRIORITIES: [u8; 3] = [150, 120, 100];
/// What a failing `chk_down` subtracts from the priority.
pub const SCRIPT_PENALTY: u8 = 60;
/// `advert_int` of every instance.
pub const ADVERT_INTERVAL: Duration = Duration::from_secs(1);
/// How often the holders of the VIPs are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How often RSS and open fds are sampled.
pub const RESOURCE_EVERY: Duration = Duration::from_secs(10);
/// How long the lab may take to converge after the chaos ends.
pub const CONVERGENCE: Duration = Duration::from_secs(10);
/// How long the lab may take to elect the preferred masters after start-up.
pub const START_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a VRRP child may take to be running after a SIGKILL or a restart.
pub const RESPAWN_TIMEOUT: Duration = Duration::from_secs(15);
/// A VRRP child younger than this is not killed: a child that dies again soon after a respawn
/// is restarted with back-off (compat.md section 3), which would only slow the soak down.
pub const MIN_CHILD_AGE: Duration = Duration::from_secs(12);
/// The check scripts' program.
pub const TEST_PROGRAM: &str = "/usr/bin/test";

/// What the soak runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Our daemon's binary.
    pub ours: PathBuf,
    /// Another keepalived (say 2.2.7) to run on host `c` instead of ours (`--mixed`).
    pub reference: Option<PathBuf>,
    /// How long the chaos loop starts new steps.
    pub duration: Duration,
    /// The seed of the step order, targets and timings.
    pub seed: u64,
}

/// A small deterministic random number generator (SplitMix64): the same seed gives the same
/// soak on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A duration between `lo_ms` and `hi_ms` milliseconds, both included.
    pub fn millis(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        let span = hi_ms.saturating_sub(lo_ms);
        Duration::from_millis(lo_ms + self.below(span + 1))
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

/// One kind of chaos step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    /// Take a host's bridge port down for 2–5 s, then up again.
    Flap,
    /// Remove a host's flag file (its check scripts fail), or create it again.
    Flip,
    /// SIGHUP a daemon with its configuration unchanged.
    Hup,
    /// SIGKILL a daemon's VRRP child; the parent respawns it.
    KillChild,
    /// SIGTERM a daemon, wait 1–3 s, start it again.
    Restart,
    /// Drain an instance of one of our daemons over its control socket, or undrain one.
    Drain,
    /// Control-socket traffic: `status`, `show`, malformed requests.
    Control,
}

impl StepKind {
    /// Every kind, in the order of the summary.
    pub const ALL: [StepKind; 7] = [
        StepKind::Flap,
        StepKind::Flip,
        StepKind::Hup,
        StepKind::KillChild,
        StepKind::Restart,
        StepKind::Drain,
        StepKind::Control,
    ];

    /// The short name the summary uses.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Flap => "link flap",
            StepKind::Flip => "script flip",
            StepKind::Hup => "SIGHUP",
            StepKind::KillChild => "kill -9 child",
            StepKind::Restart => "restart",
            StepKind::Drain => "drain/undrain",
            StepKind::Control => "control socket",
        }
    }

    fn index(self) -> usize {
        match self {
            StepKind::Flap => 0,
            StepKind::Flip => 1,
            StepKind::Hup => 2,
            StepKind::KillChild => 3,
            StepKind::Restart => 4,
            StepKind::Drain => 5,
            StepKind::Control => 6,
        }
    }
}

/// Which check script an instance tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// None.
    None,
    /// `chk_down`: a failure lowers the priority by [`SCRIPT_PENALTY`].
    Penalty,
    /// `chk_fault`: a failure puts the instance in FAULT (weight 0).
    Fault,
}

/// The check script VRID `vrid` tracks: `chk_down` for V ≡ 1 mod 4, `chk_fault` for V ≡ 3
/// mod 4, none for even VRIDs.
pub fn tracking(vrid: u8) -> Tracking {
    match vrid % 4 {
        1 => Tracking::Penalty,
        3 => Tracking::Fault,
        _ => Tracking::None,
    }
}

/// The VRIDs whose instances track a check script.
pub fn tracked_vrids() -> Vec<u8> {
    all_vrids()
        .into_iter()
        .filter(|&v| tracking(v) != Tracking::None)
        .collect()
}

/// VRIDs 1..=[`VRIDS`].
pub fn all_vrids() -> Vec<u8> {
    (1..=VRIDS).collect()
}

/// The virtual address of VRID `vrid`: 198.51.100.V.
pub fn vip(vrid: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, vrid)
}

/// The host (index into [`HOSTS`]) that should be VRID `vrid`'s master when all is well.
pub fn preferred_host(vrid: u8) -> usize {
    usize::from(vrid.saturating_sub(1)) % HOSTS.len()
}

/// The base priority of host `host`'s instance for VRID `vrid`.
pub fn priority(host: usize, vrid: u8) -> u8 {
    let rank = (host + HOSTS.len() - preferred_host(vrid)) % HOSTS.len();
    PRIORITIES[rank]
}

/// The lowest priority any instance of the lab can advertise (a base priority lowered by a
/// failing `chk_down`).
pub fn lowest_priority() -> u8 {
    (0..HOSTS.len())
        .flat_map(|h| all_vrids().into_iter().map(move |v| (h, v)))
        .map(|(h, v)| match tracking(v) {
            Tracking::Penalty => priority(h, v).saturating_sub(SCRIPT_PENALTY).max(1),
            _ => priority(h, v),
        })
        .min()
        .unwrap_or(1)
}

/// Master_Down_Interval (RFC 3768 section 6.1) as the engine computes it.
pub fn master_down_interval(priority: u8, advert: Duration) -> Duration {
    keepalived_testlab::prelude::master_down_interval(advert, priority)
}

/// How long an overlap may last after the last fault affecting it healed:
/// Master_Down_Interval at [`lowest_priority`] plus 1 s.
pub fn overlap_limit() -> Duration {
    master_down_interval(lowest_priority(), ADVERT_INTERVAL) + Duration::from_secs(1)
}

/// The configuration of host `host`, whose check scripts test for `flag`.
pub fn render(host: usize, flag: &Path) -> String {
    let name = HOSTS.get(host).copied().unwrap_or("x");
    let instances: Vec<VrrpInstance> = all_vrids()
        .into_iter()
        .map(|v| {
            let mut inst = VrrpInstance::new(v, priority(host, v), &[&format!("{}/32", vip(v))])
                .named(&format!("VI_{v}"));
            if v == 1 {
                inst.global_extra =
                    vec!["script_user root".into(), "enable_script_security".into()];
            }
            match tracking(v) {
                Tracking::Penalty => inst = inst.extra("track_script {\n        chk_down\n    }"),
                Tracking::Fault => inst = inst.extra("track_script {\n        chk_fault\n    }"),
                Tracking::None => {}
            }
            inst
        })
        .collect();
    let mut text = render_config(&format!("soak_{name}"), &instances);
    let mut scripts = String::new();
    for (script, weight) in [
        ("chk_down", format!("-{SCRIPT_PENALTY}")),
        ("chk_fault", "0".into()),
    ] {
        let _ = write!(
            scripts,
            "\nvrrp_script {script} {{\n    script \"{TEST_PROGRAM} -f {}\"\n    interval 1\n    \
             weight {weight}\n    fall 1\n    rise 1\n}}\n",
            flag.display()
        );
    }
    // After global_defs (its first closing brace), before the instances.
    let at = text.find("\n}\n").map_or(0, |end| end + 3);
    text.insert_str(at, &scripts);
    text
}

/// Active faults and the last heal, per VRID.
#[derive(Debug, Clone)]
pub struct Faults {
    active: Vec<u32>,
    healed: Vec<Option<Instant>>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new()
    }
}

impl Faults {
    /// No faults yet, for VRIDs 1..=[`VRIDS`].
    pub fn new() -> Faults {
        Faults {
            active: vec![0; usize::from(VRIDS)],
            healed: vec![None; usize::from(VRIDS)],
        }
    }

    /// A fault affecting `vrids` starts.
    pub fn begin(&mut self, vrids: &[u8]) {
        for &v in vrids {
            if let Some(n) = self.active.get_mut(usize::from(v).wrapping_sub(1)) {
                *n += 1;
            }
        }
    }

    /// A fault affecting `vrids` healed at `at`.
    pub fn heal(&mut self, vrids: &[u8], at: Instant) {
        for &v in vrids {
            let i = usize::from(v).wrapping_sub(1);
            if let Some(n) = self.active.get_mut(i) {
                *n = n.saturating_sub(1);
            }
            if let Some(h) = self.healed.get_mut(i) {
                *h = Some(h.map_or(at, |old| old.max(at)));
            }
        }
    }

    /// Whether a fault affecting `vrid` is active.
    pub fn is_active(&self, vrid: u8) -> bool {
        self.active
            .get(usize::from(vrid).wrapping_sub(1))
            .is_some_and(|&n| n > 0)
    }

    /// When the last fault affecting `vrid` healed.
    pub fn last_heal(&self, vrid: u8) -> Option<Instant> {
        self.healed
            .get(usize::from(vrid).wrapping_sub(1))
            .copied()
            .flatten()
    }
}

/// A closed interval in which two or more hosts held one VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The VRID.
    pub vrid: u8,
    /// When it was first seen, from the start of the chaos.
    pub start: Duration,
    /// From its first to its last sample.
    pub raw: Duration,
    /// The longest time it was seen without a fault to excuse it (see the module doc).
    pub charged: Duration,
    /// Every host (index) seen holding the VIP during it.
    pub holders: Vec<usize>,
}

#[derive(Debug, Clone)]
struct OpenOverlap {
    first: Instant,
    last: Instant,
    clock: Instant,
    charged: Duration,
    holders: BTreeSet<usize>,
}

/// Turns samples of the VIP holders into [`Overlap`]s, and tracks the longest time a VIP had
/// no holder.
#[derive(Debug, Clone)]
pub struct OverlapTracker {
    origin: Instant,
    open: Vec<Option<OpenOverlap>>,
    gaps: Vec<Option<Instant>>,
    closed: Vec<Overlap>,
    longest_gap: Gap,
}

/// The longest time one VIP had no holder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gap {
    /// The VRID (0 when no VIP ever lacked a holder).
    pub vrid: u8,
    /// When it started, from the start of the chaos.
    pub start: Duration,
    /// How long it lasted.
    pub length: Duration,
}

impl OverlapTracker {
    /// A tracker whose reported times count from `origin`.
    pub fn new(origin: Instant) -> OverlapTracker {
        OverlapTracker {
            origin,
            open: vec![None; usize::from(VRIDS)],
            gaps: vec![None; usize::from(VRIDS)],
            closed: Vec::new(),
            longest_gap: Gap::default(),
        }
    }

    /// Records that at `at` the hosts `holders` held VRID `vrid`'s VIP.
    pub fn observe(&mut self, at: Instant, vrid: u8, holders: &BTreeSet<usize>, faults: &Faults) {
        let i = usize::from(vrid).wrapping_sub(1);
        let (Some(slot), Some(gap)) = (self.open.get_mut(i), self.gaps.get_mut(i)) else {
            return;
        };
        if holders.is_empty() {
            let since = *gap.get_or_insert(at);
            let length = at.saturating_duration_since(since);
            if length > self.longest_gap.length {
                self.longest_gap = Gap {
                    vrid,
                    start: since.saturating_duration_since(self.origin),
                    length,
                };
            }
        } else {
            *gap = None;
        }
        if holders.len() < 2 {
            if let Some(open) = slot.take() {
                self.close(vrid, open);
            }
            return;
        }
        let open = slot.get_or_insert_with(|| OpenOverlap {
            first: at,
            last: at,
            clock: at,
            charged: Duration::ZERO,
            holders: BTreeSet::new(),
        });
        open.last = at;
        open.holders.extend(holders.iter().copied());
        if faults.is_active(vrid) {
            open.clock = at;
        } else if let Some(healed) = faults.last_heal(vrid) {
            open.clock = open.clock.max(healed);
        }
        open.charged = open.charged.max(at.saturating_duration_since(open.clock));
    }

    /// Closes every open overlap (the end of the soak).
    pub fn finish(&mut self) {
        for (i, slot) in self.open.iter_mut().enumerate() {
            if let Some(open) = slot.take() {
                let vrid = u8::try_from(i + 1).unwrap_or(u8::MAX);
                self.closed.push(Self::closed(self.origin, vrid, open));
            }
        }
    }

    fn close(&mut self, vrid: u8, open: OpenOverlap) {
        self.closed.push(Self::closed(self.origin, vrid, open));
    }

    fn closed(origin: Instant, vrid: u8, open: OpenOverlap) -> Overlap {
        Overlap {
            vrid,
            start: open.first.saturating_duration_since(origin),
            raw: open.last.saturating_duration_since(open.first),
            charged: open.charged,
            holders: open.holders.into_iter().collect(),
        }
    }

    /// The overlaps closed so far.
    pub fn overlaps(&self) -> &[Overlap] {
        &self.closed
    }

    /// The longest time any VIP was seen with no holder.
    pub fn longest_gap(&self) -> Gap {
        self.longest_gap
    }
}

/// The memory and file descriptors of one daemon's process tree at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSample {
    /// When, from the start of the chaos.
    pub at: Duration,
    /// The sum of VmRSS, in KiB.
    pub rss_kib: u64,
    /// The sum of RssAnon, in KiB: what a leak grows. The file-backed part of the RSS moves
    /// with the code run lately (keepalived-rs gives back its start-up pages once settled,
    /// crates/keepalived/src/memory.rs), so flatness is judged on this.
    pub anon_kib: u64,
    /// The sum of open file descriptors.
    pub fds: u64,
    /// How many processes.
    pub procs: u32,
}

/// `VmRSS` in KiB from the text of /proc/PID/status.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `RssAnon` in KiB from the text of /proc/PID/status.
pub fn parse_rss_anon(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The parent pid from the text of /proc/PID/stat (the comm may hold spaces and parentheses).
pub fn parse_ppid(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The resources of `parent` and every descendant running the same program (check scripts and
/// other programs are left out); `None` if `parent` is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeUsage {
    /// Sum of VmRSS, KiB.
    pub rss_kib: u64,
    /// Sum of RssAnon, KiB.
    pub anon_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Processes.
    pub procs: u32,
}

/// [`TreeUsage`] of `parent`'s tree; `None` if `parent` is gone.
pub fn tree_usage(parent: u32) -> Option<TreeUsage> {
    let exe = |pid: u32| fs::read_link(format!("/proc/{pid}/exe")).ok();
    let program = exe(parent)?;
    let mut links = Vec::new();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| parse_ppid(&s))
        {
            links.push((pid, ppid));
        }
    }
    let mut tree = vec![parent];
    // Bounded: each round adds at least one process or stops.
    for _ in 0..links.len() {
        let before = tree.len();
        for &(pid, ppid) in &links {
            if tree.contains(&ppid) && !tree.contains(&pid) {
                tree.push(pid);
            }
        }
        if tree.len() == before {
            break;
        }
    }
    let mut usage = TreeUsage::default();
    for pid in tree {
        if exe(pid).as_ref() != Some(&program) {
            continue;
        }
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let Some(kib) = parse_vm_rss(&status) else {
            continue;
        };
        usage.rss_kib += kib;
        usage.anon_kib += parse_rss_anon(&status).unwrap_or(kib);
        usage.fds += fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
        usage.procs += 1;
    }
    Some(usage)
}

/// RSS is flat: `end` ≤ 1.2 × `start` + 1 MiB.
pub fn rss_flat(start_kib: u64, end_kib: u64) -> bool {
    end_kib.saturating_mul(5) <= start_kib.saturating_mul(6).saturating_add(5 * 1024)
}

/// Open fds are flat: `end` within ±3 of `start`.
pub fn fds_flat(start: u64, end: u64) -> bool {
    start.abs_diff(end) <= 3
}

/// The final check: convergence, holders and logged states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalCheck {
    /// How long after the chaos ended the lab converged; `None` if it did not within
    /// [`CONVERGENCE`].
    pub converged_after: Option<Duration>,
    /// VRIDs whose VIP was not held by exactly its preferred master, described.
    pub wrong_holders: Vec<String>,
    /// Instances whose last logged state disagrees (preferred master MASTER, others BACKUP).
    pub wrong_states: Vec<String>,
}

impl FinalCheck {
    /// Whether everything was as expected.
    pub fn passed(&self) -> bool {
        self.converged_after.is_some()
            && self.wrong_holders.is_empty()
            && self.wrong_states.is_empty()
    }
}

/// One daemon's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFigures {
    /// The host's name.
    pub name: String,
    /// Which program ran there.
    pub program: String,
    /// Whether it is ours (the flatness check applies) or the reference.
    pub ours: bool,
    /// Resource samples: after start-up convergence, every [`RESOURCE_EVERY`], at the end.
    pub samples: Vec<ResourceSample>,
}

impl HostFigures {
    /// The first sample.
    pub fn start(&self) -> Option<ResourceSample> {
        self.samples.first().copied()
    }

    /// The last sample.
    pub fn end(&self) -> Option<ResourceSample> {
        self.samples.last().copied()
    }

    /// The highest RSS and fd count of any sample.
    pub fn peak(&self) -> (u64, u64) {
        let rss = self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let fds = self.samples.iter().map(|s| s.fds).max().unwrap_or(0);
        (rss, fds)
    }

    /// Whether RSS and fds at the end are flat against the start (`None` without samples).
    pub fn flat(&self) -> Option<bool> {
        let (start, end) = (self.start()?, self.end()?);
        Some(rss_flat(start.anon_kib, end.anon_kib) && fds_flat(start.fds, end.fds))
    }
}

/// What a soak found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The requested chaos duration.
    pub duration: Duration,
    /// How long the chaos loop actually ran (the last step may overrun).
    pub chaos_ran: Duration,
    /// Steps done, by kind (index as in [`StepKind::ALL`]).
    pub steps: [u32; 7],
    /// Steps skipped because no host qualified (every VRRP child too young to kill).
    pub skipped: u32,
    /// Holder samples taken.
    pub samples: u32,
    /// Holder samples that failed (an `ip` error), and the last error.
    pub sample_errors: (u32, Option<String>),
    /// The overlap limit.
    pub limit: Duration,
    /// Every overlap seen.
    pub overlaps: Vec<Overlap>,
    /// The longest time a VIP had no holder (informative).
    pub longest_gap: Gap,
    /// The final check.
    pub final_check: FinalCheck,
    /// Each daemon's figures.
    pub hosts: Vec<HostFigures>,
    /// Things that went wrong during the chaos (a child not respawned, a daemon that ignored
    /// SIGTERM, a control-socket answer that was not what it must be), each a failure.
    pub problems: Vec<String>,
    /// Drains and undrains of one instance done over the control sockets (besides the
    /// `undrain --all` of every host at the end).
    pub drains: (u32, u32),
    /// Control-socket requests sent, and how many of them were malformed ones (refused).
    pub control_requests: (u32, u32),
    /// Times a drained instance was seen as MASTER (holding its VIP, in its log or its
    /// status), each a failure.
    pub drain_violations: Vec<String>,
}

impl Report {
    /// The overlaps whose charged duration exceeds the limit.
    pub fn violations(&self) -> Vec<&Overlap> {
        self.overlaps
            .iter()
            .filter(|o| o.charged > self.limit)
            .collect()
    }

    /// Every failed invariant, described; empty when the soak passed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for o in self.violations() {
            out.push(format!(
                "VRID {} held by {} for {:.1} s after the last heal (limit {:.2} s), first seen \
                 at {:.1} s",
                o.vrid,
                host_names(&o.holders),
                o.charged.as_secs_f64(),
                self.limit.as_secs_f64(),
                o.start.as_secs_f64()
            ));
        }
        if self.final_check.converged_after.is_none() {
            out.push(format!(
                "not converged within {} s after the chaos",
                CONVERGENCE.as_secs()
            ));
        }
        out.extend(self.final_check.wrong_holders.iter().cloned());
        out.extend(self.final_check.wrong_states.iter().cloned());
        for h in self.hosts.iter().filter(|h| h.ours) {
            match (h.start(), h.end()) {
                (Some(start), Some(end)) => {
                    if !rss_flat(start.anon_kib, end.anon_kib) {
                        out.push(format!(
                            "{}: anonymous memory grew from {} KiB to {} KiB (RSS {} to {})",
                            h.name, start.anon_kib, end.anon_kib, start.rss_kib, end.rss_kib
                        ));
                    }
                    if !fds_flat(start.fds, end.fds) {
                        out.push(format!(
                            "{}: open fds went from {} to {}",
                            h.name, start.fds, end.fds
                        ));
                    }
                }
                _ => out.push(format!("{}: no resource samples", h.name)),
            }
        }
        if self.samples == 0 {
            out.push("no holder sample was taken".into());
        }
        out.extend(self.problems.iter().cloned());
        out.extend(self.drain_violations.iter().cloned());
        out
    }

    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "chaos soak: seed {}, {} s requested, chaos ran {:.1} s, {} hosts x {VRIDS} VRIDs",
            self.seed,
            self.duration.as_secs(),
            self.chaos_ran.as_secs_f64(),
            HOSTS.len()
        );
        let steps: Vec<String> = StepKind::ALL
            .iter()
            .map(|k| format!("{} {}", k.name(), self.steps[k.index()]))
            .collect();
        let _ = writeln!(
            s,
            "steps: {} (total {}, skipped {})",
            steps.join(", "),
            self.steps.iter().sum::<u32>(),
            self.skipped
        );
        let _ = writeln!(
            s,
            "holder samples: {} every {} ms, {} failed{}",
            self.samples,
            SAMPLE_EVERY.as_millis(),
            self.sample_errors.0,
            self.sample_errors
                .1
                .as_ref()
                .map_or_else(String::new, |e| format!(" (last: {e})"))
        );
        let worst_raw = self
            .overlaps
            .iter()
            .map(|o| o.raw)
            .max()
            .unwrap_or_default();
        let worst_charged = self
            .overlaps
            .iter()
            .map(|o| o.charged)
            .max()
            .unwrap_or_default();
        let violations = self.violations();
        let _ = writeln!(
            s,
            "overlaps (VRIDs with 2+ holders): {}, longest {:.1} s, longest after a heal {:.1} s; \
             limit {:.2} s (Master_Down_Interval at priority {} + 1 s)",
            self.overlaps.len(),
            worst_raw.as_secs_f64(),
            worst_charged.as_secs_f64(),
            self.limit.as_secs_f64(),
            lowest_priority()
        );
        let _ = writeln!(
            s,
            "violations: {}{}",
            violations.len(),
            violations
                .iter()
                .map(|o| o.charged)
                .max()
                .map_or_else(String::new, |w| format!(", worst {:.1} s", w.as_secs_f64()))
        );
        let _ = writeln!(
            s,
            "control sockets: {} requests ({} malformed, refused), {} drains, {} undrains; \
             drained instances seen as MASTER: {}",
            self.control_requests.0,
            self.control_requests.1,
            self.drains.0,
            self.drains.1,
            self.drain_violations.len()
        );
        let gap = self.longest_gap;
        let _ = writeln!(
            s,
            "longest time a VIP had no holder: {:.1} s (VRID {} from {:.1} s; informative)",
            gap.length.as_secs_f64(),
            gap.vrid,
            gap.start.as_secs_f64()
        );
        let fc = &self.final_check;
        let _ = writeln!(
            s,
            "final check: {}; {}/{VRIDS} VIPs on their preferred master only; {} logged states \
             wrong",
            fc.converged_after.map_or_else(
                || format!("NOT converged within {} s", CONVERGENCE.as_secs()),
                |d| format!("converged {:.1} s after the chaos", d.as_secs_f64())
            ),
            usize::from(VRIDS).saturating_sub(fc.wrong_holders.len()),
            fc.wrong_states.len()
        );
        let _ = writeln!(
            s,
            "\n{:<4} {:<20} {:>7} {:>9} {:>9} {:>9} {:>5} {:>5} {:>5} {:>6} {:>5}",
            "host",
            "program",
            "samples",
            "RSS0 MiB",
            "RSS1 MiB",
            "peak MiB",
            "fds0",
            "fds1",
            "peak",
            "procs",
            "flat"
        );
        for h in &self.hosts {
            let (start, end) = (h.start(), h.end());
            let (peak_rss, peak_fds) = h.peak();
            let mib = |k: u64| crate::stats::mebibytes(k);
            let flat = match h.flat() {
                Some(true) => "yes",
                Some(false) if h.ours => "NO",
                Some(false) => "no*",
                None => "-",
            };
            let _ = writeln!(
                s,
                "{:<4} {:<20} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>5} {:>5} {:>5} {:>6} {:>5}",
                h.name,
                h.program,
                h.samples.len(),
                start.map_or(0.0, |x| mib(x.rss_kib)),
                end.map_or(0.0, |x| mib(x.rss_kib)),
                mib(peak_rss),
                start.map_or(0, |x| x.fds),
                end.map_or(0, |x| x.fds),
                peak_fds,
                end.map_or(0, |x| x.procs),
                flat
            );
        }
        if self.hosts.iter().any(|h| !h.ours) {
            let _ = writeln!(s, "(* the reference daemon's figures are informative)");
        }
        for p in &self.problems {
            let _ = writeln!(s, "problem: {p}");
        }
        for v in &self.drain_violations {
            let _ = writeln!(s, "drain violation: {v}");
        }
        for o in &violations {
            let _ = writeln!(
                s,
                "violation: VRID {} holders {} first seen {:.1} s, lasted {:.1} s, {:.1} s after \
                 the last heal",
                o.vrid,
                host_names(&o.holders),
                o.start.as_secs_f64(),
                o.raw.as_secs_f64(),
                o.charged.as_secs_f64()
            );
        }
        let _ = writeln!(s, "result: {}", if self.passed() { "PASS" } else { "FAIL" });
        s
    }
}

fn host_names(hosts: &[usize]) -> String {
    let names: Vec<&str> = hosts
        .iter()
        .map(|&h| HOSTS.get(h).copied().unwrap_or("?"))
        .collect();
    names.join("+")
}

/// Who holds which VIP: for VRID V, entry V - 1 is the set of hosts (indices) holding it.
fn holders(lab: &Lab) -> Result<Vec<BTreeSet<usize>>> {
    let mut out = vec![BTreeSet::new(); usize::from(VRIDS)];
    for (h, host) in lab.hosts().iter().enumerate() {
        let addresses = host
            .address_info()
            .with_context(|| format!("addresses of {}", host.name()))?;
        for a in addresses {
            let [x, y, z, v] = a.address.octets();
            if [x, y, z] == [198, 51, 100] && (1..=VRIDS).contains(&v) {
                out[usize::from(v) - 1].insert(h);
            }
        }
    }
    Ok(out)
}

/// The VRIDs whose VIP is not held by exactly its preferred master, described.
fn wrong_holders(holders: &[BTreeSet<usize>]) -> Vec<String> {
    let mut out = Vec::new();
    for v in all_vrids() {
        let held: Vec<usize> = holders
            .get(usize::from(v) - 1)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let want = preferred_host(v);
        if held != [want] {
            out.push(format!(
                "VRID {v}: VIP {} held by [{}], expected {}",
                vip(v),
                host_names(&held),
                HOSTS[want]
            ));
        }
    }
    out
}

/// The last state each instance logged (`(VI_V) Entering X STATE`), by VRID.
pub fn logged_states(log: &str) -> Vec<Option<String>> {
    let mut out = vec![None; usize::from(VRIDS)];
    for line in log.lines() {
        let Some(at) = line.find(" Entering ") else {
            continue;
        };
        // The first state after a start is `Entering BACKUP STATE (init)` (2.2.7's wording).
        let rest = &line[at + 10..];
        let rest = rest.strip_suffix(" (init)").unwrap_or(rest);
        let Some(state) = rest.strip_suffix(" STATE") else {
            continue;
        };
        let head = &line[..at];
        let Some(open) = head.rfind("(VI_") else {
            continue;
        };
        let Some(v) = head[open + 4..]
            .strip_suffix(')')
            .and_then(|n| n.parse::<u8>().ok())
        else {
            continue;
        };
        if let Some(slot) = out.get_mut(usize::from(v).wrapping_sub(1)) {
            *slot = Some(state.to_string());
        }
    }
    out
}

/// Instances whose last logged state on host `host` is not the expected one.
fn wrong_states(host: usize, log: &str) -> Vec<String> {
    let states = logged_states(log);
    let mut out = Vec::new();
    for v in all_vrids() {
        let want = if preferred_host(v) == host {
            "MASTER"
        } else {
            "BACKUP"
        };
        let got = states.get(usize::from(v) - 1).cloned().flatten();
        if got.as_deref() != Some(want) {
            out.push(format!(
                "{}: VI_{v} last logged {}, expected {want}",
                HOSTS[host],
                got.as_deref().unwrap_or("nothing")
            ));
        }
    }
    out
}

/// What the sampler thread and the chaos loop share.
#[derive(Debug, Default)]
struct Shared {
    faults: Faults,
    /// The running daemons' parent pids (`None` while one is restarted).
    parents: Vec<Option<u32>>,
    /// The instances drained now.
    drains: Vec<control::Drain>,
}

/// What the sampler thread collected.
#[derive(Debug)]
struct Observed {
    tracker: OverlapTracker,
    samples: u32,
    errors: u32,
    last_error: Option<String>,
    resources: Vec<Vec<ResourceSample>>,
    /// Drained instances seen holding their VIP.
    drain_violations: Vec<String>,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn resource_sample(parent: u32, origin: Instant) -> Option<ResourceSample> {
    let usage = tree_usage(parent)?;
    Some(ResourceSample {
        at: origin.elapsed(),
        rss_kib: usage.rss_kib,
        anon_kib: usage.anon_kib,
        fds: usage.fds,
        procs: usage.procs,
    })
}

/// Samples holders every [`SAMPLE_EVERY`] and resources every [`RESOURCE_EVERY`] until `stop`.
fn sampler(lab: &Lab, shared: &Mutex<Shared>, stop: &AtomicBool, origin: Instant) -> Observed {
    let mut seen = Observed {
        tracker: OverlapTracker::new(origin),
        samples: 0,
        errors: 0,
        last_error: None,
        resources: vec![Vec::new(); HOSTS.len()],
        drain_violations: Vec::new(),
    };
    let mut reported: BTreeSet<(usize, u8, Instant)> = BTreeSet::new();
    let mut next_resources = origin + RESOURCE_EVERY;
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let at = Instant::now();
        match holders(lab) {
            Ok(held) => {
                let state = lock(shared);
                for (i, set) in held.iter().enumerate() {
                    let vrid = u8::try_from(i + 1).unwrap_or(u8::MAX);
                    seen.tracker.observe(at, vrid, set, &state.faults);
                }
                for d in state.drains.iter().filter(|d| d.settled(at)) {
                    let holds = held
                        .get(usize::from(d.vrid).wrapping_sub(1))
                        .is_some_and(|set| set.contains(&d.host));
                    if holds && reported.insert((d.host, d.vrid, d.since)) {
                        seen.drain_violations.push(format!(
                            "{}: drained VI_{} held its VIP {} at {:.1} s ({:.1} s after the drain)",
                            HOSTS[d.host],
                            d.vrid,
                            vip(d.vrid),
                            at.saturating_duration_since(origin).as_secs_f64(),
                            at.saturating_duration_since(d.since).as_secs_f64()
                        ));
                    }
                }
                seen.samples += 1;
            }
            Err(err) => {
                seen.errors += 1;
                seen.last_error = Some(format!("{err:#}"));
            }
        }
        if at >= next_resources {
            let parents = lock(shared).parents.clone();
            for (h, parent) in parents.iter().enumerate() {
                if let Some(sample) = parent.and_then(|p| resource_sample(p, origin)) {
                    seen.resources[h].push(sample);
                }
            }
            next_resources += RESOURCE_EVERY;
        }
        next += SAMPLE_EVERY;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    seen
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .unwrap_or(false)
}

/// Polls (bounded) until `daemon` has a live VRRP child other than `old`; returns its pid.
fn wait_for_child(daemon: &Keepalived, old: Option<u32>, timeout: Duration) -> Option<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(pid) = daemon.vrrp_pid().filter(|&p| Some(p) != old && alive(p)) {
            return Some(pid);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of `text`, for messages.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lab's daemons and what the chaos loop knows about them.
struct Chaos<'a> {
    lab: &'a Lab,
    settings: &'a Settings,
    shared: &'a Mutex<Shared>,
    origin: Instant,
    rng: Rng,
    daemons: Vec<Keepalived>,
    configs: Vec<String>,
    flags: Vec<PathBuf>,
    flag_up: Vec<bool>,
    child_since: Vec<Instant>,
    /// Each host's control socket (`None` for the reference daemon, which has none).
    sockets: Vec<Option<PathBuf>>,
    steps: [u32; 7],
    skipped: u32,
    problems: Vec<String>,
    drains: (u32, u32),
    control_requests: (u32, u32),
    drain_violations: Vec<String>,
}

impl Chaos<'_> {
    fn program(&self, host: usize) -> &Path {
        match (&self.settings.reference, host) {
            (Some(reference), 2) => reference,
            _ => &self.settings.ours,
        }
    }

    fn start(&self, host: usize) -> Result<Keepalived> {
        let h: &Host = &self.lab.hosts()[host];
        let socket = self.sockets[host]
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let args: Vec<&str> = socket
            .as_deref()
            .map_or_else(Vec::new, |p| vec!["--control-socket", p]);
        Keepalived::start_with(h, self.program(host), &self.configs[host], &args)
            .with_context(|| format!("starting the daemon on {}", h.name()))
    }

    /// The first host from `host` on that has a control socket (one of ours).
    fn controlled_host(&self, host: usize) -> Option<(usize, PathBuf)> {
        (0..HOSTS.len())
            .map(|i| (host + i) % HOSTS.len())
            .find_map(|h| self.sockets[h].clone().map(|s| (h, s)))
    }

    /// The VRIDs the soak has drained on `host`.
    fn drained_on(&self, host: usize) -> BTreeSet<u8> {
        lock(self.shared)
            .drains
            .iter()
            .filter(|d| d.host == host)
            .map(|d| d.vrid)
            .collect()
    }

    /// The length of `host`'s daemon log now.
    fn log_len(&self, host: usize) -> usize {
        self.daemons[host].log().map_or(0, |l| l.len())
    }

    /// Ends the drains of `host` that `which` selects (all of them when the VRRP child goes
    /// away): checks each one's log for a MASTER entry since the drain, and heals its VRID.
    fn end_drains(&mut self, host: usize, which: Option<u8>) {
        let ended: Vec<control::Drain> = {
            let mut shared = lock(self.shared);
            let (ended, kept) = std::mem::take(&mut shared.drains)
                .into_iter()
                .partition(|d| d.host == host && which.is_none_or(|v| d.vrid == v));
            shared.drains = kept;
            ended
        };
        if ended.is_empty() {
            return;
        }
        let log = self.daemons[host].log().unwrap_or_default();
        let now = Instant::now();
        for d in ended {
            if control::became_master_after(&log, d.log_from, d.vrid) {
                self.drain_violations.push(format!(
                    "{}: drained VI_{} logged Entering MASTER STATE while drained",
                    HOSTS[host], d.vrid
                ));
            }
            let mut shared = lock(self.shared);
            shared.faults.begin(&[d.vrid]);
            shared.faults.heal(&[d.vrid], now);
        }
    }

    /// One request that must succeed; a problem (and `None`) when it does not.
    fn control_ok(&mut self, host: usize, socket: &Path, line: &str) -> Option<serde_json::Value> {
        self.control_requests.0 += 1;
        match control::request_ok(socket, line) {
            Ok(value) => Some(value),
            Err(err) => {
                self.problems
                    .push(format!("{}: control socket: {err:#}", HOSTS[host]));
                None
            }
        }
    }

    /// `status` of `host`, checked against the soak's drains.
    fn check_status(&mut self, host: usize, socket: &Path) {
        if let Some(status) = self.control_ok(host, socket, r#"{"command":"status"}"#) {
            let drained = self.drained_on(host);
            for problem in control::check_status(HOSTS[host], &status, VRIDS, &drained) {
                if problem.contains("is MASTER") {
                    self.drain_violations.push(problem);
                } else {
                    self.problems.push(problem);
                }
            }
        }
    }

    /// Drains an instance of `host` (or of the next of our hosts), or, every other time there
    /// is one, undrains an instance the soak drained (on whichever host).
    fn drain_step(&mut self, host: usize) -> bool {
        let Some((mut host, mut socket)) = self.controlled_host(host) else {
            self.say("drain: no host has a control socket, skipped");
            return false;
        };
        let drained_host = lock(self.shared).drains.first().map(|d| d.host);
        let undrain = match drained_host {
            Some(h) if self.rng.below(2) == 0 => match self.sockets[h].clone() {
                Some(s) => {
                    (host, socket) = (h, s);
                    true
                }
                None => false,
            },
            _ => false,
        };
        let name = HOSTS[host];
        let drained: Vec<u8> = self.drained_on(host).into_iter().collect();
        if undrain {
            let pick = usize::try_from(self.rng.below(drained.len() as u64)).unwrap_or(0);
            let vrid = drained[pick];
            self.say(&format!("undrain VI_{vrid} on {name}"));
            if self
                .control_ok(host, &socket, &control::drain_line(vrid, false))
                .is_some()
            {
                self.drains.1 += 1;
            }
            self.end_drains(host, Some(vrid));
        } else {
            let free: Vec<u8> = all_vrids()
                .into_iter()
                .filter(|v| !drained.contains(v))
                .collect();
            let pick = usize::try_from(self.rng.below(free.len() as u64)).unwrap_or(0);
            let Some(&vrid) = free.get(pick) else {
                return false;
            };
            self.say(&format!("drain VI_{vrid} on {name}"));
            if self
                .control_ok(host, &socket, &control::drain_line(vrid, true))
                .is_some()
            {
                self.drains.0 += 1;
                let drain = control::Drain {
                    host,
                    vrid,
                    since: Instant::now(),
                    log_from: self.log_len(host),
                };
                let mut shared = lock(self.shared);
                shared.faults.begin(&[vrid]);
                shared.faults.heal(&[vrid], drain.since);
                shared.drains.push(drain);
            }
        }
        true
    }

    /// `status`, `show` and two malformed requests on `host` (or the next of our hosts).
    fn control_step(&mut self, host: usize) -> bool {
        let Some((host, socket)) = self.controlled_host(host) else {
            self.say("control: no host has a control socket, skipped");
            return false;
        };
        let name = HOSTS[host];
        let vrid = u8::try_from(1 + self.rng.below(u64::from(VRIDS))).unwrap_or(1);
        self.say(&format!(
            "control socket of {name}: status, show VI_{vrid}, bad requests"
        ));
        self.check_status(host, &socket);
        let show = format!(r#"{{"command":"show","instance":"VI_{vrid}"}}"#);
        if let Some(shown) = self.control_ok(host, &socket, &show) {
            let drained = self.drained_on(host).contains(&vrid);
            if shown["name"] != format!("VI_{vrid}").as_str()
                || shown["drained"] != serde_json::Value::Bool(drained)
            {
                self.problems
                    .push(format!("{name}: show VI_{vrid} answered {shown}"));
            }
            if drained && shown["state"] == "MASTER" {
                self.drain_violations
                    .push(format!("{name}: drained VI_{vrid} is MASTER (show)"));
            }
        }
        let bad = control::bad_requests();
        for _ in 0..2 {
            let pick = usize::try_from(self.rng.below(bad.len() as u64)).unwrap_or(0);
            let Some((line, word)) = bad.get(pick) else {
                continue;
            };
            self.control_requests.0 += 1;
            self.control_requests.1 += 1;
            match control::request(&socket, line) {
                Ok(answer) => {
                    if let Some(problem) = control::check_refusal(&answer, word) {
                        self.problems.push(format!("{name}: {problem}"));
                    }
                }
                Err(err) => self.problems.push(format!(
                    "{name}: a malformed request got no answer: {err:#}"
                )),
            }
        }
        // Nothing changed.
        self.check_status(host, &socket);
        true
    }

    fn say(&self, what: &str) {
        println!("[{:7.1} s] {what}", self.origin.elapsed().as_secs_f64());
    }

    fn set_flag(&mut self, host: usize, up: bool) -> Result<()> {
        let flag = &self.flags[host];
        if up {
            fs::write(flag, "").with_context(|| format!("creating {}", flag.display()))?;
        } else {
            fs::remove_file(flag).with_context(|| format!("removing {}", flag.display()))?;
        }
        self.flag_up[host] = up;
        Ok(())
    }

    /// The chaos loop: rounds of every step kind in random order until the duration is up.
    fn run(&mut self) -> Result<()> {
        let all = all_vrids();
        let mut round: Vec<StepKind> = Vec::new();
        while self.origin.elapsed() < self.settings.duration {
            if round.is_empty() {
                round = StepKind::ALL.to_vec();
                self.rng.shuffle(&mut round);
            }
            let kind = round.remove(0);
            let host = usize::try_from(self.rng.below(HOSTS.len() as u64)).unwrap_or(0);
            let done = self.step(kind, host, &all)?;
            if done {
                self.steps[kind.index()] += 1;
            } else {
                self.skipped += 1;
            }
            let pause = self.rng.millis(500, 2500);
            thread::sleep(pause);
        }
        Ok(())
    }

    /// One step on `host` (or on the next host that qualifies); `false` if none qualified.
    fn step(&mut self, kind: StepKind, host: usize, all: &[u8]) -> Result<bool> {
        let name = HOSTS[host];
        match kind {
            StepKind::Drain => return Ok(self.drain_step(host)),
            StepKind::Control => return Ok(self.control_step(host)),
            StepKind::Flap => {
                let remaining = self.settings.duration.saturating_sub(self.origin.elapsed());
                let hi = u64::try_from(remaining.as_millis())
                    .unwrap_or(5000)
                    .clamp(2000, 5000);
                let down = self.rng.millis(2000, hi);
                self.say(&format!("link flap {name} for {:.1} s", down.as_secs_f64()));
                lock(self.shared).faults.begin(all);
                let result = self.lab.set_port(name, false).and_then(|()| {
                    thread::sleep(down);
                    self.lab.set_port(name, true)
                });
                if result.is_err() {
                    // Whatever happened, try to leave the link up.
                    let _ = self.lab.set_port(name, true);
                }
                lock(self.shared).faults.heal(all, Instant::now());
                result.with_context(|| format!("flapping {name}'s link"))?;
            }
            StepKind::Flip => {
                let tracked = tracked_vrids();
                let up = !self.flag_up[host];
                if up {
                    self.set_flag(host, true)?;
                    lock(self.shared).faults.heal(&tracked, Instant::now());
                    self.say(&format!("check file on {name} restored (scripts succeed)"));
                } else {
                    lock(self.shared).faults.begin(&tracked);
                    self.set_flag(host, false)?;
                    self.say(&format!("check file on {name} removed (scripts fail)"));
                }
            }
            StepKind::Hup => {
                self.say(&format!("SIGHUP {name}"));
                if let Err(err) = self.daemons[host].reload() {
                    // The daemon is gone: a failure, but the soak goes on to report it.
                    self.problems
                        .push(format!("{name}: SIGHUP failed: {err:#}"));
                }
            }
            StepKind::KillChild => {
                // The first host from `host` on whose child is old enough.
                let Some(target) = (0..HOSTS.len())
                    .map(|i| (host + i) % HOSTS.len())
                    .find(|&h| self.child_since[h].elapsed() >= MIN_CHILD_AGE)
                else {
                    self.say("kill -9: every VRRP child is too young, skipped");
                    return Ok(false);
                };
                let tname = HOSTS[target];
                let Some(old) = self.daemons[target].vrrp_pid().filter(|&p| alive(p)) else {
                    self.problems
                        .push(format!("{tname}: no live VRRP child to kill"));
                    return Ok(false);
                };
                self.say(&format!("kill -9 {tname}'s VRRP child {old}"));
                // The drains are the child's: they go with it.
                self.end_drains(target, None);
                lock(self.shared).faults.begin(all);
                let sent = signal(old, Signal::Kill);
                let new = wait_for_child(&self.daemons[target], Some(old), RESPAWN_TIMEOUT);
                lock(self.shared).faults.heal(all, Instant::now());
                sent.with_context(|| format!("SIGKILL to {tname}'s child {old}"))?;
                self.child_back(target, new, &format!("VRRP child {old} respawned"));
            }
            StepKind::Restart => {
                let down = self.rng.millis(1000, 3000);
                self.say(&format!(
                    "restart {name} (SIGTERM, down {:.1} s)",
                    down.as_secs_f64()
                ));
                self.end_drains(host, None);
                lock(self.shared).faults.begin(all);
                lock(self.shared).parents[host] = None;
                if let Err(err) = self.daemons[host].stop() {
                    self.problems.push(format!("{name}: {err:#}"));
                }
                thread::sleep(down);
                let new = match self.start(host) {
                    Ok(daemon) => {
                        // The old handle's process has exited; dropping it reaps nothing more.
                        drop(std::mem::replace(&mut self.daemons[host], daemon));
                        lock(self.shared).parents[host] = Some(self.daemons[host].pid());
                        wait_for_child(&self.daemons[host], None, RESPAWN_TIMEOUT)
                    }
                    Err(err) => {
                        self.problems.push(format!("{err:#}"));
                        None
                    }
                };
                lock(self.shared).faults.heal(all, Instant::now());
                self.child_back(host, new, "restarted");
            }
        }
        Ok(true)
    }

    /// Notes that `host`'s VRRP child `new` runs again after `what`, or the failure if it
    /// does not.
    fn child_back(&mut self, host: usize, new: Option<u32>, what: &str) {
        let name = HOSTS[host];
        match new {
            Some(pid) => {
                self.child_since[host] = Instant::now();
                self.say(&format!("{name}: {what}, VRRP child now {pid}"));
            }
            None => self.problems.push(format!(
                "{name}: no new VRRP child within {} s ({what} expected); log:\n{}",
                RESPAWN_TIMEOUT.as_secs(),
                tail(&self.daemons[host].log().unwrap_or_default(), 15)
            )),
        }
    }

    /// Restores every flag file, then waits (bounded) until every VIP is on its preferred
    /// master only and every log agrees.
    fn converge(&mut self) -> Result<FinalCheck> {
        for (host, name) in HOSTS.iter().enumerate() {
            let Some(socket) = self.sockets[host].clone() else {
                continue;
            };
            self.say(&format!("undrain --all on {name}"));
            let _ = self.control_ok(host, &socket, r#"{"command":"undrain","all":true}"#);
            self.end_drains(host, None);
            self.check_status(host, &socket);
        }
        let tracked = tracked_vrids();
        for (host, name) in HOSTS.iter().enumerate() {
            if !self.flag_up[host] {
                self.set_flag(host, true)?;
                lock(self.shared).faults.heal(&tracked, Instant::now());
                self.say(&format!("check file on {name} restored"));
            }
        }
        let ended = Instant::now();
        let deadline = ended + CONVERGENCE;
        loop {
            let mut check = FinalCheck::default();
            match holders(self.lab) {
                Ok(held) => check.wrong_holders = wrong_holders(&held),
                Err(err) => check.wrong_holders.push(format!("{err:#}")),
            }
            for (h, daemon) in self.daemons.iter().enumerate() {
                match daemon.log() {
                    Ok(log) => check.wrong_states.extend(wrong_states(h, &log)),
                    Err(err) => check.wrong_states.push(format!("{}: {err:#}", HOSTS[h])),
                }
            }
            if check.wrong_holders.is_empty() && check.wrong_states.is_empty() {
                check.converged_after = Some(ended.elapsed());
                return Ok(check);
            }
            if Instant::now() >= deadline {
                return Ok(check);
            }
            thread::sleep(SAMPLE_EVERY);
        }
    }
}

/// Runs the soak (root only). Setting the lab up or the initial election failing is an
/// error; every invariant broken during or after the chaos is in the [`Report`].
pub fn run(settings: &Settings) -> Result<Report> {
    if !keepalived_testlab::is_root() {
        bail!("the chaos soak must run as root (network namespaces)");
    }
    let lab = Lab::new("soak", &HOSTS).context("building the lab")?;
    let flags: Vec<PathBuf> = lab
        .hosts()
        .iter()
        .map(|h| h.dir().join("check-ok"))
        .collect();
    for flag in &flags {
        fs::write(flag, "").with_context(|| format!("creating {}", flag.display()))?;
    }
    let configs: Vec<String> = flags
        .iter()
        .enumerate()
        .map(|(h, f)| render(h, f))
        .collect();
    let shared = Mutex::new(Shared {
        faults: Faults::new(),
        parents: vec![None; HOSTS.len()],
        drains: Vec::new(),
    });
    let sockets: Vec<Option<PathBuf>> = lab
        .hosts()
        .iter()
        .enumerate()
        .map(|(h, host)| {
            let reference = h == 2 && settings.reference.is_some();
            (!reference).then(|| host.dir().join("ctl.sock"))
        })
        .collect();
    let mut chaos = Chaos {
        lab: &lab,
        settings,
        shared: &shared,
        origin: Instant::now(),
        rng: Rng::new(settings.seed),
        daemons: Vec::new(),
        configs,
        flags,
        flag_up: vec![true; HOSTS.len()],
        child_since: vec![Instant::now(); HOSTS.len()],
        sockets,
        steps: [0; 7],
        skipped: 0,
        problems: Vec::new(),
        drains: (0, 0),
        control_requests: (0, 0),
        drain_violations: Vec::new(),
    };
    for host in 0..HOSTS.len() {
        let daemon = chaos.start(host)?;
        lock(&shared).parents[host] = Some(daemon.pid());
        chaos.daemons.push(daemon);
    }
    chaos.say(&format!(
        "lab {}: {} daemons started, waiting for the preferred masters",
        lab.prefix(),
        HOSTS.len()
    ));
    let started = Instant::now();
    loop {
        let held = holders(&lab)?;
        if wrong_holders(&held).is_empty() {
            break;
        }
        if started.elapsed() >= START_TIMEOUT {
            let logs: Vec<String> = chaos
                .daemons
                .iter()
                .enumerate()
                .map(|(h, d)| format!("{}:\n{}", HOSTS[h], tail(&d.log().unwrap_or_default(), 10)))
                .collect();
            bail!(
                "the preferred masters were not elected within {} s: {}\n{}",
                START_TIMEOUT.as_secs(),
                wrong_holders(&held).join("; "),
                logs.join("\n")
            );
        }
        thread::sleep(SAMPLE_EVERY);
    }
    for h in 0..HOSTS.len() {
        chaos.child_since[h] = Instant::now();
    }
    let origin = Instant::now();
    chaos.origin = origin;
    chaos.say(&format!(
        "converged after {:.1} s; chaos for {} s, seed {}",
        started.elapsed().as_secs_f64(),
        settings.duration.as_secs(),
        settings.seed
    ));
    let mut first: Vec<Option<ResourceSample>> = Vec::new();
    for d in &chaos.daemons {
        first.push(resource_sample(d.pid(), origin));
    }

    let stop = AtomicBool::new(false);
    let (outcome, observed) = thread::scope(|scope| {
        let sampler = scope.spawn(|| sampler(&lab, &shared, &stop, origin));
        let outcome = chaos.run().map(|()| origin.elapsed()).and_then(|ran| {
            chaos.say("chaos over; restoring the check files and waiting for convergence");
            chaos.converge().map(|check| (ran, check))
        });
        stop.store(true, Ordering::SeqCst);
        (outcome, sampler.join())
    });
    let (chaos_ran, final_check) = outcome?;
    let Ok(mut observed) = observed else {
        bail!("the sampler thread panicked");
    };
    observed.tracker.finish();

    let mut hosts = Vec::new();
    for (h, daemon) in chaos.daemons.iter().enumerate() {
        let mut samples: Vec<ResourceSample> = first[h].into_iter().collect();
        samples.extend(observed.resources[h].iter().copied());
        samples.extend(resource_sample(daemon.pid(), origin));
        let program = chaos.program(h);
        let ours = program == settings.ours.as_path();
        hosts.push(HostFigures {
            name: HOSTS[h].to_string(),
            program: if ours {
                "keepalived-rs".to_string()
            } else {
                program
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            },
            ours,
            samples,
        });
    }
    for daemon in &mut chaos.daemons {
        if let Err(err) = daemon.stop() {
            chaos.problems.push(format!("stopping at the end: {err:#}"));
        }
    }
    Ok(Report {
        seed: settings.seed,
        duration: settings.duration,
        chaos_ran,
        steps: chaos.steps,
        skipped: chaos.skipped,
        samples: observed.samples,
        sample_errors: (observed.errors, observed.last_error),
        limit: overlap_limit(),
        overlaps: observed.tracker.overlaps().to_vec(),
        longest_gap: observed.tracker.longest_gap(),
        final_check,
        hosts,
        problems: chaos.problems,
        drains: chaos.drains,
        control_requests: chaos.control_requests,
        drain_violations: {
            let mut all = observed.drain_violations;
            all.extend(chaos.drain_violations);
            all
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let d = r.millis(2000, 5000);
            assert!(d >= Duration::from_millis(2000) && d <= Duration::from_millis(5000));
        }
        let mut kinds = StepKind::ALL.to_vec();
        r.shuffle(&mut kinds);
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(sorted, StepKind::ALL.to_vec());
    }

    #[test]
    fn every_vrid_has_one_preferred_master() {
        for v in all_vrids() {
            let prios: Vec<u8> = (0..HOSTS.len()).map(|h| priority(h, v)).collect();
            assert_eq!(prios[preferred_host(v)], 150);
            let mut sorted = prios.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![100, 120, 150], "VRID {v}");
        }
        assert_eq!(preferred_host(1), 0);
        assert_eq!(preferred_host(2), 1);
        assert_eq!(preferred_host(50), 1);
        // A failing chk_down makes the preferred master the lowest of the three.
        assert!(PRIORITIES[0] - SCRIPT_PENALTY < PRIORITIES[2]);
    }

    #[test]
    fn limit_is_master_down_interval_at_the_lowest_priority_plus_one_second() {
        assert_eq!(lowest_priority(), 40);
        assert_eq!(
            master_down_interval(100, ADVERT_INTERVAL),
            Duration::from_nanos(3_609_375_000)
        );
        assert_eq!(overlap_limit(), Duration::from_nanos(4_843_750_000));
    }

    #[test]
    fn config_has_every_instance_and_both_scripts() {
        let text = render(1, Path::new("/tmp/x/check-ok"));
        assert_eq!(
            text.matches("vrrp_instance VI_").count(),
            usize::from(VRIDS)
        );
        assert!(text.contains("vrrp_instance VI_50 {\n"));
        assert!(text.contains("    virtual_router_id 2\n    priority 150\n"));
        assert!(text.contains("198.51.100.50/32"));
        assert!(text.contains("script \"/usr/bin/test -f /tmp/x/check-ok\""));
        assert!(text.contains("weight -60"));
        assert!(text.contains("weight 0"));
        assert_eq!(text.matches("        chk_down\n").count(), 13);
        assert_eq!(text.matches("        chk_fault\n").count(), 12);
        let globals = text.find("enable_script_security").unwrap_or(usize::MAX);
        let script = text.find("vrrp_script chk_down").unwrap_or(0);
        let instance = text.find("vrrp_instance").unwrap_or(0);
        assert!(globals < script && script < instance);
        assert_eq!(text.matches("global_defs").count(), 1);
    }

    #[test]
    fn overlaps_are_charged_from_the_last_heal() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let two: BTreeSet<usize> = [0, 1].into_iter().collect();
        let one: BTreeSet<usize> = [0].into_iter().collect();
        let mut faults = Faults::new();
        let mut tracker = OverlapTracker::new(t0);
        // VRID 1: a fault is active from 0 to 3 s, the overlap lasts from 1 s to 5 s.
        faults.begin(&[1]);
        tracker.observe(at(1000), 1, &two, &faults);
        tracker.observe(at(2000), 1, &two, &faults);
        faults.heal(&[1], at(3000));
        tracker.observe(at(4000), 1, &two, &faults);
        tracker.observe(at(5000), 1, &two, &faults);
        tracker.observe(at(5200), 1, &one, &faults);
        // VRID 2: no fault, an overlap of 6 s.
        for ms in [0, 3000, 6000] {
            tracker.observe(at(ms), 2, &two, &faults);
        }
        tracker.finish();
        let o = tracker.overlaps();
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].vrid, o[0].raw), (1, Duration::from_secs(4)));
        assert_eq!(o[0].charged, Duration::from_secs(2));
        assert_eq!(o[0].start, Duration::from_secs(1));
        assert_eq!(o[0].holders, vec![0, 1]);
        assert_eq!((o[1].vrid, o[1].charged), (2, Duration::from_secs(6)));
        let report = report_with(o.to_vec());
        assert_eq!(report.violations().len(), 1);
        assert!(!report.passed());
        assert!(report.failures()[0].contains("VRID 2 held by a+b"));
    }

    #[test]
    fn gaps_are_tracked() {
        let t0 = Instant::now();
        let none = BTreeSet::new();
        let one: BTreeSet<usize> = [2].into_iter().collect();
        let faults = Faults::new();
        let mut tracker = OverlapTracker::new(t0);
        tracker.observe(t0, 3, &none, &faults);
        tracker.observe(t0 + Duration::from_millis(1400), 3, &none, &faults);
        tracker.observe(t0 + Duration::from_millis(1600), 3, &one, &faults);
        assert_eq!(
            tracker.longest_gap(),
            Gap {
                vrid: 3,
                start: Duration::ZERO,
                length: Duration::from_millis(1400)
            }
        );
        assert!(tracker.overlaps().is_empty());
    }

    #[test]
    fn flatness() {
        assert!(rss_flat(10_000, 12_000));
        assert!(rss_flat(10_000, 13_024));
        assert!(!rss_flat(10_000, 13_025));
        assert!(fds_flat(20, 23) && fds_flat(20, 17));
        assert!(!fds_flat(20, 24));
    }

    #[test]
    fn proc_parsing() {
        let status = "Name:\tkeepalived\nVmPeak:\t 9000 kB\nVmRSS:\t    4321 kB\n";
        assert_eq!(parse_vm_rss(status), Some(4321));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        let stat = "1234 (keep (a) b) S 77 1234 1234 0 -1 4194560";
        assert_eq!(parse_ppid(stat), Some(77));
        assert_eq!(parse_ppid("garbage"), None);
        let me = std::process::id();
        let usage = tree_usage(me).unwrap_or_default();
        assert!(usage.rss_kib > 0 && usage.fds >= 3 && usage.procs >= 1);
        assert!(usage.anon_kib > 0 && usage.anon_kib <= usage.rss_kib);
        let status = "VmRSS:\t    4321 kB\nRssAnon:\t     800 kB\n";
        assert_eq!(parse_rss_anon(status), Some(800));
    }

    #[test]
    fn states_from_logs() {
        let log = "Keepalived_vrrp[9]: VRRP_Instance(VI_1) Entering BACKUP STATE\n\
                   Keepalived_vrrp[9]: VRRP_Instance(VI_1) Entering MASTER STATE\n\
                   Keepalived_vrrp[9]: (VI_10) Entering FAULT STATE\n\
                   Keepalived_vrrp[9]: (VI_12) Entering BACKUP STATE (init)\n\
                   something else (VI_2) Entering\n";
        let states = logged_states(log);
        assert_eq!(states[0].as_deref(), Some("MASTER"));
        assert_eq!(states[9].as_deref(), Some("FAULT"));
        assert_eq!(states[11].as_deref(), Some("BACKUP"));
        assert_eq!(states[1], None);
        // Host a is VRID 1's preferred master; VI_10 (preferred: a) is in FAULT.
        let wrong = wrong_states(0, log);
        assert!(wrong.iter().any(|w| w.contains("VI_10 last logged FAULT")));
        assert!(!wrong.iter().any(|w| w.contains("VI_1 ")));
    }

    #[test]
    fn holders_are_checked_against_the_preferred_master() {
        let mut held: Vec<BTreeSet<usize>> = all_vrids()
            .into_iter()
            .map(|v| [preferred_host(v)].into_iter().collect())
            .collect();
        assert!(wrong_holders(&held).is_empty());
        held[4].insert(0);
        held[5].clear();
        let wrong = wrong_holders(&held);
        assert_eq!(wrong.len(), 2);
        assert!(wrong[0].contains("VRID 5") && wrong[0].contains("a+b"));
        assert!(wrong[1].contains("VRID 6") && wrong[1].contains("[]"));
    }

    fn report_with(overlaps: Vec<Overlap>) -> Report {
        let sample = |rss_kib, fds| ResourceSample {
            at: Duration::ZERO,
            rss_kib,
            anon_kib: rss_kib,
            fds,
            procs: 2,
        };
        Report {
            seed: 1,
            duration: Duration::from_secs(10),
            chaos_ran: Duration::from_secs(11),
            steps: [1; 7],
            skipped: 0,
            samples: 50,
            sample_errors: (0, None),
            limit: overlap_limit(),
            overlaps,
            longest_gap: Gap::default(),
            final_check: FinalCheck {
                converged_after: Some(Duration::from_secs(4)),
                ..FinalCheck::default()
            },
            hosts: vec![HostFigures {
                name: "a".into(),
                program: "keepalived-rs".into(),
                ours: true,
                samples: vec![sample(8000, 20), sample(8100, 21)],
            }],
            problems: Vec::new(),
            drains: (1, 1),
            control_requests: (4, 2),
            drain_violations: Vec::new(),
        }
    }

    #[test]
    fn report_passes_only_when_every_invariant_holds() {
        let good = report_with(Vec::new());
        assert!(good.passed(), "{:?}", good.failures());
        assert!(good.table().contains("result: PASS"));
        let mut leaky = good.clone();
        leaky.hosts[0].samples.push(ResourceSample {
            at: Duration::from_secs(10),
            rss_kib: 8000,
            anon_kib: 8000,
            fds: 30,
            procs: 2,
        });
        assert!(!leaky.passed());
        assert!(leaky.failures()[0].contains("open fds went from 20 to 30"));
        let mut unconverged = good.clone();
        unconverged.final_check.converged_after = None;
        assert!(!unconverged.passed());
        let mut drained_master = good.clone();
        drained_master
            .drain_violations
            .push("a: drained VI_1 held its VIP".into());
        assert!(!drained_master.passed());
        assert!(
            drained_master
                .table()
                .contains("drain violation: a: drained VI_1")
        );
        let mut reference = leaky.clone();
        reference.hosts[0].ours = false;
        assert!(reference.passed());
        assert!(reference.table().contains("no*"));
    }
}
