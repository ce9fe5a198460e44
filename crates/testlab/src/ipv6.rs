//! What the IPv6 lab tests need beside the IPv4 lab: a host's link-local address once duplicate
//! address detection is over, and tshark's view of IPv6 VRRP adverts and unsolicited neighbour
//! advertisements in a capture (tshark is the independent decoder: a checksum it finds bad or a
//! packet it calls malformed shows in [`Advert6::expert`]).

use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::lab::{Host, poll_until};
use crate::process::{COMMAND_TIMEOUT, run_command};

/// The capture filter for IPv6 VRRP and neighbour discovery (ICMPv6).
pub const FILTER_V6: &str = "ip6 proto 112 or icmp6";

/// The link-local address of `ifname` on `host` once it is usable (not tentative), waiting at
/// most `within` for duplicate address detection to end.
pub fn link_local(host: &Host, ifname: &str, within: Duration) -> Result<Ipv6Addr> {
    let mut found = None;
    let ready = poll_until(within, || {
        found = usable_link_local(host, ifname).ok().flatten();
        found.is_some()
    });
    match found {
        Some(addr) if ready => Ok(addr),
        _ => bail!(
            "{}: no usable link-local address on {ifname} within {within:?}",
            host.name()
        ),
    }
}

fn usable_link_local(host: &Host, ifname: &str) -> Result<Option<Ipv6Addr>> {
    let out = host.run("ip", &["-j", "-6", "addr", "show", "dev", ifname])?;
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing `ip -j -6 addr`")?;
    let infos = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|link| link["addr_info"].as_array())
        .flatten();
    for info in infos {
        let tentative = info["tentative"].as_bool().unwrap_or(false)
            || info["dadfailed"].as_bool().unwrap_or(false);
        if info["scope"] == "link"
            && !tentative
            && let Some(addr) = info["local"].as_str().and_then(|a| a.parse().ok())
        {
            return Ok(Some(addr));
        }
    }
    Ok(None)
}

/// An IPv6 VRRP advert as tshark decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Advert6 {
    /// Capture time, seconds since the Unix epoch.
    pub time: f64,
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// IPv6 destination (ff02::12 unless unicast).
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class byte.
    pub tclass: u8,
    /// The IPv6 payload length: the VRRP message's.
    pub payload_len: u16,
    /// VRRP version.
    pub version: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Max advert interval (VRRPv3) or Adver Int (VRRPv2, whole seconds).
    pub adver_int: Duration,
    /// tshark found the checksum good (over the IPv6 pseudo-header, RFC 5798 section 5.2.8).
    pub checksum_good: bool,
    /// The virtual addresses.
    pub addresses: Vec<Ipv6Addr>,
    /// tshark's expert remarks (malformed, bad checksum…); empty when it has none.
    pub expert: String,
}

/// An unsolicited neighbour advertisement as tshark decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Na {
    /// Capture time, seconds since the Unix epoch.
    pub time: f64,
    /// Ethernet source and destination.
    pub eth: (String, String),
    /// IPv6 source and destination.
    pub ip: (Ipv6Addr, Ipv6Addr),
    /// Hop limit.
    pub hop_limit: u8,
    /// The target address.
    pub target: Ipv6Addr,
    /// Router, Solicited and Override flags.
    pub flags: (bool, bool, bool),
    /// The target link-layer address option.
    pub target_mac: String,
    /// tshark checked the ICMPv6 checksum and found it good.
    pub checksum_good: bool,
}

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "eth.src",
    "eth.dst",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.tclass",
    "ipv6.plen",
    "vrrp.version",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.short_adver_int",
    "vrrp.adver_int",
    "vrrp.checksum.status",
    "vrrp.ipv6_addr",
    "icmpv6.type",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "icmpv6.opt.linkaddr",
    "icmpv6.checksum.status",
    "_ws.expert",
];

/// Decodes the IPv6 VRRP adverts and neighbour advertisements of a capture file.
pub fn decode_v6(path: &Path) -> Result<(Vec<Advert6>, Vec<Na>)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"])
        .args(["-E", "aggregator=,"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = run_command(&mut cmd, COMMAND_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "tshark -r {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (mut adverts, mut nas) = (Vec::new(), Vec::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != FIELDS.len() {
            bail!("tshark gave {} fields: {line:?}", f.len());
        }
        let get = |name: &str| {
            FIELDS
                .iter()
                .position(|x| *x == name)
                .map_or("", |i| f[i].trim())
        };
        let ctx = || format!("tshark line {line:?}");
        let time: f64 = get("frame.time_epoch").parse().with_context(ctx)?;
        // An ICMPv6 error quotes the packet it is about (a VRRP advert too): not an advert.
        let icmp = get("icmpv6.type");
        if icmp.is_empty() && !get("vrrp.version").is_empty() {
            adverts.push(Advert6 {
                time,
                src: get("ipv6.src").parse().with_context(ctx)?,
                dst: get("ipv6.dst").parse().with_context(ctx)?,
                hop_limit: num(get("ipv6.hlim")).with_context(ctx)?,
                tclass: num(get("ipv6.tclass")).with_context(ctx)?,
                payload_len: num(get("ipv6.plen")).with_context(ctx)?,
                version: num(get("vrrp.version")).with_context(ctx)?,
                vrid: num(get("vrrp.virt_rtr_id")).with_context(ctx)?,
                priority: num(get("vrrp.prio")).with_context(ctx)?,
                adver_int: match num::<u64>(get("vrrp.adver_int")) {
                    Ok(secs) => Duration::from_secs(secs),
                    Err(_) => Duration::from_millis(
                        10 * num::<u64>(get("vrrp.short_adver_int")).unwrap_or(0),
                    ),
                },
                checksum_good: get("vrrp.checksum.status") == "1",
                addresses: get("vrrp.ipv6_addr")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .with_context(ctx)?,
                expert: get("_ws.expert").to_string(),
            });
        } else if icmp == "136" {
            let flag = |name: &str| matches!(get(name), "1" | "True" | "true");
            nas.push(Na {
                time,
                eth: (get("eth.src").to_string(), get("eth.dst").to_string()),
                ip: (
                    get("ipv6.src").parse().with_context(ctx)?,
                    get("ipv6.dst").parse().with_context(ctx)?,
                ),
                hop_limit: num(get("ipv6.hlim")).with_context(ctx)?,
                target: get("icmpv6.nd.na.target_address")
                    .parse()
                    .with_context(ctx)?,
                flags: (
                    flag("icmpv6.nd.na.flag.r"),
                    flag("icmpv6.nd.na.flag.s"),
                    flag("icmpv6.nd.na.flag.o"),
                ),
                target_mac: get("icmpv6.opt.linkaddr").to_string(),
                checksum_good: get("icmpv6.checksum.status") == "1",
            });
        }
    }
    Ok((adverts, nas))
}

/// Parses a decimal or `0x` hexadecimal number as tshark prints it.
fn num<T: TryFrom<u64>>(s: &str) -> Result<T> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    }
    .with_context(|| format!("not a number: {s:?}"))?;
    T::try_from(v).map_err(|_| anyhow::anyhow!("{v} out of range"))
}
