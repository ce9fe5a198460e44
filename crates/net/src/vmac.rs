//! Virtual MAC interfaces (`use_vmac`): a macvlan in private mode on the instance's interface,
//! carrying the virtual router MAC address of RFC 3768 section 7.3 / RFC 5798 section 7.3
//! (00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6), made and removed over
//! rtnetlink, and the `/proc/sys/net` settings that go with it.

use std::io;
use std::net::Ipv6Addr;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec};
use tokio::task::JoinHandle;

/// The virtual router MAC address of `vrid` (RFC 3768 section 7.3, RFC 5798 section 7.3).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The name of a VMAC interface when `use_vmac` gives none: `vrrp.VRID`, for both families
/// (keepalived 2.2.7, observed).
pub fn default_name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

/// What is already there under a VMAC interface's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing: the interface is to be made.
    Absent,
    /// A private macvlan on the right interface with the right address: used as it is.
    Compatible(u32),
    /// A private macvlan on the right interface with another address or mode: updated.
    WrongAddress(u32),
    /// Something else (another kind of link, another mode, another lower interface): not ours
    /// to change.
    Foreign,
}

/// Makes, checks and removes VMAC interfaces through one rtnetlink socket, whose connection
/// runs as a task on the tokio runtime that created it (aborted when dropped).
#[derive(Debug)]
pub struct VmacManager {
    handle: Handle,
    task: JoinHandle<()>,
}

impl Drop for VmacManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn netlink_error(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => match msg.code {
            Some(code) => io::Error::from_raw_os_error(-code.get()),
            None => io::Error::other("netlink error"),
        },
        other => io::Error::other(other.to_string()),
    }
}

impl VmacManager {
    /// Opens the rtnetlink socket in the calling thread's network namespace. Must be called
    /// inside a tokio runtime; changes need CAP_NET_ADMIN.
    pub fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("VmacManager::new outside a tokio runtime: {e}"))
        })?;
        let (connection, handle, _unsolicited) = rtnetlink::new_connection()?;
        let task = runtime.spawn(connection);
        Ok(VmacManager { handle, task })
    }

    async fn get(&self, name: &str) -> io::Result<Option<LinkMessage>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(link) => Ok(link),
            Err(rtnetlink::Error::NetlinkError(msg))
                if msg.code.is_some_and(|c| -c.get() == libc_enodev()) =>
            {
                Ok(None)
            }
            Err(e) => Err(netlink_error(e)),
        }
    }

    /// What `name` is now, compared with a VMAC on interface `base` with address `mac`.
    pub async fn inspect(&self, name: &str, base: u32, mac: [u8; 6]) -> io::Result<Existing> {
        let Some(link) = self.get(name).await? else {
            return Ok(Existing::Absent);
        };
        Ok(classify(&link, base, mac))
    }

    /// Makes the private macvlan `name` on `base` with address `mac`, without IPv6 address
    /// generation (keepalived 2.2.7's VMACs show `addrgenmode none`), IPv6 disabled unless
    /// `ipv6` (an IPv4 VMAC of an instance without IPv6 addresses has it off), and brings it
    /// up. Returns its index.
    pub async fn create(&self, name: &str, base: u32, mac: [u8; 6], ipv6: bool) -> io::Result<u32> {
        let message = LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(netlink_error)?;
        let index = self
            .get(name)
            .await?
            .map(|l| l.header.index)
            .ok_or_else(|| io::Error::other(format!("{name} vanished after it was made")))?;
        // No link-local address of its own: an IPv6 instance puts its interface's there, and
        // an IPv4 one's VMAC has IPv6 off altogether (keepalived 2.2.7, observed). The
        // caller says which.
        let _ = write_sysctl(&format!("net/ipv6/conf/{name}/addr_gen_mode"), "1");
        if !ipv6 {
            let _ = write_sysctl(&format!("net/ipv6/conf/{name}/disable_ipv6"), "1");
        }
        self.set_up(index).await?;
        Ok(index)
    }

    /// Brings interface `index` up.
    pub async fn set_up(&self, index: u32) -> io::Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(netlink_error)
    }

    /// Removes interface `index`.
    pub async fn delete(&self, index: u32) -> io::Result<()> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(netlink_error)
    }

    /// The index of `name`, if it exists.
    pub async fn index_of(&self, name: &str) -> io::Result<Option<u32>> {
        Ok(self.get(name).await?.map(|l| l.header.index))
    }
}

fn libc_enodev() -> i32 {
    nix::errno::Errno::ENODEV as i32
}

/// Compares a link with the VMAC wanted on `base` with `mac`.
fn classify(link: &LinkMessage, base: u32, mac: [u8; 6]) -> Existing {
    let mut macvlan = false;
    let mut private = false;
    let mut lower = None;
    let mut address = None;
    for attr in &link.attributes {
        match attr {
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::MacVlan) => macvlan = true,
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            private = data
                                .iter()
                                .any(|d| matches!(d, InfoMacVlan::Mode(MacVlanMode::Private)));
                        }
                        _ => {}
                    }
                }
            }
            LinkAttribute::Link(index) => lower = Some(*index),
            LinkAttribute::Address(bytes) => address = Some(bytes.clone()),
            _ => {}
        }
    }
    if !macvlan || !private || lower != Some(base) {
        return Existing::Foreign;
    }
    if address.as_deref() == Some(&mac[..]) {
        Existing::Compatible(link.header.index)
    } else {
        Existing::WrongAddress(link.header.index)
    }
}

/// Reads `/proc/sys/KEY` (e.g. `net/ipv4/conf/all/rp_filter`), trimmed.
pub fn read_sysctl(key: &str) -> io::Result<String> {
    Ok(std::fs::read_to_string(format!("/proc/sys/{key}"))?
        .trim()
        .to_string())
}

/// Writes `value` to `/proc/sys/KEY`.
pub fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/{key}"), value)
}

/// The settings keepalived 2.2.7 gives an IPv4 VMAC interface (observed in
/// `/proc/sys/net/ipv4/conf/vrrp.N/`): it accepts packets from its own addresses (the base
/// interface shares them), answers ARP only for its own addresses, keeps secondary addresses
/// when the primary goes, and does no reverse-path filtering.
pub const VMAC_IPV4_CONF: [(&str, &str); 4] = [
    ("accept_local", "1"),
    ("arp_ignore", "1"),
    ("promote_secondaries", "1"),
    ("rp_filter", "0"),
];

/// The settings keepalived 2.2.7 gives the interface under an IPv4 VMAC, and leaves after it
/// stops (observed): ARP answered only for its own addresses, so the VIPs are answered with
/// the virtual MAC only.
pub const BASE_IPV4_CONF: [(&str, &str); 2] = [("arp_ignore", "1"), ("arp_filter", "1")];

/// The link-local address an IPv6 VMAC carries: its interface's, /64, without DAD and
/// deprecated (preferred lifetime 0), as keepalived 2.2.7 puts it there (observed).
pub fn ipv6_link_local_spec(ifindex: u32, address: Ipv6Addr) -> crate::AddressSpec {
    crate::AddressSpec {
        ifindex,
        address: address.into(),
        prefix_len: 64,
        broadcast: None,
        scope: Some(253),
        label: None,
        dad: false,
        preferred_lft: Some(0),
        peer: None,
        flags: crate::AddressOptions::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3768_7_3_and_rfc5798_7_3_virtual_router_mac() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(default_name(7), "vrrp.7");
    }

    fn link(kind: Option<InfoKind>, mode: MacVlanMode, lower: u32, mac: [u8; 6]) -> LinkMessage {
        let mut message = LinkMessage::default();
        message.header.index = 9;
        let mut infos = Vec::new();
        if let Some(kind) = kind {
            infos.push(LinkInfo::Kind(kind));
            infos.push(LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                mode,
            )])));
        }
        message.attributes.push(LinkAttribute::LinkInfo(infos));
        message.attributes.push(LinkAttribute::Link(lower));
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
        message
    }

    #[test]
    fn an_existing_link_is_reused_updated_or_left_alone() {
        let mac = virtual_mac(51, false);
        let private = MacVlanMode::Private;
        assert_eq!(
            classify(&link(Some(InfoKind::MacVlan), private, 3, mac), 3, mac),
            Existing::Compatible(9)
        );
        assert_eq!(
            classify(
                &link(Some(InfoKind::MacVlan), private, 3, [2, 0, 0, 0, 0, 9]),
                3,
                mac
            ),
            Existing::WrongAddress(9)
        );
        for other in [
            link(Some(InfoKind::MacVlan), MacVlanMode::Bridge, 3, mac),
            link(Some(InfoKind::MacVlan), private, 4, mac),
            link(Some(InfoKind::Veth), private, 3, mac),
            link(None, private, 3, mac),
        ] {
            assert_eq!(classify(&other, 3, mac), Existing::Foreign);
        }
    }
}
