//! The reload soak (root only): ours as master in a namespace gets thousands of reloads of an
//! unchanged file, alternating control-socket reloads and SIGHUPs, with a drained instance
//! beside the master one. After a warm-up, the open file descriptors of the parent and the
//! VRRP child must not grow at all and their resident memory by at most 1 MiB; no instance may
//! change state, the VIP stays and the drain holds.
//!
//! `KEEPALIVED_SOAK_RELOADS` sets the number of reloads (default 2000, so that CI stays short;
//! the issue's 10,000: `KEEPALIVED_SOAK_RELOADS=10000`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use keepalived_testlab::prelude::*;
use keepalived_testlab::render_config;

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const VIP: &str = "192.0.2.100";

/// (open descriptors, resident KiB) of `pid`.
fn usage(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("fds of {pid}: {e}"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    (fds, rss)
}

/// One request on the control socket; the answer line.
fn ask(socket: &Path, line: &str) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    writeln!(stream, "{line}").expect("write");
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .expect("an answer");
    answer
}

#[test]
fn thousands_of_reloads_leave_memory_descriptors_and_state_flat() {
    if !lab_ready() {
        return;
    }
    let reloads: usize = std::env::var("KEEPALIVED_SOAK_RELOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let lab = Lab::new("soak", &["a"]).expect("lab");
    let a = lab.host("a");
    let config = render_config(
        "a",
        &[
            VrrpInstance::new(51, 150, &["192.0.2.100/32"]),
            VrrpInstance::new(52, 150, &["192.0.2.101/32"]).named("VI_2"),
        ],
    );
    let socket = a.dir().join("ctl.sock");
    let socket_s = socket.to_string_lossy().into_owned();
    let k = Keepalived::start_with(
        a,
        Path::new(OURS),
        &config,
        &["--control-socket", &socket_s],
    )
    .expect("ours starts");
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(10)),
        "{}",
        k.log().unwrap_or_default()
    );
    assert!(poll_until(Duration::from_secs(10), || socket.exists()));
    assert!(ask(&socket, r#"{"command":"drain","instance":"VI_2"}"#).contains("\"ok\":true"));
    assert!(a.wait_for_address("192.0.2.101", false, Duration::from_secs(5)));
    let parent = k.pid();
    let child = k.vrrp_pid().expect("the VRRP child's pid");
    let reload = |i: usize| {
        if i.is_multiple_of(2) {
            let answer = ask(&socket, r#"{"command":"reload"}"#);
            assert!(answer.contains("\"applied\":true"), "{answer}");
        } else {
            k.reload().expect("SIGHUP");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let warm_up = (reloads / 10).max(50);
    for i in 0..warm_up {
        reload(i);
    }
    std::thread::sleep(Duration::from_secs(2));
    let log_before = k.log().expect("log");
    let before = (usage(parent), usage(child));
    for i in 0..reloads {
        reload(i);
    }
    std::thread::sleep(Duration::from_secs(3));
    let after = (usage(parent), usage(child));
    let log = k.log().expect("log");
    let added = &log[log_before.len()..];
    eprintln!(
        "{reloads} reloads: parent fds {} -> {}, rss {} -> {} KiB; VRRP child fds {} -> {}, rss {} -> {} KiB",
        before.0.0, after.0.0, before.0.1, after.0.1, before.1.0, after.1.0, before.1.1, after.1.1
    );
    assert!(
        added.matches("Reloading").count() >= reloads / 2,
        "the reloads did not happen:\n{}",
        &added[..added.len().min(4000)]
    );
    for word in ["Entering", "Transition", "removing VIPs.", "died"] {
        assert!(
            !added.contains(word),
            "state changed during the reloads ({word})"
        );
    }
    assert_eq!(after.0.0, before.0.0, "the parent's descriptors grew");
    assert_eq!(after.1.0, before.1.0, "the VRRP child's descriptors grew");
    assert!(after.0.1 <= before.0.1 + 1024, "the parent's memory grew");
    assert!(
        after.1.1 <= before.1.1 + 1024,
        "the VRRP child's memory grew"
    );
    assert!(a.has_address(VIP).unwrap_or(false));
    assert!(
        !a.has_address("192.0.2.101").unwrap_or(true),
        "the drain held"
    );
    let status = ask(&socket, r#"{"command":"status"}"#);
    assert!(status.contains("\"drained\":true"), "{status}");
    drop(k);
}
