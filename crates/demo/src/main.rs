//! `seed-demo`: the seed's story, narrated as it happens (see the crate docs and
//! docs/examples/mysql-dual-master/README.md). Root only.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use keepalived_demo::story::{self, Daemon, Narrator, Options, PROGRAMS, relevant};
use keepalived_testlab::initd::LogLine;
use keepalived_testlab::{KEEPALIVED_BIN, Subnet, is_root, require_programs};

const USAGE: &str = "\
Usage: seed-demo [--fast] [--mixed] [--no-capture] [--keepalived PATH]

Replays the seed article in network namespaces: MariaDB on hosts A and B, keepalived-rs
started on each by /etc/init.d/keepalived with the seed's configs, a client on host C reading
@@server_id through the VIP. Steps: the VIP settles on A (started first); MySQL stops on A
(A FAULT, B MASTER); MySQL back on A (nopreempt: the VIP stays on B); kill -9 of keepalived on
B (A takes over, B's restart leaves no copy); init.d stop on the master (priority-0 handover).

  --fast             script interval 5 s and advert_int 1 s instead of the seed's 60 s and 5 s
                     (set through the config's own $NAME parameters)
  --mixed            a rolling upgrade: A runs Debian's keepalived 2.2.7, B keepalived-rs
  --no-capture       do not capture the priority-0 advert (no dumpcap/tshark needed)
  --keepalived PATH  the keepalived-rs binary (default: next to this program, built by cargo)

Everything runs as root in namespaces on 192.0.2.0/24 (198.51.100.0/24 with --mixed) and is
removed at the end and on Ctrl-C.";

/// Prints narration and relevant log lines with the time since the start.
struct Console {
    start: Instant,
    vip: String,
    out: Mutex<()>,
}

impl Console {
    fn stamp(&self) -> String {
        let t = self.start.elapsed().as_secs_f64();
        format!("[{:02}:{:04.1}]", (t / 60.0) as u32, t % 60.0)
    }
}

impl Narrator for Console {
    fn say(&self, text: &str) {
        let _g = self.out.lock();
        println!("{} {text}", self.stamp());
    }

    fn log(&self, host: &str, line: &LogLine) {
        let text = line.text();
        if !relevant(text, &self.vip) {
            return;
        }
        let _g = self.out.lock();
        println!("{}     {host} syslog| {}", self.stamp(), line.raw);
    }
}

struct Args {
    fast: bool,
    mixed: bool,
    capture: bool,
    binary: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>> {
    let mut args = Args {
        fast: false,
        mixed: false,
        capture: true,
        binary: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fast" => args.fast = true,
            "--mixed" => args.mixed = true,
            "--no-capture" => args.capture = false,
            "--keepalived" => {
                args.binary = Some(PathBuf::from(
                    it.next().context("--keepalived needs a path")?,
                ))
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(args))
}

/// Our keepalived: the given path, or the one cargo builds next to this program (built now
/// when running under cargo, so `cargo run -p keepalived-demo` is the one command).
fn our_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            bail!("{} does not exist", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("finding this program")?;
    let dir = exe.parent().context("this program has no directory")?;
    if let Some(cargo) = std::env::var_os("CARGO") {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-p",
            "keepalived",
            "--bin",
            "keepalived",
            "--manifest-path",
        ])
        .arg(&manifest);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        println!("building keepalived-rs: {cmd:?}");
        let status = cmd.status().context("running cargo build")?;
        if !status.success() {
            bail!("cargo build -p keepalived failed ({status})");
        }
    }
    story::sibling_binary(&exe).with_context(|| {
        format!(
            "no keepalived next to {}: run `cargo build --release -p keepalived` first or pass --keepalived PATH",
            exe.display()
        )
    })
}

/// Sets `flag` on the first Ctrl-C (or SIGTERM) and says so; the story stops at its next wait
/// and cleans up.
fn watch_interrupts(flag: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("building the signal runtime")?;
    std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            rt.block_on(async move {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                loop {
                    let term_recv = async {
                        match term.as_mut() {
                            Some(t) => {
                                t.recv().await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => { if r.is_err() { return; } }
                        () = term_recv => {}
                    }
                    if flag.swap(true, Ordering::SeqCst) {
                        eprintln!("\nstill cleaning up (namespaces, daemons, MariaDB)…");
                    } else {
                        eprintln!("\ninterrupted: stopping the story and cleaning up…");
                    }
                }
            });
        })
        .context("starting the signal thread")?;
    Ok(())
}

fn run() -> Result<bool> {
    let Some(args) = parse_args()? else {
        return Ok(true);
    };
    if !is_root() {
        bail!("seed-demo needs root (network namespaces, mounts)");
    }
    let mut programs: Vec<&str> = PROGRAMS.to_vec();
    if args.mixed {
        programs.push(KEEPALIVED_BIN);
    }
    if args.capture {
        programs.extend(["dumpcap", "tshark"]);
    }
    if !require_programs(&programs) {
        bail!(
            "missing programs; on Debian: apt-get update && apt-get install -y keepalived \
             mariadb-server mariadb-client tcpdump tshark iproute2 util-linux"
        );
    }
    let ours = our_binary(args.binary)?;
    let cancel = Arc::new(AtomicBool::new(false));
    watch_interrupts(cancel.clone())?;
    let subnet = if args.mixed {
        Subnet::TestNet2
    } else {
        Subnet::TestNet1
    };
    let console = Arc::new(Console {
        start: Instant::now(),
        vip: subnet.addr(100).to_string(),
        out: Mutex::new(()),
    });
    let (interval, advert_int) = if args.fast {
        (5, 1)
    } else {
        (story::SEED_INTERVAL, story::SEED_ADVERT_INT)
    };
    let b = Daemon {
        binary: ours.clone(),
        ours: true,
    };
    let a = if args.mixed {
        Daemon {
            binary: PathBuf::from(KEEPALIVED_BIN),
            ours: false,
        }
    } else {
        b.clone()
    };
    console.say(&format!(
        "seed demo: A runs {} ({}), B runs {} ({}); {}",
        a.label(),
        a.binary.display(),
        b.label(),
        b.binary.display(),
        if args.fast {
            "--fast: shorter timings than the seed's"
        } else {
            "the seed's timings (interval 60, advert_int 5): the whole story takes about 5 minutes; --fast for a quick one"
        }
    ));
    let options = Options {
        tag: if args.mixed { "seedmix" } else { "seeddemo" }.to_string(),
        subnet,
        a,
        b,
        interval,
        advert_int,
        capture: args.capture,
        cancel: cancel.clone(),
        narrator: console.clone(),
    };
    let result = story::run(&options);
    match result {
        Ok(outcome) => {
            console.say("the story, as measured:");
            for m in &outcome.measures {
                println!(
                    "    {:<70} {:>6.1} s  (bound {:.1} s)",
                    m.what,
                    m.took.as_secs_f64(),
                    m.bound.as_secs_f64()
                );
            }
            console.say(&format!(
                "all {} steps passed; everything was removed",
                outcome.passed.len()
            ));
            Ok(true)
        }
        Err(e) if cancel.load(Ordering::SeqCst) => {
            console.say(&format!("stopped ({e:#}); everything was removed"));
            Ok(false)
        }
        Err(e) => {
            console.say(&format!("FAILED: {e:#}"));
            console.say("everything was removed");
            Ok(false)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("seed-demo: {e:#}");
            ExitCode::from(2)
        }
    }
}
