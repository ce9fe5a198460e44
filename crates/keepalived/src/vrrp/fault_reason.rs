//! Why an instance is in FAULT, each object named: what keepalived 2.2.7 says when an
//! instance starts in FAULT (`(VI_1): entering FAULT state (interface eth0 down)`, …,
//! observed in namespaces, see crates/keepalived/tests/dynamic_if_lab.rs). The driver finds
//! the reasons ([`super::driver`]'s tracking); [`super::wording::start_in_fault`] words them.

use std::net::Ipv4Addr;

use keepalived_vrrp::packet::Family;

/// One reason for FAULT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultReason {
    /// The instance's own interface, or a weight-0 tracked one, is down or does not exist.
    InterfaceDown(String),
    /// The instance's interface has no address of the instance's family to send adverts from
    /// (no source is configured): no IPv4 address (other than VIPs), or no IPv6 link-local
    /// address (RFC 5798 section 5.1.2.1).
    NoAddress(Family),
    /// A tracked file says FAULT; `status` is what it contributes (-254 and below: FAULT).
    File {
        /// The track_file block's name.
        name: String,
        /// Its status as 2.2.7 prints it.
        status: i64,
    },
    /// A weight-0 tracked process has not its quorum.
    Process(String),
    /// The `unicast_src_ip` is not one of the host's addresses (2.2.7 cannot bind to it).
    SourceMissing(Ipv4Addr),
}

/// The status keepalived 2.2.7 prints for a tracked file that puts an instance in FAULT:
/// -254 for a weight-0 file, else the weighted value, never below -254 (observed: `tracked
/// file tf has status -254` for both).
pub fn file_status(value: i64, weight: i32, reverse: bool) -> i64 {
    if weight == 0 {
        return -254;
    }
    let mut result = value.saturating_mul(i64::from(weight));
    if reverse {
        result = result.saturating_neg();
    }
    result.max(-254)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_status_is_minus_254_at_most() {
        assert_eq!(file_status(1, 0, false), -254);
        assert_eq!(file_status(-254, 1, false), -254);
        assert_eq!(file_status(-300, 1, false), -254);
        assert_eq!(file_status(-100, 2, true), 200);
    }
}
