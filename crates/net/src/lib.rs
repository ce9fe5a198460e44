//! The Linux side of VRRP: raw IPPROTO 112 sockets (IPv4 and IPv6) with multicast membership,
//! gratuitous ARP and unsolicited neighbour advertisements on AF_PACKET, virtual addresses, routes, rules and link state over rtnetlink.
//!
//! Everything here acts in the network namespace of the calling thread at the time a socket or
//! manager is created. The async parts need a tokio runtime (a current-thread one is enough);
//! constructors that register with it return an error, not a panic, outside one. No `unsafe`:
//! the socket options go through `socket2`, `rustix` (`IP_MULTICAST_IF` with `ip_mreqn`) and
//! `nix`.

pub mod addresses;
pub mod ah;
pub mod garp;
pub mod interface;
pub mod link;
pub mod nftables;
pub mod ready_set;
pub mod routes;
pub mod rules;
pub mod timer;
pub mod vmac;
pub mod vrrp_socket;
pub mod vrrp_socket6;

pub use addresses::{AddressManager, AddressOptions, AddressSpec};
pub use garp::GarpSender;
pub use interface::{Interface, lookup};
pub use link::{LinkEvent, LinkWatch, is_up, watch};
pub use routes::{RouteManager, RouteSpec};
pub use rules::{RuleManager, RuleSpec};
pub use timer::PreciseTimer;
pub use vrrp_socket::{Received, VrrpSocket};
pub use vrrp_socket6::{Received6, VrrpSocket6};
