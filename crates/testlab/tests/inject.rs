//! The injector, `Host::in_netns` and `Lab::isolate` (root only): forged adverts leave a host
//! exactly as built, and an isolated host is cut off while its link stays up.

use std::net::Ipv4Addr;
use std::time::Duration;

use keepalived_testlab::{
    ForgedAdvert, HOST_IF, Injector, Lab, require_programs, require_root, run_ok,
};

fn ready() -> bool {
    require_root() && require_programs(&["ip", "kill", "dumpcap"])
}

#[test]
fn in_netns_runs_in_the_hosts_namespace() {
    if !ready() {
        return;
    }
    let lab = Lab::new("innetns", &["a"]).expect("lab");
    let a = lab.host("a");
    let inside = a
        .in_netns(|| std::fs::read_link("/proc/thread-self/ns/net"))
        .expect("thread")
        .expect("readlink");
    let outside = std::fs::read_link("/proc/thread-self/ns/net").expect("readlink");
    assert_ne!(inside, outside);
    let listed = run_ok(
        "ip",
        &["netns", "identify", &std::process::id().to_string()],
    )
    .expect("ip netns identify");
    assert!(
        !listed.contains(a.netns()),
        "the test thread moved: {listed}"
    );
}

#[test]
fn forged_adverts_go_out_as_built_and_isolation_cuts_them_off() {
    if !ready() {
        return;
    }
    let lab = Lab::new("inject", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let injector = Injector::open(a, HOST_IF).expect("injector");
    let vip = Ipv4Addr::new(192, 0, 2, 100);
    let mut first = ForgedAdvert::v2(a.address(), 9, 254, &[vip]).pass("secret12");
    first.ttl = 64;
    first.checksum = Some(0xbeef);
    let second = ForgedAdvert::v3(a.address(), 10, 0, &[vip]);

    let mut capture = b.capture(HOST_IF).expect("capture on b");
    injector.send(&first).expect("send");
    lab.isolate("a", true).expect("isolate a");
    assert!(
        a.link_is_up(HOST_IF).expect("link"),
        "isolation took a's carrier"
    );
    injector.send(&second).expect("send while isolated");
    lab.isolate("a", false).expect("reconnect a");
    // The bridge forwards again at once (no STP, forward_delay 0).
    injector.send(&second).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    let packets = capture.packets().expect("packets");
    let payloads: Vec<&[u8]> = packets.iter().filter_map(|p| p.vrrp_payload()).collect();
    assert_eq!(payloads, [&first.payload()[..], &second.payload()[..]]);
    let ip = packets
        .iter()
        .find(|p| p.vrrp_payload().is_some())
        .and_then(|p| p.ipv4())
        .expect("the first advert");
    assert_eq!(
        (ip[1], ip[8], &ip[16..20]),
        (0xc0, 64, &[224, 0, 0, 18][..])
    );
}
