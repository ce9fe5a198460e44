//! `auth_type AH` on the data path: the IP protocol 51 socket of an interface, the key and the
//! sequence number of each VRID on it, adverts built and checked with
//! [`keepalived_net::ah`] (RFC 2338 section 5.3.6.3, as keepalived 2.2.7 does it).
//!
//! The receiver checks the ICV with the key of the advert's VRID and hands the VRRP message
//! on, marked when the check failed; the instance then counts it as an authentication failure
//! and logs 2.2.7's line. Sequence numbers are sent from 1 and not checked on receipt
//! (docs/compat.md).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;

use keepalived_net::ah::{self, KEY_LEN};
use keepalived_net::vrrp_socket::VrrpSocket;
use keepalived_vrrp::instance::DropReason;

use super::super::wording;
use super::Driver;

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
            *next = next.wrapping_add(1).max(1);
            *next
        };
        let datagram = ah::build(src, dst, ttl, sequence, &key, payload)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "VRRP payload too large"))?;
        self.socket.send_datagram(&datagram, dst).await
    }

    /// The VRRP message of a received AH datagram (IPv4 header included) and whether its ICV
    /// is right for its VRID (a VRID without a key here passes: no instance will take it);
    /// None when it is no AH datagram of keepalived's form.
    pub fn open(&self, datagram: &[u8]) -> Option<(Vec<u8>, bool)> {
        let located = ah::locate(datagram).ok()?;
        let vrrp = datagram.get(located.vrrp.clone())?;
        let vrid = vrrp.get(1).copied()?;
        let good = self
            .keys
            .borrow()
            .get(&vrid)
            .is_none_or(|key| ah::verify(datagram, key).is_ok());
        Some((vrrp.to_vec(), good))
    }
}

impl Driver {
    /// An AH advert for instance `i` whose ICV is wrong: counted as an authentication failure
    /// and logged, as keepalived 2.2.7 does for every such packet.
    pub(super) fn ah_rejected(&mut self, i: usize) {
        let running = &mut self.running[i];
        running.instance.count_drop(DropReason::Password);
        self.logger.info(&wording::about(
            &running.plan.config.name,
            "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !",
        ));
    }
}
