//! The typed configuration: what every block means once it has been read and checked, with
//! keepalived's defaults applied.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::diagnostic::Location;
pub use compact_str::CompactString;
pub use thin_vec::ThinVec;

/// A whole keepalived.conf.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `global_defs`.
    pub global: GlobalDefs,
    /// The LVS sync daemon that stands, as first read (`INTERFACE INSTANCE`): global_defs'
    /// `lvs_sync_daemon` or an instance's deprecated `lvs_sync_daemon_interface`; 2.2.7
    /// refuses a later one of either kind.
    pub lvs_sync_daemon_first: Option<String>,
    /// `vrrp_script` blocks.
    pub scripts: Vec<VrrpScript>,
    /// `vrrp_instance` blocks that are usable. Boxed: an instance is large, and growing a
    /// vector of 10,000 of them in place would hold two copies at the peak.
    pub instances: Vec<Box<VrrpInstance>>,
    /// `vrrp_sync_group` blocks.
    pub sync_groups: Vec<SyncGroup>,
    /// `static_ipaddress` entries.
    pub static_addresses: Vec<IpAddress>,
    /// `static_routes` entries.
    pub static_routes: Vec<Route>,
    /// `static_rules` entries.
    pub static_rules: Vec<Rule>,
    /// `vrrp_track_file` blocks.
    pub track_files: Vec<TrackFileDef>,
    /// `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackProcessDef>,
    /// `garp_group` blocks.
    pub garp_groups: Vec<GarpGroup>,
    /// `track_group NAME { group { … } }` blocks, for static addresses, routes and rules.
    pub track_groups: Vec<TrackGroupDef>,
    /// `bfd_instance NAME { … }` blocks (read and checked: the BFD daemon is not built).
    pub bfd_instances: Vec<BfdInstance>,
    /// Top-level keywords keepalived accepts that have no meaning here yet
    /// (`net_namespace`, `linkbeat_interfaces`, …), as written.
    pub other: Vec<RawSetting>,
    /// `virtual_server_group` blocks (checker side).
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// `virtual_server` blocks (checker side).
    pub virtual_servers: Vec<VirtualServer>,
    /// The top-level `SSL { password ca certificate key }` block of SSL_GET (the last one
    /// given).
    pub ssl: Option<SslDef>,
    /// How many `vrrp_instance` blocks were read, those dropped by validation included.
    pub instance_blocks: usize,
    /// The names of the instances read so far (a second block of a name is skipped); kept
    /// while reading so that finding one costs no walk over tens of thousands.
    pub instance_names: std::collections::HashSet<CompactString>,
    /// The file names an interface this host lacks (without `dynamic_interfaces`): 2.2.7's
    /// VRRP process then stops ("Non-existent interface specified in configuration").
    pub nonexistent_interface: bool,
}

/// A keyword we accept because keepalived does, kept as written without further meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSetting {
    /// The keyword.
    pub keyword: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Where it was written.
    pub location: Location,
}

/// A user and optional group that scripts run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// User name.
    pub user: String,
    /// Group name; the user's primary group when absent.
    pub group: Option<String>,
}

/// `global_defs`.
#[derive(Debug, Clone)]
pub struct GlobalDefs {
    /// `router_id` (keepalived uses the host name when unset).
    pub router_id: Option<String>,
    /// `notification_email { … }` addresses.
    pub notification_email: Vec<String>,
    /// `notification_email_from`.
    pub notification_email_from: Option<String>,
    /// `smtp_server ADDR [PORT]`.
    pub smtp_server: Option<String>,
    /// `smtp_connect_timeout` in seconds (30).
    pub smtp_connect_timeout: u32,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<RunAs>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// Whether reading global_defs already tried the default script user
    /// (`keepalived_script`) and found it missing: 2.2.7 tries it at a notify FIFO without a
    /// script read after `enable_script_security` and before any `script_user`, and says so
    /// once for the whole file.
    pub default_script_user_failed: bool,
    /// `vrrp_version` (2).
    pub vrrp_version: u8,
    /// `vrrp_mcast_group4` (224.0.0.18).
    pub vrrp_mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (ff02::12).
    pub vrrp_mcast_group6: Ipv6Addr,
    /// `vrrp_garp_master_delay` in seconds (5).
    pub vrrp_garp_master_delay: u32,
    /// `vrrp_garp_master_repeat` (5).
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` in seconds (0 = off).
    pub vrrp_garp_master_refresh: u32,
    /// `vrrp_garp_master_refresh_repeat` (1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_interval` in seconds (0).
    pub vrrp_garp_interval: f64,
    /// `vrrp_gna_interval` in seconds (0).
    pub vrrp_gna_interval: f64,
    /// `vrrp_min_garp`.
    pub vrrp_min_garp: bool,
    /// `vrrp_strict`.
    pub vrrp_strict: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_notify_fifo PATH`.
    pub vrrp_notify_fifo: Option<String>,
    /// `vrrp_priority` (nice value of the VRRP process, 0).
    pub vrrp_priority: i32,
    /// `vrrp_no_swap`.
    pub vrrp_no_swap: bool,
    /// `default_interface` (eth0).
    pub default_interface: String,
    /// `dynamic_interfaces`.
    pub dynamic_interfaces: bool,
    /// `max_auto_priority [N]`.
    pub max_auto_priority: Option<i32>,
    /// `vrrp_rx_bufs_policy` as read so far: 2.2.7 keeps it across global_defs blocks and
    /// checks each line against what came before (the lines stay in `other`).
    pub rx_bufs_policy: RxBufsPolicy,
    /// Other keepalived global keywords, accepted and kept as written.
    pub other: Vec<RawSetting>,
}

/// How the VRRP receive buffers are sized (`vrrp_rx_bufs_policy MTU|ADVERT|SIZE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxBufsPolicy {
    /// `MTU`: from the largest interface MTU.
    pub mtu: bool,
    /// `ADVERT`: from the largest advert.
    pub advert: bool,
    /// A size in bytes.
    pub size: Option<u32>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_connect_timeout: 30,
            script_user: None,
            enable_script_security: false,
            default_script_user_failed: false,
            vrrp_version: 2,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_garp_master_delay: 5,
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: 0,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: 0.0,
            vrrp_gna_interval: 0.0,
            vrrp_min_garp: false,
            vrrp_strict: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_notify_fifo: None,
            vrrp_priority: 0,
            vrrp_no_swap: false,
            default_interface: "eth0".into(),
            dynamic_interfaces: false,
            max_auto_priority: None,
            rx_bufs_policy: RxBufsPolicy::default(),
            other: Vec::new(),
        }
    }
}

/// A command line to run: the string as written and its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The string as written in the config.
    pub text: String,
    /// The string split into argv (quotes honoured, no shell). Once the configuration is
    /// validated, `argv[0]` is the path the program was found at.
    pub argv: Vec<String>,
    /// Where it was written.
    pub location: Location,
    /// The user a notify script runs as (`notify_* SCRIPT USER [GROUP]`).
    pub run_as: Option<RunAs>,
    /// `run_as` as `(uid, gid)`, once validation has found the user.
    pub run_as_ids: Option<(u32, u32)>,
    /// The command is a shell input redirection (`</dev/tcp/HOST/PORT`, `</path`): keepalived
    /// 2.2.7 runs such a command with `/bin/sh -c` instead of executing it, never looks the
    /// program up and does not count it as a script for script security. `argv` is then
    /// `["/bin/sh", "-c", LINE]`.
    pub shell: bool,
}

/// `vrrp_script NAME { … }`.
#[derive(Debug, Clone)]
pub struct VrrpScript {
    /// The script's name, used by `track_script`.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// `script "CMD ARGS"`.
    pub command: Option<Command>,
    /// `interval` in seconds (1).
    pub interval: f64,
    /// `timeout` in seconds (the interval when unset).
    pub timeout: Option<f64>,
    /// `weight` (-253..253, 0).
    pub weight: i32,
    /// `weight W reverse`.
    pub weight_reverse: bool,
    /// `rise` (1).
    pub rise: u32,
    /// `fall` (1).
    pub fall: u32,
    /// `user USER [GROUP]`.
    pub user: Option<RunAs>,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
    /// Where the block's `}` stood (keepalived reports user problems there).
    pub close: Option<Location>,
    /// Set when the program is missing or unsafe: the script never runs.
    pub disabled: bool,
}

/// The state an instance asks to start in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    /// `state BACKUP` (the default).
    #[default]
    Backup,
    /// `state MASTER`.
    Master,
}

/// `authentication { auth_type … }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Simple text password (RFC 2338 type 1).
    Pass,
    /// IP Authentication Header (type 2).
    Ah,
}

/// The instance's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// PASS or AH.
    pub auth_type: AuthType,
    /// The password, at most 8 bytes.
    pub password: Password,
}

/// An `auth_pass`: at most 8 bytes (keepalived truncates longer ones), kept inline so an
/// instance's password costs no allocation. Reads as a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Password {
    bytes: [u8; 8],
    len: u8,
}

impl Password {
    /// The first 8 bytes of `secret` (all of it when shorter).
    pub fn new(secret: &[u8]) -> Password {
        let len = secret.len().min(8);
        let mut bytes = [0; 8];
        bytes[..len].copy_from_slice(&secret[..len]);
        Password {
            bytes,
            len: len as u8,
        }
    }
}

impl std::ops::Deref for Password {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Address scope of an address or route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `global`
    Global,
    /// `site`
    Site,
    /// `link`
    Link,
    /// `host`
    Host,
    /// `nowhere`
    Nowhere,
    /// Another scope given by number (`scope 100`), an `RT_SCOPE_*` value.
    Number(u8),
}

impl Scope {
    /// Parses a scope name.
    pub fn parse(text: &str) -> Option<Scope> {
        Some(match text {
            "global" => Scope::Global,
            "site" => Scope::Site,
            "link" => Scope::Link,
            "host" => Scope::Host,
            "nowhere" => Scope::Nowhere,
            _ => return None,
        })
    }

    /// A scope given by number, as `ip address` reads one: the named ones by their name.
    pub fn from_number(number: u8) -> Scope {
        match number {
            0 => Scope::Global,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            n => Scope::Number(n),
        }
    }
}

/// One address line of virtual_ipaddress, virtual_ipaddress_excluded or static_ipaddress.
#[derive(Debug, Clone)]
pub struct IpAddress {
    /// The address.
    pub address: IpAddr,
    /// Prefix length (32 or 128 when not written).
    pub prefix_len: u8,
    /// `brd ADDR`.
    pub broadcast: Option<Ipv4Addr>,
    /// `dev IF` (the instance's interface when absent).
    pub dev: Option<CompactString>,
    /// `scope SCOPE`.
    pub scope: Option<Scope>,
    /// `label LABEL`.
    pub label: Option<CompactString>,
    /// `peer ADDR`: the far end of a point-to-point address.
    pub peer: Option<IpAddr>,
    /// Other options (`no_track`, `preferred_lft`, …) as written.
    pub other: ThinVec<String>,
    /// Where it was written.
    pub location: Location,
    /// The address word as written (`192.0.2.1`, `2001:DB8::9/64`), for the messages that
    /// quote it as 2.2.7 does; not part of what the address is (left out of `==`).
    pub written: CompactString,
}

impl PartialEq for IpAddress {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.prefix_len == other.prefix_len
            && self.broadcast == other.broadcast
            && self.dev == other.dev
            && self.scope == other.scope
            && self.label == other.label
            && self.peer == other.peer
            && self.other == other.other
            && self.location == other.location
    }
}

/// A line of an instance that sets or must match the instance's address family.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyUse {
    /// The address (`::` for `native_ipv6`).
    pub address: IpAddr,
    /// Where it was written.
    pub location: Location,
    /// What the line is.
    pub kind: FamilyUseKind,
}

/// What a [`FamilyUse`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyUseKind {
    /// A `unicast_peer` address.
    UnicastPeer,
    /// `mcast_dst_ip`.
    McastDst,
    /// `mcast_src_ip` or `unicast_src_ip`.
    Source,
    /// `native_ipv6`.
    NativeIpv6,
}

/// A route line (virtual_routes, static_routes).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Destination prefix (`default` is 0.0.0.0/0).
    pub destination: Option<(IpAddr, u8)>,
    /// `via` / `gw` gateway.
    pub via: Option<IpAddr>,
    /// `dev IF`.
    pub dev: Option<String>,
    /// `src ADDR`.
    pub src: Option<IpAddr>,
    /// `metric N`.
    pub metric: Option<u32>,
    /// `table T`.
    pub table: Option<String>,
    /// The whole line as written.
    pub words: Vec<String>,
    /// Where it was written.
    pub location: Location,
}

/// A policy rule line (virtual_rules, static_rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `from PREFIX`.
    pub from: Option<(IpAddr, u8)>,
    /// `to PREFIX`.
    pub to: Option<(IpAddr, u8)>,
    /// `table T` / `lookup T`.
    pub table: Option<String>,
    /// `priority N` / `preference N`; keepalived gives rules written without one 16384,
    /// 16383, … in file order (`priority_given` is then false).
    pub priority: Option<u32>,
    /// Whether the line gave its own priority.
    pub priority_given: bool,
    /// The whole line as written.
    pub words: Vec<String>,
    /// Where it was written.
    pub location: Location,
}

impl Rule {
    /// Whether the rule is IPv6: its `from` or `to` is (a rule naming neither is IPv4).
    pub fn is_ipv6(&self) -> bool {
        self.from.or(self.to).is_some_and(|(a, _)| a.is_ipv6())
    }
}

/// A tracked object by name with an optional weight (track_script, track_file, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    /// The tracked object's name (script, interface, file or process).
    pub name: CompactString,
    /// `weight W` overriding the object's own weight.
    pub weight: Option<i32>,
    /// `weight W reverse` / `weight W noreverse`; None: the tracked object's own.
    pub reverse: Option<bool>,
    /// Where it was written.
    pub location: Location,
    /// What was wrong with the words after the name, said only once the object is found and
    /// not a duplicate, as 2.2.7 reads them after looking it up (`true`: a warning).
    pub option_problems: ThinVec<(bool, String)>,
    /// Whether those words leave the entry out (an unknown option, a weight without value).
    pub refused: bool,
}

/// `vrrp_instance NAME { … }`.
#[derive(Debug, Clone)]
pub struct VrrpInstance {
    /// The instance name.
    pub name: CompactString,
    /// Where the block starts.
    pub location: Location,
    /// `state`.
    pub state: InitialState,
    /// Whether `state` was written (vrrp_strict checks it against the priority).
    pub state_given: bool,
    /// `interface IF`.
    pub interface: Option<CompactString>,
    /// `virtual_router_id` (required, 1..255; 0 while missing or invalid).
    pub virtual_router_id: u8,
    /// Whether a valid `virtual_router_id` was given.
    pub vrid_given: bool,
    /// `priority` (100; 255 when state MASTER and no priority is given).
    pub priority: u8,
    /// `advert_int` in seconds (1).
    pub advert_int: f64,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` in seconds (0, at most 1000).
    pub preempt_delay: f64,
    /// `authentication`.
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress`.
    pub virtual_ipaddresses: ThinVec<IpAddress>,
    /// `virtual_ipaddress_excluded`.
    pub excluded_ipaddresses: ThinVec<IpAddress>,
    /// `virtual_routes`.
    pub virtual_routes: ThinVec<Route>,
    /// `virtual_rules`.
    pub virtual_rules: ThinVec<Rule>,
    /// `track_interface`.
    pub track_interfaces: ThinVec<TrackRef>,
    /// `track_script`.
    pub track_scripts: ThinVec<TrackRef>,
    /// `track_file`.
    pub track_files: ThinVec<TrackRef>,
    /// `track_process`.
    pub track_processes: ThinVec<TrackRef>,
    /// `track_bfd { NAME … }`.
    pub track_bfds: ThinVec<TrackRef>,
    /// `mcast_src_ip`.
    pub mcast_src_ip: Option<IpAddr>,
    /// `unicast_src_ip`.
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { … }`.
    pub unicast_peers: ThinVec<IpAddr>,
    /// Unicast peers, source addresses, `mcast_dst_ip` and `native_ipv6` as read, with their
    /// lines: 2.2.7 takes the instance's address family from the first of these and the VIPs,
    /// in reading order, and skips the later ones of the other family.
    pub family_uses: ThinVec<FamilyUse>,
    /// `unicast_ttl`.
    pub unicast_ttl: Option<u8>,
    /// `check_unicast_src`: drop unicast adverts from addresses that are not unicast peers.
    pub check_unicast_src: bool,
    /// `garp_master_delay` (global default when unset).
    pub garp_master_delay: Option<u32>,
    /// `garp_master_repeat`.
    pub garp_master_repeat: Option<u32>,
    /// `garp_master_refresh`.
    pub garp_master_refresh: Option<u32>,
    /// `garp_master_refresh_repeat`.
    pub garp_master_refresh_repeat: Option<u32>,
    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop` and `notify`.
    pub notify: NotifyScripts,
    /// `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// `version` (the global vrrp_version when unset).
    pub version: Option<u8>,
    /// `accept` (true) / `no_accept` (false).
    pub accept: Option<bool>,
    /// `use_vmac [NAME]`: Some("") when no name is given.
    pub use_vmac: Option<String>,
    /// `use_vmac [NAME] MAC`: the VMAC's own MAC address, 6 octets, or 5 that the VRID
    /// completes (a multicast or malformed one is refused while reading).
    pub use_vmac_mac: Option<Vec<u8>>,
    /// `vmac_xmit_base`.
    pub vmac_xmit_base: bool,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// `native_ipv6`.
    pub native_ipv6: bool,
    /// `strict_mode`.
    pub strict_mode: Option<bool>,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: Option<bool>,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: Option<bool>,
    /// `debug [LEVEL]`.
    pub debug: Option<u32>,
    /// Other instance keywords keepalived accepts, as written.
    pub other: ThinVec<RawSetting>,
}

/// The notify commands of an instance or a sync group, run on state changes. Each is boxed:
/// most instances have none, and an empty slot then costs a pointer, not a whole `Command`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyScripts {
    /// `notify_master`.
    pub master: Option<Box<Command>>,
    /// `notify_backup`.
    pub backup: Option<Box<Command>>,
    /// `notify_fault`.
    pub fault: Option<Box<Command>>,
    /// `notify_stop`.
    pub stop: Option<Box<Command>>,
    /// `notify`: gets four more arguments (type, name, state, priority).
    pub generic: Option<Box<Command>>,
}

impl NotifyScripts {
    /// The slot a notify keyword fills, or `None` if the keyword is not one of them.
    pub fn slot(&mut self, keyword: &str) -> Option<&mut Option<Box<Command>>> {
        Some(match keyword {
            "notify_master" => &mut self.master,
            "notify_backup" => &mut self.backup,
            "notify_fault" => &mut self.fault,
            "notify_stop" => &mut self.stop,
            "notify" => &mut self.generic,
            _ => return None,
        })
    }

    /// The commands that are set.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.generic,
        ]
        .into_iter()
        .flatten()
        .map(|command| &**command)
    }
}

/// `vrrp_sync_group NAME { … }`.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    /// The group name.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// `group { INSTANCES }`.
    pub instances: Vec<String>,
    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop` and `notify`.
    pub notify: NotifyScripts,
    /// `track_script`.
    pub track_scripts: ThinVec<TrackRef>,
    /// `track_interface`.
    pub track_interfaces: ThinVec<TrackRef>,
    /// `track_file`.
    pub track_files: ThinVec<TrackRef>,
    /// `track_process`.
    pub track_processes: ThinVec<TrackRef>,
    /// `track_bfd { NAME … }` (checked against the bfd_instance blocks; not acted on).
    pub track_bfds: ThinVec<TrackRef>,
    /// `global_tracking` / `sync_group_tracking_weight`.
    pub sync_group_tracking_weight: bool,
    /// `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// Settings kept as written: `track_bfd` (not acted on yet) and `notify_priority_changes`
    /// (the notify FIFO reads it).
    pub other: Vec<RawSetting>,
}

/// `bfd_instance NAME { … }`: read and checked, not run (see docs/compat.md).
#[derive(Debug, Clone)]
pub struct BfdInstance {
    /// The instance name, as `track_bfd` refers to it.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// Every setting, as written.
    pub other: Vec<RawSetting>,
    /// The BFD process would not run it (no or a malformed neighbor address); `track_bfd`
    /// and `BFD_CHECK` still find it by name, as in 2.2.7.
    pub disabled: bool,
}

/// `vrrp_track_file NAME { file PATH; weight W; init_file … }`.
#[derive(Debug, Clone)]
pub struct TrackFileDef {
    /// The tracker's name.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// `file PATH`.
    pub file: Option<PathBuf>,
    /// `weight W` (1).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    pub init_file: Option<Vec<String>>,
}

/// `vrrp_track_process NAME { process CMD; … }`.
#[derive(Debug, Clone)]
pub struct TrackProcessDef {
    /// The tracker's name.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// `process NAME [ARGS]`.
    pub process: Option<Vec<String>>,
    /// `param_match`.
    pub param_match: Option<String>,
    /// `weight W` (0).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
    /// `quorum N` (1).
    pub quorum: u32,
    /// `quorum_max N`.
    pub quorum_max: Option<u32>,
    /// `delay`, `fork_delay`, `terminate_delay` in seconds.
    pub delay: Option<f64>,
    /// `fork_delay`.
    pub fork_delay: Option<f64>,
    /// `terminate_delay`.
    pub terminate_delay: Option<f64>,
    /// `full_command`.
    pub full_command: bool,
}

/// `garp_group { … }`.
#[derive(Debug, Clone)]
pub struct GarpGroup {
    /// Where the block starts.
    pub location: Location,
    /// `interface IF` / `interfaces { … }`.
    pub interfaces: Vec<String>,
    /// `garp_interval` seconds.
    pub garp_interval: Option<f64>,
    /// `gna_interval` seconds.
    pub gna_interval: Option<f64>,
}

/// `track_group NAME { group { VI_1 … } }`: the vrrp instances that track the static
/// addresses, routes and rules naming the group.
#[derive(Debug, Clone)]
pub struct TrackGroupDef {
    /// The group's name.
    pub name: String,
    /// The instances listed in `group`.
    pub instances: Vec<String>,
    /// Where the block starts.
    pub location: Location,
}

/// `virtual_server_group NAME { … }`.
#[derive(Debug, Clone)]
pub struct VirtualServerGroup {
    /// The group name.
    pub name: String,
    /// Where the block starts.
    pub location: Location,
    /// Entries: `ADDR[-RANGE] PORT` or `fwmark N`, as written.
    pub entries: Vec<Vec<String>>,
}

/// What a virtual server is keyed on.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceKey {
    /// `virtual_server ADDR PORT`.
    Address(IpAddr, u16),
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`.
    Group(String),
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceKey::Address(addr, port) => write!(f, "[{addr}]:{port}"),
            ServiceKey::Fwmark(mark) => write!(f, "FWM {mark}"),
            ServiceKey::Group(name) => write!(f, "group {name}"),
        }
    }
}

/// `virtual_server … { … }`.
#[derive(Debug, Clone)]
pub struct VirtualServer {
    /// What it balances.
    pub key: ServiceKey,
    /// Where the block starts.
    pub location: Location,
    /// `delay_loop` seconds (60).
    pub delay_loop: f64,
    /// `lb_algo` / `lvs_sched`.
    pub lb_algo: Option<String>,
    /// `lb_kind` / `lvs_method` (NAT, DR, TUN).
    pub lb_kind: Option<String>,
    /// The tunnel options after `lb_kind` (used with TUN).
    pub tunnel: TunnelOptions,
    /// `sorry_server_lvs_method`'s tunnel options, if it gave its own.
    pub sorry_tunnel: Option<TunnelOptions>,
    /// `protocol` (TCP, UDP, SCTP).
    pub protocol: Option<String>,
    /// `persistence_timeout`.
    pub persistence_timeout: Option<u32>,
    /// `sorry_server ADDR PORT`.
    pub sorry_server: Option<Vec<String>>,
    /// `quorum` (1): the weight of alive real servers the service needs.
    pub quorum: u32,
    /// `hysteresis` (0) around the quorum.
    pub hysteresis: u32,
    /// `inhibit_on_failure`: failed real servers get weight 0 instead of being removed.
    pub inhibit_on_failure: bool,
    /// `alpha`: real servers start down until their first successful check.
    pub alpha: bool,
    /// `omega`: at stop, the service's real servers leave the table through their checks'
    /// down path (notify_down scripts run).
    pub omega: bool,
    /// `ops`: one-packet scheduling.
    pub ops: bool,
    /// `quorum_up`: the script run when the service gains its quorum (boxed: rarely set).
    pub quorum_up: Option<Box<Command>>,
    /// `quorum_down`: the script run when the service loses its quorum.
    pub quorum_down: Option<Box<Command>>,
    /// `real_server` blocks.
    pub real_servers: Vec<RealServer>,
    /// Other keywords as written.
    pub other: Vec<RawSetting>,
}

/// The tunnel options of a forwarding method (`TUN type gue port 5555 csum`; keepalived
/// 2.2.7's words, the kernel's numbers: include/uapi/linux/ip_vs.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelOptions {
    /// `type`: 0 ipip (the default), 1 gue, 2 gre.
    pub kind: u8,
    /// `port` (gue only; 0 otherwise).
    pub port: u16,
    /// 0 `nocsum` (the default), 1 `csum`, 2 `remcsum`.
    pub flags: u16,
}

/// A forwarding method: `NAT`, `DR` or `TUN`, and the tunnel options read with it (None when
/// they were refused: the previous ones stand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// `NAT`, `DR` or `TUN`.
    pub kind: String,
    /// The tunnel options.
    pub tunnel: Option<TunnelOptions>,
}

/// `real_server ADDR PORT { … }`.
#[derive(Debug, Clone)]
pub struct RealServer {
    /// The address.
    pub address: IpAddr,
    /// The port (0 for fwmark services).
    pub port: u16,
    /// Where the block starts.
    pub location: Location,
    /// `weight`; else the virtual server's `weight` (1).
    pub weight: i32,
    /// Whether the real server gave its own weight.
    pub weight_given: bool,
    /// `lvs_method KIND [tunnel options]`: its own forwarding method (boxed: few real servers
    /// have one).
    pub lvs_method: Option<Box<Forwarding>>,
    /// `inhibit_on_failure` of the real server (overrides the virtual server's).
    pub inhibit_on_failure: Option<bool>,
    /// `notify_up` script (boxed: a file may hold tens of thousands of real servers, few of
    /// them with a script).
    pub notify_up: Option<Box<Command>>,
    /// `notify_down` script (boxed, as `notify_up`).
    pub notify_down: Option<Box<Command>>,
    /// Health checks.
    pub checkers: Vec<Checker>,
    /// Other keywords as written.
    pub other: Vec<RawSetting>,
}

/// The kinds of health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckerKind {
    /// `TCP_CHECK`
    Tcp,
    /// `HTTP_GET`
    Http,
    /// `SSL_GET`
    Ssl,
    /// `MISC_CHECK`
    Misc,
    /// `SMTP_CHECK`
    Smtp,
    /// `DNS_CHECK`
    Dns,
    /// `UDP_CHECK`
    Udp,
    /// `PING_CHECK`
    Ping,
    /// `FILE_CHECK`
    File,
    /// `BFD_CHECK`
    Bfd,
}

/// `url { path …; digest …; status_code … }` of HTTP_GET / SSL_GET.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Url {
    /// `path`.
    pub path: Option<String>,
    /// `digest` (MD5 hex).
    pub digest: Option<String>,
    /// `status_code`.
    pub status_code: Vec<String>,
    /// `virtualhost` of this url (overrides the check's).
    pub virtualhost: Option<String>,
    /// Other keywords as written (`regex`, `regex_no_match`, `regex_options`, …).
    pub other: Vec<RawSetting>,
}

/// One health check of a real server.
#[derive(Debug, Clone)]
pub struct Checker {
    /// Which check.
    pub kind: CheckerKind,
    /// Where the block starts.
    pub location: Location,
    /// Where its `}` stood, if it had one.
    pub close: Option<Location>,
    /// `connect_timeout` seconds.
    pub connect_timeout: Option<f64>,
    /// `connect_port`.
    pub connect_port: Option<u16>,
    /// `connect_ip`.
    pub connect_ip: Option<IpAddr>,
    /// `delay_loop` of this check (overrides the virtual server's).
    pub delay_loop: Option<f64>,
    /// `misc_timeout` seconds (MISC_CHECK).
    pub misc_timeout: Option<f64>,
    /// `misc_dynamic` (MISC_CHECK): the exit code sets the weight.
    pub misc_dynamic: bool,
    /// `retry`.
    pub retry: Option<u32>,
    /// `delay_before_retry` seconds.
    pub delay_before_retry: Option<f64>,
    /// `url` blocks (HTTP_GET, SSL_GET).
    pub urls: Vec<Url>,
    /// `misc_path` (MISC_CHECK).
    pub misc_path: Option<Command>,
    /// SMTP_CHECK's `host { … }` blocks, each read as a check of its own (its connection
    /// options in `connect_ip`, `connect_port`, `connect_timeout` and `other`).
    pub hosts: Vec<Checker>,
    /// Other keywords as written.
    pub other: Vec<RawSetting>,
}

/// The top-level `SSL` block: files of the TLS client SSL_GET uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SslDef {
    /// Where the block starts.
    pub location: Option<Location>,
    /// `password`: the pass phrase of the key file.
    pub password: Option<String>,
    /// `ca`: the CA certificates file.
    pub ca: Option<String>,
    /// `certificate`: the client certificate (chain) file.
    pub certificate: Option<String>,
    /// `key`: the client key file.
    pub key: Option<String>,
}
