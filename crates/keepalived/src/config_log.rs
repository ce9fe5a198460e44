//! Which process logs which of a configuration's problems, as keepalived 2.2.7's processes
//! do: each reads the file with its own keyword table and logs what its reading finds (see
//! [`keepalived_config::Pass`]).

use keepalived_config::{Diagnostic, Loaded, Severity};

use crate::cli::{ChildRole, Cli};
use crate::daemon::children_for;
use crate::logger::Logger;
use crate::start_stop_scripts;

/// Whether the configuration cannot be run at all (keepalived's syntax or fatal errors).
pub fn unusable(loaded: &Loaded) -> bool {
    loaded
        .diagnostics
        .iter()
        .any(|d| matches!(d.severity, Severity::Fatal | Severity::Syntax))
}

/// Which process logs a configuration's diagnostics, and so which of them (2.2.7's processes
/// each read the file with their own keyword table and log what that reading finds; the pass a
/// diagnostic carries is the reading that finds it first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The parent refusing a file no process can use: every problem, once.
    Refusing,
    /// The parent at start or reload: its own reading (global_defs and the top level), and the
    /// BFD reading's (there is no BFD process here).
    Parent,
    /// A child: its own reading. The VRRP child also logs the run-time lines (how its scripts
    /// were found) and, when no checker child runs, the checker reading's lines (2.2.7's VRRP
    /// process reads the track files and the top level too).
    Child {
        /// The child.
        role: ChildRole,
        /// Whether a checker child runs beside it.
        checker_runs: bool,
        /// At a reload, when 2.2.7's VRRP child reads `global_defs` again and logs its
        /// problems too (observed; at start it takes the parent's reading).
        reloading: bool,
    },
}

impl Reader {
    /// Whether this process logs `d`.
    fn logs(self, d: &Diagnostic) -> bool {
        use keepalived_config::Pass;
        let pass = d.pass.unwrap_or(Pass::Vrrp);
        match self {
            Reader::Refusing => d.severity != Severity::Log,
            Reader::Parent => {
                // Its logged-only lines are those of global_defs (`Script user 'U' does not
                // exist` of `script_user`).
                (d.severity != Severity::Log || pass == Pass::Parent)
                    && matches!(pass, Pass::Parent | Pass::Bfd)
                    // Said by the start/shutdown script plan, where the parent runs them.
                    && d.message != start_stop_scripts::SECURITY_VIOLATION
            }
            Reader::Child {
                role: ChildRole::Vrrp,
                checker_runs,
                ..
            } => {
                if d.severity == Severity::Log {
                    // Logged-only lines of the parent's and the checker's readings are
                    // theirs.
                    !matches!(pass, Pass::Parent | Pass::Checker)
                } else {
                    pass == Pass::Vrrp || (pass == Pass::Checker && !checker_runs)
                }
            }
            Reader::Child {
                role: ChildRole::Checker,
                ..
            } => pass == Pass::Checker,
        }
    }

    /// The reader for child `role` of the daemon run by `cli` on `loaded`.
    pub fn child(cli: &Cli, loaded: &Loaded, role: ChildRole) -> Reader {
        Reader::Child {
            role,
            checker_runs: children_for(cli, loaded).contains(&ChildRole::Checker),
            reloading: false,
        }
    }

    /// The VRRP child's reader at a reload, `vrrp_only` when `-P` kept the checker from
    /// running.
    pub fn vrrp_child(vrrp_only: bool, loaded: &Loaded) -> Reader {
        Reader::Child {
            role: ChildRole::Vrrp,
            checker_runs: !vrrp_only && !loaded.config.virtual_servers.is_empty(),
            reloading: true,
        }
    }
}

/// One line a process logs of its reading of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingLine {
    /// Written only with `-D`.
    pub detail: bool,
    /// The text.
    pub text: String,
    /// The reading order of the line it is about (`None`: said after the reading).
    order: Option<u32>,
}

impl ReadingLine {
    /// The line a running process logs for `diagnostic`, if it logs one (see
    /// [`keepalived_config::run_wording`]).
    fn of(diagnostic: &Diagnostic) -> Option<ReadingLine> {
        Some(ReadingLine {
            detail: false,
            text: diagnostic.running_text()?,
            order: diagnostic.location.as_ref().map(|l| l.order),
        })
    }
}

/// Puts `line` where a reading meets the line read `order`-th: before the first line about a
/// later one, or said after the reading.
fn insert_in_reading_order(lines: &mut Vec<ReadingLine>, order: u32, line: ReadingLine) {
    let at = lines
        .iter()
        .position(|l| l.order.is_none_or(|o| o > order))
        .unwrap_or(lines.len());
    lines.insert(at, line);
}

/// The lines of a configuration load that `reader` logs, in order: its diagnostics and, for
/// the parent, `Opening file 'PATH'.` (`-D`) where it opens each included file (2.2.7,
/// observed). A child also logs the problems every process's reading finds (an unknown
/// top-level word, which 2.2.7 logs from each process, observed), and at a reload those of
/// `global_defs` (see [`Reader::Child`]), where its own reading of the file meets them,
/// naming their file as its other lines do.
pub fn reading_lines(loaded: &Loaded, reader: Reader) -> Vec<ReadingLine> {
    let checker = matches!(
        reader,
        Reader::Child {
            role: ChildRole::Checker,
            ..
        }
    );
    let mut lines: Vec<ReadingLine> = loaded
        .diagnostics
        .iter()
        .filter(|d| reader.logs(d))
        // The checker says it once it has found its scripts ([`checker_security_lines`]).
        .filter(|d| !(checker && d.severity == Severity::Security))
        .filter_map(ReadingLine::of)
        .collect();
    match reader {
        Reader::Parent => {
            for file in &loaded.opened {
                let line = ReadingLine {
                    detail: true,
                    text: format!("Opening file '{}'.", file.path.display()),
                    order: Some(file.after),
                };
                insert_in_reading_order(&mut lines, file.after, line);
            }
        }
        Reader::Child { reloading, .. } => {
            // 2.2.7's child does not repeat the parent's note of a missing include (observed).
            let parent_pass = |d: &Diagnostic| {
                d.pass == Some(keepalived_config::Pass::Parent)
                    && Reader::Parent.logs(d)
                    && !d.message.starts_with("Config files missing")
            };
            for shared in loaded
                .diagnostics
                .iter()
                .filter(|d| (d.every_process || (reloading && parent_pass(d))) && !reader.logs(d))
            {
                let named = Diagnostic {
                    bare_line: false,
                    ..shared.clone()
                };
                let order = named.location.as_ref().map_or(u32::MAX, |l| l.order);
                if let Some(line) = ReadingLine::of(&named) {
                    insert_in_reading_order(&mut lines, order, line);
                }
            }
        }
        Reader::Refusing => {}
    }
    lines
}

/// The script-security lines of the checker's reading: 2.2.7's checker logs them after it
/// has found its MISC_CHECK and notify scripts (and logged what it could not find), not with
/// the reading's other lines (observed, s29).
pub fn checker_security_lines(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Security && d.pass == Some(keepalived_config::Pass::Checker)
        })
        .filter_map(Diagnostic::running_text)
        .collect()
}

/// Logs the lines of a configuration load that `reader` logs, in order (see
/// [`reading_lines`]).
pub fn log_diagnostics(logger: &Logger, loaded: &Loaded, reader: Reader) {
    for line in reading_lines(loaded, reader) {
        if line.detail {
            logger.detail(&line.text);
        } else {
            logger.info(&line.text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions};

    /// The text of what `reader` logs of `files` (name, text; the first is the main file),
    /// written in a directory of the test's own, with `-D` lines marked `D: `.
    fn logged(files: &[(&str, &str)], reader: Reader) -> Vec<String> {
        static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("config-log-{}-{run}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("directory");
        for (name, text) in files {
            std::fs::write(dir.join(name), text.replace("DIR", &dir.to_string_lossy()))
                .expect("file");
        }
        let host = FakeHost::lab();
        let loaded = keepalived_config::load(&dir.join(files[0].0), &LoadOptions::for_host(&host));
        let dir_text = dir.to_string_lossy().into_owned();
        let lines = reading_lines(&loaded, reader)
            .into_iter()
            .map(|l| {
                let text = l.text.replace(&dir_text, "DIR");
                if l.detail { format!("D: {text}") } else { text }
            })
            .collect();
        std::fs::remove_dir_all(&dir).expect("cleaning up");
        lines
    }

    const MAIN: &str = "global_defs {\n    bogus_global\n}\ninclude DIR/b.conf\nbogus_top\n\
                        virtual_server 192.0.2.1 80 {\n    bogus_vs\n}\n";

    fn child(role: ChildRole, reloading: bool) -> Reader {
        Reader::Child {
            role,
            checker_runs: true,
            reloading,
        }
    }

    /// Each child meets the top level's brace problems in its own reading and logs them, as
    /// 2.2.7's do (observed running); a problem inside global_defs stays the parent's.
    #[test]
    fn children_log_the_top_level_brace_problems_too() {
        let text = "global_defs {\n    bogus_global\n}\n}\nvrrp_instance VI_1 { {\n}\n";
        for role in [ChildRole::Vrrp, ChildRole::Checker] {
            let lines = logged(&[("main.conf", text)], child(role, false));
            for expected in [
                "(DIR/main.conf: Line 4) Extra '}' found",
                "(DIR/main.conf: Line 4) Unknown keyword '}'",
                "There are 1 missing '}'s or extra '{'s",
            ] {
                assert!(lines.iter().any(|l| l == expected), "{role:?}: {lines:?}");
            }
            assert!(
                !lines.iter().any(|l| l.contains("bogus_global")),
                "{role:?}: {lines:?}"
            );
        }
    }

    #[test]
    fn the_parent_says_where_it_opens_each_included_file() {
        assert_eq!(
            logged(
                &[("main.conf", MAIN), ("b.conf", "bogus_inc\n")],
                Reader::Parent
            ),
            [
                "(Line 2) Unknown keyword 'bogus_global'",
                "D: Opening file 'DIR/b.conf'.",
                "(DIR/b.conf: Line 1) Unknown keyword 'bogus_inc'",
                "(Line 5) Unknown keyword 'bogus_top'",
            ]
        );
    }

    /// `vrrp_track_file` is said deprecated by each child as it reads it, first; not by the
    /// parent, not by `-t` (2.2.7, observed, s29).
    #[test]
    fn each_child_says_vrrp_track_file_is_deprecated() {
        let text = "vrrp_track_file tf1 {\n}\nvirtual_server 192.0.2.1 80 {\n}\n";
        let files = [("main.conf", text)];
        let deprecated = "\"vrrp_track_file\" is deprecated, please use \"track_file\"";
        for role in [ChildRole::Vrrp, ChildRole::Checker] {
            let lines = logged(&files, child(role, false));
            assert_eq!(
                lines.first().map(String::as_str),
                Some(deprecated),
                "{lines:?}"
            );
        }
        assert!(
            !logged(&files, Reader::Parent)
                .iter()
                .any(|l| l == deprecated)
        );
        let no_deprecation = logged(
            &[("main.conf", &text.replace("vrrp_track_file", "track_file"))],
            child(ChildRole::Vrrp, false),
        );
        assert!(!no_deprecation.iter().any(|l| l == deprecated));
    }

    #[test]
    fn every_process_logs_an_unknown_top_level_word_where_it_reads_it() {
        let files = [("main.conf", MAIN), ("b.conf", "bogus_inc\n")];
        assert_eq!(
            logged(&files, child(ChildRole::Checker, false)),
            [
                "(DIR/b.conf: Line 1) Unknown keyword 'bogus_inc'",
                "(DIR/main.conf: Line 5) Unknown keyword 'bogus_top'",
                "(DIR/main.conf: Line 7) Unknown keyword 'bogus_vs'",
                "Virtual server [192.0.2.1]:none:80 has no real servers - ignoring",
            ]
        );
        assert_eq!(
            logged(&files, child(ChildRole::Vrrp, false)),
            [
                "(DIR/b.conf: Line 1) Unknown keyword 'bogus_inc'",
                "(DIR/main.conf: Line 5) Unknown keyword 'bogus_top'",
            ]
        );
        // At a reload the VRRP child reads global_defs again.
        assert_eq!(
            logged(&files, child(ChildRole::Vrrp, true)),
            [
                "(DIR/main.conf: Line 2) Unknown keyword 'bogus_global'",
                "(DIR/b.conf: Line 1) Unknown keyword 'bogus_inc'",
                "(DIR/main.conf: Line 5) Unknown keyword 'bogus_top'",
            ]
        );
    }

    #[test]
    fn running_processes_word_value_problems_as_a_running_2_2_7() {
        let main = "global_defs {\n    vrrp_garp_master_delay abc\n    vrrp_version 4\n}\n\
                    vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 1\n\
                    \x20   priority abc\n    garp_master_repeat x\n}\n";
        let files = [("main.conf", main)];
        assert_eq!(
            logged(&files, Reader::Parent),
            [
                "(Line 2) WARNING - invalid number 'abc'",
                "(Line 3) number '4' outside range [2, 3]",
                "(Line 3) VRRP Error: Version must be either 2 or 3",
            ]
        );
        assert_eq!(
            logged(&files, child(ChildRole::Vrrp, false)),
            [
                "(DIR/main.conf: Line 8) invalid number 'abc'",
                "(DIR/main.conf: Line 8) (VI_1) Priority not valid! must be between 1 & 255. \
                 Using default 100",
                "(DIR/main.conf: Line 9) WARNING - invalid number 'x'",
                "(DIR/main.conf: Line 9) (VI_1): garp_master_repeat must be greater than 0, \
                 setting to 1",
                "(VI_1) No VIP specified; at least one is sensible",
            ]
        );
    }
}
