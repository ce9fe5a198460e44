//! `genhash` against real servers (root only): busybox httpd and `openssl s_server -WWW`
//! (with a certificate generated for the test) in a lab namespace. Debian's genhash
//! (/usr/bin/genhash, keepalived 2.2.7 run under that name) and ours, run both as
//! `keepalived -T` and through a `genhash` symlink, must print the same thing for the same
//! command line: the digest of a page, of a 404 page, with a virtualhost and HTTP/1.1, over
//! TLS with and without SNI, and `Connection failed` for a closed port.
//!
//! Run: `cargo test -p keepalived --test genhash_lab` (as root with keepalived 2.2.7,
//! busybox and openssl; the test returns early otherwise).

use std::fs;
use std::time::{Duration, Instant};

use keepalived_testlab::prelude::*;

/// Our daemon, built by cargo for this test.
const OURS: &str = env!("CARGO_BIN_EXE_keepalived");
/// Debian's genhash.
const DEBIAN: &str = "/usr/bin/genhash";

fn wait_port(host: &Host, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let probe = format!("exec 3<>/dev/tcp/{}/{port}", host.address());
        if host
            .run("bash", &["-c", &probe])
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on port {port}");
}

#[test]
fn genhash_prints_what_debians_genhash_prints() {
    if !require_root() || !require_programs(&["busybox", "openssl", DEBIAN]) {
        return;
    }
    let lab = Lab::new("genhash", &["w"]).expect("lab");
    let w = lab.host("w");
    let root = w.dir().join("www");
    fs::create_dir_all(&root).expect("docroot");
    fs::write(root.join("index.html"), "hello from the lab\n").expect("page");
    fs::write(root.join("big.html"), "0123456789abcdef\n".repeat(3000)).expect("page");
    let link = w.dir().join("genhash");
    std::os::unix::fs::symlink(OURS, &link).expect("symlink");
    let cert = w.dir().join("cert.pem");
    let key = w.dir().join("key.pem");
    let made = w
        .run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=lab.example",
                "-keyout",
                key.to_str().expect("utf-8"),
                "-out",
                cert.to_str().expect("utf-8"),
            ],
        )
        .expect("openssl req");
    assert!(made.status.success(), "{made:?}");
    let addr = w.address().to_string();
    let _httpd = w
        .spawn(
            "busybox",
            &[
                "httpd",
                "-f",
                "-p",
                &format!("{addr}:8080"),
                "-h",
                root.to_str().expect("utf-8"),
            ],
        )
        .expect("httpd");
    let tls_cmd = format!(
        "cd {} && exec openssl s_server -quiet -accept {addr}:8443 -cert {} -key {} -WWW",
        root.display(),
        cert.display(),
        key.display()
    );
    let _tls = w.spawn("bash", &["-c", &tls_cmd]).expect("s_server");
    wait_port(w, 8080);
    wait_port(w, 8443);
    let cases: Vec<Vec<String>> = [
        "-s ADDR -p 8080 -u /index.html",
        "-s ADDR -p 8080 -u /big.html",
        "-s ADDR -p 8080 -u /missing.html",
        "-s ADDR -p 8080 -u /index.html -V www.example.org -P 1.1",
        "--server ADDR --port 8080 --url /index.html --protocol 1.0c -t 3",
        "-S -s ADDR -p 8443 -u /index.html",
        "-S -I -V lab.example -s ADDR -p 8443 -u /big.html",
        "-s ADDR -p 8081 -u /",
    ]
    .iter()
    .map(|c| {
        c.replace("ADDR", &addr)
            .split(' ')
            .map(str::to_string)
            .collect()
    })
    .collect();
    for case in &cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let debian = w.run(DEBIAN, &args).expect("debian genhash");
        let mut t_args = vec!["-T"];
        t_args.extend(&args);
        let ours_t = w.run(OURS, &t_args).expect("ours -T");
        let ours_link = w
            .run(link.to_str().expect("utf-8"), &args)
            .expect("ours link");
        let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(!text(&debian).is_empty(), "{case:?}: {debian:?}");
        assert_eq!(text(&ours_t), text(&debian), "{case:?}");
        assert_eq!(text(&ours_link), text(&debian), "{case:?}");
        assert_eq!(ours_t.status.code(), debian.status.code(), "{case:?}");
        println!("{case:?}: {}", text(&debian).trim());
    }
    // -v: the same report from the hash on (the header holds the server's Date, and Debian's
    // genhash titles the body's dump `HTML Buffer` only when the body comes in a read of its
    // own, which depends on timing), the body's dump, and the response time line.
    let tail = |o: &std::process::Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let from = text.find("HTML hash resulting").unwrap_or(text.len());
        let (report, time) = text[from..]
            .split_once("Global response time")
            .unwrap_or(("", ""));
        (
            report.to_string(),
            time.split(" = ").next().unwrap_or("").to_string(),
        )
    };
    let verbose = ["-v", "-s", &addr, "-p", "8080", "-u", "/index.html"];
    let debian = w.run(DEBIAN, &verbose).expect("debian -v");
    let ours = w
        .run(link.to_str().expect("utf-8"), &verbose)
        .expect("ours -v");
    assert!(!tail(&debian).0.is_empty(), "{debian:?}");
    assert_eq!(tail(&ours), tail(&debian));
    let body_dump = "0000  68 65 6c 6c 6f 20 66 72 - 6f 6d 20 74 68 65 20 6c   hello from the l";
    for output in [&debian, &ours] {
        assert!(
            String::from_utf8_lossy(&output.stdout).contains(body_dump),
            "{output:?}"
        );
    }
    // A command line without a url: the usage on stderr and status 1, as Debian's.
    let debian = w.run(DEBIAN, &["-s", &addr, "-p", "8080"]).expect("debian");
    let link_name = link.to_str().expect("utf-8");
    let ours = w
        .run(link_name, &["-s", &addr, "-p", "8080"])
        .expect("ours");
    assert_eq!(ours.status.code(), debian.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr).replace(link_name, DEBIAN),
        String::from_utf8_lossy(&debian.stderr)
    );
}
