//! Namespace tests: real sockets and netlink in throwaway network namespaces (root only).
//!
//! Each test makes its own namespaces, named with the pid and a counter, joined by veth pairs,
//! and removes them when it ends, also on failure. Code under test runs on a fresh thread that
//! enters a namespace with `setns` (per thread) and then builds a current-thread tokio runtime,
//! as the VRRP driver does. Addresses come only from the documentation ranges.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keepalived_net::vrrp_socket::VRRP_GROUP_V4;
use keepalived_net::vrrp_socket6::{VRRP_GROUP_V6, VrrpSocket6};
use keepalived_net::{AddressManager, AddressOptions, AddressSpec, GarpSender, VrrpSocket, lookup};
use nix::sched::{CloneFlags, setns};
use tokio::time::timeout;

/// An advert as keepalived 2.2.7 sends it (compat.md section 7).
const ADVERT: [u8; 24] = [
    0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xb3, 0x6f, 0x0a, 0x09, 0x09, 0x64, 0x0a, 0x09, 0x09, 0x65,
    0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
];
const MAC_A: &str = "02:00:5e:10:00:0a";
const MAC_B: &str = "02:00:5e:10:00:0b";
const MAC_A_BYTES: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x0a];
const ADDR_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ADDR_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn is_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        true
    } else {
        println!("skipped: needs root");
        false
    }
}

/// A network namespace that exists for the life of the value (`ip netns del` on drop).
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("kanet-{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Move the calling thread into this namespace.
    fn enter(&self) {
        let f = File::open(format!("/var/run/netns/{}", self.name)).expect("open netns");
        setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A child process killed (by its own pid) and reaped on drop.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tcpdump -c 1 -nn -e -v -l` on `dev` in `ns`, killed on drop.
struct Tcpdump(ChildGuard);

impl Tcpdump {
    /// Start it and wait (at most 5 s) until it captures ("listening on" on stderr).
    fn start(ns: &Netns, dev: &str, filter: &str) -> Tcpdump {
        let mut child = ChildGuard(
            Command::new("ip")
                .args(["netns", "exec", &ns.name])
                .args([
                    "tcpdump", "-c", "1", "-nn", "-e", "-v", "-l", "-i", dev, filter,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("tcpdump"),
        );
        let stderr = child.0.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("tcpdump did not start");
        Tcpdump(child)
    }

    /// Call `send` every 100 ms until tcpdump has its packet (at most 5 s); its output.
    fn output_while(mut self, mut send: impl FnMut()) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            send();
            if self.0.0.try_wait().expect("wait").is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "tcpdump saw nothing");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut out = String::new();
        self.0
            .0
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        println!("tcpdump: {out}");
        out
    }
}

/// Run `ip ARGS`, panic with its stderr on failure, return stdout.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `f` on a new thread (which may enter namespaces), re-raising its panic here.
fn on_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match std::thread::spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Two namespaces joined by a veth pair: `va` (192.0.2.1/24) in the first, `vb` (192.0.2.2/24)
/// in the second, both up and running.
fn joined_pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    ip(&[
        "link", "add", "va", "netns", &a.name, "address", MAC_A, "type", "veth", "peer", "name",
        "vb", "netns", &b.name, "address", MAC_B,
    ]);
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
    a.ip(&["link", "set", "va", "up"]);
    b.ip(&["link", "set", "vb", "up"]);
    wait_running(&a, "va");
    wait_running(&b, "vb");
    (a, b)
}

/// One namespace holding both ends of a veth pair, `va` and `vb`, up.
fn lone_pair(tag: &str) -> Netns {
    let a = Netns::new(tag);
    a.ip(&[
        "link", "add", "va", "address", MAC_A, "type", "veth", "peer", "name", "vb",
    ]);
    a.ip(&["link", "set", "va", "up"]);
    a.ip(&["link", "set", "vb", "up"]);
    wait_running(&a, "va");
    a
}

/// Wait (at most 5 s) until `dev` is LOWER_UP with operstate UP: the kernel activates the
/// queueing discipline asynchronously (linkwatch), and drops what is sent before.
fn wait_running(ns: &Netns, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = ns.ip(&["-j", "link", "show", "dev", dev]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link");
        if v[0]["operstate"] == "UP" {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} not running: {out}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn vrrp_advert_crosses_veth_with_ttl_255_and_no_loopback() {
    if !is_root() {
        return;
    }
    let (a, b) = joined_pair("vrrp");
    on_thread(move || {
        a.enter();
        let ia = lookup("va").expect("lookup va");
        assert_eq!(ia.mac, MAC_A_BYTES);
        assert_eq!(ia.ipv4, vec![(ADDR_A, 24)]);
        assert_eq!(ia.primary_ipv4(), Some(ADDR_A));
        assert!(ia.up);
        let rt = runtime();
        rt.block_on(async {
            let sa = VrrpSocket::open(&ia, None, VRRP_GROUP_V4).expect("open a");
            // A second sender in A with a configured source that is not on the interface
            // (mcast_src_ip): IP_HDRINCL lets it through unchanged.
            let src = Ipv4Addr::new(192, 0, 2, 50);
            let sa2 = VrrpSocket::open(&ia, Some(src), VRRP_GROUP_V4).expect("open a2");
            assert_eq!((sa.source(), sa2.source()), (ADDR_A, src));
            b.enter();
            let ib = lookup("vb").expect("lookup vb");
            let sb = VrrpSocket::open(&ib, None, VRRP_GROUP_V4).expect("open b");
            // Unicast only (no group joined): with IP_MULTICAST_ALL 0 it must not get the
            // group traffic that sb's membership lets onto the interface.
            let sb_uni = VrrpSocket::open(&ib, None, Ipv4Addr::UNSPECIFIED).expect("open b uni");
            let mut buf = [0u8; 1500];

            // A -> group: B sees it with TTL 255, A's primary address, 224.0.0.18.
            sa.send(&ADVERT).await.expect("send");
            let r = timeout(Duration::from_secs(2), sb.recv(&mut buf))
                .await
                .expect("B received nothing")
                .expect("recv");
            assert_eq!((r.src, r.dst, r.ttl), (ADDR_A, VRRP_GROUP_V4, 255));
            assert_eq!(&buf[r.payload.clone()], &ADVERT);
            // The IPv4 header as sent: TOS 0xc0, protocol 112.
            assert_eq!((buf[1], buf[9]), (0xc0, 112));

            sa2.send(&ADVERT).await.expect("send a2");
            let r = timeout(Duration::from_secs(2), sb.recv(&mut buf))
                .await
                .expect("B received nothing from a2")
                .expect("recv");
            assert_eq!((r.src, r.dst, r.ttl), (src, VRRP_GROUP_V4, 255));

            assert!(
                timeout(Duration::from_millis(200), sb_uni.recv(&mut buf))
                    .await
                    .is_err(),
                "unjoined socket received group traffic"
            );

            // Neither socket of A sees A's own adverts (IP_MULTICAST_LOOP 0), and sa does not
            // see sa2's.
            let mut own = [0u8; 1500];
            assert!(
                timeout(Duration::from_millis(300), sa.recv(&mut own))
                    .await
                    .is_err(),
                "own advert looped back"
            );

            // B -> A, and unicast A -> B (unicast_peer).
            sb.send(&ADVERT).await.expect("send b");
            let r = timeout(Duration::from_secs(2), sa.recv(&mut buf))
                .await
                .expect("A received nothing")
                .expect("recv");
            assert_eq!((r.src, r.dst, r.ttl), (ADDR_B, VRRP_GROUP_V4, 255));
            // sa2 is a member on the same interface: it gets B's advert too.
            let r = timeout(Duration::from_secs(2), sa2.recv(&mut buf))
                .await
                .expect("A2 received nothing")
                .expect("recv");
            assert_eq!(r.src, ADDR_B);

            sa.send_to(&ADVERT, ADDR_B).await.expect("send_to");
            let r = timeout(Duration::from_secs(2), sb.recv(&mut buf))
                .await
                .expect("B received no unicast")
                .expect("recv");
            assert_eq!((r.src, r.dst, r.ttl), (ADDR_A, ADDR_B, 255));
            assert_eq!(&buf[r.payload], &ADVERT);
            let r = timeout(Duration::from_secs(2), sb_uni.recv(&mut buf))
                .await
                .expect("B (unicast only) received no unicast")
                .expect("recv");
            assert_eq!((r.src, r.dst), (ADDR_A, ADDR_B));
        });
    });
}

#[test]
fn vrrp_advert_on_the_wire_seen_by_tcpdump() {
    if !is_root() {
        return;
    }
    let (a, b) = joined_pair("wire");
    let tcpdump = Tcpdump::start(&b, "vb", "ip proto 112");
    let (_a, rt, sa) = on_thread(move || {
        a.enter();
        let ia = lookup("va").expect("lookup");
        let rt = runtime();
        let sa = rt
            .block_on(async { VrrpSocket::open(&ia, None, VRRP_GROUP_V4) })
            .expect("open");
        (a, rt, sa)
    });
    let out = tcpdump.output_while(|| rt.block_on(sa.send(&ADVERT)).expect("send"));
    // compat.md section 7: Ethernet destination 01:00:5e:00:00:12 from the interface MAC;
    // TOS 0xc0, TTL 255, protocol 112, to 224.0.0.18; the keepalived advert decoded.
    assert!(
        out.contains(&format!("{MAC_A} > 01:00:5e:00:00:12")),
        "{out}"
    );
    assert!(out.contains("tos 0xc0, ttl 255"), "{out}");
    assert!(out.contains("proto VRRP (112)"), "{out}");
    assert!(out.contains("192.0.2.1 > 224.0.0.18"), "{out}");
    assert!(
        out.contains("VRRPv2, Advertisement, vrid 51, prio 150"),
        "{out}"
    );
    assert!(out.contains("addrs(2): 10.9.9.100,10.9.9.101"), "{out}");
    drop(sa);
    drop(rt);
}

#[test]
fn watchers_need_a_runtime() {
    // No root needed: the runtime check comes first. A VRRP socket is not registered with
    // the runtime (keepalived_net::ready_set), so it opens outside one; what watches it
    // does not.
    let e = keepalived_net::ready_set::ReadySet::new().expect_err("outside a runtime");
    assert_eq!(e.kind(), std::io::ErrorKind::Other);
    assert!(AddressManager::new().is_err());
    assert!(keepalived_net::watch().is_err());
}

#[test]
fn garp_seen_by_tcpdump_on_the_peer() {
    if !is_root() {
        return;
    }
    let (a, b) = joined_pair("garp");
    let tcpdump = Tcpdump::start(&b, "vb", "arp");

    let vip = Ipv4Addr::new(192, 0, 2, 100);
    let sender = on_thread(move || {
        a.enter();
        let ia = lookup("va").expect("lookup");
        (a, GarpSender::open(&ia).expect("open garp"))
    });
    let (_a, sender) = sender;
    let out = tcpdump.output_while(|| sender.send(vip).expect("send garp"));
    assert!(
        out.contains(&format!(
            "{MAC_A} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42"
        )),
        "{out}"
    );
    assert!(
        out.contains("Request who-has 192.0.2.100 (ff:ff:ff:ff:ff:ff)"),
        "{out}"
    );
    assert!(out.contains("tell 192.0.2.100"), "{out}");
}

/// The `addr_info` entries of `dev` in `ns`, from `ip -j addr`.
fn addr_info(ns: &Netns, dev: &str) -> Vec<serde_json::Value> {
    let out = ns.ip(&["-j", "addr", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j addr");
    v[0]["addr_info"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(info: &'a [serde_json::Value], local: &str) -> Option<&'a serde_json::Value> {
    info.iter().find(|e| e["local"] == local)
}

#[test]
fn addresses_add_list_remove_idempotent() {
    if !is_root() {
        return;
    }
    let ns = lone_pair("addr");
    let ns = on_thread(move || {
        ns.enter();
        let va = lookup("va").expect("lookup");
        let vip = AddressSpec {
            ifindex: va.index,
            address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
            prefix_len: 32,
            broadcast: None,
            scope: None,
            label: Some("va:vip".into()),
            dad: false,
            preferred_lft: None,
            peer: None,
            flags: AddressOptions::default(),
        };
        let lan = AddressSpec {
            ifindex: va.index,
            address: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)),
            prefix_len: 24,
            broadcast: Some(Ipv4Addr::new(198, 51, 100, 255)),
            scope: None,
            label: Some("va:lan".into()),
            dad: false,
            preferred_lft: None,
            peer: None,
            flags: AddressOptions::default(),
        };
        let host = AddressSpec {
            ifindex: va.index,
            address: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)),
            prefix_len: 32,
            broadcast: None,
            scope: Some(254),
            label: None,
            dad: false,
            preferred_lft: None,
            peer: None,
            flags: AddressOptions::default(),
        };
        runtime().block_on(async {
            let m = AddressManager::new().expect("manager");
            for spec in [&vip, &lan, &host] {
                m.add(spec).await.expect("add");
            }
            let info = addr_info(&ns, "va");
            let e = find(&info, "192.0.2.100").expect("vip in ip -j addr");
            assert_eq!(e["prefixlen"], 32);
            assert_eq!(e["label"], "va:vip");
            assert!(e.get("broadcast").is_none(), "{e}");
            assert_eq!(e["scope"], "global");
            let e = find(&info, "198.51.100.10").expect("lan in ip -j addr");
            assert_eq!(e["prefixlen"], 24);
            assert_eq!(e["broadcast"], "198.51.100.255");
            assert_eq!(e["label"], "va:lan");
            let e = find(&info, "203.0.113.5").expect("host in ip -j addr");
            assert_eq!(e["scope"], "host");

            let listed = m.list(va.index).await.expect("list");
            for (spec, len) in [(&vip, 32), (&lan, 24), (&host, 32)] {
                assert!(listed.contains(&(spec.address, len)), "{listed:?}");
            }
            // Only this interface: vb has no IPv4 address.
            let vb = lookup("vb").expect("lookup vb");
            assert!(
                m.list(vb.index)
                    .await
                    .expect("list vb")
                    .iter()
                    .all(|(a, _)| a.is_ipv6())
            );
            // The interface lookup sees the labelled addresses too. The kernel keeps primary
            // addresses ordered by scope, narrowest first: the host-scope one added last is
            // listed first; the two global ones keep their order.
            let va2 = lookup("va").expect("lookup");
            let expect = vec![
                (Ipv4Addr::new(203, 0, 113, 5), 32),
                (Ipv4Addr::new(192, 0, 2, 100), 32),
                (Ipv4Addr::new(198, 51, 100, 10), 24),
            ];
            assert_eq!(va2.ipv4, expect);
            assert_eq!(va2.primary_ipv4(), Some(Ipv4Addr::new(203, 0, 113, 5)));

            // EEXIST is success.
            m.add(&vip).await.expect("add again");
            m.add(&lan).await.expect("add again");

            for spec in [&vip, &lan, &host] {
                m.remove(spec).await.expect("remove");
            }
            let info = addr_info(&ns, "va");
            assert!(find(&info, "192.0.2.100").is_none(), "{info:?}");
            assert!(find(&info, "198.51.100.10").is_none(), "{info:?}");
            assert!(find(&info, "203.0.113.5").is_none(), "{info:?}");
            // EADDRNOTAVAIL is success.
            m.remove(&vip).await.expect("remove again");
            m.remove(&lan).await.expect("remove again");

            // IPv6 (2001:db8::/32, the documentation range), added without DAD.
            let v6 = AddressSpec {
                ifindex: va.index,
                address: IpAddr::V6("2001:db8::100".parse().expect("v6")),
                prefix_len: 64,
                broadcast: None,
                scope: None,
                label: None,
                dad: false,
                preferred_lft: None,
                peer: None,
                flags: AddressOptions::default(),
            };
            m.add(&v6).await.expect("add v6");
            m.add(&v6).await.expect("add v6 again");
            let info = addr_info(&ns, "va");
            let e = find(&info, "2001:db8::100").expect("v6 in ip -j addr");
            assert_eq!(e["prefixlen"], 64);
            assert_eq!(e["nodad"], true, "{e}");
            assert!(e.get("tentative").is_none(), "{e}");
            assert!(
                m.list(va.index)
                    .await
                    .expect("list")
                    .contains(&(v6.address, 64))
            );
            m.remove(&v6).await.expect("remove v6");
            m.remove(&v6).await.expect("remove v6 again");
            assert!(find(&addr_info(&ns, "va"), "2001:db8::100").is_none());

            // A real failure still fails: no such interface.
            let mut bad = vip.clone();
            bad.ifindex = 999_999;
            assert!(m.add(&bad).await.is_err());
            // brd on an IPv6 address is refused before the kernel.
            let mut v6 = vip.clone();
            v6.address = IpAddr::V6("2001:db8::1".parse().expect("v6"));
            v6.broadcast = Some(Ipv4Addr::BROADCAST);
            assert_eq!(
                m.add(&v6).await.expect_err("brd on v6").kind(),
                std::io::ErrorKind::InvalidInput
            );
        });
        ns
    });
    drop(ns);
}

/// `peer` and the flag words of a VIP line reach the kernel as `ip address add` puts them, and
/// a point-to-point address is removed by its peer too.
#[test]
fn address_peer_and_flags_as_ip_address_add() {
    if !is_root() {
        return;
    }
    let ns = lone_pair("addrpeer");
    let ns = on_thread(move || {
        ns.enter();
        let va = lookup("va").expect("lookup");
        let spec = |address: &str, prefix_len: u8, peer: Option<&str>, flags| AddressSpec {
            ifindex: va.index,
            address: address.parse().expect("address"),
            prefix_len,
            broadcast: None,
            scope: None,
            label: None,
            dad: false,
            preferred_lft: None,
            peer: peer.map(|p| p.parse().expect("peer")),
            flags,
        };
        let p2p = spec(
            "192.0.2.104",
            32,
            Some("192.0.2.105"),
            AddressOptions::default(),
        );
        let quiet = spec(
            "192.0.2.106",
            24,
            None,
            AddressOptions {
                noprefixroute: true,
                ..AddressOptions::default()
            },
        );
        let p2p6 = spec(
            "2001:db8::5",
            128,
            Some("2001:db8::6"),
            AddressOptions::default(),
        );
        let home6 = spec(
            "2001:db8::7",
            64,
            None,
            AddressOptions {
                home: true,
                mngtmpaddr: true,
                ..AddressOptions::default()
            },
        );
        runtime().block_on(async {
            let m = AddressManager::new().expect("manager");
            for a in [&p2p, &quiet, &p2p6, &home6] {
                m.add(a).await.expect("add");
            }
            let info = addr_info(&ns, "va");
            let e = find(&info, "192.0.2.104").expect("p2p in ip -j addr");
            assert_eq!(
                (&e["address"], &e["prefixlen"]),
                (&"192.0.2.105".into(), &32.into()),
                "{e}"
            );
            let e = find(&info, "192.0.2.106").expect("noprefixroute in ip -j addr");
            assert_eq!(e["noprefixroute"], true, "{e}");
            let routes = ns.ip(&["route", "show", "dev", "va"]);
            assert!(!routes.contains("192.0.2.0/24"), "{routes}");
            let e = find(&info, "2001:db8::5").expect("v6 p2p in ip -j addr");
            assert_eq!(e["address"], "2001:db8::6", "{e}");
            let e = find(&info, "2001:db8::7").expect("home in ip -j addr");
            assert_eq!(
                (&e["home"], &e["mngtmpaddr"], &e["nodad"]),
                (&true.into(), &true.into(), &true.into()),
                "{e}"
            );
            for a in [&p2p, &quiet, &p2p6, &home6] {
                m.remove(a).await.expect("remove");
            }
            let info = addr_info(&ns, "va");
            for a in ["192.0.2.104", "192.0.2.106", "2001:db8::5", "2001:db8::7"] {
                assert!(find(&info, a).is_none(), "{a} left: {info:?}");
            }
        });
        ns
    });
    drop(ns);
}

#[test]
fn link_down_gives_event_and_is_up_false() {
    if !is_root() {
        return;
    }
    let ns = lone_pair("link");
    let ns = on_thread(move || {
        ns.enter();
        runtime().block_on(async {
            let mut watch = keepalived_net::watch().expect("watch");
            assert!(keepalived_net::is_up("va").expect("is_up"));
            ns.ip(&["link", "set", "va", "down"]);
            let event = timeout(Duration::from_secs(5), async {
                loop {
                    let ev = watch.recv().await.expect("watch ended");
                    if ev.name == "va" && !ev.up {
                        return ev;
                    }
                }
            })
            .await
            .expect("no down event");
            let va = lookup("va").expect("lookup");
            assert_eq!(event.index, va.index);
            assert!(!keepalived_net::is_up("va").expect("is_up"));
            assert!(!va.up);

            ns.ip(&["link", "set", "va", "up"]);
            timeout(Duration::from_secs(5), async {
                loop {
                    let ev = watch.recv().await.expect("watch ended");
                    if ev.name == "va" && ev.up {
                        return ev;
                    }
                }
            })
            .await
            .expect("no up event");
            assert!(keepalived_net::is_up("va").expect("is_up"));
            assert!(matches!(
                keepalived_net::is_up("nope0").map_err(|e| e.kind()),
                Err(std::io::ErrorKind::NotFound)
            ));
        });
        ns
    });
    drop(ns);
}

#[test]
fn vrrp6_socket_carries_source_destination_and_hop_limit() {
    if !is_root() {
        return;
    }
    let (a, b) = joined_pair("v6");
    // Global addresses without DAD, usable at once (the link-local ones are tentative for a
    // second or more).
    a.ip(&["addr", "add", "2001:db8::1/64", "dev", "va", "nodad"]);
    b.ip(&["addr", "add", "2001:db8::2/64", "dev", "vb", "nodad"]);
    on_thread(move || {
        a.enter();
        let ia = lookup("va").expect("lookup va");
        assert!(
            ia.ipv6.contains(&"2001:db8::1".parse().expect("v6")),
            "{ia:?}"
        );
        let rt = runtime();
        rt.block_on(async {
            let sa = VrrpSocket6::open(&ia, Some(VRRP_GROUP_V6)).expect("open a");
            b.enter();
            let ib = lookup("vb").expect("lookup vb");
            let sb = VrrpSocket6::open(&ib, Some(VRRP_GROUP_V6)).expect("open b");
            let (src, peer): (Ipv6Addr, Ipv6Addr) = (
                "2001:db8::1".parse().expect("v6"),
                "2001:db8::2".parse().expect("v6"),
            );
            let payload = [0x31u8, 7, 100, 1, 0, 100, 0, 0];
            let mut buf = [0u8; 1500];
            // To ff02::12 with hop limit 255, then 1: B sees both as sent (RFC 5798 section
            // 7.1 leaves the check to the engine).
            for hops in [255u8, 1] {
                sa.send_from(&payload, src, VRRP_GROUP_V6, hops)
                    .await
                    .expect("send");
                let r = timeout(Duration::from_secs(2), sb.recv(&mut buf))
                    .await
                    .expect("B received nothing")
                    .expect("recv");
                assert_eq!((r.src, r.dst, r.hop_limit), (src, VRRP_GROUP_V6, hops));
                assert_eq!(&buf[..r.len], &payload);
            }
            // Unicast to B's address.
            sa.send_from(&payload, src, peer, 64).await.expect("send");
            let r = timeout(Duration::from_secs(2), sb.recv(&mut buf))
                .await
                .expect("B received no unicast")
                .expect("recv");
            assert_eq!((r.src, r.dst, r.hop_limit), (src, peer, 64));
            // A never hears its own adverts (IPV6_MULTICAST_LOOP 0).
            assert!(
                timeout(Duration::from_millis(300), sa.recv(&mut buf))
                    .await
                    .is_err(),
                "own advert looped back"
            );
            assert!(
                sa.send_from(&payload, src, Ipv6Addr::UNSPECIFIED, 255)
                    .await
                    .is_err()
            );
        });
    });
}
