//! The word splitter keepalived 2.2.7 uses for script strings (`script`, `notify*`,
//! `misc_path`, `quorum_up`, …): blanks separate words, `"…"` and `'…'` group and join what
//! touches them (`""/bin/true""` is `/bin/true`, `"/bin/true"x` is `/bin/truex`), and a
//! backslash escape becomes its character, inside quotes as well.
//!
//! 2.2.7 applies it twice: to the statement's line, giving the keyword and its arguments, and
//! then to the first argument alone, giving the script's argv (see [`script_argv`]).

/// Why a string could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A `"` or `'` is never closed (the quote character).
    MissingTerminating(char),
    /// The string ends in a lone backslash.
    MissingEscape,
}

/// The words of `src`, or why it cannot be split (2.2.7 then drops the whole string). As in
/// 2.2.7, a quote is unterminated only when text without a closing quote or a backslash
/// follows it: a quote (or an escape) that the string ends in leaves no error.
pub fn split(src: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut quote: Option<char> = None;
    let mut rest = src;
    loop {
        rest = rest.trim_start_matches(is_blank);
        if rest.is_empty() {
            return Ok(words);
        }
        let mut word = String::new();
        while !rest.is_empty() {
            let stop = rest.find(|c: char| match quote {
                Some(q) => c == q || c == '\\',
                None => is_blank(c) || matches!(c, '"' | '\'' | '\\'),
            });
            let Some(at) = stop else {
                if let Some(q) = quote {
                    return Err(SplitError::MissingTerminating(q));
                }
                word.push_str(rest);
                rest = "";
                break;
            };
            word.push_str(&rest[..at]);
            rest = &rest[at..];
            let mut chars = rest.chars().peekable();
            let c = chars.next().unwrap_or(' ');
            if c == '\\' {
                match escape(&mut chars) {
                    Some(e) => word.push(e),
                    None => return Err(SplitError::MissingEscape),
                }
                rest = chars_rest(rest, &chars);
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match quote {
                Some(_) => quote = None,
                None if c == '"' || c == '\'' => quote = Some(c),
                None => break,
            }
        }
        // 2.2.7 copies the word as a C string: an escaped NUL ends it.
        if let Some(nul) = word.find('\0') {
            word.truncate(nul);
        }
        words.push(word);
    }
}

/// What `chars` (made from `text`) has not consumed yet.
fn chars_rest<'t>(text: &'t str, chars: &std::iter::Peekable<std::str::Chars<'t>>) -> &'t str {
    let left: usize = chars.clone().map(char::len_utf8).sum();
    &text[text.len() - left..]
}

/// The blanks between words (C's white space: space, tab, newline, CR, VT, FF).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// The character a backslash escape stands for; `chars` is just after the backslash. `None`
/// when the string ends there.
fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    let byte = |v: u32| char::from_u32(v & 0xff).unwrap_or('\0');
    Some(match c {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'E' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
            let mut value = 0u32;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(16)) {
                value = (value << 4 | d) & 0xff;
                chars.next();
            }
            byte(value)
        }
        'c' if chars.peek().is_some() => byte(chars.next().map_or(0, |n| n as u32) & 0x1f),
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        value = value << 3 | d;
                        chars.next();
                    }
                    None => break,
                }
            }
            byte(value)
        }
        other => other,
    })
}

/// A script statement's line as 2.2.7 reads it: `line` (the keyword and its arguments, up to
/// the first brace) is split into words, and the first argument is split again into the
/// script's argv. Returns the argv (empty when there is no script) and the words after the
/// first argument (a notify script's user and group); `Err` carries the string whose split
/// failed and why.
pub fn script_argv(line: &str) -> Result<(Vec<String>, Vec<String>), (String, SplitError)> {
    let words = split(line).map_err(|e| (line.to_string(), e))?;
    let Some(first) = words.get(1) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let argv = split(first).map_err(|e| (first.clone(), e))?;
    Ok((argv, words.get(2..).unwrap_or(&[]).to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        split(src).unwrap_or_default()
    }

    #[test]
    fn quotes_join_what_touches_them() {
        assert_eq!(words(r#"""/bin/true"""#), ["/bin/true"]);
        assert_eq!(words(r#""/bin/true"x"#), ["/bin/truex"]);
        assert_eq!(words(r#"/bin/"true""#), ["/bin/true"]);
        assert_eq!(words(r#"/bin/tr"u e" x"#), ["/bin/tru e", "x"]);
        assert_eq!(words("'a \"b' c"), ["a \"b", "c"]);
        assert_eq!(words(r#""" x"#), ["", "x"]);
        assert_eq!(words("  "), Vec::<String>::new());
    }

    #[test]
    fn escapes_work_inside_and_outside_quotes() {
        assert_eq!(words(r#"a\ b "c\"d" 'e\'f'"#), ["a b", "c\"d", "e'f"]);
        assert_eq!(words(r"\x41\101\cA\q\x"), ["AA\u{1}qx"]);
        assert_eq!(words(r"ab\0cd"), ["ab"]);
    }

    #[test]
    fn unclosed_quotes_and_trailing_backslashes_fail() {
        assert_eq!(
            split("/bin/true' x"),
            Err(SplitError::MissingTerminating('\''))
        );
        assert_eq!(split(r#"a "b"#), Err(SplitError::MissingTerminating('"')));
        assert_eq!(split(r"a\"), Err(SplitError::MissingEscape));
        // A quote the string ends in, or one closed by nothing but escapes, is no error.
        assert_eq!(words("/bin/true'"), ["/bin/true"]);
        assert_eq!(words("/bin/true \""), ["/bin/true", ""]);
        assert_eq!(words(r"'ab\x"), ["abx"]);
    }

    #[test]
    fn a_script_line_is_split_twice() {
        let (argv, rest) = script_argv(r#"script ""/bin/true"" root"#).unwrap_or_default();
        assert_eq!(argv, ["/bin/true"]);
        assert_eq!(rest, ["root"]);
        let (argv, _) = script_argv("script '/bin/x a  b' ").unwrap_or_default();
        assert_eq!(argv, ["/bin/x", "a", "b"]);
        let (argv, _) = script_argv(r#"script "" /bin/true"#).unwrap_or_default();
        assert!(argv.is_empty());
        assert_eq!(
            script_argv(r#"script "/bin/true' x""#),
            Err((
                "/bin/true' x".to_string(),
                SplitError::MissingTerminating('\'')
            ))
        );
    }
}
