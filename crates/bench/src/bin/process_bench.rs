//! `process-bench`: how long after a tracked process dies the VIP goes, keepalived 2.2.7 against
//! keepalived-rs in the same run (`vrrp_track_process`, weight 0: the death puts the instance in
//! FAULT, which removes the VIP at once).
//!
//! One instance (VRID 61, priority 150, `advert_int 1`, VIP 198.51.100.61/32) tracks a process
//! named uniquely (a copy of /bin/sleep, `tpb` + the benchmark's pid). For each path and each
//! implementation, 10 samples: start the process, wait (bounded) until the instance holds the
//! VIP, note the time, SIGKILL the process, and take the moment the kernel reports the VIP
//! deleted (`ip -o monitor address`, read on a thread as the lines come); the delay is the
//! difference. Paths:
//!
//! - **connector**: the daemon runs in the machine's initial network namespace (entered with
//!   `nsenter` from a lab namespace), its interface one end of a veth pair whose other end is
//!   in the lab namespace (203.0.113.0/24): the kernel's process connector works there;
//! - **namespace**: the daemon runs in the lab namespace, where the connector refuses
//!   (errno 111): keepalived-rs scans /proc every 200 ms; keepalived 2.2.7 stays in FAULT
//!   and never holds the VIP, so it has no figure (reported as such).
//!
//! Exit status: 0 when measured, 1 when a step failed, 2 when the benchmark cannot run here.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use keepalived_bench::programs::{is_executable, resolve_ours};
use keepalived_testlab::{Host, KEEPALIVED_BIN, Keepalived, Lab, VrrpInstance, run_ok};

const VIP: &str = "198.51.100.61";
const VRID: u8 = 61;
/// From start (or the process's return) to MASTER: 3.41 s of Master_Down_Interval and room.
const MASTER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a death may take to remove the VIP before the sample counts as missed.
const DETECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Measures the delay from a tracked process's death to the VIP's removal.
#[derive(Debug, Parser)]
#[command(name = "process-bench", version)]
struct Args {
    /// keepalived-rs binary to measure (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// The reference keepalived binary.
    #[arg(long, default_value = KEEPALIVED_BIN)]
    keepalived: PathBuf,
    /// Samples per implementation and path.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    samples: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("process-bench: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// The tracked process: a copy of /bin/sleep; killed on drop.
struct Tracked {
    path: PathBuf,
    child: Option<Child>,
}

impl Tracked {
    fn start(&mut self) -> Result<()> {
        self.kill();
        let child = Command::new(&self.path)
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the tracked process")?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ip -o monitor address` (in `netns`, or the initial namespace): the moments the VIP was
/// deleted arrive on `deleted`. Killed on drop.
struct Monitor {
    child: Child,
    deleted: mpsc::Receiver<Instant>,
}

impl Monitor {
    fn start(netns: Option<&str>) -> Result<Monitor> {
        let mut command = Command::new("ip");
        if let Some(ns) = netns {
            command.args(["-n", ns]);
        }
        let mut child = command
            .args(["-o", "monitor", "address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ip monitor")?;
        let stdout = child.stdout.take().context("ip monitor's output")?;
        let (tx, deleted) = mpsc::channel();
        let needle = format!("inet {VIP}/");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with("Deleted")
                    && line.contains(&needle)
                    && tx.send(Instant::now()).is_err()
                {
                    return;
                }
            }
        });
        // Give it a moment to subscribe before anything is measured.
        thread::sleep(Duration::from_millis(200));
        Ok(Monitor { child, deleted })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A veth pair from the initial namespace into `host`'s; the outer end is deleted on drop.
struct Pair {
    outer: String,
}

impl Pair {
    fn new(host: &Host) -> Result<Pair> {
        let outer = format!("tpb{}", std::process::id() % 1_000_000);
        run_ok(
            "ip",
            &[
                "link",
                "add",
                &outer,
                "type",
                "veth",
                "peer",
                "name",
                "tpv0",
                "netns",
                host.netns(),
            ],
        )?;
        let pair = Pair { outer };
        run_ok("ip", &["addr", "add", "203.0.113.1/24", "dev", &pair.outer])?;
        run_ok("ip", &["link", "set", &pair.outer, "up"])?;
        host.run("ip", &["link", "set", "tpv0", "up"])?;
        Ok(pair)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer])
            .status();
    }
}

fn config(interface: &str, process: &str) -> String {
    let mut inst = VrrpInstance::new(VRID, 150, &[&format!("{VIP}/32")])
        .extra("track_process {\n        tp\n    }");
    inst.interface = interface.to_string();
    let text = inst.render("bench");
    let block = format!("\nvrrp_track_process tp {{\n    process {process}\n    weight 0\n}}\n");
    match text.find("\nvrrp_instance") {
        Some(at) => format!("{}{block}{}", &text[..at], &text[at..]),
        None => text,
    }
}

/// Whether the VIP is on `ifname` (of `netns`, or the initial namespace).
fn has_vip(netns: Option<&str>, ifname: &str) -> bool {
    let mut command = Command::new("ip");
    if let Some(ns) = netns {
        command.args(["-n", ns]);
    }
    command
        .args(["-o", "-4", "addr", "show", "dev", ifname])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{VIP}/")))
        .unwrap_or(false)
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// What one implementation measured on one path.
enum Measured {
    Delays(Vec<Duration>),
    /// It never held the VIP: nothing to measure (why).
    NeverMaster(String),
}

/// Runs `binary` on `host` (through `wrapper`), samples as the module doc says.
#[allow(clippy::too_many_arguments)]
fn measure(
    host: &Host,
    wrapper: &[&str],
    binary: &Path,
    ours: bool,
    interface: &str,
    netns: Option<&str>,
    tracked: &mut Tracked,
    samples: u32,
) -> Result<Measured> {
    let name = tracked
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let socket = host
        .dir()
        .join(format!("ctl-{}.sock", Instant::now().elapsed().as_nanos()));
    let socket = socket.to_string_lossy().into_owned();
    let extra: Vec<&str> = if ours {
        vec!["--control-socket", &socket]
    } else {
        Vec::new()
    };
    let monitor = Monitor::start(netns)?;
    tracked.start()?;
    let mut k =
        Keepalived::start_wrapped(host, wrapper, binary, &config(interface, &name), &extra)?;
    let mut delays = Vec::new();
    for i in 0..samples {
        if !wait_until(MASTER_TIMEOUT, || has_vip(netns, interface)) {
            let log = k.log().unwrap_or_default();
            let _ = k.stop();
            tracked.kill();
            if i == 0 {
                return Ok(Measured::NeverMaster(
                    log.lines()
                        .find(|l| l.contains("errno"))
                        .unwrap_or("no VIP")
                        .to_string(),
                ));
            }
            bail!("sample {i}: the VIP did not come back; log:\n{log}");
        }
        // Leave the adverts and announcements of the transition behind.
        thread::sleep(Duration::from_millis(300 + 37 * u64::from(i)));
        while monitor.deleted.try_recv().is_ok() {}
        let killed = Instant::now();
        tracked.kill();
        match monitor.deleted.recv_timeout(DETECT_TIMEOUT) {
            Ok(at) => delays.push(at.saturating_duration_since(killed)),
            Err(_) => bail!(
                "sample {i}: the VIP stayed {DETECT_TIMEOUT:?} after the kill; log:\n{}",
                k.log().unwrap_or_default()
            ),
        }
        tracked.start()?;
    }
    let _ = k.stop();
    tracked.kill();
    Ok(Measured::Delays(delays))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(m: &Measured) -> String {
    match m {
        Measured::Delays(d) => {
            let mut sorted = d.clone();
            sorted.sort();
            let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
            let worst = sorted.last().copied().unwrap_or_default();
            let all: Vec<String> = d.iter().map(|x| format!("{:.1}", ms(*x))).collect();
            format!(
                "median {:>7.1} ms  worst {:>7.1} ms  (all: {})",
                ms(median),
                ms(worst),
                all.join(" ")
            )
        }
        Measured::NeverMaster(why) => format!("never holds the VIP ({why})"),
    }
}

fn run(args: &Args) -> Result<u8> {
    if !keepalived_testlab::is_root() {
        eprintln!("process-bench: cannot run: must run as root (it creates network namespaces)");
        return Ok(2);
    }
    if !is_executable(&args.keepalived) {
        eprintln!(
            "process-bench: cannot run: keepalived not found at {}",
            args.keepalived.display()
        );
        return Ok(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "process-bench: cannot run: keepalived-rs binary not found at {} (cargo build --release -p keepalived)",
            args.ours.display()
        );
        return Ok(2);
    };
    let lab = Lab::new("tpbench", &["a"]).context("building the lab")?;
    let host = lab.host("a");
    let pair = Pair::new(host)?;
    let path = host
        .dir()
        .join(format!("tpb{}", std::process::id() % 1_000_000));
    std::fs::copy("/bin/sleep", &path).context("copying /bin/sleep")?;
    let mut tracked = Tracked { path, child: None };
    let me = std::process::id();
    let net = format!("--net=/proc/{me}/ns/net");
    let mnt = format!("--mount=/proc/{me}/ns/mnt");
    let into_initial = ["nsenter", net.as_str(), mnt.as_str(), "--"];
    println!(
        "lab: namespaces {}-{{br,a}}; veth {} (initial namespace) <-> tpv0 (a); {} samples each",
        lab.prefix(),
        pair.outer,
        args.samples
    );
    let implementations = [
        ("keepalived 2.2.7", args.keepalived.clone(), false),
        ("keepalived-rs", ours, true),
    ];
    for (label, binary, is_ours) in &implementations {
        let m = measure(
            host,
            &into_initial,
            binary,
            *is_ours,
            &pair.outer,
            None,
            &mut tracked,
            args.samples,
        )
        .with_context(|| format!("{label}, connector"))?;
        println!("connector  {label:<17} {}", summary(&m));
    }
    for (label, binary, is_ours) in &implementations {
        let m = measure(
            host,
            &[],
            binary,
            *is_ours,
            "eth0",
            Some(host.netns()),
            &mut tracked,
            args.samples,
        )
        .with_context(|| format!("{label}, namespace"))?;
        println!("namespace  {label:<17} {}", summary(&m));
    }
    drop(pair);
    Ok(0)
}
