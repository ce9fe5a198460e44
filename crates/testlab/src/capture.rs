//! Packet capture with dumpcap and decoding with tshark (the independent decoder), plus a small
//! reader and writer for classic pcap files so raw bytes can be stored and re-checked.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::lab::poll_until;
use crate::process::{COMMAND_TIMEOUT, Proc, Registry, Signal, run_command};

/// A running dumpcap writing a classic pcap file. Dropping it kills dumpcap.
#[derive(Debug)]
pub struct Capture {
    proc: Option<Proc>,
    file: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// The capture filter used by [`crate::Lab::capture_bridge`] and [`crate::Host::capture`].
    pub const DEFAULT_FILTER: &'static str = "ip proto 112 or arp";

    /// Starts `dumpcap` on `iface` inside `netns`, writing `<dir>/capture.pcap`; returns once
    /// dumpcap reports the file open (bounded: 10 s).
    pub(crate) fn start(
        netns: &str,
        iface: &str,
        filter: &str,
        dir: &Path,
        registry: &Registry,
    ) -> Result<Capture> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join("capture.pcap");
        let log = dir.join("dumpcap.log");
        let _ = fs::remove_file(&file);
        let _ = fs::remove_file(&log);
        let log_file =
            fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let log_file2 = log_file.try_clone().context("duplicating the log file")?;
        let file_str = file.to_string_lossy().into_owned();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns", "exec", netns, "dumpcap", "-q", "-P", "-i", iface, "-f", filter,
        ])
        .args(["-w", &file_str])
        .stdin(std::process::Stdio::null())
        .stdout(log_file)
        .stderr(log_file2);
        let label = format!("dumpcap on {iface} in {netns}");
        let mut proc = Proc::spawn(cmd, label.clone(), registry)?;
        let ready = poll_until(Duration::from_secs(10), || {
            let said = fs::read_to_string(&log).unwrap_or_default();
            said.contains("File:") && file.exists() || !proc.is_running()
        });
        if !ready || !proc.is_running() {
            let said = fs::read_to_string(&log).unwrap_or_default();
            let _ = proc.kill();
            bail!("{label} did not start: {}", said.trim());
        }
        Ok(Capture {
            proc: Some(proc),
            file,
            log,
        })
    }

    /// The pcap file being written.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// What dumpcap printed.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether dumpcap is still capturing.
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::is_running)
    }

    /// Stops dumpcap (SIGTERM, so it flushes the file; SIGKILL after 5 s). Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut proc) = self.proc.take() else {
            return Ok(());
        };
        if proc.is_running() {
            let _ = proc.signal(Signal::Term);
            if proc.wait_timeout(Duration::from_secs(5))?.is_none() {
                proc.kill()?;
                bail!("dumpcap ignored SIGTERM for 5 s; the file may be truncated");
            }
        }
        Ok(())
    }

    /// Stops the capture and decodes it with tshark.
    pub fn frames(&mut self) -> Result<Vec<Frame>> {
        self.stop()?;
        decode(&self.file)
    }

    /// Stops the capture and returns the raw frames.
    pub fn packets(&mut self) -> Result<Vec<RawPacket>> {
        self.stop()?;
        read_pcap(&self.file)
    }
}

/// A VRRP advertisement as tshark decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Advert {
    /// Frame number in the capture, from 1.
    pub number: usize,
    /// Capture time, seconds since the Unix epoch.
    pub time: f64,
    /// Ethernet source address.
    pub src_mac: String,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination (224.0.0.18 unless unicast).
    pub dst: Ipv4Addr,
    /// IPv4 TTL.
    pub ttl: u8,
    /// IPv4 TOS / DS field byte.
    pub tos: u8,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// VRRP packet type (1 = advertisement).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0 = the master is leaving).
    pub priority: u8,
    /// Address count field.
    pub addr_count: u8,
    /// Authentication type (v2 only: 0 none, 1 PASS, 2 AH).
    pub auth_type: Option<u8>,
    /// Advertisement interval (v2: whole seconds; v3: centiseconds).
    pub adver_int: Duration,
    /// Whether tshark found the checksum good.
    pub checksum_good: bool,
    /// The virtual addresses carried.
    pub addresses: Vec<Ipv4Addr>,
    /// The PASS authentication string, if any.
    pub auth_string: Option<String>,
}

/// A gratuitous ARP (sender IP = target IP).
#[derive(Debug, Clone, PartialEq)]
pub struct Garp {
    /// Frame number in the capture, from 1.
    pub number: usize,
    /// Capture time, seconds since the Unix epoch.
    pub time: f64,
    /// ARP opcode (1 request, 2 reply).
    pub opcode: u16,
    /// The announced address.
    pub sender_ip: Ipv4Addr,
    /// The ARP sender hardware address.
    pub sender_mac: String,
    /// The Ethernet source address.
    pub eth_src: String,
    /// The Ethernet destination address.
    pub eth_dst: String,
}

/// One captured frame, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A VRRP advertisement.
    Advert(Advert),
    /// A gratuitous ARP.
    Garp(Garp),
    /// Anything else the capture filter let through (ordinary ARP, …).
    Other {
        /// Frame number in the capture, from 1.
        number: usize,
        /// Capture time, seconds since the Unix epoch.
        time: f64,
    },
}

impl Frame {
    /// The frame number, from 1.
    pub fn number(&self) -> usize {
        match self {
            Frame::Advert(a) => a.number,
            Frame::Garp(g) => g.number,
            Frame::Other { number, .. } => *number,
        }
    }

    /// The capture time, seconds since the Unix epoch.
    pub fn time(&self) -> f64 {
        match self {
            Frame::Advert(a) => a.time,
            Frame::Garp(g) => g.time,
            Frame::Other { time, .. } => *time,
        }
    }

    /// The advert, if this is one.
    pub fn as_advert(&self) -> Option<&Advert> {
        match self {
            Frame::Advert(a) => Some(a),
            _ => None,
        }
    }

    /// The gratuitous ARP, if this is one.
    pub fn as_garp(&self) -> Option<&Garp> {
        match self {
            Frame::Garp(g) => Some(g),
            _ => None,
        }
    }
}

/// The adverts among `frames`, in capture order.
pub fn adverts(frames: &[Frame]) -> Vec<&Advert> {
    frames.iter().filter_map(Frame::as_advert).collect()
}

/// The gratuitous ARPs among `frames`, in capture order.
pub fn garps(frames: &[Frame]) -> Vec<&Garp> {
    frames.iter().filter_map(Frame::as_garp).collect()
}

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.dsfield",
    "vrrp.version",
    "vrrp.type",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.auth_type",
    "vrrp.adver_int",
    "vrrp.short_adver_int",
    "vrrp.checksum.status",
    "vrrp.ip_addr",
    "vrrp.auth_string",
    "arp.opcode",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "arp.src.hw_mac",
];

/// Decodes a capture file with `tshark -r FILE -T fields …` into frames.
pub fn decode(path: &Path) -> Result<Vec<Frame>> {
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Result<Frame> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != FIELDS.len() {
        bail!(
            "tshark gave {} fields, expected {}: {line:?}",
            f.len(),
            FIELDS.len()
        );
    }
    let get = |name: &str| -> &str {
        FIELDS
            .iter()
            .position(|x| *x == name)
            .map_or("", |i| f[i].trim())
    };
    let ctx = || format!("tshark line {line:?}");
    let number: usize = get("frame.number").parse().with_context(ctx)?;
    let time: f64 = get("frame.time_epoch").parse().with_context(ctx)?;

    if !get("vrrp.version").is_empty() {
        let version: u8 = num(get("vrrp.version")).with_context(ctx)?;
        let adver_int = if version == 3 {
            Duration::from_millis(
                10 * u64::from(num::<u16>(get("vrrp.short_adver_int")).with_context(ctx)?),
            )
        } else {
            Duration::from_secs(num(get("vrrp.adver_int")).with_context(ctx)?)
        };
        let auth_type = match get("vrrp.auth_type") {
            "" => None,
            s => Some(num(s).with_context(ctx)?),
        };
        let auth_string = match get("vrrp.auth_string") {
            "" => None,
            s => Some(s.to_string()),
        };
        let addresses = get("vrrp.ip_addr")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Ipv4Addr>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(ctx)?;
        return Ok(Frame::Advert(Advert {
            number,
            time,
            src_mac: get("eth.src").to_string(),
            src: get("ip.src").parse().with_context(ctx)?,
            dst: get("ip.dst").parse().with_context(ctx)?,
            ttl: num(get("ip.ttl")).with_context(ctx)?,
            tos: num(get("ip.dsfield")).with_context(ctx)?,
            version,
            kind: num(get("vrrp.type")).with_context(ctx)?,
            vrid: num(get("vrrp.virt_rtr_id")).with_context(ctx)?,
            priority: num(get("vrrp.prio")).with_context(ctx)?,
            addr_count: num(get("vrrp.addr_count")).with_context(ctx)?,
            auth_type,
            adver_int,
            // Wireshark: 0 bad, 1 good, 2 unverified.
            checksum_good: get("vrrp.checksum.status") == "1",
            addresses,
            auth_string,
        }));
    }
    if !get("arp.opcode").is_empty() {
        let sender = get("arp.src.proto_ipv4");
        if !sender.is_empty() && sender == get("arp.dst.proto_ipv4") {
            return Ok(Frame::Garp(Garp {
                number,
                time,
                opcode: num(get("arp.opcode")).with_context(ctx)?,
                sender_ip: sender.parse().with_context(ctx)?,
                sender_mac: get("arp.src.hw_mac").to_string(),
                eth_src: get("eth.src").to_string(),
                eth_dst: get("eth.dst").to_string(),
            }));
        }
    }
    Ok(Frame::Other { number, time })
}

/// Parses a decimal or `0x` hexadecimal number as tshark prints it.
fn num<T: TryFrom<u64>>(s: &str) -> Result<T> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    }
    .with_context(|| format!("not a number: {s:?}"))?;
    T::try_from(v).map_err(|_| anyhow::anyhow!("number out of range: {s}"))
}

/// One frame from a pcap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// Frame number, from 1.
    pub number: usize,
    /// Capture time in nanoseconds since the Unix epoch.
    pub time_ns: u128,
    /// The frame bytes, starting with the Ethernet header.
    pub data: Vec<u8>,
}

impl RawPacket {
    /// The IPv4 packet inside an Ethernet II frame (trimmed to its total length), if any.
    pub fn ipv4(&self) -> Option<&[u8]> {
        let d = &self.data;
        if d.len() < 14 + 20 || d[12..14] != [0x08, 0x00] {
            return None;
        }
        let ip = &d[14..];
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] >> 4 != 4 || total < 20 || total > ip.len() {
            return None;
        }
        Some(&ip[..total])
    }

    /// The VRRP message (the bytes after the IPv4 header) if this is an IPv4 protocol-112 frame.
    pub fn vrrp_payload(&self) -> Option<&[u8]> {
        let ip = self.ipv4()?;
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 112 || ihl < 20 || ihl > ip.len() {
            return None;
        }
        Some(&ip[ihl..])
    }
}

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;

/// Reads a classic pcap file (micro- or nanosecond, either byte order).
pub fn read_pcap(path: &Path) -> Result<Vec<RawPacket>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_pcap(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Parses the bytes of a classic pcap file.
pub fn parse_pcap(bytes: &[u8]) -> Result<Vec<RawPacket>> {
    if bytes.len() < 24 {
        bail!("too short for a pcap header");
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (big_endian, nanos) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
        (PCAP_MAGIC_US, _) => (false, false),
        (PCAP_MAGIC_NS, _) => (false, true),
        (_, PCAP_MAGIC_US) => (true, false),
        (_, PCAP_MAGIC_NS) => (true, true),
        _ => bail!("not a classic pcap file (pcapng? capture with dumpcap -P)"),
    };
    let read = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let linktype = read(&bytes[20..24]);
    if linktype != 1 {
        bail!("link type {linktype}, expected 1 (Ethernet)");
    }
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let h = &bytes[at..at + 16];
        let secs = u128::from(read(&h[0..4]));
        let frac = u128::from(read(&h[4..8]));
        let incl = usize::try_from(read(&h[8..12])).context("record length")?;
        at += 16;
        let Some(data) = bytes.get(at..at + incl) else {
            break; // a record cut short by a killed writer
        };
        out.push(RawPacket {
            number: out.len() + 1,
            time_ns: secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 },
            data: data.to_vec(),
        });
        at += incl;
    }
    Ok(out)
}

/// Writes Ethernet frames as a classic microsecond pcap file (timestamps 1 s apart), e.g. to let
/// tshark check bytes that were built or stored by hand.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&PCAP_MAGIC_US.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).context("frame too long")?;
        let secs = u32::try_from(i + 1).context("too many frames")?;
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Wraps a VRRP message in Ethernet and IPv4 headers as a multicast advert from `src`
/// (TOS 0xc0, TTL 255, destination 224.0.0.18, source MAC 00:00:5e:00:53:01 from the
/// documentation range) so tshark can decode it.
pub fn frame_for_payload(src: Ipv4Addr, payload: &[u8]) -> Result<Vec<u8>> {
    let total = u16::try_from(20 + payload.len()).context("payload too long")?;
    let mut f = vec![
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    ];
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&[224, 0, 0, 18]);
    let sum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    Ok(f)
}

/// The RFC 1071 Internet checksum of `data` (the value to store; a buffer that already holds a
/// correct checksum sums to 0).
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = match chunk {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves `sum` at most 0xffff.
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

/// Lowercase hex of `bytes`, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex, ignoring ASCII whitespace (so fixture files may wrap lines or space bytes).
pub fn from_hex(s: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    digits
        .chunks(2)
        .map(|p| {
            let pair = std::str::from_utf8(p).context("not ASCII")?;
            u8::from_str_radix(pair, 16).with_context(|| format!("bad hex {pair:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_the_compat_sample() {
        // compat.md section 7: keepalived 2.2.7, VRID 51, priority 150, two VIPs, PASS.
        let msg =
            from_hex("21 33 96 02 01 01 b3 6f 0a 09 09 64 0a 09 09 65 73 65 63 72 65 74 31 32")
                .expect("valid hex");
        assert_eq!(internet_checksum(&msg), 0);
        let mut zeroed = msg.clone();
        zeroed[6] = 0;
        zeroed[7] = 0;
        assert_eq!(internet_checksum(&zeroed), 0xb36f);
    }

    #[test]
    fn hex_round_trip() {
        let b = [0x00, 0x7f, 0xff, 0x21];
        assert_eq!(to_hex(&b), "007fff21");
        assert_eq!(from_hex("00 7F\nff21").expect("valid"), b);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn pcap_round_trip_and_payload() {
        let payload = [
            0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0, 0, 192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let frame = frame_for_payload(Ipv4Addr::new(192, 0, 2, 10), &payload).expect("frame");
        let dir = std::env::temp_dir().join(format!("testlab-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("x.pcap");
        write_pcap(&path, std::slice::from_ref(&frame)).expect("write");
        let pkts = read_pcap(&path).expect("read");
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(pkts.len(), 1);
        assert_eq!(pkts[0].data, frame);
        assert_eq!(pkts[0].time_ns, 1_000_000_000);
        assert_eq!(pkts[0].vrrp_payload(), Some(&payload[..]));
        let ip = pkts[0].ipv4().expect("ipv4");
        assert_eq!(internet_checksum(&ip[..20]), 0);
    }

    #[test]
    fn tshark_line_to_advert_and_garp() {
        let advert = "7\t1795474595.653201952\t76:ff:e8:89:db:d6\t01:00:5e:00:00:12\t192.0.2.10\t\
                      224.0.0.18\t255\t0xc0\t2\t1\t51\t150\t1\t1\t1\t\t1\t192.0.2.100\tsecret12\t\t\t\t";
        let Frame::Advert(a) = parse_line(advert).expect("parses") else {
            panic!("not an advert");
        };
        assert_eq!(
            (a.number, a.vrid, a.priority, a.ttl, a.tos),
            (7, 51, 150, 255, 0xc0)
        );
        assert_eq!(a.adver_int, Duration::from_secs(1));
        assert!(a.checksum_good);
        assert_eq!(a.addresses, [Ipv4Addr::new(192, 0, 2, 100)]);
        assert_eq!(a.auth_string.as_deref(), Some("secret12"));

        let garp = "8\t1.5\t76:ff:e8:89:db:d6\tff:ff:ff:ff:ff:ff\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\
                    1\t192.0.2.100\t192.0.2.100\t76:ff:e8:89:db:d6";
        let Frame::Garp(g) = parse_line(garp).expect("parses") else {
            panic!("not a garp");
        };
        assert_eq!(g.sender_ip, Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(g.opcode, 1);

        let arp = "9\t2.5\ta\tb\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t1\t192.0.2.10\t192.0.2.11\ta";
        assert_eq!(
            parse_line(arp).expect("parses"),
            Frame::Other {
                number: 9,
                time: 2.5
            }
        );
    }
}
