//! Differential config test: our `keepalived -t` against the real keepalived 2.2.7.
//!
//! For every fixture (`fixtures/configs/*.conf`, `fixtures/seed/*.conf` and the corpus
//! `fixtures/corpus/*.conf`) both
//! `/usr/sbin/keepalived -t -f PATH [ARGS]` and our binary with the same arguments
//! run inside a private network namespace that holds exactly eth0..eth3 (two veth
//! pairs, like `fixtures/oracle.sh`). ARGS come from an optional first line
//! `# args: ...` of the fixture. The test compares
//!   (a) the exit codes,
//!   (b) the set of line numbers each reports for the fixture file itself, and
//!   (c) when those sets agree, the order in which each first mentions them: 2.2.7 prints
//!       a problem once per reading pass (parent, checker, VRRP, BFD), ours once, where
//!       2.2.7 first prints it.
//!
//! Diagnostics are read from stdout+stderr in keepalived's form
//! `(PATH: Line N) message`; only entries whose PATH is the fixture path count.
//! keepalived 2.2.7 also prints some diagnostics of the main file without the
//! path, as `(Line N) message` (its first parsing pass, and everything in
//! `global_defs`); those belong to the main file too, so they count as well.
//! Included files are always printed with their path, so they never count.
//!
//! A `# differs: SCOPE ...` line in the fixture's `.expect` file narrows the
//! comparison: SCOPE `exit` or `missing file` skips (a), `lines` skips (b) and (c),
//! `all` skips both. See fixtures/README.md.
//!
//! Needs root and /usr/sbin/keepalived; otherwise it prints "skipped: ..." to
//! stderr and passes. All mismatches are collected and reported in one table.
//! Fixtures run on [`WORKERS`] threads at once (one namespace shared by all), so the
//! whole corpus takes seconds.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

const REAL_KEEPALIVED: &str = "/usr/sbin/keepalived";
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// Upper bound for one `-t` run, in seconds (passed to timeout(1)).
const RUN_TIMEOUT_SECS: &str = "20";
/// Fixed descriptor limit for the checked process, as in oracle.sh: keepalived
/// 2.2.7 follows an include cycle until `open()` fails with EMFILE.
const NOFILE_LIMIT: &str = "1024";
/// How many fixtures are checked at the same time.
const WORKERS: usize = 4;

/// A network namespace with eth0..eth3, deleted when dropped (also on panic).
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("kadiff-{}-{}", std::process::id(), nanos % 1_000_000);
        run_ip(&["netns", "add", &name])?;
        // From here on the guard owns the namespace: an early return drops it.
        let ns = Netns { name };
        let n = ns.name.as_str();
        run_ip(&[
            "-n", n, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ])?;
        run_ip(&[
            "-n", n, "link", "add", "eth2", "type", "veth", "peer", "name", "eth3",
        ])?;
        for dev in ["lo", "eth0", "eth1", "eth2", "eth3"] {
            run_ip(&["-n", n, "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let deleted = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !deleted {
            eprintln!(
                "differential: could not delete network namespace {}",
                self.name
            );
        }
    }
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Effective uid from /proc/self/status (std has no geteuid).
fn is_root() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `*.conf` files directly in `dir`, sorted (subdirectories hold support files).
fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    files
}

/// Extra command-line arguments from a first line `# args: ...`.
fn fixture_args(conf: &Path) -> Vec<String> {
    let text = fs::read_to_string(conf).unwrap_or_default();
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    match first.strip_prefix("# args:") {
        Some(rest) => rest.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

/// What a `# differs:` line in the .expect file lets us skip.
#[derive(Default)]
struct Skip {
    exit: bool,
    lines: bool,
}

fn read_skip(conf: &Path) -> Result<Skip, String> {
    let expect = conf.with_extension("expect");
    // Corpus files have no .expect: their transcript is the contract.
    if !expect.exists() && conf.parent().is_some_and(|d| d.ends_with("corpus")) {
        return Ok(Skip::default());
    }
    let text = fs::read_to_string(&expect)
        .map_err(|e| format!("cannot read {}: {e}", expect.display()))?;
    let mut skip = Skip::default();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("# differs:") else {
            continue;
        };
        let scope = rest.trim_start().to_ascii_lowercase();
        if scope.starts_with("exit") || scope.starts_with("missing file") {
            skip.exit = true;
        } else if scope.starts_with("lines") {
            skip.lines = true;
        } else if scope.starts_with("all") {
            skip.exit = true;
            skip.lines = true;
        } else {
            return Err(format!(
                "{}: unknown '# differs:' scope in {line:?} (use exit, missing file, lines or all)",
                expect.display()
            ));
        }
    }
    Ok(skip)
}

struct RunResult {
    exit: i32,
    lines: BTreeSet<u32>,
    /// Each line number once, in the order first printed.
    first_mentions: Vec<u32>,
}

fn exit_code(status: ExitStatus) -> i32 {
    // A crash shows up the way a shell reports it: 128 + signal number.
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

fn run_check(ns: &Netns, binary: &str, conf: &Path, args: &[String]) -> RunResult {
    let out = Command::new("timeout")
        .arg(RUN_TIMEOUT_SECS)
        .args(["ip", "netns", "exec", &ns.name])
        .args(["sh", "-c", "ulimit -n \"$0\" && exec \"$@\"", NOFILE_LIMIT])
        .arg(binary)
        .args(["-t", "-f"])
        .arg(conf)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run timeout/ip for {binary}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let in_order = reported_lines_in_order(&text, &conf.to_string_lossy());
    let mut lines = BTreeSet::new();
    let first_mentions = in_order.into_iter().filter(|n| lines.insert(*n)).collect();
    RunResult {
        exit: exit_code(out.status),
        lines,
        first_mentions,
    }
}

/// Line numbers reported for `path`: `(PATH: Line N)` entries whose PATH is
/// exactly `path`, plus path-less `(Line N)` entries (keepalived's form for
/// the main file in some passes).
#[cfg(test)]
fn reported_lines(output: &str, path: &str) -> BTreeSet<u32> {
    reported_lines_in_order(output, path).into_iter().collect()
}

/// The line numbers of [`reported_lines`], in the order printed, repeats included.
fn reported_lines_in_order(output: &str, path: &str) -> Vec<u32> {
    let mut lines = Vec::new();
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        let named = line.find(": Line ");
        let unnamed = line.find("(Line ");
        let (counts, after) = match (named, unnamed) {
            (Some(n), Some(u)) if u < n => (true, &line[u + "(Line ".len()..]),
            (Some(n), _) => {
                let prefix = &line[..n];
                let Some(open) = prefix.rfind('(') else {
                    continue;
                };
                (&prefix[open + 1..] == path, &line[n + ": Line ".len()..])
            }
            (None, Some(u)) => (true, &line[u + "(Line ".len()..]),
            (None, None) => continue,
        };
        if !counts {
            continue;
        }
        let Some(close) = after.find(')') else {
            continue;
        };
        if let Ok(n) = after[..close].trim().parse::<u32>() {
            lines.push(n);
        }
    }
    lines
}

fn fmt_lines(lines: &BTreeSet<u32>) -> String {
    if lines.is_empty() {
        return "-".to_owned();
    }
    lines
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

struct Mismatch {
    fixture: String,
    real: Option<RunResult>,
    ours: Option<RunResult>,
    note: String,
}

#[test]
fn config_test_matches_keepalived_2_2_7() {
    if !is_root() {
        eprintln!("skipped: differential test needs root (it creates a network namespace)");
        return;
    }
    if !Path::new(REAL_KEEPALIVED).exists() {
        eprintln!(
            "skipped: differential test needs {REAL_KEEPALIVED} (apt-get install keepalived)"
        );
        return;
    }

    let root = repo_root();
    let mut fixtures = conf_files(&root.join("fixtures/configs"));
    fixtures.extend(conf_files(&root.join("fixtures/seed")));
    fixtures.extend(conf_files(&root.join("fixtures/corpus")));
    assert!(
        !fixtures.is_empty(),
        "no fixtures under {}",
        root.join("fixtures").display()
    );

    let ns = Netns::create().unwrap_or_else(|e| panic!("cannot set up network namespace: {e}"));

    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(conf) = fixtures.get(i) else { break };
                    let found = compare_one(&ns, &root, conf);
                    if let Ok(mut all) = results.lock() {
                        all.push((i, found));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mismatches: Vec<Mismatch> = results.into_iter().filter_map(|(_, m)| m).collect();
    drop(ns);

    eprintln!(
        "differential: {} fixtures compared, {} mismatches",
        fixtures.len(),
        mismatches.len()
    );
    if mismatches.is_empty() {
        return;
    }

    let table = render_table(&mismatches);
    panic!(
        "{} of {} fixtures differ from keepalived 2.2.7 (-t):\n{table}",
        mismatches.len(),
        fixtures.len()
    );
}

/// Runs both implementations on one fixture; a mismatch if they disagree.
fn compare_one(ns: &Netns, root: &Path, conf: &Path) -> Option<Mismatch> {
    let fixture = conf
        .strip_prefix(root.join("fixtures"))
        .unwrap_or(conf)
        .display()
        .to_string();
    let skip = match read_skip(conf) {
        Ok(skip) => skip,
        Err(note) => {
            return Some(Mismatch {
                fixture,
                real: None,
                ours: None,
                note,
            });
        }
    };
    let args = fixture_args(conf);
    let real = run_check(ns, REAL_KEEPALIVED, conf, &args);
    let ours = run_check(ns, OURS, conf, &args);

    let mut notes = Vec::new();
    if !skip.exit && real.exit != ours.exit {
        notes.push("exit code");
    }
    if !skip.lines && real.lines != ours.lines {
        notes.push("line numbers");
    } else if !skip.lines && real.first_mentions != ours.first_mentions {
        notes.push("line order");
    }
    (!notes.is_empty()).then(|| Mismatch {
        fixture,
        real: Some(real),
        ours: Some(ours),
        note: notes.join(" + "),
    })
}

/// The mismatches as an aligned text table.
fn render_table(mismatches: &[Mismatch]) -> String {
    let cell = |r: &Option<RunResult>, order: bool| match r {
        Some(r) if order => (
            r.exit.to_string(),
            r.first_mentions
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Some(r) => (r.exit.to_string(), fmt_lines(&r.lines)),
        None => ("?".to_owned(), "?".to_owned()),
    };
    let rows: Vec<[String; 6]> = mismatches
        .iter()
        .map(|m| {
            let order = m.note == "line order";
            let (re, rl) = cell(&m.real, order);
            let (oe, ol) = cell(&m.ours, order);
            [m.fixture.clone(), re, rl, oe, ol, m.note.clone()]
        })
        .collect();
    let header = [
        "fixture",
        "keepalived exit",
        "keepalived lines",
        "ours exit",
        "ours lines",
        "differs in",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut table = String::new();
    let mut push_row = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(table, "| {} |", padded.join(" | "));
    };
    push_row(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    push_row(&rule.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &rows {
        push_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    table
}

#[cfg(test)]
mod parser_tests {
    use super::reported_lines;

    #[test]
    fn counts_only_the_fixture_and_pathless_entries() {
        let out = "\
(Line 4) Unknown keyword 'Bogus'
(/f/a.conf: Line 7) Unknown keyword 'Priority'
(inc/b.conf: Line 9) Truncating auth_pass to 8 characters
(/f/a.conf: Line 12) (VI_1) track script x not found, ignoring...
(VI_1) No VIP specified; at least one is sensible
Mon Nov 23 22:10:28 2026: (/f/a.conf: Line 13) with a timestamp
(/f/a.conf: Line 14) mentions (Line 99) later
";
        let got: Vec<u32> = reported_lines(out, "/f/a.conf").into_iter().collect();
        assert_eq!(got, vec![4, 7, 12, 13, 14]);
    }
}
