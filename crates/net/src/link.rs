//! Link state: a one-shot query and a stream of changes from the RTMGRP_LINK multicast group.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, MulticastGroup};
use tokio::task::JoinHandle;

use crate::interface;

/// A link changed (RTM_NEWLINK) or went away (RTM_DELLINK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Interface index.
    pub index: u32,
    /// Interface name (empty if the kernel did not include it).
    pub name: String,
    /// `IFF_UP` and `IFF_RUNNING` are both set; false for a deleted link.
    pub up: bool,
}

/// Whether interface `name` is up (`IFF_UP` and `IFF_RUNNING`), in the calling thread's network
/// namespace. [`io::ErrorKind::NotFound`] if there is no such interface.
pub fn is_up(name: &str) -> io::Result<bool> {
    interface::lookup(name).map(|i| i.up)
}

/// Subscribe to link changes in the calling thread's network namespace. Must be called inside a
/// tokio runtime (the netlink connection runs as a task on it, aborted when the watch is dropped).
///
/// The kernel sends RTM_NEWLINK for many changes besides up/down, so consecutive events may
/// carry the same state; compare with the last one. Subscribe first, then read the initial state
/// with [`is_up`], so that no change falls in between. The stream ends if the netlink socket
/// fails (e.g. after a receive-buffer overrun): watch again and re-read the state.
pub fn watch() -> io::Result<LinkWatch> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("link::watch outside a tokio runtime: {e}")))?;
    let (connection, handle, messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])?;
    let task = runtime.spawn(connection);
    Ok(LinkWatch {
        messages,
        task,
        _handle: handle,
    })
}

/// The stream of [`LinkEvent`]s made by [`watch`].
#[derive(Debug)]
pub struct LinkWatch {
    messages: UnboundedReceiver<(
        NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
    task: JoinHandle<()>,
    /// Kept so that the connection does not shut down for lack of request senders.
    _handle: Handle,
}

impl LinkWatch {
    /// The next link event; None when the netlink connection has ended.
    pub async fn recv(&mut self) -> Option<LinkEvent> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for LinkWatch {
    type Item = LinkEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LinkEvent>> {
        loop {
            match Pin::new(&mut self.messages).poll_next(cx) {
                Poll::Ready(Some((msg, _))) => {
                    if let Some(event) = link_event(msg) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for LinkWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The event a netlink message stands for, if it is about a link.
fn link_event(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<LinkEvent> {
    match msg.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
            let up = link
                .header
                .flags
                .contains(LinkFlags::Up | LinkFlags::Running);
            Some(event(&link, up))
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => {
            Some(event(&link, false))
        }
        _ => None,
    }
}

fn event(link: &LinkMessage, up: bool) -> LinkEvent {
    let name = link
        .attributes
        .iter()
        .find_map(|attr| match attr {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default();
    LinkEvent {
        index: link.header.index,
        name,
        up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flags: LinkFlags, del: bool) -> NetlinkMessage<RouteNetlinkMessage> {
        let mut link = LinkMessage::default();
        link.header.index = 7;
        link.header.flags = flags;
        link.attributes.push(LinkAttribute::IfName("veth0".into()));
        let inner = if del {
            RouteNetlinkMessage::DelLink(link)
        } else {
            RouteNetlinkMessage::NewLink(link)
        };
        NetlinkMessage::from(inner)
    }

    #[test]
    fn up_needs_up_and_running() {
        let ev = |f, del| link_event(message(f, del)).map(|e| (e.index, e.name, e.up));
        let both = LinkFlags::Up | LinkFlags::Running;
        assert_eq!(ev(both, false), Some((7, "veth0".into(), true)));
        assert_eq!(ev(LinkFlags::Up, false), Some((7, "veth0".into(), false)));
        assert_eq!(
            ev(LinkFlags::Running, false),
            Some((7, "veth0".into(), false))
        );
        assert_eq!(ev(both, true), Some((7, "veth0".into(), false)));
    }
}
