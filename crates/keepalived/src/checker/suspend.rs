//! `ha_suspend`: the checks of a virtual server run only while its address is on this host
//! (keepalived 2.2.7's checker follows the kernel's address notifications). A virtual server
//! whose address is missing at start logs `Deactivating healthchecker for service RS for VS
//! VS` for each check instead of `Activating …`; when the address comes its checks resume
//! (`Activating healthchecker …`), when the last of its addresses goes they stop (`Suspending
//! healthchecker …`), the IPVS table left as it was. A fwmark service has no address and, as
//! with 2.2.7, its checks never run.
//!
//! The host's addresses are read with getifaddrs(3) once a second (see [`POLL`]); 2.2.7 hears
//! netlink at once, so a change here is seen up to a second later.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use keepalived_ipvs::ServiceKey;

use super::plan::VsPlan;

/// How often the host's addresses are read while a virtual server uses `ha_suspend`.
pub const POLL: Duration = Duration::from_secs(1);

/// What one virtual server with `ha_suspend` watches.
#[derive(Debug, Clone)]
struct Watched {
    /// Its addresses (a group's every entry; none for a fwmark service).
    addresses: Vec<IpAddr>,
    /// Whether its checks run.
    active: bool,
}

/// The `ha_suspend` state of every virtual server of a load, by its index in the pool.
#[derive(Debug, Clone, Default)]
pub struct Suspension {
    watched: Vec<Option<Watched>>,
    /// The watched addresses on the host at the last look.
    present: HashSet<IpAddr>,
}

/// What a look at the host's addresses found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Watched addresses that came (true) or went, for 2.2.7's `-D` line `Netlink reflector
    /// reports IP ADDR added|removed`.
    pub addresses: Vec<(IpAddr, bool)>,
    /// Virtual servers whose checks start (true) or stop: `(vs, active)`.
    pub servers: Vec<(usize, bool)>,
}

impl Suspension {
    /// The state of `vss` given the host's addresses `present`.
    pub fn new<'a>(vss: impl Iterator<Item = &'a VsPlan>, present: &HashSet<IpAddr>) -> Self {
        let watched = vss
            .map(|vs| {
                vs.ha_suspend.then(|| {
                    let addresses: Vec<IpAddr> = vs
                        .services
                        .iter()
                        .filter_map(|s| match s.key {
                            ServiceKey::Address { addr, .. } => Some(addr),
                            ServiceKey::Fwmark { .. } => None,
                        })
                        .collect();
                    let active = addresses.iter().any(|a| present.contains(a));
                    Watched { addresses, active }
                })
            })
            .collect::<Vec<Option<Watched>>>();
        let present = watched
            .iter()
            .flatten()
            .flat_map(|w| w.addresses.iter())
            .filter(|a| present.contains(a))
            .copied()
            .collect();
        Suspension { watched, present }
    }

    /// Whether any virtual server uses `ha_suspend` (the addresses are then watched).
    pub fn in_use(&self) -> bool {
        self.watched.iter().any(Option::is_some)
    }

    /// Whether virtual server `vs` uses `ha_suspend` (its checks may be stopped and started
    /// while the others go on).
    pub fn watches(&self, vs: usize) -> bool {
        self.watched.get(vs).is_some_and(Option::is_some)
    }

    /// Whether the checks of virtual server `vs` run.
    pub fn active(&self, vs: usize) -> bool {
        self.watched
            .get(vs)
            .and_then(Option::as_ref)
            .is_none_or(|w| w.active)
    }

    /// What changes with the host's addresses now `present`.
    pub fn update(&mut self, present: &HashSet<IpAddr>) -> Changes {
        let mut changes = Changes::default();
        let mut now = HashSet::new();
        for (v, watched) in self.watched.iter_mut().enumerate() {
            let Some(w) = watched else { continue };
            now.extend(w.addresses.iter().filter(|a| present.contains(a)).copied());
            let active = w.addresses.iter().any(|a| present.contains(a));
            if active != w.active {
                w.active = active;
                changes.servers.push((v, active));
            }
        }
        let mut added: Vec<IpAddr> = now.difference(&self.present).copied().collect();
        let mut removed: Vec<IpAddr> = self.present.difference(&now).copied().collect();
        added.sort();
        removed.sort();
        changes
            .addresses
            .extend(added.into_iter().map(|a| (a, true)));
        changes
            .addresses
            .extend(removed.into_iter().map(|a| (a, false)));
        self.present = now;
        changes
    }
}

/// The addresses configured on this host's interfaces now (none if they cannot be read).
pub fn host_addresses() -> HashSet<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return HashSet::new();
    };
    addrs
        .filter_map(|ifa| {
            let addr = ifa.address?;
            if let Some(v4) = addr.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> super::super::plan::Plan {
        let host = keepalived_config::RealHost::default();
        let options = keepalived_config::LoadOptions::for_host(&host);
        let loaded = keepalived_config::load_str(text, std::path::Path::new("t.conf"), &options);
        super::super::plan::Plan::from_config(&loaded.config)
    }

    const CONF: &str = "virtual_server 198.51.100.10 80 {\n ha_suspend\n protocol TCP\n \
        real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n}\n\
        virtual_server 198.51.100.11 80 {\n protocol TCP\n \
        real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n}\n\
        virtual_server fwmark 3 {\n ha_suspend\n \
        real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n}\n";

    #[test]
    fn checks_follow_the_virtual_address() {
        let p = plan(CONF);
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        let vip: IpAddr = "198.51.100.10".parse().expect("address");
        let mut s = Suspension::new(p.virtual_servers.iter(), &HashSet::new());
        assert!(s.in_use());
        assert_eq!(
            (s.active(0), s.active(1), s.active(2)),
            (false, true, false)
        );
        let came = s.update(&HashSet::from([vip]));
        assert_eq!(
            (came.addresses, came.servers),
            (vec![(vip, true)], vec![(0, true)])
        );
        assert_eq!(s.update(&HashSet::from([vip])), Changes::default());
        let went = s.update(&HashSet::new());
        assert_eq!(
            (went.addresses, went.servers),
            (vec![(vip, false)], vec![(0, false)])
        );
        // A fwmark service has no address: never active.
        assert!(!s.active(2));
        let s = Suspension::new(p.virtual_servers.iter(), &HashSet::from([vip]));
        assert!(s.active(0));
    }

    #[test]
    fn the_loopback_address_is_seen() {
        assert!(host_addresses().contains(&IpAddr::from([127, 0, 0, 1])));
    }
}
