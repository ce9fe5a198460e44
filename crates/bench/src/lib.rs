//! Benchmarks of keepalived-rs against the keepalived it replaces.
//!
//! The `config-bench` binary times `keepalived -t` on a large generated configuration; this
//! library holds the parts that can be tested without root: the configuration generator and
//! the statistics.

pub mod generate;
pub mod lvs_reload;
pub mod programs;
pub mod soak;
pub mod stats;
