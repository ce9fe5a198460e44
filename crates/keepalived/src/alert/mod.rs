//! E-mail alerts (`smtp_alert`), as keepalived 2.2.7 sends them: one mail per state change of
//! an instance that has alerts on, to every `notification_email` address, through
//! `smtp_server`, in a task of its own so that a dead mail server delays nothing.
//!
//! Found by running 2.2.7 against an SMTP sink: alerts are off unless `smtp_alert` is given,
//! for the instance, or in `global_defs` (`smtp_alert` for both sides, `smtp_alert_vrrp` for
//! VRRP, the more specific one winning); the dialog is `HELO` with `smtp_helo_name` (the host
//! name by default), `MAIL FROM`, one `RCPT TO` per address, `DATA`, `QUIT`; the subject is
//! `[ROUTER_ID] VRRP Instance NAME - Entering STATE state`.

mod message;
mod smtp;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use keepalived_config::model::VrrpInstance;
use keepalived_config::{Config, values};

use crate::logger::Logger;
pub use message::{
    CheckWord, CheckerAlert, Mail, check_body, checker_mail, vrrp_group_mail, vrrp_state_mail,
};

/// Where and how alerts are sent: what `global_defs` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// `smtp_server ADDR [PORT]` (port 25 by default).
    pub server: SocketAddr,
    /// `smtp_helo_name`, else the host name.
    pub helo: String,
    /// `notification_email_from`.
    pub from: String,
    /// `notification_email { … }`.
    pub to: Vec<String>,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    pub timeout: Duration,
    /// `router_id`, else the host name: the subject's tag.
    pub router_id: String,
    /// `no_email_faults`: an instance or group entering FAULT is not mailed (leaving it is).
    pub no_email_faults: bool,
}

impl AlertSettings {
    /// The settings of `config`, or why alerts cannot be sent (no server, no recipient, a
    /// server name that does not resolve); `Ok(None)` when nothing asks for alerts.
    pub fn from_config(config: &Config) -> Result<Option<AlertSettings>, String> {
        let global = &config.global;
        let Some(server) = global.smtp_server.as_deref() else {
            return Ok(None);
        };
        if global.notification_email.is_empty() {
            return Ok(None);
        }
        let server = resolve_server(server)?;
        let host = hostname();
        Ok(Some(AlertSettings {
            server,
            helo: raw_word(config, "smtp_helo_name").unwrap_or_else(|| host.clone()),
            from: global
                .notification_email_from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host}")),
            to: global.notification_email.clone(),
            timeout: Duration::from_secs(u64::from(global.smtp_connect_timeout.max(1))),
            router_id: global.router_id.clone().unwrap_or(host),
            // 2.2.7 reads the keyword alone (any argument is ignored).
            no_email_faults: global.other.iter().any(|r| r.keyword == "no_email_faults"),
        }))
    }

    /// Whether a VRRP instance or group entering `state` is mailed: not FAULT with
    /// `no_email_faults` (observed with 2.2.7: the FAULT mail is left out, the BACKUP and
    /// MASTER mails that follow are sent).
    pub fn mails_vrrp_state(&self, state: keepalived_vrrp::instance::State) -> bool {
        !(self.no_email_faults && state == keepalived_vrrp::instance::State::Fault)
    }
}

/// Whether `instance` sends alerts: its own `smtp_alert`, else `smtp_alert_vrrp`, else the
/// global `smtp_alert`, else not.
pub fn vrrp_alerts(config: &Config, instance: &VrrpInstance) -> bool {
    instance
        .smtp_alert
        .or_else(|| raw_flag(config, "smtp_alert_vrrp"))
        .or_else(|| raw_flag(config, "smtp_alert"))
        .unwrap_or(false)
}

/// Whether a virtual server mails its quorum changes: its own `smtp_alert` (`own`), else
/// `smtp_alert_checker`, else the global `smtp_alert`, else not (keepalived.conf(5) of 2.2.7).
pub fn checker_vs_alerts(config: &Config, own: Option<bool>) -> bool {
    own.or_else(|| raw_flag(config, "smtp_alert_checker"))
        .or_else(|| raw_flag(config, "smtp_alert"))
        .unwrap_or(false)
}

/// Whether a real server mails its checks' changes: its own `smtp_alert` (`own`), else
/// `smtp_alert_checker`, else the global `smtp_alert`, else yes (2.2.7 mailed a real server
/// without any of them in the lab, as its keepalived.conf(5) says).
pub fn checker_rs_alerts(config: &Config, own: Option<bool>) -> bool {
    own.or_else(|| raw_flag(config, "smtp_alert_checker"))
        .or_else(|| raw_flag(config, "smtp_alert"))
        .unwrap_or(true)
}

/// Sends `mail` in a task of the multi-task runtime (the checker child), logging the outcome
/// as 2.2.7 does.
pub fn spawn_send(settings: Arc<AlertSettings>, mail: Mail, logger: Logger) {
    tokio::spawn(async move {
        match smtp::send(&settings, &mail, &logger).await {
            Ok(()) => logger.info("SMTP alert successfully sent."),
            Err(err) => logger.info(&format!(
                "SMTP alert to [{}]:{} failed: {err}",
                settings.server.ip(),
                settings.server.port()
            )),
        }
    });
}

/// Sends `mail` in the background, logging the outcome as 2.2.7 does.
pub fn send_in_background(settings: Arc<AlertSettings>, mail: Mail, logger: Logger) {
    tokio::task::spawn_local(async move {
        match smtp::send(&settings, &mail, &logger).await {
            Ok(()) => logger.info("SMTP alert successfully sent."),
            Err(err) => logger.info(&format!(
                "SMTP alert to [{}]:{} failed: {err}",
                settings.server.ip(),
                settings.server.port()
            )),
        }
    });
}

/// `ADDR [PORT]` (or a host name) as a socket address.
fn resolve_server(text: &str) -> Result<SocketAddr, String> {
    let mut words = text.split_whitespace();
    let host = words.next().unwrap_or_default();
    let port = match words.next() {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid smtp_server port '{p}'"))?,
        None => 25,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve smtp_server '{host}': {err}"))?
        .next()
        .ok_or_else(|| format!("smtp_server '{host}' has no address"))
}

/// A `global_defs` keyword kept as written, by name: its first argument.
fn raw_word(config: &Config, keyword: &str) -> Option<String> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|r| r.keyword == keyword)
        .and_then(|r| r.args.first().cloned())
}

/// A `global_defs` flag kept as written: present alone means on.
pub(crate) fn raw_flag(config: &Config, keyword: &str) -> Option<bool> {
    let setting = config
        .global
        .other
        .iter()
        .rev()
        .find(|r| r.keyword == keyword)?;
    match setting.args.first() {
        None => Some(true),
        Some(word) => values::parse_bool(word),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn config(text: &str) -> Config {
        let host = FakeHost::lab();
        load_str(text, Path::new("k.conf"), &LoadOptions::for_host(&host)).config
    }

    const BASE: &str = "global_defs {\n notification_email {\n a@example.com\n }\n \
        notification_email_from k@example.com\n smtp_server 192.0.2.25 2525\n \
        smtp_connect_timeout 7\n router_id LB_1\n GLOBAL\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n \
        INSTANCE\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n";

    fn with(global: &str, instance: &str) -> Config {
        config(&BASE.replace("GLOBAL", global).replace("INSTANCE", instance))
    }

    #[test]
    fn settings_come_from_global_defs() {
        let c = with("smtp_helo_name helo.example", "");
        let s = AlertSettings::from_config(&c)
            .expect("valid")
            .expect("settings");
        assert_eq!(s.server, "192.0.2.25:2525".parse().expect("addr"));
        assert_eq!(s.helo, "helo.example");
        assert_eq!(s.from, "k@example.com");
        assert_eq!(s.to, ["a@example.com"]);
        assert_eq!(s.timeout, Duration::from_secs(7));
        assert_eq!(s.router_id, "LB_1");
    }

    #[test]
    fn which_instances_alert_as_2_2_7_decides() {
        let inst = |c: &Config| vrrp_alerts(c, &c.instances[0]);
        assert!(!inst(&with("", "")), "off unless asked for");
        assert!(inst(&with("smtp_alert", "")));
        assert!(inst(&with("smtp_alert_vrrp", "")));
        assert!(!inst(&with("smtp_alert\n smtp_alert_vrrp false", "")));
        assert!(inst(&with("", "smtp_alert")));
        assert!(!inst(&with("smtp_alert", "smtp_alert false")));
    }
}
