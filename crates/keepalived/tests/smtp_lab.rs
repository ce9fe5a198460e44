//! E-mail alerts (`smtp_alert`) against a real SMTP server (root only): aiosmtpd (Debian's
//! python3-aiosmtpd) on lab host m stores what it receives in a maildir; host a runs ours or
//! keepalived 2.2.7 with the same config, alone on the bridge, so it enters BACKUP and then
//! MASTER. Both daemons must deliver the same mails (sender, recipients, subject, body) in the
//! same order. A dead mail server (no listener, or an address nobody answers) must delay
//! nothing: the instance still becomes MASTER on time.
//!
//! Run: `cargo test -p keepalived --test smtp_lab` (as root with keepalived 2.2.7 and
//! python3-aiosmtpd installed; each test returns early otherwise).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::*;

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// Debian's python, which python3-aiosmtpd installs into.
const PYTHON: &str = "/usr/bin/python3";

const VIP: &str = "198.51.100.100";

/// What a received mail says, without its date and the server's own headers.
#[derive(Debug, PartialEq, Eq)]
struct Received {
    from: String,
    to: String,
    subject: String,
    mailer: String,
    body: String,
}

fn aiosmtpd_installed() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The config: alerts to two addresses through `server`, VI_1 alone at priority 100.
fn config(server: &str) -> String {
    let mut instance = VrrpInstance::new(51, 100, &["198.51.100.100/32"]).extra("smtp_alert");
    instance.global_extra = vec![
        "notification_email {\n        admin@example.com\n        ops@example.com\n    }".into(),
        "notification_email_from kl@example.com".into(),
        format!("smtp_server {server}"),
        "smtp_connect_timeout 5".into(),
        "smtp_helo_name lb1.example.com".into(),
    ];
    instance.render("LB_1")
}

/// The mails in `maildir/new`, oldest first, as [`Received`].
fn mails(maildir: &Path) -> Vec<Received> {
    let mut files: Vec<_> = fs::read_dir(maildir.join("new"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok());
    files
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|text| {
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            Received {
                from: header("From"),
                to: header("To"),
                subject: header("Subject"),
                mailer: header("X-Mailer"),
                body: body.trim().to_string(),
            }
        })
        .collect()
}

/// The config of a sync group G1 (VI_1 and VI_2 on eth0) with `smtp_alert` on the group only.
fn group_config(server: &str) -> String {
    let one = VrrpInstance::new(51, 100, &["198.51.100.100/32"]);
    let mut two = VrrpInstance::new(52, 100, &["198.51.100.101/32"]).named("VI_2");
    two.global_extra = vec![
        "notification_email {\n        admin@example.com\n    }".into(),
        "notification_email_from kl@example.com".into(),
        format!("smtp_server {server}"),
        "smtp_connect_timeout 5".into(),
    ];
    let mut text = keepalived_testlab::render_config("LB_1", &[one, two]);
    text.push_str("\nvrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n    smtp_alert\n}\n");
    text
}

/// Runs `daemon` with the SMTP server on m; returns the mails it delivered once MASTER.
fn deliver(daemon: Daemon) -> Vec<Received> {
    deliver_config(daemon, config)
}

/// [`deliver`] with the config `make` writes for the server's address.
fn deliver_config(daemon: Daemon, make: fn(&str) -> String) -> Vec<Received> {
    let lab = Lab::new("smtp", &["a", "m"]).expect("lab");
    let (a, m) = (lab.host("a"), lab.host("m"));
    let maildir = m.dir().join("maildir");
    let listen = format!("{}:25", m.address());
    let _server = m
        .spawn(
            PYTHON,
            &[
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &listen,
                "-c",
                "aiosmtpd.handlers.Mailbox",
                &maildir.to_string_lossy(),
            ],
        )
        .expect("aiosmtpd");
    assert!(
        poll_until(Duration::from_secs(10), || maildir.join("new").exists()
            && m.run("ss", &["-ltn"])
                .is_ok_and(
                    |o| String::from_utf8_lossy(&o.stdout).contains(":25 ")
                )),
        "aiosmtpd did not start"
    );
    let k = daemon.start(OURS, a, &make(&m.address().to_string()));
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(10)),
        "{daemon:?}: never MASTER\n{}",
        k.log().unwrap_or_default()
    );
    assert!(
        poll_until(Duration::from_secs(10), || mails(&maildir).len() >= 2),
        "{daemon:?}: fewer than two mails\n{}",
        k.log().unwrap_or_default()
    );
    // Room for a mail that should not be there.
    std::thread::sleep(Duration::from_secs(1));
    mails(&maildir)
}

#[test]
fn alerts_are_the_mails_keepalived_2_2_7_sends() {
    if !lab_ready() || !require_programs(&["ss"]) || !aiosmtpd_installed() {
        println!("skipped: needs root, the lab programs and python3-aiosmtpd");
        return;
    }
    let (ours, real) = std::thread::scope(|s| {
        let ours = s.spawn(|| deliver(Daemon::Ours));
        let real = s.spawn(|| deliver(Daemon::Real));
        (
            ours.join().expect("our run"),
            real.join().expect("2.2.7's run"),
        )
    });
    eprintln!("2.2.7: {real:#?}\nours: {ours:#?}");
    assert_eq!(
        real[0].subject, "[LB_1] VRRP Instance VI_1 - Entering BACKUP state",
        "2.2.7 no longer sends what this test expects"
    );
    assert_eq!(ours, real);
}

/// A sync group with `smtp_alert`: one mail per group transition, worded as 2.2.7 words it.
#[test]
fn group_alerts_are_the_mails_keepalived_2_2_7_sends() {
    if !lab_ready() || !require_programs(&["ss"]) || !aiosmtpd_installed() {
        println!("skipped: needs root, the lab programs and python3-aiosmtpd");
        return;
    }
    let (ours, real) = std::thread::scope(|s| {
        let ours = s.spawn(|| deliver_config(Daemon::Ours, group_config));
        let real = s.spawn(|| deliver_config(Daemon::Real, group_config));
        (
            ours.join().expect("our run"),
            real.join().expect("2.2.7's run"),
        )
    });
    eprintln!("2.2.7: {real:#?}\nours: {ours:#?}");
    assert_eq!(
        real[0].subject, "[LB_1] VRRP Group G1 - Entering BACKUP state",
        "2.2.7 no longer sends what this test expects"
    );
    assert_eq!(ours, real);
}

/// The address a reload adds as a static_ipaddress: seeing it shows the reload has landed
/// (a change of the instance itself would make ours restart it, see docs/compat.md).
const RELOAD_MARK: &str = "203.0.113.5";

/// The config after the reload: alerts through `server` to another address from another
/// sender, another router_id, and a static address (which shows the reload has landed).
fn reloaded_config(server: &str) -> String {
    let mut instance = VrrpInstance::new(51, 100, &["198.51.100.100/32"]).extra("smtp_alert");
    instance.global_extra = vec![
        "notification_email {\n        new@example.com\n    }".into(),
        "notification_email_from kl2@example.com".into(),
        format!("smtp_server {server} 2525"),
        "smtp_connect_timeout 5".into(),
        "smtp_helo_name lb2.example.com".into(),
    ];
    let mut text = instance.render("LB_2");
    text.push_str(&format!(
        "\nstatic_ipaddress {{\n    {RELOAD_MARK}/32 dev {}\n}}\n",
        keepalived_testlab::HOST_IF
    ));
    text
}

/// Starts aiosmtpd on `host` at `port`, storing mails in a maildir of its own; waits until it
/// listens.
fn smtp_server(host: &Host, port: u16) -> (keepalived_testlab::Proc, PathBuf) {
    let maildir = host.dir().join(format!("maildir-{port}"));
    let listen = format!("{}:{port}", host.address());
    let server = host
        .spawn(
            PYTHON,
            &[
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &listen,
                "-c",
                "aiosmtpd.handlers.Mailbox",
                &maildir.to_string_lossy(),
            ],
        )
        .expect("aiosmtpd");
    let needle = format!(":{port} ");
    assert!(
        poll_until(Duration::from_secs(10), || maildir.join("new").exists()
            && host.run("ss", &["-ltn"]).is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&needle)
            })),
        "aiosmtpd did not start"
    );
    (server, maildir)
}

/// Runs `daemon` on a with alerts to m, reloads it with alerts to n, then lets a
/// higher-priority peer (ours, on b, without alerts) take the VIP: returns the mails m and n
/// received.
fn deliver_across_reload(daemon: Daemon) -> (Vec<Received>, Vec<Received>) {
    let lab = Lab::new("smtprl", &["a", "m", "n", "b"]).expect("lab");
    let (a, m, n, b) = (lab.host("a"), lab.host("m"), lab.host("n"), lab.host("b"));
    let (_first, first_dir) = smtp_server(m, 25);
    let (_second, second_dir) = smtp_server(n, 2525);
    let k = daemon.start(OURS, a, &config(&m.address().to_string()));
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(10)),
        "{daemon:?}: never MASTER\n{}",
        k.log().unwrap_or_default()
    );
    assert!(
        poll_until(Duration::from_secs(10), || mails(&first_dir).len() >= 2),
        "{daemon:?}: fewer than two mails before the reload\n{}",
        k.log().unwrap_or_default()
    );
    k.write_config(&reloaded_config(&n.address().to_string()))
        .expect("new config");
    k.reload().expect("SIGHUP");
    assert!(
        a.wait_for_address(RELOAD_MARK, true, Duration::from_secs(10)),
        "{daemon:?}: the reload did not land\n{}",
        k.log().unwrap_or_default()
    );
    let peer = VrrpInstance::new(51, 200, &["198.51.100.100/32"]);
    let _b = Daemon::Ours.start(OURS, b, &peer.render("PEER"));
    assert!(
        a.wait_for_address(VIP, false, Duration::from_secs(10)),
        "{daemon:?}: never BACKUP\n{}",
        k.log().unwrap_or_default()
    );
    assert!(
        poll_until(Duration::from_secs(10), || !mails(&second_dir).is_empty()),
        "{daemon:?}: no mail through the reloaded server\n{}",
        k.log().unwrap_or_default()
    );
    // Room for a mail that should not be there.
    std::thread::sleep(Duration::from_secs(1));
    (mails(&first_dir), mails(&second_dir))
}

/// A reload (SIGHUP) reads global_defs' mail settings again: the next transition is mailed
/// through the new smtp_server, to the new notification_email, from the new sender, with the
/// new router_id, as 2.2.7 does.
#[test]
fn a_reload_moves_alerts_to_the_new_mail_settings() {
    if !lab_ready() || !require_programs(&["ss"]) || !aiosmtpd_installed() {
        println!("skipped: needs root, the lab programs and python3-aiosmtpd");
        return;
    }
    let (ours, real) = std::thread::scope(|s| {
        let ours = s.spawn(|| deliver_across_reload(Daemon::Ours));
        let real = s.spawn(|| deliver_across_reload(Daemon::Real));
        (
            ours.join().expect("our run"),
            real.join().expect("2.2.7's run"),
        )
    });
    eprintln!("2.2.7: {real:#?}\nours: {ours:#?}");
    assert_eq!(
        real.1.first().map(|m| (m.subject.as_str(), m.to.as_str())),
        Some((
            "[LB_2] VRRP Instance VI_1 - Entering BACKUP state",
            "new@example.com"
        )),
        "2.2.7 no longer sends what this test expects"
    );
    assert_eq!(ours, real);
}

/// Runs `daemon` on a with alerts to m and `no_email_faults`, its instance tracking a file
/// (weight 0): MASTER, then FAULT (the file says 1), then back (0). Returns the mails m got.
fn deliver_with_faults(daemon: Daemon) -> Vec<Received> {
    let lab = Lab::new("smtpflt", &["a", "m"]).expect("lab");
    let (a, m) = (lab.host("a"), lab.host("m"));
    let (_server, maildir) = smtp_server(m, 25);
    let file = a.dir().join("tracked");
    fs::write(&file, "0\n").expect("track file");
    let mut instance = VrrpInstance::new(51, 100, &["198.51.100.100/32"])
        .extra("smtp_alert")
        .extra("track_file {\n        tf\n    }");
    instance.global_extra = vec![
        "notification_email {\n        admin@example.com\n    }".into(),
        "notification_email_from kl@example.com".into(),
        format!("smtp_server {}", m.address()),
        "smtp_connect_timeout 5".into(),
        "no_email_faults".into(),
    ];
    // Defined before the instance that tracks it (2.2.7 reads the file in order).
    let text = format!(
        "track_file tf {{\n    file {}\n    weight 0\n}}\n{}",
        file.display(),
        instance.render("LB_1")
    );
    let k = daemon.start(OURS, a, &text);
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(10)),
        "{daemon:?}: never MASTER\n{}",
        k.log().unwrap_or_default()
    );
    assert!(
        poll_until(Duration::from_secs(10), || mails(&maildir).len() >= 2),
        "{daemon:?}: fewer than two mails\n{}",
        k.log().unwrap_or_default()
    );
    fs::write(&file, "1\n").expect("track file");
    assert!(
        a.wait_for_address(VIP, false, Duration::from_secs(10)),
        "{daemon:?}: never FAULT\n{}",
        k.log().unwrap_or_default()
    );
    std::thread::sleep(Duration::from_secs(1));
    fs::write(&file, "0\n").expect("track file");
    assert!(
        a.wait_for_address(VIP, true, Duration::from_secs(10)),
        "{daemon:?}: never MASTER again\n{}",
        k.log().unwrap_or_default()
    );
    assert!(
        poll_until(Duration::from_secs(10), || mails(&maildir).len() >= 3),
        "{daemon:?}: no mail after the fault\n{}",
        k.log().unwrap_or_default()
    );
    // Room for a mail that should not be there.
    std::thread::sleep(Duration::from_secs(1));
    mails(&maildir)
}

/// `no_email_faults`: the mails around a FAULT are those 2.2.7 sends.
#[test]
fn no_email_faults_sends_what_keepalived_2_2_7_sends() {
    if !lab_ready() || !require_programs(&["ss"]) || !aiosmtpd_installed() {
        println!("skipped: needs root, the lab programs and python3-aiosmtpd");
        return;
    }
    let (ours, real) = std::thread::scope(|s| {
        let ours = s.spawn(|| deliver_with_faults(Daemon::Ours));
        let real = s.spawn(|| deliver_with_faults(Daemon::Real));
        (
            ours.join().expect("our run"),
            real.join().expect("2.2.7's run"),
        )
    });
    eprintln!("2.2.7: {real:#?}\nours: {ours:#?}");
    assert!(
        real.iter().all(|m| !m.subject.contains("FAULT")),
        "2.2.7 mailed a FAULT with no_email_faults"
    );
    assert_eq!(ours, real);
}

/// A mail server that refuses (nothing listens) or never answers (an address nobody has):
/// the instance becomes MASTER as it would without alerts, and says the alert failed.
#[test]
fn a_dead_mail_server_delays_nothing() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new("smtpdead", &["a", "b"]).expect("lab");
    let (a, b) = (lab.host("a"), lab.host("b"));
    let unanswered = lab.subnet().addr(99).to_string();
    for (host, server) in [(a, b.address().to_string()), (b, unanswered)] {
        let started = Instant::now();
        let mut k = Daemon::Ours.start(OURS, host, &config(&server));
        let bound = master_down_interval(Duration::from_secs(1), 100) + Duration::from_secs(2);
        assert!(
            host.wait_for_address(VIP, true, bound + Duration::from_secs(5)),
            "never MASTER with a dead mail server at {server}\n{}",
            k.log().unwrap_or_default()
        );
        let took = started.elapsed();
        assert!(
            took <= bound,
            "MASTER after {took:?} with a dead mail server at {server} (bound {bound:?})\n{}",
            k.log().unwrap_or_default()
        );
        assert!(
            k.wait_for_log("SMTP alert to [", Duration::from_secs(10)),
            "the failed alert is not logged\n{}",
            k.log().unwrap_or_default()
        );
        let _ = k.stop();
    }
}
