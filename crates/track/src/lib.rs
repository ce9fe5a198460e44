//! Tracking scripts (`vrrp_script`) for keepalived-rs.
//!
//! This crate runs a check script once with a timeout ([`run_once`]), turns
//! the results into a good/bad state with keepalived's rise/fall rules
//! ([`Tracker`]) and formats the log lines keepalived writes ([`log_line`]).
//! It has no daemon integration: scheduling every `interval` is the caller's
//! job.
//!
//! It also reads and watches track files ([`file`]: `track_file` /
//! `vrrp_track_file`) and applies `enable_script_security` ([`security`]).

mod runner;
mod tracker;

pub mod file;
pub mod priority;
pub mod security;

pub use priority::{Tracked, effective_priority};
pub use runner::{Outcome, RunPhase, ScriptSpec, TERM_GRACE, run_once, run_once_watched};
pub use tracker::{ScriptEvent, Tracker, log_line};

pub use file::{
    FileEffect, FileValue, FileWatcher, effective_priority_with_files, file_effect, init_file,
    read_value,
};
pub use security::{ScriptCheck, ScriptProblem, check_script, inspect_script, run_secured};
