//! Where a check's connections come from: `bindto` (source address), `bind_port` (source
//! port), `bind_if` (the interface, `SO_BINDTODEVICE`, and the scope of an IPv6 link-local
//! `bindto`) and `fwmark` (`SO_MARK` on every packet the check sends), as keepalived 2.2.7
//! sets them on each check's socket before it connects.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// The socket could not be given its source (keepalived: `Checker bind failed`).
    Bind(io::Error),
    /// The connection failed.
    Connect(io::Error),
}

/// An error's text as `strerror` gives it (`Cannot assign requested address`), as
/// keepalived logs it.
pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// A check's source options; the default (all `None`) lets the kernel choose.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    /// `bindto`.
    pub addr: Option<IpAddr>,
    /// `bind_port`.
    pub port: Option<u16>,
    /// `bind_if`.
    pub device: Option<String>,
    /// `fwmark`.
    pub fwmark: Option<u32>,
}

impl Source {
    /// Whether nothing is set.
    pub fn is_default(&self) -> bool {
        *self == Source::default()
    }

    /// The local address a socket to `target` is bound to, if any: `bindto` (or the
    /// wildcard of the target's family with only `bind_port`), port `bind_port` or 0, an IPv6
    /// link-local address scoped to `bind_if`.
    pub fn local_addr(&self, target: SocketAddr) -> Option<SocketAddr> {
        if self.addr.is_none() && self.port.is_none() {
            return None;
        }
        let ip = self.addr.unwrap_or(match target {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let port = self.port.unwrap_or(0);
        Some(match ip {
            IpAddr::V6(v6) => {
                let scope = match &self.device {
                    Some(dev) if v6.is_unicast_link_local() => {
                        nix::net::if_::if_nametoindex(dev.as_str()).unwrap_or(0)
                    }
                    _ => 0,
                };
                SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope))
            }
            v4 => SocketAddr::new(v4, port),
        })
    }

    /// Sets the mark and the device on `socket` and binds it for a connection to `target`.
    /// With a fixed `bind_port` the address may be reused and a TCP socket is closed with a
    /// reset (`SO_LINGER` 0), so the next check can bind the same port at once.
    pub fn apply(&self, socket: &Socket, target: SocketAddr) -> io::Result<()> {
        if let Some(mark) = self.fwmark {
            socket.set_mark(mark)?;
        }
        if let Some(dev) = &self.device {
            socket.bind_device(Some(dev.as_bytes()))?;
        }
        if let Some(local) = self.local_addr(target) {
            if self.port.is_some() {
                socket.set_reuse_address(true)?;
                if socket.r#type()? == Type::STREAM {
                    socket.set_linger(Some(std::time::Duration::ZERO))?;
                }
            }
            socket.bind(&local.into())?;
        }
        Ok(())
    }

    /// A non-blocking socket of `ty` for `target` with the options applied.
    pub fn socket(&self, target: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(target), ty, Some(proto))?;
        socket.set_nonblocking(true)?;
        socket.set_cloexec(true)?;
        self.apply(&socket, target)?;
        Ok(socket)
    }

    /// Connects a TCP stream to `target` from this source; an error setting the source
    /// up (`bind`, `SO_BINDTODEVICE`, `SO_MARK`) is told apart from one connecting.
    pub async fn tcp_connect(&self, target: SocketAddr) -> Result<TcpStream, ConnectError> {
        if self.is_default() {
            return TcpStream::connect(target)
                .await
                .map_err(ConnectError::Connect);
        }
        let socket = self
            .socket(target, Type::STREAM, Protocol::TCP)
            .map_err(ConnectError::Bind)?;
        TcpSocket::from_std_stream(socket.into())
            .connect(target)
            .await
            .map_err(ConnectError::Connect)
    }

    /// A UDP socket bound from this source (not yet connected).
    pub fn udp_socket(&self, target: SocketAddr) -> io::Result<std::net::UdpSocket> {
        let socket = self.socket(target, Type::DGRAM, Protocol::UDP)?;
        if self.local_addr(target).is_none() {
            let any: SocketAddr = match target {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            socket.bind(&any.into())?;
        }
        Ok(socket.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        let t4: SocketAddr = "192.0.2.11:80".parse().expect("addr");
        let t6: SocketAddr = "[2001:db8::11]:80".parse().expect("addr");
        assert_eq!(Source::default().local_addr(t4), None);
        let port_only = Source {
            port: Some(4000),
            ..Source::default()
        };
        assert_eq!(
            port_only.local_addr(t4),
            Some("0.0.0.0:4000".parse().expect("a"))
        );
        assert_eq!(
            port_only.local_addr(t6),
            Some("[::]:4000".parse().expect("a"))
        );
        let ll = Source {
            addr: Some("fe80::1".parse().expect("ip")),
            device: Some("lo".into()),
            ..Source::default()
        };
        let Some(SocketAddr::V6(a)) = ll.local_addr(t6) else {
            panic!("not v6")
        };
        assert_eq!((a.port(), a.scope_id()), (0, 1), "lo is interface 1");
    }

    /// The server sees the connection come from `bindto`:`bind_port`, twice in a row (the
    /// first one's port is free again at once); the mark is set (root only).
    #[tokio::test]
    async fn tcp_and_udp_come_from_the_source() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let target = listener.local_addr().expect("addr");
        let free_port = std::net::TcpListener::bind("127.0.0.2:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut source = Source {
            addr: Some("127.0.0.2".parse().expect("ip")),
            port: Some(free_port),
            ..Source::default()
        };
        for _ in 0..2 {
            let Ok(stream) = source.tcp_connect(target).await else {
                panic!("connect")
            };
            let (_, peer) = listener.accept().await.expect("accept");
            assert_eq!(peer, SocketAddr::new(source.addr.expect("ip"), free_port));
            drop(stream);
        }
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let udp = source
            .udp_socket(server.local_addr().expect("a"))
            .expect("udp");
        udp.send_to(b"x", server.local_addr().expect("a"))
            .expect("send");
        let mut buf = [0u8; 4];
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .expect("timeout");
        let (_, from) = server.recv_from(&mut buf).expect("recv");
        assert_eq!(from.ip(), source.addr.expect("ip"));
        if !nix::unistd::Uid::effective().is_root() {
            println!("skipped: SO_MARK needs root");
            return;
        }
        source.fwmark = Some(0x2a);
        source.port = None;
        source.device = Some("lo".into());
        let s = source
            .socket(target, Type::STREAM, Protocol::TCP)
            .expect("socket");
        assert_eq!(s.mark().expect("mark"), 0x2a);
        assert_eq!(s.device().expect("dev").as_deref(), Some(&b"lo"[..]));
        assert!(source.tcp_connect(target).await.is_ok());
        // A device that does not exist: the socket cannot be given its source.
        source.device = Some("nonexistent0".into());
        assert!(matches!(
            source.tcp_connect(target).await,
            Err(ConnectError::Bind(_))
        ));
    }
}
