//! `use_vmac` and `vmac_xmit_base` (root only), against keepalived 2.2.7.
//!
//! - an election and a hand-over with a VMAC on both routers, our daemon against our daemon
//!   and against 2.2.7 both ways: the master's adverts carry the virtual router MAC
//!   00:00:5e:00:01:VRID as their Ethernet source (RFC 3768 section 7.3), the VIP is on the
//!   VMAC, and the VMAC goes when the daemon stops;
//! - the same configuration run by 2.2.7 and by ours in two identical labs: the VMAC
//!   interfaces (`ip -d link`: MAC, macvlan mode), every `/proc/sys/net/{ipv4,ipv6}/conf` setting
//!   while running and after the stop, the adverts' source MAC per VRID (`vmac_xmit_base`: the
//!   underlying interface's), the VMAC log lines, a named VMAC taken over from a private
//!   macvlan with a wrong MAC, and a name held by another kind of link falling back to
//!   `vrrp.VRID`.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, daemon_log, for_each_pair, lab_ready, poll_until};
use keepalived_testlab::{Host, Keepalived, Lab, VrrpInstance, adverts};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(10);

fn start(daemon: Daemon, host: &Host, config: &str) -> Keepalived {
    daemon.start(OURS, host, config)
}

/// `(MAC, macvlan mode)` of `ifname` from `ip -d -o link`, None when it does not exist.
fn link_of(host: &Host, ifname: &str) -> Option<(String, String)> {
    let out = host
        .run("ip", &["-d", "-o", "link", "show", "dev", ifname])
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let after = |word: &str| {
        let mut words = text.split_whitespace();
        words.find(|w| *w == word)?;
        words.next().map(str::to_string)
    };
    Some((
        after("link/ether").unwrap_or_default(),
        after("macvlan").and_then(|_| {
            let mut words = text.split_whitespace().skip_while(|w| *w != "macvlan");
            words.nth(2).map(str::to_string)
        })?,
    ))
}

/// Every `/proc/sys/net/{ipv4,ipv6}/conf/IF/KEY` of the host (lo left out): `ipv4/IF` → KEY →
/// value.
fn ipv4_conf(host: &Host) -> BTreeMap<String, BTreeMap<String, String>> {
    let script = "cd /proc/sys/net && for i in ipv4/conf/* ipv6/conf/*; do \
                  case $i in */lo) continue;; esac; \
                  for k in $i/*; do printf '%s %s\\n' \"$k\" \"$(cat $k 2>/dev/null)\"; done; done";
    let out = host.run("sh", &["-c", script]).expect("reading ipv4 conf");
    let mut conf: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((path, value)) = line.split_once(' ') else {
            continue;
        };
        let Some((interface, key)) = path
            .replace("/conf/", "/")
            .rsplit_once('/')
            .map(|(i, k)| (i.to_string(), k.to_string()))
        else {
            continue;
        };
        conf.entry(interface)
            .or_default()
            .insert(key, value.to_string());
    }
    conf
}

/// An election with a VMAC on both routers, a then b, and a hand-over.
fn election(lab: &Lab, x: Daemon, y: Daemon) {
    const VRID: u8 = 61;
    const VIP: &str = "192.0.2.161";
    let (a, b) = (lab.host("a"), lab.host("b"));
    let config = |host: &Host, priority: u8| {
        VrrpInstance::new(VRID, priority, &["192.0.2.161/24"])
            .extra("use_vmac")
            .render(host.name())
    };
    let mut capture = lab.capture_bridge().expect("capture");
    let mut ka = start(x, a, &config(a, 150));
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    assert_eq!(
        a.addresses("vrrp.61").expect("addresses of vrrp.61"),
        vec!["192.0.2.161/24".to_string()],
        "the VIP is on the VMAC"
    );
    assert_eq!(
        link_of(a, "vrrp.61"),
        Some(("00:00:5e:00:01:3d".to_string(), "private".to_string()))
    );
    let mut kb = start(y, b, &config(b, 100));
    assert!(
        poll_until(ELECTION, || link_of(b, "vrrp.61").is_some()),
        "b made no VMAC:\n{}",
        daemon_log(&kb)
    );
    thread::sleep(Duration::from_millis(4500));
    assert!(
        !b.has_address(VIP).expect("addresses of b"),
        "two masters:\n{}",
        daemon_log(&kb)
    );
    let status = ka.stop().expect("SIGTERM stops a");
    assert!(status.success(), "a exited with {status}");
    assert_eq!(link_of(a, "vrrp.61"), None, "a left its VMAC behind");
    assert!(
        b.wait_for_address(VIP, true, Duration::from_secs(5)),
        "b did not take over:\n{}",
        daemon_log(&kb)
    );
    thread::sleep(Duration::from_millis(1500));
    let status = kb.stop().expect("SIGTERM stops b");
    assert!(status.success(), "b exited with {status}");
    assert_eq!(link_of(b, "vrrp.61"), None, "b left its VMAC behind");
    let frames = capture.frames().expect("tshark decodes the capture");
    for host in [a, b] {
        let sent: Vec<_> = adverts(&frames)
            .into_iter()
            .filter(|v| v.src == host.address() && v.vrid == VRID)
            .collect();
        assert!(sent.len() >= 2, "{} sent {sent:#?}", host.name());
        for v in &sent {
            assert_eq!(v.src_mac, "00:00:5e:00:01:3d", "{v:?}");
            assert!(v.checksum_good, "{v:?}");
        }
    }
}

#[test]
fn vmac_elects_and_hands_over_against_keepalived() {
    for_each_pair("vmac", election);
}

/// What one daemon did with the differential configuration.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    links: BTreeMap<&'static str, Option<(String, String)>>,
    ipv6_addresses: Vec<String>,
    running: BTreeMap<String, BTreeMap<String, String>>,
    stopped: BTreeMap<String, BTreeMap<String, String>>,
    source_macs: BTreeMap<u8, BTreeSet<String>>,
    log: Vec<String>,
}

const VMACS: [&str; 5] = ["vrrp.61", "vmx62", "vmx63", "vrrp.64", "vrrp.65"];

fn observe(daemon: Daemon, tag: &str) -> Observed {
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let a = lab.host("a");
    let sh = |script: &str| {
        let out = a.run("sh", &["-c", script]).expect("shell");
        assert!(out.status.success(), "{script}: {out:?}");
    };
    // all.rp_filter 2 (loose), a private macvlan vmx63 with a wrong MAC, a veth named vmx64.
    sh("sysctl -q -w net.ipv4.conf.all.rp_filter=2 && \
        ip link add vmx63 link eth0 type macvlan mode private && \
        ip link set vmx63 address 02:00:00:00:00:63 && \
        ip link add vmx64 type veth peer name vmx64p");
    let instances = [
        VrrpInstance::new(61, 150, &["192.0.2.161/24"])
            .named("VI_1")
            .extra("use_vmac"),
        VrrpInstance::new(62, 150, &["192.0.2.162/24"])
            .named("VI_2")
            .extra("use_vmac vmx62")
            .extra("vmac_xmit_base"),
        VrrpInstance::new(63, 150, &["192.0.2.163/24"])
            .named("VI_3")
            .extra("use_vmac vmx63"),
        VrrpInstance::new(64, 150, &["192.0.2.164/24"])
            .named("VI_4")
            .extra("use_vmac vmx64"),
        VrrpInstance::new(65, 150, &["2001:db8::65/64"])
            .named("VI_5")
            .extra("use_vmac"),
    ];
    let config = keepalived_testlab::render_config("a", &instances);
    let mut capture = lab.capture_bridge().expect("capture");
    let mut k = start(daemon, a, &config);
    for vip in [
        "192.0.2.161",
        "192.0.2.162",
        "192.0.2.163",
        "192.0.2.164",
        "2001:db8::65",
    ] {
        assert!(
            a.wait_for_address(vip, true, ELECTION),
            "{daemon:?}: no {vip}:\n{}",
            daemon_log(&k)
        );
    }
    thread::sleep(Duration::from_millis(1500));
    let links = VMACS.iter().map(|n| (*n, link_of(a, n))).collect();
    // The IPv6 VMAC's addresses with their flags (the link-local one: nodad, deprecated).
    let out = a
        .run("ip", &["-6", "-o", "addr", "show", "dev", "vrrp.65"])
        .expect("ip addr");
    let ipv6_addresses: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
        .collect();
    let running = ipv4_conf(a);
    let status = k.stop().expect("SIGTERM");
    assert!(status.success(), "{daemon:?} exited with {status}");
    let stopped = ipv4_conf(a);
    let frames = capture.frames().expect("tshark decodes the capture");
    let mut source_macs: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    for v in adverts(&frames) {
        let mac = if v.src_mac.starts_with("00:00:5e") {
            v.src_mac.clone()
        } else {
            "eth0".to_string()
        };
        source_macs.entry(v.vrid).or_default().insert(mac);
    }
    let log = daemon_log(&k)
        .lines()
        .filter(|l| l.contains("VMAC") || l.contains("vmac"))
        .filter_map(|l| l.find("(VI_").map(|at| l[at..].trim_end().to_string()))
        .collect();
    Observed {
        links,
        ipv6_addresses,
        running,
        stopped,
        source_macs,
        log,
    }
}

#[test]
fn vmac_interfaces_and_settings_match_keepalived() {
    if !lab_ready() {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| observe(Daemon::Real, "vmacr"));
        let ours = s.spawn(|| observe(Daemon::Ours, "vmaco"));
        (
            real.join().expect("keepalived's run"),
            ours.join().expect("our run"),
        )
    });
    // keepalived 2.2.7 notes the refused name while reading the file, ours when it makes the
    // VMAC: the same lines, in another order.
    let sorted = |lines: &[String]| lines.iter().cloned().collect::<BTreeSet<String>>();
    assert_eq!(ours.links, real.links, "VMAC interfaces");
    assert_eq!(
        ours.ipv6_addresses, real.ipv6_addresses,
        "the IPv6 VMAC's addresses"
    );
    assert_eq!(
        conf_differences(&ours.running, &real.running),
        Vec::<String>::new(),
        "ipv4 and ipv6 conf while running (ours, keepalived's)"
    );
    assert_eq!(
        ours.stopped, real.stopped,
        "ipv4 and ipv6 conf after the stop"
    );
    assert_eq!(ours.source_macs, real.source_macs, "source MACs per VRID");
    assert_eq!(sorted(&ours.log), sorted(&real.log), "VMAC log lines");
    // What 2.2.7 does, so that a change on both sides is noticed.
    assert_eq!(
        real.links.get("vmx63").cloned().flatten(),
        Some(("00:00:5e:00:01:3f".to_string(), "private".to_string()))
    );
    assert_eq!(
        real.links.get("vrrp.65").cloned().flatten(),
        Some(("00:00:5e:00:02:41".to_string(), "private".to_string()))
    );
    assert!(
        real.ipv6_addresses.iter().any(|a| a.contains("inet6 fe80")),
        "{:?}",
        real.ipv6_addresses
    );
    assert_eq!(real.source_macs.get(&62).map(|s| s.len()), Some(1));
    let value = |conf: &BTreeMap<String, BTreeMap<String, String>>, i: &str, k: &str| {
        conf.get(i)
            .and_then(|c| c.get(k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(value(&real.running, "ipv4/vrrp.61", "accept_local"), "1");
    assert_eq!(value(&real.running, "ipv4/all", "rp_filter"), "0");
    assert_eq!(value(&real.stopped, "ipv4/all", "rp_filter"), "2");
    assert_eq!(value(&real.running, "ipv6/vrrp.61", "disable_ipv6"), "1");
}

/// The VMACs of addresses, their names and the periodic announcements.
const ADDRESS_VMACS: &str = "global_defs {
  vmac_prefix vx
  vmac_addr_prefix va
  vrrp_garp_extra_if 2
  vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 71
  priority 150
  advert_int 1
  use_vmac
  use_vmac_addr
  virtual_ipaddress {
    192.0.2.171/24
    198.51.100.171/24 dev eth1
    203.0.113.171/24 dev eth1 use_vmac
  }
  virtual_ipaddress_excluded {
    2001:db8::171/64
  }
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 72
  priority 150
  advert_int 1
  garp_extra_if all 2
  virtual_ipaddress {
    198.51.100.172/24
    192.0.2.172/24 dev eth0 use_vmac
    192.0.2.173/24 dev eth0
  }
  virtual_ipaddress_excluded {
    2001:db8::172/64 dev eth0 use_vmac
  }
}
vrrp_instance VI_4 {
  interface eth0
  virtual_router_id 74
  priority 150
  advert_int 1
  use_vmac vm74 02:11:22:33:44
  virtual_ipaddress {
    192.0.2.175/24
  }
}
vrrp_instance VI_5 {
  interface eth0
  virtual_router_id 75
  priority 150
  advert_int 1
  use_vmac 02:11:22:33:44:55
  virtual_ipaddress {
    192.0.2.176/24
  }
}
vrrp_instance VI_3 {
  interface eth0
  virtual_router_id 73
  priority 150
  advert_int 1
  use_vmac
  virtual_ipaddress {
    192.0.2.174/24
    198.51.100.174/24 dev eth1 use_vmac
  }
  virtual_ipaddress_excluded {
    2001:db8::174/64 dev eth1 use_vmac
    2001:db8::175/64 use_vmac
  }
}
";

/// What one daemon did with [`ADDRESS_VMACS`], then with VI_3 taken out by a reload.
#[derive(Debug, PartialEq, Eq)]
struct AddressVmacs {
    /// VMAC name → (MAC, underlying interface, addresses), while running.
    links: BTreeMap<String, (String, String, Vec<String>)>,
    /// Every ipv4 and ipv6 conf setting while running.
    running: BTreeMap<String, BTreeMap<String, String>>,
    /// The VMACs left after the reload.
    after_reload: BTreeSet<String>,
    /// The VMACs left after the stop.
    after_stop: BTreeSet<String>,
    /// Gratuitous ARPs after the first burst: (Ethernet source, or `eth0` / `eth1` for the
    /// interfaces' own MACs; address).
    periodic: BTreeSet<(String, String)>,
    /// The VMAC log lines.
    log: BTreeSet<String>,
}

/// `ip -br link` / `ip -br addr` of the VMACs (every `NAME@BASE` link but the veth pair).
fn vmac_links(host: &Host) -> BTreeMap<String, (String, String, Vec<String>)> {
    let text = |args: &[&str]| {
        let out = host.run("ip", args).expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut links = BTreeMap::new();
    for line in text(&["-br", "link"]).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((name, base)) = words.first().and_then(|w| w.split_once('@')) else {
            continue;
        };
        if !name.starts_with('v') {
            continue;
        }
        let mac = words.get(2).map(|s| s.to_string()).unwrap_or_default();
        links.insert(name.to_string(), (mac, base.to_string(), Vec::new()));
    }
    for line in text(&["-br", "addr"]).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((name, _)) = words.first().and_then(|w| w.split_once('@')) else {
            continue;
        };
        if let Some(link) = links.get_mut(name) {
            link.2 = words.iter().skip(2).map(|s| s.to_string()).collect();
        }
    }
    links
}

fn observe_address_vmacs(daemon: Daemon, tag: &str) -> AddressVmacs {
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let a = lab.host("a");
    let out = a
        .run(
            "sh",
            &[
                "-c",
                "ip link add eth1 address 02:00:00:00:01:01 type veth peer name eth1p && \
                 ip link set eth1 up && \
                 ip link set eth1p up && ip addr add 198.51.100.1/24 dev eth1",
            ],
        )
        .expect("shell");
    assert!(out.status.success(), "{out:?}");
    // The IPv6 VMACs on eth1 carry its link-local address: wait for the kernel to give it one.
    assert!(
        poll_until(Duration::from_secs(5), || a
            .run("ip", &["-6", "-o", "addr", "show", "dev", "eth1"])
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("fe80"))),
        "eth1 got no link-local address"
    );
    let mac = |ifname: &str| a.mac(ifname).expect("mac").to_lowercase();
    let (eth0, eth1) = (mac("eth0"), mac("eth1"));
    let mut on_bridge = lab.capture_bridge().expect("capture");
    let mut on_eth1 = a.capture("eth1p").expect("capture on eth1p");
    let mut k = start(daemon, a, ADDRESS_VMACS);
    for vip in [
        "192.0.2.171",
        "198.51.100.172",
        "192.0.2.174",
        "192.0.2.175",
        "192.0.2.176",
    ] {
        assert!(
            a.wait_for_address(vip, true, ELECTION),
            "{daemon:?}: no {vip}:\n{}",
            daemon_log(&k)
        );
    }
    // Three periods of the extra announcements.
    thread::sleep(Duration::from_millis(6500));
    let links = vmac_links(a);
    let running = ipv4_conf(a);
    // The announcements before the reload (2.2.7 announces again after one).
    let reload_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let reloaded = ADDRESS_VMACS
        .split("vrrp_instance VI_3")
        .next()
        .unwrap_or_default();
    k.write_config(reloaded).expect("new configuration");
    k.reload().expect("SIGHUP");
    assert!(
        poll_until(ELECTION, || !vmac_links(a).contains_key("vx.73")),
        "{daemon:?}: VI_3's VMAC stayed after the reload:\n{}",
        daemon_log(&k)
    );
    // The VMACs of VI_3's addresses go too (a moment later with 2.2.7).
    poll_until(Duration::from_secs(5), || {
        vmac_links(a).keys().all(|name| !name.ends_with(".73"))
    });
    let after_reload = vmac_links(a).into_keys().collect();
    let status = k.stop().expect("SIGTERM");
    assert!(status.success(), "{daemon:?} exited with {status}");
    let after_stop = vmac_links(a).into_keys().collect();
    let mut periodic = BTreeSet::new();
    for (capture, name) in [(&mut on_bridge, "bridge"), (&mut on_eth1, "eth1p")] {
        let frames = capture.frames().expect("tshark decodes the capture");
        let garps = keepalived_testlab::garps(&frames);
        let Some(first) = garps.first().map(|g| g.time) else {
            panic!("{daemon:?}: no gratuitous ARP on {name}");
        };
        for g in garps
            .iter()
            .filter(|g| g.time > first + 1.0 && g.time < reload_at)
        {
            let src = if g.eth_src == eth0 {
                "eth0".to_string()
            } else if g.eth_src == eth1 {
                "eth1".to_string()
            } else {
                g.eth_src.clone()
            };
            periodic.insert((src, g.sender_ip.to_string()));
        }
    }
    let log = daemon_log(&k)
        .lines()
        .filter(|l| l.contains("VMAC") || l.contains("vmac"))
        .filter_map(|l| l.find("(VI_").map(|at| l[at..].trim_end().to_string()))
        .collect();
    AddressVmacs {
        links,
        running,
        after_reload,
        after_stop,
        periodic,
        log,
    }
}

/// `IF KEY: OURS / THEIRS` for each setting that differs.
fn conf_differences(
    ours: &BTreeMap<String, BTreeMap<String, String>>,
    real: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<String> {
    let empty = BTreeMap::new();
    let interfaces: BTreeSet<&String> = ours.keys().chain(real.keys()).collect();
    let mut out = Vec::new();
    for interface in interfaces {
        let (o, r) = (
            ours.get(interface).unwrap_or(&empty),
            real.get(interface).unwrap_or(&empty),
        );
        for key in o.keys().chain(r.keys()).collect::<BTreeSet<_>>() {
            if o.get(key) != r.get(key) {
                out.push(format!(
                    "{interface} {key}: {:?} / {:?}",
                    o.get(key),
                    r.get(key)
                ));
            }
        }
    }
    out
}

#[test]
fn address_vmacs_prefixes_and_extra_garps_match_keepalived() {
    if !lab_ready() {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| observe_address_vmacs(Daemon::Real, "vmaar"));
        let ours = s.spawn(|| observe_address_vmacs(Daemon::Ours, "vmaao"));
        (
            real.join().expect("keepalived's run"),
            ours.join().expect("our run"),
        )
    });
    assert_eq!(ours.links, real.links, "VMACs of addresses");
    assert_eq!(
        conf_differences(&ours.running, &real.running),
        Vec::<String>::new(),
        "ipv4 and ipv6 conf while running (ours, keepalived's)"
    );
    // 2.2.7 leaves the IPv6 VMACs of the removed instance's addresses (va1.73, va6.73) in
    // place here, though it removes them when no kept instance has IPv6 VMACs of
    // addresses (observed by hand); ours removes every VMAC no instance plans any more.
    let without_73 = |names: &BTreeSet<String>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| !n.ends_with(".73"))
            .cloned()
            .collect()
    };
    assert_eq!(
        ours.after_reload,
        without_73(&real.after_reload),
        "VMACs after the reload"
    );
    assert!(
        !real.after_reload.contains("vx.73") && !real.after_reload.contains("va.73"),
        "{:?}",
        real.after_reload
    );
    // ... and 2.2.7 leaves them behind after its stop too: ours leaves nothing.
    assert_eq!(ours.after_stop, BTreeSet::new(), "VMACs after the stop");
    assert_eq!(
        without_73(&real.after_stop),
        BTreeSet::new(),
        "{:?}",
        real.after_stop
    );
    assert_eq!(ours.periodic, real.periodic, "periodic gratuitous ARPs");
    // 2.2.7 names no instance for a VMAC of an address a reload removes (`((null))`).
    let known = |log: &BTreeSet<String>| -> BTreeSet<String> {
        log.iter()
            .filter(|l| !l.contains("removing VMAC interface va"))
            .cloned()
            .collect()
    };
    assert_eq!(known(&ours.log), known(&real.log), "VMAC log lines");
    // What 2.2.7 does, so that a change on both sides is noticed.
    let names: Vec<&str> = real.links.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "va.71", "va.72", "va.73", "va1.73", "va6.71", "va6.72", "va6.73", "vm74", "vx.71",
            "vx.73", "vx.75"
        ]
    );
    // `use_vmac NAME MAC`: five octets and the VRID, or six.
    assert_eq!(
        real.links.get("vm74").map(|l| l.0.as_str()),
        Some("02:11:22:33:44:4a")
    );
    assert_eq!(
        real.links.get("vx.75").map(|l| l.0.as_str()),
        Some("02:11:22:33:44:55")
    );
    assert!(
        real.periodic
            .contains(&("00:00:5e:00:01:48".to_string(), "192.0.2.172".to_string())),
        "{:?}",
        real.periodic
    );
    assert!(
        real.periodic
            .contains(&("eth0".to_string(), "192.0.2.173".to_string())),
        "{:?}",
        real.periodic
    );
}

/// A VMAC instance's adverts as its underlying interface's address comes and goes: the
/// sources in order (repeats folded) and whether it entered FAULT.
fn follow_base_address(daemon: Daemon, tag: &str) -> (Vec<String>, bool) {
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let a = lab.host("a");
    let config = VrrpInstance::new(81, 150, &["192.0.2.181/24"])
        .named("VI_1")
        .extra("use_vmac")
        .render(a.name());
    let mut capture = lab.capture_bridge().expect("capture");
    let mut k = start(daemon, a, &config);
    assert!(
        a.wait_for_address("192.0.2.181", true, ELECTION),
        "{daemon:?}: not master:\n{}",
        daemon_log(&k)
    );
    thread::sleep(Duration::from_millis(1500));
    let ip = |args: &[&str]| {
        let out = a.run("ip", args).expect("ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    // The only address of eth0 goes: the VIP goes with the instance's FAULT.
    ip(&["addr", "del", &a.cidr(), "dev", "eth0"]);
    assert!(
        a.wait_for_address("192.0.2.181", false, ELECTION),
        "{daemon:?}: still master without an address:\n{}",
        daemon_log(&k)
    );
    thread::sleep(Duration::from_millis(1500));
    let other = format!("{}/{}", lab.subnet().addr(77), lab.subnet().prefix_len());
    ip(&["addr", "add", &other, "dev", "eth0"]);
    assert!(
        a.wait_for_address("192.0.2.181", true, ELECTION),
        "{daemon:?}: not master again:\n{}",
        daemon_log(&k)
    );
    thread::sleep(Duration::from_millis(1500));
    let status = k.stop().expect("SIGTERM");
    assert!(status.success(), "{daemon:?} exited with {status}");
    let frames = capture.frames().expect("tshark decodes the capture");
    let mut sources: Vec<String> = Vec::new();
    for v in adverts(&frames).into_iter().filter(|v| v.vrid == 81) {
        let src = v.src.to_string();
        if sources.last() != Some(&src) {
            sources.push(src);
        }
    }
    let fault = daemon_log(&k).contains("(VI_1) Entering FAULT STATE");
    (sources, fault)
}

#[test]
fn vmac_instance_follows_its_base_address_as_keepalived_does() {
    if !lab_ready() {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| follow_base_address(Daemon::Real, "vmafr"));
        let ours = s.spawn(|| follow_base_address(Daemon::Ours, "vmafo"));
        (
            real.join().expect("keepalived's run"),
            ours.join().expect("our run"),
        )
    });
    assert_eq!(ours, real, "advert sources, FAULT");
    // What 2.2.7 does: the old source to the end (its priority-0 advert too), then the new.
    assert_eq!(real.0.len(), 2, "{:?}", real.0);
    assert!(real.1);
}

/// The source MACs of the IGMP frames (IPv4 protocol 2) `daemon` sends while it starts an
/// instance with `use_vmac` and becomes master, seen on the bridge; and host a's own MAC.
fn igmp_sources(daemon: Daemon, tag: &str) -> (Vec<String>, String) {
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let a = lab.host("a");
    let mut capture = lab.capture_bridge_filter("igmp").expect("capture");
    let config = VrrpInstance::new(71, 100, &["192.0.2.171/24"])
        .extra("use_vmac")
        .render("a");
    let mut k = start(daemon, a, &config);
    assert!(
        a.wait_for_address("192.0.2.171", true, ELECTION),
        "{daemon:?} did not become master:\n{}",
        daemon_log(&k)
    );
    // IGMPv3 repeats an unsolicited report about a second after the first.
    thread::sleep(Duration::from_secs(2));
    let packets = capture.packets().expect("capture");
    let _ = k.stop();
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let sources = packets
        .iter()
        .filter(|p| p.ipv4().is_some_and(|ip| ip.get(9) == Some(&2)))
        .filter_map(|p| p.data.get(6..12).map(mac))
        .collect();
    (sources, a.mac("eth0").expect("eth0's MAC"))
}

/// keepalived 2.2.7 sends the IGMP reports of a VMAC (joining 224.0.0.18) from the interface
/// under it, with that interface's MAC, not from 00:00:5e:00:01:VRID (its `vmac_map` rule
/// re-sends them there; observed), and so does ours. (An IPv6 VMAC instance: neither sent an
/// MLD report in the same scenario, observed.)
#[test]
fn vmac_igmp_reports_leave_with_the_base_mac_as_keepalived() {
    if !lab_ready() {
        return;
    }
    let (real, ours) = thread::scope(|s| {
        let real = s.spawn(|| igmp_sources(Daemon::Real, "igr"));
        let ours = s.spawn(|| igmp_sources(Daemon::Ours, "igo"));
        (real.join(), ours.join())
    });
    for (daemon, result) in [(Daemon::Real, real), (Daemon::Ours, ours)] {
        let (sources, base) = match result {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        assert!(!sources.is_empty(), "{daemon:?}: no IGMP report seen");
        assert!(
            sources.iter().all(|m| *m == base),
            "{daemon:?}: IGMP reports from {sources:?}, eth0 is {base}"
        );
    }
}
