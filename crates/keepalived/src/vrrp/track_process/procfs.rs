//! Reading processes from /proc: each one's name (`/proc/PID/stat`, the kernel's `comm`)
//! and, when some tracked process needs it, its command line (`/proc/PID/cmdline`). Zombies
//! are left out: they no longer run (keepalived 2.2.7 leaves them out too).

use std::fs;

/// What matching needs to know of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// The kernel's name for it (at most 15 bytes).
    pub comm: Vec<u8>,
    /// Its command line, each word followed by a NUL (empty when not read).
    pub cmdline: Vec<u8>,
}

/// The name and state letter in the text of `/proc/PID/stat`: `PID (NAME) S …`, where the
/// name may itself hold spaces and parentheses (the last `)` ends it).
pub fn parse_stat(stat: &[u8]) -> Option<(&[u8], u8)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let state = *stat.get(close + 2)?;
    Some((&stat[open + 1..close], state))
}

/// Process `pid` as it is now; None when it is gone or a zombie.
pub fn read(pid: u32, cmdline: bool) -> Option<ProcInfo> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let (comm, state) = parse_stat(&stat)?;
    if state == b'Z' {
        return None;
    }
    let cmdline = if cmdline {
        fs::read(format!("/proc/{pid}/cmdline")).ok()?
    } else {
        Vec::new()
    };
    Some(ProcInfo {
        comm: comm.to_vec(),
        cmdline,
    })
}

/// Every process running now (threads are not processes: only /proc's top level is read).
pub fn scan(cmdline: bool) -> Vec<(u32, ProcInfo)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read(pid, cmdline)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_names_may_hold_parentheses() {
        assert_eq!(parse_stat(b"42 (a) b)) S 1 2"), Some((&b"a) b)"[..], b'S')));
        assert_eq!(parse_stat(b"42 (x) Z 1"), Some((&b"x"[..], b'Z')));
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (x)"), None);
    }

    #[test]
    fn this_process_is_found() {
        let me = std::process::id();
        let found = scan(true);
        let own = found.iter().find(|(pid, _)| *pid == me).expect("self");
        assert!(!own.1.comm.is_empty());
        assert!(own.1.cmdline.ends_with(&[0]));
    }
}
