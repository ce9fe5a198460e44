//! Reading configuration text into logical lines: comments stripped, `include` files read in
//! place, `$NAME=value` parameters expanded and `@ID` / `@^ID` lines filtered.
//!
//! This is the layer below the lexer: it knows files and lines, not keywords.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};

/// How deep `include` may nest before we stop and report it.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Longest text a `$NAME` expansion may produce on one line or in one parameter. keepalived's
/// own lines are far shorter; this stops `$A=$A$A` chains from exhausting memory.
pub const MAX_EXPANDED_LEN: usize = 64 * 1024;

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
    params: HashMap<String, String>,
    stack: Vec<PathBuf>,
    /// Lines handed out so far, across all files: the next line's [`Location::order`].
    order: u32,
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
            params: HashMap::new(),
            stack: Vec::new(),
            order: 0,
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
        match read_config_file(path) {
            Ok(text) => {
                let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                self.read_text(&text, path, canonical);
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
        self.read_text(text, name, name.to_path_buf());
    }

    /// Whether reading has stopped: keepalived stops at a line that lacks a required value.
    fn halted(&self) -> bool {
        self.diagnostics.has_syntax_error()
    }

    fn read_text(&mut self, text: &str, path: &Path, canonical: PathBuf) {
        let file = Arc::new(path.to_path_buf());
        self.stack.push(canonical);
        for (index, raw) in text.lines().enumerate() {
            if self.halted() {
                break;
            }
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            self.order = self.order.saturating_add(1);
            let location = Location::at(file.clone(), line_no, self.order);
            self.read_line(raw, &location);
        }
        self.stack.pop();
    }

    fn read_line(&mut self, raw: &str, location: &Location) {
        let text = strip_comment(raw).trim();
        if text.is_empty() {
            return;
        }
        let Some(text) = self.filter_config_id(text) else {
            return;
        };
        if let Some((name, value)) = parse_definition(text) {
            if let Some(value) = self.expand(value.trim(), location) {
                self.params.insert(name.to_string(), value.into_owned());
            }
            return;
        }
        let Some(text) = self.expand(text, location) else {
            return;
        };
        // A bare `include` is an unknown keyword to keepalived; leave it to the parser.
        if let Some(pattern) = text.strip_prefix("include")
            && pattern.starts_with(char::is_whitespace)
        {
            let pattern = pattern.trim().trim_matches('"');
            if !pattern.is_empty() {
                self.include(pattern, location);
                return;
            }
        }
        (self.sink)(location, &text, self.diagnostics);
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

    /// Replaces `$NAME` and `${NAME}` with defined parameters; undefined ones stay as written.
    /// `None` (with a diagnostic) when the result would exceed [`MAX_EXPANDED_LEN`].
    fn expand<'t>(&mut self, text: &'t str, location: &Location) -> Option<Cow<'t, str>> {
        if !text.contains('$') {
            return Some(Cow::Borrowed(text));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                // keepalived replaces a plain `$NAME` only where it ends the word:
                // `x$IF` is expanded, `$NET.8/24` and `"$IF"` are left as written.
                let ends_word = after[end..].chars().next().is_none_or(char::is_whitespace);
                (if ends_word { &after[..end] } else { "" }, end)
            };
            match self.params.get(name) {
                Some(value) if !name.is_empty() => {
                    if out.len() + value.len() > MAX_EXPANDED_LEN {
                        self.diagnostics.error(
                            location,
                            format!("Expanding parameters makes this line longer than {MAX_EXPANDED_LEN} characters - ignoring it"),
                        );
                        return None;
                    }
                    out.push_str(value);
                    rest = &after[consumed..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Some(Cow::Owned(out))
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
        let matches: Vec<PathBuf> = match glob::glob(&full_text) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(err) => {
                self.diagnostics.error(
                    location,
                    format!("Invalid include pattern '{pattern}': {err}"),
                );
                return;
            }
        };
        if matches.is_empty() {
            // keepalived: a missing file is mentioned but accepted, an empty glob is silent;
            // with -e (all_config) both are errors.
            let is_glob = pattern.contains(['*', '?', '[']);
            let (strict, message) = match (is_glob, self.all_config) {
                (false, all) => (all, format!("Config files missing '{pattern}'.")),
                (true, true) => (true, format!("No config files matched '{pattern}'.")),
                (true, false) => return,
            };
            let severity = if strict {
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
            match read_config_file(&path) {
                Ok(text) => self.read_text(&text, &path, canonical),
                Err(err) => self.diagnostics.error(
                    location,
                    format!("Unable to open included file '{}': {err}", path.display()),
                ),
            }
        }
    }
}

/// Reads a configuration file as text (invalid UTF-8 replaced): only regular files of at most
/// [`MAX_FILE_LEN`] bytes, so a device or FIFO named by mistake cannot hang or exhaust memory.
fn read_config_file(path: &Path) -> std::io::Result<String> {
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
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_LEN).read_to_end(&mut bytes)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// Removes a `#` or `!` comment that starts outside a double-quoted string.
pub fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    for (i, byte) in line.bytes().enumerate() {
        match byte {
            b'"' => in_quotes = !in_quotes,
            // ASCII bytes never occur inside a multi-byte UTF-8 sequence, so `i` is a boundary.
            b'#' | b'!' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Recognises a parameter definition `$NAME=value`.
fn parse_definition(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name, &rest[eq + 1..]))
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
        let (lines, diags) = read("a\ninclude nothing-here-*.conf\nb", "h");
        assert_eq!(lines, vec!["a", "b"]);
        assert!(diags.is_empty(), "an empty glob is silent: {diags:?}");
        let (lines, diags) = read("a\ninclude /nonexistent/x.conf\nb", "h");
        assert_eq!(lines, vec!["a", "b"]);
        assert_eq!(diags[0].line(), Some(2));
        assert_eq!(diags[0].severity, Severity::Note);
    }
}
