//! keepalivedctl: talks to a running keepalived-rs over its control socket (line-delimited
//! JSON, see `control/protocol.rs`): status, show, reload, drain, undrain, dump.
//!
//! Exit status: 0 done, 1 the daemon refused or the request failed, 2 no daemon to talk to
//! (or a bad command line).

#[path = "../control/protocol.rs"]
mod protocol;
mod table;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

use protocol::{Request, Target};

/// Control a running keepalived-rs.
#[derive(Debug, Parser)]
#[command(name = "keepalivedctl")]
struct Cli {
    /// The daemon's control socket (its `--control-socket`).
    #[arg(long = "control-socket", value_name = "PATH", default_value = protocol::DEFAULT_SOCKET, global = true)]
    control_socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every instance and script at a glance.
    Status {
        /// The whole status model as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One instance in detail.
    Show {
        /// The vrrp_instance name.
        instance: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration file and apply it if it passes (as SIGHUP does).
    Reload,
    /// Hand an instance over and keep it BACKUP (maintenance), across reloads.
    Drain {
        /// The vrrp_instance name.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        instance: Option<String>,
        /// Every instance.
        #[arg(long)]
        all: bool,
    },
    /// Let a drained instance take part in the election again.
    Undrain {
        /// The vrrp_instance name.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        instance: Option<String>,
        /// Every instance.
        #[arg(long)]
        all: bool,
    },
    /// keepalived's state and statistics dumps (or its JSON dump with --json).
    Dump {
        /// keepalived's JSON dump.
        #[arg(long)]
        json: bool,
    },
}

/// Why keepalivedctl failed.
enum Failure {
    /// The daemon answered with an error.
    Refused(String),
    /// No daemon to talk to, or it answered nonsense.
    Unreachable(String),
}

/// Sends one request and reads the answer.
fn ask(socket: &Path, request: &Request) -> Result<Value, Failure> {
    let unreachable = |what: &str, e: std::io::Error| {
        Failure::Unreachable(format!("{what} {}: {e}", socket.display()))
    };
    let mut stream =
        UnixStream::connect(socket).map_err(|e| unreachable("cannot connect to", e))?;
    // A reload reads the configuration file: give it time.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let written = writeln!(stream, "{}", request.to_line());
    // The daemon may have answered (a refusal) and closed before reading: its answer says more
    // than the write error.
    let mut line = String::new();
    let read = BufReader::new(&stream).read_line(&mut line);
    if line.is_empty() {
        written.map_err(|e| unreachable("cannot write to", e))?;
        read.map_err(|e| unreachable("cannot read from", e))?;
    }
    if line.is_empty() {
        return Err(Failure::Unreachable(format!(
            "{} closed the connection without answering",
            socket.display()
        )));
    }
    protocol::parse_answer(line.trim_end()).map_err(Failure::Refused)
}

fn target(instance: Option<String>, all: bool) -> Target {
    match instance {
        Some(name) if !all => Target::One(name),
        _ => Target::All,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn run(cli: Cli) -> Result<String, Failure> {
    let socket = &cli.control_socket;
    Ok(match cli.command {
        Command::Status { json } => {
            let status = ask(socket, &Request::Status)?;
            if json {
                pretty(&status)
            } else {
                table::status(&status)
            }
        }
        Command::Show { instance, json } => {
            let shown = ask(socket, &Request::Show(instance))?;
            if json {
                pretty(&shown)
            } else {
                table::instance(&shown)
            }
        }
        Command::Reload => {
            let answer = ask(socket, &Request::Reload)?;
            let mut out = String::from("configuration checked: applied (the daemon reloads)");
            for problem in answer["problems"].as_array().into_iter().flatten() {
                out.push_str(&format!("\n  {}", problem.as_str().unwrap_or_default()));
            }
            out
        }
        Command::Drain { instance, all } => {
            let answer = ask(socket, &Request::Drain(target(instance, all)))?;
            format!("drained: {}", table::names(&answer["drained"]))
        }
        Command::Undrain { instance, all } => {
            let answer = ask(socket, &Request::Undrain(target(instance, all)))?;
            format!("undrained: {}", table::names(&answer["undrained"]))
        }
        Command::Dump { json } => {
            let dump = ask(socket, &Request::Dump)?;
            if json {
                pretty(&dump["json"])
            } else {
                format!(
                    "{}{}",
                    dump["data"].as_str().unwrap_or_default(),
                    dump["stats"].as_str().unwrap_or_default()
                )
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            println!("{}", out.trim_end());
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(err)) => {
            eprintln!("keepalivedctl: {err}");
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(err)) => {
            eprintln!("keepalivedctl: {err}");
            ExitCode::from(2)
        }
    }
}
