//! Captures adverts from the real keepalived 2.2.7 and writes them as hex fixtures.
//!
//! Usage (as root): `cargo run -p keepalived-testlab --bin capture-fixtures [-- OUT_DIR]`;
//! OUT_DIR defaults to `fixtures/packets` of the workspace. Each stored payload is re-checked
//! with tshark (checksum good, same fields) before it is written.

use std::fs;
use std::path::PathBuf;
use std::thread;

use anyhow::{Context, Result, bail};
use keepalived_testlab::fixtures::{self, Recording, record_master};
use keepalived_testlab::{
    Advert, LAB_PROGRAMS, RawPacket, decode, frame_for_payload, require_programs, require_root,
    to_hex, write_pcap,
};

fn main() -> Result<()> {
    if !require_root() || !require_programs(LAB_PROGRAMS) {
        bail!("cannot capture fixtures here");
    }
    let out: PathBuf = match std::env::args().nth(1) {
        Some(dir) => dir.into(),
        None => fixtures::dir(),
    };
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let a = thread::spawn(|| record_master("fixa", &fixtures::pass_2vips_instance(), 1, true));
    let b = thread::spawn(|| record_master("fixb", &fixtures::noauth_int3_instance(), 0, false));
    let d = thread::spawn(|| record_master("fixd", &fixtures::v3_instance(), 1, false));
    let join = |h: thread::JoinHandle<Result<Recording>>| -> Result<Recording> {
        match h.join() {
            Ok(r) => r,
            Err(_) => bail!("capture thread panicked"),
        }
    };
    let (a, b, d) = (join(a)?, join(b)?, join(d)?);

    let (adv_a, pkt_a) = a.first_advert(150).context("(a): no priority-150 advert")?;
    let (adv_c, pkt_c) = a.first_advert(0).context("(c): no priority-0 advert")?;
    let (adv_b, pkt_b) = b.first_advert(100).context("(b): no priority-100 advert")?;
    let (adv_d, pkt_d) = d.first_advert(150).context("(d): no priority-150 advert")?;

    let cases: [(&str, &Advert, &RawPacket, &Recording); 4] = [
        (fixtures::PASS_2VIPS, adv_a, pkt_a, &a),
        (fixtures::NOAUTH_INT3, adv_b, pkt_b, &b),
        (fixtures::SHUTDOWN, adv_c, pkt_c, &a),
        (fixtures::V3, adv_d, pkt_d, &d),
    ];
    for (name, advert, packet, rec) in cases {
        if !advert.checksum_good {
            bail!("{name}: tshark reports a bad checksum on the live capture");
        }
        let payload = packet.vrrp_payload().context("not a VRRP frame")?;
        verify_with_tshark(name, rec, payload, advert)?;
        let path = out.join(format!("{name}.hex"));
        fs::write(&path, format!("{}\n", to_hex(payload)))?;
        println!("{}: {}", path.display(), to_hex(payload));
    }
    let frame_path = out.join(format!("{}.hex", fixtures::PASS_2VIPS_FRAME));
    fs::write(&frame_path, format!("{}\n", to_hex(&pkt_a.data)))?;
    println!("{}: {}", frame_path.display(), to_hex(&pkt_a.data));
    Ok(())
}

/// Wraps the payload in fresh headers (same source address), decodes it with tshark, and checks
/// the checksum is good and the fields equal the live capture's.
fn verify_with_tshark(name: &str, rec: &Recording, payload: &[u8], live: &Advert) -> Result<()> {
    let pcap = std::env::temp_dir().join(format!("{name}-{}.pcap", std::process::id()));
    write_pcap(&pcap, &[frame_for_payload(rec.src, payload)?])?;
    let frames = decode(&pcap);
    let _ = fs::remove_file(&pcap);
    let frames = frames?;
    let Some(again) = frames.first().and_then(|f| f.as_advert()) else {
        bail!("{name}: tshark does not see an advert in the stored payload");
    };
    if !again.checksum_good {
        bail!("{name}: tshark reports a bad checksum on the stored payload");
    }
    let fields = |x: &Advert| {
        (
            x.version,
            x.vrid,
            x.priority,
            x.addresses.clone(),
            x.adver_int,
            x.auth_type,
        )
    };
    if fields(again) != fields(live) {
        bail!("{name}: stored payload decodes differently: {again:?} vs {live:?}");
    }
    Ok(())
}
