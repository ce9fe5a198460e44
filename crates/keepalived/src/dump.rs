//! The three dumps a running daemon writes on request (compat.md sections 1 and 3): the state
//! dump (SIGUSR1, /tmp/keepalived.data), the statistics (SIGUSR2, /tmp/keepalived.stats) and the
//! JSON dump (SIGRTMIN+2, /tmp/keepalived.json), rendered from plain data.
//!
//! The layouts follow what keepalived 2.2.7 writes (observed by running it and sending the
//! signals), so scripts that grep these files keep working:
//! - `.data`: sections headed `------< Global definitions >------`, `------< VRRP Topology >------`,
//!   `------< VRRP Sync groups >------` (2.2.7's layout, sync_group_lab.rs compares it),
//!   `------< VRRP Scripts >------` and `------< Interfaces >------`; one ` Label = value` line
//!   per fact, indented by nesting. Only the lines for which keepalived-rs has the data are
//!   written (keepalived also prints many internal settings: GARP timers, sockets, SNMP …).
//!   keepalived prints times in local time; here they are shifted by `Snapshot::utc_offset_secs`
//!   (0: UTC).
//! - `.stats`: per instance `VRRP Instance: NAME` and the counters, exactly keepalived's labels.
//! - `.json`: one line, an array with `{"data":{…},"stats":{…}}` per instance, keepalived's key
//!   names; states as numbers (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT), intervals in seconds, `/`
//!   escaped as `\/` as keepalived does. Keys keepalived-rs has no data for are left out. The
//!   VRRP password (`auth_data`) is masked as keepalived 2.4 masks it ([`MASKED_PASSWORD`]);
//!   2.2.7 wrote it in clear.
//!
//! keepalived writes all three files with mode 0600 (the data dump holds the passwords);
//! `write_data`, `write_stats` and `write_json` do the same, safely (`safe_file`).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::safe_file::{self, SafeFileError};
pub use keepalived_track::RunPhase;

/// Where SIGUSR1 writes the state dump.
pub const DATA_FILE: &str = "/tmp/keepalived.data";
/// Where SIGUSR2 writes the statistics.
pub const STATS_FILE: &str = "/tmp/keepalived.stats";
/// Where SIGRTMIN+2 writes the JSON dump.
pub const JSON_FILE: &str = "/tmp/keepalived.json";

/// What the JSON dump writes as `auth_data` in place of an instance's `auth_pass`: keepalived
/// 2.4 masks the VRRP password in its dumps ("mask the authentication password in dump and
/// JSON output", its release notes); a fixed text, so the dump tells neither the password nor
/// its length. `auth_type` still says that a password is set.
pub const MASKED_PASSWORD: &str = "********";

/// Everything the dumps show, taken at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The router id (`router_id` in global_defs, else the host name).
    pub router_id: String,
    /// The local time zone's offset from UTC, in seconds, for the human-readable times.
    pub utc_offset_secs: i32,
    /// The VRRP instances, in configuration order.
    pub instances: Vec<InstanceSnapshot>,
    /// The vrrp_scripts, in configuration order.
    pub scripts: Vec<ScriptSnapshot>,
    /// The vrrp_sync_groups, in configuration order.
    pub sync_groups: Vec<SyncGroupSnapshot>,
    /// The virtual servers of the health checker, with their real servers. The VRRP side
    /// leaves this empty: it is the checker's part of the status model.
    pub virtual_servers: Vec<VirtualServerSnapshot>,
}

/// One virtual server of the health checker (the checker's part of the status model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualServerSnapshot {
    /// How it is named: `ADDRESS PORT`, `fwmark N` or a group name.
    pub name: String,
    /// Its real servers.
    pub real_servers: Vec<RealServerSnapshot>,
}

/// One real server: whether its checks pass, its weight, and the last check's latency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealServerSnapshot {
    /// `ADDRESS PORT`.
    pub name: String,
    /// Its checks pass.
    pub alive: bool,
    /// Its current weight.
    pub weight: i32,
    /// How long the last check took, in microseconds (`None` before any).
    pub check_latency_us: Option<u64>,
}

/// The state of a VRRP instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceState {
    /// Not started yet.
    #[default]
    Init,
    /// Backup.
    Backup,
    /// Master.
    Master,
    /// Fault (an interface or a tracked script is down).
    Fault,
}

impl InstanceState {
    /// The name keepalived prints: `INIT`, `BACKUP`, `MASTER`, `FAULT`.
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Init => "INIT",
            InstanceState::Backup => "BACKUP",
            InstanceState::Master => "MASTER",
            InstanceState::Fault => "FAULT",
        }
    }

    /// The number keepalived's JSON dump uses.
    pub fn number(self) -> u8 {
        match self {
            InstanceState::Init => 0,
            InstanceState::Backup => 1,
            InstanceState::Master => 2,
            InstanceState::Fault => 3,
        }
    }
}

/// One virtual IP address of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipSnapshot {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length (a host prefix, /32 or /128, is not printed, like keepalived).
    pub prefix_len: u8,
    /// The interface it goes on.
    pub device: String,
    /// Its scope (`global`, `link`, `host` …).
    pub scope: String,
    /// What keepalived 2.2.7 prints after the scope of an IPv6 VIP (observed): ` -nodad` when
    /// DAD was asked for, then ` deprecated` (preferred lifetime 0) or ` preferred_lft
    /// forever|N`; empty for IPv4.
    pub ipv6_options: String,
}

impl VipSnapshot {
    /// The address as keepalived prints it: `198.51.100.10` or `203.0.113.5/24`.
    fn address_text(&self) -> String {
        let host = match self.address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if self.prefix_len == host {
            self.address.to_string()
        } else {
            format!("{}/{}", self.address, self.prefix_len)
        }
    }

    /// keepalived's line: `198.51.100.10 dev eth0 scope global`, plus ` set` when the address
    /// is on the interface.
    fn line(&self, set: bool) -> String {
        format!(
            "{} dev {} scope {}{}{}",
            self.address_text(),
            self.device,
            self.scope,
            self.ipv6_options,
            if set { " set" } else { "" }
        )
    }
}

/// One VRRP instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceSnapshot {
    /// The instance name (`vrrp_instance NAME`).
    pub name: String,
    /// Its current state.
    pub state: InstanceState,
    /// The vrrp_sync_group it belongs to.
    pub sync_group: Option<String>,
    /// Its interface.
    pub interface: String,
    /// The virtual router id.
    pub vrid: u8,
    /// The VRRP version, 2 or 3.
    pub version: u8,
    /// The configured priority.
    pub base_priority: u8,
    /// The priority after tracking weights.
    pub effective_priority: u8,
    /// The advertisement interval, in milliseconds.
    pub advert_interval_ms: u64,
    /// In BACKUP: the address of the master last heard from.
    pub master_router: Option<String>,
    /// In BACKUP: the priority of the master last heard from (0 when none).
    pub master_priority: u8,
    /// The source address of its adverts, when known.
    pub source_ip: Option<String>,
    /// Whether it preempts (false with `nopreempt`).
    pub preempt: bool,
    /// `preempt_delay`, in milliseconds (0: none).
    pub preempt_delay_ms: u64,
    /// The password with `auth_type PASS`; `None` without authentication.
    pub auth_password: Option<String>,
    /// The virtual IP addresses.
    pub addresses: Vec<VipSnapshot>,
    /// The unicast peers (empty: multicast).
    pub unicast_peers: Vec<String>,
    /// `track_interface`: interface name and weight.
    pub tracked_interfaces: Vec<(String, i32)>,
    /// `track_script`: script name and weight.
    pub tracked_scripts: Vec<(String, i32)>,
    /// When it last changed state.
    pub last_transition: Option<SystemTime>,
    /// Its counters.
    pub stats: StatsSnapshot,
    /// `garp_master_delay`, in whole seconds.
    pub garp_delay_secs: u64,
    /// Drained by the operator (keepalivedctl drain): it stays BACKUP.
    pub drained: bool,
    /// The state it aims at: BACKUP when drained or in FAULT, MASTER while master, else
    /// BACKUP (the election decides).
    pub wanted_state: InstanceState,
    /// Dropped packets by reason (the engine's reason names), only reasons with a count.
    pub drops: Vec<(String, u64)>,
    /// State changes since start, by the state entered and what caused it
    /// (`(state, cause, count)`).
    pub transitions: Vec<(InstanceState, &'static str, u64)>,
    /// Adverts heard in BACKUP that came when the Master_Down_Timer had run more than half.
    pub near_failovers: u64,
    /// The jitter of the adverts heard in BACKUP: cumulative counts per bucket of
    /// `vrrp::advert_watch::JITTER_BUCKETS`, the number of samples and their sum (µs).
    pub jitter: ([u64; 8], u64, u64),
}

/// One vrrp_sync_group, as the state dump's `VRRP Sync groups` section shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncGroupSnapshot {
    /// The group name.
    pub name: String,
    /// Its state (`Init` before a member started).
    pub state: InstanceState,
    /// How many members' own tracking says FAULT.
    pub members_in_fault: usize,
    /// How many members have not started yet.
    pub members_in_init: usize,
    /// Its members, in the order of its `group { }` block.
    pub members: Vec<String>,
    /// `sync_group_tracking_weight` (or `global_tracking`).
    pub tracking_weight: bool,
    /// Whether its state changes send mail.
    pub smtp_alert: bool,
    /// Its own `notify_priority_changes`, if written.
    pub notify_priority_changes: Option<bool>,
    /// Its own `track_interface` names.
    pub tracked_interfaces: Vec<String>,
    /// Its own `track_script` names.
    pub tracked_scripts: Vec<String>,
    /// Its own `track_file` names.
    pub tracked_files: Vec<String>,
    /// Its own `track_process` names.
    pub tracked_processes: Vec<String>,
    /// Its notify commands: `Backup`, `Master`, `Fault`, `Stop`, `Generic` (those it has, in
    /// that order), each with its words and the user and group it runs as.
    pub notify_scripts: Vec<(&'static str, Vec<String>, (u32, u32))>,
}

/// The counters of one instance (keepalived's names in the comments are the JSON keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Adverts received (`advert_rcvd`).
    pub advert_received: u64,
    /// Adverts sent (`advert_sent`).
    pub advert_sent: u64,
    /// Transitions to MASTER (`become_master`).
    pub became_master: u64,
    /// Transitions out of MASTER (`release_master`).
    pub released_master: u64,
    /// Packets too short or of the wrong length (`packet_len_err`).
    pub packet_length_errors: u64,
    /// Packets with a TTL / hop limit other than 255 (`ip_ttl_err`).
    pub ttl_errors: u64,
    /// Packets of an unknown VRRP type (`invalid_type_rcvd`).
    pub invalid_type_received: u64,
    /// Adverts with another advertisement interval (`advert_interval_err`).
    pub advert_interval_errors: u64,
    /// Adverts with another address list (`addr_list_err`).
    pub address_list_errors: u64,
    /// Adverts with an unknown authentication type (`invalid_authtype`).
    pub invalid_auth_type: u64,
    /// Adverts with another authentication type (`authtype_mismatch`).
    pub auth_type_mismatch: u64,
    /// Adverts with a wrong password (`auth_failure`).
    pub auth_failures: u64,
    /// Priority-0 adverts received (`pri_zero_rcvd`).
    pub priority_zero_received: u64,
    /// Priority-0 adverts sent (`pri_zero_sent`).
    pub priority_zero_sent: u64,
}

/// The state of a vrrp_script.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScriptStatus {
    /// No result yet.
    #[default]
    Init,
    /// Succeeding.
    Good,
    /// Failing.
    Bad,
}

impl ScriptStatus {
    /// The name keepalived prints: `INIT`, `GOOD`, `BAD`.
    pub fn name(self) -> &'static str {
        match self {
            ScriptStatus::Init => "INIT",
            ScriptStatus::Good => "GOOD",
            ScriptStatus::Bad => "BAD",
        }
    }
}

/// One vrrp_script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptSnapshot {
    /// The script name (`vrrp_script NAME`).
    pub name: String,
    /// The command line.
    pub command: String,
    /// How often it runs, in milliseconds.
    pub interval_ms: u64,
    /// How long it may run, in milliseconds (0: no timeout set).
    pub timeout_ms: u64,
    /// Successes needed to become GOOD.
    pub rise: u32,
    /// Failures needed to become BAD.
    pub fall: u32,
    /// Its weight.
    pub weight: i32,
    /// Its current status.
    pub status: ScriptStatus,
    /// The last result: `success`, `exit N`, `timeout` or `cannot run: …` (`None` before
    /// the first run ends).
    pub last_result: Option<String>,
    /// Results in a row against the current status, toward `rise` (when BAD) or `fall`
    /// (when GOOD).
    pub streak: u32,
    /// Where its current run is: idle, running, or being terminated after its timeout
    /// (keepalived's script states 0–3).
    pub run_phase: RunPhase,
}

/// Writes the state dump to `path` (mode 0600: it holds the passwords).
pub fn write_data(path: &Path, snapshot: &Snapshot) -> Result<(), SafeFileError> {
    safe_file::write_private(path, render_data(snapshot).as_bytes())
}

/// Writes the statistics to `path` (mode 0600, as keepalived).
pub fn write_stats(path: &Path, snapshot: &Snapshot) -> Result<(), SafeFileError> {
    safe_file::write_private(path, render_stats(snapshot).as_bytes())
}

/// Writes the JSON dump to `path` (mode 0600: it holds the passwords).
pub fn write_json(path: &Path, snapshot: &Snapshot) -> Result<(), SafeFileError> {
    safe_file::write_private(path, render_json(snapshot).as_bytes())
}

/// Seconds and microseconds since the epoch (0 for a time before it).
fn epoch(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(_) => (0, 0),
    }
}

/// The civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01 (the proleptic
/// Gregorian calendar; the usual era-of-400-years computation).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `Tue Nov 24 00:35:16.815936 2026`: ctime's layout with the microseconds, as keepalived
/// prints a time.
fn human_time(secs: i64, micros: u32, utc_offset_secs: i32) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = secs.saturating_add(i64::from(utc_offset_secs));
    let days = local.div_euclid(86_400);
    let in_day = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???");
    format!(
        "{} {} {:2} {:02}:{:02}:{:02}.{:06} {}",
        DAYS.get(weekday).copied().unwrap_or("???"),
        month_name,
        day,
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        micros,
        year
    )
}

/// Milliseconds as seconds, the shortest way: `1`, `0.5`, `1.25`.
fn seconds(ms: u64) -> String {
    let whole = ms / 1000;
    let frac = ms % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// The interfaces the instances use, in order of first mention, each with the instances that
/// follow it and their weights (an instance's own interface and its VIPs' interfaces count
/// with weight 0).
fn interface_users(snapshot: &Snapshot) -> Vec<(String, Vec<(String, i32)>)> {
    let mut order: Vec<String> = Vec::new();
    let mut note = |name: &str| {
        if !name.is_empty() && !order.iter().any(|n| n == name) {
            order.push(name.to_string());
        }
    };
    for instance in &snapshot.instances {
        note(&instance.interface);
        for vip in &instance.addresses {
            note(&vip.device);
        }
        for (name, _) in &instance.tracked_interfaces {
            note(name);
        }
    }
    order
        .into_iter()
        .map(|iface| {
            let users = snapshot
                .instances
                .iter()
                .filter_map(|instance| {
                    if let Some((_, weight)) = instance
                        .tracked_interfaces
                        .iter()
                        .find(|(n, _)| *n == iface)
                    {
                        Some((instance.name.clone(), *weight))
                    } else if instance.interface == iface
                        || instance.addresses.iter().any(|v| v.device == iface)
                    {
                        Some((instance.name.clone(), 0))
                    } else {
                        None
                    }
                })
                .collect();
            (iface, users)
        })
        .collect()
}

/// The state dump (SIGUSR1, /tmp/keepalived.data).
pub fn render_data(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_data_text(&mut out, snapshot);
    out
}

fn write_data_text(out: &mut String, snapshot: &Snapshot) -> std::fmt::Result {
    writeln!(out, "------< Global definitions >------")?;
    writeln!(out, " Router ID = {}", snapshot.router_id)?;
    writeln!(out, "------< VRRP Topology >------")?;
    for instance in &snapshot.instances {
        write_instance(out, instance, snapshot.utc_offset_secs)?;
    }
    if !snapshot.sync_groups.is_empty() {
        writeln!(out, "------< VRRP Sync groups >------")?;
        for group in &snapshot.sync_groups {
            write_sync_group(out, group)?;
        }
    }
    if !snapshot.scripts.is_empty() {
        writeln!(out, "------< VRRP Scripts >------")?;
        for script in &snapshot.scripts {
            write_script(out, script, snapshot)?;
        }
    }
    writeln!(out, "------< Interfaces >------")?;
    for (iface, users) in interface_users(snapshot) {
        writeln!(out, " Name = {iface}")?;
        writeln!(out, "   Tracking VRRP instances :")?;
        for (name, weight) in users {
            writeln!(out, "     {name}, weight {weight}")?;
        }
    }
    Ok(())
}

fn write_instance(
    out: &mut String,
    i: &InstanceSnapshot,
    utc_offset_secs: i32,
) -> std::fmt::Result {
    writeln!(out, " VRRP Instance = {}", i.name)?;
    writeln!(out, "   VRRP Version = {}", i.version)?;
    if let Some(group) = &i.sync_group {
        writeln!(out, "   Sync group = {group}")?;
    }
    // keepalived 2.2.7 says so for every IPv6 instance (observed).
    let ipv6 = i.addresses.first().map(|v| v.address.is_ipv6());
    if ipv6.unwrap_or_else(|| i.source_ip.as_deref().is_some_and(|s| s.contains(':'))) {
        writeln!(out, "   Using Native IPv6")?;
    }
    writeln!(out, "   State = {}", i.state.name())?;
    if i.state == InstanceState::Backup
        && let Some(master) = &i.master_router
    {
        writeln!(out, "   Master router = {master}")?;
        writeln!(out, "   Master priority = {}", i.master_priority)?;
    }
    if i.unicast_peers.is_empty() {
        writeln!(out, "   Flags: none")?;
    } else {
        writeln!(out, "   Flags:")?;
        writeln!(out, "     Using unicast")?;
    }
    if let Some(time) = i.last_transition {
        let (secs, micros) = epoch(time);
        writeln!(
            out,
            "   Last transition = {secs}.{micros:06} ({})",
            human_time(secs, micros, utc_offset_secs)
        )?;
    }
    writeln!(out, "   Interface = {}", i.interface)?;
    if let Some(source) = &i.source_ip {
        writeln!(out, "   Using src_ip = {source}")?;
    }
    writeln!(out, "   Virtual Router ID = {}", i.vrid)?;
    writeln!(out, "   Priority = {}", i.base_priority)?;
    writeln!(out, "   Effective priority = {}", i.effective_priority)?;
    if i.version == 3 {
        writeln!(
            out,
            "   Advert interval = {} milli-sec",
            i.advert_interval_ms
        )?;
    } else {
        writeln!(
            out,
            "   Advert interval = {} sec",
            seconds(i.advert_interval_ms)
        )?;
    }
    writeln!(
        out,
        "   Preempt = {}",
        if i.preempt { "enabled" } else { "disabled" }
    )?;
    if i.preempt_delay_ms > 0 {
        writeln!(
            out,
            "   Preempt delay = {} secs",
            seconds(i.preempt_delay_ms)
        )?;
    }
    match &i.auth_password {
        Some(password) => {
            writeln!(out, "   Authentication type = SIMPLE_PASSWORD")?;
            writeln!(out, "   Password = {password}")?;
        }
        // keepalived only prints this for VRRPv2, which has authentication.
        None if i.version != 3 => writeln!(out, "   Authentication type = none")?,
        None => {}
    }
    writeln!(out, "   Virtual IP ({}):", i.addresses.len())?;
    let set = i.state == InstanceState::Master;
    for vip in &i.addresses {
        writeln!(out, "     {}", vip.line(set))?;
    }
    if !i.unicast_peers.is_empty() {
        writeln!(out, "   Unicast Peer :")?;
        for peer in &i.unicast_peers {
            writeln!(out, "     {peer}")?;
        }
    }
    if !i.tracked_interfaces.is_empty() {
        writeln!(out, "   Tracked interfaces :")?;
        for (name, weight) in &i.tracked_interfaces {
            writeln!(out, "     {name} weight {weight}")?;
        }
    }
    if !i.tracked_scripts.is_empty() {
        writeln!(out, "   Tracked scripts :")?;
        for (name, weight) in &i.tracked_scripts {
            writeln!(out, "     {name} weight {weight}")?;
        }
    }
    Ok(())
}

/// A group as keepalived 2.2.7 writes it (observed): its state, counts and members, then the
/// options and trackers it has, then its notify commands with each word quoted.
fn write_sync_group(out: &mut String, g: &SyncGroupSnapshot) -> std::fmt::Result {
    writeln!(out, " VRRP Sync Group = {}, {}", g.name, g.state.name())?;
    writeln!(
        out,
        "   Num member fault {}, num member init {}",
        g.members_in_fault, g.members_in_init
    )?;
    if !g.members.is_empty() {
        writeln!(out, "   VRRP member instances :")?;
        for member in &g.members {
            writeln!(out, "     {member}")?;
        }
    }
    if g.tracking_weight {
        writeln!(out, "   sync group tracking weight set")?;
    }
    let yes = |on: bool| if on { "yes" } else { "no" };
    writeln!(out, "   Using smtp notification = {}", yes(g.smtp_alert))?;
    if let Some(on) = g.notify_priority_changes {
        writeln!(out, "   Notify priority changes = {}", yes(on))?;
    }
    // Interfaces and scripts are listed `NAME weight 0`, files and processes `NAME, weight
    // 0`: a group's trackers are FAULT trackers.
    let lists: [(&str, &[String], &str); 4] = [
        ("Tracked interfaces", &g.tracked_interfaces, ""),
        ("Tracked scripts", &g.tracked_scripts, ""),
        ("Tracked files", &g.tracked_files, ","),
        ("Tracked process", &g.tracked_processes, ","),
    ];
    for (title, names, comma) in lists {
        if !names.is_empty() {
            writeln!(out, "   {title} :")?;
            for name in names {
                writeln!(out, "     {name}{comma} weight 0")?;
            }
        }
    }
    for (kind, words, (uid, gid)) in &g.notify_scripts {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        writeln!(
            out,
            "   {kind} state transition script = {}, uid:gid {uid}:{gid}",
            quoted.join(" ")
        )?;
    }
    Ok(())
}

fn write_script(out: &mut String, s: &ScriptSnapshot, snapshot: &Snapshot) -> std::fmt::Result {
    writeln!(out, " VRRP Script = {}", s.name)?;
    writeln!(out, "   Command = '{}'", s.command)?;
    writeln!(out, "   Interval = {} sec", seconds(s.interval_ms))?;
    writeln!(out, "   Timeout = {} sec", seconds(s.timeout_ms))?;
    writeln!(out, "   Weight = {}", s.weight)?;
    writeln!(out, "   Rise = {}", s.rise)?;
    writeln!(out, "   Fall = {}", s.fall)?;
    writeln!(out, "   Status = {}", s.status.name())?;
    writeln!(out, "   Tracking instances :")?;
    for instance in &snapshot.instances {
        for (name, weight) in &instance.tracked_scripts {
            if *name == s.name {
                writeln!(out, "     {}, weight {weight}", instance.name)?;
            }
        }
    }
    Ok(())
}

/// The statistics (SIGUSR2, /tmp/keepalived.stats).
pub fn render_stats(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for instance in &snapshot.instances {
        let s = &instance.stats;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "VRRP Instance: {}\n\
             \x20 Advertisements:\n\
             \x20   Received: {}\n\
             \x20   Sent: {}\n\
             \x20 Became master: {}\n\
             \x20 Released master: {}\n\
             \x20 Packet Errors:\n\
             \x20   Length: {}\n\
             \x20   TTL: {}\n\
             \x20   Invalid Type: {}\n\
             \x20   Advertisement Interval: {}\n\
             \x20   Address List: {}\n\
             \x20 Authentication Errors:\n\
             \x20   Invalid Type: {}\n\
             \x20   Type Mismatch: {}\n\
             \x20   Failure: {}\n\
             \x20 Priority Zero:\n\
             \x20   Received: {}\n\
             \x20   Sent: {}\n",
            instance.name,
            s.advert_received,
            s.advert_sent,
            s.became_master,
            s.released_master,
            s.packet_length_errors,
            s.ttl_errors,
            s.invalid_type_received,
            s.advert_interval_errors,
            s.address_list_errors,
            s.invalid_auth_type,
            s.auth_type_mismatch,
            s.auth_failures,
            s.priority_zero_received,
            s.priority_zero_sent,
        );
    }
    out
}

/// Appends `text` as a JSON string: quotes, backslashes, control characters escaped, and `/`
/// as `\/` (as keepalived writes it; valid JSON either way).
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds one JSON object, key by key.
struct JsonObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        JsonObject { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_string(self.out, key);
        self.out.push(':');
        self.out
    }

    /// A number or `true`/`false`, written as is.
    fn raw(&mut self, key: &str, value: impl std::fmt::Display) {
        let out = self.key(key);
        let _ = write!(out, "{value}");
    }

    fn string(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        json_string(out, value);
    }

    fn strings<'s>(&mut self, key: &str, values: impl IntoIterator<Item = &'s str>) {
        let out = self.key(key);
        out.push('[');
        for (n, value) in values.into_iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            json_string(out, value);
        }
        out.push(']');
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// The JSON dump (SIGRTMIN+2, /tmp/keepalived.json): one line.
pub fn render_json(snapshot: &Snapshot) -> String {
    let mut out = String::from("[");
    for (n, instance) in snapshot.instances.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let mut entry = JsonObject::new(&mut out);
        json_data(entry.key("data"), instance, snapshot);
        json_stats(entry.key("stats"), &instance.stats);
        entry.end();
    }
    out.push_str("]\n");
    out
}

fn json_data(out: &mut String, i: &InstanceSnapshot, snapshot: &Snapshot) {
    let mut data = JsonObject::new(out);
    data.string("iname", &i.name);
    data.string("ifp_ifname", &i.interface);
    data.raw("master_priority", i.master_priority);
    let (secs, micros) = i.last_transition.map(epoch).unwrap_or((0, 0));
    data.raw("last_transition", format_args!("{secs}.{micros:06}"));
    data.raw("vrid", i.vrid);
    data.raw("base_priority", i.base_priority);
    data.raw("effective_priority", i.effective_priority);
    data.raw("vipset", i.state == InstanceState::Master);
    data.raw("adver_int", seconds(i.advert_interval_ms));
    data.raw("nopreempt", !i.preempt);
    data.raw("preempt_delay", seconds(i.preempt_delay_ms));
    data.raw("state", i.state.number());
    data.raw("version", i.version);
    let set = i.state == InstanceState::Master;
    let vips: Vec<String> = i.addresses.iter().map(|v| v.line(set)).collect();
    data.strings("vips", vips.iter().map(String::as_str));
    if !i.tracked_interfaces.is_empty() {
        data.strings(
            "track_ifp",
            i.tracked_interfaces.iter().map(|(n, _)| n.as_str()),
        );
    }
    if !i.tracked_scripts.is_empty() {
        // keepalived lists the tracked scripts' command lines, in single quotes.
        let commands: Vec<String> = i
            .tracked_scripts
            .iter()
            .map(|(name, _)| {
                let command = snapshot
                    .scripts
                    .iter()
                    .find(|s| s.name == *name)
                    .map_or(name.as_str(), |s| s.command.as_str());
                format!("'{command}'")
            })
            .collect();
        data.strings("track_script", commands.iter().map(String::as_str));
    }
    match &i.auth_password {
        Some(_) => {
            data.raw("auth_type", 1);
            data.string("auth_data", MASKED_PASSWORD);
        }
        None => data.raw("auth_type", 0),
    }
    data.end();
}

fn json_stats(out: &mut String, s: &StatsSnapshot) {
    let mut stats = JsonObject::new(out);
    for (key, value) in [
        ("advert_rcvd", s.advert_received),
        ("advert_sent", s.advert_sent),
        ("become_master", s.became_master),
        ("release_master", s.released_master),
        ("packet_len_err", s.packet_length_errors),
        ("advert_interval_err", s.advert_interval_errors),
        ("ip_ttl_err", s.ttl_errors),
        ("invalid_type_rcvd", s.invalid_type_received),
        ("addr_list_err", s.address_list_errors),
        ("invalid_authtype", s.invalid_auth_type),
        ("authtype_mismatch", s.auth_type_mismatch),
        ("auth_failure", s.auth_failures),
        ("pri_zero_rcvd", s.priority_zero_received),
        ("pri_zero_sent", s.priority_zero_sent),
    ] {
        stats.raw(key, value);
    }
    stats.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safe_file::tests::{TempDir, TestResult, mode_of};
    use std::io::Write as _;
    use std::net::Ipv4Addr;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    /// 1795480516.815936 s after the epoch: Tue Nov 24 00:35:16.815936 2026 (UTC), a time
    /// keepalived 2.2.7 printed in a test run.
    fn transition() -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(1_795_480_516_815_936)
    }

    fn vip(a: u8, b: u8, c: u8, d: u8, prefix_len: u8, device: &str) -> VipSnapshot {
        VipSnapshot {
            address: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix_len,
            device: device.to_string(),
            scope: "global".to_string(),
            ipv6_options: String::new(),
        }
    }

    /// The setup of the keepalived 2.2.7 run the layouts were taken from: a MASTER with PASS
    /// authentication, a tracked interface and script, and a VRRPv3 unicast BACKUP.
    fn sample() -> Snapshot {
        let master = InstanceSnapshot {
            name: "VI_1".to_string(),
            state: InstanceState::Master,
            interface: "kv0".to_string(),
            vrid: 51,
            version: 2,
            base_priority: 150,
            effective_priority: 160,
            advert_interval_ms: 1000,
            source_ip: Some("192.0.2.1".to_string()),
            preempt: true,
            auth_password: Some("s3cret".to_string()),
            addresses: vec![vip(198, 51, 100, 10, 32, "kv0")],
            tracked_interfaces: vec![("kv1".to_string(), 10)],
            tracked_scripts: vec![("chk_true".to_string(), -20)],
            last_transition: Some(transition()),
            stats: StatsSnapshot {
                advert_sent: 3,
                became_master: 1,
                auth_failures: 2,
                ..StatsSnapshot::default()
            },
            ..InstanceSnapshot::default()
        };
        let backup = InstanceSnapshot {
            name: "VI_2".to_string(),
            state: InstanceState::Backup,
            interface: "kv0".to_string(),
            vrid: 52,
            version: 3,
            base_priority: 90,
            effective_priority: 90,
            advert_interval_ms: 500,
            master_router: Some("192.0.2.2".to_string()),
            master_priority: 150,
            preempt: false,
            preempt_delay_ms: 5000,
            addresses: vec![
                vip(198, 51, 100, 20, 32, "kv0"),
                vip(203, 0, 113, 5, 24, "kv1"),
            ],
            unicast_peers: vec!["192.0.2.2".to_string()],
            stats: StatsSnapshot {
                advert_received: 7,
                ..StatsSnapshot::default()
            },
            ..InstanceSnapshot::default()
        };
        Snapshot {
            router_id: "kr_dump_test".to_string(),
            utc_offset_secs: 0,
            instances: vec![master, backup],
            scripts: vec![ScriptSnapshot {
                name: "chk_true".to_string(),
                command: "/usr/bin/true".to_string(),
                interval_ms: 2000,
                timeout_ms: 3000,
                rise: 2,
                fall: 3,
                weight: -20,
                status: ScriptStatus::Good,
                ..ScriptSnapshot::default()
            }],
            ..Snapshot::default()
        }
    }

    /// The lines of `text` between the line equal to `from` and the next instance header.
    fn block<'t>(text: &'t str, from: &str) -> Vec<&'t str> {
        text.lines()
            .skip_while(|l| *l != from)
            .enumerate()
            .take_while(|(n, l)| *n == 0 || !l.starts_with(" VRRP Instance = "))
            .map(|(_, l)| l)
            .collect()
    }

    #[test]
    fn dates_are_computed_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_088), (2024, 12, 31));
        assert_eq!(human_time(0, 0, 0), "Thu Jan  1 00:00:00.000000 1970");
        assert_eq!(
            human_time(1_795_480_516, 815_936, 0),
            "Tue Nov 24 00:35:16.815936 2026"
        );
        assert_eq!(
            human_time(1_795_480_516, 815_936, -3600),
            "Mon Nov 23 23:35:16.815936 2026"
        );
        assert_eq!(
            human_time(951_825_600, 5, 3600),
            "Tue Feb 29 13:00:00.000005 2000"
        );
    }

    #[test]
    fn states_and_statuses_have_keepalived_s_names_and_numbers() {
        let states = [
            (InstanceState::Init, "INIT", 0),
            (InstanceState::Backup, "BACKUP", 1),
            (InstanceState::Master, "MASTER", 2),
            (InstanceState::Fault, "FAULT", 3),
        ];
        for (state, name, number) in states {
            assert_eq!((state.name(), state.number()), (name, number));
        }
        assert_eq!(ScriptStatus::Init.name(), "INIT");
        assert_eq!(ScriptStatus::Good.name(), "GOOD");
        assert_eq!(ScriptStatus::Bad.name(), "BAD");
        let mut snapshot = sample();
        snapshot.scripts[0].status = ScriptStatus::Bad;
        assert!(render_data(&snapshot).contains("\n   Status = BAD\n"));
    }

    #[test]
    fn seconds_are_written_shortest() {
        assert_eq!(seconds(1000), "1");
        assert_eq!(seconds(500), "0.5");
        assert_eq!(seconds(1250), "1.25");
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(60_001), "60.001");
    }

    #[test]
    fn the_data_dump_has_keepalived_s_sections_and_labels() {
        let text = render_data(&sample());
        let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("------<")).collect();
        assert_eq!(
            headers,
            [
                "------< Global definitions >------",
                "------< VRRP Topology >------",
                "------< VRRP Scripts >------",
                "------< Interfaces >------",
            ]
        );
        assert!(text.contains("\n Router ID = kr_dump_test\n"), "{text}");

        let master = block(&text, " VRRP Instance = VI_1");
        assert_eq!(
            master,
            [
                " VRRP Instance = VI_1",
                "   VRRP Version = 2",
                "   State = MASTER",
                "   Flags: none",
                "   Last transition = 1795480516.815936 (Tue Nov 24 00:35:16.815936 2026)",
                "   Interface = kv0",
                "   Using src_ip = 192.0.2.1",
                "   Virtual Router ID = 51",
                "   Priority = 150",
                "   Effective priority = 160",
                "   Advert interval = 1 sec",
                "   Preempt = enabled",
                "   Authentication type = SIMPLE_PASSWORD",
                "   Password = s3cret",
                "   Virtual IP (1):",
                "     198.51.100.10 dev kv0 scope global set",
                "   Tracked interfaces :",
                "     kv1 weight 10",
                "   Tracked scripts :",
                "     chk_true weight -20",
            ]
        );

        let backup = block(&text, " VRRP Instance = VI_2");
        let expected_backup = [
            " VRRP Instance = VI_2",
            "   VRRP Version = 3",
            "   State = BACKUP",
            "   Master router = 192.0.2.2",
            "   Master priority = 150",
            "   Flags:",
            "     Using unicast",
            "   Interface = kv0",
            "   Virtual Router ID = 52",
            "   Priority = 90",
            "   Effective priority = 90",
            "   Advert interval = 500 milli-sec",
            "   Preempt = disabled",
            "   Preempt delay = 5 secs",
            "   Virtual IP (2):",
            "     198.51.100.20 dev kv0 scope global",
            "     203.0.113.5/24 dev kv1 scope global",
            "   Unicast Peer :",
            "     192.0.2.2",
            "------< VRRP Scripts >------",
            " VRRP Script = chk_true",
            "   Command = '/usr/bin/true'",
            "   Interval = 2 sec",
            "   Timeout = 3 sec",
            "   Weight = -20",
            "   Rise = 2",
            "   Fall = 3",
            "   Status = GOOD",
            "   Tracking instances :",
            "     VI_1, weight -20",
            "------< Interfaces >------",
            " Name = kv0",
            "   Tracking VRRP instances :",
            "     VI_1, weight 0",
            "     VI_2, weight 0",
            " Name = kv1",
            "   Tracking VRRP instances :",
            "     VI_1, weight 10",
            "     VI_2, weight 0",
        ];
        assert_eq!(backup, expected_backup);
        assert!(text.ends_with("     VI_2, weight 0\n"));
    }

    #[test]
    fn data_dump_variants() {
        let mut snapshot = sample();
        snapshot.scripts.clear();
        snapshot.instances.truncate(1);
        let instance = &mut snapshot.instances[0];
        instance.state = InstanceState::Fault;
        instance.auth_password = None;
        instance.last_transition = None;
        instance.tracked_scripts.clear();
        let text = render_data(&snapshot);
        assert!(text.contains("\n   State = FAULT\n"), "{text}");
        assert!(text.contains("\n   Authentication type = none\n"), "{text}");
        assert!(!text.contains("Password"), "{text}");
        assert!(!text.contains("Last transition"), "{text}");
        assert!(
            text.contains("\n     198.51.100.10 dev kv0 scope global\n"),
            "{text}"
        );
        assert!(!text.contains("VRRP Scripts"), "{text}");
        assert!(!text.contains("Tracked scripts"), "{text}");

        let empty = render_data(&Snapshot::default());
        assert_eq!(
            empty,
            "------< Global definitions >------\n Router ID = \n------< VRRP Topology >------\n\
             ------< Interfaces >------\n"
        );
    }

    #[test]
    fn a_sync_group_is_dumped_as_keepalived_does() {
        let mut snapshot = sample();
        snapshot.scripts.clear();
        snapshot.instances.truncate(1);
        snapshot.instances[0].sync_group = Some("G1".into());
        snapshot.sync_groups.push(SyncGroupSnapshot {
            name: "G1".into(),
            state: InstanceState::Backup,
            members_in_fault: 1,
            members: vec!["VI_1".into()],
            tracked_processes: vec!["tp".into()],
            notify_scripts: vec![("Stop", vec!["/usr/bin/stop".into()], (5, 6))],
            ..SyncGroupSnapshot::default()
        });
        let text = render_data(&snapshot);
        assert!(
            text.contains(" VRRP Version = 2\n   Sync group = G1\n   State ="),
            "{text}"
        );
        assert!(
            text.contains(
                "------< VRRP Sync groups >------\n VRRP Sync Group = G1, BACKUP\n\
                 \x20  Num member fault 1, num member init 0\n   VRRP member instances :\n\
                 \x20    VI_1\n   Using smtp notification = no\n   Tracked process :\n\
                 \x20    tp, weight 0\n   Stop state transition script = '/usr/bin/stop', \
                 uid:gid 5:6\n------< Interfaces >------\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_stats_dump_is_keepalived_s_layout() {
        let text = render_stats(&sample());
        let expected_first = "VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 3
  Became master: 1
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 2
  Priority Zero:
    Received: 0
    Sent: 0
VRRP Instance: VI_2
  Advertisements:
    Received: 7
";
        assert!(text.starts_with(expected_first), "{text}");
        assert_eq!(text.lines().count(), 38);
        assert!(text.ends_with("  Priority Zero:\n    Received: 0\n    Sent: 0\n"));
        assert_eq!(render_stats(&Snapshot::default()), "");

        let mut counted = sample();
        counted.instances.truncate(1);
        counted.instances[0].stats = StatsSnapshot {
            advert_received: 1,
            advert_sent: 2,
            became_master: 3,
            released_master: 4,
            packet_length_errors: 5,
            ttl_errors: 6,
            invalid_type_received: 7,
            advert_interval_errors: 8,
            address_list_errors: 9,
            invalid_auth_type: 10,
            auth_type_mismatch: 11,
            auth_failures: 12,
            priority_zero_received: 13,
            priority_zero_sent: 14,
        };
        let rendered = render_stats(&counted);
        let values: Vec<&str> = rendered
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit_once(": ").map(|(_, v)| v))
            .collect();
        assert_eq!(
            values,
            [
                "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14"
            ]
        );
    }

    #[test]
    fn the_json_dump_has_keepalived_s_keys() {
        let text = render_json(&sample());
        assert!(
            text.ends_with("]\n") && text.starts_with("[{\"data\":{"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
        for part in [
            r#""iname":"VI_1","#,
            r#""ifp_ifname":"kv0","#,
            r#""last_transition":1795480516.815936,"#,
            r#""vrid":51,"#,
            r#""base_priority":150,"effective_priority":160,"#,
            r#""vipset":true,"#,
            r#""adver_int":1,"#,
            r#""nopreempt":false,"preempt_delay":0,"state":2,"version":2,"#,
            r#""vips":["198.51.100.10 dev kv0 scope global set"],"#,
            r#""track_ifp":["kv1"],"#,
            r#""track_script":["'\/usr\/bin\/true'"],"#,
            r#""auth_type":1,"auth_data":"********"},"#,
            r#""stats":{"advert_rcvd":0,"advert_sent":3,"become_master":1,"release_master":0,"#,
            r#""auth_failure":2,"pri_zero_rcvd":0,"pri_zero_sent":0}}"#,
            r#""iname":"VI_2","#,
            r#""master_priority":150,"#,
            r#""last_transition":0.000000,"#,
            r#""vipset":false,"#,
            r#""adver_int":0.5,"#,
            r#""nopreempt":true,"preempt_delay":5,"state":1,"version":3,"#,
            r#""203.0.113.5\/24 dev kv1 scope global"],"auth_type":0},"#,
        ] {
            assert!(text.contains(part), "missing {part} in {text}");
        }
        assert_eq!(render_json(&Snapshot::default()), "[]\n");
    }

    #[test]
    fn the_json_dump_masks_the_password_and_the_data_dump_keeps_it() {
        let mut snapshot = sample();
        for password in ["s3cret", "x", "12345678", "p\"w\\"] {
            snapshot.instances[0].auth_password = Some(password.to_string());
            let json = render_json(&snapshot);
            assert!(!json.contains(password), "{password} in {json}");
            assert!(
                json.contains(r#""auth_type":1,"auth_data":"********"}"#),
                "{json}"
            );
            // The .data dump is 2.2.7's, whose `Password = ` line scripts may read.
            assert!(
                render_data(&snapshot).contains(&format!("   Password = {password}\n")),
                "{password}"
            );
        }
        // Without a password: no auth_data at all.
        snapshot.instances[0].auth_password = None;
        let json = render_json(&snapshot);
        assert!(!json.contains("auth_data"), "{json}");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c/d\ne\tf\r\u{1}\u{8}\u{c}\u{1f}\u{7f}é€");
        assert_eq!(out, r#""a\"b\\c\/d\ne\tf\r\u0001\b\f\u001f\u007fé€""#);
    }

    /// Runs python3's JSON parser on `json` with `check` (Python code that sees the parsed
    /// value as `d` and the extra arguments as `a`), and returns what it printed; `None` when
    /// there is no python3 here.
    fn python_json(json: &str, check: &str, args: &[&str]) -> TestResult<Option<String>> {
        let program = format!("import json,sys\nd=json.load(sys.stdin)\na=sys.argv[1:]\n{check}");
        let spawned = Command::new("python3")
            .arg("-c")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(json.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "python3 rejected {json}: {stderr}");
        Ok(Some(String::from_utf8(output.stdout)?))
    }

    #[test]
    fn the_json_dump_parses_with_awkward_names() -> TestResult {
        let mut snapshot = sample();
        let awkward = "VI \"quoted\" back\\slash\ttab\u{1}ctl /slash é";
        snapshot.instances[0].name = awkward.to_string();
        snapshot.instances[0].auth_password = Some("p\"w\\".to_string());
        snapshot.scripts[0].command = "/bin/sh -c 'exit \"0\"'\n".to_string();
        let quoted = format!("'{}'", snapshot.scripts[0].command);
        let json = render_json(&snapshot);
        assert_eq!(json.lines().count(), 1, "{json}");
        let check = "i=d[0]['data']\n\
                     print(len(d), i['iname']==a[0], i['auth_data']=='********', a[1] not in str(d), i['track_script']==[a[3]], \
                     i['state'], d[1]['data']['adver_int'], d[0]['stats']['auth_failure'], \
                     sorted(d[0]['stats'])==sorted(a[2].split(',')))";
        let keys = "advert_rcvd,advert_sent,become_master,release_master,packet_len_err,\
                    advert_interval_err,ip_ttl_err,invalid_type_rcvd,addr_list_err,\
                    invalid_authtype,authtype_mismatch,auth_failure,pri_zero_rcvd,pri_zero_sent";
        let Some(printed) = python_json(&json, check, &[awkward, "p\"w\\", keys, &quoted])? else {
            eprintln!("skipped: no python3 to parse the JSON with");
            return Ok(());
        };
        assert_eq!(printed.trim_end(), "2 True True True True 2 0.5 2 True");
        Ok(())
    }

    #[test]
    fn dumps_are_written_private() -> TestResult {
        let dir = TempDir::new("dump-write")?;
        let snapshot = sample();
        let data = dir.path().join("keepalived.data");
        let stats = dir.path().join("keepalived.stats");
        let json = dir.path().join("keepalived.json");
        write_data(&data, &snapshot)?;
        write_stats(&stats, &snapshot)?;
        write_json(&json, &snapshot)?;
        assert_eq!(std::fs::read_to_string(&data)?, render_data(&snapshot));
        assert_eq!(std::fs::read_to_string(&stats)?, render_stats(&snapshot));
        assert_eq!(std::fs::read_to_string(&json)?, render_json(&snapshot));
        for path in [&data, &stats, &json] {
            assert_eq!(mode_of(path)?, 0o600, "{}", path.display());
        }
        assert_eq!(DATA_FILE, "/tmp/keepalived.data");
        assert_eq!(STATS_FILE, "/tmp/keepalived.stats");
        assert_eq!(JSON_FILE, "/tmp/keepalived.json");
        Ok(())
    }
}
