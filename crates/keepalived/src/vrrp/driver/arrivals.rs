//! Which links' sockets have datagrams waiting, learned without a wake-up per datagram.
//!
//! Every link's socket is watched in one [`ReadySet`]: a socket is reported once, then left
//! alone (it wakes nobody however many datagrams arrive) until the loop has read it empty and
//! arms it again. With the read gate ([`super::read_gate`]) closed, reports are still taken —
//! that is what keeps the sockets quiet — but no link is handed out to be read. A backup of a
//! thousand instances used to be woken by every advert of its master's burst while the gate
//! was closed (about 200 wake-ups a second, each preempting the sender on a machine of two
//! CPUs); now by the first advert after each read.

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use keepalived_net::ready_set::ReadySet;

use super::net::{Link, LinkSocket};

/// How long a link whose socket cannot be armed is left alone before the next try.
const ARM_RETRY: Duration = Duration::from_millis(100);

/// The watch over every link's socket.
#[derive(Debug)]
pub struct Arrivals {
    set: ReadySet,
    /// Tokens reported by the last look (kept to reuse its room).
    reported: Vec<u64>,
}

/// What the watch knows of one link; kept in [`Link`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// The token of the socket armed last (a link's socket is replaced when its interface
    /// comes back: a new token means a socket not armed yet).
    pub token: Option<u64>,
    /// Reported and not read empty since: the socket is not armed and wakes nobody.
    pub reported: bool,
}

impl Arrivals {
    /// An empty watch. Must be called inside a tokio runtime.
    pub fn new() -> std::io::Result<Arrivals> {
        Ok(Arrivals {
            set: ReadySet::new()?,
            reported: Vec::new(),
        })
    }

    /// Waits until a link may be read: one whose socket was reported, is not paused, and,
    /// with `gate_open`, is handed out (looked at from `start` on, so no link always comes
    /// last). With the gate closed it only takes reports, and stays pending.
    pub fn readable<'a>(
        &'a mut self,
        links: &'a mut [Link],
        start: usize,
        gate_open: bool,
    ) -> impl Future<Output = usize> + 'a {
        std::future::poll_fn(move |cx| {
            let now = Instant::now();
            for link in links.iter_mut() {
                self.arm_new_socket(link, now);
            }
            // Take every report until none is left, so the waker is kept for the next.
            loop {
                match self.set.poll_reported(cx, &mut self.reported) {
                    Poll::Ready(Ok(())) => {
                        for token in self.reported.drain(..) {
                            if let Some(link) =
                                links.iter_mut().find(|l| l.watch.token == Some(token))
                            {
                                link.watch.reported = true;
                            }
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        // The epoll set failed (it does not): read every link rather than
                        // miss one, and look again after the pause.
                        for link in links.iter_mut() {
                            link.watch.reported = true;
                            link.paused_until.get_or_insert(now + ARM_RETRY);
                        }
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if !gate_open {
                return Poll::Pending;
            }
            let n = links.len();
            (0..n)
                .map(|k| (start + k) % n)
                .find(|&l| links[l].watch.reported && links[l].paused_until.is_none())
                .map_or(Poll::Pending, Poll::Ready)
        })
    }

    /// Link `link` was read until nothing was left: it is armed again (a datagram that came
    /// in the meantime has it reported at once).
    pub fn emptied(&self, link: &mut Link) {
        link.watch.reported = false;
        if let Some((fd, token)) = link.socket.watched()
            && self.set.arm(fd, token).is_err()
        {
            link.watch.reported = true;
            link.paused_until = Some(Instant::now() + ARM_RETRY);
        }
    }

    /// A socket the set has not seen (a new link, or its interface came back) is armed.
    fn arm_new_socket(&self, link: &mut Link, now: Instant) {
        let Some((fd, token)) = link.socket.watched() else {
            return;
        };
        if link.watch.token == Some(token) {
            return;
        }
        link.watch = Watch {
            token: Some(token),
            reported: false,
        };
        if self.set.arm(fd, token).is_err() {
            // Read it anyway once the pause is over; reading empty arms it again.
            link.watch.reported = true;
            link.paused_until = Some(now + ARM_RETRY);
        }
    }
}

impl LinkSocket {
    /// The socket to watch and its token; none while the interface is missing.
    pub fn watched(&self) -> Option<(std::os::fd::BorrowedFd<'_>, u64)> {
        match self {
            LinkSocket::V4(socket) => Some((socket.as_fd(), socket.token())),
            LinkSocket::V6(socket) => Some((socket.as_fd(), socket.token())),
            LinkSocket::Ah(link) => Some((link.socket.as_fd(), link.socket.token())),
            LinkSocket::Absent => None,
        }
    }
}
