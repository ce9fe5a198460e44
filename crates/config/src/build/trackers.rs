//! `vrrp_track_file`, `vrrp_track_process` and `garp_group` blocks.

use std::path::PathBuf;

use super::Cx;
use crate::model::{GarpGroup, TrackFileDef, TrackGroupDef, TrackProcessDef};
use crate::tree::Statement;

/// Reads `vrrp_track_file NAME { file PATH; weight W [reverse]; init_file [V] [overwrite] }`.
pub fn track_file(cx: &mut Cx<'_>, stmt: &Statement) -> Option<TrackFileDef> {
    let name = cx.block_name(stmt)?;
    let mut def = TrackFileDef {
        name,
        location: stmt.location.clone(),
        file: None,
        weight: 1,
        reverse: false,
        init_file: None,
    };
    let mut weight_set = false;
    for item in cx.block(stmt) {
        match item.keyword() {
            // The first file and the first weight read stand (2.2.7).
            "file" if def.file.is_some() => already_set(cx, item, "File", "file", &def.name),
            "weight" if weight_set => already_set(cx, item, "Weight", "file", &def.name),
            "file" => match item.arg_texts().next() {
                Some(path) => def.file = Some(PathBuf::from(path)),
                None => cx.error(&item.location, "track file file name missing"),
            },
            "weight" if item.args().is_empty() => cx.error(
                &item.location,
                format!("No weight specified for track file {} - ignoring", def.name),
            ),
            "weight" => {
                match cx.int(item, -254, 254) {
                    Some(v) => {
                        def.weight = v as i32;
                        weight_set = true;
                    }
                    None => {
                        if let Some(v) = item.arg_texts().next() {
                            cx.error(&item.location, format!("Weight ({v}) for track_file {} must be between [-254..254] inclusive. Ignoring...", def.name));
                        }
                    }
                }
                def.reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
                weight_option(cx, item, "track_file", &def.name, weight_set);
            }
            "init_file" => {
                for option in item.arg_texts() {
                    if option != "overwrite" && option.parse::<i64>().is_err() {
                        cx.error(
                            &item.location,
                            format!("Unknown track file init option {option}"),
                        );
                    }
                }
                def.init_file = Some(item.arg_texts().map(str::to_string).collect())
            }
            _ => cx.unknown(item, &["file", "weight", "init_file"]),
        }
    }
    if def.file.is_none() {
        cx.error(
            &close_location(stmt),
            format!("No file set for track_file {} - ignoring", def.name),
        );
        return None;
    }
    Some(def)
}

const PROCESS_KEYWORDS: &[&str] = &[
    "process",
    "param_match",
    "weight",
    "quorum",
    "quorum_max",
    "delay",
    "fork_delay",
    "terminate_delay",
    "full_command",
];

/// Reads `vrrp_track_process NAME { process CMD; … }`.
pub fn track_process(cx: &mut Cx<'_>, stmt: &Statement) -> Option<TrackProcessDef> {
    let name = cx.block_name(stmt)?;
    let mut def = TrackProcessDef {
        name,
        location: stmt.location.clone(),
        process: None,
        param_match: None,
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        delay: None,
        fork_delay: None,
        terminate_delay: None,
        full_command: false,
    };
    let mut weight_set = false;
    for item in cx.block(stmt) {
        match item.keyword() {
            // The first process and the first weight read stand (2.2.7).
            "process" if def.process.is_some() => {
                already_set(cx, item, "Process", "process", &def.name)
            }
            "weight" if weight_set => already_set(cx, item, "Weight", "process", &def.name),
            "process" => {
                def.process = cx
                    .arg(item)
                    .map(|_| item.arg_texts().map(str::to_string).collect())
            }
            "param_match" => match item.arg_texts().next() {
                Some(v @ ("initial" | "partial")) => def.param_match = Some(v.to_string()),
                Some(v) => cx.error(
                    &item.location,
                    format!("Invalid param_match type {v} - ignoring"),
                ),
                // 2.2.7: `param_match` alone asks for the exact arguments.
                None => def.param_match = Some("exact".to_string()),
            },
            "weight" if item.args().is_empty() => cx.error(
                &item.location,
                format!(
                    "No weight specified for track process {} - ignoring",
                    def.name
                ),
            ),
            "weight" => {
                match cx.int(item, -254, 254) {
                    Some(v) => {
                        def.weight = v as i32;
                        weight_set = true;
                    }
                    None => {
                        if let Some(v) = item.arg_texts().next() {
                            cx.error(&item.location, format!("Weight ({v}) for vrrp_track_process {} must be between [-254..254] inclusive. Ignoring...", def.name));
                        }
                    }
                }
                def.reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
                weight_option(cx, item, "vrrp_track_process", &def.name, weight_set);
            }
            "quorum" => match cx.int(item, 1, 65535) {
                Some(v) => def.quorum = v as u32,
                None => {
                    if let Some(v) = item.arg_texts().next() {
                        cx.error(&item.location, format!("Quorum ({v}) for vrrp_track_process {} must be between [1..65535] inclusive. Ignoring...", def.name));
                    }
                }
            },
            "quorum_max" => {
                def.quorum_max = cx.uint(item, 65535);
                if def.quorum_max.is_none()
                    && let Some(v) = item.arg_texts().next()
                {
                    cx.error(&item.location, format!("quorum_max ({v}) for vrrp_track_process {} must be between [0..65535] inclusive. Ignoring...", def.name));
                }
            }
            "delay" => def.delay = process_delay(cx, item, &def.name),
            "fork_delay" => def.fork_delay = process_delay(cx, item, &def.name),
            "terminate_delay" => def.terminate_delay = process_delay(cx, item, &def.name),
            "full_command" => def.full_command = true,
            _ => cx.unknown(item, PROCESS_KEYWORDS),
        }
    }
    if def.process.is_none() {
        cx.error(
            &close_location(stmt),
            format!("track process '{}' process name not specified", def.name),
        );
        return None;
    }
    Some(def)
}

/// A track process's `delay`, `fork_delay` or `terminate_delay` (seconds in [0.000001,
/// 3600]), refused as 2.2.7 refuses it: the number reader's line (`negative number '-1'`,
/// `invalid number 'x'`), then `KEYWORD (V) for vrrp_track_process NAME must be between
/// [0.000001..3600] inclusive. Ignoring...` (corpus transcripts).
fn process_delay(cx: &mut Cx<'_>, item: &Statement, name: &str) -> Option<f64> {
    let Some(text) = item.arg_texts().next() else {
        // No value: the reader says the parameter is missing.
        return cx.decimal(item, 0.000_001, 3600.0);
    };
    let negative = text
        .strip_prefix('-')
        .is_some_and(|rest| rest.parse::<f64>().is_ok());
    let value = if negative {
        cx.error(&item.location, format!("negative number '{text}'"));
        None
    } else {
        cx.decimal(item, 0.000_001, 3600.0)
    };
    if value.is_none() {
        let keyword = item.keyword();
        cx.error(
            &item.location,
            format!(
                "{keyword} ({text}) for vrrp_track_process {name} must be between \
                 [0.000001..3600] inclusive. Ignoring..."
            ),
        );
    }
    value
}

/// The word after a tracker's weight: `reverse`, or 2.2.7's `KIND NAME unknown weight option
/// WORD` (the weight itself is kept).
fn weight_option(cx: &mut Cx<'_>, item: &Statement, kind: &str, name: &str, weight_read: bool) {
    if let Some(option) = item.args().get(1).map(|w| w.text.as_str())
        && weight_read
        && option != "reverse"
    {
        cx.error(
            &item.location,
            format!("{kind} {name} unknown weight option {option}"),
        );
    }
}

/// Reads `garp_group { garp_interval S; gna_interval S; interface IF; interfaces { … } }`:
/// an interface already in a group (`taken`, or this one) is named and left out, as 2.2.7
/// does. 2.2.7 numbers a group in its lines by how many groups so far had an interface in an
/// `interfaces` list, this one included (0 for a group without one; observed).
pub fn garp_group(cx: &mut Cx<'_>, stmt: &Statement, taken: &[String]) -> Option<GarpGroup> {
    let mut number = 0;
    let mut group = GarpGroup {
        location: stmt.location.clone(),
        interfaces: Vec::new(),
        garp_interval: None,
        gna_interval: None,
    };
    for item in cx.block(stmt) {
        match item.keyword() {
            "garp_interval" => {
                group.garp_interval = super::global_rules::garp_group_interval(cx, item)
            }
            "gna_interval" => {
                group.gna_interval = super::global_rules::garp_group_interval(cx, item)
            }
            "interface" => {
                if let Some(ifname) = cx.arg(item) {
                    garp_interface(cx, &item.location, ifname);
                    if taken.iter().chain(&group.interfaces).any(|i| i == ifname) {
                        cx.error(
                            &item.location,
                            format!("garp_group already specified for {ifname} - ignoring"),
                        );
                    } else {
                        group.interfaces.push(ifname.to_string());
                    }
                }
            }
            "interfaces" => {
                cx.list_block_params(item);
                let words: Vec<&str> = cx
                    .block(item)
                    .iter()
                    .flat_map(|line| line.words.iter().map(|w| w.text.as_str()))
                    .collect();
                let mut repeated = 0;
                // Checked at the list's end, where 2.2.7 names a missing one too.
                let end = close_location(item);
                for line in cx.block(item) {
                    for word in &line.words {
                        if number == 0 {
                            cx.garp_groups_numbered += 1;
                            number = cx.garp_groups_numbered;
                        }
                        garp_interface(cx, &end, &word.text);
                        if taken
                            .iter()
                            .chain(&group.interfaces)
                            .any(|i| *i == word.text)
                        {
                            repeated += 1;
                        } else {
                            group.interfaces.push(word.text.to_string());
                        }
                    }
                }
                // Said at the list's end, naming its second word whichever one it was
                // (2.2.7's own slip, observed).
                for _ in 0..repeated {
                    let named = words.get(1).copied().unwrap_or("(null)");
                    cx.error(
                        &close_location(item),
                        format!("garp_group already specified for {named} - ignoring"),
                    );
                }
                if cx.block(item).is_empty() {
                    // Named at the list's end, as 2.2.7 names it.
                    let at = item
                        .block
                        .as_ref()
                        .and_then(|b| b.close.clone())
                        .unwrap_or_else(|| item.location.clone());
                    cx.error(&at, "Warning - empty garp_group interfaces block");
                }
            }
            _ => cx.unknown(
                item,
                &["garp_interval", "gna_interval", "interface", "interfaces"],
            ),
        }
    }
    if group.garp_interval.is_none() && group.gna_interval.is_none() {
        cx.error(
            &close_location(stmt),
            format!("garp group {number} does not have any delay set - removing"),
        );
        return None;
    }
    Some(group)
}

fn garp_interface(cx: &mut Cx<'_>, at: &crate::diagnostic::Location, ifname: &str) {
    cx.interface_must_exist(at, ifname, || {
        format!("WARNING - interface {ifname} specified for garp_group doesn't exist")
    });
}

/// A tracked file's or process's setting given again: `THING already set for track file
/// NAME - ignoring WORD` (2.2.7 keeps the first).
fn already_set(cx: &mut Cx<'_>, item: &Statement, thing: &str, kind: &str, name: &str) {
    let word = item.arg_texts().next().unwrap_or_default();
    cx.error(
        &item.location,
        format!("{thing} already set for track {kind} {name} - ignoring {word}"),
    );
}

/// Where a statement's block closed (keepalived reports end-of-block checks there).
fn close_location(stmt: &Statement) -> crate::diagnostic::Location {
    stmt.block
        .as_ref()
        .and_then(|b| b.close.clone())
        .unwrap_or_else(|| stmt.location.clone())
}

/// `track_group NAME { group { … } }`: a name is required and must be new (2.2.7's lines);
/// the instances listed are not checked.
pub fn track_group(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    defined: &[TrackGroupDef],
) -> Option<TrackGroupDef> {
    let name = cx
        .sole_name(stmt, "track_group must have a name - skipping")?
        .to_string();
    if defined.iter().any(|g| g.name == name) {
        cx.error(
            &stmt.location,
            format!("track_group {name} already defined"),
        );
        return None;
    }
    let mut group = TrackGroupDef {
        name,
        instances: Vec::new(),
        location: stmt.location.clone(),
    };
    for item in cx.block(stmt) {
        match item.keyword() {
            "group" => {
                cx.list_block_params(item);
                group.instances.extend(cx.word_list(item));
            }
            _ => cx.unknown(item, &["group"]),
        }
    }
    Some(group)
}
