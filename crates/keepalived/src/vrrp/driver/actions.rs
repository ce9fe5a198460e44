//! Carrying out what an instance asked for: adverts to their destinations, virtual addresses
//! added and removed over rtnetlink, announcements, notify commands, and its events worded as
//! log lines.

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use keepalived_net::addresses::AddressSpec;
use keepalived_vrrp::instance::{Action, Reannounce, State};

use super::super::garp_pace::Offer;
use super::super::setup::AddressPlan;
use super::super::wording;
use super::Driver;
use super::net::LinkSocket;
use super::notify;
use crate::alert;

impl Driver {
    /// Carries out everything instance `i` asked for, in order; what concerns its sync group
    /// is left in `group_events` (see `sync_groups::execute`).
    pub(super) async fn execute_one(&mut self, i: usize) {
        self.touched.push(i);
        while let Some(action) = self.running[i].instance.poll_action() {
            match action {
                Action::Send {
                    src,
                    dst,
                    ttl,
                    payload,
                } => self.send(i, (src, dst, ttl), &payload).await,
                Action::AddAddresses => {
                    for address in self.running[i].plan.addresses.clone() {
                        self.change_address(&address, true).await;
                    }
                    self.set_virtual_policy(i).await;
                }
                Action::RemoveAddresses => {
                    // On stop with -V (dont-release-vrrp) the addresses stay.
                    self.pacer.forget(i);
                    if !(self.keep_addresses_on_stop && self.stopping) {
                        self.clear_virtual_policy(i).await;
                        for address in self.running[i].plan.addresses.clone() {
                            if self.is_present(&address).await {
                                self.change_address(&address, false).await;
                            }
                        }
                    }
                    // After the addresses, as 2.2.7 (its line follows `removing VIPs.`).
                    self.firewall_remove(i);
                }
                Action::Announce => {
                    let count = self.running[i].plan.garp_repeat;
                    self.announce(i, count);
                }
                Action::Reannounce(why) => {
                    let plan = &self.running[i].plan;
                    let count = match why {
                        Reannounce::Refresh => plan.announce.refresh_repeat,
                        Reannounce::LowerPriority => plan.announce.lower_prio_repeat,
                    };
                    self.announce(i, count);
                }
                Action::StateChanged(state) => {
                    self.state_changes += 1;
                    self.extra_garps_follow(i, state == State::Master, Instant::now());
                    self.group_events
                        .push((i, super::sync_groups::GroupEvent::Entered(state)));
                    if self.sync_daemons.instance() == Some(&self.running[i].plan.config.name) {
                        self.sync_daemons.entered(state);
                    }
                    let running = &mut self.running[i];
                    running.last_transition = Some(SystemTime::now());
                    running.transitions.entered(state);
                    if let Some(alerts) = self.alerts.as_ref().filter(|_| running.plan.smtp_alert)
                        && state != State::Initialize
                        && alerts.mails_vrrp_state(state)
                    {
                        let mail = alert::vrrp_state_mail(
                            &alerts.router_id,
                            &running.plan.config.name,
                            state,
                        );
                        alert::send_in_background(alerts.clone(), mail, self.logger.clone());
                    }
                    // An instance a reload removes is notified as FAULT by keepalived 2.2.7
                    // (observed), not as stopping.
                    let notified = if state == State::Initialize && self.retiring {
                        State::Fault
                    } else {
                        state
                    };
                    if let Some(fifo) = self.fifo.as_mut() {
                        let (name, priority) =
                            (&running.plan.config.name, running.instance.priority());
                        if notified != State::Initialize || self.stopping {
                            fifo.write(&super::fifo::instance_line(name, notified, priority));
                        }
                    }
                    if let Some(notifier) = &running.notifier {
                        let priority = running.instance.priority();
                        notifier.queue(notify::commands(&running.plan, notified, priority));
                    }
                }
                Action::Event(event) => {
                    if event == keepalived_vrrp::event::Event::ReceiveTimeout {
                        self.group_events
                            .push((i, super::sync_groups::GroupEvent::TimedOut));
                    }
                    if let keepalived_vrrp::event::Event::PriorityChanged { to, .. } = event
                        && let Some(fifo) = self.fifo.as_mut()
                    {
                        let running = &self.running[i];
                        let name = &running.plan.config.name;
                        if fifo.wants_priority(name) {
                            let state = running.instance.state();
                            fifo.write(&super::fifo::priority_line(name, state, to));
                        }
                    }
                    // The drop rule is set before the addresses, as 2.2.7 logs it.
                    if event == keepalived_vrrp::event::Event::SettingAddresses {
                        self.firewall_set(i);
                    }
                    self.running[i].transitions.observe(&event);
                    if let keepalived_vrrp::event::Event::StartedInFault(cause) = event
                        && cause != keepalived_vrrp::event::FaultCause::Script
                    {
                        let reasons = self.fault_reasons(i);
                        let name = &self.running[i].plan.config.name;
                        for line in wording::start_in_fault(name, &reasons) {
                            self.logger.info(&line);
                        }
                        continue;
                    }
                    let running = &self.running[i];
                    let config = running.instance.config();
                    if event == keepalived_vrrp::event::Event::Entering(State::Backup)
                        && running.last_transition.is_none()
                    {
                        // Its first state since it started (the state line comes before
                        // the state change is recorded).
                        self.logger
                            .info(&wording::entering_at_start(&config.name, State::Backup));
                        continue;
                    }
                    for line in wording::lines(&config.name, config.vrid, &event) {
                        if line.detail {
                            self.logger.detail(&line.text);
                        } else {
                            self.logger.info(&line.text);
                        }
                    }
                }
            }
        }
    }

    /// One advert from `src` to `dst` with `ttl` on the instance's interface.
    async fn send(&mut self, i: usize, (src, dst, ttl): (IpAddr, IpAddr, u8), payload: &[u8]) {
        let link = &self.links[self.running[i].link];
        // A down link cannot carry the priority-0 advert of an instance entering FAULT.
        if !link.up {
            return;
        }
        let result = match (&link.socket, src, dst) {
            (LinkSocket::V4(socket), IpAddr::V4(src), IpAddr::V4(dst)) => {
                socket.send_from(payload, src, dst, ttl).await
            }
            (LinkSocket::Ah(socket), IpAddr::V4(src), IpAddr::V4(dst)) => {
                socket.send(payload, src, dst, ttl).await
            }
            (LinkSocket::V6(socket), IpAddr::V6(src), IpAddr::V6(dst)) => {
                socket.send_from(payload, src, dst, ttl).await
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "advert addresses of another family than the link's",
            )),
        };
        if let Err(err) = result {
            self.logger.info(&wording::about(
                &self.running[i].plan.config.name,
                &format!("cannot send an advert on {}: {err}", link.name),
            ));
        }
    }

    /// One announcement burst: `count` gratuitous ARPs per IPv4 address and unsolicited
    /// neighbour advertisements per IPv6 one (RFC 5798 section 6.4.2), each on the interface
    /// the address lives on, in rounds over the addresses (a, b, a, b, …) as keepalived 2.2.7
    /// sends them (observed). On a paced interface (`vrrp_garp_interval`, `garp_group`) what
    /// cannot leave yet waits in the pacer (crate::vrrp::garp_pace).
    pub(super) fn announce(&mut self, i: usize, count: u32) {
        self.announce_some(i, count, None);
    }

    /// [`Self::announce`] for the addresses `only` lists (indices into the plan's
    /// addresses), or all of them. keepalived 2.2.7 words each burst the same way, paced or
    /// not (observed with the default settings and with `vrrp_garp_interval`): with `-D`, a
    /// line before the address's first send of the burst, and `Sending gratuitous ARP on eth0
    /// for X` (`Sending unsolicited Neighbour Advert …`) for each send. The burst's line keeps
    /// the contract's wording, `VRRP_Instance(VI_1) Sending gratuitous ARPs on eth0 for X`
    /// (`Unsolicited Neighbour Adverts` for IPv6), which users grep for; 2.2.7 writes
    /// `Sending/queueing` there (docs/compat.md).
    pub(super) fn announce_some(&mut self, i: usize, count: u32, only: Option<&[usize]>) {
        let plan = &self.running[i].plan;
        let mut targets = Vec::new();
        for (index, address) in plan.addresses.iter().enumerate() {
            if only.is_some_and(|only| !only.contains(&index)) {
                continue;
            }
            if !self.garps.contains_key(&address.interface) {
                continue;
            }
            targets.push((index, true));
        }
        let now = Instant::now();
        for round in 0..count {
            for (index, working) in &mut targets {
                if !*working {
                    continue;
                }
                let plan = &self.running[i].plan;
                let address = &plan.addresses[*index];
                if round == 0 {
                    let what = match address.address {
                        IpAddr::V4(_) => "gratuitous ARPs",
                        IpAddr::V6(_) => "Unsolicited Neighbour Adverts",
                    };
                    self.logger.detail(&wording::about(
                        &plan.config.name,
                        &format!(
                            "Sending {what} on {} for {}",
                            address.interface, address.address
                        ),
                    ));
                }
                let offer = self.pacer.offer(
                    (i, *index),
                    &address.interface,
                    address.address.is_ipv6(),
                    now,
                );
                if offer == Offer::Send {
                    *working = self.send_announcement(i, *index);
                }
            }
        }
    }

    /// The announcements whose interface's interval has passed at `now`.
    pub(super) fn send_paced(&mut self, now: Instant) {
        for (i, index) in self.pacer.due(now) {
            if i < self.running.len() && index < self.running[i].plan.addresses.len() {
                self.send_announcement(i, index);
            }
        }
    }

    /// One gratuitous ARP or unsolicited NA for address `index` of instance `i`; false (after
    /// saying why) when it cannot be sent.
    fn send_announcement(&self, i: usize, index: usize) -> bool {
        let plan = &self.running[i].plan;
        let address = &plan.addresses[index];
        let Some(garp) = self.garps.get(&address.interface) else {
            return false;
        };
        let sent = match address.address {
            IpAddr::V4(v4) => garp.send(v4),
            // The Router flag says whether this host forwards IPv6 on that interface (RFC 4861
            // section 4.4), as keepalived 2.2.7 sets it (observed).
            IpAddr::V6(v6) => garp.send_na(v6, forwards_ipv6(&address.interface)),
        };
        let (one, line) = match address.address {
            IpAddr::V4(_) => ("a gratuitous ARP", "gratuitous ARP"),
            IpAddr::V6(_) => (
                "an unsolicited Neighbour Advert",
                "unsolicited Neighbour Advert",
            ),
        };
        match sent {
            Ok(()) => {
                // 2.2.7 words each send on its own, paced or not (observed).
                self.logger.detail(&format!(
                    "Sending {line} on {} for {}",
                    address.interface, address.address
                ));
                true
            }
            Err(err) => {
                self.logger.info(&wording::about(
                    &plan.config.name,
                    &format!("cannot send {one} on {}: {err}", address.interface),
                ));
                false
            }
        }
    }

    /// Whether `address` is on its interface now (a failed query counts as present, so a
    /// removal is still tried).
    pub(super) async fn is_present(&self, address: &AddressPlan) -> bool {
        let Some(&ifindex) = self.ifindex.get(&address.interface) else {
            return false;
        };
        match self.addresses.list(ifindex).await {
            Ok(list) => list.contains(&(address.address, address.prefix_len)),
            Err(_) => true,
        }
    }

    pub(super) async fn change_address(&self, address: &AddressPlan, add: bool) {
        let (verb, done) = if add {
            ("add", "added")
        } else {
            ("remove", "removed")
        };
        let what = format!(
            "{}/{} on {}",
            address.address, address.prefix_len, address.interface
        );
        let Some(&ifindex) = self.ifindex.get(&address.interface) else {
            self.logger.info(&format!(
                "cannot {verb} {what}: the interface does not exist"
            ));
            return;
        };
        let spec = AddressSpec {
            ifindex,
            address: address.address,
            prefix_len: address.prefix_len,
            broadcast: address.broadcast,
            scope: address.scope,
            label: address.label.clone(),
            dad: address.dad,
            preferred_lft: address.preferred_lft,
            peer: address.peer,
            flags: address.flags,
        };
        let result = if add {
            self.addresses.add(&spec).await
        } else {
            self.addresses.remove(&spec).await
        };
        match result {
            Ok(()) => self.logger.detail(&format!(
                "Netlink reflector reports IP {} {done}",
                address.address
            )),
            Err(err) => self.logger.info(&format!("cannot {verb} {what}: {err}")),
        }
    }
}

/// Whether the host forwards IPv6 on `interface` (`net.ipv6.conf.IF.forwarding`, read in the
/// daemon's network namespace); unreadable counts as no.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() != "0")
}

impl Driver {
    /// `(VI_1) removing VIPs.` of instance `i` without removing anything: at the start (2.2.7
    /// says it for every instance before any state), and with `-X` at the stop for an instance
    /// that was not master: keepalived 2.2.7 goes through
    /// releasing its VIPs anyway and logs it (`(VI_1) removing VIPs.`), though it removes only
    /// addresses it added (none, as it was not master): observed, notify_fifo_lab.rs.
    pub(super) fn release_vips_line(&self, i: usize) {
        let config = self.running[i].instance.config();
        if self.running[i].plan.addresses.is_empty() {
            return;
        }
        let event = keepalived_vrrp::event::Event::RemovingAddresses;
        for line in wording::lines(&config.name, config.vrid, &event) {
            if line.detail {
                self.logger.detail(&line.text);
            } else {
                self.logger.info(&line.text);
            }
        }
    }
}
