//! Log lines as keepalived writes them (compat.md section 4).
//!
//! Lines go to syslog through the unix datagram socket `/dev/log` in RFC 3164 form with the pid,
//! as glibc's `openlog(ident, LOG_PID, facility)` sends them: `<PRI>Mmm dd hh:mm:ss
//! IDENT[PID]: message`. The facility is LOG_DAEMON, or LOCAL0..LOCAL7 with `-S 0..7`; `-G` turns
//! syslog off. With `-l` the same lines also go to stderr as `IDENT[PID]: message`, and `-D` adds
//! the detail lines.
//!
//! Logging never blocks and never fails loudly: the socket is non-blocking, a line that cannot be
//! sent (no syslog daemon yet, its queue full) is dropped, and a lost connection is retried at most
//! once per second, so a syslog daemon that starts or restarts after us is picked up.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use syslog::{Facility, Formatter3164, LogFormat, LoggerBackend, Severity};

use crate::cli::Cli;

/// The socket the local syslog daemon listens on.
const SYSLOG_SOCKET: &str = "/dev/log";

/// The shortest time between two attempts to connect to the syslog socket.
const RECONNECT_INTERVAL: Duration = Duration::from_secs(1);

/// How the command line asks for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `-l`: also write to stderr.
    pub console: bool,
    /// Send to syslog (`-G` turns it off).
    pub syslog: bool,
    /// `-S N`: facility LOCAL N instead of DAEMON.
    pub facility: Option<u8>,
    /// `-D`: detail lines too.
    pub detail: bool,
}

impl LogSettings {
    /// The settings of the command line `cli`.
    pub fn from_cli(cli: &Cli) -> LogSettings {
        LogSettings {
            console: cli.log_console,
            syslog: !cli.no_syslog,
            facility: cli.facility(),
            detail: cli.log_detail,
        }
    }
}

/// Where log lines go and which are shown. Clones share one syslog connection.
#[derive(Debug, Clone)]
pub struct Logger {
    ident: &'static str,
    settings: LogSettings,
    syslog: Option<Arc<Mutex<SyslogSink>>>,
}

impl Logger {
    /// A logger for the process named `ident` (`Keepalived_vrrp`, …).
    pub fn new(ident: &'static str, settings: LogSettings) -> Logger {
        Logger::with_socket(ident, settings, Path::new(SYSLOG_SOCKET))
    }

    /// Like [`Logger::new`], sending syslog lines to the socket at `socket`.
    fn with_socket(ident: &'static str, settings: LogSettings, socket: &Path) -> Logger {
        let syslog = settings.syslog.then(|| {
            Arc::new(Mutex::new(SyslogSink::new(
                ident,
                facility(settings.facility),
                socket,
            )))
        });
        Logger {
            ident,
            settings,
            syslog,
        }
    }

    /// The process name lines are logged under.
    // Part of the logging API; not every build of the daemon calls it yet.
    #[allow(dead_code)]
    pub fn ident(&self) -> &'static str {
        self.ident
    }

    /// Logs a line.
    pub fn info(&self, text: &str) {
        self.write(Severity::LOG_INFO, text);
    }

    /// Logs a warning.
    // Part of the logging API; not every build of the daemon calls it yet.
    #[allow(dead_code)]
    pub fn warning(&self, text: &str) {
        self.write(Severity::LOG_WARNING, text);
    }

    /// Whether `-D` asked for the detail lines.
    pub fn shows_detail(&self) -> bool {
        self.settings.detail
    }

    /// Logs a line shown only with `-D`.
    pub fn detail(&self, text: &str) {
        if self.settings.detail {
            self.write(Severity::LOG_INFO, text);
        }
    }

    fn write(&self, severity: Severity, text: &str) {
        let text = one_line(text);
        if self.settings.console {
            // As /var/log/messages shows it after the time stamp: `IDENT[PID]: message`.
            let line = format!("{}[{}]: {text}\n", self.ident, std::process::id());
            let _ = io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some(sink) = &self.syslog {
            // A panic elsewhere while holding the lock leaves the sink usable as it is.
            let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
            sink.send(Instant::now(), severity, &text);
        }
    }
}

/// The syslog facility for `-S N`: LOCAL0..LOCAL7 for 0..7. keepalived 2.2.7 answers any other
/// value with `Invalid log facility` and keeps LOG_DAEMON, and so does this.
fn facility(setting: Option<u8>) -> Facility {
    match setting {
        Some(0) => Facility::LOG_LOCAL0,
        Some(1) => Facility::LOG_LOCAL1,
        Some(2) => Facility::LOG_LOCAL2,
        Some(3) => Facility::LOG_LOCAL3,
        Some(4) => Facility::LOG_LOCAL4,
        Some(5) => Facility::LOG_LOCAL5,
        Some(6) => Facility::LOG_LOCAL6,
        Some(7) => Facility::LOG_LOCAL7,
        _ => Facility::LOG_DAEMON,
    }
}

/// `text` with line breaks (and NULs, which end a syslog line early) replaced by spaces, so every
/// log call gives exactly one line.
fn one_line(text: &str) -> Cow<'_, str> {
    let breaks = |c: char| matches!(c, '\n' | '\r' | '\0');
    if text.contains(breaks) {
        Cow::Owned(text.replace(breaks, " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// The connection to the syslog socket, made when first needed and again after it is lost.
struct SyslogSink {
    path: PathBuf,
    formatter: Formatter3164,
    connection: Option<LoggerBackend>,
    last_attempt: Option<Instant>,
}

impl fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogSink")
            .field("path", &self.path)
            .field("ident", &self.formatter.process)
            .field("facility", &self.formatter.facility)
            .field("connected", &self.connection.is_some())
            .field("last_attempt", &self.last_attempt)
            .finish()
    }
}

impl SyslogSink {
    fn new(ident: &str, facility: Facility, path: &Path) -> SyslogSink {
        SyslogSink {
            path: path.to_path_buf(),
            formatter: Formatter3164 {
                facility,
                // Like glibc on the local socket: no host name in the line.
                hostname: None,
                process: ident.to_string(),
                pid: std::process::id(),
            },
            connection: None,
            last_attempt: None,
        }
    }

    /// Sends one line at time `now`, or drops it if syslog cannot take it now.
    fn send(&mut self, now: Instant, severity: Severity, text: &str) {
        if self.connection.is_none() && !self.reconnect(now) {
            return;
        }
        // The pid of the process writing, even if this sink was made before a fork.
        self.formatter.pid = std::process::id();
        let mut datagram = Vec::with_capacity(text.len() + 64);
        if self
            .formatter
            .format(&mut datagram, severity, text)
            .is_err()
        {
            return;
        }
        // A failed send is retried once on a new connection (the syslog daemon restarted).
        for _ in 0..2 {
            let Some(connection) = self.connection.as_mut() else {
                return;
            };
            match connection.write(&datagram) {
                Ok(_) => return,
                Err(e) if keeps_connection(&e) => return,
                Err(_) => {
                    self.connection = None;
                    if !self.reconnect(now) {
                        return;
                    }
                }
            }
        }
    }

    /// Connects to the socket unless the last attempt was less than a second before `now`;
    /// returns whether there is a connection now.
    fn reconnect(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last_attempt
            && now.saturating_duration_since(last) < RECONNECT_INTERVAL
        {
            return false;
        }
        self.last_attempt = Some(now);
        self.connection = connect(&self.path, &self.formatter);
        self.connection.is_some()
    }
}

/// A non-blocking connection to the syslog socket at `path`, if one can be made.
fn connect(path: &Path, formatter: &Formatter3164) -> Option<LoggerBackend> {
    let backend = syslog::unix_custom(formatter.clone(), path).ok()?.backend;
    let nonblocking = match &backend {
        LoggerBackend::Unix(socket) => socket.set_nonblocking(true),
        LoggerBackend::UnixStream(writer) => writer.get_ref().set_nonblocking(true),
        // unix_custom only makes the two unix kinds.
        LoggerBackend::Udp(..) | LoggerBackend::Tcp(_) => Ok(()),
    };
    // A connection that could block the daemon is no use.
    nonblocking.ok().map(|()| backend)
}

/// Whether a send that failed with `error` lost only its line, not the connection: the syslog
/// daemon's queue is full, or the line is too long for one datagram.
fn keeps_connection(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
        || matches!(
            error.raw_os_error(),
            Some(code) if code == nix::libc::EMSGSIZE || code == nix::libc::ENOBUFS
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::net::UnixDatagram;
    use std::sync::atomic::{AtomicU32, Ordering};

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    /// A directory of its own under the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!("kl-logger-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("creating a temp dir");
            TempDir(dir)
        }

        fn socket(&self) -> PathBuf {
            self.0.join("log")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in syslog daemon: a datagram socket bound at `path`.
    fn server(path: &Path) -> UnixDatagram {
        let _ = std::fs::remove_file(path);
        let socket = UnixDatagram::bind(path).expect("binding the test socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("setting a read timeout");
        socket
    }

    /// The next datagram, or `None` if none comes within the read timeout.
    fn receive(socket: &UnixDatagram) -> Option<String> {
        let mut buf = vec![0u8; 65536];
        let n = socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Whether a datagram is waiting (consuming it), without waiting for one.
    fn pending(socket: &UnixDatagram) -> bool {
        socket.set_nonblocking(true).expect("non-blocking");
        let mut buf = vec![0u8; 65536];
        let waiting = socket.recv(&mut buf).is_ok();
        socket.set_nonblocking(false).expect("blocking");
        waiting
    }

    /// Splits `<PRI>Mmm dd hh:mm:ss IDENT[PID]: text` into (PRI, IDENT, PID, text).
    fn parse(line: &str) -> (u8, String, u32, String) {
        let rest = line.strip_prefix('<').expect("starts with <PRI>");
        let (pri, rest) = rest.split_once('>').expect("<PRI> is closed");
        let pri = pri.parse().expect("PRI is a number");
        // `Nov 24 00:34:44 ` (RFC 3164 time stamp, day padded with a space).
        let (stamp, rest) = rest.split_at(16);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        assert!(months.contains(&&stamp[..3]), "month in {line:?}");
        assert_eq!(&stamp[6..7], " ", "{line:?}");
        assert_eq!(&stamp[9..10], ":", "{line:?}");
        assert_eq!(&stamp[15..], " ", "{line:?}");
        let (ident, rest) = rest.split_once('[').expect("IDENT[");
        let (pid, text) = rest.split_once("]: ").expect("PID]: ");
        (
            pri,
            ident.to_string(),
            pid.parse().expect("PID is a number"),
            text.to_string(),
        )
    }

    fn settings(facility: Option<u8>, detail: bool) -> LogSettings {
        LogSettings {
            console: false,
            syslog: true,
            facility,
            detail,
        }
    }

    #[test]
    fn facility_is_daemon_or_local_n() {
        let code = |setting| facility(setting) as u8;
        assert_eq!(code(None), 3 << 3);
        let locals: Vec<u8> = (0..=7).map(|n| code(Some(n))).collect();
        assert_eq!(locals, vec![128, 136, 144, 152, 160, 168, 176, 184]);
        // keepalived 2.2.7 keeps LOG_DAEMON for an invalid -S.
        assert_eq!(code(Some(8)), 24);
        assert_eq!(code(Some(255)), 24);
    }

    #[test]
    fn line_breaks_become_spaces() {
        assert_eq!(one_line("a\nb\r\nc\0d"), "a b  c d");
        assert!(matches!(one_line("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn lines_reach_syslog_in_rfc3164_form() {
        let dir = TempDir::new();
        let server = server(&dir.socket());
        let logger = Logger::with_socket("Keepalived_vrrp", settings(None, false), &dir.socket());
        assert_eq!(logger.ident(), "Keepalived_vrrp");

        logger.info("VRRP_Instance(VI_1) Entering MASTER STATE");
        let line = receive(&server).expect("an info line");
        let (pri, ident, pid, text) = parse(&line);
        assert_eq!(pri, 30, "daemon.info in {line:?}");
        assert_eq!(ident, "Keepalived_vrrp");
        assert_eq!(pid, std::process::id());
        assert_eq!(text, "VRRP_Instance(VI_1) Entering MASTER STATE");

        logger.clone().warning("two\nlines");
        let line = receive(&server).expect("a warning line");
        let (pri, _, _, text) = parse(&line);
        assert_eq!(pri, 28, "daemon.warning in {line:?}");
        assert_eq!(text, "two lines");
    }

    #[test]
    fn local_facility_and_detail_lines() {
        let dir = TempDir::new();
        let server = server(&dir.socket());
        let quiet = Logger::with_socket("Keepalived", settings(Some(3), false), &dir.socket());
        quiet.detail("hidden");
        quiet.info("shown");
        let line = receive(&server).expect("the info line");
        let (pri, ident, _, text) = parse(&line);
        assert_eq!(
            (pri, ident.as_str(), text.as_str()),
            (158, "Keepalived", "shown")
        );
        assert!(!pending(&server), "a detail line was sent without -D");

        let detailed = Logger::with_socket("Keepalived", settings(Some(7), true), &dir.socket());
        detailed.detail("detail");
        detailed.warning("careful");
        let (pri, _, _, text) = parse(&receive(&server).expect("the detail line"));
        assert_eq!((pri, text.as_str()), (190, "detail"));
        let (pri, _, _, _) = parse(&receive(&server).expect("the warning line"));
        assert_eq!(pri, 188);
    }

    #[test]
    fn no_syslog_sends_nothing() {
        let dir = TempDir::new();
        let server = server(&dir.socket());
        let mut off = settings(None, true);
        off.syslog = false;
        let logger = Logger::with_socket("Keepalived", off, &dir.socket());
        logger.info("x");
        logger.warning("y");
        logger.detail("z");
        assert!(!pending(&server));
    }

    #[test]
    fn missing_socket_is_retried_at_most_once_a_second() {
        let dir = TempDir::new();
        let mut sink = SyslogSink::new("Keepalived", Facility::LOG_DAEMON, &dir.socket());
        let t0 = Instant::now();
        // No syslog daemon: the line is dropped quietly.
        sink.send(t0, Severity::LOG_INFO, "lost");
        assert!(sink.connection.is_none());

        let server = server(&dir.socket());
        sink.send(
            t0 + Duration::from_millis(500),
            Severity::LOG_INFO,
            "too soon",
        );
        assert!(sink.connection.is_none(), "reconnected within a second");
        assert!(!pending(&server));

        sink.send(t0 + Duration::from_secs(1), Severity::LOG_INFO, "back");
        let (_, _, _, text) = parse(&receive(&server).expect("a line after reconnecting"));
        assert_eq!(text, "back");
    }

    #[test]
    fn restarted_syslog_daemon_is_picked_up() {
        let dir = TempDir::new();
        let first = server(&dir.socket());
        let mut sink = SyslogSink::new("Keepalived", Facility::LOG_DAEMON, &dir.socket());
        let t0 = Instant::now();
        sink.send(t0, Severity::LOG_INFO, "one");
        assert_eq!(parse(&receive(&first).expect("first line")).3, "one");

        // The daemon goes away and a new one binds the same path.
        drop(first);
        let second = server(&dir.socket());
        sink.send(
            t0 + Duration::from_millis(200),
            Severity::LOG_INFO,
            "dropped",
        );
        assert!(
            !pending(&second),
            "sent although the retry interval had not passed"
        );
        sink.send(t0 + Duration::from_secs(2), Severity::LOG_INFO, "two");
        assert_eq!(
            parse(&receive(&second).expect("line to the new daemon")).3,
            "two"
        );

        // Another restart, noticed by a send more than a second after the last attempt: the line
        // is sent again on a new connection, not lost.
        drop(second);
        let third = server(&dir.socket());
        sink.send(t0 + Duration::from_secs(4), Severity::LOG_INFO, "three");
        assert_eq!(parse(&receive(&third).expect("line resent")).3, "three");
    }

    #[test]
    fn full_queue_drops_lines_without_blocking() {
        let dir = TempDir::new();
        let server = server(&dir.socket());
        let mut sink = SyslogSink::new("Keepalived", Facility::LOG_DAEMON, &dir.socket());
        let t0 = Instant::now();
        // Far more than a unix datagram queue holds (net.unix.max_dgram_qlen, 512 by default),
        // sent from a thread so that a sink that blocks fails the test instead of hanging it.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for i in 0..5000 {
                sink.send(t0, Severity::LOG_INFO, &format!("flood {i}"));
            }
            let _ = done.send(sink);
        });
        let mut sink = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("sending to a full queue blocked");
        assert!(
            sink.connection.is_some(),
            "a full queue dropped the connection"
        );

        // Drain what was queued; the connection is still good for the next line.
        server.set_nonblocking(true).expect("non-blocking");
        let mut buf = vec![0u8; 65536];
        let mut queued = 0;
        while queued < 10_000 && server.recv(&mut buf).is_ok() {
            queued += 1;
        }
        assert!(queued > 0 && queued < 5000, "{queued} lines queued");
        server.set_nonblocking(false).expect("blocking");
        sink.send(t0, Severity::LOG_INFO, "after the flood");
        assert_eq!(
            parse(&receive(&server).expect("a line")).3,
            "after the flood"
        );
    }
}
