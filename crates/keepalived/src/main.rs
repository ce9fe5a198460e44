//! keepalived-rs: the `keepalived` binary.

mod alert;
mod checker;
mod cli;
mod config_log;
mod config_test;
mod control;
mod daemon;
mod down_timer;
mod dump;
mod lifecycle_lines;
mod logger;
mod memory;
mod metrics;
mod metrics_http;
mod pidfile;
mod process_settings;
mod promote_secondaries;
mod rcv_bufs;
mod ready;
mod reload_guard;
mod safe_file;
mod start_stop_scripts;
mod startup_delay;
mod status_view;
mod supervisor;
mod unknown_vrids;
mod vrrp;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

fn main() -> ExitCode {
    // genhash is keepalived run under that name (Debian's /usr/bin/genhash is a symlink), or
    // with -T / --genhash as its first option.
    let args: Vec<String> = std::env::args().collect();
    let called_genhash = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "genhash");
    if called_genhash {
        return ExitCode::from(checker::genhash::main(&args[0], &args[1..]) as u8);
    }
    if matches!(args.get(1).map(String::as_str), Some("-T" | "--genhash")) {
        return ExitCode::from(checker::genhash::main(&args[0], &args[2..]) as u8);
    }
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("keepalived: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    if cli.version {
        eprintln!(
            "Keepalived v{} (keepalived-rs, configuration compatible with keepalived 2.2.7)",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(0);
    }
    if let Some(name) = &cli.signum {
        return Ok(match cli::signal_number(name) {
            Some(number) => {
                println!("{number}");
                0
            }
            None => {
                eprintln!("Unknown signal name '{name}'");
                1
            }
        });
    }
    if let Some(log_file) = &cli.config_test {
        return config_test::run(cli, log_file.as_deref());
    }
    // Said once, by the command the user typed (not by the daemon's children).
    let first_process = cli.child.is_none() && !cli.detached;
    for option in cli.unbuilt_options().into_iter().filter(|_| first_process) {
        eprintln!("keepalived-rs: option {option} is accepted but its behaviour is not built yet");
    }
    daemon::run(cli)
}
