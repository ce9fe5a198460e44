//! Every TCP_CHECK of the process in one task: a compact entry per check (its plan, shared
//! with the pool, its state and retries left, the socket of an attempt in flight), one timer
//! heap for the next attempt or the end of the connect timeout of every check, and one epoll
//! set holding only the sockets of attempts in flight, itself watched by the runtime.
//!
//! A check means what keepalived 2.2.7's TCP_CHECK means and what [`super::task::run`] does
//! for the other checks: a full TCP connection to the server (`connect`, success once it is
//! established within `connect_timeout`, then `close`), an attempt every `delay_loop`, a
//! failure while up retried `retry` times `delay_before_retry` apart, the first result and
//! each change logged with 2.2.7's lines and reported to the pool. Doing it here rather than
//! in a task per check keeps a resting check to a few dozen bytes and each attempt to four
//! system calls (`socket` with `SOCK_NONBLOCK | SOCK_CLOEXEC`, `connect`, one `epoll_ctl`,
//! `close`, which also takes the socket out of the set), plus `getsockopt(SO_ERROR)` only
//! when the kernel reports an error. Attempts start on the grid of [`super::start_grid`], so
//! that those falling due within 10 ms start in one turn; the timers of attempts already over
//! are dropped without waking the task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::plan::{CheckKind, CheckPlan};
use super::probe::Failure;
use super::source::strerror;
use super::start_grid::StartGrid;
use super::task::{self, CheckId, CheckState, Names, Report};
use crate::alert::{CheckWord, check_body};
use crate::logger::Logger;

/// One TCP_CHECK to run: which check, its settings, its state and its first attempt's delay.
#[derive(Debug)]
pub struct TcpCheck {
    /// Which check of which real server.
    pub id: CheckId,
    /// Its settings (shared with the pool).
    pub plan: Arc<CheckPlan>,
    /// Its state when it starts (carried over a reload).
    pub state: CheckState,
    /// When its first attempt comes.
    pub first: Duration,
}

/// A check's state between attempts.
#[derive(Debug)]
struct Entry {
    id: CheckId,
    plan: Arc<CheckPlan>,
    state: CheckState,
    tries_left: u32,
    /// Which of the check's timers is the live one (older ones in the heap are skipped).
    generation: u32,
    /// The socket of the attempt in flight.
    socket: Option<Socket>,
}

/// The epoll set of the sockets in flight, as a file descriptor the runtime can watch.
struct Poller(Epoll);

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.0.0.as_raw_fd()
    }
}

/// How an attempt ended.
type Outcome = Result<(), Failure>;

/// What starting an attempt gave.
enum Started {
    /// Connecting: wait for the socket.
    InFlight(Socket),
    /// Already over.
    Done(Outcome),
}

/// Events read from the epoll set at once.
const EVENTS: usize = 64;

/// Runs `checks` until the task is aborted (or the pool is gone).
pub async fn run(checks: Vec<TcpCheck>, reports: UnboundedSender<Report>, logger: Logger) {
    let poller = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
        .map_err(io::Error::from)
        .and_then(watch);
    match poller {
        Ok(poller) => Scheduler::new(checks, reports, logger).run(&poller).await,
        // Without an epoll set no check can run; the servers keep their state.
        Err(e) => logger.info(&format!("TCP_CHECK: cannot watch the checks' sockets: {e}")),
    }
}

/// Has the runtime watch the epoll set (readable when a socket in it has an event).
#[allow(unsafe_code)]
fn watch(epoll: Epoll) -> io::Result<AsyncFd<Poller>> {
    // SAFETY: `Poller` owns the epoll file descriptor (an `OwnedFd`), never replaces it and
    // always returns that same descriptor: it stays open and the same until the `AsyncFd`
    // is dropped, as `register_with_interest` requires.
    unsafe { AsyncFd::register_with_interest(Poller(epoll), Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// The task's state: the checks, their timers, the sockets in flight.
struct Scheduler {
    entries: Vec<Entry>,
    /// (when, entry, generation): the next attempt or the end of the one in flight.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Where on the time line attempts start.
    grid: StartGrid,
    reports: UnboundedSender<Report>,
    logger: Logger,
    /// Names are not used in TCP_CHECK's lines; the line functions take them.
    no_names: Names,
}

impl Scheduler {
    fn new(checks: Vec<TcpCheck>, reports: UnboundedSender<Report>, logger: Logger) -> Scheduler {
        let now = Instant::now();
        // Room for three timers a check (its live one and, until they run out, the timeouts
        // of attempts that ended early), so that the heap seldom moves.
        let mut timers = BinaryHeap::with_capacity(checks.len().saturating_mul(3));
        let mut grid = StartGrid::new(now, checks.iter().map(|c| c.plan.delay_loop));
        let entries = checks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let at = grid.place(now, now + c.first, c.plan.delay_loop);
                timers.push(Reverse((at, index(i), 0)));
                Entry {
                    id: c.id,
                    tries_left: c.plan.retry,
                    plan: c.plan,
                    state: c.state,
                    generation: 0,
                    socket: None,
                }
            })
            .collect();
        Scheduler {
            entries,
            timers,
            grid,
            reports,
            logger,
            no_names: Names {
                vs: String::new(),
                rs: String::new(),
            },
        }
    }

    /// Runs the checks, with `poller` watching their sockets.
    async fn run(&mut self, poller: &AsyncFd<Poller>) {
        let epoll = &poller.get_ref().0;
        let Some(&Reverse((first, _, _))) = self.timers.peek() else {
            return;
        };
        let sleep = tokio::time::sleep_until(first);
        tokio::pin!(sleep);
        let mut events = [EpollEvent::empty(); EVENTS];
        loop {
            if !self.fire_due(Instant::now(), epoll) {
                return;
            }
            self.drop_stale_timers();
            let Some(&Reverse((next, _, _))) = self.timers.peek() else {
                return;
            };
            // Most turns end an attempt and leave the next timer where it was.
            if sleep.deadline() != next {
                sleep.as_mut().reset(next);
            }
            // The next timer or an event of the set, whichever comes first: the runtime keeps
            // the task's waker in the timer's and the set's own slots, nothing is queued or
            // built anew for a turn.
            let ready = std::future::poll_fn(|cx| match poller.poll_read_ready(cx) {
                Poll::Ready(ready) => Poll::Ready(Some(ready)),
                Poll::Pending => sleep.as_mut().poll(cx).map(|()| None),
            })
            .await;
            let Some(ready) = ready else { continue };
            let Ok(mut guard) = ready else { return };
            let now = Instant::now();
            loop {
                let n = match epoll.wait(&mut events, 0u8) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => 0,
                };
                for event in &events[..n] {
                    if !self.on_event(event, now) {
                        return;
                    }
                }
                if n < EVENTS {
                    break;
                }
            }
            guard.clear_ready();
        }
    }

    /// Runs the timers due at `now`; false when the pool is gone. At most as many as the heap
    /// held on entry: a timer set again for `now` (a zero `delay_before_retry` after a failure
    /// at once) waits for the next turn of the loop, which gives the runtime the thread.
    fn fire_due(&mut self, now: Instant, epoll: &Epoll) -> bool {
        for _ in 0..self.timers.len() {
            let Some(&Reverse((at, i, generation))) = self.timers.peek() else {
                break;
            };
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.entries.get_mut(i as usize) else {
                continue;
            };
            if entry.generation != generation {
                continue;
            }
            let alive = if entry.socket.take().is_some() {
                // The connect timeout ran out; dropping the socket closed it.
                self.finish(i, Err(Failure::Connect("timeout".into())), now)
            } else {
                self.start(i, epoll, now)
            };
            if !alive {
                return false;
            }
        }
        true
    }

    /// Takes the timers of attempts already over (a connect timeout not needed) off the top of
    /// the heap, so that the task does not wake for them: each check has one live timer, the
    /// one of its current generation.
    fn drop_stale_timers(&mut self) {
        while let Some(&Reverse((_, i, generation))) = self.timers.peek() {
            let live = self
                .entries
                .get(i as usize)
                .is_some_and(|entry| entry.generation == generation);
            if live {
                break;
            }
            self.timers.pop();
        }
    }

    /// Starts an attempt of entry `i` at `now`; false when the pool is gone.
    fn start(&mut self, i: u32, epoll: &Epoll, now: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(i as usize) else {
            return true;
        };
        match connect(&entry.plan) {
            Started::InFlight(socket) => {
                entry.generation = entry.generation.wrapping_add(1);
                let data = (u64::from(entry.generation) << 32) | u64::from(i);
                // Level-triggered: the socket is closed at its first event.
                let event = EpollEvent::new(EpollFlags::EPOLLOUT, data);
                if let Err(e) = epoll.add(&socket, event) {
                    return self.finish(i, Err(Failure::Connect(strerror(&e.into()))), now);
                }
                entry.socket = Some(socket);
                let at = now + entry.plan.connect_timeout;
                self.timers.push(Reverse((at, i, entry.generation)));
                true
            }
            Started::Done(outcome) => self.finish(i, outcome, now),
        }
    }

    /// Handles an event of the epoll set read at `now`; false when the pool is gone.
    fn on_event(&mut self, event: &EpollEvent, now: Instant) -> bool {
        let data = event.data();
        let (i, generation) = ((data & u64::from(u32::MAX)) as u32, (data >> 32) as u32);
        let Some(entry) = self.entries.get_mut(i as usize) else {
            return true;
        };
        if entry.generation != generation {
            return true;
        }
        let Some(socket) = entry.socket.take() else {
            return true;
        };
        // Writable without an error: established (the kernel reports a pending error as
        // EPOLLERR, and a connection still being made as not writable). An error or a hang-up
        // is read from the socket, as a connect's result always is.
        let flags = event.events();
        let outcome = if flags.intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
            match socket.take_error() {
                Ok(None) => Ok(()),
                Ok(Some(e)) | Err(e) => Err(connect_failure(&e)),
            }
        } else {
            Ok(())
        };
        drop(socket);
        self.finish(i, outcome, now)
    }

    /// What an attempt's end at `now` does: logs, reports and schedules the next attempt as
    /// [`super::task::run`] does for a TCP_CHECK (on the grid); false when the pool is gone.
    fn finish(&mut self, i: u32, outcome: Outcome, now: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(i as usize) else {
            return true;
        };
        let plan = &entry.plan;
        let mut report = None;
        let delay = match outcome {
            // A socket that cannot be given its source: logged, tried again at the next
            // delay_loop, the server's state unchanged (2.2.7 in the QEMU lab).
            Err(Failure::Bind(why)) => {
                self.logger.info(&format!("Checker bind failed: {why}"));
                self.logger.info("TCP socket bind failed. Rescheduling.");
                plan.delay_loop
            }
            Ok(()) => {
                entry.tries_left = plan.retry;
                if task::take_refusal(entry.id) {
                    entry.state.up = false;
                }
                let recovering = !entry.state.up;
                if (recovering || !entry.state.has_run)
                    && let Some(line) = task::success_line(plan, &self.no_names)
                {
                    self.logger.info(&line);
                }
                entry.state.has_run = true;
                if recovering {
                    entry.state.up = true;
                    report = Some(Report {
                        id: entry.id,
                        up: true,
                        weight: None,
                        mail: Some(check_body(CheckWord::Tcp, true, None, false)),
                        first_down: false,
                    });
                }
                plan.delay_loop
            }
            Err(failure) => {
                if task::take_refusal(entry.id) {
                    entry.state.up = false;
                }
                // log_all_failures: every failed attempt of a server that is up.
                if entry.state.up
                    && plan.log_all_failures
                    && let Some(line) = task::final_attempt_line(plan, &self.no_names, &failure)
                {
                    self.logger.info(&line);
                }
                if entry.state.up && entry.tries_left > 0 {
                    entry.tries_left -= 1;
                    plan.delay_before_retry
                } else {
                    if (entry.state.up || !entry.state.has_run)
                        && let Some(line) =
                            task::failure_line(plan, &self.no_names, &failure, entry.state.has_run)
                    {
                        self.logger.info(&line);
                    }
                    let had_run = std::mem::replace(&mut entry.state.has_run, true);
                    entry.tries_left = plan.retry;
                    if !entry.state.up && !had_run {
                        // Started down (alpha) and failed: 2.2.7 runs notify_down then, and
                        // mails nothing (scenario 11).
                        report = Some(Report {
                            id: entry.id,
                            up: false,
                            weight: None,
                            mail: None,
                            first_down: true,
                        });
                    } else if entry.state.up {
                        entry.state.up = false;
                        report = Some(Report {
                            id: entry.id,
                            up: false,
                            weight: None,
                            mail: Some(check_body(CheckWord::Tcp, false, None, false)),
                            first_down: false,
                        });
                    }
                    plan.delay_loop
                }
            }
        };
        entry.generation = entry.generation.wrapping_add(1);
        let at = self.grid.place(now, now + delay, delay);
        self.timers.push(Reverse((at, i, entry.generation)));
        match report {
            Some(report) => self.reports.send(report).is_ok(),
            None => true,
        }
    }
}

/// An entry's index in the heap and the events (the pool holds far fewer checks).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// The failure a connect error means.
fn connect_failure(e: &io::Error) -> Failure {
    if e.raw_os_error() == Some(nix::errno::Errno::ENETUNREACH as i32) {
        Failure::Unreachable
    } else {
        Failure::Connect(e.to_string())
    }
}

/// Opens a socket from the check's source and starts connecting it to the server.
fn connect(plan: &CheckPlan) -> Started {
    debug_assert!(matches!(plan.kind, CheckKind::Tcp));
    let target: SocketAddr = plan.target;
    let socket = if plan.source.is_default() {
        Socket::new(
            Domain::for_address(target),
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )
        .map_err(|e| connect_failure(&e))
    } else {
        plan.source
            .socket(target, Type::STREAM, Protocol::TCP)
            .map_err(|e| Failure::Bind(strerror(&e)))
    };
    let socket = match socket {
        Ok(s) => s,
        Err(failure) => return Started::Done(Err(failure)),
    };
    match socket.connect(&target.into()) {
        Ok(()) => Started::Done(Ok(())),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {
            Started::InFlight(socket)
        }
        Err(e) => Started::Done(Err(connect_failure(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::pool::tests::quiet;

    fn plan(target: SocketAddr) -> CheckPlan {
        CheckPlan {
            kind: CheckKind::Tcp,
            target,
            target_name: format!("[{}]:tcp:{}", target.ip(), target.port()),
            source: Box::default(),
            connect_timeout: Duration::from_secs(1),
            delay_loop: Duration::from_secs(2),
            warmup: Duration::from_secs(2),
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            virtualhost: None,
            http_protocol: Default::default(),
            log_all_failures: false,
            fast_recovery: false,
        }
    }

    fn check(n: usize, plan: CheckPlan, first: Duration) -> TcpCheck {
        TcpCheck {
            id: CheckId {
                vs: 0,
                rs: n,
                check: 0,
            },
            plan: Arc::new(plan),
            state: CheckState {
                up: true,
                has_run: false,
            },
            first,
        }
    }

    /// A port of 127.0.0.1 nothing listens on.
    fn closed_port() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    }

    fn down(n: usize) -> Report {
        Report {
            id: CheckId {
                vs: 0,
                rs: n,
                check: 0,
            },
            up: false,
            weight: None,
            mail: Some("=> TCP CHECK failed on service <=".to_string()),
            first_down: false,
        }
    }

    /// A refused connection goes through one retry, is reported down once (not at each
    /// attempt), and a server that comes back is reported up, with real sockets and paused
    /// time.
    #[tokio::test(start_paused = true)]
    async fn retry_then_down_then_up() {
        let addr = closed_port();
        let p = plan(addr);
        let first = p.delay_loop;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(vec![check(0, p, first)], tx, quiet()));
        let start = Instant::now();
        assert_eq!(rx.recv().await, Some(down(0)));
        // The first attempt after delay_loop (2 s), the retry delay_before_retry (1 s) later.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(4),
            "{took:?}"
        );
        // Ten more delay_loops: the server stays down without another report.
        let again = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
        assert!(again.is_err(), "{again:?}");
        let server = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let up = rx.recv().await.expect("up report");
        assert_eq!(
            up,
            Report {
                mail: Some("=> TCP CHECK succeed on service <=".to_string()),
                up: true,
                ..down(0)
            }
        );
        drop(server);
        task.abort();
    }

    /// A check whose `bindto` cannot be bound logs it and tries again, the server's state
    /// unchanged (2.2.7 in the lab kept such a server in the table).
    #[tokio::test(start_paused = true)]
    async fn a_source_that_cannot_be_bound_changes_nothing() {
        // Nothing listens there: without the bindto the check would report the server down.
        let mut p = plan(closed_port());
        p.retry = 0;
        p.source.addr = "203.0.113.250".parse().ok();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(vec![check(0, p, Duration::ZERO)], tx, quiet()));
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
        assert!(got.is_err(), "{got:?}");
        task.abort();
    }

    /// Many checks in the one task: each server's own result is reported under its own id,
    /// servers that answer are never reported (they start up), and the checks keep running.
    #[tokio::test(start_paused = true)]
    async fn many_checks_each_get_their_own_result() {
        let listeners: Vec<std::net::TcpListener> = (0..40)
            .filter(|n| n % 3 != 0)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let mut open = listeners.iter().map(|l| l.local_addr().expect("addr"));
        // A closed port is one just freed: the listeners are bound first, so the kernel cannot
        // hand one of their ports out again as a closed one.
        let mut taken: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let mut checks = Vec::new();
        for n in 0..40 {
            let addr = if n % 3 == 0 {
                let closed = (0..100)
                    .map(|_| closed_port())
                    .find(|a| !taken.contains(a))
                    .expect("a free port");
                taken.push(closed);
                closed
            } else {
                open.next().expect("a listener")
            };
            let mut p = plan(addr);
            p.retry = 0;
            // Scattered first attempts, as at start.
            checks.push(check(n, p, Duration::from_millis(50 * n as u64)));
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(checks, tx, quiet()));
        let mut reported = Vec::new();
        while let Ok(Some(report)) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await
        {
            reported.push(report);
        }
        let expected: Vec<Report> = (0..40).filter(|n| n % 3 == 0).map(down).collect();
        assert_eq!(reported, expected);
        task.abort();
    }

    /// Checks whose first attempts fall due within one step of the grid start in the same turn;
    /// the timers of attempts already over are dropped from the top of the heap instead of
    /// waking the task.
    #[tokio::test(start_paused = true)]
    async fn due_attempts_share_a_turn_and_stale_timers_do_not_wake() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let addr = closed_port();
        let firsts = [1, 4, 9, 12];
        let checks = firsts
            .iter()
            .enumerate()
            .map(|(n, ms)| check(n, plan(addr), Duration::from_millis(*ms)))
            .collect();
        // Time is paused: the grid's origin is now.
        let epoch = Instant::now();
        let mut scheduler = Scheduler::new(checks, tx, quiet());
        let due: Vec<Duration> = scheduler
            .timers
            .clone()
            .into_sorted_vec()
            .iter()
            .rev()
            .map(|Reverse((at, _, _))| *at - epoch)
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(due, [ms(10), ms(10), ms(10), ms(20)]);
        // Check 0's attempt ends (its generation moves on): its timer at the top is stale.
        scheduler.entries[0].generation = 1;
        scheduler.timers.push(Reverse((epoch + ms(1), 0, 0)));
        scheduler.timers.push(Reverse((epoch + ms(2), 0, 1)));
        scheduler.drop_stale_timers();
        let top = scheduler.timers.peek().map(|Reverse(t)| *t);
        assert_eq!(top, Some((epoch + ms(2), 0, 1)));
        scheduler.entries[0].generation = 2;
        scheduler.drop_stale_timers();
        // Check 0's timers are all stale now; deeper ones go when they reach the top.
        let top = scheduler.timers.peek().map(|Reverse(t)| t.1);
        assert_eq!(top, Some(1));
    }

    /// An entry at rest is a few dozen bytes (a task per check held about 750).
    #[test]
    fn a_resting_check_is_small() {
        let size = std::mem::size_of::<Entry>();
        assert!(size <= 64, "{size} bytes");
    }
}
