//! The chaos soak in CI (issues 7 and 16): `keepalived_bench::soak` for about two minutes,
//! with our daemon on all three hosts. The soak's module documentation says what it does; this
//! test asserts its invariants: no VRID keeps two holders of its VIP for longer than
//! Master_Down_Interval (at the lowest priority of the lab) + 1 s after the last fault
//! affecting it healed, a drained instance never becomes MASTER (VIP samples, logs, status),
//! the control sockets answer every request as they must (malformed ones refused, changing
//! nothing), every VIP ends on its preferred master only (and the logs agree), and each
//! daemon's anonymous memory and open fds are flat from start to end. On failure it prints the whole
//! summary and every broken invariant.
//!
//! `KL_SOAK_SECONDS` (10..=3600) and `KL_SOAK_SEED` override the duration and the seed; longer
//! soaks are for the `chaos-soak` binary of crates/bench.

use std::path::PathBuf;
use std::time::Duration;

use keepalived_bench::soak::{self, Settings};
use keepalived_testlab::{require_programs, require_root};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// Seconds of chaos in CI: with start-up (~5 s), the last step's overrun (≤ ~10 s) and the
/// final convergence (≤ 10 s) the test stays under ~150 s.
const CI_SECONDS: u64 = 110;
/// The CI seed: every run does the same steps in the same order.
const CI_SEED: u64 = 20_261_124;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn chaos_soak_keeps_one_master_per_vrid_and_flat_resources() {
    if !(require_root() && require_programs(&["ip", "kill", soak::TEST_PROGRAM])) {
        return;
    }
    let seconds = env_number("KL_SOAK_SECONDS")
        .filter(|s| (10..=3600).contains(s))
        .unwrap_or(CI_SECONDS);
    let settings = Settings {
        ours: PathBuf::from(OURS),
        reference: None,
        duration: Duration::from_secs(seconds),
        seed: env_number("KL_SOAK_SEED").unwrap_or(CI_SEED),
    };
    let report = match soak::run(&settings) {
        Ok(report) => report,
        Err(err) => panic!("the soak could not run: {err:#}"),
    };
    let table = report.table();
    println!("{table}");
    // Every kind of step must have happened, or the soak tested less than it claims.
    for (kind, done) in soak::StepKind::ALL.iter().zip(report.steps) {
        assert!(done > 0, "no `{}` step was done\n{table}", kind.name());
    }
    assert!(
        report.drains.0 > 0 && report.drains.1 > 0,
        "no drain or no undrain was done\n{table}"
    );
    assert!(
        report.control_requests.1 > 0,
        "no malformed request was sent\n{table}"
    );
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "the chaos soak broke {} invariant(s):\n  {}\n\n{table}",
        failures.len(),
        failures.join("\n  ")
    );
}
