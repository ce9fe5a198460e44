//! The state, statistics and JSON dumps of the VRRP child (SIGUSR1, SIGUSR2, SIGRTMIN+2),
//! written where keepalived writes them, without following links planted in /tmp and readable
//! only by root when they can hold passwords.

use std::path::Path;

use crate::dump::{self, Snapshot};
use crate::logger::Logger;
use crate::safe_file::SafeFileError;

/// Which dump to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// /tmp/keepalived.data: configuration and state (holds passwords).
    Data,
    /// /tmp/keepalived.stats: counters.
    Stats,
    /// /tmp/keepalived.json: configuration, state and counters (holds passwords).
    Json,
}

/// Renders a snapshot into a dump file.
type Writer = fn(&Path, &Snapshot) -> Result<(), SafeFileError>;

/// Renders `snapshot` as `kind` and writes it to its file, logging the outcome.
pub fn write(kind: Kind, snapshot: &Snapshot, logger: &Logger) {
    let (path, write): (&str, Writer) = match kind {
        Kind::Data => (dump::DATA_FILE, dump::write_data),
        Kind::Stats => (dump::STATS_FILE, dump::write_stats),
        Kind::Json => (dump::JSON_FILE, dump::write_json),
    };
    match write(Path::new(path), snapshot) {
        Ok(()) => logger.info(&format!("Wrote {path}")),
        Err(err) => logger.info(&format!("Cannot write {path}: {err}")),
    }
}
