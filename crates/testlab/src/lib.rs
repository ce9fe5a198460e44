//! A lab of network namespaces for testing keepalived-rs against the real keepalived 2.2.7.
//!
//! A [`Lab`] is one namespace holding a bridge and one namespace per [`Host`], each host with
//! `eth0` on the bridge and an address from a documentation subnet ([`Subnet`]). Hosts run
//! commands ([`Host::run`]), long-lived processes ([`Host::spawn`]) and keepalived
//! ([`Keepalived`]); [`Capture`] records VRRP and ARP frames with dumpcap and decodes them with
//! tshark into [`Frame`]s; an [`Injector`] sends hand-made, possibly malformed
//! [`ForgedAdvert`]s from a host. Every wait is bounded, and dropping a lab (also while
//! panicking) kills what it started and deletes its namespaces.
//!
//! Everything here needs root (namespaces, raw sockets); tests call [`require_root`] first and
//! return early when it says no.

mod capture;
mod config;
mod extra_link;
pub mod fixtures;
pub mod initd;
mod inject;
mod interrupt;
pub mod ipv6;
mod keepalived;
mod lab;
pub mod prelude;
mod process;
pub mod qemu;
mod qemu_tap;
pub mod uml;

pub use capture::{
    Advert, Capture, Frame, Garp, RawPacket, adverts, decode, frame_for_payload, from_hex, garps,
    internet_checksum, parse_pcap, read_pcap, to_hex, write_pcap,
};
pub use config::{VrrpInstance, render_config};
pub use extra_link::{ExtraLink, LinkEnd, extra_link_mac, link_hosts, link_injector};
pub use inject::{ForgedAdvert, Injector, VRRP_GROUP};
pub use interrupt::clean_up_on_interrupt;
pub use keepalived::{KEEPALIVED_BIN, Keepalived, STOP_TIMEOUT};
pub use lab::{
    AddrInfo, BRIDGE, HOST_IF, Host, Lab, NETNS_PREFIX, Subnet, host_mac, poll_until,
    remove_stale_namespaces,
};
pub use process::{COMMAND_TIMEOUT, Proc, Signal, run_command, run_ok, signal, signal_group};

use std::path::Path;

/// Whether the effective user is root (read from /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// `true` when running as root; otherwise prints `skipped: needs root` and returns `false`.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    println!("skipped: needs root");
    false
}

/// `true` when every program is found (an absolute path, or a name on `PATH`); otherwise prints
/// `skipped: needs PROGRAM` and returns `false`.
pub fn require_programs(programs: &[&str]) -> bool {
    for p in programs {
        if !program_exists(p) {
            println!("skipped: needs {p}");
            return false;
        }
    }
    true
}

fn program_exists(p: &str) -> bool {
    if p.contains('/') {
        return Path::new(p).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
}

/// The programs a lab test with real keepalived and packet capture needs.
pub const LAB_PROGRAMS: &[&str] = &["ip", "kill", "dumpcap", "tshark", KEEPALIVED_BIN];
