//! The engine's VRRPv3 adverts, decoded by tshark (an implementation of RFC 5798 that is not
//! ours): over IPv6 to ff02::12 and to a unicast peer, and over IPv4 to a unicast peer and to
//! a configured group. Every checksum must be good, which it is only when it covers the
//! pseudo-header of the destination the advert is sent to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use keepalived_testlab::{
    COMMAND_TIMEOUT, internet_checksum, require_programs, run_command, write_pcap,
};
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP_V6, Version};

/// Ethernet + IPv6 (next header 112, hop limit `hops`) around `payload`.
fn ipv6_frame(src: Ipv6Addr, dst: Ipv6Addr, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x33, 0x33, 0, 0, 0, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x86, 0xdd,
    ];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[112, hops]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    f
}

/// Ethernet + IPv4 (TOS 0xc0, TTL 255, protocol 112) around `payload`.
fn ipv4_frame(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x08, 0x00,
    ];
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

fn advert(addresses: Vec<IpAddr>, interval_cs: u16) -> Advertisement {
    Advertisement {
        version: Version::V3,
        vrid: 62,
        priority: 150,
        interval_cs,
        auth: Auth::None,
        addresses,
    }
}

#[test]
fn tshark_finds_our_v3_checksums_good_for_every_destination() {
    if !require_programs(&["tshark"]) {
        return;
    }
    let ll: Ipv6Addr = "fe80::200:5eff:fe00:5301".parse().expect("address");
    let peer6: Ipv6Addr = "2001:db8::2".parse().expect("address");
    let vip6: IpAddr = "2001:db8::100".parse::<Ipv6Addr>().expect("address").into();
    let src4 = Ipv4Addr::new(192, 0, 2, 10);
    let peer4 = Ipv4Addr::new(192, 0, 2, 11);
    let group4 = Ipv4Addr::new(224, 0, 0, 19);
    let vip4: IpAddr = Ipv4Addr::new(192, 0, 2, 100).into();
    let v6 = advert(vec![vip6], 5);
    let v4 = advert(vec![vip4], 100);
    let frames = vec![
        ipv6_frame(
            ll,
            MULTICAST_GROUP_V6,
            255,
            &v6.to_bytes(ll, MULTICAST_GROUP_V6),
        ),
        ipv6_frame(ll, peer6, 64, &v6.to_bytes(ll, peer6)),
        ipv4_frame(src4, peer4, &v4.to_bytes(src4, peer4)),
        ipv4_frame(src4, group4, &v4.to_bytes(src4, group4)),
        // The control: a checksum for 224.0.0.18 sent to a peer is bad.
        ipv4_frame(
            src4,
            peer4,
            &v4.to_bytes(src4, Ipv4Addr::new(224, 0, 0, 18)),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("testlab-tshark-v3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pcap = dir.join("v3.pcap");
    write_pcap(&pcap, &frames).expect("write pcap");
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-E", "separator=/t"]);
    for field in [
        "vrrp.version",
        "vrrp.checksum.status",
        "vrrp.short_adver_int",
        "vrrp.ipv6_addr",
        "vrrp.ip_addr",
        "_ws.malformed",
    ] {
        cmd.args(["-e", field]);
    }
    let out = run_command(&mut cmd, COMMAND_TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.expect("tshark runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .collect();
    assert_eq!(rows.len(), frames.len(), "{text}");
    // Checksum status: 1 good, 0 bad (Wireshark's PROTO_CHECKSUM_E_GOOD / _BAD).
    let summary: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
    assert_eq!(
        summary,
        [
            ("3", "1", "5"),
            ("3", "1", "5"),
            ("3", "1", "100"),
            ("3", "1", "100"),
            ("3", "0", "100"),
        ],
        "{text}"
    );
    assert_eq!(rows[0][3], "2001:db8::100", "{text}");
    assert_eq!(rows[2][4], "192.0.2.100", "{text}");
    assert!(
        rows.iter().all(|r| r.get(5).is_none_or(|m| m.is_empty())),
        "malformed: {text}"
    );
}
