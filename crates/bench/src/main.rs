//! `config-bench`: times `keepalived -t` (keepalived 2.2.7) against keepalived-rs's `-t` on a
//! generated configuration of 10,000 `vrrp_instance` blocks over 40 interfaces.
//!
//! The interfaces are veth pairs in a network namespace of our own, so both implementations
//! see the interfaces the configuration names and the host's network is left alone. Each run
//! is measured by a small helper process (this binary again, `__measure`) whose only child is
//! `ip netns exec NS PROGRAM -t -f FILE`: `ip` execs the program, so the helper's
//! `getrusage(RUSAGE_CHILDREN)` is the program's own peak RSS and CPU time (user + system:
//! on a loaded machine the wall time grows with the other processes' share of the CPU, the
//! CPU time much less).
//!
//! Exit status: 0 when both implementations ran and agreed on the exit code, 1 when they
//! disagreed or a step failed, 2 when the benchmark cannot run here (not root, keepalived or
//! our binary missing).

use keepalived_bench::programs::{is_executable, resolve_ours};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use clap::builder::TypedValueParser as _;
use keepalived_bench::generate::{self, Shape};
use keepalived_bench::stats::{Sample, Summary, mebibytes, millis};
use nix::sys::resource::{UsageWho, getrusage};

/// The hidden first argument that turns this binary into the measuring helper.
const MEASURE: &str = "__measure";

/// Prefix of the working directories under the temp dir; the suffix is our pid.
const WORKDIR_PREFIX: &str = "keepalived-bench-";

/// The file that marks a working directory kept by `--keep` (never removed as stale).
const KEEP_MARKER: &str = "KEPT";

/// Prefix of the namespaces this benchmark creates; the suffix is our pid.
const NETNS_PREFIX: &str = "kabench-";

/// Times `keepalived -t` of keepalived 2.2.7 and keepalived-rs on 10,000 instances.
#[derive(Debug, Parser)]
#[command(name = "config-bench", version, about)]
struct Args {
    /// keepalived-rs binary to measure (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// The reference keepalived binary.
    #[arg(long, default_value = "/usr/sbin/keepalived")]
    keepalived: PathBuf,
    /// Timed runs of each implementation (after one untimed warm-up run each).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Number of vrrp_instance blocks.
    #[arg(long, default_value_t = Shape::DEFAULT.instances)]
    instances: usize,
    /// Number of interfaces they are spread over (at most 255 instances per interface).
    #[arg(long, default_value_t = Shape::DEFAULT.interfaces,
          value_parser = clap::value_parser!(u16).range(1..=1000).map(usize::from))]
    interfaces: usize,
    /// Keep the generated configuration and the programs' output (its directory is printed).
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(MEASURE) {
        return match measure_helper(&argv[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("config-bench {MEASURE}: {err:#}");
                ExitCode::from(1)
            }
        };
    }
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("config-bench: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Why the benchmark cannot run on this machine, if it cannot.
fn preconditions(args: &Args) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "must run as root (it creates a network namespace with veth interfaces)".into(),
        );
    }
    if !is_executable(&args.keepalived) {
        return Some(format!(
            "keepalived not found or not executable at {}",
            args.keepalived.display()
        ));
    }
    if !is_executable(Path::new("/usr/sbin/ip")) && !is_executable(Path::new("/sbin/ip")) {
        return Some("the `ip` command (iproute2) is not installed".into());
    }
    None
}

fn run(args: &Args) -> Result<u8> {
    if let Some(reason) = preconditions(args) {
        eprintln!("config-bench: cannot run: {reason}");
        return Ok(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "config-bench: cannot run: keepalived-rs binary not found at {} \
             (build it first: cargo build --release)",
            args.ours.display()
        );
        return Ok(2);
    };
    let shape = Shape {
        instances: args.instances,
        interfaces: args.interfaces,
    };
    if let Err(reason) = shape.check() {
        bail!("{reason}");
    }

    let workdir = WorkDir::create(args.keep)?;
    let config_path = workdir.path.join("keepalived.conf");
    let text = generate::config(&shape);
    fs::write(&config_path, &text).with_context(|| format!("writing {}", config_path.display()))?;
    println!(
        "config: {} ({} vrrp_instance blocks over {} interfaces, {} lines, {:.1} MiB)",
        config_path.display(),
        shape.instances,
        shape.interfaces,
        text.lines().count(),
        mebibytes(text.len() as u64 / 1024),
    );
    drop(text);

    remove_stale_namespaces();
    let netns = Netns::create(&format!("{NETNS_PREFIX}{}", std::process::id()))?;
    netns.add_interfaces(&shape.interface_names())?;
    println!(
        "namespace: {} with {} veth pairs",
        netns.name, shape.interfaces
    );

    let reference_label = keepalived_version(&args.keepalived);
    let implementations = [
        Implementation {
            label: reference_label,
            program: args.keepalived.clone(),
            tag: "c",
        },
        Implementation {
            label: "keepalived-rs".into(),
            program: ours,
            tag: "rs",
        },
    ];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); implementations.len()];
    // One warm-up run each (page cache, dynamic loader), then the timed runs interleaved so
    // that drift on the machine affects both alike.
    for round in 0..=args.runs {
        for (index, implementation) in implementations.iter().enumerate() {
            let log = workdir
                .path
                .join(format!("{}-{round}.log", implementation.tag));
            let sample = measure(&netns.name, &implementation.program, &config_path, &log)
                .with_context(|| format!("running {}", implementation.program.display()))?;
            if round > 0 {
                samples[index].push(sample);
            }
        }
    }

    // What `ip netns exec` itself costs: the floor under both columns (its RSS before the
    // exec counts in the program's peak RSS).
    let floor = measure(
        &netns.name,
        Path::new("/bin/true"),
        &config_path,
        &workdir.path.join("true.log"),
    )
    .context("running /bin/true")?;

    let summaries: Vec<Summary> = samples
        .iter()
        .map(|s| Summary::of(s).context("no samples"))
        .collect::<Result<_>>()?;
    print_table(&implementations, &summaries);
    println!(
        "{:<18} {:>5} {:>15.1} {:>12.1} {:>14.1} {:>13.1}  (ip netns exec NS /bin/true: the floor)",
        "baseline",
        1,
        millis(floor.wall),
        millis(floor.wall),
        millis(floor.cpu),
        mebibytes(floor.max_rss_kib),
    );
    let agreed = print_comparison(&summaries);
    if !agreed {
        for implementation in &implementations {
            print_log_head(
                &workdir.path.join(format!("{}-1.log", implementation.tag)),
                &implementation.label,
            );
        }
    }
    if args.keep {
        println!("kept: {}", workdir.path.display());
    }
    Ok(if agreed { 0 } else { 1 })
}

/// A program under test.
struct Implementation {
    label: String,
    program: PathBuf,
    tag: &'static str,
}

/// "keepalived 2.2.7" from `keepalived -v`, or just "keepalived".
fn keepalived_version(program: &Path) -> String {
    let output = Command::new(program)
        .arg("-v")
        .stdin(Stdio::null())
        .output();
    let text = output.map(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned());
    let version = text.ok().and_then(|t| {
        t.split_whitespace()
            .find(|w| w.starts_with('v') && w[1..].starts_with(|c: char| c.is_ascii_digit()))
            .map(|w| w[1..].to_string())
    });
    version.map_or_else(|| "keepalived".to_string(), |v| format!("keepalived {v}"))
}

/// Runs `program -t -f config` in the namespace through the helper and reads its figures.
fn measure(netns: &str, program: &Path, config: &Path, log: &Path) -> Result<Sample> {
    let me = std::env::current_exe().context("locating config-bench itself")?;
    let output = Command::new(me)
        .arg(MEASURE)
        .arg(log)
        .args(["ip", "netns", "exec", netns])
        .arg(program)
        .arg("-t")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("starting the measuring helper")?;
    ensure!(
        output.status.success(),
        "measuring helper failed ({})",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [wall_ns, cpu_ns, max_rss_kib, code] = fields[..] else {
        bail!("unexpected helper output {text:?}");
    };
    Ok(Sample {
        wall: Duration::from_nanos(wall_ns),
        cpu: Duration::from_nanos(cpu_ns),
        max_rss_kib,
        exit_code: i32::try_from(code).unwrap_or(i32::MAX),
    })
}

/// The helper: `__measure LOG PROGRAM ARGS…` runs the program with stdout and stderr to LOG
/// and prints "WALL_NS CPU_NS MAX_RSS_KIB EXIT_CODE". It has no other child, so
/// `RUSAGE_CHILDREN` is the program's own usage.
fn measure_helper(args: &[String]) -> Result<()> {
    let [log, program, rest @ ..] = args else {
        bail!("usage: {MEASURE} LOG PROGRAM [ARGS...]");
    };
    let out = fs::File::create(log).with_context(|| format!("creating {log}"))?;
    let err = out.try_clone().context("duplicating the log file")?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("starting {program}"))?;
    let wall = start.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    let cpu = [usage.user_time(), usage.system_time()]
        .iter()
        .map(|t| {
            let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
            let micros = u64::try_from(t.tv_usec()).unwrap_or(0);
            secs * 1_000_000_000 + micros * 1_000
        })
        .sum::<u64>();
    println!("{} {} {} {}", wall.as_nanos(), cpu, usage.max_rss(), code);
    Ok(())
}

fn print_table(implementations: &[Implementation], summaries: &[Summary]) {
    println!();
    println!(
        "{:<18} {:>5} {:>15} {:>12} {:>14} {:>13}  exit codes",
        "implementation", "runs", "median wall ms", "min wall ms", "median CPU ms", "peak RSS MiB"
    );
    for (implementation, summary) in implementations.iter().zip(summaries) {
        let codes: Vec<String> = summary.exit_codes.iter().map(i32::to_string).collect();
        println!(
            "{:<18} {:>5} {:>15.1} {:>12.1} {:>14.1} {:>13.1}  {}",
            implementation.label,
            summary.runs,
            millis(summary.median_wall),
            millis(summary.min_wall),
            millis(summary.median_cpu),
            mebibytes(summary.max_rss_kib),
            codes.join(" "),
        );
    }
}

/// Prints the ratios and whether the exit codes agree; returns whether they do.
fn print_comparison(summaries: &[Summary]) -> bool {
    let [reference, ours] = summaries else {
        return false;
    };
    println!();
    let time_ratio =
        millis(ours.median_wall) / millis(reference.median_wall).max(f64::MIN_POSITIVE);
    let rss_ratio =
        mebibytes(ours.max_rss_kib) / mebibytes(reference.max_rss_kib).max(f64::MIN_POSITIVE);
    println!(
        "speed:  keepalived-rs takes {time_ratio:.2}x the median wall time of keepalived ({})",
        if time_ratio <= 1.0 {
            format!("{:.1}x faster", 1.0 / time_ratio)
        } else {
            format!("{time_ratio:.1}x slower")
        }
    );
    let cpu_ratio = millis(ours.median_cpu) / millis(reference.median_cpu).max(f64::MIN_POSITIVE);
    // CPU time is not stretched by other processes holding the CPU of a loaded machine.
    println!(
        "cpu:    keepalived-rs uses {cpu_ratio:.2}x the median CPU time of keepalived ({})",
        if cpu_ratio <= 1.0 {
            format!("{:.1}x less", 1.0 / cpu_ratio.max(f64::MIN_POSITIVE))
        } else {
            format!("{cpu_ratio:.1}x more")
        }
    );
    println!(
        "memory: keepalived-rs peak RSS is {rss_ratio:.2}x keepalived's ({})",
        if rss_ratio <= 1.0 {
            format!("{:.1}x less", 1.0 / rss_ratio)
        } else {
            format!("{rss_ratio:.1}x more")
        }
    );
    match (
        reference.consistent_exit_code(),
        ours.consistent_exit_code(),
    ) {
        (Some(a), Some(b)) if a == b => {
            println!("exit codes: same, {a}");
            true
        }
        (a, b) => {
            println!("exit codes: DIFFERENT: keepalived {a:?}, keepalived-rs {b:?}");
            false
        }
    }
}

fn print_log_head(log: &Path, label: &str) {
    let text = fs::read_to_string(log).unwrap_or_default();
    println!(
        "--- first lines of {label}'s output ({}) ---",
        log.display()
    );
    for line in text.lines().take(10) {
        println!("{line}");
    }
}

/// A directory under the temp dir for the configuration and logs, removed on drop unless
/// kept; directories of killed runs are removed by the next run.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(keep: bool) -> Result<Self> {
        Self::remove_stale();
        let path = std::env::temp_dir().join(format!("{WORKDIR_PREFIX}{}", std::process::id()));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        if keep {
            fs::write(path.join(KEEP_MARKER), "kept by config-bench --keep\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(WorkDir { path, keep })
    }
}

impl WorkDir {
    /// Removes directories left by earlier runs that were killed (their pid no longer exists).
    fn remove_stale() {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(WORKDIR_PREFIX)) else {
                continue;
            };
            let kept = entry.path().join(KEEP_MARKER).exists();
            if !kept && pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A network namespace of ours, deleted on drop (also when a later step fails or panics).
struct Netns {
    name: String,
}

impl Netns {
    fn create(name: &str) -> Result<Self> {
        ip(&["netns", "add", name])
            .with_context(|| format!("creating network namespace {name}"))?;
        Ok(Netns {
            name: name.to_string(),
        })
    }

    /// Adds a veth pair per name (the peer is `vpN`), all up, plus `lo` up.
    fn add_interfaces(&self, names: &[String]) -> Result<()> {
        let mut batch = String::from("link set lo up\n");
        for (index, name) in names.iter().enumerate() {
            batch.push_str(&format!("link add {name} type veth peer name vp{index}\n"));
            batch.push_str(&format!("link set {name} up\nlink set vp{index} up\n"));
        }
        let mut child = Command::new("ip")
            .args(["-n", &self.name, "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting ip -batch")?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(batch.as_bytes())
                .context("writing to ip -batch")?;
        }
        let status = child.wait().context("waiting for ip -batch")?;
        ensure!(status.success(), "ip -batch failed ({status})");
        let links = Command::new("ip")
            .args(["-n", &self.name, "-o", "link", "show"])
            .output()?;
        let listed = String::from_utf8_lossy(&links.stdout);
        for name in names {
            ensure!(
                listed.contains(&format!(": {name}@")),
                "interface {name} missing in namespace {}",
                self.name
            );
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(err) = ip(&["netns", "del", &self.name]) {
            eprintln!(
                "config-bench: could not delete network namespace {}: {err:#}",
                self.name
            );
        }
    }
}

/// Deletes namespaces left by earlier runs that were killed (their pid no longer exists).
fn remove_stale_namespaces() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(NETNS_PREFIX)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("config-bench: removing stale namespace {name}");
            let _ = ip(&["netns", "del", name]);
        }
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip")?;
    ensure!(
        output.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}
