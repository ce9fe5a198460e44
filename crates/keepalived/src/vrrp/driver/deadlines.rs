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
        if old == at {
            return;
        }
        if let Some(old) = old {
            self.by_time.remove(&(old, i));
        }
        if let Some(at) = at {
            self.by_time.insert((at, i));
        }
    }

    /// The earliest deadline of all.
    pub fn earliest(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// The instances whose deadline is at or before `now`, earliest first.
    pub fn due(&self, now: Instant) -> Vec<usize> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, i)| *i)
            .collect()
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
