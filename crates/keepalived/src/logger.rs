//! Log lines as keepalived writes them. Today: the console (`-l`), with `-D` detail lines;
//! syslog comes with the parent/children work (see docs/compat.md).

use std::io::Write;

/// Where log lines go and which are shown.
#[derive(Debug, Clone)]
pub struct Logger {
    ident: &'static str,
    console: bool,
    detail: bool,
}

impl Logger {
    /// A logger for the process named `ident` (`Keepalived_vrrp`, …).
    pub fn new(ident: &'static str, console: bool, detail: bool) -> Logger {
        Logger {
            ident,
            console,
            detail,
        }
    }

    /// Logs a line.
    pub fn info(&self, text: &str) {
        self.write(text);
    }

    /// Logs a line shown only with `-D`.
    pub fn detail(&self, text: &str) {
        if self.detail {
            self.write(text);
        }
    }

    fn write(&self, text: &str) {
        if self.console {
            // As /var/log/messages shows it after the time stamp: `IDENT[PID]: message`.
            let line = format!("{}[{}]: {text}\n", self.ident, std::process::id());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}
