//! Script security at run time (compat.md section 6), as keepalived 2.2.7's VRRP process
//! applies it when it loads the configuration: every check and notify script is found and
//! inspected; with `enable_script_security` a script that would run as root from a file or
//! directory a non-root user can change is disabled, and the log names the file
//! (`Unsafe permissions found for script 'PATH' - disabling.`). Without it the script still
//! runs and the same line ends with a plain full stop.

use std::path::Path;

use keepalived_config::Config;
use keepalived_config::model::Command;
use keepalived_track::security::{SECURITY_VIOLATION_LOG, inspect_script};

use crate::logger::Logger;

/// Disables what script security refuses in `config`, logging each refusal; `user` resolves a
/// user name to `(uid, gid)`.
pub fn enforce(config: &mut Config, logger: &Logger, user: &impl Fn(&str) -> Option<(u32, u32)>) {
    let enforcing = config.global.enable_script_security;
    let mut unsafe_found = false;
    let default_user = config
        .global
        .script_user
        .as_ref()
        .and_then(|r| user(&r.user));
    for script in &mut config.scripts {
        let Some(command) = &script.command else {
            continue;
        };
        let run_as = script
            .user
            .as_ref()
            .and_then(|r| user(&r.user))
            .or(default_user);
        if !allowed(command, run_as, enforcing, logger, &mut unsafe_found) && !script.disabled {
            script.disabled = true;
            logger.info(&format!(
                "Disabling track script {} due to insecure",
                script.name
            ));
        }
    }
    for instance in &mut config.instances {
        let notify = &mut instance.notify;
        for slot in [
            &mut notify.master,
            &mut notify.backup,
            &mut notify.fault,
            &mut notify.stop,
            &mut notify.generic,
        ] {
            if slot
                .as_ref()
                .is_some_and(|c| !allowed(c, default_user, enforcing, logger, &mut unsafe_found))
            {
                *slot = None;
            }
        }
    }
    if unsafe_found && !enforcing {
        logger.warning(SECURITY_VIOLATION_LOG);
    }
}

/// Whether `command` may run as `run_as`; logs why not, and warns about an unsafe script that
/// runs anyway because script security is off.
fn allowed(
    command: &Command,
    run_as: Option<(u32, u32)>,
    enforcing: bool,
    logger: &Logger,
    unsafe_found: &mut bool,
) -> bool {
    let Some(program) = command.argv.first() else {
        return false;
    };
    match inspect_script(Path::new(program), run_as) {
        Err(problem) => {
            logger.info(&problem.log_line());
            false
        }
        Ok(check) => {
            if let Some(line) = check.path_search_log_line() {
                logger.info(&line);
            }
            match check.unsafe_log_line(enforcing) {
                Some(line) => {
                    logger.warning(&line);
                    *unsafe_found = true;
                    !enforcing
                }
                None => true,
            }
        }
    }
}
