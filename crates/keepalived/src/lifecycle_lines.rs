//! The lines keepalived 2.2.7 logs around a process's life, worded as it words them (observed
//! with `keepalived -n -l -D` and through syslog): the parent's `Running on …` and
//! `Command line: …` at start, `CPU usage (self/children) …` (`-D`) before its last line; a
//! child's `Stopped` (`-D`: `Stopped - used … user time, … system time`) as it exits; the
//! parent's `NOTICE` about `max_auto_priority` at start.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use nix::sys::resource::{Usage, UsageWho, getrusage};
use nix::sys::time::TimeVal;

/// How many characters of the command line 2.2.7 puts on one log line after the
/// `Command line: ` prefix (or the same width of blanks on the lines after the first); a
/// word longer than that is cut into pieces of this width (observed with long arguments).
const COMMAND_LINE_WIDTH: usize = 88;

/// The prefix of the first command-line line; the lines after it are indented as far.
const COMMAND_LINE_PREFIX: &str = "Command line: ";

/// `Running on Linux RELEASE VERSION`: the running kernel, as `uname` gives it. 2.2.7 adds
/// `(built for Linux X.Y.Z)`, the kernel headers it was compiled against; a Rust build has
/// no such version, so the part is left out.
pub fn running_on() -> Option<String> {
    let uts = nix::sys::utsname::uname().ok()?;
    Some(format!(
        "Running on {} {} {}",
        uts.sysname().to_string_lossy(),
        uts.release().to_string_lossy(),
        uts.version().to_string_lossy()
    ))
}

/// The command line, each argument in single quotes, wrapped as 2.2.7 wraps it: a word that
/// does not fit on the current line starts the next one; a word wider than a whole line is
/// cut into pieces of the line's width.
pub fn command_line(args: impl IntoIterator<Item = OsString>) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for arg in args {
        let word = format!("'{}'", String::from_utf8_lossy(arg.as_bytes()));
        let width = word.chars().count();
        if !current.is_empty() && current.chars().count() + 1 + width > COMMAND_LINE_WIDTH {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        let mut rest: Vec<char> = word.chars().collect();
        while current.is_empty() && rest.len() > COMMAND_LINE_WIDTH {
            let tail = rest.split_off(COMMAND_LINE_WIDTH);
            lines.push(rest.into_iter().collect());
            rest = tail;
        }
        current.extend(rest);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    let indent = " ".repeat(COMMAND_LINE_PREFIX.len());
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let lead = if i == 0 { COMMAND_LINE_PREFIX } else { &indent };
            format!("{lead}{line}")
        })
        .collect()
}

/// Seconds with microseconds, as 2.2.7 prints CPU times (`0.003998`).
fn seconds(time: TimeVal) -> String {
    format!("{}.{:06}", time.tv_sec(), time.tv_usec())
}

/// What this process (`RUSAGE_SELF`) or its reaped children used; zero if the kernel refuses.
fn usage(who: UsageWho) -> (TimeVal, TimeVal) {
    getrusage(who).map_or((TimeVal::new(0, 0), TimeVal::new(0, 0)), |u: Usage| {
        (u.user_time(), u.system_time())
    })
}

/// keepalived 2.2.7's advice, which its parent logs at start (not at a reload) after the
/// problems its reading found and before it starts a child, unless `max_auto_priority` is set
/// to something other than 0 (observed: written alone, with a priority, or -1, it is not
/// logged; with 0, or with only `vrrp_rt_priority` / `vrrp_priority` / `checker_rt_priority`
/// set, it is). `setting` is the value read (`None`: not written, or refused).
pub fn max_auto_priority_notice(setting: Option<i32>) -> Option<&'static str> {
    match setting {
        Some(priority) if priority != 0 => None,
        _ => Some(
            "NOTICE: setting config option max_auto_priority should result in better \
             keepalived performance",
        ),
    }
}

/// A child's last line: `Stopped`, or with `detail` (`-D`) `Stopped - used 0.003998 user
/// time, 0.000000 system time`; a child that reaped processes of its own (scripts, modprobe)
/// gives both figures, as 2.2.7's does: `Stopped - used (self/children) 0.000000/0.001404 user
/// time, 0.008148/0.001956 system time`.
pub fn child_stopped(detail: bool) -> String {
    if !detail {
        return "Stopped".to_string();
    }
    stopped_line(
        usage(UsageWho::RUSAGE_SELF),
        usage(UsageWho::RUSAGE_CHILDREN),
    )
}

/// [`child_stopped`]'s `-D` wording for the process's own and its reaped children's
/// `(user, system)` times.
fn stopped_line(own: (TimeVal, TimeVal), children: (TimeVal, TimeVal)) -> String {
    let zero = |t: TimeVal| t.tv_sec() == 0 && t.tv_usec() == 0;
    if zero(children.0) && zero(children.1) {
        return format!(
            "Stopped - used {} user time, {} system time",
            seconds(own.0),
            seconds(own.1)
        );
    }
    format!(
        "Stopped - used (self/children) {}/{} user time, {}/{} system time",
        seconds(own.0),
        seconds(children.0),
        seconds(own.1),
        seconds(children.1)
    )
}

/// The parent's line before its last: `CPU usage (self/children) user: A/B system: C/D`,
/// its own times and those of the children it reaped.
pub fn cpu_usage() -> String {
    let (user, system) = usage(UsageWho::RUSAGE_SELF);
    let (child_user, child_system) = usage(UsageWho::RUSAGE_CHILDREN);
    format!(
        "CPU usage (self/children) user: {}/{} system: {}/{}",
        seconds(user),
        seconds(child_user),
        seconds(system),
        seconds(child_system)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// Seen with 2.2.7: 88 characters after the prefix fit, the word that would pass them
    /// starts the next line.
    #[test]
    fn command_line_wraps_at_2_2_7s_width() {
        let mut words = vec![
            "/usr/sbin/keepalived",
            "-n",
            "-l",
            "-f",
            "/nonexist/cc",
            "-p",
            "/tmp/s24/c1",
            "-r",
            "/tmp/s24/c2",
            "-c",
            "/tmp/s24/c3",
        ];
        let xs: Vec<String> = (1..=15).map(|i| format!("x{i}")).collect();
        for x in &xs {
            words.push("-i");
            words.push(x);
        }
        let lines = command_line(args(&words));
        assert_eq!(
            lines,
            [
                "Command line: '/usr/sbin/keepalived' '-n' '-l' '-f' '/nonexist/cc' '-p' '/tmp/s24/c1' '-r'",
                "              '/tmp/s24/c2' '-c' '/tmp/s24/c3' '-i' 'x1' '-i' 'x2' '-i' 'x3' '-i' 'x4' '-i' 'x5' '-i'",
                "              'x6' '-i' 'x7' '-i' 'x8' '-i' 'x9' '-i' 'x10' '-i' 'x11' '-i' 'x12' '-i' 'x13' '-i'",
                "              'x14' '-i' 'x15'",
            ]
        );
    }

    /// A word wider than a line is cut into pieces of the width; what follows it carries on
    /// after its last piece (2.2.7 with a 121-character path).
    #[test]
    fn a_word_wider_than_a_line_is_cut() {
        let path = format!("/nonexist/{}", "b".repeat(111));
        let lines = command_line(args(&[
            "/usr/sbin/keepalived",
            "-n",
            "-l",
            "-f",
            &path,
            "-p",
            "/tmp/s24/c1",
        ]));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(
            lines[0],
            "Command line: '/usr/sbin/keepalived' '-n' '-l' '-f'"
        );
        assert_eq!(lines[1].len(), 14 + 88);
        assert!(lines[1].starts_with("              '/nonexist/bbb"));
        assert_eq!(
            lines[2],
            format!("              {}' '-p' '/tmp/s24/c1'", "b".repeat(34))
        );
    }

    #[test]
    fn times_have_six_decimals() {
        assert_eq!(seconds(TimeVal::new(0, 3998)), "0.003998");
        assert_eq!(seconds(TimeVal::new(12, 0)), "12.000000");
        assert!(child_stopped(true).starts_with("Stopped - used "));
        assert_eq!(child_stopped(false), "Stopped");
    }

    #[test]
    fn a_child_that_reaped_processes_gives_both_times() {
        let t = TimeVal::new;
        let none = (t(0, 0), t(0, 0));
        assert_eq!(
            stopped_line((t(0, 50_000), t(0, 10_000)), none),
            "Stopped - used 0.050000 user time, 0.010000 system time"
        );
        assert_eq!(
            stopped_line((t(0, 0), t(0, 8148)), (t(0, 1404), t(0, 1956))),
            "Stopped - used (self/children) 0.000000/0.001404 user time, \
             0.008148/0.001956 system time"
        );
        assert!(cpu_usage().starts_with("CPU usage (self/children) user: "));
    }

    #[test]
    fn the_max_auto_priority_notice_is_given_unless_it_is_set() {
        let notice = "NOTICE: setting config option max_auto_priority should result in better \
                      keepalived performance";
        assert_eq!(max_auto_priority_notice(None), Some(notice));
        assert_eq!(max_auto_priority_notice(Some(0)), Some(notice));
        for set in [-1, 1, 99] {
            assert_eq!(max_auto_priority_notice(Some(set)), None, "{set}");
        }
    }

    #[test]
    fn running_on_names_the_kernel() {
        let line = running_on().expect("uname");
        assert!(line.starts_with("Running on Linux "), "{line}");
    }
}
