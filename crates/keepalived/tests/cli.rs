//! The `keepalived` binary's command line as a user meets it: exit codes of `-t`, the log-file
//! form, `--signum`, `-v`, unknown options, and options that are accepted but not built yet.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn keepalived(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepalived"))
        .args(args)
        .output()
        .expect("the keepalived binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/configs")
        .join(name)
}

/// A scratch directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("keepalived-rs-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn config_test_reports_with_line_and_exits_5() {
    let scratch = Scratch::new("bad");
    let conf = scratch.0.join("k.conf");
    std::fs::write(&conf, "global_defs {\n}\nVrrp_instance X {\n}\n").expect("write config");
    let out = keepalived(&["-t", "-f", conf.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A top-level line of the main file, read first by the parent's pass: keepalived 2.2.7
    // prints it without the file's name.
    assert!(
        stderr.contains("(Line 3) Unknown keyword 'Vrrp_instance'"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean vrrp_instance?"), "{stderr}");
}

#[test]
fn missing_file_is_fatal_with_exit_4() {
    let out = keepalived(&[
        "--config-test",
        "--use-file=/nonexistent/keepalived-rs/k.conf",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/keepalived-rs/k.conf"));
}

#[test]
fn missing_parameter_exits_2() {
    let out = keepalived(&[
        "-t",
        "-f",
        fixture("invalid-missing-parameter.conf")
            .to_str()
            .expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_test_log_file_receives_the_diagnostics() {
    let scratch = Scratch::new("log");
    let log = scratch.0.join("check.log");
    let conf = fixture("invalid-unknown-keyword-priority.conf");
    let out = keepalived(&[
        &format!("--config-test={}", log.display()),
        "-f",
        conf.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(5));
    let text = std::fs::read_to_string(&log).expect("log written");
    assert!(text.contains("Unknown keyword 'Priority'"), "{text}");
    assert!(
        out.stderr.is_empty(),
        "diagnostics went to the log, not stderr"
    );
}

#[test]
fn dump_prints_the_parsed_model() {
    let conf = fixture("valid-minimal.conf");
    let out = keepalived(&["-t", "-d", "-f", conf.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("virtual_router_id"), "{stdout}");
}

#[test]
fn signum_prints_keepalived_numbers() {
    for (name, number) in [
        ("STOP", "15"),
        ("RELOAD", "1"),
        ("DATA", "10"),
        ("STATS", "12"),
        ("STATS_CLEAR", "63"),
        ("JSON", "36"),
    ] {
        let out = keepalived(&[&format!("--signum={name}")]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            number,
            "{name}"
        );
    }
    assert_ne!(keepalived(&["--signum=BOGUS"]).status.code(), Some(0));
}

#[test]
fn version_and_unknown_option() {
    let out = keepalived(&["-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Keepalived v"));
    let out = keepalived(&["--no-such-option"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn unbuilt_daemon_options_say_so_and_no_runnable_instance_stops() {
    let scratch = Scratch::new("unbuilt");
    let conf = scratch.0.join("k.conf");
    let text = "vrrp_instance X {\n interface nosuchif0\n virtual_router_id 9\n virtual_ipaddress {\n 192.0.2.9\n }\n}\n";
    std::fs::write(&conf, text).expect("write config");
    let pid = |name: &str| scratch.0.join(name).to_string_lossy().into_owned();
    let (p, r, c) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let out = keepalived(&[
        "-n",
        "-l",
        "-x",
        "-f",
        conf.to_str().expect("path"),
        "-p",
        &p,
        "-r",
        &r,
        "-c",
        &c,
    ]);
    // The VRRP child refuses the file as keepalived 2.2.7's does, which stops the daemon with
    // 2.2.7's status 2.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--snmp is accepted but its behaviour is not built yet"),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARNING - interface nosuchif0 for vrrp_instance X doesn't exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Non-existent interface specified in configuration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("exited with permanent error CONFIG. Terminating"),
        "{stderr}"
    );
}

#[test]
fn keywords_read_but_not_acted_on_are_said_once_at_start() {
    let scratch = Scratch::new("unsupported");
    let conf = scratch.0.join("k.conf");
    let text = "global_defs {\n lvs_flush\n bfd_rt_priority 50\n}\nnet_namespace_ipvs blue\n\
                vrrp_instance X {\n interface nosuchif0\n virtual_router_id 9\n kernel_rx_buf_size 300000\n\
                virtual_ipaddress {\n 192.0.2.9\n }\n}\n\
                vrrp_instance Y {\n interface nosuchif0\n virtual_router_id 10\n kernel_rx_buf_size 300000\n\
                virtual_ipaddress {\n 192.0.2.10\n }\n}\n";
    std::fs::write(&conf, text).expect("write config");
    let pid = |name: &str| scratch.0.join(name).to_string_lossy().into_owned();
    let (p, r, c) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let out = keepalived(&[
        "-n",
        "-l",
        "-f",
        conf.to_str().expect("path"),
        "-p",
        &p,
        "-r",
        &r,
        "-c",
        &c,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for what in [
        "global_defs keyword 'bfd_rt_priority'",
        "top-level keyword 'net_namespace_ipvs'",
        "vrrp_instance keyword 'kernel_rx_buf_size'",
    ] {
        let line = format!("{what} is not supported by keepalived-rs yet");
        assert_eq!(
            stderr.matches(&line).count(),
            1,
            "{line} once in:\n{stderr}"
        );
    }
}

#[test]
fn all_config_stops_the_start_at_a_missing_include_with_exit_6() {
    let scratch = Scratch::new("all-config");
    let conf = scratch.0.join("k.conf");
    let missing = scratch.0.join("missing.conf");
    let text = format!(
        "include {}\nvirtual_server 192.0.2.10 80 {{\n protocol TCP\n real_server 192.0.2.11 80 {{\n }}\n}}\n",
        missing.display()
    );
    std::fs::write(&conf, text).expect("write config");
    let pid = |name: &str| scratch.0.join(name).to_string_lossy().into_owned();
    let (p, r, c) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let args = |extra: &'static str| {
        let mut a = vec!["-n", "-l", "-f", conf.to_str().expect("path")];
        a.extend(["-p", p.as_str(), "-r", r.as_str(), "-c", c.as_str(), extra]);
        a
    };
    // As keepalived 2.2.7: the line, `Stopped`, status 6, and no child started.
    let out = keepalived(&args("-e"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "(Line 1) Config files missing '{}'.",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Stopped Keepalived"), "{stderr}");
    assert!(!stderr.contains("child process"), "{stderr}");
    assert!(!stderr.contains("not built yet"), "{stderr}");
    assert!(!Path::new(&p).exists(), "pid file left behind");
}

/// Runs the daemon in the foreground with `args` until the pid file `wait_for` appears (at
/// most 10 s; none given: at once) and 1 s more, then sends SIGTERM; asserts it was still
/// running then and stopped with status 0, and returns its stderr.
fn run_then_stop(args: &[&str], wait_for: Option<&str>) -> String {
    use std::io::Read as _;
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_keepalived"))
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the keepalived binary runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while wait_for.is_some_and(|file| !Path::new(file).exists())
        && std::time::Instant::now() < deadline
    {
        if daemon.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let still_running = daemon.try_wait().expect("wait").is_none();
    if let Ok(pid) = i32::try_from(daemon.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let status = daemon.wait().expect("the daemon ends");
    let mut stderr = String::new();
    if let Some(mut pipe) = daemon.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(still_running, "the daemon stopped by itself:\n{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
    stderr
}

/// `-C` on a VRRP-only file starts no child (2.2.7: "no configuration to run"); `--all -C`
/// starts a checker child without virtual servers, which runs without IPVS as 2.2.7's: no
/// `Initializing ipvs`, so it does not die where the kernel has no ip_vs (this machine's
/// kernel has none), and stops cleanly at SIGTERM.
#[test]
fn a_checker_without_virtual_servers_runs_only_with_all_and_without_ipvs() {
    let scratch = Scratch::new("checker-no-vs");
    let conf = scratch.0.join("k.conf");
    let text = "vrrp_instance X {\n interface nosuchif0\n virtual_router_id 9\n\
                virtual_ipaddress {\n 192.0.2.9\n }\n}\n";
    std::fs::write(&conf, text).expect("write config");
    let pid = |name: &str| scratch.0.join(name).to_string_lossy().into_owned();
    let (p, r, c) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let conf = conf.to_str().expect("path");
    let common = ["-n", "-l", "-G", "-f", conf, "-p", &p, "-r", &r, "-c", &c];

    let stderr = run_then_stop(&[&common[..], &["-C"]].concat(), None);
    assert!(
        stderr.contains("Warning - keepalived has no configuration to run"),
        "{stderr}"
    );
    assert!(!stderr.contains("child process"), "{stderr}");

    let stderr = run_then_stop(&[&common[..], &["--all", "-C"]].concat(), Some(&c));
    assert!(
        stderr.contains("Starting Healthcheck child process"),
        "{stderr}"
    );
    assert!(!stderr.contains("Starting VRRP child process"), "{stderr}");
    assert!(!stderr.contains("Initializing ipvs"), "{stderr}");
    assert!(stderr.contains("Activating BFD healthchecker"), "{stderr}");

    // The other side: `--all -P` on a checker-only file runs an idle VRRP child, as 2.2.7.
    let checker_only = scratch.0.join("c.conf");
    let text =
        "virtual_server 192.0.2.10 80 {\n protocol TCP\n real_server 192.0.2.11 80 {\n }\n}\n";
    std::fs::write(&checker_only, text).expect("write config");
    let checker_only = checker_only.to_str().expect("path");
    let args = [
        "-n",
        "-l",
        "-G",
        "-f",
        checker_only,
        "-p",
        &p,
        "-r",
        &r,
        "-c",
        &c,
        "--all",
        "-P",
    ];
    let stderr = run_then_stop(&args, Some(&r));
    assert!(stderr.contains("Starting VRRP child process"), "{stderr}");
    assert!(!stderr.contains("Healthcheck"), "{stderr}");
}
