//! Cleaning up when a test or a benchmark is interrupted: SIGINT (Ctrl-C at a terminal) or
//! SIGTERM (a runner's timeout) would end the process without its destructors, leaving its
//! namespaces and the daemons in them behind. [`clean_up_on_interrupt`] has a thread wait for
//! either signal, remove every `kl-…` namespace of this process (killing what runs in it) and
//! exit with 128 + the signal's number, as the signal itself would have.

use std::sync::Once;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::lab::remove_namespaces_of;

/// Installs the clean-up once per process (later calls do nothing); the labs call it when
/// they create their first namespace.
pub fn clean_up_on_interrupt() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let mut signals = match Signals::new([SIGINT, SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("testlab: cannot watch SIGINT/SIGTERM ({e}): an interrupted run leaves its namespaces to the next one");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("testlab-interrupt".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    eprintln!("testlab: signal {signal}: removing this process's namespaces");
                    remove_namespaces_of(|pid| pid == std::process::id());
                    std::process::exit(128 + signal);
                }
            });
        if let Err(e) = spawned {
            eprintln!("testlab: cannot start the interrupt watcher: {e}");
        }
    });
}
