//! Adding, removing and listing interface addresses (the VIPs) over rtnetlink.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use rtnetlink::{AddressMessageBuilder, Handle};
use tokio::task::JoinHandle;

/// One address to put on, or take off, an interface: what a `virtual_ipaddress` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpec {
    /// Interface index.
    pub ifindex: u32,
    /// The address itself.
    pub address: IpAddr,
    /// Prefix length (32 for a bare IPv4 VIP).
    pub prefix_len: u8,
    /// `brd`: the broadcast address (IPv4 only). None: no broadcast address, as `ip addr add`
    /// without `brd`.
    pub broadcast: Option<Ipv4Addr>,
    /// `scope`: an `RT_SCOPE_*` value (0 universe, 200 site, 253 link, 254 host, 255 nowhere);
    /// None: universe.
    pub scope: Option<u8>,
    /// `label`: the IPv4 address label, which must start with the interface name (at most 15
    /// bytes, IFNAMSIZ - 1).
    pub label: Option<String>,
    /// IPv6 only: do duplicate address detection (keepalived's `-nodad`); by default an IPv6
    /// VIP is added with `IFA_F_NODAD`, as keepalived 2.2.7 does.
    pub dad: bool,
    /// IPv6 only: the preferred lifetime in seconds (0: deprecated, never picked as a source);
    /// None: forever.
    pub preferred_lft: Option<u32>,
    /// `peer`: the far end of a point-to-point address (IFA_ADDRESS, with the address itself
    /// as IFA_LOCAL), as `ip address add A peer P`.
    pub peer: Option<IpAddr>,
    /// The flag words of `ip address add` a VIP line may carry.
    pub flags: AddressOptions,
}

/// The flag words of `ip address add` that keepalived's address lines take over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressOptions {
    /// `home`: a Mobile IPv6 home address (IFA_F_HOMEADDRESS).
    pub home: bool,
    /// `mngtmpaddr`: make temporary addresses from this one (IFA_F_MANAGETEMPADDR).
    pub mngtmpaddr: bool,
    /// `noprefixroute`: no route for the address's prefix (IFA_F_NOPREFIXROUTE).
    pub noprefixroute: bool,
    /// `autojoin`: join the multicast group the address is (IFA_F_MCAUTOJOIN).
    pub autojoin: bool,
}

impl AddressOptions {
    /// The options named by `words` (other words are not flags and are passed over).
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut options = Self::default();
        for word in words {
            match word {
                "home" => options.home = true,
                "mngtmpaddr" => options.mngtmpaddr = true,
                "noprefixroute" => options.noprefixroute = true,
                "autojoin" => options.autojoin = true,
                _ => {}
            }
        }
        options
    }

    fn kernel_flags(self) -> AddressFlags {
        let mut flags = AddressFlags::empty();
        flags.set(AddressFlags::Homeaddress, self.home);
        flags.set(AddressFlags::Managetempaddr, self.mngtmpaddr);
        flags.set(AddressFlags::Noprefixroute, self.noprefixroute);
        flags.set(AddressFlags::Mcautojoin, self.autojoin);
        flags
    }
}

/// Changes addresses through one rtnetlink socket, whose connection runs as a task on the tokio
/// runtime that created the manager (aborted when the manager is dropped).
#[derive(Debug)]
pub struct AddressManager {
    handle: Handle,
    task: JoinHandle<()>,
}

impl AddressManager {
    /// Open the rtnetlink socket (in the calling thread's network namespace) and spawn its
    /// connection task. Must be called inside a tokio runtime. Changes need CAP_NET_ADMIN.
    pub fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("AddressManager::new outside a tokio runtime: {e}"))
        })?;
        let (connection, handle, _unsolicited) = rtnetlink::new_connection()?;
        let task = runtime.spawn(connection);
        Ok(AddressManager { handle, task })
    }

    /// Add the address (RTM_NEWADDR with NLM_F_CREATE | NLM_F_EXCL). An address that is already
    /// there (EEXIST) counts as success.
    pub async fn add(&self, a: &AddressSpec) -> io::Result<()> {
        let mut request = self
            .handle
            .address()
            .add(a.ifindex, a.address, a.prefix_len);
        let msg = request.message_mut();
        // rtnetlink adds a computed broadcast address below /31 and leaves a multicast IPv4
        // address out: we follow the spec instead.
        set_addresses(msg, a);
        if let Some(brd) = a.broadcast {
            if !a.address.is_ipv4() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a broadcast address needs an IPv4 address",
                ));
            }
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if let Some(scope) = a.scope {
            msg.header.scope = AddressScope::from(scope);
        }
        if let Some(label) = &a.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        let mut flags = a.flags.kernel_flags();
        if a.address.is_ipv6() && !a.dad {
            // As keepalived does for IPv6 VIPs: no duplicate address detection, so the address
            // is usable at once instead of "tentative" for a second or more (RFC 4862 section
            // 5.4); the VRRP election already decides who owns it.
            msg.header.flags |= AddressHeaderFlags::Nodad;
            flags |= AddressFlags::Nodad;
        }
        if a.flags != AddressOptions::default() {
            // The flags above 8 bits travel in IFA_FLAGS, which then replaces the header's.
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        if let Some(preferred) = a.preferred_lft.filter(|_| a.address.is_ipv6()) {
            let mut info = CacheInfo::default();
            info.ifa_preferred = preferred;
            info.ifa_valid = u32::MAX;
            msg.attributes.push(AddressAttribute::CacheInfo(info));
        }
        match request.execute().await.map_err(to_io) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// Remove the address (RTM_DELADDR matching address and prefix length on the interface).
    /// An address that is not there (EADDRNOTAVAIL, or ENOENT) counts as success.
    pub async fn remove(&self, a: &AddressSpec) -> io::Result<()> {
        let mut msg = address_message(a.ifindex, a.address, a.prefix_len);
        // The kernel matches a point-to-point address by its peer too.
        set_addresses(&mut msg, a);
        match self
            .handle
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(to_io)
        {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EADDRNOTAVAIL | nix::libc::ENOENT)
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// The addresses (both families) on interface `ifindex`, with their prefix lengths, in the
    /// kernel's order.
    pub async fn list(&self, ifindex: u32) -> io::Result<Vec<(IpAddr, u8)>> {
        let mut dump = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        let mut out = Vec::new();
        while let Some(msg) = dump.try_next().await.map_err(to_io)? {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
            // point-to-point links (and equal to IFA_LOCAL elsewhere; IPv6 has only IFA_ADDRESS).
            let local = msg.attributes.iter().find_map(|attr| match attr {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let address = msg.attributes.iter().find_map(|attr| match attr {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            if let Some(ip) = local.or(address) {
                out.push((ip, msg.header.prefix_len));
            }
        }
        Ok(out)
    }
}

impl Drop for AddressManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An RTM_NEWADDR/RTM_DELADDR message with IFA_LOCAL and IFA_ADDRESS set to `address`.
fn address_message(ifindex: u32, address: IpAddr, prefix_len: u8) -> AddressMessage {
    match address {
        IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(ifindex)
            .address(v4, prefix_len)
            .build(),
        IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(ifindex)
            .address(v6, prefix_len)
            .build(),
    }
}

/// IFA_LOCAL is the address, IFA_ADDRESS its peer or the address again, as `ip address`
/// sends them; a broadcast only as the spec says.
fn set_addresses(msg: &mut AddressMessage, a: &AddressSpec) {
    msg.attributes.retain(|attr| {
        !matches!(
            attr,
            AddressAttribute::Broadcast(_)
                | AddressAttribute::Address(_)
                | AddressAttribute::Local(_)
                | AddressAttribute::Multicast(_)
        )
    });
    msg.attributes.push(AddressAttribute::Local(a.address));
    msg.attributes
        .push(AddressAttribute::Address(a.peer.unwrap_or(a.address)));
}

/// A netlink error carries the kernel's errno: keep it, so callers can match on it.
pub(crate) fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other),
    }
}
