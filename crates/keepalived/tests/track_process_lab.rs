//! `vrrp_track_process` in a lab (root only): a uniquely named process started and killed
//! moves the VIP, for our daemon and keepalived 2.2.7, on both paths the kernel offers.
//!
//! Two routers: `a` (priority 150, tracks the process `tp`, weight 0 unless said) and `b`
//! (priority 100, tracks nothing), VRID 61, VIP 198.51.100.61/32. The tracked process is a
//! copy of /bin/sleep under a name made of the test's pid and a counter (its `comm`), started
//! and killed by the test; processes are host-wide, so it runs outside any namespace.
//!
//! - **/proc fallback** (both routers in lab namespaces): the kernel's process connector
//!   refuses sockets outside the initial network namespace. keepalived 2.2.7 then logs
//!   `Failed to set/clear process event listen - errno 111 - Connection refused` and its
//!   instance stays in FAULT for good (`entering FAULT state (tracked process tp quorum not
//!   achieved)`), process or not; ours logs the same line, says it scans /proc instead, and
//!   follows the process: killed, `a` leaves (`Quorum lost for tracked process tp`) and `b`
//!   takes the VIP; started again, `a` takes it back.
//! - **connector** (`a` in the machine's initial network namespace, entered with `nsenter`
//!   from the lab; its interface is one end of a veth pair whose other end is in `b`'s
//!   namespace, 203.0.113.0/24, so every packet stays on that pair): both daemons log
//!   `proc_events has confirmed it is configured` and the kill moves the VIP to `b`.
//!
//! Run: `cargo test -p keepalived --test track_process_lab` (as root; each test returns early
//! otherwise).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keepalived_testlab::prelude::Daemon::{self, Ours, Real};
use keepalived_testlab::prelude::{daemon_log, lab_ready};
use keepalived_testlab::{Host, KEEPALIVED_BIN, Keepalived, Lab, VrrpInstance, poll_until, run_ok};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const VIP: &str = "198.51.100.61";
const VIP_CIDR: &str = "198.51.100.61/32";
const VRID: u8 = 61;
/// From start to MASTER: Master_Down_Interval (3.41 s at priority 150) with room for a loaded
/// machine.
const TO_MASTER: Duration = Duration::from_secs(15);
/// From the kill to the VIP on `b`: detection, then `b`'s Master_Down_Interval (3.61 s) after
/// the priority-0 advert (at once when `a` sends it).
const TO_MOVE: Duration = Duration::from_secs(10);
/// How long 2.2.7 is watched to show it does not take the VIP.
const NEVER: Duration = Duration::from_secs(6);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A uniquely named copy of /bin/sleep, killed when dropped.
struct Tracked {
    path: PathBuf,
    child: Option<Child>,
}

impl Tracked {
    /// Copies /bin/sleep into `dir` under a name unique to this test run (at most 15 bytes, so
    /// it is the whole `comm`).
    fn new(dir: &Path) -> Tracked {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("tp{}x{n}", std::process::id() % 100_000);
        let path = dir.join(&name);
        std::fs::copy("/bin/sleep", &path).expect("copying /bin/sleep");
        Tracked { path, child: None }
    }

    /// Its process name.
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn start(&mut self) {
        self.kill();
        let child = Command::new(&self.path)
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the tracked process");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `a`'s configuration: VI_1 on `interface`, priority 150, tracking `process` with `weight`.
fn config_a(interface: &str, process: &str, weight: i32) -> String {
    let mut inst =
        VrrpInstance::new(VRID, 150, &[VIP_CIDR]).extra("track_process {\n        tp\n    }");
    inst.interface = interface.to_string();
    let text = inst.render("a");
    let block =
        format!("\nvrrp_track_process tp {{\n    process {process}\n    weight {weight}\n}}\n");
    match text.find("\nvrrp_instance") {
        Some(at) => format!("{}{block}{}", &text[..at], &text[at..]),
        None => panic!("no vrrp_instance in:\n{text}"),
    }
}

/// `b`'s configuration: VI_1 on `interface`, priority 100.
fn config_b(interface: &str) -> String {
    let mut inst = VrrpInstance::new(VRID, 100, &[VIP_CIDR]);
    inst.interface = interface.to_string();
    inst.render("b")
}

/// Starts `daemon` on `host` (through `wrapper`, if any), ours with a control socket of its own.
fn start(daemon: Daemon, host: &Host, wrapper: &[&str], config: &str) -> Keepalived {
    let socket = host.dir().join(format!(
        "ctl-{}.sock",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let socket = socket.to_string_lossy().into_owned();
    let (binary, extra): (&str, Vec<&str>) = match daemon {
        Ours => (OURS, vec!["--control-socket", &socket]),
        Real => (KEEPALIVED_BIN, Vec::new()),
    };
    Keepalived::start_wrapped(host, wrapper, Path::new(binary), config, &extra)
        .unwrap_or_else(|e| panic!("starting {daemon:?}: {e:#}"))
}

fn wait_log(k: &Keepalived, needle: &str, timeout: Duration) {
    assert!(
        k.wait_for_log(needle, timeout),
        "no `{needle}` within {timeout:?}:\n{}",
        daemon_log(k)
    );
}

/// Whether `ifname` of the initial network namespace holds the VIP.
fn init_ns_has_vip(ifname: &str) -> bool {
    Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", ifname])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{VIP}/")))
        .unwrap_or(false)
}

// ---- /proc fallback, both routers in namespaces -------------------------------------------

/// Ours on `a` (in a namespace), keepalived 2.2.7 on `b`: the kill moves the VIP to `b`, the
/// restart brings it back; ours says why it scans /proc.
#[test]
fn proc_fallback_moves_the_vip_ours() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("tpfb", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut tracked = Tracked::new(a.dir());
    tracked.start();
    let ka = start(Ours, a, &[], &config_a("eth0", &tracked.name(), 0));
    assert!(
        a.wait_for_address(VIP, true, TO_MASTER),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let kb = start(Real, b, &[], &config_b("eth0"));
    wait_log(
        &ka,
        "Failed to set/clear process event listen - errno 111 - Connection refused",
        Duration::from_secs(1),
    );
    wait_log(&ka, "scanning /proc every 200 ms", Duration::from_secs(1));
    wait_log(&kb, "(VI_1) Entering BACKUP STATE", TO_MASTER);
    tracked.kill();
    wait_log(
        &ka,
        "Quorum lost for tracked process tp",
        Duration::from_secs(2),
    );
    assert!(
        b.wait_for_address(VIP, true, TO_MOVE),
        "b did not take the VIP:\n{}",
        daemon_log(&kb)
    );
    assert!(
        a.wait_for_address(VIP, false, Duration::from_secs(2)),
        "a kept the VIP:\n{}",
        daemon_log(&ka)
    );
    wait_log(&ka, "(VI_1) Entering FAULT STATE", Duration::from_secs(2));
    tracked.start();
    wait_log(
        &ka,
        "Quorum gained for tracked process tp",
        Duration::from_secs(2),
    );
    assert!(
        a.wait_for_address(VIP, true, TO_MASTER),
        "a did not take the VIP back:\n{}",
        daemon_log(&ka)
    );
    assert!(
        b.wait_for_address(VIP, false, Duration::from_secs(3)),
        "b kept the VIP:\n{}",
        daemon_log(&kb)
    );
}

/// A weighted process lowers the priority instead: 150 - 60 = 90 < 100, so `b` (2.2.7) takes
/// over and `a` (ours) goes to BACKUP, not FAULT.
#[test]
fn proc_fallback_weight_lowers_the_priority_ours() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("tpwt", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut tracked = Tracked::new(a.dir());
    tracked.start();
    let ka = start(Ours, a, &[], &config_a("eth0", &tracked.name(), -60));
    assert!(
        a.wait_for_address(VIP, true, TO_MASTER),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let kb = start(Real, b, &[], &config_b("eth0"));
    wait_log(&kb, "(VI_1) Entering BACKUP STATE", TO_MASTER);
    tracked.kill();
    wait_log(
        &ka,
        "Quorum lost for tracked process tp",
        Duration::from_secs(2),
    );
    assert!(
        b.wait_for_address(VIP, true, TO_MOVE),
        "b did not take the VIP:\n{}",
        daemon_log(&kb)
    );
    wait_log(&ka, "(VI_1) Entering BACKUP STATE", Duration::from_secs(3));
    let text = daemon_log(&ka);
    assert!(
        !text.contains("FAULT"),
        "a weighted process must not fault:\n{text}"
    );
}

/// keepalived 2.2.7 on `a` in a namespace: errno 111, FAULT for good although the process
/// runs; `b` (ours) is master.
#[test]
fn proc_events_refused_keepalived_stays_in_fault() {
    if !lab_ready() || !keepalived_testlab::require_programs(&[KEEPALIVED_BIN]) {
        return;
    }
    let lab = Lab::new("tpkf", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let mut tracked = Tracked::new(a.dir());
    tracked.start();
    let ka = start(Real, a, &[], &config_a("eth0", &tracked.name(), 0));
    let kb = start(Ours, b, &[], &config_b("eth0"));
    wait_log(
        &ka,
        "Failed to set/clear process event listen - errno 111 - Connection refused",
        Duration::from_secs(5),
    );
    wait_log(
        &ka,
        "(VI_1) entering FAULT state (tracked process tp quorum not achieved)",
        Duration::from_secs(5),
    );
    assert!(
        b.wait_for_address(VIP, true, TO_MASTER),
        "b did not become master:\n{}",
        daemon_log(&kb)
    );
    assert!(
        !poll_until(NEVER, || a.has_address(VIP).unwrap_or(false)),
        "2.2.7 took the VIP in a namespace:\n{}",
        daemon_log(&ka)
    );
}

// ---- the connector, `a` in the initial network namespace ----------------------------------

/// A veth pair between the initial namespace (`outer`, 203.0.113.1/24) and `b`'s namespace
/// (`tpv0`, 203.0.113.2/24). Deleting `b`'s namespace removes both ends; the drop deletes the
/// outer one anyway.
struct Pair {
    outer: String,
}

impl Pair {
    fn new(b: &Host) -> Pair {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let outer = format!("tpi{}x{n}", std::process::id() % 100_000);
        run_ok(
            "ip",
            &[
                "link",
                "add",
                &outer,
                "type",
                "veth",
                "peer",
                "name",
                "tpv0",
                "netns",
                b.netns(),
            ],
        )
        .expect("veth pair");
        let pair = Pair { outer };
        run_ok("ip", &["addr", "add", "203.0.113.1/24", "dev", &pair.outer])
            .expect("outer address");
        run_ok("ip", &["link", "set", &pair.outer, "up"]).expect("outer up");
        b.run("ip", &["addr", "add", "203.0.113.2/24", "dev", "tpv0"])
            .expect("inner address");
        b.run("ip", &["link", "set", "tpv0", "up"])
            .expect("inner up");
        pair
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer])
            .status();
    }
}

/// `daemon` on `a` in the initial namespace, the other one on `b`: both wait for the
/// connector's confirmation; the kill moves the VIP to `b`.
fn connector_scenario(tag: &str, daemon: Daemon) {
    if !lab_ready() || !keepalived_testlab::require_programs(&[KEEPALIVED_BIN, "nsenter"]) {
        return;
    }
    let lab = Lab::new(tag, &["b"]).expect("lab");
    let b = lab.host("b");
    let pair = Pair::new(b);
    let mut tracked = Tracked::new(b.dir());
    tracked.start();
    // From the lab namespace back into the test's own network and mount namespaces.
    let me = std::process::id();
    let net = format!("--net=/proc/{me}/ns/net");
    let mnt = format!("--mount=/proc/{me}/ns/mnt");
    let wrapper = ["nsenter", net.as_str(), mnt.as_str(), "--"];
    let other = if daemon == Ours { Real } else { Ours };
    let ka = start(
        daemon,
        b,
        &wrapper,
        &config_a(&pair.outer, &tracked.name(), 0),
    );
    wait_log(
        &ka,
        "proc_events has confirmed it is configured",
        Duration::from_secs(5),
    );
    assert!(
        poll_until(TO_MASTER, || init_ns_has_vip(&pair.outer)),
        "a did not become master:\n{}",
        daemon_log(&ka)
    );
    let kb = start(other, b, &[], &config_b("tpv0"));
    wait_log(&kb, "(VI_1) Entering BACKUP STATE", TO_MASTER);
    tracked.kill();
    wait_log(
        &ka,
        "Quorum lost for tracked process tp",
        Duration::from_secs(2),
    );
    assert!(
        b.wait_for_address(VIP, true, TO_MOVE),
        "b did not take the VIP:\n{}",
        daemon_log(&kb)
    );
    assert!(
        poll_until(Duration::from_secs(2), || !init_ns_has_vip(&pair.outer)),
        "a kept the VIP:\n{}",
        daemon_log(&ka)
    );
    let text = daemon_log(&ka);
    assert!(
        !text.contains("scanning /proc"),
        "the connector was not used:\n{text}"
    );
    drop(ka);
    drop(kb);
}

#[test]
fn connector_moves_the_vip_ours() {
    connector_scenario("tpco", Ours);
}

#[test]
fn connector_moves_the_vip_keepalived() {
    connector_scenario("tpck", Real);
}
