//! A network for a QEMU guest whose peers run natively on the host: a namespace of its own
//! (`kl-<tag>-<pid>-<n>-tap`) holding a tap device with a documentation address. The guest is
//! started inside that namespace ([`crate::qemu::boot_on`]) and gets the tap as a virtio-net
//! card; host programs started with [`TapNet::spawn`] run in the same namespace and answer it.
//! Dropping the network (also while panicking) kills every process left in the namespace,
//! QEMU included, and deletes it.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Result, bail};

use crate::lab::{NETNS_PREFIX, kill_netns_processes, remove_stale_namespaces};
use crate::process::{Proc, Registry, run_ok};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The tap device's name inside its namespace.
pub const TAP_IF: &str = "tapk0";

/// A namespace with a tap device for one guest; see the module documentation.
#[derive(Debug)]
pub struct TapNet {
    netns: String,
    registry: Registry,
}

impl TapNet {
    /// Creates the namespace with `lo` up and the tap device up with `host_cidr` (e.g.
    /// `192.0.2.1/24`). `tag` must be a short lowercase alphanumeric.
    pub fn new(tag: &str, host_cidr: &str) -> Result<TapNet> {
        if tag.is_empty()
            || tag.len() > 8
            || !tag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            bail!("tap network tag must be 1-8 lowercase alphanumerics, got `{tag}`");
        }
        remove_stale_namespaces();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let netns = format!("{NETNS_PREFIX}{tag}-{}-{n}-tap", std::process::id());
        crate::clean_up_on_interrupt();
        run_ok("ip", &["netns", "add", &netns])?;
        // From here on, an early return drops the network, which deletes the namespace.
        let net = TapNet {
            netns,
            registry: Registry::default(),
        };
        net.ip(&["link", "set", "lo", "up"])?;
        net.ip(&["tuntap", "add", "dev", TAP_IF, "mode", "tap"])?;
        net.ip(&["addr", "add", host_cidr, "dev", TAP_IF])?;
        net.ip(&["link", "set", TAP_IF, "up"])?;
        Ok(net)
    }

    /// The namespace's name.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Runs `ip ARGS…` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.netns.as_str()];
        all.extend_from_slice(args);
        run_ok("ip", &all)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`, which execs it:
    /// the child's pid is the program's).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.netns.as_str(), program]);
        cmd
    }

    /// Starts `program ARGS…` in the namespace as a long-lived process, killed at the latest
    /// when the network is dropped.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Result<Proc> {
        let mut cmd = self.command(program);
        cmd.args(args).stdin(Stdio::null());
        Proc::spawn(cmd, format!("{program} in {}", self.netns), &self.registry)
    }
}

impl Drop for TapNet {
    fn drop(&mut self) {
        self.registry.kill_all();
        kill_netns_processes(&self.netns);
        let _ = run_ok("ip", &["netns", "del", &self.netns]);
    }
}
