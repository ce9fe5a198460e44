//! The checker child (`Keepalived_healthcheckers`). Health checking of virtual servers is not
//! built yet: the child reads the configuration, says what it would check, follows reloads,
//! and is supervised like the VRRP child, so process trees, pid files and logs look as with
//! keepalived (docs/compat.md lists the checkers as missing).

use anyhow::Context;
use keepalived_config::Config;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{ChildRole, Cli};
use crate::config_test::load_config;
use crate::daemon::{log_diagnostics, unusable};
use crate::logger::Logger;

/// Runs the checker child until SIGTERM; returns the exit status.
pub fn run(cli: &Cli, config: Config, logger: Logger) -> anyhow::Result<i32> {
    report(&config, &logger);
    drop(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    logger.info("Reloading");
                    logger.info(&format!("Opening file '{}'.", cli.use_file.display()));
                    let loaded =
                        load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
                    log_diagnostics(&logger, &loaded, Some(ChildRole::Checker));
                    if unusable(&loaded) {
                        logger.info("The new configuration cannot be used: keeping the running one");
                    } else {
                        report(&loaded.config, &logger);
                    }
                }
            }
        }
        logger.info("Stopped");
        Ok(0)
    })
}

fn report(config: &Config, logger: &Logger) {
    let real_servers: usize = config
        .virtual_servers
        .iter()
        .map(|vs| vs.real_servers.len())
        .sum();
    logger.info(&format!(
        "Health checking is not built yet: {} virtual_server blocks with {real_servers} real \
         servers are read and not checked",
        config.virtual_servers.len()
    ));
}
