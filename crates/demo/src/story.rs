//! The seed's story, replayed with real parts: two MariaDB servers, the seed's two configs
//! (fixtures/seed-params, parameterised), `/etc/init.d/keepalived` on each host in a private
//! mount namespace with its own /etc, /var/run and /dev/log, and a client on a third host that
//! reads `@@server_id` through the VIP.
//!
//! Shared by the `seed-demo` binary (which narrates) and the end-to-end test
//! crates/keepalived/tests/seed_story.rs (which asserts); the test includes this file with
//! `#[path]`, so it uses only std, anyhow and keepalived_testlab.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keepalived_testlab::initd::{
    DevLog, KillDaemons, LogLine, PrivateRoot, RootOptions, keepalived_pids, show_output,
};
use keepalived_testlab::{Host, Lab, Proc, Signal, Subnet, adverts, signal};

/// The seed's config for A with `${IFACE}`, `${VIP}`, `${SELF}` and `${CHECK}` left open.
pub const SEED_A: &str = include_str!("../../../fixtures/seed-params/seed-A.conf");
/// The seed's config for B, parameterised the same way.
pub const SEED_B: &str = include_str!("../../../fixtures/seed-params/seed-B.conf");
/// The check script, in the role of the seed's checkMySQL.py.
pub const CHECK_SCRIPT: &str = include_str!("../../../docs/examples/mysql-dual-master/check_mysql");
/// Our SysV init script.
pub const INIT_SCRIPT: &str = include_str!("../../../init.d/keepalived");
/// Our /etc/sysconfig/keepalived (`KEEPALIVED_OPTIONS="-D"`).
pub const SYSCONFIG: &str = include_str!("../../../init.d/keepalived.sysconfig");

/// Where the check script is installed inside each host's private /etc.
pub const CHECK_PATH: &str = "/etc/keepalived/check_mysql";
/// The seed's script interval, seconds.
pub const SEED_INTERVAL: u32 = 60;
/// The seed's advert_int, seconds.
pub const SEED_ADVERT_INT: u32 = 5;
/// The MySQL port of the seed.
pub const MYSQL_PORT: u16 = 3306;
/// The client's account, created on both servers.
pub const CLIENT_USER: &str = "demo";
/// The client's password.
pub const CLIENT_PASSWORD: &str = "demo";

/// The programs the story needs besides the keepalived binaries.
pub const PROGRAMS: &[&str] = &[
    "ip",
    "nsenter",
    "unshare",
    "mount",
    "install",
    "timeout",
    "mariadbd",
    "mariadb-install-db",
    "mariadb-admin",
    "mariadb",
];

/// Which keepalived runs on a host.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// The binary bind-mounted as /usr/sbin/keepalived.
    pub binary: PathBuf,
    /// Whether it is keepalived-rs (seed-form log lines `VRRP_Instance(VI_23) …`) rather than
    /// keepalived 2.2.7 (`(VI_23) …`).
    pub ours: bool,
}

impl Daemon {
    /// What to call it in messages.
    pub fn label(&self) -> &'static str {
        if self.ours {
            "keepalived-rs"
        } else {
            "keepalived 2.2.7"
        }
    }

    /// The log text for `what` of `instance`, in this daemon's form.
    fn state_line(&self, instance: &str, what: &str) -> String {
        if self.ours {
            format!("VRRP_Instance({instance}) {what}")
        } else {
            format!("({instance}) {what}")
        }
    }
}

/// Hears what the story says and what the daemons log.
pub trait Narrator: Send + Sync {
    /// A line of narration.
    fn say(&self, text: &str);
    /// A syslog line of host `host` ("A" or "B"), as it arrives.
    fn log(&self, host: &str, line: &LogLine);
}

/// How to run the story.
#[derive(Clone)]
pub struct Options {
    /// The lab tag (short lowercase alphanumerics).
    pub tag: String,
    /// The documentation subnet of the lab.
    pub subnet: Subnet,
    /// The daemon on host A (priority 100).
    pub a: Daemon,
    /// The daemon on host B (priority 90).
    pub b: Daemon,
    /// The vrrp_script interval, seconds (the seed's is 60).
    pub interval: u32,
    /// The advert_int, seconds (the seed's is 5).
    pub advert_int: u32,
    /// Capture VRRP on the bridge during the last step to show the priority-0 advert (needs
    /// dumpcap and tshark).
    pub capture: bool,
    /// Set to stop the story at the next wait (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Where narration and log lines go.
    pub narrator: Arc<dyn Narrator>,
}

/// One measured time of the story.
#[derive(Debug, Clone)]
pub struct Measure {
    /// What was measured.
    pub what: String,
    /// How long it took.
    pub took: Duration,
    /// The bound it had to stay within.
    pub bound: Duration,
}

/// What a completed run measured.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Every measured time, in story order.
    pub measures: Vec<Measure>,
    /// Steps that passed, in order.
    pub passed: Vec<String>,
}

/// The per-host file: the seed's open values as `$NAME=value` parameters, then the include of
/// the parameterised seed config.
pub fn host_config(iface: &str, vip: &str, self_addr: &str, check: &str, include: &str) -> String {
    format!(
        "# Generated by the keepalived-rs seed story: the values the seed config leaves open.\n\
         $IFACE={iface}\n$VIP={vip}\n$SELF={self_addr}\n$CHECK={check}\ninclude {include}\n"
    )
}

/// The seed config with its script interval and advert_int made parameters too
/// (`${INTERVAL}`, `${ADVERT_INT}`), for runs with other timings than the seed's; an error if
/// the seed's lines are not there exactly once.
pub fn with_timing_params(seed: &str) -> Result<String> {
    let mut text = seed.to_string();
    for (from, to) in [
        ("    interval 60", "    interval ${INTERVAL}"),
        ("    advert_int 5\n", "    advert_int ${ADVERT_INT}\n"),
    ] {
        if text.matches(from).count() != 1 {
            bail!("`{}` is not in the seed config exactly once", from.trim());
        }
        text = text.replacen(from, to, 1);
    }
    Ok(text)
}

/// Master_Down_Interval of a backup of priority `prio`: 3 × advert_int + Skew_Time.
pub fn master_down(advert_int: u32, prio: u32) -> Duration {
    let adv = f64::from(advert_int);
    Duration::from_secs_f64(3.0 * adv + f64::from(256 - prio.min(255)) * adv / 256.0)
}

/// Skew_Time of priority `prio`: how soon a backup answers a priority-0 advert.
pub fn skew(advert_int: u32, prio: u32) -> Duration {
    Duration::from_secs_f64(f64::from(256 - prio.min(255)) * f64::from(advert_int) / 256.0)
}

/// Whether a syslog text is part of the story (state changes, the script, the VIP, start and
/// stop).
pub fn relevant(text: &str, vip: &str) -> bool {
    [
        "STATE",
        "FAULT state",
        "VRRP_Script",
        "Script `",
        " VIPs.",
        "priority",
        "Starting",
        "Stopping",
        "Stopped",
        "gratuitous ARPs",
    ]
    .iter()
    .any(|k| text.contains(k))
        || (text.contains("Netlink reflector") && text.contains(vip))
}

/// A MariaDB server of one host, with its own datadir, socket and pid file in the host's lab
/// directory; killed when dropped.
pub struct MariaDb<'a> {
    host: &'a Host,
    dir: PathBuf,
    server_id: u32,
    proc: Option<Proc>,
}

impl<'a> MariaDb<'a> {
    /// Creates the datadir (`mariadb-install-db`), never touching the machine's own.
    pub fn install(host: &'a Host, server_id: u32) -> Result<MariaDb<'a>> {
        let dir = host.dir().join("mysql");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let db = MariaDb {
            host,
            dir,
            server_id,
            proc: None,
        };
        let datadir = format!("--datadir={}", db.path("data")?);
        // Its own temporary directory: two servers bootstrapping at once in the shared /tmp
        // have been seen to remove each other's temporary tables.
        let tmpdir_path = db.path("tmp")?;
        fs::create_dir_all(&tmpdir_path).with_context(|| format!("creating {tmpdir_path}"))?;
        let tmpdir = format!("--tmpdir={tmpdir_path}");
        let out = host.run_timeout(
            "mariadb-install-db",
            &[
                "--no-defaults",
                &datadir,
                &tmpdir,
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            Duration::from_secs(120),
        )?;
        if !out.status.success() {
            bail!("mariadb-install-db: {}", show_output(&out));
        }
        Ok(db)
    }

    fn path(&self, name: &str) -> Result<String> {
        self.dir
            .join(name)
            .to_str()
            .map(str::to_string)
            .context("the lab directory is not UTF-8")
    }

    /// Starts `mariadbd` in the host's namespace on 0.0.0.0:3306 and waits (at most 60 s) for it
    /// to answer on its socket.
    pub fn start(&mut self) -> Result<()> {
        if self.proc.as_mut().is_some_and(Proc::is_running) {
            return Ok(());
        }
        let args = [
            "--no-defaults".to_string(),
            format!("--datadir={}", self.path("data")?),
            format!("--tmpdir={}", self.path("tmp")?),
            format!("--socket={}", self.path("mysql.sock")?),
            format!("--pid-file={}", self.path("mysql.pid")?),
            format!("--log-error={}", self.path("error.log")?),
            format!("--port={MYSQL_PORT}"),
            "--bind-address=0.0.0.0".to_string(),
            format!("--server-id={}", self.server_id),
            "--user=root".to_string(),
            "--skip-name-resolve".to_string(),
            "--innodb-buffer-pool-size=16M".to_string(),
            "--innodb-log-file-size=8M".to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = self.dir.join("console.log");
        self.proc = Some(self.host.spawn_logged("mariadbd", &args, &log)?);
        let sock = self.path("mysql.sock")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.host.run_timeout(
                "mariadb-admin",
                &["--no-defaults", "--socket", &sock, "ping"],
                Duration::from_secs(10),
            );
            if out.is_ok_and(|o| o.status.success()) {
                break;
            }
            if !self.proc.as_mut().is_some_and(Proc::is_running) {
                bail!("mariadbd exited: {}", self.error_log());
            }
            if Instant::now() >= deadline {
                bail!("mariadbd did not answer within 60 s: {}", self.error_log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.sql(&format!(
            "CREATE USER IF NOT EXISTS '{CLIENT_USER}'@'%' IDENTIFIED BY '{CLIENT_PASSWORD}'; \
             GRANT USAGE ON *.* TO '{CLIENT_USER}'@'%';"
        ))?;
        Ok(())
    }

    fn error_log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Runs SQL as root through the socket.
    pub fn sql(&self, sql: &str) -> Result<Output> {
        let sock = self.path("mysql.sock")?;
        let out = self.host.run_timeout(
            "mariadb",
            &["--no-defaults", "--socket", &sock, "-N", "-B", "-e", sql],
            Duration::from_secs(20),
        )?;
        if !out.status.success() {
            bail!("mariadb -e {sql:?}: {}", show_output(&out));
        }
        Ok(out)
    }

    /// Stops the server as `/etc/init.d/mysqld stop` would (SIGTERM, a clean shutdown), at most
    /// 60 s, then SIGKILL.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut proc) = self.proc.take() else {
            return Ok(());
        };
        let _ = proc.signal(Signal::Term);
        if proc.wait_timeout(Duration::from_secs(60))?.is_none() {
            proc.kill()?;
            bail!("mariadbd did not stop within 60 s of SIGTERM");
        }
        Ok(())
    }
}

/// One keepalived host of the story: its private root, its syslog sink and its MariaDB.
struct Node<'a> {
    name: &'static str,
    host: &'a Host,
    root: PrivateRoot<'a>,
    log: DevLog,
    db: MariaDb<'a>,
    daemon: Daemon,
    instance: &'static str,
    script: &'static str,
    prio: u32,
    _kill: KillDaemons,
}

impl Node<'_> {
    fn has_vip(&self, vip: &str) -> bool {
        self.host.has_address(vip).unwrap_or(false)
    }

    fn init(&self, verb: &str) -> Result<Duration> {
        let t = Instant::now();
        self.root
            .init(verb)?
            .check(0)
            .with_context(|| format!("host {}", self.name))?;
        Ok(t.elapsed())
    }

    fn line(&self, what: &str) -> String {
        self.daemon.state_line(self.instance, what)
    }
}

/// The running story: the lab, both nodes, the client, the clock.
struct Story<'a> {
    o: &'a Options,
    a: Node<'a>,
    b: Node<'a>,
    c: &'a Host,
    vip: String,
    start: Instant,
    outcome: Outcome,
}

impl Story<'_> {
    fn say(&self, text: &str) {
        self.o.narrator.say(text);
    }

    fn cancelled(&self) -> Result<()> {
        if self.o.cancel.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    }

    /// Polls `cond` every 100 ms for at most `timeout`; `Ok(Some(elapsed))` once it holds,
    /// `Ok(None)` at the timeout, an error on cancellation.
    fn wait(&self, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<Option<Duration>> {
        let t = Instant::now();
        loop {
            self.cancelled()?;
            if cond() {
                return Ok(Some(t.elapsed()));
            }
            if t.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Holds for `how_long` while `cond` keeps holding; an error naming `what` if it stops.
    fn hold(&self, how_long: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Result<()> {
        if let Some(after) = self.wait(how_long, || !cond())? {
            bail!("{what} stopped holding after {after:.1?}");
        }
        Ok(())
    }

    fn measure(&mut self, what: &str, took: Duration, bound: Duration) -> Result<()> {
        self.say(&format!(
            "measured: {what}: {:.1} s (bound {:.1} s)",
            took.as_secs_f64(),
            bound.as_secs_f64()
        ));
        self.outcome.measures.push(Measure {
            what: what.to_string(),
            took,
            bound,
        });
        if took > bound {
            bail!("{what} took {took:.1?}, more than {bound:.1?}");
        }
        Ok(())
    }

    fn passed(&mut self, step: &str) {
        self.say(&format!("ok: {step}"));
        self.outcome.passed.push(step.to_string());
    }

    /// Where the VIP is, as the story says it.
    fn holders(&self) -> String {
        let on: Vec<&str> = [&self.a, &self.b]
            .iter()
            .filter(|n| n.has_vip(&self.vip))
            .map(|n| n.name)
            .collect();
        match on[..] {
            [] => "nobody holds the VIP".to_string(),
            [one] => format!("the VIP is on {one}"),
            _ => format!("the VIP is on {} (!)", on.join(" and ")),
        }
    }

    /// `mysql -h VIP -e 'SELECT @@server_id'` from host C, once.
    fn client_once(&self) -> Option<u32> {
        let pass = format!("-p{CLIENT_PASSWORD}");
        let out = self
            .c
            .run_timeout(
                "mariadb",
                &[
                    "--no-defaults",
                    "-h",
                    &self.vip,
                    "-P",
                    "3306",
                    "-u",
                    CLIENT_USER,
                    &pass,
                    "--connect-timeout=2",
                    "-N",
                    "-B",
                    "-e",
                    "SELECT @@server_id",
                ],
                Duration::from_secs(8),
            )
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Waits (at most 20 s: ARP caches follow the gratuitous ARPs) for the client to read
    /// `expect` through the VIP.
    fn client_reads(&self, expect: u32) -> Result<()> {
        let mut last = None;
        let found = self.wait(Duration::from_secs(20), || {
            last = self.client_once();
            last == Some(expect)
        })?;
        match (found, last) {
            (Some(_), _) => {
                self.say(&format!(
                    "client C: mysql -h {} -e 'SELECT @@server_id' -> {expect} (host {})",
                    self.vip,
                    if expect == 23 { "A" } else { "B" }
                ));
                Ok(())
            }
            (None, Some(other)) => bail!("the client reads server_id {other}, not {expect}"),
            (None, None) => bail!("the client cannot reach MySQL through {}", self.vip),
        }
    }

    /// Waits for `needle` in `node`'s log from `since` on; an error naming the node otherwise.
    fn expect_log(
        &self,
        node: &Node<'_>,
        since: Duration,
        needle: &str,
        timeout: Duration,
    ) -> Result<LogLine> {
        let mut found = None;
        self.wait(timeout, || {
            found = node.log.find(since, needle);
            found.is_some()
        })?;
        found.with_context(|| {
            format!(
                "host {} ({}) did not log `{needle}` within {timeout:.0?}; its log:\n{}",
                node.name,
                node.daemon.label(),
                dump(&node.log)
            )
        })
    }
}

fn dump(log: &DevLog) -> String {
    let mut s = String::new();
    for l in log.lines() {
        let _ = writeln!(s, "  [{:7.1}] {}", l.at.as_secs_f64(), l.raw);
    }
    s
}

/// Runs the whole story; every wait is bounded by the protocol's arithmetic plus slack. The
/// lab, the daemons and the servers are gone when it returns (also on error or cancellation).
pub fn run(o: &Options) -> Result<Outcome> {
    let lab = Lab::with_subnet(&o.tag, &["a", "b", "c"], o.subnet).context("building the lab")?;
    let (ha, hb, hc) = (lab.host("a"), lab.host("b"), lab.host("c"));
    let vip = o.subnet.addr(100).to_string();
    o.narrator.say(&format!(
        "lab: A {} ({}), B {} ({}), client C {}, VIP {vip} on {}",
        ha.address(),
        o.a.label(),
        hb.address(),
        o.b.label(),
        hc.address(),
        o.subnet
    ));
    let (seed_a, seed_b) = if o.interval == SEED_INTERVAL && o.advert_int == SEED_ADVERT_INT {
        o.narrator.say(&format!(
            "timing: the seed's own, script interval {SEED_INTERVAL} s, advert_int {SEED_ADVERT_INT} s"
        ));
        (SEED_A.to_string(), SEED_B.to_string())
    } else {
        o.narrator.say(&format!(
            "timing: NOT the seed's: script interval {} s, advert_int {} s (the seed has {SEED_INTERVAL} and {SEED_ADVERT_INT})",
            o.interval, o.advert_int
        ));
        (with_timing_params(SEED_A)?, with_timing_params(SEED_B)?)
    };

    let node = |name: &'static str,
                host: &'static str,
                seed: &str,
                daemon: &Daemon,
                server_id: u32|
     -> Result<Node<'_>> {
        let h = lab.host(host);
        let narrator = o.narrator.clone();
        let sock = h.dir().join("devlog.sock");
        let log = DevLog::bind(
            &sock,
            Some(Box::new(move |l: &LogLine| narrator.log(name, l))),
        )?;
        let bin = daemon.binary.to_str().context("binary path is not UTF-8")?;
        let root = PrivateRoot::with_options(
            h,
            bin,
            &RootOptions {
                dev_log: Some(sock),
                lifetime: Duration::from_secs(3600),
            },
        )?;
        root.put("/etc/init.d/keepalived", INIT_SCRIPT.as_bytes(), "0755")?;
        root.put("/etc/sysconfig/keepalived", SYSCONFIG.as_bytes(), "0644")?;
        root.put(CHECK_PATH, CHECK_SCRIPT.as_bytes(), "0755")?;
        let seed_path = format!("/etc/keepalived/seed-{name}.conf");
        root.put(&seed_path, seed.as_bytes(), "0644")?;
        let mut conf = host_config(
            "eth0",
            &vip,
            &h.address().to_string(),
            CHECK_PATH,
            &seed_path,
        );
        if o.interval != SEED_INTERVAL || o.advert_int != SEED_ADVERT_INT {
            conf = format!(
                "$INTERVAL={}\n$ADVERT_INT={}\n{conf}",
                o.interval, o.advert_int
            );
        }
        root.put("/etc/keepalived/keepalived.conf", conf.as_bytes(), "0644")?;
        let db = MariaDb::install(h, server_id)?;
        let (instance, script, prio) = if name == "A" {
            ("VI_23", "vs_mysql_23", 100)
        } else {
            ("VI_22", "vs_mysql_22", 90)
        };
        Ok(Node {
            name,
            host: h,
            root,
            log,
            db,
            daemon: daemon.clone(),
            instance,
            script,
            prio,
            _kill: KillDaemons(h.netns().to_string()),
        })
    };
    let a = node("A", "a", &seed_a, &o.a, 23)?;
    let b = node("B", "b", &seed_b, &o.b, 22)?;
    let mut story = Story {
        o,
        a,
        b,
        c: hc,
        vip,
        start: Instant::now(),
        outcome: Outcome::default(),
    };
    let result = story.play(&lab);
    // Stop what still runs, politely first (a stop sends priority 0 and removes the VIP).
    for n in [&story.b, &story.a] {
        if !keepalived_pids(n.host.netns()).is_empty() {
            let _ = n.root.init("stop");
        }
    }
    for n in [&mut story.a, &mut story.b] {
        let _ = n.db.stop();
    }
    let took = story.start.elapsed();
    story.say(&format!(
        "the story took {:.0} s; cleaning up",
        took.as_secs_f64()
    ));
    result.map(|()| story.outcome)
}

impl Story<'_> {
    fn play(&mut self, lab: &Lab) -> Result<()> {
        let o = self.o;
        let adv = o.advert_int;
        let slack = Duration::from_secs(u64::from(adv) * 2 + 10);
        let script_bound = Duration::from_secs(u64::from(o.interval) + 15);
        let vip = self.vip.clone();

        // MySQL on both hosts.
        self.say("starting MariaDB on A (server_id 23) and B (server_id 22)");
        self.a.db.start().context("MariaDB on A")?;
        self.b.db.start().context("MariaDB on B")?;
        self.passed("both MariaDB servers answer");

        // 1. A first, then B: the VIP settles on the node started first.
        self.say("A# /etc/init.d/keepalived start");
        let t0 = self.a.log.now();
        let start_a = Instant::now();
        self.a.init("start")?;
        let ka = &self.a;
        self.expect_log(
            ka,
            t0,
            &format!("VRRP_Script({}) succeeded", ka.script),
            script_bound,
        )?;
        let bound = master_down(adv, ka.prio) + slack;
        self.wait(bound + script_bound, || self.a.has_vip(&vip))?
            .with_context(|| format!("A did not take the VIP; A's log:\n{}", dump(&self.a.log)))?;
        self.expect_log(&self.a, t0, &self.a.line("Entering MASTER STATE"), slack)?;
        self.say(&self.holders());
        self.measure(
            "A: start to VIP (first check + Master_Down_Interval)",
            start_a.elapsed(),
            bound + script_bound,
        )?;
        self.say("B# /etc/init.d/keepalived start");
        let t1 = self.b.log.now();
        self.b.init("start")?;
        self.expect_log(
            &self.b,
            t1,
            &self.b.line("Entering BACKUP STATE"),
            script_bound,
        )?;
        let hold = master_down(adv, self.b.prio) + Duration::from_secs(2);
        self.say(&format!(
            "watching for {:.0} s (B's Master_Down_Interval + 2 s) that B stays BACKUP",
            hold.as_secs_f64()
        ));
        self.hold(hold, "the VIP on A alone", || {
            self.a.has_vip(&vip) && !self.b.has_vip(&vip)
        })?;
        self.say(&self.holders());
        self.client_reads(23)?;
        self.passed("1. the VIP settles on A, started first; B is BACKUP; the client reads 23");

        // 2. MySQL stops on A: A FAULT, B MASTER, the client reaches B.
        self.say("A# /etc/init.d/mysqld stop   (SIGTERM to mariadbd)");
        let ta = self.a.log.now();
        let tb = self.b.log.now();
        let stop_at = Instant::now();
        self.a.db.stop().context("stopping MariaDB on A")?;
        let script_a = self.a.script;
        self.expect_log(
            &self.a,
            ta,
            &format!("VRRP_Script({script_a}) failed"),
            script_bound,
        )?;
        let detect = stop_at.elapsed();
        self.measure(
            "A: MySQL stopped to check failed (script interval)",
            detect,
            script_bound,
        )?;
        self.expect_log(&self.a, ta, &self.a.line("Entering FAULT STATE"), slack)?;
        if self.a.daemon.ours {
            for what in ["removing VIPs.", "Now in FAULT state"] {
                self.expect_log(&self.a, ta, &self.a.line(what), slack)?;
            }
        }
        let bound = master_down(adv, self.b.prio) + slack;
        let took = self
            .wait(bound, || self.b.has_vip(&vip) && !self.a.has_vip(&vip))?
            .with_context(|| {
                format!(
                    "B did not take the VIP over from A; B's log:\n{}",
                    dump(&self.b.log)
                )
            })?;
        for what in [
            "Transition to MASTER STATE",
            "Entering MASTER STATE",
            "setting VIPs.",
        ] {
            if self.b.daemon.ours || what == "Entering MASTER STATE" {
                self.expect_log(&self.b, tb, &self.b.line(what), slack)?;
            }
        }
        if self.b.daemon.ours {
            self.expect_log(
                &self.b,
                tb,
                &self
                    .b
                    .line(&format!("Sending gratuitous ARPs on eth0 for {vip}")),
                slack,
            )?;
        }
        self.say(&self.holders());
        self.client_reads(22)?;
        self.measure("failover: A in FAULT to VIP on B", took, bound)?;
        self.measure(
            "failover seen by the client: MySQL stopped on A to client reading B",
            stop_at.elapsed(),
            script_bound + bound + Duration::from_secs(20),
        )?;
        self.passed(
            "2. MySQL down on A: A FAULT, B MASTER with the seed's log lines, the client reads 22",
        );

        // 3. MySQL back on A: A BACKUP, the VIP stays on B (nopreempt).
        self.say("A# /etc/init.d/mysqld start");
        let ta = self.a.log.now();
        self.a.db.start().context("restarting MariaDB on A")?;
        let back = Instant::now();
        self.expect_log(
            &self.a,
            ta,
            &format!("VRRP_Script({script_a}) succeeded"),
            script_bound,
        )?;
        self.expect_log(&self.a, ta, &self.a.line("Entering BACKUP STATE"), slack)?;
        self.measure(
            "A: MySQL back to check succeeded",
            back.elapsed(),
            script_bound,
        )?;
        let hold = master_down(adv, self.a.prio) + Duration::from_secs(2);
        self.say(&format!(
            "watching for {:.0} s (A's Master_Down_Interval + 2 s): nopreempt keeps A in BACKUP",
            hold.as_secs_f64()
        ));
        self.hold(hold, "the VIP on B alone", || {
            self.b.has_vip(&vip) && !self.a.has_vip(&vip)
        })?;
        if let Some(l) = self.a.log.find(ta, &self.a.line("Entering MASTER STATE")) {
            bail!("A became MASTER despite nopreempt: {}", l.raw);
        }
        self.say(&self.holders());
        self.client_reads(22)?;
        self.passed("3. MySQL back on A: A BACKUP, the VIP stays on B (nopreempt)");

        // 4. kill -9 of every keepalived process on B.
        let pids = keepalived_pids(self.b.host.netns());
        self.say(&format!("B# kill -9 {}", join_pids(&pids)));
        if pids.is_empty() {
            bail!("no keepalived process runs on B");
        }
        // Freeze them all first, so none of them can clean up before the SIGKILL reaches it.
        for pid in &pids {
            let _ = signal(*pid, Signal::Stop);
        }
        for pid in &pids {
            let _ = signal(*pid, Signal::Kill);
        }
        let killed = Instant::now();
        if self
            .wait(Duration::from_secs(5), || {
                keepalived_pids(self.b.host.netns()).is_empty()
            })?
            .is_none()
        {
            bail!(
                "keepalived processes left on B after kill -9: {:?}",
                keepalived_pids(self.b.host.netns())
            );
        }
        let ta = self.a.log.now();
        let bound = master_down(adv, self.a.prio) + slack;
        let took = self
            .wait(bound, || self.a.has_vip(&vip))?
            .with_context(|| format!("A did not take the VIP; A's log:\n{}", dump(&self.a.log)))?;
        self.expect_log(&self.a, ta, &self.a.line("Entering MASTER STATE"), slack)?;
        self.measure(
            "kill -9 on B to VIP on A (Master_Down_Interval)",
            killed.elapsed().max(took),
            bound,
        )?;
        let stale = self.b.has_vip(&vip);
        self.say(&format!(
            "{}; B {} a stale copy of the VIP (nothing ran there to remove it)",
            self.holders(),
            if stale { "keeps" } else { "has no" }
        ));
        self.client_reads(23)?;
        self.say("B# /etc/init.d/keepalived start   (over the stale pid file)");
        let tb = self.b.log.now();
        self.b.init("start")?;
        self.expect_log(
            &self.b,
            tb,
            &self.b.line("Entering BACKUP STATE"),
            script_bound,
        )?;
        if self.wait(slack, || !self.b.has_vip(&vip))?.is_none() {
            bail!("B still holds a copy of the VIP after its daemon started again");
        }
        self.hold(
            master_down(adv, self.b.prio) + Duration::from_secs(2),
            "the VIP on A alone",
            || self.a.has_vip(&vip) && !self.b.has_vip(&vip),
        )?;
        self.say(&self.holders());
        self.client_reads(23)?;
        self.passed("4. kill -9 on B: A takes the VIP; B's restart leaves no copy on B");

        // 5. /etc/init.d/keepalived stop on the master (A): priority 0, B takes over at once.
        let mut capture = if o.capture {
            Some(lab.capture_bridge_filter("ip proto 112")?)
        } else {
            None
        };
        self.say("A# /etc/init.d/keepalived stop");
        let tb = self.b.log.now();
        let stop_at = Instant::now();
        self.a.init("stop")?;
        let bound = skew(adv, self.b.prio) + Duration::from_secs(u64::from(adv)) + slack;
        let took = self
            .wait(bound, || self.b.has_vip(&vip) && !self.a.has_vip(&vip))?
            .with_context(|| format!("B did not take the VIP; B's log:\n{}", dump(&self.b.log)))?;
        let handover = stop_at.elapsed().max(took);
        self.expect_log(&self.b, tb, &self.b.line("Entering MASTER STATE"), slack)?;
        self.measure("stop on A to VIP on B", handover, bound)?;
        let md = master_down(adv, self.b.prio);
        if handover >= md {
            bail!(
                "the handover took {handover:.1?}, not less than B's Master_Down_Interval {md:.1?}: no priority-0 advert?"
            );
        }
        if let Some(cap) = capture.as_mut() {
            cap.stop()?;
            let frames = cap.frames()?;
            let a_addr = self.a.host.address();
            let zero = adverts(&frames)
                .into_iter()
                .any(|ad| ad.src == a_addr && ad.vrid == 23 && ad.priority == 0);
            if !zero {
                bail!("no priority-0 advert from A ({a_addr}) in the capture");
            }
            self.say(&format!(
                "capture: A ({a_addr}) sent a priority-0 advert for VRID 23"
            ));
        }
        if !keepalived_pids(self.a.host.netns()).is_empty() {
            bail!("keepalived processes left on A after stop");
        }
        self.say(&self.holders());
        self.client_reads(22)?;
        self.passed("5. stop on the master A: priority-0 advert, B takes over within Skew_Time");
        Ok(())
    }
}

fn join_pids(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The keepalived binary next to `exe` (the demo's own executable): `target/<profile>/keepalived`.
pub fn sibling_binary(exe: &Path) -> Option<PathBuf> {
    let p = exe.parent()?.join("keepalived");
    p.is_file().then_some(p)
}
