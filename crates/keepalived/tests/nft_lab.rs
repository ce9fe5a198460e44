//! vrrp_strict's nftables rules (root only, needs `nft`), against keepalived 2.2.7.
//!
//! The same configuration runs on host a of two identical labs, once with keepalived 2.2.7
//! and once with ours, an IPv4 instance (two VIPs, an excluded IPv4 and IPv6 address) and an
//! IPv6 one (a link-local and a global VIP); keepalived 2.2.7 on host b, with higher
//! priorities, is started and stopped to move a between MASTER and BACKUP. `nft list ruleset`
//! on a (counters' values left out) must be the same for both daemons: as master, as backup
//! after the peer took over, as master again, after a reload (SIGHUP), in FAULT (eth0 down),
//! as master once eth0 is back, and after the stop.
//! A second test does the same with the nftables options of global_defs (`nftables NAME`,
//! `nftables_priority`, `nftables_counters`, `nftables_ifindex`) and a table left by an
//! earlier run, and a third with `use_vmac` (the `vmac_map` 2.2.7 makes for VMACs). A fourth
//! reloads a master: a new table name refuses the reload whole (`Cannot change nftables
//! table name at a reload - please restart keepalived`), a new priority and counters leave
//! the tables as they are; and stops it under `-V`, which keeps the VIPs but not the tables.

use std::thread;
use std::time::Duration;

use keepalived_testlab::ipv6::link_local;
use keepalived_testlab::prelude::{Daemon, daemon_log, entering, lab_ready, log_count, poll_until};
use keepalived_testlab::{HOST_IF, Host, Keepalived, Lab, require_programs};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Start-up plus an election (advert_int 1: master after about 3.6 s), with room for a
/// loaded CI machine.
const ELECTION: Duration = Duration::from_secs(15);

/// How long duplicate address detection of a link-local address may take.
const DAD: Duration = Duration::from_secs(10);

/// The configuration of host `router` with `priority` for both instances, `options` in
/// global_defs and `extra` in each instance.
fn config(router: &str, priority: u8, (options, extra): (&str, &str)) -> String {
    format!(
        "global_defs {{\n router_id {router}\n vrrp_strict\n{options}\n}}\n\
         vrrp_instance VI_1 {{\n state BACKUP\n interface {HOST_IF}\n virtual_router_id 61\n\
         priority {priority}\n advert_int 1\n{extra}\n virtual_ipaddress {{\n 192.0.2.200/24\n \
         192.0.2.201\n }}\n virtual_ipaddress_excluded {{\n 192.0.2.202\n 2001:db8::202/64\n }}\n}}\n\
         vrrp_instance VI_6 {{\n state BACKUP\n interface {HOST_IF}\n virtual_router_id 62\n\
         priority {priority}\n advert_int 1\n{extra}\n virtual_ipaddress {{\n fe80::62/64\n \
         2001:db8::62/64\n }}\n}}\n"
    )
}

/// `nft list ruleset` in `host`, counters' values left out (traffic differs between runs).
fn ruleset(host: &Host) -> String {
    let out = host
        .run("nft", &["list", "ruleset"])
        .unwrap_or_else(|e| panic!("nft list ruleset in {}: {e:#}", host.name()));
    assert!(
        out.status.success(),
        "nft list ruleset: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = Vec::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        words.clear();
        let mut it = line.split_whitespace().peekable();
        while let Some(w) = it.next() {
            words.push(w);
            if w == "counter" && it.peek() == Some(&"packets") {
                // "packets N bytes M"
                for _ in 0..4 {
                    it.next();
                }
            }
        }
        lines.push(format!(
            "{}{}",
            &line[..line.len() - line.trim_start().len()],
            words.join(" ")
        ));
    }
    lines.join("\n")
}

/// Waits until `k` has logged `needle` at least `n` times.
fn wait_log(k: &Keepalived, needle: &str, n: usize, what: &str) {
    assert!(
        poll_until(ELECTION, || log_count(k, needle) >= n),
        "{what}: `{needle}` ({n}) not seen:\n{}",
        daemon_log(k)
    );
}

/// Both instances of `k` entered `state` `n` times.
fn wait_state(k: &Keepalived, state: &str, n: usize, what: &str) {
    for instance in ["VI_1", "VI_6"] {
        wait_log(k, &entering(instance, state), n, what);
    }
}

/// The ruleset once it has stayed the same over two reads 300 ms apart (bounded).
fn settled(host: &Host) -> String {
    let mut last = ruleset(host);
    for _ in 0..20 {
        thread::sleep(Duration::from_millis(300));
        let now = ruleset(host);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The rulesets of host a, by moment, with `daemon` on a and 2.2.7 on b.
fn scenario(daemon: Daemon, settings: (&str, &str), leftover: bool) -> Vec<(&'static str, String)> {
    let tag = match daemon {
        Daemon::Ours => "nfto",
        Daemon::Real => "nftr",
    };
    let lab = Lab::new(tag, &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    for h in [a, b] {
        link_local(h, HOST_IF, DAD).expect("link-local address");
    }
    if leftover {
        for cmd in [
            "add table ip keepalived_t",
            "add chain ip keepalived_t stale",
            "add table ip6 keepalived_t",
        ] {
            let args: Vec<&str> = cmd.split(' ').collect();
            let out = a.run("nft", &args).expect("nft");
            assert!(out.status.success(), "nft {cmd}");
        }
    }
    let mut seen = Vec::new();
    let mut ka = daemon.start(OURS, a, &config("a", 100, settings));
    wait_state(&ka, "MASTER", 1, "a alone");
    seen.push(("master", settled(a)));
    let mut kb = Daemon::Real.start(OURS, b, &config("b", 200, settings));
    wait_state(&ka, "BACKUP", 2, "a preempted by b");
    let backup = settled(a);
    assert!(
        !backup.contains("elements = { 192"),
        "{daemon:?} as backup:\n{backup}\n{}\nb:\n{}",
        daemon_log(&ka),
        daemon_log(&kb)
    );
    seen.push(("backup", backup));
    kb.stop().expect("stop b");
    wait_state(&ka, "MASTER", 2, "a master again");
    seen.push(("master again", settled(a)));
    let reloads = log_count(&ka, "Reloading");
    ka.reload().expect("reload a");
    wait_log(&ka, "Reloading", reloads + 1, "reload");
    seen.push(("after reload", settled(a)));
    a.set_link(HOST_IF, false).expect("eth0 down");
    wait_state(&ka, "FAULT", 1, "a's link down");
    seen.push(("fault", settled(a)));
    a.set_link(HOST_IF, true).expect("eth0 up");
    wait_state(&ka, "MASTER", 3, "a's link back");
    seen.push(("master after the fault", settled(a)));
    let status = ka.stop().expect("stop a");
    assert!(
        status.success(),
        "a exited {status:?}:\n{}",
        daemon_log(&ka)
    );
    seen.push(("after stop", ruleset(a)));
    if daemon == Daemon::Ours {
        let log = daemon_log(&ka);
        // The firewall's own failures (a VMAC refusing an IPv6 address of an IPv4 instance is
        // another matter).
        for bad in [
            "firewall drop rule:",
            "cannot open an nftables",
            "the nftables tables",
            "VMAC map:",
            "panicked",
            "not supported",
        ] {
            assert!(!log.contains(bad), "our daemon logged `{bad}`:\n{log}");
        }
    }
    seen
}

/// 2.2.7 and ours side by side, each in a lab of its own at the same time.
fn compare(settings: (&'static str, &'static str), leftover: bool) {
    if !lab_ready() || !require_programs(&["nft"]) {
        return;
    }
    let (theirs, ours) = thread::scope(|s| {
        let theirs = s.spawn(move || scenario(Daemon::Real, settings, leftover));
        let ours = s.spawn(move || scenario(Daemon::Ours, settings, leftover));
        (
            theirs.join().expect("2.2.7's lab"),
            ours.join().expect("our lab"),
        )
    });
    for ((moment, want), (_, got)) in theirs.iter().zip(&ours) {
        assert_eq!(
            got, want,
            "{moment}: our ruleset (left) differs from keepalived 2.2.7's (right)"
        );
    }
    // The rules exist while master and nothing is left after the stop.
    assert!(theirs[0].1.contains("ip daddr @vips"), "{}", theirs[0].1);
    let stopped = &theirs[theirs.len() - 1].1;
    assert!(stopped.trim().is_empty(), "{stopped}");
}

#[test]
fn nft_ruleset_matches_keepalived_by_state() {
    compare(("", ""), false);
}

#[test]
fn nft_options_and_leftover_table_match_keepalived() {
    compare(
        (
            " nftables keepalived_t\n nftables_priority -5\n nftables_counters\n nftables_ifindex",
            "",
        ),
        true,
    );
}

/// With `use_vmac` on both instances: the VMAC map and its IGMP / MLD rules from the start,
/// beside the strict rules.
#[test]
fn nft_vmac_map_matches_keepalived() {
    compare(("", " use_vmac"), false);
}

/// One IPv4 instance under strict, alone on its link (master), with `options` in global_defs
/// and `extra` VIPs.
fn reload_config(options: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n router_id a\n vrrp_strict\n{options}\n}}\n\
         vrrp_instance VI_1 {{\n state BACKUP\n interface {HOST_IF}\n virtual_router_id 63\n\
         priority 100\n advert_int 1\n virtual_ipaddress {{\n 192.0.2.210\n{extra}\n }}\n}}\n"
    )
}

/// What one daemon does on host a: the rulesets and log counts around two reloads (one
/// renaming the table, refused; one changing the priority and counters and adding a VIP),
/// then the ruleset after a stop under `-V` and whether the VIP stayed.
fn reload_scenario(daemon: Daemon) -> Vec<(&'static str, String)> {
    let tag = match daemon {
        Daemon::Ours => "nfro",
        Daemon::Real => "nfrr",
    };
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let a = lab.host("a");
    let mut seen = Vec::new();
    let mut k = daemon.start_with_args(OURS, a, &reload_config("", ""), &["-V"]);
    wait_log(&k, &entering("VI_1", "MASTER"), 1, "a alone");
    seen.push(("master", settled(a)));
    let setting = "(VI_1) setting firewall drop rule";
    let set_before = log_count(&k, setting);
    // A new table name: the whole reload is refused (the new VIP is not added).
    let renamed = reload_config(
        " nftables kx\n nftables_priority -5\n nftables_counters",
        " 192.0.2.211",
    );
    k.write_config(&renamed).expect("config");
    k.reload().expect("reload");
    let refused = "Cannot change nftables table name at a reload - please restart keepalived";
    wait_log(&k, refused, 1, "renamed table");
    thread::sleep(Duration::from_secs(2));
    seen.push(("after the refused reload", settled(a)));
    seen.push((
        "the refused reload's VIP",
        a.has_address("192.0.2.211").unwrap_or(false).to_string(),
    ));
    // The same name (not written), a new priority, counters and a VIP: the reload goes on,
    // the tables keep their first settings.
    let changed = reload_config(" nftables_priority -5\n nftables_counters", " 192.0.2.211");
    k.write_config(&changed).expect("config");
    k.reload().expect("reload");
    assert!(
        a.wait_for_address("192.0.2.211", true, ELECTION),
        "{daemon:?}: the reload's VIP never came:\n{}",
        daemon_log(&k)
    );
    seen.push(("after the reload", settled(a)));
    seen.push((
        "drop rule lines at the reloads",
        (log_count(&k, setting) - set_before).to_string(),
    ));
    let status = k.stop().expect("stop");
    assert!(status.success(), "{daemon:?} exited {status:?}");
    seen.push(("after a stop with -V", ruleset(a)));
    seen.push((
        "VIP kept with -V",
        a.has_address("192.0.2.210").unwrap_or(false).to_string(),
    ));
    seen
}

/// A reload renaming the table is refused whole, one changing the priority and counters
/// keeps the tables as they are, and `-V` (`--dont-release-vrrp`) keeps the VIPs but not the
/// tables: as keepalived 2.2.7.
#[test]
fn nft_reload_and_dont_release_match_keepalived() {
    if !lab_ready() || !require_programs(&["nft"]) {
        return;
    }
    let (theirs, ours) = thread::scope(|s| {
        let theirs = s.spawn(|| reload_scenario(Daemon::Real));
        let ours = s.spawn(|| reload_scenario(Daemon::Ours));
        (
            theirs.join().expect("2.2.7's lab"),
            ours.join().expect("our lab"),
        )
    });
    let value = |moment: &str| {
        theirs
            .iter()
            .find(|(m, _)| *m == moment)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // What 2.2.7 was seen doing, so a change of the oracle shows.
    assert_eq!(value("the refused reload's VIP"), "false");
    assert_eq!(value("VIP kept with -V"), "true");
    assert_eq!(value("drop rule lines at the reloads"), "1");
    assert!(value("after a stop with -V").trim().is_empty());
    assert!(
        value("after the reload").contains("priority filter - 1;")
            && !value("after the reload").contains("counter"),
        "{}",
        value("after the reload")
    );
    for ((moment, want), (_, got)) in theirs.iter().zip(&ours) {
        assert_eq!(
            got, want,
            "{moment}: ours (left) against keepalived 2.2.7 (right)"
        );
    }
}
