//! When the TCP_CHECKs' attempts start: on a grid of 10 ms steps, a bounded number per step.
//!
//! An attempt falls due `delay_loop` (or `delay_before_retry`) after the previous one ended,
//! as in keepalived 2.2.7. Rounding that time up to the next point of a grid lets the attempts
//! that fall due within one step start together in one turn of the checker's task, which then
//! sleeps until the next point instead of waking for every check (in the QEMU benchmark this
//! took the checker's CPU from 0.74-0.83 of 2.2.7's to about 0.3-0.4, docs/performance.md).
//! Rounding alone would let attempts gather: checks that end in the same turn (after a stall
//! of the machine, say) fall due at the same point and stay together from then on, so a
//! point takes at most twice its share of the checks (plus a few); the attempts beyond that
//! go to the next points. An attempt never starts before it is due, and starts at most one
//! step late while no point is full.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// The grid's step for a delay of a second or more (a hundredth of a shorter delay, which
/// keeps its precision and is not bounded per point).
pub const GRID_STEP: Duration = Duration::from_millis(10);

/// The fewest attempts a point of the grid takes.
const MIN_PER_POINT: u32 = 4;

/// The grid of one checker task: its origin, how many attempts a point takes, and how many
/// each point to come already has.
#[derive(Debug)]
pub struct StartGrid {
    epoch: Instant,
    per_point: u32,
    /// Attempts placed on each point (index from the origin) not yet past.
    taken: BTreeMap<u64, u32>,
}

impl StartGrid {
    /// A grid from `epoch` for checks repeating every one of `delays` (each check's
    /// `delay_loop`): a point takes twice the points' average share of them, and at least
    /// [`MIN_PER_POINT`].
    pub fn new(epoch: Instant, delays: impl IntoIterator<Item = Duration>) -> StartGrid {
        let step = GRID_STEP.as_secs_f64();
        let share: f64 = delays
            .into_iter()
            .filter(|d| *d >= GRID_STEP * 100)
            .map(|d| step / d.as_secs_f64())
            .sum();
        // At most a few thousand checks per step: the cast cannot overflow.
        let per_point = ((2.0 * share).ceil() as u32).max(MIN_PER_POINT);
        StartGrid {
            epoch,
            per_point,
            taken: BTreeMap::new(),
        }
    }

    /// When an attempt due at `due` (`delay` after the previous one ended) starts, decided at
    /// `now`: the first point of the grid at or after `due` that is not full.
    pub fn place(&mut self, now: Instant, due: Instant, delay: Duration) -> Instant {
        let at = on_grid(self.epoch, due, delay);
        if step_for(delay) != GRID_STEP {
            return at;
        }
        let step = GRID_STEP.as_nanos();
        let index = |t: Instant| {
            u64::try_from(t.saturating_duration_since(self.epoch).as_nanos() / step)
                .unwrap_or(u64::MAX)
        };
        // Points already past are forgotten.
        let past = index(now);
        while let Some((&point, _)) = self.taken.first_key_value() {
            if point >= past {
                break;
            }
            self.taken.pop_first();
        }
        let mut point = index(at);
        // Bounded: each full point holds `per_point` of the checks placed so far.
        for _ in 0..=self.taken.len() {
            let taken = self.taken.entry(point).or_insert(0);
            if *taken < self.per_point {
                *taken += 1;
                let offset =
                    Duration::from_nanos(point.saturating_mul(GRID_STEP.as_nanos() as u64));
                return self.epoch.checked_add(offset).unwrap_or(at);
            }
            point = point.saturating_add(1);
        }
        at
    }
}

/// The grid's step for attempts `delay` apart: [`GRID_STEP`], or a hundredth of a shorter
/// delay than a second.
fn step_for(delay: Duration) -> Duration {
    GRID_STEP.min(delay / 100)
}

/// The first point of the grid from `epoch` at or after `at` (never earlier than due), the
/// grid's step [`GRID_STEP`] or a hundredth of `delay` if shorter.
pub fn on_grid(epoch: Instant, at: Instant, delay: Duration) -> Instant {
    let step = step_for(delay).as_nanos();
    if step == 0 {
        return at;
    }
    let since = at.saturating_duration_since(epoch).as_nanos();
    let offset = since.div_ceil(step).saturating_mul(step);
    u64::try_from(offset)
        .ok()
        .and_then(|nanos| epoch.checked_add(Duration::from_nanos(nanos)))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Attempts start on the grid: never before they are due, at most a step later, the step
    /// 10 ms for a `delay_loop` of a second or more and a hundredth of a shorter delay.
    #[test]
    fn attempts_start_on_the_grid() {
        let epoch = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(on_grid(epoch, epoch + ms(1), second), epoch + ms(10));
        assert_eq!(on_grid(epoch, epoch + ms(10), second), epoch + ms(10));
        assert_eq!(on_grid(epoch, epoch + ms(1_003), second), epoch + ms(1_010));
        assert_eq!(
            on_grid(epoch, epoch + ms(3_001), Duration::from_secs(60)),
            epoch + ms(3_010)
        );
        // delay 0.2 s: a 2 ms step.
        assert_eq!(on_grid(epoch, epoch + ms(201), ms(200)), epoch + ms(202));
        // No delay: no grid.
        let at = epoch + Duration::from_micros(1_234);
        assert_eq!(on_grid(epoch, at, Duration::ZERO), at);
        // Before the grid's origin (cannot happen): the origin.
        assert_eq!(on_grid(epoch + ms(5), epoch, second), epoch + ms(5));
    }

    /// A point takes twice its share of the checks: 1,000 checks every second share 100
    /// points, 10 each, so a point takes 20; a handful of checks, at least 4.
    #[test]
    fn a_point_takes_twice_its_share() {
        let epoch = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(StartGrid::new(epoch, vec![second; 1_000]).per_point, 20);
        assert_eq!(
            StartGrid::new(epoch, vec![second * 6; 37_000]).per_point,
            124
        );
        assert_eq!(StartGrid::new(epoch, vec![second; 3]).per_point, 4);
        // Short delays have their own finer grid and are not counted.
        assert_eq!(StartGrid::new(epoch, vec![ms(200); 1_000]).per_point, 4);
    }

    /// Attempts that fall due together (checks that ended in one turn) are spread over the
    /// next points, a full point's worth each; a point already past is forgotten.
    #[test]
    fn attempts_due_together_are_spread() {
        let epoch = Instant::now();
        let second = Duration::from_secs(1);
        let mut grid = StartGrid::new(epoch, vec![second; 3]);
        let due = epoch + ms(1_003);
        let starts: Vec<Duration> = (0..10)
            .map(|_| grid.place(epoch, due, second) - epoch)
            .collect();
        let want: Vec<Duration> = [
            1_010, 1_010, 1_010, 1_010, 1_020, 1_020, 1_020, 1_020, 1_030, 1_030,
        ]
        .into_iter()
        .map(ms)
        .collect();
        assert_eq!(starts, want);
        // Later, with those points past, the same point is free again.
        let now = epoch + ms(2_000);
        assert_eq!(grid.place(now, due + second, second), epoch + ms(2_010));
        assert_eq!(grid.taken.len(), 1);
        // A short delay keeps its own grid, unbounded.
        for _ in 0..10 {
            assert_eq!(grid.place(now, now + ms(201), ms(200)), now + ms(202));
        }
    }
}
