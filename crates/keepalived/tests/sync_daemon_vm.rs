//! `lvs_sync_daemon` (global_defs) on a real kernel with IPVS: Debian's kernel under QEMU
//! (crates/testlab's qemu lab). A VRRP instance on one end of a veth pair follows its state
//! (BACKUP at the start, MASTER, pushed back to BACKUP by a higher-priority peer in another
//! network namespace, a reload, MASTER again, the stop), and `ipvsadm -L --daemon` is read
//! after each event. The scenario runs with keepalived 2.2.7 and with ours in the same boot;
//! the two timelines (the daemons the kernel runs, and the lines logged about them) must agree.
//!
//! What 2.2.7 does (observed here): the backup daemon from the start, the master daemon
//! while MASTER, the backup daemon again once pushed back, none after the stop; `Initializing
//! ipvs` at the start (with and without `-D`), `Reinitializing ipvs` and `IPVS cmd
//! IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)` at a reload; `Unable
//! to find vrrp instance VI_9 for lvs_syncd - clearing lvs_syncd config` for an unknown
//! instance; the kernel's refusals of a missing interface at the start and the stop; and
//! the 1.x `lvs_sync_daemon_interface` of an instance running a daemon with sync id 0.
//! Reloads (run `-change`): new settings or interface stop the running daemon and start the
//! new one, silently but for `Reinitializing ipvs`; another instance moves the daemon to its
//! state; a removed line leaves the daemon running (past the stop, `-change-removestop`)
//! and logs no `Reinitializing ipvs`; an unknown instance leaves it running too (the line
//! cleared); the line written again stops the left-over daemon.
//!
//! Run: `cargo test -p keepalived --test sync_daemon_vm` (as root with keepalived 2.2.7,
//! qemu-system-x86 and ipvsadm; returns early otherwise).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use keepalived_testlab::qemu::{self, BootOutput, Initramfs};
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Every option given.
const CONFIG: &str = r#"
global_defs {
    router_id LB_S
    lvs_sync_daemon veth0 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90
}
vrrp_instance VI_1 {
    state BACKUP
    interface veth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/32
    }
}
"#;

/// The defaults (sync id from the instance's virtual router id).
const CONFIG_DEFAULTS: &str = r#"
global_defs {
    router_id LB_S
    lvs_sync_daemon veth0 VI_1
}
vrrp_instance VI_1 {
    state BACKUP
    interface veth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/32
    }
}
"#;

/// The instance's deprecated form (keepalived 1.x).
const CONFIG_DEPRECATED: &str = r#"
vrrp_instance VI_1 {
    state BACKUP
    interface veth0
    lvs_sync_daemon_interface veth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/32
    }
}
"#;

/// The reloads' file: `SYNC_LINE` is replaced by each step's `lvs_sync_daemon` line. VI_2
/// tracks veth4, which stays down: it is in FAULT while VI_1 becomes MASTER.
const CONFIG_CHANGE: &str = r#"
global_defs {
    router_id LB_S
    SYNC_LINE
}
vrrp_instance VI_1 {
    state BACKUP
    interface veth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/32
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface veth0
    track_interface {
        veth4
    }
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.101/32
    }
}
"#;

/// The reloads of the `-change` run, in order: the step's name and its `lvs_sync_daemon`
/// line (empty: none). The first is the file at the start.
const CHANGES: &[(&str, &str)] = &[
    (
        "master",
        "lvs_sync_daemon veth0 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90",
    ),
    (
        "options",
        "lvs_sync_daemon veth0 VI_1 id 8 maxlen 1300 port 8851 ttl 3 group 224.0.0.91",
    ),
    (
        "interface",
        "lvs_sync_daemon veth2 VI_1 id 8 maxlen 1300 port 8851 ttl 3 group 224.0.0.91",
    ),
    (
        "instance",
        "lvs_sync_daemon veth2 VI_2 id 8 maxlen 1300 port 8851 ttl 3 group 224.0.0.91",
    ),
    ("removed", ""),
    ("added", "lvs_sync_daemon veth0 VI_1"),
    ("unknown", "lvs_sync_daemon veth0 VI_9"),
    ("again", "lvs_sync_daemon veth0 VI_1"),
];

/// The peer in the other namespace: the same router, a higher priority.
const PEER: &str = r#"
global_defs {
    router_id PEER
}
vrrp_instance VI_1 {
    state BACKUP
    interface veth1
    virtual_router_id 51
    priority 200
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/32
    }
}
"#;

/// The guest's part: a veth pair (veth1 in namespace `peer`), one run per binary.
const SCRIPT: &str = r#"
modprobe veth
/usr/bin/ip netns add peer
/usr/bin/ip link add veth0 type veth peer name veth1
/usr/bin/ip link set veth1 netns peer
/usr/bin/ip addr add 192.0.2.1/24 dev veth0
/usr/bin/ip link set veth0 up
/usr/bin/ip netns exec peer /usr/bin/ip addr add 192.0.2.2/24 dev veth1
/usr/bin/ip netns exec peer /usr/bin/ip link set veth1 up
/usr/bin/ip netns exec peer /usr/bin/ip link set lo up
# A second interface for the daemon (up, with an address: the kernel's sync socket takes
# one), and veth4 left down (tracked by VI_2 of the -change run).
/usr/bin/ip link add veth2 type veth peer name veth3
/usr/bin/ip addr add 198.51.100.1/24 dev veth2
/usr/bin/ip link set veth3 up
/usr/bin/ip link set veth2 up
/usr/bin/ip link add veth4 type veth peer name veth5
waitfor() {
    i=0
    while :; do
        n=$(grep -c "$2" $1 2>/dev/null)
        [ "${n:-0}" -ge "$3" ] && break
        [ $i -ge 150 ] && break
        sleep 0.2; i=$((i+1))
    done
}
snap() { echo "--- EVENT $1" >> /tmp/snap-$LABEL; ipvsadm -L --daemon >> /tmp/snap-$LABEL 2>&1; }
stopk() {
    kill -TERM $1
    i=0; while kill -0 $1 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
}
# A short run: start (as BACKUP), stop. $1 label, $2 binary, $3 config, $4 options.
short() {
    LABEL=$1
    : > /tmp/snap-$LABEL; : > /tmp/log-$LABEL
    $2 -n -l $4 -f $3 -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$LABEL 2>&1 &
    KPID=$!
    waitfor /tmp/log-$LABEL "Entering BACKUP STATE" 1
    sleep 1; snap start
    stopk $KPID
    sleep 1; snap stop
    echo "=== $LABEL snap" >&3; cat /tmp/snap-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$LABEL >&3
}
# Reloads changing the lvs_sync_daemon line (CHANGES in the test): the first file at the
# start, then each of the others by SIGHUP, a snapshot after each. $1 label, $2 binary.
change() {
    LABEL=$1
    : > /tmp/snap-$LABEL; : > /tmp/log-$LABEL
    cp /etc/change-master.conf /etc/change.conf
    $2 -n -l -D -f /etc/change.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$LABEL 2>&1 &
    KPID=$!
    waitfor /tmp/log-$LABEL "(VI_1) Entering MASTER STATE" 1
    sleep 2; snap master
    for step in options interface instance removed added unknown again; do
        n=$(grep -c Reloading /tmp/log-$LABEL)
        cp /etc/change-$step.conf /etc/change.conf
        kill -HUP $KPID
        waitfor /tmp/log-$LABEL Reloading $((n+1))
        sleep 3; snap $step
    done
    stopk $KPID
    sleep 1; snap stop
    echo "=== $LABEL snap" >&3; cat /tmp/snap-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$LABEL >&3
    # The line removed by a reload, then the stop: what is left running (cleared after).
    LABEL=$1-removestop
    : > /tmp/snap-$LABEL; : > /tmp/log-$LABEL
    cp /etc/change-master.conf /etc/change.conf
    $2 -n -l -D -f /etc/change.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$LABEL 2>&1 &
    KPID=$!
    waitfor /tmp/log-$LABEL "(VI_1) Entering MASTER STATE" 1
    sleep 2; snap master
    n=$(grep -c Reloading /tmp/log-$LABEL)
    cp /etc/change-removed.conf /etc/change.conf
    kill -HUP $KPID
    waitfor /tmp/log-$LABEL Reloading $((n+1))
    sleep 3; snap removed
    stopk $KPID
    sleep 1; snap stop
    ipvsadm --stop-daemon master > /dev/null 2>&1
    ipvsadm --stop-daemon backup > /dev/null 2>&1
    echo "=== $LABEL snap" >&3; cat /tmp/snap-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$LABEL >&3
}
run() {
    LABEL=$1
    : > /tmp/snap-$LABEL
    $2 -n -l -D -f /etc/sync.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    waitfor /tmp/log-$1 "Entering BACKUP STATE" 1
    sleep 1; snap start
    waitfor /tmp/log-$1 "Entering MASTER STATE" 1
    sleep 1; snap master
    /usr/bin/ip netns exec peer /usr/sbin/keepalived -n -l -f /etc/peer.conf \
        -p /run/pk.pid -c /run/pc.pid -r /run/pv.pid > /tmp/peer-$1 2>&1 &
    PPID2=$!
    waitfor /tmp/log-$1 "Entering BACKUP STATE" 2
    sleep 1; snap backup
    kill -HUP $KPID
    waitfor /tmp/log-$1 "Reload" 2
    sleep 2; snap reload
    stopk $PPID2
    waitfor /tmp/log-$1 "Entering MASTER STATE" 2
    sleep 1; snap master2
    stopk $KPID
    sleep 1; snap stop
    echo "=== $LABEL snap" >&3; cat /tmp/snap-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$1 >&3
    echo "=== $LABEL peer" >&3; cat /tmp/peer-$1 >&3
    # The defaults: start, MASTER, stop.
    LABEL=$1-defaults
    : > /tmp/snap-$LABEL
    $2 -n -l -D -f /etc/sync-defaults.conf -p /run/k-$1.pid -c /run/c-$1.pid \
        -r /run/v-$1.pid > /tmp/logd-$1 2>&1 &
    KPID=$!
    waitfor /tmp/logd-$1 "Entering MASTER STATE" 1
    sleep 1; snap master
    stopk $KPID
    sleep 1; snap stop
    echo "=== $LABEL snap" >&3; cat /tmp/snap-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/logd-$1 >&3
    short $1-quiet $2 /etc/sync.conf ""
    short $1-noinst $2 /etc/sync-noinst.conf -D
    short $1-noif $2 /etc/sync-noif.conf -D
    short $1-depr $2 /etc/sync-depr.conf -D
    change $1-change $2
}
run ref /usr/sbin/keepalived
run ours /usr/sbin/keepalived-rs
"#;

fn boot_lab() -> Option<BootOutput> {
    if !require_root() {
        return None;
    }
    let mut programs = qemu::LAB_PROGRAMS.to_vec();
    programs.extend(["/usr/sbin/ipvsadm", KEEPALIVED_BIN, "/usr/bin/ip"]);
    if !require_programs(&programs) {
        println!("skipped: needs root, qemu, ipvsadm and keepalived 2.2.7");
        return None;
    }
    let work = qemu::work_dir("sync-daemon").expect("work dir");
    let kernel = qemu::prepare(Path::new(qemu::CACHE_DIR)).expect("kernel");
    let ramfs = Initramfs::new(&kernel, &work.join("root")).expect("initramfs");
    for (from, to) in [
        (KEEPALIVED_BIN, "/usr/sbin/keepalived"),
        (OURS, "/usr/sbin/keepalived-rs"),
        ("/usr/sbin/ipvsadm", "/usr/sbin/ipvsadm"),
        ("/usr/bin/ip", "/usr/bin/ip"),
    ] {
        ramfs.add_program(Path::new(from), to).expect(to);
    }
    // The lab's module set has no veth: carry it in beside the others (modules.dep, copied
    // whole from the kernel package, already names it).
    let veth = "kernel/drivers/net/veth.ko";
    let module = std::fs::read(kernel.modules.join(veth)).expect("veth.ko");
    ramfs
        .add_file(
            &format!("/lib/modules/{}/{veth}", kernel.release),
            &module,
            0o644,
        )
        .expect("veth module");
    // A daemon naming an instance the file does not have, and an interface that does not
    // exist.
    let noinst = CONFIG.replace("veth0 VI_1 id", "veth0 VI_9 id");
    let noif = CONFIG.replace("veth0 VI_1 id", "nosuch0 VI_1 id");
    for (path, text) in [
        ("/etc/sync.conf", CONFIG),
        ("/etc/sync-defaults.conf", CONFIG_DEFAULTS),
        ("/etc/peer.conf", PEER),
        ("/etc/sync-noinst.conf", &noinst),
        ("/etc/sync-noif.conf", &noif),
        ("/etc/sync-depr.conf", CONFIG_DEPRECATED),
    ] {
        ramfs.add_file(path, text.as_bytes(), 0o644).expect(path);
    }
    for (step, line) in CHANGES {
        let path = format!("/etc/change-{step}.conf");
        let text = CONFIG_CHANGE.replace("SYNC_LINE", line);
        ramfs
            .add_file(&path, text.as_bytes(), 0o644)
            .expect("change");
    }
    ramfs.set_script(SCRIPT).expect("script");
    let initrd = work.join("initrd.gz");
    ramfs.build(&initrd).expect("cpio");
    let out = qemu::boot(&kernel, &initrd, &work, Duration::from_secs(600)).expect("boot");
    let _ = std::fs::remove_dir_all(work.join("root"));
    let _ = std::fs::remove_file(&initrd);
    println!("boot took {:?}", out.elapsed);
    std::fs::write(work.join("results.txt"), &out.results).ok();
    if !out.finished {
        panic!(
            "the guest did not finish; console:\n{}\nresults:\n{}",
            out.console, out.results
        );
    }
    Some(out)
}

/// `ipvsadm -L --daemon`'s lines by the event they followed.
fn by_event(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut event = "none".to_string();
    for line in lines {
        if let Some(e) = line.strip_prefix("--- EVENT ") {
            event = e.trim().to_string();
            out.entry(event.clone()).or_default();
        } else if !line.trim().is_empty() {
            out.entry(event.clone())
                .or_default()
                .push(line.trim().to_string());
        }
    }
    out
}

/// The log lines about IPVS and its daemons, in order, without the time stamps or process
/// names before the first `: `.
fn sync_lines(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("ipvs") || l.contains("lvs_sync")
        })
        .map(|l| match l.split_once(": ") {
            Some((_, text)) => text.trim().to_string(),
            None => l.trim().to_string(),
        })
        .collect()
}

/// The runs of the script: the full timeline, the defaults, without `-D`, an unknown
/// instance, a missing interface, the instance's deprecated keyword, reloads changing the
/// settings.
const RUNS: &[&str] = &[
    "",
    "-defaults",
    "-quiet",
    "-noinst",
    "-noif",
    "-depr",
    "-change",
    "-change-removestop",
];

#[test]
fn sync_daemons_follow_the_instance_as_keepalived_2_2_7() {
    let Some(out) = boot_lab() else { return };
    let sections: BTreeMap<String, Vec<String>> =
        qemu::sections(&out.results).into_iter().collect();
    let get = |name: &str| {
        sections
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no section {name} in:\n{}", out.results))
    };
    // The scenario is not vacuous: 2.2.7 ran the backup daemon, then the master daemon,
    // then the backup daemon again, and none after the stop.
    let theirs = by_event(&get("ref snap"));
    let first = |event: &str| {
        theirs
            .get(event)
            .and_then(|l| l.first())
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        [
            first("start"),
            first("master"),
            first("backup"),
            first("stop")
        ],
        ["backup", "master", "backup", ""],
        "2.2.7 ran other daemons than seen before: {theirs:#?}"
    );
    // The reloads are not vacuous either: under 2.2.7 each change of the settings or of the
    // instance changed the daemon the kernel runs.
    let changes = by_event(&get("ref-change snap"));
    for pair in CHANGES.windows(2).take(3) {
        let (before, after) = (changes.get(pair[0].0), changes.get(pair[1].0));
        assert!(
            before.is_some() && before != after,
            "2.2.7 kept its daemon from {} to {}: {changes:#?}",
            pair[0].0,
            pair[1].0
        );
    }
    let mut problems = Vec::new();
    for run in RUNS {
        let theirs = by_event(&get(&format!("ref{run} snap")));
        let ours = by_event(&get(&format!("ours{run} snap")));
        println!("2.2.7{run}: {theirs:#?}");
        if theirs != ours {
            problems.push(format!(
                "run{run}: the daemons differ:\n2.2.7: {theirs:#?}\nours: {ours:#?}"
            ));
        }
        let theirs = sync_lines(&get(&format!("ref{run} log")));
        let ours = sync_lines(&get(&format!("ours{run} log")));
        println!("2.2.7{run} log: {theirs:#?}");
        if theirs != ours {
            problems.push(format!(
                "run{run}: the lines differ:\n2.2.7: {theirs:#?}\nours: {ours:#?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nfull results:\n{}",
        problems.join("\n\n"),
        out.results
    );
}
