//! Giving back the memory that starting (or reloading) needed and steady running does not.
//!
//! Reading the configuration, planning and the first transitions run code that a daemon in its
//! steady state never runs again: the parser, clap, the start-up of every subsystem. Their
//! pages of the binary and its libraries stay mapped into the process, and count in its
//! resident set, although only a small part of the code runs once the daemon is settled.
//! After a quiet moment each process therefore:
//!
//! - unmaps its read-only file pages (code and read-only data of the binary and the shared
//!   libraries) with `madvise(MADV_DONTNEED)`: the pages stay in the page cache, and whatever
//!   the process still runs is mapped back at its next use (a minor fault, no disk read);
//!   mappings that hold private copies of pages (relocated data, a debugger's breakpoints) are
//!   left alone, since dropping them would lose their contents;
//! - returns the free pages of the heap to the kernel (glibc's `malloc_trim`).
//!
//! docs/performance.md shows what this saves per process and what it costs.

use std::fs;
use std::ptr::NonNull;
use std::time::Duration;

use nix::sys::mman::{MmapAdvise, madvise};

/// How long after its start or a reload a process waits before it gives memory back: the
/// second gratuitous-ARP burst (garp_master_delay, 5 s by default) is over by then.
pub const SETTLE_AFTER: Duration = Duration::from_secs(10);

/// What [`release_startup_memory`] gave back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Mappings whose pages were unmapped.
    pub mappings: usize,
    /// Their resident size before, in KiB.
    pub kib: u64,
}

/// One mapping of `/proc/self/smaps` that may be unmapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Droppable {
    start: usize,
    end: usize,
    rss_kib: u64,
}

/// The read-only, file-backed, private mappings of an smaps text with resident pages and no
/// private (anonymous) copies: the ones whose pages can be dropped and read back unchanged.
fn droppable(smaps: &str) -> Vec<Droppable> {
    let mut found = Vec::new();
    // The mapping being read: its range, whether its header qualifies, its Rss.
    let mut current: Option<(usize, usize, bool, u64)> = None;
    let mut finish = |current: &mut Option<(usize, usize, bool, u64)>, anonymous: u64| {
        if let Some((start, end, true, rss)) = current.take()
            && rss > 0
            && anonymous == 0
        {
            found.push(Droppable {
                start,
                end,
                rss_kib: rss,
            });
        }
    };
    for line in smaps.lines() {
        if let Some((range, rest)) = line.split_once(' ')
            && let Some((start, end)) = range.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            // A new mapping: "start-end perms offset dev inode path".
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let perms = fields.first().copied().unwrap_or("");
            let path = fields.get(4).copied().unwrap_or("");
            let read_only = perms == "r-xp" || perms == "r--p";
            current = Some((start, end, read_only && path.starts_with('/'), 0));
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(kib) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "Rss:" => {
                if let Some(mapping) = current.as_mut() {
                    mapping.3 = kib;
                }
            }
            // "Anonymous:" follows "Rss:" in every mapping's block.
            "Anonymous:" => finish(&mut current, kib),
            _ => {}
        }
    }
    found
}

/// Unmaps the resident read-only file pages of this process and trims the heap; see the
/// module's documentation. Errors (no /proc) leave everything as it was.
pub fn release_startup_memory() -> Released {
    let mut released = Released::default();
    if let Ok(smaps) = fs::read_to_string("/proc/self/smaps") {
        for mapping in droppable(&smaps) {
            let Some(start) = NonNull::new(mapping.start as *mut std::ffi::c_void) else {
                continue;
            };
            // SAFETY: the range is a whole private mapping of a file, read-only, none of whose
            // pages is a private copy; MADV_DONTNEED only removes its page-table entries, and
            // the next access reads the same bytes from the page cache.
            #[allow(unsafe_code)]
            let result = unsafe {
                madvise(
                    start,
                    mapping.end - mapping.start,
                    MmapAdvise::MADV_DONTNEED,
                )
            };
            if result.is_ok() {
                released.mappings += 1;
                released.kib += mapping.rss_kib;
            }
        }
    }
    trim_heap();
    released
}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: malloc_trim only hands free heap pages back to the kernel.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5600aa000000-5600aa100000 r--p 00000000 fe:01 1234                       /usr/sbin/keepalived
Size:               1024 kB
Rss:                 464 kB
Anonymous:             0 kB
5600aa100000-5600aa300000 r-xp 00100000 fe:01 1234                       /usr/sbin/keepalived
Size:               2048 kB
Rss:                1896 kB
Anonymous:             0 kB
5600aa300000-5600aa310000 r--p 00300000 fe:01 1234                       /usr/sbin/keepalived
Size:                 64 kB
Rss:                  64 kB
Anonymous:            60 kB
5600aa310000-5600aa312000 rw-p 00310000 fe:01 1234                       /usr/sbin/keepalived
Size:                  8 kB
Rss:                   8 kB
Anonymous:             8 kB
5600ab000000-5600ab100000 rw-p 00000000 00:00 0                          [heap]
Size:               1024 kB
Rss:                  76 kB
Anonymous:            76 kB
7f0000000000-7f0000010000 r-xp 00000000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
Size:                 64 kB
Rss:                   0 kB
Anonymous:             0 kB
7fff00000000-7fff00001000 r-xp 00000000 00:00 0                          [vdso]
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
";

    #[test]
    fn only_clean_resident_read_only_file_mappings_are_dropped() {
        let found = droppable(SMAPS);
        assert_eq!(
            found,
            vec![
                Droppable {
                    start: 0x5600aa000000,
                    end: 0x5600aa100000,
                    rss_kib: 464
                },
                Droppable {
                    start: 0x5600aa100000,
                    end: 0x5600aa300000,
                    rss_kib: 1896
                },
            ],
            "the relocated read-only data (private copies), the writable data, the heap, a \
             mapping with nothing resident and the vdso are kept"
        );
    }

    #[test]
    fn a_truncated_block_is_not_dropped() {
        // A mapping whose Anonymous line is missing is not known to be clean.
        let text = "5600aa000000-5600aa100000 r-xp 00000000 fe:01 1234 /bin/x\nRss: 8 kB\n";
        assert!(droppable(text).is_empty());
    }

    #[test]
    fn releasing_keeps_the_process_running() {
        // This test's own code is among the pages dropped: it runs on after the call.
        let released = release_startup_memory();
        assert!(released.mappings > 0, "{released:?}");
        let sum: u64 = (1..=1000u64).sum();
        assert_eq!(sum, 500_500);
    }
}
