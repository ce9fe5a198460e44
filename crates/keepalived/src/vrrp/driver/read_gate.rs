//! Reading the sockets in batches while adverts come densely.
//!
//! A backup of a thousand instances hears a thousand adverts a second, and they come in bursts:
//! the master's instances send one after the other, some 15–25 µs apart. Read as they come,
//! each advert wakes the process on its own (a wake-up, a poll of every event source, a read,
//! a read that finds nothing), and the wake-ups cost more than the adverts. When the last read
//! followed another within [`DENSE`], the sockets are left alone for [`WINDOW`]: the adverts
//! that arrive meanwhile wait in the socket's queue and are read together in one wake-up.
//!
//! What it costs: an advert that arrives during a burst is handled at most [`WINDOW`] later
//! (the protocol timer ends the window, so the delay is that exact). Master_Down_Interval and
//! Skew_Time (RFC 3768 section 6.1, RFC 5798 section 6.1) are hundreds of milliseconds at the
//! shortest advert interval keepalived allows, so an election does not notice. An advert that
//! arrives alone (a pair of routers, a quiet link) is read at once as before: the window only
//! opens after two reads close together.

use std::time::{Duration, Instant};

/// Two reads this close together mean adverts are arriving in a burst.
pub const DENSE: Duration = Duration::from_millis(1);

/// How long the sockets are left alone once reads come densely.
pub const WINDOW: Duration = Duration::from_millis(1);

/// Whether the sockets may be read now, and until when they are left alone.
#[derive(Debug, Default)]
pub struct ReadGate {
    /// When the last read that found packets ended.
    last_read: Option<Instant>,
    /// The end of the current window, if one is open.
    closed_until: Option<Instant>,
}

impl ReadGate {
    /// A read at `now` found `packets` packets and emptied the socket (a read that stopped at
    /// its budget, a flood, is followed by the next at once and does not open a window).
    pub fn read(&mut self, now: Instant, packets: usize) {
        if packets == 0 {
            return;
        }
        if self
            .last_read
            .is_some_and(|last| now.saturating_duration_since(last) <= DENSE)
        {
            self.closed_until = Some(now + WINDOW);
        }
        self.last_read = Some(now);
    }

    /// Whether the sockets may be read.
    pub fn is_open(&self) -> bool {
        self.closed_until.is_none()
    }

    /// When the current window ends, for the protocol timer.
    pub fn closed_until(&self) -> Option<Instant> {
        self.closed_until
    }

    /// The timer fired at `now`: a window that has ended lets the sockets be read again.
    pub fn timer_fired(&mut self, now: Instant) {
        if self.closed_until.is_some_and(|end| end <= now) {
            self.closed_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: Instant, ms: u64) -> Instant {
        base + Duration::from_micros(ms * 1000)
    }

    #[test]
    fn an_advert_alone_is_read_at_once() {
        let t = Instant::now();
        let mut gate = ReadGate::default();
        // One advert a second: never two reads close together.
        for second in 0..5 {
            gate.read(ms(t, second * 1000), 1);
            assert!(gate.is_open());
            assert_eq!(gate.closed_until(), None);
        }
    }

    #[test]
    fn a_burst_is_read_once_a_window() {
        let t = Instant::now();
        let mut gate = ReadGate::default();
        gate.read(t, 1);
        assert!(gate.is_open());
        // The next advert of the burst, 20 µs later.
        let next = t + Duration::from_micros(20);
        gate.read(next, 1);
        assert!(!gate.is_open());
        assert_eq!(gate.closed_until(), Some(next + WINDOW));
        // The timer fires early (another deadline): still closed.
        gate.timer_fired(next + WINDOW / 2);
        assert!(!gate.is_open());
        gate.timer_fired(next + WINDOW);
        assert!(gate.is_open());
        // The window's read found the rest of the burst queued: closed again.
        gate.read(next + WINDOW, 50);
        assert!(!gate.is_open());
        gate.timer_fired(next + WINDOW * 2);
        // Nothing more came: the next read, long after, finds the gate open and keeps it so.
        gate.read(ms(t, 1000), 1);
        assert!(gate.is_open());
    }

    #[test]
    fn an_empty_read_changes_nothing() {
        let t = Instant::now();
        let mut gate = ReadGate::default();
        gate.read(t, 1);
        gate.read(t + Duration::from_micros(10), 0);
        assert!(gate.is_open());
        gate.read(t + Duration::from_micros(20), 1);
        assert!(!gate.is_open());
    }
}
