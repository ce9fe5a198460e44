//! A TCP server for health-check benchmarks: listens on every port given on the command line
//! (all addresses) and closes each connection as soon as it is accepted, the cheapest server
//! a TCP_CHECK can succeed against. Runs until killed.

use std::net::TcpListener;
use std::thread;

fn main() {
    let mut workers = Vec::new();
    for arg in std::env::args().skip(1) {
        let Ok(port) = arg.parse::<u16>() else {
            eprintln!("tcp-sink: not a port: {arg}");
            std::process::exit(2);
        };
        let listener = match TcpListener::bind(("0.0.0.0", port)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tcp-sink: cannot listen on port {port}: {e}");
                std::process::exit(1);
            }
        };
        workers.push(thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        }));
    }
    for worker in workers {
        let _ = worker.join();
    }
}
