//! Adverts captured from keepalived 2.2.7 (fixtures/packets) both ways: our parser reads
//! them, and an instance configured like keepalived's emits exactly the same bytes.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{Action, Destination, Instance, InstanceConfig, Tracking};
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP, Version};

const SENDER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn capture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/packets")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit pair"))
        .collect()
}

fn config(
    vrid: u8,
    priority: u8,
    interval: u64,
    auth: Auth,
    version: Version,
    vips: &[u8],
) -> InstanceConfig {
    InstanceConfig {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid,
        priority,
        advert_interval: Duration::from_secs(interval),
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth,
        version,
        addresses: vips
            .iter()
            .map(|last| Ipv4Addr::new(192, 0, 2, *last).into())
            .collect(),
        local_address: SENDER.into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay: Duration::from_secs(5),
        garp_master_refresh: None,
        start_backup: false,
    }
}

/// The adverts an owner-priority instance sends at start and at shutdown.
fn sent_by(cfg: InstanceConfig) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut instance = Instance::new(cfg);
    let tracking = Tracking::healthy(instance.config());
    instance.start(now, tracking);
    // Not the owner: let the master-down timer fire.
    instance.handle_timeout(now + Duration::from_secs(20));
    let first = std::iter::from_fn(|| instance.poll_action()).find_map(|a| match a {
        Action::Send { payload, .. } => Some(payload),
        _ => None,
    });
    instance.shutdown(now + Duration::from_secs(21));
    let last = std::iter::from_fn(|| instance.poll_action()).find_map(|a| match a {
        Action::Send { payload, .. } => Some(payload),
        _ => None,
    });
    (
        first.expect("an advert"),
        last.expect("a priority-0 advert"),
    )
}

#[test]
fn keepalived_v2_pass_two_vips_both_ways() {
    let bytes = capture("v2-vrid51-prio150-pass-2vips.hex");
    let advert = Advertisement::parse(&bytes, SENDER, MULTICAST_GROUP).expect("parses");
    assert_eq!(
        (advert.vrid, advert.priority, advert.interval_cs),
        (51, 150, 100)
    );
    assert_eq!(advert.auth, Auth::pass(b"secret12"));
    let cfg = config(
        51,
        150,
        1,
        Auth::pass(b"secret12"),
        Version::V2,
        &[100, 101],
    );
    let (first, last) = sent_by(cfg);
    assert_eq!(first, bytes);
    assert_eq!(last, capture("v2-vrid51-prio0-shutdown.hex"));
}

#[test]
fn keepalived_v2_no_auth_interval_3_both_ways() {
    let bytes = capture("v2-vrid52-prio100-noauth-int3.hex");
    let advert = Advertisement::parse(&bytes, SENDER, MULTICAST_GROUP).expect("parses");
    assert_eq!(advert.auth, Auth::None);
    assert_eq!(advert.interval_cs, 300);
    let (first, _) = sent_by(config(52, 100, 3, Auth::None, Version::V2, &[102]));
    assert_eq!(first, bytes);
}

#[test]
fn keepalived_v3_both_ways() {
    let bytes = capture("v3-vrid53-prio150-int1.hex");
    let advert = Advertisement::parse(&bytes, SENDER, MULTICAST_GROUP).expect("parses");
    assert_eq!(advert.version, Version::V3);
    let (first, _) = sent_by(config(53, 150, 1, Auth::None, Version::V3, &[103]));
    assert_eq!(first, bytes);
}

#[test]
fn keepalived_frame_carries_the_captured_advert() {
    let frame = capture("v2-vrid51-prio150-pass-2vips.frame.hex");
    // Ethernet (14) + IPv4 without options (20): TOS 0xc0, TTL 255, protocol 112.
    assert_eq!(&frame[12..14], &[0x08, 0x00]);
    assert_eq!(frame[15], 0xc0);
    assert_eq!(frame[22], 255);
    assert_eq!(frame[23], 112);
    assert_eq!(&frame[30..34], &[224, 0, 0, 18]);
    assert_eq!(
        frame[34..].to_vec(),
        capture("v2-vrid51-prio150-pass-2vips.hex")
    );
}
