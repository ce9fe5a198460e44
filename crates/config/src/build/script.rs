//! `vrrp_script NAME { … }`.

use super::Cx;
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

/// Reads a vrrp_script block; `None` when it has no name.
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
    for item in cx.block(stmt) {
        match item.keyword() {
            // keepalived accepts a bare `script` silently; the script then has no command.
            "script" if item.args().is_empty() => {}
            "script" => script.command = cx.command(item),
            "interval" => {
                if let Some(v) = cx.decimal(item, 0.000001, 4294.0) {
                    script.interval = v;
                }
            }
            "timeout" => script.timeout = cx.decimal(item, 0.000001, 4294.0),
            "weight" => {
                let text = cx.arg(item).unwrap_or_default();
                match text.parse::<i32>() {
                    Ok(v) if (-253..=253).contains(&v) => script.weight = v,
                    _ if text.is_empty() => {}
                    _ => cx.error(
                        &item.location,
                        format!(
                            "vrrp_script {} weight {text} must be in [-253, 253]",
                            script.name
                        ),
                    ),
                }
                match item.args().get(1).map(|w| w.text.as_str()) {
                    Some("reverse") => script.weight_reverse = true,
                    Some("noreverse") | None => {}
                    Some(other) => {
                        cx.error(&item.location, format!("unknown weight option '{other}'"))
                    }
                }
            }
            "rise" => {
                if let Some(v) = cx.int(item, 1, i64::from(u32::MAX)) {
                    script.rise = v as u32;
                }
            }
            "fall" => {
                if let Some(v) = cx.int(item, 1, i64::from(u32::MAX)) {
                    script.fall = v as u32;
                }
            }
            "user" => script.user = cx.run_as(item),
            "init_fail" => script.init_fail = true,
            _ => cx.unknown(item, KEYWORDS),
        }
    }
    Some(script)
}
