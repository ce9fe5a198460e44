//! The packet fixtures in fixtures/packets/: well-formed, good checksums (by our own sum and by
//! tshark), and (as root) reproducible byte for byte from a fresh run of keepalived 2.2.7.

use std::net::Ipv4Addr;
use std::thread;

use keepalived_testlab::fixtures::{self, record_master};
use keepalived_testlab::{
    LAB_PROGRAMS, decode, frame_for_payload, internet_checksum, require_programs, require_root,
    write_pcap,
};

const MCAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn load(name: &str) -> Vec<u8> {
    fixtures::load(name).expect("fixture file")
}

/// VRRPv3 over IPv4 sums an IPv4 pseudo-header (src, dst, 0, 112, length) with the message.
fn v3_checksum_ok(src: Ipv4Addr, msg: &[u8]) -> bool {
    let len = u16::try_from(msg.len()).expect("short message");
    let mut buf = Vec::new();
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&MCAST.octets());
    buf.extend_from_slice(&[0, 112]);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(msg);
    internet_checksum(&buf) == 0
}

fn ip(last: u8) -> [u8; 4] {
    [192, 0, 2, last]
}

#[test]
fn v2_pass_two_vips() {
    let m = load(fixtures::PASS_2VIPS);
    assert_eq!(m.len(), 8 + 2 * 4 + 8);
    assert_eq!(&m[..6], &[0x21, 51, 150, 2, 1, 1]);
    assert_eq!(&m[8..12], &ip(100));
    assert_eq!(&m[12..16], &ip(101));
    assert_eq!(&m[16..], b"secret12");
    assert_eq!(internet_checksum(&m), 0);
}

#[test]
fn v2_no_auth_interval_3() {
    let m = load(fixtures::NOAUTH_INT3);
    assert_eq!(m.len(), 8 + 4 + 8);
    assert_eq!(&m[..6], &[0x21, 52, 100, 1, 0, 3]);
    assert_eq!(&m[8..12], &ip(102));
    assert_eq!(
        &m[12..],
        &[0; 8],
        "auth data is present and zero without authentication"
    );
    assert_eq!(internet_checksum(&m), 0);
}

#[test]
fn v2_priority_zero_on_shutdown() {
    let m = load(fixtures::SHUTDOWN);
    let steady = load(fixtures::PASS_2VIPS);
    assert_eq!(m[2], 0);
    assert_eq!(internet_checksum(&m), 0);
    // Same message as the steady-state advert but for the priority and checksum.
    assert_eq!(&m[..2], &steady[..2]);
    assert_eq!(&m[3..6], &steady[3..6]);
    assert_eq!(&m[8..], &steady[8..]);
}

#[test]
fn v3_advert() {
    let m = load(fixtures::V3);
    assert_eq!(m.len(), 8 + 4);
    assert_eq!(&m[..4], &[0x31, 53, 150, 1]);
    assert_eq!(
        u16::from_be_bytes([m[4], m[5]]) & 0x0fff,
        100,
        "100 centiseconds"
    );
    assert_eq!(&m[8..12], &ip(103));
    assert!(v3_checksum_ok(fixtures::SRC, &m));
    assert_ne!(internet_checksum(&m), 0, "a v3 checksum is not the v2 one");
}

#[test]
fn full_frame_headers() {
    let f = load(fixtures::PASS_2VIPS_FRAME);
    assert_eq!(
        &f[..6],
        &[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12],
        "multicast MAC for 224.0.0.18"
    );
    assert_eq!(
        &f[6..12],
        &[0x02, 0, 0, 0, 0, 0x0a],
        "the lab's MAC for 192.0.2.10"
    );
    assert_eq!(&f[12..14], &[0x08, 0x00]);
    let ip_hdr = &f[14..34];
    assert_eq!(ip_hdr[0], 0x45);
    assert_eq!(ip_hdr[1], 0xc0, "TOS");
    assert_eq!(
        usize::from(u16::from_be_bytes([ip_hdr[2], ip_hdr[3]])),
        f.len() - 14
    );
    assert_eq!(ip_hdr[8], 255, "TTL");
    assert_eq!(ip_hdr[9], 112, "protocol");
    assert_eq!(&ip_hdr[12..16], &fixtures::SRC.octets());
    assert_eq!(&ip_hdr[16..20], &MCAST.octets());
    assert_eq!(internet_checksum(ip_hdr), 0, "IPv4 header checksum");
    assert_eq!(&f[34..], &load(fixtures::PASS_2VIPS)[..]);
}

#[test]
fn tshark_finds_every_checksum_good() {
    if !require_programs(&["tshark"]) {
        return;
    }
    let names = [
        fixtures::PASS_2VIPS,
        fixtures::NOAUTH_INT3,
        fixtures::SHUTDOWN,
        fixtures::V3,
    ];
    let mut frames: Vec<Vec<u8>> = names
        .iter()
        .map(|n| frame_for_payload(fixtures::SRC, &load(n)).expect("frame"))
        .collect();
    frames.push(load(fixtures::PASS_2VIPS_FRAME));
    let dir = std::env::temp_dir().join(format!("testlab-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pcap = dir.join("fixtures.pcap");
    write_pcap(&pcap, &frames).expect("write pcap");
    let decoded = decode(&pcap);
    let _ = std::fs::remove_dir_all(&dir);
    let decoded = decoded.expect("tshark");
    assert_eq!(decoded.len(), frames.len());
    let ads: Vec<_> = decoded
        .iter()
        .map(|f| f.as_advert().expect("an advert"))
        .collect();
    for a in &ads {
        assert!(a.checksum_good, "{a:?}");
        assert_eq!((a.ttl, a.tos, a.dst), (255, 0xc0, MCAST));
    }
    let summary: Vec<_> = ads
        .iter()
        .map(|a| {
            (
                a.version,
                a.vrid,
                a.priority,
                a.auth_type,
                a.adver_int.as_millis(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (2, 51, 150, Some(1), 1000),
            (2, 52, 100, Some(0), 3000),
            (2, 51, 0, Some(1), 1000),
            (3, 53, 150, None, 1000),
            (2, 51, 150, Some(1), 1000),
        ]
    );
    assert_eq!(ads[0].auth_string.as_deref(), Some("secret12"));
}

/// Re-runs keepalived 2.2.7 and compares what it sends with the stored bytes.
#[test]
fn fixtures_are_reproducible_from_real_keepalived() {
    if !require_root() || !require_programs(LAB_PROGRAMS) {
        return;
    }
    let a = thread::spawn(|| record_master("repa", &fixtures::pass_2vips_instance(), 0, true));
    let b = thread::spawn(|| record_master("repb", &fixtures::noauth_int3_instance(), 0, false));
    let d = thread::spawn(|| record_master("repd", &fixtures::v3_instance(), 0, false));
    let a = a.join().expect("thread").expect("record (a)");
    let b = b.join().expect("thread").expect("record (b)");
    let d = d.join().expect("thread").expect("record (d)");
    for (rec, prio, name) in [
        (&a, 150, fixtures::PASS_2VIPS),
        (&a, 0, fixtures::SHUTDOWN),
        (&b, 100, fixtures::NOAUTH_INT3),
        (&d, 150, fixtures::V3),
    ] {
        let (advert, packet) = rec
            .first_advert(prio)
            .unwrap_or_else(|| panic!("{name}: no advert with priority {prio}:\n{}", rec.log));
        assert!(advert.checksum_good, "{name}");
        assert_eq!(rec.src, fixtures::SRC);
        let payload = packet.vrrp_payload().expect("VRRP payload");
        assert_eq!(
            payload,
            &load(name)[..],
            "{name} differs from a fresh capture"
        );
        if name == fixtures::PASS_2VIPS {
            // The whole frame matches too (the lab's MACs are fixed), but for the IP id and
            // so the header checksum.
            let stored = load(fixtures::PASS_2VIPS_FRAME);
            assert_eq!(packet.data.len(), stored.len());
            assert_eq!(&packet.data[..18], &stored[..18]);
            assert_eq!(&packet.data[20..24], &stored[20..24]);
            assert_eq!(&packet.data[26..], &stored[26..]);
        }
    }
}
