//! The checker child's notify FIFO lines (`notify_fifo` and `lvs_notify_fifo` of global_defs)
//! on a real kernel with IPVS: Debian's kernel under QEMU (crates/testlab's qemu lab), real
//! servers (busybox httpd) going down and coming back, a quorum lost and gained, `omega` at the
//! stop. The scenario runs with keepalived 2.2.7 and with ours in the same boot; the lines each
//! FIFO received, event by event, must be the same.
//!
//! What 2.2.7 writes (observed here): `VS [198.51.100.10]:tcp:80 UP` / `DOWN` when a virtual
//! server gains or loses its quorum, `RS [192.0.2.11]:tcp:80 [198.51.100.10]:tcp:80 DOWN` /
//! `UP` when a real server leaves or enters its pool, the same lines to both FIFOs; with
//! `omega`, at the stop, the alive real servers' `DOWN` lines and the virtual server's (its
//! `quorum_down` runs there too).
//!
//! Run: `cargo test -p keepalived --test checker_fifo_vm` (as root with keepalived 2.2.7,
//! qemu-system-x86 and ipvsadm; returns early otherwise).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use keepalived_testlab::qemu::{self, BootOutput, Initramfs};
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Virtual server 1: quorum 2 over two real servers; virtual server 2: one real server,
/// `omega`.
const CONFIG: &str = r#"
global_defs {
    router_id LB_F
    notify_fifo /tmp/fifo-all
    lvs_notify_fifo /tmp/fifo-lvs
}
virtual_server 198.51.100.10 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    real_server 192.0.2.11 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.12 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
virtual_server 198.51.100.20 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    omega
    quorum_up "/bin/note.sh quorum_up"
    quorum_down "/bin/note.sh quorum_down"
    real_server 192.0.2.13 80 {
        notify_down "/bin/note.sh rs_down"
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"#;

/// The guest's part: one run per binary, the FIFOs made beforehand and read by `cat`.
const SCRIPT: &str = r#"
for a in 192.0.2.11 192.0.2.12 192.0.2.13; do /usr/bin/ip addr add $a/32 dev lo; done
mkdir -p /www && echo "hello" > /www/index.html
serve() { httpd -f -p $1:80 -h /www & echo $! > /run/srv-$1; }
unserve() { kill $(cat /run/srv-$1) 2>/dev/null; }
mark() { for f in all lvs; do echo "--- EVENT $1" >> /tmp/out-$f-$LABEL; done; }
started() {
    i=0
    while ! grep -q "Activating BFD healthchecker" $1 2>/dev/null && [ $i -lt 150 ]; do
        sleep 0.2; i=$((i+1))
    done
}
run() {
    LABEL=$1
    ipvsadm -C
    rm -f /tmp/fifo-all /tmp/fifo-lvs
    mkfifo /tmp/fifo-all /tmp/fifo-lvs
    : > /tmp/out-all-$LABEL; : > /tmp/out-lvs-$LABEL; : > /tmp/notes
    cat /tmp/fifo-all >> /tmp/out-all-$LABEL & CAT1=$!
    cat /tmp/fifo-lvs >> /tmp/out-lvs-$LABEL & CAT2=$!
    serve 192.0.2.11; serve 192.0.2.12; serve 192.0.2.13
    $2 -n -l -D -C -f /etc/fifo.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    started /tmp/log-$1
    sleep 4; mark down
    unserve 192.0.2.11
    sleep 4; mark down2
    unserve 192.0.2.13
    sleep 4; mark up
    serve 192.0.2.11; serve 192.0.2.13
    sleep 4; mark stop
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
    sleep 1
    kill $CAT1 $CAT2 2>/dev/null
    unserve 192.0.2.11; unserve 192.0.2.12; unserve 192.0.2.13
    echo "=== $LABEL all" >&3; cat /tmp/out-all-$LABEL >&3
    echo "=== $LABEL lvs" >&3; cat /tmp/out-lvs-$LABEL >&3
    echo "=== $LABEL notes" >&3; cat /tmp/notes >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$1 >&3
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
    let work = qemu::work_dir("checker-fifo").expect("work dir");
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
    ramfs
        .add_file("/etc/fifo.conf", CONFIG.as_bytes(), 0o644)
        .expect("config");
    ramfs
        .add_file(
            "/bin/note.sh",
            b"#!/bin/sh\necho \"$*\" >> /tmp/notes\n",
            0o755,
        )
        .expect("note script");
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

/// The FIFO's lines by the event they followed (`start`, `down`, …), each event's lines
/// sorted (servers checked at the same time change in either order).
fn by_event(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut event = "start".to_string();
    for line in lines {
        if let Some(e) = line.strip_prefix("--- EVENT ") {
            event = e.trim().to_string();
            out.entry(event.clone()).or_default();
        } else if !line.trim().is_empty() {
            out.entry(event.clone()).or_default().push(line.clone());
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

#[test]
fn checker_fifo_lines_are_keepalived_2_2_7_s() {
    let Some(out) = boot_lab() else { return };
    let sections: BTreeMap<String, Vec<String>> =
        qemu::sections(&out.results).into_iter().collect();
    let get = |name: &str| {
        sections
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no section {name} in:\n{}", out.results))
    };
    let theirs = by_event(&get("ref all"));
    println!("2.2.7: {theirs:#?}");
    // The scenario is not vacuous: 2.2.7 wrote a real server going down and a quorum lost.
    let down = theirs.get("down").cloned().unwrap_or_default();
    assert!(
        down.contains(&"RS [192.0.2.11]:tcp:80 [198.51.100.10]:tcp:80 DOWN".to_string())
            && down.contains(&"VS [198.51.100.10]:tcp:80 DOWN".to_string()),
        "2.2.7 wrote other lines than seen before: {theirs:#?}\n{}",
        out.results
    );
    let mut problems = Vec::new();
    for fifo in ["all", "lvs"] {
        let theirs = by_event(&get(&format!("ref {fifo}")));
        let ours = by_event(&get(&format!("ours {fifo}")));
        if theirs != ours {
            problems.push(format!(
                "FIFO {fifo}: the lines differ:\n2.2.7: {theirs:#?}\nours: {ours:#?}"
            ));
        }
    }
    // The notify scripts of virtual server 2 (omega): the same runs (those at the stop run
    // at the same time, in either order, so the runs are compared sorted). 2.2.7 runs
    // quorum_down twice: when the quorum is lost and at the stop.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let (theirs, ours) = (sorted(get("ref notes")), sorted(get("ours notes")));
    assert_eq!(
        theirs.iter().filter(|l| *l == "quorum_down").count(),
        2,
        "2.2.7 ran other scripts than seen before: {theirs:?}"
    );
    if theirs != ours {
        problems.push(format!(
            "notify scripts: 2.2.7 ran {theirs:?}, ours {ours:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\n\nfull results:\n{}",
        problems.join("\n\n"),
        out.results
    );
}
