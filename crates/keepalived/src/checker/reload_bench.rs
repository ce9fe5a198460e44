//! The reload of 2,000 virtual servers / 37,000 real servers (issue 13), timed natively.
//!
//! This machine's kernel has no IPVS, so the whole daemon reloads only in a guest (QEMU or
//! User-mode Linux, tests/checker_bench.rs), whose figures are those of an emulator. What a
//! reload costs besides the kernel is the daemon's own work, and that runs here at native
//! speed: this benchmark runs the same functions the daemon runs at a SIGHUP, in order, on the
//! same two files:
//!
//! 1. the parent's reading of the file (`load_parent_view`) and the settings a reload may not
//!    change (`reload_guard::Fixed`), before it passes the signal on;
//! 2. the checker child's reading ([`read_for_reload`]) and the pool's reload
//!    ([`Pool::reload_plan`]) against a table that counts the IPVS commands instead of sending
//!    them.
//!
//! Between reloads the process gives its start-up memory back as the daemon does 10 s after a
//! start or a reload (`crate::memory`), so each reload touches fresh pages as the daemon's
//! does. It asserts that each reload asks for exactly one IPVS change (the one weight), and
//! prints the times beside keepalived 2.2.7's `-t` of the same file (its reading alone; 2.2.7's
//! reload does that reading twice, once in the parent and once in the checker child).
//!
//! ```text
//! cargo test --release -p keepalived --bin keepalived checker::reload_bench -- --ignored --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use keepalived_bench::lvs_reload::{RELOAD_RS, RELOAD_VS, reload_config};
use keepalived_ipvs::{Destination, IpvsError, Service, ServiceKey};

use super::pool::{Pool, Table};
use super::read_for_reload;
use crate::cli::Cli;
use crate::logger::{LogSettings, Logger};

/// Reloads timed (alternately to the changed file and back).
const ROUNDS: usize = 7;

/// A table that counts the commands the pool sends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counted {
    add_service: u32,
    edit_service: u32,
    del_service: u32,
    add_dest: u32,
    edit_dest: u32,
    del_dest: u32,
}

impl Table for Counted {
    fn add_service(&mut self, _: &Service) -> Result<(), IpvsError> {
        self.add_service += 1;
        Ok(())
    }
    fn edit_service(&mut self, _: &Service) -> Result<(), IpvsError> {
        self.edit_service += 1;
        Ok(())
    }
    fn del_service(&mut self, _: &ServiceKey) -> Result<(), IpvsError> {
        self.del_service += 1;
        Ok(())
    }
    fn add_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
        self.add_dest += 1;
        Ok(())
    }
    fn edit_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
        self.edit_dest += 1;
        Ok(())
    }
    fn del_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
        self.del_dest += 1;
        Ok(())
    }
}

/// This process's minor page faults so far.
fn minor_faults() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|usage| usage.minor_page_faults())
        .unwrap_or(0)
}

/// One reload's figures.
#[derive(Debug, Clone, Copy)]
struct Round {
    parent: Duration,
    child: Duration,
    /// Minor page faults of the parent's reading, the child's reading and the pool's reload.
    faults: [i64; 3],
}

/// What the SIGHUP sets off, in the daemon's order; returns the figures and the commands sent.
fn reload(cli: &Cli, pool: &mut Pool, logger: &Logger) -> (Round, Counted) {
    let mut faults = [minor_faults(), 0, 0];
    let start = Instant::now();
    let parent_view = crate::config_test::load_parent_view(
        &cli.use_file,
        cli.config_id.as_deref(),
        cli.all_config,
    );
    assert!(
        !crate::config_log::unusable(&parent_view),
        "the parent refuses the file"
    );
    let fixed = crate::reload_guard::Fixed::of(&parent_view.config);
    drop(parent_view);
    std::hint::black_box(fixed);
    let parent = start.elapsed();
    faults[1] = minor_faults();
    let Some((next, _alerts)) = read_for_reload(cli, logger) else {
        panic!("the checker refuses the file");
    };
    faults[2] = minor_faults();
    let mut table = Counted::default();
    let notify = pool.reload_plan(next, &mut table);
    let child = start.elapsed() - parent;
    let end = minor_faults();
    assert!(notify.is_empty(), "no notify script is configured");
    let round = Round {
        parent,
        child,
        faults: [
            faults[1] - faults[0],
            faults[2] - faults[1],
            end - faults[2],
        ],
    };
    (round, table)
}

/// Milliseconds of `d`.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, least and most of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or(f64::NAN);
    let least = values.first().copied().unwrap_or(f64::NAN);
    let most = values.last().copied().unwrap_or(f64::NAN);
    (median, least, most)
}

/// Wall times of `program -t -f file`, `ROUNDS` runs, when the program is there.
fn config_test_times(program: &Path, file: &Path) -> Option<Vec<f64>> {
    if !program.exists() {
        return None;
    }
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let status = std::process::Command::new(program)
            .arg("-t")
            .arg("-f")
            .arg(file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        times.push(ms(start.elapsed()));
        assert!(
            status.success(),
            "{} -t refuses the file",
            program.display()
        );
    }
    Some(times)
}

/// The daemon built beside this test binary (target/PROFILE/keepalived).
fn our_daemon() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("keepalived"))
}

#[test]
#[ignore = "benchmark: cargo test --release -p keepalived --bin keepalived checker::reload_bench -- --ignored --nocapture"]
fn checker_reload_2000_vs_37000_rs_natively() {
    let dir = std::env::temp_dir().join(format!("kl-reload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work directory");
    let (before, after) = (dir.join("reload-a.conf"), dir.join("reload-b.conf"));
    std::fs::write(&before, reload_config(false)).expect("file a");
    std::fs::write(&after, reload_config(true)).expect("file b");
    let live = dir.join("keepalived.conf");
    std::fs::copy(&before, &live).expect("live file");
    let live_arg = live.display().to_string();
    let cli =
        Cli::try_parse_from(["keepalived", "-n", "-C", "-f", &live_arg]).expect("command line");
    let logger = Logger::new(
        "Keepalived_healthcheckers",
        LogSettings {
            console: false,
            syslog: false,
            facility: None,
            detail: false,
        },
    );

    // The start, as the checker child makes it (its reading is the reload's), timed: its
    // reading and plan, then the pool's start (the 39,000 commands counted, not sent).
    let (started, faults_at_start) = (Instant::now(), minor_faults());
    let (plan, _alerts) = read_for_reload(&cli, &logger).expect("the first file is usable");
    let mut pool = Pool::from_plan(plan, logger.clone());
    let (read_at_start, faults_read) = (started.elapsed(), minor_faults() - faults_at_start);
    let mut table = Counted::default();
    pool.start(&mut table);
    let pool_start = started.elapsed() - read_at_start;
    let faults_pool = minor_faults() - faults_at_start - faults_read;
    assert_eq!(
        (table.add_service, table.add_dest),
        (RELOAD_VS, RELOAD_RS),
        "the start installs every service and destination"
    );
    crate::memory::release_startup_memory();

    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let next = if round % 2 == 0 { &after } else { &before };
        std::fs::copy(next, &live).expect("replace the file");
        let (figures, sent) = reload(&cli, &mut pool, &logger);
        assert_eq!(
            sent,
            Counted {
                edit_dest: 1,
                ..Counted::default()
            },
            "a reload changing one weight sends one SET_DEST and nothing else"
        );
        rounds.push(figures);
        // As the daemon 10 s after the reload.
        crate::memory::release_startup_memory();
    }

    let reference = config_test_times(Path::new(keepalived_testlab::KEEPALIVED_BIN), &after);
    let ours_t = our_daemon().and_then(|daemon| config_test_times(&daemon, &after));
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "checker reload, natively, {RELOAD_VS} virtual servers / {RELOAD_RS} real servers, \
         one weight changed, {ROUNDS} reloads (median, least-most):"
    );
    let show = |label: &str, values: Vec<f64>| {
        let (median, least, most) = spread(values);
        println!("  {label:<58} {median:7.1} ms ({least:.1}-{most:.1})");
    };
    println!(
        "  {:<58} {:7.1} ms, {faults_read} minor faults",
        "keepalived-rs start: checker child's reading and plan",
        ms(read_at_start)
    );
    println!(
        "  {:<58} {:7.1} ms, {faults_pool} minor faults",
        "keepalived-rs start: pool's start (commands counted)",
        ms(pool_start)
    );
    show(
        "keepalived-rs parent: its reading before the signal",
        rounds.iter().map(|r| ms(r.parent)).collect(),
    );
    show(
        "keepalived-rs checker child: reading, plan, IPVS diff",
        rounds.iter().map(|r| ms(r.child)).collect(),
    );
    show(
        "keepalived-rs reload, both (the kernel's one SET_DEST aside)",
        rounds.iter().map(|r| ms(r.parent + r.child)).collect(),
    );
    let phases = [
        "parent's reading",
        "checker child's reading and plan",
        "pool's reload",
    ];
    for (phase, label) in phases.iter().enumerate() {
        let faults: Vec<f64> = rounds.iter().map(|r| r.faults[phase] as f64).collect();
        let (median, least, most) = spread(faults);
        let label = format!("keepalived-rs minor faults: {label}");
        println!("  {label:<58} {median:7.0}    ({least:.0}-{most:.0})");
    }
    match ours_t {
        Some(times) => show(
            "keepalived-rs `-t` of the changed file (whole process)",
            times,
        ),
        None => println!("  keepalived-rs `-t`: the release binary is not built beside the test"),
    }
    match reference {
        Some(times) => show(
            "keepalived 2.2.7 `-t` of the changed file (whole process)",
            times,
        ),
        None => println!("  keepalived 2.2.7 is not installed: no reference figure"),
    }
}
