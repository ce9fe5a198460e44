//! A second real-kernel lab: User-mode Linux, Debian's `user-mode-linux` package. It is a Linux
//! kernel (6.1 in Debian 12) built to run as an ordinary process, with IPVS, nlmon, dummy and
//! veth as modules. Unlike the QEMU lab ([`crate::qemu`]), which emulates every instruction, a
//! UML guest runs its programs' code natively and boots in about two seconds; its system calls
//! and page faults are trapped through ptrace instead, at tens of microseconds each, so a
//! figure measured in it weighs those far more than a native kernel would.
//!
//! The guest's root file system is this machine's own (`hostfs`), so host programs (keepalived
//! 2.2.7, ipvsadm, iproute2, our binaries) run in it as they are, with no initramfs to build.
//! The guest's script runs as root on the host's files: it must write only below `/run` (a
//! tmpfs of the guest's own) or in the run's work directory. The guest has no network device
//! beside those its script makes inside it (dummy, veth), so nothing it sends leaves it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::process::{Signal, signal_group, wait_until};
use crate::qemu::{download, unpack};

/// The Debian package holding the kernel.
const PACKAGE: &str = "user-mode-linux";

/// An unpacked UML kernel and a module tree `modprobe -d` can use.
#[derive(Debug, Clone)]
pub struct UmlKernel {
    /// The kernel release, e.g. `6.1.176`.
    pub release: String,
    /// The kernel, an ordinary executable.
    pub linux: PathBuf,
    /// A directory whose `lib/modules/RELEASE` is the package's module tree, for `modprobe -d`.
    pub module_root: PathBuf,
}

/// Downloads (once) and unpacks the UML kernel into `cache` (the QEMU lab's cache directory).
pub fn prepare(cache: &Path) -> Result<UmlKernel> {
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let root = cache.join(PACKAGE);
    let linux = root.join("usr/bin/linux.uml");
    let modules = root.join("usr/lib/uml/modules");
    if !linux.is_file() {
        let deb = download(cache, PACKAGE)?;
        unpack(&deb, &root)?;
    }
    let release = fs::read_dir(&modules)
        .with_context(|| format!("reading {}", modules.display()))?
        .flatten()
        .filter(|e| e.path().join("modules.dep").is_file())
        .find_map(|e| e.file_name().to_str().map(str::to_string))
        .with_context(|| format!("no indexed module tree in {}", modules.display()))?;
    let module_root = cache.join("uml-module-root");
    let link = module_root.join("lib/modules").join(&release);
    if fs::read_link(&link).ok().as_deref() != Some(&modules.join(&release)) {
        fs::create_dir_all(module_root.join("lib/modules"))?;
        let _ = fs::remove_file(&link);
        symlink(modules.join(&release), &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(UmlKernel {
        release,
        linux,
        module_root,
    })
}

/// What a UML run left.
#[derive(Debug)]
pub struct UmlOutput {
    /// The kernel's console.
    pub console: String,
    /// What the guest's script wrote to file descriptor 3.
    pub results: String,
    /// Whether the script ran to its end within the time allowed.
    pub finished: bool,
    /// How long the run took.
    pub elapsed: Duration,
}

/// The start of the guest's init: its own /proc, /sys and /run, modules loaded from the UML
/// tree (the kernel's own requests too, through a wrapper), IPVS, loopback up; the results
/// file on descriptor 3.
const INIT_PREAMBLE: &str = r#"#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs run /run
echo WORK/modprobe > /proc/sys/kernel/modprobe
modprobe() { WORK/modprobe "$@"; }
modprobe ip_vs
ip link set lo up
exec 3>>WORK/results.log
"#;

const INIT_END: &str = r#"
echo "LAB-END" >&3
echo o > /proc/sysrq-trigger
"#;

/// Boots `kernel` with `mem_mib` MiB, runs `script` (POSIX sh; results to descriptor 3) as the
/// guest's init, and returns when the guest powers off or `timeout` has passed (then the whole
/// process group is killed). `work` holds the init, the module wrapper and the logs.
pub fn run(
    kernel: &UmlKernel,
    work: &Path,
    script: &str,
    mem_mib: u32,
    timeout: Duration,
) -> Result<UmlOutput> {
    let work_str = work
        .to_str()
        .context("the work directory's path is not UTF-8")?;
    let modprobe = work.join("modprobe");
    write_executable(
        &modprobe,
        &format!(
            "#!/bin/sh\nexec /sbin/modprobe -d {} \"$@\"\n",
            kernel.module_root.display()
        ),
    )?;
    let init = work.join("init");
    let text = format!(
        "{}{script}{INIT_END}",
        INIT_PREAMBLE.replace("WORK", work_str)
    );
    write_executable(&init, &text)?;
    let results_path = work.join("results.log");
    let console_path = work.join("console.log");
    let _ = fs::remove_file(&results_path);
    let console = fs::File::create(&console_path)?;
    let started = Instant::now();
    let mut child = Command::new(&kernel.linux)
        .arg(format!("mem={mem_mib}M"))
        .args(["root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw"])
        .arg(format!("init={}", init.display()))
        .args(["con=null", "con0=fd:0,fd:1"])
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", kernel.linux.display()))?;
    let timed_out = wait_until(&mut child, started + timeout, |child| {
        let _ = signal_group(child.id(), Signal::Kill);
    })?;
    // The kernel's helper processes end with it; a guest that hung may leave some.
    let _ = signal_group(child.id(), Signal::Kill);
    let results: String =
        String::from_utf8_lossy(&fs::read(&results_path).unwrap_or_default()).into();
    let finished = !timed_out && has_end(&results);
    Ok(UmlOutput {
        console: String::from_utf8_lossy(&fs::read(&console_path).unwrap_or_default()).into(),
        results,
        finished,
        elapsed: started.elapsed(),
    })
}

/// Whether the results end with the guest's last line (the script ran to its end).
fn has_end(results: &str) -> bool {
    results.lines().any(|l| l == "LAB-END")
}

fn write_executable(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_finished_only_with_the_end_line() {
        assert!(has_end("a\nLAB-END\n"));
        assert!(!has_end("a\nLAB-ENDED\n"));
        assert!(!has_end(""));
    }

    #[test]
    fn the_preamble_names_the_work_directory_everywhere() {
        let text = INIT_PREAMBLE.replace("WORK", "/tmp/w");
        assert!(!text.contains("WORK"));
        assert!(text.contains("echo /tmp/w/modprobe > /proc/sys/kernel/modprobe"));
        assert!(text.contains("exec 3>>/tmp/w/results.log"));
    }
}
