//! The seed's story end to end (issue 6).
//!
//! Without root: the parameterised copies of the seed's configs (fixtures/seed-params) are
//! proved to be the seed's files (fixtures/seed) with only the interface name, the addresses and
//! the script path left open as keepalived `${NAME}` parameters: textually, through our parser's
//! typed model, and through keepalived 2.2.7's `-t`. The check script is exercised against a
//! closed port and bad usage.
//!
//! With root (and MariaDB installed): the story of crates/demo/src/story.rs, shared with the
//! `seed-demo` binary, runs twice in parallel, in two labs: pure (keepalived-rs on A and B) and
//! as a rolling upgrade (keepalived 2.2.7 on A, keepalived-rs on B). Each host runs MariaDB
//! (its own datadir and socket) and its keepalived through `/etc/init.d/keepalived start` in a
//! private mount namespace with its own /etc, /var/run and /dev/log; a third host reads
//! `@@server_id` through the VIP. The seed's timings are kept (script interval 60 s,
//! advert_int 5 s), so each run takes about five minutes; every wait is bounded by that
//! arithmetic plus slack and the measured times are printed.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use keepalived_testlab::initd::LogLine;
use keepalived_testlab::{KEEPALIVED_BIN, Subnet, require_programs, require_root, run_command};

#[allow(dead_code)]
#[path = "../../demo/src/story.rs"]
mod story;

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The only parameters the copies may use: interface, the VIP, the host's own address (in the
/// script's arguments) and the script path.
const ALLOWED: [&str; 4] = ["IFACE", "VIP", "SELF", "CHECK"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    let p = repo(path);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The `$NAME=value` definitions and the include target of a per-host file; an error on any
/// other non-comment line.
fn per_host(text: &str) -> Result<(BTreeMap<String, String>, String), String> {
    let mut defs = BTreeMap::new();
    let mut include = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(def) = line.strip_prefix('$') {
            let (name, value) = def
                .split_once('=')
                .ok_or(format!("not a definition: {line:?}"))?;
            if defs.insert(name.to_string(), value.to_string()).is_some() {
                return Err(format!("{name} defined twice"));
            }
        } else if let Some(target) = line.strip_prefix("include ") {
            if include.replace(target.trim().to_string()).is_some() {
                return Err("two includes".into());
            }
        } else {
            return Err(format!("a per-host file holds only parameters: {line:?}"));
        }
    }
    Ok((defs, include.ok_or("no include")?))
}

/// `${NAME}` replaced by its value; an error on an undefined name.
fn substitute(text: &str, defs: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or("unterminated ${")?;
        let name = &after[..end];
        out.push_str(
            defs.get(name)
                .ok_or(format!("${{{name}}} is not defined"))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks that `param` is `seed` with only the allowed parameters left open, and that the
/// values in `defs` are of the allowed kinds (an interface name, IPv4 addresses, an absolute
/// path).
fn only_allowed_values_differ(
    seed: &str,
    param: &str,
    defs: &BTreeMap<String, String>,
) -> Result<(), String> {
    let names: Vec<&str> = defs.keys().map(String::as_str).collect();
    if names != {
        let mut a = ALLOWED.to_vec();
        a.sort_unstable();
        a
    } {
        return Err(format!("parameters {names:?}, allowed exactly {ALLOWED:?}"));
    }
    for (name, value) in defs {
        let ok = match name.as_str() {
            "IFACE" => {
                !value.is_empty()
                    && value.len() < 16
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            }
            "VIP" | "SELF" => value.parse::<Ipv4Addr>().is_ok(),
            "CHECK" => value.starts_with('/') && !value.contains(char::is_whitespace),
            _ => false,
        };
        if !ok {
            return Err(format!("${name}={value:?} is not of the allowed kind"));
        }
    }
    for name in ALLOWED {
        if !param.contains(&format!("${{{name}}}")) {
            return Err(format!("${{{name}}} is defined but not used"));
        }
    }
    let expanded = substitute(param, defs)?;
    if expanded != seed {
        let first = seed
            .lines()
            .zip(expanded.lines())
            .position(|(a, b)| a != b)
            .map_or("(line count)".to_string(), |i| format!("line {}", i + 1));
        return Err(format!(
            "differs from the seed after substitution at {first}"
        ));
    }
    // Line by line, the copy differs from the seed only on lines that use a parameter.
    for (s, p) in seed.lines().zip(param.lines()) {
        if s != p && !p.contains("${") {
            return Err(format!("line {p:?} differs without a parameter"));
        }
    }
    Ok(())
}

#[test]
fn parameterised_copies_are_the_seed_files() {
    for host in ["A", "B"] {
        let seed = read(&format!("fixtures/seed/keepalived-{host}.conf"));
        let param = read(&format!("fixtures/seed-params/seed-{host}.conf"));
        let (defs, include) = per_host(&read(&format!(
            "fixtures/seed-params/keepalived-{host}.conf"
        )))
        .unwrap_or_else(|e| panic!("keepalived-{host}.conf: {e}"));
        assert_eq!(include, format!("seed-{host}.conf"));
        // The per-host file holds the seed's own values.
        let own = if host == "A" {
            "192.168.91.23"
        } else {
            "192.168.91.22"
        };
        assert_eq!(defs.get("SELF").map(String::as_str), Some(own));
        assert_eq!(defs.get("VIP").map(String::as_str), Some("192.168.91.100"));
        assert_eq!(defs.get("IFACE").map(String::as_str), Some("eth0"));
        assert_eq!(
            defs.get("CHECK").map(String::as_str),
            Some("/etc/keepalived/checkMySQL.py")
        );
        only_allowed_values_differ(&seed, &param, &defs)
            .unwrap_or_else(|e| panic!("seed-{host}.conf: {e}"));

        // The check can fail: any other change to the copy is caught.
        for (from, to) in [
            ("priority ", "priority 1"),
            ("advert_int 5", "advert_int 1"),
            ("nopreempt", "# nopreempt"),
            ("-P 3306", "-P 3307"),
            ("${VIP}", "192.168.91.100"),
        ] {
            let broken = param.replacen(from, to, 1);
            assert_ne!(broken, param, "{from}: the mutation did not apply");
            let mut defs2 = defs.clone();
            if from == "${VIP}" {
                // Hard-coding a value leaves the parameter unused.
                defs2.insert("VIP".into(), "192.168.91.100".into());
            }
            assert!(
                only_allowed_values_differ(&seed, &broken, &defs2).is_err(),
                "seed-{host}.conf with `{from}` -> `{to}` was accepted"
            );
        }
        let mut extra = defs.clone();
        extra.insert("PRIO".into(), "100".into());
        assert!(only_allowed_values_differ(&seed, &param, &extra).is_err());
        let mut bad = defs.clone();
        bad.insert("VIP".into(), "not-an-address".into());
        assert!(only_allowed_values_differ(&seed, &param, &bad).is_err());
    }
}

#[test]
fn example_directory_uses_the_same_configs() {
    let dir = "docs/examples/mysql-dual-master";
    for host in ["A", "B"] {
        let param = read(&format!("fixtures/seed-params/seed-{host}.conf"));
        assert_eq!(
            read(&format!("{dir}/seed-{host}.conf")),
            param,
            "{dir}/seed-{host}.conf is not fixtures/seed-params/seed-{host}.conf"
        );
        let (defs, include) = per_host(&read(&format!("{dir}/keepalived-{host}.conf")))
            .unwrap_or_else(|e| panic!("{dir}/keepalived-{host}.conf: {e}"));
        assert_eq!(include, format!("seed-{host}.conf"));
        assert_eq!(
            defs.get("CHECK").map(String::as_str),
            Some(story::CHECK_PATH)
        );
        for (name, value) in &defs {
            if let Ok(ip) = value.parse::<Ipv4Addr>() {
                let [a, b, c, _] = ip.octets();
                assert!(
                    matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113)),
                    "${name}={value} is not a documentation address"
                );
            }
        }
        let expanded = substitute(&param, &defs).unwrap_or_else(|e| panic!("{e}"));
        only_allowed_values_differ(&expanded, &param, &defs)
            .unwrap_or_else(|e| panic!("{dir}/keepalived-{host}.conf: {e}"));
    }
}

/// The typed model our parser builds, without the source positions (file names and order
/// differ between the seed file and its per-host + include pair).
fn model(config: &Path) -> (Option<i32>, String, String) {
    let out = run_command(
        Command::new(OURS).arg("-t").arg("-d").arg("-f").arg(config),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("keepalived -t -d: {e:#}"));
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("file:") && !t.starts_with("order:") && !t.starts_with("line:")
        })
        .collect::<Vec<_>>()
        .join("\n");
    (
        out.status.code(),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn our_parser_reads_the_same_configuration_from_both() {
    for host in ["A", "B"] {
        let seed = model(&repo(&format!("fixtures/seed/keepalived-{host}.conf")));
        let param = model(&repo(&format!(
            "fixtures/seed-params/keepalived-{host}.conf"
        )));
        assert!(seed.1.contains("vs_mysql_"), "no model printed: {}", seed.1);
        assert_eq!(seed.0, param.0, "exit codes differ for {host}");
        assert_eq!(seed.1, param.1, "typed models differ for {host}");
        assert_eq!(seed.2, param.2, "diagnostics differ for {host}");
    }
}

#[test]
fn keepalived_2_2_7_reads_the_same_configuration_from_both() {
    if !Path::new(KEEPALIVED_BIN).exists() {
        println!("skipped: needs {KEEPALIVED_BIN}");
        return;
    }
    for host in ["A", "B"] {
        let run = |f: &str| {
            let out = run_command(
                Command::new(KEEPALIVED_BIN)
                    .args(["-t", "-l", "-f"])
                    .arg(repo(f))
                    .current_dir("/"),
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("keepalived 2.2.7 -t: {e:#}"));
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            (out.status.code(), text)
        };
        let seed = run(&format!("fixtures/seed/keepalived-{host}.conf"));
        let param = run(&format!("fixtures/seed-params/keepalived-{host}.conf"));
        assert_eq!(seed, param, "keepalived 2.2.7 reads {host} differently");
    }
}

#[test]
fn check_script_says_1_without_a_server() {
    let script = repo("docs/examples/mysql-dual-master/check_mysql");
    assert_eq!(
        fs::read_to_string(&script).ok().as_deref(),
        Some(story::CHECK_SCRIPT)
    );
    let sh = |args: &[&str]| {
        run_command(
            Command::new("sh").arg(&script).args(args),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("check_mysql: {e:#}"))
        .status
        .code()
    };
    // Port 1 on the loopback is closed: refused at once.
    assert_eq!(sh(&["-h", "127.0.0.1", "-P", "1", "-t", "3"]), Some(1));
    assert_eq!(sh(&["-h", "127.0.0.1", "-P", "nope"]), Some(1));
    assert_eq!(sh(&["-x"]), Some(1));
    assert_eq!(sh(&["-h"]), Some(1));
}

#[test]
fn timing_parameters_replace_exactly_the_seed_timings() {
    for seed in [story::SEED_A, story::SEED_B] {
        let t = story::with_timing_params(seed).expect("the seed has both lines");
        assert!(t.contains("interval ${INTERVAL}") && t.contains("advert_int ${ADVERT_INT}"));
        assert_eq!(t.lines().count(), seed.lines().count());
        assert!(story::with_timing_params(&t).is_err());
    }
    let md = story::master_down(5, 100);
    assert!((md.as_secs_f64() - 18.046875).abs() < 1e-9, "{md:?}");
    assert!((story::skew(5, 90).as_secs_f64() - 3.2421875).abs() < 1e-9);
}

/// Prints the story with the time since the start (the test's output under --nocapture).
struct Stderr {
    label: &'static str,
    start: Instant,
}

impl story::Narrator for Stderr {
    fn say(&self, text: &str) {
        eprintln!(
            "[{} {:6.1}] {text}",
            self.label,
            self.start.elapsed().as_secs_f64()
        );
    }

    fn log(&self, host: &str, line: &LogLine) {
        if story::relevant(line.text(), "") {
            eprintln!(
                "[{} {:6.1}]     {host} syslog| {}",
                self.label,
                self.start.elapsed().as_secs_f64(),
                line.raw
            );
        }
    }
}

fn run_story(label: &'static str, tag: &str, subnet: Subnet, a: story::Daemon) {
    let mut programs = story::PROGRAMS.to_vec();
    programs.extend(["dumpcap", "tshark"]);
    if !require_root() || !require_programs(&programs) {
        return;
    }
    let b = story::Daemon {
        binary: PathBuf::from(OURS),
        ours: true,
    };
    let options = story::Options {
        tag: tag.to_string(),
        subnet,
        a,
        b,
        interval: story::SEED_INTERVAL,
        advert_int: story::SEED_ADVERT_INT,
        capture: true,
        cancel: Arc::new(AtomicBool::new(false)),
        narrator: Arc::new(Stderr {
            label,
            start: Instant::now(),
        }),
    };
    match story::run(&options) {
        Ok(outcome) => {
            for m in &outcome.measures {
                eprintln!(
                    "[{label}] measured {:<70} {:6.1} s (bound {:.1} s)",
                    m.what,
                    m.took.as_secs_f64(),
                    m.bound.as_secs_f64()
                );
            }
            assert_eq!(outcome.passed.len(), 6, "{:?}", outcome.passed);
        }
        Err(e) => panic!("[{label}] the story failed: {e:#}"),
    }
}

#[test]
fn seed_story_with_keepalived_rs_on_both() {
    run_story(
        "pure",
        "seedpure",
        Subnet::TestNet1,
        story::Daemon {
            binary: PathBuf::from(OURS),
            ours: true,
        },
    );
}

#[test]
fn seed_story_as_a_rolling_upgrade() {
    if !Path::new(KEEPALIVED_BIN).exists() {
        println!("skipped: needs {KEEPALIVED_BIN}");
        return;
    }
    run_story(
        "mixed",
        "seedmixed",
        Subnet::TestNet2,
        story::Daemon {
            binary: PathBuf::from(KEEPALIVED_BIN),
            ours: false,
        },
    );
}
