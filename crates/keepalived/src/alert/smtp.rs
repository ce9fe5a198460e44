//! The SMTP client of the alerts: the few commands 2.2.7 sends (RFC 5321 section 3.3), each
//! reply read within the connect timeout, no TLS and no authentication (2.2.7 has neither).

use std::io;

use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::AlertSettings;
use super::message::{Mail, render};
use crate::logger::Logger;

/// Sends `mail` as `settings` say; logs the connection as 2.2.7 does.
pub async fn send(settings: &AlertSettings, mail: &Mail, logger: &Logger) -> io::Result<()> {
    let limit = settings.timeout;
    let stream = timeout(limit, TcpStream::connect(settings.server))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))??;
    logger.info(&format!(
        "Remote SMTP server [{}]:{} connected.",
        settings.server.ip(),
        settings.server.port()
    ));
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read);
    let mut session = Session {
        replies: &mut replies,
        limit,
    };
    session.expect(220).await?;
    let mut commands = vec![
        format!("HELO {}", settings.helo),
        format!("MAIL FROM:<{}>", settings.from),
    ];
    commands.extend(settings.to.iter().map(|to| format!("RCPT TO:<{to}>")));
    for command in commands {
        write.write_all(format!("{command}\r\n").as_bytes()).await?;
        session.expect(250).await?;
    }
    write.write_all(b"DATA\r\n").await?;
    session.expect(354).await?;
    let data = render(
        mail,
        &settings.from,
        &settings.to,
        OffsetDateTime::now_utc(),
    );
    write.write_all(data.as_bytes()).await?;
    write.write_all(b".\r\n").await?;
    session.expect(250).await?;
    write.write_all(b"QUIT\r\n").await?;
    // The reply to QUIT changes nothing: the mail is accepted.
    let _ = session.expect(221).await;
    Ok(())
}

/// The server's side of the dialog.
struct Session<'a, R> {
    replies: &'a mut BufReader<R>,
    limit: std::time::Duration,
}

impl<R: tokio::io::AsyncRead + Unpin> Session<'_, R> {
    /// Reads one reply (all its lines, RFC 5321 section 4.2.1) and checks its code.
    async fn expect(&mut self, code: u16) -> io::Result<()> {
        loop {
            let mut line = String::new();
            let read = timeout(self.limit, self.replies.read_line(&mut line))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))??;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            let got: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return match got {
                Some(got) if got == code => Ok(()),
                _ => Err(io::Error::other(format!(
                    "expected {code}, the server said: {}",
                    line.trim_end()
                ))),
            };
        }
    }
}
