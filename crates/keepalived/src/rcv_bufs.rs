//! global_defs' `process_monitor_rcv_bufs BYTES` and `process_monitor_rcv_bufs_force`: the
//! receive buffer of the process-event socket `vrrp_track_process` listens on (the kernel's
//! proc connector), as keepalived 2.2.7 sets it (seen with strace: `SO_RCVBUF` BYTES, or
//! `SO_RCVBUFFORCE` BYTES with the force flag, which may exceed net.core.rmem_max). Without
//! the keyword 2.2.7 leaves the system default; ours asks for 1 MiB (events come in bursts).
//! Read when the VRRP process starts; a reload does not change it.

use std::os::fd::AsFd;
use std::sync::Mutex;

use keepalived_config::Config;
use keepalived_config::model::RawSetting;
use nix::sys::socket::{setsockopt, sockopt};

/// Ours when the configuration says nothing.
pub const PROCESS_MONITOR_DEFAULT: usize = 1 << 20;

/// The running configuration's (bytes, force), if set.
static PROCESS_MONITOR: Mutex<Option<(usize, bool)>> = Mutex::new(None);

fn last<'a>(config: &'a Config, keyword: &str) -> Option<&'a RawSetting> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
}

/// `process_monitor_rcv_bufs` of `config` and whether it is forced.
pub fn process_monitor_of(config: &Config) -> Option<(usize, bool)> {
    let bytes = last(config, "process_monitor_rcv_bufs")
        .and_then(|s| s.args.first())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&v| v > 0)?;
    let force = last(config, "process_monitor_rcv_bufs_force").is_some_and(|s| {
        s.args
            .first()
            .is_none_or(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"))
    });
    Some((bytes, force))
}

/// Takes the setting of `config` (at the VRRP process's start).
pub fn set(config: &Config) {
    let mut slot = PROCESS_MONITOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = process_monitor_of(config);
}

/// Sizes the receive buffer of the process-event socket; best effort (a refusal leaves the
/// system default, as the events still arrive).
pub fn process_monitor(socket: &impl AsFd) {
    let setting = *PROCESS_MONITOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = match setting {
        Some((bytes, true)) => setsockopt(socket, sockopt::RcvBufForce, &bytes),
        Some((bytes, false)) => setsockopt(socket, sockopt::RcvBuf, &bytes),
        None => setsockopt(socket, sockopt::RcvBuf, &PROCESS_MONITOR_DEFAULT),
    };
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, getsockopt, socket};

    use super::*;

    fn config(global: &str) -> Config {
        let text = format!("global_defs {{\n{global}\n}}\n");
        let host = FakeHost::lab();
        load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn the_setting_and_its_force_flag() {
        assert_eq!(process_monitor_of(&config(" router_id r")), None);
        assert_eq!(
            process_monitor_of(&config(" process_monitor_rcv_bufs 655360")),
            Some((655_360, false))
        );
        assert_eq!(
            process_monitor_of(&config(
                " process_monitor_rcv_bufs 655360\n process_monitor_rcv_bufs_force"
            )),
            Some((655_360, true))
        );
    }

    /// The kernel doubles what it is given (socket(7)); a plain request stays within
    /// rmem_max, so a small one shows exactly.
    #[test]
    fn the_buffer_is_set_on_the_socket() {
        set(&config(" process_monitor_rcv_bufs 100000"));
        let s = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::empty(),
            None,
        )
        .expect("socket");
        process_monitor(&s);
        assert_eq!(
            getsockopt(&s, sockopt::RcvBuf).expect("getsockopt"),
            200_000
        );
    }
}
