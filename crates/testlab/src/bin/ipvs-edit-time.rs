//! A benchmark probe for the IPVS lab: times the kernel's handling of the one command a
//! reload with one changed weight sends (`IPVS_CMD_SET_DEST`), in whatever table is loaded.
//!
//! Usage: `ipvs-edit-time VS_ADDR:PORT RS_ADDR:PORT [COUNT]` (a TCP service and one of its
//! destinations; COUNT edits, default 250, at most 250). It reads the destination
//! back, then edits it COUNT times through the project's own IPVS client (the same request the
//! daemon sends), alternating its weight between its own and one more, and leaves it as found.
//! Each edit is timed from before the request is written to after its acknowledgement is
//! read. Then, as a start-up installs destinations, it adds COUNT new ones to the service
//! (192.0.2.1 on, 192.0.2.0/24 being the documentation range and no server of the lab's table)
//! and deletes them again, each request timed the same way. It prints one line:
//! `set_dest_us median M p90 P max X new_dest_us ... del_dest_us ... count N` (microseconds).
//! Exits 2 on a usage error, 1 when IPVS fails.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

use keepalived_ipvs::{Destination, Ipvs, ServiceKey};

/// `IPPROTO_TCP`.
const IPPROTO_TCP: u16 = 6;
/// The most edits one run makes (and new destinations: they stay within 192.0.2.0/24).
const MAX_COUNT: usize = 250;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [vs, rs] => parse(vs, rs, "250"),
        [vs, rs, count] => parse(vs, rs, count),
        _ => None,
    };
    let Some((vs, rs, count)) = parsed else {
        eprintln!("usage: ipvs-edit-time VS_ADDR:PORT RS_ADDR:PORT [COUNT<={MAX_COUNT}]");
        return ExitCode::from(2);
    };
    match run(vs, rs, count) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ipvs-edit-time: {e}");
            ExitCode::from(1)
        }
    }
}

/// The service, the destination and the count, or `None` when one does not read.
fn parse(vs: &str, rs: &str, count: &str) -> Option<(SocketAddr, SocketAddr, usize)> {
    let count: usize = count.parse().ok()?;
    if count == 0 || count > MAX_COUNT {
        return None;
    }
    Some((vs.parse().ok()?, rs.parse().ok()?, count))
}

/// Edits the destination `count` times and describes the times.
fn run(vs: SocketAddr, rs: SocketAddr, count: usize) -> Result<String, String> {
    let mut ipvs = Ipvs::open().map_err(|e| format!("IPVS: {e}"))?;
    let key = ServiceKey::Address {
        protocol: IPPROTO_TCP,
        addr: vs.ip(),
        port: vs.port(),
    };
    let found = ipvs
        .destinations(&key)
        .map_err(|e| format!("reading {vs}: {e}"))?
        .into_iter()
        .find(|d| d.addr == rs.ip() && d.port == rs.port())
        .ok_or_else(|| format!("{rs} is not a destination of {vs}"))?;
    let mut times_us = Vec::with_capacity(count);
    let mut dest = found.clone();
    for i in 0..count {
        dest.weight = found.weight + (i % 2 == 0) as i32;
        let start = Instant::now();
        ipvs.edit_dest(&key, &dest)
            .map_err(|e| format!("edit {rs} of {vs}: {e}"))?;
        times_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    ipvs.edit_dest(&key, &found)
        .map_err(|e| format!("restoring {rs} of {vs}: {e}"))?;
    let new: Vec<Destination> = (0..count as u32)
        .map(|i| {
            let addr = Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 0, 2, 1)) + i);
            Destination::new(IpAddr::V4(addr), found.port, found.forward, 1)
        })
        .collect();
    let mut add_us = Vec::with_capacity(count);
    for dest in &new {
        let start = Instant::now();
        ipvs.add_dest(&key, dest)
            .map_err(|e| format!("adding {} to {vs}: {e}", dest.addr))?;
        add_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let mut del_us = Vec::with_capacity(count);
    for dest in &new {
        let start = Instant::now();
        ipvs.del_dest(&key, dest)
            .map_err(|e| format!("deleting {} from {vs}: {e}", dest.addr))?;
        del_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(format!(
        "set_dest_us {} new_dest_us {} del_dest_us {} count {count}",
        describe(times_us),
        describe(add_us),
        describe(del_us)
    ))
}

/// `median M p90 P max X` of the times.
fn describe(mut times_us: Vec<f64>) -> String {
    times_us.sort_by(f64::total_cmp);
    let at = |share: f64| times_us[((times_us.len() - 1) as f64 * share) as usize];
    format!(
        "median {:.1} p90 {:.1} max {:.1}",
        at(0.5),
        at(0.9),
        at(1.0)
    )
}
