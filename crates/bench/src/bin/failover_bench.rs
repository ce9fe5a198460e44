//! `failover-bench`: failover time on the wire, keepalived 2.2.7 against keepalived-rs.
//!
//! A lab of two hosts, `a` and `b`, on a bridge (crates/testlab), both running one
//! `vrrp_instance` (VRID 51, priority 150 on `a` and 100 on `b`, `advert_int 1`, PASS
//! authentication, one virtual address). dumpcap captures `ip proto 112` on the bridge. For
//! each run and each implementation (both hosts run the same one; the implementations
//! alternate run by run so drift on the machine affects both alike):
//!
//! 1. start both, wait until `a` is master and stable (its last adverts, and nothing from `b`);
//! 2. **graceful**: SIGTERM `a`; the failover time is `b`'s first advert minus `a`'s
//!    priority-0 advert. RFC 3768 limit: `b`'s Skew_Time, (256 - 100) / 256 s = 609.375 ms;
//! 3. restart `a`, wait until it has preempted `b` and is stable again;
//! 4. **crash**: SIGKILL `a`'s process group; the failover time is `b`'s first advert minus
//!    `a`'s last advert. RFC 3768 limit: `b`'s Master_Down_Interval, 3 × 1 s + Skew_Time =
//!    3609.375 ms.
//!
//! With `--v3` the instance runs VRRPv3 over IPv4 (`version 3`, no authentication), with
//! `--ipv6` VRRPv3 over IPv6; `--advert-int SECS` sets the interval (VRRPv3 takes hundredths
//! of a second). The limits are then RFC 5798 section 6.1's: Skew_Time = (256 - 100) ×
//! Master_Adver_Interval / 256 and Master_Down_Interval = 3 × Master_Adver_Interval +
//! Skew_Time (at advert_int 0.05: 30.469 ms and 180.469 ms).
//!
//! Every time comes from the capture (`frame.time_epoch` as tshark decodes it); the driver's
//! own clock only tells which frames belong to which step. The overhead is the failover time
//! minus the RFC limit: what the implementation (timer, scheduling, sending) and the kernel add.
//! A run that fails (say a daemon that does not become master in time) is tried once more.
//!
//! Exit status: 0 when every run was measured and keepalived-rs's median overhead is at most
//! keepalived's in both cases, 1 when it is above in either case or a step failed, 2 when the
//! benchmark cannot run here (not root, a program missing).

use keepalived_bench::programs::{is_executable, resolve_ours};
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use keepalived_testlab::prelude::{Version, master_down_interval_for, skew_time_for};
use keepalived_testlab::{
    Capture, HOST_IF, Host, KEEPALIVED_BIN, Lab, Proc, Signal, VrrpInstance, read_pcap, run_command,
};

/// The virtual router id of the benchmark's instance.
const VRID: u8 = 51;
/// Priority of host `a`, the master.
const PRIORITY_A: u8 = 150;
/// Priority of host `b`, the backup.
const PRIORITY_B: u8 = 100;
/// The PASS authentication string (at most 8 characters).
const AUTH_PASS: &str = "fobench1";
/// Last octet of the virtual address in the lab subnet (192.0.2.100).
const VIP_OCTET: u8 = 100;
/// The capture filter (IPv4).
const FILTER: &str = "ip proto 112";
/// The capture filter with `--ipv6`.
const FILTER_V6: &str = "ip6 proto 112";
/// The virtual address with `--ipv6`.
const VIP_V6: &str = "2001:db8::100";

/// How long a master may take to appear after its daemon starts (its own
/// Master_Down_Interval is 3.4 s).
const MASTER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the backup may take to take over (its Master_Down_Interval is 3.6 s).
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(12);
/// How long a daemon may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the live capture is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Measures failover time on the wire for keepalived 2.2.7 and keepalived-rs.
#[derive(Debug, Parser)]
#[command(name = "failover-bench", version)]
struct Args {
    /// Runs of each implementation (each run measures one graceful and one crash failover).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: u32,
    /// keepalived-rs binary to measure (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// The reference keepalived binary.
    #[arg(long, default_value = KEEPALIVED_BIN)]
    keepalived: PathBuf,
    /// Adverts in a row from the master, with the backup silent, before it counts as stable.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    stable_adverts: u32,
    /// Keep every run's capture and the daemons' logs (the directory is printed).
    #[arg(long)]
    keep: bool,
    /// VRRPv3 over IPv6 (VIP 2001:db8::100/64, no authentication, adverts from the hosts'
    /// link-local addresses to ff02::12) instead of VRRPv2 over IPv4. At advert_int 1 and
    /// priority 100 the limits are the same: VRRPv3's Skew_Time, 156 × 1 s / 256, equals
    /// VRRPv2's.
    #[arg(long)]
    ipv6: bool,
    /// VRRPv3 over IPv4 (`version 3` in the instance, no authentication) instead of VRRPv2.
    #[arg(long, conflicts_with = "ipv6")]
    v3: bool,
    /// The advert interval in seconds (`advert_int`): whole seconds for VRRPv2, down to 0.01
    /// for VRRPv3.
    #[arg(long, default_value = "1", value_parser = parse_advert_int)]
    advert_int: Duration,
}

/// `advert_int` as a duration in hundredths of a second, 0.01 to 255 s.
fn parse_advert_int(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("not a number of seconds: {text}"))?;
    if !(0.01..=255.0).contains(&secs) {
        return Err(format!("advert_int must lie in 0.01..=255 s, got {text}"));
    }
    // In range, so the rounding to hundredths fits.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let centis = (secs * 100.0).round() as u64;
    Ok(Duration::from_millis(centis * 10))
}

/// The protocol version and advert interval, which set the RFC limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    version: Version,
    interval: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("failover-bench: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Which of the two programs a daemon runs; they differ in the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// keepalived 2.2.7: `-n -l -D -f CONF -p PID -r VRRP_PID -c CHECK_PID`.
    Reference,
    /// keepalived-rs: the same command line.
    Ours,
}

/// A program under test.
#[derive(Debug)]
struct Implementation {
    label: String,
    program: PathBuf,
    kind: Kind,
    tag: &'static str,
}

/// The two cases measured in every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// SIGTERM: the master sends priority 0 and the backup waits Skew_Time.
    Graceful,
    /// SIGKILL: the master goes silent and the backup waits Master_Down_Interval.
    Crash,
}

impl Case {
    const ALL: [Case; 2] = [Case::Graceful, Case::Crash];

    fn name(self) -> &'static str {
        match self {
            Case::Graceful => "graceful",
            Case::Crash => "crash",
        }
    }

    /// The RFC 3768 / RFC 5798 (section 6.1) bound for the backup (priority [`PRIORITY_B`]),
    /// in nanoseconds, as the engine computes it.
    fn limit_ns(self, timing: Timing) -> i128 {
        let limit = match self {
            Case::Graceful => skew_time_for(timing.version, timing.interval, PRIORITY_B),
            Case::Crash => master_down_interval_for(timing.version, timing.interval, PRIORITY_B),
        };
        limit.as_nanos().try_into().unwrap_or(i128::MAX)
    }
}

fn run(args: &Args) -> Result<u8> {
    if let Some(reason) = preconditions(args) {
        eprintln!("failover-bench: cannot run: {reason}");
        return Ok(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "failover-bench: cannot run: keepalived-rs binary not found at {} \
             (build it first: cargo build --release -p keepalived)",
            args.ours.display()
        );
        return Ok(2);
    };
    let implementations = [
        Implementation {
            label: keepalived_version(&args.keepalived),
            program: args.keepalived.clone(),
            kind: Kind::Reference,
            tag: "c",
        },
        Implementation {
            label: "keepalived-rs".into(),
            program: ours,
            kind: Kind::Ours,
            tag: "rs",
        },
    ];
    let keep_dir = if args.keep {
        let dir = std::env::temp_dir().join(format!("failover-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Some(dir)
    } else {
        None
    };

    // Dropping the lab (on every return, also with an error or a panic) kills what it started
    // and deletes its namespaces.
    let lab = Lab::new("fobench", &["a", "b"]).context("building the lab")?;
    let (vip, addresses, what) = if args.ipv6 {
        let ll = |h: &str| {
            keepalived_testlab::ipv6::link_local(lab.host(h), HOST_IF, Duration::from_secs(10))
                .map(IpAddr::V6)
        };
        (
            IpAddr::V6(VIP_V6.parse::<Ipv6Addr>().context("the IPv6 VIP")?),
            (ll("a")?, ll("b")?),
            "VRRPv3 over IPv6, no authentication",
        )
    } else if args.v3 {
        (
            IpAddr::V4(lab.subnet().addr(VIP_OCTET)),
            (
                IpAddr::V4(lab.host("a").address()),
                IpAddr::V4(lab.host("b").address()),
            ),
            "VRRPv3 over IPv4, no authentication",
        )
    } else {
        (
            IpAddr::V4(lab.subnet().addr(VIP_OCTET)),
            (
                IpAddr::V4(lab.host("a").address()),
                IpAddr::V4(lab.host("b").address()),
            ),
            "VRRPv2, PASS",
        )
    };
    let timing = Timing {
        version: if args.ipv6 || args.v3 {
            Version::V3
        } else {
            Version::V2
        },
        interval: args.advert_int,
    };
    let bench = Bench {
        lab: &lab,
        vip,
        timing,
        addresses,
        stable_adverts: usize::try_from(args.stable_adverts).unwrap_or(3),
        keep_dir: keep_dir.as_deref(),
    };
    println!(
        "lab: namespaces {}-{{br,a,b}}; a {} (priority {PRIORITY_A}), b {} (priority \
         {PRIORITY_B}), VRID {VRID}, advert_int {}, {what}, VIP {vip}; capture '{}' on the \
         bridge; RFC limits: graceful {:.3} ms, crash {:.3} ms",
        lab.prefix(),
        addresses.0,
        addresses.1,
        timing.interval.as_secs_f64(),
        bench.filter(),
        ms(Case::Graceful.limit_ns(timing)),
        ms(Case::Crash.limit_ns(timing)),
    );
    for imp in &implementations {
        println!("{}: {}", imp.label, imp.program.display());
    }
    println!();

    let mut results: Vec<Vec<Measurement>> = vec![Vec::new(); implementations.len()];
    for round in 1..=args.runs {
        for (index, imp) in implementations.iter().enumerate() {
            // A run that fails (a daemon that did not come up in time on a loaded machine) is
            // tried once more; a second failure ends the benchmark.
            let m = match bench.one_run(imp, round) {
                Ok(m) => m,
                Err(err) => {
                    eprintln!(
                        "failover-bench: run {round} of {} failed, trying it once more: {err:#}",
                        imp.label
                    );
                    bench
                        .one_run(imp, round)
                        .with_context(|| format!("run {round} of {} (second try)", imp.label))?
                }
            };
            println!(
                "run {round}/{}  {:<18} graceful {:>9.3} ms ({:+.3})   crash {:>9.3} ms ({:+.3})",
                args.runs,
                imp.label,
                ms(m.graceful_ns),
                ms(m.graceful_ns - Case::Graceful.limit_ns(timing)),
                ms(m.crash_ns),
                ms(m.crash_ns - Case::Crash.limit_ns(timing)),
            );
            results[index].push(m);
        }
    }

    let mut rows = Vec::new();
    for case in Case::ALL {
        for (imp, measured) in implementations.iter().zip(&results) {
            let values: Vec<i128> = measured.iter().map(|m| m.get(case)).collect();
            let summary = Summary::of(&values).context("no runs")?;
            rows.push(Row {
                label: imp.label.clone(),
                case,
                summary,
            });
        }
    }
    println!();
    print!("{}", table(&rows, timing));
    println!();
    let mut all_ok = true;
    for case in Case::ALL {
        let find = |kind: Kind| {
            implementations
                .iter()
                .position(|i| i.kind == kind)
                .and_then(|p| {
                    rows.iter()
                        .find(|r| r.case == case && r.label == implementations[p].label)
                })
        };
        let (Some(reference), Some(ours)) = (find(Kind::Reference), find(Kind::Ours)) else {
            bail!("missing a row for {}", case.name());
        };
        let theirs = reference.summary.median - case.limit_ns(timing);
        let mine = ours.summary.median - case.limit_ns(timing);
        let ok = mine <= theirs;
        all_ok &= ok;
        println!(
            "{:<8}: keepalived-rs overhead {:+.3} ms {} keepalived's {:+.3} ms ({:+.3} ms): {}",
            case.name(),
            ms(mine),
            if ok { "<=" } else { ">" },
            ms(theirs),
            ms(mine - theirs),
            if ok { "ok" } else { "ABOVE keepalived" },
        );
    }
    if let Some(dir) = &keep_dir {
        println!("\ncaptures and logs kept in {}", dir.display());
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// Why the benchmark cannot run on this machine, if it cannot.
fn preconditions(args: &Args) -> Option<String> {
    if !keepalived_testlab::is_root() {
        return Some("must run as root (it creates network namespaces and captures)".into());
    }
    if !is_executable(&args.keepalived) {
        return Some(format!(
            "keepalived not found or not executable at {}",
            args.keepalived.display()
        ));
    }
    for program in ["ip", "kill", "dumpcap", "tshark"] {
        if !on_path(program) {
            return Some(format!("`{program}` is not installed (not on PATH)"));
        }
    }
    None
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| is_executable(&d.join(program))))
}

/// "keepalived 2.2.7" from `keepalived -v`, or just "keepalived".
fn keepalived_version(program: &Path) -> String {
    let mut cmd = Command::new(program);
    cmd.arg("-v");
    let text = run_command(&mut cmd, Duration::from_secs(10))
        .map(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned())
        .unwrap_or_default();
    let version = text.split_whitespace().find_map(|w| {
        w.strip_prefix('v')
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
    });
    version.map_or_else(|| "keepalived".to_string(), |v| format!("keepalived {v}"))
}

/// The figures of one run, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Measurement {
    graceful_ns: i128,
    crash_ns: i128,
}

impl Measurement {
    fn get(&self, case: Case) -> i128 {
        match case {
            Case::Graceful => self.graceful_ns,
            Case::Crash => self.crash_ns,
        }
    }
}

/// When the driver sent SIGTERM and SIGKILL to `a` (its wall clock, nanoseconds since the
/// epoch): only used to tell which captured frames belong to which failover.
#[derive(Debug, Clone, Copy)]
struct Marks {
    term_at: i128,
    kill_at: i128,
    /// Host `a`'s address, the source of its adverts.
    a: IpAddr,
    /// Host `b`'s address.
    b: IpAddr,
}

/// Decodes the finished capture and measures both failovers in it.
fn measure(pcap: &Path, marks: &Marks) -> Result<Measurement> {
    let source = if marks.a.is_ipv6() {
        "ipv6.src"
    } else {
        "ip.src"
    };
    let adverts = decode(pcap, source)?;
    let (a, b) = (marks.a, marks.b);
    let graceful_ns = graceful_failover(&adverts, marks.term_at, a, b)
        .context("graceful failover in the capture")?;
    let crash_ns =
        crash_failover(&adverts, marks.kill_at, a, b).context("crash failover in the capture")?;
    Ok(Measurement {
        graceful_ns,
        crash_ns,
    })
}

/// The lab and the settings every run shares.
struct Bench<'a> {
    lab: &'a Lab,
    vip: IpAddr,
    timing: Timing,
    /// The sources of `a`'s and `b`'s adverts.
    addresses: (IpAddr, IpAddr),
    stable_adverts: usize,
    keep_dir: Option<&'a Path>,
}

impl Bench<'_> {
    /// One run of `imp`: a graceful and a crash failover, measured from one capture.
    fn one_run(&self, imp: &Implementation, round: u32) -> Result<Measurement> {
        for host in self.lab.hosts() {
            self.remove_vip(host)?;
        }
        let mut capture = self
            .lab
            .capture_bridge_filter(self.filter())
            .context("starting dumpcap on the bridge")?;
        let mut daemons = Vec::new();
        let result = self.failovers(imp, round, &capture, &mut daemons);
        let result = match result {
            Ok(marks) => capture
                .stop()
                .context("stopping dumpcap")
                .and_then(|()| measure(capture.path(), &marks)),
            Err(err) => {
                // Say what the capture and the daemons were doing when it went wrong.
                let mut why = format!(
                    "{err:#}\n  dumpcap {}: {}",
                    if capture.is_running() {
                        "running"
                    } else {
                        "NOT running"
                    },
                    capture.log().trim().replace('\n', " | ")
                );
                for daemon in &daemons {
                    let _ = write!(why, "\n  {}", daemon.log_tail(8));
                }
                Err(anyhow::anyhow!(why))
            }
        };
        if let Some(dir) = self.keep_dir {
            let pcap = dir.join(format!("{}-{round}-capture.pcap", imp.tag));
            let _ = capture.stop();
            fs::copy(capture.path(), &pcap)
                .with_context(|| format!("copying the capture to {}", pcap.display()))?;
            for daemon in &daemons {
                daemon.keep_log(dir)?;
            }
        }
        drop(daemons);
        for host in self.lab.hosts() {
            self.remove_vip(host)?;
        }
        result
    }

    /// Starts the daemons (pushing them to `daemons`, so the caller can show their logs), and
    /// carries out both failovers; returns when they happened by the driver's clock.
    fn failovers(
        &self,
        imp: &Implementation,
        round: u32,
        capture: &Capture,
        daemons: &mut Vec<Daemon>,
    ) -> Result<Marks> {
        let a = self.lab.host("a");
        let b = self.lab.host("b");
        let conf_a = self.config(PRIORITY_A, "fobencha");
        let conf_b = self.config(PRIORITY_B, "fobenchb");
        let watch = Watch {
            path: capture.path().to_path_buf(),
            ver_type: match self.timing.version {
                Version::V2 => 0x21,
                Version::V3 => 0x31,
            },
            a: self.addresses.0,
            b: self.addresses.1,
        };
        let name = |step: &str| format!("{}-{round}-{step}", imp.tag);
        // Indexes into `daemons`.
        let (b1, a1, a2) = (0, 1, 2);

        daemons.push(Daemon::start(b, imp, &conf_b, &name("b"))?);
        daemons.push(Daemon::start(a, imp, &conf_a, &name("a1"))?);
        watch
            .wait_stable_master(now_ns(), self.stable_adverts, MASTER_TIMEOUT)
            .context("waiting for a to become master after start")?;

        // Graceful: SIGTERM to the daemon (keepalived's parent passes it to its VRRP child).
        let term_at = now_ns();
        daemons[a1]
            .proc
            .signal(Signal::Term)
            .context("SIGTERM to a")?;
        watch
            .wait_until(TAKEOVER_TIMEOUT, |adverts| {
                graceful_failover(adverts, term_at, watch.a, watch.b).is_ok()
            })
            .context("waiting for b to take over after a's SIGTERM")?;
        daemons[a1].wait_exit(EXIT_TIMEOUT)?;

        // Crash: restart a, let it preempt b, then SIGKILL its whole process group.
        daemons.push(Daemon::start(a, imp, &conf_a, &name("a2"))?);
        watch
            .wait_stable_master(now_ns(), self.stable_adverts, MASTER_TIMEOUT)
            .context("waiting for a to preempt b after its restart")?;
        let kill_at = now_ns();
        daemons[a2]
            .proc
            .signal_group(Signal::Kill)
            .context("SIGKILL to a")?;
        watch
            .wait_until(TAKEOVER_TIMEOUT, |adverts| {
                crash_failover(adverts, kill_at, watch.a, watch.b).is_ok()
            })
            .context("waiting for b to take over after a's SIGKILL")?;
        daemons[a2].proc.kill().context("reaping a")?;
        daemons[b1]
            .proc
            .signal(Signal::Term)
            .context("SIGTERM to b")?;
        daemons[b1].wait_exit(EXIT_TIMEOUT)?;
        Ok(Marks {
            term_at,
            kill_at,
            a: watch.a,
            b: watch.b,
        })
    }

    fn config(&self, priority: u8, router_id: &str) -> String {
        let vip = self.vip_cidr();
        let advert_int = format!("{}", self.timing.interval.as_secs_f64());
        let instance = VrrpInstance::new(VRID, priority, &[vip.as_str()]).advert_int(&advert_int);
        // An IPv6 instance runs VRRPv3 without saying so (keepalived 2.2.7).
        if self.vip.is_ipv6() {
            instance.render(router_id)
        } else if self.timing.version == Version::V3 {
            instance.version(3).render(router_id)
        } else {
            instance.auth_pass(AUTH_PASS).render(router_id)
        }
    }

    fn vip_cidr(&self) -> String {
        match self.vip {
            IpAddr::V4(v4) => format!("{v4}/32"),
            IpAddr::V6(v6) => format!("{v6}/64"),
        }
    }

    fn filter(&self) -> &'static str {
        if self.vip.is_ipv6() {
            FILTER_V6
        } else {
            FILTER
        }
    }

    /// Removes the VIP from `host` if it is there (a SIGKILLed master leaves it behind).
    fn remove_vip(&self, host: &Host) -> Result<()> {
        if host.has_address(&self.vip.to_string())? {
            let cidr = self.vip_cidr();
            let out = host.run("ip", &["addr", "del", &cidr, "dev", HOST_IF])?;
            ensure!(
                out.status.success(),
                "removing {cidr} from {}: {}",
                host.name(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// One daemon (either implementation) running in the foreground in a host.
struct Daemon {
    proc: Proc,
    log: PathBuf,
    name: String,
}

impl Daemon {
    /// Writes `config` to a directory of its own in the host's scratch directory and starts
    /// the implementation's program on it.
    fn start(host: &Host, imp: &Implementation, config: &str, name: &str) -> Result<Daemon> {
        let dir = host.dir().join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let conf = dir.join("keepalived.conf");
        fs::write(&conf, config).with_context(|| format!("writing {}", conf.display()))?;
        let log = dir.join("keepalived.log");
        let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
        let conf_s = conf.to_string_lossy().into_owned();
        let mut argv: Vec<String> = ["-n", "-l", "-D", "-f"].map(String::from).to_vec();
        argv.push(conf_s);
        // Pid files of their own for both programs: the hosts share one file system, and
        // keepalived-rs, like keepalived, refuses to start while the default pid file names a
        // running daemon.
        for (flag, file) in [("-p", "main.pid"), ("-r", "vrrp.pid"), ("-c", "check.pid")] {
            argv.push(flag.to_string());
            argv.push(path(file));
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let program = imp.program.to_string_lossy();
        let proc = host
            .spawn_logged(&program, &argv, &log)
            .with_context(|| format!("starting {} in {}", imp.label, host.name()))?;
        Ok(Daemon {
            proc,
            log,
            name: name.to_string(),
        })
    }

    /// Waits (bounded) for the daemon to exit after SIGTERM; kills it and fails if it does not.
    fn wait_exit(&mut self, timeout: Duration) -> Result<()> {
        if self.proc.wait_timeout(timeout)?.is_none() {
            let _ = self.proc.kill();
            bail!("{} ignored SIGTERM for {timeout:?}", self.proc.label());
        }
        Ok(())
    }

    /// The daemon's name and the last `lines` lines of its log, for error messages.
    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!("log of {}: {}", self.name, tail.join(" | "))
    }

    fn keep_log(&self, dir: &Path) -> Result<()> {
        let to = dir.join(format!("{}.log", self.name));
        fs::copy(&self.log, &to).with_context(|| format!("copying {}", to.display()))?;
        Ok(())
    }
}

/// One VRRP advertisement of the benchmark's VRID, as seen on the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// Capture time, nanoseconds since the Unix epoch.
    time_ns: i128,
    /// IP source.
    src: IpAddr,
    /// Advertised priority.
    priority: u8,
}

/// Reads the capture file while dumpcap is still writing it (dumpcap flushes every packet).
struct Watch {
    path: PathBuf,
    /// The first byte of an advert of the benchmark's version (0x21 or 0x31).
    ver_type: u8,
    a: IpAddr,
    b: IpAddr,
}

impl Watch {
    /// The adverts for [`VRID`] captured so far (an error if the file cannot be read).
    fn adverts(&self) -> Result<Vec<Seen>> {
        let packets = read_pcap(&self.path)?;
        Ok(packets
            .iter()
            .filter_map(|p| {
                let (src, vrrp) = match p.ipv4() {
                    Some(ip) => {
                        let src: [u8; 4] = *ip.get(12..16)?.first_chunk::<4>()?;
                        (IpAddr::from(src), p.vrrp_payload()?)
                    }
                    // IPv6 (RFC 8200 section 3): next header 112 right after the fixed header.
                    None => {
                        let d = &p.data;
                        if d.get(12..14)? != [0x86, 0xdd] || *d.get(20)? != 112 {
                            return None;
                        }
                        let src: [u8; 16] = *d.get(22..38)?.first_chunk::<16>()?;
                        (IpAddr::from(src), d.get(54..)?)
                    }
                };
                let &[ver_type, vrid, priority] = vrrp.first_chunk::<3>()?;
                (ver_type == self.ver_type && vrid == VRID).then(|| Seen {
                    time_ns: i128::try_from(p.time_ns).unwrap_or(i128::MAX),
                    src,
                    priority,
                })
            })
            .collect())
    }

    /// Polls the capture until `done` holds for the adverts seen so far, for at most `timeout`.
    fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&[Seen]) -> bool) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let adverts = self.adverts();
            if adverts.as_deref().is_ok_and(&mut done) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let seen = match &adverts {
                    Ok(adverts) => describe(adverts, self.a, self.b),
                    Err(err) => format!("cannot read the capture: {err:#}"),
                };
                let size = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
                bail!(
                    "not seen within {timeout:?} (capture file {size} bytes); last adverts: {seen}"
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until, after `since`, `a` has sent `count` adverts in a row at its priority and
    /// `b` nothing after the first of them.
    fn wait_stable_master(&self, since: i128, count: usize, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |adverts| {
            let recent: Vec<&Seen> = adverts.iter().filter(|s| s.time_ns >= since).collect();
            let tail = recent
                .iter()
                .rev()
                .take_while(|s| s.src == self.a && s.priority == PRIORITY_A)
                .count();
            tail >= count
        })
    }
}

/// The last few adverts, for error messages.
fn describe(adverts: &[Seen], a: IpAddr, b: IpAddr) -> String {
    let from = adverts.len().saturating_sub(6);
    let mut s = String::new();
    for x in &adverts[from..] {
        let who = if x.src == a {
            "a"
        } else if x.src == b {
            "b"
        } else {
            "?"
        };
        let _ = write!(
            s,
            "[{who} prio {} at {:.3}] ",
            x.priority,
            ms(x.time_ns) / 1000.0
        );
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// Graceful failover after `after` (the SIGTERM): `b`'s first advert minus `a`'s first
/// priority-0 advert, with no advert from `a` in between.
fn graceful_failover(adverts: &[Seen], after: i128, a: IpAddr, b: IpAddr) -> Result<i128> {
    let later: Vec<&Seen> = adverts.iter().filter(|s| s.time_ns >= after).collect();
    let Some(zero) = later.iter().position(|s| s.src == a && s.priority == 0) else {
        bail!("no priority-0 advert from a after the SIGTERM");
    };
    let Some(first_b) = later[zero..].iter().position(|s| s.src == b) else {
        bail!("no advert from b after a's priority-0 advert");
    };
    let between = &later[zero + 1..zero + first_b];
    ensure!(
        between.iter().all(|s| s.src == a && s.priority == 0),
        "a advertised a priority above 0 after its priority-0 advert"
    );
    let (zero, first_b) = (later[zero], later[zero + first_b]);
    ensure!(
        first_b.priority == PRIORITY_B,
        "b's first advert has priority {}, expected {PRIORITY_B}",
        first_b.priority
    );
    Ok(first_b.time_ns - zero.time_ns)
}

/// Crash failover after `after` (the SIGKILL): `b`'s first advert after it minus `a`'s last
/// advert before that one.
fn crash_failover(adverts: &[Seen], after: i128, a: IpAddr, b: IpAddr) -> Result<i128> {
    let Some(first_b) = adverts.iter().find(|s| s.time_ns >= after && s.src == b) else {
        bail!("no advert from b after the SIGKILL");
    };
    let Some(last_a) = adverts
        .iter()
        .rev()
        .find(|s| s.src == a && s.time_ns <= first_b.time_ns)
    else {
        bail!("no advert from a before b's takeover");
    };
    ensure!(
        last_a.priority == PRIORITY_A,
        "a's last advert has priority {}, expected {PRIORITY_A} (a SIGKILLed daemon sends no \
         priority 0)",
        last_a.priority
    );
    ensure!(
        first_b.priority == PRIORITY_B,
        "b's first advert has priority {}, expected {PRIORITY_B}",
        first_b.priority
    );
    // a's last advert must come before b's takeover could start and b must not have spoken
    // between it and the kill (then a would not have been the stable master).
    ensure!(
        !adverts
            .iter()
            .any(|s| s.src == b && s.time_ns > last_a.time_ns && s.time_ns < first_b.time_ns),
        "b advertised between a's last advert and its takeover"
    );
    Ok(first_b.time_ns - last_a.time_ns)
}

/// Decodes the finished capture with tshark: the [`VRID`] adverts, times from
/// `frame.time_epoch`, sources from the field `source` (`ip.src` or `ipv6.src`).
fn decode(path: &Path, source: &str) -> Result<Vec<Seen>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(path)
        .args(["-Y", "vrrp", "-T", "fields", "-E", "separator=/t"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            source,
            "-e",
            "vrrp.virt_rtr_id",
        ])
        .args(["-e", "vrrp.prio", "-e", "vrrp.type"]);
    let out = run_command(&mut cmd, Duration::from_secs(30))?;
    ensure!(
        out.status.success(),
        "tshark -r {} failed ({}): {}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut adverts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(seen) = parse_tshark_line(line).with_context(|| format!("tshark: {line:?}"))? {
            adverts.push(seen);
        }
    }
    Ok(adverts)
}

/// One line of `time_epoch \t ip.src \t vrid \t prio \t type`; `None` for another VRID or
/// a packet type other than advertisement.
fn parse_tshark_line(line: &str) -> Result<Option<Seen>> {
    let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
    let [time, src, vrid, priority, kind] = fields[..] else {
        bail!("expected 5 fields, got {}", fields.len());
    };
    if number(vrid)? != u64::from(VRID) || number(kind)? != 1 {
        return Ok(None);
    }
    Ok(Some(Seen {
        time_ns: parse_epoch_ns(time)?,
        src: src.parse().context("ip.src")?,
        priority: u8::try_from(number(priority)?).context("vrrp.prio")?,
    }))
}

/// A decimal or `0x` hexadecimal number as tshark prints it.
fn number(s: &str) -> Result<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .with_context(|| format!("not a number: {s:?}"))
}

/// `frame.time_epoch` ("1795474595.653201000") as exact nanoseconds.
fn parse_epoch_ns(s: &str) -> Result<i128> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    ensure!(
        !secs.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 9
            && frac.bytes().all(|b| b.is_ascii_digit()),
        "not an epoch time: {s:?}"
    );
    let secs: i128 = secs
        .parse()
        .with_context(|| format!("epoch seconds {s:?}"))?;
    let nanos: i128 = if frac.is_empty() {
        0
    } else {
        let scale = 10i128.pow(u32::try_from(9 - frac.len()).unwrap_or(0));
        frac.parse::<i128>()
            .with_context(|| format!("epoch fraction {s:?}"))?
            * scale
    };
    Ok(secs * 1_000_000_000 + nanos)
}

/// The driver's wall clock (the clock capture timestamps use), in nanoseconds since the epoch.
fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// Nanoseconds as milliseconds.
fn ms(ns: i128) -> f64 {
    // Failover times are far below 2^52 ns.
    #[allow(clippy::cast_precision_loss)]
    let ns = ns as f64;
    ns / 1e6
}

/// Median, minimum and maximum of one implementation's runs of one case, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    runs: usize,
    median: i128,
    min: i128,
    max: i128,
}

impl Summary {
    /// `None` if there are no values.
    fn of(values: &[i128]) -> Option<Summary> {
        let mut v = values.to_vec();
        v.sort_unstable();
        let (&min, &max) = (v.first()?, v.last()?);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2
        };
        Some(Summary {
            runs: v.len(),
            median,
            min,
            max,
        })
    }
}

/// One line of the results table.
struct Row {
    label: String,
    case: Case,
    summary: Summary,
}

fn table(rows: &[Row], timing: Timing) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<18} {:<9} {:>4} {:>10} {:>10} {:>10} {:>13} {:>20}",
        "implementation",
        "case",
        "runs",
        "median ms",
        "min ms",
        "max ms",
        "RFC limit ms",
        "median overhead ms"
    );
    for r in rows {
        let limit = r.case.limit_ns(timing);
        let _ = writeln!(
            s,
            "{:<18} {:<9} {:>4} {:>10.3} {:>10.3} {:>10.3} {:>13.3} {:>+20.3}",
            r.label,
            r.case.name(),
            r.summary.runs,
            ms(r.summary.median),
            ms(r.summary.min),
            ms(r.summary.max),
            ms(limit),
            ms(r.summary.median - limit),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));

    fn seen(ms: i128, src: IpAddr, priority: u8) -> Seen {
        Seen {
            time_ns: ms * 1_000_000,
            src,
            priority,
        }
    }

    #[test]
    fn limits_are_the_rfc_values() {
        let v2 = Timing {
            version: Version::V2,
            interval: Duration::from_secs(1),
        };
        assert_eq!(Case::Graceful.limit_ns(v2), 609_375_000);
        assert_eq!(Case::Crash.limit_ns(v2), 3_609_375_000);
        // RFC 5798 section 6.1 at 5 centiseconds: Skew_Time 156 × 50 ms / 256.
        let fast = Timing {
            version: Version::V3,
            interval: parse_advert_int("0.05").expect("0.05"),
        };
        assert_eq!(fast.interval, Duration::from_millis(50));
        assert_eq!(Case::Graceful.limit_ns(fast), 30_468_750);
        assert_eq!(Case::Crash.limit_ns(fast), 180_468_750);
        assert!(parse_advert_int("0.001").is_err());
        assert!(parse_advert_int("x").is_err());
        assert_eq!(parse_advert_int("1"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn epoch_times_are_exact() {
        assert_eq!(
            parse_epoch_ns("1795474595.653201952").ok(),
            Some(1_795_474_595_653_201_952)
        );
        assert_eq!(parse_epoch_ns("12.5").ok(), Some(12_500_000_000));
        assert_eq!(parse_epoch_ns("7").ok(), Some(7_000_000_000));
        assert!(parse_epoch_ns("1.2.3").is_err());
        assert!(parse_epoch_ns("-1.0").is_err());
        assert!(parse_epoch_ns("1.0123456789").is_err());
    }

    #[test]
    fn tshark_lines() {
        let line = "1795474595.653201000\t192.0.2.10\t51\t150\t1";
        assert_eq!(
            parse_tshark_line(line).ok().flatten(),
            Some(Seen {
                time_ns: 1_795_474_595_653_201_000,
                src: A,
                priority: 150
            })
        );
        assert_eq!(
            parse_tshark_line("1.0\t192.0.2.10\t52\t150\t1").ok(),
            Some(None)
        );
        assert!(parse_tshark_line("1.0\t192.0.2.10\t51").is_err());
    }

    #[test]
    fn graceful_is_first_b_minus_priority_zero() {
        let adverts = [
            seen(1000, A, 150),
            seen(2000, A, 150),
            seen(2500, A, 0),
            seen(3110, B, 100),
            seen(4110, B, 100),
        ];
        assert_eq!(
            graceful_failover(&adverts, 2400 * 1_000_000, A, B).ok(),
            Some(610_000_000)
        );
        assert!(graceful_failover(&adverts, 2600 * 1_000_000, A, B).is_err());
        let bad = [seen(2500, A, 0), seen(2600, A, 150), seen(3110, B, 100)];
        assert!(graceful_failover(&bad, 0, A, B).is_err());
    }

    #[test]
    fn crash_is_first_b_minus_last_a() {
        let adverts = [
            seen(1000, B, 100),
            seen(1500, A, 150),
            seen(2500, A, 150),
            seen(3500, A, 150),
            seen(7110, B, 100),
        ];
        assert_eq!(
            crash_failover(&adverts, 3600 * 1_000_000, A, B).ok(),
            Some(3_610_000_000)
        );
        assert!(crash_failover(&adverts[..4], 3600 * 1_000_000, A, B).is_err());
    }

    #[test]
    fn summaries() {
        let s = Summary::of(&[5, 1, 3]);
        assert_eq!(
            s,
            Some(Summary {
                runs: 3,
                median: 3,
                min: 1,
                max: 5
            })
        );
        assert_eq!(Summary::of(&[4, 2]).map(|s| s.median), Some(3));
        assert_eq!(Summary::of(&[]), None);
    }
}
