//! The driver's side of `vrrp_track_process` ([`crate::vrrp::track_process`]): the tracker
//! task started (and restarted when a reload changes the tracked processes), its reports
//! logged as keepalived 2.2.7 words them, and the instances that track a process re-rated when
//! its quorum changes.

use std::time::Instant;

use keepalived_track::Tracked;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::setup::InstancePlan;
use super::super::track_process::{self, ProcessSpec, Report};
use super::Driver;

/// The tracked processes and the task that follows them.
pub struct Processes {
    /// What is tracked (the planned processes, in plan order).
    specs: Vec<ProcessSpec>,
    /// Whether each has its quorum now.
    pub up: Vec<bool>,
    /// The tracker task, while something is tracked.
    task: Option<JoinHandle<()>>,
    /// Bumped at each restart, so reports of a stopped tracker are ignored.
    generation: u64,
    /// Where the tracker reports.
    tx: mpsc::Sender<(u64, Report)>,
}

impl Processes {
    /// Nothing tracked yet; trackers will report on `tx`.
    pub fn new(tx: mpsc::Sender<(u64, Report)>) -> Processes {
        Processes {
            specs: Vec::new(),
            up: Vec::new(),
            task: None,
            generation: 0,
            tx,
        }
    }

    /// The tracked processes' names, in plan order.
    pub fn names(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// Stops the tracker task.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What `plan`'s tracked processes say, as tracked objects (up: the quorum is achieved). A
/// weight-0 `reverse` process means FAULT while its quorum is achieved (2.2.7).
pub fn tracked<'a>(plan: &'a InstancePlan, up: &'a [bool]) -> impl Iterator<Item = Tracked> + 'a {
    plan.track_processes.iter().map(|u| {
        let up = up.get(u.process).copied().unwrap_or(false);
        if u.weight == 0 {
            Tracked {
                weight: 0,
                reverse: false,
                up: up != u.reverse,
            }
        } else {
            Tracked {
                weight: u.weight,
                reverse: u.reverse,
                up,
            }
        }
    })
}

impl Driver {
    /// Tracks `specs` from now on: a changed set restarts the tracker (a first count from
    /// /proc included). Returns whether it restarted.
    pub(super) fn install_processes(&mut self, specs: Vec<ProcessSpec>) -> bool {
        if specs == self.processes.specs && (self.processes.task.is_some() || specs.is_empty()) {
            return false;
        }
        self.processes.stop();
        self.processes.generation += 1;
        self.processes.specs = specs.clone();
        if specs.is_empty() {
            self.processes.up = Vec::new();
            return true;
        }
        let started =
            track_process::start(specs, self.processes.generation, self.processes.tx.clone());
        for line in &started.lines {
            self.logger.info(line);
        }
        self.processes.up = started.up;
        self.processes.task = Some(started.task);
        true
    }

    /// Re-rates the started instances that track a process, after a restart of the tracker.
    pub(super) async fn rerate_process_trackers(&mut self, now: Instant) {
        for i in 0..self.running.len() {
            if self.running[i].started && !self.running[i].plan.track_processes.is_empty() {
                self.apply_tracking(i, now).await;
            }
        }
    }

    /// A report of the tracker: log it, or take a quorum change to the instances.
    pub(super) async fn process_report(&mut self, generation: u64, report: Report) {
        if generation != self.processes.generation {
            return;
        }
        match report {
            Report::Log(line) => self.logger.info(&line),
            Report::Quorum(change) => {
                let Some(up) = self.processes.up.get_mut(change.index) else {
                    return;
                };
                *up = change.up;
                let name = &self.processes.specs[change.index].name;
                self.logger.info(&format!(
                    "Quorum {} for tracked process {name}",
                    if change.up { "gained" } else { "lost" }
                ));
                let now = Instant::now();
                for i in 0..self.running.len() {
                    let uses = self.running[i]
                        .plan
                        .track_processes
                        .iter()
                        .any(|u| u.process == change.index);
                    if uses && self.running[i].started {
                        self.apply_tracking(i, now).await;
                    }
                }
            }
        }
    }
}
