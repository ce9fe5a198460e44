//! `vrrp_instance NAME { … }`.

use super::track_list::TrackKind;
use super::{Cx, addresses, instance_rules};
use crate::diagnostic::Severity;
use crate::model::{
    AuthType, Authentication, FamilyUse, FamilyUseKind, InitialState, NotifyScripts, Password,
    RawSetting, ThinVec, VrrpInstance,
};
use crate::tree::Statement;

/// Keywords of vrrp_instance that the model gives a meaning.
const MODELLED: &[&str] = &[
    "state",
    "check_unicast_src",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "mcast_src_ip",
    "unicast_src_ip",
    "unicast_peer",
    "unicast_ttl",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "smtp_alert",
    "version",
    "accept",
    "no_accept",
    "use_vmac",
    "vmac_xmit_base",
    "dont_track_primary",
    "native_ipv6",
    "strict_mode",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "debug",
];

/// Keywords we accept and keep as written.
const ACCEPTED: &[&str] = &[
    "track_bfd",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "use_vmac_addr",
    "garp_extra_if",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "use_ipvlan",
    "promote_secondaries",
    "linkbeat_use_polling",
    "skip_check_adv_addr",
    "old_unicast_checksum",
    "unicast_fault_no_peer",
    "track_src_ip",
    "kernel_rx_buf_size",
    "down_timer_adverts",
    "notify_priority_changes",
    "mcast_dst_ip",
];

/// The instance keywords 2.2.7 reads as lists: words after the keyword are named and ignored.
const LIST_BLOCKS: &[&str] = &[
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "unicast_peer",
];

/// Reads a vrrp_instance block; `None` without a name. An instance without a valid VRID comes
/// back with `virtual_router_id` 0.
pub fn build(cx: &mut Cx<'_>, stmt: &Statement) -> Option<VrrpInstance> {
    let name = cx.sole_name(stmt, "vrrp_instance must have a name")?.into();
    let mut vrid: Option<u8> = None;
    let mut priority: Option<u8> = None;
    let mut inst = VrrpInstance {
        name,
        location: stmt.location.clone(),
        state: InitialState::Backup,
        interface: None,
        virtual_router_id: 0,
        vrid_given: false,
        priority: 100,
        advert_int: 1.0,
        nopreempt: false,
        preempt_delay: 0.0,
        authentication: None,
        virtual_ipaddresses: ThinVec::new(),
        excluded_ipaddresses: ThinVec::new(),
        virtual_routes: ThinVec::new(),
        virtual_rules: ThinVec::new(),
        track_interfaces: ThinVec::new(),
        track_scripts: ThinVec::new(),
        track_files: ThinVec::new(),
        track_processes: ThinVec::new(),
        track_bfds: ThinVec::new(),
        mcast_src_ip: None,
        unicast_src_ip: None,
        unicast_peers: ThinVec::new(),
        family_uses: ThinVec::new(),
        unicast_ttl: None,
        check_unicast_src: false,
        garp_master_delay: None,
        garp_master_repeat: None,
        garp_master_refresh: None,
        garp_master_refresh_repeat: None,
        notify: NotifyScripts::default(),
        smtp_alert: None,
        version: None,
        accept: None,
        state_given: false,
        use_vmac: None,
        use_vmac_mac: None,
        vmac_xmit_base: false,
        dont_track_primary: false,
        native_ipv6: false,
        strict_mode: None,
        lower_prio_no_advert: None,
        higher_prio_send_advert: None,
        debug: None,
        other: ThinVec::new(),
    };
    let name = inst.name.clone();
    // Facts for the checks keepalived makes when the block ends.
    let mut unicast_keyword = false;
    let mut unicast_ttl_given = false;
    let mut ipvlan_without_address = false;
    let mut state_given: Option<InitialState> = None;
    let mut auth: (Option<AuthType>, Password) = (None, Password::default());
    for item in cx.block(stmt) {
        let keyword = item.keyword();
        if LIST_BLOCKS.contains(&keyword) {
            cx.list_block_params(item);
        }
        if instance_rules::check(cx, item, &name) {
            match keyword {
                "old_unicast_checksum" => unicast_keyword = true,
                "mcast_dst_ip" => {
                    let group = item.arg_texts().next().map(str::parse::<std::net::IpAddr>);
                    if let Some(Ok(address)) =
                        group.filter(|a| a.as_ref().is_ok_and(|a| a.is_multicast()))
                    {
                        inst.family_uses.push(FamilyUse {
                            address,
                            location: item.location.clone(),
                            kind: FamilyUseKind::McastDst,
                        });
                    }
                }
                "use_ipvlan" => ipvlan_without_address = item.args().len() < 2,
                _ => {}
            }
            inst.other.push(cx.raw(item));
            continue;
        }
        match keyword {
            "state" => match cx.arg(item) {
                Some(v @ ("MASTER" | "BACKUP")) => {
                    let wanted = if v == "MASTER" {
                        InitialState::Master
                    } else {
                        InitialState::Backup
                    };
                    // MASTER always wins; BACKUP after MASTER is refused (2.2.7, observed:
                    // BACKUP then MASTER is silently MASTER).
                    if state_given == Some(InitialState::Master) && wanted == InitialState::Backup {
                        cx.error(
                            &item.location,
                            format!("({name}) state previously set as MASTER - ignoring BACKUP"),
                        );
                    } else {
                        inst.state = wanted;
                        inst.state_given = true;
                        state_given = Some(wanted);
                    }
                }
                Some(other) => cx.error(
                    &item.location,
                    format!("({name}) unknown state '{other}', defaulting to BACKUP"),
                ),
                None => {}
            },
            "interface" => {
                if let Some(ifname) = cx.arg(item) {
                    if cx.host.is_loopback(ifname) {
                        cx.error(
                            &item.location,
                            format!(
                                "({name}) cannot use a loopback interface ({ifname}) for vrrp - ignoring"
                            ),
                        );
                        continue;
                    }
                    cx.check_interface(&item.location, ifname, &format!("vrrp_instance {name}"));
                    inst.interface = Some(ifname.into());
                }
            }
            "virtual_router_id" => {
                let text = item
                    .args()
                    .first()
                    .map(|w| w.text.clone())
                    .unwrap_or_default();
                // keepalived 2.2.7 keeps an earlier valid VRID when a later one is invalid.
                let value = cx.int(item, 1, 255).map(|v| v as u8);
                if value.is_none() && !item.args().is_empty() {
                    cx.error(
                        &item.location,
                        format!("({name}): VRID '{text}' not valid - must be between 1 & 255"),
                    );
                }
                vrid = value.or(vrid);
            }
            "priority" => {
                // 2.2.7's unsigned reader: `negative number '-1'`.
                let negative = item.arg_texts().next().filter(|t| {
                    t.strip_prefix('-')
                        .is_some_and(|d| d.parse::<u64>().is_ok())
                });
                let value = match negative {
                    Some(text) => {
                        cx.error(&item.location, format!("negative number '{text}'"));
                        None
                    }
                    None => cx.int(item, 1, 255).map(|v| v as u8),
                };
                if value.is_none() && !item.args().is_empty() {
                    cx.error(&item.location, format!("({name}) Priority not valid! must be between 1 & 255. Using default 100"));
                    // As it says: 100, also for a `state MASTER` instance, which without a
                    // priority line would be the owner (2.2.7, observed).
                    priority = Some(100);
                } else {
                    priority = value.or(priority);
                }
            }
            "advert_int" => {
                match cx.decimal(item, 0.01, 255.0) {
                    Some(v) => inst.advert_int = v,
                    // A missing value: the reader's line only.
                    None if item.args().is_empty() => {}
                    None => {
                        let text = item.arg_texts().next().unwrap_or_default();
                        cx.error(&item.location, format!("({name}) Advert interval ({text}) not valid! Must be > 0 - ignoring"));
                    }
                }
            }
            "nopreempt" => inst.nopreempt = true,
            "preempt" => inst.nopreempt = false,
            "preempt_delay" => match cx.decimal(item, 0.0, 1000.0) {
                Some(v) => inst.preempt_delay = v,
                // 2.2.7 says no more after a missing value or a word that is no plain decimal
                // number (`1e3`, `5x`: its reader's `invalid number` only).
                None if item.arg_texts().next().is_none_or(|t| {
                    let digits = t.trim_start_matches(['-', '+']);
                    !digits.bytes().any(|b| b.is_ascii_digit())
                        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                }) => {}
                None => cx.error(
                    &item.location,
                    format!("({name}) Preempt_delay not valid! must be between 0-1000"),
                ),
            },
            "authentication" => {
                authentication(cx, item, &name, &mut auth);
                inst.authentication = auth.0.map(|auth_type| Authentication {
                    auth_type,
                    password: auth.1,
                });
            }
            "virtual_ipaddress" => append(
                &mut inst.virtual_ipaddresses,
                addresses::address_block(cx, item, false),
            ),
            "virtual_ipaddress_excluded" => append(
                &mut inst.excluded_ipaddresses,
                addresses::address_block(cx, item, false),
            ),
            "virtual_routes" => append(
                &mut inst.virtual_routes,
                addresses::route_block(cx, item, false),
            ),
            "virtual_rules" => append(
                &mut inst.virtual_rules,
                addresses::rule_block(cx, item, false),
            ),
            "track_interface" => cx.interface_track_list(item, &name, &mut inst.track_interfaces),
            "track_script" => append(
                &mut inst.track_scripts,
                cx.track_list(item, &name, TrackKind::Script),
            ),
            "track_file" => append(
                &mut inst.track_files,
                cx.track_list(item, &name, TrackKind::File),
            ),
            "track_process" => append(
                &mut inst.track_processes,
                cx.track_list(item, &name, TrackKind::Process),
            ),
            "track_bfd" => append(
                &mut inst.track_bfds,
                cx.track_list(item, &name, TrackKind::Bfd),
            ),
            "mcast_src_ip" | "unicast_src_ip" => {
                unicast_keyword |= keyword == "unicast_src_ip";
                if let Some(text) = cx.arg(item) {
                    let parsed = crate::values::parse_sockaddr_ip(text);
                    if let Ok(address) = parsed {
                        inst.family_uses.push(FamilyUse {
                            address,
                            location: item.location.clone(),
                            kind: FamilyUseKind::Source,
                        });
                    }
                    match parsed {
                        Ok(a) if keyword == "mcast_src_ip" => inst.mcast_src_ip = Some(a),
                        Ok(a) => inst.unicast_src_ip = Some(a),
                        Err(_) => cx.error(
                            &item.location,
                            format!("Configuration error: VRRP instance[{name}] malformed src address[{text}]. Skipping..."),
                        ),
                    }
                }
            }
            "unicast_peer" => {
                unicast_keyword = true;
                for peer in cx.block(item) {
                    match crate::values::parse_sockaddr_ip(peer.keyword()) {
                        Ok(a) => {
                            inst.unicast_peers.push(a);
                            inst.family_uses.push(FamilyUse {
                                address: a,
                                location: peer.location.clone(),
                                kind: FamilyUseKind::UnicastPeer,
                            });
                            // Kept as written: the daemon does not filter by TTL and says so
                            // at start (crate::unsupported).
                            inst.other.extend(peer_options(cx, peer, &name));
                        }
                        Err(_) => cx.error(
                            &peer.location,
                            format!("Configuration error: VRRP instance[{name}] malformed unicast peer address[{}]. Skipping...", peer.keyword()),
                        ),
                    }
                }
            }
            "unicast_ttl" => {
                let value = cx.int(item, 0, 255).map(|v| v as u8);
                unicast_ttl_given = value.is_some();
                if value.is_none()
                    && let Some(text) = item.arg_texts().next()
                {
                    cx.error(
                        &item.location,
                        format!("({name}): TTL '{text}' not valid - must be between 0 & 255"),
                    );
                }
                inst.unicast_ttl = value;
            }
            // A unicast keyword: without peers, 2.2.7's "defaulting to multicast" line.
            "check_unicast_src" => {
                inst.check_unicast_src = true;
                unicast_keyword = true;
            }
            "garp_master_delay" => {
                inst.garp_master_delay = instance_rules::garp_count(cx, item, &name, false)
            }
            "garp_master_repeat" => {
                inst.garp_master_repeat = instance_rules::garp_count(cx, item, &name, true)
            }
            "garp_master_refresh" => {
                inst.garp_master_refresh = instance_rules::garp_count(cx, item, &name, false)
            }
            "garp_master_refresh_repeat" => {
                inst.garp_master_refresh_repeat = instance_rules::garp_count(cx, item, &name, true)
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                let taken = inst.notify.slot(keyword).is_some_and(|s| s.is_some());
                if cx.first_wins(taken, item, &format!("({name}) {keyword} script"))
                    && let Some(command) = cx.notify_command(item)
                    && let Some(slot) = inst.notify.slot(keyword)
                {
                    *slot = Some(Box::new(command));
                }
            }
            "smtp_alert" => {
                // 2.2.7 leaves the setting as it was after a word it cannot read.
                let read = cx.flag_or(item, |v| {
                    format!("Invalid vrrp_instance smtp_alert parameter {v}")
                });
                if read.is_some() {
                    inst.smtp_alert = read;
                }
            }
            "version" => match cx.signed_int(item, 2, 3) {
                None if item.args().is_empty() => {}
                // A refused value leaves the version as it was.
                None => cx.error(
                    &item.location,
                    format!("({name}): Version must be either 2 or 3"),
                ),
                // Version 2 once an IPv6 address set the family (2.2.7's line, observed).
                Some(2) if family_so_far(&inst) == Some(true) => cx.error(
                    &item.location,
                    format!(
                        "({name}) vrrp_version 2 conflicts with configured or deduced version {}; ignoring.",
                        inst.version.unwrap_or(0)
                    ),
                ),
                Some(v) => inst.version = Some(v as u8),
            },
            "accept" => inst.accept = Some(true),
            "no_accept" => inst.accept = Some(false),
            "use_vmac" => {
                // `use_vmac [NAME] [MAC]`: a lone word with a `:` is the MAC (2.2.7, observed).
                let words: Vec<&str> = item.arg_texts().collect();
                let (ifname, mac) = match words.as_slice() {
                    [] => (None, None),
                    [one] if one.contains(':') => (None, Some(*one)),
                    [one] => (Some(*one), None),
                    [one, mac, ..] => (Some(*one), Some(*mac)),
                };
                if let Some(ifname) = ifname
                    && (ifname.len() > 15 || ifname.contains(['/', ':']))
                {
                    cx.error(
                        &item.location,
                        format!("VMAC interface name '{ifname}' too long or invalid characters - ignoring"),
                    );
                }
                inst.use_vmac_mac = mac.and_then(|m| vmac_mac(cx, &item.location, m));
                inst.use_vmac = Some(ifname.unwrap_or_default().to_string())
            }
            "vmac_xmit_base" => inst.vmac_xmit_base = true,
            "dont_track_primary" => inst.dont_track_primary = true,
            "native_ipv6" => {
                inst.native_ipv6 = true;
                inst.family_uses.push(FamilyUse {
                    address: std::net::Ipv6Addr::UNSPECIFIED.into(),
                    location: item.location.clone(),
                    kind: FamilyUseKind::NativeIpv6,
                });
            }
            "strict_mode" => {
                inst.strict_mode = cx.flag_or(item, |v| {
                    format!("({name}) invalid strict_mode {v} specified")
                })
            }
            "lower_prio_no_advert" => {
                inst.lower_prio_no_advert = cx.flag_or(item, |v| {
                    format!("({name}) invalid lower_prio_no_advert {v} specified")
                })
            }
            "higher_prio_send_advert" => {
                inst.higher_prio_send_advert = cx.flag_or(item, |v| {
                    format!("({name}) invalid higher_prio_send_advert {v} specified")
                })
            }
            "debug" => {
                // 2.2.7's unsigned reader: `negative number '-1'` before its own line.
                let negative = item.arg_texts().next().filter(|t| {
                    t.strip_prefix('-')
                        .is_some_and(|d| d.parse::<u64>().is_ok())
                });
                inst.debug = match negative {
                    Some(text) => {
                        cx.error(&item.location, format!("negative number '{text}'"));
                        None
                    }
                    None => cx.uint(item, 4),
                };
                if inst.debug.is_none()
                    && let Some(text) = item.arg_texts().next()
                {
                    cx.error(
                        &item.location,
                        format!("({name}) Debug value '{text}' not valid; must be between 0-4"),
                    );
                }
            }
            _ if ACCEPTED.contains(&keyword) => inst.other.push(cx.raw(item)),
            _ => {
                let known: Vec<&str> = MODELLED.iter().chain(ACCEPTED).copied().collect();
                cx.unknown(item, &known);
            }
        }
    }

    // What keepalived checks when the instance's block ends.
    let close = stmt
        .block
        .as_ref()
        .and_then(|b| b.close.clone())
        .unwrap_or_else(|| stmt.location.clone());
    let ipvlan = inst.other.iter().any(|o| o.keyword == "use_ipvlan");
    if unicast_keyword && (inst.use_vmac.is_some() || ipvlan) {
        if inst.interface.is_none() {
            cx.error(
                &close,
                format!(
                    "({name}): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac"
                ),
            );
            inst.use_vmac = None;
        } else if !inst.vmac_xmit_base {
            cx.error(
                &close,
                format!("({name}) unicast with use_vmac requires vmac_xmit_base - setting"),
            );
            // (an ipvlan has no vmac flag of ours to set)
            inst.vmac_xmit_base = inst.use_vmac.is_some();
        }
    }
    if unicast_ttl_given && inst.unicast_peers.is_empty() {
        cx.error(
            &close,
            format!("({name}): Cannot use unicast_ttl without unicast peers - resetting"),
        );
        inst.unicast_ttl = None;
    }
    if unicast_keyword && inst.unicast_peers.is_empty() {
        cx.unlocated(
            Severity::Warning,
            format!(
                "({name}) A unicast keyword has been specified without any unicast peers. \
                 Defaulting to multicast. This usage is deprecated - please update your \
                 configuration."
            ),
        );
    }
    if let Some(own) = inst.interface.clone() {
        inst.track_interfaces.retain(|t| {
            if t.name == own {
                cx.unlocated(
                    Severity::Warning,
                    format!("({name}) Ignoring track_interface {own} since own interface"),
                );
                return false;
            }
            true
        });
    }
    if inst.vmac_xmit_base && inst.use_vmac.is_none() {
        cx.unlocated(
            Severity::Warning,
            format!("({name}) vmac_xmit_base is only valid with a vmac"),
        );
    }
    if inst.other.iter().any(|o| o.keyword == "use_vmac_addr") {
        for a in inst
            .virtual_ipaddresses
            .iter()
            .chain(&inst.excluded_ipaddresses)
            .filter(|a| a.other.iter().any(|o| o == "use_vmac"))
        {
            cx.unlocated(
                Severity::Error,
                format!(
                    "({name}) use_vmac_addr specified and use_vmac specified for VIP/eVIP {}/{}",
                    a.address, a.prefix_len
                ),
            );
        }
    }
    if ipvlan_without_address {
        cx.unlocated(
            Severity::Warning,
            format!(
                "({name}) IPv4 ipvlan requires a source ip address to be configured. setting \
                 instance to fault state"
            ),
        );
    }

    inst.priority = match (priority, inst.state) {
        (Some(p), _) => p,
        // keepalived: an address owner that says nothing about priority gets 255.
        (None, InitialState::Master) => 255,
        (None, InitialState::Backup) => 100,
    };
    if let Some(v) = vrid {
        inst.virtual_router_id = v;
        inst.vrid_given = true;
    }
    Some(inst)
}

/// `authentication { auth_type PASS|AH; auth_pass SECRET }`.
/// Reads an `authentication` block into `auth` (type, password): a second block adds to what
/// the first set, as 2.2.7 keeps both in the instance itself.
fn authentication(
    cx: &mut Cx<'_>,
    stmt: &Statement,
    name: &str,
    auth: &mut (Option<AuthType>, Password),
) {
    let (auth_type, password) = auth;
    for item in cx.block(stmt) {
        match item.keyword() {
            "auth_type" => match cx.arg(item) {
                Some("PASS") => *auth_type = Some(AuthType::Pass),
                Some("AH") => *auth_type = Some(AuthType::Ah),
                Some(other) => cx.error(
                    &item.location,
                    format!("({name}) unknown authentication type '{other}'"),
                ),
                None => {}
            },
            "auth_pass" => {
                if let Some(pass) = cx.arg(item) {
                    let bytes = pass.as_bytes();
                    if bytes.len() > 8 {
                        cx.warning(&item.location, "Truncating auth_pass to 8 characters");
                    }
                    *password = Password::new(bytes);
                }
            }
            _ => cx.unknown(item, &["auth_type", "auth_pass"]),
        }
    }
}

/// Adds a block's items to an instance's list. A list is usually given once, so the block's
/// items are moved in at their exact size instead of growing an empty list (thousands of
/// instances keep their lists for the whole run).
/// The address family the lines read so far gave the instance (the first VIP or other
/// address line decides it, RFC 5798 section 5.2.9): `Some(true)` for IPv6.
fn family_so_far(inst: &VrrpInstance) -> Option<bool> {
    let vip = inst
        .virtual_ipaddresses
        .first()
        .map(|a| (a.location.order, a.address.is_ipv6()));
    let other = inst
        .family_uses
        .first()
        .map(|u| (u.location.order, u.address.is_ipv6()));
    vip.into_iter().chain(other).min().map(|(_, ipv6)| ipv6)
}

fn append<T>(list: &mut ThinVec<T>, items: impl IntoIterator<Item = T>) {
    if list.is_empty() {
        *list = items.into_iter().collect();
    } else {
        list.extend(items);
    }
}

/// The MAC of `use_vmac NAME MAC`: 5 or 6 hexadecimal octets separated by `:`, not multicast,
/// worded as keepalived 2.2.7 refuses one (observed).
fn vmac_mac(cx: &mut Cx<'_>, at: &crate::diagnostic::Location, text: &str) -> Option<Vec<u8>> {
    let octets: Option<Vec<u8>> = text
        .split(':')
        .map(|o| {
            (!o.is_empty() && o.len() <= 2)
                .then(|| u8::from_str_radix(o, 16).ok())
                .flatten()
        })
        .collect();
    match octets {
        Some(octets) if matches!(octets.len(), 5 | 6) => {
            if octets[0] & 1 == 1 {
                cx.error(
                    at,
                    format!("VMAC MAC address is multicast {text} - ignoring"),
                );
                None
            } else {
                Some(octets)
            }
        }
        _ => {
            cx.error(at, format!("VMAC invalid MAC address {text}"));
            None
        }
    }
}

/// A unicast peer's options after its address (`min_ttl N`, `max_ttl N`, each in [0, 255]),
/// checked as keepalived 2.2.7 checks them: a value that is no number is named and skipped,
/// an unknown option ends the line, a last word without a value is named, and a minimum above
/// the maximum is warned about. Returns the options read: received adverts are not filtered by
/// TTL, so the daemon lists them as not supported.
fn peer_options(cx: &mut Cx<'_>, peer: &Statement, name: &str) -> Vec<RawSetting> {
    let mut read = Vec::new();
    let words: Vec<&str> = peer.arg_texts().collect();
    let (mut min, mut max) = (0u32, 255u32);
    let mut pairs = words.chunks(2);
    for pair in pairs.by_ref() {
        let [option, value] = pair else {
            let option = pair.first().copied().unwrap_or_default();
            cx.error(
                &peer.location,
                format!("({name}) {option} is missing a value"),
            );
            break;
        };
        let Some(number) = cx.read_unsigned(&peer.location, value, 0, 255) else {
            continue;
        };
        match *option {
            "min_ttl" | "max_ttl" => {
                if *option == "min_ttl" {
                    min = number;
                } else {
                    max = number;
                }
                read.push(RawSetting {
                    keyword: option.to_string(),
                    args: vec![value.to_string()],
                    location: peer.location.clone(),
                });
            }
            other => {
                cx.error(
                    &peer.location,
                    format!("({name}) unknown unicast_peer option {other}"),
                );
                break;
            }
        }
    }
    if min > max {
        cx.error(
            &peer.location,
            format!("({name}) min_ttl {min} > max_ttl {max} - all packets will be discarded"),
        );
    }
    read
}
