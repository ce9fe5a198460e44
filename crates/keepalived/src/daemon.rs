//! Running the daemon: read the configuration as keepalived does at start-up, then run the
//! VRRP instances in this process. The parent/children split of keepalived, syslog, pid files
//! and daemonising come later (docs/compat.md lists them as missing).

use keepalived_config::Severity;

use crate::cli::Cli;
use crate::config_test::load_config;
use crate::logger::{LogSettings, Logger};
use crate::vrrp;

/// keepalived's version line, as the parent logs it at start and stop.
fn version_line() -> String {
    format!("Keepalived v{}", env!("CARGO_PKG_VERSION"))
}

/// Starts the daemon in the foreground; returns the exit code.
pub fn run(cli: &Cli) -> anyhow::Result<i32> {
    if !cli.dont_fork {
        eprintln!(
            "keepalived-rs: daemonising is not built yet; staying in the foreground (as with -n)"
        );
    }
    let logger = Logger::new("Keepalived_vrrp", LogSettings::from_cli(cli));
    logger.info(&format!("Starting {} (keepalived-rs)", version_line()));
    logger.info(&format!("Opening file '{}'.", cli.use_file.display()));
    let loaded = load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
    for diagnostic in &loaded.diagnostics {
        logger.info(&diagnostic.to_string());
    }
    let fatal = loaded
        .diagnostics
        .iter()
        .any(|d| matches!(d.severity, Severity::Fatal | Severity::Syntax));
    if fatal {
        logger.info("Stopping: the configuration cannot be used");
        return Ok(loaded.exit_code());
    }
    let result = vrrp::run(&loaded.config, logger.clone(), cli.dont_release_vrrp);
    logger.info(&format!("Stopping {}", version_line()));
    result.map(|()| 0)
}
