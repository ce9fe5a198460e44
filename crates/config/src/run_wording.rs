//! How a running keepalived 2.2.7 words what its number readers find, where it differs from
//! `keepalived -t` (observed with 2.2.7 on the corpus, session 25; see docs/compat.md).
//!
//! Most keywords of `global_defs` and of the VRRP blocks are read leniently by a running
//! 2.2.7: a bad value is logged with `WARNING - ` before the reader's words (`WARNING -
//! invalid number 'abc'`), and for a word that is not a number the value read up to the first
//! bad character (`0` for `abc`, `1` for `1x`) is taken, so the line `-t` prints next (`…
//! invalid - ignoring`) is not logged, or another is (`… must be greater than 0, setting to
//! 1`). `-t` refuses the same values, and prints no `WARNING - `. A signed reader's `number 'N'
//! outside range [A, B]` keeps its words in both. Some keywords are read strictly by both
//! (`priority`, `virtual_router_id`, a rule's `priority`, buffer sizes, the BFD values, …):
//! their lines are the same.

use crate::diagnostic::{Diagnostic, RunTime};
use crate::tree::Statement;

/// Keywords whose value (any word of the line) a running 2.2.7 reads leniently.
const LENIENT: &[&str] = &[
    "advert_int",
    "bfd_cpu_affinity",
    "bfd_priority",
    "bfd_rlimit_rttime",
    "bfd_rt_priority",
    "checker_cpu_affinity",
    "checker_priority",
    "checker_rlimit_rttime",
    "checker_rt_priority",
    "debug",
    "delay",
    "down_timer_adverts",
    "fall",
    "fork_delay",
    "garp_extra_if",
    "garp_interval",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_delay",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_master_repeat",
    "gna_interval",
    "interval",
    "max_auto_priority",
    "min_auto_priority_delay",
    "preempt_delay",
    "quorum",
    "quorum_max",
    "rise",
    "shutdown_script_timeout",
    "smtp_connect_timeout",
    "smtp_server",
    "startup_script_timeout",
    "terminate_delay",
    "timeout",
    "version",
    "vrrp_cpu_affinity",
    "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if",
    "vrrp_garp_interval",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_master_repeat",
    "vrrp_gna_interval",
    "vrrp_priority",
    "vrrp_rlimit_rtime",
    "vrrp_rlimit_rttime",
    "vrrp_rt_priority",
    "vrrp_startup_delay",
    "vrrp_version",
    "weight",
];

/// Lenient keywords read by 2.2.7's signed reader, whose `outside range` line has no
/// `WARNING - ` even when running (ranges starting below zero are a signed reader's too).
const SIGNED: &[&str] = &[
    "bfd_cpu_affinity",
    "bfd_priority",
    "checker_cpu_affinity",
    "checker_priority",
    "max_auto_priority",
    "min_auto_priority_delay",
    "version",
    "vrrp_cpu_affinity",
    "vrrp_priority",
    "vrrp_version",
    "weight",
];

/// Lenient keywords whose value, taken as read, makes `-t`'s next line unsaid.
const TAKEN_SILENTLY: &[&str] = &[
    "debug",
    "max_auto_priority",
    "bfd_cpu_affinity",
    "bfd_priority",
    "checker_cpu_affinity",
    "checker_priority",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_delay",
    "garp_master_refresh",
    "preempt_delay",
    "vrrp_cpu_affinity",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_refresh",
    "vrrp_priority",
    "weight",
];

/// Lenient repeat counts: a value read as 0 is logged `KEYWORD must be greater than 0,
/// setting to 1`.
const REPEATS: &[&str] = &[
    "garp_master_refresh_repeat",
    "garp_master_repeat",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_master_repeat",
];

/// Words after which a value is read leniently whatever the line's keyword (`eth1 weight x`
/// in `track_interface`, `192.0.2.1/24 preferred_lft x` in `virtual_ipaddress`).
const LENIENT_AFTER: &[&str] = &["weight", "preferred_lft"];

/// Whether the values in the top-level block `keyword` are read as [`apply`] says: those of
/// the parent's and the VRRP process's blocks, and the track files (which the VRRP process
/// logs). The checker's and BFD's own blocks were not observed, and are left as `-t` words
/// them.
pub fn read_leniently(keyword: &str) -> bool {
    !matches!(
        keyword,
        "virtual_server" | "virtual_server_group" | "real_server_group" | "SSL" | "bfd_instance"
    )
}

/// The checker's check blocks (and SMTP_CHECK's `host`), whose number readers a running
/// 2.2.7 reads leniently for the keywords of [`CHECK_LENIENT`].
const CHECKS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
    "host",
];

/// Keywords of a check read leniently by a running 2.2.7's checker (observed, s29).
const CHECK_LENIENT: &[&str] = &[
    "bind_port",
    "connect_port",
    "connect_timeout",
    "delay_before_retry",
    "delay_loop",
    "fwmark",
    "misc_timeout",
    "retry",
    "warmup",
    "weight",
];

/// Keywords of a real server read leniently by a running 2.2.7's checker (its `retry` is
/// read strictly).
const REAL_SERVER_LENIENT: &[&str] = &[
    "connect_timeout",
    "delay_before_retry",
    "delay_loop",
    "lthreshold",
    "uthreshold",
    "warmup",
    "weight",
];

/// Keywords of a virtual server read leniently by a running 2.2.7's checker (its `retry`
/// and `persistence_timeout` are read strictly).
const VIRTUAL_SERVER_LENIENT: &[&str] = &[
    "connect_timeout",
    "delay_before_retry",
    "delay_loop",
    "hysteresis",
    "quorum",
    // A real server's port, on its `real_server ADDRESS PORT {` line.
    "real_server",
    "warmup",
];

/// Whether a running 2.2.7's checker reads `keyword` of the block `owner` leniently.
fn checker_lenient(owner: &str, keyword: &str) -> bool {
    let lenient: &[&str] = match owner {
        "real_server" => REAL_SERVER_LENIENT,
        "virtual_server" => VIRTUAL_SERVER_LENIENT,
        _ if CHECKS.contains(&owner) => CHECK_LENIENT,
        _ => &[],
    };
    lenient.contains(&keyword)
}

/// How a running 2.2.7's checker logs the line `-t` prints after `invalid number 'value'` for
/// `keyword`: an integer reader takes what it could read (`x` is 0, `1.5` is 1), and says
/// nothing more when that value is one the keyword accepts; the decimal readers
/// (`delay_loop`, `connect_timeout`, …) refuse as `-t` does.
fn checker_followup(keyword: &str, value: &str) -> RunTime {
    let read = value_read(value);
    let taken = match keyword {
        "bind_port" | "connect_port" => (1..=65535).contains(&read),
        "quorum" => read >= 1,
        "fwmark" | "retry" | "misc_timeout" | "weight" | "lthreshold" | "uthreshold"
        | "hysteresis" => true,
        _ => false,
    };
    if taken {
        RunTime::Unlogged
    } else {
        RunTime::AsChecked
    }
}

/// The block that holds the line read `order`-th within `statement` (named `owner`), and
/// that line's words.
fn owner_and_words<'s>(
    statement: &'s Statement,
    owner: &'s str,
    order: u32,
) -> Option<(&'s str, Vec<&'s str>)> {
    if statement.location.order == order {
        let words = std::iter::once(statement.keyword())
            .chain(statement.arg_texts())
            .collect();
        return Some((owner, words));
    }
    let block = statement.block.as_ref()?;
    let close = block.close.as_ref().map_or(u32::MAX, |l| l.order);
    if order < statement.location.order || order > close {
        return None;
    }
    block
        .items
        .iter()
        .find_map(|item| owner_and_words(item, statement.keyword(), order))
}

/// Gives the number readers' problems `diagnostics` found reading the `virtual_server` block
/// `statement` the wording a running 2.2.7's checker logs them with (observed on the corpus's
/// checker files, s29): `WARNING - ` before the reader's line for the keywords it reads
/// leniently, and the next line unsaid where the value it could read is taken.
pub(crate) fn apply_checker(diagnostics: &mut [Diagnostic], statement: &Statement) {
    for index in 0..diagnostics.len() {
        let Some(order) = diagnostics[index].location.as_ref().map(|l| l.order) else {
            continue;
        };
        let Some((owner, words)) = owner_and_words(statement, "", order) else {
            continue;
        };
        let Some(&keyword) = words.first() else {
            continue;
        };
        let message = diagnostics[index].message.clone();
        let Some(line) = reader_line(&message) else {
            continue;
        };
        if !checker_lenient(owner, keyword) {
            continue;
        }
        diagnostics[index].run_time = RunTime::Worded(format!("WARNING - {message}"));
        if !line.invalid {
            continue;
        }
        if let Some(next) = diagnostics
            .get_mut(index + 1)
            .filter(|d| d.location.as_ref().map(|l| l.order) == Some(order))
            .filter(|d| reader_line(&d.message).is_none())
        {
            next.run_time = checker_followup(keyword, line.value);
        }
    }
}

/// What a number reader said, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReaderLine<'m> {
    /// The value as written.
    value: &'m str,
    /// `invalid number`: the value is not a number at all.
    invalid: bool,
    /// The `[A, B]` of an `outside range` line.
    range: Option<&'m str>,
}

/// The value and kind of a number reader's line (`invalid number 'x'`, `negative number
/// '-1'`, `number 'N' outside … range …`), `None` for any other line.
fn reader_line(message: &str) -> Option<ReaderLine<'_>> {
    if let Some(rest) = message.strip_prefix("invalid number '") {
        return Some(ReaderLine {
            value: rest.strip_suffix('\'')?,
            invalid: true,
            range: None,
        });
    }
    if let Some(rest) = message.strip_prefix("negative number '") {
        return Some(ReaderLine {
            value: rest.strip_suffix('\'')?,
            invalid: false,
            range: None,
        });
    }
    let rest = message.strip_prefix("number '")?;
    let end = rest.rfind("' outside ")?;
    let tail = &rest[end + "' outside ".len()..];
    let range = match tail {
        "integer range" | "unsigned integer range" | "unsigned decimal range" => None,
        _ => Some(tail.strip_prefix("range ")?),
    };
    Some(ReaderLine {
        value: &rest[..end],
        invalid: false,
        range,
    })
}

/// Whether a running 2.2.7 reads `value` on the line `words` leniently: the line's keyword
/// is one it reads so, `value` follows `weight` (a tracked interface's or script's), or it is
/// an address's prefix length (`192.0.2.1/33`).
pub fn lenient(words: &[&str], value: &str) -> bool {
    let Some(keyword) = words.first() else {
        return false;
    };
    if LENIENT.contains(keyword) {
        return true;
    }
    let position = words.iter().position(|w| *w == value);
    if position.is_some_and(|i| i > 0 && LENIENT_AFTER.contains(&words[i - 1])) {
        return true;
    }
    position.is_none()
        && !value.is_empty()
        && words
            .iter()
            .any(|w| w.rsplit_once('/').is_some_and(|(_, len)| len == value))
}

/// The line a running 2.2.7 logs for a number reader's `message` about the line `words`,
/// when it differs from `-t`'s: `WARNING - ` before it where the value is read leniently.
pub fn running_reader_message(message: &str, words: &[&str]) -> Option<String> {
    let line = reader_line(message)?;
    if !lenient(words, line.value) {
        return None;
    }
    if let Some(range) = line.range {
        let keyword = words.first().copied().unwrap_or_default();
        let after_weight = words.contains(&"weight");
        if SIGNED.contains(&keyword) || after_weight || range.starts_with("[-") {
            return None;
        }
    }
    Some(format!("WARNING - {message}"))
}

/// The value `strtol` reads from the start of `text` (0 when no digit starts it): the readers
/// whose next line changes are integer readers, so `0.5` is 0.
fn value_read(text: &str) -> i64 {
    let text = text.trim_start();
    let sign_len = usize::from(text.starts_with(['+', '-']));
    let digits = text[sign_len..]
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_digit())
        .map_or(text.len(), |(i, _)| sign_len + i);
    text[..digits].parse().unwrap_or(0)
}

/// How a running 2.2.7 logs the line `followup` that `-t` prints after `invalid number
/// 'value'` on the line `words`, the lenient reader having taken what it could read.
pub fn running_followup(words: &[&str], value: &str, followup: &str) -> RunTime {
    let Some(&keyword) = words.first() else {
        return RunTime::AsChecked;
    };
    let zero = value_read(value) == 0;
    let before = words
        .iter()
        .position(|w| *w == value)
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| words.get(i).copied());
    let after_lenient = before.is_some_and(|w| LENIENT_AFTER.contains(&w));
    // `garp_extra_if all x`: the delay after `all` is taken as read.
    let extra_after_all = keyword == "garp_extra_if" && before == Some("all");
    if TAKEN_SILENTLY.contains(&keyword) || after_lenient || extra_after_all {
        return RunTime::Unlogged;
    }
    if REPEATS.contains(&keyword) {
        if !zero {
            return RunTime::Unlogged;
        }
        let owner = followup.find(keyword).map_or("", |at| &followup[..at]);
        return RunTime::Worded(format!(
            "{owner}{keyword} must be greater than 0, setting to 1"
        ));
    }
    if keyword == "smtp_connect_timeout" {
        // Read as 0, the value is raised to 1 (2.2.7 misspells the keyword there).
        return if zero {
            RunTime::Worded("smtp_conect_timeout must be greater than 0, setting to 1".into())
        } else {
            RunTime::Unlogged
        };
    }
    if keyword.ends_with("_rt_priority") {
        let bad = format!("'{value}' invalid");
        return match followup.strip_suffix(&bad) {
            Some(head) if zero => {
                RunTime::Worded(format!("{head}0 less than minimum 1 - setting to minimum"))
            }
            _ => RunTime::Unlogged,
        };
    }
    if matches!(keyword, "rise" | "fall") && followup.contains("vrrp script") {
        // Read as 0 it is refused as `-t` says; otherwise taken.
        return if zero {
            RunTime::AsChecked
        } else {
            RunTime::Unlogged
        };
    }
    if matches!(keyword, "interval" | "timeout") {
        let what = format!("vrrp script {keyword}");
        return match followup.find(&what) {
            Some(at) if zero => RunTime::Worded(format!(
                "{}{what} must be greater than 0, setting to 1",
                &followup[..at]
            )),
            Some(_) => RunTime::Unlogged,
            None => RunTime::AsChecked,
        };
    }
    RunTime::AsChecked
}

/// The words of the line read `order`-th within `statement`, if it is one of its lines.
fn words_at(statement: &Statement, order: u32) -> Option<Vec<&str>> {
    if statement.location.order == order {
        return Some(
            std::iter::once(statement.keyword())
                .chain(statement.arg_texts())
                .collect(),
        );
    }
    let block = statement.block.as_ref()?;
    let close = block.close.as_ref().map_or(u32::MAX, |l| l.order);
    if order < statement.location.order || order > close {
        return None;
    }
    block.items.iter().find_map(|item| words_at(item, order))
}

/// Gives the problems `diagnostics` found reading `statement` (a top-level block of the
/// parent's or the VRRP process's) the wording a running 2.2.7 logs them with.
pub(crate) fn apply(diagnostics: &mut [Diagnostic], statement: &Statement) {
    let mut index = 0;
    while index < diagnostics.len() {
        let Some(order) = diagnostics[index].location.as_ref().map(|l| l.order) else {
            index += 1;
            continue;
        };
        let Some(words) = words_at(statement, order) else {
            index += 1;
            continue;
        };
        let message = diagnostics[index].message.clone();
        let Some(running) = running_reader_message(&message, &words) else {
            index += 1;
            continue;
        };
        diagnostics[index].run_time = RunTime::Worded(running);
        let invalid = reader_line(&message).filter(|l| l.invalid);
        let next_on_line = diagnostics
            .get_mut(index + 1)
            .filter(|d| d.location.as_ref().map(|l| l.order) == Some(order))
            .filter(|d| reader_line(&d.message).is_none());
        if let (Some(line), Some(next)) = (invalid, next_on_line) {
            next.run_time = running_followup(&words, line.value, &next.message);
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    #[test]
    fn lenient_readers_warn_when_running() {
        let cases = [
            ("vrrp_garp_master_delay abc", "invalid number 'abc'"),
            (
                "advert_int 256",
                "number '256' outside range [0.010000, 255.000000]",
            ),
            ("vrrp_garp_master_repeat -1", "negative number '-1'"),
            ("fall 0", "number '0' outside range [1, 2147483647]"),
            (
                "weight 2147483648",
                "number '2147483648' outside integer range",
            ),
            ("192.0.2.1/33", "number '33' outside range [0, 32]"),
            ("from 192.0.2.1/abc table 1", "invalid number 'abc'"),
            ("eth3 weight abc", "invalid number 'abc'"),
            (
                "smtp_server 192.0.2.25 0",
                "number '0' outside range [1, 65535]",
            ),
            ("vrrp_version x", "invalid number 'x'"),
        ];
        for (line, message) in cases {
            assert_eq!(
                running_reader_message(message, &words(line)),
                Some(format!("WARNING - {message}")),
                "{line}"
            );
        }
    }

    #[test]
    fn strict_readers_and_signed_ranges_keep_their_words() {
        let cases = [
            ("priority abc", "invalid number 'abc'"),
            (
                "virtual_router_id 300",
                "number '300' outside range [1, 255]",
            ),
            ("vrrp_version 4", "number '4' outside range [2, 3]"),
            ("weight 300", "number '300' outside range [-253, 253]"),
            ("eth1 weight 300", "number '300' outside range [-254, 254]"),
            ("vrrp_priority 20", "number '20' outside range [-20, 19]"),
            (
                "min_auto_priority_delay 0",
                "number '0' outside range [1, 10000000]",
            ),
            ("from all table 100 priority x", "invalid number 'x'"),
            ("vrrp_rx_bufs_multiplier x", "invalid number 'x'"),
            ("198.51.100.0/24 dev eth0 metric x", "invalid number 'x'"),
            ("unicast_ttl 256", "number '256' outside range [0, 255]"),
            (
                "vrrp_garp_master_delay abc",
                "vrrp_garp_master_delay 'abc' invalid - ignoring",
            ),
        ];
        for (line, message) in cases {
            assert_eq!(
                running_reader_message(message, &words(line)),
                None,
                "{line}"
            );
        }
    }

    #[test]
    fn the_line_after_a_value_taken_as_read() {
        let w = words("vrrp_garp_master_delay abc");
        assert_eq!(
            running_followup(&w, "abc", "vrrp_garp_master_delay 'abc' invalid - ignoring"),
            RunTime::Unlogged
        );
        let w = words("garp_master_repeat abc");
        assert_eq!(
            running_followup(
                &w,
                "abc",
                "(VI_1): garp_master_repeat 'abc' invalid - ignoring"
            ),
            RunTime::Worded(
                "(VI_1): garp_master_repeat must be greater than 0, setting to 1".into()
            )
        );
        let w = words("vrrp_garp_master_refresh_repeat 2x");
        assert_eq!(
            running_followup(
                &w,
                "2x",
                "vrrp_garp_master_refresh_repeat '2x' invalid - ignoring"
            ),
            RunTime::Unlogged
        );
        let w = words("vrrp_rt_priority x");
        assert_eq!(
            running_followup(&w, "x", "vrrp process real-time priority 'x' invalid"),
            RunTime::Worded(
                "vrrp process real-time priority 0 less than minimum 1 - setting to minimum".into()
            )
        );
        let w = words("timeout x");
        assert_eq!(
            running_followup(&w, "x", "(chk): vrrp script timeout 'x' invalid - ignoring"),
            RunTime::Worded(
                "(chk): vrrp script timeout must be greater than 0, setting to 1".into()
            )
        );
        let w = words("192.0.2.20/24 preferred_lft x");
        assert_eq!(
            running_followup(&w, "x", "preferred_lft x is invalid"),
            RunTime::Unlogged
        );
        let w = words("garp_extra_if all x");
        assert_eq!(
            running_followup(&w, "x", "(VI_1): garp_extra_if 'x' invalid - ignoring"),
            RunTime::Unlogged
        );
        let w = words("vrrp_garp_extra_if sync");
        assert_eq!(
            running_followup(&w, "sync", "vrrp_garp_extra_if 'sync' invalid - ignoring"),
            RunTime::AsChecked
        );
        let w = words("smtp_connect_timeout abc");
        assert_eq!(
            running_followup(
                &w,
                "abc",
                "smtp_connect_timeout 'abc' must be in [0, 4294] - ignoring"
            ),
            RunTime::Worded("smtp_conect_timeout must be greater than 0, setting to 1".into())
        );
        let w = words("timeout 0.5");
        assert_eq!(
            running_followup(
                &w,
                "0.5",
                "(chk_a): vrrp script timeout '0.5' invalid - ignoring"
            ),
            RunTime::Worded(
                "(chk_a): vrrp script timeout must be greater than 0, setting to 1".into()
            )
        );
        let w = words("fall 3.5");
        assert_eq!(
            running_followup(
                &w,
                "3.5",
                "(chk_a): vrrp script fall value '3.5' invalid, defaulting to 1"
            ),
            RunTime::Unlogged
        );
        let w = words("rise x");
        assert_eq!(
            running_followup(
                &w,
                "x",
                "(chk): vrrp script rise value 'x' invalid, defaulting to 1"
            ),
            RunTime::AsChecked
        );
    }

    #[test]
    fn values_read_as_strtol_reads_them() {
        assert_eq!(value_read("abc"), 0);
        assert_eq!(value_read("1x"), 1);
        assert_eq!(value_read("0.5"), 0);
        assert_eq!(value_read("-2.5s"), -2);
        assert_eq!(value_read(""), 0);
    }

    /// The checker's blocks, as a running 2.2.7's checker words them (gen-checker corpus
    /// files, s29): lenient keywords get `WARNING - `, by the block they are in; an integer
    /// reader's taken value leaves its next line unsaid.
    #[test]
    fn the_checker_words_its_lenient_readers_when_running() {
        let text = "virtual_server 192.0.2.10 80 {\n\
            protocol TCP\n\
            quorum 1.5\n\
            retry x\n\
            real_server 192.0.2.11 80 {\n\
            weight x\n\
            retry x\n\
            TCP_CHECK {\n\
            retry x\n\
            connect_port x\n\
            bind_port 1.5\n\
            delay_loop x\n\
            }\n\
            }\n\
            }\n";
        let host = crate::host::FakeHost::lab();
        let loaded = crate::load_str(
            text,
            std::path::Path::new("/k.conf"),
            &crate::LoadOptions::for_host(&host),
        );
        let running: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter_map(|d| {
                let line = d.location.as_ref()?.line;
                Some(format!("{line}: {}", d.running_text()?.split(") ").nth(1)?))
            })
            .collect();
        assert_eq!(
            running,
            [
                "3: WARNING - invalid number '1.5'",
                // The virtual server's and real server's retry: strict readers.
                "4: invalid number 'x'",
                "4: retry value invalid - x",
                "6: WARNING - invalid number 'x'",
                "7: invalid number 'x'",
                "7: retry value invalid - x",
                "9: WARNING - invalid number 'x'",
                "10: WARNING - invalid number 'x'",
                // Read as 0: no port, refused as -t does.
                "10: Invalid checker connect_port 'x'",
                "11: WARNING - invalid number '1.5'",
                "12: WARNING - invalid number 'x'",
                "12: delay_loop 'x' is invalid - ignoring",
            ]
        );
    }
}
