//! `$NAME` parameters as keepalived 2.2.7 expands them, its built-in parameters (`${_PWD}`,
//! `${_INSTANCE}`, `${_RANDOM [MIN [MAX]]}`, `${_HASH}`, `${_BANG}`) and its line generators
//! `~SEQ(VAR, [START,] [STEP,] END)`, `~SEQx(...)` (hexadecimal values) and
//! `~LST(VAR, VALUE, ...)`.
//!
//! Rules, as observed by running keepalived 2.2.7 on small files:
//! - a definition `$NAME=VALUE` stores VALUE unexpanded (trimmed); references inside it are
//!   expanded where the parameter is used, with the definitions in force at that point;
//! - NAME starts with a letter or `_` and goes on with letters, digits and `_`;
//! - a plain `$NAME` is replaced only where it ends the word (blank or end of line follows);
//!   `${NAME}` anywhere; an unknown name is left as written;
//! - a definition whose line ends in `\` goes on over the following lines (each stripped of its
//!   comment; blank ones dropped) up to the first line without `\`: a multi-line parameter. It
//!   is replaced only where its reference ends the line; its first line joins the text before
//!   the reference, the others become lines of their own (same line number);
//! - a user definition takes precedence over a built-in of the same name;
//! - `~SEQ` and `~LST` at the start of a line repeat the rest of the line once per value, with
//!   VAR defined as that value (it stays defined afterwards).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Largest value `${_RANDOM}` gives without a maximum (keepalived's default range is 0-32767).
pub const RANDOM_DEFAULT_MAX: i64 = 32767;

/// Most lines one `~SEQ` / `~LST` may produce; keepalived has no limit, a typo such as
/// `~SEQ(i,1,100000000)` would exhaust memory here.
pub const MAX_SEQ_VALUES: usize = 100_000;

/// Most replacements on one line; beyond it the line is reported and ignored.
pub const MAX_SUBSTITUTIONS: usize = 10_000;

/// How deep lines of multi-line parameters may hold further multi-line parameters before an
/// expansion is given up as endless (a parameter whose last line names itself).
const MAX_MULTILINE_DEPTH: usize = 64;

/// A parameter: one line, or several for a definition continued with `\`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    lines: Vec<String>,
}

impl Param {
    /// A one-line parameter.
    pub fn single(value: &str) -> Self {
        Param {
            lines: vec![value.to_string()],
        }
    }

    /// A parameter of several lines (at least one).
    pub fn multi(lines: Vec<String>) -> Self {
        if lines.is_empty() {
            return Param::single("");
        }
        Param { lines }
    }

    fn is_multiline(&self) -> bool {
        self.lines.len() > 1
    }
}

/// What the built-in parameters expand to where they are used.
pub struct Builtins<'a> {
    /// `${_PWD}`: the absolute directory of the file being read.
    pub pwd: &'a str,
    /// `${_INSTANCE}`: the config id (`-i`, default the short host name).
    pub instance: &'a str,
}

/// Why a line could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// The expansion would exceed the given number of bytes.
    TooLong,
}

/// The parameters defined so far.
#[derive(Debug, Default)]
pub struct Params {
    defs: HashMap<String, Param>,
    random: RandomState,
    random_counter: u64,
}

impl Params {
    /// Defines (or redefines) `name`.
    pub fn define(&mut self, name: &str, param: Param) {
        self.defs.insert(name.to_string(), param);
    }

    /// Expands every reference in `text` into one or more lines (more only where a multi-line
    /// parameter ends the line). Fails when the result would exceed `max_len` bytes or needs
    /// more than [`MAX_SUBSTITUTIONS`] replacements (`$A=$A` makes keepalived loop forever).
    ///
    /// Like keepalived, a replacement is put in place and scanned again together with the text
    /// that follows it, so `$A=${A}x` grows until the limit and whether a plain `$NAME` in a
    /// value ends its word depends on what follows the reference.
    pub fn expand(
        &mut self,
        text: &str,
        builtins: &Builtins<'_>,
        max_len: usize,
    ) -> Result<Vec<String>, ExpandError> {
        let mut substitutions = 0usize;
        self.expand_within(text, builtins, max_len, &mut substitutions, 0)
    }

    /// [`expand`](Self::expand) of one line, `depth` multi-line parameters deep, counting its
    /// replacements in `substitutions` (shared by the whole expansion: a multi-line parameter
    /// whose lines end with a reference to itself would otherwise recurse without end).
    fn expand_within(
        &mut self,
        text: &str,
        builtins: &Builtins<'_>,
        max_len: usize,
        substitutions: &mut usize,
        depth: usize,
    ) -> Result<Vec<String>, ExpandError> {
        if !text.contains('$') {
            return Ok(vec![text.to_string()]);
        }
        if depth > MAX_MULTILINE_DEPTH {
            return Err(ExpandError::TooLong);
        }
        let mut buf = text.to_string();
        // Lines of a multi-line parameter after its first, each to be expanded in turn.
        let mut more: Vec<String> = Vec::new();
        let mut pos = 0;
        while let Some(found) = buf[pos..].find('$') {
            let at = pos + found;
            let after = &buf[at + 1..];
            let Some(reference) = parse_reference(after) else {
                pos = at + 1;
                continue;
            };
            let ends_line = after[reference.consumed..].trim().is_empty();
            let Some(lines) = self.resolve(&reference, ends_line, builtins) else {
                pos = at + 1;
                continue;
            };
            *substitutions += 1;
            if *substitutions > MAX_SUBSTITUTIONS {
                return Err(ExpandError::TooLong);
            }
            let end = at + 1 + reference.consumed;
            let mut lines = lines.into_iter();
            let first = lines.next().unwrap_or_default();
            if buf.len() - (end - at) + first.len() > max_len {
                return Err(ExpandError::TooLong);
            }
            buf.replace_range(at..end, &first);
            let rest: Vec<String> = lines.collect();
            if !rest.is_empty() {
                // Only where the reference ends the line: the rest of `buf` is blank.
                more.splice(0..0, rest);
            }
            pos = at;
        }
        let mut out = vec![buf];
        let mut total = out[0].len();
        for line in more {
            let expanded =
                self.expand_within(&line, builtins, max_len, substitutions, depth + 1)?;
            total += expanded.iter().map(String::len).sum::<usize>();
            if total > max_len {
                return Err(ExpandError::TooLong);
            }
            out.extend(expanded);
        }
        Ok(out)
    }

    /// The lines a reference stands for, or `None` to leave it as written.
    fn resolve(
        &mut self,
        reference: &Reference<'_>,
        ends_line: bool,
        builtins: &Builtins<'_>,
    ) -> Option<Vec<String>> {
        if let Some(param) = self.defs.get(reference.name) {
            if reference.args.is_some() || (param.is_multiline() && !ends_line) {
                return None;
            }
            return Some(param.lines.clone());
        }
        let value = match (reference.name, reference.args) {
            ("_PWD", None) => builtins.pwd.to_string(),
            ("_INSTANCE", None) => builtins.instance.to_string(),
            ("_HASH", None) => "#".to_string(),
            ("_BANG", None) => "!".to_string(),
            ("_RANDOM", args) => self.random(args.unwrap_or(""))?.to_string(),
            _ => return None,
        };
        Some(vec![value])
    }

    /// `${_RANDOM [MIN [MAX]]}`: a number in MIN..=MAX (defaults 0 and 32767); `None` when
    /// an argument is not a number. Extra arguments are ignored, as keepalived does after
    /// logging them.
    fn random(&mut self, args: &str) -> Option<i64> {
        let mut words = args.split_whitespace();
        let min = match words.next() {
            Some(w) => w.parse::<i64>().ok()?,
            None => 0,
        };
        let max = match words.next() {
            Some(w) => w.parse::<i64>().ok()?,
            None => RANDOM_DEFAULT_MAX,
        };
        self.random_counter = self.random_counter.wrapping_add(1);
        let mut hasher = self.random.build_hasher();
        hasher.write_u64(self.random_counter);
        let r = hasher.finish();
        let (lo, hi) = if min <= max {
            (min, max)
        } else {
            (0, max.max(0))
        };
        let span = u64::try_from(hi.saturating_sub(lo))
            .unwrap_or(0)
            .saturating_add(1);
        let offset = i64::try_from(r % span).unwrap_or(0);
        Some(lo.saturating_add(offset))
    }
}

/// A `$NAME`, `${NAME}` or `${NAME ARGS}` reference (the text after the `$`).
struct Reference<'t> {
    name: &'t str,
    args: Option<&'t str>,
    /// Bytes after the `$` that the reference covers.
    consumed: usize,
}

fn identifier_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
        _ => return 0,
    }
    bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(bytes.len())
}

fn parse_reference(after: &str) -> Option<Reference<'_>> {
    if let Some(braced) = after.strip_prefix('{') {
        let len = identifier_len(braced);
        if len == 0 {
            return None;
        }
        let name = &braced[..len];
        let rest = &braced[len..];
        if rest.starts_with('}') {
            return Some(Reference {
                name,
                args: None,
                consumed: len + 2,
            });
        }
        // Only `_RANDOM` takes arguments: `${_RANDOM 1 5}`.
        if name == "_RANDOM" && rest.starts_with([' ', '\t']) {
            let close = rest.find('}')?;
            return Some(Reference {
                name,
                args: Some(&rest[..close]),
                consumed: 1 + len + close + 1,
            });
        }
        return None;
    }
    let len = identifier_len(after);
    if len == 0 {
        return None;
    }
    // A plain reference counts only where it ends the word.
    let ends_word = after[len..].starts_with([' ', '\t']) || after.len() == len;
    ends_word.then(|| Reference {
        name: &after[..len],
        args: None,
        consumed: len,
    })
}

/// Recognises a parameter definition `$NAME=value` (NAME as for references).
pub fn parse_definition(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('$')?;
    let len = identifier_len(rest);
    if len == 0 {
        return None;
    }
    let value = rest[len..].strip_prefix('=')?;
    Some((&rest[..len], value))
}

/// Which generator a line starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorKind {
    /// `~SEQ(...)`: decimal values.
    Seq,
    /// `~SEQx(...)`: lower-case hexadecimal values.
    SeqHex,
    /// `~LST(...)`: the listed values.
    List,
}

/// A line that starts with `~SEQ`, `~SEQx` or `~LST`, split into its parts.
#[derive(Debug)]
pub struct Generator<'t> {
    /// Which generator.
    pub kind: GeneratorKind,
    /// The text between the parentheses, `None` when the `(` or the `)` is missing.
    pub spec: Option<&'t str>,
    /// Whether the `(` is there (keepalived words a missing `)` differently).
    pub opened: bool,
    /// The line to repeat (after the `)`), start trimmed.
    pub template: &'t str,
}

/// Splits a `~SEQ(...)`/`~SEQx(...)`/`~LST(...)` line; `None` for any other line.
pub fn generator(text: &str) -> Option<Generator<'_>> {
    let (kind, rest) = if let Some(r) = text.strip_prefix("~SEQx") {
        (GeneratorKind::SeqHex, r)
    } else if let Some(r) = text.strip_prefix("~SEQ") {
        (GeneratorKind::Seq, r)
    } else if let Some(r) = text.strip_prefix("~LST") {
        (GeneratorKind::List, r)
    } else {
        return None;
    };
    let rest = rest.trim_start();
    let Some(inner) = rest.strip_prefix('(') else {
        return Some(Generator {
            kind,
            spec: None,
            opened: false,
            template: "",
        });
    };
    Some(match inner.find(')') {
        Some(close) => Generator {
            kind,
            spec: Some(&inner[..close]),
            opened: true,
            template: inner[close + 1..].trim_start(),
        },
        None => Generator {
            kind,
            spec: None,
            opened: true,
            template: "",
        },
    })
}

/// Why a generator's values could not be worked out; each is keepalived's message text
/// (the caller adds `'LINE'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorError {
    /// `Invalid ~SEQ definition`: no variable, not a number, wrong number of values.
    SeqDefinition,
    /// `Invalid ~SEQ values`: a zero step or one going the wrong way.
    SeqValues,
    /// `~SEQx is only valid for positive numbers`.
    SeqHexNegative,
    /// `~SEQ parameter strings too long` (keepalived's words for a missing `)`).
    SeqUnterminated,
    /// `Invalid ~LST specification`.
    List,
    /// More values than [`MAX_SEQ_VALUES`].
    TooMany,
}

impl GeneratorError {
    /// keepalived's message, without the quoted line.
    pub fn message(self) -> &'static str {
        match self {
            GeneratorError::SeqDefinition => "Invalid ~SEQ definition",
            GeneratorError::SeqValues => "Invalid ~SEQ values",
            GeneratorError::SeqHexNegative => "~SEQx is only valid for positive numbers",
            GeneratorError::SeqUnterminated => "~SEQ parameter strings too long",
            GeneratorError::List => "Invalid ~LST specification",
            GeneratorError::TooMany => "~SEQ/~LST produces too many values",
        }
    }
}

/// The variable and values of a generator whose spec has had its parameters expanded.
pub fn generator_values(
    kind: GeneratorKind,
    spec: &str,
) -> Result<(String, Vec<String>), GeneratorError> {
    match kind {
        GeneratorKind::List => list_values(spec),
        GeneratorKind::Seq | GeneratorKind::SeqHex => seq_values(kind, spec),
    }
}

fn list_values(spec: &str) -> Result<(String, Vec<String>), GeneratorError> {
    let mut parts = spec.split(',');
    let var = parts.next().unwrap_or("").trim().to_string();
    let values: Vec<String> = parts.map(|v| v.trim().to_string()).collect();
    if values.is_empty() {
        return Err(GeneratorError::List);
    }
    if values
        .iter()
        .any(|v| v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\''))
    {
        return Err(GeneratorError::List);
    }
    if values.len() > MAX_SEQ_VALUES {
        return Err(GeneratorError::TooMany);
    }
    Ok((var, values))
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == '\t' || c == ','
}

fn seq_values(kind: GeneratorKind, spec: &str) -> Result<(String, Vec<String>), GeneratorError> {
    let var_end = spec.find(is_separator).unwrap_or(spec.len());
    let var = &spec[..var_end];
    if var.is_empty() {
        return Err(GeneratorError::SeqDefinition);
    }
    let mut rest = skip_separator(&spec[var_end..]);
    let mut numbers = Vec::new();
    while !rest.trim().is_empty() {
        let (n, after) = parse_c_long(rest).ok_or(GeneratorError::SeqDefinition)?;
        numbers.push(n);
        if !(after.is_empty() || after.starts_with(is_separator)) {
            return Err(GeneratorError::SeqDefinition);
        }
        rest = skip_separator(after);
    }
    let (start, step, end) = match numbers.as_slice() {
        [end] => (1, if *end >= 1 { 1 } else { -1 }, *end),
        [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
        [start, step, end] => (*start, *step, *end),
        _ => return Err(GeneratorError::SeqDefinition),
    };
    if step == 0 || (end > start && step < 0) || (end < start && step > 0) {
        return Err(GeneratorError::SeqValues);
    }
    if kind == GeneratorKind::SeqHex && (start < 0 || end < 0) {
        return Err(GeneratorError::SeqHexNegative);
    }
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > MAX_SEQ_VALUES as i128 {
        return Err(GeneratorError::TooMany);
    }
    let mut values = Vec::new();
    let mut v = i128::from(start);
    for _ in 0..count {
        values.push(match kind {
            GeneratorKind::SeqHex => format!("{v:x}"),
            _ => v.to_string(),
        });
        v += i128::from(step);
    }
    Ok((var.to_string(), values))
}

/// Skips one separator: blanks, at most one comma, blanks.
fn skip_separator(text: &str) -> &str {
    let t = text.trim_start_matches([' ', '\t']);
    let t = t.strip_prefix(',').unwrap_or(t);
    t.trim_start_matches([' ', '\t'])
}

/// A number as C's `strtol(..., 0)` reads it: blanks, a sign, `0x` hex, leading-0 octal or
/// decimal; no digits at all reads as 0. Returns the value and the text after it.
fn parse_c_long(text: &str) -> Option<(i64, &str)> {
    let t = text.trim_start_matches([' ', '\t']);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.starts_with('0') && t.len() > 1 {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let len = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if len == 0 {
        // "0x" alone or "0" followed by a non-octal digit: the 0 is the number.
        if radix != 10 {
            return Some((0, if radix == 16 { &t[1..] } else { digits }));
        }
        return Some((0, digits));
    }
    let value = i64::from_str_radix(&digits[..len], radix).ok()?;
    Some((if negative { -value } else { value }, &digits[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins() -> Builtins<'static> {
        Builtins {
            pwd: "/etc/keepalived",
            instance: "alpha",
        }
    }

    fn expand(params: &mut Params, text: &str) -> Vec<String> {
        params.expand(text, &builtins(), 4096).unwrap_or_default()
    }

    #[test]
    fn plain_references_only_at_word_end_braced_anywhere() {
        let mut p = Params::default();
        p.define("IF", Param::single("eth0"));
        assert_eq!(
            expand(&mut p, "x$IF \"$IF\" $IF.1 ${IF}.1"),
            vec!["xeth0 \"$IF\" $IF.1 eth0.1"]
        );
        assert_eq!(
            expand(&mut p, "${UNDEF}z $UNDEF $$IF $9"),
            vec!["${UNDEF}z $UNDEF $eth0 $9"]
        );
    }

    #[test]
    fn values_expand_where_used_and_self_reference_stops() {
        let mut p = Params::default();
        p.define("A", Param::single("one"));
        p.define("B", Param::single("$A two"));
        assert_eq!(expand(&mut p, "$B"), vec!["one two"]);
        p.define("A", Param::single("uno"));
        assert_eq!(expand(&mut p, "$B"), vec!["uno two"]);
        p.define("B", Param::single("q"));
        p.define("C", Param::single("$B"));
        p.define("B", Param::single("${C}z"));
        assert_eq!(expand(&mut p, "b$B"), vec!["b$Bz"]);
        assert_eq!(expand(&mut p, "c$C"), vec!["c$Bz"]);
        p.define("R", Param::single("$R"));
        assert_eq!(
            p.expand("r$R", &builtins(), 4096),
            Err(ExpandError::TooLong)
        );
    }

    #[test]
    fn multiline_only_at_end_of_line() {
        let mut p = Params::default();
        p.define("IF", Param::single("eth0"));
        p.define(
            "M",
            Param::multi(vec!["m1".into(), "${IF}x".into(), "$IF".into()]),
        );
        assert_eq!(expand(&mut p, "a$M"), vec!["am1", "eth0x", "eth0"]);
        assert_eq!(expand(&mut p, "a${M}"), vec!["am1", "eth0x", "eth0"]);
        assert_eq!(expand(&mut p, "a$M tail"), vec!["a$M tail"]);
    }

    #[test]
    fn builtins_and_user_override() {
        let mut p = Params::default();
        assert_eq!(
            expand(&mut p, "${_PWD} ${_INSTANCE} h${_HASH}"),
            vec!["/etc/keepalived alpha h#"]
        );
        for _ in 0..50 {
            let v: i64 = expand(&mut p, "${_RANDOM 3 5}")[0].parse().unwrap_or(-1);
            assert!((3..=5).contains(&v), "{v}");
        }
        assert_eq!(expand(&mut p, "${_RANDOM x}"), vec!["${_RANDOM x}"]);
        p.define("_PWD", Param::single("mine"));
        assert_eq!(expand(&mut p, "${_PWD}"), vec!["mine"]);
    }

    #[test]
    fn a_multiline_parameter_naming_itself_is_bounded() {
        let mut p = Params::default();
        p.define("M", Param::multi(vec!["x".into(), "$M".into()]));
        assert_eq!(
            p.expand("a $M", &builtins(), 1 << 20),
            Err(ExpandError::TooLong)
        );
        // Two that name each other too.
        p.define("P", Param::multi(vec!["p".into(), "$Q".into()]));
        p.define("Q", Param::multi(vec!["q".into(), "$P".into()]));
        assert_eq!(
            p.expand("$P", &builtins(), 1 << 20),
            Err(ExpandError::TooLong)
        );
    }

    #[test]
    fn expansion_is_bounded() {
        let mut p = Params::default();
        p.define("A", Param::single("0123456789"));
        p.define("B", Param::single("$A $A $A $A $A $A $A $A $A $A"));
        p.define("C", Param::single("$B $B $B $B $B $B $B $B $B $B"));
        assert_eq!(
            p.expand("$C $C $C", &builtins(), 1000),
            Err(ExpandError::TooLong)
        );
    }

    #[test]
    fn definitions() {
        assert_eq!(parse_definition("$A=1"), Some(("A", "1")));
        assert_eq!(parse_definition("$_u= x"), Some(("_u", " x")));
        assert_eq!(parse_definition("$9X=1"), None);
        assert_eq!(parse_definition("$ S = 1"), None);
        assert_eq!(parse_definition("$A =1"), None);
    }

    fn seq(kind: GeneratorKind, spec: &str) -> Result<Vec<String>, GeneratorError> {
        generator_values(kind, spec).map(|(_, v)| v)
    }

    #[test]
    fn seq_forms() {
        use GeneratorKind::*;
        assert_eq!(seq(Seq, "i,3").unwrap_or_default(), ["1", "2", "3"]);
        assert_eq!(seq(Seq, "i,0").unwrap_or_default(), ["1", "0"]);
        assert_eq!(seq(Seq, "i, 3, 1").unwrap_or_default(), ["3", "2", "1"]);
        assert_eq!(
            seq(Seq, "i,10,-3,1").unwrap_or_default(),
            ["10", "7", "4", "1"]
        );
        assert_eq!(seq(Seq, "i 1 3").unwrap_or_default(), ["1", "2", "3"]);
        assert_eq!(seq(Seq, "i,,2").unwrap_or_default(), ["0", "1", "2"]);
        assert_eq!(seq(Seq, "i,0x10,0x11").unwrap_or_default(), ["16", "17"]);
        assert_eq!(
            seq(SeqHex, "i,255,257").unwrap_or_default(),
            ["ff", "100", "101"]
        );
        assert_eq!(seq(Seq, "i,1,0,3"), Err(GeneratorError::SeqValues));
        assert_eq!(seq(Seq, "i,1,-1,3"), Err(GeneratorError::SeqValues));
        assert_eq!(seq(Seq, "i,1.5,3"), Err(GeneratorError::SeqDefinition));
        assert_eq!(seq(Seq, "i"), Err(GeneratorError::SeqDefinition));
        assert_eq!(seq(Seq, ",1,2"), Err(GeneratorError::SeqDefinition));
        assert_eq!(seq(Seq, "i,1,2,3,4"), Err(GeneratorError::SeqDefinition));
        assert_eq!(seq(SeqHex, "i,-1,2"), Err(GeneratorError::SeqHexNegative));
        assert_eq!(seq(Seq, "i,1,1000000000"), Err(GeneratorError::TooMany));
    }

    #[test]
    fn list_forms() {
        use GeneratorKind::List;
        assert_eq!(seq(List, "i, a, b").unwrap_or_default(), ["a", "b"]);
        assert_eq!(seq(List, "i,a,,b").unwrap_or_default(), ["a", "", "b"]);
        assert_eq!(seq(List, "i"), Err(GeneratorError::List));
        assert_eq!(seq(List, "i,a b,c"), Err(GeneratorError::List));
        assert_eq!(seq(List, "i,\"a\",c"), Err(GeneratorError::List));
    }

    #[test]
    fn generator_lines() {
        let g = generator("~SEQ (i,1,2) x$i").map(|g| (g.kind, g.spec, g.template));
        assert_eq!(g, Some((GeneratorKind::Seq, Some("i,1,2"), "x$i")));
        let g = generator("~SEQx(i,1,2)z").map(|g| (g.kind, g.spec, g.template));
        assert_eq!(g, Some((GeneratorKind::SeqHex, Some("i,1,2"), "z")));
        assert!(generator("~SEQ(i,1,2 h").is_some_and(|g| g.spec.is_none()));
        assert!(generator("x ~SEQ(i,1,2)").is_none());
    }
}
