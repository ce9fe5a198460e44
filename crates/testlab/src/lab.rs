//! The lab: one bridge namespace and one namespace per host, wired by veth pairs.

use std::fmt;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};
use serde_json::Value;

use crate::capture::Capture;
use crate::process::{COMMAND_TIMEOUT, POLL, Proc, Registry, Signal, run_command, run_ok, signal};

/// Every namespace this crate creates starts with this.
pub const NETNS_PREFIX: &str = "kl-";

/// The name of the bridge inside the bridge namespace.
pub const BRIDGE: &str = "br0";

/// The interface every host has on the lab bridge.
pub const HOST_IF: &str = "eth0";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The documentation networks (RFC 5737) a lab may use; nothing else is ever configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subnet {
    /// 192.0.2.0/24 (TEST-NET-1), the default.
    TestNet1,
    /// 198.51.100.0/24 (TEST-NET-2).
    TestNet2,
    /// 203.0.113.0/24 (TEST-NET-3).
    TestNet3,
}

impl Subnet {
    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        match self {
            Subnet::TestNet1 => Ipv4Addr::new(192, 0, 2, 0),
            Subnet::TestNet2 => Ipv4Addr::new(198, 51, 100, 0),
            Subnet::TestNet3 => Ipv4Addr::new(203, 0, 113, 0),
        }
    }

    /// The prefix length (always 24).
    pub fn prefix_len(self) -> u8 {
        24
    }

    /// The address with last octet `host`, e.g. `TestNet1.addr(100)` = 192.0.2.100.
    pub fn addr(self, host: u8) -> Ipv4Addr {
        let [a, b, c, _] = self.network().octets();
        Ipv4Addr::new(a, b, c, host)
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        ip.octets()[..3] == self.network().octets()[..3]
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix_len())
    }
}

/// A set of network namespaces: `kl-<tag>-<pid>-<n>-br` holds bridge `br0`; each host
/// `kl-<tag>-<pid>-<n>-<host>` has `eth0` (a veth whose peer is a port of `br0`) with address
/// `subnet.addr(10 + i)/24` and the fixed, locally administered MAC `02:00:00:00:00:XX` where XX is
/// that address's last octet in hex (so captures are reproducible). Dropping the lab kills every process it started and every process
/// left inside its namespaces, then deletes the namespaces (also during a panic).
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    subnet: Subnet,
    dir: PathBuf,
    bridge_netns: String,
    hosts: Vec<Host>,
    created: Vec<String>,
    registry: Registry,
}

impl Lab {
    /// Builds a lab on 192.0.2.0/24. `tag` and host names must be short lowercase alphanumerics.
    pub fn new(tag: &str, hosts: &[&str]) -> Result<Lab> {
        Lab::with_subnet(tag, hosts, Subnet::TestNet1)
    }

    /// Builds a lab on the given documentation subnet.
    pub fn with_subnet(tag: &str, hosts: &[&str], subnet: Subnet) -> Result<Lab> {
        check_name("tag", tag)?;
        if hosts.is_empty() || hosts.len() > 200 {
            bail!("a lab needs 1..=200 hosts, got {}", hosts.len());
        }
        for (i, h) in hosts.iter().enumerate() {
            check_name("host name", h)?;
            if *h == "br" {
                bail!("host name `br` is reserved for the bridge namespace");
            }
            if hosts[..i].contains(h) {
                bail!("duplicate host name `{h}`");
            }
        }
        remove_stale_namespaces();
        crate::clean_up_on_interrupt();

        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("{NETNS_PREFIX}{tag}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bridge_netns = format!("{prefix}-br");
        let mut lab = Lab {
            prefix,
            subnet,
            dir,
            bridge_netns: bridge_netns.clone(),
            hosts: Vec::new(),
            created: Vec::new(),
            registry: Registry::default(),
        };

        // From here on, an early return drops `lab`, which removes what was created so far.
        lab.add_netns(&bridge_netns)?;
        let br = bridge_netns.as_str();
        ip(&["-n", br, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            br,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        ip(&["-n", br, "link", "set", BRIDGE, "up"])?;

        for (i, name) in hosts.iter().enumerate() {
            let netns = format!("{}-{name}", lab.prefix);
            lab.add_netns(&netns)?;
            let port = format!("p{i}");
            let octet = u8::try_from(10 + i).context("too many hosts")?;
            let mac = host_mac(octet);
            ip(&[
                "-n", br, "link", "add", &port, "type", "veth", "peer", "name", HOST_IF, "address",
                &mac, "netns", &netns,
            ])?;
            ip(&["-n", br, "link", "set", &port, "master", BRIDGE, "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            ip(&["-n", &netns, "link", "set", HOST_IF, "up"])?;
            let address = subnet.addr(octet);
            let cidr = format!("{address}/{}", subnet.prefix_len());
            ip(&["-n", &netns, "addr", "add", &cidr, "dev", HOST_IF])?;
            let dir = lab.dir.join(name);
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            lab.hosts.push(Host {
                name: (*name).to_string(),
                netns,
                address,
                subnet,
                dir,
                registry: lab.registry.clone(),
            });
        }

        for host in &lab.hosts {
            if !host.wait_for_link_up(HOST_IF, Duration::from_secs(5)) {
                bail!("{} {HOST_IF} did not come up within 5 s", host.netns);
            }
        }
        Ok(lab)
    }

    fn add_netns(&mut self, name: &str) -> Result<()> {
        ip(&["netns", "add", name])?;
        self.created.push(name.to_string());
        Ok(())
    }

    /// The common prefix of this lab's namespace names, `kl-<tag>-<pid>-<n>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The subnet the hosts are on.
    pub fn subnet(&self) -> Subnet {
        self.subnet
    }

    /// The lab's scratch directory (configs, logs, captures); removed on drop unless the
    /// environment variable `KL_KEEP` is set.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The namespace holding the bridge.
    pub fn bridge_netns(&self) -> &str {
        &self.bridge_netns
    }

    /// All hosts, in the order given to [`Lab::new`].
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host called `name`.
    ///
    /// # Panics
    /// If the lab has no such host (a bug in the test).
    pub fn host(&self, name: &str) -> &Host {
        match self.hosts.iter().find(|h| h.name == name) {
            Some(h) => h,
            None => panic!("lab {} has no host `{name}`", self.prefix),
        }
    }

    /// Starts capturing VRRP and ARP frames on the bridge (sees every host's traffic).
    pub fn capture_bridge(&self) -> Result<Capture> {
        self.capture_bridge_filter(Capture::DEFAULT_FILTER)
    }

    /// Starts capturing on the bridge with a pcap capture filter of your own.
    pub fn capture_bridge_filter(&self, filter: &str) -> Result<Capture> {
        Capture::start(
            &self.bridge_netns,
            BRIDGE,
            filter,
            &self.dir.join("bridge"),
            &self.registry,
        )
    }

    /// Disconnects (`up == false`) or reconnects a host's bridge port, like pulling its cable
    /// while its own `eth0` stays administratively up.
    pub fn set_port(&self, host: &str, up: bool) -> Result<()> {
        let i = self
            .hosts
            .iter()
            .position(|h| h.name == host)
            .with_context(|| format!("no host `{host}`"))?;
        let port = format!("p{i}");
        ip(&[
            "-n",
            &self.bridge_netns,
            "link",
            "set",
            &port,
            if up { "up" } else { "down" },
        ])?;
        Ok(())
    }

    /// Detaches (`isolated == true`) a host's port from the bridge, or attaches it again. Unlike
    /// [`Lab::set_port`] the link keeps its carrier, so the host's `eth0` stays UP (keepalived
    /// sees no fault): the host is just cut off, as by a broken switch.
    pub fn isolate(&self, host: &str, isolated: bool) -> Result<()> {
        let i = self
            .hosts
            .iter()
            .position(|h| h.name == host)
            .with_context(|| format!("no host `{host}`"))?;
        let port = format!("p{i}");
        let br = self.bridge_netns.as_str();
        if isolated {
            ip(&["-n", br, "link", "set", &port, "nomaster"])?;
        } else {
            ip(&["-n", br, "link", "set", &port, "master", BRIDGE])?;
            ip(&["-n", br, "link", "set", &port, "up"])?;
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.registry.kill_all();
        for ns in &self.created {
            kill_netns_processes(ns);
        }
        for ns in self.created.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
        if std::env::var_os("KL_KEEP").is_some() {
            eprintln!("testlab: kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// One host of a lab: a namespace with `eth0` on the lab bridge.
#[derive(Debug)]
pub struct Host {
    name: String,
    netns: String,
    address: Ipv4Addr,
    subnet: Subnet,
    dir: PathBuf,
    registry: Registry,
}

impl Host {
    /// The host's short name, as given to [`Lab::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace name, for `ip netns exec` / `ip -n`.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The host's primary address on `eth0`.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The primary address with its prefix, e.g. `"192.0.2.10/24"`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.address, self.subnet.prefix_len())
    }

    /// A scratch directory of this host's own inside the lab directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `cmd args…` inside the namespace and waits (at most [`COMMAND_TIMEOUT`]) for it.
    pub fn run(&self, cmd: &str, args: &[&str]) -> Result<Output> {
        self.run_timeout(cmd, args, COMMAND_TIMEOUT)
    }

    /// Like [`Host::run`] with a timeout of your own; a command still running then is killed and
    /// an error returned.
    pub fn run_timeout(&self, cmd: &str, args: &[&str], timeout: Duration) -> Result<Output> {
        run_command(&mut self.command(cmd, args), timeout)
    }

    /// Starts `cmd args…` inside the namespace with stdio to /dev/null. The process is killed
    /// when the returned handle or the lab is dropped.
    pub fn spawn(&self, cmd: &str, args: &[&str]) -> Result<Proc> {
        let mut command = self.command(cmd, args);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Proc::spawn(command, self.label(cmd, args), &self.registry)
    }

    /// Like [`Host::spawn`] with stdout and stderr appended to `log`.
    pub fn spawn_logged(&self, cmd: &str, args: &[&str], log: &Path) -> Result<Proc> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let file2 = file.try_clone().context("duplicating the log file")?;
        let mut command = self.command(cmd, args);
        command.stdin(Stdio::null()).stdout(file).stderr(file2);
        Proc::spawn(command, self.label(cmd, args), &self.registry)
    }

    fn command(&self, cmd: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns, cmd]).args(args);
        command
    }

    fn label(&self, cmd: &str, args: &[&str]) -> String {
        format!("`{cmd} {}` in {}", args.join(" "), self.netns)
    }

    /// The addresses on `ifname` as `"ADDR/PREFIX"` strings (IPv4 and IPv6), from
    /// `ip -j addr show dev IF`.
    pub fn addresses(&self, ifname: &str) -> Result<Vec<String>> {
        let out = ip(&["-n", &self.netns, "-j", "addr", "show", "dev", ifname])?;
        parse_addresses(&out)
    }

    /// Addresses on every interface of the host.
    pub fn all_addresses(&self) -> Result<Vec<String>> {
        let out = ip(&["-n", &self.netns, "-j", "addr", "show"])?;
        parse_addresses(&out)
    }

    /// Every IPv4 address of the host with its interface, label, scope and broadcast, from
    /// `ip -j -4 addr show`.
    pub fn address_info(&self) -> Result<Vec<AddrInfo>> {
        let out = ip(&["-n", &self.netns, "-j", "-4", "addr", "show"])?;
        parse_address_info(&out)
    }

    /// The IPv4 address `ip` (without prefix) as the kernel has it, if present.
    pub fn find_address(&self, ip: Ipv4Addr) -> Result<Option<AddrInfo>> {
        Ok(self.address_info()?.into_iter().find(|a| a.address == ip))
    }

    /// Runs `f` on a new thread that has entered this host's network namespace (`setns`
    /// affects only that thread), and returns what it returns. Sockets opened inside `f` stay
    /// in the namespace wherever they are used later. `f` must bound its own waits.
    pub fn in_netns<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R> {
        let path = format!("/var/run/netns/{}", self.netns);
        thread::scope(|scope| {
            scope
                .spawn(|| -> Result<R> {
                    let ns = File::open(&path).with_context(|| format!("opening {path}"))?;
                    setns(ns, CloneFlags::CLONE_NEWNET)
                        .with_context(|| format!("entering {}", self.netns))?;
                    Ok(f())
                })
                .join()
                .map_err(|_| anyhow::anyhow!("the thread in {} panicked", self.netns))?
        })
    }

    /// Whether any interface carries `ip` (`"192.0.2.100"`, or `"192.0.2.100/32"` to also
    /// match the prefix length).
    pub fn has_address(&self, ip: &str) -> Result<bool> {
        let all = self.all_addresses()?;
        Ok(all.iter().any(|a| address_matches(a, ip)))
    }

    /// Polls until `ip` is present (or absent, with `present == false`) on the host, for at most
    /// `timeout`. Returns whether that state was reached.
    pub fn wait_for_address(&self, ip: &str, present: bool, timeout: Duration) -> bool {
        poll_until(timeout, || {
            self.has_address(ip).is_ok_and(|has| has == present)
        })
    }

    /// Sets `ifname` administratively up or down.
    pub fn set_link(&self, ifname: &str, up: bool) -> Result<()> {
        ip(&[
            "-n",
            &self.netns,
            "link",
            "set",
            ifname,
            if up { "up" } else { "down" },
        ])?;
        Ok(())
    }

    /// The MAC address of `ifname`, lowercase `aa:bb:…`.
    pub fn mac(&self, ifname: &str) -> Result<String> {
        let link = self.link(ifname)?;
        link.get("address")
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("{ifname} in {} has no MAC address", self.netns))
    }

    /// Whether `ifname` has operstate UP.
    pub fn link_is_up(&self, ifname: &str) -> Result<bool> {
        let link = self.link(ifname)?;
        Ok(link.get("operstate").and_then(Value::as_str) == Some("UP"))
    }

    fn wait_for_link_up(&self, ifname: &str, timeout: Duration) -> bool {
        poll_until(timeout, || self.link_is_up(ifname).unwrap_or(false))
    }

    fn link(&self, ifname: &str) -> Result<Value> {
        let out = ip(&["-n", &self.netns, "-j", "link", "show", "dev", ifname])?;
        let v: Value = serde_json::from_str(&out).context("parsing `ip -j link`")?;
        v.as_array()
            .and_then(|a| a.first())
            .cloned()
            .with_context(|| format!("no link {ifname} in {}", self.netns))
    }

    /// Starts capturing VRRP and ARP frames on `ifname` of this host.
    pub fn capture(&self, ifname: &str) -> Result<Capture> {
        self.capture_filter(ifname, Capture::DEFAULT_FILTER)
    }

    /// Starts capturing on `ifname` with a pcap capture filter of your own.
    pub fn capture_filter(&self, ifname: &str, filter: &str) -> Result<Capture> {
        Capture::start(
            &self.netns,
            ifname,
            filter,
            &self.dir.join(format!("capture-{ifname}")),
            &self.registry,
        )
    }

    /// Sends `sig` to a process of this host by pid (e.g. one read from a pid file).
    pub fn signal(&self, pid: u32, sig: Signal) -> Result<()> {
        signal(pid, sig)
    }
}

/// Polls `cond` every few milliseconds until it holds or `timeout` passes; returns whether it
/// held.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL.max(Duration::from_millis(20)));
    }
}

/// The MAC the lab gives the host whose address ends in `octet`.
pub fn host_mac(octet: u8) -> String {
    format!("02:00:00:00:00:{octet:02x}")
}

fn ip(args: &[&str]) -> Result<String> {
    run_ok("ip", args)
}

fn check_name(what: &str, s: &str) -> Result<()> {
    if s.is_empty()
        || s.len() > 12
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        bail!("{what} `{s}` must be 1-12 lowercase letters or digits");
    }
    Ok(())
}

fn parse_addresses(json: &str) -> Result<Vec<String>> {
    let v: Value = serde_json::from_str(json).context("parsing `ip -j addr`")?;
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        for a in link
            .get("addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(local), Some(len)) = (
                a.get("local").and_then(Value::as_str),
                a.get("prefixlen").and_then(Value::as_u64),
            ) {
                out.push(format!("{local}/{len}"));
            }
        }
    }
    Ok(out)
}

/// One IPv4 address of a host as netlink reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// The interface it is on.
    pub ifname: String,
    /// The address.
    pub address: Ipv4Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The broadcast address, if any.
    pub broadcast: Option<Ipv4Addr>,
    /// The scope as `ip` names it (`global`, `link`, `host`, `site`, or a number).
    pub scope: String,
    /// The label (`eth0:1`); `ip` reports the interface name when none was given.
    pub label: Option<String>,
}

fn parse_address_info(json: &str) -> Result<Vec<AddrInfo>> {
    let v: Value = serde_json::from_str(json).context("parsing `ip -j addr`")?;
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        let ifname = link
            .get("ifname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for a in link
            .get("addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if a.get("family").and_then(Value::as_str) != Some("inet") {
                continue;
            }
            let text = |k: &str| a.get(k).and_then(Value::as_str);
            let (Some(local), Some(len)) =
                (text("local"), a.get("prefixlen").and_then(Value::as_u64))
            else {
                continue;
            };
            out.push(AddrInfo {
                ifname: ifname.to_string(),
                address: local.parse().context("address from `ip -j addr`")?,
                prefix_len: u8::try_from(len).context("prefix length")?,
                broadcast: text("broadcast").map(str::parse).transpose()?,
                scope: text("scope").unwrap_or_default().to_string(),
                label: text("label").map(str::to_string),
            });
        }
    }
    Ok(out)
}

fn address_matches(have: &str, want: &str) -> bool {
    if want.contains('/') {
        have == want
    } else {
        have.split('/').next() == Some(want)
    }
}

/// SIGKILLs every process inside `netns` and waits (bounded) until none is left.
pub(crate) fn kill_netns_processes(netns: &str) {
    let pids = |ns: &str| -> Vec<u32> {
        run_ok("ip", &["netns", "pids", ns])
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let me = std::process::id();
    poll_until(Duration::from_secs(3), || {
        let left: Vec<u32> = pids(netns).into_iter().filter(|p| *p != me).collect();
        for pid in &left {
            let _ = signal(*pid, Signal::Kill);
        }
        left.is_empty()
    });
}

/// Deletes `kl-…` namespaces left behind by test processes that no longer exist (a test binary
/// killed by SIGKILL cannot run its destructors).
pub fn remove_stale_namespaces() {
    remove_namespaces_of(|pid| !Path::new(&format!("/proc/{pid}")).exists());
}

/// Deletes the `kl-<tag>-<pid>-<n>-<host>` namespaces whose pid `owner` selects, after killing
/// every process in them.
pub(crate) fn remove_namespaces_of(owner: impl Fn(u32) -> bool) {
    let Ok(list) = run_ok("ip", &["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        // kl-<tag>-<pid>-<n>-<host>
        let parts: Vec<&str> = rest.split('-').collect();
        let Some(pid) = parts.get(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if parts.len() != 4 || !owner(pid) {
            continue;
        }
        kill_netns_processes(name);
        let _ = run_ok("ip", &["netns", "del", name]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_documentation_ranges() {
        assert_eq!(Subnet::TestNet1.addr(100), Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(Subnet::TestNet2.to_string(), "198.51.100.0/24");
        assert!(Subnet::TestNet3.contains(Ipv4Addr::new(203, 0, 113, 7)));
        assert!(!Subnet::TestNet3.contains(Ipv4Addr::new(203, 0, 114, 7)));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("tag", "vrrp2").is_ok());
        assert!(check_name("tag", "").is_err());
        assert!(check_name("tag", "a-b").is_err());
        assert!(check_name("tag", "Upper").is_err());
        assert!(check_name("tag", "waytoolongname").is_err());
    }

    #[test]
    fn addresses_from_ip_json() {
        let json = r#"[{"ifname":"eth0","addr_info":[
            {"family":"inet","local":"192.0.2.10","prefixlen":24},
            {"family":"inet","local":"192.0.2.100","prefixlen":32},
            {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let a = parse_addresses(json).expect("valid json");
        assert_eq!(a, ["192.0.2.10/24", "192.0.2.100/32", "fe80::1/64"]);
        assert!(address_matches(&a[1], "192.0.2.100"));
        assert!(address_matches(&a[1], "192.0.2.100/32"));
        assert!(!address_matches(&a[0], "192.0.2.100"));
        assert!(!address_matches(&a[1], "192.0.2.10"));
    }

    #[test]
    fn address_info_from_ip_json() {
        let json = r#"[{"ifname":"eth0","addr_info":[
            {"family":"inet","local":"192.0.2.10","prefixlen":24,"broadcast":"192.0.2.255",
             "scope":"global","label":"eth0"},
            {"family":"inet","local":"192.0.2.120","prefixlen":24,"scope":"link",
             "label":"eth0:vip"},
            {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]"#;
        let a = parse_address_info(json).expect("valid json");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(
            (a[1].ifname.as_str(), a[1].prefix_len, a[1].scope.as_str()),
            ("eth0", 24, "link")
        );
        assert_eq!(a[1].label.as_deref(), Some("eth0:vip"));
        assert_eq!(a[1].broadcast, None);
    }
}
