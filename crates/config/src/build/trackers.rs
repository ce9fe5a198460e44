//! `vrrp_track_file`, `vrrp_track_process` and `garp_group` blocks.

use std::path::PathBuf;

use super::Cx;
use crate::model::{GarpGroup, TrackFileDef, TrackProcessDef};
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
    for item in cx.block(stmt) {
        match item.keyword() {
            "file" => def.file = cx.arg(item).map(PathBuf::from),
            "weight" => {
                if let Some(v) = cx.int(item, -254, 254) {
                    def.weight = v as i32;
                }
                def.reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
            }
            "init_file" => def.init_file = Some(item.arg_texts().map(str::to_string).collect()),
            _ => cx.unknown(item, &["file", "weight", "init_file"]),
        }
    }
    if def.file.is_none() {
        cx.error(
            &stmt.location,
            format!("No file set for track_file {}", def.name),
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
    for item in cx.block(stmt) {
        match item.keyword() {
            "process" => {
                def.process = cx
                    .arg(item)
                    .map(|_| item.arg_texts().map(str::to_string).collect())
            }
            "param_match" => def.param_match = cx.arg(item).map(str::to_string),
            "weight" => {
                if let Some(v) = cx.int(item, -254, 254) {
                    def.weight = v as i32;
                }
                def.reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
            }
            "quorum" => {
                if let Some(v) = cx.uint(item, 65535) {
                    def.quorum = v;
                }
            }
            "quorum_max" => def.quorum_max = cx.uint(item, 65535),
            "delay" => def.delay = cx.decimal(item, 0.0, 65535.0),
            "fork_delay" => def.fork_delay = cx.decimal(item, 0.0, 65535.0),
            "terminate_delay" => def.terminate_delay = cx.decimal(item, 0.0, 65535.0),
            "full_command" => def.full_command = true,
            _ => cx.unknown(item, PROCESS_KEYWORDS),
        }
    }
    if def.process.is_none() {
        cx.error(
            &stmt.location,
            format!("No process specified for track_process {}", def.name),
        );
        return None;
    }
    Some(def)
}

/// Reads `garp_group { garp_interval S; gna_interval S; interface IF; interfaces { … } }`.
pub fn garp_group(cx: &mut Cx<'_>, stmt: &Statement) -> Option<GarpGroup> {
    let mut group = GarpGroup {
        location: stmt.location.clone(),
        interfaces: Vec::new(),
        garp_interval: None,
        gna_interval: None,
    };
    for item in cx.block(stmt) {
        match item.keyword() {
            "garp_interval" => group.garp_interval = cx.decimal(item, 0.0, 1.0),
            "gna_interval" => group.gna_interval = cx.decimal(item, 0.0, 1.0),
            "interface" => group.interfaces.extend(cx.arg(item).map(str::to_string)),
            "interfaces" => group.interfaces.extend(cx.word_list(item)),
            _ => cx.unknown(
                item,
                &["garp_interval", "gna_interval", "interface", "interfaces"],
            ),
        }
    }
    Some(group)
}
