//! A timer with nanosecond precision for the protocol deadlines. tokio's own timer rounds every
//! deadline up to a whole millisecond, which would put each take-over up to 2 ms past the RFC
//! limit; a timerfd on CLOCK_MONOTONIC (the clock `Instant` reads) fires on time.

use std::io;
use std::time::{Duration, Instant};

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// One-shot timer on a timerfd, registered with tokio.
#[derive(Debug)]
pub struct PreciseTimer {
    /// The timerfd, wrapped in a tokio datagram socket only to reach the reactor safely (the
    /// workspace forbids `unsafe`, which `AsyncFd::register` needs); it is never used as a
    /// socket.
    fd: UdpSocket,
}

impl PreciseTimer {
    /// A disarmed timer. Must be called inside a tokio runtime.
    pub fn new() -> io::Result<PreciseTimer> {
        tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("PreciseTimer::new outside a tokio runtime: {e}"))
        })?;
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        let fd = UdpSocket::from_std(std::net::UdpSocket::from(fd))?;
        Ok(PreciseTimer { fd })
    }

    /// Arms the timer to fire at `at` (at once if `at` has passed), replacing any earlier
    /// deadline.
    pub fn arm(&self, at: Instant) -> io::Result<()> {
        // A zero value would disarm the timer: a deadline already passed fires after 1 ns.
        let wait = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let value = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(wait.subsec_nanos()),
            },
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &value)?;
        Ok(())
    }

    /// Waits until the armed deadline has passed.
    pub async fn expired(&self) -> io::Result<()> {
        loop {
            self.fd.readable().await?;
            let read = self.fd.try_io(Interest::READABLE, || {
                let mut count = [0u8; 8];
                rustix::io::read(&self.fd, &mut count).map_err(io::Error::from)
            });
            match read {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_deadline_not_before() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let runtime = runtime.expect("runtime");
        runtime.block_on(async {
            let timer = PreciseTimer::new().expect("timerfd");
            for wait in [Duration::from_micros(300), Duration::from_millis(3)] {
                let deadline = Instant::now() + wait;
                timer.arm(deadline).expect("arm");
                tokio::time::timeout(Duration::from_secs(2), timer.expired())
                    .await
                    .expect("fires within 2 s")
                    .expect("read");
                assert!(Instant::now() >= deadline);
            }
            // A deadline in the past fires at once; re-arming replaces the old deadline.
            timer
                .arm(Instant::now() + Duration::from_secs(3600))
                .expect("arm");
            timer
                .arm(Instant::now() - Duration::from_secs(1))
                .expect("arm");
            tokio::time::timeout(Duration::from_secs(2), timer.expired())
                .await
                .expect("fires at once")
                .expect("read");
        });
    }

    #[test]
    fn needs_a_runtime() {
        assert!(PreciseTimer::new().is_err());
    }
}
