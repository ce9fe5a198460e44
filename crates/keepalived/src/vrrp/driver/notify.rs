//! notify_master / notify_backup / notify_fault / notify_stop and the generic `notify`: the
//! commands a transition queues (a pure function), and the task per instance that runs them
//! one after the other, in the order of the transitions, so the protocol never waits for them.

use keepalived_config::model::{Command, NotifyScripts};
use keepalived_track::{Outcome, ScriptSpec, run_once};
use keepalived_vrrp::instance::State;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::setup::InstancePlan;
use super::super::wording;
use crate::logger::Logger;

/// How long one notify command may run before it is killed.
const NOTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// One notify command and the user it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCommand {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// `(uid, gid)`: the command's own `USER [GROUP]`, else the instance's notify user.
    pub uid_gid: Option<(u32, u32)>,
}

/// The commands instance `plan` runs on entering `state` with `priority`: the state's own
/// command, then the generic `notify` with its four extra arguments (compat.md section 6).
pub fn commands(plan: &InstancePlan, state: State, priority: u8) -> Vec<NotifyCommand> {
    let who = ("INSTANCE", plan.config.name.as_str());
    state_commands(&plan.notify, plan.notify_user, who, state, priority)
}

/// The commands `notify` runs on entering `state`: the state's own command, then the generic
/// `notify` with `KIND NAME STATE PRIORITY` (`who` is the kind and name: `INSTANCE VI_1`,
/// `GROUP G1`). A command runs as its own `USER [GROUP]`, else as `default_user`.
pub fn state_commands(
    notify: &NotifyScripts,
    default_user: Option<(u32, u32)>,
    who: (&str, &str),
    state: State,
    priority: u8,
) -> Vec<NotifyCommand> {
    let own = match state {
        State::Master => &notify.master,
        State::Backup => &notify.backup,
        State::Fault => &notify.fault,
        State::Initialize => &notify.stop,
    };
    let word = match state {
        State::Initialize => "STOP",
        other => wording::state_word(other),
    };
    let user = |command: &Command| command.run_as_ids.or(default_user);
    let mut out = Vec::new();
    if let Some(command) = own {
        out.push(NotifyCommand {
            argv: command.argv.clone(),
            uid_gid: user(command),
        });
    }
    if let Some(command) = &notify.generic {
        let (kind, name) = who;
        let mut argv = command.argv.clone();
        argv.extend([
            kind.to_string(),
            name.to_string(),
            word.to_string(),
            priority.to_string(),
        ]);
        out.push(NotifyCommand {
            argv,
            uid_gid: user(command),
        });
    }
    out
}

/// Whether `plan` has any notify command (only then does it get a notifier task).
pub fn has_commands(plan: &InstancePlan) -> bool {
    let n = &plan.notify;
    [&n.master, &n.backup, &n.fault, &n.stop, &n.generic]
        .iter()
        .any(|c| c.is_some())
}

/// The queue of one instance's notify commands and the task that runs them.
pub struct Notifier {
    queue: mpsc::UnboundedSender<NotifyCommand>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts the task of instance `plan`, running each command as its user.
    pub fn spawn(plan: &InstancePlan, logger: Logger) -> Notifier {
        Notifier::spawn_named(plan.config.name.clone(), logger)
    }

    /// Starts the task of the instance or sync group `instance`, running each command as its
    /// user.
    pub fn spawn_named(instance: String, logger: Logger) -> Notifier {
        let (queue, mut rx) = mpsc::unbounded_channel::<NotifyCommand>();
        let task = tokio::task::spawn_local(async move {
            while let Some(NotifyCommand { argv, uid_gid }) = rx.recv().await {
                let spec = ScriptSpec {
                    name: instance.clone(),
                    argv,
                    interval: NOTIFY_TIMEOUT,
                    timeout: NOTIFY_TIMEOUT,
                    rise: 1,
                    fall: 1,
                    init_fail: false,
                    uid_gid,
                };
                match run_once(&spec).await {
                    Outcome::Success | Outcome::Failure(_) => {}
                    Outcome::TimedOut => logger.info(&wording::about(
                        &instance,
                        &format!(
                            "notify script {} timed out",
                            spec.argv.first().map_or("", String::as_str)
                        ),
                    )),
                    Outcome::CannotRun(reason) => {
                        logger.info(&wording::about(&instance, &format!("notify: {reason}")))
                    }
                }
            }
        });
        Notifier { queue, task }
    }

    /// Queues `commands`.
    pub fn queue(&self, commands: Vec<NotifyCommand>) {
        for command in commands {
            let _ = self.queue.send(command);
        }
    }

    /// The task, to wait for what is still queued when stopping.
    pub fn into_task(self) -> JoinHandle<()> {
        self.task
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::setup::{InterfaceInfo, plan};
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn plan_of(text: &str) -> InstancePlan {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: None,
                link_local: None,
            })
        };
        let mut planned = plan(&loaded.config, lookup, |_| Some((0, 0)));
        planned.instances.remove(0)
    }

    #[test]
    fn own_command_then_generic_with_instance_state_and_priority() {
        let p = plan_of(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 120\n notify_master \"/bin/echo x\"\n notify /bin/true\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
        );
        // The scripts must exist: a missing one is dropped when the file is read, as 2.2.7 does.
        assert!(has_commands(&p));
        let argvs = |state, priority| -> Vec<Vec<String>> {
            commands(&p, state, priority)
                .into_iter()
                .map(|c| c.argv)
                .collect()
        };
        assert_eq!(
            argvs(State::Master, 120),
            vec![
                vec!["/bin/echo".to_string(), "x".to_string()],
                vec!["/bin/true", "INSTANCE", "VI_1", "MASTER", "120"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ]
        );
        assert_eq!(argvs(State::Initialize, 120)[0][3], "STOP");
        assert_eq!(commands(&p, State::Backup, 90).len(), 1);
    }

    #[test]
    fn a_notify_script_s_own_user_wins() {
        let p = plan_of(
            "global_defs {\n script_user root\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n notify_master /bin/true nobody\n notify_backup /bin/true\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
        );
        assert_eq!(
            commands(&p, State::Master, 100)[0].uid_gid,
            Some((65534, 65534))
        );
        assert_eq!(commands(&p, State::Backup, 100)[0].uid_gid, Some((0, 0)));
    }
}
