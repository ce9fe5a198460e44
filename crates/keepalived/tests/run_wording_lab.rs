//! How a running daemon words the value problems of its configuration (root only): keepalived
//! 2.2.7 and ours each run on the same corpus files (fixtures/corpus) in a fresh network
//! namespace of their own (eth0<->eth1 and eth2<->eth3 veth pairs, 192.0.2.1/24,
//! 192.0.2.2/24, 198.51.100.1/24, 198.51.100.2/24), for [`RUN`], then get SIGTERM. The
//! configuration-problem lines each logs (`(Line N) …`, `(FILE: Line N) …`) must be the same
//! lines: a running 2.2.7 words a lenient number reader's problem `WARNING - invalid number
//! 'abc'` and takes the value as read, where `-t` prints `invalid number 'abc'` and the
//! keyword's `… invalid - ignoring` (see `keepalived_config::run_wording`). The lines are
//! compared sorted: the parent and the VRRP child log theirs at about the same time.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_testlab::{
    COMMAND_TIMEOUT, KEEPALIVED_BIN, Signal, require_programs, require_root, run_command,
    signal_group,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// How long each daemon runs: both have read the file and started their VRRP child by then.
const RUN: Duration = Duration::from_secs(3);
/// How long a daemon has to stop after SIGTERM.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// The corpus files compared: lenient readers in `global_defs`, an instance, a script, a
/// track file, an address and the checker's blocks (the `-t` follow-up unsaid, or reworded
/// when the value read is 0), and strict readers and signed ranges, which a running 2.2.7
/// words as `-t` does.
const SAMPLE: &[&str] = &[
    "gen-global-vrrp_garp_master_delay-abc",
    "gen-global-vrrp_garp_master_repeat-abc",
    "gen-global-vrrp_garp_master_refresh-m1",
    "gen-global-smtp_connect_timeout-abc",
    "gen-global-vrrp_rt_priority-x",
    "gen-global-vrrp_garp_interval-0",
    "gen-global-vrrp_version-4",
    "gen-instance-garp_master_delay-abc",
    "gen-instance-garp_master_refresh_repeat-abc",
    "gen-instance-priority-x",
    "gen-instance-advert_int-x",
    "gen-script-timeout-x",
    "gen-script-weight-x",
    "real-vrrp-script-values-missing-parameter",
    "gen-track-file-weight-x",
    "gen-vip-192-0-2-20-24-preferred-lft-x",
    // The checker's blocks (s29): lenient by block, taken values, decimal readers.
    "gen-checker-check-retry-x",
    "gen-checker-check-connect_port-x",
    "gen-checker-check-bind_port-1-5",
    "gen-checker-check-delay_loop-x",
    "gen-checker-rs-retry-x",
    "gen-checker-rs-uthreshold-1-5",
    "gen-checker-vs-quorum-1-5",
    "gen-checker-vs-hysteresis-x",
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus")
}

/// `ip ARGS`, bounded.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = run_command(Command::new("ip").args(args), COMMAND_TIMEOUT)
        .map_err(|e| format!("ip {}: {e:#}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace with eth0..eth3, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Result<Netns, String> {
        ip(&["netns", "add", &name])?;
        let ns = Netns(name);
        let n = ns.0.as_str();
        for (a, b) in [("eth0", "eth1"), ("eth2", "eth3")] {
            ip(&["-n", n, "link", "add", a, "type", "veth", "peer", "name", b])?;
        }
        for (dev, address) in [
            ("eth0", "192.0.2.1/24"),
            ("eth1", "192.0.2.2/24"),
            ("eth2", "198.51.100.1/24"),
            ("eth3", "198.51.100.2/24"),
        ] {
            ip(&["-n", n, "addr", "add", address, "dev", dev])?;
        }
        for dev in ["lo", "eth0", "eth1", "eth2", "eth3"] {
            ip(&["-n", n, "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "delete", &self.0]);
    }
}

/// One daemon running on a file, in its own namespace and directory.
struct Daemon {
    _ns: Netns,
    dir: PathBuf,
    child: Child,
    stopped: bool,
}

impl Daemon {
    fn start(label: &str, binary: &str, conf: &Path) -> Result<Daemon, String> {
        let name = format!("krw-{}-{label}", std::process::id());
        let ns = Netns::new(name.clone())?;
        let dir = std::env::temp_dir().join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log = fs::File::create(dir.join("log")).map_err(|e| format!("log: {e}"))?;
        let err = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &name, binary, "-n", "-l", "-D", "-f"])
            .arg(conf)
            .args([
                "-p",
                &path("k.pid"),
                "-r",
                &path("v.pid"),
                "-c",
                &path("c.pid"),
            ]);
        if binary == OURS {
            cmd.args(["--control-socket", &path("ctl.sock")]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting {binary}: {e}"))?;
        Ok(Daemon {
            _ns: ns,
            dir,
            child,
            stopped: false,
        })
    }

    /// SIGTERM, then the log once it stopped (SIGKILL after [`STOP_WAIT`]).
    fn stop(&mut self) -> String {
        let pid = self.child.id();
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal_group(pid, Signal::Term);
        }
        let deadline = Instant::now() + STOP_WAIT;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(50));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal_group(pid, Signal::Kill);
        }
        let _ = self.child.wait();
        self.stopped = true;
        fs::read(self.dir.join("log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = signal_group(self.child.id(), Signal::Kill);
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The configuration-problem lines of a console log, without the time stamp (2.2.7) or the
/// process tag (ours) and with the file named `FILE`, sorted.
fn problem_lines(log: &str, conf: &Path) -> Vec<String> {
    let file = conf.to_string_lossy();
    let mut lines: Vec<String> = log
        .lines()
        .filter_map(|line| {
            let at = line
                .find("(Line ")
                .or_else(|| line.find(&format!("({file}: Line ")))?;
            Some(line[at..].replace(file.as_ref(), "FILE"))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn problem_lines_are_taken_from_both_log_forms() {
    let conf = Path::new("/c/x.conf");
    let log = "Fri Dec  4 22:59:00 2026: (Line 2) WARNING - invalid number 'abc'\n\
               Keepalived_vrrp[7]: (/c/x.conf: Line 6) number '0' outside range [1, 255]\n\
               Keepalived[6]: Starting VRRP child process, pid=7\n";
    assert_eq!(
        problem_lines(log, conf),
        vec![
            "(FILE: Line 6) number '0' outside range [1, 255]".to_string(),
            "(Line 2) WARNING - invalid number 'abc'".to_string(),
        ]
    );
}

#[test]
fn running_daemons_word_value_problems_as_keepalived_2_2_7_running() {
    if !(require_root() && require_programs(&["ip", KEEPALIVED_BIN])) {
        return;
    }
    let mut failures = Vec::new();
    for name in SAMPLE {
        let conf = corpus().join(format!("{name}.conf"));
        let conf = match conf.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let started = Daemon::start("ref", KEEPALIVED_BIN, &conf)
            .and_then(|r| Daemon::start("ours", OURS, &conf).map(|o| (r, o)));
        let (mut reference, mut ours) = match started {
            Ok(pair) => pair,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        thread::sleep(RUN);
        let expected = problem_lines(&reference.stop(), &conf);
        let got = problem_lines(&ours.stop(), &conf);
        if expected.is_empty() {
            failures.push(format!("{name}: 2.2.7 logged no configuration problem"));
        }
        if expected != got {
            failures.push(format!("{name}:\n  2.2.7: {expected:#?}\n  ours: {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
