//! What the checker child runs, resolved from the configuration with keepalived 2.2.7's
//! defaults: each virtual server as an IPVS service, each real server as a destination with
//! its checks, and the names the log lines use (`[192.0.2.11]:tcp:80`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{
    Checker, CheckerKind, Command, RawSetting, RealServer, ServiceKey, VirtualServer,
};
use keepalived_ipvs::attr::{
    AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, SVC_F_ONEPACKET, SVC_F_PERSISTENT,
};
use keepalived_ipvs::{Destination, Forward, Service, ServiceKey as IpvsKey};

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
    /// Its real servers.
    pub real_servers: Vec<RsPlan>,
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
    pub notify_up: Option<Vec<String>>,
    /// `notify_down`.
    pub notify_down: Option<Vec<String>>,
    /// Its checks.
    pub checks: Vec<CheckPlan>,
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
    /// `connect_timeout`.
    pub connect_timeout: Duration,
    /// `delay_loop` (the check's, else the virtual server's).
    pub delay_loop: Duration,
    /// `retry`.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry: Duration,
}

/// The kinds of check the child runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// TCP_CHECK: a connection is opened and closed.
    Tcp,
    /// HTTP_GET: each url fetched, status and digest compared.
    Http(Vec<UrlPlan>),
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
    },
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
}

impl Plan {
    /// Resolves the checker side of `config`.
    pub fn from_config(config: &Config) -> Plan {
        let mut plan = Plan::default();
        for vs in &config.virtual_servers {
            if let Some(vs_plan) =
                virtual_server(config, vs, &mut plan.unsupported, &mut plan.warnings)
            {
                plan.virtual_servers.push(vs_plan);
            }
        }
        plan
    }
}

fn at(location: &keepalived_config::diagnostic::Location) -> String {
    format!("{}: Line {}", location.file.display(), location.line)
}

/// Check settings a virtual server or real server gives its checks as defaults (the check's
/// own win, then the real server's, then the virtual server's).
#[derive(Debug, Clone, Copy, Default)]
struct Inherited {
    retry: Option<u32>,
    delay_before_retry: Option<f64>,
    connect_timeout: Option<f64>,
    delay_loop: Option<f64>,
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

fn unsupported(list: &mut Vec<(String, String)>, raw: &[RawSetting]) {
    for setting in raw {
        list.push((setting.keyword.clone(), at(&setting.location)));
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
    // keepalived 2.2.7: an address service without `protocol` is UDP; a fwmark service has
    // none (named `none` in log lines).
    let protocol = match (vs.protocol.as_deref(), &vs.key) {
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
    let mut template = Service::new(key, vs.lb_algo.as_deref().unwrap_or(DEFAULT_SCHEDULER));
    if let Some(timeout) = vs.persistence_timeout {
        template.flags |= SVC_F_PERSISTENT;
        template.timeout = timeout;
    }
    if vs.ops {
        template.flags |= SVC_F_ONEPACKET;
    }
    let services: Vec<Service> = keys
        .iter()
        .map(|k| {
            let mut service = Service::new(*k, &template.scheduler);
            service.flags = template.flags;
            service.timeout = template.timeout;
            service
        })
        .collect();
    let forward = match vs.lb_kind.as_deref() {
        Some("DR") => Forward::Route,
        Some("TUN") => Forward::Tunnel,
        _ => Forward::Masq,
    };
    let inherited = Inherited::read(Inherited::default(), &vs.other, skipped);
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
        Some(Destination::new(addr, port, forward, 1))
    });
    let real_servers = vs
        .real_servers
        .iter()
        .map(|rs| {
            let rs_plan = real_server(vs, rs, protocol, forward, inherited, skipped);
            let fwmark = keys.iter().any(|k| matches!(k, IpvsKey::Fwmark { .. }));
            if fwmark && rs.port != 0 {
                // A group keeps the port for its address entries (fwmark entries get 0).
                let action = if matches!(vs.key, ServiceKey::Group(_)) {
                    "port will be ignored"
                } else {
                    "clearing"
                };
                warnings.push(format!(
                    "WARNING - fwmark virtual server {name}, real server {} has port specified \
                     - {action}",
                    endpoint_name(rs.address, protocol, rs.port)
                ));
            }
            rs_plan
        })
        .collect();
    Some(VsPlan {
        services,
        name,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        sorry,
        omega: vs.omega,
        real_servers,
    })
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

fn real_server(
    vs: &VirtualServer,
    rs: &RealServer,
    protocol: u16,
    forward: Forward,
    inherited: Inherited,
    skipped: &mut Vec<(String, String)>,
) -> RsPlan {
    let inherited = Inherited::read(inherited, &rs.other, skipped);
    // A fwmark service's real servers have no port of their own (keepalived clears it).
    let port = match vs.key {
        ServiceKey::Fwmark(_) => 0,
        _ => rs.port,
    };
    let checks = rs
        .checkers
        .iter()
        .filter_map(|c| check(vs, rs, c, protocol, port, inherited, skipped))
        .collect();
    RsPlan {
        dest: Destination::new(rs.address, port, forward, rs.weight),
        name: endpoint_name(rs.address, protocol, port),
        inhibit_on_failure: rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
        alpha: vs.alpha || inherited.alpha.unwrap_or(false),
        notify_up: rs.notify_up.as_ref().map(argv),
        notify_down: rs.notify_down.as_ref().map(argv),
        checks,
    }
}

fn argv(command: &Command) -> Vec<String> {
    command.argv.clone()
}

fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::from_secs(1))
}

fn check(
    vs: &VirtualServer,
    rs: &RealServer,
    c: &Checker,
    protocol: u16,
    named_port: u16,
    inherited: Inherited,
    skipped: &mut Vec<(String, String)>,
) -> Option<CheckPlan> {
    unsupported(skipped, &c.other);
    let delay_loop = secs(
        c.delay_loop
            .or(inherited.delay_loop)
            .unwrap_or(vs.delay_loop),
    );
    let kind = match c.kind {
        CheckerKind::Tcp => CheckKind::Tcp,
        CheckerKind::Http => CheckKind::Http(c.urls.iter().map(url).collect()),
        CheckerKind::Ping if rs.address.is_ipv4() => CheckKind::Ping,
        CheckerKind::Misc => CheckKind::Misc {
            argv: c.misc_path.as_ref().map(argv).unwrap_or_default(),
            timeout: c.misc_timeout.map(secs).unwrap_or(delay_loop),
            dynamic: c.misc_dynamic,
        },
        other => {
            skipped.push((format!("{other:?}_CHECK").to_uppercase(), at(&c.location)));
            return None;
        }
    };
    let addr = c.connect_ip.unwrap_or(rs.address);
    let port = c.connect_port.unwrap_or(rs.port);
    Some(CheckPlan {
        kind,
        target: SocketAddr::new(addr, port),
        target_name: endpoint_name(addr, protocol, c.connect_port.unwrap_or(named_port)),
        connect_timeout: secs(
            c.connect_timeout
                .or(inherited.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        ),
        delay_loop,
        retry: c.retry.or(inherited.retry).unwrap_or(DEFAULT_RETRY),
        delay_before_retry: secs(
            c.delay_before_retry
                .or(inherited.delay_before_retry)
                .unwrap_or(DEFAULT_DELAY_BEFORE_RETRY),
        ),
    })
}

fn url(u: &keepalived_config::model::Url) -> UrlPlan {
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
        assert_eq!(
            p.warnings,
            [
                "WARNING - fwmark virtual server [web]:0, real server [192.0.2.11]:tcp:80 has port \
              specified - port will be ignored"
            ]
        );
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
    fn options_and_unsupported_keywords() {
        let p = plan(
            "virtual_server fwmark 7 {\n delay_loop 3\n lb_algo rr\n lb_kind DR\n protocol UDP\n \
             persistence_timeout 30\n quorum 2\n hysteresis 1\n sorry_server 192.0.2.99 53\n \
             warmup 3\n real_server 192.0.2.11 53 {\n weight 4\n inhibit_on_failure\n \
             HTTP_GET {\n connect_ip 192.0.2.50\n connect_port 8080\n url {\n path /h\n \
             status_code 200-204 301\n }\n }\n SMTP_CHECK {\n }\n }\n}\n",
        );
        let vs = &p.virtual_servers[0];
        assert_eq!(vs.name, "FWM 7");
        assert_eq!(vs.services[0].timeout, 30);
        assert_eq!(vs.services[0].flags & SVC_F_PERSISTENT, SVC_F_PERSISTENT);
        assert_eq!((vs.quorum, vs.hysteresis), (2, 1));
        assert_eq!(vs.sorry.as_ref().map(|d| d.port), Some(53));
        let rs = &vs.real_servers[0];
        assert!(rs.inhibit_on_failure);
        assert_eq!((rs.dest.weight, rs.dest.forward), (4, Forward::Route));
        assert_eq!(rs.checks.len(), 1);
        let c = &rs.checks[0];
        assert_eq!(c.target_name, "[192.0.2.50]:udp:8080");
        assert_eq!((rs.dest.port, rs.name.as_str()), (0, "[192.0.2.11]:udp:0"));
        assert_eq!(
            p.warnings,
            [
                "WARNING - fwmark virtual server FWM 7, real server [192.0.2.11]:udp:53 has port \
              specified - clearing"
            ]
        );
        let CheckKind::Http(urls) = &c.kind else {
            panic!("not http")
        };
        assert_eq!(urls[0].status, vec![(200, 204), (301, 301)]);
        let names: Vec<&str> = p.unsupported.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"warmup"), "{names:?}");
        assert!(names.contains(&"SMTP_CHECK"), "{names:?}");
    }
}
