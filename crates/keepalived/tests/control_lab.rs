//! The control socket, keepalivedctl and the metrics of a running daemon (root only), in
//! namespace labs of two hosts on a bridge: a (priority 150, preferred master) and b (100).
//!
//! - `control_socket_status_drain_reload_and_metrics`: ours on both hosts. The socket is
//!   root-only (mode 0600); `status`, `status --json`, `show`, `dump` report the model; bad
//!   requests (not JSON, unknown commands, unknown instances, missing fields, oversized lines)
//!   are refused with a clear error and change nothing; `drain VI_1` moves the VIP to b and
//!   keeps a BACKUP, also across a reload; a reload of a broken file is refused and not
//!   applied; `undrain` brings the VIP back; the metrics (scraped over HTTP inside the
//!   namespace) follow, in a strictly checked Prometheus text format.
//! - `drain_hands_over_to_keepalived_2_2_7`: ours on a, keepalived 2.2.7 on b: drain and
//!   undrain move the VIP both ways, and b logs the priority-0 advert it got.
//! - `prometheus_scrapes_the_daemon`: Debian's prometheus scrapes ours in the namespace; its
//!   HTTP API answers `keepalived_vrrp_state` and `keepalived_up` (skipped, saying so, when
//!   /usr/bin/prometheus is missing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use keepalived_testlab::prelude::*;

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const CTL: &str = env!("CARGO_BIN_EXE_keepalivedctl");
const VIP: &str = "192.0.2.100";
const METRICS_PORT: u16 = 9650;
/// Election from start, or a takeover, with room for a loaded machine.
const ELECTION: Duration = Duration::from_secs(10);

fn instance(priority: u8) -> VrrpInstance {
    VrrpInstance::new(51, priority, &["192.0.2.100/32"]).auth_pass("secret12")
}

/// Ours on `host` with its socket in the host's directory and metrics on its address.
fn start_ours(host: &Host, priority: u8) -> (Keepalived, PathBuf, SocketAddr) {
    let socket = host.dir().join("ctl.sock");
    let metrics = SocketAddr::new(host.address().into(), METRICS_PORT);
    let socket_s = socket.to_string_lossy().into_owned();
    let metrics_s = metrics.to_string();
    let k = Keepalived::start_with(
        host,
        Path::new(OURS),
        &instance(priority).render(host.name()),
        &[
            "--control-socket",
            &socket_s,
            "--metrics-listen",
            &metrics_s,
        ],
    )
    .unwrap_or_else(|e| panic!("starting ours on {}: {e:#}", host.name()));
    (k, socket, metrics)
}

fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(CTL)
        .arg("--control-socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("keepalivedctl runs")
}

/// keepalivedctl's stdout, asserting it succeeded.
fn ctl_ok(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert!(
        out.status.success(),
        "keepalivedctl {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One raw request line on the socket; the answer line.
fn raw(socket: &Path, line: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(line).expect("write");
    stream.write_all(b"\n").expect("write");
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .expect("an answer");
    answer
}

fn status_json(socket: &Path) -> serde_json::Value {
    serde_json::from_str(&ctl_ok(socket, &["status", "--json"])).expect("status --json is JSON")
}

/// The state of VI_1 as `status --json` says.
fn state_of(socket: &Path) -> (String, bool) {
    let s = status_json(socket);
    let i = &s["instances"][0];
    (
        i["state"].as_str().unwrap_or_default().to_string(),
        i["drained"].as_bool().unwrap_or_default(),
    )
}

/// `GET path` over HTTP/1.1 from inside `host`'s namespace: (status line, body).
fn http_get(host: &Host, addr: SocketAddr, path: &str) -> (String, String) {
    let path = path.to_string();
    host.in_netns(move || {
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("response");
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.lines().next().unwrap_or_default().to_string();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    })
    .expect("in the namespace")
}

/// The body of a chunked transfer.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    for _ in 0..100_000 {
        let Some((size, rest)) = body.split_once("\r\n") else {
            break;
        };
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Checks Prometheus text format 0.0.4 strictly: every sample belongs to the family its
/// `# TYPE` line announced (once, before it), names and label sets are well formed, values
/// parse; returns the samples as (series, value).
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed = std::collections::HashSet::new();
    let mut family = String::new();
    let mut samples = Vec::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(name_ok(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "typed twice: {line}");
            family = name.to_string();
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, Some(l)),
            None => (series, None),
        };
        let histogram_part = ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.strip_suffix(s) == Some(family.as_str()));
        assert!(
            name == family || histogram_part,
            "sample outside its family: {line}"
        );
        if let Some(labels) = labels {
            let inner = labels.strip_suffix('}').expect("labels end with }");
            // label="value" pairs, values escaped.
            let mut rest = inner;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"").expect("key=\"");
                assert!(name_ok(key), "label name {key}: {line}");
                let mut end = None;
                let mut escaped = false;
                for (i, c) in after.char_indices() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.expect("closing quote");
                rest = after[end + 1..]
                    .strip_prefix(',')
                    .unwrap_or(&after[end + 1..]);
            }
        }
        samples.push((series.to_string(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> Option<f64> {
    samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
}

fn scrape(host: &Host, addr: SocketAddr) -> Vec<(String, f64)> {
    let (status, body) = http_get(host, addr, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    parse_exposition(&body)
}

/// keepalivedctl run as nobody: the socket's mode keeps it out (exit 2), and with the mode
/// opened the daemon still refuses it (exit 1, "root only").
fn refuses_other_users(lab: &Lab, socket: &Path) {
    let copy = lab.dir().join("keepalivedctl");
    std::fs::copy(CTL, &copy).expect("copy keepalivedctl");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let as_nobody = || {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy)
            .arg("--control-socket")
            .arg(socket)
            .arg("status")
            .output()
            .expect("setpriv runs")
    };
    let out = as_nobody();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ermission denied"),
        "{out:?}"
    );
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = as_nobody();
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("root only"),
        "{out:?}"
    );
}

const LABELS: &str = "{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"";

#[test]
fn control_socket_status_drain_reload_and_metrics() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("ctl", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (ka, sa, ma) = start_ours(a, 150);
    let (kb, sb, _) = start_ours(b, 100);
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "{}",
        ka.log().unwrap_or_default()
    );
    assert!(
        poll_until(ELECTION, || sa.exists() && sb.exists()),
        "sockets"
    );
    let mode = std::fs::metadata(&sa).expect("socket").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    refuses_other_users(&lab, &sa);

    // Status, as a table and as JSON.
    let table = ctl_ok(&sa, &["status"]);
    let first = table.lines().nth(1).unwrap_or_default();
    assert!(
        first.starts_with("VI_1") && first.contains("MASTER") && first.contains(VIP),
        "{table}"
    );
    assert!(poll_until(ELECTION, || state_of(&sb).0 == "BACKUP"));
    let sj = status_json(&sb);
    assert_eq!(
        sj["instances"][0]["master"]["address"],
        a.address().to_string()
    );
    assert_eq!(sj["instances"][0]["master"]["priority"], 150);
    let shown = ctl_ok(&sa, &["show", "VI_1", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("show --json");
    assert_eq!(shown["base_priority"], 150);
    assert!(shown["stats"]["advert_sent"].as_u64().unwrap_or(0) > 0);
    assert!(ctl_ok(&sa, &["show", "VI_1"]).contains("effective priority"));
    let dump = ctl_ok(&sa, &["dump"]);
    assert!(
        dump.contains("VRRP Instance = VI_1") && dump.contains("VRRP Instance: VI_1"),
        "{dump}"
    );
    let dump_json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&sa, &["dump", "--json"])).expect("dump --json");
    assert_eq!(dump_json[0]["data"]["iname"], "VI_1");
    // The password is masked in the JSON dump (keepalived 2.4), kept in the .data dump (2.2.7).
    assert_eq!(dump_json[0]["data"]["auth_data"], "********");
    assert!(dump.contains("Password = secret12"), "{dump}");

    // Bad requests: a clear error each, nothing changes.
    for (line, expected) in [
        (&b"not json"[..], "not JSON"),
        (b"{\"command\":\"explode\"}", "unknown command"),
        (b"{\"command\":\"drain\"}", "needs \"instance\""),
        (
            b"{\"command\":\"drain\",\"instance\":\"VI_9\"}",
            "no instance named \"VI_9\"",
        ),
        (b"{\"command\":\"status\",\"extra\":1}", "unexpected field"),
        (&[0xff, 0xfe][..], "UTF-8"),
    ] {
        let answer = raw(&sa, line);
        let v: serde_json::Value = serde_json::from_str(&answer).expect("answer is JSON");
        assert_eq!(v["ok"], false, "{answer}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(expected),
            "{answer}"
        );
    }
    let long = vec![b'x'; 10_000];
    assert!(raw(&sa, &long).contains("longer than"));
    let out = ctl(&sa, &["drain", "VI_9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no instance named \"VI_9\""));
    let out = ctl(&sa, &["show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let out = ctl(&lab.dir().join("no-such.sock"), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        state_of(&sa),
        ("MASTER".to_string(), false),
        "bad requests changed nothing"
    );
    assert!(a.has_address(VIP).unwrap_or(false));

    // Metrics while a is master.
    let m = scrape(a, ma);
    assert_eq!(sample(&m, "keepalived_up"), Some(1.0));
    let state = format!("keepalived_vrrp_state{LABELS},ip_address=\"{VIP}\"}}");
    assert_eq!(sample(&m, &state), Some(2.0));
    assert!(
        sample(
            &m,
            &format!("keepalived_advertisements_sent_total{LABELS}}}")
        ) > Some(0.0)
    );
    assert_eq!(
        sample(&m, &format!("keepalived_rs_instance_drained{LABELS}}}")),
        Some(0.0)
    );
    assert_eq!(sample(&m, "keepalived_rs_instances_drained"), Some(0.0));
    // b hears a's adverts steadily: jitter samples, all well under a second, no near failover.
    let jitter_count = format!("keepalived_rs_advert_jitter_seconds_count{LABELS}}}");
    let mut mb = Vec::new();
    let heard = poll_until(Duration::from_secs(5), || {
        mb = scrape(b, SocketAddr::new(b.address().into(), METRICS_PORT));
        sample(&mb, &jitter_count) > Some(0.0)
    });
    assert!(heard, "{mb:?}");
    let count = sample(&mb, &jitter_count);
    let inf = format!("keepalived_rs_advert_jitter_seconds_bucket{LABELS},le=\"+Inf\"}}");
    let one = format!("keepalived_rs_advert_jitter_seconds_bucket{LABELS},le=\"1\"}}");
    assert_eq!(sample(&mb, &inf), count);
    assert_eq!(sample(&mb, &one), count);
    assert_eq!(
        sample(
            &mb,
            &format!("keepalived_rs_near_failovers_total{LABELS}}}")
        ),
        Some(0.0)
    );
    let (status, _) = http_get(a, ma, "/nope");
    assert!(status.contains(" 404 "), "{status}");

    // Drain a: the VIP moves to b, a stays backup.
    assert!(ctl_ok(&sa, &["drain", "VI_1"]).contains("drained: VI_1"));
    assert!(
        b.wait_for_address(VIP, true, ELECTION),
        "{}",
        kb.log().unwrap_or_default()
    );
    assert!(a.wait_for_address(VIP, false, Duration::from_secs(3)));
    assert_eq!(state_of(&sa), ("BACKUP".to_string(), true));
    assert!(
        ctl_ok(&sa, &["status"])
            .lines()
            .nth(1)
            .unwrap_or_default()
            .ends_with("drained")
    );
    let m = scrape(a, ma);
    assert_eq!(sample(&m, &state), Some(1.0));
    assert_eq!(sample(&m, "keepalived_rs_instances_drained"), Some(1.0));
    assert_eq!(
        sample(
            &m,
            &format!("keepalived_priority_zero_sent_total{LABELS}}}")
        ),
        Some(1.0)
    );
    let drained =
        format!("keepalived_rs_transitions_total{LABELS},state=\"BACKUP\",cause=\"drain\"}}");
    assert_eq!(sample(&m, &drained), Some(1.0));

    // A broken file is refused and not applied.
    let config = ka.config_path().to_path_buf();
    let good = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, "vrrp_instance VI_1 {\n  priority\n").expect("write");
    let out = ctl(&sa, &["reload"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used"),
        "{out:?}"
    );
    assert!(!ka.log().unwrap_or_default().contains("Reloading"));
    // A good one is applied, and the drain holds across it, also for an instance the reload
    // changes (a new priority: the engine's instance is replaced).
    assert!(good.contains("priority 150"), "{good}");
    std::fs::write(&config, good.replace("priority 150", "priority 160")).expect("write");
    assert!(ctl_ok(&sa, &["reload"]).contains("applied"));
    assert!(ka.wait_for_log("Reloading", Duration::from_secs(10)));
    assert!(
        poll_until(Duration::from_secs(10), || status_json(&sa)["instances"][0]
            ["base_priority"]
            == 160),
        "{}",
        ka.log().unwrap_or_default()
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(state_of(&sa), ("BACKUP".to_string(), true));
    assert!(b.has_address(VIP).unwrap_or(false) && !a.has_address(VIP).unwrap_or(true));

    // Undrain: a preempts again.
    assert!(ctl_ok(&sa, &["undrain", "--all"]).contains("undrained: VI_1"));
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "{}",
        ka.log().unwrap_or_default()
    );
    assert!(b.wait_for_address(VIP, false, Duration::from_secs(3)));
    assert_eq!(state_of(&sa), ("MASTER".to_string(), false));
    drop((ka, kb));
}

#[test]
fn drain_hands_over_to_keepalived_2_2_7() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("ctlreal", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let (ka, sa, _) = start_ours(a, 150);
    let kb = Keepalived::start(b, &instance(100).render("b")).expect("keepalived 2.2.7");
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "{}",
        ka.log().unwrap_or_default()
    );
    assert!(poll_until(ELECTION, || sa.exists()));
    assert!(b.wait_for_address(VIP, false, ELECTION));
    ctl_ok(&sa, &["drain", "--all"]);
    assert!(
        b.wait_for_address(VIP, true, ELECTION),
        "{}",
        kb.log().unwrap_or_default()
    );
    assert!(a.wait_for_address(VIP, false, Duration::from_secs(3)));
    // We handed over with a priority-0 advert.
    let sj = status_json(&sa);
    assert_eq!(sj["instances"][0]["stats"]["pri_zero_sent"], 1, "{sj}");
    // Drained, ours stays backup while 2.2.7 is master, even past Master_Down_Interval.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(state_of(&sa), ("BACKUP".to_string(), true));
    ctl_ok(&sa, &["undrain", "VI_1"]);
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "{}",
        ka.log().unwrap_or_default()
    );
    assert!(
        b.wait_for_address(VIP, false, ELECTION),
        "{}",
        kb.log().unwrap_or_default()
    );
    drop((ka, kb));
}

const PROMETHEUS: &str = "/usr/bin/prometheus";

#[test]
fn prometheus_scrapes_the_daemon() {
    if !lab_ready() {
        return;
    }
    if !Path::new(PROMETHEUS).exists() {
        eprintln!("skipped: {PROMETHEUS} is not installed (apt-get install prometheus)");
        return;
    }
    let lab = Lab::new("prom", &["a"]).expect("lab");
    let a = lab.host("a");
    let (ka, _, ma) = start_ours(a, 150);
    assert!(
        a.wait_for_address(VIP, true, ELECTION),
        "{}",
        ka.log().unwrap_or_default()
    );
    let dir = a.dir().join("prometheus");
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: keepalived\n    static_configs:\n      - targets: ['{ma}']\n"
        ),
    )
    .expect("config");
    let api = SocketAddr::new(a.address().into(), 9690);
    let (config_s, data_s, api_s) = (
        config.to_string_lossy().into_owned(),
        dir.join("data").to_string_lossy().into_owned(),
        api.to_string(),
    );
    let log = dir.join("prometheus.log");
    let mut prometheus = a
        .spawn_logged(
            PROMETHEUS,
            &[
                &format!("--config.file={config_s}"),
                &format!("--storage.tsdb.path={data_s}"),
                &format!("--web.listen-address={api_s}"),
            ],
            &log,
        )
        .expect("prometheus starts");
    let query = "/api/v1/query?query=keepalived_vrrp_state";
    let mut last = String::new();
    let answered = poll_until(Duration::from_secs(60), || {
        let got =
            a.in_netns(move || TcpStream::connect_timeout(&api, Duration::from_secs(1)).is_ok());
        if !got.unwrap_or(false) {
            return false;
        }
        let (_, body) = http_get(a, api, query);
        last = body;
        let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
        v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let plog = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(answered, "prometheus never had the metric: {last}\n{plog}");
    let v: serde_json::Value = serde_json::from_str(&last).expect("JSON");
    let series = &v["data"]["result"][0];
    assert_eq!(series["metric"]["iname"], "VI_1");
    assert_eq!(series["metric"]["ip_address"], VIP);
    assert_eq!(series["metric"]["vrid"], "51");
    assert_eq!(series["value"][1], "2", "master");
    let (_, up) = http_get(a, api, "/api/v1/query?query=up");
    assert!(up.contains("\"1\""), "prometheus sees the target up: {up}");
    let _ = prometheus.kill();
    drop(ka);
}
