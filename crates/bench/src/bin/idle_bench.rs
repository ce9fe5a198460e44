//! `idle-bench`: what an idle daemon costs, keepalived 2.2.7 against keepalived-rs: the RSS
//! of its whole process tree and its CPU use, with 1, 100, 250 and 1,000 instances, on the
//! master side and on the backup side, both implementations in the same lab and the same run;
//! and how regular the master's adverts are (the advert-gap error).
//!
//! A lab of two hosts, `a` and `b`, on a bridge (crates/testlab), and, when a count is above
//! 250, three more links between them (veth pairs `eth1` … `eth3`, 203.0.113.0/26, .64/26 and
//! .128/26). For each count N, VRRP version and implementation in turn (keepalived first, then
//! keepalived-rs, so both see the same machine at nearly the same time), both hosts run the same
//! implementation with N `vrrp_instance`s `VI_1` … `VI_N`: instance i (from 0) on interface
//! `eth(i / 250)` with VRID `i % 250 + 1`, so 1,000 instances are four interfaces × 250 VRIDs;
//! `advert_int 1`, no authentication, one virtual address each, 198.51.100.VRID/32 (the same
//! addresses on every interface); priority 200 on `a`, 100 on `b`; `version 3` in each instance
//! for the VRRPv3 lines.
//!
//! 1. start `a` and wait until all N addresses are on it (every instance is master);
//! 2. start `b` and wait until it has logged `Entering BACKUP STATE` N times;
//! 3. wait `--settle` seconds more (default 12): `garp_master_delay` is 5 s by default, so the
//!    second gratuitous-ARP burst of the last instance to become master is over, and
//!    keepalived-rs's processes give back their start-up memory 10 s after their last state
//!    change (crates/keepalived/src/memory.rs): both daemons are measured settled;
//! 4. measure for `--window` seconds (default 20), sampling both daemons once a second. Each
//!    sample walks `/proc/*/stat` for the daemon's whole process tree (the process started and
//!    every descendant, through the parent pid links) and sums over it:
//!    - **RSS**: `VmRSS` of `/proc/PID/status` (also `RssAnon`, `RssFile`, `RssShmem`); the
//!      figure is the highest sum of any sample;
//!    - **PSS**: `Pss` of `/proc/PID/smaps_rollup` (pages shared between the processes, such as
//!      the binary's, counted once in all), highest sum of any sample;
//!    - **CPU**: `utime + stime + cutime + cstime` (clock ticks, `sysconf(_SC_CLK_TCK)`); the
//!      CPU % is their change from the first sample to the last over the wall time between;
//!      the run time of `/proc/PID/task/*/schedstat` (nanoseconds) gives a finer second figure;
//! 5. check that the state held (every address still on `a`, none on `b`, both running);
//! 6. capture every advert arriving at `b` for `--gap-window` seconds (default 10; dumpcap on
//!    each of `b`'s interfaces, after the CPU window so the capture costs nothing there, and
//!    started 3 s before the window, [`CAPTURE_WARMUP`], so its own start is not measured) and
//!    compute, for every instance, the gap between each two of its consecutive adverts: the
//!    advert-gap error is how far a gap strays from `advert_int` (1 s), from the capture's
//!    kernel timestamps; the worst over all instances is the figure (a missed advert shows as
//!    an error of a whole second);
//! 7. stop `b`, then `a`, and remove any address left behind.
//!
//! The table puts each count and side on one line: both RSS figures and their ratio, both CPU
//! figures and their ratio (from clock ticks, then from the run time in nanoseconds), and
//! whether keepalived-rs uses at most half of keepalived's on both. The kernel derives the
//! ticks of `/proc/PID/stat` from the same run time, so the nanosecond figure is the same
//! quantity without the 10 ms steps, and it decides; where keepalived's is below
//! [`MIN_CPU_PERCENT`] (one instance: a few dozen microseconds a second) there is nothing worth
//! halving, and only RSS decides.
//!
//! Exit status: 0 when every line was measured, keepalived-rs uses at most half on each and its
//! worst advert-gap error is at most [`MAX_GAP_ERROR_NS`], 1 when one is above or a step failed,
//! 2 when the benchmark cannot run here (not root, a program missing).

use keepalived_bench::programs::{is_executable, resolve_ours};
use keepalived_bench::stats::mebibytes;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use keepalived_testlab::{
    Capture, HOST_IF, Host, KEEPALIVED_BIN, Keepalived, Lab, VrrpInstance, run_ok,
};

/// Priority of host `a`, the master of every instance.
const PRIORITY_A: u8 = 200;
/// Priority of host `b`, the backup of every instance.
const PRIORITY_B: u8 = 100;
/// The network of the virtual addresses (instance i has 198.51.100.i/32).
const VIP_NET: [u8; 3] = [198, 51, 100];
/// Instances per interface: one VRID and one address in [`VIP_NET`] each, 1..=250.
const PER_INTERFACE: u16 = 250;
/// The interfaces instances are spread over, [`PER_INTERFACE`] on each: the lab's bridge port,
/// then the extra links.
const INTERFACES: [&str; 4] = [HOST_IF, "eth1", "eth2", "eth3"];
/// The largest count: four interfaces × 250 VRIDs.
const MAX_INSTANCES: u16 = 1000;
/// The extra links' networks (203.0.113.0/26, .64/26, .128/26): `a` has .1 of its block + the
/// block's start, `b` .2.
const EXTRA_LINK_BLOCKS: [u8; 3] = [0, 64, 128];
/// The advert interval of every instance, in nanoseconds.
const ADVERT_INT_NS: i128 = 1_000_000_000;
/// The target for keepalived-rs's worst advert-gap error (1 ms).
const MAX_GAP_ERROR_NS: i128 = 1_000_000;

/// How long the captures run before the gap window starts: starting a dumpcap on each of
/// `b`'s interfaces (libraries loaded, filters compiled) keeps both CPUs busy for a moment,
/// which delayed the adverts of either implementation by up to 2 ms in the first two
/// seconds of a capture (runs of 2026-12-05); adverts captured before are not counted.
const CAPTURE_WARMUP: Duration = Duration::from_secs(3);
/// How long `a` may take to become master of every instance, at least.
const MASTER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `b` may take to log that every instance is backup, at least.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(30);
/// More time to start per instance: keepalived 2.2.7 logs every gratuitous ARP it sends, and
/// with 1,000 instances on a loaded machine took more than 60 s to become master of all.
const START_PER_INSTANCE: Duration = Duration::from_millis(200);
/// How often the addresses or the log are read while waiting.
const POLL: Duration = Duration::from_millis(250);
/// Below this CPU use of keepalived (% of one CPU), CPU figures are not compared.
const MIN_CPU_PERCENT: f64 = 0.05;

/// Measures the idle RSS and CPU of keepalived 2.2.7 and keepalived-rs by instance count.
#[derive(Debug, Parser)]
#[command(name = "idle-bench", version)]
struct Args {
    /// keepalived-rs binary to measure (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// The reference keepalived binary.
    #[arg(long, default_value = KEEPALIVED_BIN)]
    keepalived: PathBuf,
    /// Instance counts measured with VRRPv2, comma-separated, each 1 to 1,000 (above 250 they
    /// are spread over four interfaces, 250 on each).
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = vec![1u16, 100, 250, 1000],
        value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_INSTANCES))
    )]
    counts: Vec<u16>,
    /// Instance counts measured with VRRPv3 (`version 3` in every instance), after the VRRPv2
    /// ones; `--v3-counts 0` for none.
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = vec![1000u16],
        value_parser = clap::value_parser!(u16).range(0..=i64::from(MAX_INSTANCES))
    )]
    v3_counts: Vec<u16>,
    /// Seconds of advert capture at `b` for the advert-gap error, after the CPU window.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=600))]
    gap_window: u64,
    /// Seconds of measurement, sampled once a second.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(2..=600))]
    window: u64,
    /// Seconds to wait after every instance is in its state and before measuring (at least 6,
    /// so the second gratuitous-ARP burst is over; 12 by default, so keepalived-rs has given
    /// back its start-up memory, 10 s after its last state change).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(6..=120))]
    settle: u64,
    /// Print every process of each tree with its memory at the end of the window.
    #[arg(long)]
    processes: bool,
    /// A line added to `global_defs` of both hosts' configurations, for both implementations
    /// (repeatable), e.g. `script_user root`.
    #[arg(long = "global-def", value_name = "LINE")]
    global_defs: Vec<String>,
    /// Keep the advert captures of the gap window in this directory
    /// (`N-vV-IMPLEMENTATION-INTERFACE.pcap`).
    #[arg(long)]
    keep: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("idle-bench: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// A program under test.
#[derive(Debug)]
struct Implementation {
    label: &'static str,
    program: PathBuf,
}

/// Which host a figure is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Host `a`, master of every instance.
    Master,
    /// Host `b`, backup of every instance.
    Backup,
}

impl Side {
    const BOTH: [Side; 2] = [Side::Master, Side::Backup];

    fn name(self) -> &'static str {
        match self {
            Side::Master => "master",
            Side::Backup => "backup",
        }
    }
}

fn run(args: &Args) -> Result<u8> {
    if !keepalived_testlab::is_root() {
        eprintln!("idle-bench: cannot run: must run as root (it creates network namespaces)");
        return Ok(2);
    }
    if !is_executable(&args.keepalived) {
        eprintln!(
            "idle-bench: cannot run: keepalived not found or not executable at {}",
            args.keepalived.display()
        );
        return Ok(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "idle-bench: cannot run: keepalived-rs binary not found at {} (build it first: \
             cargo build --release -p keepalived)",
            args.ours.display()
        );
        return Ok(2);
    };
    let implementations = [
        Implementation {
            label: "keepalived",
            program: args.keepalived.clone(),
        },
        Implementation {
            label: "keepalived-rs",
            program: ours,
        },
    ];
    let clock_ticks = clock_ticks_per_second();

    // Dropping the lab (on every return, also with an error) kills what it started and deletes
    // its namespaces.
    let lab = Lab::new("idbench", &["a", "b"]).context("building the lab")?;
    let lines: Vec<(u16, u8)> = args
        .counts
        .iter()
        .map(|&n| (n, 2))
        .chain(args.v3_counts.iter().filter(|&&n| n > 0).map(|&n| (n, 3)))
        .collect();
    let most = lines.iter().map(|&(n, _)| n).max().unwrap_or(1);
    let interfaces = interfaces_for(most);
    for (k, ifname) in interfaces.iter().enumerate().skip(1) {
        link_hosts(
            lab.host("a"),
            lab.host("b"),
            ifname,
            EXTRA_LINK_BLOCKS[k - 1],
        )
        .with_context(|| format!("linking a and b with {ifname}"))?;
    }
    println!(
        "lab: namespaces {}-{{br,a,b}}; a {} (priority {PRIORITY_A}), b {} (priority \
         {PRIORITY_B}) on {HOST_IF}{}; N instances VI_1..VI_N, instance i on eth(i / 250) with \
         VRID i % 250 + 1, advert_int 1, no authentication, VIP 198.51.100.VRID/32 each",
        lab.prefix(),
        lab.host("a").address(),
        lab.host("b").address(),
        if interfaces.len() > 1 {
            format!(
                ", and {} veth pairs {} (203.0.113.0/26, .64/26, .128/26)",
                interfaces.len() - 1,
                interfaces[1..].join(", ")
            )
        } else {
            String::new()
        },
    );
    println!(
        "lines (N, VRRP version) {lines:?}; settle {} s after every instance is in its state; \
         window {} s sampled every second; {clock_ticks} clock ticks a second; then {} s of \
         adverts captured at b for the advert-gap error",
        args.settle, args.window, args.gap_window
    );
    for imp in &implementations {
        println!("{}: {}", imp.label, imp.program.display());
    }
    println!();

    let bench = Bench {
        lab: &lab,
        settle: Duration::from_secs(args.settle),
        window: args.window,
        gap_window: Duration::from_secs(args.gap_window),
        clock_ticks,
        keep: args.keep.as_deref(),
        global_defs: &args.global_defs,
    };
    let mut rows = Vec::new();
    let mut gaps = Vec::new();
    let mut failed = false;
    for &(count, version) in &lines {
        let mut results = Vec::new();
        for imp in &implementations {
            let started = Instant::now();
            match bench.measure(imp, count, version) {
                Ok(pair) => {
                    println!(
                        "N={count:<4} v{version} {:<13} master RSS {:>6.1} MiB CPU {:>5.2} %   \
                         backup RSS {:>6.1} MiB CPU {:>5.2} %   gap error worst {:.3} ms   \
                         ({:.0} s)",
                        imp.label,
                        mebibytes(pair.master.max_rss_kib),
                        pair.master.cpu_percent,
                        mebibytes(pair.backup.max_rss_kib),
                        pair.backup.cpu_percent,
                        ms(pair.gaps.worst_ns),
                        started.elapsed().as_secs_f64(),
                    );
                    if args.processes {
                        for side in Side::BOTH {
                            print!("{}", processes(side, pair.get(side)));
                        }
                    }
                    results.push(Some(pair));
                }
                Err(err) => {
                    eprintln!("idle-bench: N={count} v{version} {}: {err:#}", imp.label);
                    failed = true;
                    results.push(None);
                }
            }
        }
        if let [Some(theirs), Some(ours)] = &results[..] {
            for side in Side::BOTH {
                rows.push(Row::new(
                    count,
                    version,
                    side,
                    theirs.get(side),
                    ours.get(side),
                ));
            }
            gaps.push((count, version, theirs.gaps.clone(), ours.gaps.clone()));
        }
    }
    println!();
    print!("{}", table(&rows));
    println!();
    print!("{}", detail_table(&rows));
    println!();
    print!("{}", gap_table(&gaps));
    let gaps_ok = gaps
        .iter()
        .all(|(_, _, _, ours)| ours.worst_ns <= MAX_GAP_ERROR_NS);
    let all_ok = rows.iter().all(|r| r.verdict().0) && gaps_ok;
    if failed {
        println!("\nsome counts could not be measured (see above)");
    }
    println!(
        "\n{}",
        if all_ok && !failed {
            "keepalived-rs uses at most half of keepalived's RSS and CPU on every line, and its \
             adverts stray at most 1 ms from advert_int"
        } else {
            "keepalived-rs is ABOVE half of keepalived's, or its advert-gap error above 1 ms, on \
             some line"
        }
    );
    Ok(if all_ok && !failed { 0 } else { 1 })
}

/// `sysconf(_SC_CLK_TCK)`, the unit of the CPU times in `/proc/PID/stat` (100 if unknown).
fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The lab and the settings every measurement shares.
struct Bench<'a> {
    lab: &'a Lab,
    settle: Duration,
    window: u64,
    gap_window: Duration,
    clock_ticks: u64,
    keep: Option<&'a std::path::Path>,
    global_defs: &'a [String],
}

/// What both sides of one implementation at one count came to.
#[derive(Debug, Clone)]
struct Pair {
    master: Figures,
    backup: Figures,
    /// The master's advert gaps as `b` received them.
    gaps: GapStats,
}

impl Pair {
    fn get(&self, side: Side) -> &Figures {
        match side {
            Side::Master => &self.master,
            Side::Backup => &self.backup,
        }
    }
}

impl Bench<'_> {
    /// Runs `count` instances of `imp` on both hosts, waits for the steady state and measures
    /// both daemons over the window. Stops them and removes the addresses in any case.
    fn measure(&self, imp: &Implementation, count: u16, version: u8) -> Result<Pair> {
        let a = self.lab.host("a");
        let b = self.lab.host("b");
        let interfaces = interfaces_for(count);
        for host in [a, b] {
            flush_vips(host, interfaces)?;
        }
        let mut daemons: Vec<Keepalived> = Vec::new();
        let result = self.steady_and_measure(imp, count, version, &mut daemons);
        let result = result.map_err(|err| {
            let mut why = format!("{err:#}");
            for (daemon, name) in daemons.iter().zip(["a", "b"]) {
                let log = daemon.log().unwrap_or_default();
                let _ = write!(why, "\n  log of {name}: {}", tail(&log, 8));
            }
            anyhow::anyhow!(why)
        });
        // Stop the backup first, so the master's stop does not make it take over.
        let mut stop_errors = Vec::new();
        for daemon in daemons.iter_mut().rev() {
            if let Err(err) = daemon.stop() {
                stop_errors.push(format!("{err:#}"));
            }
        }
        drop(daemons);
        for host in [a, b] {
            flush_vips(host, interfaces)?;
        }
        let pair = result?;
        ensure!(
            stop_errors.is_empty(),
            "stopping: {}",
            stop_errors.join("; ")
        );
        Ok(pair)
    }

    /// Starts `a` then `b` (pushing them to `daemons` so the caller can stop them and show
    /// their logs), waits for the steady state and measures.
    fn steady_and_measure(
        &self,
        imp: &Implementation,
        count: u16,
        version: u8,
        daemons: &mut Vec<Keepalived>,
    ) -> Result<Pair> {
        let a = self.lab.host("a");
        let b = self.lab.host("b");
        let vips = vips(count);
        let config_of = |priority, router_id| {
            with_global_defs(
                &config(count, version, priority, router_id),
                self.global_defs,
            )
        };

        daemons.push(
            Keepalived::start_with(a, &imp.program, &config_of(PRIORITY_A, "idbencha"), &[])
                .with_context(|| format!("starting {} in a", imp.label))?,
        );
        let start_time = START_PER_INSTANCE * u32::from(count);
        wait_vips(a, &vips, vips.len(), MASTER_TIMEOUT.max(start_time))
            .context("waiting for a to be master of every instance")?;

        daemons.push(
            Keepalived::start_with(b, &imp.program, &config_of(PRIORITY_B, "idbenchb"), &[])
                .with_context(|| format!("starting {} in b", imp.label))?,
        );
        let backup_b = &daemons[1];
        let backup_timeout = BACKUP_TIMEOUT.max(start_time);
        let deadline = Instant::now() + backup_timeout;
        loop {
            let log = backup_b.log().unwrap_or_default();
            if count_lines(&log, "Entering BACKUP STATE") >= usize::from(count) {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "b logged `Entering BACKUP STATE` {} times of {count} within {backup_timeout:?}",
                    count_lines(&log, "Entering BACKUP STATE")
                );
            }
            thread::sleep(POLL);
        }
        thread::sleep(self.settle);
        self.check_state(a, b, &vips, daemons)
            .context("before the window")?;

        let roots = [daemons[0].pid(), daemons[1].pid()];
        let wall0 = Instant::now();
        let mut samples: [Vec<(Instant, TreeSample)>; 2] = [Vec::new(), Vec::new()];
        for k in 0..=self.window {
            let due = wall0 + Duration::from_secs(k);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            for (side, &root) in samples.iter_mut().zip(&roots) {
                let sample = TreeSample::take(root)?;
                side.push((Instant::now(), sample));
            }
        }
        self.check_state(a, b, &vips, daemons)
            .context("after the window")?;
        let gaps = self
            .advert_gaps(imp, count, version)
            .context("capturing the adverts")?;
        self.check_state(a, b, &vips, daemons)
            .context("after the advert capture")?;
        let [master, backup] = samples;
        Ok(Pair {
            master: Figures::of(&master, self.clock_ticks)?,
            backup: Figures::of(&backup, self.clock_ticks)?,
            gaps,
        })
    }

    /// Captures the adverts arriving at `b` on every interface in use for the gap window and
    /// sums up the gaps of each instance.
    fn advert_gaps(&self, imp: &Implementation, count: u16, version: u8) -> Result<GapStats> {
        let b = self.lab.host("b");
        let mut captures: Vec<Capture> = interfaces_for(count)
            .iter()
            .map(|ifname| b.capture_filter(ifname, "ip proto 112"))
            .collect::<Result<_>>()?;
        thread::sleep(CAPTURE_WARMUP);
        let window_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_nanos();
        thread::sleep(self.gap_window);
        let mut adverts = Vec::new();
        for (k, capture) in captures.iter_mut().enumerate() {
            capture.stop()?;
            if let Some(dir) = self.keep {
                let name = format!("{count}-v{version}-{}-{}.pcap", imp.label, INTERFACES[k]);
                fs::create_dir_all(dir)
                    .and_then(|()| fs::copy(capture.path(), dir.join(&name)))
                    .with_context(|| format!("keeping {name} in {}", dir.display()))?;
            }
            let k = u8::try_from(k).unwrap_or(u8::MAX);
            let packets = capture.packets()?;
            let in_window = packets.iter().filter(|p| p.time_ns >= window_start);
            adverts.extend(in_window.filter_map(|p| {
                let vrrp = p.vrrp_payload()?;
                let &[ver_type, vrid, _] = vrrp.first_chunk::<3>()?;
                (ver_type == 0x01 | (version << 4))
                    .then(|| (k, vrid, i128::try_from(p.time_ns).unwrap_or(i128::MAX)))
            }));
        }
        let stats = GapStats::of(&adverts, ADVERT_INT_NS);
        ensure!(
            stats.instances == usize::from(count),
            "adverts of {} instances of {count} captured in {:?}",
            stats.instances,
            self.gap_window
        );
        Ok(stats)
    }

    /// Both daemons run, every address is on `a` and none on `b`.
    fn check_state(
        &self,
        a: &Host,
        b: &Host,
        vips: &[(&str, Ipv4Addr)],
        daemons: &mut [Keepalived],
    ) -> Result<()> {
        for (daemon, name) in daemons.iter_mut().zip(["a", "b"]) {
            ensure!(daemon.is_running(), "the daemon in {name} exited");
        }
        let on_a = vips_present(a, vips)?;
        let on_b = vips_present(b, vips)?;
        ensure!(
            on_a == vips.len() && on_b == 0,
            "not in the steady state: {on_a} of {} addresses on a, {on_b} on b",
            vips.len()
        );
        Ok(())
    }
}

/// The interfaces `count` instances are spread over, [`PER_INTERFACE`] on each.
fn interfaces_for(count: u16) -> &'static [&'static str] {
    let needed = usize::from(count.div_ceil(PER_INTERFACE)).clamp(1, INTERFACES.len());
    &INTERFACES[..needed]
}

/// Where instance `i` (from 0) runs: its interface and VRID.
fn placement(i: u16) -> (&'static str, u8) {
    let interface = INTERFACES[usize::from(i / PER_INTERFACE).min(INTERFACES.len() - 1)];
    let vrid = u8::try_from(i % PER_INTERFACE + 1).unwrap_or(u8::MAX);
    (interface, vrid)
}

/// The virtual address of each of `count` instances with its interface: 198.51.100.VRID.
fn vips(count: u16) -> Vec<(&'static str, Ipv4Addr)> {
    let [x, y, z] = VIP_NET;
    (0..count)
        .map(|i| {
            let (interface, vrid) = placement(i);
            (interface, Ipv4Addr::new(x, y, z, vrid))
        })
        .collect()
}

/// The configuration of one host: `count` instances at `priority`, no authentication,
/// `version 3` in each when `version` is 3.
fn config(count: u16, version: u8, priority: u8, router_id: &str) -> String {
    let instances: Vec<VrrpInstance> = vips(count)
        .into_iter()
        .zip(0..count)
        .map(|((interface, vip), i)| {
            let (_, vrid) = placement(i);
            let mut instance = VrrpInstance::new(vrid, priority, &[format!("{vip}/32").as_str()])
                .named(&format!("VI_{}", i + 1));
            instance.interface = interface.to_string();
            if version == 3 {
                instance = instance.version(3);
            }
            instance
        })
        .collect();
    keepalived_testlab::render_config(router_id, &instances)
}

/// `text` with `lines` added at the start of its `global_defs` block.
fn with_global_defs(text: &str, lines: &[String]) -> String {
    let extra: String = lines.iter().map(|l| format!("    {l}\n")).collect();
    text.replacen("global_defs {\n", &format!("global_defs {{\n{extra}"), 1)
}

/// How many of `vips` are on `host`, each on its interface (as /32).
fn vips_present(host: &Host, vips: &[(&str, Ipv4Addr)]) -> Result<usize> {
    let mut on: HashMap<&str, Vec<String>> = HashMap::new();
    let mut present = 0;
    for (interface, vip) in vips {
        if !on.contains_key(interface) {
            on.insert(interface, host.addresses(interface)?);
        }
        let want = format!("{vip}/32");
        present += usize::from(on.get(interface).is_some_and(|a| a.contains(&want)));
    }
    Ok(present)
}

/// Polls until at least `want` of `vips` are on `host`, for at most `timeout`.
fn wait_vips(host: &Host, vips: &[(&str, Ipv4Addr)], want: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let present = vips_present(host, vips)?;
        if present >= want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{present} of {want} addresses on {} after {timeout:?}",
                host.name()
            );
        }
        thread::sleep(POLL);
    }
}

/// Removes every address of [`VIP_NET`] from the host's `interfaces` (a daemon that was
/// killed leaves its addresses behind).
fn flush_vips(host: &Host, interfaces: &[&str]) -> Result<()> {
    let [x, y, z] = VIP_NET;
    let net = format!("{x}.{y}.{z}.0/24");
    for interface in interfaces {
        let out = host.run("ip", &["addr", "flush", "dev", interface, "to", &net])?;
        ensure!(
            out.status.success(),
            "flushing {net} from {interface} of {}: {}",
            host.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Connects `a` and `b` with a veth pair named `ifname` at both ends, addresses
/// 203.0.113.(block + 1)/26 on `a` and .(block + 2)/26 on `b`, both ends up; waits (at most
/// 5 s) for both to report UP. A /26 of its own per link, so no two interfaces of a host share
/// a network. Both ends live in the hosts' namespaces and go away with the lab.
fn link_hosts(a: &Host, b: &Host, ifname: &str, block: u8) -> Result<()> {
    run_ok(
        "ip",
        &[
            "-n",
            a.netns(),
            "link",
            "add",
            ifname,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            b.netns(),
        ],
    )?;
    for (host, octet) in [(a, block + 1), (b, block + 2)] {
        let cidr = format!("203.0.113.{octet}/26");
        run_ok(
            "ip",
            &["-n", host.netns(), "addr", "add", &cidr, "dev", ifname],
        )?;
        run_ok("ip", &["-n", host.netns(), "link", "set", ifname, "up"])?;
    }
    for host in [a, b] {
        let up = keepalived_testlab::poll_until(Duration::from_secs(5), || {
            host.link_is_up(ifname).unwrap_or(false)
        });
        ensure!(
            up,
            "{ifname} in {} did not come up within 5 s",
            host.netns()
        );
    }
    Ok(())
}

/// The gaps between consecutive adverts of each instance, against the advert interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct GapStats {
    /// Instances (interface, VRID) with at least one advert.
    instances: usize,
    /// Gaps measured (consecutive pairs of adverts of one instance).
    gaps: usize,
    /// The largest |gap − advert_int| of any instance, ns.
    worst_ns: i128,
    /// The 99th percentile of |gap − advert_int|, ns.
    p99_ns: i128,
    /// The median of |gap − advert_int|, ns.
    median_ns: i128,
}

impl GapStats {
    /// From `(interface, VRID, capture time ns)` of every advert, in capture order per
    /// interface.
    fn of(adverts: &[(u8, u8, i128)], interval_ns: i128) -> GapStats {
        let mut by_instance: BTreeMap<(u8, u8), Vec<i128>> = BTreeMap::new();
        for &(interface, vrid, t) in adverts {
            by_instance.entry((interface, vrid)).or_default().push(t);
        }
        let mut errors: Vec<i128> = Vec::new();
        for times in by_instance.values_mut() {
            times.sort_unstable();
            errors.extend(times.windows(2).map(|w| (w[1] - w[0] - interval_ns).abs()));
        }
        errors.sort_unstable();
        let at = |q: usize| {
            errors
                .get((errors.len().saturating_sub(1)) * q / 100)
                .copied()
                .unwrap_or(0)
        };
        GapStats {
            instances: by_instance.len(),
            gaps: errors.len(),
            worst_ns: errors.last().copied().unwrap_or(0),
            p99_ns: at(99),
            median_ns: at(50),
        }
    }
}

/// Nanoseconds as milliseconds.
fn ms(ns: i128) -> f64 {
    // Far below 2^52 ns for any gap.
    #[allow(clippy::cast_precision_loss)]
    let ns = ns as f64;
    ns / 1e6
}

/// The advert-gap lines: both implementations' figures for each count and version.
fn gap_table(gaps: &[(u16, u8, GapStats, GapStats)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "advert-gap error |gap - advert_int| at b, per instance, ms:\n{:>4} {:>2} {:<13} {:>9} \
         {:>6} {:>8} {:>8} {:>8}  at most 1 ms?",
        "N", "v", "", "instances", "gaps", "median", "p99", "worst",
    );
    for (count, version, theirs, ours) in gaps {
        for (label, g) in [("keepalived", theirs), ("keepalived-rs", ours)] {
            let _ = writeln!(
                s,
                "{count:>4} {version:>2} {label:<13} {:>9} {:>6} {:>8.3} {:>8.3} {:>8.3}  {}",
                g.instances,
                g.gaps,
                ms(g.median_ns),
                ms(g.p99_ns),
                ms(g.worst_ns),
                if g.worst_ns <= MAX_GAP_ERROR_NS {
                    "yes"
                } else {
                    "NO"
                },
            );
        }
    }
    s
}

/// How many lines of `text` contain `needle`.
fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The last `lines` lines of `text`, joined for an error message.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// The fields of `/proc/PID/stat` the benchmark uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
    threads: u64,
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid … utime stime cutime cstime … num_threads`.
/// The command name may hold spaces and parentheses, so the fields are counted from the last
/// `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field n of proc(5) is at index n - 3 here: ppid 4, utime 14 … cstime 17, num_threads 20.
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let mut ticks = 0u64;
    for i in 11..=14 {
        ticks = ticks.checked_add(number(i)?)?;
    }
    Some(Stat {
        ppid: u32::try_from(number(1)?).ok()?,
        ticks,
        threads: number(17)?,
    })
}

/// `root` and all its descendants, from (pid, ppid) pairs; `root` first.
fn descendants(root: u32, links: &[(u32, u32)]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(pid, ppid) in links {
        children.entry(ppid).or_default().push(pid);
    }
    let mut tree = vec![root];
    let mut next = 0;
    // Each pid has one parent, so every pid is pushed at most once (pid 0 is nobody's child).
    while let Some(&pid) = tree.get(next) {
        next += 1;
        if let Some(kids) = children.get(&pid) {
            tree.extend(kids.iter().filter(|&&k| k != pid));
        }
        if tree.len() > links.len() + 1 {
            break;
        }
    }
    tree
}

/// A `Key:   1234 kB` line of `/proc/PID/status` or `smaps_rollup`, in KiB.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The run time on a CPU, in nanoseconds, of every thread of process `pid`
/// (`/proc/PID/task/*/schedstat`, first field).
fn runtime_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The memory of one process, in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcMem {
    pid: u32,
    comm: String,
    rss: u64,
    anon: u64,
    file: u64,
    shmem: u64,
    /// `None` when `smaps_rollup` cannot be read.
    pss: Option<u64>,
    threads: u64,
}

/// One look at a whole process tree.
#[derive(Debug, Clone, Default)]
struct TreeSample {
    procs: Vec<ProcMem>,
    /// CPU clock ticks of the tree (with reaped children).
    ticks: u64,
    /// CPU run time of the tree's threads, in nanoseconds.
    runtime_ns: u64,
}

impl TreeSample {
    /// Reads the tree of `root` from /proc; an error if `root` is gone.
    fn take(root: u32) -> Result<TreeSample> {
        let mut stats = HashMap::new();
        let entries = fs::read_dir("/proc").context("reading /proc")?;
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may exit between the listing and the read.
            if let Some(stat) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|t| parse_stat(&t))
            {
                stats.insert(pid, stat);
            }
        }
        ensure!(stats.contains_key(&root), "process {root} is gone");
        let links: Vec<(u32, u32)> = stats.iter().map(|(&pid, s)| (pid, s.ppid)).collect();
        let mut sample = TreeSample::default();
        for pid in descendants(root, &links) {
            let Some(stat) = stats.get(&pid) else {
                continue;
            };
            let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let pss = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|t| kib_field(&t, "Pss"));
            let comm = status
                .lines()
                .find_map(|l| l.strip_prefix("Name:"))
                .map_or_else(String::new, |n| n.trim().to_string());
            sample.procs.push(ProcMem {
                pid,
                comm,
                rss: kib_field(&status, "VmRSS").unwrap_or(0),
                anon: kib_field(&status, "RssAnon").unwrap_or(0),
                file: kib_field(&status, "RssFile").unwrap_or(0),
                shmem: kib_field(&status, "RssShmem").unwrap_or(0),
                pss,
                threads: stat.threads,
            });
            sample.ticks += stat.ticks;
            sample.runtime_ns += runtime_ns(pid);
        }
        Ok(sample)
    }

    fn sum(&self, f: impl Fn(&ProcMem) -> u64) -> u64 {
        self.procs.iter().map(f).sum()
    }

    /// The summed PSS, `None` if any process's could not be read.
    fn pss(&self) -> Option<u64> {
        self.procs.iter().map(|p| p.pss).sum()
    }
}

/// What one daemon's tree came to over the window.
#[derive(Debug, Clone)]
struct Figures {
    /// Highest summed RSS of any sample, KiB.
    max_rss_kib: u64,
    /// Highest summed PSS of any sample, KiB (`None` if unreadable).
    max_pss_kib: Option<u64>,
    /// CPU % of one CPU from clock ticks.
    cpu_percent: f64,
    /// Clock ticks used in the window.
    cpu_ticks: u64,
    /// CPU % of one CPU from the threads' run time.
    runtime_percent: f64,
    /// The last sample, for the breakdown.
    last: TreeSample,
    /// Whether the set of processes changed during the window.
    tree_changed: bool,
}

impl Figures {
    /// Sums up the samples of one daemon, taken in order.
    fn of(samples: &[(Instant, TreeSample)], clock_ticks: u64) -> Result<Figures> {
        let (Some((t0, first)), Some((t1, last))) = (samples.first(), samples.last()) else {
            bail!("no samples");
        };
        let wall = t1.saturating_duration_since(*t0);
        ensure!(!wall.is_zero(), "the window has no length");
        let cpu_ticks = last.ticks.saturating_sub(first.ticks);
        let pids = |s: &TreeSample| s.procs.iter().map(|p| p.pid).collect::<Vec<_>>();
        Ok(Figures {
            max_rss_kib: samples
                .iter()
                .map(|(_, s)| s.sum(|p| p.rss))
                .max()
                .unwrap_or(0),
            max_pss_kib: samples
                .iter()
                .map(|(_, s)| s.pss())
                .collect::<Option<Vec<u64>>>()
                .and_then(|v| v.into_iter().max()),
            cpu_percent: percent(cpu_ticks, clock_ticks, wall),
            cpu_ticks,
            runtime_percent: percent(
                last.runtime_ns.saturating_sub(first.runtime_ns),
                1_000_000_000,
                wall,
            ),
            last: last.clone(),
            tree_changed: samples.iter().any(|(_, s)| pids(s) != pids(first)),
        })
    }
}

/// `units` of `1 / per_second` s of CPU over `wall`, in % of one CPU.
fn percent(units: u64, per_second: u64, wall: Duration) -> f64 {
    // Far below 2^52 for any window.
    #[allow(clippy::cast_precision_loss)]
    let (units, per_second) = (units as f64, per_second as f64);
    units / per_second / wall.as_secs_f64() * 100.0
}

/// `ours / theirs`, `None` when `theirs` is zero.
fn ratio(ours: f64, theirs: f64) -> Option<f64> {
    (theirs > 0.0).then(|| ours / theirs)
}

/// One count and side, both implementations.
#[derive(Debug, Clone)]
struct Row {
    count: u16,
    version: u8,
    side: Side,
    theirs: Figures,
    ours: Figures,
}

impl Row {
    fn new(count: u16, version: u8, side: Side, theirs: &Figures, ours: &Figures) -> Row {
        Row {
            count,
            version,
            side,
            theirs: theirs.clone(),
            ours: ours.clone(),
        }
    }

    fn rss_ratio(&self) -> Option<f64> {
        // KiB figures are far below 2^52.
        #[allow(clippy::cast_precision_loss)]
        ratio(self.ours.max_rss_kib as f64, self.theirs.max_rss_kib as f64)
    }

    fn cpu_ratio(&self) -> Option<f64> {
        ratio(self.ours.cpu_percent, self.theirs.cpu_percent)
    }

    fn runtime_ratio(&self) -> Option<f64> {
        ratio(self.ours.runtime_percent, self.theirs.runtime_percent)
    }

    /// Whether ours is at most half of keepalived's on RSS and CPU (the nanosecond figure), and
    /// what to print.
    fn verdict(&self) -> (bool, String) {
        let rss_ok = self.rss_ratio().is_some_and(|r| r <= 0.5);
        let cpu_comparable = self.theirs.runtime_percent >= MIN_CPU_PERCENT;
        let cpu_ok = !cpu_comparable || self.runtime_ratio().is_some_and(|r| r <= 0.5);
        let text = match (rss_ok, cpu_ok) {
            (true, true) if cpu_comparable => "yes".to_string(),
            (true, true) => "yes (RSS; CPU too small)".to_string(),
            (false, true) => "NO: RSS".to_string(),
            (true, false) => "NO: CPU".to_string(),
            (false, false) => "NO: RSS, CPU".to_string(),
        };
        (rss_ok && cpu_ok, text)
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
}

/// The side-by-side table.
fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>4} {:>2} {:<6} {:>15} {:>12} {:>6} {:>15} {:>10} {:>6} {:>10} {:>10} {:>6}  at most \
         half?",
        "N",
        "v",
        "side",
        "keepalived RSS",
        "ours RSS",
        "ratio",
        "keepalived CPU",
        "ours CPU",
        "ratio",
        "(ns) kad",
        "(ns) ours",
        "ratio",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:>4} {:>2} {:<6} {:>11.1} MiB {:>8.1} MiB {:>6} {:>13.2} % {:>8.2} % {:>6} \
             {:>8.3} % {:>8.3} % {:>6}  {}",
            r.count,
            r.version,
            r.side.name(),
            mebibytes(r.theirs.max_rss_kib),
            mebibytes(r.ours.max_rss_kib),
            fmt_ratio(r.rss_ratio()),
            r.theirs.cpu_percent,
            r.ours.cpu_percent,
            fmt_ratio(r.cpu_ratio()),
            r.theirs.runtime_percent,
            r.ours.runtime_percent,
            fmt_ratio(r.runtime_ratio()),
            r.verdict().1,
        );
    }
    s
}

fn fmt_kib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".to_string(), |k| format!("{:.1}", mebibytes(k)))
}

/// PSS, the RSS split and the finer CPU figure of every line, for both implementations.
fn detail_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>4} {:>2} {:<6} {:<13} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>12}",
        "N",
        "v",
        "side",
        "",
        "procs",
        "PSS MiB",
        "RSS MiB",
        "anon MiB",
        "file MiB",
        "shmem MiB",
        "ticks",
        "CPU % (ns)",
    );
    for r in rows {
        for (label, f) in [("keepalived", &r.theirs), ("keepalived-rs", &r.ours)] {
            let last = &f.last;
            let threads: u64 = last.procs.iter().map(|p| p.threads).sum();
            let _ = writeln!(
                s,
                "{:>4} {:>2} {:<6} {:<13} {:>5} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>7} \
                 {:>12.3}{}",
                r.count,
                r.version,
                r.side.name(),
                label,
                format!("{}/{threads}", last.procs.len()),
                fmt_kib(f.max_pss_kib),
                mebibytes(f.max_rss_kib),
                mebibytes(last.sum(|p| p.anon)),
                mebibytes(last.sum(|p| p.file)),
                mebibytes(last.sum(|p| p.shmem)),
                f.cpu_ticks,
                f.runtime_percent,
                if f.tree_changed {
                    "  (processes changed)"
                } else {
                    ""
                },
            );
        }
    }
    let _ = writeln!(
        s,
        "(procs: processes/threads; anon, file, shmem: RssAnon, RssFile, RssShmem of the last \
         sample; ticks: CPU clock ticks in the window; CPU % (ns): from schedstat run time)"
    );
    s
}

/// Every process of one tree at the end of the window.
fn processes(side: Side, f: &Figures) -> String {
    let mut s = String::new();
    for p in &f.last.procs {
        let _ = writeln!(
            s,
            "    {:<6} pid {:>7} {:<16} threads {:>2}  RSS {:>7} KiB (anon {:>6}, file {:>6}, \
             shmem {:>5})  PSS {:>7} KiB",
            side.name(),
            p.pid,
            p.comm,
            p.threads,
            p.rss,
            p.anon,
            p.file,
            p.shmem,
            p.pss.map_or_else(|| "-".to_string(), |v| v.to_string()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let text = "4242 (keep (a) live) S 4200 4242 4242 0 -1 4194560 310 0 0 0 7 5 2 1 20 0 1 \
                    0 1234 9000000 500 18446744073709551615\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                ppid: 4200,
                ticks: 15,
                threads: 1
            })
        );
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_tree_is_the_root_and_every_descendant() {
        let links = [(10, 1), (11, 10), (12, 11), (13, 10), (20, 1), (21, 20)];
        let mut tree = descendants(10, &links);
        assert_eq!(tree.first(), Some(&10));
        tree.sort_unstable();
        assert_eq!(tree, vec![10, 11, 12, 13]);
        assert_eq!(descendants(99, &links), vec![99]);
        // A pid that claims to be its own parent is not followed forever.
        assert_eq!(descendants(5, &[(5, 5)]), vec![5]);
    }

    #[test]
    fn kib_fields() {
        let status = "Name:\tkeepalived\nVmRSS:\t   13824 kB\nRssAnon:\t    2048 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(13824));
        assert_eq!(kib_field(status, "RssAnon"), Some(2048));
        assert_eq!(kib_field(status, "RssFile"), None);
        let rollup = "5600-7fff ---p 00000000 00:00 0 [rollup]\nRss:  448 kB\nPss:  234 kB\n\
                      Pss_Anon:  100 kB\n";
        assert_eq!(kib_field(rollup, "Pss"), Some(234));
        assert_eq!(kib_field(rollup, "Pss_Anon"), Some(100));
    }

    fn figures(rss: u64, cpu_percent: f64, cpu_ticks: u64) -> Figures {
        Figures {
            max_rss_kib: rss,
            max_pss_kib: None,
            cpu_percent,
            cpu_ticks,
            runtime_percent: cpu_percent,
            last: TreeSample::default(),
            tree_changed: false,
        }
    }

    fn sample(pids_rss: &[(u32, u64)], ticks: u64, runtime_ns: u64) -> TreeSample {
        TreeSample {
            procs: pids_rss
                .iter()
                .map(|&(pid, rss)| ProcMem {
                    pid,
                    comm: "k".into(),
                    rss,
                    anon: rss / 2,
                    file: rss / 2,
                    shmem: 0,
                    pss: Some(rss / 2),
                    threads: 1,
                })
                .collect(),
            ticks,
            runtime_ns,
        }
    }

    #[test]
    fn figures_take_the_peak_and_the_cpu_over_the_window() {
        let t0 = Instant::now();
        let samples = [
            (t0, sample(&[(1, 1000), (2, 3000)], 100, 1_000_000_000)),
            (
                t0 + Duration::from_secs(10),
                sample(&[(1, 1200), (2, 3000)], 105, 1_050_000_000),
            ),
            (
                t0 + Duration::from_secs(20),
                sample(&[(1, 1100), (2, 2900)], 110, 1_100_000_000),
            ),
        ];
        let f = Figures::of(&samples, 100).expect("samples");
        assert_eq!(f.max_rss_kib, 4200);
        assert_eq!(f.max_pss_kib, Some(2100));
        assert_eq!(f.cpu_ticks, 10);
        // 10 ticks of 10 ms over 20 s: 0.5 %; 100 ms of run time over 20 s: 0.5 %.
        assert!((f.cpu_percent - 0.5).abs() < 1e-9);
        assert!((f.runtime_percent - 0.5).abs() < 1e-9);
        assert!(!f.tree_changed);
        assert!(Figures::of(&samples[..1], 100).is_err());
        assert!(Figures::of(&[], 100).is_err());
    }

    #[test]
    fn a_changed_tree_is_noticed() {
        let t0 = Instant::now();
        let samples = [
            (t0, sample(&[(1, 10)], 0, 0)),
            (
                t0 + Duration::from_secs(1),
                sample(&[(1, 10), (3, 5)], 0, 0),
            ),
        ];
        assert!(Figures::of(&samples, 100).is_ok_and(|f| f.tree_changed));
    }

    #[test]
    fn verdicts() {
        let row = |ours: Figures, theirs: Figures| Row {
            count: 100,
            version: 2,
            side: Side::Master,
            theirs,
            ours,
        };
        let ok = row(figures(6000, 0.1, 4), figures(13800, 0.3, 12));
        assert_eq!(ok.verdict(), (true, "yes".to_string()));
        let big = row(figures(7000, 0.1, 4), figures(13800, 0.3, 12));
        assert_eq!(big.verdict(), (false, "NO: RSS".to_string()));
        let busy = row(figures(6000, 0.2, 8), figures(13800, 0.3, 12));
        assert_eq!(busy.verdict(), (false, "NO: CPU".to_string()));
        let both = row(figures(7000, 0.2, 8), figures(13800, 0.3, 12));
        assert_eq!(both.verdict(), (false, "NO: RSS, CPU".to_string()));
        let idle = row(figures(6000, 0.04, 0), figures(13800, 0.02, 0));
        assert!(idle.verdict().0);
        assert_eq!(idle.verdict().1, "yes (RSS; CPU too small)");
        // The finer run-time figure decides, not the ticks.
        let mut fine = row(figures(6000, 0.1, 2), figures(13800, 0.25, 5));
        fine.ours.runtime_percent = 0.15;
        assert_eq!(fine.verdict(), (false, "NO: CPU".to_string()));
        assert_eq!(fmt_ratio(fine.runtime_ratio()), "0.60");
        assert_eq!(fmt_ratio(ok.rss_ratio()), "0.43");
        assert_eq!(ratio(1.0, 0.0), None);
    }

    #[test]
    fn configs_have_one_instance_and_address_per_vrid() {
        let text = config(3, 2, PRIORITY_A, "r");
        assert_eq!(text.matches("vrrp_instance ").count(), 3);
        assert!(text.contains("vrrp_instance VI_3 {"));
        assert!(text.contains("virtual_router_id 3\n"));
        assert!(text.contains("        198.51.100.3/32\n"));
        assert!(!text.contains("authentication"));
        assert!(!text.contains("version"));
        assert_eq!(text.matches("priority 200\n").count(), 3);
        assert_eq!(text.matches("interface eth0\n").count(), 3);
        assert_eq!(
            vips(250).last(),
            Some(&(HOST_IF, Ipv4Addr::new(198, 51, 100, 250)))
        );
    }

    #[test]
    fn global_defs_are_added() {
        let text = with_global_defs(&config(1, 2, PRIORITY_A, "r"), &["script_user root".into()]);
        assert!(text.contains("global_defs {\n    script_user root\n"));
        assert_eq!(with_global_defs("x", &[]), "x");
    }

    #[test]
    fn a_thousand_instances_are_four_interfaces_of_250_vrids() {
        assert_eq!(interfaces_for(1), &[HOST_IF]);
        assert_eq!(interfaces_for(250), &[HOST_IF]);
        assert_eq!(interfaces_for(251), &[HOST_IF, "eth1"]);
        assert_eq!(interfaces_for(1000), &INTERFACES);
        assert_eq!(placement(0), (HOST_IF, 1));
        assert_eq!(placement(249), (HOST_IF, 250));
        assert_eq!(placement(250), ("eth1", 1));
        assert_eq!(placement(999), ("eth3", 250));
        let text = config(1000, 3, PRIORITY_B, "r");
        assert_eq!(text.matches("vrrp_instance ").count(), 1000);
        assert!(text.contains("vrrp_instance VI_1000 {"));
        assert_eq!(text.matches("    version 3\n").count(), 1000);
        for ifname in INTERFACES {
            assert_eq!(text.matches(&format!("interface {ifname}\n")).count(), 250);
        }
        assert_eq!(text.matches("virtual_router_id 250\n").count(), 4);
    }

    #[test]
    fn gap_errors_are_per_instance() {
        let s = 1_000_000_000i128;
        // Instance (0, 1): gaps of 1 s + 0.2 ms and 1 s - 0.1 ms; instance (1, 1), the same
        // VRID on another interface: one gap of 1 s + 3 ms; (0, 2) a single advert.
        let adverts = [
            (0, 1, 0),
            (1, 1, 10),
            (0, 2, 20),
            (0, 1, s + 200_000),
            (1, 1, s + 3_000_010),
            (0, 1, 2 * s + 100_000),
        ];
        let g = GapStats::of(&adverts, s);
        assert_eq!(g.instances, 3);
        assert_eq!(g.gaps, 3);
        assert_eq!(g.worst_ns, 3_000_000);
        assert_eq!(g.median_ns, 200_000);
        assert_eq!(GapStats::of(&[], s), GapStats::default());
        assert!((ms(1_500_000) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn percent_and_lines() {
        assert!((percent(30, 100, Duration::from_secs(60)) - 0.5).abs() < 1e-9);
        assert_eq!(count_lines("a X\nb\nX c\n", "X"), 2);
        assert_eq!(tail("1\n2\n3\n", 2), "2 | 3");
    }
}
