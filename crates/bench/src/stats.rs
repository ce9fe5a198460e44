//! Summaries of repeated measurements.

use std::time::Duration;

/// One run of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Wall-clock time from spawn to exit.
    pub wall: Duration,
    /// CPU time (user + system) the program used: unlike the wall time, it does not grow
    /// while other processes hold the CPU.
    pub cpu: Duration,
    /// Peak resident set size of the program, in KiB.
    pub max_rss_kib: u64,
    /// Its exit code (128 + signal number if a signal ended it).
    pub exit_code: i32,
}

/// What the runs of one implementation came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How many runs.
    pub runs: usize,
    /// Median wall time (the mean of the middle two for an even count).
    pub median_wall: Duration,
    /// Fastest run.
    pub min_wall: Duration,
    /// Median CPU time (user + system).
    pub median_cpu: Duration,
    /// Highest peak RSS of any run, in KiB.
    pub max_rss_kib: u64,
    /// Every run's exit code, in order.
    pub exit_codes: Vec<i32>,
}

impl Summary {
    /// Summarises `samples`; `None` if there are none.
    pub fn of(samples: &[Sample]) -> Option<Summary> {
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort_unstable();
        let min_wall = *walls.first()?;
        let median_wall = median(&walls)?;
        let mut cpus: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
        cpus.sort_unstable();
        Some(Summary {
            runs: samples.len(),
            median_wall,
            min_wall,
            median_cpu: median(&cpus)?,
            max_rss_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
            exit_codes: samples.iter().map(|s| s.exit_code).collect(),
        })
    }

    /// The exit code if every run gave the same one.
    pub fn consistent_exit_code(&self) -> Option<i32> {
        let first = *self.exit_codes.first()?;
        self.exit_codes.iter().all(|&c| c == first).then_some(first)
    }
}

/// The median of sorted durations (the mean of the middle two for an even count).
fn median(sorted: &[Duration]) -> Option<Duration> {
    let mid = sorted.len() / 2;
    if !sorted.len().is_multiple_of(2) {
        sorted.get(mid).copied()
    } else {
        Some((*sorted.get(mid.checked_sub(1)?)? + *sorted.get(mid)?) / 2)
    }
}

/// Milliseconds, with fractions.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// KiB as MiB.
pub fn mebibytes(kib: u64) -> f64 {
    // Precision loss only above 2^52 KiB.
    #[allow(clippy::cast_precision_loss)]
    let kib = kib as f64;
    kib / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, rss: u64, code: i32) -> Sample {
        Sample {
            wall: Duration::from_millis(ms),
            cpu: Duration::from_millis(ms / 2),
            max_rss_kib: rss,
            exit_code: code,
        }
    }

    #[test]
    fn median_min_and_peak() {
        let summary = Summary::of(&[sample(30, 10, 0), sample(10, 30, 0), sample(20, 20, 0)]);
        let summary = summary.expect("three samples");
        assert_eq!(summary.median_wall, Duration::from_millis(20));
        assert_eq!(summary.min_wall, Duration::from_millis(10));
        assert_eq!(summary.median_cpu, Duration::from_millis(10));
        assert_eq!(summary.max_rss_kib, 30);
        assert_eq!(summary.consistent_exit_code(), Some(0));
    }

    #[test]
    fn even_count_median_and_mixed_codes() {
        let summary = Summary::of(&[sample(10, 1, 0), sample(20, 1, 5)]).expect("two samples");
        assert_eq!(summary.median_wall, Duration::from_millis(15));
        assert_eq!(summary.consistent_exit_code(), None);
        assert!(Summary::of(&[]).is_none());
    }
}
