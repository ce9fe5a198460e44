//! `bfd_instance NAME { … }`: read and checked with keepalived 2.2.7's ranges and wording; the
//! BFD daemon itself is not built (docs/compat.md), so the settings are kept as written.

use super::Cx;
use crate::model::BfdInstance;
use crate::tree::Statement;

const KEYWORDS: &[&str] = &[
    "neighbor_ip",
    "neighbour_ip",
    "neighbor",
    "neighbour",
    "source_ip",
    "min_rx",
    "min_tx",
    "idle_tx",
    "multiplier",
    "passive",
    "ttl",
    "hoplimit",
    "max_hops",
    "weight",
];

/// Reads a bfd_instance block; `None` without a name. 2.2.7's BFD process, which reads after
/// the VRRP one, reports its values; the checker reports its unknown keywords.
pub fn build(cx: &mut Cx<'_>, stmt: &Statement) -> Option<BfdInstance> {
    let start = cx.diagnostics.len();
    let bfd = read(cx, stmt);
    cx.diagnostics
        .set_pass_where(start, crate::diagnostic::Pass::Bfd, |d| {
            // A missing value stops the BFD process too, after the VRRP one has read
            // everything (2.2.7, observed); a missing name is the checker's.
            (d.severity != crate::diagnostic::Severity::Syntax
                || !d
                    .message
                    .starts_with("*** Configuration line starting `bfd_instance`"))
                && !d.message.starts_with("Unknown keyword")
        });
    bfd
}

fn read(cx: &mut Cx<'_>, stmt: &Statement) -> Option<BfdInstance> {
    let name = cx.block_name(stmt)?;
    let mut bfd = BfdInstance {
        name: name.clone(),
        location: stmt.location.clone(),
        other: Vec::new(),
        disabled: false,
    };
    let mut neighbor = false;
    let mut dropped = false;
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        let at = &item.location;
        let value = item.arg_texts().next();
        // These read their word without looking: none is fatal (2.2.7).
        if value.is_none()
            && matches!(
                keyword,
                "min_rx"
                    | "min_tx"
                    | "idle_tx"
                    | "multiplier"
                    | "ttl"
                    | "hoplimit"
                    | "max_hops"
                    | "weight"
            )
        {
            // The instance stays known to the VRRP process, which read it before.
            cx.arg(item);
            continue;
        }
        match keyword {
            "neighbor_ip" | "neighbour_ip" | "neighbor" | "neighbour" => {
                let v = cx.arg(item)?;
                if crate::values::parse_sockaddr_ip::<std::net::IpAddr>(v).is_ok() {
                    neighbor = true;
                } else {
                    cx.error(
                        at,
                        format!("Configuration error: BFD instance {name} has malformed neighbor address {v}, ignoring instance"),
                    );
                    dropped = true;
                }
            }
            "source_ip" => {
                let v = cx.arg(item)?;
                if crate::values::parse_sockaddr_ip::<std::net::IpAddr>(v).is_err() {
                    cx.error(
                        at,
                        format!("Configuration error: BFD instance {name} has malformed source address {v}, ignoring"),
                    );
                }
            }
            "min_rx" | "min_tx" | "idle_tx" => {
                if let Some(v) = value {
                    // idle_tx is at least 1000 ms; an empty word is 0, as strtod reads it.
                    let min = if keyword == "idle_tx" { 1000.0 } else { 1.0 };
                    let read = if v.is_empty() {
                        Ok(0.0)
                    } else {
                        v.parse::<f64>()
                    };
                    let ok = match read {
                        Ok(n) if (min..=4_294_967.0).contains(&n) => true,
                        Ok(_) => {
                            cx.error(
                                at,
                                format!("number '{v}' outside range [{min:.3}, 4294967.000]"),
                            );
                            false
                        }
                        Err(_) => {
                            cx.error(at, format!("invalid number '{v}'"));
                            false
                        }
                    };
                    if !ok {
                        cx.error(
                            at,
                            format!("Configuration error: BFD instance {name} {keyword} value {v} is not valid (must be in range [{min}-4294967]), ignoring"),
                        );
                    }
                }
            }
            "multiplier" => {
                if let Some(v) = value
                    && cx.int_value(at, v, 1, 255).is_none()
                {
                    cx.error(
                        at,
                        format!("Configuration error: BFD instance {name} multiplier value {v} not valid (must be in range [1-255]), ignoring"),
                    );
                }
            }
            "ttl" | "hoplimit" => {
                if let Some(v) = value
                    && cx.int_value(at, v, 1, 255).is_none()
                {
                    cx.error(
                        at,
                        format!("Configuration error: BFD instance {name} ttl/hoplimit value {v} not valid (must be in range [1-255]), ignoring"),
                    );
                }
            }
            "max_hops" => {
                if let Some(v) = value
                    && cx.int_value(at, v, -1, 255).is_none()
                {
                    cx.error(
                        at,
                        format!("Configuration error: BFD instance {name} max_hops value {v} not valid (must be in range [-1-255]), ignoring"),
                    );
                }
            }
            "passive" | "weight" => {}
            _ => {
                cx.unknown(item, KEYWORDS);
                continue;
            }
        }
        bfd.other.push(cx.raw(item));
    }
    if dropped {
        bfd.disabled = true;
        return Some(bfd);
    }
    if !neighbor {
        let close = stmt
            .block
            .as_ref()
            .and_then(|b| b.close.clone())
            .unwrap_or_else(|| stmt.location.clone());
        cx.error(
            &close,
            format!("Configuration error: BFD instance {name} has no neighbor address set, disabling instance"),
        );
        bfd.disabled = true;
    }
    Some(bfd)
}
