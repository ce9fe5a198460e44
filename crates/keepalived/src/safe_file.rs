//! Writing files that other users may be able to tamper with, safely: pid files under
//! /var/run and the dumps under /tmp (`/tmp/keepalived.data`, `.stats`, `.json`).
//!
//! keepalived had CVEs for writing its /tmp files through symlinks planted by other users and
//! into files they own. The rules here:
//! - the directory is opened once and everything else happens relative to it, so a directory
//!   swapped between the checks and the write is never written into;
//! - the directory must not be writable by other users unless it is sticky (like /tmp), and must
//!   belong to us or to root;
//! - an existing target that belongs to another user, or is not a regular file or a symlink
//!   (a directory, a fifo, a device …), is refused with an error that names the path and why;
//! - the contents go to a fresh temporary file with an unpredictable name, created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW`, given its mode explicitly (the umask does not matter), synced,
//!   and then renamed over the target. `rename` replaces a symlink at the target instead of
//!   following it, so a planted link is replaced and its victim left alone;
//! - on any error the temporary file is removed.
//!
//! Reading (`read_small`) and removing (`remove_if_contents`) likewise never follow a symlink at
//! the last component.

use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::UnlinkatFlags;

/// The mode of files that may hold secrets (passwords in the state dump): owner only.
pub const PRIVATE_MODE: u32 = 0o600;
/// The mode of files everybody may read (pid files).
pub const PUBLIC_MODE: u32 = 0o644;
/// The mode of directories created for a file (`WriteOptions::create_parent`).
const DIR_MODE: u32 = 0o755;
/// How many temporary names are tried before giving up (each collision is astronomically
/// unlikely unless someone is racing us).
const TEMP_ATTEMPTS: u32 = 16;

/// Why a file could not be written, read or removed safely.
#[derive(Debug)]
pub enum SafeFileReason {
    /// The path has no file name (it is `/`, or ends in `..`).
    NoFileName,
    /// The target exists and belongs to another user.
    ForeignOwner {
        /// The owner of the target.
        owner: u32,
        /// Our effective uid.
        us: u32,
    },
    /// The target exists and is not a regular file or a symlink.
    NotRegular(&'static str),
    /// The directory can be written by other users and is not sticky, or belongs to another
    /// user: anybody there could replace the file after us.
    InsecureDirectory(String),
    /// A system call failed.
    Io {
        /// What was being done.
        action: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// A file that could not be written, read or removed safely: the path and the reason.
#[derive(Debug)]
pub struct SafeFileError {
    /// The file concerned.
    pub path: PathBuf,
    /// Why it failed.
    pub reason: SafeFileReason,
}

impl SafeFileError {
    fn new(path: &Path, reason: SafeFileReason) -> Self {
        Self {
            path: path.to_path_buf(),
            reason,
        }
    }

    fn io(path: &Path, action: &'static str, source: impl Into<io::Error>) -> Self {
        Self::new(
            path,
            SafeFileReason::Io {
                action,
                source: source.into(),
            },
        )
    }
}

impl fmt::Display for SafeFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.reason {
            SafeFileReason::NoFileName => write!(f, "{path}: not a file name"),
            SafeFileReason::ForeignOwner { owner, us } => write!(
                f,
                "refusing to use {path}: it belongs to uid {owner}, not to us (uid {us})"
            ),
            SafeFileReason::NotRegular(kind) => {
                write!(
                    f,
                    "refusing to use {path}: it is a {kind}, not a regular file"
                )
            }
            SafeFileReason::InsecureDirectory(why) => {
                write!(f, "refusing to use {path}: its directory {why}")
            }
            SafeFileReason::Io { action, source } => write!(f, "{path}: {action}: {source}"),
        }
    }
}

impl std::error::Error for SafeFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            SafeFileReason::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// How `write_file` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// The permission bits of the written file (e.g. `0o600`); the umask does not apply.
    pub mode: u32,
    /// Create the directory (and its parents, mode 0755) when it is missing.
    pub create_parent: bool,
}

/// Writes `contents` to `path` readable by its owner only (mode 0600): for files that may hold
/// secrets, like the state dump with its passwords.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), SafeFileError> {
    write_file(
        path,
        contents,
        WriteOptions {
            mode: PRIVATE_MODE,
            create_parent: false,
        },
    )
}

/// Writes `contents` to `path` readable by everybody (mode 0644).
#[cfg(test)]
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), SafeFileError> {
    write_file(
        path,
        contents,
        WriteOptions {
            mode: PUBLIC_MODE,
            create_parent: false,
        },
    )
}

/// Writes `contents` to `path` with the rules of this module (see the module documentation):
/// never through a symlink, never into another user's file or an unsafe directory, atomically
/// (readers see the old or the new contents, never a part).
pub fn write_file(
    path: &Path,
    contents: &[u8],
    options: WriteOptions,
) -> Result<(), SafeFileError> {
    let (dir_path, name) = split(path)?;
    if options.create_parent {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir_path)
            .map_err(|e| SafeFileError::io(path, "cannot create its directory", e))?;
    }
    let dir = open_dir(path, dir_path)?;
    check_target(path, &dir, name)?;

    let (temp_name, file) = create_temp(path, &dir, name, options.mode)?;
    install(path, &dir, &temp_name, file, name, contents, options.mode)
}

/// Fills the temporary file `temp_name` and renames it to `name`; removes it on any error.
fn install(
    path: &Path,
    dir: &OwnedFd,
    temp_name: &OsStr,
    file: File,
    name: &OsStr,
    contents: &[u8],
    mode: u32,
) -> Result<(), SafeFileError> {
    let written = fill(path, file, contents, mode).and_then(|()| {
        nix::fcntl::renameat(dir, temp_name, dir, name)
            .map_err(|e| SafeFileError::io(path, "cannot rename the new file into place", e))
    });
    if let Err(err) = written {
        // Best effort: the temporary file must not stay behind; the first error is the one
        // worth reporting.
        let _ = nix::unistd::unlinkat(dir, temp_name, UnlinkatFlags::NoRemoveDir);
        return Err(err);
    }
    // Make the rename durable. Some file systems cannot sync a directory; the file itself is
    // already in place, so this is not worth failing for.
    let _ = nix::unistd::fsync(dir);
    Ok(())
}

/// Reads at most `limit` bytes of `path`, if it exists and is a regular file (a symlink at the
/// last component is not followed: that gives `NotRegular("symlink")`). `Ok(None)` when there
/// is no such file.
pub fn read_small(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, SafeFileError> {
    let (dir_path, name) = split(path)?;
    let dir = match open_dir(path, dir_path) {
        Ok(dir) => dir,
        Err(SafeFileError {
            reason: SafeFileReason::Io { source, .. },
            ..
        }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    read_in(path, &dir, name, limit)
}

/// Removes `path` only if it is a regular file (not followed if a symlink) whose contents are
/// exactly `expected`. Returns whether it was removed; a missing file is not an error.
pub fn remove_if_contents(path: &Path, expected: &[u8]) -> Result<bool, SafeFileError> {
    let (dir_path, name) = split(path)?;
    let dir = match open_dir(path, dir_path) {
        Ok(dir) => dir,
        Err(SafeFileError {
            reason: SafeFileReason::Io { source, .. },
            ..
        }) if source.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    // One byte more than expected tells "longer" from "equal".
    match read_in(path, &dir, name, expected.len() + 1)? {
        Some(contents) if contents == expected => {
            match nix::unistd::unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) => Ok(true),
                Err(Errno::ENOENT) => Ok(false),
                Err(e) => Err(SafeFileError::io(path, "cannot remove", e)),
            }
        }
        _ => Ok(false),
    }
}

/// The directory and the file name of `path` (`.` when the path has no directory part).
fn split(path: &Path) -> Result<(&Path, &OsStr), SafeFileError> {
    let name = path
        .file_name()
        .ok_or_else(|| SafeFileError::new(path, SafeFileReason::NoFileName))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Opens the directory of `path` (symlinks in the directory part are followed: /var/run is one
/// on most systems) and checks that other users cannot replace files in it.
fn open_dir(path: &Path, dir_path: &Path) -> Result<OwnedFd, SafeFileError> {
    let dir = nix::fcntl::open(
        dir_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SafeFileError::io(path, "cannot open its directory", e))?;
    let meta = File::from(
        dir.try_clone()
            .map_err(|e| SafeFileError::io(path, "cannot open its directory", e))?,
    )
    .metadata()
    .map_err(|e| SafeFileError::io(path, "cannot examine its directory", e))?;
    let us = nix::unistd::geteuid().as_raw();
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    let insecure = if meta.uid() != 0 && meta.uid() != us {
        Some(format!(
            "{} belongs to uid {}",
            dir_path.display(),
            meta.uid()
        ))
    } else if mode & 0o002 != 0 && !sticky {
        Some(format!(
            "{} is writable by everybody and not sticky (mode {:o})",
            dir_path.display(),
            mode & 0o7777
        ))
    } else if mode & 0o020 != 0 && !sticky && meta.gid() != nix::unistd::getegid().as_raw() {
        Some(format!(
            "{} is writable by group {} and not sticky (mode {:o})",
            dir_path.display(),
            meta.gid(),
            mode & 0o7777
        ))
    } else {
        None
    };
    match insecure {
        Some(why) => Err(SafeFileError::new(
            path,
            SafeFileReason::InsecureDirectory(why),
        )),
        None => Ok(dir),
    }
}

/// The name of a file type, for messages.
fn kind_name(mode: u32) -> &'static str {
    let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
    if kind == SFlag::S_IFREG {
        "regular file"
    } else if kind == SFlag::S_IFLNK {
        "symlink"
    } else if kind == SFlag::S_IFDIR {
        "directory"
    } else if kind == SFlag::S_IFIFO {
        "fifo"
    } else if kind == SFlag::S_IFSOCK {
        "socket"
    } else if kind == SFlag::S_IFCHR {
        "character device"
    } else if kind == SFlag::S_IFBLK {
        "block device"
    } else {
        "special file"
    }
}

/// Checks an existing target (without following a symlink): it must be ours and a regular file
/// or a symlink. A missing target is fine.
fn check_target(path: &Path, dir: &OwnedFd, name: &OsStr) -> Result<(), SafeFileError> {
    let stat = match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(SafeFileError::io(path, "cannot examine", e)),
    };
    let us = nix::unistd::geteuid().as_raw();
    if stat.st_uid != us {
        return Err(SafeFileError::new(
            path,
            SafeFileReason::ForeignOwner {
                owner: stat.st_uid,
                us,
            },
        ));
    }
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFLNK {
        return Err(SafeFileError::new(
            path,
            SafeFileReason::NotRegular(kind_name(stat.st_mode)),
        ));
    }
    Ok(())
}

/// An unpredictable 64-bit number: std's hasher keys come from the operating system's random
/// source, and each `RandomState` differs from the one before.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Creates a fresh temporary file next to the target: `.NAME.XXXXXXXXXXXXXXXX.tmp`.
fn create_temp(
    path: &Path,
    dir: &OwnedFd,
    name: &OsStr,
    mode: u32,
) -> Result<(OsString, File), SafeFileError> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut last = Errno::EEXIST;
    for _ in 0..TEMP_ATTEMPTS {
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(".{:016x}.tmp", random_u64()));
        // Keep the name within NAME_MAX even for long targets.
        if temp.as_bytes().len() > 255 {
            temp = OsString::from(format!(".keepalived.{:016x}.tmp", random_u64()));
        }
        match nix::fcntl::openat(
            dir,
            temp.as_os_str(),
            flags,
            Mode::from_bits_truncate(mode & 0o7777),
        ) {
            Ok(fd) => return Ok((temp, File::from(fd))),
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(SafeFileError::io(path, "cannot create a temporary file", e)),
        }
    }
    Err(SafeFileError::io(
        path,
        "cannot create a temporary file",
        last,
    ))
}

/// Gives the temporary file its mode, writes the contents and syncs it.
fn fill(path: &Path, mut file: File, contents: &[u8], mode: u32) -> Result<(), SafeFileError> {
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| SafeFileError::io(path, "cannot set the mode of the new file", e))?;
    file.write_all(contents)
        .map_err(|e| SafeFileError::io(path, "cannot write", e))?;
    file.sync_all()
        .map_err(|e| SafeFileError::io(path, "cannot sync", e))?;
    Ok(())
}

/// Reads at most `limit` bytes of regular file `name` in `dir`, not following a symlink.
fn read_in(
    path: &Path,
    dir: &OwnedFd,
    name: &OsStr,
    limit: usize,
) -> Result<Option<Vec<u8>>, SafeFileError> {
    // O_NONBLOCK: opening a fifo planted at the path must not hang us.
    let fd = match nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => {
            return Err(SafeFileError::new(
                path,
                SafeFileReason::NotRegular("symlink"),
            ));
        }
        Err(e) => return Err(SafeFileError::io(path, "cannot open", e)),
    };
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| SafeFileError::io(path, "cannot examine", e))?;
    if !meta.file_type().is_file() {
        return Err(SafeFileError::new(
            path,
            SafeFileReason::NotRegular(kind_name(meta.mode())),
        ));
    }
    let mut contents = Vec::new();
    file.take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut contents)
        .map_err(|e| SafeFileError::io(path, "cannot read", e))?;
    Ok(Some(contents))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// What the tests return: `?` instead of unwrapping.
    pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// A fresh private directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> Result<TempDir, io::Error> {
            let base = std::env::temp_dir();
            let mut last = io::Error::other("no attempt");
            for _ in 0..16 {
                let path = base.join(format!("kr-{tag}-{:016x}", random_u64()));
                match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                    Ok(()) => return Ok(TempDir(path)),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The error of a call that must fail.
    pub(crate) fn failure<T: fmt::Debug, E>(result: Result<T, E>) -> Result<E, String> {
        match result {
            Ok(value) => Err(format!("expected an error, got Ok({value:?})")),
            Err(err) => Ok(err),
        }
    }

    /// The names in `dir`, sorted.
    pub(crate) fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The permission bits of `path` itself (not following a link).
    pub(crate) fn mode_of(path: &Path) -> Result<u32, io::Error> {
        Ok(std::fs::symlink_metadata(path)?.mode() & 0o7777)
    }

    #[test]
    fn writes_a_new_file_with_its_mode_whatever_the_umask() -> TestResult {
        let dir = TempDir::new("sf-new")?;
        let target = dir.path().join("keepalived.data");
        write_private(&target, b"hello\n")?;
        assert_eq!(std::fs::read(&target)?, b"hello\n");
        assert_eq!(mode_of(&target)?, 0o600);

        let public = dir.path().join("keepalived.pid");
        write_public(&public, b"42\n")?;
        assert_eq!(mode_of(&public)?, 0o644);
        assert_eq!(entries(dir.path()), ["keepalived.data", "keepalived.pid"]);
        Ok(())
    }

    #[test]
    fn overwrites_a_file_of_ours_and_fixes_its_mode() -> TestResult {
        let dir = TempDir::new("sf-over")?;
        let target = dir.path().join("keepalived.stats");
        std::fs::write(&target, b"old contents that are longer\n")?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o666))?;
        write_private(&target, b"new\n")?;
        assert_eq!(std::fs::read(&target)?, b"new\n");
        assert_eq!(mode_of(&target)?, 0o600);
        assert_eq!(entries(dir.path()), ["keepalived.stats"]);
        Ok(())
    }

    #[test]
    fn a_planted_symlink_is_replaced_and_its_victim_left_alone() -> TestResult {
        let dir = TempDir::new("sf-link")?;
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious\n")?;
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644))?;
        let target = dir.path().join("keepalived.data");
        symlink(&victim, &target)?;

        write_private(&target, b"dump\n")?;

        assert_eq!(std::fs::read(&victim)?, b"precious\n");
        assert_eq!(mode_of(&victim)?, 0o644);
        let meta = std::fs::symlink_metadata(&target)?;
        assert!(meta.file_type().is_file(), "the target is still a link");
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read(&target)?, b"dump\n");
        assert_eq!(entries(dir.path()), ["keepalived.data", "victim"]);
        Ok(())
    }

    #[test]
    fn a_dangling_symlink_does_not_create_its_destination() -> TestResult {
        let dir = TempDir::new("sf-dangle")?;
        let elsewhere = dir.path().join("created-through-link");
        let target = dir.path().join("keepalived.json");
        symlink(&elsewhere, &target)?;
        write_private(&target, b"{}\n")?;
        assert!(!elsewhere.exists());
        assert!(std::fs::symlink_metadata(&target)?.is_file());
        Ok(())
    }

    #[test]
    fn a_directory_or_fifo_at_the_target_is_refused() -> TestResult {
        let dir = TempDir::new("sf-dir")?;
        let target = dir.path().join("keepalived.data");
        std::fs::create_dir(&target)?;
        let err = failure(write_private(&target, b"x"))?;
        assert!(
            matches!(err.reason, SafeFileReason::NotRegular("directory")),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&target.display().to_string()), "{text}");
        assert!(text.contains("directory"), "{text}");
        assert_eq!(entries(dir.path()), ["keepalived.data"]);

        let fifo = dir.path().join("keepalived.stats");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))?;
        let err = failure(write_private(&fifo, b"x"))?;
        assert!(
            matches!(err.reason, SafeFileReason::NotRegular("fifo")),
            "{err}"
        );
        // Reading a fifo must not block either.
        let err = failure(read_small(&fifo, 16))?;
        assert!(
            matches!(err.reason, SafeFileReason::NotRegular("fifo")),
            "{err}"
        );
        assert_eq!(entries(dir.path()), ["keepalived.data", "keepalived.stats"]);
        Ok(())
    }

    #[test]
    fn files_of_another_user_are_refused() -> TestResult {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to chown");
            return Ok(());
        }
        let dir = TempDir::new("sf-owner")?;
        let target = dir.path().join("keepalived.data");
        std::fs::write(&target, b"theirs\n")?;
        std::os::unix::fs::chown(&target, Some(65534), Some(65534))?;
        let err = failure(write_private(&target, b"ours\n"))?;
        assert!(
            matches!(
                err.reason,
                SafeFileReason::ForeignOwner { owner: 65534, .. }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("uid 65534"), "{err}");
        assert_eq!(std::fs::read(&target)?, b"theirs\n");
        assert_eq!(entries(dir.path()), ["keepalived.data"]);

        // A symlink someone else planted is refused too.
        let link = dir.path().join("keepalived.stats");
        symlink("/nonexistent", &link)?;
        std::os::unix::fs::lchown(&link, Some(65534), None)?;
        let err = failure(write_private(&link, b"ours\n"))?;
        assert!(
            matches!(err.reason, SafeFileReason::ForeignOwner { .. }),
            "{err}"
        );

        // So is a directory that belongs to another user.
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs)?;
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))?;
        let err = failure(write_private(&theirs.join("keepalived.data"), b"x"))?;
        assert!(
            matches!(err.reason, SafeFileReason::InsecureDirectory(_)),
            "{err}"
        );
        assert!(entries(&theirs).is_empty());
        Ok(())
    }

    #[test]
    fn a_directory_others_can_write_must_be_sticky() -> TestResult {
        let dir = TempDir::new("sf-perm")?;
        let open = dir.path().join("open");
        std::fs::create_dir(&open)?;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777))?;
        let target = open.join("keepalived.data");
        let err = failure(write_private(&target, b"x"))?;
        assert!(
            matches!(err.reason, SafeFileReason::InsecureDirectory(_)),
            "{err}"
        );
        assert!(err.to_string().contains("not sticky"), "{err}");
        assert!(entries(&open).is_empty(), "left {:?}", entries(&open));

        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777))?;
        write_private(&target, b"x")?;
        assert_eq!(entries(&open), ["keepalived.data"]);
        Ok(())
    }

    #[test]
    fn creates_the_directory_when_asked() -> TestResult {
        let dir = TempDir::new("sf-mkdir")?;
        let target = dir.path().join("run/keepalived/keepalived.pid");
        let options = WriteOptions {
            mode: PUBLIC_MODE,
            create_parent: true,
        };
        write_file(&target, b"1\n", options)?;
        assert_eq!(std::fs::read(&target)?, b"1\n");
        assert_eq!(mode_of(&dir.path().join("run/keepalived"))?, 0o755);
        let err = failure(write_public(&dir.path().join("missing/x.pid"), b"1\n"))?;
        assert!(matches!(err.reason, SafeFileReason::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing/x.pid"), "{err}");
        Ok(())
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() -> TestResult {
        // A non-empty directory at the target makes the rename fail. write_file refuses a
        // directory before it creates the temporary file, so this drives its last step
        // directly, as if the directory had appeared after the check.
        let dir = TempDir::new("sf-rename")?;
        let target = dir.path().join("keepalived.data");
        std::fs::create_dir(&target)?;
        std::fs::write(target.join("inside"), b"x")?;
        let fd = open_dir(&target, dir.path())?;
        let name = OsStr::new("keepalived.data");
        let (temp, file) = create_temp(&target, &fd, name, 0o600)?;
        assert_eq!(entries(dir.path()).len(), 2);
        let err = failure(install(&target, &fd, &temp, file, name, b"x", 0o600))?;
        assert!(err.to_string().contains("rename"), "{err}");
        assert_eq!(entries(dir.path()), ["keepalived.data"]);
        Ok(())
    }

    #[test]
    fn refusals_leave_no_temporary_file() -> TestResult {
        let dir = TempDir::new("sf-clean")?;
        let target = dir.path().join("keepalived.data");
        std::fs::create_dir(&target)?;
        for _ in 0..3 {
            assert!(write_private(&target, b"x").is_err());
        }
        assert_eq!(entries(dir.path()), ["keepalived.data"]);
        Ok(())
    }

    #[test]
    fn reads_and_removes_without_following_links() -> TestResult {
        let dir = TempDir::new("sf-read")?;
        let target = dir.path().join("keepalived.pid");
        assert_eq!(read_small(&target, 64)?, None);
        assert!(!remove_if_contents(&target, b"1\n")?);
        std::fs::write(&target, b"1234\n")?;
        assert_eq!(read_small(&target, 64)?.as_deref(), Some(&b"1234\n"[..]));
        assert_eq!(read_small(&target, 2)?.as_deref(), Some(&b"12"[..]));
        assert!(!remove_if_contents(&target, b"1234")?);
        assert!(!remove_if_contents(&target, b"1234\n\n")?);
        assert!(target.exists());
        assert!(remove_if_contents(&target, b"1234\n")?);
        assert!(!target.exists());

        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"7\n")?;
        symlink(&victim, &target)?;
        let err = failure(read_small(&target, 64))?;
        assert!(
            matches!(err.reason, SafeFileReason::NotRegular("symlink")),
            "{err}"
        );
        assert!(remove_if_contents(&target, b"7\n").is_err());
        assert!(victim.exists());
        assert!(std::fs::symlink_metadata(&target).is_ok());
        assert_eq!(read_small(&dir.path().join("no/such/dir/file"), 8)?, None);
        Ok(())
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() -> TestResult {
        let err = failure(write_private(Path::new("/"), b"x"))?;
        assert!(matches!(err.reason, SafeFileReason::NoFileName));
        let err = failure(write_private(Path::new("/tmp/.."), b"x"))?;
        assert!(matches!(err.reason, SafeFileReason::NoFileName));
        Ok(())
    }

    #[test]
    fn temporary_names_differ() {
        let a = random_u64();
        let b = random_u64();
        assert_ne!(a, b);
    }
}
