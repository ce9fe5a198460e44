//! What one virtual router is configured with, and the timing formulas of RFC 3768 section 6.1
//! (RFC 5798 section 6.1 has the same ones, in centiseconds).

use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{Auth, Family, Version};

/// Where adverts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// To a multicast group (224.0.0.18 or `vrrp_mcast_group4`; ff02::12 for IPv6) with TTL
    /// 255; received adverts must arrive with TTL 255.
    Multicast(IpAddr),
    /// To each unicast peer (`unicast_peer`).
    Unicast(Unicast),
}

/// Unicast peers and keepalived's rules for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unicast {
    /// The peers adverts go to.
    pub peers: Vec<IpAddr>,
    /// The TTL adverts leave with (`unicast_ttl`, 255 by default). The TTL of received
    /// adverts is not checked, as peers may be routed (keepalived 2.2.7, observed).
    pub ttl: u8,
    /// `check_unicast_src` (or `vrrp_check_unicast_src`): adverts from other addresses than
    /// the peers are dropped; without it they are heard (keepalived 2.2.7, observed).
    pub only_from_peers: bool,
}

impl Unicast {
    /// To `peers` with keepalived's defaults: TTL 255, adverts heard from anyone.
    pub fn to(peers: Vec<IpAddr>) -> Unicast {
        Unicast {
            peers,
            ttl: crate::packet::TTL,
            only_from_peers: false,
        }
    }
}

impl Destination {
    /// Every address an advert is sent to.
    pub fn addresses(&self) -> &[IpAddr] {
        match self {
            Destination::Multicast(group) => std::slice::from_ref(group),
            Destination::Unicast(unicast) => &unicast.peers,
        }
    }

    /// Whether adverts go to unicast peers.
    pub fn is_unicast(&self) -> bool {
        matches!(self, Destination::Unicast(_))
    }

    /// The TTL (hop limit) adverts leave with.
    pub fn ttl(&self) -> u8 {
        match self {
            Destination::Multicast(_) => crate::packet::TTL,
            Destination::Unicast(unicast) => unicast.ttl,
        }
    }

    /// Whether an advert from `src` may be heard.
    pub fn hears(&self, src: IpAddr) -> bool {
        match self {
            Destination::Multicast(_) => true,
            Destination::Unicast(unicast) => {
                !unicast.only_from_peers || unicast.peers.contains(&src)
            }
        }
    }
}

/// What an instance is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    /// The instance name, as in `vrrp_instance NAME`.
    pub name: String,
    /// The interface adverts go out on.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Configured priority (1..255; 255 = address owner).
    pub priority: u8,
    /// Advertisement_Interval.
    pub advert_interval: Duration,
    /// Preempt_Mode (false with `nopreempt`).
    pub preempt: bool,
    /// No preemption during this long after start (keepalived's `preempt_delay`).
    pub preempt_delay: Duration,
    /// Authentication sent and required (VRRPv2).
    pub auth: Auth,
    /// Protocol version.
    pub version: Version,
    /// The virtual addresses that are advertised, all of one family.
    pub addresses: Vec<IpAddr>,
    /// This router's address: the source of its adverts (and of the VRRPv3 checksum's
    /// pseudo-header) and the tie breaker between equal priorities (RFC 3768 section 6.4.3).
    pub local_address: IpAddr,
    /// Where adverts go.
    pub destination: Destination,
    /// Delay of the second announcement burst (gratuitous ARP / unsolicited neighbour
    /// advertisement) after becoming master; zero: no second burst.
    pub garp_master_delay: Duration,
    /// Interval of repeated announcement bursts while master, if any.
    pub garp_master_refresh: Option<Duration>,
    /// `state BACKUP` was written: the instance starts in BACKUP even with priority 255, and
    /// becomes master when its Master_Down_Timer fires (keepalived 2.2.7, observed); without
    /// it (no `state`, or `state MASTER`) priority 255 starts in MASTER at once.
    pub start_backup: bool,
}

/// What a master does when it hears another master, and how far a backup trusts the master
/// it hears (keepalived.conf(5)); kept apart from
/// [`InstanceConfig`] and set with `Instance::set_contention`. The default is keepalived
/// 2.2.7's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contention {
    /// `lower_prio_no_advert`: a master that hears a lower-priority advert does not answer it
    /// with an advert at once (it still announces its addresses).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master that yields to a higher-priority advert sends one
    /// advert at its own priority first, so the winner hears that there were two masters and
    /// announces its addresses again.
    pub higher_prio_send_advert: bool,
    /// `garp_lower_prio_delay`: the second announcement burst after hearing a lower-priority
    /// advert as master; `None`: `garp_master_delay`; zero: none.
    pub lower_prio_delay: Option<Duration>,
    /// `skip_check_adv_addr` (or global `vrrp_skip_check_adv_addr`): as backup, the address
    /// list of an advert from the router last heard is not checked again (keepalived 2.2.7
    /// checks it in every advert a master receives, and in a backup's from any other source).
    pub skip_check_adv_addr: bool,
}

impl InstanceConfig {
    /// Skew_Time for `priority` with our own advert interval as the master's (RFC 3768 and
    /// RFC 5798 section 6.1).
    pub fn skew_time(&self, priority: u8) -> Duration {
        skew_time_for(self.version, self.advert_interval, priority)
    }

    /// Master_Down_Interval for `priority` with our own advert interval as the master's.
    pub fn master_down_interval(&self, priority: u8) -> Duration {
        master_down_interval_for(self.version, self.advert_interval, priority)
    }

    /// The advert interval in centiseconds, as the wire carries it.
    pub fn interval_cs(&self) -> u16 {
        u16::try_from(self.advert_interval.as_millis() / 10).unwrap_or(u16::MAX)
    }
}

/// The protocol version an instance of `family` runs with `version` in its block (if any) and
/// `vrrp_version` in global_defs, as keepalived 2.2.7 chooses it (observed): an IPv4 instance
/// runs the instance's version, else the global one; an IPv6 instance runs VRRPv3 unless its
/// own block says `version 2` (a global `vrrp_version 2` does not make it VRRPv2), and then
/// sends VRRPv2 over IPv6 in 2.2.7's form (see `packet::carries_auth_data`).
pub fn instance_version(family: Family, instance: Option<u8>, global: u8) -> Version {
    let number = match family {
        Family::V4 => instance.unwrap_or(global),
        Family::V6 => instance.unwrap_or(3),
    };
    if number == 2 {
        Version::V2
    } else {
        Version::V3
    }
}

/// Skew_Time = (256 - Priority) / 256 seconds (RFC 3768 section 6.1), exactly: 1/256 s is
/// 3,906,250 ns.
pub fn skew_time(priority: u8) -> Duration {
    Duration::from_nanos(u64::from(256 - u16::from(priority)) * 3_906_250)
}

/// Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time (RFC 3768 section 6.1).
pub fn master_down_interval(advert_interval: Duration, priority: u8) -> Duration {
    3 * advert_interval + skew_time(priority)
}

/// Skew_Time of `version` when the master advertises every `master_adver_interval`:
/// VRRPv2 (RFC 3768 section 6.1) (256 - Priority) / 256 seconds whatever the interval;
/// VRRPv3 (RFC 5798 section 6.1) ((256 - Priority) * Master_Adver_Interval) / 256. keepalived
/// 2.2.7 does the same (observed: advert_int 5, priority 90 takes over after 15.6 s with v2,
/// 18.2 s with v3).
pub fn skew_time_for(version: Version, master_adver_interval: Duration, priority: u8) -> Duration {
    match version {
        Version::V2 => skew_time(priority),
        Version::V3 => master_adver_interval * (256 - u32::from(priority)) / 256,
    }
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time of `version` (RFC 3768 and
/// RFC 5798 section 6.1).
pub fn master_down_interval_for(
    version: Version,
    master_adver_interval: Duration,
    priority: u8,
) -> Duration {
    master_down_interval_after(
        version,
        master_adver_interval,
        priority,
        RFC_DOWN_TIMER_ADVERTS,
    )
}

/// The adverts Master_Down_Interval waits for in the RFCs (section 6.1 of RFC 3768 and 5798).
pub const RFC_DOWN_TIMER_ADVERTS: u32 = 3;

/// Master_Down_Interval when it waits `adverts` advert intervals instead of the RFCs' 3
/// (keepalived's `down_timer_adverts`, a deviation from the RFCs): `adverts` *
/// Master_Adver_Interval + Skew_Time of `version` (keepalived 2.2.7, observed: 6 adverts,
/// advert_int 1, priority 100 took over after 6.6 s).
pub fn master_down_interval_after(
    version: Version,
    master_adver_interval: Duration,
    priority: u8,
    adverts: u32,
) -> Duration {
    adverts * master_adver_interval + skew_time_for(version, master_adver_interval, priority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_chooses_the_version_per_family() {
        assert_eq!(instance_version(Family::V4, None, 2), Version::V2);
        assert_eq!(instance_version(Family::V4, None, 3), Version::V3);
        assert_eq!(instance_version(Family::V4, Some(2), 3), Version::V2);
        assert_eq!(instance_version(Family::V6, None, 2), Version::V3);
        assert_eq!(instance_version(Family::V6, Some(3), 2), Version::V3);
        assert_eq!(instance_version(Family::V6, Some(2), 3), Version::V2);
    }

    #[test]
    fn rfc3768_6_1_skew_time_is_exact() {
        assert_eq!(skew_time(100), Duration::from_micros(609_375));
        assert_eq!(
            skew_time(255),
            Duration::from_micros(3_906) + Duration::from_nanos(250)
        );
        assert_eq!(
            master_down_interval(Duration::from_secs(1), 150),
            Duration::from_micros(3_414_062) + Duration::from_nanos(500)
        );
    }

    #[test]
    fn rfc5798_6_1_v3_skew_time_scales_with_master_adver_interval() {
        let five = Duration::from_secs(5);
        assert_eq!(
            skew_time_for(Version::V3, five, 90),
            Duration::from_nanos(3_242_187_500)
        );
        assert_eq!(skew_time_for(Version::V2, five, 90), skew_time(90));
        assert_eq!(
            master_down_interval_for(Version::V3, Duration::from_millis(50), 100),
            Duration::from_micros(180_468) + Duration::from_nanos(750)
        );
    }
}
