//! Running a keepalived (the real 2.2.7, or any binary with the same command line) in a host.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::lab::{Host, poll_until};
use crate::process::{Proc, Signal};

/// Where Debian installs keepalived 2.2.7.
pub const KEEPALIVED_BIN: &str = "/usr/sbin/keepalived";

/// How long [`Keepalived::stop`] waits after SIGTERM before it SIGKILLs.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A keepalived daemon running in the foreground (`-n`) inside a host, with its config, pid files
/// and log in a directory of its own. Dropping it SIGKILLs its process group.
#[derive(Debug)]
pub struct Keepalived {
    proc: Proc,
    dir: PathBuf,
    config: PathBuf,
    pidfile: PathBuf,
    vrrp_pidfile: PathBuf,
    check_pidfile: PathBuf,
    log: PathBuf,
}

impl Keepalived {
    /// Starts the real keepalived with `config` (the file's text) in `host`:
    /// `keepalived -n -l -D -f CONF -p PID -r VRRP_PID -c CHECK_PID`.
    pub fn start(host: &Host, config: &str) -> Result<Keepalived> {
        Keepalived::start_with(host, Path::new(KEEPALIVED_BIN), config, &[])
    }

    /// Starts `binary` (keepalived or a drop-in replacement) the same way, with `extra_args`
    /// appended to the command line.
    pub fn start_with(
        host: &Host,
        binary: &Path,
        config: &str,
        extra_args: &[&str],
    ) -> Result<Keepalived> {
        Keepalived::start_in_env(host, binary, config, extra_args, &[])
    }

    /// Like [`Keepalived::start_with`], with `env` (`NAME=VALUE` words, e.g. `PATH=/bin`) set
    /// in the daemon's environment through `env(1)`, so that what depends on it (how scripts
    /// are found) is the same whoever runs the test.
    pub fn start_in_env(
        host: &Host,
        binary: &Path,
        config: &str,
        extra_args: &[&str],
        env: &[&str],
    ) -> Result<Keepalived> {
        let mut wrapper = Vec::with_capacity(env.len() + 1);
        if !env.is_empty() {
            wrapper.push("env");
            wrapper.extend_from_slice(env);
        }
        Keepalived::start_wrapped(host, &wrapper, binary, config, extra_args)
    }

    /// Like [`Keepalived::start_with`], run through `wrapper` (a command line that ends by
    /// running the one it is given, such as `env PATH=…` or `nsenter -t PID -p -m --`).
    pub fn start_wrapped(
        host: &Host,
        wrapper: &[&str],
        binary: &Path,
        config: &str,
        extra_args: &[&str],
    ) -> Result<Keepalived> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = host.dir().join(format!("keepalived-{n}"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let config_path = dir.join("keepalived.conf");
        fs::write(&config_path, config)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let pidfile = dir.join("keepalived.pid");
        let vrrp_pidfile = dir.join("vrrp.pid");
        let check_pidfile = dir.join("checkers.pid");
        let log = dir.join("keepalived.log");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let (conf_s, pid_s, vrrp_s, check_s) = (
            s(&config_path),
            s(&pidfile),
            s(&vrrp_pidfile),
            s(&check_pidfile),
        );
        let binary_s = s(binary);
        let (program, mut args) = match wrapper.split_first() {
            Some((first, rest)) => (*first, rest.to_vec()),
            None => (binary_s.as_str(), Vec::new()),
        };
        if !wrapper.is_empty() {
            args.push(&binary_s);
        }
        args.extend_from_slice(&[
            "-n", "-l", "-D", "-f", &conf_s, "-p", &pid_s, "-r", &vrrp_s, "-c", &check_s,
        ]);
        args.extend_from_slice(extra_args);
        let proc = host.spawn_logged(program, &args, &log)?;
        Ok(Keepalived {
            proc,
            dir,
            config: config_path,
            pidfile,
            vrrp_pidfile,
            check_pidfile,
            log,
        })
    }

    /// The pid of the parent process (also its process group).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The pid from the VRRP child's pid file, once written.
    pub fn vrrp_pid(&self) -> Option<u32> {
        read_pid(&self.vrrp_pidfile)
    }

    /// The pid from the checker child's pid file, once written.
    pub fn check_pid(&self) -> Option<u32> {
        read_pid(&self.check_pidfile)
    }

    /// The daemon's own directory (config, pid files, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config file path.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The parent's pid file path.
    pub fn pidfile(&self) -> &Path {
        &self.pidfile
    }

    /// The VRRP child's pid file path.
    pub fn vrrp_pidfile(&self) -> &Path {
        &self.vrrp_pidfile
    }

    /// The checker child's pid file path.
    pub fn check_pidfile(&self) -> &Path {
        &self.check_pidfile
    }

    /// The log file path (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the daemon has logged so far.
    pub fn log(&self) -> Result<String> {
        let bytes =
            fs::read(&self.log).with_context(|| format!("reading {}", self.log.display()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Polls the log until it contains `needle`, for at most `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        poll_until(timeout, || self.log().is_ok_and(|l| l.contains(needle)))
    }

    /// Replaces the config file's text (follow with [`Keepalived::reload`]).
    pub fn write_config(&self, config: &str) -> Result<()> {
        fs::write(&self.config, config)
            .with_context(|| format!("writing {}", self.config.display()))
    }

    /// Sends `sig` to the parent process.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        self.proc.signal(sig)
    }

    /// SIGHUP: reload the config.
    pub fn reload(&self) -> Result<()> {
        self.signal(Signal::Hup)
    }

    /// Whether the parent is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    /// Waits at most `timeout` for the parent to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.proc.wait_timeout(timeout)
    }

    /// SIGTERM, then waits up to [`STOP_TIMEOUT`] for the parent to exit; SIGKILLs the group and
    /// returns an error if it does not.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.proc.try_wait()? {
            return Ok(status);
        }
        self.proc.signal(Signal::Term)?;
        match self.proc.wait_timeout(STOP_TIMEOUT)? {
            Some(status) => Ok(status),
            None => {
                let _ = self.proc.kill();
                bail!(
                    "keepalived (pid {}) ignored SIGTERM for {STOP_TIMEOUT:?}",
                    self.pid()
                );
            }
        }
    }

    /// SIGKILLs the whole process group (a crash: no priority-0 advert, VIPs stay).
    pub fn kill(&mut self) -> Result<ExitStatus> {
        self.proc.kill()
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log().unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let from = lines.len().saturating_sub(40);
            eprintln!(
                "---- last lines of {} ----\n{}",
                self.log.display(),
                lines[from..].join("\n")
            );
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}
