//! Reading configuration text into logical lines: comments stripped, `include` files read in
//! place, `$NAME=value` parameters expanded and `@ID` / `@^ID` lines filtered.
//!
//! This is the layer below the lexer: it knows files and lines, not keywords.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::params::{
    Builtins, ExpandError, Generator, GeneratorError, GeneratorKind, Param, Params, generator,
    generator_values, parse_definition,
};

/// How deep `include` may nest before we stop and report it.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Longest text a `$NAME` expansion may produce on one line or in one parameter. keepalived's
/// own lines are far shorter; this stops `$A=$A$A` chains from exhausting memory.
pub const MAX_EXPANDED_LEN: usize = 64 * 1024;

/// Most lines nested `~SEQ`/`~LST` may make from one line (`~SEQ(i,1,9999) ~SEQ(j,1,9999) x`
/// would otherwise ask for a hundred million).
pub const MAX_GENERATED_LINES: usize = 1_000_000;

/// Largest configuration file read (a 10 MB file is fine; `/dev/zero` is not).
pub const MAX_FILE_LEN: u64 = 256 * 1024 * 1024;

/// One line of configuration text after comment stripping and expansion.
#[derive(Debug, Clone)]
pub struct SourceLine {
    /// Where the line came from.
    pub location: Location,
    /// The text, comments removed, parameters expanded; never empty.
    pub text: String,
}

/// Where finished lines go, one at a time (location and text, comments removed, parameters
/// expanded, never empty), with the diagnostics to report into.
pub type LineSink<'s> = dyn FnMut(&Location, &str, &mut Diagnostics) + 's;

/// Reads configuration files and hands their lines, in reading order, to a sink: the whole
/// file is never held as lines, so memory stays flat however large the configuration.
pub struct SourceReader<'a, 's> {
    config_id: &'a str,
    all_config: bool,
    params: Params,
    stack: Vec<PathBuf>,
    /// Lines handed out so far, across all files: the next line's [`Location::order`].
    order: u32,
    /// Lines `~SEQ`/`~LST` made from the current physical line (nested ones multiply).
    generated: usize,
    diagnostics: &'a mut Diagnostics,
    sink: &'a mut LineSink<'s>,
}

impl<'a, 's> SourceReader<'a, 's> {
    /// A reader that keeps `@ID` lines for `config_id`, reports into `diagnostics` and gives
    /// every line to `sink`.
    pub fn new(
        config_id: &'a str,
        diagnostics: &'a mut Diagnostics,
        sink: &'a mut LineSink<'s>,
    ) -> Self {
        SourceReader {
            config_id,
            all_config: false,
            params: Params::default(),
            stack: Vec::new(),
            order: 0,
            generated: 0,
            diagnostics,
            sink,
        }
    }

    /// With `-e`: a missing include file or an include pattern that matches nothing is an
    /// error, not a note.
    pub fn all_config(mut self, all_config: bool) -> Self {
        self.all_config = all_config;
        self
    }

    /// Reads the top-level file. A file that cannot be read is a fatal diagnostic.
    pub fn read_file(mut self, path: &Path) {
        match open_config_file(path) {
            Ok(lines) => {
                let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                self.read_lines(lines, path, canonical);
            }
            Err(err) => self.diagnostics.push(Diagnostic::new(
                Severity::Fatal,
                None,
                format!(
                    "Configuration file '{}' cannot be read: {err}",
                    path.display()
                ),
            )),
        }
    }

    /// Reads configuration text as if it were the file `name` (includes resolve against its
    /// directory).
    pub fn read_str(mut self, text: &str, name: &Path) {
        self.read_lines(Lines::Text(text.lines()), name, name.to_path_buf());
    }

    /// A location for the next line handed out from `file` line `line_no`.
    fn next_location(&mut self, file: &Arc<PathBuf>, line_no: u32) -> Location {
        self.order = self.order.saturating_add(1);
        Location::at(file.clone(), line_no, self.order)
    }

    /// Reads a file's lines one at a time: a large file is never held whole.
    fn read_lines(&mut self, mut lines: Lines<'_>, path: &Path, canonical: PathBuf) {
        let file = Arc::new(path.to_path_buf());
        self.stack.push(canonical);
        // A `$NAME=...\` definition being continued over the following lines.
        let mut pending: Option<(String, Vec<String>)> = None;
        let mut index = 0usize;
        while let Some(raw) = lines.next_line() {
            index += 1;
            let line_no = u32::try_from(index).unwrap_or(u32::MAX);
            let continued = trim_end(raw).ends_with('\\');
            if let Some((name, mut lines)) = pending.take() {
                let body = strip_comment(raw.trim_end().trim_end_matches('\\')).trim();
                if !body.is_empty() {
                    lines.push(body.to_string());
                }
                if continued {
                    pending = Some((name, lines));
                } else {
                    self.params.define(&name, Param::multi(lines));
                }
                continue;
            }
            let location = self.next_location(&file, line_no);
            if let Some(started) = self.read_line(raw, continued, &location) {
                pending = Some(started);
            }
        }
        if let Some((name, lines)) = pending {
            self.params.define(&name, Param::multi(lines));
        }
        self.stack.pop();
    }

    /// Reads one physical line; returns a multi-line definition it starts.
    fn read_line(
        &mut self,
        raw: &str,
        continued: bool,
        location: &Location,
    ) -> Option<(String, Vec<String>)> {
        // Leading blanks hold no comment: skip them before looking for one.
        let joined;
        let text = if continued {
            // A line ending in `\` outside a definition joins nothing: keepalived 2.2.7 takes
            // the `\` off, reads the rest (comment and trailing blanks dropped) and puts the
            // `\` back, so `eth0 \` is the word `eth0\` and a lone `\` is a word.
            let body = trim_end(raw);
            let body = body.get(..body.len().saturating_sub(1)).unwrap_or("");
            joined = format!("{}\\", trim(strip_comment(body.trim_ascii_start())));
            joined.as_str()
        } else {
            trim(strip_comment(raw.trim_ascii_start()))
        };
        if text.is_empty() {
            return None;
        }
        let text = self.filter_config_id(text)?;
        self.generated = 0;
        if let Some((name, value)) = parse_definition(text) {
            if continued {
                let first = value.trim().trim_end_matches('\\').trim();
                let lines = if first.is_empty() {
                    Vec::new()
                } else {
                    vec![first.to_string()]
                };
                return Some((name.to_string(), lines));
            }
            self.params.define(name, Param::single(value.trim()));
            return None;
        }
        self.process(text, location, true);
        None
    }

    /// Expands a logical line (generators, parameters) and hands the result on.
    fn process(&mut self, text: &str, location: &Location, first: bool) {
        // Most lines have neither a parameter nor a generator: hand them on as they are.
        if !text.bytes().any(|b| b == b'$') && !text.starts_with('~') {
            self.emit(text, location);
            return;
        }
        if let Some(g) = generator(text) {
            self.run_generator(text, &g, location);
            return;
        }
        let Some(lines) = self.expand(text, location) else {
            return;
        };
        let mut location = location.clone();
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                location = self.next_location(&location.file, location.line);
            }
            // `$S` may stand for a whole `~SEQ(...)` line.
            if first && i == 0 && generator(line.trim()).is_some() {
                self.process(line.trim(), &location, false);
                continue;
            }
            let line = strip_comment(line).trim();
            if line.is_empty() {
                continue;
            }
            self.emit(line, &location);
        }
    }

    /// Repeats a `~SEQ`/`~LST` line's template once per value.
    fn run_generator(&mut self, text: &str, g: &Generator<'_>, location: &Location) {
        let spec = match g.spec {
            Some(spec) => spec,
            None => {
                if g.opened && g.kind != GeneratorKind::List {
                    self.diagnostics.error(
                        location,
                        format!("{} '{text}'", GeneratorError::SeqUnterminated.message()),
                    );
                }
                self.generator_invalid(text, g.kind, location);
                return;
            }
        };
        // Parameters in the values are expanded first (`~SEQ(i, 1, $N)`).
        let pwd = self.pwd();
        let builtins = Builtins {
            pwd: &pwd,
            instance: self.config_id,
        };
        let params = &mut self.params;
        let fields: Vec<String> = spec
            .split(',')
            .map(|field| {
                field
                    .split([' ', '\t'])
                    .map(
                        |word| match params.expand(word, &builtins, MAX_EXPANDED_LEN) {
                            Ok(lines) if lines.len() == 1 => lines.concat(),
                            _ => word.to_string(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let spec = fields.join(",");
        match generator_values(g.kind, &spec) {
            Ok((var, values)) => {
                let template = g.template.to_string();
                for value in values {
                    self.generated += 1;
                    if self.generated > MAX_GENERATED_LINES {
                        if self.generated == MAX_GENERATED_LINES + 1 {
                            self.diagnostics.error(
                                location,
                                format!("~SEQ/~LST make more than {MAX_GENERATED_LINES} lines from this line - ignoring the rest"),
                            );
                        }
                        break;
                    }
                    self.params.define(&var, Param::single(&value));
                    let Some(line) = self.filter_config_id(&template) else {
                        continue;
                    };
                    let line = line.to_string();
                    let loc = self.next_location(&location.file, location.line);
                    self.process(&line, &loc, true);
                }
            }
            Err(err) => {
                if g.kind != GeneratorKind::List {
                    self.diagnostics
                        .error(location, format!("{} '{text}'", err.message()));
                }
                self.generator_invalid(text, g.kind, location);
            }
        }
    }

    fn generator_invalid(&mut self, text: &str, kind: GeneratorKind, location: &Location) {
        let what = if kind == GeneratorKind::List {
            "~LST"
        } else {
            "~SEQ"
        };
        self.diagnostics
            .error(location, format!("Invalid {what} specification '{text}'"));
    }

    /// `${_PWD}`: the directory of the file being read.
    fn pwd(&self) -> String {
        self.stack
            .last()
            .and_then(|p| p.parent())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Hands a finished line to the sink, or reads the files an `include` line names.
    fn emit(&mut self, text: &str, location: &Location) {
        // A bare `include` is an unknown keyword to keepalived; leave it to the parser.
        if let Some(pattern) = text.strip_prefix("include")
            && pattern.starts_with(char::is_whitespace)
        {
            let pattern = pattern.trim();
            if !pattern.is_empty() {
                self.include(pattern, location);
                return;
            }
        }
        (self.sink)(location, text, self.diagnostics);
    }

    /// Applies `@ID` (keep only on host ID) and `@^ID` (keep except on host ID).
    fn filter_config_id<'t>(&self, text: &'t str) -> Option<&'t str> {
        let Some(rest) = text.strip_prefix('@') else {
            return Some(text);
        };
        let (negated, rest) = match rest.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (id, remainder) = rest.split_at(end);
        let matches = id == self.config_id;
        if matches != negated {
            let remainder = remainder.trim();
            (!remainder.is_empty()).then_some(remainder)
        } else {
            None
        }
    }

    /// Expands parameters (see [`crate::params`]); `None` (with a diagnostic) when the result
    /// would exceed [`MAX_EXPANDED_LEN`].
    fn expand(&mut self, text: &str, location: &Location) -> Option<Vec<String>> {
        let pwd = self.pwd();
        let builtins = Builtins {
            pwd: &pwd,
            instance: self.config_id,
        };
        match self.params.expand(text, &builtins, MAX_EXPANDED_LEN) {
            Ok(lines) => Some(lines),
            Err(ExpandError::TooLong) => {
                self.diagnostics.error(
                    location,
                    format!("Expanding parameters makes this line longer than {MAX_EXPANDED_LEN} characters - ignoring it"),
                );
                None
            }
        }
    }

    fn include(&mut self, pattern: &str, location: &Location) {
        if pattern.is_empty() {
            self.diagnostics
                .error(location, "include needs a file name or pattern");
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.diagnostics.error(
                location,
                format!("include '{pattern}' nested more than {MAX_INCLUDE_DEPTH} deep - ignoring"),
            );
            return;
        }
        let base = location.path().parent().unwrap_or(Path::new("."));
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full_text = full.to_string_lossy().into_owned();
        // An invalid pattern (a lone `[`) matches nothing, as glob(3) has it.
        let matches: Vec<PathBuf> = glob::glob(&full_text)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if matches.is_empty() {
            // keepalived: a missing file, or a pattern in a directory that does not exist, is
            // mentioned but accepted; a pattern matching nothing in an existing directory is
            // silent; with -e (all_config) both are errors (exit 6).
            let magic = |t: &str| t.contains(['*', '?', '[']);
            let dir_exists = full.parent().is_none_or(|dir| {
                let dir = dir.to_string_lossy();
                magic(&dir) || Path::new(dir.as_ref()).is_dir()
            });
            let missing = !magic(pattern) || !dir_exists;
            let message = if missing {
                format!("Config files missing '{pattern}'.")
            } else if self.all_config {
                format!("No config files matched '{pattern}'.")
            } else {
                return;
            };
            let severity = if self.all_config {
                Severity::MissingFile
            } else {
                Severity::Note
            };
            self.diagnostics
                .push(Diagnostic::new(severity, Some(location.clone()), message));
            return;
        }
        for path in matches {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.stack.contains(&canonical) {
                self.diagnostics.error(
                    location,
                    format!(
                        "include cycle: '{}' is already being read - ignoring",
                        path.display()
                    ),
                );
                continue;
            }
            match open_config_file(&path) {
                Ok(lines) => {
                    self.diagnostics.opened_file(&path, self.order);
                    self.read_lines(lines, &path, canonical);
                }
                Err(err) => self.diagnostics.error(
                    location,
                    format!("Unable to open included file '{}': {err}", path.display()),
                ),
            }
        }
    }
}

/// Opens a configuration file to be read line by line: only regular files of at most
/// [`MAX_FILE_LEN`] bytes, so a device or FIFO named by mistake cannot hang or exhaust memory.
fn open_config_file(path: &Path) -> std::io::Result<Lines<'static>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_LEN} bytes"
        )));
    }
    Ok(Lines::File(FileLines {
        file: file.take(MAX_FILE_LEN),
        text: String::new(),
        pos: 0,
        carry: Vec::new(),
        eof: false,
    }))
}

/// Where lines come from: text in memory, or a file read as it goes (invalid UTF-8 replaced,
/// a read error ends the file as the end of the text would).
enum Lines<'t> {
    /// `str::lines` over text given whole.
    Text(std::str::Lines<'t>),
    /// A file read in chunks.
    File(FileLines),
}

/// A file read a chunk of whole lines at a time: each chunk is checked as UTF-8 once, and its
/// lines are handed out as slices of it, without a copy.
struct FileLines {
    file: std::io::Take<std::fs::File>,
    /// The current chunk: whole lines (the last one without `\n` only at the end of the
    /// file), invalid UTF-8 replaced.
    text: String,
    /// Where the next line starts in `text`.
    pos: usize,
    /// Bytes read after the chunk's last `\n`: the start of the next chunk.
    carry: Vec<u8>,
    eof: bool,
}

impl FileLines {
    /// Bytes read at a time; a chunk grows only to hold a longer line.
    const CHUNK: usize = 64 * 1024;

    /// The next line without its `\n`, and whether it had one; `None` at the end of the file.
    fn next_line(&mut self) -> Option<(&str, bool)> {
        while self.pos >= self.text.len() {
            if self.eof && self.carry.is_empty() {
                return None;
            }
            self.refill();
        }
        let rest = self.text.get(self.pos..)?;
        let start = self.pos;
        // A plain byte loop: lines are short, and `str::find` costs more per call than it
        // saves per byte on them.
        match rest.bytes().position(|b| b == b'\n') {
            Some(at) => {
                self.pos += at + 1;
                self.text.get(start..start + at).map(|line| (line, true))
            }
            None => {
                self.pos = self.text.len();
                Some((rest, false))
            }
        }
    }

    /// Reads the next chunk: up to the last `\n` read (or the end of the file). A `\n` never
    /// occurs inside a multi-byte UTF-8 sequence, so each chunk is checked on its own, and
    /// replacing invalid bytes chunk by chunk gives what line by line would.
    fn refill(&mut self) {
        use std::io::Read;
        let mut bytes = std::mem::take(&mut self.carry);
        loop {
            let old = bytes.len();
            bytes.resize(old + Self::CHUNK, 0);
            let read = self.file.read(bytes.get_mut(old..).unwrap_or_default());
            let n = read.unwrap_or(0);
            bytes.truncate(old + n);
            if n == 0 {
                self.eof = true;
                break;
            }
            if bytes.get(old..).is_some_and(|new| new.contains(&b'\n')) {
                break;
            }
        }
        if !self.eof
            && let Some(last) = bytes.iter().rposition(|&b| b == b'\n')
        {
            self.carry = bytes.split_off(last + 1);
        }
        self.text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        };
        self.pos = 0;
    }
}

impl Lines<'_> {
    /// The next line without its line ending, as `str::lines` gives it (a file's `\r` is
    /// removed only before a `\n`).
    fn next_line(&mut self) -> Option<&str> {
        match self {
            Lines::Text(lines) => lines.next(),
            Lines::File(file) => {
                let (line, ended) = file.next_line()?;
                Some(match line.strip_suffix('\r') {
                    Some(without_cr) if ended => without_cr,
                    _ => line,
                })
            }
        }
    }
}

/// `str::trim` (Unicode white space), with ASCII blanks removed first without decoding: the
/// full trim runs only when an edge is a vertical tab or a non-ASCII character.
fn trim(text: &str) -> &str {
    let ascii = text.trim_ascii();
    match (ascii.as_bytes().first(), ascii.as_bytes().last()) {
        (Some(&a), Some(&b)) if a.is_ascii() && a != 0x0b && b.is_ascii() && b != 0x0b => ascii,
        _ => ascii.trim(),
    }
}

/// `str::trim_end`, with the same ASCII shortcut as [`trim`].
fn trim_end(text: &str) -> &str {
    let ascii = text.trim_ascii_end();
    match ascii.as_bytes().last() {
        Some(&b) if b.is_ascii() && b != 0x0b => ascii,
        _ => ascii.trim_end(),
    }
}

/// The bytes [`strip_comment`] looks at: `"`, `#` and `!`.
const COMMENT_OR_QUOTE: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'#' as usize] = true;
    table[b'!' as usize] = true;
    table
};

/// Removes a `#` or `!` comment that starts outside a double-quoted string.
pub fn strip_comment(line: &str) -> &str {
    // Most lines have none of the three: one table lookup per byte finds out.
    let Some(first) = line.bytes().position(|b| COMMENT_OR_QUOTE[usize::from(b)]) else {
        return line;
    };
    let mut in_quotes = false;
    for (i, byte) in line.bytes().enumerate().skip(first) {
        match byte {
            b'"' => in_quotes = !in_quotes,
            // ASCII bytes never occur inside a multi-byte UTF-8 sequence, so `i` is a boundary.
            b'#' | b'!' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Reads `text` (as file `t.conf`) into a vector of lines: for tests of the layers above.
#[cfg(test)]
pub(crate) fn read_lines(text: &str, id: &str, diags: &mut Diagnostics) -> Vec<SourceLine> {
    let mut lines = Vec::new();
    let mut sink = |location: &Location, text: &str, _: &mut Diagnostics| {
        lines.push(SourceLine {
            location: location.clone(),
            text: text.to_string(),
        })
    };
    SourceReader::new(id, diags, &mut sink).read_str(text, Path::new("/nonexistent/k.conf"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, id: &str) -> (Vec<String>, Vec<Diagnostic>) {
        let mut diags = Diagnostics::default();
        let lines = read_lines(text, id, &mut diags);
        (
            lines.into_iter().map(|l| l.text).collect(),
            diags.into_vec(),
        )
    }

    #[test]
    fn a_file_is_read_in_chunks_as_str_lines_reads_text() {
        let dir = std::env::temp_dir().join(format!("ka-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("chunks.conf");
        // Lines across chunk boundaries, one longer than a chunk, CRLF, invalid UTF-8 and
        // no final newline.
        let mut text = Vec::new();
        for i in 0..20_000 {
            text.extend_from_slice(format!("line {i} \r\n").as_bytes());
        }
        text.extend_from_slice(&vec![b'x'; FileLines::CHUNK * 2 + 7]);
        text.extend_from_slice(b"\nbad \xff byte\n\nlast\r");
        std::fs::write(&path, &text).expect("write");
        let mut lines = open_config_file(&path).expect("open");
        let mut got = Vec::new();
        while let Some(line) = lines.next_line() {
            got.push(line.to_string());
        }
        let lossy = String::from_utf8_lossy(&text).into_owned();
        let want: Vec<String> = lossy.lines().map(str::to_string).collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(got.len(), want.len());
        // A `\r` is removed only before a `\n`, as before: the last line keeps its own.
        assert_eq!(got.last().map(String::as_str), Some("last\r"));
        assert_eq!(got[..got.len() - 1], want[..want.len() - 1]);
    }

    #[test]
    fn a_trailing_backslash_outside_a_definition_is_glued_to_the_line() {
        let (lines, _) = read(
            "interface eth0 \t \\\n\\\npriority 100 # c \\\n$V=a \\\n b\nx $V\n",
            "h",
        );
        // A definition still runs over its continued lines (one line each where used).
        assert_eq!(
            lines,
            ["interface eth0\\", "\\", "priority 100\\", "x a", "b"]
        );
    }

    #[test]
    fn comments_are_stripped_outside_quotes_only() {
        assert_eq!(strip_comment("priority 100 # note"), "priority 100 ");
        assert_eq!(strip_comment("vrrp_script x {# glued"), "vrrp_script x {");
        assert_eq!(strip_comment("! whole line"), "");
        assert_eq!(strip_comment(r#"script "a # b" ! c"#), r#"script "a # b" "#);
    }

    #[test]
    fn parameters_expand_plain_and_braced() {
        let (lines, _) = read(
            "$IF=eth0\n$PRIO=150\ninterface $IF\npriority ${PRIO}0 $UNDEF\nx$IF \"$IF\" $IF.1",
            "h",
        );
        assert_eq!(
            lines,
            vec![
                "interface eth0",
                "priority 1500 $UNDEF",
                "xeth0 \"$IF\" $IF.1"
            ]
        );
    }

    #[test]
    fn nested_generators_are_bounded() {
        let (lines, diags) = read("~SEQ(i,1,2000) ~SEQ(j,1,2000) x", "h");
        // The limit counts every value of every level, so a little under it come out.
        assert!(
            (MAX_GENERATED_LINES / 2..MAX_GENERATED_LINES).contains(&lines.len()),
            "{}",
            lines.len()
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        let (lines, _) = read("~SEQ(i,1,2) ~SEQ(j,1,2) x${i}${j}", "h");
        assert_eq!(lines, vec!["x11", "x12", "x21", "x22"]);
    }

    #[test]
    fn config_id_lines_are_filtered() {
        let text = "@alpha priority 150\n@^alpha priority 50\n@beta state MASTER\nx";
        assert_eq!(read(text, "alpha").0, vec!["priority 150", "x"]);
        assert_eq!(
            read(text, "beta").0,
            vec!["priority 50", "state MASTER", "x"]
        );
    }

    #[test]
    fn missing_include_is_noted_with_its_line() {
        let (lines, diags) = read("a\ninclude /etc/nothing-here-*.conf\nb", "h");
        assert_eq!(lines, vec!["a", "b"]);
        assert!(diags.is_empty(), "an empty glob is silent: {diags:?}");
        // A pattern in a directory that does not exist is noted like a missing file.
        let (_, diags) = read("include nothing-here-*.conf", "h");
        assert_eq!(diags[0].severity, Severity::Note);
        let (lines, diags) = read("a\ninclude /nonexistent/x.conf\nb", "h");
        assert_eq!(lines, vec!["a", "b"]);
        assert_eq!(diags[0].line(), Some(2));
        assert_eq!(diags[0].severity, Severity::Note);
    }
}
