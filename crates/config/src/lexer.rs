//! Splits one logical line into tokens with nom: words, `"…"` strings, `{` and `}`.
//!
//! Braces are tokens of their own wherever they stand (`virtual_ipaddress { 192.0.2.1 }` is
//! five tokens). Single quotes are kept inside words; script strings split them later
//! ([`crate::values::split_command`]).

use nom::character::complete::char;
use nom::combinator::map;
use nom::sequence::delimited;
use nom::{IResult, Parser};

/// One token of a configuration line, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// `{`
    Open,
    /// `}`
    Close,
    /// A word, or the inside of a `"…"` string.
    Word {
        /// The text (without the quotes for a quoted string).
        text: &'a str,
        /// Whether it was written in double quotes.
        quoted: bool,
    },
}

/// A `"…"` string. One never closed is no word: 2.2.7's word reader stops there, dropping it
/// and the rest of the line (`priority "100` has no value).
fn quoted(input: &str) -> IResult<&str, Token<'_>> {
    map(
        delimited(char('"'), quoted_body, char('"')),
        |text: &str| Token::Word { text, quoted: true },
    )
    .parse(input)
}

/// The inside of a `"…"` string, as written: up to the next `"`, a backslash before it
/// included (2.2.7's word reader gives `\` no meaning; a script string is split again from
/// the line, [`crate::script_words`]).
fn quoted_body(input: &str) -> IResult<&str, &str> {
    let end = input.find('"').unwrap_or(input.len());
    Ok((&input[end..], &input[..end]))
}

/// The text of a `"…"` string with `\"` and `\\` replaced by the character they keep (other
/// backslashes stay for whoever reads the value, such as a script string's splitter).
pub fn unescape_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Bytes that end a bare word, or need a closer look: ASCII white space (as
/// `char::is_whitespace` has it, vertical tab included), `{`, `}`, `"`, and every non-ASCII
/// byte.
const WORD_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = byte >= 0x80
            || matches!(
                byte as u8,
                b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b' ' | b'{' | b'}' | b'"'
            );
        byte += 1;
    }
    table
};

/// A bare word: everything up to white space, a brace or a `"`. Scanned byte by byte with a
/// table, since nearly every word is ASCII; a non-ASCII character is decoded and tested as a
/// `char`.
fn bare_word(input: &str) -> IResult<&str, Token<'_>> {
    let bytes = input.as_bytes();
    let mut end = 0;
    while let Some(&byte) = bytes.get(end) {
        if !WORD_STOP[usize::from(byte)] {
            end += 1;
            continue;
        }
        if byte.is_ascii() {
            break;
        }
        // `end` is a char boundary: only ASCII bytes were passed.
        let Some(c) = input[end..].chars().next() else {
            break;
        };
        if c.is_whitespace() {
            break;
        }
        end += c.len_utf8();
    }
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeTill1,
        )));
    }
    let (text, rest) = input.split_at(end);
    Ok((
        rest,
        Token::Word {
            text,
            quoted: false,
        },
    ))
}

/// One token after optional blanks (space, tab, CR, LF: nom's `multispace0`). The first byte
/// chooses the parser, so a word is not first tried as a brace and a string.
fn token(input: &str) -> IResult<&str, Token<'_>> {
    let blanks = input
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    // Blanks are ASCII: `blanks` is a char boundary.
    let input = &input[blanks..];
    match input.as_bytes().first() {
        Some(b'{') => Ok((&input[1..], Token::Open)),
        Some(b'}') => Ok((&input[1..], Token::Close)),
        Some(b'"') => quoted(input),
        _ => bare_word(input),
    }
}

/// Whether a line has a `"` that is never closed.
pub fn has_unterminated_quote(line: &str) -> bool {
    line.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

/// What 2.2.7's comment remover names in `Unterminated quote 'TEXT'` when a `"` on the line
/// is never closed, a backslash keeping the character after it from opening or closing a
/// string; `None` when every string is closed. The text is the line without a final lone
/// backslash (the remover takes that line-continuation mark off before it reports). The word
/// reader, which knows no backslash, says `Unmatched quote` on its own count
/// ([`has_unterminated_quote`]): a line can earn both.
pub fn unterminated_quote_escaped(line: &str) -> Option<&str> {
    let mut open = false;
    let mut continued_at = None;
    let mut bytes = line.bytes().enumerate();
    while let Some((i, b)) = bytes.next() {
        match b {
            b'"' => open = !open,
            // The guard takes the escaped byte; a backslash with none after it ends the line.
            b'\\' if bytes.next().is_none() => continued_at = Some(i),
            _ => {}
        }
    }
    // A backslash is ASCII: `i` is a char boundary.
    open.then(|| continued_at.map_or(line, |i| &line[..i]))
}

/// The tokens of a line that has already had its comment removed, one at a time.
pub fn tokens(line: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = line;
    std::iter::from_fn(move || {
        let (next, tok) = token(rest).ok()?;
        rest = next;
        Some(tok)
    })
}

/// All tokens of a line.
pub fn tokenize(line: &str) -> Vec<Token<'_>> {
    tokens(line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Token<'_> {
        Token::Word {
            text: s,
            quoted: false,
        }
    }

    #[test]
    fn braces_split_from_words() {
        assert_eq!(
            tokenize("virtual_ipaddress {192.0.2.1}"),
            vec![
                w("virtual_ipaddress"),
                Token::Open,
                w("192.0.2.1"),
                Token::Close
            ]
        );
    }

    #[test]
    fn quoted_string_is_one_word() {
        assert_eq!(
            tokenize(r#"script "/bin/check -h 1 { x }""#),
            vec![
                w("script"),
                Token::Word {
                    text: "/bin/check -h 1 { x }",
                    quoted: true
                }
            ]
        );
    }

    #[test]
    fn unterminated_quote_ends_the_words_of_the_line() {
        assert_eq!(tokenize(r#"auth_pass "abc def"#), vec![w("auth_pass")]);
        assert_eq!(
            tokenize(r#"a b "c d" e "f g"#),
            vec![
                w("a"),
                w("b"),
                Token::Word {
                    text: "c d",
                    quoted: true
                },
                w("e")
            ]
        );
    }

    #[test]
    fn a_backslash_does_not_keep_a_quote_in_the_string() {
        let toks = tokenize(r#"router_id "a\"b"c"#);
        assert_eq!(
            toks[1],
            Token::Word {
                text: r"a\",
                quoted: true
            }
        );
        assert_eq!(toks[2], w("b"));
        assert!(!has_unterminated_quote(r#"script "/x.sh \"a\"""#));
        assert!(has_unterminated_quote(r#"script "/x.sh \" "a"#));
        assert_eq!(unterminated_quote_escaped(r#"a\"b"#), None);
        assert!(has_unterminated_quote(r#"a\"b"#));
        assert_eq!(
            unterminated_quote_escaped(r#"script "/x.sh"#),
            Some(r#"script "/x.sh"#)
        );
        // A final lone backslash (a continuation mark) is not named; an escaped one is.
        assert_eq!(
            unterminated_quote_escaped(r#"notify "/x.sh c\"#),
            Some(r#"notify "/x.sh c"#)
        );
        assert_eq!(
            unterminated_quote_escaped(r#"notify "/x.sh c\\"#),
            Some(r#"notify "/x.sh c\\"#)
        );
        assert_eq!(unescape_quoted(r#"a\"b\\c\d"#), r#"a"b\c\d"#);
    }

    /// The tokenizer as nom's combinators spell it (`alt` over the four kinds): the byte
    /// dispatch above must give the same tokens.
    fn reference_tokens(line: &str) -> Vec<Token<'_>> {
        use nom::branch::alt;
        use nom::bytes::complete::take_till1;
        use nom::character::complete::multispace0;
        use nom::combinator::value;
        use nom::sequence::preceded;
        let word = |input| {
            map(
                take_till1(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == '"'),
                |text: &str| Token::Word {
                    text,
                    quoted: false,
                },
            )
            .parse(input)
        };
        let mut rest = line;
        let mut out = Vec::new();
        while let Ok((next, tok)) = preceded(
            multispace0,
            alt((
                value(Token::Open, char('{')),
                value(Token::Close, char('}')),
                quoted,
                word,
            )),
        )
        .parse(rest)
        {
            out.push(tok);
            rest = next;
        }
        out
    }

    #[test]
    fn byte_dispatch_matches_the_combinator_grammar() {
        let pieces = [
            "a",
            "{",
            "}",
            "\"",
            "\\",
            " ",
            "\t",
            "\r",
            "\x0b",
            "\x0c",
            "\u{a0}",
            "\u{85}",
            "\u{2003}",
            "é",
            "日本",
            "#",
            "'",
            "192.0.2.1/24",
            "",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                line.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            assert_eq!(tokenize(&line), reference_tokens(&line), "{line:?}");
        }
    }

    #[test]
    fn single_quotes_stay_in_words() {
        assert_eq!(
            tokenize("notify 'a b'"),
            vec![w("notify"), w("'a"), w("b'")]
        );
    }
}
