//! Benchmarks (ignored by default), keepalived 2.2.7 and ours one after the other in the same
//! QEMU guest (Debian's kernel with IPVS, pure emulation); they print figures and assert
//! nothing about speed:
//!
//! - `checker_1000_tcp_checks_cpu_and_rss`: the checker child with 1,000 real servers checked
//!   by TCP_CHECK every second, its CPU time and RSS, the connections it made (the guest's TCP
//!   counters), its system calls and a profile; beside them the same figures of
//!   `tcp-check-floor`, the least a checker making those connections can cost; with the
//!   servers (`tcp-sink`) on the guest's loopback, where the guest's kernel does both ends of
//!   every connection, and (`checker_1000_tcp_checks_servers_on_host`) natively on the host
//!   behind a tap device, where the guest does only the client's end;
//! - `checker_reload_2000_vs_37000_rs`: a reload of 2,000 virtual servers / 37,000 real servers
//!   where one real server's weight changed: the IPVS commands each daemon sends after the
//!   SIGHUP (counted on an `nlmon` device by `nl-count`) and when the last one came, then the
//!   kernel's own time for that one command in the full table (`ipvs-edit-time`); also
//!   (`checker_reload_2000_vs_37000_rs_uml`) under User-mode Linux, a real kernel run as a
//!   process on the host's CPU.
//!
//! Run: `cargo build --release -p keepalived-testlab --bin tcp-sink --bin tcp-check-floor --bin
//! nl-count --bin ipvs-edit-time && cargo test --release -p keepalived --test checker_bench --
//! --ignored --nocapture`
//! (one test: `-- --ignored --nocapture --exact NAME`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalived_bench::lvs_reload::{CHANGED, RELOAD_RS, RELOAD_VS, reload_config, reload_vs};
use keepalived_testlab::qemu::{self, Initramfs, TapNet};
use keepalived_testlab::uml;
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The keepalived-rs binary benchmarked: `$KEEPALIVED_RS_BENCH_BIN` (e.g. the static `dist`
/// build as installed), else the one cargo built for this test.
fn ours() -> PathBuf {
    std::env::var_os("KEEPALIVED_RS_BENCH_BIN").map_or_else(|| PathBuf::from(OURS), PathBuf::from)
}

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

/// Where the real servers of the checker benchmark run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Servers {
    /// `tcp-sink` in the guest, the real servers' addresses on its loopback: the kernel's work
    /// for both ends of every connection lands in the guest (and, through the loopback's
    /// softirq, mostly on the checker).
    Loopback,
    /// `tcp-sink` natively on the host, in the namespace of the guest's tap device: the guest
    /// does only the client's half of each connection.
    Host,
}

/// The guest's network for the real servers (`NETIF` names the interface they are reached on).
const SETUP_LOOPBACK: &str = r#"
i=1; while [ $i -le 250 ]; do /usr/bin/ip addr add 203.0.113.$i/32 dev lo; i=$((i+1)); done
/bin/tcp-sink 8000 8001 8002 8003 &
NETIF=lo
"#;

/// The guest's side of [`Servers::Host`]: the virtio card (the only interface with a device
/// behind it) as 192.0.2.2/24, the real servers via the host's tap address.
const SETUP_HOST: &str = r#"
modprobe virtio_pci && modprobe virtio_net
NETIF=
for d in /sys/class/net/*; do [ -e $d/device ] && NETIF=${d##*/}; done
/usr/bin/ip link set $NETIF up
/usr/bin/ip addr add GUEST_CIDR dev $NETIF
/usr/bin/ip route add 203.0.113.0/24 via HOST_ADDR
i=0; while ! ping -c 1 -W 1 HOST_ADDR > /dev/null 2>&1 && [ $i -lt 30 ]; do i=$((i+1)); done
echo "=== net" >&3
echo "iface $NETIF ping_tries $i" >&3
/usr/bin/ip route get 203.0.113.7 >&3
"#;

/// The host's address on the tap device, and the guest's.
const HOST_ADDR: &str = "192.0.2.1";
const GUEST_CIDR: &str = "192.0.2.2/24";

/// The guest's measuring functions; [`RUN`] runs them once for each place of the servers.
const SCRIPT: &str = r#"
utime() { set -- $(cat /proc/$1/stat); echo ${14}; }
stime() { set -- $(cat /proc/$1/stat); echo ${15}; }
kb() { grep "^$2:" /proc/$1/status | tr -s ' ' | cut -d' ' -f2; }
# Context switches (voluntary and not) of a process: how often it slept and woke.
ctxt() { awk '/ctxt_switches:/ { s += $2 } END { print s }' /proc/$1/status; }
echo "=== guest" >&3
# The daemons log to syslog: busybox's keeps their lines in /tmp/messages.
syslogd -O /tmp/messages -s 0 2>/dev/null
echo "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" >&3
# The guest's TCP counters (RFC 4022's tcpActiveOpens, tcpAttemptFails): only the process
# measured connects during its window, so they count its checks.
tcp() { awk '/^Tcp:/ { n++; if (n == 2) print $6, $8 }' /proc/net/snmp; }
# The guest's CPU (ticks: busy, then idle) and tcp-sink's: whether the guest kept up.
cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
# (0 when the servers are not in the guest).
sink() {
    P=$(pidof tcp-sink) || { echo 0; return; }
    set -- $(cat /proc/$P/stat); echo $(( ${14} + ${15} ))
}
# From "busy idle sink" at the start and at the end of a window.
guest() { echo "guest_busy $(($4 - $1)) guest_idle $(($5 - $2)) sink $(($6 - $3))"; }
# Where the child's CPU goes, kernel included (the guest has no PMU: cpu-clock samples). The
# first list is by function alone, the second the share under a few kernel entry points.
profile() {
    [ -x /usr/bin/perf ] || return 0
    timeout -s INT 8 /usr/bin/perf record -q -N -B -e cpu-clock -F 499 -g -p $2 -o /tmp/perf-$1 \
        > /dev/null 2>&1
    /usr/bin/perf report -i /tmp/perf-$1 --stdio --no-children --sort sym -g none \
        --percent-limit 1.5 2>/dev/null | grep '%' | head -30 | sed 's/^/self /' >&3
    /usr/bin/perf report -i /tmp/perf-$1 --stdio --children --sort sym -g none 2>/dev/null \
        | grep -E ' (\[k\] )?(entry_SYSCALL_64|do_syscall_64|__do_softirq|net_rx_action|tcp_v4_rcv|__sys_connect|__sys_socket|__x64_sys_close|__fput|do_epoll_wait|do_epoll_ctl|__sys_getsockopt|__sys_setsockopt|tcp_v4_connect|tcp_rcv_state_process|tcp_v4_do_rcv|tcp_conn_request|tcp_check_req|__inet_hash_connect|inet_csk_accept|exit_to_user_mode_prepare|schedule)$' \
        | sed 's/^/under /' >&3
}
# The least any checker doing full TCP connections can cost: tcp-check-floor connects to the
# same 1,000 servers once a second with nothing else (see its source).
floor() {
    /bin/tcp-check-floor 203.0.113. 250 8000 8001 8002 8003 > /tmp/log-floor 2>&1 &
    FPID=$!
    sleep 5
    set -- $(tcp)
    G0="$(cpu) $(sink)"
    U0=$(utime $FPID); S0=$(stime $FPID); C0=$(ctxt $FPID)
    sleep MEASURE
    U1=$(utime $FPID); S1=$(stime $FPID); C1=$(ctxt $FPID)
    set -- $1 $2 $(tcp)
    G=$(guest $G0 $(cpu) $(sink))
    echo "=== bench $MODE floor" >&3
    echo "utime $((U1 - U0)) stime $((S1 - S0)) rss_kb $(kb $FPID VmRSS)" \
        "anon_kb $(kb $FPID RssAnon) file_kb $(kb $FPID RssFile) dests 0" \
        "connects $(($3 - $1)) failed $(($4 - $2)) switches $((C1 - C0)) $G" >&3
    if [ -x /usr/bin/strace ]; then
        timeout -s INT 10 /usr/bin/strace -c -o /tmp/strace-floor -p $FPID 2>/dev/null
        cat /tmp/strace-floor >&3
    fi
    profile floor $FPID
    head -3 /tmp/log-floor | sed 's/^/log /' >&3
    kill $FPID
}
bench() {
    ipvsadm -C
    $2 -n -C -f /etc/bench.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    sleep 20
    CPID=$(cat /run/c-$1.pid)
    set -- $1 $2 $(tcp)
    G0="$(cpu) $(sink)"
    U0=$(utime $CPID); S0=$(stime $CPID); C0=$(ctxt $CPID)
    sleep MEASURE
    U1=$(utime $CPID); S1=$(stime $CPID); C1=$(ctxt $CPID)
    set -- $1 $2 $3 $4 $(tcp)
    G=$(guest $G0 $(cpu) $(sink))
    DESTS=$(ipvsadm -Ln | grep -c -- '->.*Route')
    echo "=== bench $MODE $1" >&3
    echo "utime $((U1 - U0)) stime $((S1 - S0)) rss_kb $(kb $CPID VmRSS)" \
        "anon_kb $(kb $CPID RssAnon) file_kb $(kb $CPID RssFile) dests $DESTS" \
        "connects $(($5 - $3)) failed $(($6 - $4)) switches $((C1 - C0)) $G" >&3
    # System calls of 10 s (after the measurement: strace slows the process it traces).
    if [ -x /usr/bin/strace ]; then
        timeout -s INT 10 /usr/bin/strace -c -o /tmp/strace-$1 -p $CPID 2>/dev/null
        cat /tmp/strace-$1 >&3
    fi
    profile $1 $CPID
    # Where the anonymous memory lies: threads, and every mapping holding 64 KiB or more.
    echo "threads $(ls /proc/$CPID/task | wc -l)" >&3
    awk '/^[0-9a-f]+-[0-9a-f]+ /{m=$1" "$6} /^Anonymous:/{if($2>=64) print "anon", m, $2" kB"}' \
        /proc/$CPID/smaps >&3
    # How each daemon closes a check's connection: its socket options, and one check of
    # 203.0.113.7:8000 on the wire.
    if [ -x /usr/bin/strace ]; then
        timeout -s INT 2 /usr/bin/strace -e trace=setsockopt,shutdown -p $CPID 2>&1 \
            | grep -m 2 -E 'setsockopt|shutdown' | sed 's/^/strace /' >&3
    fi
    if [ -x /usr/bin/tcpdump ]; then
        timeout -s INT 4 /usr/bin/tcpdump -Z root -n -i $NETIF -c 8 'tcp and host 203.0.113.7 and port 8000' \
            2>/dev/null | sed 's/^[0-9:.]* /wire /' >&3
    fi
    # What the daemon logged (syslog): how many lines, and the first about a check that failed.
    echo "log_lines $(grep -c . /tmp/messages 2>/dev/null)" >&3
    grep -m 3 -iE 'fail|timeout|refused|unreachable|error' /tmp/messages 2>/dev/null \
        | sed 's/^/log /' >&3
    : > /tmp/messages
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
}
"#;

/// One run of the three processes with the servers set up by `SETUP`, sections named after
/// `MODE`.
const RUN: &str = r#"
SETUP
MODE=NAME
floor
bench ref /usr/sbin/keepalived
bench ours /usr/sbin/keepalived-rs
"#;

/// A testlab program built next to our binary.
fn helper(name: &str) -> Option<PathBuf> {
    let path = Path::new(OURS).parent()?.join(name);
    path.is_file().then_some(path)
}

/// What a benchmark's guest is made of: its name, the `helpers` (testlab programs, as
/// `/bin/NAME`), the `files`, the `optional` host programs carried in when they exist, and
/// the `script`.
struct Guest<'a> {
    name: &'a str,
    helpers: &'a [&'a str],
    files: &'a [(&'a str, String)],
    optional: &'a [&'a str],
    script: &'a str,
}

/// Boots a guest with both daemons, ipvsadm, ip and what `guest` names, on `net` when given
/// (else without a network card); `None` (with the reason printed) when the lab cannot run
/// here. Needs root (checked by the caller).
fn boot_bench(guest: &Guest, net: Option<&TapNet>, limit: Duration) -> Option<qemu::BootOutput> {
    let Guest {
        name,
        helpers,
        files,
        optional,
        script,
    } = *guest;
    let mut programs = qemu::LAB_PROGRAMS.to_vec();
    programs.extend(["/usr/sbin/ipvsadm", KEEPALIVED_BIN, "/usr/bin/ip"]);
    if !require_programs(&programs) {
        return None;
    }
    let mut extra = Vec::new();
    for h in helpers {
        let Some(path) = helper(h) else {
            println!("skipped: needs {h} next to keepalived (cargo build -p keepalived-testlab)");
            return None;
        };
        extra.push((path, format!("/bin/{h}")));
    }
    let ours = ours();
    println!("keepalived-rs: {}", ours.display());
    let work = qemu::work_dir(name).expect("work dir");
    let kernel = qemu::prepare(Path::new(qemu::CACHE_DIR)).expect("kernel");
    let ramfs = Initramfs::new(&kernel, &work.join("root")).expect("initramfs");
    for (host, guest) in [
        (Path::new(KEEPALIVED_BIN), "/usr/sbin/keepalived"),
        (ours.as_path(), "/usr/sbin/keepalived-rs"),
        (Path::new("/usr/sbin/ipvsadm"), "/usr/sbin/ipvsadm"),
        (Path::new("/usr/bin/ip"), "/usr/bin/ip"),
    ] {
        ramfs.add_program(host, guest).expect("program");
    }
    for (host, guest) in &extra {
        ramfs.add_program(host, guest).expect("program");
    }
    for program in optional.iter().filter(|p| Path::new(p).is_file()) {
        ramfs
            .add_program(Path::new(program), program)
            .expect("program");
    }
    for (guest, content) in files {
        ramfs
            .add_file(guest, content.as_bytes(), 0o644)
            .expect("file");
    }
    ramfs.set_script(script).expect("script");
    let initrd = work.join("initrd.gz");
    ramfs.build(&initrd).expect("cpio");
    let out = qemu::boot_on(&kernel, &initrd, &work, limit, net).expect("boot");
    // The staging tree and the archive are large; the serial logs stay for a failing run.
    let _ = std::fs::remove_dir_all(work.join("root"));
    let _ = std::fs::remove_file(&initrd);
    assert!(out.finished, "guest did not finish:\n{}", out.console);
    Some(out)
}

/// The value after `key` in a line of `key value` pairs.
fn value(line: &str, key: &str) -> f64 {
    let words: Vec<&str> = line.split(' ').collect();
    words
        .iter()
        .position(|w| *w == key)
        .and_then(|i| words.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn who(label: &str) -> &'static str {
    match label {
        "ref" => "keepalived 2.2.7",
        "floor" => "floor (tcp-check-floor)",
        _ => "keepalived-rs",
    }
}

impl Servers {
    /// The word naming this place in the guest's sections and the table.
    fn name(self) -> &'static str {
        match self {
            Servers::Loopback => "loopback",
            Servers::Host => "host",
        }
    }

    /// The guest's setup for this place.
    fn setup(self) -> String {
        match self {
            Servers::Loopback => SETUP_LOOPBACK.to_string(),
            Servers::Host => SETUP_HOST
                .replace("GUEST_CIDR", GUEST_CIDR)
                .replace("HOST_ADDR", HOST_ADDR),
        }
    }
}

/// Runs the checker benchmark in one boot, once for each place of the real servers in
/// `places` (in that order; the loopback's addresses, once set, hide the host's servers):
/// tcp-check-floor, keepalived 2.2.7, keepalived-rs each time; prints what the guest measured
/// and a table.
fn checker_bench(name: &str, places: &[Servers]) {
    if !require_root() {
        return;
    }
    let Some(sink) = helper("tcp-sink") else {
        println!("skipped: needs tcp-sink next to keepalived (cargo build -p keepalived-testlab)");
        return;
    };
    // The servers outside the guest: a namespace with the guest's tap device, the real
    // servers' addresses local to it (all of 203.0.113.0/24 on its loopback), tcp-sink in it.
    // Dropped at the end of this function, also when it panics.
    let mut host_sink = None;
    let mut net = None;
    if places.contains(&Servers::Host) {
        let tap = TapNet::new("ckcpu", &format!("{HOST_ADDR}/24")).expect("tap network");
        tap.ip(&["route", "add", "local", "203.0.113.0/24", "dev", "lo"])
            .expect("real servers' addresses");
        let sink = sink.to_str().expect("utf-8 path");
        host_sink = Some(
            tap.spawn(sink, &["8000", "8001", "8002", "8003"])
                .expect("tcp-sink"),
        );
        net = Some(tap);
    }
    let mut script = SCRIPT.replace("MEASURE", &MEASURE_SECS.to_string());
    for place in places {
        script.push_str(
            &RUN.replace("SETUP", &place.setup())
                .replace("NAME", place.name()),
        );
    }
    let guest = Guest {
        name,
        helpers: &["tcp-sink", "tcp-check-floor"],
        files: &[("/etc/bench.conf", config())],
        // Optional: the system calls each checker child makes, a check on the wire, a profile.
        optional: &["/usr/bin/strace", "/usr/bin/tcpdump", "/usr/bin/perf"],
        script: &script,
    };
    let limit = Duration::from_secs(100 + 500 * places.len() as u64);
    let Some(out) = boot_bench(&guest, net.as_ref(), limit) else {
        return;
    };
    if let Some(sink) = &host_sink {
        // The host's tcp-sink over the whole boot (its work is not the guest's).
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", sink.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
            println!(
                "tcp-sink on the host: {:.2} s CPU over the whole boot",
                (u + s) / 100.0
            );
        }
    }
    println!(
        "checker child, {} real servers, TCP_CHECK every 1 s, {MEASURE_SECS} s measured (QEMU \
         TCG guest, 1 vCPU); servers: loopback = tcp-sink on the guest's loopback, host = \
         tcp-sink on the host through a tap device:",
        VIRTUAL_SERVERS * PER_VS,
    );
    let sections = qemu::sections(&out.results);
    for (name, lines) in &sections {
        println!("{name}:");
        for line in lines.iter().skip(usize::from(name.starts_with("bench "))) {
            println!("  {line}");
        }
    }
    println!(
        "| servers | process | CPU s (user + system) | CPU % | RSS KiB (anon + file) | \
         destinations | connects (failed) | CPU µs per connect | switches per connect | \
         guest busy % | tcp-sink CPU s (guest) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, lines) in &sections {
        let Some((place, label)) = name
            .strip_prefix("bench ")
            .and_then(|rest| rest.split_once(' '))
        else {
            continue;
        };
        let line = lines.first().map(String::as_str).unwrap_or_default();
        let (user, system) = (value(line, "utime") / 100.0, value(line, "stime") / 100.0);
        let cpu = user + system;
        let connects = value(line, "connects");
        println!(
            "| {place} | {} | {cpu:.2} ({user:.2} + {system:.2}) | {:.1} | {} ({} + {}) | {} | \
             {} ({}) | {:.0} | {:.2} | {:.0} | {} |",
            who(label),
            100.0 * cpu / f64::from(MEASURE_SECS),
            value(line, "rss_kb"),
            value(line, "anon_kb"),
            value(line, "file_kb"),
            value(line, "dests"),
            connects,
            value(line, "failed"),
            1e6 * cpu / connects,
            value(line, "switches") / connects,
            100.0 * value(line, "guest_busy")
                / (value(line, "guest_busy") + value(line, "guest_idle")),
            if place == Servers::Host.name() {
                "—".to_string()
            } else {
                format!("{:.2}", value(line, "sink") / 100.0)
            }
        );
    }
    drop(host_sink);
    drop(net);
}

#[test]
#[ignore = "benchmark: boots a VM for about five minutes"]
fn checker_1000_tcp_checks_cpu_and_rss() {
    checker_bench("checker-bench", &[Servers::Loopback]);
}

/// The same with the servers on the host, where the guest's kernel does only the checker's
/// end of each connection; then, in the same guest, on its loopback again for comparison.
#[test]
#[ignore = "benchmark: boots a VM for about ten minutes"]
fn checker_1000_tcp_checks_servers_on_host() {
    checker_bench("checker-bench-host", &[Servers::Host, Servers::Loopback]);
}

/// The reload benchmark's guest script; `CONF_A`, `CONF_B` (the configurations before and after),
/// `NL_COUNT`, `EDIT_TIME`, `REF_BIN` and `OURS_BIN` are the guest's paths, `TOTAL`,
/// `CHANGED_VS`, `CHANGED_RS` and `EDITED_RS` what to expect, read back and time.
const RELOAD_SCRIPT: &str = r#"
modprobe nlmon
# Each daemon in a network namespace of its own: IPVS keeps deleted destinations in a
# per-namespace trash for minutes, and every new destination is first looked for there, so
# a table flushed just before would slow the next daemon's start (seen: 87 % of its start in
# ip_vs_add_dest with the first daemon's 37,000 destinations in the trash). iproute2's ip:
# the QEMU guest's `ip` is busybox's, without `netns`.
reload() {
    NS=kbench-$1
    /usr/bin/ip netns add $NS
    IN="/usr/bin/ip netns exec $NS"
    $IN /usr/bin/ip link set lo up
    $IN /usr/bin/ip link add nlmon0 type nlmon && $IN /usr/bin/ip link set nlmon0 up
    count() { $IN ipvsadm -Ln | grep -c -- '->.*Route'; }
    cp CONF_A /run/reload.conf
    $IN NL_COUNT --watch --quiet 10 --max 600 > /run/start-$1 &
    NLPID=$!
    sleep 1
    $IN $2 -n -C -f /run/reload.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /run/log-$1 2>&1 &
    KPID=$!
    # nl-count ends 10 s after the start's last command: the table is not read meanwhile
    # (a dump of it in the guest costs as much as thousands of the commands timed).
    wait $NLPID
    CPID=$(cat /run/c-$1.pid)
    RSS0=$(grep VmRSS /proc/$CPID/status | tr -s ' ' | cut -d' ' -f2)
    echo "=== reload $1" >&3
    echo "started_dests $(count) of TOTAL rss_kb $RSS0" >&3
    echo "cpu ticks at start (user system): checker $(cut -d' ' -f14,15 /proc/$CPID/stat) parent $(cut -d' ' -f14,15 /proc/$KPID/stat)" >&3
    echo "start (ms from 1 s before the daemon) $(cat /run/start-$1)" >&3
    FAULTS0="checker $(cut -d' ' -f10 /proc/$CPID/stat) parent $(cut -d' ' -f10 /proc/$KPID/stat)"
    cp CONF_B /run/reload.conf
    $IN NL_COUNT --hup $KPID --quiet 15 --max 900 >&3
    RSS1=$(grep VmRSS /proc/$CPID/status | tr -s ' ' | cut -d' ' -f2)
    echo "after_dests $(count) rss_kb $RSS1" >&3
    echo "minor faults before the reload: $FAULTS0; after: checker $(cut -d' ' -f10 /proc/$CPID/stat) parent $(cut -d' ' -f10 /proc/$KPID/stat)" >&3
    $IN ipvsadm -Ln -t CHANGED_VS | grep CHANGED_RS >&3
    echo "the kernel's commands, timed in this table by ipvs-edit-time: $($IN EDIT_TIME CHANGED_VS EDITED_RS 250 2>&1)" >&3
    kill -KILL $CPID $KPID
    sleep 1
    /usr/bin/ip netns delete $NS
}
reload ref REF_BIN
reload ours OURS_BIN
"#;

/// [`RELOAD_SCRIPT`] with the guest's paths: the configurations in `conf_dir`.
fn reload_script(conf_dir: &str, tools: (&str, &str), ref_bin: &str, ours_bin: &str) -> String {
    let (nl_count, edit_time) = tools;
    let (addr, port) = reload_vs(CHANGED.0);
    RELOAD_SCRIPT
        .replace("CONF_A", &format!("{conf_dir}/reload-a.conf"))
        .replace("CONF_B", &format!("{conf_dir}/reload-b.conf"))
        .replace("NL_COUNT", nl_count)
        .replace("EDIT_TIME", edit_time)
        .replace("EDITED_RS", &format!("203.0.113.{}:{port}", CHANGED.1))
        .replace("REF_BIN", ref_bin)
        .replace("OURS_BIN", ours_bin)
        .replace("TOTAL", &RELOAD_RS.to_string())
        .replace("CHANGED_VS", &format!("{addr}:{port}"))
        .replace("CHANGED_RS", &format!("'203.0.113.{}:'", CHANGED.1))
}

/// Prints the reload benchmark's results: each daemon's lines, then a table row each.
fn print_reload(results: &str, kernel: &str) {
    println!(
        "reload of {RELOAD_VS} virtual servers / {RELOAD_RS} real servers, one weight changed \
         ({kernel}); times from the SIGHUP:"
    );
    println!("| daemon | IPVS commands | last command ms | new / set / del dest | other |");
    println!("|---|---|---|---|---|");
    for (name, lines) in qemu::sections(results) {
        let Some(label) = name.strip_prefix("reload ") else {
            continue;
        };
        for line in &lines {
            println!("  {line}");
        }
        let Some(line) = lines.iter().find(|l| l.starts_with("commands ")) else {
            continue;
        };
        println!(
            "| {} | {} | {:.0}{} | {} / {} / {} | {} |",
            who(label),
            value(line, "commands"),
            value(line, "last_ms"),
            if value(line, "timed_out") > 0.0 {
                " (timed out)"
            } else {
                ""
            },
            value(line, "new_dest"),
            value(line, "set_dest"),
            value(line, "del_dest"),
            value(line, "new_service")
                + value(line, "set_service")
                + value(line, "del_service")
                + value(line, "other")
        );
    }
}

#[test]
#[ignore = "benchmark: boots a VM for several minutes"]
fn checker_reload_2000_vs_37000_rs() {
    if !require_root() {
        return;
    }
    let script = reload_script(
        "/etc",
        ("/bin/nl-count", "/bin/ipvs-edit-time"),
        "/usr/sbin/keepalived",
        "/usr/sbin/keepalived-rs",
    );
    let guest = Guest {
        name: "checker-reload-bench",
        helpers: &["nl-count", "ipvs-edit-time"],
        files: &[
            ("/etc/reload-a.conf", reload_config(false)),
            ("/etc/reload-b.conf", reload_config(true)),
        ],
        optional: &[],
        script: &script,
    };
    let Some(out) = boot_bench(&guest, None, Duration::from_secs(2_400)) else {
        return;
    };
    print_reload(&out.results, "QEMU TCG guest, 1 vCPU");
}

/// The same reload under User-mode Linux (crates/testlab/src/uml.rs): a real kernel whose
/// programs run natively, with system calls and page faults trapped at a high price.
#[test]
#[ignore = "benchmark: runs a User-mode Linux kernel for about a minute"]
fn checker_reload_2000_vs_37000_rs_uml() {
    if !require_root()
        || !require_programs(&["apt-get", "dpkg-deb", "/sbin/modprobe", "/usr/sbin/ipvsadm"])
    {
        return;
    }
    let (Some(nl_count), Some(edit_time)) = (helper("nl-count"), helper("ipvs-edit-time")) else {
        println!(
            "skipped: needs nl-count and ipvs-edit-time next to keepalived \
             (cargo build -p keepalived-testlab)"
        );
        return;
    };
    let ours = ours();
    println!("keepalived-rs: {}", ours.display());
    let kernel = uml::prepare(Path::new(qemu::CACHE_DIR)).expect("UML kernel");
    let work = qemu::work_dir("checker-reload-uml").expect("work dir");
    for (name, changed) in [("reload-a.conf", false), ("reload-b.conf", true)] {
        std::fs::write(work.join(name), reload_config(changed)).expect("configuration");
    }
    let script = reload_script(
        &work.display().to_string(),
        (
            &nl_count.display().to_string(),
            &edit_time.display().to_string(),
        ),
        KEEPALIVED_BIN,
        &ours.display().to_string(),
    );
    let out = uml::run(&kernel, &work, &script, 1024, Duration::from_secs(1_200)).expect("UML");
    assert!(out.finished, "UML guest did not finish:\n{}", out.console);
    print_reload(
        &out.results,
        &format!("User-mode Linux {}, host CPU", kernel.release),
    );
    let _ = std::fs::remove_dir_all(&work);
}
