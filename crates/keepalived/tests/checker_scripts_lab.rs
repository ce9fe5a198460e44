//! The checker's scripts and their users, against keepalived 2.2.7 running (root only).
//!
//! Each case is a file of virtual servers whose MISC_CHECK, notify_up / notify_down and
//! quorum_up / quorum_down scripts name their user or not, with or without
//! `enable_script_security`, with a `script_user` that exists or not, and scripts that exist or
//! not. This machine has no `keepalived_script` user and no IPVS, so the default user is
//! missing and the checker child stops after its start-up lines (`IPVS: Can't initialize
//! ipvs`): everything the parent and the checker log before `Initializing ipvs` is what they
//! made of the scripts, and is compared line by line, in order (the lines every start has,
//! `Starting Healthcheck child process` among them, left out: the parent's and the child's
//! are written at about the same time). Both daemons run in a network namespace of their own
//! (where IPVS works the child would go on: it is stopped after [`RUN`]).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_testlab::{
    COMMAND_TIMEOUT, KEEPALIVED_BIN, Signal, require_programs, require_root, run_command,
    signal_group,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// The longest a daemon runs: without IPVS both stop within a second.
const RUN: Duration = Duration::from_secs(6);

/// A virtual server with the scripts `vs` (its own lines) and `rs` (its real server's).
fn service(port: u16, vs: &str, rs: &str) -> String {
    format!(
        "virtual_server 192.0.2.10 {port} {{\n    lb_algo rr\n    lb_kind NAT\n    \
         protocol TCP\n{vs}\n    real_server 192.0.2.11 {port} {{\n{rs}\n    }}\n}}\n"
    )
}

/// A MISC_CHECK running `path`, with `user` lines if any.
fn misc(path: &str, user: &str) -> String {
    format!("        MISC_CHECK {{\n            misc_path \"{path}\"\n{user}\n        }}")
}

const TCP: &str = "        TCP_CHECK {\n        }";

/// The cases: a name and the file.
fn cases() -> Vec<(&'static str, String)> {
    let security = "global_defs {\n    enable_script_security\n}\n";
    let several = format!(
        "{}{}",
        service(
            80,
            "    quorum_up \"/bin/true q\"",
            &format!(
                "        notify_up \"/nonexistent/n up\"\n        notify_down \"/bin/true down\"\n{}",
                misc("/nonexistent/check arg1", "")
            ),
        ),
        service(
            81,
            "    quorum_down \"/bin/false\"",
            &misc("/bin/false", "")
        ),
    );
    vec![
        ("misc-default-user", service(80, "", &misc("/bin/true", ""))),
        (
            "misc-missing-script",
            service(80, "", &misc("/nonexistent/check arg1", "")),
        ),
        (
            "misc-as-nobody",
            service(80, "", &misc("/bin/true", "            user nobody")),
        ),
        (
            "misc-missing-group",
            service(
                80,
                "",
                &misc("/bin/true", "            user nobody nosuchgroup"),
            ),
        ),
        (
            "notify-default-and-named",
            service(
                80,
                "",
                &format!(
                    "        notify_up \"/bin/true up\"\n        notify_down \"/bin/echo down\" \
                     nobody\n{TCP}"
                ),
            ),
        ),
        (
            "notify-missing-user",
            service(
                80,
                "    quorum_up \"/bin/true q\" nobody nosuchgroup",
                &format!("        notify_up \"/bin/true up\" nosuchuser\n{TCP}"),
            ),
        ),
        (
            "notify-missing-script",
            service(
                80,
                "",
                &format!("        notify_up \"/nonexistent/n up\"\n{TCP}"),
            ),
        ),
        ("several-scripts", several.clone()),
        ("several-scripts-secure", format!("{security}{several}")),
        (
            "misc-default-user-secure",
            format!("{security}{}", service(80, "", &misc("/bin/true", ""))),
        ),
        (
            "script-user-missing",
            format!(
                "global_defs {{\n    script_user nosuchuser\n}}\n{}",
                service(
                    80,
                    "    quorum_up \"/bin/true q\"",
                    &format!(
                        "        notify_down \"/bin/true d\" nobody\n{}",
                        misc("/bin/true", "")
                    ),
                )
            ),
        ),
        (
            "script-user-nobody",
            format!(
                "global_defs {{\n    script_user nobody\n}}\n{}",
                service(80, "    quorum_up \"/bin/true q\"", &misc("/bin/true", ""))
            ),
        ),
    ]
}

/// A line without 2.2.7's time stamp (`Sat Dec  5 10:04:36 2026: `) or our process tag
/// (`Keepalived_healthcheckers[7]: `).
fn bare(line: &str) -> &str {
    if let Some(rest) = line.get(26..)
        && line.get(24..26) == Some(": ")
        && line
            .get(20..24)
            .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
    {
        return rest;
    }
    if let Some((tag, rest)) = line.split_once("]: ")
        && let Some((ident, pid)) = tag.split_once('[')
        && ident.starts_with("Keepalived")
        && pid.bytes().all(|b| b.is_ascii_digit())
    {
        return rest;
    }
    line
}

/// The lines logged before `Initializing ipvs`, without those every start logs, with the
/// file's path as `FILE`.
fn script_lines(log: &str, conf: &Path) -> Vec<String> {
    let every_start = [
        "Starting Keepalived",
        "Running on ",
        "Command line:",
        "              ",
        "Configuration file ",
        "NOTICE: setting config option max_auto_priority",
        "Starting Healthcheck child process",
    ];
    let file = conf.to_string_lossy();
    log.lines()
        .map(bare)
        .take_while(|line| !line.starts_with("Initializing ipvs"))
        .filter(|line| !every_start.iter().any(|s| line.starts_with(s)))
        .map(|line| line.replace(file.as_ref(), "FILE"))
        .collect()
}

/// Runs `binary` on `conf` in namespace `ns` until it stops (at most [`RUN`]); its log.
fn run(binary: &str, conf: &Path, ns: &str, dir: &Path) -> Result<String, String> {
    let log_path = dir.join(format!("{ns}.log"));
    let log = fs::File::create(&log_path).map_err(|e| format!("log: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("log: {e}"))?;
    let path = |file: &str| {
        dir.join(format!("{ns}.{file}"))
            .to_string_lossy()
            .into_owned()
    };
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, binary, "-n", "-l", "-f"])
        .arg(conf)
        .args([
            "-p",
            &path("k.pid"),
            "-r",
            &path("v.pid"),
            "-c",
            &path("c.pid"),
        ]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {binary}: {e}"))?;
    let deadline = Instant::now() + RUN;
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        thread::sleep(Duration::from_millis(50));
    }
    if matches!(child.try_wait(), Ok(None)) {
        let _ = signal_group(child.id(), Signal::Term);
        thread::sleep(Duration::from_secs(2));
        let _ = signal_group(child.id(), Signal::Kill);
    }
    let _ = child.wait();
    fs::read_to_string(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))
}

/// A network namespace, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Result<Netns, String> {
        let out = run_command(
            Command::new("ip").args(["netns", "add", &name]),
            COMMAND_TIMEOUT,
        )
        .map_err(|e| format!("ip netns add {name}: {e:#}"))?;
        if !out.status.success() {
            return Err(format!("ip netns add {name} failed"));
        }
        Ok(Netns(name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_command(
            Command::new("ip").args(["netns", "delete", &self.0]),
            COMMAND_TIMEOUT,
        );
    }
}

#[test]
fn script_lines_drop_time_stamps_tags_and_the_lines_of_every_start() {
    let conf = Path::new("/c/x.conf");
    let log = "Sat Dec  5 10:04:36 2026: Starting Keepalived v2.2.7 (01/16,2022)\n\
               Sat Dec  5 10:04:36 2026: Script user 'keepalived_script' does not exist\n\
               Keepalived_healthcheckers[7]: (/c/x.conf: Line 6) Unable to set default user\n\
               Keepalived[6]: Starting Healthcheck child process, pid=7\n\
               Keepalived_healthcheckers[7]: Initializing ipvs\n\
               Keepalived_healthcheckers[7]: Stopped\n";
    assert_eq!(
        script_lines(log, conf),
        [
            "Script user 'keepalived_script' does not exist",
            "(FILE: Line 6) Unable to set default user",
        ]
    );
}

#[test]
fn checker_scripts_get_their_users_as_keepalived_2_2_7_gives_them() {
    if !(require_root() && require_programs(&["ip", KEEPALIVED_BIN])) {
        return;
    }
    if nix::unistd::User::from_name("keepalived_script")
        .ok()
        .flatten()
        .is_some()
    {
        println!("skipped: this host has a keepalived_script user");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kl-chkscripts-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("work directory");
    let mut failures = Vec::new();
    for (i, (name, text)) in cases().into_iter().enumerate() {
        let conf = dir.join(format!("{name}.conf"));
        fs::write(&conf, &text).expect("configuration");
        let mut logs = Vec::new();
        for (who, binary) in [("ref", KEEPALIVED_BIN), ("ours", OURS)] {
            let ns = format!("kl-cs{}-{i}-{who}", std::process::id());
            let result = Netns::new(ns.clone()).and_then(|_ns| run(binary, &conf, &ns, &dir));
            logs.push(result.map(|log| script_lines(&log, &conf)));
        }
        match (&logs[0], &logs[1]) {
            (Ok(reference), Ok(ours)) if reference == ours => {
                println!("{name}: {} lines agree", ours.len());
            }
            (Ok(reference), Ok(ours)) => failures.push(format!(
                "{name}:\n  keepalived 2.2.7: {reference:#?}\n  keepalived-rs: {ours:#?}"
            )),
            (Err(e), _) | (_, Err(e)) => failures.push(format!("{name}: {e}")),
        }
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
