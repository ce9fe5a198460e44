//! The VRRP side of the daemon: plans the configured instances and runs them on a
//! current-thread tokio runtime until SIGTERM or SIGINT.

pub mod driver;
pub mod setup;

use std::net::Ipv4Addr;

use anyhow::Context;
use keepalived_config::Config;
use tokio::signal::unix::{SignalKind, signal};

use crate::logger::Logger;
use setup::InterfaceInfo;

/// Runs every vrrp_instance of `config` in this process until a stop signal.
pub fn run(config: &Config, logger: Logger, keep_addresses: bool) -> anyhow::Result<()> {
    let lookup = |name: &str| {
        keepalived_net::interface::lookup(name)
            .ok()
            .map(|i| InterfaceInfo {
                index: i.index,
                primary: i.primary_ipv4(),
            })
    };
    let user = |name: &str| {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
    };
    let (plans, scripts, problems) = setup::plan(config, lookup, user);
    for problem in &problems {
        logger.info(&format!(
            "VRRP_Instance({}) cannot run: {}",
            problem.instance, problem.message
        ));
    }
    if plans.is_empty() {
        anyhow::bail!("no vrrp_instance can run");
    }
    let group: Ipv4Addr = config.global.vrrp_mcast_group4;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        // Signals whose behaviour is not built yet must not kill the daemon (their default
        // action would, leaving the addresses behind): say so instead.
        for (kind, name) in [
            (SignalKind::hangup(), "SIGHUP (reload)"),
            (SignalKind::user_defined1(), "SIGUSR1 (data dump)"),
            (SignalKind::user_defined2(), "SIGUSR2 (stats dump)"),
        ] {
            let mut stream = signal(kind).with_context(|| format!("{name} handler"))?;
            let logger = logger.clone();
            tokio::task::spawn_local(async move {
                while stream.recv().await.is_some() {
                    logger.info(&format!("{name} received: not built yet, ignoring it"));
                }
            });
        }
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        driver::run(plans, scripts, group, logger, keep_addresses, stop).await
    })
}
