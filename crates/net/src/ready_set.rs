//! Sockets whose arrivals are watched through one epoll instance of their own, each socket
//! reported once and then left alone until its reader arms it again (`EPOLLONESHOT`).
//!
//! A socket registered with tokio wakes the runtime for every datagram that arrives while
//! nobody reads it. A backup of a thousand instances hears its master's adverts in one burst
//! of a thousand datagrams; it reads them in batches (the VRRP driver's read gate), but each
//! datagram still woke the process, and on a machine of few CPUs each wake-up preempted the
//! master that was sending the burst (seen in the idle benchmark: as many involuntary context
//! switches of the master as wake-ups of the backup). Here a socket that was reported and not
//! yet read empty wakes nobody: only the first datagram after it is armed does.
//!
//! The sockets themselves are not registered with tokio ([`wait_once`] does it for a moment
//! when a send finds the buffer full, or for a caller that awaits one datagram).

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// How many reports one look takes; more stay for the next.
const REPORTS: usize = 16;

/// A set of sockets, each known by a token, reported when a datagram waits in one.
#[derive(Debug)]
pub struct ReadySet {
    /// The epoll instance, wrapped in a tokio datagram socket only to reach the reactor
    /// without `unsafe` (as [`crate::timer::PreciseTimer`] does); never used as a socket.
    epoll: UdpSocket,
}

/// A token no other socket of this process has had: the key of a socket in a [`ReadySet`]
/// (a file descriptor number is reused once the socket is closed).
pub fn new_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ReadySet {
    /// An empty set. Must be called inside a tokio runtime.
    pub fn new() -> io::Result<ReadySet> {
        tokio::runtime::Handle::try_current()
            .map_err(|e| io::Error::other(format!("ReadySet outside a tokio runtime: {e}")))?;
        let fd = epoll::create(CreateFlags::CLOEXEC)?;
        // Never read as a file, but tokio takes only descriptors marked non-blocking.
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(ReadySet {
            epoll: UdpSocket::from_std(std::net::UdpSocket::from(fd))?,
        })
    }

    /// Arms `fd` under `token`: the next datagram waiting in it (one already queued too) has
    /// it reported once by [`poll_reported`](Self::poll_reported). A socket the set does not
    /// hold yet is added.
    pub fn arm(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let flags = EventFlags::IN | EventFlags::ONESHOT;
        let data = EventData::new_u64(token);
        match epoll::modify(&self.epoll, fd, data, flags) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::NOENT) => Ok(epoll::add(&self.epoll, fd, data, flags)?),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds to `reported` the tokens of the sockets in which a datagram arrived since they
    /// were armed (each is then left alone until armed again); pending, with the task's waker
    /// kept, when there are none.
    pub fn poll_reported(
        &self,
        cx: &mut Context<'_>,
        reported: &mut Vec<u64>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.epoll.poll_recv_ready(cx))?;
            // Nothing reported clears the readiness (WouldBlock), so the next poll waits.
            let look = self.epoll.try_io(Interest::READABLE, || {
                let mut events = [Event {
                    flags: EventFlags::empty(),
                    data: EventData::new_u64(0),
                }; REPORTS];
                let now = Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let n = epoll::wait(&self.epoll, &mut events, Some(&now))?;
                if n == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                reported.extend(events.iter().take(n).map(|e| e.data.u64()));
                Ok(())
            });
            match look {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Waits until `fd` is ready for `interest`, registering a duplicate of it with tokio only
/// meanwhile: for a send that found the buffer full, or a caller that awaits one datagram.
pub async fn wait_once(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
    let watched = UdpSocket::from_std(std::net::UdpSocket::from(fd.try_clone_to_owned()?))?;
    watched.ready(interest).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::Duration;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind a");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind b");
        a.set_nonblocking(true).expect("nonblocking");
        b.connect(a.local_addr().expect("addr")).expect("connect");
        (a, b)
    }

    /// Whether the set reports anything within `wait`.
    async fn reported(set: &ReadySet, wait: Duration) -> Vec<u64> {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(wait, poll_fn(|cx| set.poll_reported(cx, &mut out))).await;
        out
    }

    #[tokio::test]
    async fn a_socket_is_reported_once_until_armed_again() {
        let set = ReadySet::new().expect("set");
        let (a, b) = pair();
        let token = new_token();
        set.arm(a.as_fd(), token).expect("arm");
        assert!(reported(&set, Duration::from_millis(50)).await.is_empty());
        b.send(b"one").expect("send");
        assert_eq!(reported(&set, Duration::from_secs(2)).await, vec![token]);
        // More datagrams while it is not armed again: nothing is reported.
        b.send(b"two").expect("send");
        b.send(b"three").expect("send");
        assert!(reported(&set, Duration::from_millis(50)).await.is_empty());
        // Armed with datagrams still queued: reported at once.
        set.arm(a.as_fd(), token).expect("arm again");
        assert_eq!(reported(&set, Duration::from_secs(2)).await, vec![token]);
        let mut buf = [0u8; 16];
        for _ in 0..3 {
            a.recv(&mut buf).expect("queued datagram");
        }
    }

    #[tokio::test]
    async fn sockets_are_told_apart_by_token() {
        let set = ReadySet::new().expect("set");
        let (a1, b1) = pair();
        let (a2, b2) = pair();
        let (t1, t2) = (new_token(), new_token());
        assert_ne!(t1, t2);
        set.arm(a1.as_fd(), t1).expect("arm 1");
        set.arm(a2.as_fd(), t2).expect("arm 2");
        b2.send(b"x").expect("send");
        assert_eq!(reported(&set, Duration::from_secs(2)).await, vec![t2]);
        b1.send(b"y").expect("send");
        assert_eq!(reported(&set, Duration::from_secs(2)).await, vec![t1]);
    }

    #[tokio::test]
    async fn wait_once_returns_when_a_datagram_arrives() {
        let (a, b) = pair();
        let waiter = async {
            wait_once(a.as_fd(), Interest::READABLE)
                .await
                .expect("wait");
        };
        let sender = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            b.send(b"z").expect("send");
        };
        tokio::time::timeout(Duration::from_secs(2), async {
            tokio::join!(waiter, sender)
        })
        .await
        .expect("woken by the datagram");
    }

    #[test]
    fn a_set_outside_a_runtime_is_an_error() {
        assert!(ReadySet::new().is_err());
    }
}
