//! How scripts are found and run, ours beside keepalived 2.2.7 (root only): a table of every way
//! a script can be named or run — full path, a bare name found on the `PATH` (`killall -0 …`,
//! the most common check in keepalived guides), a bare name not found, a relative path, a
//! symlink, a directory, a file that is not executable, one owned by another user, one anyone
//! may write, `script_user` with and without `enable_script_security`, no `script_user` while
//! the default `keepalived_script` user does not exist, quoted arguments, notify scripts.
//!
//! Each row runs on a one-host lab once per daemon, both with the same `PATH`, and compares:
//! what `keepalived -t` prints and its exit code; the script lines the daemon logs at start
//! (`WARNING - script `killall` resolved by path search …`, `Cannot find script …`,
//! `VRRP_Script(chk) failed (exited with status 1)` …) in order; whether the instance takes the
//! VIP (a lone BACKUP becomes MASTER after Master_Down_Interval unless a failing weight-0 check
//! holds it in FAULT); and the arguments a script received. Rows where 2.2.7 does something we
//! deliberately do not (docs/compat.md, "How scripts are found") say so and what 2.2.7 does.
//!
//! Run: `cargo test -p keepalived --test script_lookup` (as root with keepalived 2.2.7 and
//! killall installed; each test returns early otherwise).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalived_testlab::prelude::*;

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The `PATH` both daemons get: a service manager's, so results do not depend on the shell
/// that runs the tests.
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const VIP: &str = "198.51.100.100";

/// A lone BACKUP at priority 100 becomes MASTER after 3.61 s; this leaves room for a loaded
/// machine and for the first script run.
const TO_MASTER: Duration = Duration::from_secs(8);

/// `global_defs` lines of a row.
const NONE: &[&str] = &[];
const ROOT_SECURE: &[&str] = &["script_user root", "enable_script_security"];
const NOBODY: &[&str] = &["script_user nobody"];
const NOBODY_SECURE: &[&str] = &["script_user nobody", "enable_script_security"];
const SECURE_ONLY: &[&str] = &["enable_script_security"];

/// One row: how the check script is written (`{D}` is the row's script directory), what
/// `global_defs` says, and notify lines for the instance.
struct Row {
    globals: &'static [&'static str],
    script: &'static str,
    notify: &'static [&'static str],
    /// keepalived 2.2.7's `-t` exit code where ours deliberately differs, ours, and why.
    t_differs: Option<(i32, i32, &'static str)>,
}

const fn row(globals: &'static [&'static str], script: &'static str) -> Row {
    Row {
        globals,
        script,
        notify: &[],
        t_differs: None,
    }
}

/// 2.2.7's `-t` kills itself with SIGTERM (exit 143) once it has checked a script as another
/// user; ours reports the file's problems and exits with their code.
const fn self_kill(ours: i32) -> Option<(i32, i32, &'static str)> {
    Some((
        143,
        ours,
        "2.2.7's -t dies by SIGTERM after checking a script as a non-root user",
    ))
}

/// What one daemon did with one row.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    t_exit: i32,
    t_lines: Vec<String>,
    run_lines: Vec<String>,
    holds_vip: bool,
    args: Option<String>,
}

/// Runs `row` with both daemons in parallel and compares what they did.
fn check(tag: &str, row: &Row) {
    if !require_root() || !require_programs(&["ip", "env", "killall", KEEPALIVED_BIN]) {
        return;
    }
    let (ours, real) = std::thread::scope(|s| {
        let ours = s.spawn(|| observe(row, Daemon::Ours));
        let real = s.spawn(|| observe(row, Daemon::Real));
        (
            ours.join().expect("our run panicked"),
            real.join().expect("2.2.7's run panicked"),
        )
    });
    eprintln!("{tag}\n  2.2.7: {real:?}\n  ours:  {ours:?}");
    match row.t_differs {
        Some((theirs, mine, why)) => {
            assert_eq!(
                real.t_exit, theirs,
                "{tag}: 2.2.7 no longer does this: {why}"
            );
            assert_eq!(ours.t_exit, mine, "{tag}: our -t exit code");
        }
        None => {
            assert_eq!(ours.t_exit, real.t_exit, "{tag}: -t exit code");
            assert_eq!(ours.t_lines, real.t_lines, "{tag}: -t lines");
        }
    }
    assert_eq!(
        ours.run_lines, real.run_lines,
        "{tag}: script lines at start"
    );
    assert_eq!(ours.holds_vip, real.holds_vip, "{tag}: VIP after start");
    assert_eq!(ours.args, real.args, "{tag}: arguments the script received");
}

/// One daemon, one row, one lab.
fn observe(row: &Row, daemon: Daemon) -> Seen {
    let lab = Lab::new("scrpath", &["a"]).expect("lab");
    let a = lab.host("a");
    let dir = script_dir(a);
    let d = dir.to_string_lossy().into_owned();
    let config = config(row, &d);
    let conf = a.dir().join("check.conf");
    fs::write(&conf, &config).expect("writing the config");
    let conf_s = conf.to_string_lossy().into_owned();
    let out = a
        .run_timeout(
            "env",
            &[PATH, daemon.binary(OURS), "-t", "-f", &conf_s],
            Duration::from_secs(20),
        )
        .expect("-t");
    let t_exit = out.status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&out.status).unwrap_or(0)
    });
    let t_text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let t_lines = t_text
        .lines()
        .map(|l| normalize(l, &conf_s, &d))
        .filter(|l| !l.is_empty())
        .collect();
    let mut k = Keepalived::start_in_env(a, Path::new(daemon.binary(OURS)), &config, &[], &[PATH])
        .expect("starting the daemon");
    let holds_vip = poll_until(TO_MASTER, || a.has_address(VIP).unwrap_or(false));
    // A check that fails keeps failing: give it two more runs to show its lines.
    std::thread::sleep(Duration::from_millis(2500));
    let log = k.log().expect("log");
    let _ = k.stop();
    let conf_in_log = k.config_path().to_string_lossy().into_owned();
    let run_lines = log
        .lines()
        .map(|l| normalize(strip_prefix(l), &conf_in_log, &d))
        .filter(|l| is_script_line(l))
        .collect();
    let args = fs::read_to_string(dir.join("args.out")).ok();
    Seen {
        t_exit,
        t_lines,
        run_lines,
        holds_vip,
        args,
    }
}

/// The row's config: VI_1 (BACKUP, priority 100) tracking `chk` with weight 0.
fn config(row: &Row, d: &str) -> String {
    let mut instance = VrrpInstance::new(51, 100, &["198.51.100.100/32"]);
    instance.global_extra = row.globals.iter().map(|s| s.to_string()).collect();
    for n in row.notify {
        instance = instance.extra(&n.replace("{D}", d));
    }
    instance = instance.extra("track_script {\n        chk\n    }");
    let text = instance.render("a");
    let written = row.script.replace("{REL}", &relative(d)).replace("{D}", d);
    // A row starting with `=` is written as it stands, without the double quotes.
    let value = match written.strip_prefix('=') {
        Some(bare) => bare.to_string(),
        None => format!("\"{written}\""),
    };
    let script = format!("\nvrrp_script chk {{\n    script {value}\n    interval 1\n}}\n");
    match text.find("\nvrrp_instance") {
        Some(at) => format!("{}{script}{}", &text[..at], &text[at..]),
        None => panic!("no vrrp_instance in:\n{text}"),
    }
}

/// Makes `a`'s script directory with every kind of file a row names.
fn script_dir(a: &Host) -> PathBuf {
    let home = a.dir();
    chmod(home, 0o755);
    if let Some(lab_dir) = home.parent() {
        chmod(lab_dir, 0o755);
    }
    let dir = home.join("scripts");
    fs::create_dir_all(dir.join("subdir")).expect("script dir");
    chmod(&dir, 0o755);
    let d = dir.to_string_lossy().into_owned();
    let write = |name: &str, body: &str, mode: u32| {
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        chmod(&path, mode);
    };
    write("ok.sh", "exit 0", 0o755);
    write("fail.sh", "exit 1", 0o755);
    write("noexec.sh", "exit 0", 0o644);
    write("ww.sh", "exit 0", 0o777);
    write("nobody.sh", "exit 0", 0o755);
    write(
        "args.sh",
        &format!("for a in \"$@\"; do printf '[%s]' \"$a\"; done > {d}/args.out\nexit 0"),
        0o755,
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    nix::unistd::chown(&dir.join("nobody.sh"), Some(nobody.uid), None).expect("chown");
    symlink(dir.join("ok.sh"), dir.join("link.sh")).expect("symlink");
    dir
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// A log line without its prefix: ours `Keepalived_vrrp[PID]: `, 2.2.7's date with `-l`.
fn strip_prefix(line: &str) -> &str {
    if line.starts_with("Keepalived")
        && let Some(at) = line.find("]: ")
    {
        return &line[at + 3..];
    }
    // `Thu Dec  3 12:17:14 2026: ` is 26 characters.
    let b = line.as_bytes();
    if b.len() > 26 && &b[24..26] == b": " && b[3] == b' ' && b[7] == b' ' {
        return &line[26..];
    }
    line
}

/// The line with the row's paths replaced by placeholders.
fn normalize(line: &str, conf: &str, d: &str) -> String {
    line.trim()
        .replace(conf, "CONF")
        .replace(&relative(d), "{REL}")
        .replace(d, "{D}")
}

/// Whether a log line is about scripts (not 2.2.7's echo of its command line).
fn is_script_line(line: &str) -> bool {
    !line.starts_with('\'')
        && !line.starts_with("Command line")
        && [
            "script",
            "Script",
            "SECURITY",
            "Unsafe",
            "supplementary",
            "Wrong file type",
        ]
        .iter()
        .any(|w| line.contains(w))
}

/// `d` as a path relative to the test's working directory, which the daemons inherit.
fn relative(d: &str) -> String {
    let depth = std::env::current_dir()
        .map(|cwd| cwd.components().count().saturating_sub(1))
        .unwrap_or(0);
    format!("{}{}", "../".repeat(depth), d.trim_start_matches('/'))
}

macro_rules! table {
    ($($name:ident: $row:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), &$row);
            }
        )*
    };
}

table! {
    full_path: row(NONE, "{D}/ok.sh");
    full_path_secure: row(ROOT_SECURE, "{D}/ok.sh");
    bare_name_found_failing: row(NONE, "killall -0 kl-no-such-process");
    bare_name_found_failing_secure: row(ROOT_SECURE, "killall -0 kl-no-such-process");
    bare_name_found_passing_secure: row(ROOT_SECURE, "true");
    bare_name_not_found: row(NONE, "kl-no-such-program x");
    bare_name_not_found_secure: row(ROOT_SECURE, "kl-no-such-program x");
    symlink_secure: row(ROOT_SECURE, "{D}/link.sh");
    relative_path_secure: row(ROOT_SECURE, "{REL}/ok.sh");
    directory: row(NONE, "{D}/subdir");
    directory_secure: row(ROOT_SECURE, "{D}/subdir");
    not_executable: row(NONE, "{D}/noexec.sh");
    not_executable_secure: row(ROOT_SECURE, "{D}/noexec.sh");
    owned_by_another_user: row(NONE, "{D}/nobody.sh");
    owned_by_another_user_secure: row(ROOT_SECURE, "{D}/nobody.sh");
    world_writable: row(NONE, "{D}/ww.sh");
    world_writable_secure: row(ROOT_SECURE, "{D}/ww.sh");
    missing_full_path: row(NONE, "{D}/missing.sh");
    failing_full_path_secure: row(ROOT_SECURE, "{D}/fail.sh");
    script_user_bare_name: row(NOBODY, "true");
    script_user_bare_name_secure: row(NOBODY_SECURE, "true");
    script_user_full_path: Row { t_differs: self_kill(6), ..row(NOBODY, "{D}/ok.sh") };
    script_user_full_path_secure: Row { t_differs: self_kill(0), ..row(NOBODY_SECURE, "{D}/ok.sh") };
    security_without_script_user: row(SECURE_ONLY, "{D}/ok.sh");
    quoted_arguments: row(ROOT_SECURE, "{D}/args.sh a 'b c' 'it''s'  x");
    escaped_quotes_in_the_string: row(ROOT_SECURE, r#"{D}/args.sh a\"b c\" d"#);
    backslash_escapes: row(ROOT_SECURE, r#"{D}/args.sh a\\\\ b \x41\101 c\td"#);
    unquoted_words_after_the_script: row(ROOT_SECURE, "={D}/args.sh x y");
    single_quoted_span: row(ROOT_SECURE, "='{D}/args.sh x y'");
    notify_script_user_missing: Row {
        notify: &["notify_backup \"{D}/args.sh nb\" kl-no-such-user"],
        ..row(ROOT_SECURE, "{D}/ok.sh")
    };
    notify_scripts_found_and_not: Row {
        notify: &["notify_master \"true\"", "notify_backup \"kl-no-such-notify\"", "notify_fault {D}/subdir"],
        ..row(ROOT_SECURE, "{D}/ok.sh")
    };
}
