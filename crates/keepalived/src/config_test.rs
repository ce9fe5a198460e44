//! `-t` / `--config-test` and `-d` / `--dump-conf`: read the configuration, report every
//! problem as `(FILE: Line N) message`, exit with keepalived's code.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use keepalived_config::{LoadOptions, Loaded, RealHost, load};

use crate::cli::Cli;

/// Reads `path` against this host with the given config id.
pub fn load_config(path: &Path, config_id: Option<&str>, all_config: bool) -> Loaded {
    load_with(path, config_id, all_config, false)
}

/// The parent's reading of the file ([`LoadOptions::parent_only`]): the top level, global_defs
/// and the BFD blocks built, the rest only read through. What the parent logs and what a
/// reload may not change come out the same as from [`load_config`], in far less time, so a
/// reload reaches the children sooner.
pub fn load_parent_view(path: &Path, config_id: Option<&str>, all_config: bool) -> Loaded {
    load_with(path, config_id, all_config, true)
}

fn load_with(path: &Path, config_id: Option<&str>, all_config: bool, parent_only: bool) -> Loaded {
    let host = RealHost::default();
    let mut options = LoadOptions::for_host(&host);
    options.all_config = all_config;
    options.parent_only = parent_only;
    if let Some(id) = config_id {
        options.config_id = id.to_string();
    }
    load(path, &options)
}

/// Writes the diagnostics to `out`, one per line.
pub fn report(loaded: &Loaded, out: &mut dyn Write) -> std::io::Result<()> {
    for diagnostic in loaded.config_test_diagnostics() {
        writeln!(out, "{diagnostic}")?;
    }
    Ok(())
}

/// Runs the config test for the command line `cli`; diagnostics go to `log_file` when given,
/// else to stderr. Returns keepalived's exit code (0, 2, 4, 5 or 6).
pub fn run(cli: &Cli, log_file: Option<&Path>) -> anyhow::Result<i32> {
    let loaded = load_config(&cli.use_file, cli.config_id.as_deref(), cli.all_config);
    match log_file {
        Some(file) => {
            let mut out = std::fs::File::create(file)
                .with_context(|| format!("cannot write config-test log '{}'", file.display()))?;
            report(&loaded, &mut out)?;
        }
        None => report(&loaded, &mut std::io::stderr().lock())?,
    }
    if cli.dump_conf {
        println!("{:#?}", loaded.config);
    }
    let code = loaded.config_test_exit_code();
    // The process exits right after a config test: handing ten thousand instances back to the
    // allocator one by one would only add to the time the user waits.
    std::mem::forget(loaded);
    Ok(code)
}
