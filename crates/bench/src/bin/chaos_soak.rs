//! `chaos-soak`: three daemons with 50 VRRP instances each, under a seeded loop of link flaps,
//! check-script flips, SIGHUPs, SIGKILLed VRRP children and restarts; checks that no VRID
//! keeps two masters past Master_Down_Interval + 1 s after a fault heals, that every VIP ends
//! on its preferred master only, and that RSS and open fds stay flat. The logic is
//! `keepalived_bench::soak` (its module documentation says exactly what is checked); the CI
//! test `crates/keepalived/tests/chaos.rs` runs the same function for a shorter time.
//!
//! Exit status: 0 when every invariant held, 1 when one broke or a step failed, 2 when the soak
//! cannot run here (not root, a program missing).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use keepalived_bench::programs::{is_executable, resolve_ours};
use keepalived_bench::soak::{self, Settings};
use keepalived_testlab::KEEPALIVED_BIN;

/// Runs the chaos soak and prints its figures.
#[derive(Debug, Parser)]
#[command(name = "chaos-soak", version)]
struct Args {
    /// Seconds during which the chaos loop starts new steps.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    duration: u64,
    /// Seed of the step order, targets and timings (the same seed gives the same soak).
    #[arg(long, default_value_t = 20_261_124)]
    seed: u64,
    /// keepalived-rs binary (relative paths are also tried from the workspace root).
    #[arg(long, default_value = "target/release/keepalived")]
    ours: PathBuf,
    /// Run keepalived (see --keepalived) on host c instead of ours.
    #[arg(long)]
    mixed: bool,
    /// The reference keepalived for --mixed.
    #[arg(long, default_value = KEEPALIVED_BIN)]
    keepalived: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !keepalived_testlab::is_root() {
        eprintln!("chaos-soak: cannot run: must run as root (it creates network namespaces)");
        return ExitCode::from(2);
    }
    let Some(ours) = resolve_ours(&args.ours) else {
        eprintln!(
            "chaos-soak: cannot run: keepalived-rs binary not found at {} (build it first: \
             cargo build --release -p keepalived)",
            args.ours.display()
        );
        return ExitCode::from(2);
    };
    if !is_executable(std::path::Path::new(soak::TEST_PROGRAM)) {
        eprintln!(
            "chaos-soak: cannot run: {} (the check scripts) is missing",
            soak::TEST_PROGRAM
        );
        return ExitCode::from(2);
    }
    if args.mixed && !is_executable(&args.keepalived) {
        eprintln!(
            "chaos-soak: cannot run: keepalived not found at {}",
            args.keepalived.display()
        );
        return ExitCode::from(2);
    }
    let settings = Settings {
        ours,
        reference: args.mixed.then(|| args.keepalived.clone()),
        duration: Duration::from_secs(args.duration),
        seed: args.seed,
    };
    println!(
        "chaos-soak: {} for {} s, seed {}{}",
        settings.ours.display(),
        args.duration,
        args.seed,
        if args.mixed {
            format!(", host c runs {}", args.keepalived.display())
        } else {
            String::new()
        }
    );
    match soak::run(&settings) {
        Ok(report) => {
            println!();
            print!("{}", report.table());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                for failure in report.failures() {
                    eprintln!("chaos-soak: {failure}");
                }
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("chaos-soak: {err:#}");
            ExitCode::from(1)
        }
    }
}
