//! `-t` / `--config-test` and `-d` / `--dump-conf`: read the configuration, report every
//! problem as `(FILE: Line N) message`, exit with keepalived's code.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use keepalived_config::{LoadOptions, Loaded, RealHost, load};

/// Reads `path` against this host with the given config id.
pub fn load_config(path: &Path, config_id: Option<&str>) -> Loaded {
    let host = RealHost;
    let mut options = LoadOptions::for_host(&host);
    if let Some(id) = config_id {
        options.config_id = id.to_string();
    }
    load(path, &options)
}

/// Writes the diagnostics to `out`, one per line.
pub fn report(loaded: &Loaded, out: &mut dyn Write) -> std::io::Result<()> {
    for diagnostic in &loaded.diagnostics {
        writeln!(out, "{diagnostic}")?;
    }
    Ok(())
}

/// Runs the config test; returns the exit code (0, 4, 5 or 6).
pub fn run(
    path: &Path,
    config_id: Option<&str>,
    log_file: Option<&Path>,
    dump: bool,
) -> anyhow::Result<i32> {
    let loaded = load_config(path, config_id);
    match log_file {
        Some(file) => {
            let mut out = std::fs::File::create(file)
                .with_context(|| format!("cannot write config-test log '{}'", file.display()))?;
            report(&loaded, &mut out)?;
        }
        None => report(&loaded, &mut std::io::stderr().lock())?,
    }
    if dump {
        println!("{:#?}", loaded.config);
    }
    Ok(loaded.exit_code())
}
