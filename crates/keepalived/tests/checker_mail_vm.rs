//! The checker child's e-mail alerts (`smtp_alert` of virtual and real servers, and
//! `smtp_alert_checker`) on a real kernel with IPVS: Debian's kernel under QEMU (crates/testlab's
//! qemu lab) with a real SMTP server in the guest (aiosmtpd on Debian's python, carried into the
//! initramfs), real servers (busybox httpd, MISC scripts) that go down and come back, a quorum
//! lost and gained, and a reload (SIGHUP) that moves the alerts to another SMTP server and
//! recipient. The scenario runs with keepalived 2.2.7 and with ours in the same boot; the mails
//! each delivers (sender, recipients, subject, body) must be the same.
//!
//! Run: `cargo test -p keepalived --test checker_mail_vm` (as root with keepalived 2.2.7,
//! qemu-system-x86, ipvsadm and python3-aiosmtpd; returns early otherwise).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use keepalived_testlab::qemu::{self, BootOutput, Initramfs};
use keepalived_testlab::{KEEPALIVED_BIN, require_programs, require_root};

const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The global_defs of the first configuration: alerts to two addresses through 192.0.2.25.
const GLOBAL: &str = r#"
global_defs {
    notification_email {
        admin@example.com
        ops@example.com
    }
    notification_email_from kl@example.com
    smtp_server 192.0.2.25 25
    smtp_connect_timeout 5
    smtp_helo_name lb1.example.com
    router_id LB_1
}
"#;

/// What the reload changes in global_defs: another server, another recipient, and alerts for
/// every checker (`smtp_alert_checker`).
const GLOBAL_RELOAD: &str = r#"
global_defs {
    notification_email {
        new@example.com
    }
    notification_email_from kl2@example.com
    smtp_server 192.0.2.26 2525
    smtp_connect_timeout 5
    smtp_helo_name lb2.example.com
    router_id LB_2
    smtp_alert_checker
}
"#;

/// Virtual server 1: a quorum (with hysteresis) with alerts and three real servers (TCP_CHECK and HTTP_GET with
/// alerts, a MISC_CHECK without); virtual server 2: no alerts of its own, a real server with
/// alerts, one without and one with alerts turned off.
const SERVERS: &str = r#"
virtual_server 198.51.100.10 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    hysteresis 1
    smtp_alert
    real_server 192.0.2.11 80 {
        smtp_alert
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.12 80 {
        smtp_alert
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.13 80 {
        MISC_CHECK {
            misc_path "/bin/misc.sh 13"
            retry 0
        }
    }
}
virtual_server 198.51.100.20 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.14 80 {
        smtp_alert
        MISC_CHECK {
            misc_path "/bin/misc.sh 14"
            retry 0
        }
    }
    real_server 192.0.2.15 80 {
        MISC_CHECK {
            misc_path "/bin/misc.sh 15"
            retry 0
        }
    }
    real_server 192.0.2.16 80 {
        smtp_alert false
        MISC_CHECK {
            misc_path "/bin/misc.sh 16"
            retry 0
        }
    }
}
"#;

/// The reload's virtual servers: real server .15 is gone, the rest unchanged.
const SERVERS_RELOAD: &str = r#"
virtual_server 198.51.100.10 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    hysteresis 1
    smtp_alert
    real_server 192.0.2.11 80 {
        smtp_alert
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.12 80 {
        smtp_alert
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.13 80 {
        MISC_CHECK {
            misc_path "/bin/misc.sh 13"
            retry 0
        }
    }
}
virtual_server 198.51.100.20 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.14 80 {
        smtp_alert
        MISC_CHECK {
            misc_path "/bin/misc.sh 14"
            retry 0
        }
    }
    real_server 192.0.2.16 80 {
        smtp_alert false
        MISC_CHECK {
            misc_path "/bin/misc.sh 16"
            retry 0
        }
    }
}
"#;

/// Scenario 2: `no_checker_emails` (a check's change is mailed only when its real server
/// changes), SMTP_CHECK (against aiosmtpd itself), DNS_CHECK and UDP_CHECK (dnsmasq),
/// PING_CHECK, a real server with `alpha`, a quorum that starts down, and `omega` at the stop.
const CONFIG2: &str = r#"
global_defs {
    notification_email {
        admin@example.com
    }
    notification_email_from kl@example.com
    smtp_server 192.0.2.25 25
    smtp_connect_timeout 5
    router_id LB_3
    no_checker_emails
}
virtual_server 198.51.100.30 25 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    smtp_alert
    omega
    real_server 192.0.2.27 25 {
        SMTP_CHECK {
            connect_timeout 1
            retry 0
        }
        MISC_CHECK {
            misc_path "/bin/misc.sh 27"
            retry 0
        }
    }
    real_server 192.0.2.28 80 {
        alpha
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
virtual_server 198.51.100.31 53 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 192.0.2.29 53 {
        DNS_CHECK {
            connect_timeout 1
            retry 0
            type A
            name example.org
        }
    }
    real_server 192.0.2.30 53 {
        PING_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 192.0.2.31 53 {
        UDP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"#;

/// The guest's part: two SMTP servers, then one run per binary.
const SCRIPT: &str = r#"
for a in 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 192.0.2.16 192.0.2.25 192.0.2.26; do
    /usr/bin/ip addr add $a/32 dev lo
done
mkdir -p /www && echo "hello from the lab" > /www/index.html
serve() { httpd -f -p $1:$2 -h /www & echo $! > /run/srv-$1; }
unserve() { kill $(cat /run/srv-$1) 2>/dev/null; }
mark() { echo "--- EVENT $1" >> /tmp/mail-25-$LABEL; echo "--- EVENT $1" >> /tmp/mail-26-$LABEL; }
# aiosmtpd prints each mail it receives to its log (the Debugging handler), in order.
smtpd() {
    PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3 -S -u -m aiosmtpd -n \
        -l 192.0.2.$1:$2 -c aiosmtpd.handlers.Debugging stdout \
        >> /tmp/mail-$1-$LABEL 2>/tmp/smtpd-$1-$LABEL.err &
    echo $! > /run/smtpd-$1
    i=0
    while ! netstat -ltn 2>/dev/null | grep -q "192.0.2.$1:$2 " && [ $i -lt 150 ]; do
        sleep 0.2; i=$((i+1))
    done
}
started() {
    i=0
    while ! grep -q "Activating BFD healthchecker" $1 2>/dev/null && [ $i -lt 150 ]; do
        sleep 0.2; i=$((i+1))
    done
}
run() {
    LABEL=$1
    ipvsadm -C
    : > /tmp/mail-25-$LABEL; : > /tmp/mail-26-$LABEL
    smtpd 25 25; smtpd 26 2525
    cp /etc/mail.conf /etc/mail-live.conf
    serve 192.0.2.11 80; serve 192.0.2.12 80
    for n in 13 14 15 16; do touch /tmp/misc-up-$n; done
    $2 -n -l -D -C -f /etc/mail-live.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    started /tmp/log-$1
    sleep 6; mark down
    unserve 192.0.2.11; unserve 192.0.2.12
    for n in 13 14 15 16; do rm -f /tmp/misc-up-$n; done
    sleep 8; mark up
    serve 192.0.2.11 80; serve 192.0.2.12 80
    for n in 13 14 15 16; do touch /tmp/misc-up-$n; done
    sleep 8; mark reload
    cp /etc/mail-reload.conf /etc/mail-live.conf
    kill -HUP $KPID
    sleep 5; mark down2
    unserve 192.0.2.11; rm -f /tmp/misc-up-14
    sleep 7; mark stop
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
    sleep 3
    kill $(cat /run/smtpd-25) $(cat /run/smtpd-26) 2>/dev/null
    unserve 192.0.2.12
    echo "=== $LABEL mail25" >&3; cat /tmp/mail-25-$LABEL >&3
    echo "=== $LABEL mail26" >&3; cat /tmp/mail-26-$LABEL >&3
    echo "=== $LABEL smtpd" >&3; cat /tmp/smtpd-25-$LABEL.err /tmp/smtpd-26-$LABEL.err >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$1 >&3
}
dns() {
    /usr/sbin/dnsmasq -k -C /dev/null --no-resolv --no-hosts --listen-address=$1 \
        --bind-interfaces --address=/example.org/192.0.2.80 --user=root --group=root \
        --pid-file=/run/dnsmasq-$1.pid > /tmp/dnsmasq-$1.log 2>&1 &
    echo $! > /run/dns-$1
}
undns() { kill $(cat /run/dns-$1) 2>/dev/null; sleep 0.2; }
run2() {
    LABEL=$1
    ipvsadm -C
    : > /tmp/mail-25-$LABEL; : > /tmp/mail-26-$LABEL; : > /tmp/mail-27-$LABEL
    smtpd 25 25; smtpd 27 25; dns 192.0.2.29; dns 192.0.2.31
    /usr/bin/ip addr add 192.0.2.30/32 dev lo 2>/dev/null
    touch /tmp/misc-up-27
    $2 -n -l -D -C -f /etc/mail2.conf -p /run/k-$1.pid -c /run/c-$1.pid -r /run/v-$1.pid \
        > /tmp/log-$1 2>&1 &
    KPID=$!
    started /tmp/log-$1
    sleep 5; mark alpha
    serve 192.0.2.28 80
    sleep 5; mark down
    rm -f /tmp/misc-up-27; undns 192.0.2.29; undns 192.0.2.31
    /usr/bin/ip addr del 192.0.2.30/32 dev lo
    # .27 is down already: with no_checker_emails its SMTP_CHECK failing mails nothing.
    # (How 2.2.7 words a refused SMTP_CHECK connection varies, see docs/compat.md.)
    sleep 5; mark smtpdown
    kill $(cat /run/smtpd-27) 2>/dev/null
    sleep 5; mark up
    smtpd 27 25; dns 192.0.2.29; dns 192.0.2.31; /usr/bin/ip addr add 192.0.2.30/32 dev lo
    # The MISC check comes back last: its success is the one that brings .27 back.
    sleep 5; touch /tmp/misc-up-27
    sleep 6; mark stop
    kill -TERM $KPID
    i=0; while kill -0 $KPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
    sleep 3
    kill $(cat /run/smtpd-25) $(cat /run/smtpd-27) 2>/dev/null; undns 192.0.2.29
    undns 192.0.2.31
    unserve 192.0.2.28
    echo "=== $LABEL mail25" >&3; cat /tmp/mail-25-$LABEL >&3
    echo "=== $LABEL mail27" >&3; cat /tmp/mail-27-$LABEL >&3
    echo "=== $LABEL log" >&3; cat /tmp/log-$1 >&3
}
for a in 192.0.2.27 192.0.2.28 192.0.2.29 192.0.2.31; do /usr/bin/ip addr add $a/32 dev lo; done
run ref /usr/sbin/keepalived
run ours /usr/sbin/keepalived-rs
run2 ref2 /usr/sbin/keepalived
run2 ours2 /usr/sbin/keepalived-rs
"#;

fn boot_lab() -> Option<BootOutput> {
    if !require_root() {
        return None;
    }
    let mut programs = qemu::LAB_PROGRAMS.to_vec();
    programs.extend([
        "/usr/sbin/ipvsadm",
        KEEPALIVED_BIN,
        "/usr/bin/ip",
        "/usr/bin/python3",
    ]);
    if !require_programs(&programs)
        || !Path::new("/usr/lib/python3/dist-packages/aiosmtpd").is_dir()
    {
        println!("skipped: needs root, qemu, ipvsadm, keepalived 2.2.7 and python3-aiosmtpd");
        return None;
    }
    let work = qemu::work_dir("checker-mail").expect("work dir");
    let kernel = qemu::prepare(Path::new(qemu::CACHE_DIR)).expect("kernel");
    let ramfs = Initramfs::new(&kernel, &work.join("root")).expect("initramfs");
    ramfs
        .add_program(Path::new(KEEPALIVED_BIN), "/usr/sbin/keepalived")
        .expect("keepalived 2.2.7");
    ramfs
        .add_program(Path::new(OURS), "/usr/sbin/keepalived-rs")
        .expect("ours");
    ramfs
        .add_program(Path::new("/usr/sbin/ipvsadm"), "/usr/sbin/ipvsadm")
        .expect("ipvsadm");
    ramfs
        .add_program(Path::new("/usr/bin/ip"), "/usr/bin/ip")
        .expect("iproute2");
    ramfs
        .add_python(&["aiosmtpd", "public", "attr"])
        .expect("python and aiosmtpd");
    ramfs
        .add_program(Path::new("/usr/sbin/dnsmasq"), "/usr/sbin/dnsmasq")
        .expect("dnsmasq");
    ramfs
        .add_file("/etc/mail2.conf", CONFIG2.as_bytes(), 0o644)
        .expect("config 2");
    ramfs
        .add_file(
            "/etc/mail.conf",
            format!("{GLOBAL}{SERVERS}").as_bytes(),
            0o644,
        )
        .expect("config");
    ramfs
        .add_file(
            "/etc/mail-reload.conf",
            format!("{GLOBAL_RELOAD}{SERVERS_RELOAD}").as_bytes(),
            0o644,
        )
        .expect("reload config");
    ramfs
        .add_file(
            "/bin/misc.sh",
            b"#!/bin/sh\n[ -e /tmp/misc-up-$1 ]\n",
            0o755,
        )
        .expect("misc");
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

/// One mail as the server printed it, without its date and the server's own headers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mail {
    subject: String,
    body: String,
    from: String,
    to: String,
    mailer: String,
}

/// The mails of a server's log by the event they followed (`start`, `down`, …), each event's
/// mails sorted (servers checked at the same time mail in either order).
fn mails(log: &[String]) -> BTreeMap<String, Vec<Mail>> {
    let mut out: BTreeMap<String, Vec<Mail>> = BTreeMap::new();
    let mut event = "start".to_string();
    let mut current: Option<(Vec<String>, Vec<String>, bool)> = None;
    for line in log {
        if let Some(e) = line.strip_prefix("--- EVENT ") {
            event = e.trim().to_string();
        } else if line == "---------- MESSAGE FOLLOWS ----------" {
            current = Some((Vec::new(), Vec::new(), true));
        } else if line == "------------ END MESSAGE ------------" {
            if let Some((head, body, _)) = current.take() {
                let header = |name: &str| {
                    head.iter()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                };
                out.entry(event.clone()).or_default().push(Mail {
                    subject: header("Subject"),
                    body: body.join("\n").trim().to_string(),
                    from: header("From"),
                    to: header("To"),
                    mailer: header("X-Mailer"),
                });
            }
        } else if let Some((head, body, in_head)) = current.as_mut() {
            if *in_head && line.starts_with("X-Peer:") {
                *in_head = false;
            } else if *in_head {
                head.push(line.clone());
            } else {
                body.push(line.clone());
            }
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

#[test]
fn checker_alerts_are_the_mails_keepalived_2_2_7_sends() {
    let Some(out) = boot_lab() else { return };
    let sections: BTreeMap<String, Vec<String>> =
        qemu::sections(&out.results).into_iter().collect();
    let get = |name: &str| {
        sections
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no section {name} in:\n{}", out.results))
    };
    let mut problems = Vec::new();
    for (run, server) in [
        ("", "mail25"),
        ("", "mail26"),
        ("2", "mail25"),
        ("2", "mail27"),
    ] {
        let theirs = mails(&get(&format!("ref{run} {server}")));
        let ours = mails(&get(&format!("ours{run} {server}")));
        println!("run {run} {server}: 2.2.7 {theirs:#?}\nours {ours:#?}");
        if theirs != ours {
            problems.push(format!(
                "run {run} {server}: the mails differ:\n2.2.7: {theirs:#?}\nours: {ours:#?}"
            ));
        }
    }
    // The scenario is not vacuous: 2.2.7 mailed real servers going down through the first
    // server, and after the reload through the second.
    let first = mails(&get("ref mail25"));
    assert!(
        first
            .get("down")
            .is_some_and(|m| m.iter().any(|m| m.subject.contains("Realserver"))),
        "2.2.7 sent no real server mail: {first:#?}\n{}",
        out.results
    );
    let second = mails(&get("ref mail26"));
    assert!(
        !second.is_empty(),
        "2.2.7 sent nothing to the reloaded server\n{}",
        out.results
    );
    assert!(
        problems.is_empty(),
        "{}\n\nfull results:\n{}",
        problems.join("\n\n"),
        out.results
    );
}
