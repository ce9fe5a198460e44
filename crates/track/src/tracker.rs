//! keepalived's rise/fall rules and the script log lines.

use crate::runner::{Outcome, ScriptSpec};

/// The good/bad state of one tracking script under rise/fall.
///
/// Like a script that an instance tracks in keepalived 2.2.7, it starts with no result: the
/// first run decides, whatever `rise` and `fall` are. Until then it counts as good, or bad
/// with `init_fail` (2.2.7 resets a tracked script to this initial state, so `init_fail` only
/// matters before the first result). While good, `fall` failures in a row (timeouts and
/// scripts that cannot run count as failures) make it bad; while bad, `rise` successes in a
/// row make it good. A result of the other kind resets the run. `rise` and `fall` of 0 are
/// treated as 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    rise: u32,
    fall: u32,
    good: bool,
    streak: u32,
    /// No run has finished yet.
    initial: bool,
    /// The exit status of the last run that exited (0 before any), for keepalived's
    /// `now returning` line.
    last_status: i32,
}

impl Tracker {
    /// A tracker with the given thresholds and start state.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        Tracker {
            rise: rise.max(1),
            fall: fall.max(1),
            good: !init_fail,
            streak: 0,
            initial: true,
            last_status: 0,
        }
    }

    /// Whether at least one run has finished.
    pub fn has_result(&self) -> bool {
        !self.initial
    }

    /// A tracker for `spec`'s rise, fall and init_fail.
    pub fn from_spec(spec: &ScriptSpec) -> Self {
        Self::new(spec.rise, spec.fall, spec.init_fail)
    }

    /// Results in a row against the current state, toward `rise` (when bad) or `fall` (when
    /// good); 0 when the last result confirmed the state.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Whether the script is currently good.
    pub fn is_good(&self) -> bool {
        self.good
    }

    /// Records one run; returns `Some(new_state)` (true = good) only when the
    /// state changes.
    pub fn record(&mut self, outcome: &Outcome) -> Option<bool> {
        self.record_success(outcome.is_success())
    }

    /// Records one run given only whether it succeeded; same return as
    /// [`Tracker::record`].
    pub fn record_success(&mut self, success: bool) -> Option<bool> {
        if self.initial {
            // The first result decides at once.
            self.initial = false;
            let changed = success != self.good;
            self.good = success;
            return changed.then_some(success);
        }
        if success == self.good {
            // Confirms the current state: any run toward a change is broken.
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.good { self.fall } else { self.rise };
        if self.streak >= needed {
            self.good = success;
            self.streak = 0;
            Some(self.good)
        } else {
            None
        }
    }
}

/// What a script log line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptEvent {
    /// The script became good.
    Succeeded,
    /// The script became bad.
    Failed,
    /// One run of the script timed out.
    TimedOut,
}

impl ScriptEvent {
    /// The event for a state change reported by [`Tracker::record`].
    pub fn from_state(good: bool) -> Self {
        if good {
            ScriptEvent::Succeeded
        } else {
            ScriptEvent::Failed
        }
    }
}

impl Tracker {
    /// Records one run of script `name` like [`Tracker::record`] and returns, with the state
    /// change, the lines keepalived 2.2.7 logs for it, in order (observed):
    /// `Script `chk` now returning 1` whenever the exit status differs from the last one
    /// (0 before any run; a time-out does not count as a status), `VRRP_Script(chk) timed_out`
    /// for every time-out, then on the first result or a change `VRRP_Script(chk) succeeded`
    /// or `VRRP_Script(chk) failed (exited with status 1)`.
    pub fn record_logged(&mut self, name: &str, outcome: &Outcome) -> (Option<bool>, Vec<String>) {
        let mut lines = Vec::new();
        let status = match outcome {
            Outcome::Success => Some(0),
            Outcome::Failure(code) => Some(*code),
            Outcome::TimedOut => {
                lines.push(format!("VRRP_Script({name}) timed_out"));
                None
            }
            Outcome::CannotRun(_) => None,
        };
        if let Some(status) = status
            && status != self.last_status
        {
            lines.push(format!("Script `{name}` now returning {status}"));
            self.last_status = status;
        }
        let first = !self.has_result();
        let changed = self.record(outcome);
        if first || changed.is_some() {
            match (self.is_good(), outcome) {
                (true, _) => lines.push(log_line(name, ScriptEvent::Succeeded)),
                (false, Outcome::Failure(code)) => lines.push(format!(
                    "VRRP_Script({name}) failed (exited with status {code})"
                )),
                (false, Outcome::TimedOut) => {}
                (false, _) => lines.push(log_line(name, ScriptEvent::Failed)),
            }
        }
        (changed, lines)
    }
}

/// The log line keepalived writes for `event` on script `name`, e.g.
/// `VRRP_Script(chk) succeeded`.
pub fn log_line(name: &str, event: ScriptEvent) -> String {
    let what = match event {
        ScriptEvent::Succeeded => "succeeded",
        ScriptEvent::Failed => "failed",
        ScriptEvent::TimedOut => "timed_out",
    };
    format!("VRRP_Script({name}) {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut Tracker, seq: &str) -> Vec<Option<bool>> {
        seq.chars()
            .map(|c| {
                let o = match c {
                    's' => Outcome::Success,
                    'f' => Outcome::Failure(1),
                    't' => Outcome::TimedOut,
                    _ => Outcome::CannotRun("x".into()),
                };
                t.record(&o)
            })
            .collect()
    }

    /// A tracker that has seen a first success (which decides at once).
    fn settled_good(rise: u32, fall: u32) -> Tracker {
        let mut t = Tracker::new(rise, fall, false);
        assert_eq!(feed(&mut t, "s"), vec![None]);
        assert!(t.has_result());
        t
    }

    #[test]
    fn the_first_result_decides_whatever_rise_and_fall() {
        let mut t = Tracker::new(2, 3, false);
        assert!(t.is_good() && !t.has_result());
        assert_eq!(feed(&mut t, "f"), vec![Some(false)]);
        let mut t = Tracker::new(5, 5, true);
        assert!(!t.is_good());
        assert_eq!(feed(&mut t, "s"), vec![Some(true)]);
        // init_fail only shapes the state before the first result (keepalived 2.2.7).
        let mut t = Tracker::new(2, 3, true);
        assert_eq!(feed(&mut t, "f"), vec![None]);
        assert_eq!(feed(&mut t, "ss"), vec![None, Some(true)]);
    }

    #[test]
    fn falls_after_three_failures() {
        let mut t = settled_good(2, 3);
        assert_eq!(feed(&mut t, "ff"), vec![None, None]);
        assert!(t.is_good());
        assert_eq!(feed(&mut t, "f"), vec![Some(false)]);
        assert!(!t.is_good());
        // Further failures report no change.
        assert_eq!(feed(&mut t, "ff"), vec![None, None]);
    }

    #[test]
    fn success_breaks_a_failure_run() {
        let mut t = settled_good(2, 3);
        assert_eq!(feed(&mut t, "ffsff"), vec![None; 5]);
        assert!(t.is_good());
        assert_eq!(feed(&mut t, "f"), vec![Some(false)]);
    }

    #[test]
    fn rises_after_two_successes_in_a_row() {
        let mut t = settled_good(2, 3);
        feed(&mut t, "fff");
        assert!(!t.is_good());
        assert_eq!(feed(&mut t, "sfs"), vec![None, None, None]);
        assert!(!t.is_good());
        assert_eq!(feed(&mut t, "s"), vec![Some(true)]);
        assert!(t.is_good());
        assert_eq!(feed(&mut t, "ss"), vec![None, None]);
    }

    #[test]
    fn timeouts_and_cannot_run_count_as_failures() {
        let mut t = settled_good(2, 3);
        assert_eq!(feed(&mut t, "tfc"), vec![None, None, Some(false)]);
    }

    #[test]
    fn logged_as_keepalived_2_2_7_logs_a_sequence_of_runs() {
        // The sequence and the lines 2.2.7 logged for it (exit 1, 2, 2, 0, 3, time-out, 0).
        let mut t = Tracker::new(1, 1, false);
        let runs = [
            Outcome::Failure(1),
            Outcome::Failure(2),
            Outcome::Failure(2),
            Outcome::Success,
            Outcome::Failure(3),
            Outcome::Success,
            Outcome::TimedOut,
            Outcome::Success,
        ];
        let lines: Vec<String> = runs
            .iter()
            .flat_map(|o| t.record_logged("chk", o).1)
            .collect();
        assert_eq!(
            lines,
            [
                "Script `chk` now returning 1",
                "VRRP_Script(chk) failed (exited with status 1)",
                "Script `chk` now returning 2",
                "Script `chk` now returning 0",
                "VRRP_Script(chk) succeeded",
                "Script `chk` now returning 3",
                "VRRP_Script(chk) failed (exited with status 3)",
                "Script `chk` now returning 0",
                "VRRP_Script(chk) succeeded",
                "VRRP_Script(chk) timed_out",
                "VRRP_Script(chk) succeeded",
            ]
        );
    }

    #[test]
    fn rise_and_fall_of_one() {
        let mut t = Tracker::new(1, 1, false);
        assert_eq!(
            feed(&mut t, "fsfs"),
            vec![Some(false), Some(true), Some(false), Some(true)]
        );
        let mut z = settled_good(0, 0);
        assert_eq!(feed(&mut z, "f"), vec![Some(false)]);
    }

    #[test]
    fn log_lines() {
        assert_eq!(
            log_line("chk", ScriptEvent::Succeeded),
            "VRRP_Script(chk) succeeded"
        );
        assert_eq!(
            log_line("chk", ScriptEvent::Failed),
            "VRRP_Script(chk) failed"
        );
        assert_eq!(
            log_line("chk", ScriptEvent::TimedOut),
            "VRRP_Script(chk) timed_out"
        );
        assert_eq!(ScriptEvent::from_state(true), ScriptEvent::Succeeded);
        assert_eq!(ScriptEvent::from_state(false), ScriptEvent::Failed);
    }
}
