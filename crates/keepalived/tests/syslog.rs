//! Logging through syslog (root only): our daemon's lines reach `/dev/log` in the RFC 3164 form
//! glibc's `openlog(ident, LOG_PID, facility)` gives, `<PRI>Mmm dd hh:mm:ss IDENT[PID]: text`,
//! with facility daemon by default, local N with `-S N`, and nothing at all with `-G`.
//!
//! How the test owns `/dev/log` without touching the machine's: the daemon runs in a lab host's
//! network namespace under `unshare --mount --propagation private`, so every mount it sees from
//! there on is its own and none propagates back. In that mount namespace a small shell script
//! builds a replacement `/dev` on a tmpfs (mounted first on a directory of the test, then moved
//! over `/dev`): the character devices a daemon may open (`null`, `zero`, `full`, `random`,
//! `urandom`, `tty`) are bind mounts of the real ones, `fd`/`stdin`/`stdout`/`stderr` are the
//! usual symlinks, `shm` is a tmpfs, and `log` is a bind mount of a unix datagram socket the test
//! bound in its own directory. Building a new `/dev` works whether or not the machine has a
//! `/dev/log` (a bind mount needs an existing file to mount onto, and creating one in the real
//! `/dev` is what must not happen); moving the tmpfs in place only at the end means the real
//! device nodes are still visible while they are bind-mounted. When the daemon exits its mount
//! namespace goes with it.
//!
//! The daemon may run as one process or as a parent (`Keepalived`) with a VRRP child
//! (`Keepalived_vrrp`): lines are accepted from any pid, and checked for the ident and pid form.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepalived_testlab::{
    Host, KEEPALIVED_BIN, Lab, Proc, Signal, Subnet, require_programs, require_root,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The instance's virtual address (the lab is on 198.51.100.0/24).
const VIP: &str = "198.51.100.100";

/// How long the daemon may take from start to MASTER: Master_Down_Interval at priority 100 with
/// advert_int 1 is 3.61 s; the rest is room for a loaded machine.
const ELECTION: Duration = Duration::from_secs(20);

/// How long to keep listening after SIGTERM for the last lines, and how long the daemon may take
/// to exit.
const STOP: Duration = Duration::from_secs(10);

/// The idents keepalived logs under.
const IDENTS: [&str; 3] = ["Keepalived", "Keepalived_vrrp", "Keepalived_healthcheckers"];

/// Run as `sh -c SCRIPT sh SOCKET DIR PROGRAM ARGS…` inside a private mount namespace:
/// replaces `/dev` with a tmpfs whose `log` is the socket (testlab's private /dev), then execs
/// `PROGRAM ARGS…` (same pid).
fn dev_script() -> String {
    format!(
        "set -e\n{}\nshift 2\nexec \"$@\"\n",
        keepalived_testlab::initd::DEV_SCRIPT
    )
}

/// One syslog line, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    pri: u16,
    ident: String,
    pid: u32,
    text: String,
}

/// Parses `<PRI>Mmm dd hh:mm:ss IDENT[PID]: text`, or says what is wrong with `raw`.
fn parse(raw: &str) -> Result<Line, String> {
    let fail = |what: &str| format!("{what} in {raw:?}");
    if raw.contains(['\n', '\r', '\0']) {
        return Err(fail("a line break"));
    }
    let rest = raw.strip_prefix('<').ok_or_else(|| fail("no <PRI>"))?;
    let (pri, rest) = rest.split_once('>').ok_or_else(|| fail("no <PRI>"))?;
    let pri: u16 = pri.parse().map_err(|_| fail("a bad PRI"))?;
    if pri > 191 {
        return Err(fail("a PRI out of range"));
    }
    let stamp = rest.get(..16).ok_or_else(|| fail("no time stamp"))?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = stamp.as_bytes();
    let digit_or_space = |c: u8| c.is_ascii_digit() || c == b' ';
    let stamp_ok = months.contains(&&stamp[..3])
        && b[3] == b' '
        && digit_or_space(b[4])
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && [7, 8, 10, 11, 13, 14]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b' ';
    if !stamp_ok {
        return Err(fail("a bad RFC 3164 time stamp"));
    }
    let rest = &rest[16..];
    let (ident, rest) = rest.split_once('[').ok_or_else(|| fail("no IDENT["))?;
    if ident.is_empty() || ident.contains(char::is_whitespace) {
        // A host name before the ident is not what glibc sends to the local socket.
        return Err(fail("a bad IDENT"));
    }
    let (pid, text) = rest.split_once("]: ").ok_or_else(|| fail("no PID]: "))?;
    let pid: u32 = pid.parse().map_err(|_| fail("a bad PID"))?;
    if pid <= 1 {
        return Err(fail("a PID that is not the daemon's"));
    }
    Ok(Line {
        pri,
        ident: ident.to_string(),
        pid,
        text: text.to_string(),
    })
}

/// What one run of the daemon sent and printed.
#[derive(Debug)]
struct Run {
    /// Every datagram received on the test's `/dev/log`, in order.
    raw: Vec<String>,
    /// The daemon's stdout and stderr.
    console: String,
    /// The pid in the `-r` pid file while the daemon ran, if it wrote one.
    vrrp_pid: Option<u32>,
}

impl Run {
    /// Every line parsed; panics on one that is not in syslog form.
    fn lines(&self) -> Vec<Line> {
        self.raw
            .iter()
            .map(|raw| parse(raw).unwrap_or_else(|e| panic!("{e}\n{self}")))
            .collect()
    }

    /// The first line at or after `from` from `Keepalived_vrrp` whose text contains `needle`, with
    /// its index.
    fn find(&self, lines: &[Line], from: usize, needle: &str) -> (usize, Line) {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, l)| l.ident == "Keepalived_vrrp" && l.text.contains(needle))
            .map(|(i, l)| (i, l.clone()))
            .unwrap_or_else(|| panic!("no `Keepalived_vrrp[PID]: …{needle}` line\n{self}"))
    }

    /// The three state lines of taking over, in order, from one process; returns them.
    fn takeover(&self, lines: &[Line]) -> [Line; 3] {
        let (i, backup) = self.find(lines, 0, "VRRP_Instance(VI_1) Entering BACKUP STATE");
        let (j, transition) = self.find(
            lines,
            i + 1,
            "VRRP_Instance(VI_1) Transition to MASTER STATE",
        );
        let (_, master) = self.find(lines, j + 1, "VRRP_Instance(VI_1) Entering MASTER STATE");
        assert!(
            backup.pid == transition.pid && transition.pid == master.pid,
            "state lines from different pids\n{self}"
        );
        if let Some(pid) = self.vrrp_pid {
            assert_eq!(
                master.pid, pid,
                "the VRRP pid file names another pid\n{self}"
            );
        }
        [backup, transition, master]
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "---- syslog ({} lines) ----", self.raw.len())?;
        for l in &self.raw {
            writeln!(f, "{l:?}")?;
        }
        writeln!(f, "---- console ----\n{}", self.console)
    }
}

/// The one-instance config: VI_1 on eth0, state MASTER, priority 100, one VIP.
fn config() -> String {
    format!(
        "global_defs {{\n    router_id syslog\n}}\n\n\
         vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    \
         virtual_router_id 51\n    priority 100\n    advert_int 1\n    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// The receiving end of the test's `/dev/log`.
struct Listener {
    socket: UnixDatagram,
    raw: Vec<String>,
}

impl Listener {
    fn bind(path: &Path) -> Listener {
        let socket =
            UnixDatagram::bind(path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("setting a read timeout");
        Listener {
            socket,
            raw: Vec::new(),
        }
    }

    /// Takes the datagrams that arrive within about 100 ms (at most 1000).
    fn poll(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..1000 {
            match self.socket.recv(&mut buf) {
                Ok(n) => self
                    .raw
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(_) => return,
            }
        }
    }
}

/// Runs our daemon in `host` with its `/dev/log` being a socket of the test's, as
/// `keepalived -n -f CONF -p … -r … -c … EXTRA…`, until `done` holds for what it has sent to
/// syslog and printed (at most [`ELECTION`]), then stops it with SIGTERM and collects what else
/// it sends while stopping.
fn run(host: &Host, name: &str, extra: &[&str], done: impl Fn(&[String], &str) -> bool) -> Run {
    run_program(host, name, OURS, extra, done)
}

/// [`run`] with `program` (ours or keepalived 2.2.7) instead of our daemon.
fn run_program(
    host: &Host,
    name: &str,
    program: &str,
    extra: &[&str],
    done: impl Fn(&[String], &str) -> bool,
) -> Run {
    run_configured(host, name, program, extra, &config(), done)
}

/// [`run_program`] with `text` as the configuration file (`DIR/keepalived.conf`, DIR being
/// the host's directory joined with `name`).
fn run_configured(
    host: &Host,
    name: &str,
    program: &str,
    extra: &[&str],
    text: &str,
    done: impl Fn(&[String], &str) -> bool,
) -> Run {
    let dir = host.dir().join(name);
    fs::create_dir_all(&dir).expect("creating the run's directory");
    let conf = dir.join("keepalived.conf");
    fs::write(&conf, text).expect("writing the config");
    let mut listener = Listener::bind(&dir.join("log"));
    let console_path = dir.join("console.log");
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    let (dir_s, conf_s) = (path(dir.clone()), path(conf));
    let sock_s = path(dir.join("log"));
    let script = dev_script();
    let (pid_s, vrrp_s, check_s) = (
        path(dir.join("keepalived.pid")),
        path(dir.join("vrrp.pid")),
        path(dir.join("checkers.pid")),
    );
    let mut args = vec![
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
        &sock_s,
        &dir_s,
        program,
        "-n",
        "-f",
        &conf_s,
        "-p",
        &pid_s,
        "-r",
        &vrrp_s,
        "-c",
        &check_s,
    ];
    args.extend_from_slice(extra);
    let mut proc = host
        .spawn_logged("unshare", &args, &console_path)
        .expect("starting the daemon");
    let console = || {
        fs::read(&console_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };

    let deadline = Instant::now() + ELECTION;
    let mut vrrp_pid = None;
    let mut reached = false;
    while Instant::now() < deadline {
        listener.poll();
        vrrp_pid = vrrp_pid.or_else(|| {
            fs::read_to_string(&vrrp_s)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        });
        if done(&listener.raw, &console()) {
            reached = true;
            break;
        }
        if !proc.is_running() {
            break;
        }
    }
    let exited_early = !proc.is_running();
    let stopped = stop(&mut proc);
    let quiet_until = Instant::now() + STOP;
    let mut seen = listener.raw.len();
    while Instant::now() < quiet_until {
        listener.poll();
        if listener.raw.len() == seen {
            break;
        }
        seen = listener.raw.len();
    }
    let result = Run {
        raw: listener.raw,
        console: console(),
        vrrp_pid,
    };
    assert!(!exited_early, "the daemon exited early\n{result}");
    assert!(reached, "not done within {ELECTION:?}\n{result}");
    assert!(stopped, "the daemon ignored SIGTERM for {STOP:?}\n{result}");
    result
}

/// SIGTERM and a bounded wait; SIGKILLs the whole group and returns `false` if the daemon does
/// not exit in time.
fn stop(proc: &mut Proc) -> bool {
    if !proc.is_running() {
        return true;
    }
    let _ = proc.signal(Signal::Term);
    if matches!(proc.wait_timeout(STOP), Ok(Some(_))) {
        return true;
    }
    let _ = proc.kill();
    false
}

/// Whether a syslog datagram from `Keepalived_vrrp` says the instance is master (in ours'
/// `VRRP_Instance(VI_1) …` form or 2.2.7's `(VI_1) …`).
fn master_in_syslog(raw: &[String]) -> bool {
    raw.iter().any(|l| {
        parse(l).is_ok_and(|l| {
            l.ident == "Keepalived_vrrp" && l.text.contains("(VI_1) Entering MASTER STATE")
        })
    })
}

/// A lab of one host on 198.51.100.0/24, or `None` when the test cannot run here.
fn lab(tag: &str) -> Option<Lab> {
    if !require_root() || !require_programs(&["ip", "unshare", "mount", "sh"]) {
        return None;
    }
    Some(Lab::with_subnet(tag, &["a"], Subnet::TestNet2).expect("building the lab"))
}

#[test]
fn parse_accepts_syslog_lines_and_refuses_others() {
    let line = parse("<30>Nov  4 00:39:26 Keepalived_vrrp[29383]: VRRP_Instance(VI_1) x");
    assert_eq!(
        line,
        Ok(Line {
            pri: 30,
            ident: "Keepalived_vrrp".to_string(),
            pid: 29383,
            text: "VRRP_Instance(VI_1) x".to_string(),
        })
    );
    for bad in [
        "Keepalived_vrrp[29383]: x",
        "<30>Nov 24 00:39:26 Keepalived_vrrp: x",
        "<30>2026-11-24T00:39:26 Keepalived_vrrp[1]: x",
        "<30>Nov 24 00:39:26 Keepalived_vrrp[29383]: two\nlines",
        "<200>Nov 24 00:39:26 Keepalived_vrrp[29383]: x",
        "<30>Nov 24 00:39:26 myhost Keepalived_vrrp[29383]: x",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn default_facility_is_daemon_info_with_detail_lines() {
    let Some(lab) = lab("syslog") else { return };
    let run = run(lab.host("a"), "daemon", &["-D"], |raw, _| {
        master_in_syslog(raw)
    });
    let lines = run.lines();
    for l in &lines {
        assert!(
            IDENTS.contains(&l.ident.as_str()),
            "ident {:?}\n{run}",
            l.ident
        );
        assert_eq!(l.pri >> 3, 3, "facility of {l:?} is not daemon\n{run}");
    }
    for l in run.takeover(&lines) {
        assert_eq!(l.pri, 30, "{l:?} is not daemon.info\n{run}");
    }
    // `-D` adds the detail lines.
    let (_, vips) = run.find(&lines, 0, "VRRP_Instance(VI_1) setting VIPs.");
    assert_eq!(vips.pri, 30, "{vips:?}\n{run}");
    run.find(&lines, 0, "Assigned address ");
    // `-l` was not given: nothing in keepalived's console form.
    assert!(
        !run.console.contains("Keepalived_vrrp["),
        "console lines without -l\n{run}"
    );
    drop(lab);
}

#[test]
fn log_facility_selects_local_n() {
    let Some(lab) = lab("sysloc") else { return };
    let run = run(lab.host("a"), "local3", &["-S", "3"], |raw, _| {
        master_in_syslog(raw)
    });
    let lines = run.lines();
    for l in &lines {
        assert_eq!(l.pri >> 3, 19, "facility of {l:?} is not local3\n{run}");
    }
    for l in run.takeover(&lines) {
        assert_eq!(l.pri, 158, "{l:?} is not local3.info\n{run}");
    }
    // Without `-D`, no detail lines (2.2.7 names the addresses it sends from with `-D` only,
    // observed).
    for detail in ["setting VIPs.", "Assigned address"] {
        assert!(
            !lines.iter().any(|l| l.text.contains(detail)),
            "a detail line ({detail}) without -D\n{run}"
        );
    }
    drop(lab);
}

#[test]
fn no_syslog_sends_nothing() {
    let Some(lab) = lab("nosys") else { return };
    // `-l` shows on the console when the instance is master; by then syslog would have had lines.
    let run = run(
        lab.host("a"),
        "nosyslog",
        &["-G", "-l", "-D"],
        |_, console| {
            console.contains("Keepalived_vrrp[") && console.contains("Entering MASTER STATE")
        },
    );
    assert!(run.raw.is_empty(), "lines reached syslog with -G\n{run}");
    drop(lab);
}

/// The lines of a reload as both daemons write them, from the parent's `Reloading ...` to the
/// first `Reload complete`, as `IDENT: text` (the file's path written `FILE`).
fn reload_lines(lines: &[Line], file: &str) -> Vec<String> {
    let Some(start) = lines.iter().position(|l| l.text == "Reloading ...") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in &lines[start..] {
        let kept = ["Reloading ...", "Reloading", "Reload complete"].contains(&l.text.as_str())
            || l.text.starts_with("Opening file")
            || l.text.starts_with("Configuration file")
            // Said at start only: a reload logs no NOTICE.
            || l.text.starts_with("NOTICE");
        if kept {
            out.push(format!("{}: {}", l.ident, l.text.replace(file, "FILE")));
        }
        if l.text == "Reload complete" {
            break;
        }
    }
    out
}

/// keepalived 2.2.7 and ours, reloaded once as master: the same reload lines from the same
/// processes (2.2.7's parent reads the file and says when every child is done), and
/// `Startup complete` from the parent.
#[test]
fn reload_lines_come_from_the_processes_keepalived_uses() {
    let Some(lab) = lab("sysrel") else { return };
    if !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let host = lab.host("a");
    let mut seen = Vec::new();
    for (name, program) in [("real", KEEPALIVED_BIN), ("ours", OURS)] {
        let dir = host.dir().join(name);
        let pid_file = dir.join("keepalived.pid");
        let socket = dir.join("ctl").to_string_lossy().into_owned();
        let extra: Vec<&str> = if program == OURS {
            vec!["-D", "--control-socket", &socket]
        } else {
            vec!["-D"]
        };
        let hup_sent = std::cell::Cell::new(false);
        let run = run_program(host, name, program, &extra, |raw, _| {
            let lines: Vec<Line> = raw.iter().filter_map(|l| parse(l).ok()).collect();
            if !hup_sent.get() {
                let master = lines
                    .iter()
                    .any(|l| l.text.contains("(VI_1) Entering MASTER STATE"));
                let pid = fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok());
                if let (true, Some(pid)) = (master, pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGHUP,
                    );
                    hup_sent.set(true);
                }
                return false;
            }
            lines.iter().any(|l| l.text == "Reload complete")
        });
        let lines = run.lines();
        let file = dir.join("keepalived.conf").to_string_lossy().into_owned();
        let startup: Vec<&str> = lines
            .iter()
            .filter(|l| l.text == "Startup complete")
            .map(|l| l.ident.as_str())
            .collect();
        assert_eq!(startup, ["Keepalived"], "{name}: Startup complete\n{run}");
        seen.push((name, reload_lines(&lines, &file), run.to_string()));
    }
    let expected = [
        "Keepalived: Reloading ...",
        "Keepalived: Opening file 'FILE'.",
        "Keepalived: Configuration file FILE",
        "Keepalived_vrrp: Reloading",
        "Keepalived: Reload complete",
    ];
    for (name, reload, run) in &seen {
        assert_eq!(reload, &expected, "{name}:\n{run}");
    }
    drop(lab);
}

/// The start and stop lines of a run, as `IDENT: text` with what varies between runs and
/// implementations taken out (versions, pids, paths, times; a command line's continuation
/// lines, whose number depends on the program's path).
fn start_stop_lines(lines: &[Line]) -> Vec<String> {
    let kinds = [
        ("Starting Keepalived", "Starting Keepalived"),
        ("Running on ", "Running on"),
        ("Command line: ", "Command line"),
        ("Opening file ", "Opening file"),
        ("Configuration file ", "Configuration file"),
        (
            "NOTICE: setting config option max_auto_priority should result in better \
             keepalived performance",
            "NOTICE max_auto_priority",
        ),
        (
            "Starting VRRP child process, pid=",
            "Starting VRRP child process",
        ),
        ("Startup complete", "Startup complete"),
        // 2.2.7 says `Stopping`; ours keeps the contract's `Stopping Keepalived vX.Y.Z`.
        ("Stopping", "Stopping"),
        ("Stopped - used ", "Stopped - used"),
        ("CPU usage (self/children) user: ", "CPU usage"),
        ("Stopped Keepalived v", "Stopped Keepalived"),
    ];
    lines
        .iter()
        .filter_map(|l| {
            kinds
                .iter()
                .find(|(start, _)| l.text.starts_with(start))
                .map(|(_, kind)| format!("{}: {kind}", l.ident))
        })
        .collect()
}

/// keepalived 2.2.7 and ours with `-D`, started, master, stopped: the same start and stop
/// lines from the same processes in the same order (the parent's `Running on`, `Command
/// line`, `Opening file`, `Configuration file`, the `NOTICE` about `max_auto_priority`; at the stop the parent's `Stopping` first, the
/// child's `Stopped - used …`, the parent's `CPU usage …` and `Stopped Keepalived v…` last).
#[test]
fn start_and_stop_lines_come_from_the_processes_keepalived_uses() {
    let Some(lab) = lab("sysstart") else { return };
    if !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let host = lab.host("a");
    let mut seen = Vec::new();
    for (name, program) in [("real", KEEPALIVED_BIN), ("ours", OURS)] {
        let run = run_program(host, name, program, &["-D"], |raw, _| master_in_syslog(raw));
        let lines = run.lines();
        let command_line = lines
            .iter()
            .find(|l| l.text.starts_with("Command line: "))
            .unwrap_or_else(|| panic!("{name}: no command line\n{run}"));
        assert!(
            command_line.text.contains(&format!("'{program}' "))
                && command_line.text.contains("'-n'"),
            "{name}: {command_line:?}\n{run}"
        );
        seen.push((name, start_stop_lines(&lines), run.to_string()));
    }
    let expected = [
        "Keepalived: Starting Keepalived",
        "Keepalived: Running on",
        "Keepalived: Command line",
        "Keepalived: Opening file",
        "Keepalived: Configuration file",
        "Keepalived: NOTICE max_auto_priority",
        "Keepalived: Starting VRRP child process",
        "Keepalived: Startup complete",
        "Keepalived: Stopping",
        "Keepalived_vrrp: Stopped - used",
        "Keepalived: CPU usage",
        "Keepalived: Stopped Keepalived",
    ];
    for (name, lines, run) in &seen {
        assert_eq!(lines, &expected, "{name}:\n{run}");
    }
    drop(lab);
}

/// Sends SIGHUP once to the daemon whose pid file is `pid_file` when `lines` show it master;
/// `hup_sent` remembers it.
fn hup_when_master(lines: &[Line], pid_file: &Path, hup_sent: &std::cell::Cell<bool>) {
    if hup_sent.get()
        || !lines
            .iter()
            .any(|l| l.text.contains("(VI_1) Entering MASTER STATE"))
    {
        return;
    }
    let pid = fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
        hup_sent.set(true);
    }
}

/// The lines about reading the configuration, as `IDENT: text` with `dir` written `DIR`: the
/// files opened, the unknown words, the missing include, and the start and reload lines
/// around them.
fn reading_lines(lines: &[Line], dir: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            l.text.starts_with("Opening file")
                || l.text.contains("Unknown keyword")
                || l.text.contains("Config files missing")
                || l.text.starts_with("Starting VRRP child process")
                || ["Reloading ...", "Reloading", "Reload complete"].contains(&l.text.as_str())
        })
        .map(|l| {
            let text = match l.text.find(", pid=") {
                Some(at) => &l.text[..at],
                None => &l.text,
            };
            format!("{}: {}", l.ident, text.replace(dir, "DIR"))
        })
        .collect()
}

/// keepalived 2.2.7 and ours with `-D`, a file that includes two files (one with an unknown
/// word in global_defs, one with an unknown top-level word), has an unknown top-level word of
/// its own and includes a missing file; started, reloaded, stopped. Observed with 2.2.7: its
/// parent says `Opening file` for each included file where it reads it; each process logs the
/// unknown top-level words; at a reload the VRRP child logs global_defs' problems too. Ours
/// the same, process by process.
#[test]
fn included_files_and_unknown_words_are_logged_by_the_processes_keepalived_uses() {
    let Some(lab) = lab("sysinc") else { return };
    if !require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let host = lab.host("a");
    let mut seen = Vec::new();
    for (name, program) in [("real", KEEPALIVED_BIN), ("ours", OURS)] {
        let dir = host.dir().join(name);
        let inc = dir.join("inc");
        fs::create_dir_all(&inc).expect("include directory");
        let with_global_word =
            config().replace("router_id syslog\n", "router_id syslog\n    bogus_global\n");
        fs::write(inc.join("a.conf"), with_global_word).expect("a.conf");
        fs::write(inc.join("b.conf"), "bogus_inc\n").expect("b.conf");
        let dir_s = dir.to_string_lossy().into_owned();
        let main = format!("include {dir_s}/inc/*.conf\nbogus_top\ninclude {dir_s}/none.conf\n");
        let pid_file = dir.join("keepalived.pid");
        let socket = dir.join("ctl").to_string_lossy().into_owned();
        let extra: Vec<&str> = if program == OURS {
            vec!["-D", "--control-socket", &socket]
        } else {
            vec!["-D"]
        };
        let hup_sent = std::cell::Cell::new(false);
        let run = run_configured(host, name, program, &extra, &main, |raw, _| {
            let lines: Vec<Line> = raw.iter().filter_map(|l| parse(l).ok()).collect();
            hup_when_master(&lines, &pid_file, &hup_sent);
            hup_sent.get() && lines.iter().any(|l| l.text == "Reload complete")
        });
        seen.push((name, reading_lines(&run.lines(), &dir_s), run.to_string()));
    }
    let parent_reading = [
        "Keepalived: Opening file 'DIR/keepalived.conf'.",
        "Keepalived: Opening file 'DIR/inc/a.conf'.",
        "Keepalived: (DIR/inc/a.conf: Line 3) Unknown keyword 'bogus_global'",
        "Keepalived: Opening file 'DIR/inc/b.conf'.",
        "Keepalived: (DIR/inc/b.conf: Line 1) Unknown keyword 'bogus_inc'",
        "Keepalived: (Line 2) Unknown keyword 'bogus_top'",
        "Keepalived: (Line 3) Config files missing 'DIR/none.conf'.",
    ];
    let mut expected: Vec<&str> = parent_reading.to_vec();
    expected.extend([
        "Keepalived: Starting VRRP child process",
        "Keepalived_vrrp: (DIR/inc/b.conf: Line 1) Unknown keyword 'bogus_inc'",
        "Keepalived_vrrp: (DIR/keepalived.conf: Line 2) Unknown keyword 'bogus_top'",
        "Keepalived: Reloading ...",
    ]);
    expected.extend(parent_reading);
    expected.extend([
        "Keepalived_vrrp: Reloading",
        "Keepalived_vrrp: (DIR/inc/a.conf: Line 3) Unknown keyword 'bogus_global'",
        "Keepalived_vrrp: (DIR/inc/b.conf: Line 1) Unknown keyword 'bogus_inc'",
        "Keepalived_vrrp: (DIR/keepalived.conf: Line 2) Unknown keyword 'bogus_top'",
        "Keepalived: Reload complete",
    ]);
    for (name, lines, run) in &seen {
        assert_eq!(lines, &expected, "{name}:\n{run}");
    }
    drop(lab);
}
