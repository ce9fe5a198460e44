//! Golden traces of the engine: each file of fixtures/engine-traces is JSON lines, the inputs
//! of one scenario (a configuration, then timed inputs) each followed by what the engine did
//! (its actions, then its next deadline). The test replays the inputs on a virtual clock and
//! compares the whole file, so any change of behaviour shows as a diff of the trace.
//!
//! After a deliberate change: `UPDATE_TRACES=1 cargo test -p keepalived-vrrp --test traces`,
//! then read the diff before committing it.
//!
//! Input lines (`t_us`: microseconds from the start of the scenario):
//! - `{"config": {"priority": 100, "advert_ms": 1000, "version": 2, "preempt": true}}` (first);
//! - `{"t_us": 0, "in": "start", "fault": null}` (or `"link_down"` / `"tracked"`);
//! - `{"t_us": 1000000, "in": "advert", "from": "192.0.2.20", "priority": 150,
//!   "interval_cs": 100}` (with `"addresses": ["192.0.2.100", …]` for another list than the
//!   instance's 192.0.2.100);
//! - `{"t_us": 6000000, "in": "run_until"}`: every deadline due by then fires at its time;
//! - `{"t_us": 0, "in": "track", "priority": 80, "fault": null}`;
//! - `{"t_us": 0, "in": "shutdown"}`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepalived_vrrp::instance::{
    Action, Destination, FaultCause, Instance, InstanceConfig, Received, State, Tracking,
};
use keepalived_vrrp::packet::{Advertisement, Auth, MULTICAST_GROUP, Packet, TTL, Version};
use serde_json::{Value, json};

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/engine-traces")
}

fn config(spec: &Value) -> InstanceConfig {
    let version = match spec["version"].as_u64() {
        Some(3) => Version::V3,
        _ => Version::V2,
    };
    InstanceConfig {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid: 51,
        priority: spec["priority"].as_u64().map_or(100, |p| p as u8),
        advert_interval: Duration::from_millis(spec["advert_ms"].as_u64().unwrap_or(1000)),
        preempt: spec["preempt"].as_bool().unwrap_or(true),
        preempt_delay: Duration::ZERO,
        auth: Auth::None,
        version,
        addresses: vec![VIP.into()],
        local_address: LOCAL.into(),
        destination: Destination::Multicast(MULTICAST_GROUP.into()),
        garp_master_delay: Duration::from_secs(5),
        garp_master_refresh: None,
        start_backup: false,
    }
}

fn fault(value: &Value) -> Option<FaultCause> {
    match value.as_str() {
        Some("link_down") => Some(FaultCause::LinkDown),
        Some(_) => Some(FaultCause::Tracked),
        None => None,
    }
}

fn state(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

fn micros(t0: Instant, t: Instant) -> u64 {
    u64::try_from(t.duration_since(t0).as_micros()).unwrap_or(u64::MAX)
}

/// The engine's actions since the last call, then its next deadline, as output lines.
fn outputs(instance: &mut Instance, t0: Instant, now: Instant, out: &mut String) {
    while let Some(action) = instance.poll_action() {
        let line = match action {
            Action::Send {
                dst, ttl, payload, ..
            } => {
                let priority = Packet::new_checked(&payload[..]).map(|p| p.priority()).ok();
                json!({"out": "send", "t_us": micros(t0, now), "dst": dst.to_string(), "ttl": ttl, "priority": priority})
            }
            Action::AddAddresses => json!({"out": "add_addresses"}),
            Action::RemoveAddresses => json!({"out": "remove_addresses"}),
            Action::Announce => json!({"out": "announce", "t_us": micros(t0, now)}),
            Action::Reannounce(why) => {
                json!({"out": "reannounce", "t_us": micros(t0, now), "why": format!("{why:?}")})
            }
            Action::StateChanged(s) => {
                json!({"out": "state", "t_us": micros(t0, now), "state": state(s)})
            }
            Action::Event(e) => json!({"out": "event", "event": format!("{e:?}")}),
        };
        let _ = writeln!(out, "{line}");
    }
    let poll = instance.poll_timeout().map(|t| micros(t0, t));
    let _ = writeln!(out, "{}", json!({"out": "poll", "at_us": poll}));
}

/// Replays the input lines of `text` and returns the trace they give.
fn replay(text: &str) -> String {
    let t0 = Instant::now();
    let mut out = String::new();
    let mut instance: Option<Instance> = None;
    let mut now = t0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let input: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if input.get("out").is_some() {
            continue;
        }
        let _ = writeln!(out, "{input}");
        if let Some(spec) = input.get("config") {
            instance = Some(Instance::new(config(spec)));
            continue;
        }
        let instance = instance.as_mut().expect("a config line first");
        let at = t0 + Duration::from_micros(input["t_us"].as_u64().expect("t_us"));
        match input["in"].as_str().expect("in") {
            "start" => {
                now = now.max(at);
                let tracking = Tracking {
                    priority: instance.config().priority,
                    fault: fault(&input["fault"]),
                };
                instance.start(now, tracking);
            }
            "advert" => {
                now = now.max(at);
                let from: IpAddr = input["from"]
                    .as_str()
                    .expect("from")
                    .parse()
                    .expect("address");
                let advert = Advertisement {
                    version: instance.config().version,
                    vrid: 51,
                    priority: input["priority"].as_u64().expect("priority") as u8,
                    interval_cs: input["interval_cs"].as_u64().unwrap_or(100) as u16,
                    auth: Auth::None,
                    addresses: match input["addresses"].as_array() {
                        Some(list) => list
                            .iter()
                            .map(|a| a.as_str().expect("address").parse().expect("address"))
                            .collect(),
                        None => vec![VIP.into()],
                    },
                };
                let bytes = advert.to_bytes(from, MULTICAST_GROUP);
                let packet = Received {
                    src: from,
                    dst: MULTICAST_GROUP.into(),
                    ttl: TTL,
                    payload: &bytes,
                };
                instance.handle_packet(now, packet);
            }
            "run_until" => {
                // Every deadline due by `at` fires at its own time, as the driver does.
                for _ in 0..10_000 {
                    match instance.poll_timeout() {
                        Some(due) if due <= at => {
                            now = now.max(due);
                            instance.handle_timeout(now);
                            outputs(instance, t0, now, &mut out);
                        }
                        _ => break,
                    }
                }
                now = now.max(at);
                continue;
            }
            "track" => {
                now = now.max(at);
                let tracking = Tracking {
                    priority: input["priority"].as_u64().expect("priority") as u8,
                    fault: fault(&input["fault"]),
                };
                instance.track(now, tracking);
            }
            "shutdown" => {
                now = now.max(at);
                instance.shutdown(now);
            }
            other => panic!("unknown input {other:?}"),
        }
        outputs(instance, t0, now, &mut out);
    }
    out
}

#[test]
fn engine_traces_replay_unchanged() {
    let update = std::env::var_os("UPDATE_TRACES").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .expect("fixtures/engine-traces")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "traces: {files:?}");
    let mut changed = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("trace");
        let replayed = replay(&text);
        if replayed != text {
            if update {
                std::fs::write(&path, &replayed).expect("write trace");
            } else {
                let first = text
                    .lines()
                    .zip(replayed.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(text.lines().count().min(replayed.lines().count()));
                changed.push(format!(
                    "{}: line {}:\n  trace:    {}\n  replayed: {}",
                    path.display(),
                    first + 1,
                    text.lines().nth(first).unwrap_or("(end)"),
                    replayed.lines().nth(first).unwrap_or("(end)")
                ));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "the engine behaves differently (UPDATE_TRACES=1 rewrites the traces):\n{}",
        changed.join("\n")
    );
}
