//! Value rules of the vrrp_instance keywords keepalived 2.2.7 accepts but the model does not
//! give a meaning, and the gratuitous-ARP counts, with 2.2.7's wording (learnt by running it:
//! fixtures/corpus/gen-instance-*).

use super::Cx;
use crate::diagnostic::Location;
use crate::tree::Statement;

/// The most seconds 2.2.7 takes for a gratuitous-ARP delay (UINT_MAX / TIMER_HZ).
const GARP_SECONDS_MAX: u32 = 4294;

/// Checks an unmodelled instance keyword. Returns false when it is not one of them.
pub(crate) fn check(cx: &mut Cx<'_>, item: &Statement, name: &str) -> bool {
    let keyword = item.keyword();
    let value = item.arg_texts().next();
    let at = &item.location;
    match keyword {
        "down_timer_adverts"
        | "garp_lower_prio_delay"
        | "garp_lower_prio_repeat"
        | "mcast_dst_ip"
        | "notify_master_rx_lower_pri"
        | "lvs_sync_daemon_interface"
            if value.is_none() =>
        {
            if keyword == "lvs_sync_daemon_interface" {
                lvs_sync_daemon_interface(cx, at, name, None);
            }
            cx.arg(item);
        }
        "lvs_sync_daemon_interface" => lvs_sync_daemon_interface(cx, at, name, value),
        "kernel_rx_buf_size" if value.is_none() => {
            cx.error(at, format!("({name}) invalid kernel_rx_buf_size specified"));
        }
        "down_timer_adverts" => {
            if let Some(v) = value
                && cx.int_value(at, v, 1, 100).is_none()
            {
                cx.error(
                    at,
                    format!("({name}): Invalid down_timer_adverts [1:100] '{v}'"),
                );
            }
        }
        "garp_lower_prio_delay" => {
            // Seconds, up to UINT_MAX / TIMER_HZ as 2.2.7 reads them.
            if let Some(v) = value
                && cx.read_unsigned(at, v, 0, GARP_SECONDS_MAX).is_none()
            {
                cx.error(
                    at,
                    format!("({name}): garp_lower_prio_delay '{v}' invalid - ignoring"),
                );
            }
        }
        "garp_lower_prio_repeat" => {
            if let Some(v) = value
                && cx.read_unsigned(at, v, 0, i32::MAX as u32).is_none()
            {
                cx.error(
                    at,
                    format!("({name}): Invalid garp_lower_prio_repeat '{v}'"),
                );
            }
        }
        "kernel_rx_buf_size" => {
            if let Some(v) = value
                && !unsigned(cx, at, v)
            {
                cx.error(at, format!("({name}) invalid kernel_rx_buf_size specified"));
            }
        }
        "linkbeat_use_polling" => cx.error(
            at,
            format!(
                "({name}) 'linkbeat_use_polling' in vrrp instance deprecated - use \
                 linkbeat_interfaces block"
            ),
        ),
        "mcast_dst_ip" => {
            if let Some(v) = value {
                match v.parse::<std::net::IpAddr>() {
                    Ok(a) if a.is_multicast() => {}
                    Ok(_) => cx.error(
                        at,
                        format!("({name}) mcast_dst_ip {v} not multicast. Skipping..."),
                    ),
                    Err(_) => cx.error(
                        at,
                        format!("({name}) malformed mcast dest address {v}. Skipping..."),
                    ),
                }
            }
        }
        "skip_check_adv_addr" => {
            if let Some(v) = value
                && crate::values::parse_bool(v).is_none()
            {
                cx.error(
                    at,
                    format!("({name}) invalid skip_check_adv_addr {v} specified"),
                );
            }
        }
        "garp_extra_if" => garp_extra_if(cx, item, name),
        "use_vmac_addr"
        | "notify_deleted"
        | "notify_master_rx_lower_pri"
        | "use_ipvlan"
        | "promote_secondaries"
        | "old_unicast_checksum"
        | "unicast_fault_no_peer"
        | "track_src_ip"
        | "notify_priority_changes" => {}
        _ => return false,
    }
    true
}

/// `garp_extra_if [all] SECONDS` (0 to 86400), worded as keepalived 2.2.7 does (observed).
fn garp_extra_if(cx: &mut Cx<'_>, item: &Statement, name: &str) {
    let at = &item.location;
    let mut words = item.arg_texts().peekable();
    if words.peek() == Some(&"all") {
        words.next();
    }
    match words.next() {
        None => cx.error(
            at,
            format!("({name}): garp_extra_if specified without time - ignoring"),
        ),
        Some(v) => {
            if cx.int_value(at, v, 0, 86_400).is_none() {
                cx.error(
                    at,
                    format!("({name}): garp_extra_if '{v}' invalid - ignoring"),
                );
            }
        }
    }
}

/// An instance's `lvs_sync_daemon_interface IF`: deprecated, 2.2.7's second line indented to
/// line up under the first's text after the instance's name; it stands for the global
/// `lvs_sync_daemon IF NAME` unless one was read already (observed on the corpus).
fn lvs_sync_daemon_interface(cx: &mut Cx<'_>, at: &Location, name: &str, interface: Option<&str>) {
    cx.error(
        at,
        format!("({name}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."),
    );
    let indent = " ".repeat(name.len() + 4);
    cx.error(at, format!("{indent}Please use global lvs_sync_daemon"));
    let Some(interface) = interface else {
        return;
    };
    match cx.lvs_sync_daemon.as_deref() {
        Some(first) => {
            let first = first.split_whitespace().next().unwrap_or_default();
            cx.error(
                at,
                format!(
                    "({name}) lvs_sync_daemon_interface has already been specified as {first} - \
                     ignoring"
                ),
            );
        }
        None => cx.lvs_sync_daemon = Some(format!("{interface} {name}")),
    }
}

/// An unsigned number (u32), with the number reader's `negative number` / `invalid number`.
fn unsigned(cx: &mut Cx<'_>, at: &Location, v: &str) -> bool {
    unsigned_value(cx, at, v).is_some()
}

/// [`unsigned`]'s value (an empty word is 0).
fn unsigned_value(cx: &mut Cx<'_>, at: &Location, v: &str) -> Option<u32> {
    if v.starts_with('-') && v[1..].parse::<u64>().is_ok() {
        cx.error(at, format!("negative number '{v}'"));
        return None;
    }
    cx.int_value(at, v, 0, i64::from(u32::MAX))
        .and_then(|n| u32::try_from(n).ok())
}

/// `garp_master_delay`, `garp_master_repeat`, `garp_master_refresh`,
/// `garp_master_refresh_repeat`: an unsigned count; a repeat of 0 is raised to 1.
pub(crate) fn garp_count(
    cx: &mut Cx<'_>,
    item: &Statement,
    name: &str,
    repeat: bool,
) -> Option<u32> {
    let keyword = item.keyword();
    let v = cx.arg(item)?;
    // garp_master_delay is seconds, up to UINT_MAX / TIMER_HZ as 2.2.7 reads it; the others
    // take any unsigned number.
    let max = if keyword == "garp_master_delay" {
        GARP_SECONDS_MAX
    } else {
        u32::MAX
    };
    let Some(n) = cx.read_unsigned(&item.location, v, 0, max) else {
        let said = if keyword == "garp_master_refresh" {
            format!("({name}): Invalid {keyword} '{v}' - ignoring")
        } else {
            format!("({name}): {keyword} '{v}' invalid - ignoring")
        };
        cx.error(&item.location, said);
        return None;
    };
    if repeat && n == 0 {
        cx.error(
            &item.location,
            format!("({name}): {keyword} must be greater than 0, setting to 1"),
        );
        return Some(1);
    }
    Some(n)
}
