//! What the control socket asks of the driver beyond a snapshot: drain and undrain. Which
//! instances a request names is decided by [`resolve`] (pure); what draining does to the
//! protocol is the engine's ([`keepalived_vrrp::instance::Instance::set_drained`]).

use std::time::Instant;

use super::super::wording;
use super::Driver;
use crate::control::protocol::Target;

/// The instances `target` names among `running` (configuration order), or why it names none.
pub fn resolve(target: &Target, running: &[&str]) -> Result<Vec<String>, String> {
    match target {
        Target::All if running.is_empty() => Err("no instance is running".to_string()),
        Target::All => Ok(running.iter().map(ToString::to_string).collect()),
        Target::One(name) if running.contains(&name.as_str()) => Ok(vec![name.clone()]),
        Target::One(name) => Err(format!(
            "no instance named \"{name}\" (running: {})",
            running.join(", ")
        )),
    }
}

impl Driver {
    /// Drains (`drain`) or undrains the instances `target` names; the drain is remembered by
    /// name, so a reload keeps it. Nothing changes when `target` names no running instance.
    pub(super) async fn drain(
        &mut self,
        target: &Target,
        drain: bool,
    ) -> Result<Vec<String>, String> {
        let names: Vec<&str> = self
            .running
            .iter()
            .map(|r| r.plan.config.name.as_str())
            .collect();
        let chosen = resolve(target, &names)?;
        let now = Instant::now();
        for name in &chosen {
            if drain {
                self.drained.insert(name.clone());
            } else {
                self.drained.remove(name);
            }
            for i in 0..self.running.len() {
                if &self.running[i].plan.config.name == name {
                    let what = if drain { "drained" } else { "undrained" };
                    self.logger
                        .info(&wording::about(name, &format!("{what} by the operator")));
                    self.running[i].instance.set_drained(now, drain);
                    self.execute(i).await;
                }
            }
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_names_running_instances_or_nothing() {
        let running = ["VI_1", "VI_2"];
        assert_eq!(
            resolve(&Target::All, &running),
            Ok(vec!["VI_1".to_string(), "VI_2".to_string()])
        );
        assert_eq!(
            resolve(&Target::One("VI_2".into()), &running),
            Ok(vec!["VI_2".to_string()])
        );
        let err = resolve(&Target::One("VI_9".into()), &running).expect_err("unknown");
        assert!(err.contains("no instance named \"VI_9\"") && err.contains("VI_1, VI_2"));
        assert!(resolve(&Target::All, &[]).is_err());
    }
}
