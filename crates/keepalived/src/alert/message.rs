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
            fault.body,
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        );
    }
}
