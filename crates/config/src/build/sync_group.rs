//! `vrrp_sync_group NAME { … }`.

use super::Cx;
use super::track_list::TrackKind;
use crate::model::{NotifyScripts, SyncGroup, ThinVec};
use crate::tree::Statement;

const KEYWORDS: &[&str] = &[
    "group",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "track_bfd",
    "global_tracking",
    "sync_group_tracking_weight",
    "smtp_alert",
    "notify_priority_changes",
];

/// Reads a vrrp_sync_group block.
pub fn build(cx: &mut Cx<'_>, stmt: &Statement) -> Option<SyncGroup> {
    let name = cx
        .sole_name(stmt, "vrrp_sync_group must have a name - skipping")?
        .to_string();
    let mut group = SyncGroup {
        name,
        location: stmt.location.clone(),
        instances: Vec::new(),
        notify: NotifyScripts::default(),
        track_scripts: ThinVec::new(),
        track_interfaces: ThinVec::new(),
        track_files: ThinVec::new(),
        track_processes: ThinVec::new(),
        track_bfds: ThinVec::new(),
        sync_group_tracking_weight: false,
        smtp_alert: None,
        other: Vec::new(),
    };
    for item in cx.block(stmt) {
        if matches!(
            item.keyword(),
            "group"
                | "track_script"
                | "track_interface"
                | "track_file"
                | "track_process"
                | "track_bfd"
        ) {
            cx.list_block_params(item);
        }
        match item.keyword() {
            "group" if !group.instances.is_empty() => {
                // 2.2.7 keeps the first list and leaves this one's block unread; its reading
                // then names the `}` that ends the sync group (observed).
                cx.error(
                    &item.location,
                    format!("Group list already specified for sync group {}", group.name),
                );
                if item.block.is_some()
                    && let Some(close) = stmt.block.as_ref().and_then(|b| b.close.clone())
                {
                    cx.error(&close, "Unknown keyword '}'");
                }
            }
            "group" => {
                group.instances = cx.word_list(item);
                if group.instances.is_empty()
                    && let Some(block) = &item.block
                {
                    let at = block.close.clone().unwrap_or_else(|| block.open.clone());
                    cx.error(
                        &at,
                        format!("Warning - sync group {} has empty group block", group.name),
                    );
                }
            }
            keyword @ ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
            | "notify") => {
                let taken = group.notify.slot(keyword).is_some_and(|s| s.is_some());
                let what = format!("vrrp group {}: {keyword} script", group.name);
                if cx.first_wins(taken, item, &what)
                    && let Some(command) = cx.notify_command(item)
                    && let Some(slot) = group.notify.slot(keyword)
                {
                    *slot = Some(Box::new(command));
                }
            }
            "track_script" => {
                group.track_scripts = cx.track_list(item, &group.name.clone(), TrackKind::Script)
            }
            "track_interface" => {
                let owner = group.name.clone();
                cx.interface_track_list(item, &owner, &mut group.track_interfaces)
            }
            "track_file" => {
                group.track_files = cx.track_list(item, &group.name.clone(), TrackKind::File)
            }
            "track_process" => {
                group.track_processes = cx.track_list(item, &group.name.clone(), TrackKind::Process)
            }
            "global_tracking" => {
                cx.warning(&item.location, format!("({}) global_tracking is deprecated. Use track_interface/script/file on the sync group", group.name));
                group.sync_group_tracking_weight = true;
            }
            "sync_group_tracking_weight" => group.sync_group_tracking_weight = true,
            "smtp_alert" => {
                let read = cx.flag_or(item, |v| {
                    format!("Invalid vrrp_group smtp_alert parameter {v}")
                });
                if read.is_some() {
                    group.smtp_alert = read;
                }
            }
            "track_bfd" => {
                group.track_bfds = cx.track_list(item, &group.name.clone(), TrackKind::Bfd);
                group.other.push(cx.raw(item));
            }
            "notify_priority_changes" => group.other.push(cx.raw(item)),
            _ => cx.unknown(item, KEYWORDS),
        }
    }
    Some(group)
}
