//! The checker child's lines when the kernel refuses its IPVS commands, ours beside keepalived
//! 2.2.7's, in a User-mode Linux guest (crates/testlab/src/uml.rs: a real kernel with IPVS,
//! booted in about two seconds). The guest's scheduler modules cannot load (module autoloading
//! is turned off once `ip_vs` and `ip_vs_rr` are in), so adding a `sh` service fails, and with
//! it every real server of that service; an `rr` service works. Each daemon runs `-n -l -D -C` for
//! a few seconds and is stopped with SIGTERM; the lines of both must be the same, in the same
//! order: the refusals, `Gained quorum` after its service's real servers, the quorum warning of
//! the checker's reading, a MISC_CHECK dropped because its script is missing (no
//! `Activating healthchecker` for it), the shutdown and the child's last line.

use std::path::Path;
use std::time::Duration;

use keepalived_testlab::qemu;
use keepalived_testlab::uml;
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

const CONFIG: &str = "\
virtual_server 198.51.100.1 1000 {
    lb_algo sh
    lb_kind DR
    protocol TCP
    quorum 1
    real_server 203.0.113.1 1000 {
        weight 1
    }
    real_server 203.0.113.2 1000 {
        weight 1
    }
}
virtual_server 198.51.100.2 1000 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    quorum 5
    real_server 203.0.113.1 1000 {
        weight 1
    }
}
virtual_server 198.51.100.3 1000 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 203.0.113.3 1000 {
        weight 1
        MISC_CHECK {
            misc_path \"/nonexistent/kl-check.sh arg1\"
        }
    }
}
";

/// Runs each daemon in turn; `=== NAME` starts its lines. The daemons' pid files and logs stay
/// in the guest's /run.
const SCRIPT: &str = r#"
ip link add d0 type dummy && ip addr add 203.0.113.254/24 dev d0 && ip link set d0 up
modprobe ip_vs_rr
echo /bin/false > /proc/sys/kernel/modprobe
run() {
    $2 -n -l -D -C -f CONF -p /run/k.pid -c /run/c.pid -r /run/v.pid > /run/log-$1 2>&1 &
    KPID=$!
    i=0; while ! grep -q 'Startup complete' /run/log-$1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    sleep 1
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    echo "=== $1" >&3
    cat /run/log-$1 >&3
    ipvsadm -C
}
run ref REF_BIN
run ours OURS_BIN
"#;

/// The checker child's lines of a log, without time stamps or process names, `Stopped - used`
/// without its figures.
fn checker_lines(lines: &[String]) -> Vec<String> {
    let keep = [
        "IPVS cmd ",
        "Gained quorum",
        "Lost quorum",
        "Warning - quorum",
        "Shutting down service",
        "Initializing ipvs",
        "Disabling misc script",
        "Activating healthchecker",
        "Stopped - used",
    ];
    lines
        .iter()
        .filter_map(|line| {
            // 2.2.7 with -l: `Sat Dec  5 07:29:11 2026: TEXT` (a time stamp of 24 characters);
            // ours: `Keepalived_...[PID]: TEXT`.
            let text = line
                .split_once("]: ")
                .map(|(_, t)| t)
                .or_else(|| after_time_stamp(line))?;
            keep.iter().any(|k| text.starts_with(k)).then(|| {
                if text.starts_with("Stopped - used") {
                    "Stopped - used ...".to_string()
                } else {
                    text.to_string()
                }
            })
        })
        .collect()
}

/// The text after 2.2.7's `-l` time stamp (`Www Mmm dd hh:mm:ss YYYY: `), if the line has one.
fn after_time_stamp(line: &str) -> Option<&str> {
    let year = line.get(20..24)?;
    (year.bytes().all(|b| b.is_ascii_digit()) && line.get(24..26) == Some(": "))
        .then(|| &line[26..])
}

#[test]
fn refused_ipvs_commands_are_logged_as_keepalived_2_2_7_logs_them() {
    if !require_root()
        || !require_programs(&[
            "apt-get",
            "dpkg-deb",
            "/sbin/modprobe",
            "/usr/sbin/ipvsadm",
            KEEPALIVED_BIN,
        ])
    {
        return;
    }
    let kernel = uml::prepare(Path::new(qemu::CACHE_DIR)).expect("UML kernel");
    let work = qemu::work_dir("checker-uml-refusals").expect("work dir");
    let conf = work.join("checker.conf");
    std::fs::write(&conf, CONFIG).expect("configuration");
    let script = SCRIPT
        .replace("CONF", &conf.display().to_string())
        .replace("REF_BIN", KEEPALIVED_BIN)
        .replace("OURS_BIN", OURS);
    let out = uml::run(&kernel, &work, &script, 256, Duration::from_secs(180)).expect("UML");
    assert!(out.finished, "UML guest did not finish:\n{}", out.console);
    let sections = qemu::sections(&out.results);
    let lines = |name: &str| {
        sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| checker_lines(l))
            .unwrap_or_default()
    };
    let (theirs, ours) = (lines("ref"), lines("ours"));
    assert!(
        theirs
            .iter()
            .any(|l| l.starts_with("IPVS cmd IP_VS_SO_SET_ADD(1154) error")),
        "keepalived 2.2.7's service add was not refused, the scenario does not hold:\n{}",
        out.results
    );
    assert!(
        theirs.iter().any(|l| l
            == "Disabling misc script '/nonexistent/kl-check.sh' 'arg1' since not found/accessible"),
        "keepalived 2.2.7 did not drop the MISC_CHECK, the scenario does not hold:\n{}",
        out.results
    );
    assert_eq!(ours, theirs, "all lines:\n{}", out.results);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn checker_lines_are_taken_from_both_log_forms() {
    let lines = [
        "Sat Dec  5 07:29:11 2026: Gained quorum 1+0=1 <= 2 for VS [198.51.100.1]:tcp:1000",
        "Mon Jan  4 00:00:01 2027: Initializing ipvs",
        "Keepalived_healthcheckers[694]: Stopped - used 0.100000 user time, 0.000000 system time",
        "Keepalived[692]: Startup complete",
    ]
    .map(String::from);
    assert_eq!(
        checker_lines(&lines),
        [
            "Gained quorum 1+0=1 <= 2 for VS [198.51.100.1]:tcp:1000",
            "Initializing ipvs",
            "Stopped - used ..."
        ]
    );
}
