//! The VRRP child: plans the configured instances and runs them on a current-thread tokio
//! runtime; signals become [`driver::Control`]s (stop, reload, dumps).

pub mod driver;
pub mod dumps;
pub mod setup;

use anyhow::Context;
use keepalived_config::Config;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::cli::Cli;
use crate::config_test::load_config;
use crate::daemon::{log_diagnostics, unusable};
use crate::logger::Logger;
use crate::supervisor::{EXIT_CONFIG, clear_stats_signal, json_signal};
use driver::Control;
use setup::{InterfaceInfo, Planned};

/// The (uid, gid) of a user name.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
}

/// Plans `config` (whose scripts the configuration's validation has already found, checked
/// and resolved) against this host, logging each instance that cannot run.
fn plan(config: Config, logger: &Logger) -> Planned {
    let lookup = |name: &str| {
        keepalived_net::interface::lookup(name)
            .ok()
            .map(|i| InterfaceInfo {
                index: i.index,
                primary: i.primary_ipv4(),
            })
    };
    let planned = setup::plan(&config, lookup, lookup_user);
    for problem in &planned.problems {
        logger.info(&format!(
            "VRRP_Instance({}) cannot run: {}",
            problem.instance, problem.message
        ));
    }
    planned
}

/// Runs every vrrp_instance of `config` in this process until a stop signal; returns the exit
/// status.
pub fn run(cli: &Cli, config: Config, logger: Logger) -> anyhow::Result<i32> {
    let group = config.global.vrrp_mcast_group4;
    let router_id = config.global.router_id.clone();
    let planned = plan(config, &logger);
    if planned.instances.is_empty() {
        logger.info("no vrrp_instance can run");
        return Ok(EXIT_CONFIG);
    }
    let settings = driver::Settings {
        group,
        router_id: router_id.unwrap_or_else(|| {
            nix::unistd::gethostname()
                .map_or_else(|_| String::new(), |h| h.to_string_lossy().into_owned())
        }),
        keep_addresses: cli.dont_release_vrrp,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let (controls, receiver) = mpsc::channel::<Control>(16);
        listen_for_signals(cli, &logger, controls)?;
        driver::run(planned, settings, logger, receiver).await
    })?;
    Ok(0)
}

/// Turns signals into controls for the driver. A reload reads and plans the configuration
/// here; one that cannot be used leaves the running one in place and says why.
fn listen_for_signals(
    cli: &Cli,
    logger: &Logger,
    controls: mpsc::Sender<Control>,
) -> anyhow::Result<()> {
    let open = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
    let mut term = open(SignalKind::terminate())?;
    let mut int = open(SignalKind::interrupt())?;
    let mut hup = open(SignalKind::hangup())?;
    let mut usr1 = open(SignalKind::user_defined1())?;
    let mut usr2 = open(SignalKind::user_defined2())?;
    let mut json = open(SignalKind::from_raw(json_signal()))?;
    let mut clear = open(SignalKind::from_raw(clear_stats_signal()))?;
    let path = cli.use_file.clone();
    let config_id = cli.config_id.clone();
    let all_config = cli.all_config;
    let logger = logger.clone();
    tokio::task::spawn_local(async move {
        loop {
            let control = tokio::select! {
                _ = term.recv() => Control::Stop,
                _ = int.recv() => Control::Stop,
                _ = usr1.recv() => Control::DumpData,
                _ = usr2.recv() => Control::DumpStats,
                _ = json.recv() => Control::DumpJson,
                _ = clear.recv() => Control::DumpAndClearStats,
                _ = hup.recv() => {
                    logger.info("Reloading");
                    logger.info(&format!("Opening file '{}'.", path.display()));
                    let loaded = load_config(&path, config_id.as_deref(), all_config);
                    log_diagnostics(&logger, &loaded);
                    if unusable(&loaded) {
                        logger.info(
                            "The new configuration cannot be used: keeping the running one",
                        );
                        continue;
                    }
                    let planned = plan(loaded.config, &logger);
                    if planned.instances.is_empty() {
                        logger.info(
                            "No vrrp_instance of the new configuration can run: keeping the \
                             running one",
                        );
                        continue;
                    }
                    Control::Reload(planned)
                }
            };
            let stop = matches!(control, Control::Stop);
            if controls.send(control).await.is_err() || stop {
                return;
            }
        }
    });
    Ok(())
}
