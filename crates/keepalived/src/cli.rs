//! The command line of keepalived 2.2.7 (compat.md section 2), long and short forms.

use std::path::PathBuf;

use clap::Parser;

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

/// keepalived-rs: a drop-in replacement for keepalived (VRRP and health checks).
#[derive(Debug, Parser)]
#[command(name = "keepalived", disable_version_flag = true)]
pub struct Cli {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub use_file: PathBuf,
    /// Only run with the VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,
    /// Only run with the health-checker subsystem.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Log messages to the console (stderr) too.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Syslog facility LOCAL0..LOCAL7 (0-7).
    #[arg(short = 'S', long = "log-facility", value_name = "0-7")]
    pub log_facility: Option<String>,
    /// Do not log through syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// Stay in the foreground.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Dump the parsed configuration.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// Parent process pid file.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// VRRP child pid file.
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,
    /// Checker child pid file.
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,
    /// Do not respawn a child that dies.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Do not remove VRRP VIPs and routes on stop.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Do not remove IPVS topology on stop.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Release the VIPs of every instance at the stop, not only a master's (2.2.7: an instance
    /// that is not master logs `removing VIPs.` too; addresses it did not add are left).
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Check the configuration and exit; diagnostics go to LOG_FILE when given.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1, require_equals = true)]
    pub config_test: Option<Option<PathBuf>>,
    /// Config id matched by `@ID` lines (default: the host name up to the first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// Refuse to start if any configuration file is missing.
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
    /// umask for files created (octal).
    #[arg(short = 'u', long = "umask", value_name = "NUMBER")]
    pub umask: Option<String>,
    /// Do not run the BFD subsystem (keepalived-rs never runs a BFD process).
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,
    /// Run each child process even when the configuration gives it nothing to do (with `-P`
    /// or `-C`, the one chosen).
    #[arg(long = "all")]
    pub all: bool,
    /// BFD child pid file (accepted; there is no BFD process to write it).
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid: Option<PathBuf>,
    /// Enable the SNMP subsystem (accepted, not built).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,
    /// The SNMP master agent's socket (accepted, not built).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<String>,
    /// Run in network namespace NAME (accepted, not built).
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,
    /// Let every process dump core if it ends abnormally (no core size limit).
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,
    /// `-m`, and also set /proc/sys/kernel/core_pattern to PATN (default `core`; the pattern
    /// is accepted, not built).
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1, require_equals = true, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,
    /// Report all address additions and deletions seen over netlink.
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,
    /// Print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR or JSON.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// The control socket keepalivedctl talks to (keepalived-rs; root only, mode 0600).
    #[arg(long = "control-socket", value_name = "PATH", default_value = crate::control::protocol::DEFAULT_SOCKET)]
    pub control_socket: PathBuf,
    /// Serve Prometheus metrics over HTTP on ADDR:PORT at /metrics (keepalived-rs; off by
    /// default).
    #[arg(long = "metrics-listen", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Internal: run as this child of a keepalived parent.
    #[arg(long = "child", hide = true, value_enum, value_name = "ROLE")]
    pub child: Option<ChildRole>,
    /// Internal: the parent's pid, which a child checks as it starts.
    #[arg(long = "parent-pid", hide = true, value_name = "PID")]
    pub parent_pid: Option<i32>,
    /// Internal: this process is the daemon that `keepalived` without `-n` started detached.
    #[arg(long = "detached", hide = true)]
    pub detached: bool,
    /// Internal: the name (`comm`) the parent's supervising image takes (`process_name`).
    #[arg(long = "process-name", hide = true, value_name = "NAME")]
    pub process_name: Option<String>,
    /// Internal: the `shutdown_script` the parent's supervising image runs at stop.
    #[arg(long = "shutdown-script", hide = true, value_name = "JSON")]
    pub shutdown_script: Option<String>,
    /// Internal: the parent after it read the configuration, supervising these children.
    #[arg(long = "supervise", hide = true, value_enum, value_delimiter = ',', num_args = 0..)]
    pub supervise: Option<Vec<ChildRole>>,
}

/// The two children a keepalived parent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChildRole {
    /// The VRRP child (`Keepalived_vrrp`).
    Vrrp,
    /// The health-checker child (`Keepalived_healthcheckers`).
    Checker,
}

impl ChildRole {
    /// The name its log lines carry.
    pub fn ident(self) -> &'static str {
        match self {
            ChildRole::Vrrp => "Keepalived_vrrp",
            ChildRole::Checker => "Keepalived_healthcheckers",
        }
    }

    /// How the parent's log lines name it (`VRRP child process(N) died`).
    pub fn title(self) -> &'static str {
        match self {
            ChildRole::Vrrp => "VRRP",
            ChildRole::Checker => "Healthcheck",
        }
    }

    /// The word on the command line (`--child vrrp`).
    pub fn arg(self) -> &'static str {
        match self {
            ChildRole::Vrrp => "vrrp",
            ChildRole::Checker => "checker",
        }
    }
}

/// Default pid file of the parent.
pub const DEFAULT_PID_FILE: &str = "/var/run/keepalived.pid";
/// Default pid file of the VRRP child.
pub const DEFAULT_VRRP_PID_FILE: &str = "/var/run/vrrp.pid";
/// Default pid file of the checker child.
pub const DEFAULT_CHECKERS_PID_FILE: &str = "/var/run/checkers.pid";

/// The signal keepalived uses for each `--signum` name (Linux numbering).
pub fn signal_number(name: &str) -> Option<i32> {
    // SIGRTMIN is 34 and SIGRTMAX is 64 on Linux with glibc.
    Some(match name {
        "STOP" => 15,
        "RELOAD" => 1,
        "DATA" => 10,
        "STATS" => 12,
        "STATS_CLEAR" => 63,
        "JSON" => 36,
        _ => return None,
    })
}

impl Cli {
    /// `-S N` as a LOCAL facility number. keepalived 2.2.7 answers any value outside 0-7 with
    /// `Invalid log facility 'X'` on stderr and keeps LOG_DAEMON; so does this.
    pub fn facility(&self) -> Option<u8> {
        let raw = self.log_facility.as_deref()?;
        match raw.parse::<u8>() {
            Ok(n) if n <= 7 => Some(n),
            _ => {
                if self.child.is_none() && !self.detached {
                    eprintln!("Invalid log facility '{raw}'");
                }
                None
            }
        }
    }

    /// The parent's pid file (`-p`, else the default).
    pub fn parent_pid_file(&self) -> PathBuf {
        self.pid.clone().unwrap_or_else(|| DEFAULT_PID_FILE.into())
    }

    /// The pid file of child `role` (`-r` / `-c`, else the defaults).
    pub fn child_pid_file(&self, role: ChildRole) -> PathBuf {
        match role {
            ChildRole::Vrrp => self
                .vrrp_pid
                .clone()
                .unwrap_or_else(|| DEFAULT_VRRP_PID_FILE.into()),
            ChildRole::Checker => self
                .checkers_pid
                .clone()
                .unwrap_or_else(|| DEFAULT_CHECKERS_PID_FILE.into()),
        }
    }

    /// Options that are accepted but whose behaviour is not built yet, by their long name.
    pub fn unbuilt_options(&self) -> Vec<&'static str> {
        let flags = [
            (self.bfd_pid.is_some(), "--bfd_pid"),
            (self.snmp, "--snmp"),
            (self.snmp_agent_socket.is_some(), "--snmp-agent-socket"),
            (self.namespace.is_some(), "--namespace"),
            (self.core_dump_pattern.is_some(), "--core-dump-pattern"),
        ];
        flags
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_parse() {
        let cli = Cli::try_parse_from([
            "keepalived",
            "-t",
            "-f",
            "/x.conf",
            "-i",
            "alpha",
            "-S",
            "3",
        ])
        .expect("parses");
        assert_eq!(cli.config_test, Some(None));
        assert_eq!(cli.config_id.as_deref(), Some("alpha"));
        let cli =
            Cli::try_parse_from(["keepalived", "--config-test=/tmp/log", "--use-file=/y.conf"])
                .expect("parses");
        assert_eq!(cli.config_test, Some(Some(PathBuf::from("/tmp/log"))));
        assert_eq!(cli.use_file, PathBuf::from("/y.conf"));
    }

    #[test]
    fn the_rest_of_2_2_7s_options_parse() {
        let cli = Cli::try_parse_from([
            "keepalived",
            "-B",
            "--all",
            "-b",
            "/b.pid",
            "-x",
            "-A",
            "/agentx",
            "-s",
            "blue",
            "-m",
            "-M",
        ])
        .expect("parses");
        assert!(cli.no_bfd && cli.all && cli.snmp && cli.core_dump);
        assert_eq!(cli.core_dump_pattern.as_deref(), Some("core"));
        assert_eq!(
            cli.unbuilt_options(),
            vec![
                "--bfd_pid",
                "--snmp",
                "--snmp-agent-socket",
                "--namespace",
                "--core-dump-pattern"
            ]
        );
        let cli = Cli::try_parse_from([
            "keepalived",
            "--no_bfd",
            "--bfd_pid=/b.pid",
            "--snmp",
            "--namespace=blue",
            "--core-dump",
            "--core-dump-pattern=/tmp/core.%p",
        ])
        .expect("parses");
        assert_eq!(cli.bfd_pid, Some(PathBuf::from("/b.pid")));
        assert_eq!(cli.namespace.as_deref(), Some("blue"));
        assert_eq!(cli.core_dump_pattern.as_deref(), Some("/tmp/core.%p"));
        let plain = Cli::try_parse_from(["keepalived", "-e"]).expect("parses");
        assert!(plain.unbuilt_options().is_empty(), "-e is built");
    }

    #[test]
    fn unknown_option_is_refused_and_bad_facility_falls_back() {
        assert!(Cli::try_parse_from(["keepalived", "--bogus"]).is_err());
        // As keepalived 2.2.7: a bad facility is reported and LOG_DAEMON kept.
        let cli = Cli::try_parse_from(["keepalived", "-S", "8"]).expect("parses");
        assert_eq!(cli.facility(), None);
        let cli = Cli::try_parse_from(["keepalived", "-S", "3"]).expect("parses");
        assert_eq!(cli.facility(), Some(3));
    }

    #[test]
    fn signal_numbers_match_keepalived() {
        let names = ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON"];
        let numbers: Vec<_> = names.iter().filter_map(|n| signal_number(n)).collect();
        assert_eq!(numbers, vec![15, 1, 10, 12, 63, 36]);
        assert_eq!(signal_number("NOPE"), None);
    }
}
