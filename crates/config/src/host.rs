//! What validation needs to know about the machine: interfaces, users and script files.
//! Behind a trait so tests can describe a host instead of reading the real one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Facts about the host that `keepalived -t` checks a configuration against.
pub trait Host {
    /// Whether a network interface with this name exists.
    fn interface_exists(&self, name: &str) -> bool;
    /// The uid and primary gid of a user, if the user exists.
    fn user(&self, name: &str) -> Option<(u32, u32)>;
    /// The gid of a group, if the group exists.
    fn group(&self, name: &str) -> Option<u32>;
    /// The ownership and mode of a file, following symlinks, if it can be stat'ed.
    fn file_status(&self, path: &Path) -> Option<FileStatus>;
    /// `path` with every symlink resolved, or why it cannot be reached, worded as `strerror`
    /// words it (`No such file or directory`).
    fn real_path(&self, path: &Path) -> Result<PathBuf, String>;
    /// The `:`-separated directories a script named without a slash is looked up in.
    fn script_search_path(&self) -> String;
    /// The host name up to the first dot: the default config id for `@ID` lines.
    fn short_hostname(&self) -> String;
    /// Whether the interface is a loopback (keepalived refuses to run VRRP on one).
    fn is_loopback(&self, name: &str) -> bool {
        name == "lo"
    }
    /// Whether a host name resolves (the system resolver: /etc/hosts, then DNS), as 2.2.7
    /// resolves an `smtp_server` given by name.
    fn host_name_resolves(&self, name: &str) -> bool {
        use std::net::ToSocketAddrs;
        (name, 25)
            .to_socket_addrs()
            .is_ok_and(|mut addresses| addresses.next().is_some())
    }
}

/// Owner and permission bits of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStatus {
    /// Owning user id.
    pub uid: u32,
    /// Owning group id.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Whether it is a regular file.
    pub is_file: bool,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// The machine we run on. Interface names are read once from /sys/class/net, on first use:
/// a configuration names the same few interfaces thousands of times.
#[derive(Debug, Default)]
pub struct RealHost {
    /// Sorted: a configuration looks names up tens of thousands of times, and a binary search
    /// over a few dozen names costs less than hashing each.
    interfaces: OnceLock<Vec<String>>,
    /// Whether each interface asked about so far is a loopback, sorted by name.
    loopbacks: Mutex<Vec<(String, bool)>>,
}

impl Host for RealHost {
    fn is_loopback(&self, name: &str) -> bool {
        /// `IFF_LOOPBACK` in the interface flags sysfs shows.
        const IFF_LOOPBACK: u32 = 0x8;
        if !self.interface_exists(name) {
            return false;
        }
        // Only the interfaces a configuration names are looked at, each once.
        let mut known = self
            .loopbacks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = match known.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(found) => return known.get(found).is_some_and(|&(_, answer)| answer),
            Err(slot) => slot,
        };
        let answer = std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|flags| flags & IFF_LOOPBACK != 0);
        known.insert(slot, (name.to_string(), answer));
        answer
    }

    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces
            .get_or_init(read_interface_names)
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    fn user(&self, name: &str) -> Option<(u32, u32)> {
        let user = nix::unistd::User::from_name(name).ok()??;
        Some((user.uid.as_raw(), user.gid.as_raw()))
    }

    fn group(&self, name: &str) -> Option<u32> {
        let group = nix::unistd::Group::from_name(name).ok()??;
        Some(group.gid.as_raw())
    }

    fn file_status(&self, path: &Path) -> Option<FileStatus> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStatus {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            is_file: meta.is_file(),
            is_dir: meta.is_dir(),
        })
    }

    fn real_path(&self, path: &Path) -> Result<PathBuf, String> {
        std::fs::canonicalize(path).map_err(|err| match err.raw_os_error() {
            Some(raw) => nix::errno::Errno::from_raw(raw).desc().to_string(),
            None => err.to_string(),
        })
    }

    /// The daemon's own `PATH`, as keepalived 2.2.7 searches it, or
    /// [`DEFAULT_SEARCH_PATH`](crate::script_lookup::DEFAULT_SEARCH_PATH) without one.
    fn script_search_path(&self) -> String {
        std::env::var("PATH")
            .unwrap_or_else(|_| crate::script_lookup::DEFAULT_SEARCH_PATH.to_string())
    }

    fn short_hostname(&self) -> String {
        let name = nix::unistd::gethostname()
            .ok()
            .and_then(|n| n.into_string().ok())
            .unwrap_or_default();
        name.split('.').next().unwrap_or_default().to_string()
    }
}

/// The names under /sys/class/net, sorted.
fn read_interface_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable();
    names.dedup();
    names
}

/// A host described in memory, for tests: a fixed set of interfaces and users, real files.
#[derive(Debug, Clone)]
pub struct FakeHost {
    /// Interface names that exist.
    pub interfaces: BTreeSet<String>,
    /// Users that exist, with uid and gid.
    pub users: Vec<(String, u32, u32)>,
    /// The short host name.
    pub hostname: String,
    /// The directories searched for bare script names.
    pub search_path: String,
}

impl FakeHost {
    /// A host with interfaces lo and eth0..eth3, users root and nobody, named `testhost`.
    pub fn lab() -> Self {
        FakeHost {
            interfaces: ["lo", "eth0", "eth1", "eth2", "eth3"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            users: vec![("root".into(), 0, 0), ("nobody".into(), 65534, 65534)],
            hostname: "testhost".into(),
            search_path: "/usr/sbin:/usr/bin:/sbin:/bin".into(),
        }
    }
}

impl Host for FakeHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.contains(name)
    }

    fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.users
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, u, g)| (*u, *g))
    }

    fn group(&self, name: &str) -> Option<u32> {
        self.users
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, g)| *g)
    }

    fn file_status(&self, path: &Path) -> Option<FileStatus> {
        RealHost::default().file_status(path)
    }

    fn real_path(&self, path: &Path) -> Result<PathBuf, String> {
        RealHost::default().real_path(path)
    }

    fn script_search_path(&self) -> String {
        self.search_path.clone()
    }

    fn short_hostname(&self) -> String {
        self.hostname.clone()
    }
}
