//! Tracking scripts (`vrrp_script`) for keepalived-rs.
//!
//! This crate runs a check script once with a timeout ([`run_once`]), turns
//! the results into a good/bad state with keepalived's rise/fall rules
//! ([`Tracker`]) and formats the log lines keepalived writes ([`log_line`]).
//! It has no daemon integration: scheduling every `interval` is the caller's
//! job.

mod runner;
mod tracker;

pub mod priority;

pub use priority::{Tracked, effective_priority};
pub use runner::{Outcome, SCRIPT_PATH, ScriptSpec, TERM_GRACE, run_once};
pub use tracker::{ScriptEvent, Tracker, log_line};
