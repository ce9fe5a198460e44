//! `Startup complete` and `Reload complete` as keepalived 2.2.7 logs them: once, from the
//! parent (`Keepalived[PID]`), when every child has finished starting or reloading (observed
//! through syslog: the VRRP child's start and reload lines come first, then the parent's
//! line).
//!
//! Each child tells the parent with one datagram on an abstract unix socket named after the
//! parent's pid ([`socket_name`]); the parent counts the children it waits for
//! ([`Awaiting`]). A child whose parent cannot be told (no socket: the parent runs in another
//! network namespace, or could not bind it) logs the line itself, so it is never lost.

use std::collections::BTreeSet;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::cli::ChildRole;
use crate::logger::Logger;

/// What a child has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Its start: instances or checks running.
    Startup,
    /// A reload (SIGHUP).
    Reload,
}

impl Done {
    /// keepalived 2.2.7's line for it.
    pub fn line(self) -> &'static str {
        match self {
            Done::Startup => "Startup complete",
            Done::Reload => "Reload complete",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Done::Startup => "startup",
            Done::Reload => "reload",
        }
    }
}

/// The abstract socket name the parent with pid `parent` listens on.
pub fn socket_name(parent: u32) -> String {
    format!("keepalived-rs-ready-{parent}")
}

fn address(parent: u32) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(socket_name(parent).as_bytes())
}

/// In a child: tells the parent that `role` finished `done`; when the parent cannot be told,
/// logs the line itself.
pub fn tell_parent(logger: &Logger, role: ChildRole, done: Done) {
    let parent = u32::try_from(nix::unistd::getppid().as_raw()).unwrap_or(0);
    let message = format!("{} {}", role.arg(), done.word());
    let sent = address(parent).and_then(|to| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(message.as_bytes(), &to)
    });
    if sent.is_err() {
        logger.info(done.line());
    }
}

/// In the parent: the socket children report on.
pub struct Listener {
    socket: tokio::net::UnixDatagram,
}

impl Listener {
    /// Binds the socket of this process (before any child starts, so no report is lost).
    pub fn bind() -> io::Result<Listener> {
        let socket = UnixDatagram::bind_addr(&address(std::process::id())?)?;
        socket.set_nonblocking(true)?;
        Ok(Listener {
            socket: tokio::net::UnixDatagram::from_std(socket)?,
        })
    }

    /// The next report: which child finished what (unreadable datagrams are skipped).
    pub async fn next(&self) -> (ChildRole, Done) {
        let mut buf = [0u8; 64];
        loop {
            let Ok(n) = self.socket.recv(&mut buf).await else {
                continue;
            };
            if let Some(report) = parse(&buf[..n]) {
                return report;
            }
        }
    }
}

/// A report as a child words it: `vrrp startup`, `checker reload`.
fn parse(bytes: &[u8]) -> Option<(ChildRole, Done)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (role, done) = text.split_once(' ')?;
    let role = match role {
        "vrrp" => ChildRole::Vrrp,
        "checker" => ChildRole::Checker,
        _ => return None,
    };
    let done = match done {
        "startup" => Done::Startup,
        "reload" => Done::Reload,
        _ => return None,
    };
    Some((role, done))
}

/// What the parent waits for: `done` from each of `roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awaiting {
    done: Done,
    roles: BTreeSet<&'static str>,
}

impl Awaiting {
    /// Waiting for `done` from each of `roles`.
    pub fn new(done: Done, roles: impl IntoIterator<Item = ChildRole>) -> Awaiting {
        Awaiting {
            done,
            roles: roles.into_iter().map(ChildRole::arg).collect(),
        }
    }

    /// `role` reported `done`; the line to log once nobody else is awaited.
    pub fn report(&mut self, role: ChildRole, done: Done) -> Option<&'static str> {
        if done != self.done || !self.roles.remove(role.arg()) {
            return None;
        }
        self.roles.is_empty().then(|| self.done.line())
    }

    /// `role` is no longer awaited (its child died); the line to log once nobody else is.
    pub fn forget(&mut self, role: ChildRole) -> Option<&'static str> {
        (self.roles.remove(role.arg()) && self.roles.is_empty()).then(|| self.done.line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_comes_once_every_child_has_reported() {
        let mut wait = Awaiting::new(Done::Startup, [ChildRole::Vrrp, ChildRole::Checker]);
        assert_eq!(wait.report(ChildRole::Vrrp, Done::Startup), None);
        // A reload report does not answer a start, a second report changes nothing.
        assert_eq!(wait.report(ChildRole::Checker, Done::Reload), None);
        assert_eq!(wait.report(ChildRole::Vrrp, Done::Startup), None);
        assert_eq!(
            wait.report(ChildRole::Checker, Done::Startup),
            Some("Startup complete")
        );
        let mut reload = Awaiting::new(Done::Reload, [ChildRole::Vrrp, ChildRole::Checker]);
        assert_eq!(reload.forget(ChildRole::Checker), None);
        assert_eq!(
            reload.report(ChildRole::Vrrp, Done::Reload),
            Some("Reload complete")
        );
    }

    #[test]
    fn reports_are_read_as_children_word_them() {
        assert_eq!(
            parse(b"vrrp startup"),
            Some((ChildRole::Vrrp, Done::Startup))
        );
        assert_eq!(
            parse(b"checker reload"),
            Some((ChildRole::Checker, Done::Reload))
        );
        assert_eq!(parse(b"vrrp"), None);
        assert_eq!(parse(b"bfd startup"), None);
        assert_eq!(parse(&[0xff, 0x20, 0x41]), None);
    }

    #[tokio::test]
    async fn a_child_report_reaches_the_parent_socket() {
        // This process plays both parts: it binds its own name, and a report sent to that
        // name arrives (a child sends to its parent's pid; here the "parent" is us).
        let listener = Listener::bind().expect("bind");
        let to = address(std::process::id()).expect("address");
        UnixDatagram::unbound()
            .expect("socket")
            .send_to_addr(b"checker reload", &to)
            .expect("send");
        assert_eq!(listener.next().await, (ChildRole::Checker, Done::Reload));
    }
}
