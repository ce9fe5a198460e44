//! IPVS, the Linux Virtual Server table, driven through generic netlink: the kernel's `IPVS`
//! family (include/uapi/linux/ip_vs.h) and its `IPVS_CMD_*` commands, as keepalived's checker
//! child and `ipvsadm` use them.
//!
//! [`attr`] holds the wire format of services and destinations (encode and decode, no I/O),
//! [`daemon`] that of the connection synchronisation daemons,
//! [`message`] the generic netlink payload, and [`client`] a blocking netlink socket that
//! resolves the family and sends requests.

pub mod attr;
pub mod client;
pub mod daemon;
pub mod message;

pub use attr::{Destination, Forward, Info, Service, ServiceKey, Timeouts, Tunnel};
pub use client::{Ipvs, IpvsError, TableEntry};
pub use daemon::{DaemonRole, SyncDaemon};
pub use message::{Command, IpvsMessage};
