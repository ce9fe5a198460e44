//! The daemon as users run it (root only): the parent and its children, respawn, the parent's
//! death, reloads, dumps, daemonising and pid files (compat.md section 3).
//!
//! Host a runs our daemon at priority 150, host b at 100 (ours, or keepalived 2.2.7 where the
//! test says so). advert_int 1: Master_Down_Interval is 3.41 s at 150 and 3.61 s at 100.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::{lab_ready, master_down_interval};
use keepalived_testlab::{Host, Keepalived, Lab, Signal, VrrpInstance, poll_until, render_config};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
const VIP: &str = "198.51.100.10";
/// Start-up plus an election, with room for a loaded CI machine.
const ELECTION: Duration = Duration::from_secs(8);

fn instance(priority: u8) -> VrrpInstance {
    VrrpInstance::new(51, priority, &[&format!("{VIP}/32")])
}

fn start_ours(host: &Host, config: &str, extra: &[&str]) -> Keepalived {
    Keepalived::start_with(host, Path::new(OURS), config, extra)
        .unwrap_or_else(|e| panic!("starting ours on {}: {e:#}", host.name()))
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn holds(host: &Host) -> bool {
    host.has_address(VIP).unwrap_or(false)
}

/// Starts a (ours, 150) and b (`b_real`: keepalived 2.2.7, else ours, 100) and waits until a
/// holds the VIP.
fn pair(lab: &Lab, b_real: bool) -> (Keepalived, Keepalived) {
    let a = start_ours(lab.host("a"), &render_config("a", &[instance(150)]), &[]);
    let b_config = render_config("b", &[instance(100)]);
    let b = if b_real {
        Keepalived::start(lab.host("b"), &b_config).expect("keepalived 2.2.7 on b")
    } else {
        start_ours(lab.host("b"), &b_config, &[])
    };
    assert!(
        lab.host("a").wait_for_address(VIP, true, ELECTION),
        "a never became master:\n{}",
        a.log().unwrap_or_default()
    );
    (a, b)
}

#[test]
fn parent_runs_a_vrrp_child_and_writes_both_pid_files() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dpc", &["a"]).expect("lab");
    let mut a = start_ours(lab.host("a"), &render_config("a", &[instance(150)]), &[]);
    assert!(poll_until(Duration::from_secs(5), || a
        .vrrp_pid()
        .is_some()));
    let child = a.vrrp_pid().expect("vrrp pid");
    assert_ne!(child, a.pid());
    let stat = fs::read_to_string(format!("/proc/{child}/stat")).expect("child stat");
    let ppid: u32 = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("ppid");
    assert_eq!(ppid, a.pid(), "the VRRP child's parent is the daemon");
    let parent_pid: u32 = fs::read_to_string(a.pidfile())
        .expect("parent pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(parent_pid, a.pid());
    assert!(a.wait_for_log(
        &format!(
            "Keepalived[{}]: Starting VRRP child process, pid={child}",
            a.pid()
        ),
        Duration::from_secs(2)
    ));
    assert!(a.wait_for_log(
        &format!("Keepalived_vrrp[{child}]: VRRP_Instance(VI_1) Entering BACKUP STATE"),
        Duration::from_secs(2)
    ));
    // No virtual servers: no checker child (keepalived 2.x).
    assert_eq!(a.check_pid(), None);
    a.stop().expect("stop");
    assert!(!a.pidfile().exists(), "the parent's pid file is removed");
    assert!(
        !a.vrrp_pidfile().exists(),
        "the child's pid file is removed"
    );
    assert!(!pid_alive(child));
}

#[test]
fn killed_vrrp_child_is_respawned_and_one_node_holds_the_vip() {
    if !lab_ready() {
        return;
    }
    for b_real in [false, true] {
        let lab = Lab::new(if b_real { "dkr" } else { "dko" }, &["a", "b"]).expect("lab");
        let (a, _b) = pair(&lab, b_real);
        let child = a.vrrp_pid().expect("vrrp pid");
        keepalived_testlab::signal(child, Signal::Kill).expect("kill -9 the VRRP child");
        let killed = Instant::now();
        assert!(
            a.wait_for_log(
                &format!("VRRP child process({child}) died: Respawning"),
                Duration::from_secs(2)
            ),
            "{}",
            a.log().unwrap_or_default()
        );
        assert!(poll_until(Duration::from_secs(3), || a
            .vrrp_pid()
            .is_some_and(|p| p != child && pid_alive(p))));
        // Within Master_Down_Interval (plus slack for start-up) exactly one node holds the VIP.
        // Master_Down_Interval at priority 100 (the backup's), advert_int 1.
        let deadline =
            master_down_interval(Duration::from_secs(1), 100) + Duration::from_millis(1500);
        let one_holder = poll_until(deadline, || {
            holds(lab.host("a")) != holds(lab.host("b"))
                && killed.elapsed() > Duration::from_millis(300)
        });
        assert!(one_holder, "no single holder within {deadline:?}");
        // And it settles back on a (priority 150, preemption on), never on both.
        let settled = Instant::now();
        let mut both = false;
        while settled.elapsed() < Duration::from_secs(8) {
            both |= holds(lab.host("a")) && holds(lab.host("b"));
            if holds(lab.host("a")) && !holds(lab.host("b")) && settled.elapsed().as_secs() >= 5 {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        assert!(!both, "both nodes held the VIP at once");
        assert!(holds(lab.host("a")) && !holds(lab.host("b")));
    }
}

#[test]
fn killed_parent_takes_children_and_scripts_down_and_releases_the_vip() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dkp", &["a"]).expect("lab");
    let host = lab.host("a");
    // A tracked script that is still running when the parent dies.
    let script_dir = host.dir().join("scripts");
    fs::create_dir_all(&script_dir).expect("script dir");
    let marker = "31.4159";
    let script = script_dir.join("slow_check");
    fs::write(&script, format!("#!/bin/sh\nexec sleep {marker}\n")).expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut tracked = instance(150).extra("track_script {\n        chk_slow weight 10\n    }");
    tracked.global_extra = vec![
        "enable_script_security".to_string(),
        "script_user root".to_string(),
    ];
    let config = format!(
        "vrrp_script chk_slow {{\n    script \"{}\"\n    interval 60\n    timeout 50\n}}\n{}",
        script.display(),
        render_config("a", &[tracked])
    );
    let mut a = start_ours(host, &config, &[]);
    assert!(
        host.wait_for_address(VIP, true, ELECTION),
        "{}",
        a.log().unwrap_or_default()
    );
    let child = a.vrrp_pid().expect("vrrp pid");
    let running_scripts = || {
        keepalived_testlab::run_ok("pgrep", &["-f", &format!("sleep {marker}")])
            .map(|out| out.lines().count())
            .unwrap_or(0)
    };
    assert!(poll_until(Duration::from_secs(3), || running_scripts() > 0));
    keepalived_testlab::signal(a.pid(), Signal::Kill).expect("kill -9 the parent");
    let killed = Instant::now();
    assert!(
        poll_until(Duration::from_secs(1), || !pid_alive(child) && !holds(host)),
        "1 s after the parent died: child alive {}, VIP present {}",
        pid_alive(child),
        holds(host)
    );
    assert!(
        poll_until(
            Duration::from_millis(1000).saturating_sub(killed.elapsed()),
            || { running_scripts() == 0 }
        ) || running_scripts() == 0,
        "the check script outlived its daemon"
    );
    let _ = a.kill();
}

/// Records every address change on `host` while it lives (`ip monitor address`).
fn monitor_addresses(host: &Host) -> keepalived_testlab::Proc {
    let log = host.dir().join(format!("monitor-{}.log", host.name()));
    host.spawn_logged("ip", &["monitor", "address"], &log)
        .expect("ip monitor")
}

#[test]
fn fifty_reloads_of_an_unchanged_config_change_nothing() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dhup", &["a", "b"]).expect("lab");
    let (a, b) = pair(&lab, false);
    // Let the second GARP burst pass, then watch.
    thread::sleep(Duration::from_secs(1));
    let monitors = [
        monitor_addresses(lab.host("a")),
        monitor_addresses(lab.host("b")),
    ];
    thread::sleep(Duration::from_millis(300));
    let before = (a.log().expect("log a"), b.log().expect("log b"));
    for _ in 0..50 {
        a.reload().expect("HUP a");
        b.reload().expect("HUP b");
        thread::sleep(Duration::from_millis(40));
    }
    // Time for anything the reloads might have set off: more than Master_Down_Interval.
    thread::sleep(Duration::from_secs(4));
    let after = (a.log().expect("log a"), b.log().expect("log b"));
    for (name, old, new) in [("a", &before.0, &after.0), ("b", &before.1, &after.1)] {
        let added = &new[old.len()..];
        assert!(
            added.matches("Reloading").count() >= 50,
            "{name} did not reload 50 times:\n{added}"
        );
        for word in [
            "Entering",
            "Transition",
            "sent 0 priority",
            "removing VIPs.",
        ] {
            assert!(
                !added.contains(word),
                "{name} changed state during the reloads ({word}):\n{added}"
            );
        }
    }
    drop(monitors);
    for host in ["a", "b"] {
        let log = lab.host(host).dir().join(format!("monitor-{host}.log"));
        let events = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            events.trim().is_empty(),
            "addresses changed on {host} during the reloads:\n{events}"
        );
    }
    assert!(holds(lab.host("a")) && !holds(lab.host("b")));
}

#[test]
fn reload_applies_changes_and_keeps_the_running_config_when_the_new_one_is_broken() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("drl", &["a"]).expect("lab");
    let host = lab.host("a");
    let a = start_ours(host, &render_config("a", &[instance(150)]), &[]);
    assert!(host.wait_for_address(VIP, true, ELECTION));
    // A configuration keepalived cannot use (a syntax error): the running one stays.
    a.write_config("vrrp_instance VI_1 {\n    virtual_router_id\n}\n")
        .expect("write");
    a.reload().expect("HUP");
    assert!(
        a.wait_for_log("keeping the running one", Duration::from_secs(3)),
        "{}",
        a.log().unwrap_or_default()
    );
    assert!(holds(host));
    // A changed VIP: the instance restarts with the new address; the old one goes.
    let new_vip = "198.51.100.11";
    a.write_config(&render_config(
        "a",
        &[VrrpInstance::new(51, 150, &[&format!("{new_vip}/32")])],
    ))
    .expect("write");
    a.reload().expect("HUP");
    assert!(
        host.wait_for_address(new_vip, true, ELECTION),
        "{}",
        a.log().unwrap_or_default()
    );
    assert!(!holds(host), "the old VIP is left behind");
}

#[test]
fn dumps_are_written_without_following_planted_links() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("ddump", &["a"]).expect("lab");
    let host = lab.host("a");
    let a = start_ours(
        host,
        &render_config("a", &[instance(150).auth_pass("dumppass")]),
        &[],
    );
    assert!(host.wait_for_address(VIP, true, ELECTION));
    let victim = host.dir().join("victim");
    fs::write(&victim, "precious\n").expect("victim");
    let data = Path::new("/tmp/keepalived.data");
    let _ = fs::remove_file(data);
    std::os::unix::fs::symlink(&victim, data).expect("plant a link");
    a.signal(Signal::Usr1).expect("USR1");
    let written = poll_until(Duration::from_secs(3), || {
        fs::symlink_metadata(data).is_ok_and(|m| m.file_type().is_file())
    });
    let text = fs::read_to_string(data).unwrap_or_default();
    let meta = fs::symlink_metadata(data).expect("data file");
    let _ = fs::remove_file(data);
    assert!(written, "the data dump was not written");
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert_eq!(meta.mode() & 0o777, 0o600, "the data dump holds passwords");
    assert!(text.contains("VI_1"), "{text}");
    // The stats dump (SIGUSR2) counts the adverts this master sent.
    let stats = Path::new("/tmp/keepalived.stats");
    let _ = fs::remove_file(stats);
    a.signal(Signal::Usr2).expect("USR2");
    assert!(poll_until(Duration::from_secs(3), || stats.exists()));
    let stats_text = fs::read_to_string(stats).unwrap_or_default();
    let _ = fs::remove_file(stats);
    assert!(stats_text.contains("VI_1"), "{stats_text}");
    // The JSON dump (SIGRTMIN+2) parses as JSON and masks the password as keepalived 2.4 does.
    let json = Path::new("/tmp/keepalived.json");
    let _ = fs::remove_file(json);
    a.signal(Signal::Named("RTMIN+2")).expect("RTMIN+2");
    assert!(poll_until(Duration::from_secs(3), || json.exists()));
    let json_text = fs::read_to_string(json).unwrap_or_default();
    assert!(
        !json_text.contains("dumppass") && json_text.contains(r#""auth_data":"********""#),
        "{json_text}"
    );
    let checked = std::process::Command::new("python3")
        .args(["-c", "import json,sys; json.load(open(sys.argv[1]))"])
        .arg(json)
        .status();
    let _ = fs::remove_file(json);
    if let Ok(status) = checked {
        assert!(status.success(), "the JSON dump does not parse");
    }
}

#[test]
fn daemonises_and_refuses_a_second_copy() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("ddmn", &["a"]).expect("lab");
    let host = lab.host("a");
    let dir = host.dir().join("daemon");
    fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("keepalived.conf");
    fs::write(&conf, render_config("a", &[instance(150)])).expect("config");
    let (pid, vrrp) = (dir.join("keepalived.pid"), dir.join("vrrp.pid"));
    let checkers = dir.join("checkers.pid");
    let args = [
        "-D",
        "-f",
        conf.to_str().unwrap_or_default(),
        "-p",
        pid.to_str().unwrap_or_default(),
        "-r",
        vrrp.to_str().unwrap_or_default(),
        "-c",
        checkers.to_str().unwrap_or_default(),
    ];
    let started = Instant::now();
    let out = host.run(OURS, &args).expect("start");
    assert!(out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let read = |p: &Path| -> Option<u32> { fs::read_to_string(p).ok()?.trim().parse().ok() };
    let parent = read(&pid).expect("the parent's pid file exists when the command returns");
    assert!(poll_until(Duration::from_secs(3), || read(&vrrp).is_some()));
    assert!(pid_alive(parent));
    assert!(host.wait_for_address(VIP, true, ELECTION));
    // A second start sees the live pid file and leaves the first alone.
    let second = host.run(OURS, &args).expect("second start");
    assert_eq!(read(&pid), Some(parent));
    assert!(pid_alive(parent), "{second:?}");
    keepalived_testlab::signal(parent, Signal::Term).expect("TERM");
    assert!(
        poll_until(Duration::from_secs(5), || !pid_alive(parent)),
        "did not stop within 5 s"
    );
    assert!(!holds(host));
    assert!(!pid.exists() && !vrrp.exists(), "pid files left behind");
}

#[test]
fn checker_child_runs_for_virtual_servers_and_is_respawned() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dchk", &["a"]).expect("lab");
    let config = format!(
        "{}\nvirtual_server 198.51.100.20 80 {{\n    delay_loop 6\n    lb_algo rr\n    \
         protocol TCP\n    real_server 192.0.2.50 80 {{\n        TCP_CHECK {{\n            \
         connect_timeout 3\n        }}\n    }}\n}}\n",
        render_config("a", &[instance(150)])
    );
    let mut a = start_ours(lab.host("a"), &config, &[]);
    if !std::path::Path::new("/proc/net/ip_vs").exists() {
        // A kernel without IPVS (this project's build machines): as keepalived 2.2.7, the
        // checker child stops with a fatal error and takes the daemon down with it.
        assert!(a.wait_for_log(
            "IPVS: Can't initialize ipvs: No such file or directory",
            Duration::from_secs(5)
        ));
        let exited = a.wait_exit(Duration::from_secs(8)).expect("wait");
        let status = exited.expect("the daemon must stop without IPVS");
        assert_eq!(status.code(), Some(1), "2.2.7's exit status");
        println!("no IPVS in this kernel: checked the fatal stop instead of the respawn");
        return;
    }
    assert!(poll_until(Duration::from_secs(5), || a
        .check_pid()
        .is_some()));
    let checker = a.check_pid().expect("checker pid");
    assert!(a.wait_for_log(
        &format!("Starting Healthcheck child process, pid={checker}"),
        Duration::from_secs(2)
    ));
    keepalived_testlab::signal(checker, Signal::Kill).expect("kill -9 the checker");
    assert!(a.wait_for_log(
        &format!("Healthcheck child process({checker}) died: Respawning"),
        Duration::from_secs(3)
    ));
    assert!(poll_until(Duration::from_secs(3), || a
        .check_pid()
        .is_some_and(|p| p != checker)));
    a.stop().expect("stop");
}

#[test]
fn dont_respawn_stops_the_daemon_when_a_child_dies() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dnor", &["a"]).expect("lab");
    let mut a = start_ours(
        lab.host("a"),
        &render_config("a", &[instance(150)]),
        &["-R"],
    );
    assert!(poll_until(Duration::from_secs(5), || a
        .vrrp_pid()
        .is_some()));
    let child = a.vrrp_pid().expect("vrrp pid");
    keepalived_testlab::signal(child, Signal::Kill).expect("kill -9");
    let exited = a.wait_exit(Duration::from_secs(8)).expect("wait");
    assert!(
        exited.is_some(),
        "-R: the daemon must stop when its child dies"
    );
    assert!(!a.pidfile().exists());
}

/// The parent's `Starting … child process` lines of `daemon`'s log, in order, without pids.
fn child_starts(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let at = l.find("Starting ")?;
            let rest = &l[at..];
            rest.contains(" child process, pid=")
                .then(|| rest.split(", pid=").next().unwrap_or(rest).to_string())
        })
        .collect()
}

/// keepalived 2.2.7 starts its checker child before its VRRP child (observed); ours too. Both
/// run alone on the same file (an instance and a virtual server); without IPVS both stop when
/// their checker fails, with IPVS they are stopped once both children started.
#[test]
fn the_checker_child_starts_before_the_vrrp_child_as_keepalived_does() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("dord", &["a"]).expect("lab");
    let config = format!(
        "{}\nvirtual_server 198.51.100.20 80 {{\n    protocol TCP\n    real_server 192.0.2.50 80 \
         {{\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n}}\n",
        render_config("a", &[instance(150)])
    );
    let mut seen = Vec::new();
    for binary in [keepalived_testlab::KEEPALIVED_BIN, OURS] {
        let mut k =
            Keepalived::start_with(lab.host("a"), Path::new(binary), &config, &[]).expect("start");
        poll_until(Duration::from_secs(8), || {
            child_starts(&k.log().unwrap_or_default()).len() >= 2
        });
        if k.is_running() {
            k.stop().expect("stop");
        }
        seen.push(child_starts(&k.log().expect("log")));
    }
    let expected = [
        "Starting Healthcheck child process",
        "Starting VRRP child process",
    ];
    assert_eq!(seen[0], expected, "2.2.7");
    assert_eq!(seen[1], expected, "ours");
}
