//! What an instance reports, typed: the binary words each event once (keepalived's log lines),
//! tests and tools match on the variants instead of on text.

use std::net::IpAddr;

use crate::packet::ParseError;

/// The states of RFC 3768 section 6.4, plus keepalived's FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Watching the master.
    Backup,
    /// Forwarding for the virtual addresses.
    Master,
    /// Cannot work (interface down, a tracked object failed).
    Fault,
}

/// Why an instance is in FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCause {
    /// Its own interface is down.
    LinkDown,
    /// A tracked object (weight-0 interface or file, or a priority pushed to the bottom) says
    /// so, or the instance has no source address (its `unicast_src_ip` is not on the host, or
    /// its interface has no address to send from); the daemon names which.
    Tracked,
    /// A tracked weight-0 script failed (and nothing else tracked says FAULT).
    Script,
    /// Nothing of its own: another member of its sync group is in FAULT
    /// (crate::sync_group::group_fault).
    Group,
}

/// Something that happened in an instance, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The effective priority changed (tracking).
    PriorityChanged {
        /// The priority before.
        from: u8,
        /// The priority now.
        to: u8,
    },
    /// The instance decided to become master (before the work of becoming it).
    TransitionToMaster,
    /// The instance enters `State` (after the work of leaving the previous one).
    Entering(State),
    /// Started directly in FAULT, for this reason.
    StartedInFault(FaultCause),
    /// The instance is in FAULT (after [`Event::Entering`]).
    NowInFault,
    /// As master, an advert that wins against ours arrived.
    HigherPriorityReceived {
        /// Its source.
        from: IpAddr,
        /// Its priority.
        priority: u8,
        /// Ours.
        ours: u8,
    },
    /// As master, an advert with a lower priority than ours arrived: another router is master
    /// too.
    LowerPriorityReceived {
        /// Its source.
        from: IpAddr,
        /// Its priority.
        priority: u8,
        /// Ours.
        ours: u8,
        /// It was answered with an advert at once (not `lower_prio_no_advert`).
        answered: bool,
    },
    /// A master that stops sent priority 0 (RFC 3768 section 6.4.3).
    PriorityZeroSent {
        /// Its sync group took it to FAULT (keepalived 2.2.7 sends the advert then but does
        /// not log it, observed).
        synced: bool,
    },
    /// The Master_Down_Timer fired (keepalived 2.2.7: `Receive advertisement timeout`). A free
    /// instance then becomes master; a member of a sync group waits for its group to decide
    /// whether the members become master together (crate::sync_group).
    ReceiveTimeout,
    /// The virtual addresses are about to be added.
    SettingAddresses,
    /// The virtual addresses are about to be removed.
    RemovingAddresses,
    /// An advert whose addresses differ from ours was dropped (keepalived 2.2.7's check, see
    /// [`AddressDifference`]); reported at most once per half Advertisement_Interval, so as
    /// often as a peer advertises, not as often as a flood.
    AddressesDiffer {
        /// Its source.
        from: IpAddr,
        /// How they differ.
        difference: AddressDifference,
    },
    /// As backup with preemption, an advert of lower priority than ours was ignored (RFC 3768
    /// section 6.4.2), so the Master_Down_Timer runs on and this router takes over; reported
    /// at most once per half Advertisement_Interval.
    LowerPriorityDiscarded {
        /// Its source.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// A received packet was dropped (reported at most once per [`crate::instance::DROP_LOG_INTERVAL`]
    /// per reason).
    Dropped {
        /// Its source.
        from: IpAddr,
        /// Why.
        reason: DropReason,
        /// How many were dropped for this reason so far.
        count: u64,
    },
}

/// How the addresses of a dropped advert differ from the instance's own (RFC 3768 and RFC
/// 5798 section 7.1), checked as keepalived 2.2.7 checks them: first the count, then whether
/// each of ours is in the advert (in any order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressDifference {
    /// The advert carries `received` addresses, the instance has `expected`.
    Count {
        /// The advert's Count IP Addrs.
        received: u8,
        /// The instance's own count.
        expected: usize,
    },
    /// The counts match, but this address of ours is not in the advert.
    Missing(IpAddr),
}

/// Why a received packet was dropped. Each reason has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// TTL other than 255 on a multicast advert (RFC 3768 section 7.1).
    Ttl,
    /// Shorter than a header.
    Truncated,
    /// Version other than the configured one.
    Version,
    /// Type other than ADVERTISEMENT.
    Type,
    /// Length does not match the address count.
    Length,
    /// Checksum does not verify.
    Checksum,
    /// Auth type other than ours, or unknown.
    AuthType,
    /// PASS password other than ours.
    Password,
    /// Advertisement interval other than ours (VRRPv2).
    Interval,
    /// Another VRID (the driver normally routes by VRID first).
    Vrid,
    /// A unicast advert from an address that is not a peer, with `check_unicast_src`.
    NotPeer,
    /// Its address count or list differs from ours ([`AddressDifference`]).
    Addresses,
}

impl DropReason {
    /// How many kinds there are.
    pub const COUNT: usize = 12;

    /// Every reason, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Ttl,
        DropReason::Truncated,
        DropReason::Version,
        DropReason::Type,
        DropReason::Length,
        DropReason::Checksum,
        DropReason::AuthType,
        DropReason::Password,
        DropReason::Interval,
        DropReason::Vrid,
        DropReason::NotPeer,
        DropReason::Addresses,
    ];

    /// The reason as keepalived names it in its log.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Ttl => "invalid TTL",
            DropReason::Truncated => "packet too short",
            DropReason::Version => "invalid version",
            DropReason::Type => "invalid type",
            DropReason::Length => "invalid packet length",
            DropReason::Checksum => "Invalid VRRPv2 checksum",
            DropReason::AuthType => "auth type mismatch",
            DropReason::Password => "invalid passwd",
            DropReason::Interval => "advertisement interval mismatch",
            DropReason::Vrid => "unknown VRID",
            DropReason::NotPeer => "not a unicast peer",
            DropReason::Addresses => "address list mismatch",
        }
    }

    /// Its index in [`DropReason::ALL`] and in the counters.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

impl From<ParseError> for DropReason {
    fn from(err: ParseError) -> DropReason {
        match err {
            ParseError::Truncated(_) => DropReason::Truncated,
            ParseError::Version(_) => DropReason::Version,
            ParseError::Type(_) => DropReason::Type,
            ParseError::Length { .. } => DropReason::Length,
            ParseError::Checksum => DropReason::Checksum,
            ParseError::AuthType(_) => DropReason::AuthType,
        }
    }
}
