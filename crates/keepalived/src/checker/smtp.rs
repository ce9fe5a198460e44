//! SMTP_CHECK (RFC 5321 sections 3.1, 4.1.1.1 and 4.1.1.10): the server's greeting must be
//! 220, `HELO NAME` must be answered 250, then `QUIT`. Each step is bounded by the check's
//! connect_timeout; failures are worded as keepalived 2.2.7 logs them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::timeout;

use super::probe::{Failure, connect};
use super::source::Source;

/// The longest reply line read.
const MAX_LINE: usize = 4096;

/// One SMTP_CHECK attempt against `target` (`name` is `[ADDR]:PORT` as the log lines say it,
/// `rs` the real server so).
pub async fn smtp(
    target: SocketAddr,
    source: &Source,
    helo: &str,
    limit: Duration,
    name: &str,
    rs: &str,
) -> Result<(), Failure> {
    let stream = match connect(target, source, limit).await {
        Ok(s) => s,
        Err(bind @ Failure::Bind(_)) => return Err(bind),
        Err(Failure::Unreachable) => {
            return Err(Failure::Said(format!(
                "Network unreachable for server {} - real server {rs}",
                target.ip()
            )));
        }
        Err(Failure::Connect(why)) if why == "timeout" => {
            return Err(Failure::Said(format!(
                "Connection timeout to server {name}"
            )));
        }
        // Refused, unreachable: what 2.2.7 logs for a server with nothing listening.
        Err(_) => return Err(Failure::Said(format!("Could not connect to server {name}"))),
    };
    let mut stream = BufReader::new(stream);
    if reply(&mut stream, limit, name).await? != 220 {
        return Err(Failure::Said(format!(
            "Bad greeting banner from server {name}"
        )));
    }
    send(&mut stream, &format!("HELO {helo}\r\n"), limit, name).await?;
    if reply(&mut stream, limit, name).await? != 250 {
        return Err(Failure::Said(format!(
            "Bad HELO response from server {name}"
        )));
    }
    send(&mut stream, "QUIT\r\n", limit, name).await?;
    reply(&mut stream, limit, name).await?;
    Ok(())
}

async fn send<S>(stream: &mut S, line: &str, limit: Duration, name: &str) -> Result<(), Failure>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    match timeout(limit, stream.write_all(line.as_bytes())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Failure::Said(format!("Write failure to server {name}"))),
        Err(_) => Err(Failure::Said(format!("Write timeout to server {name}"))),
    }
}

/// Reads one reply (the lines of a multi-line reply, `NNN-`, up to the last, `NNN `) and
/// returns its code, or -1 when it does not start with three digits.
async fn reply<S>(stream: &mut S, limit: Duration, name: &str) -> Result<i32, Failure>
where
    S: tokio::io::AsyncBufRead + Unpin,
{
    for _ in 0..64 {
        let mut line = Vec::new();
        let read = async {
            let mut limited = (&mut *stream).take(MAX_LINE as u64);
            limited.read_until(b'\n', &mut line).await
        };
        match timeout(limit, read).await {
            Err(_) => return Err(Failure::Said(format!("Read timeout from server {name}"))),
            Ok(Err(_)) | Ok(Ok(0)) => {
                return Err(Failure::Said(format!("Read failure from server {name}")));
            }
            Ok(Ok(_)) => {}
        }
        if line.last() != Some(&b'\n') {
            return Err(Failure::Said(format!("Read failure from server {name}")));
        }
        let code = match line.get(..3) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                i32::from(d[0] - b'0') * 100 + i32::from(d[1] - b'0') * 10 + i32::from(d[2] - b'0')
            }
            _ => return Ok(-1),
        };
        if line.get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
    Err(Failure::Said(format!("Read failure from server {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn server(script: &'static [&'static str]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 512];
            for (i, line) in script.iter().enumerate() {
                if i > 0 && s.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                if s.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_conversation_passes_or_names_its_step() {
        let t = Duration::from_secs(2);
        let good = server(&["220-first\r\n220 ready\r\n", "250 hi\r\n", "221 bye\r\n"]).await;
        assert_eq!(
            smtp(good, &Source::default(), "h", t, "[x]:25", "[r]:25").await,
            Ok(())
        );
        let banner = server(&["554 go away\r\n"]).await;
        assert_eq!(
            smtp(banner, &Source::default(), "h", t, "[x]:25", "[r]:25").await,
            Err(Failure::Said(
                "Bad greeting banner from server [x]:25".into()
            ))
        );
        let helo = server(&["220 ready\r\n", "501 no\r\n"]).await;
        assert_eq!(
            smtp(helo, &Source::default(), "h", t, "[x]:25", "[r]:25").await,
            Err(Failure::Said("Bad HELO response from server [x]:25".into()))
        );
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        assert_eq!(
            smtp(closed, &Source::default(), "h", t, "[x]:25", "[r]:25").await,
            Err(Failure::Said("Could not connect to server [x]:25".into()))
        );
    }
}
