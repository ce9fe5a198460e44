//! The lab itself: namespaces, addresses, links, processes and clean-up (root only).

use std::time::Duration;

use keepalived_testlab::{HOST_IF, Lab, Subnet, require_programs, require_root, run_ok};

fn netns_list() -> String {
    run_ok("ip", &["netns", "list"]).expect("ip netns list")
}

fn ready() -> bool {
    require_root() && require_programs(&["ip", "kill"])
}

#[test]
fn hosts_get_addresses_on_a_shared_bridge() {
    if !ready() {
        return;
    }
    let lab = Lab::with_subnet("basic", &["a", "b", "c"], Subnet::TestNet2).expect("lab");
    let prefix = lab.prefix().to_string();
    assert!(netns_list().contains(&format!("{prefix}-br")));
    for (i, host) in lab.hosts().iter().enumerate() {
        assert_eq!(host.netns(), format!("{prefix}-{}", host.name()));
        let want = format!("198.51.100.{}/24", 10 + i);
        assert_eq!(host.cidr(), want);
        let addrs = host.addresses(HOST_IF).expect("addresses");
        assert!(addrs.contains(&want), "{addrs:?}");
        assert!(host.has_address(&want).expect("has_address"));
        assert!(host.link_is_up(HOST_IF).expect("link state"));
        let mac = keepalived_testlab::host_mac(u8::try_from(10 + i).expect("small"));
        assert_eq!(host.mac(HOST_IF).expect("mac"), mac);
    }

    // Hosts reach each other through the bridge: a TCP connect from a to a closed port of b
    // is refused by b (which needs ARP to work), and a learns b's MAC.
    let a = lab.host("a");
    let b = lab.host("b");
    let out = a
        .run_timeout(
            "bash",
            &["-c", "exec 3<>/dev/tcp/198.51.100.11/9"],
            Duration::from_secs(5),
        )
        .expect("bash /dev/tcp");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("Connection refused"), "{said}");
    let neigh = a
        .run("ip", &["neigh", "show", "198.51.100.11", "dev", HOST_IF])
        .expect("ip neigh");
    let b_mac = b.mac(HOST_IF).expect("mac");
    assert!(String::from_utf8_lossy(&neigh.stdout).contains(&b_mac));

    // Addresses come and go, and waits see it.
    a.run("ip", &["addr", "add", "198.51.100.100/32", "dev", HOST_IF])
        .expect("addr add");
    assert!(a.wait_for_address("198.51.100.100", true, Duration::from_secs(2)));
    assert!(a.has_address("198.51.100.100/32").expect("has_address"));
    assert!(!a.has_address("198.51.100.100/24").expect("has_address"));
    assert!(!b.has_address("198.51.100.100").expect("has_address"));
    a.run("ip", &["addr", "del", "198.51.100.100/32", "dev", HOST_IF])
        .expect("addr del");
    assert!(a.wait_for_address("198.51.100.100", false, Duration::from_secs(2)));
    // A wait that cannot succeed gives up in time.
    let t = std::time::Instant::now();
    assert!(!b.wait_for_address("198.51.100.100", true, Duration::from_millis(300)));
    assert!(t.elapsed() < Duration::from_secs(2));

    a.set_link(HOST_IF, false).expect("link down");
    assert!(!a.link_is_up(HOST_IF).expect("link state"));
    a.set_link(HOST_IF, true).expect("link up");
    assert!(keepalived_testlab::poll_until(
        Duration::from_secs(3),
        || { a.link_is_up(HOST_IF).unwrap_or(false) }
    ));

    drop(lab);
    assert!(!netns_list().contains(&prefix), "namespaces left behind");
}

#[test]
fn drop_kills_processes_and_removes_namespaces_even_on_panic() {
    if !ready() {
        return;
    }
    let mut prefix = String::new();
    let mut pid = 0;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new("panic", &["x"]).expect("lab");
        prefix = lab.prefix().to_string();
        let child = lab.host("x").spawn("sleep", &["300"]).expect("spawn");
        pid = child.pid();
        // Leak the handle: only the lab's own clean-up can stop the process now.
        std::mem::forget(child);
        panic!("deliberate");
    }));
    assert!(result.is_err());
    assert!(!prefix.is_empty() && pid != 0);
    assert!(!netns_list().contains(&prefix), "namespaces left behind");
    // The sleeper was killed (it may linger as a zombie of this process, never as a sleeper).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let alive = state
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|s| s != "Z");
    assert!(!alive, "process {pid} survived the lab: {state}");
}

#[test]
fn run_is_bounded_and_spawn_is_reaped() {
    if !ready() {
        return;
    }
    let lab = Lab::new("run", &["a"]).expect("lab");
    let a = lab.host("a");
    let out = a
        .run("ip", &["-br", "addr", "show", "dev", HOST_IF])
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("192.0.2.10/24"));
    let t = std::time::Instant::now();
    assert!(
        a.run_timeout("sleep", &["30"], Duration::from_millis(300))
            .is_err()
    );
    assert!(t.elapsed() < Duration::from_secs(5));

    let mut p = a.spawn("sleep", &["30"]).expect("spawn");
    assert!(p.is_running());
    p.kill().expect("kill");
    assert!(!p.is_running());
}

#[test]
fn bad_names_are_refused() {
    assert!(Lab::new("Bad-Tag", &["a"]).is_err());
    assert!(Lab::new("ok", &[]).is_err());
    assert!(Lab::new("ok", &["a", "a"]).is_err());
    assert!(Lab::new("ok", &["br"]).is_err());
}

/// Set in the child of [`an_interrupted_run_removes_its_namespaces`].
const INTERRUPT_CHILD: &str = "KL_TEST_INTERRUPT_CHILD";

/// A test binary interrupted by SIGINT (Ctrl-C) or SIGTERM (a runner's timeout) removes its
/// namespaces and the processes in them before it exits with 128 + the signal. The test runs
/// itself again as the child: the child makes a lab with a process in a host, prints its
/// prefix and waits; the parent signals it and looks for what it left.
#[test]
fn an_interrupted_run_removes_its_namespaces() {
    if std::env::var_os(INTERRUPT_CHILD).is_some() {
        let lab = Lab::new("intr", &["a"]).expect("lab");
        let _sleeper = lab.host("a").spawn("sleep", &["60"]).expect("sleep");
        println!("prefix {}", lab.prefix());
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    if !ready() {
        return;
    }
    for (signal, name) in [(2, "INT"), (15, "TERM")] {
        let exe = std::env::current_exe().expect("test binary");
        let mut child = std::process::Command::new(exe)
            .args([
                "--exact",
                "an_interrupted_run_removes_its_namespaces",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(INTERRUPT_CHILD, "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("child test");
        let stdout = child.stdout.take().expect("child stdout");
        let mut prefix = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line.expect("child line");
            // The harness's `test NAME ... ` may stand before it on the line.
            if let Some((_, p)) = line.split_once("prefix ") {
                prefix = p.trim().to_string();
                break;
            }
        }
        assert!(!prefix.is_empty(), "the child made no lab");
        assert!(netns_list().contains(&prefix));
        run_ok("kill", &[&format!("-{name}"), &child.id().to_string()]).expect("kill");
        let status = child.wait().expect("child exit");
        assert_eq!(status.code(), Some(128 + signal), "SIG{name}: {status:?}");
        assert!(
            !netns_list().contains(&prefix),
            "SIG{name} left {prefix}: {}",
            netns_list()
        );
    }
}
