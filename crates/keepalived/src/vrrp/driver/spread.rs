//! Where in the advert interval each master sends: the adverts of many instances spread over
//! a few places of the interval's first half instead of one burst.
//!
//! Instances that become master together (a daemon starting a thousand instances times them
//! all out at one moment) would otherwise send every advert of every interval in one burst:
//! a thousand sends take some 3 ms on a quiet machine, and the burst stretches by a
//! millisecond or more from one interval to the next when anything else runs (an interrupt,
//! another task woken on the CPU), so the instances at its end left up to that much sooner or
//! later than the interval before. Spread over a few places, each wake-up sends at most
//! about [`ADVERTS_PER_WAKE`] adverts (a few tenths of a millisecond), so an instance's
//! advert keeps its moment within that much.
//!
//! The places are given in contiguous blocks of the instance list: a wake-up handles
//! instances next to each other in memory. Given round-robin (instance `i` in place `i mod
//! slots`), each wake-up read one instance in every `slots`, and the same spread cost both
//! sides two thirds more CPU (docs/performance.md, figures of 2026-12-05), where blocks cost
//! about a fifth more than no spread at all.
//!
//! The engine keeps the place (`Instance::set_advert_spread`): RFC 5798 section 6.4.3
//! restarts the Adver_Timer at Advertisement_Interval; an advert sent sooner only restarts
//! the backups' Master_Down_Timer sooner (section 6.4.2), and two adverts of one instance
//! never leave less than half an interval apart.

use std::time::Duration;

/// How many masters' adverts one wake-up of the protocol timer sends at most, about.
pub const ADVERTS_PER_WAKE: usize = 250;

/// At most this many places in the first half of the interval.
pub const MAX_SLOTS: usize = 32;

/// How many places in the interval the adverts of `n` instances take: one (no spread) up to
/// [`ADVERTS_PER_WAKE`] instances.
pub fn slots(n: usize) -> usize {
    n.div_ceil(ADVERTS_PER_WAKE).clamp(1, MAX_SLOTS)
}

/// The place of instance `i` of `n` among `slots` places: the instances in contiguous
/// blocks, the first block in place 0.
fn place(i: usize, n: usize, slots: usize) -> usize {
    (i.saturating_mul(slots) / n.max(1)).min(slots.saturating_sub(1))
}

/// How much sooner than Advertisement_Interval instance `i` of `n` restarts its Adver_Timer:
/// its place times `interval / (2 × slots)`, so always less than half the interval.
pub fn spread_of(interval: Duration, i: usize, n: usize) -> Duration {
    let slots = slots(n);
    let (place, parts) = (place(i, n, slots), 2 * slots);
    match (u32::try_from(place), u32::try_from(parts)) {
        (Ok(place), Ok(parts)) => interval / parts * place,
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_count_follows_the_instance_count() {
        assert_eq!(slots(0), 1);
        assert_eq!(slots(1), 1);
        assert_eq!(slots(250), 1);
        assert_eq!(slots(251), 2);
        assert_eq!(slots(500), 2);
        assert_eq!(slots(1_000), 4);
        assert_eq!(slots(100_000), MAX_SLOTS);
    }

    #[test]
    fn few_instances_are_not_spread() {
        let second = Duration::from_secs(1);
        assert!((0..250).all(|i| spread_of(second, i, 250).is_zero()));
        assert!(spread_of(second, 0, 1).is_zero());
    }

    #[test]
    fn places_are_contiguous_blocks() {
        let second = Duration::from_secs(1);
        // A thousand instances: four blocks of 250, 0 to 375 ms sooner.
        let spreads: Vec<u128> = (0..1_000)
            .map(|i| spread_of(second, i, 1_000).as_micros())
            .collect();
        assert!(spreads[..250].iter().all(|&s| s == 0));
        assert!(spreads[250..500].iter().all(|&s| s == 125_000));
        assert!(spreads[750..].iter().all(|&s| s == 375_000));
        // Non-decreasing over the list: a wake-up handles neighbours.
        assert!(spreads.windows(2).all(|w| w[0] <= w[1]));
        // Each place holds at most about ADVERTS_PER_WAKE instances.
        let mut per_place = std::collections::BTreeMap::new();
        for s in &spreads {
            *per_place.entry(*s).or_insert(0usize) += 1;
        }
        assert_eq!(per_place.len(), 4);
        assert!(per_place.values().all(|&c| c == 250));
    }

    #[test]
    fn never_half_an_interval_or_more() {
        let centis = Duration::from_millis(50);
        for n in [1, 251, 999, 1_000, 4_000, 100_000] {
            assert!((0..n).all(|i| spread_of(centis, i, n) < centis / 2), "{n}");
        }
        // An index past the count (an instance added meanwhile) stays in the last place.
        assert!(spread_of(centis, 10_000, 1_000) < centis / 2);
    }
}
