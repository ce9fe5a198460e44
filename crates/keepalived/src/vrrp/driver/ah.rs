//! `auth_type AH` on the data path: the IP protocol 51 socket of an interface, the key and the
//! sequence number of each VRID on it, adverts built and checked with
//! [`keepalived_net::ah`] (RFC 2338 section 5.3.6.3, as keepalived 2.2.7 does it).
//!
//! The receiver checks the ICV with the key of the advert's VRID and hands the VRRP message
//! on, marked when the check failed; the instance then counts it as an authentication failure
//! and logs 2.2.7's line. As in 2.2.7 (observed), each VRID has one sequence counter for
//! what it sends and what it hears: a send takes the next number, an advert is taken only with
//! a number above the counter (which then moves to it); one at or below it is dropped with
//! 2.2.7's "already processed" line, so a peer that restarts is not heard until its numbers
//! pass the counter (docs/compat.md).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;

use keepalived_net::ah::{self, KEY_LEN};
use keepalived_net::vrrp_socket::VrrpSocket;
use keepalived_vrrp::instance::DropReason;

use super::super::wording;
use super::Driver;

/// Why an AH advert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its ICV is wrong: another password, or changed on the way.
    Hmac,
    /// Its sequence number is at or below the VRID's counter.
    Sequence {
        /// The advert's number.
        received: u32,
        /// The counter.
        local: u32,
    },
}

/// The AH socket of one interface and what it needs per VRID.
#[derive(Debug)]
pub struct AhLink {
    /// The raw IP protocol 51 socket.
    pub socket: VrrpSocket,
    keys: RefCell<HashMap<u8, [u8; KEY_LEN]>>,
    sequence: RefCell<HashMap<u8, u32>>,
}

impl AhLink {
    /// Wraps an IP protocol 51 socket.
    pub fn new(socket: VrrpSocket) -> AhLink {
        AhLink {
            socket,
            keys: RefCell::default(),
            sequence: RefCell::default(),
        }
    }

    /// Sets the key of `vrid` (its `auth_pass`).
    pub fn set_key(&self, vrid: u8, key: [u8; KEY_LEN]) {
        self.keys.borrow_mut().insert(vrid, key);
    }

    /// Sends VRRP message `payload` behind an AH with the next sequence number of its VRID.
    pub async fn send(
        &self,
        payload: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
    ) -> io::Result<()> {
        let vrid = payload.get(1).copied().unwrap_or(0);
        let key = self
            .keys
            .borrow()
            .get(&vrid)
            .copied()
            .ok_or_else(|| io::Error::other(format!("no AH key for VRID {vrid}")))?;
        let sequence = {
            let mut all = self.sequence.borrow_mut();
            let next = all.entry(vrid).or_insert(0);
            *next = next.saturating_add(1);
            *next
        };
        let datagram = ah::build(src, dst, ttl, sequence, &key, payload)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "VRRP payload too large"))?;
        self.socket.send_datagram(&datagram, dst).await
    }

    /// The VRRP message of a received AH datagram (IPv4 header included) and why it is
    /// refused, if it is (a VRID without a key here passes: no instance will take it); None
    /// when it is no AH datagram of keepalived's form.
    pub fn open(&self, datagram: &[u8]) -> Option<(Vec<u8>, Option<Refusal>)> {
        let located = ah::locate(datagram).ok()?;
        let vrrp = datagram.get(located.vrrp.clone())?;
        let vrid = vrrp.get(1).copied()?;
        let Some(key) = self.keys.borrow().get(&vrid).copied() else {
            return Some((vrrp.to_vec(), None));
        };
        if ah::verify(datagram, &key).is_err() {
            return Some((vrrp.to_vec(), Some(Refusal::Hmac)));
        }
        let mut all = self.sequence.borrow_mut();
        let refused = heard(all.entry(vrid).or_insert(0), located.sequence).err();
        Some((vrrp.to_vec(), refused))
    }
}

/// A sequence number heard against a VRID's counter: taken (the counter moves to it) when
/// above it, refused otherwise.
fn heard(local: &mut u32, received: u32) -> Result<(), Refusal> {
    if received <= *local {
        return Err(Refusal::Sequence {
            received,
            local: *local,
        });
    }
    *local = received;
    Ok(())
}

impl Driver {
    /// An AH advert for instance `i` refused: logged as keepalived 2.2.7 logs every such
    /// packet; a wrong ICV is counted as an authentication failure.
    pub(super) fn ah_rejected(&mut self, i: usize, why: Refusal) {
        let running = &mut self.running[i];
        let text = match why {
            Refusal::Hmac => {
                running.instance.count_drop(DropReason::Password);
                "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
                    .to_string()
            }
            Refusal::Sequence { received, local } => format!(
                "IPSEC-AH : sequence number {received} already processed. Packet dropped. \
                 Local({local})"
            ),
        };
        self.logger
            .info(&wording::about(&running.plan.config.name, &text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_counter_for_what_is_sent_and_heard() {
        // A backup hears 5, 6, 7; as master it would send 8; a peer that restarts at 1 is
        // refused until it passes the counter, as keepalived 2.2.7 logs it
        // ("sequence number 1 already processed. Packet dropped. Local(8)").
        let mut local = 0;
        for n in [5, 6, 7] {
            assert_eq!(heard(&mut local, n), Ok(()));
        }
        local += 1;
        assert_eq!(
            heard(&mut local, 1),
            Err(Refusal::Sequence {
                received: 1,
                local: 8
            })
        );
        assert!(heard(&mut local, 8).is_err());
        assert_eq!(heard(&mut local, 9), Ok(()));
        assert_eq!(local, 9);
    }
}
