//! Running `/etc/init.d/keepalived` for real inside a lab host, and reading the daemon's syslog.
//!
//! A [`PrivateRoot`] is a holder process in a lab host's network namespace and in a private
//! mount namespace of its own, where /etc and /usr/sbin are overlays on a tmpfs (so
//! /etc/sysconfig and /etc/keepalived can be written without touching the machine), /var/run is
//! a fresh directory and /usr/sbin/keepalived is a bind mount of the binary under test. Every
//! command runs through `nsenter` into both namespaces. Optionally /dev is replaced by a small
//! tmpfs whose `log` is a unix datagram socket the caller bound ([`DevLog`]), so the daemon's
//! syslog lines reach the test. Nothing is visible outside: the mounts die with the mount
//! namespace, the processes and the network namespace with the lab.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::lab::{Host, poll_until};
use crate::process::{Proc, Signal, run_command, run_ok, signal};

/// How long one verb of the init script may take: stop waits up to 10 s (+2 s after SIGKILL),
/// start up to 10 s for the pid file, restart both.
pub const VERB_TIMEOUT: Duration = Duration::from_secs(45);

/// How a [`PrivateRoot`] is made.
#[derive(Debug, Clone)]
pub struct RootOptions {
    /// A unix datagram socket (bound by the caller, e.g. with [`DevLog::bind`]) to appear as
    /// `/dev/log` inside the namespace; `None` leaves the machine's /dev.
    pub dev_log: Option<PathBuf>,
    /// How long the holder lives at most (it is killed earlier when the root is dropped).
    pub lifetime: Duration,
}

impl Default for RootOptions {
    fn default() -> Self {
        RootOptions {
            dev_log: None,
            lifetime: Duration::from_secs(600),
        }
    }
}

/// Replaces /dev with a tmpfs holding the usual device nodes (bind mounts of the real ones)
/// and `log`, a bind mount of the socket `$1`. Run as `sh -ec SCRIPT sh SOCKET SCRATCH` in a
/// private mount namespace (the syslog test appends `shift 2; exec "$@"` to run a program
/// there).
pub const DEV_SCRIPT: &str = r#"sock="$1"; new="$2/dev"
mkdir -p "$new"
mount -t tmpfs -o mode=0755,size=1m kl-dev "$new"
for node in null zero full random urandom tty; do
    if [ -e "/dev/$node" ]; then
        touch "$new/$node"
        mount --bind "/dev/$node" "$new/$node"
    fi
done
mkdir "$new/shm" "$new/pts"
mount -t tmpfs -o mode=1777,size=1m kl-shm "$new/shm"
ln -s /proc/self/fd "$new/fd"
ln -s /proc/self/fd/0 "$new/stdin"
ln -s /proc/self/fd/1 "$new/stdout"
ln -s /proc/self/fd/2 "$new/stderr"
touch "$new/log"
mount --bind "$sock" "$new/log"
mount --move "$new" /dev
"#;

/// A private mount namespace in a lab host's network namespace, prepared for the init script
/// (see the module docs). Dropping it kills the holder; the mounts go with the namespace once
/// nothing runs in it any more (the lab kills what is left in its namespaces).
#[derive(Debug)]
pub struct PrivateRoot<'a> {
    host: &'a Host,
    holder: Proc,
    /// Host-side staging directory for files copied into the namespace.
    stage: PathBuf,
    staged: AtomicU32,
}

impl<'a> PrivateRoot<'a> {
    /// A root with the machine's /dev and a holder that lives at most 600 s.
    pub fn new(host: &'a Host, binary: &str) -> Result<PrivateRoot<'a>> {
        PrivateRoot::with_options(host, binary, &RootOptions::default())
    }

    /// A root with `binary` as /usr/sbin/keepalived, made as `options` say.
    pub fn with_options(
        host: &'a Host,
        binary: &str,
        options: &RootOptions,
    ) -> Result<PrivateRoot<'a>> {
        let life = options.lifetime.as_secs().max(1).to_string();
        let holder = host
            .spawn(
                "unshare",
                &["--mount", "--propagation", "private", "sleep", &life],
            )
            .context("starting the mount namespace holder")?;
        let comm = format!("/proc/{}/comm", holder.pid());
        if !poll_until(Duration::from_secs(5), || {
            fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
        }) {
            bail!("the mount namespace holder did not reach `sleep` within 5 s");
        }
        let scratch = host.dir().join("mnt-scratch");
        let stage = host.dir().join("stage");
        for d in [&scratch, &stage] {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let root = PrivateRoot {
            host,
            holder,
            stage,
            staged: AtomicU32::new(0),
        };
        let scratch_s = path_str(&scratch)?;
        let s = shell_quote(scratch_s);
        let bin = shell_quote(binary);
        // Everything below happens in the holder's mount namespace only (propagation private).
        root.sh(&format!(
            "mount -t tmpfs -o mode=0700,size=16m klinit {s}
             mkdir {s}/etc.up {s}/etc.work {s}/sbin.up {s}/sbin.work {s}/run
             mount -t overlay klinitetc -o lowerdir=/etc,upperdir={s}/etc.up,workdir={s}/etc.work /etc
             mount -t overlay klinitsbin -o lowerdir=/usr/sbin,upperdir={s}/sbin.up,workdir={s}/sbin.work /usr/sbin
             mount --bind {s}/run /var/run
             [ -e /usr/sbin/keepalived ] || : >/usr/sbin/keepalived
             mount --bind {bin} /usr/sbin/keepalived
             mkdir -p /etc/init.d /etc/sysconfig /etc/keepalived /etc/default
             rm -f /etc/default/keepalived /etc/keepalived/keepalived.conf"
        ))
        .context("preparing the private mount namespace")?;
        if let Some(sock) = &options.dev_log {
            let out = root.nsenter(
                &["sh", "-ec", DEV_SCRIPT, "sh", path_str(sock)?, scratch_s],
                Duration::from_secs(30),
            )?;
            if !out.status.success() {
                bail!("replacing /dev: {}", show_output(&out));
            }
        }
        Ok(root)
    }

    /// The lab host this root lives in.
    pub fn host(&self) -> &Host {
        self.host
    }

    /// The holder's pid (a process in both namespaces, for `nsenter -t`).
    pub fn holder_pid(&self) -> u32 {
        self.holder.pid()
    }

    fn nsenter(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        run_command(
            Command::new("nsenter")
                .arg("-t")
                .arg(self.holder.pid().to_string())
                .args(["-m", "-n"])
                .args(args)
                .current_dir("/"),
            timeout,
        )
    }

    /// Runs `sh -ec script` in the holder's namespaces; an error unless it exits 0.
    pub fn sh(&self, script: &str) -> Result<Output> {
        let out = self.nsenter(&["sh", "-ec", script], Duration::from_secs(30))?;
        if out.status.success() {
            Ok(out)
        } else {
            bail!("`{script}`: {}", show_output(&out))
        }
    }

    /// Installs a file with `content` at `dst` (octal `mode`, e.g. `"0644"`) in the namespace.
    pub fn put(&self, dst: &str, content: &[u8], mode: &str) -> Result<()> {
        let n = self.staged.fetch_add(1, Ordering::SeqCst);
        let src = self.stage.join(format!("file-{n}"));
        fs::write(&src, content).with_context(|| format!("writing {}", src.display()))?;
        self.sh(&format!(
            "install -D -m {} {} {}",
            shell_quote(mode),
            shell_quote(path_str(&src)?),
            shell_quote(dst)
        ))
        .with_context(|| format!("installing {dst}"))?;
        Ok(())
    }

    /// Removes `path` in the namespace (no error if it does not exist).
    pub fn remove(&self, path: &str) -> Result<()> {
        self.sh(&format!("rm -f {0}; [ ! -e {0} ]", shell_quote(path)))
            .with_context(|| format!("removing {path}"))?;
        Ok(())
    }

    /// The pid in file `path` inside the namespace; `None` if the file does not exist.
    pub fn pid_in(&self, path: &str) -> Result<Option<u32>> {
        let out = self.sh(&format!(
            "if [ -e {0} ]; then cat {0}; else echo none; fi",
            shell_quote(path)
        ))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if text == "none" {
            return Ok(None);
        }
        match text.parse() {
            Ok(pid) => Ok(Some(pid)),
            Err(_) => bail!("{path} holds {text:?}, not a pid"),
        }
    }

    /// Runs `/etc/init.d/keepalived VERB` as init would: in both namespaces, from /, with a
    /// minimal environment, for at most [`VERB_TIMEOUT`].
    pub fn init(&self, verb: &str) -> Result<InitVerb> {
        let out = run_command(
            Command::new("nsenter")
                .arg("-t")
                .arg(self.holder.pid().to_string())
                .args(["-m", "-n", "/etc/init.d/keepalived", verb])
                .current_dir("/")
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("LANG", "C"),
            VERB_TIMEOUT,
        )
        .with_context(|| format!("`/etc/init.d/keepalived {verb}`"))?;
        Ok(InitVerb {
            name: verb.to_string(),
            out,
        })
    }

    /// Whether `pid` lives in this host's network namespace and the holder's mount namespace.
    pub fn owns(&self, pid: u32) -> bool {
        let ns = |p: String| fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let net = ns(format!("/proc/{pid}/ns/net"));
        let mnt = ns(format!("/proc/{pid}/ns/mnt"));
        net.is_some()
            && net == ns(format!("/var/run/netns/{}", self.host.netns()))
            && mnt.is_some()
            && mnt == ns(format!("/proc/{}/ns/mnt", self.holder.pid()))
    }
}

/// One run of the init script.
#[derive(Debug)]
pub struct InitVerb {
    /// The verb (`start`, `stop`, …).
    pub name: String,
    /// What it printed and how it exited.
    pub out: Output,
}

impl InitVerb {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// An error with the output unless the verb exited with `code`.
    pub fn check(&self, code: i32) -> Result<()> {
        if self.code() == Some(code) {
            return Ok(());
        }
        bail!(
            "`/etc/init.d/keepalived {}` (expected exit {code}): {}",
            self.name,
            show_output(&self.out)
        )
    }
}

/// The exit code, stdout and stderr of `out`, for messages.
pub fn show_output(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `s` in single quotes for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// Processes of network namespace `netns` whose name says keepalived.
pub fn keepalived_pids(netns: &str) -> Vec<u32> {
    run_ok("ip", &["netns", "pids", netns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|pid: &u32| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.to_ascii_lowercase().contains("keepalived"))
        })
        .collect()
}

/// SIGKILLs every keepalived process of `netns` until none is left (at most `timeout`);
/// returns whether none is left.
pub fn kill_keepalived(netns: &str, timeout: Duration) -> bool {
    poll_until(timeout, || {
        let left = keepalived_pids(netns);
        for pid in &left {
            let _ = signal(*pid, Signal::Kill);
        }
        left.is_empty()
    })
}

/// Kills every keepalived left in the namespace when dropped (a test failed half-way).
#[derive(Debug)]
pub struct KillDaemons(pub String);

impl Drop for KillDaemons {
    fn drop(&mut self) {
        kill_keepalived(&self.0, Duration::from_secs(5));
    }
}

/// One datagram received on a [`DevLog`] socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When it arrived, from the sink's start.
    pub at: Duration,
    /// The datagram as sent (`<PRI>Mmm dd hh:mm:ss IDENT[PID]: text`), trailing newline cut.
    pub raw: String,
}

impl LogLine {
    /// The part after `IDENT[PID]: `, or the whole line if it is not in that form.
    pub fn text(&self) -> &str {
        self.raw
            .split_once("]: ")
            .map(|(_, t)| t)
            .unwrap_or(&self.raw)
    }
}

type Echo = Box<dyn Fn(&LogLine) + Send>;

/// A unix datagram socket standing in for /dev/log, read by a thread of its own: every line is
/// kept (with its arrival time) and passed to an optional callback as it comes. Dropping it
/// stops the thread and removes the socket file.
pub struct DevLog {
    path: PathBuf,
    start: Instant,
    lines: Arc<Mutex<Vec<LogLine>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DevLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevLog").field("path", &self.path).finish()
    }
}

impl DevLog {
    /// Binds the socket at `path` (replacing a stale one) and starts reading; `echo` sees every
    /// line as it arrives.
    pub fn bind(path: &Path, echo: Option<Echo>) -> Result<DevLog> {
        let _ = fs::remove_file(path);
        let sock =
            UnixDatagram::bind(path).with_context(|| format!("binding {}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .context("setting the read timeout")?;
        let start = Instant::now();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (lines2, stop2) = (lines.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("devlog".into())
            .spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop2.load(Ordering::SeqCst) {
                    let Ok(n) = sock.recv(&mut buf) else {
                        continue;
                    };
                    let raw = String::from_utf8_lossy(&buf[..n])
                        .trim_end_matches(['\n', '\0'])
                        .to_string();
                    let line = LogLine {
                        at: start.elapsed(),
                        raw,
                    };
                    if let Some(echo) = &echo {
                        echo(&line);
                    }
                    if let Ok(mut v) = lines2.lock() {
                        v.push(line);
                    }
                }
            })
            .context("starting the /dev/log reader")?;
        Ok(DevLog {
            path: path.to_path_buf(),
            start,
            lines,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Time since the sink started (the clock of [`LogLine::at`]).
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Every line received so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The first line received at or after `since` whose text contains `needle`.
    pub fn find(&self, since: Duration, needle: &str) -> Option<LogLine> {
        self.lines()
            .into_iter()
            .find(|l| l.at >= since && l.raw.contains(needle))
    }

    /// Waits at most `timeout` for a line as [`DevLog::find`] finds it.
    pub fn wait_for(&self, since: Duration, needle: &str, timeout: Duration) -> Option<LogLine> {
        let mut found = None;
        poll_until(timeout, || {
            found = self.find(since, needle);
            found.is_some()
        });
        found
    }
}

impl Drop for DevLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}
