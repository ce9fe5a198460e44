//! The mail 2.2.7 sends for a VRRP state change, header for header (observed with an SMTP
//! sink): `Date`, `From`, `Subject: [ROUTER_ID] VRRP Instance VI_1 - Entering MASTER state`,
//! `X-Mailer: Keepalived`, `To` (the addresses joined by `, `), an empty line, and the body.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use keepalived_vrrp::instance::State;

/// A subject and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The `Subject` header's text.
    pub subject: String,
    /// The body, one line.
    pub body: String,
}

/// The mail for instance `name` of `router_id` entering `state` (MASTER, BACKUP or FAULT).
pub fn vrrp_state_mail(router_id: &str, name: &str, state: State) -> Mail {
    let word = match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "INIT",
    };
    let body = if state == State::Master {
        "=> VRRP Instance is now owning VRRP VIPs <="
    } else {
        "=> VRRP Instance is no longer owning VRRP VIPs <="
    };
    Mail {
        subject: format!("[{router_id}] VRRP Instance {name} - Entering {word} state"),
        body: body.to_string(),
    }
}

/// The mail for sync group `name` of `router_id` entering `state` (MASTER, BACKUP or FAULT),
/// as 2.2.7 words it (observed with an SMTP sink): `[ROUTER_ID] VRRP Group G1 - Entering
/// MASTER state`, `=> All VRRP group instances are now in MASTER state <=`.
pub fn vrrp_group_mail(router_id: &str, name: &str, state: State) -> Mail {
    let word = match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "INIT",
    };
    Mail {
        subject: format!("[{router_id}] VRRP Group {name} - Entering {word} state"),
        body: format!("=> All VRRP group instances are now in {word} state <="),
    }
}

/// Which kind of check a real server's alert is about: 2.2.7 words each kind's mail its own
/// way (observed with an SMTP sink in the QEMU lab, crates/keepalived/tests/checker_mail_vm.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckWord {
    /// TCP_CHECK: `=> TCP CHECK succeed|failed on service <=`.
    Tcp,
    /// HTTP_GET and SSL_GET: `=> CHECK succeed on service <=`, `=> CHECK failed on service :
    /// HTTP request failed <=` whatever the failure.
    Http,
    /// SMTP_CHECK: `=> CHECK succeed on service <=`, `=> CHECK failed on service : REASON <=`
    /// (the reason as the log line gives it).
    Smtp,
    /// MISC_CHECK: `=> MISC CHECK succeeded|failed|timed out on service <=`.
    Misc,
    /// DNS_CHECK: `=> DNS_CHECK: succeed|failed on service <=`.
    Dns,
    /// UDP_CHECK: `=> UDP CHECK succeed|failed on service <=`.
    Udp,
    /// PING_CHECK: `=> ICMP CHECK succeed|failed on service <=`.
    Ping,
}

/// The body of a real server's mail when one of its checks of kind `word` finds it up or
/// down; `reason` is SMTP_CHECK's failure as logged (without `SMTP_CHECK `), `timed_out`
/// whether a MISC_CHECK program ran out of time.
pub fn check_body(word: CheckWord, up: bool, reason: Option<&str>, timed_out: bool) -> String {
    let outcome = if up { "succeed" } else { "failed" };
    match word {
        CheckWord::Tcp => format!("=> TCP CHECK {outcome} on service <="),
        CheckWord::Udp => format!("=> UDP CHECK {outcome} on service <="),
        CheckWord::Ping => format!("=> ICMP CHECK {outcome} on service <="),
        CheckWord::Dns => format!("=> DNS_CHECK: {outcome} on service <="),
        CheckWord::Http | CheckWord::Smtp if up => "=> CHECK succeed on service <=".to_string(),
        CheckWord::Http => "=> CHECK failed on service : HTTP request failed <=".to_string(),
        CheckWord::Smtp => match reason {
            Some(reason) => format!("=> CHECK failed on service : {reason} <="),
            None => "=> CHECK failed on service <=".to_string(),
        },
        CheckWord::Misc => {
            let how = match (up, timed_out) {
                (true, _) => "succeeded",
                (false, true) => "timed out",
                (false, false) => "failed",
            };
            format!("=> MISC CHECK {how} on service <=")
        }
    }
}

/// What the checker child mails about, as 2.2.7 sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckerAlert {
    /// A check of real server `rs` of virtual server `vs` changed state; `alive` is the real
    /// server's state after the change (the subject's `UP` / `DOWN`), `body` from
    /// [`check_body`].
    RealServer {
        /// The real server, `[ADDR]:PROTO:PORT`.
        rs: String,
        /// Its virtual server.
        vs: String,
        /// Whether the real server is alive now.
        alive: bool,
        /// The body.
        body: String,
    },
    /// An alive real server taken out of its virtual server by a reload.
    Removed {
        /// The real server.
        rs: String,
        /// Its virtual server.
        vs: String,
    },
    /// A virtual server's quorum: at start (`starting`) or when gained or lost.
    Quorum {
        /// The virtual server.
        vs: String,
        /// Whether the quorum is up now.
        up: bool,
        /// Whether this is the state the virtual server starts with.
        starting: bool,
        /// `quorum`.
        quorum: u32,
        /// `hysteresis`.
        hysteresis: u32,
        /// The threshold crossed.
        threshold: u32,
        /// The alive real servers' weight sum.
        sum: u32,
    },
}

/// The mail 2.2.7 sends for `alert` from the checker of `router_id`:
/// `[ROUTER_ID] Realserver RS of virtual server VS - UP|DOWN` or
/// `[ROUTER_ID] Virtualserver VS - UP|DOWN`, with the bodies 2.2.7 writes.
pub fn checker_mail(router_id: &str, alert: &CheckerAlert) -> Mail {
    let word = |up: bool| if up { "UP" } else { "DOWN" };
    match alert {
        CheckerAlert::RealServer {
            rs,
            vs,
            alive,
            body,
        } => Mail {
            subject: format!(
                "[{router_id}] Realserver {rs} of virtual server {vs} - {}",
                word(*alive)
            ),
            body: body.clone(),
        },
        CheckerAlert::Removed { rs, vs } => Mail {
            subject: format!("[{router_id}] Realserver {rs} of virtual server {vs} - DOWN"),
            body: "=> Removing <=".to_string(),
        },
        CheckerAlert::Quorum {
            vs,
            up,
            starting,
            quorum,
            hysteresis,
            threshold,
            sum,
        } => {
            let what = match (up, starting) {
                (true, true) => "Starting with quorum up",
                (false, true) => "Starting with quorum down",
                (true, false) => "Gained quorum",
                (false, false) => "Lost quorum",
            };
            Mail {
                subject: format!("[{router_id}] Virtualserver {vs} - {}", word(*up)),
                body: format!("=> {what} {quorum}+{hysteresis}={threshold} <= {sum} <="),
            }
        }
    }
}

/// The DATA of `mail` from `from` to `to`, lines ending in CRLF, dot-stuffed, without the
/// final `.` line.
pub fn render(mail: &Mail, from: &str, to: &[String], now: OffsetDateTime) -> String {
    let date = now
        .format(&Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_string());
    let lines = [
        format!("Date: {date}"),
        format!("From: {from}"),
        format!("Subject: {}", mail.subject),
        "X-Mailer: Keepalived".to_string(),
        format!("To: {}", to.join(", ")),
        String::new(),
        mail.body.clone(),
        String::new(),
    ];
    lines
        .iter()
        .map(|l| {
            // RFC 5321 section 4.5.2: a line starting with a dot gets one more.
            let stuffed = if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.clone()
            };
            stuffed + "\r\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_2_2_7_sends() {
        let mail = vrrp_state_mail("LB_1", "VI_1", State::Master);
        assert_eq!(
            mail.subject,
            "[LB_1] VRRP Instance VI_1 - Entering MASTER state"
        );
        let now = OffsetDateTime::from_unix_timestamp(1_796_303_597).expect("time");
        let to = [
            "admin@example.com".to_string(),
            "ops@example.com".to_string(),
        ];
        assert_eq!(
            render(&mail, "kl@example.com", &to, now),
            "Date: Thu, 03 Dec 2026 13:13:17 +0000\r\n\
             From: kl@example.com\r\n\
             Subject: [LB_1] VRRP Instance VI_1 - Entering MASTER state\r\n\
             X-Mailer: Keepalived\r\n\
             To: admin@example.com, ops@example.com\r\n\
             \r\n\
             => VRRP Instance is now owning VRRP VIPs <=\r\n\
             \r\n"
        );
        let fault = vrrp_state_mail("LB_1", "VI_1", State::Fault);
        assert_eq!(
            fault.subject,
            "[LB_1] VRRP Instance VI_1 - Entering FAULT state"
        );
        assert_eq!(
            fault.body,
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        );
    }

    #[test]
    fn the_checker_mails_2_2_7_sends() {
        let rs = |alive, body: &str| CheckerAlert::RealServer {
            rs: "[192.0.2.11]:tcp:80".into(),
            vs: "[198.51.100.10]:tcp:80".into(),
            alive,
            body: body.into(),
        };
        let down = checker_mail(
            "LB_1",
            &rs(false, &check_body(CheckWord::Tcp, false, None, false)),
        );
        assert_eq!(
            down.subject,
            "[LB_1] Realserver [192.0.2.11]:tcp:80 of virtual server [198.51.100.10]:tcp:80 - DOWN"
        );
        assert_eq!(down.body, "=> TCP CHECK failed on service <=");
        assert_eq!(
            check_body(CheckWord::Http, false, None, false),
            "=> CHECK failed on service : HTTP request failed <="
        );
        assert_eq!(
            check_body(CheckWord::Misc, true, None, false),
            "=> MISC CHECK succeeded on service <="
        );
        // As 2.2.7 sent them in the lab.
        assert_eq!(
            check_body(
                CheckWord::Smtp,
                false,
                Some("Read failure from server [192.0.2.27]:25"),
                false
            ),
            "=> CHECK failed on service : Read failure from server [192.0.2.27]:25 <="
        );
        assert_eq!(
            check_body(CheckWord::Smtp, true, None, false),
            "=> CHECK succeed on service <="
        );
        assert_eq!(
            check_body(CheckWord::Dns, true, None, false),
            "=> DNS_CHECK: succeed on service <="
        );
        assert_eq!(
            check_body(CheckWord::Udp, false, None, false),
            "=> UDP CHECK failed on service <="
        );
        assert_eq!(
            check_body(CheckWord::Ping, false, None, false),
            "=> ICMP CHECK failed on service <="
        );
        let quorum = checker_mail(
            "LB_1",
            &CheckerAlert::Quorum {
                vs: "[198.51.100.10]:tcp:80".into(),
                up: true,
                starting: true,
                quorum: 2,
                hysteresis: 0,
                threshold: 2,
                sum: 3,
            },
        );
        assert_eq!(
            quorum.subject,
            "[LB_1] Virtualserver [198.51.100.10]:tcp:80 - UP"
        );
        assert_eq!(quorum.body, "=> Starting with quorum up 2+0=2 <= 3 <=");
    }
}
