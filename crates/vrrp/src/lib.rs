//! VRRP without I/O: packet views and validated representations, and the per-instance state
//! machine of RFC 3768 (VRRPv2) and RFC 5798 (VRRPv3). Input is `(now, event)`, output is
//! [`instance::Action`]s (typed [`event::Event`]s among them); no sockets, no clocks, so every
//! rule is a unit test on a virtual clock.

pub mod config;
pub mod event;
pub mod instance;
pub mod packet;
pub mod sync_group;
pub mod wire;
