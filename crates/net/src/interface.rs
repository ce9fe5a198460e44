//! Network interface lookup: index, MAC address, IPv4 addresses and state.
//!
//! The lookup uses `getifaddrs(3)`, which asks the kernel over rtnetlink in the network namespace
//! of the calling thread (so it is right inside a thread that entered a namespace with `setns`,
//! unlike `/sys/class/net`, which shows the namespace that mounted sysfs).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use nix::ifaddrs::{InterfaceAddress, getifaddrs};
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::LinkAddr;

/// A network interface as seen at lookup time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The interface name, e.g. `eth0`.
    pub name: String,
    /// The kernel interface index (`ifindex`).
    pub index: u32,
    /// The hardware (MAC) address; all zeros for interfaces without one.
    pub mac: [u8; 6],
    /// IPv4 addresses with their prefix lengths, in the kernel's order (primaries first).
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses, in the kernel's order.
    pub ipv6: Vec<Ipv6Addr>,
    /// `IFF_UP` and `IFF_RUNNING` are both set (administratively up, carrier/operstate up).
    pub up: bool,
}

impl Interface {
    /// The address used as the VRRP source when none is configured: the first IPv4 address the
    /// kernel lists on the interface (its first primary address).
    pub fn primary_ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().map(|&(addr, _)| addr)
    }

    /// The source of IPv6 adverts when none is configured: the interface's first link-local
    /// address (fe80::/10), as RFC 5798 section 5.1.2.1 asks.
    pub fn link_local_ipv6(&self) -> Option<Ipv6Addr> {
        self.ipv6
            .iter()
            .copied()
            .find(Ipv6Addr::is_unicast_link_local)
    }
}

/// Look up an interface by name in the calling thread's network namespace.
///
/// Returns [`io::ErrorKind::NotFound`] when no interface has that name. IPv4 addresses carry
/// their label as the name in `getifaddrs`, so addresses labelled `NAME` or `NAME:anything` are
/// counted (labels always start with the device name when set by iproute2 or keepalived).
pub fn lookup(name: &str) -> io::Result<Interface> {
    let entries: Vec<InterfaceAddress> = getifaddrs().map_err(io::Error::from)?.collect();
    let link = entries
        .iter()
        .find_map(|e| {
            if e.interface_name != name {
                return None;
            }
            let link = e.address.as_ref()?.as_link_addr()?;
            Some((e.flags, *link))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("interface {name:?} not found"),
            )
        })?;
    let (flags, link) = link;
    let index = u32::try_from(link.ifindex())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "interface index out of range"))?;
    let mac = if link.halen() == 6 {
        link.addr().unwrap_or([0; 6])
    } else {
        [0; 6]
    };
    let ipv4 = entries
        .iter()
        .filter(|e| label_matches(&e.interface_name, name))
        .filter_map(|e| {
            let addr = e.address.as_ref()?.as_sockaddr_in()?.ip();
            let prefix = e
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or(32, |m| mask_to_prefix(m.ip()));
            Some((addr, prefix))
        })
        .collect();
    let ipv6 = entries
        .iter()
        .filter(|e| e.interface_name == name)
        .filter_map(|e| Some(e.address.as_ref()?.as_sockaddr_in6()?.ip()))
        .collect();
    Ok(Interface {
        name: name.to_owned(),
        index,
        mac,
        ipv4,
        ipv6,
        up: flags_up(flags),
    })
}

/// Find the `AF_PACKET` address (`sockaddr_ll`) that `getifaddrs` reports for an interface
/// index; the gratuitous ARP socket binds to it.
pub(crate) fn link_addr(index: u32) -> io::Result<LinkAddr> {
    getifaddrs()
        .map_err(io::Error::from)?
        .find_map(|e| {
            let link = *e.address.as_ref()?.as_link_addr()?;
            (u32::try_from(link.ifindex()) == Ok(index)).then_some(link)
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("interface index {index} not found"),
            )
        })
}

/// "Up" as this crate means it everywhere: administratively up and running (operstate up).
pub(crate) fn flags_up(flags: InterfaceFlags) -> bool {
    flags.contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING)
}

/// Whether an address label belongs to the interface `name`.
fn label_matches(label: &str, name: &str) -> bool {
    label == name
        || label
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// Prefix length of a netmask (the count of leading one bits).
fn mask_to_prefix(mask: Ipv4Addr) -> u8 {
    // leading_ones of a u32 is at most 32, which always fits in a u8.
    u8::try_from(u32::from(mask).leading_ones()).unwrap_or(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(label_matches("eth0", "eth0"));
        assert!(label_matches("eth0:vip", "eth0"));
        assert!(!label_matches("eth01", "eth0"));
        assert!(!label_matches("eth", "eth0"));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 255, 0)), 24);
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 255, 255)), 32);
        assert_eq!(mask_to_prefix(Ipv4Addr::UNSPECIFIED), 0);
    }

    #[test]
    fn loopback_exists() {
        // Every network namespace has `lo`, index 1 in a fresh one (not asserted: the host's may
        // differ), and its address 127.0.0.1/8 when it is up.
        let lo = lookup("lo").expect("lo");
        assert!(lo.index > 0);
        assert_eq!(lo.mac, [0; 6]);
        assert!(matches!(
            lookup("no-such-interface-x").map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound)
        ));
    }
}
