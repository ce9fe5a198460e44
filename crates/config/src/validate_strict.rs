//! What `vrrp_strict` (or an instance's `strict_mode`) changes in an instance, with keepalived
//! 2.2.7's lines (observed with `keepalived -t`, fixtures/corpus/real-strict-rules.conf): the
//! settings RFC 5798 does not allow are reset, each with a warning.
//!
//! The initial state and authentication rules are in `validate.rs`
//! (`initial_state_and_authentication`); the firewall that strict mode implies (no accept
//! mode) is the VRRP daemon's (crates/keepalived/src/vrrp/firewall_plan.rs).

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::model::{RawSetting, VrrpInstance};

fn warn(diagnostics: &mut Diagnostics, name: &str, text: &str) {
    diagnostics.push(Diagnostic::new(
        Severity::Warning,
        None,
        format!("({name}) {text}"),
    ));
}

/// IPv6 has no VRRPv2 (RFC 5798 section 8.3.1): under strict, `version 2` on an IPv6
/// instance becomes 3. Returns the version to use.
pub(crate) fn ipv6_version(
    inst: &mut VrrpInstance,
    strict: bool,
    ipv6: bool,
    version: u8,
    diagnostics: &mut Diagnostics,
) -> u8 {
    if strict && ipv6 && version == 2 {
        warn(
            diagnostics,
            &inst.name,
            "cannot use IPv6 with VRRP version 2; setting version 3",
        );
        inst.version = Some(3);
        return 3;
    }
    version
}

/// After the initial state and authentication: the first IPv6 VIP must be link-local (RFC
/// 5798 section 5.2.9) when adverts go to the multicast group.
pub(crate) fn first_address(
    inst: &VrrpInstance,
    strict: bool,
    ipv6: bool,
    diagnostics: &mut Diagnostics,
) {
    let first_global = inst.virtual_ipaddresses.first().is_some_and(
        |a| !matches!(a.address, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local()),
    );
    if strict && ipv6 && inst.unicast_peers.is_empty() && first_global {
        warn(
            diagnostics,
            &inst.name,
            "the first IPv6 VIP address must be link local",
        );
    }
}

/// After the preemption rules: no preempt delay, no accept mode for a VRRPv2 non-owner, no
/// lower-priority repeats of gratuitous ARPs, and adverts neither answered to a lower priority
/// nor sent on hearing a higher one.
pub(crate) fn settings(
    inst: &mut VrrpInstance,
    strict: bool,
    version: u8,
    diagnostics: &mut Diagnostics,
) {
    if !strict {
        return;
    }
    let name = inst.name.clone();
    if inst.preempt_delay > 0.0 {
        warn(
            diagnostics,
            &name,
            "preempt_delay is incompatible with strict mode - resetting",
        );
        inst.preempt_delay = 0.0;
    }
    if inst.accept == Some(true) && inst.priority != 255 && version == 2 {
        warn(
            diagnostics,
            &name,
            "warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
        );
        inst.accept = Some(false);
    }
    for (keyword, text) in [
        (
            "garp_lower_prio_repeat",
            "Strict mode requires no repeat garps. resetting",
        ),
        (
            "garp_lower_prio_delay",
            "Strict mode requires no repeat garp delay. resetting",
        ),
    ] {
        if last_number(&inst.other, keyword).is_some_and(|n| n != 0) {
            warn(diagnostics, &name, text);
            inst.other.retain(|s| s.keyword != keyword);
        }
    }
    if inst.lower_prio_no_advert == Some(false) {
        warn(
            diagnostics,
            &name,
            "Strict mode requires no lower priority advert. resetting",
        );
        inst.lower_prio_no_advert = Some(true);
    }
    if inst.higher_prio_send_advert == Some(true) {
        warn(
            diagnostics,
            &name,
            "strict mode requires higher_prio_send_advert to be clear. resetting",
        );
        inst.higher_prio_send_advert = Some(false);
    }
}

fn last_number(settings: &[RawSetting], keyword: &str) -> Option<u64> {
    settings
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
        .and_then(|s| s.args.first())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{FakeHost, LoadOptions, load_str};

    fn lines(global: &str, instance: &str, vips: &str) -> (Vec<String>, crate::model::Config) {
        let text = format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance A {{\n interface eth0\n\
             virtual_router_id 1\n{instance}\n virtual_ipaddress {{\n{vips}\n }}\n}}\n"
        );
        let host = FakeHost::lab();
        let loaded = load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host));
        (
            loaded
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect(),
            loaded.config,
        )
    }

    #[test]
    fn strict_resets_what_rfc_5798_does_not_allow() {
        let (l, c) = lines(
            " vrrp_strict",
            " priority 100\n accept\n preempt_delay 5\n garp_lower_prio_repeat 3\n\
             garp_lower_prio_delay 2\n lower_prio_no_advert false\n higher_prio_send_advert",
            " 192.0.2.1",
        );
        assert_eq!(
            l,
            [
                "(A) preempt_delay is incompatible with strict mode - resetting",
                "(A) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
                "(A) Strict mode requires no repeat garps. resetting",
                "(A) Strict mode requires no repeat garp delay. resetting",
                "(A) Strict mode requires no lower priority advert. resetting",
                "(A) strict mode requires higher_prio_send_advert to be clear. resetting",
            ]
        );
        let a = &c.instances[0];
        assert_eq!(
            (a.accept, a.lower_prio_no_advert, a.higher_prio_send_advert),
            (Some(false), Some(true), Some(false))
        );
        assert!(a.other.iter().all(|s| !s.keyword.starts_with("garp_lower")));
    }

    #[test]
    fn without_strict_nothing_changes() {
        let (l, c) = lines(
            "",
            " priority 100\n accept\n lower_prio_no_advert false",
            " 192.0.2.1",
        );
        assert!(l.is_empty(), "{l:?}");
        assert_eq!(c.instances[0].accept, Some(true));
    }

    #[test]
    fn ipv6_under_strict_runs_v3_and_wants_a_link_local_first() {
        let (l, c) = lines(" vrrp_strict", " version 2", " 2001:db8::8");
        assert_eq!(
            l,
            [
                "(A) cannot use IPv6 with VRRP version 2; setting version 3",
                "(A) the first IPv6 VIP address must be link local",
            ]
        );
        assert_eq!(c.instances[0].version, Some(3));
        let (l, _) = lines(" vrrp_strict", "", " fe80::8\n 2001:db8::8");
        assert!(l.is_empty(), "{l:?}");
    }
}
