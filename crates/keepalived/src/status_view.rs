//! The status model as JSON: what the control socket answers to `status` and `show`, built
//! from the same [`Snapshot`] as the dumps and the metrics. Passwords are not in it. Counter
//! keys are keepalived's JSON dump keys (`advert_rcvd`, `become_master` …).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::dump::{
    InstanceSnapshot, InstanceState, RunPhase, ScriptSnapshot, Snapshot, StatsSnapshot,
};

/// Seconds since the epoch, with microseconds.
fn epoch_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A state by the name keepalived prints.
fn state(state: InstanceState) -> Value {
    Value::from(state.name())
}

/// keepalived's counters under its JSON dump keys.
pub fn stats(s: &StatsSnapshot) -> Value {
    json!({
        "advert_rcvd": s.advert_received,
        "advert_sent": s.advert_sent,
        "become_master": s.became_master,
        "release_master": s.released_master,
        "packet_len_err": s.packet_length_errors,
        "advert_interval_err": s.advert_interval_errors,
        "ip_ttl_err": s.ttl_errors,
        "invalid_type_rcvd": s.invalid_type_received,
        "addr_list_err": s.address_list_errors,
        "invalid_authtype": s.invalid_auth_type,
        "authtype_mismatch": s.auth_type_mismatch,
        "auth_failure": s.auth_failures,
        "pri_zero_rcvd": s.priority_zero_received,
        "pri_zero_sent": s.priority_zero_sent,
    })
}

/// One instance; `scripts` gives the status of the scripts it tracks.
pub fn instance(i: &InstanceSnapshot, scripts: &[ScriptSnapshot]) -> Value {
    let script_status = |name: &str| {
        scripts
            .iter()
            .find(|s| s.name == name)
            .map_or("INIT", |s| s.status.name())
    };
    let drops: Map<String, Value> = i
        .drops
        .iter()
        .map(|(reason, n)| (reason.clone(), Value::from(*n)))
        .collect();
    json!({
        "name": i.name,
        "state": state(i.state),
        "wanted_state": state(i.wanted_state),
        "drained": i.drained,
        "interface": i.interface,
        "vrid": i.vrid,
        "version": i.version,
        "base_priority": i.base_priority,
        "effective_priority": i.effective_priority,
        "advert_interval_ms": i.advert_interval_ms,
        "master": i.master_router.as_ref().map(|address| json!({
            "address": address,
            "priority": i.master_priority,
        })),
        "last_transition": i.last_transition.map(epoch_seconds),
        "preempt": i.preempt,
        "unicast_peers": i.unicast_peers,
        "vips": i.addresses.iter().map(|a| json!({
            "address": a.address.to_string(),
            "prefix_len": a.prefix_len,
            "device": a.device,
            "scope": a.scope,
        })).collect::<Vec<_>>(),
        "tracked_interfaces": i.tracked_interfaces.iter().map(|(name, weight)| json!({
            "name": name,
            "weight": weight,
        })).collect::<Vec<_>>(),
        "tracked_scripts": i.tracked_scripts.iter().map(|(name, weight)| json!({
            "name": name,
            "weight": weight,
            "status": script_status(name),
        })).collect::<Vec<_>>(),
        "stats": stats(&i.stats),
        "drops": drops,
        "near_failovers": i.near_failovers,
        "advert_jitter": json!({
            "samples": i.jitter.1,
            "sum_us": i.jitter.2,
        }),
        "transitions": i.transitions.iter().map(|(to, cause, count)| json!({
            "state": state(*to),
            "cause": cause,
            "count": count,
        })).collect::<Vec<_>>(),
    })
}

/// One vrrp_script.
pub fn script(s: &ScriptSnapshot) -> Value {
    json!({
        "name": s.name,
        "command": s.command,
        "status": s.status.name(),
        "last_result": s.last_result,
        "rise": s.rise,
        "fall": s.fall,
        "streak": s.streak,
        "running": s.run_phase != RunPhase::Idle,
        "run_state": s.run_phase.name(),
        "weight": s.weight,
        "interval_ms": s.interval_ms,
        "timeout_ms": s.timeout_ms,
    })
}

/// The whole status.
pub fn status(snapshot: &Snapshot) -> Value {
    json!({
        "router_id": snapshot.router_id,
        "instances": snapshot.instances.iter()
            .map(|i| instance(i, &snapshot.scripts)).collect::<Vec<_>>(),
        "scripts": snapshot.scripts.iter().map(script).collect::<Vec<_>>(),
        "virtual_servers": snapshot.virtual_servers.iter().map(|v| json!({
            "name": v.name,
            "real_servers": v.real_servers.iter().map(|r| json!({
                "name": r.name,
                "alive": r.alive,
                "weight": r.weight,
                "check_latency_us": r.check_latency_us,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{ScriptStatus, VipSnapshot};

    #[test]
    fn the_view_holds_the_model_without_the_password() {
        let snapshot = Snapshot {
            router_id: "lab".into(),
            instances: vec![InstanceSnapshot {
                name: "VI_1".into(),
                state: InstanceState::Backup,
                wanted_state: InstanceState::Backup,
                drained: true,
                vrid: 51,
                base_priority: 150,
                effective_priority: 130,
                master_router: Some("192.0.2.20".into()),
                master_priority: 100,
                auth_password: Some("s3cret".into()),
                addresses: vec![VipSnapshot {
                    address: "192.0.2.100".parse().expect("address"),
                    prefix_len: 32,
                    device: "eth0".into(),
                    scope: "global".into(),
                    ipv6_options: String::new(),
                }],
                tracked_scripts: vec![("chk".into(), -20)],
                drops: vec![("ttl".into(), 3)],
                ..InstanceSnapshot::default()
            }],
            scripts: vec![ScriptSnapshot {
                name: "chk".into(),
                status: ScriptStatus::Bad,
                last_result: Some("exit 1".into()),
                streak: 1,
                ..ScriptSnapshot::default()
            }],
            ..Snapshot::default()
        };
        let view = status(&snapshot);
        let text = view.to_string();
        assert!(!text.contains("s3cret"));
        let i = &view["instances"][0];
        assert_eq!(i["state"], "BACKUP");
        assert_eq!(i["drained"], true);
        assert_eq!(i["master"]["address"], "192.0.2.20");
        assert_eq!(i["master"]["priority"], 100);
        assert_eq!(i["effective_priority"], 130);
        assert_eq!(i["vips"][0]["address"], "192.0.2.100");
        assert_eq!(i["tracked_scripts"][0]["status"], "BAD");
        assert_eq!(i["drops"]["ttl"], 3);
        assert_eq!(view["scripts"][0]["last_result"], "exit 1");
        assert_eq!(view["virtual_servers"], json!([]));
    }
}
