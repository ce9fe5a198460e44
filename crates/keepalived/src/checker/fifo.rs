//! The checker's side of the notify FIFO, as keepalived 2.2.7 writes it: with `notify_fifo`
//! (shared with the VRRP child) and `lvs_notify_fifo` (the checker's own) in global_defs, one
//! line per change wherever 2.2.7 runs a notify script, whether the server has one or not:
//!
//! - `VS [198.51.100.10]:tcp:80 UP` / `DOWN`: a virtual server gained or lost its quorum (as
//!   `quorum_up` / `quorum_down` run);
//! - `RS [192.0.2.11]:tcp:80 [198.51.100.10]:tcp:80 UP` / `DOWN`: a real server came into or
//!   left its virtual server's pool (as `notify_up` / `notify_down` run; with `omega`, also
//!   at the stop).
//!
//! Both FIFOs get every line. They are opened as the VRRP side opens its own
//! ([`crate::vrrp::driver::fifo::NotifyFifo`]: made if missing and removed at the stop, opened
//! read-write and non-blocking so a missing reader delays nothing); `lvs_notify_fifo_script`
//! runs with the FIFO's path as its last argument. `notify_fifo_script` is the VRRP child's to
//! run (one copy of the script for the shared FIFO).

use std::path::PathBuf;

use keepalived_config::Config;

use crate::logger::Logger;
use crate::vrrp::driver::fifo::{FifoPlan, NotifyFifo};

/// `VS NAME UP|DOWN`.
pub fn vs_line(vs: &str, up: bool) -> String {
    format!("VS {vs} {}", word(up))
}

/// `RS NAME VS UP|DOWN`.
pub fn rs_line(rs: &str, vs: &str, up: bool) -> String {
    format!("RS {rs} {vs} {}", word(up))
}

fn word(up: bool) -> &'static str {
    if up { "UP" } else { "DOWN" }
}

/// The words of global_defs setting `keyword`, the last one written.
fn words(config: &Config, keyword: &str) -> Option<Vec<String>> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| s.keyword == keyword)
        .map(|s| s.args.clone())
}

/// The FIFOs the checker writes to: `notify_fifo` (without its script) and `lvs_notify_fifo`
/// (with `lvs_notify_fifo_script`), each when written.
pub fn plans(config: &Config, user: Option<(u32, u32)>) -> Vec<FifoPlan> {
    let mut out = Vec::new();
    for (fifo, script) in [
        ("notify_fifo", None),
        ("lvs_notify_fifo", Some("lvs_notify_fifo_script")),
    ] {
        let Some(path) = words(config, fifo).and_then(|w| w.into_iter().next()) else {
            continue;
        };
        out.push(FifoPlan {
            path: PathBuf::from(path),
            script: script
                .and_then(|k| words(config, k))
                .filter(|w| !w.is_empty()),
            user,
            priority_changes: Vec::new(),
        });
    }
    out
}

/// The open FIFOs of the checker.
pub struct CheckerFifos {
    open: Vec<NotifyFifo>,
}

impl CheckerFifos {
    /// Opens the FIFOs `config` names (failures are logged and leave that FIFO out).
    pub fn open(config: &Config, user: Option<(u32, u32)>, logger: &Logger) -> CheckerFifos {
        CheckerFifos {
            open: plans(config, user)
                .into_iter()
                .filter_map(|plan| NotifyFifo::open(plan, logger.clone()))
                .collect(),
        }
    }

    /// Writes `lines` to every FIFO, in order; never waits.
    pub fn write(&mut self, lines: Vec<String>) {
        for line in &lines {
            for fifo in &mut self.open {
                fifo.write(line);
            }
        }
    }

    /// The stop: scripts get SIGTERM, FIFOs made at start are removed.
    pub fn close(self) {
        for fifo in self.open {
            fifo.close();
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
            vs_line("[198.51.100.10]:tcp:80", true),
            "VS [198.51.100.10]:tcp:80 UP"
        );
        assert_eq!(
            rs_line("[192.0.2.11]:tcp:80", "[198.51.100.10]:tcp:80", false),
            "RS [192.0.2.11]:tcp:80 [198.51.100.10]:tcp:80 DOWN"
        );
    }

    #[test]
    fn both_fifos_only_the_lvs_one_with_its_script() {
        let text = "global_defs {\n notify_fifo /run/all\n notify_fifo_script /bin/all\n\
                    lvs_notify_fifo /run/lvs\n lvs_notify_fifo_script /bin/lvs x\n}\n";
        let host = FakeHost::lab();
        let config = load_str(text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config;
        let plans = plans(&config, Some((1, 2)));
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].path, PathBuf::from("/run/all"));
        assert_eq!(plans[0].script, None);
        assert_eq!(plans[1].path, PathBuf::from("/run/lvs"));
        assert_eq!(
            plans[1].script,
            Some(vec!["/bin/lvs".to_string(), "x".to_string()])
        );
        assert_eq!(plans[1].user, Some((1, 2)));
        let none = load_str(
            "global_defs {\n router_id x\n}\n",
            Path::new("/k.conf"),
            &LoadOptions::for_host(&host),
        )
        .config;
        assert!(super::plans(&none, None).is_empty());
    }
}
