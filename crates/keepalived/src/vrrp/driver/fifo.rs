//! `vrrp_notify_fifo` / `notify_fifo` and their `_script`, and `notify_priority_changes`: one
//! line per state change written to a FIFO, as keepalived 2.2.7 writes them (observed with
//! 2.2.7, crates/keepalived/tests/notify_fifo_lab.rs):
//!
//! - `INSTANCE "VI_1" MASTER 100`: an instance entered BACKUP, MASTER or FAULT, with its
//!   effective priority; `INSTANCE "VI_1" STOP 100` when it stops;
//! - `GROUP "G1" MASTER 0`: a sync group did (priority always 0);
//! - `INSTANCE "VI_1" MASTER_PRIORITY 70`: with `notify_priority_changes` (instance, else its
//!   sync group's, else `vrrp_notify_priority_changes` of global_defs), its effective priority
//!   changed, prefixed by its state.
//!
//! `vrrp_notify_fifo` wins over `notify_fifo` (which 2.2.7 shares with the checker); a FIFO
//! that does not exist is made at start and removed at the stop, one that exists is used and
//! left. It is opened read-write and non-blocking, as 2.2.7 does, so writing never waits for a
//! reader and never fails for want of one; the lines wait in the pipe until read (a full pipe
//! drops lines, said once in the log). The `_script`, if any, runs at start with the FIFO's
//! path as its only argument (as `script_user`), and is sent SIGTERM at the stop.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use keepalived_config::Config;
use keepalived_config::model::RawSetting;
use keepalived_vrrp::instance::State;

use super::super::wording;
use crate::logger::Logger;

/// What the configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoPlan {
    /// The FIFO.
    pub path: PathBuf,
    /// The script reading it, as words.
    pub script: Option<Vec<String>>,
    /// The user the script runs as (`script_user`).
    pub user: Option<(u32, u32)>,
    /// The instances whose priority changes are written too.
    pub priority_changes: Vec<String>,
}

fn raw<'a>(settings: &'a [RawSetting], keyword: &str) -> Option<&'a RawSetting> {
    settings.iter().rev().find(|s| s.keyword == keyword)
}

/// A flag written as `KEYWORD [true|false]` (alone: on), the last one written; `None` when
/// absent. A word that is no boolean counts as on (the reader has reported it).
fn setting(settings: &[RawSetting], keyword: &str) -> Option<bool> {
    raw(settings, keyword).map(|s| {
        s.args
            .first()
            .and_then(|w| keepalived_config::values::parse_bool(w))
            .unwrap_or(true)
    })
}

/// The FIFO `config` asks for, if any; `user` resolves `script_user`.
pub fn plan(config: &Config, user: impl Fn(&str) -> Option<(u32, u32)>) -> Option<FifoPlan> {
    let global = &config.global;
    let words = |keyword: &str| raw(&global.other, keyword).map(|s| s.args.clone());
    let (path, script) = match &global.vrrp_notify_fifo {
        Some(path) => (path.clone(), words("vrrp_notify_fifo_script")),
        None => {
            let path = words("notify_fifo")?.into_iter().next()?;
            (path, words("notify_fifo_script"))
        }
    };
    let everyone = setting(&global.other, "vrrp_notify_priority_changes").unwrap_or(false);
    // An instance's own `notify_priority_changes` wins, then its sync group's, then
    // global_defs' (observed with 2.2.7: `notify_priority_changes false` in an instance of a
    // group that sets it stays off; the group writes no priority line of its own).
    let group_of = |name: &str| {
        config
            .sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|i| i == name))
    };
    let priority_changes = config
        .instances
        .iter()
        .filter(|i| {
            setting(&i.other, "notify_priority_changes")
                .or_else(|| {
                    group_of(&i.name).and_then(|g| setting(&g.other, "notify_priority_changes"))
                })
                .unwrap_or(everyone)
        })
        .map(|i| i.name.to_string())
        .collect();
    Some(FifoPlan {
        path: PathBuf::from(path),
        script: script.filter(|w| !w.is_empty()),
        user: global.script_user.as_ref().and_then(|r| user(&r.user)),
        priority_changes,
    })
}

/// The word 2.2.7 writes for a state (`STOP` for the stop).
fn word(state: State) -> &'static str {
    match state {
        State::Initialize => "STOP",
        other => wording::state_word(other),
    }
}

/// `INSTANCE "VI_1" MASTER 100`.
pub fn instance_line(name: &str, state: State, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {} {priority}", word(state))
}

/// `GROUP "G1" MASTER 0`.
pub fn group_line(name: &str, state: State) -> String {
    format!("GROUP \"{name}\" {} 0", word(state))
}

/// `INSTANCE "VI_1" MASTER_PRIORITY 70`.
pub fn priority_line(name: &str, state: State, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {}_PRIORITY {priority}", word(state))
}

/// The open FIFO and its script.
pub struct NotifyFifo {
    plan: FifoPlan,
    file: File,
    created: bool,
    script: Option<Child>,
    reported_full: bool,
    logger: Logger,
}

impl NotifyFifo {
    /// Makes (if needed) and opens the FIFO, and starts its script. Failures are logged and
    /// give None.
    pub fn open(plan: FifoPlan, logger: Logger) -> Option<NotifyFifo> {
        let path = plan.path.clone();
        let mut created = false;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.file_type().is_fifo() => {}
            Ok(_) => {
                logger.info(&format!(
                    "notify FIFO {} exists and is not a FIFO - ignoring",
                    path.display()
                ));
                return None;
            }
            Err(_) => {
                let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
                if let Err(err) = nix::unistd::mkfifo(&path, mode) {
                    logger.info(&format!(
                        "Unable to create notify FIFO {} - {err}",
                        path.display()
                    ));
                    return None;
                }
                created = true;
            }
        }
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(&path)
        {
            Ok(file) => file,
            Err(err) => {
                logger.info(&format!(
                    "Unable to open notify FIFO {} - {err}",
                    path.display()
                ));
                if created {
                    let _ = std::fs::remove_file(&path);
                }
                return None;
            }
        };
        let script = plan.script.as_ref().and_then(|words| {
            let (program, args) = words.split_first()?;
            let mut command = Command::new(program);
            command
                .args(args)
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0);
            if let Some((uid, gid)) = plan.user {
                command.uid(uid).gid(gid);
            }
            match command.spawn() {
                Ok(child) => Some(child),
                Err(err) => {
                    logger.info(&format!(
                        "Unable to run notify FIFO script {program} - {err}"
                    ));
                    None
                }
            }
        });
        Some(NotifyFifo {
            plan,
            file,
            created,
            script,
            reported_full: false,
            logger,
        })
    }

    /// Whether instance `name` has its priority changes written.
    pub fn wants_priority(&self, name: &str) -> bool {
        self.plan.priority_changes.iter().any(|n| n == name)
    }

    /// Writes one line; never waits.
    pub fn write(&mut self, line: &str) {
        let text = format!("{line}\n");
        if let Err(err) = self.file.write_all(text.as_bytes())
            && !self.reported_full
        {
            self.reported_full = true;
            self.logger.info(&format!(
                "Writing to notify FIFO {} failed - {err}; lines are dropped until it is read",
                self.plan.path.display()
            ));
        }
    }

    /// The stop: the script gets SIGTERM, a FIFO made at start is removed.
    pub fn close(mut self) {
        if let Some(mut child) = self.script.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            // Reaped on a thread of its own: the stop does not wait for the script.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        if self.created {
            let _ = std::fs::remove_file(&self.plan.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    #[test]
    fn lines_as_keepalived_writes_them() {
        assert_eq!(
            instance_line("VI_1", State::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100"
        );
        assert_eq!(
            instance_line("VI_1", State::Initialize, 110),
            "INSTANCE \"VI_1\" STOP 110"
        );
        assert_eq!(group_line("G1", State::Fault), "GROUP \"G1\" FAULT 0");
        assert_eq!(
            priority_line("VI_1", State::Backup, 120),
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 120"
        );
    }

    fn load(text: &str) -> Config {
        let host = FakeHost::lab();
        load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn the_vrrp_fifo_wins_and_priority_changes_are_per_instance() {
        let text = "global_defs {\n notify_fifo /run/all\n notify_fifo_script /bin/all\n\
                    vrrp_notify_fifo /run/v\n vrrp_notify_fifo_script /bin/v x\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                    notify_priority_changes\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let plan = plan(&load(text), |_| None).expect("a fifo");
        assert_eq!(plan.path, PathBuf::from("/run/v"));
        assert_eq!(
            plan.script,
            Some(vec!["/bin/v".to_string(), "x".to_string()])
        );
        assert_eq!(plan.priority_changes, vec!["A".to_string()]);
        let text = "global_defs {\n notify_fifo /run/all\n vrrp_notify_priority_changes\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let plan = super::plan(&load(text), |_| None).expect("a fifo");
        assert_eq!(plan.path, PathBuf::from("/run/all"));
        assert_eq!(plan.script, None);
        assert_eq!(plan.priority_changes, vec!["B".to_string()]);
        assert!(super::plan(&load("global_defs {\n router_id x\n}\n"), |_| None).is_none());
    }

    #[test]
    fn an_instance_setting_wins_over_its_group_and_the_group_over_global_defs() {
        let instances = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
                         virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                         vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
                         notify_priority_changes false\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n\
                         vrrp_instance C {\n interface eth0\n virtual_router_id 3\n\
                         virtual_ipaddress {\n 192.0.2.3\n }\n}\n";
        let group = |npc: &str| {
            format!(
                "vrrp_sync_group G {{\n group {{\n A\n B\n }}\n notify_priority_changes{npc}\n}}\n"
            )
        };
        // The group's setting reaches A, not B (which says false).
        let text = format!(
            "global_defs {{\n notify_fifo /run/f\n}}\n{}{instances}",
            group("")
        );
        let got = super::plan(&load(&text), |_| None).expect("a fifo");
        assert_eq!(got.priority_changes, vec!["A".to_string()]);
        // global_defs on, the group off: only C, outside the group.
        let text = format!(
            "global_defs {{\n notify_fifo /run/f\n vrrp_notify_priority_changes\n}}\n{}{instances}",
            group(" false")
        );
        let got = super::plan(&load(&text), |_| None).expect("a fifo");
        assert_eq!(got.priority_changes, vec!["C".to_string()]);
        // global_defs off written out: none.
        let text = format!(
            "global_defs {{\n notify_fifo /run/f\n vrrp_notify_priority_changes off\n}}\n{instances}"
        );
        assert!(
            super::plan(&load(&text), |_| None)
                .expect("a fifo")
                .priority_changes
                .is_empty()
        );
    }
}
