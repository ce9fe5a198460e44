//! The status as a person reads it: one line per instance, one per script.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// `a, b, c` from a JSON array of strings.
pub fn names(value: &Value) -> String {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `3m12s ago` from seconds since the epoch.
fn ago(epoch: Option<f64>) -> String {
    let Some(then) = epoch else {
        return "-".to_string();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    // Whole seconds; a float out of range saturates.
    let secs = (now - then).max(0.0) as u64;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h ago")
    } else if h > 0 {
        format!("{h}h{m}m ago")
    } else if m > 0 {
        format!("{m}m{s}s ago")
    } else {
        format!("{s}s ago")
    }
}

/// Columns padded to their widest cell.
fn columns(rows: &[Vec<String>]) -> String {
    let width = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..width)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// The VIPs of an instance: `192.0.2.100, 2001:db8::1/64`.
fn vips(instance: &Value) -> String {
    let list: Vec<String> = instance["vips"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let address = text(&v["address"]);
            let host = if address.contains(':') { 128 } else { 32 };
            match v["prefix_len"].as_u64() {
                Some(p) if p != host => format!("{address}/{p}"),
                _ => address,
            }
        })
        .collect();
    if list.is_empty() {
        "-".to_string()
    } else {
        list.join(", ")
    }
}

/// Who is master, as this instance sees it.
fn master(instance: &Value) -> String {
    if instance["state"] == "MASTER" {
        return "this node".to_string();
    }
    match &instance["master"] {
        Value::Object(m) => format!(
            "{} (prio {})",
            text(&m["address"].clone()),
            text(&m["priority"].clone())
        ),
        _ => "-".to_string(),
    }
}

/// The whole status.
pub fn status(status: &Value) -> String {
    let mut rows = vec![
        [
            "INSTANCE",
            "STATE",
            "PRIO",
            "VRID",
            "INTERFACE",
            "MASTER",
            "VIPS",
            "CHANGED",
            "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for i in status["instances"].as_array().into_iter().flatten() {
        let base = text(&i["base_priority"]);
        let effective = text(&i["effective_priority"]);
        let priority = if base == effective {
            base
        } else {
            format!("{effective} (base {base})")
        };
        let note = if i["drained"] == true { "drained" } else { "" };
        rows.push(vec![
            text(&i["name"]),
            text(&i["state"]),
            priority,
            text(&i["vrid"]),
            text(&i["interface"]),
            master(i),
            vips(i),
            ago(i["last_transition"].as_f64()),
            note.to_string(),
        ]);
    }
    let mut out = columns(&rows);
    let scripts: Vec<&Value> = status["scripts"].as_array().into_iter().flatten().collect();
    if !scripts.is_empty() {
        let mut rows = vec![
            ["SCRIPT", "STATUS", "LAST RESULT", "RISE/FALL", "STREAK"]
                .map(String::from)
                .to_vec(),
        ];
        for s in scripts {
            rows.push(vec![
                text(&s["name"]),
                text(&s["status"]),
                text(&s["last_result"]),
                format!("{}/{}", text(&s["rise"]), text(&s["fall"])),
                text(&s["streak"]),
            ]);
        }
        out.push('\n');
        out.push_str(&columns(&rows));
    }
    out
}

/// One instance in detail: `key: value` lines.
pub fn instance(i: &Value) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| out.push_str(&format!("{key:<20} {value}\n"));
    line("instance", text(&i["name"]));
    line("state", text(&i["state"]));
    line("wanted state", text(&i["wanted_state"]));
    line("drained", text(&i["drained"]));
    line("interface", text(&i["interface"]));
    line("vrid", text(&i["vrid"]));
    line("version", text(&i["version"]));
    line("base priority", text(&i["base_priority"]));
    line("effective priority", text(&i["effective_priority"]));
    line("master", master(i));
    line("last transition", ago(i["last_transition"].as_f64()));
    line("vips", vips(i));
    for t in i["tracked_interfaces"].as_array().into_iter().flatten() {
        line(
            "tracked interface",
            format!("{} weight {}", text(&t["name"]), text(&t["weight"])),
        );
    }
    for t in i["tracked_scripts"].as_array().into_iter().flatten() {
        line(
            "tracked script",
            format!(
                "{} weight {} {}",
                text(&t["name"]),
                text(&t["weight"]),
                text(&t["status"])
            ),
        );
    }
    if let Value::Object(stats) = &i["stats"] {
        for (key, value) in stats {
            line(key, text(value));
        }
    }
    if let Value::Object(drops) = &i["drops"] {
        for (reason, n) in drops {
            line(&format!("dropped ({reason})"), text(n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_shows_state_master_and_drain() {
        let view = json!({
            "instances": [
                {"name": "VI_1", "state": "MASTER", "base_priority": 150,
                 "effective_priority": 150, "vrid": 51, "interface": "eth0", "drained": false,
                 "vips": [{"address": "192.0.2.100", "prefix_len": 32}],
                 "last_transition": null},
                {"name": "VI_2", "state": "BACKUP", "base_priority": 200,
                 "effective_priority": 180, "vrid": 52, "interface": "eth0", "drained": true,
                 "master": {"address": "192.0.2.20", "priority": 100},
                 "vips": [{"address": "2001:db8::1", "prefix_len": 64}],
                 "last_transition": null},
            ],
            "scripts": [{"name": "chk", "status": "GOOD", "last_result": "success",
                         "rise": 2, "fall": 3, "streak": 0}],
        });
        let table = status(&view);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("INSTANCE  STATE"));
        assert!(lines[1].contains("VI_1") && lines[1].contains("this node"));
        assert!(lines[2].contains("180 (base 200)"));
        assert!(lines[2].contains("192.0.2.20 (prio 100)"));
        assert!(lines[2].contains("2001:db8::1/64") && lines[2].ends_with("drained"));
        assert!(table.contains("chk") && table.contains("2/3"));
    }
}
