//! The status model as Prometheus text (exposition format 0.0.4), with the names and labels of
//! the community keepalived exporter, so its dashboards keep working, and ours beside them
//! under `keepalived_rs_`.
//!
//! From the exporter: `keepalived_up`, `keepalived_vrrp_state{iname,intf,vrid,ip_address}` (one
//! series per virtual address; 0 init, 1 backup, 2 master, 3 fault), the counters of
//! keepalived's statistics dump with labels `{iname,intf,vrid}`,
//! `keepalived_gratuitous_arp_delay_total` and `keepalived_script_status{name}` (1 good, 0
//! bad or no result yet). Ours: drops by reason, transitions by state and cause, drained
//! instances, priorities, and the health checker's real servers.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::dump::{InstanceSnapshot, ScriptStatus, Snapshot, StatsSnapshot};
use crate::vrrp::advert_watch::JITTER_BUCKETS;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value, escaped as the text format wants (`\\`, `\"`, `\n`).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `{k="v",…}`.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// One metric family: its HELP and TYPE lines, then its samples (`labels`, value).
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: u64) {
        let _ = writeln!(self.out, "{name}{labels} {value}");
    }
}

/// One of the exporter's counters: name, help, and the field of the statistics.
type Counter = (&'static str, &'static str, fn(&StatsSnapshot) -> u64);

/// The exporter's counters.
const COUNTERS: [Counter; 14] = [
    (
        "keepalived_advertisements_received_total",
        "Advertisements received.",
        |s| s.advert_received,
    ),
    (
        "keepalived_advertisements_sent_total",
        "Advertisements sent.",
        |s| s.advert_sent,
    ),
    (
        "keepalived_become_master_total",
        "Transitions to MASTER.",
        |s| s.became_master,
    ),
    (
        "keepalived_release_master_total",
        "Transitions out of MASTER.",
        |s| s.released_master,
    ),
    (
        "keepalived_packet_length_errors_total",
        "Packets of a wrong length.",
        |s| s.packet_length_errors,
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        "Advertisements with another advertisement interval.",
        |s| s.advert_interval_errors,
    ),
    (
        "keepalived_ip_ttl_errors_total",
        "Packets with a TTL other than 255.",
        |s| s.ttl_errors,
    ),
    (
        "keepalived_invalid_type_received_total",
        "Packets of an unknown VRRP type.",
        |s| s.invalid_type_received,
    ),
    (
        "keepalived_address_list_errors_total",
        "Advertisements with another address list.",
        |s| s.address_list_errors,
    ),
    (
        "keepalived_authentication_invalid_total",
        "Advertisements with an unknown authentication type.",
        |s| s.invalid_auth_type,
    ),
    (
        "keepalived_authentication_mismatch_total",
        "Advertisements with another authentication type.",
        |s| s.auth_type_mismatch,
    ),
    (
        "keepalived_authentication_failure_total",
        "Advertisements with a wrong password.",
        |s| s.auth_failures,
    ),
    (
        "keepalived_priority_zero_received_total",
        "Priority-0 advertisements received.",
        |s| s.priority_zero_received,
    ),
    (
        "keepalived_priority_zero_sent_total",
        "Priority-0 advertisements sent.",
        |s| s.priority_zero_sent,
    ),
];

/// The address as the exporter labels it (keepalived's dump text: a host prefix left out).
fn address_label(address: IpAddr, prefix_len: u8) -> String {
    let host = if address.is_ipv4() { 32 } else { 128 };
    if prefix_len == host {
        address.to_string()
    } else {
        format!("{address}/{prefix_len}")
    }
}

/// `{iname,intf,vrid}` of an instance, plus `extra`.
fn instance_labels(i: &InstanceSnapshot, extra: &[(&str, &str)]) -> String {
    let vrid = i.vrid.to_string();
    let mut pairs = vec![
        ("iname", i.name.as_str()),
        ("intf", i.interface.as_str()),
        ("vrid", vrid.as_str()),
    ];
    pairs.extend_from_slice(extra);
    labels(&pairs)
}

/// Renders the whole snapshot.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    f.head("keepalived_up", "gauge", "Whether keepalived is running.");
    f.sample("keepalived_up", "", 1);

    f.head(
        "keepalived_vrrp_state",
        "gauge",
        "State of a VRRP instance: 0 init, 1 backup, 2 master, 3 fault.",
    );
    for i in &snapshot.instances {
        for a in &i.addresses {
            let address = address_label(a.address, a.prefix_len);
            let l = instance_labels(i, &[("ip_address", &address)]);
            f.sample("keepalived_vrrp_state", &l, u64::from(i.state.number()));
        }
    }
    for (name, help, field) in COUNTERS {
        f.head(name, "counter", help);
        for i in &snapshot.instances {
            f.sample(name, &instance_labels(i, &[]), field(&i.stats));
        }
    }
    f.head(
        "keepalived_gratuitous_arp_delay_total",
        "counter",
        "garp_master_delay of the instance, in seconds.",
    );
    for i in &snapshot.instances {
        f.sample(
            "keepalived_gratuitous_arp_delay_total",
            &instance_labels(i, &[]),
            i.garp_delay_secs,
        );
    }
    f.head(
        "keepalived_script_status",
        "gauge",
        "Status of a vrrp_script: 1 good, 0 bad or no result yet.",
    );
    for s in &snapshot.scripts {
        let value = u64::from(s.status == ScriptStatus::Good);
        f.sample(
            "keepalived_script_status",
            &labels(&[("name", &s.name)]),
            value,
        );
    }

    f.head(
        "keepalived_script_state",
        "gauge",
        "State of a vrrp_script's run: 0 idle, 1 running, 2 termination requested (SIGTERM \
         after its timeout), 3 termination forced (SIGKILL).",
    );
    for s in &snapshot.scripts {
        let value = u64::from(s.run_phase.number());
        f.sample(
            "keepalived_script_state",
            &labels(&[("name", &s.name)]),
            value,
        );
    }
    f.head(
        "keepalived_rs_dropped_total",
        "counter",
        "Packets an instance dropped, by reason.",
    );
    for i in &snapshot.instances {
        for (reason, n) in &i.drops {
            f.sample(
                "keepalived_rs_dropped_total",
                &instance_labels(i, &[("reason", reason)]),
                *n,
            );
        }
    }
    f.head(
        "keepalived_rs_transitions_total",
        "counter",
        "State changes, by the state entered and the cause.",
    );
    for i in &snapshot.instances {
        for (state, cause, n) in &i.transitions {
            f.sample(
                "keepalived_rs_transitions_total",
                &instance_labels(i, &[("state", state.name()), ("cause", cause)]),
                *n,
            );
        }
    }
    f.head(
        "keepalived_rs_near_failovers_total",
        "counter",
        "Adverts heard in BACKUP when the Master_Down_Timer had run more than half.",
    );
    for i in &snapshot.instances {
        f.sample(
            "keepalived_rs_near_failovers_total",
            &instance_labels(i, &[]),
            i.near_failovers,
        );
    }
    let name = "keepalived_rs_advert_jitter_seconds";
    f.head(
        name,
        "histogram",
        "How far the gap between two adverts heard in BACKUP is from the advert interval.",
    );
    for i in &snapshot.instances {
        let (buckets, count, sum_us) = i.jitter;
        for (le, n) in JITTER_BUCKETS.iter().zip(buckets) {
            let le = le.to_string();
            let _ = writeln!(
                f.out,
                "{name}_bucket{} {n}",
                instance_labels(i, &[("le", &le)])
            );
        }
        let all = instance_labels(i, &[]);
        let _ = writeln!(
            f.out,
            "{name}_bucket{} {count}",
            instance_labels(i, &[("le", "+Inf")])
        );
        let _ = writeln!(f.out, "{name}_sum{all} {}", sum_us as f64 / 1e6);
        let _ = writeln!(f.out, "{name}_count{all} {count}");
    }
    f.head(
        "keepalived_rs_instance_drained",
        "gauge",
        "1 when the instance is drained (keepalivedctl drain).",
    );
    for i in &snapshot.instances {
        f.sample(
            "keepalived_rs_instance_drained",
            &instance_labels(i, &[]),
            u64::from(i.drained),
        );
    }
    f.head(
        "keepalived_rs_instances_drained",
        "gauge",
        "Number of drained instances.",
    );
    let drained = snapshot.instances.iter().filter(|i| i.drained).count();
    f.sample(
        "keepalived_rs_instances_drained",
        "",
        u64::try_from(drained).unwrap_or(u64::MAX),
    );
    f.head(
        "keepalived_rs_priority",
        "gauge",
        "Priority of an instance: the configured one (kind=\"base\") and after tracking (kind=\"effective\").",
    );
    for i in &snapshot.instances {
        for (kind, p) in [
            ("base", i.base_priority),
            ("effective", i.effective_priority),
        ] {
            f.sample(
                "keepalived_rs_priority",
                &instance_labels(i, &[("kind", kind)]),
                u64::from(p),
            );
        }
    }
    f.head(
        "keepalived_rs_real_server_up",
        "gauge",
        "1 when the real server's checks pass.",
    );
    for v in &snapshot.virtual_servers {
        for r in &v.real_servers {
            let l = labels(&[("virtual_server", &v.name), ("real_server", &r.name)]);
            f.sample("keepalived_rs_real_server_up", &l, u64::from(r.alive));
        }
    }
    f.head(
        "keepalived_rs_real_server_check_latency_microseconds",
        "gauge",
        "How long the last check of the real server took.",
    );
    for v in &snapshot.virtual_servers {
        for r in &v.real_servers {
            if let Some(us) = r.check_latency_us {
                let l = labels(&[("virtual_server", &v.name), ("real_server", &r.name)]);
                f.sample(
                    "keepalived_rs_real_server_check_latency_microseconds",
                    &l,
                    us,
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{InstanceState, RunPhase, ScriptSnapshot, VipSnapshot};

    /// Checks every line against the text format: a comment (`# HELP name …`, `# TYPE name
    /// kind`, the TYPE before any sample of the family and once), or `name{labels} value`
    /// with a metric name of the family announced last.
    pub fn check_text_format(text: &str) -> Result<usize, String> {
        let mut typed = std::collections::HashSet::new();
        let mut family = String::new();
        let mut samples = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap_or_default().to_string();
                let kind = parts.next().unwrap_or_default();
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(format!("bad type: {line}"));
                }
                if !typed.insert(name.clone()) {
                    return Err(format!("family typed twice: {line}"));
                }
                family = name;
            } else if line.starts_with("# HELP ") || line.is_empty() {
            } else {
                let (series, value) = line
                    .rsplit_once(' ')
                    .ok_or_else(|| format!("no value: {line}"))?;
                value
                    .parse::<f64>()
                    .map_err(|_| format!("bad value: {line}"))?;
                let name = series.split('{').next().unwrap_or_default();
                let histogram_part = ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(family.as_str()));
                if name != family && !histogram_part {
                    return Err(format!("sample outside its family {family}: {line}"));
                }
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                {
                    return Err(format!("bad name: {line}"));
                }
                if let Some(l) = series.strip_prefix(name)
                    && !(l.is_empty() || (l.starts_with('{') && l.ends_with('}')))
                {
                    return Err(format!("bad labels: {line}"));
                }
                samples += 1;
            }
        }
        Ok(samples)
    }

    #[test]
    fn the_exporters_names_and_ours_render_in_the_text_format() {
        let snapshot = Snapshot {
            instances: vec![InstanceSnapshot {
                name: "VI \"1\"".into(),
                interface: "eth0".into(),
                vrid: 51,
                state: InstanceState::Master,
                drained: true,
                base_priority: 150,
                effective_priority: 140,
                garp_delay_secs: 5,
                addresses: vec![
                    VipSnapshot {
                        address: "192.0.2.100".parse().expect("address"),
                        prefix_len: 32,
                        device: "eth0".into(),
                        scope: "global".into(),
                        ipv6_options: String::new(),
                    },
                    VipSnapshot {
                        address: "2001:db8::1".parse().expect("address"),
                        prefix_len: 64,
                        device: "eth0".into(),
                        scope: "global".into(),
                        ipv6_options: String::new(),
                    },
                ],
                stats: StatsSnapshot {
                    advert_sent: 7,
                    ..StatsSnapshot::default()
                },
                drops: vec![("ttl".into(), 2)],
                transitions: vec![(InstanceState::Master, "master_down", 1)],
                ..InstanceSnapshot::default()
            }],
            scripts: vec![
                ScriptSnapshot {
                    name: "chk".into(),
                    status: ScriptStatus::Good,
                    ..ScriptSnapshot::default()
                },
                ScriptSnapshot {
                    name: "slow".into(),
                    run_phase: RunPhase::TerminationRequested,
                    ..ScriptSnapshot::default()
                },
                ScriptSnapshot {
                    name: "stuck".into(),
                    run_phase: RunPhase::TerminationForced,
                    ..ScriptSnapshot::default()
                },
            ],
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        assert!(
            check_text_format(&text).is_ok(),
            "{:?}",
            check_text_format(&text)
        );
        let l = "{iname=\"VI \\\"1\\\"\",intf=\"eth0\",vrid=\"51\"";
        for line in [
            "keepalived_up 1".to_string(),
            format!("keepalived_vrrp_state{l},ip_address=\"192.0.2.100\"}} 2"),
            format!("keepalived_vrrp_state{l},ip_address=\"2001:db8::1/64\"}} 2"),
            format!("keepalived_advertisements_sent_total{l}}} 7"),
            format!("keepalived_gratuitous_arp_delay_total{l}}} 5"),
            "keepalived_script_status{name=\"chk\"} 1".to_string(),
            "keepalived_script_state{name=\"chk\"} 0".to_string(),
            "keepalived_script_state{name=\"slow\"} 2".to_string(),
            "keepalived_script_state{name=\"stuck\"} 3".to_string(),
            format!("keepalived_rs_dropped_total{l},reason=\"ttl\"}} 2"),
            format!(
                "keepalived_rs_transitions_total{l},state=\"MASTER\",cause=\"master_down\"}} 1"
            ),
            format!("keepalived_rs_instance_drained{l}}} 1"),
            "keepalived_rs_instances_drained 1".to_string(),
            format!("keepalived_rs_priority{l},kind=\"effective\"}} 140"),
        ] {
            assert!(text.lines().any(|t| t == line), "missing {line}\n{text}");
        }
        assert!(check_text_format("x{a=\"b\"} nope").is_err());
        assert!(check_text_format("# TYPE x counter\ny 1").is_err());
    }
}

#[cfg(test)]
mod dashboard {
    use super::*;
    use crate::dump::{InstanceSnapshot, InstanceState, ScriptSnapshot, VipSnapshot};

    /// The metric names an expression uses: words of the form `keepalived_…`.
    fn names(expr: &str) -> Vec<&str> {
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("keepalived_"))
            .collect()
    }

    #[test]
    fn every_metric_of_the_grafana_dashboard_is_served() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/grafana-keepalived.json"))
                .expect("the dashboard is JSON");
        let snapshot = Snapshot {
            instances: vec![InstanceSnapshot {
                name: "VI_1".into(),
                state: InstanceState::Backup,
                addresses: vec![VipSnapshot {
                    address: "192.0.2.100".parse().expect("address"),
                    prefix_len: 32,
                    device: "eth0".into(),
                    scope: "global".into(),
                    ipv6_options: String::new(),
                }],
                drops: vec![("ttl".into(), 1)],
                transitions: vec![(InstanceState::Backup, "start", 1)],
                ..InstanceSnapshot::default()
            }],
            scripts: vec![ScriptSnapshot {
                name: "chk".into(),
                ..ScriptSnapshot::default()
            }],
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        let served: std::collections::HashSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        let mut used = 0;
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default();
                for name in names(expr) {
                    used += 1;
                    assert!(served.contains(name), "{name} (panel {})", panel["title"]);
                }
            }
        }
        assert!(used > 10);
    }
}
