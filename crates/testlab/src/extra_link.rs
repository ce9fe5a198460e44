//! A second link between two hosts of a lab: a veth pair straight from one host's namespace into
//! the other's, beside the lab bridge, so a host can have two interfaces on two segments (for
//! tests of what arrives on which interface). Both ends live in the hosts' namespaces, so they
//! go away with the lab.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::inject::Injector;
use crate::lab::{HOST_IF, Host, Subnet, poll_until};
use crate::process::run_ok;

/// One end of an [`ExtraLink`]: a host, its interface name and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEnd {
    /// The host's namespace.
    pub netns: String,
    /// The interface name in that namespace.
    pub ifname: String,
    /// The address given to it (prefix length 24).
    pub address: Ipv4Addr,
}

/// A point-to-point veth link between two hosts on a documentation subnet of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraLink {
    /// The first host's end.
    pub a: LinkEnd,
    /// The second host's end.
    pub b: LinkEnd,
}

/// The MAC of an extra-link interface: locally administered, `02:00:00:01:XX:YY` where XX is the
/// subnet's third octet and YY the address's last octet, so it never equals a bridge host's
/// `02:00:00:00:00:YY`.
pub fn extra_link_mac(address: Ipv4Addr) -> String {
    let [_, _, c, d] = address.octets();
    format!("02:00:00:01:{c:02x}:{d:02x}")
}

/// Connects `a` and `b` with a veth pair named `ifname` on both sides, addresses
/// `subnet.addr(a_octet)/24` and `subnet.addr(b_octet)/24`, both ends up. Waits (at most 5 s)
/// for both to report UP. `subnet` should differ from the lab's own, and `ifname` must not be
/// the bridge interface `eth0`.
pub fn link_hosts(
    a: &Host,
    b: &Host,
    ifname: &str,
    subnet: Subnet,
    a_octet: u8,
    b_octet: u8,
) -> Result<ExtraLink> {
    if ifname == HOST_IF {
        bail!("{HOST_IF} is the lab bridge interface; pick another name");
    }
    if ifname.is_empty() || ifname.len() > 15 || !ifname.bytes().all(|c| c.is_ascii_alphanumeric())
    {
        bail!("bad interface name `{ifname}`");
    }
    if a_octet == b_octet || [a_octet, b_octet].iter().any(|o| *o == 0 || *o == 255) {
        bail!("host octets must differ and lie in 1..=254, got {a_octet} and {b_octet}");
    }
    let end = |host: &Host, octet: u8| LinkEnd {
        netns: host.netns().to_string(),
        ifname: ifname.to_string(),
        address: subnet.addr(octet),
    };
    let link = ExtraLink {
        a: end(a, a_octet),
        b: end(b, b_octet),
    };
    let (mac_a, mac_b) = (
        extra_link_mac(link.a.address),
        extra_link_mac(link.b.address),
    );
    run_ok(
        "ip",
        &[
            "-n",
            &link.a.netns,
            "link",
            "add",
            ifname,
            "address",
            &mac_a,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "address",
            &mac_b,
            "netns",
            &link.b.netns,
        ],
    )?;
    for e in [&link.a, &link.b] {
        let cidr = format!("{}/{}", e.address, subnet.prefix_len());
        run_ok("ip", &["-n", &e.netns, "addr", "add", &cidr, "dev", ifname])?;
        run_ok("ip", &["-n", &e.netns, "link", "set", ifname, "up"])?;
    }
    for host in [a, b] {
        let up = poll_until(Duration::from_secs(5), || {
            host.link_is_up(ifname).unwrap_or(false)
        });
        if !up {
            bail!("{ifname} in {} did not come up within 5 s", host.netns());
        }
    }
    Ok(link)
}

/// An [`Injector`] that sends out of one end of an extra link, with that end's address.
pub fn link_injector(host: &Host, end: &LinkEnd) -> Result<Injector> {
    if host.netns() != end.netns {
        bail!("{} is not in {}", end.ifname, host.netns());
    }
    Injector::open_with_address(host, &end.ifname, end.address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_locally_administered_and_distinct_from_bridge_hosts() {
        let mac = extra_link_mac(Ipv4Addr::new(198, 51, 100, 10));
        assert_eq!(mac, "02:00:00:01:64:0a");
        assert_ne!(mac, crate::host_mac(10));
    }
}
