//! Value grammar shared by every block: numbers in a range, decimals, booleans, addresses with
//! prefix lengths, and the splitting of script strings into argv.

use std::net::IpAddr;

use crate::tree::Word;

/// keepalived's booleans: on/off, true/false, yes/no.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum NumberError {
    /// Not a number at all.
    Invalid,
    /// A number, but outside the allowed range.
    OutOfRange,
}

/// An integer in `min..=max`.
/// An empty word is 0, as `strtol` reads it.
pub fn parse_int(text: &str, min: i64, max: i64) -> Result<i64, NumberError> {
    let value: i64 = if text.is_empty() {
        0
    } else {
        let text = skip_leading_space(text);
        text.strip_prefix('+')
            .unwrap_or(text)
            .parse()
            .map_err(|_| NumberError::Invalid)?
    };
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(NumberError::OutOfRange)
    }
}

/// keepalived 2.2.7's signed number reader (`read_int`): the value, or the message its reader
/// prints for it (`invalid number 'x'`, `number 'N' outside integer range` beyond 32 bits,
/// `number 'N' outside range [MIN, MAX]`).
pub fn read_int(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let Some(value) = whole_number(text) else {
        return Err(format!("invalid number '{text}'"));
    };
    if value < i128::from(i32::MIN) || value > i128::from(i32::MAX) {
        return Err(format!("number '{text}' outside integer range"));
    }
    if value < i128::from(min) || value > i128::from(max) {
        return Err(format!("number '{text}' outside range [{min}, {max}]"));
    }
    i64::try_from(value).map_err(|_| format!("number '{text}' outside integer range"))
}

/// keepalived 2.2.7's unsigned number reader (`read_unsigned`): the value, or its message
/// (`negative number 'N'`, `invalid number 'x'`, `number 'N' outside unsigned integer range`
/// beyond 32 bits, `number 'N' outside range [MIN, MAX]`).
pub fn read_unsigned(text: &str, min: u32, max: u32) -> Result<u32, String> {
    // The sign is looked at first: `-1.5` is a negative number, not an invalid one.
    if skip_leading_space(text).starts_with('-') {
        return Err(format!("negative number '{text}'"));
    }
    let Some(value) = whole_number(text) else {
        return Err(format!("invalid number '{text}'"));
    };
    let Ok(value) = u32::try_from(value) else {
        return Err(format!("number '{text}' outside unsigned integer range"));
    };
    if value < min || value > max {
        return Err(format!("number '{text}' outside range [{min}, {max}]"));
    }
    Ok(value)
}

/// `text` without the leading white space `strtol` / `strtod` skip, when a number may follow
/// it (a word that is only white space stays as it is: nothing is read from it).
fn skip_leading_space(text: &str) -> &str {
    let rest = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if rest.is_empty() { text } else { rest }
}

/// A decimal integer with an optional sign, as `strtol` reads a whole word: an empty word is 0
/// (no digits and nothing left over); values too long for 128 bits saturate (they are out of
/// every range anyway).
fn whole_number(text: &str) -> Option<i128> {
    if text.is_empty() {
        return Some(0);
    }
    let text = skip_leading_space(text);
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// A decimal (such as `advert_int 0.5`) in `min..=max`; an empty word is 0, as `strtod`
/// reads it.
pub fn parse_decimal(text: &str, min: f64, max: f64) -> Result<f64, NumberError> {
    if text.is_empty() {
        return if min <= 0.0 && 0.0 <= max {
            Ok(0.0)
        } else {
            Err(NumberError::OutOfRange)
        };
    }
    let text = skip_leading_space(text);
    // strtod takes one leading `+`.
    let text = text.strip_prefix('+').unwrap_or(text);
    let ok_chars = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let value: f64 = if ok_chars {
        text.parse().map_err(|_| NumberError::Invalid)?
    } else {
        return Err(NumberError::Invalid);
    };
    if value >= min && value <= max {
        Ok(value)
    } else {
        Err(NumberError::OutOfRange)
    }
}

/// An address with an optional `/LEN`; the length defaults to the full address (32 or 128).
pub fn parse_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => {
            let n: u8 = l.parse().ok()?;
            (n <= max).then_some(n)?
        }
        None => max,
    };
    Some((addr, len))
}

/// The script string of `script` / `notify*` / `misc_path` arguments and how many words it
/// took, as keepalived 2.2.7 reads it: a `"…"` string (with `\"` and `\\` unescaped), or a
/// `'…'` span of words (quotes removed), or else one bare word.
pub fn script_token(args: &[Word]) -> (String, usize) {
    let Some(first) = args.first() else {
        return (String::new(), 0);
    };
    if first.quoted {
        return (crate::lexer::unescape_quoted(&first.text), 1);
    }
    if first.text.starts_with('\'') {
        let closing = args
            .iter()
            .enumerate()
            .position(|(i, w)| w.text.ends_with('\'') && (i > 0 || w.text.len() > 1))
            .unwrap_or(args.len() - 1);
        let joined = args[..=closing]
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let inner = joined
            .strip_prefix('\'')
            .map(|t| t.strip_suffix('\'').unwrap_or(t))
            .unwrap_or(&joined);
        return (inner.to_string(), closing + 1);
    }
    (first.text.to_string(), 1)
}

/// Splits a script string into argv the way keepalived 2.2.7 does for `script` and `notify*`:
/// a backslash escape becomes its character first (`\b`, `\n`, `\t`, `\r`, `\a`, `\f`, `\v`,
/// `\xHH`, octal `\OOO`, any other character itself), then blanks separate words outside
/// quotes (an escaped blank too), and `'…'` and `"…"` group, joining what touches them.
pub fn split_command(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let (c, escaped) = if c == '\\' {
            match unescape(&mut chars) {
                Some(e) => (e, true),
                None => break,
            }
        } else {
            (c, false)
        };
        match (quote, c) {
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') if !escaped => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(current);
    }
    args
}

/// An address as keepalived 2.2.7's socket-address reader takes it (source and peer addresses,
/// multicast groups, virtual and real server addresses, `connect_ip`, `bindto`): whatever
/// follows a `/` is ignored, so `192.0.2.1/24` is 192.0.2.1.
pub fn parse_sockaddr_ip<T: std::str::FromStr>(text: &str) -> Result<T, T::Err> {
    text.split_once('/')
        .map_or(text, |(address, _)| address)
        .parse()
}

/// Whether a script's first word makes keepalived 2.2.7 hand the whole command to the shell:
/// it starts with `<` and, after any blanks, a `/` (`</dev/tcp/HOST/PORT`, `'< /etc/x'`), the
/// form bash users write to test that a file or port can be opened.
pub fn is_shell_redirection(program: &str) -> bool {
    program
        .strip_prefix('<')
        .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('/'))
}

/// The argv keepalived 2.2.7's `system()` call amounts to for a shell command: `/bin/sh -c`
/// and the words joined by blanks, a word holding blanks (or nothing) put in single quotes.
pub fn shell_argv(words: &[String]) -> Vec<String> {
    let line = words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains([' ', '\t']) {
                format!("'{}'", w.replace('\'', r"'\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    vec!["/bin/sh".to_string(), "-c".to_string(), line]
}

/// The character a backslash escape stands for; `chars` is just after the backslash.
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        _ => None,
    };
    if let Some(s) = simple {
        return Some(s);
    }
    let (radix, max_digits, mut value) = match c {
        'x' => (16, 2, 0),
        '0'..='7' => (8, 2, c.to_digit(8).unwrap_or(0)),
        _ => return Some(c),
    };
    for _ in 0..max_digits {
        match chars.peek().and_then(|d| d.to_digit(radix)) {
            Some(d) => {
                value = value * radix + d;
                chars.next();
            }
            None => break,
        }
    }
    Some(char::from_u32(value).unwrap_or(c))
}

/// The keyword in `known` closest to `word`, for "did you mean" hints: an exact match ignoring
/// case, else one within two edits.
pub fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(word)) {
        return Some(k);
    }
    // Two edits cannot bridge a larger difference in length; this also keeps hostile
    // megabyte-long words cheap.
    known
        .iter()
        .filter(|k| k.len().abs_diff(word.len()) <= 2)
        .map(|k| (edit_distance(&word.to_ascii_lowercase(), k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirection_goes_to_the_shell() {
        assert!(is_shell_redirection("</dev/tcp/192.0.2.1/6443"));
        assert!(is_shell_redirection("< \t/etc/hostname"));
        assert!(!is_shell_redirection("<"));
        assert!(!is_shell_redirection("<foo"));
        assert!(!is_shell_redirection("<<EOF"));
        assert!(!is_shell_redirection("/bin/true"));
        let argv = split_command("</dev/tcp/192.0.2.1/6443 && echo 'a b'");
        assert_eq!(
            shell_argv(&argv),
            ["/bin/sh", "-c", "</dev/tcp/192.0.2.1/6443 && echo 'a b'"]
        );
    }

    #[test]
    fn inet_aton_takes_the_short_forms() {
        assert_eq!(inet_aton("255.255.255.0"), Some(0xffff_ff00));
        assert_eq!(inet_aton("1.5"), Some(0x0100_0005));
        assert_eq!(inet_aton("0x10"), Some(16));
        assert_eq!(inet_aton("010"), Some(8));
        assert_eq!(inet_aton("4294967295"), Some(u32::MAX));
        for bad in [
            "4294967296",
            "1.2.3.4.5",
            "255.255.255.256",
            "-1",
            "x",
            "08",
            "0x",
            "1..2",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimal_reader_speaks_as_keepalived_2_2_7() {
        let max = u64::MAX - 1;
        let read = read_decimal_micros("1.5", 1, max);
        assert_eq!(read.value, Some(1_500_000));
        assert!(read.messages.is_empty());
        let read = read_decimal_micros("0", 1, max);
        assert_eq!(read.value, None);
        assert_eq!(
            read.messages,
            vec!["number '0' outside range [0.000001, 18446744073709.551614]"]
        );
        let read = read_decimal_micros("-1", 1, max);
        assert_eq!(read.messages, vec!["negative number '-1'"]);
        assert!(!read.not_a_number);
        let read = read_decimal_micros("18446744073710", 1, max);
        assert_eq!(
            read.messages,
            vec!["number '18446744073710' outside unsigned decimal range"]
        );
        let read = read_decimal_micros("x", 1, max);
        assert_eq!(read.messages, vec!["invalid number 'x'"]);
        assert!(read.not_a_number);
        let read = read_decimal_micros("1.0000001", 1, max);
        assert_eq!(read.value, Some(1_000_000));
        assert_eq!(
            read.messages,
            vec!["number '1.0000001' has too many decimal places"]
        );
    }

    #[test]
    fn command_split_honours_both_quotes() {
        assert_eq!(
            split_command(r#"/bin/sh -c 'echo "a b"' x"y z""#),
            vec!["/bin/sh", "-c", r#"echo "a b""#, "xy z"]
        );
        // Escapes become their characters before the split (keepalived 2.2.7, observed): an
        // escaped blank still separates.
        assert_eq!(
            split_command(r#"s a\ b \x41\101 c\td x\qy"#),
            vec!["s", "a", "b", "AA", "c", "d", "xqy"]
        );
        assert_eq!(split_command(r#"s a\\b"#), vec!["s", "a\\b"]);
        assert_eq!(
            split_command("/etc/keepalived/checkMySQL.py -h 192.0.2.1 -P 3306").len(),
            5
        );
        assert_eq!(split_command("  ''  "), vec![""]);
    }

    #[test]
    fn prefixes_default_to_host_length() {
        assert_eq!(parse_prefix("192.0.2.1").map(|p| p.1), Some(32));
        assert_eq!(parse_prefix("2001:db8::1").map(|p| p.1), Some(128));
        assert_eq!(parse_prefix("192.0.2.1/24").map(|p| p.1), Some(24));
        assert!(parse_prefix("192.0.2.1/33").is_none());
        assert!(parse_prefix("192.0.2.300").is_none());
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(parse_int("255", 1, 255), Ok(255));
        assert_eq!(parse_int("256", 1, 255), Err(NumberError::OutOfRange));
        assert_eq!(parse_int("x", 1, 255), Err(NumberError::Invalid));
        assert_eq!(parse_decimal("0.5", 0.01, 255.0), Ok(0.5));
        assert_eq!(parse_decimal("-1", 0.01, 255.0), Err(NumberError::Invalid));
    }

    #[test]
    fn an_empty_word_is_zero_and_leading_blanks_are_skipped() {
        // Empty: 0, refused only where 0 is out of range.
        assert_eq!(
            read_int("", 1, 255),
            Err("number '' outside range [1, 255]".into())
        );
        assert_eq!(read_int("", -253, 253), Ok(0));
        assert_eq!(read_unsigned("", 0, 1000), Ok(0));
        assert_eq!(
            read_unsigned("", 1, 65535),
            Err("number '' outside range [1, 65535]".into())
        );
        assert_eq!(parse_int("", 0, 9), Ok(0));
        assert_eq!(parse_int("", 1, 9), Err(NumberError::OutOfRange));
        assert_eq!(parse_decimal("", 0.0, 1.0), Ok(0.0));
        assert_eq!(parse_decimal("", 0.01, 255.0), Err(NumberError::OutOfRange));
        assert_eq!(read_decimal_micros("", 0, 10).value, Some(0));
        assert_eq!(
            read_decimal_micros("", 1, 4_294_967_295).messages,
            vec!["number '' outside range [0.000001, 4294.967295]".to_string()]
        );
        // Blanks before the number are skipped, as strtol / strtod do; blanks alone are not a
        // number, nor are blanks after it.
        assert_eq!(read_int("  150", 1, 255), Ok(150));
        assert_eq!(read_unsigned("\t3", 0, 9), Ok(3));
        assert_eq!(
            read_unsigned(" -3", 0, 9),
            Err("negative number ' -3'".into())
        );
        assert_eq!(parse_int(" 51", 1, 255), Ok(51));
        assert_eq!(parse_decimal(" 1", 0.01, 255.0), Ok(1.0));
        assert_eq!(
            read_decimal_micros(" 3", 0, 10_000_000).value,
            Some(3_000_000)
        );
        assert_eq!(read_int("  ", 0, 9), Err("invalid number '  '".into()));
        assert_eq!(read_int("5 ", 0, 9), Err("invalid number '5 '".into()));
    }

    #[test]
    fn number_readers_word_problems_as_keepalived() {
        assert_eq!(read_int("+5", -253, 253), Ok(5));
        assert_eq!(
            read_int("300", -253, 253),
            Err("number '300' outside range [-253, 253]".into())
        );
        assert_eq!(
            read_int("2147483648", -253, 253),
            Err("number '2147483648' outside integer range".into())
        );
        assert_eq!(read_int("1x", 0, 9), Err("invalid number '1x'".into()));
        assert_eq!(read_unsigned("4294", 0, 4294), Ok(4294));
        assert_eq!(
            read_unsigned("-1", 0, 4294),
            Err("negative number '-1'".into())
        );
        assert_eq!(
            read_unsigned("99999999999999999999", 0, 4294),
            Err("number '99999999999999999999' outside unsigned integer range".into())
        );
        assert_eq!(
            read_unsigned("0", 1, 2147483647),
            Err("number '0' outside range [1, 2147483647]".into())
        );
        assert_eq!(
            read_unsigned("0.5", 0, 9),
            Err("invalid number '0.5'".into())
        );
    }

    #[test]
    fn hints_find_case_mistakes_and_typos() {
        let known = ["vrrp_instance", "vrrp_script", "global_defs"];
        assert_eq!(closest("Vrrp_instance", &known), Some("vrrp_instance"));
        assert_eq!(closest("vrrp_scirpt", &known), Some("vrrp_script"));
        assert_eq!(closest("banana", &known), None);
    }
}

/// keepalived 2.2.7's unsigned decimal reader (seconds to microseconds, as a `u64`): the value
/// in microseconds when it is accepted, and the messages its reader prints (`invalid number
/// 'x'`, `negative number '-1'`, `number 'N' has too many decimal places`, `number 'N' outside
/// unsigned decimal range`, `number 'N' outside range [MIN, MAX]`). The flag says whether the
/// word was not a number at all (some keywords add a line of their own only for the others).
pub fn read_decimal_micros(text: &str, min: u64, max: u64) -> DecimalRead {
    let mut messages = Vec::new();
    let spaced = skip_leading_space(text);
    // The sign is looked at first (`-1x` is a negative number).
    if spaced.starts_with('-') {
        messages.push(format!("negative number '{text}'"));
        return DecimalRead {
            value: None,
            messages,
            not_a_number: false,
            meant: None,
        };
    }
    let body = spaced.strip_prefix('+').unwrap_or(spaced);
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let whole = &body[..digits(body)];
    let after_whole = &body[whole.len()..];
    let (fraction, after) = match after_whole.strip_prefix('.') {
        Some(rest) => (&rest[..digits(rest)], &rest[digits(rest)..]),
        None => ("", after_whole),
    };
    // An empty word is 0 (nothing read and nothing left over); no digit at all is no number.
    if !text.is_empty() && whole.is_empty() && fraction.is_empty() {
        messages.push(format!("invalid number '{text}'"));
        return DecimalRead {
            value: None,
            messages,
            not_a_number: true,
            meant: None,
        };
    }
    // Words after the number (`1x`, `1e3`): named, and 2.2.7 then takes the whole part as it
    // stands, unscaled, as microseconds, checked against the range in microseconds: `4294x`
    // is 0.004294 s, `1x` (1 µs) is below a minimum of 0.001 s and refused (observed: a
    // vrrp_startup_delay of `4294x` logs `Delaying startup for 0.004294 seconds`). More than
    // six decimal places are named first, and then nothing after them is looked at.
    if fraction.len() <= 6 && !after.is_empty() {
        messages.push(format!("invalid number '{text}'"));
        let unscaled = if whole.is_empty() {
            Some(0)
        } else {
            whole.parse::<u64>().ok()
        };
        let value = unscaled.filter(|v| (min..=max).contains(v));
        return DecimalRead {
            value,
            messages,
            not_a_number: value.is_none(),
            meant: micros_of(whole, fraction).filter(|v| (min..=max).contains(v)),
        };
    }
    if fraction.len() > 6 {
        messages.push(format!("number '{text}' has too many decimal places"));
    }
    let value = micros_of(whole, fraction);
    let Some(value) = value else {
        messages.push(format!("number '{text}' outside unsigned decimal range"));
        return DecimalRead {
            value: None,
            messages,
            not_a_number: false,
            meant: None,
        };
    };
    if value < min || value > max {
        messages.push(format!(
            "number '{text}' outside range [{}, {}]",
            micros_text_of(min),
            micros_text_of(max)
        ));
        return DecimalRead {
            value: None,
            messages,
            not_a_number: false,
            meant: None,
        };
    }
    DecimalRead {
        value: Some(value),
        messages,
        not_a_number: false,
        meant: None,
    }
}

/// `WHOLE.FRACTION` seconds in microseconds (the first six decimal places); None beyond u64.
fn micros_of(whole: &str, fraction: &str) -> Option<u64> {
    let mut micros_text: Vec<u8> = fraction.as_bytes().iter().take(6).copied().collect();
    micros_text.resize(6, b'0');
    let fraction_micros: u64 = std::str::from_utf8(&micros_text)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if whole.is_empty() {
        Some(0u64)
    } else {
        whole.parse::<u64>().ok()
    }
    .and_then(|w| w.checked_mul(1_000_000))
    .and_then(|w| w.checked_add(fraction_micros))
}

/// What [`read_decimal_micros`] made of a word.
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalRead {
    /// The accepted value in microseconds.
    pub value: Option<u64>,
    /// The reader's messages, in order (a warning may come with an accepted value).
    pub messages: Vec<String>,
    /// The word was not a number at all.
    pub not_a_number: bool,
    /// When words followed the number (`5x`): the seconds it starts with, in microseconds, in
    /// range (what the word meant, where 2.2.7 took 5 µs).
    pub meant: Option<u64>,
}

/// Microseconds written as seconds with six decimals, exactly.
pub fn micros_text_of(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// An IPv4 address as `inet_aton(3)` reads it: one to four parts separated by dots, each
/// decimal, octal (a leading 0) or hexadecimal (0x), the last part filling the bytes left.
pub fn inet_aton(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else if *part == "0" {
                ("0", 10)
            } else {
                (*part, 10)
            };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let value = u64::from_str_radix(digits, radix).ok()?;
        numbers.push(value);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 64 && *last >= 1u64 << last_bits {
        return None;
    }
    let mut address = 0u64;
    for (i, n) in leading.iter().enumerate() {
        address |= n << (24 - 8 * i as u32);
    }
    u32::try_from(address | last).ok()
}

/// A whole word as C's `strtoul(…, 0)` reads it on a 64-bit machine: an optional sign, then
/// decimal, octal (a leading 0) or hexadecimal (0x); a value beyond 64 bits is `ULONG_MAX`, and
/// `-N` is `N` negated modulo 2^64. `None` when the word is not all number.
pub fn strtoul(text: &str) -> Option<u64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (digits, radix) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
        .filter(|h| h.chars().next().is_some_and(|c| c.is_ascii_hexdigit()))
    {
        (hex, 16)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (&unsigned[1..], 8)
    } else {
        (unsigned, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = u64::from_str_radix(digits, radix).unwrap_or(u64::MAX);
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A routing table as keepalived 2.2.7 finds it (`find_rttables_table`): a name of
/// /etc/iproute2/rt_tables (or `main`, `local`, `default`, `unspec`), else a number as
/// [`strtoul`] reads it, kept to its low 32 bits (`4294967296` is table 0).
pub fn routing_table(text: &str) -> Option<u32> {
    let builtin = [
        ("unspec", 0),
        ("default", 253),
        ("main", 254),
        ("local", 255),
    ];
    if let Some((_, id)) = builtin.iter().find(|(name, _)| *name == text) {
        return Some(*id);
    }
    let named = ["/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables"]
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path).ok().and_then(|body| {
                body.lines().find_map(|line| {
                    let mut words = line.split('#').next().unwrap_or("").split_whitespace();
                    let number = words.next().and_then(strtoul)?;
                    (words.next() == Some(text)).then_some(number as u32)
                })
            })
        });
    named.or_else(|| strtoul(text).map(|n| n as u32))
}

#[cfg(test)]
mod strtoul_tests {
    use super::*;

    #[test]
    fn strtoul_reads_as_c_does() {
        assert_eq!(strtoul("10"), Some(10));
        assert_eq!(strtoul("0x10"), Some(16));
        assert_eq!(strtoul("010"), Some(8));
        assert_eq!(strtoul("+5"), Some(5));
        assert_eq!(strtoul("-1"), Some(u64::MAX));
        assert_eq!(strtoul("18446744073709551616"), Some(u64::MAX));
        assert_eq!(strtoul("0"), Some(0));
        assert_eq!(strtoul("1x"), None);
        assert_eq!(strtoul(""), None);
        assert_eq!(strtoul("-"), None);
    }

    #[test]
    fn routing_tables_keep_their_low_32_bits() {
        assert_eq!(routing_table("main"), Some(254));
        assert_eq!(routing_table("unspec"), Some(0));
        assert_eq!(routing_table("4294967296"), Some(0));
        assert_eq!(routing_table("99999999999"), Some(1_215_752_191));
        assert_eq!(routing_table("-1"), Some(u32::MAX));
        assert_eq!(routing_table("0x10"), Some(16));
        assert_eq!(routing_table("1x"), None);
    }
}
