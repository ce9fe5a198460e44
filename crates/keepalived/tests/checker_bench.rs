//! Benchmark (ignored by default): the checker child with 1,000 real servers checked by
//! TCP_CHECK every second, keepalived 2.2.7 and ours one after the other in the same QEMU guest
//! (Debian's kernel with IPVS, pure emulation). Prints CPU time and RSS of each checker child;
//! asserts nothing about speed.
//!
//! Run: `cargo build --release -p keepalived-testlab --bin tcp-sink && cargo test --release -p
//! keepalived --test checker_bench -- --ignored --nocapture`

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalived_testlab::qemu::{self, Initramfs};
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Virtual servers, each with [`PER_VS`] real servers on its own port.
const VIRTUAL_SERVERS: u16 = 4;
/// Real servers per virtual server (addresses 203.0.113.1 to .250).
const PER_VS: u16 = 250;
/// Seconds measured after the warm-up.
const MEASURE_SECS: u32 = 30;

fn config() -> String {
    let mut c = String::new();
    for v in 0..VIRTUAL_SERVERS {
        let port = 8000 + v;
        let _ = writeln!(
            c,
            "virtual_server 198.51.100.{} {port} {{\n    delay_loop 1\n    lb_algo rr\n    \
             lb_kind DR\n    protocol TCP",
            v + 1
        );
        for r in 1..=PER_VS {
            let _ = writeln!(
                c,
                "    real_server 203.0.113.{r} {port} {{\n        TCP_CHECK {{\n            \
                 connect_timeout 1\n        }}\n    }}"
            );
        }
        c.push_str("}\n");
    }
    c
}

const SCRIPT: &str = r#"
i=1; while [ $i -le 250 ]; do /usr/bin/ip addr add 203.0.113.$i/32 dev lo; i=$((i+1)); done
/bin/tcp-sink 8000 8001 8002 8003 &
ticks() { set -- $(cat /proc/$1/stat); echo $(( ${14} + ${15} )); }
bench() {
    ipvsadm -C
    $2 -n -C -f /etc/bench.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    sleep 20
    CPID=$(cat /run/c-$1.pid)
    T0=$(ticks $CPID)
    sleep MEASURE
    T1=$(ticks $CPID)
    RSS=$(grep VmRSS /proc/$CPID/status | tr -s ' ' | cut -d' ' -f2)
    DESTS=$(ipvsadm -Ln | grep -c -- '->.*Route')
    echo "=== bench $1" >&3
    echo "ticks $((T1 - T0)) rss_kb $RSS dests $DESTS" >&3
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
}
bench ref /usr/sbin/keepalived
bench ours /usr/sbin/keepalived-rs
"#;

fn sink() -> Option<PathBuf> {
    let sink = Path::new(OURS).parent()?.join("tcp-sink");
    sink.is_file().then_some(sink)
}

#[test]
#[ignore = "benchmark: boots a VM for about two minutes"]
fn checker_1000_tcp_checks_cpu_and_rss() {
    if !require_root() {
        return;
    }
    let mut programs = qemu::LAB_PROGRAMS.to_vec();
    programs.extend(["/usr/sbin/ipvsadm", KEEPALIVED_BIN, "/usr/bin/ip"]);
    if !require_programs(&programs) {
        return;
    }
    let Some(sink) = sink() else {
        println!("skipped: needs tcp-sink next to keepalived (cargo build -p keepalived-testlab)");
        return;
    };
    let work = qemu::work_dir("checker-bench").expect("work dir");
    let kernel = qemu::prepare(Path::new(qemu::CACHE_DIR)).expect("kernel");
    let ramfs = Initramfs::new(&kernel, &work.join("root")).expect("initramfs");
    for (host, guest) in [
        (Path::new(KEEPALIVED_BIN), "/usr/sbin/keepalived"),
        (Path::new(OURS), "/usr/sbin/keepalived-rs"),
        (Path::new("/usr/sbin/ipvsadm"), "/usr/sbin/ipvsadm"),
        (Path::new("/usr/bin/ip"), "/usr/bin/ip"),
        (sink.as_path(), "/bin/tcp-sink"),
    ] {
        ramfs.add_program(host, guest).expect("program");
    }
    ramfs
        .add_file("/etc/bench.conf", config().as_bytes(), 0o644)
        .expect("config");
    ramfs
        .set_script(&SCRIPT.replace("MEASURE", &MEASURE_SECS.to_string()))
        .expect("script");
    let initrd = work.join("initrd.gz");
    ramfs.build(&initrd).expect("cpio");
    let out = qemu::boot(&kernel, &initrd, &work, Duration::from_secs(400)).expect("boot");
    // The staging tree and the archive are large; the serial logs stay for a failing run.
    let _ = std::fs::remove_dir_all(work.join("root"));
    let _ = std::fs::remove_file(&initrd);
    assert!(out.finished, "guest did not finish:\n{}", out.console);
    println!(
        "checker child, {} real servers, TCP_CHECK every 1 s, {MEASURE_SECS} s measured \
         (QEMU TCG guest, 1 vCPU):",
        VIRTUAL_SERVERS * PER_VS
    );
    println!("| daemon | CPU s | CPU % | RSS KiB | destinations |");
    println!("|---|---|---|---|---|");
    for (name, lines) in qemu::sections(&out.results) {
        let Some(label) = name.strip_prefix("bench ") else {
            continue;
        };
        let words: Vec<&str> = lines
            .first()
            .map(|l| l.split(' ').collect())
            .unwrap_or_default();
        let value = |key: &str| -> f64 {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let cpu = value("ticks") / 100.0;
        let who = if label == "ref" {
            "keepalived 2.2.7"
        } else {
            "keepalived-rs"
        };
        println!(
            "| {who} | {cpu:.2} | {:.1} | {} | {} |",
            100.0 * cpu / f64::from(MEASURE_SECS),
            value("rss_kb"),
            value("dests")
        );
    }
}
