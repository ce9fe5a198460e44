//! How steadily a backup hears its master: the jitter of the adverts it accepts (how far the
//! gap between two adverts is from the master's advertisement interval) as a histogram, and
//! near failovers — an advert that arrives when the backup's Master_Down_Timer has run more
//! than half of its Master_Down_Interval (RFC 3768 section 6.4.2), a warning that a few more
//! lost adverts would have made it master. Both are measured between adverts of a master
//! already heard (not on the first one after a start, a priority-0 advert or a time as master).

use std::time::{Duration, Instant};

use keepalived_vrrp::config::master_down_interval_for;
use keepalived_vrrp::instance::{InstanceConfig, Phase};

/// The upper bounds of the jitter buckets, in seconds (Prometheus `le`).
pub const JITTER_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0];

/// The watch of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvertWatch {
    /// When the last advert was accepted in BACKUP.
    last: Option<Instant>,
    /// Cumulative counts per bucket of [`JITTER_BUCKETS`].
    pub buckets: [u64; 8],
    /// Jitter samples.
    pub count: u64,
    /// Their sum, in microseconds.
    pub sum_us: u64,
    /// Near failovers.
    pub near_failovers: u64,
}

impl AdvertWatch {
    /// Notes an advert the instance accepted at `now` while in `phase` (before handling it).
    /// A priority-0 advert (the master leaving) counts for neither figure.
    pub fn accepted(
        &mut self,
        now: Instant,
        phase: Phase,
        config: &InstanceConfig,
        priority_zero: bool,
    ) {
        let Phase::Backup(timers) = phase else {
            self.last = None;
            return;
        };
        if priority_zero {
            self.last = None;
            return;
        }
        let interval = master_down_interval_for(
            config.version,
            timers.master_adver_interval,
            config.priority,
        );
        let left = timers.master_down_at.saturating_duration_since(now);
        // Only once a master is heard: the first advert after a start or a change of master
        // ends an election, not a close call.
        if self.last.is_some() && left < interval / 2 {
            self.near_failovers += 1;
        }
        if let Some(last) = self.last {
            let gap = now.saturating_duration_since(last);
            let jitter = gap.abs_diff(timers.master_adver_interval);
            self.record(jitter);
        }
        self.last = Some(now);
    }

    fn record(&mut self, jitter: Duration) {
        let secs = jitter.as_secs_f64();
        for (bucket, le) in self.buckets.iter_mut().zip(JITTER_BUCKETS) {
            if secs <= le {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_us += u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_vrrp::instance::{BackupTimers, Destination, MasterTimers};
    use keepalived_vrrp::packet::{Auth, MULTICAST_GROUP, Version};
    use std::net::Ipv4Addr;

    fn config() -> InstanceConfig {
        InstanceConfig {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 1,
            priority: 100,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth: Auth::None,
            version: Version::V2,
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
            local_address: Ipv4Addr::new(192, 0, 2, 10).into(),
            destination: Destination::Multicast(MULTICAST_GROUP.into()),
            garp_master_delay: Duration::from_secs(5),
            garp_master_refresh: None,
            start_backup: false,
        }
    }

    /// BACKUP with the timer reset at `reset` (Master_Down_Interval 3.61 s at priority 100).
    fn backup(reset: Instant) -> Phase {
        Phase::Backup(BackupTimers {
            master_down_at: reset + Duration::from_millis(3609),
            master_adver_interval: Duration::from_secs(1),
        })
    }

    #[test]
    fn jitter_and_near_failovers_are_measured_in_backup_only() {
        let t0 = Instant::now();
        let c = config();
        let mut w = AdvertWatch::default();
        w.accepted(t0, backup(t0), &c, false);
        // 1.02 s later: 20 ms of jitter, the timer a third run.
        let t1 = t0 + Duration::from_millis(1020);
        w.accepted(t1, backup(t0), &c, false);
        assert_eq!(w.count, 1);
        assert_eq!(w.sum_us, 20_000);
        assert_eq!(w.buckets, [0, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(w.near_failovers, 0);
        // Two adverts lost: 3 s after the last reset, more than half run out.
        let t2 = t1 + Duration::from_millis(3000);
        w.accepted(t2, backup(t1), &c, false);
        assert_eq!(w.near_failovers, 1);
        assert_eq!(w.count, 2);
        // Master: nothing measured, and the next BACKUP advert starts afresh.
        let master = Phase::Master(MasterTimers {
            advert_at: t2,
            announce_at: None,
            refreshing: false,
            lower_prio_at: None,
        });
        w.accepted(t2, master, &c, false);
        w.accepted(t2 + Duration::from_secs(1), backup(t2), &c, true);
        w.accepted(t2 + Duration::from_secs(2), backup(t2), &c, false);
        assert_eq!((w.count, w.near_failovers), (2, 1));
    }
}
