//! Problems found while reading a configuration, reported the way keepalived reports them:
//! `(FILE: Line N) message`, all of them collected in one run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How serious a problem is; this decides the exit code of `keepalived -t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A line the daemon logs when it loads the configuration but `keepalived -t` does not
    /// print, as keepalived 2.2.7 logs it outside its config-error channel (`Cannot find
    /// script killall in path - disabling`); exit code 0. Its location, if any, only places
    /// it among the others: keepalived logs these lines without one. The VRRP process logs it.
    Log,
    /// Informational only (for example a "did you mean" that stands alone); exit code 0.
    Note,
    /// keepalived calls these warnings but still fails `-t` with exit code 5.
    Warning,
    /// A config error; the offending item is ignored or defaulted; exit code 5.
    Error,
    /// A script-security violation; exit code 6.
    Security,
    /// With `-e`, an included file that is missing; exit code 6 as keepalived gives.
    MissingFile,
    /// A keyword without its required value: keepalived stops checking there; exit code 2.
    Syntax,
    /// The configuration cannot be used at all (missing file); exit code 4.
    Fatal,
}

impl Severity {
    /// The `keepalived -t` exit code this severity leads to on its own.
    pub fn exit_code(self) -> i32 {
        match self {
            Severity::Log | Severity::Note => 0,
            Severity::Warning | Severity::Error => 5,
            Severity::Security | Severity::MissingFile => 6,
            Severity::Syntax => 2,
            Severity::Fatal => 4,
        }
    }
}

/// Where in the configuration text a problem was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file the line came from (after include expansion).
    pub file: Arc<PathBuf>,
    /// 1-based line number in that file.
    pub line: u32,
    /// Position of the line in reading order across all files (includes read in place).
    pub order: u32,
}

impl Location {
    /// A location in `file` at 1-based `line`.
    pub fn new(file: Arc<PathBuf>, line: u32) -> Self {
        Location {
            file,
            line,
            order: 0,
        }
    }

    /// A location that is the `order`-th line read overall.
    pub fn at(file: Arc<PathBuf>, line: u32, order: u32) -> Self {
        Location { file, line, order }
    }

    /// The file as a path.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// Where it is; `None` for whole-config problems keepalived also reports without a line.
    pub location: Option<Location>,
    /// What is wrong, worded like keepalived's message where keepalived has one.
    pub message: String,
    /// An optional suggestion ("did you mean vrrp_instance?").
    pub hint: Option<String>,
    /// The reading pass of keepalived 2.2.7 that prints it first, when the line it is on does
    /// not decide that (see [`Pass`]); `None` for most.
    pub pass: Option<Pass>,
    /// Printed as `(Line N)` without the file: 2.2.7's parent pass names no file for the
    /// lines of the main configuration file (its other passes and included files do).
    pub bare_line: bool,
    /// Found by the reading of every process, not only by its [`Pass`]: an unknown word at the
    /// top level, which each of 2.2.7's running processes logs (`-t` prints it once).
    pub every_process: bool,
    /// How a running daemon logs it, when not as `-t` prints it (see
    /// [`crate::run_wording`]).
    pub run_time: RunTime,
}

/// How a running keepalived 2.2.7 logs a problem that `-t` prints (its number readers warn
/// where `-t` refuses, so the value is taken and the line that follows may change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunTime {
    /// As `-t` prints it.
    #[default]
    AsChecked,
    /// With this message instead.
    Worded(String),
    /// Not logged at all.
    Unlogged,
}

/// keepalived 2.2.7's `-t` reads the file several times, once with each process's keyword
/// table, each reading printing what it finds: the parent's (`global_defs` and the top
/// level), then the checker's (`virtual_server`, `virtual_server_group`, `SSL`,
/// `bfd_instance`, `track_file`, and its own lines without a line number), then VRRP's (the
/// VRRP blocks, then the instance checks), then BFD's (the values of `bfd_instance`). A
/// problem on a line is printed first by the pass
/// that reads the block the line is in; every pass reads the top level. `-t` prints each
/// problem once, in the order of the pass that prints it first (observed with 2.2.7 on the
/// differential corpus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pass {
    /// The parent process: `global_defs` and lines outside any block.
    Parent,
    /// The checker process: LVS blocks and BFD instances.
    Checker,
    /// The VRRP process: VRRP blocks, then the whole-configuration checks.
    Vrrp,
    /// The BFD process: the values of `bfd_instance` blocks (the checker reads their names
    /// and keywords first).
    Bfd,
}

impl Pass {
    /// The pass that reads a top-level block with this keyword first.
    pub fn of_block(keyword: &str) -> Pass {
        match keyword {
            // The checker reads track files too (for FILE_CHECK), before the VRRP process.
            "virtual_server"
            | "virtual_server_group"
            | "SSL"
            | "bfd_instance"
            | "vrrp_track_file"
            | "track_file" => Pass::Checker,
            "vrrp_instance" | "vrrp_sync_group" | "vrrp_script" | "vrrp_track_process"
            | "garp_group" | "track_group" | "static_ipaddress" | "static_routes"
            | "static_rules" => Pass::Vrrp,
            _ => Pass::Parent,
        }
    }
}

impl Diagnostic {
    /// Whether `keepalived -t` prints it (every severity but the run-time log lines).
    pub fn shown_by_config_test(&self) -> bool {
        !self.is_run_time_log()
    }

    /// Whether it is a line only a running process logs ([`Severity::Log`]).
    pub fn is_run_time_log(&self) -> bool {
        self.severity == Severity::Log
    }

    /// A diagnostic at `location` (or none) with `severity` and `message`.
    pub fn new(severity: Severity, location: Option<Location>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            location,
            message: message.into(),
            hint: None,
            pass: None,
            bare_line: false,
            every_process: false,
            run_time: RunTime::AsChecked,
        }
    }

    /// The line a running daemon logs for it (`None`: it logs none), where `-t` prints
    /// `self.to_string()`.
    pub fn running_text(&self) -> Option<String> {
        match &self.run_time {
            RunTime::AsChecked => Some(self.to_string()),
            RunTime::Worded(message) => Some(
                Diagnostic {
                    message: message.clone(),
                    run_time: RunTime::AsChecked,
                    ..self.clone()
                }
                .to_string(),
            ),
            RunTime::Unlogged => None,
        }
    }

    /// The same diagnostic, found by every process's reading (see
    /// [`Diagnostic::every_process`]).
    pub fn in_every_process(mut self) -> Self {
        self.every_process = true;
        self
    }

    /// [`Diagnostic::in_every_process`] when `shared`.
    pub fn shared_if(self, shared: bool) -> Self {
        if shared {
            self.in_every_process()
        } else {
            self
        }
    }

    /// The same diagnostic, printed first by `pass` (for a line without a location).
    pub fn in_pass(mut self, pass: Pass) -> Self {
        self.pass = Some(pass);
        self
    }

    /// The same diagnostic with a hint attached.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The line number it is reported with, if any (a run-time log line has none: its
    /// location only orders it).
    pub fn line(&self) -> Option<u32> {
        self.location
            .as_ref()
            .filter(|_| !self.is_run_time_log())
            .map(|l| l.line)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self
            .location
            .as_ref()
            .filter(|_| self.severity != Severity::Log)
        {
            if self.bare_line {
                write!(f, "(Line {}) ", loc.line)?;
            } else {
                write!(f, "({}: Line {}) ", loc.file.display(), loc.line)?;
            }
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// The exit code `keepalived -t` gives for a set of diagnostics: 4 beats 2 beats 6 beats 5
/// beats 0.
pub fn exit_code(diagnostics: &[Diagnostic]) -> i32 {
    diagnostics
        .iter()
        .map(|d| d.severity)
        .max()
        .map_or(0, Severity::exit_code)
}

/// Collects diagnostics while a configuration is read.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    syntax_error: bool,
    nonexistent_interface: bool,
    /// Found while reading, but reported by keepalived when it completes the VRRP
    /// configuration afterwards (so not at all when it stops before that).
    completion: Vec<Diagnostic>,
    /// The included files opened, in reading order.
    opened: Vec<OpenedFile>,
}

/// An included file that was opened and read: keepalived 2.2.7's parent says `Opening file
/// 'PATH'.` for it with `-D` (observed), between the problems of the lines read before it and
/// those of its own lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedFile {
    /// The file, as the include pattern named it.
    pub path: std::path::PathBuf,
    /// The reading order of the last line read before its first one.
    pub after: u32,
}

impl Diagnostics {
    /// Records a diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.syntax_error |= diagnostic.severity == Severity::Syntax;
        self.items.push(diagnostic);
    }

    /// Records an error at `location`.
    pub fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.push(Diagnostic::new(
            Severity::Error,
            Some(location.clone()),
            message,
        ));
    }

    /// Records a warning at `location`.
    pub fn warning(&mut self, location: &Location, message: impl Into<String>) {
        self.push(Diagnostic::new(
            Severity::Warning,
            Some(location.clone()),
            message,
        ));
    }

    /// Remembers that the file names an interface this machine does not have.
    pub fn note_nonexistent_interface(&mut self) {
        self.nonexistent_interface = true;
    }

    /// Whether the file names an interface this machine does not have (without
    /// `dynamic_interfaces`): keepalived 2.2.7 stops its VRRP checks there, and its VRRP
    /// process stops with a configuration error.
    pub fn has_nonexistent_interface(&self) -> bool {
        self.nonexistent_interface
    }

    /// Whether a missing required value has been reported: keepalived stops reading there.
    pub fn has_syntax_error(&self) -> bool {
        self.syntax_error
    }

    /// Records that the included file `path` is opened after the line read `after`-th.
    pub fn opened_file(&mut self, path: &std::path::Path, after: u32) {
        self.opened.push(OpenedFile {
            path: path.to_path_buf(),
            after,
        });
    }

    /// The included files opened so far, in reading order; the list is emptied.
    pub fn take_opened(&mut self) -> Vec<OpenedFile> {
        std::mem::take(&mut self.opened)
    }

    /// Records a diagnostic keepalived gives when it completes the VRRP configuration, after
    /// the whole file is read: it is held until [`Diagnostics::complete`].
    pub fn push_at_completion(&mut self, diagnostic: Diagnostic) {
        self.completion.push(diagnostic);
    }

    /// The completion pass begins: the diagnostics held for it are reported now.
    pub fn complete(&mut self) {
        let held = std::mem::take(&mut self.completion);
        self.items.extend(held);
    }

    /// The completion pass stops before some of what it would report: the held diagnostics
    /// whose message `stops` matches are dropped.
    pub fn drop_held(&mut self, stops: impl Fn(&str) -> bool) {
        self.completion.retain(|d| !stops(&d.message));
    }

    /// The completion pass will not run: the diagnostics held for it are dropped.
    pub fn skip_completion(&mut self) {
        self.completion.clear();
    }

    /// How many problems have been reported so far (held completion lines not counted).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing has been reported yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Reports a problem at `location`, printed first by `pass`.
    pub fn error_in(&mut self, pass: Pass, location: &Location, message: impl Into<String>) {
        self.push(Diagnostic::new(Severity::Error, Some(location.clone()), message).in_pass(pass));
    }

    /// Gives `pass` to the problems reported since the `start`-th that have none yet and
    /// that `select` picks.
    pub fn set_pass_where(
        &mut self,
        start: usize,
        pass: Pass,
        select: impl Fn(&Diagnostic) -> bool,
    ) {
        for diagnostic in self.items.iter_mut().skip(start) {
            if diagnostic.pass.is_none() && select(diagnostic) {
                diagnostic.pass = Some(pass);
            }
        }
    }

    /// The diagnostics reported since the first `start`.
    pub(crate) fn since_mut(&mut self, start: usize) -> &mut [Diagnostic] {
        let start = start.min(self.items.len());
        &mut self.items[start..]
    }

    /// Gives `pass` to the problems reported since the `start`-th that have none yet.
    pub fn set_pass_from(&mut self, start: usize, pass: Pass) {
        for diagnostic in self.items.iter_mut().skip(start) {
            diagnostic.pass.get_or_insert(pass);
        }
    }

    /// The diagnostics in the order they were found (held completion diagnostics last).
    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.complete();
        self.items
    }

    /// The diagnostics found so far.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }
}
