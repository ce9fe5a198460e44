//! Counting the processes that match each tracked process, and when its quorum is gained or
//! lost (pure: events and times in, changes out; unit-tested).
//!
//! As keepalived 2.2.7 does: a child forked by a counted process is counted at once (it is a
//! copy of it); a process that execs, or renames itself, is matched again; an exit removes
//! it. A gain by a fork waits `fork_delay`, a loss by an exit `terminate_delay`, and a
//! change back within that time cancels the wait; other changes count at once.

use std::collections::BTreeSet;
use std::time::Instant;

use super::procfs::ProcInfo;
use super::spec::ProcessSpec;

/// What made a count move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A counted process forked (or a scan found a new process).
    Fork,
    /// A counted process exited (or a scan missed it).
    Exit,
    /// A process exec'd or changed its name.
    Changed,
}

/// A tracked process whose quorum changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Index into the specs.
    pub index: usize,
    /// The quorum is now achieved.
    pub up: bool,
}

/// The matching processes of every tracked process, and their quorum.
#[derive(Debug)]
pub struct Counter {
    specs: Vec<ProcessSpec>,
    pids: Vec<BTreeSet<u32>>,
    up: Vec<bool>,
    pending: Vec<Option<Instant>>,
}

impl Counter {
    /// Counts the processes of a first scan of /proc; the quorum is taken as it is, without
    /// delay.
    pub fn new(specs: Vec<ProcessSpec>, scan: &[(u32, ProcInfo)]) -> Counter {
        let pids: Vec<BTreeSet<u32>> = specs
            .iter()
            .map(|s| {
                scan.iter()
                    .filter(|(_, p)| s.matches(&p.comm, &p.cmdline))
                    .map(|(pid, _)| *pid)
                    .collect()
            })
            .collect();
        let up = specs
            .iter()
            .zip(&pids)
            .map(|(s, p)| s.has_quorum(count(p)))
            .collect();
        let pending = vec![None; specs.len()];
        Counter {
            specs,
            pids,
            up,
            pending,
        }
    }

    /// Whether each tracked process has its quorum now.
    pub fn up(&self) -> &[bool] {
        &self.up
    }

    /// How many processes match each tracked process now.
    #[cfg(test)]
    pub fn counts(&self) -> Vec<u32> {
        self.pids.iter().map(count).collect()
    }

    /// Whether some tracked process matches on the command line (so it must be read).
    pub fn needs_cmdline(&self) -> bool {
        self.specs.iter().any(|s| s.full_command)
    }

    /// `parent` forked `child`: the child counts wherever its parent does.
    pub fn fork(&mut self, parent: u32, child: u32, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.specs.len() {
            if self.pids[i].contains(&parent) && self.pids[i].insert(child) {
                changes.extend(self.settle(i, Cause::Fork, now));
            }
        }
        changes
    }

    /// `pid` exec'd or was renamed: match it again. `info` is what it is now (None: gone);
    /// `comm_only` leaves the command-line matches alone (a rename changes only the name).
    pub fn check(
        &mut self,
        pid: u32,
        info: Option<&ProcInfo>,
        comm_only: bool,
        now: Instant,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.specs.len() {
            if comm_only && self.specs[i].full_command {
                continue;
            }
            let matches = info.is_some_and(|p| self.specs[i].matches(&p.comm, &p.cmdline));
            let moved = if matches {
                self.pids[i].insert(pid)
            } else {
                self.pids[i].remove(&pid)
            };
            if moved {
                changes.extend(self.settle(i, Cause::Changed, now));
            }
        }
        changes
    }

    /// `pid` exited.
    pub fn exit(&mut self, pid: u32, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.specs.len() {
            if self.pids[i].remove(&pid) {
                changes.extend(self.settle(i, Cause::Exit, now));
            }
        }
        changes
    }

    /// A fresh scan of /proc replaces the counts (the fallback without process events, or
    /// after events were lost): new processes count as forks, missing ones as exits.
    pub fn rescan(&mut self, scan: &[(u32, ProcInfo)], now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.specs.len() {
            let found: BTreeSet<u32> = scan
                .iter()
                .filter(|(_, p)| self.specs[i].matches(&p.comm, &p.cmdline))
                .map(|(pid, _)| *pid)
                .collect();
            if found == self.pids[i] {
                continue;
            }
            let cause = if found.len() > self.pids[i].len() {
                Cause::Fork
            } else {
                Cause::Exit
            };
            self.pids[i] = found;
            changes.extend(self.settle(i, cause, now));
        }
        changes
    }

    /// The earliest delay that runs out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().flatten().min().copied()
    }

    /// The delays that ran out by `now`: their quorum is decided on the count then.
    pub fn timers_due(&mut self, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..self.specs.len() {
            if self.pending[i].is_some_and(|at| at <= now) {
                self.pending[i] = None;
                let up = self.specs[i].has_quorum(count(&self.pids[i]));
                if up != self.up[i] {
                    self.up[i] = up;
                    changes.push(Change { index: i, up });
                }
            }
        }
        changes
    }

    /// The count of `i` moved for `cause`: change its quorum now, after its delay, or not.
    fn settle(&mut self, i: usize, cause: Cause, now: Instant) -> Option<Change> {
        let want = self.specs[i].has_quorum(count(&self.pids[i]));
        if want == self.up[i] {
            self.pending[i] = None;
            return None;
        }
        let delay = match (want, cause) {
            (true, Cause::Fork) => self.specs[i].fork_delay,
            (false, Cause::Exit) => self.specs[i].terminate_delay,
            _ => None,
        };
        if let Some(delay) = delay {
            if self.pending[i].is_none() {
                self.pending[i] = Some(now + delay);
            }
            return None;
        }
        self.pending[i] = None;
        self.up[i] = want;
        Some(Change { index: i, up: want })
    }
}

fn count(pids: &BTreeSet<u32>) -> u32 {
    u32::try_from(pids.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use super::super::spec::ParamMatch;

    fn spec(quorum: u32, fork: Option<u64>, term: Option<u64>) -> ProcessSpec {
        ProcessSpec {
            name: "tp".into(),
            path: b"app".to_vec(),
            params: Vec::new(),
            param_match: ParamMatch::None,
            full_command: false,
            quorum,
            quorum_max: u32::MAX,
            fork_delay: fork.map(Duration::from_millis),
            terminate_delay: term.map(Duration::from_millis),
        }
    }

    fn info(comm: &str) -> ProcInfo {
        ProcInfo {
            comm: comm.as_bytes().to_vec(),
            cmdline: Vec::new(),
        }
    }

    #[test]
    fn the_first_scan_decides_without_delay() {
        let c = Counter::new(vec![spec(1, Some(1000), None)], &[(10, info("app"))]);
        assert_eq!(c.up(), &[true]);
        let c = Counter::new(vec![spec(2, None, None)], &[(10, info("app"))]);
        assert_eq!(c.up(), &[false]);
    }

    #[test]
    fn exit_loses_and_exec_gains_at_once() {
        let t = Instant::now();
        let mut c = Counter::new(vec![spec(1, None, None)], &[(10, info("app"))]);
        assert_eq!(
            c.exit(10, t),
            vec![Change {
                index: 0,
                up: false
            }]
        );
        assert_eq!(c.exit(10, t), vec![]);
        assert_eq!(
            c.check(11, Some(&info("app")), false, t),
            vec![Change { index: 0, up: true }]
        );
        // A rename away loses it.
        assert_eq!(
            c.check(11, Some(&info("other")), true, t),
            vec![Change {
                index: 0,
                up: false
            }]
        );
    }

    #[test]
    fn forks_of_counted_processes_count() {
        let t = Instant::now();
        let mut c = Counter::new(vec![spec(2, None, None)], &[(10, info("app"))]);
        assert_eq!(c.fork(99, 100, t), vec![]);
        assert_eq!(c.fork(10, 11, t), vec![Change { index: 0, up: true }]);
        assert_eq!(c.counts(), vec![2]);
    }

    #[test]
    fn delays_wait_and_a_change_back_cancels() {
        let t = Instant::now();
        let mut c = Counter::new(vec![spec(1, Some(500), Some(300))], &[(10, info("app"))]);
        assert_eq!(c.exit(10, t), vec![]);
        assert_eq!(c.next_deadline(), Some(t + Duration::from_millis(300)));
        // Back before the delay ran out: nothing happened.
        assert_eq!(c.check(12, Some(&info("app")), false, t), vec![]);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.exit(12, t), vec![]);
        let later = t + Duration::from_millis(300);
        assert_eq!(
            c.timers_due(later),
            vec![Change {
                index: 0,
                up: false
            }]
        );
        // A gain by a fork waits for fork_delay.
        let mut c = Counter::new(vec![spec(2, Some(500), None)], &[(10, info("app"))]);
        assert_eq!(c.fork(10, 11, t), vec![]);
        assert_eq!(c.timers_due(t + Duration::from_millis(499)), vec![]);
        assert_eq!(
            c.timers_due(t + Duration::from_millis(500)),
            vec![Change { index: 0, up: true }]
        );
    }

    #[test]
    fn quorum_max_bounds_the_count() {
        let t = Instant::now();
        let mut s = spec(1, None, None);
        s.quorum_max = 1;
        let mut c = Counter::new(vec![s], &[(10, info("app"))]);
        assert_eq!(
            c.fork(10, 11, t),
            vec![Change {
                index: 0,
                up: false
            }]
        );
        assert_eq!(c.exit(11, t), vec![Change { index: 0, up: true }]);
    }

    #[test]
    fn a_rescan_replaces_the_counts() {
        let t = Instant::now();
        let mut c = Counter::new(vec![spec(1, None, None)], &[(10, info("app"))]);
        assert_eq!(
            c.rescan(&[(11, info("sh"))], t),
            vec![Change {
                index: 0,
                up: false
            }]
        );
        assert_eq!(
            c.rescan(&[(12, info("app"))], t),
            vec![Change { index: 0, up: true }]
        );
    }
}
