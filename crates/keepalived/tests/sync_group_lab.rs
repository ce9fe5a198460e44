//! vrrp_sync_group in a lab (root only), run both ways against keepalived 2.2.7: ours with
//! ours, ours on a with 2.2.7 on b, 2.2.7 on a with ours on b.
//!
//! Two hosts on two links: the lab bridge (`eth0`, 192.0.2.0/24) and a direct veth link
//! (`eth1`, 198.51.100.0/24). Group G1 holds VI_1 (VRID 71, 192.0.2.100 on eth0) and VI_2
//! (VRID 72, 198.51.100.100 on eth1); a has priority 200, b 100. The group tracks a script
//! that fails while a flag file exists, and has every notify command.
//!
//! What keepalived 2.2.7 does, found by running it (these tests hold both daemons to it):
//!
//! - one member entering FAULT (its link down, or the group's track_script failing) takes the
//!   other there: `VRRP_Group(G1) Syncing instances to FAULT state`; the peer's group then
//!   becomes master with both addresses;
//! - a member becoming master takes the group along (`Syncing instances to MASTER state`), a
//!   member entering BACKUP too (`Syncing instances to BACKUP state`), so a preempting peer
//!   takes both addresses back;
//! - the group's notify commands run once per group transition: `notify_backup` …, and the
//!   generic `notify` with `GROUP G1 STATE 0` (priority 0), `notify_stop` and `GROUP G1 STOP 0`
//!   when the daemon stops.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use keepalived_testlab::prelude::{Daemon, daemon_log, for_each_pair};
use keepalived_testlab::{Host, Keepalived, Lab, Subnet, link_hosts};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const VIP1: &str = "192.0.2.100";
const VIP2: &str = "198.51.100.100";
/// Start-up plus an election (Master_Down_Interval 3.6 s at priority 100), with room for a
/// loaded CI machine.
const ELECTION: Duration = Duration::from_secs(12);

/// The notify command: appends its arguments to `notify.log` beside it.
fn notify_script(host: &Host) -> String {
    let dir = host.dir();
    let path = dir.join("notify.sh");
    let log = dir.join("notify.log");
    fs::write(
        &path,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .expect("notify script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// The flag that makes the group's track_script fail.
fn flag(host: &Host) -> std::path::PathBuf {
    host.dir().join("fail")
}

fn config(host: &Host, priority: u8) -> String {
    let notify = notify_script(host);
    let flag = flag(host);
    format!(
        "global_defs {{\n    router_id {name}\n    script_user root\n}}\n\
         vrrp_script chk {{\n    script \"/bin/sh -c 'test ! -e {flag}'\"\n    interval 1\n    fall 1\n    rise 1\n}}\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n\
         \x20   notify_master \"{notify} master\"\n    notify_backup \"{notify} backup\"\n\
         \x20   notify_fault \"{notify} fault\"\n    notify_stop \"{notify} stop\"\n\
         \x20   notify \"{notify} generic\"\n    track_script {{\n        chk\n    }}\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 71\n    priority {priority}\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        {VIP1}/32\n    }}\n}}\n\
         vrrp_instance VI_2 {{\n    interface eth1\n    virtual_router_id 72\n    priority {priority}\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        {VIP2}/32 dev eth1\n    }}\n}}\n",
        name = host.name(),
        flag = flag.display(),
    )
}

/// Waits until `host` holds both addresses (`present`) or neither.
fn wait_both(host: &Host, k: &Keepalived, present: bool, what: &str) {
    for vip in [VIP1, VIP2] {
        assert!(
            host.wait_for_address(vip, present, ELECTION),
            "{what}: {} {} {vip} within {ELECTION:?}; its log:\n{}",
            host.name(),
            if present { "did not get" } else { "kept" },
            daemon_log(k)
        );
    }
}

fn assert_logged(k: &Keepalived, host: &Host, line: &str) {
    assert!(
        k.wait_for_log(line, Duration::from_secs(3)),
        "{} did not log `{line}`; its log:\n{}",
        host.name(),
        daemon_log(k)
    );
}

/// The lines of `host`'s notify log that start with `kind`, without it.
fn notified(host: &Host, kind: &str) -> Vec<String> {
    let text = fs::read_to_string(host.dir().join("notify.log")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix(kind))
        .map(|l| l.trim().to_string())
        .collect()
}

fn group_moves_together(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    link_hosts(a, b, "eth1", Subnet::TestNet2, 10, 20).expect("second link");
    let mut ka = x.start(OURS, a, &config(a, 200));
    let mut kb = y.start(OURS, b, &config(b, 100));

    // Both members of a's group become master together.
    wait_both(a, &ka, true, "start");
    wait_both(b, &kb, false, "start");
    assert_logged(&ka, a, "VRRP_Group(G1) Syncing instances to MASTER state");
    assert_logged(&kb, b, "VRRP_Group(G1) Syncing instances to BACKUP state");

    // a loses its eth0: VI_1 goes to FAULT and takes VI_2 along; b takes both addresses.
    lab.set_port("a", false).expect("port down");
    wait_both(a, &ka, false, "a's eth0 down");
    wait_both(b, &kb, true, "a's eth0 down");
    assert_logged(&ka, a, "VRRP_Group(G1) Syncing instances to FAULT state");

    // The link returns: a's group preempts, and b's master member that hears it takes its
    // group to BACKUP.
    lab.set_port("a", true).expect("port up");
    wait_both(a, &ka, true, "a's eth0 back");
    wait_both(b, &kb, false, "a's eth0 back");

    // The group's own track_script fails on a: the whole group goes to FAULT.
    fs::write(flag(a), "").expect("flag");
    wait_both(a, &ka, false, "a's group script failing");
    wait_both(b, &kb, true, "a's group script failing");
    fs::remove_file(flag(a)).expect("unflag");
    wait_both(a, &ka, true, "a's group script back");
    wait_both(b, &kb, false, "a's group script back");

    ka.stop().expect("stop a");
    kb.stop().expect("stop b");
    // Each group transition ran the group's own command, then `notify` with GROUP G1 STATE 0
    // (the order within one transition is not checked: 2.2.7 forks them together).
    let states = [
        "backup", "master", "fault", "backup", "master", "fault", "backup", "master", "stop",
    ];
    let generic: Vec<String> = states
        .iter()
        .map(|s| {
            let word = s.to_uppercase();
            format!("GROUP G1 {word} 0")
        })
        .collect();
    keepalived_testlab::poll_until(Duration::from_secs(5), || {
        notified(a, "generic").len() >= generic.len() && own_commands(a).len() >= states.len()
    });
    assert_eq!(notified(a, "generic"), generic, "a's group notify ({x:?})");
    assert_eq!(own_commands(a), states, "a's group notify_* ({x:?})");
}

/// The group's own notify commands (`notify_master` …) `host` ran, in order.
fn own_commands(host: &Host) -> Vec<String> {
    let text = fs::read_to_string(host.dir().join("notify.log")).unwrap_or_default();
    text.lines()
        .filter(|l| ["master", "backup", "fault", "stop"].contains(l))
        .map(str::to_string)
        .collect()
}

#[test]
fn sync_group_moves_both_vips_and_runs_group_notify() {
    for_each_pair("sg", group_moves_together);
}

/// A group without scripts on one link: members start straight into BACKUP, which 2.2.7 logs
/// without a `Syncing instances` line but with the group's notify.
fn quiet_config(host: &Host, priority: u8) -> String {
    let notify = notify_script(host);
    format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n\
         \x20   notify \"{notify} generic\"\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 73\n    priority {priority}\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        {VIP1}/32\n    }}\n}}\n\
         vrrp_instance VI_2 {{\n    interface eth0\n    virtual_router_id 74\n    priority {priority}\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        192.0.2.101/32\n    }}\n}}\n"
    )
}

fn quiet_start(lab: &Lab, x: Daemon, y: Daemon) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    let ka = x.start(OURS, a, &quiet_config(a, 200));
    // b starts once a runs its instances, so a's shorter Master_Down_Interval wins whichever
    // daemon starts faster on a loaded machine.
    assert!(
        ka.wait_for_log("Entering BACKUP STATE", ELECTION),
        "a ({x:?}) did not start:\n{}",
        daemon_log(&ka)
    );
    let kb = y.start(OURS, b, &quiet_config(b, 100));
    for vip in [VIP1, "192.0.2.101"] {
        assert!(
            a.wait_for_address(vip, true, ELECTION),
            "a ({x:?}) never held {vip}:\n{}",
            daemon_log(&ka)
        );
    }
    assert_logged(&ka, a, "VRRP_Group(G1) Syncing instances to MASTER state");
    keepalived_testlab::poll_until(Duration::from_secs(5), || {
        notified(a, "generic").len() >= 2 && !notified(b, "generic").is_empty()
    });
    assert_eq!(
        notified(a, "generic"),
        ["GROUP G1 BACKUP 0", "GROUP G1 MASTER 0"],
        "a ({x:?})"
    );
    assert_eq!(notified(b, "generic"), ["GROUP G1 BACKUP 0"], "b ({y:?})");
    for (k, host, daemon) in [(&ka, a, x), (&kb, b, y)] {
        assert!(
            !daemon_log(k).contains("Syncing instances to BACKUP state"),
            "{} ({daemon:?}) logged a sync at start:\n{}",
            host.name(),
            daemon_log(k)
        );
    }
}

#[test]
fn sync_group_members_start_into_backup_without_a_sync_line() {
    for_each_pair("sgq", quiet_start);
}

/// A reload that changes one member's priority: as with keepalived 2.2.7, the member carries
/// on in place (no restart), the group stays master and runs no notify.
#[test]
fn a_reload_changing_one_member_keeps_the_group_master() {
    if !keepalived_testlab::prelude::lab_ready() {
        return;
    }
    let lab = Lab::new("sgr", &["a"]).expect("lab");
    let a = lab.host("a");
    let k = Daemon::Ours.start(OURS, a, &quiet_config(a, 200));
    for vip in [VIP1, "192.0.2.101"] {
        assert!(
            a.wait_for_address(vip, true, ELECTION),
            "never master:\n{}",
            daemon_log(&k)
        );
    }
    let changed = quiet_config(a, 200).replacen(
        "virtual_router_id 74\n    priority 200",
        "virtual_router_id 74\n    priority 190",
        1,
    );
    assert_ne!(changed, quiet_config(a, 200), "VI_2 changes");
    k.write_config(&changed).expect("new config");
    k.reload().expect("reload");
    assert!(
        k.wait_for_log("Reload complete", Duration::from_secs(5)),
        "no reload:\n{}",
        daemon_log(&k)
    );
    std::thread::sleep(Duration::from_secs(2));
    for vip in [VIP1, "192.0.2.101"] {
        assert!(a.has_address(vip).unwrap_or(false), "{vip} lost on reload");
    }
    assert_eq!(
        notified(a, "generic"),
        ["GROUP G1 BACKUP 0", "GROUP G1 MASTER 0"],
        "the group's notify after the reload:\n{}",
        daemon_log(&k)
    );
}

/// Group G1 (VI_1, VI_2) with every option the state dump shows, and VI_3 outside it.
fn dump_config(host: &Host) -> String {
    let tf = host.dir().join("tf");
    let _ = fs::write(&tf, "0\n");
    format!(
        "global_defs {{\n    router_id {name}\n    script_user root\n}}\n\
         vrrp_script chk {{\n    script /bin/true\n    interval 1\n}}\n\
         vrrp_track_file tf {{\n    file {tf}\n    weight 0\n}}\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n\
         \x20   notify_master \"/bin/true master\"\n    notify_backup \"/bin/true backup\"\n\
         \x20   notify_fault \"/bin/true fault\"\n    notify_stop /bin/true\n\
         \x20   notify \"/bin/true generic\"\n    track_script {{\n        chk\n    }}\n\
         \x20   track_interface {{\n        eth0\n    }}\n    track_file {{\n        tf\n    }}\n\
         \x20   smtp_alert\n    notify_priority_changes\n    sync_group_tracking_weight\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 76\n    priority 200\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        192.0.2.76/32\n    }}\n}}\n\
         vrrp_instance VI_2 {{\n    interface eth0\n    virtual_router_id 77\n    priority 200\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        192.0.2.77/32\n    }}\n}}\n\
         vrrp_instance VI_3 {{\n    interface eth0\n    virtual_router_id 78\n    priority 200\n\
         \x20   advert_int 1\n    virtual_ipaddress {{\n        192.0.2.78/32\n    }}\n}}\n",
        name = host.name(),
        tf = tf.display(),
    )
}

/// The state dump's sync group lines: the `VRRP Sync groups` section and each instance's
/// `Sync group =` line (with the instance it belongs to).
fn group_dump(k: &Keepalived) -> Vec<String> {
    let data = std::path::Path::new("/tmp/keepalived.data");
    let _ = fs::remove_file(data);
    k.signal(keepalived_testlab::Signal::Usr1).expect("USR1");
    let text = (0..30)
        .find_map(|_| {
            let text = fs::read_to_string(data).unwrap_or_default();
            if text.contains("------< Interfaces >------") {
                Some(text)
            } else {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .unwrap_or_default();
    let _ = fs::remove_file(data);
    let mut out = Vec::new();
    let mut instance = String::new();
    let mut in_groups = false;
    for line in text.lines() {
        if line.starts_with("------<") {
            in_groups = line == "------< VRRP Sync groups >------";
        }
        if let Some(name) = line.strip_prefix(" VRRP Instance = ") {
            instance = name.to_string();
        }
        if in_groups {
            out.push(line.to_string());
        } else if line.starts_with("   Sync group = ") {
            out.push(format!("{instance}|{line}"));
        }
    }
    out
}

/// The dumps of one daemon: all master, then the group's track file failing.
fn dump_scenario(lab: &Lab, daemon: Daemon) -> (Vec<String>, Vec<String>) {
    let a = lab.host("a");
    let tf = a.dir().join("tf");
    let mut k = daemon.start(OURS, a, &dump_config(a));
    for vip in ["192.0.2.76", "192.0.2.77", "192.0.2.78"] {
        assert!(
            a.wait_for_address(vip, true, ELECTION),
            "{daemon:?} never master:\n{}",
            daemon_log(&k)
        );
    }
    let master = group_dump(&k);
    fs::write(&tf, "1\n").expect("tf");
    assert!(
        a.wait_for_address("192.0.2.76", false, ELECTION),
        "{daemon:?}: the track file did not take the group down:\n{}",
        daemon_log(&k)
    );
    // Both members in FAULT.
    assert!(
        k.wait_for_log("(VI_2) Entering FAULT STATE", ELECTION)
            || k.wait_for_log("Syncing instances to FAULT state", ELECTION),
        "{daemon:?}: no FAULT:\n{}",
        daemon_log(&k)
    );
    std::thread::sleep(Duration::from_millis(500));
    let fault = group_dump(&k);
    k.stop().expect("stop");
    fs::write(&tf, "0\n").expect("tf");
    (master, fault)
}

#[test]
fn sync_group_dump_matches_keepalived() {
    if !keepalived_testlab::prelude::lab_ready()
        || !keepalived_testlab::require_programs(&[keepalived_testlab::KEEPALIVED_BIN])
    {
        return;
    }
    let lab = Lab::new("sgd", &["a"]).expect("lab");
    let (real_master, real_fault) = dump_scenario(&lab, Daemon::Real);
    let (ours_master, ours_fault) = dump_scenario(&lab, Daemon::Ours);
    assert!(
        real_master.contains(&"VI_2|   Sync group = G1".to_string())
            && real_master.contains(&" VRRP Sync Group = G1, MASTER".to_string()),
        "keepalived 2.2.7 wrote another dump than seen before: {real_master:#?}"
    );
    assert_eq!(
        ours_master, real_master,
        "as master: ours (left), 2.2.7 (right)"
    );
    assert!(
        real_fault.contains(&" VRRP Sync Group = G1, FAULT".to_string()),
        "{real_fault:#?}"
    );
    assert_eq!(
        ours_fault, real_fault,
        "in FAULT: ours (left), 2.2.7 (right)"
    );
}

/// The lines after `marker` that say how instances and groups enter FAULT, each from its first
/// `(` on (ours `VRRP_Instance(VI_1) …`, 2.2.7's `(VI_1) …`). `Now in FAULT state` is ours
/// alone (the contract's catalogue keeps it) and is left out.
fn fault_lines(log: &str, marker: &str) -> Vec<String> {
    let after = log.find(marker).map_or("", |at| &log[at..]);
    after
        .lines()
        .filter(|l| {
            [
                "Entering FAULT STATE",
                "sent 0 priority",
                "removing VIPs.",
                "Syncing instances to FAULT",
            ]
            .iter()
            .any(|needle| l.contains(needle))
        })
        .filter_map(|l| l.find('(').map(|at| l[at..].to_string()))
        .collect()
}

/// `daemon` alone on a, masters of both members; b takes a's `eth1` down. Returns the FAULT
/// lines it logged and the priorities of the adverts of VI_1 (VRID 73) on `eth0` from then on.
fn fault_by_link_and_group(lab: &Lab, daemon: Daemon) -> (Vec<String>, Vec<u8>) {
    let (a, b) = (lab.host("a"), lab.host("b"));
    link_hosts(a, b, "eth1", Subnet::TestNet2, 10, 20).expect("second link");
    let config = quiet_config(a, 200).replace(
        "interface eth0\n    virtual_router_id 74",
        "interface eth1\n    virtual_router_id 74",
    );
    let config = config.replace("192.0.2.101/32", &format!("{VIP2}/32 dev eth1"));
    let mut k = daemon.start(OURS, a, &config);
    wait_both(a, &k, true, "start");
    assert_logged(&k, a, "VRRP_Group(G1) Syncing instances to MASTER state");
    let mut capture = b.capture("eth0").expect("capture");
    // a's eth1 loses its carrier: VI_2 enters FAULT for its link, VI_1 for its group.
    b.set_link("eth1", false).expect("b's eth1 down");
    wait_both(a, &k, false, "a's eth1 down");
    assert_logged(&k, a, "(VI_1) Entering FAULT STATE");
    // Room for a late advert, so one sent after the FAULT shows.
    std::thread::sleep(Duration::from_millis(1500));
    let frames = capture.frames().expect("frames");
    let priorities = keepalived_testlab::adverts(&frames)
        .iter()
        .filter(|ad| ad.vrid == 73)
        .map(|ad| ad.priority)
        .skip_while(|&p| p != 0)
        .collect();
    let lines = fault_lines(&daemon_log(&k), "Netlink reports eth1 down");
    k.stop().expect("stop");
    (lines, priorities)
}

/// keepalived 2.2.7 (observed): a master whose link goes down logs `Entering FAULT STATE`
/// before `sent 0 priority` and `removing VIPs.`; a master its group takes to FAULT sends a
/// priority-0 advert too but does not log `sent 0 priority`. Ours beside it, each alone.
#[test]
fn fault_lines_and_priority_zero_follow_keepalived() {
    if !keepalived_testlab::prelude::lab_ready() {
        return;
    }
    let [ours, real] = std::thread::scope(|s| {
        [Daemon::Ours, Daemon::Real]
            .map(|daemon| {
                s.spawn(move || {
                    let tag = if daemon == Daemon::Real {
                        "sgfr"
                    } else {
                        "sgfo"
                    };
                    let lab = Lab::new(tag, &["a", "b"]).expect("lab");
                    fault_by_link_and_group(&lab, daemon)
                })
            })
            .map(|h| h.join().expect("scenario"))
    });
    let expected = [
        "(VI_2) Entering FAULT STATE",
        "(VI_2) sent 0 priority",
        "(VI_2) removing VIPs.",
        "(G1) Syncing instances to FAULT state",
        "(VI_1) Entering FAULT STATE",
        "(VI_1) removing VIPs.",
    ];
    assert_eq!(real.0, expected, "2.2.7's lines");
    assert_eq!(ours.0, real.0, "ours (left), 2.2.7 (right)");
    assert_eq!(real.1, [0], "2.2.7 sends one priority-0 advert for VI_1");
    assert_eq!(ours.1, real.1, "VI_1's adverts from the FAULT on");
}
