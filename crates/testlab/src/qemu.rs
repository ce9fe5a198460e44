//! A real-kernel lab for what this machine's kernel lacks (IPVS): Debian's own kernel booted
//! under QEMU (pure emulation, no KVM) from an initramfs holding its modules, busybox, and the
//! programs a test names with the libraries `ldd` lists for them. The guest runs one shell
//! script and writes its results to a second serial port, which the host reads as a file.
//!
//! Downloads (`apt-get download` of the kernel and busybox-static) go to a cache directory
//! ([`CACHE_DIR`]) reused across runs; the recipe is the one in the project's design notes
//! ("IPVS (checked 2026-12)").

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{run_command, wait_until};
pub use crate::qemu_tap::{TAP_IF, TapNet};

/// How long one preparation step (a download, an unpack, a copy) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs a preparation step; an error unless it exits 0.
fn run_ok(cmd: &mut Command) -> Result<std::process::Output> {
    let what = format!("{cmd:?}");
    let out = run_command(cmd, STEP_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Where downloaded packages and the unpacked kernel are kept between runs.
pub const CACHE_DIR: &str = "/var/cache/keepalived-rs-lab";

/// The host programs the lab needs.
pub const LAB_PROGRAMS: &[&str] = &[
    "qemu-system-x86_64",
    "cpio",
    "gzip",
    "depmod",
    "apt-get",
    "apt-cache",
    "dpkg-deb",
    "ldd",
];

/// The module subtrees the guest gets (netfilter with IPVS, IP stacks, their library and crypto
/// dependencies), below `kernel/`.
const MODULE_TREES: &[&str] = &["net/netfilter", "net/ipv4", "net/ipv6", "lib", "crypto"];
/// Single modules the guest gets as well (`nlmon` lets a benchmark count the netlink commands
/// a daemon sends; the virtio ones drive the network card of a guest booted with
/// [`boot_on`] and a [`TapNet`], loaded only by a script that asks for them with
/// `modprobe virtio_pci virtio_net`).
const MODULE_FILES: &[&str] = &[
    "drivers/net/dummy.ko",
    "drivers/net/nlmon.ko",
    "arch/x86/crypto/crc32c-intel.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/net/virtio_net.ko",
    "drivers/net/net_failover.ko",
    "net/core/failover.ko",
];

/// An unpacked Debian kernel with its modules indexed by `depmod`.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The kernel release, e.g. `6.1.0-57-amd64`.
    pub release: String,
    /// The bootable image.
    pub vmlinuz: PathBuf,
    /// `lib/modules/RELEASE` of the unpacked package.
    pub modules: PathBuf,
    /// The static busybox binary.
    pub busybox: PathBuf,
}

/// Downloads (once) and unpacks Debian's current kernel and busybox-static into `cache`.
pub fn prepare(cache: &Path) -> Result<Kernel> {
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let depends = run_ok(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    let package = String::from_utf8_lossy(&depends.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .context("apt-cache names no linux-image package for linux-image-amd64")?;
    let release = package.trim_start_matches("linux-image-").to_string();
    let root = cache.join(&release);
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
    let modules = root.join("lib/modules").join(&release);
    if !modules.join("modules.dep").is_file() || !vmlinuz.is_file() {
        let deb = download(cache, &package)?;
        unpack(&deb, &root)?;
        run_ok(Command::new("depmod").arg("-b").arg(&root).arg(&release))?;
    }
    let bb_root = cache.join("busybox-static");
    let busybox = bb_root.join("bin/busybox");
    if !busybox.is_file() {
        let deb = download(cache, "busybox-static")?;
        unpack(&deb, &bb_root)?;
    }
    Ok(Kernel {
        release,
        vmlinuz,
        modules,
        busybox,
    })
}

/// The `.deb` of `package` in `cache`, fetched with `apt-get download` when not there yet.
pub(crate) fn download(cache: &Path, package: &str) -> Result<PathBuf> {
    let find = |cache: &Path| -> Option<PathBuf> {
        fs::read_dir(cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            })
    };
    if let Some(deb) = find(cache) {
        return Ok(deb);
    }
    run_ok(
        Command::new("apt-get")
            .args(["download", "-q", package])
            .current_dir(cache),
    )?;
    find(cache).with_context(|| format!("apt-get download {package} left no .deb"))
}

/// Unpacks `deb` into `root` (replacing it) with `dpkg-deb -x`.
pub(crate) fn unpack(deb: &Path, root: &Path) -> Result<()> {
    let tmp = root.with_extension("unpacking");
    let _ = fs::remove_dir_all(&tmp);
    run_ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tmp))?;
    let _ = fs::remove_dir_all(root);
    fs::rename(&tmp, root).with_context(|| format!("renaming to {}", root.display()))
}

/// An initramfs being assembled in a staging directory.
pub struct Initramfs {
    root: PathBuf,
}

/// The fixed start of the guest's `/init`: mounts, module autoloading, IPVS, loopback; the
/// test's script follows, then the guest powers off.
const INIT_PREAMBLE: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /run /var/run /dev/pts /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo /bin/modprobe > /proc/sys/kernel/modprobe
modprobe ip_vs
/usr/bin/ip link set lo up
exec 3>/dev/ttyS1
"#;

const INIT_END: &str = r#"
echo "LAB-END" >&3
sync
poweroff -f
"#;

impl Initramfs {
    /// A staging tree with busybox, the kernel's modules and the guest's `/etc` basics.
    pub fn new(kernel: &Kernel, staging: &Path) -> Result<Self> {
        let _ = fs::remove_dir_all(staging);
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "lib64",
        ] {
            fs::create_dir_all(staging.join(dir))?;
        }
        let ramfs = Initramfs {
            root: staging.to_path_buf(),
        };
        fs::copy(&kernel.busybox, staging.join("bin/busybox"))
            .context("copying busybox into the initramfs")?;
        let guest_modules = staging.join("lib/modules").join(&kernel.release);
        fs::create_dir_all(&guest_modules)?;
        for entry in fs::read_dir(&kernel.modules)?.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("modules.") {
                fs::copy(entry.path(), guest_modules.join(&name))?;
            }
        }
        for tree in MODULE_TREES {
            let from = kernel.modules.join("kernel").join(tree);
            let to = guest_modules.join("kernel").join(tree);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)?;
            }
            run_ok(Command::new("cp").arg("-a").arg(&from).arg(&to))?;
        }
        for file in MODULE_FILES {
            let from = kernel.modules.join("kernel").join(file);
            if from.is_file() {
                let to = guest_modules.join("kernel").join(file);
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::copy(&from, &to)?;
            }
        }
        ramfs.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)?;
        ramfs.add_file("etc/group", b"root:x:0:\n", 0o644)?;
        ramfs.add_file("etc/hosts", b"127.0.0.1 localhost\n", 0o644)?;
        Ok(ramfs)
    }

    /// Copies a host program to `guest` (an absolute guest path) with every library `ldd`
    /// lists for it.
    pub fn add_program(&self, host: &Path, guest: &str) -> Result<()> {
        self.copy_in(host, guest)?;
        let ldd = Command::new("ldd")
            .arg(host)
            .output()
            .with_context(|| format!("ldd {}", host.display()))?;
        for lib in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let guest_lib = lib.to_string();
            if !self.root.join(guest_lib.trim_start_matches('/')).exists() {
                self.copy_in(Path::new(lib), &guest_lib)?;
            }
        }
        Ok(())
    }

    /// Carries Debian's python (`/usr/bin/python3` and its standard library, without the test
    /// suites and GUI parts) into the guest with the named packages of
    /// `/usr/lib/python3/dist-packages` (e.g. `aiosmtpd`, with its dependencies `public`
    /// and `attr`). The guest runs it as
    /// `PYTHONPATH=/usr/lib/python3/dist-packages python3 -S …` (no site hooks).
    pub fn add_python(&self, packages: &[&str]) -> Result<()> {
        const PYTHON: &str = "/usr/bin/python3";
        self.add_program(Path::new(PYTHON), PYTHON)?;
        let real = fs::canonicalize(PYTHON)?;
        let version = real
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.starts_with("python3."))
            .with_context(|| format!("{} is not python3.N", real.display()))?
            .to_string();
        let stdlib = Path::new("/usr/lib").join(&version);
        let guest_stdlib = self.root.join("usr/lib").join(&version);
        fs::create_dir_all(&guest_stdlib)?;
        const SKIPPED: &[&str] = &[
            "test",
            "idlelib",
            "tkinter",
            "ensurepip",
            "lib2to3",
            "pydoc_data",
            "turtledemo",
            "unittest",
            "distutils",
            "sqlite3",
            "venv",
        ];
        for entry in fs::read_dir(&stdlib)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if SKIPPED.contains(&name.as_str()) || name.starts_with("config-") {
                continue;
            }
            run_ok(
                Command::new("cp")
                    .arg("-a")
                    .arg(entry.path())
                    .arg(&guest_stdlib),
            )?;
        }
        // The extension modules' own libraries (libssl, libffi, liblzma, …).
        for entry in fs::read_dir(stdlib.join("lib-dynload"))?.flatten() {
            let ldd = Command::new("ldd").arg(entry.path()).output()?;
            for lib in String::from_utf8_lossy(&ldd.stdout)
                .split_whitespace()
                .filter(|w| w.starts_with('/'))
            {
                if !self.root.join(lib.trim_start_matches('/')).exists() {
                    self.copy_in(Path::new(lib), lib)?;
                }
            }
        }
        let site = Path::new("/usr/lib/python3/dist-packages");
        let guest_site = self.root.join("usr/lib/python3/dist-packages");
        fs::create_dir_all(&guest_site)?;
        for package in packages {
            run_ok(
                Command::new("cp")
                    .arg("-a")
                    .arg(site.join(package))
                    .arg(&guest_site),
            )?;
        }
        Ok(())
    }

    fn copy_in(&self, host: &Path, guest: &str) -> Result<()> {
        let to = self.root.join(guest.trim_start_matches('/'));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        // Follow symlinks: the guest gets the file itself under the name asked for.
        fs::copy(host, &to)
            .with_context(|| format!("copying {} into the guest", host.display()))?;
        Ok(())
    }

    /// Writes a file at `guest` (relative or absolute guest path) with `mode`.
    pub fn add_file(&self, guest: &str, content: &[u8], mode: u32) -> Result<()> {
        let to = self.root.join(guest.trim_start_matches('/'));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&to, content).with_context(|| format!("writing {}", to.display()))?;
        fs::set_permissions(&to, fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    /// Sets the guest's `/init`: the fixed preamble (IPVS loaded, `lo` up, fd 3 on the results
    /// port), then `script`, then power-off.
    pub fn set_script(&self, script: &str) -> Result<()> {
        let init = format!("{INIT_PREAMBLE}\n{script}\n{INIT_END}");
        self.add_file("init", init.as_bytes(), 0o755)
    }

    /// Packs the tree as a gzip'ed newc cpio archive at `out`.
    pub fn build(&self, out: &Path) -> Result<()> {
        let file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let status = Command::new("sh")
            .arg("-c")
            .arg("find . | cpio -o -H newc --quiet | gzip -1")
            .current_dir(&self.root)
            .stdout(file)
            .status()
            .context("running cpio")?;
        if !status.success() {
            bail!("cpio | gzip failed: {status}");
        }
        Ok(())
    }
}

/// What a boot produced.
#[derive(Debug, Clone)]
pub struct BootOutput {
    /// The kernel console (first serial port).
    pub console: String,
    /// What the script wrote to fd 3 (second serial port).
    pub results: String,
    /// Whether the script reached its end (`LAB-END`) before the timeout.
    pub finished: bool,
    /// Wall time of the boot.
    pub elapsed: Duration,
}

/// Boots `kernel` with `initrd` (1 GiB, no network, no KVM) and waits at most `timeout` for
/// the guest to power off; `work` holds the serial port files.
pub fn boot(kernel: &Kernel, initrd: &Path, work: &Path, timeout: Duration) -> Result<BootOutput> {
    boot_on(kernel, initrd, work, timeout, None)
}

/// [`boot`], with the guest on `net` when given: QEMU runs inside the network's namespace and
/// the guest gets its tap device as a virtio-net card (which the guest's script brings up
/// after `modprobe virtio_pci virtio_net`); without it the guest has no network card.
pub fn boot_on(
    kernel: &Kernel,
    initrd: &Path,
    work: &Path,
    timeout: Duration,
    net: Option<&TapNet>,
) -> Result<BootOutput> {
    let console_path = work.join("console.log");
    let results_path = work.join("results.log");
    let _ = fs::remove_file(&results_path);
    let console = fs::File::create(&console_path)?;
    let started = Instant::now();
    const QEMU: &str = "qemu-system-x86_64";
    let mut command = net.map_or_else(|| Command::new(QEMU), |n| n.command(QEMU));
    match net {
        Some(_) => command.args([
            "-netdev",
            &format!("tap,id=n0,ifname={TAP_IF},script=no,downscript=no"),
            "-device",
            "virtio-net-pci,netdev=n0",
        ]),
        None => command.args(["-nic", "none"]),
    };
    let mut child = command
        .args(["-m", "1024", "-smp", "1", "-kernel"])
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args([
            "-append",
            "console=ttyS0 panic=-1 quiet",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
        ])
        .arg(format!("file:{}", console_path.display()))
        .arg("-serial")
        .arg(format!("file:{}", results_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(console.try_clone()?)
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let timed_out = wait_until(&mut child, started + timeout, |child| {
        let _ = child.kill();
    })?;
    let console = String::from_utf8_lossy(&fs::read(&console_path).unwrap_or_default()).into();
    let results: String =
        String::from_utf8_lossy(&fs::read(&results_path).unwrap_or_default()).replace('\r', "");
    let finished = !timed_out && results.lines().any(|l| l == "LAB-END");
    Ok(BootOutput {
        console,
        results,
        finished,
        elapsed: started.elapsed(),
    })
}

/// A fresh work directory under the system temp dir, unique to this process and `name`.
pub fn work_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("klab-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Splits the results of a boot into sections: a line `=== NAME` starts section NAME.
pub fn sections(results: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in results.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            out.push((name.trim().to_string(), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line.to_string());
        }
    }
    out
}

/// Appends a line to a log file, for keeping a boot's console next to a failing test.
pub fn keep(path: &Path, text: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_markers() {
        let s = sections("noise\n=== a\n1\n2\n=== b\n\n=== c\n3\n");
        assert_eq!(
            s,
            vec![
                ("a".to_string(), vec!["1".to_string(), "2".to_string()]),
                ("b".to_string(), vec![String::new()]),
                ("c".to_string(), vec!["3".to_string()]),
            ]
        );
    }
}
