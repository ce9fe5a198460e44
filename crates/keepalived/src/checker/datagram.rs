//! The checks over UDP: UDP_CHECK (a datagram whose ICMP error, or missing or wrong reply
//! when one is required, fails the check) and DNS_CHECK (a query, RFC 1035 section 4.1,
//! answered with rcode 0). Both use a connected socket, so an ICMP port unreachable comes
//! back as `ECONNREFUSED` on the next receive.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use super::plan::UdpPlan;
use super::probe::Failure;
use super::source::Source;

/// A small pseudo-random value (no cryptographic use: query ids and filler payloads).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

async fn connected(target: SocketAddr, source: &Source) -> Result<UdpSocket, Failure> {
    let socket = source
        .udp_socket(target)
        .map_err(|e| Failure::Bind(super::source::strerror(&e)))
        .and_then(|s| UdpSocket::from_std(s).map_err(|e| Failure::Io(e.to_string())))?;
    socket
        .connect(target)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    Ok(socket)
}

/// UDP_CHECK: sends the payload (random bytes when none is configured) and waits up to
/// `limit`. An ICMP error fails; silence passes unless a reply is required; a reply is
/// compared (length bounds and masked bytes) only when `require_reply` names its bytes.
pub async fn udp(
    target: SocketAddr,
    source: &Source,
    plan: &UdpPlan,
    limit: Duration,
) -> Result<(), Failure> {
    let socket = connected(target, source).await?;
    let payload = match &plan.payload {
        Some(p) => p.clone(),
        None => random_u64().to_be_bytes().to_vec(),
    };
    socket
        .send(&payload)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    let mut buf = vec![0u8; plan.max_len.max(1) + 1];
    match tokio::time::timeout(limit, socket.recv(&mut buf)).await {
        Err(_) if plan.require_reply => Err(Failure::Io("no reply".into())),
        Err(_) => Ok(()),
        Ok(Err(e)) => Err(Failure::Connect(e.to_string())),
        Ok(Ok(n)) => {
            if reply_matches(&buf[..n], plan) {
                Ok(())
            } else {
                Err(Failure::Io("reply data mismatch".into()))
            }
        }
    }
}

/// Whether a reply passes `require_reply HEX` with its length bounds; without reply bytes any
/// reply passes, as in 2.2.7.
pub fn reply_matches(reply: &[u8], plan: &UdpPlan) -> bool {
    let Some((data, mask)) = &plan.reply else {
        return true;
    };
    if reply.len() < plan.min_len || reply.len() > plan.max_len {
        return false;
    }
    reply
        .iter()
        .zip(data.iter().zip(mask))
        .all(|(got, (want, ignored))| (got ^ want) & !ignored == 0)
}

/// A DNS query (RFC 1035 section 4.1.1): recursion desired, one question of class IN.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend(id.to_be_bytes());
    q.extend(0x0100u16.to_be_bytes());
    q.extend(1u16.to_be_bytes());
    q.extend([0u8; 6]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = label.as_bytes();
        q.push(bytes.len().min(63) as u8);
        q.extend(&bytes[..bytes.len().min(63)]);
    }
    q.push(0);
    q.extend(qtype.to_be_bytes());
    q.extend(1u16.to_be_bytes());
    q
}

/// DNS_CHECK: one query; the answer with our id and QR set must have rcode 0. Failures are
/// worded as 2.2.7 logs them.
pub async fn dns(
    target: SocketAddr,
    source: &Source,
    name: &str,
    qtype: u16,
    limit: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now() + limit;
    let socket = match connected(target, source).await {
        Ok(s) => s,
        Err(bind @ Failure::Bind(_)) => return Err(bind),
        Err(_) => {
            return Err(Failure::Said(format!(
                "network unreachable for [{}]:{}",
                target.ip(),
                target.port()
            )));
        }
    };
    let id = (random_u64() & 0xffff) as u16;
    let query = dns_query(id, name, qtype);
    match timeout_at(deadline, socket.send(&query)).await {
        Err(_) => return Err(Failure::Said("write timeout to socket.".into())),
        Ok(Err(_)) => return Err(Failure::Said("failed to write socket.".into())),
        Ok(Ok(n)) if n != query.len() => {
            return Err(Failure::Said("failed to write all of the datagram.".into()));
        }
        Ok(Ok(_)) => {}
    }
    let mut buf = [0u8; 1024];
    loop {
        let n = match timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => return Err(Failure::Said("read timeout from socket".into())),
            Ok(Err(e)) => {
                let errno = e.raw_os_error().unwrap_or(0);
                let text = std::io::Error::from_raw_os_error(errno).to_string();
                let text = text
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return Err(Failure::Said(format!(
                    "failed to read socket; errno {errno} ({text})"
                )));
            }
            Ok(Ok(n)) => n,
        };
        // Too short, another id, or not a response: keep waiting, as 2.2.7 does.
        if n < 12 || buf[0..2] != id.to_be_bytes() || buf[2] & 0x80 == 0 {
            continue;
        }
        let rcode = buf[3] & 0x0f;
        if rcode != 0 {
            return Err(Failure::Said(format!(
                "read error occurred. (rcode = {rcode})"
            )));
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::plan::parse_hex;

    #[test]
    fn queries_follow_rfc_1035() {
        let q = dns_query(0x1234, "example.org", 1);
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], b"\x07example\x03org\x00\x00\x01\x00\x01");
        let root = dns_query(1, ".", 6);
        assert_eq!(&root[12..], &[0, 0, 6, 0, 1]);
    }

    #[test]
    fn hex_strings_and_masks() {
        let (data, _) = parse_hex("Ab12f 3 456 546443123").expect("hex");
        assert_eq!(
            data,
            [
                0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
            ]
        );
        let (data, mask) = parse_hex("0aX1").expect("hex");
        assert_eq!((data, mask), (vec![0x0a, 0x01], vec![0, 0xf0]));
        assert!(parse_hex("zz").is_none());
        let plan = UdpPlan {
            require_reply: true,
            reply: parse_hex("0aX1"),
            min_len: 0,
            max_len: 255,
            payload: None,
        };
        assert!(reply_matches(&[0x0a, 0x71, 0xff], &plan));
        assert!(reply_matches(&[0x0a], &plan));
        assert!(!reply_matches(&[0x0b, 0x71], &plan));
        let short = UdpPlan {
            min_len: 3,
            ..plan.clone()
        };
        assert!(!reply_matches(&[0x0a, 0x71], &short));
    }

    /// Against real sockets: a responder that answers, one that answers with an error rcode,
    /// and a port nobody listens on (the kernel's port unreachable).
    #[tokio::test]
    async fn udp_and_dns_against_real_sockets() {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = server.local_addr().expect("addr");
        let responder = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            for round in 0..4u8 {
                let Ok((n, from)) = server.recv_from(&mut buf).await else {
                    return;
                };
                let mut answer = buf[..n].to_vec();
                if n >= 12 {
                    answer[2] |= 0x80;
                    answer[3] = if round == 3 { 3 } else { 0 };
                }
                let _ = server.send_to(&answer, from).await;
            }
        });
        let t = Duration::from_secs(2);
        let echo = UdpPlan {
            payload: parse_hex("01 02 03").map(|p| p.0),
            require_reply: true,
            reply: parse_hex("0102"),
            min_len: 0,
            max_len: 255,
        };
        assert_eq!(udp(addr, &Source::default(), &echo, t).await, Ok(()));
        let wrong = UdpPlan {
            reply: parse_hex("09"),
            ..echo.clone()
        };
        assert!(udp(addr, &Source::default(), &wrong, t).await.is_err());
        assert_eq!(
            dns(addr, &Source::default(), "example.org", 1, t).await,
            Ok(())
        );
        assert_eq!(
            dns(addr, &Source::default(), "example.org", 1, t).await,
            Err(Failure::Said("read error occurred. (rcode = 3)".into()))
        );
        responder.abort();
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.local_addr().expect("addr")
        };
        let silent = UdpPlan {
            max_len: 255,
            ..UdpPlan::default()
        };
        assert!(matches!(
            udp(closed, &Source::default(), &silent, t).await,
            Err(Failure::Connect(_))
        ));
        assert_eq!(
            dns(closed, &Source::default(), ".", 6, t).await,
            Err(Failure::Said(
                "failed to read socket; errno 111 (Connection refused)".into()
            ))
        );
    }
}
