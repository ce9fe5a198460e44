//! The packet fixtures in `fixtures/packets/`: the configs that produced them, loading them,
//! and recording what one real keepalived sends as the only node of a VRRP instance (it becomes
//! MASTER, advertises, and optionally is stopped with SIGTERM: its priority-0 advert).

use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::capture::{Advert, Frame, RawPacket, from_hex};
use crate::config::VrrpInstance;
use crate::keepalived::Keepalived;
use crate::lab::{HOST_IF, Lab};

/// What [`record_master`] saw.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The sender's primary address (the IPv4 source of its adverts).
    pub src: Ipv4Addr,
    /// The frames tshark decoded.
    pub frames: Vec<Frame>,
    /// The same frames as raw bytes (index = frame number - 1).
    pub packets: Vec<RawPacket>,
    /// The daemon's log.
    pub log: String,
}

impl Recording {
    /// The first advert with `priority`, with its raw frame.
    pub fn first_advert(&self, priority: u8) -> Option<(&Advert, &RawPacket)> {
        self.frames
            .iter()
            .filter_map(Frame::as_advert)
            .find(|a| a.priority == priority)
            .and_then(|a| Some((a, self.packets.get(a.number.checked_sub(1)?)?)))
    }
}

/// Runs real keepalived with `instance` in a one-host lab tagged `tag`, capturing on its
/// `eth0`; waits (bounded) until it is MASTER with its first VIP, lets `extra_adverts` more
/// advert intervals pass, then, if `terminate`, stops it with SIGTERM. Needs root.
pub fn record_master(
    tag: &str,
    instance: &VrrpInstance,
    extra_adverts: u32,
    terminate: bool,
) -> Result<Recording> {
    let lab = Lab::new(tag, &["a"])?;
    let host = lab.host("a");
    let mut capture = host.capture(HOST_IF)?;
    let mut daemon = Keepalived::start(host, &instance.render("a"))?;
    let first_vip = instance
        .vips
        .first()
        .context("the instance has no VIP")?
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let interval: f64 = instance.advert_int.parse().context("advert_int")?;
    // Master_Down_Interval is below 4 advert intervals; allow 2 s on top for start-up.
    let limit = Duration::from_secs_f64(4.0 * interval + 2.0);
    if !host.wait_for_address(&first_vip, true, limit) {
        bail!(
            "keepalived did not become MASTER within {limit:?}:\n{}",
            daemon.log().unwrap_or_default()
        );
    }
    thread::sleep(Duration::from_secs_f64(
        f64::from(extra_adverts) * interval + 0.3,
    ));
    if terminate {
        daemon.stop()?;
    }
    // Let the capture see the last frames.
    thread::sleep(Duration::from_millis(200));
    let frames = capture.frames()?;
    let packets = capture.packets()?;
    let log = daemon.log()?;
    drop(daemon);
    Ok(Recording {
        src: host.address(),
        frames,
        packets,
        log,
    })
}

/// `fixtures/packets/` of the workspace.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/packets")
}

/// The bytes of `fixtures/packets/<name>.hex`.
pub fn load(name: &str) -> Result<Vec<u8>> {
    let path = dir().join(format!("{name}.hex"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    from_hex(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The source address of every fixture advert (host `a` of a one-host lab).
pub const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// Fixture (a), VRID 51, priority 150, two VIPs, PASS "secret12", advert_int 1.
pub const PASS_2VIPS: &str = "v2-vrid51-prio150-pass-2vips";
/// Fixture (a) as a whole Ethernet frame.
pub const PASS_2VIPS_FRAME: &str = "v2-vrid51-prio150-pass-2vips.frame";
/// Fixture (b), VRID 52, priority 100, no authentication, one VIP, advert_int 3.
pub const NOAUTH_INT3: &str = "v2-vrid52-prio100-noauth-int3";
/// Fixture (c), the priority-0 advert the instance of (a) sends on SIGTERM.
pub const SHUTDOWN: &str = "v2-vrid51-prio0-shutdown";
/// Fixture (d), VRRPv3, VRID 53, priority 150, one VIP, advert_int 1 (100 cs).
pub const V3: &str = "v3-vrid53-prio150-int1";

/// The instance behind fixtures (a) and (c).
pub fn pass_2vips_instance() -> VrrpInstance {
    VrrpInstance::new(51, 150, &["192.0.2.100/32", "192.0.2.101/32"]).auth_pass("secret12")
}

/// The instance behind fixture (b).
pub fn noauth_int3_instance() -> VrrpInstance {
    VrrpInstance::new(52, 100, &["192.0.2.102/32"]).advert_int("3")
}

/// The instance behind fixture (d).
pub fn v3_instance() -> VrrpInstance {
    VrrpInstance::new(53, 150, &["192.0.2.103/32"]).version(3)
}
