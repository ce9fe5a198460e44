//! HTTP_GET / SSL_GET's walk through its urls, as keepalived 2.2.7 does it: each attempt
//! checks one url and the next url comes a `delay_loop` later, so a check with three urls
//! has seen them all after three delay_loops. The check is up once every url passed in one
//! round: at start (the first round logs `Remote Web server … succeed on service.`) and when
//! recovering. A url that fails while the server is up is tried again `retry` times,
//! `delay_before_retry` apart; then the server is down and that url alone is checked (every
//! `max(delay_before_retry, delay_loop)`) until it passes, and a whole round follows before
//! the server is up again. `fast_recovery` removes the delay_loop between the urls of the
//! first round and of a recovery. Pure state: [`super::task`] runs the attempts.

use std::time::Duration;

use super::plan::{CheckKind, CheckPlan, UrlPlan};
use super::probe::Failure;
use super::task::{CheckState, Names, failure_line, success_line};

/// Where a check is in its urls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCycle {
    /// The url the next attempt checks.
    next: usize,
    /// The url whose failure took the server down: checked alone until it passes.
    failed: Option<usize>,
    /// Failed attempts of the current url (a round's first passes leave none to the others).
    retries: u32,
    /// Still in the check's first round: an `alpha` server's failing url is retried and
    /// then checked alone as a failed one, though the server was never up (2.2.7 in the
    /// QEMU lab, scenario 11: two success lines before the server comes up).
    first_round: bool,
}

/// What an attempt's result does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When the next attempt comes.
    pub delay: Duration,
    /// The lines to log, in order.
    pub lines: Vec<String>,
    /// `Some(up)` when the check's state changed.
    pub change: Option<bool>,
}

impl UrlCycle {
    /// A check starting in `state` (after a reload, a check that is down starts as if its
    /// first url had failed: it passes, then a whole round).
    pub fn new(state: CheckState) -> UrlCycle {
        UrlCycle {
            next: 0,
            failed: (state.has_run && !state.up).then_some(0),
            retries: 0,
            first_round: !state.has_run,
        }
    }

    /// The index of the url the next attempt checks.
    pub fn url(&self) -> usize {
        self.failed.unwrap_or(self.next)
    }

    /// The current url passed.
    pub fn passed(&mut self, plan: &CheckPlan, names: &Names, state: &mut CheckState) -> Step {
        let urls = urls(plan);
        let current = self.url();
        let mut lines = Vec::new();
        let mut change = None;
        if !state.up
            && let Some(url) = urls.get(current)
        {
            lines.push(url_success_line(plan, url));
        }
        self.retries = 0;
        self.next = current + 1;
        if self.failed.take().is_some() {
            // The url that failed is fine again: a whole round follows.
            self.next = 0;
        } else if self.next >= urls.len() {
            self.first_round = false;
            if !state.up || !state.has_run {
                lines.extend(success_line(plan, names));
                change = (!state.up).then_some(true);
                state.up = true;
                state.has_run = true;
            }
            self.next = 0;
        }
        // The first round gives a failing url no retries.
        if !state.has_run {
            self.retries = plan.retry;
        }
        let fast = plan.fast_recovery && (!state.has_run || !state.up);
        Step {
            delay: if fast {
                Duration::ZERO
            } else {
                plan.delay_loop
            },
            lines,
            change,
        }
    }

    /// The current url failed with `failure`.
    pub fn failed(
        &mut self,
        plan: &CheckPlan,
        names: &Names,
        state: &mut CheckState,
        failure: &Failure,
    ) -> Step {
        let mut lines = Vec::new();
        let mut change = None;
        if state.up || !state.has_run || (self.first_round && self.failed.is_none()) {
            if plan.log_all_failures {
                lines.push(attempt_line(plan, failure));
            }
            state.has_run = true;
            self.retries += 1;
            if self.retries > plan.retry {
                if state.up {
                    lines.extend(failure_line(plan, names, failure, true));
                    state.up = false;
                    change = Some(false);
                }
                self.failed = Some(self.url());
                self.first_round = false;
            }
        }
        // A url still failing while the server is down: 2.2.7 with fast_recovery tries it
        // again at once, and again, as long as it fails (a busy loop); this waits
        // delay_before_retry instead.
        let delay = if self.failed.is_some() {
            plan.delay_before_retry.max(plan.delay_loop)
        } else {
            plan.delay_before_retry
        };
        Step {
            delay,
            lines,
            change,
        }
    }
}

/// The check's urls (none for other kinds).
fn urls(plan: &CheckPlan) -> &[UrlPlan] {
    match &plan.kind {
        CheckKind::Http(urls) | CheckKind::Ssl { urls, .. } => urls,
        _ => &[],
    }
}

/// What a url that passes logs while its server is down: `Regex match` with a regex, else
/// `MD5 digest` with a digest, else `HTTP status code` (2.2.7's words).
pub fn url_success_line(plan: &CheckPlan, url: &UrlPlan) -> String {
    let what = if url.regex.is_some() {
        "Regex match"
    } else if url.digest.is_some() {
        "MD5 digest"
    } else {
        "HTTP status code"
    };
    format!("{what} success to {} url({})", plan.target_name, url.path)
}

/// The line each failed attempt logs with `log_all_failures`: 2.2.7's reason, then
/// ` server RS.`.
pub fn attempt_line(plan: &CheckPlan, failure: &Failure) -> String {
    let reason = match failure {
        Failure::Connect(why) if why == "timeout" => "Timeout connecting",
        // A refused connection (2.2.7 in the lab).
        Failure::Connect(_) => "Connection failed",
        Failure::Unreachable | Failure::Send(_) => "Error connecting",
        Failure::Io(why) if why.starts_with("SSL handshake") => {
            "SSL handshake/communication error connecting to"
        }
        Failure::Io(why) if why == "timeout" => "Timeout HTTP read",
        Failure::Io(why) if why == "no data" => "Read, no data received from ",
        Failure::Io(_) => "Read error with",
        Failure::Status(_) | Failure::Exit(_) | Failure::CannotRun(_) | Failure::Said(_) => {
            "HTTP status code error to"
        }
        Failure::Digest(_) => "MD5 digest error to",
        Failure::Regex => "Regex match failed",
        Failure::Bind(_) => "Error connecting",
    };
    format!("{reason} server {}.", plan.target_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> UrlPlan {
        UrlPlan {
            path: path.into(),
            status: vec![],
            digest: None,
            virtualhost: None,
            regex: None,
        }
    }

    fn plan(n: usize, fast: bool) -> CheckPlan {
        CheckPlan {
            kind: CheckKind::Http((0..n).map(|i| url(&format!("/{i}"))).collect()),
            target: "192.0.2.12:80".parse().expect("addr"),
            target_name: "[192.0.2.12]:tcp:80".into(),
            source: Box::default(),
            connect_timeout: Duration::from_secs(1),
            delay_loop: Duration::from_secs(2),
            warmup: Duration::ZERO,
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            virtualhost: None,
            http_protocol: Default::default(),
            log_all_failures: false,
            fast_recovery: fast,
        }
    }

    fn names() -> Names {
        Names {
            vs: "[198.51.100.10]:tcp:80".into(),
            rs: "[192.0.2.12]:tcp:80".into(),
        }
    }

    /// (second, line) and (second, change) of a run.
    type Timeline = (Vec<(f64, String)>, Vec<(f64, bool)>);

    /// Runs the check against a server whose urls pass when `up(t, url)` says so, from
    /// `state` at second 0 until `end`; returns (second, line) and (second, change).
    fn timeline(
        plan: &CheckPlan,
        mut state: CheckState,
        end: f64,
        up: impl Fn(f64, usize) -> bool,
    ) -> Timeline {
        let mut cycle = UrlCycle::new(state);
        let (mut lines, mut changes) = (Vec::new(), Vec::new());
        let mut t = 0.0;
        let mut attempts = 0;
        while t <= end {
            attempts += 1;
            assert!(attempts < 1000, "runaway");
            let i = cycle.url();
            let step = if up(t, i) {
                cycle.passed(plan, &names(), &mut state)
            } else {
                cycle.failed(plan, &names(), &mut state, &Failure::Connect("x".into()))
            };
            lines.extend(step.lines.into_iter().map(|l| (t, l)));
            changes.extend(step.change.map(|c| (t, c)));
            t += step.delay.as_secs_f64();
        }
        (lines, changes)
    }

    const START: CheckState = CheckState {
        up: true,
        has_run: false,
    };
    const ALPHA: CheckState = CheckState {
        up: false,
        has_run: false,
    };

    /// Three urls, a server up the whole time: one url each delay_loop, the first round
    /// over (and logged) at second 4; nothing more is logged.
    #[test]
    fn one_url_per_delay_loop() {
        let (lines, changes) = timeline(&plan(3, false), START, 20.0, |_, _| true);
        assert_eq!(
            lines,
            vec![(
                4.0,
                "Remote Web server [192.0.2.12]:tcp:80 succeed on service.".to_string()
            )]
        );
        assert!(changes.is_empty());
    }

    /// An alpha server comes up after the last url of its first round: at second 4 without
    /// fast_recovery, at once with it.
    #[test]
    fn an_alpha_server_comes_up_after_every_url() {
        let (lines, changes) = timeline(&plan(3, false), ALPHA, 10.0, |_, _| true);
        assert_eq!(changes, vec![(4.0, true)]);
        let times: Vec<f64> = lines.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![0.0, 2.0, 4.0, 4.0]);
        assert_eq!(
            lines[1].1,
            "HTTP status code success to [192.0.2.12]:tcp:80 url(/1)"
        );
        let (_, changes) = timeline(&plan(3, true), ALPHA, 10.0, |_, _| true);
        assert_eq!(changes, vec![(0.0, true)]);
    }

    /// An alpha server down at start: its url fails at 0 and at its retry (1), nothing
    /// logged; then it is checked alone every 2 s (3, 5); it passes at 5 and a whole round
    /// follows (7): two success lines, up at 7, as 2.2.7 in the QEMU lab (scenario 11).
    #[test]
    fn an_alpha_server_failing_its_first_round_recovers_as_a_failed_one() {
        let (lines, changes) = timeline(&plan(1, false), ALPHA, 12.0, |t, _| t >= 4.0);
        assert_eq!(changes, vec![(7.0, true)]);
        assert_eq!(
            lines,
            vec![
                (
                    5.0,
                    "HTTP status code success to [192.0.2.12]:tcp:80 url(/0)".to_string()
                ),
                (
                    7.0,
                    "HTTP status code success to [192.0.2.12]:tcp:80 url(/0)".to_string()
                ),
                (
                    7.0,
                    "Remote Web server [192.0.2.12]:tcp:80 succeed on service.".to_string()
                ),
            ]
        );
    }

    /// The server fails from second 5 to 11: url /0 (due at 6) fails, is retried at 7 and the
    /// server goes down; /0 alone is then tried every 2 s until it passes (11), and a whole
    /// round (13, 15, 17) follows: up at 17. With fast_recovery the round runs at once: up
    /// at 11.
    #[test]
    fn recovery_checks_the_failed_url_then_every_url() {
        let down = |t: f64, _| !(5.0..11.0).contains(&t);
        let (lines, changes) = timeline(&plan(3, false), START, 30.0, down);
        assert_eq!(changes, vec![(7.0, false), (17.0, true)]);
        assert!(lines.contains(&(
            7.0,
            "HTTP_CHECK on service [192.0.2.12]:tcp:80 failed after 1 retries.".to_string()
        )));
        let urls: Vec<(f64, &str)> = lines
            .iter()
            .filter(|(_, l)| l.starts_with("HTTP status code"))
            .map(|(t, l)| (*t, &l[l.len() - 3..]))
            .collect();
        assert_eq!(
            urls,
            vec![(11.0, "/0)"), (13.0, "/0)"), (15.0, "/1)"), (17.0, "/2)")]
        );
        let (_, changes) = timeline(&plan(3, true), START, 30.0, down);
        assert_eq!(changes, vec![(7.0, false), (11.0, true)]);
    }

    /// A failure in the first round is not retried once a url of the round passed; with
    /// log_all_failures each failed attempt while up is logged before the last one's line.
    #[test]
    fn log_all_failures_logs_each_attempt() {
        let mut p = plan(1, false);
        p.log_all_failures = true;
        let (lines, changes) = timeline(&p, START, 5.0, |t, _| t < 1.0);
        assert_eq!(changes, vec![(3.0, false)]);
        let failing: Vec<&(f64, String)> = lines.iter().filter(|(t, _)| *t >= 2.0).collect();
        assert_eq!(
            failing,
            vec![
                &(
                    2.0,
                    "Connection failed server [192.0.2.12]:tcp:80.".to_string()
                ),
                &(
                    3.0,
                    "Connection failed server [192.0.2.12]:tcp:80.".to_string()
                ),
                &(
                    3.0,
                    "HTTP_CHECK on service [192.0.2.12]:tcp:80 failed after 1 retries.".to_string()
                ),
            ]
        );
        // Down, the failures are not logged.
        let (lines, _) = timeline(&p, START, 20.0, |t, _| t < 1.0);
        assert_eq!(lines.len(), 4, "{lines:?}");
        // Without the option only the last line.
        p.log_all_failures = false;
        let (lines, _) = timeline(&p, START, 20.0, |t, _| t < 1.0);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn reasons_are_worded_as_2_2_7() {
        let p = plan(1, false);
        let line = |f: Failure| attempt_line(&p, &f);
        assert_eq!(
            line(Failure::Connect("timeout".into())),
            "Timeout connecting server [192.0.2.12]:tcp:80."
        );
        assert_eq!(
            line(Failure::Status(404)),
            "HTTP status code error to server [192.0.2.12]:tcp:80."
        );
        assert_eq!(
            line(Failure::Digest("x".into())),
            "MD5 digest error to server [192.0.2.12]:tcp:80."
        );
        assert_eq!(
            line(Failure::Io("no data".into())),
            "Read, no data received from  server [192.0.2.12]:tcp:80."
        );
    }
}
