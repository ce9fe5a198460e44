//! One attempt of each check, bounded by its timeout: TCP_CHECK opens and closes a
//! connection, HTTP_GET fetches each url (HTTP/1.0, as keepalived does) and compares the status
//! and the MD5 digest of the body (what `genhash` prints), MISC_CHECK runs a program through
//! the script runner.

use std::net::SocketAddr;
use std::time::Duration;

use keepalived_track::{Outcome, ScriptSpec, run_once};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::plan::{HttpProtocol, UrlPlan};
use super::source::{ConnectError, Source, strerror};

/// At most this much of a response is read (headers and body).
const MAX_RESPONSE: usize = 1 << 20;

/// Why an attempt failed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection within the timeout, or refused.
    Connect(String),
    /// The exchange timed out or broke.
    Io(String),
    /// An ICMP echo request could not be sent (no route, …).
    Send(String),
    /// An HTTP status not accepted.
    Status(u16),
    /// The body's digest differs.
    Digest(String),
    /// A MISC_CHECK program's exit status (or `None` for a timeout).
    Exit(Option<i32>),
    /// A MISC_CHECK program that cannot run.
    CannotRun(String),
    /// A reason worded as keepalived logs it (DNS_CHECK, SMTP_CHECK).
    Said(String),
    /// The body does not pass the url's `regex` (or, with `regex_no_match`, does).
    Regex,
    /// The socket could not be given its source (`bindto`, `bind_if`, `fwmark`): keepalived
    /// logs it and tries again at the next delay_loop, the server's state unchanged.
    Bind(String),
    /// No route to the server (`ENETUNREACH`).
    Unreachable,
}

/// TCP_CHECK: connects within `connect_timeout` and closes.
pub async fn tcp(
    target: SocketAddr,
    source: &Source,
    connect_timeout: Duration,
) -> Result<(), Failure> {
    connect(target, source, connect_timeout).await.map(drop)
}

/// Connects to `target` from `source` within `connect_timeout`.
pub async fn connect(
    target: SocketAddr,
    source: &Source,
    connect_timeout: Duration,
) -> Result<TcpStream, Failure> {
    match timeout(connect_timeout, source.tcp_connect(target)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(ConnectError::Bind(e))) => Err(Failure::Bind(strerror(&e))),
        Ok(Err(ConnectError::Connect(e)))
            if e.raw_os_error() == Some(nix::errno::Errno::ENETUNREACH as i32) =>
        {
            Err(Failure::Unreachable)
        }
        Ok(Err(ConnectError::Connect(e))) => Err(Failure::Connect(e.to_string())),
        Err(_) => Err(Failure::Connect("timeout".into())),
    }
}

/// HTTP_GET of one url: the status must be accepted and, when a digest is configured, the MD5
/// of the body must match. The whole exchange is bounded by `connect_timeout`, as keepalived
/// bounds each of its steps.
pub async fn http_url(
    target: SocketAddr,
    source: &Source,
    request: &str,
    url: &UrlPlan,
    connect_timeout: Duration,
) -> Result<(), Failure> {
    let stream = connect(target, source, connect_timeout).await?;
    let response = exchange(stream, request, connect_timeout).await?;
    judge(&response, url)
}

/// The request HTTP_GET, SSL_GET and genhash send, as 2.2.7 writes it: `Host` is the
/// virtualhost, else `ADDR:PORT` (an IPv6 address in brackets).
pub fn http_request(
    path: &str,
    target: SocketAddr,
    virtualhost: Option<&str>,
    protocol: HttpProtocol,
) -> String {
    let host = match virtualhost {
        Some(name) => name.to_string(),
        None => target.to_string(),
    };
    let (version, close) = match protocol {
        HttpProtocol::V10 => ("1.0", ""),
        HttpProtocol::V10Close => ("1.0", "Connection: close\r\n"),
        HttpProtocol::V11 => ("1.1", "Connection: close\r\n"),
    };
    format!(
        "GET {path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
}

/// Sends `request` on `stream` and reads the response until the server closes (at most
/// [`MAX_RESPONSE`] bytes), all within `limit`.
pub async fn exchange<S>(mut stream: S, request: &str, limit: Duration) -> Result<Vec<u8>, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let work = async {
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        let mut chunk = vec![0u8; 8192];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // A TLS server that closes without close_notify: what came is the answer.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e),
            };
            if n == 0 || response.len() + n > MAX_RESPONSE {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(response)
    };
    match timeout(limit, work).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(Failure::Io(e.to_string())),
        Err(_) => Err(Failure::Io("timeout".into())),
    }
}

/// Whether a response passes a url's status and digest rules.
pub fn judge(response: &[u8], url: &UrlPlan) -> Result<(), Failure> {
    // Nothing at all: 2.2.7's "Read, no data received from" (see url_cycle::attempt_line);
    // something without a status line has no accepted status.
    if response.is_empty() {
        return Err(Failure::Io("no data".into()));
    }
    let (status, body) = parse_response(response).ok_or(Failure::Status(0))?;
    let accepted = if url.status.is_empty() {
        (200..300).contains(&status)
    } else {
        url.status
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    };
    if !accepted {
        return Err(Failure::Status(status));
    }
    if let Some(expected) = &url.digest {
        let got = digest_hex(body);
        if &got != expected {
            return Err(Failure::Digest(got));
        }
    }
    if let Some(regex) = &url.regex
        && !regex.passes(body)
    {
        return Err(Failure::Regex);
    }
    Ok(())
}

/// The status code and body of an HTTP response.
pub fn parse_response(response: &[u8]) -> Option<(u16, &[u8])> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    let status_line = head.lines().next()?;
    let mut words = status_line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = words.next()?.parse().ok()?;
    Some((status, &response[end + 4..]))
}

/// The MD5 of `body` in lowercase hex, as keepalived's genhash prints it.
pub fn digest_hex(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// MISC_CHECK: runs `argv` (its program already resolved) as `run_as` (uid, gid; `None`:
/// the daemon's own) and reads its exit status.
pub async fn misc(
    argv: &[String],
    limit: Duration,
    run_as: Option<(u32, u32)>,
) -> Result<i32, Failure> {
    let spec = ScriptSpec {
        name: argv.first().cloned().unwrap_or_default(),
        argv: argv.to_vec(),
        interval: limit,
        timeout: limit,
        rise: 1,
        fall: 1,
        init_fail: false,
        // A daemon not run by root cannot change user: the script runs as the daemon.
        uid_gid: run_as.filter(|_| nix::unistd::geteuid().is_root()),
    };
    match run_once(&spec).await {
        Outcome::Success => Ok(0),
        Outcome::Failure(code) => Ok(code),
        Outcome::TimedOut => Err(Failure::Exit(None)),
        Outcome::CannotRun(reason) => Err(Failure::CannotRun(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_md5_hex() {
        assert_eq!(digest_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            digest_hex(b"hello from the lab\n"),
            format!("{:x}", Md5::digest(b"hello from the lab\n"))
        );
    }

    #[test]
    fn requests_are_written_as_genhash_writes_them() {
        let a: SocketAddr = "127.0.0.1:8090".parse().expect("addr");
        assert_eq!(
            http_request("/x", a, None, HttpProtocol::V10),
            "GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:8090\r\n\r\n"
        );
        assert_eq!(
            http_request("/y", a, Some("www.example.org"), HttpProtocol::V11),
            "GET /y HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: www.example.org\r\n\r\n"
        );
    }

    #[test]
    fn responses_parse_or_refuse() {
        let (status, body) = parse_response(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nbody").expect("ok");
        assert_eq!((status, body), (200, &b"body"[..]));
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n").map(|r| r.0),
            Some(404)
        );
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n").is_none());
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_none());
        assert!(parse_response(b"HTTP/1.0 abc OK\r\n\r\n").is_none());
    }

    #[test]
    fn a_url_regex_judges_the_body() {
        let mut url = UrlPlan {
            path: "/".into(),
            status: vec![],
            digest: None,
            virtualhost: None,
            regex: Some(crate::checker::plan::UrlRegex {
                re: crate::checker::plan::compile_regex("ready", &[]).expect("re"),
                no_match: false,
                min_offset: 0,
                max_offset: None,
            }),
        };
        // The body is searched, not the headers.
        let ok = b"HTTP/1.0 200 OK\r\nX: ready\r\n\r\nall ready";
        let not = b"HTTP/1.0 200 OK\r\nX: ready\r\n\r\nstarting";
        assert_eq!(judge(ok, &url), Ok(()));
        assert_eq!(judge(not, &url), Err(Failure::Regex));
        if let Some(r) = url.regex.as_mut() {
            r.no_match = true;
        }
        assert_eq!(judge(ok, &url), Err(Failure::Regex));
        assert_eq!(judge(not, &url), Ok(()));
        // The status is judged first.
        let bad = b"HTTP/1.0 500 Oops\r\n\r\nstarting";
        assert_eq!(judge(bad, &url), Err(Failure::Status(500)));
    }

    #[tokio::test]
    async fn http_checks_status_and_digest_against_a_real_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            for _ in 0..3 {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello").await;
            }
        });
        let t = Duration::from_secs(2);
        let mut url = UrlPlan {
            path: "/".into(),
            status: vec![],
            digest: Some(digest_hex(b"hello")),
            virtualhost: None,
            regex: None,
        };
        let req = http_request("/", addr, None, HttpProtocol::V10);
        let src = Source::default();
        assert_eq!(http_url(addr, &src, &req, &url, t).await, Ok(()));
        url.digest = Some(digest_hex(b"other"));
        assert!(matches!(
            http_url(addr, &src, &req, &url, t).await,
            Err(Failure::Digest(_))
        ));
        url.digest = None;
        url.status = vec![(301, 302)];
        assert_eq!(
            http_url(addr, &src, &req, &url, t).await,
            Err(Failure::Status(200))
        );
        server.abort();
        // Nothing listens any more: the connection is refused.
        assert!(matches!(tcp(addr, &src, t).await, Err(Failure::Connect(_))));
    }
}

/// PING_CHECK: one ICMP echo request to `target` on a raw socket (ICMPv6, RFC 4443 section
/// 4, for an IPv6 target); success when the matching echo reply arrives within `limit`.
pub async fn ping(
    target: std::net::IpAddr,
    source: &Source,
    limit: Duration,
    seq: u16,
) -> Result<(), Failure> {
    use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::OwnedFd;

    use socket2::{Domain, Protocol, Socket, Type};

    let io = |e: std::io::Error| Failure::Io(e.to_string());
    let (domain, protocol) = match target {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(io)?;
    socket.set_nonblocking(true).map_err(io)?;
    // bindto, bind_if and fwmark apply to the echo requests too (a port means nothing here).
    let raw_source = Source {
        port: None,
        ..source.clone()
    };
    raw_source
        .apply(&socket, SocketAddr::new(target, 0))
        .map_err(|e| Failure::Bind(strerror(&e)))?;
    // A raw socket driven through tokio's datagram socket: sendto/recvfrom are the same calls.
    let socket = std::net::UdpSocket::from(OwnedFd::from(socket));
    let socket = tokio::net::UdpSocket::from_std(socket).map_err(io)?;
    let id = (std::process::id() & 0xffff) as u16;
    let (request, to) = match target {
        IpAddr::V4(dst) => (
            echo_request(id, seq),
            SocketAddr::V4(SocketAddrV4::new(dst, 0)),
        ),
        // The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket (RFC 3542 3.1).
        IpAddr::V6(dst) => {
            let mut packet = echo_request(id, seq);
            packet[0] = 128;
            packet[2..4].copy_from_slice(&[0, 0]);
            (packet, SocketAddr::V6(SocketAddrV6::new(dst, 0, 0, 0)))
        }
    };
    socket
        .send_to(&request, to)
        .await
        .map_err(|e| Failure::Send(e.to_string()))?;
    let wait = async {
        let mut buf = [0u8; 1500];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await?;
            let matched = match target {
                IpAddr::V4(dst) => is_echo_reply(&buf[..n], dst, id, seq),
                IpAddr::V6(_) => from.ip() == target && is_echo_reply_v6(&buf[..n], id, seq),
            };
            if matched {
                return Ok::<_, std::io::Error>(());
            }
        }
    };
    match timeout(limit, wait).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(Failure::Io("timeout".into())),
    }
}

/// Whether an ICMPv6 message (a raw ICMPv6 socket reads no IPv6 header) is the echo reply
/// (type 129) to `id`/`seq`.
fn is_echo_reply_v6(icmp: &[u8], id: u16, seq: u16) -> bool {
    icmp.len() >= 8
        && icmp[0] == 129
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// An ICMP echo request (RFC 792) with a 16-byte payload.
fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![8, 0, 0, 0];
    packet.extend(id.to_be_bytes());
    packet.extend(seq.to_be_bytes());
    packet.extend(b"keepalived-rs-hc");
    let sum = icmp_checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// The Internet checksum (RFC 1071).
fn icmp_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether an IPv4 packet (as a raw socket reads it) is the echo reply to `id`/`seq` from `from`.
fn is_echo_reply(packet: &[u8], from: std::net::Ipv4Addr, id: u16, seq: u16) -> bool {
    let Some(&first) = packet.first() else {
        return false;
    };
    let header = usize::from(first & 0x0f) * 4;
    let (Some(src), Some(icmp)) = (packet.get(12..16), packet.get(header..)) else {
        return false;
    };
    src == from.octets()
        && icmp.len() >= 8
        && icmp[0] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

#[cfg(test)]
mod ping_tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero_and_replies_are_matched() {
        let req = echo_request(0x1234, 7);
        assert_eq!(icmp_checksum(&req), 0);
        let mut reply = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 51, 192, 0, 2, 51,
        ];
        let mut icmp = req.clone();
        icmp[0] = 0;
        reply.extend(icmp);
        let from = std::net::Ipv4Addr::new(192, 0, 2, 51);
        assert!(is_echo_reply(&reply, from, 0x1234, 7));
        assert!(!is_echo_reply(&reply, from, 0x1234, 8));
        assert!(!is_echo_reply(
            &reply,
            std::net::Ipv4Addr::new(192, 0, 2, 52),
            0x1234,
            7
        ));
        assert!(!is_echo_reply(&reply[..22], from, 0x1234, 7));
        assert!(!is_echo_reply(&[], from, 0x1234, 7));
        let mut v6 = req.clone();
        v6[0] = 129;
        assert!(is_echo_reply_v6(&v6, 0x1234, 7));
        assert!(!is_echo_reply_v6(&req, 0x1234, 7));
        assert!(!is_echo_reply_v6(&v6[..6], 0x1234, 7));
    }

    /// A real echo over IPv6 loopback (root only: a raw socket).
    #[tokio::test]
    async fn ping_over_ipv6_loopback() {
        if !nix::unistd::Uid::effective().is_root() {
            println!("skipped: needs root");
            return;
        }
        let t = Duration::from_secs(2);
        let src = Source::default();
        assert_eq!(ping("::1".parse().expect("ip"), &src, t, 3).await, Ok(()));
        assert_eq!(
            ping("127.0.0.1".parse().expect("ip"), &src, t, 4).await,
            Ok(())
        );
    }
}
