//! `vrrp_script NAME { … }`, with keepalived 2.2.7's value rules and messages: whole seconds
//! for `interval` and `timeout` (1..=4294, 0 raised to 1), `rise` / `fall` from 1, `weight` in
//! [-253, 253], a `user` that must exist, and a block without `script` removed.

use super::Cx;
use crate::diagnostic::Location;
use crate::model::VrrpScript;
use crate::tree::Statement;

const KEYWORDS: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

/// The largest `interval` / `timeout` keepalived takes, in seconds.
const MAX_SECONDS: u32 = 4294;

/// Reads a vrrp_script block; `None` when it has no name, no script, or a user that does not
/// exist (keepalived removes such a script, so tracking it reports "not found").
pub fn build(cx: &mut Cx<'_>, stmt: &Statement) -> Option<VrrpScript> {
    let name = cx.block_name(stmt)?;
    let mut script = VrrpScript {
        name,
        location: stmt.location.clone(),
        command: None,
        interval: 1.0,
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
        close: stmt.block.as_ref().and_then(|b| b.close.clone()),
        disabled: false,
    };
    let mut unusable_user = false;
    for item in cx.block(stmt) {
        let at = &item.location;
        match item.keyword() {
            // keepalived accepts a bare `script` silently; the script then has no command.
            // (A quote never closed leaves no word either, but the line is split itself.)
            "script" if item.args().is_empty() && item.raw.is_none() => {}
            "script" => script.command = cx.command(item),
            "interval" => {
                if let Some(v) = seconds(cx, item, &script.name, "interval") {
                    script.interval = f64::from(v);
                }
            }
            "timeout" => {
                if let Some(v) = seconds(cx, item, &script.name, "timeout") {
                    script.timeout = Some(f64::from(v));
                }
            }
            "weight" => weight(cx, item, &mut script),
            "rise" | "fall" => {
                let Some(text) = cx.arg(item) else { continue };
                let value = cx.read_unsigned(at, text, 1, i32::MAX.unsigned_abs());
                let keyword = item.keyword();
                if value.is_none() {
                    let message = format!(
                        "({}): vrrp script {keyword} value '{text}' invalid, defaulting to 1",
                        script.name
                    );
                    cx.error(at, message);
                }
                let value = value.unwrap_or(1);
                if keyword == "rise" {
                    script.rise = value;
                } else {
                    script.fall = value;
                }
            }
            "user" => {
                script.user = cx.run_as(item);
                if let Some(run_as) = &script.user
                    && !user_exists(cx, run_as)
                {
                    unusable_user = true;
                    // keepalived shows the command as its argv, each word in single quotes.
                    let written = script.command.as_ref().map_or(String::new(), |c| {
                        let words: Vec<String> = c.argv.iter().map(|a| format!("'{a}'")).collect();
                        words.join(" ")
                    });
                    cx.error(at, format!("Unable to set uid/gid for script {written}"));
                }
            }
            "init_fail" => script.init_fail = true,
            _ => cx.unknown(item, KEYWORDS),
        }
    }
    if script.command.is_none() {
        let at = script
            .close
            .clone()
            .unwrap_or_else(|| script.location.clone());
        cx.error(
            &at,
            format!("No script set for vrrp_script {} - removing", script.name),
        );
        return None;
    }
    (!unusable_user).then_some(script)
}

/// `interval` / `timeout`: whole seconds up to 4294; 0 is raised to 1 with a warning, a bad
/// value leaves the default with keepalived's two messages.
fn seconds(cx: &mut Cx<'_>, item: &Statement, name: &str, keyword: &str) -> Option<u32> {
    let text = cx.arg(item)?;
    let at: &Location = &item.location;
    match cx.read_unsigned(at, text, 0, MAX_SECONDS) {
        Some(0) => {
            cx.error(
                at,
                format!("({name}): vrrp script {keyword} must be greater than 0, setting to 1"),
            );
            Some(1)
        }
        Some(v) => Some(v),
        None => {
            let message = if keyword == "interval" {
                format!(
                    "({name}): vrrp script interval '{text}' must be between 1 and {MAX_SECONDS} - ignoring"
                )
            } else {
                format!("({name}): vrrp script {keyword} '{text}' invalid - ignoring")
            };
            cx.error(at, message);
            None
        }
    }
}

/// `weight W [reverse|noreverse]`.
fn weight(cx: &mut Cx<'_>, item: &Statement, script: &mut VrrpScript) {
    let Some(text) = cx.arg(item) else { return };
    let name = &script.name;
    match cx.read_int(&item.location, text, -253, 253) {
        Some(v) => script.weight = v as i32,
        None => cx.error(
            &item.location,
            format!("vrrp_script {name} weight {text} must be in [-253, 253]"),
        ),
    }
    match item.args().get(1).map(|w| w.text.as_str()) {
        Some("reverse") => script.weight_reverse = true,
        Some("noreverse") | None => {}
        Some(other) => cx.error(
            &item.location,
            format!("vrrp_script {name} unknown weight option {other}"),
        ),
    }
}

/// Whether the user (and group, when one is named) exist on this machine.
fn user_exists(cx: &Cx<'_>, run_as: &crate::model::RunAs) -> bool {
    cx.host.user(&run_as.user).is_some()
        && run_as
            .group
            .as_ref()
            .is_none_or(|group| cx.host.group(group).is_some())
}
