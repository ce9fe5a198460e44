//! The instances' protocol deadlines, ordered: the earliest one and the ones due are found
//! without looking at every instance.
//!
//! A backup of a thousand instances hears a thousand adverts a second, and each advert moves
//! its instance's Master_Down_Timer (RFC 3768 section 6.4.2). The instance whose deadline is
//! the earliest is the one heard longest ago, which is the next one heard: a minimum kept by
//! scanning every instance was scanned again for almost every advert.

use std::collections::BTreeSet;
use std::time::Instant;

/// Each instance's next deadline, by index, and the same ordered by time.
///
/// A deadline that moves later (what every advert heard does to a backup's timer) is not
/// moved in the ordered set: its entry stays, stale, and is put in its place only when it
/// comes first, so a backup pays for one tree update per Master_Down_Interval and instance,
/// not per advert. Invariant: for every instance with a deadline, the set holds that deadline
/// or an earlier stale entry of the same instance.
#[derive(Debug, Default)]
pub struct Deadlines {
    by_time: BTreeSet<(Instant, usize)>,
    of: Vec<Option<Instant>>,
}

impl Deadlines {
    /// Forgets every deadline and takes those of `all` (instance `i` is `all[i]`), after the
    /// instances were replaced.
    pub fn rebuild(&mut self, all: impl Iterator<Item = Option<Instant>>) {
        self.by_time.clear();
        self.of.clear();
        for (i, at) in all.enumerate() {
            self.of.push(at);
            if let Some(at) = at {
                self.by_time.insert((at, i));
            }
        }
    }

    /// Instance `i`'s deadline is now `at` (none: it waits for nothing).
    pub fn set(&mut self, i: usize, at: Option<Instant>) {
        if i >= self.of.len() {
            self.of.resize(i + 1, None);
        }
        let old = std::mem::replace(&mut self.of[i], at);
        match (old, at) {
            (_, None) => {}
            // Later: the old entry stays and is moved when it comes first.
            (Some(old), Some(at)) if at >= old => {}
            (_, Some(at)) => {
                self.by_time.insert((at, i));
            }
        }
    }

    /// Whether the entry `(at, i)` is instance `i`'s deadline (not a stale one).
    fn current(&self, (at, i): (Instant, usize)) -> bool {
        self.of.get(i).copied().flatten() == Some(at)
    }

    /// Takes the stale entry `(at, i)` out and puts instance `i`'s deadline in its place, if
    /// it has one later than `at` (an earlier one is in the set already).
    fn replace_stale(&mut self, (at, i): (Instant, usize)) {
        self.by_time.remove(&(at, i));
        if let Some(now_at) = self.of.get(i).copied().flatten()
            && now_at > at
        {
            self.by_time.insert((now_at, i));
        }
    }

    /// The earliest deadline of all.
    pub fn earliest(&mut self) -> Option<Instant> {
        while let Some(&first) = self.by_time.first() {
            if self.current(first) {
                return Some(first.0);
            }
            self.replace_stale(first);
        }
        None
    }

    /// The instances whose deadline is at or before `now`, earliest first.
    pub fn due(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        let mut stale = Vec::new();
        for &entry in self.by_time.iter().take_while(|(at, _)| *at <= now) {
            if self.current(entry) {
                due.push(entry.1);
            } else {
                stale.push(entry);
            }
        }
        for entry in stale {
            self.replace_stale(entry);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, ms: u64) -> Option<Instant> {
        Some(base + Duration::from_millis(ms))
    }

    #[test]
    fn the_earliest_follows_every_move() {
        let t = Instant::now();
        let mut d = Deadlines::default();
        d.rebuild([at(t, 300), None, at(t, 100), at(t, 200)].into_iter());
        assert_eq!(d.earliest(), at(t, 100));
        // Instance 2 hears an advert: its timer moves past the others.
        d.set(2, at(t, 1100));
        assert_eq!(d.earliest(), at(t, 200));
        d.set(3, None);
        assert_eq!(d.earliest(), at(t, 300));
        d.set(1, at(t, 50));
        assert_eq!(d.earliest(), at(t, 50));
        // Setting the same deadline again changes nothing.
        d.set(1, at(t, 50));
        assert_eq!(d.due(t + Duration::from_millis(300)), vec![1, 0]);
    }

    #[test]
    fn a_deadline_moved_later_and_back_is_listed_once_at_its_time() {
        let t = Instant::now();
        let mut d = Deadlines::default();
        d.rebuild([at(t, 100), at(t, 200)].into_iter());
        // Instance 0 hears adverts: its deadline moves on three times, then earlier again.
        d.set(0, at(t, 1100));
        d.set(0, at(t, 2100));
        d.set(0, at(t, 3100));
        assert_eq!(d.earliest(), at(t, 200));
        assert_eq!(d.due(t + Duration::from_millis(200)), vec![1]);
        d.set(0, at(t, 150));
        assert_eq!(d.earliest(), at(t, 150));
        assert_eq!(d.due(t + Duration::from_millis(5000)), vec![0, 1]);
        d.set(0, at(t, 4000));
        d.set(1, None);
        assert_eq!(d.due(t + Duration::from_millis(3999)), Vec::<usize>::new());
        assert_eq!(d.due(t + Duration::from_millis(4000)), vec![0]);
        d.set(0, None);
        assert_eq!(d.earliest(), None);
    }

    #[test]
    fn due_lists_ties_and_stops_at_now() {
        let t = Instant::now();
        let mut d = Deadlines::default();
        d.rebuild([at(t, 10), at(t, 10), at(t, 20), at(t, 30)].into_iter());
        assert_eq!(d.due(t + Duration::from_millis(20)), vec![0, 1, 2]);
        assert!(d.due(t).is_empty());
        // An instance added after the rebuild.
        d.set(6, at(t, 5));
        assert_eq!(d.due(t + Duration::from_millis(10)), vec![6, 0, 1]);
        d.rebuild(std::iter::empty());
        assert_eq!(d.earliest(), None);
    }
}
