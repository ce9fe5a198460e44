//! The SysV init script (init.d/keepalived), its sysconfig file, the systemd unit, the sample
//! config and init.d/install.sh.
//!
//! Without root: the script's chkconfig and LSB headers are parsed strictly (and fed to Debian's
//! `insserv` in dry-run mode when it is installed), `sh -n`/`bash -n` (and shellcheck when
//! present) accept the shell files, the unit and sysconfig hold what the daemon needs, the
//! sample config loads, and install.sh installs into a staging root.
//!
//! With root, the script runs "for real" against a daemon: a holder process lives in a lab
//! host's network namespace and in a private mount namespace of its own, where /etc and
//! /usr/sbin are overlays (so /etc/sysconfig and /etc/keepalived can be made without touching
//! the host), /var/run is a fresh directory and /usr/sbin/keepalived is a bind mount of the
//! binary under test. Every verb runs through `nsenter` into both namespaces. The lifecycle runs
//! against our binary (the real assertion) and against keepalived 2.2.7 (a check of the script
//! itself). Nothing of it is visible outside: the mounts die with the mount namespace, the
//! processes and the network namespace with the lab.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keepalived_testlab::initd::{self, InitVerb, KillDaemons, alive, keepalived_pids};
use keepalived_testlab::{
    Host, KEEPALIVED_BIN, Lab, VrrpInstance, require_programs, require_root, run_command,
};

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");

/// The lab config's virtual address (TEST-NET-2, on the host's eth0).
const VIP: &str = "198.51.100.50";

/// How long a lone MASTER may take to hold its VIP after start.
const VIP_WAIT: Duration = Duration::from_secs(10);

static SCRATCH_COUNTER: AtomicU32 = AtomicU32::new(0);

fn init_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../init.d")
}

fn init_file(name: &str) -> PathBuf {
    init_dir().join(name)
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    run_command(cmd, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{what}: {e:#}"))
}

/// Whether `program` is on PATH (or, given as a path, exists).
fn have(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .any(|d| d.join(program).is_file())
    })
}

fn find_program(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// A directory under the system temp dir, removed when dropped (also on failure).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let n = SCRATCH_COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "keepalived-rs-init-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Headers

/// What the script's header comments say.
#[derive(Debug, Default)]
struct Headers {
    /// `# chkconfig:` value.
    chkconfig: String,
    /// `# description:` with its continuation lines joined.
    description: String,
    /// `# processname:` value.
    processname: String,
    /// Every `# pidfile:` value.
    pidfiles: Vec<String>,
    /// Every `# config:` value.
    configs: Vec<String>,
    /// The LSB keywords in order, continuation lines joined to their value.
    lsb: Vec<(String, String)>,
}

impl Headers {
    fn lsb(&self, key: &str) -> Option<&str> {
        self.lsb
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

const LSB_KEYWORDS: &[&str] = &[
    "Provides",
    "Required-Start",
    "Required-Stop",
    "Should-Start",
    "Should-Stop",
    "Default-Start",
    "Default-Stop",
    "Short-Description",
    "Description",
];

/// Parses the leading comment block of an init script (everything from line 2 to the first line
/// that is not a comment) the way chkconfig and insserv read it, and checks it strictly.
fn parse_headers(text: &str) -> Result<Headers, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some("#!/bin/sh") | Some("#!/bin/bash") => {}
        other => {
            return Err(format!(
                "first line must be #!/bin/sh or #!/bin/bash: {other:?}"
            ));
        }
    }
    let header: Vec<&str> = lines.take_while(|l| l.starts_with('#')).collect();
    let count = |marker: &str| text.lines().filter(|l| l.trim_end() == marker).count();
    for marker in ["### BEGIN INIT INFO", "### END INIT INFO"] {
        if count(marker) != 1 {
            return Err(format!("`{marker}` must appear exactly once"));
        }
    }
    let begin = header
        .iter()
        .position(|l| *l == "### BEGIN INIT INFO")
        .ok_or("the LSB block is not in the leading comment block")?;
    let end = header
        .iter()
        .position(|l| *l == "### END INIT INFO")
        .ok_or("the LSB block does not end in the leading comment block")?;
    if end < begin {
        return Err("END INIT INFO comes before BEGIN INIT INFO".into());
    }

    let mut h = Headers::default();
    let mut seen_chkconfig = false;
    let mut in_description = false;
    for (i, line) in header.iter().enumerate() {
        if (begin..=end).contains(&i) {
            continue;
        }
        if in_description {
            let cont = line
                .strip_prefix('#')
                .filter(|r| r.starts_with(char::is_whitespace))
                .ok_or(format!("description continues onto a bad line: {line:?}"))?;
            let cont = cont.trim();
            in_description = cont.ends_with('\\');
            h.description.push(' ');
            h.description.push_str(cont.trim_end_matches('\\').trim());
            continue;
        }
        let Some((key, value)) = line
            .strip_prefix("# ")
            .and_then(|r| r.split_once(": "))
            .filter(|(k, _)| !k.contains(' '))
        else {
            continue;
        };
        let value = value.trim();
        match key {
            "chkconfig" => {
                if seen_chkconfig {
                    return Err("two chkconfig lines".into());
                }
                seen_chkconfig = true;
                check_chkconfig(value)?;
                h.chkconfig = value.to_string();
            }
            "description" => {
                in_description = value.ends_with('\\');
                h.description = value.trim_end_matches('\\').trim().to_string();
            }
            "processname" => h.processname = value.to_string(),
            "pidfile" => h.pidfiles.push(value.to_string()),
            "config" => h.configs.push(value.to_string()),
            _ => {}
        }
    }
    if in_description {
        return Err("the description's last line ends with a backslash".into());
    }

    for line in &header[begin + 1..end] {
        let rest = line
            .strip_prefix('#')
            .ok_or(format!("LSB line without #: {line:?}"))?;
        // A continuation: "#" then a tab or at least two blanks; only Description has one.
        if rest.starts_with('\t') || rest.starts_with("  ") {
            let Some((key, value)) = h.lsb.last_mut() else {
                return Err(format!("continuation line before any keyword: {line:?}"));
            };
            if key != "Description" {
                return Err(format!(
                    "only Description may continue, not {key}: {line:?}"
                ));
            }
            value.push(' ');
            value.push_str(rest.trim());
            continue;
        }
        let (key, value) = rest
            .strip_prefix(' ')
            .and_then(|r| r.split_once(':'))
            .ok_or(format!("not an LSB `# Keyword: value` line: {line:?}"))?;
        if !LSB_KEYWORDS.contains(&key) && !key.starts_with("X-") {
            return Err(format!("unknown LSB keyword {key:?}"));
        }
        if h.lsb.iter().any(|(k, _)| k == key) {
            return Err(format!("LSB keyword {key} given twice"));
        }
        if !value.is_empty() && !value.starts_with(char::is_whitespace) {
            return Err(format!("no blank after `{key}:`"));
        }
        h.lsb.push((key.to_string(), value.trim().to_string()));
    }
    for key in ["Default-Start", "Default-Stop"] {
        if let Some(levels) = h.lsb(key) {
            for level in levels.split_whitespace() {
                if !matches!(level, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "S") {
                    return Err(format!("{key}: {level:?} is not a runlevel"));
                }
            }
        }
    }
    for key in [
        "Required-Start",
        "Required-Stop",
        "Should-Start",
        "Should-Stop",
    ] {
        for facility in h.lsb(key).unwrap_or("").split_whitespace() {
            let name = facility.strip_prefix('$').unwrap_or(facility);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.+".contains(&b))
            {
                return Err(format!("{key}: bad facility {facility:?}"));
            }
        }
    }
    Ok(h)
}

/// `- 86 14` or `2345 86 14`: runlevels (or `-`), then start and stop priorities 0-99.
fn check_chkconfig(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split(' ').collect();
    let [levels, start, stop] = parts[..] else {
        return Err(format!(
            "chkconfig needs `LEVELS START STOP`, got {value:?}"
        ));
    };
    if levels != "-" && (levels.is_empty() || !levels.bytes().all(|b| (b'0'..=b'6').contains(&b))) {
        return Err(format!("chkconfig runlevels {levels:?}"));
    }
    for p in [start, stop] {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("chkconfig priority {p:?} is not 0-99"));
        }
    }
    Ok(())
}

#[test]
fn headers_are_what_chkconfig_and_lsb_expect() {
    let text = read_text(&init_file("keepalived"));
    let h = parse_headers(&text).unwrap_or_else(|e| panic!("init.d/keepalived: {e}"));
    assert_eq!(h.chkconfig, "- 86 14");
    assert!(h.description.len() > 20, "description: {:?}", h.description);
    assert_eq!(h.processname, "keepalived");
    assert_eq!(h.pidfiles, ["/var/run/keepalived.pid"]);
    assert!(
        h.configs
            .iter()
            .any(|c| c == "/etc/keepalived/keepalived.conf"),
        "{:?}",
        h.configs
    );
    assert_eq!(h.lsb("Provides"), Some("keepalived"));
    assert_eq!(h.lsb("Required-Start"), Some("$local_fs $network $syslog"));
    assert!(h.lsb("Required-Stop").is_some_and(|v| !v.is_empty()));
    assert_eq!(h.lsb("Default-Start"), Some("2 3 4 5"));
    assert_eq!(h.lsb("Default-Stop"), Some("0 1 6"));
    assert!(h.lsb("Short-Description").is_some_and(|v| !v.is_empty()));
    assert!(h.lsb("Description").is_some_and(|v| v.len() > 20));
}

#[test]
fn the_header_parser_rejects_broken_headers() {
    let good = read_text(&init_file("keepalived"));
    assert!(parse_headers(&good).is_ok());
    let broken = [
        ("no END", good.replace("### END INIT INFO\n", "")),
        (
            "two BEGINs",
            good.replace("### BEGIN", "### BEGIN INIT INFO\n### BEGIN"),
        ),
        (
            "bad runlevel",
            good.replace("Default-Start:     2 3 4 5", "Default-Start: 2 3 9"),
        ),
        (
            "bad chkconfig",
            good.replace("# chkconfig: - 86 14", "# chkconfig: - 86"),
        ),
        (
            "bad priority",
            good.replace("# chkconfig: - 86 14", "# chkconfig: - 860 14"),
        ),
        (
            "duplicate",
            good.replace("# Provides:", "# Provides: x\n# Provides:"),
        ),
        (
            "unknown key",
            good.replace("# Provides:", "# Provide: x\n# Provides:"),
        ),
        (
            "continued keyword",
            good.replace("# Provides:          keepalived", "# Provides: a\n#   b"),
        ),
        (
            "shebang",
            good.replacen("#!/bin/sh", "#!/usr/bin/env perl", 1),
        ),
        (
            "block after code",
            good.replacen("### BEGIN INIT INFO", "true\n### BEGIN INIT INFO", 1),
        ),
    ];
    for (what, text) in broken {
        assert_ne!(text, good, "{what}: the replacement did not apply");
        assert!(parse_headers(&text).is_err(), "{what}: accepted");
    }
}

/// Debian's insserv, in dry-run mode on a directory of its own, must order the script into
/// runlevels 2-5 (start) and 0, 1, 6 (stop).
#[test]
fn insserv_accepts_the_script() {
    let Some(insserv) = find_program("insserv") else {
        println!("skipped: needs insserv (apt-get install insserv)");
        return;
    };
    let scratch = Scratch::new("insserv");
    let d = scratch.path();
    for sub in ["init.d", "overrides"] {
        fs::create_dir_all(d.join(sub)).expect("scratch dirs");
    }
    fs::copy(init_file("keepalived"), d.join("init.d/keepalived")).expect("copy script");
    // The facilities the script needs, provided by nothing (nothing else is installed here).
    fs::write(d.join("insserv.conf"), "$local_fs\n$network\n$syslog\n").expect("conf");
    let out = run(Command::new(insserv)
        .current_dir(d)
        .args(["-n", "-s", "-p"])
        .arg(d.join("init.d"))
        .arg("-o")
        .arg(d.join("overrides"))
        .arg("-c")
        .arg(d.join("insserv.conf"))
        .arg("-i")
        .arg(d)
        .arg("keepalived"));
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let has = |kind: &str, levels: &str| {
        stdout.lines().any(|l| {
            let f: Vec<&str> = l.split(':').collect();
            f.len() == 4
                && f[0] == kind
                && f[1].parse::<u8>().is_ok()
                && f[2] == levels
                && f[3] == "keepalived"
        })
    };
    assert!(has("S", "2 3 4 5"), "{}", show(&out));
    assert!(has("K", "0 1 6"), "{}", show(&out));
}

#[test]
fn shells_accept_the_scripts() {
    let script = init_file("keepalived");
    let install = init_file("install.sh");
    let mut checked = 0;
    for shell in ["sh", "bash", "dash"] {
        if !have(shell) {
            continue;
        }
        let out = run(Command::new(shell).arg("-n").arg(&script));
        assert!(out.status.success(), "{shell} -n: {}", show(&out));
        checked += 1;
    }
    assert!(checked >= 2, "sh and bash must both be there");
    let out = run(Command::new("bash").arg("-n").arg(&install));
    assert!(out.status.success(), "bash -n install.sh: {}", show(&out));
    let mode = fs::metadata(&script).expect("script").permissions().mode();
    assert!(mode & 0o111 != 0, "init.d/keepalived is not executable");
    if have("shellcheck") {
        let out = run(Command::new("shellcheck")
            .args(["-s", "sh", "-S", "warning"])
            .arg(&script));
        assert!(out.status.success(), "shellcheck: {}", show(&out));
        let out = run(Command::new("shellcheck")
            .args(["-S", "warning"])
            .arg(&install));
        assert!(
            out.status.success(),
            "shellcheck install.sh: {}",
            show(&out)
        );
    } else {
        println!("shellcheck not installed: not run");
    }
}

#[test]
fn sysconfig_sets_the_default_options() {
    let out = run(Command::new("sh")
        .args([
            "-c",
            ". \"$1\" && printf '%s' \"$KEEPALIVED_OPTIONS\"",
            "sh",
        ])
        .arg(init_file("keepalived.sysconfig")));
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-D");
}

/// `key=value` lines of `section` of a systemd unit, in order.
fn unit_entries(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

#[test]
fn systemd_unit_starts_the_forking_daemon() {
    let path = init_file("keepalived.service");
    let text = read_text(&path);
    let service = unit_entries(&text, "Service");
    let get = |k: &str| -> Vec<&str> {
        service
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("Type"), ["forking"]);
    assert!(
        matches!(
            get("PIDFile")[..],
            ["/run/keepalived.pid"] | ["/var/run/keepalived.pid"]
        ),
        "{:?}",
        get("PIDFile")
    );
    let exec = get("ExecStart");
    assert_eq!(exec.len(), 1, "{exec:?}");
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(words.first(), Some(&"/usr/sbin/keepalived"));
    assert!(words.contains(&"$KEEPALIVED_OPTIONS"), "{exec:?}");
    assert!(!words.contains(&"-n"), "the daemon must fork: {exec:?}");
    assert!(
        get("EnvironmentFile").contains(&"-/etc/sysconfig/keepalived"),
        "{service:?}"
    );
    assert!(
        get("ExecReload")
            .iter()
            .any(|c| c.contains("-HUP") && c.contains("$MAINPID")),
        "{service:?}"
    );
    assert!(
        unit_entries(&text, "Install")
            .iter()
            .any(|(k, v)| k == "WantedBy" && v == "multi-user.target")
    );
    assert!(
        unit_entries(&text, "Unit")
            .iter()
            .any(|(k, _)| k == "Description")
    );
    // systemd's own check wants the ExecStart binary to exist.
    if have("systemd-analyze") && Path::new("/usr/sbin/keepalived").exists() {
        let out = run(Command::new("systemd-analyze").arg("verify").arg(&path));
        assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            show(&out)
        );
        assert!(
            out.stderr.is_empty(),
            "systemd-analyze verify: {}",
            show(&out)
        );
    } else {
        println!("systemd-analyze verify not run");
    }
}

#[test]
fn sample_config_loads() {
    let sample = init_file("keepalived.conf.sample");
    let out = run(Command::new(OURS).arg("-t").arg("-f").arg(&sample));
    assert_eq!(out.status.code(), Some(0), "ours: {}", show(&out));
    if Path::new(KEEPALIVED_BIN).exists() {
        let out = run(Command::new(KEEPALIVED_BIN)
            .arg("-t")
            .arg("-f")
            .arg(&sample));
        assert_eq!(
            out.status.code(),
            Some(0),
            "keepalived 2.2.7: {}",
            show(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// install.sh

fn install_sh(args: &[&str]) -> Output {
    run(Command::new("bash").arg(init_file("install.sh")).args(args))
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_sh_installs_into_a_staging_root() {
    let scratch = Scratch::new("install");
    let root = scratch.path().join("root");
    let root_s = path_str(&root).to_string();
    let fake = scratch.path().join("fake-keepalived");
    fs::write(&fake, "#!/bin/sh\necho fake keepalived\n").expect("fake binary");
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
    let fake_s = path_str(&fake).to_string();
    // keepalivedctl is taken from beside the binary.
    let fake_ctl = scratch.path().join("keepalivedctl");
    fs::write(&fake_ctl, "#!/bin/sh\necho fake keepalivedctl\n").expect("fake ctl");
    fs::set_permissions(&fake_ctl, fs::Permissions::from_mode(0o755)).expect("chmod");

    let out = install_sh(&["--destdir", &root_s, "--binary", &fake_s]);
    assert!(out.status.success(), "{}", show(&out));
    let f = |p: &str| root.join(p.trim_start_matches('/'));
    let expect = [
        ("/usr/sbin/keepalived", fake.clone(), 0o755),
        ("/usr/sbin/keepalivedctl", fake_ctl.clone(), 0o755),
        ("/etc/init.d/keepalived", init_file("keepalived"), 0o755),
        (
            "/etc/sysconfig/keepalived",
            init_file("keepalived.sysconfig"),
            0o644,
        ),
        (
            "/lib/systemd/system/keepalived.service",
            init_file("keepalived.service"),
            0o644,
        ),
        (
            "/etc/keepalived/keepalived.conf",
            init_file("keepalived.conf.sample"),
            0o644,
        ),
    ];
    for (dst, src, mode) in &expect {
        assert_eq!(
            fs::read(f(dst)).unwrap_or_else(|e| panic!("{dst}: {e}\n{}", show(&out))),
            fs::read(src).expect("source file"),
            "{dst} differs from {}",
            src.display()
        );
        assert_eq!(mode_of(&f(dst)), *mode, "mode of {dst}");
    }
    assert!(
        !f("/etc/rc.d").exists(),
        "rc.d/init.d is only used where it exists"
    );

    // A second run keeps the admin's sysconfig and config, uses rc.d/init.d now that it
    // exists, and points the script and unit at the prefix.
    fs::write(
        f("/etc/sysconfig/keepalived"),
        "KEEPALIVED_OPTIONS=\"-D -P\"\n",
    )
    .expect("edit");
    fs::write(f("/etc/keepalived/keepalived.conf"), "# mine\n").expect("edit");
    fs::create_dir_all(f("/etc/rc.d/init.d")).expect("rc.d");
    let out = install_sh(&[
        "--prefix",
        "/opt/klrs",
        &format!("--destdir={root_s}"),
        &format!("--binary={fake_s}"),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        read_text(&f("/etc/sysconfig/keepalived")),
        "KEEPALIVED_OPTIONS=\"-D -P\"\n"
    );
    assert_eq!(read_text(&f("/etc/keepalived/keepalived.conf")), "# mine\n");
    assert_eq!(mode_of(&f("/opt/klrs/sbin/keepalived")), 0o755);
    for script in ["/etc/init.d/keepalived", "/etc/rc.d/init.d/keepalived"] {
        let text = read_text(&f(script));
        assert!(
            text.contains("ka_bin=/opt/klrs/sbin/keepalived\n"),
            "{script}"
        );
        assert!(!text.contains("/usr/sbin/keepalived"), "{script}");
        assert_eq!(mode_of(&f(script)), 0o755);
        let out = run(Command::new("sh").arg("-n").arg(f(script)));
        assert!(out.status.success(), "{}", show(&out));
    }
    let unit = read_text(&f("/lib/systemd/system/keepalived.service"));
    assert!(
        unit.contains("ExecStart=/opt/klrs/sbin/keepalived $KEEPALIVED_OPTIONS"),
        "{unit}"
    );

    // Bad usage and a missing binary fail without installing anything.
    let out = install_sh(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let other = scratch.path().join("other");
    let out = install_sh(&[
        "--destdir",
        path_str(&other),
        "--binary",
        "/nonexistent/keepalived-rs/keepalived",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!other.join("etc").exists(), "installed despite the error");
    let out = install_sh(&["--prefix", "relative", "--destdir", path_str(&other)]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

// ---------------------------------------------------------------------------------------------
// The script against a running daemon (root)

/// One run of the init script, checked by exit code.
struct Verb(InitVerb);

impl Verb {
    fn expect(&self, code: i32) {
        if let Err(e) = self.0.check(code) {
            panic!("{e:#}");
        }
    }
}

/// The lab host's private root from keepalived_testlab::initd, with panicking helpers.
struct PrivateRoot<'a>(initd::PrivateRoot<'a>);

impl<'a> PrivateRoot<'a> {
    fn new(host: &'a Host, binary: &str) -> PrivateRoot<'a> {
        PrivateRoot(
            initd::PrivateRoot::new(host, binary)
                .unwrap_or_else(|e| panic!("preparing the private root: {e:#}")),
        )
    }

    fn sh(&self, script: &str) -> Result<Output, String> {
        self.0.sh(script).map_err(|e| format!("{e:#}"))
    }

    fn put(&self, dst: &str, content: &[u8], mode: &str) {
        self.0
            .put(dst, content, mode)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    fn remove(&self, path: &str) {
        self.0.remove(path).unwrap_or_else(|e| panic!("{e:#}"));
    }

    fn pid_in(&self, path: &str) -> Option<u32> {
        self.0.pid_in(path).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn init(&self, verb: &str) -> Verb {
        Verb(self.0.init(verb).unwrap_or_else(|e| panic!("{e:#}")))
    }

    fn owns(&self, pid: u32) -> bool {
        self.0.owns(pid)
    }
}

/// Prints a passed step, so a failing run shows how far it got.
fn passed(label: &str, step: &str) {
    eprintln!("[{label}] ok: {step}");
}

/// The whole lifecycle of the init script with `binary` as /usr/sbin/keepalived.
fn lifecycle(tag: &str, label: &str, binary: &str) {
    if !require_root() || !require_programs(&["ip", "nsenter", "unshare", "mount", "install", "sh"])
    {
        return;
    }
    let overlay = fs::read_to_string("/proc/filesystems").is_ok_and(|f| {
        f.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    });
    if !overlay {
        println!("skipped: needs overlayfs");
        return;
    }
    let lab = Lab::new(tag, &["a"]).expect("lab");
    let host = lab.host("a");
    let root = PrivateRoot::new(host, binary);
    let _kill = KillDaemons(host.netns().to_string());

    let mut instance = VrrpInstance::new(51, 100, &["198.51.100.50/32"]);
    instance.state = "MASTER".to_string();
    let config = instance.render("initlab");
    let script = fs::read(init_file("keepalived")).expect("init.d/keepalived");
    let sysconfig = fs::read(init_file("keepalived.sysconfig")).expect("sysconfig");
    root.put("/etc/init.d/keepalived", &script, "0755");
    root.put("/etc/sysconfig/keepalived", &sysconfig, "0644");
    root.put("/etc/keepalived/keepalived.conf", config.as_bytes(), "0644");
    let has_vip = || {
        host.has_address(VIP)
            .unwrap_or_else(|e| panic!("addresses: {e:#}"))
    };

    // Stopped.
    root.init("status").expect(3);
    root.init("reload").expect(7);
    root.init("force-reload").expect(7);
    root.init("stop").expect(0);
    root.init("try-restart").expect(0);
    root.init("status").expect(3);
    passed(label, "stopped: status 3, reload 7, stop and try-restart 0");
    let bogus = root.init("bogus");
    bogus.expect(2);
    assert!(
        String::from_utf8_lossy(&bogus.0.out.stderr).contains("Usage:"),
        "{}",
        show(&bogus.0.out)
    );
    passed(label, "unknown verb: usage, 2");
    root.put("/var/run/keepalived.pid", b"999999999\n", "0644");
    root.init("status").expect(1);
    passed(label, "stale pid file: status 1");

    // Start (over the stale pid file).
    root.init("start").expect(0);
    root.init("status").expect(0);
    let parent = root
        .pid_in("/var/run/keepalived.pid")
        .expect("parent pid file");
    let vrrp = root.pid_in("/var/run/vrrp.pid").expect("VRRP pid file");
    assert_ne!(parent, vrrp);
    for pid in [parent, vrrp] {
        assert!(alive(pid), "pid {pid} is not running");
        assert!(root.owns(pid), "pid {pid} is not in the lab's namespaces");
    }
    assert!(
        host.wait_for_address(VIP, true, VIP_WAIT),
        "{VIP} did not appear within {VIP_WAIT:?}"
    );
    passed(label, "start 0, status 0, pid files, VIP up");
    root.init("start").expect(0);
    assert_eq!(root.pid_in("/var/run/keepalived.pid"), Some(parent));
    passed(label, "start while running: 0, same daemon");

    // Reload.
    root.init("reload").expect(0);
    std::thread::sleep(Duration::from_secs(2));
    root.init("status").expect(0);
    assert_eq!(root.pid_in("/var/run/keepalived.pid"), Some(parent));
    assert!(alive(parent), "the daemon died on reload");
    let vrrp_after = root.pid_in("/var/run/vrrp.pid").expect("VRRP pid file");
    assert!(alive(vrrp_after), "no VRRP child after reload");
    assert!(has_vip(), "{VIP} gone after reload");
    root.init("force-reload").expect(0);
    passed(
        label,
        "reload and force-reload 0, daemon and VIP still there",
    );

    // Restart and try-restart: a new daemon each time.
    root.init("restart").expect(0);
    let restarted = root.pid_in("/var/run/keepalived.pid").expect("pid file");
    assert_ne!(restarted, parent, "restart kept the old daemon");
    assert!(alive(restarted) && !alive(parent));
    assert!(
        host.wait_for_address(VIP, true, VIP_WAIT),
        "no VIP after restart"
    );
    root.init("try-restart").expect(0);
    let again = root.pid_in("/var/run/keepalived.pid").expect("pid file");
    assert!(
        again != restarted && alive(again),
        "try-restart did not restart"
    );
    root.init("condrestart").expect(0);
    let current = root.pid_in("/var/run/keepalived.pid").expect("pid file");
    assert!(
        current != again && alive(current),
        "condrestart did not restart"
    );
    passed(label, "restart, try-restart, condrestart: 0, new daemon");

    // Stop.
    let vrrp = root.pid_in("/var/run/vrrp.pid").expect("VRRP pid file");
    let stop = root.init("stop");
    stop.expect(0);
    assert!(!has_vip(), "{VIP} still there when stop returned");
    assert!(
        !alive(current) && !alive(vrrp),
        "daemon still running after stop"
    );
    root.init("status").expect(3);
    let left = keepalived_pids(host.netns());
    assert!(left.is_empty(), "keepalived processes left: {left:?}");
    assert_eq!(root.pid_in("/var/run/keepalived.pid"), None);
    assert_eq!(root.pid_in("/var/run/vrrp.pid"), None);
    root.init("reload").expect(7);
    passed(
        label,
        "stop 0, status 3, no process, VIP or pid file left; reload 7",
    );

    // Options from /etc/default/keepalived (Debian) when there is no sysconfig, with pid files
    // of their own: the script must follow them.
    root.remove("/etc/sysconfig/keepalived");
    root.put(
        "/etc/default/keepalived",
        b"DAEMON_ARGS=\"-D --pid=/var/run/kl-alt.pid -r /var/run/kl-alt-vrrp.pid\"\n",
        "0644",
    );
    root.init("start").expect(0);
    let alt = root.pid_in("/var/run/kl-alt.pid").expect("the -p pid file");
    let alt_vrrp = root
        .pid_in("/var/run/kl-alt-vrrp.pid")
        .expect("the -r pid file");
    assert!(alive(alt) && root.owns(alt));
    assert!(alive(alt_vrrp));
    assert_eq!(root.pid_in("/var/run/keepalived.pid"), None);
    root.init("status").expect(0);
    assert!(
        host.wait_for_address(VIP, true, VIP_WAIT),
        "no VIP with the alt options"
    );
    root.init("stop").expect(0);
    assert!(!alive(alt) && !alive(alt_vrrp));
    assert!(!has_vip(), "{VIP} still there after stop");
    root.init("status").expect(3);
    root.remove("/etc/default/keepalived");
    root.put("/etc/sysconfig/keepalived", &sysconfig, "0644");
    passed(label, "options and pid files from /etc/default/keepalived");

    // Where /etc/rc.d/init.d/functions exists (RHEL), its success and failure report results.
    root.put(
        "/etc/rc.d/init.d/functions",
        b"success() { printf '[  OK  ]'; }\nfailure() { printf '[FAILED]'; return 1; }\n",
        "0644",
    );
    for (verb, shown) in [
        ("start", "Starting keepalived: [  OK  ]"),
        ("stop", "Stopping keepalived: [  OK  ]"),
    ] {
        let run = root.init(verb);
        run.expect(0);
        let stdout = String::from_utf8_lossy(&run.0.out.stdout);
        assert!(stdout.contains(shown), "{verb}: {}", show(&run.0.out));
    }
    root.init("status").expect(3);
    root.sh("rm -rf /etc/rc.d").expect("removing /etc/rc.d");
    passed(label, "uses /etc/rc.d/init.d/functions where it exists");

    // Not configured, not installed.
    root.remove("/etc/keepalived/keepalived.conf");
    root.init("start").expect(6);
    root.init("status").expect(3);
    root.put("/etc/keepalived/keepalived.conf", config.as_bytes(), "0644");
    root.sh(
        "umount /usr/sbin/keepalived; rm -f /usr/sbin/keepalived; [ ! -e /usr/sbin/keepalived ]",
    )
    .expect("hiding the binary");
    root.init("start").expect(5);
    root.init("status").expect(3);
    assert!(keepalived_pids(host.netns()).is_empty());
    passed(label, "no config: start 6; no binary: start 5");
}

#[test]
fn init_script_drives_our_daemon() {
    lifecycle("initours", "ours", OURS);
}

#[test]
fn init_script_drives_keepalived_2_2_7() {
    if !Path::new(KEEPALIVED_BIN).exists() {
        println!("skipped: needs {KEEPALIVED_BIN}");
        return;
    }
    lifecycle("initreal", "keepalived 2.2.7", KEEPALIVED_BIN);
}
