//! The `genhash` command, as keepalived 2.2.7 ships it (the keepalived binary run under the
//! name `genhash`, or with `-T` / `--genhash` first): fetches a URL as HTTP_GET / SSL_GET do
//! and prints the MD5 digest of the body that a `digest` line expects.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use tokio::net::TcpSocket;

use super::plan::HttpProtocol;
use super::probe::{Failure, exchange, http_request};
use super::tls;

/// genhash's help, word for word as 2.2.7 prints it (on stderr, after `Usage: PROGRAM`).
const USAGE: &str = " COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// `-s`.
    pub server: Option<IpAddr>,
    /// `-p`.
    pub port: Option<u16>,
    /// `-u`.
    pub url: Option<String>,
    /// `-S`.
    pub ssl: bool,
    /// `-I`.
    pub sni: bool,
    /// `-V`.
    pub virtualhost: Option<String>,
    /// `-v`.
    pub verbose: bool,
    /// `-m`.
    pub fwmark: Option<u32>,
    /// `-P`.
    pub protocol: HttpProtocol,
    /// `-t` (5 s when not given).
    pub timeout: Option<Duration>,
}

/// Reads genhash's options (short, attached or separate values, or long, `--opt VALUE` or
/// `--opt=VALUE`); `None` means print the usage and exit 1.
pub fn parse(args: &[String]) -> Option<Request> {
    let mut r = Request::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (name, inline): (&str, Option<String>) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            }
        } else if let Some(short) = arg.strip_prefix('-') {
            let mut chars = short.chars();
            let c = chars.next()?;
            let rest: String = chars.collect();
            let long = match c {
                'S' => "use-ssl",
                'I' => "use-sni",
                's' => "server",
                'p' => "port",
                'u' => "url",
                'V' => "use-virtualhost",
                'v' => "verbose",
                'h' => "help",
                'm' => "fwmark",
                'P' => "protocol",
                't' => "timeout",
                _ => return None,
            };
            (long, (!rest.is_empty()).then_some(rest))
        } else {
            return None;
        };
        let takes_value = matches!(
            name,
            "server" | "port" | "url" | "use-virtualhost" | "fwmark" | "protocol" | "timeout"
        );
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    Some(args.get(i)?.clone())
                }
            }
        } else {
            None
        };
        let v = value.unwrap_or_default();
        match name {
            "use-ssl" => r.ssl = true,
            "use-sni" => r.sni = true,
            "verbose" => r.verbose = true,
            "server" => r.server = Some(v.parse().ok()?),
            "port" => r.port = Some(v.parse().ok()?),
            "url" => r.url = Some(v),
            "use-virtualhost" => r.virtualhost = Some(v),
            "fwmark" => r.fwmark = Some(v.parse().ok()?),
            "protocol" => r.protocol = HttpProtocol::parse(&v)?,
            "timeout" => {
                r.timeout = Some(Duration::try_from_secs_f64(v.parse().ok()?).ok()?);
            }
            _ => return None,
        }
        i += 1;
    }
    (r.server.is_some() && r.port.is_some() && r.url.is_some()).then_some(r)
}

/// Runs genhash with `args` (without the program name, `program`, which the usage names as
/// 2.2.7 does); returns the exit status.
pub fn main(program: &str, args: &[String]) -> i32 {
    let Some(request) = parse(args) else {
        eprint!("Usage: {program}{USAGE}");
        return 1;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("genhash: cannot start the runtime: {e}");
            return 1;
        }
    };
    let started = Instant::now();
    match runtime.block_on(fetch(&request)) {
        Err(Failure::Connect(_)) => println!("Connection failed"),
        Err(_) => println!("no data received from remote webserver"),
        Ok(response) => {
            let split = response
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 4);
            let Some(split) = split else {
                println!("no data received from remote webserver");
                return 0;
            };
            let (head, body) = response.split_at(split);
            let digest = Md5::digest(body);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            if request.verbose {
                print!(
                    "{}",
                    verbose(
                        head,
                        body,
                        &digest,
                        &hex,
                        request.url.as_deref().unwrap_or("")
                    )
                );
                println!(
                    "Global response time for [{}] = {} usecs",
                    request.url.as_deref().unwrap_or(""),
                    started.elapsed().as_micros()
                );
            } else {
                println!("{hex}");
            }
        }
    }
    0
}

async fn fetch(r: &Request) -> Result<Vec<u8>, Failure> {
    let (Some(ip), Some(port), Some(url)) = (r.server, r.port, r.url.as_deref()) else {
        return Err(Failure::Io("incomplete request".into()));
    };
    let target = SocketAddr::new(ip, port);
    let limit = r.timeout.unwrap_or(Duration::from_secs(5));
    let request = http_request(url, target, r.virtualhost.as_deref(), r.protocol);
    if r.ssl {
        let sni = if r.sni {
            r.virtualhost.as_deref()
        } else {
            None
        };
        if r.fwmark.is_some() {
            return Err(Failure::Io("fwmark with SSL".into()));
        }
        let stream = tls::connect_tls(target, &Default::default(), sni, limit).await?;
        exchange(stream, &request, limit).await
    } else {
        let stream = connect_marked(target, r.fwmark, limit).await?;
        exchange(stream, &request, limit).await
    }
}

/// A TCP connection, its packets marked with `fwmark` when given.
async fn connect_marked(
    target: SocketAddr,
    fwmark: Option<u32>,
    limit: Duration,
) -> Result<tokio::net::TcpStream, Failure> {
    let fail = |e: std::io::Error| Failure::Connect(e.to_string());
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(fail)?;
    if let Some(mark) = fwmark {
        socket2::SockRef::from(&socket)
            .set_mark(mark)
            .map_err(fail)?;
    }
    match tokio::time::timeout(limit, socket.connect(target)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(fail(e)),
        Err(_) => Err(Failure::Connect("timeout".into())),
    }
}

/// The `-v` report: the header and body as hex dumps, the header as text, the digest.
pub fn verbose(head: &[u8], body: &[u8], digest: &[u8], hex: &str, _url: &str) -> String {
    let bar = |title: &str| format!("-----------------------[{title}]-----------------------\n");
    let mut out = String::new();
    out += &bar("    HTTP Header Buffer    ");
    out += &hexdump(head);
    out += &bar(" HTTP Header Ascii Buffer ");
    out += &String::from_utf8_lossy(head);
    out += "\n";
    out += &bar("        HTML Buffer        ");
    out += &hexdump(body);
    out += "\n";
    out += &bar("    HTML hash resulting    ");
    out += &hexdump(digest);
    out += &bar(" HTML hash final resulting ");
    out += hex;
    out += "\n\n";
    out
}

/// 16 bytes a line: decimal offset, two groups of eight hex bytes, then the printable bytes.
pub fn hexdump(data: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in data.chunks(16).enumerate() {
        out += &format!("{:04}  ", row * 16);
        for i in 0..16 {
            if i == 8 {
                out += "- ";
            }
            match chunk.get(i) {
                Some(b) => out += &format!("{b:02x} "),
                None => out += "   ",
            }
        }
        out += "  ";
        let text: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out += &format!("{text:<16}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn command_lines() {
        let r = parse(&args("-s 127.0.0.1 -p 8080 -u /index.html")).expect("ok");
        assert_eq!(r.server, Some("127.0.0.1".parse().expect("ip")));
        assert_eq!(
            (r.port, r.url.as_deref()),
            (Some(8080), Some("/index.html"))
        );
        let r = parse(&args(
            "--server=192.0.2.1 --port 443 -u/ -S -I -V www.example.org -P 1.1 -t 2 -m 3",
        ))
        .expect("ok");
        assert!(r.ssl && r.sni);
        assert_eq!(r.protocol, HttpProtocol::V11);
        assert_eq!(r.timeout, Some(Duration::from_secs(2)));
        assert_eq!(r.fwmark, Some(3));
        assert!(parse(&args("-s 127.0.0.1 -p 8080")).is_none());
        assert!(parse(&args("-h")).is_none());
        assert!(parse(&args("-s nothost -p 1 -u /")).is_none());
        assert!(parse(&args("-s 127.0.0.1 -p 80 -u / -x")).is_none());
    }

    #[test]
    fn hexdump_layout() {
        assert_eq!(
            hexdump(b"HTTP/1.1 200 OK\r\n"),
            "0000  48 54 54 50 2f 31 2e 31 - 20 32 30 30 20 4f 4b 0d   HTTP/1.1 200 OK.\n\
             0016  0a                      -                           .               \n"
        );
    }
}
