//! Track files (`track_file` / `vrrp_track_file`): a file holding a number that moves an
//! instance's priority, as keepalived 2.2.7 does it.
//!
//! Behaviour found by running keepalived 2.2.7 (and its `keepalived.conf(5)` man page):
//! - The file is read (at most 127 bytes, one read) whenever it changes. The number is parsed
//!   like C `strtol(…, 0)`: leading white space, an optional sign, `0x` for hex, a leading `0`
//!   for octal, anything after the digits ignored (`12abc` is 12). A missing or unreadable file,
//!   an empty file and text without digits all count as 0. A number outside the 32-bit range is
//!   logged (`Invalid number N read from PATH - ignoring`) and the previous value is kept.
//! - Weight 0: a non-zero value is a failure (FAULT), 0 is OK; `reverse` swaps the two, so a
//!   missing file is a failure.
//! - Otherwise the value is multiplied by the weight (negated with `reverse`). A result of -254
//!   or less puts the instance in FAULT; a result above 253 counts as 253; anything else is
//!   added to the priority, and the total is clamped to 1..254 as for scripts.
//! - `init_file [VALUE] [overwrite]` writes `VALUE\n` (default 0) at start-up when the file does
//!   not exist, or always with `overwrite` (replacing the file, a symlink included). The new
//!   file's mode comes from the umask (keepalived's default umask makes it 0600).
//! - The containing directory is watched with inotify for close-after-write, rename into place,
//!   rename away and delete; a change made through a still-open descriptor is only seen when it
//!   is closed.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::priority::{Tracked, effective_priority};

/// How many bytes keepalived reads from a track file.
const READ_LIMIT: usize = 127;

/// The most a single track file adds to the priority.
pub const MAX_FILE_DELTA: i32 = 253;

/// A weighted result at or below this puts the instance in FAULT.
pub const FAULT_AT: i64 = -254;

/// What reading a track file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileValue {
    /// The file holds this number (within the 32-bit range).
    Number(i64),
    /// The file (or its directory) does not exist: counts as 0.
    Missing,
    /// The file exists but cannot be read (the reason, e.g. `Is a directory`): counts as 0.
    Unreadable(String),
    /// The file is empty or does not start with a number: counts as 0.
    NotANumber,
    /// The number is outside the 32-bit range (the value as `strtol` saturates it): keepalived
    /// logs it and keeps the previous value.
    OutOfRange(i64),
}

impl FileValue {
    /// The value keepalived uses, or `None` when the reading is ignored and the previous value
    /// stays in force.
    pub fn status(&self) -> Option<i64> {
        match self {
            FileValue::Number(n) => Some(*n),
            FileValue::Missing | FileValue::Unreadable(_) | FileValue::NotANumber => Some(0),
            FileValue::OutOfRange(_) => None,
        }
    }

    /// The value to use given the one in force before this reading.
    pub fn status_or(&self, previous: i64) -> i64 {
        self.status().unwrap_or(previous)
    }

    /// The line keepalived logs for this reading of `path`, if any.
    pub fn log_line(&self, path: &Path) -> Option<String> {
        match self {
            FileValue::OutOfRange(n) => Some(format!(
                "Invalid number {n} read from {} - ignoring",
                path.display()
            )),
            _ => None,
        }
    }
}

/// Reads the number in the track file at `path` the way keepalived does.
pub fn read_value(path: &Path) -> FileValue {
    // Non-blocking, so a FIFO without a writer cannot hang us.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(err) => return open_error(&err),
    };
    let mut buf = [0u8; READ_LIMIT];
    let len = loop {
        match file.read(&mut buf) {
            Ok(len) => break len,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return FileValue::Unreadable(describe(&err)),
        }
    };
    parse_value(&buf[..len])
}

fn open_error(err: &io::Error) -> FileValue {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => FileValue::Missing,
        _ => FileValue::Unreadable(describe(err)),
    }
}

/// The OS's text for an error, without Rust's "(os error N)" suffix.
fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(raw) => nix::errno::Errno::from_raw(raw).desc().to_string(),
        None => err.to_string(),
    }
}

/// Parses track-file contents like C `strtol(text, NULL, 0)` and applies keepalived's 32-bit
/// range check.
pub fn parse_value(bytes: &[u8]) -> FileValue {
    match strtol(bytes) {
        None => FileValue::NotANumber,
        Some(Ok(n)) if i32::try_from(n).is_ok() => FileValue::Number(n),
        Some(Ok(n)) | Some(Err(n)) => FileValue::OutOfRange(n),
    }
}

/// `strtol` with base 0: `None` when no digits were converted, `Err(saturated)` on overflow.
fn strtol(bytes: &[u8]) -> Option<Result<i64, i64>> {
    let mut i = 0;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = bytes.get(i) {
        negative = sign == b'-';
        i += 1;
    }
    let rest = &bytes[i..];
    let (radix, digits) = match rest {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, &rest[2..]),
        [b'0', ..] => (8, rest),
        _ => (10, rest),
    };
    let mut value: i64 = 0;
    let mut overflow = false;
    let mut any = false;
    for &b in digits {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        any = true;
        let d = i64::from(d);
        // Accumulate toward the sign so i64::MIN is reachable.
        let next = value.checked_mul(i64::from(radix)).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
        match next {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if !any {
        return None;
    }
    if overflow {
        return Some(Err(if negative { i64::MIN } else { i64::MAX }));
    }
    Some(Ok(value))
}

/// Implements `init_file [VALUE] [overwrite]`: writes `VALUE` and a newline to `path` if it
/// does not exist, or in any case with `overwrite` (replacing whatever is there, a symlink
/// included, by renaming a new file into place). An existing file is otherwise left alone.
/// The file is created with mode 0666 less the process umask. A missing directory is an error.
pub fn init_file(path: &Path, value: i64, overwrite: bool) -> io::Result<()> {
    let contents = format!("{value}\n");
    if !overwrite {
        let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(err) => return Err(err),
        };
        return file.write_all(contents.as_bytes());
    }
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' does not name a file", path.display()),
        ));
    };
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".init-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// One tracked file's effect on an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEffect {
    /// Add this to the priority (between -253 and 253).
    Delta(i32),
    /// The instance must be in FAULT.
    Fault,
}

/// The effect of value `value` in a file tracked with `weight` (and `reverse`), per keepalived:
/// weight 0 makes a non-zero value (a zero value with `reverse`) a FAULT; otherwise
/// `value × weight` (negated with `reverse`) is added, FAULT at -254 or below, at most 253.
pub fn file_effect(value: i64, weight: i32, reverse: bool) -> FileEffect {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileEffect::Fault
        } else {
            FileEffect::Delta(0)
        };
    }
    let mut result = value.saturating_mul(i64::from(weight));
    if reverse {
        result = result.saturating_neg();
    }
    if result <= FAULT_AT {
        return FileEffect::Fault;
    }
    let capped = result.min(i64::from(MAX_FILE_DELTA));
    FileEffect::Delta(i32::try_from(capped).unwrap_or(MAX_FILE_DELTA))
}

impl FileEffect {
    /// The same contribution expressed as a [`Tracked`] object, or `None` when it adds nothing.
    fn as_tracked(self) -> Option<Tracked> {
        match self {
            FileEffect::Fault => Some(Tracked {
                weight: 0,
                reverse: false,
                up: false,
            }),
            FileEffect::Delta(0) => None,
            // A positive weight counts while up, a negative one while down.
            FileEffect::Delta(d) => Some(Tracked {
                weight: d,
                reverse: false,
                up: d > 0,
            }),
        }
    }
}

/// [`effective_priority`] with tracked files as well: the priority to advertise (255 never
/// changes, otherwise clamped to 1..254) and whether the instance must be in FAULT.
pub fn effective_priority_with_files(
    base: u8,
    tracked: &[Tracked],
    files: &[FileEffect],
) -> (u8, bool) {
    let mut all = tracked.to_vec();
    all.extend(files.iter().filter_map(|f| f.as_tracked()));
    effective_priority(base, &all)
}

/// The events that make a track file be read again.
fn file_events() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
}

/// One watched directory and the tracked files in it, by file name.
struct WatchedDir {
    dir: PathBuf,
    files: HashMap<OsString, Vec<usize>>,
}

/// Watches a set of track files and reports their values as they change.
///
/// Each file's parent directory is watched, so a file created later, an editor's
/// rename-into-place and a delete are all seen. First every file's current value is reported
/// once (in index order); after that a file is reported each time it is closed after writing,
/// renamed into place or away, deleted, or created as a link. A file whose directory does not
/// exist is reported once as [`FileValue::Missing`] and then never again (keepalived drops such
/// a track file; see [`FileWatcher::unwatched`]).
///
/// Needs a tokio runtime with I/O enabled; works on a current-thread runtime.
pub struct FileWatcher {
    inotify: Inotify,
    /// A duplicate of the inotify descriptor registered with tokio's reactor for readiness.
    /// It is wrapped in a datagram socket only because that registration needs no `unsafe`
    /// (`AsyncFd::register` does); it is never used as a socket.
    ready: UdpSocket,
    paths: Vec<PathBuf>,
    dirs: HashMap<WatchDescriptor, WatchedDir>,
    unwatched: Vec<usize>,
    pending: VecDeque<usize>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
            .field("paths", &self.paths)
            .field("unwatched", &self.unwatched)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// The directory to watch for `path` and the file name to look for in it.
fn split(path: &Path) -> Option<(PathBuf, OsString)> {
    let name = path.file_name()?.to_os_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((dir, name))
}

impl FileWatcher {
    /// Starts watching `paths` (index = position). Fails only if inotify itself cannot be set
    /// up; a directory that cannot be watched just makes its files [`FileWatcher::unwatched`].
    /// Must be called inside a tokio runtime.
    pub fn new(paths: Vec<PathBuf>) -> io::Result<Self> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let mut dirs: HashMap<WatchDescriptor, WatchedDir> = HashMap::new();
        let mut unwatched = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            let Some((dir, name)) = split(path) else {
                unwatched.push(index);
                continue;
            };
            // Watching the same directory twice returns the same descriptor.
            match inotify.add_watch(&dir, file_events()) {
                Ok(wd) => dirs
                    .entry(wd)
                    .or_insert_with(|| WatchedDir {
                        dir,
                        files: HashMap::new(),
                    })
                    .files
                    .entry(name)
                    .or_default()
                    .push(index),
                Err(_) => unwatched.push(index),
            }
        }
        let pending = (0..paths.len()).collect();
        // Registering with tokio panics without a reactor: check first and return an error.
        tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("FileWatcher::new outside a tokio runtime: {e}"))
        })?;
        let dup = inotify.as_fd().try_clone_to_owned()?;
        let ready = UdpSocket::from_std(std::net::UdpSocket::from(dup))?;
        Ok(FileWatcher {
            inotify,
            ready,
            paths,
            dirs,
            unwatched,
            pending,
        })
    }

    /// The watched paths, by index.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Indices of the files whose directory could not be watched (missing, not a directory,
    /// or removed since); keepalived logs `Track file directory for NAME does not exist -
    /// removing` for these at start-up.
    pub fn unwatched(&self) -> &[usize] {
        &self.unwatched
    }

    /// The next `(index, value)` to report. Cancel-safe: nothing is lost if the future is
    /// dropped before it completes. Returns `None` only if reading inotify fails.
    pub async fn next(&mut self) -> Option<(usize, FileValue)> {
        loop {
            if let Some(index) = self.pending.pop_front() {
                let path = self.paths.get(index)?;
                return Some((index, read_value(path)));
            }
            self.ready.readable().await.ok()?;
            let inotify = &self.inotify;
            match self.ready.try_io(Interest::READABLE, || {
                inotify.read_events().map_err(io::Error::from)
            }) {
                Ok(events) => {
                    for event in events {
                        self.handle(event.wd, event.mask, event.name);
                    }
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    fn queue(&mut self, index: usize) {
        if !self.pending.contains(&index) {
            self.pending.push_back(index);
        }
    }

    fn handle(&mut self, wd: WatchDescriptor, mask: AddWatchFlags, name: Option<OsString>) {
        if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            // Events were lost: read everything again.
            for index in 0..self.paths.len() {
                self.queue(index);
            }
            return;
        }
        let Some(watched) = self.dirs.get(&wd) else {
            return;
        };
        if mask.intersects(
            AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF | AddWatchFlags::IN_IGNORED,
        ) {
            // The directory itself went away: its files are gone, and no more events come.
            let indices: Vec<usize> = watched.files.values().flatten().copied().collect();
            if mask.contains(AddWatchFlags::IN_IGNORED) {
                self.dirs.remove(&wd);
                self.unwatched.extend(indices.iter().copied());
            }
            for index in indices {
                self.queue(index);
            }
            return;
        }
        let Some(name) = name else {
            return;
        };
        let Some(indices) = watched.files.get(&name) else {
            return;
        };
        if mask.contains(AddWatchFlags::IN_CREATE) && !created_as_link(&watched.dir.join(&name)) {
            // A file being written: its close-after-write follows.
            return;
        }
        for index in indices.clone() {
            self.queue(index);
        }
    }
}

/// Whether a just-created directory entry is a link (symbolic, or a second hard link), which
/// gets no close-after-write event, rather than a new file being written.
fn created_as_link(path: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Ok(meta) => !meta.is_file() || meta.nlink() > 1,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strtol_base_zero() {
        assert_eq!(parse_value(b"3\n"), FileValue::Number(3));
        assert_eq!(parse_value(b"-5"), FileValue::Number(-5));
        assert_eq!(parse_value(b"+7"), FileValue::Number(7));
        assert_eq!(parse_value(b"  \t4\n"), FileValue::Number(4));
        assert_eq!(parse_value(b"12abc"), FileValue::Number(12));
        assert_eq!(parse_value(b"0x10"), FileValue::Number(16));
        assert_eq!(parse_value(b"-0X1f"), FileValue::Number(-31));
        assert_eq!(parse_value(b"010"), FileValue::Number(8));
        assert_eq!(parse_value(b"08"), FileValue::Number(0));
        assert_eq!(parse_value(b"0x"), FileValue::Number(0));
        assert_eq!(parse_value(b"0"), FileValue::Number(0));
        assert_eq!(parse_value(b"5\n2\n"), FileValue::Number(5));
        assert_eq!(parse_value(b""), FileValue::NotANumber);
        assert_eq!(parse_value(b"abc"), FileValue::NotANumber);
        assert_eq!(parse_value(b"-"), FileValue::NotANumber);
        assert_eq!(parse_value(b" - 3"), FileValue::NotANumber);
    }

    #[test]
    fn out_of_range_is_ignored() {
        assert_eq!(
            parse_value(b"2147483647"),
            FileValue::Number(i64::from(i32::MAX))
        );
        assert_eq!(
            parse_value(b"-2147483648"),
            FileValue::Number(i64::from(i32::MIN))
        );
        assert_eq!(
            parse_value(b"3000000000"),
            FileValue::OutOfRange(3_000_000_000)
        );
        assert_eq!(
            parse_value(b"99999999999999999999"),
            FileValue::OutOfRange(i64::MAX)
        );
        assert_eq!(
            parse_value(b"-99999999999999999999"),
            FileValue::OutOfRange(i64::MIN)
        );
        let v = parse_value(b"99999999999");
        assert_eq!(v.status(), None);
        assert_eq!(v.status_or(5), 5);
        assert_eq!(
            v.log_line(Path::new("/x/val")).as_deref(),
            Some("Invalid number 99999999999 read from /x/val - ignoring")
        );
        assert_eq!(FileValue::Number(3).log_line(Path::new("/x")), None);
    }

    #[test]
    fn missing_and_garbage_count_as_zero() {
        assert_eq!(FileValue::Missing.status(), Some(0));
        assert_eq!(FileValue::NotANumber.status(), Some(0));
        assert_eq!(FileValue::Unreadable("x".into()).status(), Some(0));
        assert_eq!(FileValue::Number(-9).status_or(4), -9);
    }

    #[test]
    fn weighted_values() {
        assert_eq!(file_effect(3, 10, false), FileEffect::Delta(30));
        assert_eq!(file_effect(-5, 10, false), FileEffect::Delta(-50));
        assert_eq!(file_effect(0, 10, false), FileEffect::Delta(0));
        assert_eq!(file_effect(3, 2, true), FileEffect::Delta(-6));
        assert_eq!(file_effect(-3, 2, true), FileEffect::Delta(6));
        assert_eq!(file_effect(4, -10, false), FileEffect::Delta(-40));
    }

    #[test]
    fn limits() {
        assert_eq!(file_effect(253, 1, false), FileEffect::Delta(253));
        assert_eq!(file_effect(254, 1, false), FileEffect::Delta(253));
        assert_eq!(file_effect(1000, 1, false), FileEffect::Delta(253));
        assert_eq!(file_effect(-253, 1, false), FileEffect::Delta(-253));
        assert_eq!(file_effect(-254, 1, false), FileEffect::Fault);
        assert_eq!(file_effect(-30, 10, false), FileEffect::Fault);
        assert_eq!(file_effect(30, 10, true), FileEffect::Fault);
        assert_eq!(
            file_effect(i64::from(i32::MAX), i32::MAX, false),
            FileEffect::Delta(253)
        );
        assert_eq!(
            file_effect(i64::from(i32::MIN), i32::MAX, false),
            FileEffect::Fault
        );
        assert_eq!(file_effect(i64::MIN, -1, true), FileEffect::Fault);
    }

    #[test]
    fn weight_zero_means_fault_on_non_zero() {
        assert_eq!(file_effect(0, 0, false), FileEffect::Delta(0));
        assert_eq!(file_effect(5, 0, false), FileEffect::Fault);
        assert_eq!(file_effect(-1, 0, false), FileEffect::Fault);
        // reverse: zero (a missing file too) is the failure.
        assert_eq!(file_effect(0, 0, true), FileEffect::Fault);
        assert_eq!(file_effect(1, 0, true), FileEffect::Delta(0));
    }

    #[test]
    fn priority_with_files() {
        let none: &[Tracked] = &[];
        // keepalived: 100 + min(1000,253) - 200 = 153.
        let files = [file_effect(1000, 1, false), file_effect(-200, 1, false)];
        assert_eq!(
            effective_priority_with_files(100, none, &files),
            (153, false)
        );
        assert_eq!(
            effective_priority_with_files(100, none, &[file_effect(-253, 1, false)]),
            (1, false)
        );
        assert_eq!(
            effective_priority_with_files(100, none, &[file_effect(16, 10, false)]),
            (254, false)
        );
        assert_eq!(
            effective_priority_with_files(100, none, &[file_effect(-254, 1, false)]),
            (100, true)
        );
        assert_eq!(
            effective_priority_with_files(100, none, &[FileEffect::Delta(0)]),
            (100, false)
        );
        let script = Tracked {
            weight: 20,
            reverse: false,
            up: true,
        };
        assert_eq!(
            effective_priority_with_files(100, &[script], &[file_effect(-3, 10, false)]),
            (90, false)
        );
        assert_eq!(
            effective_priority_with_files(255, &[script], &[file_effect(-3, 10, false)]),
            (255, false)
        );
        assert_eq!(
            effective_priority_with_files(255, none, &[file_effect(2, 0, false)]),
            (255, true)
        );
    }
}
