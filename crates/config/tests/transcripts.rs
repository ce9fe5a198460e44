//! The differential corpus against its recorded transcripts, without root and without
//! keepalived: every `fixtures/corpus/*.conf` is read on a host with the oracle's interfaces
//! (lo, eth0..eth3; users and files are this machine's) and must give the exit code and the
//! set of main-file line numbers that keepalived 2.2.7 gave when `fixtures/oracle.sh` recorded
//! `NAME.keepalived.txt`. The live comparison is `crates/keepalived/tests/differential.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keepalived_config::host::FileStatus;
use keepalived_config::{Host, LoadOptions, RealHost, load};

/// This machine, seen through the oracle's network namespace.
struct OracleHost(RealHost);

impl Host for OracleHost {
    fn interface_exists(&self, name: &str) -> bool {
        matches!(name, "lo" | "eth0" | "eth1" | "eth2" | "eth3")
    }
    fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.0.user(name)
    }
    fn group(&self, name: &str) -> Option<u32> {
        self.0.group(name)
    }
    fn file_status(&self, path: &Path) -> Option<FileStatus> {
        self.0.file_status(path)
    }
    fn real_path(&self, path: &Path) -> Result<PathBuf, String> {
        self.0.real_path(path)
    }
    fn script_search_path(&self) -> String {
        self.0.script_search_path()
    }
    fn short_hostname(&self) -> String {
        self.0.short_hostname()
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Line numbers of `(PATH: Line N)` entries whose PATH ends with `/NAME`, and of path-less
/// `(Line N)` entries (keepalived's form for the main file in some passes), in the order
/// keepalived printed them.
fn transcript_lines(text: &str, name: &str) -> Vec<u32> {
    let suffix = format!("/{name}: Line ");
    let mut lines = Vec::new();
    for line in text.lines() {
        let after = if let Some(rest) = line.strip_prefix("(Line ") {
            rest
        } else if let Some(pos) = line.find(&suffix)
            && line.starts_with('(')
            && !line[..pos].contains(')')
        {
            &line[pos + suffix.len()..]
        } else {
            continue;
        };
        if let Some(n) = after.split(')').next().and_then(|n| n.parse().ok()) {
            lines.push(n);
        }
    }
    lines
}

/// `conf` read as `fixtures/oracle.sh` ran 2.2.7 on it: with the `-i ID` and `-e` of its
/// `# args:` first line.
fn load_as_recorded(conf: &Path, host: &OracleHost) -> keepalived_config::Loaded {
    let text = std::fs::read_to_string(conf).unwrap_or_default();
    let args: Vec<&str> = text
        .lines()
        .next()
        .and_then(|l| l.trim_end_matches('\r').strip_prefix("# args:"))
        .map(|a| a.split_whitespace().collect())
        .unwrap_or_default();
    let mut options = LoadOptions::for_host(host);
    if let Some(i) = args.iter().position(|a| *a == "-i")
        && let Some(id) = args.get(i + 1)
    {
        options.config_id = (*id).to_string();
    }
    options.all_config = args.contains(&"-e");
    load(conf, &options)
}

/// Each line number once, where it is first printed: keepalived prints a problem once per
/// pass that reads its line, ours once, in the order of the pass that prints it first.
fn first_occurrences(lines: &[u32]) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    lines.iter().copied().filter(|n| seen.insert(*n)).collect()
}

/// Files whose lines we print in another order than keepalived 2.2.7 (docs/compat.md,
/// "Configuration reading", says why); their line sets and exit codes are still compared.
const ORDER_DIFFERS: &[&str] = &[];

#[test]
fn corpus_agrees_with_recorded_keepalived_transcripts() {
    let host = OracleHost(RealHost::default());
    let files = corpus();
    assert!(
        files.len() >= 500,
        "the corpus has only {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for conf in &files {
        let name = conf
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let transcript = conf.with_extension("keepalived.txt");
        let Ok(recorded) = std::fs::read_to_string(&transcript) else {
            failures.push(format!("{name}: no transcript (run fixtures/oracle.sh)"));
            continue;
        };
        let Some(exit) = recorded
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("exit "))
            .and_then(|c| c.trim().parse::<i32>().ok())
        else {
            failures.push(format!("{name}: transcript has no 'exit N' line"));
            continue;
        };
        let loaded = load_as_recorded(conf, &host);
        let ours_in_order: Vec<u32> = loaded
            .config_test_diagnostics()
            .filter(|d| {
                d.location
                    .as_ref()
                    .is_some_and(|l| l.path() == conf.as_path())
            })
            .filter_map(|d| d.line())
            .collect();
        let theirs_in_order = transcript_lines(&recorded, &name);
        let ours: BTreeSet<u32> = ours_in_order.iter().copied().collect();
        let theirs: BTreeSet<u32> = theirs_in_order.iter().copied().collect();
        let order_differs = ours == theirs
            && first_occurrences(&ours_in_order) != first_occurrences(&theirs_in_order)
            && !ORDER_DIFFERS.contains(&name.as_str());
        if loaded.config_test_exit_code() != exit || ours != theirs || order_differs {
            let what = if order_differs {
                format!(
                    "order of first mention: keepalived {:?}, ours {:?}",
                    first_occurrences(&theirs_in_order),
                    first_occurrences(&ours_in_order)
                )
            } else {
                format!(
                    "keepalived exit {exit} lines {theirs:?}, ours exit {} lines {ours:?}",
                    loaded.config_test_exit_code()
                )
            };
            failures.push(format!(
                "{name}: {what}\n    {}",
                loaded
                    .diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files differ from their transcripts:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// A printed line with its file named the same way on both sides: the main file's lines as
/// `(Line N)` (2.2.7 prints them so in its parent pass, with the path in the others), an
/// included file's by its name from the corpus directory on.
fn normalized(line: &str, name: &str) -> String {
    let line = line.trim_end();
    let Some(rest) = line.strip_prefix('(') else {
        return line.to_string();
    };
    let Some((path, after)) = rest.split_once(": Line ") else {
        return line.to_string();
    };
    if path.contains(')') {
        return line.to_string();
    }
    if path == name || path.ends_with(&format!("/{name}")) {
        return format!("(Line {after}");
    }
    let shown = path
        .rsplit_once("/fixtures/corpus/")
        .map_or(path, |(_, tail)| tail);
    format!("({shown}: Line {after}")
}

/// Corpus files whose `-t` lines are known to differ in their text from 2.2.7's transcript
/// (each with why, see docs/compat.md); every other file must print the same set of lines.
fn text_differs() -> BTreeSet<String> {
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus-text-differs.txt");
    std::fs::read_to_string(list)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The text of what `-t` prints, not only its line numbers: for every corpus file, the set of
/// lines (each once; the main file's as `(Line N)`) must be 2.2.7's, except for the files
/// listed in fixtures/corpus-text-differs.txt, which must still differ (a listed file that
/// agrees now is taken off the list).
#[test]
fn corpus_messages_agree_with_recorded_transcripts() {
    let host = OracleHost(RealHost::default());
    let known = text_differs();
    let mut failures = Vec::new();
    let mut now_agree = Vec::new();
    for conf in corpus() {
        let name = conf
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(recorded) = std::fs::read_to_string(conf.with_extension("keepalived.txt")) else {
            continue;
        };
        let loaded = load_as_recorded(&conf, &host);
        let ours: BTreeSet<String> = loaded
            .config_test_diagnostics()
            .map(|d| normalized(&d.to_string(), &name))
            .collect();
        let theirs: BTreeSet<String> = recorded
            .lines()
            .filter(|l| !l.starts_with("exit ") && !l.trim().is_empty())
            .map(|l| normalized(l, &name))
            .collect();
        let agrees = ours == theirs;
        if known.contains(&name) {
            if agrees {
                now_agree.push(name);
            }
            continue;
        }
        if !agrees {
            let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
            let only_ours: Vec<&String> = ours.difference(&theirs).collect();
            failures.push(format!(
                "{name}:\n    only keepalived 2.2.7: {only_theirs:?}\n    only ours: {only_ours:?}"
            ));
        }
    }
    assert!(
        failures.is_empty() && now_agree.is_empty(),
        "{} corpus files print other lines than 2.2.7's transcript:\n{}\n\
         listed in fixtures/corpus-text-differs.txt but agreeing now (take them off): {now_agree:?}",
        failures.len(),
        failures.join("\n")
    );
}
