//! What the checker child runs, resolved from the configuration with keepalived 2.2.7's
//! defaults: each virtual server as an IPVS service, each real server as a destination with
//! its checks, and the names the log lines use (`[192.0.2.11]:tcp:80`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{
    Checker, CheckerKind, Command, RawSetting, RealServer, ServiceKey, TunnelOptions, VirtualServer,
};
use keepalived_ipvs::attr::{
    AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, SVC_F_ONEPACKET, SVC_F_PERSISTENT,
    SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3,
};
use keepalived_ipvs::{Destination, Forward, Service, ServiceKey as IpvsKey, Tunnel};

pub use super::source::Source;

/// keepalived's default `connect_timeout` (seconds).
const DEFAULT_CONNECT_TIMEOUT: f64 = 5.0;
/// keepalived's default `retry` of a check.
const DEFAULT_RETRY: u32 = 1;
/// keepalived's default `delay_before_retry` (seconds).
const DEFAULT_DELAY_BEFORE_RETRY: f64 = 1.0;
/// The scheduler when `lb_algo` is not given.
const DEFAULT_SCHEDULER: &str = "wlc";

/// One virtual server.
#[derive(Debug, Clone, PartialEq)]
pub struct VsPlan {
    /// The IPVS services: one, or one per entry of a virtual_server_group.
    pub services: Vec<Service>,
    /// Its name in log lines: `[198.51.100.10]:tcp:80` or `FWM 7`.
    pub name: String,
    /// `quorum`.
    pub quorum: u32,
    /// `hysteresis`.
    pub hysteresis: u32,
    /// The sorry server, as a destination.
    pub sorry: Option<Destination>,
    /// `omega`: notify_down of alive real servers runs at stop.
    pub omega: bool,
    /// `quorum_up`: run when the quorum is gained.
    pub quorum_up: Option<NotifyScript>,
    /// `quorum_down`: run when the quorum is lost.
    pub quorum_down: Option<NotifyScript>,
    /// `sorry_server_inhibit`: the sorry server stays in the table with weight 0 while the
    /// quorum holds, instead of being added and removed.
    pub sorry_inhibit: bool,
    /// Its real servers.
    pub real_servers: Vec<RsPlan>,
    /// Whether its quorum changes are mailed (`smtp_alert`, see [`crate::alert`]).
    pub smtp_alert: bool,
    /// `ha_suspend`: its checks run only while its address is on the host (see
    /// [`super::suspend`]).
    pub ha_suspend: bool,
}

/// A notify script (a real server's notify_up / notify_down, a quorum's quorum_up /
/// quorum_down) and the user it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyScript {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// `(uid, gid)`: its own `USER [GROUP]`, else the default script user (root when that is
    /// missing and script security is off); `None`: root.
    pub run_as: Option<(u32, u32)>,
}

impl NotifyScript {
    /// The script of `command`, with the user the configuration check gave it.
    fn of(command: &Command) -> NotifyScript {
        NotifyScript {
            argv: command.argv.clone(),
            run_as: command.run_as_ids,
        }
    }
}

/// What the pool's tests compare a notify script with: its words.
impl PartialEq<Vec<&str>> for NotifyScript {
    fn eq(&self, words: &Vec<&str>) -> bool {
        self.argv == *words
    }
}

/// One real server.
#[derive(Debug, Clone, PartialEq)]
pub struct RsPlan {
    /// The IPVS destination (with the configured weight).
    pub dest: Destination,
    /// Its name in log lines.
    pub name: String,
    /// Weight 0 instead of removal on failure.
    pub inhibit_on_failure: bool,
    /// Starts down until checked (`alpha`).
    pub alpha: bool,
    /// `notify_up`.
    pub notify_up: Option<NotifyScript>,
    /// `notify_down`.
    pub notify_down: Option<NotifyScript>,
    /// Its checks, shared with the tasks that run them (one copy of each check's settings
    /// in the checker child).
    pub checks: Vec<Arc<CheckPlan>>,
    /// Whether its checks' changes are mailed (`smtp_alert`, see [`crate::alert`]).
    pub smtp_alert: bool,
}

/// One health check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPlan {
    /// What it does.
    pub kind: CheckKind,
    /// Where it connects (connect_ip / connect_port, else the real server's).
    pub target: SocketAddr,
    /// Its name in log lines: the target as `[ADDR]:tcp:PORT`.
    pub target_name: String,
    /// `bindto`, `bind_port`, `bind_if`, `fwmark`.
    pub source: Box<Source>,
    /// `connect_timeout`.
    pub connect_timeout: Duration,
    /// `delay_loop` (the check's, else the virtual server's).
    pub delay_loop: Duration,
    /// `warmup`: the first attempt comes after a random delay up to this (0: at once);
    /// keepalived's default is the delay_loop.
    pub warmup: Duration,
    /// `retry`.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry: Duration,
    /// `virtualhost` (the check's, else the real server's, else the virtual server's): the
    /// HTTP `Host` header and, with `enable_sni`, the TLS server name.
    pub virtualhost: Option<String>,
    /// `http_protocol`: `1.0` (default), `1.0C` or `1.1`.
    pub http_protocol: HttpProtocol,
    /// `log_all_failures` of the check, or global_defs' `checker_log_all_failures`: every
    /// failed attempt while the server is up is logged, not only the last of the retries.
    pub log_all_failures: bool,
    /// `fast_recovery` (HTTP_GET / SSL_GET): at start and when recovering, the urls are
    /// checked one after the other with no delay_loop between them.
    pub fast_recovery: bool,
}

/// The HTTP request form of HTTP_GET / SSL_GET / genhash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `GET … HTTP/1.0` without `Connection: close`.
    #[default]
    V10,
    /// HTTP/1.0 with `Connection: close`.
    V10Close,
    /// `GET … HTTP/1.1` with `Connection: close`.
    V11,
}

impl HttpProtocol {
    /// Reads `1.0`, `1.0C` / `1.0c` or `1.1`.
    pub fn parse(text: &str) -> Option<HttpProtocol> {
        match text {
            "1.0" => Some(HttpProtocol::V10),
            "1.0C" | "1.0c" => Some(HttpProtocol::V10Close),
            "1.1" => Some(HttpProtocol::V11),
            _ => None,
        }
    }
}

/// The kinds of check the child runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// TCP_CHECK: a connection is opened and closed.
    Tcp,
    /// HTTP_GET: each url fetched, status and digest compared.
    Http(Vec<UrlPlan>),
    /// SSL_GET: HTTP_GET over TLS (any certificate accepted, as 2.2.7 without an `SSL` block).
    Ssl {
        /// The urls.
        urls: Vec<UrlPlan>,
        /// `enable_sni`: the virtualhost is sent as the TLS server name.
        sni: bool,
    },
    /// UDP_CHECK: a datagram sent, an ICMP error (or a missing or wrong reply when one is
    /// required) fails.
    Udp(UdpPlan),
    /// DNS_CHECK: a query answered with rcode 0.
    Dns {
        /// The query type (`type`, default SOA).
        qtype: u16,
        /// The name queried (`name`, default `.`).
        name: String,
    },
    /// SMTP_CHECK: banner 220, `HELO` answered 250, `QUIT`.
    Smtp {
        /// `helo_name`.
        helo: String,
    },
    /// FILE_CHECK: the number in a track_file's file.
    File(FilePlan),
    /// PING_CHECK: an ICMP echo request answered.
    Ping,
    /// MISC_CHECK: a program's exit status.
    Misc {
        /// Program and arguments.
        argv: Vec<String>,
        /// `misc_timeout`.
        timeout: Duration,
        /// `misc_dynamic`: exit codes 2-255 set the weight to code - 2.
        dynamic: bool,
        /// The (uid, gid) it runs as: its `user NAME [GROUP]`, else the default script user
        /// (`None`: the daemon's own).
        run_as: Option<(u32, u32)>,
    },
}

/// UDP_CHECK's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UdpPlan {
    /// `payload` (none: a random one is sent).
    pub payload: Option<Vec<u8>>,
    /// `require_reply`.
    pub require_reply: bool,
    /// The reply's bytes and the mask of ignored bits (`X` nibbles).
    pub reply: Option<(Vec<u8>, Vec<u8>)>,
    /// `min_reply_length` (0).
    pub min_len: usize,
    /// `max_reply_length` (255).
    pub max_len: usize,
}

/// FILE_CHECK's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePlan {
    /// The track_file's name.
    pub name: String,
    /// The file of the named track_file.
    pub path: std::path::PathBuf,
    /// `weight` (the check's, else the track_file's; 0: a non-zero value takes the server down).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
    /// The real server's configured weight, which a weighted value adjusts.
    pub base_weight: i32,
}

/// One `url` of an HTTP_GET.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlPlan {
    /// The path requested.
    pub path: String,
    /// Status codes accepted (inclusive ranges); empty: 200-299.
    pub status: Vec<(u16, u16)>,
    /// The MD5 of the body, lowercase hex, if checked.
    pub digest: Option<String>,
    /// The url's own `virtualhost` (else the check's).
    pub virtualhost: Option<String>,
    /// `regex` and its options.
    pub regex: Option<UrlRegex>,
}

/// A url's `regex` (matched against the body, with the regex crate: see docs/compat.md for
/// where it differs from 2.2.7's PCRE2).
#[derive(Debug, Clone)]
pub struct UrlRegex {
    /// The compiled expression.
    pub re: regex::bytes::Regex,
    /// `regex_no_match`: a match fails the check.
    pub no_match: bool,
    /// `regex_min_offset`: the search starts this far into the body.
    pub min_offset: usize,
    /// `regex_max_offset`: a match must start at or before this offset.
    pub max_offset: Option<usize>,
}

impl PartialEq for UrlRegex {
    fn eq(&self, other: &Self) -> bool {
        self.re.as_str() == other.re.as_str()
            && (self.no_match, self.min_offset, self.max_offset)
                == (other.no_match, other.min_offset, other.max_offset)
    }
}

impl UrlRegex {
    /// Whether `body` passes: a match (starting within the offsets) is wanted, or with
    /// `regex_no_match` is not.
    pub fn passes(&self, body: &[u8]) -> bool {
        let found = body
            .get(self.min_offset..)
            .and_then(|rest| self.re.find(rest))
            .is_some_and(|m| {
                self.max_offset
                    .is_none_or(|max| self.min_offset + m.start() <= max)
            });
        found != self.no_match
    }
}

/// The checker side of a configuration, with what the child reads and does not act on.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The virtual servers.
    pub virtual_servers: Vec<VsPlan>,
    /// `(keyword, "file: Line n")` of settings read and not acted on.
    pub unsupported: Vec<(String, String)>,
    /// Warnings about what the child changed, logged at load as keepalived does.
    pub warnings: Vec<String>,
    /// `lvs_flush` (global_defs): the whole IPVS table is flushed at start.
    pub flush_at_start: bool,
    /// `lvs_flush_onstop` / `lvs_flush_on_stop [VS]` (global_defs).
    pub flush_on_stop: FlushOnStop,
    /// `lvs_timeouts [tcp S] [tcpfin S] [udp S]` (global_defs): set at start and at each
    /// reload (0: left as it is).
    pub lvs_timeouts: Option<keepalived_ipvs::Timeouts>,
    /// `no_checker_emails` (global_defs): a check's change is mailed only when it changes its
    /// real server's state.
    pub no_checker_emails: bool,
    /// `rs_init_notifies` (global_defs): the real servers that start alive get their
    /// notify_up (and the notify FIFO's `RS … UP`) when they are installed.
    pub rs_init_notifies: bool,
    /// The top-level `SSL` block, for SSL_GET.
    pub ssl: Option<keepalived_config::model::SslDef>,
    /// `init_file` of the track_files FILE_CHECKs use: (path, value, overwrite).
    pub init_files: Vec<(std::path::PathBuf, i64, bool)>,
}

/// How the child leaves IPVS at stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushOnStop {
    /// Each real server, then each virtual server, removed one by one.
    #[default]
    No,
    /// `lvs_flush_on_stop`: the whole table flushed at once.
    Full,
    /// `lvs_flush_on_stop VS`: each virtual server removed, the kernel removing its real
    /// servers.
    Vs,
}

impl Plan {
    /// Resolves the checker side of `config`.
    pub fn from_config(config: &Config) -> Plan {
        let mut plan = Plan::default();
        for setting in &config.global.other {
            match setting.keyword.as_str() {
                "lvs_flush" => plan.flush_at_start = true,
                "lvs_timeouts" => plan.lvs_timeouts = lvs_timeouts(&setting.args),
                "no_checker_emails" => plan.no_checker_emails = bool_setting(setting),
                "rs_init_notifies" => plan.rs_init_notifies = bool_setting(setting),
                "lvs_flush_onstop" | "lvs_flush_on_stop" => {
                    plan.flush_on_stop = match setting.args.first().map(String::as_str) {
                        Some("VS") => FlushOnStop::Vs,
                        _ => FlushOnStop::Full,
                    }
                }
                _ => {}
            }
        }
        plan.ssl = config.ssl.clone();
        for vs in &config.virtual_servers {
            if let Some(vs_plan) =
                virtual_server(config, vs, &mut plan.unsupported, &mut plan.warnings)
            {
                plan.virtual_servers.push(vs_plan);
            }
        }
        // keepalived writes a track_file's init_file value when the checker reads the
        // configuration too, for the files its FILE_CHECKs use.
        for def in &config.track_files {
            let used = plan.virtual_servers.iter().any(|vs| {
                vs.real_servers.iter().any(|rs| {
                    rs.checks
                        .iter()
                        .any(|c| matches!(&c.kind, CheckKind::File(f) if f.name == def.name))
                })
            });
            if let (true, Some(path), Some(words)) = (used, &def.file, &def.init_file) {
                let overwrite = words.iter().any(|w| w == "overwrite");
                let value = words
                    .iter()
                    .find(|w| *w != "overwrite")
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(0);
                plan.init_files.push((path.clone(), value, overwrite));
            }
        }
        plan
    }
}

/// A boolean keyword's value: alone it is on, else `true`/`false` and their synonyms (a
/// value the config reader reported as invalid leaves it off, as 2.2.7).
fn bool_setting(setting: &RawSetting) -> bool {
    flag(setting.args.first().map(String::as_str)).unwrap_or(false)
}

/// global_defs' `checker_log_all_failures`.
fn checker_log_all_failures(config: &Config) -> bool {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| s.keyword == "checker_log_all_failures")
        .is_some_and(bool_setting)
}

/// `lvs_timeouts`' pairs (the config reader reported invalid ones; they are skipped here);
/// `None` when no timeout is set.
fn lvs_timeouts(words: &[String]) -> Option<keepalived_ipvs::Timeouts> {
    let mut timeouts = keepalived_ipvs::Timeouts::default();
    let mut i = 0;
    while i < words.len() {
        let slot = match words[i].as_str() {
            "tcp" => &mut timeouts.tcp,
            "tcpfin" => &mut timeouts.tcp_fin,
            "udp" => &mut timeouts.udp,
            _ => {
                i += 1;
                continue;
            }
        };
        if let Some(v) = words.get(i + 1).and_then(|w| w.parse::<u32>().ok()) {
            *slot = v;
        }
        i += 2;
    }
    (timeouts != keepalived_ipvs::Timeouts::default()).then_some(timeouts)
}

fn at(location: &keepalived_config::diagnostic::Location) -> String {
    format!("{}: Line {}", location.file.display(), location.line)
}

/// Check settings a virtual server or real server gives its checks as defaults (the check's
/// own win, then the real server's, then the virtual server's).
#[derive(Debug, Clone, Default)]
struct Inherited {
    virtualhost: Option<String>,
    retry: Option<u32>,
    delay_before_retry: Option<f64>,
    connect_timeout: Option<f64>,
    delay_loop: Option<f64>,
    warmup: Option<f64>,
    alpha: Option<bool>,
}

impl Inherited {
    /// Reads the settings from `raw` over `base`; anything else goes to `skipped`.
    fn read(base: Inherited, raw: &[RawSetting], skipped: &mut Vec<(String, String)>) -> Self {
        let mut out = base;
        for setting in raw {
            let number = setting.args.first().and_then(|a| a.parse::<f64>().ok());
            let positive = number.filter(|v| v.is_finite() && *v > 0.0);
            let used = match setting.keyword.as_str() {
                "retry" => {
                    out.retry = setting.args.first().and_then(|a| a.parse().ok());
                    out.retry.is_some()
                }
                "delay_before_retry" => {
                    out.delay_before_retry = number.filter(|v| v.is_finite() && *v >= 0.0);
                    out.delay_before_retry.is_some()
                }
                "connect_timeout" => {
                    out.connect_timeout = positive;
                    positive.is_some()
                }
                "delay_loop" => {
                    out.delay_loop = positive;
                    positive.is_some()
                }
                "warmup" => {
                    out.warmup = number.filter(|v| v.is_finite() && *v >= 0.0);
                    out.warmup.is_some()
                }
                "virtualhost" if setting.args.len() == 1 => {
                    out.virtualhost = setting.args.first().cloned();
                    true
                }
                "alpha" if setting.args.is_empty() => {
                    out.alpha = Some(true);
                    true
                }
                _ => false,
            };
            if !used {
                skipped.push((setting.keyword.clone(), at(&setting.location)));
            }
        }
        out
    }
}

/// `tcp`, `udp` or `sctp` as keepalived writes them.
pub fn proto_name(protocol: u16) -> &'static str {
    match protocol {
        IPPROTO_UDP => "udp",
        IPPROTO_SCTP => "sctp",
        IPPROTO_TCP => "tcp",
        _ => "none",
    }
}

/// `[ADDR]:PROTO:PORT`.
pub fn endpoint_name(addr: IpAddr, protocol: u16, port: u16) -> String {
    format!("[{addr}]:{}:{port}", proto_name(protocol))
}

fn virtual_server(
    config: &Config,
    vs: &VirtualServer,
    skipped: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Option<VsPlan> {
    // keepalived 2.2.7: an address service without `protocol` is UDP; a fwmark service (or
    // a group of fwmarks only) has none, even written ("protocol will be ignored"): its real
    // servers are named `[ADDR]:none:PORT` in log lines (observed, checker VM scenario 10).
    let protocol = match (vs.protocol.as_deref(), &vs.key) {
        _ if fwmark_only(config, &vs.key) => 0,
        (Some("TCP"), _) => IPPROTO_TCP,
        (Some("UDP"), _) => IPPROTO_UDP,
        (Some("SCTP"), _) => IPPROTO_SCTP,
        (_, ServiceKey::Address(..)) => IPPROTO_UDP,
        _ => 0,
    };
    // keepalived takes a fwmark service's family from its real servers.
    let fwmark_af = match vs.real_servers.first().map(|rs| rs.address) {
        Some(IpAddr::V6(_)) => AF_INET6,
        _ => AF_INET,
    };
    let (keys, name) = match &vs.key {
        ServiceKey::Address(addr, port) => (
            vec![IpvsKey::Address {
                protocol,
                addr: *addr,
                port: *port,
            }],
            endpoint_name(*addr, protocol, *port),
        ),
        ServiceKey::Fwmark(mark) => (
            vec![IpvsKey::Fwmark {
                af: fwmark_af,
                mark: *mark,
            }],
            format!("FWM {mark}"),
        ),
        ServiceKey::Group(group) => {
            let Some(def) = config
                .virtual_server_groups
                .iter()
                .find(|g| &g.name == group)
            else {
                warnings.push(format!(
                    "Virtual server group {group} not found - ignoring virtual server"
                ));
                return None;
            };
            let mut keys = Vec::new();
            for entry in &def.entries {
                match group_entry(entry, protocol, fwmark_af) {
                    Some(mut expanded) => keys.append(&mut expanded),
                    None => warnings.push(format!(
                        "Invalid virtual server group {group} entry '{}' - ignoring",
                        entry.join(" ")
                    )),
                }
            }
            (keys, format!("[{group}]:0"))
        }
    };
    let key = keys[..].first().copied()?;
    let mut template =
        ServiceTemplate::new(key, vs.lb_algo.as_deref().unwrap_or(DEFAULT_SCHEDULER));
    if let Some(timeout) = vs.persistence_timeout {
        template.flags |= SVC_F_PERSISTENT;
        template.timeout = timeout;
    }
    if vs.ops {
        template.flags |= SVC_F_ONEPACKET;
    }
    // The service options read from the raw settings; the rest go on below.
    let mut rest = Vec::with_capacity(vs.other.len());
    for setting in &vs.other {
        if !service_option(&mut template, setting, warnings) {
            rest.push(setting.clone());
        }
    }
    let services: Vec<Service> = keys
        .iter()
        .map(|k| {
            let mut service = Service::new(*k, &template.scheduler);
            service.flags = template.flags;
            service.timeout = template.timeout;
            if template.netmask_set {
                service.netmask = template.netmask;
            }
            service.pe_name = template.pe_name.clone();
            service
        })
        .collect();
    let forward = forward_of(vs.lb_kind.as_deref());
    // The sorry server's own options; the rest are check defaults (or not supported).
    let mut sorry_inhibit = false;
    let mut ha_suspend = false;
    let mut sorry_forward = forward;
    let mut smtp_alert = None;
    let options = std::mem::take(&mut rest);
    for setting in &options {
        match (
            setting.keyword.as_str(),
            setting.args.first().map(String::as_str),
        ) {
            ("sorry_server_inhibit", _) => sorry_inhibit = true,
            ("ha_suspend", _) => ha_suspend = true,
            ("smtp_alert", word) => smtp_alert = flag(word),
            ("sorry_server_lvs_method", Some("NAT")) => sorry_forward = Forward::Masq,
            ("sorry_server_lvs_method", Some("DR")) => sorry_forward = Forward::Route,
            ("sorry_server_lvs_method", Some("TUN")) => sorry_forward = Forward::Tunnel,
            _ => rest.push(setting.clone()),
        }
    }
    let inherited = Inherited::read(Inherited::default(), &rest, skipped);
    let default_port = match key {
        IpvsKey::Address { port, .. } => port,
        IpvsKey::Fwmark { .. } => 0,
    };
    let sorry = vs.sorry_server.as_ref().and_then(|words| {
        let addr = words.first()?.parse::<IpAddr>().ok()?;
        let port = match words.get(1) {
            Some(p) => p.parse::<u16>().ok()?,
            None => default_port,
        };
        // As a real server's: with DR or TUN the destination takes the service's port (0
        // for a fwmark or a zero-port service), 2.2.7 in the QEMU lab (scenario 11).
        let port = if sorry_forward == Forward::Masq {
            port
        } else {
            default_port
        };
        let mut dest = Destination::new(addr, port, sorry_forward, 1);
        dest.tunnel = tunnel(vs.sorry_tunnel.unwrap_or(vs.tunnel));
        Some(dest)
    });
    let real_servers = vs
        .real_servers
        .iter()
        // A port on a fwmark service's real server is dropped (its destination carries port
        // 0); the config reader words that warning, once per reading.
        .map(|rs| {
            real_server(
                config,
                vs,
                rs,
                protocol,
                forward,
                inherited.clone(),
                skipped,
                warnings,
            )
        })
        .collect();
    Some(VsPlan {
        services,
        name,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        sorry,
        omega: vs.omega,
        quorum_up: vs.quorum_up.as_deref().map(NotifyScript::of),
        quorum_down: vs.quorum_down.as_deref().map(NotifyScript::of),
        sorry_inhibit,
        real_servers,
        smtp_alert: crate::alert::checker_vs_alerts(config, smtp_alert),
        ha_suspend,
    })
}

/// The options every IPVS service of a virtual server shares.
struct ServiceTemplate {
    af: u16,
    scheduler: String,
    flags: u32,
    timeout: u32,
    netmask: u32,
    netmask_set: bool,
    pe_name: Option<String>,
}

impl ServiceTemplate {
    fn new(key: IpvsKey, scheduler: &str) -> Self {
        ServiceTemplate {
            af: key.af(),
            scheduler: scheduler.to_string(),
            flags: 0,
            timeout: 0,
            netmask: 0,
            netmask_set: false,
            pe_name: None,
        }
    }
}

/// keepalived's `IPVS_SVC_PERSISTENT_TIMEOUT`: the persistence a `persistence_granularity`
/// without `persistence_timeout` gets (seconds).
const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;

/// `IP_VS_PENAME_MAXLEN` less the NUL.
const PE_NAME_MAX: usize = 15;

/// Applies one of the service's IPVS options (`persistence_granularity`,
/// `persistence_engine`, the scheduler flags); false when `setting` is not one.
fn service_option(
    template: &mut ServiceTemplate,
    setting: &RawSetting,
    warnings: &mut Vec<String>,
) -> bool {
    let arg = setting.args.first().map(String::as_str);
    match setting.keyword.as_str() {
        // 2.2.7: an IPv6 service takes a prefix length (1-128), an IPv4 one a mask as
        // inet_aton reads it (not required to be contiguous); the kernel gets the prefix
        // length in host order, the IPv4 mask in network order. Granularity without a
        // timeout makes the service persistent for IPVS's default 360 s.
        "persistence_granularity" => {
            let Some(text) = arg else { return true };
            let netmask = if template.af == AF_INET6 {
                text.parse::<u32>().ok().filter(|v| (1..=128).contains(v))
            } else {
                keepalived_config::values::inet_aton(text)
            };
            match netmask {
                Some(mask) => {
                    template.netmask = mask;
                    template.netmask_set = true;
                    if template.flags & SVC_F_PERSISTENT == 0 {
                        template.flags |= SVC_F_PERSISTENT;
                        template.timeout = DEFAULT_PERSISTENCE_TIMEOUT;
                    }
                }
                None => {
                    let family = if template.af == AF_INET6 {
                        "IPv6"
                    } else {
                        "IPv4"
                    };
                    warnings.push(format!(
                        "Invalid {family} persistence_granularity specified - {text}"
                    ));
                }
            }
            true
        }
        // The persistence engine module (`sip`: ip_vs_pe_sip), truncated as 2.2.7 does.
        "persistence_engine" => {
            if let Some(name) = arg {
                if name.len() > PE_NAME_MAX {
                    warnings.push(format!("persistence_name too long, truncating - {name}"));
                }
                let name: String = name.chars().take(PE_NAME_MAX).collect();
                template.pe_name = (!name.is_empty()).then_some(name);
            }
            true
        }
        "flag-1" => {
            template.flags |= SVC_F_SCHED1;
            true
        }
        "flag-2" => {
            template.flags |= SVC_F_SCHED2;
            true
        }
        "flag-3" => {
            template.flags |= SVC_F_SCHED3;
            true
        }
        // The config reader keeps these only under lb_algo sh or mh. As 2.2.7: sh-port and
        // mh-port are IP_VS_SVC_F_SCHED2, sh-fallback and mh-fallback IP_VS_SVC_F_SCHED1,
        // each only under its own scheduler; `hashed` (and sh-* under mh, mh-* under sh) is
        // accepted and sets nothing.
        keyword @ ("hashed" | "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback") => {
            let flag = match (template.scheduler.as_str(), keyword) {
                ("sh", "sh-port") | ("mh", "mh-port") => SVC_F_SCHED2,
                ("sh", "sh-fallback") | ("mh", "mh-fallback") => SVC_F_SCHED1,
                _ => 0,
            };
            template.flags |= flag;
            true
        }
        _ => false,
    }
}

/// A flag's value: alone it is on, else `true`/`false` and their synonyms.
fn flag(word: Option<&str>) -> Option<bool> {
    match word {
        None => Some(true),
        Some(word) => keepalived_config::values::parse_bool(word),
    }
}

/// Whether a service has fwmarks only (a fwmark service, or a group whose entries are all
/// `fwmark N`): keepalived 2.2.7 gives it no protocol.
fn fwmark_only(config: &Config, key: &ServiceKey) -> bool {
    match key {
        ServiceKey::Fwmark(_) => true,
        ServiceKey::Address(..) => false,
        ServiceKey::Group(group) => {
            let mut entries = config
                .virtual_server_groups
                .iter()
                .filter(|g| &g.name == group)
                .flat_map(|g| &g.entries)
                .peekable();
            entries.peek().is_some()
                && entries.all(|entry| entry.first().is_some_and(|w| w == "fwmark"))
        }
    }
}

/// The services of one virtual_server_group entry: `ADDR PORT`, `ADDR-LAST PORT` (a range of
/// the address's last byte, or last 16-bit group for IPv6) or `fwmark N`.
fn group_entry(entry: &[String], protocol: u16, fwmark_af: u16) -> Option<Vec<IpvsKey>> {
    let words: Vec<&str> = entry.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["fwmark", mark, ..] => Some(vec![IpvsKey::Fwmark {
            af: fwmark_af,
            mark: mark.parse().ok()?,
        }]),
        [addr, port, ..] => {
            let port: u16 = port.parse().ok()?;
            let protocol = if protocol == 0 { IPPROTO_UDP } else { protocol };
            let (first, last) = match addr.rsplit_once('-') {
                Some((first, last)) => (first, Some(last)),
                None => (*addr, None),
            };
            let first: IpAddr = first.parse().ok()?;
            let addrs: Vec<IpAddr> = match (first, last) {
                (a, None) => vec![a],
                (IpAddr::V4(a), Some(last)) => {
                    let o = a.octets();
                    let end: u8 = last.parse().ok()?;
                    (o[3]..=end)
                        .map(|b| IpAddr::V4(std::net::Ipv4Addr::new(o[0], o[1], o[2], b)))
                        .collect()
                }
                (IpAddr::V6(a), Some(last)) => {
                    let mut seg = a.segments();
                    let end = u16::from_str_radix(last, 16).ok()?;
                    let start = seg[7];
                    (start..=end)
                        .map(|g| {
                            seg[7] = g;
                            IpAddr::V6(std::net::Ipv6Addr::from(seg))
                        })
                        .collect()
                }
            };
            if addrs.is_empty() || addrs.len() > 65536 {
                return None;
            }
            Some(
                addrs
                    .into_iter()
                    .map(|addr| IpvsKey::Address {
                        protocol,
                        addr,
                        port,
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn real_server(
    config: &Config,
    vs: &VirtualServer,
    rs: &RealServer,
    protocol: u16,
    forward: Forward,
    inherited: Inherited,
    skipped: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> RsPlan {
    // The real server's own `lvs_method`, else the virtual server's.
    let (forward, tunnel_options) = match rs.lvs_method.as_deref() {
        Some(method) => (
            forward_of(Some(&method.kind)),
            method.tunnel.unwrap_or(vs.tunnel),
        ),
        None => (forward, vs.tunnel),
    };
    let mut smtp_alert = None;
    let mut upper_threshold = 0;
    let mut lower_threshold = 0;
    let mut rest = Vec::with_capacity(rs.other.len());
    for setting in &rs.other {
        let number = || setting.args.first().and_then(|a| a.parse::<u32>().ok());
        match setting.keyword.as_str() {
            "smtp_alert" => smtp_alert = flag(setting.args.first().map(String::as_str)),
            // IPVS_DEST_ATTR_U_THRESH / L_THRESH (the config reader checked the number).
            "uthreshold" => upper_threshold = number().unwrap_or(upper_threshold),
            "lthreshold" => lower_threshold = number().unwrap_or(lower_threshold),
            _ => rest.push(setting.clone()),
        }
    }
    let inherited = Inherited::read(inherited, &rest, skipped);
    // A fwmark or zero-port service's real servers keep their port in IPVS with NAT (also
    // the default); with DR or TUN keepalived 2.2.7 clears it ("has port specified -
    // clearing", "ports don't match - resetting") and names them with port 0 (observed,
    // checker VM scenario 10). Their checks connect to the written port either way.
    let port = match vs.key {
        ServiceKey::Fwmark(_) | ServiceKey::Address(_, 0) if forward != Forward::Masq => 0,
        _ => rs.port,
    };
    let context = CheckContext {
        config,
        vs,
        rs,
        protocol,
        named_port: port,
    };
    let mut checks = Vec::new();
    for c in &rs.checkers {
        checks.extend(check(&context, c, inherited.clone(), skipped, warnings).map(Arc::new));
        if c.hosts.is_empty() {
            continue;
        }
        // 2.2.7 runs the SMTP_CHECK on its own connection options and adds a checker for
        // each `host` block: the SMTP_CHECK's settings with the host's connection options
        // (three "Activating healthchecker" lines for a check with two hosts, in the lab).
        warnings.push(
            "The SMTP_CHECK host block is deprecated. Please define additional checkers.".into(),
        );
        for host in &c.hosts {
            let mut merged = c.clone();
            merged.hosts = Vec::new();
            merged.connect_ip = host.connect_ip.or(c.connect_ip);
            merged.connect_port = host.connect_port.or(c.connect_port);
            merged.connect_timeout = host.connect_timeout.or(c.connect_timeout);
            merged.retry = host.retry.or(c.retry);
            merged.delay_before_retry = host.delay_before_retry.or(c.delay_before_retry);
            merged.delay_loop = host.delay_loop.or(c.delay_loop);
            merged.other.extend(host.other.iter().cloned());
            checks.extend(
                check(&context, &merged, inherited.clone(), skipped, warnings).map(Arc::new),
            );
        }
    }
    // Exactly as many as there are: a growing Vec keeps room for four, a kilobyte per real
    // server in a large pool.
    checks.shrink_to_fit();
    let mut dest = Destination::new(rs.address, port, forward, rs.weight);
    dest.tunnel = tunnel(tunnel_options);
    dest.upper_threshold = upper_threshold;
    dest.lower_threshold = lower_threshold;
    RsPlan {
        dest,
        name: endpoint_name(rs.address, protocol, port),
        inhibit_on_failure: rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
        alpha: vs.alpha || inherited.alpha.unwrap_or(false),
        notify_up: rs.notify_up.as_deref().map(NotifyScript::of),
        notify_down: rs.notify_down.as_deref().map(NotifyScript::of),
        checks,
        smtp_alert: crate::alert::checker_rs_alerts(config, smtp_alert),
    }
}

/// The IPVS forwarding method of `NAT`, `DR` or `TUN` (NAT when none is given).
fn forward_of(kind: Option<&str>) -> Forward {
    match kind {
        Some("DR") => Forward::Route,
        Some("TUN") => Forward::Tunnel,
        _ => Forward::Masq,
    }
}

/// The IPVS tunnel attributes of the configuration's tunnel options.
fn tunnel(options: TunnelOptions) -> Tunnel {
    Tunnel {
        kind: options.kind,
        port: options.port,
        flags: options.flags,
    }
}

fn argv(command: &Command) -> Vec<String> {
    command.argv.clone()
}

/// `v` seconds, 0 allowed.
fn secs_or_zero(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::ZERO)
}

fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::from_secs(1))
}

/// What a check's plan is resolved against.
struct CheckContext<'a> {
    config: &'a Config,
    vs: &'a VirtualServer,
    rs: &'a RealServer,
    protocol: u16,
    named_port: u16,
}

/// keepalived's default `retry` and `delay_before_retry` per kind (DNS_CHECK: 3 and the
/// delay_loop; HTTP_GET / SSL_GET: 1 and 3 s; MISC_CHECK: 0; the others 1 and 1 s), from
/// the keepalived.conf(5) of 2.2.7.
fn kind_defaults(kind: CheckerKind, delay_loop: f64) -> (u32, f64) {
    match kind {
        CheckerKind::Dns => (3, delay_loop),
        CheckerKind::Misc => (0, DEFAULT_DELAY_BEFORE_RETRY),
        CheckerKind::Http | CheckerKind::Ssl => (DEFAULT_RETRY, 3.0),
        _ => (DEFAULT_RETRY, DEFAULT_DELAY_BEFORE_RETRY),
    }
}

fn check(
    cx: &CheckContext<'_>,
    c: &Checker,
    inherited: Inherited,
    skipped: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Option<CheckPlan> {
    let (vs, rs) = (cx.vs, cx.rs);
    let delay_loop_secs = c
        .delay_loop
        .or(inherited.delay_loop)
        .unwrap_or(vs.delay_loop);
    let delay_loop = secs(delay_loop_secs);
    let mut virtualhost = inherited.virtualhost.clone();
    let mut http_protocol = HttpProtocol::default();
    let mut sni = false;
    let mut udp = UdpPlan {
        max_len: 255,
        ..UdpPlan::default()
    };
    let mut dns_type = DNS_TYPE_SOA;
    let mut dns_name: Option<String> = None;
    let mut helo = SMTP_DEFAULT_HELO.to_string();
    let mut track_file: Option<String> = None;
    let mut file_weight: Option<(i32, bool)> = None;
    let mut warmup = inherited.warmup;
    let mut source = Source::default();
    let mut log_all_failures = checker_log_all_failures(cx.config);
    let mut fast_recovery = false;
    // MISC_CHECK, FILE_CHECK and BFD_CHECK open no connection.
    let connects = !matches!(
        c.kind,
        CheckerKind::Misc | CheckerKind::File | CheckerKind::Bfd
    );
    for setting in &c.other {
        let first = setting.args.first().map(String::as_str);
        let joined = setting.args.join(" ");
        let used = match (c.kind, setting.keyword.as_str()) {
            (_, "bindto") if connects => {
                match first.map(|a| (a, a.parse::<IpAddr>())) {
                    Some((_, Ok(ip))) => source.addr = Some(ip),
                    Some((text, Err(_))) => {
                        warnings.push(format!("Invalid bindto address {text} - ignoring"))
                    }
                    None => {}
                }
                true
            }
            (_, "bind_port") if connects => {
                match first.map(|a| (a, a.parse::<u16>())) {
                    Some((_, Ok(port))) if port > 0 => source.port = Some(port),
                    Some((text, _)) => warnings.push(format!("Invalid checker bind_port '{text}'")),
                    None => {}
                }
                true
            }
            (_, "bind_if") if connects && first.is_some() => {
                source.device = first.map(str::to_string);
                true
            }
            (_, "fwmark") if connects => {
                match first.map(|v| (v, v.parse::<u32>())) {
                    Some((_, Ok(mark))) => source.fwmark = Some(mark),
                    Some((text, Err(_))) => {
                        warnings.push(format!("Invalid fwmark connection value '{text}'"))
                    }
                    None => {}
                }
                true
            }
            // Read with the program (see CheckKind::Misc below).
            (CheckerKind::Misc, "user") => true,
            (_, "log_all_failures") => {
                log_all_failures |= bool_setting(setting);
                true
            }
            (CheckerKind::Http | CheckerKind::Ssl, "fast_recovery") => {
                fast_recovery = bool_setting(setting);
                true
            }
            (_, "warmup") => {
                warmup = first
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0);
                warmup.is_some()
            }
            (CheckerKind::Http | CheckerKind::Ssl, "virtualhost") if first.is_some() => {
                virtualhost = first.map(str::to_string);
                true
            }
            (CheckerKind::Http | CheckerKind::Ssl, "http_protocol") => {
                match first.and_then(HttpProtocol::parse) {
                    Some(p) => {
                        http_protocol = p;
                        true
                    }
                    None => false,
                }
            }
            (CheckerKind::Ssl, "enable_sni") => {
                sni = !matches!(first, Some("false" | "off" | "no"));
                true
            }
            (CheckerKind::Udp, "payload") => {
                udp.payload = parse_hex(&joined).map(|(data, _)| data);
                udp.payload.is_some()
            }
            (CheckerKind::Udp, "require_reply") => {
                udp.require_reply = true;
                if !setting.args.is_empty() {
                    udp.reply = parse_hex(&joined);
                }
                setting.args.is_empty() || udp.reply.is_some()
            }
            (CheckerKind::Udp, "min_reply_length" | "max_reply_length") => {
                match first.and_then(|v| v.parse::<u16>().ok()) {
                    Some(v) if setting.keyword == "min_reply_length" => {
                        udp.min_len = usize::from(v);
                        true
                    }
                    Some(v) => {
                        udp.max_len = usize::from(v);
                        true
                    }
                    None => false,
                }
            }
            (CheckerKind::Dns, "type") => match first.and_then(dns_type_code) {
                Some(t) => {
                    dns_type = t;
                    true
                }
                None => false,
            },
            (CheckerKind::Dns, "name") if dns_name.is_none() && first.is_some() => {
                dns_name = first.map(str::to_string);
                true
            }
            (CheckerKind::Smtp, "helo_name") if first.is_some() => {
                helo = joined.clone();
                true
            }
            (CheckerKind::File, "track_file") if first.is_some() => {
                track_file = first.map(str::to_string);
                true
            }
            (CheckerKind::File, "weight") => {
                let w = first.and_then(|v| v.parse::<i32>().ok());
                let reverse = match setting.args.get(1).map(String::as_str) {
                    None | Some("noreverse") => Some(false),
                    Some("reverse") => Some(true),
                    Some(_) => None,
                };
                match (w, reverse) {
                    (Some(w), Some(r)) if w.abs() <= 65535 => {
                        file_weight = Some((w, r));
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !used {
            skipped.push((setting.keyword.clone(), at(&setting.location)));
        }
    }
    let target_ip = c.connect_ip.unwrap_or(rs.address);
    if let Some(addr) = source.addr {
        if addr.is_ipv4() != target_ip.is_ipv4() {
            let which = if c.connect_ip.is_some() {
                "connect_ip"
            } else {
                "real server"
            };
            warnings.push(format!(
                "bindto address {addr} does not match address family of {which} - skipping"
            ));
            source.addr = None;
        } else if let IpAddr::V6(v6) = addr
            && v6.is_unicast_link_local()
            && source.device.is_none()
        {
            warnings.push(format!(
                "Checker link local address {addr} requires a bind_if"
            ));
        }
    }
    let urls: Vec<UrlPlan> = c.urls.iter().map(|u| url(u, warnings)).collect();
    let kind = match c.kind {
        CheckerKind::Tcp => CheckKind::Tcp,
        CheckerKind::Http => CheckKind::Http(urls),
        CheckerKind::Ssl => CheckKind::Ssl { urls, sni },
        CheckerKind::Ping => CheckKind::Ping,
        CheckerKind::Misc => {
            // The config reader resolved the user; a `user` it could not resolve drops the
            // check, as 2.2.7 (`Failed to set uid/gid for misc checker script … - removing`).
            let run_as = c.misc_path.as_ref().and_then(|m| m.run_as_ids);
            let named = c
                .other
                .iter()
                .any(|s| s.keyword == "user" && !s.args.is_empty());
            if named && run_as.is_none() {
                return None;
            }
            CheckKind::Misc {
                argv: c.misc_path.as_ref().map(argv).unwrap_or_default(),
                timeout: c.misc_timeout.map(secs).unwrap_or(delay_loop),
                dynamic: c.misc_dynamic,
                run_as,
            }
        }
        CheckerKind::Udp => CheckKind::Udp(udp),
        CheckerKind::Dns => CheckKind::Dns {
            qtype: dns_type,
            name: dns_name.unwrap_or_else(|| ".".to_string()),
        },
        CheckerKind::Smtp => CheckKind::Smtp { helo },
        CheckerKind::File => {
            // keepalived: `FILE_CHECK has no track_file specified - ignoring`, or the name is
            // not a track_file (`track_file NAME not found`): the check is dropped.
            let def = track_file
                .as_ref()
                .and_then(|name| cx.config.track_files.iter().find(|t| &t.name == name))?;
            let path = def.file.clone()?;
            let (weight, reverse) = match file_weight {
                Some((w, r)) if w != 0 => (w, r),
                _ => (def.weight, def.reverse),
            };
            CheckKind::File(FilePlan {
                name: def.name.clone(),
                path,
                weight,
                reverse,
                base_weight: rs.weight,
            })
        }
        other => {
            skipped.push((format!("{other:?}_CHECK").to_uppercase(), at(&c.location)));
            return None;
        }
    };
    let (default_retry, default_delay_before_retry) = kind_defaults(c.kind, delay_loop_secs);
    let addr = c.connect_ip.unwrap_or(rs.address);
    let port = c.connect_port.unwrap_or(rs.port);
    Some(CheckPlan {
        kind,
        target: SocketAddr::new(addr, port),
        target_name: endpoint_name(addr, cx.protocol, c.connect_port.unwrap_or(cx.named_port)),
        source: Box::new(source),
        connect_timeout: secs(
            c.connect_timeout
                .or(inherited.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        ),
        delay_loop,
        warmup: secs_or_zero(warmup.unwrap_or(delay_loop_secs)),
        retry: c.retry.or(inherited.retry).unwrap_or(default_retry),
        delay_before_retry: secs(
            c.delay_before_retry
                .or(inherited.delay_before_retry)
                .unwrap_or(default_delay_before_retry),
        ),
        virtualhost,
        http_protocol,
        log_all_failures,
        fast_recovery,
    })
}

/// SMTP_CHECK's default `helo_name`, as 2.2.7.
pub const SMTP_DEFAULT_HELO: &str = "smtpchecker.keepalived.org";
/// DNS type SOA (RFC 1035 section 3.2.2), DNS_CHECK's default.
const DNS_TYPE_SOA: u16 = 6;

/// The DNS_CHECK `type` names 2.2.7 knows (RFC 1035 3.2.2, RFC 3596, RFC 4034).
pub fn dns_type_code(name: &str) -> Option<u16> {
    Some(match name.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "RRSIG" => 46,
        "DNSKEY" => 48,
        _ => return None,
    })
}

/// keepalived's free-form hex strings (`payload`, `require_reply`): each word is read two
/// digits at a time, an odd last digit making a byte of its own (`Ab12f 3` is AB 12 0F 03).
/// In a reply, `X` stands for a nibble not compared: the second vector is the mask of
/// ignored bits.
pub fn parse_hex(text: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut data = Vec::new();
    let mut mask = Vec::new();
    for word in text.split_whitespace() {
        let digits: Vec<char> = word.chars().collect();
        for pair in digits.chunks(2) {
            let mut value = 0u8;
            let mut ignored = 0u8;
            for &d in pair {
                value <<= 4;
                ignored <<= 4;
                if d == 'x' || d == 'X' {
                    ignored |= 0xf;
                } else {
                    value |= u8::try_from(d.to_digit(16)?).ok()?;
                }
            }
            data.push(value);
            mask.push(ignored);
        }
    }
    if data.is_empty() {
        None
    } else {
        Some((data, mask))
    }
}

/// A url's `regex` settings (`regex`, `regex_no_match`, `regex_options`, `regex_stack`,
/// `regex_min_offset`, `regex_max_offset`), with 2.2.7's warnings for bad ones.
fn url_regex(settings: &[RawSetting], warnings: &mut Vec<String>) -> Option<UrlRegex> {
    let mut pattern: Option<String> = None;
    let mut no_match = false;
    let mut options: Vec<String> = Vec::new();
    let mut min_offset = 0usize;
    let mut max_offset: Option<usize> = None;
    for setting in settings {
        let args = &setting.args;
        match setting.keyword.as_str() {
            "regex" => match args.as_slice() {
                [p] => pattern = Some(p.clone()),
                _ => warnings.push("regex missing or too many fields".into()),
            },
            "regex_no_match" => no_match = true,
            "regex_options" => options.extend(args.iter().cloned()),
            "regex_stack" => {
                // The regex crate needs no JIT stack: the values are only checked.
                let start = args.first().and_then(|v| v.parse::<usize>().ok());
                let max = args.get(1).and_then(|v| v.parse::<usize>().ok());
                match (args.len(), start, max) {
                    (n, _, _) if n != 2 => {
                        warnings.push("regex_stack requires start and max values".into())
                    }
                    (_, None, _) => warnings.push("regex_stack invalid start value".into()),
                    (_, _, None) => warnings.push("regex_stack invalid max value".into()),
                    (_, Some(s), Some(m)) if s > m => {
                        warnings.push("regex stack start cannot exceed max value".into())
                    }
                    _ => {}
                }
            }
            which @ ("regex_min_offset" | "regex_max_offset") => {
                let name = &which["regex_".len()..which.len() - "_offset".len()];
                match args.as_slice() {
                    [v] => match v.parse::<usize>() {
                        Ok(n) if name == "min" => min_offset = n,
                        Ok(n) => max_offset = Some(n),
                        Err(_) => {
                            warnings.push(format!("Invalid regex_{name}_offset {v} specified"))
                        }
                    },
                    _ => warnings.push(format!(
                        "Missing or too may options for regex_{name}_offset"
                    )),
                }
            }
            _ => {}
        }
    }
    let Some(pattern) = pattern else {
        if !settings.is_empty() {
            warnings.push("regex parameters specified without regex".into());
        }
        return None;
    };
    if let Some(max) = max_offset
        && min_offset > max
    {
        warnings.push(format!(
            "regex min offset {min_offset} > regex_max_offset {max} - ignoring"
        ));
        max_offset = None;
    }
    match compile_regex(&pattern, &options) {
        Ok(re) => Some(UrlRegex {
            re,
            no_match,
            min_offset,
            max_offset,
        }),
        Err(why) => {
            warnings.push(format!("Invalid regex: '{pattern}': {why}"));
            None
        }
    }
}

/// Compiles `pattern` with the PCRE2 option names of `regex_options` that have a meaning
/// for the regex crate. As PCRE2 without `utf`, the subject is bytes (`.` is any byte but
/// a newline, classes are ASCII); `utf` / `ucp` make it Unicode.
pub fn compile_regex(pattern: &str, options: &[String]) -> Result<regex::bytes::Regex, String> {
    let mut builder = regex::bytes::RegexBuilder::new(pattern);
    builder.unicode(false);
    for option in options {
        match option.as_str() {
            "caseless" => builder.case_insensitive(true),
            "dotall" => builder.dot_matches_new_line(true),
            "multiline" => builder.multi_line(true),
            "extended" => builder.ignore_whitespace(true),
            "ungreedy" => builder.swap_greed(true),
            "utf" | "ucp" => builder.unicode(true),
            _ => &mut builder,
        };
    }
    builder
        .build()
        .or_else(|first| {
            // A pattern with non-ASCII characters needs Unicode mode in the regex crate.
            builder.unicode(true);
            builder.build().map_err(|_| first.to_string())
        })
        .map_err(|e| e.lines().last().unwrap_or_default().trim().to_string())
}

fn url(u: &keepalived_config::model::Url, warnings: &mut Vec<String>) -> UrlPlan {
    let status = u
        .status_code
        .iter()
        .filter_map(|code| {
            let mut parts = code.split('-').map(|p| p.parse::<u16>().ok());
            let lo = parts.next()??;
            let hi = parts.next().unwrap_or(Some(lo))?;
            Some((lo, hi))
        })
        .collect();
    UrlPlan {
        path: u.path.clone().unwrap_or_else(|| "/".to_string()),
        status,
        digest: u.digest.as_ref().map(|d| d.to_ascii_lowercase()),
        virtualhost: u.virtualhost.clone(),
        regex: url_regex(&u.other, warnings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let host = keepalived_config::RealHost::default();
        let options = keepalived_config::LoadOptions::for_host(&host);
        let loaded = keepalived_config::load_str(text, std::path::Path::new("test.conf"), &options);
        Plan::from_config(&loaded.config)
    }

    /// Notify and quorum scripts carry the user the configuration gave them: their own, else
    /// the default script user (root here, where `keepalived_script` does not exist).
    #[test]
    fn notify_scripts_run_as_their_user() {
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            println!("skipped: no user nobody");
            return;
        };
        if nix::unistd::User::from_name("keepalived_script")
            .ok()
            .flatten()
            .is_some()
        {
            println!("skipped: a keepalived_script user exists");
            return;
        }
        let p = plan(
            "virtual_server 192.0.2.10 80 {\n protocol TCP\n quorum_up \"/bin/true q\"\n \
             real_server 192.0.2.11 80 {\n notify_up \"/bin/true up\" nobody\n \
             TCP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        let quorum = vs.quorum_up.as_ref().expect("quorum_up");
        assert_eq!(quorum.run_as, Some((0, 0)));
        let up = vs.real_servers[0].notify_up.as_ref().expect("notify_up");
        assert_eq!(up.argv, ["/bin/true", "up"]);
        assert_eq!(up.run_as, Some((nobody.uid.as_raw(), nobody.gid.as_raw())));
    }

    /// A real server's checks are held without spare room (a growing Vec keeps four, a
    /// kilobyte per real server in a pool of thousands), and each check once.
    #[test]
    fn checks_are_held_without_spare_room() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n \
             real_server 192.0.2.12 80 {\n TCP_CHECK {\n }\n HTTP_GET {\n url {\n path /\n }\n }\n }\n}\n",
        );
        for rs in &p.virtual_servers[0].real_servers {
            assert!(!rs.checks.is_empty());
            assert_eq!(rs.checks.capacity(), rs.checks.len(), "{}", rs.name);
            assert!(rs.checks.iter().all(|c| Arc::strong_count(c) == 1));
        }
    }

    /// keepalived 2.2.7 makes a zero-port service persistent ("zero port only valid for
    /// persistent services - setting"); with NAT (the default) its real servers keep their
    /// port in IPVS, with DR they get port 0 ("ports don't match - resetting"); the checks
    /// connect to the port written either way (observed, checker VM scenario 10).
    #[test]
    fn a_zero_port_service_is_persistent_and_only_dr_clears_its_real_servers_ports() {
        let p = plan(
            "virtual_server 198.51.100.10 0 {\n protocol TCP\n real_server 192.0.2.11 80 {\n \
             TCP_CHECK {\n }\n }\n}\n\
             virtual_server 198.51.100.11 0 {\n protocol TCP\n lb_kind DR\n \
             persistence_timeout 50\n real_server 192.0.2.12 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let nat = &p.virtual_servers[0];
        assert_ne!(nat.services[0].flags & SVC_F_PERSISTENT, 0);
        assert_eq!(nat.services[0].timeout, 360);
        let rs = &nat.real_servers[0];
        assert_eq!(
            (rs.dest.port, rs.name.as_str()),
            (80, "[192.0.2.11]:tcp:80")
        );
        assert_eq!(rs.checks[0].target.port(), 80);
        let dr = &p.virtual_servers[1];
        assert_eq!(dr.services[0].timeout, 50);
        let rs = &dr.real_servers[0];
        assert_eq!((rs.dest.port, rs.name.as_str()), (0, "[192.0.2.12]:tcp:0"));
        assert_eq!(rs.checks[0].target.port(), 80);
        assert_eq!(rs.checks[0].target_name, "[192.0.2.12]:tcp:0");
    }

    /// A forwarding method's tunnel options reach the destinations (the virtual server's,
    /// a real server's own `lvs_method`, the sorry server's), and a weight the virtual server
    /// gives is its real servers' default.
    #[test]
    fn tunnel_options_and_own_forwarding_methods_reach_the_destinations() {
        let p = plan(
            "virtual_server 192.0.2.5 80 {\n protocol TCP\n lb_kind TUN type gre csum\n \
             weight 4\n sorry_server 192.0.2.9 80\n sorry_server_lvs_method TUN type gue port 6080\n \
             real_server 192.0.2.6 80 {\n TCP_CHECK {\n }\n }\n \
             real_server 192.0.2.7 80 {\n lvs_method TUN type gue port 5555 csum\n \
             weight 2\n TCP_CHECK {\n }\n }\n \
             real_server 192.0.2.8 80 {\n lvs_method DR\n TCP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        let dests: Vec<(Forward, Tunnel, i32)> = vs
            .real_servers
            .iter()
            .map(|rs| (rs.dest.forward, rs.dest.tunnel, rs.dest.weight))
            .collect();
        let gre = Tunnel {
            kind: Tunnel::GRE,
            port: 0,
            flags: Tunnel::CSUM,
        };
        let gue = Tunnel {
            kind: Tunnel::GUE,
            port: 5555,
            flags: Tunnel::CSUM,
        };
        assert_eq!(
            dests,
            [
                (Forward::Tunnel, gre, 4),
                (Forward::Tunnel, gue, 2),
                // Its own line gave the default options (not sent with DR).
                (Forward::Route, Tunnel::default(), 4),
            ]
        );
        let sorry = vs.sorry.as_ref().expect("sorry server");
        assert_eq!(
            (sorry.forward, sorry.tunnel.kind, sorry.tunnel.port),
            (Forward::Tunnel, Tunnel::GUE, 6080)
        );
    }

    /// A fwmark service's real servers keep their port in IPVS with NAT, written or by
    /// default, and get port 0 with DR and TUN; the protocol written on a fwmark service (or
    /// a group of fwmarks only) is ignored, the real servers are named `none` (keepalived
    /// 2.2.7, observed in checker VM scenario 10: `-a -f 7 -r 192.0.2.141:8080 -m -w 1`,
    /// `-a -f 27 -r 192.0.2.143:0 -g -w 1`).
    #[test]
    fn fwmark_real_servers_keep_their_port_with_nat_only() {
        let conf = |kind: &str| {
            format!(
                "virtual_server fwmark 7 {{\n {kind}\n protocol TCP\n \
                 real_server 192.0.2.71 8080 {{\n TCP_CHECK {{\n }}\n }}\n}}\n"
            )
        };
        for (kind, port) in [
            ("lb_kind NAT", 8080),
            ("", 8080),
            ("lb_kind DR", 0),
            ("lb_kind TUN", 0),
        ] {
            let p = plan(&conf(kind));
            let rs = &p.virtual_servers[0].real_servers[0];
            assert_eq!(rs.dest.port, port, "{kind:?}");
            assert_eq!(rs.name, format!("[192.0.2.71]:none:{port}"), "{kind:?}");
            assert_eq!(rs.checks[0].target.port(), 8080, "{kind:?}");
            assert_eq!(
                rs.checks[0].target_name,
                format!("[192.0.2.71]:none:{port}"),
                "{kind:?}"
            );
        }
        // A group of fwmarks only has no protocol either; one with an address entry keeps it.
        let p = plan(
            "virtual_server_group marks {\n fwmark 8\n}\n\
             virtual_server_group mixed {\n 198.51.100.10 8080\n fwmark 9\n}\n\
             virtual_server group marks {\n protocol TCP\n \
             real_server 192.0.2.72 8080 {\n TCP_CHECK {\n }\n }\n}\n\
             virtual_server group mixed {\n protocol TCP\n \
             real_server 192.0.2.73 8080 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let names: Vec<&str> = p
            .virtual_servers
            .iter()
            .map(|vs| vs.real_servers[0].name.as_str())
            .collect();
        assert_eq!(names, ["[192.0.2.72]:none:8080", "[192.0.2.73]:tcp:8080"]);
    }

    #[test]
    fn defaults_follow_keepalived() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        assert_eq!(vs.name, "[198.51.100.10]:udp:80");
        assert_eq!(vs.services[0].scheduler, "wlc");
        assert_eq!(vs.quorum, 1);
        let rs = &vs.real_servers[0];
        assert_eq!(rs.name, "[192.0.2.11]:udp:80");
        assert_eq!(rs.dest.forward, Forward::Masq);
        assert_eq!(rs.dest.weight, 1);
        let c = &rs.checks[0];
        assert_eq!(c.delay_loop, Duration::from_secs(60));
        assert_eq!(c.warmup, c.delay_loop);
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!((c.retry, c.delay_before_retry), (1, Duration::from_secs(1)));
    }

    #[test]
    fn a_group_expands_ranges_and_fwmarks() {
        let p = plan(
            "virtual_server_group web {\n 198.51.100.40 80\n 198.51.100.41-42 80\n \
             fwmark 9\n}\nvirtual_server group web {\n protocol TCP\n \
             real_server 192.0.2.11 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        assert_eq!(vs.name, "[web]:0");
        let keys: Vec<String> = vs.services.iter().map(|s| format!("{:?}", s.key)).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert!(keys[2].contains("198.51.100.42"), "{keys:?}");
        assert!(keys[3].contains("Fwmark"), "{keys:?}");
        assert_eq!(vs.real_servers[0].name, "[192.0.2.11]:tcp:80");
        // The config reader words the fwmark port warning (once per reading), not the plan.
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert!(group_entry(&["198.51.100.1-x".into(), "80".into()], 6, 2).is_none());
        assert!(group_entry(&["fwmark".into()], 6, 2).is_none());
    }

    #[test]
    fn check_settings_inherit_from_real_and_virtual_server() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n protocol TCP\n retry 4\n connect_timeout 2\n \
             real_server 192.0.2.11 80 {\n delay_before_retry 3\n delay_loop 7\n \
             TCP_CHECK {\n retry 5\n }\n }\n real_server 192.0.2.12 80 {\n alpha\n \
             TCP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        let c = &vs.real_servers[0].checks[0];
        assert_eq!(c.retry, 5);
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.delay_before_retry, Duration::from_secs(3));
        assert_eq!(c.delay_loop, Duration::from_secs(7));
        let c2 = &vs.real_servers[1].checks[0];
        assert_eq!((c2.retry, c2.delay_loop), (4, Duration::from_secs(60)));
        assert!(vs.real_servers[1].alpha && !vs.real_servers[0].alpha);
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
    }

    #[test]
    fn the_other_checks_read_their_keywords() {
        let p = plan(
            "track_file tf {\n file /run/tf\n weight 3\n}\nvirtual_server 198.51.100.1 53 {\n \
             protocol UDP\n virtualhost vs.example\n real_server 192.0.2.1 53 {\n weight 5\n \
             FILE_CHECK {\n track_file tf\n }\n FILE_CHECK {\n track_file tf\n weight 2 reverse\n }\n \
             UDP_CHECK {\n payload 0a0b\n require_reply 0a X\n min_reply_length 1\n }\n \
             DNS_CHECK {\n type a\n name example.org\n }\n SMTP_CHECK {\n helo_name me\n }\n \
             SSL_GET {\n enable_sni\n http_protocol 1.1\n url {\n path /\n virtualhost u.example\n \
             regex foo\n }\n }\n MISC_CHECK {\n misc_path /bin/true\n }\n \
             DNS_CHECK {\n type BOGUS\n }\n }\n}\n",
        );
        let rs = &p.virtual_servers[0].real_servers[0];
        let kinds: Vec<&CheckKind> = rs.checks.iter().map(|c| &c.kind).collect();
        assert_eq!(kinds.len(), 8, "{kinds:?}");
        let CheckKind::File(f) = kinds[0] else {
            panic!("{kinds:?}")
        };
        assert_eq!((f.weight, f.reverse, f.base_weight), (3, false, 5));
        assert_eq!(f.path, std::path::PathBuf::from("/run/tf"));
        assert!(matches!(kinds[1], CheckKind::File(f) if f.weight == 2 && f.reverse));
        let CheckKind::Udp(u) = kinds[2] else {
            panic!("{kinds:?}")
        };
        assert_eq!(u.payload, Some(vec![0x0a, 0x0b]));
        assert_eq!(u.reply, Some((vec![0x0a, 0x0], vec![0, 0xf])));
        assert_eq!((u.require_reply, u.min_len, u.max_len), (true, 1, 255));
        assert_eq!(
            kinds[3],
            &CheckKind::Dns {
                qtype: 1,
                name: "example.org".into()
            }
        );
        // DNS_CHECK's own defaults: retry 3, delay_before_retry the delay_loop.
        assert_eq!(rs.checks[3].retry, 3);
        assert_eq!(rs.checks[3].delay_before_retry, Duration::from_secs(60));
        assert_eq!(kinds[4], &CheckKind::Smtp { helo: "me".into() });
        assert!(matches!(kinds[5], CheckKind::Ssl { sni: true, .. }));
        assert_eq!(rs.checks[5].virtualhost.as_deref(), Some("vs.example"));
        assert_eq!(rs.checks[5].http_protocol, HttpProtocol::V11);
        assert_eq!(rs.checks[5].delay_before_retry, Duration::from_secs(3));
        let CheckKind::Ssl { urls, .. } = kinds[5] else {
            panic!("{kinds:?}")
        };
        assert_eq!(urls[0].virtualhost.as_deref(), Some("u.example"));
        // MISC_CHECK's retry defaults to 0.
        assert_eq!(rs.checks[6].retry, 0);
        // `type BOGUS` is refused (and named) when the configuration is read: the plan never
        // sees it, and the check keeps its default type (SOA).
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        assert!(
            matches!(&kinds[7], CheckKind::Dns { qtype: 6, .. }),
            "{:?}",
            kinds[7]
        );
        assert!(urls[0].regex.as_ref().is_some_and(|r| r.passes(b"a foo")));
    }

    #[test]
    fn connection_sources_are_read_and_checked() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n protocol TCP\n real_server 192.0.2.11 80 {\n \
             TCP_CHECK {\n bindto 192.0.2.1\n bind_port 4000\n bind_if eth0\n fwmark 7\n }\n \
             TCP_CHECK {\n bindto 2001:db8::1\n bind_port 0\n }\n \
             TCP_CHECK {\n bindto nonsense\n fwmark -1\n }\n \
             MISC_CHECK {\n misc_path /bin/true\n fwmark 3\n }\n }\n}\n\
             virtual_server 2001:db8::10 80 {\n protocol TCP\n \
             real_server 2001:db8::11 80 {\n PING_CHECK {\n bindto fe80::1\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        let s = &vs.real_servers[0].checks[0].source;
        assert_eq!(
            **s,
            Source {
                addr: Some("192.0.2.1".parse().expect("ip")),
                port: Some(4000),
                device: Some("eth0".into()),
                fwmark: Some(7),
            }
        );
        assert!(vs.real_servers[0].checks[1].source.is_default());
        assert!(vs.real_servers[0].checks[2].source.is_default());
        assert_eq!(
            p.virtual_servers[1].real_servers[0].checks[0].source.addr,
            "fe80::1".parse().ok()
        );
        // `bind_port 0`, `fwmark -1`, `bindto nonsense` and a bindto of the other family are
        // refused (and named, as keepalived 2.2.7's -t names them) when the configuration is
        // read, so they never reach the plan.
        assert_eq!(
            p.warnings,
            ["Checker link local address fe80::1 requires a bind_if"]
        );
        // MISC_CHECK opens no connection and knows no fwmark (an unknown keyword when the
        // configuration is read): nothing of it reaches the plan.
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
    }

    #[test]
    fn smtp_host_blocks_become_checks_of_their_own() {
        let p = plan(
            "virtual_server 198.51.100.10 25 {\n protocol TCP\n real_server 192.0.2.11 25 {\n \
             SMTP_CHECK {\n connect_timeout 3\n retry 2\n helo_name me\n \
             host {\n connect_ip 192.0.2.20\n connect_port 26\n bindto 192.0.2.3\n }\n \
             host {\n connect_ip 192.0.2.21\n connect_timeout 4\n }\n }\n }\n}\n",
        );
        let mut checks = p.virtual_servers[0].real_servers[0].checks.clone();
        assert_eq!(checks.len(), 3);
        // The SMTP_CHECK itself, on the real server.
        let own = checks.remove(0);
        assert_eq!(own.target, "192.0.2.11:25".parse().expect("a"));
        assert_eq!(own.connect_timeout, Duration::from_secs(3));
        assert_eq!(checks[0].target, "192.0.2.20:26".parse().expect("a"));
        assert_eq!(checks[0].target_name, "[192.0.2.20]:tcp:26");
        assert_eq!(checks[0].source.addr, "192.0.2.3".parse().ok());
        assert_eq!(checks[0].connect_timeout, Duration::from_secs(3));
        assert_eq!(checks[1].target, "192.0.2.21:25".parse().expect("a"));
        assert_eq!(checks[1].connect_timeout, Duration::from_secs(4));
        assert!(checks[1].source.is_default());
        for c in &checks {
            assert_eq!(c.retry, 2);
            assert_eq!(c.kind, CheckKind::Smtp { helo: "me".into() });
        }
        assert_eq!(
            p.warnings,
            ["The SMTP_CHECK host block is deprecated. Please define additional checkers."]
        );
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
    }

    #[test]
    fn url_regex_options_offsets_and_warnings() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n protocol TCP\n real_server 192.0.2.11 80 {\n \
             HTTP_GET {\n url {\n path /a\n regex \"^Status: *OK\"\n regex_options caseless multiline\n \
             regex_min_offset 2\n regex_max_offset 20\n regex_stack 1000 20000\n }\n \
             url {\n path /b\n regex down\n regex_no_match\n }\n \
             url {\n path /c\n regex_no_match\n }\n \
             url {\n path /d\n regex \"(\"\n }\n \
             url {\n path /e\n regex x\n regex_min_offset 9\n regex_max_offset 3\n \
             regex_stack 9 1\n }\n }\n }\n}\n",
        );
        let c = &p.virtual_servers[0].real_servers[0].checks[0];
        let CheckKind::Http(urls) = &c.kind else {
            panic!("not http")
        };
        let a = urls[0].regex.as_ref().expect("regex a");
        assert!(a.passes(b"xx\nstatus:   ok\n"), "caseless multiline");
        assert!(!a.passes(b"status: ok"), "starts before regex_min_offset");
        let far = format!("{}\nStatus: OK", "-".repeat(30));
        assert!(!a.passes(far.as_bytes()), "starts after regex_max_offset");
        let b = urls[1].regex.as_ref().expect("regex b");
        assert!(b.passes(b"all up") && !b.passes(b"one down"));
        assert!(urls[2].regex.is_none() && urls[3].regex.is_none());
        let e = urls[4].regex.as_ref().expect("regex e");
        assert_eq!((e.min_offset, e.max_offset), (9, None));
        assert_eq!(p.warnings.len(), 4, "{:?}", p.warnings);
        assert_eq!(p.warnings[0], "regex parameters specified without regex");
        assert!(
            p.warnings[1].starts_with("Invalid regex: '(': "),
            "{:?}",
            p.warnings
        );
        assert_eq!(p.warnings[2], "regex stack start cannot exceed max value");
        assert_eq!(
            p.warnings[3],
            "regex min offset 9 > regex_max_offset 3 - ignoring"
        );
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        // As PCRE2 without utf: bytes, not characters.
        let re = compile_regex("^.$", &[]).expect("re");
        assert!(re.is_match(&[0xff]));
        assert!(
            compile_regex("caf\u{e9}", &[])
                .expect("re")
                .is_match("café".as_bytes())
        );
    }

    #[test]
    fn init_file_of_the_files_file_checks_use() {
        let p = plan(
            "track_file tf {\n file /run/tf\n init_file 5 overwrite\n}\n\
             track_file other {\n file /run/other\n init_file\n}\n\
             virtual_server 198.51.100.1 80 {\n real_server 192.0.2.1 80 {\n \
             FILE_CHECK {\n track_file tf\n }\n }\n}\n",
        );
        assert_eq!(p.init_files, [("/run/tf".into(), 5, true)]);
    }

    /// log_all_failures (the check's, or checker_log_all_failures for every check),
    /// fast_recovery (HTTP_GET / SSL_GET) and rs_init_notifies are read, not listed.
    #[test]
    fn failure_logging_recovery_and_init_notifies_are_read() {
        let conf = "virtual_server 198.51.100.1 80 {\n real_server 192.0.2.1 80 {\n \
             TCP_CHECK {\n log_all_failures\n }\n HTTP_GET {\n fast_recovery\n \
             url {\n path /\n }\n }\n SSL_GET {\n fast_recovery false\n \
             log_all_failures no\n url {\n path /\n }\n }\n }\n}\n";
        let p = plan(conf);
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        assert!(!p.rs_init_notifies);
        let flags: Vec<(bool, bool)> = p.virtual_servers[0].real_servers[0]
            .checks
            .iter()
            .map(|c| (c.log_all_failures, c.fast_recovery))
            .collect();
        assert_eq!(flags, [(true, false), (false, true), (false, false)]);
        let p = plan(&format!(
            "global_defs {{\n checker_log_all_failures\n rs_init_notifies\n}}\n{conf}"
        ));
        assert!(p.rs_init_notifies);
        let all: Vec<bool> = p.virtual_servers[0].real_servers[0]
            .checks
            .iter()
            .map(|c| c.log_all_failures)
            .collect();
        assert_eq!(all, [true, true, true]);
    }

    #[test]
    fn options_and_unsupported_keywords() {
        let p = plan(
            "bfd_instance b1 {\n neighbor_ip 192.0.2.11\n}\n\
             virtual_server fwmark 7 {\n delay_loop 3\n lb_algo rr\n lb_kind DR\n protocol UDP\n \
             persistence_timeout 30\n quorum 2\n hysteresis 1\n sorry_server 192.0.2.99 53\n \
             warmup 3\n real_server 192.0.2.11 53 {\n weight 4\n inhibit_on_failure\n \
             HTTP_GET {\n connect_ip 192.0.2.50\n connect_port 8080\n url {\n path /h\n \
             status_code 200-204 301\n }\n }\n BFD_CHECK {\n name b1\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        assert_eq!(vs.name, "FWM 7");
        assert_eq!(vs.services[0].timeout, 30);
        assert_eq!(vs.services[0].flags & SVC_F_PERSISTENT, SVC_F_PERSISTENT);
        assert_eq!((vs.quorum, vs.hysteresis), (2, 1));
        // DR under a fwmark: the sorry server's port is cleared, as 2.2.7 does (scenario 11).
        assert_eq!(vs.sorry.as_ref().map(|d| d.port), Some(0));
        let rs = &vs.real_servers[0];
        assert!(rs.inhibit_on_failure);
        assert_eq!((rs.dest.weight, rs.dest.forward), (4, Forward::Route));
        assert_eq!(rs.checks.len(), 1);
        let c = &rs.checks[0];
        // The protocol of a fwmark service is ignored (`none`), DR clears the port.
        assert_eq!(c.target_name, "[192.0.2.50]:none:8080");
        assert_eq!((rs.dest.port, rs.name.as_str()), (0, "[192.0.2.11]:none:0"));
        // The config reader words the fwmark port warning (once per reading), not the plan.
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let CheckKind::Http(urls) = &c.kind else {
            panic!("not http")
        };
        assert_eq!(urls[0].status, vec![(200, 204), (301, 301)]);
        let names: Vec<&str> = p.unsupported.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!names.contains(&"warmup"), "{names:?}");
        assert_eq!(c.warmup, Duration::from_secs(3));
        assert!(names.contains(&"BFD_CHECK"), "{names:?}");
    }

    /// persistence_granularity, persistence_engine, the scheduler flags and the thresholds
    /// reach the IPVS service and destination as 2.2.7 sends them, and are no longer listed
    /// as not supported.
    #[test]
    fn ipvs_service_options_reach_the_service_and_destination() {
        let p = plan(
            "virtual_server 198.51.100.10 80 {\n lb_algo sh\n protocol TCP\n \
             persistence_granularity 255.255.255.0\n persistence_engine sip\n sh-port\n \
             sh-fallback\n hashed\n mh-port\n flag-3\n \
             real_server 192.0.2.11 80 {\n uthreshold 100\n lthreshold 10\n TCP_CHECK {\n }\n }\n}\n\
             virtual_server 2001:db8::10 80 {\n lb_algo mh\n protocol TCP\n \
             persistence_timeout 50\n persistence_granularity 64\n \
             persistence_granularity 129\n mh-fallback\n sh-port\n \
             real_server 2001:db8::11 80 {\n TCP_CHECK {\n }\n }\n}\n\
             virtual_server 198.51.100.10 81 {\n lb_algo rr\n protocol TCP\n flag-1\n flag-2\n \
             persistence_engine a_name_longer_than_fifteen\n \
             persistence_granularity 300.1.1.1\n real_server 192.0.2.11 81 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        let v4 = &p.virtual_servers[0].services[0];
        // Granularity without a timeout: persistent for 360 s.
        assert_eq!(
            (v4.flags, v4.timeout, v4.netmask),
            (
                SVC_F_PERSISTENT | SVC_F_SCHED2 | SVC_F_SCHED1 | SVC_F_SCHED3,
                360,
                0xffff_ff00
            )
        );
        assert_eq!(v4.pe_name.as_deref(), Some("sip"));
        let dest = &p.virtual_servers[0].real_servers[0].dest;
        assert_eq!((dest.upper_threshold, dest.lower_threshold), (100, 10));
        let v6 = &p.virtual_servers[1].services[0];
        // sh-port under mh sets nothing.
        assert_eq!(
            (v6.flags, v6.timeout, v6.netmask, v6.pe_name.as_deref()),
            (SVC_F_PERSISTENT | SVC_F_SCHED1, 50, 64, None)
        );
        let rr = &p.virtual_servers[2].services[0];
        assert_eq!(
            (rr.flags, rr.timeout, rr.netmask),
            (SVC_F_SCHED1 | SVC_F_SCHED2, 0, 0xffff_ffff)
        );
        assert_eq!(rr.pe_name.as_deref(), Some("a_name_longer_t"));
        assert_eq!(
            p.warnings,
            [
                // (an invalid mask or prefix length is reported by the config reader, and
                // dropped)
                "persistence_name too long, truncating - a_name_longer_than_fifteen",
            ]
        );
        let dest = &p.virtual_servers[2].real_servers[0].dest;
        assert_eq!((dest.upper_threshold, dest.lower_threshold), (0, 0));
    }

    fn misc_run_as(p: &Plan, rs: usize) -> Option<Option<(u32, u32)>> {
        let rs = &p.virtual_servers[0].real_servers[rs];
        rs.checks.first().map(|c| match &c.kind {
            CheckKind::Misc { run_as, .. } => *run_as,
            other => panic!("not a MISC_CHECK: {other:?}"),
        })
    }

    /// A MISC_CHECK runs as its `user NAME [GROUP]`, else as the global script_user; one whose
    /// user or group does not exist is dropped, as 2.2.7 drops it; `user` is no longer listed
    /// as not supported.
    #[test]
    fn misc_check_users_are_resolved_or_the_check_dropped() {
        let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
            println!("skipped: no user nobody on this host");
            return;
        };
        let nobody = (nobody.uid.as_raw(), nobody.gid.as_raw());
        let p = plan(
            "global_defs {\n script_user nobody\n}\n\
             virtual_server 198.51.100.10 80 {\n protocol TCP\n \
             real_server 192.0.2.11 80 {\n MISC_CHECK {\n misc_path /bin/true\n user root\n }\n }\n \
             real_server 192.0.2.12 80 {\n MISC_CHECK {\n misc_path /bin/true\n }\n }\n \
             real_server 192.0.2.13 80 {\n MISC_CHECK {\n misc_path /bin/true\n \
             user no-such-user-s22\n }\n }\n \
             real_server 192.0.2.14 80 {\n MISC_CHECK {\n misc_path /bin/true\n \
             user nobody no-such-group-s22\n }\n }\n \
             real_server 192.0.2.15 80 {\n MISC_CHECK {\n misc_path /bin/true\n \
             user nobody root\n }\n }\n}\n",
        );
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        assert_eq!(misc_run_as(&p, 0), Some(Some((0, 0))));
        assert_eq!(misc_run_as(&p, 1), Some(Some(nobody)));
        assert_eq!(misc_run_as(&p, 2), None);
        assert_eq!(misc_run_as(&p, 3), None);
        assert_eq!(misc_run_as(&p, 4), Some(Some((nobody.0, 0))));
    }

    /// The script of a MISC_CHECK with a user really runs with that uid and gid.
    #[test]
    fn a_misc_check_runs_as_its_user() {
        if !nix::unistd::geteuid().is_root() {
            println!("skipped: needs root to change user");
            return;
        }
        let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
            println!("skipped: no user nobody on this host");
            return;
        };
        let ids = (nobody.uid.as_raw(), nobody.gid.as_raw());
        let dir = std::env::temp_dir().join(format!("misc-user-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let script = dir.join("ids.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n[ \"$(id -u)\" = {} ] && [ \"$(id -g)\" = {} ]\n",
                ids.0, ids.1
            ),
        )
        .expect("script");
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in [(&dir, 0o755), (&script, 0o755)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("mode");
        }
        let argv = vec![script.display().to_string()];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let limit = Duration::from_secs(5);
        let as_nobody = runtime.block_on(super::super::probe::misc(&argv, limit, Some(ids)));
        let as_root = runtime.block_on(super::super::probe::misc(&argv, limit, None));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(as_nobody.ok(), Some(0));
        assert_eq!(as_root.ok(), Some(1));
    }

    /// lvs_timeouts (global_defs) becomes the timeouts of IPVS_CMD_SET_CONFIG.
    #[test]
    fn lvs_timeouts_are_read() {
        let p = plan("global_defs {\n lvs_timeouts tcp 7200 udp 250\n}\n");
        assert_eq!(
            p.lvs_timeouts,
            Some(keepalived_ipvs::Timeouts {
                tcp: 7200,
                tcp_fin: 0,
                udp: 250
            })
        );
        let p = plan("global_defs {\n lvs_timeouts tcpfin 100 tcp x\n}\n");
        assert_eq!(p.lvs_timeouts.map(|t| (t.tcp, t.tcp_fin)), Some((0, 100)));
        assert_eq!(plan("global_defs {\n lvs_flush\n}\n").lvs_timeouts, None);
    }
}
