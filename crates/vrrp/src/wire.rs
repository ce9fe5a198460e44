//! An in-memory LAN for tests and simulations: instances exchange their adverts through it on
//! a virtual clock, and it records who held the addresses when.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::instance::{Action, Instance, Received, State, Tracking};
use crate::packet::TTL;

/// Something that happened on the wire, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEvent {
    /// Router `node` sent an advert with this priority.
    Advert {
        /// Index of the router.
        node: usize,
        /// When.
        at: Instant,
        /// Advertised priority.
        priority: u8,
    },
    /// Router `node` added (true) or removed (false) the addresses.
    Addresses {
        /// Index of the router.
        node: usize,
        /// When.
        at: Instant,
        /// Added or removed.
        added: bool,
    },
    /// Router `node` changed state.
    State {
        /// Index of the router.
        node: usize,
        /// When.
        at: Instant,
        /// The new state.
        state: State,
    },
}

/// An advert on its way: sender, source, destination, message.
type Sent = (usize, IpAddr, IpAddr, Vec<u8>);

/// Routers on one simulated LAN with a shared virtual clock.
#[derive(Debug)]
pub struct Wire {
    /// The routers.
    pub nodes: Vec<Instance>,
    /// Whether a router is connected (a cut router neither sends nor receives).
    pub connected: Vec<bool>,
    /// The virtual clock.
    pub now: Instant,
    /// What happened, in order.
    pub events: Vec<WireEvent>,
    /// Which routers hold the addresses now.
    pub holding: Vec<bool>,
}

impl Wire {
    /// A LAN with these routers, at time `now`.
    pub fn new(nodes: Vec<Instance>, now: Instant) -> Wire {
        let n = nodes.len();
        Wire {
            nodes,
            connected: vec![true; n],
            now,
            events: Vec::new(),
            holding: vec![false; n],
        }
    }

    /// Starts every router.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            let tracking = Tracking::healthy(self.nodes[i].config());
            self.nodes[i].start(self.now, tracking);
        }
        self.deliver();
    }

    /// Runs the clock forward by `duration`, firing timers in order and delivering adverts
    /// instantly.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        // Bounded: each step fires at least one timer, and timers are at least a few ms apart.
        for _ in 0..1_000_000 {
            let next = self.nodes.iter().filter_map(Instance::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].poll_timeout().is_some_and(|d| d <= self.now) {
                            self.nodes[i].handle_timeout(self.now);
                        }
                    }
                    self.deliver();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Starts router `node` alone (nothing tracked, link up).
    pub fn start(&mut self, node: usize) {
        let tracking = Tracking::healthy(self.nodes[node].config());
        self.nodes[node].start(self.now, tracking);
        self.deliver();
    }

    /// Carries out pending actions: an advert to a multicast group goes to every other
    /// connected router, one to a unicast address to the router with that address.
    pub fn deliver(&mut self) {
        for _ in 0..10_000 {
            let mut sent = Vec::new();
            for i in 0..self.nodes.len() {
                while let Some(action) = self.nodes[i].poll_action() {
                    self.record(i, action, &mut sent);
                }
            }
            if sent.is_empty() {
                return;
            }
            for (from, src, dst, bytes) in sent {
                if !self.connected[from] {
                    continue;
                }
                for to in 0..self.nodes.len() {
                    let addressed =
                        dst.is_multicast() || dst == self.nodes[to].config().local_address;
                    if to != from && self.connected[to] && addressed {
                        let packet = Received {
                            src,
                            dst,
                            ttl: TTL,
                            payload: &bytes,
                        };
                        self.nodes[to].handle_packet(self.now, packet);
                    }
                }
            }
        }
    }

    fn record(&mut self, node: usize, action: Action, sent: &mut Vec<Sent>) {
        let at = self.now;
        match action {
            Action::Send {
                src, dst, payload, ..
            } => {
                let priority = crate::packet::Packet::new_checked(&payload)
                    .map(|p| p.priority())
                    .unwrap_or_default();
                self.events.push(WireEvent::Advert { node, at, priority });
                sent.push((node, src, dst, payload));
            }
            Action::AddAddresses | Action::RemoveAddresses => {
                let added = action == Action::AddAddresses;
                if self.holding[node] != added {
                    self.holding[node] = added;
                    self.events.push(WireEvent::Addresses { node, at, added });
                }
            }
            Action::StateChanged(state) => self.events.push(WireEvent::State { node, at, state }),
            Action::Announce | Action::Reannounce(_) | Action::Event(_) => {}
        }
    }

    /// Which routers are MASTER now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].state() == State::Master)
            .collect()
    }

    /// Which routers hold the addresses now.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.holding[*i]).collect()
    }

    /// The address a router sends from.
    pub fn address(&self, node: usize) -> IpAddr {
        self.nodes[node].config().local_address
    }
}
