//! global_defs' `vrrp_startup_delay SECONDS`: the VRRP process waits that long before its
//! instances start, as keepalived 2.2.7 does (observed: `Delaying startup for 4 seconds`, then
//! the first MASTER 4 s plus Master_Down_Interval after the start, instead of
//! Master_Down_Interval), for hosts whose bonds pass no traffic for a while after boot.
//! Only at start: a reload does not wait again.

use std::time::Duration;

use keepalived_config::Config;

use crate::logger::Logger;
use crate::vrrp::shutdown::Shutdown;

/// The delay the configuration asks for (`None`: none, or a value the check refused).
pub fn of(config: &Config) -> Option<Duration> {
    config
        .global
        .other
        .iter()
        .rev()
        .find(|s| s.keyword == "vrrp_startup_delay")
        .and_then(|s| s.args.first())
        // As 2.2.7's reader takes it: `2x` is refused ("is invalid", no delay), `4294x` is
        // 4294 µs (observed: `Delaying startup for 0.004294 seconds`).
        .and_then(|v| keepalived_config::values::read_decimal_micros(v, 1_000, 4_294_967_295).value)
        .map(Duration::from_micros)
}

/// 2.2.7's line: the seconds as written in its `%g` style (`4`, `1.5`).
pub fn line(delay: Duration) -> String {
    format!("Delaying startup for {} seconds", delay.as_secs_f64())
}

/// Logs and waits `delay`, or less if the daemon is told to stop meanwhile.
pub async fn wait(delay: Option<Duration>, shutdown: &Shutdown, logger: &Logger) {
    let Some(delay) = delay else {
        return;
    };
    logger.info(&line(delay));
    let mut stop = shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = stop.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use keepalived_config::{FakeHost, LoadOptions, load_str};

    use super::*;

    fn config(global: &str) -> Config {
        let text = format!("global_defs {{\n{global}\n}}\n");
        let host = FakeHost::lab();
        load_str(&text, Path::new("/k.conf"), &LoadOptions::for_host(&host)).config
    }

    #[test]
    fn the_delay_and_its_line() {
        assert_eq!(of(&config(" router_id r")), None);
        let delay = of(&config(" vrrp_startup_delay 1.5")).expect("delay");
        assert_eq!(delay, Duration::from_millis(1500));
        assert_eq!(line(delay), "Delaying startup for 1.5 seconds");
        assert_eq!(
            line(Duration::from_secs(4)),
            "Delaying startup for 4 seconds"
        );
        assert_eq!(of(&config(" vrrp_startup_delay -1")), None);
        assert_eq!(of(&config(" vrrp_startup_delay x")), None);
        // Refused as a whole, as 2.2.7 (no delay at start, observed).
        assert_eq!(of(&config(" vrrp_startup_delay 2x")), None);
        let odd = of(&config(" vrrp_startup_delay 4294x")).expect("taken as microseconds");
        assert_eq!(line(odd), "Delaying startup for 0.004294 seconds");
        assert_eq!(
            of(&config(" vrrp_startup_delay +3")),
            Some(Duration::from_secs(3))
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_stop_ends_the_wait() {
        let (trigger, shutdown) = crate::vrrp::shutdown::channel();
        let logger = Logger::new(
            "t",
            crate::logger::LogSettings {
                console: false,
                syslog: false,
                facility: None,
                detail: false,
            },
        );
        let started = tokio::time::Instant::now();
        trigger.stop();
        wait(Some(Duration::from_secs(60)), &shutdown, &logger).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        let (_trigger, shutdown) = crate::vrrp::shutdown::channel();
        let started = tokio::time::Instant::now();
        wait(Some(Duration::from_secs(3)), &shutdown, &logger).await;
        assert!(started.elapsed() >= Duration::from_secs(3));
    }
}
