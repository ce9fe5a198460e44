//! One health check's life as keepalived 2.2.7 runs it: an attempt every `delay_loop`; a
//! failure while up is retried `retry` times `delay_before_retry` apart before the check goes
//! down; the first result and every change of state are logged with keepalived's wording, and
//! changes are reported to the pool. Each check is its own tokio task, so a slow server never
//! delays another's check; the daemon runs its TCP_CHECKs, the most numerous, all in one task
//! instead (tcp_checks.rs), with the same timing and lines.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::plan::FilePlan;
use super::plan::{CheckKind, CheckPlan};
use super::probe::{self, Failure};
use super::url_cycle::UrlCycle;
use super::{datagram, file, smtp, tls};
use crate::alert::{CheckWord, check_body};
use crate::logger::Logger;

/// Which check of which real server of which virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckId {
    /// Index of the virtual server in the plan.
    pub vs: usize,
    /// Index of the real server in its virtual server.
    pub rs: usize,
    /// Index of the check in its real server.
    pub check: usize,
}

/// The checks whose last "up" the pool could not act on (the kernel refused the real server):
/// each counts its server as down again at its next success, as 2.2.7's checker stays down
/// then and tries again.
static REFUSED: std::sync::Mutex<Vec<CheckId>> = std::sync::Mutex::new(Vec::new());

/// Marks check `id`'s last "up" as refused (see [`REFUSED`]).
pub fn refuse(id: CheckId) {
    if let Ok(mut refused) = REFUSED.lock()
        && !refused.contains(&id)
    {
        refused.push(id);
    }
}

/// Whether check `id`'s last "up" was refused; the mark is taken away.
pub fn take_refusal(id: CheckId) -> bool {
    let Ok(mut refused) = REFUSED.lock() else {
        return false;
    };
    let before = refused.len();
    refused.retain(|r| *r != id);
    refused.len() != before
}

/// Forgets every refusal (a reload renumbers the checks).
pub fn forget_refusals() {
    if let Ok(mut refused) = REFUSED.lock() {
        refused.clear();
    }
}

/// A check's state, carried over a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    /// Whether the check counts its server as up.
    pub up: bool,
    /// Whether it has produced a result yet (the first result is always logged).
    pub has_run: bool,
}

/// What a check tells the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Which check.
    pub id: CheckId,
    /// Its state.
    pub up: bool,
    /// A weight set by the check (MISC_CHECK with misc_dynamic).
    pub weight: Option<i32>,
    /// The body of the mail 2.2.7 sends for this result when the real server has
    /// `smtp_alert` (see [`crate::alert::check_body`]); `None` when it sends none.
    pub mail: Option<String>,
    /// The check's first result is a failure while it started down (`alpha`): 2.2.7 runs
    /// the real server's notify_down and writes its FIFO line then, nothing else changing.
    pub first_down: bool,
}

/// How a check's kind words its mails; FILE_CHECK sends none.
fn mail_word(kind: &CheckKind) -> Option<CheckWord> {
    Some(match kind {
        CheckKind::Tcp => CheckWord::Tcp,
        CheckKind::Http(_) | CheckKind::Ssl { .. } => CheckWord::Http,
        CheckKind::Smtp { .. } => CheckWord::Smtp,
        CheckKind::Misc { .. } => CheckWord::Misc,
        CheckKind::Dns { .. } => CheckWord::Dns,
        CheckKind::Udp(_) => CheckWord::Udp,
        CheckKind::Ping => CheckWord::Ping,
        CheckKind::File(_) => return None,
    })
}

/// The mail body for a check finding its server up.
fn up_mail(plan: &CheckPlan) -> Option<String> {
    mail_word(&plan.kind).map(|w| check_body(w, true, None, false))
}

/// The mail body for a check finding its server down after `failure` (SMTP_CHECK gives its
/// reason as logged, a MISC_CHECK program may have timed out).
fn down_mail(plan: &CheckPlan, failure: &Failure) -> Option<String> {
    let word = mail_word(&plan.kind)?;
    let reason = match (&plan.kind, failure) {
        (CheckKind::Smtp { .. }, Failure::Said(why)) => Some(why.as_str()),
        _ => None,
    };
    let timed_out = matches!(failure, Failure::Exit(None));
    Some(check_body(word, false, reason, timed_out))
}

/// Names a check's log lines use.
#[derive(Debug, Clone)]
pub struct Names {
    /// The virtual server.
    pub vs: String,
    /// The real server.
    pub rs: String,
}

/// Runs the check until the task is aborted; the first attempt comes after `first`.
pub async fn run(
    id: CheckId,
    plan: Arc<CheckPlan>,
    names: Names,
    mut state: CheckState,
    first: std::time::Duration,
    reports: UnboundedSender<Report>,
    logger: Logger,
) {
    if let CheckKind::File(file) = &plan.kind {
        return run_file(id, file, &names, state, reports, &logger).await;
    }
    if matches!(plan.kind, CheckKind::Http(_) | CheckKind::Ssl { .. }) {
        return run_urls(id, &plan, &names, state, first, reports, &logger).await;
    }
    let mut tries_left = plan.retry;
    let mut weight = None;
    let mut delay = first;
    loop {
        tokio::time::sleep(delay).await;
        // Boxed: an attempt's state (an HTTP exchange, a script run) lives on the heap only
        // while it runs, so idle checks stay small. (The daemon runs TCP_CHECKs in
        // tcp_checks.rs, all in one task; this loop runs them too, as any other check.)
        let result = Box::pin(attempt(&plan, &names, &logger)).await;
        // A socket that cannot be given its source: 2.2.7 logs it and tries again at the
        // next delay_loop, the server's state unchanged (watched in the QEMU lab).
        if let Err(Failure::Bind(why)) = &result {
            logger.info(&format!("Checker bind failed: {why}"));
            if let Some(line) = bind_failed_line(&plan.kind) {
                logger.info(line);
            }
            delay = plan.delay_loop;
            continue;
        }
        match result {
            Ok(new_weight) => {
                tries_left = plan.retry;
                if take_refusal(id) {
                    state.up = false;
                }
                let recovering = !state.up;
                if (recovering || !state.has_run)
                    && let Some(line) = success_line(&plan, &names)
                {
                    logger.info(&line);
                }
                // 2.2.7 mails a MISC_CHECK's first result even when it finds the server up
                // as it was assumed (the other checks mail changes only).
                let first_misc =
                    !state.has_run && !recovering && matches!(plan.kind, CheckKind::Misc { .. });
                state.has_run = true;
                let weight_changed = new_weight.is_some() && new_weight != weight;
                if weight_changed {
                    weight = new_weight;
                }
                if recovering || weight_changed || first_misc {
                    state.up = true;
                    let report = Report {
                        id,
                        up: true,
                        weight: if weight_changed { weight } else { None },
                        mail: if recovering || first_misc {
                            up_mail(&plan)
                        } else {
                            None
                        },
                        first_down: false,
                    };
                    if reports.send(report).is_err() {
                        return;
                    }
                }
                delay = plan.delay_loop;
            }
            Err(failure) => {
                if take_refusal(id) {
                    state.up = false;
                }
                if state.up && tries_left > 0 {
                    tries_left -= 1;
                    if plan.log_all_failures
                        && let Some(line) =
                            attempt_line(&plan, &names, &failure, plan.retry - tries_left)
                    {
                        logger.info(&line);
                    }
                    delay = plan.delay_before_retry;
                    continue;
                }
                if state.up
                    && plan.log_all_failures
                    && let Some(line) = final_attempt_line(&plan, &names, &failure)
                {
                    logger.info(&line);
                }
                if (state.up || !state.has_run)
                    && let Some(line) = failure_line(&plan, &names, &failure, state.has_run)
                {
                    logger.info(&line);
                }
                let had_run = std::mem::replace(&mut state.has_run, true);
                tries_left = plan.retry;
                delay = plan.delay_loop;
                if !state.up && !had_run {
                    // Started down (alpha) and failed: 2.2.7 runs notify_down then; of the
                    // checks here only MISC_CHECK mails it (scenario 11).
                    let mail = match plan.kind {
                        CheckKind::Misc { .. } => down_mail(&plan, &failure),
                        _ => None,
                    };
                    let report = Report {
                        id,
                        up: false,
                        weight: None,
                        mail,
                        first_down: true,
                    };
                    if reports.send(report).is_err() {
                        return;
                    }
                } else if state.up {
                    state.up = false;
                    let report = Report {
                        id,
                        up: false,
                        weight: None,
                        mail: down_mail(&plan, &failure),
                        first_down: false,
                    };
                    if reports.send(report).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// HTTP_GET / SSL_GET: one url per attempt, as [`UrlCycle`] walks them.
async fn run_urls(
    id: CheckId,
    plan: &CheckPlan,
    names: &Names,
    mut state: CheckState,
    first: std::time::Duration,
    reports: UnboundedSender<Report>,
    logger: &Logger,
) {
    let mut cycle = UrlCycle::new(state);
    let mut delay = first;
    loop {
        tokio::time::sleep(delay).await;
        let result = Box::pin(attempt_url(plan, cycle.url())).await;
        // A socket that cannot be given its source: logged, tried again at the next
        // delay_loop, the server's state unchanged (as the other checks).
        if let Err(Failure::Bind(why)) = &result {
            logger.info(&format!("Checker bind failed: {why}"));
            logger.info("WEB socket bind failed. Rescheduling");
            delay = plan.delay_loop;
            continue;
        }
        if result.is_ok() && take_refusal(id) {
            state.up = false;
        }
        let step = match &result {
            Ok(()) => cycle.passed(plan, names, &mut state),
            Err(failure) => cycle.failed(plan, names, &mut state, failure),
        };
        for line in &step.lines {
            logger.info(line);
        }
        delay = step.delay;
        if let Some(up) = step.change {
            let mail = match &result {
                Ok(()) => up_mail(plan),
                Err(failure) => down_mail(plan, failure),
            };
            let report = Report {
                id,
                up,
                weight: None,
                mail,
                first_down: false,
            };
            if reports.send(report).is_err() {
                return;
            }
        }
    }
}

/// One attempt of an HTTP_GET / SSL_GET: its url number `index`.
async fn attempt_url(plan: &CheckPlan, index: usize) -> Result<(), Failure> {
    let (urls, sni) = match &plan.kind {
        CheckKind::Http(urls) => (urls, None),
        CheckKind::Ssl { urls, sni } => (urls, Some(*sni)),
        _ => return Ok(()),
    };
    let Some(url) = urls.get(index) else {
        return Ok(());
    };
    let vhost = url.virtualhost.as_deref().or(plan.virtualhost.as_deref());
    let request = probe::http_request(&url.path, plan.target, vhost, plan.http_protocol);
    match sni {
        None => {
            probe::http_url(
                plan.target,
                &plan.source,
                &request,
                url,
                plan.connect_timeout,
            )
            .await
        }
        Some(sni) => {
            let server_name = if sni { vhost } else { None };
            let stream =
                tls::connect_tls(plan.target, &plan.source, server_name, plan.connect_timeout)
                    .await?;
            let response = probe::exchange(stream, &request, plan.connect_timeout).await?;
            probe::judge(&response, url)
        }
    }
}

/// With `log_all_failures`, what a failed attempt that leaves retries logs (`retry`: the
/// retries used so far, this one included), as 2.2.7 words it for each kind.
pub fn attempt_line(
    plan: &CheckPlan,
    names: &Names,
    failure: &Failure,
    retry: u32,
) -> Option<String> {
    match &plan.kind {
        CheckKind::Smtp { .. } | CheckKind::Dns { .. } => {
            // The reason alone (the last attempt adds the retries).
            let mut once = plan.clone();
            once.retry = 0;
            failure_line(&once, names, failure, false)
        }
        CheckKind::Misc { .. } => {
            let line = failure_line(plan, names, failure, true)?;
            let after = match plan.retry {
                0 => " with retry disabled".to_string(),
                1 => " after 1 retry".to_string(),
                n => format!(" after {n} retries"),
            };
            // 2.2.7 in the lab (retry 2): "failed, will do 2 retries (…)", then "failed on
            // retry 1/2 (…)", then the last attempt's "failed after 2 retries (…)".
            let now = if retry <= 1 {
                let word = if plan.retry == 1 { "retry" } else { "retries" };
                format!(", will do {} {word}", plan.retry)
            } else {
                format!(" on retry {}/{}", retry - 1, plan.retry)
            };
            Some(line.replacen(&after, &now, 1))
        }
        _ => final_attempt_line(plan, names, failure),
    }
}

/// With `log_all_failures`, the line each failed attempt of a server that is up logs before
/// the retries' outcome, for the kinds that log one on the last attempt too (TCP, UDP,
/// PING, HTTP and SSL); `None` for the others.
pub fn final_attempt_line(plan: &CheckPlan, names: &Names, failure: &Failure) -> Option<String> {
    let target = &plan.target_name;
    Some(match (&plan.kind, failure) {
        (CheckKind::Tcp, Failure::Connect(why)) if why == "timeout" => {
            format!("TCP connection to {target} timeout.")
        }
        (CheckKind::Tcp, _) => format!("TCP connection to {target} failed."),
        (CheckKind::Udp(_), Failure::Io(why)) if why == "reply data mismatch" => {
            format!("UDP check to {target} reply data mismatch.")
        }
        (CheckKind::Udp(_), _) => format!("UDP connection to {target} failed."),
        // An echo request that cannot be sent logs `send ICMP packet fail` alone (2.2.7 in
        // the lab, scenario 9: an address gone without a route).
        (CheckKind::Ping, Failure::Send(_)) => return None,
        (CheckKind::Ping, Failure::Io(why)) if why == "timeout" => {
            format!("ICMP connection to address {target} timeout.")
        }
        (CheckKind::Ping, _) => format!("ICMP connection to {target} of {} failed.", names.vs),
        (CheckKind::Http(_) | CheckKind::Ssl { .. }, _) => {
            super::url_cycle::attempt_line(plan, failure)
        }
        _ => return None,
    })
}

/// What keepalived 2.2.7 waits at start before any check's first attempt, before the warmup's
/// random part (its `BOOTSTRAP_DELAY`; in the QEMU lab, scenario 9, its first attempts with
/// `warmup 0` came a second after the checks were activated).
pub const BOOTSTRAP_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// When a check's first attempt comes at start: [`BOOTSTRAP_DELAY`], then [`first_delay`].
pub fn start_delay(warmup: std::time::Duration) -> std::time::Duration {
    BOOTSTRAP_DELAY + first_delay(warmup)
}

/// The random part of a check's first delay at start: uniform in `[0, warmup)` (`warmup`, by
/// default the delay_loop, scatters the first checks as keepalived does; 0 runs it at once).
pub fn first_delay(warmup: std::time::Duration) -> std::time::Duration {
    let span = u64::try_from(warmup.as_nanos()).unwrap_or(u64::MAX);
    if span == 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::from_nanos(random_u64() % span)
}

/// A non-cryptographic random number (splitmix64 over a counter seeded from the clock and the
/// pid): enough to scatter timers.
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut x = STATE.fetch_add(GAMMA, Ordering::Relaxed);
    if x == 0 {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = clock ^ (u64::from(std::process::id()) << 32) | 1;
        // The first caller seeds; a race only means two seeds, both fine.
        let _ = STATE.compare_exchange(GAMMA, seed, Ordering::Relaxed, Ordering::Relaxed);
        x = seed;
    }
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How often FILE_CHECK reads its file (keepalived watches it with inotify).
const FILE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// FILE_CHECK: reads the file now and every [`FILE_POLL`], reporting each change of state or
/// weight (the first reading included, as keepalived reads the file before starting). After
/// the first reading, a server going down or up logs 2.2.7's `(RS): tracked file NAME now
/// FAULT state` / `leaving FAULT state`.
async fn run_file(
    id: CheckId,
    plan: &FilePlan,
    names: &Names,
    mut state: CheckState,
    reports: UnboundedSender<Report>,
    logger: &Logger,
) {
    let mut weight = None;
    let mut first = true;
    loop {
        let value = file::read_value(&plan.path);
        let (up, new_weight) = file::state(plan, value);
        let weight_changed = up && new_weight.is_some() && new_weight != weight;
        if first || up != state.up || weight_changed {
            if !first && up != state.up {
                let change = if up { "leaving" } else { "now" };
                logger.info(&format!(
                    "({}): tracked file {} {change} FAULT state",
                    names.rs, plan.name
                ));
            }
            if up {
                weight = new_weight;
            }
            state.up = up;
            state.has_run = true;
            // 2.2.7 mails nothing for a FILE_CHECK.
            let report = Report {
                id,
                up,
                weight: if up { new_weight } else { None },
                mail: None,
                first_down: false,
            };
            if reports.send(report).is_err() {
                return;
            }
        }
        first = false;
        tokio::time::sleep(FILE_POLL).await;
    }
}

/// Sequence numbers of ICMP echo requests, shared by every PING_CHECK of the process.
static SEQ: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);

/// What 2.2.7 logs after `Checker bind failed` for each kind.
fn bind_failed_line(kind: &CheckKind) -> Option<&'static str> {
    Some(match kind {
        CheckKind::Tcp => "TCP socket bind failed. Rescheduling.",
        CheckKind::Http(_) | CheckKind::Ssl { .. } => "WEB socket bind failed. Rescheduling",
        CheckKind::Smtp { .. } => "SMTP_CHECK socket bind failed. Rescheduling.",
        CheckKind::Udp(_) | CheckKind::Dns { .. } => "UDP socket bind failed. Rescheduling.",
        _ => return None,
    })
}

/// One attempt; `Ok(Some(weight))` when a misc_dynamic exit code sets the weight.
async fn attempt(plan: &CheckPlan, names: &Names, logger: &Logger) -> Result<Option<i32>, Failure> {
    match &plan.kind {
        CheckKind::Tcp => probe::tcp(plan.target, &plan.source, plan.connect_timeout)
            .await
            .map(|()| None),
        // Run by run_urls, one url per attempt.
        CheckKind::Http(_) | CheckKind::Ssl { .. } => Ok(None),
        CheckKind::Udp(udp) => datagram::udp(plan.target, &plan.source, udp, plan.connect_timeout)
            .await
            .map(|()| None),
        CheckKind::Dns { qtype, name } => datagram::dns(
            plan.target,
            &plan.source,
            name,
            *qtype,
            plan.connect_timeout,
        )
        .await
        .map(|()| None),
        CheckKind::Smtp { helo } => {
            let name = format!("[{}]:{}", plan.target.ip(), plan.target.port());
            // The real server as `[ADDR]:PORT`.
            let rs = names.rs.replacen(":tcp:", ":", 1);
            smtp::smtp(
                plan.target,
                &plan.source,
                helo,
                plan.connect_timeout,
                &name,
                &rs,
            )
            .await
            .map(|()| None)
        }
        // Run by run_file, never as attempts.
        CheckKind::File(_) => Ok(None),
        CheckKind::Ping => {
            let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let result =
                probe::ping(plan.target.ip(), &plan.source, plan.connect_timeout, seq).await;
            if let Err(Failure::Send(_)) = &result {
                logger.info("send ICMP packet fail");
            }
            result.map(|()| None)
        }
        CheckKind::Misc {
            argv,
            timeout,
            dynamic,
            run_as,
        } => match probe::misc(argv, *timeout, *run_as).await? {
            0 => Ok(None),
            code if *dynamic && (2..=255).contains(&code) => Ok(Some(code - 2)),
            code => Err(Failure::Exit(Some(code))),
        },
    }
}

fn program(plan: &CheckPlan) -> &str {
    match &plan.kind {
        CheckKind::Misc { argv, .. } => argv.first().map(String::as_str).unwrap_or_default(),
        _ => "",
    }
}

/// The line a check logs when it finds its server up (DNS_CHECK and FILE_CHECK log none).
pub fn success_line(plan: &CheckPlan, names: &Names) -> Option<String> {
    Some(match &plan.kind {
        CheckKind::Tcp => format!("TCP connection to {} success.", plan.target_name),
        CheckKind::Http(_) | CheckKind::Ssl { .. } => {
            format!("Remote Web server {} succeed on service.", plan.target_name)
        }
        CheckKind::Udp(_) => format!("UDP connection to {} success.", plan.target_name),
        // The real server, even for a `host` block's check (2.2.7 in the lab).
        CheckKind::Smtp { .. } => {
            format!("Remote SMTP server {} succeed on service.", names.rs)
        }
        CheckKind::Dns { .. } | CheckKind::File(_) => return None,
        CheckKind::Ping => format!("ICMP connection to {} success.", plan.target_name),
        CheckKind::Misc { .. } => format!(
            "Misc check for [{} VS {}] by [{}] succeeded.",
            names.rs,
            names.vs,
            program(plan)
        ),
    })
}

/// The line a check logs when its retries are used up (`has_run`: whether the check had run
/// before this series of attempts). FILE_CHECK logs none.
pub fn failure_line(
    plan: &CheckPlan,
    names: &Names,
    failure: &Failure,
    has_run: bool,
) -> Option<String> {
    let n = plan.retry;
    // TCP, UDP and PING count the retries only once the check has run: a first failure (a
    // server starting down under `alpha`, or one down at start) is "failed." (2.2.7 in the
    // QEMU lab, scenario 11).
    let after = if n == 0 || !has_run {
        String::new()
    } else {
        format!(" after {n} retries")
    };
    Some(match &plan.kind {
        CheckKind::Tcp => format!("TCP_CHECK on service {} failed{after}.", plan.target_name),
        CheckKind::Http(_) | CheckKind::Ssl { .. } => {
            format!("HTTP_CHECK on service {} failed{after}.", plan.target_name)
        }
        CheckKind::Udp(_) => format!("UDP_CHECK on service {} failed{after}.", plan.target_name),
        CheckKind::Dns { .. } => {
            let why = match failure {
                Failure::Said(why) => why.clone(),
                other => format!("{other:?}"),
            };
            // 2.2.7 adds the retries once the check has run, even "after 0 retries"; a first
            // failure (an `alpha` server's, retry 1) has none (QEMU lab, scenario 11).
            let after = if has_run {
                format!(" after {n} retries")
            } else {
                String::new()
            };
            format!("DNS_CHECK ({}) {why}{after}", plan.target_name)
        }
        CheckKind::Smtp { .. } => match failure {
            Failure::Said(why) => format!("SMTP_CHECK {why}"),
            other => format!("SMTP_CHECK {other:?}"),
        },
        CheckKind::File(_) => return None,
        // 2.2.7 names the virtual server only when there were retries.
        CheckKind::Ping if n == 0 || !has_run => {
            format!("ICMP CHECK on service {} failed.", plan.target_name)
        }
        CheckKind::Ping => format!(
            "ICMP CHECK on service {} of {} failed{after}.",
            plan.target_name, names.vs
        ),
        CheckKind::Misc { .. } => {
            let why = match failure {
                Failure::Exit(Some(code)) => format!("exited with status {code}"),
                Failure::Exit(None) => "timed out".to_string(),
                Failure::CannotRun(reason) => reason.clone(),
                other => format!("{other:?}"),
            };
            let after = match n {
                0 => "with retry disabled".to_string(),
                1 => "after 1 retry".to_string(),
                n => format!("after {n} retries"),
            };
            format!(
                "Misc check for [{} VS {}] by [{}] failed {after} ({why}).",
                names.rs,
                names.vs,
                program(plan)
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::plan::UrlPlan;
    use std::time::Duration;

    fn plan(kind: CheckKind) -> CheckPlan {
        CheckPlan {
            kind,
            target: "192.0.2.11:80".parse().expect("addr"),
            target_name: "[192.0.2.11]:tcp:80".into(),
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

    fn names() -> Names {
        Names {
            vs: "[198.51.100.10]:tcp:80".into(),
            rs: "[192.0.2.13]:tcp:80".into(),
        }
    }

    /// A thousand resting checks must stay cheap: the task's future does not carry an
    /// attempt's buffers.
    #[test]
    fn a_resting_check_is_small() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let fut = run(
            CheckId {
                vs: 0,
                rs: 0,
                check: 0,
            },
            Arc::new(plan(CheckKind::Tcp)),
            names(),
            CheckState {
                up: true,
                has_run: false,
            },
            Duration::from_secs(2),
            tx,
            crate::checker::pool::tests::quiet(),
        );
        assert!(
            std::mem::size_of_val(&fut) < 1024,
            "{}",
            std::mem::size_of_val(&fut)
        );
    }

    #[test]
    fn first_attempts_are_scattered_within_the_warmup() {
        let warmup = Duration::from_secs(2);
        let delays: Vec<Duration> = (0..200).map(|_| first_delay(warmup)).collect();
        assert!(delays.iter().all(|d| *d < warmup));
        // Scattered: both halves of the span are used.
        assert!(delays.iter().any(|d| *d < Duration::from_secs(1)));
        assert!(delays.iter().any(|d| *d >= Duration::from_secs(1)));
        assert_eq!(first_delay(Duration::ZERO), Duration::ZERO);
        assert_eq!(start_delay(Duration::ZERO), Duration::from_secs(1));
        assert!(start_delay(warmup) >= Duration::from_secs(1));
    }

    /// TCP_CHECK, UDP_CHECK, PING_CHECK and DNS_CHECK count their retries only once they
    /// have run: a first failure is "failed." or the reason alone (2.2.7 in the QEMU lab,
    /// scenario 11: alpha servers with retry 1).
    #[test]
    fn a_first_failure_is_worded_without_retries() {
        let refused = Failure::Connect("refused".into());
        let tcp = plan(CheckKind::Tcp);
        assert_eq!(
            failure_line(&tcp, &names(), &refused, false).as_deref(),
            Some("TCP_CHECK on service [192.0.2.11]:tcp:80 failed.")
        );
        assert_eq!(
            failure_line(&tcp, &names(), &refused, true).as_deref(),
            Some("TCP_CHECK on service [192.0.2.11]:tcp:80 failed after 1 retries.")
        );
        let ping = plan(CheckKind::Ping);
        assert_eq!(
            failure_line(&ping, &names(), &refused, false).as_deref(),
            Some("ICMP CHECK on service [192.0.2.11]:tcp:80 failed.")
        );
        // DNS_CHECK too: the reason alone at the first failure, the retries afterwards.
        let dns = plan(CheckKind::Dns {
            qtype: 1,
            name: "example.org".into(),
        });
        let refused = Failure::Said("failed to read socket; errno 111 (Connection refused)".into());
        assert_eq!(
            failure_line(&dns, &names(), &refused, false).as_deref(),
            Some(
                "DNS_CHECK ([192.0.2.11]:tcp:80) failed to read socket; errno 111 \
                 (Connection refused)"
            )
        );
        assert_eq!(
            failure_line(&dns, &names(), &refused, true).as_deref(),
            Some(
                "DNS_CHECK ([192.0.2.11]:tcp:80) failed to read socket; errno 111 \
                 (Connection refused) after 1 retries"
            )
        );
    }

    #[test]
    fn lines_use_keepalived_wording() {
        let tcp = plan(CheckKind::Tcp);
        let refused = Failure::Connect("refused".into());
        let line = |p: &CheckPlan, f: &Failure| failure_line(p, &names(), f, true);
        assert_eq!(
            success_line(&tcp, &names()).as_deref(),
            Some("TCP connection to [192.0.2.11]:tcp:80 success.")
        );
        assert_eq!(
            line(&tcp, &refused).as_deref(),
            Some("TCP_CHECK on service [192.0.2.11]:tcp:80 failed after 1 retries.")
        );
        let http = plan(CheckKind::Http(vec![UrlPlan {
            path: "/".into(),
            status: vec![],
            digest: None,
            virtualhost: None,
            regex: None,
        }]));
        assert_eq!(
            success_line(&http, &names()).as_deref(),
            Some("Remote Web server [192.0.2.11]:tcp:80 succeed on service.")
        );
        let misc = plan(CheckKind::Misc {
            argv: vec!["/bin/misc.sh".into(), "13".into()],
            timeout: Duration::from_secs(2),
            dynamic: false,
            run_as: None,
        });
        assert_eq!(
            line(&misc, &Failure::Exit(Some(1))).as_deref(),
            Some(
                "Misc check for [[192.0.2.13]:tcp:80 VS [198.51.100.10]:tcp:80] by \
                 [/bin/misc.sh] failed after 1 retry (exited with status 1)."
            )
        );
        let mut once = misc.clone();
        once.retry = 0;
        assert!(
            line(&once, &Failure::Exit(Some(1)))
                .unwrap_or_default()
                .ends_with("failed with retry disabled (exited with status 1).")
        );
        let mut tcp0 = tcp.clone();
        tcp0.retry = 0;
        assert_eq!(
            line(&tcp0, &refused).as_deref(),
            Some("TCP_CHECK on service [192.0.2.11]:tcp:80 failed.")
        );
        let udp = plan(CheckKind::Udp(Default::default()));
        assert_eq!(
            success_line(&udp, &names()).as_deref(),
            Some("UDP connection to [192.0.2.11]:tcp:80 success.")
        );
        assert_eq!(
            line(&udp, &refused).as_deref(),
            Some("UDP_CHECK on service [192.0.2.11]:tcp:80 failed after 1 retries.")
        );
        let mut dns = plan(CheckKind::Dns {
            qtype: 6,
            name: ".".into(),
        });
        dns.retry = 3;
        let timeout = Failure::Said("read timeout from socket".into());
        assert_eq!(success_line(&dns, &names()), None);
        assert_eq!(
            line(&dns, &timeout).as_deref(),
            Some("DNS_CHECK ([192.0.2.11]:tcp:80) read timeout from socket after 3 retries")
        );
        dns.retry = 0;
        assert_eq!(
            failure_line(&dns, &names(), &timeout, false).as_deref(),
            Some("DNS_CHECK ([192.0.2.11]:tcp:80) read timeout from socket")
        );
        let smtp = plan(CheckKind::Smtp { helo: "h".into() });
        assert_eq!(
            success_line(&smtp, &names()).as_deref(),
            // The real server, not the target.
            Some("Remote SMTP server [192.0.2.13]:tcp:80 succeed on service.")
        );
        assert_eq!(
            line(
                &smtp,
                &Failure::Said("Could not connect to server [x]:25".into())
            )
            .as_deref(),
            Some("SMTP_CHECK Could not connect to server [x]:25")
        );
    }

    /// log_all_failures: each failed attempt's line, as 2.2.7 logged them in the lab
    /// (scenario 9) or words them in its binary.
    #[test]
    fn each_failed_attempt_is_worded_as_2_2_7() {
        let refused = Failure::Connect("refused".into());
        let timeout = Failure::Connect("timeout".into());
        let tcp = plan(CheckKind::Tcp);
        assert_eq!(
            attempt_line(&tcp, &names(), &refused, 1).as_deref(),
            Some("TCP connection to [192.0.2.11]:tcp:80 failed.")
        );
        assert_eq!(
            final_attempt_line(&tcp, &names(), &timeout).as_deref(),
            Some("TCP connection to [192.0.2.11]:tcp:80 timeout.")
        );
        let mut misc = plan(CheckKind::Misc {
            argv: vec!["/bin/misc.sh".into(), "124".into()],
            timeout: Duration::from_secs(2),
            dynamic: false,
            run_as: None,
        });
        misc.retry = 2;
        let exit = Failure::Exit(Some(1));
        let prefix = "Misc check for [[192.0.2.13]:tcp:80 VS [198.51.100.10]:tcp:80] by \
                      [/bin/misc.sh] failed";
        assert_eq!(
            attempt_line(&misc, &names(), &exit, 1),
            Some(format!(
                "{prefix}, will do 2 retries (exited with status 1)."
            ))
        );
        assert_eq!(
            attempt_line(&misc, &names(), &exit, 2),
            Some(format!("{prefix} on retry 1/2 (exited with status 1)."))
        );
        // The last attempt logs the usual line only.
        assert_eq!(final_attempt_line(&misc, &names(), &exit), None);
        misc.retry = 1;
        assert_eq!(
            attempt_line(&misc, &names(), &exit, 1),
            Some(format!("{prefix}, will do 1 retry (exited with status 1)."))
        );
        let udp = plan(CheckKind::Udp(Default::default()));
        assert_eq!(
            attempt_line(
                &udp,
                &names(),
                &Failure::Io("reply data mismatch".into()),
                1
            )
            .as_deref(),
            Some("UDP check to [192.0.2.11]:tcp:80 reply data mismatch.")
        );
        let ping = plan(CheckKind::Ping);
        assert_eq!(
            attempt_line(&ping, &names(), &Failure::Io("timeout".into()), 1).as_deref(),
            Some("ICMP connection to address [192.0.2.11]:tcp:80 timeout.")
        );
        let mut dns = plan(CheckKind::Dns {
            qtype: 6,
            name: ".".into(),
        });
        dns.retry = 3;
        assert_eq!(
            attempt_line(
                &dns,
                &names(),
                &Failure::Said("read timeout from socket".into()),
                1
            )
            .as_deref(),
            Some("DNS_CHECK ([192.0.2.11]:tcp:80) read timeout from socket")
        );
        let http = plan(CheckKind::Http(Vec::new()));
        assert_eq!(
            attempt_line(&http, &names(), &Failure::Status(404), 1).as_deref(),
            Some("HTTP status code error to server [192.0.2.11]:tcp:80.")
        );
    }

    /// A check whose `bindto` cannot be bound logs it and tries again, the server's state
    /// unchanged (2.2.7 in the lab kept such a server in the table).
    #[tokio::test(start_paused = true)]
    async fn a_source_that_cannot_be_bound_changes_nothing() {
        // Nothing listens there: without the bindto the check would report the server down.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("addr");
        let mut p = plan(CheckKind::Tcp);
        p.target = addr;
        p.retry = 0;
        p.source.addr = "203.0.113.250".parse().ok();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let id = CheckId {
            vs: 0,
            rs: 0,
            check: 0,
        };
        let state = CheckState {
            up: true,
            has_run: false,
        };
        let logger = crate::checker::pool::tests::quiet();
        let task = tokio::spawn(run(
            id,
            Arc::new(p),
            names(),
            state,
            Duration::ZERO,
            tx,
            logger,
        ));
        // Ten delay_loops of paused time: no report at all.
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
        assert!(got.is_err(), "{got:?}");
        task.abort();
        assert_eq!(
            bind_failed_line(&CheckKind::Tcp),
            Some("TCP socket bind failed. Rescheduling.")
        );
    }

    /// A refused connection goes through one retry, is reported down once, and a server that
    /// comes back is reported up, all with real sockets and paused time.
    #[tokio::test(start_paused = true)]
    async fn retry_then_down_then_up() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let mut p = plan(CheckKind::Tcp);
        p.target = addr;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let id = CheckId {
            vs: 0,
            rs: 0,
            check: 0,
        };
        let state = CheckState {
            up: true,
            has_run: false,
        };
        let logger = crate::checker::pool::tests::quiet();
        let first = p.delay_loop;
        let task = tokio::spawn(run(id, Arc::new(p), names(), state, first, tx, logger));
        let down = rx.recv().await.expect("down report");
        assert_eq!(
            down,
            Report {
                id,
                up: false,
                weight: None,
                mail: Some("=> TCP CHECK failed on service <=".to_string()),
                first_down: false,
            }
        );
        let server = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let up = rx.recv().await.expect("up report");
        assert_eq!(
            up,
            Report {
                id,
                up: true,
                weight: None,
                mail: Some("=> TCP CHECK succeed on service <=".to_string()),
                first_down: false,
            }
        );
        drop(server);
        task.abort();
    }
}
