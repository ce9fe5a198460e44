//! Log lines as keepalived writes them. Today: the console (`-l`), with `-D` detail lines;
//! syslog is being added.

use std::io::Write;

use crate::cli::Cli;

/// How the command line asks for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `-l`: also write to stderr.
    pub console: bool,
    /// Send to syslog (`-G` turns it off).
    pub syslog: bool,
    /// `-S N`: facility LOCAL N instead of DAEMON.
    pub facility: Option<u8>,
    /// `-D`: detail lines too.
    pub detail: bool,
}

impl LogSettings {
    /// The settings of the command line `cli`.
    pub fn from_cli(cli: &Cli) -> LogSettings {
        LogSettings {
            console: cli.log_console,
            syslog: !cli.no_syslog,
            facility: cli.log_facility,
            detail: cli.log_detail,
        }
    }
}

/// Where log lines go and which are shown.
#[derive(Debug, Clone)]
pub struct Logger {
    ident: &'static str,
    settings: LogSettings,
}

impl Logger {
    /// A logger for the process named `ident` (`Keepalived_vrrp`, …).
    pub fn new(ident: &'static str, settings: LogSettings) -> Logger {
        Logger { ident, settings }
    }

    /// The process name lines are logged under.
    pub fn ident(&self) -> &'static str {
        self.ident
    }

    /// Logs a line.
    pub fn info(&self, text: &str) {
        self.write(text);
    }

    /// Logs a warning.
    pub fn warning(&self, text: &str) {
        self.write(text);
    }

    /// Logs a line shown only with `-D`.
    pub fn detail(&self, text: &str) {
        if self.settings.detail {
            self.write(text);
        }
    }

    fn write(&self, text: &str) {
        if self.settings.console {
            // As /var/log/messages shows it after the time stamp: `IDENT[PID]: message`.
            let line = format!("{}[{}]: {text}\n", self.ident, std::process::id());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}
