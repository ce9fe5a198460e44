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
        "-e",
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
        stderr.contains("--all-config is accepted but its behaviour is not built yet"),
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
