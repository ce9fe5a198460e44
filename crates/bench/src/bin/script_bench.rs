//! `script-bench`: one instance tracking 100 `vrrp_script`s at `interval 1`, keepalived 2.2.7
//! against keepalived-rs in the same run.
//!
//! A lab of one host, `a` (crates/testlab), and a temporary directory with 100 check scripts
//! `check-N.sh` (`test -f DIR/up-N`), every flag file present. The configuration has
//! `script_user root` and `enable_script_security`, 100 `vrrp_script chk_N` (`interval 1`,
//! `weight -1`, so a failing script lowers the priority instead of faulting the instance) and
//! one `vrrp_instance` (VRID 51, priority 200, `advert_int 1`, VIP 192.0.2.100/32) tracking
//! all of them. For each implementation in turn:
//!
//! 1. start it, wait until it logs `Entering MASTER STATE`, then 5 s of warm-up;
//! 2. **CPU**: the CPU time the daemon's whole process tree (its children and every script they
//!    run included) used over 20 s of wall time, as % of one CPU. The daemon is started through
//!    a wrapper script that the driver moves into a cgroup v2 of its own and that `exec`s the
//!    daemon only once it is in there, so every process the daemon ever forks is counted
//!    (`usage_usec` of `cpu.stat`). Without a writable
//!    cgroup v2 hierarchy, the fallback sums `utime + stime + cutime + cstime` over the
//!    processes of the daemon's process group (scripts that exited are then only counted once
//!    their parent has reaped them);
//! 3. **detection delay**: for 10 scripts chosen evenly, remove the flag file and poll the
//!    daemon's log every 10 ms (bounded) until `VRRP_Script(chk_N) failed` appears; the delay
//!    is that moment minus the removal (±10 ms). The flag is then restored and the benchmark
//!    waits (bounded) for `VRRP_Script(chk_N) succeeded` before the next one. The removals are
//!    spread over the 1 s interval by waits of different lengths in between.
//!
//! Exit status: 0 when both were measured, 1 when a step failed, 2 when the benchmark cannot
//! run here (not root, a program missing).

use keepalived_bench::programs::{is_executable, resolve_ours};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use keepalived_testlab::{Host, KEEPALIVED_BIN, Keepalived, Lab};

/// How many `vrrp_script`s the instance tracks.
const SCRIPTS: usize = 100;
/// How many of them are made to fail, one at a time, for the detection delay.
const SAMPLES: usize = 10;
/// Last octet of the virtual address (192.0.2.100).
const VIP_OCTET: u8 = 100;
/// How long the daemon may take to become master after it starts.
const MASTER_TIMEOUT: Duration = Duration::from_secs(20);
/// Warm-up between becoming master and the CPU measurement.
const WARM_UP: Duration = Duration::from_secs(5);
/// How long a script's failure (or recovery) may take to show in the log.
const DETECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the log is read while waiting for a line.
const LOG_POLL: Duration = Duration::from_millis(10);

/// Measures CPU use and script failure detection delay with 100 tracked scripts.
#[derive(Debug, Parser)]
#[command(name = "script-bench", version)]
struct Args {
    /// keepalived-rs binary to measure (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// The reference keepalived binary.
    #[arg(long, default_value = KEEPALIVED_BIN)]
    keepalived: PathBuf,
    /// Seconds of wall time over which CPU use is measured.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    cpu_seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("script-bench: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// A program under test.
#[derive(Debug)]
struct Implementation {
    label: String,
    program: PathBuf,
    /// Short name for the cgroup and the wrapper script.
    tag: &'static str,
}

/// What one implementation measured.
#[derive(Debug, Clone)]
struct Outcome {
    label: String,
    /// CPU time over wall time, in % of one CPU.
    cpu_percent: f64,
    /// How the CPU time was measured.
    cpu_method: &'static str,
    /// Detection delays, in order of the samples.
    delays: Vec<Duration>,
    /// Anything worth a remark: log lines counted, a fault.
    notes: Vec<String>,
}

fn run(args: &Args) -> Result<u8> {
    if !keepalived_testlab::is_root() {
        eprintln!("script-bench: cannot run: must run as root (it creates network namespaces)");
        return Ok(2);
    }
    if !is_executable(&args.keepalived) {
        eprintln!(
            "script-bench: cannot run: keepalived not found or not executable at {}",
            args.keepalived.display()
        );
        return Ok(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "script-bench: cannot run: keepalived-rs binary not found at {} (build it first: \
             cargo build --release -p keepalived)",
            args.ours.display()
        );
        return Ok(2);
    };
    let implementations = [
        Implementation {
            label: "keepalived 2.2.7".into(),
            program: args.keepalived.clone(),
            tag: "c",
        },
        Implementation {
            label: "keepalived-rs".into(),
            program: ours,
            tag: "rs",
        },
    ];

    // Dropping these (on every return, also on an error) removes the directory, kills what the
    // lab started and deletes its namespaces.
    let scripts = ScriptDir::create(SCRIPTS)?;
    let lab = Lab::new("scbench", &["a"]).context("building the lab")?;
    let host = lab.host("a");
    let vip = lab.subnet().addr(VIP_OCTET);
    let config = render(&scripts.path, vip);
    let cgroup_root = cgroup2_mount();
    println!(
        "lab: namespaces {}-{{br,a}}; a {}; {SCRIPTS} scripts in {}, interval 1, weight -1; \
         VRID 51, priority 200, VIP {vip}/32",
        lab.prefix(),
        host.address(),
        scripts.path.display(),
    );
    match &cgroup_root {
        Some(root) => println!("CPU: cgroup v2 under {}", root.display()),
        None => println!("CPU: no writable cgroup v2; /proc of the daemon's process group"),
    }
    for imp in &implementations {
        println!("{}: {}", imp.label, imp.program.display());
    }
    println!();

    let mut outcomes = Vec::new();
    for imp in &implementations {
        let outcome = measure(
            host,
            imp,
            &config,
            &scripts,
            cgroup_root.as_deref(),
            args.cpu_seconds,
        )
        .with_context(|| format!("measuring {}", imp.label))?;
        let delays: Vec<String> = outcome
            .delays
            .iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect();
        println!(
            "{}: CPU {:.2} % ({}); detection delays ms: {}",
            outcome.label,
            outcome.cpu_percent,
            outcome.cpu_method,
            delays.join(" ")
        );
        for note in &outcome.notes {
            println!("  {note}");
        }
        outcomes.push(outcome);
    }
    println!();
    print!("{}", table(&outcomes, args.cpu_seconds));
    Ok(0)
}

/// The temporary directory with the check scripts and their flag files; removed on drop.
struct ScriptDir {
    path: PathBuf,
}

impl ScriptDir {
    /// Writes `count` scripts `check-N.sh` (N from 1) and their flag files `up-N`.
    fn create(count: usize) -> Result<ScriptDir> {
        let path = std::env::temp_dir().join(format!("script-bench-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        // From here on, an early return drops the guard, which removes the directory.
        let dir = ScriptDir { path };
        // keepalived's script security wants no directory on the path writable by others.
        fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", dir.path.display()))?;
        for n in 1..=count {
            let script = dir.script(n);
            fs::write(
                &script,
                format!("#!/bin/sh\ntest -f {}\n", dir.flag(n).display()),
            )
            .with_context(|| format!("writing {}", script.display()))?;
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("chmod {}", script.display()))?;
            dir.set_flag(n, true)?;
        }
        Ok(dir)
    }

    fn script(&self, n: usize) -> PathBuf {
        self.path.join(format!("check-{n}.sh"))
    }

    fn flag(&self, n: usize) -> PathBuf {
        self.path.join(format!("up-{n}"))
    }

    /// Creates (`up`) or removes the flag file of script `n`.
    fn set_flag(&self, n: usize, up: bool) -> Result<()> {
        let flag = self.flag(n);
        if up {
            fs::write(&flag, "").with_context(|| format!("creating {}", flag.display()))
        } else {
            fs::remove_file(&flag).with_context(|| format!("removing {}", flag.display()))
        }
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The benchmark's configuration: 100 scripts tracked by one instance.
fn render(dir: &Path, vip: std::net::Ipv4Addr) -> String {
    let mut s =
        String::from("global_defs {\n    script_user root\n    enable_script_security\n}\n");
    for n in 1..=SCRIPTS {
        let _ = write!(
            s,
            "vrrp_script chk_{n} {{\n    script \"{}/check-{n}.sh\"\n    interval 1\n    \
             weight -1\n}}\n",
            dir.display()
        );
    }
    s.push_str(
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority 200\n    advert_int 1\n    virtual_ipaddress {\n",
    );
    let _ = writeln!(s, "        {vip}/32\n    }}\n    track_script {{");
    for n in 1..=SCRIPTS {
        let _ = writeln!(s, "        chk_{n}");
    }
    s.push_str("    }\n}\n");
    s
}

/// The scripts made to fail: [`SAMPLES`] of them, evenly spread over 1..=[`SCRIPTS`].
fn sampled_scripts() -> Vec<usize> {
    (0..SAMPLES).map(|i| 1 + i * SCRIPTS / SAMPLES).collect()
}

/// Starts `imp`, measures its CPU use and detection delays, stops it.
fn measure(
    host: &Host,
    imp: &Implementation,
    config: &str,
    scripts: &ScriptDir,
    cgroup_root: Option<&Path>,
    cpu_seconds: u64,
) -> Result<Outcome> {
    // The cgroup (if any) outlives the daemon: `daemon` is declared after it, so it is dropped
    // (SIGKILLed) first, then the cgroup is emptied and removed.
    let cgroup = match cgroup_root {
        Some(root) => Some(Cgroup::create(root, imp.tag)?),
        None => None,
    };
    let program = match &cgroup {
        Some(cg) => cg.wrapper(&scripts.path, &imp.program, imp.tag)?,
        None => imp.program.clone(),
    };
    let mut daemon = if imp.program == Path::new(KEEPALIVED_BIN) && cgroup.is_none() {
        Keepalived::start(host, config)?
    } else {
        Keepalived::start_with(host, &program, config, &[])?
    };
    if let Some(cg) = &cgroup {
        // The wrapper waits for this before it starts the daemon.
        cg.adopt(daemon.pid())?;
    }
    if !daemon.wait_for_log("Entering MASTER STATE", MASTER_TIMEOUT) {
        bail!(
            "{} did not become master within {MASTER_TIMEOUT:?}; log: {}",
            imp.label,
            tail(&daemon.log().unwrap_or_default(), 20)
        );
    }
    thread::sleep(WARM_UP);
    ensure!(daemon.is_running(), "{} exited during warm-up", imp.label);

    let lines_before = daemon.log()?.lines().count();
    let wall = Duration::from_secs(cpu_seconds);
    let (cpu, cpu_method) = match &cgroup {
        Some(cg) => {
            let start = (cg.usage()?, Instant::now());
            thread::sleep(wall);
            let end = (cg.usage()?, Instant::now());
            (percent(end.0 - start.0, end.1 - start.1), "cgroup v2")
        }
        None => {
            let pgid = daemon.pid();
            let start = (group_cpu(pgid), Instant::now());
            thread::sleep(wall);
            let end = (group_cpu(pgid), Instant::now());
            (
                percent(end.0.saturating_sub(start.0), end.1 - start.1),
                "/proc",
            )
        }
    };
    let quiet_log = daemon.log()?;
    let lines_during = quiet_log.lines().count().saturating_sub(lines_before);
    ensure!(
        daemon.is_running(),
        "{} exited during the CPU measurement",
        imp.label
    );

    let mut delays = Vec::new();
    let mut notes = vec![format!(
        "{lines_during} log lines during the {cpu_seconds} s CPU window (no script changed)"
    )];
    for (i, n) in sampled_scripts().into_iter().enumerate() {
        // Spread the removals over the interval: 0, 370, 740, 110, … ms after the last line.
        let offset = u64::try_from(i * 370 % 1000).unwrap_or(0);
        thread::sleep(Duration::from_millis(offset));
        let failed = format!("VRRP_Script(chk_{n}) failed");
        let succeeded = format!("VRRP_Script(chk_{n}) succeeded");
        let log = daemon.log()?;
        let (failed_before, succeeded_before) = (count(&log, &failed), count(&log, &succeeded));
        scripts.set_flag(n, false)?;
        let removed = Instant::now();
        let seen = wait_count(&daemon, &failed, failed_before, DETECT_TIMEOUT);
        let delay = removed.elapsed();
        scripts.set_flag(n, true)?;
        ensure!(
            seen,
            "{}: `{failed}` not logged within {DETECT_TIMEOUT:?}",
            imp.label
        );
        delays.push(delay);
        if !wait_count(&daemon, &succeeded, succeeded_before, DETECT_TIMEOUT) {
            notes.push(format!(
                "`{succeeded}` not logged within {DETECT_TIMEOUT:?} after the flag was restored"
            ));
        }
    }

    let log = daemon.log()?;
    let script_lines = count(&log, "VRRP_Script(");
    let faults = count(&log, "Entering FAULT STATE");
    let masters = count(&log, "Entering MASTER STATE");
    notes.push(format!(
        "whole log: {} lines, {script_lines} `VRRP_Script(` lines, {masters} `Entering MASTER \
         STATE`, {faults} `Entering FAULT STATE`",
        log.lines().count()
    ));
    let unsafe_lines = count(&log, "unsafe") + count(&log, "insecure");
    if unsafe_lines > 0 {
        notes.push(format!(
            "{unsafe_lines} lines about unsafe/insecure scripts"
        ));
    }
    let _ = daemon.stop();
    drop(daemon);
    drop(cgroup);
    Ok(Outcome {
        label: imp.label.clone(),
        cpu_percent: cpu,
        cpu_method,
        delays,
        notes,
    })
}

/// Waits (bounded, polling every [`LOG_POLL`]) until the daemon's log holds more than
/// `before` occurrences of `needle`.
fn wait_count(daemon: &Keepalived, needle: &str, before: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if daemon.log().is_ok_and(|l| count(&l, needle) > before) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(LOG_POLL);
    }
}

/// How many lines of `text` contain `needle`.
fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The last `lines` lines of `text`, joined for an error message.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// A cgroup v2 of our own; dropping it moves any process left in it to the root and removes it.
struct Cgroup {
    path: PathBuf,
    root: PathBuf,
}

impl Cgroup {
    /// Creates `ROOT/script-bench-PID-TAG`.
    fn create(root: &Path, tag: &str) -> Result<Cgroup> {
        let path = root.join(format!("script-bench-{}-{tag}", std::process::id()));
        if path.exists() {
            let _ = fs::remove_dir(&path);
        }
        fs::create_dir(&path).with_context(|| format!("creating cgroup {}", path.display()))?;
        Ok(Cgroup {
            path,
            root: root.to_path_buf(),
        })
    }

    /// Writes `DIR/start-TAG.sh`, which waits (at most 5 s) until it is in this cgroup and then
    /// `exec`s `program` with its arguments; returns its path. The driver moves it there with
    /// [`Cgroup::adopt`]: it cannot join by itself, since `ip netns exec` mounts a sysfs of the
    /// namespace's own, without the cgroup hierarchy.
    fn wrapper(&self, dir: &Path, program: &Path, tag: &str) -> Result<PathBuf> {
        let script = dir.join(format!("start-{tag}.sh"));
        let name = self
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let text = format!(
            "#!/bin/sh\ni=0\nwhile ! grep -q '^0::.*/{name}$' /proc/self/cgroup; do\n    \
             i=$((i + 1))\n    [ $i -gt 500 ] && exit 97\n    sleep 0.01\ndone\nexec '{}' \"$@\"\n",
            program.display()
        );
        fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", script.display()))?;
        Ok(script)
    }

    /// Moves process `pid` into this cgroup.
    fn adopt(&self, pid: u32) -> Result<()> {
        let procs = self.path.join("cgroup.procs");
        fs::write(&procs, pid.to_string())
            .with_context(|| format!("writing {pid} to {}", procs.display()))
    }

    /// CPU time used by everything that ever ran in the cgroup, in microseconds.
    fn usage(&self) -> Result<u64> {
        let stat = self.path.join("cpu.stat");
        let text =
            fs::read_to_string(&stat).with_context(|| format!("reading {}", stat.display()))?;
        text.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no usage_usec in {}", stat.display()))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Bounded: the daemon was killed; scripts it started finish within milliseconds.
        for _ in 0..100 {
            let procs = fs::read_to_string(self.path.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = fs::write(self.root.join("cgroup.procs"), pid);
            }
            if fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "script-bench: could not remove cgroup {}",
            self.path.display()
        );
    }
}

/// The mount point of the cgroup v2 hierarchy, if there is one we can create a cgroup in.
fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        let (&mount, &kind) = (fields.get(1)?, fields.get(2)?);
        let path = PathBuf::from(mount);
        (kind == "cgroup2" && path.join("cgroup.procs").is_file() && can_create(&path))
            .then_some(path)
    })
}

/// Whether a cgroup can be created (and removed again) under `root`.
fn can_create(root: &Path) -> bool {
    let probe = root.join(format!("script-bench-{}-probe", std::process::id()));
    if fs::create_dir(&probe).is_err() {
        return false;
    }
    let has_stat = probe.join("cpu.stat").is_file();
    fs::remove_dir(&probe).is_ok() && has_stat
}

/// CPU time (`utime + stime + cutime + cstime`, in microseconds) of every process in process
/// group `pgid`, from /proc.
fn group_cpu(pgid: u32) -> u64 {
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100);
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    let mut ticks = 0;
    for entry in entries.flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After "pid (comm) ": state ppid pgrp … field 14 utime, 15 stime, 16 cutime, 17 cstime.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(pgid) {
            continue;
        }
        ticks += fields
            .get(11..15)
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.parse::<u64>().ok())
            .sum::<u64>();
    }
    ticks * 1_000_000 / ticks_per_second
}

/// CPU microseconds over a wall-clock span, in % of one CPU.
fn percent(cpu_usec: u64, wall: Duration) -> f64 {
    // CPU microseconds of a benchmark are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let cpu = cpu_usec as f64;
    cpu / (wall.as_secs_f64() * 1e6) * 100.0
}

/// A duration in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
fn median(values: &[Duration]) -> Option<Duration> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[mid]),
        _ => Some((v[mid - 1] + v[mid]) / 2),
    }
}

/// The results side by side.
fn table(outcomes: &[Outcome], cpu_seconds: u64) -> String {
    let mut s = String::new();
    let cpu_head = format!("CPU % ({cpu_seconds} s)");
    let _ = writeln!(
        s,
        "{:<18} {:>14} {:>20} {:>16}",
        "implementation", cpu_head, "detection median ms", "detection worst ms"
    );
    for o in outcomes {
        let median = median(&o.delays).map_or(f64::NAN, ms);
        let worst = o.delays.iter().max().copied().map_or(f64::NAN, ms);
        let _ = writeln!(
            s,
            "{:<18} {:>14.2} {:>20.0} {:>16.0}",
            o.label, o.cpu_percent, median, worst
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_spread_evenly() {
        assert_eq!(
            sampled_scripts(),
            vec![1, 11, 21, 31, 41, 51, 61, 71, 81, 91]
        );
    }

    #[test]
    fn config_tracks_every_script() {
        let text = render(Path::new("/x"), std::net::Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(text.matches("vrrp_script chk_").count(), SCRIPTS);
        assert!(text.contains("script \"/x/check-100.sh\""));
        assert!(text.contains("192.0.2.100/32"));
        assert!(text.contains("        chk_100\n"));
        assert_eq!(text.matches("weight -1").count(), SCRIPTS);
    }

    #[test]
    fn medians_and_percent() {
        let d = Duration::from_millis;
        assert_eq!(median(&[d(30), d(10), d(20)]), Some(d(20)));
        assert_eq!(median(&[d(10), d(20)]), Some(d(15)));
        assert_eq!(median(&[]), None);
        assert!((percent(500_000, Duration::from_secs(10)) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn counts_lines() {
        let log = "VRRP_Script(chk_1) failed\nVRRP_Script(chk_10) failed\n";
        assert_eq!(count(log, "VRRP_Script(chk_1) failed"), 1);
    }
}
